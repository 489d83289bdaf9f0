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
//!
//! **The density ratio** ([`DensityRatio`]; `robust` and `quick`, bundle format 8): where a row's
//! neighbours lie close together, a distance that is ordinary elsewhere is not. The ratio is `ln`
//! of the row's mean distance to its [`DENSITY_RATIO_K`] nearest reference rows less `ln` of the
//! mean of the same over those neighbours (LOF's idea in logs), standardised on the training rows
//! and added at its weight. Where many training rows repeat exactly ([`MAX_DUPLICATE_SHARE`]),
//! their neighbour distances are zero and the ratio measures the copies, not the density: the
//! term leaves it out (Mammography, BreastW; docs/results.md).

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

/// The neighbours the density ratio reads.
pub const DENSITY_RATIO_K: usize = 10;
/// The share of training rows with an exact copy among the reference rows (the others: each row
/// leaves itself out) at or above which the term leaves the density ratio out.
pub const MAX_DUPLICATE_SHARE: f64 = 0.1;

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
    /// The density ratio beside the distance, where the config asks for one and the training
    /// rows allow it.
    pub ratio: Option<DensityRatio>,
    /// The search structure over `reference`, built on first use (not stored).
    index: std::sync::OnceLock<SearchIndex>,
}

impl PartialEq for Neighbours {
    fn eq(&self, other: &Self) -> bool {
        (self.k, self.distance, self.width, &self.reference, self.log_distance, &self.ratio)
            == (other.k, other.distance, other.width, &other.reference, other.log_distance, &other.ratio)
    }
}

/// The density ratio of the neighbours term: `ln(m(x) + f) − ln(mean_{j ∈ N(x)} m_j + f)`, with
/// `m(x)` the mean distance from `x` to its `k` nearest reference rows `N(x)`, `m_j` the same for
/// reference row `j` (leaving itself out) and `f` the median of the `m_j`; standardised by its
/// mean and standard deviation over the training rows (each leaving itself out), at `weight`.
#[derive(Debug, Clone, PartialEq)]
pub struct DensityRatio {
    /// Neighbours read ([`DENSITY_RATIO_K`], fewer on tables of fewer rows).
    pub k: usize,
    /// `m_j` of every reference row.
    pub own: Vec<f32>,
    /// `f`, added to mean distances before their logarithm: the median of `own`.
    pub floor: f32,
    /// Mean and standard deviation of the ratio over the training rows.
    pub moments: (f32, f32),
    /// Its weight in the score.
    pub weight: f32,
}

impl DensityRatio {
    /// The unstandardised ratio of a row whose nearest reference rows are `nearest` (squared
    /// distances with positions, ascending; at least `k`).
    fn of(&self, nearest: &[(f32, usize)]) -> f64 {
        let mean = mean_distance(nearest, self.k);
        let around = nearest[..self.k].iter().map(|&(_, p)| self.own[p] as f64).sum::<f64>() / self.k as f64;
        let floor = self.floor as f64;
        (mean + floor).ln() - (around + floor).ln()
    }

