//! Which device a model's tensors live on: `cpu` (always built), `cuda` or `metal` (builds with
//! that cargo feature). Chosen in a training config or by `vcurate eval run --device`.

use serde::{Deserialize, Serialize};

use crate::model::{ModelError, Result};

/// The tensor device of a run (training or generation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    #[default]
    Cpu,
    Cuda,
    Metal,
}

impl DeviceKind {
    /// Open the device on the candle backend; a GPU missing from this build or this machine is a
    /// clear error.
    pub fn open(self) -> Result<candle_core::Device> {
        let gpu = |name: &str, feature: &str, r: candle_core::Result<candle_core::Device>| {
            r.map_err(|e| {
                ModelError::Config(format!(
                    "cannot open the {name} device ({e}); build vcurate with `--features {feature}` on a machine with one, or use device = \"cpu\""
                ))
            })
        };
        match self {
            DeviceKind::Cpu => Ok(candle_core::Device::Cpu),
            DeviceKind::Cuda => gpu("CUDA", "cuda", candle_core::Device::new_cuda(0)),
            DeviceKind::Metal => gpu("Metal", "metal", candle_core::Device::new_metal(0)),
        }
    }
}
