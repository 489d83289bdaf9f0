//! Adam with each parameter's update fused into one pass (thirteen operations per parameter tensor
//! as burn's composite): the moments and the update in one pass, in the same f32 order of
//! operations as burn's `Adam`, so the updates are the same numbers. On the CPU backend a loop;
//! on burn's GPU backends (cubecl: wgpu, WebGPU, CUDA; the `wgpu` feature, without burn's kernel
//! fusion) a kernel that updates the tensors in place, and a layer's weight and bias in one
//! launch: the weight's update waits for the bias, which the optimiser steps next
//! ([`FusedAdam`]; [`finish_step`] runs a weight left waiting).

use std::cell::RefCell;

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::model::fused::dense;
#[cfg(not(target_arch = "wasm32"))]
use crate::model::fused::{PARALLEL_CHUNK, PARALLEL_ELEMENTS};

/// Adam's update of one parameter tensor in one pass.
#[backend_extension(Flex, Cube: cfg(all(feature = "wgpu", not(feature = "fusion"))))]
pub trait AdamOps: Backend {
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p − lr·(m·c / (√v + ε'))`, element-wise
    /// (all four tensors of one shape). Returns `(p, m, v)`.
    #[allow(clippy::too_many_arguments)]
    fn adam_update(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        correction: f32,
        epsilon: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// `t` contiguous in a buffer of its own (copied only where it is shared or strided), for
    /// [`adam_update_layer`](AdamOps::adam_update_layer) to write in place.
    fn adam_owned(t: FloatTensor<Self>) -> FloatTensor<Self>;

    /// [`adam_update`](AdamOps::adam_update) of a layer's weight `[d_in, d_out]` and bias
    /// `[d_out]` (each with its gradient, moments and bias correction) in one pass, **in place**:
    /// the weight, the bias and their moments must come from [`adam_owned`](AdamOps::adam_owned)
    /// (clones of them see the update). Returns `(weight, m, v, bias, m, v)`.
    #[allow(clippy::too_many_arguments)]
    fn adam_update_layer(
        weight: FloatTensor<Self>,
        weight_grad: FloatTensor<Self>,
        weight_moment_1: FloatTensor<Self>,
        weight_moment_2: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        bias_grad: FloatTensor<Self>,
        bias_moment_1: FloatTensor<Self>,
        bias_moment_2: FloatTensor<Self>,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        weight_correction: f32,
        weight_epsilon: f32,
        bias_correction: f32,
        bias_epsilon: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// [`adam_update`](AdamOps::adam_update) in place, of a tensor and moments from
    /// [`adam_owned`](AdamOps::adam_owned). Returns `(p, m, v)`.
    #[allow(clippy::too_many_arguments)]
    fn adam_update_in_place(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        correction: f32,
        epsilon: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl AdamOps for Flex {
    fn adam_update(
        param: FlexTensor,
        grad: FlexTensor,
        moment_1: FlexTensor,
        moment_2: FlexTensor,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        correction: f32,
        epsilon: f32,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let n = param.layout().num_elements();
        let (mut param, grad, mut m1, mut m2) = (dense(param), dense(grad), dense(moment_1), dense(moment_2));
        let g: &[f32] = &grad.storage::<f32>()[..n];
        let m1s = &mut m1.storage_mut::<f32>()[..n];
        let m2s = &mut m2.storage_mut::<f32>()[..n];
        let ps = &mut param.storage_mut::<f32>()[..n];
        #[cfg(not(target_arch = "wasm32"))]
        if n >= PARALLEL_ELEMENTS {
            use rayon::prelude::*;
            ps.par_chunks_mut(PARALLEL_CHUNK)
                .zip(m1s.par_chunks_mut(PARALLEL_CHUNK))
                .zip(m2s.par_chunks_mut(PARALLEL_CHUNK))
                .zip(g.par_chunks(PARALLEL_CHUNK))
                .for_each(|(((p, m1), m2), g)| adam_pass(p, m1, m2, g, lr, beta_1, beta_2, correction, epsilon));
            return (param, m1, m2);
        }
        adam_pass(ps, m1s, m2s, g, lr, beta_1, beta_2, correction, epsilon);
        (param, m1, m2)
    }

    fn adam_owned(t: FlexTensor) -> FlexTensor {
        t
    }

    fn adam_update_layer(
        weight: FlexTensor,
        weight_grad: FlexTensor,
        weight_moment_1: FlexTensor,
        weight_moment_2: FlexTensor,
        bias: FlexTensor,
        bias_grad: FlexTensor,
        bias_moment_1: FlexTensor,
        bias_moment_2: FlexTensor,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        weight_correction: f32,
        weight_epsilon: f32,
        bias_correction: f32,
        bias_epsilon: f32,
    ) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        let (w, wm, wv) = Self::adam_update(weight, weight_grad, weight_moment_1, weight_moment_2, lr, beta_1, beta_2, weight_correction, weight_epsilon);
        let (b, bm, bv) = Self::adam_update(bias, bias_grad, bias_moment_1, bias_moment_2, lr, beta_1, beta_2, bias_correction, bias_epsilon);
        (w, wm, wv, b, bm, bv)
    }

    fn adam_update_in_place(
        param: FlexTensor,
        grad: FlexTensor,
        moment_1: FlexTensor,
        moment_2: FlexTensor,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        correction: f32,
        epsilon: f32,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        Self::adam_update(param, grad, moment_1, moment_2, lr, beta_1, beta_2, correction, epsilon)
    }
}

/// The kernels on burn's GPU backends: one launch per parameter tensor, or per layer.
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod cube {
    use burn::tensor::DType;
    use burn_cubecl::CubeBackend;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::tensor::CubeTensor;
    use cubecl::prelude::*;

    use super::AdamOps;
    use crate::model::fused::{grid, grid_over};

    /// Storage buffers the layer kernel binds: eight tensors and the launch's scalars. Devices
    /// that allow fewer (WebGPU's default of eight) take the update tensor by tensor.
    const LAYER_KERNEL_BINDINGS: u32 = 9;

    /// [`adam_pass`](super::adam_pass) on value `i`, in place: the same f32 operations in the
    /// same order. `one_minus_beta_*` are computed on the host as the CPU pass computes them.
    #[cube]
    #[allow(clippy::too_many_arguments)]
    fn adam_value(
        param: &mut Tensor<f32>,
        grad: &Tensor<f32>,
        moment_1: &mut Tensor<f32>,
        moment_2: &mut Tensor<f32>,
        i: usize,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        one_minus_beta_1: f32,
        one_minus_beta_2: f32,
        correction: f32,
        epsilon: f32,
    ) {
        let g = grad[i];
        let m = moment_1[i] * beta_1 + g * one_minus_beta_1;
        let v = moment_2[i] * beta_2 + (g * g) * one_minus_beta_2;
        moment_1[i] = m;
        moment_2[i] = v;
        param[i] = param[i] - (m * correction) / (f32::sqrt(v) + epsilon) * lr;
    }

    /// One tensor's update in place, one value per unit.
    #[cube(launch)]
    #[allow(clippy::too_many_arguments)]
    fn adam_kernel(
        param: &mut Tensor<f32>,
        grad: &Tensor<f32>,
        moment_1: &mut Tensor<f32>,
        moment_2: &mut Tensor<f32>,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        one_minus_beta_1: f32,
        one_minus_beta_2: f32,
        correction: f32,
        epsilon: f32,
    ) {
        let i = ABSOLUTE_POS;
        if i >= param.len() {
            terminate!();
        }
        adam_value(param, grad, moment_1, moment_2, i, lr, beta_1, beta_2, one_minus_beta_1, one_minus_beta_2, correction, epsilon);
    }

    /// A layer's weight and bias in place, one value per unit: the weight's values first, then
    /// the bias'.
    #[cube(launch)]
    #[allow(clippy::too_many_arguments)]
    fn adam_layer_kernel(
        weight: &mut Tensor<f32>,
        weight_grad: &Tensor<f32>,
        weight_moment_1: &mut Tensor<f32>,
        weight_moment_2: &mut Tensor<f32>,
        bias: &mut Tensor<f32>,
        bias_grad: &Tensor<f32>,
        bias_moment_1: &mut Tensor<f32>,
        bias_moment_2: &mut Tensor<f32>,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        one_minus_beta_1: f32,
        one_minus_beta_2: f32,
        weight_correction: f32,
        weight_epsilon: f32,
        bias_correction: f32,
        bias_epsilon: f32,
    ) {
        let i = ABSOLUTE_POS;
        let n = weight.len();
        if i < n {
            adam_value(
                weight,
                weight_grad,
                weight_moment_1,
                weight_moment_2,
                i,
                lr,
                beta_1,
                beta_2,
                one_minus_beta_1,
                one_minus_beta_2,
                weight_correction,
                weight_epsilon,
            );
        } else if i < n + bias.len() {
            adam_value(
                bias,
                bias_grad,
                bias_moment_1,
                bias_moment_2,
                i - n,
                lr,
                beta_1,
                beta_2,
                one_minus_beta_1,
                one_minus_beta_2,
                bias_correction,
                bias_epsilon,
            );
        }
    }

    /// One tensor's update in place ([`adam_kernel`]) of owned `param` and moments.
    #[allow(clippy::too_many_arguments)]
    fn launch_in_place(
        param: &CubeTensor,
        grad: CubeTensor,
        moment_1: &CubeTensor,
        moment_2: &CubeTensor,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        correction: f32,
        epsilon: f32,
    ) {
        let grad = into_contiguous(grad);
        let (cube_count, cube_dim) = grid(param);
        adam_kernel::launch(
            &param.client,
            cube_count,
            cube_dim,
            param.clone().into_tensor_arg(),
            grad.into_tensor_arg(),
            moment_1.clone().into_tensor_arg(),
            moment_2.clone().into_tensor_arg(),
            lr,
            beta_1,
            beta_2,
            1.0 - beta_1,
            1.0 - beta_2,
            correction,
            epsilon,
        );
    }

    impl AdamOps for CubeBackend {
        fn adam_update(
            param: CubeTensor,
            grad: CubeTensor,
            moment_1: CubeTensor,
            moment_2: CubeTensor,
            lr: f32,
            beta_1: f32,
            beta_2: f32,
            correction: f32,
            epsilon: f32,
        ) -> (CubeTensor, CubeTensor, CubeTensor) {
            let (param, moment_1, moment_2) = (Self::adam_owned(param), Self::adam_owned(moment_1), Self::adam_owned(moment_2));
            Self::adam_update_in_place(param, grad, moment_1, moment_2, lr, beta_1, beta_2, correction, epsilon)
        }

        fn adam_owned(t: CubeTensor) -> CubeTensor {
            assert_eq!(t.dtype, DType::F32, "the fused Adam updates f32 parameters");
            let t = into_contiguous(t);
            if t.can_mut() { t } else { t.copy() }
        }

        fn adam_update_layer(
            weight: CubeTensor,
            weight_grad: CubeTensor,
            weight_moment_1: CubeTensor,
            weight_moment_2: CubeTensor,
            bias: CubeTensor,
            bias_grad: CubeTensor,
            bias_moment_1: CubeTensor,
            bias_moment_2: CubeTensor,
            lr: f32,
            beta_1: f32,
            beta_2: f32,
            weight_correction: f32,
            weight_epsilon: f32,
            bias_correction: f32,
            bias_epsilon: f32,
        ) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor, CubeTensor, CubeTensor) {
            let client = weight.client.clone();
            if client.properties().hardware.max_bindings < LAYER_KERNEL_BINDINGS {
                let (w, wm, wv) = Self::adam_update_in_place(
                    weight,
                    weight_grad,
                    weight_moment_1,
                    weight_moment_2,
                    lr,
                    beta_1,
                    beta_2,
                    weight_correction,
                    weight_epsilon,
                );
                let (b, bm, bv) =
                    Self::adam_update_in_place(bias, bias_grad, bias_moment_1, bias_moment_2, lr, beta_1, beta_2, bias_correction, bias_epsilon);
                return (w, wm, wv, b, bm, bv);
            }
            let (weight_grad, bias_grad) = (into_contiguous(weight_grad), into_contiguous(bias_grad));
            let (cube_count, cube_dim) = grid_over(&weight, weight.meta.num_elements() + bias.meta.num_elements());
            adam_layer_kernel::launch(
                &client,
                cube_count,
                cube_dim,
                weight.clone().into_tensor_arg(),
                weight_grad.into_tensor_arg(),
                weight_moment_1.clone().into_tensor_arg(),
                weight_moment_2.clone().into_tensor_arg(),
                bias.clone().into_tensor_arg(),
                bias_grad.into_tensor_arg(),
                bias_moment_1.clone().into_tensor_arg(),
                bias_moment_2.clone().into_tensor_arg(),
                lr,
                beta_1,
                beta_2,
                1.0 - beta_1,
                1.0 - beta_2,
                weight_correction,
                weight_epsilon,
                bias_correction,
                bias_epsilon,
            );
            (weight, weight_moment_1, weight_moment_2, bias, bias_moment_1, bias_moment_2)
        }

        fn adam_update_in_place(
            param: CubeTensor,
            grad: CubeTensor,
            moment_1: CubeTensor,
            moment_2: CubeTensor,
            lr: f32,
            beta_1: f32,
            beta_2: f32,
            correction: f32,
            epsilon: f32,
        ) -> (CubeTensor, CubeTensor, CubeTensor) {
            launch_in_place(&param, grad, &moment_1, &moment_2, lr, beta_1, beta_2, correction, epsilon);
            (param, moment_1, moment_2)
        }
    }
}

/// Adam's update of `p` with its moments `m1`, `m2` and gradient `g` (slices of one length).
#[allow(clippy::too_many_arguments)]
fn adam_pass(ps: &mut [f32], m1s: &mut [f32], m2s: &mut [f32], g: &[f32], lr: f32, beta_1: f32, beta_2: f32, correction: f32, epsilon: f32) {
    let (f1, f2) = (1.0 - beta_1, 1.0 - beta_2);
    for i in 0..ps.len() {
        // The order of burn's Adam: m·β₁ + g·(1−β₁); v·β₂ + g²·(1−β₂); (m·c)/(√v + ε')·lr.
        let gi = g[i];
        let m = m1s[i] * beta_1 + gi * f1;
        let v = m2s[i] * beta_2 + (gi * gi) * f2;
        m1s[i] = m;
        m2s[i] = v;
        ps[i] -= (m * correction) / (v.sqrt() + epsilon) * lr;
    }
}

/// burn's Adam (no weight decay, no AMSGrad) with each parameter's update fused into one pass on
/// the CPU backend, and into one launch per layer on the GPU (where [`finish_step`] must follow
/// each step of a module). Same state type (`AdamState`) and the same f32 arithmetic as `burn::optim::Adam`.
#[derive(Clone, Debug)]
pub struct FusedAdam {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

/// A layer's weight whose update waits for its bias, the parameter the optimiser steps next,
/// to run in one launch with it (burn's GPU backends): its tensors, in buffers of their own
/// that the optimiser has already handed back, and its step's constants.
struct WaitingWeight {
    weight: FloatTensor<Dispatch>,
    grad: FloatTensor<Dispatch>,
    moment_1: FloatTensor<Dispatch>,
    moment_2: FloatTensor<Dispatch>,
    /// The weight's output width (its bias' length).
    cols: usize,
    lr: f32,
    beta_1: f32,
    beta_2: f32,
    correction: f32,
    epsilon: f32,
}

thread_local! {
    static WAITING: RefCell<Option<WaitingWeight>> = const { RefCell::new(None) };
}

/// Runs the update of a weight left waiting for a bias (the last parameter of a step, or a
/// layer without a bias). Every optimiser step of the trainer ends with it
/// (`train::shared::optimise`): until then the weight the optimiser returned is not updated yet.
pub(crate) fn finish_step() {
    if let Some(w) = WAITING.with(|c| c.borrow_mut().take()) {
        let _ = <Dispatch as AdamOps>::adam_update_in_place(w.weight, w.grad, w.moment_1, w.moment_2, w.lr, w.beta_1, w.beta_2, w.correction, w.epsilon);
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (time, moment_1, moment_2) = match state {
            Some(s) => (s.momentum.time + 1, s.momentum.moment_1, s.momentum.moment_2),
            None => (1, grad.zeros_like(), grad.zeros_like()),
        };
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - self.beta_2.powi(t)).sqrt();
        let correction = bias_correction2_sqrt / (1.0 - self.beta_1.powi(t));
        let (lr, epsilon) = (lr as f32, self.epsilon * bias_correction2_sqrt);
        let state = |m1, m2| Some(AdamState::new(AdaptiveMomentumState::new(time, Tensor::from_dispatch(m1), Tensor::from_dispatch(m2))));
        if !crate::model::cpu::on_cube_kernels(&tensor.device()) {
            let (p, m1, m2) = <Dispatch as AdamOps>::adam_update(
                tensor.into_dispatch(),
                grad.into_dispatch(),
                moment_1.into_dispatch(),
                moment_2.into_dispatch(),
                lr,
                self.beta_1,
                self.beta_2,
                correction,
                epsilon,
            );
            return (Tensor::from_dispatch(p), state(m1, m2));
        }
        // On the GPU: in place, and a layer's weight and bias in one launch.
        let cols = *tensor.dims().last().expect("a parameter has a shape");
        let owned = |t: Tensor<D>| <Dispatch as AdamOps>::adam_owned(t.into_dispatch());
        let (p, m1, m2, g) = (owned(tensor), owned(moment_1), owned(moment_2), grad.into_dispatch());
        let waiting = WAITING.with(|c| c.borrow_mut().take());
        if let Some(w) = waiting {
            if D == 1 && w.cols == cols && (w.lr, w.beta_1, w.beta_2) == (lr, self.beta_1, self.beta_2) {
                let (_, _, _, p, m1, m2) = <Dispatch as AdamOps>::adam_update_layer(
                    w.weight,
                    w.grad,
                    w.moment_1,
                    w.moment_2,
                    p,
                    g,
                    m1,
                    m2,
                    lr,
                    self.beta_1,
                    self.beta_2,
                    w.correction,
                    w.epsilon,
                    correction,
                    epsilon,
                );
                return (Tensor::from_dispatch(p), state(m1, m2));
            }
            WAITING.with(|c| *c.borrow_mut() = Some(w));
            finish_step();
        }
        if D == 2 {
            let waiting = WaitingWeight {
                weight: p.clone(),
                grad: g,
                moment_1: m1.clone(),
                moment_2: m2.clone(),
                cols,
                lr,
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                correction,
                epsilon,
            };
            WAITING.with(|c| *c.borrow_mut() = Some(waiting));
            return (Tensor::from_dispatch(p), state(m1, m2));
        }
        let (p, m1, m2) = <Dispatch as AdamOps>::adam_update_in_place(p, g, m1, m2, lr, self.beta_1, self.beta_2, correction, epsilon);
        (Tensor::from_dispatch(p), state(m1, m2))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::nn::LinearConfig;
    use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    use crate::model::fused::values;

    /// Five steps of the fused Adam against burn's `Adam` on `device` from the same layer and
    /// batches: weights and biases within 1e-6 after every step, and moved by it. The second
    /// layer's 90,000 weights take the CPU pass split over threads; the third has no bias (on
    /// the GPU its weight waits for [`finish_step`]). On odd steps a copy of the layer is held
    /// through the step, and keeps its weights (the GPU updates in place only buffers nobody
    /// else holds).
    fn gives_burns_adam_updates(device: Device) {
        let ad = device.autodiff();
        ad.seed(5);
        for (d_in, d_out, with_bias) in [(7, 4, true), (300, 300, true), (5, 3, false)] {
            let start = LinearConfig::new(d_in, d_out).with_bias(with_bias).init(&ad);
            let initial = values(start.weight.val());
            let mut burn_adam = AdamConfig::new().with_epsilon(1e-7).init();
            let mut fused: ModuleOptimizer = FusedAdam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }.into();
            let (mut a, mut b) = (start.clone(), start);
            for step in 0..5 {
                let weights_before = values(b.weight.val());
                let x = Tensor::<2>::random([16, d_in], Distribution::Normal(0.0, 1.0), &ad);
                let ga = GradientsParams::from_grads(a.forward(x.clone()).square().mean().backward(), &a);
                let gb = GradientsParams::from_grads(b.forward(x).square().mean().backward(), &b);
                a = burn_adam.step(1e-2, a, ga);
                let copy = (step % 2 == 1).then(|| b.clone());
                b = fused.step(1e-2, b, gb);
                finish_step();
                if let Some(copy) = copy {
                    assert_eq!(values(copy.weight.val()), weights_before, "{d_in}×{d_out}, step {step}: the copy moved");
                }
                let bias = |l: &burn::nn::Linear| l.bias.as_ref().map(|b| values(b.val())).unwrap_or_default();
                for (wa, wb) in [(values(a.weight.val()), values(b.weight.val())), (bias(&a), bias(&b))] {
                    assert_eq!(wa.len(), wb.len());
                    for (p, q) in wa.iter().zip(&wb) {
                        assert!((p - q).abs() <= 1e-6, "{d_in}×{d_out}, step {step}: {p} vs {q}");
                    }
                }
                // The update moved the weights (a kernel that wrote nothing would leave them).
                assert_ne!(values(b.weight.val()), initial, "{d_in}×{d_out}, step {step}");
            }
            assert_eq!(a.num_params(), b.num_params());
        }
    }

    #[test]
    fn fused_adam_gives_burns_adam_updates() {
        gives_burns_adam_updates(Device::flex());
    }

    /// The GPU kernel against burn's Adam on the wgpu device (Mesa's lavapipe in CI, where
    /// `DA3D_REQUIRE_WGPU=1`).
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    #[test]
    fn fused_adam_on_the_gpu_gives_burns_adam_updates() {
        let Some(device) = crate::model::fused::test_wgpu_device() else { return };
        assert!(crate::model::cpu::on_cube_kernels(&device), "the wgpu device takes the fused kernel");
        gives_burns_adam_updates(device);
    }
}
