//! The MLX backend against the candle backend on the same inputs: MLX's ops and autograd first,
//! then every architecture's forward, loss gradient, quantized base and greedy generation on
//! tiny random models (with LoRA whose B matrices are non-zero, so every adapter shows).
//!
//! Tolerances: logits within 1e-4 (relative to the largest logit for quantized bases), LoRA
//! gradients within 1e-3 of the largest gradient entry. Measured: Qwen3 ~2e-6 (logits) and
//! ~2e-6 (gradients); Qwen3.5 ~2e-5 and ~4e-5, which is candle's own f32 rounding: on the same
//! model candle in f32 is 1.9e-5 from candle in f64, MLX in f32 6e-6.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use mlx_rs::Array;

use super::model::CausalLm;
use super::{from_host, to_host};
use crate::core::hash::SplitMix64;
use crate::model::candle::model::{CausalLm as CandleLm, ForwardCtx};
use crate::model::config::ModelConfig;
use crate::model::generate::{argmax, Decoder};
use crate::model::quant::QuantMatrix;
use crate::model::weights::BaseConfig;
use crate::model::{candle, HostTensor, LoraConfig, LoraTensors, TargetModule};

use super::test_lock as lock;

fn random(shape: &[usize], seed: u64) -> HostTensor {
    let mut rng = SplitMix64::new(seed);
    let n = shape.iter().product();
    HostTensor::new(
        shape.to_vec(),
        (0..n).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect(),
    )
}

fn max_abs_diff(a: &HostTensor, b: &HostTensor) -> f32 {
    assert_eq!(a.shape, b.shape);
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn max_abs(a: &HostTensor) -> f32 {
    a.data.iter().map(|x| x.abs()).fold(0.0, f32::max)
}

fn candle_tensor(h: &HostTensor) -> Tensor {
    Tensor::from_vec(h.data.clone(), h.shape.as_slice(), &Device::Cpu).unwrap()
}

/// LoRA on every linear the architecture has.
fn lora_all(qwen35: bool, dropout: f64) -> LoraConfig {
    LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout,
        targets: if qwen35 {
            TargetModule::ALL.to_vec()
        } else {
            TargetModule::ATTENTION_AND_MLP.to_vec()
        },
        num_layers: None,
    }
}

/// A tiny random checkpoint of `arch` in `dir` (Qwen3.5 in the Hugging Face layout).
fn write_tiny(dir: &Path, qwen35: bool, tied: bool) {
    if qwen35 {
        let c = crate::model::qwen3_5::tiny_config(tied);
        candle::qwen3_5::write_random_checkpoint(dir, &c, 11, DType::F32).unwrap();
    } else {
        let c = crate::model::qwen3::tiny_config(tied);
        candle::weights::write_random_checkpoint(dir, &c, 11, DType::F32).unwrap();
    }
}

/// Both backends' models of the checkpoint in `dir`, loaded the same way, with the same
/// non-zero LoRA B matrices.
fn both(dir: &Path, lora: &LoraConfig, base: &BaseConfig) -> (CandleLm, CausalLm) {
    let candle_model = CandleLm::load_with(dir, lora, 5, &Device::Cpu, base).unwrap();
    let mut mlx_model = CausalLm::load_with(dir, lora, 5, base).unwrap();
    // Same seed, same initial adapters.
    let initial = candle_model.lora_tensors().unwrap();
    assert_eq!(mlx_model.lora_tensors().unwrap(), initial);
    let trained: Vec<LoraTensors> = initial
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut b = random(&t.b.shape, 100 + i as u64);
            b.data.iter_mut().for_each(|v| *v *= 0.2);
            LoraTensors { b, ..t.clone() }
        })
        .collect();
    for ((key, layer), t) in candle_model.lora.iter().zip(&trained) {
        assert_eq!(*key, t.key);
        layer
            .b
            .set(&candle::from_host(&t.b, layer.b.as_tensor()).unwrap())
            .unwrap();
    }
    mlx_model.set_lora_tensors(&trained).unwrap();
    (candle_model, mlx_model)
}

