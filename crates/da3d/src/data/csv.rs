//! CSV parsing from bytes or any `Read`: header row, quoted fields, BOM, CRLF, gzip.
//! Produces a columnar [`Table`] with column kinds inferred (numeric vs categorical).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
}

/// Label values of a file that names its classes: each cell must be one of `normal` (0) or
/// `anomaly` (1), compared case-insensitively after trimming.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabelValues {
    pub normal: Vec<String>,
    pub anomaly: Vec<String>,
}

impl LabelValues {
    fn parse(&self, cell: &str) -> Option<u8> {
        let t = cell.trim();
        if self.normal.iter().any(|v| v.eq_ignore_ascii_case(t)) {
            Some(0)
        } else if self.anomaly.iter().any(|v| v.eq_ignore_ascii_case(t)) {
            Some(1)
        } else {
            None
        }
    }
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

/// Missing-value markers (as pandas reads them, and `?` of the UCI files): empty, `?`, `NA`,
/// `N/A`, `n/a`, `null`, `NULL`, `None`, `NaN`, `nan`, `#N/A`. A row with one in a numeric column
/// is dropped; in a categorical column it is the category `(missing)`.
pub const MISSING_MARKERS: [&str; 12] = ["", "?", "NA", "N/A", "n/a", "null", "NULL", "None", "NaN", "nan", "NAN", "#N/A"];

/// Whether a cell is a missing-value marker ([`MISSING_MARKERS`]).
pub(crate) fn is_missing(cell: &str) -> bool {
    MISSING_MARKERS.contains(&cell.trim())
}

/// The category a missing cell becomes.
pub const MISSING_CATEGORY: &str = "(missing)";

/// The key of a cell in a categorical column, the same when a table is read and when a record
/// is streamed: missing markers become [`MISSING_CATEGORY`], number-like text its canonical
/// number (`1.0` and `1` are one category), other text is trimmed.
pub(crate) fn category_key(cell: &str) -> std::borrow::Cow<'_, str> {
    let t = cell.trim();
    if is_missing(t) {
        return std::borrow::Cow::Borrowed(MISSING_CATEGORY);
    }
    match parse_number(t) {
        Ok(Some(v)) => std::borrow::Cow::Owned(format_number(v)),
        _ => std::borrow::Cow::Borrowed(t),
    }
}

/// Parse a numeric cell. `Ok(None)`: not a number. `Err`: a number outside the f32 range.
pub(crate) fn parse_number(cell: &str) -> std::result::Result<Option<f64>, String> {
    let t = cell.trim();
    let first = t.as_bytes().first().copied().unwrap_or(b'x');
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.' || first == b'i' || first == b'I') {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_nan() => Ok(None),
        Ok(v) if !v.is_finite() => Err(format!("value '{t}' is infinite")),
        Ok(v) if v.abs() > f32::MAX as f64 => Err(format!("value '{t}' is outside the f32 range")),
        Ok(v) => Ok(Some(v)),
        Err(_) => Ok(None),
    }
}

/// Whether a cell is a number outside the finite f32 range (`inf`, `-Infinity`, `1e39`): what
/// [`parse_number`] refuses.
fn is_non_finite(cell: &str) -> bool {
    parse_number(cell).is_err()
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
    /// The text label values the file was read with, if any (kept with the model for scoring).
    pub label_values: Option<LabelValues>,
}

impl Table {
    pub fn n_rows(&self) -> usize {
        self.lines.len()
    }
}

/// Wrap a reader so that gzip input is decompressed transparently.
pub fn maybe_gunzip<'a, R: Read + 'a>(reader: R) -> Result<Box<dyn Read + 'a>> {
    let mut buf = BufReader::with_capacity(1 << 16, reader);
    let head = buf.fill_buf().map_err(|e| Error::Data(format!("cannot read input: {e}")))?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::with_capacity(1 << 16, flate2::bufread::MultiGzDecoder::new(buf))))
    } else {
        Ok(Box::new(buf))
    }
}

/// A CSV reader over any input that yields header and records with line numbers, and maps
/// syntax, encoding and ragged-row problems to errors naming the line.
pub struct RecordReader<'a> {
    inner: csv::Reader<Box<dyn Read + 'a>>,
    headers: Vec<String>,
    record: csv::ByteRecord,
    delimiter: u8,
}

