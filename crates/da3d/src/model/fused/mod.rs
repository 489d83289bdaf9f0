//! Fused kernels for the CPU backend (`flex`), through burn's backend extensions.
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
//! split). Only the CPU device takes these paths (`cpu::on_flex`); GPU devices (wgpu, WebGPU) keep
//! burn's composites, which their kernel fusion serves.

mod bce;
mod dense;
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

/// A contiguous tensor from offset 0 (a copy only when the layout needs one).
pub(crate) fn dense(t: FlexTensor) -> FlexTensor {
    let layout = t.layout();
    if layout.is_contiguous() && layout.start_offset() == 0 { t } else { t.to_contiguous() }
}
