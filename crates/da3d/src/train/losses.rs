//! Loss helpers.

use burn::tensor::{Tensor, activation};

/// Numerically stable binary cross-entropy on logits, mean over all elements:
/// `max(z, 0) − z·t + log(1 + exp(−|z|))`.
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, targets: Tensor<D>) -> Tensor<1> {
    let relu = activation::relu(logits.clone());
    let neg_abs = logits.clone().abs().neg();
    (relu - logits * targets + neg_abs.exp().log1p()).mean()
}