/// The delimiters [`sniff_delimiter`] chooses from, in order of preference.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Bytes read ahead to sniff the delimiter.
const SNIFF_BYTES: u64 = 64 * 1024;

/// Occurrences of `d` in `line` outside double quotes.
fn count_outside_quotes(line: &[u8], d: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

/// The delimiter of a CSV from its first bytes: among `,` `;` tab `|`, those in the header; of
/// them the one that splits the most of the first 20 rows into as many fields as the header
/// (ties: more fields, then that order). `,` when none is in the header (a one-column file).
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if lines.len() > 1 {
        lines.pop(); // the last piece may be cut short
    }
    let lines: Vec<&[u8]> = lines.into_iter().filter(|l| !l.trim_ascii().is_empty()).take(21).collect();
    let Some((header, rows)) = lines.split_first() else { return b',' };
    let mut best: Option<(usize, usize, u8)> = None;
    for &d in &DELIMITERS {
        let h = count_outside_quotes(header, d);
        if h == 0 {
            continue;
        }
        let agree = rows.iter().filter(|r| count_outside_quotes(r, d) == h).count();
        if best.is_none_or(|(a, bh, _)| agree > a || (agree == a && h > bh)) {
            best = Some((agree, h, d));
        }
    }
    best.map(|(_, _, d)| d).unwrap_or(b',')
}

/// A delimiter as a user names it: one ASCII character other than a quote or a line break, or
/// `tab` (also `\t`).
pub fn parse_delimiter(s: &str) -> std::result::Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" && s != "\r" => Ok(s.as_bytes()[0]),
        _ => Err(format!("'{s}' is not one ASCII character (e.g. ',' ';' '|' or tab)")),
    }
}

/// How a delimiter is named in messages.
pub fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        b' ' => "space".into(),
        d => format!("'{}'", d as char),
    }
}

impl<'a> RecordReader<'a> {
    /// A reader with the given delimiter, or (`None`) the one [`sniff_delimiter`] finds.
    pub fn new<R: Read + 'a>(reader: R, delimiter: Option<u8>) -> Result<Self> {
        let mut input = maybe_gunzip(reader)?;
        let delimiter = match delimiter {
            Some(d) => d,
            None => {
                let mut head = Vec::new();
                (&mut input)
                    .take(SNIFF_BYTES)
                    .read_to_end(&mut head)
                    .map_err(|e| Error::Data(format!("cannot read input: {e}")))?;
                let d = sniff_delimiter(&head);
                input = Box::new(std::io::Cursor::new(head).chain(input));
                d
            }
        };
        let mut inner = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .delimiter(delimiter)
            // '\n' ends a record and '\r' before it is trimmed as white space, so that line
            // numbers stay right for CRLF files (csv's CRLF mode counts them one short).
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(input);
        let header = inner.byte_headers().map_err(|e| csv_error(e, 1))?.clone();
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(Error::Data("the file is empty: no header row".into()));
        }
        let mut headers = Vec::with_capacity(header.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, field) in header.iter().enumerate() {
            let mut name = std::str::from_utf8(field)
                .map_err(|_| Error::csv(1, None, format!("header field {} is not valid UTF-8", i + 1)))?
                .trim()
                .to_string();
            if i == 0 {
                name = name.trim_start_matches('\u{feff}').to_string();
            }
            if name.is_empty() {
                return Err(Error::csv(1, None, format!("header field {} is empty: every column needs a name", i + 1)));
            }
            if let Some(prev) = seen.insert(name.clone(), i) {
                return Err(Error::csv(
                    1,
                    Some(&name),
                    format!("duplicate column name (fields {} and {})", prev + 1, i + 1),
                ));
            }
            headers.push(name);
        }
        if headers.len() == 1 {
            if let Some(&other) = DELIMITERS.iter().find(|&&o| o != delimiter && headers[0].as_bytes().contains(&o)) {
                return Err(Error::csv(
                    1,
                    None,
                    format!(
                        "the header is one column, '{}', that contains {}: the file is not {}-separated \
                         (pass --delimiter {} if that is its delimiter)",
                        headers[0],
                        delimiter_name(other),
                        delimiter_name(delimiter),
                        delimiter_name(other),
                    ),
                ));
            }
        }
        Ok(RecordReader { inner, headers, record: csv::ByteRecord::new(), delimiter })
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The field delimiter in use.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The next record as UTF-8 fields, with its line. `None` at the end of input.
    /// Blank lines are skipped.
    pub fn next_record(&mut self) -> Result<Option<(u64, Vec<&str>)>> {
        loop {
            let more = self.inner.read_byte_record(&mut self.record).map_err(|e| {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                csv_error(e, line)
            })?;
            if !more {
                return Ok(None);
            }
            let line = self.record.position().map(|p| p.line()).unwrap_or(0);
            if self.record.len() == 1 && self.record[0].trim_ascii().is_empty() {
                continue; // a blank line
            }
            if self.record.len() != self.headers.len() {
                return Err(Error::csv(
                    line,
                    None,
                    format!("expected {} fields (as in the header), found {}", self.headers.len(), self.record.len()),
                ));
            }
            let mut fields = Vec::with_capacity(self.record.len());
            for (i, f) in self.record.iter().enumerate() {
                match std::str::from_utf8(f) {
                    Ok(s) => fields.push(s),
                    Err(e) => {
                        return Err(Error::csv(
                            line,
                            Some(&self.headers[i]),
                            format!("not valid UTF-8 (invalid byte at offset {} of the field)", e.valid_up_to()),
                        ))
                    }
                }
            }
            return Ok(Some((line, fields)));
        }
    }
}

