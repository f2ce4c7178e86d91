//! The decoder-only language model on candle, shared by every architecture: token embedding,
//! a stack of blocks (RMSNorm, token mixer, residual, RMSNorm, SwiGLU MLP, residual), the final
//! norm and the LM head, with LoRA on any linear layer. One forward serves training (whole
//! sequences, dropout, gradients to the LoRA `Var`s) and generation (new tokens after a
//! [`KvCache`], detached); the two differ only in where the mixers' context comes from.
//!
//! The mixers are the architectures' own: [`super::qwen3::Attention`] (Qwen3's attention, and
//! Qwen3.5's gated, partially rotary variant) and [`super::qwen3_5::GatedDeltaNet`]. Which a
//! layer has is read from the [`ModelConfig`]. Weight names are the language model's
//! (`model.embed_tokens.weight`, `model.layers.N.<mixer>.<...>`, `model.layers.N.mlp.*`,
//! `model.norm.weight`, `lm_head.weight` unless `tie_word_embeddings`); each architecture's
//! loader maps its checkpoint onto them.
//!
//! The base weights are plain tensors (never `Var`s), so no gradient is computed for them; only
//! the LoRA `Var`s are trainable. Must not call fused candle kernels (see [`super::ops`]).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var, D};

use super::kv_cache::KvCache;
use super::ops;
use super::quantized::Weight;
use super::qwen3::Attention;
use super::qwen3_5::GatedDeltaNet;
use super::weights::load_checkpoint_weights_where;
use crate::core::hash::SplitMix64;
use crate::model::block;
use crate::model::config::ModelConfig;
use crate::model::lora::{dropout_mask, LoraConfig, LoraKey, TargetModule};
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
                    let mask = dropout_mask(rng, x.elem_count(), lora.dropout);
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

    fn nbytes(&self) -> usize {
        self.weight.nbytes() + self.bias.as_ref().map_or(0, tensor_nbytes)
    }
}

fn tensor_nbytes(t: &Tensor) -> usize {
    t.elem_count() * t.dtype().size_in_bytes()
}

/// The SwiGLU feed-forward of every block (see [`block::Mlp`]).
pub type Mlp = block::Mlp<Linear>;

impl Mlp {
    pub fn forward(&self, x: &Tensor, ctx: &mut ForwardCtx) -> candle_core::Result<Tensor> {
        let gate = self.gate_proj.forward(x, ctx)?.silu()?;
        let up = self.up_proj.forward(x, ctx)?;
        self.down_proj.forward(&(gate * up)?, ctx)
    }
}

/// A block's token mixer.
pub type Mixer = block::Mixer<Attention, GatedDeltaNet>;

/// One decoder block (see [`block::Block`]; its `linear_mut` finds a LoRA target).
pub type Block = block::Block<Tensor, Attention, GatedDeltaNet, Linear>;

impl Block {
    /// The attention mixer, if this block has one.
    pub fn attention(&self) -> Option<&Attention> {
        match &self.mixer {
            Mixer::Attention(a) => Some(a),
            Mixer::DeltaNet(_) => None,
        }
    }

    /// Every linear layer of this block.
    pub fn linears(&self) -> Vec<&Linear> {
        let mut out = match &self.mixer {
            Mixer::Attention(a) => a.linears(),
            Mixer::DeltaNet(d) => d.linears(),
        };
        out.extend([&self.mlp.gate_proj, &self.mlp.up_proj, &self.mlp.down_proj]);
        out
    }

    fn nbytes(&self) -> usize {
        let dense: usize = match &self.mixer {
            Mixer::Attention(a) => a.dense_tensors(),
            Mixer::DeltaNet(d) => d.dense_tensors(),
        }
        .into_iter()
        .chain([&self.input_layernorm, &self.post_attention_layernorm])
        .map(tensor_nbytes)
        .sum();
        dense + self.linears().iter().map(|l| l.nbytes()).sum::<usize>()
    }
}

