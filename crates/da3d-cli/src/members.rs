//! An ensemble's members trained side by side: one worker process per core (`workers`).
//!
//! Member `k` trained alone (`ValidConfig::member(k)`: its own seed, one member) is exactly the
//! member the whole ensemble's run trains (every trainer owns its random streams), so the model
//! made of members trained apart (`Fit::finish_members`) equals the sequential one, for any number
//! of workers. The CPU backend only: one GPU is not shared between trainers.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use da3d::config::{TrainingConfig, ValidConfig};
use da3d::data::Matrix;
use da3d::model::Networks;
use da3d::pipeline::{Fit, FitOutcome};
use da3d::train::{EpochReport, Observer, Progress, Trainer};
use da3d::wait;
use serde::{Deserialize, Serialize};

use crate::cleanup;
use crate::state::{self, StateDir};
use crate::workers::{self, comma_list, round_robin};

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

/// What a member worker prints on stdout, one JSON object a line.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WorkerLine {
    /// An epoch of the member `report.member`.
    Epoch { report: EpochReport, progress: Progress },
    /// The member's weights are in the job folder (`member-<k>.bin`).
    Done { member: usize },
}

/// The folder a run's workers read the job from and write the members to: private to this user
/// (0700), under an unpredictable name; removed when dropped, and if the process is stopped.
struct JobDir(PathBuf);

impl JobDir {
    const CONFIG: &str = "config.json";
    const ROWS: &str = "rows.f32";

    /// Write the training config and rows into a new private folder.
    fn create(config: &ValidConfig, rows: &Matrix) -> Result<Self> {
        let path = cleanup::private_dir("da3d-members-").context("cannot create a folder for the member workers")?;
        let dir = JobDir(path);
        let write = |name: &str, bytes: &[u8]| -> Result<()> {
            let path = dir.0.join(name);
            let mut file = cleanup::create_new_private(&path).with_context(|| format!("cannot create {}", path.display()))?;
            file.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))
        };
        write(Self::CONFIG, &serde_json::to_vec(config).context("cannot serialise the training config")?)?;
        let mut bytes = Vec::with_capacity(16 + 4 * rows.values.len());
        bytes.extend_from_slice(&(rows.rows as u64).to_le_bytes());
        bytes.extend_from_slice(&(rows.cols as u64).to_le_bytes());
        for v in &rows.values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        write(Self::ROWS, &bytes)?;
        Ok(dir)
    }

    fn member_path(dir: &Path, member: usize) -> PathBuf {
        dir.join(format!("member-{member}.bin"))
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        cleanup::forget_path(&self.0);
    }
}

/// The job a parent wrote with [`JobDir::create`].
fn read_job(dir: &Path) -> Result<(ValidConfig, Matrix)> {
    let path = dir.join(JobDir::CONFIG);
    let config: TrainingConfig = serde_json::from_slice(&std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?)
        .with_context(|| format!("{}: not a training config", path.display()))?;
    let config = config.validated().with_context(|| format!("{}", path.display()))?;
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
        // A loss that is not a number stops training (`Error::Diverged`) before it is reported.
        if let Ok(text) = serde_json::to_string(&line) {
            println!("{text}");
        }
    }
}

/// `da3d member-worker`: train `members` of the job in `job`, one after another, each written
/// to the job folder as it finishes; with a state folder, each going on from its state
/// (`member-<k>.state`) and saving it as it trains.
pub fn member_worker(job: &Path, members: &[usize], state_dir: Option<&StateDir>) -> Result<()> {
    // A worker that says nothing for this many seconds first (the tests of `--worker-timeout`).
    if let Some(seconds) = std::env::var("DA3D_TEST_WORKER_DELAY").ok().and_then(|v| v.parse().ok()) {
        std::thread::sleep(Duration::from_secs(seconds));
    }
    let (config, rows) = read_job(job)?;
    let device = burn::tensor::Device::flex();
    for &member in members {
        if member >= config.ensemble.members {
            bail!("member {member} of an ensemble of {}", config.ensemble.members);
        }
        let mut file = state_dir.map(|s| s.file(&format!("member-{member}")));
        let resumed = match &file {
            Some(f) => state::resume_trainer(f, config.member(member), rows.clone(), &device)?,
            None => None,
        };
        let mut trainer = match resumed {
            Some((t, _)) => t,
            None => Trainer::new(config.member(member), rows.clone(), &device)?,
        };
        state::run(&mut trainer, &mut Printer { member }, file.as_mut(), &|| serde_json::Value::Null)?;
        let bytes = da3d::bundle::member_to_bytes(&trainer.networks())?;
        let path = JobDir::member_path(job, member);
        cleanup::create_new_private(&path)
            .and_then(|mut f| f.write_all(&bytes))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", serde_json::to_string(&WorkerLine::Done { member })?);
    }
    Ok(())
}

