//! Frozen base weights and their matmuls: dense, or MLX-affine-quantized (QLoRA), each with a
//! backward pass that gives only the input gradient.
//!
//! candle's own matmul backward always computes the gradient of both operands, so a plain
//! `x.matmul(&w.t())` on a frozen `w` computes (and keeps until the end of the backward pass) a
//! weight-sized gradient nobody reads: for Qwen3-0.6B that is ~2.4 GB and a third of the backward
//! matmuls. [`FrozenMatMulT`] computes `x W^T` with an input-only backward instead (CPU; other
//! devices use the plain matmul).
//!
//! candle's own `QMatMul::forward` has no backward, so gradients would silently stop at the first
//! quantized layer. [`QMatMulT`] is a custom op on the activations `x` (`[n, in]`) computing
//! `x W^T` by dequantizing `W` one tile of rows at a time, so the dense matrix never exists
//! whole; its backward gives `dL/dx = dL/dy W`, again dequantizing tile by tile. The weight gets
//! no gradient (it is frozen). CPU only: on CUDA/Metal, load the base dequantized.

use std::sync::Arc;

use candle_core::{CpuStorage, DType, Device, Layout, Shape, Tensor};

use crate::model::quant::QuantMatrix;

/// Rows of `W` dequantized at once; bounds the op's scratch memory to `TILE * in` floats.
const TILE: usize = 256;

/// A frozen base weight `[out, in]`: dense, or quantized and dequantized on the fly.
#[derive(Debug, Clone)]
pub enum Weight {
    Dense(Tensor),
    Quant(Arc<QuantMatrix>),
}

impl Weight {
    /// `(out, in)`.
    pub fn dims2(&self) -> candle_core::Result<(usize, usize)> {
        match self {
            Weight::Dense(t) => t.dims2(),
            Weight::Quant(q) => Ok((q.rows, q.cols)),
        }
    }

    /// `x W^T` for `x` `[n, in]`, differentiable in `x`.
    pub fn matmul_t(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Weight::Dense(w)
                if x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) =>
            {
                x.contiguous()?.apply_op1(FrozenMatMulT(w.clone()))
            }
            Weight::Dense(w) => x.matmul(&w.t()?),
            Weight::Quant(q) => x.contiguous()?.apply_op1(QMatMulT(q.clone())),
        }
    }

    /// Rows `ids` (u32 `[n]`) as `[n, in]` in `dtype`: an embedding lookup (no gradient).
    pub fn rows(&self, ids: &Tensor, dtype: DType) -> candle_core::Result<Tensor> {
        match self {
            Weight::Dense(w) => w.index_select(ids, 0),
            Weight::Quant(q) => {
                let ids = ids.to_vec1::<u32>()?;
                let mut data = vec![0f32; ids.len() * q.cols];
                for (slot, &id) in data.chunks_mut(q.cols).zip(&ids) {
                    if id as usize >= q.rows {
                        candle_core::bail!("row {id} out of range for {} rows", q.rows);
                    }
                    q.dequantize_row(id as usize, slot);
                }
                Tensor::from_vec(data, (ids.len(), q.cols), &Device::Cpu)?.to_dtype(dtype)
            }
        }
    }

    /// The dense weight in `dtype` (merging adapters, or a dense twin in tests).
    pub fn to_dense(&self, dtype: DType, device: &Device) -> candle_core::Result<Tensor> {
        match self {
            Weight::Dense(w) => w.to_dtype(dtype),
            Weight::Quant(q) => {
                Tensor::from_vec(q.dequantize(), (q.rows, q.cols), device)?.to_dtype(dtype)
            }
        }
    }

    /// Bytes held (packed where quantized).
    pub fn nbytes(&self) -> usize {
        match self {
            Weight::Dense(t) => t.elem_count() * t.dtype().size_in_bytes(),
            Weight::Quant(q) => q.nbytes(),
        }
    }

    pub fn is_quantized(&self) -> bool {
        matches!(self, Weight::Quant(_))
    }

    /// `g W` for `g` `[n, out]`: the input gradient of [`Weight::matmul_t`], no graph.
    fn matmul_no_grad(&self, g: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Weight::Dense(w) => g.matmul(&w.to_dtype(g.dtype())?),
            Weight::Quant(q) => g.apply_op1_no_bwd(&QMatMul(q.clone())),
        }
    }
}

/// Logits computed at once by [`masked_nll`] with a dense head (16M values, 64 MB in f32):
/// 110 rows of Qwen3's 151,936-token vocabulary, every row of a small one.
const NLL_CHUNK_VALUES: usize = 1 << 24;

/// How many times larger a quantized head's chunks are than a dense one's (see
/// `MaskedNll::chunk_rows`): 64M logits, 256 MB in f32.
const QUANT_CHUNK_FACTOR: usize = 4;

