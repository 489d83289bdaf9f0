// Over 500 lines: one integration-test binary, so that the trainer compiles once for all of these tests.
//! Training, scoring and bundle tests on the CPU backend (flex).

use burn::tensor::Device;
use da3d::bundle::{BundleHeader, Model};
use da3d::config::{Lipschitz, Method, Preset, Scoring, TrainingConfig};
use da3d::data::{ReadOptions, prepare, read_table_bytes};
use da3d::metrics::roc_auc;
use da3d::synthetic::{SyntheticSpec, synthetic_csv};
use da3d::train::{Phase, Trainer};
use da3d::{ScoreKind, train, wait};

fn device() -> Device {
    Device::flex()
}

/// burn's CPU backends keep one global random generator, drawn from by trainings and by every
/// network initialisation (a bundle load too): each test holds this lock from start to end, so a
/// test's draws never interleave with another's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn small_config(d: usize, seed: u64, method: Method) -> TrainingConfig {
    let mut c = TrainingConfig::preset(Preset::Paper, d, None);
    c.seed = seed;
    c.method = method;
    c.architecture.encoder = vec![12, 8, 4, 2];
    c.architecture.alarm = vec![32, 16];
    c.architecture.generator = vec![16, 8];
    c.schedule.aae_epochs = 20;
    c.schedule.pretrain_epochs = 5;
    c.schedule.da3d_epochs = 15;
    c.schedule.batch_size = 64;
    c.optimizer.learning_rate = 1e-3;
    c
}

fn synthetic_prepared(seed: u64) -> da3d::data::Prepared {
    let csv = synthetic_csv(&SyntheticSpec { rows: 1500, seed, ..Default::default() });
    let table = read_table_bytes(csv.as_bytes(), &ReadOptions::default()).unwrap();
    prepare(&table, Some("label".into()), 0.0, seed).unwrap()
}

/// Train to the end (the caller holds `lock()`).
fn train_to_end(config: TrainingConfig, p: &da3d::data::Prepared) -> Trainer {
    let mut t = Trainer::new(config.validated().unwrap(), p.train.clone(), &device()).unwrap();
    while wait(t.step_epoch()).unwrap().is_some() {}
    t
}

#[test]
fn trains_through_every_phase_and_detects_synthetic_anomalies() {
    let _guard = lock();
    let p = synthetic_prepared(1);
    let t = train_to_end(small_config(p.train.cols, 1, Method::Da3d), &p);
    let phases: Vec<Phase> = t.history().iter().map(|r| r.phase).collect();
    assert_eq!(phases.iter().filter(|&&p| p == Phase::Aae).count(), 20);
    assert_eq!(phases.iter().filter(|&&p| p == Phase::Pretrain).count(), 5);
    assert_eq!(phases.iter().filter(|&&p| p == Phase::Da3d).count(), 15);
    let last = t.history().last().unwrap();
    for name in ["alarm", "generator", "critic", "critic_normal", "critic_generated", "critic_noise"] {
        assert!(last.get(name).unwrap().is_finite(), "{name}");
    }
    assert_eq!(t.phase(), Phase::Done);
    // the AAE learns: reconstruction loss goes down
    let rec: Vec<f32> = t.history().iter().filter(|r| r.phase == Phase::Aae).map(|r| r.get("reconstruction").unwrap()).collect();
    assert!(rec.last().unwrap() < &rec[0], "{rec:?}");
    let scores = wait(t.detector().score(&p.test.x, ScoreKind::Alarm)).unwrap();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    let auc = roc_auc(&scores, &p.test.labels).unwrap();
    assert!(auc > 0.7, "synthetic test AUC {auc}");
}

#[test]
fn cached_and_recomputed_frozen_outputs_train_alike() {
    let _guard = lock();
    // Detector steps gather the frozen AAE's outputs of the training rows from a cache, or
    // recompute them per batch when the cache would be too large: the same numbers either way.
    let p = synthetic_prepared(6);
    let mut c = small_config(p.train.cols, 6, Method::Da3d);
    c.schedule.aae_epochs = 3;
    c.schedule.pretrain_epochs = 2;
    c.schedule.da3d_epochs = 3;
    let history = |budget: usize| {
        let mut t = Trainer::new(c.clone().validated().unwrap(), p.train.clone(), &device()).unwrap().with_frozen_output_budget(budget);
        while wait(t.step_epoch()).unwrap().is_some() {}
        t.history().to_vec()
    };
    let (cached, recomputed) = (history(usize::MAX), history(0));
    assert_eq!(cached.len(), 8);
    for (a, b) in cached.iter().zip(&recomputed) {
        for (x, y) in a.values.iter().zip(&b.values) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{:?} epoch {}: {x} vs {y}", a.phase, a.epoch);
        }
    }
}

#[test]
fn same_seed_gives_identical_scores_and_other_seed_differs() {
    let _guard = lock();
    let p = synthetic_prepared(2);
    let run = |seed| {
        let t = train_to_end(small_config(p.train.cols, seed, Method::Da3d), &p);
        wait(t.detector().score(&p.test.x, ScoreKind::Alarm)).unwrap()
    };
    let a = run(5);
    let b = run(5);
    let c = run(6);
    assert_eq!(a, b, "same seed, same data: identical scores");
    assert_ne!(a, c);
}

