//! The cache of generation on candle: every attention layer's keys and values of the tokens fed
//! so far (and attention of new tokens against them), and every recurrent layer's state (Qwen3.5's
//! Gated DeltaNet: the convolution's last inputs and the delta rule's state). Holds only detached
//! tensors; never changes a model.

use candle_core::Tensor;

/// Keys and values of every attention layer, and the state of every recurrent layer, for the
/// tokens fed so far.
///
/// Each layer keeps a preallocated buffer `[1, kv_heads, capacity, head_dim]` (grown by doubling)
/// and new tokens are written in place after the cached ones, so a step costs no copy of the
/// cache; attention reads a view of the first `len` positions. Because buffers are written in
/// place, `clone` makes a deep copy: one prefilled prompt can seed several samples, and no two
/// caches ever share storage. Recurrent states are replaced, never written in place, so copies
/// may share them.
#[derive(Debug)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    recurrent: Vec<Option<RecurrentState>>,
    len: usize,
}

/// A recurrent layer's state after the tokens fed so far (Qwen3.5's Gated DeltaNet).
#[derive(Debug, Clone)]
pub struct RecurrentState {
    /// The last `kernel - 1` inputs of the causal convolution, `[1, kernel - 1, channels]`.
    pub conv: Tensor,
    /// The delta rule's state, `[value_heads, key_dim, value_dim]`.
    pub state: Tensor,
}

impl Clone for KvCache {
    fn clone(&self) -> Self {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                l.as_ref().map(|(k, v)| {
                    (
                        k.copy().expect("copy of a cache buffer"),
                        v.copy().expect("copy of a cache buffer"),
                    )
                })
            })
            .collect();
        Self {
            layers,
            recurrent: self.recurrent.clone(),
            len: self.len,
        }
    }
}

impl KvCache {
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

    /// Writes layer `layer`'s keys and values of the tokens being fed (`[1, kv_heads, n,
    /// head_dim]`) after the cached ones and returns views of every position so far. The cache
    /// length moves on only with [`KvCache::advance`], once every layer has been written.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        k: &Tensor,
        v: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        append_kv(&mut self.layers[layer], self.len, k, v)
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
}

/// Writes `k`, `v` (`[1, kv_heads, n, head_dim]`) at positions `past..past + n` of one layer's
/// buffers, growing them when full, and returns views of positions `0..past + n`.
fn append_kv(
    slot: &mut Option<(Tensor, Tensor)>,
    past: usize,
    k: &Tensor,
    v: &Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let (_, heads, n, hd) = k.dims4()?;
    let need = past + n;
    let cap = slot.as_ref().map_or(0, |(bk, _)| bk.dim(2).unwrap_or(0));
    if need > cap {
        let new_cap = need.next_power_of_two().max(64).max(2 * cap);
        let bk = Tensor::zeros((1, heads, new_cap, hd), k.dtype(), k.device())?;
        let bv = Tensor::zeros((1, heads, new_cap, hd), v.dtype(), v.device())?;
        if let Some((ok, ov)) = slot.take() {
            if past > 0 {
                bk.slice_set(&ok.narrow(2, 0, past)?.contiguous()?, 2, 0)?;
                bv.slice_set(&ov.narrow(2, 0, past)?.contiguous()?, 2, 0)?;
            }
        }
        *slot = Some((bk, bv));
    }
    let (bk, bv) = slot.as_ref().expect("allocated above");
    bk.slice_set(&k.contiguous()?, 2, past)?;
    bv.slice_set(&v.contiguous()?, 2, past)?;
    Ok((bk.narrow(2, 0, need)?, bv.narrow(2, 0, need)?))
}

/// Grouped-query attention without copying keys and values per query head: the `n_rep` query
/// heads that share a KV head are stacked as rows, `[1, hkv, n_rep * n, d]`, against that head's
/// keys (the same result as [`super::ops::attention`] with `repeat_kv`). `q` is `[1, hq, n, d]`
/// (contiguous), `k`/`v` are `[1, hkv, t, d]` (views are fine); `mask` is `[n, t]`.
pub(crate) fn grouped_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let (_, hq, n, d) = q.dims4()?;
    let hkv = k.dim(1)?;
    let n_rep = hq / hkv;
    let q = q.reshape((1, hkv, n_rep * n, d))?;
    let scale = 1.0 / (d as f64).sqrt();
    let scores = (q.matmul(&k.t()?)? * scale)?;
    let scores = match mask {
        Some(m) if n_rep > 1 => scores.broadcast_add(&Tensor::cat(&vec![m; n_rep], 0)?)?,
        Some(m) => scores.broadcast_add(m)?,
        None => scores,
    };
    super::ops::softmax_last_dim(&scores)?
        .matmul(v)?
        .reshape((1, hq, n, d))
}
