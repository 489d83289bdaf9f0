//! The model bundle: one file with the config, the weights (burn record bytes), the
//! preprocessing, the threshold and metadata. `frame` lays out the bytes, `codec` writes and reads
//! the header's large parts within bounds.
//!
//! Format 1 holds one model (the weights are one `Networks` record); format 2 an ensemble (the
//! weights are a `Vec<Networks>` record, one entry per member); format 3 a model with the
//! neighbours term (its reference rows in the header; the weights a `Vec<Networks>` record, one
//! or more members), which older builds must refuse rather than score without it; format 4 a model
//! whose score has the residual tails term (`Scoring::ReconstructionAndTails`: its grids in the
//! score scales; the weights as in format 3, with or without the neighbours term); format 5 a
//! model with the neighbours term, its reference rows as base64 of little-endian f32 (a third of
//! the JSON numbers' size), or whose score is the tails term alone (`Scoring::Tails`), which
//! format-4 builds do not know; format 6 a model whose score reads the autoencoders alone and
//! whose schedule trains no alarm (`robust`, `quick`): the weights are a `Vec<Aae>` record, the
//! members' encoders and decoders, without the latent discriminators, alarms, generators and
//! critics that training left untrained or that no score reads (NSL-KDD's `robust` bundle 6.1 MB
//! instead of 37.8); loading puts freshly initialised ones beside them; format 7 a model whose
//! score weighs the tails term below one or reads the mean distance to the `k` nearest rows.
//! A one-member model with
//! none of these is always written as format 1, so older builds read it.
//!
//! A bundle is a file people pass around: loading checks every length before it allocates, and
//! every number before it is used (finite weights, scales, threshold and reference rows; widths,
//! layers and counts within the format's limits and consistent with the stored config: `validate`).

pub(crate) mod codec;
pub(crate) mod frame;
mod validate;
#[cfg(test)]
mod tests;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::{Scoring, ThresholdRate, TrainingConfig, ValidConfig};
use crate::data::{Matrix, Preprocessor, ReadOptions, RowEncoder};
use crate::detector::{CodeStats, Detector, MemberScale, Neighbours};
use crate::error::{Error, Result};
use crate::model::{Aae, Networks, NetworksConfig};
use crate::tensors::{read, wait};

pub(crate) use frame::fnv1a;
pub use frame::MAGIC;

/// The newest format this build reads and writes (2: ensembles, 3: the neighbours term, 4: the
/// residual tails term, 5: reference rows as bytes, the tails term alone, 6: the autoencoders
/// alone, 7: the tails term's weight and the mean distance to the nearest rows, 8: the
/// neighbours term's density ratio).
pub const FORMAT_VERSION: u32 = 8;

/// Whether a model of `config` needs its members' autoencoders alone: its score reads no alarm
/// and its schedule trains none (so no generator or critic either; the latent discriminator only
/// shapes the codes during training). Such models are written as format 6.
pub fn reads_autoencoders_alone(config: &TrainingConfig) -> bool {
    let s = &config.schedule;
    !config.ensemble.scoring.reads_alarm() && s.pretrain_epochs == 0 && s.da3d_epochs == 0
}

/// The oldest format that holds a score with the residual tails term (`None`: a score without it).
fn tails_format(scoring: Scoring) -> Option<u32> {
    match scoring {
        Scoring::ReconstructionAndTails => Some(4),
        Scoring::Tails => Some(5),
        Scoring::ScaledTails => Some(7),
        _ => None,
    }
}

/// The first format that holds what `config` asks beyond format 6's: the tails term at a
/// quarter weight, the mean distance to the `k` nearest.
fn needs_format_7(config: &TrainingConfig) -> bool {
    config.ensemble.scoring == Scoring::ScaledTails || !config.ensemble.neighbours_distance.is_kth()
}

/// Whether `config` asks for the neighbours term's density ratio (format 8: format 7's layout
/// with the ratio in the header).
fn needs_format_8(config: &TrainingConfig) -> bool {
    config.ensemble.density_ratio > 0.0
}

/// Whether a bundle of format `version` stores the members' autoencoders alone: format 6 always,
/// format 7 when its config reads them alone.
fn autoencoders_alone(version: u32, config: &TrainingConfig) -> bool {
    version == 6 || (version >= 7 && reads_autoencoders_alone(config))
}

