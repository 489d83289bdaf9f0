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

use burn::tensor::DType;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::{calculate_cube_count_elemwise, prelude::*};

use super::dense::DenseSeluOps;
use super::selu::{SELU_ALPHA, SELU_GAMMA, SeluOps};
use crate::model::cpu::{put_back_mask_rng, take_mask_rng};

/// Rows and columns of a product tile: a cube of `TILE × TILE` units computes one tile of the
/// output from `TILE × TILE` tiles of its two factors in shared memory.
const TILE: usize = 16;

/// SELU: `γ·s` for `s > 0`, `γα·(eˢ − 1)` otherwise.
#[cube]
fn selu_value(s: f32, gamma: f32, gamma_alpha: f32) -> f32 {
    let mut y = gamma * s;
    if s <= 0.0f32 {
        y = gamma_alpha * (f32::exp(s) - 1.0f32);
    }
    y
}

/// The gradient of a layer's `x·W + b` at value `i` from the output gradient: with SELU and
/// dropout (`activate`), from SELU's output `y` and the mask, `(grad · mask) · γ` where `y > 0`,
/// else `(grad · mask) · (y + γα)`; without, the output gradient itself.
#[cube]
fn layer_grad(
    selu_output: &Tensor<f32>,
    mask: &Tensor<f32>,
    grad: &Tensor<f32>,
    i: usize,
    gamma: f32,
    gamma_alpha: f32,
    #[comptime] activate: bool,
) -> f32 {
    let mut d = grad[i];
    if activate {
        d = selu_grad(selu_output[i], d * mask[i], gamma, gamma_alpha);
    }
    d
}

/// SELU's backward from its output `y` and the output gradient `g`: `g · γ` where `y > 0`, else
/// `g · (y + γα)` (`y + γα = γα·eˣ` for `x ≤ 0`).
#[cube]
fn selu_grad(y: f32, g: f32, gamma: f32, gamma_alpha: f32) -> f32 {
    let mut d = g * gamma;
    if y <= 0.0f32 {
        d = g * (y + gamma_alpha);
    }
    d
}

/// One step of a tiled product: this unit's values of the two factors' tiles (`lhs` at its
/// row and the step's column `t·TILE + x`, `rhs` at the step's row `t·TILE + y` and its column;
/// zero outside the factors) into shared memory, then `sum + Σ_q a[y][q]·b[q][x]`. Every unit of
/// the cube takes every step (it synchronises the cube).
#[cube]
fn tile_step(lhs: f32, rhs: f32, a: &mut Shared<[f32]>, b: &mut Shared<[f32]>, sum: f32) -> f32 {
    let tx = UNIT_POS_X as usize;
    let ty = UNIT_POS_Y as usize;
    a[ty * TILE + tx] = lhs;
    b[ty * TILE + tx] = rhs;
    sync_cube();
    let mut total = sum;
    for q in 0..TILE {
        total += a[ty * TILE + q] * b[q * TILE + tx];
    }
    sync_cube();
    total
}

/// A layer's `x·W + b` by tiles (one cube per `TILE × TILE` output tile), then per value, with
/// SELU and dropout (`activate`), SELU, the mask hashed from the seed, and the three outputs (the
/// layer's, SELU's, the mask); without, the output alone (`selu_output` and `mask` untouched).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn dense_layer_kernel(
    x: &Tensor<f32>,
    weight: &Tensor<f32>,
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
    #[comptime] activate: bool,
) {
    let (rows, cols, inner) = (output.shape(0), output.shape(1), x.shape(1));
    let row = CUBE_POS_Y as usize * TILE + UNIT_POS_Y as usize;
    let col = CUBE_POS_X as usize * TILE + UNIT_POS_X as usize;
    let mut a = Shared::<[f32]>::new_slice(TILE * TILE);
    let mut b = Shared::<[f32]>::new_slice(TILE * TILE);
    let mut sum = 0.0f32;
    for t in 0..(inner + TILE - 1) / TILE {
        let (ka, kb) = (t * TILE + UNIT_POS_X as usize, t * TILE + UNIT_POS_Y as usize);
        let mut lhs = 0.0f32;
        if row < rows && ka < inner {
            lhs = x[row * inner + ka];
        }
        let mut rhs = 0.0f32;
        if kb < inner && col < cols {
            rhs = weight[kb * cols + col];
        }
        sum = tile_step(lhs, rhs, &mut a, &mut b, sum);
    }
    if row < rows && col < cols {
        let i = row * cols + col;
        if activate {
            let y = selu_value(sum + bias[col], gamma, gamma_alpha);
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
        } else {
            output[i] = sum + bias[col];
        }
    }
}

