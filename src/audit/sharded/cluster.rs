//! The global step of both dedups (keeper ranks, union-find over the duplicate pairs, clusters
//! numbered as [`crate::audit::cluster::UnionFind::clusters`] numbers them) and the per-shard
//! filter that writes each shard's attribute and excluded rows, and `finish`, which
//! concatenates them into the audit's tables batch by batch.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;

use super::near::{read_json, write_json};
use super::{for_each_batch, read_raw, read_raw_at, strings, write_raw, Plan, ShardError, TaskCtx};
use crate::audit::cluster::UnionFind;
use crate::audit::minhash::unpack;
use crate::core::{Exclusion, Stage};

/// Duplicate pairs (packed `lo << 32 | hi`) and, for near dedup, each pair's Jaccard.
#[derive(Default)]
pub(super) struct Edges {
    pub pairs: Vec<u64>,
    pub scores: Option<Vec<f64>>,
}

pub(super) struct ClusterOut {
    /// Members per cluster, in cluster order.
    pub sizes: Vec<usize>,
}

/// A 128-bit key of a document id (the sets of ids below stay small).
fn id_key(id: &str) -> u128 {
    u128::from_le_bytes(
        blake3::hash(id.as_bytes()).as_bytes()[..16]
            .try_into()
            .expect("16"),
    )
}

/// Keeper rank of every document, exactly as [`crate::audit::jobs::AuditContext::keeper_rank`]
/// computes it, from the ids streamed shard by shard.
fn keeper_ranks(plan: &Plan) -> Result<Vec<u64>, ShardError> {
    let earlier: Vec<&str> = plan.earlier.iter().map(String::as_str).collect();
    let excluded: HashSet<u128> = crate::audit::run::excluded_ids(&plan.audit_dir, &earlier)
        .map_err(Box::new)?
        .iter()
        .map(|id| id_key(id))
        .collect();
    let mut permissive: HashMap<u128, u8> = HashMap::new();
    let license = plan.audit_dir.join("attributes").join("license.parquet");
    if license.exists() {
        let rows = crate::store::parquet_rows(&license)?;
        let mut at = 0;
        while at < rows {
            let len = super::BATCH_ROWS.min(rows - at);
            let df = crate::store::read_rows(&license, &["id", "spdx"], at, len)?;
            for (id, spdx) in crate::audit::license::table::id_spdx(&df)? {
                let p = crate::audit::license_expr::permissiveness(spdx).min(6);
                if p != 0 {
                    permissive.insert(id_key(id), p);
                }
            }
            at += len;
        }
    }
    let mut rank = Vec::with_capacity(plan.documents);
    for (s, shard) in plan.shards.iter().enumerate() {
        for_each_batch(shard, &["id"], |_, df| {
            for id in strings(df, "id")? {
                let k = id_key(id);
                let p = permissive.get(&k).copied().unwrap_or(0) as u64;
                rank.push(((excluded.contains(&k) as u64) << 40) | ((7 - p) << 32) | s as u64);
            }
            Ok(())
        })?;
    }
    Ok(rank)
}

