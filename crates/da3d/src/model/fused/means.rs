//! A loss's means as one operation on burn's GPU backends (the `wgpu` feature, without burn's
//! kernel fusion): `Σ_g w_g · mean(group g)` of a network's outputs in up to three consecutive,
//! equal groups of rows, in one launch forward (one cube) and one backward. As composites a mean
//! costs two reduction launches forward and three backward, and a difference of the means of two
//! halves (the latent discriminator's loss) some twenty with the slices' and the sum's backward.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::tensor::{DType, Tensor as BurnTensor};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::spectral::cube_sum;
use super::{empty_like, empty_on, grid};

/// Units of the forward pass' one cube.
const UNITS: u32 = 256;

/// The weight of value `i` in the sum: `scale_g = w_g / group_len` of its group `g = i / group_len`
/// (groups past the third take the third's).
#[cube]
fn group_scale(i: usize, group_len: u32, scale_0: f32, scale_1: f32, scale_2: f32) -> f32 {
    let g = i / group_len as usize;
    let mut s = scale_0;
    if g == 1 {
        s = scale_1;
    }
    if g >= 2 {
        s = scale_2;
    }
    s
}

/// `Σ_i x_i · scale_{g(i)}` in one cube, into `output[0]`.
#[cube(launch)]
fn group_means_kernel(x: &Tensor<f32>, output: &mut Tensor<f32>, group_len: u32, scale_0: f32, scale_1: f32, scale_2: f32) {
    let t = UNIT_POS_X as usize;
    let step = CUBE_DIM_X as usize;
    let mut partial = Shared::<[f32]>::new_slice(UNITS as usize);
    let mut part = 0.0f32;
    let mut i = t;
    while i < x.len() {
        part += x[i] * group_scale(i, group_len, scale_0, scale_1, scale_2);
        i += step;
    }
    let total = cube_sum(part, &mut partial);
    if t == 0 {
        output[0] = total;
    }
}

/// `grad[0] · scale_{g(i)}`, one value per unit.
#[cube(launch)]
fn group_means_backward_kernel(grad: &Tensor<f32>, output: &mut Tensor<f32>, group_len: u32, scale_0: f32, scale_1: f32, scale_2: f32) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    output[i] = grad[0] * group_scale(i, group_len, scale_0, scale_1, scale_2);
}

/// The weighted means of consecutive groups as one operation (see [`group_means`]).
#[backend_extension(Autodiff, Cube)]
pub trait GroupMeansOps: Backend {
    /// `Σ_g w_g · mean(x's values in group g)`, `groups` (1 to 3) consecutive equal groups of
    /// `x`'s values in row-major order, weights `w_0..w_{groups−1}` → `[1]`.
    fn group_means(x: FloatTensor<Self>, groups: usize, w_0: f32, w_1: f32, w_2: f32) -> FloatTensor<Self>;
    /// `x`'s gradient (`like`'s shape) from the sum's `[1]`.
    fn group_means_backward(like: FloatTensor<Self>, grad: FloatTensor<Self>, groups: usize, w_0: f32, w_1: f32, w_2: f32) -> FloatTensor<Self>;
}

/// Values per group, and each group's `w_g / len` (the kernels' constants).
fn scales(n: usize, groups: usize, w: [f32; 3]) -> (u32, [f32; 3]) {
    assert!((1..=3).contains(&groups) && n.is_multiple_of(groups) && n > 0, "{n} values in {groups} equal groups");
    let len = n / groups;
    (len as u32, w.map(|w| w / len as f32))
}

impl GroupMeansOps for CubeBackend {
    fn group_means(x: CubeTensor, groups: usize, w_0: f32, w_1: f32, w_2: f32) -> CubeTensor {
        let x = into_contiguous(x);
        assert_eq!(x.dtype, DType::F32, "the model crate's GPU kernels compute in f32");
        let (len, [s_0, s_1, s_2]) = scales(x.meta.num_elements(), groups, [w_0, w_1, w_2]);
        let output = empty_on(&x, &[1]);
        let client = x.client.clone();
        group_means_kernel::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(UNITS),
            x.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            len,
            s_0,
            s_1,
            s_2,
        );
        output
    }

    fn group_means_backward(like: CubeTensor, grad: CubeTensor, groups: usize, w_0: f32, w_1: f32, w_2: f32) -> CubeTensor {
        let grad = into_contiguous(grad);
        let (len, [s_0, s_1, s_2]) = scales(like.meta.num_elements(), groups, [w_0, w_1, w_2]);
        let output = empty_like(&like);
        let (cube_count, cube_dim) = grid(&output);
        group_means_backward_kernel::launch(
            &grad.client.clone(),
            cube_count,
            cube_dim,
            grad.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            len,
            s_0,
            s_1,
            s_2,
        );
        output
    }
}

