//! Near-duplicate detection: MinHash signatures over 5-gram shingles of Luau tokens, LSH banding
//! to find candidate pairs, verification of every candidate by the true Jaccard similarity of
//! the two shingle sets, and clusters by union-find with a deterministic representative.
//!
//! Pipeline (all parallel with rayon, results independent of the thread count):
//! 1. Per document: tokens (comments dropped, see `luau::lex`) -> shingle hashes -> MinHash
//!    signature -> one key per LSH band, plus a fingerprint of the whole shingle set. Signatures
//!    are folded into band keys at once and never stored, so memory is `bands` u64 per document.
//! 2. Documents with identical shingle sets are grouped directly (star pairs to the first one);
//!    only that first one enters LSH, so mass copies do not blow up buckets.
//! 3. Per band, documents with equal band keys are candidates (all pairs in a bucket up to
//!    `bucket_window` members; beyond that each member is paired with the `bucket_window`
//!    members before it, and the bucket is counted in the stats).
//! 4. Candidates are verified by exact Jaccard of the shingle sets (recomputed only for
//!    documents in some candidate pair); only pairs at or above the threshold link documents.
//!
//! The number of bands and rows is chosen from the threshold like datasketch's
//! `MinHashLSH._optimal_param` (ekzhu/datasketch `datasketch/lsh.py`): minimize the weighted
//! areas under the false-positive and false-negative parts of the S-curve
//! `P(s) = 1 - (1 - s^r)^b` over all `b * r <= num_perm`. Because every candidate is verified,
//! a false positive only costs a set comparison, so the default weights favour recall
//! (0.1 false positive, 0.9 false negative).
//!
//! This module never decides what to drop: it returns clusters and representatives; the audit
//! job records the exclusions with reasons.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cluster::{Cluster, UnionFind};
use crate::core::hash::{fmix64, hash_bytes, hash_u32s, SplitMix64};
use crate::luau::lex::for_each_code_token;

/// All parameters of near dedup. Defaults: 256 permutations, Jaccard 0.7, 5-token shingles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NearDupConfig {
    /// Number of MinHash permutations (signature length).
    pub num_perm: usize,
    /// Jaccard similarity at or above which two documents are near duplicates.
    pub threshold: f64,
    /// Tokens per shingle. Documents with fewer tokens form a single shingle of all of them.
    pub shingle_size: usize,
    /// LSH bands; with `rows`, overrides the optimized choice. Both or neither.
    pub bands: Option<usize>,
    /// Rows (signature values) per band; see `bands`.
    pub rows: Option<usize>,
    /// Weight of the false-positive area when choosing bands/rows.
    pub false_positive_weight: f64,
    /// Weight of the false-negative area when choosing bands/rows.
    pub false_negative_weight: f64,
    /// Seed of the permutation coefficients and hashes; change it to get an independent run.
    pub seed: u64,
    /// Buckets up to this size are compared all-pairs; larger ones use a sliding window.
    pub bucket_window: usize,
}

impl Default for NearDupConfig {
    fn default() -> Self {
        Self::from(&crate::workspace::settings::NearDedupSettings::default())
    }
}

/// The `[audit.near-dedup]` settings; the parameters they do not name keep their defaults.
impl From<&crate::workspace::settings::NearDedupSettings> for NearDupConfig {
    fn from(s: &crate::workspace::settings::NearDedupSettings) -> Self {
        Self {
            num_perm: s.num_perm,
            threshold: s.threshold,
            shingle_size: s.shingle_size,
            bands: None,
            rows: None,
            false_positive_weight: 0.1,
            false_negative_weight: 0.9,
            seed: DEFAULT_SEED,
            bucket_window: 100,
        }
    }
}

/// The default seed: any fixed value; changing it changes which pairs near the threshold win.
pub const DEFAULT_SEED: u64 = 0x5eed_0000_d0d0_0001;

