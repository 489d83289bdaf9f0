//! `da3d eval`: the paper's protocol over seeds, contamination levels and methods.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use da3d::Preset;
use da3d::config::Method;
use da3d::data::{self, Prepared};
use da3d::detector::CodeStats;
use da3d::metrics::{average_precision, mean_std, roc_auc};
use da3d::pipeline::{ConfigOverrides, Fit, FitConfig, FitData};
use da3d::train::{Phase, Trainer};
use da3d::{Detector, ScoreKind};
use serde::{Deserialize, Serialize};

use crate::backend::select;
use crate::commands::{build_config, config_overrides, load_table, load_table_quietly, read_options, write_atomic};
use crate::progress::{LogFormat, Reporter};
use crate::{DataArgs, PresetArg, TrainArgs};

/// `eval --methods`: the paper's methods and baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalMethod {
    /// DA³D with `--preset` (default: paper).
    Da3d,
    /// DA³D with the reference preset.
    Da3dReference,
    A3Noise,
    SimpleGenerator,
    /// The AAE's reconstruction error.
    AaeRecon,
    /// The `robust` preset (train's default): its ensemble, trained and scored as `train` does.
    Robust,
    /// The `quick` preset (the page's default), trained and scored as `train` does.
    Quick,
}

impl EvalMethod {
    pub fn name(self) -> &'static str {
        match self {
            EvalMethod::Da3d => "da3d",
            EvalMethod::Da3dReference => "da3d-reference",
            EvalMethod::A3Noise => "a3-noise",
            EvalMethod::SimpleGenerator => "simple-generator",
            EvalMethod::AaeRecon => "aae-recon",
            EvalMethod::Robust => "robust",
            EvalMethod::Quick => "quick",
        }
    }

    /// The trainer method (`None`: no detector training).
    fn method(self) -> Option<Method> {
        match self {
            EvalMethod::Da3d | EvalMethod::Da3dReference => Some(Method::Da3d),
            EvalMethod::A3Noise => Some(Method::A3Noise),
            EvalMethod::SimpleGenerator => Some(Method::SimpleGenerator),
            EvalMethod::AaeRecon | EvalMethod::Robust | EvalMethod::Quick => None,
        }
    }
}

