//! The binding's errors and the Python exceptions they become.

use pyo3::PyErr;
use pyo3::exceptions::{PyRuntimeError, PyValueError};

/// What can go wrong between Python and the model crate.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// The model crate's error, its message unchanged.
    #[error(transparent)]
    Model(#[from] da3d::Error),
    /// Input the binding refuses before the model crate sees it.
    #[error("{0}")]
    Input(String),
    /// A training thread stopped without a result.
    #[error("a training thread stopped unexpectedly: {0}")]
    Thread(String),
    /// Training was stopped between batches (Ctrl-C): no model.
    #[error("training was interrupted; no model was made")]
    Interrupted,
}

impl From<BindingError> for PyErr {
    /// Bad input (CSV cells, data, config, a bundle or columns that do not fit) is a
    /// `ValueError`; a failed training or backend a `RuntimeError`.
    fn from(e: BindingError) -> PyErr {
        let message = e.to_string();
        match e {
            BindingError::Input(_) => PyValueError::new_err(message),
            BindingError::Model(
                da3d::Error::Csv { .. } | da3d::Error::Data(_) | da3d::Error::Config { .. } | da3d::Error::Bundle(_) | da3d::Error::Schema(_),
            ) => PyValueError::new_err(message),
            BindingError::Interrupted => pyo3::exceptions::PyKeyboardInterrupt::new_err(message),
            BindingError::Model(_) | BindingError::Thread(_) => PyRuntimeError::new_err(message),
        }
    }
}

pub type Result<T, E = BindingError> = std::result::Result<T, E>;

/// A cell error of CSV text made from `X` whose first data row is row `first_row` of `X`, told
/// by `X`'s row (0-based) instead of the text's line; other errors unchanged.
pub fn at_row_of_x(e: da3d::Error, first_row: usize) -> BindingError {
    match e {
        da3d::Error::Csv { location, message } if location.line >= 2 => {
            let row = first_row as u64 + location.line - 2;
            let column = location.column.map(|c| format!(", column '{c}'")).unwrap_or_default();
            BindingError::Input(format!("row {row} of X{column}: {message}"))
        }
        e => BindingError::Model(e),
    }
}
