//! LoRA fine-tuning of causal language models, embedded in vcurate.
//!
//! The trainer is split in two (issue 5):
//! - a backend-neutral core ([`backend`], [`lora`], [`adapter`], [`schedule`], [`trainer`],
//!   [`data`]): batches of token ids with a loss mask, the learning-rate schedule, gradient
//!   accumulation, and the adapter files other tools load (mlx-lm and PEFT formats). It sees
//!   tensors only as [`HostTensor`]s.
//! - tensor backends behind the [`Backend`] trait; today [`candle`] (CPU, with CUDA/Metal behind
//!   the `cuda`/`metal` cargo features). An MLX backend would be one more module.
//!
//! This module must never use an op without a backward pass on the training path: candle's fused
//! `rms_norm`, `softmax_last_dim`, `rope*`, CPU flash-attn and `QMatMul::forward` silently drop
//! gradients, so the model is written from differentiable basic ops (see [`candle::ops`]).

pub mod adapter;
pub mod backend;
pub mod candle;
pub mod chat;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod fit;
pub mod fuse;
pub mod lora;
pub mod quant;
pub mod schedule;
pub mod trainer;

pub use backend::{Backend, Batch, HostTensor};
pub use lora::{LoraConfig, LoraKey, TargetModule};

use std::path::PathBuf;

/// Everything that can go wrong while loading a model, training, or writing adapters.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("tensor backend error: {0}")]
    Candle(#[from] ::candle_core::Error),
    #[error("{path}: invalid JSON: {source}; fix or regenerate the file")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: not a readable safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: missing tensor `{key}`; is this a Qwen3 checkpoint in Hugging Face layout?")]
    MissingWeight { path: PathBuf, key: String },
    #[error(
        "tensor `{key}` has shape {got:?}, expected {expected:?}; config.json and weights disagree"
    )]
    BadShape {
        key: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("unsupported dtype {dtype} for tensor `{key}`; expected f32, f16 or bf16")]
    BadDtype { key: String, dtype: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("adapter file {path}: {message}")]
    Adapter { path: PathBuf, message: String },
    #[error("loss is not finite ({0}) at step {1}; lower the learning rate or check the data")]
    NonFinite(f64, usize),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
