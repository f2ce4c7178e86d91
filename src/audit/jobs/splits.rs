//! The `splits` audit: every document gets a train/valid/test split by group (its source or
//! its file), with exact and near duplicates kept in one split; the verifier then checks the
//! result from the texts alone, and a leak is an error, never a silent pass. Drops nothing.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{failed, summary_json, AuditContext, AuditJob};
use crate::audit::minhash::near_duplicates_ranked;
use crate::audit::run::{AuditError, AuditOutput};
use crate::audit::split::{assign_splits, leak_free_keys, verify_splits, LeakReport, SplitConfig};
use crate::workspace::settings::GroupBy;

pub struct Splits;

/// The splits audit's summary (`summary/splits.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitsSummary {
    pub groups: usize,
    pub counts: SplitCounts,
    pub leaks: LeakReport,
    pub clean: bool,
}

/// Documents per split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitCounts {
    pub train: usize,
    pub valid: usize,
    pub test: usize,
}

impl AuditJob for Splits {
    fn name(&self) -> &'static str {
        "splits"
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let (name, docs, cfg, texts) = (self.name(), ctx.docs, ctx.config(), &ctx.texts);
        let s = &ctx.ws.config.splits;
        let near = near_duplicates_ranked(texts, None, &(&cfg.near_dedup).into())
            .map_err(|e| failed(name, e))?;
        let groups: Vec<String> = docs
            .iter()
            .map(|d| match s.group_by {
                GroupBy::Source => d.provenance.source_id.clone(),
                GroupBy::File => format!("{}/{}", d.provenance.source_id, d.provenance.path),
            })
            .collect();
        let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
        let keys = leak_free_keys(texts, &group_refs, &near, &cfg.exact_dedup);
        let split_cfg = SplitConfig {
            seed: s.seed,
            train: s.train,
            valid: s.valid,
            test: s.test,
        };
        let assignment = assign_splits(&keys, &split_cfg).map_err(|e| failed(name, e))?;
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
        ])?;
        let summary = SplitsSummary {
            groups: assignment.n_groups,
            counts: SplitCounts {
                train: assignment.counts[0],
                valid: assignment.counts[1],
                test: assignment.counts[2],
            },
            clean: leaks.is_clean(),
            leaks,
        };
        Ok(AuditOutput {
            attributes: df,
            excluded: Vec::new(),
            summary: summary_json(&summary),
        })
    }
}
