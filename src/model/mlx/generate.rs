//! Generation on MLX: [`CausalLm`] as a [`Decoder`] (its one forward, fed after an
//! [`MlxCache`]), with the model's own LoRA parameters. Each step evaluates the logits it
//! returns together with everything the cache holds, so no lazy graph outlives a step. Never
//! changes the model's weights.

use mlx_rs::ops::indexing::IndexOp;

use super::kv_cache::MlxCache;
use super::model::CausalLm;
use crate::model::generate::{Decoder, Result};
use crate::model::ModelError;

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
