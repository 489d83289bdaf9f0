//! Progress on stderr: a bar per phase with losses and an ETA, or one JSON line per epoch.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use da3d::train::{EpochReport, Observer, Progress};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What every command's progress looks like (`--quiet`, `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// No progress output; notes, summaries and errors still go to stderr.
    pub quiet: bool,
    pub log_format: LogFormat,
}

pub struct Reporter {
    pub quiet: bool,
    pub format: LogFormat,
    pub label: String,
    start: Instant,
    last_draw: Instant,
    tty: bool,
    pub phase_seconds: Vec<(String, f64, usize)>,
    phase_start: Instant,
    pace: Pace,
}

/// The speed the ETA projects at: seconds per step since a mark, which is this process's first
/// report (a run going on from a saved state did steps before this process started) and then the
/// start of each phase (a DA³D step costs several AAE steps); before a phase has its own, the
/// last speed measured.
#[derive(Debug, Default)]
struct Pace {
    mark: Option<(Instant, usize)>,
    seconds_per_step: Option<f64>,
}

impl Pace {
    /// Takes in a report made `since_start` seconds after the reporter was made.
    fn observe(&mut self, p: &Progress, since_start: f64) {
        match self.mark {
            None => {
                self.mark = Some((Instant::now(), p.steps_done));
                // A fresh run's first epoch: every step done is this process's.
                if p.steps_done > 0 && p.steps_done <= p.batches_per_epoch {
                    self.seconds_per_step = Some(since_start / p.steps_done as f64);
                }
            }
            Some((at, steps)) if p.steps_done > steps => {
                self.seconds_per_step = Some(at.elapsed().as_secs_f64() / (p.steps_done - steps) as f64);
            }
            Some(_) => {}
        }
    }

    /// A new phase starts after `p`: its speed is measured from here.
    fn phase_ends(&mut self, p: &Progress) {
        self.mark = Some((Instant::now(), p.steps_done));
    }

    /// Seconds left at the measured speed, if there is one.
    fn seconds_left(&self, p: &Progress) -> Option<f64> {
        self.seconds_per_step.map(|s| s * p.steps_total.saturating_sub(p.steps_done) as f64)
    }
}

impl Reporter {
    pub fn new(output: Output, label: impl Into<String>) -> Self {
        let now = Instant::now();
        Reporter {
            quiet: output.quiet,
            format: output.log_format,
            label: label.into(),
            start: now,
            last_draw: now,
            tty: std::io::stderr().is_terminal(),
            phase_seconds: Vec::new(),
            phase_start: now,
            pace: Pace::default(),
        }
    }

    /// The time left at the speed measured so far, and when that ends (UTC).
    fn eta(&self, p: &Progress) -> String {
        match self.pace.seconds_left(p) {
            Some(left) => format!("{} (ends {})", fmt_secs(left), clock_after(left)),
            None => "?".into(),
        }
    }
}

/// The UTC wall-clock time `seconds` from now, `HH:MM` (with the date when it is not today).
pub fn clock_after(seconds: f64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let at = now + seconds.max(0.0) as u64;
    let (day, secs) = (at / 86_400, at % 86_400);
    let clock = format!("{:02}:{:02} UTC", secs / 3600, (secs % 3600) / 60);
    if day == now / 86_400 { clock } else { format!("{} {clock}", civil_date(day)) }
}

/// `YYYY-MM-DD` of day `days` since 1970-01-01 (Howard Hinnant's civil-from-days).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}-{m:02}-{d:02}")
}

pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0) as u64;
    if s >= 3600 { format!("{}h{:02}m", s / 3600, (s % 3600) / 60) } else { format!("{}m{:02}s", s / 60, s % 60) }
}