/// A layer's input gradient `G'·Wᵀ` (`[rows, d_out]·[d_out, d_in]`), `G'` the gradient of
/// `x·W + b` ([`layer_grad`]) computed as its tiles load.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn dense_input_backward_kernel(
    weight: &Tensor<f32>,
    selu_output: &Tensor<f32>,
    mask: &Tensor<f32>,
    grad: &Tensor<f32>,
    input_grad: &mut Tensor<f32>,
    gamma: f32,
    gamma_alpha: f32,
    #[comptime] activate: bool,
) {
    let (rows, d_in, d_out) = (input_grad.shape(0), input_grad.shape(1), grad.shape(1));
    let row = CUBE_POS_Y as usize * TILE + UNIT_POS_Y as usize;
    let col = CUBE_POS_X as usize * TILE + UNIT_POS_X as usize;
    let mut a = Shared::<[f32]>::new_slice(TILE * TILE);
    let mut b = Shared::<[f32]>::new_slice(TILE * TILE);
    let mut sum = 0.0f32;
    for t in 0..(d_out + TILE - 1) / TILE {
        let (ka, kb) = (t * TILE + UNIT_POS_X as usize, t * TILE + UNIT_POS_Y as usize);
        let mut lhs = 0.0f32;
        if row < rows && ka < d_out {
            lhs = layer_grad(selu_output, mask, grad, row * d_out + ka, gamma, gamma_alpha, activate);
        }
        let mut rhs = 0.0f32;
        if kb < d_out && col < d_in {
            rhs = weight[col * d_out + kb];
        }
        sum = tile_step(lhs, rhs, &mut a, &mut b, sum);
    }
    if row < rows && col < d_in {
        input_grad[row * d_in + col] = sum;
    }
}

/// A layer's weight gradient `xᵀ·G'` (`[d_in, rows]·[rows, d_out]`) and, in the cubes of
/// the first tile row, its bias gradient `Σ_rows G'`; `G'` as in [`dense_input_backward_kernel`].
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn dense_parameters_backward_kernel(
    x: &Tensor<f32>,
    selu_output: &Tensor<f32>,
    mask: &Tensor<f32>,
    grad: &Tensor<f32>,
    weight_grad: &mut Tensor<f32>,
    bias_grad: &mut Tensor<f32>,
    gamma: f32,
    gamma_alpha: f32,
    #[comptime] activate: bool,
) {
    let (rows, d_in, d_out) = (x.shape(0), x.shape(1), grad.shape(1));
    let row = CUBE_POS_Y as usize * TILE + UNIT_POS_Y as usize;
    let col = CUBE_POS_X as usize * TILE + UNIT_POS_X as usize;
    let mut a = Shared::<[f32]>::new_slice(TILE * TILE);
    let mut b = Shared::<[f32]>::new_slice(TILE * TILE);
    let mut sum = 0.0f32;
    let mut bias_sum = 0.0f32;
    for t in 0..(rows + TILE - 1) / TILE {
        let (ka, kb) = (t * TILE + UNIT_POS_X as usize, t * TILE + UNIT_POS_Y as usize);
        let mut lhs = 0.0f32;
        if row < d_in && ka < rows {
            lhs = x[ka * d_in + row];
        }
        let mut rhs = 0.0f32;
        if kb < rows && col < d_out {
            rhs = layer_grad(selu_output, mask, grad, kb * d_out + col, gamma, gamma_alpha, activate);
        }
        sum = tile_step(lhs, rhs, &mut a, &mut b, sum);
        bias_sum += rhs;
    }
    if row < d_in && col < d_out {
        weight_grad[row * d_out + col] = sum;
    }
    column_sums(bias_sum, &mut a, bias_grad, col, d_out);
}

