//! What a run leaves behind when it is stopped: worker processes, their job folders and half-written
//! output files. SIGINT and SIGTERM are taken by one thread of their own (`sigwait`), which stops
//! the registered workers, removes the registered paths and ends the process with the signal's
//! exit code (130, 143); nothing else runs inside a signal handler. Workers are this executable
//! too: they do the same for what they registered. While a run saves its training state
//! (`--state-dir`, [`saves_on_stop`]), the first signal is passed on to the workers and only
//! noted: the training loops save their state and end the process themselves
//! ([`stop_requested`], [`exit_stopped`]); a second signal stops at once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// Worker processes to stop and paths to remove when the process is stopped.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Training loops (and parents of workers running them) that save their state when stopped.
static SAVING: AtomicUsize = AtomicUsize::new(0);
/// The signal that asked a saving run to stop (0: none).
static STOP: AtomicI32 = AtomicI32::new(0);

/// While held, a first SIGINT or SIGTERM is noted for [`stop_requested`] (and passed on to the
/// workers) instead of ending the process.
pub struct SavesOnStop(());

impl Drop for SavesOnStop {
    fn drop(&mut self) {
        SAVING.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn saves_on_stop() -> SavesOnStop {
    SAVING.fetch_add(1, Ordering::SeqCst);
    SavesOnStop(())
}

/// The signal that asked this saving run to stop, if one did.
pub fn stop_requested() -> Option<i32> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// End a stopped run: stop the workers, remove the temporary paths, exit with the signal's code.
pub fn exit_stopped(signal: i32) -> ! {
    stop_everything();
    std::process::exit(128 + signal)
}

/// Take SIGINT and SIGTERM on a thread of their own. Call before any other thread starts (every
/// thread started later inherits the blocked signals, so none is interrupted in a system call).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: signal-mask calls on this (the only) thread; the set is initialised before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let _ = std::thread::Builder::new().name("da3d-signals".into()).spawn(move || {
            let mut signal: libc::c_int = 0;
            // SAFETY: `set` holds the two blocked signals; `signal` receives the one taken.
            while libc::sigwait(&set, &mut signal) == 0 {
                if SAVING.load(Ordering::SeqCst) > 0 && STOP.load(Ordering::SeqCst) == 0 {
                    STOP.store(signal, Ordering::SeqCst);
                    eprintln!("stopping: saving the training state (a second Ctrl-C stops at once)");
                    for pid in CHILDREN.lock().map(|c| c.clone()).unwrap_or_default() {
                        // SAFETY: passing the signal on to a process this one started and has not reaped.
                        libc::kill(pid as libc::pid_t, signal);
                    }
                    continue;
                }
                stop_everything();
                eprintln!("stopped by signal {signal}; workers stopped and temporary files removed");
                std::process::exit(128 + signal);
            }
        });
    }
}

/// Stop the registered workers (SIGTERM) and remove the registered paths.
fn stop_everything() {
    let children = CHILDREN.lock().map(|c| c.clone()).unwrap_or_default();
    #[cfg(unix)]
    for pid in children {
        // SAFETY: sending a signal to a process this one started and has not reaped.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    let _ = children;
    let paths = PATHS.lock().map(|p| p.clone()).unwrap_or_default();
    for path in paths {
        let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
    }
}

/// Stop worker `pid` if this process is stopped (until [`forget_child`]).
pub fn register_child(pid: u32) {
    if let Ok(mut c) = CHILDREN.lock() {
        c.push(pid);
    }
}

/// A worker that has ended and been reaped.
pub fn forget_child(pid: u32) {
    if let Ok(mut c) = CHILDREN.lock() {
        c.retain(|&p| p != pid);
    }
}

/// Remove `path` (a file or a folder) if this process is stopped (until [`forget_path`]).
pub fn register_path(path: &Path) {
    if let Ok(mut p) = PATHS.lock() {
        p.push(path.to_path_buf());
    }
}

/// A path that was removed, or renamed into place.
pub fn forget_path(path: &Path) {
    if let Ok(mut p) = PATHS.lock() {
        p.retain(|q| q != path);
    }
}

/// A name no other process can guess: 16 hex digits from the process's random hash keys.
pub fn unpredictable_name(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    format!("{prefix}{:016x}", h.finish())
}

/// A new folder under the system's temporary folder that only this user can read (0700),
/// created atomically under an unpredictable name, removed if the process is stopped.
pub fn private_dir(prefix: &str) -> std::io::Result<PathBuf> {
    for _ in 0..16 {
        let path = std::env::temp_dir().join(unpredictable_name(prefix));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(&path) {
            Ok(()) => {
                register_path(&path);
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no unused temporary folder name"))
}

/// Create `path` as a new file only this user can read and write (0600); an existing file or a
/// link at `path` is an error, never followed.
pub fn create_new_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_differ_and_a_link_in_the_way_is_never_followed() {
        let a = unpredictable_name("x-");
        let b = unpredictable_name("x-");
        assert_ne!(a, b, "two names in one process");
        assert!(!a.contains(&std::process::id().to_string()), "{a}");
        let dir = private_dir("da3d-cleanup-test-").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
            // A link planted where the file is to be created: refused, the target untouched.
            let target = dir.join("target");
            std::fs::write(&target, "kept").unwrap();
            let link = dir.join("planted");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let e = create_new_private(&link).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
            let fresh = dir.join("fresh");
            create_new_private(&fresh).unwrap();
            assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
        forget_path(&dir);
    }
}
