//! The `splits` audit: every document gets a train/valid/test split ([`crate::audit::split`]).
//! Exact and near duplicates always share one; the configured grouping (source or file) keeps
//! related documents together and, unless `strict`, is broken down where a group is larger than
//! a split's share; the split sizes count the documents that pass the earlier audits, since
//! those are what an export holds. The verifier then checks the result: a leak is an error, and
//! so is a split with a non-zero target that got no document. A split more than 5 points off
//! its target is a warning with the achieved fractions. Drops nothing.
//!
//! `vcurate audit` runs [`run_bounded`]: no texts, the duplicate groups from the exact-dedup
//! and near-dedup cluster tables, checked against those clusters. The in-memory [`Splits`] job
//! (also the fallback when those tables do not hold the store's documents) computes the groups
//! from the texts and verifies from the texts alone.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{failed, summary_json, AuditContext, AuditJob};
use crate::audit::minhash::near_duplicates_ranked;
use crate::audit::run::{AuditError, AuditOutput};
use crate::audit::split::{
    assign_splits, leak_keys, verify_clusters, verify_splits, GroupLevel, LeakReport, Split,
    SplitConfig, SplitItem,
};
use crate::workspace::Workspace;

pub struct Splits;

/// Audits whose drops are final: documents they drop do not count toward the split sizes (they
/// still get a split, beside their duplicates). Contamination's drops count, since
/// `snapshot create --allow-contaminated` keeps them.
const FINAL_DROPS: &[&str] = &[
    "license",
    "secrets",
    "density",
    "quality",
    "exact-dedup",
    "near-dedup",
];

/// The splits audit's summary (`summary/splits.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitsSummary {
    /// The configured grouping (`source` or `file`).
    pub group_by: GroupLevel,
    /// Whether groups were kept whole whatever their size.
    pub strict: bool,
    /// Groups assigned whole (documents bound by grouping or duplicates).
    pub groups: usize,
    /// Kept documents in the largest group.
    pub largest_group: usize,
    /// Sources broken down into files (or sections) because they were larger than a split's
    /// share.
    pub broken_down_sources: Vec<String>,
    /// Files broken down into their sections or members.
    pub broken_down_files: usize,
    /// The configured fractions.
    pub targets: SplitFractions,
    /// Kept documents (no earlier audit dropped them for good) per split: what the split sizes
    /// count.
    pub kept: SplitCounts,
    /// The achieved fractions of the kept documents.
    pub fractions: SplitFractions,
    /// All documents per split, dropped ones included.
    pub counts: SplitCounts,
    pub leaks: LeakReport,
    pub clean: bool,
    /// Splits more than 5 points off their target, and why.
    pub warnings: Vec<String>,
}

/// Documents per split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitCounts {
    pub train: usize,
    pub valid: usize,
    pub test: usize,
}

impl From<[usize; 3]> for SplitCounts {
    fn from([train, valid, test]: [usize; 3]) -> Self {
        SplitCounts { train, valid, test }
    }
}

/// A fraction per split, rounded to 4 decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitFractions {
    pub train: f64,
    pub valid: f64,
    pub test: f64,
}

impl From<[f64; 3]> for SplitFractions {
    fn from(f: [f64; 3]) -> Self {
        let r = |x: f64| (x * 1e4).round() / 1e4;
        SplitFractions {
            train: r(f[0]),
            valid: r(f[1]),
            test: r(f[2]),
        }
    }
}

impl AuditJob for Splits {
    fn name(&self) -> &'static str {
        "splits"
    }

    fn deps(&self) -> &'static [&'static str] {
        FINAL_DROPS
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let (name, docs, cfg, texts) = (self.name(), ctx.docs, ctx.config(), &ctx.texts);
        let dropped = ctx.excluded_by(FINAL_DROPS)?;
        let near = near_duplicates_ranked(texts, None, &(&cfg.near_dedup).into())
            .map_err(|e| failed(name, e))?;
        let items: Vec<SplitItem> = docs
            .iter()
            .zip(leak_keys(texts, &near, &cfg.exact_dedup))
            .map(|(d, leak_keys)| SplitItem {
                id: &d.id,
                source: &d.provenance.source_id,
                file: &d.provenance.path,
                leak_keys,
                counted: !dropped.contains(&d.id),
            })
            .collect();
        split_tables(ctx.ws, &items, |splits| {
            verify_splits(texts, splits, &(&cfg.near_dedup).into(), &cfg.exact_dedup)
                .map_err(|e| failed(name, e))
        })
    }
}