    /// The ratio's weighted, standardised part of the term.
    fn term(&self, ratio: f64) -> f32 {
        self.weight * ((ratio as f32 - self.moments.0) / self.moments.1)
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
    /// log distances (each leaving itself out) and their mean and spread, and the density ratio
    /// at `ratio_weight` (0: none) where the rows allow it. Also returns the training rows' own
    /// terms, standardised ([`terms`](Self::terms) of each leaving itself out, for the threshold).
    pub fn fit(train: &Matrix, k: usize, distance: NeighbourDistance, ratio_weight: f32, seed: u64) -> Result<(Neighbours, Vec<f32>)> {
        Self::fit_keeping(train, k, distance, ratio_weight, seed, reference_rows(train.rows, train.cols))
    }

    /// [`fit`](Self::fit) keeping `n` reference rows (at most the training rows, at least 2).
    pub fn fit_keeping(
        train: &Matrix,
        k: usize,
        distance: NeighbourDistance,
        ratio_weight: f32,
        seed: u64,
        n: usize,
    ) -> Result<(Neighbours, Vec<f32>)> {
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
        let mut neighbours =
            Neighbours { k, distance, width: train.cols, reference, log_distance: (0.0, 1.0), ratio: None, index: Default::default() };
        let ratio_k = DENSITY_RATIO_K.min(n - 1);
        let depth = if ratio_weight > 0.0 { k.max(ratio_k) } else { k };
        let nearest = neighbours.map_rows(train, |i| neighbours.nearest(train.row(i), position[i], depth));
        let logs: Vec<f32> = nearest.iter().map(|near| neighbours.log_distance_from(near)).collect();
        neighbours.log_distance = moments(logs.iter().map(|&l| l as f64));
        let duplicated = nearest.iter().filter(|near| near[0].0 == 0.0).count() as f64 / train.rows as f64;
        let mut ratios = None;
        if ratio_weight > 0.0 && duplicated < MAX_DUPLICATE_SHARE {
            let own: Vec<f32> = chosen.iter().map(|&i| mean_distance(&nearest[i], ratio_k) as f32).collect();
            let mut sorted = own.clone();
            sorted.sort_by(f32::total_cmp);
            let floor = sorted[sorted.len() / 2].max(f32::MIN_POSITIVE);
            let mut ratio = DensityRatio { k: ratio_k, own, floor, moments: (0.0, 1.0), weight: ratio_weight };
            let values: Vec<f64> = nearest.iter().map(|near| ratio.of(near)).collect();
            ratio.moments = moments(values.iter().copied());
            neighbours.ratio = Some(ratio);
            ratios = Some(values);
        }
        let terms = logs.iter().enumerate().map(|(i, &l)| neighbours.term_from(l, ratios.as_ref().map(|r| r[i]))).collect();
        Ok((neighbours, terms))
    }

    /// A term read back from its stored parts (a bundle); [`check`](Self::check) it before use.
    pub fn from_parts(
        k: usize,
        distance: NeighbourDistance,
        width: usize,
        reference: Vec<f32>,
        log_distance: (f32, f32),
        ratio: Option<DensityRatio>,
    ) -> Self {
        Neighbours { k, distance, width, reference, log_distance, ratio, index: Default::default() }
    }

    /// Reference rows.
    pub fn rows(&self) -> usize {
        self.reference.len() / self.width.max(1)
    }

    /// `ln(distance + 1e-12)` of a row whose nearest reference rows are `nearest` (at least `k`):
    /// the `k`-th one's distance, or the mean of the `k` nearest.
    fn log_distance_from(&self, nearest: &[(f32, usize)]) -> f32 {
        let distance = match self.distance {
            NeighbourDistance::Kth => (nearest[self.k - 1].0 as f64).sqrt(),
            NeighbourDistance::MeanOfK => mean_distance(nearest, self.k),
        };
        (distance + DISTANCE_FLOOR).ln() as f32
    }

    /// The standardised term of a row of log distance `log_distance` and, where the term has
    /// the density ratio, unstandardised ratio `ratio`.
    fn term_from(&self, log_distance: f32, ratio: Option<f64>) -> f32 {
        let term = self.standardise(log_distance);
        match (&self.ratio, ratio) {
            (Some(r), Some(ratio)) => term + r.term(ratio),
            _ => term,
        }
    }

    /// The nearest reference rows a row's term reads.
    fn depth(&self) -> usize {
        self.ratio.as_ref().map_or(self.k, |r| self.k.max(r.k))
    }

    /// `one(i)` for every row `i` of `x`, on every thread of the pool where the target has threads.
    fn map_rows<T: Send>(&self, x: &Matrix, one: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
        self.index();
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

    /// The squared distances from `row` to its `depth` nearest reference rows (the one at
    /// `skip` left out), ascending, with their positions. Exactly the `depth` smallest of the f32
    /// squared distances to every reference row (what a scan of all rows gives); rows that cannot
    /// be among the `depth` nearest are skipped by their projections (with a margin for
    /// rounding) and their distances abandoned part way.
    fn nearest(&self, row: &[f32], skip: Option<usize>, depth: usize) -> Vec<(f32, usize)> {
        let index = self.index();
        let query = project(&index.axis, row);
        // The `depth` smallest squared distances so far with their rows, ascending.
        let mut nearest = vec![(f32::INFINITY, 0); depth];
        let consider = |nearest: &mut Vec<(f32, usize)>, sorted: usize| {
            let p = index.order[sorted];
            if skip == Some(p) {
                return;
            }
            let bound = nearest[depth - 1].0;
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
            // exceeds the `depth`-th distance so far.
            let bound = nearest[depth - 1].0 as f64;
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
        let nearest = self.nearest(row, None, self.k);
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

    /// The standardised term of every row of `x`: `(ln(distance + 1e-12) − mean) / std`, plus
    /// the density ratio's part where the term has one.
    pub fn terms(&self, x: &Matrix) -> Result<Vec<f32>> {
        if x.cols != self.width {
            return Err(Error::Schema(format!("the data has {} features, the neighbours term expects {}", x.cols, self.width)));
        }
        let depth = self.depth();
        Ok(self.map_rows(x, |i| {
            let nearest = self.nearest(x.row(i), None, depth);
            self.term_from(self.log_distance_from(&nearest), self.ratio.as_ref().map(|r| r.of(&nearest)))
        }))
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
        if let Some(r) = &self.ratio {
            if r.k == 0 || r.k > self.rows() - 1 || r.own.len() != self.rows() {
                return Err(Error::Bundle(format!(
                    "the density ratio reads {} neighbours and holds {} distances, but the term has {} reference rows",
                    r.k,
                    r.own.len(),
                    self.rows()
                )));
            }
            let (mean, std) = r.moments;
            let finite = r.own.iter().all(|v| v.is_finite() && *v >= 0.0) && r.floor.is_finite() && r.floor > 0.0;
            if !(finite && mean.is_finite() && std.is_finite() && std > 0.0 && r.weight.is_finite() && r.weight > 0.0) {
                return Err(Error::Bundle("the density ratio is not finite".into()));
            }
        }
        Ok(())
    }
}

/// The mean distance to the `k` nearest of `nearest` (squared distances, ascending), in f64.
fn mean_distance(nearest: &[(f32, usize)], k: usize) -> f64 {
    nearest[..k].iter().map(|&(d, _)| (d as f64).sqrt()).sum::<f64>() / k as f64
}

/// Mean and standard deviation (or 1: [`spread_or_unit`]) of `values`, in f64.
fn moments(values: impl Iterator<Item = f64> + Clone) -> (f32, f32) {
    let count = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / count;
    let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / count;
    (mean as f32, spread_or_unit(var.sqrt() as f32))
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
        let (n, terms) = Neighbours::fit(&train, 2, NeighbourDistance::Kth, 0.0, 7).unwrap();
        assert_eq!((n.k, n.rows(), n.width), (2, 6, 2));
        let logs: Vec<f32> = rows.iter().enumerate().map(|(i, r)| ((brute_kth(&rows, *r, 2, Some(i)) as f64) + DISTANCE_FLOOR).ln() as f32).collect();
        for (i, want) in logs.iter().enumerate() {
            assert!((terms[i] - n.standardise(*want)).abs() < 1e-5, "row {i}: {} vs {}", terms[i], n.standardise(*want));
        }
        let mean = logs.iter().sum::<f32>() / 6.0;
        assert!((n.log_distance.0 - mean).abs() < 1e-5);
        assert!(n.ratio.is_none(), "no density ratio at weight 0");
        // A new row: its k-th neighbour among all reference rows, standardised.
        let x = Matrix::new(1, 2, vec![0.05, 0.05]);
        let want = n.standardise(((brute_kth(&rows, [0.05, 0.05], 2, None) as f64 + DISTANCE_FLOOR).ln()) as f32);
        assert!((n.terms(&x).unwrap()[0] - want).abs() < 1e-5);
        // A far row scores above every training row.
        let far = n.terms(&Matrix::new(1, 2, vec![3.0, 3.0])).unwrap()[0];
        assert!(logs.iter().all(|&l| n.standardise(l) < far));
        // k larger than the rows allow: the farthest other row.
        let (small, _) = Neighbours::fit(&Matrix::new(3, 2, vec![0.0, 0.0, 1.0, 0.0, 0.0, 2.0]), 5, NeighbourDistance::Kth, 0.0, 0).unwrap();
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
            let (n, terms) = Neighbours::fit(&train, k, NeighbourDistance::Kth, 0.0, 1).unwrap();
            for i in 0..rows {
                let want = n.standardise(((scanned(&n, train.row(i), Some(i)) as f64).sqrt() + DISTANCE_FLOOR).ln() as f32);
                assert_eq!(terms[i].to_bits(), want.to_bits(), "{rows}×{width}, k = {k}, training row {i}");
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
        let (a, logs) = Neighbours::fit_keeping(&train, 5, NeighbourDistance::Kth, 0.0, 3, 10_000).unwrap();
        let (b, _) = Neighbours::fit_keeping(&train, 5, NeighbourDistance::Kth, 0.0, 3, 10_000).unwrap();
        let (c, _) = Neighbours::fit_keeping(&train, 5, NeighbourDistance::Kth, 0.0, 4, 10_000).unwrap();
        assert_eq!(a.rows(), 10_000);
        assert_eq!(a, b, "the same seed keeps the same rows");
        assert_ne!(a.reference, c.reference, "another seed keeps others");
        assert_eq!(logs.len(), rows);
        a.check(1).unwrap();
        assert!(a.check(2).is_err());
    }

    #[test]
    fn fit_refuses_what_it_cannot_measure() {
        assert!(Neighbours::fit(&Matrix::new(1, 2, vec![0.0, 1.0]), 5, NeighbourDistance::Kth, 0.0, 0).is_err());
        assert!(Neighbours::fit(&Matrix::new(3, 1, vec![0.0, 1.0, 2.0]), 0, NeighbourDistance::Kth, 0.0, 0).is_err());
    }

    /// Mean distance from `x` to its `k` nearest of `rows` (the row at `skip` left out), and
    /// their indices, by a scan.
    fn brute_mean(rows: &[Vec<f32>], x: &[f32], k: usize, skip: Option<usize>) -> (f64, Vec<usize>) {
        let mut d: Vec<(f64, usize)> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(i, r)| (r.iter().zip(x).map(|(a, b)| ((a - b) * (a - b)) as f64).sum::<f64>().sqrt(), i))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        (d[..k].iter().map(|p| p.0).sum::<f64>() / k as f64, d[..k].iter().map(|p| p.1).collect())
    }

    #[test]
    fn the_density_ratio_is_a_rows_mean_distance_against_its_neighbours_own() {
        use rand::RngExt;
        let mut rng = StdRng::seed_from_u64(5);
        // A dense cluster and a sparse one: a row at the dense cluster's edge is as far from its
        // neighbours as a sparse row is from its own, but only the first is unusual there.
        let mut rows: Vec<Vec<f32>> = (0..150).map(|_| vec![rng.random::<f32>() * 0.1, rng.random::<f32>() * 0.1]).collect();
        rows.extend((0..150).map(|_| vec![2.0 + rng.random::<f32>() * 2.0, 2.0 + rng.random::<f32>() * 2.0]));
        let train = Matrix::new(rows.len(), 2, rows.concat());
        let (plain, _) = Neighbours::fit(&train, 5, NeighbourDistance::MeanOfK, 0.0, 3).unwrap();
        let (n, terms) = Neighbours::fit(&train, 5, NeighbourDistance::MeanOfK, 0.5, 3).unwrap();
        let r = n.ratio.as_ref().expect("no duplicated rows: the ratio is kept");
        assert_eq!((r.k, r.weight, r.own.len()), (DENSITY_RATIO_K, 0.5, 300));
        // Every reference row's own mean distance, and the floor their median.
        let own: Vec<f64> = (0..300).map(|i| brute_mean(&rows, &rows[i], 10, Some(i)).0).collect();
        for (i, o) in own.iter().enumerate() {
            assert!((r.own[i] as f64 - o).abs() < 1e-5, "row {i}: {} vs {o}", r.own[i]);
        }
        let mut sorted = own.clone();
        sorted.sort_by(f64::total_cmp);
        assert!((r.floor as f64 - sorted[150]).abs() < 1e-5);
        // The training rows' terms: the distance's plus the ratio's, standardised.
        let ratio_of = |x: &[f32], skip: Option<usize>| {
            let (m, near) = brute_mean(&rows, x, 10, skip);
            let around = near.iter().map(|&j| r.own[j] as f64).sum::<f64>() / 10.0;
            (m + r.floor as f64).ln() - (around + r.floor as f64).ln()
        };
        let ratios: Vec<f64> = (0..300).map(|i| ratio_of(&rows[i], Some(i))).collect();
        let mean = ratios.iter().sum::<f64>() / 300.0;
        assert!((r.moments.0 as f64 - mean).abs() < 1e-4, "{} vs {mean}", r.moments.0);
        let (_, plain_terms) = Neighbours::fit(&train, 5, NeighbourDistance::MeanOfK, 0.0, 3).unwrap();
        for i in 0..300 {
            let want = plain_terms[i] + 0.5 * ((ratios[i] as f32 - r.moments.0) / r.moments.1);
            assert!((terms[i] - want).abs() < 1e-4, "training row {i}: {} vs {want}", terms[i]);
        }
        // New rows, each as far (0.3) from the nearest cluster: beside the dense cluster the ratio
        // lifts the row's term above the one beside the sparse cluster; the distance alone does not
        // tell them apart as much.
        let x = Matrix::new(2, 2, vec![0.35, 0.05, 4.3, 3.0]);
        let (with, without) = (n.terms(&x).unwrap(), plain.terms(&x).unwrap());
        assert!(with[0] - with[1] > without[0] - without[1] + 1.0, "{with:?} vs {without:?}");
        for i in 0..2 {
            let want = without[i] + 0.5 * ((ratio_of(x.row(i), None) as f32 - r.moments.0) / r.moments.1);
            assert!((with[i] - want).abs() < 1e-4, "new row {i}: {} vs {want}", with[i]);
        }
        n.check(2).unwrap();
        // The distance part is the plain term's: the same mean and spread.
        assert_eq!(n.log_distance, plain.log_distance);
    }

    #[test]
    fn the_density_ratio_is_left_out_where_training_rows_repeat() {
        // Ten rows copied: a fifth of the rows have an exact copy, and the ratio is left out.
        let mut values: Vec<f32> = (0..100).map(|i| i as f32 * 0.37 % 1.0).collect();
        for i in 0..10 {
            values[50 + i] = values[i];
        }
        let train = Matrix::new(100, 1, values);
        let (n, _) = Neighbours::fit(&train, 5, NeighbourDistance::MeanOfK, 0.25, 0).unwrap();
        assert!(n.ratio.is_none(), "duplicated rows: no ratio");
        let (plain, _) = Neighbours::fit(&train, 5, NeighbourDistance::MeanOfK, 0.0, 0).unwrap();
        assert_eq!(n, plain, "the same term as without the ratio");
        // Below the limit it is kept.
        let distinct = Matrix::new(100, 1, (0..100).map(|i| (i as f32 * 0.37 % 1.0) + i as f32 * 1e-4).collect());
        assert!(Neighbours::fit(&distinct, 5, NeighbourDistance::MeanOfK, 0.25, 0).unwrap().0.ratio.is_some());
    }
}
