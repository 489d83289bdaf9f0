//! A linear layer `x·W + b` without an activation (a network's output layer) on burn's GPU
//! backends (the `wgpu` feature, without burn's kernel fusion) as one operation: the hidden
//! layers' kernels (`cube`) without SELU and dropout, the tiled product and the bias in one
//! launch, the input's gradient in one and the weight's and the bias' together in one (burn's
//! `Linear`: a product and a broadcast addition forward, two products and a sum backward).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;
use burn_cubecl::CubeBackend;
use burn_cubecl::tensor::CubeTensor;

use super::cube::{layer_forward, layer_input_backward, layer_parameters_backward};

/// A linear layer as one operation each way.
#[backend_extension(Autodiff, Cube)]
pub trait DenseLinearOps: Backend {
    /// `x·W + b`: `x` `[rows, d_in]`, `weight` `[d_in, d_out]`, `bias` `[d_out]` → `[rows, d_out]`.
    fn dense_linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `G·Wᵀ` from the output's gradient `G` (`[rows, d_in]`).
    fn dense_linear_input_backward(weight: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `xᵀ·G` and `Σ_rows G` (`[d_in, d_out]`, `[d_out]`).
    fn dense_linear_parameters_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);
}

impl DenseLinearOps for CubeBackend {
    fn dense_linear(x: CubeTensor, weight: CubeTensor, bias: CubeTensor) -> CubeTensor {
        layer_forward(x, weight, bias, None).0
    }

    fn dense_linear_input_backward(weight: CubeTensor, grad: CubeTensor) -> CubeTensor {
        layer_input_backward(weight, grad, None)
    }

    fn dense_linear_parameters_backward(x: CubeTensor, grad: CubeTensor) -> (CubeTensor, CubeTensor) {
        layer_parameters_backward(x, grad, None)
    }
}

impl<B: Backend + DenseLinearOps, C: CheckpointStrategy> DenseLinearOps for Autodiff<B, C> {
    fn dense_linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct DenseLinear;

        impl<B: Backend + DenseLinearOps> Backward<B, 3> for DenseLinear {
            /// The input where the parameters need gradients, the weight where the input does.
            type State = (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
                let [node_x, node_weight, node_bias] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, weight) = ops.state;
                if let Some(node) = node_x {
                    grads.register::<B>(node.id, B::dense_linear_input_backward(weight.expect("kept"), grad.clone()));
                }
                if node_weight.is_some() || node_bias.is_some() {
                    let (dw, db) = B::dense_linear_parameters_backward(x.expect("kept"), grad);
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
        let state = (parameters_tracked.then(|| x.primitive().clone()), x_tracked.then(|| weight.primitive().clone()));
        match DenseLinear.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                prep.finish(state, B::dense_linear(x.into_primitive(), weight.into_primitive(), bias.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::dense_linear(x.into_primitive(), weight.into_primitive(), bias.into_primitive())),
        }
    }

    /// Only backward passes call this, on the inner backend.
    fn dense_linear_input_backward(_weight: FloatTensor<Self>, _grad: FloatTensor<Self>) -> FloatTensor<Self> {
        unreachable!("dense_linear_input_backward runs on the inner backend")
    }

    /// Only backward passes call this, on the inner backend.
    fn dense_linear_parameters_backward(_x: FloatTensor<Self>, _grad: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("dense_linear_parameters_backward runs on the inner backend")
    }
}

/// `x·W + b` (`[rows, d_in]` → `[rows, d_out]`) as one operation each way on a GPU device with
/// the model crate's kernels; the gradients burn's `Linear` gives, within float tolerance.
pub(crate) fn dense_linear(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as DenseLinearOps>::dense_linear(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, Distribution, Tensor};

    use crate::model::fused::{assert_close, test_wgpu_device, values};

    /// The GPU's linear layer (one launch forward, the input's gradient in one, the parameters'
    /// in one) gives burn's `Linear` on the CPU: the output and the gradients of the input, the
    /// weight and the bias within float tolerance, at shapes below, across and far from the
    /// tiles' 16, with the input, the parameters or both tracked.
    #[test]
    fn the_gpu_linear_layer_gives_burns_linear_on_the_cpu() {
        let Some(gpu) = test_wgpu_device() else { return };
        let cpu = Device::flex();
        cpu.seed(4);
        for (rows, d_in, d_out) in [(5, 3, 4), (256, 77, 154), (300, 200, 33)] {
            let x = Tensor::<2>::random([rows, d_in], Distribution::Normal(0.0, 1.0), &cpu);
            let layer = LinearConfig::new(d_in, d_out).init(&cpu);
            let b = Tensor::<1>::random([d_out], Distribution::Normal(0.0, 0.5), &cpu);
            let upstream = Tensor::<2>::random([rows, d_out], Distribution::Normal(0.0, 1.0), &cpu);
            for (x_tracked, parameters_tracked) in [(true, true), (true, false), (false, true)] {
                let mut results = Vec::new();
                for device in [cpu.clone().autodiff(), gpu.clone().autodiff()] {
                    let x = Tensor::<2>::from_data(x.to_data(), &device);
                    let x = if x_tracked { x.require_grad() } else { x };
                    let w = Tensor::<2>::from_data(layer.weight.val().to_data(), &device);
                    let bias = Tensor::<1>::from_data(b.to_data(), &device);
                    let (w, bias) = if parameters_tracked { (w.require_grad(), bias.require_grad()) } else { (w, bias) };
                    let y = if crate::model::cpu::on_flex(&device) {
                        let linear = Linear { weight: Param::from_tensor(w.clone()), bias: Some(Param::from_tensor(bias.clone())) };
                        linear.forward(x.clone())
                    } else {
                        super::dense_linear(x.clone(), w.clone(), bias.clone())
                    };
                    let g = (y.clone() * Tensor::from_data(upstream.to_data(), &device)).sum().backward();
                    let or_empty = |t: Option<Tensor<2>>| t.map(values).unwrap_or_default();
                    results.push([
                        values(y.inner()),
                        or_empty(x.grad(&g)),
                        or_empty(w.grad(&g)),
                        bias.grad(&g).map(|b| b.into_data().try_to_vec::<f32>().unwrap()).unwrap_or_default(),
                    ]);
                }
                let expected = [true, x_tracked, parameters_tracked, parameters_tracked];
                for (k, what) in ["output", "input gradient", "weight gradient", "bias gradient"].iter().enumerate() {
                    let case = format!("{rows}×{d_in}→{d_out} {what} (input tracked {x_tracked}, parameters {parameters_tracked})");
                    assert_eq!(results[1][k].is_empty(), !expected[k], "{case}");
                    assert_close(&results[0][k], &results[1][k], &case);
                }
            }
        }
    }
}
