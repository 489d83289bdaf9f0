//! Configuration: what a training run needs besides the data. The schema lives here; the presets
//! that fill it for a table in `presets`, the checks and JSON overrides in `validate`.

mod presets;
mod validate;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::data::DataShape;
pub use crate::model::AlarmInput;
use crate::model::{AaeConfig, Activation, AlarmConfig, CriticConfig, GeneratorConfig, NetworksConfig, OutputActivation, WeightNorm};
pub use presets::{
    QUICK_MEMBERS, QUICK_STEPS, ROBUST_MAX_EPOCHS, ROBUST_MEMBERS, ROBUST_NEIGHBOURS, ROBUST_STEPS, encoder_rule, robust_code,
    robust_density_ratio, robust_encoder_rule, robust_tails_weight,
};
pub use validate::{MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LAYERS, MAX_WIDTH, ThresholdRate, ValidConfig};

/// Which training scheme runs after the AAE (SPEC: baselines and ablations are switches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The full method: alarm, generator and critic.
    Da3d,
    /// A³ with noise only: the alarm sees normal rows and trivial anomalies.
    A3Noise,
    /// Ablation: anomalies `dec(n)`, `n ~ N(0, σ²)` from a fixed pool, in place of the generator.
    SimpleGenerator,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Da3d => "da3d",
            Method::A3Noise => "a3-noise",
            Method::SimpleGenerator => "simple-generator",
        }
    }
}

/// The Lipschitz device applied to both critics (latent discriminator and DA³D critic).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Lipschitz {
    None,
    /// Clamp every critic weight to `[-c, c]` after each step (WGAN).
    WeightClip(f32),
    /// Clip each parameter's gradient to this L2 norm before the step.
    GradNormClip(f32),
    /// Divide each critic weight matrix by max(1, its Frobenius norm) in every forward pass:
    /// each layer's spectral norm is then at most 1 (no second derivatives needed).
    FrobeniusBound,
    /// Divide each critic weight matrix by its spectral norm (power iteration) in every forward
    /// pass: spectral normalisation (Miyato et al. 2018).
    SpectralNorm,
}

/// How objective 1 reads the alarm: `mean(sigmoid(f_alarm(h~)))` (SPEC) or the raw logit
/// `mean(f_alarm(h~))` (the preprint's Wasserstein form, which does not saturate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmObjective {
    Probability,
    Logit,
}

/// Named presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The preprint (appendix A, §4).
    Paper,
    /// The authors' published IJCNN 2022 code.
    Reference,
    /// The default: an ensemble of adversarial autoencoders sized by the rows (a step budget, not
    /// an epoch count), scored by their standardised reconstruction error and the distance to the
    /// training rows (docs/results.md); the alarm trains only when asked for.
    #[default]
    Robust,
    /// `robust` on a smaller budget ([`QUICK_STEPS`], [`QUICK_MEMBERS`]): the page's default,
    /// a strong model in tens of seconds.
    Quick,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Reference => "reference",
            Preset::Robust => "robust",
            Preset::Quick => "quick",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "paper" => Ok(Preset::Paper),
            "reference" => Ok(Preset::Reference),
            "robust" => Ok(Preset::Robust),
            "quick" => Ok(Preset::Quick),
            other => Err(Error::config("preset", format!("unknown preset '{other}' (robust, quick, paper, reference)"))),
        }
    }
}

/// Layer sizes and layer behaviour of all networks, independent of the input width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    /// Encoder widths; the last one is the code size. The decoder mirrors them.
    pub encoder: Vec<usize>,
    pub alarm: Vec<usize>,
    pub generator: Vec<usize>,
    pub generator_noise: usize,
    pub critic: Vec<usize>,
    pub critic_output: OutputActivation,
    pub latent_discriminator: Vec<usize>,
    pub latent_discriminator_output: OutputActivation,
    pub activation: Activation,
    pub dropout: f64,
    pub alarm_input: AlarmInput,
}

