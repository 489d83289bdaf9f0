//! The dense building block of every network: Linear layers with an activation and dropout
//! after each hidden layer, Glorot-uniform weights and zero biases (Keras defaults).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData, activation};

/// Hidden-layer activation.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Activation {
    Selu,
    /// LeakyReLU with slope 0.01.
    LeakyRelu,
}

/// Output-layer activation.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum OutputActivation {
    Linear,
    Sigmoid,
}

impl Activation {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Selu => selu(x),
            Activation::LeakyRelu => activation::leaky_relu(x, 0.01),
        }
    }
}

/// How a layer's weight matrix is normalised in the forward pass (a Lipschitz device).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum WeightNorm {
    None,
    /// `W / max(1, ‖W‖_F)`: each layer's spectral norm is at most 1.
    FrobeniusBound,
    /// `W / σ(W)`, σ estimated by power iteration (spectral normalisation, Miyato et al. 2018).
    Spectral,
}

/// SELU. On the CPU backend one fused operation (`fused::selu_flex`); elsewhere the composite.
pub fn selu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if super::cpu::on_flex(&device) || super::cpu::on_cube_kernels(&device) { super::fused::selu_flex(x) } else { selu_composite(x) }
}

/// SELU with the exponential taken of `min(x, 0)` only. burn's `activation::selu` takes `exp(x)`
/// of every element and masks it afterwards: above x ≈ 88 that is `inf`, and its backward pass
/// gives `0 · inf = NaN` (seen as a NaN reconstruction loss after ~400 AAE epochs).
///
/// `max(x, 0)` and `min(x, 0) = −relu(−x)` are taken with `relu`, whose backward pass is one fused
/// kernel; `clamp_min`/`clamp_max` under autodiff are a comparison plus a mask fill forward and
/// another mask fill backward.
pub(crate) fn selu_composite<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    use super::fused::{SELU_ALPHA as ALPHA, SELU_GAMMA as GAMMA};
    let positive = activation::relu(x.clone()).mul_scalar(GAMMA);
    let negative = activation::relu(x.neg()).neg().exp().sub_scalar(1.0).mul_scalar(ALPHA * GAMMA);
    positive + negative
}

/// Configuration of a multilayer perceptron.
#[derive(Config, Debug)]
pub struct MlpConfig {
    pub d_input: usize,
    pub hidden: Vec<usize>,
    pub d_output: usize,
    pub activation: Activation,
    pub dropout: f64,
    pub output: OutputActivation,
    /// Weight normalisation in the forward pass (a Lipschitz device for critics).
    #[config(default = "WeightNorm::None")]
    pub weight_norm: WeightNorm,
}

/// A multilayer perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
    pub dropout: Dropout,
    #[module(skip)]
    pub activation: Activation,
    #[module(skip)]
    pub output: OutputActivation,
    #[module(skip)]
    pub weight_norm: WeightNorm,
}

fn glorot_linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::XavierUniform { gain: 1.0 })
        .init(device);
    linear.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    linear
}

impl MlpConfig {
    pub fn init(&self, device: &Device) -> Mlp {
        let mut widths = vec![self.d_input];
        widths.extend_from_slice(&self.hidden);
        widths.push(self.d_output);
        let layers = widths.windows(2).map(|w| glorot_linear(w[0], w[1], device)).collect();
        Mlp {
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
            output: self.output,
            weight_norm: self.weight_norm,
        }
    }
}

