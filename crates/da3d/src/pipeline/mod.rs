//! The fit pipeline, written once for every front end (the CLI's `train`, `eval` and `bench`,
//! the page): what a user asks for and a read table become the training data and a checked
//! config; a trainer the caller steps; a finished trainer becomes a model (bundle).
//!
//! ```text
//! Table + ReadOptions ─┐
//! FitRequest ──────────┴─prepare─▶ (FitData, FitConfig) ──Fit::start──▶ Fit
//!   ▶ step fit.trainer() (CLI: run_blocking or worker processes; page: step_batch + finish_epoch)
//!   ▶ Fit::finish / finish_members ▶ FitOutcome { model (bundle), scores, codes }
//! ```

mod fit;

use serde::{Deserialize, Serialize};

use crate::bundle::TestMetrics;
use crate::config::{DataShape, Method, Preset, ThresholdRate, TrainingConfig, ValidConfig};
use crate::data::{self, LabelledSet, Matrix, Preprocessor, Table};
use crate::error::{Error, Result};
use crate::metrics;

pub use fit::{Evaluation, Fit, FitOutcome, HeldOut};

/// Where a training config comes from: a preset for the data's width, then a JSON object of
/// overrides (any field, nested as the config), then single values (the CLI's flags, the page's
/// fields).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigOverrides {
    pub preset: Preset,
    /// Overrides of any field (`{"schedule": {"da3d_epochs": 100}}`), e.g. a `--config` file.
    pub json: Option<serde_json::Value>,
    /// Where `json` came from (a file name), named in its errors.
    pub json_source: Option<String>,
    pub seed: Option<u64>,
    pub method: Option<Method>,
    pub aae_epochs: Option<usize>,
    pub pretrain_epochs: Option<usize>,
    pub da3d_epochs: Option<usize>,
    pub batch_size: Option<usize>,
    /// The whole ensemble section (members, score, neighbours), replacing the preset's and the
    /// JSON's; `members` still applies after it.
    pub ensemble: Option<crate::config::Ensemble>,
    /// Ensemble members.
    pub members: Option<usize>,
}

impl ConfigOverrides {
    pub fn new(preset: Preset) -> Self {
        ConfigOverrides { preset, ..Default::default() }
    }

    /// The seed the config will have: the single value, else the JSON's `seed`, else 0. Known
    /// before the data is split (the split uses it).
    pub fn seed(&self) -> Result<u64> {
        if let Some(s) = self.seed {
            return Ok(s);
        }
        match self.json.as_ref().and_then(|j| j.get("seed")) {
            None => Ok(0),
            Some(v) => v.as_u64().ok_or_else(|| self.json_error(Error::config("seed", format!("{v} is not a non-negative integer")))),
        }
    }

    /// An error of the JSON overrides, naming where they came from: a data error (a file the
    /// user wrote), not a usage error.
    fn json_error(&self, e: Error) -> Error {
        match &self.json_source {
            Some(source) => Error::Data(format!("{source}: {e}")),
            None => e,
        }
    }