impl<B: Backend + GroupMeansOps, C: CheckpointStrategy> GroupMeansOps for Autodiff<B, C> {
    fn group_means(x: FloatTensor<Self>, groups: usize, w_0: f32, w_1: f32, w_2: f32) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct GroupMeans {
            groups: usize,
            weights: [f32; 3],
        }

        impl<B: Backend + GroupMeansOps> Backward<B, 1> for GroupMeans {
            /// The input (for its shape).
            type State = FloatTensor<B>;

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
                let like = ops.state;
                let [w_0, w_1, w_2] = self.weights;
                let groups = self.groups;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::group_means_backward(like, grad, groups, w_0, w_1, w_2));
            }
        }

        let (x, node) = x.into_parts();
        let sum = B::group_means(x.clone(), groups, w_0, w_1, w_2);
        match (GroupMeans { groups, weights: [w_0, w_1, w_2] }).prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(x, sum),
            OpsKind::UnTracked(prep) => prep.finish(sum),
        }
    }

    /// Only backward passes call this, on the inner backend.
    fn group_means_backward(
        _like: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _groups: usize,
        _w_0: f32,
        _w_1: f32,
        _w_2: f32,
    ) -> FloatTensor<Self> {
        unreachable!("group_means_backward runs on the inner backend")
    }
}

/// `Σ_g weights[g] · mean(group g)` of `x`'s values in `weights.len()` (1 to 3) consecutive equal
/// groups (row blocks of a `[rows, cols]` output) → `[1]`, on a GPU device with the model crate's
/// kernels; its gradient flows to `x`.
pub(crate) fn group_means<const D: usize>(x: BurnTensor<D>, weights: &[f32]) -> BurnTensor<1> {
    let mut w = [0.0f32; 3];
    w[..weights.len()].copy_from_slice(weights);
    BurnTensor::from_dispatch(<Dispatch as GroupMeansOps>::group_means(x.into_dispatch(), weights.len(), w[0], w[1], w[2]))
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::model::fused::{assert_close, test_wgpu_device, values};

    /// The kernels against the composites on the CPU (slices, means, their weighted sum): the value
    /// and `x`'s gradient, for one, two and three groups of a critic-like `[3·b, 1]` output and a
    /// `[b, d]` loss matrix larger than the cube.
    #[test]
    fn group_means_match_the_composite_on_the_cpu() {
        let Some(gpu) = test_wgpu_device() else { return };
        let cpu = Device::flex();
        cpu.seed(8);
        for (shape, weights) in [([300, 7], vec![1.0f32]), ([512, 1], vec![-1.0, 1.0]), ([768, 1], vec![1.0, 1.0, -2.0]), ([3, 1], vec![0.5, 2.0, -1.0])] {
            let x = Tensor::<2>::random(shape, Distribution::Normal(0.0, 3.0), &cpu);
            let upstream = 1.7f32;
            let mut results = Vec::new();
            for (on_cpu, device) in [(true, cpu.clone().autodiff()), (false, gpu.clone().autodiff())] {
                let x = Tensor::<2>::from_data(x.to_data(), &device).require_grad();
                let value = if on_cpu {
                    let rows = shape[0] / weights.len();
                    let mut total: Option<Tensor<1>> = None;
                    for (g, &w) in weights.iter().enumerate() {
                        let term = x.clone().slice([g * rows..(g + 1) * rows]).mean().mul_scalar(w);
                        total = Some(match total { Some(t) => t + term, None => term });
                    }
                    total.unwrap()
                } else {
                    group_means(x.clone(), &weights)
                };
                let g = value.clone().mul_scalar(upstream).backward();
                results.push((values(value.inner()), values(x.grad(&g).unwrap())));
            }
            let what = format!("{shape:?} {weights:?}");
            assert_close(&results[0].0, &results[1].0, &format!("value {what}"));
            assert_close(&results[0].1, &results[1].1, &format!("gradient {what}"));
        }
    }
}