#[test]
fn ablations_run_from_the_same_loop() {
    let _guard = lock();
    let p = synthetic_prepared(3);
    for method in [Method::A3Noise, Method::SimpleGenerator] {
        let t = train_to_end(small_config(p.train.cols, 0, method), &p);
        let last = t.history().last().unwrap();
        assert_eq!(last.names, vec!["alarm"]);
        let auc = roc_auc(&wait(t.detector().score(&p.test.x, ScoreKind::Alarm)).unwrap(), &p.test.labels).unwrap();
        assert!(auc > 0.6, "{method:?}: {auc}");
    }
}

#[test]
fn code_relative_noise_trains_both_generators() {
    let _guard = lock();
    let p = synthetic_prepared(9);
    for method in [Method::Da3d, Method::SimpleGenerator] {
        let mut c = small_config(p.train.cols, 0, method);
        c.losses.code_relative_noise = true;
        let t = train_to_end(c, &p);
        assert!(t.history().last().unwrap().values.iter().all(|v| v.is_finite()));
        let auc = roc_auc(&wait(t.detector().score(&p.test.x, ScoreKind::Alarm)).unwrap(), &p.test.labels).unwrap();
        assert!(auc > 0.6, "{method:?}: {auc}");
    }
}

#[test]
fn weight_clipping_keeps_critic_weights_bounded() {
    let _guard = lock();
    let p = synthetic_prepared(4);
    let mut c = small_config(p.train.cols, 0, Method::Da3d);
    c.losses.lipschitz = Lipschitz::WeightClip(0.05);
    let t = train_to_end(c, &p);
    let nets = t.networks();
    for layer in nets.critic.net.layers.iter().chain(&nets.latent_discriminator.net.layers) {
        let w = layer.weight.val().into_data().try_to_vec::<f32>().unwrap();
        assert!(w.iter().all(|v| v.abs() <= 0.05 + 1e-6));
    }
}

fn model_of(t: &Trainer, p: &da3d::data::Prepared) -> Model {
    Model {
        header: BundleHeader {
            crate_version: da3d::VERSION.into(),
            config: t.config().clone().into_inner(),
            networks: t.networks_config().clone(),
            preprocessor: p.preprocessor.clone(),
            threshold: 0.5,
            threshold_rate: 0.01,
            train_score_quantiles: vec![(0.5, 0.1)],
            backend: "flex".into(),
            training_rows: p.train.rows,
            metrics: None,
            alarm_metrics: None,
            code_stats: None,
            read: None,
            scales: None,
            neighbours: None,
        },
        members: vec![t.networks()],
    }
}

#[test]
fn bundle_round_trip_gives_identical_scores_and_rejects_bad_bytes() {
    let _guard = lock();
    let p = synthetic_prepared(5);
    let t = train_to_end(small_config(p.train.cols, 0, Method::Da3d), &p);
    let model = model_of(&t, &p);
    let bytes = model.to_bytes().unwrap();
    let loaded = Model::from_bytes(&bytes, &device()).unwrap();
    assert_eq!(loaded.header, model.header);
    let a = wait(model.detector().score(&p.test.x, ScoreKind::Alarm)).unwrap();
    let b = wait(loaded.detector().score(&p.test.x, ScoreKind::Alarm)).unwrap();
    assert_eq!(a, b);

    let err = |b: &[u8]| Model::from_bytes(b, &device()).unwrap_err().to_string();
    assert!(err(&bytes[..bytes.len() - 10]).contains("truncated"));
    assert!(err(&bytes[..30]).contains("truncated"));
    assert!(err(&bytes[..4]).contains("truncated"));
    assert!(err(b"label,x\n0,1\n").contains("not a da3d model"));
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(err(&flipped).contains("checksum"));
    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&99u32.to_le_bytes());
    assert!(err(&newer).contains("newer"));
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"xx");
    assert!(err(&longer).contains("corrupted") || err(&longer).contains("truncated"));
}

#[test]
fn diverging_training_is_an_error_naming_phase_and_epoch() {
    let _guard = lock();
    let p = synthetic_prepared(6);
    let mut c = small_config(p.train.cols, 0, Method::Da3d);
    c.optimizer.learning_rate = 1e30;
    c.losses.lipschitz = Lipschitz::None;
    let mut t = Trainer::new(c.validated().unwrap(), p.train.clone(), &device()).unwrap();
    let err = loop {
        match wait(t.step_epoch()) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("a learning rate of 1e30 should diverge"),
            Err(e) => break e,
        }
    };
    let msg = err.to_string();
    assert!(msg.contains("diverged in phase") && msg.contains("epoch"), "{msg}");
}

#[test]
fn observer_can_cancel_between_steps() {
    let _guard = lock();
    struct StopAfter(usize, usize);
    impl train::Observer for StopAfter {
        fn on_batch(&mut self, _: &da3d::Progress) {
            self.1 += 1;
        }
        fn cancelled(&self) -> bool {
            self.1 >= self.0
        }
    }
    let p = synthetic_prepared(7);
    let mut t = Trainer::new(small_config(p.train.cols, 0, Method::Da3d).validated().unwrap(), p.train.clone(), &device()).unwrap();
    let mut obs = StopAfter(3, 0);
    let finished = train::run_blocking(&mut t, &mut obs).unwrap();
    assert!(!finished);
    assert_eq!(t.progress().steps_done, 3);
}

