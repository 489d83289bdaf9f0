//! The residual tails term of [`Scoring::Tails`](crate::config::Scoring) (the default's score)
//! and `ReconstructionAndTails`: each input's standardised residual `|z_j|` as `−ln` of its
//! upper-tail probability among the training rows, summed over the inputs (ECOD's view, Li et al.
//! 2022, of the AAE's residuals rather than of the inputs). Host code: the residuals are read back
//! per batch.

use serde::{Deserialize, Serialize};

use super::LOG_FLOOR;
use crate::error::{Error, Result};

/// Points of each input's tail grid.
pub const TAIL_POINTS: usize = 64;
/// At most this many training rows (every ⌈n / this⌉-th) give the grid.
pub const TAIL_SAMPLE_ROWS: usize = 20_000;
/// A grid point closer than this (in `|z|`, residual standard deviations) to the one kept before
/// it is dropped: each segment's slope stays below (its rise in `−ln p`) / this, so that a rounding
/// difference in a residual (native against WebAssembly) moves the score by a bounded amount
/// rather than across a near-vertical step. Costs nothing measurable (docs/results.md).
pub const TAIL_MIN_GAP: f32 = 0.1;

/// One input's tail: `|z|` at upper-tail probabilities `p_i = (m + 1)^(−i / (P − 1))` of the `m`
/// sampled training rows (the points [`TAIL_MIN_GAP`] apart kept); between two points `−ln p` is
/// interpolated linearly, beyond the last it grows by one per `beyond_scale` (an exponential
/// tail fitted to the top 5 %), so rows past every training row keep their order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailGrid {
    /// `|z|` of each point, increasing.
    pub quantiles: Vec<f32>,
    /// `−ln p` of each point, increasing from 0.
    pub nll: Vec<f32>,
    /// The exponential tail's scale beyond the last point (> 0).
    pub beyond_scale: f32,
}

/// The residual tails of one member: a [`TailGrid`] per input and the term's moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResidualTails {
    pub inputs: Vec<TailGrid>,
    /// (mean, standard deviation) over the training rows of `ln(Σ_j −ln p_j + 1e-12)`.
    pub log_sum: (f32, f32),
}

/// A fitted grid whose term's moments are summed over the training rows batch by batch (no
/// `[rows × d]` copy of the residuals is held).
pub(crate) struct TailsFit {
    tails: ResidualTails,
    rows: usize,
    sum: f64,
    squares: f64,
}

impl TailsFit {
    pub(crate) fn new(tails: ResidualTails) -> Self {
        TailsFit { tails, rows: 0, sum: 0.0, squares: 0.0 }
    }

    /// One batch of standardised residuals, row-major.
    pub(crate) fn add(&mut self, z: &[f32]) {
        let d = self.tails.inputs.len();
        let logs: Vec<f32> = z.chunks_exact(d).map(|row| self.tails.log_sum_of(row)).collect();
        self.add_log_sums(logs.into_iter());
    }

    fn add_log_sums(&mut self, logs: impl Iterator<Item = f32>) {
        for l in logs {
            self.rows += 1;
            self.sum += l as f64;
            self.squares += (l as f64) * (l as f64);
        }
    }

    /// The grid with the term's (mean, standard deviation) over the rows.
    pub(crate) fn finish(mut self) -> ResidualTails {
        self.tails.log_sum = super::term_moments(self.rows as f64, self.sum, self.squares);
        self.tails
    }
}

/// The stride that samples at most [`TAIL_SAMPLE_ROWS`] of `rows`.
pub fn sample_stride(rows: usize) -> usize {
    rows.div_ceil(TAIL_SAMPLE_ROWS).max(1)
}

impl ResidualTails {
    /// The grid from the standardised residuals `z` of `rows` sampled training rows (`[rows × d]`
    /// row-major); `log_sum` (0, 1) until [`with_log_sum`](Self::with_log_sum).
    pub fn fit(z: &[f32], rows: usize, d: usize) -> Result<Self> {
        if rows == 0 || d == 0 || z.len() != rows * d {
            return Err(Error::Data("no training residuals to fit the residual tails on".into()));
        }
        let m = rows as f64;
        let levels: Vec<f32> = (0..TAIL_POINTS).map(|i| (i as f64 / (TAIL_POINTS - 1) as f64 * (m + 1.0).ln()) as f32).collect();
        let mut inputs = Vec::with_capacity(d);
        let mut column = vec![0f32; rows];
        for j in 0..d {
            for (c, row) in column.iter_mut().zip(z.chunks_exact(d)) {
                *c = row[j].abs();
            }
            column.sort_by(f32::total_cmp);
            let mut grid = TailGrid { quantiles: Vec::new(), nll: Vec::new(), beyond_scale: 0.0 };
            for &l in &levels {
                // The value with `(m + 1)·p` rows at or above it (counting itself and one more).
                let index = ((m + 1.0) - (-(l as f64)).exp() * (m + 1.0)).round().clamp(0.0, m - 1.0) as usize;
                let q = column[index];
                if grid.quantiles.last().is_none_or(|&last| q >= last + TAIL_MIN_GAP) {
                    grid.quantiles.push(q);
                    grid.nll.push(l);
                }
            }
            let top = &column[(0.95 * m) as usize..];
            let mean = top.iter().map(|&v| v as f64).sum::<f64>() / top.len() as f64;
            grid.beyond_scale = ((mean - top[0] as f64) as f32).max(1e-6);
            inputs.push(grid);
        }
        Ok(ResidualTails { inputs, log_sum: (0.0, 1.0) })
    }

