//! An ensemble's members trained side by side: one worker process per core.
//!
//! Member `k` trained alone (`TrainingConfig::member(k)`: its own seed, one member) is exactly
//! the member the whole ensemble's run trains (every trainer owns its random streams), so the
//! model made of members trained apart (`Fit::finish_members`) equals the sequential one, for
//! any number of workers. The workers are processes (`da3d member-worker`), not threads: burn's
//! autodiff keeps one process-wide registry of graphs behind a mutex that every operation of every
//! trainer takes, so two trainers on two threads of one process each ran 1.3–1.4× slower than
//! one alone (docs/performance.md). The CPU backend only: one GPU is not shared between trainers.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::{Context, Result, anyhow, bail};
use da3d::config::TrainingConfig;
use da3d::data::Matrix;
use da3d::model::Networks;
use da3d::pipeline::{Fit, FitOutcome};
use da3d::train::{EpochReport, Observer, Progress, Trainer, run_blocking};
use serde::{Deserialize, Serialize};

/// Cores to compute on: `requested`, or every core the machine reports.
pub fn cores(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

/// Threads that train members side by side: the cores, never more than the members.
pub fn threads_for(requested: Option<usize>, members: usize) -> usize {
    cores(requested).min(members.max(1))
}

/// Run `command` on a new compute pool of `requested` threads (default: every core), the
/// pool's threads joined before returning. burn's CPU backend splits a large matrix product
/// (wide tables; not Mammography's, which stay on the calling thread) over the pool's threads:
/// its pieces are whole blocks of the output, each summed in the same order, so the numbers do
/// not depend on the pool's size. Running the command itself on a pool thread hands a product's
/// other pieces to threads already awake, not from outside to sleeping ones (3–20 % of a wide
/// table's step, docs/performance.md). The join matters: a GPU device made on a pool thread is
/// torn down with the thread's locals, which must happen before the process exits.
pub fn on_compute_pool<R: Send>(requested: Option<usize>, command: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    let handles = std::sync::Mutex::new(Vec::new());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores(requested))
        .spawn_handler(|thread| {
            let handle = std::thread::Builder::new()
                .name(format!("da3d-compute-{}", thread.index()))
                // The main thread's stack: a command runs on a pool thread.
                .stack_size(8 << 20)
                .spawn(|| thread.run())?;
            handles.lock().expect("no panic while holding the list").push(handle);
            Ok(())
        })
        .build()
        .context("could not start the compute threads")?;
    let result = pool.install(command);
    drop(pool);
    for handle in handles.into_inner().expect("no panic while holding the list") {
        let _ = handle.join();
    }
    result
}

/// What a worker process prints on stdout, one JSON object a line.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WorkerLine {
    /// An epoch of the member `report.member`.
    Epoch { report: EpochReport, progress: Progress },
    /// The member's weights are in the job folder (`member-<k>.bin`).
    Done { member: usize },
}

/// What the readers of the workers' output tell the main thread.
enum Message {
    Line(WorkerLine),
    /// A worker's output ended: its index and what it wrote on stderr.
    Ended { worker: usize, stderr: String },
}

/// The folder a run's workers read the job from and write the members to; removed on drop.
struct JobDir(PathBuf);

impl JobDir {
    const CONFIG: &str = "config.json";
    const ROWS: &str = "rows.f32";

