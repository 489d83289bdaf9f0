//! Fused kernels for the CPU backend (`flex`), through burn's backend extensions.
//!
//! The networks are tiny, so a CPU training step costs what burn spends per operation (dispatch,
//! autodiff bookkeeping, one allocation per result) as much as arithmetic. Three composites made
//! up most of the operations of a step and are one pass each here:
//!
//! - **SELU** (nine operations forward and nine backward as a composite of `relu`, `exp` and scalar
//!   operations): one vectorised pass forward, and one backward pass from the output,
//!   `grad · γ` where `y > 0`, else `grad · (y + γα)` (`y + γα = γα·eˣ` for `x ≤ 0`).
//! - **BCE on logits** (ten operations): the loss and its gradient `σ(z) − t` in one pass each.
//! - **Adam** (thirteen operations per parameter tensor): moments and update in one pass, in the
//!   same f32 order of operations as burn's `Adam`, so the updates are the same numbers.
//! - **A hidden layer while training** (`Linear`, SELU, dropout: three autodiff nodes, five
//!   passes and a zero-filled, copied product output): the product into a plain buffer, one pass
//!   forward, one backward; the same numbers as the composite.
//!
//! Native builds split the passes over large tensors across the pool's threads (element-wise, so
//! the numbers do not depend on the split).
//!
//! Only the CPU device takes these paths (`on_flex`); GPU devices (wgpu, WebGPU) keep burn's
//! composites, which their kernel fusion serves.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::flex::ops::binary::binary_op;
use burn::backend::flex::ops::unary::unary_op;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};

/// SELU's α and γ (Klambauer et al. 2017).
pub(crate) const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
pub(crate) const SELU_GAMMA: f64 = 1.050_700_987_355_480_5;

/// Whether `device` computes on the CPU backend (with or without autodiff).
pub(crate) fn on_flex(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

/// SELU in one pass (and one backward pass under autodiff). Flex devices only.
pub(crate) fn selu_flex<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as SeluOps>::selu(x.into_dispatch()))
}