#[test]
fn async_copy_to_another_device_keeps_scores() {
    let _guard = lock();
    let p = synthetic_prepared(8);
    let t = train_to_end(small_config(p.train.cols, 0, Method::Da3d), &p);
    let nets = t.networks();
    #[allow(deprecated)]
    let other = Device::ndarray();
    let copied = wait(da3d::detector::networks_to_device(&nets, &other)).unwrap();
    let a = wait(da3d::Detector::new(&nets, t.config().architecture.alarm_input).score(&p.test.x, ScoreKind::Alarm)).unwrap();
    let b = wait(da3d::Detector::new(&copied, t.config().architecture.alarm_input).score(&p.test.x, ScoreKind::Alarm)).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
}

/// Every float parameter of a module, flattened, in visiting order.
fn parameters<M: burn::module::Module>(m: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<burn::tensor::Tensor<D>>) {
            self.0.extend(p.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

#[test]
fn the_aae_is_frozen_in_the_detector_phases_and_the_detector_networks_train() {
    let _guard = lock();
    let p = synthetic_prepared(4);
    let mut t = Trainer::new(small_config(p.train.cols, 4, Method::Da3d).validated().unwrap(), p.train.clone(), &device()).unwrap();
    while t.phase() == Phase::Aae {
        wait(t.step_epoch()).unwrap();
    }
    let (aae, before) = (parameters(&t.aae()), t.networks());
    while wait(t.step_epoch()).unwrap().is_some() {}
    let after = t.networks();
    assert_eq!(parameters(&after.aae), aae, "the AAE's weights moved in the detector phases");
    assert_eq!(parameters(&after.latent_discriminator), parameters(&before.latent_discriminator));
    for (name, b, a) in [
        ("alarm", parameters(&before.alarm), parameters(&after.alarm)),
        ("generator", parameters(&before.generator), parameters(&after.generator)),
        ("critic", parameters(&before.critic), parameters(&after.critic)),
    ] {
        assert_ne!(b, a, "the {name} did not train");
    }
}

#[test]
fn the_critic_scores_noise_codes_above_normal_and_generated_codes() {
    // The critic's loss rewards large outputs on N(0, σ²) noise and small ones on normal and
    // generated codes: with its sign flipped this fails.
    let _guard = lock();
    let p = synthetic_prepared(5);
    let t = train_to_end(small_config(p.train.cols, 5, Method::Da3d), &p);
    let last = t.history().last().unwrap();
    let (normal, generated, noise) =
        (last.get("critic_normal").unwrap(), last.get("critic_generated").unwrap(), last.get("critic_noise").unwrap());
    assert!(noise > normal && noise > generated, "critic outputs: normal {normal}, generated {generated}, noise {noise}");
}

/// A fit (the pipeline's trainer and data) of `c` on the protocol split `p`, threshold share 1 %.
fn start_fit(p: &da3d::data::Prepared, c: TrainingConfig) -> da3d::pipeline::Fit {
    use da3d::pipeline::{Fit, FitConfig, FitData};
    let data = FitData::protocol(p.clone(), b',');
    let config = FitConfig::new(c.validated().unwrap(), da3d::config::ThresholdRate::DEFAULT, 0.0).unwrap();
    Fit::start(data, config, &ReadOptions::default(), &device(), "flex").unwrap()
}

/// A two-member ensemble of the small config, trained to the end through the fit pipeline, with
/// the combined score and the neighbours term (5th neighbour).
fn ensemble_fit(p: &da3d::data::Prepared) -> da3d::pipeline::FitOutcome {
    use da3d::config::Ensemble;
    let mut c = small_config(p.train.cols, 3, Method::Da3d);
    c.schedule.aae_epochs = 4;
    c.schedule.pretrain_epochs = 1;
    c.schedule.da3d_epochs = 2;
    c.ensemble = Ensemble { members: 2, scoring: Scoring::AlarmAndReconstruction, neighbours: 5, ..Default::default() };
    let mut fit = start_fit(p, c);
    let t = fit.trainer();
    assert_eq!((t.progress().member, t.progress().members), (0, 2));
    let total = t.progress().steps_total;
    while wait(t.step_epoch()).unwrap().is_some() {}
    assert_eq!(t.progress().steps_done, total, "both members train their whole schedule");
    let members: Vec<usize> = t.history().iter().map(|r| r.member).collect();
    assert_eq!(members.iter().filter(|&&m| m == 0).count(), 7);
    assert_eq!(members.iter().filter(|&&m| m == 1).count(), 7);
    wait(fit.finish()).unwrap()
}

/// (mean, population standard deviation).
fn f64_moments(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt())
}

/// `(r_j − μ_j)/σ_j` of every row of the residuals `r` (row-major), with the scale's moments.
fn standardised_residuals(r: &da3d::data::Matrix, s: &da3d::detector::MemberScale) -> Vec<f32> {
    (0..r.rows).flat_map(|i| (0..r.cols).map(move |j| (r.row(i)[j] - s.residual[j].0) / s.residual[j].1)).collect()
}

/// `ln(mean_j ((r_j − μ_j)/σ_j)² + 1e-12)` of every row of the residuals `r`, with the scale's
/// residual moments: the reconstruction part of a member's standardised score, recomputed here.
fn standardised_log_errors(r: &da3d::data::Matrix, s: &da3d::detector::MemberScale) -> Vec<f64> {
    (0..r.rows)
        .map(|i| {
            let e = (0..r.cols).map(|j| ((r.row(i)[j] - s.residual[j].0) / s.residual[j].1).powi(2) as f64).sum::<f64>() / r.cols as f64;
            (e + 1e-12).ln()
        })
        .collect()
}

/// The default's score (`robust`, `quick`): no alarm trains, and a member's part is its
/// standardised log reconstruction error alone; the neighbours term adds as before.
#[test]
fn the_reconstruction_score_trains_no_alarm_and_reads_none() {
    use da3d::config::Ensemble;
    let _guard = lock();
    let p = synthetic_prepared(6);
    let mut c = small_config(p.train.cols, 3, Method::Da3d);
    c.schedule.aae_epochs = 4;
    c.schedule.pretrain_epochs = 0;
    c.schedule.da3d_epochs = 0;
    c.ensemble = Ensemble { members: 2, scoring: Scoring::Reconstruction, neighbours: 5, ..Default::default() };
    // Without the reconstruction-only score, no alarm epochs is an error; alarm epochs asked
    // for put the alarm into the score.
    let mut alarm_scored = c.clone();
    alarm_scored.ensemble.scoring = Scoring::AlarmAndReconstruction;
    assert!(alarm_scored.validated().unwrap_err().to_string().contains("da3d_epochs"));
    let mut asked = c.clone();
    asked.schedule.pretrain_epochs = 1;
    assert_eq!(asked.ensemble.scoring.for_schedule(&asked.schedule), Scoring::AlarmAndReconstruction);
    let robust = TrainingConfig::preset_for_rows(Preset::Robust, p.train.cols, Some(p.train.rows), None);
    assert_eq!((robust.ensemble.scoring, robust.schedule.pretrain_epochs, robust.schedule.da3d_epochs), (Scoring::ScaledTails, 0, 0));
    let mut with_tails = c.clone();
    with_tails.ensemble.scoring = Scoring::ReconstructionAndTails;
    assert_eq!(with_tails.ensemble.scoring.for_schedule(&with_tails.schedule), Scoring::ReconstructionAndTails);
    let mut tails_alone = c.clone();
    tails_alone.ensemble.scoring = Scoring::Tails;
    // The default's: a quarter of the tails term beside the mean distance to the 5 nearest.
    let mut quarter = c.clone();
    quarter.ensemble.scoring = Scoring::ScaledTails;
    quarter.ensemble.neighbours_distance = da3d::config::NeighbourDistance::MeanOfK;
    quarter.ensemble.tails_weight = 0.25;
    for c in [c, with_tails, tails_alone, quarter] {
        reconstruction_scores_recompute(&p, c);
    }
}

/// Train `c` (a reconstruction score: the log error, the residual tails term or both; two members,
/// the neighbours term) and recompute its scores from the members' residuals.
fn reconstruction_scores_recompute(p: &da3d::data::Prepared, c: TrainingConfig) {
    use da3d::detector::Detector;
    let scoring = c.ensemble.scoring;
    let mut fit = start_fit(p, c);
    let t = fit.trainer();
    while wait(t.step_epoch()).unwrap().is_some() {}
    assert!(t.history().iter().all(|r| r.phase == Phase::Aae), "only the AAE trains");
    assert_eq!(t.history().len(), 8);
    let outcome = wait(fit.finish()).unwrap();
    let model = &outcome.model;
    let scales = model.header.scales.clone().expect("the standardised score keeps scales");
    assert!(scales.iter().all(|s| s.logit == (0.0, 1.0)), "no alarm measured: {scales:?}");
    assert!(scales.iter().all(|s| s.tails.is_some() == scoring.reads_tails()), "{scoring:?}: {scales:?}");
    // Each member's part, recomputed from its residuals: the members' mean of the standardised
    // log error, of the standardised tails term, or of the mean of the two; then the scores with
    // the neighbours term.
    let d = model.detector();
    let members_only = Detector::ensemble(&model.members, model.header.config.architecture.alarm_input, scoring, scales.clone())
        .unwrap()
        .with_tails_weight(model.header.config.ensemble.tails_weight);
    let part = wait(members_only.score(&p.test.x, ScoreKind::Model)).unwrap();
    let mut expected = vec![0f64; p.test.x.rows];
    for (k, s) in scales.iter().enumerate() {
        let residuals = wait(d.member(k).residuals(&p.test.x)).unwrap();
        let log_errors = standardised_log_errors(&residuals, s);
        let tails = s.tails.as_ref().map(|t| t.terms(&standardised_residuals(&residuals, s)));
        for (i, (e, l)) in expected.iter_mut().zip(log_errors).enumerate() {
            let log_error = (l - s.log_error.0 as f64) / s.log_error.1 as f64;
            *e += match (&tails, scoring) {
                (Some(t), Scoring::Tails) => t[i] as f64 / 2.0,
                (Some(t), Scoring::ScaledTails) => 0.25 * t[i] as f64 / 2.0,
                (Some(t), _) => (log_error + t[i] as f64) / 2.0 / 2.0,
                (None, _) => log_error / 2.0,
            };
        }
        // The tails term is standardised on the training rows.
        if let Some(t) = &s.tails {
            let train = t.terms(&standardised_residuals(&wait(d.member(k).residuals(&p.train)).unwrap(), s));
            let (mean, std) = f64_moments(&train.iter().map(|&v| v as f64).collect::<Vec<_>>());
            assert!(mean.abs() < 1e-3 && (std - 1.0).abs() < 1e-3, "tails term on the training rows: {mean} ± {std}");
        }
    }
    for (g, e) in part.iter().zip(&expected) {
        assert!((*g as f64 - e).abs() < 2e-3 * (1.0 + e.abs()), "{g} vs {e}");
    }
    let n = model.header.neighbours.as_ref().expect("the neighbours term");
    let terms = n.terms(&p.test.x).unwrap();
    // The term recomputed by brute force: the 5 nearest training rows of a few test rows.
    for i in (0..p.test.x.rows).step_by(97) {
        let mut d: Vec<f64> = (0..p.train.rows)
            .map(|r| p.train.row(r).iter().zip(p.test.x.row(i)).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt())
            .collect();
        d.sort_by(f64::total_cmp);
        let distance = match n.distance {
            da3d::config::NeighbourDistance::Kth => d[4],
            da3d::config::NeighbourDistance::MeanOfK => d[..5].iter().sum::<f64>() / 5.0,
        };
        let term = ((distance + 1e-12).ln() - n.log_distance.0 as f64) / n.log_distance.1 as f64;
        assert!((term - terms[i] as f64).abs() < 1e-3 * (1.0 + term.abs()), "{:?}, row {i}: {term} vs {}", n.distance, terms[i]);
    }
    let got = wait(d.score(&p.test.x, ScoreKind::Model)).unwrap();
    for i in 0..got.len() {
        assert!((got[i] - (part[i] + terms[i])).abs() < 1e-4 * (1.0 + got[i].abs()), "row {i}");
    }
    // The bundle keeps it: format 6, the members' autoencoders alone (nothing else trained or
    // read) and the neighbours term's rows as bytes (older builds refuse it).
    let bytes = model.to_bytes().unwrap();
    let format = if scoring == Scoring::ScaledTails { 7 } else { 6 };
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), format, "{scoring:?}");
    let loaded = Model::from_bytes(&bytes, &device()).unwrap();
    assert_eq!(loaded.header.scales, model.header.scales);
    assert_eq!(wait(loaded.detector().score(&p.test.x, ScoreKind::Model)).unwrap(), got);
    // It finds the synthetic anomalies.
    let auc = roc_auc(&got, &p.test.labels).unwrap();
    assert!(auc > 0.9, "test ROC AUC {auc}");
}

