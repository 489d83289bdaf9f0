//! Training: the AAE, detector pretraining and the DA³D phase, as a state machine the caller
//! steps one batch or one epoch at a time. Per-batch losses stay on the device and are read
//! once per epoch (blocking natively, or async for WebGPU), so the same loop serves the CLI and
//! a browser Web Worker.

mod losses;

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData, activation};
use serde::{Deserialize, Serialize};

pub use losses::bce_with_logits;

use crate::config::{AlarmObjective, Lipschitz, Method, TrainingConfig};
use crate::data::Matrix;
use crate::detector::{alarm_input_codes, alarm_input_rows, in_batches, read_async, read_sync};
use crate::error::{Error, Result};
use crate::model::fused::on_flex;
use crate::model::{Aae, Alarm, Critic, FusedAdam, Generator, Networks, NetworksConfig};
use crate::rng::HostRng;

/// Training phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The adversarial autoencoder: reconstruction, latent discriminator, encoder regularisation.
    Aae,
    /// Detector pretraining: alarm only, normal rows and trivial anomalies.
    Pretrain,
    /// DA³D (or the configured ablation): alarm, generator, critic.
    Da3d,
    Done,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Aae => "aae",
            Phase::Pretrain => "pretrain",
            Phase::Da3d => "da3d",
            Phase::Done => "done",
        }
    }
}

/// Names of the per-epoch means reported in each phase (same order as `EpochReport::values`).
pub fn metric_names(phase: Phase, method: Method) -> &'static [&'static str] {
    match (phase, method) {
        (Phase::Aae, _) => &["reconstruction", "latent_discriminator", "encoder_adversarial"],
        (Phase::Da3d, Method::Da3d) => &[
            "alarm",
            "generator",
            "generator_alarm",
            "generator_critic",
            "critic",
            "critic_normal",
            "critic_generated",
            "critic_noise",
        ],
        _ => &["alarm"],
    }
}

/// What one epoch produced: the means of the per-batch losses and monitors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    pub phase: Phase,
    /// 1-based epoch within the phase.
    pub epoch: usize,
    pub epochs_in_phase: usize,
    pub names: Vec<String>,
    pub values: Vec<f32>,
}

impl EpochReport {
    pub fn get(&self, name: &str) -> Option<f32> {
        self.names.iter().position(|n| n == name).map(|i| self.values[i])
    }
}

/// Where training stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub phase: Phase,
    /// Completed epochs in the current phase.
    pub epoch: usize,
    pub epochs_in_phase: usize,
    /// Batches done in the current epoch.
    pub batch: usize,
    pub batches_per_epoch: usize,
    pub steps_done: usize,
    pub steps_total: usize,
}

impl Progress {
    pub fn fraction(&self) -> f64 {
        if self.steps_total == 0 { 1.0 } else { self.steps_done as f64 / self.steps_total as f64 }
    }
}

/// What `step_batch` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// One batch trained; the epoch goes on.
    Batch,
    /// The batch ended an epoch: call `finish_epoch` (or `finish_epoch_async`) next.
    EpochEnd,
    /// Training is complete.
    Finished,
}

/// A module slot that optimiser steps can move out of and back into.
struct Slot<M>(Option<M>);

impl<M> Slot<M> {
    fn update(&mut self, f: impl FnOnce(M) -> M) {
        let m = self.0.take().expect("module present");
        self.0 = Some(f(m));
    }
}

impl<M> std::ops::Deref for Slot<M> {
    type Target = M;
    fn deref(&self) -> &M {
        self.0.as_ref().expect("module present")
    }
}

/// Clamp every float parameter to `[-c, c]` (WGAN weight clipping).
struct WeightClipper(f32);

impl ModuleMapper for WeightClipper {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let c = self.0;
        param.map(|t| {
            let require = t.is_require_grad();
            let clipped = t.clamp(-c, c).detach();
            if require { clipped.require_grad() } else { clipped }
        })
    }
}

struct Optimizers {
    aae: ModuleOptimizer,
    latent_discriminator: ModuleOptimizer,
    encoder: ModuleOptimizer,
    alarm: ModuleOptimizer,
    generator: ModuleOptimizer,
    critic: ModuleOptimizer,
}

/// Most values (rows × (code + alarm inputs)) the trainer keeps for `normal_features`: 32 Mi
/// floats, 128 MiB (NSL-KDD's ~26 Mi fit; Census's ~240 Mi are recomputed per batch instead).
const NORMAL_FEATURES_BUDGET: usize = 32 << 20;

