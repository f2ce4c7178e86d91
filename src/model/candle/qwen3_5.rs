//! Qwen3.5 on candle: the Gated DeltaNet mixer (forward, backward through candle's autograd, a
//! recurrent state cache for generation), the gated attention of its full-attention layers
//! ([`super::qwen3::Attention`] with `output_gate` and partial RoPE), and loading its checkpoints
//! in either layout (see [`crate::model::qwen3_5`]).
//!
//! The Gated DeltaNet (transformers `models/qwen3_5/modeling_qwen3_5.py`
//! `Qwen3_5GatedDeltaNet`; mlx-lm `models/qwen3_5.py` `GatedDeltaNet` and `gated_delta.py`):
//! `in_proj_qkv` feeds a causal depthwise convolution (kernel `K`) and SiLU, split into queries
//! and keys (`Hk` heads of `Dk`) and values (`Hv` heads of `Dv`); q and k are L2-normalised, q
//! scaled by `Dk^-0.5`, and each q/k head serves `Hv / Hk` value heads. Per token and value
//! head, `beta = sigmoid(in_proj_b x)` and the decay `g = exp(-exp(A_log) * softplus(in_proj_a x
//! + dt_bias))` drive the delta rule on a `[Dk, Dv]` state `S`:
//! `S = g S; S += k (beta (v - k^T S)); y = q^T S`. The output goes through an RMSNorm gated by
//! `silu(in_proj_z x)` and `out_proj`.
//!
//! Training and prefill use the chunked form of the delta rule (transformers'
//! `torch_chunk_gated_delta_rule`, chunks of [`CHUNK`] tokens): inside a chunk the rule is the
//! WY representation `(I + A)^-1` with `A` strictly lower triangular, between chunks only the
//! state is carried. Its memory is `O(T * d)` for the activations plus one state per chunk, never
//! one state per token. `(I + A)^-1` is the one hand-written backward here
//! ([`UnitLowerInverse`], checked against finite differences in f64); everything else is
//! candle's autograd over the ops of [`super::ops`]. Decoding one token at a time uses the
//! recurrent form with the state and the convolution's last inputs in the cache.
//!
//! Must not call fused candle kernels (see [`super::ops`]).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{CpuStorage, DType, Device, Layout, Shape, Tensor};

use super::kv_cache::{KvCache, RecurrentState};
use super::model::{ForwardCtx, Linear, Mixer, Positions, WeightTaker};
use super::ops;
use super::quantized::Weight;
use super::qwen3::{Attention, AttentionShape};
use super::weights::{load_checkpoint_weights_where, write_random_weights};
use crate::model::block::{self, Linears};
use crate::model::lora::TargetModule;
use crate::model::qwen3_5::{
    canonical_key, hf_weight_shapes, is_zero_centred_norm, LayerKind, Qwen35Config,
};
use crate::model::weights::BaseConfig;
use crate::model::{ModelError, Result};

/// Tokens per chunk of the chunked delta rule (transformers' `chunk_size`).
pub const CHUNK: usize = 64;

/// Every weight of the language model in this crate's names and layout (`conv1d.weight` as
/// `[C, K]`), with its shape.
pub fn weight_shapes(c: &Qwen35Config) -> Vec<(String, Vec<usize>)> {
    hf_weight_shapes(c)
        .into_iter()
        .filter_map(|(k, shape)| {
            let k = canonical_key(&k)?;
            let shape = if k.ends_with("conv1d.weight") {
                vec![shape[0], shape[2]]
            } else {
                shape
            };
            Some((k, shape))
        })
        .collect()
}

/// Read a Qwen3.5 checkpoint folder as the language model's base weights: vision and MTP tensors
/// are never read, keys are mapped to the language model's names, and the Hugging Face layout
/// (zero-centred norms, `conv1d.weight` `[C, 1, K]`) is converted to the one the forward uses
/// (`1 + w`, `[C, K]`), detected from the convolution weights as mlx-lm's `sanitize` does.
pub fn load_weights(
    dir: &Path,
    base: &BaseConfig,
    device: &Device,
) -> Result<HashMap<String, Weight>> {
    let raw = load_checkpoint_weights_where(dir, base, device, &|k| canonical_key(k).is_some())?;
    sanitize(raw)
}

