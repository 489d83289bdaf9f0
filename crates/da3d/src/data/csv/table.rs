//! A whole CSV file as columns: which header column is what (label, split, features, left out),
//! the cells of each feature column, its kind, and the rows a missing numeric value drops.

use std::collections::HashMap;
use std::io::Read;

use super::cells::{category_key, format_number, is_missing, is_non_finite, parse_label, parse_number, parse_split};
use super::{ColumnKind, MISSING_CATEGORY, RawColumn, ReadOptions, ReadReport, RecordReader, Table};
use crate::error::{Error, Result};

/// One feature column while the file is read: numbers and text cells as they come, the kind
/// decided at the end.
struct ColumnBuilder {
    name: String,
    forced_categorical: bool,
    numbers: Vec<f64>,
    codes: Vec<u32>,
    dictionary: Vec<String>,
    index: HashMap<String, u32>,
    text_cells: usize,
    number_cells: usize,
    first_text: Option<(u64, String)>,
}

const NUMERIC_CELL: u32 = u32::MAX;

impl ColumnBuilder {
    fn new(name: &str, forced_categorical: bool) -> Self {
        ColumnBuilder {
            name: name.to_string(),
            forced_categorical,
            numbers: Vec::new(),
            codes: Vec::new(),
            dictionary: Vec::new(),
            index: HashMap::new(),
            text_cells: 0,
            number_cells: 0,
            first_text: None,
        }
    }

    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&c) = self.index.get(text) {
            return c;
        }
        let c = self.dictionary.len() as u32;
        self.dictionary.push(text.to_string());
        self.index.insert(text.to_string(), c);
        c
    }

    /// Add the cell of line `line`; true when it is a missing (or, with `non_finite_as_missing`,
    /// a non-finite) value of a column that may turn out numeric.
    fn push(&mut self, cell: &str, line: u64, non_finite_as_missing: bool) -> Result<bool> {
        if self.forced_categorical {
            let c = self.intern(&category_key(cell));
            self.codes.push(c);
            self.numbers.push(f64::NAN);
            return Ok(false);
        }
        if is_missing(cell) || (non_finite_as_missing && is_non_finite(cell)) {
            self.numbers.push(f64::NAN);
            self.codes.push(NUMERIC_CELL);
            return Ok(true);
        }
        match parse_number(cell) {
            Ok(Some(v)) => {
                self.numbers.push(v);
                self.codes.push(NUMERIC_CELL);
                self.number_cells += 1;
            }
            Ok(None) => {
                let c = self.intern(cell.trim());
                self.numbers.push(f64::NAN);
                self.codes.push(c);
                self.text_cells += 1;
                if self.first_text.is_none() {
                    self.first_text = Some((line, cell.trim().to_string()));
                }
            }
            Err(msg) => return Err(Error::csv(line, Some(&self.name), msg)),
        }
        Ok(false)
    }

    /// Numbers with a few text cells: not silently one-hot (see `read_table`).
    fn is_categorical(&self) -> bool {
        self.forced_categorical || (self.text_cells > 0 && self.text_cells >= self.number_cells)
    }

    /// Refuse a column that is mostly numbers with some text cells, naming the first one, and a
    /// column with no value in any row (`first_line`: the first data row's line).
    fn check(&self, first_line: u64) -> Result<()> {
        if !self.forced_categorical && self.text_cells == 0 && self.number_cells == 0 {
            return Err(Error::csv(
                first_line,
                Some(&self.name),
                format!("the column holds no value in any row (every cell is missing): leave it out (--drop '{}')", self.name),
            ));
        }
        if self.text_cells == 0 || self.is_categorical() {
            return Ok(());
        }
        let (line, text) = self.first_text.clone().unwrap_or((0, String::new()));
        Err(Error::csv(
            line,
            Some(&self.name),
            format!(
                "'{text}' is not a number, but the column is mostly numbers ({} numbers, {} text cells): \
                 mark missing values as empty, ?, NA or null, or pass --categorical '{}' to read the column as categories",
                self.number_cells, self.text_cells, self.name
            ),
        ))
    }

    fn finish(mut self, keep: &[bool]) -> RawColumn {
        let categorical = self.is_categorical();
        let mut numbers = Vec::with_capacity(keep.len());
        let mut codes = Vec::new();
        if categorical {
            codes.reserve(keep.len());
        }
        for i in 0..self.numbers.len() {
            if !keep[i] {
                continue;
            }
            if categorical {
                let c = if self.codes[i] == NUMERIC_CELL {
                    let v = self.numbers[i];
                    if v.is_nan() { self.intern(MISSING_CATEGORY) } else { self.intern(&format_number(v)) }
                } else {
                    self.codes[i]
                };
                codes.push(c);
                numbers.push(f64::NAN);
            } else {
                numbers.push(self.numbers[i]);
            }
        }
        RawColumn {
            name: self.name,
            kind: if categorical { ColumnKind::Categorical } else { ColumnKind::Numeric },
            numbers,
            codes,
            dictionary: self.dictionary,
        }
    }
}

