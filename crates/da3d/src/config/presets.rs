//! The presets: what each fills into a [`TrainingConfig`] for a table of a given shape.
//!
//! `paper` and `reference` take the preprint's and the authors' layer widths for the data sets
//! they name ([`DATASET_WIDTHS`], paper Table 3) and a rule by input width for any other table;
//! `robust` and `quick` never read a table's name: their widths come from the shape alone, and
//! their schedule is a step budget turned into epochs by the rows.

use super::{
    AlarmInput, AlarmObjective, Architecture, DataShape, Ensemble, Lipschitz, Losses, Method, NeighbourDistance, Optimizer, Preset,
    Schedule, Scoring, TrainingConfig,
};
use crate::model::{Activation, OutputActivation};

/// The `robust` preset's training budget in optimiser steps per phase (AAE, detector
/// pretraining, DA³D), turned into epochs by the number of training rows: small tables get as
/// many steps as large ones (an epoch of 300 rows is 2 batches), large ones are not over-trained.
/// No alarm steps: on every table measured the adversarial stage lowered the alarm's AUC after
/// pretraining, and the pretrained alarm lowered the combined score's (docs/results.md);
/// `--epochs-pretrain N` / `--epochs N` train it and put it back into the score. 2,625 AAE steps:
/// on Mammography the default's score falls as the AAE trains longer; chosen on the ten suite
/// tables at once, one member each (docs/results.md).
pub const ROBUST_STEPS: [usize; 3] = [2_625, 0, 0];
/// Most epochs per phase the step budget may give (tables of a few rows).
pub const ROBUST_MAX_EPOCHS: usize = 2_000;
/// Members of the `robust` preset.
pub const ROBUST_MEMBERS: usize = 5;
/// The widest layer of the `robust` and `quick` autoencoders (their first starts at 2·d): the
/// cost of a step grows with the square of the widths, and 1,500 inputs would start at 3,000.
/// Tables of up to 256 inputs are not affected.
pub const ROBUST_MAX_WIDTH: usize = 512;
/// The `robust` and `quick` budget in arithmetic, per member: AAE steps × rows per step ×
/// autoencoder parameters at most this. Fewer steps where the networks are large; the suite's
/// tables of up to 166 inputs never reach it (NSL-KDD: 1.5·10¹¹, Musk: 3.2·10¹¹), Census (503
/// inputs) trains about 60 % of its steps, a table of 1,500 inputs about a fifth
/// (docs/results.md, "Wide tables").
pub const ROBUST_ROW_PARAMETERS: f64 = 4e11;
/// The `quick` preset's step budget (as [`ROBUST_STEPS`]): chosen on Mammography for a model
/// within seed noise of `robust` in about a fifth of its time (docs/results.md).
pub const QUICK_STEPS: [usize; 3] = [1_750, 0, 0];
/// Members of the `quick` preset.
pub const QUICK_MEMBERS: usize = 3;
/// The weight of the residual tails term beside the neighbours term in the `robust` and `quick`
/// scores ([`Scoring::ScaledTails`]): a quarter on a table of numbers, rising with the share of
/// one-hot inputs (`inputs − columns` of the inputs) to the whole where they are half the inputs
/// or more. On one-hot inputs distances are coarse (a row differs from another by whole
/// categories) and the residual tails separate what they tie: NSL-KDD (77 inputs of 41 columns:
/// .95) .953 at a quarter, .962 at .95; on the tables of numbers a quarter is best
/// (docs/results.md). Two decimals.
pub fn robust_tails_weight(shape: DataShape) -> f32 {
    let w = 0.25 + 0.75 * one_hot_share(shape);
    ((w * 100.0).round() / 100.0) as f32
}

/// The weight of the neighbours term's density ratio in the `robust` and `quick` scores: a
/// quarter on a table of numbers, falling with the share of one-hot inputs to none where they are
/// half the inputs or more. A ratio of distances between rows that differ by whole categories
/// measures their ties, not a density: NSL-KDD .962 → .938 with a quarter (docs/results.md).
/// Two decimals.
pub fn robust_density_ratio(shape: DataShape) -> f32 {
    let w = ROBUST_DENSITY_RATIO as f64 * (1.0 - one_hot_share(shape));
    ((w * 100.0).round() / 100.0) as f32
}

/// Twice the share of one-hot inputs (`inputs − columns` of the inputs), at most 1: 0 on a table
/// of numbers, 1 where one-hot inputs are half the inputs or more.
fn one_hot_share(shape: DataShape) -> f64 {
    let one_hot = shape.inputs.saturating_sub(shape.columns) as f64 / shape.inputs.max(1) as f64;
    (2.0 * one_hot).min(1.0)
}

