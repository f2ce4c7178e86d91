//! The `vcurate train` pipeline: fine-tune a LoRA adapter straight from a snapshot's examples
//! (its train and valid splits), no JSONL round trip.
//!
//! Besides what [`crate::train::fit::fit`] writes, the output folder gets `training.json` (the
//! snapshot and workspace the run trained from: `vcurate eval` uses it to check contamination)
//! and `loss.svg` (train and validation loss by step). Prints nothing: progress goes to the
//! caller's step callback, and what had to be cut is in the report.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::core::training::TrainingRecord;
use crate::model::candle::model::CausalLm;
use crate::model::chat::{ChatFormatter, Tokenized};
use crate::model::config::ModelConfig;
use crate::train::candle::CandleBackend;
use crate::train::config::TrainConfig;
use crate::train::data::{make_batches, TruncationReport};
use crate::train::fit::FitReport;
use crate::train::trainer::StepLog;
use crate::train::{Backend, Batch};
use crate::train::{Result, TrainError};
use crate::workspace::Workspace;

/// What to train: a snapshot of the workspace and a resolved training config.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// Snapshot id, or a unique prefix of one.
    pub snapshot: String,
    /// The training config, file and command-line overrides already applied.
    pub config: TrainConfig,
}

/// What a training run did (`vcurate train --json` prints it; `vcurate quickstart --json` carries
/// it).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TrainReport {
    /// The full snapshot id.
    pub snapshot: String,
    pub train_examples: usize,
    pub valid_examples: usize,
    pub steps_run: usize,
    pub last_loss: f64,
    pub best_val_loss: Option<f64>,
    pub tokens_per_s: f64,
    /// The output folder: adapters, checkpoints, metrics, `training.json`, `loss.svg`.
    pub output: PathBuf,
}

/// What a run reports while it goes, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrainEvent<'a> {
    /// The train examples are batched, before the model loads: what had to be cut to
    /// `data.max_seq_len` or dropped with no assistant token left.
    Batched(&'a TruncationReport),
    /// An optimizer step finished.
    Step(&'a StepLog),
}

/// Train on the examples of `settings.snapshot` in `ws` with `settings.config`, telling
/// `on_event` what happens.
pub fn run(
    ws: &Workspace,
    settings: &TrainSettings,
    on_event: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<TrainReport> {
    let cfg = &settings.config;
    // Before anything is read: a build without the MLX backend says how to get it.
    cfg.device.check_mlx()?;
    let snaps = ws.dataset_dir().join("snapshots");
    let id = crate::snapshot::freeze::resolve(&snaps, &settings.snapshot)?;
    let examples = crate::snapshot::examples::read_examples(&snaps.join(&id))?;
    let formatter =
        ChatFormatter::from_model_dir(&cfg.model).map_err(|source| TrainError::Tokenizer {
            path: cfg.model.clone(),
            source,
        })?;
    let tokenize = |split: &str| -> Result<Vec<Tokenized>> {
        examples
            .iter()
            .filter(|e| e.split == split)
            .map(|e| {
                formatter
                    .tokenize_with(&e.example.messages, &e.example.tools, cfg.data.mask)
                    .map_err(|source| TrainError::Example {
                        id: e.example.id.clone(),
                        source,
                    })
            })
            .collect()
    };
    let (train, valid) = (tokenize("train")?, tokenize("valid")?);
    if train.is_empty() {
        return Err(TrainError::NoTrainExamples(id));
    }
    let (train_batches, truncation) = make_batches(
        &train,
        cfg.data.batch_size,
        cfg.data.max_seq_len,
        0,
        cfg.seed,
    );
    let (valid_batches, _) = make_batches(
        &valid,
        cfg.data.batch_size,
        cfg.data.max_seq_len,
        0,
        cfg.seed,
    );
    on_event(TrainEvent::Batched(&truncation));
    let n_layers = ModelConfig::from_dir(&cfg.model)?.num_hidden_layers();
    let batches = (train_batches.as_slice(), valid_batches.as_slice());
    let report = if cfg.device.is_mlx() {
        fit_on(&mut mlx_backend(cfg)?, cfg, batches, n_layers, on_event)?
    } else {
        let model = CausalLm::load_with(
            &cfg.model,
            &cfg.lora,
            cfg.seed,
            &cfg.device.open()?,
            &cfg.base,
        )?;
        let adamw = cfg.optim.adamw();
        let mut backend = CandleBackend::new(model, cfg.lora.clone(), adamw, cfg.seed)?;
        fit_on(&mut backend, cfg, batches, n_layers, on_event)?
    };
    TrainingRecord {
        snapshot: id.clone(),
        workspace: std::path::absolute(&ws.root)?,
        model: cfg.model.clone(),
        train_examples: train.len(),
        valid_examples: valid.len(),
    }
    .write(&cfg.output)?;
    write_loss_curve(&cfg.output)?;
    Ok(TrainReport {
        snapshot: id,
        train_examples: train.len(),
        valid_examples: valid.len(),
        steps_run: report.steps_run,
        last_loss: report.last_loss,
        best_val_loss: report.best_val_loss,
        tokens_per_s: report.tokens_per_s,
        output: cfg.output.clone(),
    })
}

/// The MLX backend for `cfg` (device `mlx`): the model loaded onto MLX with `cfg.base` and
/// fresh adapters.
#[cfg(feature = "mlx")]
fn mlx_backend(cfg: &TrainConfig) -> Result<crate::train::mlx::MlxBackend> {
    let model =
        crate::model::mlx::model::CausalLm::load_with(&cfg.model, &cfg.lora, cfg.seed, &cfg.base)?;
    crate::train::mlx::MlxBackend::new(model, cfg.lora.clone(), cfg.optim.adamw(), cfg.seed)
}

/// Never called: [`crate::model::DeviceKind::check_mlx`] refuses `mlx` in builds without it.
#[cfg(not(feature = "mlx"))]
fn mlx_backend(_: &TrainConfig) -> Result<CandleBackend> {
    unreachable!("device mlx is refused by check_mlx in builds without the mlx feature")
}

/// [`fit`](crate::train::fit::fit) on `backend`, its steps reported to `on_event`.
fn fit_on<B: Backend>(
    backend: &mut B,
    cfg: &TrainConfig,
    (train, valid): (&[Batch], &[Batch]),
    n_layers: usize,
    on_event: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<FitReport> {
    let base = cfg.model.display().to_string();
    crate::train::fit::fit(backend, cfg, train, valid, n_layers, &base, |log| {
        on_event(TrainEvent::Step(log))
    })
}

/// `loss.svg` from `metrics.jsonl`: train loss and validation loss by step.
fn write_loss_curve(out: &Path) -> Result<()> {
    use crate::plot::{line_chart, Series};
    let metrics = out.join("metrics.jsonl");
    let text = fs_err::read_to_string(&metrics)?;
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|source| TrainError::Metrics {
                path: metrics.clone(),
                line: i + 1,
                source,
            })?;
        let step = v["step"].as_f64().unwrap_or(f64::NAN);
        if let Some(l) = v["loss"].as_f64() {
            train.push((step, l));
        }
        if let Some(l) = v["val_loss"].as_f64() {
            valid.push((step, l));
        }
    }
    let svg = line_chart(
        "Training loss",
        "optimizer step",
        "mean NLL per target token",
        &[
            Series {
                label: "train".into(),
                color: "#4a78b5",
                points: train,
            },
            Series {
                label: "validation".into(),
                color: "#d9822b",
                points: valid,
            },
        ],
    );
    crate::core::fs::write_atomic(&out.join("loss.svg"), svg.as_bytes())?;
    Ok(())
}
