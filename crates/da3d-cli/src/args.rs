//! The command line's value types and the parsers that bound every number it takes.

use clap::ValueEnum;

/// `--preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// The default of `train`: an ensemble of adversarial autoencoders, trained for a step
    /// budget sized by the rows, scored by their residuals' tails and distance to the training
    /// rows
    /// (`--epochs-pretrain`/`--epochs` train the alarm and add it to the score).
    Robust,
    /// `robust` on a smaller budget (3 members, 1,750 steps): the page's default; a strong
    /// model in a fraction of the time.
    Quick,
    /// The preprint's networks, losses and schedule.
    Paper,
    /// The authors' published code.
    Reference,
}

impl From<PresetArg> for da3d::Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::Robust => da3d::Preset::Robust,
            PresetArg::Quick => da3d::Preset::Quick,
            PresetArg::Paper => da3d::Preset::Paper,
            PresetArg::Reference => da3d::Preset::Reference,
        }
    }
}

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Da3d,
    A3Noise,
    SimpleGenerator,
}

impl From<MethodArg> for da3d::Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Da3d => da3d::Method::Da3d,
            MethodArg::A3Noise => da3d::Method::A3Noise,
            MethodArg::SimpleGenerator => da3d::Method::SimpleGenerator,
        }
    }
}

/// `--protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    /// The paper's: a seeded 80/5/15 split of every row, the normal rows of the 80 % train.
    Paper,
    /// The DTE benchmark's: a seeded half of the normal rows train; the other half and every
    /// anomaly test.
    HalfNormal,
}

impl From<ProtocolArg> for da3d::data::Protocol {
    fn from(p: ProtocolArg) -> Self {
        match p {
            ProtocolArg::Paper => da3d::data::Protocol::Paper,
            ProtocolArg::HalfNormal => da3d::data::Protocol::HalfNormal,
        }
    }
}

/// `synth --layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// The project's fixture.
    Plain,
    /// CIRA-CIC-DoHBrw-2020's column layout.
    Doh,
    /// ISCX-URL2016's column layout.
    Url,
}

/// A share of training rows in [0, 0.5].
pub(crate) fn parse_threshold_rate(s: &str) -> Result<da3d::config::ThresholdRate, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    da3d::config::ThresholdRate::new(v).map_err(|_| format!("{v} is outside [0, 0.5]"))
}

/// Seconds a worker may say nothing, 1 to a week.
pub(crate) fn parse_seconds(s: &str) -> Result<u64, String> {
    parse_count(s, 7 * 86_400).map(|n| n as u64)
}

/// A fraction in [0, 0.5).
pub(crate) fn parse_contamination(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..0.5).contains(&v) { Ok(v) } else { Err(format!("{v} is outside [0, 0.5)")) }
}

/// A fraction in [0, 1].
pub(crate) fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(format!("{v} is outside [0, 1]")) }
}

/// An epoch count within the config's limit.
pub(crate) fn parse_epochs(s: &str) -> Result<usize, String> {
    let v: usize = s.parse().map_err(|_| format!("'{s}' is not a whole number"))?;
    if v <= da3d::config::MAX_EPOCHS { Ok(v) } else { Err(format!("{v} is more than {}", da3d::config::MAX_EPOCHS)) }
}

/// A positive count up to `max`.
pub(crate) fn parse_count(s: &str, max: usize) -> Result<usize, String> {
    let v: usize = s.parse().map_err(|_| format!("'{s}' is not a whole number"))?;
    if (1..=max).contains(&v) { Ok(v) } else { Err(format!("{v} is outside [1, {max}]")) }
}

/// Rows per scoring batch.
pub const MAX_BATCH_ROWS: usize = 1_000_000;
/// Rows of a synthetic table.
pub const MAX_SYNTH_ROWS: usize = 100_000_000;
