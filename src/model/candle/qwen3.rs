//! Qwen3 dense decoder on candle, written from differentiable ops, with LoRA on selected
//! projections. One forward serves training (whole sequences, dropout, gradients to the LoRA
//! `Var`s) and generation (new tokens after a [`KvCache`], detached); the two differ only in
//! where attention's keys and values come from.
//!
//! Architecture and weight names follow Hugging Face transformers
//! (`src/transformers/models/qwen3/modeling_qwen3.py`: `Qwen3Attention` applies `q_norm`/`k_norm`,
//! an RMSNorm over each head's `head_dim`, before RoPE) and mlx-lm (`mlx_lm/models/qwen3.py`,
//! which loads the same keys): `model.embed_tokens.weight`,
//! `model.layers.N.{input_layernorm,post_attention_layernorm}.weight`,
//! `model.layers.N.self_attn.{q,k,v,o}_proj.weight` (+ `.bias` when `attention_bias`),
//! `model.layers.N.self_attn.{q,k}_norm.weight`, `model.layers.N.mlp.{gate,up,down}_proj.weight`,
//! `model.norm.weight`, and `lm_head.weight` unless `tie_word_embeddings`.
//!
//! The base weights are plain tensors (never `Var`s), so no gradient is computed for them; only
//! the LoRA `Var`s are trainable. Must not call fused candle kernels (see [`super::ops`]).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var, D};

use super::kv_cache::{self, KvCache};
use super::ops;
use super::quantized::Weight;
use super::weights::load_checkpoint_weights;
use crate::core::hash::SplitMix64;
use crate::model::lora::{LoraConfig, LoraKey, TargetModule};
use crate::model::qwen3::{Qwen3Config, Qwen3Layer};
use crate::model::weights::BaseConfig;
use crate::model::{LoraTensors, ModelError, Result};

/// A trainable low-rank update on a frozen linear layer.
#[derive(Debug, Clone)]
pub struct LoraLayer {
    /// `[rank, in]`
    pub a: Var,
    /// `[out, rank]`
    pub b: Var,
    pub scale: f64,
    pub dropout: f64,
}

/// A frozen linear layer (`y = x W^T + bias`), optionally with LoRA.
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Weight,
    pub bias: Option<Tensor>,
    pub lora: Option<LoraLayer>,
}

/// Per-forward state: dropout is applied only when `rng` is set (training).
pub struct ForwardCtx<'a> {
    pub rng: Option<&'a mut SplitMix64>,
}

