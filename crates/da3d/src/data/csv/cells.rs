//! What one cell is: a number, a missing-value marker, a category key, a label, a split tag.

use super::{LabelValues, SplitTag};

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
pub(super) fn is_non_finite(cell: &str) -> bool {
    parse_number(cell).is_err()
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

pub(crate) fn format_number(v: f64) -> String {
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_keys_are_one_rule_for_every_column() {
        assert_eq!(category_key(" 1.0 "), "1");
        assert_eq!(category_key("02134"), "2134");
        assert_eq!(category_key("?"), MISSING_CATEGORY);
        assert_eq!(category_key(" x "), "x");
    }
}