/// `sum_i mask_i * -log softmax(h_i W^T)[target_i]` for hidden states `h` `[n, hidden]` and a
/// frozen LM head `W` `[vocab, hidden]`, differentiable in `h`.
///
/// The logits are computed a chunk of rows at a time and never kept: the forward pass keeps only
/// `h`, and the backward pass recomputes each chunk's logits to form `softmax - onehot`. A plain
/// graph (logits, log-softmax, gather) would hold several `[n, vocab]` tensors until the end of
/// the backward pass, ~155 MB each for 256 positions of Qwen3's 151,936-token vocabulary. A
/// quantized head is dequantized once per chunk, so its chunks are larger.
pub fn masked_nll(
    h: &Tensor,
    head: &Weight,
    targets: &[u32],
    mask: &[f32],
) -> candle_core::Result<Tensor> {
    masked_nll_chunked(h, head, targets, mask, NLL_CHUNK_VALUES)
}

/// [`masked_nll`] with a dense head's chunk size given in logit values (tests use small ones).
pub(crate) fn masked_nll_chunked(
    h: &Tensor,
    head: &Weight,
    targets: &[u32],
    mask: &[f32],
    chunk_values: usize,
) -> candle_core::Result<Tensor> {
    let (n, _) = h.dims2()?;
    if targets.len() != n || mask.len() != n {
        candle_core::bail!(
            "masked_nll: {n} rows but {} targets and {} mask values",
            targets.len(),
            mask.len()
        );
    }
    let op = MaskedNll {
        head: head.clone(),
        targets: targets.to_vec(),
        mask: mask.to_vec(),
        chunk_values,
    };
    h.contiguous()?.apply_op1(op)?.sum_all()
}

struct MaskedNll {
    head: Weight,
    targets: Vec<u32>,
    mask: Vec<f32>,
    chunk_values: usize,
}

impl MaskedNll {
    /// Rows per chunk for `n` rows.
    fn chunk_rows(&self, n: usize) -> candle_core::Result<usize> {
        let vocab = self.head.dims2()?.0;
        // A quantized head is dequantized (tile by tile) once per chunk, so its chunks are
        // QUANT_CHUNK_FACTOR times larger: few passes over the head, yet logits that stay a
        // fixed size however long the sequence (with every row at once, 2,048 positions of
        // Qwen3.5's 248,320-token vocabulary made 2 GB of logits and as much again in
        // temporaries).
        let values = match self.head {
            Weight::Quant(_) => self.chunk_values.saturating_mul(QUANT_CHUNK_FACTOR),
            Weight::Dense(_) => self.chunk_values,
        };
        Ok((values / vocab.max(1)).clamp(1, n.max(1)))
    }

    /// Logits of rows `r0..r1` and their log-sum-exp `[c, 1]`.
    fn chunk(&self, h: &Tensor, r0: usize, r1: usize) -> candle_core::Result<(Tensor, Tensor)> {
        let logits = self.head.matmul_t(&h.narrow(0, r0, r1 - r0)?)?;
        let max = logits.max_keepdim(1)?;
        let lse = (logits.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + max)?;
        Ok((logits, lse))
    }

    fn column(
        &self,
        r0: usize,
        r1: usize,
        v: &[f32],
        like: &Tensor,
    ) -> candle_core::Result<Tensor> {
        Tensor::from_slice(&v[r0..r1], (r1 - r0, 1), like.device())?.to_dtype(like.dtype())
    }

    fn target_ids(&self, r0: usize, r1: usize, like: &Tensor) -> candle_core::Result<Tensor> {
        Tensor::from_slice(&self.targets[r0..r1], (r1 - r0, 1), like.device())
    }
}

impl candle_core::CustomOp1 for MaskedNll {
    fn name(&self) -> &'static str {
        "masked-nll"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let h = tensor_of(storage, layout)?;
        let n = h.dims2()?.0;
        let rows = self.chunk_rows(n)?;
        let mut parts = Vec::with_capacity(n.div_ceil(rows));
        for r0 in (0..n).step_by(rows) {
            let r1 = (r0 + rows).min(n);
            let (logits, lse) = self.chunk(&h, r0, r1)?;
            let picked = logits.gather(&self.target_ids(r0, r1, &h)?, 1)?;
            parts.push(((lse - picked)? * self.column(r0, r1, &self.mask, &h)?)?);
        }
        storage_of(&Tensor::cat(&parts, 0)?.squeeze(1)?)
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let h = arg.detach();
        let n = h.dims2()?.0;
        let rows = self.chunk_rows(n)?;
        let mut parts = Vec::with_capacity(n.div_ceil(rows));
        for r0 in (0..n).step_by(rows) {
            let r1 = (r0 + rows).min(n);
            let (logits, lse) = self.chunk(&h, r0, r1)?;
            let ids = self.target_ids(r0, r1, &h)?;
            let minus_one = Tensor::full(-1f32, (r1 - r0, 1), h.device())?.to_dtype(h.dtype())?;
            // d nll_i / d logits_i = softmax(logits_i) - onehot(target_i), scaled per row.
            let d = logits
                .broadcast_sub(&lse)?
                .exp()?
                .scatter_add(&ids, &minus_one, 1)?;
            let scale = (grad_res.narrow(0, r0, r1 - r0)?.unsqueeze(1)?
                * self.column(r0, r1, &self.mask, &h)?)?;
            parts.push(self.head.matmul_no_grad(&d.broadcast_mul(&scale)?)?);
        }
        Ok(Some(Tensor::cat(&parts, 0)?))
    }
}