/// The neighbour whose distance the `robust` and `quick` scores add (PyOD's kNN default; chosen
/// once, not per table: docs/results.md).
pub const ROBUST_NEIGHBOURS: usize = 5;
/// `robust`'s and `quick`'s weight of the neighbours term's density ratio on a table of numbers
/// (chosen on the suite's tables together: docs/results.md, "Why each part is there"; less where
/// inputs are one-hot: [`robust_density_ratio`]).
pub const ROBUST_DENSITY_RATIO: f32 = 0.25;

/// The layer widths the preprint (`paper`) and the authors' code (`reference`) give a named data
/// set, and the reference code's batch size.
struct DatasetWidths {
    /// The name and the other names it is known by.
    names: &'static [&'static str],
    paper_encoder: &'static [usize],
    paper_alarm: &'static [usize],
    paper_generator: &'static [usize],
    reference_encoder: &'static [usize],
    reference_alarm: &'static [usize],
    reference_batch: usize,
}

const SMALL_ALARM: &[usize] = &[100, 50, 25, 10];
const LARGE_ALARM: &[usize] = &[1000, 500, 200, 75];

/// Paper Table 3 and the reference code, per named data set (SPEC).
const DATASET_WIDTHS: [DatasetWidths; 5] = [
    DatasetWidths {
        names: &["mammography", "mammo"],
        paper_encoder: &[12, 10, 8, 6, 3, 2],
        paper_alarm: SMALL_ALARM,
        paper_generator: &[15, 10, 5],
        reference_encoder: &[12, 10, 8, 6, 3, 2],
        reference_alarm: SMALL_ALARM,
        reference_batch: 128,
    },
    DatasetWidths {
        names: &["nslkdd", "nsl-kdd", "kdd"],
        paper_encoder: &[200, 150, 100, 75, 50, 25],
        paper_alarm: LARGE_ALARM,
        paper_generator: &[40, 35, 30],
        reference_encoder: &[150, 100, 70, 40, 25, 10],
        reference_alarm: LARGE_ALARM,
        reference_batch: 512,
    },
    DatasetWidths {
        names: &["census"],
        paper_encoder: &[750, 500, 300, 200, 100, 50],
        paper_alarm: LARGE_ALARM,
        paper_generator: &[80, 70, 60],
        reference_encoder: &[600, 300, 150, 75, 30, 15],
        reference_alarm: LARGE_ALARM,
        reference_batch: 512,
    },
    DatasetWidths {
        names: &["doh"],
        paper_encoder: &[50, 40, 30, 20, 10, 5],
        paper_alarm: SMALL_ALARM,
        paper_generator: &[20, 15, 10],
        reference_encoder: &[50, 40, 30, 20, 10, 2],
        reference_alarm: LARGE_ALARM,
        reference_batch: 128,
    },
    DatasetWidths {
        names: &["url"],
        paper_encoder: &[100, 80, 60, 40, 20, 10],
        paper_alarm: SMALL_ALARM,
        paper_generator: &[25, 20, 15],
        reference_encoder: &[100, 80, 60, 40, 20, 10],
        reference_alarm: LARGE_ALARM,
        reference_batch: 64,
    },
];

/// The widths of a named data set (any case), if it is one of [`DATASET_WIDTHS`].
fn known(dataset: &str) -> Option<&'static DatasetWidths> {
    let name = dataset.to_ascii_lowercase();
    DATASET_WIDTHS.iter().find(|w| w.names.contains(&name.as_str()))
}

/// Encoder widths from the input width: geometric from about 2·d down to a code of max(2, d/10),
/// six layers (paper Table 3 has six for every data set).
pub fn encoder_rule(d: usize) -> Vec<usize> {
    geometric_encoder(d, (d / 10).max(2))
}

/// The `robust` and `quick` presets' code size: half the inputs, but never more numbers than the
/// table has columns (a one-hot block of many inputs holds one value), at least 2.
pub fn robust_code(shape: DataShape) -> usize {
    (shape.inputs / 2).min(shape.columns).min(ROBUST_MAX_WIDTH / 2).max(2)
}

