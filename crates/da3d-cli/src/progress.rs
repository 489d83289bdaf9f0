//! Progress on stderr: a bar per phase with losses and an ETA, or one JSON line per epoch.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use da3d::train::{EpochReport, Observer, Progress};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
}

impl Reporter {
    pub fn new(quiet: bool, format: LogFormat, label: impl Into<String>) -> Self {
        let now = Instant::now();
        Reporter {
            quiet,
            format,
            label: label.into(),
            start: now,
            last_draw: now,
            tty: std::io::stderr().is_terminal(),
            phase_seconds: Vec::new(),
            phase_start: now,
        }
    }

    fn eta(&self, p: &Progress) -> String {
        let elapsed = self.start.elapsed().as_secs_f64();
        let f = p.fraction();
        if f <= 0.0 {
            return "?".into();
        }
        fmt_secs(elapsed / f - elapsed)
    }
}

pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0) as u64;
    if s >= 3600 { format!("{}h{:02}m", s / 3600, (s % 3600) / 60) } else { format!("{}m{:02}s", s / 60, s % 60) }
}

impl Observer for Reporter {
    fn on_epoch(&mut self, r: &EpochReport, p: &Progress) {
        if r.epoch == r.epochs_in_phase {
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