#[test]
fn an_ensemble_scores_the_mean_of_its_members_standardised_scores() {
    use da3d::detector::Detector;
    let _guard = lock();
    let p = synthetic_prepared(6);
    let outcome = ensemble_fit(&p);
    let model = &outcome.model;
    assert_eq!(model.members.len(), 2);
    let scales = model.header.scales.clone().expect("combined scoring keeps scales");
    assert_eq!(scales.len(), 2);
    assert_eq!(scales[0].residual.len(), p.train.cols);
    let d = model.detector();
    // The members differ (own seeds), and each member's scale is its training rows' moments.
    let (m0, m1) = (d.member(0), d.member(1));
    let l0 = wait(m0.score(&p.test.x, ScoreKind::AlarmLogit)).unwrap();
    assert_ne!(l0, wait(m1.score(&p.test.x, ScoreKind::AlarmLogit)).unwrap());
    let mut expected = vec![0f64; p.test.x.rows];
    let close = |a: f64, b: f32| (a - b as f64).abs() < 1e-3 * (1.0 + a.abs());
    for (k, m) in [m0, m1].iter().enumerate() {
        let s = &scales[k];
        // The scale, recomputed here from the member's residuals and logits on the training rows.
        let d = p.train.cols;
        let residual_moments = |r: &da3d::data::Matrix| -> Vec<(f64, f64)> {
            (0..d).map(|j| f64_moments(&(0..r.rows).map(|i| r.row(i)[j] as f64).collect::<Vec<_>>())).collect()
        };
        let train_res = wait(m.residuals(&p.train)).unwrap();
        let rm = residual_moments(&train_res);
        for (j, (mean, std)) in rm.iter().enumerate() {
            assert!(close(*mean, s.residual[j].0) && close(std.max(1e-3), s.residual[j].1), "input {j}: {rm:?} vs {:?}", s.residual);
        }
        let train_logit: Vec<f64> = wait(m.score(&p.train, ScoreKind::AlarmLogit)).unwrap().iter().map(|&v| v as f64).collect();
        let (lm, ls) = f64_moments(&train_logit);
        assert!(close(lm, s.logit.0) && close(ls, s.logit.1), "{lm} {ls} vs {:?}", s.logit);
        let (em, es) = f64_moments(&standardised_log_errors(&train_res, s));
        assert!(close(em, s.log_error.0) && close(es, s.log_error.1), "{em} {es} vs {:?}", s.log_error);
        let logit = wait(m.score(&p.test.x, ScoreKind::AlarmLogit)).unwrap();
        let test_error = standardised_log_errors(&wait(m.residuals(&p.test.x)).unwrap(), s);
        for i in 0..expected.len() {
            let zl = (logit[i] as f64 - s.logit.0 as f64) / s.logit.1 as f64;
            let ze = (test_error[i] - s.log_error.0 as f64) / s.log_error.1 as f64;
            expected[i] += (zl + ze) / 2.0;
        }
    }
    // Plus the neighbours term: ln of the distance to the 5th nearest training row (all of them
    // here), standardised by the training rows' own (each leaving itself out).
    let n = model.header.neighbours.as_ref().expect("the config asks for the neighbours term");
    assert_eq!((n.k, n.rows(), n.width), (5, p.train.rows, p.train.cols));
    let kth_log = |x: &[f32], skip: Option<usize>| -> f64 {
        let mut d: Vec<f64> = (0..p.train.rows)
            .filter(|&i| Some(i) != skip)
            .map(|i| x.iter().zip(p.train.row(i)).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt())
            .collect();
        d.sort_by(f64::total_cmp);
        (d[4] + 1e-12).ln()
    };
    let train_logs: Vec<f64> = (0..p.train.rows).map(|i| kth_log(p.train.row(i), Some(i))).collect();
    let (nm, ns) = f64_moments(&train_logs);
    assert!(close(nm, n.log_distance.0) && close(ns, n.log_distance.1), "{nm} {ns} vs {:?}", n.log_distance);
    for (i, e) in expected.iter_mut().enumerate() {
        *e += (kth_log(p.test.x.row(i), None) - nm) / ns;
    }
    let got = wait(d.score(&p.test.x, ScoreKind::Model)).unwrap();
    for (g, e) in got.iter().zip(&expected) {
        assert!((*g as f64 - e).abs() < 2e-3 * (1.0 + e.abs()), "{g} vs {e}");
    }
    // The pipeline's test scores and threshold are the model's score.
    assert_eq!(outcome.test_scores.as_deref().unwrap(), got.as_slice());
    let above = outcome.train_scores.iter().filter(|&&s| s > model.header.threshold).count();
    assert!(above <= outcome.train_scores.len() / 100 + 1, "{above}");
    // A training row's own score leaves it out of its neighbours: the members' part plus its
    // own term (scored as a new row it would count itself, at distance 0).
    let members_only = Detector::ensemble(&model.members, model.header.config.architecture.alarm_input, Scoring::AlarmAndReconstruction, scales.clone()).unwrap();
    let part = wait(members_only.score(&p.train, ScoreKind::Model)).unwrap();
    for i in [0, p.train.rows / 2, p.train.rows - 1] {
        let want = part[i] as f64 + (train_logs[i] - nm) / ns;
        assert!((outcome.train_scores[i] as f64 - want).abs() < 2e-3 * (1.0 + want.abs()), "row {i}");
    }
}

