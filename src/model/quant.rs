//! MLX affine quantization (dequantize only), as published in mlx-community checkpoints.
//!
//! Layout (ml-explore/mlx `mlx/ops.cpp` `quantize`/`dequantize`, affine mode; mlx-lm
//! `QuantizedLinear` stores `weight`, `scales`, `biases`): a `[out, in]` matrix becomes
//! - `weight`: uint32 `[out, in * bits / 32]`, each row a little-endian bit stream: element `j`
//!   occupies bits `j*bits .. (j+1)*bits` of the row (values may straddle two words for 3, 5, 6
//!   bits);
//! - `scales`, `biases`: `[out, in / group_size]` (f16/bf16/f32);
//! - `w[r, j] = scales[r, j / group_size] * q[r, j] + biases[r, j / group_size]`.
//!
//! Bits and group size can be inferred from the shapes given `in`. Host-side; no tensor library.

use crate::model::{ModelError, Result};

/// Infer `(bits, group_size)` from the packed and scale shapes of a `[out, in]` matrix.
pub fn infer_bits_group(
    in_dim: usize,
    packed_cols: usize,
    scale_cols: usize,
) -> Result<(u32, usize)> {
    if packed_cols == 0
        || scale_cols == 0
        || (packed_cols * 32) % in_dim != 0
        || in_dim % scale_cols != 0
    {
        return Err(ModelError::Config(format!(
            "cannot infer quantization of a {in_dim}-column matrix from {packed_cols} packed words and {scale_cols} scales per row"
        )));
    }
    let bits = (packed_cols * 32 / in_dim) as u32;
    let group = in_dim / scale_cols;
    if !(2..=8).contains(&bits) || !matches!(group, 32 | 64 | 128) {
        return Err(ModelError::Config(format!(
            "unsupported MLX quantization: {bits} bits, group size {group} (expected bits 2-8, groups 32/64/128)"
        )));
    }
    Ok((bits, group))
}

/// An MLX affine-quantized `[rows, cols]` matrix kept packed on the host (QLoRA's frozen base).
///
/// Costs `bits + 64 / group_size` bits per weight (scales and biases as f32) instead of 32.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantMatrix {
    pub rows: usize,
    pub cols: usize,
    pub bits: u32,
    pub group_size: usize,
    /// `rows * cols * bits / 32` words, row-major; see the module docs.
    pub packed: Vec<u32>,
    /// `rows * cols / group_size` each.
    pub scales: Vec<f32>,
    pub biases: Vec<f32>,
}

impl QuantMatrix {
    /// Wrap packed data, checking that the sizes fit (see the module docs for the layout).
    pub fn new(
        packed: Vec<u32>,
        scales: Vec<f32>,
        biases: Vec<f32>,
        rows: usize,
        cols: usize,
        bits: u32,
        group_size: usize,
    ) -> Result<Self> {
        if !(2..=8).contains(&bits)
            || !matches!(group_size, 32 | 64 | 128)
            || cols % group_size != 0
            || (cols * bits as usize) % 32 != 0
            || packed.len() != rows * cols * bits as usize / 32
            || scales.len() != rows * (cols / group_size)
            || biases.len() != scales.len()
        {
            return Err(ModelError::Config(format!(
                "quantized tensor sizes ({} words, {} scales, {} biases) do not fit a {rows}x{cols} matrix at {bits} bits, group {group_size}",
                packed.len(),
                scales.len(),
                biases.len()
            )));
        }
        Ok(Self {
            rows,
            cols,
            bits,
            group_size,
            packed,
            scales,
            biases,
        })
    }

