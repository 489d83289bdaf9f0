//! An ensemble's members trained on several threads, one member per thread at a time.
//!
//! Member `k` trained alone (`TrainingConfig::member(k)`: its own seed, one member) is exactly
//! the member the whole ensemble's run trains (every trainer owns its random streams), so the
//! model made of members trained apart (`Fit::finish_members`) equals the sequential one, for
//! any number of threads. The CPU backend only: one GPU is not shared between trainers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use anyhow::{Context, Result, anyhow};
use da3d::model::Networks;
use da3d::pipeline::{Fit, FitOutcome};
use da3d::train::{EpochReport, Observer, Progress, Trainer, run_blocking};

/// Cores to compute on: `requested`, or every core the machine reports.
pub fn cores(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

/// Threads that train members side by side: the cores, never more than the members.
pub fn threads_for(requested: Option<usize>, members: usize) -> usize {
    cores(requested).min(members.max(1))
}

/// Size the process's compute pool: burn's CPU backend splits a large matrix product (wide
/// tables; not Mammography's, which stay on the calling thread) over the pool's threads. Its
/// pieces are whole blocks of the output, each summed in the same order, so the numbers do not
/// depend on the pool's size. Call once, before any training.
pub fn init_pool(requested: Option<usize>) {
    // The only error: a pool already built (tests calling twice); keep that one.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(cores(requested)).build_global();
}

/// What a member's thread tells the main thread.
enum Message {
    Epoch { member: usize, report: EpochReport, progress: Progress },
    Done { member: usize, networks: Networks },
    Failed { member: usize, error: String },
}

/// Reports one member's epochs to the main thread; stops when another member failed.
struct Relay<'a> {
    member: usize,
    tx: mpsc::Sender<Message>,
    failed: &'a AtomicBool,
}

impl Observer for Relay<'_> {
    fn on_epoch(&mut self, report: &EpochReport, progress: &Progress) {
        let mut report = report.clone();
        report.member = self.member;
        let _ = self.tx.send(Message::Epoch { member: self.member, report, progress: progress.clone() });
    }

    fn cancelled(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

/// Train `fit` to the end and finish it: its members on `threads` threads (the CPU backend), or
/// its own trainer on this one. `observer` hears every epoch of every member, with the
/// ensemble's progress (steps over all members; `member`: members finished).
pub fn train_and_finish(mut fit: Fit, threads: usize, on_cpu: bool, observer: &mut dyn Observer) -> Result<FitOutcome> {
    let config = fit.config().training().clone();
    let members = config.ensemble.members;
    if threads <= 1 || members <= 1 || !on_cpu {
        run_blocking(fit.trainer(), observer).context("training failed; no model was written")?;
        return Ok(fit.finish()?);
    }
    let rows = fit.data().train.clone();
    let per_member = fit.trainer().progress().steps_total / members;
    let failed = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    let mut trained: Vec<Option<Networks>> = vec![None; members];
    let mut first_error: Option<(usize, String)> = None;
    // Each member's thread has its own share of the cores for its matrix products (one each when
    // there are as many members as cores).
    let pool_threads = (rayon::current_num_threads() / threads).max(1);
    let pools = (0..threads)
        .map(|_| rayon::ThreadPoolBuilder::new().num_threads(pool_threads).build())
        .collect::<Result<Vec<_>, _>>()
        .context("could not start the training threads")?;
    std::thread::scope(|scope| {
        for (t, pool) in pools.into_iter().enumerate() {
            let (tx, config, rows, failed) = (tx.clone(), &config, &rows, &failed);
            scope.spawn(move || pool.install(|| {
                let device = burn::tensor::Device::flex();
                for member in (t..members).step_by(threads) {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let run = Trainer::new(config.member(member), rows.clone(), &device).and_then(|mut trainer| {
                        let mut relay = Relay { member, tx: tx.clone(), failed };
                        run_blocking(&mut trainer, &mut relay)?;
                        Ok(trainer.networks())
                    });
                    let message = match run {
                        Ok(networks) => Message::Done { member, networks },
                        Err(e) => Message::Failed { member, error: e.to_string() },
                    };
                    if tx.send(message).is_err() {
                        return;
                    }
                }
            }));
        }
        drop(tx);
        // The ensemble's progress: steps over all members, from each member's latest report.
        let mut steps = vec![0usize; members];
        let mut done = 0;
        for message in rx {
            match message {
                Message::Epoch { member, report, mut progress } => {
                    steps[member] = progress.steps_done;
                    progress.steps_done = steps.iter().sum();
                    progress.steps_total = per_member * members;
                    progress.member = done;
                    progress.members = members;
                    observer.on_epoch(&report, &progress);
                }
                Message::Done { member, networks } => {
                    steps[member] = per_member;
                    trained[member] = Some(networks);
                    done += 1;
                }
                Message::Failed { member, error } => {
                    failed.store(true, Ordering::Relaxed);
                    first_error.get_or_insert((member, error));
                }
            }
        }
    });
    if let Some((member, error)) = first_error {
        return Err(anyhow!("training failed (ensemble member {}): {error}; no model was written", member + 1));
    }
    let networks: Vec<Networks> = trained.into_iter().map(|n| n.expect("every member trained")).collect();
    Ok(fit.finish_members(networks)?)
}
