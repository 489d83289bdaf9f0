//! The preprocessing fit on training rows: one-hot encoding of categorical columns and
//! min-max scaling of numeric ones. Serialisable, so a bundle scores new files the same way.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::csv::{ColumnKind, LabelValues, MISSING_CATEGORY, Table, format_number};
use super::{DataShape, Matrix};
use crate::error::{Error, Result};

/// How one source column becomes features.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureColumn {
    /// `(v - min) / (max - min)`; a constant column (max = min) becomes `v - min`.
    Numeric { name: String, min: f64, max: f64 },
    /// One feature per category seen in training; an unseen category gives all zeros.
    Categorical { name: String, categories: Vec<String> },
}

impl FeatureColumn {
    pub fn name(&self) -> &str {
        match self {
            FeatureColumn::Numeric { name, .. } | FeatureColumn::Categorical { name, .. } => name,
        }
    }

    pub fn width(&self) -> usize {
        match self {
            FeatureColumn::Numeric { .. } => 1,
            FeatureColumn::Categorical { categories, .. } => categories.len(),
        }
    }
}

/// Counts worth telling the user after a transform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformStats {
    /// Cells whose category was not seen in training (encoded as all zeros).
    pub unseen_categories: usize,
    /// Numeric cells scaled outside [0, 1] (kept, up to ±[`SCALED_LIMIT`]).
    pub out_of_range: usize,
    /// Of those, cells scaled beyond ±[`SCALED_LIMIT`] and limited to it.
    #[serde(default)]
    pub clipped: usize,
}

impl TransformStats {
    pub fn add(&mut self, other: &TransformStats) {
        self.unseen_categories += other.unseen_categories;
        self.out_of_range += other.out_of_range;
        self.clipped += other.clipped;
    }
}

/// One cell as the encoder reads it, from a table column or from a streamed record.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell<'a> {
    Number(f64),
    /// A category key (`category_key`) or, in a numeric column, text that is not a number.
    Text(&'a str),
    Missing,
}

/// Why a cell could not be encoded.
pub(super) enum CellError {
    /// A missing value in a numeric column: the row is dropped, as when training read it.
    Missing,
    NotANumber(String),
}

/// The fitted preprocessing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Preprocessor {
    pub columns: Vec<FeatureColumn>,
    /// Label column name used in training, if any.
    pub label: Option<String>,
    /// Text label values of the training file (`Benign` / `Malicious`, …); `None`: 0/1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_values: Option<LabelValues>,
}

/// Most distinct values a categorical column may bring (one input each).
pub const MAX_CATEGORIES: usize = 1_000;
/// A categorical column with more distinct training values than this share of its rows (and
/// more than [`FEW_CATEGORIES`]) is an identifier, a timestamp or an address, not a category.
pub const MAX_CATEGORY_SHARE: f64 = 0.5;
/// Distinct values a categorical column may always have, whatever its rows.
pub const FEW_CATEGORIES: usize = 100;
/// Most model inputs a table may give (its numeric columns plus one per category).
pub const MAX_INPUTS: usize = 20_000;

/// Scaled values are limited to ±`SCALED_LIMIT`: a value far outside the training range (say
/// 1e38 where training saw [0, 1e-30]) would otherwise become infinite in f32 and poison the
/// score. It is an extreme outlier either way; it is counted in `out_of_range` and `clipped`.
pub const SCALED_LIMIT: f64 = 1e6;

/// The encoding plan of one feature column: when categorical, its category positions.
#[derive(Debug, Clone)]
pub(super) struct ColumnPlan {
    positions: HashMap<String, usize>,
}

impl ColumnPlan {
    pub(super) fn new(column: &FeatureColumn) -> Self {
        let positions = match column {
            FeatureColumn::Categorical { categories, .. } => {
                categories.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect()
            }
            FeatureColumn::Numeric { .. } => HashMap::new(),
        };
        ColumnPlan { positions }
    }

