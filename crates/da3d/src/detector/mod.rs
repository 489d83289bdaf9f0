//! The anomaly detector `f_AD(x) = sigmoid(f_alarm(acts(enc(x))))` and its batched scoring;
//! for an ensemble, the mean of its members' standardised scores ([`Scoring`]; the residual tails
//! term, `tails`, on the host), plus the neighbours term when the model has one (`neighbours`).
//! Tensor I/O lives in `io`, the alarm's inputs with the networks (`model::alarm_inputs`).

mod io;
pub mod neighbours;
pub mod tails;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData, activation};

use crate::config::{AlarmInput, Scoring};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::{Networks, alarm_input_rows};

pub use io::networks_to_device_async;
pub use neighbours::Neighbours;
pub use tails::ResidualTails;
use tails::TailsFit;
pub(crate) use io::{in_batches, read_async, read_sync};

/// Which score to compute (over an ensemble: the members' mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// The model's own score: what its config's [`Scoring`] says, plus the neighbours term when
    /// the model has one (what `score` and the threshold use).
    Model,
    /// The DA³D / A³ anomaly score in [0, 1].
    Alarm,
    /// The alarm's logit `f_alarm(acts(enc(x)))` (the same order as `Alarm`, without the
    /// sigmoid's saturation: distinct values where `Alarm` rounds to 1.0 in f32).
    AlarmLogit,
    /// The AAE's mean squared reconstruction error (a baseline).
    Reconstruction,
}

/// What [`Scoring::AlarmAndReconstruction`] standardises one member's scores with, measured on
/// the training rows: per input, the mean and standard deviation of the residual
/// `x_j − dec(enc(x))_j`; then the mean and standard deviation of the alarm's logit and of
/// `ln(e + 1e-12)`, where `e = mean_j ((r_j − μ_j) / σ_j)²` is the row's residual in units of each
/// input's own residual spread (an input the AAE reconstructs to 1e-4 counts as much as one it
/// reconstructs to 0.1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemberScale {
    /// Per input: (mean, standard deviation) of the residual; σ at least [`MIN_RESIDUAL_STD`].
    pub residual: Vec<(f32, f32)>,
    /// Of the alarm's logit.
    pub logit: (f32, f32),
    /// Of `ln(e + 1e-12)`; (0, 1) when the score does not read it ([`Scoring::Tails`]).
    pub log_error: (f32, f32),
    /// The residual tails term's grid and moments, for a score that has it
    /// ([`Scoring::reads_tails`]; absent in older bundles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tails: Option<ResidualTails>,
}

/// Added to the standardised error before its logarithm.
pub const LOG_FLOOR: f32 = 1e-12;
/// Smallest residual spread per input (inputs are min-max scaled to [0, 1] on the training rows):
/// an input constant in training (a one-hot column never set) does not divide by zero.
pub const MIN_RESIDUAL_STD: f32 = 1e-3;

/// (mean, std) from a count, a sum and a sum of squares; the std at least `floor`.
pub(crate) fn moments(n: f64, sum: f64, squares: f64, floor: f32) -> (f32, f32) {
    let mean = sum / n.max(1.0);
    let var = (squares / n.max(1.0) - mean * mean).max(0.0);
    (mean as f32, (var.sqrt() as f32).max(floor))
}

/// The training rows the residual tails' grid is fitted on: every
/// [`sample_stride`](tails::sample_stride)-th row, at most [`TAIL_SAMPLE_ROWS`](tails::TAIL_SAMPLE_ROWS).
fn tail_sample(x: &Matrix) -> std::borrow::Cow<'_, Matrix> {
    let stride = tails::sample_stride(x.rows);
    if stride == 1 {
        return std::borrow::Cow::Borrowed(x);
    }
    let values: Vec<f32> = x.values.chunks_exact(x.cols).step_by(stride).flatten().copied().collect();
    std::borrow::Cow::Owned(Matrix::new(values.len() / x.cols, x.cols, values))
}

/// Whether `scoring` reads the alarm's logit or the log error, whose moments
/// [`term_sums`](Detector::term_sums) measures (a pass over the training rows per member).
fn reads_terms(scoring: Scoring) -> bool {
    scoring.reads_alarm() || scoring.error_weight() > 0.0
}

/// Column sums (f64) of `[batches, width]` per-batch sums read back row-major.
fn column_sums(values: &[f32], width: usize) -> Vec<f64> {
    let mut out = vec![0f64; width];
    for row in values.chunks_exact(width) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += *v as f64;
        }
    }
    out
}