fn tokens(batch: usize, seq: usize) -> Vec<u32> {
    (0..batch * seq).map(|i| (i * 7 % 61 + 1) as u32).collect()
}

fn candle_logits(m: &CandleLm, tokens: &[u32], rows: (usize, usize)) -> HostTensor {
    let input = Tensor::from_vec(tokens.to_vec(), rows, &Device::Cpu).unwrap();
    candle::to_host(&m.forward(&input, &mut ForwardCtx { rng: None }).unwrap()).unwrap()
}

/// `loss(W) = sum((X W^T)^2) / 2 + sum(silu(X W^T))`: a matmul, elementwise ops and a
/// reduction; MLX's value and gradient (value_and_grad) against candle's backward.
#[test]
fn mlx_matmul_and_value_and_grad_match_candle() {
    let _guard = lock();
    let x = random(&[5, 7], 1);
    let w = random(&[3, 7], 2);

    let y_mlx = to_host(
        &from_host(&x)
            .unwrap()
            .matmul(from_host(&w).unwrap().t())
            .unwrap(),
    )
    .unwrap();
    let y_candle = candle::to_host(
        &candle_tensor(&x)
            .matmul(&candle_tensor(&w).t().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        max_abs_diff(&y_mlx, &y_candle) < 1e-5,
        "{y_mlx:?} vs {y_candle:?}"
    );

    let xa = from_host(&x).unwrap();
    let loss_mlx = |args: &[Array]| -> mlx_rs::error::Result<Vec<Array>> {
        let y = xa.matmul(args[0].t())?;
        let quad = y.square()?.sum(None)?.multiply(Array::from_f32(0.5))?;
        let act = mlx_rs::nn::silu(&y)?.sum(None)?;
        Ok(vec![quad.add(act)?])
    };
    let (value, grads) =
        mlx_rs::transforms::value_and_grad(loss_mlx)(&[from_host(&w).unwrap()]).unwrap();
    let value_mlx = to_host(&value[0]).unwrap().data[0];
    let grad_mlx = to_host(&grads[0]).unwrap();

    let wv = Var::from_tensor(&candle_tensor(&w)).unwrap();
    let y = candle_tensor(&x)
        .matmul(&wv.as_tensor().t().unwrap())
        .unwrap();
    let loss = ((y.sqr().unwrap().sum_all().unwrap() * 0.5).unwrap()
        + y.silu().unwrap().sum_all().unwrap())
    .unwrap();
    let grad_candle =
        candle::to_host(loss.backward().unwrap().get(wv.as_tensor()).unwrap()).unwrap();
    let value_candle = loss.to_scalar::<f32>().unwrap();

    assert!(
        (value_mlx - value_candle).abs() < 1e-4 * value_candle.abs().max(1.0),
        "loss: MLX {value_mlx} vs candle {value_candle}"
    );
    assert!(
        max_abs_diff(&grad_mlx, &grad_candle) < 1e-4,
        "dloss/dW: MLX {grad_mlx:?} vs candle {grad_candle:?}"
    );
    assert!(
        grad_mlx.sum_sq() > 1e-3,
        "the gradient is not trivially zero"
    );
}

/// Tiny random Qwen3 and Qwen3.5 models (untied and tied embeddings) with LoRA on every linear
/// they have: MLX's logits equal candle's within f32 rounding, and the adapters matter.
#[test]
fn logits_match_candle_for_every_architecture_with_lora() {
    let _guard = lock();
    for qwen35 in [false, true] {
        for tied in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_tiny(dir.path(), qwen35, tied);
            let (candle_model, mlx_model) =
                both(dir.path(), &lora_all(qwen35, 0.0), &BaseConfig::default());
            let rows = (2, 9);
            let toks = tokens(rows.0, rows.1);
            let want = candle_logits(&candle_model, &toks, rows);
            let got = to_host(&mlx_model.forward(&toks, rows).unwrap()).unwrap();
            assert_eq!(got.shape, vec![2, 9, 64]);
            let diff = max_abs_diff(&got, &want);
            eprintln!("qwen35={qwen35} tied={tied}: max logit diff {diff:e}");
            assert!(
                diff < 1e-4,
                "qwen35={qwen35} tied={tied}: logits differ by {diff}"
            );

            // And the adapters matter: the initial (B = 0) adapters give other logits.
            let base = CausalLm::load(dir.path(), &lora_all(qwen35, 0.0), 5).unwrap();
            let plain = to_host(&base.forward(&toks, rows).unwrap()).unwrap();
            assert!(
                max_abs_diff(&plain, &got) > 1e-3,
                "qwen35={qwen35} tied={tied}: LoRA had no effect"
            );
        }
    }
}