impl Observer for Reporter {
    fn on_epoch(&mut self, r: &EpochReport, p: &Progress) {
        self.pace.observe(p, self.start.elapsed().as_secs_f64());
        if r.epoch == r.epochs_in_phase {
            self.pace.phase_ends(p);
            let secs = self.phase_start.elapsed().as_secs_f64();
            self.phase_seconds.push((r.phase.name().to_string(), secs, r.epochs_in_phase));
            self.phase_start = Instant::now();
        }
        if self.quiet {
            return;
        }
        match self.format {
            LogFormat::Json => {
                let mut obj = serde_json::Map::new();
                obj.insert("run".into(), self.label.clone().into());
                obj.insert("phase".into(), r.phase.name().into());
                obj.insert("epoch".into(), r.epoch.into());
                obj.insert("epochs".into(), r.epochs_in_phase.into());
                if p.members > 1 {
                    obj.insert("member".into(), r.member.into());
                    obj.insert("members".into(), p.members.into());
                }
                for (n, v) in r.names.iter().zip(&r.values) {
                    obj.insert(n.clone(), serde_json::json!(v));
                }
                obj.insert("elapsed_s".into(), serde_json::json!(self.start.elapsed().as_secs_f64()));
                obj.insert("fraction".into(), serde_json::json!(p.fraction()));
                eprintln!("{}", serde_json::Value::Object(obj));
            }
            LogFormat::Text => {
                let losses: Vec<String> =
                    r.names.iter().zip(&r.values).take(5).map(|(n, v)| format!("{n} {v:.4}")).collect();
                let width = 24;
                let filled = (p.fraction() * width as f64).round() as usize;
                let bar = format!("{}{}", "#".repeat(filled.min(width)), "-".repeat(width - filled.min(width)));
                let member = if p.members > 1 { format!("member {}/{} ", r.member + 1, p.members) } else { String::new() };
                let line = format!(
                    "{} [{bar}] {:>3.0}% {member}{} {}/{} | {} | eta {}",
                    self.label,
                    p.fraction() * 100.0,
                    r.phase.name(),
                    r.epoch,
                    r.epochs_in_phase,
                    losses.join(", "),
                    self.eta(p)
                );
                let end_of_phase = r.epoch == r.epochs_in_phase;
                if self.tty {
                    if end_of_phase || self.last_draw.elapsed().as_millis() > 100 {
                        eprint!("\r\x1b[2K{line}");
                        if end_of_phase {
                            eprintln!();
                        }
                        let _ = std::io::stderr().flush();
                        self.last_draw = Instant::now();
                    }
                } else if end_of_phase || r.epoch == 1 || r.epoch % 25 == 0 {
                    eprintln!("{line}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(steps_done: usize, steps_total: usize) -> Progress {
        Progress {
            phase: da3d::train::Phase::Da3d,
            epoch: 1,
            epochs_in_phase: 10,
            batch: 0,
            batches_per_epoch: 100,
            member: 0,
            members: 1,
            steps_done,
            steps_total,
        }
    }

    fn ago(seconds: u64) -> Instant {
        Instant::now().checked_sub(std::time::Duration::from_secs(seconds)).unwrap()
    }

    #[test]
    fn a_fresh_run_projects_from_its_first_epoch() {
        let mut pace = Pace::default();
        pace.observe(&progress(100, 1000), 50.0);
        let left = pace.seconds_left(&progress(100, 1000)).unwrap();
        assert!((left - 450.0).abs() < 1e-9, "{left}");
    }

    #[test]
    fn a_resumed_run_projects_from_the_steps_of_this_process() {
        // Going on from step 1,000 of 2,000: the first report says nothing of the speed (the
        // steps before it were done by another process) ...
        let mut pace = Pace::default();
        pace.observe(&progress(1000, 2000), 3.0);
        assert_eq!(pace.seconds_left(&progress(1000, 2000)), None);
        // ... the next, 100 steps in 100 s later, gives 1 s a step for the 900 left (the whole
        // run's fraction would have said 100 s / 0.55 − 100 s = 82 s).
        pace.mark = Some((ago(100), 1000));
        pace.observe(&progress(1100, 2000), 103.0);
        let left = pace.seconds_left(&progress(1100, 2000)).unwrap();
        assert!((left - 900.0).abs() < 5.0, "{left}");
    }

    #[test]
    fn each_phase_is_projected_at_its_own_speed() {
        // 0.1 s a step through the first phase, then 1 s a step in the next.
        let mut pace = Pace::default();
        pace.mark = Some((ago(10), 0));
        pace.observe(&progress(100, 1100), 10.0);
        pace.phase_ends(&progress(100, 1100));
        assert!((pace.seconds_left(&progress(100, 1100)).unwrap() - 100.0).abs() < 1.0);
        pace.mark = Some((ago(100), 100));
        pace.observe(&progress(200, 1100), 110.0);
        let left = pace.seconds_left(&progress(200, 1100)).unwrap();
        assert!((left - 900.0).abs() < 5.0, "{left}");
    }

    #[test]
    fn dates_of_days_since_1970() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_429), "2025-12-07");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }
}
