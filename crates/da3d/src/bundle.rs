//! The model bundle: one file with the config, the weights (burn record bytes), the
//! preprocessing, the threshold and metadata.
//!
//! Layout (little endian): magic `DA3DMODL` · format version u32 · header length u64 ·
//! header (JSON) · weights length u64 · weights (burnpack) · FNV-1a 64 checksum of all before.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use crate::config::TrainingConfig;
use crate::data::Preprocessor;
use crate::detector::{CodeStats, Detector};
use crate::error::{Error, Result};
use crate::model::{Networks, NetworksConfig};

pub const MAGIC: &[u8; 8] = b"DA3DMODL";
pub const FORMAT_VERSION: u32 = 1;
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
    /// Test or validation metrics measured at training time, if any.
    pub metrics: Option<serde_json::Value>,
    pub code_stats: Option<CodeStats>,
}

impl PartialEq for NetworksConfig {
    fn eq(&self, other: &Self) -> bool {
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}

/// A trained model: header and networks.
#[derive(Debug, Clone)]
pub struct Model {
    pub header: BundleHeader,
    pub networks: Networks,
}

fn fnv1a(bytes: &[u8]) -> u64 {
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
    pub fn detector(&self) -> Detector {
        Detector::new(&self.networks, self.header.config.architecture.alarm_input)
    }

    /// Serialise to bundle bytes (reads the weights back: a blocking read on GPU backends).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.header).map_err(|e| Error::Bundle(e.to_string()))?;
        let weights = self
            .networks
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::Bundle(format!("cannot serialise weights: {e}")))?;
        let mut out = Vec::with_capacity(MIN_LEN + header.len() + weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
        out.extend_from_slice(&weights);
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        Ok(out)
    }

    /// Read only the header (no weights loaded, no device needed).
    pub fn read_header(bytes: &[u8]) -> Result<BundleHeader> {
        let (header, _) = split(bytes)?;
        serde_json::from_slice(header).map_err(|e| Error::Bundle(format!("header is not valid: {e}")))
    }

    /// Load a bundle onto `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let (header_bytes, weights) = split(bytes)?;
        let header: BundleHeader =
            serde_json::from_slice(header_bytes).map_err(|e| Error::Bundle(format!("header is not valid: {e}")))?;
        header.config.validate().map_err(|e| Error::Bundle(format!("stored config is not valid: {e}")))?;
        if header.preprocessor.width() != header.networks.aae.d_input {
            return Err(Error::Bundle(format!(
                "preprocessing gives {} inputs but the networks take {}",
                header.preprocessor.width(),
                header.networks.aae.d_input
            )));
        }
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(|e| Error::Bundle(format!("weights are not valid: {e}")))?;
        let networks = header
            .networks
            .init(device)
            .try_load_record(record)
            .map_err(|e| Error::Bundle(format!("weights do not fit the stored config: {e}")))?;
        Ok(Model { header, networks })
    }
}

/// Check framing, version and checksum; return (header, weights) slices.
fn split(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
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
    let header_len = read_u64(bytes, 12) as usize;
    let weights_at = 20usize.checked_add(header_len).filter(|&w| w + 8 <= bytes.len());
    let Some(weights_at) = weights_at else {
        return Err(Error::Bundle(format!("truncated: header of {header_len} bytes does not fit in {} bytes", bytes.len())));
    };
    let weights_len = read_u64(bytes, weights_at) as usize;
    let end = (weights_at + 8).checked_add(weights_len);
    match end {
        Some(e) if e + 8 == bytes.len() => {
            let stored = read_u64(bytes, e);
            if stored != fnv1a(&bytes[..e]) {
                return Err(Error::Bundle("corrupted: checksum mismatch".into()));
            }
            Ok((&bytes[20..20 + header_len], &bytes[weights_at + 8..e]))
        }
        Some(e) if e + 8 > bytes.len() => Err(Error::Bundle(format!(
            "truncated: expected {} bytes, found {}",
            e + 8,
            bytes.len()
        ))),
        _ => Err(Error::Bundle("corrupted: trailing bytes after the checksum".into())),
    }
}

/// Quantiles recorded in a bundle.
pub const QUANTILES: [f64; 7] = [0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0];

impl Model {
    /// Assemble a model from a finished trainer, given the training-row scores (read by the
    /// caller, sync or async) and the fraction of training rows to flag.
    pub fn assemble(
        trainer: &crate::train::Trainer,
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
            config: trainer.config().clone(),
            networks: trainer.networks_config().clone(),
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
        };
        Ok(Model { header, networks: trainer.networks() })
    }
}
