//! The JS-facing API of da3d for the browser page (runs in a Web Worker).
//!
//! Thin: it parses, calls the model crate and returns JSON strings. Training is the model
//! crate's fit pipeline, its trainer stepped from JS; every read from the device is awaited.
//! WebGPU is used when `navigator.gpu` gives an adapter, else the CPU backend (flex).

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::Device;
use da3d::bundle::Model;
use da3d::config::{Preset, ThresholdRate};
use da3d::data::{self, Protocol, ReadOptions, RecordReader, Table};
use da3d::datasets::ReadRequest;
use da3d::detector::networks_to_device;

use da3d::pipeline::{ConfigOverrides, Fit, FitRequest, prepare_fit};
use da3d::train::Step;
use da3d::ScoreKind;
use serde_json::{Value, json};
use wasm_bindgen::prelude::*;

mod results;

use results::{metrics_json, results_json, top_explained};

pub(crate) fn err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// The WebGPU device may be created only once per page: cache it.
    static GPU: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// This module was built without the WebGPU backend (the page's CPU module).
#[cfg(not(feature = "webgpu"))]
async fn gpu_device() -> Result<Device, String> {
    Err("this module is the CPU-only build (www/pkg-cpu)".into())
}

/// The WebGPU adapter's name, when the browser gives one.
#[cfg(feature = "webgpu")]
fn adapter_name(d: &Device) -> Option<String> {
    d.identity().map(|i| i.name).filter(|n| !n.trim().is_empty())
}

#[cfg(not(feature = "webgpu"))]
fn adapter_name(_: &Device) -> Option<String> {
    None
}

