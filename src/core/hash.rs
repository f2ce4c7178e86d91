//! Small, fast, deterministic 64-bit hashing and a seeded random generator for the dedup,
//! contamination and split audits.
//!
//! These hashes key in-memory indexes and seeded choices only. They must never be used as
//! content addresses that leave the process (use `core::id` / blake3 for those), and they must
//! never depend on process-random state: the same input gives the same value on every run and
//! every machine, so audit results are reproducible.

/// Odd 64-bit constants (digits of pi and e, and the golden ratio); any odd values with mixed
/// bits would do.
const K0: u64 = 0x243F_6A88_85A3_08D3;
const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xB7E1_5162_8AED_2A6B;

/// The finalizer of MurmurHash3 (public domain, widely re-derived): a bijective avalanche step,
/// so every output bit depends on every input bit.
#[inline]
pub fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Hash a byte string with a seed. Processes 8 bytes per step; not cryptographic.
#[inline]
pub fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ K0 ^ (bytes.len() as u64).wrapping_mul(K1);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ v.wrapping_mul(K2)).rotate_left(29).wrapping_mul(K1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(buf).wrapping_mul(K2))
            .rotate_left(29)
            .wrapping_mul(K1);
    }
    fmix64(h)
}

/// Combine a sequence of 64-bit values into one, order-sensitive.
#[inline]
pub fn hash_u64s(values: &[u64], seed: u64) -> u64 {
    let mut h = seed ^ K0;
    for &v in values {
        h = (h ^ fmix64(v)).rotate_left(27).wrapping_mul(K1);
    }
    fmix64(h ^ values.len() as u64)
}

/// Hash of a 32-bit slice (MinHash band keys), order-sensitive.
#[inline]
pub fn hash_u32s(values: &[u32], seed: u64) -> u64 {
    let mut h = seed ^ K2;
    let mut pairs = values.chunks_exact(2);
    for p in &mut pairs {
        let v = (p[0] as u64) | ((p[1] as u64) << 32);
        h = (h ^ v.wrapping_mul(K2)).rotate_left(31).wrapping_mul(K1);
    }
    if let [last] = pairs.remainder() {
        h = (h ^ (*last as u64).wrapping_mul(K2))
            .rotate_left(31)
            .wrapping_mul(K1);
    }
    fmix64(h ^ values.len() as u64)
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, good enough for
/// permutation coefficients, seeded split order and synthetic benchmark corpora.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(K1);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-high (Lemire), bias below 2^-32 for small n.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_deterministic_and_input_sensitive() {
        assert_eq!(hash_bytes(b"local x", 1), hash_bytes(b"local x", 1));
        assert_ne!(hash_bytes(b"local x", 1), hash_bytes(b"local y", 1));
        assert_ne!(hash_bytes(b"local x", 1), hash_bytes(b"local x", 2));
        // Zero padding of the tail must not make lengths collide.
        assert_ne!(hash_bytes(b"ab", 0), hash_bytes(b"ab\0", 0));
        assert_ne!(hash_u64s(&[1, 2], 0), hash_u64s(&[2, 1], 0));
        assert_ne!(hash_u32s(&[1, 0], 0), hash_u32s(&[1], 0));
    }

    #[test]
    fn splitmix_is_seeded_and_roughly_uniform() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let mut c = SplitMix64::new(8);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            counts[a.below(4)] += 1;
        }
        for n in counts {
            assert!((9_000..11_000).contains(&n), "{counts:?}");
        }
    }
}
