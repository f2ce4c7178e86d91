//! Which device a model's tensors live on: `cpu` (always built), `cuda` or `metal` (candle, in
//! builds with that cargo feature), or `mlx` (the MLX backend, cargo feature `mlx`: Metal on
//! Apple Silicon, MLX's CPU backend elsewhere). Chosen in a training config or by
//! `vcurate train --device` / `vcurate eval run --device`.

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
    /// The MLX backend ([`crate::model::mlx`]) instead of candle.
    Mlx,
}

impl DeviceKind {
    /// Whether this device runs on the MLX backend rather than candle. Callers dispatch on it
    /// before opening a candle device; [`DeviceKind::check_mlx`] says whether this build can.
    pub fn is_mlx(self) -> bool {
        self == DeviceKind::Mlx
    }

    /// For [`DeviceKind::Mlx`]: an error saying how to build the MLX backend when this build
    /// lacks it (cargo feature `mlx`).
    pub fn check_mlx(self) -> Result<()> {
        if self.is_mlx() && !cfg!(feature = "mlx") {
            return Err(ModelError::Config(
                "device \"mlx\" needs the MLX backend, which this build of vcurate lacks; build with --features mlx (macOS: `cargo build --features mlx`; Linux: through tests/mlx-sdk, see README \"MLX backend\"), or use device = \"cpu\"".into(),
            ));
        }
        Ok(())
    }

    /// Open the device on the candle backend; a GPU missing from this build or this machine is a
    /// clear error, and so is `mlx` (not a candle device: callers dispatch MLX runs before).
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
            DeviceKind::Mlx => {
                self.check_mlx()?;
                Err(ModelError::Config(
                    "device \"mlx\" is the MLX backend, not a candle device; this command does not run on MLX yet, use device = \"cpu\"".into(),
                ))
            }
        }
    }
}
