//! Worker processes: this executable started again with other arguments, each writing one JSON
//! object a line on stdout and what it has to say on stderr. One pool serves `train`'s ensemble
//! members and `eval`'s runs.
//!
//! Processes, not threads: burn's autodiff keeps one process-wide registry of graphs behind a
//! mutex that every operation of every trainer takes, so two trainers on two threads of one
//! process each ran 1.3–1.4× slower than one alone (docs/performance.md). A worker that writes a
//! line that does not read back, or says nothing for the pool's silence limit, stops the run with
//! an error; so does the caller, by returning one. Every worker is stopped and reaped before the
//! pool returns, and stopped if this process is (`cleanup`).

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use serde::de::DeserializeOwned;

use crate::cleanup;

/// Seconds a worker may say nothing before it is stopped (`--worker-timeout`).
pub const DEFAULT_SILENCE_SECONDS: u64 = 1800;

/// What the readers of a worker's output tell the pool.
enum Message {
    /// A line of stdout.
    Line(usize, String),
    /// A line of stderr.
    Said(usize, String),
    /// The worker's stdout ended.
    Ended(usize),
}

/// How each worker ended: its exit status and the error it said last (a line `error: …`).
pub struct Ended {
    pub status: ExitStatus,
    pub error: Option<String>,
}

impl Ended {
    /// Why the worker failed, in words: what it said, else its exit status.
    pub fn why(&self) -> String {
        self.error.clone().unwrap_or_else(|| format!("its worker process ended ({})", self.status))
    }
}

/// `0..items` dealt to `workers` in turn: item `i` to worker `i mod workers`.
pub fn round_robin(items: usize, workers: usize) -> Vec<Vec<usize>> {
    (0..workers).map(|w| (w..items).step_by(workers).collect()).collect()
}

/// `1,2,3`: indices as a worker's argument.
pub fn comma_list(indices: &[usize]) -> String {
    indices.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// Run one worker process per entry of `arguments` (what: for messages), until every one has
/// ended. `on_line(worker, line)` hears each stdout line read back as `L`; `on_said(worker,
/// text)` each stderr line that is not an error. Returns how each worker ended, in order; the
/// caller decides whether what they delivered is complete.
pub fn run<L: DeserializeOwned>(
    what: &str,
    arguments: Vec<Vec<OsString>>,
    silence: Duration,
    mut on_line: impl FnMut(usize, L) -> Result<()>,
    mut on_said: impl FnMut(usize, &str),
) -> Result<Vec<Ended>> {
    let exe = std::env::current_exe().with_context(|| format!("cannot find the da3d executable to start {what}"))?;
    let (tx, rx) = mpsc::channel();
    let mut pool = Pool { children: Vec::new() };
    for (w, args) in arguments.into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {what} ({})", exe.display()))?;
        cleanup::register_child(child.id());
        let (stdout, stderr) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
        pool.children.push(child);
        let said = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if said.send(Message::Said(w, line)).is_err() {
                    break;
                }
            }
        });
        let lines = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(Message::Line(w, line)).is_err() {
                    break;
                }
            }
            let _ = lines.send(Message::Ended(w));
        });
    }
    drop(tx);
    let workers = pool.children.len();
    let mut heard = vec![Instant::now(); workers];
    let mut errors: Vec<Option<String>> = vec![None; workers];
    let mut ended: Vec<Option<ExitStatus>> = vec![None; workers];
    while ended.iter().any(Option::is_none) {
        if let Some(w) = (0..workers).find(|&w| ended[w].is_none() && heard[w].elapsed() > silence) {
            return Err(anyhow!(
                "{what} {} reported nothing for {} s and was stopped (--worker-timeout SECONDS sets the limit)",
                w + 1,
                silence.as_secs()
            ));
        }
        let message = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // Every reader has ended (a worker whose stdout ended is reaped below).
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match message {
            Message::Line(w, line) => {
                heard[w] = Instant::now();
                let parsed: L = serde_json::from_str(&line)
                    .with_context(|| format!("{what} {} wrote a line that does not read back: {}", w + 1, shorten(&line)))?;
                on_line(w, parsed)?;
            }
            Message::Said(w, line) => {
                heard[w] = Instant::now();
                match line.strip_prefix("error: ") {
                    Some(e) => errors[w] = Some(e.to_string()),
                    None => on_said(w, &line),
                }
            }
            Message::Ended(w) => {
                let status = pool.children[w].wait().with_context(|| format!("{what} {} was lost", w + 1))?;
                cleanup::forget_child(pool.children[w].id());
                ended[w] = Some(status);
                if !status.success() {
                    // Let its last words arrive, then stop the others: their output ends, and
                    // with it this loop.
                    std::thread::sleep(Duration::from_millis(50));
                    while let Ok(Message::Said(v, line)) = rx.try_recv() {
                        if let Some(e) = line.strip_prefix("error: ") {
                            errors[v] = Some(e.to_string());
                        }
                    }
                    pool.stop();
                }
            }
        }
    }
    pool.stop();
    let mut out = Vec::with_capacity(workers);
    for (w, child) in pool.children.iter_mut().enumerate() {
        let status = match ended[w] {
            Some(s) => s,
            None => child.wait().with_context(|| format!("{what} {} was lost", w + 1))?,
        };
        out.push(Ended { status, error: errors[w].take() });
    }
    pool.children.clear();
    Ok(out)
}

/// The children of a run; stopped and reaped when dropped (also on an early return).
struct Pool {
    children: Vec<Child>,
}

impl Pool {
    /// Stop every worker still running (they are reaped on drop or by the caller).
    fn stop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
            cleanup::forget_child(child.id());
        }
    }
}

/// At most 200 characters of `line`, for a message.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_dealt_round_robin() {
        assert_eq!(round_robin(5, 2), vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(comma_list(&[1, 2, 3]), "1,2,3");
        assert_eq!(shorten(&"x".repeat(300)).chars().count(), 201);
    }
}
