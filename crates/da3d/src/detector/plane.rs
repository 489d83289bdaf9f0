//! The code plane: where DA³D's two adversaries meet, drawn in two dimensions. The first
//! member's codes on a plane (the code itself when it has two numbers, else the normal codes' two
//! leading principal directions), and the alarm's probability over a grid of that plane: each
//! grid point is lifted back to a code, decoded, and the decoder's activations read by the alarm
//! (as a generated anomaly's are while the generator trains).

use burn::tensor::{Tensor, TensorData, activation};
use serde::Serialize;

use super::Detector;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::alarm_input_codes;
use crate::tensors::read;

/// A plane in code space: its origin and two orthonormal axes (`None`: the code's own two numbers).
#[derive(Debug, Clone, PartialEq)]
pub struct CodePlane {
    origin: Vec<f32>,
    axes: Option<[Vec<f32>; 2]>,
}

/// The alarm's probability over a `size` × `size` grid of the plane spanning `x` × `y`: row `j`
/// of `probability` (length `size²`) is the grid's `j`-th value of y from `y[0]`, its entries x
/// from `x[0]` to `x[1]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmMap {
    pub x: [f32; 2],
    pub y: [f32; 2],
    pub size: usize,
    pub probability: Vec<f32>,
}

impl CodePlane {
    /// The plane of codes `[rows, code]` (normal training codes): the code itself when it has at
    /// most two numbers, else their mean and two leading principal directions.
    pub fn of(codes: &Matrix) -> CodePlane {
        let d = codes.cols;
        if d <= 2 || codes.rows == 0 {
            return CodePlane { origin: vec![0.0; d], axes: None };
        }
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
        let mut deflated = cov;
        for i in 0..d {
            for j in 0..d {
                deflated[i * d + j] -= lambda * a[i] * a[j];
            }
        }
        let b = power(&deflated);
        CodePlane { origin: mean, axes: Some([a, b]) }
    }

    /// Whether the plane is a projection (codes of more than two numbers).
    pub fn projected(&self) -> bool {
        self.axes.is_some()
    }

    /// Two coordinates per code of `codes` `[rows, code]`.
    pub fn project(&self, codes: &Matrix) -> Vec<[f32; 2]> {
        (0..codes.rows)
            .map(|r| {
                let row = codes.row(r);
                match &self.axes {
                    None => [row.first().copied().unwrap_or(0.0), row.get(1).copied().unwrap_or(0.0)],
                    Some([a, b]) => {
                        let dot = |v: &[f32]| row.iter().zip(&self.origin).zip(v).map(|((x, m), w)| (x - m) * w).sum::<f32>();
                        [dot(a), dot(b)]
                    }
                }
            })
            .collect()
    }

    /// The codes `[points, code]` of plane points: origin + u·first axis + v·second axis.
    pub fn lift(&self, points: &[[f32; 2]]) -> Matrix {
        let d = self.origin.len();
        let mut values = Vec::with_capacity(points.len() * d);
        for &[u, v] in points {
            match &self.axes {
                None => values.extend([u, v].iter().take(d)),
                Some([a, b]) => values.extend((0..d).map(|i| self.origin[i] + u * a[i] + v * b[i])),
            }
        }
        Matrix::new(points.len(), d, values)
    }
}

impl Detector {
    /// The first member's alarm probability over a `size` × `size` grid of `plane` spanning
    /// `x` × `y` (each point decoded, its activations read by the alarm).
    pub async fn alarm_map(&self, plane: &CodePlane, x: [f32; 2], y: [f32; 2], size: usize) -> Result<AlarmMap> {
        if !(2..=256).contains(&size) {
            return Err(Error::Data(format!("a grid of {size} points a side (2 to 256)")));
        }
        let at = |range: [f32; 2], i: usize| range[0] + (range[1] - range[0]) * i as f32 / (size - 1) as f32;
        let points: Vec<[f32; 2]> = (0..size).flat_map(|j| (0..size).map(move |i| [at(x, i), at(y, j)])).collect();
        let codes = plane.lift(&points);
        let member = self.first();
        let t = Tensor::<2>::from_data(TensorData::new(codes.values, [codes.rows, codes.cols]), &self.device);
        let acts = alarm_input_codes(&member.aae, t, self.alarm_input);
        let probability = read(activation::sigmoid(member.alarm.forward(acts)).reshape([points.len()])).await?;
        Ok(AlarmMap { x, y, size, probability })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_two_numbers_are_their_own_plane_and_wider_ones_project_on_their_spread() {
        let two = Matrix::new(3, 2, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let p = CodePlane::of(&two);
        assert!(!p.projected());
        assert_eq!(p.project(&two), vec![[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]);
        assert_eq!(p.lift(&[[7.0, 8.0]]).values, vec![7.0, 8.0]);
        // Three numbers spread along (1, 1, 0) mostly, then (0, 0, 1): the plane keeps both.
        let rows: Vec<f32> = (0..200).flat_map(|i| {
            let (s, t) = ((i % 20) as f32 - 9.5, ((i / 20) % 5) as f32 - 2.0);
            [s, s, 0.3 * t]
        }).collect();
        let wide = Matrix::new(200, 3, rows);
        let p = CodePlane::of(&wide);
        assert!(p.projected());
        let projected = p.project(&wide);
        let back = p.lift(&projected);
        for (a, b) in back.values.iter().zip(&wide.values) {
            assert!((a - b).abs() < 1e-3, "{a} {b}: the codes lie in the plane");
        }
    }
}
