//! What the CPU backend (`flex`) does differently, shared by the layers (`dropout`, `mlp`), the
//! fused kernels (`fused`) and training (`train`): which device computes on it, and the host
//! generator its dropout masks are drawn from.
//!
//! burn's `Dropout` samples a Bernoulli tensor through the backend's generator; on `flex` that is
//! ChaCha per element plus two multiplications, 22 % of a CPU training step. On the CPU the mask
//! is drawn here instead (xoshiro256**, 16-bit draws, already scaled by `1 / keep`) and applied
//! with one multiplication. GPU devices with the model crate's kernels (`on_cube_kernels`) take
//! one seed per fused layer from the same generator and hash the mask on the device (a host mask
//! would cost an upload per layer); elsewhere on a GPU, burn's sampling on the device.

use std::cell::RefCell;

use burn::tensor::Device;

use crate::rng::HostRng;

/// Whether `device` computes on the CPU backend (with or without autodiff).
pub(crate) fn on_flex(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

/// Whether `device` is one of burn's GPU (cubecl) devices and this build has the model crate's
/// kernels for it (the `wgpu` feature, without burn's kernel fusion).
pub(crate) fn on_cube_kernels(device: &Device) -> bool {
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    {
        matches!(device.clone().without_autodiff().as_dispatch(), burn::backend::DispatchDevice::Cube(_))
    }
    #[cfg(not(all(feature = "wgpu", not(feature = "fusion"))))]
    {
        let _ = device;
        false
    }
}

thread_local! {
    /// One generator per thread: a trainer seeds it when a member starts and is the only one to
    /// draw from it on its thread, so trainings on several threads keep their own streams.
    static MASKS: RefCell<Option<HostRng>> = const { RefCell::new(None) };
}

/// Seed this thread's host mask generator (the trainer does, from the training seed).
pub fn seed_dropout_masks(seed: u64) {
    MASKS.with(|m| *m.borrow_mut() = Some(HostRng::new(seed, 0xD20)));
}

/// This thread's mask generator, taken out (so that another thread may draw from it in its turn:
/// `fused::dense_selu_dropout` draws while the layer's product runs); `put_back_mask_rng` returns it.
pub(crate) fn take_mask_rng() -> HostRng {
    MASKS.with(|m| m.borrow_mut().take().unwrap_or_else(|| HostRng::new(0, 0xD20)))
}

/// This thread's mask generator's state (`None` before a trainer seeded it), for a checkpoint.
pub(crate) fn mask_rng_state() -> Option<[u64; 4]> {
    MASKS.with(|m| m.borrow().as_ref().map(HostRng::state))
}

/// Go on from a checkpoint's mask generator state on this thread.
pub(crate) fn restore_mask_rng(state: Option<[u64; 4]>) {
    MASKS.with(|m| *m.borrow_mut() = state.map(HostRng::from_state));
}

/// Return the generator `take_mask_rng` took.
pub(crate) fn put_back_mask_rng(rng: HostRng) {
    MASKS.with(|m| *m.borrow_mut() = Some(rng));
}

/// `n` mask values from `rng`: `1 / keep` with probability `keep` (to 1/65536), else 0. Four
/// 16-bit draws per 64-bit step.
pub(crate) fn draw_mask(rng: &mut HostRng, n: usize, keep: f64) -> Vec<f32> {
    let scale = (1.0 / keep) as f32;
    let threshold = (keep * 65_536.0).round() as u64;
    // A local copy keeps the generator's state in registers through the loop.
    let mut local = rng.clone();
    let steps = n.div_ceil(4);
    let mut out = Vec::with_capacity(steps * 4);
    for chunk in out.spare_capacity_mut()[..steps * 4].chunks_exact_mut(4) {
        let r = local.next_u64();
        for (i, v) in chunk.iter_mut().enumerate() {
            v.write(if ((r >> (16 * i)) & 0xFFFF) < threshold { scale } else { 0.0 });
        }
    }
    // SAFETY: the loop wrote all `steps · 4` values.
    unsafe { out.set_len(steps * 4) };
    *rng = local;
    out.truncate(n);
    out
}
