//! Training: the AAE, detector pretraining and the DA³D phase, as a state machine the caller
//! steps one batch or one epoch at a time. Per-batch losses stay on the device and are read
//! once per epoch (asynchronously; native callers [`wait`](crate::tensors::wait)), so the same
//! loop serves the CLI and a browser Web Worker.
//!
//! The stage says which networks train: [`aae::AaeStage`] (autoencoder and latent discriminator;
//! the detector networks wait) until the AAE phase ends, then [`detector_stage::DetectorStage`]
//! (the AAE frozen; alarm, generator and critic train).

mod aae;
mod adam;
mod checkpoint;
mod detector_stage;
mod flops;
mod losses;
mod report;
mod shared;

use std::cell::RefCell;
use std::collections::HashMap;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

pub use checkpoint::CHECKPOINT_FORMAT;
pub use flops::matmul_flops_per_step;
pub use losses::{alarm_loss, alarm_targets, bce_with_logits, critic_loss, generator_critic_objective, generator_loss, latent_discriminator_loss};
pub use report::{EpochLosses, EpochReport, Network, Phase, Progress};

use crate::config::{Method, ValidConfig, member_seed};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::{Aae, Networks, NetworksConfig};
use crate::rng::HostRng;
use crate::tensors::{read, wait};
use aae::{AaeStage, DetectorNets};
use detector_stage::DetectorStage;
use shared::{INIT, NOISE_SEED, NORMAL_FEATURES_BUDGET, SHUFFLE_STREAM, Shared, Slot};

/// What `step_batch` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// One batch trained; the epoch goes on.
    Batch,
    /// The batch ended an epoch: call `finish_epoch` next.
    EpochEnd,
    /// Training is complete.
    Finished,
}

/// Which networks train now.
enum Stage {
    Aae(AaeStage),
    Detector(DetectorStage),
    /// Only while one stage becomes the next.
    Moving,
}

/// The training state machine.
pub struct Trainer {
    shared: Shared,
    stage: Stage,
    normal_features_budget: usize,
    phase: Phase,
    epoch: usize,
    cursor: usize,
    batches_done: usize,
    order: Vec<usize>,
    accum: Option<Tensor<1>>,
    pending: Option<Tensor<1>>,
    steps_done: usize,
    history: Vec<EpochReport>,
    /// The ensemble member in training (0-based) and the members already trained.
    member: usize,
    finished: Vec<Networks>,
}

