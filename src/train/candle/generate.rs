//! Text generation with the trainer's own Qwen3: a per-layer KV cache, an incremental forward
//! that feeds the prompt once and then one token per step, sampling (greedy, or temperature +
//! top-p with a seed), and the stop rules (EOS token ids, stop sequences, a token budget).
//! Also loads a model for generation: the base alone, or the base with an mlx-lm or PEFT adapter.
//!
//! Generation must never build an autograd graph that outlives a step (every tensor kept across
//! steps is detached) and never changes the model's weights. Sampling draws only from the
//! project's seeded [`SplitMix64`], so a (seed, prompt, model) triple always gives the same text.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use super::ops;
use super::qwen3::{ForwardCtx, Qwen3, Qwen3Config};
use crate::core::hash::SplitMix64;
use crate::train::adapter;
use crate::train::backend::LoraTensors;
use crate::train::lora::LoraConfig;
use crate::train::TrainError;

/// Everything that can go wrong while loading a model for generation or generating.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("tensor backend error: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{path}: {message}")]
    Adapter { path: PathBuf, message: String },
    #[error("invalid sampling settings: {0}")]
    Sampling(String),
    #[error("the prompt has {tokens} tokens but the model's context is {limit} (max_position_embeddings); shorten the prompt")]
    PromptTooLong { tokens: usize, limit: usize },
    #[error("the model produced non-finite logits at generated token {0}; the weights or the adapter are broken")]
    NonFiniteLogits(usize),
}

pub type Result<T, E = GenerateError> = std::result::Result<T, E>;

/// Keys and values of every layer for the tokens fed so far.
///
/// Each layer keeps a preallocated buffer `[1, kv_heads, capacity, head_dim]` (grown by doubling)
/// and new tokens are written in place after the cached ones, so a step costs no copy of the
/// cache; attention reads a view of the first `len` positions. Because buffers are written in
/// place, `clone` makes a deep copy: one prefilled prompt can seed several samples, and no two
/// caches ever share storage.
#[derive(Debug)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl Clone for KvCache {
    fn clone(&self) -> Self {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                l.as_ref().map(|(k, v)| {
                    (
                        k.copy().expect("copy of a cache buffer"),
                        v.copy().expect("copy of a cache buffer"),
                    )
                })
            })
            .collect();
        Self {
            layers,
            len: self.len,
        }
    }
}

impl KvCache {
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![None; n_layers],
            len: 0,
        }
    }

    /// Tokens cached so far: the absolute position of the next token fed.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Writes `k`, `v` (`[1, kv_heads, n, head_dim]`) at positions `past..past + n` of one layer's
/// buffers, growing them when full, and returns views of positions `0..past + n`.
fn append_kv(
    slot: &mut Option<(Tensor, Tensor)>,
    past: usize,
    k: &Tensor,
    v: &Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let (_, heads, n, hd) = k.dims4()?;
    let need = past + n;
    let cap = slot.as_ref().map_or(0, |(bk, _)| bk.dim(2).unwrap_or(0));
    if need > cap {
        let new_cap = need.next_power_of_two().max(64).max(2 * cap);
        let bk = Tensor::zeros((1, heads, new_cap, hd), k.dtype(), k.device())?;
        let bv = Tensor::zeros((1, heads, new_cap, hd), v.dtype(), v.device())?;
        if let Some((ok, ov)) = slot.take() {
            if past > 0 {
                bk.slice_set(&ok.narrow(2, 0, past)?.contiguous()?, 2, 0)?;
                bv.slice_set(&ov.narrow(2, 0, past)?.contiguous()?, 2, 0)?;
            }
        }
        *slot = Some((bk, bv));
    }
    let (bk, bv) = slot.as_ref().expect("allocated above");
    bk.slice_set(&k.contiguous()?, 2, past)?;
    bv.slice_set(&v.contiguous()?, 2, past)?;
    Ok((bk.narrow(2, 0, need)?, bv.narrow(2, 0, need)?))
}

/// Additive mask `[n, past + n]` for `n` new tokens after `past` cached ones: new token `i`
/// (absolute position `past + i`) sees every cached token and the new tokens up to itself.
fn prefix_causal_mask(
    past: usize,
    n: usize,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let total = past + n;
    let mask: Vec<f32> = (0..n)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (n, total), device)?.to_dtype(dtype)
}

/// Grouped-query attention without copying keys and values per query head: the `n_rep` query
/// heads that share a KV head are stacked as rows, `[1, hkv, n_rep * n, d]`, against that head's
/// keys (the same result as [`ops::attention`] with `repeat_kv`). `q` is `[1, hq, n, d]`
/// (contiguous), `k`/`v` are `[1, hkv, t, d]` (views are fine); `mask` is `[n, t]`.
fn grouped_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let (_, hq, n, d) = q.dims4()?;
    let hkv = k.dim(1)?;
    let n_rep = hq / hkv;
    let q = q.reshape((1, hkv, n_rep * n, d))?;
    let scale = 1.0 / (d as f64).sqrt();
    let scores = (q.matmul(&k.t()?)? * scale)?;
    let scores = match mask {
        Some(m) if n_rep > 1 => scores.broadcast_add(&Tensor::cat(&vec![m; n_rep], 0)?)?,
        Some(m) => scores.broadcast_add(m)?,
        None => scores,
    };
    ops::softmax_last_dim(&scores)?
        .matmul(v)?
        .reshape((1, hq, n, d))
}

