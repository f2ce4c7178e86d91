//! The MLX training backend against the candle backend on the same tiny checkpoints (Qwen3 and
//! Qwen3.5, written in the test): loss and LoRA gradients of one batch, dropout included, then a
//! few optimizer steps with accumulation and clipping, and resume from a checkpoint, which on
//! one backend must be bit-identical to the uninterrupted run.
//!
//! Tolerances: both backends compute in f32 but in different op orders (MLX's fused
//! `rms_norm`/`rope`/attention and OpenBLAS matmuls against candle's basic ops), so values agree
//! to f32 rounding amplified by the depth of the model: one batch's loss to 1e-5 relative and
//! gradients to 1e-3 of their largest entry; the tolerances of a few steps are at
//! [`optimizer_steps_follow_candles_loss_curve`].

use std::path::Path;

use candle_core::{DType, Device};

use super::MlxBackend;
use crate::model::candle::model::CausalLm as CandleLm;
use crate::model::mlx::model::CausalLm as MlxLm;
use crate::model::weights::BaseConfig;
use crate::model::{HostTensor, LoraConfig, LoraTensors, TargetModule};
use crate::train::backend::{AdamWParams, Backend, Batch};
use crate::train::candle::CandleBackend;
use crate::train::schedule::Schedule;
use crate::train::trainer::{self, StepLog, StepOptions};

fn lock() -> std::sync::MutexGuard<'static, ()> {
    crate::model::mlx::test_lock()
}

#[derive(Clone, Copy, Debug)]
enum Arch {
    Qwen3,
    Qwen35,
}

/// A tiny random checkpoint of `arch` in `dir` (once), and the LoRA the tests train: every
/// module the architecture has (Qwen3.5's DeltaNet projections too), rank 2.
fn checkpoint(dir: &Path, arch: Arch, dropout: f64) -> LoraConfig {
    if !dir.join("config.json").exists() {
        match arch {
            Arch::Qwen3 => crate::model::candle::weights::write_random_checkpoint(
                dir,
                &crate::model::qwen3::tiny_config(false),
                7,
                DType::F32,
            ),
            Arch::Qwen35 => crate::model::candle::qwen3_5::write_random_checkpoint(
                dir,
                &crate::model::qwen3_5::tiny_config(false),
                7,
                DType::F32,
            ),
        }
        .unwrap();
    }
    LoraConfig {
        rank: 2,
        alpha: 4.0,
        dropout,
        targets: match arch {
            Arch::Qwen3 => TargetModule::ATTENTION_AND_MLP.to_vec(),
            Arch::Qwen35 => TargetModule::ALL.to_vec(),
        },
        num_layers: None,
    }
}

fn adamw() -> AdamWParams {
    AdamWParams {
        weight_decay: 0.01,
        ..AdamWParams::default()
    }
}

fn candle_backend(dir: &Path, lora: &LoraConfig, seed: u64) -> CandleBackend {
    candle_backend_on(dir, lora, seed, &BaseConfig::default())
}

fn mlx_backend(dir: &Path, lora: &LoraConfig, seed: u64) -> MlxBackend {
    mlx_backend_on(dir, lora, seed, &BaseConfig::default())
}

fn candle_backend_on(dir: &Path, lora: &LoraConfig, seed: u64, base: &BaseConfig) -> CandleBackend {
    let model = CandleLm::load_with(dir, lora, seed, &Device::Cpu, base).unwrap();
    CandleBackend::new(model, lora.clone(), adamw(), seed).unwrap()
}

fn mlx_backend_on(dir: &Path, lora: &LoraConfig, seed: u64, base: &BaseConfig) -> MlxBackend {
    let model = MlxLm::load_with(dir, lora, seed, base).unwrap();
    MlxBackend::new(model, lora.clone(), adamw(), seed).unwrap()
}

/// The base weights the parity tests run on: dense f32, and QLoRA's 4-bit (group 32, quantized
/// at load; MLX keeps them packed and multiplies with `quantized_matmul`).
fn bases() -> [BaseConfig; 2] {
    [
        BaseConfig::default(),
        BaseConfig {
            quantize_bits: Some(4),
            quantize_group_size: 32,
            ..BaseConfig::default()
        },
    ]
}

