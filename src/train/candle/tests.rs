//! Tests of the candle backend on a tiny random Qwen3 written by each test.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::CandleBackend;
use crate::model::adapter;
use crate::model::candle::model::CausalLm;
use crate::model::candle::weights::{load_checkpoint_tensors, write_random_checkpoint};
use crate::model::config::{Architecture, ModelConfig};
use crate::model::qwen3::tiny_config;
use crate::model::{LoraConfig, ModelError, TargetModule};
use crate::train::backend::{AdamWParams, Backend, Batch};
use crate::train::schedule::Schedule;
use crate::train::trainer::{self, StepOptions};

fn all_targets(rank: usize) -> LoraConfig {
    LoraConfig {
        rank,
        alpha: 2.0 * rank as f64,
        dropout: 0.0,
        targets: TargetModule::ATTENTION_AND_MLP.to_vec(),
        num_layers: None,
    }
}

fn tiny_backend(dir: &Path, lora: &LoraConfig, seed: u64) -> CandleBackend {
    if !dir.join("config.json").exists() {
        write_random_checkpoint(dir, &tiny_config(false), 7, DType::F32).unwrap();
    }
    let model = CausalLm::load(dir, lora, seed, &Device::Cpu).unwrap();
    let adamw = AdamWParams {
        weight_decay: 0.0,
        ..AdamWParams::default()
    };
    CandleBackend::new(model, lora.clone(), adamw, seed).unwrap()
}

/// Two rows of a fixed pseudo-random sequence; the "prompt" (first 3 tokens) is masked out,
/// the second row is right-padded.
fn batch() -> Batch {
    let row1: Vec<u32> = vec![1, 5, 9, 13, 17, 21, 25, 29, 33, 37];
    let row2: Vec<u32> = vec![2, 6, 10, 14, 18, 22, 26, 0, 0, 0];
    let mut mask = vec![0, 0, 0, 1, 1, 1, 1, 1, 1, 1];
    mask.extend([0, 0, 0, 1, 1, 1, 1, 0, 0, 0]);
    Batch {
        batch: 2,
        seq_len: 10,
        tokens: [row1, row2].concat(),
        loss_mask: mask,
    }
}

#[test]
fn loss_falls_on_a_repeated_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut be = tiny_backend(dir.path(), &all_targets(4), 1);
    let b = batch();
    let schedule = Schedule {
        lr: 1e-2,
        warmup_steps: 2,
        total_steps: 20,
        min_lr: 1e-3,
    };
    let opts = StepOptions {
        max_grad_norm: Some(1.0),
    };
    let before = trainer::eval_loss(&mut be, std::slice::from_ref(&b)).unwrap();
    let logs = trainer::run(
        &mut be,
        std::slice::from_ref(&b),
        &schedule,
        1,
        opts,
        0..schedule.total_steps,
        |_, _| Ok(()),
    )
    .unwrap();
    let after = trainer::eval_loss(&mut be, &[b]).unwrap();
    assert_eq!(logs.len(), 20);
    assert!(
        (logs[0].loss - before).abs() < 1e-4,
        "first step sees the base model"
    );
    assert!(
        after < 0.5 * before,
        "loss should fall well below its start: {before} -> {after}; {:?}",
        logs.iter().map(|l| l.loss).collect::<Vec<_>>()
    );
    assert_eq!(logs[0].target_tokens, 7 + 4);
}

#[test]
fn every_lora_parameter_receives_a_nonzero_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let lora = all_targets(2);
    let mut be = tiny_backend(dir.path(), &lora, 2);
    let b = batch();
    assert_eq!(
        be.lora_tensors().unwrap().len(),
        2 * 7,
        "7 modules x 2 layers"
    );
    assert_eq!(
        be.varmap().all_vars().len(),
        2 * 2 * 7,
        "A and B of each, and nothing else"
    );
    // At init B = 0, so dL/dA = 0 exactly and only B moves; after one step every tensor must
    // receive gradient. A dropped backward anywhere would leave some tensor at zero.
    be.accumulate(&b, 1.0).unwrap();
    for g in be.lora_grads().unwrap() {
        assert_eq!(
            g.a.sum_sq(),
            0.0,
            "{:?}: A's gradient is zero while B = 0",
            g.key
        );
        assert!(g.b.sum_sq() > 0.0, "{:?}: B got no gradient", g.key);
    }
    be.optimizer_step(1e-2, None).unwrap();
    be.accumulate(&b, 1.0).unwrap();
    for g in be.lora_grads().unwrap() {
        assert!(g.a.sum_sq() > 0.0, "{:?}: A got no gradient", g.key);
        assert!(g.b.sum_sq() > 0.0, "{:?}: B got no gradient", g.key);
    }
}