/// LoRA dropout draws the same masks from the same seed as candle's forward (so a training run
/// is the same on both backends), and changes the logits.
#[test]
fn dropout_draws_match_candle_for_the_same_seed() {
    let _guard = lock();
    for qwen35 in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), qwen35, false);
        let (candle_model, mlx_model) =
            both(dir.path(), &lora_all(qwen35, 0.3), &BaseConfig::default());
        let rows = (2, 6);
        let toks = tokens(rows.0, rows.1);
        let input = Tensor::from_vec(toks.clone(), rows, &Device::Cpu).unwrap();
        let mut rng = SplitMix64::new(42);
        let want = candle::to_host(
            &candle_model
                .forward(
                    &input,
                    &mut ForwardCtx {
                        rng: Some(&mut rng),
                    },
                )
                .unwrap(),
        )
        .unwrap();
        let mut rng = SplitMix64::new(42);
        let params = mlx_model.lora_params();
        let got = to_host(
            &mlx_model
                .forward_with(&params, &toks, rows, Some(&mut rng))
                .unwrap(),
        )
        .unwrap();
        let diff = max_abs_diff(&got, &want);
        eprintln!("qwen35={qwen35}: max logit diff with dropout {diff:e}");
        assert!(diff < 1e-4, "qwen35={qwen35}: logits differ by {diff}");
        let plain = to_host(&mlx_model.forward(&toks, rows).unwrap()).unwrap();
        assert!(max_abs_diff(&plain, &got) > 1e-3, "dropout had no effect");
    }
}

/// The summed NLL and its gradient with respect to every LoRA array (MLX `value_and_grad`
/// against candle's backward) on one batch with padding masked out, without dropout and with
/// dropout drawn from the same seed on both backends (a training step's loss).
#[test]
fn nll_and_lora_gradients_match_candle_for_every_architecture() {
    let _guard = lock();
    for qwen35 in [false, true] {
        for dropout in [0.0, 0.3] {
            let dir = tempfile::tempdir().unwrap();
            write_tiny(dir.path(), qwen35, false);
            let lora = lora_all(qwen35, dropout);
            let (candle_model, mlx_model) = both(dir.path(), &lora, &BaseConfig::default());
            let (batch, seq) = (2, 8);
            let toks = tokens(batch, seq);
            // Row 0: prompt of 3 then targets; row 1: the last 2 positions are padding.
            let mask: Vec<u8> = (0..batch * seq)
                .map(|i| u8::from(if i < seq { i % seq >= 3 } else { i % seq < 6 }))
                .collect();
            let seed = |p: f64| (p > 0.0).then(|| SplitMix64::new(9));

            let mut rng = seed(dropout);
            let mut ctx = ForwardCtx { rng: rng.as_mut() };
            let (loss, count) = candle_model
                .nll_sum(&toks, &mask, batch, seq, &mut ctx)
                .unwrap();
            let grads = loss.backward().unwrap();
            let want_loss = loss.to_scalar::<f32>().unwrap();
            assert_eq!(count, 5 + 5);

            let params = mlx_model.lora_params();
            let mut rng = seed(dropout);
            let (value, mlx_grads) = mlx_model
                .nll_value_and_grad(&params, &toks, &mask, (batch, seq), rng.as_mut())
                .unwrap();
            let got_loss = to_host(&value).unwrap().data[0];
            let case = format!("qwen35={qwen35} dropout={dropout}");
            assert!(
                (got_loss - want_loss).abs() < 1e-4 * want_loss.abs(),
                "{case}: loss MLX {got_loss} vs candle {want_loss}"
            );
            let plain = mlx_model
                .nll_sum(&params, &toks, &mask, (batch, seq))
                .unwrap();
            let plain = to_host(&plain).unwrap().data[0];
            if dropout == 0.0 {
                assert!((plain - got_loss).abs() < 1e-5, "{case}");
            } else {
                assert!(
                    (plain - got_loss).abs() > 1e-3,
                    "{case}: dropout had no effect"
                );
            }

            assert_eq!(mlx_grads.len(), 2 * candle_model.lora.len());
            let mut worst = 0f32;
            for (i, (key, layer)) in candle_model.lora.iter().enumerate() {
                for (j, var) in [&layer.a, &layer.b].into_iter().enumerate() {
                    let want = candle::to_host(grads.get(var.as_tensor()).unwrap()).unwrap();
                    let got = to_host(&mlx_grads[2 * i + j]).unwrap();
                    let scale = max_abs(&want).max(1e-3);
                    let rel = max_abs_diff(&got, &want) / scale;
                    worst = worst.max(rel);
                    assert!(
                        rel < 1e-3,
                        "{case} {}[{j}]: gradient differs by {rel} of its size {scale}",
                        key.module_name()
                    );
                }
            }
            eprintln!("{case}: worst relative LoRA gradient difference {worst:e}");
            // Every adapter gets a gradient (B is non-zero, so A's is too).
            assert!(mlx_grads.iter().all(|g| to_host(g).unwrap().sum_sq() > 0.0));
        }
    }
}