/// Union-find over the edges, clusters and keepers; writes `<stage>/0.cluster` (cluster per
/// document, `u32::MAX` for none), `0.keepers` (keeper per cluster), `0.score` (best score per
/// document, NaN for none, near dedup only) and `0.names.json` (each keeper's id and
/// `id (source:path)`, in cluster order).
pub(super) fn cluster(ctx: &TaskCtx, stage: &str, edges: Edges) -> Result<ClusterOut, ShardError> {
    let plan = ctx.plan;
    let n = plan.documents;
    let rank = keeper_ranks(plan)?;
    let mut uf = UnionFind::new(n);
    let mut best = edges.scores.as_ref().map(|_| vec![f64::NAN; n]);
    for (k, &c) in edges.pairs.iter().enumerate() {
        let (a, b) = unpack(c);
        uf.union(a, b);
        if let (Some(best), Some(scores)) = (best.as_mut(), edges.scores.as_ref()) {
            for x in [a, b] {
                if best[x].is_nan() || best[x] < scores[k] {
                    best[x] = scores[k];
                }
            }
        }
    }
    drop(edges);
    // Component sizes by root, then clusters (size >= 2) numbered by smallest member.
    let mut root = vec![0u32; n];
    let mut count = vec![0u32; n];
    for (i, r) in root.iter_mut().enumerate() {
        *r = uf.find(i) as u32;
        count[*r as usize] += 1;
    }
    drop(uf);
    let mut cluster_of_root = vec![u32::MAX; n];
    let mut cluster = vec![u32::MAX; n];
    let mut keepers: Vec<u32> = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..n {
        let r = root[i] as usize;
        if count[r] < 2 {
            continue;
        }
        if cluster_of_root[r] == u32::MAX {
            cluster_of_root[r] = keepers.len() as u32;
            keepers.push(i as u32);
            sizes.push(count[r] as usize);
        }
        let c = cluster_of_root[r] as usize;
        cluster[i] = c as u32;
        // Lowest rank wins, ties to the smallest index (members come in index order).
        if rank[i] < rank[keepers[c] as usize] {
            keepers[c] = i as u32;
        }
    }
    drop((root, count, cluster_of_root, rank));
    // Names of the keepers, for the exclusions' details.
    let mut wanted: Vec<(u32, usize)> = keepers.iter().enumerate().map(|(c, &g)| (g, c)).collect();
    wanted.sort_unstable();
    let mut names = vec![(String::new(), String::new()); keepers.len()];
    let mut w = 0;
    for shard in &plan.shards {
        let end = shard.offset + shard.rows;
        if w >= wanted.len() || wanted[w].0 as usize >= end {
            continue;
        }
        for_each_batch(shard, &["id", "source_id", "path"], |at, df| {
            let (ids, sources, paths) = (
                strings(df, "id")?,
                strings(df, "source_id")?,
                strings(df, "path")?,
            );
            let hi = shard.offset + at + ids.len();
            while w < wanted.len() && (wanted[w].0 as usize) < hi {
                let i = wanted[w].0 as usize - shard.offset - at;
                names[wanted[w].1] = (
                    ids[i].to_string(),
                    format!("{} ({}:{})", ids[i], sources[i], paths[i]),
                );
                w += 1;
            }
            Ok(())
        })?;
    }
    write_raw(&ctx.path(stage, "0.cluster"), &cluster)?;
    write_raw(&ctx.path(stage, "0.keepers"), &keepers)?;
    if let Some(best) = best {
        write_raw(&ctx.path(stage, "0.score"), &best)?;
    }
    write_json(&ctx.path(stage, "0.names.json"), &names)?;
    Ok(ClusterOut { sizes })
}

/// How a dedup's filter names its columns and drops.
pub(super) struct FilterSpec {
    pub step: &'static str,
    pub reason: &'static str,
    pub keeper_column: &'static str,
    pub drop: bool,
    pub score_column: Option<&'static str>,
}

/// One shard's attribute rows (`id`, `source_id`, `cluster`, keeper, score) and excluded rows.
pub(super) fn filter(
    ctx: &TaskCtx,
    cluster_stage: &str,
    stage: &str,
    spec: &FilterSpec,
    detail: &dyn Fn(&str) -> String,
) -> Result<(), ShardError> {
    let shard = &ctx.plan.shards[ctx.task];
    let (mut buf, mut cluster) = (Vec::new(), Vec::new());
    let f = std::fs::File::open(ctx.path(cluster_stage, "0.cluster"))?;
    read_raw_at::<u32>(&f, shard.offset as u64, shard.rows, &mut buf, &mut cluster)?;
    let mut score = Vec::new();
    if spec.score_column.is_some() {
        let f = std::fs::File::open(ctx.path(cluster_stage, "0.score"))?;
        read_raw_at::<f64>(&f, shard.offset as u64, shard.rows, &mut buf, &mut score)?;
    }
    let keepers: Vec<u32> = read_raw(&ctx.path(cluster_stage, "0.keepers"))?;
    let names: Vec<(String, String)> = read_json(&ctx.path(cluster_stage, "0.names.json"))?;
    let (mut ids, mut sources) = (Vec::with_capacity(shard.rows), Vec::new());
    let mut excluded = Vec::new();
    for_each_batch(shard, &["id", "source_id"], |at, df| {
        for (k, (id, source)) in strings(df, "id")?
            .into_iter()
            .zip(strings(df, "source_id")?)
            .enumerate()
        {
            let c = cluster[at + k];
            if spec.drop && c != u32::MAX && keepers[c as usize] as usize != shard.offset + at + k {
                excluded.push(Exclusion::document(
                    Stage::Audit,
                    spec.step,
                    id.to_string(),
                    spec.reason,
                    detail(&names[c as usize].1),
                ));
            }
            ids.push(id.to_string());
            sources.push(source.to_string());
        }
        Ok(())
    })?;
    let opt_cluster: Vec<Option<u32>> = cluster
        .iter()
        .map(|&c| (c != u32::MAX).then_some(c))
        .collect();
    let keeper: Vec<Option<String>> = cluster
        .iter()
        .map(|&c| (c != u32::MAX).then(|| names[c as usize].0.clone()))
        .collect();
    let mut cols = vec![
        Column::new("id".into(), ids),
        Column::new("source_id".into(), sources),
        Column::new("cluster".into(), opt_cluster),
        Column::new(spec.keeper_column.into(), keeper),
    ];
    if let Some(name) = spec.score_column {
        let s: Vec<Option<f64>> = score.iter().map(|&v| (!v.is_nan()).then_some(v)).collect();
        cols.push(Column::new(name.into(), s));
    }
    crate::store::write_parquet(
        &ctx.path(stage, format!("{}.attributes.parquet", ctx.task)),
        DataFrame::new(shard.rows, cols),
    )?;
    crate::store::write_exclusions(
        &ctx.path(stage, format!("{}.excluded.parquet", ctx.task)),
        &excluded,
    )?;
    Ok(())
}

