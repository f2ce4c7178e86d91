//! Qwen3 dense decoder, written from differentiable ops, with LoRA on selected projections.
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
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var, D};
use serde::{Deserialize, Serialize};

use super::ops;
use super::quantized::Weight;
use crate::core::hash::SplitMix64;
use crate::train::config::BaseConfig;
use crate::train::lora::{LoraConfig, LoraKey, TargetModule};
use crate::train::quant::QuantMatrix;
use crate::train::{Result, TrainError};

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
        let cfg: Qwen3Config = serde_json::from_str(&text).map_err(|source| TrainError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        if !matches!(self.model_type.as_str(), "qwen3" | "qwen2" | "llama") {
            return Err(TrainError::Config(format!(
                "model_type `{}` is not supported; the trainer implements Qwen3 dense models",
                self.model_type
            )));
        }
        if self.num_key_value_heads == 0 || self.num_attention_heads % self.num_key_value_heads != 0
        {
            return Err(TrainError::Config(format!(
                "num_attention_heads ({}) must be a multiple of num_key_value_heads ({})",
                self.num_attention_heads, self.num_key_value_heads
            )));
        }
        if self.head_dim() % 2 != 0 {
            return Err(TrainError::Config("head_dim must be even for RoPE".into()));
        }
        if self.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(TrainError::Config(
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

#[derive(Debug, Clone)]
pub struct Block {
    pub input_layernorm: Tensor,
    pub post_attention_layernorm: Tensor,
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    pub q_norm: Tensor,
    pub k_norm: Tensor,
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
}

impl Block {
    pub fn linear_mut(&mut self, m: TargetModule) -> &mut Linear {
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

/// Read every tensor of a Hugging Face checkpoint directory (`model.safetensors`, or the shards
/// named in `model.safetensors.index.json`), converted to `dtype`. MLX affine-quantized modules
/// (`X.weight` uint32 + `X.scales` + `X.biases`, with `quantization: {group_size, bits}` and
/// per-module overrides in `config.json`, as mlx-lm writes them) are dequantized to dense.
pub fn load_checkpoint_tensors(
    dir: &Path,
    dtype: DType,
    device: &Device,
) -> Result<HashMap<String, Tensor>> {
    let base = BaseConfig {
        dequantize: true,
        ..BaseConfig::default()
    };
    load_checkpoint_weights(dir, &base, device)?
        .into_iter()
        .map(|(k, w)| Ok((k, w.to_dense(dtype, device)?)))
        .collect()
}

/// Read a checkpoint directory as base weights: dense tensors (f32, f16 or bf16, converted to
/// f32), MLX-quantized modules kept packed ([`Weight::Quant`], QLoRA) unless
/// `base.dequantize`, and, with `base.quantize_bits`, dense projection and embedding matrices
/// quantized at load.
pub fn load_checkpoint_weights(
    dir: &Path,
    base: &BaseConfig,
    device: &Device,
) -> Result<HashMap<String, Weight>> {
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if index.exists() {
        let text = fs_err::read_to_string(&index)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| TrainError::Json {
                path: index.clone(),
                source,
            })?;
        let mut shards: Vec<String> = v["weight_map"]
            .as_object()
            .ok_or_else(|| TrainError::Safetensors {
                path: index.clone(),
                message: "no `weight_map` object".into(),
            })?
            .values()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        shards.sort();
        shards.dedup();
        shards.into_iter().map(|s| dir.join(s)).collect()
    } else {
        vec![dir.join("model.safetensors")]
    };
    let mut raw = HashMap::new();
    for file in files {
        if !file.exists() {
            return Err(TrainError::Safetensors {
                path: file,
                message: "file not found; is this a Hugging Face model directory?".into(),
            });
        }
        // Quantized weights are packed on the host; the dense rest goes to `device`.
        let tensors = candle_core::safetensors::load(&file, &Device::Cpu).map_err(|e| {
            TrainError::Safetensors {
                path: file.clone(),
                message: e.to_string(),
            }
        })?;
        raw.extend(tensors);
    }
    let config_path = dir.join("config.json");
    let quant = if config_path.exists() {
        let text = fs_err::read_to_string(&config_path)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| TrainError::Json {
                path: config_path.clone(),
                source,
            })?;
        v.get("quantization").cloned()
    } else {
        None
    };
    let mut out = take_mlx_quantized(&mut raw, quant.as_ref())?;
    for (k, t) in raw {
        match t.dtype() {
            DType::F32 | DType::F16 | DType::BF16 => {}
            other => {
                return Err(TrainError::BadDtype {
                    key: k,
                    dtype: format!("{other:?}"),
                })
            }
        }
        let t = t.to_dtype(DType::F32)?;
        let w = match base.quantize_bits {
            Some(bits) if quantizable(&k, &t, base.quantize_group_size) => {
                let (rows, cols) = t.dims2()?;
                Weight::Quant(std::sync::Arc::new(QuantMatrix::quantize(
                    &t.flatten_all()?.to_vec1::<f32>()?,
                    rows,
                    cols,
                    bits,
                    base.quantize_group_size,
                )?))
            }
            _ => Weight::Dense(t.to_device(device)?),
        };
        out.insert(k, w);
    }
    if base.dequantize {
        for w in out.values_mut() {
            if w.is_quantized() {
                *w = Weight::Dense(w.to_dense(DType::F32, device)?);
            }
        }
    }
    Ok(out)
}

/// Projection and embedding matrices are quantized at load; norms and biases never are.
fn quantizable(key: &str, t: &Tensor, group: usize) -> bool {
    let matrix = key.ends_with("_proj.weight")
        || key == "model.embed_tokens.weight"
        || key == "lm_head.weight";
    matrix && t.rank() == 2 && t.dims()[1] % group == 0
}

/// Remove every MLX-quantized `X.weight` (with `X.scales`, `X.biases`) from `tensors` and return
/// it packed, under `X.weight`.
fn take_mlx_quantized(
    tensors: &mut HashMap<String, Tensor>,
    quant: Option<&serde_json::Value>,
) -> Result<HashMap<String, Weight>> {
    let modules: Vec<String> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix(".scales").map(str::to_string))
        .collect();
    let mut out = HashMap::new();
    for m in modules {
        let q = quant.ok_or_else(|| {
            TrainError::Config(format!(
                "`{m}.scales` found but config.json has no `quantization` section"
            ))
        })?;
        let own = q.get(&m).filter(|v| v.is_object()).unwrap_or(q);
        let bits = own["bits"].as_u64().or(q["bits"].as_u64());
        let group = own["group_size"].as_u64().or(q["group_size"].as_u64());
        let (Some(bits), Some(group)) = (bits, group) else {
            return Err(TrainError::Config(format!(
                "config.json `quantization` lacks bits/group_size for `{m}`"
            )));
        };
        let missing = |k: &str| TrainError::Config(format!("quantized module `{m}` lacks `{k}`"));
        let w = tensors
            .remove(&format!("{m}.weight"))
            .ok_or_else(|| missing("weight"))?;
        let s = tensors
            .remove(&format!("{m}.scales"))
            .ok_or_else(|| missing("scales"))?;
        let b = tensors
            .remove(&format!("{m}.biases"))
            .ok_or_else(|| missing("biases"))?;
        let (rows, words) = w.dims2()?;
        let cols = words * 32 / bits as usize;
        let matrix = QuantMatrix::new(
            w.flatten_all()?.to_vec1::<u32>()?,
            s.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
            b.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
            rows,
            cols,
            bits as u32,
            group as usize,
        )
        .map_err(|e| TrainError::Config(format!("quantized module `{m}`: {e}")))?;
        out.insert(
            format!("{m}.weight"),
            Weight::Quant(std::sync::Arc::new(matrix)),
        );
    }
    Ok(out)
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
            return Err(TrainError::Config(
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
                .ok_or_else(|| TrainError::MissingWeight {
                    path: origin.to_path_buf(),
                    key: key.to_string(),
                })?;
            let want = &expected[key];
            let got = match &t {
                Weight::Dense(d) => d.dims().to_vec(),
                Weight::Quant(q) => vec![q.rows, q.cols],
            };
            if got != *want {
                return Err(TrainError::BadShape {
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
                Weight::Quant(_) => Err(TrainError::Config(format!(
                    "`{key}` is quantized; only linear and embedding weights may be"
                ))),
            }
        };
        let embed_tokens = take("model.embed_tokens.weight")?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("model.layers.{l}");
            let mut lin = |name: &str, bias: bool| -> Result<Linear> {
                Ok(Linear {
                    weight: take(&format!("{p}.{name}.weight"))?,
                    bias: if bias {
                        let key = format!("{p}.{name}.bias");
                        Some(vector(&key, take(&key)?)?)
                    } else {
                        None
                    },
                    lora: None,
                })
            };
            let ab = config.attention_bias;
            let q_proj = lin("self_attn.q_proj", ab)?;
            let k_proj = lin("self_attn.k_proj", ab)?;
            let v_proj = lin("self_attn.v_proj", ab)?;
            let o_proj = lin("self_attn.o_proj", false)?;
            let gate_proj = lin("mlp.gate_proj", false)?;
            let up_proj = lin("mlp.up_proj", false)?;
            let down_proj = lin("mlp.down_proj", false)?;
            layers.push(Block {
                input_layernorm: {
                    let key = format!("{p}.input_layernorm.weight");
                    vector(&key, take(&key)?)?
                },
                post_attention_layernorm: {
                    let key = format!("{p}.post_attention_layernorm.weight");
                    vector(&key, take(&key)?)?
                },
                q_norm: {
                    let key = format!("{p}.self_attn.q_norm.weight");
                    vector(&key, take(&key)?)?
                },
                k_norm: {
                    let key = format!("{p}.self_attn.k_norm.weight");
                    vector(&key, take(&key)?)?
                },
                q_proj,
                k_proj,
                v_proj,
                o_proj,
                gate_proj,
                up_proj,
                down_proj,
            });
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
        let (b, t) = tokens.dims2()?;
        let cfg = &self.config;
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (nq, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let device = tokens.device();
        let mask = ops::causal_mask(t, self.dtype, device)?;
        let (cos, sin) = ops::rope_tables(t, hd, cfg.rope_theta, self.dtype, device)?;
        let mut x = self.embed(&tokens.flatten_all()?)?.reshape((b * t, h))?;
        for layer in &self.layers {
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
            let att = ops::attention(&q, &k, &v, Some(&mask))?
                .transpose(1, 2)?
                .reshape((b * t, nq * hd))?;
            x = (x + layer.o_proj.forward(&att, ctx)?)?;
            let xn = ops::rms_norm(&x, &layer.post_attention_layernorm, cfg.rms_norm_eps)?;
            let gate = layer.gate_proj.forward(&xn, ctx)?.silu()?;
            let up = layer.up_proj.forward(&xn, ctx)?;
            x = (x + layer.down_proj.forward(&(gate * up)?, ctx)?)?;
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

/// Write a Qwen3 checkpoint with random weights (`config.json` + `model.safetensors`) for tests
/// and benchmarks. Norm weights are near 1, projections ~N-ish(0, 1/sqrt(fan_in)).
pub fn write_random_checkpoint(
    dir: &Path,
    config: &Qwen3Config,
    seed: u64,
    dtype: DType,
) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(config).expect("config serialises");
    fs_err::write(dir.join("config.json"), json)?;
    let mut rng = SplitMix64::new(seed);
    let mut map = HashMap::new();
    for (key, shape) in config.weight_shapes() {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = if shape.len() == 1 && !key.ends_with(".bias") {
            (0..n)
                .map(|_| 1.0 + 0.1 * (rng.unit() as f32 - 0.5))
                .collect()
        } else {
            let fan_in = *shape.last().unwrap() as f64;
            let bound = (3.0 / fan_in).sqrt();
            (0..n)
                .map(|_| ((rng.unit() * 2.0 - 1.0) * bound) as f32)
                .collect()
        };
        let t = Tensor::from_vec(data, shape, &Device::Cpu)?.to_dtype(dtype)?;
        map.insert(key, t);
    }
    let path = dir.join("model.safetensors");
    candle_core::safetensors::save(&map, &path).map_err(|e| TrainError::Safetensors {
        path,
        message: e.to_string(),
    })?;
    Ok(())
}