/// The host packing of [`QuantMatrix`] is MLX's: a matrix packed by MLX's own `quantize`
/// dequantizes to the same values on the host and in MLX, for 4 and 8 bits.
#[test]
fn host_quant_layout_is_mlx_quantize_layout() {
    let _guard = lock();
    let (rows, cols) = (6, 128);
    let w = random(&[rows, cols], 3);
    for (bits, group) in [(4, 64), (8, 32), (4, 32)] {
        let (packed, scales, biases) =
            mlx_rs::ops::quantize(from_host(&w).unwrap(), group, bits).unwrap();
        let mlx_dense =
            to_host(&mlx_rs::ops::dequantize(&packed, &scales, &biases, group, bits).unwrap())
                .unwrap();
        packed.eval().unwrap();
        let host = QuantMatrix::new(
            packed.as_slice::<u32>().to_vec(),
            to_host(&scales).unwrap().data,
            to_host(&biases).unwrap().data,
            rows,
            cols,
            bits as u32,
            group as usize,
        )
        .unwrap();
        let host_dense = HostTensor::new(vec![rows, cols], host.dequantize());
        let diff = max_abs_diff(&host_dense, &mlx_dense);
        assert!(diff < 1e-6, "bits {bits} group {group}: {diff}");
        // And it is a quantization of w (within one step of its range), not something else.
        let step = 2.0 / ((1u32 << bits) - 1) as f32;
        let err = max_abs_diff(&host_dense, &w);
        assert!(err <= step, "bits {bits}: {err} > one step {step}");
    }
}

/// A base quantized at load (4 and 8 bits, QLoRA): MLX's `quantized_matmul` and quantized
/// embedding give candle's logits, and the weights really are packed.
#[test]
fn quantized_base_logits_match_candle() {
    let _guard = lock();
    for qwen35 in [false, true] {
        for bits in [4, 8] {
            let dir = tempfile::tempdir().unwrap();
            write_tiny(dir.path(), qwen35, false);
            let base = BaseConfig {
                quantize_bits: Some(bits),
                quantize_group_size: 32,
                ..BaseConfig::default()
            };
            let (candle_model, mlx_model) = both(dir.path(), &lora_all(qwen35, 0.0), &base);
            assert!(mlx_model.embed_tokens.is_quantized());
            assert!(mlx_model.layers[0].mlp.down_proj.weight.is_quantized());
            let rows = (2, 7);
            let toks = tokens(rows.0, rows.1);
            let want = candle_logits(&candle_model, &toks, rows);
            let got = to_host(&mlx_model.forward(&toks, rows).unwrap()).unwrap();
            let diff = max_abs_diff(&got, &want);
            eprintln!(
                "qwen35={qwen35} bits={bits}: max |logit| {}, max diff {diff:e}",
                max_abs(&want)
            );
            assert!(
                diff < 1e-4 * max_abs(&want).max(1.0),
                "qwen35={qwen35} bits={bits}: logits differ by {diff}"
            );
            // Gradients flow through quantized_matmul to the adapters below it.
            let params = mlx_model.lora_params();
            let mask = vec![1u8; toks.len()];
            let (_, grads) = mlx_model
                .nll_value_and_grad(&params, &toks, &mask, rows, None)
                .unwrap();
            assert!(to_host(&grads[0]).unwrap().sum_sq() > 0.0);
        }
    }
}

