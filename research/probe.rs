//! Research probe: train one seed and write, at each checkpoint, the alarm's logits
//! and the AAE's reconstruction errors of the training and test rows, as JSON, for offline
//! analysis of score combinations and ensembles.
//!
//! `cargo run -p da3d --example probe -- FILE DATASET|- SEED CONFIG.json|- CHECKPOINTS OUT.json`
//! CHECKPOINTS: DA³D epochs after which to record, e.g. `0,50,100` (0 = after pretraining), or
//! `auto`: 0, a quarter, half and all of the DA³D epochs. `PROBE_PRESET` (default `paper`) picks
//! the preset (`robust`: its step budget for these rows; add `{"ensemble": {"members": 1}}` to the
//! config for one member).

use std::io::Write;

use burn::tensor::Device;
use da3d::ScoreKind;
use da3d::data::{self, ReadOptions};
use da3d::config::ThresholdRate;
use da3d::pipeline::{ConfigOverrides, Fit, FitConfig, prepare_fit};
use da3d::{Phase, Preset, wait};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let (file, dataset, seed, cfg, checks, out) = (&a[1], &a[2], a[3].parse::<u64>()?, &a[4], &a[5], &a[6]);
    let dataset = (dataset != "-").then_some(dataset.as_str());
    let read = match dataset {
        Some(d) => da3d::datasets::dataset(d).map(|p| p.read).unwrap_or_default(),
        None => ReadOptions { split_column: std::env::var("PROBE_SPLIT").ok(), ..ReadOptions::default() },
    };
    let table = data::read_table(std::io::BufReader::new(std::fs::File::open(file)?), &read)?;
    let protocol = if std::env::var("PROBE_PROTOCOL").as_deref() == Ok("half-normal") { da3d::data::Protocol::HalfNormal } else { da3d::data::Protocol::Paper };
    let fit_data = prepare_fit(&table, 0.0, seed, protocol)?;
    let preset: Preset = std::env::var("PROBE_PRESET").unwrap_or_else(|_| "paper".into()).parse()?;
    let mut o = ConfigOverrides::new(preset);
    if cfg != "-" {
        o.json = Some(serde_json::from_str(&std::fs::read_to_string(cfg)?)?);
    }
    // Optional 7th argument: the training seed, when it differs from the split's (ensemble members).
    o.seed = Some(a.get(7).map(|s| s.parse()).transpose()?.unwrap_or(seed));
    let mut config = o.build(fit_data.shape(), dataset)?.into_inner();
    // `PROBE_AAE_FRACTION=F`: the preset's AAE epochs times F (at least one), e.g. half its step budget.
    if let Ok(f) = std::env::var("PROBE_AAE_FRACTION") {
        let f: f64 = f.parse()?;
        config.schedule.aae_epochs = ((config.schedule.aae_epochs as f64 * f).round() as usize).max(1);
    }
    let e = config.schedule.da3d_epochs;
    let checks: Vec<usize> = match checks.as_str() {
        "auto" => vec![0, e / 4, e / 2, e],
        list => list.split(',').map(|c| c.parse().unwrap()).collect(),
    };
    let test = fit_data.test.clone().expect("labelled data");
    let train = fit_data.train.clone();
    let device = Device::flex();
    let fit_config = FitConfig::new(config.clone().validated()?, ThresholdRate::DEFAULT, 0.0)?;
    let mut fit = Fit::start(fit_data, fit_config, &read, &device, "cpu")?;
    let started = std::time::Instant::now();
    let mut records = Vec::new();
    let mut record = |fit: &mut Fit, epoch: usize| -> Result<(), Box<dyn std::error::Error>> {
        let d = fit.trainer().detector();
        // Per-feature residuals `x - dec(enc(x))` of the first member (row-major).
        let residuals = |m: &da3d::data::Matrix| -> Vec<f32> {
            use burn::tensor::{Tensor, TensorData};
            let x = Tensor::<2>::from_data(TensorData::new(m.values.clone(), [m.rows, m.cols]), &Device::flex());
            let r = d.members[0].aae.reconstruct(x.clone());
            (x - r).into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
        };
        let residual_rows = std::env::var("PROBE_RESIDUALS").is_ok();
        // The first member's encoder and decoder hidden activations (what an `all` alarm reads).
        let activations = |m: &da3d::data::Matrix| -> Vec<f32> {
            use burn::tensor::{Tensor, TensorData};
            let x = Tensor::<2>::from_data(TensorData::new(m.values.clone(), [m.rows, m.cols]), &Device::flex());
            let aae = &d.members[0].aae;
            let (codes, enc) = aae.encoder.forward_with_hidden(x);
            let (_, dec) = aae.decoder_activations(codes.clone());
            Tensor::cat(vec![codes, enc, dec], 1).into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
        };
        let activation_rows = std::env::var("PROBE_ACTIVATIONS").is_ok();
        // The first member's codes alone (`PROBE_CODES=1`): small enough for wide tables.
        let codes = |m: &da3d::data::Matrix| -> Vec<f32> {
            use burn::tensor::{Tensor, TensorData};
            let x = Tensor::<2>::from_data(TensorData::new(m.values.clone(), [m.rows, m.cols]), &Device::flex());
            let (codes, _) = d.members[0].aae.encoder.forward_with_hidden(x);
            codes.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
        };
        let code_rows = std::env::var("PROBE_CODES").is_ok();
        records.push(serde_json::json!({
            "train_residuals": if residual_rows { residuals(&train) } else { vec![] },
            "test_residuals": if residual_rows { residuals(&test.x) } else { vec![] },
            "train_activations": if activation_rows { activations(&train) } else { vec![] },
            "test_activations": if activation_rows { activations(&test.x) } else { vec![] },
            "train_codes": if code_rows { codes(&train) } else { vec![] },
            "test_codes": if code_rows { codes(&test.x) } else { vec![] },
            "code_width": d.members[0].aae.encoder.layers.last().map(|l| l.weight.val().dims()[1]).unwrap_or(0),
            "width": train.cols,
            "da3d_epoch": epoch,
            "seconds": started.elapsed().as_secs_f64(),
            "train_logit": wait(d.score(&train, ScoreKind::AlarmLogit))?,
            "test_logit": wait(d.score(&test.x, ScoreKind::AlarmLogit))?,
            "train_recon": wait(d.score(&train, ScoreKind::Reconstruction))?,
            "test_recon": wait(d.score(&test.x, ScoreKind::Reconstruction))?,
        }));
        eprintln!("seed {seed}: checkpoint at DA³D epoch {epoch}, {:.0} s", started.elapsed().as_secs_f64());
        Ok(())
    };
    let mut recorded = false;
    loop {
        let phase = fit.trainer().phase();
        let Some(report) = wait(fit.trainer().step_epoch())? else { break };
        let now = fit.trainer().phase();
        if phase == Phase::Pretrain && now != Phase::Pretrain && checks.contains(&0) {
            record(&mut fit, 0)?;
            recorded = true;
        }
        if report.phase == Phase::Da3d && checks.contains(&report.epoch) {
            record(&mut fit, report.epoch)?;
            recorded = true;
        }
    }
    // A schedule without detector epochs (`robust`, `quick`): one record of the trained AAE.
    if !recorded {
        record(&mut fit, 0)?;
    }
    let json = serde_json::json!({"seed": seed, "config": config, "labels": test.labels, "records": records});
    std::fs::File::create(out)?.write_all(serde_json::to_string(&json)?.as_bytes())?;
    Ok(())
}