impl Mlp {
    /// Pre-activation output. `x`: `[batch, d_input]` → `[batch, d_output]`.
    pub fn forward_logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.run(x, None)
    }

    /// Output after the output activation. `[batch, d_input]` → `[batch, d_output]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let y = self.forward_logits(x);
        match self.output {
            OutputActivation::Linear => y,
            OutputActivation::Sigmoid => activation::sigmoid(y),
        }
    }

    /// Pre-activation output and the hidden activations (after the activation function, before
    /// dropout), concatenated in layer order: `[batch, d_output]`, `[batch, Σ hidden]`.
    pub fn forward_with_hidden(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let mut hidden = Vec::with_capacity(self.layers.len() - 1);
        let y = self.run(x, Some(&mut hidden));
        (y, Tensor::cat(hidden, 1))
    }

    fn run(&self, mut x: Tensor<2>, mut hidden: Option<&mut Vec<Tensor<2>>>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            if i < last && let Some(y) = self.fused_hidden_layer(layer, &x, hidden.is_some()) {
                if let Some(h) = hidden.as_deref_mut() {
                    h.push(y.clone());
                }
                x = y;
                continue;
            }
            x = normalised_linear(layer, x, self.weight_norm);
            if i < last {
                x = self.activation.apply(x);
                if let Some(h) = hidden.as_deref_mut() {
                    h.push(x.clone());
                }
                x = super::dropout::apply(&self.dropout, x);
            }
        }
        x
    }

    /// A hidden layer, its SELU and its dropout as one operation (`fused::dense_selu_dropout`)
    /// while training with dropout: plain weights on the CPU backend (the composite's numbers),
    /// plain or normalised ones on the GPU with the model crate's kernels (`fused::cube`). On
    /// that GPU also without dropout (frozen or scoring networks), with a mask of ones, and then
    /// also where the hidden activations are read (`wants_hidden`: the output is SELU's).
    /// `x`: `[batch, d_in]` → `[batch, d_out]`; `None` elsewhere.
    fn fused_hidden_layer(&self, layer: &Linear, x: &Tensor<2>, wants_hidden: bool) -> Option<Tensor<2>> {
        let device = x.device();
        let bias = layer.bias.as_ref()?;
        if self.activation != Activation::Selu {
            return None;
        }
        let on_gpu = super::cpu::on_cube_kernels(&device);
        let keep = if !wants_hidden && super::dropout::fuses_with_layer(&self.dropout, &device) {
            1.0 - self.dropout.prob
        } else if on_gpu && !super::dropout::is_active(&self.dropout, &device) {
            1.0
        } else {
            return None;
        };
        let weight = match self.weight_norm {
            WeightNorm::None => layer.weight.val(),
            // A normalised weight on the GPU only (the CPU keeps the composite there).
            norm if on_gpu => normalised_weight(layer, norm),
            _ => return None,
        };
        Some(super::fused::dense_selu_dropout(x.clone(), weight, bias.val(), keep))
    }
}

/// Power iterations per forward pass for the spectral norm estimate.
const POWER_ITERATIONS: usize = 3;

fn unit(v: Tensor<2>) -> Tensor<2> {
    let norm = v.clone().square().sum().sqrt().add_scalar(1e-12);
    v / norm.unsqueeze::<2>()
}

/// Largest singular value of `w` (`[in, out]`): power iteration on the detached weight from a
/// fixed start, then `vᵀ W u` with gradients through `W`. Returns a one-element tensor.
///
/// On the CPU backend the iteration runs on the host (the weight is already in memory): ~45 tiny
/// tensor operations per layer and pass become a loop over a few thousand numbers. (GPU devices
/// with the model crate's kernels take the whole normalised weight in one launch:
/// [`gpu_spectral_normalised`].)
fn spectral_norm(w: Tensor<2>) -> Tensor<1> {
    let [d_in, d_out] = w.dims();
    let device = w.device();
    let (u, v) = if super::cpu::on_flex(&device) {
        let weight: Vec<f32> = w.clone().detach().into_data().convert::<f32>().try_to_vec::<f32>().expect("converted to f32");
        let (u, v) = host_power_iteration(&weight, d_in, d_out);
        let column = |x: Vec<f32>, n: usize| Tensor::<2>::from_data(TensorData::new(x, [n, 1]), &device);
        (column(u, d_out), column(v, d_in))
    } else {
        device_power_iteration(w.clone().detach())
    };
    v.transpose().matmul(w.matmul(u)).reshape([1])
}

/// `W / max(σ(W), 1e-6)` in one kernel launch each way on a GPU device with the model crate's
/// kernels (`fused::spectral`), for weights the kernel holds; `None` elsewhere.
fn gpu_spectral_normalised(w: &Tensor<2>) -> Option<Tensor<2>> {
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    {
        let [d_in, d_out] = w.dims();
        if super::cpu::on_cube_kernels(&w.device()) && d_in.max(d_out) <= super::fused::SPECTRAL_MAX_WIDTH {
            return Some(super::fused::spectral_normalised(w.clone(), POWER_ITERATIONS));
        }
    }
    let _ = w;
    None
}

/// The power iteration of `spectral_norm` as tensor operations on the device: unit `u`
/// (`[out, 1]`) and `v` (`[in, 1]`).
fn device_power_iteration(fixed: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [_, d_out] = fixed.dims();
    let mut u = unit(Tensor::ones([d_out, 1], &fixed.device()));
    let mut v = unit(fixed.clone().matmul(u.clone()));
    for _ in 1..POWER_ITERATIONS {
        u = unit(fixed.clone().transpose().matmul(v.clone()));
        v = unit(fixed.clone().matmul(u.clone()));
    }
    (unit(fixed.transpose().matmul(v.clone())), v)
}

