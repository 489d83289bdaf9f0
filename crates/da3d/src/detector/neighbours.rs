//! The neighbours term of the combined score: how far a row lies from the training rows in the
//! networks' input space (min-max scaled, one-hot), as `ln` of the Euclidean distance to its
//! `k`-th nearest reference row, standardised by the mean and standard deviation of the same over
//! the training rows, each training row leaving itself out.
//!
//! The autoencoder and the alarm see a row through a narrow code; a row in a sparse region of the
//! training data that the code maps among normal ones escapes both. The distance sees it
//! (docs/results.md: the study on eight tables). Plain host arithmetic, no tensors: the same
//! numbers on every backend, natively and in the browser.

use rand::seq::index::sample;
use rand::{SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use crate::data::Matrix;
use crate::error::{Error, Result};

/// Most reference rows a model keeps.
pub const MAX_REFERENCE_ROWS: usize = 10_000;
/// Most reference values (rows × inputs) a model keeps: wide one-hot tables keep fewer rows.
pub const MAX_REFERENCE_VALUES: usize = 500_000;
/// Added to the distance before its logarithm (duplicates of a row lie at distance 0).
pub const DISTANCE_FLOOR: f64 = 1e-12;
/// Mixed into the model's seed for the choice of reference rows.
const REFERENCE_SEED: u64 = 0x6e65_6967_6862_6f75; // "neighbou"

/// The reference rows and the training rows' statistics of the neighbours term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbours {
    /// The neighbour whose distance counts (1 = the nearest).
    pub k: usize,
    /// Inputs per row.
    pub width: usize,
    /// Reference rows, row-major `[rows × width]`: every training row, or a seeded sample of
    /// them when there are more than [`reference_rows`] allows.
    pub reference: Vec<f32>,
    /// Mean and standard deviation of `ln(distance + 1e-12)` over the training rows.
    pub log_distance: (f32, f32),
}

/// How many reference rows a table of `rows` training rows and `width` inputs keeps.
pub fn reference_rows(rows: usize, width: usize) -> usize {
    rows.min(MAX_REFERENCE_ROWS).min((MAX_REFERENCE_VALUES / width.max(1)).max(2))
}

impl Neighbours {
    /// Fit on the training rows: choose the reference rows (seeded), measure the training rows'
    /// log distances (each leaving itself out) and their mean and spread. Also returns those
    /// log distances, one per training row (the training rows' own term, for the threshold).
    pub fn fit(train: &Matrix, k: usize, seed: u64) -> Result<(Neighbours, Vec<f32>)> {
        if k == 0 {
            return Err(Error::config("ensemble.neighbours", "0 turns the neighbours term off; fit needs k ≥ 1"));
        }
        if train.rows < 2 {
            return Err(Error::Data(format!("the neighbours term needs at least 2 training rows, got {}", train.rows)));
        }
        let n = reference_rows(train.rows, train.cols);
        let mut chosen: Vec<usize> = if n == train.rows {
            (0..n).collect()
        } else {
            let mut rng = StdRng::seed_from_u64(seed ^ REFERENCE_SEED);
            sample(&mut rng, train.rows, n).into_vec()
        };
        chosen.sort_unstable();
        // Each training row's position among the reference rows, if it is one (to leave out).
        let mut position = vec![None; train.rows];
        for (p, &i) in chosen.iter().enumerate() {
            position[i] = Some(p);
        }
        let k = k.min(n - 1);
        let reference = train.select(&chosen).values;
        let mut neighbours = Neighbours { k, width: train.cols, reference, log_distance: (0.0, 1.0) };
        let logs: Vec<f32> =
            (0..train.rows).map(|i| neighbours.log_distance_of(train.row(i), position[i])).collect();
        let count = logs.len() as f64;
        let mean = logs.iter().map(|&l| l as f64).sum::<f64>() / count;
        let var = logs.iter().map(|&l| (l as f64 - mean).powi(2)).sum::<f64>() / count;
        neighbours.log_distance = (mean as f32, (var.sqrt() as f32).max(1e-6));
        Ok((neighbours, logs))
    }

    /// Reference rows.
    pub fn rows(&self) -> usize {
        self.reference.len() / self.width.max(1)
    }

    /// `ln(distance + 1e-12)` from `row` to its `k`-th nearest reference row, the reference row at
    /// `skip` left out.
    fn log_distance_of(&self, row: &[f32], skip: Option<usize>) -> f32 {
        let (squared, _) = self.kth_nearest(row, skip);
        ((squared as f64).sqrt() + DISTANCE_FLOOR).ln() as f32
    }

    /// The squared distance from `row` to its `k`-th nearest reference row (the one at `skip`
    /// left out) and that row's position.
    fn kth_nearest(&self, row: &[f32], skip: Option<usize>) -> (f32, usize) {
        // The k smallest squared distances so far with their rows, ascending.
        let mut nearest = vec![(f32::INFINITY, 0); self.k];
        for (p, reference) in self.reference.chunks_exact(self.width).enumerate() {
            if skip == Some(p) {
                continue;
            }
            let d = squared_distance(row, reference);
            if d < nearest[self.k - 1].0 {
                let at = nearest.partition_point(|&(v, _)| v <= d);
                nearest.insert(at, (d, p));
                nearest.pop();
            }
        }
        nearest[self.k - 1]
    }

    /// Per input, `(x_j − n_j)²` between `row` and its `k`-th nearest reference row `n`: the
    /// parts of the squared distance the term reads (for explanations).
    pub fn distance_parts(&self, row: &[f32]) -> Vec<f32> {
        let (_, p) = self.kth_nearest(row, None);
        let reference = &self.reference[p * self.width..(p + 1) * self.width];
        row.iter().zip(reference).map(|(a, b)| (a - b) * (a - b)).collect()
    }

