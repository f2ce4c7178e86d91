//! The decoder-only language model on MLX, shared by every architecture: the same structure and
//! computation as [`crate::model::candle::model`] (token embedding, blocks of RMSNorm, token
//! mixer, residual, RMSNorm, SwiGLU MLP, residual, then the final norm and the LM head), with
//! LoRA on any linear layer.
//!
//! The LoRA parameters are not fields the forward reads behind the caller's back: every
//! training forward takes them as a slice of arrays (`[a, b]` per key, in [`CausalLm::lora_keys`]
//! order: sorted by key, the order of candle's `CausalLm::lora_tensors`), so MLX's
//! `value_and_grad` differentiates a loss with respect to exactly those arrays
//! ([`CausalLm::nll_value_and_grad`]). The base weights are plain arrays, never arguments, so
//! MLX computes no gradient for them. The model keeps its own copy of the parameters
//! ([`CausalLm::lora_params`]) for generation and for [`CausalLm::lora_tensors`].
//!
//! LoRA dropout, as candle's: each adapted linear multiplies its adapter input by a keep mask
//! scaled by `1 / (1 - p)`, drawn on the host from the caller's [`SplitMix64`] in the order the
//! linears run (the same order and the same draws as candle's forward, so one seed gives both
//! backends the same masks). Pass `None` for no dropout (evaluation, scoring, generation).
//!
//! Must not depend on `train` or `eval`.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use mlx_rs::fast;
use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::Array;

use super::kv_cache::MlxCache;
use super::qwen3::Attention;
use super::qwen3_5::GatedDeltaNet;
use super::{dim, dims, from_host};
use crate::core::hash::SplitMix64;
use crate::model::block;
use crate::model::candle::model::CausalLm as CandleLm;
use crate::model::candle::model::{Linear as CandleLinear, Mixer as CandleMixer};
use crate::model::candle::quantized::Weight as CandleWeight;
use crate::model::config::ModelConfig;
use crate::model::lora::{dropout_mask, LoraConfig, LoraKey, TargetModule};
use crate::model::quant::QuantMatrix;
use crate::model::weights::BaseConfig;
use crate::model::{candle, HostTensor, LoraTensors, ModelError, Result};

/// A frozen base weight `[out, in]`: dense f32, or MLX affine-quantized.
#[derive(Debug, Clone)]
pub enum Weight {
    Dense(Array),
    Quant(QuantWeight),
}

/// An MLX affine-quantized `[rows, cols]` matrix as mlx-lm's `QuantizedLinear` holds it: packed
/// `uint32` `[rows, cols * bits / 32]`, `scales` and `biases` `[rows, cols / group_size]` (the
/// layout of [`QuantMatrix`]).
#[derive(Debug, Clone)]
pub struct QuantWeight {
    pub packed: Array,
    pub scales: Array,
    pub biases: Array,
    pub bits: i32,
    pub group_size: i32,
    pub rows: usize,
    pub cols: usize,
}

impl QuantWeight {
    /// A host-packed matrix as arrays.
    pub fn new(q: &QuantMatrix) -> Result<Self> {
        let groups = q.cols / q.group_size;
        let words = q.cols * q.bits as usize / 32;
        Ok(QuantWeight {
            packed: Array::from_slice(&q.packed, &dims(&[q.rows, words])?),
            scales: Array::from_slice(&q.scales, &dims(&[q.rows, groups])?),
            biases: Array::from_slice(&q.biases, &dims(&[q.rows, groups])?),
            bits: q.bits as i32,
            group_size: dim(q.group_size)?,
            rows: q.rows,
            cols: q.cols,
        })
    }

    /// `x W^T` through `quantized_matmul` (differentiable in `x`).
    pub fn matmul_t(&self, x: &Array) -> Result<Array> {
        Ok(mlx_rs::ops::quantized_matmul(
            x,
            &self.packed,
            &self.scales,
            &self.biases,
            true,
            self.group_size,
            self.bits,
        )?)
    }

    /// Rows `ids` dequantized (mlx-lm's `QuantizedEmbedding`).
    pub fn rows(&self, ids: &Array) -> Result<Array> {
        Ok(mlx_rs::ops::dequantize(
            self.packed.take_axis(ids, 0)?,
            self.scales.take_axis(ids, 0)?,
            &self.biases.take_axis(ids, 0)?,
            self.group_size,
            self.bits,
        )?)
    }
}