/// Everything in a bundle but the weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleHeader {
    pub crate_version: String,
    pub config: TrainingConfig,
    pub networks: NetworksConfig,
    pub preprocessor: Preprocessor,
    /// Score above which a row is flagged anomalous.
    pub threshold: f32,
    /// Fraction of training rows above the threshold.
    pub threshold_rate: f64,
    /// (q, score) quantiles of the training scores.
    pub train_score_quantiles: Vec<(f64, f32)>,
    /// The backend the model was trained on.
    pub backend: String,
    pub training_rows: usize,
    /// Test metrics measured at training time, if any (bundles of older builds: read when they
    /// fit, else none).
    #[serde(default, deserialize_with = "codec::lenient_metrics")]
    pub metrics: Option<TestMetrics>,
    /// The same held-out rows scored by the members' alarm alone, where the model's score is
    /// more than its alarm (an ensemble that trained DA³D's detector stage): the figures of
    /// DA³D's mechanism beside the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_metrics: Option<TestMetrics>,
    pub code_stats: Option<CodeStats>,
    /// How the training file was read (delimiter, label, label values, missing values): `score`
    /// reads new files the same way. `None` in bundles of older builds.
    #[serde(default)]
    pub read: Option<ReadOptions>,
    /// Per member, the training rows' score moments that a standardised
    /// [`Scoring`](crate::config::Scoring) standardises with (`None` for the alarm score).
    #[serde(default)]
    pub scales: Option<Vec<MemberScale>>,
    /// The neighbours term's reference rows and statistics (when the config's
    /// `ensemble.neighbours` is above 0; format 3).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "codec::neighbours")]
    pub neighbours: Option<Neighbours>,
}

/// Held-out metrics of a model, measured when it was trained (the paper's protocol).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    pub roc_auc: f64,
    pub average_precision: f64,
    pub rows: usize,
    pub anomalies: usize,
}

impl PartialEq for NetworksConfig {
    fn eq(&self, other: &Self) -> bool {
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

/// A trained model: header and the networks of each ensemble member (one for a single model).
#[derive(Debug, Clone)]
pub struct Model {
    pub header: BundleHeader,
    pub members: Vec<Networks>,
}

/// What a finished fit makes a model of: the trained members and what was measured of them on
/// the training rows (and, with the protocol, on the held-out test rows).
pub struct ModelParts<'a> {
    pub config: ValidConfig,
    pub networks: NetworksConfig,
    pub members: Vec<Networks>,
    /// Per member, for a standardised score.
    pub scales: Option<Vec<MemberScale>>,
    pub neighbours: Option<Neighbours>,
    pub preprocessor: Preprocessor,
    /// How the training file was read (kept for scoring).
    pub read: ReadOptions,
    /// The training rows' scores and codes.
    pub train_scores: &'a [f32],
    pub train_codes: &'a Matrix,
    /// The share of training rows to flag.
    pub threshold_rate: ThresholdRate,
    pub backend: String,
    /// The held-out test rows' metrics, when there were labelled test rows.
    pub metrics: Option<TestMetrics>,
    /// Their metrics by the alarm alone ([`BundleHeader::alarm_metrics`]).
    pub alarm_metrics: Option<TestMetrics>,
}

/// Quantiles recorded in a bundle.
pub const QUANTILES: [f64; 7] = [0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0];

impl Model {
    /// The model of `parts`: the threshold flags `threshold_rate` of the training rows; the header
    /// is filled here alone. Checked as a loaded bundle is.
    pub async fn assemble(parts: ModelParts<'_>) -> Result<Self> {
        if parts.train_scores.is_empty() {
            return Err(Error::Data("no training scores".into()));
        }
        let rate = parts.threshold_rate.get();
        let header = BundleHeader {
            crate_version: env!("CARGO_PKG_VERSION").into(),
            config: parts.config.into_inner(),
            networks: parts.networks,
            preprocessor: parts.preprocessor,
            threshold: crate::metrics::threshold_for_rate(parts.train_scores, rate),
            threshold_rate: rate,
            train_score_quantiles: QUANTILES.iter().map(|&q| (q, crate::metrics::quantile(parts.train_scores, q))).collect(),
            backend: parts.backend,
            training_rows: parts.train_codes.rows,
            metrics: parts.metrics,
            alarm_metrics: parts.alarm_metrics,
            code_stats: Some(CodeStats::of(parts.train_codes)),
            read: Some(parts.read),
            scales: parts.scales,
            neighbours: parts.neighbours,
        };
        let model = Model { header, members: parts.members };
        model.check_members()?;
        model.check_numbers().await?;
        Ok(model)
    }