/// Map checkpoint keys to the language model's and convert the Hugging Face layout (see
/// [`load_weights`]).
pub fn sanitize(raw: HashMap<String, Weight>) -> Result<HashMap<String, Weight>> {
    let hf_layout = raw.iter().any(|(k, w)| {
        k.ends_with("conv1d.weight") && matches!(w, Weight::Dense(t) if t.dims().last() != Some(&1))
    });
    let mut out = HashMap::with_capacity(raw.len());
    for (k, w) in raw {
        let Some(key) = canonical_key(&k) else {
            continue;
        };
        let w = match w {
            Weight::Dense(t) if key.ends_with("conv1d.weight") => {
                let dims = t.dims().to_vec();
                if dims.len() != 3 || (dims[1] != 1 && dims[2] != 1) {
                    return Err(ModelError::BadShape {
                        key,
                        got: dims,
                        expected: vec![0, 1, 0],
                    });
                }
                let kernel = dims[1].max(dims[2]);
                Weight::Dense(t.reshape((dims[0], kernel))?)
            }
            Weight::Dense(t) if hf_layout && is_zero_centred_norm(&key) => {
                Weight::Dense((t + 1.0)?)
            }
            w => w,
        };
        out.insert(key, w);
    }
    Ok(out)
}

/// Layer `layer`'s mixer, from weights under `prefix` (`model.layers.N`).
pub fn mixer(
    take: &mut WeightTaker,
    prefix: &str,
    layer: usize,
    c: &Qwen35Config,
) -> Result<Mixer> {
    Ok(match c.layer_kind(layer) {
        LayerKind::Attention => Mixer::Attention(Attention::load(
            take,
            prefix,
            AttentionShape {
                n_heads: c.num_attention_heads,
                n_kv_heads: c.num_key_value_heads,
                head_dim: c.head_dim(),
                rotary_dim: c.rotary_dim(),
                output_gate: true,
                qkv_bias: c.attention_bias,
                o_bias: c.attention_bias,
                eps: c.rms_norm_eps,
            },
        )?),
        LayerKind::DeltaNet => {
            let p = format!("{prefix}.linear_attn");
            let a_log = take.tensor(&format!("{p}.A_log"))?;
            Mixer::DeltaNet(GatedDeltaNet {
                in_proj_qkv: take.linear(&format!("{p}.in_proj_qkv"), false)?,
                in_proj_z: take.linear(&format!("{p}.in_proj_z"), false)?,
                in_proj_b: take.linear(&format!("{p}.in_proj_b"), false)?,
                in_proj_a: take.linear(&format!("{p}.in_proj_a"), false)?,
                out_proj: take.linear(&format!("{p}.out_proj"), false)?,
                conv1d: take.tensor(&format!("{p}.conv1d.weight"))?,
                dt_bias: take.tensor(&format!("{p}.dt_bias"))?,
                neg_a: a_log.exp()?.neg()?,
                norm: take.tensor(&format!("{p}.norm.weight"))?,
                num_k_heads: c.linear_num_key_heads,
                num_v_heads: c.linear_num_value_heads,
                head_k_dim: c.linear_key_head_dim,
                head_v_dim: c.linear_value_head_dim,
                eps: c.rms_norm_eps,
            })
        }
    })
}

/// A Gated DeltaNet layer (see the module docs).
#[derive(Debug, Clone)]
pub struct GatedDeltaNet {
    pub in_proj_qkv: Linear,
    pub in_proj_z: Linear,
    pub in_proj_b: Linear,
    pub in_proj_a: Linear,
    pub out_proj: Linear,
    /// Depthwise causal convolution, `[channels, kernel]`.
    pub conv1d: Tensor,
    /// `[Hv]`
    pub dt_bias: Tensor,
    /// `-exp(A_log)`, `[Hv]`.
    pub neg_a: Tensor,
    /// The gated RMSNorm's weight, `[Dv]`.
    pub norm: Tensor,
    pub num_k_heads: usize,
    pub num_v_heads: usize,
    pub head_k_dim: usize,
    pub head_v_dim: usize,
    pub eps: f64,
}

impl GatedDeltaNet {
    pub fn linears(&self) -> Vec<&Linear> {
        vec![
            &self.in_proj_qkv,
            &self.in_proj_z,
            &self.in_proj_b,
            &self.in_proj_a,
            &self.out_proj,
        ]
    }

    pub fn dense_tensors(&self) -> Vec<&Tensor> {
        vec![&self.conv1d, &self.dt_bias, &self.neg_a, &self.norm]
    }

