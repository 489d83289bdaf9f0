//! Ranking metrics on anomaly scores (higher = more anomalous) against 0/1 labels.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

fn check(scores: &[f32], labels: &[u8]) -> Result<(usize, usize)> {
    if scores.len() != labels.len() {
        return Err(Error::Data(format!("{} scores for {} labels", scores.len(), labels.len())));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::Data(format!("score {i} is not finite ({})", scores[i])));
    }
    let pos = labels.iter().filter(|&&l| l == 1).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return Err(Error::Data("metrics need both normal (0) and anomalous (1) labels".into()));
    }
    Ok((pos, neg))
}

/// Indices sorted by descending score.
fn order_desc(scores: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx
}

/// ROC AUC; tied scores count one half (the Mann-Whitney statistic, as scikit-learn computes it).
pub fn roc_auc(scores: &[f32], labels: &[u8]) -> Result<f64> {
    let (pos, neg) = check(scores, labels)?;
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties, summed over positives.
    let mut rank_sum = 0f64;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] == 1 {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum - (pos as f64) * (pos as f64 + 1.0) / 2.0;
    Ok(u / (pos as f64 * neg as f64))
}

/// One point per distinct threshold, from the highest score down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub threshold: f32,
    pub tp: usize,
    pub fp: usize,
}

fn cumulative(scores: &[f32], labels: &[u8]) -> Vec<CurvePoint> {
    let idx = order_desc(scores);
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0, 0);
    for (n, &k) in idx.iter().enumerate() {
        if labels[k] == 1 { tp += 1 } else { fp += 1 }
        let last_of_tie = n + 1 == idx.len() || scores[idx[n + 1]] != scores[k];
        if last_of_tie {
            out.push(CurvePoint { threshold: scores[k], tp, fp });
        }
    }
    out
}