impl Weight {
    /// The candle backend's weight as MLX arrays (quantized ones stay packed).
    pub fn from_candle(w: &CandleWeight) -> Result<Self> {
        match w {
            CandleWeight::Dense(t) => Ok(Weight::Dense(tensor(t)?)),
            CandleWeight::Quant(q) => Ok(Weight::Quant(QuantWeight::new(q)?)),
        }
    }

    /// `(out, in)`.
    pub fn dims2(&self) -> (usize, usize) {
        match self {
            Weight::Dense(w) => (w.shape()[0] as usize, w.shape()[1] as usize),
            Weight::Quant(q) => (q.rows, q.cols),
        }
    }

    /// `x W^T` for `x` `[n, in]` (differentiable in `x`).
    pub fn matmul_t(&self, x: &Array) -> Result<Array> {
        match self {
            Weight::Dense(w) => Ok(x.matmul(w.t())?),
            Weight::Quant(q) => q.matmul_t(x),
        }
    }

    /// Rows `ids` (`[n]`, u32) as `[n, in]` f32: an embedding lookup.
    pub fn rows(&self, ids: &Array) -> Result<Array> {
        match self {
            Weight::Dense(w) => Ok(w.take_axis(ids, 0)?),
            Weight::Quant(q) => q.rows(ids),
        }
    }

    pub fn is_quantized(&self) -> bool {
        matches!(self, Weight::Quant(_))
    }
}

/// A candle tensor as an f32 MLX array.
pub(crate) fn tensor(t: &Tensor) -> Result<Array> {
    from_host(&candle::to_host(t)?)
}

/// Where a linear layer's LoRA pair sits in the parameter slice (`params[2 * index]` is A
/// `[rank, in]`, `params[2 * index + 1]` is B `[out, rank]`), and how it is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoraSlot {
    pub index: usize,
    /// `alpha / rank`.
    pub scale: f32,
    /// LoRA dropout probability (applied only when the forward is given an rng).
    pub dropout: f64,
}

/// A frozen linear layer (`y = x W^T + bias`), optionally with LoRA.
#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Weight,
    pub bias: Option<Array>,
    pub lora: Option<LoraSlot>,
}

/// Per-forward state: the LoRA parameters, and the dropout rng (training) or `None`.
pub struct ForwardCtx<'a> {
    pub lora: &'a [Array],
    pub rng: Option<&'a mut SplitMix64>,
}

impl Linear {
    /// The candle layer's base weight and bias; LoRA is attached by [`CausalLm`].
    pub(crate) fn from_candle(l: &CandleLinear) -> Result<Self> {
        Ok(Linear {
            weight: Weight::from_candle(&l.weight)?,
            bias: l.bias.as_ref().map(tensor).transpose()?,
            lora: None,
        })
    }

    /// `x` is `[rows, in]`.
    pub fn forward(&self, x: &Array, ctx: &mut ForwardCtx) -> Result<Array> {
        let mut y = self.weight.matmul_t(x)?;
        if let Some(bias) = &self.bias {
            y = y.add(bias)?;
        }
        if let Some(slot) = self.lora {
            let xin = match ctx.rng.as_deref_mut() {
                Some(rng) if slot.dropout > 0.0 => {
                    // Candle's draws, value for value: one per element of x, row-major.
                    let mask = dropout_mask(rng, x.size(), slot.dropout);
                    x.multiply(Array::from_slice(&mask, x.shape()))?
                }
                _ => x.clone(),
            };
            let (a, b) = (&ctx.lora[2 * slot.index], &ctx.lora[2 * slot.index + 1]);
            let z = xin.matmul(a.t())?.matmul(b.t())?;
            y = y.add(z.multiply(Array::from_f32(slot.scale))?)?;
        }
        Ok(y)
    }
}

/// The SwiGLU feed-forward of every block (see [`block::Mlp`]).
pub type Mlp = block::Mlp<Linear>;

impl Mlp {
    pub fn forward(&self, x: &Array, ctx: &mut ForwardCtx) -> Result<Array> {
        let gate = mlx_rs::nn::silu(self.gate_proj.forward(x, ctx)?)?;
        let up = self.up_proj.forward(x, ctx)?;
        self.down_proj.forward(&gate.multiply(up)?, ctx)
    }
}

