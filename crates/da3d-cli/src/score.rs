//! `da3d score`: a CSV file scored batch by batch with a bundle; memory does not grow with the
//! rows (a labelled file keeps a score per row, 4 bytes, for its ROC AUC).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use da3d::data::{self, Encoded, RecordReader, TransformStats};
use da3d::{ScoreKind, metrics, wait};

use crate::backend::{BackendChoice, select};
use crate::commands::load_model;
use crate::files::write_atomic;

/// What `score` was asked for besides the model and the data.
pub struct ScoreRequest {
    pub output: Option<PathBuf>,
    pub skip_bad_rows: bool,
    pub backend: BackendChoice,
    pub batch_rows: usize,
    pub delimiter: Option<u8>,
    pub explain: Option<usize>,
}

/// What scoring a file found, besides the scores: counted, never kept row by row.
#[derive(Default)]
struct ScoreTally {
    rows: usize,
    flagged: usize,
    /// Rows with a missing numeric value: how many, and the first (line, column).
    dropped: usize,
    first_dropped: Option<(u64, String)>,
    /// Rows that failed to parse (with `--skip-bad-rows`): how many, and the first messages.
    bad: usize,
    first_bad: Vec<String>,
    stats: TransformStats,
    /// For the ROC AUC of a labelled file: each scored row's score, kept by label (4 bytes a
    /// row); empty when the file has no labels.
    labelled: metrics::LabelledScores,
    /// Some scored row had no label: no ROC AUC (it would be of a part of the rows).
    rows_without_label: bool,
}

/// Score `data_path` with the model at `model_path`.
pub fn score(model_path: &Path, data_path: &Path, request: &ScoreRequest) -> Result<()> {
    let backend = select(request.backend)?;
    let model = load_model(model_path, &backend.device)?;
    let detector = model.detector();
    // Never more explanation columns than the model has source columns.
    let explain = request.explain.map(|k| k.min(model.header.preprocessor.columns.len()));
    // The training file's reading rules (label, label values, non-finite values); the delimiter
    // is sniffed unless given: a model trained on a ';' file scores a ',' file too.
    let file = File::open(data_path).with_context(|| format!("cannot open {}", data_path.display()))?;
    let ctx = || format!("{}", data_path.display());
    let mut reader = RecordReader::new(BufReader::new(file), request.delimiter).with_context(ctx)?;
    let encoder = model.row_encoder(reader.headers()).with_context(ctx)?;
    let threshold = model.header.threshold;
    let mut tally = ScoreTally::default();
    let batch_rows = request.batch_rows;

    let mut run = |w: &mut dyn Write| -> Result<()> {
        write!(w, "line,score,anomaly")?;
        for i in 1..=explain.unwrap_or(0) {
            write!(w, ",feature_{i},value_{i},share_{i}")?;
        }
        writeln!(w)?;
        let mut values = Vec::with_capacity(batch_rows * encoder.width());
        let mut lines = Vec::with_capacity(batch_rows);
        // The labels of the batch's rows (a labelled file).
        let mut labels = Vec::with_capacity(batch_rows);
        let flush = |values: &mut Vec<f32>, lines: &mut Vec<u64>, labels: &mut Vec<u8>, tally: &mut ScoreTally, w: &mut dyn Write| -> Result<()> {
            if lines.is_empty() {
                return Ok(());
            }
            let x = data::Matrix::new(lines.len(), encoder.width(), std::mem::take(values));
            let scores = wait(detector.score(&x, ScoreKind::Model)).map_err(|e| match e {
                da3d::Error::Data(m) => anyhow::anyhow!("{}: the batch starting at line {}: {m}", data_path.display(), lines[0]),
                e => e.into(),
            })?;
            let why = match explain {
                Some(k) => {
                    let terms = wait(detector.input_contributions(&x))?;
                    da3d::explain::explain(&model.header.preprocessor, &x, &terms, k)?
                }
                None => Vec::new(),
            };
            for (i, (line, s)) in lines.iter().zip(&scores).enumerate() {
                let a = (*s > threshold) as u8;
                tally.flagged += a as usize;
                write!(w, "{line},{s},{a}")?;
                if let Some(row) = why.get(i) {
                    for at in row {
                        write!(w, ",{},{},{:.4}", csv_field(&at.column), csv_field(&at.value), at.share)?;
                    }
                }
                writeln!(w)?;
            }
            if encoder.has_label() {
                if labels.len() == scores.len() {
                    for (s, l) in scores.iter().zip(labels.iter()) {
                        tally.labelled.push(*s, *l);
                    }
                } else {
                    tally.rows_without_label = true;
                }
            }
            tally.rows += lines.len();
            lines.clear();
            labels.clear();
            *values = Vec::with_capacity(batch_rows * encoder.width());
            Ok(())
        };
        while let Some((line, fields)) = reader.next_record().with_context(ctx)? {
            match encoder.encode(&fields, line, &mut values, &mut tally.stats) {
                Ok(Encoded::Row(l)) => {
                    lines.push(line);
                    if let Some(l) = l {
                        labels.push(l);
                    }
                }
                Ok(Encoded::Missing { column }) => {
                    tally.dropped += 1;
                    tally.first_dropped.get_or_insert((line, column));
                }
                Err(e) if request.skip_bad_rows => {
                    tally.bad += 1;
                    if tally.first_bad.len() < 5 {
                        tally.first_bad.push(e.to_string());
                    }
                }
                Err(e) => return Err(anyhow::Error::new(e).context(ctx())),
            }
            if lines.len() == batch_rows {
                flush(&mut values, &mut lines, &mut labels, &mut tally, w)?;
            }
        }
        flush(&mut values, &mut lines, &mut labels, &mut tally, w)?;
        Ok(())
    };
    match &request.output {
        Some(path) => write_atomic(path, |w| run(w))?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = BufWriter::new(stdout.lock());
            run(&mut lock)?;
            lock.flush()?;
        }
    }
    if tally.rows == 0 && tally.bad == 0 && tally.dropped == 0 {
        bail!("{}: the file has a header but no data rows", data_path.display());
    }
    eprintln!("scored {} rows, {} above the threshold {threshold:.4}", tally.rows, tally.flagged);
    if tally.bad > 0 {
        eprintln!("skipped {} bad rows; first: {}", tally.bad, tally.first_bad.join("; "));
    }
    if !tally.labelled.is_empty()
        && !tally.rows_without_label
        && let Ok((auc, ap)) = std::mem::take(&mut tally.labelled).metrics()
    {
        eprintln!("labels found: ROC AUC {auc:.4}, average precision {ap:.4}");
    }
    if let Some((line, column)) = &tally.first_dropped {
        eprintln!(
            "note: {} rows not scored: a missing value in a numeric column (first at line {line}, column '{column}'); \
             training drops such rows too",
            tally.dropped
        );
    }
    let stats = &tally.stats;
    if stats.unseen_categories > 0 {
        eprintln!("note: {} cells held a category not seen in training (encoded as zeros)", stats.unseen_categories);
    }
    if stats.out_of_range > 0 {
        eprintln!(
            "note: {} numeric cells fell outside the training range (scaled values kept; {} beyond ±{:e} limited to it)",
            stats.out_of_range,
            stats.clipped,
            data::preprocess::SCALED_LIMIT
        );
    }
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