#[test]
fn ensemble_bundles_round_trip_and_single_models_keep_format_1() {
    let _guard = lock();
    let p = synthetic_prepared(7);
    let model = ensemble_fit(&p).model;
    let bytes = model.to_bytes().unwrap();
    // The neighbours term makes it format 5, its reference rows as bytes (older builds refuse it
    // rather than score without; format 3, with the rows as numbers, is read too).
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 5);
    assert!(model.header.neighbours.is_some());
    let loaded = Model::from_bytes(&bytes, &device()).unwrap();
    // serde_json reads f64 to within an ulp (no `float_roundtrip`): compare the metrics apart.
    let (mut h1, mut h2) = (loaded.header.clone(), model.header.clone());
    let (m1, m2) = (h1.metrics.take().unwrap(), h2.metrics.take().unwrap());
    assert!((m1.roc_auc - m2.roc_auc).abs() < 1e-12 && m1.rows == m2.rows);
    assert_eq!(h1, h2);
    let a = wait(model.detector().score(&p.test.x, ScoreKind::Model)).unwrap();
    assert_eq!(a, wait(loaded.detector().score(&p.test.x, ScoreKind::Model)).unwrap());
    // A one-member model is written as format 1, which older builds read.
    let t = train_to_end(small_config(p.train.cols, 0, Method::Da3d), &p);
    let single = model_of(&t, &p).to_bytes().unwrap();
    assert_eq!(u32::from_le_bytes(single[8..12].try_into().unwrap()), 1);
}