/// SELU as one operation.
#[backend_extension(Flex, Autodiff)]
pub trait SeluOps: Backend {
    /// `γ·x` for `x > 0`, `γα·(eˣ − 1)` otherwise; any shape.
    fn selu(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The input gradient from SELU's `output` and the output gradient `grad` (same shapes).
    fn selu_backward(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// `eˣ` for `x ≤ 0` without branches or calls, so that loops over it vectorise (Cephes' `expf`:
/// range reduction by ln 2, a degree-5 polynomial, the exponent set by bits; within 2 ulp of
/// `f32::exp`). Inputs below −87 give e⁻⁸⁷ (SELU's `eˣ − 1` is −1 there in f32 either way).
#[inline(always)]
fn exp_non_positive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    let x = if x < -87.0 { -87.0 } else { x };
    // n = round(x / ln 2), read from the low mantissa bits (no float → int conversion).
    let shifted = x * LOG2E + ROUND;
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let n = shifted - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let e = p * (r * r) + r + 1.0;
    e * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

/// SELU of one value (NaN stays NaN), written as selects so that loops over it vectorise.
#[inline(always)]
fn selu_f32(v: f32) -> f32 {
    let (g32, ag32) = (SELU_GAMMA as f32, (SELU_ALPHA * SELU_GAMMA) as f32);
    let e = exp_non_positive(if v < 0.0 { v } else { 0.0 });
    let negative = if v.is_nan() { v } else { (e - 1.0) * ag32 };
    if v > 0.0 { v * g32 } else { negative }
}

/// SELU of every value, in place: 8 lanes at a time where the CPU has AVX2 and FMA (checked at
/// run time), 4 (SSE2) otherwise.
fn selu_in_place(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features `selu_in_place_avx2` is compiled for.
        unsafe { selu_in_place_avx2(values) };
        return;
    }
    for v in values {
        *v = selu_f32(*v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn selu_in_place_avx2(values: &mut [f32]) {
    for v in values {
        *v = selu_f32(*v);
    }
}

impl SeluOps for Flex {
    fn selu(x: FlexTensor) -> FlexTensor {
        let layout = x.layout();
        if x.dtype() == DType::F32 && x.is_unique() && layout.is_contiguous() && layout.start_offset() == 0 {
            let n = layout.num_elements();
            let mut x = x;
            selu_in_place(&mut x.storage_mut::<f32>()[..n]);
            return x;
        }
        // Shared or strided input: a new buffer.
        unary_op(x, selu_f32, |v: f64| {
            if v > 0.0 { v * SELU_GAMMA } else { (v.exp() - 1.0) * (SELU_ALPHA * SELU_GAMMA) }
        })
    }

    fn selu_backward(output: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let (g32, ag32) = (SELU_GAMMA as f32, (SELU_ALPHA * SELU_GAMMA) as f32);
        binary_op(
            output,
            grad,
            move |y: f32, g: f32| g * if y > 0.0 { g32 } else { y + ag32 },
            |y: f64, g: f64| g * if y > 0.0 { SELU_GAMMA } else { y + SELU_ALPHA * SELU_GAMMA },
            None,
        )
    }
}

impl<B: Backend + SeluOps, C: CheckpointStrategy> SeluOps for Autodiff<B, C> {
    fn selu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Selu;

        impl<B: Backend + SeluOps> Backward<B, 1> for Selu {
            /// The forward output.
            type State = FloatTensor<B>;

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
                let output = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::selu_backward(output, grad));
            }
        }

        let (primitive, node) = x.into_parts();
        let output = B::selu(primitive);
        match Selu.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    /// Only backward passes call this, on the inner backend; it is not differentiated again.
    fn selu_backward(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        <FloatTensor<Self>>::new(B::selu_backward(output.into_primitive(), grad.into_primitive()))
    }
}

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
#[backend_extension(Flex, Autodiff)]
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
    /// The gradient of `x·W + b` from SELU's output, the mask and the output gradient:
    /// `(grad · mask) · γ` where SELU's output is positive, else `(grad · mask) · (y + γα)`.
    fn selu_dropout_backward(
        selu_output: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// `grad · Wᵀ` (burn's `linear_x_backward`): `[rows, d_out]`, `[d_in, d_out]` → `[rows, d_in]`.
    fn dense_input_backward(weight: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `xᵀ · grad` (burn's `linear_weight_backward`): `[rows, d_in]`, `[rows, d_out]` → `[d_in, d_out]`.
    fn dense_weight_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
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
        let mut rng = super::dropout::take_mask_rng();
        let draw = |rng: &mut crate::rng::HostRng| super::dropout::draw_mask(rng, rows * cols, keep);
        #[cfg(not(target_arch = "wasm32"))]
        let (product, mask) = rayon::join(|| matmul(&x, &weight), || draw(&mut rng));
        #[cfg(target_arch = "wasm32")]
        let (product, mask) = (matmul(&x, &weight), draw(&mut rng));
        super::dropout::put_back_mask_rng(rng);
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

    fn selu_dropout_backward(selu_output: FlexTensor, mask: FlexTensor, grad: FlexTensor) -> FlexTensor {
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

    fn dense_input_backward(weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        // burn's `linear_x_backward`: `grad · Wᵀ`, Wᵀ a transposed view.
        matmul(&grad, &weight.transpose(0, 1))
    }

    fn dense_weight_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        // burn's `linear_weight_backward`: `xᵀ · grad`, xᵀ a transposed view.
        matmul(&x.transpose(0, 1), &grad)
    }
}

/// Values a pass takes on one thread before it is split over the pool's threads (native builds).
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_ELEMENTS: usize = 1 << 16;
/// Values per task of a split pass (native builds).
#[cfg(not(target_arch = "wasm32"))]
const PARALLEL_CHUNK: usize = 1 << 14;

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
                // The gradient of `x·W + b`; from there on the products of burn's `Linear`
                // backward and its bias gradient.
                let grad = B::selu_dropout_backward(selu, mask, grad);
                if let Some(node) = node_x {
                    grads.register::<B>(node.id, B::dense_input_backward(weight.expect("checkpointed"), grad.clone()));
                }
                if let Some(node) = node_weight {
                    grads.register::<B>(node.id, B::dense_weight_backward(x.expect("checkpointed"), grad.clone()));
                }
                if let Some(node) = node_bias {
                    grads.register::<B>(node.id, B::linear_bias_backward(grad));
                }
            }
        }

        let (x_tracked, weight_tracked) = (x.is_tracked(), weight.is_tracked());
        match DenseSeluDropout.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = weight_tracked.then(|| prep.checkpoint(&x));
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
    fn dense_input_backward(_weight: FloatTensor<Self>, _grad: FloatTensor<Self>) -> FloatTensor<Self> {
        unreachable!("dense_input_backward runs on the inner backend")
    }

    /// Only backward passes call this, on the inner backend.
    fn dense_weight_backward(_x: FloatTensor<Self>, _grad: FloatTensor<Self>) -> FloatTensor<Self> {
        unreachable!("dense_weight_backward runs on the inner backend")
    }

    /// Only backward passes call this, on the inner backend; it is not differentiated again.
    fn selu_dropout_backward(
        selu_output: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let g = B::selu_dropout_backward(selu_output.into_primitive(), mask.into_primitive(), grad.into_primitive());
        <FloatTensor<Self>>::new(g)
    }
}

/// Binary cross-entropy on logits as one operation.
#[backend_extension(Flex, Autodiff)]
pub trait BceOps: Backend {
    /// Element-wise `max(z, 0) − z·t + ln(1 + e^−|z|)` of `logits` `z` and `targets` `t` (same
    /// shapes). The targets are constants: no gradient flows to them.
    fn bce_with_logits(logits: FloatTensor<Self>, targets: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `grad · (σ(z) − t)`.
    fn bce_with_logits_backward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Element-wise BCE on logits, `[.., ..]` → same shape; flex devices only.
pub(crate) fn bce_with_logits_flex<const D: usize>(logits: Tensor<D>, targets: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as BceOps>::bce_with_logits(logits.into_dispatch(), targets.into_dispatch()))
}

impl BceOps for Flex {
    fn bce_with_logits(logits: FlexTensor, targets: FlexTensor) -> FlexTensor {
        binary_op(
            logits,
            targets,
            |z: f32, t: f32| z.max(0.0) - z * t + (-z.abs()).exp().ln_1p(),
            |z: f64, t: f64| z.max(0.0) - z * t + (-z.abs()).exp().ln_1p(),
            None,
        )
    }

    fn bce_with_logits_backward(logits: FlexTensor, targets: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let n = grad.layout().num_elements();
        let (logits, targets, mut grad) = (dense(logits), dense(targets), dense(grad));
        let (z, t) = (&logits.storage::<f32>()[..n], &targets.storage::<f32>()[..n]);
        for ((g, &z), &t) in grad.storage_mut::<f32>()[..n].iter_mut().zip(z).zip(t) {
            let e = (-z.abs()).exp();
            let sigmoid = if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
            *g *= sigmoid - t;
        }
        grad
    }
}

impl<B: Backend + BceOps, C: CheckpointStrategy> BceOps for Autodiff<B, C> {
    fn bce_with_logits(logits: FloatTensor<Self>, targets: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Bce;

        impl<B: Backend + BceOps> Backward<B, 1> for Bce {
            /// Logits and targets.
            type State = (FloatTensor<B>, FloatTensor<B>);

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
                let (logits, targets) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::bce_with_logits_backward(logits, targets, grad));
            }
        }

        let (z, node) = logits.into_parts();
        let t = targets.into_primitive();
        let loss = B::bce_with_logits(z.clone(), t.clone());
        match Bce.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((z, t), loss),
            OpsKind::UnTracked(prep) => prep.finish(loss),
        }
    }

