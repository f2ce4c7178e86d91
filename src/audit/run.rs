//! The audit runner: runs the selected audit jobs ([`super::jobs`]) after the jobs they depend
//! on, every one but splits as sharded stages over the store read in batches
//! ([`super::sharded`]), splits from the ids and the dedup tables (the documents are loaded
//! only when those tables do not match the store), and writes for each one an attribute table
//! keyed by document id (`dataset/audit/attributes/<audit>.parquet`), the documents it drops as
//! [`Exclusion`] rows (`dataset/audit/excluded/<audit>.parquet`, see
//! [`crate::store::exclusions`]) and a summary (`dataset/audit/summary/<audit>.json`).
//! Re-running one audit replaces only its own tables. Audits never rewrite documents.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::jobs::{self, AuditContext, AuditJob};
use crate::core::Exclusion;
use crate::store::{write_parquet, StoreError};
use crate::workspace::Workspace;

// Moved to the job files; re-exported for the callers that used them from here.
pub use super::jobs::contamination::{load_eval_sets, load_eval_tasks};
pub use super::jobs::density::luau_code_lines;
pub use super::jobs::quality::{alnum_ratio, entropy};

/// The audits, in the order they run (each after the audits it depends on).
pub const AUDITS: &[&str] = &[
    "license",
    "secrets",
    "density",
    "quality",
    "exact-dedup",
    "near-dedup",
    "contamination",
    "splits",
];

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("unknown audit `{0}` (audits: {list})", list = AUDITS.join(", "))]
    Unknown(String),
    #[error("no ingested documents in {0}; run `vcurate ingest` first")]
    NoDocuments(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit `{audit}`: {message}")]
    Failed { audit: String, message: String },
    #[error("eval set `{name}` ({path}): {message}")]
    EvalSet {
        name: String,
        path: PathBuf,
        message: String,
    },
    #[error(
        "{0} was written by an older vcurate (no `document_ids` column); run `vcurate audit` again"
    )]
    OldExcludedTable(PathBuf),
    #[error(transparent)]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What one audit produced.
pub struct AuditOutput {
    /// Keyed by `id`, one row per document.
    pub attributes: DataFrame,
    /// The documents it drops (stage `audit`, step = the audit's name, one document each).
    pub excluded: Vec<Exclusion>,
    /// The job's typed summary, as written to `summary/<audit>.json`.
    pub summary: Value,
}

/// One audit's line in the run report (`vcurate audit --json` prints a list of them).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditSummary {
    pub audit: String,
    pub documents: usize,
    pub excluded: usize,
    pub excluded_by_reason: BTreeMap<String, usize>,
    pub summary: Value,
    /// The summary's `warnings` (the CLI prints them on stderr): results that are usable but
    /// probably not what was wanted, such as a split far from its target.
    pub warnings: Vec<String>,
}

pub fn audit_dir(ws: &Workspace) -> PathBuf {
    ws.dataset_dir().join("audit")
}

/// The selected jobs (all when `names` is empty), each after the selected jobs it depends on,
/// otherwise in [`AUDITS`] order.
fn plan(names: &[String]) -> Result<Vec<&'static dyn AuditJob>, AuditError> {
    for n in names {
        if jobs::by_name(n).is_none() {
            return Err(AuditError::Unknown(n.clone()));
        }
    }
    let mut todo: Vec<&'static dyn AuditJob> = jobs::all()
        .into_iter()
        .filter(|j| names.is_empty() || names.iter().any(|n| n == j.name()))
        .collect();
    let mut order: Vec<&'static dyn AuditJob> = Vec::with_capacity(todo.len());
    while !todo.is_empty() {
        let ready = todo
            .iter()
            .position(|j| {
                j.deps()
                    .iter()
                    .all(|d| !todo.iter().any(|t| t.name() == *d))
            })
            .expect("audit dependencies form no cycle");
        order.push(todo.remove(ready));
    }
    Ok(order)
}

/// Whether an audit runs as sharded stages over the store in batches ([`super::sharded`],
/// never loading the whole corpus): all but splits, which reads ids and the dedup tables.
pub fn is_sharded(audit: &str) -> bool {
    audit != "splits"
}

/// Runs the named audits (all when empty), each after the ones it depends on.
pub fn run(
    ws: &Workspace,
    names: &[String],
    on_start: &dyn Fn(&str),
) -> Result<Vec<AuditSummary>, AuditError> {
    run_with(ws, names, 1, on_start)
}