    /// Quantize a dense row-major matrix: per group of `group_size` values, `bias = min`,
    /// `scale = (max - min) / (2^bits - 1)`, `q = round((w - bias) / scale)`. MLX's own quantizer
    /// rounds the group edge slightly differently; both produce the same stored layout, which
    /// [`QuantMatrix::dequantize_row`] reads.
    pub fn quantize(
        dense: &[f32],
        rows: usize,
        cols: usize,
        bits: u32,
        group_size: usize,
    ) -> Result<Self> {
        if dense.len() != rows * cols {
            return Err(ModelError::Config(format!(
                "{} values do not form a {rows}x{cols} matrix",
                dense.len()
            )));
        }
        let levels = ((1u32 << bits) - 1) as f32;
        let words_per_row = cols * bits as usize / 32;
        let mut packed = vec![0u32; rows * words_per_row];
        let mut scales = Vec::with_capacity(rows * cols / group_size.max(1));
        let mut biases = Vec::with_capacity(scales.capacity());
        for r in 0..rows {
            let row = &dense[r * cols..(r + 1) * cols];
            let words = &mut packed[r * words_per_row..(r + 1) * words_per_row];
            for (g, group) in row.chunks(group_size.max(1)).enumerate() {
                let lo = group.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = group.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let scale = if hi > lo { (hi - lo) / levels } else { 1.0 };
                scales.push(scale);
                biases.push(lo);
                for (i, &w) in group.iter().enumerate() {
                    let q = ((w - lo) / scale).round().clamp(0.0, levels) as u64;
                    let bit = (g * group_size + i) * bits as usize;
                    let (k, s) = (bit / 32, bit % 32);
                    words[k] |= (q << s) as u32;
                    if s + bits as usize > 32 {
                        words[k + 1] |= (q >> (32 - s)) as u32;
                    }
                }
            }
        }
        Self::new(packed, scales, biases, rows, cols, bits, group_size)
    }