/// What every mixer of one forward shares: the batch shape, where the new tokens start, and the
/// attention's RoPE tables and mask.
pub struct Positions {
    pub batch: usize,
    pub seq: usize,
    /// Tokens already in the cache (0 without one).
    pub past: usize,
    /// `[seq, rotary_dim / 2]` each, at positions `past..past + seq`.
    pub cos: Tensor,
    pub sin: Tensor,
    /// Additive `[seq, past + seq]` mask; `None` for one token after a cache.
    pub mask: Option<Tensor>,
}

/// The model: frozen base weights plus the LoRA `Var`s (also listed in `lora`, sorted by key).
#[derive(Debug, Clone)]
pub struct CausalLm {
    pub config: ModelConfig,
    pub embed_tokens: Weight,
    pub layers: Vec<Block>,
    pub norm: Tensor,
    /// `None` when the embeddings are tied.
    pub lm_head: Option<Weight>,
    pub lora: Vec<(LoraKey, LoraLayer)>,
    pub dtype: DType,
}

/// Takes named base weights, checking each shape against the architecture's, converting dense
/// ones to the compute dtype. Architectures build their blocks with it.
pub struct WeightTaker<'a> {
    tensors: HashMap<String, Weight>,
    expected: HashMap<String, Vec<usize>>,
    origin: &'a Path,
    dtype: DType,
}

impl<'a> WeightTaker<'a> {
    pub fn new(
        tensors: HashMap<String, Weight>,
        expected: Vec<(String, Vec<usize>)>,
        origin: &'a Path,
        dtype: DType,
    ) -> Self {
        Self {
            tensors,
            expected: expected.into_iter().collect(),
            origin,
            dtype,
        }
    }

    /// The weight `key` (dense in the compute dtype, or quantized).
    pub fn weight(&mut self, key: &str) -> Result<Weight> {
        let t = self
            .tensors
            .remove(key)
            .ok_or_else(|| ModelError::MissingWeight {
                path: self.origin.to_path_buf(),
                key: key.to_string(),
            })?;
        let got = match &t {
            Weight::Dense(d) => d.dims().to_vec(),
            Weight::Quant(q) => vec![q.rows, q.cols],
        };
        if let Some(want) = self.expected.get(key) {
            if got != *want {
                return Err(ModelError::BadShape {
                    key: key.to_string(),
                    got,
                    expected: want.clone(),
                });
            }
        }
        Ok(match t {
            Weight::Dense(d) => Weight::Dense(d.to_dtype(self.dtype)?),
            q => q,
        })
    }

    /// A weight that must be dense (norms, biases, convolutions, gates).
    pub fn tensor(&mut self, key: &str) -> Result<Tensor> {
        match self.weight(key)? {
            Weight::Dense(d) => Ok(d),
            Weight::Quant(_) => Err(ModelError::Config(format!(
                "`{key}` is quantized; only linear and embedding weights may be"
            ))),
        }
    }

    /// A linear layer `{prefix}.weight` (+ `{prefix}.bias` when `bias`), without LoRA.
    pub fn linear(&mut self, prefix: &str, bias: bool) -> Result<Linear> {
        Ok(Linear {
            weight: self.weight(&format!("{prefix}.weight"))?,
            bias: if bias {
                Some(self.tensor(&format!("{prefix}.bias"))?)
            } else {
                None
            },
            lora: None,
        })
    }

    /// The SwiGLU MLP of layer `prefix`.
    pub fn mlp(&mut self, prefix: &str) -> Result<Mlp> {
        Ok(Mlp {
            gate_proj: self.linear(&format!("{prefix}.mlp.gate_proj"), false)?,
            up_proj: self.linear(&format!("{prefix}.mlp.up_proj"), false)?,
            down_proj: self.linear(&format!("{prefix}.mlp.down_proj"), false)?,
        })
    }
}

impl CausalLm {
    /// Load `config.json` + safetensors from a Hugging Face model directory and attach LoRA
    /// adapters initialised from `seed`.
    pub fn load(dir: &Path, lora: &LoraConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::load_with(dir, lora, seed, device, &BaseConfig::default())
    }

    /// [`CausalLm::load`] with control over quantization of the base (QLoRA).
    pub fn load_with(
        dir: &Path,
        lora: &LoraConfig,
        seed: u64,
        device: &Device,
        base: &BaseConfig,
    ) -> Result<Self> {
        Self::load_as(dir, lora, seed, device, base, DType::F32)
    }

