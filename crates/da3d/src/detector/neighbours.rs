//! Over 500 lines: the term's fit, its scoring and the seeded reference sample share private helpers.
//! The neighbours term of the combined score: how far a row lies from the training rows in the
//! networks' input space (min-max scaled, one-hot), as `ln` of the Euclidean distance to its
//! `k` nearest reference rows ([`NeighbourDistance`]: their mean, the default since bundle format
//! 7, or the `k`-th alone), standardised by the mean and standard deviation of the same over the
//! training rows, each training row leaving itself out.
//!
//! The autoencoder and the alarm see a row through a narrow code; a row in a sparse region of the
//! training data that the code maps among normal ones escapes both. The distance sees it
//! (docs/results.md: the study on eight tables). Plain host arithmetic, no tensors: the same
//! numbers on every backend, natively and in the browser.
//!
//! Duplicated rows weigh the term down: a training row with `k` or more exact copies lies at
//! distance 0, `ln 1e-12 = −27.6`, which widens the standard deviation the term is divided by
//! (Mammography: 30 % of its training rows, σ 11 instead of about 1). Flooring the distance at the
//! least positive one was measured and not taken (docs/results.md). Where the training rows show
//! no spread at all (every row duplicated `k` times, two rows), the term counts in natural-log
//! units ([`DEGENERATE_SPREAD`]): a row `e` times farther than the training rows' neighbours
//! scores one more, never millions from a floor.

use rand::seq::index::sample;
use rand::{SeedableRng, rngs::StdRng};

pub use crate::config::NeighbourDistance;
use crate::data::Matrix;
use crate::error::{Error, Result};

/// Most reference values (rows × inputs) a model keeps (20 MB as f32): every training row of
/// NSL-KDD (63,969 × 77), a seeded sample of 9,940 of Census' 224,602 × 503. A sample costs the
/// score: one member's ROC AUC on NSL-KDD with 6,493 / 20,000 / all reference rows .9598 / .9611
/// / .9619, Shuttle's with 10,000 / all .9979 / .9993 (docs/results.md).
pub const MAX_REFERENCE_VALUES: usize = 5_000_000;
/// Added to the distance before its logarithm (duplicates of a row lie at distance 0).
pub const DISTANCE_FLOOR: f64 = 1e-12;
/// A term's standard deviation over the training rows below which the rows show no spread in it
/// (all duplicates, two rows): the term is then counted in natural-log units (σ = 1) rather than
/// divided by a near-zero spread. No real table comes near it (a 0.1 % spread of a distance).
pub const DEGENERATE_SPREAD: f32 = 1e-3;

/// `std`, or 1 where it is below [`DEGENERATE_SPREAD`] (see there).
pub(crate) fn spread_or_unit(std: f32) -> f32 {
    if std >= DEGENERATE_SPREAD { std } else { 1.0 }
}

/// Mixed into the model's seed for the choice of reference rows.
const REFERENCE_SEED: u64 = 0x6e65_6967_6862_6f75; // "neighbou"

/// The reference rows and the training rows' statistics of the neighbours term (a bundle stores
/// them: `bundle::codec`).
#[derive(Debug, Clone)]
pub struct Neighbours {
    /// The neighbours whose distance counts (1 = the nearest).
    pub k: usize,
    /// The `k`-th one's distance, or the mean of the `k` nearest.
    pub distance: NeighbourDistance,
    /// Inputs per row.
    pub width: usize,
    /// Reference rows, row-major `[rows × width]`: every training row, or a seeded sample of
    /// them when there are more than [`reference_rows`] allows.
    pub reference: Vec<f32>,
    /// Mean and standard deviation of `ln(distance + 1e-12)` over the training rows.
    pub log_distance: (f32, f32),
    /// The search structure over `reference`, built on first use (not stored).
    index: std::sync::OnceLock<SearchIndex>,
}

impl PartialEq for Neighbours {
    fn eq(&self, other: &Self) -> bool {
        (self.k, self.distance, self.width, &self.reference, self.log_distance)
            == (other.k, other.distance, other.width, &other.reference, other.log_distance)
    }
}