    /// Dequantize row `r` into `out` (`cols` values).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let bits = self.bits as usize;
        let words_per_row = self.cols * bits / 32;
        let groups_per_row = self.cols / self.group_size;
        let row = &self.packed[r * words_per_row..(r + 1) * words_per_row];
        let scales = &self.scales[r * groups_per_row..(r + 1) * groups_per_row];
        let biases = &self.biases[r * groups_per_row..(r + 1) * groups_per_row];
        let mask: u64 = (1u64 << bits) - 1;
        if 32 % bits == 0 {
            // 2, 4 and 8 bits: values never straddle words.
            let per_word = 32 / bits;
            for (k, &word) in row.iter().enumerate() {
                let base = k * per_word;
                let g = base / self.group_size;
                let (s, b) = (scales[g], biases[g]);
                for i in 0..per_word {
                    out[base + i] = s * ((word >> (i * bits)) as u64 & mask) as f32 + b;
                }
            }
            return;
        }
        for (j, slot) in out.iter_mut().enumerate().take(self.cols) {
            let bit = j * bits;
            let (w, s) = (bit / 32, bit % 32);
            let lo = row[w] as u64;
            let hi = row.get(w + 1).copied().unwrap_or(0) as u64;
            let q = (((hi << 32) | lo) >> s) & mask;
            let g = j / self.group_size;
            *slot = scales[g] * q as f32 + biases[g];
        }
    }

    /// Rows `r0..r1` dequantized, row-major.
    pub fn dequantize_rows(&self, r0: usize, r1: usize) -> Vec<f32> {
        use rayon::prelude::*;
        let mut out = vec![0f32; (r1 - r0) * self.cols];
        out.par_chunks_mut(self.cols)
            .enumerate()
            .for_each(|(i, row)| self.dequantize_row(r0 + i, row));
        out
    }

    /// The whole matrix, dense and row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        self.dequantize_rows(0, self.rows)
    }

    /// Bytes held (packed words, scales, biases).
    pub fn nbytes(&self) -> usize {
        4 * (self.packed.len() + self.scales.len() + self.biases.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_bit_hand_packed_row() {
        // One row of 32 values in one group: q = 0..15 then 15..0; word k holds values
        // 8k..8k+7, value i in bits 4i..4i+4 (little-endian nibbles).
        let q: Vec<u32> = (0..16).chain((0..16).rev()).collect();
        let words: Vec<u32> = q
            .chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u32, |acc, (i, &v)| acc | (v << (4 * i)))
            })
            .collect();
        assert_eq!(words[0], 0x7654_3210, "hand packing of 0..7");
        assert_eq!(words[3], 0x0123_4567);
        let w = QuantMatrix::new(words.clone(), vec![0.5], vec![-1.0], 1, 32, 4, 32)
            .unwrap()
            .dequantize();
        let want: Vec<f32> = q.iter().map(|&v| 0.5 * v as f32 - 1.0).collect();
        assert_eq!(w, want);
        assert_eq!(infer_bits_group(32, 4, 1).unwrap(), (4, 32));
    }

    #[test]
    fn three_bit_values_straddle_words_and_groups_use_their_own_scale() {
        // 64 columns, 3 bits -> 6 words per row; two groups of 32.
        let q: Vec<u64> = (0..64).map(|j| (j * 5 + 3) % 8).collect();
        let mut bits = [0u64; 4]; // 192 bits
        for (j, &v) in q.iter().enumerate() {
            let b = 3 * j;
            bits[b / 64] |= v << (b % 64);
            if b % 64 > 61 {
                bits[b / 64 + 1] |= v >> (64 - b % 64);
            }
        }
        let words: Vec<u32> = bits[..3]
            .iter()
            .flat_map(|&x| [x as u32, (x >> 32) as u32])
            .collect();
        // Value 10 starts at bit 30 and straddles words 0 and 1.
        assert_eq!(((words[0] >> 30) | ((words[1] & 1) << 2)) as u64, q[10]);
        let w = QuantMatrix::new(words.clone(), vec![1.0, 2.0], vec![0.0, 0.5], 1, 64, 3, 32)
            .unwrap()
            .dequantize();
        for j in 0..64 {
            let want = if j < 32 {
                q[j] as f32
            } else {
                2.0 * q[j] as f32 + 0.5
            };
            assert_eq!(w[j], want, "column {j}");
        }
        assert_eq!(infer_bits_group(64, 6, 2).unwrap(), (3, 32));
        assert_eq!(infer_bits_group(1024, 128, 16).unwrap(), (4, 64));
        assert!(infer_bits_group(64, 6, 3).is_err());
    }

    #[test]
    fn quantize_round_trips_within_half_a_step_for_every_width() {
        let (rows, cols) = (3, 128);
        let dense: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * (1 + i / cols) as f32)
            .collect();
        for bits in 2..=8u32 {
            for group in [32, 64, 128] {
                let q = QuantMatrix::quantize(&dense, rows, cols, bits, group).unwrap();
                assert_eq!(
                    infer_bits_group(cols, q.packed.len() / rows, q.scales.len() / rows).unwrap(),
                    (bits, group)
                );
                let back = q.dequantize();
                // The generic (straddling) path and the word-aligned fast path agree.
                let generic = dequantize_generic(&q);
                assert_eq!(back, generic, "bits {bits} group {group}");
                for (i, (&w, &d)) in dense.iter().zip(&back).enumerate() {
                    let step = q.scales[i / group];
                    assert!(
                        (w - d).abs() <= 0.5 * step + 1e-5,
                        "bits {bits} group {group} value {i}: {w} -> {d} (step {step})"
                    );
                }
            }
        }
    }

    /// Bit-by-bit reference reader, independent of `dequantize_row`'s fast paths.
    fn dequantize_generic(q: &QuantMatrix) -> Vec<f32> {
        let words_per_row = q.cols * q.bits as usize / 32;
        let mut out = Vec::new();
        for r in 0..q.rows {
            for j in 0..q.cols {
                let mut v = 0u32;
                for b in 0..q.bits as usize {
                    let bit = j * q.bits as usize + b;
                    let word = q.packed[r * words_per_row + bit / 32];
                    v |= ((word >> (bit % 32)) & 1) << b;
                }
                let g = r * (q.cols / q.group_size) + j / q.group_size;
                out.push(q.scales[g] * v as f32 + q.biases[g]);
            }
        }
        out
    }
}
