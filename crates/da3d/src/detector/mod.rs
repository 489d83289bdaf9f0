//! The anomaly detector `f_AD(x) = sigmoid(f_alarm(acts(enc(x))))` and its batched scoring.
//! Tensor I/O lives in `io`, the alarm's inputs with the networks (`model::alarm_inputs`).

mod io;

use burn::module::Module;
use burn::tensor::{Device, Tensor, activation};

use crate::config::AlarmInput;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::{Alarm, Networks, alarm_input_rows};

pub use io::networks_to_device_async;
pub(crate) use io::{in_batches, read_async, read_sync};

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
        in_batches(x, &self.device, |t| self.score_tensor(t, kind))
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

    fn code_size(&self) -> usize {
        self.networks.aae.encoder.layers.last().expect("an encoder has layers").weight.val().dims()[1]
    }

    /// Codes of all rows as one tensor `[rows, code]`, computed in batches.
    fn code_batches(&self, x: &Matrix) -> Option<Tensor<2>> {
        in_batches(x, &self.device, |t| self.networks.aae.encode(t))
    }

    /// Codes of every row: `[rows × code]` row-major (for the latent plot and code statistics).
    pub fn codes(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let values = match self.code_batches(x) {
            Some(t) => read_sync(t)?,
            None => Vec::new(),
        };
        Ok(Matrix::new(x.rows, self.code_size(), values))
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

impl Detector {
    /// Codes of every row, read asynchronously (WebGPU).
    pub async fn codes_async(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let values = match self.code_batches(x) {
            Some(t) => read_async(t).await?,
            None => Vec::new(),
        };
        Ok(Matrix::new(x.rows, self.code_size(), values))
    }

    /// Generated anomaly codes `h~ = f_gen(n)` for `n` noise draws (for the latent picture).
    pub async fn generated_codes_async(&self, n: usize) -> Result<Matrix> {
        let g = self.networks.generator.net.layers[0].weight.val().dims()[0];
        let code = self.networks.generator.net.layers.last().unwrap().weight.val().dims()[1];
        let noise = Tensor::random([n, g], burn::tensor::Distribution::Normal(0.0, 1.0), &self.device);
        let values = read_async(self.networks.generator.forward(noise)).await?;
        Ok(Matrix::new(n, code, values))
    }
}
