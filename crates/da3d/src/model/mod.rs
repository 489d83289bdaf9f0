//! Networks: modules and their configs. State and `forward` only; training lives in `train/`.

mod dropout;
pub(crate) mod fused;
mod mlp;
mod networks;

pub use dropout::seed_dropout_masks;
pub use fused::FusedAdam;
pub use mlp::{Activation, Mlp, MlpConfig, OutputActivation, WeightNorm};
pub use networks::{
    Aae, AaeConfig, Alarm, AlarmConfig, Critic, CriticConfig, Generator, GeneratorConfig, Networks, NetworksConfig,
};