#[test]
fn members_trained_apart_make_the_same_model_as_one_ensemble_run() {
    // The page trains members in parallel workers: member k alone, with seed member_seed(seed, k)
    // and one member, its weights moved as bytes, then `finish_members`: the same model.
    use da3d::config::{Ensemble, Scoring, member_seed};
    let _guard = lock();
    let p = synthetic_prepared(6);
    let whole = ensemble_fit(&p);
    let config = whole.model.header.config.clone();
    assert_eq!(config.ensemble, Ensemble { members: 2, scoring: Scoring::AlarmAndReconstruction, neighbours: 5, ..Default::default() });
    let fit_of = |c: TrainingConfig| start_fit(&p, c);
    let mut weights = Vec::new();
    // the second member first: the order members train in does not matter
    for k in [1, 0] {
        let c = config.member(k);
        assert_eq!((c.seed, c.ensemble.members), (member_seed(config.seed, k), 1));
        let mut fit = fit_of(c);
        while wait(fit.trainer().step_epoch()).unwrap().is_some() {}
        weights.push((k, da3d::bundle::member_to_bytes(&fit.trainer().networks()).unwrap()));
    }
    weights.sort();
    let mut fit = fit_of(config.clone());
    let networks = fit.trainer().networks_config().clone();
    let members = weights.iter().map(|(_, b)| da3d::bundle::member_from_bytes(b, &networks, &device()).unwrap()).collect();
    let apart = wait(fit.finish_members(members)).unwrap();
    assert_eq!(apart.test_scores, whole.test_scores, "the same scores, to the bit");
    assert_eq!(apart.model.header.threshold, whole.model.header.threshold);
    assert_eq!(apart.model.header.scales, whole.model.header.scales);
    // Bytes of another shape are refused with a message, not a panic.
    let mut small = config.clone();
    small.architecture.alarm = vec![8];
    let e = da3d::bundle::member_from_bytes(&weights[0].1, &small.networks(p.train.cols), &device()).unwrap_err().to_string();
    assert!(e.contains("member weights"), "{e}");
    assert!(da3d::bundle::member_from_bytes(&weights[0].1[..100], &networks, &device()).is_err());
}