impl MemberScale {
    /// From the residuals' per-input sums `[Σr_j…, Σr_j²…]` over `n` rows.
    fn residual_moments(sums: &[f64], n: usize) -> Vec<(f32, f32)> {
        let d = sums.len() / 2;
        (0..d).map(|j| moments(n as f64, sums[j], sums[d + j], MIN_RESIDUAL_STD)).collect()
    }

    /// With the sums `[Σl, Σl², Σe, Σe²]` of logits and log errors over `n` rows; the logit's
    /// moments (0, 1) when `scoring` does not read the alarm.
    fn with_terms(residual: Vec<(f32, f32)>, sums: &[f64], n: usize, scoring: Scoring) -> Self {
        MemberScale {
            residual,
            logit: if scoring.reads_alarm() { moments(n as f64, sums[0], sums[1], 1e-6) } else { (0.0, 1.0) },
            log_error: moments(n as f64, sums[2], sums[3], 1e-6),
            tails: None,
        }
    }
}

/// The trained networks in inference mode (no dropout, no autodiff): one model or the members of
/// an ensemble.
#[derive(Debug, Clone)]
pub struct Detector {
    pub members: Vec<Networks>,
    pub alarm_input: AlarmInput,
    scoring: Scoring,
    /// One per member for a standardised score ([`Scoring::is_standardised`]).
    scales: Vec<MemberScale>,
    /// The scales' residual means and spreads as `[1, d]` tensors on the device (uploaded once).
    moments: Vec<(Tensor<2>, Tensor<2>)>,
    /// Added to the model's score ([`ScoreKind::Model`]) when the model has one.
    neighbours: Option<Neighbours>,
    device: Device,
}

/// Rows per scoring batch.
pub const SCORE_BATCH: usize = 4096;

impl Detector {
    /// One model scored by its alarm.
    pub fn new(networks: &Networks, alarm_input: AlarmInput) -> Self {
        Self::of_valid(vec![networks.valid()], alarm_input)
    }

    /// Members already in inference mode (at least one), scored by their alarm.
    fn of_valid(members: Vec<Networks>, alarm_input: AlarmInput) -> Self {
        let device = members[0].alarm.net.layers[0].weight.val().device();
        Detector { members, alarm_input, scoring: Scoring::Alarm, scales: Vec::new(), moments: Vec::new(), neighbours: None, device }
    }

    /// Members scored as `scoring` says; `scales` (one per member) are needed for a standardised
    /// score ([`Scoring::is_standardised`]).
    pub fn ensemble(members: &[Networks], alarm_input: AlarmInput, scoring: Scoring, scales: Vec<MemberScale>) -> Result<Self> {
        if members.is_empty() {
            return Err(Error::Bundle("an ensemble needs at least one member".into()));
        }
        if scoring.is_standardised() && scales.len() != members.len() {
            return Err(Error::Bundle(format!("{} members but {} score scales", members.len(), scales.len())));
        }
        let mut d = Self::of_valid(members.iter().map(|m| m.valid()).collect(), alarm_input);
        d.scoring = scoring;
        d.moments = scales.iter().map(|s| d.residual_tensors(s)).collect();
        d.scales = scales;
        Ok(d)
    }

    /// The model's score ([`ScoreKind::Model`]) with the neighbours term added (for a
    /// standardised score).
    pub fn with_neighbours(mut self, neighbours: Option<Neighbours>) -> Result<Self> {
        if let Some(n) = &neighbours {
            if !self.scoring.is_standardised() {
                return Err(Error::Bundle("the neighbours term needs a standardised score, not the alarm's".into()));
            }
            n.check(self.width())?;
        }
        self.neighbours = neighbours;
        Ok(self)
    }

    /// Member `k` alone, scored by its alarm (for its [`MemberScale`]).
    pub fn member(&self, k: usize) -> Detector {
        Self::of_valid(vec![self.members[k].clone()], self.alarm_input)
    }

