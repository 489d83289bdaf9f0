//! Loss helpers.

use burn::tensor::{Tensor, activation};

/// Numerically stable binary cross-entropy on logits, mean over all elements:
/// `max(z, 0) − z·t + log(1 + exp(−|z|))`.
/// One fused operation on the CPU backend and on GPU devices with the model crate's kernels
/// (`model::fused`; the mean too on the GPU).
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, targets: Tensor<D>) -> Tensor<1> {
    let device = logits.device();
    if crate::model::cpu::on_flex(&device) || crate::model::cpu::on_cube_kernels(&device) {
        return mean(crate::model::fused::bce_with_logits_flex(logits, targets));
    }
    let relu = activation::relu(logits.clone());
    let neg_abs = logits.clone().abs().neg();
    (relu - logits * targets + neg_abs.exp().log1p()).mean()
}

/// `Σ_g weights[g] · mean(g-th of weights.len() equal row blocks of x)` as one operation on GPU
/// devices with the model crate's kernels (`model::fused::group_means`); `None` elsewhere,
/// where the callers' composites run.
fn fused_group_means<const D: usize>(x: &Tensor<D>, weights: &[f32]) -> Option<Tensor<1>> {
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    if crate::model::cpu::on_cube_kernels(&x.device()) {
        return Some(crate::model::fused::group_means(x.clone(), weights));
    }
    let _ = (x, weights);
    None
}

/// The mean of all of `x`'s values, `[1]` (one launch each way on the GPU).
pub fn mean<const D: usize>(x: Tensor<D>) -> Tensor<1> {
    fused_group_means(&x, &[1.0]).unwrap_or_else(|| x.mean())
}

/// The latent discriminator's loss (WGAN critic, SPEC) from its outputs `[2b, 1]` on the
/// encoder's codes (the first `b` rows) and on the prior's samples (the rest): small outputs for
/// the prior's samples ("real"), large for the codes: `mean(d(prior)) − mean(d(codes))`. `[1]`.
pub fn latent_discriminator_loss(out: Tensor<2>, b: usize) -> Tensor<1> {
    assert_eq!(out.dims()[0], 2 * b, "the discriminator's outputs on b codes and b samples");
    if let Some(loss) = fused_group_means(&out, &[-1.0, 1.0]) {
        return loss;
    }
    let mean_on_codes = out.clone().slice([0..b]).mean();
    let mean_on_prior = out.slice([b..2 * b]).mean();
    mean_on_prior - mean_on_codes
}

/// The DA³D critic's loss (SPEC): small on generated and normal codes, large on the noise
/// codes: `w_gen·mean(c(h~)) + w_normal·mean(c(h)) − w_noise·mean(c(n))`. `[1]`.
pub fn critic_loss(mean_generated: Tensor<1>, mean_normal: Tensor<1>, mean_noise: Tensor<1>, weights: [f32; 3]) -> Tensor<1> {
    let [w_gen, w_normal, w_noise] = weights;
    mean_generated.mul_scalar(w_gen) + mean_normal.mul_scalar(w_normal) - mean_noise.mul_scalar(w_noise)
}

/// Objective 2 of the generator (SPEC): toward the critic's noise, i.e. large critic outputs on
/// generated codes: `−mean(c(h~))`. `critic_out`: `[b, 1]` → `[1]`.
pub fn generator_critic_objective(critic_out: Tensor<2>) -> Tensor<1> {
    fused_group_means(&critic_out, &[-1.0]).unwrap_or_else(|| critic_out.mean().neg())
}

/// The generator's loss (SPEC): objective 1 (the alarm's output on generated codes: small = the
/// alarm takes them for normal) plus objective 2. `[1]`.
pub fn generator_loss(objective_alarm: Tensor<1>, objective_critic: Tensor<1>) -> Tensor<1> {
    objective_alarm + objective_critic
}

/// The alarm's targets `[b · parts, 1]`: 0 for the first `b` rows (normal rows), 1 for the rest
/// (trivial, then generated anomalies).
pub fn alarm_targets(b: usize, parts: usize) -> Vec<f32> {
    let mut v = vec![0f32; b];
    v.resize(b * parts, 1.0);
    v
}

/// The alarm's loss (SPEC): binary cross-entropy on normal rows (target 0) and anomalies
/// (target 1), summed over the `parts` groups (the mean over all rows × `parts`). `[1]`.
pub fn alarm_loss(logits: Tensor<2>, targets: Tensor<2>, parts: usize) -> Tensor<1> {
    bce_with_logits(logits, targets).mul_scalar(parts as f32)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    fn scalar(v: f32) -> Tensor<1> {
        Tensor::from_data(TensorData::new(vec![v], [1]), &Device::flex())
    }

    fn value(t: Tensor<1>) -> f32 {
        t.into_data().try_to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn critic_loss_rewards_noise_and_penalises_generated_and_normal_codes() {
        // 1·2 + 1·3 − 2·5 with the paper's weights [1, 1, 2]
        assert_eq!(value(critic_loss(scalar(2.0), scalar(3.0), scalar(5.0), [1.0, 1.0, 2.0])), -5.0);
        // raising the output on noise lowers the loss; on generated or normal codes raises it
        let base = value(critic_loss(scalar(0.0), scalar(0.0), scalar(0.0), [1.0, 1.0, 2.0]));
        assert!(value(critic_loss(scalar(0.0), scalar(0.0), scalar(1.0), [1.0, 1.0, 2.0])) < base);
        assert!(value(critic_loss(scalar(1.0), scalar(0.0), scalar(0.0), [1.0, 1.0, 2.0])) > base);
        assert!(value(critic_loss(scalar(0.0), scalar(1.0), scalar(0.0), [1.0, 1.0, 2.0])) > base);
    }

    #[test]
    fn generator_loss_wants_a_quiet_alarm_and_a_loud_critic() {
        let critic = |v: f32| Tensor::<2>::from_data(TensorData::new(vec![v, v], [2, 1]), &Device::flex());
        assert_eq!(value(generator_critic_objective(critic(3.0))), -3.0);
        assert_eq!(value(generator_loss(scalar(0.25), generator_critic_objective(critic(3.0)))), -2.75);
        // a larger critic output on generated codes lowers the loss; a larger alarm output raises it
        assert!(value(generator_critic_objective(critic(4.0))) < value(generator_critic_objective(critic(3.0))));
        assert!(value(generator_loss(scalar(0.5), scalar(0.0))) > value(generator_loss(scalar(0.25), scalar(0.0))));
    }

    #[test]
    fn latent_discriminator_loss_is_prior_minus_codes() {
        let out = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 3.0, 0.25, 0.75], [4, 1]), &Device::flex());
        assert_eq!(value(latent_discriminator_loss(out, 2)), -1.5);
    }

    #[test]
    fn alarm_loss_is_bce_with_normal_rows_at_0_and_anomalies_at_1() {
        assert_eq!(alarm_targets(2, 3), vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
        let d = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![-20.0f32, 20.0], [2, 1]), &d);
        let right = Tensor::<2>::from_data(TensorData::new(alarm_targets(1, 2), [2, 1]), &d);
        let wrong = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0], [2, 1]), &d);
        assert!(value(alarm_loss(logits.clone(), right, 2)) < 1e-6);
        // each of the two rows wrong by 20 logits: 20 per row, summed over the two parts
        assert!((value(alarm_loss(logits, wrong, 2)) - 40.0).abs() < 1e-3);
    }
}
