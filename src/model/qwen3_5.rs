//! The Qwen3.5 language model, backend-neutral: the fields of its `config.json`, which layers
//! are Gated DeltaNet and which full attention, its checkpoint key names and the two weight
//! layouts. The forward pass lives in each backend ([`crate::model::candle::qwen3_5`]).
//!
//! Checked against transformers (`models/qwen3_5/modeling_qwen3_5.py`,
//! `configuration_qwen3_5.py`) and mlx-lm 0.32.2 (`mlx_lm/models/qwen3_5.py`, `qwen3_next.py`,
//! `gated_delta.py`):
//! - `config.json` is `model_type = "qwen3_5"` with the language model under `text_config`
//!   (`qwen3_5_text`); a bare `qwen3_5_text` file is read the same way (mlx-lm's `from_dict`).
//! - Layer `i` is full attention when `(i + 1) % full_attention_interval == 0`, else a Gated
//!   DeltaNet layer (`layer_types`, when present, must say the same).
//! - Checkpoints of `Qwen3_5ForConditionalGeneration` name the language model
//!   `model.language_model.*` (Hugging Face) or `language_model.model.*` (mlx-lm's save), beside
//!   `model.visual.*` / `vision_tower.*` and `mtp.*`, which a language model never reads.
//! - Two layouts: Hugging Face stores the decoder RMSNorm weights zero-centred (the layer computes
//!   `x̂ · (1 + w)`) and `conv1d.weight` as `[C, 1, K]`; mlx-lm's `sanitize` converts them to
//!   `1 + w` and `[C, K, 1]` (`linear_attn.norm`, a plain gated RMSNorm, is never shifted). The
//!   layout is told from the conv weight's shape, as mlx-lm does.
//!
//! Must not use a tensor library.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::{ModelError, Result};

/// The fields of a Qwen3.5 text config (`text_config` of a `qwen3_5` file). Other fields are
/// ignored: this file is written by others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen35Config {
    #[serde(default = "default_model_type")]
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    #[serde(default)]
    pub head_dim: Option<usize>,
    pub linear_num_value_heads: usize,
    pub linear_num_key_heads: usize,
    pub linear_key_head_dim: usize,
    pub linear_value_head_dim: usize,
    #[serde(default = "default_conv_kernel")]
    pub linear_conv_kernel_dim: usize,
    #[serde(default = "default_interval")]
    pub full_attention_interval: usize,
    /// `linear_attention` / `full_attention` per layer (transformers); optional.
    #[serde(default)]
    pub layer_types: Option<Vec<String>>,
    #[serde(default = "default_rms_eps")]
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub max_position_embeddings: Option<usize>,
    /// `{rope_type, rope_theta, partial_rotary_factor, mrope_section, ...}`.
    #[serde(default)]
    pub rope_parameters: Option<serde_json::Value>,
    /// Older files put these at the top of the text config.
    #[serde(default)]
    pub rope_theta: Option<f64>,
    #[serde(default)]
    pub partial_rotary_factor: Option<f64>,
    /// Mixture-of-experts variants (`qwen3_5_moe`) are not implemented.
    #[serde(default)]
    pub num_experts: usize,
}

fn default_model_type() -> String {
    "qwen3_5_text".into()
}
fn default_conv_kernel() -> usize {
    4
}
fn default_interval() -> usize {
    4
}
fn default_rms_eps() -> f64 {
    1e-6
}

/// A layer's token mixer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// Gated DeltaNet (`linear_attn.*`).
    DeltaNet,
    /// Gated full attention (`self_attn.*`).
    Attention,
}