/// Epochs and batch size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub aae_epochs: usize,
    /// Alarm-only epochs (normal + trivial anomalies) before DA³D; on top of `da3d_epochs`.
    pub pretrain_epochs: usize,
    pub da3d_epochs: usize,
    pub batch_size: usize,
}

/// Adam settings, shared by every network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Optimizer {
    pub learning_rate: f64,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

/// Loss weights and noise distributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Losses {
    /// Critic weights for generated, normal and noise codes.
    pub critic_weights: [f32; 3],
    /// σ of the critic's noise `n_disc ~ N(0, σ² I)`.
    pub critic_noise_std: f32,
    /// Trivial anomalies `n_anom ~ N(mean, std²)` in input space.
    pub trivial_anomaly_mean: f32,
    pub trivial_anomaly_std: f32,
    pub lipschitz: Lipschitz,
    /// Objective 1 of the generator.
    pub alarm_objective: AlarmObjective,
    /// Draw the code-space noise (critic noise, simple-generator pool) around the measured
    /// distribution of the training codes, `mean + std · N(0, σ²)` per dimension, instead of
    /// around N(0, I): the AAE's codes are often far from N(0, I) (SPEC; docs/results.md).
    #[serde(default)]
    pub code_relative_noise: bool,
    /// Simple-generator ablation: σ of the code-space noise and size of the fixed pool.
    pub simple_generator_std: f32,
    pub simple_generator_pool: usize,
}

/// How a model's score is made from its networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scoring {
    /// `sigmoid(f_alarm(acts(enc(x))))`: the paper's score, in [0, 1].
    Alarm,
    /// The alarm's logit plus the log of the AAE's reconstruction error, each standardised by its
    /// mean and standard deviation over the training rows (in training-row standard deviations).
    AlarmAndReconstruction,
    /// The log of the AAE's reconstruction error alone, standardised as in
    /// [`AlarmAndReconstruction`](Scoring::AlarmAndReconstruction); the alarm is not read (`robust`
    /// and `quick` train none: on every table measured it lowered the combined score's ROC AUC,
    /// docs/results.md).
    Reconstruction,
    /// The mean of two standardised views of the AAE's residuals: the log error of
    /// [`Reconstruction`](Scoring::Reconstruction), and the residual tails term (each input's
    /// standardised residual as `−ln` of its upper-tail probability among the training rows,
    /// summed over the inputs, logged, standardised: `detector::tails`). The alarm is not read
    /// (bundle format 4; models of older builds of `robust` and `quick`).
    ReconstructionAndTails,
    /// The residual tails term of [`ReconstructionAndTails`](Scoring::ReconstructionAndTails)
    /// alone, without the log error (`robust` and `quick`; bundle format 5): with the neighbours
    /// term beside it, the log error lowers Mammography's average precision (.46 against .40)
    /// and changes no table's ROC AUC by more than noise (docs/results.md).
    Tails,
    /// The residual tails term of [`Tails`](Scoring::Tails) at the weight
    /// [`Ensemble::tails_weight`] beside the neighbours term (`robust` and `quick`, a quarter on
    /// tables of numbers, up to the whole on one-hot tables: `config::presets::robust_tails_weight`;
    /// bundle format 7): on the suite's tables measured together, distance to the training rows
    /// carries most of the signal and the tails term adds what it misses (Mammography, WBC,
    /// Annthyroid; NSL-KDD and Census, whose one-hot inputs make distances coarse) without costing
    /// the tables of local structure (Letter, Vowels, Landsat) what equal weight cost them
    /// (docs/results.md).
    ScaledTails,
}

/// How the neighbours term reads a row's `k` nearest training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NeighbourDistance {
    /// The distance to the `k`-th nearest (PyOD's kNN; configs and bundles of older builds).
    #[default]
    Kth,
    /// The mean distance to the `k` nearest (`robust` and `quick`; bundle format 7): less
    /// noisy than the `k`-th alone (docs/results.md).
    MeanOfK,
}

