//! What training reports: phases, per-epoch losses (typed), progress.

use serde::{Deserialize, Serialize};

use crate::config::Method;

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

    pub(crate) fn next(self) -> Phase {
        match self {
            Phase::Aae => Phase::Pretrain,
            Phase::Pretrain => Phase::Da3d,
            Phase::Da3d | Phase::Done => Phase::Done,
        }
    }
}

/// The network whose training step a loss belongs to (the page draws one chart per network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// The adversarial autoencoder: encoder, decoder and latent discriminator.
    Aae,
    Alarm,
    Generator,
    Critic,
}

/// The per-epoch means of one phase's losses and monitors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EpochLosses {
    /// The AAE phase.
    Aae { reconstruction: f32, latent_discriminator: f32, encoder_adversarial: f32 },
    /// Pretraining, and the A³ baselines' detector phase: the alarm's loss.
    Alarm { alarm: f32 },
    /// The DA³D phase: the alarm's loss, the generator's two objectives and their sum, the
    /// critic's loss and its mean outputs on normal, generated and noise codes.
    Da3d {
        alarm: f32,
        generator: f32,
        generator_alarm: f32,
        generator_critic: f32,
        critic: f32,
        critic_normal: f32,
        critic_generated: f32,
        critic_noise: f32,
    },
}

impl EpochLosses {
    /// The losses of `phase` from the trainer's per-epoch values (in the order of `entries`).
    pub(crate) fn from_values(phase: Phase, method: Method, v: &[f32]) -> Self {
        let at = |i: usize| v.get(i).copied().unwrap_or(f32::NAN);
        match (phase, method) {
            (Phase::Aae, _) => EpochLosses::Aae { reconstruction: at(0), latent_discriminator: at(1), encoder_adversarial: at(2) },
            (Phase::Da3d, Method::Da3d) => EpochLosses::Da3d {
                alarm: at(0),
                generator: at(1),
                generator_alarm: at(2),
                generator_critic: at(3),
                critic: at(4),
                critic_normal: at(5),
                critic_generated: at(6),
                critic_noise: at(7),
            },
            _ => EpochLosses::Alarm { alarm: at(0) },
        }
    }

    /// (name, network, value) of every loss and monitor.
    pub fn entries(&self) -> Vec<(&'static str, Network, f32)> {
        use Network::*;
        match *self {
            EpochLosses::Aae { reconstruction, latent_discriminator, encoder_adversarial } => vec![
                ("reconstruction", Aae, reconstruction),
                ("latent_discriminator", Aae, latent_discriminator),
                ("encoder_adversarial", Aae, encoder_adversarial),
            ],
            EpochLosses::Alarm { alarm } => vec![("alarm", Alarm, alarm)],
            EpochLosses::Da3d {
                alarm,
                generator,
                generator_alarm,
                generator_critic,
                critic,
                critic_normal,
                critic_generated,
                critic_noise,
            } => vec![
                ("alarm", Alarm, alarm),
                ("generator", Generator, generator),
                ("generator_alarm", Generator, generator_alarm),
                ("generator_critic", Generator, generator_critic),
                ("critic", Critic, critic),
                ("critic_normal", Critic, critic_normal),
                ("critic_generated", Critic, critic_generated),
                ("critic_noise", Critic, critic_noise),
            ],
        }
    }
}

/// What one epoch produced: the means of the per-batch losses and monitors, typed (`losses`) and
/// as parallel lists (`names`, `networks`, `values`) for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    pub phase: Phase,
    /// 1-based epoch within the phase.
    pub epoch: usize,
    pub epochs_in_phase: usize,
    /// 0-based ensemble member this epoch trained (0 for a single model).
    #[serde(default)]
    pub member: usize,
    pub losses: EpochLosses,
    pub names: Vec<String>,
    pub networks: Vec<Network>,
    pub values: Vec<f32>,
}

impl EpochReport {
    pub(crate) fn new(phase: Phase, epoch: usize, epochs_in_phase: usize, losses: EpochLosses) -> Self {
        let entries = losses.entries();
        EpochReport {
            phase,
            epoch,
            epochs_in_phase,
            member: 0,
            losses,
            names: entries.iter().map(|e| e.0.to_string()).collect(),
            networks: entries.iter().map(|e| e.1).collect(),
            values: entries.iter().map(|e| e.2).collect(),
        }
    }

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
    /// 0-based ensemble member in training, and how many there are.
    pub member: usize,
    pub members: usize,
    /// Steps over all members.
    pub steps_done: usize,
    pub steps_total: usize,
}

impl Progress {
    pub fn fraction(&self) -> f64 {
        if self.steps_total == 0 { 1.0 } else { self.steps_done as f64 / self.steps_total as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loss_names_its_network() {
        let r = EpochReport::new(Phase::Da3d, 1, 2, EpochLosses::from_values(Phase::Da3d, Method::Da3d, &[1., 2., 3., 4., 5., 6., 7., 8.]));
        assert_eq!(r.get("critic_noise"), Some(8.0));
        assert_eq!(r.networks[1], Network::Generator);
        assert_eq!(r.networks[4], Network::Critic);
        let r = EpochReport::new(Phase::Aae, 1, 2, EpochLosses::from_values(Phase::Aae, Method::Da3d, &[1., 2., 3.]));
        assert_eq!(r.networks, vec![Network::Aae; 3]);
        let pretrain = EpochLosses::from_values(Phase::Pretrain, Method::Da3d, &[0.5]);
        assert_eq!(pretrain.entries(), vec![("alarm", Network::Alarm, 0.5)]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["losses"]["kind"], "aae");
        assert_eq!(json["networks"][1], "aae");
    }
}
