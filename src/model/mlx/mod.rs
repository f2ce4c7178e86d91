//! The MLX tensor backend (mlx-rs 0.33 over mlx-c 0.7 / MLX 0.32; cargo feature `mlx`):
//! Metal on Apple Silicon, MLX's CPU backend elsewhere (Linux builds against the SDK that
//! `tests/mlx-sdk` prepares). The same models as [`super::candle`], in the same structure:
//!
//! - [`model`]: the decoder-only model every architecture shares ([`model::CausalLm`]: blocks
//!   with a token mixer, LoRA on any linear, one forward for training and generation, the loss
//!   and its gradient with respect to the LoRA parameters through MLX's `value_and_grad`);
//! - [`qwen3`]: Qwen3's attention (with Qwen3.5's output gate and partial RoPE);
//! - [`qwen3_5`]: Qwen3.5's Gated DeltaNet (the chunked delta rule for training and prefill,
//!   the recurrent step for decoding);
//! - [`kv_cache`], [`generate`]: the cache (keys/values and recurrent states),
//!   [`crate::model::generate::Decoder`] for the model, and loading a model (with an adapter)
//!   for generation.
//!
//! The API a trainer uses: [`model::CausalLm::load`] / [`model::CausalLm::load_with`] (or
//! [`model::CausalLm::from_host`], [`model::CausalLm::from_candle`]);
//! [`model::CausalLm::lora_keys`] and [`model::CausalLm::lora_params`] (`a` then `b` per key,
//! candle's `lora_tensors` order); [`model::CausalLm::nll_value_and_grad`] (or
//! [`model::CausalLm::nll_sum_with`] inside the caller's own `value_and_grad`) with an optional
//! dropout rng; [`model::CausalLm::set_lora_params`] after a step;
//! [`model::CausalLm::lora_tensors`] / [`model::CausalLm::set_lora_tensors`] for adapter files
//! and checkpoints. All compute in f32 (bf16/f16 checkpoints are widened at load).
//!
//! Checkpoints are read by the candle backend's loader (dense f32/f16/bf16, MLX affine-quantized
//! 4/8-bit, both Qwen3.5 layouts) and moved into MLX arrays (see
//! [`model::CausalLm::from_candle`]): one loader, one layout detection, one LoRA
//! initialisation for both backends. Quantized base weights stay packed and run through
//! `quantized_matmul`.
//!
//! Like [`super::candle`], nothing here trains (no optimizer, no schedule), and nothing here may
//! depend on `train` or `eval`. MLX arrays are lazy: a value exists only after `eval` (done by
//! [`to_host`]). MLX work must stay on one thread at a time.

pub mod generate;
pub mod kv_cache;
pub mod model;
pub mod qwen3;
pub mod qwen3_5;

#[cfg(test)]
mod tests;

/// MLX evaluates on a per-thread default stream; the crate's MLX tests (here and in
/// `train::mlx`) take turns through this one lock rather than rely on MLX's thread safety
/// across test threads.
#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static MLX: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MLX.lock().unwrap_or_else(|e| e.into_inner())
}

use mlx_rs::Array;

use crate::model::{HostTensor, ModelError, Result};

/// An MLX array evaluated and copied to the host as f32 (row-major, whatever its strides: a
/// gradient may come back as a transposed view).
pub fn to_host(a: &Array) -> Result<HostTensor> {
    let a = a.as_type::<f32>()?.contiguous()?;
    a.eval()?;
    let shape = a.shape().iter().map(|&d| d as usize).collect();
    let data = a
        .try_as_slice::<f32>()
        .map_err(|e| ModelError::Mlx(e.to_string()))?
        .to_vec();
    Ok(HostTensor::new(shape, data))
}

/// A host tensor as an f32 MLX array of the same shape.
pub fn from_host(h: &HostTensor) -> Result<Array> {
    Ok(Array::from_slice(&h.data, &dims(&h.shape)?))
}

/// Array dimensions as MLX takes them (i32).
pub(crate) fn dims(shape: &[usize]) -> Result<Vec<i32>> {
    shape.iter().map(|&d| dim(d)).collect()
}

/// One array dimension (or index) as MLX takes it (i32).
pub(crate) fn dim(d: usize) -> Result<i32> {
    i32::try_from(d).map_err(|_| {
        ModelError::Config(format!(
            "dimension {d} is too large for an MLX array (i32 dimensions)"
        ))
    })
}

impl From<mlx_rs::error::Exception> for ModelError {
    fn from(e: mlx_rs::error::Exception) -> Self {
        ModelError::Mlx(e.what().to_string())
    }
}
