//! The MLX tensor backend (mlx-rs 0.33 over mlx-c 0.7 / MLX 0.32; cargo feature `mlx`):
//! Metal on Apple Silicon, MLX's CPU backend elsewhere (Linux builds against the SDK that
//! `tests/mlx-sdk` prepares).
//!
//! - [`qwen3`]: the Qwen3 forward with LoRA on MLX arrays, the parameters passed in so that
//!   MLX's autograd (`value_and_grad`) can differentiate with respect to them.
//!
//! What is here so far: the Qwen3 forward (dense base, f32) built from the same host tensors as
//! the candle model, checked against candle's logits. Not yet here (issue 16): loading
//! checkpoints (dense and MLX-quantized) straight into MLX arrays, QLoRA's `quantized_matmul`,
//! the KV cache and [`crate::model::generate::Decoder`], and the training backend.
//!
//! Like [`super::candle`], nothing here trains, and nothing here may depend on `train` or
//! `eval`. MLX arrays are lazy: a value exists only after `eval` (done by [`to_host`]).

pub mod qwen3;

#[cfg(test)]
mod tests;

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
    shape
        .iter()
        .map(|&d| {
            i32::try_from(d).map_err(|_| {
                ModelError::Config(format!(
                    "dimension {d} is too large for an MLX array (i32 dimensions)"
                ))
            })
        })
        .collect()
}

impl From<mlx_rs::error::Exception> for ModelError {
    fn from(e: mlx_rs::error::Exception) -> Self {
        ModelError::Mlx(e.what().to_string())
    }
}
