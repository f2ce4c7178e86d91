//! Qwen3.5's Gated DeltaNet on MLX: the computation of [`crate::model::candle::qwen3_5`] (see
//! there for the references and the formulas; weights come in through candle's loader, which
//! reads both checkpoint layouts). Qwen3.5's full-attention layers are
//! [`super::qwen3::Attention`] with `output_gate` and partial RoPE.
//!
//! The delta rule: training and prefill use the chunked form of candle's
//! [`crate::model::candle::qwen3_5::delta_rule_chunked`] (chunks of
//! [`crate::model::candle::qwen3_5::CHUNK`] tokens, the WY representation `(I + A)^-1` inside a
//! chunk, only the state carried between chunks), written with MLX ops so that MLX's autograd
//! differentiates it; `(I + A)^-1` is a forward substitution, one row per step, batched over
//! every chunk and head. Decoding one token uses the recurrent step ([`delta_rule_recurrent`],
//! mlx-lm's `gated_delta_ops`) from the cached state. Both are checked against candle's.

use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::Array;

use super::kv_cache::{MlxCache, RecurrentState};
use super::model::{tensor, ForwardCtx, Linear, Positions};
use super::{dim, dims};
use crate::model::block::{self, Linears};
use crate::model::candle::qwen3_5::{GatedDeltaNet as CandleDeltaNet, CHUNK};
use crate::model::lora::TargetModule;
use crate::model::Result;

/// A Gated DeltaNet layer (see [`crate::model::candle::qwen3_5`]).
#[derive(Debug, Clone)]
pub struct GatedDeltaNet {
    pub in_proj_qkv: Linear,
    pub in_proj_z: Linear,
    pub in_proj_b: Linear,
    pub in_proj_a: Linear,
    pub out_proj: Linear,
    /// Depthwise causal convolution, `[channels, kernel]`.
    pub conv1d: Array,
    /// `[Hv]`
    pub dt_bias: Array,
    /// `-exp(A_log)`, `[Hv]`.
    pub neg_a: Array,
    /// The gated RMSNorm's weight, `[Dv]`.
    pub norm: Array,
    pub num_k_heads: usize,
    pub num_v_heads: usize,
    pub head_k_dim: usize,
    pub head_v_dim: usize,
    pub channels: usize,
    pub kernel: usize,
    pub eps: f32,
}

impl GatedDeltaNet {
    /// The candle layer's weights and shape as MLX arrays (no LoRA: the model attaches it).
    pub fn from_candle(d: &CandleDeltaNet) -> Result<Self> {
        let (channels, kernel) = d.conv1d.dims2()?;
        Ok(GatedDeltaNet {
            in_proj_qkv: Linear::from_candle(&d.in_proj_qkv)?,
            in_proj_z: Linear::from_candle(&d.in_proj_z)?,
            in_proj_b: Linear::from_candle(&d.in_proj_b)?,
            in_proj_a: Linear::from_candle(&d.in_proj_a)?,
            out_proj: Linear::from_candle(&d.out_proj)?,
            conv1d: tensor(&d.conv1d)?,
            dt_bias: tensor(&d.dt_bias)?,
            neg_a: tensor(&d.neg_a)?,
            norm: tensor(&d.norm)?,
            num_k_heads: d.num_k_heads,
            num_v_heads: d.num_v_heads,
            head_k_dim: d.head_k_dim,
            head_v_dim: d.head_v_dim,
            channels,
            kernel,
            eps: d.eps as f32,
        })
    }

