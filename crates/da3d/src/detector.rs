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

/// `f` applied to the rows of `x` in batches of `SCORE_BATCH`, concatenated; `None` for no rows.
/// Nothing is read back.
pub(crate) fn in_batches<const D: usize>(
    x: &Matrix,
    device: &Device,
    f: impl Fn(Tensor<2>) -> Tensor<D>,
) -> Option<Tensor<D>> {
    let mut parts = Vec::new();
    let mut start = 0;
    while start < x.rows {
        let end = (start + SCORE_BATCH).min(x.rows);
        parts.push(f(upload(x, start, end, device)));
        start = end;
    }
    if parts.is_empty() { None } else { Some(Tensor::cat(parts, 0)) }
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

struct ParamCollector(Vec<(burn::module::ParamId, Tensor<1>, Vec<usize>)>);

impl burn::module::ModuleVisitor for ParamCollector {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let t = param.val();
        let dims = t.dims().to_vec();
        let n: usize = dims.iter().product();
        self.0.push((param.id, t.reshape([n]), dims));
    }
}

struct ParamReplacer(std::collections::HashMap<burn::module::ParamId, (Vec<f32>, Vec<usize>)>, Device);

impl burn::module::ModuleMapper for ParamReplacer {
    fn map_float<const D: usize>(&mut self, param: burn::module::Param<Tensor<D>>) -> burn::module::Param<Tensor<D>> {
        let id = param.id;
        match self.0.remove(&id) {
            Some((values, dims)) => {
                let device = self.1.clone();
                param.map(move |_| Tensor::from_data(TensorData::new(values, dims), &device))
            }
            None => param,
        }
    }
}

/// Copy networks to another device reading every weight asynchronously: the way to get a
/// WebGPU-trained model onto the CPU (for bundle export) without blocking reads.
pub async fn networks_to_device_async(networks: &Networks, device: &Device) -> Result<Networks> {
    let mut collector = ParamCollector(Vec::new());
    networks.visit(&mut collector);
    let mut values = std::collections::HashMap::new();
    for (id, t, dims) in collector.0 {
        values.insert(id, (read_async(t).await?, dims));
    }
    // Every parameter is replaced by its copy on `device`; nothing is read synchronously.
    Ok(networks.clone().valid().map(&mut ParamReplacer(values, device.clone())))
}