    /// Only backward passes call this, on the inner backend; it is not differentiated again.
    fn bce_with_logits_backward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let g = B::bce_with_logits_backward(logits.into_primitive(), targets.into_primitive(), grad.into_primitive());
        <FloatTensor<Self>>::new(g)
    }
}

/// Adam's update of one parameter tensor in one pass.
#[backend_extension(Flex)]
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

/// A contiguous tensor from offset 0 (a copy only when the layout needs one).
fn dense(t: FlexTensor) -> FlexTensor {
    let layout = t.layout();
    if layout.is_contiguous() && layout.start_offset() == 0 { t } else { t.to_contiguous() }
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

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn fused_selu_matches_the_composite_forward_and_backward() {
        let ad = Device::flex().autodiff();
        ad.seed(3);
        let x = Tensor::<2>::random([64, 9], Distribution::Normal(0.0, 2.0), &ad).require_grad();
        let weights = Tensor::<2>::random([64, 9], Distribution::Uniform(-1.0, 1.0), &ad);
        let fused = selu_flex(x.clone());
        let composite = crate::model::mlp::selu_composite(x.clone());
        for (a, b) in values(fused.clone()).iter().zip(values(composite.clone())) {
            assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{a} vs {b}");
        }
        let g_fused = x.grad(&(fused * weights.clone()).sum().backward()).unwrap();
        let g_composite = x.grad(&(composite * weights).sum().backward()).unwrap();
        for (a, b) in values(g_fused).iter().zip(values(g_composite)) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
        // Without autodiff the same kernel runs directly.
        let plain = Tensor::<1>::from_floats([-1.0, 0.0, 2.0], &Device::flex());
        let y = values(selu_flex(plain));
        assert!((y[0] + 1.111_330_7).abs() < 1e-5 && y[1] == 0.0 && (y[2] - 2.101_402).abs() < 1e-5, "{y:?}");
    }

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

    #[test]
    fn fused_bce_matches_the_composite_forward_and_backward() {
        let ad = Device::flex().autodiff();
        ad.seed(4);
        let z = Tensor::<2>::random([50, 1], Distribution::Normal(0.0, 6.0), &ad).require_grad();
        let t = Tensor::<2>::random([50, 1], Distribution::Uniform(0.0, 1.0), &ad).round();
        let composite = |z: Tensor<2>, t: Tensor<2>| {
            let relu = burn::tensor::activation::relu(z.clone());
            relu - z.clone() * t + z.abs().neg().exp().log1p()
        };
        let fused = bce_with_logits_flex(z.clone(), t.clone());
        let reference = composite(z.clone(), t.clone());
        for (a, b) in values(fused.clone()).iter().zip(values(reference.clone())) {
            assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{a} vs {b}");
        }
        let g_fused = z.grad(&fused.mean().backward()).unwrap();
        let g_reference = z.grad(&reference.mean().backward()).unwrap();
        for (a, b) in values(g_fused).iter().zip(values(g_reference)) {
            assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn fast_exp_is_within_two_ulp_of_exp() {
        let mut x = -90.0f32;
        while x <= 0.0 {
            let (a, b) = (exp_non_positive(x), x.max(-87.0).exp());
            assert!((a - b).abs() <= 2.5e-7 * b, "{x}: {a} vs {b}");
            x += 0.001_3;
        }
        assert_eq!(exp_non_positive(0.0), 1.0);
    }

    #[test]
    fn fused_adam_gives_burns_adam_updates() {
        let ad = Device::flex().autodiff();
        ad.seed(5);
        // (The second layer's 90,000 weights take the pass split over threads.)
        for (d_in, d_out) in [(7, 4), (300, 300)] {
            let start = LinearConfig::new(d_in, d_out).init(&ad);
            let config = AdamConfig::new().with_epsilon(1e-7);
            let mut burn_adam = config.init();
            let mut fused: ModuleOptimizer = FusedAdam { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }.into();
            let (mut a, mut b) = (start.clone(), start);
            for step in 0..5 {
                let x = Tensor::<2>::random([16, d_in], Distribution::Normal(0.0, 1.0), &ad);
                let ga = GradientsParams::from_grads(a.forward(x.clone()).square().mean().backward(), &a);
                let gb = GradientsParams::from_grads(b.forward(x).square().mean().backward(), &b);
                a = burn_adam.step(1e-2, a, ga);
                b = fused.step(1e-2, b, gb);
                let (wa, wb) = (values(a.weight.val()), values(b.weight.val()));
                for (p, q) in wa.iter().zip(&wb) {
                    assert!((p - q).abs() <= 1e-6, "{d_in}×{d_out}, step {step}: {p} vs {q}");
                }
            }
            assert_eq!(a.num_params(), b.num_params());
        }
    }
}
