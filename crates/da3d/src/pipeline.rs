//! The fit pipeline, written once for every front end (the CLI's `train`, `eval` and `bench`,
//! the page): what a user asks for and a read table become the training data and a checked
//! config; a trainer the caller steps; a finished trainer becomes a model (bundle).
//!
//! ```text
//! Table + ReadOptions ─┐
//! FitRequest ──────────┴─prepare─▶ (FitData, FitConfig) ──Fit::start──▶ Fit
//!   ▶ step fit.trainer() (CLI: run_blocking or worker processes; page: step_batch + finish_epoch)
//!   ▶ Fit::finish / finish_members ▶ FitOutcome { model (bundle), scores, codes }
//! ```

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::bundle::{Model, ModelParts, TestMetrics};
use crate::config::{DataShape, Method, Preset, ThresholdRate, TrainingConfig, ValidConfig};
use crate::data::{self, LabelledSet, Matrix, Preprocessor, ReadOptions, Table};
use crate::detector::{Detector, MemberScale, Neighbours, ScoreKind};
use crate::error::{Error, Result};
use crate::metrics;
use crate::model::{Aae, Networks};
use crate::train::Trainer;

/// Where a training config comes from: a preset for the data's width, then a JSON object of
/// overrides (any field, nested as the config), then single values (the CLI's flags, the page's
/// fields).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigOverrides {
    pub preset: Preset,
    /// Overrides of any field (`{"schedule": {"da3d_epochs": 100}}`), e.g. a `--config` file.
    pub json: Option<serde_json::Value>,
    /// Where `json` came from (a file name), named in its errors.
    pub json_source: Option<String>,
    pub seed: Option<u64>,
    pub method: Option<Method>,
    pub aae_epochs: Option<usize>,
    pub pretrain_epochs: Option<usize>,
    pub da3d_epochs: Option<usize>,
    pub batch_size: Option<usize>,
    /// The whole ensemble section (members, score, neighbours), replacing the preset's and the
    /// JSON's; `members` still applies after it.
    pub ensemble: Option<crate::config::Ensemble>,
    /// Ensemble members.
    pub members: Option<usize>,
}

impl ConfigOverrides {
    pub fn new(preset: Preset) -> Self {
        ConfigOverrides { preset, ..Default::default() }
    }

    /// The seed the config will have: the single value, else the JSON's `seed`, else 0. Known
    /// before the data is split (the split uses it).
    pub fn seed(&self) -> Result<u64> {
        if let Some(s) = self.seed {
            return Ok(s);
        }
        match self.json.as_ref().and_then(|j| j.get("seed")) {
            None => Ok(0),
            Some(v) => v.as_u64().ok_or_else(|| self.json_error(Error::config("seed", format!("{v} is not a non-negative integer")))),
        }
    }

    /// An error of the JSON overrides, naming where they came from: a data error (a file the
    /// user wrote), not a usage error.
    fn json_error(&self, e: Error) -> Error {
        match &self.json_source {
            Some(source) => Error::Data(format!("{source}: {e}")),
            None => e,
        }
    }

    /// The config for training data of `shape` (and the named data set's architecture): the
    /// preset, the JSON overrides, the single values, checked once. The score is decided here,
    /// in one visible place: a schedule that trains an alarm scores with it
    /// ([`Scoring::for_schedule`](crate::config::Scoring::for_schedule)).
    pub fn build(&self, shape: DataShape, dataset: Option<&str>) -> Result<ValidConfig> {
        let mut cfg = TrainingConfig::preset_for_data(self.preset, shape, dataset);
        if let Some(json) = &self.json {
            cfg = cfg.with_overrides(json).and_then(|c| c.clone().validated().map(|_| c)).map_err(|e| self.json_error(e))?;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(m) = self.method {
            cfg.method = m;
        }
        if let Some(e) = &self.ensemble {
            cfg.ensemble = e.clone();
        }
        if let Some(k) = self.members {
            cfg.ensemble.members = k;
        }
        let s = &mut cfg.schedule;
        for (slot, value) in [
            (&mut s.aae_epochs, self.aae_epochs),
            (&mut s.pretrain_epochs, self.pretrain_epochs),
            (&mut s.da3d_epochs, self.da3d_epochs),
            (&mut s.batch_size, self.batch_size),
        ] {
            if let Some(v) = value {
                *slot = v;
            }
        }
        cfg.ensemble.scoring = cfg.ensemble.scoring.for_schedule(&cfg.schedule);
        cfg.validated()
    }
}

/// What a user asks of a fit besides the table: where the config comes from, the named data set,
/// the contamination of the training rows and the share of them the threshold flags.
#[derive(Debug, Clone, PartialEq)]
pub struct FitRequest {
    pub overrides: ConfigOverrides,
    /// A named data set: its architecture for the `paper` and `reference` presets.
    pub dataset: Option<String>,
    pub contamination: f64,
    /// How labelled rows split into training and held-out rows.
    pub protocol: data::Protocol,
    pub threshold_rate: ThresholdRate,
    /// Train ensemble member `k` alone ([`TrainingConfig::member`]) on the split of the whole
    /// ensemble's seed: members trained apart make the model one run makes.
    pub member: Option<usize>,
}

impl FitRequest {
    pub fn new(overrides: ConfigOverrides) -> Self {
        FitRequest {
            overrides,
            dataset: None,
            contamination: 0.0,
            protocol: data::Protocol::Paper,
            threshold_rate: ThresholdRate::DEFAULT,
            member: None,
        }
    }