/// The reference rows sorted by their projection on one axis, so that a search visits them
/// outward from the query's projection and stops where the projections alone are farther apart
/// than the `k`-th distance found so far (`|a·u − b·u| ≤ ‖a − b‖` for a unit `u`). The axis is the
/// reference rows' first principal direction (a fixed number of power iterations in f64): any
/// axis gives the same answer, a good one visits fewer rows.
#[derive(Debug, Clone)]
struct SearchIndex {
    /// Unit axis, `[width]`.
    axis: Vec<f64>,
    /// Projections of the reference rows on `axis`, ascending.
    keys: Vec<f64>,
    /// The reference position of each sorted row.
    order: Vec<usize>,
    /// The reference rows in sorted order, row-major.
    rows: Vec<f32>,
    /// Bound on a key's rounding error.
    key_slack: f64,
}

/// Power iterations for the index's axis.
const AXIS_ITERATIONS: usize = 20;

impl SearchIndex {
    fn build(reference: &[f32], width: usize) -> SearchIndex {
        let n = reference.len() / width.max(1);
        let rows = || reference.chunks_exact(width.max(1));
        let mut mean = vec![0f64; width];
        for r in rows() {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += *v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        // Power iteration on the covariance from a fixed start (the same axis everywhere).
        let mut axis: Vec<f64> = (0..width).map(|j| 1.0 + j as f64 / width.max(1) as f64).collect();
        for _ in 0..AXIS_ITERATIONS {
            let mut next = vec![0f64; width];
            for r in rows() {
                let p: f64 = r.iter().zip(&mean).zip(&axis).map(|((v, m), a)| (*v as f64 - m) * a).sum();
                for ((o, v), m) in next.iter_mut().zip(r).zip(&mean) {
                    *o += p * (*v as f64 - m);
                }
            }
            let norm = next.iter().map(|v| v * v).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                break;
            }
            axis = next.into_iter().map(|v| v / norm).collect();
        }
        let norm = axis.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        axis.iter_mut().for_each(|a| *a /= norm);
        let projected: Vec<f64> = rows().map(|r| project(&axis, r)).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| projected[a].total_cmp(&projected[b]).then(a.cmp(&b)));
        let keys: Vec<f64> = order.iter().map(|&p| projected[p]).collect();
        let sorted: Vec<f32> = order.iter().flat_map(|&p| reference[p * width..(p + 1) * width].iter().copied()).collect();
        let largest = rows().map(|r| r.iter().map(|v| v.abs() as f64).sum::<f64>()).fold(0.0, f64::max);
        SearchIndex { axis, keys, order, rows: sorted, key_slack: projection_slack(width, largest) }
    }
}

/// `axis · row` in f64.
fn project(axis: &[f64], row: &[f32]) -> f64 {
    axis.iter().zip(row).map(|(a, v)| a * *v as f64).sum()
}

/// A bound on the rounding error of [`project`] for a row of `width` inputs whose absolute
/// values sum to `l1` (each product and sum rounds by at most one f64 ulp; |axis_j| ≤ 1).
fn projection_slack(width: usize, l1: f64) -> f64 {
    2.0 * (width as f64 + 2.0) * f64::EPSILON * l1 + f64::MIN_POSITIVE
}

/// How many reference rows a table of `rows` training rows and `width` inputs keeps.
pub fn reference_rows(rows: usize, width: usize) -> usize {
    rows.min((MAX_REFERENCE_VALUES / width.max(1)).max(2))
}

impl Neighbours {
    /// Fit on the training rows: choose the reference rows (seeded), measure the training rows'
    /// log distances (each leaving itself out) and their mean and spread. Also returns those
    /// log distances, one per training row (the training rows' own term, for the threshold).
    pub fn fit(train: &Matrix, k: usize, distance: NeighbourDistance, seed: u64) -> Result<(Neighbours, Vec<f32>)> {
        Self::fit_keeping(train, k, distance, seed, reference_rows(train.rows, train.cols))
    }

