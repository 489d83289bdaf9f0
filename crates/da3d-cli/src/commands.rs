//! `train`, `score`, `info`, `split` and `synth`: parse, call the model crate, print.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use da3d::bundle::Model;
use da3d::data::{self, ReadOptions, Table};
use da3d::datasets::{self, ReadRequest};
use da3d::pipeline::{ConfigOverrides, Fit, FitRequest};

use crate::backend::select;
use crate::files::{check_writable, write_atomic};
use crate::memory;
use crate::progress::{Output, Reporter, fmt_secs};
use crate::args::{DataArgs, LayoutArg, MethodArg, PresetArg, TrainArgs};

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

/// What the command line asks of reading a file.
fn read_request(args: &DataArgs) -> ReadRequest {
    ReadRequest {
        dataset: args.dataset.clone(),
        label: args.label.clone(),
        ignore: args.ignore.clone(),
        drop: args.drop.clone(),
        categorical: args.categorical.clone(),
        split_column: args.split_column.clone(),
        delimiter: args.delimiter,
        label_optional: false,
    }
}

/// Read options from the command line (and the named data set's rules).
pub fn read_options(args: &DataArgs) -> Result<ReadOptions> {
    Ok(datasets::read_options(&read_request(args))?)
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
    let preset = datasets::dataset(name)
        .ok_or_else(|| usage(format!("unknown data set '{name}' (known: {})", datasets::NAMES.join(", "))))?;
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

/// Read a table file, refusing one that would not fit in memory before reading it, with notes on
/// stderr about what reading it found (sniffed delimiter, missing values, dropped rows) when
/// `notes` (an `eval` worker's parent says them).
pub fn load_table(path: &Path, opts: &ReadOptions, notes: bool) -> Result<Table> {
    memory::check_file(path)?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let table = data::read_table(BufReader::new(file), opts).with_context(|| format!("{}", path.display()))?;
    if !notes {
        return Ok(table);
    }
    let r = &table.report;
    if r.delimiter != b',' && opts.delimiter.is_none() {
        eprintln!("note: {}: fields separated by {} (sniffed; --delimiter to change)", path.display(), data::delimiter_name(r.delimiter));
    }
    if let (Some(label), Some(want)) = (&table.label, &opts.label)
        && label != want
    {
        eprintln!("note: {}: the label column is '{label}'", path.display());
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

/// Where the training config comes from: the preset, the `--config` file, the flags.
/// `default_preset`: the command's own (`train`: robust; `eval`, `bench`: paper).
pub fn config_overrides(args: &TrainArgs, default_preset: PresetArg, method: Option<MethodArg>, seed: Option<u64>) -> Result<ConfigOverrides> {
    let mut o = ConfigOverrides::new(args.preset.unwrap_or(default_preset).into());
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))?;
        o.json = Some(json);
        o.json_source = Some(path.display().to_string());
        o.seed()?;
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

/// What `train` was asked for besides the data and the training settings.
pub struct TrainRequest {
    pub method: Option<MethodArg>,
    pub seed: Option<u64>,
    pub contamination: f64,
    pub threshold_rate: da3d::config::ThresholdRate,
    pub silence: std::time::Duration,
}

pub fn train(path: &Path, output: &Path, data_args: &DataArgs, args: &TrainArgs, out: Output, request: &TrainRequest) -> Result<()> {
    check_writable(output)?;
    let overrides = config_overrides(args, PresetArg::Robust, request.method, request.seed)?;
    let opts = read_options(data_args)?;
    let table = load_table(path, &opts, true)?;
    let fit_request = FitRequest {
        overrides,
        dataset: data_args.dataset.clone(),
        contamination: request.contamination,
        protocol: data_args.protocol.into(),
        threshold_rate: request.threshold_rate,
        member: None,
    };
    let (data, config) = fit_request.prepare(&table).with_context(|| format!("{}", path.display()))?;
    let say = |text: String| eprintln!("{text}");
    let note = |text: String| eprintln!("note: {text}");
    match &data.summary {
        Some(p) => say(format!(
            "data: {} rows, {} anomalies, {} inputs; training on {} rows ({} contamination), test {} rows ({} anomalies)",
            p.rows, p.anomalies, p.input_width, p.train_rows, p.train_contamination, p.test_rows, p.test_anomalies
        )),
        None => say(format!("data: {} rows, {} inputs", data.train.rows, data.train.cols)),
    }
    for text in &data.notes {
        note(text.clone());
    }
    for c in data.preprocessor.constant_columns() {
        note(format!("column '{c}' is constant in the training rows"));
    }
    let cfg = config.training();
    if cfg.ensemble.members > 1 {
        say(format!(
            "preset {}: {} members, each {} / {} / {} epochs (AAE / pretraining / DA³D)",
            cfg.preset.name(),
            cfg.ensemble.members,
            cfg.schedule.aae_epochs,
            cfg.schedule.pretrain_epochs,
            cfg.schedule.da3d_epochs
        ));
    }
    let backend = select(args.backend)?;
    say(format!("backend: {}", backend.name));
    let started = std::time::Instant::now();
    let members = cfg.ensemble.members;
    let on_cpu = backend.device == burn::tensor::Device::flex();
    let threads = if on_cpu { crate::members::threads_for(args.threads, members) } else { 1 };
    memory::check_training(&table, &data, cfg, threads)?;
    drop(table);
    if members > 1 && on_cpu {
        say(if threads > 1 { format!("{members} members in {threads} worker processes") } else { format!("{members} members on 1 thread") });
    }
    let state = args.state()?;
    let fit = Fit::start(data, config, &opts, &backend.device, &backend.name)?;
    let mut reporter = Reporter::new(out, "train");
    let outcome = crate::members::train_and_finish(fit, threads, on_cpu, request.silence, &mut reporter, state.as_ref())?;
    let model = outcome.model;
    match (&model.header.metrics, &outcome.data.test) {
        (Some(m), _) => {
            say(format!("test: ROC AUC {:.4}, average precision {:.4} ({} rows)", m.roc_auc, m.average_precision, m.rows));
            if let Some(a) = &model.header.alarm_metrics {
                say(format!("the alarm alone: ROC AUC {:.4}, average precision {:.4}", a.roc_auc, a.average_precision));
            }
        }
        (None, Some(t)) => say(format!("test: {} rows, {} anomalies: no ROC AUC without both classes", t.labels.len(), t.n_anomalies())),
        (None, None) => {}
    }
    let bytes = model.to_bytes()?;
    write_atomic(output, |w| Ok(w.write_all(&bytes)?))?;
    if let Some(s) = &state {
        s.remove_own();
        say(format!("removed the training state in {}", s.dir.display()));
    }
    say(format!(
        "wrote {} ({} bytes) in {}; threshold {:.4} flags {:.1} % of training rows",
        output.display(),
        bytes.len(),
        fmt_secs(started.elapsed().as_secs_f64()),
        model.header.threshold,
        model.header.threshold_rate * 100.0
    ));
    Ok(())
}

pub fn load_model(path: &Path, device: &burn::tensor::Device) -> Result<Model> {
    memory::check_file(path)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Model::from_bytes(&bytes, device).with_context(|| format!("{}", path.display()))
}

pub fn info(path: &Path, json: bool) -> Result<()> {
    memory::check_file(path)?;
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
        let read = match n.distance {
            da3d::config::NeighbourDistance::Kth => format!("distance to the {}-th nearest", n.k),
            da3d::config::NeighbourDistance::MeanOfK => format!("mean distance to the {} nearest", n.k),
        };
        let ratio = match &n.ratio {
            Some(r) => format!("; density ratio of the {} nearest at weight {}", r.k, r.weight),
            None if c.ensemble.density_ratio > 0.0 => "; no density ratio (the training rows repeat exactly)".into(),
            None => String::new(),
        };
        println!("neighbours:   {read} of {} training rows{ratio}", n.rows());
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
    if let Some(m) = &h.alarm_metrics {
        println!("alarm alone:  ROC AUC {:.4}, average precision {:.4} (the same rows, DA³D's alarm without the rest of the score)", m.roc_auc, m.average_precision);
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
    let table = load_table(path, &opts, true)?;
    let p = data::prepare_with(&table, table.label.clone(), contamination, seed, data_args.protocol.into())
        .with_context(|| format!("{}", path.display()))?;
    let report = serde_json::json!({
        "data": path.display().to_string(),
        "seed": seed,
        "contamination": contamination,
        "protocol": da3d::data::Protocol::from(data_args.protocol).name(),
        "train_lines": p.train_lines,
        "validation_lines": p.validation.lines,
        "test_lines": p.test.lines,
        "summary": p.summary,
        "label_column": table.label,
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
    println!("{report}");
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