/// The methods `eval` runs without `--methods`: the ensemble of `--preset robust` or `quick` (whose
/// schedules train no alarm for the paper's methods to read), else the paper's methods and baselines.
pub fn default_methods(preset: Option<PresetArg>) -> Vec<EvalMethod> {
    match preset {
        Some(PresetArg::Robust) => vec![EvalMethod::Robust],
        Some(PresetArg::Quick) => vec![EvalMethod::Quick],
        _ => vec![
            EvalMethod::Da3d,
            EvalMethod::Da3dReference,
            EvalMethod::A3Noise,
            EvalMethod::SimpleGenerator,
            EvalMethod::AaeRecon,
        ],
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Checkpoint {
    da3d_epoch: usize,
    test_roc_auc: f64,
    critic_normal: Option<f32>,
    critic_generated: Option<f32>,
    critic_noise: Option<f32>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Run {
    method: String,
    seed: u64,
    contamination: f64,
    test_roc_auc: f64,
    test_average_precision: f64,
    validation_roc_auc: Option<f64>,
    checkpoints: Vec<Checkpoint>,
    code_stats: CodeStats,
    /// Epochs of the AAE, detector pretraining and DA³D phases as run, and the batch size.
    epochs: [usize; 3],
    batch_size: usize,
    seconds: f64,
}

fn scores(det: &Detector, p: &Prepared, kind: ScoreKind) -> Result<(f64, f64, Option<f64>)> {
    let s = det.score(&p.test.x, kind)?;
    let auc = roc_auc(&s, &p.test.labels)?;
    let ap = average_precision(&s, &p.test.labels)?;
    let v = det.score(&p.validation.x, kind)?;
    let vauc = roc_auc(&v, &p.validation.labels).ok();
    Ok((auc, ap, vauc))
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    path: &Path,
    data_args: &DataArgs,
    args: &TrainArgs,
    seeds: &[u64],
    contaminations: &[f64],
    methods: &[EvalMethod],
    checkpoints: &[usize],
    json: bool,
    out: Option<&Path>,
    worker: Option<&CellWorker>,
) -> Result<()> {
    let method_names: Vec<String> = methods.iter().map(|m| m.name().to_string()).collect();
    // Read once; a usage error in the config (or its file) stops here, before any worker starts.
    let base_overrides = config_overrides(args, PresetArg::Paper, None, None)?;
    let opts = read_options(data_args)?;
    let table = if worker.is_some() { load_table_quietly(path, &opts)? } else { load_table(path, &opts)? };
    let backend = select(args.backend)?;
    if worker.is_none() {
        eprintln!("backend: {}", backend.name);
    }
    let dataset = data_args.dataset.as_deref();
    let started = Instant::now();
    let mut runs: Vec<Run> = Vec::new();

    let cells: Vec<(f64, u64)> = contaminations.iter().flat_map(|&c| seeds.iter().map(move |&s| (c, s))).collect();
    let on_cpu = backend.device == burn::tensor::Device::flex();
    let workers = crate::members::cores(args.threads).min(cells.len());
    if let Some(worker) = worker {
        // A worker of a parent `eval`: its cells, each run as a JSON line on stdout.
        for &index in &worker.cells {
            let &(contamination, seed) = cells.get(index).with_context(|| format!("cell {index} of {}", cells.len()))?;
            run_cell(&table, &opts, path, &base_overrides, args, dataset, &backend, methods, checkpoints, contamination, seed, &mut |run| {
                println!("{}", serde_json::to_string(&CellLine { cell: index, run: exact_floats(serde_json::to_value(run)?) })?);
                Ok(())
            })?;
        }
        return Ok(());
    } else if on_cpu && workers > 1 {
        eprintln!("eval: {} runs of the protocol (seeds × contamination levels) in {workers} worker processes", cells.len());
        runs = run_cells_in_workers(&cells, workers, args, &mut |runs| save_partial(out, path, dataset, &backend.name, seeds, args, started, runs))?;
    } else {
        for &(contamination, seed) in &cells {
            run_cell(&table, &opts, path, &base_overrides, args, dataset, &backend, methods, checkpoints, contamination, seed, &mut |run| {
                runs.push(run.clone());
                save_partial(out, path, dataset, &backend.name, seeds, args, started, &runs)
            })?;
        }
    }

    save_partial(out, path, dataset, &backend.name, seeds, args, started, &runs)?;
    let report = report_json(path, dataset, &backend.name, seeds, args, started, &runs);
    print_report(&report, dataset, &runs, contaminations, &method_names, json)?;
    eprintln!("eval took {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// One cell of the protocol (a contamination level and a seed): every method's run on its split,
/// each handed to `on_run` as it finishes.
#[allow(clippy::too_many_arguments)]
fn run_cell(
    table: &data::Table,
    opts: &da3d::data::ReadOptions,
    path: &Path,
    base_overrides: &ConfigOverrides,
    args: &TrainArgs,
    dataset: Option<&str>,
    backend: &crate::backend::Backend,
    methods: &[EvalMethod],
    checkpoints: &[usize],
    contamination: f64,
    seed: u64,
    on_run: &mut dyn FnMut(&Run) -> Result<()>,
) -> Result<Vec<Run>> {
    let mut runs: Vec<Run> = Vec::new();
    let p = data::prepare(table, opts.label.clone(), contamination, seed).with_context(|| format!("{}", path.display()))?;
    eprintln!(
        "seed {seed}, contamination {contamination}: train {} rows ({} contamination), test {} rows ({} anomalies)",
        p.summary.train_rows, p.summary.train_contamination, p.summary.test_rows, p.summary.test_anomalies
    );
    for (method, preset) in [(EvalMethod::Robust, Preset::Robust), (EvalMethod::Quick, Preset::Quick)] {
        if !methods.contains(&method) {
            continue;
        }
        let run = robust_run(table, &p, base_overrides, args, dataset, backend, seed, contamination, preset)?;
        eprintln!("  {}: test AUC {:.4}, AP {:.4} ({:.0} s)", run.method, run.test_roc_auc, run.test_average_precision, run.seconds);
        runs.push(run);
        on_run(runs.last().expect("just pushed"))?;
    }
    for reference in [false, true] {
        let group: Vec<EvalMethod> = methods
            .iter()
            .copied()
            .filter(|&m| !matches!(m, EvalMethod::Robust | EvalMethod::Quick) && (m == EvalMethod::Da3dReference) == reference)
            .collect();
        if group.is_empty() {
            continue;
        }
        let mut overrides = base_overrides.clone();
        overrides.seed = Some(seed);
        if reference {
            overrides.preset = Preset::Reference;
        }
        let preset = if reference { "reference" } else { "paper" };
        let mut cfg = build_config(&overrides, args.config.as_deref(), p.shape(), dataset)?;
        // The methods of a preset share one AAE: one member each, scored by its alarm.
        cfg.ensemble = da3d::config::Ensemble::default();
        let sched = &cfg.schedule;
        let (epochs, batch_size) = ([sched.aae_epochs, sched.pretrain_epochs, sched.da3d_epochs], sched.batch_size);
        // One AAE per preset and seed, shared by the methods of that preset.
        let t0 = Instant::now();
        let mut aae_trainer = Trainer::new(cfg.clone(), p.train.clone(), &backend.device)?;
        let mut rep = Reporter::new(args.quiet, args.log_format, format!("{preset}/aae s{seed} c{contamination}"));
        while aae_trainer.phase() == Phase::Aae {
            let r = aae_trainer.step_epoch()?.expect("AAE epochs remain");
            da3d::train::Observer::on_epoch(&mut rep, &r, &aae_trainer.progress());
        }
        let aae_seconds = t0.elapsed().as_secs_f64();
        let aae = aae_trainer.aae();
        let aae_detector = aae_trainer.detector();
        let code_stats = CodeStats::of(&aae_detector.codes(&p.train)?);
        eprintln!("  codes: mean {:?} std {:?}", code_stats.mean, code_stats.std);
        for eval_method in group {
            let method = eval_method.name().to_string();
            let t1 = Instant::now();
            let Some(trainer_method) = eval_method.method() else {
                let (auc, ap, vauc) = scores(&aae_detector, &p, ScoreKind::Reconstruction)?;
                eprintln!("  {method}: test AUC {auc:.4}");
                runs.push(Run {
                    method: method.clone(), seed, contamination, test_roc_auc: auc, test_average_precision: ap,
                    validation_roc_auc: vauc, checkpoints: vec![], code_stats: code_stats.clone(), epochs, batch_size,
                    seconds: aae_seconds,
                });
                on_run(runs.last().expect("just pushed"))?;
                continue;
            };
            let mut c = cfg.clone();
            c.method = trainer_method;
            let mut t = Trainer::from_trained_aae(c, p.train.clone(), &backend.device, aae.clone())?;
            let mut rep = Reporter::new(args.quiet, args.log_format, format!("{method} s{seed} c{contamination}"));
            let mut cps = Vec::new();
            while let Some(r) = t.step_epoch()? {
                da3d::train::Observer::on_epoch(&mut rep, &r, &t.progress());
                if r.phase == Phase::Da3d && checkpoints.contains(&r.epoch) {
                    let (auc, _, _) = scores(&t.detector(), &p, ScoreKind::Alarm)?;
                    cps.push(Checkpoint {
                        da3d_epoch: r.epoch,
                        test_roc_auc: auc,
                        critic_normal: r.get("critic_normal"),
                        critic_generated: r.get("critic_generated"),
                        critic_noise: r.get("critic_noise"),
                    });
                }
            }
            let (auc, ap, vauc) = scores(&t.detector(), &p, ScoreKind::Alarm)?;
            let secs = t1.elapsed().as_secs_f64() + aae_seconds;
            eprintln!("  {method}: test AUC {auc:.4}, AP {ap:.4} ({secs:.0} s)");
            runs.push(Run {
                method: method.clone(), seed, contamination, test_roc_auc: auc, test_average_precision: ap,
                validation_roc_auc: vauc, checkpoints: cps, code_stats: code_stats.clone(), epochs, batch_size, seconds: secs,
            });
            on_run(runs.last().expect("just pushed"))?;
        }
    }
    Ok(runs)
}

/// One run of the `robust` preset: the fit pipeline as `train` runs it, on the split `p`.
#[allow(clippy::too_many_arguments)]
fn robust_run(
    table: &data::Table,
    p: &Prepared,
    base: &ConfigOverrides,
    args: &TrainArgs,
    dataset: Option<&str>,
    backend: &crate::backend::Backend,
    seed: u64,
    contamination: f64,
    preset: Preset,
) -> Result<Run> {
    let mut overrides = base.clone();
    overrides.preset = preset;
    overrides.seed = Some(seed);
    let cfg = build_config(&overrides, args.config.as_deref(), p.shape(), dataset)?;
    let sched = &cfg.schedule;
    let (epochs, batch_size) = ([sched.aae_epochs, sched.pretrain_epochs, sched.da3d_epochs], sched.batch_size);
    let t0 = Instant::now();
    let data = FitData::protocol(p.clone(), table.report.delimiter);
    let fit_config = FitConfig::new(cfg, 0.01, contamination)?;
    let threads = crate::members::threads_for(args.threads, fit_config.training().ensemble.members);
    let fit = Fit::start(data, fit_config, &da3d::data::ReadOptions::default(), &backend.device, &backend.name)?;
    let mut rep = Reporter::new(args.quiet, args.log_format, format!("{} s{seed} c{contamination}", preset.name()));
    let on_cpu = backend.device == burn::tensor::Device::flex();
    let outcome = crate::members::train_and_finish(fit, threads, on_cpu, &mut rep)?;
    let test_scores = outcome.test_scores.as_deref().unwrap_or_default();
    let detector = outcome.model.detector();
    let v = detector.score(&p.validation.x, ScoreKind::Model)?;
    Ok(Run {
        method: preset.name().into(),
        seed,
        contamination,
        test_roc_auc: roc_auc(test_scores, &p.test.labels)?,
        test_average_precision: average_precision(test_scores, &p.test.labels)?,
        validation_roc_auc: roc_auc(&v, &p.validation.labels).ok(),
        checkpoints: vec![],
        code_stats: outcome.model.header.code_stats.clone().unwrap_or(CodeStats { mean: vec![], std: vec![] }),
        epochs,
        batch_size,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn report_json(path: &Path, dataset: Option<&str>, backend: &str, seeds: &[u64], args: &TrainArgs, started: Instant, runs: &[Run]) -> serde_json::Value {
    serde_json::json!({
        "data": path.display().to_string(),
        "dataset": dataset,
        "backend": backend,
        "seeds": seeds,
        "epochs": {"aae": args.epochs_aae, "pretrain": args.epochs_pretrain, "da3d": args.epochs},
        "wall_seconds": started.elapsed().as_secs_f64(),
        "runs": runs,
    })
}

fn print_report(
    report: &serde_json::Value,
    dataset: Option<&str>,
    runs: &[Run],
    contaminations: &[f64],
    methods: &[String],
    json: bool,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    // Shaped like the paper's Table 2: one row per method, one column per contamination level.
    let cell = |m: &str, c: f64| -> String {
        let sel: Vec<f64> = runs.iter().filter(|r| r.method == m && r.contamination == c).map(|r| r.test_roc_auc).collect();
        if sel.is_empty() {
            return "–".into();
        }
        let (a, sa) = mean_std(&sel);
        format!("{a:.2} ± {sa:.2} ({})", sel.len())
    };
    let level = |c: f64| if c == 0.0 { "clean".to_string() } else { format!("{} % contaminated", c * 100.0) };
    println!("Test ROC AUC, mean ± std (runs):");
    println!();
    println!("| method | {} |", contaminations.iter().map(|&c| level(c)).collect::<Vec<_>>().join(" | "));
    println!("|---|{}", "---|".repeat(contaminations.len()));
    for m in methods {
        println!("| {m} | {} |", contaminations.iter().map(|&c| cell(m, c)).collect::<Vec<_>>().join(" | "));
    }
    if let Some(paper) = dataset.and_then(da3d::datasets::paper_da3d_auc) {
        let p = |c: f64| {
            if c == 0.0 {
                format!("{:.2} ± {:.2}", paper[0].0, paper[0].1)
            } else if (c - 0.01).abs() < 1e-12 {
                format!("{:.2} ± {:.2}", paper[1].0, paper[1].1)
            } else {
                "–".into()
            }
        };
        println!("| DA³D, paper's Table 2 | {} |", contaminations.iter().map(|&c| p(c)).collect::<Vec<_>>().join(" | "));
    }
    println!();
    println!("| contamination | method | ROC AUC | average precision | runs |");
    println!("|---|---|---|---|---|");
    for &c in contaminations {
        for m in methods {
            let sel: Vec<&Run> = runs.iter().filter(|r| &r.method == m && r.contamination == c).collect();
            if sel.is_empty() {
                continue;
            }
            let (a, sa) = mean_std(&sel.iter().map(|r| r.test_roc_auc).collect::<Vec<_>>());
            let (p, sp) = mean_std(&sel.iter().map(|r| r.test_average_precision).collect::<Vec<_>>());
            println!("| {c} | {m} | {a:.3} ± {sa:.3} | {p:.3} ± {sp:.3} | {} |", sel.len());
        }
    }
    let cp_epochs: Vec<usize> = {
        let mut v: Vec<usize> = runs.iter().flat_map(|r| r.checkpoints.iter().map(|c| c.da3d_epoch)).collect();
        v.sort();
        v.dedup();
        v
    };
    if !cp_epochs.is_empty() {
        println!();
        println!("Test ROC AUC after N DA³D epochs (mean over seeds), and the critic's mean outputs (normal / generated / noise codes):");
        println!();
        println!("| contamination | method | {} |", cp_epochs.iter().map(|e| format!("epoch {e}")).collect::<Vec<_>>().join(" | "));
        println!("|---|---|{}", "---|".repeat(cp_epochs.len()));
        for &c in contaminations {
            for m in methods {
                let sel: Vec<&Run> = runs.iter().filter(|r| &r.method == m && r.contamination == c).collect();
                if sel.is_empty() || sel[0].checkpoints.is_empty() {
                    continue;
                }
                let cells: Vec<String> = cp_epochs
                    .iter()
                    .map(|e| {
                        let cps: Vec<&Checkpoint> = sel.iter().filter_map(|r| r.checkpoints.iter().find(|c| c.da3d_epoch == *e)).collect();
                        let (a, _) = mean_std(&cps.iter().map(|c| c.test_roc_auc).collect::<Vec<_>>());
                        let crit = |f: fn(&Checkpoint) -> Option<f32>| {
                            let v: Vec<f64> = cps.iter().filter_map(|c| f(c).map(|x| x as f64)).collect();
                            if v.is_empty() { None } else { Some(mean_std(&v).0) }
                        };
                        match (crit(|c| c.critic_normal), crit(|c| c.critic_generated), crit(|c| c.critic_noise)) {
                            (Some(n), Some(g), Some(z)) => format!("{a:.3} ({n:.2} / {g:.2} / {z:.2})"),
                            _ => format!("{a:.3}"),
                        }
                    })
                    .collect();
                println!("| {c} | {m} | {} |", cells.join(" | "));
            }
        }
    }
    Ok(())
}

/// Write the runs so far to `out` (after every run, so that a later failure loses nothing
/// already measured, and once more at the end).
#[allow(clippy::too_many_arguments)]
fn save_partial(out: Option<&Path>, path: &Path, dataset: Option<&str>, backend: &str, seeds: &[u64], args: &TrainArgs, started: Instant, runs: &[Run]) -> Result<()> {
    if let Some(out) = out {
        let text = serde_json::to_string_pretty(&report_json(path, dataset, backend, seeds, args, started, runs))?;
        write_atomic(out, |w| Ok(std::io::Write::write_all(w, text.as_bytes())?))?;
    }
    Ok(())
}

/// The cells a worker process of a parent `eval` runs (`--cells`, hidden): indices into the
/// protocol's cells, contamination levels outer, seeds inner.
pub struct CellWorker {
    pub cells: Vec<usize>,
}

/// A worker's line on stdout: one finished run of cell `cell`, its floating-point numbers as
/// exact decimal strings ([`exact_floats`]).
#[derive(Serialize, Deserialize)]
struct CellLine {
    cell: usize,
    run: serde_json::Value,
}

/// Every float in `value` as a string `f64:<shortest decimal>`, which [`from_exact_floats`] reads
/// back to the same bits (serde_json's own parser, without its `float_roundtrip` feature, may
/// land one unit in the last place off, and the runs must be the numbers a single process gives).
fn exact_floats(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => Value::String(format!("f64:{}", n.as_f64().expect("is_f64"))),
        Value::Array(items) => Value::Array(items.into_iter().map(exact_floats).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, exact_floats(v))).collect()),
        other => other,
    }
}

/// The inverse of [`exact_floats`].
fn from_exact_floats(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => match s.strip_prefix("f64:").and_then(|d| d.parse::<f64>().ok()) {
            Some(x) => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
            None => Value::String(s),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(from_exact_floats).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, from_exact_floats(v))).collect()),
        other => other,
    }
}

/// What the readers of the workers' output tell the main thread.
enum CellMessage {
    Run(CellLine),
    /// A line the worker wrote on stderr.
    Said { worker: usize, line: String },
    /// A worker's stdout ended.
    Ended { worker: usize },
}

/// Run the protocol's `cells` in `workers` worker processes (this binary, the same command line
/// with `--cells` added), cell `i` on worker `i mod workers`, each worker's compute pool its share
/// of the cores. Every cell trains from its own seed, so the runs are the numbers the cells give one
/// after another in one process. `on_runs` hears the runs so far (in cell order) after each run;
/// returns them all in cell order. The first worker that fails stops the others.
fn run_cells_in_workers(
    cells: &[(f64, u64)],
    workers: usize,
    args: &TrainArgs,
    on_runs: &mut dyn FnMut(&[Run]) -> Result<()>,
) -> Result<Vec<Run>> {
    use std::io::{BufRead, BufReader};

    use crate::members::{comma_list, round_robin, spawn_self, stop_and_reap};

    let command_line: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let cell_threads = (crate::members::cores(args.threads) / workers).max(1);
    let assigned = round_robin(cells.len(), workers);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut children: Vec<std::process::Child> = Vec::new();
    for (w, list) in assigned.iter().enumerate() {
        let spawned = spawn_self("an eval worker", |c| {
            c.args(&command_line).arg("--cells").arg(comma_list(list)).arg("--cell-threads").arg(cell_threads.to_string());
        });
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                stop_and_reap(&mut children);
                return Err(e);
            }
        };
        let (stdout, stderr) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
        let said = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if said.send(CellMessage::Said { worker: w, line }).is_err() {
                    break;
                }
            }
        });
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(parsed) = serde_json::from_str::<CellLine>(&line)
                    && tx.send(CellMessage::Run(parsed)).is_err()
                {
                    break;
                }
            }
            let _ = tx.send(CellMessage::Ended { worker: w });
        });
        children.push(child);
    }
    drop(tx);

    let mut by_cell: Vec<Vec<Run>> = vec![Vec::new(); cells.len()];
    let mut errors: Vec<String> = vec![String::new(); workers];
    let mut failed: Option<(usize, Option<i32>)> = None;
    for message in rx {
        let handled: Result<()> = match message {
            CellMessage::Run(CellLine { cell, run }) if cell < cells.len() => {
                serde_json::from_value::<Run>(from_exact_floats(run)).context("an eval worker's run does not read back").and_then(|run| {
                    by_cell[cell].push(run);
                    let so_far: Vec<Run> = by_cell.iter().flatten().cloned().collect();
                    on_runs(&so_far)
                })
            }
            CellMessage::Run(_) => Ok(()),
            CellMessage::Said { worker, line } => {
                if let Some(error) = line.strip_prefix("error: ") {
                    errors[worker] = error.to_string();
                } else {
                    show_worker_line(&line, args);
                }
                Ok(())
            }
            CellMessage::Ended { worker } => {
                let status = children[worker].wait();
                let ok = matches!(&status, Ok(s) if s.success());
                if !ok && failed.is_none() {
                    failed = Some((worker, status.ok().and_then(|s| s.code())));
                    stop_and_reap(&mut children);
                }
                Ok(())
            }
        };
        if let Err(e) = handled {
            // Nothing outlives this process's error: the workers are stopped and reaped.
            stop_and_reap(&mut children);
            return Err(e);
        }
    }
    for c in &mut children {
        let _ = c.wait();
    }
    if let Some((worker, code)) = failed {
        let cell = assigned[worker].iter().copied().find(|&i| by_cell[i].is_empty()).unwrap_or(assigned[worker][0]);
        let (contamination, seed) = cells[cell];
        let why = if errors[worker].is_empty() { format!("its worker process ended ({code:?})") } else { errors[worker].clone() };
        let message = format!("eval failed (seed {seed}, contamination {contamination}): {why}");
        if code == Some(2) {
            return Err(crate::commands::UsageError(message).into());
        }
        return Err(anyhow::anyhow!(message));
    }
    Ok(by_cell.into_iter().flatten().collect())
}

