//! A trainer's complete state between two batches, as bytes, and a trainer made again from them
//! that goes on exactly where the first stopped: every network (with the parameter ids its
//! optimiser's moments are keyed by), every optimiser's moments, every random stream (the
//! shuffles, the noise, the dropout masks), the schedule's position, the epochs' history, the
//! members already trained, and what the caller keeps beside (`extra`, e.g. a held-out curve).
//! A run resumed from a checkpoint trains the same numbers as one that never stopped. CPU only:
//! a GPU draws its noise on the device, where its position cannot be read.
//!
//! Layout: magic `DA3DCKPT` · format u32 · header length u64 · header (JSON) · the blobs the
//! header lists, one after another · FNV-1a 64 of all before, little endian.

use burn::optim::ModuleOptimizer;
use burn::tensor::{Bytes, Device};
use chacha20::ChaCha12Rng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::aae::{AaeStage, DetectorNets};
use super::detector_stage::DetectorStage;
use super::report::{EpochReport, Phase};
use super::{Stage, Trainer};
use crate::bundle::frame::fnv1a;
use crate::bundle::{member_from_bytes, member_to_bytes};
use crate::config::ValidConfig;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::Networks;
use crate::rng::HostRng;

const MAGIC: &[u8; 8] = b"DA3DCKPT";
/// The checkpoint layout this build writes and reads.
pub const CHECKPOINT_FORMAT: u32 = 1;

/// Which stage the networks were in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StageName {
    Aae,
    Detector,
}

/// The noise generator's position.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NoiseState {
    seed: [u8; 32],
    stream: u64,
    /// Words drawn so far (a u128 as text: JSON numbers stop at 2^64).
    word_pos: String,
}

/// What the training rows were: a checkpoint goes on only on the rows it was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RowsPrint {
    rows: usize,
    cols: usize,
    /// FNV-1a 64 of the values' bytes.
    fnv1a: u64,
}

impl RowsPrint {
    fn of(x: &Matrix) -> Self {
        let bytes: Vec<u8> = x.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        RowsPrint { rows: x.rows, cols: x.cols, fnv1a: fnv1a(&bytes) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    crate_version: String,
    config: serde_json::Value,
    rows: RowsPrint,
    phase: Phase,
    epoch: usize,
    /// Rows of the epoch trained so far, batches so far and the sums of their losses (a
    /// checkpoint within an epoch).
    cursor: usize,
    batches_done: usize,
    losses_so_far: Option<Vec<f32>>,
    member: usize,
    steps_done: usize,
    history: Vec<EpochReport>,
    shuffle_rng: [u64; 4],
    mask_rng: Option<[u64; 4]>,
    noise: NoiseState,
    stage: StageName,
    /// Byte lengths of the blobs: the row order (u32 each), the member in training, its three
    /// optimisers, then each finished member.
    blobs: Vec<usize>,
    extra: serde_json::Value,
}

fn optimizer_bytes(o: &ModuleOptimizer) -> Result<Vec<u8>> {
    o.into_bytes().map(|b| b.to_vec()).map_err(|e| Error::Backend(format!("cannot serialise an optimiser: {e}")))
}

fn corrupted(what: impl std::fmt::Display) -> Error {
    Error::Data(format!("the checkpoint is not valid: {what}"))
}

/// Where two configs (as JSON) first differ: `schedule.da3d_epochs: 500 there, 20 here`.
fn first_difference(there: &serde_json::Value, here: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (there, here) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                first_difference(a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null), &p)
            })
        }
        (a, b) if a != b => Some(format!("{path}: {a} there, {b} here")),
        _ => None,
    }
}