#[test]
fn a_stop_between_members_keeps_the_finished_ones() {
    use da3d::config::Ensemble;
    let _guard = lock();
    let p = synthetic_prepared(8);
    let mut c = small_config(p.train.cols, 3, Method::Da3d);
    c.schedule.aae_epochs = 2;
    c.schedule.pretrain_epochs = 1;
    c.schedule.da3d_epochs = 0;
    c.ensemble = Ensemble { members: 3, scoring: Scoring::AlarmAndReconstruction, neighbours: 0, ..Default::default() };
    let mut fit = start_fit(&p, c);
    // three epochs: the first member is done, the second has not trained a batch
    for _ in 0..3 {
        wait(fit.trainer().step_epoch()).unwrap();
    }
    assert_eq!(fit.trainer().progress().member, 1);
    assert_eq!(fit.trainer().member_networks().len(), 1, "an untouched member is not kept");
    let outcome = wait(fit.finish()).unwrap();
    assert_eq!((outcome.model.members.len(), outcome.model.header.config.ensemble.members), (1, 1));
    // one epoch into the second member: both are kept
    let mut c = outcome.model.header.config.clone();
    c.ensemble.members = 3;
    let mut fit = start_fit(&p, c);
    for _ in 0..4 {
        wait(fit.trainer().step_epoch()).unwrap();
    }
    let outcome = wait(fit.finish()).unwrap();
    assert_eq!(outcome.model.members.len(), 2);
    let bytes = outcome.model.to_bytes().unwrap();
    assert_eq!(Model::from_bytes(&bytes, &device()).unwrap().members.len(), 2, "a stopped ensemble loads again");
}

#[test]
fn explanations_name_the_column_that_makes_a_row_anomalous() {
    use da3d::config::Ensemble;
    explanations_name_the_broken_column(Ensemble { members: 1, scoring: Scoring::AlarmAndReconstruction, neighbours: 0, ..Default::default() });
}

#[test]
fn explanations_of_the_default_score_split_all_its_terms() {
    // The `robust` score: residual tails per member and the neighbours term; and the score of
    // older builds: log error and residual tails.
    use da3d::config::Ensemble;
    explanations_name_the_broken_column(Ensemble { members: 2, scoring: Scoring::ReconstructionAndTails, neighbours: 5, ..Default::default() });
    explanations_name_the_broken_column(Ensemble { members: 2, scoring: Scoring::Tails, neighbours: 5, ..Default::default() });
    explanations_name_the_broken_column(Ensemble {
        members: 2,
        scoring: Scoring::ScaledTails,
        neighbours: 5,
        neighbours_distance: da3d::config::NeighbourDistance::MeanOfK,
        tails_weight: 0.25,
        density_ratio: 0.25,
    });
}