/// Whole-model check in f64: the autograd gradient of the loss with respect to LoRA entries
/// equals central finite differences, on Qwen3 and on Qwen3.5 (a DeltaNet and an attention
/// layer, over 70 tokens: more than one chunk of the delta rule).
#[test]
fn whole_model_lora_gradient_matches_finite_differences() {
    let dir = tempfile::tempdir().unwrap();
    write_random_checkpoint(dir.path(), &tiny_config(true), 3, DType::F32).unwrap();
    let lora = LoraConfig {
        targets: vec![TargetModule::Q, TargetModule::K, TargetModule::Down],
        ..all_targets(2)
    };
    assert_eq!(
        lora_gradient_vs_finite_differences(dir.path(), &lora, &batch()),
        2 * 3 * 2 * 3
    );

    let dir = tempfile::tempdir().unwrap();
    crate::model::candle::qwen3_5::write_random_checkpoint(
        dir.path(),
        &crate::model::qwen3_5::tiny_config(false),
        3,
        DType::F32,
    )
    .unwrap();
    let lora = LoraConfig {
        targets: vec![
            TargetModule::Q,
            TargetModule::O,
            TargetModule::InProjQkv,
            TargetModule::InProjZ,
            TargetModule::InProjA,
            TargetModule::InProjB,
            TargetModule::OutProj,
            TargetModule::Down,
        ],
        num_layers: Some(2),
        ..all_targets(2)
    };
    let seq = 70;
    let long = Batch {
        batch: 2,
        seq_len: seq,
        tokens: (0..2 * seq as u32).map(|i| (i * 13 + 5) % 64).collect(),
        loss_mask: (0..2 * seq).map(|i| u8::from(i % seq > 20)).collect(),
    };
    // Layer 2 (DeltaNet): 5 projections + down_proj; layer 3 (attention): q, o, down_proj.
    assert_eq!(
        lora_gradient_vs_finite_differences(dir.path(), &lora, &long),
        2 * 3 * 9
    );
}