impl Qwen3 {
    /// Feeds `ids` at absolute positions `cache.len()..`, appends their keys and values to
    /// `cache`, and returns the final hidden states `[ids.len(), hidden]` (before the final
    /// norm; detached; no dropout). The same computation as [`Qwen3::forward`] restricted to the
    /// new rows, with RoPE at the absolute positions.
    pub fn forward_hidden_cached(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let cfg = &self.config;
        let n = ids.len();
        let past = cache.len;
        let (hd, nq, nkv) = (
            cfg.head_dim(),
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
        );
        let device = self.device();
        if cache.layers.len() != self.layers.len() {
            candle_core::bail!(
                "KV cache has {} layers, the model {}",
                cache.layers.len(),
                self.layers.len()
            );
        }
        let tokens = Tensor::from_slice(ids, n, device)?;
        let (cos, sin) = ops::rope_tables_at(past, n, hd, cfg.rope_theta, self.dtype, device)?;
        // A single new token may see everything cached: no mask needed.
        let mask = if n > 1 {
            Some(prefix_causal_mask(past, n, self.dtype, device)?)
        } else {
            None
        };
        let mut ctx = ForwardCtx { rng: None };
        let mut x = self.embed(&tokens)?.detach();
        for (layer, slot) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let xn = ops::rms_norm(&x, &layer.input_layernorm, cfg.rms_norm_eps)?;
            let heads =
                |y: Tensor, h: usize, norm: Option<&Tensor>| -> candle_core::Result<Tensor> {
                    let y = y.reshape((1, n, h, hd))?;
                    let y = match norm {
                        Some(w) => ops::rms_norm(&y, w, cfg.rms_norm_eps)?,
                        None => y,
                    };
                    y.transpose(1, 2)
                };
            let q = heads(
                layer.q_proj.forward(&xn, &mut ctx)?,
                nq,
                Some(&layer.q_norm),
            )?;
            let k = heads(
                layer.k_proj.forward(&xn, &mut ctx)?,
                nkv,
                Some(&layer.k_norm),
            )?;
            let v = heads(layer.v_proj.forward(&xn, &mut ctx)?, nkv, None)?;
            let q = ops::rope(&q, &cos, &sin)?.contiguous()?.detach();
            let k = ops::rope(&k, &cos, &sin)?.detach();
            let (k, v) = append_kv(slot, past, &k, &v.detach())?;
            let att = grouped_attention(&q, &k, &v, mask.as_ref())?
                .transpose(1, 2)?
                .reshape((n, nq * hd))?;
            x = (x + layer.o_proj.forward(&att, &mut ctx)?)?;
            let xn = ops::rms_norm(&x, &layer.post_attention_layernorm, cfg.rms_norm_eps)?;
            let gate = layer.gate_proj.forward(&xn, &mut ctx)?.silu()?;
            let up = layer.up_proj.forward(&xn, &mut ctx)?;
            x = (x + layer.down_proj.forward(&(gate * up)?, &mut ctx)?)?.detach();
        }
        cache.len += n;
        Ok(x)
    }

    /// [`Qwen3::forward_hidden_cached`] then the LM head: logits `[ids.len(), vocab]`.
    pub fn forward_cached(&self, ids: &[u32], cache: &mut KvCache) -> candle_core::Result<Tensor> {
        let x = self.forward_hidden_cached(ids, cache)?;
        Ok(self.logits(&x)?.detach())
    }
}

/// How to pick tokens and when to stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// 0 means greedy (always the most likely token); otherwise logits are divided by it.
    pub temperature: f64,
    /// Nucleus sampling: draw from the smallest set of most likely tokens whose probabilities
    /// sum to at least `top_p` (1.0 keeps every token). Ignored when greedy.
    pub top_p: f64,
    /// Most tokens to generate (an EOS token counts).
    pub max_new_tokens: usize,
    /// Generation ends when the decoded text contains one of these; the text is cut before it.
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens: 512,
            stop: Vec::new(),
        }
    }
}

impl SamplingParams {
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(GenerateError::Sampling(format!(
                "temperature must be >= 0 (0 is greedy), got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(GenerateError::Sampling(format!(
                "top_p must be in (0, 1], got {}",
                self.top_p
            )));
        }
        if self.max_new_tokens == 0 {
            return Err(GenerateError::Sampling(
                "max_new_tokens must be at least 1".into(),
            ));
        }
        if self.stop.iter().any(String::is_empty) {
            return Err(GenerateError::Sampling(
                "an empty stop sequence would end generation at once; remove it".into(),
            ));
        }
        Ok(())
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-sequence token.
    Eos,
    /// The decoded text reached a stop sequence.
    StopSequence,
    /// `max_new_tokens` were generated.
    MaxTokens,
    /// The model's context window (`max_position_embeddings`) is full.
    ContextLimit,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Eos => "eos",
            StopReason::StopSequence => "stop_sequence",
            StopReason::MaxTokens => "max_tokens",
            StopReason::ContextLimit => "context_limit",
        }
    }
}

