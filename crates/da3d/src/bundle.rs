//! The model bundle: one file with the config, the weights (burn record bytes), the
//! preprocessing, the threshold and metadata.
//!
//! Layout (little endian): magic `DA3DMODL` · format version u32 · header length u64 ·
//! header (JSON) · weights length u64 · weights (burnpack) · FNV-1a 64 checksum of all before.
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
//! critics that training left untrained or that no score reads (NSL-KDD's `robust` bundle 37.8 →
//! 6.1 MB); loading puts freshly initialised ones beside them. A one-member model with none of
//! these is always written as format 1, so older builds read it.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use crate::config::{Scoring, TrainingConfig};
use crate::data::{Preprocessor, ReadOptions};
use crate::detector::{CodeStats, Detector, MemberScale, Neighbours};
use crate::error::{Error, Result};
use crate::model::{Aae, Networks, NetworksConfig};

pub const MAGIC: &[u8; 8] = b"DA3DMODL";
/// The newest format this build reads and writes (2: ensembles, 3: the neighbours term, 4: the
/// residual tails term, 5: reference rows as bytes, the tails term alone, 6: the autoencoders
/// alone).
pub const FORMAT_VERSION: u32 = 6;

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
        _ => None,
    }
}
const MIN_LEN: usize = 8 + 4 + 8 + 8 + 8;

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
    #[serde(default, deserialize_with = "lenient_metrics")]
    pub metrics: Option<TestMetrics>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbours: Option<Neighbours>,
}

/// Held-out metrics of a model, measured when it was trained (the paper's protocol).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    #[serde(alias = "test_roc_auc")]
    pub roc_auc: f64,
    #[serde(alias = "test_average_precision")]
    pub average_precision: f64,
    #[serde(alias = "test_rows", default)]
    pub rows: usize,
    #[serde(default)]
    pub anomalies: usize,
}

/// Metrics as stored by any build: today's schema, or the two untyped ones before it (the CLI's
/// `test_roc_auc…`, the page's `roc_auc…` with curves); anything else reads as none.
fn lenient_metrics<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<TestMetrics>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
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

pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

impl Model {
    /// The detector: the members scored as the config's [`Scoring`](crate::config::Scoring) says
    /// (checked when the model was assembled or loaded).
    pub fn detector(&self) -> Detector {
        let h = &self.header;
        Detector::ensemble(&self.members, h.config.architecture.alarm_input, h.config.ensemble.scoring, h.scales.clone().unwrap_or_default())
            .and_then(|d| d.with_neighbours(h.neighbours.clone()))
            .expect("members, scales and neighbours checked when the model was made")
    }