/// Loads the model in `dir` in f64 with `lora` (B made non-zero), and compares the autograd
/// gradient of the batch's NLL with central differences at three entries of every LoRA tensor.
/// Returns how many entries it checked.
fn lora_gradient_vs_finite_differences(dir: &Path, lora: &LoraConfig, b: &Batch) -> usize {
    let model = CausalLm::load_as(
        dir,
        lora,
        4,
        &Device::Cpu,
        &crate::model::weights::BaseConfig::default(),
        DType::F64,
    )
    .unwrap();
    // Give B non-zero values so that A's gradient is non-zero too.
    for (i, (_, l)) in model.lora.iter().enumerate() {
        let b = l.b.as_tensor();
        let vals: Vec<f64> = (0..b.elem_count())
            .map(|j| ((i * 31 + j * 7) % 11) as f64 / 20.0 - 0.25)
            .collect();
        l.b.set(&Tensor::from_vec(vals, b.shape(), &Device::Cpu).unwrap())
            .unwrap();
    }
    let loss = |m: &CausalLm| -> Tensor {
        let mut ctx = crate::model::candle::model::ForwardCtx { rng: None };
        m.nll_sum(&b.tokens, &b.loss_mask, b.batch, b.seq_len, &mut ctx)
            .unwrap()
            .0
    };
    let grads = loss(&model).backward().unwrap();
    let eps = 1e-6;
    let mut checked = 0;
    for (key, l) in &model.lora {
        for var in [&l.a, &l.b] {
            let g = grads
                .get(var.as_tensor())
                .expect("gradient reached the LoRA tensor");
            let g = g.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let x0 = var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            for idx in [0, x0.len() / 2, x0.len() - 1] {
                let eval = |delta: f64| {
                    let mut x = x0.clone();
                    x[idx] += delta;
                    var.set(&Tensor::from_vec(x, var.shape(), &Device::Cpu).unwrap())
                        .unwrap();
                    loss(&model).to_scalar::<f64>().unwrap()
                };
                let fd = (eval(eps) - eval(-eps)) / (2.0 * eps);
                eval(0.0);
                let err = (fd - g[idx]).abs() / (1e-3 + fd.abs());
                assert!(
                    err < 1e-4,
                    "{key:?} idx {idx}: autograd {} vs fd {fd}",
                    g[idx]
                );
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn gradient_accumulation_equals_one_big_batch() {
    let dir = tempfile::tempdir().unwrap();
    let lora = all_targets(2);
    let b = batch();
    let half = |r: usize| Batch {
        batch: 1,
        seq_len: b.seq_len,
        tokens: b.tokens[r * b.seq_len..(r + 1) * b.seq_len].to_vec(),
        loss_mask: b.loss_mask[r * b.seq_len..(r + 1) * b.seq_len].to_vec(),
    };
    let opts = StepOptions {
        max_grad_norm: None,
    };
    let mut whole = tiny_backend(dir.path(), &lora, 5);
    let mut split = tiny_backend(dir.path(), &lora, 5);
    for step in 0..2 {
        let a =
            trainer::train_step(&mut whole, std::slice::from_ref(&b), step, 1e-2, opts).unwrap();
        let c = trainer::train_step(&mut split, &[half(0), half(1)], step, 1e-2, opts).unwrap();
        assert!((a.loss - c.loss).abs() < 1e-5, "{a:?} vs {c:?}");
        assert!((a.grad_norm - c.grad_norm).abs() < 1e-5 * a.grad_norm.max(1.0));
    }
    for (x, y) in whole
        .lora_tensors()
        .unwrap()
        .iter()
        .zip(split.lora_tensors().unwrap())
    {
        for (p, q) in x.b.data.iter().zip(&y.b.data) {
            assert!((p - q).abs() < 1e-5);
        }
    }
}

#[test]
fn clipping_caps_the_global_norm() {
    let dir = tempfile::tempdir().unwrap();
    let mut be = tiny_backend(dir.path(), &all_targets(2), 6);
    be.accumulate(&batch(), 1.0).unwrap();
    let r = be.optimizer_step(1e-3, Some(1e-3)).unwrap();
    assert!(r.clipped && r.grad_norm > 1e-3, "{r:?}");
    be.accumulate(&batch(), 1.0).unwrap();
    let r = be.optimizer_step(1e-3, Some(1e9)).unwrap();
    assert!(!r.clipped, "{r:?}");
}

#[test]
fn same_seed_same_run_with_dropout() {
    let dir = tempfile::tempdir().unwrap();
    let lora = LoraConfig {
        dropout: 0.1,
        ..all_targets(2)
    };
    let schedule = Schedule {
        lr: 1e-2,
        warmup_steps: 1,
        total_steps: 3,
        min_lr: 0.0,
    };
    let opts = StepOptions {
        max_grad_norm: Some(1.0),
    };
    let run = |seed| {
        let mut be = tiny_backend(dir.path(), &lora, seed);
        let logs = trainer::run(
            &mut be,
            &[batch()],
            &schedule,
            1,
            opts,
            0..schedule.total_steps,
            |_, _| Ok(()),
        )
        .unwrap();
        (logs, be.lora_tensors().unwrap())
    };
    let (l1, t1) = run(11);
    let (l2, t2) = run(11);
    let (l3, _) = run(12);
    assert_eq!(l1, l2);
    assert_eq!(t1, t2);
    assert_ne!(
        l1[1].loss, l3[1].loss,
        "another seed draws other init and dropout"
    );
}

#[test]
fn checkpoint_round_trip_f32_and_bf16_and_tied_embeddings() {
    for (dtype, tied) in [(DType::F32, false), (DType::BF16, true)] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = tiny_config(tied);
        write_random_checkpoint(dir.path(), &cfg, 9, dtype).unwrap();
        let raw =
            candle_core::safetensors::load(dir.path().join("model.safetensors"), &Device::Cpu)
                .unwrap();
        assert_eq!(raw.contains_key("lm_head.weight"), !tied);
        assert!(raw.contains_key("model.layers.1.self_attn.k_norm.weight"));
        assert_eq!(raw["model.embed_tokens.weight"].dtype(), dtype);
        let model = CausalLm::load(dir.path(), &all_targets(2), 0, &Device::Cpu).unwrap();
        assert_eq!(model.config, ModelConfig::Qwen3(cfg));
        assert_eq!(model.lm_head.is_none(), tied);
        let want = raw["model.layers.1.mlp.down_proj.weight"]
            .to_dtype(DType::F32)
            .unwrap();
        let got = &model.layers[1]
            .mlp
            .down_proj
            .weight
            .to_dense(DType::F32, &Device::Cpu)
            .unwrap();
        let diff = (got - &want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(diff, 0.0);
        let mut be = CandleBackend::new(model, all_targets(2), AdamWParams::default(), 0).unwrap();
        let (loss, n) = be.eval_loss(&batch()).unwrap();
        assert!(loss.is_finite() && n == 11);
    }
}

#[test]
fn missing_or_misshapen_weights_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(false);
    write_random_checkpoint(dir.path(), &cfg, 1, DType::F32).unwrap();
    let mut t: HashMap<String, Tensor> =
        load_checkpoint_tensors(dir.path(), DType::F32, &Device::Cpu).unwrap();
    t.remove("model.layers.1.self_attn.q_norm.weight");
    let err = CausalLm::from_tensors(
        ModelConfig::Qwen3(cfg.clone()),
        t,
        &all_targets(2),
        0,
        dir.path(),
        DType::F32,
    )
    .unwrap_err();
    assert!(
        matches!(&err, ModelError::MissingWeight { key, .. } if key == "model.layers.1.self_attn.q_norm.weight"),
        "{err}"
    );
    let mut t = load_checkpoint_tensors(dir.path(), DType::F32, &Device::Cpu).unwrap();
    t.insert(
        "model.norm.weight".into(),
        Tensor::zeros(31, DType::F32, &Device::Cpu).unwrap(),
    );
    let err = CausalLm::from_tensors(
        ModelConfig::Qwen3(cfg),
        t,
        &all_targets(2),
        0,
        dir.path(),
        DType::F32,
    )
    .unwrap_err();
    assert!(err.to_string().contains("model.norm.weight"), "{err}");
}

#[test]
fn adapters_written_in_mlx_and_peft_formats_reload_with_documented_names() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("model");
    let lora = LoraConfig {
        rank: 2,
        alpha: 8.0,
        dropout: 0.05,
        targets: vec![TargetModule::V, TargetModule::Q, TargetModule::Down],
        num_layers: Some(1),
    };
    let mut be = tiny_backend(&model_dir, &lora, 3);
    let opts = StepOptions {
        max_grad_norm: None,
    };
    for step in 0..2 {
        trainer::train_step(&mut be, &[batch()], step, 1e-2, opts).unwrap();
    }
    let tensors = be.lora_tensors().unwrap();
    let eval_before = be.eval_loss(&batch()).unwrap();

    let mlx = dir.path().join("mlx");
    adapter::write_mlx(&mlx, Architecture::Qwen3, &lora, 2, &tensors).unwrap();
    let (w, meta) = adapter::read_safetensors(&mlx.join("adapters.safetensors")).unwrap();
    let names: Vec<&str> = w.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "model.layers.1.mlp.down_proj.lora_a",
            "model.layers.1.mlp.down_proj.lora_b",
            "model.layers.1.self_attn.q_proj.lora_a",
            "model.layers.1.self_attn.q_proj.lora_b",
            "model.layers.1.self_attn.v_proj.lora_a",
            "model.layers.1.self_attn.v_proj.lora_b",
        ]
    );
    // mlx-lm orientation: lora_a [in, r], lora_b [r, out]; down_proj maps 64 -> 32.
    assert_eq!(w["model.layers.1.mlp.down_proj.lora_a"].shape, vec![64, 2]);
    assert_eq!(w["model.layers.1.mlp.down_proj.lora_b"].shape, vec![2, 32]);
    assert_eq!(meta.get("format").map(String::as_str), Some("mlx"));
    let cfg: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(mlx.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["fine_tune_type"], "lora");
    assert_eq!(cfg["num_layers"], 1);
    assert_eq!(cfg["lora_parameters"]["rank"], 2);
    assert_eq!(
        cfg["lora_parameters"]["scale"], 4.0,
        "mlx stores alpha / rank"
    );
    assert_eq!(
        cfg["lora_parameters"]["keys"],
        serde_json::json!(["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"])
    );
    let (cfg_back, t_back) = adapter::read_mlx(&mlx).unwrap();
    assert_eq!(t_back, tensors);
    assert_eq!(
        (cfg_back.rank, cfg_back.alpha, cfg_back.num_layers),
        (2, 8.0, Some(1))
    );

    let peft = dir.path().join("peft");
    adapter::write_peft(&peft, Architecture::Qwen3, &lora, 2, "tiny-qwen3", &tensors).unwrap();
    let (w, meta) = adapter::read_safetensors(&peft.join("adapter_model.safetensors")).unwrap();
    assert!(w.contains_key("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"));
    assert_eq!(
        w["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"].shape,
        vec![2, 64]
    );
    assert_eq!(
        w["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"].shape,
        vec![32, 2]
    );
    assert_eq!(w.len(), 6);
    assert_eq!(meta.get("format").map(String::as_str), Some("pt"));
    let cfg: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(peft.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["peft_type"], "LORA");
    assert_eq!(cfg["task_type"], "CAUSAL_LM");
    assert_eq!(cfg["r"], 2);
    assert_eq!(cfg["lora_alpha"], 8.0);
    assert_eq!(
        cfg["target_modules"],
        serde_json::json!(["q_proj", "v_proj", "down_proj"])
    );
    assert_eq!(cfg["layers_to_transform"], serde_json::json!([1]));
    let (cfg_back, t_back) = adapter::read_peft(&peft).unwrap();
    assert_eq!(t_back, tensors);
    assert_eq!(
        (cfg_back.rank, cfg_back.alpha, cfg_back.dropout),
        (2, 8.0, 0.05)
    );

    // A fresh model (other seed) with the reloaded adapter computes the same loss.
    let mut fresh = tiny_backend(&model_dir, &lora, 99);
    assert_ne!(fresh.eval_loss(&batch()).unwrap(), eval_before);
    fresh.set_lora_tensors(&t_back).unwrap();
    let (l1, n1) = fresh.eval_loss(&batch()).unwrap();
    assert!((l1 - eval_before.0).abs() < 1e-4 && n1 == eval_before.1);
}