/// The bias gradient of the parameters' backward kernel: each unit summed the rows `≡ y (mod TILE)`
/// of its column (`partial`); the column's units add theirs through `shared`, and the cubes of
/// the first tile row write the sums. Every unit of the cube calls it (it synchronises the cube).
#[cube]
fn column_sums(partial: f32, shared: &mut Shared<[f32]>, bias_grad: &mut Tensor<f32>, col: usize, cols: usize) {
    shared[UNIT_POS_Y as usize * TILE + UNIT_POS_X as usize] = partial;
    sync_cube();
    if CUBE_POS_Y == 0 && UNIT_POS_Y == 0 && col < cols {
        let mut total = 0.0f32;
        for q in 0..TILE {
            total += shared[q * TILE + UNIT_POS_X as usize];
        }
        bias_grad[col] = total;
    }
}

/// SELU forward: `γ·x` for `x > 0`, `γα·(eˣ − 1)` otherwise.
#[cube(launch)]
fn selu_kernel(input: &Tensor<f32>, output: &mut Tensor<f32>, gamma: f32, gamma_alpha: f32) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    output[i] = selu_value(input[i], gamma, gamma_alpha);
}

/// SELU backward from its output: `grad · γ` where `y > 0`, else `grad · (y + γα)`.
#[cube(launch)]
fn selu_backward_kernel(selu_output: &Tensor<f32>, grad: &Tensor<f32>, output: &mut Tensor<f32>, gamma: f32, gamma_alpha: f32) {
    let i = ABSOLUTE_POS;
    if i >= output.len() {
        terminate!();
    }
    output[i] = selu_grad(selu_output[i], grad[i], gamma, gamma_alpha);
}

/// A new contiguous f32 tensor shaped like `like` (an f32 tensor: the GPU kernels compute in f32).
pub(crate) fn empty_like(like: &CubeTensor) -> CubeTensor {
    assert_eq!(like.dtype, DType::F32, "the model crate's GPU kernels compute in f32");
    empty_on(like, like.meta.shape())
}

/// The launch grid of an element-wise kernel over `like`: one unit per value.
pub(crate) fn grid(like: &CubeTensor) -> (CubeCount, CubeDim) {
    grid_over(like, like.meta.num_elements())
}

/// The launch grid of an element-wise kernel over `n` values on `like`'s device.
pub(crate) fn grid_over(like: &CubeTensor, n: usize) -> (CubeCount, CubeDim) {
    let cube_dim = CubeDim::new(&like.client, n);
    (calculate_cube_count_elemwise(&like.client, n, cube_dim), cube_dim)
}

/// SELU's `γ` and `γα` in f32, as the CPU's pass rounds them.
const GAMMA: f32 = SELU_GAMMA as f32;
const GAMMA_ALPHA: f32 = (SELU_ALPHA * SELU_GAMMA) as f32;

/// The launch grid of a tiled product's `[rows, cols]` output: one cube per tile.
fn tile_grid(rows: usize, cols: usize) -> (CubeCount, CubeDim) {
    let tiles = |n: usize| n.div_ceil(TILE) as u32;
    (CubeCount::Static(tiles(cols), tiles(rows), 1), CubeDim::new_2d(TILE as u32, TILE as u32))
}

/// A new contiguous f32 tensor of `shape` on `like`'s device.
pub(crate) fn empty_on(like: &CubeTensor, shape: &[usize]) -> CubeTensor {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape.into(), DType::F32)
}

/// A layer's SELU output and dropout mask (`[rows, d_out]`), what its backward reads; `None` for a
/// layer without an activation.
pub(super) type Activated = Option<(CubeTensor, CubeTensor)>;

