//! LoRA configuration and the names of adapted modules, shared by every backend and format.
//!
//! Scale conventions differ between the tools we interoperate with, so this module fixes one:
//! - PEFT (huggingface/peft `src/peft/tuners/lora/layer.py`): `scaling = lora_alpha / r`
//!   (or `lora_alpha / sqrt(r)` with rsLoRA, which we do not use).
//! - mlx-lm (ml-explore/mlx-lm `mlx_lm/tuner/lora.py`, `LoRALinear`): the config stores the
//!   multiplier itself as `lora_parameters.scale` (default 20.0 in the layer, 10.0 in
//!   `mlx_lm/lora.py` CONFIG_DEFAULTS); its `alpha` key is not read by the layer.
//!
//! We take `rank` and `alpha` (PEFT's meaning) and use `scale = alpha / rank` in the forward pass;
//! the mlx-lm writer stores that same number as `scale`, so both files describe the same update.
//! This module must not depend on a tensor library.

use serde::{Deserialize, Serialize};

use crate::core::hash::SplitMix64;
use crate::model::{ModelError, Result};

/// A linear layer of a decoder block that can carry a LoRA adapter: the attention and MLP
/// projections of Qwen3/Llama-style blocks, and the Gated DeltaNet projections of Qwen3.5
/// (`linear_attn.*`, transformers `Qwen3_5GatedDeltaNet`, mlx-lm `qwen3_5.GatedDeltaNet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TargetModule {
    #[serde(rename = "q_proj")]
    Q,
    #[serde(rename = "k_proj")]
    K,
    #[serde(rename = "v_proj")]
    V,
    #[serde(rename = "o_proj")]
    O,
    #[serde(rename = "gate_proj")]
    Gate,
    #[serde(rename = "up_proj")]
    Up,
    #[serde(rename = "down_proj")]
    Down,
    #[serde(rename = "in_proj_qkv")]
    InProjQkv,
    #[serde(rename = "in_proj_z")]
    InProjZ,
    #[serde(rename = "in_proj_a")]
    InProjA,
    #[serde(rename = "in_proj_b")]
    InProjB,
    #[serde(rename = "out_proj")]
    OutProj,
}

impl TargetModule {
    pub const ALL: [TargetModule; 12] = [
        TargetModule::Q,
        TargetModule::K,
        TargetModule::V,
        TargetModule::O,
        TargetModule::Gate,
        TargetModule::Up,
        TargetModule::Down,
        TargetModule::InProjQkv,
        TargetModule::InProjZ,
        TargetModule::InProjA,
        TargetModule::InProjB,
        TargetModule::OutProj,
    ];

    /// The linears of a Qwen3/Llama-style block (attention and MLP).
    pub const ATTENTION_AND_MLP: [TargetModule; 7] = [
        TargetModule::Q,
        TargetModule::K,
        TargetModule::V,
        TargetModule::O,
        TargetModule::Gate,
        TargetModule::Up,
        TargetModule::Down,
    ];

    /// Whether this is a Gated DeltaNet projection (`linear_attn.*`).
    pub fn is_delta_net(self) -> bool {
        matches!(
            self,
            TargetModule::InProjQkv
                | TargetModule::InProjZ
                | TargetModule::InProjA
                | TargetModule::InProjB
                | TargetModule::OutProj
        )
    }

    /// The leaf name used by Hugging Face and PEFT's `target_modules` (`q_proj`, ...).
    pub fn leaf(self) -> &'static str {
        match self {
            TargetModule::Q => "q_proj",
            TargetModule::K => "k_proj",
            TargetModule::V => "v_proj",
            TargetModule::O => "o_proj",
            TargetModule::Gate => "gate_proj",
            TargetModule::Up => "up_proj",
            TargetModule::Down => "down_proj",
            TargetModule::InProjQkv => "in_proj_qkv",
            TargetModule::InProjZ => "in_proj_z",
            TargetModule::InProjA => "in_proj_a",
            TargetModule::InProjB => "in_proj_b",
            TargetModule::OutProj => "out_proj",
        }
    }

    /// The path inside a decoder layer (`self_attn.q_proj`, `mlp.gate_proj`), as in the
    /// checkpoint keys and in mlx-lm's `lora_parameters.keys`.
    pub fn path(self) -> &'static str {
        match self {
            TargetModule::Q => "self_attn.q_proj",
            TargetModule::K => "self_attn.k_proj",
            TargetModule::V => "self_attn.v_proj",
            TargetModule::O => "self_attn.o_proj",
            TargetModule::Gate => "mlp.gate_proj",
            TargetModule::Up => "mlp.up_proj",
            TargetModule::Down => "mlp.down_proj",
            TargetModule::InProjQkv => "linear_attn.in_proj_qkv",
            TargetModule::InProjZ => "linear_attn.in_proj_z",
            TargetModule::InProjA => "linear_attn.in_proj_a",
            TargetModule::InProjB => "linear_attn.in_proj_b",
            TargetModule::OutProj => "linear_attn.out_proj",
        }
    }

    pub fn from_leaf(s: &str) -> Option<TargetModule> {
        Self::ALL
            .into_iter()
            .find(|m| m.leaf() == s || m.path() == s)
    }
}

