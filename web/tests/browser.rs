//! The JS-facing `Workbench` inside headless Chromium (wasm-bindgen-test): a short training run and
//! scoring on WebGPU (SwiftShader in CI) and on the CPU backend, and a bundle round trip.
//!
//! Run: `scripts/test.sh` (or `cargo test -p da3d-web --target wasm32-unknown-unknown` with
//! `CHROMEDRIVER=/usr/bin/chromedriver`; the runner and `web/webdriver.json` do the rest).
#![cfg(target_arch = "wasm32")]

use da3d::synthetic::{SyntheticSpec, synthetic_csv};
use da3d_web::Workbench;
use serde_json::Value;
use wasm_bindgen::{JsError, JsValue};
use wasm_bindgen_test::*;

// In a dedicated worker, as the page trains: the main thread stays free for the runner's polling
// (in the main thread, a long SwiftShader step made ChromeDriver time out after 30 s).
wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// The message of a `JsError`.
fn message(e: JsError) -> String {
    js_sys::Error::from(JsValue::from(e)).message().as_string().unwrap_or_default()
}

/// Unwrap a workbench call, failing the test with its message.
fn ok<T>(r: Result<T, JsError>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {}", message(e)))
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("the workbench returns JSON")
}

/// Load a small synthetic set, train 1/1/1 epochs at batch 256, finish and score the file.
/// Returns (backend, finish results, score_loaded results, epoch reports).
async fn train_short(bench: &Workbench) -> (Value, Value, Value, Vec<Value>) {
    let csv = synthetic_csv(&SyntheticSpec { rows: 800, numeric: 5, categorical: true, anomaly_rate: 0.06, seed: 3 });
    let summary = json(&ok(bench.load_csv(csv.as_bytes(), r#"{"label": "label"}"#), "load"));
    assert!(summary.to_string().contains("label"), "summary: {summary}");
    let settings = r#"{"preset": "reference", "aae_epochs": 2, "pretrain_epochs": 1, "da3d_epochs": 1, "batch_size": 256, "seed": 5}"#;
    ok(bench.start(settings, 0.05), "start");
    let reports = step_to_end(bench).await;
    let results = json(&ok(bench.finish().await, "finish"));
    let scored = json(&ok(bench.score_loaded().await, "score"));
    (json(&bench.backend()), results, scored, reports)
}

/// Step a started training to its end; the epoch reports. After each epoch the held-out rows
/// are scored (the page's live curve) and checked.
async fn step_to_end(bench: &Workbench) -> Vec<Value> {
    let mut reports = Vec::new();
    for _ in 0..1000 {
        let step = json(&ok(bench.step(64).await, "step"));
        if !step["report"].is_null() {
            reports.push(step["report"].clone());
            let held = json(&ok(bench.held_out().await, "held_out"));
            let auc = held["roc_auc"].as_f64().expect("labelled data: a held-out AUC");
            assert!((0.0..=1.0).contains(&auc), "{held}");
            assert_eq!(held["scores"].as_array().unwrap().len(), held["labels"].as_array().unwrap().len());
        }
        if step["done"].as_bool() == Some(true) {
            break;
        }
    }
    reports
}

fn check_run(backend: &Value, results: &Value, scored: &Value, reports: &[Value]) {
    // Every epoch of every phase reported, with finite losses.
    assert_eq!(reports.len(), 2 + 1 + 1, "{backend}: epoch reports {reports:?}");
    for r in reports {
        let text = r.to_string();
        assert!(!text.contains("null") && !text.contains("NaN"), "{backend}: non-finite loss in {text}");
    }
    // The synthetic anomalies lie away from both clusters: even 4 epochs rank them above chance
    // (measured: 0.747 on the CPU, 0.733 on SwiftShader WebGPU; the test split holds ~7 anomalies).
    let auc = results["metrics"]["roc_auc"].as_f64().expect("labelled data gives an AUC");
    assert!(auc > 0.65, "{backend}: test AUC {auc}");
    let scores = scored["scores"].as_array().expect("scores");
    assert_eq!(scores.len(), 800, "{backend}: one score per row");
    assert!(scores.iter().all(|s| s.as_f64().is_some_and(f64::is_finite)), "{backend}: finite scores");
}

#[wasm_bindgen_test]
async fn trains_and_scores_on_the_cpu_backend() {
    let bench = Workbench::create(false).await;
    let (backend, results, scored, reports) = train_short(&bench).await;
    assert_eq!(backend["name"], "cpu", "{backend}");
    check_run(&backend, &results, &scored, &reports);

    // Export, import into a fresh workbench, score the same file: the same scores.
    let bytes = ok(bench.export_bundle().await, "export");
    assert!(bytes.starts_with(b"DA3DMODL"), "bundle magic");
    let other = Workbench::create(false).await;
    let csv = synthetic_csv(&SyntheticSpec { rows: 800, numeric: 5, categorical: true, anomaly_rate: 0.06, seed: 3 });
    ok(other.load_csv(csv.as_bytes(), r#"{"label": "label"}"#), "load");
    ok(other.import_bundle(&bytes), "import");
    let again = json(&ok(other.score_loaded().await, "score"));
    let (a, b) = (scored["scores"].as_array().unwrap(), again["scores"].as_array().unwrap());
    assert_eq!(a.len(), b.len());
    let max_diff = a.iter().zip(b).map(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs()).fold(0.0, f64::max);
    assert!(max_diff < 1e-6, "imported bundle scores differ by {max_diff}");

    // The networks are sized for the model inputs of the training rows (5 numbers and the kinds
    // a and b of the normal rows: 7 inputs; the width rule's first layer is 2 × 7), not row 0's.
    let defaults = json(&ok(other.default_config("reference"), "config"));
    let cfg = &defaults["config"];
    assert_eq!(cfg["architecture"]["encoder"][0], 14, "{cfg}");
    assert!(defaults["train_rows"].as_u64().is_some_and(|n| n > 500), "{defaults}");
    // The threshold share is checked when training starts, not after it.
    let e = other.start(r#"{"preset": "reference"}"#, 0.9).err().expect("a share over 0.5 is refused");
    let msg = message(e);
    assert!(msg.contains("threshold_rate"), "message: {msg}");

    // A foreign file is refused with a message, not a panic.
    let e = other.import_bundle(b"label,x\n1,2\n").err().expect("a CSV is not a bundle");
    let msg = message(e);
    assert!(msg.contains("not a da3d model file"), "message: {msg}");
}

#[wasm_bindgen_test]
async fn trains_and_scores_on_webgpu() {
    let bench = Workbench::create(true).await;
    let backend = json(&bench.backend());
    // The runner starts Chromium with --enable-unsafe-webgpu (web/webdriver.json): an adapter exists.
    assert_eq!(backend["gpu"], true, "WebGPU expected in this browser: {backend}");
    let (backend, results, scored, reports) = train_short(&bench).await;
    assert_eq!(backend["name"], "webgpu");
    check_run(&backend, &results, &scored, &reports);
}

#[wasm_bindgen_test]
async fn members_trained_in_separate_workbenches_make_the_ensembles_model() {
    // The page's parallel workers: each member in a workbench of its own (`start_member`,
    // `finish_member`), the model made in a third (`assemble`): the same scores as one workbench
    // training the whole ensemble.
    let csv = synthetic_csv(&SyntheticSpec { rows: 600, numeric: 4, categorical: false, anomaly_rate: 0.08, seed: 4 });
    let load = |s: &Workbench| ok(s.load_csv(csv.as_bytes(), r#"{"label": "label"}"#), "load");
    let whole = Workbench::create(false).await;
    load(&whole);
    let cfg = r#"{"preset": "quick", "aae_epochs": 2, "pretrain_epochs": 1, "batch_size": 128, "members": 2, "seed": 9}"#;
    ok(whole.start(cfg, 0.05), "start");
    step_to_end(&whole).await;
    let expected = json(&ok(whole.finish().await, "finish"));

    let weights = js_sys::Array::new();
    for k in 0..2 {
        let worker = Workbench::create(false).await;
        load(&worker);
        ok(worker.start_member(cfg, 0.05, k), "start_member");
        assert_eq!(step_to_end(&worker).await.len(), 3, "member {k}: 2 + 1 epochs");
        let bytes = ok(worker.finish_member().await, "finish_member");
        weights.push(&js_sys::Uint8Array::from(&bytes[..]));
    }
    let maker = Workbench::create(false).await;
    load(&maker);
    let got = json(&ok(maker.assemble(cfg, 0.05, weights).await, "assemble"));
    assert_eq!(got["test"]["scores"], expected["test"]["scores"], "the same test scores");
    assert_eq!(got["threshold"], expected["threshold"]);
    // A member number outside the ensemble is refused.
    let e = maker.start_member(cfg, 0.05, 2).err().expect("member 2 of 2");
    assert!(message(e).contains("member 2"), "message");
    // Explanations come with the most anomalous rows.
    let why = &got["test"]["top"][0]["why"];
    assert!(why.as_array().is_some_and(|w| !w.is_empty() && w[0]["share"].as_f64().is_some()), "{why}");
}
