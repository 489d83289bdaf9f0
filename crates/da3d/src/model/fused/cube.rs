//! The fused layers on burn's GPU backends (cubecl: wgpu, WebGPU; the `wgpu` feature, without
//! burn's kernel fusion): a hidden layer's bias, SELU and dropout in one kernel after its product,
//! their backward in one, and SELU alone in one each way. burn's composites launch a kernel per
//! operation (SELU nine forward and nine backward, dropout three), and on a GPU a step costs what
//! it launches (docs/performance.md, "Kernel launches per step").
//!
//! The dropout mask is drawn inside the kernel by hashing each value's index with a seed that
//! the host mask generator (`cpu::take_mask_rng`, seeded by the trainer and kept in checkpoints)
//! gives each layer call: the same masks for the same seed, and no mask upload. The numbers are
//! the CPU's within float tolerance, not its bits (another generator, the device's `exp`).

use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::tensor::{DType, Tensor as BurnTensor};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::{calculate_cube_count_elemwise, prelude::*};

use super::dense::DenseSeluOps;
use super::selu::{SELU_ALPHA, SELU_GAMMA, SeluOps};
use crate::model::cpu::{put_back_mask_rng, take_mask_rng};

/// `selu(product + bias)` (bias broadcast over the rows), the mask from the seed, and the
/// output `selu · mask`; one value per unit.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn bias_selu_dropout_kernel(
    product: &Tensor<f32>,
    bias: &Tensor<f32>,
    output: &mut Tensor<f32>,
    selu_output: &mut Tensor<f32>,
    mask: &mut Tensor<f32>,
    seed_low: u32,
    seed_high: u32,
    keep: f32,
    scale: f32,
    gamma: f32,
    gamma_alpha: f32,
) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    let s = product[i] + bias[i % bias.len()];
    let mut y = gamma * s;
    if s <= 0.0f32 {
        y = gamma_alpha * (f32::exp(s) - 1.0f32);
    }
    // murmur3's finaliser of the index and the seed: 24 uniform bits.
    let mut h = u32::cast_from(i) * 0x9E37_79B1u32 + seed_low;
    h ^= h >> 16u32;
    h *= 0x85EB_CA6Bu32;
    h ^= seed_high;
    h ^= h >> 13u32;
    h *= 0xC2B2_AE35u32;
    h ^= h >> 16u32;
    let u = f32::cast_from(h >> 8u32) * (1.0f32 / 16_777_216.0f32);
    let mut m = 0.0f32;
    if u < keep {
        m = scale;
    }
    selu_output[i] = y;
    mask[i] = m;
    output[i] = y * m;
}

/// The gradient of `product + bias` from SELU's output `y`, the mask and the output gradient:
/// `(grad · mask) · γ` where `y > 0`, else `(grad · mask) · (y + γα)`.
#[cube(launch)]
fn selu_dropout_backward_kernel(
    selu_output: &Tensor<f32>,
    mask: &Tensor<f32>,
    grad: &Tensor<f32>,
    output: &mut Tensor<f32>,
    gamma: f32,
    gamma_alpha: f32,
) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    let y = selu_output[i];
    let g = grad[i] * mask[i];
    let mut d = g * gamma;
    if y <= 0.0f32 {
        d = g * (y + gamma_alpha);
    }
    output[i] = d;
}

/// SELU forward: `γ·x` for `x > 0`, `γα·(eˣ − 1)` otherwise.
#[cube(launch)]
fn selu_kernel(input: &Tensor<f32>, output: &mut Tensor<f32>, gamma: f32, gamma_alpha: f32) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    let s = input[i];
    let mut y = gamma * s;
    if s <= 0.0f32 {
        y = gamma_alpha * (f32::exp(s) - 1.0f32);
    }
    output[i] = y;
}

/// SELU backward from its output: `grad · γ` where `y > 0`, else `grad · (y + γα)`.
#[cube(launch)]
fn selu_backward_kernel(selu_output: &Tensor<f32>, grad: &Tensor<f32>, output: &mut Tensor<f32>, gamma: f32, gamma_alpha: f32) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    let y = selu_output[i];
    let g = grad[i];
    let mut d = g * gamma;
    if y <= 0.0f32 {
        d = g * (y + gamma_alpha);
    }
    output[i] = d;
}

/// Units of the power iteration's one cube.
const POWER_UNITS: u32 = 256;
/// The widest weight the power iteration holds in shared memory (its two vectors and the
/// partial sums within WebGPU's 16 KiB of workgroup storage); wider ones take the composite.
pub(crate) const POWER_MAX_WIDTH: usize = 1792;

