//! The `license` audit: the license verdict of every document (from [`crate::audit::license`])
//! judged by the policy under each profile; documents the `train` profile does not allow are
//! dropped.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{drop_document, failed, summary_json, AuditContext, AuditJob};
use crate::audit::license::table::{serde_name, verdict_columns};
use crate::audit::license::{self, LicenseVerdict, Status};
use crate::audit::policy::Policy;
use crate::audit::run::{AuditError, AuditOutput};
use crate::workspace::settings::AuditConfig;

pub struct License;

/// The license audit's summary (`summary/license.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseSummary {
    pub per_license: Vec<LicenseCount>,
    /// Verdicts that need a person.
    pub unresolved: usize,
    pub with_conflicts: usize,
}

/// What the license audit reads besides the documents: the source manifests, the policy and
/// the stored license evidence, recognized ([`license::prepare`]).
pub(crate) struct LicenseInputs(
    Result<
        (
            Vec<crate::ingest::manifest::Source>,
            Policy,
            license::Prepared,
        ),
        String,
    >,
);

impl LicenseInputs {
    fn read(ctx: &AuditContext) -> Result<LicenseInputs, AuditError> {
        let (name, ws) = (License.name(), ctx.ws);
        let evidence = crate::store::all_evidence(&ws.store_dir())?;
        let sources = crate::ingest::load_sources(ws, &[]).map_err(|e| failed(name, e))?;
        let policy = Policy::for_workspace(&ws.root).map_err(|e| failed(name, e))?;
        let prepared = license::prepare(&evidence, &ctx.config().license);
        Ok(LicenseInputs(Ok((sources, policy, prepared))))
    }

    /// Kept in a cache, a failure to read fails every batch alike.
    fn failed(e: AuditError) -> LicenseInputs {
        LicenseInputs(Err(e.to_string()))
    }

    fn get(
        &self,
    ) -> Result<
        (
            &[crate::ingest::manifest::Source],
            &Policy,
            &license::Prepared,
        ),
        AuditError,
    > {
        match &self.0 {
            Ok((s, p, r)) => Ok((s, p, r)),
            Err(e) => Err(failed(License.name(), e)),
        }
    }
}

/// Documents under one concluded license, and how many each profile allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseCount {
    pub spdx: String,
    pub documents: u64,
    pub train_allowed: u64,
    pub publish_allowed: u64,
}

/// Per profile: class, allowed and reason of every document.
#[derive(Default)]
struct ProfileColumns {
    class: Vec<String>,
    allowed: Vec<bool>,
    reason: Vec<String>,
}

impl AuditJob for License {
    fn name(&self) -> &'static str {
        "license"
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let name = self.name();
        let docs = ctx.docs;
        let owned;
        let inputs = match ctx.cache {
            Some(c) => c
                .license
                .get_or_init(|| LicenseInputs::read(ctx).unwrap_or_else(LicenseInputs::failed)),
            None => {
                owned = LicenseInputs::read(ctx)?;
                &owned
            }
        };
        let (sources, policy, prepared) = inputs.get()?;
        let verdicts = license::detect_with(docs, prepared, sources, &ctx.config().license);
        let by_id: BTreeMap<&str, &LicenseVerdict> =
            verdicts.iter().map(|v| (v.id.as_str(), v)).collect();
        let mut excluded = Vec::new();
        let mut in_order = Vec::with_capacity(docs.len());
        let mut profile_cols: BTreeMap<&str, ProfileColumns> = BTreeMap::new();
        for d in docs {
            let v = by_id
                .get(d.id.as_str())
                .ok_or_else(|| failed(name, format!("no verdict for document {}", d.id)))?;
            in_order.push(*v);
            for profile in ["train", "publish"] {
                let dec = policy.decide(profile, v, d);
                let cols = profile_cols.entry(profile).or_default();
                let class = serde_name(dec.class);
                if profile == "train" && !dec.allowed {
                    let reason = if dec.weak_evidence {
                        "license_weak_evidence".to_string()
                    } else {
                        format!("license_{class}")
                    };
                    excluded.push(drop_document(
                        name,
                        d,
                        reason,
                        format!("{} under profile `train`: {}", v.spdx, dec.reason),
                    ));
                }
                cols.class.push(class);
                cols.allowed.push(dec.allowed);
                cols.reason.push(dec.reason);
            }
        }
        let mut columns = verdict_columns(&in_order)?;
        for (profile, cols) in profile_cols {
            columns.push(Column::new(format!("{profile}_class").into(), cols.class));
            columns.push(Column::new(
                format!("{profile}_allowed").into(),
                cols.allowed,
            ));
            columns.push(Column::new(format!("{profile}_reason").into(), cols.reason));
        }
        let df = ctx.attributes(columns)?;
        self.output(ctx, df, excluded)
    }

    fn per_document(&self) -> bool {
        true
    }

    fn summary_columns(&self) -> &'static [&'static str] {
        &[
            "spdx",
            "status",
            "conflicts",
            "train_allowed",
            "publish_allowed",
        ]
    }

    fn summarize(
        &self,
        _cfg: &AuditConfig,
        df: &DataFrame,
    ) -> Result<serde_json::Value, AuditError> {
        let unresolved = serde_name(Status::Unresolved);
        let summary = LicenseSummary {
            per_license: per_license(df)?,
            unresolved: df
                .column("status")?
                .str()?
                .iter()
                .filter(|s| *s == Some(unresolved.as_str()))
                .count(),
            with_conflicts: df
                .column("conflicts")?
                .list()?
                .iter()
                .filter(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
                .count(),
        };
        Ok(summary_json(&summary))
    }
}

/// Documents per concluded license, with how many each profile allows (a Polars group-by).
fn per_license(df: &DataFrame) -> Result<Vec<LicenseCount>, AuditError> {
    let g = df
        .clone()
        .lazy()
        .group_by([col("spdx")])
        .agg([
            len().alias("documents"),
            col("train_allowed").sum().alias("train_allowed"),
            col("publish_allowed").sum().alias("publish_allowed"),
        ])
        .sort(["spdx"], Default::default())
        .collect()?;
    let mut rows = Vec::new();
    for i in 0..g.height() {
        let get = |c: &str| g.column(c).and_then(|c| c.get(i).map(|v| v.to_string()));
        rows.push(LicenseCount {
            spdx: get("spdx")?.trim_matches('"').to_string(),
            documents: get("documents")?.parse::<u64>().unwrap_or(0),
            train_allowed: get("train_allowed")?.parse::<u64>().unwrap_or(0),
            publish_allowed: get("publish_allowed")?.parse::<u64>().unwrap_or(0),
        });
    }
    Ok(rows)
}
