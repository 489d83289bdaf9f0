//! The command line's shared arguments (how to read a CSV, how to train), its value types, and the
//! parsers that bound every number it takes.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::backend::BackendChoice;
use crate::{state, workers};

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

/// How to read a CSV.
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// Label column (0 = normal, 1 = anomaly) [default: label, or the named data set's].
    #[arg(long)]
    pub label: Option<String>,
    /// Ignore columns whose name starts with PREFIX (repeatable).
    #[arg(long = "ignore", value_name = "PREFIX")]
    pub ignore: Vec<String>,
    /// Leave out column COL, by its exact name (repeatable).
    #[arg(long = "drop", value_name = "COL")]
    pub drop: Vec<String>,
    /// Treat column COL as categorical even if numeric (repeatable; `*` for all).
    #[arg(long = "categorical", value_name = "COL")]
    pub categorical: Vec<String>,
    /// Column whose values (train/validation/test) fix the split.
    #[arg(long, value_name = "COL")]
    pub split_column: Option<String>,
    /// Field delimiter: one character, or `tab` [default: sniffed from the header and the first
    /// rows among , ; tab |].
    #[arg(long, value_name = "CHAR", value_parser = da3d::data::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// How a labelled file splits into training and held-out rows.
    #[arg(long, value_enum, default_value = "paper")]
    pub protocol: ProtocolArg,
    /// Named data set: its reading rules and the paper's architecture
    /// (mammography, nslkdd, census, doh, url). Without a data file, its file is read from
    /// $DA3D_DATA_DIR (default ../shared/datasets).
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,
}

/// Training settings shared by `train`, `eval` and `bench`.
#[derive(Args, Clone, Debug)]
pub struct TrainArgs {
    /// Preset: `robust` (the ensemble; `train`'s default), `paper` (the preprint; `eval`'s and
    /// `bench`'s default) or `reference` (the authors' published code).
    #[arg(long, value_enum)]
    pub preset: Option<PresetArg>,
    /// JSON file overriding any config field (nested like `da3d info` shows it).
    #[arg(long, value_name = "CFG.json")]
    pub config: Option<PathBuf>,
    /// AAE epochs.
    #[arg(long, value_name = "N", value_parser = parse_epochs)]
    pub epochs_aae: Option<usize>,
    /// Detector pretraining epochs (alarm only).
    #[arg(long, value_name = "N", value_parser = parse_epochs)]
    pub epochs_pretrain: Option<usize>,
    /// DA³D epochs.
    #[arg(long, value_name = "N", value_parser = parse_epochs)]
    pub epochs: Option<usize>,
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Ensemble members, 1 to 64 [default: the preset's; robust: 5]: fewer train faster.
    #[arg(long, value_name = "K", value_parser = |s: &str| parse_count(s, da3d::config::MAX_MEMBERS))]
    pub members: Option<usize>,
    /// Threads (CPU backend), 1 to 1024 [default: every core]: ensemble members (and `eval`'s
    /// seeds × contamination levels) train side by side, one worker process each, and the large
    /// matrix products of wide tables split over the threads left. The model does not depend on
    /// it: the same seed gives the same scores with any number.
    #[arg(long, value_name = "N", value_parser = |s: &str| parse_count(s, 1024))]
    pub threads: Option<usize>,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendChoice,
    /// Stop a worker process that reports nothing for this many seconds (an epoch of the longest
    /// schedules takes minutes).
    #[arg(long, value_name = "SECONDS", default_value_t = workers::DEFAULT_SILENCE_SECONDS, value_parser = parse_seconds)]
    pub worker_timeout: u64,
    /// Save the training state in DIR as the run goes (every --state-every seconds, when a
    /// member finishes, and on Ctrl-C or SIGTERM), and go on from it when the same command runs
    /// again: the model is the one an uninterrupted run writes, byte for byte. Removed once the
    /// model (or `eval`'s table) is written. CPU backend.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Seconds between two saves of the training state.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = parse_seconds)]
    pub state_every: u64,
}

impl TrainArgs {
    /// The run's state folder, if one was asked for.
    pub fn state(&self) -> anyhow::Result<Option<state::StateDir>> {
        self.state_dir.as_deref().map(|d| state::StateDir::new(d, std::time::Duration::from_secs(self.state_every))).transpose()
    }
}
