//! What standardises a member's score, measured on the training rows: per input the residual's
//! mean and spread, the moments of the alarm's logit and of the log error, the residual tails.

use burn::tensor::Tensor;

use super::Detector;
use super::tails::{self, ResidualTails, TailsFit};
use crate::config::Scoring;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::tensors::{in_batches, read};

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

/// (mean, std) of a score's term over the training rows, from a count, a sum and a sum of
/// squares; where the rows show no spread in it the std is 1
/// ([`spread_or_unit`](super::neighbours::spread_or_unit)), not a near-zero divisor.
pub(crate) fn term_moments(n: f64, sum: f64, squares: f64) -> (f32, f32) {
    let (mean, std) = moments(n, sum, squares, 0.0);
    (mean, super::neighbours::spread_or_unit(std))
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
            logit: if scoring.reads_alarm() { term_moments(n as f64, sums[0], sums[1]) } else { (0.0, 1.0) },
            log_error: term_moments(n as f64, sums[2], sums[3]),
            tails: None,
        }
    }
}

impl Detector {
    /// Member `k`'s standardised residuals of the (sampled, at most
    /// [`TAIL_SAMPLE_ROWS`](tails::TAIL_SAMPLE_ROWS)) rows `x`, concatenated; `None` for no rows.
    fn sample_residuals(&self, k: usize, x: &Matrix, moments: &(Tensor<2>, Tensor<2>)) -> Option<Tensor<2>> {
        let parts: Vec<_> = self.residual_batches(k, x, moments).map(|(z, _)| z).collect();
        if parts.is_empty() { None } else { Some(Tensor::cat(parts, 0)) }
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

    /// Every member's [`MemberScale`] for `scoring` on the training rows `x` (the logit's moments
    /// (0, 1) when `scoring` does not read the alarm).
    pub async fn member_scales(&self, x: &Matrix, scoring: Scoring) -> Result<Vec<MemberScale>> {
        self.check_width(x)?;
        let none = || Error::Data("no training rows to measure the score scales on".into());
        let mut scales = Vec::with_capacity(self.members.len());
        for k in 0..self.members.len() {
            let sums = read(self.residual_sums(k, x).ok_or_else(none)?).await?;
            let residual = MemberScale::residual_moments(&column_sums(&sums, 2 * x.cols), x.rows);
            let partial = MemberScale { residual, logit: (0.0, 1.0), log_error: (0.0, 1.0), tails: None };
            let mut scale = if reads_terms(scoring) {
                let terms = read(self.term_sums(k, x, &partial, scoring).ok_or_else(none)?).await?;
                MemberScale::with_terms(partial.residual, &column_sums(&terms, 4), x.rows, scoring)
            } else {
                partial
            };
            if scoring.reads_tails() {
                let moments = self.residual_tensors(&scale);
                let sample = tail_sample(x);
                let z = read(self.sample_residuals(k, &sample, &moments).ok_or_else(none)?).await?;
                let mut fit = TailsFit::new(ResidualTails::fit(&z, sample.rows, x.cols)?);
                for (t, _) in self.residual_batches(k, x, &moments) {
                    fit.add(&read(t).await?);
                }
                scale.tails = Some(fit.finish());
            }
            scales.push(scale);
        }
        Ok(scales)
    }
}
