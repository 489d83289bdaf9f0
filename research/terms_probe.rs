//! Research probe for the default's terms: train the default ensemble on one split and write, as
//! little-endian f32 files, each member's standardised residual tails term on the training and
//! test rows, the first member's codes and residuals, and the rows themselves, for
//! `research/generalise_study.py` to combine with distances in Python.
//!
//! `cargo run -p da3d --example terms_probe -- FILE paper|half-normal SEED OUT_DIR [DATASET]`
//!
//! Writes OUT_DIR/{train,test}.f32 (`[rows × d]`), test_labels.u8, tails_{train,test}.f32
//! (`[members × rows]`), codes_{train,test}.f32 (`[rows × code]`), residuals_{train,test}.f32
//! (`[rows × d]`, the first member's, in units of its spread) and shape.json. `PROBE_MEMBERS=K`
//! trains K members (default: the preset's).

use std::io::Write;

use burn::tensor::Device;
use da3d::config::{Scoring, ThresholdRate};
use da3d::data::{Matrix, Protocol, ReadOptions};
use da3d::detector::Detector;
use da3d::pipeline::{ConfigOverrides, Fit, FitRequest};
use da3d::{ScoreKind, wait};

fn write_f32(path: &std::path::Path, values: &[f32]) -> std::io::Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::File::create(path)?.write_all(&bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let (file, protocol, seed, out) = (&a[1], &a[2], a[3].parse::<u64>()?, std::path::Path::new(&a[4]));
    let dataset = a.get(5).cloned();
    let protocol = if protocol == "half-normal" { Protocol::HalfNormal } else { Protocol::Paper };
    std::fs::create_dir_all(out)?;
    let read = match &dataset {
        Some(d) => da3d::datasets::dataset(d).map(|p| p.read).unwrap_or_default(),
        None => ReadOptions::default(),
    };
    let table = da3d::data::read_table(std::io::BufReader::new(std::fs::File::open(file)?), &read)?;
    let mut overrides = ConfigOverrides::new(da3d::Preset::Robust);
    overrides.seed = Some(seed);
    overrides.members = std::env::var("PROBE_MEMBERS").ok().and_then(|v| v.parse().ok());
    let request = FitRequest { dataset, protocol, ..FitRequest::new(overrides) };
    let (data, config) = request.prepare(&table)?;
    let _ = ThresholdRate::DEFAULT;
    let device = Device::flex();
    let mut fit = Fit::start(data, config, &read, &device, "cpu")?;
    let started = std::time::Instant::now();
    while wait(fit.trainer().step_epoch())?.is_some() {}
    let outcome = wait(fit.finish())?;
    let model = outcome.model;
    let test = outcome.data.test.as_ref().expect("labelled data");
    let train = &outcome.data.train;
    let scales = model.header.scales.clone().expect("the default's scales");
    let mode = model.header.config.architecture.alarm_input;
    let (mut tails_train, mut tails_test) = (Vec::new(), Vec::new());
    for (k, member) in model.members.iter().enumerate() {
        let alone = Detector::ensemble(std::slice::from_ref(member), mode, Scoring::Tails, vec![scales[k].clone()])?;
        tails_train.extend(wait(alone.score(train, ScoreKind::Model))?);
        tails_test.extend(wait(alone.score(&test.x, ScoreKind::Model))?);
    }
    let first = Detector::ensemble(&model.members[..1], mode, Scoring::Tails, vec![scales[0].clone()])?;
    let standardised = |r: Matrix| -> Vec<f32> {
        let s = &scales[0].residual;
        r.values.chunks_exact(r.cols).flat_map(|row| row.iter().zip(s).map(|(v, (m, sd))| (v - m) / sd).collect::<Vec<_>>()).collect()
    };
    let codes_train = wait(first.codes(train))?;
    let codes_test = wait(first.codes(&test.x))?;
    write_f32(&out.join("train.f32"), &train.values)?;
    write_f32(&out.join("test.f32"), &test.x.values)?;
    std::fs::write(out.join("test_labels.u8"), &test.labels)?;
    write_f32(&out.join("tails_train.f32"), &tails_train)?;
    write_f32(&out.join("tails_test.f32"), &tails_test)?;
    write_f32(&out.join("codes_train.f32"), &codes_train.values)?;
    write_f32(&out.join("codes_test.f32"), &codes_test.values)?;
    write_f32(&out.join("residuals_train.f32"), &standardised(wait(first.residuals(train))?))?;
    write_f32(&out.join("residuals_test.f32"), &standardised(wait(first.residuals(&test.x))?))?;
    let shape = serde_json::json!({
        "train_rows": train.rows, "test_rows": test.x.rows, "inputs": train.cols, "columns": model.header.preprocessor.columns.len(),
        "members": model.members.len(), "code": codes_train.cols, "seconds": started.elapsed().as_secs_f64(),
        "model_test_roc_auc": model.header.metrics.as_ref().map(|m| m.roc_auc),
        "model_test_average_precision": model.header.metrics.as_ref().map(|m| m.average_precision),
    });
    std::fs::write(out.join("shape.json"), serde_json::to_string_pretty(&shape)?)?;
    eprintln!("{}: {} s", out.display(), started.elapsed().as_secs());
    Ok(())
}
