//! Text generation, backend-neutral: the loop that feeds the prompt once and then one token per
//! step through a [`Decoder`] (a model on some tensor backend with its KV cache), sampling
//! (greedy, or temperature + top-p with a seed), and the stop rules (EOS token ids, stop
//! sequences, a token budget, the context window).
//!
//! Generation never changes the model's weights. Sampling draws only from the project's seeded
//! [`SplitMix64`], so a (seed, prompt, model) triple always gives the same text. Must not use a
//! tensor library: backends implement [`Decoder`] (candle: [`crate::model::candle::generate`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::core::hash::SplitMix64;
use crate::model::ModelError;

/// Everything that can go wrong while loading a model for generation or generating.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Model(#[from] ModelError),
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
        let text = fs_err::read_to_string(&path).map_err(ModelError::Io)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ModelError::Json {
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
        let text = fs_err::read_to_string(&tc_path).map_err(ModelError::Io)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ModelError::Json {
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
pub struct Prefilled<C> {
    pub cache: C,
    pub last_logits: Vec<f32>,
    pub prompt_tokens: usize,
}

/// What the generation loop needs from a model on a tensor backend: feed token ids after the
/// cached ones and read the logits of the last.
pub trait Decoder {
    /// Keys and values of the tokens fed so far; a clone is a deep copy, so one prefilled prompt
    /// can seed several samples.
    type Cache: Clone + std::fmt::Debug;

    /// An empty cache for this model.
    fn new_cache(&self) -> Self::Cache;

    /// Feeds `ids` (at least one) at the positions after the cached tokens, appends their keys
    /// and values to `cache`, and returns the logits (f32, one per vocabulary entry) of the
    /// last of them.
    fn feed(&self, ids: &[u32], cache: &mut Self::Cache) -> Result<Vec<f32>>;

    /// Tokens in `cache`: the absolute position of the next token fed.
    fn cached_tokens(cache: &Self::Cache) -> usize;

    fn vocab_size(&self) -> usize;

    /// The context window (`max_position_embeddings`), when the model declares one.
    fn context_limit(&self) -> Option<usize>;
}

/// A model, its tokenizer and its EOS ids, ready to generate.
pub struct Generator<M> {
    pub model: M,
    pub tokenizer: Tokenizer,
    pub eos_token_ids: Vec<u32>,
}

impl<M: Decoder> Generator<M> {
    pub fn new(model: M, tokenizer: Tokenizer, eos_token_ids: Vec<u32>) -> Self {
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
        self.model.context_limit()
    }

    /// Feeds the whole prompt once.
    pub fn prefill(&self, prompt: &[u32]) -> Result<Prefilled<M::Cache>> {
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
        let vocab = self.model.vocab_size();
        if let Some(&bad) = prompt.iter().find(|&&t| t as usize >= vocab) {
            return Err(GenerateError::Tokenizer(format!(
                "token id {bad} is outside the model's vocabulary of {vocab}; tokenizer and model disagree"
            )));
        }
        let mut cache = self.model.new_cache();
        let last = self.model.feed(prompt, &mut cache)?;
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
        prefilled: Prefilled<M::Cache>,
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
            if self
                .context_limit()
                .is_some_and(|l| M::cached_tokens(&cache) + 1 >= l)
            {
                return Ok(Generation {
                    text,
                    token_ids: ids,
                    stop_reason: StopReason::ContextLimit,
                });
            }
            last_logits = self.model.feed(&[next], &mut cache)?;
        }
    }
}

/// Byte offset of the earliest stop sequence in `text`.
fn earliest_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops.iter().filter_map(|s| text.find(s.as_str())).min()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
