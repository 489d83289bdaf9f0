//! Training from CSV text, in this process: the model crate's fit pipeline (as the page runs it),
//! the ensemble's members one after another or side by side on threads.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use da3d::bundle::Model;
use da3d::config::{Preset, ThresholdRate, ValidConfig};
use da3d::data::{self, Matrix, Protocol, ReadOptions, Table};
use da3d::model::Networks;
use da3d::pipeline::{ConfigOverrides, Fit, FitRequest};
use da3d::train::{Observer, Trainer, run_blocking};
use da3d::wait;

use crate::error::{BindingError, Result, at_row_of_x};

/// What `DA3D(...)` asks of a fit.
#[derive(Debug, Clone)]
pub struct FitSettings {
    pub preset: Preset,
    pub members: Option<usize>,
    pub seed: u64,
    /// The share of training rows above the threshold.
    pub threshold_rate: f64,
    /// Members trained side by side (default: every core, never more than the members).
    pub threads: Option<usize>,
    /// A named data set: its layer widths for the `paper` and `reference` presets.
    pub dataset: Option<String>,
    /// Columns read as categorical even when every value is a number.
    pub categorical: Vec<String>,
}

/// A trained model and its training rows' scores (in the rows' order; a row is not its own
/// neighbour).
pub struct Fitted {
    pub model: Model,
    pub train_scores: Vec<f32>,
}

/// How a table from Python is read: comma-separated, no label column (every column is a feature).
pub fn read_options(categorical: &[String]) -> ReadOptions {
    ReadOptions { label: None, delimiter: Some(b','), categorical: categorical.to_vec(), ..ReadOptions::default() }
}

/// Refuse a table that lost rows to missing numeric values: every row of `X` needs its score.
pub fn check_every_row_kept(table: &Table) -> Result<()> {
    let r = &table.report;
    let Some(line) = r.first_dropped_line.filter(|_| r.rows_dropped_missing > 0) else {
        return Ok(());
    };
    let column = match &r.first_missing {
        Some((l, c)) if *l == line => format!(", column '{c}'"),
        _ => String::new(),
    };
    Err(BindingError::Input(format!(
        "{} row{} of X hold a missing or non-finite value in a numeric column (the first: row {}{column}); \
         the CLI drops such rows, an estimator scores every row: fill or drop them first",
        r.rows_dropped_missing,
        if r.rows_dropped_missing == 1 { "" } else { "s" },
        line.saturating_sub(2)
    )))
}

/// Train on every row of the CSV text `csv` as `settings` ask. `interrupted` is asked on the
/// calling thread between batches (at most every [`INTERRUPT_CHECK`]); true stops training
/// ([`BindingError::Interrupted`]).
pub fn fit_csv(csv: &[u8], settings: &FitSettings, interrupted: &dyn Fn() -> bool) -> Result<Fitted> {
    let read = read_options(&settings.categorical);
    let table = data::read_table_bytes(csv, &read).map_err(|e| at_row_of_x(e, 0))?;
    check_every_row_kept(&table)?;
    let overrides = ConfigOverrides { seed: Some(settings.seed), members: settings.members, ..ConfigOverrides::new(settings.preset) };
    let request = FitRequest {
        dataset: settings.dataset.clone(),
        threshold_rate: ThresholdRate::new(settings.threshold_rate)?,
        protocol: Protocol::Paper,
        ..FitRequest::new(overrides)
    };
    let (data, config) = request.prepare(&table)?;
    drop(table);
    let device = Device::flex();
    let mut fit = Fit::start(data, config, &read, &device, da3d::tensors::CPU_BACKEND)?;
    let training = fit.config().training().clone();
    let members = training.ensemble.members;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = settings.threads.unwrap_or(cores).clamp(1, members.max(1));
    let stop = AtomicBool::new(false);
    let outcome = if threads <= 1 || members <= 1 {
        if !run_blocking(fit.trainer(), &mut Stoppable::asking(&stop, interrupted))? {
            return Err(BindingError::Interrupted);
        }
        wait(fit.finish())?
    } else {
        let networks = train_members(&training, &fit.data().train, threads, &stop, interrupted)?;
        wait(fit.finish_members(networks))?
    };
    Ok(Fitted { model: outcome.model, train_scores: outcome.train_scores })
}

