//! The candle tensor backend (candle 0.11; CPU always, CUDA/Metal behind the `cuda`/`metal`
//! cargo features): the architectures' forward passes, checkpoint loading, the KV cache and
//! generation.
//!
//! - [`ops`]: differentiable building blocks (never candle's fused kernels, which have no
//!   backward pass: gradients would silently vanish);
//! - [`quantized`]: frozen base weights, dense or MLX-quantized, with input-only backward passes;
//! - [`weights`]: safetensors checkpoints in, random checkpoints out;
//! - [`model`]: the decoder-only model every architecture shares ([`model::CausalLm`]: blocks,
//!   LoRA on any linear, one forward for training and generation, the loss);
//! - [`qwen3`]: Qwen3's attention (with Qwen3.5's output gate and partial RoPE);
//! - [`qwen3_5`]: Qwen3.5's Gated DeltaNet (chunked and recurrent delta rule) and its loader;
//! - [`kv_cache`], [`generate`]: the cache (keys/values and recurrent states),
//!   [`crate::model::generate::Decoder`] for the model, and loading a model (with an adapter)
//!   for generation.
//!
//! Nothing here trains: the optimizer and the training loop are `train`'s (its candle backend
//! drives these models).

pub mod generate;
pub mod kv_cache;
pub mod model;
pub mod ops;
pub mod quantized;
pub mod qwen3;
pub mod qwen3_5;
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