#[cfg(feature = "webgpu")]
async fn gpu_device() -> Result<Device, String> {
    if let Some(d) = GPU.with(|g| g.borrow().clone()) {
        return Ok(d);
    }
    use burn::tensor::wgpu::WgpuBackend;
    let device = Device::wgpu_options()
        .graphics_api(WgpuBackend::WebGpu)
        .init_async()
        .await
        .map_err(|e| format!("{e}"))?;
    GPU.with(|g| *g.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// Data loaded into the workbench.
struct Loaded {
    table: Table,
    read: ReadOptions,
    dataset: Option<String>,
}

/// What a finished (or imported) model gives the page.
struct Trained {
    model: Model,
    /// The CPU copy used for export (None until exported once).
    cpu_model: Option<Model>,
}

struct State {
    device: Device,
    backend: Value,
    loaded: Option<Loaded>,
    /// The running fit (from `start` to `finish`).
    fit: Option<Fit>,
    trained: Option<Trained>,
}

/// What one worker of the page holds: a data set, a training run, a model.
#[wasm_bindgen]
pub struct Workbench {
    inner: Rc<RefCell<State>>,
}

fn busy() -> JsError {
    JsError::new("the workbench is busy with another call")
}

/// The schedule a visitor set on the page (`{"preset", "members", "aae_epochs",
/// "pretrain_epochs", "da3d_epochs", "batch_size", "seed"}`, any of them absent): the overrides of
/// the preset, as the command line's flags are.
fn overrides(settings: &str) -> Result<ConfigOverrides, JsError> {
    let v: Value = serde_json::from_str(settings).map_err(err)?;
    let preset: Preset = v["preset"].as_str().unwrap_or("robust").parse().map_err(err)?;
    let count = |key: &str| v[key].as_u64().map(|n| n as usize);
    Ok(ConfigOverrides {
        seed: v["seed"].as_u64(),
        members: count("members"),
        aae_epochs: count("aae_epochs"),
        pretrain_epochs: count("pretrain_epochs"),
        da3d_epochs: count("da3d_epochs"),
        batch_size: count("batch_size"),
        ..ConfigOverrides::new(preset)
    })
}

#[wasm_bindgen]
impl Workbench {
    /// Create a workbench. With `prefer_gpu`, WebGPU is tried first; the CPU is the fallback, and
    /// `backend()` says why it was chosen.
    pub async fn create(prefer_gpu: bool) -> Workbench {
        // gemm's 128-bit SIMD kernels are off in WebAssembly unless asked for; this module is
        // built with +simd128, so every browser that runs it has them.
        #[cfg(target_feature = "simd128")]
        gemm::set_wasm_simd128(true);
        let (device, backend) = if prefer_gpu {
            match gpu_device().await {
                Ok(d) => {
                    let adapter = adapter_name(&d);
                    let reason = match &adapter {
                        Some(a) => format!("adapter: {a}"),
                        None => "WebGPU adapter found".to_string(),
                    };
                    (d, json!({"name": "webgpu", "gpu": true, "adapter": adapter, "reason": reason}))
                }
                Err(e) => (Device::flex(), json!({"name": "cpu", "gpu": false, "reason": format!("WebGPU unavailable: {e}")})),
            }
        } else {
            (Device::flex(), json!({"name": "cpu", "gpu": false, "reason": "CPU chosen"}))
        };
        Workbench {
            inner: Rc::new(RefCell::new(State {
                device,
                backend,
                loaded: None,
                fit: None,
                trained: None,
            })),
        }
    }

    /// `{"name", "gpu", "adapter" (WebGPU: the adapter's name, when the browser gives one), "reason"}`.
    pub fn backend(&self) -> String {
        self.inner.borrow().backend.to_string()
    }

    /// Load CSV bytes. `options` (JSON): `{"label": "label", "ignore": [..], "drop": [..],
    /// "dataset": null, "delimiter": null}` (a one-character delimiter; sniffed when absent).
    /// Returns a summary: columns, a preview of the first rows, row and anomaly counts.
    pub fn load_csv(&self, bytes: &[u8], options: &str) -> Result<String, JsError> {
        let o: Value = serde_json::from_str(options).map_err(err)?;
        let strings = |key: &str| -> Vec<String> { o[key].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default() };
        let request = ReadRequest {
            dataset: o["dataset"].as_str().map(str::to_string),
            label: o["label"].as_str().map(str::to_string),
            ignore: strings("ignore"),
            drop: strings("drop"),
            delimiter: o["delimiter"].as_str().map(data::parse_delimiter).transpose().map_err(|e| JsError::new(&e))?,
            label_optional: true,
            ..ReadRequest::default()
        };
        let dataset = request.dataset.clone();
        let mut read = da3d::datasets::read_options(&request).map_err(err)?;
        let table = data::read_table_bytes(bytes, &read).map_err(err)?;
        read.delimiter = Some(table.report.delimiter);
        // preview: the first rows as text
        let mut rr = RecordReader::new(bytes, read.delimiter).map_err(err)?;
        let headers = rr.headers().to_vec();
        let mut preview = Vec::new();
        while preview.len() < 8 {
            match rr.next_record().map_err(err)? {
                Some((_, fields)) => preview.push(fields.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                None => break,
            }
        }
        let anomalies = table.labels.as_ref().map(|l| l.iter().filter(|&&v| v == 1).count());
        let columns: Vec<Value> = table
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "kind": format!("{:?}", c.kind).to_lowercase()}))
            .collect();
        let summary = json!({
            "headers": headers,
            "preview": preview,
            "rows": table.n_rows(),
            "dropped": table.report.rows_dropped_missing,
            "missing_cells": table.report.missing_cells,
            "delimiter": data::delimiter_name(table.report.delimiter),
            "label": table.label,
            "anomalies": anomalies,
            "columns": columns,
            "ignored": table.report.ignored_columns,
        });
        let mut st = self.inner.try_borrow_mut().map_err(|_| busy())?;
        st.loaded = Some(Loaded { table, read, dataset });
        st.fit = None;
        Ok(summary.to_string())
    }

    /// The preset's config for the loaded data: networks sized for its model inputs (the
    /// one-hot width of the training rows of seed 0), `robust`'s and `quick`'s step budget for
    /// their number. `{"config", "train_rows"}` (JSON).
    pub fn default_config(&self, preset: &str) -> Result<String, JsError> {
        let st = self.inner.try_borrow().map_err(|_| busy())?;
        let loaded = st.loaded.as_ref().ok_or_else(|| JsError::new("load a CSV first"))?;
        let preset: Preset = preset.parse().map_err(err)?;
        // Sizes only: a table too small to train still shows its preset (Train then says why).
        let data = prepare_fit(&loaded.table, 0.0, 0, Protocol::Paper).map_err(err)?;
        let config = ConfigOverrides::new(preset).build(data.shape(), loaded.dataset.as_deref()).map_err(err)?;
        Ok(json!({"config": config, "train_rows": data.train.rows}).to_string())
    }

    /// Check the schedule and the threshold share (a row share in [0, 0.5]), prepare the data
    /// (paper protocol when labelled, split by the seed) and create the trainer. `settings`: the
    /// page's schedule (see `overrides`). Nothing trains when a value is invalid.
    pub fn start(&self, settings: &str, threshold_rate: f64) -> Result<String, JsError> {
        self.start_fit(settings, threshold_rate, None)
    }

    /// Start training ensemble member `member` of `settings` alone (the page trains members in
    /// parallel workers): the data split by the ensemble's seed, the member's networks and
    /// batches from `member_seed(seed, member)`, as the member trains inside a whole ensemble.
    /// Then `step` as usual, and `finish_member`.
    pub fn start_member(&self, settings: &str, threshold_rate: f64, member: u32) -> Result<String, JsError> {
        self.start_fit(settings, threshold_rate, Some(member as usize))
    }

    fn start_fit(&self, settings: &str, threshold_rate: f64, member: Option<usize>) -> Result<String, JsError> {
        let mut st = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let mut fit = new_fit(&st, settings, threshold_rate, member)?;
        let data = fit.data();
        let info = match &data.summary {
            Some(s) => serde_json::to_value(s).map_err(err)?,
            None => json!({"train_rows": data.train.rows, "input_width": data.train.cols}),
        };
        let notes = data.notes.clone();
        let progress = fit.trainer().progress();
        st.fit = Some(fit);
        st.trained = None;
        Ok(json!({"data": info, "notes": notes, "progress": progress}).to_string())
    }

    /// Train up to `max_batches` batches; when an epoch ends, read its losses (async) and stop
    /// there. Returns `{"progress", "report" (or null), "done"}`. Call again to go on: pausing
    /// and stopping happen between calls.
    pub async fn step(&self, max_batches: u32) -> Result<String, JsError> {
        let mut st = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let trainer = st.fit.as_mut().ok_or_else(|| JsError::new("call start first"))?.trainer();
        let mut report = Value::Null;
        let mut done = false;
        for _ in 0..max_batches.max(1) {
            match trainer.step_batch().map_err(err)? {
                Step::Batch => continue,
                Step::EpochEnd => {
                    let r = trainer.finish_epoch().await.map_err(err)?;
                    report = serde_json::to_value(&r).map_err(err)?;
                    break;
                }
                Step::Finished => {
                    done = true;
                    break;
                }
            }
        }
        let progress = trainer.progress();
        done |= progress.phase == da3d::Phase::Done;
        Ok(json!({"progress": progress, "report": report, "done": done}).to_string())
    }

    /// The held-out test rows scored by the model as it is after the last epoch (call between
    /// steps, after an epoch report): `{"member", "phase", "epoch", "score" ("reconstruction" |
    /// "alarm" | "model"), "roc_auc", "average_precision", "roc", "pr", "scores", "labels"}`, or
    /// `null` without labelled test rows.
    pub async fn held_out(&self) -> Result<String, JsError> {
        let st = self.inner.try_borrow().map_err(|_| busy())?;
        let fit = st.fit.as_ref().ok_or_else(|| JsError::new("call start first"))?;
        let Some(h) = fit.held_out().await.map_err(err)? else {
            return Ok("null".into());
        };
        let labels = &fit.data().test.as_ref().expect("held-out scores come from test rows").labels;
        let mut v = serde_json::to_value(&h).map_err(err)?;
        let m = metrics_json(&h.scores, labels);
        v["roc"] = m["roc"].clone();
        v["pr"] = m["pr"].clone();
        v["labels"] = json!(labels);
        Ok(v.to_string())
    }

    /// DA³D at work, between steps: the first member's codes on the code plane (the normal
    /// training rows, a sample; the held-out anomalies; `generated` of the generator's
    /// anomalies), the alarm's probability over a `grid` × `grid` map of the plane (each point
    /// decoded and read by the alarm) and its held-out ROC AUC and AP (`null` without labels):
    /// `{"projected", "normal", "anomalies", "generated", "map": {"x", "y", "size",
    /// "probability"}, "alarm": {"roc_auc", "average_precision"} | null}`.
    pub async fn code_plane(&self, grid: u32, generated: u32) -> Result<String, JsError> {
        let st = self.inner.try_borrow().map_err(|_| busy())?;
        let fit = st.fit.as_ref().ok_or_else(|| JsError::new("call start first"))?;
        let view = results::code_plane_json(fit, grid as usize, generated as usize).await?;
        Ok(view.to_string())
    }

    /// Finish training (also after Stop): score, threshold (the share given to `start`),
    /// metrics and curves when labels exist. Returns the results JSON.
    pub async fn finish(&self) -> Result<String, JsError> {
        let mut st = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let fit = st.fit.take().ok_or_else(|| JsError::new("nothing is training"))?;
        let outcome = fit.finish().await.map_err(err)?;
        let model = outcome.model;
        let results = results_json(&model, &outcome.data, &outcome.train_codes, &outcome.train_scores, outcome.test_scores.as_deref()).await?;
        st.trained = Some(Trained { model, cpu_model: None });
        Ok(results.to_string())
    }

    /// The weights of the member trained since `start_member` (after `step` says done, or after
    /// a stop: as they are), for `assemble` in another worker.
    pub async fn finish_member(&self) -> Result<Vec<u8>, JsError> {
        let mut st = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let mut fit = st.fit.take().ok_or_else(|| JsError::new("nothing is training"))?;
        let networks = fit.trainer().networks();
        let cpu = networks_to_device(&networks, &Device::flex()).await.map_err(err)?;
        da3d::bundle::member_to_bytes(&cpu).map_err(err)
    }

    /// The model of members trained by `start_member` (in any worker; `members`: an array of
    /// their weights, in member order): scores, threshold, metrics and curves as `finish` gives
    /// them. The settings and threshold share are those given to `start_member`.
    pub async fn assemble(&self, settings: &str, threshold_rate: f64, members: js_sys::Array) -> Result<String, JsError> {
        let mut st = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let mut fit = new_fit(&st, settings, threshold_rate, None)?;
        let networks = fit.trainer().networks_config().clone();
        let mut trained = Vec::with_capacity(members.length() as usize);
        for (k, m) in members.iter().enumerate() {
            let bytes = js_sys::Uint8Array::new(&m).to_vec();
            let net = da3d::bundle::member_from_bytes(&bytes, &networks, &st.device).map_err(|e| JsError::new(&format!("member {k}: {e}")))?;
            trained.push(net);
        }
        let outcome = fit.finish_members(trained).await.map_err(err)?;
        let model = outcome.model;
        let results = results_json(&model, &outcome.data, &outcome.train_codes, &outcome.train_scores, outcome.test_scores.as_deref()).await?;
        st.fit = None;
        st.trained = Some(Trained { model, cpu_model: None });
        Ok(results.to_string())
    }

    /// Score the loaded CSV with the current model (trained or imported):
    /// `{"csv": "line,score,anomaly\n...", "metrics": .., "histogram": ..}`.
    pub async fn score_loaded(&self) -> Result<String, JsError> {
        let st = self.inner.try_borrow().map_err(|_| busy())?;
        let trained = st.trained.as_ref().ok_or_else(|| JsError::new("train or import a model first"))?;
        let loaded = st.loaded.as_ref().ok_or_else(|| JsError::new("load a CSV first"))?;
        let rows: Vec<usize> = (0..loaded.table.n_rows()).collect();
        let (x, stats) = trained.model.header.preprocessor.transform(&loaded.table, &rows).map_err(err)?;
        let model = &trained.model;
        let detector = model.detector();
        let scores = detector.score(&x, ScoreKind::Model).await.map_err(err)?;
        let mut csv = String::from("line,score,anomaly\n");
        for (line, s) in loaded.table.lines.iter().zip(&scores) {
            csv.push_str(&format!("{line},{s},{}\n", (*s > model.header.threshold) as u8));
        }
        let metrics = match &loaded.table.labels {
            Some(l) => metrics_json(&scores, l),
            None => Value::Null,
        };
        let top: Vec<Value> = top_explained(model, &detector, &x, &scores)
            .await?
            .into_iter()
            .map(|(i, why)| {
                let label = loaded.table.labels.as_ref().map(|l| l[i]);
                json!({"line": loaded.table.lines[i], "score": scores[i], "label": label, "why": why})
            })
            .collect();
        Ok(json!({
            "csv": csv,
            "rows": scores.len(),
            "flagged": scores.iter().filter(|&&s| s > model.header.threshold).count(),
            "threshold": model.header.threshold,
            "unseen_categories": stats.unseen_categories,
            "metrics": metrics,
            "scores": scores,
            "labels": loaded.table.labels,
            "lines": loaded.table.lines,
            "top": top,
        })
        .to_string())
    }

    /// The model bundle bytes (weights are read asynchronously onto the CPU first).
    pub async fn export_bundle(&self) -> Result<Vec<u8>, JsError> {
        let mut st = self.inner.try_borrow_mut().map_err(|_| busy())?;
        let trained = st.trained.as_mut().ok_or_else(|| JsError::new("train or import a model first"))?;
        if trained.cpu_model.is_none() {
            let cpu = Device::flex();
            let mut members = Vec::with_capacity(trained.model.members.len());
            for m in &trained.model.members {
                members.push(networks_to_device(m, &cpu).await.map_err(err)?);
            }
            trained.cpu_model = Some(Model { header: trained.model.header.clone(), members });
        }
        trained.cpu_model.as_ref().unwrap().to_bytes().map_err(err)
    }

    /// Load a bundle (e.g. one the CLI trained); it scores on the CPU. Returns its header.
    pub fn import_bundle(&self, bytes: &[u8]) -> Result<String, JsError> {
        let model = Model::from_bytes(bytes, &Device::flex()).map_err(err)?;
        let header = serde_json::to_string(&model.header).map_err(err)?;
        let mut st = self.inner.try_borrow_mut().map_err(|_| busy())?;
        st.trained = Some(Trained { cpu_model: Some(model.clone()), model });
        Ok(header)
    }
}

/// A fit of the loaded data on the workbench's device, as `settings` ask (member `member` alone
/// when given).
fn new_fit(st: &State, settings: &str, threshold_rate: f64, member: Option<usize>) -> Result<Fit, JsError> {
    let loaded = st.loaded.as_ref().ok_or_else(|| JsError::new("load a CSV first"))?;
    let request = FitRequest {
        dataset: loaded.dataset.clone(),
        threshold_rate: ThresholdRate::new(threshold_rate).map_err(err)?,
        member,
        ..FitRequest::new(overrides(settings)?)
    };
    let (data, config) = request.prepare(&loaded.table).map_err(err)?;
    let backend = st.backend["name"].as_str().unwrap_or("?");
    Fit::start(data, config, &loaded.read, &st.device, backend).map_err(err)
}