#[test]
fn resumed_run_matches_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("model");
    let lora = LoraConfig {
        dropout: 0.1,
        ..all_targets(2)
    };
    let schedule = Schedule {
        lr: 1e-2,
        warmup_steps: 1,
        total_steps: 4,
        min_lr: 1e-3,
    };
    let opts = StepOptions {
        max_grad_norm: Some(1.0),
    };
    let b = batch();
    let other = Batch {
        tokens: b.tokens.iter().map(|t| (t * 3 + 1) % 64).collect(),
        ..b.clone()
    };
    let data = [b, other];
    let mut full = tiny_backend(&model_dir, &lora, 21);
    let full_logs = trainer::run(
        &mut full,
        &data,
        &schedule,
        2,
        opts,
        0..schedule.total_steps,
        |_, _| Ok(()),
    )
    .unwrap();

    let ckpt = dir.path().join("ckpt");
    let mut first = tiny_backend(&model_dir, &lora, 21);
    let mut logs =
        trainer::run(&mut first, &data, &schedule, 2, opts, 0..2, |_, _| Ok(())).unwrap();
    crate::train::checkpoint::save(&first, &ckpt, 2).unwrap();
    drop(first);
    let mut resumed = tiny_backend(&model_dir, &lora, 21);
    let start = crate::train::checkpoint::load(&mut resumed, &ckpt).unwrap();
    assert_eq!(start, 2);
    logs.extend(
        trainer::run(&mut resumed, &data, &schedule, 2, opts, start..4, |_, _| {
            Ok(())
        })
        .unwrap(),
    );
    assert_eq!(logs, full_logs);
    assert_eq!(
        resumed.lora_tensors().unwrap(),
        full.lora_tensors().unwrap()
    );
}