/// Column names that say "this is the label": a feature column of that name (any case) holding
/// only the values 0 and 1 is refused rather than read as an input.
pub const LABEL_NAMES: [&str; 5] = ["label", "class", "target", "outlier", "anomaly"];

fn matches_any(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| !p.is_empty() && name.starts_with(p.as_str()))
}

/// The position of column `name`: the exact name, else the one column whose name matches it
/// ignoring case (`label` finds `Label` or `LABEL`).
pub(crate) fn find_column(headers: &[String], name: &str) -> Option<usize> {
    headers.iter().position(|h| h == name).or_else(|| {
        let mut matching = headers.iter().enumerate().filter(|(_, h)| h.eq_ignore_ascii_case(name)).map(|(i, _)| i);
        match (matching.next(), matching.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        }
    })
}

/// Which columns of the header are what: the label, the split column, the features (with their
/// builders), and the columns left out.
struct Layout {
    label: Option<usize>,
    split: Option<usize>,
    features: Vec<(usize, ColumnBuilder)>,
    ignored: Vec<String>,
}

impl Layout {
    /// The layout `options` give `headers`; names the options give that the file lacks are errors.
    fn of(headers: &[String], options: &ReadOptions) -> Result<Layout> {
        let not_found = |what: &str, name: &str| {
            Error::Data(format!("{what} '{name}' not found; the columns are: {}", headers.join(", ")))
        };
        let missing: Vec<&str> =
            options.required_columns.iter().filter(|c| !headers.contains(c)).map(|c| c.as_str()).collect();
        if !missing.is_empty() {
            return Err(Error::Data(format!(
                "the file lacks {} column(s) of the expected layout: {}; its columns are: {}",
                missing.len(),
                missing.join(", "),
                headers.join(", ")
            )));
        }
        let label = match &options.label {
            Some(name) => match find_column(headers, name) {
                Some(i) => Some(i),
                None if options.require_label => return Err(not_found("label column", name)),
                None => None,
            },
            None => None,
        };
        let split = match &options.split_column {
            Some(name) => Some(find_column(headers, name).ok_or_else(|| not_found("split column", name))?),
            None => None,
        };
        let all_categorical = options.categorical.iter().any(|c| c == "*");
        for name in options.categorical.iter().filter(|c| *c != "*") {
            if !headers.contains(name) {
                return Err(Error::Data(format!("column '{name}' (named as categorical) not found")));
            }
        }
        for name in &options.drop {
            if !headers.contains(name) {
                return Err(not_found("column to drop", name));
            }
        }
        let mut ignored = Vec::new();
        let mut features = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            if Some(i) == label || Some(i) == split {
                continue;
            }
            if matches_any(h, &options.ignore) || options.drop.contains(h) {
                ignored.push(h.clone());
                continue;
            }
            features.push((i, ColumnBuilder::new(h, all_categorical || options.categorical.contains(h))));
        }
        if features.is_empty() {
            return Err(Error::Data("no feature columns left after removing the label, split and ignored columns".into()));
        }
        Ok(Layout { label, split, features, ignored })
    }
}