/// Generation: the cached forward (prefill, one token at a time, a second prefill) gives the
/// full forward's logits, and greedy decoding picks candle's tokens.
#[test]
fn cached_decoding_matches_the_full_forward_and_candle_greedy_tokens() {
    let _guard = lock();
    for qwen35 in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), qwen35, true);
        let (candle_model, mlx_model) =
            both(dir.path(), &lora_all(qwen35, 0.0), &BaseConfig::default());
        let ids: Vec<u32> = (0..20).map(|i| (i * 37 + 11) % 64).collect();
        let full = to_host(&mlx_model.forward(&ids, (1, ids.len())).unwrap()).unwrap();
        let mut cache = mlx_model.new_cache();
        let mut rows = vec![
            to_host(&mlx_model.forward_cached(&ids[..12], &mut cache).unwrap())
                .unwrap()
                .data,
        ];
        for &t in &ids[12..16] {
            rows.push(
                to_host(&mlx_model.forward_cached(&[t], &mut cache).unwrap())
                    .unwrap()
                    .data,
            );
        }
        rows.push(
            to_host(&mlx_model.forward_cached(&ids[16..], &mut cache).unwrap())
                .unwrap()
                .data,
        );
        assert_eq!(CausalLm::cached_tokens(&cache), ids.len());
        let inc = HostTensor::new(full.shape.clone(), rows.concat());
        let diff = max_abs_diff(&full, &inc);
        eprintln!("qwen35={qwen35}: cached vs full logits {diff:e}");
        assert!(
            diff < 1e-4,
            "qwen35={qwen35}: cached logits differ by {diff}"
        );

        let greedy = |feed: &mut dyn FnMut(&[u32]) -> Vec<f32>| -> Vec<u32> {
            let mut out = Vec::new();
            let mut logits = feed(&ids[..5]);
            for _ in 0..12 {
                let t = argmax(&logits).unwrap();
                out.push(t);
                logits = feed(&[t]);
            }
            out
        };
        let mut c_cache = candle_model.new_cache();
        let want = greedy(&mut |x| candle_model.feed(x, &mut c_cache).unwrap());
        let mut m_cache = mlx_model.new_cache();
        let got = greedy(&mut |x| mlx_model.feed(x, &mut m_cache).unwrap());
        assert_eq!(got, want, "qwen35={qwen35}");
        assert!(
            want.iter().collect::<std::collections::HashSet<_>>().len() > 1,
            "a constant sequence would prove little: {want:?}"
        );
    }
}

/// The host-tensor constructor builds the model candle's `from_tensors` builds, and LoRA
/// parameters of the wrong shape or count are errors that say which.
#[test]
fn from_host_and_lora_parameter_checks() {
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), false, false);
    let config = ModelConfig::from_dir(dir.path()).unwrap();
    let host: HashMap<String, HostTensor> =
        candle::weights::load_checkpoint_tensors(dir.path(), DType::F32, &Device::Cpu)
            .unwrap()
            .into_iter()
            .map(|(k, t)| (k, candle::to_host(&t).unwrap()))
            .collect();
    let lora = lora_all(false, 0.0);
    let mut model = CausalLm::from_host(config, host, &lora, 5, dir.path()).unwrap();
    let loaded = CausalLm::load(dir.path(), &lora, 5).unwrap();
    let toks = tokens(1, 5);
    let a = to_host(&model.forward(&toks, (1, 5)).unwrap()).unwrap();
    let b = to_host(&loaded.forward(&toks, (1, 5)).unwrap()).unwrap();
    assert_eq!(a, b);
    assert_eq!(model.lora_keys().len(), 2 * 7);

    let mut params = model.lora_params();
    params.pop();
    let err = model.set_lora_params(params).unwrap_err().to_string();
    assert!(err.contains("27 LoRA arrays"), "{err}");
    let mut params = model.lora_params();
    params[1] = Array::zeros::<f32>(&[3, 3]).unwrap();
    let err = model.set_lora_params(params).unwrap_err().to_string();
    assert!(err.contains("lora_b"), "{err}");
    let err = model
        .forward_with(&[], &toks, (1, 5), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("got 0 LoRA arrays"), "{err}");
}

