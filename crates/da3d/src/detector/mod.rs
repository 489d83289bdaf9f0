//! The anomaly detector `f_AD(x) = sigmoid(f_alarm(acts(enc(x))))` and its batched scoring;
//! for an ensemble, the mean of its members' standardised scores ([`Scoring`]; the residual tails
//! term, `tails`, on the host), plus the neighbours term when the model has one (`neighbours`).
//!
//! `score` computes the scores, `scales` measures what standardises them on the training rows,
//! `explain` splits a score by input, `codes` reads the autoencoders' codes. Every read-back is
//! asynchronous (`crate::tensors::read`); native callers wait with [`wait`](crate::tensors::wait).

mod codes;
mod explain;
pub mod neighbours;
mod plane;
mod scales;
mod score;
pub mod tails;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::{AlarmInput, Scoring};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::model::Networks;

pub use crate::tensors::{SCORE_BATCH, networks_to_device};
pub use codes::CodeStats;
pub use neighbours::Neighbours;
pub use plane::{AlarmMap, CodePlane};
pub use scales::{LOG_FLOOR, MIN_RESIDUAL_STD, MemberScale};
pub(crate) use scales::term_moments;
pub use tails::ResidualTails;

/// Which score to compute (over an ensemble: the members' mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// The model's own score: what its config's [`Scoring`] says, plus the neighbours term when
    /// the model has one (what `score` and the threshold use).
    Model,
    /// The DA³D / A³ anomaly score in [0, 1].
    Alarm,
    /// The alarm's logit `f_alarm(acts(enc(x)))` (the same order as `Alarm`, without the
    /// sigmoid's saturation: distinct values where `Alarm` rounds to 1.0 in f32).
    AlarmLogit,
    /// The AAE's mean squared reconstruction error (a baseline).
    Reconstruction,
}

/// The trained networks in inference mode (no dropout, no autodiff): one model or the members of
/// an ensemble.
#[derive(Debug, Clone)]
pub struct Detector {
    pub members: Vec<Networks>,
    pub alarm_input: AlarmInput,
    scoring: Scoring,
    /// One per member for a standardised score ([`Scoring::is_standardised`]).
    scales: Vec<MemberScale>,
    /// The scales' residual means and spreads as `[1, d]` tensors on the device (uploaded once).
    moments: Vec<(Tensor<2>, Tensor<2>)>,
    /// Added to the model's score ([`ScoreKind::Model`]) when the model has one.
    neighbours: Option<Neighbours>,
    /// The config's weight of the residual tails term ([`Ensemble::tails_weight`](crate::config::Ensemble)),
    /// times the score's own ([`Scoring::tails_weight`]).
    tails_weight: f32,
    device: Device,
}

impl Detector {
    /// One model scored by its alarm.
    pub fn new(networks: &Networks, alarm_input: AlarmInput) -> Self {
        Self::of_valid(vec![networks.valid()], alarm_input)
    }

    /// Members already in inference mode (at least one), scored by their alarm.
    fn of_valid(members: Vec<Networks>, alarm_input: AlarmInput) -> Self {
        let device = members[0].alarm.net.layers[0].weight.val().device();
        Detector {
            members,
            alarm_input,
            scoring: Scoring::Alarm,
            scales: Vec::new(),
            moments: Vec::new(),
            neighbours: None,
            tails_weight: 1.0,
            device,
        }
    }

    /// Members scored as `scoring` says; `scales` (one per member) are needed for a standardised
    /// score ([`Scoring::is_standardised`]).
    pub fn ensemble(members: &[Networks], alarm_input: AlarmInput, scoring: Scoring, scales: Vec<MemberScale>) -> Result<Self> {
        if members.is_empty() {
            return Err(Error::Bundle("an ensemble needs at least one member".into()));
        }
        if scoring.is_standardised() && scales.len() != members.len() {
            return Err(Error::Bundle(format!("{} members but {} score scales", members.len(), scales.len())));
        }
        let mut d = Self::of_valid(members.iter().map(|m| m.valid()).collect(), alarm_input);
        d.scoring = scoring;
        d.moments = scales.iter().map(|s| d.residual_tensors(s)).collect();
        d.scales = scales;
        Ok(d)
    }

    /// The model's score ([`ScoreKind::Model`]) with the neighbours term added (for a
    /// standardised score).
    pub fn with_neighbours(mut self, neighbours: Option<Neighbours>) -> Result<Self> {
        if let Some(n) = &neighbours {
            if !self.scoring.is_standardised() {
                return Err(Error::Bundle("the neighbours term needs a standardised score, not the alarm's".into()));
            }
            n.check(self.width())?;
        }
        self.neighbours = neighbours;
        Ok(self)
    }

    /// The residual tails term at `weight` (the config's [`Ensemble::tails_weight`](crate::config::Ensemble)).
    pub fn with_tails_weight(mut self, weight: f32) -> Self {
        self.tails_weight = weight;
        self
    }

    /// The weight of each member's standardised tails term in the score, before the members' mean.
    pub(crate) fn tails_weight(&self) -> f32 {
        self.scoring.tails_weight() * self.tails_weight
    }

    /// Member `k` alone, scored by its alarm (for its [`MemberScale`]).
    pub fn member(&self, k: usize) -> Detector {
        Self::of_valid(vec![self.members[k].clone()], self.alarm_input)
    }

    pub fn scoring(&self) -> Scoring {
        self.scoring
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The first member (codes for the latent plot, generated codes).
    pub(crate) fn first(&self) -> &Networks {
        &self.members[0]
    }

    /// `[1, d]` tensors of the residual means and spreads of a scale.
    pub(crate) fn residual_tensors(&self, scale: &MemberScale) -> (Tensor<2>, Tensor<2>) {
        let d = scale.residual.len();
        let mean: Vec<f32> = scale.residual.iter().map(|p| p.0).collect();
        let std: Vec<f32> = scale.residual.iter().map(|p| p.1).collect();
        (
            Tensor::from_data(TensorData::new(mean, [1, d]), &self.device),
            Tensor::from_data(TensorData::new(std, [1, d]), &self.device),
        )
    }

    /// Inputs per row.
    pub(crate) fn width(&self) -> usize {
        self.first().aae.encoder.layers[0].weight.val().dims()[0]
    }

    pub(crate) fn check_width(&self, x: &Matrix) -> Result<()> {
        let d = self.width();
        if x.cols != d {
            return Err(Error::Schema(format!("the data has {} features, the model expects {d}", x.cols)));
        }
        Ok(())
    }
}
