//! How the frozen base weights of a model are held in memory: dense, kept MLX-quantized, or
//! quantized at load (QLoRA). The loading itself is backend code (see
//! [`crate::model::candle::weights`]); this is the backend-neutral choice, written in a training
//! config's `[base]` section.

use serde::{Deserialize, Serialize};

/// How the frozen base model is held in memory.
///
/// An MLX-quantized checkpoint stays quantized (QLoRA: ~4.5 bits per weight at 4 bits, group
/// 64) unless `dequantize`; a dense checkpoint is quantized at load with `quantize_bits`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaseConfig {
    /// Expand a quantized checkpoint to dense f32 (faster steps, 7x the memory).
    pub dequantize: bool,
    /// Quantize a dense checkpoint's projection and embedding matrices at load (2-8 bits).
    pub quantize_bits: Option<u32>,
    /// Group size for `quantize_bits`: 32, 64 or 128.
    pub quantize_group_size: usize,
}

impl Default for BaseConfig {
    fn default() -> Self {
        Self {
            dequantize: false,
            quantize_bits: None,
            quantize_group_size: 64,
        }
    }
}
