//! Binary cross-entropy on logits as one operation, loss and gradient: a pass on the CPU
//! backend, a kernel launch on burn's GPU backends (the `wgpu` feature, without burn's kernel
//! fusion) instead of some ten element-wise kernels each way.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::flex::ops::binary::binary_op;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

use super::dense;

/// Binary cross-entropy on logits as one operation.
#[backend_extension(Flex, Autodiff, Cube: cfg(all(feature = "wgpu", not(feature = "fusion"))))]
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

/// Element-wise BCE on logits, `[.., ..]` → same shape; the CPU backend and GPU devices with the
/// model crate's kernels only.
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

/// The kernels on burn's GPU backends: one launch each way.
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod cube {
    use burn_cubecl::CubeBackend;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::tensor::CubeTensor;
    use cubecl::prelude::*;

    use super::BceOps;
    use crate::model::fused::{empty_like, grid};

    /// `max(z, 0) − z·t + ln(1 + e^−|z|)`, one value per unit.
    #[cube(launch)]
    fn bce_kernel(logits: &Tensor<f32>, targets: &Tensor<f32>, output: &mut Tensor<f32>) {
        let i = ABSOLUTE_POS;
        if i >= output.len() {
            terminate!();
        }
        let (z, t) = (logits[i], targets[i]);
        output[i] = f32::max(z, 0.0f32) - z * t + f32::log1p(f32::exp(-f32::abs(z)));
    }

    /// `grad · (σ(z) − t)`, σ from `e^−|z|` on either side of zero (as the CPU pass).
    #[cube(launch)]
    fn bce_backward_kernel(logits: &Tensor<f32>, targets: &Tensor<f32>, grad: &Tensor<f32>, output: &mut Tensor<f32>) {
        let i = ABSOLUTE_POS;
        if i >= output.len() {
            terminate!();
        }
        let z = logits[i];
        let e = f32::exp(-f32::abs(z));
        let mut sigmoid = e / (1.0f32 + e);
        if z >= 0.0f32 {
            sigmoid = 1.0f32 / (1.0f32 + e);
        }
        output[i] = grad[i] * (sigmoid - targets[i]);
    }

    impl BceOps for CubeBackend {
        fn bce_with_logits(logits: CubeTensor, targets: CubeTensor) -> CubeTensor {
            let (logits, targets) = (into_contiguous(logits), into_contiguous(targets));
            let (output, (cube_count, cube_dim)) = (empty_like(&logits), grid(&logits));
            let client = logits.client.clone();
            bce_kernel::launch(
                &client,
                cube_count,
                cube_dim,
                logits.into_tensor_arg(),
                targets.into_tensor_arg(),
                output.clone().into_tensor_arg(),
            );
            output
        }

        fn bce_with_logits_backward(logits: CubeTensor, targets: CubeTensor, grad: CubeTensor) -> CubeTensor {
            let (logits, targets, grad) = (into_contiguous(logits), into_contiguous(targets), into_contiguous(grad));
            let (output, (cube_count, cube_dim)) = (empty_like(&grad), grid(&grad));
            let client = grad.client.clone();
            bce_backward_kernel::launch(
                &client,
                cube_count,
                cube_dim,
                logits.into_tensor_arg(),
                targets.into_tensor_arg(),
                grad.into_tensor_arg(),
                output.clone().into_tensor_arg(),
            );
            output
        }
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

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    use crate::model::fused::values;

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

    /// The GPU's kernels give the CPU pass's loss and gradient within float tolerance, for logits
    /// far on both sides of zero.
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    #[test]
    fn the_gpu_bce_gives_the_cpus_loss_and_gradient() {
        let Some(gpu) = crate::model::fused::test_wgpu_device() else { return };
        let cpu = Device::flex();
        cpu.seed(6);
        let z = Tensor::<2>::random([300, 7], Distribution::Normal(0.0, 6.0), &cpu);
        let t = Tensor::<2>::random([300, 7], Distribution::Uniform(0.0, 1.0), &cpu).round();
        let upstream = Tensor::<2>::random([300, 7], Distribution::Normal(0.0, 1.0), &cpu);
        let mut results = Vec::new();
        for device in [cpu.autodiff(), gpu.autodiff()] {
            let on = |x: &Tensor<2>| Tensor::<2>::from_data(x.to_data(), &device);
            let z = on(&z).require_grad();
            let loss = bce_with_logits_flex(z.clone(), on(&t));
            let g = (loss.clone() * on(&upstream)).sum().backward();
            results.push((values(loss.inner()), values(z.grad(&g).unwrap())));
        }
        crate::model::fused::assert_close(&results[0].0, &results[1].0, "loss");
        crate::model::fused::assert_close(&results[0].1, &results[1].1, "gradient");
    }
}
