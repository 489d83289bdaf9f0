//! The paper's data protocol: seeded 80/5/15 split (or the file's own split), training on normal
//! rows only, optional contamination with labelled anomalies from the training split.

use serde::{Deserialize, Serialize};

use super::csv::SplitTag;
use crate::error::{Error, Result};
use crate::rng::HostRng;

/// Row indices of the three splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

const SPLIT_STREAM: u64 = 0x5911;
const CONTAMINATION_STREAM: u64 = 0xC047;

/// How labelled rows split into training, validation and test rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// The paper's: a seeded 80 / 5 / 15 split of all rows (or the file's own split column);
    /// the normal rows of the 80 % train.
    #[default]
    Paper,
    /// The DTE benchmark's semi-supervised setting (Livernoche et al., ICLR 2024): a seeded half
    /// of the normal rows trains; the other half and every anomaly are the test rows; no
    /// validation rows.
    HalfNormal,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Paper => "paper",
            Protocol::HalfNormal => "half-normal",
        }
    }
}

/// The DTE benchmark's split of labelled rows: a seeded half of the normal rows train, the other
/// half and every anomaly test.
pub fn half_normal_split(labels: &[u8], seed: u64) -> Split {
    let mut normal: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
    HostRng::new(seed, SPLIT_STREAM).shuffle(&mut normal);
    let mut test = normal.split_off(normal.len() / 2);
    test.extend((0..labels.len()).filter(|&i| labels[i] == 1));
    normal.sort_unstable();
    test.sort_unstable();
    Split { train: normal, validation: Vec::new(), test }
}

/// Seeded 80 / 5 / 15 split of `n` rows.
pub fn random_split(n: usize, seed: u64) -> Split {
    let mut idx: Vec<usize> = (0..n).collect();
    HostRng::new(seed, SPLIT_STREAM).shuffle(&mut idx);
    let n_train = (n as f64 * 0.80).round() as usize;
    let n_val = ((n as f64 * 0.05).round() as usize).min(n - n_train);
    let test = idx.split_off(n_train + n_val);
    let validation = idx.split_off(n_train);
    Split { train: idx, validation, test }
}

/// Split by the file's own tags; a file without validation rows gets 5 % of its training rows
/// (seeded) as validation.
pub fn tagged_split(tags: &[SplitTag], seed: u64) -> Split {
    let mut split = Split { train: Vec::new(), validation: Vec::new(), test: Vec::new() };
    for (i, t) in tags.iter().enumerate() {
        match t {
            SplitTag::Train => split.train.push(i),
            SplitTag::Validation => split.validation.push(i),
            SplitTag::Test => split.test.push(i),
        }
    }
    if split.validation.is_empty() && !split.train.is_empty() {
        HostRng::new(seed, SPLIT_STREAM).shuffle(&mut split.train);
        let n_val = (split.train.len() as f64 * 0.05).round() as usize;
        split.validation = split.train.split_off(split.train.len() - n_val);
        split.train.sort_unstable();
        split.validation.sort_unstable();
    }
    split
}

/// Number of anomalies added to `n_normal` clean training rows for contamination `p`:
/// `round(n_normal * p / (1 - p))`, so that they make up a fraction `p` of the result.
pub fn contamination_count(n_normal: usize, p: f64) -> usize {
    if p <= 0.0 {
        return 0;
    }
    (n_normal as f64 * p / (1.0 - p)).round() as usize
}

/// The rows a model trains on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRows {
    pub rows: Vec<usize>,
    pub n_normal: usize,
    /// Anomalies added (labelled normal) for contamination.
    pub n_contamination: usize,
}

/// Normal rows of the training split plus `contamination_count` anomalies drawn (seeded) from
/// the anomalies of the training split.
pub fn training_rows(train: &[usize], labels: &[u8], contamination: f64, seed: u64) -> Result<TrainingRows> {
    if !(0.0..0.5).contains(&contamination) {
        return Err(Error::config("contamination", format!("{contamination} is outside [0, 0.5)")));
    }
    let mut rows: Vec<usize> = train.iter().copied().filter(|&r| labels[r] == 0).collect();
    let n_normal = rows.len();
    if n_normal == 0 {
        return Err(Error::Data("the training split holds no normal rows (label 0)".into()));
    }
    let want = contamination_count(n_normal, contamination);
    let mut anomalies: Vec<usize> = train.iter().copied().filter(|&r| labels[r] == 1).collect();
    if want > anomalies.len() {
        return Err(Error::Data(format!(
            "contamination {contamination} needs {want} anomalies but the training split holds only {}",
            anomalies.len()
        )));
    }
    HostRng::new(seed, CONTAMINATION_STREAM).shuffle(&mut anomalies);
    rows.extend_from_slice(&anomalies[..want]);
    rows.sort_unstable();
    Ok(TrainingRows { rows, n_normal, n_contamination: want })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes_and_disjointness() {
        let s = random_split(1000, 3);
        assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (800, 50, 150));
        let mut all: Vec<usize> = s.train.iter().chain(&s.validation).chain(&s.test).copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(random_split(1000, 3), s);
        assert_ne!(random_split(1000, 4), s);
        let s = random_split(11183, 0);
        assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (8946, 559, 1678));
    }

    #[test]
    fn half_of_the_normal_rows_train_and_the_rest_and_every_anomaly_test() {
        let labels: Vec<u8> = (0..101).map(|i| (i % 10 == 0) as u8).collect();
        let s = half_normal_split(&labels, 2);
        assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (45, 0, 56));
        assert!(s.train.iter().all(|&i| labels[i] == 0));
        assert_eq!(s.test.iter().filter(|&&i| labels[i] == 1).count(), 11);
        assert_eq!(half_normal_split(&labels, 2), s);
        assert_ne!(half_normal_split(&labels, 3), s);
    }

    #[test]
    fn contamination_formula() {
        assert_eq!(contamination_count(8738, 0.01), 88); // 8738 * 0.01 / 0.99 = 88.26
        assert_eq!(contamination_count(99, 0.01), 1);
        assert_eq!(contamination_count(1000, 0.0), 0);
        assert_eq!(contamination_count(300, 0.25), 100);
    }

    #[test]
    fn training_rows_adds_exactly_the_count() {
        let labels: Vec<u8> = (0..200).map(|i| (i % 10 == 0) as u8).collect();
        let train: Vec<usize> = (0..200).collect();
        let t = training_rows(&train, &labels, 0.05, 1).unwrap();
        assert_eq!(t.n_normal, 180);
        assert_eq!(t.n_contamination, 9); // 180 * .05 / .95 = 9.47
        assert_eq!(t.rows.iter().filter(|&&r| labels[r] == 1).count(), 9);
        let clean = training_rows(&train, &labels, 0.0, 1).unwrap();
        assert!(clean.rows.iter().all(|&r| labels[r] == 0));
        assert!(training_rows(&train, &labels, 0.6, 1).is_err());
        assert!(training_rows(&train, &labels, 0.4, 1).is_err(), "not enough anomalies");
    }

    #[test]
    fn tagged_split_carves_validation() {
        let tags: Vec<SplitTag> = (0..100).map(|i| if i < 80 { SplitTag::Train } else { SplitTag::Test }).collect();
        let s = tagged_split(&tags, 0);
        assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (76, 4, 20));
        assert!(s.test.iter().all(|&i| i >= 80));
    }
}
