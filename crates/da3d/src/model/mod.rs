//! Networks: modules and their configs. State and `forward` only; training lives in `train/`.

mod alarm_inputs;
mod dropout;
pub(crate) mod fused;
mod mlp;
mod networks;

pub(crate) use alarm_inputs::{alarm_input_codes, alarm_input_rows};
pub use dropout::seed_dropout_masks;
pub use fused::FusedAdam;
pub use mlp::{Activation, Mlp, MlpConfig, OutputActivation, WeightNorm};
pub use networks::{
    Aae, AaeConfig, Alarm, AlarmConfig, Critic, CriticConfig, Generator, GeneratorConfig, LayerWidths, Networks, NetworksConfig,
};