    /// The config for training data of `shape` (and the named data set's architecture): the
    /// preset, the JSON overrides, the single values, checked once. The score is decided here,
    /// in one visible place: a schedule that trains an alarm scores with it
    /// ([`Scoring::for_schedule`](crate::config::Scoring::for_schedule)).
    pub fn build(&self, shape: DataShape, dataset: Option<&str>) -> Result<ValidConfig> {
        let mut cfg = TrainingConfig::preset_for_data(self.preset, shape, dataset);
        if let Some(json) = &self.json {
            cfg = cfg.with_overrides(json).and_then(|c| c.clone().validated().map(|_| c)).map_err(|e| self.json_error(e))?;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(m) = self.method {
            cfg.method = m;
        }
        if let Some(e) = &self.ensemble {
            cfg.ensemble = e.clone();
        }
        if let Some(k) = self.members {
            cfg.ensemble.members = k;
        }
        let s = &mut cfg.schedule;
        for (slot, value) in [
            (&mut s.aae_epochs, self.aae_epochs),
            (&mut s.pretrain_epochs, self.pretrain_epochs),
            (&mut s.da3d_epochs, self.da3d_epochs),
            (&mut s.batch_size, self.batch_size),
        ] {
            if let Some(v) = value {
                *slot = v;
            }
        }
        let asked = cfg.ensemble.scoring;
        cfg.ensemble.scoring = asked.for_schedule(&cfg.schedule);
        if cfg.ensemble.scoring != asked {
            // The tails term's weight belongs to the score it replaced.
            cfg.ensemble.tails_weight = 1.0;
        }
        cfg.validated()
    }
}

/// What a user asks of a fit besides the table: where the config comes from, the named data set,
/// the contamination of the training rows and the share of them the threshold flags.
#[derive(Debug, Clone, PartialEq)]
pub struct FitRequest {
    pub overrides: ConfigOverrides,
    /// A named data set: its architecture for the `paper` and `reference` presets.
    pub dataset: Option<String>,
    pub contamination: f64,
    /// How labelled rows split into training and held-out rows.
    pub protocol: data::Protocol,
    pub threshold_rate: ThresholdRate,
    /// Train ensemble member `k` alone ([`TrainingConfig::member`]) on the split of the whole
    /// ensemble's seed: members trained apart make the model one run makes.
    pub member: Option<usize>,
}

impl FitRequest {
    pub fn new(overrides: ConfigOverrides) -> Self {
        FitRequest {
            overrides,
            dataset: None,
            contamination: 0.0,
            protocol: data::Protocol::Paper,
            threshold_rate: ThresholdRate::DEFAULT,
            member: None,
        }
    }

    /// The training data of `table` and the checked config for it: the split
    /// by the config's seed, the preset for the training rows' shape, the overrides. Refuses what
    /// cannot train before anything trains.
    pub fn prepare(&self, table: &Table) -> Result<(FitData, FitConfig)> {
        check_contamination(self.contamination)?;
        let data = prepare_fit(table, self.contamination, self.overrides.seed()?, self.protocol)?;
        if data.train.rows < MIN_TRAINING_ROWS {
            return Err(Error::Data(format!(
                "{} training row{}: a model needs at least {MIN_TRAINING_ROWS} (each is measured against the others)",
                data.train.rows,
                if data.train.rows == 1 { "" } else { "s" }
            )));
        }
        let config = self.config(&data)?;
        Ok((data, config))
    }

    /// The checked config for training data `data` (prepared as [`prepare`](Self::prepare) does).
    pub fn config(&self, data: &FitData) -> Result<FitConfig> {
        let mut training = self.overrides.build(data.shape(), self.dataset.as_deref())?;
        if let Some(k) = self.member {
            if k >= training.ensemble.members {
                return Err(Error::config("member", format!("member {k} of an ensemble of {}", training.ensemble.members)));
            }
            training = training.member(k);
        }
        FitConfig::new(training, self.threshold_rate, self.contamination)
    }
}

/// A fit's checked config: the networks' config, the share of training rows above the threshold,
/// the contamination.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    training: ValidConfig,
    threshold_rate: ThresholdRate,
    contamination: f64,
}

/// `contamination` is a share of anomalies in [0, 0.5).
fn check_contamination(contamination: f64) -> Result<()> {
    if (0.0..0.5).contains(&contamination) {
        Ok(())
    } else {
        Err(Error::config("contamination", format!("{contamination} is outside [0, 0.5)")))
    }
}

impl FitConfig {
    /// A fit's config of checked parts (a [`FitRequest`] makes one from what a user asks).
    pub fn new(training: ValidConfig, threshold_rate: ThresholdRate, contamination: f64) -> Result<Self> {
        check_contamination(contamination)?;
        Ok(FitConfig { training, threshold_rate, contamination })
    }

    pub fn training(&self) -> &ValidConfig {
        &self.training
    }

    pub fn threshold_rate(&self) -> ThresholdRate {
        self.threshold_rate
    }

    pub fn contamination(&self) -> f64 {
        self.contamination
    }
}