    fn key_dim(&self) -> usize {
        self.num_k_heads * self.head_k_dim
    }

    /// The mixer's output `[b * t, hidden]` for normed inputs `xn` `[b * t, hidden]`. With a
    /// cache (layer `i` of it), the convolution and the delta rule start from the cached state
    /// and leave theirs there.
    pub fn forward(
        &self,
        xn: &Tensor,
        pos: &Positions,
        ctx: &mut ForwardCtx,
        cache: Option<(&mut KvCache, usize)>,
    ) -> candle_core::Result<Tensor> {
        let (b, t) = (pos.batch, pos.seq);
        let (hk, hv, dk, dv) = (
            self.num_k_heads,
            self.num_v_heads,
            self.head_k_dim,
            self.head_v_dim,
        );
        let channels = self.conv1d.dim(0)?;
        let kernel = self.conv1d.dim(1)?;
        let qkv = self
            .in_proj_qkv
            .forward(xn, ctx)?
            .reshape((b, t, channels))?;
        let z = self.in_proj_z.forward(xn, ctx)?.reshape((b, t, hv, dv))?;
        let beta = ops::sigmoid(&self.in_proj_b.forward(xn, ctx)?)?;
        let a = self.in_proj_a.forward(xn, ctx)?;
        // log g = -exp(A_log) * softplus(a + dt_bias), per token and value head.
        let log_g = ops::softplus(&a.broadcast_add(&self.dt_bias)?)?.broadcast_mul(&self.neg_a)?;

        let prior = cache.as_ref().and_then(|(c, i)| c.recurrent(*i).cloned());
        let conv_prev = match &prior {
            Some(s) => s.conv.clone(),
            None => Tensor::zeros((b, kernel - 1, channels), qkv.dtype(), qkv.device())?,
        };
        let padded = Tensor::cat(&[&conv_prev, &qkv], 1)?;
        // Causal depthwise convolution: out[t] = sum_j w[:, j] * in[t - (K - 1) + j].
        let mut conv = padded
            .narrow(1, 0, t)?
            .broadcast_mul(&self.conv1d.narrow(1, 0, 1)?.squeeze(1)?)?;
        for j in 1..kernel {
            let w = self.conv1d.narrow(1, j, 1)?.squeeze(1)?;
            conv = (conv + padded.narrow(1, j, t)?.broadcast_mul(&w)?)?;
        }
        let conv = conv.silu()?;
        let kd = self.key_dim();
        let q = conv.narrow(2, 0, kd)?.reshape((b, t, hk, dk))?;
        let k = conv.narrow(2, kd, kd)?.reshape((b, t, hk, dk))?;
        let v = conv.narrow(2, 2 * kd, hv * dv)?.reshape((b, t, hv, dv))?;
        let q = (ops::l2_norm(&q, 1e-6)? * (1.0 / (dk as f64).sqrt()))?;
        let k = ops::l2_norm(&k, 1e-6)?;
        // Each q/k head serves `hv / hk` consecutive value heads; heads go to the batch axis.
        let to_heads = |x: Tensor, d: usize| -> candle_core::Result<Tensor> {
            let x = if hv == hk {
                x
            } else {
                x.unsqueeze(3)?
                    .broadcast_as((b, t, hk, hv / hk, d))?
                    .contiguous()?
                    .reshape((b, t, hv, d))?
            };
            x.transpose(1, 2)?.contiguous()?.reshape((b * hv, t, d))
        };
        let q = to_heads(q, dk)?;
        let k = to_heads(k, dk)?;
        let v = v.transpose(1, 2)?.contiguous()?.reshape((b * hv, t, dv))?;
        let per_head = |x: Tensor| -> candle_core::Result<Tensor> {
            x.reshape((b, t, hv))?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * hv, t))
        };
        let beta = per_head(beta)?;
        let log_g = per_head(log_g)?;
        let state0 = prior.as_ref().map(|s| s.state.clone());
        let (y, state) = if t == 1 {
            delta_rule_recurrent(&q, &k, &v, &log_g, &beta, state0.as_ref())?
        } else {
            delta_rule_chunked(&q, &k, &v, &log_g, &beta, state0.as_ref(), CHUNK)?
        };
        if let Some((cache, i)) = cache {
            cache.set_recurrent(
                i,
                RecurrentState {
                    conv: padded.narrow(1, t, kernel - 1)?.detach(),
                    state: state.detach(),
                },
            );
        }
        let y = y.reshape((b, hv, t, dv))?.transpose(1, 2)?;
        // The gated RMSNorm: rms_norm(y) * w * silu(z), per value head.
        let y = (ops::rms_norm(&y, &self.norm, self.eps)? * z.silu()?)?;
        self.out_proj.forward(&y.reshape((b * t, hv * dv))?, ctx)
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

