//! Networks: modules and their configs. State and `forward` only; training lives in `train/`.

mod alarm_inputs;
pub(crate) mod cpu;
mod dropout;
pub(crate) mod fused;
mod mlp;
mod networks;

pub use alarm_inputs::AlarmInput;
pub(crate) use alarm_inputs::{alarm_input_codes, alarm_input_rows};
pub use cpu::seed_dropout_masks;
pub use mlp::{Activation, Mlp, MlpConfig, OutputActivation, WeightNorm};
pub use networks::{
    Aae, AaeConfig, Alarm, AlarmConfig, Critic, CriticConfig, Generator, GeneratorConfig, LayerWidths, Networks, NetworksConfig,
};