impl Trainer {
    /// The complete training state as bytes, between two batches (not between an epoch's last
    /// batch and its [`finish_epoch`](Self::finish_epoch)), with `extra` kept beside it for the
    /// caller. CPU device only.
    pub fn checkpoint(&self, extra: serde_json::Value) -> Result<Vec<u8>> {
        if self.pending.is_some() {
            return Err(Error::Backend("a checkpoint is taken between two batches, after finish_epoch".into()));
        }
        let noise = self.shared.noise.borrow();
        let Some(noise) = noise.as_ref() else {
            return Err(Error::Backend("checkpoints need the CPU backend (a GPU draws its noise where its position cannot be read)".into()));
        };
        let (stage, optimizers) = match &self.stage {
            Stage::Aae(s) => (StageName::Aae, s.optimizers()),
            Stage::Detector(s) => (StageName::Detector, s.optimizers()),
            Stage::Moving => unreachable!("between stages"),
        };
        let mut blobs: Vec<Vec<u8>> = vec![self.order.iter().flat_map(|&i| (i as u32).to_le_bytes()).collect()];
        blobs.push(member_to_bytes(&self.networks())?);
        for o in optimizers {
            blobs.push(optimizer_bytes(o)?);
        }
        for m in &self.finished {
            blobs.push(member_to_bytes(m)?);
        }
        let header = Header {
            crate_version: env!("CARGO_PKG_VERSION").into(),
            config: serde_json::to_value(&*self.shared.config).expect("a config is JSON"),
            rows: RowsPrint::of(&self.shared.x),
            phase: self.phase,
            epoch: self.epoch,
            cursor: self.cursor,
            batches_done: self.batches_done,
            losses_so_far: match &self.accum {
                Some(t) => Some(crate::tensors::wait(crate::tensors::read(t.clone()))?),
                None => None,
            },
            member: self.member,
            steps_done: self.steps_done,
            history: self.history.clone(),
            shuffle_rng: self.shared.rng.state(),
            mask_rng: crate::model::cpu::mask_rng_state(),
            noise: NoiseState { seed: noise.get_seed(), stream: noise.get_stream(), word_pos: noise.get_word_pos().to_string() },
            stage,
            blobs: blobs.iter().map(Vec::len).collect(),
            extra,
        };
        let header = serde_json::to_vec(&header).expect("a header is JSON");
        let mut out = Vec::with_capacity(20 + header.len() + blobs.iter().map(Vec::len).sum::<usize>() + 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CHECKPOINT_FORMAT.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        for b in &blobs {
            out.extend_from_slice(b);
        }
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        Ok(out)
    }

    /// A trainer of `config` on rows `x` that goes on from `bytes` (a [`checkpoint`](Self::checkpoint)
    /// of a trainer of the same config and rows, by this version), and the `extra` kept with it.
    /// Another version, config or rows is refused, saying which.
    pub fn resume(config: ValidConfig, x: Matrix, device: &Device, bytes: &[u8]) -> Result<(Trainer, serde_json::Value)> {
        let (header, blobs) = split(bytes)?;
        let version = env!("CARGO_PKG_VERSION");
        if header.crate_version != version {
            return Err(Error::Data(format!(
                "the checkpoint was made by da3d {}, this is {version}: start again without it",
                header.crate_version
            )));
        }
        let there: crate::config::TrainingConfig =
            serde_json::from_value(header.config.clone()).map_err(|e| corrupted(format!("its config: {e}")))?;
        if there != *config {
            let json = |c: &crate::config::TrainingConfig| serde_json::to_value(c).expect("a config is JSON");
            let d = first_difference(&json(&there), &json(&config), "").unwrap_or_else(|| "a value".into());
            return Err(Error::Data(format!("the checkpoint was made with another config ({d})")));
        }
        let print = RowsPrint::of(&x);
        if header.rows != print {
            return Err(Error::Data(format!(
                "the checkpoint was made on other training rows ({} × {} there, {} × {} here{})",
                header.rows.rows,
                header.rows.cols,
                print.rows,
                print.cols,
                if header.rows.rows == print.rows && header.rows.cols == print.cols { ", other values" } else { "" }
            )));
        }
        let members = config.ensemble.members;
        if blobs.len() != 5 + header.member || header.member >= members {
            return Err(corrupted(format!("{} blobs for member {} of {members}", blobs.len(), header.member)));
        }
        let mut t = Trainer::new(config, x, device)?;
        let order: Vec<usize> = blobs[0].chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize).collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        if blobs[0].len() % 4 != 0 || sorted.iter().enumerate().any(|(i, &r)| i != r) || order.len() != t.shared.x.rows {
            return Err(corrupted("the row order is not a permutation of the rows"));
        }
        let networks_config = t.shared.networks_config.clone();
        let device = t.shared.device.clone();
        let networks = member_from_bytes(blobs[1], &networks_config, &device)?;
        let Networks { aae, latent_discriminator, alarm, generator, critic } = networks;
        let mut aae_stage = AaeStage::new(aae, latent_discriminator, DetectorNets { alarm, generator, critic }, &t.shared);
        let load = |o: &mut ModuleOptimizer, bytes: &[u8]| -> Result<()> {
            let restored = o.clone().from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| corrupted(format!("an optimiser's state: {e}")))?;
            *o = restored;
            Ok(())
        };
        t.stage = match header.stage {
            StageName::Aae => {
                for (o, b) in aae_stage.optimizers_mut().into_iter().zip(&blobs[2..5]) {
                    load(o, b)?;
                }
                Stage::Aae(aae_stage)
            }
            StageName::Detector => {
                let mut s = DetectorStage::after(aae_stage, &t.shared, t.normal_features_budget);
                for (o, b) in s.optimizers_mut().into_iter().zip(&blobs[2..5]) {
                    load(o, b)?;
                }
                Stage::Detector(s)
            }
        };
        t.finished = blobs[5..].iter().map(|b| member_from_bytes(b, &networks_config, &device)).collect::<Result<_>>()?;
        t.order = order;
        t.phase = header.phase;
        t.epoch = header.epoch;
        if header.cursor >= t.shared.x.rows || (header.cursor == 0) != header.losses_so_far.is_none() {
            return Err(corrupted(format!("row {} of an epoch of {}", header.cursor, t.shared.x.rows)));
        }
        t.cursor = header.cursor;
        t.batches_done = header.batches_done;
        t.accum = header.losses_so_far.map(|v| {
            let n = v.len();
            burn::tensor::Tensor::from_data(burn::tensor::TensorData::new(v, [n]), &t.shared.device)
        });
        t.member = header.member;
        t.steps_done = header.steps_done;
        t.history = header.history;
        t.shared.rng = HostRng::from_state(header.shuffle_rng);
        t.shared.targets.clear();
        crate::model::cpu::restore_mask_rng(header.mask_rng);
        let word_pos: u128 = header.noise.word_pos.parse().map_err(|_| corrupted("the noise position is not a number"))?;
        let mut noise = ChaCha12Rng::from_seed(header.noise.seed);
        noise.set_stream(header.noise.stream);
        noise.set_word_pos(word_pos);
        if t.shared.noise.borrow().is_none() {
            return Err(Error::Backend("checkpoints need the CPU backend".into()));
        }
        *t.shared.noise.borrow_mut() = Some(noise);
        Ok((t, header.extra))
    }
}