/// `spectral_norm`'s power iteration on a row-major `[d_in, d_out]` weight in one cube: from
/// `u = unit(1)`, `v = unit(W·u)`, then `iterations − 1` times `u = unit(Wᵀ·v)`, `v = unit(W·u)`,
/// and last `u = unit(Wᵀ·v)` (`unit(x) = x / (‖x‖ + 1e-12)`), the vectors in shared memory.
#[cube(launch)]
fn power_iteration_kernel(
    weight: &Tensor<f32>,
    u_out: &mut Tensor<f32>,
    v_out: &mut Tensor<f32>,
    #[comptime] width: usize,
    #[comptime] iterations: usize,
) {
    let d_in = v_out.len();
    let d_out = u_out.len();
    let t = UNIT_POS_X as usize;
    let step = CUBE_DIM_X as usize;
    let mut u = Shared::<[f32]>::new_slice(width);
    let mut v = Shared::<[f32]>::new_slice(width);
    let mut partial = Shared::<[f32]>::new_slice(256usize);
    let start = 1.0f32 / (f32::sqrt(f32::cast_from(d_out)) + 1e-12f32);
    let mut j = t;
    while j < d_out {
        u[j] = start;
        j += step;
    }
    sync_cube();
    for k in 0..2 * iterations {
        let mut squares = 0.0f32;
        if k % 2 == 0 {
            // v = W·u
            let mut i = t;
            while i < d_in {
                let mut sum = 0.0f32;
                for c in 0..d_out {
                    sum += weight[i * d_out + c] * u[c];
                }
                v[i] = sum;
                squares += sum * sum;
                i += step;
            }
        } else {
            // u = Wᵀ·v
            let mut c = t;
            while c < d_out {
                let mut sum = 0.0f32;
                for i in 0..d_in {
                    sum += weight[i * d_out + c] * v[i];
                }
                u[c] = sum;
                squares += sum * sum;
                c += step;
            }
        }
        partial[t] = squares;
        sync_cube();
        let mut total = 0.0f32;
        for p in 0..step {
            total += partial[p];
        }
        let norm = f32::sqrt(total) + 1e-12f32;
        if k % 2 == 0 {
            let mut i = t;
            while i < d_in {
                v[i] /= norm;
                i += step;
            }
        } else {
            let mut c = t;
            while c < d_out {
                u[c] /= norm;
                c += step;
            }
        }
        sync_cube();
    }
    let mut c = t;
    while c < d_out {
        u_out[c] = u[c];
        c += step;
    }
    let mut i = t;
    while i < d_in {
        v_out[i] = v[i];
        i += step;
    }
}

/// The power iteration of `spectral_norm` in one launch (`[d_in, d_out]` → unit `u` `[d_out, 1]`
/// and `v` `[d_in, 1]`), on weights at most [`POWER_MAX_WIDTH`] wide.
pub(crate) fn power_iteration(weight: CubeTensor, iterations: usize) -> (CubeTensor, CubeTensor) {
    let weight = into_contiguous(weight);
    assert_eq!(weight.dtype, DType::F32, "the power iteration computes in f32");
    let (d_in, d_out) = (weight.meta.shape()[0], weight.meta.shape()[1]);
    assert!(d_in.max(d_out) <= POWER_MAX_WIDTH, "a {d_in}×{d_out} weight is wider than the kernel holds");
    let (client, device) = (weight.client.clone(), weight.device.clone());
    let column = |n: usize| empty_device_contiguous_dtype(client.clone(), device.clone(), [n, 1].into(), DType::F32);
    let (u, v) = (column(d_out), column(d_in));
    power_iteration_kernel::launch(
        &client,
        CubeCount::Static(1, 1, 1),
        CubeDim::new_1d(POWER_UNITS),
        weight.into_tensor_arg(),
        u.clone().into_tensor_arg(),
        v.clone().into_tensor_arg(),
        d_in.max(d_out),
        iterations,
    );
    (u, v)
}

/// The power iteration as a backend operation (no gradient: the weight comes detached).
#[backend_extension(Cube)]
pub trait PowerIterationOps: Backend {
    /// Unit `u` `[d_out, 1]` and `v` `[d_in, 1]` of a `[d_in, d_out]` weight (see [`power_iteration`]).
    fn power_iteration(weight: FloatTensor<Self>, iterations: usize) -> (FloatTensor<Self>, FloatTensor<Self>);
}

