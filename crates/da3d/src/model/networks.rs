//! The five networks of DA³D and their configs. No training code here.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor, activation};

use super::mlp::{Activation, Mlp, MlpConfig, OutputActivation, WeightNorm};

/// Adversarial autoencoder: encoder `d → hidden… → code` (linear code) and the mirrored decoder
/// `code → …hidden reversed → d` with a sigmoid output.
#[derive(Config, Debug)]
pub struct AaeConfig {
    pub d_input: usize,
    pub encoder_hidden: Vec<usize>,
    pub d_code: usize,
    pub activation: Activation,
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct Aae {
    pub encoder: Mlp,
    pub decoder: Mlp,
}

impl AaeConfig {
    pub fn init(&self, device: &Device) -> Aae {
        let mut decoder_hidden = self.encoder_hidden.clone();
        decoder_hidden.reverse();
        Aae {
            encoder: MlpConfig::new(
                self.d_input,
                self.encoder_hidden.clone(),
                self.d_code,
                self.activation,
                self.dropout,
                OutputActivation::Linear,
            )
            .init(device),
            decoder: MlpConfig::new(
                self.d_code,
                decoder_hidden,
                self.d_input,
                self.activation,
                self.dropout,
                OutputActivation::Sigmoid,
            )
            .init(device),
        }
    }
}

impl Aae {
    /// Codes. `[batch, d]` → `[batch, code]`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        self.encoder.forward(x)
    }

    /// Decoder logits and decoder hidden activations from codes.
    /// `[batch, code]` → (`[batch, d]`, `[batch, Σ decoder hidden]`).
    pub fn decoder_activations(&self, codes: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        self.decoder.forward_with_hidden(codes)
    }

    /// Reconstruction in [0, 1]. `[batch, d]` → `[batch, d]`.
    pub fn reconstruct(&self, x: Tensor<2>) -> Tensor<2> {
        activation::sigmoid(self.decoder.forward_logits(self.encoder.forward(x)))
    }
}

/// A critic on codes: the AAE's latent discriminator and the DA³D critic (`f_disc`).
#[derive(Config, Debug)]
pub struct CriticConfig {
    pub d_code: usize,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub dropout: f64,
    pub output: OutputActivation,
    /// Weight normalisation of every layer (a Lipschitz device).
    #[config(default = "WeightNorm::None")]
    pub weight_norm: WeightNorm,
}

#[derive(Module, Debug)]
pub struct Critic {
    pub net: Mlp,
}

impl CriticConfig {
    pub fn init(&self, device: &Device) -> Critic {
        Critic {
            net: MlpConfig::new(self.d_code, self.hidden.clone(), 1, self.activation, self.dropout, self.output)
                .with_weight_norm(self.weight_norm)
                .init(device),
        }
    }
}

impl Critic {
    /// `[batch, code]` → `[batch, 1]` (linear or sigmoid, per config).
    pub fn forward(&self, codes: Tensor<2>) -> Tensor<2> {
        self.net.forward(codes)
    }
}

/// The alarm network `f_alarm`: hidden activations → one logit.
#[derive(Config, Debug)]
pub struct AlarmConfig {
    pub d_input: usize,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct Alarm {
    pub net: Mlp,
}

impl AlarmConfig {
    pub fn init(&self, device: &Device) -> Alarm {
        Alarm {
            net: MlpConfig::new(self.d_input, self.hidden.clone(), 1, self.activation, self.dropout, OutputActivation::Linear)
                .init(device),
        }
    }
}

impl Alarm {
    /// Logit of "anomalous". `[batch, Σ activations]` → `[batch, 1]`.
    pub fn forward(&self, activations: Tensor<2>) -> Tensor<2> {
        self.net.forward_logits(activations)
    }
}

/// The anomaly generator `f_gen`: noise → code.
#[derive(Config, Debug)]
pub struct GeneratorConfig {
    pub d_noise: usize,
    pub hidden: Vec<usize>,
    pub d_code: usize,
    pub activation: Activation,
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct Generator {
    pub net: Mlp,
}

impl GeneratorConfig {
    pub fn init(&self, device: &Device) -> Generator {
        Generator {
            net: MlpConfig::new(self.d_noise, self.hidden.clone(), self.d_code, self.activation, self.dropout, OutputActivation::Linear)
                .init(device),
        }
    }
}

impl Generator {
    /// Generated codes `h~`. `[batch, g]` → `[batch, code]`.
    pub fn forward(&self, noise: Tensor<2>) -> Tensor<2> {
        self.net.forward(noise)
    }
}

/// All network configs of a model, derived from a `TrainingConfig` for one input width.
#[derive(Config, Debug)]
pub struct NetworksConfig {
    pub aae: AaeConfig,
    pub latent_discriminator: CriticConfig,
    pub alarm: AlarmConfig,
    pub generator: GeneratorConfig,
    pub critic: CriticConfig,
}

/// Every network of a DA³D model (what a bundle stores).
#[derive(Module, Debug)]
pub struct Networks {
    pub aae: Aae,
    pub latent_discriminator: Critic,
    pub alarm: Alarm,
    pub generator: Generator,
    pub critic: Critic,
}

impl NetworksConfig {
    pub fn init(&self, device: &Device) -> Networks {
        Networks {
            aae: self.aae.init(device),
            latent_discriminator: self.latent_discriminator.init(device),
            alarm: self.alarm.init(device),
            generator: self.generator.init(device),
            critic: self.critic.init(device),
        }
    }

