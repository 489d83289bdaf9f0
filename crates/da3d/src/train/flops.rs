//! Matrix-product work of one training step, counted from the layer shapes: what `da3d bench`
//! divides by a step's time to report achieved GFLOP/s.
//!
//! A linear layer `in → out` on `r` rows costs `2·r·in·out` floating-point operations forward,
//! as much again for its weight gradient, and as much again for its input gradient. Each phase
//! counts the passes `Trainer` makes per batch (`aae.rs`, `detector_stage.rs`): which networks
//! run forward, on how many rows, and which gradients flow back. Element-wise work (activations,
//! dropout, Adam) and the spectral norm's power iteration are not counted: at the widths where
//! the count matters they are a few per cent of the products.

use crate::config::{AlarmInput, TrainingConfig};
use crate::model::LayerWidths;

use super::Phase;

/// One pass of a network over `rows` rows: forward, plus the weight gradients (`weights`) and the
/// gradient with respect to its input (`input`; the first layer's input gradient only then).
fn pass(widths: &[usize], rows: usize, weights: bool, input: bool) -> f64 {
    widths
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let one = 2.0 * rows as f64 * w[0] as f64 * w[1] as f64;
            let backward_input = if i > 0 { weights || input } else { input };
            one * (1.0 + weights as u8 as f64 + backward_input as u8 as f64)
        })
        .sum()
}

/// Floating-point operations in the matrix products of one batch of `phase` (`batch` rows) for
/// an input of width `d_input`; 0 for `Phase::Done`.
pub fn matmul_flops_per_step(config: &TrainingConfig, d_input: usize, phase: Phase) -> f64 {
    let b = config.schedule.batch_size;
    let LayerWidths { encoder, decoder, latent_discriminator: latent, alarm, generator, critic } = config.networks(d_input).layer_widths();
    // Alarm inputs of generated codes: the decoder, and with `All` the encoder on its output.
    let codes_to_inputs = |rows| {
        pass(&decoder, rows, false, false)
            + if config.architecture.alarm_input == AlarmInput::All { pass(&encoder, rows, false, false) } else { 0.0 }
    };
    // Alarm inputs of trivial anomalies: the frozen encoder and decoder (training rows' are cached).
    let rows_to_inputs = |rows| pass(&encoder, rows, false, false) + pass(&decoder, rows, false, false);
    // The alarm's own step: trivial anomalies' inputs, generated ones' (parts = 3), its training.
    let alarm_step = |parts: usize| {
        rows_to_inputs(b)
            + if parts == 3 { pass(&generator, b, false, false) + codes_to_inputs(b) } else { 0.0 }
            + pass(&alarm, parts * b, true, false)
    };
    match phase {
        Phase::Aae => {
            // reconstruction step; latent discriminator on codes and prior draws; the encoder
            // through the parameter-frozen discriminator
            pass(&encoder, b, true, false)
                + pass(&decoder, b, true, true)
                + pass(&latent, 2 * b, true, false)
                + pass(&encoder, b, true, false)
                + pass(&latent, b, false, true)
        }
        Phase::Pretrain => alarm_step(2),
        Phase::Da3d => {
            // generator step: generator on 2b noise rows (b through the frozen decoder and alarm,
            // b through the critic), gradients back to the generator's weights
            let generator_step = pass(&generator, 2 * b, true, false)
                + pass(&decoder, b, false, true)
                + if config.architecture.alarm_input == AlarmInput::All { pass(&encoder, b, false, true) } else { 0.0 }
                + pass(&alarm, b, false, true)
                + pass(&critic, b, false, true);
            // critic step: a generator pass without gradients, the critic on 3b codes
            let critic_step = pass(&generator, b, false, false) + pass(&critic, 3 * b, true, false);
            alarm_step(3) + generator_step + critic_step
        }
        Phase::Done => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn a_layer_costs_two_flops_per_multiply_add_and_three_times_that_with_both_gradients() {
        assert_eq!(pass(&[10, 20], 4, false, false), 2.0 * 4.0 * 10.0 * 20.0);
        // a first layer: its weight gradient, no input gradient unless asked
        assert_eq!(pass(&[10, 20], 4, true, false), 2.0 * 1600.0);
        assert_eq!(pass(&[10, 20], 4, true, true), 3.0 * 1600.0);
        // a second layer passes its gradient back to the first
        assert_eq!(pass(&[10, 20, 5], 4, true, false), 2.0 * 1600.0 + 3.0 * 800.0);
    }

    #[test]
    fn the_wide_alarm_dominates_the_detector_phases() {
        let cfg = TrainingConfig::preset(Preset::Paper, 77, None);
        let pretrain = matmul_flops_per_step(&cfg, 77, Phase::Pretrain);
        let da3d = matmul_flops_per_step(&cfg, 77, Phase::Da3d);
        let aae = matmul_flops_per_step(&cfg, 77, Phase::Aae);
        let b = cfg.schedule.batch_size as f64;
        let alarm_layer = 2.0 * b * cfg.networks(77).alarm.d_input as f64 * 1000.0;
        // pretraining trains the alarm on 2b rows: its first layer's forward and weight gradient
        assert!(pretrain > 2.0 * 2.0 * alarm_layer, "{pretrain}");
        assert!(da3d > 1.5 * pretrain && aae < pretrain, "{aae} {pretrain} {da3d}");
        assert_eq!(matmul_flops_per_step(&cfg, 77, Phase::Done), 0.0);
    }
}
