//! `train`, `score` and `info`: parse, call the model crate, print.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use da3d::bundle::Model;
use da3d::config::{DataShape, TrainingConfig};
use da3d::data::{self, Encoded, ReadOptions, RecordReader, Table, TransformStats};
use da3d::pipeline::{self, ConfigOverrides, Fit, FitConfig};
use da3d::{ScoreKind, datasets, metrics};

use crate::backend::{BackendChoice, select};
use crate::progress::{Reporter, fmt_secs};
use crate::{DataArgs, LayoutArg, MethodArg, PresetArg, TrainArgs};

/// A usage error (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

/// Read options from the command line (and the named data set's rules).
pub fn read_options(args: &DataArgs) -> Result<ReadOptions> {
    let mut opts = match &args.dataset {
        Some(name) => named_dataset(name)?.read,
        None => ReadOptions::default(),
    };
    if let Some(label) = &args.label {
        opts.label = Some(label.clone());
    }
    opts.ignore.extend(args.ignore.iter().cloned());
    opts.categorical.extend(args.categorical.iter().cloned());
    if args.split_column.is_some() {
        opts.split_column = args.split_column.clone();
    }
    if args.delimiter.is_some() {
        opts.delimiter = args.delimiter;
    }
    Ok(opts)
}

fn named_dataset(name: &str) -> Result<datasets::DatasetPreset> {
    datasets::dataset(name)
        .ok_or_else(|| usage(format!("unknown data set '{name}' (known: {})", datasets::NAMES.join(", "))))
}

/// The data file: the one given, or the named data set's file in `$DA3D_DATA_DIR`
/// (default `../shared/datasets`).
pub fn data_path(data: Option<PathBuf>, args: &DataArgs) -> Result<PathBuf> {
    if let Some(path) = data {
        return Ok(path);
    }
    let Some(name) = &args.dataset else {
        return Err(usage("no data file given: pass a CSV file, or --dataset NAME to read that data set's file"));
    };
    let preset = named_dataset(name)?;
    let dir = std::env::var_os("DA3D_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("../shared/datasets"));
    let path = dir.join(preset.file);
    if !path.is_file() {
        return Err(anyhow::anyhow!(
            "data set '{}': {} not found (set DA3D_DATA_DIR to the folder holding {}, or pass the file)",
            preset.name,
            path.display(),
            preset.file
        ));
    }
    Ok(path)
}

/// Read a table file, with notes on stderr about what reading it found (sniffed delimiter,
/// missing values, dropped rows).
pub fn load_table(path: &Path, opts: &ReadOptions) -> Result<Table> {
    let table = load_table_quietly(path, opts)?;
    let r = &table.report;
    if r.delimiter != b',' && opts.delimiter.is_none() {
        eprintln!("note: {}: fields separated by {} (sniffed; --delimiter to change)", path.display(), data::delimiter_name(r.delimiter));
    }
    if let Some((line, column)) = &r.first_missing {
        eprintln!(
            "note: {}: {} cells hold a missing-value marker (empty, ?, NA, N/A, null, …), the first at line {line}, column '{column}'",
            path.display(),
            r.missing_cells
        );
    }
    if r.rows_dropped_missing > 0 {
        eprintln!(
            "note: {}: {} of {} rows dropped for missing or non-finite numeric values (first at line {})",
            path.display(),
            r.rows_dropped_missing,
            r.rows_read,
            r.first_dropped_line.unwrap_or(0)
        );
    }
    Ok(table)
}

/// [`load_table`] without its notes (an `eval` worker: its parent read the file and said them).
pub fn load_table_quietly(path: &Path, opts: &ReadOptions) -> Result<Table> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    data::read_table(BufReader::new(file), opts).with_context(|| format!("{}", path.display()))
}

/// Where the training config comes from: the preset, the `--config` file, the flags.
/// `default_preset`: the command's own (`train`: robust; `eval`, `bench`: paper).
pub fn config_overrides(args: &TrainArgs, default_preset: PresetArg, method: Option<MethodArg>, seed: Option<u64>) -> Result<ConfigOverrides> {
    let mut o = ConfigOverrides::new(args.preset.unwrap_or(default_preset).into());
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))?;
        o.json = Some(json);
        o.seed().with_context(|| format!("{}", path.display()))?;
    }
    o.seed = seed;
    o.method = method.map(Into::into);
    o.aae_epochs = args.epochs_aae;
    o.pretrain_epochs = args.epochs_pretrain;
    o.da3d_epochs = args.epochs;
    o.batch_size = args.batch_size;
    o.members = args.members;
    Ok(o)
}