/// Four columns that move together (b = 2a, c = 1 - a, e = a / 2 + 0.25) and an independent
/// one, d: rows where only `c` breaks the pattern (in range) must be explained by `c`, rows
/// where only `d` is far outside training by `d`. The inputs' parts of a standardised score sum
/// to the weights of its split terms.
fn explanations_name_the_broken_column(ensemble: da3d::config::Ensemble) {
    let _guard = lock();
    let mut rng = da3d::rng::HostRng::new(11, 1);
    let mut csv = String::from("a,b,c,d,e,label\n");
    let mut uniform = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    for i in 0..2400 {
        let a = uniform();
        let d = uniform();
        let (c, d, label) = match i % 40 {
            0 => ((1.5 - a).fract(), d, 1), // c broken: 1 - a shifted by half its range
            1 => (1.0 - a, 4.0, 1), // d far outside [0, 1]
            _ => (1.0 - a, d, 0),
        };
        csv.push_str(&format!("{a:.5},{:.5},{c:.5},{d:.5},{:.5},{label}\n", 2.0 * a, a / 2.0 + 0.25));
    }
    let table = read_table_bytes(csv.as_bytes(), &ReadOptions::default()).unwrap();
    let p = prepare(&table, Some("label".into()), 0.0, 0).unwrap();
    let mut c = small_config(p.train.cols, 0, Method::Da3d);
    c.architecture.encoder = vec![8, 4, 2];
    c.schedule.aae_epochs = 100;
    c.schedule.pretrain_epochs = if ensemble.scoring.reads_alarm() { 2 } else { 0 };
    c.schedule.da3d_epochs = 0;
    c.architecture.alarm_input = da3d::config::AlarmInput::All;
    let (scoring, neighbours, tails_weight) = (ensemble.scoring, ensemble.neighbours, ensemble.tails_weight);
    c.ensemble = ensemble;
    let mut fit = start_fit(&p, c);
    while wait(fit.trainer().step_epoch()).unwrap().is_some() {}
    let model = wait(fit.finish()).unwrap().model;
    let detector = model.detector();
    // Σ_j c_j of every row: per member w/(K σ) of the log error and of the tails term (w their
    // weights in the score: 1 and 0, ½ and ½, 0 and 1), ½/σ of the neighbours term (ln of a
    // distance, not of its square).
    let scales = model.header.scales.as_ref().expect("a standardised score has scales");
    let k = scales.len() as f32;
    let mut weights: f32 = scales
        .iter()
        .map(|s| {
            let tails = s.tails.as_ref().map_or(0.0, |t| tails_weight * scoring.tails_weight() / (k * t.log_sum.1));
            scoring.error_weight() / (k * s.log_error.1) + tails
        })
        .sum();
    if let Some(n) = &model.header.neighbours {
        weights += 0.5 / n.log_distance.1;
    }
    assert_eq!(model.header.neighbours.is_some(), neighbours > 0);
    let lines = &p.test.lines;
    let anomalies: Vec<usize> = (0..p.test.labels.len()).filter(|&i| p.test.labels[i] == 1).collect();
    assert!(anomalies.len() >= 10, "{} anomalies in the test rows", anomalies.len());
    let x = p.test.x.select(&anomalies);
    let terms = wait(detector.input_contributions(&x)).unwrap();
    for r in 0..terms.rows {
        let total: f32 = terms.row(r).iter().sum();
        assert!((total - weights).abs() <= 1e-3 * weights, "row {r}: parts sum to {total}, the terms' weights to {weights}");
    }
    let why = da3d::explain::explain(&model.header.preprocessor, &x, &terms, 2).unwrap();
    let (mut right, mut total) = (0, 0);
    for (k, &i) in anomalies.iter().enumerate() {
        let kind = (lines[i] - 2) % 40; // the data row's index mod 40 (line 2 is row 0)
        let want = if kind == 0 { "c" } else { "d" };
        total += 1;
        right += (why[k][0].column == want) as usize;
        if kind == 1 {
            let d = &why[k][0];
            if d.column == "d" {
                assert!(d.outside_training && d.value == "4", "{d:?}");
            }
        }
        let shares: f32 = why[k].iter().map(|a| a.share).sum();
        assert!(shares <= 1.0 + 1e-4 && why[k][0].share >= why[k][1].share);
    }
    println!("{right} of {total} anomalies explained by the broken column");
    assert!(right * 10 >= total * 9, "{right} of {total} anomalies explained by the broken column: {why:?}");
}

#[test]
fn held_out_scores_follow_training_and_end_at_the_models_own() {
    // The page's live curve: after each epoch the member in training (its reconstruction error,
    // then its alarm), after a member's last epoch the finished members as the model scores.
    use da3d::config::Ensemble;
    let _guard = lock();
    let p = synthetic_prepared(9);
    let mut c = small_config(p.train.cols, 2, Method::Da3d);
    c.schedule.aae_epochs = 3;
    c.schedule.pretrain_epochs = 2;
    c.schedule.da3d_epochs = 0;
    c.ensemble = Ensemble { members: 2, scoring: Scoring::AlarmAndReconstruction, neighbours: 0, ..Default::default() };
    let mut fit = start_fit(&p, c);
    assert!(wait(fit.held_out()).unwrap().is_none(), "nothing before the first epoch");
    let mut seen = Vec::new();
    while wait(fit.trainer().step_epoch()).unwrap().is_some() {
        let h = wait(fit.held_out()).unwrap().expect("labelled test rows");
        assert_eq!(h.scores.len(), p.test.x.rows);
        assert!((0.0..=1.0).contains(&h.roc_auc) && (0.0..=1.0).contains(&h.average_precision));
        seen.push((h.member, h.score, h.roc_auc));
    }
    let kinds: Vec<(usize, &str)> = seen.iter().map(|s| (s.0, s.1)).collect();
    let member = |m| [(m, "reconstruction"), (m, "reconstruction"), (m, "reconstruction"), (m, "alarm"), (m, "model")];
    assert_eq!(kinds, [member(0), member(1)].concat());
    let last = seen.last().unwrap().2;
    let outcome = wait(fit.finish()).unwrap();
    let auc = outcome.model.header.metrics.unwrap().roc_auc;
    assert!((last - auc).abs() < 1e-9, "the curve's last point {last} is the model's test AUC {auc}");
}