fn csv_error(e: csv::Error, line: u64) -> Error {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => Error::csv(line, None, "not valid UTF-8"),
        csv::ErrorKind::Io(io) => Error::Data(format!("cannot read input: {io}")),
        _ => Error::csv(line, None, format!("malformed CSV: {e}")),
    }
}

/// A label cell as 0 (normal) or 1 (anomaly): `0`/`1`, or with `values` the file's class names.
/// The error says what was found and what was expected.
pub(crate) fn parse_label(cell: &str, values: Option<&LabelValues>) -> std::result::Result<u8, String> {
    let parsed = match values {
        Some(v) => v.parse(cell),
        None => match cell.trim() {
            "0" | "0.0" => Some(0),
            "1" | "1.0" => Some(1),
            _ => None,
        },
    };
    parsed.ok_or_else(|| {
        let expected = match values {
            Some(v) => format!("one of {} (normal) or {} (anomaly)", v.normal.join(", "), v.anomaly.join(", ")),
            None => "0 (normal) or 1 (anomaly)".to_string(),
        };
        format!("label '{}' is not {expected}", cell.trim())
    })
}

pub(crate) fn parse_split(cell: &str) -> Option<SplitTag> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "train" | "training" => Some(SplitTag::Train),
        "validation" | "valid" | "val" => Some(SplitTag::Validation),
        "test" => Some(SplitTag::Test),
        _ => None,
    }
}

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
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&c) = self.index.get(text) {
            return c;
        }
        let c = self.dictionary.len() as u32;
        self.dictionary.push(text.to_string());
        self.index.insert(text.to_string(), c);
        c
    }

    /// Numbers with a few text cells: not silently one-hot (see `read_table`).
    fn is_categorical(&self) -> bool {
        self.forced_categorical || (self.text_cells > 0 && self.text_cells >= self.number_cells)
    }

    /// Refuse a column that is mostly numbers with some text cells, naming the first one.
    fn check_mixed(&self) -> Result<()> {
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

pub(crate) fn format_number(v: f64) -> String {
    format!("{v}")
}

fn matches_any(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| !p.is_empty() && name.starts_with(p.as_str()))
}

