//! A hidden layer while training (`Linear`, SELU, dropout) as one operation on the CPU backend,
//! with the matrix products into plain buffers.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};

use super::dense;
#[cfg(not(target_arch = "wasm32"))]
use super::{PARALLEL_CHUNK, PARALLEL_ELEMENTS};
use super::selu::{SELU_ALPHA, SELU_GAMMA, selu_f32};
use crate::model::cpu::{draw_mask, put_back_mask_rng, take_mask_rng};

/// `dropout(selu(x·W + b))` of one hidden layer as one operation (a training step's layer on the
/// CPU backend: `mlp`), the dropout mask drawn from this thread's mask generator with `keep`
/// (`dropout::draw_mask`) while the product runs. `x`: `[rows, d_in]` → `[rows, d_out]`. The
/// same f32 operations, in the same order, on the same mask as the composite (burn's `Linear`,
/// [`selu_flex`], a multiplication by `dropout::host_mask`'s mask), so the same numbers; one pass
/// after the product instead of three forward and two backward, and one autodiff node instead of
/// three.
pub(crate) fn dense_selu_dropout(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>, keep: f64) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as DenseSeluOps>::dense_selu_dropout(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        keep,
    ))
}

/// A dense layer, SELU and dropout as one operation.
#[backend_extension(Flex, Autodiff, Cube: cfg(all(feature = "wgpu", not(feature = "fusion"))))]
pub trait DenseSeluOps: Backend {
    /// `selu(x·W + b) ⊙ mask`: `x` `[rows, d_in]`, `weight` `[d_in, d_out]`, `bias` `[d_out]` →
    /// `[rows, d_out]`; the mask (`[rows, d_out]`, `1 / keep` or 0) drawn from this thread's
    /// mask generator. No gradient flows to the mask.
    fn dense_selu_dropout(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, keep: f64) -> FloatTensor<Self>;
    /// The forward pass on an inner backend: the output, SELU's output before the mask, the mask.
    fn dense_selu_dropout_parts(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        keep: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// The gradients of the input, the weight and the bias (`[rows, d_in]`, `[d_in, d_out]`,
    /// `[d_out]`) from the output's, SELU's output and the mask: through `G'`, the gradient of
    /// `x·W + b`, `(grad · mask) · γ` where SELU's output is positive, else `(grad · mask) · (y + γα)`;
    /// then `G'·Wᵀ`, `xᵀ·G'` and `Σ_rows G'` (burn's `Linear` backward).
    fn dense_selu_dropout_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        selu_output: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// The input's gradient alone (fixed weights).
    fn dense_selu_dropout_input_backward(
        weight: FloatTensor<Self>,
        selu_output: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// The weight's and the bias' gradients alone (a fixed input).
    fn dense_selu_dropout_parameters_backward(
        x: FloatTensor<Self>,
        selu_output: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

impl DenseSeluOps for Flex {
    fn dense_selu_dropout(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, keep: f64) -> FlexTensor {
        Self::dense_selu_dropout_parts(x, weight, bias, keep).0
    }

    fn dense_selu_dropout_parts(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        keep: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        // burn's `Linear` on this backend: the product, then `+ b` broadcast over the rows. The
        // mask is drawn meanwhile (on another thread of the pool where it has one; the generator
        // moves with the draw, so the masks are the same on any thread).
        let (rows, cols) = (x.layout().shape()[0], weight.layout().shape()[1]);
        let mut rng = take_mask_rng();
        let draw = |rng: &mut crate::rng::HostRng| draw_mask(rng, rows * cols, keep);
        #[cfg(not(target_arch = "wasm32"))]
        let (product, mask) = rayon::join(|| matmul(&x, &weight), || draw(&mut rng));
        #[cfg(target_arch = "wasm32")]
        let (product, mask) = (matmul(&x, &weight), draw(&mut rng));
        put_back_mask_rng(rng);
        let mut selu = dense(product);
        let n = selu.layout().num_elements();
        let bias = dense(bias);
        let mut out = Vec::with_capacity(n);
        let b = &bias.storage::<f32>()[..cols];
        let m = &mask[..n];
        let s = &mut selu.storage_mut::<f32>()[..n];
        let y = &mut out.spare_capacity_mut()[..n];
        #[cfg(not(target_arch = "wasm32"))]
        if n >= PARALLEL_ELEMENTS {
            use rayon::prelude::*;
            let chunk = (PARALLEL_CHUNK / cols.max(1)).max(1) * cols.max(1);
            s.par_chunks_mut(chunk)
                .zip(y.par_chunks_mut(chunk))
                .zip(m.par_chunks(chunk))
                .for_each(|((s, y), m)| bias_selu_mask(s, y, b, m));
        } else {
            bias_selu_mask(s, y, b, m);
        }
        #[cfg(target_arch = "wasm32")]
        bias_selu_mask(s, y, b, m);
        // SAFETY: `bias_selu_mask` wrote every one of the `n` values.
        unsafe { out.set_len(n) };
        let shape = selu.layout().shape().clone();
        let mask = FlexTensor::from_data(TensorData::new(mask, shape.clone()));
        (FlexTensor::from_data(TensorData::new(out, shape)), selu, mask)
    }

    fn dense_selu_dropout_backward(
        x: FlexTensor,
        weight: FlexTensor,
        selu_output: FlexTensor,
        mask: FlexTensor,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let grad = selu_dropout_grad(selu_output, mask, grad);
        (input_grad(&weight, &grad), weight_grad(&x, &grad), Flex::linear_bias_backward(grad))
    }

    fn dense_selu_dropout_input_backward(weight: FlexTensor, selu_output: FlexTensor, mask: FlexTensor, grad: FlexTensor) -> FlexTensor {
        input_grad(&weight, &selu_dropout_grad(selu_output, mask, grad))
    }

    fn dense_selu_dropout_parameters_backward(
        x: FlexTensor,
        selu_output: FlexTensor,
        mask: FlexTensor,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        let grad = selu_dropout_grad(selu_output, mask, grad);
        (weight_grad(&x, &grad), Flex::linear_bias_backward(grad))
    }
}

/// The gradient of `x·W + b` from SELU's output, the mask and the output gradient (one pass).
fn selu_dropout_grad(selu_output: FlexTensor, mask: FlexTensor, grad: FlexTensor) -> FlexTensor {
    let n = grad.layout().num_elements();
    let (s, m, mut g) = (dense(selu_output), dense(mask), dense(grad));
    let (s, m) = (&s.storage::<f32>()[..n], &m.storage::<f32>()[..n]);
    let gs = &mut g.storage_mut::<f32>()[..n];
    #[cfg(not(target_arch = "wasm32"))]
    if n >= PARALLEL_ELEMENTS {
        use rayon::prelude::*;
        gs.par_chunks_mut(PARALLEL_CHUNK)
            .zip(s.par_chunks(PARALLEL_CHUNK))
            .zip(m.par_chunks(PARALLEL_CHUNK))
            .for_each(|((g, s), m)| selu_mask_backward(s, m, g));
        return g;
    }
    selu_mask_backward(s, m, gs);
    g
}

/// burn's `linear_x_backward`: `grad · Wᵀ`, Wᵀ a transposed view.
fn input_grad(weight: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
    matmul(grad, &weight.clone().transpose(0, 1))
}

/// burn's `linear_weight_backward`: `xᵀ · grad`, xᵀ a transposed view.
fn weight_grad(x: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
    matmul(&x.clone().transpose(0, 1), grad)
}

/// `[m, k] · [k, n]` of two 2-D f32 tensors (any strides) into a new `[m, n]` tensor: the same
/// `gemm` call as burn-flex's `matmul` (same strides, same parallelism: the same numbers), into an
/// output buffer that is neither zero-filled nor copied into an aligned allocation afterwards
/// (burn-flex's `FlexTensor::empty` does both: ~5 % of a wide training step). Other shapes and
/// types go to burn-flex's `matmul`.
fn matmul(lhs: &FlexTensor, rhs: &FlexTensor) -> FlexTensor {
    let (ls, rs) = (lhs.layout().shape(), rhs.layout().shape());
    let plain = lhs.dtype() == DType::F32 && rhs.dtype() == DType::F32 && ls.num_dims() == 2 && rs.num_dims() == 2;
    // (Empty products too: `gemm` writes nothing when k = 0.)
    if !plain || ls[0] == 0 || ls[1] == 0 || rs[1] == 0 {
        return burn::backend::flex::ops::matmul::matmul(lhs.clone(), rhs.clone());
    }
    let (m, k, n) = (ls[0], ls[1], rs[1]);
    assert_eq!(k, rs[0], "matmul: inner dimensions must match");
    let (l_strides, r_strides) = (lhs.layout().strides(), rhs.layout().strides());
    let lhs_data: &[f32] = lhs.storage();
    let rhs_data: &[f32] = rhs.storage();
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    // SAFETY: the pointers and strides describe the two tensors' views (as burn-flex passes them);
    // `out` has room for the `m × n` row-major result, which `gemm` writes in full (`read_dst`
    // false, `k > 0`) before the length is set.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs_data.as_ptr().add(lhs.layout().start_offset()),
            l_strides[1],
            l_strides[0],
            rhs_data.as_ptr().add(rhs.layout().start_offset()),
            r_strides[1],
            r_strides[0],
            0.0,
            1.0,
            false,
            false,
            false,
            gemm_parallelism(m, n, k),
        );
        out.set_len(m * n);
    }
    FlexTensor::from_data(TensorData::new(out, [m, n]))
}

/// burn-flex's choice: every thread of the pool from 192³ multiply-adds (native builds), else one.
fn gemm_parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    #[cfg(not(target_arch = "wasm32"))]
    if m.saturating_mul(n).saturating_mul(k) >= 192 * 192 * 192 {
        return gemm::Parallelism::Rayon(0);
    }
    let _ = (m, n, k);
    gemm::Parallelism::None
}

/// Row by row: `s ← selu(s + b)`, `y ← s · m` (`s`, `y`, `m`: whole rows of `b.len()` values).
fn bias_selu_mask(s: &mut [f32], y: &mut [std::mem::MaybeUninit<f32>], b: &[f32], m: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features `bias_selu_mask_avx2` is compiled for.
        unsafe { bias_selu_mask_avx2(s, y, b, m) };
        return;
    }
    bias_selu_mask_any(s, y, b, m)
}

