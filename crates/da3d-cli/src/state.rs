//! `--state-dir DIR`: a long run's training state saved as it goes — every `--state-every`
//! seconds between two batches, when a member or a run finishes, and when the run is stopped by
//! SIGINT or SIGTERM — and the same command run again going on from it. A run that goes on from
//! its state trains the same numbers as one that never stopped (`Trainer::checkpoint`): the
//! bundle is the same, byte for byte. A state of another version, config or data is refused,
//! saying which. Once the result is written the run removes its own state files only: other
//! runs (another seed's `eval`) may save theirs in the same folder. CPU backend only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use da3d::pipeline::Fit;
use da3d::train::{Observer, Step, Trainer};
use da3d::wait;
use serde_json::Value;

use crate::cleanup;
use crate::files::write_atomic;

/// Where and how often a run saves its state.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
    pub every: Duration,
    /// This run's state files and folders (named through [`file`](Self::file),
    /// [`expect`](Self::expect) and [`subdir`](Self::subdir)): what
    /// [`remove_own`](Self::remove_own) removes. Other runs may keep theirs in the same folder.
    own: Arc<Mutex<Vec<PathBuf>>>,
}

impl StateDir {
    /// `dir` (created if missing), saving every `every`.
    pub fn new(dir: &Path, every: Duration) -> Result<StateDir> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the state folder {}", dir.display()))?;
        Ok(StateDir { dir: dir.to_path_buf(), every, own: Arc::default() })
    }

    /// `name` in the folder, as this run's.
    fn claim(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        if !own.contains(&path) {
            own.push(path.clone());
        }
        path
    }

    /// The state file of one trainer of the run (`name`: which one, e.g. `member-2`).
    pub fn file(&self, name: &str) -> StateFile {
        StateFile { path: self.claim(&format!("{name}.state")), every: self.every, last: Instant::now() }
    }

    /// A state file of this run that another process writes (a member worker's `name`).
    pub fn expect(&self, name: &str) {
        self.claim(&format!("{name}.state"));
    }

    /// A folder of this run's for a part of it with its own states (an ensemble's members).
    pub fn subdir(&self, name: &str) -> Result<StateDir> {
        StateDir::new(&self.claim(name), self.every)
    }

    /// Remove the run's own state files and folders once its result is written, and the folder
    /// if nothing else is left in it (another run's states stay).
    pub fn remove_own(&self) {
        for path in self.own.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// One trainer's state file.
pub struct StateFile {
    pub path: PathBuf,
    every: Duration,
    last: Instant,
}

impl StateFile {
    /// The saved state, if there is one.
    pub fn load(&self) -> Result<Option<Vec<u8>>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }

    /// Save `trainer`'s state with `extra` (written whole or not at all).
    pub fn save(&mut self, trainer: &Trainer, extra: Value) -> Result<()> {
        let bytes = trainer.checkpoint(extra).with_context(|| format!("cannot save the training state to {}", self.path.display()))?;
        write_atomic(&self.path, |w| Ok(w.write_all(&bytes)?))?;
        self.last = Instant::now();
        Ok(())
    }

    fn due(&self) -> bool {
        self.last.elapsed() >= self.every
    }
}

/// A trainer of `config` on `rows` going on from `file`'s state, or `None` when there is none.
pub fn resume_trainer(file: &StateFile, config: da3d::config::ValidConfig, rows: da3d::data::Matrix, device: &burn::tensor::Device) -> Result<Option<(Trainer, Value)>> {
    let Some(bytes) = file.load()? else { return Ok(None) };
    let (t, extra) = Trainer::resume(config, rows, device, &bytes).with_context(|| format!("{}", file.path.display()))?;
    eprintln!("going on from the training state in {} (step {} of {})", file.path.display(), t.progress().steps_done, t.progress().steps_total);
    Ok(Some((t, extra)))
}

/// `fit` going on from `file`'s state, if there is one; what was kept with it.
pub fn resume_fit(fit: &mut Fit, file: &StateFile) -> Result<Value> {
    let Some(bytes) = file.load()? else { return Ok(Value::Null) };
    let extra = fit.go_on_from(&bytes).with_context(|| format!("{}", file.path.display()))?;
    let p = fit.progress();
    eprintln!("going on from the training state in {} (step {} of {})", file.path.display(), p.steps_done, p.steps_total);
    Ok(extra)
}

/// Between two epochs: save the state when it is due; when the run was asked to stop, save it
/// and end the process.
pub fn after_epoch(file: Option<&mut StateFile>, trainer: &Trainer, extra: &dyn Fn() -> Value) -> Result<()> {
    let Some(f) = file else { return Ok(()) };
    if let Some(signal) = cleanup::stop_requested() {
        f.save(trainer, extra())?;
        eprintln!("training state saved to {}: run the same command again to go on", f.path.display());
        cleanup::exit_stopped(signal);
    }
    if f.due() {
        f.save(trainer, extra())?;
    }
    Ok(())
}

/// Train to the end as `run_blocking` does; with a state `file`, save the state every so often,
/// at the end, and when the run is stopped by a signal (then end the process with the signal's
/// exit code). `extra` is kept with each save. Returns false when the observer cancelled.
pub fn run(trainer: &mut Trainer, observer: &mut dyn Observer, mut file: Option<&mut StateFile>, extra: &dyn Fn() -> Value) -> Result<bool> {
    let _saving = file.as_ref().map(|_| cleanup::saves_on_stop());
    // A pause after every batch (the tests of stopping a run: a small run is otherwise over
    // before it can be stopped).
    let pause = std::env::var("DA3D_TEST_BATCH_DELAY_MS").ok().and_then(|v| v.parse().ok()).map(Duration::from_millis);
    loop {
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
        if observer.cancelled() {
            return Ok(false);
        }
        if let Some(signal) = cleanup::stop_requested() {
            if let Some(f) = file.as_deref_mut() {
                f.save(trainer, extra())?;
                eprintln!("training state saved to {}: run the same command again to go on", f.path.display());
            }
            cleanup::exit_stopped(signal);
        }
        match trainer.step_batch()? {
            Step::Batch => observer.on_batch(&trainer.progress()),
            Step::EpochEnd => {
                let report = wait(trainer.finish_epoch())?;
                observer.on_epoch(&report, &trainer.progress());
                after_epoch(file.as_deref_mut(), trainer, extra)?;
            }
            Step::Finished => {
                if let Some(f) = file.as_deref_mut() {
                    f.save(trainer, extra())?;
                }
                return Ok(true);
            }
        }
    }
}

/// Refuse a state folder written by a run of another kind: `expected` is the file this run
/// writes (`run.state` in one process, `member-<k>.state` in workers, per `--threads`).
pub fn check_kind(dir: &StateDir, expected: &StateFile) -> Result<()> {
    let in_workers = expected.path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("member-"));
    let Ok(entries) = std::fs::read_dir(&dir.dir) else { return Ok(()) };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let other = if in_workers { name == "run.state" } else { name.starts_with("member-") && name.ends_with(".state") };
        if other {
            bail!(
                "{} holds the state of a run {} (its {name}): run the same command, with the same --threads, to go on",
                dir.dir.display(),
                if in_workers { "in one process (--threads 1)" } else { "whose members trained in worker processes" }
            );
        }
    }
    Ok(())
}

/// Refuse a state folder on a backend that cannot save its state.
pub fn check_backend(state: Option<&StateDir>, on_cpu: bool) -> Result<()> {
    if state.is_some() && !on_cpu {
        bail!("--state-dir needs the CPU backend (--backend cpu): a GPU draws its random numbers where their position cannot be saved");
    }
    Ok(())
}