impl Linear {
    /// `x` is `[rows, in]`.
    pub fn forward(&self, x: &Tensor, ctx: &mut ForwardCtx) -> candle_core::Result<Tensor> {
        let mut y = self.weight.matmul_t(x)?;
        if let Some(bias) = &self.bias {
            y = y.broadcast_add(bias)?;
        }
        if let Some(lora) = &self.lora {
            let xin = match ctx.rng.as_deref_mut() {
                Some(rng) if lora.dropout > 0.0 => {
                    let keep = 1.0 - lora.dropout;
                    let mask: Vec<f32> = (0..x.elem_count())
                        .map(|_| {
                            if rng.unit() < keep {
                                (1.0 / keep) as f32
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let mask =
                        Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
                    (x * mask)?
                }
                _ => x.clone(),
            };
            let z = xin
                .matmul(&lora.a.as_tensor().t()?)?
                .matmul(&lora.b.as_tensor().t()?)?;
            y = (y + (z * lora.scale)?)?;
        }
        Ok(y)
    }
}

/// One decoder layer: norm weights and (possibly adapted) projections.
pub type Block = Qwen3Layer<Tensor, Linear>;

/// The model: frozen base weights plus the LoRA `Var`s (also listed in `lora`, sorted by key).
#[derive(Debug, Clone)]
pub struct Qwen3 {
    pub config: Qwen3Config,
    pub embed_tokens: Weight,
    pub layers: Vec<Block>,
    pub norm: Tensor,
    /// `None` when the embeddings are tied.
    pub lm_head: Option<Weight>,
    pub lora: Vec<(LoraKey, LoraLayer)>,
    pub dtype: DType,
}

impl Qwen3 {
    /// Load `config.json` + safetensors from a Hugging Face model directory and attach LoRA
    /// adapters initialised from `seed`.
    pub fn load(dir: &Path, lora: &LoraConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::load_with(dir, lora, seed, device, &BaseConfig::default())
    }

    /// [`Qwen3::load`] with control over quantization of the base (QLoRA).
    pub fn load_with(
        dir: &Path,
        lora: &LoraConfig,
        seed: u64,
        device: &Device,
        base: &BaseConfig,
    ) -> Result<Self> {
        let config = Qwen3Config::from_file(&dir.join("config.json"))?;
        let weights = load_checkpoint_weights(dir, base, device)?;
        if !device.is_cpu() && weights.values().any(Weight::is_quantized) {
            return Err(ModelError::Config(
                "a quantized base (QLoRA) trains on the CPU backend only; set `base.dequantize = true` to train it dense on this device".into(),
            ));
        }
        Self::from_weights(config, weights, lora, seed, dir, DType::F32)
    }

    /// Build from named tensors (checkpoint keys), computing in `dtype` (f32 for training; f64 for
    /// gradient checks). `origin` names the source in errors.
    pub fn from_tensors(
        config: Qwen3Config,
        tensors: HashMap<String, Tensor>,
        lora: &LoraConfig,
        seed: u64,
        origin: &Path,
        dtype: DType,
    ) -> Result<Self> {
        let weights = tensors
            .into_iter()
            .map(|(k, t)| (k, Weight::Dense(t)))
            .collect();
        Self::from_weights(config, weights, lora, seed, origin, dtype)
    }

    /// Build from base weights (dense or quantized), computing in `dtype`.
    pub fn from_weights(
        config: Qwen3Config,
        mut tensors: HashMap<String, Weight>,
        lora: &LoraConfig,
        seed: u64,
        origin: &Path,
        dtype: DType,
    ) -> Result<Self> {
        config.validate()?;
        lora.validate()?;
        let expected: HashMap<String, Vec<usize>> = config.weight_shapes().into_iter().collect();
        let mut take = |key: &str| -> Result<Weight> {
            let t = tensors
                .remove(key)
                .ok_or_else(|| ModelError::MissingWeight {
                    path: origin.to_path_buf(),
                    key: key.to_string(),
                })?;
            let want = &expected[key];
            let got = match &t {
                Weight::Dense(d) => d.dims().to_vec(),
                Weight::Quant(q) => vec![q.rows, q.cols],
            };
            if got != *want {
                return Err(ModelError::BadShape {
                    key: key.to_string(),
                    got,
                    expected: want.clone(),
                });
            }
            Ok(match t {
                Weight::Dense(d) => Weight::Dense(d.to_dtype(dtype)?),
                q => q,
            })
        };
        // Norm weights are vectors and always dense.
        let vector = |key: &str, w: Weight| -> Result<Tensor> {
            match w {
                Weight::Dense(d) => Ok(d),
                Weight::Quant(_) => Err(ModelError::Config(format!(
                    "`{key}` is quantized; only linear and embedding weights may be"
                ))),
            }
        };
        let embed_tokens = take("model.embed_tokens.weight")?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let layer = Block::build(
                &config,
                l,
                &mut take,
                |take, prefix, bias| {
                    Ok(Linear {
                        weight: take(&format!("{prefix}.weight"))?,
                        bias: if bias {
                            let key = format!("{prefix}.bias");
                            Some(vector(&key, take(&key)?)?)
                        } else {
                            None
                        },
                        lora: None,
                    })
                },
                |take, key| vector(key, take(key)?),
            )?;
            layers.push(layer);
        }
        let norm = vector("model.norm.weight", take("model.norm.weight")?)?;
        let lm_head = if config.tie_word_embeddings {
            None
        } else {
            Some(take("lm_head.weight")?)
        };
        let mut model = Qwen3 {
            config,
            embed_tokens,
            layers,
            norm,
            lm_head,
            lora: Vec::new(),
            dtype,
        };
        model.attach_lora(lora, seed)?;
        Ok(model)
    }

    /// The current LoRA parameters on the host, sorted by key (canonical orientation).
    pub fn lora_tensors(&self) -> Result<Vec<LoraTensors>> {
        self.lora
            .iter()
            .map(|(key, layer)| {
                Ok(LoraTensors {
                    key: *key,
                    a: super::to_host(layer.a.as_tensor())?,
                    b: super::to_host(layer.b.as_tensor())?,
                })
            })
            .collect()
    }

    /// The base model alone: every adapter detached (generation without an adapter).
    pub fn without_lora(mut self) -> Self {
        for layer in &mut self.layers {
            for m in TargetModule::ALL {
                layer.linear_mut(m).lora = None;
            }
        }
        self.lora.clear();
        self
    }

    /// Attach fresh adapters: A uniform in `±1/sqrt(in)` (what mlx-lm's `LoRALinear` draws, and
    /// the bound of PEFT's `kaiming_uniform_(a=sqrt(5))`), B zero, so training starts at the base
    /// model exactly.
    fn attach_lora(&mut self, cfg: &LoraConfig, seed: u64) -> Result<()> {
        let mut rng = SplitMix64::new(seed);
        let keys = cfg.keys(self.config.num_hidden_layers)?;
        let device = self.norm.device().clone();
        let dtype = self.dtype;
        for key in keys {
            let lin = self.layers[key.layer].linear_mut(key.module);
            let (out_dim, in_dim) = lin.weight.dims2()?;
            let bound = 1.0 / (in_dim as f64).sqrt();
            let a: Vec<f32> = (0..cfg.rank * in_dim)
                .map(|_| ((rng.unit() * 2.0 - 1.0) * bound) as f32)
                .collect();
            let a = Var::from_tensor(
                &Tensor::from_vec(a, (cfg.rank, in_dim), &device)?.to_dtype(dtype)?,
            )?;
            let b = Var::zeros((out_dim, cfg.rank), dtype, &device)?;
            let layer = LoraLayer {
                a,
                b,
                scale: cfg.scale(),
                dropout: cfg.dropout,
            };
            lin.lora = Some(layer.clone());
            self.lora.push((key, layer));
        }
        self.lora.sort_by_key(|(k, _)| *k);
        Ok(())
    }

    /// Logits `[batch, seq, vocab]` for token ids `[batch, seq]` (u32), causal attention,
    /// positions `0..seq` in every row (rows are right-padded).
    pub fn forward(&self, tokens: &Tensor, ctx: &mut ForwardCtx) -> candle_core::Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        self.logits(&self.hidden(tokens, ctx)?)?
            .reshape((b, t, self.config.vocab_size))
    }

    /// The last layer's output `[batch * seq, hidden]` (before the final norm).
    pub fn hidden(&self, tokens: &Tensor, ctx: &mut ForwardCtx) -> candle_core::Result<Tensor> {
        self.decoder(tokens, ctx, None)
    }

    /// Feeds `ids` at absolute positions `cache.len()..`, appends their keys and values to
    /// `cache`, and returns the final hidden states `[ids.len(), hidden]` (before the final
    /// norm; detached; no dropout). The same computation as [`Qwen3::forward`] restricted to the
    /// new rows, with RoPE at the absolute positions.
    pub fn forward_hidden_cached(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let tokens = Tensor::from_slice(ids, (1, ids.len()), self.device())?;
        self.decoder(&tokens, &mut ForwardCtx { rng: None }, Some(cache))
    }

    /// [`Qwen3::forward_hidden_cached`] then the LM head: logits `[ids.len(), vocab]`.
    pub fn forward_cached(&self, ids: &[u32], cache: &mut KvCache) -> candle_core::Result<Tensor> {
        let x = self.forward_hidden_cached(ids, cache)?;
        Ok(self.logits(&x)?.detach())
    }

    /// The decoder stack, the one implementation of a Qwen3 layer: token ids `[batch, seq]` to
    /// the last layer's output `[batch * seq, hidden]` (before the final norm).
    ///
    /// Without a cache (training, scoring) the rows are whole sequences at positions `0..seq`
    /// with a causal mask. With a cache (generation; `batch` must be 1) the tokens sit at
    /// absolute positions `cache.len()..`, attend to every cached key and value, append theirs,
    /// and every tensor kept across calls or returned is detached, so no autograd graph
    /// outlives a step.
    fn decoder(
        &self,
        tokens: &Tensor,
        ctx: &mut ForwardCtx,
        mut cache: Option<&mut KvCache>,
    ) -> candle_core::Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let cfg = &self.config;
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (nq, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let device = tokens.device();
        let past = match cache.as_deref() {
            None => 0,
            Some(cache) => {
                if b != 1 || cache.n_layers() != self.layers.len() {
                    candle_core::bail!(
                        "a KV cache of {} layers serves one sequence of a {}-layer model; got {b} rows",
                        cache.n_layers(),
                        self.layers.len()
                    );
                }
                cache.len()
            }
        };
        let (cos, sin) = ops::rope_tables_at(past, t, hd, cfg.rope_theta, self.dtype, device)?;
        // Generating one token after the cache: it may see everything, no mask needed.
        let mask = if cache.is_none() || t > 1 {
            Some(ops::causal_mask_after(past, t, self.dtype, device)?)
        } else {
            None
        };
        let mut x = self.embed(&tokens.flatten_all()?)?.reshape((b * t, h))?;
        if cache.is_some() {
            x = x.detach();
        }
        for (i, layer) in self.layers.iter().enumerate() {
            let xn = ops::rms_norm(&x, &layer.input_layernorm, cfg.rms_norm_eps)?;
            let heads =
                |y: Tensor, n: usize, norm: Option<&Tensor>| -> candle_core::Result<Tensor> {
                    let y = y.reshape((b, t, n, hd))?;
                    let y = match norm {
                        Some(w) => ops::rms_norm(&y, w, cfg.rms_norm_eps)?,
                        None => y,
                    };
                    y.transpose(1, 2)
                };
            let q = heads(layer.q_proj.forward(&xn, ctx)?, nq, Some(&layer.q_norm))?;
            let k = heads(layer.k_proj.forward(&xn, ctx)?, nkv, Some(&layer.k_norm))?;
            let v = heads(layer.v_proj.forward(&xn, ctx)?, nkv, None)?;
            let q = ops::rope(&q, &cos, &sin)?;
            let k = ops::rope(&k, &cos, &sin)?;
            let att = match cache.as_deref_mut() {
                None => ops::attention(&q, &k, &v, mask.as_ref())?,
                Some(cache) => {
                    let q = q.contiguous()?.detach();
                    let (k, v) = cache.append(i, &k.detach(), &v.detach())?;
                    kv_cache::grouped_attention(&q, &k, &v, mask.as_ref())?
                }
            };
            let att = att.transpose(1, 2)?.reshape((b * t, nq * hd))?;
            x = (x + layer.o_proj.forward(&att, ctx)?)?;
            let xn = ops::rms_norm(&x, &layer.post_attention_layernorm, cfg.rms_norm_eps)?;
            let gate = layer.gate_proj.forward(&xn, ctx)?.silu()?;
            let up = layer.up_proj.forward(&xn, ctx)?;
            x = (x + layer.down_proj.forward(&(gate * up)?, ctx)?)?;
            if cache.is_some() {
                x = x.detach();
            }
        }
        if let Some(cache) = cache {
            cache.advance(t);
        }
        Ok(x)
    }

    /// Embedding rows `[n, hidden]` for token ids `[n]` (u32).
    pub fn embed(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        self.embed_tokens
            .rows(ids, self.dtype)?
            .to_device(ids.device())
    }

    /// Final norm and LM head: hidden states `[n, hidden]` to logits `[n, vocab]`.
    pub fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = ops::rms_norm(x, &self.norm, self.config.rms_norm_eps)?;
        self.lm_head
            .as_ref()
            .unwrap_or(&self.embed_tokens)
            .matmul_t(&x)
    }