/// One generated continuation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The decoded continuation (special tokens kept, except a final EOS), cut before a stop
    /// sequence when one ended it.
    pub text: String,
    /// Every token the model produced, a final EOS token included.
    pub token_ids: Vec<u32>,
    pub stop_reason: StopReason,
}

impl Generation {
    /// Tokens generated (a final EOS token included).
    pub fn tokens(&self) -> usize {
        self.token_ids.len()
    }
}

/// Index of the most likely token; the lowest index wins a tie. NaN never wins.
pub fn argmax(logits: &[f32]) -> Option<u32> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, b)| l > b) {
            best = Some((i, l));
        }
    }
    best.map(|(i, _)| i as u32)
}

/// Picks the next token from one row of logits. Greedy when `temperature == 0`; otherwise a
/// draw from `softmax(logits / temperature)` restricted to the top-p nucleus (the order of
/// transformers' `TemperatureLogitsWarper` then `TopPLogitsWarper`; the most likely token is
/// always kept, so `top_p -> 0` is greedy). `None` when the logits are not finite.
pub fn sample_token(logits: &[f32], params: &SamplingParams, rng: &mut SplitMix64) -> Option<u32> {
    if logits.iter().any(|l| !l.is_finite()) {
        return None;
    }
    if params.is_greedy() {
        return argmax(logits);
    }
    let inv_t = 1.0 / params.temperature;
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| ((l as f64 - max) * inv_t).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    // Candidates in the order they are walked when drawing; with a nucleus, most likely first
    // (ties by lower index: a stable sort of the index order).
    let candidates: Vec<usize> = if params.top_p < 1.0 {
        let mut order: Vec<usize> = (0..weights.len()).collect();
        order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
        let mut kept = 0;
        let mut cum = 0.0;
        for &i in &order {
            cum += weights[i] / total;
            kept += 1;
            if cum >= params.top_p {
                break;
            }
        }
        order.truncate(kept.max(1));
        order
    } else {
        (0..weights.len()).collect()
    };
    let mass: f64 = candidates.iter().map(|&i| weights[i]).sum();
    let mut u = rng.unit() * mass;
    for &i in &candidates {
        u -= weights[i];
        if u < 0.0 {
            return Some(i as u32);
        }
    }
    // Rounding left a sliver of mass: the last candidate takes it.
    candidates.last().map(|&i| i as u32)
}

/// End-of-sequence token ids for a model folder: the union of `eos_token_id` in
/// `generation_config.json` and `config.json` (an int or a list of ints in Hugging Face files;
/// Qwen2.5/Qwen3 instruct models list `[151645, 151643]` in generation_config.json) and the id of
/// `tokenizer_config.json`'s `eos_token`. The union, because they disagree in the wild: vLLM's
/// `tests/tokenization/test_get_eos.py` pins Llama-3 with tokenizer EOS 128009 but generation EOS
/// `[128001, 128009]`. Sorted, without duplicates; missing files are skipped.
pub fn eos_token_ids(model_dir: &Path, tokenizer: &Tokenizer) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    for name in ["generation_config.json", "config.json"] {
        let path = model_dir.join(name);
        if !path.exists() {
            continue;
        }
        let text = fs_err::read_to_string(&path).map_err(TrainError::Io)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| TrainError::Json {
                path: path.clone(),
                source,
            })?;
        match &v["eos_token_id"] {
            serde_json::Value::Number(n) => ids.extend(n.as_u64().map(|n| n as u32)),
            serde_json::Value::Array(list) => {
                ids.extend(list.iter().filter_map(|x| x.as_u64()).map(|n| n as u32))
            }
            _ => {}
        }
    }
    let tc_path = model_dir.join("tokenizer_config.json");
    if tc_path.exists() {
        let text = fs_err::read_to_string(&tc_path).map_err(TrainError::Io)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| TrainError::Json {
                path: tc_path.clone(),
                source,
            })?;
        let eos = match &v["eos_token"] {
            serde_json::Value::String(s) => Some(s.as_str()),
            serde_json::Value::Object(o) => o.get("content").and_then(|c| c.as_str()),
            _ => None,
        };
        ids.extend(eos.and_then(|t| tokenizer.token_to_id(t)));
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A prompt fed through the model: the cache and the logits of its last token. Clone it to
/// draw several samples from one prefill.
#[derive(Debug, Clone)]
pub struct Prefilled {
    pub cache: KvCache,
    pub last_logits: Vec<f32>,
    pub prompt_tokens: usize,
}

/// A model, its tokenizer and its EOS ids, ready to generate.
pub struct Generator {
    pub model: Qwen3,
    pub tokenizer: Tokenizer,
    pub eos_token_ids: Vec<u32>,
}

impl Generator {
    pub fn new(model: Qwen3, tokenizer: Tokenizer, eos_token_ids: Vec<u32>) -> Self {
        Self {
            model,
            tokenizer,
            eos_token_ids,
        }
    }