impl NeighbourDistance {
    pub fn is_kth(&self) -> bool {
        *self == NeighbourDistance::Kth
    }
}

impl Scoring {
    /// Whether the score is standardised by per-member [`MemberScale`](crate::detector::MemberScale)s
    /// (and so can take the neighbours term).
    pub fn is_standardised(self) -> bool {
        !matches!(self, Scoring::Alarm)
    }

    /// Whether the score reads the alarm.
    pub fn reads_alarm(self) -> bool {
        matches!(self, Scoring::Alarm | Scoring::AlarmAndReconstruction)
    }

    /// Whether the score has the residual tails term.
    pub fn reads_tails(self) -> bool {
        self.tails_weight() > 0.0
    }

    /// The weight of a member's standardised log error in its score.
    pub fn error_weight(self) -> f32 {
        match self {
            Scoring::Alarm | Scoring::Tails | Scoring::ScaledTails => 0.0,
            Scoring::AlarmAndReconstruction | Scoring::Reconstruction => 1.0,
            Scoring::ReconstructionAndTails => 0.5,
        }
    }

    /// The score of a model whose schedule is `schedule`: this one, or, where the schedule trains
    /// an alarm (pretraining or DA³D epochs) that this score does not read (`robust`, `quick`
    /// with `--epochs-pretrain` / `--epochs`), the alarm beside the reconstruction: what is
    /// trained counts. [`ConfigOverrides::build`](crate::pipeline::ConfigOverrides::build) asks it.
    pub fn for_schedule(self, schedule: &Schedule) -> Scoring {
        if !self.reads_alarm() && schedule.pretrain_epochs + schedule.da3d_epochs > 0 { Scoring::AlarmAndReconstruction } else { self }
    }

    /// The weight of a member's standardised residual tails term in its score (`ScaledTails`
    /// scales it further by [`Ensemble::tails_weight`]).
    pub fn tails_weight(self) -> f32 {
        match self {
            Scoring::ReconstructionAndTails => 0.5,
            Scoring::Tails | Scoring::ScaledTails => 1.0,
            _ => 0.0,
        }
    }
}

/// Independently trained members whose scores are averaged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ensemble {
    /// Members (1 = a single model). Member `k` trains with [`member_seed`]`(seed, k)`.
    pub members: usize,
    pub scoring: Scoring,
    /// The neighbours term ([`Neighbours`](crate::detector::Neighbours)): `ln` of the distance
    /// to the `k`-th nearest training row, standardised on the training rows, added to the
    /// standardised score ([`Scoring::is_standardised`]); 0 = none (the paper; older configs).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub neighbours: usize,
    /// How the neighbours term reads the `neighbours` nearest training rows.
    #[serde(default, skip_serializing_if = "NeighbourDistance::is_kth")]
    pub neighbours_distance: NeighbourDistance,
    /// The weight of the members' residual tails term for [`Scoring::ScaledTails`], in (0, 1]
    /// (1 for the other scores).
    #[serde(default = "unit_weight", skip_serializing_if = "is_unit_weight")]
    pub tails_weight: f32,
    /// The weight of the neighbours term's density ratio ([`DensityRatio`](crate::detector::neighbours::DensityRatio):
    /// `ln` of a row's mean distance to its 10 nearest training rows less that of those rows,
    /// standardised), left out where many training rows repeat exactly; 0 = none (`robust` and
    /// `quick`: a quarter on tables of numbers, less with one-hot inputs,
    /// `config::presets::robust_density_ratio`; bundle format 8). Part of the neighbours term:
    /// `neighbours` 0 turns both off.
    #[serde(default, skip_serializing_if = "is_zero_weight")]
    pub density_ratio: f32,
}

fn is_zero_weight(w: &f32) -> bool {
    *w == 0.0
}

fn unit_weight() -> f32 {
    1.0
}