    /// Write the training config and rows into a new folder under the system's temp folder.
    fn create(config: &TrainingConfig, rows: &Matrix) -> Result<Self> {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir()
            .join(format!("da3d-members-{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let dir = JobDir(path);
        let config_json = serde_json::to_vec(config).context("cannot serialise the training config")?;
        std::fs::write(dir.0.join(Self::CONFIG), config_json)
            .with_context(|| format!("cannot write {}", dir.0.join(Self::CONFIG).display()))?;
        let mut bytes = Vec::with_capacity(16 + 4 * rows.values.len());
        bytes.extend_from_slice(&(rows.rows as u64).to_le_bytes());
        bytes.extend_from_slice(&(rows.cols as u64).to_le_bytes());
        for v in &rows.values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(dir.0.join(Self::ROWS), bytes)
            .with_context(|| format!("cannot write {}", dir.0.join(Self::ROWS).display()))?;
        Ok(dir)
    }

    fn member_path(dir: &Path, member: usize) -> PathBuf {
        dir.join(format!("member-{member}.bin"))
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The job a parent wrote with [`JobDir::create`].
fn read_job(dir: &Path) -> Result<(TrainingConfig, Matrix)> {
    let path = dir.join(JobDir::CONFIG);
    let config: TrainingConfig = serde_json::from_slice(&std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?)
        .with_context(|| format!("{}: not a training config", path.display()))?;
    let path = dir.join(JobDir::ROWS);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let word = |i: usize| bytes.get(8 * i..8 * i + 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize);
    let (Some(rows), Some(cols)) = (word(0), word(1)) else { bail!("{}: no header", path.display()) };
    let values: Vec<f32> = bytes[16..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
    if rows.checked_mul(cols) != Some(values.len()) || bytes.len() != 16 + 4 * values.len() {
        bail!("{}: {} values for {rows} × {cols}", path.display(), values.len());
    }
    Ok((config, Matrix::new(rows, cols, values)))
}

/// Prints a member's epochs as JSON lines (a worker's stdout).
struct Printer {
    member: usize,
}

impl Observer for Printer {
    fn on_epoch(&mut self, report: &EpochReport, progress: &Progress) {
        let mut report = report.clone();
        report.member = self.member;
        let line = WorkerLine::Epoch { report, progress: *progress };
        // A loss that is not a number does not serialise to JSON that reads back: the parent
        // skips such lines (progress only).
        if let Ok(text) = serde_json::to_string(&line) {
            println!("{text}");
        }
    }
}

/// `da3d member-worker`: train `members` of the job in `job`, one after another, each written
/// to the job folder as it finishes.
pub fn member_worker(job: &Path, members: &[usize]) -> Result<()> {
    let (config, rows) = read_job(job)?;
    let device = burn::tensor::Device::flex();
    for &member in members {
        if member >= config.ensemble.members {
            bail!("member {member} of an ensemble of {}", config.ensemble.members);
        }
        let mut trainer = Trainer::new(config.member(member), rows.clone(), &device)?;
        run_blocking(&mut trainer, &mut Printer { member })?;
        let bytes = da3d::bundle::member_to_bytes(&trainer.networks())?;
        let path = JobDir::member_path(job, member);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", serde_json::to_string(&WorkerLine::Done { member })?);
    }
    Ok(())
}

/// Start a worker process for `members` of the job in `dir`, its compute pool `threads` wide.
fn spawn_worker(dir: &Path, members: &[usize], threads: usize) -> Result<Child> {
    spawn_self("a member worker", |c| {
        c.arg("member-worker").arg("--job").arg(dir).arg("--members").arg(comma_list(members)).arg("--threads").arg(threads.to_string());
    })
}

/// Start this executable as a worker process (`what`, for the error), its arguments added by
/// `args`; stdin closed, stdout and stderr piped to this process.
pub fn spawn_self(what: &str, args: impl FnOnce(&mut Command)) -> Result<Child> {
    let exe = std::env::current_exe().with_context(|| format!("cannot find the da3d executable to start {what}"))?;
    let mut command = Command::new(&exe);
    args(&mut command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {what} ({})", exe.display()))
}

/// `0..items` dealt to `workers` in turn: item `i` to worker `i mod workers`.
pub fn round_robin(items: usize, workers: usize) -> Vec<Vec<usize>> {
    (0..workers).map(|w| (w..items).step_by(workers).collect()).collect()
}

/// `1,2,3`: indices as a worker's argument.
pub fn comma_list(indices: &[usize]) -> String {
    indices.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// Stop `workers` (those already ended are left as they are).
fn kill_all(workers: &mut [Child]) {
    for child in workers {
        let _ = child.kill();
    }
}

/// Stop `workers` and reap them (those already ended are only reaped).
pub fn stop_and_reap(workers: &mut [Child]) {
    kill_all(workers);
    for child in workers {
        let _ = child.wait();
    }
}

/// Train `fit` to the end and finish it: its members in `threads` worker processes (the CPU
/// backend), or its own trainer in this one. `observer` hears every epoch of every member, with
/// the ensemble's progress (steps over all members; `member`: members finished).
pub fn train_and_finish(mut fit: Fit, threads: usize, on_cpu: bool, observer: &mut dyn Observer) -> Result<FitOutcome> {
    let config = fit.config().training().clone();
    let members = config.ensemble.members;
    if threads <= 1 || members <= 1 || !on_cpu {
        run_blocking(fit.trainer(), observer).context("training failed; no model was written")?;
        return Ok(fit.finish()?);
    }
    let per_member = fit.trainer().progress().steps_total / members;
    let networks_config = fit.trainer().networks_config().clone();
    let job = JobDir::create(&config, &fit.data().train)?;
    // Each worker's own share of the cores for its matrix products (one each when there are as
    // many members as cores).
    let pool_threads = (rayon::current_num_threads() / threads).max(1);
    let assigned = round_robin(members, threads);
    let (tx, rx) = mpsc::channel();
    let mut workers = Vec::new();
    for (t, list) in assigned.iter().enumerate() {
        let mut child = match spawn_worker(&job.0, list, pool_threads) {
            Ok(child) => child,
            Err(e) => {
                stop_and_reap(&mut workers);
                return Err(e);
            }
        };
        let (stdout, mut stderr) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
        let tx = tx.clone();
        std::thread::spawn(move || {
            let errors = std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            });
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(parsed) = serde_json::from_str::<WorkerLine>(&line)
                    && tx.send(Message::Line(parsed)).is_err()
                {
                    break;
                }
            }
            let stderr = errors.join().unwrap_or_default();
            let _ = tx.send(Message::Ended { worker: t, stderr });
        });
        workers.push(child);
    }
    drop(tx);
    let device = burn::tensor::Device::flex();
    let mut trained: Vec<Option<Networks>> = vec![None; members];
    let mut first_error: Option<(usize, String)> = None;
    // The ensemble's progress: steps over all members, from each member's latest report.
    let mut steps = vec![0usize; members];
    let mut done = 0;
    for message in rx {
        match message {
            Message::Line(WorkerLine::Epoch { report, mut progress }) if report.member < members => {
                steps[report.member] = progress.steps_done;
                progress.steps_done = steps.iter().sum();
                progress.steps_total = per_member * members;
                progress.member = done;
                progress.members = members;
                observer.on_epoch(&report, &progress);
            }
            Message::Line(WorkerLine::Done { member }) if member < members => {
                let path = JobDir::member_path(&job.0, member);
                let read = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))
                    .and_then(|bytes| Ok(da3d::bundle::member_from_bytes(&bytes, &networks_config, &device)?));
                match read {
                    Ok(networks) => {
                        steps[member] = per_member;
                        trained[member] = Some(networks);
                        done += 1;
                    }
                    Err(e) => {
                        first_error.get_or_insert((member, format!("{e:#}")));
                    }
                }
            }
            Message::Line(_) => {}
            Message::Ended { worker, stderr } => {
                let status = workers[worker].wait();
                let missing = assigned[worker].iter().copied().find(|&k| trained[k].is_none());
                if let Some(member) = missing
                    && first_error.is_none()
                {
                    let said = stderr.trim().trim_start_matches("error: ").trim();
                    let why = match (said.is_empty(), status) {
                        (false, _) => said.to_string(),
                        (true, Ok(s)) => format!("its worker process ended ({s})"),
                        (true, Err(e)) => format!("its worker process was lost: {e}"),
                    };
                    first_error = Some((member, why));
                }
            }
        }
        if first_error.is_some() {
            // Stop the other workers: their output ends, and with it this loop.
            kill_all(&mut workers);
        }
    }
    for child in &mut workers {
        let _ = child.wait();
    }
    if let Some((member, error)) = first_error {
        return Err(anyhow!("training failed (ensemble member {}): {error}; no model was written", member + 1));
    }
    let networks: Vec<Networks> = trained.into_iter().map(|n| n.expect("every member trained")).collect();
    Ok(fit.finish_members(networks)?)
}