    /// Each network's layer widths, input to output.
    pub fn layer_widths(&self) -> LayerWidths {
        fn chain(first: usize, hidden: &[usize], last: usize) -> Vec<usize> {
            std::iter::once(first).chain(hidden.iter().copied()).chain([last]).collect()
        }
        let a = &self.aae;
        let mut decoder_hidden = a.encoder_hidden.clone();
        decoder_hidden.reverse();
        LayerWidths {
            encoder: chain(a.d_input, &a.encoder_hidden, a.d_code),
            decoder: chain(a.d_code, &decoder_hidden, a.d_input),
            latent_discriminator: chain(self.latent_discriminator.d_code, &self.latent_discriminator.hidden, 1),
            alarm: chain(self.alarm.d_input, &self.alarm.hidden, 1),
            generator: chain(self.generator.d_noise, &self.generator.hidden, self.generator.d_code),
            critic: chain(self.critic.d_code, &self.critic.hidden, 1),
        }
    }

    /// Networks around a trained `aae`, the others as `init` makes them: a model whose score reads
    /// the autoencoder alone (bundle format 6 stores nothing else).
    pub fn init_around(&self, aae: Aae, device: &Device) -> Networks {
        Networks {
            aae,
            latent_discriminator: self.latent_discriminator.init(device),
            alarm: self.alarm.init(device),
            generator: self.generator.init(device),
            critic: self.critic.init(device),
        }
    }

    /// Weights and biases of every linear layer (saturating): what `init` would allocate. A
    /// bundle loader compares it with the stored weights before allocating anything.
    pub fn parameter_count(&self) -> u64 {
        let w = self.layer_widths();
        linear_parameters(&[w.encoder, w.decoder, w.latent_discriminator, w.alarm, w.generator, w.critic])
    }

    /// [`parameter_count`](Self::parameter_count) of the autoencoder alone (encoder and decoder).
    pub fn aae_parameter_count(&self) -> u64 {
        let w = self.layer_widths();
        linear_parameters(&[w.encoder, w.decoder])
    }
}

/// Weights and biases of the linear layers of networks of these widths (saturating).
fn linear_parameters(networks: &[Vec<usize>]) -> u64 {
    networks
        .iter()
        .flat_map(|widths| widths.windows(2).map(|l| (l[0] as u64).saturating_mul(l[1] as u64).saturating_add(l[1] as u64)))
        .fold(0u64, u64::saturating_add)
}

/// Layer widths of every network, input to output (`NetworksConfig::layer_widths`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerWidths {
    pub encoder: Vec<usize>,
    pub decoder: Vec<usize>,
    pub latent_discriminator: Vec<usize>,
    pub alarm: Vec<usize>,
    pub generator: Vec<usize>,
    pub critic: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::tensor::Device;

    use crate::config::{Preset, TrainingConfig};

    #[test]
    fn parameter_count_matches_the_initialised_networks() {
        for preset in [Preset::Paper, Preset::Reference] {
            let networks = TrainingConfig::preset(preset, 9, None).networks(9);
            let linear_parameters = networks.parameter_count();
            let initialised = networks.init(&Device::flex()).num_params() as u64;
            // Spectral normalisation keeps its power-iteration vectors as (non-trained) state.
            assert!(initialised >= linear_parameters, "{preset:?}: {initialised} < {linear_parameters}");
            assert!(initialised < linear_parameters + 1000, "{preset:?}: {initialised} vs {linear_parameters}");
        }
    }
}
