//! `da3d bench`: seconds per epoch of each phase, steps per second and peak memory.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use da3d::config::DataShape;
use da3d::data::{self, ReadOptions};
use da3d::pipeline::{self, ConfigOverrides};
use da3d::synthetic::{SyntheticSpec, synthetic_csv};
use da3d::train::{Phase, Trainer, matmul_flops_per_step};

use crate::backend::{BackendChoice, select};
use crate::commands::{build_config, data_path, load_table, read_options};
use crate::{DataArgs, PresetArg};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// CSV to train on (default: the --dataset's file in $DA3D_DATA_DIR, else synthetic rows).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Synthetic rows (without --data and --dataset).
    #[arg(long, default_value_t = 10_000, value_parser = |s: &str| crate::parse_count(s, crate::MAX_SYNTH_ROWS))]
    pub rows: usize,
    /// Synthetic numeric columns (without --data and --dataset).
    #[arg(long, default_value_t = 6, value_parser = |s: &str| crate::parse_count(s, 100_000))]
    pub cols: usize,
    /// Backends to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "cpu,ndarray")]
    pub backends: Vec<BackendChoice>,
    /// Epochs measured per phase (after one warm-up epoch), 1 to 10000.
    #[arg(long, default_value_t = 3, value_parser = |s: &str| crate::parse_count(s, 10_000))]
    pub epochs: usize,
    #[arg(long, value_enum, default_value = "paper")]
    pub preset: PresetArg,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Time this many batches per phase (after 5 warm-up batches; on wgpu, after a whole epoch, so
    /// that the last batch's kernels are compiled) instead of whole epochs, and report seconds per
    /// epoch as batches per epoch × seconds per batch: for data sets whose epochs take minutes
    /// (10⁶ rows, Census).
    #[arg(long, value_name = "N", value_parser = |s: &str| crate::parse_count(s, 1_000_000))]
    pub steps: Option<usize>,
    /// Threads for the CPU backend's large matrix products, 1 to 1024 [default: every core].
    #[arg(long, value_name = "N", value_parser = |s: &str| crate::parse_count(s, 1024))]
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
/// a fresh trainer, the detector phases on trainers that start from its AAE. With
/// `warm_whole_epoch` (GPU backends) the warm-up runs to the end of the first epoch: a GPU
/// compiles its kernels per shape, and an epoch's last, smaller batch compiles a set of its own,
/// which inside the timed batches cost an NVIDIA H200 2/3 of the AAE phase's measured speed
/// (docs/performance.md, "GPU").
fn seconds_per_step(
    cfg: &da3d::config::TrainingConfig,
    x: &data::Matrix,
    batches_per_epoch: usize,
    device: &burn::tensor::Device,
    steps: usize,
    warm_whole_epoch: bool,
) -> Result<Vec<(Phase, f64)>> {
    let warmup = if warm_whole_epoch { WARMUP_STEPS.max(batches_per_epoch) } else { WARMUP_STEPS };
    let time = |t: &mut Trainer| -> Result<f64> {
        let run = |n: usize, t: &mut Trainer| -> Result<()> {
            for _ in 0..n {
                if let da3d::train::Step::EpochEnd = t.step_batch()? {
                    t.finish_epoch()?;
                }
            }
            device.sync().map_err(|e| anyhow::anyhow!("device: {e:?}"))?;
            Ok(())
        };
        run(warmup, t)?;
        let start = Instant::now();
        run(steps, t)?;
        Ok(start.elapsed().as_secs_f64() / steps as f64)
    };
    let epochs_needed = (warmup + steps).div_ceil(batches_per_epoch.max(1)) + 1;
    let mut c = cfg.clone();
    c.schedule.aae_epochs = epochs_needed;
    let mut aae_trainer = Trainer::new(c, x.clone(), device)?;
    let aae_step = time(&mut aae_trainer)?;
    let aae = aae_trainer.aae();
    let mut out = vec![(Phase::Aae, aae_step)];
    let mut c = cfg.clone();
    c.schedule.pretrain_epochs = epochs_needed;
    if cfg.schedule.pretrain_epochs > 0 {
        let mut t = Trainer::from_trained_aae(c.clone(), x.clone(), device, aae.clone())?;
        out.push((Phase::Pretrain, time(&mut t)?));
    }
    c.schedule.pretrain_epochs = 0;
    c.schedule.da3d_epochs = epochs_needed;
    let mut t = Trainer::from_trained_aae(c, x.clone(), device, aae)?;
    out.push((Phase::Da3d, time(&mut t)?));
    Ok(out)
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
    let (x, shape, source) = match &file {
        Some(path) => {
            let opts = read_options(&args.data_args)?;
            let table = load_table(path, &opts)?;
            let data = pipeline::prepare_fit(&table, &opts, 0.0, 0).with_context(|| format!("{}", path.display()))?;
            let shape = data.shape();
            (data.train, shape, path.display().to_string())
        }
        None => {
            let csv = synthetic_csv(&SyntheticSpec { rows: args.rows, numeric: args.cols, categorical: false, anomaly_rate: 0.0, seed: 0 });
            let table = data::read_table_bytes(csv.as_bytes(), &ReadOptions::default())?;
            let x = data::prepare_all_rows(&table, None)?.1;
            let shape = DataShape::numeric(x.cols, x.rows);
            (x, shape, format!("synthetic {}x{}", args.rows, args.cols))
        }
    };
    let mut results = Vec::new();
    for &b in &args.backends {
        let backend = select(b)?;
        let cfg = bench_config(args, shape)?;
        let batch = cfg.schedule.batch_size;
        let batches = x.rows.div_ceil(batch);
        if let Some(steps) = args.steps {
            for (phase, per_step) in seconds_per_step(&cfg, &x, batches, &backend.device, steps.max(1), backend.gpu)? {
                results.push(result_row(&backend.name, phase, per_step, batches, &cfg, &x, format!("{steps} batches")));
            }
            continue;
        }
        let mut trainer = Trainer::new(cfg.clone(), x.clone(), &backend.device)?;
        let mut per_phase: Vec<(Phase, f64)> = Vec::new();
        loop {
            let phase = trainer.phase();
            if phase == Phase::Done {
                break;
            }
            let t = Instant::now();
            let r = trainer.step_epoch()?;
            let secs = t.elapsed().as_secs_f64();
            if let Some(r) = r {
                if r.epoch > 1 {
                    per_phase.push((r.phase, secs));
                }
            }
        }
        for phase in [Phase::Aae, Phase::Pretrain, Phase::Da3d] {
            let v: Vec<f64> = per_phase.iter().filter(|(p, _)| *p == phase).map(|(_, s)| *s).collect();
            if v.is_empty() {
                continue;
            }
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            results.push(result_row(&backend.name, phase, mean / batches as f64, batches, &cfg, &x, format!("{} epochs", v.len())));
        }
    }
    let gemm = if args.gemm { gemm_ceiling(&bench_config(args, shape)?, x.cols) } else { Vec::new() };
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

/// The preset's configuration for `x`, with `--epochs` + 1 (the warm-up) in every phase.
fn bench_config(args: &BenchArgs, shape: DataShape) -> Result<da3d::config::TrainingConfig> {
    let mut overrides = ConfigOverrides::new(args.preset.into());
    overrides.seed = Some(0);
    overrides.aae_epochs = Some(args.epochs + 1);
    overrides.pretrain_epochs = Some(args.epochs + 1);
    overrides.da3d_epochs = Some(args.epochs + 1);
    overrides.batch_size = args.batch_size;
    build_config(&overrides, None, shape, args.data_args.dataset.as_deref())
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