/// A block's token mixer.
pub type Mixer = block::Mixer<Attention, GatedDeltaNet>;

/// One decoder block (see [`block::Block`]; its `linear_mut` finds a LoRA target).
pub type Block = block::Block<Array, Attention, GatedDeltaNet, Linear>;

/// What every mixer of one forward shares: the batch shape and where the new tokens start.
pub struct Positions {
    pub batch: usize,
    pub seq: usize,
    /// Tokens already in the cache (0 without one): RoPE's offset.
    pub past: usize,
}

/// The model: frozen base arrays, the adapted modules' keys (sorted) and the current LoRA
/// parameters in that order.
#[derive(Debug, Clone)]
pub struct CausalLm {
    pub config: ModelConfig,
    pub embed_tokens: Weight,
    pub layers: Vec<Block>,
    pub norm: Array,
    /// `None` when the embeddings are tied.
    pub lm_head: Option<Weight>,
    lora_keys: Vec<LoraKey>,
    /// `[a, b]` per key of `lora_keys`.
    lora: Vec<Array>,
}

impl CausalLm {
    /// Load `config.json` + safetensors from a model folder (the folders candle's
    /// `CausalLm::load` reads: dense f32/f16/bf16, MLX affine-quantized weights kept packed,
    /// both Qwen3.5 layouts) and attach LoRA adapters initialised from `seed` (the same
    /// initial A and B as candle's for the same seed).
    pub fn load(dir: &Path, lora: &LoraConfig, seed: u64) -> Result<Self> {
        Self::load_with(dir, lora, seed, &BaseConfig::default())
    }

    /// [`CausalLm::load`] with control over the base weights (QLoRA: keep a quantized
    /// checkpoint packed, or quantize a dense one at load; see [`BaseConfig`]).
    pub fn load_with(dir: &Path, lora: &LoraConfig, seed: u64, base: &BaseConfig) -> Result<Self> {
        Self::from_candle(CandleLm::load_with(dir, lora, seed, &Device::Cpu, base)?)
    }

    /// Build from named host tensors (the language model's names and layout, see
    /// [`crate::model::candle::model`]) and attach fresh adapters drawn from `seed`. `origin`
    /// names the source in errors.
    pub fn from_host(
        config: ModelConfig,
        tensors: HashMap<String, HostTensor>,
        lora: &LoraConfig,
        seed: u64,
        origin: &Path,
    ) -> Result<Self> {
        let tensors = tensors
            .into_iter()
            .map(|(k, h)| {
                let t = Tensor::from_vec(h.data, h.shape.as_slice(), &Device::Cpu)?;
                Ok((k, t))
            })
            .collect::<Result<HashMap<_, _>>>()?;
        Self::from_candle(CandleLm::from_tensors(
            config,
            tensors,
            lora,
            seed,
            origin,
            DType::F32,
        )?)
    }

    /// The candle model's weights and LoRA parameters as MLX arrays (consumed, so each candle
    /// tensor can go once copied). Keys, shapes, quantization and the adapters' values carry
    /// over exactly.
    pub fn from_candle(m: CandleLm) -> Result<Self> {
        let CandleLm {
            config,
            embed_tokens,
            layers: candle_layers,
            norm,
            lm_head,
            lora: candle_lora,
            ..
        } = m;
        let rope_theta = config.rope().1;
        let embed_tokens = Weight::from_candle(&embed_tokens)?;
        let mut layers = Vec::with_capacity(candle_layers.len());
        // Block by block, so that each candle block is freed once copied: the peak is about one
        // copy of the base, not two.
        for block in candle_layers {
            let mixer = match &block.mixer {
                CandleMixer::Attention(a) => {
                    Mixer::Attention(Attention::from_candle(a, rope_theta)?)
                }
                CandleMixer::DeltaNet(d) => Mixer::DeltaNet(GatedDeltaNet::from_candle(d)?),
            };
            layers.push(Block {
                input_layernorm: tensor(&block.input_layernorm)?,
                post_attention_layernorm: tensor(&block.post_attention_layernorm)?,
                mixer,
                mlp: Mlp {
                    gate_proj: Linear::from_candle(&block.mlp.gate_proj)?,
                    up_proj: Linear::from_candle(&block.mlp.up_proj)?,
                    down_proj: Linear::from_candle(&block.mlp.down_proj)?,
                },
            });
        }
        let mut lora_keys = Vec::with_capacity(candle_lora.len());
        let mut lora = Vec::with_capacity(2 * candle_lora.len());
        for (index, (key, layer)) in candle_lora.iter().enumerate() {
            let lin = layers[key.layer]
                .linear_mut(key.module)
                .expect("candle adapts only modules the layer has");
            lin.lora = Some(LoraSlot {
                index,
                scale: layer.scale as f32,
                dropout: layer.dropout,
            });
            lora_keys.push(*key);
            lora.push(tensor(layer.a.as_tensor())?);
            lora.push(tensor(layer.b.as_tensor())?);
        }
        Ok(CausalLm {
            embed_tokens,
            norm: tensor(&norm)?,
            lm_head: lm_head.as_ref().map(Weight::from_candle).transpose()?,
            config,
            layers,
            lora_keys,
            lora,
        })
    }