/// A layer's `x·W + b` in one launch ([`dense_layer_kernel`]): `x` `[rows, d_in]`, `weight`
/// `[d_in, d_out]`, `bias` `[d_out]` → the output `[rows, d_out]`; with `dropout` (`keep`, the
/// mask's seed) SELU and the mask too, and SELU's output and the mask beside it.
pub(super) fn layer_forward(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, dropout: Option<(f64, u64)>) -> (CubeTensor, Activated) {
    let (x, weight, bias) = (into_contiguous(x), into_contiguous(weight), into_contiguous(bias));
    assert_eq!(x.dtype, DType::F32, "the model crate's GPU kernels compute in f32");
    let (rows, cols) = (x.meta.shape()[0], weight.meta.shape()[1]);
    let output = empty_on(&x, &[rows, cols]);
    // Without an activation the kernel leaves these two alone: one value each.
    let parts = if dropout.is_some() { [rows, cols] } else { [1, 1] };
    let (selu_output, mask) = (empty_on(&x, &parts), empty_on(&x, &parts));
    let (keep, seed) = dropout.unwrap_or((1.0, 0));
    let (cube_count, cube_dim) = tile_grid(rows, cols);
    let client = x.client.clone();
    dense_layer_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        x.into_tensor_arg(),
        weight.into_tensor_arg(),
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
        dropout.is_some(),
    );
    (output, dropout.map(|_| (selu_output, mask)))
}

/// SELU's output and the mask for a backward kernel: a layer's own, or one value each (unread)
/// without an activation.
fn backward_parts(grad: &CubeTensor, activated: Activated) -> (CubeTensor, CubeTensor, bool) {
    match activated {
        Some((selu_output, mask)) => (into_contiguous(selu_output), into_contiguous(mask), true),
        None => (empty_on(grad, &[1, 1]), empty_on(grad, &[1, 1]), false),
    }
}

/// A layer's input gradient from its output's in one launch ([`dense_input_backward_kernel`]).
pub(super) fn layer_input_backward(weight: CubeTensor, grad: CubeTensor, activated: Activated) -> CubeTensor {
    let (weight, grad) = (into_contiguous(weight), into_contiguous(grad));
    let (selu_output, mask, activate) = backward_parts(&grad, activated);
    let (rows, d_in) = (grad.meta.shape()[0], weight.meta.shape()[0]);
    let input_grad = empty_on(&grad, &[rows, d_in]);
    let (cube_count, cube_dim) = tile_grid(rows, d_in);
    let client = grad.client.clone();
    dense_input_backward_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        weight.into_tensor_arg(),
        selu_output.into_tensor_arg(),
        mask.into_tensor_arg(),
        grad.into_tensor_arg(),
        input_grad.clone().into_tensor_arg(),
        GAMMA,
        GAMMA_ALPHA,
        activate,
    );
    input_grad
}

/// A layer's weight and bias gradients from its output's in one launch
/// ([`dense_parameters_backward_kernel`]).
pub(super) fn layer_parameters_backward(x: CubeTensor, grad: CubeTensor, activated: Activated) -> (CubeTensor, CubeTensor) {
    let (x, grad) = (into_contiguous(x), into_contiguous(grad));
    let (selu_output, mask, activate) = backward_parts(&grad, activated);
    let (d_in, d_out) = (x.meta.shape()[1], grad.meta.shape()[1]);
    let (weight_grad, bias_grad) = (empty_on(&grad, &[d_in, d_out]), empty_on(&grad, &[d_out]));
    let (cube_count, cube_dim) = tile_grid(d_in, d_out);
    let client = grad.client.clone();
    dense_parameters_backward_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        x.into_tensor_arg(),
        selu_output.into_tensor_arg(),
        mask.into_tensor_arg(),
        grad.into_tensor_arg(),
        weight_grad.clone().into_tensor_arg(),
        bias_grad.clone().into_tensor_arg(),
        GAMMA,
        GAMMA_ALPHA,
        activate,
    );
    (weight_grad, bias_grad)
}

impl DenseSeluOps for CubeBackend {
    fn dense_selu_dropout(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, keep: f64) -> CubeTensor {
        Self::dense_selu_dropout_parts(x, weight, bias, keep).0
    }

    fn dense_selu_dropout_parts(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, keep: f64) -> (CubeTensor, CubeTensor, CubeTensor) {
        // A seed from the host's mask generator where the layer drops values (without dropout
        // the generator does not move).
        let seed = if keep < 1.0 {
            let mut rng = take_mask_rng();
            let seed = rng.next_u64();
            put_back_mask_rng(rng);
            seed
        } else {
            0
        };
        let (output, activated) = layer_forward(x, weight, bias, Some((keep, seed)));
        let (selu_output, mask) = activated.expect("an activated layer");
        (output, selu_output, mask)
    }

