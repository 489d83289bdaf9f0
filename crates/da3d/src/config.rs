//! Configuration: the two presets of SPEC.md (`paper`, `reference`), every field overridable
//! from JSON, and the network configs derived from it for a given input width.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{AaeConfig, Activation, AlarmConfig, CriticConfig, GeneratorConfig, NetworksConfig, OutputActivation, WeightNorm};

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

/// What the alarm network reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmInput {
    /// The decoder's hidden activations (SPEC default).
    Decoder,
    /// Encoder and decoder hidden activations. Generated codes have no encoder pass of their own:
    /// their encoder activations are those of `enc(dec(h~))`.
    All,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The preprint (appendix A, §4).
    Paper,
    /// The authors' published IJCNN 2022 code.
    Reference,
    /// The default: an ensemble of adversarial autoencoders sized by the rows (a step budget, not
    /// an epoch count), scored by their standardised reconstruction error and the distance to the
    /// training rows (docs/results.md); the alarm trains only when asked for.
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
    /// (bundle format 4; `robust` and `quick` in sessions 12–15).
    ReconstructionAndTails,
    /// The residual tails term of [`ReconstructionAndTails`](Scoring::ReconstructionAndTails)
    /// alone, without the log error (`robust` and `quick`; bundle format 5): with the neighbours
    /// term beside it, the log error lowered Mammography's average precision .46 → .40 and
    /// changed no table's ROC AUC by more than noise (docs/results.md, session 16).
    Tails,
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
            Scoring::Alarm | Scoring::Tails => 0.0,
            Scoring::AlarmAndReconstruction | Scoring::Reconstruction => 1.0,
            Scoring::ReconstructionAndTails => 0.5,
        }
    }

    /// The weight of a member's standardised residual tails term in its score.
    pub fn tails_weight(self) -> f32 {
        match self {
            Scoring::ReconstructionAndTails => 0.5,
            Scoring::Tails => 1.0,
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
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for Ensemble {
    /// One model scored by its alarm: the paper.
    fn default() -> Self {
        Ensemble { members: 1, scoring: Scoring::Alarm, neighbours: 0 }
    }
}

/// Most neighbours the neighbours term may count.
pub const MAX_NEIGHBOURS: usize = 100;

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

/// The `robust` preset's training budget in optimiser steps per phase (AAE, detector
/// pretraining, DA³D), turned into epochs by the number of training rows: small tables get as
/// many steps as large ones (an epoch of 300 rows is 2 batches), large ones are not over-trained.
/// No alarm steps: on every table measured the adversarial stage lowered the alarm's AUC after
/// pretraining, and the pretrained alarm lowered the combined score's (docs/results.md, issue
/// 14); `--epochs-pretrain N` / `--epochs N` train it and put it back into the score. 2,625 AAE
/// steps since session 17 (3,500 before): on Mammography the default's score fell as the AAE
/// trained longer; chosen on the ten suite tables at once, one member each, mean ROC AUC .9351 →
/// .9371 (Mammography AP .46 → .49, NSL-KDD unchanged; docs/results.md).
pub const ROBUST_STEPS: [usize; 3] = [2_625, 0, 0];
/// Most epochs per phase the step budget may give (tables of a few rows).
pub const ROBUST_MAX_EPOCHS: usize = 2_000;
/// Members of the `robust` preset.
pub const ROBUST_MEMBERS: usize = 5;
/// The `quick` preset's step budget (as [`ROBUST_STEPS`]): chosen on Mammography for a model
/// within seed noise of `robust` in about a fifth of its time (docs/results.md, issue 16).
pub const QUICK_STEPS: [usize; 3] = [1_750, 0, 0];
/// Members of the `quick` preset.
pub const QUICK_MEMBERS: usize = 3;
/// The neighbour whose distance the `robust` and `quick` scores add (PyOD's kNN default; chosen
/// once, not per table: docs/results.md, issue 14).
pub const ROBUST_NEIGHBOURS: usize = 5;

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

/// Most epochs of one phase.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Largest batch.
pub const MAX_BATCH_SIZE: usize = 1 << 24;
/// Widest layer.
pub const MAX_WIDTH: usize = 1 << 16;

/// Known data-set architectures (SPEC table, paper Table 3).
fn known(dataset: &str) -> Option<&'static str> {
    match dataset.to_ascii_lowercase().as_str() {
        "mammography" | "mammo" => Some("mammography"),
        "nslkdd" | "nsl-kdd" | "kdd" => Some("nslkdd"),
        "census" => Some("census"),
        "doh" => Some("doh"),
        "url" => Some("url"),
        _ => None,
    }
}

/// Encoder widths from the input width: geometric from about 2·d down to a code of max(2, d/10),
/// six layers (paper Table 3 has six for every data set).
pub fn encoder_rule(d: usize) -> Vec<usize> {
    geometric_encoder(d, (d / 10).max(2))
}

/// What a preset reads of the training data: the model's inputs (the one-hot width), the table's
/// columns they come from, and the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataShape {
    pub inputs: usize,
    pub columns: usize,
    pub rows: usize,
}