    /// [`fit`](Self::fit) keeping `n` reference rows (at most the training rows, at least 2).
    pub fn fit_keeping(train: &Matrix, k: usize, distance: NeighbourDistance, seed: u64, n: usize) -> Result<(Neighbours, Vec<f32>)> {
        if k == 0 {
            return Err(Error::config("ensemble.neighbours", "0 turns the neighbours term off; fit needs k ≥ 1"));
        }
        if train.rows < 2 {
            return Err(Error::Data(format!("the neighbours term needs at least 2 training rows, got {}", train.rows)));
        }
        let n = n.clamp(2, train.rows);
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
        let mut neighbours = Neighbours { k, distance, width: train.cols, reference, log_distance: (0.0, 1.0), index: Default::default() };
        let logs = neighbours.log_distances(train, |i| position[i]);
        let count = logs.len() as f64;
        let mean = logs.iter().map(|&l| l as f64).sum::<f64>() / count;
        let var = logs.iter().map(|&l| (l as f64 - mean).powi(2)).sum::<f64>() / count;
        neighbours.log_distance = (mean as f32, spread_or_unit(var.sqrt() as f32));
        Ok((neighbours, logs))
    }

    /// A term read back from its stored parts (a bundle); [`check`](Self::check) it before use.
    pub fn from_parts(k: usize, distance: NeighbourDistance, width: usize, reference: Vec<f32>, log_distance: (f32, f32)) -> Self {
        Neighbours { k, distance, width, reference, log_distance, index: Default::default() }
    }

    /// Reference rows.
    pub fn rows(&self) -> usize {
        self.reference.len() / self.width.max(1)
    }

    /// `ln(distance + 1e-12)` from `row` to its `k`-th nearest reference row, the reference row at
    /// `skip` left out.
    fn log_distance_of(&self, row: &[f32], skip: Option<usize>) -> f32 {
        let nearest = self.nearest(row, skip);
        let distance = match self.distance {
            NeighbourDistance::Kth => (nearest[self.k - 1].0 as f64).sqrt(),
            NeighbourDistance::MeanOfK => nearest.iter().map(|&(d, _)| (d as f64).sqrt()).sum::<f64>() / self.k as f64,
        };
        (distance + DISTANCE_FLOOR).ln() as f32
    }

    /// [`log_distance_of`](Self::log_distance_of) every row of `x` (row `i` leaving out the
    /// reference row at `skip(i)`), on every thread of the pool where the target has threads.
    fn log_distances(&self, x: &Matrix, skip: impl Fn(usize) -> Option<usize> + Sync) -> Vec<f32> {
        self.index();
        let one = |i: usize| self.log_distance_of(x.row(i), skip(i));
        #[cfg(not(target_arch = "wasm32"))]
        {
            use rayon::prelude::*;
            (0..x.rows).into_par_iter().with_min_len(64).map(one).collect()
        }
        #[cfg(target_arch = "wasm32")]
        {
            (0..x.rows).map(one).collect()
        }
    }

    /// The search index, built on first use.
    fn index(&self) -> &SearchIndex {
        self.index.get_or_init(|| SearchIndex::build(&self.reference, self.width))
    }

    /// The squared distances from `row` to its `k` nearest reference rows (the one at `skip`
    /// left out), ascending, with their positions. Exactly the `k` smallest of the f32 squared
    /// distances to every reference row (what a scan of all rows gives); rows that cannot be
    /// among the `k` nearest are skipped by their projections (with a margin for rounding) and
    /// their distances abandoned part way.
    fn nearest(&self, row: &[f32], skip: Option<usize>) -> Vec<(f32, usize)> {
        let index = self.index();
        let query = project(&index.axis, row);
        // The k smallest squared distances so far with their rows, ascending.
        let mut nearest = vec![(f32::INFINITY, 0); self.k];
        let consider = |nearest: &mut Vec<(f32, usize)>, sorted: usize| {
            let p = index.order[sorted];
            if skip == Some(p) {
                return;
            }
            let bound = nearest[self.k - 1].0;
            let reference = &index.rows[sorted * self.width..(sorted + 1) * self.width];
            if let Some(d) = squared_distance_below(row, reference, bound) {
                if d < bound {
                    let at = nearest.partition_point(|&(v, _)| v <= d);
                    nearest.insert(at, (d, p));
                    nearest.pop();
                }
            }
        };
        if !query.is_finite() {
            for sorted in 0..index.order.len() {
                consider(&mut nearest, sorted);
            }
            return nearest;
        }
        let slack = index.key_slack + projection_slack(self.width, row.iter().map(|v| v.abs() as f64).sum());
        // A computed f32 squared distance is at least (1 − rel) times the exact one.
        let rel = (self.width as f64 + 8.0) * f32::EPSILON as f64;
        let underflow = self.width as f64 * f32::MIN_POSITIVE as f64;
        let start = index.keys.partition_point(|&k| k < query);
        let (mut below, mut above) = (start, start);
        loop {
            let gap_below = if below > 0 { query - index.keys[below - 1] } else { f64::INFINITY };
            let gap_above = if above < index.keys.len() { index.keys[above] - query } else { f64::INFINITY };
            let gap = gap_below.min(gap_above);
            if gap == f64::INFINITY {
                break;
            }
            // Every row left lies at least `gap` away along the axis: stop once that alone
            // exceeds the k-th distance so far.
            let bound = nearest[self.k - 1].0 as f64;
            let lower = (gap * (1.0 - 2.0 * f64::EPSILON) - slack).max(0.0);
            if lower * lower * (1.0 - rel) - underflow > bound {
                break;
            }
            if gap_below <= gap_above {
                below -= 1;
                consider(&mut nearest, below);
            } else {
                consider(&mut nearest, above);
                above += 1;
            }
        }
        nearest
    }

