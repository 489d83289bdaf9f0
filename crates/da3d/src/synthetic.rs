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
        let base = rng.normal();
        for j in 0..n {
            let v = if anomaly {
                // off the normal manifold: independent and wider
                3.0 * rng.normal() + if cluster == 0 { 1.0 } else { -1.0 }
            } else {
                // two clusters on a low-dimensional manifold: every column follows `base`
                let centre = if cluster == 0 { 2.0 } else { -2.0 };
                centre + base * (1.0 + j as f64 * 0.1) + 0.1 * rng.normal()
            };
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