    /// The base model alone: every adapter detached (generation without an adapter).
    pub fn without_lora(mut self) -> Self {
        for layer in &mut self.layers {
            for m in TargetModule::ALL {
                if let Some(lin) = layer.linear_mut(m) {
                    lin.lora = None;
                }
            }
        }
        self.lora_keys.clear();
        self.lora.clear();
        self
    }

    /// The vocabulary size (rows of the LM head).
    pub fn vocab_size(&self) -> usize {
        self.config.vocab_size()
    }

    /// The adapted modules, sorted: the order of [`CausalLm::lora_params`] (`a` then `b` per
    /// key) and of [`CausalLm::lora_tensors`].
    pub fn lora_keys(&self) -> &[LoraKey] {
        &self.lora_keys
    }

    /// The current LoRA parameters: `[a, b]` per key of [`CausalLm::lora_keys`] (what the
    /// training forward takes and `value_and_grad` differentiates).
    pub fn lora_params(&self) -> Vec<Array> {
        self.lora.clone()
    }

    /// Replace the LoRA parameters (e.g. after an optimizer step): `[a, b]` per key, the
    /// shapes of [`CausalLm::lora_params`].
    pub fn set_lora_params(&mut self, params: Vec<Array>) -> Result<()> {
        if params.len() != self.lora.len() {
            return Err(ModelError::Config(format!(
                "{} LoRA arrays given for a model with {} (a and b of {} adapted modules)",
                params.len(),
                self.lora.len(),
                self.lora_keys.len()
            )));
        }
        for (i, (new, old)) in params.iter().zip(&self.lora).enumerate() {
            if new.shape() != old.shape() {
                return Err(ModelError::BadShape {
                    key: format!(
                        "{}.{}",
                        self.lora_keys[i / 2].module_name(),
                        if i % 2 == 0 { "lora_a" } else { "lora_b" }
                    ),
                    got: new.shape().iter().map(|&d| d as usize).collect(),
                    expected: old.shape().iter().map(|&d| d as usize).collect(),
                });
            }
        }
        self.lora = params;
        Ok(())
    }

    /// The current LoRA parameters on the host, sorted by key (canonical orientation).
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

    /// Replace the LoRA parameters from host tensors (an adapter file, a checkpoint); keys and
    /// shapes must be the model's.
    pub fn set_lora_tensors(&mut self, tensors: &[LoraTensors]) -> Result<()> {
        let keys: Vec<LoraKey> = tensors.iter().map(|t| t.key).collect();
        if keys != self.lora_keys {
            return Err(ModelError::Config(format!(
                "LoRA tensors for {} modules do not match the model's {} adapted modules",
                keys.len(),
                self.lora_keys.len()
            )));
        }
        let mut params = Vec::with_capacity(2 * tensors.len());
        for t in tensors {
            params.push(from_host(&t.a)?);
            params.push(from_host(&t.b)?);
        }
        self.set_lora_params(params)
    }

    /// Logits `[batch, seq, vocab]` for `rows = (batch, seq)` right-padded rows of token ids,
    /// causal attention at positions `0..seq`, with the model's current LoRA parameters and no
    /// dropout.
    pub fn forward(&self, tokens: &[u32], rows: (usize, usize)) -> Result<Array> {
        self.forward_with(&self.lora, tokens, rows, None)
    }