    /// The standardised term of every row of `x`: `(ln(distance + 1e-12) − mean) / std`.
    pub fn terms(&self, x: &Matrix) -> Result<Vec<f32>> {
        if x.cols != self.width {
            return Err(Error::Schema(format!("the data has {} features, the neighbours term expects {}", x.cols, self.width)));
        }
        Ok((0..x.rows).map(|i| self.standardise(self.log_distance_of(x.row(i), None))).collect())
    }

    /// `(log_distance − mean) / std`.
    pub fn standardise(&self, log_distance: f32) -> f32 {
        (log_distance - self.log_distance.0) / self.log_distance.1
    }

    /// Check a stored term against the networks' input width (a bundle read from bytes).
    pub fn check(&self, width: usize) -> Result<()> {
        let (mean, std) = self.log_distance;
        if self.width != width || self.width == 0 || self.reference.len() % self.width != 0 {
            return Err(Error::Bundle(format!(
                "the neighbours term holds {} values of {}-input rows but the networks take {width} inputs",
                self.reference.len(),
                self.width
            )));
        }
        if self.k == 0 || self.k > self.rows() || self.rows() < 2 {
            return Err(Error::Bundle(format!("the neighbours term has k = {} but {} reference rows", self.k, self.rows())));
        }
        if !(mean.is_finite() && std.is_finite() && std > 0.0) || !self.reference.iter().all(|v| v.is_finite()) {
            return Err(Error::Bundle("the neighbours term is not finite".into()));
        }
        Ok(())
    }
}

/// `Σ (a_j − b_j)²` in eight independent sums (vectorised; the same order everywhere).
fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for j in 0..8 {
            let d = x[j] - y[j];
            sums[j] += d * d;
        }
    }
    let mut total = sums.iter().sum::<f32>();
    for (x, y) in a_rest.iter().zip(b_rest) {
        total += (x - y) * (x - y);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_kth(rows: &[[f32; 2]], x: [f32; 2], k: usize, skip: Option<usize>) -> f32 {
        let mut d: Vec<f32> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(_, r)| ((r[0] - x[0]).powi(2) + (r[1] - x[1]).powi(2)).sqrt())
            .collect();
        d.sort_by(f32::total_cmp);
        d[k - 1]
    }

    #[test]
    fn the_term_is_the_log_distance_to_the_kth_neighbour_each_training_row_leaving_itself_out() {
        let rows = [[0.0, 0.0], [0.1, 0.0], [0.0, 0.3], [0.5, 0.5], [0.9, 0.1], [0.2, 0.2]];
        let train = Matrix::new(6, 2, rows.iter().flatten().copied().collect());
        let (n, logs) = Neighbours::fit(&train, 2, 7).unwrap();
        assert_eq!((n.k, n.rows(), n.width), (2, 6, 2));
        for (i, r) in rows.iter().enumerate() {
            let want = ((brute_kth(&rows, *r, 2, Some(i)) as f64) + DISTANCE_FLOOR).ln() as f32;
            assert!((logs[i] - want).abs() < 1e-5, "row {i}: {} vs {want}", logs[i]);
        }
        let mean = logs.iter().sum::<f32>() / 6.0;
        assert!((n.log_distance.0 - mean).abs() < 1e-5);
        // A new row: its k-th neighbour among all reference rows, standardised.
        let x = Matrix::new(1, 2, vec![0.05, 0.05]);
        let want = n.standardise(((brute_kth(&rows, [0.05, 0.05], 2, None) as f64 + DISTANCE_FLOOR).ln()) as f32);
        assert!((n.terms(&x).unwrap()[0] - want).abs() < 1e-5);
        // A far row scores above every training row.
        let far = n.terms(&Matrix::new(1, 2, vec![3.0, 3.0])).unwrap()[0];
        assert!(logs.iter().all(|&l| n.standardise(l) < far));
        // k larger than the rows allow: the farthest other row.
        let (small, _) = Neighbours::fit(&Matrix::new(3, 2, vec![0.0, 0.0, 1.0, 0.0, 0.0, 2.0]), 5, 0).unwrap();
        assert_eq!(small.k, 2);
        assert!(n.terms(&Matrix::new(1, 3, vec![0.0; 3])).is_err(), "width is checked");
    }

    #[test]
    fn wide_or_long_tables_keep_a_seeded_sample_of_reference_rows() {
        assert_eq!(reference_rows(8_746, 6), 8_746);
        assert_eq!(reference_rows(63_969, 6), MAX_REFERENCE_ROWS);
        assert_eq!(reference_rows(63_969, 100), 5_000);
        let rows = 12_000;
        let train = Matrix::new(rows, 1, (0..rows).map(|i| i as f32 / rows as f32).collect());
        let (a, logs) = Neighbours::fit(&train, 5, 3).unwrap();
        let (b, _) = Neighbours::fit(&train, 5, 3).unwrap();
        let (c, _) = Neighbours::fit(&train, 5, 4).unwrap();
        assert_eq!(a.rows(), MAX_REFERENCE_ROWS);
        assert_eq!(a, b, "the same seed keeps the same rows");
        assert_ne!(a.reference, c.reference, "another seed keeps others");
        assert_eq!(logs.len(), rows);
        a.check(1).unwrap();
        assert!(a.check(2).is_err());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Neighbours>(&json).unwrap(), a);
    }

    #[test]
    fn fit_refuses_what_it_cannot_measure() {
        assert!(Neighbours::fit(&Matrix::new(1, 2, vec![0.0, 1.0]), 5, 0).is_err());
        assert!(Neighbours::fit(&Matrix::new(3, 1, vec![0.0, 1.0, 2.0]), 0, 0).is_err());
    }
}