/// The training config for `rows` training rows of `d_input` inputs: an invalid value from the `--config` file is a data
/// error naming the file, one from a flag a usage error.
pub fn build_config(o: &ConfigOverrides, config_file: Option<&Path>, shape: DataShape, dataset: Option<&str>) -> Result<TrainingConfig> {
    let base = o.base(shape, dataset).with_context(|| match config_file {
        Some(p) => format!("{}", p.display()),
        None => "config".into(),
    })?;
    o.apply_values(base).map_err(|e| usage(e.to_string()))
}

/// Write `bytes` to `path` through a temporary file and a rename: never a half-written file.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all().ok();
        Ok(())
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn train(
    path: &Path,
    output: &Path,
    data_args: &DataArgs,
    args: &TrainArgs,
    method: Option<MethodArg>,
    seed: Option<u64>,
    contamination: f64,
    threshold_rate: f64,
) -> Result<()> {
    let overrides = config_overrides(args, PresetArg::Robust, method, seed)?;
    let seed = overrides.seed()?;
    let opts = read_options(data_args)?;
    let table = load_table(path, &opts)?;
    let ctx = || format!("{}", path.display());
    let data = pipeline::prepare_fit(&table, &opts, contamination, seed).with_context(ctx)?;
    match &data.summary {
        Some(p) => eprintln!(
            "data: {} rows, {} anomalies, {} inputs; training on {} rows ({} contamination), test {} rows ({} anomalies)",
            p.rows, p.anomalies, p.input_width, p.train_rows, p.train_contamination, p.test_rows, p.test_anomalies
        ),
        None => eprintln!("data: {} rows, {} inputs", data.train.rows, data.train.cols),
    }
    for note in &data.notes {
        eprintln!("note: {note}");
    }
    for c in data.preprocessor.constant_columns() {
        eprintln!("note: column '{c}' is constant in the training rows");
    }
    let cfg = build_config(&overrides, args.config.as_deref(), data.shape(), data_args.dataset.as_deref())?;
    if cfg.ensemble.members > 1 {
        eprintln!("preset {}: {} members, each {} / {} / {} epochs (AAE / pretraining / DA³D)", cfg.preset.name(), cfg.ensemble.members,
            cfg.schedule.aae_epochs, cfg.schedule.pretrain_epochs, cfg.schedule.da3d_epochs);
    }
    let fit_config = FitConfig::new(cfg, threshold_rate, contamination).map_err(|e| usage(e.to_string()))?;
    let backend = select(args.backend)?;
    eprintln!("backend: {}", backend.name);
    let started = std::time::Instant::now();
    let members = fit_config.training().ensemble.members;
    let threads = crate::members::threads_for(args.threads, members);
    let on_cpu = backend.device == burn::tensor::Device::flex();
    if members > 1 && on_cpu {
        if threads > 1 {
            eprintln!("{members} members in {threads} worker processes");
        } else {
            eprintln!("{members} members on 1 thread");
        }
    }
    let fit = Fit::start(data, fit_config, &opts, &backend.device, &backend.name)?;
    let mut reporter = Reporter::new(args.quiet, args.log_format, "train");
    let outcome = crate::members::train_and_finish(fit, threads, on_cpu, &mut reporter)?;
    let model = outcome.model;
    match (&model.header.metrics, &outcome.data.test) {
        (Some(m), _) => eprintln!("test: ROC AUC {:.4}, average precision {:.4} ({} rows)", m.roc_auc, m.average_precision, m.rows),
        (None, Some(t)) => eprintln!("test: {} rows, {} anomalies: no ROC AUC without both classes", t.labels.len(), t.n_anomalies()),
        (None, None) => {}
    }
    let bytes = model.to_bytes()?;
    write_atomic(output, |w| Ok(w.write_all(&bytes)?))?;
    eprintln!(
        "wrote {} ({} bytes) in {}; threshold {:.4} flags {:.1} % of training rows",
        output.display(),
        bytes.len(),
        fmt_secs(started.elapsed().as_secs_f64()),
        model.header.threshold,
        threshold_rate * 100.0
    );
    Ok(())
}

pub fn load_model(path: &Path, device: &burn::tensor::Device) -> Result<Model> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Model::from_bytes(&bytes, device).with_context(|| format!("{}", path.display()))
}