/// An MLX-style 4-bit checkpoint (one module quantized, as `weight` u32 + `scales` + `biases`
/// with `quantization` in config.json) loads as the dense matrix `scale * q + bias`, and gives
/// the same loss as its dense twin.
#[test]
fn mlx_quantized_module_loads_as_its_dequantized_twin() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(false);
    write_random_checkpoint(dir.path(), &cfg, 13, DType::F32).unwrap();
    let mut raw =
        candle_core::safetensors::load(dir.path().join("model.safetensors"), &Device::Cpu).unwrap();
    let key = "model.layers.0.mlp.up_proj";
    let w = raw.remove(&format!("{key}.weight")).unwrap();
    let (rows, cols) = w.dims2().unwrap(); // 64 x 32
    let wv = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let group = 32;
    let (mut packed, mut scales, mut biases, mut dense) = (vec![], vec![], vec![], vec![]);
    for r in 0..rows {
        let row = &wv[r * cols..(r + 1) * cols];
        let mut qs = vec![];
        for g in row.chunks(group) {
            let lo = g.iter().cloned().fold(f32::INFINITY, f32::min);
            let hi = g.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let s = (hi - lo) / 15.0;
            scales.push(s);
            biases.push(lo);
            for &x in g {
                let q = ((x - lo) / s).round().clamp(0.0, 15.0) as u32;
                dense.push(s * q as f32 + lo);
                qs.push(q);
            }
        }
        for c in qs.chunks(8) {
            packed.push(
                c.iter()
                    .enumerate()
                    .fold(0u32, |a, (i, &q)| a | (q << (4 * i))),
            );
        }
    }
    let dev = Device::Cpu;
    raw.insert(
        format!("{key}.weight"),
        Tensor::from_vec(packed, (rows, cols / 8), &dev).unwrap(),
    );
    raw.insert(
        format!("{key}.scales"),
        Tensor::from_vec(scales, (rows, cols / group), &dev).unwrap(),
    );
    raw.insert(
        format!("{key}.biases"),
        Tensor::from_vec(biases, (rows, cols / group), &dev).unwrap(),
    );
    let qdir = dir.path().join("q");
    fs_err::create_dir_all(&qdir).unwrap();
    candle_core::safetensors::save(&raw, qdir.join("model.safetensors")).unwrap();
    let mut json = serde_json::to_value(&cfg).unwrap();
    json["quantization"] =
        serde_json::json!({"group_size": 64, "bits": 8, key: {"group_size": 32, "bits": 4}});
    fs_err::write(qdir.join("config.json"), json.to_string()).unwrap();

    let lora = all_targets(2);
    let qmodel = CausalLm::load(&qdir, &lora, 0, &dev).unwrap();
    assert!(
        qmodel.layers[0].mlp.up_proj.weight.is_quantized(),
        "an MLX-quantized module stays packed (QLoRA)"
    );
    let got = qmodel.layers[0]
        .mlp
        .up_proj
        .weight
        .to_dense(DType::F32, &dev)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(
        got, dense,
        "per-module override (4 bits, group 32) must win over the default"
    );

    let mut twin_tensors = load_checkpoint_tensors(dir.path(), DType::F32, &dev).unwrap();
    twin_tensors.insert(
        format!("{key}.weight"),
        Tensor::from_vec(dense, (rows, cols), &dev).unwrap(),
    );
    let twin = CausalLm::from_tensors(
        ModelConfig::Qwen3(cfg),
        twin_tensors,
        &lora,
        0,
        dir.path(),
        DType::F32,
    )
    .unwrap();
    let mut q = CandleBackend::new(qmodel, lora.clone(), AdamWParams::default(), 0).unwrap();
    let mut t = CandleBackend::new(twin, lora, AdamWParams::default(), 0).unwrap();
    let (lq, _) = q.eval_loss(&batch()).unwrap();
    let (lt, _) = t.eval_loss(&batch()).unwrap();
    assert!((lq - lt).abs() < 1e-5, "{lq} vs {lt}");
}

#[test]
fn fit_writes_metrics_adapters_best_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("model");
    let out = dir.path().join("out");
    let text = format!(
        "model = {:?}\noutput = {:?}\nseed = 4\n[lora]\nrank = 2\nalpha = 4.0\ntargets = [\"q_proj\", \"v_proj\", \"down_proj\"]\n[optim]\nlr = 1e-2\nsteps = 6\nwarmup_steps = 1\n[data]\nbatch_size = 2\n[loop]\neval_every = 2\nsave_every = 3\nresume = true\n",
        model_dir, out
    );
    let cfg = crate::train::config::TrainConfig::from_toml_str(&text, Path::new("t.toml")).unwrap();
    let mut be = tiny_backend(&model_dir, &cfg.lora, cfg.seed);
    let train = [batch()];
    let valid = [batch()];
    let mut seen = 0;
    let report =
        crate::train::fit::fit(&mut be, &cfg, &train, &valid, 2, "tiny", |_| seen += 1).unwrap();
    assert_eq!((report.steps_run, seen), (6, 6));
    assert!(report.last_loss.is_finite() && report.tokens_per_s > 0.0);
    assert!(report.best_step.is_some());
    let metrics = fs_err::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().filter(|l| l.get("loss").is_some()).count(), 6);
    assert_eq!(
        lines.iter().filter(|l| l.get("val_loss").is_some()).count(),
        3
    );
    for p in [
        "mlx/adapters.safetensors",
        "peft/adapter_model.safetensors",
        "best/mlx/adapter_config.json",
        "checkpoint/trainer_state.json",
        "config.toml",
    ] {
        assert!(out.join(p).exists(), "{p} missing");
    }
    let saved = crate::train::config::TrainConfig::from_file(&out.join("config.toml")).unwrap();
    assert_eq!(saved, cfg);
    // Rerunning with resume = true finds the finished checkpoint and runs no step.
    let mut again = tiny_backend(&model_dir, &cfg.lora, cfg.seed);
    let r2 = crate::train::fit::fit(&mut again, &cfg, &train, &valid, 2, "tiny", |_| {}).unwrap();
    assert_eq!((r2.first_step, r2.steps_run), (6, 0));
    assert_eq!(again.lora_tensors().unwrap(), be.lora_tensors().unwrap());
}

