//! LoRA fine-tuning of causal language models, embedded in vcurate: the optimizer, the
//! learning-rate schedule, batching, the training loop, checkpoints for resume, fusing an adapter
//! into its base, and the training config. The model itself (architectures, weights, tokenizer
//! and chat template, adapter formats) is the shared [`crate::model`] layer, which `eval` uses
//! too.
//!
//! - [`run()`] is the `vcurate train` pipeline: a snapshot's train/valid examples through the
//!   model's chat template into batches, a run of [`fit`], then `training.json` and `loss.svg`;
//!   [`fuse::fuse`] is `vcurate train fuse`.
//! - The backend-neutral core ([`backend`], [`schedule`], [`trainer`], [`data`], [`fit`],
//!   [`checkpoint`]) sees token ids, loss masks and [`crate::model::HostTensor`]s only.
//! - Training backends implement [`Backend`] (the forward, backward and optimizer state):
//!   [`candle`] (CPU, with CUDA/Metal behind the `cuda`/`metal` cargo features), over
//!   [`crate::model::candle`]'s models, and `mlx` (cargo feature `mlx`, `device = "mlx"`), over
//!   `crate::model::mlx`'s, its gradients from MLX's autograd. [`run()`] picks one by the
//!   config's `device`.
//!
//! This module must never use an op without a backward pass on the training path: candle's fused
//! `rms_norm`, `softmax_last_dim`, `rope*`, CPU flash-attn and `QMatMul::forward` silently drop
//! gradients, so the models are written from differentiable basic ops
//! (see [`crate::model::candle::ops`]). It must never reach into `eval`.

pub mod backend;
pub mod candle;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod fit;
pub mod fuse;
#[cfg(feature = "mlx")]
pub mod mlx;
pub mod run;
pub mod schedule;
pub mod trainer;

pub use backend::{Backend, Batch};
pub use run::{run, TrainEvent, TrainReport, TrainSettings};

use std::path::PathBuf;

use crate::model::ModelError;

/// Everything that can go wrong while training, checkpointing, fusing or writing adapters.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading the model, its tokenizer or an adapter.
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("adapter file {path}: {message}")]
    Adapter { path: PathBuf, message: String },
    #[error("loss is not finite ({0}) at step {1}; lower the learning rate or check the data")]
    NonFinite(f64, usize),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::freeze::SnapshotError),
    #[error("reading the snapshot's examples: {0}")]
    Examples(#[from] crate::store::StoreError),
    #[error("loading the tokenizer and chat template from {}", path.display())]
    Tokenizer {
        path: PathBuf,
        #[source]
        source: ModelError,
    },
    #[error("example {id}")]
    Example {
        id: String,
        #[source]
        source: ModelError,
    },
    #[error("snapshot {0} has no train examples")]
    NoTrainExamples(String),
    #[error("{path}:{line}: not JSON")]
    Metrics {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// Tensor errors of the training loop are the model layer's (one message, one place).
impl From<::candle_core::Error> for TrainError {
    fn from(e: ::candle_core::Error) -> Self {
        TrainError::Model(ModelError::Candle(e))
    }
}
