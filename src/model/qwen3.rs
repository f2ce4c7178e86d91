//! The Qwen3 dense decoder, backend-neutral: the fields of its `config.json` and the names and
//! shapes of its checkpoint weights. The forward pass lives in each backend
//! ([`crate::model::candle::qwen3`]).
//!
//! Weight names follow Hugging Face transformers
//! (`src/transformers/models/qwen3/modeling_qwen3.py`) and mlx-lm (`mlx_lm/models/qwen3.py`,
//! which loads the same keys). Must not use a tensor library.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::config::Architecture;
use crate::model::lora::TargetModule;
use crate::model::{ModelError, Result};

/// The fields of a Hugging Face `config.json` that define a Qwen3 dense model. Other fields
/// (`architectures`, `torch_dtype`, ...) are ignored: this file is written by others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen3Config {
    #[serde(default = "default_model_type")]
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    /// Qwen3 sets this explicitly (128 for 0.6B although hidden/heads = 64).
    #[serde(default)]
    pub head_dim: Option<usize>,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default = "default_rms_eps")]
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub max_position_embeddings: Option<usize>,
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
}

fn default_model_type() -> String {
    "qwen3".into()
}
fn default_rope_theta() -> f64 {
    1_000_000.0
}
fn default_rms_eps() -> f64 {
    1e-6
}

impl Qwen3Config {
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = fs_err::read_to_string(path)?;
        let cfg: Qwen3Config = serde_json::from_str(&text).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        // A second architecture must be turned away here, not silently read as Qwen3.
        match Architecture::from_model_type(&self.model_type)? {
            Architecture::Qwen3 => {}
        }
        if self.num_key_value_heads == 0 || self.num_attention_heads % self.num_key_value_heads != 0
        {
            return Err(ModelError::Config(format!(
                "num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
                self.num_attention_heads, self.num_key_value_heads
            )));
        }
        if self.head_dim() % 2 != 0 {
            return Err(ModelError::Config("head_dim must be even for RoPE".into()));
        }
        if self.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(ModelError::Config(
                "rope_scaling is not supported yet; remove it or train without long-context scaling"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Every weight the model needs, with its shape, in checkpoint key names.
    pub fn weight_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let h = self.hidden_size;
        let hd = self.head_dim();
        let q = self.num_attention_heads * hd;
        let kv = self.num_key_value_heads * hd;
        let i = self.intermediate_size;
        let mut out = vec![(
            "model.embed_tokens.weight".to_string(),
            vec![self.vocab_size, h],
        )];
        for l in 0..self.num_hidden_layers {
            let p = format!("model.layers.{l}");
            out.push((format!("{p}.input_layernorm.weight"), vec![h]));
            out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
            out.push((format!("{p}.self_attn.q_proj.weight"), vec![q, h]));
            out.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
            out.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
            out.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
            if self.attention_bias {
                out.push((format!("{p}.self_attn.q_proj.bias"), vec![q]));
                out.push((format!("{p}.self_attn.k_proj.bias"), vec![kv]));
                out.push((format!("{p}.self_attn.v_proj.bias"), vec![kv]));
            }
            out.push((format!("{p}.self_attn.q_norm.weight"), vec![hd]));
            out.push((format!("{p}.self_attn.k_norm.weight"), vec![hd]));
            out.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
            out.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
            out.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
        }
        out.push(("model.norm.weight".to_string(), vec![h]));
        if !self.tie_word_embeddings {
            out.push(("lm_head.weight".to_string(), vec![self.vocab_size, h]));
        }
        out
    }
}

/// One decoder layer's weights as a backend holds them (`N`: a norm weight vector, `L`: a
/// linear layer): the one list of a Qwen3 layer's parts and their checkpoint names, which every
/// backend's model uses.
#[derive(Debug, Clone)]
pub struct Qwen3Layer<N, L> {
    pub input_layernorm: N,
    pub post_attention_layernorm: N,
    pub q_norm: N,
    pub k_norm: N,
    pub q_proj: L,
    pub k_proj: L,
    pub v_proj: L,
    pub o_proj: L,
    pub gate_proj: L,
    pub up_proj: L,
    pub down_proj: L,
}

impl<N, L> Qwen3Layer<N, L> {
    /// Layer `l` of a checkpoint: `linear(weights, prefix, has_bias)` builds each projection
    /// from the keys `{prefix}.weight` (and `{prefix}.bias`), `norm(weights, key)` each norm
    /// weight; both take their tensors from `weights`.
    pub fn build<W, E>(
        config: &Qwen3Config,
        l: usize,
        weights: &mut W,
        linear: impl Fn(&mut W, &str, bool) -> Result<L, E>,
        norm: impl Fn(&mut W, &str) -> Result<N, E>,
    ) -> Result<Self, E> {
        let p = format!("model.layers.{l}");
        let ab = config.attention_bias;
        Ok(Qwen3Layer {
            input_layernorm: norm(weights, &format!("{p}.input_layernorm.weight"))?,
            post_attention_layernorm: norm(
                weights,
                &format!("{p}.post_attention_layernorm.weight"),
            )?,
            q_norm: norm(weights, &format!("{p}.self_attn.q_norm.weight"))?,
            k_norm: norm(weights, &format!("{p}.self_attn.k_norm.weight"))?,
            q_proj: linear(weights, &format!("{p}.self_attn.q_proj"), ab)?,
            k_proj: linear(weights, &format!("{p}.self_attn.k_proj"), ab)?,
            v_proj: linear(weights, &format!("{p}.self_attn.v_proj"), ab)?,
            o_proj: linear(weights, &format!("{p}.self_attn.o_proj"), false)?,
            gate_proj: linear(weights, &format!("{p}.mlp.gate_proj"), false)?,
            up_proj: linear(weights, &format!("{p}.mlp.up_proj"), false)?,
            down_proj: linear(weights, &format!("{p}.mlp.down_proj"), false)?,
        })
    }

    /// The projection a LoRA target adapts.
    pub fn linear_mut(&mut self, m: TargetModule) -> &mut L {
        match m {
            TargetModule::Q => &mut self.q_proj,
            TargetModule::K => &mut self.k_proj,
            TargetModule::V => &mut self.v_proj,
            TargetModule::O => &mut self.o_proj,
            TargetModule::Gate => &mut self.gate_proj,
            TargetModule::Up => &mut self.up_proj,
            TargetModule::Down => &mut self.down_proj,
        }
    }
}

/// A tiny Qwen3 shape for tests: 2 layers, 4 query heads over 2 KV heads, vocabulary 64.
#[cfg(test)]
pub(crate) fn tiny_config(tied: bool) -> Qwen3Config {
    Qwen3Config {
        model_type: "qwen3".into(),
        vocab_size: 64,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: Some(8),
        rope_theta: 10_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: tied,
        attention_bias: false,
        max_position_embeddings: Some(128),
        rope_scaling: None,
    }
}
