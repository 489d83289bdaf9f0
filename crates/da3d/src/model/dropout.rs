//! Dropout with its masks drawn by the host generator of `cpu` on the CPU backend; burn's own
//! sampling on the device elsewhere, except in the hidden layers the GPU kernels fuse
//! (`fuses_with_layer`), whose masks are hashed on the device from that generator's seeds.

use burn::nn::Dropout;
use burn::tensor::{Device, Tensor, TensorData};

use super::cpu::{draw_mask, on_flex, put_back_mask_rng, take_mask_rng};

/// `[rows, cols]` values: `1 / keep` with probability `keep` (to 1/65536), else 0, from this
/// thread's generator.
fn host_mask(rows: usize, cols: usize, keep: f64) -> Vec<f32> {
    let mut rng = take_mask_rng();
    let mask = draw_mask(&mut rng, rows * cols, keep);
    put_back_mask_rng(rng);
    mask
}

/// Whether dropout is active and its mask is drawn on the host: training (autodiff) on the CPU
/// backend.
pub(crate) fn draws_host_mask(dropout: &Dropout, device: &Device) -> bool {
    is_active(dropout, device) && on_flex(device)
}

/// Whether `dropout` drops anything here: a positive probability, training, on an autodiff device.
pub(crate) fn is_active(dropout: &Dropout, device: &Device) -> bool {
    dropout.prob != 0.0 && dropout.training.is_enabled() && device.is_autodiff()
}

/// Whether dropout is active while training and a hidden layer may draw its mask itself
/// (`fused::dense_selu_dropout`): on the CPU backend (the host mask) and on the GPU with the
/// model crate's kernels (a mask hashed on the device from the host generator's seed).
pub(crate) fn fuses_with_layer(dropout: &Dropout, device: &Device) -> bool {
    draws_host_mask(dropout, device) || (is_active(dropout, device) && super::cpu::on_cube_kernels(device))
}

/// Apply `dropout` to `x` (`[batch, width]` → same shape): identity outside training.
pub(crate) fn apply(dropout: &Dropout, x: Tensor<2>) -> Tensor<2> {
    let device = x.device();
    if !is_active(dropout, &device) {
        return x;
    }
    if !on_flex(&device) {
        return dropout.forward(x);
    }
    let [rows, cols] = x.dims();
    x * Tensor::from_data(TensorData::new(host_mask(rows, cols, 1.0 - dropout.prob), [rows, cols]), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu::seed_dropout_masks;

    #[test]
    fn masks_keep_the_expected_share_scaled() {
        seed_dropout_masks(7);
        let m = host_mask(1000, 101, 0.8);
        assert_eq!(m.len(), 101_000);
        let kept = m.iter().filter(|&&v| v > 0.0).count() as f64 / m.len() as f64;
        assert!((kept - 0.8).abs() < 0.01, "{kept}");
        assert!(m.iter().all(|&v| v == 0.0 || v == 1.25));
        seed_dropout_masks(7);
        assert_eq!(host_mask(1000, 101, 0.8), m, "same seed, same masks");
    }
}
