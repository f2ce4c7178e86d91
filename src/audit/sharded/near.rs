//! Near dedup as sharded stages. Same algorithm, same keys and the same pairs as
//! [`crate::audit::minhash::near_duplicates_ranked`]; each step's working set is bounded:
//!
//! | stage             | tasks      | reads                         | writes                           |
//! |-------------------|------------|-------------------------------|----------------------------------|
//! | `near-sig`        | shard      | texts in batches              | band keys (band-major), set keys |
//! | `near-dupsets`    | 1          | set keys (16 B/doc)           | star pairs, the LSH membership   |
//! | `near-bucket`     | band       | one band's keys (12 B/doc)    | that band's candidate pairs      |
//! | `near-candidates` | 1          | all candidate pairs           | sorted parts, involved documents |
//! | `near-sets`       | shard      | texts of involved documents   | shingle sets (spilled to disk)   |
//! | `near-verify`     | partition  | a part; sets by positional read | verified pairs with Jaccard    |
//! | `near-cluster`    | 1          | verified pairs, ids, earlier tables | clusters, keepers          |
//! | `near-filter`     | shard      | ids of the shard              | its attribute and excluded rows  |

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cluster::{self, Edges};
use super::{
    for_each_batch, read_raw, read_raw_at, write_raw, Bits, ShardError, StageTasks, TaskCtx,
};
use crate::audit::minhash::{
    bucket_pairs, jaccard_sorted, pack, shingle_set, sign_document, unpack, MinHasher,
    NearDupConfig, NearDupStats, SignScratch,
};

pub(super) const SIG: &str = "near-sig";
const DUPSETS: &str = "near-dupsets";
const BUCKET: &str = "near-bucket";
const CANDIDATES: &str = "near-candidates";
const SETS: &str = "near-sets";
const VERIFY: &str = "near-verify";
const CLUSTER: &str = "near-cluster";
const FILTER: &str = "near-filter";

pub(super) fn stages(shards: usize, bands: usize, partitions: usize) -> Vec<StageTasks> {
    super::stage_list(&[
        (SIG, shards),
        (DUPSETS, 1),
        (BUCKET, bands),
        (CANDIDATES, 1),
        (SETS, shards),
        (VERIFY, partitions),
        (CLUSTER, 1),
        (FILTER, shards),
    ])
}

/// Counts the single-task stages hand on to the summary.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Counts {
    empty_docs: usize,
    identical_shingle_sets: usize,
    oversized_buckets: usize,
    candidate_pairs: usize,
}

