//! Scores of rows: the members' part on the device (the alarm, its logit, the reconstruction
//! error, the log error), then the residual tails and neighbours terms on the host.

use burn::tensor::{Tensor, activation};

use super::{Detector, LOG_FLOOR, MemberScale, ScoreKind};
use crate::config::{AlarmInput, Scoring};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::{Networks, alarm_input_rows};
use crate::tensors::{self, in_batches, read};

impl Detector {
    /// One member's logit of `x`. `[batch, d]` → `[batch]`.
    pub(crate) fn logit(networks: &Networks, x: Tensor<2>, mode: AlarmInput) -> Tensor<1> {
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
    pub(crate) fn log_error(networks: &Networks, x: Tensor<2>, mean: Tensor<2>, std: Tensor<2>) -> Tensor<1> {
        let n = x.dims()[0];
        let r = x.clone() - networks.aae.reconstruct(x);
        ((r - mean) / std).square().mean_dim(1).add_scalar(LOG_FLOOR).log().reshape([n])
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

    fn batches(&self, x: &Matrix, kind: ScoreKind) -> Option<Tensor<1>> {
        in_batches(x, &self.device, |t| self.score_tensor(t, kind))
    }

    /// Scores of every row. A score that is not a number (weights or inputs that overflow) is
    /// an error naming the row, never a row that looks normal.
    pub async fn score(&self, x: &Matrix, kind: ScoreKind) -> Result<Vec<f32>> {
        self.check_width(x)?;
        let mut scores = match self.batches(x, kind) {
            Some(t) => read(t).await?,
            None => Vec::new(),
        };
        if kind == ScoreKind::Model && self.scoring.reads_tails() {
            for (k, scale) in self.scales.iter().enumerate() {
                let mut at = 0;
                for (z, rows) in self.residual_batches(k, x, &self.moments[k]) {
                    self.add_tails(scale, &read(z).await?, &mut scores[at..at + rows])?;
                    at += rows;
                }
            }
        }
        let scores = self.add_neighbours(x, kind, scores)?;
        match scores.iter().position(|s| s.is_nan()) {
            Some(row) => Err(Error::Data(format!("the score of row {} is not a number (its inputs or the model overflow)", row + 1))),
            None => Ok(scores),
        }
    }

    /// Member `k`'s standardised residuals `(x − dec(enc(x)) − μ) / σ` (`moments`: μ and σ as
    /// `[1, d]`) of the rows of `x`, batch by batch of [`SCORE_BATCH`](crate::tensors::SCORE_BATCH) rows as the iterator is
    /// advanced, each `[rows, d]` with its row count; nothing is read back.
    pub(crate) fn residual_batches<'a>(
        &'a self,
        k: usize,
        x: &'a Matrix,
        moments: &'a (Tensor<2>, Tensor<2>),
    ) -> impl Iterator<Item = (Tensor<2>, usize)> + 'a {
        let m = &self.members[k];
        tensors::batches(x, &self.device).map(move |t| {
            let rows = t.dims()[0];
            let r = t.clone() - m.aae.reconstruct(t);
            ((r - moments.0.clone()) / moments.1.clone(), rows)
        })
    }

    /// Add member `scale`'s tails term, weighted as the scoring says, over the members' mean, to
    /// `scores` (one batch: `z` is its standardised residuals, row-major).
    fn add_tails(&self, scale: &MemberScale, z: &[f32], scores: &mut [f32]) -> Result<()> {
        let tails = scale.tails.as_ref().ok_or_else(|| Error::Bundle("the score reads residual tails the model does not have".into()))?;
        let weight = self.tails_weight() / self.members.len() as f32;
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
}