    /// The detector: the members scored as the config's [`Scoring`](crate::config::Scoring) says
    /// (checked when the model was assembled or loaded).
    pub fn detector(&self) -> Detector {
        let h = &self.header;
        Detector::ensemble(&self.members, h.config.architecture.alarm_input, h.config.ensemble.scoring, h.scales.clone().unwrap_or_default())
            .and_then(|d| d.with_neighbours(h.neighbours.clone()))
            .map(|d| d.with_tails_weight(h.config.ensemble.tails_weight))
            .expect("members, scales and neighbours checked when the model was made")
    }

    /// An encoder for the records of a file with these `headers`, by the training file's reading
    /// rules: its label column (when the file has one) and its treatment of non-finite values.
    pub fn row_encoder(&self, headers: &[String]) -> Result<RowEncoder> {
        let read = self.header.read.clone().unwrap_or_default();
        let label = self.header.preprocessor.label.clone().or(read.label).unwrap_or_else(|| "label".into());
        self.header.preprocessor.row_encoder(headers, Some(&label), read.non_finite_as_missing)
    }

    /// Serialise to bundle bytes (reads the weights back: a blocking read on GPU backends).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.header).map_err(|e| Error::Bundle(e.to_string()))?;
        let serialise = |e: String| Error::Bundle(format!("cannot serialise weights: {e}"));
        let tails = tails_format(self.header.config.ensemble.scoring);
        // burn draws a random id per parameter: the bundle numbers them instead, so that one
        // training (resumed from a checkpoint or not) writes one file, byte for byte.
        let members: Vec<Networks> = self.members.iter().enumerate().map(|(k, m)| numbered(m.clone(), k)).collect();
        let newest = needs_format_7(&self.header.config) || needs_format_8(&self.header.config);
        let newest_version = if needs_format_8(&self.header.config) { 8 } else { 7 };
        let (version, weights) = match (members.as_slice(), &self.header.neighbours) {
            (members, _) if reads_autoencoders_alone(&self.header.config) => {
                let autoencoders: Vec<Aae> = members.iter().map(|m| m.aae.clone()).collect();
                (if newest { newest_version } else { 6 }, autoencoders.into_record().into_bytes().map_err(|e| serialise(e.to_string()))?)
            }
            (members, _) if newest => (newest_version, members.to_vec().into_record().into_bytes().map_err(|e| serialise(e.to_string()))?),
            ([single], None) if tails.is_none() => (1, single.clone().into_record().into_bytes().map_err(|e| serialise(e.to_string()))?),
            (members, neighbours) => {
                let version = if neighbours.is_some() { 5 } else { tails.unwrap_or(2) };
                (version, members.to_vec().into_record().into_bytes().map_err(|e| serialise(e.to_string()))?)
            }
        };
        Ok(frame::frame(version, &header, &weights))
    }

    /// Check that the members fit the config and the header its terms (after assembling or loading).
    fn check_members(&self) -> Result<()> {
        let want = self.header.config.ensemble.members;
        if self.members.len() != want {
            return Err(Error::Bundle(format!("the config has {want} members but the weights hold {}", self.members.len())));
        }
        self.header.check_terms()
    }

    /// Check that every weight is a finite number (one that is not makes every score one, and no
    /// row is ever flagged), and the header's numbers ([`BundleHeader::check_numbers`]).
    async fn check_numbers(&self) -> Result<()> {
        self.header.check_numbers()?;
        for (k, m) in self.members.iter().enumerate() {
            if !all_finite(m).await? {
                return Err(Error::Bundle(format!("ensemble member {}: a weight is not a finite number", k + 1)));
            }
        }
        Ok(())
    }

    /// Read only the header (no weights loaded, no device needed), checked as [`from_bytes`](Self::from_bytes) checks it.
    pub fn read_header(bytes: &[u8]) -> Result<BundleHeader> {
        let (version, header, _) = frame::split(bytes)?;
        let header: BundleHeader = serde_json::from_slice(header).map_err(|e| Error::Bundle(format!("header is not valid: {e}")))?;
        header.check(version)?;
        Ok(header)
    }