impl PowerIterationOps for CubeBackend {
    fn power_iteration(weight: CubeTensor, iterations: usize) -> (CubeTensor, CubeTensor) {
        power_iteration(weight, iterations)
    }
}

/// `spectral_norm`'s power iteration in one launch on a GPU device: unit `u` (`[d_out, 1]`) and
/// `v` (`[d_in, 1]`) of `weight` (`[d_in, d_out]`, at most [`POWER_MAX_WIDTH`] wide), as tensors
/// without autodiff (constants to the product that follows).
pub(crate) fn power_iteration_tensors(weight: BurnTensor<2>, iterations: usize) -> (BurnTensor<2>, BurnTensor<2>) {
    let (u, v) = <Dispatch as PowerIterationOps>::power_iteration(weight.inner().into_dispatch(), iterations);
    (BurnTensor::from_dispatch(u), BurnTensor::from_dispatch(v))
}

/// A new contiguous f32 tensor shaped like `like` (an f32 tensor: the GPU kernels compute in f32).
pub(crate) fn empty_like(like: &CubeTensor) -> CubeTensor {
    assert_eq!(like.dtype, DType::F32, "the model crate's GPU kernels compute in f32");
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), like.meta.shape().clone(), DType::F32)
}

/// The launch grid of an element-wise kernel over `like`: one unit per value.
pub(crate) fn grid(like: &CubeTensor) -> (CubeCount, CubeDim) {
    let n = like.meta.num_elements();
    let cube_dim = CubeDim::new(&like.client, n);
    (calculate_cube_count_elemwise(&like.client, n, cube_dim), cube_dim)
}

/// SELU's `γ` and `γα` in f32, as the CPU's pass rounds them.
const GAMMA: f32 = SELU_GAMMA as f32;
const GAMMA_ALPHA: f32 = (SELU_ALPHA * SELU_GAMMA) as f32;

impl DenseSeluOps for CubeBackend {
    fn dense_selu_dropout(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, keep: f64) -> CubeTensor {
        Self::dense_selu_dropout_parts(x, weight, bias, keep).0
    }

    fn dense_selu_dropout_parts(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, keep: f64) -> (CubeTensor, CubeTensor, CubeTensor) {
        let product = into_contiguous(Self::float_matmul(x, weight));
        let bias = into_contiguous(bias);
        let mut rng = take_mask_rng();
        let seed = rng.next_u64();
        put_back_mask_rng(rng);
        let (output, selu_output, mask) = (empty_like(&product), empty_like(&product), empty_like(&product));
        let (cube_count, cube_dim) = grid(&product);
        let client = product.client.clone();
        bias_selu_dropout_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            product.into_tensor_arg(),
            bias.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            selu_output.clone().into_tensor_arg(),
            mask.clone().into_tensor_arg(),
            seed as u32,
            (seed >> 32) as u32,
            keep as f32,
            (1.0 / keep) as f32,
            GAMMA,
            GAMMA_ALPHA,
        );
        (output, selu_output, mask)
    }

    fn selu_dropout_backward(selu_output: CubeTensor, mask: CubeTensor, grad: CubeTensor) -> CubeTensor {
        let (selu_output, mask, grad) = (into_contiguous(selu_output), into_contiguous(mask), into_contiguous(grad));
        let (output, (cube_count, cube_dim)) = (empty_like(&grad), grid(&grad));
        let client = grad.client.clone();
        selu_dropout_backward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            selu_output.into_tensor_arg(),
            mask.into_tensor_arg(),
            grad.into_tensor_arg(),
            output.clone().into_tensor_arg(),
            GAMMA,
            GAMMA_ALPHA,
        );
        output
    }

    fn dense_input_backward(weight: CubeTensor, grad: CubeTensor) -> CubeTensor {
        Self::float_matmul(grad, Self::float_transpose(weight))
    }

    fn dense_weight_backward(x: CubeTensor, grad: CubeTensor) -> CubeTensor {
        Self::float_matmul(Self::float_transpose(x), grad)
    }
}

impl SeluOps for CubeBackend {
    fn selu(x: CubeTensor) -> CubeTensor {
        let x = into_contiguous(x);
        let (output, (cube_count, cube_dim)) = (empty_like(&x), grid(&x));
        let client = x.client.clone();
        selu_kernel::launch(&client, cube_count, cube_dim, x.into_tensor_arg(), output.clone().into_tensor_arg(), GAMMA, GAMMA_ALPHA);
        output
    }