    /// The mixer's output `[b * t, hidden]` for normed inputs `xn` `[b * t, hidden]`. With a
    /// cache (layer `i` of it), the convolution and the delta rule start from the cached state
    /// and leave theirs there. The linears run in candle's order (qkv, z, b, a, out), so dropout
    /// draws match.
    pub fn forward(
        &self,
        xn: &Array,
        pos: &Positions,
        ctx: &mut ForwardCtx,
        cache: Option<(&mut MlxCache, usize)>,
    ) -> Result<Array> {
        let (b, t) = (pos.batch, pos.seq);
        let (hk, hv, dk, dv) = (
            self.num_k_heads,
            self.num_v_heads,
            self.head_k_dim,
            self.head_v_dim,
        );
        let (channels, kernel) = (self.channels, self.kernel);
        let qkv = self
            .in_proj_qkv
            .forward(xn, ctx)?
            .reshape(&dims(&[b, t, channels])?)?;
        let z = self
            .in_proj_z
            .forward(xn, ctx)?
            .reshape(&dims(&[b, t, hv, dv])?)?;
        let beta = mlx_rs::ops::sigmoid(&self.in_proj_b.forward(xn, ctx)?)?;
        let a = self.in_proj_a.forward(xn, ctx)?;
        // log g = -exp(A_log) * softplus(a + dt_bias), per token and value head.
        let log_g = mlx_rs::nn::softplus(a.add(&self.dt_bias)?)?.multiply(&self.neg_a)?;

        let prior = cache.as_ref().and_then(|(c, i)| c.recurrent(*i).cloned());
        let conv_prev = match &prior {
            Some(s) => s.conv.clone(),
            None => Array::zeros::<f32>(&dims(&[b, kernel - 1, channels])?)?,
        };
        let padded = mlx_rs::ops::concatenate(&[&conv_prev, &qkv], 1)?;
        // Causal depthwise convolution: out[t] = sum_j w[:, j] * in[t - (K - 1) + j].
        let (tt, kk) = (dim(t)?, dim(kernel)?);
        let mut conv = padded
            .index((.., 0..tt, ..))
            .multiply(self.conv1d.index((.., 0)))?;
        for j in 1..kk {
            let w = self.conv1d.index((.., j));
            conv = conv.add(padded.index((.., j..j + tt, ..)).multiply(w)?)?;
        }
        let conv = mlx_rs::nn::silu(conv)?;
        let kd = dim(hk * dk)?;
        let q = conv
            .index((.., .., 0..kd))
            .reshape(&dims(&[b, t, hk, dk])?)?;
        let k = conv
            .index((.., .., kd..2 * kd))
            .reshape(&dims(&[b, t, hk, dk])?)?;
        let v = conv
            .index((.., .., 2 * kd..))
            .reshape(&dims(&[b, t, hv, dv])?)?;
        let q = l2_norm(&q)?.multiply(Array::from_f32(1.0 / (dk as f32).sqrt()))?;
        let k = l2_norm(&k)?;
        // Each q/k head serves `hv / hk` consecutive value heads.
        let to_heads = |x: Array, d: usize| -> Result<Array> {
            if hv == hk {
                return Ok(x);
            }
            let wide = dims(&[b, t, hk, hv / hk, d])?;
            Ok(mlx_rs::ops::broadcast_to(x.expand_dims(3)?, &wide)?
                .reshape(&dims(&[b, t, hv, d])?)?)
        };
        let q = to_heads(q, dk)?;
        let k = to_heads(k, dk)?;
        let beta = beta.reshape(&dims(&[b, t, hv])?)?;
        let log_g = log_g.reshape(&dims(&[b, t, hv])?)?;
        let state0 = match &prior {
            Some(s) => s.state.clone(),
            None => Array::zeros::<f32>(&dims(&[b, hv, dk, dv])?)?,
        };
        let (y, state) = if t == 1 {
            delta_rule_recurrent(&q, &k, &v, &log_g, &beta, state0)?
        } else {
            delta_rule_chunked(&q, &k, &v, &log_g, &beta, state0, CHUNK)?
        };
        if let Some((cache, i)) = cache {
            cache.set_recurrent(
                i,
                RecurrentState {
                    conv: padded.index((.., tt..tt + kk - 1, ..)),
                    state,
                },
            );
        }
        // The gated RMSNorm: rms_norm(y) * w * silu(z), per value head.
        let y = mlx_rs::fast::rms_norm(&y, Some(&self.norm), self.eps)?
            .multiply(mlx_rs::nn::silu(z)?)?;
        self.out_proj
            .forward(&y.reshape(&dims(&[b * t, hv * dv])?)?, ctx)
    }
}

