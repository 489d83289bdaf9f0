//! Data: CSV reading, preprocessing, the paper's split and contamination protocol.

pub mod csv;
mod encoder;
mod matrix;
pub mod preprocess;
pub mod split;

pub use self::csv::{
    ColumnKind, DELIMITERS, LabelValues, MISSING_CATEGORY, MISSING_MARKERS, ReadOptions, ReadReport, RecordReader, SplitTag,
    Table, delimiter_name, parse_delimiter, read_table, read_table_bytes, sniff_delimiter,
};
pub use matrix::{DataShape, Matrix};
pub use encoder::{Encoded, RowEncoder};
pub use preprocess::{FeatureColumn, Preprocessor, TransformStats};
pub use split::{Protocol, Split, TrainingRows, contamination_count, half_normal_split, random_split, tagged_split, training_rows};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A labelled evaluation set.
#[derive(Debug, Clone)]
pub struct LabelledSet {
    pub x: Matrix,
    pub labels: Vec<u8>,
    pub lines: Vec<u64>,
}

impl LabelledSet {
    pub fn n_anomalies(&self) -> usize {
        self.labels.iter().filter(|&&l| l == 1).count()
    }
}

/// Summary of a prepared data set, for the user and the results table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrepareSummary {
    pub rows: usize,
    pub anomalies: usize,
    pub input_width: usize,
    pub train_rows: usize,
    pub train_contamination: usize,
    pub validation_rows: usize,
    pub validation_anomalies: usize,
    pub test_rows: usize,
    pub test_anomalies: usize,
    pub constant_columns: Vec<String>,
    pub test_unseen_categories: usize,
    pub test_out_of_range: usize,
}

/// Training rows, preprocessing and held-out sets prepared by the paper's protocol.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub preprocessor: Preprocessor,
    pub train: Matrix,
    /// Input lines of the training rows, in the order of `train`.
    pub train_lines: Vec<u64>,
    pub validation: LabelledSet,
    pub test: LabelledSet,
    pub summary: PrepareSummary,
}

impl Prepared {
    /// What the presets read of the training data: inputs, the columns they come from, rows.
    pub fn shape(&self) -> DataShape {
        self.preprocessor.shape(&self.train)
    }
}

/// Apply the paper's protocol to a labelled table: split (seeded, or by the table's split column),
/// train on normal rows (+ contamination), fit preprocessing on the training rows.
pub fn prepare(table: &Table, label: Option<String>, contamination: f64, seed: u64) -> Result<Prepared> {
    prepare_with(table, label, contamination, seed, Protocol::Paper)
}

/// Apply `protocol` to a labelled table (see [`prepare`]).
pub fn prepare_with(table: &Table, label: Option<String>, contamination: f64, seed: u64, protocol: Protocol) -> Result<Prepared> {
    let labels = table.labels.as_ref().ok_or_else(|| {
        Error::Data("this needs a label column (0 = normal, 1 = anomaly) to split and evaluate".into())
    })?;
    let n_anom = labels.iter().filter(|&&l| l == 1).count();
    if n_anom == 0 || n_anom == labels.len() {
        return Err(Error::Data(format!(
            "the label column holds a single class ({} rows, all {}): evaluation needs both normal (0) and anomalous (1) rows",
            labels.len(),
            if n_anom == 0 { "0" } else { "1" }
        )));
    }
    let split = match (protocol, &table.split) {
        (Protocol::HalfNormal, _) if contamination > 0.0 => {
            return Err(Error::config("contamination", "the half-normal protocol trains on normal rows only"));
        }
        (Protocol::HalfNormal, _) => half_normal_split(labels, seed),
        (Protocol::Paper, Some(tags)) => tagged_split(tags, seed),
        (Protocol::Paper, None) => random_split(table.n_rows(), seed),
    };
    let tr = training_rows(&split.train, labels, contamination, seed)?;
    let pre = Preprocessor::fit(table, &tr.rows, label)?;
    let (train, _) = pre.transform(table, &tr.rows)?;
    let make = |rows: &[usize]| -> Result<(LabelledSet, TransformStats)> {
        let (x, stats) = pre.transform(table, rows)?;
        let set = LabelledSet {
            x,
            labels: rows.iter().map(|&r| labels[r]).collect(),
            lines: rows.iter().map(|&r| table.lines[r]).collect(),
        };
        Ok((set, stats))
    };
    let (validation, _) = make(&split.validation)?;
    let (test, test_stats) = make(&split.test)?;
    let summary = PrepareSummary {
        rows: table.n_rows(),
        anomalies: n_anom,
        input_width: pre.width(),
        train_rows: tr.rows.len(),
        train_contamination: tr.n_contamination,
        validation_rows: validation.labels.len(),
        validation_anomalies: validation.n_anomalies(),
        test_rows: test.labels.len(),
        test_anomalies: test.n_anomalies(),
        constant_columns: pre.constant_columns().iter().map(|s| s.to_string()).collect(),
        test_unseen_categories: test_stats.unseen_categories,
        test_out_of_range: test_stats.out_of_range,
    };
    let train_lines = tr.rows.iter().map(|&r| table.lines[r]).collect();
    Ok(Prepared { preprocessor: pre, train, train_lines, validation, test, summary })
}

/// Fit on every row of an unlabelled (or labelled, all rows used) table.
pub fn prepare_all_rows(table: &Table, label: Option<String>) -> Result<(Preprocessor, Matrix)> {
    let rows: Vec<usize> = (0..table.n_rows()).collect();
    let pre = Preprocessor::fit(table, &rows, label)?;
    let (x, _) = pre.transform(table, &rows)?;
    Ok((pre, x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_class_and_missing_labels_are_errors() {
        let t = read_table_bytes(b"a,label\n1,0\n2,0\n3,0\n", &ReadOptions::default()).unwrap();
        let e = prepare(&t, Some("label".into()), 0.0, 0).unwrap_err().to_string();
        assert!(e.contains("single class"), "{e}");
        let t = read_table_bytes(b"a,b\n1,0\n2,0\n", &ReadOptions::default()).unwrap();
        let e = prepare(&t, None, 0.0, 0).unwrap_err().to_string();
        assert!(e.contains("label column"), "{e}");
        let opts = ReadOptions { require_label: true, ..Default::default() };
        let e = read_table_bytes(b"a,b\n1,0\n", &opts).unwrap_err().to_string();
        assert!(e.contains("label column 'label' not found"), "{e}");
    }

    #[test]
    fn one_row_trains_unlabelled() {
        let t = read_table_bytes(b"a,b\n1,2\n", &ReadOptions::default()).unwrap();
        let (pre, x) = prepare_all_rows(&t, None).unwrap();
        assert_eq!((x.rows, x.cols), (1, 2));
        assert_eq!(pre.constant_columns().len(), 2);
    }
}