#[allow(clippy::too_many_arguments)]
pub fn score(
    model_path: &Path,
    data_path: &Path,
    output: Option<&Path>,
    skip_bad: bool,
    backend: BackendChoice,
    batch_rows: usize,
    delimiter: Option<u8>,
    explain: Option<usize>,
) -> Result<()> {
    let backend = select(backend)?;
    let model = load_model(model_path, &backend.device)?;
    let detector = model.detector();
    // Never more explanation columns than the model has source columns.
    let explain = explain.map(|k| k.min(model.header.preprocessor.columns.len()));
    // The training file's reading rules (label, label values, non-finite values); the delimiter
    // is sniffed unless given: a model trained on a ';' file scores a ',' file too.
    let read = model.header.read.clone().unwrap_or_default();
    let file = File::open(data_path).with_context(|| format!("cannot open {}", data_path.display()))?;
    let ctx = || format!("{}", data_path.display());
    let mut reader = RecordReader::new(BufReader::new(file), delimiter).with_context(ctx)?;
    let label = model.header.preprocessor.label.clone().or(read.label.clone()).unwrap_or_else(|| "label".into());
    let encoder = model
        .header
        .preprocessor
        .row_encoder(reader.headers(), Some(&label), read.non_finite_as_missing)
        .with_context(ctx)?;
    let mut dropped: Vec<(u64, String)> = Vec::new();
    let threshold = model.header.threshold;
    let mut stats = TransformStats::default();
    let mut bad: Vec<(u64, String)> = Vec::new();
    let (mut rows, mut flagged) = (0usize, 0usize);
    let mut labels_seen: Vec<u8> = Vec::new();
    let mut scores_seen: Vec<f32> = Vec::new();

    let mut run = |w: &mut dyn Write| -> Result<()> {
        write!(w, "line,score,anomaly")?;
        for i in 1..=explain.unwrap_or(0) {
            write!(w, ",feature_{i},value_{i},share_{i}")?;
        }
        writeln!(w)?;
        let mut values = Vec::with_capacity(batch_rows * encoder.width());
        let mut lines = Vec::with_capacity(batch_rows);
        let mut flush = |values: &mut Vec<f32>, lines: &mut Vec<u64>, w: &mut dyn Write| -> Result<()> {
            if lines.is_empty() {
                return Ok(());
            }
            let x = data::Matrix::new(lines.len(), encoder.width(), std::mem::take(values));
            let scores = detector.score(&x, ScoreKind::Model)?;
            let why = match explain {
                Some(k) => {
                    let terms = detector.input_contributions(&x)?;
                    da3d::explain::explain(&model.header.preprocessor, &x, &terms, k)?
                }
                None => Vec::new(),
            };
            for (i, (line, s)) in lines.iter().zip(&scores).enumerate() {
                let a = (*s > threshold) as u8;
                flagged += a as usize;
                write!(w, "{line},{s},{a}")?;
                if let Some(row) = why.get(i) {
                    for at in row {
                        write!(w, ",{},{},{:.4}", csv_field(&at.column), csv_field(&at.value), at.share)?;
                    }
                }
                writeln!(w)?;
            }
            scores_seen.extend_from_slice(&scores);
            rows += lines.len();
            lines.clear();
            Ok(())
        };
        while let Some((line, fields)) = reader.next_record().with_context(ctx)? {
            match encoder.encode(&fields, line, &mut values, &mut stats) {
                Ok(Encoded::Row(l)) => {
                    lines.push(line);
                    if let Some(l) = l {
                        labels_seen.push(l);
                    }
                }
                Ok(Encoded::Missing { column }) => dropped.push((line, column)),
                Err(e) if skip_bad => bad.push((line, e.to_string())),
                Err(e) => return Err(anyhow::Error::new(e).context(ctx())),
            }
            if lines.len() == batch_rows {
                flush(&mut values, &mut lines, w)?;
            }
        }
        flush(&mut values, &mut lines, w)?;
        Ok(())
    };
    match output {
        Some(path) => write_atomic(path, |w| run(w))?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = BufWriter::new(stdout.lock());
            run(&mut lock)?;
            lock.flush()?;
        }
    }
    if rows == 0 && bad.is_empty() && dropped.is_empty() {
        bail!("{}: the file has a header but no data rows", data_path.display());
    }
    if let Some((line, column)) = dropped.first() {
        eprintln!(
            "note: {} rows not scored: a missing value in a numeric column (first at line {line}, column '{column}'); \
             training drops such rows too",
            dropped.len()
        );
    }
    eprintln!("scored {rows} rows, {flagged} above the threshold {threshold:.4}");
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
    if !bad.is_empty() {
        eprintln!("skipped {} bad rows; first: {}", bad.len(), bad.iter().take(5).map(|(_, e)| e.as_str()).collect::<Vec<_>>().join("; "));
    }
    if labels_seen.len() == scores_seen.len() && !labels_seen.is_empty() {
        if let (Ok(auc), Ok(ap)) = (metrics::roc_auc(&scores_seen, &labels_seen), metrics::average_precision(&scores_seen, &labels_seen)) {
            eprintln!("labels found: ROC AUC {auc:.4}, average precision {ap:.4}");
        }
    }
    Ok(())
}