impl Trainer {
    /// A trainer for rows `x` (scaled features, normal rows) on `device` (autodiff is enabled
    /// here). Seeds the device and the host generator from `config.seed`.
    pub fn new(config: ValidConfig, x: Matrix, device: &Device) -> Result<Self> {
        if x.rows == 0 {
            return Err(Error::Data("no training rows".into()));
        }
        if let Some(i) = x.values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Data(format!("training value {} (row {}) is not finite", x.values[i], i / x.cols)));
        }
        let device = device.clone().autodiff();
        let networks_config = config.networks(x.cols);
        let seed = config.seed;
        let shared = Shared {
            rng: HostRng::new(seed, SHUFFLE_STREAM),
            config,
            networks_config,
            device,
            x,
            targets: HashMap::new(),
            noise: RefCell::new(None),
        };
        let stage = Stage::Aae(Self::fresh_networks(&shared, seed)?);
        let mut trainer = Trainer {
            order: (0..shared.x.rows).collect(),
            shared,
            stage,
            normal_features_budget: NORMAL_FEATURES_BUDGET,
            phase: Phase::Aae,
            epoch: 0,
            cursor: 0,
            batches_done: 0,
            accum: None,
            pending: None,
            steps_done: 0,
            history: Vec::new(),
            member: 0,
            finished: Vec::new(),
        };
        trainer.skip_empty_phases();
        Ok(trainer)
    }

    /// The networks of a member trained with `seed`, before any step: the initial weights are
    /// drawn on the CPU from the seed, so one seed gives the same starting networks on every
    /// backend; the device then draws the training noise from a stream of its own.
    fn fresh_networks(shared: &Shared, seed: u64) -> Result<AaeStage> {
        let host = Device::flex().autodiff();
        let initial = {
            let _one_at_a_time = INIT.lock().unwrap_or_else(|e| e.into_inner());
            host.seed(seed);
            shared.networks_config.init(&host).into_record()
        };
        let nets = shared
            .networks_config
            .init(&shared.device)
            .try_load_record(initial)
            .map_err(|e| Error::Backend(format!("cannot place the initial weights on the device: {e}")))?;
        shared.seed_noise(seed ^ NOISE_SEED);
        crate::model::seed_dropout_masks(seed);
        let detector = DetectorNets { alarm: nets.alarm, generator: nets.generator, critic: nets.critic };
        Ok(AaeStage::new(nets.aae, nets.latent_discriminator, detector, shared))
    }

    /// Keep the finished member and start the next one from its own seed ([`member_seed`]).
    fn start_next_member(&mut self) -> Result<()> {
        self.finished.push(self.networks());
        self.member += 1;
        let seed = member_seed(self.shared.config.seed, self.member);
        self.shared.rng = HostRng::new(seed, SHUFFLE_STREAM);
        self.shared.targets.clear();
        self.stage = Stage::Aae(Self::fresh_networks(&self.shared, seed)?);
        self.order = (0..self.shared.x.rows).collect();
        self.phase = Phase::Aae;
        self.epoch = 0;
        self.cursor = 0;
        self.skip_empty_phases();
        Ok(())
    }

    /// Ensemble members of the config.
    pub fn members(&self) -> usize {
        self.shared.config.ensemble.members
    }

    /// Every member's networks: the trained ones, then the one in training as it is now (unless
    /// it has not trained a batch yet: a stop between two members keeps the finished ones).
    pub fn member_networks(&self) -> Vec<Networks> {
        let mut all = self.finished.clone();
        let untouched = self.epoch == 0 && self.cursor == 0 && self.history.last().is_some_and(|r| r.member < self.member);
        if all.is_empty() || !untouched {
            all.push(self.networks());
        }
        all
    }

    /// A trainer that starts after the AAE phase from an already trained `aae` (used to compare
    /// methods on one shared autoencoder). The device is seeded with `config.seed + 1` so the
    /// detector phases draw a stream of their own.
    pub fn from_trained_aae(config: ValidConfig, x: Matrix, device: &Device, aae: Aae) -> Result<Self> {
        if config.ensemble.members != 1 {
            return Err(Error::config("ensemble.members", "a trainer on a shared AAE trains one member"));
        }
        let mut t = Trainer::new(config, x, device)?;
        t.shared.seed_noise(t.shared.config.seed.wrapping_add(1));
        crate::model::seed_dropout_masks(t.shared.config.seed.wrapping_add(1));
        match &mut t.stage {
            Stage::Aae(s) => s.aae = Slot(Some(aae)),
            _ => unreachable!("a new trainer starts with the AAE"),
        }
        t.phase = Phase::Pretrain;
        t.epoch = 0;
        t.steps_done = t.shared.config.schedule.aae_epochs.saturating_mul(t.batches_per_epoch());
        t.skip_empty_phases();
        Ok(t)
    }

    /// Keep the frozen AAE's outputs of the training rows only up to `floats` values (default
    /// 32 Mi); above it detector steps recompute them per batch. Both give the same training.
    pub fn with_frozen_output_budget(mut self, floats: usize) -> Self {
        self.normal_features_budget = floats;
        if let Stage::Detector(s) = &mut self.stage {
            s.aae.set_features_budget(floats);
        }
        self
    }

    /// The autoencoder as trained so far.
    pub fn aae(&self) -> Aae {
        match &self.stage {
            Stage::Aae(s) => (*s.aae).clone(),
            Stage::Detector(s) => s.aae.trained.clone(),
            Stage::Moving => unreachable!("between stages"),
        }
    }

    pub fn config(&self) -> &ValidConfig {
        &self.shared.config
    }

    /// The device the trainer computes on (without autodiff).
    pub fn device(&self) -> Device {
        self.shared.device.clone().without_autodiff()
    }

    pub fn networks_config(&self) -> &NetworksConfig {
        &self.shared.networks_config
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn history(&self) -> &[EpochReport] {
        &self.history
    }

    fn epochs_of(&self, phase: Phase) -> usize {
        let s = &self.shared.config.schedule;
        match phase {
            Phase::Aae => s.aae_epochs,
            Phase::Pretrain => s.pretrain_epochs,
            Phase::Da3d => s.da3d_epochs,
            Phase::Done => 0,
        }
    }

    pub fn batches_per_epoch(&self) -> usize {
        self.shared.x.rows.div_ceil(self.shared.config.schedule.batch_size)
    }

    pub fn progress(&self) -> Progress {
        let s = &self.shared.config.schedule;
        let total_epochs = s.aae_epochs.saturating_add(s.pretrain_epochs).saturating_add(s.da3d_epochs);
        Progress {
            phase: self.phase,
            epoch: self.epoch,
            epochs_in_phase: self.epochs_of(self.phase),
            batch: self.batches_done,
            batches_per_epoch: self.batches_per_epoch(),
            member: self.member,
            members: self.members(),
            steps_done: self.steps_done,
            steps_total: total_epochs.saturating_mul(self.batches_per_epoch()).saturating_mul(self.members()),
        }
    }

    /// Move past phases without epochs; once the AAE phase is over, freeze the AAE.
    fn skip_empty_phases(&mut self) {
        while self.phase != Phase::Done && self.epochs_of(self.phase) == 0 {
            self.phase = self.phase.next();
        }
        if self.phase != Phase::Aae && self.phase != Phase::Done {
            if let Stage::Aae(_) = self.stage {
                let Stage::Aae(aae) = std::mem::replace(&mut self.stage, Stage::Moving) else { unreachable!() };
                self.stage = Stage::Detector(DetectorStage::after(aae, &self.shared, self.normal_features_budget));
            }
        }
    }

    /// The networks as they are now.
    pub fn networks(&self) -> Networks {
        match &self.stage {
            Stage::Aae(s) => Networks {
                aae: (*s.aae).clone(),
                latent_discriminator: (*s.latent_discriminator).clone(),
                alarm: s.detector.alarm.clone(),
                generator: s.detector.generator.clone(),
                critic: s.detector.critic.clone(),
            },
            Stage::Detector(s) => Networks {
                aae: s.aae.trained.clone(),
                latent_discriminator: s.latent_discriminator.clone(),
                alarm: (*s.alarm).clone(),
                generator: (*s.generator).clone(),
                critic: (*s.critic).clone(),
            },
            Stage::Moving => unreachable!("between stages"),
        }
    }

    /// A detector of the member in training as it is now (for checkpoints: AUC after N epochs).
    pub fn detector(&self) -> crate::detector::Detector {
        crate::detector::Detector::new(&self.networks(), self.shared.config.architecture.alarm_input)
    }

    /// Train one batch. Never reads from the device.
    pub fn step_batch(&mut self) -> Result<Step> {
        if self.phase == Phase::Done {
            return Ok(Step::Finished);
        }
        if self.pending.is_some() {
            return Err(Error::Backend("finish_epoch must be called after an epoch ends".into()));
        }
        if self.cursor == 0 {
            self.shared.rng.shuffle(&mut self.order);
            self.accum = None;
            self.batches_done = 0;
        }
        let rows_total = self.shared.x.rows;
        let b = self.shared.config.schedule.batch_size.min(rows_total - self.cursor);
        let rows = self.order[self.cursor..self.cursor + b].to_vec();
        let sh = &mut self.shared;
        let losses = match (&mut self.stage, self.phase, sh.config.method) {
            (Stage::Aae(s), Phase::Aae, _) => {
                let batch = sh.upload_rows(&rows);
                s.step(sh, batch)
            }
            (Stage::Detector(s), Phase::Pretrain, _) | (Stage::Detector(s), Phase::Da3d, Method::A3Noise) => {
                s.alarm_step(sh, &rows, 2).0
            }
            (Stage::Detector(s), Phase::Da3d, Method::SimpleGenerator) => s.alarm_step(sh, &rows, 3).0,
            (Stage::Detector(s), Phase::Da3d, Method::Da3d) => s.da3d_step(sh, &rows),
            _ => unreachable!("the stage follows the phase"),
        };
        self.accum = Some(match self.accum.take() {
            Some(a) => a + losses,
            None => losses,
        });
        self.cursor += b;
        self.batches_done += 1;
        self.steps_done = self.steps_done.saturating_add(1);
        if self.cursor >= rows_total {
            self.cursor = 0;
            let n = self.batches_done as f32;
            self.pending = Some(self.accum.take().expect("one batch at least") / n);
            return Ok(Step::EpochEnd);
        }
        Ok(Step::Batch)
    }

    /// Read the epoch's means and advance.
    pub async fn finish_epoch(&mut self) -> Result<EpochReport> {
        let t = self.pending.take().ok_or_else(|| Error::Backend("no epoch to finish".into()))?;
        let values = read(t).await?;
        self.complete_epoch(values)
    }

    fn complete_epoch(&mut self, values: Vec<f32>) -> Result<EpochReport> {
        self.epoch += 1;
        let losses = EpochLosses::from_values(self.phase, self.shared.config.method, &values);
        let mut report = EpochReport::new(self.phase, self.epoch, self.epochs_of(self.phase), losses);
        report.member = self.member;
        if let Some(i) = report.values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                phase: self.phase.name().into(),
                epoch: self.epoch,
                what: report.names[i].clone(),
                value: report.values[i],
            });
        }
        if self.epoch >= self.epochs_of(self.phase) {
            self.phase = self.phase.next();
            self.epoch = 0;
            self.skip_empty_phases();
            if self.phase == Phase::Done && self.member + 1 < self.members() {
                self.start_next_member()?;
            }
        }
        self.history.push(report.clone());
        Ok(report)
    }

    /// Train until the current epoch ends. `None` when training is complete.
    pub async fn step_epoch(&mut self) -> Result<Option<EpochReport>> {
        loop {
            match self.step_batch()? {
                Step::Batch => continue,
                Step::EpochEnd => return self.finish_epoch().await.map(Some),
                Step::Finished => return Ok(None),
            }
        }
    }
}

/// Observer of a blocking training run.
pub trait Observer {
    fn on_epoch(&mut self, _report: &EpochReport, _progress: &Progress) {}
    /// Return true to stop between batches.
    fn cancelled(&self) -> bool {
        false
    }
    fn on_batch(&mut self, _progress: &Progress) {}
}

/// Run a trainer to the end, waiting for each epoch's read-back (native), reporting to
/// `observer`. Returns false when the observer cancelled.
pub fn run_blocking(trainer: &mut Trainer, observer: &mut dyn Observer) -> Result<bool> {
    loop {
        if observer.cancelled() {
            return Ok(false);
        }
        match trainer.step_batch()? {
            Step::Batch => observer.on_batch(&trainer.progress()),
            Step::EpochEnd => {
                let report = wait(trainer.finish_epoch())?;
                observer.on_epoch(&report, &trainer.progress());
            }
            Step::Finished => return Ok(true),
        }
    }
}