/// Copy a CPU tensor's contents out of a custom op's storage into a tensor of its own.
fn tensor_of(storage: &CpuStorage, layout: &Layout) -> candle_core::Result<Tensor> {
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| {
        candle_core::Error::Msg("quantized matmul needs a contiguous input".into())
    })?;
    let shape = layout.shape().clone();
    match storage {
        CpuStorage::F32(v) => Tensor::from_slice(&v[start..end], shape, &Device::Cpu),
        CpuStorage::F64(v) => Tensor::from_slice(&v[start..end], shape, &Device::Cpu),
        _ => candle_core::bail!("quantized matmul computes in f32 or f64"),
    }
}

/// A computed tensor handed back to candle as a custom op's output storage.
fn storage_of(t: &Tensor) -> candle_core::Result<(CpuStorage, Shape)> {
    let flat = t.flatten_all()?;
    let storage = match t.dtype() {
        DType::F32 => CpuStorage::F32(flat.to_vec1()?),
        DType::F64 => CpuStorage::F64(flat.to_vec1()?),
        other => candle_core::bail!("quantized matmul computes in f32 or f64, got {other:?}"),
    };
    Ok((storage, t.shape().clone()))
}

/// Dequantized rows `r0..r1` of `q` as a `[r1 - r0, in]` tensor in `dtype`.
fn tile(q: &QuantMatrix, r0: usize, r1: usize, dtype: DType) -> candle_core::Result<Tensor> {
    Tensor::from_vec(q.dequantize_rows(r0, r1), (r1 - r0, q.cols), &Device::Cpu)?.to_dtype(dtype)
}

/// `y = x W^T` with a dense frozen `W`; differentiable in `x` only.
struct FrozenMatMulT(Tensor);

impl candle_core::CustomOp1 for FrozenMatMulT {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = tensor_of(storage, layout)?;
        storage_of(&x.matmul(&self.0.to_dtype(x.dtype())?.t()?)?)
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.matmul(&self.0.to_dtype(grad_res.dtype())?)?))
    }
}

/// `y = x W^T` with `W` quantized; differentiable in `x`.
struct QMatMulT(Arc<QuantMatrix>);

impl candle_core::CustomOp1 for QMatMulT {
    fn name(&self) -> &'static str {
        "qlora-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let q = &self.0;
        let x = tensor_of(storage, layout)?;
        let (_, k) = x.dims2()?;
        if k != q.cols {
            candle_core::bail!(
                "quantized matmul: input has {k} columns, weight has {}",
                q.cols
            );
        }
        let mut parts = Vec::with_capacity(q.rows.div_ceil(TILE));
        for r0 in (0..q.rows).step_by(TILE) {
            let r1 = (r0 + TILE).min(q.rows);
            parts.push(x.matmul(&tile(q, r0, r1, x.dtype())?.t()?)?);
        }
        storage_of(&Tensor::cat(&parts, 1)?)
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.apply_op1_no_bwd(&QMatMul(self.0.clone()))?))
    }
}

/// `g W` (`[n, out]` to `[n, in]`): the input gradient of [`QMatMulT`].
struct QMatMul(Arc<QuantMatrix>);

impl candle_core::CustomOp1 for QMatMul {
    fn name(&self) -> &'static str {
        "qlora-matmul-backward"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let q = &self.0;
        let g = tensor_of(storage, layout)?;
        let (_, out) = g.dims2()?;
        if out != q.rows {
            candle_core::bail!(
                "quantized matmul backward: gradient has {out} columns, weight has {} rows",
                q.rows
            );
        }
        let mut acc: Option<Tensor> = None;
        for r0 in (0..q.rows).step_by(TILE) {
            let r1 = (r0 + TILE).min(q.rows);
            let part = g
                .narrow(1, r0, r1 - r0)?
                .matmul(&tile(q, r0, r1, g.dtype())?)?;
            acc = Some(match acc {
                Some(a) => (a + part)?,
                None => part,
            });
        }
        storage_of(&acc.expect("a matrix has at least one row"))
    }
}