    /// Serialise to bundle bytes (reads the weights back: a blocking read on GPU backends).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.header).map_err(|e| Error::Bundle(e.to_string()))?;
        let serialise = |e: String| Error::Bundle(format!("cannot serialise weights: {e}"));
        let tails = tails_format(self.header.config.ensemble.scoring);
        let (version, weights) = match (self.members.as_slice(), &self.header.neighbours) {
            (members, _) if reads_autoencoders_alone(&self.header.config) => {
                let autoencoders: Vec<Aae> = members.iter().map(|m| m.aae.clone()).collect();
                (6, autoencoders.into_record().into_bytes().map_err(|e| serialise(e.to_string()))?)
            }
            ([single], None) if tails.is_none() => (1, single.clone().into_record().into_bytes().map_err(|e| serialise(e.to_string()))?),
            (members, neighbours) => {
                let version = if neighbours.is_some() { 5 } else { tails.unwrap_or(2) };
                (version, members.to_vec().into_record().into_bytes().map_err(|e| serialise(e.to_string()))?)
            }
        };
        Ok(frame(version, &header, &weights))
    }

    /// Check that the members and score scales fit the config (after assembling or loading).
    fn check_members(&self) -> Result<()> {
        let h = &self.header;
        let want = h.config.ensemble.members;
        if self.members.len() != want {
            return Err(Error::Bundle(format!("the config has {want} members but the weights hold {}", self.members.len())));
        }
        if h.config.ensemble.scoring.is_standardised() {
            let scales = h.scales.as_ref().map_or(0, Vec::len);
            if scales != want {
                return Err(Error::Bundle(format!("{want} members but {scales} score scales")));
            }
            let finite = |p: &(f32, f32)| p.0.is_finite() && p.1.is_finite() && p.1 > 0.0;
            let d = h.networks.aae.d_input;
            for s in h.scales.iter().flatten() {
                if s.residual.len() != d {
                    return Err(Error::Bundle(format!("a score scale has {} residual moments for {d} inputs", s.residual.len())));
                }
                if !finite(&s.logit) || !finite(&s.log_error) || !s.residual.iter().all(finite) {
                    return Err(Error::Bundle("a score scale is not finite and positive".into()));
                }
                match (&s.tails, h.config.ensemble.scoring.reads_tails()) {
                    (Some(t), true) => t.check(d)?,
                    (None, false) => {}
                    (None, true) => return Err(Error::Bundle("the score reads residual tails but a score scale has none".into())),
                    (Some(_), false) => return Err(Error::Bundle("residual tails the score does not read".into())),
                }
            }
        }
        match (h.config.ensemble.neighbours, &h.neighbours) {
            (0, None) => {}
            (0, Some(_)) => return Err(Error::Bundle("a neighbours term the config does not ask for".into())),
            (k, None) => return Err(Error::Bundle(format!("the config adds the {k}-th neighbour's distance but the bundle has no reference rows"))),
            (_, Some(n)) => n.check(h.networks.aae.d_input)?,
        }
        Ok(())
    }

    /// Read only the header (no weights loaded, no device needed).
    pub fn read_header(bytes: &[u8]) -> Result<BundleHeader> {
        let (_, header, _) = split(bytes)?;
        serde_json::from_slice(header).map_err(|e| Error::Bundle(format!("header is not valid: {e}")))
    }

    /// Load a bundle onto `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let (version, header_bytes, weights) = split(bytes)?;
        let header: BundleHeader =
            serde_json::from_slice(header_bytes).map_err(|e| Error::Bundle(format!("header is not valid: {e}")))?;
        header.config.validate().map_err(|e| Error::Bundle(format!("stored config is not valid: {e}")))?;
        // The stored networks must be the ones the stored (validated) config gives: an edited or
        // corrupted `networks` entry (say, dropout 1.2, found by fuzzing) must not reach burn.
        let expected = header.config.networks(header.networks.aae.d_input);
        if serde_json::to_value(&expected).ok() != serde_json::to_value(&header.networks).ok() {
            return Err(Error::Bundle("the stored networks do not match the stored config".into()));
        }
        if header.preprocessor.width() != header.networks.aae.d_input {
            return Err(Error::Bundle(format!(
                "preprocessing gives {} inputs but the networks take {}",
                header.preprocessor.width(),
                header.networks.aae.d_input
            )));
        }
        let members = header.config.ensemble.members;
        if version < 3 && (version == 1) != (members == 1) {
            return Err(Error::Bundle(format!("bundle format {version} cannot hold {members} ensemble members")));
        }
        if (version == 3 && header.neighbours.is_none()) || (version < 3 && header.neighbours.is_some()) {
            return Err(Error::Bundle(format!(
                "bundle format {version} {} a neighbours term",
                if version == 3 { "needs" } else { "cannot hold" }
            )));
        }
        match (version, tails_format(header.config.ensemble.scoring)) {
            (4, None) => return Err(Error::Bundle(format!("bundle format {version} needs a residual tails term"))),
            (5, None) if header.neighbours.is_none() => {
                return Err(Error::Bundle(format!("bundle format {version} needs a neighbours term or a residual tails term")));
            }
            (_, Some(want)) if version < 4 => {
                return Err(Error::Bundle(format!("bundle format {version} cannot hold a residual tails term (format {want} does)")));
            }
            (_, Some(want)) if version < want => {
                let scoring = serde_json::to_value(header.config.ensemble.scoring).ok().and_then(|v| v.as_str().map(String::from));
                return Err(Error::Bundle(format!(
                    "bundle format {version} cannot hold the score `{}` (format {want} does)",
                    scoring.unwrap_or_default()
                )));
            }
            _ => {}
        }
        let autoencoders_alone = reads_autoencoders_alone(&header.config);
        if version == 6 && !autoencoders_alone {
            return Err(Error::Bundle(
                "bundle format 6 holds the autoencoders alone, but the stored config scores with the alarm or trains it".into(),
            ));
        }
        // Refuse before allocating: stored networks bigger than the weights that come with them.
        let stored = if version == 6 { header.networks.aae_parameter_count() } else { header.networks.parameter_count() };
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
        } else if version == 6 {
            let empty: Vec<Aae> = (0..members).map(|_| header.networks.aae.init(device)).collect();
            let autoencoders = empty.try_load_record(record).map_err(|e| misfit(e.to_string()))?;
            autoencoders.into_iter().map(|aae| header.networks.init_around(aae, device)).collect()
        } else {
            let empty: Vec<Networks> = (0..members).map(|_| header.networks.init(device)).collect();
            empty.try_load_record(record).map_err(|e| misfit(e.to_string()))?
        };
        let model = Model { header, members };
        model.check_members()?;
        Ok(model)
    }
}