/// The frozen-weight matmuls: forward and input gradient of the quantized op equal the dense
/// op's (several tiles, f64), and both gradients match central finite differences.
#[test]
fn quantized_matmul_forward_and_backward_match_dense_and_finite_differences() {
    use crate::model::candle::quantized::Weight;
    use crate::model::quant::QuantMatrix;
    let (rows, cols, n) = (300, 64, 3); // 300 rows: two tiles of 256
    let mut rng = crate::core::hash::SplitMix64::new(5);
    let w: Vec<f32> = (0..rows * cols).map(|_| rng.unit() as f32 - 0.5).collect();
    let q = Weight::Quant(std::sync::Arc::new(
        QuantMatrix::quantize(&w, rows, cols, 4, 32).unwrap(),
    ));
    let dense = q.to_dense(DType::F64, &Device::Cpu).unwrap();
    let x: Vec<f64> = (0..n * cols).map(|_| rng.unit() - 0.5).collect();
    let r: Vec<f64> = (0..n * rows).map(|_| rng.unit() - 0.5).collect();
    let r = Tensor::from_vec(r, (n, rows), &Device::Cpu).unwrap();
    let loss = |x: &Tensor, w: &Weight| -> Tensor {
        (w.matmul_t(x).unwrap() * &r).unwrap().sum_all().unwrap()
    };
    let xv = candle_core::Var::from_tensor(
        &Tensor::from_vec(x.clone(), (n, cols), &Device::Cpu).unwrap(),
    )
    .unwrap();
    let lq = loss(xv.as_tensor(), &q);
    let ld = loss(xv.as_tensor(), &Weight::Dense(dense));
    let (lq_v, ld_v) = (
        lq.to_scalar::<f64>().unwrap(),
        ld.to_scalar::<f64>().unwrap(),
    );
    assert!((lq_v - ld_v).abs() < 1e-9, "{lq_v} vs {ld_v}");
    let gq = lq
        .backward()
        .unwrap()
        .get(xv.as_tensor())
        .cloned()
        .expect("gradient reaches x through the quantized op");
    let gd = ld.backward().unwrap().get(xv.as_tensor()).cloned().unwrap();
    let gq = gq.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let gd = gd.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    for (a, b) in gq.iter().zip(&gd) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
    // Both custom ops (quantized, and the dense frozen matmul) against central differences.
    let dense = Weight::Dense(q.to_dense(DType::F64, &Device::Cpu).unwrap());
    let h = 1e-5;
    for (w, g) in [(&q, &gq), (&dense, &gd)] {
        for i in [0, 17, n * cols - 1] {
            let at = |d: f64| {
                let mut xs = x.clone();
                xs[i] += d;
                let t = Tensor::from_vec(xs, (n, cols), &Device::Cpu).unwrap();
                loss(&t, w).to_scalar::<f64>().unwrap()
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!((fd - g[i]).abs() < 1e-6, "x[{i}]: fd {fd} vs {}", g[i]);
        }
    }
}

/// QLoRA end to end: a dense checkpoint quantized at load (4 bits) holds under a quarter of the
/// dense bytes, gives exactly the loss and LoRA gradients of its dequantized dense twin, and
/// trains (loss falls on a repeated batch) with every LoRA parameter receiving a gradient.
#[test]
fn qlora_matches_its_dense_twin_and_trains() {
    use crate::model::weights::BaseConfig;
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(true);
    write_random_checkpoint(dir.path(), &cfg, 21, DType::F32).unwrap();
    let lora = all_targets(2);
    let base = BaseConfig {
        quantize_bits: Some(4),
        quantize_group_size: 32,
        ..BaseConfig::default()
    };
    let qmodel = CausalLm::load_with(dir.path(), &lora, 3, &Device::Cpu, &base).unwrap();
    assert!(
        qmodel.embed_tokens.is_quantized() && qmodel.layers[1].mlp.down_proj.weight.is_quantized()
    );
    let dense_model = CausalLm::load(dir.path(), &lora, 3, &Device::Cpu).unwrap();
    assert!(
        qmodel.base_nbytes() * 4 < dense_model.base_nbytes(),
        "{} vs {} bytes",
        qmodel.base_nbytes(),
        dense_model.base_nbytes()
    );
    // The dense twin: the same quantized values, expanded.
    let mut twin = qmodel.clone();
    twin.embed_tokens = crate::model::candle::quantized::Weight::Dense(
        qmodel
            .embed_tokens
            .to_dense(DType::F32, &Device::Cpu)
            .unwrap(),
    );
    for l in &mut twin.layers {
        for m in TargetModule::ATTENTION_AND_MLP {
            let lin = l.linear_mut(m).unwrap();
            lin.weight = crate::model::candle::quantized::Weight::Dense(
                lin.weight.to_dense(DType::F32, &Device::Cpu).unwrap(),
            );
        }
    }
    let adamw = AdamWParams::default();
    let mut q = CandleBackend::new(qmodel, lora.clone(), adamw, 3).unwrap();
    // Fresh Vars for the twin, with the same initial values.
    let twin_lora = q.lora_tensors().unwrap();
    let twin = {
        let mut t = twin;
        for ((_, layer), l) in t.lora.iter_mut().zip(&twin_lora) {
            layer.a = candle_core::Var::from_tensor(
                &Tensor::from_vec(l.a.data.clone(), l.a.shape.as_slice(), &Device::Cpu).unwrap(),
            )
            .unwrap();
            layer.b = candle_core::Var::from_tensor(
                &Tensor::from_vec(l.b.data.clone(), l.b.shape.as_slice(), &Device::Cpu).unwrap(),
            )
            .unwrap();
        }
        for (key, layer) in &t.lora {
            t.layers[key.layer].linear_mut(key.module).unwrap().lora = Some(layer.clone());
        }
        t
    };
    let mut d = CandleBackend::new(twin, lora, adamw, 3).unwrap();
    let b = batch();
    let mut first = None;
    for step in 0..8 {
        let lq = q.accumulate(&b, 1.0).unwrap();
        let ld = d.accumulate(&b, 1.0).unwrap();
        assert!(
            (lq - ld).abs() < 1e-3 * lq.abs().max(1.0),
            "step {step}: {lq} vs {ld}"
        );
        if step == 1 {
            // After one update B is non-zero, so every LoRA tensor has a gradient.
            for (gq, gd) in q.lora_grads().unwrap().iter().zip(d.lora_grads().unwrap()) {
                for (x, y) in [(&gq.a, &gd.a), (&gq.b, &gd.b)] {
                    assert!(x.sum_sq() > 0.0, "{:?} got no gradient", gq.key);
                    let diff: f64 = x
                        .data
                        .iter()
                        .zip(&y.data)
                        .map(|(a, b)| ((a - b) as f64).powi(2))
                        .sum();
                    assert!(
                        diff.sqrt() <= 1e-3 * x.sum_sq().sqrt() + 1e-6,
                        "{:?}",
                        gq.key
                    );
                }
            }
        }
        first.get_or_insert(lq);
        q.optimizer_step(1e-2, None).unwrap();
        d.optimizer_step(1e-2, None).unwrap();
    }
    let (last, _) = q.eval_loss(&b).unwrap();
    assert!(
        last < first.unwrap() * 0.9,
        "QLoRA loss {} -> {last}",
        first.unwrap()
    );
}

/// `fuse` folds an adapter into the base: the fused model without adapters gives the adapted
/// model's loss, for an mlx-lm and a PEFT adapter and for an MLX-quantized base (written dense).
#[test]
fn fused_model_equals_base_plus_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("model");
    let lora = LoraConfig {
        targets: vec![TargetModule::Q, TargetModule::Down],
        num_layers: Some(1),
        ..all_targets(2)
    };
    let mut be = tiny_backend(&model_dir, &lora, 5);
    for _ in 0..3 {
        be.accumulate(&batch(), 1.0).unwrap();
        be.optimizer_step(1e-2, None).unwrap();
    }
    let (adapted, _) = be.eval_loss(&batch()).unwrap();
    let tensors = be.lora_tensors().unwrap();
    adapter::write_mlx(
        &dir.path().join("mlx"),
        Architecture::Qwen3,
        &lora,
        2,
        &tensors,
    )
    .unwrap();
    adapter::write_peft(
        &dir.path().join("peft"),
        Architecture::Qwen3,
        &lora,
        2,
        "tiny",
        &tensors,
    )
    .unwrap();
    let none = all_targets(1); // fresh adapters have B = 0: the fused model alone
    for kind in ["mlx", "peft"] {
        let out = dir.path().join(format!("fused-{kind}"));
        let report = crate::train::fuse::fuse(&model_dir, &dir.path().join(kind), &out).unwrap();
        assert_eq!(report.modules_fused, 2);
        let mut fused = tiny_backend(&out, &none, 0);
        let (loss, _) = fused.eval_loss(&batch()).unwrap();
        assert!(
            (loss - adapted).abs() < 1e-4,
            "{kind}: fused {loss} vs adapted {adapted}"
        );
        let err = crate::train::fuse::fuse(&model_dir, &dir.path().join(kind), &out).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
    }
    // The fused weights keep the base's dtype (read from its safetensors header).
    let bf16 = dir.path().join("bf16");
    write_random_checkpoint(&bf16, &tiny_config(false), 7, DType::BF16).unwrap();
    let out = dir.path().join("fused-bf16");
    let report = crate::train::fuse::fuse(&bf16, &dir.path().join("mlx"), &out).unwrap();
    assert_eq!(report.dtype, "bf16");
    let fused =
        candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
    assert!(fused.values().all(|t| t.dtype() == DType::BF16));
    // A quantized base: the QLoRA model's loss equals that of the dense fused output.
    let qdir = dir.path().join("q");
    write_mlx_quantized(&model_dir, &qdir, 4, 32);
    let mut q = CandleBackend::new(
        CausalLm::load(&qdir, &lora, 5, &Device::Cpu).unwrap(),
        lora.clone(),
        AdamWParams::default(),
        5,
    )
    .unwrap();
    q.set_lora_tensors(&tensors).unwrap();
    let (qloss, _) = q.eval_loss(&batch()).unwrap();
    let out = dir.path().join("fused-q");
    crate::train::fuse::fuse(&qdir, &dir.path().join("mlx"), &out).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert!(config.get("quantization").is_none(), "written dense");
    let (loss, _) = tiny_backend(&out, &none, 0).eval_loss(&batch()).unwrap();
    assert!((loss - qloss).abs() < 1e-4, "fused {loss} vs QLoRA {qloss}");
}