impl DataShape {
    /// A table of numeric columns only: one input per column.
    pub fn numeric(inputs: usize, rows: usize) -> Self {
        DataShape { inputs, columns: inputs, rows }
    }

    /// The shape of training rows `train` encoded by `preprocessor` (one entry per column).
    pub fn of(train: &crate::data::Matrix, preprocessor: &crate::data::Preprocessor) -> Self {
        DataShape { inputs: train.cols, columns: preprocessor.columns.len(), rows: train.rows }
    }
}

/// The `robust` and `quick` presets' code size: half the inputs, but never more numbers than the
/// table has columns (a one-hot block of many inputs holds one value), at least 2.
pub fn robust_code(shape: DataShape) -> usize {
    (shape.inputs / 2).min(shape.columns).max(2)
}

/// The `robust` and `quick` presets' encoder: [`encoder_rule`]'s six geometric layers from about
/// 2·d, down to [`robust_code`] rather than d/10. The residual scores gain from a code that keeps
/// more of each row (docs/results.md, session 15: NSL-KDD .956 → .960, Satellite .834 → .864,
/// the suite's mean .931 → .935); at 6 inputs (Mammography) the code has 3 numbers, not 2.
pub fn robust_encoder_rule(shape: DataShape) -> Vec<usize> {
    geometric_encoder(shape.inputs, robust_code(shape))
}

/// Six widths, geometric from about 2·d down to `code`.
fn geometric_encoder(d: usize, code: usize) -> Vec<usize> {
    let start = (2 * d).max(4) as f64;
    let code = code as f64;
    let n = 6;
    (0..n)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64;
            (start * (code / start).powf(t)).round().max(code) as usize
        })
        .collect()
}

fn alarm_rule(d: usize) -> Vec<usize> {
    if d < 50 { vec![100, 50, 25, 10] } else { vec![1000, 500, 200, 75] }
}

fn generator_rule(code: usize) -> Vec<usize> {
    vec![code + 15, code + 10, code + 5]
}

impl TrainingConfig {
    /// The preset's configuration for an input of width `d_input`.
    pub fn preset(preset: Preset, d_input: usize, dataset: Option<&str>) -> Self {
        Self::preset_for_rows(preset, d_input, None, dataset)
    }

    /// The preset's configuration for `rows` training rows of width `d_input`, numeric columns
    /// ([`DataShape::numeric`]); `None`: 10,000 rows. See [`preset_for_data`](Self::preset_for_data).
    pub fn preset_for_rows(preset: Preset, d_input: usize, rows: Option<usize>, dataset: Option<&str>) -> Self {
        Self::preset_for_data(preset, DataShape::numeric(d_input, rows.unwrap_or(10_000)), dataset)
    }

