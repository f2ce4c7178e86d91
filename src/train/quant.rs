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

use crate::train::{Result, TrainError};

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
        return Err(TrainError::Config(format!(
            "cannot infer quantization of a {in_dim}-column matrix from {packed_cols} packed words and {scale_cols} scales per row"
        )));
    }
    let bits = (packed_cols * 32 / in_dim) as u32;
    let group = in_dim / scale_cols;
    if !(2..=8).contains(&bits) || !matches!(group, 32 | 64 | 128) {
        return Err(TrainError::Config(format!(
            "unsupported MLX quantization: {bits} bits, group size {group} (expected bits 2-8, groups 32/64/128)"
        )));
    }
    Ok((bits, group))
}

/// Dequantize a `[rows, cols]` matrix; see the module docs for the layout.
pub fn dequantize_affine(
    packed: &[u32],
    scales: &[f32],
    biases: &[f32],
    rows: usize,
    cols: usize,
    bits: u32,
    group_size: usize,
) -> Result<Vec<f32>> {
    let words_per_row = cols * bits as usize / 32;
    let groups_per_row = cols / group_size;
    if packed.len() != rows * words_per_row
        || scales.len() != rows * groups_per_row
        || biases.len() != scales.len()
        || (cols * bits as usize) % 32 != 0
        || cols % group_size != 0
    {
        return Err(TrainError::Config(format!(
            "quantized tensor sizes do not fit a {rows}x{cols} matrix at {bits} bits, group {group_size}"
        )));
    }
    let mask: u64 = (1u64 << bits) - 1;
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let row = &packed[r * words_per_row..(r + 1) * words_per_row];
        for j in 0..cols {
            let bit = j * bits as usize;
            let (w, s) = (bit / 32, bit % 32);
            let lo = row[w] as u64;
            let hi = if w + 1 < row.len() {
                row[w + 1] as u64
            } else {
                0
            };
            let q = (((hi << 32) | lo) >> s) & mask;
            let g = r * groups_per_row + j / group_size;
            out.push(scales[g] * q as f32 + biases[g]);
        }
    }
    Ok(out)
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
        let w = dequantize_affine(&words, &[0.5], &[-1.0], 1, 32, 4, 32).unwrap();
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
        let w = dequantize_affine(&words, &[1.0, 2.0], &[0.0, 0.5], 1, 64, 3, 32).unwrap();
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
}