impl Linears<Linear> for GatedDeltaNet {
    fn linear_mut(&mut self, m: TargetModule) -> Option<&mut Linear> {
        let s = self;
        let projections = [
            &mut s.in_proj_qkv,
            &mut s.in_proj_z,
            &mut s.in_proj_a,
            &mut s.in_proj_b,
            &mut s.out_proj,
        ];
        block::delta_net_linear(m, projections)
    }
}

/// `x / sqrt(sum(x^2) + 1e-6)` over the last axis (candle's `ops::l2_norm`).
fn l2_norm(x: &Array) -> Result<Array> {
    let sum = x.square()?.sum_axis(-1, true)?;
    Ok(x.multiply(sum.add(Array::from_f32(1e-6))?.rsqrt()?)?)
}

/// The delta rule one token at a time: `q`, `k` `[b, t, H, Dk]`, `v` `[b, t, H, Dv]`, `log_g`,
/// `beta` `[b, t, H]`, from `state` `[b, H, Dk, Dv]`. Returns the outputs `[b, t, H, Dv]` and
/// the final state. Per token: `S = g S; S += k (beta (v - k^T S)); y = q^T S`.
pub fn delta_rule_recurrent(
    q: &Array,
    k: &Array,
    v: &Array,
    log_g: &Array,
    beta: &Array,
    state: Array,
) -> Result<(Array, Array)> {
    let t = q.shape()[1];
    let mut s = state;
    let mut ys = Vec::with_capacity(t as usize);
    for i in 0..t {
        let qi = q.index((.., i)).expand_dims(-2)?; // [b, H, 1, Dk]
        let ki = k.index((.., i)).expand_dims(-2)?;
        let vi = v.index((.., i)).expand_dims(-2)?; // [b, H, 1, Dv]
        let gi = log_g
            .index((.., i))
            .exp()?
            .reshape(&[-1, s.shape()[1], 1, 1])?;
        let bi = beta.index((.., i)).reshape(&[-1, s.shape()[1], 1, 1])?;
        s = s.multiply(gi)?;
        let kv_mem = ki.matmul(&s)?; // [b, H, 1, Dv]
        let delta = vi.subtract(kv_mem)?.multiply(bi)?;
        s = s.add(ki.swap_axes(-1, -2)?.matmul(delta)?)?;
        ys.push(qi.matmul(&s)?.squeeze_axes(&[-2])?); // [b, H, Dv]
    }
    Ok((mlx_rs::ops::stack(&ys, 1)?, s))
}