    /// The preset's configuration for training data of `shape`: only `robust` and `quick` read
    /// its rows (their step budget) and columns (their code size); the others its inputs.
    pub fn preset_for_data(preset: Preset, shape: DataShape, dataset: Option<&str>) -> Self {
        let d_input = shape.inputs;
        match preset {
            Preset::Robust => return Self::robust(shape, Preset::Robust, ROBUST_STEPS, ROBUST_MEMBERS),
            Preset::Quick => return Self::robust(shape, Preset::Quick, QUICK_STEPS, QUICK_MEMBERS),
            Preset::Paper | Preset::Reference => {}
        }
        let ds = dataset.and_then(known);
        let paper_encoder = match ds {
            Some("mammography") => vec![12, 10, 8, 6, 3, 2],
            Some("nslkdd") => vec![200, 150, 100, 75, 50, 25],
            Some("census") => vec![750, 500, 300, 200, 100, 50],
            Some("doh") => vec![50, 40, 30, 20, 10, 5],
            Some("url") => vec![100, 80, 60, 40, 20, 10],
            _ => encoder_rule(d_input),
        };
        let paper_alarm = match ds {
            Some("mammography") | Some("doh") | Some("url") => vec![100, 50, 25, 10],
            Some("nslkdd") | Some("census") => vec![1000, 500, 200, 75],
            _ => alarm_rule(d_input),
        };
        let paper_generator = match ds {
            Some("mammography") => vec![15, 10, 5],
            Some("nslkdd") => vec![40, 35, 30],
            Some("census") => vec![80, 70, 60],
            Some("doh") => vec![20, 15, 10],
            Some("url") => vec![25, 20, 15],
            _ => generator_rule(*paper_encoder.last().unwrap()),
        };
        let reference_encoder = match ds {
            Some("mammography") => vec![12, 10, 8, 6, 3, 2],
            Some("nslkdd") => vec![150, 100, 70, 40, 25, 10],
            Some("census") => vec![600, 300, 150, 75, 30, 15],
            Some("doh") => vec![50, 40, 30, 20, 10, 2],
            Some("url") => vec![100, 80, 60, 40, 20, 10],
            _ => encoder_rule(d_input),
        };
        let reference_alarm = match ds {
            Some("mammography") => vec![100, 50, 25, 10],
            Some(_) => vec![1000, 500, 200, 75],
            None => alarm_rule(d_input),
        };
        let reference_batch = match ds {
            Some("mammography") | Some("doh") => 128,
            Some("nslkdd") | Some("census") => 512,
            Some("url") => 64,
            _ => 128,
        };
        match preset {
            Preset::Paper => TrainingConfig {
                preset,
                dataset: ds.map(str::to_string),
                seed: 0,
                method: Method::Da3d,
                architecture: Architecture {
                    encoder: paper_encoder,
                    alarm: paper_alarm,
                    generator: paper_generator,
                    generator_noise: 8,
                    critic: vec![50, 40, 30, 20, 10],
                    critic_output: OutputActivation::Linear,
                    latent_discriminator: vec![50, 40, 30, 20, 10],
                    latent_discriminator_output: OutputActivation::Linear,
                    activation: Activation::Selu,
                    dropout: 0.2,
                    alarm_input: AlarmInput::Decoder,
                },
                schedule: Schedule { aae_epochs: 500, pretrain_epochs: 50, da3d_epochs: 500, batch_size: 256 },
                optimizer: Optimizer { learning_rate: 1e-4, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
                losses: Losses {
                    critic_weights: [1.0, 1.0, 2.0],
                    critic_noise_std: 1.5,
                    trivial_anomaly_mean: 0.5,
                    trivial_anomaly_std: 1.0,
                    lipschitz: Lipschitz::SpectralNorm,
                    alarm_objective: AlarmObjective::Probability,
                    code_relative_noise: false,
                    simple_generator_std: 1.5,
                    simple_generator_pool: 100,
                },
                ensemble: Ensemble::default(),
            },
            Preset::Reference => TrainingConfig {
                preset,
                dataset: ds.map(str::to_string),
                seed: 0,
                method: Method::Da3d,
                architecture: Architecture {
                    encoder: reference_encoder,
                    alarm: reference_alarm,
                    generator: vec![50, 40, 30, 20],
                    generator_noise: 8,
                    critic: vec![40, 20, 10, 5],
                    critic_output: OutputActivation::Sigmoid,
                    latent_discriminator: vec![40, 20, 10, 5],
                    latent_discriminator_output: OutputActivation::Sigmoid,
                    activation: Activation::LeakyRelu,
                    dropout: 0.1,
                    alarm_input: AlarmInput::Decoder,
                },
                schedule: Schedule { aae_epochs: 500, pretrain_epochs: 0, da3d_epochs: 500, batch_size: reference_batch },
                optimizer: Optimizer { learning_rate: 1e-4, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 },
                losses: Losses {
                    critic_weights: [2.0, 2.0, 1.0],
                    critic_noise_std: 2.0,
                    trivial_anomaly_mean: 0.5,
                    trivial_anomaly_std: 1.0,
                    lipschitz: Lipschitz::GradNormClip(0.01),
                    alarm_objective: AlarmObjective::Probability,
                    code_relative_noise: false,
                    simple_generator_std: 1.5,
                    simple_generator_pool: 100,
                },
                ensemble: Ensemble::default(),
            },
            Preset::Robust | Preset::Quick => unreachable!("handled above"),
        }
    }

    /// The `robust` preset: the paper's networks and losses with layer widths from the input
    /// width (never a per-data-set table), a step budget ([`ROBUST_STEPS`]) turned into epochs by
    /// `rows`, and [`ROBUST_MEMBERS`] members scored by their residuals' tails
    /// ([`Scoring::Tails`]); `quick`
    /// the same with its own budget.
    fn robust(shape: DataShape, preset: Preset, steps: [usize; 3], members: usize) -> Self {
        let mut c = Self::preset(Preset::Paper, shape.inputs, None);
        c.preset = preset;
        c.architecture.encoder = robust_encoder_rule(shape);
        c.architecture.generator = generator_rule(c.code_size());
        let batches = shape.rows.max(1).div_ceil(c.schedule.batch_size);
        let epochs = |steps: usize| if steps == 0 { 0 } else { steps.div_ceil(batches).clamp(1, ROBUST_MAX_EPOCHS) };
        c.schedule.aae_epochs = epochs(steps[0]);
        c.schedule.pretrain_epochs = epochs(steps[1]);
        c.schedule.da3d_epochs = epochs(steps[2]);
        // The alarm reads the encoder's activations too: with a narrow code, the decoder's
        // activations are a function of a 2-D code only (docs/results.md).
        c.architecture.alarm_input = AlarmInput::All;
        c.ensemble = Ensemble { members, scoring: Scoring::Tails, neighbours: ROBUST_NEIGHBOURS };
        c
    }

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

    /// Apply a JSON object of overrides (nested like the config itself). Unknown fields are errors.
    pub fn with_overrides(&self, overrides: &serde_json::Value) -> Result<Self> {
        let mut base = serde_json::to_value(self).map_err(|e| Error::config("(config)", e.to_string()))?;
        merge(&mut base, overrides, "")?;
        let cfg: TrainingConfig =
            serde_json::from_value(base).map_err(|e| Error::config("(config)", e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check every value; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let a = &self.architecture;
        let nonempty = |name: &str, v: &[usize]| -> Result<()> {
            if v.is_empty() {
                return Err(Error::config(name, "the layer list is empty"));
            }
            if v.contains(&0) {
                return Err(Error::config(name, "a layer has width 0"));
            }
            Ok(())
        };
        nonempty("architecture.encoder", &a.encoder)?;
        nonempty("architecture.alarm", &a.alarm)?;
        nonempty("architecture.generator", &a.generator)?;
        nonempty("architecture.critic", &a.critic)?;
        nonempty("architecture.latent_discriminator", &a.latent_discriminator)?;
        if a.encoder.len() < 2 {
            return Err(Error::config("architecture.encoder", "needs at least one hidden layer and the code layer"));
        }
        if a.generator_noise == 0 {
            return Err(Error::config("architecture.generator_noise", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&a.dropout) {
            return Err(Error::config("architecture.dropout", format!("{} is outside [0, 1)", a.dropout)));
        }
        let s = &self.schedule;
        if s.batch_size == 0 {
            return Err(Error::config("schedule.batch_size", "must be at least 1"));
        }
        if s.batch_size > MAX_BATCH_SIZE {
            return Err(Error::config("schedule.batch_size", format!("{} is more than {MAX_BATCH_SIZE}", s.batch_size)));
        }
        for (name, epochs) in [
            ("schedule.aae_epochs", s.aae_epochs),
            ("schedule.pretrain_epochs", s.pretrain_epochs),
            ("schedule.da3d_epochs", s.da3d_epochs),
        ] {
            if epochs > MAX_EPOCHS {
                return Err(Error::config(name, format!("{epochs} is more than {MAX_EPOCHS}")));
            }
        }
        for (name, widths) in [
            ("architecture.encoder", &a.encoder),
            ("architecture.alarm", &a.alarm),
            ("architecture.generator", &a.generator),
            ("architecture.critic", &a.critic),
            ("architecture.latent_discriminator", &a.latent_discriminator),
        ] {
            if let Some(w) = widths.iter().find(|&&w| w > MAX_WIDTH) {
                return Err(Error::config(name, format!("a layer of width {w} is wider than {MAX_WIDTH}")));
            }
        }
        if a.generator_noise > MAX_WIDTH {
            return Err(Error::config("architecture.generator_noise", format!("{} is more than {MAX_WIDTH}", a.generator_noise)));
        }
        if s.aae_epochs == 0 {
            return Err(Error::config("schedule.aae_epochs", "must be at least 1: the alarm reads a trained AAE"));
        }
        if s.pretrain_epochs + s.da3d_epochs == 0 && self.ensemble.scoring.reads_alarm() {
            return Err(Error::config(
                "schedule.da3d_epochs",
                "pretrain_epochs + da3d_epochs must be at least 1 when the score reads the alarm",
            ));
        }
        let o = &self.optimizer;
        if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) {
            return Err(Error::config("optimizer.learning_rate", format!("{} must be positive", o.learning_rate)));
        }
        if !(0.0..1.0).contains(&o.beta_1) || !(0.0..1.0).contains(&o.beta_2) {
            return Err(Error::config("optimizer.beta_1/beta_2", "must be in [0, 1)"));
        }
        if !(o.epsilon > 0.0) {
            return Err(Error::config("optimizer.epsilon", "must be positive"));
        }
        let l = &self.losses;
        if l.critic_weights.iter().any(|w| !w.is_finite()) {
            return Err(Error::config("losses.critic_weights", "must be finite"));
        }
        for (name, v) in [
            ("losses.critic_noise_std", l.critic_noise_std),
            ("losses.trivial_anomaly_std", l.trivial_anomaly_std),
            ("losses.simple_generator_std", l.simple_generator_std),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::config(name, format!("{v} must be positive")));
            }
        }
        match l.lipschitz {
            Lipschitz::WeightClip(c) | Lipschitz::GradNormClip(c) if !(c.is_finite() && c > 0.0) => {
                return Err(Error::config("losses.lipschitz", format!("{c} must be positive")));
            }
            _ => {}
        }
        if !(1..=MAX_MEMBERS).contains(&self.ensemble.members) {
            return Err(Error::config("ensemble.members", format!("{} is outside 1..={MAX_MEMBERS}", self.ensemble.members)));
        }
        if self.ensemble.neighbours > MAX_NEIGHBOURS {
            return Err(Error::config("ensemble.neighbours", format!("{} is above {MAX_NEIGHBOURS}", self.ensemble.neighbours)));
        }
        if self.ensemble.neighbours > 0 && !self.ensemble.scoring.is_standardised() {
            return Err(Error::config("ensemble.neighbours", "the neighbours term adds to a standardised score, not to the alarm's"));
        }
        if self.method == Method::SimpleGenerator && l.simple_generator_pool == 0 {
            return Err(Error::config("losses.simple_generator_pool", "must be at least 1"));
        }
        Ok(())
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

fn merge(base: &mut serde_json::Value, over: &serde_json::Value, path: &str) -> Result<()> {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match b.get_mut(k) {
                    // Tagged enums (`{"kind": ..}`) are replaced whole; plain structs merge.
                    Some(slot) if slot.is_object() && v.is_object() && slot.get("kind").is_none() => {
                        merge(slot, v, &p)?
                    }
                    Some(slot) => *slot = v.clone(),
                    None => return Err(Error::config(&p, "unknown field")),
                }
            }
            Ok(())
        }
        (_, _) => Err(Error::config(if path.is_empty() { "(config)" } else { path }, "expected a JSON object")),
    }
}

// `Config` is implemented for the network configs; keep the import used in docs.
#[allow(dead_code)]
fn _assert_config<C: Config>() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_pin_spec_values() {
        let p = TrainingConfig::preset(Preset::Paper, 6, Some("mammography"));
        assert_eq!(p.architecture.encoder, vec![12, 10, 8, 6, 3, 2]);
        assert_eq!(p.architecture.alarm, vec![100, 50, 25, 10]);
        assert_eq!(p.architecture.generator, vec![15, 10, 5]);
        assert_eq!(p.schedule.batch_size, 256);
        assert_eq!(p.losses.critic_weights, [1.0, 1.0, 2.0]);
        let r = TrainingConfig::preset(Preset::Reference, 122, Some("nslkdd"));
        assert_eq!(r.architecture.encoder, vec![150, 100, 70, 40, 25, 10]);
        assert_eq!(r.schedule.batch_size, 512);
        assert_eq!(r.architecture.critic_output, OutputActivation::Sigmoid);
        assert_eq!(r.schedule.pretrain_epochs, 0);
        p.validate().unwrap();
        r.validate().unwrap();
    }

