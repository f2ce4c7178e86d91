//! The candle tensor backend (candle 0.11; CPU always, CUDA/Metal behind the `cuda`/`metal`
//! cargo features): the architectures' forward passes, checkpoint loading, the KV cache and
//! generation.
//!
//! - [`ops`]: differentiable building blocks (never candle's fused kernels, which have no
//!   backward pass: gradients would silently vanish);
//! - [`quantized`]: frozen base weights, dense or MLX-quantized, with input-only backward passes;
//! - [`weights`]: safetensors checkpoints in, random checkpoints out;
//! - [`qwen3`]: the Qwen3 model with LoRA, one forward for training and generation;
//! - [`kv_cache`], [`generate`]: the cache, [`crate::model::generate::Decoder`] for the models,
//!   and loading a model (with an adapter) for generation.
//!
//! Nothing here trains: the optimizer and the training loop are `train`'s (its candle backend
//! drives these models).

pub mod generate;
pub mod kv_cache;
pub mod ops;
pub mod quantized;
pub mod qwen3;
pub mod weights;

use candle_core::Tensor;

use crate::model::{HostTensor, ModelError, Result};

/// A candle tensor copied to the host as f32.
pub fn to_host(t: &Tensor) -> Result<HostTensor> {
    Ok(HostTensor::new(
        t.dims().to_vec(),
        t.to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?,
    ))
}

/// A host tensor as a candle tensor on the device and in the dtype of `like`, whose shape it
/// must have.
pub fn from_host(h: &HostTensor, like: &Tensor) -> Result<Tensor> {
    if h.shape != like.dims() {
        return Err(ModelError::BadShape {
            key: "LoRA tensor".into(),
            got: h.shape.clone(),
            expected: like.dims().to_vec(),
        });
    }
    Ok(
        Tensor::from_vec(h.data.clone(), h.shape.as_slice(), like.device())?
            .to_dtype(like.dtype())?,
    )
}
