//! CSV parsing from bytes or any `Read`: header row, quoted fields, BOM, CRLF, gzip. Produces a
//! columnar [`Table`] with column kinds inferred (numeric vs categorical).
//!
//! `records` reads records (sniffing the delimiter, mapping syntax errors to lines), `cells`
//! says what one cell is (number, missing, category key, label), `table` builds the columns.

mod cells;
mod records;
mod table;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use cells::{MISSING_CATEGORY, MISSING_MARKERS};
pub(crate) use cells::{category_key, format_number, is_missing, parse_label, parse_number};
pub use records::{DELIMITERS, RecordReader, delimiter_name, maybe_gunzip, parse_delimiter, sniff_delimiter};
pub(crate) use table::find_column;
pub use table::{LABEL_NAMES, read_table, read_table_bytes};

/// How to read a CSV file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReadOptions {
    /// Label column name (0 = normal, 1 = anomaly). `None`: the file has no labels.
    pub label: Option<String>,
    /// When true, a missing label column is an error; when false the file is read unlabelled.
    pub require_label: bool,
    /// Columns to ignore: a column is ignored when its name starts with one of these.
    pub ignore: Vec<String>,
    /// Columns to treat as categorical even when every value is a number (`*`: every column).
    pub categorical: Vec<String>,
    /// Optional column whose values (`train`, `validation`, `test`) fix the split.
    pub split_column: Option<String>,
    /// Field delimiter; `None`: sniffed from the header and the first rows (`,` `;` tab `|`).
    #[serde(default)]
    pub delimiter: Option<u8>,
    /// Text label values (`Benign`, `phishing`, …) instead of 0/1; matched case-insensitively.
    #[serde(default)]
    pub label_values: Option<LabelValues>,
    /// Read `inf`, `Infinity` and values beyond the f32 range in numeric columns as missing (the
    /// row is dropped), instead of stopping with an error.
    #[serde(default)]
    pub non_finite_as_missing: bool,
    /// Columns the file must have (a published layout); a missing one is an error naming it.
    #[serde(default)]
    pub required_columns: Vec<String>,
    /// Columns to leave out, by exact name (a name the file lacks is an error).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}

/// Label values of a file that names its classes: each cell must be one of `normal` (0) or
/// `anomaly` (1), compared case-insensitively after trimming.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabelValues {
    pub normal: Vec<String>,
    pub anomaly: Vec<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            label: Some("label".into()),
            require_label: false,
            ignore: Vec::new(),
            categorical: Vec::new(),
            split_column: None,
            delimiter: None,
            label_values: None,
            non_finite_as_missing: false,
            required_columns: Vec::new(),
            drop: Vec::new(),
        }
    }
}

/// The split a row belongs to, when the file says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitTag {
    Train,
    Validation,
    Test,
}

/// Kind of a feature column after inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Numeric,
    Categorical,
}

/// One feature column, columnar. `numbers[i]` is the value of row i (NaN when missing or text);
/// for categorical columns `codes[i]` indexes `dictionary`.
#[derive(Debug, Clone)]
pub struct RawColumn {
    pub name: String,
    pub kind: ColumnKind,
    pub numbers: Vec<f64>,
    pub codes: Vec<u32>,
    pub dictionary: Vec<String>,
}

impl RawColumn {
    /// The text of row `i` of a categorical column.
    pub fn category(&self, i: usize) -> &str {
        &self.dictionary[self.codes[i] as usize]
    }

    /// Whether the column holds the values 0 and 1 and nothing else (a label's values).
    pub fn is_zero_one(&self) -> bool {
        let (mut zero, mut one) = (false, false);
        for &v in &self.numbers {
            if v == 0.0 {
                zero = true;
            } else if v == 1.0 {
                one = true;
            } else {
                return false;
            }
        }
        self.kind == ColumnKind::Numeric && zero && one
    }
}

/// What the reader noticed, for the user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReadReport {
    pub rows_read: usize,
    /// The field delimiter used (given, or sniffed).
    pub delimiter: u8,
    /// Cells holding a missing-value marker ([`MISSING_MARKERS`]), in any column.
    pub missing_cells: usize,
    /// The first of them: (line, column).
    pub first_missing: Option<(u64, String)>,
    /// Rows dropped for a missing (or, with `non_finite_as_missing`, non-finite) numeric value.
    pub rows_dropped_missing: usize,
    /// Line of the first row dropped for a missing numeric value.
    pub first_dropped_line: Option<u64>,
    pub ignored_columns: Vec<String>,
}

/// A parsed CSV file: feature columns, optional labels and split tags, line numbers.
#[derive(Debug, Clone)]
pub struct Table {
    pub columns: Vec<RawColumn>,
    pub labels: Option<Vec<u8>>,
    pub split: Option<Vec<SplitTag>>,
    /// Physical line (1-based, header = 1) where each kept row starts.
    pub lines: Vec<u64>,
    pub report: ReadReport,
    /// The label column's name as the header spells it (the option's name, or the one column
    /// matching it ignoring case); `None` without labels.
    pub label: Option<String>,
    /// The text label values the file was read with, if any (kept with the model for scoring).
    pub label_values: Option<LabelValues>,
}

impl Table {
    pub fn n_rows(&self) -> usize {
        self.lines.len()
    }
}