/// Rewrite the dense checkpoint in `src` as mlx-lm saves a quantized model into `dst`: every
/// linear and embedding matrix packed by MLX's own `quantize` (`X.weight` uint32, `X.scales`
/// and `X.biases` in bf16, `quantization` in config.json), and for Qwen3.5 mlx-lm's layout
/// (`language_model.model.*`, norms stored as `1 + w`, `conv1d.weight` `[C, K, 1]`).
fn write_mlx_quantized(src: &Path, dst: &Path, qwen35: bool, bits: i32, group: i32) {
    let raw = candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu).unwrap();
    let mut out = HashMap::new();
    for (k, t) in raw {
        let (name, t) = if qwen35 {
            candle::qwen3_5::to_mlx_layout(&k, &t)
        } else {
            (k, t)
        };
        let Some(module) = name.strip_suffix(".weight") else {
            out.insert(name, t);
            continue;
        };
        if t.rank() != 2 || t.dims()[1] % group as usize != 0 {
            out.insert(name, t);
            continue;
        }
        let (packed, scales, biases) = mlx_rs::ops::quantize(
            from_host(&candle::to_host(&t).unwrap()).unwrap(),
            group,
            bits,
        )
        .unwrap();
        packed.eval().unwrap();
        let shape: Vec<usize> = packed.shape().iter().map(|&d| d as usize).collect();
        let packed = Tensor::from_vec(packed.as_slice::<u32>().to_vec(), shape, &Device::Cpu);
        out.insert(name.clone(), packed.unwrap());
        for (suffix, a) in [("scales", &scales), ("biases", &biases)] {
            let t = candle_tensor(&to_host(a).unwrap()).to_dtype(DType::BF16);
            out.insert(format!("{module}.{suffix}"), t.unwrap());
        }
    }
    fs_err::create_dir_all(dst).unwrap();
    candle_core::safetensors::save(&out, dst.join("model.safetensors")).unwrap();
    candle::weights::write_quantized_config(src, dst, bits as u32, group as usize);
}

/// A checkpoint quantized by MLX itself, as mlx-lm publishes them (and for Qwen3.5 in mlx-lm's
/// layout): loaded packed, the MLX model gives candle's logits and those of its own dequantized
/// twin.
#[test]
fn mlx_quantized_checkpoints_load_packed_and_match_candle() {
    let _guard = lock();
    for qwen35 in [false, true] {
        for bits in [4, 8] {
            let tmp = tempfile::tempdir().unwrap();
            let (dense, quant) = (tmp.path().join("dense"), tmp.path().join("quant"));
            write_tiny(&dense, qwen35, false);
            write_mlx_quantized(&dense, &quant, qwen35, bits, 32);
            let (candle_model, mlx_model) =
                both(&quant, &lora_all(qwen35, 0.0), &BaseConfig::default());
            assert!(mlx_model.embed_tokens.is_quantized());
            assert!(mlx_model.lm_head.as_ref().unwrap().is_quantized());
            let rows = (2, 7);
            let toks = tokens(rows.0, rows.1);
            let want = candle_logits(&candle_model, &toks, rows);
            let got = to_host(&mlx_model.forward(&toks, rows).unwrap()).unwrap();
            let diff = max_abs_diff(&got, &want);
            eprintln!("qwen35={qwen35} bits={bits}: MLX-quantized checkpoint, max diff {diff:e}");
            assert!(
                diff < 1e-4 * max_abs(&want).max(1.0),
                "qwen35={qwen35} bits={bits}: logits differ by {diff}"
            );
            // The packed path (quantized_matmul, quantized embedding) computes what the
            // dequantized weights compute densely.
            let twin = BaseConfig {
                dequantize: true,
                ..BaseConfig::default()
            };
            let (_, dense_twin) = both(&quant, &lora_all(qwen35, 0.0), &twin);
            assert!(!dense_twin.embed_tokens.is_quantized());
            let twin_logits = to_host(&dense_twin.forward(&toks, rows).unwrap()).unwrap();
            let off = max_abs_diff(&got, &twin_logits);
            assert!(
                off < 1e-4 * max_abs(&want).max(1.0),
                "qwen35={qwen35} bits={bits}: packed and dequantized differ by {off}"
            );
        }
    }
}

