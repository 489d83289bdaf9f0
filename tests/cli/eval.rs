//! `da3d eval`: the protocol's table and JSON, worker processes, the ensemble presets, bench.

use crate::*;

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
    // Each checkpoint's AUC is told when it is reached, not only in the table at the end.
    assert!(stderr(&o).contains("da3d s1 c0.01: DA³D epoch 8: test AUC 0."), "{}", stderr(&o));
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
fn eval_without_labels_says_so() {
    let dir = Dir::new("nolabel");
    let data = dir.file("d.csv", "a,b\n1,2\n3,4\n5,6\n");
    let o = run(&["eval", &data, "--seeds", "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("label column"), "{}", stderr(&o));
}

/// The folder of the shared data sets (`DA3D_DATA_DIR`, default `../shared/datasets`).

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
