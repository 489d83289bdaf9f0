//! Each input's part in a row's score (what `crate::explain` splits by column), from the
//! members' residuals and the row's distance to its neighbours.

use burn::tensor::Tensor;

use super::Detector;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::tensors::{self, SCORE_BATCH, in_batches, read};

impl Detector {
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
    /// of that input's parts. The alarm's logit is not split (it reads hidden activations), nor
    /// the neighbours term's density ratio (it sets the row's distance against its neighbours').
    /// Without scales: the members' mean squared residual.
    fn contributions_of(&self, z: &[f32], x: &[f32]) -> Result<Vec<f32>> {
        let (d, members) = (self.width(), self.members.len());
        let tails = self.scoring.reads_tails();
        let (error_weight, tails_weight) = (self.scoring.error_weight(), self.tails_weight());
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

    /// [`contributions_of`](Self::contributions_of) every row: `[rows × d]`.
    pub async fn input_contributions(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let mut values = Vec::with_capacity(x.rows * x.cols);
        for (start, t) in (0..x.rows).step_by(SCORE_BATCH).zip(tensors::batches(x, &self.device)) {
            let rows = &x.values[start * x.cols..(start + t.dims()[0]) * x.cols];
            values.extend(self.contributions_of(&read(self.member_residuals(t)).await?, rows)?);
        }
        Ok(Matrix::new(x.rows, x.cols, values))
    }

    /// The first member's residuals `x − dec(enc(x))`: `[rows × d]` row-major.
    pub async fn residuals(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let m = self.first();
        let values = match in_batches(x, &self.device, |t| t.clone() - m.aae.reconstruct(t)) {
            Some(t) => read(t).await?,
            None => Vec::new(),
        };
        Ok(Matrix::new(x.rows, x.cols, values))
    }
}
