//! Exact dedup as sharded stages, the same clusters as
//! [`crate::audit::normalize::exact_duplicates`]: `exact-hash` (per shard: the blake3 of each
//! normalized text into hash partitions), `exact-pairs` (per partition: sort, link equal
//! neighbours), `exact-cluster` (global union-find and keepers), `exact-filter` (per shard).

use std::io::Write;

use rayon::prelude::*;

use super::cluster::{self, Edges};
use super::near::write_json;
use super::{for_each_batch, read_raw, write_file, write_raw, ShardError, StageTasks, TaskCtx};
use crate::audit::minhash::pack;
use crate::audit::normalize::normalize;
use crate::workspace::settings::NormalizeOptions;

const HASH: &str = "exact-hash";
const PAIRS: &str = "exact-pairs";
const CLUSTER: &str = "exact-cluster";
const FILTER: &str = "exact-filter";

/// A partition record: 32 bytes of hash, 4 of global index.
const RECORD: usize = 36;

pub(super) fn stages(shards: usize, partitions: usize) -> Vec<StageTasks> {
    super::stage_list(&[
        (HASH, shards),
        (PAIRS, partitions),
        (CLUSTER, 1),
        (FILTER, shards),
    ])
}

pub(super) fn run(ctx: &TaskCtx, stage: &str, opts: &NormalizeOptions) -> Result<(), ShardError> {
    let plan = ctx.plan;
    let parts = plan.partitions;
    match stage {
        HASH => {
            let shard = &plan.shards[ctx.task];
            let mut by_part: Vec<Vec<u8>> = vec![Vec::new(); parts];
            for_each_batch(shard, &super::TEXT_COLUMNS, |at, df| {
                let keys: Vec<[u8; 32]> = super::audit_texts(df)?
                    .par_iter()
                    .map(|t| *blake3::hash(normalize(t, opts).as_bytes()).as_bytes())
                    .collect();
                for (i, k) in keys.iter().enumerate() {
                    let p =
                        (u64::from_le_bytes(k[..8].try_into().expect("8")) % parts as u64) as usize;
                    by_part[p].extend_from_slice(k);
                    by_part[p].extend_from_slice(&((shard.offset + at + i) as u32).to_le_bytes());
                }
                Ok(())
            })?;
            ctx.crash_point(HASH);
            for (p, bytes) in by_part.iter().enumerate() {
                write_file(&ctx.path(HASH, format!("{}.{p}", ctx.task)), |w| {
                    w.write_all(bytes)
                })?;
            }
        }
        PAIRS => {
            let mut keyed: Vec<([u8; 32], u32)> = Vec::new();
            for s in 0..plan.shards.len() {
                let bytes = fs_err::read(ctx.path(HASH, format!("{s}.{}", ctx.task)))?;
                keyed.extend(bytes.chunks_exact(RECORD).map(|r| {
                    (
                        r[..32].try_into().expect("32"),
                        u32::from_le_bytes(r[32..].try_into().expect("4")),
                    )
                }));
            }
            keyed.par_sort_unstable();
            let pairs: Vec<u64> = keyed
                .windows(2)
                .filter(|w| w[0].0 == w[1].0)
                .map(|w| pack(w[0].1, w[1].1))
                .collect();
            write_raw(&ctx.path(PAIRS, format!("{}.pairs", ctx.task)), &pairs)?;
        }
        CLUSTER => {
            let mut edges = Edges::default();
            for p in 0..parts {
                edges
                    .pairs
                    .extend(read_raw::<u64>(&ctx.path(PAIRS, format!("{p}.pairs")))?);
            }
            let out = cluster::cluster(ctx, CLUSTER, edges)?;
            let summary = crate::audit::jobs::exact_dedup::ExactDedupSummary {
                clusters: out.sizes.len(),
                cluster_sizes: out.sizes,
            };
            write_json(&ctx.path(CLUSTER, "0.summary.json"), &summary)?;
        }
        FILTER => cluster::filter(
            ctx,
            CLUSTER,
            FILTER,
            &cluster::FilterSpec {
                step: "exact-dedup",
                reason: "exact_duplicate",
                keeper_column: "keeper",
                drop: true,
                score_column: None,
            },
            &|rep| format!("same normalized text as {rep}"),
        )?,
        other => {
            return Err(ShardError::UnknownStage {
                stage: other.into(),
                list: [HASH, PAIRS, CLUSTER, FILTER].join(", "),
            })
        }
    }
    Ok(())
}
