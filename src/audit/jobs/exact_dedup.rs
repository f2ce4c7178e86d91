//! The `exact-dedup` audit: documents with the same normalized text form a cluster; all but
//! its keeper are dropped. The keeper is the best-ranked member: not dropped by an earlier
//! audit, the clearest and most permissive license, the earliest source.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{cluster_tables, failed, summary_json, AuditContext, AuditJob};
use crate::audit::normalize::exact_duplicates;
use crate::audit::run::{AuditError, AuditOutput};

pub struct ExactDedup;

/// The exact-dedup audit's summary (`summary/exact-dedup.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactDedupSummary {
    pub clusters: usize,
    /// Members per cluster, in cluster order.
    pub cluster_sizes: Vec<usize>,
}

impl AuditJob for ExactDedup {
    fn name(&self) -> &'static str {
        "exact-dedup"
    }

    /// The keeper rank reads what these dropped and the license audit's verdicts.
    fn deps(&self) -> &'static [&'static str] {
        &["license", "secrets", "density", "quality"]
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let name = self.name();
        let rank = ctx.keeper_rank(self.deps())?;
        let clusters = exact_duplicates(&ctx.texts, &ctx.config().exact_dedup, Some(&rank))
            .map_err(|e| failed(name, e))?;
        let t = cluster_tables(ctx.docs, &clusters, true, name, "exact_duplicate", |rep| {
            format!("same normalized text as {}", ctx.describe(rep))
        });
        let df = ctx.attributes(vec![
            Column::new("cluster".into(), t.cluster),
            Column::new("keeper".into(), t.representative),
        ])?;
        let summary = ExactDedupSummary {
            clusters: clusters.len(),
            cluster_sizes: t.sizes,
        };
        Ok(AuditOutput {
            attributes: df,
            excluded: t.excluded,
            summary: summary_json(&summary),
        })
    }
}
