//! What `eval` measures (its runs) and how it tells them: the table shaped like the paper's
//! Table 2, the JSON report, and a worker's lines as this process would show them.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use da3d::detector::CodeStats;
use da3d::metrics::mean_std;
use serde::{Deserialize, Serialize};

use crate::args::TrainArgs;
use crate::files::write_atomic;
use crate::progress::{LogFormat, Output};

#[derive(Serialize, Deserialize, Clone)]
pub struct Checkpoint {
    pub da3d_epoch: usize,
    pub test_roc_auc: f64,
    pub critic_normal: Option<f32>,
    pub critic_generated: Option<f32>,
    pub critic_noise: Option<f32>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Run {
    pub method: String,
    pub seed: u64,
    pub contamination: f64,
    pub test_roc_auc: f64,
    pub test_average_precision: f64,
    pub validation_roc_auc: Option<f64>,
    pub checkpoints: Vec<Checkpoint>,
    pub code_stats: CodeStats,
    /// Epochs of the AAE, detector pretraining and DA³D phases as run, and the batch size.
    pub epochs: [usize; 3],
    pub batch_size: usize,
    pub seconds: f64,
}

pub fn report_json(path: &Path, dataset: Option<&str>, backend: &str, seeds: &[u64], args: &TrainArgs, started: Instant, runs: &[Run]) -> serde_json::Value {
    serde_json::json!({
        "data": path.display().to_string(),
        "dataset": dataset,
        "backend": backend,
        "seeds": seeds,
        "epochs": {"aae": args.epochs_aae, "pretrain": args.epochs_pretrain, "da3d": args.epochs},
        "wall_seconds": started.elapsed().as_secs_f64(),
        "runs": runs,
    })
}

pub fn print_report(
    report: &serde_json::Value,
    dataset: Option<&str>,
    runs: &[Run],
    contaminations: &[f64],
    methods: &[String],
    json: bool,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    // Shaped like the paper's Table 2: one row per method, one column per contamination level.
    let cell = |m: &str, c: f64| -> String {
        let sel: Vec<f64> = runs.iter().filter(|r| r.method == m && r.contamination == c).map(|r| r.test_roc_auc).collect();
        if sel.is_empty() {
            return "–".into();
        }
        let (a, sa) = mean_std(&sel);
        format!("{a:.2} ± {sa:.2} ({})", sel.len())
    };
    let level = |c: f64| if c == 0.0 { "clean".to_string() } else { format!("{} % contaminated", c * 100.0) };
    println!("Test ROC AUC, mean ± std (runs):");
    println!();
    println!("| method | {} |", contaminations.iter().map(|&c| level(c)).collect::<Vec<_>>().join(" | "));
    println!("|---|{}", "---|".repeat(contaminations.len()));
    for m in methods {
        println!("| {m} | {} |", contaminations.iter().map(|&c| cell(m, c)).collect::<Vec<_>>().join(" | "));
    }
    if let Some(paper) = dataset.and_then(da3d::datasets::paper_da3d_auc) {
        let p = |c: f64| {
            if c == 0.0 {
                format!("{:.2} ± {:.2}", paper[0].0, paper[0].1)
            } else if (c - 0.01).abs() < 1e-12 {
                format!("{:.2} ± {:.2}", paper[1].0, paper[1].1)
            } else {
                "–".into()
            }
        };
        println!("| DA³D, paper's Table 2 | {} |", contaminations.iter().map(|&c| p(c)).collect::<Vec<_>>().join(" | "));
    }
    println!();
    println!("| contamination | method | ROC AUC | average precision | runs |");
    println!("|---|---|---|---|---|");
    for &c in contaminations {
        for m in methods {
            let sel: Vec<&Run> = runs.iter().filter(|r| &r.method == m && r.contamination == c).collect();
            if sel.is_empty() {
                continue;
            }
            let (a, sa) = mean_std(&sel.iter().map(|r| r.test_roc_auc).collect::<Vec<_>>());
            let (p, sp) = mean_std(&sel.iter().map(|r| r.test_average_precision).collect::<Vec<_>>());
            println!("| {c} | {m} | {a:.3} ± {sa:.3} | {p:.3} ± {sp:.3} | {} |", sel.len());
        }
    }
    let cp_epochs: Vec<usize> = {
        let mut v: Vec<usize> = runs.iter().flat_map(|r| r.checkpoints.iter().map(|c| c.da3d_epoch)).collect();
        v.sort();
        v.dedup();
        v
    };
    if !cp_epochs.is_empty() {
        println!();
        println!("Test ROC AUC after N DA³D epochs (mean over seeds), and the critic's mean outputs (normal / generated / noise codes):");
        println!();
        println!("| contamination | method | {} |", cp_epochs.iter().map(|e| format!("epoch {e}")).collect::<Vec<_>>().join(" | "));
        println!("|---|---|{}", "---|".repeat(cp_epochs.len()));
        for &c in contaminations {
            for m in methods {
                let sel: Vec<&Run> = runs.iter().filter(|r| &r.method == m && r.contamination == c).collect();
                if sel.is_empty() || sel[0].checkpoints.is_empty() {
                    continue;
                }
                let cells: Vec<String> = cp_epochs
                    .iter()
                    .map(|e| {
                        let cps: Vec<&Checkpoint> = sel.iter().filter_map(|r| r.checkpoints.iter().find(|c| c.da3d_epoch == *e)).collect();
                        let (a, _) = mean_std(&cps.iter().map(|c| c.test_roc_auc).collect::<Vec<_>>());
                        let crit = |f: fn(&Checkpoint) -> Option<f32>| {
                            let v: Vec<f64> = cps.iter().filter_map(|c| f(c).map(|x| x as f64)).collect();
                            if v.is_empty() { None } else { Some(mean_std(&v).0) }
                        };
                        match (crit(|c| c.critic_normal), crit(|c| c.critic_generated), crit(|c| c.critic_noise)) {
                            (Some(n), Some(g), Some(z)) => format!("{a:.3} ({n:.2} / {g:.2} / {z:.2})"),
                            _ => format!("{a:.3}"),
                        }
                    })
                    .collect();
                println!("| {c} | {m} | {} |", cells.join(" | "));
            }
        }
    }
    Ok(())
}

/// Write the runs so far to `out` (after every run, so that a later failure loses nothing
/// already measured, and once more at the end).
#[allow(clippy::too_many_arguments)]
pub fn save_partial(out: Option<&Path>, path: &Path, dataset: Option<&str>, backend: &str, seeds: &[u64], args: &TrainArgs, started: Instant, runs: &[Run]) -> Result<()> {
    if let Some(out) = out {
        let text = serde_json::to_string_pretty(&report_json(path, dataset, backend, seeds, args, started, runs))?;
        write_atomic(out, |w| Ok(std::io::Write::write_all(w, text.as_bytes())?))?;
    }
    Ok(())
}

/// Every float in `value` as a string `f64:<shortest decimal>`, which [`from_exact_floats`] reads
/// back to the same bits (serde_json's own parser, without its `float_roundtrip` feature, may
/// land one unit in the last place off, and the runs must be the numbers a single process gives).
pub fn exact_floats(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => Value::String(format!("f64:{}", n.as_f64().expect("is_f64"))),
        Value::Array(items) => Value::Array(items.into_iter().map(exact_floats).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, exact_floats(v))).collect()),
        other => other,
    }
}

