//! The `near-dedup` audit: MinHash/LSH over code tokens, verified by Jaccard similarity;
//! clusters of near duplicates keep their best-ranked member (as in `exact-dedup`) and, when
//! `audit.near-dedup.drop` is set, drop the rest.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{cluster_tables, failed, summary_json, AuditContext, AuditJob};
use crate::audit::minhash::{near_duplicates_ranked, NearDupStats};
use crate::audit::run::{AuditError, AuditOutput};

pub struct NearDedup;

/// The near-dedup audit's summary (`summary/near-dedup.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NearDedupSummary {
    pub clusters: usize,
    /// Members per cluster, in cluster order.
    pub cluster_sizes: Vec<usize>,
    pub stats: NearDupStats,
}

impl AuditJob for NearDedup {
    fn name(&self) -> &'static str {
        "near-dedup"
    }

    /// The keeper rank reads what these dropped and the license audit's verdicts.
    fn deps(&self) -> &'static [&'static str] {
        &["license", "secrets", "density", "quality", "exact-dedup"]
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let (name, cfg, docs) = (self.name(), ctx.config(), ctx.docs);
        let rank = ctx.keeper_rank(self.deps())?;
        let result = near_duplicates_ranked(&ctx.texts, Some(&rank), &(&cfg.near_dedup).into())
            .map_err(|e| failed(name, e))?;
        let mut best = vec![None::<f64>; docs.len()];
        for &(a, b, j) in &result.pairs {
            for x in [a, b] {
                best[x] = Some(best[x].map_or(j, |v: f64| v.max(j)));
            }
        }
        let threshold = cfg.near_dedup.threshold;
        let t = cluster_tables(
            docs,
            &result.clusters,
            cfg.near_dedup.drop,
            name,
            "near_duplicate",
            |rep| {
                format!(
                    "near duplicate (Jaccard >= {threshold}) of {}",
                    ctx.describe(rep)
                )
            },
        );
        let df = ctx.attributes(vec![
            Column::new("cluster".into(), t.cluster),
            Column::new("representative".into(), t.representative),
            Column::new("max_jaccard".into(), best),
        ])?;
        let summary = NearDedupSummary {
            clusters: result.clusters.len(),
            cluster_sizes: t.sizes,
            stats: result.stats,
        };
        Ok(AuditOutput {
            attributes: df,
            excluded: t.excluded,
            summary: summary_json(&summary),
        })
    }
}