    /// Per input, `(x_j − n_j)²` between `row` and the reference rows `n` the term reads (its
    /// `k`-th nearest, or the mean over the `k` nearest): the parts of the squared distance, for
    /// explanations.
    pub fn distance_parts(&self, row: &[f32]) -> Vec<f32> {
        let nearest = self.nearest(row, None);
        let read: &[(f32, usize)] = match self.distance {
            NeighbourDistance::Kth => &nearest[self.k - 1..],
            NeighbourDistance::MeanOfK => &nearest,
        };
        let mut parts = vec![0f32; self.width];
        for &(_, p) in read {
            let reference = &self.reference[p * self.width..(p + 1) * self.width];
            for ((o, a), b) in parts.iter_mut().zip(row).zip(reference) {
                *o += (a - b) * (a - b) / read.len() as f32;
            }
        }
        parts
    }

    /// The standardised term of every row of `x`: `(ln(distance + 1e-12) − mean) / std`.
    pub fn terms(&self, x: &Matrix) -> Result<Vec<f32>> {
        if x.cols != self.width {
            return Err(Error::Schema(format!("the data has {} features, the neighbours term expects {}", x.cols, self.width)));
        }
        Ok(self.log_distances(x, |_| None).into_iter().map(|l| self.standardise(l)).collect())
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
#[cfg(test)]
fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    squared_distance_below(a, b, f32::INFINITY).expect("no bound")
}

/// [`squared_distance`]'s value, or `None` once the part summed so far exceeds `bound` (the
/// parts only grow, and f32 addition is monotone, so the whole would exceed it too).
fn squared_distance_below(a: &[f32], b: &[f32], bound: f32) -> Option<f32> {
    let mut sums = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (c, (x, y)) in a_chunks.zip(b_chunks).enumerate() {
        for j in 0..8 {
            let d = x[j] - y[j];
            sums[j] += d * d;
        }
        if c % 2 == 1 && sums.iter().sum::<f32>() > bound {
            return None;
        }
    }
    let mut total = sums.iter().sum::<f32>();
    for (x, y) in a_rest.iter().zip(b_rest) {
        total += (x - y) * (x - y);
    }
    Some(total)
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
        let (n, logs) = Neighbours::fit(&train, 2, NeighbourDistance::Kth, 7).unwrap();
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
        let (small, _) = Neighbours::fit(&Matrix::new(3, 2, vec![0.0, 0.0, 1.0, 0.0, 0.0, 2.0]), 5, NeighbourDistance::Kth, 0).unwrap();
        assert_eq!(small.k, 2);
        assert!(n.terms(&Matrix::new(1, 3, vec![0.0; 3])).is_err(), "width is checked");
    }

    /// The k-th smallest squared distance by a scan of every reference row (a distance that is
    /// not a number never counts: infinity when fewer than k are).
    fn scanned(n: &Neighbours, row: &[f32], skip: Option<usize>) -> f32 {
        let mut d: Vec<f32> = n
            .reference
            .chunks_exact(n.width)
            .enumerate()
            .filter(|(p, _)| Some(*p) != skip)
            .map(|(_, r)| squared_distance(row, r))
            .map(|d| if d.is_nan() { f32::INFINITY } else { d })
            .collect();
        d.sort_by(f32::total_cmp);
        d[n.k - 1]
    }

