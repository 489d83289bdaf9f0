//! SELU as one operation on the CPU backend, forward and backward.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::flex::ops::binary::binary_op;
use burn::backend::flex::ops::unary::unary_op;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::{DType, Tensor};

/// SELU's α and γ (Klambauer et al. 2017).
pub(crate) const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
pub(crate) const SELU_GAMMA: f64 = 1.050_700_987_355_480_5;

/// SELU in one pass (and one backward pass under autodiff). Flex devices only.
pub(crate) fn selu_flex<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as SeluOps>::selu(x.into_dispatch()))
}

/// SELU as one operation.
#[backend_extension(Flex, Autodiff, Cube: cfg(all(feature = "wgpu", not(feature = "fusion"))))]
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
pub(super) fn selu_f32(v: f32) -> f32 {
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

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    use crate::model::fused::values;

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
}
