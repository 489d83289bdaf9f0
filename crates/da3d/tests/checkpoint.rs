//! Checkpoints: a trainer resumed from one trains the same numbers, bit for bit, as one that never
//! stopped, in every phase and member; another config or other rows are refused, saying which.

use burn::tensor::Device;
use da3d::config::{Ensemble, Method, Preset, Scoring, TrainingConfig};
use da3d::data::{Matrix, ReadOptions, prepare, read_table_bytes};
use da3d::synthetic::{SyntheticSpec, synthetic_csv};
use da3d::train::Trainer;
use da3d::wait;
use serde_json::json;

fn rows(seed: u64) -> Matrix {
    let csv = synthetic_csv(&SyntheticSpec { rows: 600, seed, ..Default::default() });
    let table = read_table_bytes(csv.as_bytes(), &ReadOptions::default()).unwrap();
    prepare(&table, Some("label".into()), 0.0, seed).unwrap().train
}

/// Small networks, every phase: AAE 6 epochs, pretraining 3, the method's phase 5.
fn config(d: usize, method: Method, members: usize) -> TrainingConfig {
    let mut c = TrainingConfig::preset(Preset::Paper, d, None);
    c.seed = 3;
    c.method = method;
    c.architecture.encoder = vec![12, 8, 4, 2];
    c.architecture.alarm = vec![16, 8];
    c.architecture.generator = vec![8, 4];
    c.schedule.aae_epochs = 6;
    c.schedule.pretrain_epochs = 3;
    c.schedule.da3d_epochs = 5;
    c.schedule.batch_size = 64;
    if members > 1 {
        c.ensemble = Ensemble { members, scoring: Scoring::AlarmAndReconstruction, neighbours: 0, ..Default::default() };
    }
    c
}

/// Every member's weights and the epochs' history after training to the end, stopping after
/// `stop` epochs to go on from a checkpoint in a new trainer (after another training on this
/// thread, which draws from the thread's dropout-mask generator), unless `stop` is `None`.
/// The bits of every parameter of `m` (burn's parameter ids are random: not compared).
fn bits<M: burn::module::Module>(m: &M) -> Vec<u32> {
    struct Collect(Vec<u32>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<burn::tensor::Tensor<D>>) {
            self.0.extend(p.val().into_data().try_to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()));
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

fn train(c: &TrainingConfig, x: &Matrix, stop: Option<usize>) -> (Vec<Vec<u32>>, String) {
    let device = Device::flex();
    let mut t = Trainer::new(c.clone().validated().unwrap(), x.clone(), &device).unwrap();
    if let Some(stop) = stop {
        for _ in 0..stop {
            wait(t.step_epoch()).unwrap().expect("epochs remain");
        }
        let bytes = t.checkpoint(json!({"curve": [0.5, 0.75]})).unwrap();
        drop(t);
        let mut other = Trainer::new(config(x.cols, Method::A3Noise, 1).validated().unwrap(), x.clone(), &device).unwrap();
        for _ in 0..8 {
            wait(other.step_epoch()).unwrap();
        }
        let (resumed, extra) = Trainer::resume(c.clone().validated().unwrap(), x.clone(), &device, &bytes).unwrap();
        assert_eq!(extra, json!({"curve": [0.5, 0.75]}));
        t = resumed;
    }
    while wait(t.step_epoch()).unwrap().is_some() {}
    let weights = t.member_networks().iter().map(bits).collect();
    (weights, serde_json::to_string(t.history()).unwrap())
}

#[test]
fn a_resumed_trainer_trains_the_same_bits_in_every_phase() {
    let x = rows(1);
    for (method, members, stops) in [
        (Method::Da3d, 1, vec![0, 3, 6, 8, 11, 14]),
        (Method::SimpleGenerator, 1, vec![10]),
        (Method::Da3d, 2, vec![5, 14, 20]),
    ] {
        let c = config(x.cols, method, members);
        let whole = train(&c, &x, None);
        assert_eq!(whole.0.len(), members);
        for stop in stops {
            let resumed = train(&c, &x, Some(stop));
            assert!(resumed.0 == whole.0, "{method:?}, {members} members, stopped after {stop} epochs: other weights");
            assert_eq!(resumed.1, whole.1, "{method:?}, stopped after {stop} epochs: other losses");
        }
    }
}

/// Stopped within an epoch (after `batches` more batches): the same bits as well.
#[test]
fn a_checkpoint_within_an_epoch_goes_on_from_its_batch() {
    let x = rows(1);
    let c = config(x.cols, Method::Da3d, 1);
    let whole = train(&c, &x, None);
    let device = Device::flex();
    for (epochs, batches) in [(2, 3), (7, 1), (10, 4)] {
        let mut t = Trainer::new(c.clone().validated().unwrap(), x.clone(), &device).unwrap();
        for _ in 0..epochs {
            wait(t.step_epoch()).unwrap();
        }
        for _ in 0..batches {
            assert_eq!(t.step_batch().unwrap(), da3d::Step::Batch);
        }
        let bytes = t.checkpoint(json!(null)).unwrap();
        let (mut t, _) = Trainer::resume(c.clone().validated().unwrap(), x.clone(), &device, &bytes).unwrap();
        while wait(t.step_epoch()).unwrap().is_some() {}
        assert!(t.member_networks().iter().map(bits).collect::<Vec<_>>() == whole.0, "stopped at batch {batches} of epoch {}", epochs + 1);
        assert_eq!(serde_json::to_string(t.history()).unwrap(), whole.1);
    }
}

#[test]
fn a_checkpoint_of_another_config_or_other_rows_is_refused_saying_which() {
    let x = rows(1);
    let c = config(x.cols, Method::Da3d, 1);
    let device = Device::flex();
    let mut t = Trainer::new(c.clone().validated().unwrap(), x.clone(), &device).unwrap();
    wait(t.step_epoch()).unwrap();
    let bytes = t.checkpoint(json!(null)).unwrap();
    let error = |c: &TrainingConfig, x: &Matrix, bytes: &[u8]| {
        Trainer::resume(c.clone().validated().unwrap(), x.clone(), &device, bytes).err().expect("refused").to_string()
    };
    let mut longer = c.clone();
    longer.schedule.da3d_epochs = 500;
    let e = error(&longer, &x, &bytes);
    assert!(e.contains("another config") && e.contains("schedule.da3d_epochs: 5 there, 500 here"), "{e}");
    let e = error(&c, &rows(2), &bytes);
    assert!(e.contains("other training rows"), "{e}");
    let mut cut = bytes.clone();
    cut.truncate(bytes.len() / 2);
    assert!(error(&c, &x, &cut).contains("checksum"), "{}", error(&c, &x, &cut));
    assert!(error(&c, &x, b"DA3DMODL not a checkpoint at all, but long enough").contains("not a da3d checkpoint"));
    // Between an epoch's last batch and its finish_epoch there is nothing to take.
    while t.step_batch().unwrap() != da3d::Step::EpochEnd {}
    assert!(t.checkpoint(json!(null)).is_err());
}
