//! What the page draws of a model and its data: metrics and curves, the latent picture (codes
//! projected on the normal codes' two leading principal directions), the most anomalous rows with
//! their explanations.

use da3d::bundle::Model;
use da3d::data::Matrix;
use da3d::metrics;
use da3d::pipeline::FitData;
use da3d::Detector;
use da3d::detector::CodePlane;
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

pub(crate) async fn results_json(
    model: &Model,
    data: &FitData,
    train_codes: &Matrix,
    train_scores: &[f32],
    test_scores: Option<&[f32]>,
) -> Result<Value, JsError> {
    let detector: Detector = model.detector();
    let plane = CodePlane::of(train_codes);
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
        "normal": plane.project(&sample(train_codes, 1500)),
        "generated": plane.project(&generated),
        "projected": plane.projected(),
    });
    let mut out = json!({
        "threshold": model.header.threshold,
        "train_scores": train_scores.iter().step_by((train_scores.len() / 2000).max(1)).collect::<Vec<_>>(),
        "notes": data.notes,
    });
    if let (Some(test), Some(scores)) = (&data.test, test_scores) {
        let anomalies: Vec<usize> = (0..test.labels.len()).filter(|&i| test.labels[i] == 1).collect();
        let anomaly_codes = detector.codes(&test.x.select(&anomalies)).await.map_err(err)?;
        latent["anomalies"] = json!(plane.project(&anomaly_codes));
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

/// What `Workbench::code_plane` returns (see there).
pub(crate) async fn code_plane_json(fit: &da3d::pipeline::Fit, grid: usize, generated: usize) -> Result<Value, JsError> {
    let detector = fit.detector();
    let data = fit.data();
    let step = (data.train.rows / 600).max(1);
    let sample: Vec<usize> = (0..data.train.rows).step_by(step).take(600).collect();
    let codes = detector.codes(&data.train.select(&sample)).await.map_err(err)?;
    let plane = CodePlane::of(&codes);
    let normal = plane.project(&codes);
    let fake = plane.project(&detector.generated_codes(generated).await.map_err(err)?);
    let anomalies = match &data.test {
        Some(test) => {
            let rows: Vec<usize> = (0..test.labels.len()).filter(|&i| test.labels[i] == 1).collect();
            plane.project(&detector.codes(&test.x.select(&rows)).await.map_err(err)?)
        }
        None => Vec::new(),
    };
    // The map spans the normal and real anomalous codes, and the generated ones within three
    // times the normal codes' extent of it (a generator far off would shrink everything else).
    let span = |axis: usize, points: &[[f32; 2]]| -> [f32; 2] {
        let (lo, hi) = points.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), p| (lo.min(p[axis]), hi.max(p[axis])));
        if lo.is_finite() { [lo, hi] } else { [-1.0, 1.0] }
    };
    let extent = |axis: usize| -> [f32; 2] {
        let [lo, hi] = span(axis, &[normal.as_slice(), anomalies.as_slice()].concat());
        let width = (hi - lo).max(1e-3);
        let [glo, ghi] = span(axis, &fake);
        let (lo, hi) = (lo.min(glo.max(lo - width)), hi.max(ghi.min(hi + width)));
        let pad = 0.08 * (hi - lo).max(1e-3);
        [lo - pad, hi + pad]
    };
    let map = detector.alarm_map(&plane, extent(0), extent(1), grid).await.map_err(err)?;
    let alarm = fit.evaluate(da3d::ScoreKind::Alarm).await.map_err(err)?.map(|e| json!({"roc_auc": e.test.0, "average_precision": e.test.1}));
    Ok(json!({
        "projected": plane.projected(),
        "normal": normal,
        "anomalies": anomalies,
        "generated": fake,
        "map": map,
        "alarm": alarm,
    }))
}