/// Non-zero B everywhere (fresh adapters have B = 0, which zeroes every A gradient).
fn nonzero_b(tensors: &[LoraTensors]) -> Vec<LoraTensors> {
    tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut b = t.b.clone();
            for (j, x) in b.data.iter_mut().enumerate() {
                *x = (((i * 17 + j * 5) % 13) as f32 / 13.0 - 0.5) * 0.2;
            }
            LoraTensors { b, ..t.clone() }
        })
        .collect()
}

/// Two rows, the first three tokens a masked prompt, the second row right-padded.
fn batch(shift: u32) -> Batch {
    let row1: Vec<u32> = (0..12).map(|i| (i * 5 + 1 + shift) % 64).collect();
    let mut row2: Vec<u32> = (0..9).map(|i| (i * 3 + 2 + shift) % 64).collect();
    row2.extend([0, 0, 0]);
    let mut mask = vec![0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    mask.extend([0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    Batch {
        batch: 2,
        seq_len: 12,
        tokens: [row1, row2].concat(),
        loss_mask: mask,
    }
}

fn max_abs(t: &HostTensor) -> f32 {
    t.data.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn max_abs_diff(a: &HostTensor, b: &HostTensor) -> f32 {
    assert_eq!(a.shape, b.shape);
    a.data
        .iter()
        .zip(&b.data)
        .fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Every gradient (A and B of every module) agrees with candle's to 1e-3 of the largest
/// gradient entry, and none is trivially zero.
fn assert_grads_match(arch: impl std::fmt::Debug, mlx: &[LoraTensors], candle: &[LoraTensors]) {
    assert_eq!(mlx.len(), candle.len());
    let scale = candle
        .iter()
        .flat_map(|t| [max_abs(&t.a), max_abs(&t.b)])
        .fold(0.0, f32::max);
    assert!(scale > 1e-4, "{arch:?}: gradients are trivially zero");
    for (m, c) in mlx.iter().zip(candle) {
        assert_eq!(m.key, c.key);
        for (name, x, y) in [("A", &m.a, &c.a), ("B", &m.b, &c.b)] {
            let d = max_abs_diff(x, y);
            assert!(
                d <= 1e-3 * scale,
                "{arch:?} {}.lora_{name}: MLX and candle gradients differ by {d} (largest gradient {scale})",
                m.key.module_name()
            );
            assert!(
                max_abs(y) > 0.0,
                "{arch:?} {}.lora_{name}: no gradient",
                m.key.module_name()
            );
        }
    }
}

/// One micro-batch on both backends from the same adapters: the same NLL and the same
/// gradient of every LoRA tensor, on a dense and a 4-bit base (QLoRA), without and with dropout
/// (the masks are drawn from the same stream in the same order on both).
#[test]
fn loss_and_lora_gradients_match_candle() {
    let _guard = lock();
    for arch in [Arch::Qwen3, Arch::Qwen35] {
        let dir = tempfile::tempdir().unwrap();
        for (base, dropout) in bases().into_iter().flat_map(|b| [(b, 0.0), (b, 0.25)]) {
            let arch_base = (arch, base.quantize_bits);
            let lora = checkpoint(dir.path(), arch, dropout);
            let mut c = candle_backend_on(dir.path(), &lora, 3, &base);
            let mut m = mlx_backend_on(dir.path(), &lora, 3, &base);
            let init = c.lora_tensors().unwrap();
            assert_eq!(m.lora_tensors().unwrap(), init, "same seed, same adapters");
            let adapters = nonzero_b(&init);
            c.set_lora_tensors(&adapters).unwrap();
            m.set_lora_tensors(&adapters).unwrap();
            let b = batch(0);
            let scale = 1.0 / b.target_count() as f64;
            let nll_c = c.accumulate(&b, scale).unwrap();
            let nll_m = m.accumulate(&b, scale).unwrap();
            assert!(
                (nll_c - nll_m).abs() <= 1e-5 * nll_c.abs(),
                "{arch_base:?} dropout {dropout}: NLL candle {nll_c} vs MLX {nll_m}"
            );
            assert_grads_match(
                arch_base,
                &m.lora_grads().unwrap(),
                &c.lora_grads().unwrap(),
            );
            let (eval_c, n_c) = c.eval_loss(&b).unwrap();
            let (eval_m, n_m) = m.eval_loss(&b).unwrap();
            assert_eq!(n_c, n_m);
            assert!(
                (eval_c - eval_m).abs() <= 1e-5 * eval_c.abs(),
                "{arch_base:?}: eval NLL candle {eval_c} vs MLX {eval_m}"
            );
            if dropout > 0.0 {
                assert!(
                    (eval_m - nll_m).abs() > 1e-4,
                    "{arch_base:?}: dropout changed nothing ({eval_m} vs {nll_m})"
                );
            } else {
                assert_eq!(eval_m, nll_m, "{arch_base:?}: no dropout, same forward");
            }
        }
    }
}

fn schedule(total_steps: usize) -> Schedule {
    Schedule {
        lr: 5e-3,
        warmup_steps: 1,
        total_steps,
        min_lr: 1e-3,
    }
}

/// `steps` of `trainer::run` with accumulation over 2 micro-batches and clipping at 0.5.
fn train<B: Backend>(be: &mut B, steps: std::ops::Range<usize>, total: usize) -> Vec<StepLog> {
    let data = [batch(0), batch(7), batch(19)];
    let opts = StepOptions {
        max_grad_norm: Some(0.5),
    };
    trainer::run(be, &data, &schedule(total), 2, opts, steps, |_, _| Ok(())).unwrap()
}

/// Six optimizer steps (warmup, cosine decay, accumulation, clipping, weight decay, dropout):
/// MLX follows candle's loss curve and gradient norms, and ends at the same adapters.
///
/// Tolerances (relative; measured in brackets): Qwen3 agrees to f32 rounding: loss and grad
/// norm 1e-6 (1.1e-7, 1.6e-7), adapters 1e-4 of their largest entry (1.0e-5). The random tiny
/// Qwen3.5 is ill-conditioned (its grad norm jumps between 3 and 110 from step to step), so the
/// rounding differences of MLX's recurrent delta rule against candle's chunked form grow through
/// Adam's normalised steps: loss 1e-4 (2.1e-5), grad norm 1e-2 (3.5e-3), adapters 2e-2
/// (3.7e-3).
#[test]
fn optimizer_steps_follow_candles_loss_curve() {
    let _guard = lock();
    for (arch, loss_tol, norm_tol, adapter_tol) in [
        (Arch::Qwen3, 1e-6, 1e-6, 1e-4),
        (Arch::Qwen35, 1e-4, 1e-2, 2e-2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lora = checkpoint(dir.path(), arch, 0.1);
        let mut c = candle_backend(dir.path(), &lora, 5);
        let mut m = mlx_backend(dir.path(), &lora, 5);
        let logs_c = train(&mut c, 0..6, 6);
        let logs_m = train(&mut m, 0..6, 6);
        for (lc, lm) in logs_c.iter().zip(&logs_m) {
            assert_eq!((lc.step, lc.lr, lc.clipped), (lm.step, lm.lr, lm.clipped));
            assert!(
                (lc.loss - lm.loss).abs() <= loss_tol * lc.loss,
                "{arch:?} step {}: loss candle {} vs MLX {}",
                lc.step,
                lc.loss,
                lm.loss
            );
            assert!(
                (lc.grad_norm - lm.grad_norm).abs() <= norm_tol * lc.grad_norm,
                "{arch:?} step {}: grad norm candle {} vs MLX {}",
                lc.step,
                lc.grad_norm,
                lm.grad_norm
            );
        }
        assert!(
            logs_m.iter().any(|l| l.clipped),
            "{arch:?}: clipping never acted; lower the clip norm"
        );
        assert!(
            logs_m[5].loss < logs_m[0].loss,
            "{arch:?}: the loss did not fall: {logs_m:?}"
        );
        let (tc, tm) = (c.lora_tensors().unwrap(), m.lora_tensors().unwrap());
        for (a, b) in tc.iter().zip(&tm) {
            for (x, y) in [(&a.a, &b.a), (&a.b, &b.b)] {
                let d = max_abs_diff(x, y);
                assert!(
                    d <= adapter_tol * max_abs(x),
                    "{arch:?} {}: adapters differ by {d} (largest entry {})",
                    a.key.module_name(),
                    max_abs(x)
                );
            }
        }
    }
}

/// The AdamW update on MLX equals candle's for the same parameters and gradients (a step with
/// weight decay, then a step with a zero gradient where only the decay and the moments act).
#[test]
fn adamw_takes_candles_step() {
    let _guard = lock();
    let init = HostTensor::new(vec![2, 3], vec![0.5, -1.0, 2.0, 0.0, 3.0, -0.25]);
    let grads = [
        HostTensor::new(vec![2, 3], vec![0.1, -0.2, 0.3, 1.5, -0.01, 0.0]),
        HostTensor::new(vec![2, 3], vec![0.0; 6]),
        HostTensor::new(vec![2, 3], vec![-3.0, 0.2, 1e-3, 0.5, 0.5, -0.7]),
    ];
    let params = AdamWParams {
        beta1: 0.8,
        beta2: 0.95,
        eps: 1e-6,
        weight_decay: 0.1,
    };
    let var = candle_core::Var::from_tensor(
        &candle_core::Tensor::from_vec(init.data.clone(), (2, 3), &Device::Cpu).unwrap(),
    )
    .unwrap();
    let mut theirs = crate::train::candle::optim::AdamW::new(vec![var.clone()], params).unwrap();
    let mut theta = vec![crate::model::mlx::from_host(&init).unwrap()];
    let mut ours = super::optim::AdamW::new(&theta, params).unwrap();
    for (i, g) in grads.iter().enumerate() {
        let lr = 0.05 * (i + 1) as f64;
        let gc = candle_core::Tensor::from_vec(g.data.clone(), (2, 3), &Device::Cpu).unwrap();
        theirs.step(&[gc], lr).unwrap();
        theta = ours
            .step(&theta, &[crate::model::mlx::from_host(g).unwrap()], lr)
            .unwrap();
        let want = crate::model::candle::to_host(var.as_tensor()).unwrap();
        let got = crate::model::mlx::to_host(&theta[0]).unwrap();
        assert!(
            max_abs_diff(&got, &want) <= 1e-6,
            "step {}: MLX {got:?} vs candle {want:?}",
            i + 1
        );
        let m = crate::model::mlx::to_host(&ours.m[0]).unwrap();
        let v = crate::model::mlx::to_host(&ours.v[0]).unwrap();
        assert!(max_abs_diff(&m, &crate::model::candle::to_host(&theirs.m[0]).unwrap()) <= 1e-7);
        assert!(max_abs_diff(&v, &crate::model::candle::to_host(&theirs.v[0]).unwrap()) <= 1e-7);
    }
    assert_eq!(ours.step, 3);
}

/// A run stopped after two steps, checkpointed, and resumed in a fresh backend gives exactly
/// (bit for bit) the step logs and adapters of the uninterrupted run on MLX, dropout included.
#[test]
fn resumed_run_is_bit_identical_to_an_uninterrupted_one() {
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("model");
    let lora = checkpoint(&model_dir, Arch::Qwen3, 0.1);
    let mut full = mlx_backend(&model_dir, &lora, 21);
    let full_logs = train(&mut full, 0..4, 4);

    let ckpt = dir.path().join("ckpt");
    let mut first = mlx_backend(&model_dir, &lora, 21);
    let mut logs = train(&mut first, 0..2, 4);
    crate::train::checkpoint::save(&first, &ckpt, 2).unwrap();
    drop(first);
    let mut resumed = mlx_backend(&model_dir, &lora, 21);
    let start = crate::train::checkpoint::load(&mut resumed, &ckpt).unwrap();
    assert_eq!(start, 2);
    assert_eq!(resumed.optimizer_state().unwrap().step, 2);
    logs.extend(train(&mut resumed, start..4, 4));
    assert_eq!(logs, full_logs);
    assert_eq!(
        resumed.lora_tensors().unwrap(),
        full.lora_tensors().unwrap()
    );
    assert_eq!(
        resumed.optimizer_state().unwrap(),
        full.optimizer_state().unwrap()
    );

    // A state for another adapter shape is refused, naming the counts.
    let mut state = full.optimizer_state().unwrap();
    state.first_moment.pop();
    let msg = resumed.set_optimizer_state(&state).unwrap_err().to_string();
    assert!(msg.contains("optimizer state has"), "{msg}");
}

/// A batch with a token outside the vocabulary is refused before MLX sees it.
#[test]
fn out_of_vocabulary_tokens_are_refused() {
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let lora = checkpoint(dir.path(), Arch::Qwen3, 0.0);
    let mut m = mlx_backend(dir.path(), &lora, 1);
    let mut b = batch(0);
    b.tokens[4] = 10_000;
    let msg = m.accumulate(&b, 1.0).unwrap_err().to_string();
    assert!(msg.contains("token id 10000"), "{msg}");
}
