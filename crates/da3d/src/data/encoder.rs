//! Streamed records encoded with a fitted [`Preprocessor`] (the scoring of `score`, batch by
//! batch), through the same cell encoder as [`Preprocessor::transform`].

use super::csv::{category_key, find_column, is_missing, parse_label, parse_number};
use super::preprocess::{Cell, CellError, ColumnPlan, FeatureColumn, Preprocessor, TransformStats};
use crate::error::{Error, Result};

impl Preprocessor {
    /// An encoder for streamed records of a file with these `headers`. With
    /// `non_finite_as_missing` (the training file's reading rule) infinite values count as missing.
    pub fn row_encoder(&self, headers: &[String], label: Option<&str>, non_finite_as_missing: bool) -> Result<RowEncoder> {
        let mut indices = Vec::with_capacity(self.columns.len());
        for fc in &self.columns {
            let idx = headers.iter().position(|h| h == fc.name()).ok_or_else(|| {
                Error::Schema(format!(
                    "column '{}' that the model was trained on is missing from the CSV (its columns: {})",
                    fc.name(),
                    headers.join(", ")
                ))
            })?;
            indices.push(idx);
        }
        let label_idx = label.and_then(|l| find_column(headers, l));
        Ok(RowEncoder::new(self.clone(), indices, label_idx, headers.to_vec(), non_finite_as_missing))
    }
}

/// What [`RowEncoder::encode`] made of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoded {
    /// The record's features were appended; its label when the file has one.
    Row(Option<u8>),
    /// A numeric column holds a missing value: nothing appended, the row is dropped (the rule
    /// that dropped such rows from the training file).
    Missing { column: String },
}

/// Encodes single CSV records with a fitted [`Preprocessor`] (for streamed scoring), through
/// the same cell encoder as [`Preprocessor::transform`].
#[derive(Debug)]
pub struct RowEncoder {
    pre: Preprocessor,
    indices: Vec<usize>,
    plans: Vec<ColumnPlan>,
    label_idx: Option<usize>,
    headers: Vec<String>,
    non_finite_as_missing: bool,
}

impl RowEncoder {
    pub(super) fn new(pre: Preprocessor, indices: Vec<usize>, label_idx: Option<usize>, headers: Vec<String>, non_finite_as_missing: bool) -> Self {
        let plans = pre.columns.iter().map(ColumnPlan::new).collect();
        RowEncoder { pre, indices, plans, label_idx, headers, non_finite_as_missing }
    }

    pub fn width(&self) -> usize {
        self.pre.width()
    }

    pub fn has_label(&self) -> bool {
        self.label_idx.is_some()
    }

    /// Append the encoded record to `out`. On error, or a missing value, nothing is appended.
    pub fn encode(&self, fields: &[&str], line: u64, out: &mut Vec<f32>, stats: &mut TransformStats) -> Result<Encoded> {
        let start = out.len();
        out.resize(start + self.width(), 0.0);
        let mut local = TransformStats::default();
        let mut offset = start;
        let res = (|| {
            for ((fc, &idx), plan) in self.pre.columns.iter().zip(&self.indices).zip(&self.plans) {
                let text = fields[idx];
                let key;
                let cell = match fc {
                    _ if is_missing(text) => Cell::Missing,
                    FeatureColumn::Numeric { name, .. } => match parse_number(text) {
                        Ok(Some(v)) => Cell::Number(v),
                        Ok(None) => Cell::Text(text.trim()),
                        Err(_) if self.non_finite_as_missing => Cell::Missing,
                        Err(m) => return Err(Error::csv(line, Some(name), m)),
                    },
                    FeatureColumn::Categorical { .. } => {
                        key = category_key(text);
                        Cell::Text(&key)
                    }
                };
                match plan.encode(fc, cell, &mut out[offset..offset + fc.width()], &mut local) {
                    Ok(()) => {}
                    Err(CellError::Missing) => return Ok(Encoded::Missing { column: fc.name().to_string() }),
                    Err(CellError::NotANumber(t)) => {
                        return Err(Error::csv(line, Some(fc.name()), format!("'{t}' is not a number")));
                    }
                }
                offset += fc.width();
            }
            match self.label_idx {
                Some(li) => parse_label(fields[li], self.pre.label_values.as_ref())
                    .map(|l| Encoded::Row(Some(l)))
                    .map_err(|msg| Error::csv(line, Some(&self.headers[li]), msg)),
                None => Ok(Encoded::Row(None)),
            }
        })();
        match res {
            Ok(Encoded::Row(l)) => {
                stats.add(&local);
                Ok(Encoded::Row(l))
            }
            other => {
                out.truncate(start);
                other
            }
        }
    }
}
