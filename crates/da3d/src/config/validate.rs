//! Checks of a training config (every value, the error naming the field), the checked config a
//! trainer takes ([`ValidConfig`]), the checked share of rows a threshold flags
//! ([`ThresholdRate`]), and overrides of any field from JSON.

use serde::{Serialize, Serializer};

use super::{Lipschitz, MAX_DENSITY_RATIO, MAX_MEMBERS, MAX_NEIGHBOURS, Method, Scoring, TrainingConfig};
use crate::error::{Error, Result};

/// Most epochs of one phase.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Largest batch.
pub const MAX_BATCH_SIZE: usize = 1 << 24;
/// Widest layer.
pub const MAX_WIDTH: usize = 1 << 16;
/// Most layers of one network.
pub const MAX_LAYERS: usize = 32;

/// A training config whose every value was checked ([`TrainingConfig::validated`]): what a
/// trainer, a fit and a loaded bundle hold. Reads as the config it wraps.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidConfig(TrainingConfig);

impl ValidConfig {
    pub fn into_inner(self) -> TrainingConfig {
        self.0
    }

    /// Ensemble member `k` trained alone ([`TrainingConfig::member`]; still valid).
    pub fn member(&self, k: usize) -> ValidConfig {
        ValidConfig(self.0.member(k))
    }

    /// This config with `members` ensemble members (a stopped run keeps the members it has).
    pub fn with_members(&self, members: usize) -> Result<ValidConfig> {
        if !(1..=MAX_MEMBERS).contains(&members) {
            return Err(Error::config("ensemble.members", format!("{members} is outside 1..={MAX_MEMBERS}")));
        }
        let mut c = self.0.clone();
        c.ensemble.members = members;
        Ok(ValidConfig(c))
    }
}

impl std::ops::Deref for ValidConfig {
    type Target = TrainingConfig;
    fn deref(&self) -> &TrainingConfig {
        &self.0
    }
}

impl Serialize for ValidConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// The share of training rows a model's threshold flags, in [0, 0.5] (checked once, here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdRate(f64);

impl ThresholdRate {
    /// 1 % of the training rows (the CLI's and the page's default).
    pub const DEFAULT: ThresholdRate = ThresholdRate(0.01);

