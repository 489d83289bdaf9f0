//! Loss helpers.

use burn::tensor::{Tensor, activation};

/// Numerically stable binary cross-entropy on logits, mean over all elements:
/// `max(z, 0) − z·t + log(1 + exp(−|z|))`.
/// One fused operation on the CPU backend (`model::fused`).
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, targets: Tensor<D>) -> Tensor<1> {
    if crate::model::fused::on_flex(&logits.device()) {
        return crate::model::fused::bce_with_logits_flex(logits, targets).mean();
    }
    let relu = activation::relu(logits.clone());
    let neg_abs = logits.clone().abs().neg();
    (relu - logits * targets + neg_abs.exp().log1p()).mean()
}
