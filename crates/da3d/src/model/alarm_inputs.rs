//! What the alarm network reads: the AAE's hidden activations of real rows and of codes that
//! enter the decoder directly. Shared by training and scoring, so both read the same
//! activations.

use burn::tensor::{Tensor, activation};
use serde::{Deserialize, Serialize};

use crate::model::Aae;

/// What the alarm network reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmInput {
    /// The decoder's hidden activations (SPEC default).
    Decoder,
    /// Encoder and decoder hidden activations. Generated codes have no encoder pass of their own:
    /// their encoder activations are those of `enc(dec(h~))`.
    All,
}

/// Alarm inputs for real rows: codes `[batch, code]` and activations `[batch, a]`.
pub(crate) fn alarm_input_rows(aae: &Aae, x: Tensor<2>, mode: AlarmInput) -> (Tensor<2>, Tensor<2>) {
    match mode {
        AlarmInput::Decoder => {
            let codes = aae.encoder.forward(x);
            let (_, dec) = aae.decoder_activations(codes.clone());
            (codes, dec)
        }
        AlarmInput::All => {
            let (codes, enc) = aae.encoder.forward_with_hidden(x);
            let (_, dec) = aae.decoder_activations(codes.clone());
            (codes, Tensor::cat(vec![enc, dec], 1))
        }
    }
}

/// Alarm inputs for codes that enter the decoder directly (generated anomalies).
/// `[batch, code]` → `[batch, a]`.
pub(crate) fn alarm_input_codes(aae: &Aae, codes: Tensor<2>, mode: AlarmInput) -> Tensor<2> {
    let (logits, dec) = aae.decoder_activations(codes);
    match mode {
        AlarmInput::Decoder => dec,
        AlarmInput::All => {
            let (_, enc) = aae.encoder.forward_with_hidden(activation::sigmoid(logits));
            Tensor::cat(vec![enc, dec], 1)
        }
    }
}