    /// Token ids of `text`, without adding special tokens (a rendered chat template already
    /// contains them).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| GenerateError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, false)
            .map_err(|e| GenerateError::Tokenizer(e.to_string()))
    }

    fn context_limit(&self) -> Option<usize> {
        self.model.config.max_position_embeddings
    }

    /// Feeds the whole prompt once.
    pub fn prefill(&self, prompt: &[u32]) -> Result<Prefilled> {
        if prompt.is_empty() {
            return Err(GenerateError::Sampling(
                "the prompt is empty; there is nothing to continue".into(),
            ));
        }
        if let Some(limit) = self.context_limit() {
            if prompt.len() >= limit {
                return Err(GenerateError::PromptTooLong {
                    tokens: prompt.len(),
                    limit,
                });
            }
        }
        let vocab = self.model.config.vocab_size;
        if let Some(&bad) = prompt.iter().find(|&&t| t as usize >= vocab) {
            return Err(GenerateError::Tokenizer(format!(
                "token id {bad} is outside the model's vocabulary of {vocab}; tokenizer and model disagree"
            )));
        }
        let mut cache = KvCache::new(self.model.layers.len());
        // Only the last position's logits are needed (a real vocabulary is ~150k wide).
        let hidden = self.model.forward_hidden_cached(prompt, &mut cache)?;
        let last = self
            .model
            .logits(&hidden.narrow(0, prompt.len() - 1, 1)?)?
            .squeeze(0)?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?;
        Ok(Prefilled {
            cache,
            last_logits: last,
            prompt_tokens: prompt.len(),
        })
    }

    /// Generates from token ids with a fresh prefill.
    pub fn generate(
        &self,
        prompt: &[u32],
        params: &SamplingParams,
        seed: u64,
    ) -> Result<Generation> {
        let pre = self.prefill(prompt)?;
        self.continue_from(pre, params, seed)
    }

    /// Generates from a prefilled prompt (consumed; clone it to sample again).
    pub fn continue_from(
        &self,
        prefilled: Prefilled,
        params: &SamplingParams,
        seed: u64,
    ) -> Result<Generation> {
        params.validate()?;
        let Prefilled {
            mut cache,
            mut last_logits,
            ..
        } = prefilled;
        let mut rng = SplitMix64::new(seed);
        let mut ids: Vec<u32> = Vec::new();
        loop {
            let next = sample_token(&last_logits, params, &mut rng)
                .ok_or(GenerateError::NonFiniteLogits(ids.len()))?;
            ids.push(next);
            if self.eos_token_ids.contains(&next) {
                let text = self.decode(&ids[..ids.len() - 1])?;
                return Ok(Generation {
                    text,
                    token_ids: ids,
                    stop_reason: StopReason::Eos,
                });
            }
            let text = self.decode(&ids)?;
            if let Some(cut) = earliest_stop(&text, &params.stop) {
                return Ok(Generation {
                    text: text[..cut].to_string(),
                    token_ids: ids,
                    stop_reason: StopReason::StopSequence,
                });
            }
            if ids.len() >= params.max_new_tokens {
                return Ok(Generation {
                    text,
                    token_ids: ids,
                    stop_reason: StopReason::MaxTokens,
                });
            }
            if self.context_limit().is_some_and(|l| cache.len() + 1 >= l) {
                return Ok(Generation {
                    text,
                    token_ids: ids,
                    stop_reason: StopReason::ContextLimit,
                });
            }
            last_logits = self
                .model
                .forward_cached(&[next], &mut cache)?
                .squeeze(0)?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?;
        }
    }
}

/// Byte offset of the earliest stop sequence in `text`.
fn earliest_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops.iter().filter_map(|s| text.find(s.as_str())).min()
}

pub use crate::train::adapter::AdapterFormat;

/// The adapter a model was loaded with.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedAdapter {
    /// The folder holding the adapter files (a `vcurate train` output resolves to its `mlx/`).
    pub dir: PathBuf,
    pub format: AdapterFormat,
    /// The safetensors file with the adapter weights.
    pub weights: PathBuf,
    pub weights_sha256: String,
    pub config: LoraConfig,
}