impl Qwen35Config {
    /// Parse a whole `config.json` (`qwen3_5` with `text_config`, or a bare text config).
    pub fn from_value(v: &serde_json::Value, path: &Path) -> Result<Self> {
        let text = v.get("text_config").filter(|t| t.is_object()).unwrap_or(v);
        let mut text = text.clone();
        // `tie_word_embeddings` sits at the top level of some files and in text_config of others.
        if text.get("tie_word_embeddings").is_none() {
            if let Some(t) = v.get("tie_word_embeddings") {
                text["tie_word_embeddings"] = t.clone();
            }
        }
        let cfg: Qwen35Config =
            serde_json::from_value(text).map_err(|source| ModelError::Json {
                path: path.to_path_buf(),
                source,
            })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    fn rope_field(&self, name: &str) -> Option<f64> {
        self.rope_parameters
            .as_ref()
            .and_then(|r| r.get(name))
            .and_then(|x| x.as_f64())
    }

    /// RoPE base (mlx-lm's default when the file names none: 100,000).
    pub fn rope_theta(&self) -> f64 {
        self.rope_field("rope_theta")
            .or(self.rope_theta)
            .unwrap_or(100_000.0)
    }

    /// Dimensions of each attention head that RoPE rotates: the first
    /// `head_dim * partial_rotary_factor` (default 0.25). For text, multimodal RoPE (mRoPE) gives
    /// every section the same position, so it is 1-D RoPE on these dimensions.
    pub fn rotary_dim(&self) -> usize {
        let f = self
            .rope_field("partial_rotary_factor")
            .or(self.partial_rotary_factor)
            .unwrap_or(0.25);
        (self.head_dim() as f64 * f) as usize
    }

    pub fn layer_kind(&self, layer: usize) -> LayerKind {
        if self.is_full_attention(layer) {
            LayerKind::Attention
        } else {
            LayerKind::DeltaNet
        }
    }

    pub fn is_full_attention(&self, layer: usize) -> bool {
        (layer + 1) % self.full_attention_interval == 0
    }

    /// Channels of the DeltaNet convolution: queries, keys and values (`2 * key_dim + value_dim`).
    pub fn conv_dim(&self) -> usize {
        2 * self.key_dim() + self.value_dim()
    }

    pub fn key_dim(&self) -> usize {
        self.linear_num_key_heads * self.linear_key_head_dim
    }

    pub fn value_dim(&self) -> usize {
        self.linear_num_value_heads * self.linear_value_head_dim
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ModelError::Config(m));
        if self.num_experts > 0 {
            return bad("Qwen3.5 mixture-of-experts models are not supported; use a dense Qwen3.5 (0.8B-27B)".into());
        }
        if self.full_attention_interval == 0 {
            return bad("full_attention_interval must be at least 1".into());
        }
        if self.num_key_value_heads == 0 || self.num_attention_heads % self.num_key_value_heads != 0
        {
            return bad(format!(
                "num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if self.linear_num_key_heads == 0
            || self.linear_num_value_heads % self.linear_num_key_heads != 0
        {
            return bad(format!(
                "linear_num_value_heads ({}) must be a multiple of linear_num_key_heads ({})",
                self.linear_num_value_heads, self.linear_num_key_heads
            ));
        }
        let rd = self.rotary_dim();
        if rd == 0 || rd % 2 != 0 || rd > self.head_dim() {
            return bad(format!(
                "the rotary dimension head_dim * partial_rotary_factor = {rd} must be even and at most head_dim ({})",
                self.head_dim()
            ));
        }
        if let Some(kind) = self
            .rope_parameters
            .as_ref()
            .and_then(|r| r.get("rope_type").or_else(|| r.get("type")))
            .and_then(|t| t.as_str())
        {
            if kind != "default" {
                return bad(format!(
                    "rope_type `{kind}` is not supported (only `default`)"
                ));
            }
        }
        if let Some(types) = &self.layer_types {
            if types.len() != self.num_hidden_layers {
                return bad(format!(
                    "layer_types names {} layers, num_hidden_layers is {}",
                    types.len(),
                    self.num_hidden_layers
                ));
            }
            for (i, t) in types.iter().enumerate() {
                let want = match self.layer_kind(i) {
                    LayerKind::Attention => "full_attention",
                    LayerKind::DeltaNet => "linear_attention",
                };
                if t != want {
                    return bad(format!(
                        "layer_types[{i}] is `{t}` but full_attention_interval {} makes it `{want}`",
                        self.full_attention_interval
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Where a checkpoint tensor goes in the language model, in the names this crate uses
/// (`model.embed_tokens.weight`, `model.layers.N...`, `model.norm.weight`, `lm_head.weight`);
/// `None` for the vision tower and the multi-token-prediction head, which are skipped (mlx-lm's
/// `sanitize` drops them too).
pub fn canonical_key(raw: &str) -> Option<String> {
    const SKIP: [&str; 4] = ["model.visual.", "visual.", "vision_tower.", "mtp."];
    if SKIP.iter().any(|p| raw.starts_with(p)) {
        return None;
    }
    for (from, to) in [
        ("model.language_model.", "model."),
        ("language_model.model.", "model."),
        ("language_model.lm_head.", "lm_head."),
    ] {
        if let Some(rest) = raw.strip_prefix(from) {
            return Some(format!("{to}{rest}"));
        }
    }
    Some(raw.to_string())
}

/// Whether a canonical key is a decoder RMSNorm weight that the Hugging Face layout stores
/// zero-centred (`x̂ · (1 + w)`): mlx-lm's `sanitize` list. `linear_attn.norm` is not one.
pub fn is_zero_centred_norm(key: &str) -> bool {
    [
        ".input_layernorm.weight",
        ".post_attention_layernorm.weight",
        ".q_norm.weight",
        ".k_norm.weight",
    ]
    .iter()
    .any(|s| key.ends_with(s))
        || key == "model.norm.weight"
}

/// Every weight of the language model in the Hugging Face layout of
/// `Qwen3_5ForConditionalGeneration` (`model.language_model.*`, `conv1d.weight` `[C, 1, K]`),
/// with its shape (random checkpoints for tests and benchmarks).
pub fn hf_weight_shapes(c: &Qwen35Config) -> Vec<(String, Vec<usize>)> {
    let h = c.hidden_size;
    let hd = c.head_dim();
    let i = c.intermediate_size;
    let p0 = "model.language_model";
    let mut out = vec![(format!("{p0}.embed_tokens.weight"), vec![c.vocab_size, h])];
    for l in 0..c.num_hidden_layers {
        let p = format!("{p0}.layers.{l}");
        out.push((format!("{p}.input_layernorm.weight"), vec![h]));
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        match c.layer_kind(l) {
            LayerKind::Attention => {
                let q = c.num_attention_heads * hd;
                let kv = c.num_key_value_heads * hd;
                out.push((format!("{p}.self_attn.q_proj.weight"), vec![2 * q, h]));
                out.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
                out.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
                out.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
                out.push((format!("{p}.self_attn.q_norm.weight"), vec![hd]));
                out.push((format!("{p}.self_attn.k_norm.weight"), vec![hd]));
            }
            LayerKind::DeltaNet => {
                let (hv, dv) = (c.linear_num_value_heads, c.linear_value_head_dim);
                let a = format!("{p}.linear_attn");
                out.push((format!("{a}.in_proj_qkv.weight"), vec![c.conv_dim(), h]));
                out.push((format!("{a}.in_proj_z.weight"), vec![c.value_dim(), h]));
                out.push((format!("{a}.in_proj_b.weight"), vec![hv, h]));
                out.push((format!("{a}.in_proj_a.weight"), vec![hv, h]));
                out.push((
                    format!("{a}.conv1d.weight"),
                    vec![c.conv_dim(), 1, c.linear_conv_kernel_dim],
                ));
                out.push((format!("{a}.dt_bias"), vec![hv]));
                out.push((format!("{a}.A_log"), vec![hv]));
                out.push((format!("{a}.norm.weight"), vec![dv]));
                out.push((format!("{a}.out_proj.weight"), vec![h, c.value_dim()]));
            }
        }
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
    }
    out.push((format!("{p0}.norm.weight"), vec![h]));
    if !c.tie_word_embeddings {
        out.push(("lm_head.weight".to_string(), vec![c.vocab_size, h]));
    }
    out
}

/// A tiny Qwen3.5 for tests: 4 layers (DeltaNet, DeltaNet, DeltaNet, attention), 2 query heads
/// over 1 KV head of 16 dims (8 rotary), 2 DeltaNet key heads serving 4 value heads.
#[cfg(test)]
pub(crate) fn tiny_config(tied: bool) -> Qwen35Config {
    Qwen35Config {
        model_type: "qwen3_5_text".into(),
        vocab_size: 64,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 4,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        head_dim: Some(16),
        linear_num_value_heads: 4,
        linear_num_key_heads: 2,
        linear_key_head_dim: 8,
        linear_value_head_dim: 8,
        linear_conv_kernel_dim: 4,
        full_attention_interval: 4,
        layer_types: None,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: tied,
        attention_bias: false,
        max_position_embeddings: Some(1024),
        rope_parameters: Some(serde_json::json!({
            "rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
            "mrope_section": [2, 1, 1]
        })),
        rope_theta: None,
        partial_rotary_factor: None,
        num_experts: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_conditional_generation_config_with_text_config() {
        let v = serde_json::json!({
            "architectures": ["Qwen3_5ForConditionalGeneration"],
            "model_type": "qwen3_5",
            "tie_word_embeddings": true,
            "text_config": {
                "model_type": "qwen3_5_text", "vocab_size": 248320, "hidden_size": 2560,
                "intermediate_size": 9216, "num_hidden_layers": 32, "num_attention_heads": 16,
                "num_key_value_heads": 4, "head_dim": 256, "linear_num_value_heads": 32,
                "linear_num_key_heads": 16, "linear_key_head_dim": 128,
                "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4,
                "full_attention_interval": 4,
                "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention",
                                "linear_attention", "linear_attention", "linear_attention", "full_attention",
                                "linear_attention", "linear_attention", "linear_attention", "full_attention",
                                "linear_attention", "linear_attention", "linear_attention", "full_attention",
                                "linear_attention", "linear_attention", "linear_attention", "full_attention",
                                "linear_attention", "linear_attention", "linear_attention", "full_attention",
                                "linear_attention", "linear_attention", "linear_attention", "full_attention",
                                "linear_attention", "linear_attention", "linear_attention", "full_attention"],
                "rope_parameters": {"rope_type": "default", "rope_theta": 10000000,
                                    "partial_rotary_factor": 0.25, "mrope_section": [11, 11, 10],
                                    "mrope_interleaved": true}
            },
            "vision_config": {"depth": 24}
        });
        let c = Qwen35Config::from_value(&v, Path::new("config.json")).unwrap();
        assert!(c.tie_word_embeddings, "taken from the top level");
        assert_eq!((c.head_dim(), c.rotary_dim()), (256, 64));
        assert_eq!(c.rope_theta(), 1e7);
        assert_eq!(c.layer_kind(2), LayerKind::DeltaNet);
        assert_eq!(c.layer_kind(3), LayerKind::Attention);
        assert_eq!(c.conv_dim(), 2 * 2048 + 4096);

        let mut bad = v.clone();
        bad["text_config"]["layer_types"][0] = "full_attention".into();
        let err = Qwen35Config::from_value(&bad, Path::new("c.json")).unwrap_err();
        assert!(err.to_string().contains("layer_types[0]"), "{err}");
        let mut moe = v.clone();
        moe["text_config"]["num_experts"] = 256.into();
        assert!(Qwen35Config::from_value(&moe, Path::new("c.json")).is_err());
    }

    #[test]
    fn checkpoint_keys_map_to_the_language_model_and_skip_vision_and_mtp() {
        for (raw, want) in [
            (
                "model.language_model.layers.0.linear_attn.A_log",
                Some("model.layers.0.linear_attn.A_log"),
            ),
            (
                "language_model.model.norm.weight",
                Some("model.norm.weight"),
            ),
            ("language_model.lm_head.weight", Some("lm_head.weight")),
            ("lm_head.weight", Some("lm_head.weight")),
            (
                "model.embed_tokens.weight",
                Some("model.embed_tokens.weight"),
            ),
            ("model.visual.blocks.0.attn.qkv.weight", None),
            ("vision_tower.patch_embed.proj.weight", None),
            ("mtp.layers.0.mlp.gate_proj.weight", None),
        ] {
            assert_eq!(canonical_key(raw).as_deref(), want, "{raw}");
        }
        assert!(is_zero_centred_norm(
            "model.layers.3.self_attn.q_norm.weight"
        ));
        assert!(is_zero_centred_norm("model.norm.weight"));
        assert!(!is_zero_centred_norm(
            "model.layers.0.linear_attn.norm.weight"
        ));
    }
}
