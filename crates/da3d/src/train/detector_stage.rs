//! The detector phases (pretraining and DA³D): the AAE is frozen; the alarm, the generator and
//! the critic train.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Int, Tensor, TensorData, activation};

use super::aae::{AaeStage, DetectorNets};
use super::losses::{alarm_loss, critic_loss, generator_critic_objective, generator_loss, mean};
use super::shared::{POOL_STREAM, Shared, Slot};
use crate::config::{AlarmObjective, Method};
use crate::tensors::in_batches;
use crate::model::{Aae, Alarm, Critic, Generator, alarm_input_codes, alarm_input_rows};
use crate::rng::HostRng;

/// The frozen AAE's outputs for all training rows.
enum NormalFeatures {
    NotYet,
    /// `[rows, code + a]`: codes, then alarm inputs, on the inner device.
    Cached(Tensor<2>),
    /// Over the budget: computed per batch.
    TooLarge,
}

/// The AAE after its phase, and what it computes once.
pub(super) struct FrozenAae {
    /// As trained (for the bundle).
    pub trained: Aae,
    /// No gradients for its parameters, no dropout: what the generator's gradient flows through.
    frozen: Aae,
    /// On the inner (non-autodiff) device: for what no gradient flows through (training rows,
    /// trivial anomalies, detached generated codes), without graph bookkeeping.
    inner: Aae,
    features: NormalFeatures,
    /// Most values (rows × (code + alarm inputs)) kept in `features`.
    features_budget: usize,
    /// Per-dimension mean and std `[1, code]` of the training codes, on the device.
    code_moments: Option<(Tensor<2>, Tensor<2>)>,
}

impl FrozenAae {
    pub fn new(aae: Aae, features_budget: usize) -> Self {
        FrozenAae {
            frozen: aae.clone().freeze(),
            inner: aae.valid(),
            trained: aae,
            features: NormalFeatures::NotYet,
            features_budget,
            code_moments: None,
        }
    }

    /// Keep at most `floats` values of the training rows' outputs (dropping what is kept).
    pub fn set_features_budget(&mut self, floats: usize) {
        self.features_budget = floats;
        self.features = NormalFeatures::NotYet;
    }

