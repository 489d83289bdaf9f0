//! A seeded synthetic tabular data set for fixtures, tests and benchmarks: normal rows from two
//! Gaussian clusters with a correlated categorical column, anomalies scattered around them.

use crate::rng::HostRng;

/// Parameters of the synthetic data.
#[derive(Debug, Clone)]
pub struct SyntheticSpec {
    pub rows: usize,
    /// Numeric columns (at least 2).
    pub numeric: usize,
    /// Whether to add a categorical column `kind`.
    pub categorical: bool,
    pub anomaly_rate: f64,
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec { rows: 2000, numeric: 6, categorical: true, anomaly_rate: 0.05, seed: 0 }
    }
}

/// CSV text with header `x1..xN[,kind],label`.
pub fn synthetic_csv(spec: &SyntheticSpec) -> String {
    let mut rng = HostRng::new(spec.seed, 0x5E7);
    let n = spec.numeric.max(2);
    let mut out = String::new();
    let mut header: Vec<String> = (1..=n).map(|i| format!("x{i}")).collect();
    if spec.categorical {
        header.push("kind".into());
    }
    header.push("label".into());
    out.push_str(&header.join(","));
    out.push('\n');
    for _ in 0..spec.rows {
        let anomaly = rng.uniform() < spec.anomaly_rate;
        let cluster = rng.below(2);
        let mut cells: Vec<String> = Vec::with_capacity(n + 2);
        for v in manifold_row(&mut rng, n, cluster, anomaly) {
            cells.push(format!("{v:.5}"));
        }
        if spec.categorical {
            let kind = if anomaly { ["a", "b", "c"][rng.below(3)] } else if cluster == 0 { "a" } else { "b" };
            cells.push(kind.into());
        }
        cells.push(if anomaly { "1".into() } else { "0".into() });
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// `n` values of one row: normal rows lie on a one-dimensional manifold around one of two
/// cluster centres, anomalies are independent and wider.
fn manifold_row(rng: &mut HostRng, n: usize, cluster: usize, anomaly: bool) -> Vec<f64> {
    let base = rng.normal();
    (0..n)
        .map(|j| {
            if anomaly {
                // off the normal manifold: independent and wider
                3.0 * rng.normal() + if cluster == 0 { 1.0 } else { -1.0 }
            } else {
                // two clusters on a low-dimensional manifold: every column follows `base`
                let centre = if cluster == 0 { 2.0 } else { -2.0 };
                centre + base * (1.0 + j as f64 * 0.1) + 0.1 * rng.normal()
            }
        })
        .collect()
}

/// A small synthetic file in the published column layout of a named data set that is not
/// available here (`doh`: CIRA-CIC-DoHBrw-2020 layer 2; `url`: ISCX-URL2016 `All.csv`), with the
/// oddities of the real files: identifier columns and empty cells (DoH), `NaN` and `Infinity`
/// cells (URL), text class labels. Every 50th row has one such missing or infinite cell.
/// `None` for other names.
pub fn layout_csv(name: &str, rows: usize, anomaly_rate: f64, seed: u64) -> Option<String> {
    use crate::datasets::{DOH_FEATURES, DOH_IDENTIFIERS, URL_FEATURES};
    let mut rng = HostRng::new(seed, 0x1A7);
    let mut out = String::new();
    match name {
        "doh" => {
            let header: Vec<&str> = DOH_IDENTIFIERS.iter().chain(DOH_FEATURES.iter()).copied().chain(["Label"]).collect();
            out.push_str(&header.join(","));
            out.push('\n');
            let median = DOH_FEATURES.iter().position(|c| *c == "ResponseTimeTimeMedian").unwrap_or(0);
            for r in 0..rows {
                let anomaly = rng.uniform() < anomaly_rate;
                let cluster = rng.below(2);
                let mut cells = vec![
                    format!("192.168.20.{}", 1 + rng.below(250)),
                    format!("176.103.130.{}", 1 + rng.below(250)),
                    format!("{}", 1024 + rng.below(60000)),
                    "443".to_string(),
                    format!("2020-01-{:02} {:02}:{:02}:{:02}", 10 + rng.below(20), rng.below(24), rng.below(60), rng.below(60)),
                ];
                for (j, v) in manifold_row(&mut rng, DOH_FEATURES.len(), cluster, anomaly).into_iter().enumerate() {
                    // flow statistics are non-negative
                    cells.push(if r % 50 == 7 && j == median { String::new() } else { format!("{:.6}", v.abs() * 100.0) });
                }
                cells.push(if anomaly { "Malicious" } else { "Benign" }.to_string());
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        "url" => {
            let header: Vec<&str> = URL_FEATURES.iter().copied().chain(["URL_Type_obf_Type"]).collect();
            out.push_str(&header.join(","));
            out.push('\n');
            let ratio = URL_FEATURES.iter().position(|c| *c == "argPathRatio").unwrap_or(0);
            let kinds = ["Defacement", "malware", "phishing", "spam"];
            for r in 0..rows {
                let anomaly = rng.uniform() < anomaly_rate;
                let cluster = rng.below(2);
                let mut cells = Vec::with_capacity(URL_FEATURES.len() + 1);
                for (j, v) in manifold_row(&mut rng, URL_FEATURES.len(), cluster, anomaly).into_iter().enumerate() {
                    cells.push(match (r % 50, j == ratio) {
                        (7, true) => "NaN".to_string(),
                        (31, true) => "Infinity".to_string(),
                        _ => format!("{v:.4}"),
                    });
                }
                cells.push(if anomaly { kinds[rng.below(4)] } else { "benign" }.to_string());
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        _ => return None,
    }
    Some(out)
}