/// The delta rule one token at a time: `q`, `k` `[n, t, Dk]`, `v` `[n, t, Dv]`, `log_g`, `beta`
/// `[n, t]` (`n` = batch x value heads), from `state` `[n, Dk, Dv]` (zeros when `None`). Returns
/// the outputs `[n, t, Dv]` and the final state. The reference the chunked form is tested
/// against, and the decoding step.
pub fn delta_rule_recurrent(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    log_g: &Tensor,
    beta: &Tensor,
    state: Option<&Tensor>,
) -> candle_core::Result<(Tensor, Tensor)> {
    let (n, t, dk) = q.dims3()?;
    let dv = v.dim(2)?;
    let mut s = match state {
        Some(s) => s.clone(),
        None => Tensor::zeros((n, dk, dv), q.dtype(), q.device())?,
    };
    let mut ys = Vec::with_capacity(t);
    for i in 0..t {
        let qi = q.narrow(1, i, 1)?; // [n, 1, Dk]
        let ki = k.narrow(1, i, 1)?;
        let vi = v.narrow(1, i, 1)?; // [n, 1, Dv]
        let gi = log_g.narrow(1, i, 1)?.exp()?.unsqueeze(2)?; // [n, 1, 1]
        let bi = beta.narrow(1, i, 1)?.unsqueeze(2)?;
        s = s.broadcast_mul(&gi)?;
        let kv_mem = ki.matmul(&s)?; // [n, 1, Dv]
        let delta = (vi - kv_mem)?.broadcast_mul(&bi)?;
        s = (s + ki.transpose(1, 2)?.matmul(&delta)?)?;
        ys.push(qi.matmul(&s)?);
    }
    Ok((Tensor::cat(&ys, 1)?, s))
}

