//! A full training run over prepared batches: schedule, validation, best/last adapters, early
//! stopping, periodic checkpoints, resume, `metrics.jsonl` and the resolved config.
//!
//! Output layout under `config.output`:
//! `config.toml` (resolved), `metrics.jsonl` (one JSON object per step / evaluation),
//! `mlx/` + `peft/` (last adapters), `best/mlx/` + `best/peft/` (lowest validation loss),
//! `checkpoint/` (resume state). Backend-neutral.

use std::io::Write;
use std::time::Instant;

use serde_json::json;

use crate::model::adapter;
use crate::train::backend::{Backend, Batch};
use crate::train::config::TrainConfig;
use crate::train::schedule::Schedule;
use crate::train::trainer::{self, StepOptions};
use crate::train::{checkpoint, Result};

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    pub steps_run: usize,
    pub first_step: usize,
    pub last_loss: f64,
    pub best_val_loss: Option<f64>,
    pub best_step: Option<usize>,
    pub early_stopped: bool,
    pub tokens_per_s: f64,
}

fn write_adapters<B: Backend>(
    b: &B,
    dir: &std::path::Path,
    n_layers: usize,
    base: &str,
) -> Result<()> {
    let tensors = b.lora_tensors()?;
    let arch = b.architecture();
    adapter::write_mlx(&dir.join("mlx"), arch, b.lora_config(), n_layers, &tensors)?;
    adapter::write_peft(
        &dir.join("peft"),
        arch,
        b.lora_config(),
        n_layers,
        base,
        &tensors,
    )?;
    Ok(())
}

/// Train `backend` on `train`, validating on `valid`. `n_layers` is the model's layer count
/// (for adapter configs); `base_model` is recorded in PEFT's config.
pub fn fit<B: Backend>(
    backend: &mut B,
    cfg: &TrainConfig,
    train: &[Batch],
    valid: &[Batch],
    n_layers: usize,
    base_model: &str,
    mut progress: impl FnMut(&trainer::StepLog),
) -> Result<FitReport> {
    let out = &cfg.output;
    fs_err::create_dir_all(out)?;
    fs_err::write(out.join("config.toml"), cfg.to_toml())?;
    let ckpt = out.join("checkpoint");
    let resumed = cfg.run.resume && ckpt.join(checkpoint::TRAINER_STATE).exists();
    let first_step = if resumed {
        checkpoint::load(backend, &ckpt)?
    } else {
        0
    };
    // A resumed run continues the metrics of the run it resumes; a fresh run into an old output
    // folder starts them over (appending mixed two runs' steps into one loss curve).
    let mut metrics = fs_err::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(out.join("metrics.jsonl"))?;
    let schedule = Schedule {
        lr: cfg.optim.lr,
        warmup_steps: cfg.optim.warmup_steps,
        total_steps: cfg.optim.steps,
        min_lr: cfg.optim.min_lr,
    };
    let opts = StepOptions {
        max_grad_norm: (cfg.optim.max_grad_norm > 0.0).then_some(cfg.optim.max_grad_norm),
    };
    let start = Instant::now();
    let mut tokens = 0usize;
    let mut best: Option<(f64, usize)> = None;
    let mut since_best = 0usize;
    let mut early_stopped = false;
    let mut last_loss = f64::NAN;
    let mut steps_run = 0;
    for step in first_step..schedule.total_steps {
        let log = trainer::run(
            backend,
            train,
            &schedule,
            cfg.optim.grad_accum,
            opts,
            step..step + 1,
            |_, _| Ok(()),
        )?[0];
        steps_run += 1;
        tokens += log.tokens;
        last_loss = log.loss;
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        writeln!(
            metrics,
            "{}",
            json!({"step": step + 1, "lr": log.lr, "loss": log.loss, "grad_norm": log.grad_norm,
                   "clipped": log.clipped, "tokens": log.tokens, "tokens_per_s": tokens as f64 / secs})
        )?;
        progress(&log);
        let done = step + 1 == schedule.total_steps;
        let eval_now = !valid.is_empty()
            && (done || (cfg.run.eval_every > 0 && (step + 1) % cfg.run.eval_every == 0));
        if eval_now {
            let val = trainer::eval_loss(backend, valid)?;
            writeln!(metrics, "{}", json!({"step": step + 1, "val_loss": val}))?;
            if best.is_none_or(|(b, _)| val < b) {
                best = Some((val, step + 1));
                since_best = 0;
                write_adapters(backend, &out.join("best"), n_layers, base_model)?;
            } else {
                since_best += 1;
            }
        }
        let save_now = done || (cfg.run.save_every > 0 && (step + 1) % cfg.run.save_every == 0);
        if save_now {
            checkpoint::save(backend, &ckpt, step + 1)?;
            write_adapters(backend, out, n_layers, base_model)?;
        }
        if cfg.run.early_stop_patience > 0 && since_best >= cfg.run.early_stop_patience {
            early_stopped = true;
            checkpoint::save(backend, &ckpt, step + 1)?;
            write_adapters(backend, out, n_layers, base_model)?;
            break;
        }
    }
    Ok(FitReport {
        steps_run,
        first_step,
        last_loss,
        best_val_loss: best.map(|b| b.0),
        best_step: best.map(|b| b.1),
        early_stopped,
        tokens_per_s: tokens as f64 / start.elapsed().as_secs_f64().max(1e-9),
    })
}
