//! The trainer's TOML configuration. Strict: an unknown or misspelled key is an error naming the
//! key and line (a real project lost four settings to a trainer that ignored misspelled keys).
//! The resolved configuration is written next to the adapter.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::chat::MaskMode;
use crate::model::weights::BaseConfig;
use crate::model::{DeviceKind, LoraConfig};
use crate::train::backend::AdamWParams;
use crate::train::{Result, TrainError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Hugging Face model directory (`config.json`, safetensors, `tokenizer.json`).
    pub model: PathBuf,
    /// Where adapters, checkpoints and metrics go.
    pub output: PathBuf,
    #[serde(default)]
    pub seed: u64,
    /// Where tensors live: `cpu` (always built), `cuda` or `metal` (candle, builds with that
    /// feature), `mlx` (the MLX backend, builds with `--features mlx`).
    #[serde(default)]
    pub device: DeviceKind,
    #[serde(default)]
    pub base: BaseConfig,
    #[serde(default)]
    pub lora: LoraConfig,
    #[serde(default)]
    pub optim: OptimConfig,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default, rename = "loop")]
    pub run: LoopConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    pub lr: f64,
    pub min_lr: f64,
    pub warmup_steps: usize,
    /// Optimizer steps in total.
    pub steps: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Clip the global gradient norm to this; `0` disables clipping.
    pub max_grad_norm: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        let a = AdamWParams::default();
        Self {
            lr: 1e-4,
            min_lr: 0.0,
            warmup_steps: 0,
            steps: 1000,
            grad_accum: 1,
            max_grad_norm: 1.0,
            weight_decay: a.weight_decay,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
        }
    }
}

impl OptimConfig {
    pub fn adamw(&self) -> AdamWParams {
        AdamWParams {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    pub batch_size: usize,
    pub max_seq_len: usize,
    /// Which assistant turns the loss covers: `all_turns` (every turn of a multi-turn or
    /// tool-calling conversation, its tool calls included) or `last_turn` (the final answer
    /// only, as mlx-lm's `--mask-prompt`).
    pub mask: MaskMode,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            batch_size: 4,
            max_seq_len: 2048,
            mask: MaskMode::AllTurns,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Validation loss every N steps (0: only at the end).
    pub eval_every: usize,
    /// Checkpoint (resume state + adapters) every N steps (0: only at the end).
    pub save_every: usize,
    /// Stop after this many evaluations without a new best validation loss (0: never).
    pub early_stop_patience: usize,
    /// Continue from `output/checkpoint` when it exists.
    pub resume: bool,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            eval_every: 100,
            save_every: 100,
            early_stop_patience: 0,
            resume: false,
        }
    }
}

impl TrainConfig {
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Self> {
        let cfg: TrainConfig = toml::from_str(text)
            .map_err(|e| TrainError::Config(format!("{}: {e}", origin.display())))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_toml_str(&fs_err::read_to_string(path)?, path)
    }

    pub fn validate(&self) -> Result<()> {
        self.lora.validate()?;
        let b = &self.base;
        if b.quantize_bits.is_some_and(|bits| !(2..=8).contains(&bits))
            || !matches!(b.quantize_group_size, 32 | 64 | 128)
        {
            return Err(TrainError::Config(
                "base.quantize_bits must be 2-8 and base.quantize_group_size 32, 64 or 128".into(),
            ));
        }
        if b.dequantize && b.quantize_bits.is_some() {
            return Err(TrainError::Config(
                "base.dequantize and base.quantize_bits contradict each other; set one".into(),
            ));
        }
        let o = &self.optim;
        if o.steps == 0 || o.grad_accum == 0 || o.lr.is_nan() || o.lr <= 0.0 {
            return Err(TrainError::Config(
                "optim.steps, optim.grad_accum and optim.lr must be positive".into(),
            ));
        }
        if self.data.batch_size == 0 || self.data.max_seq_len < 2 {
            return Err(TrainError::Config(
                "data.batch_size must be >= 1 and data.max_seq_len >= 2".into(),
            ));
        }
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config_parses_and_misspelled_keys_are_errors() {
        let text = r#"
model = "models/qwen3"
output = "out/run1"
seed = 3
[lora]
rank = 8
alpha = 16.0
targets = ["q_proj", "v_proj"]
num_layers = 4
[optim]
lr = 2e-4
steps = 50
grad_accum = 2
[data]
batch_size = 2
[loop]
eval_every = 10
"#;
        let cfg = TrainConfig::from_toml_str(text, Path::new("t.toml")).unwrap();
        assert_eq!(cfg.optim.grad_accum, 2);
        assert_eq!(cfg.run.eval_every, 10);
        assert_eq!(cfg.data.max_seq_len, 2048, "defaults fill the rest");
        // The saved config reads back to the same value.
        assert_eq!(
            TrainConfig::from_toml_str(&cfg.to_toml(), Path::new("r")).unwrap(),
            cfg
        );

        for (bad, key) in [
            (text.replace("grad_accum", "grad_acum"), "grad_acum"),
            (text.replace("eval_every", "evals_every"), "evals_every"),
            (text.replace("[data]", "[dat]"), "dat"),
            (
                text.replace("seed = 3", "seed = 3\ndevice = \"gpu\""),
                "gpu",
            ),
        ] {
            let err = TrainConfig::from_toml_str(&bad, Path::new("t.toml")).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(key) && msg.contains("t.toml"), "{msg}");
        }
    }

    #[test]
    fn a_gpu_this_build_lacks_is_a_clear_error() {
        let cfg = TrainConfig::from_toml_str(
            "model = \"m\"\noutput = \"o\"\ndevice = \"cuda\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(cfg.device, DeviceKind::Cuda);
        assert!(DeviceKind::Cpu.open().unwrap().is_cpu());
        // This build has no `cuda` feature (CI builds none), so opening it must say what to do.
        if !cfg!(feature = "cuda") {
            let msg = cfg.device.open().unwrap_err().to_string();
            assert!(msg.contains("--features cuda"), "{msg}");
        }
    }

    #[test]
    fn device_mlx_parses_and_a_build_without_it_says_how_to_get_it() {
        let cfg = TrainConfig::from_toml_str(
            "model = \"m\"\noutput = \"o\"\ndevice = \"mlx\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(cfg.device, DeviceKind::Mlx);
        assert!(cfg.device.is_mlx() && !DeviceKind::Cpu.is_mlx());
        assert!(cfg.to_toml().contains("device = \"mlx\""));
        // MLX is never a candle device, whatever the build.
        assert!(cfg.device.open().is_err());
        if cfg!(feature = "mlx") {
            cfg.device.check_mlx().unwrap();
        } else {
            let msg = cfg.device.check_mlx().unwrap_err().to_string();
            assert!(
                msg.contains("--features mlx") && msg.contains("tests/mlx-sdk"),
                "{msg}"
            );
            assert_eq!(cfg.device.open().unwrap_err().to_string(), msg);
        }
    }
}