/// The dedup's tables from the filter stage's, with the summary the cluster stage wrote.
pub(super) fn finish(
    plan: &Plan,
    work: &Path,
    filter_stage: &str,
) -> Result<super::FinishReport, ShardError> {
    let cluster_stage = &plan.stages[plan.stages.len() - 2].stage;
    publish(plan, work, filter_stage, |_, _| {
        read_json(&work.join(cluster_stage).join("0.summary.json"))
    })
}

/// Concatenates the per-shard tables of `stage` (`<shard>.attributes.parquet`,
/// `<shard>.excluded.parquet`) in shard order into the audit's tables, and writes the summary
/// `summary(attribute table, excluded rows)` makes.
pub(super) fn publish(
    plan: &Plan,
    work: &Path,
    stage: &str,
    summary: impl FnOnce(&Path, usize) -> Result<serde_json::Value, ShardError>,
) -> Result<super::FinishReport, ShardError> {
    let audit = plan.job.name();
    let shards = plan.shards.len();
    let part = |kind: &str, s: usize| work.join(stage).join(format!("{s}.{kind}.parquet"));
    let dir = &plan.audit_dir;
    let attributes = dir.join("attributes").join(format!("{audit}.parquet"));
    concat(
        &(0..shards)
            .map(|s| part("attributes", s))
            .collect::<Vec<_>>(),
        &attributes,
    )?;
    let excluded_path = crate::audit::run::excluded_path(dir, audit);
    let excluded = concat(
        &(0..shards).map(|s| part("excluded", s)).collect::<Vec<_>>(),
        &excluded_path,
    )?;
    let summary = summary(&attributes, excluded)?;
    crate::core::fs::write_atomic(
        &dir.join("summary").join(format!("{audit}.json")),
        &serde_json::to_vec_pretty(&summary).expect("json"),
    )?;
    Ok(super::FinishReport {
        audit: audit.to_string(),
        documents: plan.documents,
        excluded,
        excluded_by_reason: reasons(&excluded_path)?,
        summary,
    })
}

/// Excluded rows per reason of an excluded table.
fn reasons(path: &Path) -> Result<std::collections::BTreeMap<String, usize>, ShardError> {
    let rows = crate::store::parquet_rows(path)?;
    let mut out = std::collections::BTreeMap::new();
    if rows > 0 {
        let df = crate::store::read_rows(path, &["reason"], 0, rows)?;
        for r in strings(&df, "reason")? {
            *out.entry(r.to_string()).or_insert(0) += 1;
        }
    }
    Ok(out)
}

/// Writes the rows of `parts` (same schema) to `out` one part at a time, atomically; returns
/// the number of rows.
fn concat(parts: &[std::path::PathBuf], out: &Path) -> Result<usize, ShardError> {
    let dir = out.parent().expect("a table has a folder");
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut rows = 0;
    {
        let mut writer = None;
        for p in parts {
            let df = crate::store::read_parquet(p)?;
            if writer.is_none() {
                writer = Some(ParquetWriter::new(tmp.as_file_mut()).batched(df.schema())?);
            }
            rows += df.height();
            writer.as_mut().expect("set").write_batch(&df)?;
        }
        if let Some(w) = writer {
            w.finish()?;
        }
    }
    crate::core::fs::publish_mode(tmp.as_file())?;
    tmp.persist(out).map_err(|e| e.error)?;
    Ok(rows)
}
