//! From tokenized chat examples to padded, length-bucketed batches with an assistant-only loss
//! mask. Backend-neutral; must not depend on a tensor library or a tokenizer.

use crate::core::hash::SplitMix64;
use crate::model::chat::Tokenized;
use crate::train::backend::Batch;

/// What batching had to cut or drop.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TruncationReport {
    /// Examples longer than `max_len`, cut to it.
    pub truncated: usize,
    /// Tokens removed by truncation.
    pub tokens_cut: usize,
    /// Examples with no assistant target left (after truncation), dropped.
    pub dropped_no_target: usize,
}

/// Cut examples to `max_len`, drop those without a target, sort by length, group into batches
/// of `batch_size`, right-pad with `pad_id` (mask 0), and shuffle the batch order with `seed`.
/// Sorting first keeps padding small (length bucketing).
pub fn make_batches(
    examples: &[Tokenized],
    batch_size: usize,
    max_len: usize,
    pad_id: u32,
    seed: u64,
) -> (Vec<Batch>, TruncationReport) {
    assert!(
        batch_size > 0 && max_len >= 2,
        "batch_size > 0 and max_len >= 2"
    );
    let mut report = TruncationReport::default();
    let mut kept: Vec<Tokenized> = Vec::with_capacity(examples.len());
    for ex in examples {
        let mut ex = ex.clone();
        if ex.tokens.len() > max_len {
            report.truncated += 1;
            report.tokens_cut += ex.tokens.len() - max_len;
            ex.tokens.truncate(max_len);
            ex.mask.truncate(max_len);
        }
        if ex.tokens.len() < 2 || !ex.mask.iter().skip(1).any(|&m| m != 0) {
            report.dropped_no_target += 1;
            continue;
        }
        kept.push(ex);
    }
    // Stable sort: equal lengths keep input order, so the result depends only on the seed.
    kept.sort_by_key(|e| e.tokens.len());
    let mut batches: Vec<Batch> = kept
        .chunks(batch_size)
        .map(|chunk| {
            let seq_len = chunk.iter().map(|e| e.tokens.len()).max().unwrap_or(2);
            let mut tokens = Vec::with_capacity(chunk.len() * seq_len);
            let mut loss_mask = Vec::with_capacity(chunk.len() * seq_len);
            for e in chunk {
                tokens.extend_from_slice(&e.tokens);
                loss_mask.extend_from_slice(&e.mask);
                tokens.extend(std::iter::repeat_n(pad_id, seq_len - e.tokens.len()));
                loss_mask.extend(std::iter::repeat_n(0, seq_len - e.mask.len()));
            }
            Batch {
                batch: chunk.len(),
                seq_len,
                tokens,
                loss_mask,
            }
        })
        .collect();
    shuffle(&mut batches, seed);
    (batches, report)
}

/// Fisher-Yates with the project's seeded generator.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(n: usize, first_target: usize) -> Tokenized {
        Tokenized {
            tokens: (0..n as u32).map(|t| t + 10).collect(),
            mask: (0..n).map(|i| u8::from(i >= first_target)).collect(),
        }
    }

    #[test]
    fn pads_buckets_truncates_and_reports() {
        let examples = vec![ex(3, 1), ex(9, 2), ex(4, 1), ex(5, 7), ex(2, 1)];
        let (batches, report) = make_batches(&examples, 2, 6, 0, 7);
        // ex(9) is cut to 6; ex(5, 7) has no target inside its 5 tokens and is dropped.
        assert_eq!(
            report,
            TruncationReport {
                truncated: 1,
                tokens_cut: 3,
                dropped_no_target: 1
            }
        );
        let mut shapes: Vec<(usize, usize)> =
            batches.iter().map(|b| (b.batch, b.seq_len)).collect();
        shapes.sort();
        // lengths sorted 2,3,4,6 -> batches {2,3} (len 3) and {4,6} (len 6)
        assert_eq!(shapes, vec![(2, 3), (2, 6)]);
        let short = batches.iter().find(|b| b.seq_len == 3).unwrap();
        assert_eq!(short.tokens, vec![10, 11, 0, 10, 11, 12]);
        assert_eq!(short.loss_mask, vec![0, 1, 0, 0, 1, 1]);
        assert_eq!(short.target_count(), 3);
        // The order depends on the seed only.
        let (again, _) = make_batches(&examples, 2, 6, 0, 7);
        assert_eq!(batches, again);
    }
}