    /// [`CausalLm::forward`] with the LoRA parameters given (`[a, b]` per key of
    /// [`CausalLm::lora_keys`]: what autograd differentiates) and LoRA dropout drawn from
    /// `dropout` when given (see the module docs).
    pub fn forward_with(
        &self,
        lora: &[Array],
        tokens: &[u32],
        rows: (usize, usize),
        dropout: Option<&mut SplitMix64>,
    ) -> Result<Array> {
        let (batch, seq) = rows;
        let mut ctx = self.ctx(lora, dropout)?;
        let hidden = self.decoder(tokens, rows, &mut ctx, None)?;
        let shape = dims(&[batch, seq, self.vocab_size()])?;
        Ok(self.logits(&hidden)?.reshape(&shape)?)
    }

    fn ctx<'a>(
        &self,
        lora: &'a [Array],
        rng: Option<&'a mut SplitMix64>,
    ) -> Result<ForwardCtx<'a>> {
        if lora.len() != self.lora.len() {
            return Err(ModelError::Config(format!(
                "forward got {} LoRA arrays; this model takes {} (a and b of {} adapted modules)",
                lora.len(),
                self.lora.len(),
                self.lora_keys.len()
            )));
        }
        Ok(ForwardCtx { lora, rng })
    }

    /// Sum of negative log-likelihoods of the masked targets, a scalar f32: token `i` of a row
    /// is predicted from tokens `< i` and counts when `loss_mask[i] != 0` (`i >= 1`; the first
    /// token of a row is never a target). The semantics of candle's `CausalLm::nll_sum` and of
    /// `train::backend::Batch`. No dropout.
    pub fn nll_sum(
        &self,
        lora: &[Array],
        tokens: &[u32],
        loss_mask: &[u8],
        rows: (usize, usize),
    ) -> Result<Array> {
        self.nll_sum_with(lora, tokens, loss_mask, rows, None)
    }

    /// [`CausalLm::nll_sum`] with LoRA dropout drawn from `dropout` when given (training).
    pub fn nll_sum_with(
        &self,
        lora: &[Array],
        tokens: &[u32],
        loss_mask: &[u8],
        rows: (usize, usize),
        dropout: Option<&mut SplitMix64>,
    ) -> Result<Array> {
        let (batch, seq) = rows;
        if loss_mask.len() != tokens.len() {
            return Err(ModelError::Config(format!(
                "nll_sum got {} token ids but {} loss-mask values",
                tokens.len(),
                loss_mask.len()
            )));
        }
        let mut ctx = self.ctx(lora, dropout)?;
        let hidden = self.decoder(tokens, rows, &mut ctx, None)?;
        if seq < 2 {
            // No targets: a zero that still depends on the parameters' graph.
            return Ok(hidden.sum(None)?.multiply(Array::from_f32(0.0))?);
        }
        let n = batch * (seq - 1);
        let mut targets = Vec::with_capacity(n);
        let mut mask = Vec::with_capacity(n);
        for r in 0..batch {
            for i in 1..seq {
                targets.push(tokens[r * seq + i]);
                mask.push(if loss_mask[r * seq + i] != 0 {
                    1f32
                } else {
                    0.0
                });
            }
        }
        // Positions 0..seq-1 of each row predict the next token.
        let h = self.config.hidden_size();
        let prefix = hidden
            .reshape(&dims(&[batch, seq, h])?)?
            .index((.., 0..dim(seq - 1)?, ..))
            .reshape(&dims(&[n, h])?)?;
        let logits = self.logits(&prefix)?;
        let lse = logits.logsumexp_axis(-1, false)?;
        let targets = Array::from_slice(&targets, &dims(&[n, 1])?);
        let picked = logits
            .take_along_axis(&targets, -1)?
            .reshape(&dims(&[n])?)?;
        let mask = Array::from_slice(&mask, &dims(&[n])?);
        Ok(lse.subtract(picked)?.multiply(mask)?.sum(None)?)
    }

    /// The loss of [`CausalLm::nll_sum_with`] and its gradient with respect to every LoRA
    /// array of `lora` (same order), through MLX's `value_and_grad`. The base weights get no
    /// gradient.
    pub fn nll_value_and_grad(
        &self,
        lora: &[Array],
        tokens: &[u32],
        loss_mask: &[u8],
        rows: (usize, usize),
        mut dropout: Option<&mut SplitMix64>,
    ) -> Result<(Array, Vec<Array>)> {
        let argnums: Vec<i32> = (0..dim(lora.len())?).collect();
        let loss = |params: &[Array]| -> mlx_rs::error::Result<Vec<Array>> {
            self.nll_sum_with(params, tokens, loss_mask, rows, dropout.as_deref_mut())
                .map(|l| vec![l])
                .map_err(|e| mlx_rs::error::Exception::custom(e.to_string()))
        };
        let (values, grads) =
            mlx_rs::transforms::value_and_grad_with_argnums(loss, argnums.as_slice())(lora)?;
        let value = values
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::Mlx("value_and_grad returned no value".into()))?;
        Ok((value, grads))
    }

    /// Feeds `ids` after the tokens in `cache`, adds their keys, values and recurrent states to
    /// it, and returns the final hidden states `[ids.len(), hidden]` (before the final norm),
    /// with the model's own LoRA parameters and no dropout. The same computation as
    /// [`CausalLm::forward`] restricted to the new rows, at their absolute positions.
    pub fn forward_hidden_cached(&self, ids: &[u32], cache: &mut MlxCache) -> Result<Array> {
        let mut ctx = self.ctx(&self.lora, None)?;
        self.decoder(ids, (1, ids.len()), &mut ctx, Some(cache))
    }

    /// [`CausalLm::forward_hidden_cached`] then the LM head: logits `[ids.len(), vocab]`.
    pub fn forward_cached(&self, ids: &[u32], cache: &mut MlxCache) -> Result<Array> {
        let x = self.forward_hidden_cached(ids, cache)?;
        self.logits(&x)
    }

    /// The decoder stack: token ids (`rows = (batch, seq)`) to the last layer's output
    /// `[batch * seq, hidden]` (before the final norm). Without a cache the rows are whole
    /// sequences at positions `0..seq` with a causal mask; with one (`batch` must be 1) the
    /// tokens sit at positions `cache.len()..` and see every cached token.
    fn decoder(
        &self,
        tokens: &[u32],
        rows: (usize, usize),
        ctx: &mut ForwardCtx,
        mut cache: Option<&mut MlxCache>,
    ) -> Result<Array> {
        let (batch, seq) = rows;
        if tokens.len() != batch * seq || seq == 0 {
            return Err(ModelError::Config(format!(
                "forward got {} token ids for {batch} rows of {seq}",
                tokens.len()
            )));
        }
        let past = match cache.as_deref() {
            None => 0,
            Some(c) => {
                if batch != 1 || c.n_layers() != self.layers.len() {
                    return Err(ModelError::Config(format!(
                        "a cache of {} layers serves one sequence of a {}-layer model; got {batch} rows",
                        c.n_layers(),
                        self.layers.len()
                    )));
                }
                c.len()
            }
        };
        let pos = Positions { batch, seq, past };
        let eps = self.config.rms_norm_eps() as f32;
        let ids = Array::from_slice(tokens, &dims(&[batch * seq])?);
        let mut x = self.embed_tokens.rows(&ids)?;
        for (i, layer) in self.layers.iter().enumerate() {
            let xn = fast::rms_norm(&x, Some(&layer.input_layernorm), eps)?;
            let layer_cache = cache.as_deref_mut().map(|c| (c, i));
            let mixed = match &layer.mixer {
                Mixer::Attention(a) => a.forward(&xn, &pos, ctx, layer_cache)?,
                Mixer::DeltaNet(d) => d.forward(&xn, &pos, ctx, layer_cache)?,
            };
            x = x.add(mixed)?;
            let xn = fast::rms_norm(&x, Some(&layer.post_attention_layernorm), eps)?;
            x = x.add(layer.mlp.forward(&xn, ctx)?)?;
        }
        if let Some(cache) = cache {
            cache.advance(seq);
        }
        Ok(x)
    }

    /// Final norm and LM head: hidden states `[n, hidden]` to logits `[n, vocab]`.
    pub fn logits(&self, x: &Array) -> Result<Array> {
        let x = fast::rms_norm(x, Some(&self.norm), self.config.rms_norm_eps() as f32)?;
        self.lm_head
            .as_ref()
            .unwrap_or(&self.embed_tokens)
            .matmul_t(&x)
    }
}
