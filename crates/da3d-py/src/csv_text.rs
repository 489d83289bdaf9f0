//! A matrix of numbers as the CSV text the CLI reads: a header, one line per row.

use crate::error::{BindingError, Result};

/// CSV text of `rows` × `cols` numbers (`values` row-major) under the header `names`. Each value
/// is written in the shortest form that reads back as the same `f64` (`NaN`, `inf` and `-inf`
/// as such: the reader's missing-value marker and its non-finite values).
pub fn numbers_csv(values: &[f64], rows: usize, cols: usize, names: &[String]) -> Result<Vec<u8>> {
    if names.len() != cols {
        return Err(BindingError::Input(format!("{} column names for {cols} columns", names.len())));
    }
    if rows.checked_mul(cols) != Some(values.len()) {
        return Err(BindingError::Input(format!("{} values for {rows} rows of {cols} columns", values.len())));
    }
    if let Some(bad) = names.iter().find(|n| n.contains([',', '"', '\n', '\r'])) {
        return Err(BindingError::Input(format!("column name {bad:?} holds a comma, a quote or a line break")));
    }
    use std::fmt::Write;
    let mut text = String::with_capacity(values.len() * 12 + 64);
    text.push_str(&names.join(","));
    text.push('\n');
    for row in values.chunks(cols.max(1)).take(rows) {
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                text.push(',');
            }
            if v.is_nan() {
                text.push_str("NaN");
            } else {
                let _ = write!(text, "{v}");
            }
        }
        text.push('\n');
    }
    Ok(text.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_exactly() {
        let values = [0.1, -2.5e-12, 1e300, f64::NAN, f64::INFINITY, 3.0];
        let text = numbers_csv(&values, 2, 3, &["a".into(), "b".into(), "c".into()]).unwrap();
        let text = String::from_utf8(text).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("a,b,c"));
        let first: Vec<f64> = lines.next().unwrap().split(',').map(|s| s.parse().unwrap()).collect();
        assert_eq!(first, [0.1, -2.5e-12, 1e300]);
        assert_eq!(lines.next(), Some("NaN,inf,3"));
    }

    #[test]
    fn mismatched_shapes_are_refused() {
        assert!(numbers_csv(&[1.0, 2.0], 1, 3, &["a".into(), "b".into(), "c".into()]).is_err());
        assert!(numbers_csv(&[1.0], 1, 1, &["a,b".into()]).is_err());
    }
}
