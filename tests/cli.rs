//! End-to-end tests: the `da3d` binary as a user runs it, on a small seeded synthetic fixture.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use da3d::synthetic::{SyntheticSpec, synthetic_csv};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_da3d"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run da3d")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("da3d-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn file(&self, name: &str, content: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The default preset (robust) with two members on a short schedule.
const FAST: &[&str] = &["--epochs-aae", "15", "--epochs-pretrain", "3", "--epochs", "8", "--batch-size", "64", "--members", "2", "--quiet"];

/// `da3d train DATA -o MODEL` on the fast schedule, with `extra` flags.
fn train_fast(data: &str, model: &str, extra: &[&str]) -> Output {
    let mut args = vec!["train", data, "-o", model];
    args.extend_from_slice(extra);
    args.extend_from_slice(FAST);
    run(&args)
}

/// `(line, score)` of each row of `da3d score`'s output.
fn score_rows(csv: &str) -> Vec<(String, f32)> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].parse().unwrap())
        })
        .collect()
}

fn fixture(dir: &Dir) -> String {
    dir.file("data.csv", &synthetic_csv(&SyntheticSpec { rows: 800, seed: 11, ..Default::default() }))
}

#[test]
fn train_score_info_round_trip() {
    let dir = Dir::new("roundtrip");
    let data = fixture(&dir);
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &["--seed", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("test: ROC AUC"), "{}", stderr(&o));
    assert!(Path::new(&model).exists());

    let scores = dir.path("scores.csv");
    let o = run(&["score", &model, &data, "-o", &scores]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&scores).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "line,score,anomaly");
    assert_eq!(lines.len(), 801, "one output row per input row");
    assert!(lines[1].starts_with("2,"), "first data row is line 2: {}", lines[1]);
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        let s: f32 = f[1].parse().unwrap();
        assert!(s.is_finite(), "{l}");
        assert!(f[2] == "0" || f[2] == "1");
    }
    assert!(stderr(&o).contains("labels found: ROC AUC"));

    // scoring twice gives the same scores; stdout when no -o
    let o2 = run(&["score", &model, &data]);
    assert!(o2.status.success());
    assert_eq!(stdout(&o2), text);

    let o = run(&["info", &model]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info = stdout(&o);
    for want in ["preset:       robust", "ensemble:     2 members", "seed:         3", "x1: numeric", "kind: categorical", "threshold:"] {
        assert!(info.contains(want), "missing {want:?} in\n{info}");
    }
    let o = run(&["info", &model, "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(h["config"]["seed"], 3);
    assert_eq!(h["config"]["schedule"]["da3d_epochs"], 8);
}

#[test]
fn same_seed_same_model_scores() {
    let dir = Dir::new("seed");
    let data = fixture(&dir);
    let mut out = Vec::new();
    // The two members trained one after another (1 thread) or side by side (2 threads, and 5:
    // no more threads than members; each in a worker process): the same model, to the bit.
    for threads in ["1", "2", "5"] {
        let model = dir.path(&format!("t{threads}.da3d"));
        let o = train_fast(&data, &model, &["--seed", "9", "--threads", threads]);
        assert!(o.status.success(), "{}", stderr(&o));
        let side_by_side = stderr(&o).contains("2 members in 2 worker processes");
        assert_eq!(side_by_side, threads != "1", "{}", stderr(&o));
        out.push(stdout(&run(&["score", &model, &data])));
    }
    assert_eq!(out[0], out[1], "1 and 2 threads");
    assert_eq!(out[0], out[2], "1 and 5 threads");
    let o = train_fast(&data, &dir.path("x.da3d"), &["--threads", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// A member worker whose job cannot be read says which file, and fails.
#[test]
fn a_member_worker_without_its_job_names_the_file() {
    let dir = Dir::new("worker");
    let job = dir.path("no-such-job");
    let o = run(&["member-worker", "--job", &job, "--members", "0", "--threads", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("cannot read {job}/config.json")), "{}", stderr(&o));
}

#[test]
fn a_wide_table_trains_to_the_same_model_on_one_thread_or_two() {
    // 60 inputs: the width rule's 1000-500-200-75 alarm on the decoder's 120…6-wide activations,
    // products large enough to be split over the compute pool's threads (small ones are not).
    let dir = Dir::new("wide-threads");
    let spec = SyntheticSpec { rows: 500, numeric: 60, categorical: false, anomaly_rate: 0.05, seed: 4 };
    let data = dir.file("wide.csv", &synthetic_csv(&spec));
    let mut out = Vec::new();
    for threads in ["1", "2"] {
        let model = dir.path(&format!("w{threads}.da3d"));
        let schedule = ["--members", "1", "--epochs-aae", "2", "--epochs-pretrain", "1", "--epochs", "2", "--quiet"];
        let mut args = vec!["train", &data, "-o", &model, "--seed", "5", "--threads", threads];
        args.extend_from_slice(&schedule);
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        out.push(stdout(&run(&["score", &model, &data])));
    }
    assert!(out[0].lines().count() > 400, "{}", out[0]);
    assert_eq!(out[0], out[1], "1 and 2 threads");
}

#[test]
fn eval_prints_table_and_json() {
    let dir = Dir::new("eval");
    let data = fixture(&dir);
    let json = dir.path("runs.json");
    let mut args = vec![
        "eval", &data, "--seeds", "0,1", "--contamination", "0,0.01", "--methods", "da3d,a3-noise,aae-recon,robust",
        "--checkpoints", "4,8", "--out", &json,
    ];
    args.extend_from_slice(FAST);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains("| 0 | da3d |"), "{table}");
    assert!(table.contains("| 0.01 | a3-noise |"), "{table}");
    assert!(table.contains("epoch 4"), "{table}");
    assert!(table.contains("| 0 | robust |"), "{table}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2 * 2 * 4);
    // The paper preset is eval's default; robust runs its own step budget (here the flags').
    let robust: Vec<_> = runs.iter().filter(|r| r["method"] == "robust").collect();
    assert_eq!(robust.len(), 4);
    assert_eq!(robust[0]["epochs"], serde_json::json!([15, 3, 8]));
    for r in runs {
        let auc = r["test_roc_auc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc));
    }
}

/// `eval` runs its cells (seeds × contamination levels) in worker processes, one per core, and
/// gets the numbers one process gets running them one after another; a failing worker's message
/// comes back.
#[test]
fn eval_in_worker_processes_gives_the_numbers_of_one_process() {
    let dir = Dir::new("eval-workers");
    let data = fixture(&dir);
    let eval = |threads: &str| {
        let mut args = vec![
            "eval", &data, "--seeds", "0,1,2", "--contamination", "0,0.01", "--methods", "da3d,aae-recon,robust",
            "--checkpoints", "4", "--json", "--threads", threads,
        ];
        args.extend_from_slice(FAST);
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("eval --json prints JSON");
        let mut runs = v["runs"].as_array().unwrap().clone();
        for r in &mut runs {
            r.as_object_mut().unwrap().remove("seconds");
        }
        (runs, stderr(&o))
    };
    let (one, said_one) = eval("1");
    let (two, said_two) = eval("2");
    assert!(!said_one.contains("worker processes"), "{said_one}");
    assert!(said_two.contains("6 runs of the protocol (seeds × contamination levels) in 2 worker processes"), "{said_two}");
    assert!(said_two.contains("seed 2, contamination 0.01: train"), "a worker's notes are passed on: {said_two}");
    assert_eq!(one.len(), 3 * 2 * 3);
    assert_eq!(one, two, "the same runs, in the same order, to the last bit");

    let bad = dir.file("bad.json", r#"{"architecture": {"encoder": [0]}}"#);
    let mut args = vec!["eval", &data, "--seeds", "0,1", "--contamination", "0", "--config", &bad, "--threads", "2"];
    args.extend_from_slice(FAST);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("eval failed (seed ") && stderr(&o).contains("bad.json"), "{}", stderr(&o));
}

/// `eval --preset robust|quick` without `--methods` evaluates that preset's ensemble (whose schedule
/// trains no alarm), rather than failing on the paper's methods that read one.
#[test]
fn eval_with_an_ensemble_preset_runs_its_ensemble() {
    let dir = Dir::new("eval-preset");
    let data = fixture(&dir);
    let o = run(&[
        "eval", &data, "--preset", "quick", "--seeds", "0", "--contamination", "0", "--epochs-aae", "5",
        "--batch-size", "64", "--members", "1", "--json", "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("eval --json prints JSON");
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{v}");
    assert_eq!(runs[0]["method"], "quick");
    assert_eq!(runs[0]["epochs"], serde_json::json!([5, 0, 0]));
}

#[test]
fn bad_input_gives_exit_code_1_and_names_file_and_line() {
    let dir = Dir::new("bad");
    let ragged = dir.file("ragged.csv", "a,b,label\n1,2,0\n3,4\n");
    let model = dir.path("m.da3d");
    let o = run(&["train", &ragged, "-o", &model]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("ragged.csv") && e.contains("line 3"), "{e}");
    assert!(!Path::new(&model).exists(), "no model written");

    let badlabel = dir.file("badlabel.csv", "a,label\n1,0\n2,yes\n");
    let o = run(&["train", &badlabel, "-o", &model]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("line 3") && stderr(&o).contains("'yes'"), "{}", stderr(&o));

    let notmodel = dir.file("notmodel.da3d", "hello");
    let o = run(&["score", &notmodel, &ragged]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("notmodel.da3d") && stderr(&o).contains("not a da3d model"), "{}", stderr(&o));

    let o = run(&["train", "/nonexistent/x.csv", "-o", &model]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/x.csv"));
}

#[test]
fn score_reports_bad_rows_and_can_skip_them() {
    let dir = Dir::new("skip");
    let data = fixture(&dir);
    let model = dir.path("m.da3d");
    assert!(train_fast(&data, &model, &[]).status.success());
    let mut text = std::fs::read_to_string(&data).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let good = text.lines().nth(1).unwrap().to_string();
    text = format!("{header}\n{good}\nnot_a_number,1,2,3,4,5,a,0\n{good}\n");
    let bad = dir.file("bad.csv", &text);
    let out = dir.path("out.csv");
    let o = run(&["score", &model, &bad, "-o", &out]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.csv") && stderr(&o).contains("line 3") && stderr(&o).contains("'x1'"), "{}", stderr(&o));
    assert!(!Path::new(&out).exists(), "no half-written output");
    let o = run(&["score", &model, &bad, "-o", &out, "--skip-bad-rows"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("skipped 1 bad rows"));
    let lines: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(String::from).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[2].starts_with("4,"));

    // a CSV without a column the model needs
    let other = dir.file("other.csv", "x1,label\n1,0\n");
    let o = run(&["score", &model, &other]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("'x2'"), "{}", stderr(&o));
}

#[test]
fn usage_errors_give_exit_code_2() {
    let o = run(&["train"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["train", "x.csv", "-o", "m", "--preset", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid value 'nonsense'") && stderr(&o).contains("paper"), "{}", stderr(&o));
    let dir = Dir::new("usage");
    let data = fixture(&dir);
    let cfg = dir.file("cfg.json", r#"{"schedule": {"batch_size": 0}}"#);
    // an invalid value in a config file is a data error (1) naming the file and the field
    let o = run(&["train", &data, "-o", &dir.path("m"), "--config", &cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("schedule.batch_size") && stderr(&o).contains("cfg.json"), "{}", stderr(&o));
    // the same value given as a flag is a usage error (2)
    let o = run(&["train", &data, "-o", &dir.path("m"), "--batch-size", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("schedule.batch_size"), "{}", stderr(&o));
    let cfg = dir.file("cfg2.json", r#"{"schedule": {"epochz": 3}}"#);
    let o = run(&["train", &data, "-o", &dir.path("m"), "--config", &cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("schedule.epochz") && stderr(&o).contains("cfg2.json"), "{}", stderr(&o));
    for cmd in ["train", "score", "eval", "info", "bench"] {
        let o = run(&[cmd, "--help"]);
        assert!(o.status.success());
        assert!(stdout(&o).contains("Example"), "{cmd} --help has an example");
    }
}

#[test]
fn streaming_in_small_batches_gives_the_same_scores() {
    let dir = Dir::new("stream");
    let data = fixture(&dir);
    let model = dir.path("m.da3d");
    assert!(train_fast(&data, &model, &[]).status.success());
    let whole = stdout(&run(&["score", &model, &data]));
    let small = stdout(&run(&["score", &model, &data, "--batch-rows", "7"]));
    let (a, b) = (score_rows(&whole), score_rows(&small));
    assert_eq!(a.len(), 800);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        // batch size changes the matmul blocking: the last bits may differ
        assert!(x.0 == y.0 && (x.1 - y.1).abs() < 1e-5, "line {}: {} vs {}", x.0, x.1, y.1);
    }
}

#[test]
fn eval_without_labels_says_so() {
    let dir = Dir::new("nolabel");
    let data = dir.file("d.csv", "a,b\n1,2\n3,4\n5,6\n");
    let o = run(&["eval", &data, "--seeds", "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("label column"), "{}", stderr(&o));
}

/// The folder of the shared data sets (`DA3D_DATA_DIR`, default `../shared/datasets`).
fn data_dir() -> PathBuf {
    std::env::var_os("DA3D_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"))
}

/// Whether a test may skip when its data or device is missing: only when `DA3D_ALLOW_SKIP=1`.
fn allow_skip() -> bool {
    std::env::var("DA3D_ALLOW_SKIP").as_deref() == Ok("1")
}

/// Test ROC AUC of `da3d eval` (DA³D, seed 0, clean) on Mammography with a short schedule
/// (5/2/5 epochs at batch 1024: about 3.5 minutes on lavapipe, 6 seconds on the CPU).
fn short_mammography_auc(data: &str, backend: &str) -> (f64, String) {
    let o = run(&[
        "eval", data, "--dataset", "mammography", "--methods", "da3d", "--seeds", "0", "--contamination", "0",
        "--epochs-aae", "5", "--epochs-pretrain", "2", "--epochs", "5", "--batch-size", "1024", "--backend", backend,
        "--json", "--quiet",
    ]);
    assert!(o.status.success(), "{backend}: {}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("eval --json prints JSON");
    let auc = report["runs"][0]["test_roc_auc"].as_f64().expect("one run with a test AUC");
    (auc, report["backend"].as_str().unwrap_or("").to_string())
}

/// The GPU path: burn's wgpu backend (Mesa's lavapipe in CI, where `DA3D_REQUIRE_WGPU=1`) trains
/// from the same seed to a test AUC within 0.03 of the CPU run.
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_training_is_within_003_auc_of_the_cpu() {
    let data = data_dir().join("mammography.csv");
    if !data.exists() {
        assert!(allow_skip(), "{} is absent: set DA3D_DATA_DIR (or DA3D_ALLOW_SKIP=1 to skip)", data.display());
        eprintln!("SKIPPED (DA3D_ALLOW_SKIP=1): {} is absent", data.display());
        return;
    }
    let probe = run(&["bench", "--rows", "64", "--cols", "3", "--epochs", "1", "--backends", "wgpu"]);
    if !probe.status.success() {
        assert!(
            allow_skip() && std::env::var("DA3D_REQUIRE_WGPU").as_deref() != Ok("1"),
            "wgpu has no adapter (DA3D_ALLOW_SKIP=1 without DA3D_REQUIRE_WGPU=1 skips): {}",
            stderr(&probe)
        );
        eprintln!("SKIPPED (DA3D_ALLOW_SKIP=1): no wgpu adapter here ({})", stderr(&probe).trim());
        return;
    }
    let data = data.display().to_string();
    let (cpu, cpu_name) = short_mammography_auc(&data, "cpu");
    let (gpu, gpu_name) = short_mammography_auc(&data, "wgpu");
    eprintln!("Mammography, 5/2/5 epochs, seed 0: {cpu_name} AUC {cpu:.4}, {gpu_name} AUC {gpu:.4}");
    assert!(gpu_name.starts_with("wgpu ("), "{gpu_name}");
    assert!(cpu > 0.7 && gpu > 0.7, "cpu {cpu}, wgpu {gpu}");
    assert!((cpu - gpu).abs() <= 0.03, "cpu {cpu:.4} vs wgpu {gpu:.4}");

    // A model trained on the CPU scores the same on the GPU.
    let dir = Dir::new("wgpu-score");
    let fixture = fixture(&dir);
    let model = dir.path("m.da3d");
    assert!(train_fast(&fixture, &model, &[]).status.success());
    let scores = |backend: &str| -> Vec<(String, f32)> {
        let o = run(&["score", &model, &fixture, "--backend", backend]);
        assert!(o.status.success(), "{backend}: {}", stderr(&o));
        score_rows(&stdout(&o))
    };
    let (on_cpu, on_gpu) = (scores("cpu"), scores("wgpu"));
    assert_eq!(on_cpu.len(), on_gpu.len());
    let max_diff = on_cpu.iter().zip(&on_gpu).map(|(a, b)| (a.1 - b.1).abs()).fold(0.0, f32::max);
    assert!(max_diff < 1e-4, "CPU-trained model: scores on wgpu differ by {max_diff}");
}

/// The DoH and URL presets on synthetic files of their published layouts: `eval --dataset` finds
/// the file in `DA3D_DATA_DIR`, prints the Table 2 shape with the paper's row, and a model
/// trained on text labels scores a file with them.
#[test]
fn doh_and_url_presets_on_their_layouts() {
    let dir = Dir::new("layouts");
    dir.file("doh.csv", &da3d::synthetic::layout_csv("doh", 800, 0.08, 5).unwrap());
    let url = dir.file("url.csv", &da3d::synthetic::layout_csv("url", 800, 0.15, 6).unwrap());
    let mut args = vec!["eval", "--dataset", "doh", "--seeds", "0", "--contamination", "0,0.01", "--methods", "da3d,aae-recon"];
    args.extend_from_slice(FAST);
    let o = bin().args(&args).env("DA3D_DATA_DIR", &dir.0).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains("| method | clean | 1 % contaminated |"), "{table}");
    assert!(table.contains("| DA³D, paper's Table 2 | 0.81 ± 0.05 | 0.74 ± 0.05 |"), "{table}");
    assert!(stderr(&o).contains("16 of 800 rows dropped for missing or non-finite"), "{}", stderr(&o));

    // no file for the named data set
    let o = bin().args(["eval", "--dataset", "url"]).env("DA3D_DATA_DIR", dir.path("nowhere")).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("DA3D_DATA_DIR") && stderr(&o).contains("url.csv"), "{}", stderr(&o));

    // URL: text labels (four attack classes) travel with the model into scoring
    let model = dir.path("url.da3d");
    let o = train_fast(&url, &model, &["--dataset", "url"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The bundle keeps the data set's reading rules: rows with NaN or Infinity are not scored, as
    // they were not trained on, and the user is told (no --skip-bad-rows needed).
    let o = run(&["score", &model, &url, "-o", &dir.path("s.csv")]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("rows not scored") && stderr(&o).contains("first at line 9, column 'argPathRatio'"), "{}", stderr(&o));
    let auc: f64 = stderr(&o).split("ROC AUC ").nth(1).and_then(|s| s.split(',').next()).unwrap().parse().unwrap();
    assert!(auc > 0.7, "AUC {auc} of a model trained on the URL layout (0.80 when written; 0.5 is chance)");

    // split --export: the preprocessed rows for other tools (Isolation Forest)
    let out = dir.path("export");
    let o = run(&["split", &url, "--dataset", "url", "--seed", "1", "--export", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let (rows, cols) = (v["train_shape"][0].as_u64().unwrap(), v["train_shape"][1].as_u64().unwrap());
    assert_eq!(cols, 79);
    assert_eq!(std::fs::metadata(dir.path("export/train.f32")).unwrap().len(), rows * cols * 4);
    let test_rows = v["test_shape"][0].as_u64().unwrap();
    assert_eq!(std::fs::metadata(dir.path("export/test_labels.u8")).unwrap().len(), test_rows);
    assert_eq!(v["label_column"], "URL_Type_obf_Type");
}

// ---------------------------------------------------------------------------------------------
// Files read right or refused (each case of the robustness list in docs/robustness.md).

/// Quantile as the bundle records it (linear between order statistics).
fn quantile(values: &[f32], q: f64) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64) as f32
}

fn info_json(model: &str) -> serde_json::Value {
    let o = run(&["info", model, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A seeded table without labels: two numeric columns and a categorical one whose cells are
/// text or number-like (`1.0`, `02`), written with `delimiter`.
fn mixed_table(rows: usize, delimiter: char) -> String {
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

#[test]
fn scoring_the_training_file_gives_the_training_scores() {
    // Number-like cells of a categorical column ("1.0", "02") encode alike when the table is read
    // for training and when `score` streams the file (they were unseen categories before).
    // Without the neighbours term: with it a training row's own score leaves the row out of its
    // neighbours, which `score`, seeing the row as a new one, cannot (below).
    let dir = Dir::new("samescores");
    let data = dir.file("t.csv", &mixed_table(300, ','));
    let no_neighbours = dir.file("c.json", r#"{"ensemble": {"neighbours": 0}}"#);
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &["--seed", "2", "--config", &no_neighbours]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["score", &model, &data]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("not seen in training"), "{}", stderr(&o));
    let scores: Vec<f32> = score_rows(&stdout(&o)).into_iter().map(|r| r.1).collect();
    assert_eq!(scores.len(), 300);
    let h = info_json(&model);
    assert!(h.get("neighbours").is_none());
    for pair in h["train_score_quantiles"].as_array().unwrap() {
        let (q, want) = (pair[0].as_f64().unwrap(), pair[1].as_f64().unwrap() as f32);
        let got = quantile(&scores, q);
        assert!((got - want).abs() < 1e-5, "quantile {q}: scored {got}, training {want}");
    }
    // With it (the default): each training row counts itself at distance 0 when scored as a new
    // row, so it scores at most its training score (nearer neighbours), and the file's
    // quantiles sit at or below the training ones.
    let with = dir.path("n.da3d");
    let o = train_fast(&data, &with, &["--seed", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h = info_json(&with);
    assert_eq!(h["neighbours"]["k"], 5, "{}", h["neighbours"]);
    let o = run(&["score", &with, &data]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scores: Vec<f32> = score_rows(&stdout(&o)).into_iter().map(|r| r.1).collect();
    for pair in h["train_score_quantiles"].as_array().unwrap() {
        let (q, want) = (pair[0].as_f64().unwrap(), pair[1].as_f64().unwrap() as f32);
        assert!(quantile(&scores, q) <= want + 1e-5, "quantile {q}: scored {}, training {want}", quantile(&scores, q));
    }
}

#[test]
fn delimiters_are_sniffed_or_given_and_a_wrong_one_is_refused() {
    let dir = Dir::new("delim");
    let semi = dir.file("semi.csv", &mixed_table(200, ';'));
    let model = dir.path("m.da3d");
    let o = train_fast(&semi, &model, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("separated by ';'"), "{}", stderr(&o));
    let h = info_json(&model);
    assert_eq!(h["preprocessor"]["columns"].as_array().unwrap().len(), 3, "x1, x2, code: not one column");
    assert_eq!(h["read"]["delimiter"], b';' as u64);
    // the model scores the same file, and a comma file of the same columns
    let o = run(&["score", &model, &semi]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(score_rows(&stdout(&o)).len(), 200);
    let comma = dir.file("comma.csv", &mixed_table(50, ','));
    assert!(run(&["score", &model, &comma]).status.success());
    // tab, given by name
    let tab = dir.file("tab.tsv", &mixed_table(200, '\t'));
    let o = train_fast(&tab, &model, &["--delimiter", "tab"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // a delimiter forced wrongly: one header column holding ';' is refused, naming line 1
    let o = train_fast(&semi, &model, &["--delimiter", ","]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("semi.csv") && stderr(&o).contains("line 1") && stderr(&o).contains("--delimiter ';'"), "{}", stderr(&o));
    let o = run(&["train", &semi, "-o", &model, "--delimiter", "ab"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn missing_value_markers_keep_a_column_numeric_and_mostly_numeric_text_is_refused() {
    let dir = Dir::new("missing");
    let mut text = String::from("a,b,label\n");
    for i in 0..60 {
        let a = if i == 7 { "?".to_string() } else { format!("{}.5", i % 13) };
        let b = if i == 11 { "NA".to_string() } else { format!("{}", (i * 7) % 10) };
        text.push_str(&format!("{a},{b},0\n"));
    }
    let data = dir.file("q.csv", &text);
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("2 cells hold a missing-value marker") && e.contains("line 9, column 'a'"), "{e}");
    assert!(e.contains("2 of 60 rows dropped"), "{e}");
    let h = info_json(&model);
    assert_eq!(h["networks"]["aae"]["d_input"], 2, "two numeric inputs, not one per distinct number");

    // a mostly numeric column with a text cell: refused, naming line, column and text
    let bad = dir.file("bad.csv", &text.replacen("3.5,", "three,", 1));
    let o = train_fast(&bad, &model, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("bad.csv") && e.contains("line 5") && e.contains("'a'") && e.contains("'three'") && e.contains("--categorical"), "{e}");
    // ... unless named categorical
    let o = train_fast(&bad, &model, &["--categorical", "a"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn normal_rows_only_train_with_a_note() {
    let dir = Dir::new("allnormal");
    let text = synthetic_csv(&SyntheticSpec { rows: 300, anomaly_rate: 0.0, seed: 4, ..Default::default() });
    let data = dir.file("normal.csv", &text);
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("only normal rows") && stderr(&o).contains("no test evaluation"), "{}", stderr(&o));
    assert_eq!(info_json(&model)["training_rows"], 300);
    // contamination needs anomalies to mix in; so does an unlabelled file
    let o = train_fast(&data, &model, &["--contamination", "0.01"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("contamination"), "{}", stderr(&o));
    let unlabelled = dir.file("u.csv", &mixed_table(100, ','));
    let o = train_fast(&unlabelled, &model, &["--contamination", "0.05"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no label column"), "{}", stderr(&o));
}

#[test]
fn config_file_seed_and_method_are_kept_unless_flags_say_otherwise() {
    let dir = Dir::new("cfgseed");
    let data = fixture(&dir);
    let cfg = dir.file("c.json", r#"{"seed": 5, "method": "a3-noise"}"#);
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &["--config", &cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h = info_json(&model);
    assert_eq!((h["config"]["seed"].as_u64(), h["config"]["method"].as_str()), (Some(5), Some("a3-noise")));
    let o = train_fast(&data, &model, &["--config", &cfg, "--seed", "6", "--method", "da3d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h = info_json(&model);
    assert_eq!((h["config"]["seed"].as_u64(), h["config"]["method"].as_str()), (Some(6), Some("da3d")));
    // the bundle's metrics have one schema
    for key in ["roc_auc", "average_precision", "rows", "anomalies"] {
        assert!(h["metrics"][key].is_number(), "metrics.{key} in {}", h["metrics"]);
    }
}

#[test]
fn out_of_range_numbers_are_usage_errors_not_panics() {
    let dir = Dir::new("ranges");
    let data = fixture(&dir);
    let model = dir.path("m.da3d");
    for args in [
        vec!["score", &model, &data, "--batch-rows", "10000000000"],
        vec!["score", &model, &data, "--batch-rows", "0"],
        vec!["train", &data, "-o", &model, "--epochs", "18446744073709551615"],
        vec!["train", &data, "-o", &model, "--epochs-aae", "1000001"],
        vec!["train", &data, "-o", &model, "--threshold-rate", "0.9"],
        vec!["train", &data, "-o", &model, "--contamination", "-1"],
        vec!["train", &data, "-o", &model, "--batch-size", "100000000"],
        vec!["train", &data, "-o", &model, "--members", "0"],
        vec!["train", &data, "-o", &model, "--members", "65"],
        vec!["synth", "--rows", "1000000000000", "--anomaly-rate", "0.1"],
        vec!["synth", "--anomaly-rate", "2"],
        vec!["bench", "--epochs", "18446744073709551615"],
        vec!["eval", &data, "--checkpoints", "99999999999"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
    let cfg = dir.file("huge.json", r#"{"schedule": {"da3d_epochs": 18446744073709551615}}"#);
    let o = run(&["train", &data, "-o", &model, "--config", &cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("huge.json") && stderr(&o).contains("schedule.da3d_epochs"), "{}", stderr(&o));
}

#[test]
fn values_far_outside_the_training_range_are_reported_as_limited() {
    let dir = Dir::new("limited");
    let data = fixture(&dir);
    let model = dir.path("m.da3d");
    assert!(train_fast(&data, &model, &[]).status.success());
    let text = std::fs::read_to_string(&data).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let row = lines.next().unwrap();
    let huge = row.replacen(row.split(',').next().unwrap(), "1e30", 1);
    let file = dir.file("huge.csv", &format!("{header}\n{row}\n{huge}\n"));
    let o = run(&["score", &model, &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 beyond ±1e6 limited to it"), "{}", stderr(&o));
}

#[test]
fn bench_with_a_named_data_set_reads_its_file() {
    let data = data_dir().join("mammography.csv");
    if !data.exists() {
        assert!(allow_skip(), "{} is absent: set DA3D_DATA_DIR (or DA3D_ALLOW_SKIP=1 to skip)", data.display());
        return;
    }
    let o = bin()
        .args(["bench", "--dataset", "mammography", "--steps", "2", "--backends", "cpu"])
        .env("DA3D_DATA_DIR", data_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("mammography.csv") && out.contains("6 inputs") && !out.contains("synthetic"), "{out}");
}

#[test]
fn score_explain_names_the_column_that_is_off() {
    // x2 follows x1 (x2 = x1 / 2 + noise); a row with x2 far outside its training range must be
    // explained by x2 first, with its value and a share; the categorical column gets a category.
    let dir = Dir::new("explain");
    let data = dir.file("t.csv", &mixed_table(400, ','));
    let model = dir.path("m.da3d");
    let o = train_fast(&data, &model, &["--seed", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let new = dir.file("new.csv", "x1,x2,code\n5.0,2.9,a\n5.0,40,a\n");
    let o = run(&["score", &model, &new, "--explain", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines[0], ["line", "score", "anomaly", "feature_1", "value_1", "share_1", "feature_2", "value_2", "share_2"]);
    assert_eq!(lines.len(), 3, "{out}");
    let far = &lines[2];
    assert_eq!((far[3], far[4]), ("x2", "40"), "{out}");
    let share: f64 = far[5].parse().unwrap();
    assert!(share > 0.5 && share <= 1.0, "{out}");
    let normal_score: f64 = lines[1][1].parse().unwrap();
    assert!(far[1].parse::<f64>().unwrap() > normal_score, "{out}");
    // --explain without a number gives three columns, capped at the model's three source columns.
    let o = run(&["score", &model, &new, "--explain"]);
    assert!(stdout(&o).starts_with("line,score,anomaly,feature_1,value_1,share_1,feature_2,value_2,share_2,feature_3,value_3,share_3\n"));
    let o = run(&["score", &model, &new, "--explain", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