    /// The training data of `table` and the checked config for it: the split
    /// by the config's seed, the preset for the training rows' shape, the overrides. Refuses what
    /// cannot train before anything trains.
    pub fn prepare(&self, table: &Table) -> Result<(FitData, FitConfig)> {
        check_contamination(self.contamination)?;
        let data = prepare_fit(table, self.contamination, self.overrides.seed()?, self.protocol)?;
        let config = self.config(&data)?;
        Ok((data, config))
    }

    /// The checked config for training data `data` (prepared as [`prepare`](Self::prepare) does).
    pub fn config(&self, data: &FitData) -> Result<FitConfig> {
        let mut training = self.overrides.build(data.shape(), self.dataset.as_deref())?;
        if let Some(k) = self.member {
            if k >= training.ensemble.members {
                return Err(Error::config("member", format!("member {k} of an ensemble of {}", training.ensemble.members)));
            }
            training = training.member(k);
        }
        FitConfig::new(training, self.threshold_rate, self.contamination)
    }
}

/// A fit's checked config: the networks' config, the share of training rows above the threshold,
/// the contamination.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    training: ValidConfig,
    threshold_rate: ThresholdRate,
    contamination: f64,
}

/// `contamination` is a share of anomalies in [0, 0.5).
fn check_contamination(contamination: f64) -> Result<()> {
    if (0.0..0.5).contains(&contamination) {
        Ok(())
    } else {
        Err(Error::config("contamination", format!("{contamination} is outside [0, 0.5)")))
    }
}

impl FitConfig {
    /// A fit's config of checked parts (a [`FitRequest`] makes one from what a user asks).
    pub fn new(training: ValidConfig, threshold_rate: ThresholdRate, contamination: f64) -> Result<Self> {
        check_contamination(contamination)?;
        Ok(FitConfig { training, threshold_rate, contamination })
    }

    pub fn training(&self) -> &ValidConfig {
        &self.training
    }

    pub fn threshold_rate(&self) -> ThresholdRate {
        self.threshold_rate
    }

    pub fn contamination(&self) -> f64 {
        self.contamination
    }
}

/// What the training rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitRows {
    /// Labelled with both classes: the paper's protocol (seeded 80/5/15 split, normal rows train).
    Protocol,
    /// The label column holds only normal rows: every row trains, nothing is held out.
    AllNormal,
    /// No label column: every row trains.
    Unlabelled,
}

/// The data of a fit: the fitted preprocessing, the training rows and, with the protocol, the
/// held-out sets.
#[derive(Debug, Clone)]
pub struct FitData {
    pub rows: FitRows,
    pub preprocessor: Preprocessor,
    pub train: Matrix,
    pub train_lines: Vec<u64>,
    pub validation: Option<LabelledSet>,
    pub test: Option<LabelledSet>,
    /// The protocol's summary (`None` when every row trains).
    pub summary: Option<data::PrepareSummary>,
    /// What the user should be told (one sentence each).
    pub notes: Vec<String>,
    /// The delimiter the file was read with (given or sniffed): kept in the bundle.
    pub delimiter: u8,
}

impl FitData {
    /// What the presets read of the training data: inputs, the columns they come from, rows.
    pub fn shape(&self) -> DataShape {
        self.preprocessor.shape(&self.train)
    }

