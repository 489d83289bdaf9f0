//! The `da3d._native` Python module: the model crate's fit pipeline, scorer and bundles over CSV
//! text. The estimator (`da3d.DA3D`, PyOD's contract) is Python, in `python/da3d/`; it turns
//! arrays and data frames into the CSV text the CLI would read. The GIL is released while a
//! table is read, a model trains or rows are scored.

pub mod csv_text;
pub mod error;
pub mod fit;
pub mod score;

use da3d::bundle::Model;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::BindingError;
use crate::fit::FitSettings;

/// Little-endian `f32` bytes of `values` (NumPy reads them without a copy per value).
fn f32_bytes<'py>(py: Python<'py>, values: &[f32]) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    PyBytes::new(py, &bytes)
}

/// A trained model: a `.da3d` bundle in memory.
#[pyclass(name = "Model", module = "da3d._native", frozen)]
pub struct PyModel {
    model: Model,
}

#[pymethods]
impl PyModel {
    /// Read a bundle's bytes (as the CLI writes them).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, bundle: &[u8]) -> PyResult<PyModel> {
        let model = py.detach(|| Model::from_bytes(bundle, &burn::tensor::Device::flex())).map_err(BindingError::from)?;
        Ok(PyModel { model })
    }

    /// The bundle's bytes (as the CLI reads them).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.model.to_bytes()).map_err(BindingError::from)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Scores above it are anomalies.
    #[getter]
    fn threshold(&self) -> f32 {
        self.model.header.threshold
    }

    /// The share of training rows above the threshold.
    #[getter]
    fn threshold_rate(&self) -> f64 {
        self.model.header.threshold_rate
    }

    /// The source columns the model reads, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.model.header.preprocessor.columns.iter().map(|c| c.name().to_string()).collect()
    }

    /// The bundle's header as JSON (what `da3d info --json` prints).
    fn header_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.model.header).map_err(|e| BindingError::Input(e.to_string()).into())
    }

    /// The score of every row of the CSV text `csv`, as little-endian `f32` bytes. Its first row
    /// is row `first_row` of `X` (errors name `X`'s rows).
    #[pyo3(signature = (csv, first_row=0))]
    fn score_csv<'py>(&self, py: Python<'py>, csv: &[u8], first_row: usize) -> PyResult<Bound<'py, PyBytes>> {
        let scores = py.detach(|| score::score_csv(&self.model, csv, first_row))?;
        Ok(f32_bytes(py, &scores))
    }

    /// For every row of `csv`, the `top` columns that push its score up: `(column, value,
    /// share)`, largest share first. Its first row is row `first_row` of `X`.
    #[pyo3(signature = (csv, top, first_row=0))]
    fn explain_csv(&self, py: Python<'_>, csv: &[u8], top: usize, first_row: usize) -> PyResult<Vec<Vec<(String, String, f32)>>> {
        let rows = py.detach(|| score::explain_csv(&self.model, csv, first_row, top))?;
        Ok(rows.into_iter().map(|row| row.into_iter().map(|a| (a.column, a.value, a.share)).collect()).collect())
    }
}

/// Train on every row of the CSV text `csv`; returns the model and the training rows' scores
/// (little-endian `f32` bytes).
#[pyfunction]
#[pyo3(signature = (csv, preset, members, seed, threshold_rate, threads, dataset, categorical))]
#[allow(clippy::too_many_arguments)]
fn fit_csv<'py>(
    py: Python<'py>,
    csv: &[u8],
    preset: &str,
    members: Option<usize>,
    seed: u64,
    threshold_rate: f64,
    threads: Option<usize>,
    dataset: Option<String>,
    categorical: Vec<String>,
) -> PyResult<(PyModel, Bound<'py, PyBytes>)> {
    let preset = preset.parse().map_err(BindingError::from)?;
    let settings = FitSettings { preset, members, seed, threshold_rate, threads, dataset, categorical };
    // Ctrl-C stops training: Python's signal handlers run when asked on the main thread.
    let signal: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
    let interrupted = || match Python::attach(|py| py.check_signals()) {
        Ok(()) => false,
        Err(e) => {
            *signal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            true
        }
    };
    let fitted = py.detach(|| fit::fit_csv(csv, &settings, &interrupted));
    if let Some(e) = signal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let fitted = fitted?;
    Ok((PyModel { model: fitted.model }, f32_bytes(py, &fitted.train_scores)))
}

/// CSV text of a row-major matrix (`values`: little-endian `f64` bytes) under the header `names`.
#[pyfunction]
fn numbers_csv<'py>(py: Python<'py>, values: &[u8], rows: usize, cols: usize, names: Vec<String>) -> PyResult<Bound<'py, PyBytes>> {
    let text = py.detach(|| {
        if !values.len().is_multiple_of(8) {
            return Err(BindingError::Input(format!("{} bytes are not a whole number of f64 values", values.len())));
        }
        let numbers: Vec<f64> = values.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect();
        csv_text::numbers_csv(&numbers, rows, cols, &names)
    })?;
    Ok(PyBytes::new(py, &text))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(fit_csv, m)?)?;
    m.add_function(wrap_pyfunction!(numbers_csv, m)?)?;
    m.add("VERSION", da3d::VERSION)?;
    Ok(())
}