/// Train `fit` to the end and finish it: its members in `threads` worker processes (the CPU
/// backend), or its own trainer in this one. `observer` hears every epoch of every member, with
/// the ensemble's progress (steps over all members; `member`: members finished). A worker that
/// says nothing for `silence` is stopped. With a state folder, the training state is saved as
/// it goes and the run goes on from it (`state`): the same folder must be resumed with the same
/// `threads` (one state for the run in this process, one per member in workers).
pub fn train_and_finish(mut fit: Fit, threads: usize, on_cpu: bool, silence: Duration, observer: &mut dyn Observer, state_dir: Option<&StateDir>) -> Result<FitOutcome> {
    let config = fit.config().training().clone();
    let members = config.ensemble.members;
    state::check_backend(state_dir, on_cpu)?;
    if threads <= 1 || members <= 1 || !on_cpu {
        let mut file = state_dir.map(|s| s.file("run"));
        if let (Some(s), Some(f)) = (state_dir, &file) {
            state::check_kind(s, f)?;
            state::resume_fit(&mut fit, f)?;
        }
        state::run(fit.trainer(), observer, file.as_mut(), &|| serde_json::Value::Null).context("training failed; no model was written")?;
        return Ok(wait(fit.finish())?);
    }
    if let Some(s) = state_dir {
        state::check_kind(s, &s.file("member-0"))?;
        // The workers write them; this run removes them once its model is written.
        for member in 1..members {
            s.expect(&format!("member-{member}"));
        }
    }
    let _saving = state_dir.map(|_| cleanup::saves_on_stop());
    let per_member = fit.trainer().progress().steps_total / members;
    let networks_config = fit.trainer().networks_config().clone();
    let job = JobDir::create(&config, &fit.data().train)?;
    // Each worker's own share of the cores for its matrix products (one each when there are as
    // many members as cores).
    let pool_threads = (rayon::current_num_threads() / threads).max(1);
    let assigned = round_robin(members, threads);
    let arguments: Vec<Vec<OsString>> = assigned
        .iter()
        .map(|list| {
            let args = ["member-worker", "--job"].map(OsString::from).into_iter().chain([job.0.clone().into_os_string()]);
            let state: Vec<OsString> = match state_dir {
                Some(s) => vec!["--state-dir".into(), s.dir.clone().into_os_string(), "--state-every".into(), s.every.as_secs().to_string().into()],
                None => vec![],
            };
            args.chain(["--members".into(), comma_list(list).into(), "--threads".into(), pool_threads.to_string().into()])
                .chain(state)
                .collect()
        })
        .collect();
    let device = burn::tensor::Device::flex();
    let mut trained: Vec<Option<Networks>> = vec![None; members];
    // The ensemble's progress: steps over all members, from each member's latest report.
    let mut steps = vec![0usize; members];
    let mut done = 0;
    let on_line = |_worker: usize, line: WorkerLine| -> Result<()> {
        match line {
            WorkerLine::Epoch { report, mut progress } if report.member < members => {
                steps[report.member] = progress.steps_done;
                progress.steps_done = steps.iter().sum();
                progress.steps_total = per_member * members;
                progress.member = done;
                progress.members = members;
                observer.on_epoch(&report, &progress);
                Ok(())
            }
            WorkerLine::Done { member } if member < members => {
                let path = JobDir::member_path(&job.0, member);
                let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                let networks = da3d::bundle::member_from_bytes(&bytes, &networks_config, &device)
                    .with_context(|| format!("ensemble member {}", member + 1))?;
                steps[member] = per_member;
                trained[member] = Some(networks);
                done += 1;
                Ok(())
            }
            _ => Err(anyhow!("a member worker reported a member outside the ensemble of {members}")),
        }
    };
    let ended = workers::run("member worker", arguments, silence, on_line, |_, line| eprintln!("{line}"));
    if let Some(signal) = cleanup::stop_requested() {
        eprintln!("the members' training states are in {}: run the same command again to go on", state_dir.map_or(String::new(), |s| s.dir.display().to_string()));
        cleanup::exit_stopped(signal);
    }
    let ended = ended.context("training failed; no model was written")?;
    for (w, end) in ended.iter().enumerate() {
        if let Some(&member) = assigned[w].iter().find(|&&k| trained[k].is_none()) {
            bail!("training failed (ensemble member {}): {}; no model was written", member + 1, end.why());
        }
    }
    let networks: Vec<Networks> = trained.into_iter().map(|n| n.expect("every member trained")).collect();
    Ok(wait(fit.finish_members(networks))?)
}