/// One member's weights as record bytes, to move a member trained elsewhere (another page
/// worker) into a model. Reads the weights back: give CPU networks (on WebGPU, copy them with
/// [`networks_to_device_async`](crate::detector::networks_to_device_async) first).
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

/// The bundle bytes around a serialised header and weights: magic, format version, lengths and
/// the checksum (the inverse of `split`).
fn frame(version: u32, header: &[u8], weights: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MIN_LEN + header.len() + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    out.extend_from_slice(weights);
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Check framing, version and checksum; return (format version, header, weights).
fn split(bytes: &[u8]) -> Result<(u32, &[u8], &[u8])> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        if bytes.len() < 8 && MAGIC.starts_with(bytes) {
            return Err(Error::Bundle(format!("truncated: {} bytes", bytes.len())));
        }
        return Err(Error::Bundle("not a da3d model file (wrong magic number)".into()));
    }
    if bytes.len() < MIN_LEN {
        return Err(Error::Bundle(format!("truncated: {} bytes", bytes.len())));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        return Err(Error::Bundle(format!(
            "made by a newer da3d (bundle format {version}); this build reads format {FORMAT_VERSION}"
        )));
    }
    if version == 0 {
        return Err(Error::Bundle("bundle format 0 is not valid".into()));
    }
    // Lengths come from the file: arithmetic on them is checked (a length near usize::MAX overflowed).
    let truncated = |need: Option<usize>| match need {
        Some(n) => Error::Bundle(format!("truncated: expected {n} bytes, found {}", bytes.len())),
        None => Error::Bundle("corrupted: a stored length is impossibly large".into()),
    };
    let header_len = usize::try_from(read_u64(bytes, 12)).unwrap_or(usize::MAX);
    let weights_at = 20usize.checked_add(header_len);
    let weights_start = weights_at.and_then(|w| w.checked_add(8));
    let (Some(weights_at), Some(weights_start)) = (weights_at, weights_start) else {
        return Err(truncated(None));
    };
    if weights_start > bytes.len() {
        return Err(Error::Bundle(format!("truncated: header of {header_len} bytes does not fit in {} bytes", bytes.len())));
    }
    let weights_len = usize::try_from(read_u64(bytes, weights_at)).unwrap_or(usize::MAX);
    let end = weights_start.checked_add(weights_len);
    let total = end.and_then(|e| e.checked_add(8));
    let (Some(end), Some(total)) = (end, total) else {
        return Err(truncated(None));
    };
    if total > bytes.len() {
        return Err(truncated(Some(total)));
    }
    if total < bytes.len() {
        return Err(Error::Bundle("corrupted: trailing bytes after the checksum".into()));
    }
    if read_u64(bytes, end) != fnv1a(&bytes[..end]) {
        return Err(Error::Bundle("corrupted: checksum mismatch".into()));
    }
    Ok((version, &bytes[20..weights_at], &bytes[weights_start..end]))
}

/// Quantiles recorded in a bundle.
pub const QUANTILES: [f64; 7] = [0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0];

