//! What the page draws of a model and its data: metrics and curves, the latent picture (codes
//! projected on the normal codes' two leading principal directions), the most anomalous rows with
//! their explanations.

use da3d::bundle::Model;
use da3d::data::Matrix;
use da3d::metrics;
use da3d::pipeline::FitData;
use da3d::Detector;
use serde_json::{Value, json};
use wasm_bindgen::prelude::*;

use crate::err;

/// The 20 highest-scoring rows of `x` (indices, best first), each with the 3 columns that push
/// its score up.
pub(crate) async fn top_explained(model: &Model, detector: &Detector, x: &Matrix, scores: &[f32]) -> Result<Vec<(usize, Vec<da3d::explain::Attribution>)>, JsError> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(20);
    let top_x = x.select(&order);
    let terms = detector.input_contributions(&top_x).await.map_err(err)?;
    let why = da3d::explain::explain(&model.header.preprocessor, &top_x, &terms, 3).map_err(err)?;
    Ok(order.into_iter().zip(why).collect())
}

pub(crate) fn metrics_json(scores: &[f32], labels: &[u8]) -> Value {
    let auc = metrics::roc_auc(scores, labels).ok();
    let ap = metrics::average_precision(scores, labels).ok();
    let thin = |v: Vec<(f64, f64, f32)>| -> Vec<[f64; 2]> {
        let step = (v.len() / 200).max(1);
        let last = v.last().copied();
        let mut out: Vec<[f64; 2]> = v.iter().step_by(step).map(|p| [p.0, p.1]).collect();
        if let Some(l) = last {
            out.push([l.0, l.1]);
        }
        out
    };
    json!({
        "roc_auc": auc,
        "average_precision": ap,
        "roc": metrics::roc_curve(scores, labels).map(thin).unwrap_or_default(),
        "pr": metrics::pr_curve(scores, labels).map(thin).unwrap_or_default(),
    })
}

/// Two coordinates per code: the code itself when it has two dimensions, else its projection on
/// the two leading principal directions of the normal codes.
fn project(codes: &Matrix, basis: &Option<(Vec<f32>, [Vec<f32>; 2])>) -> Vec<[f32; 2]> {
    (0..codes.rows)
        .map(|r| {
            let row = codes.row(r);
            match basis {
                None => [row[0], row.get(1).copied().unwrap_or(0.0)],
                Some((mean, [a, b])) => {
                    let dot = |v: &[f32]| row.iter().zip(mean).zip(v).map(|((x, m), w)| (x - m) * w).sum::<f32>();
                    [dot(a), dot(b)]
                }
            }
        })
        .collect()
}

fn principal_basis(codes: &Matrix) -> Option<(Vec<f32>, [Vec<f32>; 2])> {
    if codes.cols <= 2 || codes.rows == 0 {
        return None;
    }
    let d = codes.cols;
    let n = codes.rows as f32;
    let mut mean = vec![0f32; d];
    for r in 0..codes.rows {
        for (m, v) in mean.iter_mut().zip(codes.row(r)) {
            *m += v / n;
        }
    }
    let mut cov = vec![0f32; d * d];
    for r in 0..codes.rows {
        let row = codes.row(r);
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] += (row[i] - mean[i]) * (row[j] - mean[j]) / n;
            }
        }
    }
    let power = |cov: &[f32]| -> Vec<f32> {
        let mut v = vec![1f32; d];
        for _ in 0..100 {
            let mut w = vec![0f32; d];
            for i in 0..d {
                for j in 0..d {
                    w[i] += cov[i * d + j] * v[j];
                }
            }
            let norm = w.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            v = w.into_iter().map(|x| x / norm).collect();
        }
        v
    };
    let a = power(&cov);
    let lambda: f32 = (0..d).map(|i| (0..d).map(|j| cov[i * d + j] * a[j]).sum::<f32>() * a[i]).sum();
    let mut deflated = cov.clone();
    for i in 0..d {
        for j in 0..d {
            deflated[i * d + j] -= lambda * a[i] * a[j];
        }
    }
    let b = power(&deflated);
    Some((mean, [a, b]))
}

pub(crate) async fn results_json(
    model: &Model,
    data: &FitData,
    train_codes: &Matrix,
    train_scores: &[f32],
    test_scores: Option<&[f32]>,
) -> Result<Value, JsError> {
    let detector: Detector = model.detector();
    let basis = principal_basis(train_codes);
    let sample = |m: &Matrix, n: usize| -> Matrix {
        let step = (m.rows / n).max(1);
        let idx: Vec<usize> = (0..m.rows).step_by(step).take(n).collect();
        m.select(&idx)
    };
    // The generator's codes only where it trained (a DA³D stage): `quick` and `robust` train none.
    let generated = match model.header.config.schedule.da3d_epochs {
        0 => Matrix::new(0, train_codes.cols, Vec::new()),
        _ => detector.generated_codes(300).await.map_err(err)?,
    };
    let mut latent = json!({
        "normal": project(&sample(train_codes, 1500), &basis),
        "generated": project(&generated, &basis),
        "projected": basis.is_some(),
    });
    let mut out = json!({
        "threshold": model.header.threshold,
        "train_scores": train_scores.iter().step_by((train_scores.len() / 2000).max(1)).collect::<Vec<_>>(),
        "notes": data.notes,
    });
    if let (Some(test), Some(scores)) = (&data.test, test_scores) {
        let anomalies: Vec<usize> = (0..test.labels.len()).filter(|&i| test.labels[i] == 1).collect();
        let anomaly_codes = detector.codes(&test.x.select(&anomalies)).await.map_err(err)?;
        latent["anomalies"] = json!(project(&anomaly_codes, &basis));
        let top: Vec<Value> = top_explained(model, &detector, &test.x, scores)
            .await?
            .into_iter()
            .map(|(i, why)| json!({"line": test.lines[i], "score": scores[i], "label": test.labels[i], "why": why}))
            .collect();
        out["metrics"] = metrics_json(scores, &test.labels);
        out["test"] = json!({"scores": scores, "labels": test.labels, "top": top});
    }
    out["latent"] = latent;
    Ok(out)
}
