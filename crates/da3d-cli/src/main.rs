//! `da3d`: train, score, evaluate and benchmark DA³D anomaly detectors from the terminal.
//!
//! Exit codes: 0 success; 1 data, model or training error; 2 usage error.
//! Data goes to stdout; progress and diagnostics to stderr.

mod args;
mod backend;
mod bench;
mod cleanup;
mod commands;
mod eval;
mod files;
mod members;
mod memory;
mod progress;
mod score;
mod state;
mod workers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use args::*;
use backend::BackendChoice;
use progress::{LogFormat, Output};

#[derive(Parser)]
#[command(
    name = "da3d",
    version,
    about = "DA³D: double-adversarial activation anomaly detection for tabular data",
    long_about = "DA³D: double-adversarial activation anomaly detection for tabular data.\n\n\
An adversarial autoencoder learns the normal rows, a generator learns artificial anomalies in its code \
space, and an alarm network reading the autoencoder's activations learns to tell them apart.\n\n\
Exit codes: 0 success, 1 data/model/training error, 2 usage error.\n\n\
CSV files: the delimiter (, ; tab |) is sniffed from the header and the first rows (--delimiter to \
force one); ?, NA, N/A, null, None, NaN, #N/A and empty cells are missing values: a row with one in \
a numeric column is dropped and counted, in a text column it is the category (missing).",
    after_help = "Example:\n  da3d train ../shared/datasets/mammography.csv --dataset mammography -o mammo.da3d\n  da3d score mammo.da3d ../shared/datasets/mammography.csv -o scores.csv"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress output (the lines per epoch); notes, summaries and errors still go to stderr.
    #[arg(long, global = true)]
    quiet: bool,
    /// Progress as text or one JSON object per epoch (stderr).
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on a CSV and write the bundle.
    #[command(after_help = "Example:\n  da3d train data.csv -o model.da3d --seed 1\n  da3d train ../shared/datasets/mammography.csv --dataset mammography -o mammo.da3d --epochs-aae 100 --epochs 100\n\nWith a label column the paper's protocol is used: seeded 80/5/15 split, training on normal rows \
(plus --contamination), and the test AUC is reported. Without one, every row trains the model.")]
    Train {
        /// Input CSV (plain or .gz); optional with --dataset.
        data: Option<PathBuf>,
        /// Output model bundle.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        data_args: DataArgs,
        #[command(flatten)]
        train: TrainArgs,
        /// Method [default: da3d, or the --config file's].
        #[arg(long, value_enum)]
        method: Option<MethodArg>,
        /// Seed of the split, the initial weights and every random draw [default: 0, or the
        /// --config file's].
        #[arg(long)]
        seed: Option<u64>,
        /// Fraction of labelled anomalies added to the training rows (paper protocol), in [0, 0.5).
        #[arg(long, default_value_t = 0.0, value_parser = parse_contamination)]
        contamination: f64,
        /// Fraction of training rows above the anomaly threshold, in [0, 0.5].
        #[arg(long, default_value = "0.01", value_parser = parse_threshold_rate)]
        threshold_rate: da3d::config::ThresholdRate,
    },
    /// Score a CSV with a trained model; streams the file in batches.
    #[command(after_help = "Example:\n  da3d score model.da3d new.csv -o scores.csv\n\nOutput columns: line (of the input), score (higher is more anomalous: the alarm's probability in 0..1 for `paper` and `reference` models, the ensemble's standardised score for `robust` and `quick` ones), anomaly (1 above the model's threshold); with --explain K also feature_1, value_1, share_1, … feature_K, value_K, share_K.\n  da3d score model.da3d new.csv --explain 3 -o scores.csv")]
    Score {
        model: PathBuf,
        data: PathBuf,
        /// Output CSV (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Report rows that fail to parse and go on, instead of stopping.
        #[arg(long)]
        skip_bad_rows: bool,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendChoice,
        /// Rows per batch (1 to 1000000).
        #[arg(long, default_value_t = 8192, value_parser = |s: &str| parse_count(s, MAX_BATCH_ROWS))]
        batch_rows: usize,
        /// Field delimiter: one character, or `tab` [default: sniffed].
        #[arg(long, value_name = "CHAR", value_parser = da3d::data::parse_delimiter)]
        delimiter: Option<u8>,
        /// Add, per row, the K source columns that push its score up most (1 to 20): columns
        /// feature_i, value_i, share_i (the column's share of the row's score: its residual terms
        /// and its distance to the training rows; README "Why is a row anomalous").
        #[arg(long, value_name = "K", num_args = 0..=1, default_missing_value = "3", value_parser = |s: &str| parse_count(s, 20))]
        explain: Option<usize>,
    },
    /// The paper's protocol: seeds × contamination × methods, ROC AUC and AP (mean ± std).
    #[command(after_help = "Example:\n  da3d eval --dataset nslkdd --seeds 0,1,2 --contamination 0,0.01\n  da3d eval ../shared/datasets/mammography.csv --dataset mammography --seeds 0,1,2 --methods da3d,a3-noise --epochs-aae 100 --epochs 100\n\n\