/// Write `src`'s checkpoint in MLX's quantized layout: every projection and the embedding as
/// `weight` (u32) + `scales` + `biases`, `quantization` in config.json.
fn write_mlx_quantized(src: &Path, dst: &Path, bits: u32, group: usize) {
    use crate::model::quant::QuantMatrix;
    fs_err::create_dir_all(dst).unwrap();
    let raw = candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu).unwrap();
    let mut out = HashMap::new();
    for (k, t) in raw {
        let quantize = k.ends_with("_proj.weight") || k.ends_with("embed_tokens.weight");
        if !quantize {
            out.insert(k, t);
            continue;
        }
        let (rows, cols) = t.dims2().unwrap();
        let q = QuantMatrix::quantize(
            &t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            rows,
            cols,
            bits,
            group,
        )
        .unwrap();
        let m = k.strip_suffix(".weight").unwrap();
        let words = q.packed.len() / rows;
        out.insert(
            k.clone(),
            Tensor::from_vec(q.packed, (rows, words), &Device::Cpu).unwrap(),
        );
        out.insert(
            format!("{m}.scales"),
            Tensor::from_vec(q.scales, (rows, cols / group), &Device::Cpu).unwrap(),
        );
        out.insert(
            format!("{m}.biases"),
            Tensor::from_vec(q.biases, (rows, cols / group), &Device::Cpu).unwrap(),
        );
    }
    candle_core::safetensors::save(&out, dst.join("model.safetensors")).unwrap();
    crate::model::candle::weights::write_quantized_config(src, dst, bits, group);
}