fn is_unit_weight(w: &f32) -> bool {
    *w == 1.0
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for Ensemble {
    /// One model scored by its alarm: the paper.
    fn default() -> Self {
        Ensemble {
            members: 1,
            scoring: Scoring::Alarm,
            neighbours: 0,
            neighbours_distance: NeighbourDistance::Kth,
            tails_weight: 1.0,
            density_ratio: 0.0,
        }
    }
}

/// Most neighbours the neighbours term may count.
pub const MAX_NEIGHBOURS: usize = 100;

/// The largest weight of the density ratio.
pub const MAX_DENSITY_RATIO: f32 = 4.0;

/// Most ensemble members.
pub const MAX_MEMBERS: usize = 64;

/// The seed of ensemble member `k`: the config's seed for member 0 (so one member is the plain
/// model), a SplitMix64 mix of (seed, k) for the others.
pub fn member_seed(seed: u64, k: usize) -> u64 {
    if k == 0 {
        return seed;
    }
    let mut z = seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Everything a training run needs besides the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    pub preset: Preset,
    /// Data-set name used for the architecture tables (`mammography`, `nslkdd`, `census`,
    /// `doh`, `url`), or `None` for the rule by input width.
    pub dataset: Option<String>,
    pub seed: u64,
    pub method: Method,
    pub architecture: Architecture,
    pub schedule: Schedule,
    pub optimizer: Optimizer,
    pub losses: Losses,
    /// Members and scoring (absent in configs of older builds: one model, alarm score).
    #[serde(default)]
    pub ensemble: Ensemble,
}

impl TrainingConfig {
    /// Ensemble member `k` trained alone: seed [`member_seed`]`(seed, k)`, one member. Its
    /// trainer trains exactly the networks member `k` gets inside the whole ensemble's run, so
    /// members can train apart (threads, page workers) and make the same model
    /// ([`Fit::finish_members`](crate::pipeline::Fit::finish_members)).
    pub fn member(&self, k: usize) -> Self {
        let mut c = self.clone();
        c.seed = member_seed(self.seed, k);
        c.ensemble.members = 1;
        c
    }

    /// Code size (last encoder width).
    pub fn code_size(&self) -> usize {
        *self.architecture.encoder.last().expect("validated: encoder is not empty")
    }

    /// The network configs for an input of width `d_input`.
    pub fn networks(&self, d_input: usize) -> NetworksConfig {
        let a = &self.architecture;
        let code = self.code_size();
        let encoder_hidden = a.encoder[..a.encoder.len() - 1].to_vec();
        let decoder_width: usize = encoder_hidden.iter().sum();
        let alarm_in = match a.alarm_input {
            AlarmInput::Decoder => decoder_width,
            AlarmInput::All => 2 * decoder_width,
        };
        let bound = match self.losses.lipschitz {
            Lipschitz::FrobeniusBound => WeightNorm::FrobeniusBound,
            Lipschitz::SpectralNorm => WeightNorm::Spectral,
            _ => WeightNorm::None,
        };
        NetworksConfig::new(
            AaeConfig::new(d_input, encoder_hidden, code, a.activation, a.dropout),
            CriticConfig::new(code, a.latent_discriminator.clone(), a.activation, a.dropout, a.latent_discriminator_output)
                .with_weight_norm(bound),
            AlarmConfig::new(alarm_in, a.alarm.clone(), a.activation, a.dropout),
            GeneratorConfig::new(a.generator_noise, a.generator.clone(), code, a.activation, a.dropout),
            CriticConfig::new(code, a.critic.clone(), a.activation, a.dropout, a.critic_output).with_weight_norm(bound),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_network_widths() {
        let p = TrainingConfig::preset(Preset::Paper, 6, Some("mammography"));
        let n = p.networks(6);
        assert_eq!(n.alarm.d_input, 12 + 10 + 8 + 6 + 3);
        assert_eq!(n.generator.d_code, 2);
        assert_eq!(n.aae.encoder_hidden, vec![12, 10, 8, 6, 3]);
    }
}