/// The power iteration of `spectral_norm` on a row-major `[d_in, d_out]` weight: unit `u`
/// (`d_out`) and `v` (`d_in`).
fn host_power_iteration(w: &[f32], d_in: usize, d_out: usize) -> (Vec<f32>, Vec<f32>) {
    fn unit(x: Vec<f64>) -> Vec<f64> {
        let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt() + 1e-12;
        x.into_iter().map(|v| v / norm).collect()
    }
    let w_u = |u: &[f64]| -> Vec<f64> {
        (0..d_in).map(|i| w[i * d_out..(i + 1) * d_out].iter().zip(u).map(|(&a, b)| a as f64 * b).sum()).collect()
    };
    let wt_v = |v: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; d_out];
        for (row, vi) in w.chunks_exact(d_out).zip(v) {
            for (o, &a) in out.iter_mut().zip(row) {
                *o += a as f64 * vi;
            }
        }
        out
    };
    let mut u = unit(vec![1.0; d_out]);
    let mut v = unit(w_u(&u));
    for _ in 1..POWER_ITERATIONS {
        u = unit(wt_v(&v));
        v = unit(w_u(&u));
    }
    u = unit(wt_v(&v));
    let to_f32 = |x: Vec<f64>| x.into_iter().map(|a| a as f32).collect::<Vec<f32>>();
    (to_f32(u), to_f32(v))
}

/// A layer's weight divided by its norm (`[in, out]`; the weight itself for `WeightNorm::None`).
fn normalised_weight(layer: &Linear, norm: WeightNorm) -> Tensor<2> {
    let w = layer.weight.val();
    let scale = match norm {
        WeightNorm::FrobeniusBound => w.clone().square().sum().sqrt().clamp_min(1.0),
        WeightNorm::Spectral => match gpu_spectral_normalised(&w) {
            Some(normalised) => return normalised,
            None => spectral_norm(w.clone()).clamp_min(1e-6),
        },
        WeightNorm::None => return w,
    };
    w / scale.unsqueeze::<2>()
}

