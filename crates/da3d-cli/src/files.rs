//! Output files written whole or not at all: a temporary file beside the target, then a rename;
//! removed if the write fails or the process is stopped.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cleanup;

/// Write to `path` through a temporary file beside it and a rename: never a half-written file.
/// The temporary file has an unpredictable name, is created new (an existing file or a link
/// there is an error, never followed) and is removed if the write fails or the process is stopped.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let (tmp, file) = temporary_beside(path)?;
    let result = (|| {
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all().ok();
        Ok(())
    })();
    let result = result.and_then(|()| std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display())));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    cleanup::forget_path(&tmp);
    result
}

/// A new temporary file in `path`'s folder (registered for removal if the process is stopped).
fn temporary_beside(path: &Path) -> Result<(PathBuf, File)> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(cleanup::unpredictable_name(&format!(".{name}.tmp-")));
    // Created new (never through a link in the way), with the permissions the umask gives an
    // output file: what is written here is the user's result, not a worker's copy of the data.
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).with_context(|| format!("cannot write {}: cannot create a file in {}", path.display(), dir.display()))?;
    cleanup::register_path(&tmp);
    Ok((tmp, file))
}

/// Fail now, not after hours of training, when `path` cannot be written: its folder must exist
/// and take a new file.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("cannot write {}: it is a folder", path.display());
    }
    let (tmp, _) = temporary_beside(path)?;
    let _ = std::fs::remove_file(&tmp);
    cleanup::forget_path(&tmp);
    Ok(())
}
