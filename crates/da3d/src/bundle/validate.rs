//! The checks a bundle's header passes before any weight is read: the stored config against the
//! networks and the format, the score's terms against the input width, every number finite.

use super::{BundleHeader, autoencoders_alone, needs_format_7, needs_format_8, reads_autoencoders_alone, tails_format};
use crate::config::MAX_NEIGHBOURS;
use crate::data::FeatureColumn;
use crate::error::{Error, Result};

/// Parameters a format-6 bundle may ask to be built beside its stored autoencoders whatever their
/// size (the alarm, generator and critics it does not store): 2^25, 128 MiB of f32. `robust`'s
/// five members ask for at most 24.1 million (every table from some 600 inputs up: its widths
/// are capped; a test holds every width within three quarters of the bound).
pub(super) const UNSTORED_PARAMETERS: u64 = 1 << 25;
/// Beyond [`UNSTORED_PARAMETERS`], the unstored networks' parameters per stored one a bundle may
/// ask for: what the file holds bounds what loading it builds.
pub(super) const UNSTORED_PER_STORED: u64 = 4;

impl BundleHeader {
    /// Check everything the header says against itself and the format `version`, before any
    /// weight is read: the stored config (validated), the networks it gives, the input width, what
    /// the format holds, the score's terms, every number finite.
    pub(super) fn check(&self, version: u32) -> Result<()> {
        let header = self;
        let config = header.config.clone().validated().map_err(|e| Error::Bundle(format!("stored config is not valid: {e}")))?;
        // The stored networks must be the ones the stored (validated) config gives: an edited or
        // corrupted `networks` entry (say, dropout 1.2, found by fuzzing) must not reach burn.
        let expected = config.networks(header.networks.aae.d_input);
        if serde_json::to_value(&expected).ok() != serde_json::to_value(&header.networks).ok() {
            return Err(Error::Bundle("the stored networks do not match the stored config".into()));
        }
        if header.preprocessor.width() != header.networks.aae.d_input {
            return Err(Error::Bundle(format!(
                "preprocessing gives {} inputs but the networks take {}",
                header.preprocessor.width(),
                header.networks.aae.d_input
            )));
        }
        check_format(version, header)?;
        // Format 6 stores the autoencoders alone; the members' other networks are built empty
        // around them, so their size comes from the config alone: bounded by what is stored, or
        // by a small allowance (an edited config asked for two alarm layers of 60,000 units: 14 GB).
        if autoencoders_alone(version, &self.config) {
            let unstored = (self.networks.parameter_count() - self.networks.aae_parameter_count()).saturating_mul(self.config.ensemble.members as u64);
            let parameters = self.networks.aae_parameter_count().saturating_mul(self.config.ensemble.members as u64);
            if unstored > parameters.saturating_mul(UNSTORED_PER_STORED).max(UNSTORED_PARAMETERS) {
                return Err(Error::Bundle(format!(
                    "the config's alarm, generator and critics would have {unstored} parameters, more than {UNSTORED_PER_STORED} \
                     times the {parameters} stored for the autoencoders (format 6 stores the autoencoders alone)"
                )));
            }
        }
        header.check_terms()?;
        header.check_numbers()
    }

    /// Check that the score scales and the neighbours term fit the config and the input width.
    pub(super) fn check_terms(&self) -> Result<()> {
        let h = self;
        let want = h.config.ensemble.members;
        if h.config.ensemble.scoring.is_standardised() {
            let scales = h.scales.as_ref().map_or(0, Vec::len);
            if scales != want {
                return Err(Error::Bundle(format!("{want} members but {scales} score scales")));
            }
            let finite = |p: &(f32, f32)| p.0.is_finite() && p.1.is_finite() && p.1 > 0.0;
            let d = h.networks.aae.d_input;
            for s in h.scales.iter().flatten() {
                if s.residual.len() != d {
                    return Err(Error::Bundle(format!("a score scale has {} residual moments for {d} inputs", s.residual.len())));
                }
                if !finite(&s.logit) || !finite(&s.log_error) || !s.residual.iter().all(finite) {
                    return Err(Error::Bundle("a score scale is not finite and positive".into()));
                }
                match (&s.tails, h.config.ensemble.scoring.reads_tails()) {
                    (Some(t), true) => t.check(d)?,
                    (None, false) => {}
                    (None, true) => return Err(Error::Bundle("the score reads residual tails but a score scale has none".into())),
                    (Some(_), false) => return Err(Error::Bundle("residual tails the score does not read".into())),
                }
            }
        }
        match (h.config.ensemble.neighbours, &h.neighbours) {
            (0, None) => {}
            (0, Some(_)) => return Err(Error::Bundle("a neighbours term the config does not ask for".into())),
            (k, None) => return Err(Error::Bundle(format!("the config adds the {k}-th neighbour's distance but the bundle has no reference rows"))),
            (k, Some(n)) => {
                if n.k > k.min(MAX_NEIGHBOURS) {
                    return Err(Error::Bundle(format!("the neighbours term counts the {}-th neighbour but the config asks for the {k}-th", n.k)));
                }
                if n.distance != h.config.ensemble.neighbours_distance {
                    return Err(Error::Bundle("the neighbours term reads its nearest rows otherwise than the config says".into()));
                }
                n.check(h.networks.aae.d_input)?
            }
        }
        Ok(())
    }