/// Loads a Hugging Face model folder for generation, with no adapter or with the adapter found
/// under `adapter_dir` (see [`adapter::resolve`]). An adapter made for another model shape is an
/// error naming its file.
pub fn load_model(
    model_dir: &Path,
    adapter_dir: Option<&Path>,
    device: &Device,
) -> Result<(Qwen3, Option<LoadedAdapter>)> {
    let Some(adapter_dir) = adapter_dir else {
        let model = Qwen3::load(model_dir, &LoraConfig::default(), 0, device)?.without_lora();
        return Ok((model, None));
    };
    let (dir, format) = adapter::resolve(adapter_dir)?;
    let (mut lora, tensors) = adapter::read(&dir, format)?;
    let weights = dir.join(format.weights_file());
    let config_path = dir.join(adapter::ADAPTER_CONFIG);
    let mismatch = |path: &Path, message: String| GenerateError::Adapter {
        path: path.to_path_buf(),
        message: format!(
            "{message}; this adapter was made for a different model than {}",
            model_dir.display()
        ),
    };
    // Check the adapter against the model's shape before loading the weights.
    let model_cfg = Qwen3Config::from_file(&model_dir.join("config.json"))?;
    let expected = lora
        .keys(model_cfg.num_hidden_layers)
        .map_err(|e| mismatch(&config_path, e.to_string()))?;
    let found: Vec<_> = tensors.iter().map(|t| t.key).collect();
    if found != expected {
        let missing: Vec<String> = expected
            .iter()
            .filter(|k| !found.contains(k))
            .take(3)
            .map(|k| k.module_name())
            .collect();
        let extra: Vec<String> = found
            .iter()
            .filter(|k| !expected.contains(k))
            .take(3)
            .map(|k| k.module_name())
            .collect();
        return Err(mismatch(
            &weights,
            format!(
                "the weights do not match adapter_config.json on this {}-layer model (missing {missing:?}, unexpected {extra:?})",
                model_cfg.num_hidden_layers
            ),
        ));
    }
    lora.dropout = 0.0;
    let model = Qwen3::load(model_dir, &lora, 0, device)?;
    set_lora(&model, &tensors).map_err(|m| mismatch(&weights, m))?;
    let weights_sha256 = crate::core::sha256_hex(&fs_err::read(&weights).map_err(TrainError::Io)?);
    Ok((
        model,
        Some(LoadedAdapter {
            dir,
            format,
            weights,
            weights_sha256,
            config: lora,
        }),
    ))
}