    /// The protocol's split of a file read with `delimiter`.
    pub fn protocol(p: data::Prepared, delimiter: u8) -> Self {
        FitData {
            rows: FitRows::Protocol,
            preprocessor: p.preprocessor,
            train: p.train,
            train_lines: p.train_lines,
            validation: Some(p.validation),
            test: Some(p.test),
            summary: Some(p.summary),
            notes: Vec::new(),
            delimiter,
        }
    }
}

/// Fewest training rows: the neighbours term measures each row against the others.
pub const MIN_TRAINING_ROWS: usize = 2;

/// Prepare a read table for training: `protocol`'s split when the label column has both
/// classes; every row when it has none, or only normal rows (with a note that no test evaluation
/// is possible). `contamination` needs labelled anomalies.
pub fn prepare_fit(table: &Table, contamination: f64, seed: u64, protocol: data::Protocol) -> Result<FitData> {
    let label = table.label.clone().filter(|_| table.labels.is_some());
    let (n, anomalies) = match &table.labels {
        Some(l) => (l.len(), Some(l.iter().filter(|&&v| v == 1).count())),
        None => (table.n_rows(), None),
    };
    let rows = match anomalies {
        Some(a) if a == n => {
            return Err(Error::Data(format!(
                "every row of the label column '{}' is an anomaly (1): training needs normal rows (0)",
                label.unwrap_or_default()
            )));
        }
        Some(0) => FitRows::AllNormal,
        Some(_) => FitRows::Protocol,
        None => FitRows::Unlabelled,
    };
    if rows != FitRows::Protocol && contamination > 0.0 {
        let why = match rows {
            FitRows::AllNormal => "the label column holds no anomalies to mix in",
            _ => "the file has no label column",
        };
        return Err(Error::Data(format!("contamination {contamination} needs labelled anomalies: {why}")));
    }
    let data = if rows == FitRows::Protocol {
        FitData::protocol(data::prepare_with(table, label, contamination, seed, protocol)?, table.report.delimiter)
    } else {
        let (preprocessor, train) = data::prepare_all_rows(table, label.clone())?;
        let note = match rows {
            FitRows::AllNormal => format!(
                "the label column '{}' holds only normal rows (0): all {n} rows train the model; no test \
                 evaluation is possible (it needs anomalies, 1)",
                label.unwrap_or_default()
            ),
            _ => format!("no label column: all {n} rows train the model"),
        };
        FitData {
            rows,
            preprocessor,
            train,
            train_lines: table.lines.clone(),
            validation: None,
            test: None,
            summary: None,
            notes: vec![note],
            delimiter: table.report.delimiter,
        }
    };
    if data.train.rows < MIN_TRAINING_ROWS {
        return Err(Error::Data(format!(
            "{} training row{}: a model needs at least {MIN_TRAINING_ROWS} (each is measured against the others)",
            data.train.rows,
            if data.train.rows == 1 { "" } else { "s" }
        )));
    }
    Ok(data)
}

/// A running fit: the data, the checked config and the trainer the caller steps.
pub struct Fit {
    data: FitData,
    config: FitConfig,
    read: ReadOptions,
    trainer: Trainer,
    backend: String,
    /// The neighbours term fitted on the training rows, with each training row's own log
    /// distance (measured once, when first needed).
    neighbours: std::cell::OnceCell<(Neighbours, Vec<f32>)>,
}

/// A finished fit: the model (bundle) and what it measured.
pub struct FitOutcome {
    pub model: Model,
    pub data: FitData,
    pub train_scores: Vec<f32>,
    /// The training rows' codes `[rows, code]`.
    pub train_codes: Matrix,
    /// Scores of the held-out test rows (protocol only).
    pub test_scores: Option<Vec<f32>>,
}

/// A score's ROC AUC and average precision on the held-out rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Evaluation {
    pub test: (f64, f64),
    /// The validation rows' ROC AUC (`None` without both classes there).
    pub validation_roc_auc: Option<f64>,
}

impl Fit {
    /// Create the trainer for `data` on `device` (`backend`: its name, kept in the bundle).
    /// `read` is how the file was read, kept in the bundle for scoring (with the delimiter used).
    pub fn start(data: FitData, config: FitConfig, read: &ReadOptions, device: &Device, backend: &str) -> Result<Fit> {
        let trainer = Trainer::new(config.training.clone(), data.train.clone(), device)?;
        Ok(Self::with_trainer(data, config, read, trainer, backend))
    }

