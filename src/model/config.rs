//! Which architecture a model folder holds, from the `model_type` of its `config.json`, and its
//! parsed configuration.
//!
//! Every architecture this crate implements is one variant of [`Architecture`] and of
//! [`ModelConfig`]; its own configuration type ([`crate::model::qwen3::Qwen3Config`],
//! [`crate::model::qwen3_5::Qwen35Config`]) parses the rest of the file. Adding an architecture
//! means a variant here, the `model_type` names it answers to, its config module beside
//! `qwen3.rs`, and its layers in each backend. Must not use a tensor library.

use std::path::Path;

use crate::model::lora::{LoraConfig, LoraKey, TargetModule};
use crate::model::qwen3::Qwen3Config;
use crate::model::qwen3_5::Qwen35Config;
use crate::model::{ModelError, Result};

/// An architecture implemented by the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// Qwen3 dense decoders (and the Qwen2/Llama layouts it reads with the same code).
    Qwen3,
    /// Qwen3.5: Gated DeltaNet layers with a gated full-attention layer every
    /// `full_attention_interval` (the language model of `Qwen3_5ForConditionalGeneration`).
    Qwen35,
}

impl Architecture {
    /// The architecture for a `config.json` `model_type`; an unknown one is an error that says
    /// what is supported.
    pub fn from_model_type(model_type: &str) -> Result<Self> {
        match model_type {
            "qwen3" | "qwen2" | "llama" => Ok(Architecture::Qwen3),
            "qwen3_5" | "qwen3_5_text" => Ok(Architecture::Qwen35),
            other => Err(ModelError::Config(format!(
                "model_type `{other}` is not supported; the trainer implements Qwen3 dense and Qwen3.5 (dense, not MoE) models"
            ))),
        }
    }

    /// The name of decoder layer `layer` in mlx-lm's parameter tree, which its adapter files
    /// use: `model.layers.N` (mlx-lm `models/qwen3.py`), `language_model.model.layers.N`
    /// (mlx-lm `models/qwen3_5.py`, whose `Model` wraps a `TextModel` as `language_model`).
    pub fn mlx_layer_prefix(self, layer: usize) -> String {
        match self {
            Architecture::Qwen3 => format!("model.layers.{layer}"),
            Architecture::Qwen35 => format!("language_model.model.layers.{layer}"),
        }
    }

    /// The name of decoder layer `layer` in the Hugging Face checkpoint, which PEFT prefixes with
    /// `base_model.model.`: `model.layers.N` (`Qwen3ForCausalLM`),
    /// `model.language_model.layers.N` (`Qwen3_5ForConditionalGeneration`).
    pub fn hf_layer_prefix(self, layer: usize) -> String {
        match self {
            Architecture::Qwen3 => format!("model.layers.{layer}"),
            Architecture::Qwen35 => format!("model.language_model.layers.{layer}"),
        }
    }

    /// Every prefix a layer name may carry in adapter and checkpoint files of any architecture
    /// (readers accept all of them).
    pub const LAYER_PREFIXES: [&'static str; 3] = [
        "model.layers.",
        "language_model.model.layers.",
        "model.language_model.layers.",
    ];
}

/// A model folder's parsed `config.json`, one variant per architecture.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelConfig {
    Qwen3(Qwen3Config),
    Qwen35(Qwen35Config),
}