    /// The one cell encoder: writes the features of `cell` of `column` into `out`
    /// (`column.width()` values, zeroed by the caller) and counts what the user should hear about.
    pub(super) fn encode(
        &self,
        column: &FeatureColumn,
        cell: Cell,
        out: &mut [f32],
        stats: &mut TransformStats,
    ) -> std::result::Result<(), CellError> {
        match column {
            FeatureColumn::Numeric { min, max, .. } => {
                let v = match cell {
                    Cell::Number(v) => v,
                    Cell::Missing => return Err(CellError::Missing),
                    Cell::Text(t) => return Err(CellError::NotANumber(t.to_string())),
                };
                let range = max - min;
                let s = if range > 0.0 { (v - min) / range } else { v - min };
                if !(0.0..=1.0).contains(&s) {
                    stats.out_of_range += 1;
                }
                if s.abs() > SCALED_LIMIT {
                    stats.clipped += 1;
                }
                out[0] = s.clamp(-SCALED_LIMIT, SCALED_LIMIT) as f32;
            }
            FeatureColumn::Categorical { .. } => {
                let number;
                let key = match cell {
                    Cell::Text(t) => t,
                    Cell::Missing => MISSING_CATEGORY,
                    Cell::Number(v) => {
                        number = format_number(v);
                        number.as_str()
                    }
                };
                match self.positions.get(key) {
                    Some(&p) => out[p] = 1.0,
                    None => stats.unseen_categories += 1,
                }
            }
        }
        Ok(())
    }
}

impl Preprocessor {
    /// Fit on the rows `rows` of `table` (training rows only).
    pub fn fit(table: &Table, rows: &[usize], label: Option<String>) -> Result<Self> {
        if rows.is_empty() {
            return Err(Error::Data("no training rows to fit the preprocessing on".into()));
        }
        let mut columns = Vec::with_capacity(table.columns.len());
        for col in &table.columns {
            match col.kind {
                ColumnKind::Numeric => {
                    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
                    for &r in rows {
                        let v = col.numbers[r];
                        min = min.min(v);
                        max = max.max(v);
                    }
                    columns.push(FeatureColumn::Numeric { name: col.name.clone(), min, max });
                }
                ColumnKind::Categorical => {
                    let mut seen = vec![false; col.dictionary.len()];
                    for &r in rows {
                        seen[col.codes[r] as usize] = true;
                    }
                    let mut categories: Vec<String> = col
                        .dictionary
                        .iter()
                        .zip(&seen)
                        .filter(|(_, s)| **s)
                        .map(|(c, _)| c.clone())
                        .collect();
                    categories.sort();
                    let n = categories.len();
                    if n > MAX_CATEGORIES || (n > FEW_CATEGORIES && n as f64 > MAX_CATEGORY_SHARE * rows.len() as f64) {
                        return Err(Error::Data(format!(
                            "column '{0}' holds {n} distinct values in {1} training rows: an identifier, a timestamp \
                             or an address rather than a category (each value would be an input of its own); leave it \
                             out (--drop '{0}')",
                            col.name,
                            rows.len()
                        )));
                    }
                    columns.push(FeatureColumn::Categorical { name: col.name.clone(), categories });
                }
            }
        }
        let width: usize = columns.iter().map(FeatureColumn::width).sum();
        if width > MAX_INPUTS {
            let mut widest: Vec<&FeatureColumn> = columns.iter().collect();
            widest.sort_by_key(|c| std::cmp::Reverse(c.width()));
            let named: Vec<String> = widest.iter().take(3).map(|c| format!("'{}' ({})", c.name(), c.width())).collect();
            return Err(Error::Data(format!(
                "the table gives {width} inputs, more than {MAX_INPUTS}; the widest columns: {}",
                named.join(", ")
            )));
        }
        Ok(Preprocessor { columns, label, label_values: table.label_values.clone() })
    }

    /// The shape of training rows `train` encoded by this preprocessing (one entry per column).
    pub fn shape(&self, train: &Matrix) -> DataShape {
        DataShape { inputs: train.cols, columns: self.columns.len(), rows: train.rows }
    }

    /// Number of model inputs.
    pub fn width(&self) -> usize {
        self.columns.iter().map(FeatureColumn::width).sum()
    }