    pub fn scoring(&self) -> Scoring {
        self.scoring
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The first member (codes for the latent plot, generated codes).
    fn first(&self) -> &Networks {
        &self.members[0]
    }

    /// One member's logit of `x`. `[batch, d]` → `[batch]`.
    fn logit(networks: &Networks, x: Tensor<2>, mode: AlarmInput) -> Tensor<1> {
        let n = x.dims()[0];
        let (_, acts) = alarm_input_rows(&networks.aae, x, mode);
        networks.alarm.forward(acts).reshape([n])
    }

    /// One member's mean squared reconstruction error. `[batch, d]` → `[batch]`.
    fn reconstruction(networks: &Networks, x: Tensor<2>) -> Tensor<1> {
        let n = x.dims()[0];
        let r = networks.aae.reconstruct(x.clone());
        (r - x).square().mean_dim(1).reshape([n])
    }

    /// One member's `ln(e + 1e-12)` (see [`MemberScale`]) given the residual moments as `[1, d]`
    /// tensors. `[batch, d]` → `[batch]`.
    fn log_error(networks: &Networks, x: Tensor<2>, mean: Tensor<2>, std: Tensor<2>) -> Tensor<1> {
        let n = x.dims()[0];
        let r = x.clone() - networks.aae.reconstruct(x);
        ((r - mean) / std).square().mean_dim(1).add_scalar(LOG_FLOOR).log().reshape([n])
    }

    /// `[1, d]` tensors of the residual means and spreads of a scale.
    fn residual_tensors(&self, scale: &MemberScale) -> (Tensor<2>, Tensor<2>) {
        let d = scale.residual.len();
        let mean: Vec<f32> = scale.residual.iter().map(|p| p.0).collect();
        let std: Vec<f32> = scale.residual.iter().map(|p| p.1).collect();
        (
            Tensor::from_data(TensorData::new(mean, [1, d]), &self.device),
            Tensor::from_data(TensorData::new(std, [1, d]), &self.device),
        )
    }

    /// Scores of a batch (over members: their mean), without the residual tails and neighbours
    /// terms (added on the host by [`score`](Self::score)). `[batch, d]` → `[batch]`.
    pub fn score_tensor(&self, x: Tensor<2>, kind: ScoreKind) -> Tensor<1> {
        let kind = match (kind, self.scoring) {
            (ScoreKind::Model, Scoring::Alarm) => ScoreKind::Alarm,
            (kind, _) => kind,
        };
        let per_member = self.members.iter().enumerate().map(|(k, m)| match kind {
            ScoreKind::Alarm => activation::sigmoid(Self::logit(m, x.clone(), self.alarm_input)),
            ScoreKind::AlarmLogit => Self::logit(m, x.clone(), self.alarm_input),
            ScoreKind::Reconstruction => Self::reconstruction(m, x.clone()),
            ScoreKind::Model => {
                // A standardised score (scales checked in `ensemble`); the tails term's part is
                // added on the host (`add_tails`).
                let s = &self.scales[k];
                let weight = self.scoring.error_weight();
                let log_error = if weight == 0.0 {
                    Tensor::zeros([x.dims()[0]], &self.device)
                } else {
                    let (mean, std) = self.moments[k].clone();
                    let log_error = (Self::log_error(m, x.clone(), mean, std) - s.log_error.0) / s.log_error.1;
                    if weight == 1.0 { log_error } else { log_error * weight }
                };
                if self.scoring.reads_alarm() {
                    (Self::logit(m, x.clone(), self.alarm_input) - s.logit.0) / s.logit.1 + log_error
                } else {
                    log_error
                }
            }
        });
        let k = self.members.len() as f32;
        let sum = per_member.reduce(|a, b| a + b).expect("a detector has a member");
        if self.members.len() == 1 { sum } else { sum / k }
    }

    /// Inputs per row.
    fn width(&self) -> usize {
        self.first().aae.encoder.layers[0].weight.val().dims()[0]
    }

    fn check_width(&self, x: &Matrix) -> Result<()> {
        let d = self.width();
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
        let mut scores = match self.batches(x, kind) {
            Some(t) => read_sync(t)?,
            None => Vec::new(),
        };
        if kind == ScoreKind::Model && self.scoring.reads_tails() {
            for (k, scale) in self.scales.iter().enumerate() {
                let mut at = 0;
                for (z, rows) in self.residual_batches(k, x, &self.moments[k]) {
                    self.add_tails(scale, &read_sync(z)?, &mut scores[at..at + rows])?;
                    at += rows;
                }
            }
        }
        self.add_neighbours(x, kind, scores)
    }

    /// Scores of every row (async read; works on WebGPU).
    pub async fn score_async(&self, x: &Matrix, kind: ScoreKind) -> Result<Vec<f32>> {
        self.check_width(x)?;
        let mut scores = match self.batches(x, kind) {
            Some(t) => read_async(t).await?,
            None => Vec::new(),
        };
        if kind == ScoreKind::Model && self.scoring.reads_tails() {
            for (k, scale) in self.scales.iter().enumerate() {
                let mut at = 0;
                for (z, rows) in self.residual_batches(k, x, &self.moments[k]) {
                    self.add_tails(scale, &read_async(z).await?, &mut scores[at..at + rows])?;
                    at += rows;
                }
            }
        }
        self.add_neighbours(x, kind, scores)
    }

    /// Member `k`'s standardised residuals `(x − dec(enc(x)) − μ) / σ` (`moments`: μ and σ as
    /// `[1, d]`) of the rows of `x`, batch by batch of [`SCORE_BATCH`] rows as the iterator is
    /// advanced, each `[rows, d]` with its row count; nothing is read back.
    fn residual_batches<'a>(
        &'a self,
        k: usize,
        x: &'a Matrix,
        moments: &'a (Tensor<2>, Tensor<2>),
    ) -> impl Iterator<Item = (Tensor<2>, usize)> + 'a {
        let m = &self.members[k];
        io::batches(x, &self.device).map(move |t| {
            let rows = t.dims()[0];
            let r = t.clone() - m.aae.reconstruct(t);
            ((r - moments.0.clone()) / moments.1.clone(), rows)
        })
    }

    /// Member `k`'s standardised residuals of the (sampled, at most
    /// [`TAIL_SAMPLE_ROWS`](tails::TAIL_SAMPLE_ROWS)) rows `x`, concatenated; `None` for no rows.
    fn sample_residuals(&self, k: usize, x: &Matrix, moments: &(Tensor<2>, Tensor<2>)) -> Option<Tensor<2>> {
        let parts: Vec<_> = self.residual_batches(k, x, moments).map(|(z, _)| z).collect();
        if parts.is_empty() { None } else { Some(Tensor::cat(parts, 0)) }
    }

    /// Add member `scale`'s tails term, weighted as the scoring says, over the members' mean, to
    /// `scores` (one batch: `z` is its standardised residuals, row-major).
    fn add_tails(&self, scale: &MemberScale, z: &[f32], scores: &mut [f32]) -> Result<()> {
        let tails = scale.tails.as_ref().ok_or_else(|| Error::Bundle("the score reads residual tails the model does not have".into()))?;
        let weight = self.scoring.tails_weight() / self.members.len() as f32;
        for (s, t) in scores.iter_mut().zip(tails.terms(z)) {
            *s += weight * t;
        }
        Ok(())
    }

    /// The model's score: the members' part plus the neighbours term, if the model has one.
    fn add_neighbours(&self, x: &Matrix, kind: ScoreKind, mut scores: Vec<f32>) -> Result<Vec<f32>> {
        // (`with_neighbours`, its only setter, admits it with the combined score alone.)
        if let (ScoreKind::Model, Some(n)) = (kind, &self.neighbours) {
            for (s, t) in scores.iter_mut().zip(n.terms(x)?) {
                *s += t;
            }
        }
        Ok(scores)
    }

    /// Per-batch sums `[batches, 2d]` of member `k`'s residuals and squared residuals.
    fn residual_sums(&self, k: usize, x: &Matrix) -> Option<Tensor<2>> {
        let m = &self.members[k];
        in_batches(x, &self.device, |t| {
            let r = t.clone() - m.aae.reconstruct(t);
            Tensor::cat(vec![r.clone().sum_dim(0), r.square().sum_dim(0)], 1)
        })
    }

    /// Per-batch sums `[batches, 4]` of member `k`'s logits, squared logits, log errors and
    /// squared log errors (the logits 0 when `scoring` does not read the alarm).
    fn term_sums(&self, k: usize, x: &Matrix, residual: &MemberScale, scoring: Scoring) -> Option<Tensor<2>> {
        let m = &self.members[k];
        let (mean, std) = self.residual_tensors(residual);
        in_batches(x, &self.device, |t| {
            let n = t.dims()[0];
            let l = if scoring.reads_alarm() {
                Self::logit(m, t.clone(), self.alarm_input).reshape([n, 1])
            } else {
                Tensor::zeros([n, 1], &self.device)
            };
            let e = Self::log_error(m, t, mean.clone(), std.clone()).reshape([n, 1]);
            Tensor::cat(vec![l.clone().sum_dim(0), l.square().sum_dim(0), e.clone().sum_dim(0), e.square().sum_dim(0)], 1)
        })
    }

    /// Every member's [`MemberScale`] for `scoring` on the training rows `x` (blocking reads;
    /// the logit's moments (0, 1) when `scoring` does not read the alarm).
    pub fn member_scales(&self, x: &Matrix, scoring: Scoring) -> Result<Vec<MemberScale>> {
        self.check_width(x)?;
        let none = || Error::Data("no training rows to measure the score scales on".into());
        (0..self.members.len())
            .map(|k| {
                let sums = read_sync(self.residual_sums(k, x).ok_or_else(none)?)?;
                let residual = MemberScale::residual_moments(&column_sums(&sums, 2 * x.cols), x.rows);
                let partial = MemberScale { residual, logit: (0.0, 1.0), log_error: (0.0, 1.0), tails: None };
                let mut scale = if reads_terms(scoring) {
                    let terms = read_sync(self.term_sums(k, x, &partial, scoring).ok_or_else(none)?)?;
                    MemberScale::with_terms(partial.residual, &column_sums(&terms, 4), x.rows, scoring)
                } else {
                    partial
                };
                if scoring.reads_tails() {
                    let moments = self.residual_tensors(&scale);
                    let sample = tail_sample(x);
                    let z = read_sync(self.sample_residuals(k, &sample, &moments).ok_or_else(none)?)?;
                    let mut fit = TailsFit::new(ResidualTails::fit(&z, sample.rows, x.cols)?);
                    for (t, _) in self.residual_batches(k, x, &moments) {
                        fit.add(&read_sync(t)?);
                    }
                    scale.tails = Some(fit.finish());
                }
                Ok(scale)
            })
            .collect()
    }

    /// As [`member_scales`](Self::member_scales), with asynchronous reads (WebGPU).
    pub async fn member_scales_async(&self, x: &Matrix, scoring: Scoring) -> Result<Vec<MemberScale>> {
        self.check_width(x)?;
        let none = || Error::Data("no training rows to measure the score scales on".into());
        let mut scales = Vec::with_capacity(self.members.len());
        for k in 0..self.members.len() {
            let sums = read_async(self.residual_sums(k, x).ok_or_else(none)?).await?;
            let residual = MemberScale::residual_moments(&column_sums(&sums, 2 * x.cols), x.rows);
            let partial = MemberScale { residual, logit: (0.0, 1.0), log_error: (0.0, 1.0), tails: None };
            let mut scale = if reads_terms(scoring) {
                let terms = read_async(self.term_sums(k, x, &partial, scoring).ok_or_else(none)?).await?;
                MemberScale::with_terms(partial.residual, &column_sums(&terms, 4), x.rows, scoring)
            } else {
                partial
            };
            if scoring.reads_tails() {
                let moments = self.residual_tensors(&scale);
                let sample = tail_sample(x);
                let z = read_async(self.sample_residuals(k, &sample, &moments).ok_or_else(none)?).await?;
                let mut fit = TailsFit::new(ResidualTails::fit(&z, sample.rows, x.cols)?);
                for (t, _) in self.residual_batches(k, x, &moments) {
                    fit.add(&read_async(t).await?);
                }
                scale.tails = Some(fit.finish());
            }
            scales.push(scale);
        }
        Ok(scales)
    }

    /// Every member's residuals of a batch side by side, standardised by its scale (raw
    /// without scales). `[batch, d]` → `[batch, members · d]`.
    fn member_residuals(&self, x: Tensor<2>) -> Tensor<2> {
        let parts = self.members.iter().enumerate().map(|(k, m)| {
            let r = x.clone() - m.aae.reconstruct(x.clone());
            match self.moments.get(k) {
                Some((mean, std)) => (r - mean.clone()) / std.clone(),
                None => r,
            }
        });
        Tensor::cat(parts.collect(), 1)
    }

    /// Per row and input, the input's part in the row's score (what [`crate::explain`] splits
    /// by column), from the members' residuals `z` (`[rows × members · d]`, row-major) and the
    /// rows themselves (`[rows × d]`, row-major). A standardised score is a weighted sum of
    /// logarithms of sums over the inputs (the log error `ln Σ_j z_j²`, the tails term
    /// `ln Σ_j −ln p_j`, the neighbours term `½ ln Σ_j (x_j − n_j)²`, each over its standard
    /// deviation on the training rows); an input's part is, over those terms, the term's weight
    /// times the input's fraction of the term's sum: how much the score moves per relative change
    /// of that input's parts. The alarm's logit is not split (it reads hidden activations).
    /// Without scales: the members' mean squared residual.
    fn contributions_of(&self, z: &[f32], x: &[f32]) -> Result<Vec<f32>> {
        let (d, members) = (self.width(), self.members.len());
        let tails = self.scoring.reads_tails();
        let (error_weight, tails_weight) = (self.scoring.error_weight(), self.scoring.tails_weight());
        let share = |out: &mut [f32], parts: &[f32], weight: f32| {
            let sum: f32 = parts.iter().sum();
            if sum > 0.0 && sum.is_finite() {
                for (o, p) in out.iter_mut().zip(parts) {
                    *o += weight * p / sum;
                }
            }
        };
        let mut out = vec![0f32; x.len()];
        for ((zs, row), o) in z.chunks_exact(members * d).zip(x.chunks_exact(d)).zip(out.chunks_exact_mut(d)) {
            for (k, zk) in zs.chunks_exact(d).enumerate() {
                let squares: Vec<f32> = zk.iter().map(|v| v * v).collect();
                let Some(scale) = self.scales.get(k) else {
                    o.iter_mut().zip(&squares).for_each(|(o, s)| *o += s / members as f32);
                    continue;
                };
                if error_weight > 0.0 {
                    share(o, &squares, error_weight / (members as f32 * scale.log_error.1));
                }
                if tails {
                    let tails = scale.tails.as_ref().ok_or_else(|| Error::Bundle("the score reads residual tails the model does not have".into()))?;
                    share(o, &tails.input_parts(zk), tails_weight / (members as f32 * tails.log_sum.1));
                }
            }
            if let Some(n) = &self.neighbours {
                share(o, &n.distance_parts(row), 0.5 / n.log_distance.1);
            }
        }
        Ok(out)
    }

    /// [`contributions_of`](Self::contributions_of) every row: `[rows × d]` (blocking reads).
    pub fn input_contributions(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let mut values = Vec::with_capacity(x.rows * x.cols);
        for (start, t) in (0..x.rows).step_by(SCORE_BATCH).zip(io::batches(x, &self.device)) {
            let rows = &x.values[start * x.cols..(start + t.dims()[0]) * x.cols];
            values.extend(self.contributions_of(&read_sync(self.member_residuals(t))?, rows)?);
        }
        Ok(Matrix::new(x.rows, x.cols, values))
    }

    /// As [`input_contributions`](Self::input_contributions), read asynchronously (WebGPU).
    pub async fn input_contributions_async(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let mut values = Vec::with_capacity(x.rows * x.cols);
        for (start, t) in (0..x.rows).step_by(SCORE_BATCH).zip(io::batches(x, &self.device)) {
            let rows = &x.values[start * x.cols..(start + t.dims()[0]) * x.cols];
            values.extend(self.contributions_of(&read_async(self.member_residuals(t)).await?, rows)?);
        }
        Ok(Matrix::new(x.rows, x.cols, values))
    }

    /// The first member's residuals `x − dec(enc(x))`: `[rows × d]` row-major (blocking read).
    pub fn residuals(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let m = self.first();
        let values = match in_batches(x, &self.device, |t| t.clone() - m.aae.reconstruct(t)) {
            Some(t) => read_sync(t)?,
            None => Vec::new(),
        };
        Ok(Matrix::new(x.rows, x.cols, values))
    }

    fn code_size(&self) -> usize {
        self.first().aae.encoder.layers.last().expect("an encoder has layers").weight.val().dims()[1]
    }

    /// Codes of all rows as one tensor `[rows, code]`, computed in batches.
    fn code_batches(&self, x: &Matrix) -> Option<Tensor<2>> {
        in_batches(x, &self.device, |t| self.first().aae.encode(t))
    }

    /// Codes of every row by the first member: `[rows × code]` row-major (for the latent plot and
    /// code statistics).
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

    /// Generated anomaly codes `h~ = f_gen(n)` of the first member for `n` noise draws (for the
    /// latent picture).
    pub async fn generated_codes_async(&self, n: usize) -> Result<Matrix> {
        let generator = &self.first().generator;
        let g = generator.net.layers[0].weight.val().dims()[0];
        let code = generator.net.layers.last().unwrap().weight.val().dims()[1];
        let noise = Tensor::random([n, g], burn::tensor::Distribution::Normal(0.0, 1.0), &self.device);
        let values = read_async(generator.forward(noise)).await?;
        Ok(Matrix::new(n, code, values))
    }
}