Methods: da3d (--preset, default paper), da3d-reference (reference preset), a3-noise, simple-generator, aae-recon \
(the AAE's reconstruction error), robust (the robust preset, the default of `train`: its ensemble trained and scored \
as `train` does), quick (the quick preset, the page's default, likewise). Methods of one preset share the AAE of each seed.")]
    Eval {
        /// Input CSV (plain or .gz); optional with --dataset.
        data: Option<PathBuf>,
        #[command(flatten)]
        data_args: DataArgs,
        #[command(flatten)]
        train: TrainArgs,
        #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
        seeds: Vec<u64>,
        #[arg(long, value_delimiter = ',', default_value = "0,0.01", value_parser = parse_contamination)]
        contamination: Vec<f64>,
        /// Methods to evaluate [default: robust with `--preset robust`, quick with `--preset quick`,
        /// else da3d,da3d-reference,a3-noise,simple-generator,aae-recon].
        #[arg(long, value_enum, value_delimiter = ',')]
        methods: Option<Vec<eval::EvalMethod>>,
        /// DA³D epochs at which to record the test AUC.
        #[arg(long, value_delimiter = ',', default_value = "50,100,200,500", value_parser = parse_epochs)]
        checkpoints: Vec<usize>,
        /// Print JSON with every run instead of the table.
        #[arg(long)]
        json: bool,
        /// Also write the JSON to this file.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// (Internal) Run only these cells (contamination levels × seeds, in that order) as a
        /// worker of a parent `eval`: each run as a JSON line on stdout.
        #[arg(long, value_delimiter = ',', hide = true)]
        cells: Option<Vec<usize>>,
        /// (Internal) A worker's cores (its compute pool and its ensemble members).
        #[arg(long, hide = true, requires = "cells")]
        cell_threads: Option<usize>,
    },
    /// Show a model bundle: config, preset, seed, versions, columns, threshold.
    #[command(after_help = "Example:\n  da3d info model.da3d\n  da3d info model.da3d --json")]
    Info {
        model: PathBuf,
        /// Print the whole header as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the paper-protocol split of a labelled CSV as JSON (input line numbers of the
    /// training, validation and test rows), so other tools can use the very same rows.
    #[command(after_help = "Example:\n  da3d split ../shared/datasets/mammography.csv --dataset mammography --seed 0 > split0.json")]
    Split {
        /// Input CSV (plain or .gz); optional with --dataset.
        data: Option<PathBuf>,
        #[command(flatten)]
        data_args: DataArgs,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 0.0, value_parser = parse_contamination)]
        contamination: f64,
        /// Also write the preprocessed rows (one-hot, min-max fit on the training rows) to DIR:
        /// train.f32 and test.f32 (row-major little-endian f32), test_labels.u8.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Write a seeded synthetic CSV: the project's fixture (`plain`), or a file in the published
    /// column layout of a data set that is not available here (`doh`, `url`).
    #[command(after_help = "Example:\n  da3d synth --layout doh --rows 5000 -o doh.csv\n  da3d eval doh.csv --dataset doh --seeds 0")]
    Synth {
        #[arg(long, value_enum, default_value = "plain")]
        layout: LayoutArg,
        #[arg(long, default_value_t = 2000, value_parser = |s: &str| parse_count(s, MAX_SYNTH_ROWS))]
        rows: usize,
        /// Fraction of anomalous rows, in [0, 1].
        #[arg(long, default_value_t = 0.05, value_parser = parse_fraction)]
        anomaly_rate: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output CSV (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Seconds per epoch of each phase, steps per second and peak memory, per backend.
    #[command(after_help = "Example:\n  da3d bench --data ../shared/datasets/mammography.csv --dataset mammography --backends cpu,ndarray\n  da3d bench --rows 100000 --cols 50")]
    Bench(bench::BenchArgs),
    /// (Internal) Train ensemble members for a `train`/`eval` process: its job folder, the
    /// members, the threads of its compute pool. Progress as JSON lines on stdout.
    #[command(hide = true)]
    MemberWorker {
        #[arg(long)]
        job: PathBuf,
        #[arg(long, value_delimiter = ',')]
        members: Vec<usize>,
        #[arg(long)]
        threads: usize,
        /// The run's state folder (members saved as `member-<k>.state`).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 300)]
        state_every: u64,
    },
}

/// Keep freed memory in the process. A training step allocates and frees the same few hundred
/// kilobyte-sized tensors every batch; glibc's defaults serve those from `mmap` and trim the heap
/// eagerly, so every step paid page faults and page zeroing (15–20 % of a CPU step on Mammography).
/// Held memory is bounded by the peak a run needs anyway, plus 64 MiB of top pad.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Rust ignores SIGPIPE, so a `println!` into a closed pipe (`da3d info m | head -3`) panics;
/// restore the default action: the process ends quietly when the reader goes away.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: resetting a signal's disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// burn places a loaded optimiser state on its default device until the first step moves it;
/// with the GPU backend compiled in, that default is the GPU, which a machine without a GPU
/// driver cannot start. Training state is CPU-only: make the CPU the default unless the user
/// chose one (`BURN_DEVICE`).
fn cpu_default_device() {
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: no other thread runs yet (called first in `main`).
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
}

fn main() -> ExitCode {
    cpu_default_device();
    cleanup::install();
    default_sigpipe();
    tune_allocator();
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Eval { cells: Some(_), cell_threads, .. } => Some(cell_threads.unwrap_or(1)),
        Command::Train { train, .. } | Command::Eval { train, .. } => train.threads,
        Command::Bench(args) => args.threads,
        Command::MemberWorker { threads, .. } => Some(*threads),
        _ => None,
    };
    let output = Output { quiet: cli.quiet, log_format: cli.log_format };
    let result = members::on_compute_pool(threads, || run(cli.command, output));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if is_usage_error(&e) { ExitCode::from(2) } else { ExitCode::from(1) }
        }
    }
}

