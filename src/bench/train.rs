//! `vcurate bench train`: tokens/s and peak memory of LoRA training steps on a random Qwen3 or
//! Qwen3.5 of a named shape, the Rust side of the comparisons with PyTorch + PEFT
//! (`benches/train_torch.py`) and mlx-lm's LoRA trainer (`benches/train_mlx.py`): same shapes,
//! token ids, LoRA and optimizer settings (`benches/README-train.md`).
//!
//! The checkpoint is written to a temp folder first; the memory peak is reset after that, so
//! `peak_rss_mb` covers loading and training only.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device};
use serde::Serialize;

use crate::model::candle::model::CausalLm;
use crate::model::candle::weights::write_random_checkpoint;
use crate::model::config::ModelConfig;
use crate::model::qwen3::Qwen3Config;
use crate::model::qwen3_5::Qwen35Config;
use crate::model::weights::BaseConfig;
use crate::model::{DeviceKind, LoraConfig, TargetModule};
use crate::train::backend::{AdamWParams, Backend, Batch};
use crate::train::candle::CandleBackend;
use crate::train::{Result, TrainError};

/// The shapes both sides of the comparison use.
pub fn shape(name: &str) -> Option<ModelConfig> {
    if let Some(c) = qwen3_5_shape(name) {
        return Some(ModelConfig::Qwen35(c));
    }
    qwen3_shape(name).map(ModelConfig::Qwen3)
}

/// Qwen3.5 shapes: `qwen3.5-tiny`, and `qwen3.5-0.8b` (the text config of Qwen/Qwen3.5-0.8B's
/// config.json: 24 layers, hidden 1024, 8 heads of 256 over 2 KV heads, DeltaNet 16 key and 16
/// value heads of 128, vocabulary 248,320, tied embeddings).
fn qwen3_5_shape(name: &str) -> Option<Qwen35Config> {
    let (vocab, hidden, inter, layers, heads, kv, head_dim, lk, lv, ld) = match name {
        "qwen3.5-tiny" => (1024, 64, 128, 4, 4, 2, 16, 2, 4, 16),
        "qwen3.5-0.8b" => (248_320, 1024, 3584, 24, 8, 2, 256, 16, 16, 128),
        _ => return None,
    };
    let text = serde_json::json!({
        "model_type": "qwen3_5_text", "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv, "head_dim": head_dim, "linear_num_key_heads": lk,
        "linear_num_value_heads": lv, "linear_key_head_dim": ld, "linear_value_head_dim": ld,
        "linear_conv_kernel_dim": 4, "full_attention_interval": 4, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": true, "max_position_embeddings": 262_144,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10_000_000.0,
                            "partial_rotary_factor": 0.25}
    });
    Some(serde_json::from_value(text).expect("a valid Qwen3.5 shape"))
}