impl ModelConfig {
    /// Read `config.json` and dispatch on its `model_type`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = fs_err::read_to_string(path)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ModelError::Json {
                path: path.to_path_buf(),
                source,
            })?;
        let model_type = v["model_type"].as_str().unwrap_or("qwen3");
        match Architecture::from_model_type(model_type)? {
            Architecture::Qwen3 => Ok(ModelConfig::Qwen3(Qwen3Config::from_file(path)?)),
            Architecture::Qwen35 => Ok(ModelConfig::Qwen35(Qwen35Config::from_value(&v, path)?)),
        }
    }

    /// `config.json` of a model folder.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_file(&dir.join("config.json"))
    }

    pub fn architecture(&self) -> Architecture {
        match self {
            ModelConfig::Qwen3(_) => Architecture::Qwen3,
            ModelConfig::Qwen35(_) => Architecture::Qwen35,
        }
    }

    pub fn num_hidden_layers(&self) -> usize {
        match self {
            ModelConfig::Qwen3(c) => c.num_hidden_layers,
            ModelConfig::Qwen35(c) => c.num_hidden_layers,
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            ModelConfig::Qwen3(c) => c.vocab_size,
            ModelConfig::Qwen35(c) => c.vocab_size,
        }
    }

    pub fn hidden_size(&self) -> usize {
        match self {
            ModelConfig::Qwen3(c) => c.hidden_size,
            ModelConfig::Qwen35(c) => c.hidden_size,
        }
    }

    pub fn rms_norm_eps(&self) -> f64 {
        match self {
            ModelConfig::Qwen3(c) => c.rms_norm_eps,
            ModelConfig::Qwen35(c) => c.rms_norm_eps,
        }
    }

    pub fn tie_word_embeddings(&self) -> bool {
        match self {
            ModelConfig::Qwen3(c) => c.tie_word_embeddings,
            ModelConfig::Qwen35(c) => c.tie_word_embeddings,
        }
    }

    pub fn max_position_embeddings(&self) -> Option<usize> {
        match self {
            ModelConfig::Qwen3(c) => c.max_position_embeddings,
            ModelConfig::Qwen35(c) => c.max_position_embeddings,
        }
    }

    pub fn set_max_position_embeddings(&mut self, n: Option<usize>) {
        match self {
            ModelConfig::Qwen3(c) => c.max_position_embeddings = n,
            ModelConfig::Qwen35(c) => c.max_position_embeddings = n,
        }
    }

    /// RoPE's rotated dimensions per attention head and its base.
    pub fn rope(&self) -> (usize, f64) {
        match self {
            ModelConfig::Qwen3(c) => (c.head_dim(), c.rope_theta),
            ModelConfig::Qwen35(c) => (c.rotary_dim(), c.rope_theta()),
        }
    }

    /// Whether decoder layer `layer` has the linear layer `module` (Qwen3.5's attention
    /// projections exist only in its full-attention layers, the DeltaNet ones only in the
    /// others).
    pub fn has_module(&self, layer: usize, module: TargetModule) -> bool {
        match self {
            ModelConfig::Qwen3(_) => !module.is_delta_net(),
            ModelConfig::Qwen35(c) => match module {
                TargetModule::Gate | TargetModule::Up | TargetModule::Down => true,
                m => c.is_full_attention(layer) != m.is_delta_net(),
            },
        }
    }

    /// Every adapted (layer, module) of `lora` on this model, sorted: the last `num_layers`
    /// layers, each with the targets it has (mlx-lm's `linear_to_lora_layers` adapts the keys
    /// a layer has and skips the others). A target no adapted layer has is an error.
    pub fn lora_keys(&self, lora: &LoraConfig) -> Result<Vec<LoraKey>> {
        let layers = lora.layers(self.num_hidden_layers())?;
        let keys = lora.keys_where(self.num_hidden_layers(), |l, m| self.has_module(l, m))?;
        for &m in &lora.targets {
            if !keys.iter().any(|k| k.module == m) {
                return Err(ModelError::Config(format!(
                    "lora target `{}` is in none of the adapted layers {layers:?} of this {:?} model",
                    m.leaf(),
                    self.architecture()
                )));
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_types_map_to_architectures_and_unknown_ones_are_named() {
        assert_eq!(
            Architecture::from_model_type("qwen3").unwrap(),
            Architecture::Qwen3
        );
        assert_eq!(
            Architecture::from_model_type("qwen3_5").unwrap(),
            Architecture::Qwen35
        );
        let c = ModelConfig::Qwen35(crate::model::qwen3_5::tiny_config(false));
        let lora = LoraConfig {
            targets: TargetModule::ALL.to_vec(),
            num_layers: Some(2),
            ..LoraConfig::default()
        };
        // Layer 2 is DeltaNet (5 + 3 MLP linears), layer 3 attention (4 + 3).
        let keys = c.lora_keys(&lora).unwrap();
        assert_eq!(keys.len(), 15);
        assert!(keys
            .iter()
            .any(|k| k.layer == 2 && k.module == TargetModule::Down));
        assert!(!keys
            .iter()
            .any(|k| k.layer == 2 && k.module == TargetModule::Q));
        assert!(!keys
            .iter()
            .any(|k| k.layer == 3 && k.module == TargetModule::OutProj));
        let q3 = ModelConfig::Qwen3(crate::model::qwen3::tiny_config(false));
        let err = q3.lora_keys(&lora).unwrap_err().to_string();
        assert!(err.contains("in_proj_qkv"), "{err}");

        let err = Architecture::from_model_type("mamba")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mamba`"), "{err}");
    }
}