/// A usage error (exit code 2): the command line's, or a value of the config given as a flag
/// (the model crate's `Error::Config`).
fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<commands::UsageError>().is_some() || matches!(c.downcast_ref::<da3d::Error>(), Some(da3d::Error::Config { .. })))
}

/// Carry out one command.
fn run(command: Command, output: Output) -> anyhow::Result<()> {
    match command {
        Command::Train { data, output: model, data_args, train, method, seed, contamination, threshold_rate } => {
            let request = commands::TrainRequest { method, seed, contamination, threshold_rate, silence: std::time::Duration::from_secs(train.worker_timeout) };
            commands::data_path(data, &data_args).and_then(|data| commands::train(&data, &model, &data_args, &train, output, &request))
        }
        Command::Score { model, data, output: scores, skip_bad_rows, backend, batch_rows, delimiter, explain } => {
            let request = score::ScoreRequest { output: scores, skip_bad_rows, backend, batch_rows, delimiter, explain };
            score::score(&model, &data, &request)
        }
        Command::Eval { data, data_args, mut train, seeds, contamination, methods, checkpoints, json, out, cells, cell_threads } => {
            if cells.is_some() {
                // A worker's share of the cores, for its compute pool and its ensemble members.
                train.threads = Some(cell_threads.unwrap_or(1));
            }
            commands::data_path(data, &data_args).and_then(|data| {
                let methods = methods.unwrap_or_else(|| eval::default_methods(train.preset));
                // A worker of a parent `eval`: its epochs as JSON for the parent to show, its runs
                // on stdout (not the parent's table or file).
                let worker = cells.is_some();
                let output = if worker { Output { quiet: output.quiet, log_format: LogFormat::Json } } else { output };
                let (json, out) = if worker { (false, None) } else { (json, out) };
                eval::run(&eval::EvalArgs {
                    path: &data,
                    data_args: &data_args,
                    train: &train,
                    output,
                    seeds: &seeds,
                    contaminations: &contamination,
                    methods: &methods,
                    checkpoints: &checkpoints,
                    json,
                    out: out.as_deref(),
                    cells,
                    silence: std::time::Duration::from_secs(train.worker_timeout),
                })
            })
        }
        Command::Info { model, json } => commands::info(&model, json),
        Command::Split { data, data_args, seed, contamination, export } => commands::data_path(data, &data_args)
            .and_then(|data| commands::split(&data, &data_args, seed, contamination, export.as_deref())),
        Command::Synth { layout, rows, anomaly_rate, seed, output: file } => commands::synth(layout, rows, anomaly_rate, seed, file.as_deref()),
        Command::Bench(args) => bench::run(&args),
        Command::MemberWorker { job, members, state_dir, state_every, .. } => {
            let state = state_dir.map(|d| state::StateDir::new(&d, std::time::Duration::from_secs(state_every))).transpose()?;
            members::member_worker(&job, &members, state.as_ref())
        }
    }
}
