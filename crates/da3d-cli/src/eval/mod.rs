//! `da3d eval`: the paper's protocol over seeds, contamination levels and methods, every run a
//! fit of the pipeline (`da3d::pipeline`); the cells (contamination level × seed) side by side in
//! worker processes on the CPU (`workers`), each worker the same command line with the hidden
//! `--cells`, its runs the numbers one process gives.

mod report;

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use da3d::config::{Method, ThresholdRate};
use da3d::data::{ReadOptions, Table};
use da3d::pipeline::{ConfigOverrides, Fit, FitData, FitRequest, FitRows};
use da3d::train::{Observer, Phase};
use da3d::{Preset, ScoreKind, wait};
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, select};
use crate::commands::{config_overrides, load_table, read_options};
use crate::cleanup;
use crate::progress::{Output, Reporter};
use crate::state::{self, StateDir};
use crate::workers::{self, comma_list, round_robin};
use crate::args::{DataArgs, PresetArg, TrainArgs};
use report::{Checkpoint, Run, exact_floats, from_exact_floats, print_report, report_json, save_partial, show_worker_line};

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

    /// The ensemble presets, trained and scored as `train` does them.
    fn ensemble_preset(self) -> Option<Preset> {
        match self {
            EvalMethod::Robust => Some(Preset::Robust),
            EvalMethod::Quick => Some(Preset::Quick),
            _ => None,
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

/// What `eval` was asked for.
pub struct EvalArgs<'a> {
    pub path: &'a Path,
    pub data_args: &'a DataArgs,
    pub train: &'a TrainArgs,
    pub output: Output,
    pub seeds: &'a [u64],
    pub contaminations: &'a [f64],
    pub methods: &'a [EvalMethod],
    pub checkpoints: &'a [usize],
    pub json: bool,
    pub out: Option<&'a Path>,
    /// Run only these cells (contamination levels outer, seeds inner) as a worker of a parent
    /// `eval`, each run as a JSON line on stdout.
    pub cells: Option<Vec<usize>>,
    /// How long a worker may say nothing.
    pub silence: Duration,
}

/// A worker's line on stdout: one finished run of cell `cell`, its floating-point numbers as
/// exact decimal strings ([`exact_floats`]).
#[derive(Serialize, Deserialize)]
struct CellLine {
    cell: usize,
    run: serde_json::Value,
}

/// What every run of one `eval` shares: the table, how it was read, the config's source, the
/// device.
struct Cells<'a> {
    table: Table,
    read: ReadOptions,
    base: ConfigOverrides,
    dataset: Option<&'a str>,
    backend: Backend,
    args: &'a EvalArgs<'a>,
    /// The run's state folder (`--state-dir`).
    state: Option<StateDir>,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let method_names: Vec<String> = args.methods.iter().map(|m| m.name().to_string()).collect();
    // Read once; a usage error in the config (or its file) stops here, before any worker starts.
    let base = config_overrides(args.train, PresetArg::Paper, None, None)?;
    let read = read_options(args.data_args)?;
    let worker = args.cells.is_some();
    let table = load_table(args.path, &read, !worker)?;
    let backend = select(args.train.backend)?;
    if !worker {
        eprintln!("backend: {}", backend.name);
    }
    let started = Instant::now();
    let cells: Vec<(f64, u64)> = args.contaminations.iter().flat_map(|&c| args.seeds.iter().map(move |&s| (c, s))).collect();
    let on_cpu = backend.device == burn::tensor::Device::flex();
    let processes = crate::members::cores(args.train.threads).min(cells.len());
    let state = args.train.state()?;
    state::check_backend(state.as_ref(), on_cpu)?;
    let _saving = state.as_ref().map(|_| cleanup::saves_on_stop());
    let context = Cells { table, read, base, dataset: args.data_args.dataset.as_deref(), backend, args, state: state.clone() };
    let dataset = context.dataset;
    let backend_name = context.backend.name.clone();
    let save = |runs: &[Run]| save_partial(args.out, args.path, dataset, &backend_name, args.seeds, args.train, started, runs);
    let runs = if let Some(mine) = &args.cells {
        // A worker of a parent `eval`: its cells, each run as a JSON line on stdout
        // (`DA3D_TEST_EVAL_SILENT_WORKER`: none, for the test of an incomplete worker).
        if std::env::var_os("DA3D_TEST_EVAL_SILENT_WORKER").is_some() {
            return Ok(());
        }
        for &index in mine {
            let &(contamination, seed) = cells.get(index).with_context(|| format!("cell {index} of {}", cells.len()))?;
            context.run_cell(contamination, seed, &mut |run| {
                println!("{}", serde_json::to_string(&CellLine { cell: index, run: exact_floats(serde_json::to_value(run)?) })?);
                Ok(())
            })?;
        }
        return Ok(());
    } else if on_cpu && processes > 1 {
        eprintln!("eval: {} runs of the protocol (seeds × contamination levels) in {processes} worker processes", cells.len());
        let runs = run_cells_in_workers(&cells, processes, args, &mut |runs| save(runs));
        if let (Some(signal), Some(s)) = (cleanup::stop_requested(), &state) {
            eprintln!("the runs' training states are in {}: run the same command again to go on", s.dir.display());
            cleanup::exit_stopped(signal);
        }
        runs?
    } else {
        let mut runs = Vec::new();
        for &(contamination, seed) in &cells {
            context.run_cell(contamination, seed, &mut |run| {
                runs.push(run.clone());
                save(&runs)
            })?;
        }
        runs
    };
    save(&runs)?;
    let report = report_json(args.path, dataset, &backend_name, args.seeds, args.train, started, &runs);
    print_report(&report, dataset, &runs, args.contaminations, &method_names, args.json)?;
    if let Some(s) = &state {
        s.remove_own();
    }
    eprintln!("eval took {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs a cell gives: one per method.
fn runs_per_cell(methods: &[EvalMethod]) -> usize {
    methods.len()
}

impl Cells<'_> {
    /// A fit request of the protocol: `preset`'s config, the seed and the contamination of the cell.
    fn request(&self, preset: Option<Preset>, seed: u64, contamination: f64) -> FitRequest {
        let mut overrides = self.base.clone();
        if let Some(p) = preset {
            overrides.preset = p;
        }
        overrides.seed = Some(seed);
        FitRequest {
            overrides,
            dataset: self.dataset.map(str::to_string),
            contamination,
            protocol: self.args.data_args.protocol.into(),
            threshold_rate: ThresholdRate::DEFAULT,
            member: None,
        }
    }

    fn reporter(&self, label: String) -> Reporter {
        Reporter::new(self.args.output, label)
    }

    /// One cell of the protocol (a contamination level and a seed): every method's run on its
    /// split, each handed to `on_run` as it finishes.
    fn run_cell(&self, contamination: f64, seed: u64, on_run: &mut dyn FnMut(&Run) -> Result<()>) -> Result<()> {
        let (data, _) = self.request(None, seed, contamination).prepare(&self.table).with_context(|| format!("{}", self.args.path.display()))?;
        let Some(summary) = data.summary.clone().filter(|_| data.rows == FitRows::Protocol) else {
            bail!("{}: eval needs a label column with both normal (0) and anomalous (1) rows", self.args.path.display());
        };
        eprintln!(
            "seed {seed}, contamination {contamination}: train {} rows ({} contamination), test {} rows ({} anomalies)",
            summary.train_rows, summary.train_contamination, summary.test_rows, summary.test_anomalies
        );
        for method in self.args.methods {
            if let Some(preset) = method.ensemble_preset() {
                let run = self.ensemble_run(&data, seed, contamination, preset)?;
                eprintln!("  {}: test AUC {:.4}, AP {:.4} ({:.0} s)", run.method, run.test_roc_auc, run.test_average_precision, run.seconds);
                on_run(&run)?;
            }
        }
        for reference in [false, true] {
            let group: Vec<EvalMethod> = self
                .args
                .methods
                .iter()
                .copied()
                .filter(|&m| m.ensemble_preset().is_none() && (m == EvalMethod::Da3dReference) == reference)
                .collect();
            if !group.is_empty() {
                self.paper_group(&data, seed, contamination, reference, &group, on_run)?;
            }
        }
        Ok(())
    }

    /// The methods of one preset (`paper`, or `reference`) on one split: one AAE, shared; each
    /// method's detector phases from it; the AUC after the `--checkpoints` DA³D epochs.
    fn paper_group(
        &self,
        data: &FitData,
        seed: u64,
        contamination: f64,
        reference: bool,
        group: &[EvalMethod],
        on_run: &mut dyn FnMut(&Run) -> Result<()>,
    ) -> Result<()> {
        let preset = if reference { Preset::Reference } else { self.base.preset };
        let mut request = self.request(Some(preset), seed, contamination);
        // The methods of a preset share one AAE: one member each, scored by its alarm.
        request.overrides.ensemble = Some(da3d::config::Ensemble::default());
        request.overrides.members = None;
        let config = request.config(data)?;
        let sched = &config.training().schedule;
        let (epochs, batch_size) = ([sched.aae_epochs, sched.pretrain_epochs, sched.da3d_epochs], sched.batch_size);
        let t0 = Instant::now();
        let device = &self.backend.device;
        let mut aae_fit = Fit::start(data.clone(), config, &self.read, device, &self.backend.name)?;
        let run_name = |stage: &str| format!("{}-s{seed}-c{contamination}-{stage}", preset.name());
        let mut file = self.state.as_ref().map(|s| s.file(&run_name("aae")));
        if let Some(f) = &file {
            state::resume_fit(&mut aae_fit, f)?;
        }
        let mut rep = self.reporter(format!("{}/aae s{seed} c{contamination}", preset.name()));
        while aae_fit.trainer().phase() == Phase::Aae {
            let r = wait(aae_fit.trainer().step_epoch())?.expect("AAE epochs remain");
            rep.on_epoch(&r, &aae_fit.trainer().progress());
            state::after_epoch(file.as_mut(), aae_fit.trainer(), &|| serde_json::Value::Null)?;
        }
        if let Some(f) = file.as_mut() {
            f.save(aae_fit.trainer(), serde_json::Value::Null)?;
        }
        let aae_seconds = t0.elapsed().as_secs_f64();
        let aae = aae_fit.trainer().aae();
        let code_stats = da3d::detector::CodeStats::of(&wait(aae_fit.trainer().detector().codes(&data.train))?);
        eprintln!("  codes: mean {:?} std {:?}", code_stats.mean, code_stats.std);
        for &eval_method in group {
            let name = eval_method.name().to_string();
            let t1 = Instant::now();
            let run = |evaluation: da3d::pipeline::Evaluation, checkpoints: Vec<Checkpoint>, seconds: f64| Run {
                method: name.clone(),
                seed,
                contamination,
                test_roc_auc: evaluation.test.0,
                test_average_precision: evaluation.test.1,
                validation_roc_auc: evaluation.validation_roc_auc,
                checkpoints,
                code_stats: code_stats.clone(),
                epochs,
                batch_size,
                seconds,
            };
            let missing = || anyhow!("the held-out rows lack a class");
            let Some(trainer_method) = eval_method.method() else {
                let evaluation = wait(aae_fit.evaluate(ScoreKind::Reconstruction))?.ok_or_else(missing)?;
                eprintln!("  {name}: test AUC {:.4}", evaluation.test.0);
                on_run(&run(evaluation, Vec::new(), aae_seconds))?;
                continue;
            };
            request.overrides.method = Some(trainer_method);
            let config = request.config(data)?;
            let mut fit = Fit::after_aae(data.clone(), config, &self.read, device, &self.backend.name, aae.clone())?;
            let mut file = self.state.as_ref().map(|s| s.file(&run_name(&name)));
            // The held-out curve so far is kept with the state.
            let mut checkpoints: Vec<Checkpoint> = match &file {
                Some(f) => serde_json::from_value(state::resume_fit(&mut fit, f)?).unwrap_or_default(),
                None => Vec::new(),
            };
            for c in &checkpoints {
                eprintln!("  {name} s{seed} c{contamination}: DA³D epoch {}: test AUC {:.4} (before the resume)", c.da3d_epoch, c.test_roc_auc);
            }
            let mut rep = self.reporter(format!("{name} s{seed} c{contamination}"));
            while let Some(r) = wait(fit.trainer().step_epoch())? {
                rep.on_epoch(&r, &fit.trainer().progress());
                if r.phase == Phase::Da3d && self.args.checkpoints.contains(&r.epoch) {
                    let evaluation = wait(fit.evaluate(ScoreKind::Alarm))?.ok_or_else(missing)?;
                    eprintln!("  {name} s{seed} c{contamination}: DA³D epoch {}: test AUC {:.4}", r.epoch, evaluation.test.0);
                    checkpoints.push(Checkpoint {
                        da3d_epoch: r.epoch,
                        test_roc_auc: evaluation.test.0,
                        critic_normal: r.get("critic_normal"),
                        critic_generated: r.get("critic_generated"),
                        critic_noise: r.get("critic_noise"),
                    });
                }
                let curve = serde_json::to_value(&checkpoints)?;
                state::after_epoch(file.as_mut(), fit.trainer(), &|| curve.clone())?;
            }
            if let Some(f) = file.as_mut() {
                f.save(fit.trainer(), serde_json::to_value(&checkpoints)?)?;
            }
            let evaluation = wait(fit.evaluate(ScoreKind::Alarm))?.ok_or_else(missing)?;
            let seconds = t1.elapsed().as_secs_f64() + aae_seconds;
            eprintln!("  {name}: test AUC {:.4}, AP {:.4} ({seconds:.0} s)", evaluation.test.0, evaluation.test.1);
            on_run(&run(evaluation, checkpoints, seconds))?;
        }
        Ok(())
    }

    /// One run of an ensemble preset (`robust`, `quick`): the fit pipeline as `train` runs it, on
    /// the split `data`.
    fn ensemble_run(&self, data: &FitData, seed: u64, contamination: f64, preset: Preset) -> Result<Run> {
        let config = self.request(Some(preset), seed, contamination).config(data)?;
        let sched = &config.training().schedule;
        let (epochs, batch_size) = ([sched.aae_epochs, sched.pretrain_epochs, sched.da3d_epochs], sched.batch_size);
        let t0 = Instant::now();
        let threads = crate::members::threads_for(self.args.train.threads, config.training().ensemble.members);
        let fit = Fit::start(data.clone(), config, &ReadOptions::default(), &self.backend.device, &self.backend.name)?;
        let mut rep = self.reporter(format!("{} s{seed} c{contamination}", preset.name()));
        let on_cpu = self.backend.device == burn::tensor::Device::flex();
        let state = match &self.state {
            Some(s) => Some(s.subdir(&format!("{}-s{seed}-c{contamination}", preset.name()))?),
            None => None,
        };
        let outcome = crate::members::train_and_finish(fit, threads, on_cpu, self.args.silence, &mut rep, state.as_ref())?;
        let metrics = outcome.model.header.metrics.clone().ok_or_else(|| anyhow!("the test rows lack a class"))?;
        let validation = outcome.data.validation.as_ref().expect("the protocol holds validation rows");
        let v = wait(outcome.model.detector().score(&validation.x, ScoreKind::Model))?;
        Ok(Run {
            method: preset.name().into(),
            seed,
            contamination,
            test_roc_auc: metrics.roc_auc,
            test_average_precision: metrics.average_precision,
            validation_roc_auc: da3d::metrics::roc_auc(&v, &validation.labels).ok(),
            checkpoints: vec![],
            code_stats: outcome.model.header.code_stats.clone().unwrap_or(da3d::detector::CodeStats { mean: vec![], std: vec![] }),
            epochs,
            batch_size,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }
}

/// Run the protocol's `cells` in `processes` worker processes (this binary, the same command
/// line with `--cells` added), cell `i` on worker `i mod processes`, each worker's compute pool its
/// share of the cores. Every cell trains from its own seed, so the runs are the numbers the cells
/// give one after another in one process. `on_runs` hears the runs so far (in cell order) after
/// each run; returns them all in cell order. A worker that fails, or ends without every run of
/// its cells, fails the whole `eval`, naming the cell.
fn run_cells_in_workers(cells: &[(f64, u64)], processes: usize, args: &EvalArgs, on_runs: &mut dyn FnMut(&[Run]) -> Result<()>) -> Result<Vec<Run>> {
    let command_line: Vec<OsString> = std::env::args_os().skip(1).collect();
    let cell_threads = (crate::members::cores(args.train.threads) / processes).max(1);
    let assigned = round_robin(cells.len(), processes);
    let arguments = assigned
        .iter()
        .map(|list| {
            let mut a = command_line.clone();
            a.extend(["--cells".into(), comma_list(list).into(), "--cell-threads".into(), cell_threads.to_string().into()]);
            a
        })
        .collect();
    let mut by_cell: Vec<Vec<Run>> = vec![Vec::new(); cells.len()];
    let output = args.output;
    let ended = workers::run(
        "eval worker",
        arguments,
        args.silence,
        |_, line: CellLine| {
            let Some(slot) = by_cell.get_mut(line.cell) else { bail!("an eval worker reported cell {} of {}", line.cell, cells.len()) };
            let run: Run = serde_json::from_value(from_exact_floats(line.run)).context("an eval worker's run does not read back")?;
            slot.push(run);
            let so_far: Vec<Run> = by_cell.iter().flatten().cloned().collect();
            on_runs(&so_far)
        },
        |_, line| show_worker_line(line, output),
    )?;
    let want = runs_per_cell(args.methods);
    for (w, end) in ended.iter().enumerate() {
        if let Some(&cell) = assigned[w].iter().find(|&&i| by_cell[i].len() < want) {
            let (contamination, seed) = cells[cell];
            let why = if end.status.success() { "its worker process ended without reporting every run".to_string() } else { end.why() };
            let message = format!("eval failed (seed {seed}, contamination {contamination}): {why}");
            if end.status.code() == Some(2) {
                return Err(crate::commands::UsageError(message).into());
            }
            bail!(message);
        }
    }
    Ok(by_cell.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_gives_one_run_per_method() {
        assert_eq!(runs_per_cell(&default_methods(None)), 5);
        assert_eq!(runs_per_cell(&[EvalMethod::Robust]), 1);
    }
}