/// The cache of the frozen AAE's outputs for the training rows.
enum NormalFeatures {
    NotYet,
    Cached(Tensor<2>),
    /// Over `NORMAL_FEATURES_BUDGET`: computed per batch.
    TooLarge,
}

/// Mixed into the seed for the device's noise stream (the initial weights use the seed itself).
const NOISE_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Host-side stream ids (one seed, separate streams).
const SHUFFLE_STREAM: u64 = 0x5AFF;
const POOL_STREAM: u64 = 0xB001;

/// The training state machine.
pub struct Trainer {
    config: TrainingConfig,
    networks_config: NetworksConfig,
    device: Device,
    x: Matrix,
    rng: HostRng,
    aae: Slot<Aae>,
    latent_discriminator: Slot<Critic>,
    alarm: Slot<Alarm>,
    generator: Slot<Generator>,
    critic: Slot<Critic>,
    frozen_aae: Option<Aae>,
    /// The frozen AAE on the inner (non-autodiff) device: for what no gradient flows through
    /// (training rows, trivial anomalies, detached generated codes), without graph bookkeeping.
    frozen_aae_inner: Option<Aae>,
    simple_pool: Option<(Tensor<2>, usize)>,
    /// Per-dimension mean and std `[1, code]` of the training codes (frozen AAE), on the device.
    code_moments: Option<(Tensor<2>, Tensor<2>)>,
    /// The frozen AAE's codes and alarm inputs of every training row, `[rows, code + a]`: they do
    /// not change after the AAE phase, so detector steps gather them instead of recomputing.
    normal_features: NormalFeatures,
    normal_features_budget: usize,
    optim: Optimizers,
    phase: Phase,
    epoch: usize,
    cursor: usize,
    batches_done: usize,
    order: Vec<usize>,
    accum: Option<Tensor<1>>,
    pending: Option<Tensor<1>>,
    targets: HashMap<(usize, usize), Tensor<2>>,
    steps_done: usize,
    history: Vec<EpochReport>,
}

