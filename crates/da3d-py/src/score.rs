//! Scoring CSV text with a model, as the CLI's `score` reads a file: the training file's reading
//! rules, the model's columns found by name, rows encoded and scored in batches.

use da3d::bundle::Model;
use da3d::data::{Encoded, Matrix, RecordReader, RowEncoder, TransformStats};
use da3d::explain::Attribution;
use da3d::{ScoreKind, wait};

use crate::error::{BindingError, Result, at_row_of_x};

/// Rows scored at once.
const BATCH_ROWS: usize = 1 << 16;

/// The encoder of `csv`'s rows for `model`, and the reader positioned after the header.
fn reader<'a>(model: &Model, csv: &'a [u8]) -> Result<(RecordReader<'a>, RowEncoder)> {
    let reader = RecordReader::new(csv, Some(b','))?;
    let encoder = model.row_encoder(reader.headers())?;
    Ok((reader, encoder))
}

/// Every row of `csv` encoded as the model reads it, in batches of at most `batch_rows`, each
/// handed to `each`. A row with a missing numeric value is an error (the CLI drops it). The text's
/// first row is row `first_row` of `X` (errors name `X`'s rows).
fn for_each_batch(model: &Model, csv: &[u8], first_row: usize, batch_rows: usize, mut each: impl FnMut(&Matrix) -> Result<()>) -> Result<usize> {
    let (mut reader, encoder) = reader(model, csv)?;
    let width = encoder.width();
    let mut values = Vec::with_capacity(batch_rows.min(1 << 20) * width);
    let mut in_batch = 0;
    let mut rows = 0;
    let mut stats = TransformStats::default();
    while let Some((line, fields)) = reader.next_record().map_err(|e| at_row_of_x(e, first_row))? {
        match encoder.encode(&fields, line, &mut values, &mut stats).map_err(|e| at_row_of_x(e, first_row))? {
            Encoded::Row(_) => in_batch += 1,
            Encoded::Missing { column } => {
                return Err(BindingError::Input(format!(
                    "row {} of X holds a missing or non-finite value in the numeric column '{column}': \
                     the CLI drops such rows, an estimator scores every row: fill or drop them first",
                    first_row + rows + in_batch
                )));
            }
        }
        if in_batch == batch_rows {
            each(&Matrix::new(in_batch, width, std::mem::take(&mut values)))?;
            rows += in_batch;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        each(&Matrix::new(in_batch, width, values))?;
        rows += in_batch;
    }
    if rows == 0 {
        return Err(BindingError::Input("X has no rows".into()));
    }
    Ok(rows)
}

/// The model's score of every row of `csv` (higher is more anomalous); its first row is row
/// `first_row` of `X`.
pub fn score_csv(model: &Model, csv: &[u8], first_row: usize) -> Result<Vec<f32>> {
    let detector = model.detector();
    let mut scores = Vec::new();
    for_each_batch(model, csv, first_row, BATCH_ROWS, |x| {
        scores.extend(wait(detector.score(x, ScoreKind::Model))?);
        Ok(())
    })?;
    Ok(scores)
}

/// The `top` columns that push each row's score up, largest share first (`score --explain`).
pub fn explain_csv(model: &Model, csv: &[u8], first_row: usize, top: usize) -> Result<Vec<Vec<Attribution>>> {
    let detector = model.detector();
    let top = top.min(model.header.preprocessor.columns.len());
    let mut rows = Vec::new();
    for_each_batch(model, csv, first_row, BATCH_ROWS, |x| {
        let terms = wait(detector.input_contributions(x))?;
        rows.extend(da3d::explain::explain(&model.header.preprocessor, x, &terms, top)?);
        Ok(())
    })?;
    Ok(rows)
}
