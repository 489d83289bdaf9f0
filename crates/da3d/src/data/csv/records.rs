//! Records of a CSV file with their line numbers: gzip detection, delimiter sniffing, and syntax,
//! encoding and ragged-row problems mapped to errors naming the line.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_is_sniffed_from_header_and_rows() {
        assert_eq!(sniff_delimiter(b"a;b;label\n1,5;2;0\n3;4;1\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tlabel\n1\t2\t0\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b|label\n1|2|0\n"), b'|');
        assert_eq!(sniff_delimiter(b"a,b,label\n1,2,0\n"), b',');
        assert_eq!(sniff_delimiter(b"\"x;y\",b\n1,2\n"), b',', "a delimiter inside quotes does not count");
        assert_eq!(sniff_delimiter(b"only\n1\n"), b',');
    }
}