/// The delta rule alone: MLX's recurrent and chunked forms against candle's chunked form (what
/// candle trains with) on the same random inputs, from a given state, across chunk sizes; and
/// the chunked form's gradients (MLX autograd through the forward substitution) equal the
/// recurrent form's.
#[test]
fn delta_rule_forms_match_candle_and_each_others_gradients() {
    use super::qwen3_5::{delta_rule_chunked, delta_rule_recurrent};
    let _guard = lock();
    let (n, t, dk, dv) = (3, 21, 4, 5);
    // MLX takes [1, t, heads, d]; candle takes [heads, t, d].
    let mlx_in = |h: &HostTensor| {
        let a = from_host(h).unwrap().swap_axes(0, 1).unwrap();
        a.expand_dims(0).unwrap()
    };
    let l2 = |h: HostTensor| {
        let t = candle_tensor(&h);
        candle::to_host(&candle::ops::l2_norm(&t, 1e-6).unwrap()).unwrap()
    };
    let (q, k) = (l2(random(&[n, t, dk], 1)), l2(random(&[n, t, dk], 2)));
    let v = random(&[n, t, dv], 3);
    let mut log_g = random(&[n, t], 4);
    log_g
        .data
        .iter_mut()
        .for_each(|x| *x = -0.3 * (x.abs() + 0.1));
    let mut beta = random(&[n, t], 5);
    beta.data.iter_mut().for_each(|x| *x = 0.5 + 0.4 * *x);
    let s0 = random(&[n, dk, dv], 6);
    let (want_y, want_s) = candle::qwen3_5::delta_rule_chunked(
        &candle_tensor(&q),
        &candle_tensor(&k),
        &candle_tensor(&v),
        &candle_tensor(&log_g),
        &candle_tensor(&beta),
        Some(&candle_tensor(&s0)),
        8,
    )
    .unwrap();
    let (want_y, want_s) = (
        candle::to_host(&want_y).unwrap(),
        candle::to_host(&want_s).unwrap(),
    );
    let gates = |h: &HostTensor| from_host(h).unwrap().t().expand_dims(0).unwrap();
    let inputs = [
        mlx_in(&q),
        mlx_in(&k),
        mlx_in(&v),
        gates(&log_g),
        gates(&beta),
        from_host(&s0).unwrap().expand_dims(0).unwrap(),
    ];
    // chunk 0 is the recurrent form.
    let run = |x: &[Array], chunk: usize| {
        let state = x[5].clone();
        if chunk == 0 {
            delta_rule_recurrent(&x[0], &x[1], &x[2], &x[3], &x[4], state)
        } else {
            delta_rule_chunked(&x[0], &x[1], &x[2], &x[3], &x[4], state, chunk)
        }
    };
    for chunk in [0, 1, 4, 8, 21, 64] {
        let (y, s) = run(&inputs, chunk).unwrap();
        // Back to candle's [heads, t, dv].
        let y = to_host(&y.squeeze_axes(&[0]).unwrap().swap_axes(0, 1).unwrap()).unwrap();
        let s = to_host(&s.squeeze_axes(&[0]).unwrap()).unwrap();
        let (dy, ds) = (max_abs_diff(&y, &want_y), max_abs_diff(&s, &want_s));
        eprintln!("delta rule, chunk {chunk}: outputs differ by {dy:e}, states by {ds:e}");
        assert!(
            dy < 1e-5 && ds < 1e-5,
            "chunk {chunk}: outputs {dy}, states {ds}"
        );
        assert!(max_abs(&y) > 0.1, "a trivial output would prove nothing");
    }

    // Gradients of a weighted sum of outputs and final state, with respect to every input.
    let wy = from_host(&random(&[1, t, n, dv], 7)).unwrap();
    let ws = from_host(&random(&[1, n, dk, dv], 8)).unwrap();
    let grads = |chunk: usize| {
        let f = |x: &[Array]| -> mlx_rs::error::Result<Vec<Array>> {
            let (y, s) =
                run(x, chunk).map_err(|e| mlx_rs::error::Exception::custom(e.to_string()))?;
            let l = y
                .multiply(&wy)?
                .sum(None)?
                .add(s.multiply(&ws)?.sum(None)?)?;
            Ok(vec![l])
        };
        let argnums = [0, 1, 2, 3, 4, 5];
        let (_, g) = mlx_rs::transforms::value_and_grad_with_argnums(f, &argnums)(&inputs).unwrap();
        g.iter().map(|g| to_host(g).unwrap()).collect::<Vec<_>>()
    };
    let reference = grads(0);
    for chunk in [4, 64] {
        for (i, (g, r)) in grads(chunk).iter().zip(&reference).enumerate() {
            let rel = max_abs_diff(g, r) / max_abs(r).max(1e-3);
            assert!(
                rel < 1e-4,
                "chunk {chunk}, input {i}: gradients differ by {rel}"
            );
            assert!(r.sum_sq() > 0.0, "input {i} has a zero gradient");
        }
    }
}