/// Read a whole CSV (plain or gzip) into a [`Table`].
pub fn read_table<R: Read>(reader: R, options: &ReadOptions) -> Result<Table> {
    let mut rr = RecordReader::new(reader, options.delimiter)?;
    let headers = rr.headers().to_vec();
    let delimiter = rr.delimiter();

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

    let label_idx = match &options.label {
        Some(name) => match headers.iter().position(|h| h == name) {
            Some(i) => Some(i),
            None if options.require_label => {
                return Err(Error::Data(format!(
                    "label column '{name}' not found; the columns are: {}",
                    headers.join(", ")
                )))
            }
            None => None,
        },
        None => None,
    };
    let split_idx = match &options.split_column {
        Some(name) => Some(headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::Data(format!("split column '{name}' not found; the columns are: {}", headers.join(", ")))
        })?),
        None => None,
    };
    let all_categorical = options.categorical.iter().any(|c| c == "*");
    for name in options.categorical.iter().filter(|c| *c != "*") {
        if !headers.contains(name) {
            return Err(Error::Data(format!("column '{name}' (named as categorical) not found")));
        }
    }

    let mut ignored = Vec::new();
    let mut builders: Vec<(usize, ColumnBuilder)> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if Some(i) == label_idx || Some(i) == split_idx {
            continue;
        }
        if matches_any(h, &options.ignore) {
            ignored.push(h.clone());
            continue;
        }
        builders.push((
            i,
            ColumnBuilder {
                name: h.clone(),
                forced_categorical: all_categorical || options.categorical.contains(h),
                numbers: Vec::new(),
                codes: Vec::new(),
                dictionary: Vec::new(),
                index: HashMap::new(),
                text_cells: 0,
                number_cells: 0,
                first_text: None,
            },
        ));
    }
    if builders.is_empty() {
        return Err(Error::Data("no feature columns left after removing the label, split and ignored columns".into()));
    }

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
            if b.forced_categorical {
                let c = b.intern(&category_key(cell));
                b.codes.push(c);
                b.numbers.push(f64::NAN);
                continue;
            }
            if is_missing(cell) || (options.non_finite_as_missing && is_non_finite(cell)) {
                b.numbers.push(f64::NAN);
                b.codes.push(NUMERIC_CELL);
                row_missing = true;
                continue;
            }
            match parse_number(cell) {
                Ok(Some(v)) => {
                    b.numbers.push(v);
                    b.codes.push(NUMERIC_CELL);
                    b.number_cells += 1;
                }
                Ok(None) => {
                    let c = b.intern(cell.trim());
                    b.numbers.push(f64::NAN);
                    b.codes.push(c);
                    b.text_cells += 1;
                    if b.first_text.is_none() {
                        b.first_text = Some((line, cell.trim().to_string()));
                    }
                }
                Err(msg) => return Err(Error::csv(line, Some(&b.name), msg)),
            }
        }
        missing_numeric.push(row_missing);
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(Error::Data("the file has a header but no data rows".into()));
    }

    for (_, b) in &builders {
        b.check_mixed()?;
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
    let columns = builders.into_iter().map(|(_, b)| b.finish(&keep)).collect();
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
        label_values: options.label_values.clone(),
    })
}

