//! Adam with each parameter's update fused into one pass (thirteen operations per parameter tensor
//! as burn's composite): the moments and the update in one pass, in the same f32 order of
//! operations as burn's `Adam`, so the updates are the same numbers. On the CPU backend a loop;
//! on burn's GPU backends (cubecl: wgpu, WebGPU, CUDA; the `wgpu` feature, without burn's kernel
//! fusion) one kernel launch per parameter tensor instead of a dozen.

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
}

/// The kernel on burn's GPU backends: one launch per parameter tensor.
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod cube {
    use burn::tensor::DType;
    use burn_cubecl::CubeBackend;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::tensor::CubeTensor;
    use cubecl::prelude::*;

    use super::AdamOps;
    use crate::model::fused::{empty_like, grid};

    /// [`adam_pass`](super::adam_pass) on one value per unit: the same f32 operations in the same
    /// order. `one_minus_beta_*` are computed on the host as the CPU pass computes them.
    #[cube(launch)]
    #[allow(clippy::too_many_arguments)]
    fn adam_kernel(
        param: &Tensor<f32>,
        grad: &Tensor<f32>,
        moment_1: &Tensor<f32>,
        moment_2: &Tensor<f32>,
        param_out: &mut Tensor<f32>,
        moment_1_out: &mut Tensor<f32>,
        moment_2_out: &mut Tensor<f32>,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        one_minus_beta_1: f32,
        one_minus_beta_2: f32,
        correction: f32,
        epsilon: f32,
    ) {
        let i = ABSOLUTE_POS;
        if i >= param_out.len() {
            terminate!();
        }
        let g = grad[i];
        let m = moment_1[i] * beta_1 + g * one_minus_beta_1;
        let v = moment_2[i] * beta_2 + (g * g) * one_minus_beta_2;
        moment_1_out[i] = m;
        moment_2_out[i] = v;
        param_out[i] = param[i] - (m * correction) / (f32::sqrt(v) + epsilon) * lr;
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
            assert_eq!(param.dtype, DType::F32, "the fused Adam updates f32 parameters");
            let (param, grad, moment_1, moment_2) =
                (into_contiguous(param), into_contiguous(grad), into_contiguous(moment_1), into_contiguous(moment_2));
            let client = param.client.clone();
            let (param_out, moment_1_out, moment_2_out) = (empty_like(&param), empty_like(&param), empty_like(&param));
            let (cube_count, cube_dim) = grid(&param);
            adam_kernel::launch(
                &client,
                cube_count,
                cube_dim,
                param.into_tensor_arg(),
                grad.into_tensor_arg(),
                moment_1.into_tensor_arg(),
                moment_2.into_tensor_arg(),
                param_out.clone().into_tensor_arg(),
                moment_1_out.clone().into_tensor_arg(),
                moment_2_out.clone().into_tensor_arg(),
                lr,
                beta_1,
                beta_2,
                1.0 - beta_1,
                1.0 - beta_2,
                correction,
                epsilon,
            );
            (param_out, moment_1_out, moment_2_out)
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
/// the CPU backend. Same state type (`AdamState`) and the same f32 arithmetic as `burn::optim::Adam`.
#[derive(Clone, Debug)]
pub struct FusedAdam {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
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
        let (p, m1, m2) = <Dispatch as AdamOps>::adam_update(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            moment_1.into_dispatch(),
            moment_2.into_dispatch(),
            lr as f32,
            self.beta_1,
            self.beta_2,
            correction,
            self.epsilon * bias_correction2_sqrt,
        );
        let momentum = AdaptiveMomentumState::new(time, Tensor::from_dispatch(m1), Tensor::from_dispatch(m2));
        (Tensor::from_dispatch(p), Some(AdamState::new(momentum)))
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
    /// layer's 90,000 weights take the CPU pass split over threads.
    fn gives_burns_adam_updates(device: Device) {
        let ad = device.autodiff();
        ad.seed(5);
        for (d_in, d_out) in [(7, 4), (300, 300)] {
            let start = LinearConfig::new(d_in, d_out).init(&ad);
            let initial = values(start.weight.val());
            let mut burn_adam = AdamConfig::new().with_epsilon(1e-7).init();
            let mut fused: ModuleOptimizer = FusedAdam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }.into();
            let (mut a, mut b) = (start.clone(), start);
            for step in 0..5 {
                let x = Tensor::<2>::random([16, d_in], Distribution::Normal(0.0, 1.0), &ad);
                let ga = GradientsParams::from_grads(a.forward(x.clone()).square().mean().backward(), &a);
                let gb = GradientsParams::from_grads(b.forward(x).square().mean().backward(), &b);
                a = burn_adam.step(1e-2, a, ga);
                b = fused.step(1e-2, b, gb);
                let bias = |l: &burn::nn::Linear| values(l.bias.clone().unwrap().val());
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