/// Generation loading: an adapter written from the MLX model (mlx-lm and PEFT files) loads back
/// through [`super::generate::load_model`] to the same logits; the base alone has no adapter
/// and other logits; `without_lora` is that base.
#[test]
fn adapters_round_trip_through_load_model() {
    use crate::model::adapter::{self, AdapterFormat};
    use crate::model::config::Architecture;
    let _guard = lock();
    let tmp = tempfile::tempdir().unwrap();
    let mdir = tmp.path().join("model");
    write_tiny(&mdir, true, false);
    let lora = LoraConfig {
        targets: vec![TargetModule::Q, TargetModule::InProjQkv, TargetModule::Down],
        ..lora_all(true, 0.0)
    };
    let (_, trained) = both(&mdir, &lora, &BaseConfig::default());
    let tensors = trained.lora_tensors().unwrap();
    let out = tmp.path().join("run");
    adapter::write_mlx(&out.join("mlx"), Architecture::Qwen35, &lora, 4, &tensors).unwrap();
    adapter::write_peft(
        &out.join("peft"),
        Architecture::Qwen35,
        &lora,
        4,
        "tiny",
        &tensors,
    )
    .unwrap();
    let ids: Vec<u32> = vec![1, 2, 3, 4, 5];
    let logits = |m: &CausalLm| {
        let mut cache = m.new_cache();
        HostTensor::new(vec![64], m.feed(&ids, &mut cache).unwrap())
    };
    let want = logits(&trained);
    for (dir, format) in [
        (out.join("mlx"), AdapterFormat::Mlx),
        (out.join("peft"), AdapterFormat::Peft),
    ] {
        let (m, a) = super::generate::load_model(&mdir, Some(&dir)).unwrap();
        assert_eq!(a.unwrap().format, format);
        let diff = max_abs_diff(&logits(&m), &want);
        assert!(diff < 1e-5, "{}: {diff}", dir.display());
    }
    let (base, none) = super::generate::load_model(&mdir, None).unwrap();
    assert!(none.is_none() && base.lora_keys().is_empty());
    assert!(max_abs_diff(&logits(&base), &want) > 1e-3);
    let detached = trained.without_lora();
    assert!(max_abs_diff(&logits(&detached), &logits(&base)) < 1e-6);
}
