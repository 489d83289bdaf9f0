//! A spectrally normalised weight `W / σ(W)` on burn's GPU backends (the `wgpu` feature, without
//! burn's kernel fusion) as one operation: one launch forward (the power iteration, σ and the
//! division, in one cube with the vectors in shared memory) and one backward. As a composite the
//! norm costs a critic layer some fifteen launches a pass (the iteration, two products for σ,
//! the clamp, the division and their backward).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension};
use burn::tensor::Tensor as BurnTensor;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::{empty_like, empty_on};

/// Units of the one cube.
const UNITS: u32 = 256;
/// The widest weight the kernel holds in shared memory (its two vectors and the partial sums
/// within WebGPU's 16 KiB of workgroup storage); wider ones take the composite.
pub(crate) const MAX_WIDTH: usize = 1792;
/// The least σ divided by (the composite's `clamp_min`).
const LEAST_SIGMA: f32 = 1e-6;

/// The sum of every unit's `value` over the cube, in every unit (through `partial`).
#[cube]
pub(super) fn cube_sum(value: f32, partial: &mut Shared<[f32]>) -> f32 {
    let t = UNIT_POS_X as usize;
    partial[t] = value;
    sync_cube();
    let mut total = 0.0f32;
    for p in 0..CUBE_DIM_X as usize {
        total += partial[p];
    }
    sync_cube();
    total
}

