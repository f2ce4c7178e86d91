//! Generation on MLX: [`CausalLm`] as a [`Decoder`] (its one forward, fed after an
//! [`MlxCache`]), with the model's own LoRA parameters, and loading a model folder for
//! generation, the base alone or with an mlx-lm or PEFT adapter. Each step evaluates the logits
//! it returns together with everything the cache holds, so no lazy graph outlives a step. Never
//! changes the model's weights.

use std::path::Path;

use candle_core::Device;
use mlx_rs::ops::indexing::IndexOp;

use super::kv_cache::MlxCache;
use super::model::CausalLm;
use crate::model::adapter::LoadedAdapter;
use crate::model::generate::{Decoder, Result};
use crate::model::{candle, ModelError};

/// Loads a model folder for generation on MLX, with no adapter or with the adapter found under
/// `adapter_dir`: candle's [`candle::generate::load_model`] (the same adapter resolution and
/// checks, the same errors naming the file) with the weights then moved into MLX arrays.
pub fn load_model(
    model_dir: &Path,
    adapter_dir: Option<&Path>,
) -> Result<(CausalLm, Option<LoadedAdapter>)> {
    let (model, adapter) = candle::generate::load_model(model_dir, adapter_dir, &Device::Cpu)?;
    Ok((CausalLm::from_candle(model)?, adapter))
}

impl Decoder for CausalLm {
    type Cache = MlxCache;

    fn new_cache(&self) -> MlxCache {
        MlxCache::new(self.layers.len())
    }

    fn feed(&self, ids: &[u32], cache: &mut MlxCache) -> Result<Vec<f32>> {
        let hidden = self.forward_hidden_cached(ids, cache)?;
        // Only the last position's logits are needed (a real vocabulary is ~150k wide).
        let last = super::dim(ids.len() - 1)?;
        let logits = self.logits(&hidden.index(last..last + 1))?;
        mlx_rs::transforms::eval(std::iter::once(&logits).chain(cache.arrays()))
            .map_err(ModelError::from)?;
        Ok(super::to_host(&logits)?.data)
    }

    fn cached_tokens(cache: &MlxCache) -> usize {
        cache.len()
    }

    fn vocab_size(&self) -> usize {
        self.config.vocab_size()
    }

    fn context_limit(&self) -> Option<usize> {
        self.config.max_position_embeddings()
    }
}
