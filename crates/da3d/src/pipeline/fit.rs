//! A running fit: the trainer the caller steps, what it scores on the held-out rows as it goes,
//! and the model it finishes into.

use burn::tensor::Device;
use serde::Serialize;

use super::{FitConfig, FitData, test_metrics};
use crate::bundle::{Model, ModelParts};
use crate::data::{Matrix, ReadOptions};
use crate::detector::{Detector, MemberScale, Neighbours, ScoreKind};
use crate::error::{Error, Result};
use crate::metrics;
use crate::model::{Aae, Networks};
use crate::train::Trainer;

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

    /// Go on from a trainer's checkpoint ([`Trainer::checkpoint`]) of this fit's config and
    /// data instead of where the trainer is; returns what the caller kept beside it.
    pub fn go_on_from(&mut self, checkpoint: &[u8]) -> Result<serde_json::Value> {
        let device = self.trainer.device();
        let (trainer, extra) = Trainer::resume(self.config.training.clone(), self.data.train.clone(), &device, checkpoint)?;
        self.trainer = trainer;
        Ok(extra)
    }

    fn with_trainer(data: FitData, config: FitConfig, read: &ReadOptions, trainer: Trainer, backend: &str) -> Fit {
        Fit { data, config, read: read.clone(), trainer, backend: backend.to_string(), neighbours: std::cell::OnceCell::new() }
    }

    pub fn trainer(&mut self) -> &mut Trainer {
        &mut self.trainer
    }

    /// A detector of the member in training as it is now.
    pub fn detector(&self) -> Detector {
        self.trainer.detector()
    }

    /// The trainer's progress.
    pub fn progress(&self) -> crate::train::Progress {
        self.trainer.progress()
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
            .map(|d| d.with_tails_weight(self.config.training.ensemble.tails_weight))
    }

    /// The neighbours term on the training rows and their own terms (each leaving itself out),
    /// when the config has one; fitted on first use.
    fn neighbours(&self) -> Result<Option<&(Neighbours, Vec<f32>)>> {
        let ensemble = &self.config.training.ensemble;
        if ensemble.neighbours == 0 || !ensemble.scoring.is_standardised() {
            return Ok(None);
        }
        if self.neighbours.get().is_none() {
            let fitted = Neighbours::fit(
                &self.data.train,
                ensemble.neighbours,
                ensemble.neighbours_distance,
                ensemble.density_ratio,
                self.config.training.seed,
            )?;
            let _ = self.neighbours.set(fitted);
        }
        Ok(self.neighbours.get())
    }

    /// `detector` with the neighbours term, and the training rows' scores with their own term
    /// (a training row does not count itself among its neighbours).
    fn with_neighbours(&self, detector: Detector, train_scores: &mut [f32]) -> Result<(Detector, Option<Neighbours>)> {
        let Some((n, terms)) = self.neighbours()? else {
            return Ok((detector, None));
        };
        for (s, t) in train_scores.iter_mut().zip(terms) {
            *s += t;
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
        // The alarm alone, where it trained and the model's score is more than the alarm.
        let schedule = &self.config.training.schedule;
        let alarm_trained = schedule.pretrain_epochs + schedule.da3d_epochs > 0;
        let alarm_metrics = match &self.data.test {
            Some(test) if alarm_trained && self.config.training.ensemble.scoring != crate::config::Scoring::Alarm => {
                test_metrics(&detector.score(&test.x, ScoreKind::Alarm).await?, &test.labels)
            }
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
            alarm_metrics,
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