/// The splits of the whole store without its texts (what `vcurate audit` runs): ids, sources
/// and paths streamed from the store, and the duplicate groups from the clusters of the
/// exact-dedup and near-dedup tables (the same groups [`leak_keys`] makes from the texts: one
/// normalization, one near-dedup configuration, and a keeper rank that only picks each near
/// cluster's representative); the verifier checks that no cluster crosses splits. `None` when
/// those tables do not hold the store's documents in order (not run since the last ingest):
/// then the caller runs [`Splits`] over the documents.
pub fn run_bounded(ws: &Workspace) -> Result<Option<AuditOutput>, AuditError> {
    let dir = crate::audit::run::audit_dir(ws);
    let clusters = |audit: &str| -> Result<Option<DataFrame>, AuditError> {
        let p = dir.join("attributes").join(format!("{audit}.parquet"));
        if !p.exists() {
            return Ok(None);
        }
        let rows = crate::store::parquet_rows(&p)?;
        Ok(Some(crate::store::read_rows(
            &p,
            &["id", "cluster"],
            0,
            rows,
        )?))
    };
    let (Some(exact), Some(near)) = (clusters("exact-dedup")?, clusters("near-dedup")?) else {
        return Ok(None);
    };
    let str_col = |df: &DataFrame, c: &str| -> Result<Vec<String>, AuditError> {
        Ok(df
            .column(c)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let (mut ids, mut sources, mut files) = (Vec::new(), Vec::new(), Vec::new());
    for p in crate::store::table_paths(&ws.store_dir(), "documents") {
        let rows = crate::store::parquet_rows(&p)?;
        let df = crate::store::read_rows(&p, &["id", "source_id", "path"], 0, rows)?;
        ids.extend(str_col(&df, "id")?);
        sources.extend(str_col(&df, "source_id")?);
        files.extend(str_col(&df, "path")?);
    }
    let mut cluster_cols = Vec::new();
    for df in [&exact, &near] {
        if df.height() != ids.len()
            || df
                .column("id")?
                .str()?
                .iter()
                .zip(&ids)
                .any(|(a, b)| a != Some(b.as_str()))
        {
            return Ok(None);
        }
        cluster_cols.push(
            df.column("cluster")?
                .cast(&DataType::UInt32)?
                .u32()?
                .iter()
                .collect::<Vec<Option<u32>>>(),
        );
    }
    drop((exact, near));
    let dropped = crate::audit::run::excluded_ids(&dir, FINAL_DROPS)?;
    let items: Vec<SplitItem> = (0..ids.len())
        .map(|i| SplitItem {
            id: &ids[i],
            source: &sources[i],
            file: &files[i],
            leak_keys: [("exact", &cluster_cols[0]), ("near", &cluster_cols[1])]
                .into_iter()
                .filter_map(|(k, c)| c[i].map(|c| format!("{k}:{c}")))
                .collect(),
            counted: !dropped.contains(&ids[i]),
        })
        .collect();
    split_tables(ws, &items, |splits| {
        verify_clusters(&cluster_cols[0], &cluster_cols[1], splits)
            .map_err(|e| failed(Splits.name(), e))
    })
    .map(Some)
}

/// Assigns the splits of `items`, checks them with `verify`, and makes the audit's tables.
fn split_tables(
    ws: &Workspace,
    items: &[SplitItem],
    verify: impl FnOnce(&[Split]) -> Result<LeakReport, AuditError>,
) -> Result<AuditOutput, AuditError> {
    let name = Splits.name();
    let assignment =
        assign_splits(items, &SplitConfig::from(&ws.config.splits)).map_err(|e| failed(name, e))?;
    let leaks = verify(&assignment.splits)?;
    if !leaks.is_clean() {
        return Err(failed(
            name,
            format!(
                "the split verifier found leaks in our own split: {}",
                serde_json::to_string(&leaks).unwrap_or_default()
            ),
        ));
    }
    assignment.check_nonempty().map_err(|e| failed(name, e))?;
    let warnings = assignment.warnings();
    tracing::debug!(
        groups = assignment.n_groups,
        achieved = %assignment.achieved(),
        broken_down_sources = ?assignment.broken_down_sources,
        "splits assigned"
    );
    let df = DataFrame::new(
        items.len(),
        vec![
            Column::new(
                "id".into(),
                items.iter().map(|it| it.id).collect::<Vec<_>>(),
            ),
            Column::new(
                "source_id".into(),
                items.iter().map(|it| it.source).collect::<Vec<_>>(),
            ),
            Column::new(
                "split".into(),
                assignment
                    .splits
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "group".into(),
                assignment
                    .groups
                    .iter()
                    .map(|&g| g as u32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "group_level".into(),
                assignment
                    .levels
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "kept".into(),
                items.iter().map(|it| it.counted).collect::<Vec<_>>(),
            ),
        ],
    )?;
    let summary = SplitsSummary {
        group_by: assignment.group_by,
        strict: assignment.strict,
        groups: assignment.n_groups,
        largest_group: assignment.largest_group,
        broken_down_sources: assignment.broken_down_sources.clone(),
        broken_down_files: assignment.broken_down_files,
        targets: assignment.targets.into(),
        kept: assignment.counted.into(),
        fractions: assignment.fractions().into(),
        counts: assignment.counts.into(),
        clean: leaks.is_clean(),
        leaks,
        warnings,
    };
    Ok(AuditOutput {
        attributes: df,
        excluded: Vec::new(),
        summary: summary_json(&summary),
    })
}
