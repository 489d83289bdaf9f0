//! What a file or a training run will take of the machine's memory, checked before it is read or
//! trained: a table too large ends with its estimate and what the machine has free, not with the
//! process killed hours in.

use std::path::Path;

use anyhow::{Result, bail};
use da3d::config::ValidConfig;
use da3d::data::Table;
use da3d::pipeline::FitData;

const GIB: f64 = (1u64 << 30) as f64;

/// Bytes of memory the system can still give (Linux: `MemAvailable`; `DA3D_MEMORY_AVAILABLE`
/// bytes when set, for tests); `None` where unknown.
fn available() -> Option<u64> {
    if let Some(bytes) = std::env::var("DA3D_MEMORY_AVAILABLE").ok().and_then(|v| v.parse().ok()) {
        return Some(bytes);
    }
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuse `what` when it needs more than the memory available (with a margin for the rest).
fn check(need: u64, what: impl FnOnce() -> String) -> Result<()> {
    if let Some(free) = available()
        && need > free
    {
        bail!("{} needs about {:.1} GiB of memory, but {:.1} GiB are free", what(), need as f64 / GIB, free as f64 / GIB);
    }
    Ok(())
}

/// Bytes a file's text takes once read: its size, or a gzip file's uncompressed size (its
/// trailer, modulo 4 GiB; at least ten times the compressed size when the trailer says less).
fn text_bytes(path: &Path) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let size = std::fs::metadata(path).ok()?.len();
    let mut f = std::fs::File::open(path).ok()?;
    let mut magic = [0u8; 2];
    if f.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] || size < 18 {
        return Some(size);
    }
    let mut trailer = [0u8; 4];
    f.seek(SeekFrom::End(-4)).ok()?;
    f.read_exact(&mut trailer).ok()?;
    Some((u32::from_le_bytes(trailer) as u64).max(size.saturating_mul(10)))
}

/// Refuse a file whose table (or bundle) would not fit in memory, before it is read: a parsed
/// table takes about twice its text (a number of ~6 characters becomes 8 bytes and a 4-byte code).
pub fn check_file(path: &Path) -> Result<()> {
    let Some(text) = text_bytes(path) else { return Ok(()) };
    check(text.saturating_mul(2), || format!("reading {} ({:.1} GiB of text)", path.display(), text as f64 / GIB))
}

/// Refuse a training run that would not fit: the table and the prepared rows in this process,
/// and per trainer (`trainers` side by side) its copy of the rows, the networks with their
/// gradients and Adam's moments, a batch's activations and the frozen autoencoder's outputs.
pub fn check_training(table: &Table, data: &FitData, config: &ValidConfig, trainers: usize) -> Result<()> {
    let shape = data.shape();
    let floats = |n: usize| n as u64 * 4;
    let table_bytes = (table.n_rows() * table.columns.len()) as u64 * 12;
    let held_out = data.test.as_ref().map_or(0, |t| t.x.values.len()) + data.validation.as_ref().map_or(0, |v| v.x.values.len());
    let parent = table_bytes + floats(data.train.values.len() * 2 + held_out);
    let networks = config.networks(shape.inputs);
    let parameters = networks.parameter_count();
    let widths: usize = config.architecture.encoder.iter().sum::<usize>() * 2 + config.architecture.alarm.iter().sum::<usize>();
    let per_trainer = floats(data.train.values.len()) + parameters * 4 * 4 + floats(config.schedule.batch_size * 3 * widths * 4) + (128 << 20);
    let need = parent + per_trainer * trainers.max(1) as u64;
    check(need, || {
        format!(
            "training on {} rows × {} inputs ({} trainer{} side by side)",
            shape.rows,
            shape.inputs,
            trainers,
            if trainers == 1 { "" } else { "s" }
        )
    })
}
