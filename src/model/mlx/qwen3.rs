//! Qwen3's attention on MLX, which Qwen3.5's full-attention layers reuse with two additions: the
//! computation of [`crate::model::candle::qwen3`] (see there for the references), written with
//! mlx-lm's ops (`models/qwen3.py`, `models/qwen3_next.py`): `fast.rms_norm` on each head,
//! `fast.rope` with `traditional = false` on the first `rotary_dim` dimensions of each head (it
//! leaves the rest as they are), and `fast.scaled_dot_product_attention` over grouped-query
//! heads (keys and values are not repeated per query head).
//!
//! Qwen3.5: `q_proj` emits, per head, the query and an output gate (`2 * head_dim` wide), and
//! the attention output is multiplied by `sigmoid(gate)` before `o_proj`.

use mlx_rs::fast::{self, ScaledDotProductAttentionMask};
use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::Array;

use super::kv_cache::MlxCache;
use super::model::{tensor, ForwardCtx, Linear, Positions};
use super::{dim, dims};
use crate::model::block::{self, Linears};
use crate::model::candle::qwen3::Attention as CandleAttention;
use crate::model::lora::TargetModule;
use crate::model::Result;

/// Grouped-query self-attention with per-head q/k RMSNorm and RoPE.
#[derive(Debug, Clone)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    pub q_norm: Array,
    pub k_norm: Array,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    /// Leading dimensions of each head that RoPE turns (`head_dim` for Qwen3).
    pub rotary_dim: usize,
    /// RoPE's base.
    pub rope_theta: f32,
    /// Qwen3.5: `q_proj` also emits a per-head gate; the output is `o_proj(out * sigmoid(gate))`.
    pub output_gate: bool,
    pub eps: f32,
}

impl Attention {
    /// The candle layer's weights and shape as MLX arrays (no LoRA: the model attaches it).
    pub fn from_candle(a: &CandleAttention, rope_theta: f64) -> Result<Self> {
        Ok(Attention {
            q_proj: Linear::from_candle(&a.q_proj)?,
            k_proj: Linear::from_candle(&a.k_proj)?,
            v_proj: Linear::from_candle(&a.v_proj)?,
            o_proj: Linear::from_candle(&a.o_proj)?,
            q_norm: tensor(&a.q_norm)?,
            k_norm: tensor(&a.k_norm)?,
            n_heads: a.n_heads,
            n_kv_heads: a.n_kv_heads,
            head_dim: a.head_dim,
            rotary_dim: a.rotary_dim,
            rope_theta: rope_theta as f32,
            output_gate: a.output_gate,
            eps: a.eps as f32,
        })
    }

    /// The mixer's output `[b * t, hidden]` for normed inputs `xn` `[b * t, hidden]`. With a
    /// cache (layer `i` of it), the keys and values of the new tokens are appended and attention
    /// reads every cached one. The linears run in candle's order (q, k, v, o), so dropout draws
    /// match.
    pub fn forward(
        &self,
        xn: &Array,
        pos: &Positions,
        ctx: &mut ForwardCtx,
        cache: Option<(&mut MlxCache, usize)>,
    ) -> Result<Array> {
        let (b, t, hd) = (pos.batch, pos.seq, self.head_dim);
        let (nq, nkv) = (self.n_heads, self.n_kv_heads);
        // [b * t, n * hd] -> [b, n, t, hd], each head RMS-normed first when given a norm.
        let heads = |y: Array, n: usize, norm: Option<&Array>| -> Result<Array> {
            let y = y.reshape(&dims(&[b, t, n, hd])?)?;
            let y = match norm {
                Some(w) => fast::rms_norm(&y, Some(w), self.eps)?,
                None => y,
            };
            Ok(y.transpose_axes(&[0, 2, 1, 3])?)
        };
        let rope = |y: &Array| -> Result<Array> {
            Ok(fast::rope(
                y,
                dim(self.rotary_dim)?,
                false,
                self.rope_theta,
                1.0,
                dim(pos.past)?,
                None,
            )?)
        };
        let q_out = self.q_proj.forward(xn, ctx)?;
        let (q, gate) = if self.output_gate {
            // Per head: the query, then its gate (transformers chunks the `2 * head_dim` row).
            let both = q_out.reshape(&dims(&[b * t, nq, 2 * hd])?)?;
            let h = dim(hd)?;
            let flat = dims(&[b * t, nq * hd])?;
            (
                both.index((.., .., 0..h)).reshape(&flat)?,
                Some(both.index((.., .., h..2 * h)).reshape(&flat)?),
            )
        } else {
            (q_out, None)
        };
        let q = rope(&heads(q, nq, Some(&self.q_norm))?)?;
        let k = rope(&heads(
            self.k_proj.forward(xn, ctx)?,
            nkv,
            Some(&self.k_norm),
        )?)?;
        let v = heads(self.v_proj.forward(xn, ctx)?, nkv, None)?;
        let scale = 1.0 / (hd as f32).sqrt();
        let att = match cache {
            None => fast::scaled_dot_product_attention(
                q,
                k,
                v,
                scale,
                ScaledDotProductAttentionMask::Causal,
                None,
            )?,
            Some((cache, i)) => {
                let (k, v) = cache.append(i, k, v)?;
                if t == 1 {
                    // One new token may see everything cached.
                    fast::scaled_dot_product_attention(q, k, v, scale, None, None)?
                } else {
                    let mask = causal_mask_after(pos.past, t)?;
                    fast::scaled_dot_product_attention(q, k, v, scale, &mask, None)?
                }
            }
        };
        let att = att
            .transpose_axes(&[0, 2, 1, 3])?
            .reshape(&dims(&[b * t, nq * hd])?)?;
        let att = match gate {
            Some(g) => att.multiply(mlx_rs::ops::sigmoid(&g)?)?,
            None => att,
        };
        self.o_proj.forward(&att, ctx)
    }
}

impl Linears<Linear> for Attention {
    fn linear_mut(&mut self, m: TargetModule) -> Option<&mut Linear> {
        let s = self;
        block::attention_linear(
            m,
            [&mut s.q_proj, &mut s.k_proj, &mut s.v_proj, &mut s.o_proj],
        )
    }
}

/// Boolean mask `[n, past + n]` (true = attend) for `n` new tokens after `past` cached ones: new
/// token `i` (position `past + i`) sees every cached token and the new tokens up to itself.
fn causal_mask_after(past: usize, n: usize) -> Result<Array> {
    let (past, n) = (dim(past)?, dim(n)?);
    let rows = Array::arange::<_, i32>(past, past + n, None)?.reshape(&[n, 1])?;
    let cols = Array::arange::<_, i32>(None, past + n, None)?.reshape(&[1, past + n])?;
    Ok(cols.le(&rows)?)
}
