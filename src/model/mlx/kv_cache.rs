//! The cache of generation on MLX: every attention layer's keys and values of the tokens fed so
//! far, and every recurrent layer's state (Qwen3.5's Gated DeltaNet: the convolution's last
//! inputs and the delta rule's state). The MLX counterpart of
//! [`crate::model::candle::kv_cache`].
//!
//! MLX arrays are immutable, so appending makes new arrays (keys and values are concatenated)
//! and a clone of the cache shares nothing that could change: one prefilled prompt can seed
//! several samples. Never changes a model.

use mlx_rs::Array;

use crate::model::Result;

/// Keys and values of every attention layer, and the state of every recurrent layer, for the
/// tokens fed so far.
#[derive(Debug, Clone)]
pub struct MlxCache {
    layers: Vec<Option<(Array, Array)>>,
    recurrent: Vec<Option<RecurrentState>>,
    len: usize,
}

/// A recurrent layer's state after the tokens fed so far (Qwen3.5's Gated DeltaNet).
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// The last `kernel - 1` inputs of the causal convolution, `[1, kernel - 1, channels]`.
    pub conv: Array,
    /// The delta rule's state, `[1, value_heads, key_dim, value_dim]`.
    pub state: Array,
}

impl MlxCache {
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![None; n_layers],
            recurrent: vec![None; n_layers],
            len: 0,
        }
    }

    /// Tokens cached so far: the absolute position of the next token fed.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Decoder layers the cache was made for.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Appends layer `layer`'s keys and values of the tokens being fed (`[1, kv_heads, n,
    /// head_dim]`) to the cached ones and returns every position so far. The cache length moves
    /// on only with [`MlxCache::advance`], once every layer has been written.
    pub(crate) fn append(&mut self, layer: usize, k: Array, v: Array) -> Result<(Array, Array)> {
        let kv = match self.layers[layer].take() {
            None => (k, v),
            Some((ok, ov)) => (
                mlx_rs::ops::concatenate(&[ok, k], 2)?,
                mlx_rs::ops::concatenate(&[ov, v], 2)?,
            ),
        };
        self.layers[layer] = Some(kv.clone());
        Ok(kv)
    }

    /// Layer `layer`'s recurrent state, `None` before the first token.
    pub(crate) fn recurrent(&self, layer: usize) -> Option<&RecurrentState> {
        self.recurrent[layer].as_ref()
    }

    /// Replaces layer `layer`'s recurrent state with the one after the tokens being fed.
    pub(crate) fn set_recurrent(&mut self, layer: usize, state: RecurrentState) {
        self.recurrent[layer] = Some(state);
    }

    /// Counts `n` more tokens as cached.
    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }

    /// Every array the cache holds (to evaluate them with a step's output, so that no lazy
    /// graph grows across steps).
    pub(crate) fn arrays(&self) -> impl Iterator<Item = &Array> {
        let kv = self.layers.iter().flatten().flat_map(|(k, v)| [k, v]);
        let rec = self
            .recurrent
            .iter()
            .flatten()
            .flat_map(|s| [&s.conv, &s.state]);
        kv.chain(rec)
    }
}