/// `spectral_norm` on a row-major `[d_in, d_out]` weight in one cube: the power iteration from
/// `u = unit(1)`, `v = unit(W·u)`, then `iterations − 1` times `u = unit(Wᵀ·v)`, `v = unit(W·u)`,
/// and last `u = unit(Wᵀ·v)` (`unit(x) = x / (‖x‖ + 1e-12)`); then `σ = vᵀ·W·u` and
/// `W / max(σ, 1e-6)`. Writes the normalised weight, `u`, `v` and σ (unclamped).
#[cube(launch)]
fn spectral_normalise_kernel(
    weight: &Tensor<f32>,
    normalised: &mut Tensor<f32>,
    u_out: &mut Tensor<f32>,
    v_out: &mut Tensor<f32>,
    sigma_out: &mut Tensor<f32>,
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
        let norm = f32::sqrt(cube_sum(squares, &mut partial)) + 1e-12f32;
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
    // σ = vᵀ·(W·u), each unit its rows.
    let mut part = 0.0f32;
    let mut i = t;
    while i < d_in {
        let mut sum = 0.0f32;
        for c in 0..d_out {
            sum += weight[i * d_out + c] * u[c];
        }
        part += v[i] * sum;
        i += step;
    }
    let sigma = cube_sum(part, &mut partial);
    let scale = f32::max(sigma, LEAST_SIGMA);
    let mut e = t;
    while e < d_in * d_out {
        normalised[e] = weight[e] / scale;
        e += step;
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
    if t == 0 {
        sigma_out[0] = sigma;
    }
}

/// The gradient of `W / max(σ, 1e-6)` (σ = vᵀ·W·u, `u` and `v` constants) from the output's
/// gradient `G`: `G / σ − (Σ G⊙W / σ²) · v uᵀ`, or `G / 1e-6` where the clamp held σ.
#[cube(launch)]
fn spectral_normalise_backward_kernel(
    weight: &Tensor<f32>,
    grad: &Tensor<f32>,
    u: &Tensor<f32>,
    v: &Tensor<f32>,
    sigma: &Tensor<f32>,
    output: &mut Tensor<f32>,
) {
    let d_out = u.len();
    let n = output.len();
    let t = UNIT_POS_X as usize;
    let step = CUBE_DIM_X as usize;
    let mut partial = Shared::<[f32]>::new_slice(256usize);
    let mut part = 0.0f32;
    let mut e = t;
    while e < n {
        part += grad[e] * weight[e];
        e += step;
    }
    let dot = cube_sum(part, &mut partial);
    let s = sigma[0];
    let scale = f32::max(s, LEAST_SIGMA);
    let mut coefficient = 0.0f32;
    if s >= LEAST_SIGMA {
        coefficient = dot / (s * s);
    }
    let mut e = t;
    while e < n {
        output[e] = grad[e] / scale - coefficient * v[e / d_out] * u[e % d_out];
        e += step;
    }
}

/// A spectrally normalised weight as one operation (see [`spectral_normalised`]).
#[backend_extension(Autodiff, Cube)]
pub trait SpectralNormOps: Backend {
    /// `W / max(σ(W), 1e-6)` of a `[d_in, d_out]` weight, σ by `iterations` power iterations.
    fn spectral_normalised(weight: FloatTensor<Self>, iterations: usize) -> FloatTensor<Self>;
    /// The forward pass on an inner backend: the normalised weight, `u` `[d_out]`, `v` `[d_in]`,
    /// σ `[1]`.
    fn spectral_normalised_parts(
        weight: FloatTensor<Self>,
        iterations: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// The weight's gradient from the normalised weight's (`[d_in, d_out]`).
    fn spectral_normalised_backward(
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        sigma: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl SpectralNormOps for CubeBackend {
    fn spectral_normalised(weight: CubeTensor, iterations: usize) -> CubeTensor {
        Self::spectral_normalised_parts(weight, iterations).0
    }

    fn spectral_normalised_parts(weight: CubeTensor, iterations: usize) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor) {
        let weight = into_contiguous(weight);
        let (d_in, d_out) = (weight.meta.shape()[0], weight.meta.shape()[1]);
        assert!(d_in.max(d_out) <= MAX_WIDTH, "a {d_in}×{d_out} weight is wider than the kernel holds");
        let client = weight.client.clone();
        let vector = |n: usize| empty_on(&weight, &[n]);
        let (normalised, u, v, sigma) = (empty_like(&weight), vector(d_out), vector(d_in), vector(1));
        spectral_normalise_kernel::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(UNITS),
            weight.into_tensor_arg(),
            normalised.clone().into_tensor_arg(),
            u.clone().into_tensor_arg(),
            v.clone().into_tensor_arg(),
            sigma.clone().into_tensor_arg(),
            d_in.max(d_out),
            iterations,
        );
        (normalised, u, v, sigma)
    }

    fn spectral_normalised_backward(weight: CubeTensor, grad: CubeTensor, u: CubeTensor, v: CubeTensor, sigma: CubeTensor) -> CubeTensor {
        let (weight, grad) = (into_contiguous(weight), into_contiguous(grad));
        let output = empty_like(&grad);
        let client = grad.client.clone();
        spectral_normalise_backward_kernel::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(UNITS),
            weight.into_tensor_arg(),
            grad.into_tensor_arg(),
            u.into_tensor_arg(),
            v.into_tensor_arg(),
            sigma.into_tensor_arg(),
            output.clone().into_tensor_arg(),
        );
        output
    }
}

impl<B: Backend + SpectralNormOps, C: CheckpointStrategy> SpectralNormOps for Autodiff<B, C> {
    fn spectral_normalised(weight: FloatTensor<Self>, iterations: usize) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct SpectralNormalise;

        impl<B: Backend + SpectralNormOps> Backward<B, 1> for SpectralNormalise {
            /// The weight, `u`, `v` and σ.
            type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
                let [node] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (weight, u, v, sigma) = ops.state;
                if let Some(node) = node {
                    grads.register::<B>(node.id, B::spectral_normalised_backward(weight, grad, u, v, sigma));
                }
            }
        }

        let inner = weight.primitive().clone();
        match SpectralNormalise.prepare::<C>([weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (normalised, u, v, sigma) = B::spectral_normalised_parts(weight.into_primitive(), iterations);
                prep.finish((inner, u, v, sigma), normalised)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::spectral_normalised(weight.into_primitive(), iterations)),
        }
    }

    /// Only the forward pass above calls this, on the inner backend.
    fn spectral_normalised_parts(
        _weight: FloatTensor<Self>,
        _iterations: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("spectral_normalised_parts runs on the inner backend")
    }

    /// Only backward passes call this, on the inner backend.
    fn spectral_normalised_backward(
        _weight: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _u: FloatTensor<Self>,
        _v: FloatTensor<Self>,
        _sigma: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unreachable!("spectral_normalised_backward runs on the inner backend")
    }
}

/// `W / max(σ(W), 1e-6)` of a `[d_in, d_out]` weight at most [`MAX_WIDTH`] wide, on a GPU device
/// with the model crate's kernels, σ by `iterations` power iterations (`mlp::spectral_norm`'s);
/// its gradient flows to `W` through σ as through the composite's.
pub(crate) fn spectral_normalised(weight: BurnTensor<2>, iterations: usize) -> BurnTensor<2> {
    BurnTensor::from_dispatch(<Dispatch as SpectralNormOps>::spectral_normalised(weight.into_dispatch(), iterations))
}