    /// As [`start`](Self::start), the detector phases starting from an already trained
    /// autoencoder (the methods of one preset share the AAE of a seed: `eval`, `bench`).
    pub fn after_aae(data: FitData, config: FitConfig, read: &ReadOptions, device: &Device, backend: &str, aae: Aae) -> Result<Fit> {
        let trainer = Trainer::from_trained_aae(config.training.clone(), data.train.clone(), device, aae)?;
        Ok(Self::with_trainer(data, config, read, trainer, backend))
    }

    fn with_trainer(data: FitData, config: FitConfig, read: &ReadOptions, trainer: Trainer, backend: &str) -> Fit {
        Fit { data, config, read: read.clone(), trainer, backend: backend.to_string(), neighbours: std::cell::OnceCell::new() }
    }

    pub fn trainer(&mut self) -> &mut Trainer {
        &mut self.trainer
    }

    pub fn data(&self) -> &FitData {
        &self.data
    }

    pub fn config(&self) -> &FitConfig {
        &self.config
    }

    /// The members' score scales on the training rows, when the config's scoring needs them.
    async fn scales(&self, members: &[Networks]) -> Result<Option<Vec<MemberScale>>> {
        let scoring = self.config.training.ensemble.scoring;
        if !scoring.is_standardised() {
            return Ok(None);
        }
        let unscaled = Detector::ensemble(members, self.config.training.architecture.alarm_input, crate::config::Scoring::Alarm, Vec::new())?;
        Ok(Some(unscaled.member_scales(&self.data.train, scoring).await?))
    }

    /// The model's detector from its members and, for a standardised score, their scales
    /// (without the neighbours term: [`with_neighbours`](Self::with_neighbours)).
    fn scored(&self, members: &[Networks], scales: Option<Vec<MemberScale>>) -> Result<Detector> {
        let scoring = self.config.training.ensemble.scoring;
        Detector::ensemble(members, self.config.training.architecture.alarm_input, scoring, scales.unwrap_or_default())
    }

    /// The neighbours term on the training rows and their own log distances (each leaving
    /// itself out), when the config has one; fitted on first use.
    fn neighbours(&self) -> Result<Option<&(Neighbours, Vec<f32>)>> {
        let ensemble = &self.config.training.ensemble;
        if ensemble.neighbours == 0 || !ensemble.scoring.is_standardised() {
            return Ok(None);
        }
        if self.neighbours.get().is_none() {
            let fitted = Neighbours::fit(&self.data.train, ensemble.neighbours, self.config.training.seed)?;
            let _ = self.neighbours.set(fitted);
        }
        Ok(self.neighbours.get())
    }

    /// `detector` with the neighbours term, and the training rows' scores with their own term
    /// (a training row does not count itself among its neighbours).
    fn with_neighbours(&self, detector: Detector, train_scores: &mut [f32]) -> Result<(Detector, Option<Neighbours>)> {
        let Some((n, logs)) = self.neighbours()? else {
            return Ok((detector, None));
        };
        for (s, l) in train_scores.iter_mut().zip(logs) {
            *s += n.standardise(*l);
        }
        Ok((detector.with_neighbours(Some(n.clone()))?, Some(n.clone())))
    }

    /// Score, threshold and bundle; also after a stop: the networks as they are.
    pub async fn finish(self) -> Result<FitOutcome> {
        let members = self.trainer.member_networks();
        self.finish_members(members).await
    }