/// The header and the blobs of checkpoint `bytes`, every length checked before use.
fn split(bytes: &[u8]) -> Result<(Header, Vec<&[u8]>)> {
    if bytes.len() < 28 || &bytes[..8] != MAGIC {
        return Err(Error::Data("not a da3d checkpoint (wrong magic number)".into()));
    }
    let format = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if format != CHECKPOINT_FORMAT {
        return Err(Error::Data(format!("checkpoint format {format}; this build reads format {CHECKPOINT_FORMAT}")));
    }
    let body = &bytes[..bytes.len() - 8];
    let sum = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().expect("8 bytes"));
    if fnv1a(body) != sum {
        return Err(corrupted("checksum mismatch (cut off or changed)"));
    }
    let header_len = usize::try_from(u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"))).unwrap_or(usize::MAX);
    let header_end = 20usize.checked_add(header_len).filter(|&e| e <= body.len()).ok_or_else(|| corrupted("a length is too large"))?;
    let header: Header = serde_json::from_slice(&body[20..header_end]).map_err(|e| corrupted(format!("header: {e}")))?;
    let mut at = header_end;
    let mut blobs = Vec::with_capacity(header.blobs.len());
    for &n in &header.blobs {
        let end = at.checked_add(n).filter(|&e| e <= body.len()).ok_or_else(|| corrupted("a length is too large"))?;
        blobs.push(&body[at..end]);
        at = end;
    }
    if at != body.len() {
        return Err(corrupted(format!("{} bytes after the last blob", body.len() - at)));
    }
    Ok((header, blobs))
}
