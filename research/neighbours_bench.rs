//! Times the neighbours term's fit (every training row's leave-one-out distance) and its scoring
//! of the test rows, for a table exported by `da3d split --export DIR`, keeping N reference rows.
//!
//! `cargo run -p da3d --example neighbours_bench -- DIR N[,N…]`  (prints rows, seconds, the test ROC AUC of the term alone)

use da3d::data::Matrix;
use da3d::detector::Neighbours;

fn read(dir: &str, part: &str, cols: usize) -> Matrix {
    let bytes = std::fs::read(format!("{dir}/{part}.f32")).unwrap();
    let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    Matrix::new(values.len() / cols, cols, values)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let split: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!("{}.json", a[1])).unwrap()).unwrap();
    let cols = split["train_shape"][1].as_u64().unwrap() as usize;
    let (train, test) = (read(&a[1], "train", cols), read(&a[1], "test", cols));
    let labels: Vec<u8> = std::fs::read(format!("{}/test_labels.u8", a[1])).unwrap();
    for n in a[2].split(',').map(|n| n.parse::<usize>().unwrap()) {
        let started = std::time::Instant::now();
        let (fitted, _) = Neighbours::fit_keeping(&train, 5, da3d::config::NeighbourDistance::Kth, 0.0, 0, n).unwrap();
        let fit = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        let terms = fitted.terms(&test).unwrap();
        let score = started.elapsed().as_secs_f64();
        let auc = da3d::metrics::roc_auc(&terms, &labels).unwrap();
        println!(
            "{}×{cols}: {} reference rows: fit {fit:.2} s, {} test rows {score:.2} s, ROC AUC {auc:.4}",
            train.rows,
            fitted.rows(),
            test.rows
        );
    }
}