    fn dense_selu_dropout_backward(
        x: CubeTensor,
        weight: CubeTensor,
        selu_output: CubeTensor,
        mask: CubeTensor,
        grad: CubeTensor,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        let activated = Some((selu_output, mask));
        let dx = layer_input_backward(weight, grad.clone(), activated.clone());
        let (dw, db) = layer_parameters_backward(x, grad, activated);
        (dx, dw, db)
    }

    fn dense_selu_dropout_input_backward(weight: CubeTensor, selu_output: CubeTensor, mask: CubeTensor, grad: CubeTensor) -> CubeTensor {
        layer_input_backward(weight, grad, Some((selu_output, mask)))
    }

    fn dense_selu_dropout_parameters_backward(
        x: CubeTensor,
        selu_output: CubeTensor,
        mask: CubeTensor,
        grad: CubeTensor,
    ) -> (CubeTensor, CubeTensor) {
        layer_parameters_backward(x, grad, Some((selu_output, mask)))
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

    /// A layer with no dropout (`keep` 1): the GPU kernels (a tiled product with the bias and
    /// SELU after it; the input's gradient, and the weight's and bias' together, each one
    /// launch) give the CPU's output and the CPU's gradients of the input, the weights and the
    /// bias, within float tolerance, at shapes below, across and far from the tiles' 16, with
    /// the input, the parameters or both tracked; SELU alone too.
    #[test]
    fn the_gpu_layer_gives_the_cpus_values_and_gradients() {
        let Some(gpu) = test_wgpu_device() else { return };
        assert!(on_cube_kernels(&gpu));
        let cpu = Device::flex();
        cpu.seed(3);
        for (rows, d_in, d_out) in [(5, 3, 4), (256, 77, 154), (300, 200, 33)] {
            let x = Tensor::<2>::random([rows, d_in], Distribution::Normal(0.0, 1.0), &cpu);
            let w = Tensor::<2>::random([d_in, d_out], Distribution::Normal(0.0, 0.5), &cpu);
            let b = Tensor::<1>::random([d_out], Distribution::Normal(0.0, 0.5), &cpu);
            for (x_tracked, parameters_tracked) in [(true, true), (true, false), (false, true)] {
                let mut grads = Vec::new();
                for device in [cpu.clone().autodiff(), gpu.clone().autodiff()] {
                    let track = |t: Tensor<2>, tracked: bool| if tracked { t.require_grad() } else { t };
                    let (x, w) = (track(on(&x, &device), x_tracked), track(on(&w, &device), parameters_tracked));
                    let b = Tensor::<1>::from_data(b.to_data(), &device);
                    let b = if parameters_tracked { b.require_grad() } else { b };
                    let y = dense_selu_dropout(x.clone(), w.clone(), b.clone(), 1.0);
                    let s = selu_flex(x.clone());
                    let loss = (y.clone() * y.clone()).sum() + (s.clone() * s.clone() * s.clone()).sum();
                    let g = loss.backward();
                    let or_empty = |t: Option<Tensor<2>>| t.map(values).unwrap_or_default();
                    grads.push([
                        values(y.inner()),
                        values(s.inner()),
                        or_empty(x.grad(&g)),
                        or_empty(w.grad(&g)),
                        b.grad(&g).map(|b| b.into_data().try_to_vec::<f32>().unwrap()).unwrap_or_default(),
                    ]);
                }
                let expected = [true, true, x_tracked, parameters_tracked, parameters_tracked];
                for (k, what) in ["output", "selu", "input gradient", "weight gradient", "bias gradient"].iter().enumerate() {
                    let case = format!("{rows}×{d_in}→{d_out} {what} (input tracked {x_tracked}, parameters {parameters_tracked})");
                    assert_eq!(grads[1][k].is_empty(), !expected[k], "{case}");
                    assert_close(&grads[0][k], &grads[1][k], &case);
                }
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