    fn selu_backward(output: CubeTensor, grad: CubeTensor) -> CubeTensor {
        let (output, grad) = (into_contiguous(output), into_contiguous(grad));
        let (result, (cube_count, cube_dim)) = (empty_like(&grad), grid(&grad));
        let client = grad.client.clone();
        selu_backward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            output.into_tensor_arg(),
            grad.into_tensor_arg(),
            result.clone().into_tensor_arg(),
            GAMMA,
            GAMMA_ALPHA,
        );
        result
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    use crate::model::cpu::{on_cube_kernels, seed_dropout_masks};
    use crate::model::fused::{assert_close, dense_selu_dropout, selu_flex, test_wgpu_device, values};

    /// The same values on `device` (from the host, so both devices see the same numbers).
    fn on(t: &Tensor<2>, device: &Device) -> Tensor<2> {
        Tensor::from_data(t.to_data(), device)
    }

    /// A layer with no dropout (`keep` 1): the GPU kernels give the CPU's output and the CPU's
    /// gradients of the input, the weights and the bias, within float tolerance; SELU alone too.
    #[test]
    fn the_gpu_layer_gives_the_cpus_values_and_gradients() {
        let Some(gpu) = test_wgpu_device() else { return };
        assert!(on_cube_kernels(&gpu));
        let cpu = Device::flex();
        cpu.seed(3);
        for (rows, d_in, d_out) in [(5, 3, 4), (256, 77, 154)] {
            let x = Tensor::<2>::random([rows, d_in], Distribution::Normal(0.0, 1.0), &cpu);
            let w = Tensor::<2>::random([d_in, d_out], Distribution::Normal(0.0, 0.5), &cpu);
            let b = Tensor::<1>::random([d_out], Distribution::Normal(0.0, 0.5), &cpu);
            let mut grads = Vec::new();
            for device in [cpu.clone().autodiff(), gpu.clone().autodiff()] {
                let (x, w) = (on(&x, &device).require_grad(), on(&w, &device).require_grad());
                let b = Tensor::<1>::from_data(b.to_data(), &device).require_grad();
                let y = dense_selu_dropout(x.clone(), w.clone(), b.clone(), 1.0);
                let s = selu_flex(x.clone());
                let loss = (y.clone() * y.clone()).sum() + (s.clone() * s.clone() * s.clone()).sum();
                let g = loss.backward();
                grads.push([
                    values(y.inner()),
                    values(s.inner()),
                    values(x.grad(&g).unwrap()),
                    values(w.grad(&g).unwrap()),
                    b.grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap(),
                ]);
            }
            for (k, what) in ["output", "selu", "input gradient", "weight gradient", "bias gradient"].iter().enumerate() {
                assert_close(&grads[0][k], &grads[1][k], &format!("{rows}×{d_in}→{d_out} {what}"));
            }
        }
    }

    /// Dropout on the GPU: the kept share is `keep`, kept values are scaled by `1 / keep`, the
    /// gradient flows through kept values only, and the same mask seed gives the same mask.
    #[test]
    fn the_gpu_dropout_keeps_its_share_and_repeats_from_its_seed() {
        let Some(gpu) = test_wgpu_device() else { return };
        let device = gpu.autodiff();
        // Weights of one and a large bias: every SELU output is the product plus 5, positive.
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 1000 * 2], [1000, 2]), &device);
        let w = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 2 * 100], [2, 100]), &device).require_grad();
        let b = Tensor::<1>::from_data(TensorData::new(vec![5.0f32; 100], [100]), &device);
        let run = |seed| {
            seed_dropout_masks(seed);
            let y = dense_selu_dropout(x.clone(), w.clone(), b.clone(), 0.8);
            values(y.inner())
        };
        let (a, again, other) = (run(7), run(7), run(8));
        assert_eq!(a, again, "the same seed, the same mask");
        assert_ne!(a, other, "another seed, another mask");
        let selu_7 = 7.0 * super::GAMMA;
        let kept = a.iter().filter(|&&v| v != 0.0).count() as f64 / a.len() as f64;
        assert!((kept - 0.8).abs() < 0.01, "kept {kept}");
        assert!(a.iter().all(|&v| v == 0.0 || (v - selu_7 / 0.8).abs() < 1e-4), "kept values are selu / keep");
        // Consecutive layers draw different masks from the generator.
        seed_dropout_masks(7);
        let first = values(dense_selu_dropout(x.clone(), w.clone(), b.clone(), 0.8).inner());
        let second = values(dense_selu_dropout(x.clone(), w.clone(), b.clone(), 0.8).inner());
        assert_ne!(first, second);
    }
}