/// A linear layer with its weight normalised (burn's `Linear` for `WeightNorm::None`); on a GPU
/// device with the model crate's kernels one operation each way (`fused::dense_linear`).
/// `[batch, in]` → `[batch, out]`.
fn normalised_linear(layer: &Linear, x: Tensor<2>, norm: WeightNorm) -> Tensor<2> {
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    if super::cpu::on_cube_kernels(&x.device())
        && let Some(bias) = &layer.bias
    {
        return super::fused::dense_linear(x, normalised_weight(layer, norm), bias.val());
    }
    if norm == WeightNorm::None {
        return layer.forward(x);
    }
    let y = x.matmul(normalised_weight(layer, norm));
    match &layer.bias {
        Some(b) => y + b.val().unsqueeze::<2>(),
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selu_matches_burn_and_has_finite_gradients_for_large_inputs() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats([-3.0, -0.5, 0.0, 0.7, 5.0], &device);
        let a: Vec<f32> = selu(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        let b: Vec<f32> = activation::selu(x).into_data().try_to_vec::<f32>().unwrap();
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-6, "{p} vs {q}");
        }
        let ad = device.autodiff();
        let x = Tensor::<1>::from_floats([100.0, -100.0, 1.0], &ad).require_grad();
        let grads = selu(x.clone()).sum().backward();
        let g: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        assert!((g[0] - 1.0507).abs() < 1e-3);
    }

    #[test]
    fn spectral_norm_of_known_matrices() {
        let device = Device::flex();
        let w = Tensor::<2>::from_floats([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]], &device);
        let s: f32 = spectral_norm(w).into_scalar::<f32>();
        assert!((s - 3.0).abs() < 0.05, "{s}");
        // rank one: u vᵀ with |u| = 2, |v| = 5 → σ = 10
        let w = Tensor::<2>::from_floats([[2.0 * 3.0, 2.0 * 4.0], [0.0, 0.0]], &device);
        let s: f32 = spectral_norm(w).into_scalar::<f32>();
        assert!((s - 10.0).abs() < 1e-3, "{s}");
    }

    #[test]
    fn host_and_device_power_iterations_agree() {
        let device = Device::flex();
        device.seed(11);
        let w = Tensor::<2>::random([40, 30], burn::tensor::Distribution::Normal(0.0, 0.3), &device);
        let (u, v) = device_power_iteration(w.clone());
        let weight: Vec<f32> = w.into_data().try_to_vec::<f32>().unwrap();
        let (hu, hv) = host_power_iteration(&weight, 40, 30);
        let close = |a: Vec<f32>, b: Vec<f32>| a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-5);
        assert!(close(u.into_data().try_to_vec::<f32>().unwrap(), hu));
        assert!(close(v.into_data().try_to_vec::<f32>().unwrap(), hv));
    }

    #[test]
    fn normalised_critic_layers_have_unit_spectral_norm() {
        let device = Device::flex();
        let mlp = MlpConfig::new(2, vec![50, 40], 1, Activation::Selu, 0.0, OutputActivation::Linear)
            .with_weight_norm(WeightNorm::Spectral)
            .init(&device);
        // A Lipschitz-1 map: nearby inputs give nearby outputs (SELU's slope is at most 1.76).
        let a = Tensor::<2>::from_floats([[0.3, -0.2]], &device);
        let b = Tensor::<2>::from_floats([[0.31, -0.2]], &device);
        let d: f32 = (mlp.forward(a) - mlp.forward(b)).abs().sum().into_scalar::<f32>();
        assert!(d <= 0.01 * 1.76f32.powi(2) + 1e-6, "{d}");
    }

    /// The normalised weight in one GPU launch (and its gradient in one) gives the CPU
    /// composite's `W / σ` and the composite's gradient through σ, within float tolerance, for a
    /// small, a tall and a wide weight; the widest the kernel does not hold takes the composite.
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    #[test]
    fn the_gpu_normalised_weight_gives_the_cpus_values_and_gradient() {
        use burn::tensor::Distribution;
        let Some(gpu) = crate::model::fused::test_wgpu_device() else { return };
        let cpu = Device::flex();
        cpu.seed(11);
        for (d_in, d_out) in [(5, 3), (154, 77), (300, 1000)] {
            let w = Tensor::<2>::random([d_in, d_out], Distribution::Normal(0.0, 0.1), &cpu);
            let upstream = Tensor::<2>::random([d_in, d_out], Distribution::Normal(0.0, 1.0), &cpu);
            let mut results = Vec::new();
            for device in [cpu.clone().autodiff(), gpu.clone().autodiff()] {
                let w = Tensor::<2>::from_data(w.to_data(), &device).require_grad();
                let normalised = if crate::model::cpu::on_flex(&device) {
                    w.clone() / spectral_norm(w.clone()).clamp_min(1e-6).unsqueeze::<2>()
                } else {
                    gpu_spectral_normalised(&w).expect("held by the kernel")
                };
                let grads = (normalised.clone() * Tensor::from_data(upstream.to_data(), &device)).sum().backward();
                let vec = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
                results.push((vec(normalised.inner()), vec(w.grad(&grads).unwrap())));
            }
            use crate::model::fused::assert_close;
            assert_close(&results[0].0, &results[1].0, &format!("{d_in}×{d_out} W / σ"));
            assert_close(&results[0].1, &results[1].1, &format!("{d_in}×{d_out} gradient"));
        }
        let wide = Tensor::<2>::zeros([2, crate::model::fused::SPECTRAL_MAX_WIDTH + 1], &gpu);
        assert!(gpu_spectral_normalised(&wide).is_none());
    }

    /// A spectrally normalised hidden layer through the fused GPU layer (what a critic's or the
    /// latent discriminator's layer takes while training on the GPU) gives the CPU composite's
    /// output and its weight and bias gradients, through the norm, within float tolerance (no
    /// dropout here, so that both see the same numbers).
    #[cfg(all(feature = "wgpu", not(feature = "fusion")))]
    #[test]
    fn a_normalised_layer_through_the_gpu_kernels_gives_the_cpus_gradients() {
        use burn::tensor::Distribution;
        let Some(gpu) = crate::model::fused::test_wgpu_device() else { return };
        let cpu = Device::flex();
        cpu.seed(13);
        let layer = LinearConfig::new(30, 20).init(&cpu.clone().autodiff());
        let x = Tensor::<2>::random([64, 30], Distribution::Normal(0.0, 1.0), &cpu);
        let mut results = Vec::new();
        for device in [cpu.clone().autodiff(), gpu.clone().autodiff()] {
            let layer = Linear {
                weight: burn::module::Param::from_tensor(Tensor::from_data(layer.weight.val().to_data(), &device).require_grad()),
                bias: Some(burn::module::Param::from_tensor(
                    Tensor::from_data(layer.bias.as_ref().unwrap().val().to_data(), &device).require_grad(),
                )),
            };
            let x = Tensor::<2>::from_data(x.to_data(), &device);
            let y = if crate::model::cpu::on_flex(&device) {
                selu(normalised_linear(&layer, x, WeightNorm::Spectral))
            } else {
                let w = normalised_weight(&layer, WeightNorm::Spectral);
                super::super::fused::dense_selu_dropout(x, w, layer.bias.as_ref().unwrap().val(), 1.0)
            };
            let grads = (y.clone() * y.clone()).sum().backward();
            let vec = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
            results.push((
                vec(y.inner()),
                vec(layer.weight.grad(&grads).unwrap()),
                layer.bias.as_ref().unwrap().grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap(),
            ));
        }
        use crate::model::fused::assert_close;
        assert_close(&results[0].0, &results[1].0, "output");
        assert_close(&results[0].1, &results[1].1, "weight gradient");
        assert_close(&results[0].2, &results[1].2, "bias gradient");
    }
}