/// Read a whole CSV from bytes.
pub fn read_table_bytes(bytes: &[u8], options: &ReadOptions) -> Result<Table> {
    read_table(bytes, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Table> {
        read_table_bytes(s.as_bytes(), &ReadOptions::default())
    }

    #[test]
    fn basic_numeric_and_categorical() {
        let t = read("a,b,label\n1,x,0\n2.5,y,1\n-3,x,0\n").unwrap();
        assert_eq!(t.n_rows(), 3);
        assert_eq!(t.columns[0].kind, ColumnKind::Numeric);
        assert_eq!(t.columns[0].numbers, vec![1.0, 2.5, -3.0]);
        assert_eq!(t.columns[1].kind, ColumnKind::Categorical);
        assert_eq!(t.columns[1].category(2), "x");
        assert_eq!(t.labels, Some(vec![0, 1, 0]));
        assert_eq!(t.lines, vec![2, 3, 4]);
    }

    #[test]
    fn quotes_bom_crlf() {
        let t = read("\u{feff}\"a\",\"b, with comma\",label\r\n\"1\",\"multi\nline\",0\r\n2,\"he said \"\"hi\"\"\",1\r\n").unwrap();
        assert_eq!(t.columns[0].name, "a");
        assert_eq!(t.columns[1].name, "b, with comma");
        assert_eq!(t.columns[1].category(0), "multi\nline");
        assert_eq!(t.columns[1].category(1), "he said \"hi\"");
        // the second record starts on line 4 because the quoted field holds a newline
        assert_eq!(t.lines, vec![2, 4]);
    }

    #[test]
    fn ragged_row_names_the_line() {
        let e = read("a,b,label\n1,2,0\n1,2\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("expected 3 fields"), "{msg}");
    }

    #[test]
    fn empty_cells_drop_rows_in_numeric_columns() {
        let t = read("a,b,label\n1,2,0\n,3,0\n4,5,1\n").unwrap();
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.report.rows_dropped_missing, 1);
        assert_eq!(t.report.first_dropped_line, Some(3));
        assert_eq!(t.lines, vec![2, 4]);
        assert_eq!(t.labels, Some(vec![0, 1]));
    }

    #[test]
    fn nan_literals_are_missing_values() {
        let t = read("a,b,label\n1,NaN,0\nnan,2,0\n3,4,1\n").unwrap();
        assert_eq!(t.n_rows(), 1);
        assert_eq!(t.report.rows_dropped_missing, 2);
    }

    #[test]
    fn thousands_of_columns() {
        let n = 3000;
        let header: Vec<String> = (0..n).map(|i| format!("c{i}")).chain(["label".to_string()]).collect();
        let row: Vec<String> = (0..n).map(|i| format!("{}", i % 7)).chain(["0".to_string()]).collect();
        let text = format!("{}\n{}\n{}\n", header.join(","), row.join(","), row.join(","));
        let t = read(&text).unwrap();
        assert_eq!(t.columns.len(), n);
        assert_eq!(t.n_rows(), 2);
    }

    #[test]
    fn empty_cells_are_a_category_in_text_columns() {
        let t = read("a,b,label\n1,x,0\n2,,0\n").unwrap();
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.columns[1].category(1), "(missing)");
    }

    #[test]
    fn bad_label_names_value_line_and_column() {
        let e = read("a,label\n1,0\n2,yes\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("'label'") && e.contains("'yes'"), "{e}");
    }

    #[test]
    fn non_utf8_names_line_and_column() {
        let bytes = b"a,b,label\n1,\xff\xfe,0\n";
        let e = read_table_bytes(bytes, &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("'b'") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn infinite_and_huge_values_are_errors() {
        let e = read("a,label\n1,0\ninf,0\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("infinite"), "{e}");
        let e = read("a,label\n1e39,0\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("f32 range"), "{e}");
    }

    #[test]
    fn non_finite_values_drop_their_row_when_asked() {
        let opts = ReadOptions { non_finite_as_missing: true, ..Default::default() };
        let t = read_table_bytes(b"a,b,label\n1,2,0\nInfinity,3,0\n4,-inf,1\n5,1e39,0\n6,7,1\n", &opts).unwrap();
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.lines, vec![2, 6]);
        assert_eq!(t.report.rows_dropped_missing, 3);
        assert_eq!(t.report.first_dropped_line, Some(3));
        assert_eq!(t.labels, Some(vec![0, 1]));
    }

    #[test]
    fn text_labels_map_to_normal_and_anomaly() {
        let values = LabelValues { normal: vec!["benign".into()], anomaly: vec!["phishing".into(), "spam".into()] };
        let opts = ReadOptions { label: Some("kind".into()), label_values: Some(values), ..Default::default() };
        let t = read_table_bytes(b"a,kind\n1,benign\n2,Phishing\n3, SPAM \n4,Benign\n", &opts).unwrap();
        assert_eq!(t.labels, Some(vec![0, 1, 1, 0]));
        let e = read_table_bytes(b"a,kind\n1,benign\n2,malware\n", &opts).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("'kind'") && e.contains("'malware'") && e.contains("benign"), "{e}");
        // 0/1 are not class names here.
        assert!(read_table_bytes(b"a,kind\n1,0\n", &opts).is_err());
    }

    #[test]
    fn required_columns_name_what_is_missing() {
        let opts = ReadOptions { required_columns: vec!["a".into(), "FlowBytesSent".into()], ..Default::default() };
        let e = read_table_bytes(b"a,b,label\n1,2,0\n", &opts).unwrap_err().to_string();
        assert!(e.contains("FlowBytesSent") && e.contains("expected layout") && !e.contains("column(s) of the expected layout: a"), "{e}");
    }

    #[test]
    fn empty_and_header_only() {
        assert!(read("").unwrap_err().to_string().contains("empty"));
        assert!(read("a,b,label\n").unwrap_err().to_string().contains("no data rows"));
    }

    #[test]
    fn duplicate_header() {
        let e = read("a,a,label\n1,2,0\n").unwrap_err().to_string();
        assert!(e.contains("duplicate") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn ignore_prefix_and_forced_categorical() {
        let opts = ReadOptions {
            ignore: vec!["meta_".into()],
            categorical: vec!["code".into()],
            ..Default::default()
        };
        let t = read_table_bytes(b"code,meta_x,meta_y,v,label\n1,a,b,0.5,0\n2,c,d,0.7,1\n", &opts).unwrap();
        assert_eq!(t.columns.len(), 2);
        assert_eq!(t.columns[0].kind, ColumnKind::Categorical);
        assert_eq!(t.report.ignored_columns, vec!["meta_x", "meta_y"]);
    }

    #[test]
    fn gzip_is_read_directly() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"a,label\n1,0\n2,1\n").unwrap();
        let gz = enc.finish().unwrap();
        let t = read_table_bytes(&gz, &ReadOptions::default()).unwrap();
        assert_eq!(t.n_rows(), 2);
    }

    #[test]
    fn split_column() {
        let opts = ReadOptions { split_column: Some("s".into()), ..Default::default() };
        let t = read_table_bytes(b"a,s,label\n1,train,0\n2,test,1\n", &opts).unwrap();
        assert_eq!(t.split, Some(vec![SplitTag::Train, SplitTag::Test]));
        let e = read_table_bytes(b"a,s,label\n1,foo,0\n", &opts).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("'s'"), "{e}");
    }

    #[test]
    fn delimiter_is_sniffed_from_header_and_rows() {
        assert_eq!(sniff_delimiter(b"a;b;label\n1,5;2;0\n3;4;1\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tlabel\n1\t2\t0\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b|label\n1|2|0\n"), b'|');
        assert_eq!(sniff_delimiter(b"a,b,label\n1,2,0\n"), b',');
        assert_eq!(sniff_delimiter(b"\"x;y\",b\n1,2\n"), b',', "a delimiter inside quotes does not count");
        assert_eq!(sniff_delimiter(b"only\n1\n"), b',');
        let t = read("a;b;label\n1;2;0\n3;4;1\n").unwrap();
        assert_eq!(t.columns.len(), 2);
        assert_eq!(t.report.delimiter, b';');
        assert_eq!(t.columns[0].kind, ColumnKind::Numeric);
    }

    #[test]
    fn a_one_column_header_holding_a_delimiter_is_refused() {
        let opts = ReadOptions { delimiter: Some(b','), ..Default::default() };
        let e = read_table_bytes(b"a;b;label\n1;2;0\n", &opts).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("one column") && e.contains("--delimiter ';'"), "{e}");
    }

    #[test]
    fn question_marks_are_missing_values_and_counted() {
        let t = read("a,b,label\n1,2,0\n?,3,0\n4,NA,1\n5,6,0\n").unwrap();
        assert_eq!(t.columns[0].kind, ColumnKind::Numeric);
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.report.missing_cells, 2);
        assert_eq!(t.report.first_missing, Some((3, "a".to_string())));
    }

    #[test]
    fn a_mostly_numeric_column_with_text_is_refused_naming_the_first_text_cell() {
        let e = read("a,b,label\n1,2,0\n2,x,0\n3,4,1\n5,6,0\n").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("'b'") && e.contains("'x'") && e.contains("--categorical"), "{e}");
        // mostly text: categorical; named categorical: categorical
        let t = read("a,b,label\n1,x,0\n2,y,0\n3,4,1\n").unwrap();
        assert_eq!(t.columns[1].kind, ColumnKind::Categorical);
        let opts = ReadOptions { categorical: vec!["b".into()], ..Default::default() };
        let t = read_table_bytes(b"a,b,label\n1,2,0\n2,x,0\n3,4,1\n5,6,0\n", &opts).unwrap();
        assert_eq!(t.columns[1].kind, ColumnKind::Categorical);
    }

    #[test]
    fn category_keys_are_one_rule_for_every_column() {
        assert_eq!(category_key(" 1.0 "), "1");
        assert_eq!(category_key("02134"), "2134");
        assert_eq!(category_key("?"), MISSING_CATEGORY);
        assert_eq!(category_key(" x "), "x");
        let opts = ReadOptions { categorical: vec!["c".into()], ..Default::default() };
        let t = read_table_bytes(b"c,label\n1.0,0\n1,0\n02,0\n,0\n", &opts).unwrap();
        assert_eq!(t.columns[0].dictionary, vec!["1", "2", MISSING_CATEGORY]);
    }
}
