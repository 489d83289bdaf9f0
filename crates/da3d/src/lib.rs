//! # da3d
//!
//! DA³D — double-adversarial activation anomaly detection for tabular data — on burn.
//!
//! An adversarial autoencoder learns the normal rows; a generator learns artificial anomalies
//! in its code space; an alarm network reads the decoder's hidden activations and learns to
//! tell normal rows from generated and noise anomalies. See `SPEC.md` of the project.
//!
//! The crate has no file system, threads or clocks in its core paths: it builds for
//! `wasm32-unknown-unknown`. Backends are chosen by the caller through a burn `Device`; every
//! read-back from a device is asynchronous, and native callers [`wait`] for it.
//!
//! Layers, from the bottom: `error`, `rng`, `data` (CSV to matrices), `model` (networks),
//! `config` (presets for a table), `tensors` (device I/O), `train` (the state machine),
//! `detector` (scores), `bundle` (the model file), `pipeline` (one fit from a table to a model).

pub mod bundle;
pub mod config;
pub mod data;
pub mod datasets;
pub mod detector;
pub mod error;
pub mod explain;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod rng;
pub mod synthetic;
pub mod tensors;
pub mod train;

pub use config::{Method, Preset, TrainingConfig};
pub use detector::{Detector, ScoreKind};
pub use error::{Error, Result};
pub use tensors::wait;
pub use train::{EpochLosses, EpochReport, Network, Phase, Progress, Step, Trainer};

/// This crate's version, recorded in bundles.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
