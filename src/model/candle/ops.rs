//! Differentiable building blocks of the candle models, written from candle's basic ops (the
//! training forward and the generation forward use the same ones).
//!
//! Every function here is composed only of ops that candle's autograd differentiates
//! (`candle-core` `src/backprop.rs`: matmul, broadcast arithmetic, exp, sqrt, recip, sum, max,
//! narrow, cat, gather, silu). Never replace one with candle's fused kernels
//! (`candle_nn::ops::rms_norm`, `softmax_last_dim`, `candle_nn::rotary_emb::rope*`): they have
//! no backward and gradients would silently vanish. Each op has a finite-difference test.

use candle_core::{DType, Device, Result, Tensor, D};

/// RMSNorm over the last dimension: `x / sqrt(mean(x^2) + eps) * weight`
/// (Hugging Face `Qwen3RMSNorm`; transformers `models/qwen3/modeling_qwen3.py`).
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    let mean_sq = x.sqr()?.mean_keepdim(D::Minus1)?;
    let inv = (mean_sq + eps)?.sqrt()?.recip()?;
    x.broadcast_mul(&inv)?.broadcast_mul(weight)
}

/// `1 / (1 + exp(-x))`.
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    (x.neg()?.exp()? + 1.0)?.recip()
}

/// `log(1 + exp(x))`, computed as `max(x, 0) + log(1 + exp(-|x|))` so that it never overflows
/// (MLX's `nn.softplus` is `logaddexp(x, 0)`, the same function).
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

/// `x / sqrt(sum(x^2) + eps)` over the last dimension (the l2norm of transformers'
/// `modeling_qwen3_5.py` and FLA; mlx-lm's `normalize_qk` computes the same with `rms_norm`).
pub fn l2_norm(x: &Tensor, eps: f64) -> Result<Tensor> {
    let inv = (x.sqr()?.sum_keepdim(D::Minus1)? + eps)?.sqrt()?.recip()?;
    x.broadcast_mul(&inv)
}

/// Softmax over the last dimension. The max is subtracted for stability and detached: softmax is
/// invariant to it, so its gradient contribution is exactly zero.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&sum)
}

/// Log-softmax over the last dimension (for the loss).
pub fn log_softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&lse)
}

/// RoPE tables `(cos, sin)`, each `[seq_len, head_dim / 2]`, for positions `0..seq_len`:
/// `inv_freq[i] = theta^(-2i / head_dim)` (transformers `_compute_default_rope_parameters`).
pub fn rope_tables(
    seq_len: usize,
    head_dim: usize,
    theta: f64,
    dtype: DType,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    rope_tables_at(0, seq_len, head_dim, theta, dtype, device)
}

/// RoPE tables for the absolute positions `start..start + seq_len` (generation with a KV cache
/// feeds tokens after the cached prefix). Row `i` equals row `start + i` of [`rope_tables`].
pub fn rope_tables_at(
    start: usize,
    seq_len: usize,
    head_dim: usize,
    theta: f64,
    dtype: DType,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let half = head_dim / 2;
    let mut cos = Vec::with_capacity(seq_len * half);
    let mut sin = Vec::with_capacity(seq_len * half);
    for pos in start..start + seq_len {
        for i in 0..half {
            let inv_freq = 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64);
            let angle = pos as f64 * inv_freq;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    let cos = Tensor::from_vec(cos, (seq_len, half), device)?.to_dtype(dtype)?;
    let sin = Tensor::from_vec(sin, (seq_len, half), device)?.to_dtype(dtype)?;
    Ok((cos, sin))
}

/// Rotary embedding in the "rotate half" (GPT-NeoX, non-traditional) layout used by Qwen3:
/// with `x = [x1, x2]` split on the last dim, the result is
/// `[x1*cos - x2*sin, x2*cos + x1*sin]` (transformers `apply_rotary_pos_emb`/`rotate_half`;
/// mlx-lm `models/qwen3.py` builds its rope with `traditional=False`).
/// `x` is `[batch, heads, seq, head_dim]`; `cos`/`sin` are `[seq, head_dim/2]`.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let half = x.dim(D::Minus1)? / 2;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let out1 = (x1.broadcast_mul(cos)? - x2.broadcast_mul(sin)?)?;
    let out2 = (x2.broadcast_mul(cos)? + x1.broadcast_mul(sin)?)?;
    Tensor::cat(&[out1, out2], D::Minus1)
}

/// Additive causal mask `[seq, seq]`: 0 on and below the diagonal, -inf above.
pub fn causal_mask(seq_len: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    causal_mask_after(0, seq_len, dtype, device)
}