impl NearDupConfig {
    /// Check the parameters and return the (bands, rows) that will be used.
    pub fn lsh_params(&self) -> Result<(usize, usize), NearDupError> {
        if self.num_perm == 0 || self.num_perm > 4096 {
            return Err(NearDupError::Config(format!(
                "num_perm must be in 1..=4096, got {}",
                self.num_perm
            )));
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(NearDupError::Config(format!(
                "threshold must be in (0, 1], got {}",
                self.threshold
            )));
        }
        if self.shingle_size == 0 {
            return Err(NearDupError::Config(
                "shingle_size must be at least 1".into(),
            ));
        }
        if self.bucket_window == 0 {
            return Err(NearDupError::Config(
                "bucket_window must be at least 1".into(),
            ));
        }
        let (fp, fnw) = (self.false_positive_weight, self.false_negative_weight);
        if !(fp >= 0.0 && fnw >= 0.0 && fp + fnw > 0.0) {
            return Err(NearDupError::Config(format!(
                "false_positive_weight and false_negative_weight must be >= 0 and not both 0, got {fp} and {fnw}"
            )));
        }
        match (self.bands, self.rows) {
            (Some(b), Some(r)) => {
                if b == 0 || r == 0 || b * r > self.num_perm {
                    return Err(NearDupError::Config(format!(
                        "bands * rows must be between 1 and num_perm ({}), got {b} * {r}",
                        self.num_perm
                    )));
                }
                Ok((b, r))
            }
            (None, None) => Ok(optimal_bands_rows(self.threshold, self.num_perm, fp, fnw)),
            _ => Err(NearDupError::Config(
                "set both bands and rows, or neither (then they are chosen from the threshold)"
                    .into(),
            )),
        }
    }
}

/// Errors of near dedup; all are caller mistakes that the message says how to fix.
#[derive(Debug, thiserror::Error)]
pub enum NearDupError {
    #[error("invalid near-dedup config: {0}")]
    Config(String),
    #[error(
        "near dedup got {ranks} ranks for {docs} documents; pass one rank per document or none"
    )]
    RankLength { docs: usize, ranks: usize },
    #[error("near dedup handles at most 2^32-1 documents per run, got {0}; shard the input")]
    TooManyDocs(usize),
}

/// Clusters, verified pairs and stats of one near-dedup run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NearDupResult {
    /// Connected components of verified pairs (size >= 2), ordered by smallest member.
    pub clusters: Vec<Cluster>,
    /// The verified edges `(i, j, jaccard)` with `i < j` and `jaccard >= threshold`, sorted.
    /// These are the edges that built the clusters, not every similar pair: identical shingle
    /// sets are linked as a star to their first document, and oversized buckets use a window.
    pub pairs: Vec<(usize, usize, f64)>,
    pub stats: NearDupStats,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NearDupStats {
    pub docs: usize,
    /// Documents without any code token (empty or comment-only): never clustered here.
    pub empty_docs: usize,
    pub bands: usize,
    pub rows: usize,
    /// Documents whose shingle set equals an earlier document's (linked without LSH).
    pub identical_shingle_sets: usize,
    /// Buckets larger than `bucket_window`, compared with a sliding window.
    pub oversized_buckets: usize,
    pub candidate_pairs: usize,
    pub verified_pairs: usize,
    pub clusters: usize,
    pub docs_in_clusters: usize,
    /// Documents that are not their cluster's representative.
    pub duplicates_to_drop: usize,
    pub seconds_signatures: f64,
    pub seconds_lsh: f64,
    pub seconds_verify: f64,
    pub seconds_total: f64,
}

/// Near duplicates with the representative chosen by input order.
pub fn near_duplicates(docs: &[&str], cfg: &NearDupConfig) -> Result<NearDupResult, NearDupError> {
    near_duplicates_ranked(docs, None, cfg)
}

