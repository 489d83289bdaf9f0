//! What every stage's step reads and writes besides its networks: the config, the training rows,
//! the device and the trainer's random streams ([`Shared`]); the module slots optimiser steps move
//! through; the Lipschitz device's weight clipping.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

use chacha20::ChaCha12Rng;
use rand::SeedableRng;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::adam::FusedAdam;
use super::losses;
use crate::config::{Lipschitz, ValidConfig};
use crate::data::Matrix;
use crate::model::cpu::{on_cube_kernels, on_flex};
use crate::model::{Critic, NetworksConfig};
use crate::rng::HostRng;

/// A module slot that optimiser steps can move out of and back into.
pub(super) struct Slot<M>(pub(super) Option<M>);

impl<M> Slot<M> {
    pub(super) fn update(&mut self, f: impl FnOnce(M) -> M) {
        let m = self.0.take().expect("module present");
        self.0 = Some(f(m));
    }

    pub(super) fn into_inner(self) -> M {
        self.0.expect("module present")
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

/// Most values (rows × (code + alarm inputs)) the trainer keeps of the frozen AAE's outputs of
/// the training rows: 32 Mi floats, 128 MiB (NSL-KDD's ~26 Mi fit; Census's ~240 Mi are
/// recomputed per batch instead).
pub(super) const NORMAL_FEATURES_BUDGET: usize = 32 << 20;

/// Mixed into the seed for the device's noise stream (the initial weights use the seed itself).
pub(super) const NOISE_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Host-side stream ids (one seed, separate streams).
pub(super) const SHUFFLE_STREAM: u64 = 0x5AFF;
pub(super) const POOL_STREAM: u64 = 0xB001;

/// What every stage's step reads: the config, the training rows, the device and the trainer's
/// host random stream.
pub(super) struct Shared {
    pub(super) config: ValidConfig,
    pub(super) networks_config: NetworksConfig,
    pub(super) device: Device,
    pub(super) x: Matrix,
    pub(super) rng: HostRng,
    pub(super) targets: HashMap<(usize, usize), Tensor<2>>,
    /// On the CPU: the trainer's own noise generator, the very stream burn's CPU backend would
    /// draw after `device.seed` (rand's `StdRng` is ChaCha12: same generator, same seed, same
    /// sampling), but owned by this trainer: trainings on other threads cannot interleave with it,
    /// and a checkpoint keeps its position. Other devices draw on the device (`None`).
    pub(super) noise: RefCell<Option<ChaCha12Rng>>,
}

/// burn's CPU backend draws initial weights from one process-wide generator: a trainer seeds it
/// and initialises its networks under this lock, so that trainings on several threads each get
/// the weights of their own seed.
pub(super) static INIT: Mutex<()> = Mutex::new(());

impl Shared {
    pub(super) fn lr(&self) -> f64 {
        self.config.optimizer.learning_rate
    }

    /// An Adam optimiser with the config's settings (`clipped`: with the Lipschitz device's
    /// gradient clipping, for the critics and the generator); fused into one pass per parameter
    /// on the CPU and one kernel per parameter on the GPU (the `wgpu` feature), burn's own elsewhere (same
    /// numbers).
    pub(super) fn adam(&self, clipped: bool) -> ModuleOptimizer {
        let o = &self.config.optimizer;
        let clip = match self.config.losses.lipschitz {
            Lipschitz::GradNormClip(c) if clipped => Some(GradientClippingConfig::Norm(c)),
            _ => None,
        };
        if on_flex(&self.device) || on_cube_kernels(&self.device) {
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
                .with_grad_clipping(clip)
                .init()
        }
    }

    /// One optimiser step of `module` with its gradients. The GPU's fused Adam may hold a
    /// layer's weight update back to launch it with the bias; this runs whatever it held.
    pub(super) fn optimise<M: Module>(&self, optimizer: &mut ModuleOptimizer, module: M, grads: GradientsParams) -> M {
        let module = optimizer.step(self.lr(), module, grads);
        super::adam::finish_step();
        module
    }

    pub(super) fn clip_weights(&self, critic: Critic) -> Critic {
        match self.config.losses.lipschitz {
            Lipschitz::WeightClip(c) => critic.map(&mut WeightClipper(c)),
            _ => critic,
        }
    }

    /// The alarm's targets `[b · parts, 1]` ([`losses::alarm_targets`]), kept per shape.
    pub(super) fn targets(&mut self, b: usize, parts: usize) -> Tensor<2> {
        let device = self.device.clone();
        self.targets
            .entry((b, parts))
            .or_insert_with(|| Tensor::from_data(TensorData::new(losses::alarm_targets(b, parts), [b * parts, 1]), &device))
            .clone()
    }

    /// `[rows, cols]` draws of N(mean, std²) from the trainer's noise stream.
    pub(super) fn normal(&self, shape: [usize; 2], mean: f32, std: f32) -> Tensor<2> {
        let distribution = Distribution::Normal(mean as f64, std as f64);
        match self.noise.borrow_mut().as_mut() {
            Some(rng) => Tensor::from_data(TensorData::random::<f32, _, _>(shape, distribution, rng), &self.device),
            None => Tensor::random(shape, distribution, &self.device),
        }
    }

    /// Start the noise stream of `seed` (on the CPU: the trainer's own generator).
    pub(super) fn seed_noise(&self, seed: u64) {
        if on_flex(&self.device) {
            *self.noise.borrow_mut() = Some(ChaCha12Rng::seed_from_u64(seed));
        } else {
            self.device.seed(seed);
        }
    }

    /// Training rows `rows` as a `[rows, d]` tensor on the device.
    pub(super) fn upload_rows(&self, rows: &[usize]) -> Tensor<2> {
        let mut values = Vec::with_capacity(rows.len() * self.x.cols);
        for &r in rows {
            values.extend_from_slice(self.x.row(r));
        }
        Tensor::from_data(TensorData::new(values, [rows.len(), self.x.cols]), &self.device)
    }
}