/// The inverse of [`exact_floats`].
pub fn from_exact_floats(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => match s.strip_prefix("f64:").and_then(|d| d.parse::<f64>().ok()) {
            Some(x) => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
            None => Value::String(s),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(from_exact_floats).collect()),
        Value::Object(fields) => Value::Object(fields.into_iter().map(|(k, v)| (k, from_exact_floats(v))).collect()),
        other => other,
    }
}

/// A worker's stderr line, shown as this process would show it: its epochs (JSON lines, the
/// workers' log format) as JSON or as a text line now and then, anything else as it is.
pub fn show_worker_line(line: &str, output: Output) {
    let Some(epoch) = line.starts_with('{').then(|| serde_json::from_str::<serde_json::Value>(line).ok()).flatten() else {
        eprintln!("{line}");
        return;
    };
    if output.quiet {
        return;
    }
    if output.log_format == LogFormat::Json {
        eprintln!("{line}");
        return;
    }
    let number = |key: &str| epoch.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
    let (e, n) = (number("epoch"), number("epochs"));
    if !(e == 1 || e == n || e % 25 == 0) {
        return;
    }
    let text = |key: &str| epoch.get(key).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let member = match (epoch.get("member").and_then(|v| v.as_u64()), epoch.get("members").and_then(|v| v.as_u64())) {
        (Some(m), Some(k)) => format!("member {}/{k} ", m + 1),
        _ => String::new(),
    };
    const SKIP: [&str; 7] = ["run", "phase", "epoch", "epochs", "member", "members", "elapsed_s"];
    let losses: Vec<String> = epoch
        .as_object()
        .map(|o| o.iter().filter(|(k, _)| !SKIP.contains(&k.as_str())).take(5).filter_map(|(k, v)| v.as_f64().map(|v| format!("{k} {v:.4}"))).collect())
        .unwrap_or_default();
    eprintln!("{} {member}{} {e}/{n} | {}", text("run"), text("phase"), losses.join(", "));
}
