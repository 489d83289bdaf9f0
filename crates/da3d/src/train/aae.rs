//! The AAE phase: the autoencoder and its latent discriminator train; the detector networks
//! wait with their initial weights.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;

use super::shared::{Shared, Slot};
use crate::model::{Aae, Alarm, Critic, Generator};
use super::losses::{bce_with_logits, latent_discriminator_loss, mean};

/// The detector networks before their phases: initial weights, not trained yet.
pub(super) struct DetectorNets {
    pub alarm: Alarm,
    pub generator: Generator,
    pub critic: Critic,
}

/// The AAE phase's networks and optimisers.
pub(super) struct AaeStage {
    pub aae: Slot<Aae>,
    pub latent_discriminator: Slot<Critic>,
    aae_optim: ModuleOptimizer,
    latent_discriminator_optim: ModuleOptimizer,
    encoder_optim: ModuleOptimizer,
    /// Waiting for the detector phases.
    pub detector: DetectorNets,
}

impl AaeStage {
    /// The optimisers' states (autoencoder, latent discriminator, encoder), for a checkpoint.
    pub fn optimizers(&self) -> [&ModuleOptimizer; 3] {
        [&self.aae_optim, &self.latent_discriminator_optim, &self.encoder_optim]
    }

    /// The optimisers, to go on from a checkpoint's states (in [`optimizers`](Self::optimizers)' order).
    pub fn optimizers_mut(&mut self) -> [&mut ModuleOptimizer; 3] {
        [&mut self.aae_optim, &mut self.latent_discriminator_optim, &mut self.encoder_optim]
    }

    pub fn new(aae: Aae, latent_discriminator: Critic, detector: DetectorNets, sh: &Shared) -> Self {
        AaeStage {
            aae: Slot(Some(aae)),
            latent_discriminator: Slot(Some(latent_discriminator)),
            aae_optim: sh.adam(false),
            latent_discriminator_optim: sh.adam(true),
            encoder_optim: sh.adam(false),
            detector,
        }
    }

    /// One batch `x` `[b, d]`: reconstruction step, latent-discriminator step, encoder
    /// adversarial step. Returns `[reconstruction, latent_discriminator, encoder_adversarial]`.
    pub fn step(&mut self, sh: &Shared, x: Tensor<2>) -> Tensor<1> {
        let b = x.dims()[0];
        let code = sh.networks_config.aae.d_code;

        let codes = self.aae.encode(x.clone());
        let logits = self.aae.decoder.forward_logits(codes.clone());
        let reconstruction = bce_with_logits(logits, x.clone());
        let grads = GradientsParams::from_grads(reconstruction.backward(), &*self.aae);
        let opt = &mut self.aae_optim;
        self.aae.update(|m| sh.optimise(opt, m, grads));

        // Latent discriminator: large outputs for encoder codes ("fake"), small for N(0, I).
        let prior = sh.normal([b, code], 0.0, 1.0);
        let out = self.latent_discriminator.forward(Tensor::cat(vec![codes.detach(), prior], 0));
        let disc_loss = latent_discriminator_loss(out, b);
        let grads = GradientsParams::from_grads(disc_loss.backward(), &*self.latent_discriminator);
        let opt = &mut self.latent_discriminator_optim;
        self.latent_discriminator.update(|m| sh.optimise(opt, m, grads));
        self.latent_discriminator.update(|m| sh.clip_weights(m));

        // Encoder regularisation: make codes look like the prior (small discriminator output).
        let frozen_disc = (*self.latent_discriminator).clone().no_grad();
        let encoder_loss = mean(frozen_disc.forward(self.aae.encode(x)));
        let grads = GradientsParams::from_grads(encoder_loss.backward(), &self.aae.encoder);
        let opt = &mut self.encoder_optim;
        self.aae.update(|mut m| {
            m.encoder = sh.optimise(opt, m.encoder, grads);
            m
        });

        Tensor::cat(vec![reconstruction.detach(), disc_loss.detach(), encoder_loss.detach()], 0)
    }
}