/// The `robust` and `quick` presets' encoder: [`encoder_rule`]'s six geometric layers from about
/// 2·d, down to [`robust_code`] rather than d/10: the residual scores gain from a code that keeps
/// more of each row (docs/results.md); at 6 inputs (Mammography) the code has 3 numbers, not 2.
pub fn robust_encoder_rule(shape: DataShape) -> Vec<usize> {
    geometric_encoder(shape.inputs.min(ROBUST_MAX_WIDTH / 2), robust_code(shape))
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
    if d < 50 { SMALL_ALARM.to_vec() } else { LARGE_ALARM.to_vec() }
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
    /// its rows (their step budget) and columns (their code size); the others its inputs, and the
    /// named data set's widths.
    pub fn preset_for_data(preset: Preset, shape: DataShape, dataset: Option<&str>) -> Self {
        match preset {
            Preset::Robust => Self::robust(shape, Preset::Robust, ROBUST_STEPS, ROBUST_MEMBERS),
            Preset::Quick => Self::robust(shape, Preset::Quick, QUICK_STEPS, QUICK_MEMBERS),
            Preset::Paper => Self::paper(shape.inputs, dataset),
            Preset::Reference => Self::reference(shape.inputs, dataset),
        }
    }

    /// The preprint (appendix A, §4): its widths for a named data set, the rules by width else.
    fn paper(d_input: usize, dataset: Option<&str>) -> Self {
        let widths = dataset.and_then(known);
        let encoder = widths.map_or_else(|| encoder_rule(d_input), |w| w.paper_encoder.to_vec());
        let generator = widths.map_or_else(|| generator_rule(*encoder.last().expect("six widths")), |w| w.paper_generator.to_vec());
        TrainingConfig {
            preset: Preset::Paper,
            dataset: widths.map(|w| w.names[0].to_string()),
            seed: 0,
            method: Method::Da3d,
            architecture: Architecture {
                encoder,
                alarm: widths.map_or_else(|| alarm_rule(d_input), |w| w.paper_alarm.to_vec()),
                generator,
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
        }
    }

    /// The authors' published IJCNN 2022 code: its widths for a named data set, the rules by
    /// width else.
    fn reference(d_input: usize, dataset: Option<&str>) -> Self {
        let widths = dataset.and_then(known);
        TrainingConfig {
            preset: Preset::Reference,
            dataset: widths.map(|w| w.names[0].to_string()),
            seed: 0,
            method: Method::Da3d,
            architecture: Architecture {
                encoder: widths.map_or_else(|| encoder_rule(d_input), |w| w.reference_encoder.to_vec()),
                alarm: widths.map_or_else(|| alarm_rule(d_input), |w| w.reference_alarm.to_vec()),
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
            schedule: Schedule {
                aae_epochs: 500,
                pretrain_epochs: 0,
                da3d_epochs: 500,
                batch_size: widths.map_or(128, |w| w.reference_batch),
            },
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
        }
    }

    /// The `robust` preset: the paper's networks and losses with layer widths from the input
    /// width (never a per-data-set table), a step budget ([`ROBUST_STEPS`]) turned into epochs by
    /// `rows`, and [`ROBUST_MEMBERS`] members scored by their residuals' tails
    /// at a quarter beside the mean distance to the 5 nearest training rows
    /// ([`Scoring::ScaledTails`], [`NeighbourDistance::MeanOfK`]); `quick` the same with its own budget.
    fn robust(shape: DataShape, preset: Preset, steps: [usize; 3], members: usize) -> Self {
        let mut c = Self::paper(shape.inputs, None);
        c.preset = preset;
        c.architecture.encoder = robust_encoder_rule(shape);
        c.architecture.generator = generator_rule(c.code_size());
        let batches = shape.rows.max(1).div_ceil(c.schedule.batch_size);
        let epochs = |steps: usize| if steps == 0 { 0 } else { steps.div_ceil(batches).clamp(1, ROBUST_MAX_EPOCHS) };
        // The budget in arithmetic: wide networks take fewer steps.
        let rows_per_step = c.schedule.batch_size.min(shape.rows.max(1)) as f64;
        let parameters = c.networks(shape.inputs).aae_parameter_count() as f64;
        let affordable = (ROBUST_ROW_PARAMETERS / (rows_per_step * parameters)).floor().max(1.0) as usize;
        c.schedule.aae_epochs = epochs(steps[0].min(affordable));
        c.schedule.pretrain_epochs = epochs(steps[1]);
        c.schedule.da3d_epochs = epochs(steps[2]);
        // The alarm reads the encoder's activations too: with a narrow code, the decoder's
        // activations are a function of a 2-D code only (docs/results.md).
        c.architecture.alarm_input = AlarmInput::All;
        c.ensemble = Ensemble {
            members,
            scoring: Scoring::ScaledTails,
            neighbours: ROBUST_NEIGHBOURS,
            neighbours_distance: NeighbourDistance::MeanOfK,
            tails_weight: robust_tails_weight(shape),
            density_ratio: robust_density_ratio(shape),
        };
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::member_seed;

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

    /// Wide tables: no layer wider than [`ROBUST_MAX_WIDTH`], and fewer steps where a step costs
    /// more than the budget allows; the suite's tables (up to 166 inputs, besides Census) keep every step.
    #[test]
    fn robust_bounds_the_cost_of_wide_tables() {
        let cost = |c: &TrainingConfig, inputs: usize, rows: usize| {
            let steps = c.schedule.aae_epochs * rows.div_ceil(c.schedule.batch_size);
            (steps, steps as f64 * c.schedule.batch_size.min(rows) as f64 * c.networks(inputs).aae_parameter_count() as f64)
        };
        for (inputs, columns, rows) in [(6, 6, 8_000), (36, 36, 3_000), (100, 100, 3_800), (122, 41, 60_000), (166, 166, 1_500)] {
            let c = TrainingConfig::preset_for_data(Preset::Robust, DataShape { inputs, columns, rows }, None);
            assert!(cost(&c, inputs, rows).0 >= ROBUST_STEPS[0], "{inputs} inputs keep their steps");
        }
        for (inputs, columns, rows) in [(503, 41, 16_000), (1_500, 1_500, 1_000), (20_000, 20_000, 500)] {
            let c = TrainingConfig::preset_for_data(Preset::Robust, DataShape { inputs, columns, rows }, None);
            assert!(c.architecture.encoder.iter().all(|&w| w <= ROBUST_MAX_WIDTH), "{:?}", c.architecture.encoder);
            let (steps, arithmetic) = cost(&c, inputs, rows);
            assert!(steps < ROBUST_STEPS[0], "{inputs} inputs: {steps} steps");
            // Within an epoch of the budget.
            let epoch = rows.div_ceil(c.schedule.batch_size) as f64 * c.schedule.batch_size.min(rows) as f64;
            assert!(arithmetic <= ROBUST_ROW_PARAMETERS + epoch * c.networks(inputs).aae_parameter_count() as f64, "{inputs}: {arithmetic:e}");
        }
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
        assert_eq!(one_hot.architecture.encoder[0], ROBUST_MAX_WIDTH, "2·d, at most the widest layer");
        assert_eq!(robust_code(DataShape::numeric(3, 10)), 2);
        assert_eq!(small.architecture.generator, generator_rule(15));
        assert_eq!(small.dataset, None);
        assert_eq!(
            small.ensemble,
            Ensemble {
                members: ROBUST_MEMBERS,
                scoring: Scoring::ScaledTails,
                neighbours: ROBUST_NEIGHBOURS,
                neighbours_distance: NeighbourDistance::MeanOfK,
                tails_weight: 0.25,
                density_ratio: ROBUST_DENSITY_RATIO,
            }
        );
        // One-hot inputs raise the tails term's weight: to the whole at half the inputs (the
        // paper's NSL-KDD encoding, 122 inputs of 41 columns; Census), .95 for this NSL-KDD file's 77.
        assert_eq!(robust_tails_weight(DataShape { inputs: 122, columns: 41, rows: 60_000 }), 1.0);
        assert_eq!(robust_tails_weight(DataShape { inputs: 77, columns: 41, rows: 60_000 }), 0.95);
        assert_eq!(robust_tails_weight(DataShape { inputs: 13, columns: 11, rows: 500 }), 0.48);
        // And lower the density ratio's, to none at half the inputs.
        assert_eq!(robust_density_ratio(DataShape { inputs: 122, columns: 41, rows: 60_000 }), 0.0);
        assert_eq!(robust_density_ratio(DataShape { inputs: 77, columns: 41, rows: 60_000 }), 0.02);
        assert_eq!(robust_density_ratio(DataShape { inputs: 13, columns: 11, rows: 500 }), 0.17);
        assert_eq!(robust_density_ratio(DataShape { inputs: 30, columns: 30, rows: 500 }), ROBUST_DENSITY_RATIO);
        small.validate().unwrap();
        // `quick`: the same networks and scoring on its own budget.
        let quick = TrainingConfig::preset_for_rows(Preset::Quick, 30, Some(300), None);
        assert_eq!(quick.preset, Preset::Quick);
        assert_eq!((quick.schedule.aae_epochs, quick.schedule.pretrain_epochs), (QUICK_STEPS[0] / 2, 0));
        assert_eq!(quick.ensemble, Ensemble { members: QUICK_MEMBERS, ..small.ensemble.clone() });
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
        let e = paper.with_overrides(&serde_json::json!({"ensemble": {"members": 0}})).and_then(TrainingConfig::validated).unwrap_err();
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
}