pub fn info(path: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let h = Model::read_header(&bytes).with_context(|| format!("{}", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&h)?);
        return Ok(());
    }
    let c = &h.config;
    println!("model:        {}", path.display());
    println!("da3d version: {}", h.crate_version);
    println!("preset:       {}", c.preset.name());
    if c.ensemble.members > 1 || c.ensemble.scoring != da3d::config::Scoring::Alarm {
        println!("ensemble:     {} members, score {:?}", c.ensemble.members, c.ensemble.scoring);
    }
    if let Some(n) = &h.neighbours {
        println!("neighbours:   distance to the {}-th nearest of {} training rows", n.k, n.rows());
    }
    println!("method:       {}", c.method.name());
    println!("seed:         {}", c.seed);
    println!("backend:      {}", h.backend);
    println!("trained on:   {} rows", h.training_rows);
    println!(
        "epochs:       aae {}, pretrain {}, da3d {}; batch {}",
        c.schedule.aae_epochs, c.schedule.pretrain_epochs, c.schedule.da3d_epochs, c.schedule.batch_size
    );
    println!("encoder:      {:?} (code {})", c.architecture.encoder, c.code_size());
    if da3d::bundle::reads_autoencoders_alone(c) {
        println!("alarm:        none trained (the score reads the autoencoders alone; the file holds only them)");
    } else {
        println!("alarm:        {:?}", c.architecture.alarm);
        println!("generator:    {:?}", c.architecture.generator);
        println!("critic:       {:?} ({:?} output), Lipschitz {:?}", c.architecture.critic, c.architecture.critic_output, c.losses.lipschitz);
    }
    println!("threshold:    {:.6} ({:.2} % of training rows above)", h.threshold, h.threshold_rate * 100.0);
    println!("inputs:       {} from {} columns", h.preprocessor.width(), h.preprocessor.columns.len());
    for col in &h.preprocessor.columns {
        match col {
            data::FeatureColumn::Numeric { name, min, max } => println!("  {name}: numeric, training range [{min}, {max}]"),
            data::FeatureColumn::Categorical { name, categories } => {
                println!("  {name}: categorical, {} categories", categories.len())
            }
        }
    }
    if let Some(m) = &h.metrics {
        println!("test:         ROC AUC {:.4}, average precision {:.4} ({} rows, {} anomalies)", m.roc_auc, m.average_precision, m.rows, m.anomalies);
    }
    if let Some(r) = &h.read {
        println!(
            "read:         delimiter {}, label {}{}",
            r.delimiter.map(data::delimiter_name).unwrap_or_else(|| "sniffed".into()),
            r.label.as_deref().unwrap_or("none"),
            if r.non_finite_as_missing { ", non-finite values as missing" } else { "" }
        );
    }
    if let Some(s) = &h.code_stats {
        println!("codes:        mean {:?}, std {:?}", s.mean, s.std);
    }
    Ok(())
}

pub fn split(path: &Path, data_args: &DataArgs, seed: u64, contamination: f64, export: Option<&Path>) -> Result<()> {
    let opts = read_options(data_args)?;
    let table = load_table(path, &opts)?;
    let p = data::prepare(&table, opts.label.clone(), contamination, seed).with_context(|| format!("{}", path.display()))?;
    let out = serde_json::json!({
        "data": path.display().to_string(),
        "seed": seed,
        "contamination": contamination,
        "train_lines": p.train_lines,
        "validation_lines": p.validation.lines,
        "test_lines": p.test.lines,
        "summary": p.summary,
        "label_column": opts.label,
        "train_shape": [p.train.rows, p.train.cols],
        "test_shape": [p.test.x.rows, p.test.x.cols],
    });
    if let Some(dir) = export {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let f32s = |m: &data::Matrix| m.values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        for (name, bytes) in [
            ("train.f32", f32s(&p.train)),
            ("test.f32", f32s(&p.test.x)),
            ("test_labels.u8", p.test.labels.clone()),
        ] {
            let file = dir.join(name);
            write_atomic(&file, |w| Ok(std::io::Write::write_all(w, &bytes)?))?;
        }
    }
    println!("{out}");
    Ok(())
}

pub fn synth(layout: LayoutArg, rows: usize, anomaly_rate: f64, seed: u64, output: Option<&Path>) -> Result<()> {
    let spec = da3d::synthetic::SyntheticSpec { rows, anomaly_rate, seed, ..Default::default() };
    let text = match layout {
        LayoutArg::Plain => da3d::synthetic::synthetic_csv(&spec),
        LayoutArg::Doh => da3d::synthetic::layout_csv("doh", rows, anomaly_rate, seed).expect("a known layout"),
        LayoutArg::Url => da3d::synthetic::layout_csv("url", rows, anomaly_rate, seed).expect("a known layout"),
    };
    match output {
        Some(path) => write_atomic(path, |w| Ok(w.write_all(text.as_bytes())?)),
        None => Ok(std::io::stdout().lock().write_all(text.as_bytes())?),
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}
