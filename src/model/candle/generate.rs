//! Generation on candle: [`CausalLm`] as a [`Decoder`] (its one forward, fed after a [`KvCache`]),
//! and loading a model folder for generation, the base alone or with an mlx-lm or PEFT adapter.
//!
//! Generation must never build an autograd graph that outlives a step (every tensor kept across
//! steps is detached) and never changes the model's weights once loaded.

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::kv_cache::KvCache;
use super::model::CausalLm;
use crate::model::adapter::{self, LoadedAdapter};
use crate::model::config::ModelConfig;
use crate::model::generate::{Decoder, GenerateError, Result};
use crate::model::{LoraConfig, LoraTensors, ModelError};

impl From<candle_core::Error> for GenerateError {
    fn from(e: candle_core::Error) -> Self {
        GenerateError::Model(ModelError::Candle(e))
    }
}

impl Decoder for CausalLm {
    type Cache = KvCache;

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    fn feed(&self, ids: &[u32], cache: &mut KvCache) -> Result<Vec<f32>> {
        let hidden = self.forward_hidden_cached(ids, cache)?;
        // Only the last position's logits are needed (a real vocabulary is ~150k wide).
        Ok(self
            .logits(&hidden.narrow(0, ids.len() - 1, 1)?)?
            .squeeze(0)?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?)
    }

    fn cached_tokens(cache: &KvCache) -> usize {
        cache.len()
    }

    fn vocab_size(&self) -> usize {
        self.config.vocab_size()
    }

    fn context_limit(&self) -> Option<usize> {
        self.config.max_position_embeddings()
    }
}

/// Loads a Hugging Face model folder for generation, with no adapter or with the adapter found
/// under `adapter_dir` (see [`adapter::resolve`]). An adapter made for another model shape is an
/// error naming its file.
pub fn load_model(
    model_dir: &Path,
    adapter_dir: Option<&Path>,
    device: &Device,
) -> Result<(CausalLm, Option<LoadedAdapter>)> {
    let Some(adapter_dir) = adapter_dir else {
        let model = CausalLm::load(model_dir, &LoraConfig::default(), 0, device)?.without_lora();
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
    let model_cfg = ModelConfig::from_dir(model_dir)?;
    let expected = model_cfg
        .lora_keys(&lora)
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
                model_cfg.num_hidden_layers()
            ),
        ));
    }
    lora.dropout = 0.0;
    let model = CausalLm::load(model_dir, &lora, 0, device)?;
    set_lora(&model, &tensors).map_err(|m| mismatch(&weights, m))?;
    let weights_sha256 = crate::core::sha256_hex(&fs_err::read(&weights).map_err(ModelError::Io)?);
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
fn set_lora(model: &CausalLm, tensors: &[LoraTensors]) -> Result<(), String> {
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
    use crate::core::hash::SplitMix64;
    use crate::model::adapter::AdapterFormat;
    use crate::model::candle::model::ForwardCtx;
    use crate::model::candle::ops;
    use crate::model::candle::weights::write_random_checkpoint;
    use crate::model::config::Architecture;
    use crate::model::generate::{argmax, eos_token_ids};
    use crate::model::generate::{Generator, SamplingParams, StopReason};
    use crate::model::{HostTensor, LoraKey, TargetModule};
    use tokenizers::Tokenizer;

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
    fn tiny_model(dir: &Path, vocab: usize) -> CausalLm {
        let cfg = crate::model::qwen3::Qwen3Config {
            vocab_size: vocab,
            max_position_embeddings: None,
            ..crate::model::qwen3::tiny_config(false)
        };
        write_random_checkpoint(dir, &cfg, 11, DType::F32).unwrap();
        let model = CausalLm::load(dir, &lora(), 5, &Device::Cpu).unwrap();
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

    fn generator(dir: &Path, vocab: usize) -> Generator<CausalLm> {
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
        g.model.config.set_max_position_embeddings(Some(6));
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
        let tensors = trained.lora_tensors().unwrap();
        let out = dir.path().join("run");
        adapter::write_mlx(&out.join("mlx"), Architecture::Qwen3, &lora(), 2, &tensors).unwrap();
        adapter::write_peft(
            &out.join("peft"),
            Architecture::Qwen3,
            &lora(),
            2,
            "tiny",
            &tensors,
        )
        .unwrap();

        let ids: Vec<u32> = vec![1, 2, 3, 4, 5];
        let logits = |m: &CausalLm| {
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
        assert!(base
            .layers
            .iter()
            .all(|l| l.linears().iter().all(|x| x.lora.is_none())));
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
        adapter::write_mlx(&bad, Architecture::Qwen3, &lora(), 2, &wide).unwrap();
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
                key: LoraKey {
                    layer: t.key.layer + 2,
                    module: t.key.module,
                },
                ..t.clone()
            })
            .collect();
        adapter::write_mlx(&deep, Architecture::Qwen3, &cfg4, 4, &shifted).unwrap();
        let err = load_model(&mdir, Some(&deep), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("adapter_config.json") && err.contains("only 2 layers"),
            "{err}"
        );
    }
}