/// Additive mask `[n, past + n]` for `n` new tokens after `past` cached ones (generation with a
/// KV cache): new token `i` (absolute position `past + i`) sees every cached token and the new
/// tokens up to itself. With `past = 0` this is [`causal_mask`].
pub fn causal_mask_after(past: usize, n: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let total = past + n;
    let mask: Vec<f32> = (0..n)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (n, total), device)?.to_dtype(dtype)
}

/// Repeat each key/value head `n_rep` times along the head axis (grouped-query attention; KV head
/// `h` serves query heads `h*n_rep .. (h+1)*n_rep`, as transformers' `repeat_kv`).
pub fn repeat_kv(x: &Tensor, n_rep: usize) -> Result<Tensor> {
    if n_rep == 1 {
        return Ok(x.clone());
    }
    let (b, h, t, d) = x.dims4()?;
    Tensor::cat(&vec![x; n_rep], 2)?.reshape((b, h * n_rep, t, d))
}

/// Scaled dot-product attention with an additive mask.
/// `q` is `[b, hq, t, d]`, `k`/`v` are `[b, hkv, t, d]` with `hq` a multiple of `hkv`.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let hq = q.dim(1)?;
    let hkv = k.dim(1)?;
    let n_rep = hq / hkv;
    let k = repeat_kv(k, n_rep)?;
    let v = repeat_kv(v, n_rep)?;
    let scale = 1.0 / (q.dim(D::Minus1)? as f64).sqrt();
    let scores = (q.contiguous()?.matmul(&k.t()?.contiguous()?)? * scale)?;
    let scores = match mask {
        Some(m) => scores.broadcast_add(m)?,
        None => scores,
    };
    softmax_last_dim(&scores)?.matmul(&v.contiguous()?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::Var;

    pub(crate) fn rand_tensor(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = crate::core::hash::SplitMix64::new(seed);
        let n: usize = shape.iter().product();
        let data: Vec<f64> = (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect();
        Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
    }

    /// Compare candle's autograd gradient of `sum(f(x) * w)` (random `w`) against central
    /// differences, in f64. Fails if the op drops its gradient (grad missing or zero).
    pub(crate) fn check_grad(f: impl Fn(&Tensor) -> Result<Tensor>, shape: &[usize], seed: u64) {
        let x = Var::from_tensor(&rand_tensor(shape, seed)).unwrap();
        let y = f(x.as_tensor()).unwrap();
        let w = rand_tensor(y.dims(), seed + 1);
        let loss = (y * &w).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let g = grads
            .get(x.as_tensor())
            .expect("no gradient reached the input: the op has no backward")
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let x0 = x
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let eps = 1e-6;
        let eval = |xs: &[f64]| -> f64 {
            let t = Tensor::from_vec(xs.to_vec(), shape, &Device::Cpu).unwrap();
            let y = f(&t).unwrap();
            (y * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let mut max_err = 0f64;
        for i in 0..x0.len() {
            let mut xp = x0.clone();
            xp[i] += eps;
            let mut xm = x0.clone();
            xm[i] -= eps;
            let fd = (eval(&xp) - eval(&xm)) / (2.0 * eps);
            max_err = max_err.max((fd - g[i]).abs() / (1.0 + fd.abs()));
        }
        assert!(
            max_err < 1e-6,
            "autograd vs finite differences: max rel err {max_err}"
        );
        assert!(g.iter().any(|&v| v != 0.0), "gradient is identically zero");
    }

    #[test]
    fn rms_norm_gradient_matches_finite_differences() {
        let w = rand_tensor(&[6], 7);
        check_grad(|x| rms_norm(x, &w, 1e-6), &[2, 3, 6], 1);
        // and the gradient with respect to the weight
        let x = rand_tensor(&[2, 3, 6], 8);
        check_grad(|w| rms_norm(&x, w, 1e-6), &[6], 2);
    }

    #[test]
    fn rms_norm_matches_candle_fused_forward() {
        let x = rand_tensor(&[3, 8], 3).to_dtype(DType::F32).unwrap();
        let w = rand_tensor(&[8], 4).to_dtype(DType::F32).unwrap();
        let ours = rms_norm(&x, &w, 1e-6).unwrap();
        let fused = candle_nn::ops::rms_norm(&x, &w, 1e-6).unwrap();
        let diff = (ours - fused).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }

    #[test]
    fn sigmoid_softplus_and_l2_norm_match_their_definitions_and_finite_differences() {
        check_grad(sigmoid, &[3, 5], 51);
        check_grad(softplus, &[3, 5], 52);
        check_grad(|x| l2_norm(x, 1e-6), &[3, 5], 53);
        let x = Tensor::new(&[-800.0f64, -3.0, 0.0, 2.5, 800.0], &Device::Cpu).unwrap();
        let sp = softplus(&x).unwrap().to_vec1::<f64>().unwrap();
        let sg = sigmoid(&x).unwrap().to_vec1::<f64>().unwrap();
        for (i, &v) in [-800.0f64, -3.0, 0.0, 2.5, 800.0].iter().enumerate() {
            let want = if v.abs() > 50.0 {
                v.max(0.0)
            } else {
                v.exp().ln_1p()
            };
            assert!((sp[i] - want).abs() < 1e-12, "softplus({v}) = {}", sp[i]);
            assert!((sg[i] - 1.0 / (1.0 + (-v).exp())).abs() < 1e-12);
        }
    }

    #[test]
    fn softmax_gradient_matches_finite_differences() {
        check_grad(softmax_last_dim, &[3, 5], 11);
        check_grad(log_softmax_last_dim, &[3, 5], 12);
        let x = rand_tensor(&[2, 7], 13);
        let s = softmax_last_dim(&x).unwrap().sum(D::Minus1).unwrap();
        for v in s.to_vec1::<f64>().unwrap() {
            assert!((v - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn rope_gradient_matches_finite_differences_and_preserves_norm() {
        let (cos, sin) = rope_tables(4, 6, 10_000.0, DType::F64, &Device::Cpu).unwrap();
        check_grad(|x| rope(x, &cos, &sin), &[1, 2, 4, 6], 21);
        // A rotation: the norm of each (x1_i, x2_i) pair, hence of each vector, is unchanged,
        // and position 0 is the identity.
        let x = rand_tensor(&[1, 1, 4, 6], 22);
        let y = rope(&x, &cos, &sin).unwrap();
        let nx = x
            .sqr()
            .unwrap()
            .sum(D::Minus1)
            .unwrap()
            .flatten_all()
            .unwrap();
        let ny = y
            .sqr()
            .unwrap()
            .sum(D::Minus1)
            .unwrap()
            .flatten_all()
            .unwrap();
        for (a, b) in nx
            .to_vec1::<f64>()
            .unwrap()
            .iter()
            .zip(ny.to_vec1::<f64>().unwrap())
        {
            assert!((a - b).abs() < 1e-12);
        }
        let row0 = |t: &Tensor| {
            t.narrow(2, 0, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        };
        assert_eq!(row0(&x), row0(&y));
        let row1 = |t: &Tensor| {
            t.narrow(2, 1, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        };
        assert_ne!(row1(&x), row1(&y));
    }

    #[test]
    fn attention_gradient_matches_finite_differences_for_q_k_and_v() {
        let mask = causal_mask(3, DType::F64, &Device::Cpu).unwrap();
        // GQA: 4 query heads over 2 KV heads.
        let k = rand_tensor(&[1, 2, 3, 4], 31);
        let v = rand_tensor(&[1, 2, 3, 4], 32);
        let q = rand_tensor(&[1, 4, 3, 4], 33);
        check_grad(|q| attention(q, &k, &v, Some(&mask)), &[1, 4, 3, 4], 34);
        check_grad(|k| attention(&q, k, &v, Some(&mask)), &[1, 2, 3, 4], 35);
        check_grad(|v| attention(&q, &k, v, Some(&mask)), &[1, 2, 3, 4], 36);
    }

    #[test]
    fn causal_attention_ignores_the_future() {
        let mask = causal_mask(3, DType::F64, &Device::Cpu).unwrap();
        let q = rand_tensor(&[1, 2, 3, 4], 41);
        let k = rand_tensor(&[1, 2, 3, 4], 42);
        let v = rand_tensor(&[1, 2, 3, 4], 43);
        let out = attention(&q, &k, &v, Some(&mask)).unwrap();
        // Changing the last value row must not change outputs at positions 0 and 1.
        let v2 = Tensor::cat(
            &[
                v.narrow(2, 0, 2).unwrap(),
                (v.narrow(2, 2, 1).unwrap() + 5.0).unwrap(),
            ],
            2,
        )
        .unwrap();
        let out2 = attention(&q, &k, &v2, Some(&mask)).unwrap();
        let first = |t: &Tensor| {
            t.narrow(2, 0, 2)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        };
        assert_eq!(first(&out), first(&out2));
        let last = |t: &Tensor| {
            t.narrow(2, 2, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        };
        assert_ne!(last(&out), last(&out2));
    }
}
