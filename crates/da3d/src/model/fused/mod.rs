//! Fused kernels for the CPU backend (`flex`) and burn's GPU backends (`cube`: the `wgpu`
//! feature, without burn's kernel fusion), through burn's backend extensions.
//!
//! The networks are tiny, so a CPU training step costs what burn spends per operation (dispatch,
//! autodiff bookkeeping, one allocation per result) as much as arithmetic. The composites that
//! made up most of the operations of a step are one pass each here:
//!
//! - **SELU** (`selu`; nine operations forward and nine backward as a composite of `relu`, `exp`
//!   and scalar operations): one vectorised pass forward, and one backward pass from the output,
//!   `grad · γ` where `y > 0`, else `grad · (y + γα)` (`y + γα = γα·eˣ` for `x ≤ 0`).
//! - **A hidden layer while training** (`dense`; `Linear`, SELU, dropout: three autodiff nodes,
//!   five passes and a zero-filled, copied product output): the product into a plain buffer, one
//!   pass forward, one backward; the same numbers as the composite.
//! - **BCE on logits** (`bce`; ten operations): the loss and its gradient `σ(z) − t` in one pass each.
//!
//! Adam's fused update is the optimiser's (`train::adam`). Native builds split the passes over
//! large tensors across the pool's threads (element-wise, so the numbers do not depend on the
//! split). GPU devices take the same operations as kernels (`cpu::on_cube_kernels`): `cube`, a
//! layer's tiled product with its bias, SELU and dropout in one launch and its backward in two
//! (the input's gradient; the weight's and the bias'), with or without dropout, and SELU alone
//! in one each way; `linear`, an output layer the same way without an activation; `spectral`, a
//! spectrally normalised weight in one launch each way; `bce`'s kernels; `means`, a loss's
//! weighted means of groups of rows in one launch each way. A build with burn's
//! kernel fusion keeps burn's composites there, which the fusion serves.

mod bce;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod cube;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
pub(crate) use cube::{empty_like, empty_on, grid, grid_over};
mod dense;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod linear;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
pub(crate) use linear::dense_linear;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod means;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
pub(crate) use means::group_means;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
mod spectral;
#[cfg(all(feature = "wgpu", not(feature = "fusion")))]
pub(crate) use spectral::{MAX_WIDTH as SPECTRAL_MAX_WIDTH, spectral_normalised};
mod selu;

use burn::backend::flex::FlexTensor;

pub(crate) use bce::bce_with_logits_flex;
pub(crate) use dense::dense_selu_dropout;
pub(crate) use selu::{SELU_ALPHA, SELU_GAMMA, selu_flex};

/// Values a pass takes on one thread before it is split over the pool's threads (native builds).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const PARALLEL_ELEMENTS: usize = 1 << 16;
/// Values per task of a split pass (native builds).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) const PARALLEL_CHUNK: usize = 1 << 14;

/// A tensor's values, for the kernels' tests.
#[cfg(test)]
pub(crate) fn values<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// The wgpu device for the GPU kernels' tests (Mesa's lavapipe in CI, where
/// `DA3D_REQUIRE_WGPU=1`), or `None` to skip where there is no adapter and `DA3D_ALLOW_SKIP=1`
/// (without it a missing adapter fails the test).
#[cfg(all(test, feature = "wgpu", not(feature = "fusion")))]
pub(crate) fn test_wgpu_device() -> Option<burn::tensor::Device> {
    // The runtime registers once per process: every test shares the first one's answer.
    static DEVICE: std::sync::OnceLock<Result<burn::tensor::Device, String>> = std::sync::OnceLock::new();
    let found = DEVICE.get_or_init(|| match std::panic::catch_unwind(|| burn::tensor::Device::wgpu_options().init()) {
        Ok(Ok(device)) => Ok(device),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("wgpu panicked looking for an adapter".into()),
    });
    match found {
        Ok(device) => Some(device.clone()),
        Err(why) => {
            let allowed = std::env::var("DA3D_ALLOW_SKIP").as_deref() == Ok("1")
                && std::env::var("DA3D_REQUIRE_WGPU").as_deref() != Ok("1");
            assert!(allowed, "no wgpu adapter (DA3D_ALLOW_SKIP=1 without DA3D_REQUIRE_WGPU=1 skips): {why}");
            eprintln!("SKIPPED (DA3D_ALLOW_SKIP=1): no wgpu adapter here ({why})");
            None
        }
    }
}

/// `a` and `b` within 1e-4 relative, for the GPU kernels' tests against the CPU: the device sums
/// a product's terms in another order (tens to hundreds of terms there); a wrong kernel misses
/// by far more.
#[cfg(all(test, feature = "wgpu", not(feature = "fusion")))]
pub(crate) fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!((p - q).abs() <= 1e-4 * (1.0 + p.abs()), "{what}[{i}]: {p} vs {q}");
    }
}

/// A contiguous tensor from offset 0 (a copy only when the layout needs one).
pub(crate) fn dense(t: FlexTensor) -> FlexTensor {
    let layout = t.layout();
    if layout.is_contiguous() && layout.start_offset() == 0 { t } else { t.to_contiguous() }
}