/// Copies adapter tensors (canonical orientation, sorted like `model.lora`) into the model.
fn set_lora(model: &Qwen3, tensors: &[LoraTensors]) -> Result<(), String> {
    for ((key, layer), t) in model.lora.iter().zip(tensors) {
        for (name, host, var) in [("lora_A", &t.a, &layer.a), ("lora_B", &t.b, &layer.b)] {
            let like = var.as_tensor();
            if host.shape != like.dims() {
                return Err(format!(
                    "`{}.{name}` has shape {:?} but this model needs {:?}",
                    key.module_name(),
                    host.shape,
                    like.dims()
                ));
            }
            Tensor::from_vec(host.data.clone(), host.shape.as_slice(), like.device())
                .and_then(|x| x.to_dtype(like.dtype()))
                .and_then(|x| var.set(&x))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::backend::{Backend, HostTensor};
    use crate::train::candle::qwen3::write_random_checkpoint;
    use crate::train::lora::TargetModule;

    fn lora() -> LoraConfig {
        LoraConfig {
            rank: 2,
            alpha: 4.0,
            dropout: 0.0,
            targets: vec![TargetModule::Q, TargetModule::V, TargetModule::Down],
            num_layers: None,
        }
    }

    /// A tiny random model with non-zero LoRA weights (so the adapter path is exercised too).
    fn tiny_model(dir: &Path, vocab: usize) -> Qwen3 {
        let cfg = Qwen3Config {
            vocab_size: vocab,
            max_position_embeddings: None,
            ..crate::train::candle::tests::tiny_config(false)
        };
        write_random_checkpoint(dir, &cfg, 11, DType::F32).unwrap();
        let model = Qwen3::load(dir, &lora(), 5, &Device::Cpu).unwrap();
        let mut rng = SplitMix64::new(17);
        for (_, layer) in &model.lora {
            let dims = layer.b.as_tensor().dims().to_vec();
            let n: usize = dims.iter().product();
            let noise: Vec<f32> = (0..n).map(|_| rng.unit() as f32 - 0.5).collect();
            layer
                .b
                .set(&Tensor::from_vec(noise, dims, &Device::Cpu).unwrap())
                .unwrap();
        }
        model
    }

    fn rows(t: &Tensor) -> Vec<Vec<f32>> {
        t.to_vec2::<f32>().unwrap()
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// A tokenizer for a model of `vocab` ids: a word-level vocabulary `t0 .. t{vocab-1}` split
    /// on whitespace; with no decoder, tokens decode joined by single spaces.
    fn word_tokenizer(dir: &Path, vocab: usize) -> Tokenizer {
        let mut words = serde_json::Map::new();
        for i in 0..vocab {
            words.insert(format!("t{i}"), serde_json::json!(i));
        }
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null,
            "pre_tokenizer": {"type": "WhitespaceSplit"},
            "post_processor": null,
            "decoder": null,
            "model": {"type": "WordLevel", "vocab": words, "unk_token": "t1"}
        });
        let path = dir.join("tokenizer.json");
        fs_err::write(&path, json.to_string()).unwrap();
        Tokenizer::from_file(&path).unwrap()
    }

    #[test]
    fn cached_incremental_logits_equal_the_full_forward_at_every_position() {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path(), 64);
        // 80 tokens: the one-token-per-step pass below crosses the cache's first growth (64).
        let ids: Vec<u32> = (0..80u32).map(|i| (i * 37 + 11) % 64).collect();
        let full = model
            .forward(
                &Tensor::from_slice(&ids, (1, ids.len()), &Device::Cpu).unwrap(),
                &mut ForwardCtx { rng: None },
            )
            .unwrap()
            .squeeze(0)
            .unwrap();
        let full = rows(&full);

        // The whole sequence at once through the cache path.
        let mut cache = KvCache::new(model.layers.len());
        let at_once = rows(&model.forward_cached(&ids, &mut cache).unwrap());
        assert_eq!(cache.len(), ids.len());
        for (p, (a, b)) in full.iter().zip(&at_once).enumerate() {
            assert!(max_abs_diff(a, b) < 1e-4, "position {p}");
        }

        // A prompt of 4, then one token per step: RoPE must use the absolute positions.
        let mut cache = KvCache::new(model.layers.len());
        let mut inc = rows(&model.forward_cached(&ids[..4], &mut cache).unwrap());
        for &t in &ids[4..] {
            inc.extend(rows(&model.forward_cached(&[t], &mut cache).unwrap()));
        }
        assert_eq!(inc.len(), full.len());
        for (p, (a, b)) in full.iter().zip(&inc).enumerate() {
            let d = max_abs_diff(a, b);
            assert!(d < 1e-4, "position {p}: max |diff| {d}");
        }
        // The logits depend on the position: a repeated token gives other logits.
        let again = ids.iter().rposition(|&t| t == ids[0]).unwrap();
        assert!(again > 0);
        assert!(max_abs_diff(&inc[0], &inc[again]) > 1e-3);
    }

    /// A cloned cache is a deep copy: writing one never changes the other.
    #[test]
    fn cloned_caches_do_not_share_storage() {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path(), 64);
        let full = |ids: &[u32]| {
            let t = Tensor::from_slice(ids, (1, ids.len()), &Device::Cpu).unwrap();
            let out = model.forward(&t, &mut ForwardCtx { rng: None }).unwrap();
            rows(&out.squeeze(0).unwrap()).pop().unwrap()
        };
        let mut a = KvCache::new(model.layers.len());
        model.forward_cached(&[1, 2, 3], &mut a).unwrap();
        let mut b = a.clone();
        model.forward_cached(&[7], &mut a).unwrap();
        model.forward_cached(&[9], &mut b).unwrap();
        let la = rows(&model.forward_cached(&[5], &mut a).unwrap())
            .pop()
            .unwrap();
        let lb = rows(&model.forward_cached(&[5], &mut b).unwrap())
            .pop()
            .unwrap();
        assert!(max_abs_diff(&la, &full(&[1, 2, 3, 7, 5])) < 1e-4);
        assert!(max_abs_diff(&lb, &full(&[1, 2, 3, 9, 5])) < 1e-4);
    }

    #[test]
    fn rope_tables_at_are_rows_of_the_full_table() {
        let (cos, sin) = ops::rope_tables(9, 8, 10_000.0, DType::F32, &Device::Cpu).unwrap();
        let (c2, s2) = ops::rope_tables_at(5, 4, 8, 10_000.0, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(rows(&cos.narrow(0, 5, 4).unwrap()), rows(&c2));
        assert_eq!(rows(&sin.narrow(0, 5, 4).unwrap()), rows(&s2));
    }

    fn generator(dir: &Path, vocab: usize) -> Generator {
        let model = tiny_model(dir, vocab);
        let tok = word_tokenizer(dir, vocab);
        Generator::new(model, tok, vec![])
    }

    #[test]
    fn greedy_is_deterministic_and_follows_the_argmax() {
        let dir = tempfile::tempdir().unwrap();
        let g = generator(dir.path(), 64);
        let params = SamplingParams {
            max_new_tokens: 12,
            ..SamplingParams::default()
        };
        let a = g.generate(&[1, 2, 3], &params, 1).unwrap();
        let b = g.generate(&[1, 2, 3], &params, 999).unwrap();
        assert_eq!(a, b, "greedy ignores the seed");
        assert_eq!(a.tokens(), 12);
        assert_eq!(a.stop_reason, StopReason::MaxTokens);
        // Each token is the argmax of the full forward over the prefix.
        let mut seq = vec![1u32, 2, 3];
        for &t in &a.token_ids {
            let logits = g
                .model
                .forward(
                    &Tensor::from_slice(&seq, (1, seq.len()), &Device::Cpu).unwrap(),
                    &mut ForwardCtx { rng: None },
                )
                .unwrap()
                .squeeze(0)
                .unwrap();
            let last = rows(&logits).pop().unwrap();
            assert_eq!(argmax(&last), Some(t));
            seq.push(t);
        }
        assert_eq!(a.text, g.decode(&a.token_ids).unwrap());
    }

    #[test]
    fn same_seed_same_sample_and_seeds_differ() {
        let dir = tempfile::tempdir().unwrap();
        let g = generator(dir.path(), 64);
        let params = SamplingParams {
            temperature: 1.5,
            top_p: 1.0,
            max_new_tokens: 16,
            stop: vec![],
        };
        let a = g.generate(&[4, 5], &params, 7).unwrap();
        let b = g.generate(&[4, 5], &params, 7).unwrap();
        assert_eq!(a, b);
        let others: Vec<Vec<u32>> = (8..13)
            .map(|s| g.generate(&[4, 5], &params, s).unwrap().token_ids)
            .collect();
        assert!(
            others.iter().any(|o| *o != a.token_ids),
            "five other seeds all gave the same 16 tokens at temperature 1.5"
        );
        // One prefill, several samples: the same as fresh prefills.
        let pre = g.prefill(&[4, 5]).unwrap();
        assert_eq!(g.continue_from(pre.clone(), &params, 7).unwrap(), a);
        assert_eq!(
            g.continue_from(pre, &params, 8).unwrap().token_ids,
            others[0]
        );
    }

    #[test]
    fn top_p_near_zero_is_greedy() {
        let dir = tempfile::tempdir().unwrap();
        let g = generator(dir.path(), 64);
        let greedy = SamplingParams {
            max_new_tokens: 10,
            ..SamplingParams::default()
        };
        let want = g.generate(&[9, 10, 11], &greedy, 0).unwrap();
        for seed in 0..4 {
            let nucleus = SamplingParams {
                temperature: 1.0,
                top_p: 1e-9,
                ..greedy.clone()
            };
            assert_eq!(g.generate(&[9, 10, 11], &nucleus, seed).unwrap(), want);
        }
    }

    #[test]
    fn sampling_follows_the_distribution_and_the_nucleus() {
        // Probabilities 0.5, 0.3, 0.2 (temperature 1).
        let logits: Vec<f32> = [0.5f64, 0.3, 0.2].iter().map(|p| p.ln() as f32).collect();
        let mut rng = SplitMix64::new(3);
        let params = SamplingParams {
            temperature: 1.0,
            ..SamplingParams::default()
        };
        let mut counts = [0usize; 3];
        for _ in 0..20_000 {
            counts[sample_token(&logits, &params, &mut rng).unwrap() as usize] += 1;
        }
        for (c, p) in counts.iter().zip([0.5, 0.3, 0.2]) {
            assert!((*c as f64 / 20_000.0 - p).abs() < 0.02, "{counts:?}");
        }
        // top_p = 0.7: the nucleus is {0, 1} (0.5 + 0.3 >= 0.7); token 2 never appears.
        let nucleus = SamplingParams {
            top_p: 0.7,
            ..params.clone()
        };
        let mut counts = [0usize; 3];
        for _ in 0..20_000 {
            counts[sample_token(&logits, &nucleus, &mut rng).unwrap() as usize] += 1;
        }
        assert_eq!(counts[2], 0);
        assert!(
            (counts[0] as f64 / 20_000.0 - 0.625).abs() < 0.02,
            "{counts:?}"
        );
        // Ties go to the lowest index; NaN logits are refused.
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), Some(1));
        assert_eq!(sample_token(&[f32::NAN, 1.0], &params, &mut rng), None);
    }

    #[test]
    fn stop_sequences_eos_and_max_tokens_end_generation_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = generator(dir.path(), 64);
        let base = SamplingParams {
            max_new_tokens: 8,
            ..SamplingParams::default()
        };
        let free = g.generate(&[1, 2, 3], &base, 0).unwrap();
        assert_eq!(
            (free.tokens(), free.stop_reason),
            (8, StopReason::MaxTokens)
        );
        let words: Vec<String> = free.text.split(' ').map(str::to_string).collect();
        assert_eq!(words.len(), 8, "{}", free.text);

        // Stop at the third generated word: the text ends before it, and no token is
        // generated after the one that completed the stop sequence.
        let stop = format!(" {}", words[2]);
        let first = free.text.find(&stop).unwrap();
        let params = SamplingParams {
            stop: vec!["never appears".into(), stop.clone()],
            ..base.clone()
        };
        let cut = g.generate(&[1, 2, 3], &params, 0).unwrap();
        assert_eq!(cut.stop_reason, StopReason::StopSequence);
        assert_eq!(cut.text, free.text[..first]);
        assert!(!cut.text.contains(&stop));
        assert!(cut.tokens() <= 3);
        assert_eq!(cut.token_ids, free.token_ids[..cut.tokens()]);

        // EOS: make the fourth greedy token an EOS id; the text excludes it.
        let eos = free.token_ids[3];
        g.eos_token_ids = vec![eos];
        let ended = g.generate(&[1, 2, 3], &base, 0).unwrap();
        let at = free.token_ids.iter().position(|&t| t == eos).unwrap();
        assert_eq!(ended.stop_reason, StopReason::Eos);
        assert_eq!(ended.token_ids, free.token_ids[..=at]);
        assert_eq!(ended.text, g.decode(&free.token_ids[..at]).unwrap());

        // max_new_tokens = 1.
        g.eos_token_ids.clear();
        let one = g
            .generate(
                &[1, 2, 3],
                &SamplingParams {
                    max_new_tokens: 1,
                    ..base.clone()
                },
                0,
            )
            .unwrap();
        assert_eq!(one.token_ids, free.token_ids[..1]);
        assert_eq!(one.stop_reason, StopReason::MaxTokens);

        // The context window ends generation too.
        g.model.config.max_position_embeddings = Some(6);
        let ctx = g.generate(&[1, 2, 3], &base, 0).unwrap();
        assert_eq!(ctx.stop_reason, StopReason::ContextLimit);
        assert_eq!(ctx.token_ids, free.token_ids[..3]);
        assert!(matches!(
            g.generate(&[1; 6], &base, 0),
            Err(GenerateError::PromptTooLong {
                tokens: 6,
                limit: 6
            })
        ));

        for bad in [
            SamplingParams {
                temperature: -1.0,
                ..base.clone()
            },
            SamplingParams {
                top_p: 0.0,
                ..base.clone()
            },
            SamplingParams {
                max_new_tokens: 0,
                ..base.clone()
            },
            SamplingParams {
                stop: vec![String::new()],
                ..base.clone()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(GenerateError::Sampling(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn eos_ids_come_from_generation_config_config_and_tokenizer_config() {
        let dir = tempfile::tempdir().unwrap();
        let tok = word_tokenizer(dir.path(), 64);
        assert_eq!(eos_token_ids(dir.path(), &tok).unwrap(), Vec::<u32>::new());
        fs_err::write(
            dir.path().join("generation_config.json"),
            r#"{"bos_token_id": 1, "eos_token_id": [9, 7], "do_sample": true}"#,
        )
        .unwrap();
        fs_err::write(dir.path().join("config.json"), r#"{"eos_token_id": 7}"#).unwrap();
        fs_err::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"eos_token": {"content": "t3", "special": true}}"#,
        )
        .unwrap();
        assert_eq!(eos_token_ids(dir.path(), &tok).unwrap(), vec![3, 7, 9]);
        fs_err::write(dir.path().join("config.json"), r#"{"eos_token_id": 12}"#).unwrap();
        fs_err::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"eos_token": "t0"}"#,
        )
        .unwrap();
        assert_eq!(eos_token_ids(dir.path(), &tok).unwrap(), vec![0, 7, 9, 12]);
    }

    /// An adapter written by the trainer, read back in both formats, gives the same logits as
    /// the in-memory model; the base load has no adapter at all; a mismatched adapter is an
    /// error naming its file.
    #[test]
    fn loads_base_and_adapters_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let mdir = dir.path().join("model");
        let trained = tiny_model(&mdir, 64);
        let be = crate::train::candle::CandleBackend::new(
            trained.clone(),
            lora(),
            Default::default(),
            0,
        )
        .unwrap();
        let tensors = be.lora_tensors().unwrap();
        let out = dir.path().join("run");
        adapter::write_mlx(&out.join("mlx"), &lora(), 2, &tensors).unwrap();
        adapter::write_peft(&out.join("peft"), &lora(), 2, "tiny", &tensors).unwrap();

        let ids: Vec<u32> = vec![1, 2, 3, 4, 5];
        let logits = |m: &Qwen3| {
            let mut c = KvCache::new(m.layers.len());
            rows(&m.forward_cached(&ids, &mut c).unwrap())
        };
        let want = logits(&trained);
        for (path, format) in [
            (out.clone(), AdapterFormat::Mlx),
            (out.join("mlx"), AdapterFormat::Mlx),
            (out.join("peft"), AdapterFormat::Peft),
        ] {
            let (m, a) = load_model(&mdir, Some(&path), &Device::Cpu).unwrap();
            let a = a.unwrap();
            assert_eq!(a.format, format);
            assert_eq!(a.weights_sha256.len(), 64);
            for (x, y) in want.iter().zip(logits(&m)) {
                assert!(max_abs_diff(x, &y) < 1e-5, "{}", path.display());
            }
        }
        let (base, none) = load_model(&mdir, None, &Device::Cpu).unwrap();
        assert!(none.is_none() && base.lora.is_empty());
        assert!(base.layers.iter().all(|l| l.q_proj.lora.is_none()));
        let diff = want
            .iter()
            .zip(logits(&base))
            .map(|(x, y)| max_abs_diff(x, &y))
            .fold(0.0, f32::max);
        assert!(diff > 1e-3, "the adapter must change the logits");

        // Not an adapter folder.
        let err = load_model(&mdir, Some(&mdir), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&mdir.display().to_string()) && err.contains("no adapter"),
            "{err}"
        );

        // An adapter for a wider model: same keys, other shapes.
        let wide = tensors
            .iter()
            .map(|t| LoraTensors {
                key: t.key,
                a: HostTensor::new(vec![2, 48], vec![0.0; 96]),
                b: t.b.clone(),
            })
            .collect::<Vec<_>>();
        let bad = dir.path().join("wide");
        adapter::write_mlx(&bad, &lora(), 2, &wide).unwrap();
        let err = load_model(&mdir, Some(&bad), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("adapters.safetensors")
                && err.contains("[2, 48]")
                && err.contains("different model"),
            "{err}"
        );
        // An adapter for a deeper model: layers this model does not have.
        let deep = dir.path().join("deep");
        let cfg4 = LoraConfig {
            num_layers: Some(4),
            ..lora()
        };
        let shifted: Vec<LoraTensors> = tensors
            .iter()
            .map(|t| LoraTensors {
                key: crate::train::lora::LoraKey {
                    layer: t.key.layer + 2,
                    module: t.key.module,
                },
                ..t.clone()
            })
            .collect();
        adapter::write_mlx(&deep, &cfg4, 4, &shifted).unwrap();
        let err = load_model(&mdir, Some(&deep), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("adapter_config.json") && err.contains("only 2 layers"),
            "{err}"
        );
    }
}