#[inline(always)]
fn bias_selu_mask_any(s: &mut [f32], y: &mut [std::mem::MaybeUninit<f32>], b: &[f32], m: &[f32]) {
    let cols = b.len();
    for ((s, y), m) in s.chunks_exact_mut(cols).zip(y.chunks_exact_mut(cols)).zip(m.chunks_exact(cols)) {
        for (((s, y), &b), &m) in s.iter_mut().zip(y.iter_mut()).zip(b).zip(m) {
            let v = selu_f32(*s + b);
            *s = v;
            y.write(v * m);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn bias_selu_mask_avx2(s: &mut [f32], y: &mut [std::mem::MaybeUninit<f32>], b: &[f32], m: &[f32]) {
    bias_selu_mask_any(s, y, b, m)
}

/// `g ← (g · m) · selu'` from SELU's output `s`.
fn selu_mask_backward(s: &[f32], m: &[f32], g: &mut [f32]) {
    let (g32, ag32) = (SELU_GAMMA as f32, (SELU_ALPHA * SELU_GAMMA) as f32);
    for ((g, &s), &m) in g.iter_mut().zip(s).zip(m) {
        *g = (*g * m) * if s > 0.0 { g32 } else { s + ag32 };
    }
}

impl<B: Backend + DenseSeluOps, C: CheckpointStrategy> DenseSeluOps for Autodiff<B, C> {
    fn dense_selu_dropout(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, keep: f64) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct DenseSeluDropout;

        impl<B: Backend + DenseSeluOps> Backward<B, 3> for DenseSeluDropout {
            /// `x` and `W` where the other needs a gradient (burn's `Linear` keeps the same),
            /// SELU's output and the mask.
            type State = (Option<NodeId>, Option<NodeId>, FloatTensor<B>, FloatTensor<B>);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
                let [node_x, node_weight, node_bias] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_state, weight_state, selu, mask) = ops.state;
                let x = x_state.map(|id| checkpointer.retrieve_node_output::<FloatTensor<B>>(id));
                let weight = weight_state.map(|id| checkpointer.retrieve_node_output::<FloatTensor<B>>(id));
                // The gradients the graph asks for, in one operation.
                let (input, parameters) = match (node_x.is_some(), node_weight.is_some() || node_bias.is_some()) {
                    (true, true) => {
                        let (x, weight) = (x.expect("checkpointed"), weight.expect("checkpointed"));
                        let (dx, dw, db) = B::dense_selu_dropout_backward(x, weight, selu, mask, grad);
                        (Some(dx), Some((dw, db)))
                    }
                    (true, false) => {
                        (Some(B::dense_selu_dropout_input_backward(weight.expect("checkpointed"), selu, mask, grad)), None)
                    }
                    (false, true) => {
                        (None, Some(B::dense_selu_dropout_parameters_backward(x.expect("checkpointed"), selu, mask, grad)))
                    }
                    (false, false) => (None, None),
                };
                if let (Some(node), Some(dx)) = (node_x, input) {
                    grads.register::<B>(node.id, dx);
                }
                if let Some((dw, db)) = parameters {
                    if let Some(node) = node_weight {
                        grads.register::<B>(node.id, dw);
                    }
                    if let Some(node) = node_bias {
                        grads.register::<B>(node.id, db);
                    }
                }
            }
        }

        let (x_tracked, parameters_tracked) = (x.is_tracked(), weight.is_tracked() || bias.is_tracked());
        match DenseSeluDropout.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = parameters_tracked.then(|| prep.checkpoint(&x));
                let weight_state = x_tracked.then(|| prep.checkpoint(&weight));
                let (out, selu, mask) =
                    B::dense_selu_dropout_parts(x.into_primitive(), weight.into_primitive(), bias.into_primitive(), keep);
                prep.finish((x_state, weight_state, selu, mask), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::dense_selu_dropout(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                keep,
            )),
        }
    }

    /// Only the forward pass above calls this, on the inner backend.
    fn dense_selu_dropout_parts(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _bias: FloatTensor<Self>,
        _keep: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("dense_selu_dropout_parts runs on the inner backend")
    }

    /// Only backward passes call this, on the inner backend.
    fn dense_selu_dropout_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _selu_output: FloatTensor<Self>,
        _mask: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("dense_selu_dropout_backward runs on the inner backend")
    }

    /// Only backward passes call this, on the inner backend.
    fn dense_selu_dropout_input_backward(
        _weight: FloatTensor<Self>,
        _selu_output: FloatTensor<Self>,
        _mask: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unreachable!("dense_selu_dropout_input_backward runs on the inner backend")
    }

    /// Only backward passes call this, on the inner backend.
    fn dense_selu_dropout_parameters_backward(
        _x: FloatTensor<Self>,
        _selu_output: FloatTensor<Self>,
        _mask: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("dense_selu_dropout_parameters_backward runs on the inner backend")
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::model::fused::selu_flex;

    use crate::model::fused::values;

    /// `dropout(selu(x·W + b))` fused against burn's `Linear`, the fused SELU and `dropout::apply`
    /// from the same mask generator state: the same bits forward and in every gradient, for a small layer and one
    /// large enough for the threaded passes and products; with the input or the weights untracked.
    #[test]
    fn fused_dense_layer_gives_the_composites_bits() {
        let ad = Device::flex().autodiff();
        for (rows, d_in, d_out, seed) in [(7, 5, 3, 1), (300, 200, 300, 2)] {
            ad.seed(seed);
            let x = Tensor::<2>::random([rows, d_in], Distribution::Normal(0.0, 1.0), &ad);
            let layer = LinearConfig::new(d_in, d_out).init(&ad);
            let bias = Tensor::<1>::random([d_out], Distribution::Normal(0.0, 0.5), &ad);
            let layer = burn::nn::Linear { bias: Some(burn::module::Param::from_tensor(bias)), ..layer };
            let upstream = Tensor::<2>::random([rows, d_out], Distribution::Normal(0.0, 1.0), &ad);
            for (x_tracked, weights_tracked) in [(true, true), (true, false), (false, true)] {
                let x = if x_tracked { x.clone().require_grad() } else { x.clone() };
                let layer = if weights_tracked { layer.clone() } else { layer.clone().no_grad() };
                let (weight, bias) = (layer.weight.val(), layer.bias.as_ref().unwrap().val());
                crate::model::seed_dropout_masks(seed);
                let fused = dense_selu_dropout(x.clone(), weight.clone(), bias.clone(), 0.8);
                crate::model::seed_dropout_masks(seed);
                let dropout = burn::nn::DropoutConfig::new(0.2).init();
                let composite = crate::model::dropout::apply(&dropout, selu_flex(layer.forward(x.clone())));
                assert_eq!(values(fused.clone()), values(composite.clone()), "forward {rows}×{d_out}");
                let dropped = values(fused.clone()).iter().filter(|v| **v == 0.0).count() as f64 / (rows * d_out) as f64;
                assert!(rows < 100 || (0.18..0.22).contains(&dropped), "a fifth of the values dropped: {dropped}");
                let g_fused = (fused * upstream.clone()).sum().backward();
                let g_composite = (composite * upstream.clone()).sum().backward();
                if x_tracked {
                    assert_eq!(values(x.grad(&g_fused).unwrap()), values(x.grad(&g_composite).unwrap()), "x gradient");
                }
                if weights_tracked {
                    let (w_fused, w_composite) = (weight.grad(&g_fused).unwrap(), weight.grad(&g_composite).unwrap());
                    assert_eq!(values(w_fused), values(w_composite), "weight gradient");
                    assert_eq!(values(bias.grad(&g_fused).unwrap()), values(bias.grad(&g_composite).unwrap()), "bias gradient");
                } else {
                    assert!(weight.grad(&g_fused).is_none(), "untracked weights get no gradient");
                }
            }
        }
    }
}
