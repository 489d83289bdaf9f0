//! A short schedule on the real Mammography data (paper protocol, seed 0). The data folder is
//! `$DA3D_DATA_DIR` (default `../shared/datasets`); without the file the test fails, unless
//! `DA3D_ALLOW_SKIP=1` says that skipping is fine.

use std::path::PathBuf;

use burn::tensor::Device;
use da3d::config::{Preset, TrainingConfig};
use da3d::data::{prepare, read_table};
use da3d::metrics::roc_auc;
use da3d::train::Trainer;
use da3d::{ScoreKind, datasets, wait};

fn data_dir() -> PathBuf {
    std::env::var_os("DA3D_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"))
}

#[test]
fn short_schedule_on_mammography_beats_080_test_auc() {
    let path = data_dir().join("mammography.csv");
    if !path.exists() {
        assert!(
            std::env::var("DA3D_ALLOW_SKIP").as_deref() == Ok("1"),
            "{} is absent: set DA3D_DATA_DIR to the folder holding mammography.csv (or DA3D_ALLOW_SKIP=1 to skip)",
            path.display()
        );
        eprintln!("SKIPPED (DA3D_ALLOW_SKIP=1): {} is absent", path.display());
        return;
    }
    let preset = datasets::dataset("mammography").unwrap();
    let table = read_table(std::fs::File::open(&path).unwrap(), &preset.read).unwrap();
    assert_eq!(table.n_rows(), 11_183);
    assert_eq!(table.labels.as_ref().unwrap().iter().filter(|&&l| l == 1).count(), 260);
    let p = prepare(&table, Some("label".into()), 0.0, 0).unwrap();
    assert_eq!(p.summary.input_width, 6);
    let mut cfg = TrainingConfig::preset(Preset::Paper, 6, Some("mammography"));
    cfg.seed = 0;
    cfg.schedule.aae_epochs = 100;
    cfg.schedule.pretrain_epochs = 50;
    cfg.schedule.da3d_epochs = 25;
    let mut t = Trainer::new(cfg.validated().unwrap(), p.train.clone(), &Device::flex()).unwrap();
    while wait(t.step_epoch()).unwrap().is_some() {}
    let scores = wait(t.detector().score(&p.test.x, ScoreKind::Alarm)).unwrap();
    let auc = roc_auc(&scores, &p.test.labels).unwrap();
    eprintln!("Mammography, short schedule, seed 0: test ROC AUC {auc:.4}");
    assert!(auc > 0.80, "test AUC {auc}");
}
