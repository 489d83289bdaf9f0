//! Typed errors of the model crate. Every data error names the line and the column where it can.

use thiserror::Error;

/// Where in a CSV input something went wrong. `line` is 1-based and counts physical lines
/// (the header is line 1); `column` is the header name when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: u64,
    pub column: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(col) => write!(f, "line {}, column '{}'", self.line, col),
            None => write!(f, "line {}", self.line),
        }
    }
}

/// Errors returned by the `da3d` crate.
#[derive(Debug, Error)]
pub enum Error {
    /// Malformed CSV input (syntax, encoding, ragged rows, bad values).
    #[error("{location}: {message}")]
    Csv { location: Location, message: String },

    /// A data-level problem that is not tied to one cell (empty file, too few rows, single class...).
    #[error("{0}")]
    Data(String),

    /// An invalid configuration value.
    #[error("invalid config: {field}: {message}")]
    Config { field: String, message: String },

    /// A model bundle that cannot be read.
    #[error("invalid model bundle: {0}")]
    Bundle(String),

    /// A bundle whose columns do not fit the data.
    #[error("the model does not fit this data: {0}")]
    Schema(String),

    /// Training produced a NaN or infinite loss.
    #[error("training diverged in phase '{phase}' at epoch {epoch}: {what} is {value}")]
    Diverged { phase: String, epoch: usize, what: String, value: f32 },

    /// The backend failed (device lost, read-back failed...).
    #[error("backend error: {0}")]
    Backend(String),
}

impl Error {
    pub(crate) fn csv(line: u64, column: Option<&str>, message: impl Into<String>) -> Self {
        Error::Csv {
            location: Location { line, column: column.map(str::to_string) },
            message: message.into(),
        }
    }

    pub(crate) fn config(field: &str, message: impl Into<String>) -> Self {
        Error::Config { field: field.to_string(), message: message.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