    /// With the mean and standard deviation of [`log_sum_of`](Self::log_sum_of) over the training
    /// rows.
    pub fn with_log_sum(self, log_sums: &[f32]) -> Self {
        let mut fit = TailsFit::new(self);
        fit.add_log_sums(log_sums.iter().copied());
        fit.finish()
    }

    /// `−ln p` of `|z|` for input `j` (not a number for a residual that is not: never the
    /// "perfectly normal" 0).
    fn nll_of(&self, j: usize, z: f32) -> f32 {
        let TailGrid { quantiles: q, nll, beyond_scale } = &self.inputs[j];
        let v = z.abs();
        if v.is_nan() {
            return f32::NAN;
        }
        let last = q.len() - 1;
        if v > q[last] {
            return nll[last] + (v - q[last]) / beyond_scale;
        }
        // First point at or above v: between it and the one before, −ln p is linear in |z|.
        match q.partition_point(|&p| p < v) {
            0 => nll[0],
            i => nll[i - 1] + (v - q[i - 1]) / (q[i] - q[i - 1]) * (nll[i] - nll[i - 1]),
        }
    }

    /// `ln(Σ_j −ln p_j(|z_j|) + 1e-12)` of one row's standardised residuals `[d]`.
    pub fn log_sum_of(&self, z: &[f32]) -> f32 {
        let sum: f32 = z.iter().enumerate().map(|(j, &v)| self.nll_of(j, v)).sum();
        (sum + LOG_FLOOR).ln()
    }

    /// Per input, `−ln p_j(|z_j|)` of one row's standardised residuals `[d]`: the parts of the
    /// sum the term reads (for explanations).
    pub fn input_parts(&self, z: &[f32]) -> Vec<f32> {
        z.iter().enumerate().map(|(j, &v)| self.nll_of(j, v)).collect()
    }

    /// The standardised term `(log_sum_of(z) − mean) / std` of every row of `z` (`[rows × d]`).
    pub fn terms(&self, z: &[f32]) -> Vec<f32> {
        let d = self.inputs.len();
        z.chunks_exact(d).map(|row| (self.log_sum_of(row) - self.log_sum.0) / self.log_sum.1).collect()
    }