    #[test]
    fn the_indexed_search_finds_exactly_what_a_scan_of_every_row_finds() {
        use rand::RngExt;
        let mut rng = StdRng::seed_from_u64(11);
        for (rows, width, k) in [(400, 3, 5), (600, 19, 1), (500, 40, 5), (300, 77, 3)] {
            // Clusters, exact duplicates, one-hot blocks and a constant input, as real tables have.
            let mut values = Vec::with_capacity(rows * width);
            for i in 0..rows {
                let centre = (i % 4) as f32 / 4.0;
                for j in 0..width {
                    let v = match j % 5 {
                        0 => 0.5,
                        1 => {
                            if rng.random::<f32>() < 0.3 {
                                1.0
                            } else {
                                0.0
                            }
                        }
                        _ => centre + 0.01 * rng.random::<f32>(),
                    };
                    values.push(v);
                }
            }
            for i in 0..rows / 10 {
                let (from, to) = (i * width, (i + rows / 2) * width);
                values.copy_within(from..from + width, to);
            }
            let train = Matrix::new(rows, width, values);
            let (n, logs) = Neighbours::fit(&train, k, NeighbourDistance::Kth, 1).unwrap();
            for i in 0..rows {
                let want = ((scanned(&n, train.row(i), Some(i)) as f64).sqrt() + DISTANCE_FLOOR).ln() as f32;
                assert_eq!(logs[i].to_bits(), want.to_bits(), "{rows}×{width}, k = {k}, training row {i}");
            }
            // New rows: near, between the clusters, far outside the training range, not finite.
            let mut queries: Vec<Vec<f32>> = (0..200).map(|_| (0..width).map(|_| rng.random::<f32>() * 1.2 - 0.1).collect()).collect();
            queries.push(vec![1e6; width]);
            queries.push(train.row(3).to_vec());
            let mut nan = vec![0.5; width];
            nan[0] = f32::NAN;
            queries.push(nan);
            let x = Matrix::new(queries.len(), width, queries.concat());
            let terms = n.terms(&x).unwrap();
            for (i, t) in terms.iter().enumerate() {
                let want = n.standardise(((scanned(&n, x.row(i), None) as f64).sqrt() + DISTANCE_FLOOR).ln() as f32);
                assert_eq!(t.to_bits(), want.to_bits(), "{rows}×{width}, k = {k}, new row {i}: {t} vs {want}");
            }
        }
    }

    #[test]
    fn wide_or_long_tables_keep_a_seeded_sample_of_reference_rows() {
        assert_eq!(reference_rows(8_746, 6), 8_746);
        assert_eq!(reference_rows(63_969, 77), 63_969);
        assert_eq!(reference_rows(224_602, 503), 9_940);
        assert_eq!(reference_rows(3_000_000, 2), 2_500_000);
        let rows = 12_000;
        let train = Matrix::new(rows, 1, (0..rows).map(|i| i as f32 / rows as f32).collect());
        let (a, logs) = Neighbours::fit_keeping(&train, 5, NeighbourDistance::Kth, 3, 10_000).unwrap();
        let (b, _) = Neighbours::fit_keeping(&train, 5, NeighbourDistance::Kth, 3, 10_000).unwrap();
        let (c, _) = Neighbours::fit_keeping(&train, 5, NeighbourDistance::Kth, 4, 10_000).unwrap();
        assert_eq!(a.rows(), 10_000);
        assert_eq!(a, b, "the same seed keeps the same rows");
        assert_ne!(a.reference, c.reference, "another seed keeps others");
        assert_eq!(logs.len(), rows);
        a.check(1).unwrap();
        assert!(a.check(2).is_err());
    }

    #[test]
    fn fit_refuses_what_it_cannot_measure() {
        assert!(Neighbours::fit(&Matrix::new(1, 2, vec![0.0, 1.0]), 5, NeighbourDistance::Kth, 0).is_err());
        assert!(Neighbours::fit(&Matrix::new(3, 1, vec![0.0, 1.0, 2.0]), 0, NeighbourDistance::Kth, 0).is_err());
    }
}