    /// Load a bundle onto `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let (version, header_bytes, weights) = frame::split(bytes)?;
        let header: BundleHeader =
            serde_json::from_slice(header_bytes).map_err(|e| Error::Bundle(format!("header is not valid: {e}")))?;
        header.check(version)?;
        let members = header.config.ensemble.members;
        // Refuse before allocating: stored networks bigger than the weights that come with them.
        let alone = autoencoders_alone(version, &header.config);
        let stored = if alone { header.networks.aae_parameter_count() } else { header.networks.parameter_count() };
        let parameters = stored.saturating_mul(members as u64);
        if parameters.saturating_mul(4) > weights.len() as u64 {
            return Err(Error::Bundle(format!(
                "the stored networks have {parameters} parameters but the weights hold only {} bytes",
                weights.len()
            )));
        }
        // Cast to the networks' dtype (f32): a record claiming another dtype (a corrupted byte,
        // found by fuzzing) made burn panic when loaded verbatim.
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(|e| Error::Bundle(format!("weights are not valid: {e}")))?
            .cast_to_module_dtype();
        let misfit = |e: String| Error::Bundle(format!("weights do not fit the stored config: {e}"));
        let members = if version == 1 {
            vec![header.networks.init(device).try_load_record(record).map_err(|e| misfit(e.to_string()))?]
        } else if alone {
            let empty: Vec<Aae> = (0..members).map(|_| header.networks.aae.init(device)).collect();
            let autoencoders = empty.try_load_record(record).map_err(|e| misfit(e.to_string()))?;
            autoencoders.into_iter().map(|aae| header.networks.init_around(aae, device)).collect()
        } else {
            let empty: Vec<Networks> = (0..members).map(|_| header.networks.init(device)).collect();
            empty.try_load_record(record).map_err(|e| misfit(e.to_string()))?
        };
        let model = Model { header, members };
        model.check_members()?;
        wait(model.check_numbers())?;
        Ok(model)
    }
}

/// Parameter ids by position: member `k`'s `i`-th parameter is `k · 2³² + i`.
struct NumberIds {
    member: u64,
    next: u64,
}

impl ModuleMapper for NumberIds {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (_, value, mapper) = param.consume();
        let id = ParamId::from((self.member << 32) | self.next);
        self.next += 1;
        Param::from_mapped_value(id, value, mapper)
    }
}

/// `networks` with the ids of [`NumberIds`] as member `member`.
fn numbered(networks: Networks, member: usize) -> Networks {
    networks.map(&mut NumberIds { member: member as u64, next: 0 })
}

/// Every parameter of `networks`, flattened.
struct Parameters(Vec<Tensor<1>>);

impl ModuleVisitor for Parameters {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n: usize = t.dims().iter().product();
        self.0.push(t.reshape([n]));
    }
}

/// Whether every weight of `networks` is a finite number (one read-back per tensor).
async fn all_finite(networks: &Networks) -> Result<bool> {
    let mut parameters = Parameters(Vec::new());
    networks.visit(&mut parameters);
    for t in parameters.0 {
        if !read(t).await?.iter().all(|v| v.is_finite()) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One member's weights as record bytes, to move a member trained elsewhere (another page
/// worker, a worker process) into a model. Reads the weights back: give CPU networks (on WebGPU,
/// copy them with [`networks_to_device`](crate::detector::networks_to_device) first).
pub fn member_to_bytes(networks: &Networks) -> Result<Vec<u8>> {
    networks
        .clone()
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| Error::Bundle(format!("cannot serialise weights: {e}")))
}

/// The inverse of [`member_to_bytes`]: networks of `config` on `device`.
pub fn member_from_bytes(bytes: &[u8], config: &NetworksConfig, device: &Device) -> Result<Networks> {
    if (bytes.len() as u64) < config.parameter_count().saturating_mul(4) {
        return Err(Error::Bundle(format!(
            "member weights of {} bytes are too few for {} parameters",
            bytes.len(),
            config.parameter_count()
        )));
    }
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| Error::Bundle(format!("member weights are not valid: {e}")))?
        .cast_to_module_dtype();
    config
        .init(device)
        .try_load_record(record)
        .map_err(|e| Error::Bundle(format!("member weights do not fit the config: {e}")))
}
