//! Training from CSV text, in this process: the model crate's fit pipeline (as the page runs it),
//! the ensemble's members one after another or side by side on threads.

use burn::tensor::Device;
use da3d::bundle::Model;
use da3d::config::{Preset, ThresholdRate, ValidConfig};
use da3d::data::{self, Matrix, Protocol, ReadOptions, Table};
use da3d::model::Networks;
use da3d::pipeline::{ConfigOverrides, Fit, FitRequest};
use da3d::train::{Observer, Trainer, run_blocking};
use da3d::wait;

use crate::error::{BindingError, Result, at_row_of_x};

/// The backend name a bundle trained here records (the CLI's name for the same backend).
pub const BACKEND: &str = "cpu (flex)";

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

/// Train on every row of the CSV text `csv` as `settings` ask.
pub fn fit_csv(csv: &[u8], settings: &FitSettings) -> Result<Fitted> {
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
    let mut fit = Fit::start(data, config, &read, &device, BACKEND)?;
    let training = fit.config().training().clone();
    let members = training.ensemble.members;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = settings.threads.unwrap_or(cores).clamp(1, members.max(1));
    let outcome = if threads <= 1 || members <= 1 {
        run_blocking(fit.trainer(), &mut Quiet)?;
        wait(fit.finish())?
    } else {
        let networks = train_members(&training, &fit.data().train, threads)?;
        wait(fit.finish_members(networks))?
    };
    Ok(Fitted { model: outcome.model, train_scores: outcome.train_scores })
}

/// Hears nothing: Python asks for no progress lines.
struct Quiet;

impl Observer for Quiet {}

/// The members of `config` trained on `rows`, `threads` at a time (member `k` on thread
/// `k mod threads`). Member `k` trained alone is the member a whole ensemble's run trains, so the
/// model does not depend on `threads`.
fn train_members(config: &ValidConfig, rows: &Matrix, threads: usize) -> Result<Vec<Networks>> {
    let members = config.ensemble.members;
    let mut trained: Vec<Option<Networks>> = (0..members).map(|_| None).collect();
    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            let handle = std::thread::Builder::new()
                .name(format!("da3d-member-{t}"))
                // A main thread's stack, as the CLI's compute threads have.
                .stack_size(8 << 20)
                .spawn_scoped(scope, move || -> Result<Vec<(usize, Networks)>> {
                    let device = Device::flex();
                    let mut done = Vec::new();
                    for k in (t..members).step_by(threads) {
                        let mut trainer = Trainer::new(config.member(k), rows.clone(), &device)?;
                        run_blocking(&mut trainer, &mut Quiet)?;
                        done.push((k, trainer.networks()));
                    }
                    Ok(done)
                })
                .map_err(|e| BindingError::Thread(e.to_string()))?;
            handles.push(handle);
        }
        for handle in handles {
            let done = handle.join().map_err(|_| BindingError::Thread("it panicked".into()))??;
            for (k, networks) in done {
                trained[k] = Some(networks);
            }
        }
        Ok(())
    })?;
    trained.into_iter().enumerate().map(|(k, n)| n.ok_or_else(|| BindingError::Thread(format!("member {k} did not train")))).collect()
}
