//! `--state-dir`: a run stopped by SIGINT and started again writes the model an uninterrupted run
//! writes, byte for byte, in one process and in member workers; a state of another config is
//! refused.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{Dir, bin, fixture, run, stderr};

/// The paper's networks with every phase (AAE, pretraining, DA³D) and two members, long enough
/// to be stopped in the middle.
const SCHEDULE: &[&str] = &["--members", "2", "--epochs-aae", "40", "--epochs-pretrain", "5", "--epochs", "40", "--batch-size", "64", "--quiet"];

fn train_args<'a>(data: &'a str, model: &'a str, threads: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", data, "-o", model, "--method", "da3d", "--threads", threads];
    args.extend_from_slice(SCHEDULE);
    args.extend_from_slice(extra);
    args
}

/// Start `args`, wait until a `.state` file is in `state` (and a moment more), then SIGINT.
#[cfg(unix)]
fn interrupt(args: &[&str], state: &Path) -> std::process::Output {
    let child = bin().args(args).env("DA3D_TEST_BATCH_DELAY_MS", "3").stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_dir(state).map(|d| d.flatten().any(|e| e.path().extension().is_some_and(|x| x == "state"))).unwrap_or(false) {
        assert!(Instant::now() < deadline, "no state was saved");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn a_run_stopped_by_sigint_goes_on_to_the_same_model_byte_for_byte() {
    let dir = Dir::new("state");
    let data = fixture(&dir);
    for threads in ["1", "2"] {
        let whole = dir.path(&format!("whole-{threads}.da3d"));
        let o = run(&train_args(&data, &whole, threads, &[]));
        assert!(o.status.success(), "{}", stderr(&o));

        let state = dir.0.join(format!("state-{threads}"));
        let state_arg = state.display().to_string();
        let resumed = dir.path(&format!("resumed-{threads}.da3d"));
        let args = train_args(&data, &resumed, threads, &["--state-dir", &state_arg, "--state-every", "1"]);
        let o = interrupt(&args, &state);
        assert_eq!(o.status.code(), Some(130), "threads {threads}: {}", stderr(&o));
        assert!(stderr(&o).contains("run the same command again to go on"), "{}", stderr(&o));
        assert!(!Path::new(&resumed).exists(), "no model from a stopped run");

        // Another schedule is refused, naming what differs.
        let mut other = args.clone();
        let at = other.iter().position(|&a| a == "--epochs").unwrap() + 1;
        other[at] = "41";
        let o = run(&other);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("another config") && stderr(&o).contains("schedule.da3d_epochs: 40 there, 41 here"), "{}", stderr(&o));

        let o = run(&args);
        assert!(o.status.success(), "threads {threads}: {}", stderr(&o));
        assert!(stderr(&o).contains("going on from the training state"), "{}", stderr(&o));
        assert!(std::fs::read(&resumed).unwrap() == std::fs::read(&whole).unwrap(), "threads {threads}: the resumed model differs");
        assert!(!state.exists(), "the state is removed once the model is written");
    }
    // A bundle is one file per training: two uninterrupted runs write the same bytes.
    let again = dir.path("again.da3d");
    assert!(run(&train_args(&data, &again, "1", &[])).status.success());
    assert!(std::fs::read(&again).unwrap() == std::fs::read(dir.path("whole-1.da3d")).unwrap());
}

#[test]
fn a_state_folder_needs_the_cpu_and_the_same_threads() {
    let dir = Dir::new("state-kind");
    let data = fixture(&dir);
    let state = dir.path("s");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(dir.0.join("s/member-0.state"), b"x").unwrap();
    let model = dir.path("m.da3d");
    let o = run(&train_args(&data, &model, "1", &["--state-dir", &state]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("whose members trained in worker processes"), "{}", stderr(&o));
}

/// A run removes its own state once its model is written, and only its own: another run's state
/// in the same folder (an `eval` of another seed, say) stays, and so does the folder.
#[test]
fn a_finished_run_leaves_other_runs_states_in_its_folder() {
    let dir = Dir::new("state-shared");
    let data = fixture(&dir);
    for threads in ["1", "2"] {
        let state = dir.0.join(format!("shared-{threads}"));
        std::fs::create_dir_all(&state).unwrap();
        let other = state.join("paper-s2-c0.01-da3d.state");
        std::fs::write(&other, b"another run's state").unwrap();
        let model = dir.path(&format!("m-{threads}.da3d"));
        let state_arg = state.display().to_string();
        let args = [
            "train", &data, "-o", &model, "--method", "da3d", "--threads", threads, "--members", "2", "--epochs-aae", "2",
            "--epochs-pretrain", "1", "--epochs", "2", "--batch-size", "64", "--quiet", "--state-dir", &state_arg,
            "--state-every", "1",
        ];
        let o = run(&args);
        assert!(o.status.success(), "threads {threads}: {}", stderr(&o));
        assert!(Path::new(&model).exists());
        let left: Vec<String> =
            std::fs::read_dir(&state).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(left, vec!["paper-s2-c0.01-da3d.state".to_string()], "threads {threads}: only the other run's state stays");
        assert_eq!(std::fs::read(&other).unwrap(), b"another run's state");
    }
}
