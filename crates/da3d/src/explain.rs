//! Why is a row anomalous: which source columns push its score up.
//!
//! The method: the score split by column. A standardised score (`robust`, `quick`) is a weighted
//! sum of logarithms of sums over the model's inputs: per member the log error (`Σ_j z_j²`, `z`
//! the residual in units of its spread on the training rows) and the residual tails term
//! (`Σ_j −ln p_j`, how far into its own training tail each residual lies), and the neighbours
//! term (`Σ_j (x_j − n_j)²` to the `k`-th nearest training row). Per model input `j` the
//! detector gives `c_j`, over those terms the term's weight times input `j`'s fraction of the
//! term's sum ([`Detector::input_contributions`](crate::Detector::input_contributions)): how much
//! the score moves when that input's parts grow by a given fraction. A source column gets the sum
//! over its inputs (one for a numeric column, one per category for a one-hot one), and its
//! **share** of the row's total. The alarm's part of a score is not split (it reads hidden
//! activations, not columns); models without score scales (`paper`, `reference`) split the
//! members' mean squared residual. Each attribution also gives the row's value and the training
//! range (numeric) or says whether the category was seen in training.

use serde::Serialize;

use crate::data::{FeatureColumn, Matrix, Preprocessor};
use crate::error::{Error, Result};

/// One column's part in a row's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// The source column.
    pub column: String,
    /// Its share of the row's score, in [0, 1] (the shares of all columns sum to 1).
    pub share: f32,
    /// Its summed part `c_j` of the score (see the module's doc): in score units per relative
    /// change of the column's parts; the squared residual for models without score scales.
    pub contribution: f32,
    /// The row's value: the number (numeric), the category, or `(unseen)`.
    pub value: String,
    /// Numeric: the training range `[min, max]`; categorical: `None`.
    pub training_range: Option<(f64, f64)>,
    /// Whether the value lies outside what training saw (outside the range, or an unseen category).
    pub outside_training: bool,
}

/// The `top` columns of each row by share, largest first. `x`: the rows as the model reads them
/// (`[rows × d]`, from `preprocessor`); `contributions`: the detector's `[rows × d]` terms.
pub fn explain(preprocessor: &Preprocessor, x: &Matrix, contributions: &Matrix, top: usize) -> Result<Vec<Vec<Attribution>>> {
    let width = preprocessor.width();
    if x.cols != width || contributions.cols != width || x.rows != contributions.rows {
        return Err(Error::Schema(format!(
            "explanations need rows of {width} inputs: got {} × {} values and {} × {} contributions",
            x.rows, x.cols, contributions.rows, contributions.cols
        )));
    }
    Ok((0..x.rows).map(|r| explain_row(preprocessor, x.row(r), contributions.row(r), top)).collect())
}

fn explain_row(preprocessor: &Preprocessor, values: &[f32], terms: &[f32], top: usize) -> Vec<Attribution> {
    let total: f64 = terms.iter().map(|&t| t.max(0.0) as f64).sum();
    let mut out = Vec::with_capacity(preprocessor.columns.len());
    let mut start = 0;
    for column in &preprocessor.columns {
        let w = column.width();
        let part = &values[start..start + w];
        let contribution: f64 = terms[start..start + w].iter().map(|&t| t.max(0.0) as f64).sum();
        start += w;
        let (value, training_range, outside_training) = match column {
            FeatureColumn::Numeric { min, max, .. } => {
                let s = part[0] as f64;
                let v = if max > min { min + s * (max - min) } else { min + s };
                (format_number(v), Some((*min, *max)), !(0.0..=1.0).contains(&s))
            }
            FeatureColumn::Categorical { categories, .. } => match part.iter().position(|&v| v > 0.5) {
                Some(i) => (categories[i].clone(), None, false),
                None => ("(unseen)".to_string(), None, true),
            },
        };
        out.push(Attribution {
            column: column.name().to_string(),
            share: if total > 0.0 { (contribution / total) as f32 } else { 0.0 },
            contribution: contribution as f32,
            value,
            training_range,
            outside_training,
        });
    }
    out.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    out.truncate(top);
    out
}

/// A number as a person reads it: up to 6 significant digits, no trailing zeros.
pub fn format_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (5 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preprocessor() -> Preprocessor {
        Preprocessor {
            columns: vec![
                FeatureColumn::Numeric { name: "a".into(), min: 0.0, max: 10.0 },
                FeatureColumn::Categorical { name: "kind".into(), categories: vec!["x".into(), "y".into()] },
                FeatureColumn::Numeric { name: "b".into(), min: -1.0, max: 1.0 },
            ],
            label: None,
            label_values: None,
        }
    }

    #[test]
    fn shares_sum_columns_and_sort() {
        let p = preprocessor();
        // a = 5 (0.5), kind = y, b = 3 (scaled 2.0: outside training)
        let x = Matrix::new(1, 4, vec![0.5, 0.0, 1.0, 2.0]);
        let c = Matrix::new(1, 4, vec![1.0, 0.5, 0.5, 8.0]);
        let e = explain(&p, &x, &c, 3).unwrap();
        let names: Vec<_> = e[0].iter().map(|a| a.column.as_str()).collect();
        assert_eq!(names, ["b", "a", "kind"]);
        assert_eq!(e[0][0].share, 0.8);
        assert_eq!((e[0][0].value.as_str(), e[0][0].outside_training), ("3", true));
        assert_eq!(e[0][0].training_range, Some((-1.0, 1.0)));
        assert_eq!((e[0][2].value.as_str(), e[0][2].contribution), ("y", 1.0));
        assert_eq!(e[0][1].value, "5");
        assert!(!e[0][1].outside_training);
        let top1 = explain(&p, &x, &c, 1).unwrap();
        assert_eq!(top1[0].len(), 1);
    }

    #[test]
    fn unseen_categories_and_bad_shapes() {
        let p = preprocessor();
        let x = Matrix::new(1, 4, vec![0.1, 0.0, 0.0, 0.5]);
        let c = Matrix::new(1, 4, vec![0.0; 4]);
        let e = explain(&p, &x, &c, 3).unwrap();
        let kind = e[0].iter().find(|a| a.column == "kind").unwrap();
        assert_eq!((kind.value.as_str(), kind.outside_training, kind.share), ("(unseen)", true, 0.0));
        assert!(explain(&p, &Matrix::new(1, 3, vec![0.0; 3]), &c, 3).is_err());
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.125), "0.125");
        assert_eq!(format_number(1234.5678), "1234.57");
        assert_eq!(format_number(-0.000012345678), "-0.0000123457");
    }
}