/// A worker's stderr line, shown as this process would show it: its epochs (JSON lines, the
/// workers' log format) as JSON or as a text line now and then, anything else as it is.
fn show_worker_line(line: &str, args: &TrainArgs) {
    let Some(epoch) = line.starts_with('{').then(|| serde_json::from_str::<serde_json::Value>(line).ok()).flatten() else {
        eprintln!("{line}");
        return;
    };
    if args.quiet {
        return;
    }
    if args.log_format == LogFormat::Json {
        eprintln!("{line}");
        return;
    }
    let number = |key: &str| epoch.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
    let (e, n) = (number("epoch"), number("epochs"));
    if !(e == 1 || e == n || e % 25 == 0) {
        return;
    }
    let text = |key: &str| epoch.get(key).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let member = match (epoch.get("member").and_then(|v| v.as_u64()), epoch.get("members").and_then(|v| v.as_u64())) {
        (Some(m), Some(k)) => format!("member {}/{k} ", m + 1),
        _ => String::new(),
    };
    const SKIP: [&str; 7] = ["run", "phase", "epoch", "epochs", "member", "members", "elapsed_s"];
    let losses: Vec<String> = epoch
        .as_object()
        .map(|o| o.iter().filter(|(k, _)| !SKIP.contains(&k.as_str())).take(5).filter_map(|(k, v)| v.as_f64().map(|v| format!("{k} {v:.4}"))).collect())
        .unwrap_or_default();
    eprintln!("{} {member}{} {e}/{n} | {}", text("run"), text("phase"), losses.join(", "));
}