/// What the training rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitRows {
    /// Labelled with both classes: the paper's protocol (seeded 80/5/15 split, normal rows train).
    Protocol,
    /// The label column holds only normal rows: every row trains, nothing is held out.
    AllNormal,
    /// No label column: every row trains.
    Unlabelled,
}

/// The data of a fit: the fitted preprocessing, the training rows and, with the protocol, the
/// held-out sets.
#[derive(Debug, Clone)]
pub struct FitData {
    pub rows: FitRows,
    pub preprocessor: Preprocessor,
    pub train: Matrix,
    pub train_lines: Vec<u64>,
    pub validation: Option<LabelledSet>,
    pub test: Option<LabelledSet>,
    /// The protocol's summary (`None` when every row trains).
    pub summary: Option<data::PrepareSummary>,
    /// What the user should be told (one sentence each).
    pub notes: Vec<String>,
    /// The delimiter the file was read with (given or sniffed): kept in the bundle.
    pub delimiter: u8,
}

impl FitData {
    /// What the presets read of the training data: inputs, the columns they come from, rows.
    pub fn shape(&self) -> DataShape {
        self.preprocessor.shape(&self.train)
    }

    /// The protocol's split of a file read with `delimiter`.
    pub fn protocol(p: data::Prepared, delimiter: u8) -> Self {
        FitData {
            rows: FitRows::Protocol,
            preprocessor: p.preprocessor,
            train: p.train,
            train_lines: p.train_lines,
            validation: Some(p.validation),
            test: Some(p.test),
            summary: Some(p.summary),
            notes: Vec::new(),
            delimiter,
        }
    }
}

/// Fewest training rows: the neighbours term measures each row against the others.
pub const MIN_TRAINING_ROWS: usize = 2;

/// Prepare a read table for training: `protocol`'s split when the label column has both
/// classes; every row when it has none, or only normal rows (with a note that no test evaluation
/// is possible). `contamination` needs labelled anomalies.
pub fn prepare_fit(table: &Table, contamination: f64, seed: u64, protocol: data::Protocol) -> Result<FitData> {
    let label = table.label.clone().filter(|_| table.labels.is_some());
    let (n, anomalies) = match &table.labels {
        Some(l) => (l.len(), Some(l.iter().filter(|&&v| v == 1).count())),
        None => (table.n_rows(), None),
    };
    let rows = match anomalies {
        Some(a) if a == n => {
            return Err(Error::Data(format!(
                "every row of the label column '{}' is an anomaly (1): training needs normal rows (0)",
                label.unwrap_or_default()
            )));
        }
        Some(0) => FitRows::AllNormal,
        Some(_) => FitRows::Protocol,
        None => FitRows::Unlabelled,
    };
    if rows != FitRows::Protocol && contamination > 0.0 {
        let why = match rows {
            FitRows::AllNormal => "the label column holds no anomalies to mix in",
            _ => "the file has no label column",
        };
        return Err(Error::Data(format!("contamination {contamination} needs labelled anomalies: {why}")));
    }
    let data = if rows == FitRows::Protocol {
        FitData::protocol(data::prepare_with(table, label, contamination, seed, protocol)?, table.report.delimiter)
    } else {
        let (preprocessor, train) = data::prepare_all_rows(table, label.clone())?;
        let note = match rows {
            FitRows::AllNormal => format!(
                "the label column '{}' holds only normal rows (0): all {n} rows train the model; no test \
                 evaluation is possible (it needs anomalies, 1)",
                label.unwrap_or_default()
            ),
            _ => format!("no label column: all {n} rows train the model"),
        };
        FitData {
            rows,
            preprocessor,
            train,
            train_lines: table.lines.clone(),
            validation: None,
            test: None,
            summary: None,
            notes: vec![note],
            delimiter: table.report.delimiter,
        }
    };
    Ok(data)
}

