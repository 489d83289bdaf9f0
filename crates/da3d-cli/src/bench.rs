//! `da3d bench`: seconds per epoch of each phase, steps per second and peak memory.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use da3d::config::ValidConfig;
use da3d::data::{self, ReadOptions};
use da3d::pipeline::{self, ConfigOverrides, Fit, FitData, FitRequest};
use da3d::synthetic::{SyntheticSpec, synthetic_csv};
use da3d::train::{Phase, matmul_flops_per_step};
use da3d::wait;

use crate::backend::{Backend, BackendChoice, select};
use crate::commands::{data_path, load_table, read_options};
use crate::args::{DataArgs, PresetArg};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// CSV to train on (default: the --dataset's file in $DA3D_DATA_DIR, else synthetic rows).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Synthetic rows (without --data and --dataset).
    #[arg(long, default_value_t = 10_000, value_parser = |s: &str| crate::args::parse_count(s, crate::args::MAX_SYNTH_ROWS))]
    pub rows: usize,
    /// Synthetic numeric columns (without --data and --dataset).
    #[arg(long, default_value_t = 6, value_parser = |s: &str| crate::args::parse_count(s, 100_000))]
    pub cols: usize,
    /// Backends to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "cpu,ndarray")]
    pub backends: Vec<BackendChoice>,
    /// Epochs measured per phase (after one warm-up epoch), 1 to 10000.
    #[arg(long, default_value_t = 3, value_parser = |s: &str| crate::args::parse_count(s, 10_000))]
    pub epochs: usize,
    #[arg(long, value_enum, default_value = "paper")]
    pub preset: PresetArg,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Time this many batches per phase (after 5 warm-up batches; on wgpu, after a whole epoch, so
    /// that the last batch's kernels are compiled) instead of whole epochs, and report seconds per
    /// epoch as batches per epoch × seconds per batch: for data sets whose epochs take minutes
    /// (10⁶ rows, Census).
    #[arg(long, value_name = "N", value_parser = |s: &str| crate::args::parse_count(s, 1_000_000))]
    pub steps: Option<usize>,
    /// Warm-up batches before the timed ones in `--steps` mode, instead of 5 (a whole epoch on
    /// wgpu): for counting kernel launches (`scripts/gpu-launches.sh`), which compiling does not
    /// change, on a software GPU that takes seconds a step.
    #[arg(long, value_name = "N", requires = "steps", value_parser = |s: &str| crate::args::parse_count(s, 1_000_000))]
    pub warmup: Option<usize>,
    /// Threads for the CPU backend's large matrix products, 1 to 1024 [default: every core].
    #[arg(long, value_name = "N", value_parser = |s: &str| crate::args::parse_count(s, 1024))]
    pub threads: Option<usize>,
    /// Also time the CPU backend's matrix product alone on the alarm's layer shapes and on a
    /// 1024³ square (GFLOP/s: the ceiling a step's achieved rate is set against).
    #[arg(long)]
    pub gemm: bool,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Warm-up batches before timing in `--steps` mode.
const WARMUP_STEPS: usize = 5;

/// Seconds per batch of each phase, timed over `steps` batches after a warm-up: the AAE phase on
/// a fresh fit, the detector phases on fits that start from its AAE. With `warm_whole_epoch` (GPU
/// backends) the warm-up runs to the end of the first epoch: a GPU compiles its kernels per shape,
/// and an epoch's last, smaller batch compiles a set of its own, which inside the timed batches
/// cost an NVIDIA H200 2/3 of the AAE phase's measured speed (docs/performance.md, "GPU").
fn seconds_per_step(bench: &Bench, backend: &Backend, steps: usize, warmup: Option<usize>) -> Result<Vec<(Phase, f64)>> {
    let batches_per_epoch = bench.data.train.rows.div_ceil(bench.config([None; 3])?.schedule.batch_size);
    let warmup = warmup.unwrap_or(if backend.gpu { WARMUP_STEPS.max(batches_per_epoch) } else { WARMUP_STEPS });
    let time = |fit: &mut Fit| -> Result<f64> {
        let run = |n: usize, fit: &mut Fit| -> Result<()> {
            for _ in 0..n {
                if let da3d::train::Step::EpochEnd = fit.trainer().step_batch()? {
                    wait(fit.trainer().finish_epoch())?;
                }
            }
            backend.device.sync().map_err(|e| anyhow::anyhow!("device: {e:?}"))?;
            Ok(())
        };
        run(warmup, fit)?;
        let start = Instant::now();
        run(steps, fit)?;
        Ok(start.elapsed().as_secs_f64() / steps as f64)
    };
    let epochs_needed = (warmup + steps).div_ceil(batches_per_epoch.max(1)) + 1;
    let mut aae_fit = bench.fit(backend, [Some(epochs_needed), None, None], None)?;
    let aae_step = time(&mut aae_fit)?;
    let aae = aae_fit.trainer().aae();
    let mut out = vec![(Phase::Aae, aae_step)];
    if bench.config([None; 3])?.schedule.pretrain_epochs > 0 {
        let mut fit = bench.fit(backend, [None, Some(epochs_needed), None], Some(aae.clone()))?;
        out.push((Phase::Pretrain, time(&mut fit)?));
    }
    let mut fit = bench.fit(backend, [None, Some(0), Some(epochs_needed)], Some(aae))?;
    out.push((Phase::Da3d, time(&mut fit)?));
    Ok(out)
}

/// What a benchmark trains on, and how.
struct Bench {
    data: FitData,
    read: ReadOptions,
    request: FitRequest,
}

impl Bench {
    /// The request, with the epochs (AAE, pretraining, DA³D) that `epochs` gives.
    fn request(&self, epochs: [Option<usize>; 3]) -> FitRequest {
        let mut request = self.request.clone();
        let o = &mut request.overrides;
        for (slot, value) in [&mut o.aae_epochs, &mut o.pretrain_epochs, &mut o.da3d_epochs].into_iter().zip(epochs) {
            if value.is_some() {
                *slot = value;
            }
        }
        request
    }

    /// The preset's config for the data, with the epochs `epochs` gives.
    fn config(&self, epochs: [Option<usize>; 3]) -> Result<ValidConfig> {
        Ok(self.request(epochs).config(&self.data)?.training().clone())
    }

    /// A fit of the data on `backend` (`epochs` as in [`config`](Self::config)), its detector
    /// phases from `aae` when given.
    fn fit(&self, backend: &Backend, epochs: [Option<usize>; 3], aae: Option<da3d::model::Aae>) -> Result<Fit> {
        let config = self.request(epochs).config(&self.data)?;
        let data = self.data.clone();
        Ok(match aae {
            Some(aae) => Fit::after_aae(data, config, &self.read, &backend.device, &backend.name, aae)?,
            None => Fit::start(data, config, &self.read, &backend.device, &backend.name)?,
        })
    }
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let file = match (&args.data, &args.data_args.dataset) {
        (None, None) => None,
        (data, _) => Some(data_path(data.clone(), &args.data_args)?),
    };
    let (table, read, source) = match &file {
        Some(path) => {
            let read = read_options(&args.data_args)?;
            (load_table(path, &read, true)?, read, path.display().to_string())
        }
        None => {
            let csv = synthetic_csv(&SyntheticSpec { rows: args.rows, numeric: args.cols, categorical: false, anomaly_rate: 0.0, seed: 0 });
            let read = ReadOptions::default();
            (data::read_table_bytes(csv.as_bytes(), &read)?, read, format!("synthetic {}x{}", args.rows, args.cols))
        }
    };
    let data = pipeline::prepare_fit(&table, 0.0, 0, da3d::data::Protocol::Paper).with_context(|| source.clone())?;
    let mut overrides = ConfigOverrides::new(args.preset.into());
    overrides.seed = Some(0);
    overrides.aae_epochs = Some(args.epochs + 1);
    overrides.pretrain_epochs = Some(args.epochs + 1);
    overrides.da3d_epochs = Some(args.epochs + 1);
    overrides.batch_size = args.batch_size;
    let request = FitRequest { dataset: args.data_args.dataset.clone(), ..FitRequest::new(overrides) };
    let bench = Bench { data, read, request };
    let x = &bench.data.train;
    let cfg = bench.config([None; 3])?;
    let batches = x.rows.div_ceil(cfg.schedule.batch_size);
    let mut results = Vec::new();
    for &b in &args.backends {
        let backend = select(b)?;
        if let Some(steps) = args.steps {
            for (phase, per_step) in seconds_per_step(&bench, &backend, steps.max(1), args.warmup)? {
                results.push(result_row(&backend.name, phase, per_step, batches, &cfg, x, format!("{steps} batches")));
            }
            continue;
        }
        let mut fit = bench.fit(&backend, [None; 3], None)?;
        let mut per_phase: Vec<(Phase, f64)> = Vec::new();
        loop {
            if fit.trainer().phase() == Phase::Done {
                break;
            }
            let t = Instant::now();
            let r = wait(fit.trainer().step_epoch())?;
            let secs = t.elapsed().as_secs_f64();
            if let Some(r) = r
                && r.epoch > 1
            {
                per_phase.push((r.phase, secs));
            }
        }
        for phase in [Phase::Aae, Phase::Pretrain, Phase::Da3d] {
            let v: Vec<f64> = per_phase.iter().filter(|(p, _)| *p == phase).map(|(_, s)| *s).collect();
            if v.is_empty() {
                continue;
            }
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            results.push(result_row(&backend.name, phase, mean / batches as f64, batches, &cfg, x, format!("{} epochs", v.len())));
        }
    }
    let gemm = if args.gemm { gemm_ceiling(&cfg, x.cols) } else { Vec::new() };
    let peak = peak_rss_mib();
    if args.json {
        let mut out = serde_json::json!({"data": source, "results": results, "peak_rss_mib": peak});
        if args.gemm {
            out["gemm"] = serde_json::json!(gemm);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("data: {source} ({} training rows, {} inputs)", x.rows, x.cols);
    println!("| backend | phase | s/epoch | steps/s | batch | matmul GFLOP/s |");
    println!("|---|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {} | {:.3} | {:.1} | {} | {:.1} |",
            r["backend"].as_str().unwrap_or(""),
            r["phase"].as_str().unwrap_or(""),
            r["seconds_per_epoch"].as_f64().unwrap_or(f64::NAN),
            r["steps_per_second"].as_f64().unwrap_or(f64::NAN),
            r["batch_size"],
            r["matmul_gflops"].as_f64().unwrap_or(f64::NAN),
        );
    }
    if !gemm.is_empty() {
        println!("matrix product alone (cpu, {} threads):", rayon::current_num_threads());
        println!("| rows × in → out | GFLOP/s |");
        println!("|---|---|");
        for g in &gemm {
            println!("| {} × {} → {} | {:.1} |", g["m"], g["k"], g["n"], g["gflops"].as_f64().unwrap_or(f64::NAN));
        }
    }
    if let Some(p) = peak {
        println!("peak memory (whole process): {p:.0} MiB");
    }
    Ok(())
}

/// One result: a phase's seconds per step on a backend, as seconds per epoch (`batches` steps),
/// steps per second and achieved matrix-product GFLOP/s.
fn result_row(
    backend: &str,
    phase: Phase,
    per_step: f64,
    batches: usize,
    cfg: &da3d::config::TrainingConfig,
    x: &data::Matrix,
    timed: String,
) -> serde_json::Value {
    serde_json::json!({
        "backend": backend, "phase": phase.name(), "seconds_per_epoch": per_step * batches as f64,
        "steps_per_second": 1.0 / per_step, "batch_size": cfg.schedule.batch_size, "rows": x.rows, "inputs": x.cols,
        "threads": rayon::current_num_threads(),
        "matmul_gflops": matmul_flops_per_step(cfg, x.cols, phase) / per_step / 1e9,
        "timed": timed,
    })
}

/// GFLOP/s of the CPU backend's matrix product alone, `[m, k] · [k, n]`, timed over enough
/// repetitions for ~0.3 s after one warm-up product.
fn gemm_gflops(device: &burn::tensor::Device, m: usize, k: usize, n: usize) -> f64 {
    use burn::tensor::{Distribution, Tensor};
    let a = Tensor::<2>::random([m, k], Distribution::Default, device);
    let b = Tensor::<2>::random([k, n], Distribution::Default, device);
    let flops = 2.0 * m as f64 * k as f64 * n as f64;
    let _ = a.clone().matmul(b.clone()).into_data();
    let reps = ((0.3e9 * 30.0 / flops) as usize).clamp(3, 10_000);
    let start = Instant::now();
    for _ in 0..reps {
        let _ = a.clone().matmul(b.clone()).into_data();
    }
    flops * reps as f64 / start.elapsed().as_secs_f64() / 1e9
}

/// The matrix product's own speed on the shapes of the alarm's layers (on the 2·batch rows of a
/// pretraining step) and on a 1024³ square, on the CPU backend.
fn gemm_ceiling(cfg: &da3d::config::TrainingConfig, d_input: usize) -> Vec<serde_json::Value> {
    let alarm = cfg.networks(d_input).layer_widths().alarm;
    let rows = 2 * cfg.schedule.batch_size;
    let device = burn::tensor::Device::flex();
    // the alarm's hidden layers (its last, to one logit, is not a product worth timing)
    let mut shapes: Vec<(usize, usize, usize)> = alarm[..alarm.len() - 1].windows(2).map(|w| (rows, w[0], w[1])).collect();
    shapes.push((1024, 1024, 1024));
    shapes
        .into_iter()
        .map(|(m, k, n)| serde_json::json!({"m": m, "k": k, "n": n, "gflops": gemm_gflops(&device, m, k, n), "threads": rayon::current_num_threads()}))
        .collect()
}