    /// Check that every number of the header the score reads is finite: the threshold and
    /// quantiles, the preprocessing's ranges, the code statistics.
    pub fn check_numbers(&self) -> Result<()> {
        let h = self;
        let bad = |what: &str| Err(Error::Bundle(format!("{what} is not a finite number")));
        if !h.threshold.is_finite() {
            return bad("the threshold");
        }
        if !(0.0..=0.5).contains(&h.threshold_rate) {
            return Err(Error::Bundle(format!("the threshold share {} is outside [0, 0.5]", h.threshold_rate)));
        }
        if h.train_score_quantiles.iter().any(|(q, s)| !q.is_finite() || !s.is_finite()) {
            return bad("a training-score quantile");
        }
        for c in &h.preprocessor.columns {
            if let FeatureColumn::Numeric { name, min, max } = c
                && !(min.is_finite() && max.is_finite() && min <= max)
            {
                return Err(Error::Bundle(format!("column '{name}': its training range [{min}, {max}] is not finite and ordered")));
            }
        }
        if let Some(s) = &h.code_stats
            && s.mean.iter().chain(&s.std).any(|v| !v.is_finite())
        {
            return bad("a code statistic");
        }
        Ok(())
    }
}

/// Whether the format `version` can hold what `header` describes (members, the neighbours term,
/// the residual tails term, the autoencoders alone).
fn check_format(version: u32, header: &BundleHeader) -> Result<()> {
    let members = header.config.ensemble.members;
    if version < 3 && (version == 1) != (members == 1) {
        return Err(Error::Bundle(format!("bundle format {version} cannot hold {members} ensemble members")));
    }
    if (version == 3 && header.neighbours.is_none()) || (version < 3 && header.neighbours.is_some()) {
        return Err(Error::Bundle(format!(
            "bundle format {version} {} a neighbours term",
            if version == 3 { "needs" } else { "cannot hold" }
        )));
    }
    match (version, tails_format(header.config.ensemble.scoring)) {
        (4, None) => return Err(Error::Bundle(format!("bundle format {version} needs a residual tails term"))),
        (5, None) if header.neighbours.is_none() => {
            return Err(Error::Bundle(format!("bundle format {version} needs a neighbours term or a residual tails term")));
        }
        (_, Some(want)) if version < 4 => {
            return Err(Error::Bundle(format!("bundle format {version} cannot hold a residual tails term (format {want} does)")));
        }
        (_, Some(want)) if version < want => {
            let scoring = serde_json::to_value(header.config.ensemble.scoring).ok().and_then(|v| v.as_str().map(String::from));
            return Err(Error::Bundle(format!(
                "bundle format {version} cannot hold the score `{}` (format {want} does)",
                scoring.unwrap_or_default()
            )));
        }
        _ => {}
    }
    let ratio = header.neighbours.as_ref().and_then(|n| n.ratio.as_ref());
    if version < 8 && (needs_format_8(&header.config) || ratio.is_some()) {
        return Err(Error::Bundle(format!("bundle format {version} cannot hold the neighbours term's density ratio (format 8 does)")));
    }
    if let Some(r) = ratio
        && r.weight != header.config.ensemble.density_ratio
    {
        return Err(Error::Bundle(format!(
            "the density ratio's weight {} is not the config's {}",
            r.weight, header.config.ensemble.density_ratio
        )));
    }
    if version < 7 && needs_format_7(&header.config) {
        return Err(Error::Bundle(format!(
            "bundle format {version} cannot hold the config's score (the tails term at a quarter weight, or the mean distance to the nearest rows: format 7 does)"
        )));
    }
    if version == 6 && !reads_autoencoders_alone(&header.config) {
        return Err(Error::Bundle(
            "bundle format 6 holds the autoencoders alone, but the stored config scores with the alarm or trains it".into(),
        ));
    }
    Ok(())
}