pub(super) fn run(
    ctx: &TaskCtx,
    stage: &str,
    cfg: &NearDupConfig,
    drop: bool,
) -> Result<(), ShardError> {
    let (bands, rows) = cfg
        .lsh_params()
        .map_err(|e| super::bad(ctx.work, e.to_string()))?;
    let plan = ctx.plan;
    let n = plan.documents;
    match stage {
        SIG => {
            let shard = &plan.shards[ctx.task];
            let hasher = MinHasher::new(cfg.num_perm, cfg.seed);
            let mut keys = vec![0u64; shard.rows * bands]; // doc-major while signing
            let mut set_keys = vec![0u64; shard.rows];
            let mut set_lens = vec![0u32; shard.rows];
            for_each_batch(shard, &super::TEXT_COLUMNS, |at, df| {
                let texts = super::audit_texts(df)?;
                let end = at + texts.len();
                keys[at * bands..end * bands]
                    .par_chunks_mut(bands)
                    .zip(set_keys[at..end].par_iter_mut())
                    .zip(set_lens[at..end].par_iter_mut())
                    .zip(texts.par_iter())
                    .for_each_init(
                        || SignScratch::new(cfg.num_perm),
                        |scratch, (((k, sk), sl), text)| {
                            (*sk, *sl) = sign_document(&hasher, cfg, rows, text, k, scratch);
                        },
                    );
                Ok(())
            })?;
            ctx.crash_point(SIG);
            // Band-major, so a bucket task reads one contiguous band per shard.
            let mut band_major = vec![0u64; keys.len()];
            for (i, k) in keys.chunks_exact(bands).enumerate() {
                for (j, &v) in k.iter().enumerate() {
                    band_major[j * shard.rows + i] = v;
                }
            }
            drop_vec(keys);
            write_raw(&ctx.path(SIG, format!("{}.bands", ctx.task)), &band_major)?;
            write_raw(&ctx.path(SIG, format!("{}.setkey", ctx.task)), &set_keys)?;
            write_raw(&ctx.path(SIG, format!("{}.setlen", ctx.task)), &set_lens)?;
        }
        DUPSETS => {
            // Identical shingle sets: star pairs to the first document; only it enters LSH.
            let mut by_set: Vec<(u64, u32, u32)> = Vec::with_capacity(n);
            for (s, shard) in plan.shards.iter().enumerate() {
                let keys: Vec<u64> = read_raw(&ctx.path(SIG, format!("{s}.setkey")))?;
                let lens: Vec<u32> = read_raw(&ctx.path(SIG, format!("{s}.setlen")))?;
                for i in 0..shard.rows {
                    if lens[i] > 0 {
                        by_set.push((keys[i], lens[i], (shard.offset + i) as u32));
                    }
                }
            }
            let mut counts = Counts {
                empty_docs: n - by_set.len(),
                ..Default::default()
            };
            by_set.par_sort_unstable();
            let mut in_lsh = Bits::new(n);
            let mut star = Vec::new();
            let mut run_start = 0;
            for k in 0..by_set.len() {
                let same =
                    k > 0 && by_set[k].0 == by_set[k - 1].0 && by_set[k].1 == by_set[k - 1].1;
                if same {
                    star.push(pack(by_set[run_start].2, by_set[k].2));
                    counts.identical_shingle_sets += 1;
                } else {
                    run_start = k;
                    in_lsh.set(by_set[k].2 as usize);
                }
            }
            write_raw(&ctx.path(DUPSETS, "0.star"), &star)?;
            write_raw(&ctx.path(DUPSETS, "0.lsh"), &in_lsh.0)?;
            write_json(&ctx.path(DUPSETS, "0.counts.json"), &counts)?;
        }
        BUCKET => {
            let j = ctx.task;
            let in_lsh = Bits(read_raw(&ctx.path(DUPSETS, "0.lsh"))?);
            let mut entries: Vec<(u64, u32)> = Vec::new();
            let (mut buf, mut band) = (Vec::new(), Vec::new());
            for (s, shard) in plan.shards.iter().enumerate() {
                let f = std::fs::File::open(ctx.path(SIG, format!("{s}.bands")))?;
                read_raw_at::<u64>(&f, (j * shard.rows) as u64, shard.rows, &mut buf, &mut band)?;
                for (i, &key) in band.iter().enumerate() {
                    let g = shard.offset + i;
                    if in_lsh.get(g) {
                        entries.push((key, g as u32));
                    }
                }
            }
            entries.par_sort_unstable();
            let mut out = Vec::new();
            let oversized = bucket_pairs(&entries, cfg.bucket_window, &mut out) as u64;
            out.par_sort_unstable();
            out.dedup();
            write_raw(&ctx.path(BUCKET, format!("{j}.pairs")), &out)?;
            write_raw(&ctx.path(BUCKET, format!("{j}.oversized")), &[oversized])?;
        }
        CANDIDATES => {
            let mut counts: Counts = read_json(&ctx.path(DUPSETS, "0.counts.json"))?;
            let mut all: Vec<u64> = read_raw(&ctx.path(DUPSETS, "0.star"))?;
            for j in 0..bands {
                all.extend(read_raw::<u64>(&ctx.path(BUCKET, format!("{j}.pairs")))?);
                counts.oversized_buckets +=
                    read_raw::<u64>(&ctx.path(BUCKET, format!("{j}.oversized")))?[0] as usize;
            }
            all.par_sort_unstable();
            all.dedup();
            counts.candidate_pairs = all.len();
            let mut involved = Bits::new(n);
            for &c in &all {
                let (a, b) = unpack(c);
                involved.set(a);
                involved.set(b);
            }
            let parts = plan.partitions;
            let per = all.len().div_ceil(parts).max(1);
            for p in 0..parts {
                let lo = (p * per).min(all.len());
                let hi = ((p + 1) * per).min(all.len());
                write_raw(&ctx.path(CANDIDATES, format!("{p}.part")), &all[lo..hi])?;
            }
            write_raw(&ctx.path(CANDIDATES, "0.involved"), &involved.0)?;
            write_json(&ctx.path(CANDIDATES, "0.counts.json"), &counts)?;
        }
        SETS => {
            // Shingle sets of the documents in some candidate pair, spilled to disk: verify
            // reads them back by position, so no task holds all of them.
            let shard = &plan.shards[ctx.task];
            let involved = Bits(read_raw(&ctx.path(CANDIDATES, "0.involved"))?);
            let mut offsets = Vec::with_capacity(shard.rows + 1);
            offsets.push(0u64);
            let sets_path = ctx.path(SETS, format!("{}.sets", ctx.task));
            super::write_file(&sets_path, |w| {
                use std::io::Write;
                let mut bytes = Vec::new();
                let r = for_each_batch(shard, &super::TEXT_COLUMNS, |at, df| {
                    let texts = super::audit_texts(df)?;
                    let sets: Vec<Vec<u64>> = texts
                        .par_iter()
                        .enumerate()
                        .map(|(i, t)| {
                            if involved.get(shard.offset + at + i) {
                                shingle_set(t, cfg.shingle_size, cfg.seed)
                            } else {
                                Vec::new()
                            }
                        })
                        .collect();
                    for set in sets {
                        bytes.clear();
                        for v in &set {
                            bytes.extend_from_slice(&v.to_le_bytes());
                        }
                        w.write_all(&bytes)?;
                        offsets.push(offsets.last().copied().unwrap_or(0) + set.len() as u64);
                    }
                    Ok(())
                });
                r.map_err(std::io::Error::other)
            })?;
            ctx.crash_point(SETS);
            write_raw(&ctx.path(SETS, format!("{}.idx", ctx.task)), &offsets)?;
        }
        VERIFY => {
            let part: Vec<u64> = read_raw(&ctx.path(CANDIDATES, format!("{}.part", ctx.task)))?;
            let mut index: Vec<Vec<u64>> = Vec::with_capacity(plan.shards.len());
            let mut files = Vec::with_capacity(plan.shards.len());
            for s in 0..plan.shards.len() {
                index.push(read_raw(&ctx.path(SETS, format!("{s}.idx")))?);
                files.push(std::fs::File::open(ctx.path(SETS, format!("{s}.sets")))?);
            }
            let read_set = |g: usize, buf: &mut Vec<u8>, out: &mut Vec<u64>| {
                let s = plan.shard_of(g);
                let i = g - plan.shards[s].offset;
                let (lo, hi) = (index[s][i], index[s][i + 1]);
                read_raw_at::<u64>(&files[s], lo, (hi - lo) as usize, buf, out)
            };
            // Chunks of pairs share their first document (pairs are sorted), so it is read
            // once per chunk run.
            let verified: Vec<(u64, f64)> = part
                .par_chunks(4096)
                .map(|chunk| -> std::io::Result<Vec<(u64, f64)>> {
                    let (mut buf, mut sa, mut sb) = (Vec::new(), Vec::new(), Vec::new());
                    let mut cur = usize::MAX;
                    let mut out = Vec::new();
                    for &c in chunk {
                        let (a, b) = unpack(c);
                        if a != cur {
                            read_set(a, &mut buf, &mut sa)?;
                            cur = a;
                        }
                        read_set(b, &mut buf, &mut sb)?;
                        let j = jaccard_sorted(&sa, &sb);
                        if j >= cfg.threshold {
                            out.push((c, j));
                        }
                    }
                    Ok(out)
                })
                .collect::<std::io::Result<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect();
            ctx.crash_point(VERIFY);
            let (pairs, jac): (Vec<u64>, Vec<f64>) = verified.into_iter().unzip();
            write_raw(&ctx.path(VERIFY, format!("{}.pairs", ctx.task)), &pairs)?;
            write_raw(&ctx.path(VERIFY, format!("{}.jaccard", ctx.task)), &jac)?;
        }
        CLUSTER => {
            let counts: Counts = read_json(&ctx.path(CANDIDATES, "0.counts.json"))?;
            let mut edges = Edges::default();
            for p in 0..plan.partitions {
                let pairs: Vec<u64> = read_raw(&ctx.path(VERIFY, format!("{p}.pairs")))?;
                let jac: Vec<f64> = read_raw(&ctx.path(VERIFY, format!("{p}.jaccard")))?;
                edges.pairs.extend(pairs);
                edges.scores.get_or_insert_with(Vec::new).extend(jac);
            }
            let verified_pairs = edges.pairs.len();
            let out = cluster::cluster(ctx, CLUSTER, edges)?;
            let stats = NearDupStats {
                docs: n,
                empty_docs: counts.empty_docs,
                bands,
                rows,
                identical_shingle_sets: counts.identical_shingle_sets,
                oversized_buckets: counts.oversized_buckets,
                candidate_pairs: counts.candidate_pairs,
                verified_pairs,
                clusters: out.sizes.len(),
                docs_in_clusters: out.sizes.iter().sum(),
                duplicates_to_drop: out.sizes.iter().sum::<usize>() - out.sizes.len(),
                ..Default::default()
            };
            let summary = crate::audit::jobs::near_dedup::NearDedupSummary {
                clusters: out.sizes.len(),
                cluster_sizes: out.sizes,
                stats,
            };
            write_json(&ctx.path(CLUSTER, "0.summary.json"), &summary)?;
        }
        FILTER => {
            let threshold = cfg.threshold;
            cluster::filter(
                ctx,
                CLUSTER,
                FILTER,
                &cluster::FilterSpec {
                    step: "near-dedup",
                    reason: "near_duplicate",
                    keeper_column: "representative",
                    drop,
                    score_column: Some("max_jaccard"),
                },
                &|rep| format!("near duplicate (Jaccard >= {threshold}) of {rep}"),
            )?;
        }
        other => {
            return Err(ShardError::UnknownStage {
                stage: other.into(),
                list: stages(0, 0, 0)
                    .iter()
                    .map(|s| s.stage.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
    Ok(())
}

fn drop_vec<T>(_: Vec<T>) {}

pub(super) fn write_json(path: &std::path::Path, v: &impl Serialize) -> std::io::Result<()> {
    crate::core::fs::write_atomic(
        path,
        &serde_json::to_vec_pretty(v).expect("work json serializes"),
    )
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<T, ShardError> {
    serde_json::from_slice(&fs_err::read(path)?).map_err(|e| super::bad(path, e))
}