/// Which module of which layer an adapter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoraKey {
    pub layer: usize,
    pub module: TargetModule,
}

impl LoraKey {
    /// `model.layers.{layer}.{path}`: the module's name inside the language model (adapter
    /// files prefix the layer as their architecture names it, see
    /// [`crate::model::config::Architecture::mlx_layer_prefix`]).
    pub fn module_name(&self) -> String {
        format!("model.layers.{}.{}", self.layer, self.module.path())
    }
}

/// LoRA hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    pub rank: usize,
    /// PEFT's `lora_alpha`; the update is multiplied by `alpha / rank`.
    pub alpha: f64,
    /// Dropout on the adapter's input during training (PEFT `lora_dropout`, mlx-lm `dropout`).
    #[serde(default)]
    pub dropout: f64,
    pub targets: Vec<TargetModule>,
    /// Adapt only the last N decoder layers (mlx-lm `num_layers`); `None` means all.
    #[serde(default)]
    pub num_layers: Option<usize>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 16.0,
            dropout: 0.0,
            targets: vec![TargetModule::Q, TargetModule::V],
            num_layers: None,
        }
    }
}

impl LoraConfig {
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(ModelError::Config("lora.rank must be at least 1".into()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ModelError::Config(format!(
                "lora.dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        if self.targets.is_empty() {
            return Err(ModelError::Config(
                "lora.targets is empty; name at least one of q_proj k_proj v_proj o_proj gate_proj up_proj down_proj (and, on Qwen3.5, in_proj_qkv in_proj_z in_proj_a in_proj_b out_proj)".into(),
            ));
        }
        if self.num_layers == Some(0) {
            return Err(ModelError::Config(
                "lora.num_layers = 0 adapts nothing; omit it to adapt every layer".into(),
            ));
        }
        Ok(())
    }

    /// Indices of the adapted layers for a model with `n_layers` decoder layers (the last N).
    pub fn layers(&self, n_layers: usize) -> Result<std::ops::Range<usize>> {
        let n = self.num_layers.unwrap_or(n_layers);
        if n > n_layers {
            return Err(ModelError::Config(format!(
                "lora.num_layers = {n} but the model has only {n_layers} layers"
            )));
        }
        Ok(n_layers - n..n_layers)
    }

    /// Every adapted (layer, module) for which `has(layer, module)`, sorted (an architecture
    /// whose layers differ says which has which: see
    /// [`crate::model::config::ModelConfig::lora_keys`]).
    pub fn keys_where(
        &self,
        n_layers: usize,
        has: impl Fn(usize, TargetModule) -> bool,
    ) -> Result<Vec<LoraKey>> {
        let mut targets = self.targets.clone();
        targets.sort();
        targets.dedup();
        let mut keys = Vec::new();
        for layer in self.layers(n_layers)? {
            for &module in &targets {
                if has(layer, module) {
                    keys.push(LoraKey { layer, module });
                }
            }
        }
        Ok(keys)
    }
}

/// LoRA dropout's mask for `n` adapter inputs (row-major): each is `1 / (1 - p)` with
/// probability `1 - p` and 0 otherwise, one draw of `rng` per input in order, so every backend
/// drawing from the same seed drops the same inputs.
pub fn dropout_mask(rng: &mut SplitMix64, n: usize, p: f64) -> Vec<f32> {
    let keep = 1.0 - p;
    (0..n)
        .map(|_| {
            if rng.unit() < keep {
                (1.0 / keep) as f32
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_n_layers_and_sorted_keys() {
        let cfg = LoraConfig {
            targets: vec![TargetModule::V, TargetModule::Q, TargetModule::V],
            num_layers: Some(2),
            ..LoraConfig::default()
        };
        let keys = cfg.keys_where(5, |_, _| true).unwrap();
        let names: Vec<String> = keys.iter().map(|k| k.module_name()).collect();
        assert_eq!(
            names,
            [
                "model.layers.3.self_attn.q_proj",
                "model.layers.3.self_attn.v_proj",
                "model.layers.4.self_attn.q_proj",
                "model.layers.4.self_attn.v_proj"
            ]
        );
        assert!(
            cfg.keys_where(1, |_, _| true).is_err(),
            "more layers than the model has"
        );
        assert_eq!(cfg.scale(), 2.0);
    }

    #[test]
    fn unknown_target_is_a_config_error() {
        let err = toml::from_str::<LoraConfig>("rank = 4\nalpha = 8.0\ntargets = [\"qproj\"]")
            .unwrap_err();
        assert!(err.to_string().contains("qproj"), "{err}");
        let err =
            toml::from_str::<LoraConfig>("rank = 4\nalpha = 8.0\ntargets = [\"q_proj\"]\nrnak = 3")
                .unwrap_err();
        assert!(err.to_string().contains("rnak"), "{err}");
    }
}