    #[test]
    fn derived_network_widths() {
        let p = TrainingConfig::preset(Preset::Paper, 6, Some("mammography"));
        let n = p.networks(6);
        assert_eq!(n.alarm.d_input, 12 + 10 + 8 + 6 + 3);
        assert_eq!(n.generator.d_code, 2);
        assert_eq!(n.aae.encoder_hidden, vec![12, 10, 8, 6, 3]);
    }

    #[test]
    fn robust_sizes_its_schedule_by_rows_and_keeps_paper_untouched() {
        let small = TrainingConfig::preset_for_rows(Preset::Robust, 30, Some(300), Some("mammography"));
        // 300 rows: 2 batches per epoch; the step budget in epochs, capped.
        assert_eq!(small.schedule.aae_epochs, ROBUST_STEPS[0].div_ceil(2));
        assert_eq!((small.schedule.pretrain_epochs, small.schedule.da3d_epochs), (0, 0), "no alarm steps");
        let large = TrainingConfig::preset_for_rows(Preset::Robust, 30, Some(100_000), None);
        assert_eq!(large.schedule.aae_epochs, ROBUST_STEPS[0].div_ceil(391));
        let tiny = TrainingConfig::preset_for_rows(Preset::Robust, 30, Some(1), None);
        assert_eq!(tiny.schedule.aae_epochs, ROBUST_MAX_EPOCHS);
        let huge = TrainingConfig::preset_for_rows(Preset::Robust, 30, Some(100_000_000), None);
        assert_eq!((huge.schedule.aae_epochs, huge.schedule.pretrain_epochs, huge.schedule.da3d_epochs), (1, 0, 0));
        // No per-data-set table: the name changes nothing.
        assert_eq!(small.architecture.encoder, robust_encoder_rule(DataShape::numeric(30, 300)));
        assert_eq!(*small.architecture.encoder.last().unwrap(), 15, "a code of d/2");
        // One-hot inputs: no more code numbers than columns.
        let one_hot = TrainingConfig::preset_for_data(Preset::Robust, DataShape { inputs: 500, columns: 30, rows: 300 }, None);
        assert_eq!(one_hot.code_size(), 30);
        assert_eq!(one_hot.architecture.encoder[0], 1000);
        assert_eq!(robust_code(DataShape::numeric(3, 10)), 2);
        assert_eq!(small.architecture.generator, generator_rule(15));
        assert_eq!(small.dataset, None);
        assert_eq!(small.ensemble, Ensemble { members: ROBUST_MEMBERS, scoring: Scoring::Tails, neighbours: ROBUST_NEIGHBOURS });
        small.validate().unwrap();
        // `quick`: the same networks and scoring on its own budget.
        let quick = TrainingConfig::preset_for_rows(Preset::Quick, 30, Some(300), None);
        assert_eq!(quick.preset, Preset::Quick);
        assert_eq!((quick.schedule.aae_epochs, quick.schedule.pretrain_epochs), (QUICK_STEPS[0] / 2, 0));
        assert_eq!(quick.ensemble, Ensemble { members: QUICK_MEMBERS, scoring: Scoring::Tails, neighbours: ROBUST_NEIGHBOURS });
        assert_eq!((&quick.architecture, &quick.losses), (&small.architecture, &small.losses));
        assert_eq!("quick".parse::<Preset>().unwrap(), Preset::Quick);
        // `paper` ignores the rows and stays one model with the alarm score.
        let paper = TrainingConfig::preset_for_rows(Preset::Paper, 6, Some(300), Some("mammography"));
        assert_eq!(paper, TrainingConfig::preset(Preset::Paper, 6, Some("mammography")));
        assert_eq!(paper.ensemble, Ensemble::default());
        // Configs of older builds (no `ensemble`) read as one model.
        let mut old = serde_json::to_value(&paper).unwrap();
        old.as_object_mut().unwrap().remove("ensemble");
        assert_eq!(serde_json::from_value::<TrainingConfig>(old).unwrap(), paper);
        let e = paper.with_overrides(&serde_json::json!({"ensemble": {"members": 0}})).unwrap_err();
        assert!(e.to_string().contains("ensemble.members"), "{e}");
        assert_eq!(member_seed(7, 0), 7);
        assert_ne!(member_seed(7, 1), member_seed(7, 2));
        assert_ne!(member_seed(7, 1), member_seed(8, 1));
    }