fn qwen3_shape(name: &str) -> Option<Qwen3Config> {
    let (vocab, hidden, inter, layers, heads, kv, head_dim) = match name {
        "tiny" => (1024, 64, 128, 2, 4, 2, 16),
        // Qwen/Qwen3-0.6B config.json.
        "qwen3-0.6b" => (151_936, 1024, 3072, 28, 16, 8, 128),
        _ => return None,
    };
    Some(Qwen3Config {
        model_type: "qwen3".into(),
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: inter,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: kv,
        head_dim: Some(head_dim),
        rope_theta: 1_000_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: true,
        attention_bias: false,
        max_position_embeddings: Some(40_960),
        rope_scaling: None,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainFigures {
    pub tool: String,
    pub config: String,
    /// The model's config.json (text config for Qwen3.5).
    pub shapes: serde_json::Value,
    /// `None`: dense f32 base; `Some(bits)`: quantized at load (QLoRA, group 64).
    pub qlora_bits: Option<u32>,
    pub batch: usize,
    pub seq: usize,
    pub steps: usize,
    pub warmup: usize,
    pub threads: usize,
    /// `dev` or `release`: the vcurate crate's own code is unoptimised in `dev`.
    pub build: String,
    pub step_seconds: Vec<f64>,
    pub tokens_per_s: f64,
    pub tokens_per_s_median_step: f64,
    pub peak_rss_mb: Option<f64>,
    pub rss_after_load_mb: Option<f64>,
    /// Peak RSS over the training steps alone (the peak is reset after loading, whose f32
    /// staging of a checkpoint being quantized can exceed training's).
    pub peak_train_rss_mb: Option<f64>,
    /// MLX's allocator peak over the training steps (device `mlx`; what `benches/train_mlx.py`
    /// reports as `mlx_peak_memory_mb`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlx_peak_memory_mb: Option<f64>,
    pub base_weight_mb: f64,
    pub trainable_params: usize,
    pub losses: Vec<f64>,
    pub tokens_source: String,
    pub lora: LoraConfig,
    pub optimizer: String,
}

fn rss_mb(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| (b as f64 / 1_048_576.0 * 10.0).round() / 10.0)
}

/// The token ids a training benchmark runs on, and where they came from: a JSON list of ids
/// in `file` (real tokenized text), or 4096 pseudo-random ids (SplitMix64, seed 11).
pub fn token_ids(file: Option<&Path>) -> Result<(Vec<u32>, String)> {
    match file {
        Some(path) => {
            let text = fs_err::read_to_string(path)?;
            let ids: Vec<u32> = serde_json::from_str(&text).map_err(|e| {
                TrainError::Config(format!(
                    "{}: expected a JSON list of token ids: {e}",
                    path.display()
                ))
            })?;
            Ok((ids, path.display().to_string()))
        }
        None => {
            let mut rng = crate::bench::Rng::new(11);
            let ids = (0..4096)
                .map(|_| (rng.next_u64() % 1_000_000) as u32)
                .collect();
            Ok((ids, "pseudo-random (SplitMix64 seed 11)".to_string()))
        }
    }
}

/// What one training benchmark runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainBench {
    /// A shape [`shape`] knows.
    pub config: String,
    pub batch: usize,
    pub seq: usize,
    /// Timed optimizer steps, after `warmup` untimed ones.
    pub steps: usize,
    pub warmup: usize,
    /// Quantize the base at load (QLoRA, group 64); `None`: dense f32.
    pub qlora_bits: Option<u32>,
    /// Adapt only the last N layers.
    pub lora_layers: Option<usize>,
    /// `cpu` (candle) or `mlx` (the MLX backend, builds with `--features mlx`).
    pub device: DeviceKind,
}

/// Run `warmup + steps` optimizer steps on one `batch x seq` batch filled cyclically from
/// `tokens` (taken modulo the vocabulary), loss on every position, and time the last `steps`.
pub fn run(
    work: &Path,
    bench: &TrainBench,
    tokens: &[u32],
    tokens_source: &str,
) -> Result<TrainFigures> {
    let TrainBench {
        ref config,
        batch,
        seq,
        steps,
        warmup,
        qlora_bits,
        lora_layers,
        device,
    } = *bench;
    device.check_mlx()?;
    let cfg = shape(config).ok_or_else(|| {
        TrainError::Config(format!(
            "unknown shape `{config}`: use tiny, qwen3-0.6b, qwen3.5-tiny or qwen3.5-0.8b"
        ))
    })?;
    if tokens.is_empty() || seq < 2 || batch == 0 || steps == 0 {
        return Err(TrainError::Config(
            "need token ids, seq >= 2, batch >= 1 and steps >= 1".into(),
        ));
    }
    let dir = work.join(config);
    eprintln!("writing a random {config} checkpoint to {}", dir.display());
    let (targets, shapes) = match &cfg {
        ModelConfig::Qwen3(c) => {
            write_random_checkpoint(&dir, c, 0, DType::BF16)?;
            (
                TargetModule::ATTENTION_AND_MLP.to_vec(),
                serde_json::to_value(c),
            )
        }
        ModelConfig::Qwen35(c) => {
            crate::model::candle::qwen3_5::write_random_checkpoint(&dir, c, 0, DType::BF16)?;
            (TargetModule::ALL.to_vec(), serde_json::to_value(c))
        }
    };
    let shapes = shapes.expect("configs serialise");
    super::reset_peak_rss();
    let lora = LoraConfig {
        rank: 8,
        alpha: 16.0,
        dropout: 0.0,
        targets,
        num_layers: lora_layers,
    };
    let base = BaseConfig {
        quantize_bits: qlora_bits,
        ..BaseConfig::default()
    };
    let n = batch * seq;
    let ids: Vec<u32> = (0..n)
        .map(|i| tokens[i % tokens.len()] % cfg.vocab_size() as u32)
        .collect();
    let b = Batch {
        batch,
        seq_len: seq,
        tokens: ids,
        loss_mask: vec![1; n],
    };
    let adamw = AdamWParams {
        weight_decay: 0.01,
        ..AdamWParams::default()
    };
    let model = CausalLm::load_with(&dir, &lora, 0, &Device::Cpu, &base)?;
    let base_weight_mb = model.base_nbytes() as f64 / 1_048_576.0;
    let timed = if device.is_mlx() {
        time_steps(&mut mlx_backend(model, &lora, adamw)?, &b, warmup, steps)?
    } else {
        let mut backend = CandleBackend::new(model, lora.clone(), adamw, 0)?;
        time_steps(&mut backend, &b, warmup, steps)?
    };
    let Timed {
        name,
        rss_after_load_mb,
        load_peak,
        trainable_params,
        losses,
        step_seconds,
        mlx_peak_memory_mb,
    } = timed;
    let mlx_peak_memory_mb = mlx_peak_memory_mb.filter(|_| device.is_mlx());
    let total: f64 = step_seconds.iter().sum();
    let mut sorted = step_seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    Ok(TrainFigures {
        tool: format!("vcurate {} ({name})", env!("CARGO_PKG_VERSION")),
        config: config.to_string(),
        shapes,
        qlora_bits,
        batch,
        seq,
        steps,
        warmup,
        threads: if device.is_mlx() {
            // MLX's CPU backend: its matmuls run on OpenBLAS's threads.
            std::env::var("OPENBLAS_NUM_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        } else {
            candle_core::utils::get_num_threads()
        },
        build: if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        }
        .into(),
        tokens_per_s: (n * steps) as f64 / total,
        tokens_per_s_median_step: n as f64 / median,
        step_seconds,
        peak_rss_mb: rss_mb(load_peak.max(super::peak_rss_bytes())),
        rss_after_load_mb,
        peak_train_rss_mb: rss_mb(super::peak_rss_bytes()),
        mlx_peak_memory_mb,
        base_weight_mb: (base_weight_mb * 10.0).round() / 10.0,
        trainable_params,
        losses,
        tokens_source: tokens_source.to_string(),
        lora,
        optimizer: "AdamW lr 1e-4, weight decay 0.01, no clipping".into(),
    })
}

/// What [`time_steps`] measured.
struct Timed {
    name: String,
    rss_after_load_mb: Option<f64>,
    load_peak: Option<u64>,
    trainable_params: usize,
    losses: Vec<f64>,
    step_seconds: Vec<f64>,
    mlx_peak_memory_mb: Option<f64>,
}

/// `warmup + steps` optimizer steps on `b` (AdamW at lr 1e-4, no clipping), the last `steps`
/// timed; the memory peak is reset once the backend is ready.
fn time_steps<B: Backend>(
    backend: &mut B,
    b: &Batch,
    warmup: usize,
    steps: usize,
) -> Result<Timed> {
    let rss_after_load_mb = rss_mb(super::rss_bytes());
    let load_peak = super::peak_rss_bytes();
    super::reset_peak_rss();
    let trainable_params = backend
        .lora_tensors()?
        .iter()
        .map(|t| t.a.data.len() + t.b.data.len())
        .sum();
    let targets = b.target_count() as f64;
    mlx_peak_memory(true)?;
    let (mut losses, mut step_seconds) = (Vec::new(), Vec::new());
    for step in 0..warmup + steps {
        let t0 = Instant::now();
        let nll = backend.accumulate(b, 1.0 / targets)?;
        backend.optimizer_step(1e-4, None)?;
        let dt = t0.elapsed().as_secs_f64();
        losses.push(nll / targets);
        eprintln!(
            "step {}{}: loss {:.4}, {dt:.2} s",
            step + 1,
            if step < warmup { " (warmup)" } else { "" },
            nll / targets
        );
        if step >= warmup {
            step_seconds.push(dt);
        }
    }
    Ok(Timed {
        name: backend.name(),
        rss_after_load_mb,
        load_peak,
        trainable_params,
        losses,
        step_seconds,
        mlx_peak_memory_mb: mlx_peak_memory(false)?,
    })
}

/// MLX's allocator peak in MB (reset first when `reset`); `None` in builds without MLX.
#[cfg(feature = "mlx")]
fn mlx_peak_memory(reset: bool) -> Result<Option<f64>> {
    if reset {
        mlx_rs::memory::reset_peak_memory()?;
    }
    Ok(rss_mb(Some(mlx_rs::memory::peak_memory()? as u64)))
}

#[cfg(not(feature = "mlx"))]
fn mlx_peak_memory(_: bool) -> Result<Option<f64>> {
    Ok(None)
}

/// The candle model moved onto MLX (weights, quantization and adapters carry over exactly).
#[cfg(feature = "mlx")]
fn mlx_backend(
    model: CausalLm,
    lora: &LoraConfig,
    adamw: AdamWParams,
) -> Result<crate::train::mlx::MlxBackend> {
    let model = crate::model::mlx::model::CausalLm::from_candle(model)?;
    crate::train::mlx::MlxBackend::new(model, lora.clone(), adamw, 0)
}

/// Never called: `check_mlx` refuses `mlx` in builds without the `mlx` feature.
#[cfg(not(feature = "mlx"))]
fn mlx_backend(_: CausalLm, _: &LoraConfig, _: AdamWParams) -> Result<CandleBackend> {
    unreachable!("device mlx is refused by check_mlx in builds without the mlx feature")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_bench_trains_and_counts_lora_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let tokens: Vec<u32> = (0..50).map(|i| i * 7 + 3).collect();
        let tiny = TrainBench {
            config: "tiny".into(),
            batch: 1,
            seq: 16,
            steps: 2,
            warmup: 1,
            qlora_bits: Some(4),
            lora_layers: None,
            device: DeviceKind::Cpu,
        };
        let f = run(dir.path(), &tiny, &tokens, "test").unwrap();
        // r(in + out) per module, 7 modules, 2 layers, as PEFT counts them (16,384 for tiny).
        assert_eq!(f.trainable_params, 16_384);
        assert_eq!((f.step_seconds.len(), f.losses.len()), (2, 3));
        assert!(f.losses.iter().all(|l| l.is_finite()) && f.tokens_per_s > 0.0);
        let huge = TrainBench {
            config: "huge".into(),
            ..tiny.clone()
        };
        assert!(run(dir.path(), &huge, &tokens, "test").is_err());
        // Qwen3.5, last 2 layers (DeltaNet: 5 + 3 linears, attention: 4 + 3), QLoRA 4-bit.
        let qwen35 = TrainBench {
            config: "qwen3.5-tiny".into(),
            seq: 80,
            steps: 1,
            warmup: 0,
            lora_layers: Some(2),
            ..tiny.clone()
        };
        let f = run(dir.path(), &qwen35, &tokens, "test").unwrap();
        assert!(f.losses.iter().all(|l| l.is_finite()));
        assert_eq!(f.shapes["model_type"], "qwen3_5_text");
        if !cfg!(feature = "mlx") {
            let mlx = TrainBench {
                device: DeviceKind::Mlx,
                ..tiny
            };
            let msg = run(dir.path(), &mlx, &tokens, "test")
                .unwrap_err()
                .to_string();
            assert!(msg.contains("--features mlx"), "{msg}");
        }
    }

    /// The benchmark on the MLX backend runs the same steps as on candle: the same losses.
    #[cfg(feature = "mlx")]
    #[test]
    fn mlx_backend_bench_takes_candles_steps() {
        let _guard = crate::model::mlx::test_lock();
        let dir = tempfile::tempdir().unwrap();
        let tokens: Vec<u32> = (0..50).map(|i| i * 7 + 3).collect();
        for config in ["tiny", "qwen3.5-tiny"] {
            let on = |device| TrainBench {
                config: config.into(),
                batch: 1,
                seq: 32,
                steps: 2,
                warmup: 1,
                qlora_bits: Some(4),
                lora_layers: None,
                device,
            };
            let candle = run(dir.path(), &on(DeviceKind::Cpu), &tokens, "test").unwrap();
            let mlx = run(dir.path(), &on(DeviceKind::Mlx), &tokens, "test").unwrap();
            assert!(mlx.tool.contains("mlx"), "{}", mlx.tool);
            assert_eq!(mlx.trainable_params, candle.trainable_params);
            for (c, m) in candle.losses.iter().zip(&mlx.losses) {
                assert!((c - m).abs() <= 1e-4 * c, "{config}: candle {c} vs MLX {m}");
            }
        }
    }
}
