//! vcurate's models against mlx-lm, the reference: tiny random Qwen3 and Qwen3.5 models built and
//! saved by mlx-lm's own classes (`tests/reference/mlx_lm_reference.py`, dense and 4-bit) must
//! give the same logits and the same greedy tokens in vcurate; the loss and LoRA gradients of
//! one batch must match mlx-lm's `value_and_grad`; and an adapter trained by `vcurate train` must
//! load with `mlx_lm.load(..., adapter_path=...)` and generate what vcurate generates.
//!
//! Skipped, with a note, when the reference environment is absent (`VCURATE_PYTHON`; `tests/run`
//! prepares it, so CI runs these).

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use vcurate::model::candle::generate::load_model;
use vcurate::model::candle::model::{CausalLm, ForwardCtx};
use vcurate::model::config::Architecture;
use vcurate::model::generate::{argmax, Decoder};
use vcurate::model::{adapter, LoraConfig, LoraTensors, TargetModule};
use vcurate::train::backend::{AdamWParams, Backend, Batch};
use vcurate::train::candle::CandleBackend;

use crate::util::{python_command, quickstart_snapshot, reference_python, train_snapshot, CORPUS};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/mlx_lm_reference.py")
}

/// Runs a command of the reference script; its one line of JSON.
fn reference(py: &Path, args: &[&str]) -> serde_json::Value {
    let out = python_command(py)
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mlx_lm_reference.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn ids_arg(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// A prompt longer than one chunk of the delta rule (64), from a fixed pattern.
fn prompt(n: usize, vocab: u32) -> Vec<u32> {
    (0..n as u32).map(|i| (i * 37 + 11) % vocab).collect()
}

/// Greedy generation through vcurate's cache: prefill, then one token per step.
fn greedy<M: Decoder>(model: &M, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut cache = model.new_cache();
    let mut logits = model.feed(prompt, &mut cache).unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let t = argmax(&logits).unwrap();
        out.push(t);
        logits = model.feed(&[t], &mut cache).unwrap();
    }
    out
}

fn build(py: &Path, dir: &Path, arch: &str, extra: &[&str]) {
    let mut args = vec!["build", "--arch", arch, "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    reference(py, &args);
}

/// Logits over a 100-token sequence (more than one delta-rule chunk) within 1e-4 of mlx-lm's,
/// and 20 greedy tokens after a 70-token prompt identical, for Qwen3 and Qwen3.5, dense and
/// 4-bit (tied embeddings on the 4-bit ones).
#[test]
fn logits_and_greedy_tokens_match_mlx_lm() {
    check_logits_and_greedy(
        "logits_and_greedy_tokens_match_mlx_lm",
        1e-4,
        |dir| {
            CausalLm::load(dir, &LoraConfig::default(), 0, &Device::Cpu)
                .unwrap()
                .without_lora()
        },
        |model, ids| {
            let input = Tensor::from_slice(ids, (1, ids.len()), &Device::Cpu).unwrap();
            let logits = model
                .forward(&input, &mut ForwardCtx { rng: None })
                .unwrap();
            logits.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        },
    );
}

/// The logits and greedy checks of [`logits_and_greedy_tokens_match_mlx_lm`] for one backend:
/// `load` reads a model folder without adapters, `logits` gives the logits of one sequence
/// (row-major `[seq, vocab]`), which must be within `tolerance` of mlx-lm's.
fn check_logits_and_greedy<M: Decoder>(
    test: &str,
    tolerance: f32,
    load: impl Fn(&Path) -> M,
    logits: impl Fn(&M, &[u32]) -> Vec<f32>,
) {
    let Some(py) = reference_python(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (arch, extra) in [
        ("qwen3_5", &[][..]),
        ("qwen3_5", &["--bits", "4", "--tied"][..]),
        ("qwen3", &[][..]),
        ("qwen3", &["--bits", "4", "--tied"][..]),
    ] {
        let dir = tmp.path().join(format!("{arch}{}", extra.join("")));
        build(&py, &dir, arch, extra);
        let model = load(&dir);
        let dir = dir.to_str().unwrap();
        let ids = prompt(100, 256);
        let theirs = reference(
            &py,
            &[
                "run",
                "--model",
                dir,
                "--tokens",
                &ids_arg(&ids),
                "--logits",
            ],
        );
        let theirs = theirs["logits"].as_array().unwrap().iter();
        let theirs = theirs.flat_map(|row| row.as_array().unwrap().iter());
        let ours = logits(&model, &ids);
        let mut max_diff = 0f32;
        let mut n = 0;
        for (a, b) in ours.iter().zip(theirs) {
            max_diff = max_diff.max((a - b.as_f64().unwrap() as f32).abs());
            n += 1;
        }
        assert_eq!(n, ours.len(), "{test} {arch} {extra:?}: logit count");
        eprintln!(
            "{test} {arch} {extra:?}: max |logit diff| vs mlx-lm over 100 tokens = {max_diff:.2e}"
        );
        assert!(
            max_diff < tolerance,
            "{test} {arch} {extra:?}: max |logit diff| {max_diff}"
        );

        let ids = prompt(70, 256);
        let args = [
            "run",
            "--model",
            dir,
            "--tokens",
            &ids_arg(&ids),
            "--generate",
            "20",
        ];
        let theirs = reference(&py, &args);
        let want: Vec<u32> = serde_json::from_value(theirs["generated"].clone()).unwrap();
        assert_eq!(greedy(&model, &ids, 20), want, "{test} {arch} {extra:?}");
    }
}

/// LoRA on every linear of the last 5 layers (DeltaNet and attention ones) with random A and
/// B: the loss and every LoRA gradient of one masked batch against mlx-lm's `value_and_grad`,
/// dense and 4-bit (QLoRA).
#[test]
fn lora_loss_and_gradients_match_mlx_lm() {
    check_lora_gradients(
        "lora_loss_and_gradients_match_mlx_lm",
        |dir, lora, batch| {
            let model = CausalLm::load(dir, lora, 3, &Device::Cpu).unwrap();
            let mut backend =
                CandleBackend::new(model, lora.clone(), AdamWParams::default(), 3).unwrap();
            let tensors = with_nonzero_b(backend.lora_tensors().unwrap());
            backend.set_lora_tensors(&tensors).unwrap();
            let count = batch.target_count() as f64;
            let nll = backend.accumulate(batch, 1.0 / count).unwrap();
            (tensors, nll / count, backend.lora_grads().unwrap())
        },
    );
}

/// The LoRA parameters with every B set to fixed non-zero values, so that every gradient is
/// non-zero.
fn with_nonzero_b(mut tensors: Vec<LoraTensors>) -> Vec<LoraTensors> {
    for (i, t) in tensors.iter_mut().enumerate() {
        for (j, x) in t.b.data.iter_mut().enumerate() {
            *x = (((i * 131 + j * 71) % 97) as f32 / 97.0 - 0.5) * 0.2;
        }
    }
    tensors
}

/// The loss and gradient checks of [`lora_loss_and_gradients_match_mlx_lm`] for one backend:
/// `run(dir, lora, batch)` loads the folder with `lora` (seed 3), sets non-zero B
/// ([`with_nonzero_b`]) and returns the LoRA parameters, the mean NLL of `batch` and its
/// gradients (per target token, canonical orientation).
fn check_lora_gradients(
    test: &str,
    run: impl Fn(&Path, &LoraConfig, &Batch) -> (Vec<LoraTensors>, f64, Vec<LoraTensors>),
) {
    let Some(py) = reference_python(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--bits", "4"][..]] {
        let dir = tmp.path().join(format!("m{}", extra.join("")));
        build(&py, &dir, "qwen3_5", extra);
        let lora = LoraConfig {
            rank: 4,
            alpha: 8.0,
            dropout: 0.0,
            targets: TargetModule::ALL.to_vec(),
            num_layers: Some(5),
        };
        let seq = 90;
        let tokens = prompt(seq, 256);
        let mask: Vec<u8> = (0..seq).map(|i| u8::from(i >= 30 && i % 7 != 0)).collect();
        let batch = Batch {
            batch: 1,
            seq_len: seq,
            tokens: tokens.clone(),
            loss_mask: mask.clone(),
        };
        let (tensors, loss, ours) = run(&dir, &lora, &batch);
        let adapter_dir = dir.join("adapter");
        adapter::write_mlx(&adapter_dir, Architecture::Qwen35, &lora, 8, &tensors).unwrap();
        let grads_file = dir.join("grads.safetensors");
        let mask_ids: Vec<u32> = mask.iter().map(|&m| m as u32).collect();
        let theirs = reference(
            &py,
            &[
                "grads",
                "--model",
                dir.to_str().unwrap(),
                "--adapter",
                adapter_dir.to_str().unwrap(),
                "--tokens",
                &ids_arg(&tokens),
                "--mask",
                &ids_arg(&mask_ids),
                "--out",
                grads_file.to_str().unwrap(),
            ],
        );
        let their_loss = theirs["loss"].as_f64().unwrap();
        eprintln!("{test} {extra:?}: loss {loss:.6} vs mlx-lm {their_loss:.6}");
        assert!(
            (loss - their_loss).abs() < 1e-5,
            "{test}: loss {loss} vs {their_loss}"
        );
        let (their_grads, _) = adapter::read_safetensors(&grads_file).unwrap();
        assert_eq!(their_grads.len(), 2 * ours.len());
        let (mut worst, mut scale) = (0f64, 0f64);
        for t in &ours {
            let name = format!(
                "{}.{}",
                Architecture::Qwen35.mlx_layer_prefix(t.key.layer),
                t.key.module.path()
            );
            // mlx-lm's lora_a is A^T, lora_b is B^T.
            for (ours, leaf) in [(&t.a, "lora_a"), (&t.b, "lora_b")] {
                let theirs = their_grads[&format!("{name}.{leaf}")].transpose2();
                assert_eq!(theirs.shape, ours.shape, "{name}.{leaf}");
                for (a, b) in ours.data.iter().zip(&theirs.data) {
                    worst = worst.max((a - b).abs() as f64);
                    scale = scale.max(b.abs() as f64);
                }
            }
        }
        eprintln!("{test} {extra:?}: max |grad diff| {worst:.2e} (largest gradient {scale:.2e})");
        assert!(
            worst < 1e-5 + 1e-4 * scale,
            "{test}: max |grad diff| {worst} (largest {scale})"
        );
    }
}

/// `vcurate train` on a Qwen3.5 folder in mlx-community's layout (built by mlx-lm; dense, and
/// 4-bit QLoRA), LoRA on every linear of the last layers; the adapter loads with
/// `mlx_lm.load(..., adapter_path=...)` and generates what vcurate generates with it.
#[test]
fn an_adapter_trained_by_vcurate_generates_the_same_in_mlx_lm() {
    adapter_round_trip(
        "an_adapter_trained_by_vcurate_generates_the_same_in_mlx_lm",
        "cpu",
    );
}

/// The same round trip with the adapter trained by `vcurate train --device mlx` (MLX autograd,
/// QLoRA through `quantized_matmul` on the 4-bit folder); vcurate's MLX decoder generates the
/// same greedy tokens as mlx-lm and as candle.
#[cfg(feature = "mlx")]
#[test]
fn an_adapter_trained_on_the_mlx_backend_generates_the_same_in_mlx_lm() {
    adapter_round_trip(
        "an_adapter_trained_on_the_mlx_backend_generates_the_same_in_mlx_lm",
        "mlx",
    );
}

fn adapter_round_trip(test: &str, device: &str) {
    let Some(py) = reference_python(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (ws, id) = quickstart_snapshot(tmp.path());
    for extra in [&[][..], &["--bits", "4", "--tied"][..]] {
        let model = tmp.path().join(format!("model{}", extra.join("")));
        build(&py, &model, "qwen3_5", extra);
        vcurate::model::chat::write_tiny_tokenizer(&model, &CORPUS, 250).unwrap();
        let out_dir = tmp.path().join(format!("adapter{}", extra.join("")));
        let config = tmp.path().join("train.toml");
        std::fs::write(&config, format!("model = {model:?}\noutput = {out_dir:?}\nseed = 3\ndevice = {device:?}\n[lora]\nrank = 4\nalpha = 8.0\nnum_layers = 5\ntargets = [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"in_proj_qkv\", \"in_proj_z\", \"in_proj_a\", \"in_proj_b\", \"out_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]\n[optim]\nlr = 2e-2\nsteps = 3\nwarmup_steps = 1\n[data]\nbatch_size = 2\nmax_seq_len = 160\n[loop]\neval_every = 3\nsave_every = 3\n")).unwrap();
        train_snapshot(&ws, &id, &config);
        let adapter_dir = out_dir.join("mlx");
        let written: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(adapter_dir.join("adapter_config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(written["num_layers"], 5);

        let (ours, loaded) = load_model(&model, Some(&out_dir), &Device::Cpu).unwrap();
        assert!(loaded.is_some());
        let ids = prompt(70, 250);
        let theirs = reference(
            &py,
            &[
                "run",
                "--load",
                "--model",
                model.to_str().unwrap(),
                "--adapter",
                adapter_dir.to_str().unwrap(),
                "--tokens",
                &ids_arg(&ids),
                "--generate",
                "20",
            ],
        );
        let want: Vec<u32> = serde_json::from_value(theirs["generated"].clone()).unwrap();
        let got = greedy(&ours, &ids, 20);
        assert_eq!(got, want, "{device} {extra:?}: candle vs mlx-lm");
        #[cfg(feature = "mlx")]
        if device == "mlx" {
            let on_mlx = vcurate::model::mlx::model::CausalLm::from_candle(ours.clone()).unwrap();
            assert_eq!(
                greedy(&on_mlx, &ids, 20),
                want,
                "{extra:?}: vcurate's MLX decoder vs mlx-lm"
            );
        }
        // The trained adapter changed what the model says.
        let (base, _) = load_model(&model, None, &Device::Cpu).unwrap();
        assert_ne!(
            greedy(&base, &ids, 20),
            got,
            "{extra:?}: training changed nothing"
        );
    }
}

/// The same checks for the MLX backend (cargo feature `mlx`).
#[cfg(feature = "mlx")]
mod mlx;