    /// The device the dense tensors live on.
    pub fn device(&self) -> &Device {
        self.norm.device()
    }

    /// Bytes held by the frozen base weights (packed where quantized).
    pub fn base_nbytes(&self) -> usize {
        let w = |w: &Weight| match w {
            Weight::Dense(t) => t.elem_count() * t.dtype().size_in_bytes(),
            Weight::Quant(q) => q.nbytes(),
        };
        let t = |t: &Tensor| t.elem_count() * t.dtype().size_in_bytes();
        let mut n = w(&self.embed_tokens) + t(&self.norm) + self.lm_head.as_ref().map_or(0, w);
        for l in &self.layers {
            n += t(&l.input_layernorm)
                + t(&l.post_attention_layernorm)
                + t(&l.q_norm)
                + t(&l.k_norm);
            for lin in [
                &l.q_proj,
                &l.k_proj,
                &l.v_proj,
                &l.o_proj,
                &l.gate_proj,
                &l.up_proj,
                &l.down_proj,
            ] {
                n += w(&lin.weight) + lin.bias.as_ref().map_or(0, t);
            }
        }
        n
    }

    /// Sum of negative log-likelihoods of the masked targets: token `i` of a row is predicted
    /// from tokens `< i` and counts when `loss_mask[i] != 0` (`i >= 1`). Returns (sum, count).
    pub fn nll_sum(
        &self,
        tokens: &[u32],
        loss_mask: &[u8],
        batch: usize,
        seq_len: usize,
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<(Tensor, usize)> {
        let device = self.device();
        let input = Tensor::from_vec(tokens.to_vec(), (batch, seq_len), device)?;
        let hidden = self.hidden(&input, ctx)?;
        let mut targets = Vec::with_capacity(batch * (seq_len - 1));
        let mut mask = Vec::with_capacity(batch * (seq_len - 1));
        for r in 0..batch {
            for i in 1..seq_len {
                targets.push(tokens[r * seq_len + i]);
                mask.push(if loss_mask[r * seq_len + i] != 0 {
                    1f32
                } else {
                    0.0
                });
            }
        }
        let count = mask.iter().filter(|&&m| m != 0.0).count();
        let head = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        if device.is_cpu() && matches!(self.dtype, DType::F32 | DType::F64) {
            // Positions 0..seq-1 of each row predict the next token.
            let h = hidden
                .reshape((batch, seq_len, self.config.hidden_size))?
                .narrow(1, 0, seq_len - 1)?
                .reshape((batch * (seq_len - 1), self.config.hidden_size))?;
            let h = ops::rms_norm(&h, &self.norm, self.config.rms_norm_eps)?;
            let nll = super::quantized::masked_nll(&h, head, &targets, &mask)?;
            return Ok((nll, count));
        }
        let logits = self
            .logits(&hidden)?
            .reshape((batch, seq_len, self.config.vocab_size))?
            .narrow(1, 0, seq_len - 1)?;
        let targets = Tensor::from_vec(targets, (batch, seq_len - 1, 1), device)?;
        let mask = Tensor::from_vec(mask, (batch, seq_len - 1), device)?.to_dtype(self.dtype)?;
        let logp = ops::log_softmax_last_dim(&logits)?;
        let picked = logp.gather(&targets, D::Minus1)?.squeeze(D::Minus1)?;
        let nll = (picked * mask)?.sum_all()?.neg()?;
        Ok((nll, count))
    }
}