/// Near duplicates; `rank` (lower is better, one per document) picks each cluster's
/// representative, ties by input order.
pub fn near_duplicates_ranked(
    docs: &[&str],
    rank: Option<&[u64]>,
    cfg: &NearDupConfig,
) -> Result<NearDupResult, NearDupError> {
    let t_all = Instant::now();
    let (bands, rows) = cfg.lsh_params()?;
    if let Some(r) = rank {
        if r.len() != docs.len() {
            return Err(NearDupError::RankLength {
                docs: docs.len(),
                ranks: r.len(),
            });
        }
    }
    if docs.len() >= u32::MAX as usize {
        return Err(NearDupError::TooManyDocs(docs.len()));
    }
    let n = docs.len();
    let hasher = MinHasher::new(cfg.num_perm, cfg.seed);
    let mut stats = NearDupStats {
        docs: n,
        bands,
        rows,
        ..Default::default()
    };

    // 1. Band keys and shingle-set fingerprints.
    let t = Instant::now();
    let mut band_keys = vec![0u64; n * bands];
    let mut set_keys = vec![0u64; n];
    let mut set_lens = vec![0u32; n];
    band_keys
        .par_chunks_mut(bands)
        .zip(set_keys.par_iter_mut().zip(set_lens.par_iter_mut()))
        .zip(docs.par_iter())
        .for_each_init(
            || SignScratch::new(cfg.num_perm),
            |scratch, ((keys, (set_key, set_len)), doc)| {
                (*set_key, *set_len) = sign_document(&hasher, cfg, rows, doc, keys, scratch);
            },
        );
    stats.empty_docs = set_lens.iter().filter(|&&l| l == 0).count();
    stats.seconds_signatures = t.elapsed().as_secs_f64();

    // 2. Identical shingle sets: star pairs to the first document; only it enters LSH.
    let t = Instant::now();
    let mut by_set: Vec<(u64, u32, u32)> = (0..n)
        .filter(|&i| set_lens[i] > 0)
        .map(|i| (set_keys[i], set_lens[i], i as u32))
        .collect();
    by_set.par_sort_unstable();
    let mut in_lsh = vec![false; n];
    let mut candidates: Vec<u64> = Vec::new();
    let mut run_start = 0;
    for k in 0..by_set.len() {
        let same = k > 0 && by_set[k].0 == by_set[k - 1].0 && by_set[k].1 == by_set[k - 1].1;
        if same {
            candidates.push(pack(by_set[run_start].2, by_set[k].2));
            stats.identical_shingle_sets += 1;
        } else {
            run_start = k;
            in_lsh[by_set[k].2 as usize] = true;
        }
    }
    drop(by_set);

    // 3. LSH buckets per band.
    let window = cfg.bucket_window;
    let per_band: Vec<(Vec<u64>, usize)> = (0..bands)
        .into_par_iter()
        .map(|j| {
            let mut entries: Vec<(u64, u32)> = (0..n)
                .filter(|&i| in_lsh[i])
                .map(|i| (band_keys[i * bands + j], i as u32))
                .collect();
            entries.sort_unstable();
            let mut out = Vec::new();
            let oversized = bucket_pairs(&entries, window, &mut out);
            (out, oversized)
        })
        .collect();
    drop(band_keys);
    for (pairs, oversized) in per_band {
        candidates.extend(pairs);
        stats.oversized_buckets += oversized;
    }
    candidates.par_sort_unstable();
    candidates.dedup();
    stats.candidate_pairs = candidates.len();
    stats.seconds_lsh = t.elapsed().as_secs_f64();

    // 4. Verify by true Jaccard; shingle sets are rebuilt only for documents in a candidate.
    let t = Instant::now();
    let mut involved = vec![false; n];
    for &c in &candidates {
        let (a, b) = unpack(c);
        involved[a] = true;
        involved[b] = true;
    }
    let sets: Vec<Vec<u64>> = (0..n)
        .into_par_iter()
        .map_init(Vec::new, |tok_buf, i| {
            if !involved[i] {
                return Vec::new();
            }
            let mut s = Vec::new();
            shingle_hashes_into(docs[i], cfg.shingle_size, cfg.seed, tok_buf, &mut s);
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let pairs: Vec<(usize, usize, f64)> = candidates
        .par_iter()
        .filter_map(|&c| {
            let (a, b) = unpack(c);
            let j = jaccard_sorted(&sets[a], &sets[b]);
            (j >= cfg.threshold).then_some((a, b, j))
        })
        .collect();
    drop(sets);
    stats.verified_pairs = pairs.len();
    stats.seconds_verify = t.elapsed().as_secs_f64();

    // 5. Clusters.
    let mut uf = UnionFind::new(n);
    for &(a, b, _) in &pairs {
        uf.union(a, b);
    }
    let clusters = uf.clusters(rank);
    stats.clusters = clusters.len();
    stats.docs_in_clusters = clusters.iter().map(|c| c.members.len()).sum();
    stats.duplicates_to_drop = stats.docs_in_clusters - stats.clusters;
    stats.seconds_total = t_all.elapsed().as_secs_f64();
    Ok(NearDupResult {
        clusters,
        pairs,
        stats,
    })
}

/// Candidate pairs of one band: `entries` are `(band key, document)` sorted; documents with
/// equal keys are paired, all pairs in a bucket up to `window + 1` members, beyond that each
/// with the `window` before it. Returns the number of such oversized buckets.
pub(crate) fn bucket_pairs(entries: &[(u64, u32)], window: usize, out: &mut Vec<u64>) -> usize {
    let mut oversized = 0;
    for bucket in entries.chunk_by(|x, y| x.0 == y.0) {
        if bucket.len() > window + 1 {
            oversized += 1;
        }
        for (x, &(_, a)) in bucket.iter().enumerate() {
            for &(_, b) in &bucket[x.saturating_sub(window)..x] {
                out.push(pack(a, b));
            }
        }
    }
    oversized
}

/// Scratch buffers of [`sign_document`], reused across documents.
pub(crate) struct SignScratch {
    toks: Vec<u64>,
    shingles: Vec<u64>,
    mins: Vec<u32>,
}

impl SignScratch {
    pub(crate) fn new(num_perm: usize) -> Self {
        SignScratch {
            toks: Vec::new(),
            shingles: Vec::new(),
            mins: vec![u32::MAX; num_perm],
        }
    }
}

/// One document's LSH input: its band keys into `keys` (one per band, left alone for a document
/// without code tokens) and the fingerprint and size of its shingle set (`(0, 0)` when empty).
/// The in-memory run and the sharded stages ([`crate::audit::sharded`]) both sign with this, so
/// they see the same keys.
pub(crate) fn sign_document(
    hasher: &MinHasher,
    cfg: &NearDupConfig,
    rows: usize,
    doc: &str,
    keys: &mut [u64],
    scratch: &mut SignScratch,
) -> (u64, u32) {
    let SignScratch {
        toks,
        shingles,
        mins,
    } = scratch;
    shingle_hashes_into(doc, cfg.shingle_size, cfg.seed, toks, shingles);
    if shingles.is_empty() {
        return (0, 0);
    }
    hasher.signature_into(shingles, mins);
    for (j, key) in keys.iter_mut().enumerate() {
        *key = hash_u32s(&mins[j * rows..(j + 1) * rows], j as u64);
    }
    shingles.sort_unstable();
    shingles.dedup();
    (set_fingerprint(shingles), shingles.len() as u32)
}

/// Bands and rows minimizing `fp_weight * FP + fn_weight * FN`, where FP is the area under the
/// S-curve `P(s) = 1 - (1 - s^r)^b` on `[0, threshold]` and FN the area above it on
/// `[threshold, 1]`, over all `b * r <= num_perm`. Integrals by composite Simpson's rule.
pub fn optimal_bands_rows(
    threshold: f64,
    num_perm: usize,
    fp_weight: f64,
    fn_weight: f64,
) -> (usize, usize) {
    let mut best = (1, 1);
    let mut best_err = f64::INFINITY;
    for b in 1..=num_perm {
        for r in 1..=num_perm / b {
            let p = |s: f64| 1.0 - (1.0 - s.powi(r as i32)).powi(b as i32);
            let fp = simpson(&p, 0.0, threshold);
            let fn_ = simpson(&|s| 1.0 - p(s), threshold, 1.0);
            let err = fp * fp_weight + fn_ * fn_weight;
            if err < best_err {
                best_err = err;
                best = (b, r);
            }
        }
    }
    best
}

fn simpson(f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    const N: usize = 128; // even
    if b <= a {
        return 0.0;
    }
    let h = (b - a) / N as f64;
    let mut sum = f(a) + f(b);
    for k in 1..N {
        let w = if k % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(a + k as f64 * h);
    }
    sum * h / 3.0
}

/// The sorted, deduplicated shingle hashes of `doc` (the set whose Jaccard is "true Jaccard").
pub fn shingle_set(doc: &str, shingle_size: usize, seed: u64) -> Vec<u64> {
    let mut toks = Vec::new();
    let mut out = Vec::new();
    shingle_hashes_into(doc, shingle_size.max(1), seed, &mut toks, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// Jaccard similarity of two sorted, deduplicated sets; 0 when both are empty.
pub fn jaccard_sorted(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// Shingle hashes (unsorted, with repeats) of `doc` into `out`, using `toks` as scratch.
fn shingle_hashes_into(doc: &str, k: usize, seed: u64, toks: &mut Vec<u64>, out: &mut Vec<u64>) {
    toks.clear();
    out.clear();
    for_each_code_token(doc, |t| toks.push(hash_bytes(t.as_bytes(), seed)));
    if toks.is_empty() {
        return;
    }
    if toks.len() < k {
        out.push(shingle_hash(toks));
        return;
    }
    out.extend(toks.windows(k).map(shingle_hash));
}

#[inline]
fn shingle_hash(window: &[u64]) -> u64 {
    let mut h = 0x6a09_e667_f3bc_c908u64 ^ window.len() as u64;
    for &t in window {
        h = (h.rotate_left(23) ^ t).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fmix64(h)
}

fn set_fingerprint(sorted: &[u64]) -> u64 {
    let mut h = 0xbb67_ae85_84ca_a73bu64;
    for &v in sorted {
        h = (h ^ v).rotate_left(29).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fmix64(h ^ sorted.len() as u64)
}

#[inline]
pub(crate) fn pack(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    ((lo as u64) << 32) | hi as u64
}

#[inline]
pub(crate) fn unpack(p: u64) -> (usize, usize) {
    ((p >> 32) as usize, (p & 0xffff_ffff) as usize)
}

/// MinHash with affine permutations of 32-bit values: permutation `i` maps a shingle hash
/// (folded to 32 bits) `x` to `a_i * x + b_i (mod 2^32)` with random odd `a_i`, which is a
/// bijection. This is the scheme datasketch 2.x uses by default (`affine32` in
/// `datasketch/minhash.py`); shingle hashes are already avalanche-mixed, and the recall tests
/// check the min-wise behaviour. 32-bit lanes let the inner loop run 8 permutations per AVX2
/// instruction.
pub(crate) struct MinHasher {
    a: Vec<u32>,
    b: Vec<u32>,
}

impl MinHasher {
    pub(crate) fn new(num_perm: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed ^ 0x4d69_6e48_6173_6821);
        let mut a = Vec::with_capacity(num_perm);
        let mut b = Vec::with_capacity(num_perm);
        for _ in 0..num_perm {
            let r = rng.next_u64();
            a.push((r as u32) | 1);
            b.push((r >> 32) as u32);
        }
        Self { a, b }
    }

    #[inline]
    fn signature_into(&self, shingles: &[u64], mins: &mut [u32]) {
        let (a, b) = (&self.a[..mins.len()], &self.b[..mins.len()]);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is available on this CPU (checked just above); the function
                // only differs from `signature_portable` in the instructions it may use.
                unsafe { signature_avx2(a, b, shingles, mins) };
                return;
            }
        }
        signature_portable(a, b, shingles, mins);
    }
}

#[inline(always)]
fn signature_portable(a: &[u32], b: &[u32], shingles: &[u64], mins: &mut [u32]) {
    mins.fill(u32::MAX);
    for &h in shingles {
        let x = (h ^ (h >> 32)) as u32;
        for ((m, &ai), &bi) in mins.iter_mut().zip(a).zip(b) {
            *m = (*m).min(ai.wrapping_mul(x).wrapping_add(bi));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn signature_avx2(a: &[u32], b: &[u32], shingles: &[u64], mins: &mut [u32]) {
    signature_portable(a, b, shingles, mins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::SplitMix64;

    /// A synthetic Luau-like document of `n` statements with unique identifiers.
    fn doc(rng: &mut SplitMix64, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let a = rng.next_u64() % 100_000;
                let b = rng.next_u64() % 100_000;
                format!("local v{a} = f{b}(v{a}, {})", rng.below(1000))
            })
            .collect()
    }

    /// Replace whole statements until the true Jaccard of the shingle sets drops to about
    /// `target`; returns the variant and its true Jaccard with `base`.
    fn variant_at(rng: &mut SplitMix64, base: &[String], target: f64) -> (String, f64) {
        let base_text = base.join("\n");
        let base_set = shingle_set(&base_text, 5, NearDupConfig::default().seed);
        let mut lines = base.to_vec();
        let mut order: Vec<usize> = (0..lines.len()).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, rng.below(k + 1));
        }
        for &k in &order {
            let text = lines.join("\n");
            let j = jaccard_sorted(
                &base_set,
                &shingle_set(&text, 5, NearDupConfig::default().seed),
            );
            if j <= target + 0.02 {
                return (text, j);
            }
            lines[k] = doc(rng, 1).remove(0);
        }
        let text = lines.join("\n");
        let j = jaccard_sorted(
            &base_set,
            &shingle_set(&text, 5, NearDupConfig::default().seed),
        );
        (text, j)
    }

    #[test]
    fn optimal_params_minimize_the_weighted_error() {
        // Reference values from datasketch 2.0.0 `datasketch.lsh._optimal_param` (scipy quad):
        // (0.7, 256, 0.5, 0.5) -> (25, 10); (0.7, 256, 0.1, 0.9) -> (32, 8);
        // (0.75, 256, 0.5, 0.5) -> (21, 12) (also in ChenghaoMou/text-dedup utils/analysis.py).
        assert_eq!(optimal_bands_rows(0.7, 256, 0.5, 0.5), (25, 10));
        assert_eq!(optimal_bands_rows(0.7, 256, 0.1, 0.9), (32, 8));
        assert_eq!(optimal_bands_rows(0.75, 256, 0.5, 0.5), (21, 12));
        // Favouring recall moves the S-curve's midpoint (1/b)^(1/r) below the threshold.
        let (b, r) = NearDupConfig::default().lsh_params().unwrap();
        assert!(b * r <= 256);
        assert!((1.0 / b as f64).powf(1.0 / r as f64) < 0.7);
    }

    #[test]
    fn signature_agreement_estimates_jaccard_and_simd_matches_portable() {
        let mut rng = SplitMix64::new(99);
        let hasher = MinHasher::new(256, DEFAULT_SEED);
        let base = doc(&mut rng, 60);
        for target in [0.3, 0.6, 0.9] {
            let (variant, j) = variant_at(&mut rng, &base, target);
            let (mut sa, mut sb) = (vec![0u32; 256], vec![0u32; 256]);
            let a = shingle_set(&base.join("\n"), 5, DEFAULT_SEED);
            let b = shingle_set(&variant, 5, DEFAULT_SEED);
            hasher.signature_into(&a, &mut sa);
            hasher.signature_into(&b, &mut sb);
            let agree = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / 256.0;
            // Standard error at 256 permutations is at most 0.031; allow 4 of them.
            assert!((agree - j).abs() < 0.125, "estimate {agree} vs true {j}");
            let mut portable = vec![0u32; 256];
            signature_portable(&hasher.a, &hasher.b, &a, &mut portable);
            assert_eq!(portable, sa);
        }
    }

    #[test]
    fn bad_config_is_rejected_with_a_reason() {
        let bad = [
            NearDupConfig {
                threshold: 0.0,
                ..Default::default()
            },
            NearDupConfig {
                num_perm: 0,
                ..Default::default()
            },
            NearDupConfig {
                bands: Some(30),
                rows: Some(10),
                ..Default::default()
            },
            NearDupConfig {
                bands: Some(30),
                ..Default::default()
            },
            NearDupConfig {
                shingle_size: 0,
                ..Default::default()
            },
        ];
        for cfg in bad {
            let err = near_duplicates(&["x"], &cfg).unwrap_err();
            assert!(matches!(err, NearDupError::Config(_)), "{err}");
        }
        let err = near_duplicates_ranked(&["x", "y"], Some(&[1]), &NearDupConfig::default());
        assert!(matches!(err, Err(NearDupError::RankLength { .. })));
    }

    #[test]
    fn planted_near_duplicates_found_at_high_jaccard_not_at_low() {
        let mut rng = SplitMix64::new(42);
        let mut docs: Vec<String> = Vec::new();
        let mut planted = Vec::new(); // (base, variant, true jaccard)
        for _ in 0..60 {
            let base = doc(&mut rng, 40);
            let b = docs.len();
            docs.push(base.join("\n"));
            for target in [0.9, 0.5] {
                let (v, j) = variant_at(&mut rng, &base, target);
                planted.push((b, docs.len(), j));
                docs.push(v);
            }
        }
        // Unrelated filler documents.
        for _ in 0..200 {
            docs.push(doc(&mut rng, 30).join("\n"));
        }
        let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let res = near_duplicates(&refs, &NearDupConfig::default()).unwrap();
        let mut uf = UnionFind::new(docs.len());
        for c in &res.clusters {
            for w in c.members.windows(2) {
                uf.union(w[0], w[1]);
            }
        }
        let (mut high, mut high_found, mut low) = (0, 0, 0);
        for &(a, b, j) in &planted {
            assert!(
                (j - 0.9).abs() < 0.06 || (j - 0.5).abs() < 0.06,
                "planting missed its target: {j}"
            );
            let together = uf.find(a) == uf.find(b);
            if j >= 0.7 {
                high += 1;
                high_found += together as usize;
            } else {
                low += 1;
                assert!(!together, "pair at Jaccard {j:.2} merged");
            }
        }
        assert_eq!((high, low), (60, 60));
        assert!(
            high_found >= 58,
            "found {high_found}/60 pairs at Jaccard ~0.9"
        );
        // Every reported pair really is at or above the threshold.
        for &(a, b, j) in &res.pairs {
            let seed = NearDupConfig::default().seed;
            let truth = jaccard_sorted(
                &shingle_set(&docs[a], 5, seed),
                &shingle_set(&docs[b], 5, seed),
            );
            assert!(truth >= 0.7 && (truth - j).abs() < 1e-12);
        }
        // No filler document is clustered.
        assert!(res
            .clusters
            .iter()
            .all(|c| c.members.iter().all(|&m| m < 180)));
    }

    #[test]
    fn formatting_and_comments_do_not_hide_duplicates_and_result_is_deterministic() {
        let mut rng = SplitMix64::new(7);
        let base = doc(&mut rng, 30).join("\n");
        let reformatted = format!(
            "-- copied from elsewhere\n{}\r\n",
            base.replace(" = ", "=").replace(", ", ",\n\t")
        );
        let other = doc(&mut rng, 30).join("\n");
        let docs = [
            other.as_str(),
            base.as_str(),
            "",
            "-- only a comment",
            reformatted.as_str(),
        ];
        let cfg = NearDupConfig::default();
        let res = near_duplicates(&docs, &cfg).unwrap();
        assert_eq!(
            res.clusters,
            vec![Cluster {
                members: vec![1, 4],
                representative: 1
            }]
        );
        assert_eq!(res.pairs.len(), 1);
        assert_eq!(res.pairs[0].2, 1.0);
        assert_eq!(res.stats.empty_docs, 2);
        // Ranked representative.
        let ranked = near_duplicates_ranked(&docs, Some(&[0, 5, 0, 0, 1]), &cfg).unwrap();
        assert_eq!(ranked.clusters[0].representative, 4);
        // Same input, same output, whatever the thread pool.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let single = pool.install(|| near_duplicates(&docs, &cfg).unwrap());
        assert_eq!(single.clusters, res.clusters);
        assert_eq!(single.pairs, res.pairs);
    }

    #[test]
    fn mass_copies_do_not_explode_buckets() {
        let mut rng = SplitMix64::new(3);
        let base = doc(&mut rng, 20).join("\n");
        let mut docs: Vec<String> = (0..500)
            .map(|i| {
                if i % 2 == 0 {
                    base.clone()
                } else {
                    format!("{base}  \n")
                }
            })
            .collect();
        docs.push(doc(&mut rng, 20).join("\n"));
        let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let res = near_duplicates(&refs, &NearDupConfig::default()).unwrap();
        assert_eq!(res.clusters.len(), 1);
        assert_eq!(res.clusters[0].members, (0..500).collect::<Vec<_>>());
        assert_eq!(res.stats.identical_shingle_sets, 499);
        assert_eq!(
            res.stats.candidate_pairs, 499,
            "star pairs only, no all-pairs blowup"
        );
    }
}