/// The delta rule in chunks of `chunk` tokens: the same inputs (`[b, t, H, d]`, gates
/// `[b, t, H]`, state `[b, H, Dk, Dv]`) and results as [`delta_rule_recurrent`], the
/// computation of candle's `delta_rule_chunked`.
pub fn delta_rule_chunked(
    q: &Array,
    k: &Array,
    v: &Array,
    log_g: &Array,
    beta: &Array,
    state: Array,
    chunk: usize,
) -> Result<(Array, Array)> {
    let (b, t, h) = (q.shape()[0], q.shape()[1], q.shape()[2]);
    let (dk, dv) = (q.shape()[3], v.shape()[3]);
    let n = b * h;
    let c = dim(chunk)?;
    let nc = (t + c - 1) / c;
    let pad = nc * c - t;
    // Heads to the batch axis, time padded to whole chunks with zeros (k = v = beta = 0 and
    // log g = 0 leave the state as it is), then chunks to the batch axis: [n * nc, c, ...].
    let chunked = |x: &Array, d: Option<i32>| -> Result<Array> {
        let x = match d {
            Some(d) => x.transpose_axes(&[0, 2, 1, 3])?.reshape(&[n, t, d])?,
            None => x.transpose_axes(&[0, 2, 1])?.reshape(&[n, t])?,
        };
        let x = if pad > 0 {
            let mut shape = x.shape().to_vec();
            shape[1] = pad;
            mlx_rs::ops::concatenate(&[x, Array::zeros::<f32>(&shape)?], 1)?
        } else {
            x
        };
        Ok(match d {
            Some(d) => x.reshape(&[n * nc, c, d])?,
            None => x.reshape(&[n * nc, c])?,
        })
    };
    let (q, k, v) = (
        chunked(q, Some(dk))?,
        chunked(k, Some(dk))?,
        chunked(v, Some(dv))?,
    );
    let (log_g, beta) = (chunked(log_g, None)?, chunked(beta, None)?);

    // Masks over a chunk: lower triangle with and without the diagonal.
    let ones = Array::ones::<f32>(&[c, c])?;
    let lower = mlx_rs::ops::tril(&ones, 0)?;
    let strict = mlx_rs::ops::tril(&ones, -1)?;
    // Cumulative log decay inside each chunk: gc[i] = sum_{j <= i} log g[j].
    let gc = log_g.cumsum(1, None, None)?; // [m, c]
    let diff = gc.expand_dims(2)?.subtract(gc.expand_dims(1)?)?; // gc_i - gc_j
                                                                 // exp only where j <= i (elsewhere the difference is positive and may overflow).
    let decay = diff.multiply(&lower)?.exp()?.multiply(&lower)?;
    let kb = k.multiply(beta.expand_dims(2)?)?;
    let vb = v.multiply(beta.expand_dims(2)?)?;
    let a = kb
        .matmul(k.swap_axes(1, 2)?)?
        .multiply(&decay)?
        .multiply(&strict)?;
    let tinv = unit_lower_inverse(&a)?; // (I + A)^-1
    let u = tinv.matmul(&vb)?; // [m, c, Dv]
    let w = tinv.matmul(kb.multiply(gc.exp()?.expand_dims(2)?)?)?; // [m, c, Dk]
    let intra = q.matmul(k.swap_axes(1, 2)?)?.multiply(&decay)?; // [m, c, c]
    let q_decay = q.multiply(gc.exp()?.expand_dims(2)?)?;
    let g_last = gc.index((.., c - 1..c)); // [m, 1]
    let k_tail = k.multiply(g_last.subtract(&gc)?.exp()?.expand_dims(2)?)?;
    let g_last = g_last.exp()?.expand_dims(2)?; // [m, 1, 1]

    // Chunk i of every head: [n, ...].
    let per_chunk = |x: &Array, i: i32| -> Result<Array> {
        let mut shape = vec![n, nc];
        shape.extend_from_slice(&x.shape()[1..]);
        Ok(x.reshape(&shape)?.index((.., i)))
    };
    let mut s = state.reshape(&[n, dk, dv])?;
    let mut outs = Vec::with_capacity(nc as usize);
    for i in 0..nc {
        let v_new = per_chunk(&u, i)?.subtract(per_chunk(&w, i)?.matmul(&s)?)?;
        let out = per_chunk(&q_decay, i)?
            .matmul(&s)?
            .add(per_chunk(&intra, i)?.matmul(&v_new)?)?;
        outs.push(out);
        s = s
            .multiply(per_chunk(&g_last, i)?)?
            .add(per_chunk(&k_tail, i)?.swap_axes(1, 2)?.matmul(&v_new)?)?;
    }
    let y = mlx_rs::ops::concatenate(&outs, 1)?.index((.., 0..t));
    let y = y.reshape(&[b, h, t, dv])?.transpose_axes(&[0, 2, 1, 3])?;
    Ok((y, s.reshape(&[b, h, dk, dv])?))
}

/// `(I + A)^-1` for a stack of strictly lower-triangular `A` `[m, c, c]` (only the strict lower
/// triangle is read), by forward substitution `T[i] = e_i - A[i, :i] T[:i]`, one row per step;
/// differentiable in `A` through MLX's autograd.
fn unit_lower_inverse(a: &Array) -> Result<Array> {
    let (m, c) = (a.shape()[0], a.shape()[1]);
    let eye = Array::eye::<f32>(c, None, None)?;
    let row = |i: i32| -> Result<Array> {
        Ok(mlx_rs::ops::broadcast_to(
            eye.index(i..i + 1).expand_dims(0)?,
            &[m, 1, c],
        )?)
    };
    let mut t = row(0)?;
    for i in 1..c {
        let ai = a.index((.., i..i + 1, 0..i)); // [m, 1, i]
        let next = row(i)?.subtract(ai.matmul(&t)?)?;
        t = mlx_rs::ops::concatenate(&[t, next], 1)?;
    }
    Ok(t)
}