    /// The frozen AAE's outputs for all training rows (`[rows, code + a]`, on the device, no
    /// read-back), or `None` when they exceed the budget.
    fn normal_features(&mut self, sh: &Shared) -> Option<Tensor<2>> {
        if let NormalFeatures::NotYet = self.features {
            let mode = sh.config.architecture.alarm_input;
            let width = sh.networks_config.aae.d_code + sh.networks_config.alarm.d_input;
            self.features = if sh.x.rows.saturating_mul(width) > self.features_budget {
                NormalFeatures::TooLarge
            } else {
                let inner_device = sh.device.clone().without_autodiff();
                let frozen = &self.inner;
                let features = in_batches(&sh.x, &inner_device, |t| {
                    let (codes, acts) = alarm_input_rows(frozen, t, mode);
                    Tensor::cat(vec![codes, acts], 1)
                });
                NormalFeatures::Cached(features.expect("the trainer has training rows"))
            };
        }
        match &self.features {
            NormalFeatures::Cached(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// Codes `[b, code]` and alarm inputs `[b, a]` of training rows `rows` and of `extra` rows
    /// (`[e, d]`, e.g. trivial anomalies): (codes of `rows`, alarm inputs of `rows` then `extra`).
    fn outputs(&mut self, sh: &Shared, rows: &[usize], extra: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let b = rows.len();
        let mode = sh.config.architecture.alarm_input;
        let code = sh.networks_config.aae.d_code;
        match self.normal_features(sh) {
            Some(features) => {
                let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
                let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &features.device());
                let gathered = features.select(0, idx);
                let width = gathered.dims()[1];
                let (_, extra_acts) = alarm_input_rows(&self.inner, extra.inner(), mode);
                let codes = gathered.clone().slice([0..b, 0..code]);
                let acts = Tensor::cat(vec![gathered.slice([0..b, code..width]), extra_acts], 0);
                (Tensor::from_inner(codes), Tensor::from_inner(acts))
            }
            None => {
                let x = sh.upload_rows(rows).inner();
                let (codes, acts) = alarm_input_rows(&self.inner, Tensor::cat(vec![x, extra.inner()], 0), mode);
                (Tensor::from_inner(codes.slice([0..b])), Tensor::from_inner(acts))
            }
        }
    }

    /// Mean and std of the frozen encoder's codes over all training rows, computed on the
    /// device once (no read-back).
    fn code_moments(&mut self, sh: &Shared) -> (Tensor<2>, Tensor<2>) {
        if self.code_moments.is_none() {
            let frozen = &self.frozen;
            let codes = in_batches(&sh.x, &sh.device, |t| frozen.encode(t).detach()).expect("the trainer has training rows");
            let mean = codes.clone().mean_dim(0);
            let spread = (codes - mean.clone()).square().mean_dim(0).sqrt().clamp_min(1e-3);
            self.code_moments = Some((mean, spread));
        }
        self.code_moments.clone().expect("moments")
    }

    /// Code-space noise `[rows, code]` with standard deviation `std`: around N(0, I), or around
    /// the training codes' own mean and spread with `code_relative_noise`.
    fn code_noise(&mut self, sh: &Shared, rows: usize, std: f32) -> Tensor<2> {
        let code = sh.networks_config.aae.d_code;
        let noise = sh.normal([rows, code], 0.0, std);
        if !sh.config.losses.code_relative_noise {
            return noise;
        }
        let (mean, spread) = self.code_moments(sh);
        noise * spread + mean
    }
}

/// The detector phases' networks and optimisers.
pub(super) struct DetectorStage {
    pub aae: FrozenAae,
    /// Trained in the AAE phase; kept for the bundle.
    pub latent_discriminator: Critic,
    pub alarm: Slot<Alarm>,
    pub generator: Slot<Generator>,
    pub critic: Slot<Critic>,
    alarm_optim: ModuleOptimizer,
    generator_optim: ModuleOptimizer,
    critic_optim: ModuleOptimizer,
    /// The simple-generator ablation's fixed pool of code-space anomalies `[n, code]`.
    simple_pool: Option<(Tensor<2>, usize)>,
}

impl DetectorStage {
    /// Freeze the AAE of a finished AAE phase.
    pub fn after(aae_stage: AaeStage, sh: &Shared, features_budget: usize) -> Self {
        let AaeStage { aae, latent_discriminator, detector: DetectorNets { alarm, generator, critic }, .. } = aae_stage;
        DetectorStage {
            aae: FrozenAae::new(aae.into_inner(), features_budget),
            latent_discriminator: latent_discriminator.into_inner(),
            alarm: Slot(Some(alarm)),
            generator: Slot(Some(generator)),
            critic: Slot(Some(critic)),
            alarm_optim: sh.adam(false),
            generator_optim: sh.adam(true),
            critic_optim: sh.adam(true),
            simple_pool: None,
        }
    }

    /// The optimisers' states (alarm, generator, critic), for a checkpoint.
    pub fn optimizers(&self) -> [&ModuleOptimizer; 3] {
        [&self.alarm_optim, &self.generator_optim, &self.critic_optim]
    }

    /// The optimisers, to go on from a checkpoint's states (in [`optimizers`](Self::optimizers)' order).
    pub fn optimizers_mut(&mut self) -> [&mut ModuleOptimizer; 3] {
        [&mut self.alarm_optim, &mut self.generator_optim, &mut self.critic_optim]
    }

    /// Alarm step on normal rows, trivial anomalies and (with `parts == 3`) generated or
    /// simple-generator anomalies. Returns the loss `[1]` and the normal rows' codes `[b, code]`.
    pub fn alarm_step(&mut self, sh: &mut Shared, rows: &[usize], parts: usize) -> (Tensor<1>, Tensor<2>) {
        let (b, d) = (rows.len(), sh.x.cols);
        let mode = sh.config.architecture.alarm_input;
        let (mean, std) = (sh.config.losses.trivial_anomaly_mean, sh.config.losses.trivial_anomaly_std);
        let trivial = sh.normal([b, d], mean, std);
        let (codes, acts) = self.aae.outputs(sh, rows, trivial);
        let mut inputs = vec![acts];
        if parts == 3 {
            let generated = match sh.config.method {
                Method::SimpleGenerator => {
                    let (pool, n) = self.simple_pool(sh);
                    let idx: Vec<i64> = (0..b).map(|_| sh.rng.below(n) as i64).collect();
                    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &sh.device);
                    pool.select(0, idx)
                }
                _ => {
                    let noise = sh.normal([b, sh.networks_config.generator.d_noise], 0.0, 1.0);
                    (*self.generator).clone().no_grad().forward(noise).detach()
                }
            };
            inputs.push(Tensor::from_inner(alarm_input_codes(&self.aae.inner, generated.inner(), mode)));
        }
        let logits = self.alarm.forward(Tensor::cat(inputs, 0));
        let targets = sh.targets(b, parts);
        let loss = alarm_loss(logits, targets, parts);
        let grads = GradientsParams::from_grads(loss.backward(), &*self.alarm);
        let opt = &mut self.alarm_optim;
        self.alarm.update(|m| sh.optimise(opt, m, grads));
        (loss.detach(), codes)
    }

    fn simple_pool(&mut self, sh: &Shared) -> (Tensor<2>, usize) {
        if self.simple_pool.is_none() {
            let n = sh.config.losses.simple_generator_pool;
            let code = sh.networks_config.aae.d_code;
            let std = sh.config.losses.simple_generator_std as f64;
            let mut rng = HostRng::new(sh.config.seed, POOL_STREAM);
            let v: Vec<f32> = (0..n * code).map(|_| (rng.normal() * std) as f32).collect();
            let mut pool = Tensor::from_data(TensorData::new(v, [n, code]), &sh.device);
            if sh.config.losses.code_relative_noise {
                let (mean, spread) = self.aae.code_moments(sh);
                pool = pool * spread + mean;
            }
            self.simple_pool = Some((pool, n));
        }
        self.simple_pool.clone().expect("pool")
    }

    /// One DA³D batch: alarm step, generator step, critic step. Returns the eight values of
    /// [`EpochLosses::Da3d`](super::EpochLosses::Da3d) `[8]`.
    pub fn da3d_step(&mut self, sh: &mut Shared, rows: &[usize]) -> Tensor<1> {
        let b = rows.len();
        let mode = sh.config.architecture.alarm_input;
        let g = sh.networks_config.generator.d_noise;

        let (alarm_loss, normal_codes) = self.alarm_step(sh, rows, 3);

        // Generator: objective 1 (look normal to the alarm) + objective 2 (toward the critic's noise).
        let noise = sh.normal([2 * b, g], 0.0, 1.0);
        let generated = self.generator.forward(noise);
        let acts = alarm_input_codes(&self.aae.frozen, generated.clone().slice([0..b]), mode);
        // The frozen copies live for one statement: a network's update writes its buffers in place
        // on the GPU unless a copy still holds them.
        let alarm_logits = (*self.alarm).clone().no_grad().forward(acts);
        let objective_alarm = match sh.config.losses.alarm_objective {
            AlarmObjective::Probability => mean(activation::sigmoid(alarm_logits)),
            AlarmObjective::Logit => mean(alarm_logits),
        };
        let objective_critic = generator_critic_objective((*self.critic).clone().no_grad().forward(generated.slice([b..2 * b])));
        let generator_loss = generator_loss(objective_alarm.clone(), objective_critic.clone());
        let grads = GradientsParams::from_grads(generator_loss.backward(), &*self.generator);
        let opt = &mut self.generator_optim;
        self.generator.update(|m| sh.optimise(opt, m, grads));

        // Critic: small on generated and normal codes, large on N(0, σ²) noise.
        let noise = sh.normal([b, g], 0.0, 1.0);
        let generated = (*self.generator).clone().no_grad().forward(noise).detach();
        let disc_noise = self.aae.code_noise(sh, b, sh.config.losses.critic_noise_std);
        let out = self.critic.forward(Tensor::cat(vec![generated, normal_codes.detach(), disc_noise], 0));
        let m_gen = out.clone().slice([0..b]).mean();
        let m_normal = out.clone().slice([b..2 * b]).mean();
        let m_noise = out.slice([2 * b..3 * b]).mean();
        let critic_loss = critic_loss(m_gen.clone(), m_normal.clone(), m_noise.clone(), sh.config.losses.critic_weights);
        let grads = GradientsParams::from_grads(critic_loss.backward(), &*self.critic);
        let opt = &mut self.critic_optim;
        self.critic.update(|m| sh.optimise(opt, m, grads));
        self.critic.update(|m| sh.clip_weights(m));

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
