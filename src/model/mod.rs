//! The model layer shared by `train` and `eval`: what a causal language model is and how to run
//! it, independent of why (training or generation).
//!
//! Backend-neutral parts, which never touch a tensor library:
//! - [`block`]: what a decoder block holds and which linear a LoRA target names;
//! - [`config`]: the architecture a model folder holds, from `config.json`'s `model_type`, and
//!   its parsed configuration ([`config::ModelConfig`]);
//! - [`qwen3`], [`qwen3_5`]: each architecture's configuration and checkpoint weight names;
//! - [`lora`], [`adapter`], [`tensor`]: LoRA targets and keys, and the mlx-lm and PEFT adapter
//!   files (read and write) over host tensors;
//! - [`quant`]: MLX affine quantization of weight matrices;
//! - [`weights`]: how the frozen base weights are held in memory ([`weights::BaseConfig`]);
//! - [`chat`]: the model's tokenizer and chat template;
//! - [`generate`]: sampling, stop rules and the generation loop over a [`generate::Decoder`].
//!
//! Tensor backends, one module each: [`candle`] (CPU; CUDA/Metal behind cargo features), which
//! implements the architectures (one forward per architecture for training and for generation
//! with a cache) and loads safetensors checkpoints. An architecture is a variant of
//! [`config::Architecture`] and [`config::ModelConfig`], its config module here and its layers
//! in each backend. `mlx` (cargo feature `mlx`: mlx-rs) is the second backend, beside [`candle`]
//! and in its structure (one `CausalLm`, the same mixers, LoRA on any linear, a cache and
//! [`generate::Decoder`]): it loads checkpoints through candle's reader (same configs, layouts,
//! adapters and quantized weights) and differentiates with MLX's `value_and_grad`.
//!
//! This layer must never depend on `train` or `eval` (optimizers, schedules, datasets, scoring):
//! they depend on it.

pub mod adapter;
pub mod block;
pub mod candle;
pub mod chat;
pub mod config;
pub mod device;
pub mod generate;
pub mod lora;
#[cfg(feature = "mlx")]
pub mod mlx;
pub mod quant;
pub mod qwen3;
pub mod qwen3_5;
pub mod tensor;
pub mod weights;

pub use device::DeviceKind;
pub use lora::{LoraConfig, LoraKey, TargetModule};
pub use tensor::{HostTensor, LoraTensors};

use std::path::PathBuf;

/// Everything that can go wrong while reading a model folder, its weights, tokenizer, chat
/// template or an adapter.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("tensor backend error: {0}")]
    Candle(#[from] ::candle_core::Error),
    /// An error of the MLX backend (feature `mlx`), as MLX words it.
    #[error("MLX backend error: {0}")]
    Mlx(String),
    #[error("{path}: invalid JSON: {source}; fix or regenerate the file")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: not a readable safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: missing tensor `{key}`; is this a checkpoint of the architecture its config.json names?")]
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
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