/// The fused masked NLL (chunked logits, recomputed in backward) equals log-softmax + gather on
/// the full logits, in value and in its gradient, in one chunk and across chunks of 16 rows (70
/// rows), for a dense and a quantized head, and its gradient matches central finite differences.
#[test]
fn masked_nll_matches_the_plain_graph_and_finite_differences() {
    use crate::model::candle::ops::log_softmax_last_dim;
    use crate::model::candle::quantized::{masked_nll_chunked, Weight};
    use crate::model::quant::QuantMatrix;
    let (n, hidden, vocab) = (70, 32, 50);
    let mut rng = crate::core::hash::SplitMix64::new(9);
    let w: Vec<f32> = (0..vocab * hidden)
        .map(|_| rng.unit() as f32 - 0.5)
        .collect();
    let quant = Weight::Quant(std::sync::Arc::new(
        QuantMatrix::quantize(&w, vocab, hidden, 4, 32).unwrap(),
    ));
    let dense = Weight::Dense(quant.to_dense(DType::F64, &Device::Cpu).unwrap());
    let x: Vec<f64> = (0..n * hidden).map(|_| 2.0 * rng.unit() - 1.0).collect();
    let targets: Vec<u32> = (0..n).map(|i| (i * 7 % vocab) as u32).collect();
    let mask: Vec<f32> = (0..n).map(|i| if i % 5 == 0 { 0.0 } else { 1.0 }).collect();
    let plain = |h: &Tensor| -> Tensor {
        let logits = dense.matmul_t(h).unwrap();
        let ids = Tensor::from_vec(targets.clone(), (n, 1), &Device::Cpu).unwrap();
        let picked = log_softmax_last_dim(&logits)
            .unwrap()
            .gather(&ids, 1)
            .unwrap()
            .squeeze(1)
            .unwrap();
        let m = Tensor::from_vec(mask.clone(), n, &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        (picked * m).unwrap().sum_all().unwrap().neg().unwrap()
    };
    let xv = candle_core::Var::from_tensor(
        &Tensor::from_vec(x.clone(), (n, hidden), &Device::Cpu).unwrap(),
    )
    .unwrap();
    let value = |t: &Tensor| t.to_scalar::<f64>().unwrap();
    let grad = |loss: &Tensor| -> Vec<f64> {
        let g = loss.backward().unwrap();
        g.get(xv.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    let want = plain(xv.as_tensor());
    let want_grad = grad(&want);
    let cases = [
        (&dense, 1 << 24),
        (&dense, 16 * vocab),
        (&quant, 16 * vocab),
    ];
    for (head, chunk) in cases {
        let masked_nll = |h: &Tensor, head: &Weight, t: &[u32], m: &[f32]| {
            masked_nll_chunked(h, head, t, m, chunk)
        };
        let got = masked_nll(xv.as_tensor(), head, &targets, &mask).unwrap();
        assert!(
            (value(&got) - value(&want)).abs() < 1e-9,
            "{} vs {}",
            value(&got),
            value(&want)
        );
        let got_grad = grad(&got);
        for (a, b) in got_grad.iter().zip(&want_grad) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        let h = 1e-5;
        for i in [0, 5 * hidden + 3, 66 * hidden + 1, n * hidden - 1] {
            let at = |d: f64| {
                let mut xs = x.clone();
                xs[i] += d;
                let t = Tensor::from_vec(xs, (n, hidden), &Device::Cpu).unwrap();
                value(&masked_nll(&t, head, &targets, &mask).unwrap())
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (fd - got_grad[i]).abs() < 1e-6,
                "x[{i}]: fd {fd} vs {}",
                got_grad[i]
            );
        }
    }
    // Row 5 is masked out: no gradient reaches it.
    assert!(want_grad[5 * hidden..6 * hidden].iter().all(|&g| g == 0.0));
}

/// `train fuse` on Qwen3.5 (Hugging Face layout, LoRA on DeltaNet, attention and MLP linears):
/// the fused folder alone gives the logits of the base with the adapter.
#[test]
fn fuse_folds_a_qwen3_5_adapter_into_its_base() {
    use crate::model::candle::model::ForwardCtx;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    crate::model::candle::qwen3_5::write_random_checkpoint(
        &base,
        &crate::model::qwen3_5::tiny_config(false),
        5,
        DType::F32,
    )
    .unwrap();
    let lora = LoraConfig {
        num_layers: Some(2),
        targets: TargetModule::ALL.to_vec(),
        ..all_targets(2)
    };
    let model = CausalLm::load(&base, &lora, 1, &Device::Cpu).unwrap();
    let mut tensors = model.lora_tensors().unwrap();
    for (i, t) in tensors.iter_mut().enumerate() {
        for (j, x) in t.b.data.iter_mut().enumerate() {
            *x = (((i * 17 + j * 5) % 13) as f32 / 13.0 - 0.5) * 0.3;
        }
    }
    let mut be = CandleBackend::new(model, lora.clone(), AdamWParams::default(), 1).unwrap();
    be.set_lora_tensors(&tensors).unwrap();
    let adapter_dir = dir.path().join("mlx");
    adapter::write_mlx(&adapter_dir, Architecture::Qwen35, &lora, 4, &tensors).unwrap();
    let out = dir.path().join("fused");
    let report = crate::train::fuse::fuse(&base, &adapter_dir, &out).unwrap();
    assert_eq!(report.modules_fused, tensors.len());
    let ids: Vec<u32> = (0..30).map(|i| (i * 11 + 2) % 64).collect();
    let logits = |m: &CausalLm| {
        m.forward(
            &Tensor::from_slice(&ids, (1, ids.len()), &Device::Cpu).unwrap(),
            &mut ForwardCtx { rng: None },
        )
        .unwrap()
    };
    let fused = CausalLm::load(&out, &LoraConfig::default(), 0, &Device::Cpu)
        .unwrap()
        .without_lora();
    let diff = (logits(&be.model) - logits(&fused))
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-4, "fused vs adapted: {diff}");
}