    /// Check a stored grid against the model's width (bundles).
    pub fn check(&self, d: usize) -> Result<()> {
        let bad = |what: String| Err(Error::Bundle(format!("the residual tails are not valid: {what}")));
        if self.inputs.len() != d {
            return bad(format!("{} grids for {d} inputs", self.inputs.len()));
        }
        if !self.log_sum.0.is_finite() || !(self.log_sum.1.is_finite() && self.log_sum.1 > 0.0) {
            return bad("the moments are not finite and positive".into());
        }
        for (j, g) in self.inputs.iter().enumerate() {
            let points = g.quantiles.len();
            if points == 0 || points > TAIL_POINTS || g.nll.len() != points {
                return bad(format!("input {j} has {points} quantiles and {} levels", g.nll.len()));
            }
            let finite = g.quantiles.iter().chain(&g.nll).all(|v| v.is_finite());
            let increasing = |v: &[f32]| v.windows(2).all(|w| w[1] > w[0]);
            if !finite || g.quantiles[0] < 0.0 || !increasing(&g.quantiles) || !increasing(&g.nll) || !(g.beyond_scale > 0.0 && g.beyond_scale.is_finite()) {
                return bad(format!("input {j}'s grid is not finite and increasing"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One input, z = 0, 1, …, 99: the grid ranks a value as the training rows do, and beyond
    /// the largest the term keeps growing.
    #[test]
    fn tail_probabilities_follow_the_training_ranks() {
        let z: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let t = ResidualTails::fit(&z, 100, 1).unwrap();
        t.check(1).unwrap();
        let g = &t.inputs[0];
        assert_eq!(g.nll[0], 0.0);
        assert!(g.quantiles.windows(2).all(|w| w[1] - w[0] >= TAIL_MIN_GAP), "{g:?}");
        // Below the smallest: probability 1. The largest: the first grid level at its value (the
        // top levels all fall on it): its rank gives −ln(2 / 101) ≈ 3.9, 100 rows' grid a little less.
        assert_eq!(t.nll_of(0, 0.0), 0.0);
        assert!(t.nll_of(0, 99.0) > 3.5 && t.nll_of(0, 99.0) <= (101f32).ln(), "{}", t.nll_of(0, 99.0));
        // The median: about half the rows at or above it, so −ln p ≈ ln 2.
        assert!((t.nll_of(0, 50.0) - 2f32.ln()).abs() < 0.05, "{}", t.nll_of(0, 50.0));
        // Negative residuals count by their size; past the largest the term grows linearly.
        assert_eq!(t.nll_of(0, -50.0), t.nll_of(0, 50.0));
        let (scale, top) = (g.beyond_scale, *g.nll.last().unwrap());
        assert!((t.nll_of(0, 99.0 + scale) - top - 1.0).abs() < 1e-4);
        assert!((t.nll_of(0, 99.0 + 3.0 * scale) - t.nll_of(0, 99.0 + scale) - 2.0).abs() < 1e-4);
        // Monotone in |z|.
        let mut last = -1.0;
        for i in 0..300 {
            let v = t.nll_of(0, i as f32 * 0.5);
            assert!(v >= last, "{v} after {last} at {}", i as f32 * 0.5);
            last = v;
        }
    }

    /// A residual that is not a number makes the row's term not a number (which scoring turns
    /// into an error naming the row), never the "perfectly normal" 0 of probability 1.
    #[test]
    fn a_residual_that_is_not_a_number_is_not_normal() {
        let z: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let t = ResidualTails::fit(&z, 100, 1).unwrap();
        assert!(t.nll_of(0, f32::NAN).is_nan());
        assert!(t.log_sum_of(&[f32::NAN]).is_nan());
    }

    /// The row's term sums its inputs' −ln p, and the standardised term uses the stored moments.
    #[test]
    fn terms_sum_inputs_and_standardise() {
        let rows = 200;
        let z: Vec<f32> = (0..rows).flat_map(|i| [i as f32 / 10.0, (i % 20) as f32]).collect();
        let t = ResidualTails::fit(&z, rows, 2).unwrap();
        let row = [3.3f32, 7.0];
        let expected = (t.nll_of(0, 3.3) + t.nll_of(1, 7.0) + LOG_FLOOR).ln();
        assert!((t.log_sum_of(&row) - expected).abs() < 1e-6);
        let logs: Vec<f32> = z.chunks_exact(2).map(|r| t.log_sum_of(r)).collect();
        let t = t.with_log_sum(&logs);
        let terms = t.terms(&z);
        let mean = terms.iter().sum::<f32>() / rows as f32;
        let var = terms.iter().map(|v| v * v).sum::<f32>() / rows as f32 - mean * mean;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "{mean} {var}");
    }

    /// Near-ties in the training residuals make no near-vertical step: a rounding-sized change of
    /// `|z|` moves `−ln p` by at most (its largest rise) / [`TAIL_MIN_GAP`] times as much.
    #[test]
    fn rounding_moves_the_term_by_a_bounded_amount() {
        // Clusters of nearly equal values, as the top of a residual distribution has.
        let z: Vec<f32> = (0..5000).map(|i| (i / 50) as f32 * 0.3 + (i % 50) as f32 * 1e-6).collect();
        let t = ResidualTails::fit(&z, 5000, 1).unwrap();
        let bound = (5001f32).ln() / TAIL_MIN_GAP;
        for i in 0..4000 {
            let v = i as f32 * 0.0075;
            let step = (t.nll_of(0, v + 1e-4) - t.nll_of(0, v)).abs();
            assert!(step <= 1e-4 * bound * 1.01, "at {v}: {step}");
        }
    }

    #[test]
    fn stored_grids_are_checked() {
        let z: Vec<f32> = (0..50).map(|i| i as f32).collect();
        let t = ResidualTails::fit(&z, 50, 1).unwrap();
        assert!(t.check(2).is_err());
        let mut bad = t.clone();
        bad.inputs[0].quantiles[0] = -1.0;
        assert!(bad.check(1).is_err());
        let mut bad = t.clone();
        bad.inputs[0].quantiles.swap(1, 3);
        assert!(bad.check(1).is_err());
        let mut bad = t.clone();
        bad.inputs[0].nll.pop();
        assert!(bad.check(1).is_err());
        let mut bad = t.clone();
        bad.inputs[0].beyond_scale = f32::NAN;
        assert!(bad.check(1).is_err());
        assert!(ResidualTails::fit(&[], 0, 1).is_err());
        assert_eq!(sample_stride(20_000), 1);
        assert_eq!(sample_stride(20_001), 2);
        assert_eq!(sample_stride(0), 1);
    }
}
