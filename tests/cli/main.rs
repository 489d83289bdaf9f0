//! End-to-end tests: the `da3d` binary as a user runs it, on small seeded synthetic fixtures and
//! the data sets. `train_score` trains, scores and explains; `eval` runs the protocol; `inputs` reads
//! files users write; `strangers` the files and runs that must never exhaust memory, give a
//! silently wrong model or lose work; `state` stopping and going on.

mod eval;
mod inputs;
mod state;
mod strangers;
mod train_score;

use std::path::PathBuf;
use std::process::{Command, Output};

use da3d::synthetic::{SyntheticSpec, synthetic_csv};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_da3d"))
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run da3d")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("da3d-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    pub fn file(&self, name: &str, content: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The default preset (robust) with two members on a short schedule.
pub const FAST: &[&str] = &["--epochs-aae", "15", "--epochs-pretrain", "3", "--epochs", "8", "--batch-size", "64", "--members", "2", "--quiet"];

/// `da3d train DATA -o MODEL` on the fast schedule, with `extra` flags.
pub fn train_fast(data: &str, model: &str, extra: &[&str]) -> Output {
    let mut args = vec!["train", data, "-o", model];
    args.extend_from_slice(extra);
    args.extend_from_slice(FAST);
    run(&args)
}

/// `(line, score)` of each row of `da3d score`'s output.
pub fn score_rows(csv: &str) -> Vec<(String, f32)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].parse().unwrap())
        })
        .collect()
}

pub fn fixture(dir: &Dir) -> String {
    dir.file("data.csv", &synthetic_csv(&SyntheticSpec { rows: 800, seed: 11, ..Default::default() }))
}

pub fn data_dir() -> PathBuf {
    std::env::var_os("DA3D_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"))
}

/// Whether a test may skip when its data or device is missing: only when `DA3D_ALLOW_SKIP=1`.
pub fn allow_skip() -> bool {
    std::env::var("DA3D_ALLOW_SKIP").as_deref() == Ok("1")
}

/// Test ROC AUC of `da3d eval` (DA³D, seed 0, clean) on Mammography with a short schedule
/// (5/2/5 epochs at batch 1024: about 3.5 minutes on lavapipe, 6 seconds on the CPU).

pub fn quantile(values: &[f32], q: f64) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64) as f32
}

pub fn info_json(model: &str) -> serde_json::Value {
    let o = run(&["info", model, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A seeded table without labels: two numeric columns and a categorical one whose cells are
/// text or number-like (`1.0`, `02`), written with `delimiter`.
pub fn mixed_table(rows: usize, delimiter: char) -> String {
    let mut rng = 17u64;
    let mut next = move || {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) as usize
    };
    let mut text = format!("x1{d}x2{d}code\n", d = delimiter);
    for i in 0..rows {
        let code = if i % 2 == 0 { ["a", "b"][next() % 2] } else { ["1.0", "02", "3"][next() % 3] };
        let x1 = (next() % 1000) as f64 / 100.0;
        let x2 = x1 * 0.5 + (next() % 100) as f64 / 100.0;
        text.push_str(&format!("{x1}{d}{x2}{d}{code}\n", d = delimiter));
    }
    text
}
