//! The `splits` audit: every document gets a train/valid/test split ([`crate::audit::split`]).
//! Exact and near duplicates always share one; the configured grouping (source or file) keeps
//! related documents together and, unless `strict`, is broken down where a group is larger than
//! a split's share; the split sizes count the documents that pass the earlier audits, since
//! those are what an export holds. The verifier then checks the result from the texts alone: a
//! leak is an error, and so is a split with a non-zero target that got no document. A split
//! more than 5 points off its target is a warning with the achieved fractions. Drops nothing.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{failed, summary_json, AuditContext, AuditJob};
use crate::audit::minhash::near_duplicates_ranked;
use crate::audit::run::{AuditError, AuditOutput};
use crate::audit::split::{
    assign_splits, leak_keys, verify_splits, GroupLevel, LeakReport, SplitConfig, SplitItem,
};

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
        let assignment = assign_splits(&items, &SplitConfig::from(&ctx.ws.config.splits))
            .map_err(|e| failed(name, e))?;
        let leaks = verify_splits(
            texts,
            &assignment.splits,
            &(&cfg.near_dedup).into(),
            &cfg.exact_dedup,
        )
        .map_err(|e| failed(name, e))?;
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
        let df = ctx.attributes(vec![
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
        ])?;
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
}
