//! Qwen3 dense decoder on MLX, with LoRA on selected projections: the same computation as
//! [`crate::model::candle::qwen3`] (transformers `models/qwen3/modeling_qwen3.py`; mlx-lm
//! `mlx_lm/models/qwen3.py`, whose ops this follows: `fast.rms_norm`, `fast.rope` with
//! `traditional=False`, `fast.scaled_dot_product_attention` with grouped-query heads and a causal
//! mask).
//!
//! The LoRA parameters are not fields the forward reads behind the caller's back: every forward
//! takes them as a slice (`[a, b]` per key, keys sorted, the order of
//! [`crate::train::Backend::lora_tensors`]), so MLX's `value_and_grad` can differentiate a loss
//! with respect to exactly those arrays. The base weights are plain arrays, never arguments, so
//! MLX computes no gradient for them.
//!
//! So far: dense f32 base weights built from host tensors, whole sequences at positions
//! `0..seq` (training and scoring). Not yet: quantized base weights, dropout, the KV cache.

use std::collections::HashMap;
use std::path::Path;

use mlx_rs::fast::{self, ScaledDotProductAttentionMask};
use mlx_rs::Array;

use super::{dims, from_host};
use crate::core::hash::SplitMix64;
use crate::model::lora::{LoraConfig, LoraKey};
use crate::model::qwen3::{Qwen3Config, Qwen3Layer};
use crate::model::{HostTensor, LoraTensors, ModelError, Result};

/// A frozen linear layer (`y = x W^T + bias`) and, when adapted, the index of its LoRA pair in
/// the parameter slice (`params[2i]` is A `[rank, in]`, `params[2i + 1]` is B `[out, rank]`).
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Array,
    pub bias: Option<Array>,
    pub lora: Option<usize>,
}

impl Linear {
    /// `x` is `[rows, in]`.
    fn forward(&self, x: &Array, lora: &[Array], scale: f32) -> Result<Array> {
        let mut y = x.matmul(self.weight.t())?;
        if let Some(bias) = &self.bias {
            y = y.add(bias)?;
        }
        if let Some(i) = self.lora {
            let z = x.matmul(lora[2 * i].t())?.matmul(lora[2 * i + 1].t())?;
            y = y.add(z.multiply(Array::from_f32(scale))?)?;
        }
        Ok(y)
    }
}

/// One decoder layer: norm weights and (possibly adapted) projections.
pub type Block = Qwen3Layer<Array, Linear>;

/// The model: frozen base arrays, the adapted modules' keys (sorted) and the current LoRA
/// parameters in that order.
#[derive(Debug, Clone)]
pub struct Qwen3 {
    pub config: Qwen3Config,
    pub embed_tokens: Array,
    pub layers: Vec<Block>,
    pub norm: Array,
    /// `None` when the embeddings are tied.
    pub lm_head: Option<Array>,
    pub lora_keys: Vec<LoraKey>,
    /// `[a, b]` per key of `lora_keys`.
    pub lora: Vec<Array>,
    pub lora_scale: f32,
}