    /// As [`finish`](Self::finish) with members trained elsewhere: member `k` trained as a fit
    /// of its own ([`FitRequest::member`]) on the same data is the member this fit would have
    /// trained (the page's workers and the CLI's worker processes train members so). The
    /// config's member count becomes `members.len()` (a stopped run keeps the members it has).
    pub async fn finish_members(mut self, members: Vec<Networks>) -> Result<FitOutcome> {
        if members.is_empty() {
            return Err(Error::Data("no trained member to make a model of".into()));
        }
        self.config.training = self.config.training.with_members(members.len())?;
        let scales = self.scales(&members).await?;
        let detector = self.scored(&members, scales.clone())?;
        let mut train_scores = detector.score(&self.data.train, ScoreKind::Model).await?;
        let (detector, neighbours) = self.with_neighbours(detector, &mut train_scores)?;
        let train_codes = detector.codes(&self.data.train).await?;
        let test_scores = match &self.data.test {
            Some(t) => Some(detector.score(&t.x, ScoreKind::Model).await?),
            None => None,
        };
        let mut read = self.read;
        read.delimiter = Some(self.data.delimiter);
        if read.label.is_some() && self.data.preprocessor.label.is_none() {
            read.label = None;
        }
        let metrics = match (&self.data.test, &test_scores) {
            (Some(test), Some(scores)) => test_metrics(scores, &test.labels),
            _ => None,
        };
        let model = Model::assemble(ModelParts {
            config: self.config.training,
            networks: self.trainer.networks_config().clone(),
            members,
            scales,
            neighbours,
            preprocessor: self.data.preprocessor.clone(),
            read,
            train_scores: &train_scores,
            train_codes: &train_codes,
            threshold_rate: self.config.threshold_rate,
            backend: self.backend,
            metrics,
        })
        .await?;
        Ok(FitOutcome { model, data: self.data, train_scores, train_codes, test_scores })
    }

    /// The held-out rows scored by `kind` by the member in training as it is now: test ROC AUC
    /// and average precision, validation ROC AUC. `None` without labelled held-out rows.
    pub async fn evaluate(&self, kind: ScoreKind) -> Result<Option<Evaluation>> {
        let (Some(test), Some(validation)) = (&self.data.test, &self.data.validation) else {
            return Ok(None);
        };
        let detector = self.trainer.detector();
        let scores = detector.score(&test.x, kind).await?;
        let Some(m) = test_metrics(&scores, &test.labels) else {
            return Ok(None);
        };
        let validation_scores = detector.score(&validation.x, kind).await?;
        let validation_roc_auc = metrics::roc_auc(&validation_scores, &validation.labels).ok();
        Ok(Some(Evaluation { test: (m.roc_auc, m.average_precision), validation_roc_auc }))
    }

    /// The held-out test rows scored by the model as it is (any backend). `None` without labelled
    /// test rows (or before the first epoch). While a member trains: its reconstruction error
    /// (autoencoder phase) or its alarm's logit; after a member's last epoch: the finished
    /// members as the model scores them (scales measured on the training rows), so the curve's
    /// last point is the model's test AUC.
    pub async fn held_out(&self) -> Result<Option<HeldOut>> {
        let (Some(test), Some(last)) = (&self.data.test, self.trainer.history().last()) else {
            return Ok(None);
        };
        let members = self.trainer.member_networks();
        let progress = self.trainer.progress();
        let member_done = last.member < progress.member || progress.phase == crate::Phase::Done;
        let mode = self.config.training.architecture.alarm_input;
        let (score, scores) = if member_done {
            let finished = &members[..=last.member];
            let scales = self.scales(finished).await?;
            let (detector, _) = self.with_neighbours(self.scored(finished, scales)?, &mut [])?;
            ("model", detector.score(&test.x, ScoreKind::Model).await?)
        } else {
            let detector = Detector::new(&members[last.member], mode);
            match last.phase {
                crate::Phase::Aae => ("reconstruction", detector.score(&test.x, ScoreKind::Reconstruction).await?),
                _ => ("alarm", detector.score(&test.x, ScoreKind::AlarmLogit).await?),
            }
        };
        let Some(m) = test_metrics(&scores, &test.labels) else {
            return Ok(None);
        };
        Ok(Some(HeldOut {
            member: last.member,
            phase: last.phase,
            epoch: last.epoch,
            score,
            roc_auc: m.roc_auc,
            average_precision: m.average_precision,
            scores,
        }))
    }
}

/// The held-out test rows scored by the model as it is after the last epoch (for a live curve).
#[derive(Debug, Clone, Serialize)]
pub struct HeldOut {
    /// The member and the epoch (in its phase) the last report was about.
    pub member: usize,
    pub phase: crate::Phase,
    pub epoch: usize,
    /// What scored the rows: `reconstruction` (the member's autoencoder, while it trains),
    /// `alarm` (the member's alarm logit, while it trains), `model` (the finished members, as
    /// the finished model scores: after a member's last epoch).
    pub score: &'static str,
    pub roc_auc: f64,
    pub average_precision: f64,
    /// The test rows' scores, in the order of the test rows.
    pub scores: Vec<f32>,
}