    pub fn new(rate: f64) -> Result<Self> {
        if (0.0..=0.5).contains(&rate) {
            Ok(ThresholdRate(rate))
        } else {
            Err(Error::config("threshold_rate", format!("{rate} is outside [0, 0.5]")))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TrainingConfig {
    /// Apply a JSON object of overrides (nested like the config itself). Unknown fields are errors.
    pub fn with_overrides(&self, overrides: &serde_json::Value) -> Result<Self> {
        let mut base = serde_json::to_value(self).map_err(|e| Error::config("(config)", e.to_string()))?;
        merge(&mut base, overrides, "")?;
        serde_json::from_value(base).map_err(|e| Error::config("(config)", e.to_string()))
    }

    /// This config, every value checked; the error names the field.
    pub fn validated(self) -> Result<ValidConfig> {
        self.validate()?;
        Ok(ValidConfig(self))
    }

    /// Check every value; the error names the field.
    pub(crate) fn validate(&self) -> Result<()> {
        let a = &self.architecture;
        let nonempty = |name: &str, v: &[usize]| -> Result<()> {
            if v.is_empty() {
                return Err(Error::config(name, "the layer list is empty"));
            }
            if v.contains(&0) {
                return Err(Error::config(name, "a layer has width 0"));
            }
            Ok(())
        };
        nonempty("architecture.encoder", &a.encoder)?;
        nonempty("architecture.alarm", &a.alarm)?;
        nonempty("architecture.generator", &a.generator)?;
        nonempty("architecture.critic", &a.critic)?;
        nonempty("architecture.latent_discriminator", &a.latent_discriminator)?;
        if a.encoder.len() < 2 {
            return Err(Error::config("architecture.encoder", "needs at least one hidden layer and the code layer"));
        }
        if a.generator_noise == 0 {
            return Err(Error::config("architecture.generator_noise", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&a.dropout) {
            return Err(Error::config("architecture.dropout", format!("{} is outside [0, 1)", a.dropout)));
        }
        let s = &self.schedule;
        if s.batch_size == 0 {
            return Err(Error::config("schedule.batch_size", "must be at least 1"));
        }
        if s.batch_size > MAX_BATCH_SIZE {
            return Err(Error::config("schedule.batch_size", format!("{} is more than {MAX_BATCH_SIZE}", s.batch_size)));
        }
        for (name, epochs) in [
            ("schedule.aae_epochs", s.aae_epochs),
            ("schedule.pretrain_epochs", s.pretrain_epochs),
            ("schedule.da3d_epochs", s.da3d_epochs),
        ] {
            if epochs > MAX_EPOCHS {
                return Err(Error::config(name, format!("{epochs} is more than {MAX_EPOCHS}")));
            }
        }
        for (name, widths) in [
            ("architecture.encoder", &a.encoder),
            ("architecture.alarm", &a.alarm),
            ("architecture.generator", &a.generator),
            ("architecture.critic", &a.critic),
            ("architecture.latent_discriminator", &a.latent_discriminator),
        ] {
            if let Some(w) = widths.iter().find(|&&w| w > MAX_WIDTH) {
                return Err(Error::config(name, format!("a layer of width {w} is wider than {MAX_WIDTH}")));
            }
            if widths.len() > MAX_LAYERS {
                return Err(Error::config(name, format!("{} layers are more than {MAX_LAYERS}", widths.len())));
            }
        }
        if a.generator_noise > MAX_WIDTH {
            return Err(Error::config("architecture.generator_noise", format!("{} is more than {MAX_WIDTH}", a.generator_noise)));
        }
        if s.aae_epochs == 0 {
            return Err(Error::config("schedule.aae_epochs", "must be at least 1: the alarm reads a trained AAE"));
        }
        if s.pretrain_epochs + s.da3d_epochs == 0 && self.ensemble.scoring.reads_alarm() {
            return Err(Error::config(
                "schedule.da3d_epochs",
                "pretrain_epochs + da3d_epochs must be at least 1 when the score reads the alarm",
            ));
        }
        let o = &self.optimizer;
        if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) {
            return Err(Error::config("optimizer.learning_rate", format!("{} must be positive", o.learning_rate)));
        }
        if !(0.0..1.0).contains(&o.beta_1) || !(0.0..1.0).contains(&o.beta_2) {
            return Err(Error::config("optimizer.beta_1/beta_2", "must be in [0, 1)"));
        }
        if !(o.epsilon > 0.0) {
            return Err(Error::config("optimizer.epsilon", "must be positive"));
        }
        let l = &self.losses;
        if l.critic_weights.iter().any(|w| !w.is_finite()) {
            return Err(Error::config("losses.critic_weights", "must be finite"));
        }
        for (name, v) in [
            ("losses.critic_noise_std", l.critic_noise_std),
            ("losses.trivial_anomaly_std", l.trivial_anomaly_std),
            ("losses.simple_generator_std", l.simple_generator_std),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::config(name, format!("{v} must be positive")));
            }
        }
        match l.lipschitz {
            Lipschitz::WeightClip(c) | Lipschitz::GradNormClip(c) if !(c.is_finite() && c > 0.0) => {
                return Err(Error::config("losses.lipschitz", format!("{c} must be positive")));
            }
            _ => {}
        }
        if !(1..=MAX_MEMBERS).contains(&self.ensemble.members) {
            return Err(Error::config("ensemble.members", format!("{} is outside 1..={MAX_MEMBERS}", self.ensemble.members)));
        }
        if self.ensemble.neighbours > MAX_NEIGHBOURS {
            return Err(Error::config("ensemble.neighbours", format!("{} is above {MAX_NEIGHBOURS}", self.ensemble.neighbours)));
        }
        if self.ensemble.neighbours > 0 && !self.ensemble.scoring.is_standardised() {
            return Err(Error::config("ensemble.neighbours", "the neighbours term adds to a standardised score, not to the alarm's"));
        }
        let w = self.ensemble.tails_weight;
        if self.ensemble.scoring == Scoring::ScaledTails {
            if !(w > 0.0 && w <= 1.0) {
                return Err(Error::config("ensemble.tails_weight", format!("{w} is outside (0, 1]")));
            }
        } else if w != 1.0 {
            return Err(Error::config("ensemble.tails_weight", format!("{w}: the weight applies to the score scaled-tails only")));
        }
        let r = self.ensemble.density_ratio;
        if !(r.is_finite() && (0.0..=MAX_DENSITY_RATIO).contains(&r)) {
            return Err(Error::config("ensemble.density_ratio", format!("{r} is outside [0, {MAX_DENSITY_RATIO}]")));
        }
        if self.method == Method::SimpleGenerator && l.simple_generator_pool == 0 {
            return Err(Error::config("losses.simple_generator_pool", "must be at least 1"));
        }
        Ok(())
    }
}

fn merge(base: &mut serde_json::Value, over: &serde_json::Value, path: &str) -> Result<()> {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match b.get_mut(k) {
                    // Tagged enums (`{"kind": ..}`) are replaced whole; plain structs merge.
                    Some(slot) if slot.is_object() && v.is_object() && slot.get("kind").is_none() => {
                        merge(slot, v, &p)?
                    }
                    Some(slot) => *slot = v.clone(),
                    None => return Err(Error::config(&p, "unknown field")),
                }
            }
            Ok(())
        }
        (_, _) => Err(Error::config(if path.is_empty() { "(config)" } else { path }, "expected a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn overrides_and_validation() {
        let p = TrainingConfig::preset(Preset::Paper, 6, None);
        let o = p
            .with_overrides(&serde_json::json!({"schedule": {"da3d_epochs": 7}, "losses": {"lipschitz": {"kind": "weight-clip", "value": 0.05}}}))
            .unwrap();
        assert_eq!(o.schedule.da3d_epochs, 7);
        assert_eq!(o.schedule.aae_epochs, 500);
        assert_eq!(o.losses.lipschitz, Lipschitz::WeightClip(0.05));
        let e = p.with_overrides(&serde_json::json!({"schedule": {"epochs": 1}})).unwrap_err();
        assert!(e.to_string().contains("schedule.epochs"), "{e}");
        let e = p.with_overrides(&serde_json::json!({"architecture": {"alarm": []}})).and_then(TrainingConfig::validated).unwrap_err();
        assert!(e.to_string().contains("architecture.alarm"), "{e}");
        let e = p.with_overrides(&serde_json::json!({"architecture": {"critic": vec![5; 40]}})).and_then(TrainingConfig::validated).unwrap_err();
        assert!(e.to_string().contains("architecture.critic") && e.to_string().contains("40 layers"), "{e}");
        assert_eq!(ThresholdRate::new(0.5).unwrap().get(), 0.5);
        assert!(ThresholdRate::new(0.9).unwrap_err().to_string().contains("threshold_rate"));
        let e = p.with_overrides(&serde_json::json!({"schedule": {"batch_size": -3}})).unwrap_err();
        assert!(e.to_string().contains("invalid config"), "{e}");
        let json = serde_json::to_string(&p).unwrap();
        let back: TrainingConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