    #[test]
    fn rule_for_unknown_width() {
        let e = encoder_rule(100);
        assert_eq!(e.len(), 6);
        assert_eq!(e[0], 200);
        assert_eq!(*e.last().unwrap(), 10);
        assert!(e.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn overrides_and_validation() {
        let p = TrainingConfig::preset(Preset::Paper, 6, None);
        let o = p
            .with_overrides(&serde_json::json!({"schedule": {"da3d_epochs": 7}, "losses": {"lipschitz": {"kind": "weight-clip", "value": 0.05}}}))
            .unwrap();
        assert_eq!(o.schedule.da3d_epochs, 7);
        assert_eq!(o.schedule.aae_epochs, 500);
        assert_eq!(o.losses.lipschitz, Lipschitz::WeightClip(0.05));
        let e = p.with_overrides(&serde_json::json!({"schedule": {"epochs": 1}})).unwrap_err();
        assert!(e.to_string().contains("schedule.epochs"), "{e}");
        let e = p.with_overrides(&serde_json::json!({"architecture": {"alarm": []}})).unwrap_err();
        assert!(e.to_string().contains("architecture.alarm"), "{e}");
        let e = p.with_overrides(&serde_json::json!({"schedule": {"batch_size": -3}})).unwrap_err();
        assert!(e.to_string().contains("invalid config"), "{e}");
        let json = serde_json::to_string(&p).unwrap();
        let back: TrainingConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