    /// Names of the model inputs (`col` or `col=category`).
    pub fn feature_names(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.width());
        for c in &self.columns {
            match c {
                FeatureColumn::Numeric { name, .. } => out.push(name.clone()),
                FeatureColumn::Categorical { name, categories } => {
                    out.extend(categories.iter().map(|cat| format!("{name}={cat}")))
                }
            }
        }
        out
    }

    /// Names of the numeric columns whose training values were constant.
    pub fn constant_columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter_map(|c| match c {
                FeatureColumn::Numeric { name, min, max } if min == max => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Encode rows `rows` of `table`. The table must have the columns this was fit on (by name,
    /// with the same kinds).
    pub fn transform(&self, table: &Table, rows: &[usize]) -> Result<(Matrix, TransformStats)> {
        let width = self.width();
        let mut values = vec![0f32; rows.len() * width];
        let mut stats = TransformStats::default();
        let mut offset = 0;
        for fc in &self.columns {
            let col = table.columns.iter().find(|c| c.name == fc.name()).ok_or_else(|| {
                Error::Schema(format!("column '{}' is missing from the data", fc.name()))
            })?;
            if matches!(fc, FeatureColumn::Numeric { .. }) && col.kind != ColumnKind::Numeric {
                return Err(Error::Schema(format!("column '{}' was numeric in training but holds text here", col.name)));
            }
            let plan = ColumnPlan::new(fc);
            for (i, &r) in rows.iter().enumerate() {
                let cell = match col.kind {
                    ColumnKind::Numeric if col.numbers[r].is_nan() => Cell::Missing,
                    ColumnKind::Numeric => Cell::Number(col.numbers[r]),
                    ColumnKind::Categorical => Cell::Text(col.category(r)),
                };
                let at = i * width + offset;
                if plan.encode(fc, cell, &mut values[at..at + fc.width()], &mut stats).is_err() {
                    // A table keeps no row with a missing or text cell in a numeric column.
                    return Err(Error::Schema(format!("column '{}': row {} cannot be encoded", col.name, table.lines[r])));
                }
            }
            offset += fc.width();
        }
        Ok((Matrix::new(rows.len(), width, values), stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Encoded;
    use crate::data::csv::{ReadOptions, read_table_bytes};

    fn table(s: &str) -> Table {
        read_table_bytes(s.as_bytes(), &ReadOptions::default()).unwrap()
    }

    #[test]
    fn minmax_fit_on_training_rows_only_and_not_clipped() {
        let t = table("a,label\n0,0\n10,0\n20,0\n-10,1\n");
        let p = Preprocessor::fit(&t, &[0, 1], None).unwrap();
        let (m, stats) = p.transform(&t, &[0, 1, 2, 3]).unwrap();
        assert_eq!(m.values, vec![0.0, 1.0, 2.0, -1.0]);
        assert_eq!(stats.out_of_range, 2);
    }

    #[test]
    fn values_far_outside_the_training_range_stay_finite() {
        let t = table("a,label\n0,0\n1e-30,0\n3e38,1\n-3e38,1\n");
        let p = Preprocessor::fit(&t, &[0, 1], None).unwrap();
        let (m, stats) = p.transform(&t, &[0, 1, 2, 3]).unwrap();
        assert_eq!(m.values, vec![0.0, 1.0, SCALED_LIMIT as f32, -SCALED_LIMIT as f32]);
        assert_eq!(stats.out_of_range, 2);
        assert_eq!(stats.clipped, 2);
    }

    #[test]
    fn constant_column_is_reported_and_finite() {
        let t = table("a,b,label\n5,1,0\n5,2,0\n6,3,1\n");
        let p = Preprocessor::fit(&t, &[0, 1], None).unwrap();
        assert_eq!(p.constant_columns(), vec!["a"]);
        let (m, _) = p.transform(&t, &[0, 1, 2]).unwrap();
        assert!(m.values.iter().all(|v| v.is_finite()));
        assert_eq!(m.row(2)[0], 1.0);
    }

    #[test]
    fn one_hot_with_unseen_category() {
        let t = table("c,v,label\nx,1,0\ny,2,0\nz,3,1\n");
        let p = Preprocessor::fit(&t, &[0, 1], None).unwrap();
        assert_eq!(p.width(), 3);
        assert_eq!(p.feature_names(), vec!["c=x", "c=y", "v"]);
        let (m, stats) = p.transform(&t, &[0, 1, 2]).unwrap();
        assert_eq!(m.row(0), &[1.0, 0.0, 0.0]);
        assert_eq!(m.row(1), &[0.0, 1.0, 1.0]);
        assert_eq!(m.row(2), &[0.0, 0.0, 2.0]);
        assert_eq!(stats.unseen_categories, 1);
    }

    #[test]
    fn row_encoder_matches_transform_and_reports_errors() {
        let t = table("c,v,label\nx,1,0\ny,3,0\n");
        let p = Preprocessor::fit(&t, &[0, 1], Some("label".into())).unwrap();
        let headers: Vec<String> = ["v", "c", "label"].iter().map(|s| s.to_string()).collect();
        let enc = p.row_encoder(&headers, Some("label"), false).unwrap();
        let mut out = Vec::new();
        let mut st = TransformStats::default();
        assert_eq!(enc.encode(&["2", "y", "1"], 2, &mut out, &mut st).unwrap(), Encoded::Row(Some(1)));
        assert_eq!(out, vec![0.0, 1.0, 0.5]);
        let e = enc.encode(&["abc", "y", "0"], 7, &mut out, &mut st).unwrap_err().to_string();
        assert!(e.contains("line 7") && e.contains("'v'"), "{e}");
        assert_eq!(out.len(), 3, "a failed row appends nothing");
        let missing: Vec<String> = ["v", "label"].iter().map(|s| s.to_string()).collect();
        assert!(p.row_encoder(&missing, None, false).unwrap_err().to_string().contains("'c'"));
        // a missing value in a numeric column drops the row, as reading the training file did
        assert_eq!(enc.encode(&["?", "y", "0"], 8, &mut out, &mut st).unwrap(), Encoded::Missing { column: "v".into() });
        assert_eq!(out.len(), 3);
    }

    /// A seeded random CSV with numeric, number-like categorical, text and missing cells.
    fn random_csv(seed: u64) -> String {
        let mut rng = crate::rng::HostRng::new(seed, 77);
        let mut text = String::from("num,code,word,forced,label\n");
        for i in 0..(20 + rng.below(60)) {
            let num = match rng.below(12) {
                0 => "?".to_string(),
                1 => format!("{}e2", rng.below(9)),
                _ => format!("{:.3}", rng.normal() * 10.0),
            };
            // text in every other row: the column is categorical, with number-like cells
            let code = if i % 2 == 0 { ["x", "y", "z"][rng.below(3)] } else { ["1", "1.0", "02", "2", "3.50", " 4 ", "NA", ""][rng.below(8)] };
            let word = ["a", "b", "c", "?", "1", "a "][rng.below(6)];
            let forced = ["7", "07", "7.0", "8", "null", "z"][rng.below(6)];
            text.push_str(&format!("{num},{code},{word},{forced},{}\n", rng.below(2)));
        }
        text
    }

    /// The property `da3d score` relies on: a file streamed record by record encodes to the
    /// very inputs that reading it as a table gives, for any mix of cells (200 seeded files).
    #[test]
    fn streamed_and_table_encodings_are_equal() {
        use crate::data::csv::RecordReader;
        for seed in 0..200 {
            let csv = random_csv(seed);
            let opts = ReadOptions { categorical: vec!["forced".into()], ..Default::default() };
            let t = read_table_bytes(csv.as_bytes(), &opts).unwrap();
            let rows: Vec<usize> = (0..t.n_rows()).collect();
            // fit on the first half: the rest holds unseen categories and out-of-range values
            let p = Preprocessor::fit(&t, &rows[..rows.len().div_ceil(2)], Some("label".into())).unwrap();
            let (batch, batch_stats) = p.transform(&t, &rows).unwrap();
            let mut reader = RecordReader::new(csv.as_bytes(), None).unwrap();
            let enc = p.row_encoder(&reader.headers().to_vec(), Some("label"), false).unwrap();
            let (mut streamed, mut stats, mut kept) = (Vec::new(), TransformStats::default(), Vec::new());
            while let Some((line, fields)) = reader.next_record().unwrap() {
                if let Encoded::Row(_) = enc.encode(&fields, line, &mut streamed, &mut stats).unwrap() {
                    kept.push(line);
                }
            }
            assert_eq!(kept, t.lines, "seed {seed}: the same rows are dropped");
            assert_eq!(streamed, batch.values, "seed {seed}:\n{csv}");
            assert_eq!(stats, batch_stats, "seed {seed}");
        }
    }
}
