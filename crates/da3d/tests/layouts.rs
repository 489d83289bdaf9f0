//! The DoH and URL presets on synthetic files of their published layouts (the real files are not
//! available here): columns, label names, dropped rows, and a short training that finds the
//! anomalies.

use burn::tensor::Device;
use da3d::config::{Preset, TrainingConfig};
use da3d::data::{prepare, read_table_bytes};
use da3d::datasets::{DOH_FEATURES, DOH_IDENTIFIERS, URL_FEATURES, dataset};
use da3d::metrics::roc_auc;
use da3d::synthetic::layout_csv;
use da3d::train::Trainer;
use da3d::{ScoreKind, wait};

#[test]
fn doh_preset_drops_identifiers_and_rows_with_missing_values() {
    let csv = layout_csv("doh", 600, 0.1, 1).unwrap();
    let preset = dataset("doh").unwrap();
    let t = read_table_bytes(csv.as_bytes(), &preset.read).unwrap();
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, DOH_FEATURES.to_vec());
    assert_eq!(t.report.ignored_columns, DOH_IDENTIFIERS.to_vec());
    // every 50th row (7, 57, …) has an empty ResponseTimeTimeMedian
    assert_eq!(t.report.rows_dropped_missing, 12);
    assert_eq!(t.report.first_dropped_line, Some(9));
    let labels = t.labels.as_ref().unwrap();
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    assert!((30..90).contains(&anomalies), "{anomalies} Malicious rows of 588");
    let p = prepare(&t, preset.read.label.clone(), 0.0, 0).unwrap();
    assert_eq!(p.summary.input_width, 29);
}

#[test]
fn url_preset_maps_the_four_attack_classes_and_drops_nan_and_infinity() {
    let csv = layout_csv("url", 600, 0.2, 2).unwrap();
    assert!(csv.contains(",Infinity,") && csv.contains(",NaN,") && csv.contains("phishing"));
    let preset = dataset("url").unwrap();
    let t = read_table_bytes(csv.as_bytes(), &preset.read).unwrap();
    assert_eq!(t.columns.len(), URL_FEATURES.len());
    assert_eq!(t.report.rows_dropped_missing, 24);
    let labels = t.labels.as_ref().unwrap();
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    assert!((80..160).contains(&anomalies), "{anomalies} attack rows of 576");
    let p = prepare(&t, preset.read.label.clone(), 0.01, 0).unwrap();
    assert_eq!(p.summary.input_width, 79);
    assert!(p.summary.train_contamination > 0);
}

#[test]
fn wrong_files_are_refused_with_the_layout_named() {
    let preset = dataset("doh").unwrap();
    let url = layout_csv("url", 20, 0.1, 0).unwrap();
    let e = read_table_bytes(url.as_bytes(), &preset.read).unwrap_err().to_string();
    assert!(e.contains("expected layout") && e.contains("FlowBytesSent"), "{e}");
    // a DoH file with a label the layout does not know
    let doh = layout_csv("doh", 20, 0.0, 0).unwrap().replacen("Benign", "NonDoH", 1);
    let e = read_table_bytes(doh.as_bytes(), &preset.read).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("'Label'") && e.contains("'NonDoH'") && e.contains("Malicious"), "{e}");
}

#[test]
fn the_doh_architecture_trains_on_its_layout_and_finds_the_anomalies() {
    let csv = layout_csv("doh", 1500, 0.05, 3).unwrap();
    let preset = dataset("doh").unwrap();
    let t = read_table_bytes(csv.as_bytes(), &preset.read).unwrap();
    let p = prepare(&t, preset.read.label.clone(), 0.0, 3).unwrap();
    let mut c = TrainingConfig::preset(Preset::Paper, p.train.cols, Some("doh"));
    assert_eq!(c.architecture.encoder, vec![50, 40, 30, 20, 10, 5]);
    c.seed = 3;
    c.schedule.aae_epochs = 20;
    c.schedule.pretrain_epochs = 5;
    c.schedule.da3d_epochs = 10;
    c.schedule.batch_size = 64;
    c.optimizer.learning_rate = 1e-3;
    let mut trainer = Trainer::new(c.validated().unwrap(), p.train.clone(), &Device::flex()).unwrap();
    while wait(trainer.step_epoch()).unwrap().is_some() {}
    let scores = wait(trainer.detector().score(&p.test.x, ScoreKind::Alarm)).unwrap();
    let auc = roc_auc(&scores, &p.test.labels).unwrap();
    assert!(auc > 0.9, "test ROC AUC {auc:.3} on the synthetic DoH layout");
}