/// The delta rule in chunks of `chunk` tokens (transformers' `torch_chunk_gated_delta_rule`):
/// the same inputs and results as [`delta_rule_recurrent`].
pub fn delta_rule_chunked(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    log_g: &Tensor,
    beta: &Tensor,
    state: Option<&Tensor>,
    chunk: usize,
) -> candle_core::Result<(Tensor, Tensor)> {
    let (n, t, dk) = q.dims3()?;
    let dv = v.dim(2)?;
    let (dtype, device) = (q.dtype(), q.device());
    // Zero padding to whole chunks leaves the state as it is: k = v = beta = 0, log g = 0.
    let nc = t.div_ceil(chunk);
    let pad = nc * chunk - t;
    let padded = |x: &Tensor| -> candle_core::Result<Tensor> {
        if pad == 0 {
            return Ok(x.clone());
        }
        let mut shape = x.dims().to_vec();
        shape[1] = pad;
        Tensor::cat(&[x, &Tensor::zeros(shape, dtype, device)?], 1)
    };
    let c = chunk;
    let q = padded(q)?.reshape((n * nc, c, dk))?;
    let k = padded(k)?.reshape((n * nc, c, dk))?;
    let v = padded(v)?.reshape((n * nc, c, dv))?;
    let beta = padded(beta)?.reshape((n * nc, c))?;
    let log_g = padded(log_g)?.reshape((n * nc, c))?;

    // Masks over a chunk: lower triangle with and without the diagonal.
    let tri = |strict: bool| -> candle_core::Result<Tensor> {
        let m: Vec<f32> = (0..c)
            .flat_map(|i| {
                (0..c).map(move |j| {
                    if j < i || (!strict && j == i) {
                        1.0
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        Tensor::from_vec(m, (c, c), device)?.to_dtype(dtype)
    };
    let lower = tri(false)?;
    let strict = tri(true)?;
    // Cumulative log decay inside each chunk: gc[i] = sum_{j <= i} log g[j].
    let gc = log_g.matmul(&lower.t()?)?; // [m, c]
    let diff = gc.unsqueeze(2)?.broadcast_sub(&gc.unsqueeze(1)?)?; // gc_i - gc_j
                                                                   // exp only where j <= i (elsewhere the difference is positive and may overflow).
    let decay = diff.broadcast_mul(&lower)?.exp()?.broadcast_mul(&lower)?;
    let kb = k.broadcast_mul(&beta.unsqueeze(2)?)?;
    let vb = v.broadcast_mul(&beta.unsqueeze(2)?)?;
    let a = kb
        .matmul(&k.transpose(1, 2)?)?
        .mul(&decay)?
        .broadcast_mul(&strict)?;
    let tinv = unit_lower_inverse(&a)?; // (I + A)^-1
    let u = tinv.matmul(&vb)?; // [m, c, Dv]
    let w = tinv.matmul(&kb.broadcast_mul(&gc.exp()?.unsqueeze(2)?)?)?; // [m, c, Dk]
    let intra = q.matmul(&k.transpose(1, 2)?)?.mul(&decay)?; // [m, c, c]
    let q_decay = q.broadcast_mul(&gc.exp()?.unsqueeze(2)?)?;
    let g_last = gc.narrow(1, c - 1, 1)?; // [m, 1]
    let k_tail = k.broadcast_mul(&g_last.broadcast_sub(&gc)?.exp()?.unsqueeze(2)?)?;
    let g_last = g_last.exp()?.unsqueeze(2)?; // [m, 1, 1]

    let per_chunk = |x: &Tensor, i: usize| -> candle_core::Result<Tensor> {
        let rest = &x.dims()[1..];
        let mut shape = vec![n, nc];
        shape.extend_from_slice(rest);
        x.reshape(shape)?.narrow(1, i, 1)?.squeeze(1)
    };
    let mut s = match state {
        Some(s) => s.clone(),
        None => Tensor::zeros((n, dk, dv), dtype, device)?,
    };
    let mut outs = Vec::with_capacity(nc);
    for i in 0..nc {
        let v_new = (per_chunk(&u, i)? - per_chunk(&w, i)?.matmul(&s)?)?;
        let out = (per_chunk(&q_decay, i)?.matmul(&s)? + per_chunk(&intra, i)?.matmul(&v_new)?)?;
        outs.push(out);
        s = (s.broadcast_mul(&per_chunk(&g_last, i)?)?
            + per_chunk(&k_tail, i)?.transpose(1, 2)?.matmul(&v_new)?)?;
    }
    let y = Tensor::cat(&outs, 1)?.narrow(1, 0, t)?;
    Ok((y, s))
}

/// `(I + A)^-1` for a stack of strictly lower-triangular `A` `[m, c, c]` (only the strict lower
/// triangle is read). Differentiable in `A`.
pub fn unit_lower_inverse(a: &Tensor) -> candle_core::Result<Tensor> {
    if a.device().is_cpu() {
        return a.contiguous()?.apply_op1(UnitLowerInverse);
    }
    unit_lower_inverse_by_rows(a)
}

/// [`unit_lower_inverse`] on other devices: forward substitution with autograd ops, row by row
/// (`T = I - A T`).
fn unit_lower_inverse_by_rows(a: &Tensor) -> candle_core::Result<Tensor> {
    let (_, c, _) = a.dims3()?;
    let eye = Tensor::eye(c, a.dtype(), a.device())?;
    let mut rows: Vec<Tensor> = Vec::with_capacity(c);
    for i in 0..c {
        let e = eye
            .narrow(0, i, 1)?
            .unsqueeze(0)?
            .broadcast_as((a.dim(0)?, 1, c))?;
        if i == 0 {
            rows.push(e.contiguous()?);
            continue;
        }
        let above = Tensor::cat(&rows, 1)?; // [m, i, c]
        let ai = a.narrow(1, i, 1)?.narrow(2, 0, i)?; // [m, 1, i]
        rows.push((e - ai.matmul(&above)?)?);
    }
    Tensor::cat(&rows, 1)
}

/// `T = (I + A)^-1` of strictly lower-triangular `A`, with backward
/// `dL/dA = -strict_lower(T^T (dL/dT) T^T)` (from `dT = -T dA T`).
struct UnitLowerInverse;

fn unit_lower_inverse_host<F>(a: &[F], m: usize, c: usize) -> Vec<F>
where
    F: Copy
        + Default
        + From<f32>
        + std::ops::Add<Output = F>
        + std::ops::Mul<Output = F>
        + std::ops::Sub<Output = F>,
{
    let mut out = vec![F::default(); m * c * c];
    for (am, tm) in a.chunks(c * c).zip(out.chunks_mut(c * c)) {
        for i in 0..c {
            tm[i * c + i] = F::from(1.0);
            for j in 0..i {
                // T[i, j] = -sum_{j <= r < i} A[i, r] T[r, j]
                let mut acc = F::default();
                for r in j..i {
                    acc = acc + am[i * c + r] * tm[r * c + j];
                }
                tm[i * c + j] = F::default() - acc;
            }
        }
    }
    out
}

impl candle_core::CustomOp1 for UnitLowerInverse {
    fn name(&self) -> &'static str {
        "unit-lower-inverse"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (start, end) = layout.contiguous_offsets().ok_or_else(|| {
            candle_core::Error::Msg("unit-lower-inverse needs a contiguous input".into())
        })?;
        let dims = layout.shape().dims();
        if dims.len() != 3 || dims[1] != dims[2] {
            candle_core::bail!("unit-lower-inverse takes [m, c, c], got {dims:?}");
        }
        let (m, c) = (dims[0], dims[1]);
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(unit_lower_inverse_host(&v[start..end], m, c)),
            CpuStorage::F64(v) => CpuStorage::F64(unit_lower_inverse_host(&v[start..end], m, c)),
            _ => candle_core::bail!("unit-lower-inverse computes in f32 or f64"),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let c = res.dim(1)?;
        let tt = res.detach().transpose(1, 2)?.contiguous()?;
        let g = tt.matmul(&grad_res.contiguous()?)?.matmul(&tt)?.neg()?;
        let strict: Vec<f32> = (0..c)
            .flat_map(|i| (0..c).map(move |j| if j < i { 1.0 } else { 0.0 }))
            .collect();
        let strict = Tensor::from_vec(strict, (c, c), res.device())?.to_dtype(res.dtype())?;
        Ok(Some(g.broadcast_mul(&strict)?))
    }
}

/// Write a Qwen3.5 checkpoint with random weights in the Hugging Face layout (`config.json` of a
/// `Qwen3_5ForConditionalGeneration` + `model.safetensors` with `model.language_model.*` keys,
/// zero-centred norms, `conv1d.weight` `[C, 1, K]`) for tests and benchmarks.
pub fn write_random_checkpoint(
    dir: &Path,
    config: &Qwen35Config,
    seed: u64,
    dtype: DType,
) -> Result<()> {
    let json = serde_json::json!({
        "architectures": ["Qwen3_5ForConditionalGeneration"],
        "model_type": "qwen3_5",
        "tie_word_embeddings": config.tie_word_embeddings,
        "text_config": config,
    });
    write_random_weights(
        dir,
        &json,
        hf_weight_shapes(config),
        seed,
        dtype,
        |key, unit| {
            if key.ends_with("A_log") {
                // log of a rate in [1, 16], as models are initialised.
                Some((1.0 + 15.0 * unit).ln())
            } else if key.ends_with("dt_bias") || key.ends_with("linear_attn.norm.weight") {
                Some(1.0 + 0.2 * (unit - 0.5))
            } else if canonical_key(key).is_some_and(|k| is_zero_centred_norm(&k)) {
                Some(0.2 * (unit - 0.5))
            } else {
                None
            }
        },
    )
}

/// A Hugging Face layout checkpoint tensor as mlx-lm's `sanitize` saves it (tests):
/// `language_model.model.*` names, zero-centred norms shifted to `1 + w`, `conv1d.weight`
/// `[C, 1, K]` as `[C, K, 1]`.
#[cfg(test)]
pub(crate) fn to_mlx_layout(key: &str, t: &Tensor) -> (String, Tensor) {
    let canon = canonical_key(key).expect("a language-model tensor");
    let t = if is_zero_centred_norm(&canon) {
        (t + 1.0).expect("shift a norm")
    } else if key.ends_with("conv1d.weight") {
        t.transpose(1, 2)
            .and_then(|t| t.contiguous())
            .expect("transpose a convolution")
    } else {
        t.clone()
    };
    let name = match canon.strip_prefix("model.") {
        Some(rest) => format!("language_model.model.{rest}"),
        None => format!("language_model.{canon}"),
    };
    (name, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::candle::ops::tests::{check_grad, rand_tensor};

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    }

    fn strictly_lower(a: &Tensor) -> Tensor {
        let c = a.dim(1).unwrap();
        let m: Vec<f64> = (0..c)
            .flat_map(|i| (0..c).map(move |j| if j < i { 1.0 } else { 0.0 }))
            .collect();
        a.broadcast_mul(&Tensor::from_vec(m, (c, c), &Device::Cpu).unwrap())
            .unwrap()
    }

    #[test]
    fn unit_lower_inverse_inverts_and_its_backward_matches_finite_differences() {
        let a = strictly_lower(&(rand_tensor(&[3, 6, 6], 1) * 0.5).unwrap());
        let t = unit_lower_inverse(&a).unwrap();
        let eye = Tensor::eye(6, DType::F64, &Device::Cpu).unwrap();
        let prod = (a.clone().broadcast_add(&eye).unwrap()).matmul(&t).unwrap();
        assert!(
            max_diff(
                &prod,
                &eye.unsqueeze(0).unwrap().broadcast_as((3, 6, 6)).unwrap()
            ) < 1e-12
        );
        check_grad(|x| unit_lower_inverse(&strictly_lower(x)), &[2, 5, 5], 2);
        // The other devices' row-by-row substitution gives the same, with autograd's gradient.
        assert!(max_diff(&unit_lower_inverse_by_rows(&a).unwrap(), &t) < 1e-12);
        check_grad(
            |x| unit_lower_inverse_by_rows(&strictly_lower(x)),
            &[2, 5, 5],
            3,
        );
    }

    /// Random delta-rule inputs for `n` heads over `t` tokens, normalised as the layer does.
    fn inputs(n: usize, t: usize, dk: usize, dv: usize, seed: u64) -> [Tensor; 5] {
        let q = ops::l2_norm(&rand_tensor(&[n, t, dk], seed), 1e-6).unwrap();
        let k = ops::l2_norm(&rand_tensor(&[n, t, dk], seed + 1), 1e-6).unwrap();
        let v = rand_tensor(&[n, t, dv], seed + 2);
        let log_g = ((rand_tensor(&[n, t], seed + 3) - 1.5).unwrap() * 0.3).unwrap();
        let beta = ops::sigmoid(&rand_tensor(&[n, t], seed + 4)).unwrap();
        [q, k, v, log_g, beta]
    }

    #[test]
    fn chunked_delta_rule_equals_the_recurrent_one_across_chunks_and_from_a_state() {
        let [q, k, v, g, b] = inputs(3, 21, 4, 5, 10);
        let (y0, s0) = delta_rule_recurrent(&q, &k, &v, &g, &b, None).unwrap();
        for chunk in [1, 4, 8, 21, 64] {
            let (y, s) = delta_rule_chunked(&q, &k, &v, &g, &b, None, chunk).unwrap();
            assert!(max_diff(&y, &y0) < 1e-12, "chunk {chunk}");
            assert!(max_diff(&s, &s0) < 1e-12, "chunk {chunk}");
        }
        // Starting from the state after a prefix gives the rest of the sequence.
        let split = |x: &Tensor, a: usize, len: usize| x.narrow(1, a, len).unwrap();
        let (_, s7) = delta_rule_recurrent(
            &split(&q, 0, 7),
            &split(&k, 0, 7),
            &split(&v, 0, 7),
            &split(&g, 0, 7),
            &split(&b, 0, 7),
            None,
        )
        .unwrap();
        let (y, s) = delta_rule_chunked(
            &split(&q, 7, 14),
            &split(&k, 7, 14),
            &split(&v, 7, 14),
            &split(&g, 7, 14),
            &split(&b, 7, 14),
            Some(&s7),
            4,
        )
        .unwrap();
        assert!(max_diff(&y, &split(&y0, 7, 14)) < 1e-12);
        assert!(max_diff(&s, &s0) < 1e-12);
    }

    #[test]
    fn chunked_delta_rule_gradients_match_finite_differences() {
        let [q, k, v, g, b] = inputs(2, 11, 3, 4, 20);
        let run = |q: &Tensor, k: &Tensor, v: &Tensor, g: &Tensor, b: &Tensor| {
            let (y, s) = delta_rule_chunked(q, k, v, g, b, None, 4)?;
            Tensor::cat(&[y.flatten_all()?, s.flatten_all()?], 0)
        };
        check_grad(|x| run(x, &k, &v, &g, &b), &[2, 11, 3], 21);
        check_grad(|x| run(&q, x, &v, &g, &b), &[2, 11, 3], 22);
        check_grad(|x| run(&q, &k, x, &g, &b), &[2, 11, 4], 23);
        check_grad(|x| run(&q, &k, &v, &(x * 0.2).unwrap(), &b), &[2, 11], 24);
        check_grad(
            |x| run(&q, &k, &v, &g, &ops::sigmoid(x).unwrap()),
            &[2, 11],
            25,
        );
    }

    fn logits(model: &crate::model::candle::model::CausalLm, ids: &[u32]) -> Tensor {
        model
            .forward(
                &Tensor::from_slice(ids, (1, ids.len()), &Device::Cpu).unwrap(),
                &mut ForwardCtx { rng: None },
            )
            .unwrap()
            .squeeze(0)
            .unwrap()
    }

    /// The Hugging Face layout (zero-centred norms, `[C, 1, K]` convolutions,
    /// `model.language_model.*`) and mlx-lm's (`1 + w`, `[C, K, 1]`, `language_model.model.*`)
    /// of the same weights load to the same model; vision and MTP tensors are skipped.
    #[test]
    fn both_layouts_load_to_the_same_model_and_vision_and_mtp_are_skipped() {
        use crate::model::candle::model::CausalLm;
        use crate::model::LoraConfig;
        let tmp = tempfile::tempdir().unwrap();
        let (hf, mlx) = (tmp.path().join("hf"), tmp.path().join("mlx"));
        write_random_checkpoint(
            &hf,
            &crate::model::qwen3_5::tiny_config(false),
            9,
            DType::F32,
        )
        .unwrap();
        let file = hf.join("model.safetensors");
        let mut raw = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
        let mut converted: HashMap<String, Tensor> =
            raw.iter().map(|(k, t)| to_mlx_layout(k, t)).collect();
        let junk = Tensor::zeros((3, 5), DType::F32, &Device::Cpu).unwrap();
        raw.insert("model.visual.blocks.0.attn.qkv.weight".into(), junk.clone());
        raw.insert("mtp.layers.0.mlp.gate_proj.weight".into(), junk.clone());
        converted.insert("vision_tower.blocks.0.attn.qkv.weight".into(), junk);
        candle_core::safetensors::save(&raw, &file).unwrap();
        fs_err::create_dir_all(&mlx).unwrap();
        candle_core::safetensors::save(&converted, mlx.join("model.safetensors")).unwrap();
        fs_err::copy(hf.join("config.json"), mlx.join("config.json")).unwrap();

        let load = |d: &Path| {
            CausalLm::load(d, &LoraConfig::default(), 0, &Device::Cpu)
                .unwrap()
                .without_lora()
        };
        let ids: Vec<u32> = (0..20).map(|i| (i * 7 + 3) % 64).collect();
        let (a, b) = (logits(&load(&hf), &ids), logits(&load(&mlx), &ids));
        assert!(max_diff(&a, &b) < 1e-6, "{}", max_diff(&a, &b));
        // An unshifted norm would be a different model.
        assert!(
            a.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                > 1e-3
        );
    }

    /// Prefill through the cache (the chunked rule from a zero state) then one token at a time
    /// (the recurrent step from the cached state): the logits of the full forward.
    #[test]
    fn cached_generation_equals_the_full_forward_across_chunks() {
        use crate::model::candle::model::CausalLm;
        use crate::model::LoraConfig;
        let tmp = tempfile::tempdir().unwrap();
        write_random_checkpoint(
            tmp.path(),
            &crate::model::qwen3_5::tiny_config(true),
            2,
            DType::F32,
        )
        .unwrap();
        let model = CausalLm::load(tmp.path(), &LoraConfig::default(), 0, &Device::Cpu)
            .unwrap()
            .without_lora();
        let ids: Vec<u32> = (0..80).map(|i| (i * 37 + 11) % 64).collect();
        let full = logits(&model, &ids);
        let mut cache = KvCache::new(model.layers.len());
        let mut rows = vec![model.forward_cached(&ids[..70], &mut cache).unwrap()];
        for &t in &ids[70..76] {
            rows.push(model.forward_cached(&[t], &mut cache).unwrap());
        }
        // A second prefill after the first: the chunked rule from a cached state.
        rows.push(model.forward_cached(&ids[76..], &mut cache).unwrap());
        let inc = Tensor::cat(&rows, 0).unwrap();
        assert!(max_diff(&full, &inc) < 1e-4, "{}", max_diff(&full, &inc));
    }
}
