//! The preprocessing fit on training rows: one-hot encoding of categorical columns and
//! min-max scaling of numeric ones. Serialisable, so a bundle scores new files the same way.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::csv::{ColumnKind, LabelValues, Table, is_missing, parse_label, parse_number};
use crate::error::{Error, Result};

/// A row-major matrix of `f32` features.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, values: Vec<f32>) -> Self {
        assert_eq!(rows * cols, values.len(), "matrix shape does not match its values");
        Matrix { rows, cols, values }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Matrix {
        let mut values = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Matrix { rows: indices.len(), cols: self.cols, values }
    }
}

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
    /// Numeric cells scaled outside [0, 1] (kept as they are, not clipped).
    pub out_of_range: usize,
}

impl TransformStats {
    pub fn add(&mut self, other: &TransformStats) {
        self.unseen_categories += other.unseen_categories;
        self.out_of_range += other.out_of_range;
    }
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

/// Scaled values are kept within ±`SCALED_LIMIT`: a value far outside the training range (say
/// 1e38 where training saw [0, 1e-30]) would otherwise become infinite in f32 and poison the
/// score. It is an extreme outlier either way, and is counted in `out_of_range`.
pub const SCALED_LIMIT: f64 = 1e6;

fn scale(v: f64, min: f64, max: f64) -> f64 {
    let range = max - min;
    let s = if range > 0.0 { (v - min) / range } else { v - min };
    s.clamp(-SCALED_LIMIT, SCALED_LIMIT)
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
                    columns.push(FeatureColumn::Categorical { name: col.name.clone(), categories });
                }
            }
        }
        Ok(Preprocessor { columns, label, label_values: table.label_values.clone() })
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
            match fc {
                FeatureColumn::Numeric { min, max, .. } => {
                    if col.kind != ColumnKind::Numeric {
                        return Err(Error::Schema(format!(
                            "column '{}' was numeric in training but holds text here",
                            col.name
                        )));
                    }
                    for (i, &r) in rows.iter().enumerate() {
                        let s = scale(col.numbers[r], *min, *max);
                        if !(0.0..=1.0).contains(&s) {
                            stats.out_of_range += 1;
                        }
                        values[i * width + offset] = s as f32;
                    }
                }
                FeatureColumn::Categorical { categories, .. } => {
                    // Map dictionary codes of this table to category positions.
                    let lookup: HashMap<&str, usize> =
                        categories.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
                    let code_to_pos: Vec<Option<usize>> = match col.kind {
                        ColumnKind::Categorical => {
                            col.dictionary.iter().map(|d| lookup.get(d.as_str()).copied()).collect()
                        }
                        ColumnKind::Numeric => Vec::new(),
                    };
                    for (i, &r) in rows.iter().enumerate() {
                        let pos = match col.kind {
                            ColumnKind::Categorical => code_to_pos[col.codes[r] as usize],
                            ColumnKind::Numeric => {
                                lookup.get(super::csv::format_number(col.numbers[r]).as_str()).copied()
                            }
                        };
                        match pos {
                            Some(p) => values[i * width + offset + p] = 1.0,
                            None => stats.unseen_categories += 1,
                        }
                    }
                }
            }
            offset += fc.width();
        }
        Ok((Matrix::new(rows.len(), width, values), stats))
    }

    /// An encoder for streamed records of a file with these `headers`.
    pub fn row_encoder(&self, headers: &[String], label: Option<&str>) -> Result<RowEncoder> {
        let mut plan = Vec::with_capacity(self.columns.len());
        for fc in &self.columns {
            let idx = headers.iter().position(|h| h == fc.name()).ok_or_else(|| {
                Error::Schema(format!(
                    "column '{}' that the model was trained on is missing from the CSV (its columns: {})",
                    fc.name(),
                    headers.join(", ")
                ))
            })?;
            let lookup = match fc {
                FeatureColumn::Categorical { categories, .. } => {
                    categories.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect()
                }
                _ => HashMap::new(),
            };
            plan.push((idx, lookup));
        }
        let label_idx = label.and_then(|l| headers.iter().position(|h| h == l));
        Ok(RowEncoder { pre: self.clone(), plan, label_idx, headers: headers.to_vec() })
    }
}

/// Encodes single CSV records with a fitted [`Preprocessor`] (for streamed scoring).
#[derive(Debug)]
pub struct RowEncoder {
    pre: Preprocessor,
    plan: Vec<(usize, HashMap<String, usize>)>,
    label_idx: Option<usize>,
    headers: Vec<String>,
}

impl RowEncoder {
    pub fn width(&self) -> usize {
        self.pre.width()
    }

    pub fn has_label(&self) -> bool {
        self.label_idx.is_some()
    }

    /// Append the encoded record to `out`; returns the label when the file has one.
    /// On error nothing is appended.
    pub fn encode(
        &self,
        fields: &[&str],
        line: u64,
        out: &mut Vec<f32>,
        stats: &mut TransformStats,
    ) -> Result<Option<u8>> {
        let start = out.len();
        let mut local = TransformStats::default();
        let res = (|| {
            for (fc, (idx, lookup)) in self.pre.columns.iter().zip(&self.plan) {
                let cell = fields[*idx];
                match fc {
                    FeatureColumn::Numeric { name, min, max } => {
                        if is_missing(cell) {
                            return Err(Error::csv(line, Some(name), "missing value in a numeric column"));
                        }
                        let v = parse_number(cell)
                            .map_err(|m| Error::csv(line, Some(name), m))?
                            .ok_or_else(|| {
                                Error::csv(line, Some(name), format!("'{}' is not a number", cell.trim()))
                            })?;
                        let s = scale(v, *min, *max);
                        if !(0.0..=1.0).contains(&s) {
                            local.out_of_range += 1;
                        }
                        out.push(s as f32);
                    }
                    FeatureColumn::Categorical { categories, .. } => {
                        let base = out.len();
                        out.resize(base + categories.len(), 0.0);
                        let key = cell.trim();
                        let key = if is_missing(key) && !lookup.contains_key(key) { "(missing)" } else { key };
                        match lookup.get(key) {
                            Some(&p) => out[base + p] = 1.0,
                            None => local.unseen_categories += 1,
                        }
                    }
                }
            }
            match self.label_idx {
                Some(li) => parse_label(fields[li], self.pre.label_values.as_ref())
                    .map(Some)
                    .map_err(|msg| Error::csv(line, Some(&self.headers[li]), msg)),
                None => Ok(None),
            }
        })();
        match res {
            Ok(l) => {
                stats.add(&local);
                Ok(l)
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let enc = p.row_encoder(&headers, Some("label")).unwrap();
        let mut out = Vec::new();
        let mut st = TransformStats::default();
        assert_eq!(enc.encode(&["2", "y", "1"], 2, &mut out, &mut st).unwrap(), Some(1));
        assert_eq!(out, vec![0.0, 1.0, 0.5]);
        let e = enc.encode(&["abc", "y", "0"], 7, &mut out, &mut st).unwrap_err().to_string();
        assert!(e.contains("line 7") && e.contains("'v'"), "{e}");
        assert_eq!(out.len(), 3, "a failed row appends nothing");
        let missing: Vec<String> = ["v", "label"].iter().map(|s| s.to_string()).collect();
        assert!(p.row_encoder(&missing, None).unwrap_err().to_string().contains("'c'"));
    }
}