/// [`run`], with the tasks of the sharded audits on `workers` threads. Splits never reads
/// texts, unless the dedup tables do not hold the store's documents (then every document is
/// loaded once, for splits alone).
pub fn run_with(
    ws: &Workspace,
    names: &[String],
    workers: usize,
    on_start: &dyn Fn(&str),
) -> Result<Vec<AuditSummary>, AuditError> {
    let plan = plan(names)?;
    let dir = audit_dir(ws);
    let dir = &dir;
    let docs_cell = std::cell::OnceCell::new();
    let texts_cell = std::cell::OnceCell::new();
    let ctx_cell = std::cell::OnceCell::new();
    let mut out = Vec::new();
    for job in plan {
        let name = job.name();
        on_start(name);
        if is_sharded(name) {
            let r = super::sharded::run_audit(ws, name, workers).map_err(|e| match e {
                super::sharded::ShardError::NoDocuments(p) => AuditError::NoDocuments(p),
                e => AuditError::Failed {
                    audit: name.into(),
                    message: e.to_string(),
                },
            })?;
            out.push(summary_line(
                name,
                r.documents,
                r.excluded,
                r.excluded_by_reason,
                r.summary,
            ));
            continue;
        }
        if name == "splits" {
            if let Some(output) = jobs::splits::run_bounded(ws).inspect_err(|_| {
                let _ = remove_tables(dir, name);
            })? {
                let documents = output.attributes.height();
                out.push(write_tables(dir, name, output, documents)?);
                continue;
            }
        }
        if docs_cell.get().is_none() {
            let docs = crate::store::all_documents(&ws.store_dir())?;
            if docs.is_empty() {
                return Err(AuditError::NoDocuments(ws.store_dir()));
            }
            let _ = docs_cell.set(docs);
        }
        let docs: &Vec<crate::core::Document> = docs_cell.get().expect("loaded");
        let texts: &Vec<_> = texts_cell.get_or_init(|| docs.iter().map(jobs::audit_text).collect());
        let ctx = ctx_cell.get_or_init(|| AuditContext::new(ws, docs, texts));
        let output = match job.run(ctx) {
            Ok(o) => o,
            Err(e) => {
                // A failed audit leaves no tables behind: an earlier run's would pass for this
                // one's (a snapshot would freeze stale splits, say).
                remove_tables(dir, name)?;
                return Err(e);
            }
        };
        out.push(write_tables(dir, name, output, docs.len())?);
    }
    Ok(out)
}

/// Writes an in-memory audit's tables; returns its line of the run report.
fn write_tables(
    dir: &Path,
    name: &str,
    output: AuditOutput,
    documents: usize,
) -> Result<AuditSummary, AuditError> {
    write_parquet(
        &dir.join("attributes").join(format!("{name}.parquet")),
        Ok(output.attributes),
    )?;
    crate::store::write_exclusions(&excluded_path(dir, name), &output.excluded)?;
    crate::core::fs::write_atomic(
        &dir.join("summary").join(format!("{name}.json")),
        &serde_json::to_vec_pretty(&output.summary).expect("json"),
    )?;
    let mut by_reason = BTreeMap::new();
    for e in &output.excluded {
        *by_reason.entry(e.reason.clone()).or_insert(0) += 1;
    }
    Ok(summary_line(
        name,
        documents,
        output.excluded.len(),
        by_reason,
        output.summary,
    ))
}

/// One audit's line of the run report.
fn summary_line(
    name: &str,
    documents: usize,
    excluded: usize,
    excluded_by_reason: BTreeMap<String, usize>,
    summary: Value,
) -> AuditSummary {
    AuditSummary {
        audit: name.to_string(),
        documents,
        excluded,
        excluded_by_reason,
        warnings: summary["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(String::from))
            .collect(),
        summary,
    }
}

/// Removes an audit's attribute, excluded and summary tables, where they exist.
fn remove_tables(dir: &Path, audit: &str) -> Result<(), AuditError> {
    for p in [
        dir.join("attributes").join(format!("{audit}.parquet")),
        excluded_path(dir, audit),
        dir.join("summary").join(format!("{audit}.json")),
    ] {
        if p.exists() {
            fs_err::remove_file(&p)?;
        }
    }
    Ok(())
}

/// `excluded/<audit>.parquet` under the audit folder.
pub(crate) fn excluded_path(dir: &Path, audit: &str) -> PathBuf {
    dir.join("excluded").join(format!("{audit}.parquet"))
}

/// The exclusions of one audit's last run (none when it has not run).
fn read_audit_exclusions(dir: &Path, audit: &str) -> Result<Vec<Exclusion>, AuditError> {
    let p = excluded_path(dir, audit);
    if !p.exists() {
        return Ok(Vec::new());
    }
    let df = crate::store::read_parquet(&p)?;
    if df.column("document_ids").is_err() {
        return Err(AuditError::OldExcludedTable(p));
    }
    Ok(crate::store::exclusions::exclusions_from_frame(&df, &p)?)
}

/// Ids dropped by the given audits in their last run.
pub fn excluded_ids(dir: &Path, audits: &[&str]) -> Result<HashSet<String>, AuditError> {
    let mut ids = HashSet::new();
    for a in audits {
        for e in read_audit_exclusions(dir, a)? {
            ids.extend(e.document_ids);
        }
    }
    Ok(ids)
}

/// Every exclusion of every audit's last run, audit by audit in [`AUDITS`] order.
pub fn read_excluded(ws: &Workspace) -> Result<Vec<Exclusion>, AuditError> {
    let dir = audit_dir(ws);
    let mut out = Vec::new();
    for a in AUDITS {
        out.extend(read_audit_exclusions(&dir, a)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(plan: Vec<&'static dyn AuditJob>) -> Vec<&'static str> {
        plan.into_iter().map(|j| j.name()).collect()
    }

    #[test]
    fn the_plan_runs_selected_jobs_after_their_dependencies() {
        assert_eq!(names(plan(&[]).unwrap()), AUDITS);
        let picked = ["splits", "near-dedup", "license"].map(String::from);
        assert_eq!(
            names(plan(&picked).unwrap()),
            ["license", "near-dedup", "splits"]
        );
        assert!(matches!(
            plan(&["densty".to_string()]),
            Err(AuditError::Unknown(n)) if n == "densty"
        ));
    }
}
