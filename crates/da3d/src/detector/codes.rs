//! The autoencoders' codes of rows (the latent picture, code statistics) and the generator's
//! codes (generated anomalies).

use burn::tensor::Tensor;

use super::Detector;
use crate::data::Matrix;
use crate::error::Result;
use crate::tensors::{in_batches, read};

/// Per-dimension mean and standard deviation of codes (to compare with N(0, I)).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CodeStats {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl CodeStats {
    pub fn of(codes: &Matrix) -> Self {
        let n = codes.rows.max(1) as f64;
        let mut mean = vec![0f64; codes.cols];
        for r in 0..codes.rows {
            for (m, v) in mean.iter_mut().zip(codes.row(r)) {
                *m += *v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; codes.cols];
        for r in 0..codes.rows {
            for ((s, v), m) in var.iter_mut().zip(codes.row(r)).zip(&mean) {
                *s += (*v as f64 - m).powi(2);
            }
        }
        CodeStats {
            mean: mean.iter().map(|m| *m as f32).collect(),
            std: var.iter().map(|s| (s / n).sqrt() as f32).collect(),
        }
    }
}

impl Detector {
    fn code_size(&self) -> usize {
        self.first().aae.encoder.layers.last().expect("an encoder has layers").weight.val().dims()[1]
    }

    /// Codes of all rows as one tensor `[rows, code]`, computed in batches.
    fn code_batches(&self, x: &Matrix) -> Option<Tensor<2>> {
        in_batches(x, &self.device, |t| self.first().aae.encode(t))
    }

    /// Codes of every row by the first member: `[rows × code]` row-major (for the latent plot and
    /// code statistics).
    pub async fn codes(&self, x: &Matrix) -> Result<Matrix> {
        self.check_width(x)?;
        let values = match self.code_batches(x) {
            Some(t) => read(t).await?,
            None => Vec::new(),
        };
        Ok(Matrix::new(x.rows, self.code_size(), values))
    }

    /// Generated anomaly codes `h~ = f_gen(n)` of the first member for `n` noise draws (for the
    /// latent picture).
    pub async fn generated_codes(&self, n: usize) -> Result<Matrix> {
        let generator = &self.first().generator;
        let g = generator.net.layers[0].weight.val().dims()[0];
        let code = generator.net.layers.last().unwrap().weight.val().dims()[1];
        let noise = Tensor::random([n, g], burn::tensor::Distribution::Normal(0.0, 1.0), &self.device);
        let values = read(generator.forward(noise)).await?;
        Ok(Matrix::new(n, code, values))
    }
}