impl Qwen3 {
    /// Build from named host tensors (checkpoint keys; f32) and attach fresh adapters drawn from
    /// `seed` exactly as the candle model draws them (same A for the same seed, B zero), so
    /// both backends start from the same parameters. `origin` names the source in errors.
    pub fn from_host(
        config: Qwen3Config,
        mut tensors: HashMap<String, HostTensor>,
        lora: &LoraConfig,
        seed: u64,
        origin: &Path,
    ) -> Result<Self> {
        config.validate()?;
        lora.validate()?;
        let mut arrays = HashMap::new();
        for (key, shape) in config.weight_shapes() {
            let t = tensors
                .remove(&key)
                .ok_or_else(|| ModelError::MissingWeight {
                    path: origin.to_path_buf(),
                    key: key.clone(),
                })?;
            if t.shape != shape {
                return Err(ModelError::BadShape {
                    key,
                    got: t.shape,
                    expected: shape,
                });
            }
            arrays.insert(key, from_host(&t)?);
        }
        // Every key of `weight_shapes` is in `arrays`.
        let mut take = |key: &str| arrays.remove(key).expect("checked above");
        let layers = (0..config.num_hidden_layers)
            .map(|l| {
                Block::build(
                    &config,
                    l,
                    &mut take,
                    |take, prefix, bias| {
                        Ok::<_, ModelError>(Linear {
                            weight: take(&format!("{prefix}.weight")),
                            bias: bias.then(|| take(&format!("{prefix}.bias"))),
                            lora: None,
                        })
                    },
                    |take, key| Ok(take(key)),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let mut model = Qwen3 {
            embed_tokens: take("model.embed_tokens.weight"),
            norm: take("model.norm.weight"),
            lm_head: (!config.tie_word_embeddings).then(|| take("lm_head.weight")),
            config,
            layers,
            lora_keys: Vec::new(),
            lora: Vec::new(),
            lora_scale: lora.scale() as f32,
        };
        model.attach_lora(lora, seed)?;
        Ok(model)
    }

    /// Fresh adapters: A uniform in `±1/sqrt(in)`, B zero, drawn in the order of
    /// [`LoraConfig::keys`] from one [`SplitMix64`] (the candle model's draw, value for value).
    fn attach_lora(&mut self, cfg: &LoraConfig, seed: u64) -> Result<()> {
        let mut rng = SplitMix64::new(seed);
        let mut drawn = Vec::new();
        for key in cfg.keys(self.config.num_hidden_layers)? {
            let w = &self.layers[key.layer].linear_mut(key.module).weight;
            let (out_dim, in_dim) = (w.shape()[0] as usize, w.shape()[1] as usize);
            let bound = 1.0 / (in_dim as f64).sqrt();
            let a: Vec<f32> = (0..cfg.rank * in_dim)
                .map(|_| ((rng.unit() * 2.0 - 1.0) * bound) as f32)
                .collect();
            drawn.push(LoraTensors {
                key,
                a: HostTensor::new(vec![cfg.rank, in_dim], a),
                b: HostTensor::new(vec![out_dim, cfg.rank], vec![0.0; out_dim * cfg.rank]),
            });
        }
        drawn.sort_by_key(|t| t.key);
        for (i, t) in drawn.iter().enumerate() {
            self.layers[t.key.layer].linear_mut(t.key.module).lora = Some(i);
        }
        self.lora_keys = drawn.iter().map(|t| t.key).collect();
        self.set_lora_tensors(&drawn)
    }

    /// Replace the LoRA parameters; keys and shapes must be the model's.
    pub fn set_lora_tensors(&mut self, tensors: &[LoraTensors]) -> Result<()> {
        let keys: Vec<LoraKey> = tensors.iter().map(|t| t.key).collect();
        if keys != self.lora_keys {
            return Err(ModelError::Config(format!(
                "LoRA tensors for {} modules do not match the model's {} adapted modules",
                keys.len(),
                self.lora_keys.len()
            )));
        }
        let mut lora = Vec::with_capacity(2 * tensors.len());
        for t in tensors {
            let w = &self.layers[t.key.layer].linear_mut(t.key.module).weight;
            let (out_dim, in_dim) = (w.shape()[0] as usize, w.shape()[1] as usize);
            let rank = t.a.shape.first().copied().unwrap_or(0);
            for (h, want) in [(&t.a, [rank, in_dim]), (&t.b, [out_dim, rank])] {
                if h.shape != want {
                    return Err(ModelError::BadShape {
                        key: t.key.module_name(),
                        got: h.shape.clone(),
                        expected: want.to_vec(),
                    });
                }
                lora.push(from_host(h)?);
            }
        }
        self.lora = lora;
        Ok(())
    }

    /// The current LoRA parameters on the host, sorted by key.
    pub fn lora_tensors(&self) -> Result<Vec<LoraTensors>> {
        self.lora_keys
            .iter()
            .enumerate()
            .map(|(i, &key)| {
                Ok(LoraTensors {
                    key,
                    a: super::to_host(&self.lora[2 * i])?,
                    b: super::to_host(&self.lora[2 * i + 1])?,
                })
            })
            .collect()
    }

    /// Logits `[batch, seq, vocab]` for `rows = (batch, seq)`: right-padded rows of token ids,
    /// causal attention at positions `0..seq`, with the model's current LoRA parameters.
    pub fn forward(&self, tokens: &[u32], rows: (usize, usize)) -> Result<Array> {
        self.forward_with(&self.lora, tokens, rows)
    }

    /// [`Qwen3::forward`] with the LoRA parameters given (what autograd differentiates).
    pub fn forward_with(
        &self,
        lora: &[Array],
        tokens: &[u32],
        rows: (usize, usize),
    ) -> Result<Array> {
        let (batch, seq) = rows;
        let hidden = self.hidden(lora, tokens, rows)?;
        let shape = dims(&[batch, seq, self.config.vocab_size])?;
        Ok(self.logits(&hidden)?.reshape(&shape)?)
    }

    /// The decoder stack: token ids to the last layer's output `[batch * seq, hidden]` (before
    /// the final norm).
    pub fn hidden(&self, lora: &[Array], tokens: &[u32], rows: (usize, usize)) -> Result<Array> {
        let (batch, seq) = rows;
        if tokens.len() != batch * seq || lora.len() != self.lora.len() {
            return Err(ModelError::Config(format!(
                "forward got {} token ids for {batch} rows of {seq} and {} LoRA arrays for {}",
                tokens.len(),
                lora.len(),
                self.lora.len()
            )));
        }
        let cfg = &self.config;
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (nq, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let eps = cfg.rms_norm_eps as f32;
        let s = self.lora_scale;
        let ids = Array::from_slice(tokens, &dims(&[batch * seq])?);
        let mut x = self.embed_tokens.take_axis(&ids, 0)?;
        // [rows, n * hd] -> [batch, n, seq, hd], each head RMS-normed first when given a norm.
        let heads = |y: Array, n: usize, norm: Option<&Array>| -> Result<Array> {
            let y = y.reshape(&dims(&[batch, seq, n, hd])?)?;
            let y = match norm {
                Some(w) => fast::rms_norm(&y, Some(w), eps)?,
                None => y,
            };
            Ok(y.transpose_axes(&[0, 2, 1, 3])?)
        };
        let rope = |y: &Array| fast::rope(y, hd as i32, false, cfg.rope_theta as f32, 1.0, 0, None);
        for layer in &self.layers {
            let xn = fast::rms_norm(&x, Some(&layer.input_layernorm), eps)?;
            let q = heads(layer.q_proj.forward(&xn, lora, s)?, nq, Some(&layer.q_norm))?;
            let k = heads(
                layer.k_proj.forward(&xn, lora, s)?,
                nkv,
                Some(&layer.k_norm),
            )?;
            let v = heads(layer.v_proj.forward(&xn, lora, s)?, nkv, None)?;
            let att = fast::scaled_dot_product_attention(
                rope(&q)?,
                rope(&k)?,
                v,
                1.0 / (hd as f32).sqrt(),
                ScaledDotProductAttentionMask::Causal,
                None,
            )?;
            let att = att
                .transpose_axes(&[0, 2, 1, 3])?
                .reshape(&dims(&[batch * seq, nq * hd])?)?;
            x = x.add(layer.o_proj.forward(&att, lora, s)?)?;
            let xn = fast::rms_norm(&x, Some(&layer.post_attention_layernorm), eps)?;
            let gate = mlx_rs::nn::silu(layer.gate_proj.forward(&xn, lora, s)?)?;
            let up = layer.up_proj.forward(&xn, lora, s)?;
            x = x.add(layer.down_proj.forward(&gate.multiply(up)?, lora, s)?)?;
        }
        debug_assert_eq!(x.shape(), dims(&[batch * seq, h])?.as_slice());
        Ok(x)
    }

    /// Final norm and LM head: hidden states `[n, hidden]` to logits `[n, vocab]`.
    pub fn logits(&self, x: &Array) -> Result<Array> {
        let x = fast::rms_norm(x, Some(&self.norm), self.config.rms_norm_eps as f32)?;
        let head = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        Ok(x.matmul(head.t())?)
    }
}