/// Average precision as scikit-learn defines it: sum over thresholds of (R_n - R_{n-1}) * P_n.
pub fn average_precision(scores: &[f32], labels: &[u8]) -> Result<f64> {
    let (pos, _) = check(scores, labels)?;
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for p in cumulative(scores, labels) {
        let recall = p.tp as f64 / pos as f64;
        let precision = p.tp as f64 / (p.tp + p.fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(ap)
}

/// ROC curve: (false positive rate, true positive rate, threshold), starting at (0, 0).
pub fn roc_curve(scores: &[f32], labels: &[u8]) -> Result<Vec<(f64, f64, f32)>> {
    let (pos, neg) = check(scores, labels)?;
    let mut out = vec![(0.0, 0.0, f32::INFINITY)];
    for p in cumulative(scores, labels) {
        out.push((p.fp as f64 / neg as f64, p.tp as f64 / pos as f64, p.threshold));
    }
    Ok(out)
}

/// Precision-recall curve: (recall, precision, threshold), from the highest threshold down.
pub fn pr_curve(scores: &[f32], labels: &[u8]) -> Result<Vec<(f64, f64, f32)>> {
    let (pos, _) = check(scores, labels)?;
    Ok(cumulative(scores, labels)
        .into_iter()
        .map(|p| (p.tp as f64 / pos as f64, p.tp as f64 / (p.tp + p.fp) as f64, p.threshold))
        .collect())
}

/// Scores of a stream of labelled rows kept apart by label, 4 bytes a row (`da3d score` on a
/// labelled file): the same ROC AUC and average precision as [`roc_auc`] and
/// [`average_precision`], from the two lists sorted in place.
#[derive(Debug, Clone, Default)]
pub struct LabelledScores {
    anomalies: Vec<f32>,
    normals: Vec<f32>,
}

impl LabelledScores {
    /// Add one row's score and its label (1 anomaly, else normal).
    pub fn push(&mut self, score: f32, label: u8) {
        if label == 1 { self.anomalies.push(score) } else { self.normals.push(score) }
    }

    /// Rows added.
    pub fn len(&self) -> usize {
        self.anomalies.len() + self.normals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (ROC AUC, average precision): one walk down both sorted lists, one step per distinct
    /// score; tied scores count one half in the AUC, as [`roc_auc`] counts them.
    pub fn metrics(mut self) -> Result<(f64, f64)> {
        let (pos, neg) = (self.anomalies.len(), self.normals.len());
        if pos == 0 || neg == 0 {
            return Err(Error::Data("metrics need both normal (0) and anomalous (1) labels".into()));
        }
        if let Some(s) = self.anomalies.iter().chain(&self.normals).find(|s| !s.is_finite()) {
            return Err(Error::Data(format!("a score is not finite ({s})")));
        }
        let descending = |a: &f32, b: &f32| b.total_cmp(a);
        self.anomalies.sort_unstable_by(descending);
        self.normals.sort_unstable_by(descending);
        let (a, n) = (&self.anomalies, &self.normals);
        let (mut i, mut j) = (0, 0);
        let (mut pairs, mut ap, mut prev_recall) = (0f64, 0f64, 0f64);
        while i < pos || j < neg {
            let t = match (a.get(i), n.get(j)) {
                (Some(x), Some(y)) => x.max(*y),
                (Some(x), None) => *x,
                (None, Some(y)) => *y,
                (None, None) => unreachable!(),
            };
            let (i0, j0) = (i, j);
            while i < pos && a[i] == t {
                i += 1;
            }
            while j < neg && n[j] == t {
                j += 1;
            }
            let (tp_block, fp_block) = ((i - i0) as f64, (j - j0) as f64);
            // Anomalies at t rank above every normal below t, and half above those tied at t.
            pairs += tp_block * ((neg - j) as f64 + 0.5 * fp_block);
            let recall = i as f64 / pos as f64;
            ap += (recall - prev_recall) * (i as f64 / (i + j) as f64);
            prev_recall = recall;
        }
        Ok((pairs / (pos as f64 * neg as f64), ap))
    }
}

/// The `q` quantile (0..=1) of `values`, linear interpolation between order statistics
/// (numpy's default).
pub fn quantile(values: &[f32], q: f64) -> f32 {
    assert!(!values.is_empty(), "quantile of no values");
    let mut v: Vec<f32> = values.to_vec();
    v.sort_by(f32::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = (pos - lo as f64) as f32;
    v[lo] + (v[hi] - v[lo]) * frac
}

/// Threshold flagging the top `rate` fraction of the training scores as anomalies.
pub fn threshold_for_rate(train_scores: &[f32], rate: f64) -> f32 {
    quantile(train_scores, 1.0 - rate)
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    /// The streamed metrics equal the ones of the whole arrays, with ties within and across
    /// the classes.
    #[test]
    fn labelled_scores_give_the_metrics_of_the_whole_arrays() {
        let mut state = 7u64;
        for (n, levels) in [(50usize, 5u64), (2000, 40), (3000, 1 << 20)] {
            let (mut scores, mut labels, mut split) = (Vec::new(), Vec::new(), LabelledScores::default());
            for k in 0..n {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let s = ((state >> 33) % levels) as f32 / levels as f32;
                let l = (k % 9 == 0 || (s > 0.8 && k % 2 == 0)) as u8;
                scores.push(s);
                labels.push(l);
                split.push(s, l);
            }
            assert_eq!(split.len(), n);
            let (auc, ap) = split.metrics().unwrap();
            assert!((auc - roc_auc(&scores, &labels).unwrap()).abs() < 1e-12, "{n}: {auc}");
            assert!((ap - average_precision(&scores, &labels).unwrap()).abs() < 1e-12, "{n}: {ap}");
        }
        let mut one_class = LabelledScores::default();
        one_class.push(0.5, 0);
        assert!(one_class.metrics().is_err());
    }

    use super::*;

    #[test]
    fn auc_hand_computed() {
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap(), 0.75);
        assert_eq!(roc_auc(&[0.9, 0.8, 0.1], &[1, 1, 0]).unwrap(), 1.0);
        assert_eq!(roc_auc(&[0.1, 0.2, 0.9], &[1, 1, 0]).unwrap(), 0.0);
    }

    #[test]
    fn auc_ties_count_half() {
        // all scores tied: 0.5
        assert_eq!(roc_auc(&[0.5, 0.5, 0.5, 0.5], &[0, 1, 0, 1]).unwrap(), 0.5);
        // pos {0.5, 0.9}, neg {0.5, 0.1}: pairs (0.5 vs 0.5)=.5, (0.5 vs 0.1)=1, (0.9,*)=2 -> 3.5/4
        assert_eq!(roc_auc(&[0.5, 0.9, 0.5, 0.1], &[1, 1, 0, 0]).unwrap(), 0.875);
    }

    #[test]
    fn average_precision_matches_sklearn() {
        // sklearn: average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.8333...
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap();
        assert!((ap - 0.833_333_333).abs() < 1e-9, "{ap}");
        // with ties: sklearn gives 0.5 for all-tied half positive
        let ap = average_precision(&[0.5, 0.5, 0.5, 0.5], &[0, 1, 0, 1]).unwrap();
        assert!((ap - 0.5).abs() < 1e-12);
    }

    #[test]
    fn curves_end_at_one() {
        let roc = roc_curve(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap();
        assert_eq!(roc.first().unwrap().0, 0.0);
        assert_eq!((roc.last().unwrap().0, roc.last().unwrap().1), (1.0, 1.0));
        let pr = pr_curve(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap();
        assert_eq!(pr[0], (0.5, 1.0, 0.8));
    }

    #[test]
    fn metric_errors() {
        assert!(roc_auc(&[0.1, 0.2], &[0, 0]).is_err());
        assert!(roc_auc(&[0.1], &[0, 1]).is_err());
        assert!(roc_auc(&[f32::NAN, 0.2], &[0, 1]).is_err());
    }

    #[test]
    fn quantiles() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), 3.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(threshold_for_rate(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.1), 9.0);
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert_eq!((m, s), (2.0, 1.0));
    }
}
