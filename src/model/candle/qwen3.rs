//! Qwen3's attention on candle, which Qwen3.5's full-attention layers reuse with two additions.
//!
//! Qwen3 (transformers `models/qwen3/modeling_qwen3.py` `Qwen3Attention`; mlx-lm
//! `models/qwen3.py`): q/k/v projections (+ bias when `attention_bias`), `q_norm`/`k_norm` (an
//! RMSNorm over each head's `head_dim`) before RoPE ("rotate half" layout), grouped-query
//! attention, `o_proj`. Weight names `model.layers.N.self_attn.{q,k,v,o}_proj.weight`,
//! `model.layers.N.self_attn.{q,k}_norm.weight`.
//!
//! Qwen3.5 (transformers `models/qwen3_5/modeling_qwen3_5.py` `Qwen3_5Attention`; mlx-lm
//! `models/qwen3_next.py` `Qwen3NextAttention`): `q_proj` emits, per head, the query and an
//! output gate (`2 * head_dim` wide), RoPE turns only the first `rotary_dim` dimensions of each
//! head, and the attention output is multiplied by `sigmoid(gate)` before `o_proj`.
//!
//! Must not call fused candle kernels (see [`super::ops`]).

use candle_core::{Tensor, D};

use super::kv_cache::{self, KvCache};
use super::model::{ForwardCtx, Linear, Positions, WeightTaker};
use super::ops;
use crate::model::block::{self, Linears};
use crate::model::lora::TargetModule;
use crate::model::qwen3::Qwen3Config;
use crate::model::Result;

/// Grouped-query self-attention with per-head q/k RMSNorm and RoPE.
#[derive(Debug, Clone)]
pub struct Attention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    pub q_norm: Tensor,
    pub k_norm: Tensor,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    /// Leading dimensions of each head that RoPE turns (`head_dim` for Qwen3).
    pub rotary_dim: usize,
    /// Qwen3.5: `q_proj` also emits a per-head gate; the output is `o_proj(out * sigmoid(gate))`.
    pub output_gate: bool,
    pub eps: f64,
}

/// What distinguishes one architecture's attention from another's (the weights aside).
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rotary_dim: usize,
    pub output_gate: bool,
    /// Biases on the q/k/v projections (`attention_bias`).
    pub qkv_bias: bool,
    /// A bias on `o_proj` (Qwen3.5's, with `attention_bias`; never Qwen3's).
    pub o_bias: bool,
    pub eps: f64,
}

impl Attention {
    /// The attention of layer `prefix` (`model.layers.N`): `self_attn.{q,k,v,o}_proj`,
    /// `self_attn.{q,k}_norm`.
    pub fn load(take: &mut WeightTaker, prefix: &str, s: AttentionShape) -> Result<Self> {
        let p = format!("{prefix}.self_attn");
        Ok(Attention {
            q_proj: take.linear(&format!("{p}.q_proj"), s.qkv_bias)?,
            k_proj: take.linear(&format!("{p}.k_proj"), s.qkv_bias)?,
            v_proj: take.linear(&format!("{p}.v_proj"), s.qkv_bias)?,
            o_proj: take.linear(&format!("{p}.o_proj"), s.o_bias)?,
            q_norm: take.tensor(&format!("{p}.q_norm.weight"))?,
            k_norm: take.tensor(&format!("{p}.k_norm.weight"))?,
            n_heads: s.n_heads,
            n_kv_heads: s.n_kv_heads,
            head_dim: s.head_dim,
            rotary_dim: s.rotary_dim,
            output_gate: s.output_gate,
            eps: s.eps,
        })
    }

    /// Qwen3's attention of layer `prefix`.
    pub fn qwen3(take: &mut WeightTaker, prefix: &str, c: &Qwen3Config) -> Result<Self> {
        let shape = AttentionShape {
            n_heads: c.num_attention_heads,
            n_kv_heads: c.num_key_value_heads,
            head_dim: c.head_dim(),
            rotary_dim: c.head_dim(),
            output_gate: false,
            qkv_bias: c.attention_bias,
            o_bias: false,
            eps: c.rms_norm_eps,
        };
        Self::load(take, prefix, shape)
    }

    pub fn linears(&self) -> Vec<&Linear> {
        vec![&self.q_proj, &self.k_proj, &self.v_proj, &self.o_proj]
    }

    pub fn dense_tensors(&self) -> Vec<&Tensor> {
        vec![&self.q_norm, &self.k_norm]
    }

    /// RoPE on the first `rotary_dim` dimensions of `x` `[b, heads, t, head_dim]`.
    fn rope(&self, x: &Tensor, pos: &Positions) -> candle_core::Result<Tensor> {
        if self.rotary_dim == self.head_dim {
            return ops::rope(x, &pos.cos, &pos.sin);
        }
        let turned = ops::rope(
            &x.narrow(D::Minus1, 0, self.rotary_dim)?,
            &pos.cos,
            &pos.sin,
        )?;
        let rest = x.narrow(D::Minus1, self.rotary_dim, self.head_dim - self.rotary_dim)?;
        Tensor::cat(&[turned, rest], D::Minus1)
    }

    /// The mixer's output `[b * t, hidden]` for normed inputs `xn` `[b * t, hidden]`. With a
    /// cache (layer `i` of it), the keys and values of the new tokens are appended and attention
    /// reads every cached one.
    pub fn forward(
        &self,
        xn: &Tensor,
        pos: &Positions,
        ctx: &mut ForwardCtx,
        cache: Option<(&mut KvCache, usize)>,
    ) -> candle_core::Result<Tensor> {
        let (b, t, hd) = (pos.batch, pos.seq, self.head_dim);
        let (nq, nkv) = (self.n_heads, self.n_kv_heads);
        let heads = |y: Tensor, n: usize, norm: Option<&Tensor>| -> candle_core::Result<Tensor> {
            let y = y.reshape((b, t, n, hd))?;
            let y = match norm {
                Some(w) => ops::rms_norm(&y, w, self.eps)?,
                None => y,
            };
            y.transpose(1, 2)
        };
        let q_out = self.q_proj.forward(xn, ctx)?;
        let (q, gate) = if self.output_gate {
            // Per head: the query, then its gate (transformers chunks the `2 * head_dim` row).
            let both = q_out.reshape((b * t, nq, 2 * hd))?;
            let gate = both.narrow(D::Minus1, hd, hd)?.reshape((b * t, nq * hd))?;
            (
                both.narrow(D::Minus1, 0, hd)?.reshape((b * t, nq * hd))?,
                Some(gate),
            )
        } else {
            (q_out, None)
        };
        let q = heads(q, nq, Some(&self.q_norm))?;
        let k = heads(self.k_proj.forward(xn, ctx)?, nkv, Some(&self.k_norm))?;
        let v = heads(self.v_proj.forward(xn, ctx)?, nkv, None)?;
        let q = self.rope(&q, pos)?;
        let k = self.rope(&k, pos)?;
        let att = match cache {
            None => ops::attention(&q, &k, &v, pos.mask.as_ref())?,
            Some((cache, i)) => {
                let q = q.contiguous()?.detach();
                let (k, v) = cache.append(i, &k.detach(), &v.detach())?;
                kv_cache::grouped_attention(&q, &k, &v, pos.mask.as_ref())?
            }
        };
        let att = att.transpose(1, 2)?.reshape((b * t, nq * hd))?;
        let att = match gate {
            Some(g) => (att * ops::sigmoid(&g)?)?,
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
