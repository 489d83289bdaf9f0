//! The fit pipeline, written once for every front end (the CLI's `train`, `eval` and `bench`,
//! the page): config from a preset and overrides, data from a read table, a trainer, and a
//! finished trainer into a bundle.
//!
//! ```text
//! Table ──prepare_fit──▶ FitData ─┐
//! ConfigOverrides ──build(width)──▶ TrainingConfig ──FitConfig::new──▶ FitConfig ─┴─▶ Fit::start
//!   ▶ step fit.trainer() (CLI: run_blocking; page: step_batch + finish_epoch_async)
//!   ▶ Fit::finish / finish_async ▶ FitOutcome { model (bundle), scores, metrics }
//! ```

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::bundle::{Model, TestMetrics};
use crate::config::{DataShape, Method, Preset, TrainingConfig};
use crate::data::{self, LabelledSet, Matrix, Preprocessor, ReadOptions, Table};
use crate::config::Scoring;
use crate::detector::{CodeStats, Detector, MemberScale, Neighbours, ScoreKind};
use crate::error::{Error, Result};
use crate::metrics;
use crate::train::Trainer;

/// Where a training config comes from: a preset for the data's width, then a JSON object of
/// overrides (any field, nested as the config), then single values (the CLI's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigOverrides {
    pub preset: Preset,
    /// Overrides of any field (`{"schedule": {"da3d_epochs": 100}}`), e.g. a `--config` file.
    pub json: Option<serde_json::Value>,
    pub seed: Option<u64>,
    pub method: Option<Method>,
    pub aae_epochs: Option<usize>,
    pub pretrain_epochs: Option<usize>,
    pub da3d_epochs: Option<usize>,
    pub batch_size: Option<usize>,
    /// Ensemble members.
    pub members: Option<usize>,
}

impl ConfigOverrides {
    pub fn new(preset: Preset) -> Self {
        ConfigOverrides {
            preset,
            json: None,
            seed: None,
            method: None,
            aae_epochs: None,
            pretrain_epochs: None,
            da3d_epochs: None,
            batch_size: None,
            members: None,
        }
    }

    /// The seed the config will have: the single value, else the JSON's `seed`, else 0. Known
    /// before the data is split (the split uses it).
    pub fn seed(&self) -> Result<u64> {
        if let Some(s) = self.seed {
            return Ok(s);
        }
        match self.json.as_ref().and_then(|j| j.get("seed")) {
            None => Ok(0),
            Some(v) => v.as_u64().ok_or_else(|| Error::config("seed", format!("{v} is not a non-negative integer"))),
        }
    }

    /// The preset for training data of `shape` (and the named data set's architecture), with the
    /// JSON overrides applied and validated.
    pub fn base(&self, shape: DataShape, dataset: Option<&str>) -> Result<TrainingConfig> {
        let cfg = TrainingConfig::preset_for_data(self.preset, shape, dataset);
        match &self.json {
            Some(json) => cfg.with_overrides(json),
            None => Ok(cfg),
        }
    }

    /// `cfg` with the single values applied, validated.
    pub fn apply_values(&self, mut cfg: TrainingConfig) -> Result<TrainingConfig> {
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(m) = self.method {
            cfg.method = m;
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
        cfg.validate()?;
        Ok(cfg)
    }

    /// [`base`](Self::base) then [`apply_values`](Self::apply_values).
    pub fn build(&self, shape: DataShape, dataset: Option<&str>) -> Result<TrainingConfig> {
        self.apply_values(self.base(shape, dataset)?)
    }
}

/// A training config checked once, before any data is split or any network trained: the
/// networks' config, the share of training rows above the threshold, the contamination.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    training: TrainingConfig,
    threshold_rate: f64,
    contamination: f64,
}