    /// [`CausalLm::load_with`] computing in `dtype` (f64 for gradient checks).
    pub fn load_as(
        dir: &Path,
        lora: &LoraConfig,
        seed: u64,
        device: &Device,
        base: &BaseConfig,
        dtype: DType,
    ) -> Result<Self> {
        let config = ModelConfig::from_dir(dir)?;
        let weights = match &config {
            ModelConfig::Qwen3(_) => load_checkpoint_weights_where(dir, base, device, &|_| true)?,
            ModelConfig::Qwen35(_) => super::qwen3_5::load_weights(dir, base, device)?,
        };
        if !device.is_cpu() && weights.values().any(Weight::is_quantized) {
            return Err(ModelError::Config(
                "a quantized base (QLoRA) trains on the CPU backend only; set `base.dequantize = true` to train it dense on this device".into(),
            ));
        }
        Self::from_weights(config, weights, lora, seed, dir, dtype)
    }

    /// Build from named tensors (the language model's names, see the module docs), computing in
    /// `dtype` (f32 for training; f64 for gradient checks). `origin` names the source in errors.
    pub fn from_tensors(
        config: ModelConfig,
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
        config: ModelConfig,
        tensors: HashMap<String, Weight>,
        lora: &LoraConfig,
        seed: u64,
        origin: &Path,
        dtype: DType,
    ) -> Result<Self> {
        lora.validate()?;
        let expected = match &config {
            ModelConfig::Qwen3(c) => {
                c.validate()?;
                c.weight_shapes()
            }
            ModelConfig::Qwen35(c) => {
                c.validate()?;
                super::qwen3_5::weight_shapes(c)
            }
        };
        let mut take = WeightTaker::new(tensors, expected, origin, dtype);
        let embed_tokens = take.weight("model.embed_tokens.weight")?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers());
        for l in 0..config.num_hidden_layers() {
            let p = format!("model.layers.{l}");
            let mixer = match &config {
                ModelConfig::Qwen3(c) => Mixer::Attention(Attention::qwen3(&mut take, &p, c)?),
                ModelConfig::Qwen35(c) => super::qwen3_5::mixer(&mut take, &p, l, c)?,
            };
            layers.push(Block {
                input_layernorm: take.tensor(&format!("{p}.input_layernorm.weight"))?,
                post_attention_layernorm: take
                    .tensor(&format!("{p}.post_attention_layernorm.weight"))?,
                mixer,
                mlp: take.mlp(&p)?,
            });
        }
        let norm = take.tensor("model.norm.weight")?;
        let lm_head = if config.tie_word_embeddings() {
            None
        } else {
            Some(take.weight("lm_head.weight")?)
        };
        let mut model = CausalLm {
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

    /// The vocabulary size (rows of the LM head).
    pub fn vocab_size(&self) -> usize {
        self.config.vocab_size()
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
                if let Some(lin) = layer.linear_mut(m) {
                    lin.lora = None;
                }
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
        let keys = self.config.lora_keys(cfg)?;
        let device = self.norm.device().clone();
        let dtype = self.dtype;
        for key in keys {
            let lin = self.layers[key.layer]
                .linear_mut(key.module)
                .expect("lora_keys lists only modules the layer has");
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
            .reshape((b, t, self.vocab_size()))
    }

    /// The last layer's output `[batch * seq, hidden]` (before the final norm).
    pub fn hidden(&self, tokens: &Tensor, ctx: &mut ForwardCtx) -> candle_core::Result<Tensor> {
        self.decoder(tokens, ctx, None)
    }

    /// Feeds `ids` after the tokens in `cache`, adds their keys, values and recurrent states to
    /// it, and returns the final hidden states `[ids.len(), hidden]` (before the final norm;
    /// detached; no dropout). The same computation as [`CausalLm::forward`] restricted to the
    /// new rows, at their absolute positions.
    pub fn forward_hidden_cached(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let tokens = Tensor::from_slice(ids, (1, ids.len()), self.device())?;
        self.decoder(&tokens, &mut ForwardCtx { rng: None }, Some(cache))
    }

    /// [`CausalLm::forward_hidden_cached`] then the LM head: logits `[ids.len(), vocab]`.
    pub fn forward_cached(&self, ids: &[u32], cache: &mut KvCache) -> candle_core::Result<Tensor> {
        let x = self.forward_hidden_cached(ids, cache)?;
        Ok(self.logits(&x)?.detach())
    }

    /// The decoder stack: token ids `[batch, seq]` to the last layer's output
    /// `[batch * seq, hidden]` (before the final norm).
    ///
    /// Without a cache (training, scoring) the rows are whole sequences at positions `0..seq`
    /// with a causal mask. With a cache (generation; `batch` must be 1) the tokens sit at
    /// absolute positions `cache.len()..`, see every cached token through the mixers' caches,
    /// add theirs, and every tensor kept across calls or returned is detached, so no autograd
    /// graph outlives a step.
    fn decoder(
        &self,
        tokens: &Tensor,
        ctx: &mut ForwardCtx,
        mut cache: Option<&mut KvCache>,
    ) -> candle_core::Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let h = self.config.hidden_size();
        let eps = self.config.rms_norm_eps();
        let device = tokens.device();
        let past = match cache.as_deref() {
            None => 0,
            Some(cache) => {
                if b != 1 || cache.n_layers() != self.layers.len() {
                    candle_core::bail!(
                        "a cache of {} layers serves one sequence of a {}-layer model; got {b} rows",
                        cache.n_layers(),
                        self.layers.len()
                    );
                }
                cache.len()
            }
        };
        let (rotary_dim, theta) = self.config.rope();
        let (cos, sin) = ops::rope_tables_at(past, t, rotary_dim, theta, self.dtype, device)?;
        // Generating one token after the cache: it may see everything, no mask needed.
        let mask = if cache.is_none() || t > 1 {
            Some(ops::causal_mask_after(past, t, self.dtype, device)?)
        } else {
            None
        };
        let pos = Positions {
            batch: b,
            seq: t,
            past,
            cos,
            sin,
            mask,
        };
        let mut x = self.embed(&tokens.flatten_all()?)?.reshape((b * t, h))?;
        if cache.is_some() {
            x = x.detach();
        }
        for (i, layer) in self.layers.iter().enumerate() {
            let xn = ops::rms_norm(&x, &layer.input_layernorm, eps)?;
            let layer_cache = cache.as_deref_mut().map(|c| (c, i));
            let mixed = match &layer.mixer {
                Mixer::Attention(a) => a.forward(&xn, &pos, ctx, layer_cache)?,
                Mixer::DeltaNet(d) => d.forward(&xn, &pos, ctx, layer_cache)?,
            };
            x = (x + mixed)?;
            let xn = ops::rms_norm(&x, &layer.post_attention_layernorm, eps)?;
            x = (x + layer.mlp.forward(&xn, ctx)?)?;
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
        let x = ops::rms_norm(x, &self.norm, self.config.rms_norm_eps())?;
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
        let mut n = self.embed_tokens.nbytes()
            + tensor_nbytes(&self.norm)
            + self.lm_head.as_ref().map_or(0, Weight::nbytes);
        for l in &self.layers {
            n += l.nbytes();
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
        let hidden_size = self.config.hidden_size();
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
                .reshape((batch, seq_len, hidden_size))?
                .narrow(1, 0, seq_len - 1)?
                .reshape((batch * (seq_len - 1), hidden_size))?;
            let h = ops::rms_norm(&h, &self.norm, self.config.rms_norm_eps())?;
            let nll = super::quantized::masked_nll(&h, head, &targets, &mask)?;
            return Ok((nll, count));
        }
        let logits = self
            .logits(&hidden)?
            .reshape((batch, seq_len, self.vocab_size()))?
            .narrow(1, 0, seq_len - 1)?;
        let targets = Tensor::from_vec(targets, (batch, seq_len - 1, 1), device)?;
        let mask = Tensor::from_vec(mask, (batch, seq_len - 1), device)?.to_dtype(self.dtype)?;
        let logp = ops::log_softmax_last_dim(&logits)?;
        let picked = logp.gather(&targets, D::Minus1)?.squeeze(D::Minus1)?;
        let nll = (picked * mask)?.sum_all()?.neg()?;
        Ok((nll, count))
    }
}