/// ROC AUC and average precision of `scores` against `labels`; `None` unless both classes occur.
pub fn test_metrics(scores: &[f32], labels: &[u8]) -> Option<TestMetrics> {
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    if anomalies == 0 || anomalies == labels.len() {
        return None;
    }
    Some(TestMetrics {
        roc_auc: metrics::roc_auc(scores, labels).ok()?,
        average_precision: metrics::average_precision(scores, labels).ok()?,
        rows: labels.len(),
        anomalies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::read_table_bytes;

    fn table(s: &str) -> Table {
        read_table_bytes(s.as_bytes(), &ReadOptions::default()).unwrap()
    }

    #[test]
    fn all_normal_labels_train_every_row_with_a_note() {
        let t = table("a,b,label\n1,2,0\n2,3,0\n3,4,0\n");
        let d = prepare_fit(&t, 0.0, 0, data::Protocol::Paper).unwrap();
        assert_eq!(d.rows, FitRows::AllNormal);
        assert_eq!(d.train.rows, 3);
        assert!(d.test.is_none());
        assert!(d.notes[0].contains("only normal rows") && d.notes[0].contains("no test evaluation"), "{:?}", d.notes);
        let e = prepare_fit(&t, 0.01, 0, data::Protocol::Paper).unwrap_err().to_string();
        assert!(e.contains("contamination"), "{e}");
        let t = table("a,label\n1,1\n2,1\n");
        assert!(prepare_fit(&t, 0.0, 0, data::Protocol::Paper).unwrap_err().to_string().contains("every row"));
    }

    #[test]
    fn contamination_without_labels_is_refused() {
        let t = table("a,b\n1,2\n2,3\n");
        let e = prepare_fit(&t, 0.05, 0, data::Protocol::Paper).unwrap_err().to_string();
        assert!(e.contains("contamination") && e.contains("no label column"), "{e}");
        assert_eq!(prepare_fit(&t, 0.0, 0, data::Protocol::Paper).unwrap().rows, FitRows::Unlabelled);
    }

    #[test]
    fn one_training_row_is_refused_before_anything_trains() {
        let e = prepare_fit(&table("a,b\n1,2\n"), 0.0, 0, data::Protocol::Paper).unwrap_err().to_string();
        assert!(e.contains("1 training row") && e.contains("at least 2"), "{e}");
    }

    #[test]
    fn json_seed_and_method_survive_unless_given_as_values() {
        let mut o = ConfigOverrides::new(Preset::Paper);
        o.json = Some(serde_json::json!({"seed": 7, "method": "a3-noise"}));
        let c = o.build(DataShape::numeric(4, 100), None).unwrap();
        assert_eq!((c.seed, c.method), (7, Method::A3Noise));
        assert_eq!(o.seed().unwrap(), 7);
        o.seed = Some(3);
        o.method = Some(Method::Da3d);
        let c = o.build(DataShape::numeric(4, 100), None).unwrap();
        assert_eq!((c.seed, c.method), (3, Method::Da3d));
    }

    #[test]
    fn errors_of_a_config_file_name_the_file() {
        let mut o = ConfigOverrides::new(Preset::Paper);
        o.json = Some(serde_json::json!({"schedule": {"batch_size": 0}}));
        o.json_source = Some("cfg.json".into());
        let e = o.build(DataShape::numeric(4, 100), None).unwrap_err();
        assert!(matches!(e, Error::Data(_)) && e.to_string().starts_with("cfg.json: ") && e.to_string().contains("schedule.batch_size"), "{e}");
        // The same value as a flag: a config error (a usage error in the CLI).
        let mut o = ConfigOverrides::new(Preset::Paper);
        o.batch_size = Some(0);
        assert!(matches!(o.build(DataShape::numeric(4, 100), None).unwrap_err(), Error::Config { .. }));
    }

    #[test]
    fn asking_for_alarm_epochs_puts_the_alarm_in_the_score() {
        use crate::config::Scoring;
        let shape = DataShape::numeric(4, 100);
        let mut o = ConfigOverrides::new(Preset::Robust);
        assert_eq!(o.build(shape, None).unwrap().ensemble.scoring, Scoring::Tails);
        o.pretrain_epochs = Some(2);
        assert_eq!(o.build(shape, None).unwrap().ensemble.scoring, Scoring::AlarmAndReconstruction);
    }
}
