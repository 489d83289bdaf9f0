//! The anomaly detector `f_AD(x) = sigmoid(f_alarm(acts(enc(x))))` and its batched scoring.
//! Shared by training (alarm inputs) and scoring, so both read the same activations.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData, activation};

use crate::config::AlarmInput;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::{Aae, Alarm, Networks};

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

/// Upload rows `[start, end)` of a matrix as a `[rows, cols]` tensor.
pub(crate) fn upload(x: &Matrix, start: usize, end: usize, device: &Device) -> Tensor<2> {
    let values = x.values[start * x.cols..end * x.cols].to_vec();
    Tensor::from_data(TensorData::new(values, [end - start, x.cols]), device)
}

/// Read a float tensor back (blocking; native backends).
pub(crate) fn read_sync<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.try_into_data().map_err(|e| Error::Backend(format!("read-back failed: {e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Backend(format!("read-back failed: {e:?}")))
}

/// Read a float tensor back asynchronously (the only read WebGPU allows).
pub(crate) async fn read_async<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.into_data_async().await.map_err(|e| Error::Backend(format!("read-back failed: {e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Backend(format!("read-back failed: {e:?}")))
}

/// Which score to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// The DA³D / A³ anomaly score in [0, 1].
    Alarm,
    /// The AAE's mean squared reconstruction error (a baseline).
    Reconstruction,
}

/// The trained networks in inference mode (no dropout, no autodiff).
#[derive(Debug, Clone)]
pub struct Detector {
    pub networks: Networks,
    pub alarm_input: AlarmInput,
    device: Device,
}

/// Rows per scoring batch.
pub const SCORE_BATCH: usize = 4096;

impl Detector {
    pub fn new(networks: &Networks, alarm_input: AlarmInput) -> Self {
        let networks = networks.valid();
        let device = networks.alarm.net.layers[0].weight.val().device();
        Detector { networks, alarm_input, device }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    fn alarm(&self) -> &Alarm {
        &self.networks.alarm
    }

    /// Scores of a batch. `[batch, d]` → `[batch]`.
    pub fn score_tensor(&self, x: Tensor<2>, kind: ScoreKind) -> Tensor<1> {
        let n = x.dims()[0];
        match kind {
            ScoreKind::Alarm => {
                let (_, acts) = alarm_input_rows(&self.networks.aae, x, self.alarm_input);
                activation::sigmoid(self.alarm().forward(acts)).reshape([n])
            }
            ScoreKind::Reconstruction => {
                let r = self.networks.aae.reconstruct(x.clone());
                (r - x).square().mean_dim(1).reshape([n])
            }
        }
    }

    fn check_width(&self, x: &Matrix) -> Result<()> {
        let d = self.networks.aae.encoder.layers[0].weight.val().dims()[0];
        if x.cols != d {
            return Err(Error::Schema(format!("the data has {} features, the model expects {d}", x.cols)));
        }
        Ok(())
    }

    fn batches(&self, x: &Matrix, kind: ScoreKind) -> Option<Tensor<1>> {
        let mut parts = Vec::new();
        let mut start = 0;
        while start < x.rows {
            let end = (start + SCORE_BATCH).min(x.rows);
            parts.push(self.score_tensor(upload(x, start, end, &self.device), kind));
            start = end;
        }
        if parts.is_empty() { None } else { Some(Tensor::cat(parts, 0)) }
    }

    /// Scores of every row (blocking read; native backends).
    pub fn score(&self, x: &Matrix, kind: ScoreKind) -> Result<Vec<f32>> {
        self.check_width(x)?;
        match self.batches(x, kind) {
            Some(t) => read_sync(t),
            None => Ok(Vec::new()),
        }
    }

    /// Scores of every row (async read; works on WebGPU).
    pub async fn score_async(&self, x: &Matrix, kind: ScoreKind) -> Result<Vec<f32>> {
        self.check_width(x)?;
        match self.batches(x, kind) {
            Some(t) => read_async(t).await,
            None => Ok(Vec::new()),
        }
    }

    /// Codes of every row: `[rows × code]` row-major (for the latent plot and code statistics).
    pub fn codes(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let code = self.networks.aae.encoder.layers.last().unwrap().weight.val().dims()[1];
        let mut parts = Vec::new();
        let mut start = 0;
        while start < x.rows {
            let end = (start + SCORE_BATCH).min(x.rows);
            parts.push(self.networks.aae.encode(upload(x, start, end, &self.device)));
            start = end;
        }
        let values = if parts.is_empty() { Vec::new() } else { read_sync(Tensor::cat(parts, 0))? };
        Ok(Matrix::new(x.rows, code, values))
    }
}

/// Per-dimension mean and standard deviation of codes (to compare with N(0, I)).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CodeStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl CodeStats {
    pub fn of(codes: &Matrix) -> Self {
        let n = codes.rows.max(1) as f64;
        let mut mean = vec![0f64; codes.cols];
        for r in 0..codes.rows {
            for (m, v) in mean.iter_mut().zip(codes.row(r)) {
                *m += *v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; codes.cols];
        for r in 0..codes.rows {
            for ((s, v), m) in var.iter_mut().zip(codes.row(r)).zip(&mean) {
                *s += (*v as f64 - m).powi(2);
            }
        }
        CodeStats {
            mean: mean.iter().map(|m| *m as f32).collect(),
            std: var.iter().map(|s| (s / n).sqrt() as f32).collect(),
        }
    }
}