impl Trainer {
    /// A trainer for rows `x` (scaled features, normal rows) on `device` (autodiff is enabled
    /// here). Seeds the device and the host generator from `config.seed`.
    pub fn new(config: TrainingConfig, x: Matrix, device: &Device) -> Result<Self> {
        config.validate()?;
        if x.rows == 0 {
            return Err(Error::Data("no training rows".into()));
        }
        if let Some(i) = x.values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Data(format!("training value {} (row {}) is not finite", x.values[i], i / x.cols)));
        }
        let device = device.clone().autodiff();
        let networks_config = config.networks(x.cols);
        // The initial weights are drawn on the CPU from the seed, so one seed gives the same
        // starting networks on every backend; the device then draws the training noise from a
        // stream of its own.
        let host = Device::flex().autodiff();
        host.seed(config.seed);
        let initial = networks_config.init(&host).into_record();
        let nets = networks_config
            .init(&device)
            .try_load_record(initial)
            .map_err(|e| Error::Backend(format!("cannot place the initial weights on the device: {e}")))?;
        device.seed(config.seed ^ NOISE_SEED);
        crate::model::seed_dropout_masks(config.seed);
        let o = &config.optimizer;
        let clip = match config.losses.lipschitz {
            Lipschitz::GradNormClip(c) => Some(GradientClippingConfig::Norm(c)),
            _ => None,
        };
        // Adam: fused into one pass per parameter on the CPU, burn's own elsewhere (same numbers).
        let fused = on_flex(&device);
        let adam = |clip: Option<&GradientClippingConfig>| -> ModuleOptimizer {
            if fused {
                let optim = ModuleOptimizer::from(FusedAdam { beta_1: o.beta_1, beta_2: o.beta_2, epsilon: o.epsilon });
                match clip {
                    Some(c) => optim.with_grad_clipping(c.init()),
                    None => optim,
                }
            } else {
                AdamConfig::new()
                    .with_beta_1(o.beta_1)
                    .with_beta_2(o.beta_2)
                    .with_epsilon(o.epsilon)
                    .with_grad_clipping(clip.cloned())
                    .init()
            }
        };
        let optim = Optimizers {
            aae: adam(None),
            latent_discriminator: adam(clip.as_ref()),
            encoder: adam(None),
            alarm: adam(None),
            generator: adam(clip.as_ref()),
            critic: adam(clip.as_ref()),
        };
        let mut trainer = Trainer {
            rng: HostRng::new(config.seed, SHUFFLE_STREAM),
            order: (0..x.rows).collect(),
            config,
            networks_config,
            device,
            x,
            aae: Slot(Some(nets.aae)),
            latent_discriminator: Slot(Some(nets.latent_discriminator)),
            alarm: Slot(Some(nets.alarm)),
            generator: Slot(Some(nets.generator)),
            critic: Slot(Some(nets.critic)),
            frozen_aae: None,
            frozen_aae_inner: None,
            simple_pool: None,
            code_moments: None,
            normal_features: NormalFeatures::NotYet,
            normal_features_budget: NORMAL_FEATURES_BUDGET,
            optim,
            phase: Phase::Aae,
            epoch: 0,
            cursor: 0,
            batches_done: 0,
            accum: None,
            pending: None,
            targets: HashMap::new(),
            steps_done: 0,
            history: Vec::new(),
        };
        trainer.skip_empty_phases();
        Ok(trainer)
    }

    /// A trainer that starts after the AAE phase from an already trained `aae` (used to compare
    /// methods on one shared autoencoder). The device is seeded with `config.seed + 1` so the
    /// detector phases draw a stream of their own.
    pub fn from_trained_aae(config: TrainingConfig, x: Matrix, device: &Device, aae: Aae) -> Result<Self> {
        let mut t = Trainer::new(config, x, device)?;
        t.device.seed(t.config.seed.wrapping_add(1));
        crate::model::seed_dropout_masks(t.config.seed.wrapping_add(1));
        t.aae = Slot(Some(aae));
        t.phase = Phase::Pretrain;
        t.epoch = 0;
        t.steps_done = t.config.schedule.aae_epochs * t.batches_per_epoch();
        t.frozen_aae = None;
        t.frozen_aae_inner = None;
        t.normal_features = NormalFeatures::NotYet;
        t.skip_empty_phases();
        Ok(t)
    }

    /// Keep the frozen AAE's outputs of the training rows only up to `floats` values (default
    /// 32 Mi); above it detector steps recompute them per batch. Both give the same training.
    pub fn with_frozen_output_budget(mut self, floats: usize) -> Self {
        self.normal_features_budget = floats;
        self
    }

    /// The autoencoder as trained so far.
    pub fn aae(&self) -> Aae {
        (*self.aae).clone()
    }

    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    pub fn networks_config(&self) -> &NetworksConfig {
        &self.networks_config
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn history(&self) -> &[EpochReport] {
        &self.history
    }

    fn epochs_of(&self, phase: Phase) -> usize {
        let s = &self.config.schedule;
        match phase {
            Phase::Aae => s.aae_epochs,
            Phase::Pretrain => s.pretrain_epochs,
            Phase::Da3d => s.da3d_epochs,
            Phase::Done => 0,
        }
    }

    pub fn batches_per_epoch(&self) -> usize {
        self.x.rows.div_ceil(self.config.schedule.batch_size)
    }

    pub fn progress(&self) -> Progress {
        let s = &self.config.schedule;
        let total_epochs = s.aae_epochs + s.pretrain_epochs + s.da3d_epochs;
        Progress {
            phase: self.phase,
            epoch: self.epoch,
            epochs_in_phase: self.epochs_of(self.phase),
            batch: self.batches_done,
            batches_per_epoch: self.batches_per_epoch(),
            steps_done: self.steps_done,
            steps_total: total_epochs * self.batches_per_epoch(),
        }
    }

    fn next_phase(phase: Phase) -> Phase {
        match phase {
            Phase::Aae => Phase::Pretrain,
            Phase::Pretrain => Phase::Da3d,
            Phase::Da3d | Phase::Done => Phase::Done,
        }
    }

    fn skip_empty_phases(&mut self) {
        while self.phase != Phase::Done && self.epochs_of(self.phase) == 0 {
            self.phase = Self::next_phase(self.phase);
        }
        if self.phase != Phase::Aae && self.phase != Phase::Done && self.frozen_aae.is_none() {
            // The AAE is frozen from here on: no gradients for its parameters, no dropout.
            self.frozen_aae = Some((*self.aae).clone().freeze());
            self.frozen_aae_inner = Some((*self.aae).valid());
        }
    }

    /// The networks as they are now.
    pub fn networks(&self) -> Networks {
        Networks {
            aae: (*self.aae).clone(),
            latent_discriminator: (*self.latent_discriminator).clone(),
            alarm: (*self.alarm).clone(),
            generator: (*self.generator).clone(),
            critic: (*self.critic).clone(),
        }
    }

    /// A detector of the current state (for checkpoints: AUC after N epochs).
    pub fn detector(&self) -> crate::detector::Detector {
        crate::detector::Detector::new(&self.networks(), self.config.architecture.alarm_input)
    }

    fn targets(&mut self, b: usize, parts: usize) -> Tensor<2> {
        let device = self.device.clone();
        self.targets
            .entry((b, parts))
            .or_insert_with(|| {
                let mut v = vec![0f32; b];
                v.resize(b * parts, 1.0);
                Tensor::from_data(TensorData::new(v, [b * parts, 1]), &device)
            })
            .clone()
    }

    fn normal(&self, shape: [usize; 2], mean: f32, std: f32) -> Tensor<2> {
        Tensor::random(shape, Distribution::Normal(mean as f64, std as f64), &self.device)
    }

    /// Code-space noise with standard deviation `std`: around N(0, I), or around the training
    /// codes' own mean and spread with `code_relative_noise`.
    fn code_noise(&mut self, rows: usize, std: f32) -> Tensor<2> {
        let code = self.networks_config.aae.d_code;
        let noise = self.normal([rows, code], 0.0, std);
        if !self.config.losses.code_relative_noise {
            return noise;
        }
        let (mean, spread) = self.code_moments();
        noise * spread + mean
    }

    /// Mean and std of the frozen encoder's codes over all training rows, computed on the
    /// device once (no read-back).
    fn code_moments(&mut self) -> (Tensor<2>, Tensor<2>) {
        if self.code_moments.is_none() {
            let frozen = self.frozen_aae.as_ref().expect("AAE frozen");
            let codes = in_batches(&self.x, &self.device, |t| frozen.encode(t).detach())
                .expect("the trainer has training rows");
            let mean = codes.clone().mean_dim(0);
            let spread = (codes - mean.clone()).square().mean_dim(0).sqrt().clamp_min(1e-3);
            self.code_moments = Some((mean, spread));
        }
        self.code_moments.clone().expect("moments")
    }

    /// Training rows `rows` as a `[rows, d]` tensor on the device.
    fn upload_rows(&self, rows: &[usize]) -> Tensor<2> {
        let mut values = Vec::with_capacity(rows.len() * self.x.cols);
        for &r in rows {
            values.extend_from_slice(self.x.row(r));
        }
        Tensor::from_data(TensorData::new(values, [rows.len(), self.x.cols]), &self.device)
    }

    /// The frozen AAE's outputs for all training rows (`[rows, code + a]`, on the device, no
    /// read-back), or `None` when they exceed `NORMAL_FEATURES_BUDGET`.
    fn normal_features(&mut self) -> Option<Tensor<2>> {
        if let NormalFeatures::NotYet = self.normal_features {
            let frozen = self.frozen_aae_inner.as_ref().expect("AAE frozen");
            let mode = self.config.architecture.alarm_input;
            let width = self.networks_config.aae.d_code + self.networks_config.alarm.d_input;
            self.normal_features = if self.x.rows.saturating_mul(width) > self.normal_features_budget {
                NormalFeatures::TooLarge
            } else {
                let inner = self.device.clone().without_autodiff();
                let features = in_batches(&self.x, &inner, |t| {
                    let (codes, acts) = alarm_input_rows(frozen, t, mode);
                    Tensor::cat(vec![codes, acts], 1)
                });
                NormalFeatures::Cached(features.expect("the trainer has training rows"))
            };
        }
        match &self.normal_features {
            NormalFeatures::Cached(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// Codes `[b, code]` and alarm inputs `[b, a]` of training rows `rows` and of `extra` rows
    /// (`[e, d]`, e.g. trivial anomalies) through the frozen AAE: (codes of `rows`, alarm inputs
    /// of `rows` then `extra`).
    fn frozen_outputs(&mut self, rows: &[usize], extra: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let b = rows.len();
        let mode = self.config.architecture.alarm_input;
        let code = self.networks_config.aae.d_code;
        match self.normal_features() {
            Some(features) => {
                let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
                let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &features.device());
                let gathered = features.select(0, idx);
                let width = gathered.dims()[1];
                let frozen = self.frozen_aae_inner.as_ref().expect("AAE frozen");
                let (_, extra_acts) = alarm_input_rows(frozen, extra.inner(), mode);
                let codes = gathered.clone().slice([0..b, 0..code]);
                let acts = Tensor::cat(vec![gathered.slice([0..b, code..width]), extra_acts], 0);
                (Tensor::from_inner(codes), Tensor::from_inner(acts))
            }
            None => {
                let x = self.upload_rows(rows).inner();
                let frozen = self.frozen_aae_inner.as_ref().expect("AAE frozen");
                let (codes, acts) = alarm_input_rows(frozen, Tensor::cat(vec![x, extra.inner()], 0), mode);
                (Tensor::from_inner(codes.slice([0..b])), Tensor::from_inner(acts))
            }
        }
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
            self.rng.shuffle(&mut self.order);
            self.accum = None;
            self.batches_done = 0;
        }
        let b = self.config.schedule.batch_size.min(self.x.rows - self.cursor);
        let rows = self.order[self.cursor..self.cursor + b].to_vec();
        let losses = match (self.phase, self.config.method) {
            (Phase::Aae, _) => {
                let batch = self.upload_rows(&rows);
                self.aae_step(batch)
            }
            (Phase::Pretrain, _) | (Phase::Da3d, Method::A3Noise) => self.alarm_step(&rows, 2).0,
            (Phase::Da3d, Method::SimpleGenerator) => self.alarm_step(&rows, 3).0,
            (Phase::Da3d, Method::Da3d) => self.da3d_step(&rows),
            (Phase::Done, _) => unreachable!(),
        };
        self.accum = Some(match self.accum.take() {
            Some(a) => a + losses,
            None => losses,
        });
        self.cursor += b;
        self.batches_done += 1;
        self.steps_done += 1;
        if self.cursor >= self.x.rows {
            self.cursor = 0;
            let n = self.batches_done as f32;
            self.pending = Some(self.accum.take().expect("one batch at least") / n);
            return Ok(Step::EpochEnd);
        }
        Ok(Step::Batch)
    }

    /// Read the epoch's means (blocking; native backends) and advance.
    pub fn finish_epoch(&mut self) -> Result<EpochReport> {
        let t = self.pending.take().ok_or_else(|| Error::Backend("no epoch to finish".into()))?;
        let values = read_sync(t)?;
        self.complete_epoch(values)
    }

    /// Read the epoch's means asynchronously (WebGPU) and advance.
    pub async fn finish_epoch_async(&mut self) -> Result<EpochReport> {
        let t = self.pending.take().ok_or_else(|| Error::Backend("no epoch to finish".into()))?;
        let values = read_async(t).await?;
        self.complete_epoch(values)
    }

    fn complete_epoch(&mut self, values: Vec<f32>) -> Result<EpochReport> {
        let names = metric_names(self.phase, self.config.method);
        self.epoch += 1;
        let report = EpochReport {
            phase: self.phase,
            epoch: self.epoch,
            epochs_in_phase: self.epochs_of(self.phase),
            names: names.iter().map(|s| s.to_string()).collect(),
            values,
        };
        if let Some(i) = report.values.iter().position(|v| !v.is_finite()) {
            return Err(Error::Diverged {
                phase: self.phase.name().into(),
                epoch: self.epoch,
                what: names.get(i).copied().unwrap_or("loss").to_string(),
                value: report.values[i],
            });
        }
        if self.epoch >= self.epochs_of(self.phase) {
            self.phase = Self::next_phase(self.phase);
            self.epoch = 0;
            self.skip_empty_phases();
        }
        self.history.push(report.clone());
        Ok(report)
    }

    /// Train until the current epoch ends (blocking read). `None` when training is complete.
    pub fn step_epoch(&mut self) -> Result<Option<EpochReport>> {
        loop {
            match self.step_batch()? {
                Step::Batch => continue,
                Step::EpochEnd => return self.finish_epoch().map(Some),
                Step::Finished => return Ok(None),
            }
        }
    }

    /// Train until the current epoch ends (async read).
    pub async fn step_epoch_async(&mut self) -> Result<Option<EpochReport>> {
        loop {
            match self.step_batch()? {
                Step::Batch => continue,
                Step::EpochEnd => return self.finish_epoch_async().await.map(Some),
                Step::Finished => return Ok(None),
            }
        }
    }

    fn lr(&self) -> f64 {
        self.config.optimizer.learning_rate
    }

    fn clip_weights(&self, critic: Critic) -> Critic {
        match self.config.losses.lipschitz {
            Lipschitz::WeightClip(c) => critic.map(&mut WeightClipper(c)),
            _ => critic,
        }
    }

    /// AAE: reconstruction step, latent-discriminator step, encoder adversarial step.
    fn aae_step(&mut self, x: Tensor<2>) -> Tensor<1> {
        let b = x.dims()[0];
        let code = self.networks_config.aae.d_code;
        let lr = self.lr();

        let codes = self.aae.encode(x.clone());
        let logits = self.aae.decoder.forward_logits(codes.clone());
        let reconstruction = bce_with_logits(logits, x.clone());
        let grads = GradientsParams::from_grads(reconstruction.backward(), &*self.aae);
        let opt = &mut self.optim.aae;
        self.aae.update(|m| opt.step(lr, m, grads));

        // Latent discriminator: large outputs for encoder codes ("fake"), small for N(0, I).
        let prior = self.normal([b, code], 0.0, 1.0);
        let out = self.latent_discriminator.forward(Tensor::cat(vec![codes.detach(), prior], 0));
        let fake = out.clone().slice([0..b]).mean();
        let real = out.slice([b..2 * b]).mean();
        let disc_loss = real - fake;
        let grads = GradientsParams::from_grads(disc_loss.backward(), &*self.latent_discriminator);
        let opt = &mut self.optim.latent_discriminator;
        self.latent_discriminator.update(|m| opt.step(lr, m, grads));
        let clipped = self.clip_weights((*self.latent_discriminator).clone());
        self.latent_discriminator = Slot(Some(clipped));

        // Encoder regularisation: make codes look like the prior (small discriminator output).
        let frozen_disc = (*self.latent_discriminator).clone().no_grad();
        let encoder_loss = frozen_disc.forward(self.aae.encode(x)).mean();
        let grads = GradientsParams::from_grads(encoder_loss.backward(), &self.aae.encoder);
        let opt = &mut self.optim.encoder;
        self.aae.update(|mut m| {
            m.encoder = opt.step(lr, m.encoder, grads);
            m
        });

        Tensor::cat(vec![reconstruction.detach(), disc_loss.detach(), encoder_loss.detach()], 0)
    }

    /// Alarm step on normal rows, trivial anomalies and (with `parts == 3`) generated or
    /// simple-generator anomalies. Returns the loss and the normal rows' codes.
    fn alarm_step(&mut self, rows: &[usize], parts: usize) -> (Tensor<1>, Tensor<2>) {
        let (b, d) = (rows.len(), self.x.cols);
        let mode = self.config.architecture.alarm_input;
        let l = &self.config.losses;
        let trivial = self.normal([b, d], l.trivial_anomaly_mean, l.trivial_anomaly_std);
        let (codes, acts) = self.frozen_outputs(rows, trivial);
        let mut inputs = vec![acts];
        if parts == 3 {
            let generated = match self.config.method {
                Method::SimpleGenerator => {
                    let (pool, n) = self.simple_pool();
                    let idx: Vec<i64> = (0..b).map(|_| self.rng.below(n) as i64).collect();
                    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &self.device);
                    pool.select(0, idx)
                }
                _ => {
                    let noise = self.normal([b, self.networks_config.generator.d_noise], 0.0, 1.0);
                    (*self.generator).clone().no_grad().forward(noise).detach()
                }
            };
            let frozen = self.frozen_aae_inner.as_ref().expect("AAE frozen");
            inputs.push(Tensor::from_inner(alarm_input_codes(frozen, generated.inner(), mode)));
        }
        let logits = self.alarm.forward(Tensor::cat(inputs, 0));
        let targets = self.targets(b, parts);
        let loss = bce_with_logits(logits, targets).mul_scalar(parts as f32);
        let grads = GradientsParams::from_grads(loss.backward(), &*self.alarm);
        let lr = self.lr();
        let opt = &mut self.optim.alarm;
        self.alarm.update(|m| opt.step(lr, m, grads));
        (loss.detach(), codes)
    }

    fn simple_pool(&mut self) -> (Tensor<2>, usize) {
        if self.simple_pool.is_none() {
            let n = self.config.losses.simple_generator_pool;
            let code = self.networks_config.aae.d_code;
            let std = self.config.losses.simple_generator_std as f64;
            let mut rng = HostRng::new(self.config.seed, POOL_STREAM);
            let v: Vec<f32> = (0..n * code).map(|_| (rng.normal() * std) as f32).collect();
            let mut pool = Tensor::from_data(TensorData::new(v, [n, code]), &self.device);
            if self.config.losses.code_relative_noise {
                let (mean, spread) = self.code_moments();
                pool = pool * spread + mean;
            }
            self.simple_pool = Some((pool, n));
        }
        self.simple_pool.clone().expect("pool")
    }

    /// One DA³D batch: alarm step, generator step, critic step.
    fn da3d_step(&mut self, rows: &[usize]) -> Tensor<1> {
        let b = rows.len();
        let lr = self.lr();
        let mode = self.config.architecture.alarm_input;
        let g = self.networks_config.generator.d_noise;

        let (alarm_loss, normal_codes) = self.alarm_step(rows, 3);

        // Generator: objective 1 (look normal to the alarm) + objective 2 (toward the critic's noise).
        let noise = self.normal([2 * b, g], 0.0, 1.0);
        let generated = self.generator.forward(noise);
        let frozen = self.frozen_aae.as_ref().expect("AAE frozen");
        let acts = alarm_input_codes(frozen, generated.clone().slice([0..b]), mode);
        let alarm_fixed = (*self.alarm).clone().no_grad();
        let alarm_logits = alarm_fixed.forward(acts);
        let objective_alarm = match self.config.losses.alarm_objective {
            AlarmObjective::Probability => activation::sigmoid(alarm_logits).mean(),
            AlarmObjective::Logit => alarm_logits.mean(),
        };
        let critic_fixed = (*self.critic).clone().no_grad();
        let objective_critic = critic_fixed.forward(generated.slice([b..2 * b])).mean().neg();
        let generator_loss = objective_alarm.clone() + objective_critic.clone();
        let grads = GradientsParams::from_grads(generator_loss.backward(), &*self.generator);
        let opt = &mut self.optim.generator;
        self.generator.update(|m| opt.step(lr, m, grads));

        // Critic: small on generated and normal codes, large on N(0, σ²) noise.
        let noise = self.normal([b, g], 0.0, 1.0);
        let generated = (*self.generator).clone().no_grad().forward(noise).detach();
        let disc_noise = self.code_noise(b, self.config.losses.critic_noise_std);
        let l = &self.config.losses;
        let out = self.critic.forward(Tensor::cat(vec![generated, normal_codes.detach(), disc_noise], 0));
        let m_gen = out.clone().slice([0..b]).mean();
        let m_normal = out.clone().slice([b..2 * b]).mean();
        let m_noise = out.slice([2 * b..3 * b]).mean();
        let [w_gen, w_normal, w_noise] = l.critic_weights;
        let critic_loss = m_gen.clone().mul_scalar(w_gen) + m_normal.clone().mul_scalar(w_normal)
            - m_noise.clone().mul_scalar(w_noise);
        let grads = GradientsParams::from_grads(critic_loss.backward(), &*self.critic);
        let opt = &mut self.optim.critic;
        self.critic.update(|m| opt.step(lr, m, grads));
        let clipped = self.clip_weights((*self.critic).clone());
        self.critic = Slot(Some(clipped));

        Tensor::cat(
            vec![
                alarm_loss,
                generator_loss.detach(),
                objective_alarm.detach(),
                objective_critic.detach(),
                critic_loss.detach(),
                m_normal.detach(),
                m_gen.detach(),
                m_noise.detach(),
            ],
            0,
        )
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

/// Run a trainer to the end (native, blocking), reporting to `observer`.
/// Returns false when the observer cancelled.
pub fn run_blocking(trainer: &mut Trainer, observer: &mut dyn Observer) -> Result<bool> {
    loop {
        if observer.cancelled() {
            return Ok(false);
        }
        match trainer.step_batch()? {
            Step::Batch => observer.on_batch(&trainer.progress()),
            Step::EpochEnd => {
                let report = trainer.finish_epoch()?;
                observer.on_epoch(&report, &trainer.progress());
            }
            Step::Finished => return Ok(true),
        }
    }
}
