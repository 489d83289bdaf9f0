//! The two shapes of training data: a row-major matrix of model inputs, and what a preset reads
//! of it (inputs, source columns, rows).

/// A row-major matrix of `f32` features.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, values: Vec<f32>) -> Self {
        assert_eq!(rows * cols, values.len(), "matrix shape does not match its values");
        Matrix { rows, cols, values }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Matrix {
        let mut values = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Matrix { rows: indices.len(), cols: self.cols, values }
    }
}

/// What a preset reads of the training data: the model's inputs (the one-hot width), the table's
/// columns they come from, and the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataShape {
    pub inputs: usize,
    pub columns: usize,
    pub rows: usize,
}

impl DataShape {
    /// A table of numeric columns only: one input per column.
    pub fn numeric(inputs: usize, rows: usize) -> Self {
        DataShape { inputs, columns: inputs, rows }
    }
}