/// ROC AUC and average precision of `scores` against `labels`; `None` unless both classes occur.
pub fn test_metrics(scores: &[f32], labels: &[u8]) -> Option<TestMetrics> {
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    if anomalies == 0 || anomalies == labels.len() {
        return None;
    }
    Some(TestMetrics {
        roc_auc: metrics::roc_auc(scores, labels).ok()?,
        average_precision: metrics::average_precision(scores, labels).ok()?,
        rows: labels.len(),
        anomalies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ReadOptions, read_table_bytes};

    fn table(s: &str) -> Table {
        read_table_bytes(s.as_bytes(), &ReadOptions::default()).unwrap()
    }

    #[test]
    fn all_normal_labels_train_every_row_with_a_note() {
        let t = table("a,b,label\n1,2,0\n2,3,0\n3,4,0\n");
        let d = prepare_fit(&t, 0.0, 0, data::Protocol::Paper).unwrap();
        assert_eq!(d.rows, FitRows::AllNormal);
        assert_eq!(d.train.rows, 3);
        assert!(d.test.is_none());
        assert!(d.notes[0].contains("only normal rows") && d.notes[0].contains("no test evaluation"), "{:?}", d.notes);
        let e = prepare_fit(&t, 0.01, 0, data::Protocol::Paper).unwrap_err().to_string();
        assert!(e.contains("contamination"), "{e}");
        let t = table("a,label\n1,1\n2,1\n");
        assert!(prepare_fit(&t, 0.0, 0, data::Protocol::Paper).unwrap_err().to_string().contains("every row"));
    }

    #[test]
    fn contamination_without_labels_is_refused() {
        let t = table("a,b\n1,2\n2,3\n");
        let e = prepare_fit(&t, 0.05, 0, data::Protocol::Paper).unwrap_err().to_string();
        assert!(e.contains("contamination") && e.contains("no label column"), "{e}");
        assert_eq!(prepare_fit(&t, 0.0, 0, data::Protocol::Paper).unwrap().rows, FitRows::Unlabelled);
    }

    #[test]
    fn one_training_row_is_refused_before_anything_trains() {
        let request = FitRequest::new(ConfigOverrides::new(Preset::Robust));
        let e = request.prepare(&table("a,b\n1,2\n")).unwrap_err().to_string();
        assert!(e.contains("1 training row") && e.contains("at least 2"), "{e}");
    }

    #[test]
    fn json_seed_and_method_survive_unless_given_as_values() {
        let mut o = ConfigOverrides::new(Preset::Paper);
        o.json = Some(serde_json::json!({"seed": 7, "method": "a3-noise"}));
        let c = o.build(DataShape::numeric(4, 100), None).unwrap();
        assert_eq!((c.seed, c.method), (7, Method::A3Noise));
        assert_eq!(o.seed().unwrap(), 7);
        o.seed = Some(3);
        o.method = Some(Method::Da3d);
        let c = o.build(DataShape::numeric(4, 100), None).unwrap();
        assert_eq!((c.seed, c.method), (3, Method::Da3d));
    }

    #[test]
    fn errors_of_a_config_file_name_the_file() {
        let mut o = ConfigOverrides::new(Preset::Paper);
        o.json = Some(serde_json::json!({"schedule": {"batch_size": 0}}));
        o.json_source = Some("cfg.json".into());
        let e = o.build(DataShape::numeric(4, 100), None).unwrap_err();
        assert!(matches!(e, Error::Data(_)) && e.to_string().starts_with("cfg.json: ") && e.to_string().contains("schedule.batch_size"), "{e}");
        // The same value as a flag: a config error (a usage error in the CLI).
        let mut o = ConfigOverrides::new(Preset::Paper);
        o.batch_size = Some(0);
        assert!(matches!(o.build(DataShape::numeric(4, 100), None).unwrap_err(), Error::Config { .. }));
    }

    #[test]
    fn asking_for_alarm_epochs_puts_the_alarm_in_the_score() {
        use crate::config::Scoring;
        let shape = DataShape::numeric(4, 100);
        let mut o = ConfigOverrides::new(Preset::Robust);
        assert_eq!(o.build(shape, None).unwrap().ensemble.scoring, Scoring::ScaledTails);
        o.pretrain_epochs = Some(2);
        assert_eq!(o.build(shape, None).unwrap().ensemble.scoring, Scoring::AlarmAndReconstruction);
    }
}