impl Model {
    /// Assemble a model from trained members (of `config`, whose member count they must match)
    /// and their score scales, given the
    /// training-row scores (read by the caller, sync or async) and the fraction of training rows
    /// to flag.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        config: &TrainingConfig,
        networks: &NetworksConfig,
        members: Vec<Networks>,
        scales: Option<Vec<MemberScale>>,
        neighbours: Option<Neighbours>,
        preprocessor: Preprocessor,
        train_scores: &[f32],
        threshold_rate: f64,
        backend: &str,
        training_rows: usize,
    ) -> Result<Self> {
        if !(0.0..=0.5).contains(&threshold_rate) {
            return Err(Error::config("threshold_rate", format!("{threshold_rate} is outside [0, 0.5]")));
        }
        if train_scores.is_empty() {
            return Err(Error::Data("no training scores".into()));
        }
        let threshold = crate::metrics::threshold_for_rate(train_scores, threshold_rate);
        let header = BundleHeader {
            crate_version: crate::VERSION.into(),
            config: config.clone(),
            networks: networks.clone(),
            preprocessor,
            threshold,
            threshold_rate,
            train_score_quantiles: QUANTILES
                .iter()
                .map(|&q| (q, crate::metrics::quantile(train_scores, q)))
                .collect(),
            backend: backend.into(),
            training_rows,
            metrics: None,
            code_stats: None,
            read: None,
            scales,
            neighbours,
        };
        let model = Model { header, members };
        model.check_members()?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;
    use serde_json::Value;

    use super::*;

    /// A small real bundle (the fuzzers' seed), with its header replaced by `edit(header)` and a
    /// correct checksum.
    fn edited(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let bytes: &[u8] = include_bytes!("../fuzz/regression/bundle_loader/valid-tiny.da3d");
        let (version, header, weights) = split(bytes).expect("the seed bundle is valid");
        let mut header: Value = serde_json::from_slice(header).unwrap();
        edit(&mut header);
        frame(version, &serde_json::to_vec(&header).unwrap(), weights)
    }

    fn load_error(bytes: &[u8]) -> String {
        Model::from_bytes(bytes, &Device::flex()).err().expect("refused").to_string()
    }

    #[test]
    fn the_seed_bundle_loads_unchanged() {
        assert!(Model::from_bytes(&edited(|_| {}), &Device::flex()).is_ok());
    }

    #[test]
    fn huge_stored_networks_are_refused_before_allocating() {
        // Consistent config and networks, two alarm layers of 60,000 units (within the width
        // limit): 14 GB of weights that are not there.
        let bytes = edited(|h| {
            h["config"]["architecture"]["alarm"] = serde_json::json!([60_000, 60_000]);
            h["networks"]["alarm"]["hidden"] = serde_json::json!([60_000, 60_000]);
        });
        let e = load_error(&bytes);
        assert!(e.contains("parameters but the weights hold only"), "{e}");
    }

    #[test]
    fn member_counts_and_score_scales_must_fit_the_format() {
        // A format-1 bundle claiming an ensemble.
        let bytes = edited(|h| h["config"]["ensemble"] = serde_json::json!({"members": 2, "scoring": "alarm"}));
        assert!(load_error(&bytes).contains("bundle format 1 cannot hold 2 ensemble members"), "{}", load_error(&bytes));
        // The combined score without its scales.
        let bytes = edited(|h| h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "alarm-and-reconstruction"}));
        assert!(load_error(&bytes).contains("1 members but 0 score scales"), "{}", load_error(&bytes));
        // Scales of the wrong width, or not finite.
        let scale = |residual: serde_json::Value| serde_json::json!([{"residual": residual, "logit": [0.0, 1.0], "log_error": [0.0, 1.0]}]);
        let bytes = edited(|h| {
            h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "alarm-and-reconstruction"});
            h["scales"] = scale(serde_json::json!([[0.0, 1.0]]));
        });
        assert!(load_error(&bytes).contains("residual moments for"), "{}", load_error(&bytes));
        let d = Model::read_header(&edited(|_| {})).unwrap().networks.aae.d_input;
        let bytes = edited(|h| {
            h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "alarm-and-reconstruction"});
            let mut residual = vec![serde_json::json!([0.0, 1.0]); d];
            residual[0] = serde_json::json!([0.0, -1.0]);
            h["scales"] = scale(serde_json::json!(residual));
        });
        assert!(load_error(&bytes).contains("not finite and positive"), "{}", load_error(&bytes));
    }

    #[test]
    fn a_residual_tails_score_needs_format_4() {
        let d = Model::read_header(&edited(|_| {})).unwrap().networks.aae.d_input;
        let tails_scored = |h: &mut Value| {
            h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "reconstruction-and-tails"});
            h["config"]["schedule"]["pretrain_epochs"] = serde_json::json!(0);
            h["config"]["schedule"]["da3d_epochs"] = serde_json::json!(0);
            h["scales"] = serde_json::json!([{"residual": vec![[0.0, 1.0]; d], "logit": [0.0, 1.0], "log_error": [0.0, 1.0]}]);
        };
        // Older formats cannot hold it (an older build would not know the score) ...
        let e = load_error(&edited(tails_scored));
        assert!(e.contains("bundle format 1 cannot hold a residual tails term"), "{e}");
        // ... formats 4 and 5 are only for it (5 or for a neighbours term) ...
        let bytes: &[u8] = include_bytes!("../fuzz/regression/bundle_loader/valid-tiny.da3d");
        let (_, header, weights) = split(bytes).unwrap();
        let e = load_error(&frame(4, header, weights));
        assert!(e.contains("bundle format 4 needs a residual tails term"), "{e}");
        let e = load_error(&frame(5, header, weights));
        assert!(e.contains("bundle format 5 needs a neighbours term or a residual tails term"), "{e}");
        // ... and the tails term alone needs format 5 (a format-4 build does not know it).
        let tails_alone = |h: &mut Value| {
            tails_scored(h);
            h["config"]["ensemble"]["scoring"] = serde_json::json!("tails");
        };
        let e = load_error(&edited(tails_alone));
        assert!(e.contains("bundle format 1 cannot hold a residual tails term (format 5 does)"), "{e}");
        let alone = edited(tails_alone);
        let (_, header, weights) = split(&alone).unwrap();
        let e = load_error(&frame(4, header, weights));
        assert!(e.contains("bundle format 4 cannot hold the score `tails` (format 5 does)"), "{e}");
    }

    #[test]
    fn a_model_that_reads_its_autoencoders_alone_stores_them_alone_as_format_6() {
        use crate::detector::ScoreKind;
        let seed = Model::from_bytes(&edited(|_| {}), &Device::flex()).unwrap();
        let d = seed.header.networks.aae.d_input;
        // The seed model, scored by its reconstruction alone and trained without an alarm.
        let mut model = seed.clone();
        model.header.config.ensemble.scoring = Scoring::Reconstruction;
        model.header.config.schedule.pretrain_epochs = 0;
        model.header.config.schedule.da3d_epochs = 0;
        model.header.scales = Some(vec![MemberScale { residual: vec![(0.0, 1.0); d], logit: (0.0, 1.0), log_error: (0.0, 1.0), tails: None }]);
        assert!(reads_autoencoders_alone(&model.header.config) && !reads_autoencoders_alone(&seed.header.config));
        let bytes = model.to_bytes().unwrap();
        assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 6);
        let (_, _, weights) = split(&bytes).unwrap();
        let seed_bytes = seed.to_bytes().unwrap();
        let (_, _, full) = split(&seed_bytes).unwrap();
        let aae = model.header.networks.aae_parameter_count() as usize;
        assert!(weights.len() >= 4 * aae && weights.len() < full.len(), "{} bytes of weights for {aae} parameters", weights.len());
        // It loads to the same autoencoder: the same scores.
        let loaded = Model::from_bytes(&bytes, &Device::flex()).unwrap();
        let rows = crate::data::Matrix::new(3, d, (0..3 * d).map(|i| (i % 7) as f32 / 7.0).collect());
        for kind in [ScoreKind::Model, ScoreKind::Reconstruction] {
            assert_eq!(loaded.detector().score(&rows, kind).unwrap(), model.detector().score(&rows, kind).unwrap());
        }
        assert_eq!(loaded.to_bytes().unwrap(), bytes, "written again byte for byte");
        // A format-6 file whose config scores with the alarm (or trains it) is refused: the
        // alarm it needs is not there.
        let (_, header, weights) = split(&bytes).unwrap();
        let mut h: Value = serde_json::from_slice(header).unwrap();
        h["config"]["schedule"]["da3d_epochs"] = serde_json::json!(3);
        let e = load_error(&frame(6, &serde_json::to_vec(&h).unwrap(), weights));
        assert!(e.contains("bundle format 6 holds the autoencoders alone"), "{e}");
        // Weights too few for the autoencoders are refused before allocating.
        let e = load_error(&frame(6, header, &weights[..4 * aae - 1]));
        assert!(e.contains(&format!("the stored networks have {aae} parameters but the weights hold only")), "{e}");
    }

    #[test]
    fn a_neighbours_term_needs_format_3_reference_rows_of_the_input_width_and_its_config() {
        let d = Model::read_header(&edited(|_| {})).unwrap().networks.aae.d_input;
        let scales = serde_json::json!([{"residual": vec![[0.0, 1.0]; d], "logit": [0.0, 1.0], "log_error": [0.0, 1.0]}]);
        let combined = |h: &mut Value, k: usize| {
            h["config"]["ensemble"] = serde_json::json!({"members": 1, "scoring": "alarm-and-reconstruction", "neighbours": k});
            h["scales"] = scales.clone();
        };
        let neighbours = |width: usize, values: Vec<f32>, std: f32| serde_json::json!({"k": 1, "width": width, "reference": values, "log_distance": [0.0, std]});
        // A format-1 file (older builds' layout) may not carry the term, nor a config asking for it
        // come without its rows.
        let bytes = edited(|h| {
            combined(h, 1);
            h["neighbours"] = neighbours(d, vec![0.0; 2 * d], 1.0);
        });
        assert!(load_error(&bytes).contains("bundle format 1 cannot hold a neighbours term"), "{}", load_error(&bytes));
        let reframed = |bytes: Vec<u8>| {
            // The seed bundle's one member, as the `Vec<Networks>` record formats 2 and 3 hold.
            let (_, header, _) = split(&bytes).unwrap();
            let single: Networks = Model::from_bytes(&edited(|_| {}), &Device::flex()).unwrap().members.remove(0);
            frame(3, header, &vec![single].into_record().into_bytes().unwrap())
        };
        let ok = reframed(edited(|h| {
            combined(h, 1);
            h["neighbours"] = neighbours(d, vec![0.0; 2 * d], 1.0);
        }));
        let model = Model::from_bytes(&ok, &Device::flex()).expect("a consistent format-3 bundle loads");
        // This build writes it as format 5, the reference rows as base64 of their bytes.
        let again = model.to_bytes().unwrap();
        assert_eq!(again[8..12], 5u32.to_le_bytes());
        let header: Value = serde_json::from_slice(split(&again).unwrap().1).unwrap();
        assert!(header["neighbours"]["reference"].is_string(), "{}", header["neighbours"]);
        assert_eq!(Model::from_bytes(&again, &Device::flex()).unwrap().header, model.header);
        let e = load_error(&reframed(edited(|h| combined(h, 1))));
        assert!(e.contains("bundle format 3 needs a neighbours term"), "{e}");
        let e = load_error(&reframed(edited(|h| {
            combined(h, 1);
            h["neighbours"] = neighbours(d + 1, vec![0.0; 2 * (d + 1)], 1.0);
        })));
        assert!(e.contains("the networks take"), "{e}");
        let e = load_error(&reframed(edited(|h| {
            combined(h, 1);
            h["neighbours"] = neighbours(d, vec![0.0; 2 * d], 0.0);
        })));
        assert!(e.contains("not finite"), "{e}");
        let e = load_error(&reframed(edited(|h| {
            combined(h, 0);
            h["neighbours"] = neighbours(d, vec![0.0; 2 * d], 1.0);
        })));
        assert!(e.contains("does not ask for"), "{e}");
    }

    #[test]
    fn stored_networks_must_match_the_stored_config() {
        let bytes = edited(|h| h["networks"]["alarm"]["dropout"] = serde_json::json!(1.2));
        assert!(load_error(&bytes).contains("the stored networks do not match the stored config"));
    }
}