/// Read a whole CSV (plain or gzip) into a [`Table`].
pub fn read_table<R: Read>(reader: R, options: &ReadOptions) -> Result<Table> {
    let mut rr = RecordReader::new(reader, options.delimiter)?;
    let headers = rr.headers().to_vec();
    let delimiter = rr.delimiter();
    let Layout { label: label_idx, split: split_idx, features: mut builders, ignored } = Layout::of(&headers, options)?;

    let mut labels = label_idx.map(|_| Vec::new());
    let mut split = split_idx.map(|_| Vec::new());
    let mut lines = Vec::new();
    let mut missing_numeric: Vec<bool> = Vec::new();
    let (mut missing_cells, mut first_missing) = (0usize, None);

    while let Some((line, fields)) = rr.next_record()? {
        if let (Some(li), Some(ls)) = (label_idx, labels.as_mut()) {
            let label = parse_label(fields[li], options.label_values.as_ref())
                .map_err(|msg| Error::csv(line, Some(&headers[li]), msg))?;
            ls.push(label);
        }
        if let (Some(si), Some(ss)) = (split_idx, split.as_mut()) {
            let cell = fields[si];
            ss.push(parse_split(cell).ok_or_else(|| {
                Error::csv(line, Some(&headers[si]), format!("split '{}' is not train, validation or test", cell.trim()))
            })?);
        }
        let mut row_missing = false;
        for (ci, b) in builders.iter_mut() {
            let cell = fields[*ci];
            if is_missing(cell) {
                missing_cells += 1;
                if first_missing.is_none() {
                    first_missing = Some((line, b.name.clone()));
                }
            }
            row_missing |= b.push(cell, line, options.non_finite_as_missing)?;
        }
        missing_numeric.push(row_missing);
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(Error::Data("the file has a header but no data rows".into()));
    }

    for (_, b) in &builders {
        b.check(lines[0])?;
    }
    // A missing cell only drops its row when its column turns out numeric.
    let numeric_cols: Vec<bool> = builders.iter().map(|(_, b)| !b.is_categorical()).collect();
    let mut keep = vec![true; lines.len()];
    if missing_numeric.iter().any(|&m| m) {
        for (r, k) in keep.iter_mut().enumerate() {
            if missing_numeric[r] {
                *k = !builders
                    .iter()
                    .zip(&numeric_cols)
                    .any(|((_, b), &num)| num && b.numbers[r].is_nan());
            }
        }
    }
    let dropped = keep.iter().filter(|k| !**k).count();
    let first_dropped_line = keep.iter().position(|k| !*k).map(|r| lines[r]);
    if dropped == lines.len() {
        return Err(Error::Data(format!(
            "every row has a missing value in a numeric column (first at line {})",
            lines[0]
        )));
    }
    let filter = |v: Vec<u64>| -> Vec<u64> { v.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| x).collect() };
    let columns: Vec<RawColumn> = builders.into_iter().map(|(_, b)| b.finish(&keep)).collect();
    if let Some(c) = columns.iter().find(|c| LABEL_NAMES.iter().any(|n| c.name.eq_ignore_ascii_case(n)) && c.is_zero_one()) {
        return Err(Error::Data(format!(
            "column '{0}' holds only 0 and 1 and is named like a label, but it would be read as an input: \
             use it as the label (--label '{0}') or leave it out (--drop '{0}')",
            c.name
        )));
    }
    let labels = labels.map(|l| l.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| x).collect());
    let split = split.map(|s| s.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| x).collect());
    let rows_read = lines.len();
    Ok(Table {
        columns,
        labels,
        split,
        lines: filter(lines),
        report: ReadReport {
            rows_read,
            delimiter,
            missing_cells,
            first_missing,
            rows_dropped_missing: dropped,
            first_dropped_line,
            ignored_columns: ignored,
        },
        label: label_idx.map(|i| headers[i].clone()),
        label_values: options.label_values.clone(),
    })
}

/// Read a whole CSV from bytes.
pub fn read_table_bytes(bytes: &[u8], options: &ReadOptions) -> Result<Table> {
    read_table(bytes, options)
}