impl FitConfig {
    /// A config that trains an alarm (pretraining or DA³D epochs) but scores by reconstruction
    /// alone scores with the alarm too: `robust` and `quick` train none unless asked
    /// (`--epochs-pretrain`, `--epochs`, the page's fields), and what is asked for counts.
    pub fn new(mut training: TrainingConfig, threshold_rate: f64, contamination: f64) -> Result<Self> {
        let s = &training.schedule;
        if !training.ensemble.scoring.reads_alarm() && s.pretrain_epochs + s.da3d_epochs > 0 {
            training.ensemble.scoring = Scoring::AlarmAndReconstruction;
        }
        training.validate()?;
        if !(0.0..=0.5).contains(&threshold_rate) {
            return Err(Error::config("threshold_rate", format!("{threshold_rate} is outside [0, 0.5]")));
        }
        if !(0.0..0.5).contains(&contamination) {
            return Err(Error::config("contamination", format!("{contamination} is outside [0, 0.5)")));
        }
        Ok(FitConfig { training, threshold_rate, contamination })
    }

    pub fn training(&self) -> &TrainingConfig {
        &self.training
    }

    pub fn threshold_rate(&self) -> f64 {
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
        DataShape::of(&self.train, &self.preprocessor)
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

/// Prepare a read table for training: the protocol when the label column has both classes;
/// every row when it has none, or only normal rows (with a note that no test evaluation is
/// possible). `contamination` needs labelled anomalies.
pub fn prepare_fit(table: &Table, read: &ReadOptions, contamination: f64, seed: u64) -> Result<FitData> {
    let label = read.label.clone().filter(|_| table.labels.is_some());
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
        return Err(Error::config("contamination", format!("{contamination} needs labelled anomalies: {why}")));
    }
    if rows == FitRows::Protocol {
        return Ok(FitData::protocol(data::prepare(table, label, contamination, seed)?, table.report.delimiter));
    }
    let (preprocessor, train) = data::prepare_all_rows(table, label.clone())?;
    let note = match rows {
        FitRows::AllNormal => format!(
            "the label column '{}' holds only normal rows (0): all {n} rows train the model; no test \
             evaluation is possible (it needs anomalies, 1)",
            label.unwrap_or_default()
        ),
        _ => format!("no label column: all {n} rows train the model"),
    };
    Ok(FitData {
        rows,
        preprocessor,
        train,
        train_lines: table.lines.clone(),
        validation: None,
        test: None,
        summary: None,
        notes: vec![note],
        delimiter: table.report.delimiter,
    })
}

/// A running fit: the data, the validated config and the trainer the caller steps.
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

impl Fit {
    /// Create the trainer for `data` on `device` (`backend`: its name, kept in the bundle).
    /// `read` is how the file was read, kept in the bundle for scoring (with the delimiter used).
    pub fn start(data: FitData, config: FitConfig, read: &ReadOptions, device: &Device, backend: &str) -> Result<Fit> {
        let trainer = Trainer::new(config.training.clone(), data.train.clone(), device)?;
        Ok(Fit { data, config, read: read.clone(), trainer, backend: backend.to_string(), neighbours: std::cell::OnceCell::new() })
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

    /// Members scored by their alarms (to measure the scales on).
    fn unscaled(&self, members: &[crate::model::Networks]) -> Result<Detector> {
        Detector::ensemble(members, self.config.training.architecture.alarm_input, Scoring::Alarm, Vec::new())
    }

    /// The members' score scales on the training rows, when the config's scoring needs them
    /// (blocking reads).
    fn scales(&self, members: &[crate::model::Networks]) -> Result<Option<Vec<MemberScale>>> {
        let scoring = self.config.training.ensemble.scoring;
        if !scoring.is_standardised() {
            return Ok(None);
        }
        Ok(Some(self.unscaled(members)?.member_scales(&self.data.train, scoring)?))
    }

    /// As [`scales`](Self::scales), with asynchronous reads.
    async fn scales_async(&self, members: &[crate::model::Networks]) -> Result<Option<Vec<MemberScale>>> {
        let scoring = self.config.training.ensemble.scoring;
        if !scoring.is_standardised() {
            return Ok(None);
        }
        Ok(Some(self.unscaled(members)?.member_scales_async(&self.data.train, scoring).await?))
    }

    /// The model holds `members`: the config's member count follows (a stopped run keeps the
    /// members it has; parallel workers may bring fewer).
    fn adopt(&mut self, members: &[crate::model::Networks]) -> Result<()> {
        if members.is_empty() {
            return Err(Error::Data("no trained member to make a model of".into()));
        }
        self.config.training.ensemble.members = members.len();
        Ok(())
    }

    /// The model's detector from its members and, for the combined score, their scales (without
    /// the neighbours term: [`with_neighbours`](Self::with_neighbours)).
    fn scored(&self, members: &[crate::model::Networks], scales: Option<Vec<MemberScale>>) -> Result<Detector> {
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

    /// Score, threshold and bundle (blocking reads; native backends). Also after a stop: the
    /// networks as they are.
    pub fn finish(self) -> Result<FitOutcome> {
        let members = self.trainer.member_networks();
        self.finish_members(members)
    }

    /// As [`finish`](Self::finish) with members trained elsewhere: member `k` trained as a fit
    /// of its own, with the seed [`member_seed`](crate::config::member_seed)`(seed, k)` and one
    /// member, on the same data, is the member this fit would have trained (the page trains
    /// members in parallel workers so). The config's member count becomes `members.len()`.
    pub fn finish_members(mut self, members: Vec<crate::model::Networks>) -> Result<FitOutcome> {
        self.adopt(&members)?;
        let scales = self.scales(&members)?;
        let detector = self.scored(&members, scales.clone())?;
        let mut train_scores = detector.score(&self.data.train, ScoreKind::Model)?;
        let (detector, neighbours) = self.with_neighbours(detector, &mut train_scores)?;
        let codes = detector.codes(&self.data.train)?;
        let test_scores = match &self.data.test {
            Some(t) => Some(detector.score(&t.x, ScoreKind::Model)?),
            None => None,
        };
        self.assemble(members, scales, neighbours, train_scores, codes, test_scores)
    }

    /// As [`finish`](Self::finish), with asynchronous reads (WebGPU).
    pub async fn finish_async(self) -> Result<FitOutcome> {
        let members = self.trainer.member_networks();
        self.finish_members_async(members).await
    }

    /// As [`finish_members`](Self::finish_members), with asynchronous reads (WebGPU).
    pub async fn finish_members_async(mut self, members: Vec<crate::model::Networks>) -> Result<FitOutcome> {
        self.adopt(&members)?;
        let scales = self.scales_async(&members).await?;
        let detector = self.scored(&members, scales.clone())?;
        let mut train_scores = detector.score_async(&self.data.train, ScoreKind::Model).await?;
        let (detector, neighbours) = self.with_neighbours(detector, &mut train_scores)?;
        let codes = detector.codes_async(&self.data.train).await?;
        let test_scores = match &self.data.test {
            Some(t) => Some(detector.score_async(&t.x, ScoreKind::Model).await?),
            None => None,
        };
        self.assemble(members, scales, neighbours, train_scores, codes, test_scores)
    }

    /// The held-out test rows scored by the model as it is (async reads; any backend). `None`
    /// without labelled test rows (or before the first epoch). While a member trains: its
    /// reconstruction error (autoencoder phase) or its alarm's logit; after a member's last
    /// epoch: the finished members as the model scores them (scales measured on the training
    /// rows), so the curve's last point is the model's test AUC.
    pub async fn held_out_async(&self) -> Result<Option<HeldOut>> {
        let (Some(test), Some(last)) = (&self.data.test, self.trainer.history().last()) else {
            return Ok(None);
        };
        let members = self.trainer.member_networks();
        let progress = self.trainer.progress();
        let member_done = last.member < progress.member || progress.phase == crate::Phase::Done;
        let mode = self.config.training.architecture.alarm_input;
        let (score, scores) = if member_done {
            let finished = &members[..=last.member];
            let scales = self.scales_async(finished).await?;
            let (detector, _) = self.with_neighbours(self.scored(finished, scales)?, &mut [])?;
            ("model", detector.score_async(&test.x, ScoreKind::Model).await?)
        } else {
            let detector = Detector::new(&members[last.member], mode);
            match last.phase {
                crate::Phase::Aae => ("reconstruction", detector.score_async(&test.x, ScoreKind::Reconstruction).await?),
                _ => ("alarm", detector.score_async(&test.x, ScoreKind::AlarmLogit).await?),
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

    fn assemble(
        self,
        members: Vec<crate::model::Networks>,
        scales: Option<Vec<MemberScale>>,
        neighbours: Option<Neighbours>,
        train_scores: Vec<f32>,
        codes: Matrix,
        test_scores: Option<Vec<f32>>,
    ) -> Result<FitOutcome> {
        let mut read = self.read;
        read.delimiter = Some(self.data.delimiter);
        if read.label.is_some() && self.data.preprocessor.label.is_none() {
            read.label = None;
        }
        let mut model = Model::assemble(
            &self.config.training,
            self.trainer.networks_config(),
            members,
            scales,
            neighbours,
            self.data.preprocessor.clone(),
            &train_scores,
            self.config.threshold_rate,
            &self.backend,
            self.data.train.rows,
        )?;
        model.header.code_stats = Some(CodeStats::of(&codes));
        model.header.read = Some(read);
        if let (Some(test), Some(scores)) = (&self.data.test, &test_scores) {
            model.header.metrics = test_metrics(scores, &test.labels);
        }
        Ok(FitOutcome { model, data: self.data, train_scores, train_codes: codes, test_scores })
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
        let d = prepare_fit(&t, &ReadOptions::default(), 0.0, 0).unwrap();
        assert_eq!(d.rows, FitRows::AllNormal);
        assert_eq!(d.train.rows, 3);
        assert!(d.test.is_none());
        assert!(d.notes[0].contains("only normal rows") && d.notes[0].contains("no test evaluation"), "{:?}", d.notes);
        let e = prepare_fit(&t, &ReadOptions::default(), 0.01, 0).unwrap_err().to_string();
        assert!(e.contains("contamination"), "{e}");
        let t = table("a,label\n1,1\n2,1\n");
        assert!(prepare_fit(&t, &ReadOptions::default(), 0.0, 0).unwrap_err().to_string().contains("every row"));
    }

    #[test]
    fn contamination_without_labels_is_refused() {
        let t = table("a,b\n1,2\n2,3\n");
        let e = prepare_fit(&t, &ReadOptions::default(), 0.05, 0).unwrap_err().to_string();
        assert!(e.contains("contamination") && e.contains("no label column"), "{e}");
        assert_eq!(prepare_fit(&t, &ReadOptions::default(), 0.0, 0).unwrap().rows, FitRows::Unlabelled);
    }

    #[test]
    fn fit_config_checks_the_threshold_share_before_training() {
        let cfg = TrainingConfig::preset(Preset::Paper, 4, None);
        let e = FitConfig::new(cfg.clone(), 0.9, 0.0).unwrap_err().to_string();
        assert!(e.contains("threshold_rate"), "{e}");
        assert!(FitConfig::new(cfg, 0.01, 0.0).is_ok());
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
    fn old_metrics_schemas_still_read() {
        let cli: TestMetrics =
            serde_json::from_value(serde_json::json!({"test_roc_auc": 0.8, "test_average_precision": 0.3, "test_rows": 10})).unwrap();
        assert_eq!((cli.roc_auc, cli.rows), (0.8, 10));
        let page: TestMetrics =
            serde_json::from_value(serde_json::json!({"roc_auc": 0.7, "average_precision": 0.2, "roc": [[0, 0]]})).unwrap();
        assert_eq!(page.roc_auc, 0.7);
    }
}
