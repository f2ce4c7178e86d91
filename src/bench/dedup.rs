//! Benchmark of near dedup and contamination on a generated corpus of Luau-like documents with
//! planted near duplicates (at measured true Jaccard) and planted benchmark prompts.
//!
//! `bench_dedup` returns figures (throughput, peak RSS, recall against true Jaccard) for
//! `vcurate bench dedup --out FILE`; `write_bench_corpus` writes the same corpus as JSONL for the
//! datasketch baseline (`benches/datasketch_baseline.py`). This is a benchmark, not a test:
//! nothing here asserts timings. The generator must stay deterministic in `(n, seed)` so both
//! sides measure the same documents.

use super::ratio;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::cluster::UnionFind;
use crate::audit::contamination::{
    ContaminationError, ContaminationIndex, ContaminationSettings, TaskTexts,
};
use crate::audit::minhash::{
    jaccard_sorted, near_duplicates, shingle_set, NearDupConfig, NearDupError, NearDupStats,
};
use crate::core::hash::SplitMix64;
use crate::luau::lex::code_tokens;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("benchmark needs at least 200 documents, got {0}")]
    TooSmall(usize),
    #[error(transparent)]
    NearDup(#[from] NearDupError),
    #[error(transparent)]
    Contamination(#[from] ContaminationError),
    #[error("writing the benchmark corpus failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("serializing the benchmark corpus failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// A planted near-duplicate pair and the true Jaccard of its shingle sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlantedPair {
    pub base: usize,
    pub variant: usize,
    pub jaccard: f64,
}

/// The generated corpus: documents, planted pairs, eval tasks and which documents embed a task.
#[derive(Debug, Clone)]
pub struct BenchCorpus {
    pub docs: Vec<String>,
    pub planted: Vec<PlantedPair>,
    pub tasks: Vec<TaskTexts>,
    /// (document, task index) for every document that embeds a (possibly edited) task prompt.
    pub contaminated: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchFigures {
    pub n_docs: usize,
    pub seed: u64,
    pub threads: usize,
    pub corpus_bytes: usize,
    pub seconds_generate: f64,
    pub near_dedup: NearDupFigures,
    pub contamination: ContaminationFigures,
    /// Peak resident set (VmHWM) after generating the corpus.
    pub peak_rss_kib_generate: Option<u64>,
    /// Whether the peak could be reset after generation (`/proc/self/clear_refs`); if not, the
    /// later peaks include generation.
    pub peak_rss_reset: bool,
    /// Peak during the multi-threaded near-dedup run, corpus resident included.
    pub peak_rss_kib_near_dedup: Option<u64>,
    /// Peak at the end (after the single-thread run and the contamination scan).
    pub peak_rss_kib: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NearDupFigures {
    pub num_perm: usize,
    pub threshold: f64,
    pub shingle_size: usize,
    pub seconds: f64,
    pub docs_per_sec: f64,
    pub mib_per_sec: f64,
    /// The same run on a one-thread pool (comparable with single-threaded Python).
    pub seconds_single_thread: f64,
    pub planted_pairs: usize,
    pub planted_at_or_above_threshold: usize,
    pub planted_found: usize,
    /// Planted pairs with true Jaccard >= threshold that ended in the same cluster.
    pub recall: f64,
    /// Recall per true-Jaccard bin `[lo, hi)` of planted pairs: (lo, hi, pairs, recall).
    pub recall_by_jaccard: Vec<(f64, f64, usize, f64)>,
    /// Reported pairs whose independently recomputed true Jaccard is >= threshold.
    pub pair_precision: f64,
    /// Planted pairs below the threshold that were reported as a verified pair (should be 0).
    pub planted_below_threshold_paired: usize,
    /// Verified pairs / LSH candidate pairs.
    pub candidate_precision: f64,
    pub stats: NearDupStats,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContaminationFigures {
    pub tasks: usize,
    pub seconds_index: f64,
    pub seconds_scan: f64,
    pub docs_per_sec: f64,
    pub planted_docs: usize,
    pub planted_found: usize,
    pub recall: f64,
    /// Documents with a hit although nothing was planted in them.
    pub unplanted_docs_flagged: usize,
}

/// Generate the corpus, run near dedup and a contamination scan, and measure.
pub fn bench_dedup(n_docs: usize, seed: u64) -> Result<BenchFigures, BenchError> {
    let t = Instant::now();
    let corpus = generate_corpus(n_docs, seed)?;
    let seconds_generate = t.elapsed().as_secs_f64();
    let refs: Vec<&str> = corpus.docs.iter().map(String::as_str).collect();
    let corpus_bytes: usize = refs.iter().map(|d| d.len()).sum();
    let cfg = NearDupConfig::default();

    let peak_rss_kib_generate = peak_rss_kib();
    let peak_rss_reset = super::reset_peak_rss();
    let t = Instant::now();
    let res = near_duplicates(&refs, &cfg)?;
    let seconds = t.elapsed().as_secs_f64();
    let peak_rss_kib_near_dedup = peak_rss_kib();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool can be built");
    let t = Instant::now();
    pool.install(|| near_duplicates(&refs, &cfg))?;
    let seconds_single_thread = t.elapsed().as_secs_f64();

    let mut uf = UnionFind::new(refs.len());
    for &(a, b, _) in &res.pairs {
        uf.union(a, b);
    }
    let paired: std::collections::HashSet<(usize, usize)> =
        res.pairs.iter().map(|&(a, b, _)| (a, b)).collect();
    let bins = [0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.01];
    let mut bin_counts = vec![(0usize, 0usize); bins.len() - 1];
    let (mut above, mut found, mut below_paired) = (0, 0, 0);
    for p in &corpus.planted {
        let together = uf.find(p.base) == uf.find(p.variant);
        if let Some(k) = bins
            .windows(2)
            .position(|w| p.jaccard >= w[0] && p.jaccard < w[1])
        {
            bin_counts[k].0 += 1;
            bin_counts[k].1 += together as usize;
        }
        if p.jaccard >= cfg.threshold {
            above += 1;
            found += together as usize;
        } else if paired.contains(&(p.base.min(p.variant), p.base.max(p.variant))) {
            below_paired += 1;
        }
    }
    let recheck_ok = res
        .pairs
        .par_iter()
        .filter(|&&(a, b, _)| {
            let sa = shingle_set(refs[a], cfg.shingle_size, cfg.seed);
            let sb = shingle_set(refs[b], cfg.shingle_size, cfg.seed);
            jaccard_sorted(&sa, &sb) >= cfg.threshold
        })
        .count();
    let near_dedup = NearDupFigures {
        num_perm: cfg.num_perm,
        threshold: cfg.threshold,
        shingle_size: cfg.shingle_size,
        seconds,
        docs_per_sec: refs.len() as f64 / seconds,
        mib_per_sec: corpus_bytes as f64 / (1024.0 * 1024.0) / seconds,
        seconds_single_thread,
        planted_pairs: corpus.planted.len(),
        planted_at_or_above_threshold: above,
        planted_found: found,
        recall: ratio(found, above),
        recall_by_jaccard: bins
            .windows(2)
            .zip(&bin_counts)
            .map(|(w, &(n, f))| (w[0], w[1], n, ratio(f, n)))
            .collect(),
        pair_precision: ratio(recheck_ok, res.pairs.len()),
        planted_below_threshold_paired: below_paired,
        candidate_precision: ratio(res.stats.verified_pairs, res.stats.candidate_pairs),
        stats: res.stats.clone(),
    };

    let t = Instant::now();
    let index = ContaminationIndex::build(&corpus.tasks, &ContaminationSettings::default())?;
    let seconds_index = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let hits = index.assess(&refs).hits;
    let seconds_scan = t.elapsed().as_secs_f64();
    let mut planted_found = 0;
    let mut is_planted = vec![false; refs.len()];
    for &(d, task) in &corpus.contaminated {
        is_planted[d] = true;
        planted_found += hits[d].iter().any(|h| h.task_id == corpus.tasks[task].id) as usize;
    }
    let unplanted_docs_flagged = hits
        .iter()
        .enumerate()
        .filter(|(d, h)| !is_planted[*d] && !h.is_empty())
        .count();
    let contamination = ContaminationFigures {
        tasks: corpus.tasks.len(),
        seconds_index,
        seconds_scan,
        docs_per_sec: refs.len() as f64 / seconds_scan,
        planted_docs: corpus.contaminated.len(),
        planted_found,
        recall: ratio(planted_found, corpus.contaminated.len()),
        unplanted_docs_flagged,
    };
    Ok(BenchFigures {
        n_docs: refs.len(),
        seed,
        threads: rayon::current_num_threads(),
        corpus_bytes,
        seconds_generate,
        near_dedup,
        contamination,
        peak_rss_kib_generate,
        peak_rss_reset,
        peak_rss_kib_near_dedup,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// Write the corpus as JSONL: `{"id", "text", "planted_from", "true_jaccard"}` per document
/// (`planted_from`/`true_jaccard` are null unless the document is a planted variant).
pub fn write_bench_corpus(path: &Path, n: usize, seed: u64) -> Result<(), BenchError> {
    #[derive(Serialize)]
    struct Line<'a> {
        id: usize,
        text: &'a str,
        planted_from: Option<usize>,
        true_jaccard: Option<f64>,
    }
    let corpus = generate_corpus(n, seed)?;
    let mut from = vec![None; corpus.docs.len()];
    for p in &corpus.planted {
        from[p.variant] = Some((p.base, p.jaccard));
    }
    let mut w = std::io::BufWriter::new(fs_err::File::create(path)?);
    for (id, text) in corpus.docs.iter().enumerate() {
        let line = Line {
            id,
            text,
            planted_from: from[id].map(|(b, _)| b),
            true_jaccard: from[id].map(|(_, j)| j),
        };
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

/// Peak resident set size of this process in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    super::peak_rss_bytes().map(|b| b / 1024)
}

const SERVICES: &[&str] = &[
    "Players",
    "ReplicatedStorage",
    "RunService",
    "TweenService",
    "Workspace",
    "UserInputService",
    "DataStoreService",
    "HttpService",
    "ServerScriptService",
    "Lighting",
];
const METHODS: &[&str] = &[
    "Connect",
    "FindFirstChild",
    "WaitForChild",
    "GetChildren",
    "Clone",
    "Destroy",
    "SetAttribute",
    "GetAttribute",
    "FireServer",
    "FireClient",
    "Invoke",
    "Play",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "tor", "ven", "sha", "pil", "rex", "dun", "gal", "bo", "qui", "zen", "fa",
    "ry", "ost", "mar", "lin", "cud", "ept", "ora", "nim", "sul", "tek", "wab", "yor", "hex",
];
const WORDS: &[&str] = &[
    "player", "score", "round", "spawn", "team", "health", "damage", "coin", "shop", "item",
    "level", "timer", "door", "light", "sound", "effect", "camera", "input", "mouse", "key",
    "save", "load", "data", "value", "table", "list", "queue", "event", "signal", "remote",
    "server", "client", "module", "class", "object", "state", "update", "render", "frame",
    "button", "label", "text", "color", "size", "position", "speed", "jump", "walk", "tool",
    "weapon", "reward", "badge", "quest", "npc", "path", "zone", "region", "part", "model",
];

/// Deterministic corpus of `n` documents. About a quarter are variants of an earlier original
/// at a target Jaccard drawn from [0.4, 1.0] (the true Jaccard is measured, not assumed); about
/// 1% embed an eval prompt in a comment, half verbatim (case/spacing changed), half with a few
/// words replaced.
pub fn generate_corpus(n: usize, seed: u64) -> Result<BenchCorpus, BenchError> {
    if n < 200 {
        return Err(BenchError::TooSmall(n));
    }
    let mut rng = SplitMix64::new(seed);
    let idents: Vec<String> = (0..20_000)
        .map(|_| {
            let k = 2 + rng.below(2);
            let mut s: String = (0..k).map(|_| *rng.pick(SYLLABLES)).collect();
            if rng.below(3) == 0 {
                s.push_str(&rng.below(100).to_string());
            }
            s
        })
        .collect();
    let n_tasks = (n / 200).clamp(20, 1000);
    let tasks: Vec<TaskTexts> = (0..n_tasks)
        .map(|t| {
            let len = 40 + rng.below(41);
            let prompt: Vec<&str> = (0..len).map(|_| *rng.pick(WORDS)).collect();
            TaskTexts {
                id: format!("task-{t:04}"),
                texts: vec![format!("Write a Luau module that {}.", prompt.join(" "))],
            }
        })
        .collect();

    // Documents are kept as text only (one statement per line, tokens separated by single
    // spaces); a variant re-lexes its original's lines, so memory stays near the corpus size.
    let mut docs: Vec<String> = Vec::with_capacity(n);
    let mut originals: Vec<usize> = Vec::new();
    let mut planned: Vec<(usize, usize)> = Vec::new();
    let mut line_buf: Vec<String> = Vec::new();
    for i in 0..n {
        let mut text = String::new();
        if i >= 100 && rng.below(4) == 0 {
            let base = originals[rng.below(originals.len())];
            let target = if rng.below(10) == 0 {
                1.0
            } else {
                0.4 + 0.6 * rng.unit()
            };
            // Replacing each token with probability p keeps a shingle with (1-p)^5; Jaccard of
            // kept fraction s is s / (2 - s), so s = 2J / (1 + J).
            let keep = 2.0 * target / (1.0 + target);
            let p = 1.0 - keep.powf(1.0 / 5.0);
            for line in docs[base].lines() {
                line_buf.clear();
                for tok in code_tokens(line) {
                    line_buf.push(if rng.unit() < p {
                        rng.pick(&idents).clone()
                    } else {
                        tok.to_string()
                    });
                }
                text.push_str(&line_buf.join(" "));
                text.push('\n');
            }
            planned.push((base, i));
        } else {
            let len = 10 + rng.below(50);
            for _ in 0..len {
                text.push_str(&statement(&mut rng, &idents).join(" "));
                text.push('\n');
            }
            originals.push(i);
        }
        docs.push(text);
    }
    // Whitespace noise on some variants: invisible to token shingles.
    for &(_, v) in &planned {
        if rng.below(3) == 0 {
            docs[v] = docs[v].replace('\n', "  \r\n");
        }
    }
    let mut contaminated = Vec::new();
    for (d, doc) in docs.iter_mut().enumerate() {
        if rng.below(100) != 0 {
            continue;
        }
        let t = rng.below(tasks.len());
        let prompt = &tasks[t].texts[0];
        let embedded = if rng.below(2) == 0 {
            prompt.to_uppercase().replace(' ', "   ")
        } else {
            let mut words: Vec<String> = prompt.split(' ').map(str::to_string).collect();
            for _ in 0..3 {
                let k = rng.below(words.len());
                words[k] = rng.pick(&idents).clone();
            }
            words.join(" ")
        };
        *doc = format!("--[[\n{embedded}\n]]\n{doc}");
        contaminated.push((d, t));
    }
    let planted = planned
        .par_iter()
        .map(|&(base, variant)| {
            let s = NearDupConfig::default();
            let a = shingle_set(&docs[base], s.shingle_size, s.seed);
            let b = shingle_set(&docs[variant], s.shingle_size, s.seed);
            PlantedPair {
                base,
                variant,
                jaccard: jaccard_sorted(&a, &b),
            }
        })
        .collect();
    Ok(BenchCorpus {
        docs,
        planted,
        tasks,
        contaminated,
    })
}

/// One Luau-like statement as tokens (each token lexes as exactly one Luau token).
pub(crate) fn statement(rng: &mut SplitMix64, idents: &[String]) -> Vec<String> {
    let id = |rng: &mut SplitMix64| rng.pick(idents).clone();
    let num = |rng: &mut SplitMix64| rng.below(1000).to_string();
    let words = |rng: &mut SplitMix64, k: usize| {
        let w: Vec<&str> = (0..k).map(|_| *rng.pick(WORDS)).collect();
        format!("\"{}\"", w.join(" "))
    };
    let s = |x: &str| x.to_string();
    match rng.below(12) {
        0 => vec![
            s("local"),
            id(rng),
            s("="),
            s("game"),
            s(":"),
            s("GetService"),
            s("("),
            format!("\"{}\"", rng.pick(SERVICES)),
            s(")"),
        ],
        1 => vec![
            s("local"),
            s("function"),
            id(rng),
            s("("),
            id(rng),
            s(","),
            id(rng),
            s(")"),
        ],
        2 => vec![id(rng), s("."), id(rng), s("="), num(rng)],
        3 => vec![
            s("if"),
            id(rng),
            s("."),
            id(rng),
            s(">"),
            num(rng),
            s("then"),
        ],
        4 => vec![s("return"), id(rng)],
        5 => vec![s("end")],
        6 => vec![s("for"), id(rng), s("="), s("1"), s(","), num(rng), s("do")],
        7 => vec![
            id(rng),
            s(":"),
            rng.pick(METHODS).to_string(),
            s("("),
            id(rng),
            s(","),
            words(rng, 2),
            s(")"),
        ],
        8 => vec![s("print"), s("("), words(rng, 3), s(")")],
        9 => vec![
            s("local"),
            id(rng),
            s("="),
            s("{"),
            id(rng),
            s("="),
            num(rng),
            s(","),
            id(rng),
            s("="),
            words(rng, 1),
            s("}"),
        ],
        10 => vec![id(rng), s("+="), num(rng)],
        _ => vec![s("task"), s("."), s("wait"), s("("), num(rng), s(")")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_deterministic_and_plants_what_it_says() {
        let a = generate_corpus(400, 9).unwrap();
        let b = generate_corpus(400, 9).unwrap();
        assert_eq!(a.docs, b.docs);
        assert_eq!(a.planted, b.planted);
        assert_ne!(generate_corpus(400, 10).unwrap().docs, a.docs);
        assert!(a.planted.len() > 50);
        // Planted Jaccards spread over the range, both sides of the threshold.
        assert!(a.planted.iter().any(|p| p.jaccard >= 0.9));
        assert!(a.planted.iter().any(|p| p.jaccard < 0.6));
        assert!(!a.contaminated.is_empty());
        assert!(matches!(
            generate_corpus(10, 1),
            Err(BenchError::TooSmall(10))
        ));
    }

    #[test]
    fn corpus_jsonl_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corpus.jsonl");
        write_bench_corpus(&path, 300, 4).unwrap();
        let corpus = generate_corpus(300, 4).unwrap();
        let text = fs_err::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 300);
        for p in &corpus.planted {
            assert_eq!(lines[p.variant]["planted_from"], p.base);
            // serde_json's default float parsing may differ in the last bit.
            let j = lines[p.variant]["true_jaccard"].as_f64().unwrap();
            assert!((j - p.jaccard).abs() < 1e-12);
        }
        assert_eq!(lines[5]["text"], corpus.docs[5]);
    }

    /// `cargo test --lib bench::dedup -- --ignored`: the benchmark end to end on a small corpus.
    #[test]
    #[ignore = "benchmark smoke run; slow in debug builds"]
    fn bench_dedup_smoke() {
        let f = bench_dedup(2000, 1).unwrap();
        assert!(f.near_dedup.planted_at_or_above_threshold > 50);
        assert!(
            f.near_dedup.recall >= 0.95,
            "recall {}",
            f.near_dedup.recall
        );
        assert_eq!(f.near_dedup.pair_precision, 1.0);
        assert_eq!(f.near_dedup.planted_below_threshold_paired, 0);
        assert!(f.contamination.recall >= 0.95, "{:?}", f.contamination);
        assert_eq!(f.contamination.unplanted_docs_flagged, 0);
        serde_json::to_string(&f).unwrap();
    }

    /// The full measurement. Set VCURATE_BENCH_N (default 100000) and VCURATE_BENCH_OUT
    /// (figures JSON); VCURATE_BENCH_CORPUS also writes the corpus JSONL for the Python baseline.
    #[test]
    #[ignore = "benchmark: run explicitly with an optimized build"]
    fn bench_dedup_full() {
        let n = std::env::var("VCURATE_BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        if let Ok(p) = std::env::var("VCURATE_BENCH_CORPUS") {
            write_bench_corpus(Path::new(&p), n, 1).unwrap();
        }
        let f = bench_dedup(n, 1).unwrap();
        let json = serde_json::to_string_pretty(&f).unwrap();
        println!("{json}");
        if let Ok(out) = std::env::var("VCURATE_BENCH_OUT") {
            fs_err::write(out, &json).unwrap();
        }
        assert!(
            f.near_dedup.recall >= 0.95,
            "recall {}",
            f.near_dedup.recall
        );
    }
}