/// How often the calling thread asks whether training should stop.
pub const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

/// Says nothing (Python asks for no progress lines); stops between batches once `stop` is set.
/// The calling thread's also asks `interrupted` (at most every [`INTERRUPT_CHECK`]) and sets
/// `stop` for every thread.
struct Stoppable<'a> {
    stop: &'a AtomicBool,
    interrupted: Option<&'a dyn Fn() -> bool>,
    asked: Cell<Instant>,
}

impl<'a> Stoppable<'a> {
    fn asking(stop: &'a AtomicBool, interrupted: &'a dyn Fn() -> bool) -> Self {
        Stoppable { stop, interrupted: Some(interrupted), asked: Cell::new(Instant::now()) }
    }

    fn watching(stop: &'a AtomicBool) -> Self {
        Stoppable { stop, interrupted: None, asked: Cell::new(Instant::now()) }
    }
}

impl Observer for Stoppable<'_> {
    fn cancelled(&self) -> bool {
        if let Some(interrupted) = self.interrupted
            && self.asked.get().elapsed() >= INTERRUPT_CHECK
        {
            self.asked.set(Instant::now());
            if interrupted() {
                self.stop.store(true, Ordering::Relaxed);
            }
        }
        self.stop.load(Ordering::Relaxed)
    }
}

/// Train members `first, first + step, …` of `config` on `rows`, one after another.
fn train_share(config: &ValidConfig, rows: &Matrix, first: usize, step: usize, observer: &mut Stoppable) -> Result<Vec<(usize, Networks)>> {
    let device = Device::flex();
    let mut done = Vec::new();
    for k in (first..config.ensemble.members).step_by(step) {
        let mut trainer = Trainer::new(config.member(k), rows.clone(), &device)?;
        if !run_blocking(&mut trainer, observer)? {
            return Err(BindingError::Interrupted);
        }
        done.push((k, trainer.networks()));
    }
    Ok(done)
}

/// The members of `config` trained on `rows`, `threads` at a time (member `k` on thread
/// `k mod threads`, thread 0 the calling one). Member `k` trained alone is the member a whole
/// ensemble's run trains, so the model does not depend on `threads`.
fn train_members(config: &ValidConfig, rows: &Matrix, threads: usize, stop: &AtomicBool, interrupted: &dyn Fn() -> bool) -> Result<Vec<Networks>> {
    let members = config.ensemble.members;
    let mut trained: Vec<Option<Networks>> = (0..members).map(|_| None).collect();
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::with_capacity(threads);
        for t in 1..threads {
            let handle = std::thread::Builder::new()
                .name(format!("da3d-member-{t}"))
                // A main thread's stack, as the CLI's compute threads have.
                .stack_size(8 << 20)
                .spawn_scoped(scope, move || train_share(config, rows, t, threads, &mut Stoppable::watching(stop)));
            match handle {
                Ok(h) => handles.push(h),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(BindingError::Thread(e.to_string()));
                }
            }
        }
        let own = train_share(config, rows, 0, threads, &mut Stoppable::asking(stop, interrupted));
        if own.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let mut results = vec![own];
        for handle in handles {
            results.push(handle.join().unwrap_or_else(|_| Err(BindingError::Thread("it panicked".into()))));
        }
        // An interruption is what the user did; another thread's failure, what went wrong.
        if let Some(e) = results.iter().position(|r| matches!(r, Err(e) if !matches!(e, BindingError::Interrupted))) {
            return results.swap_remove(e).map(|_| ());
        }
        for result in results {
            for (k, networks) in result? {
                trained[k] = Some(networks);
            }
        }
        Ok(())
    })?;
    trained.into_iter().enumerate().map(|(k, n)| n.ok_or_else(|| BindingError::Thread(format!("member {k} did not train")))).collect()
}
