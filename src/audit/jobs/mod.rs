//! One audit job per file, behind one trait: a name, the audits whose tables it reads, and a
//! run over the document table that returns an attribute table keyed by document id, the
//! documents it drops (each an [`Exclusion`]) and a typed summary. The runner
//! ([`super::run`]) orders the jobs by their dependencies and writes their tables; a job never
//! writes anything itself and never rewrites a document.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::run::{AuditError, AuditOutput};
use crate::core::{Document, Exclusion, Stage, UnitKind};
use crate::workspace::settings::AuditConfig;
use crate::workspace::Workspace;

pub mod contamination;
pub mod density;
pub mod exact_dedup;
pub mod license;
pub mod near_dedup;
pub mod quality;
pub mod secrets;
pub mod splits;

/// One audit.
pub trait AuditJob: Sync {
    /// The audit's name: its table names and the name users type (`vcurate audit NAME`).
    fn name(&self) -> &'static str;
    /// Audits whose tables this one reads (their last run's, or this run's when they ran
    /// before it). They run first when selected together.
    fn deps(&self) -> &'static [&'static str] {
        &[]
    }
    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError>;
    /// Whether every row of its tables depends only on its own document (and on inputs that
    /// are not documents): such a job runs on any batch of documents, and a sharded run
    /// ([`crate::audit::sharded`]) concatenates its batches' tables and calls
    /// [`Self::summarize`] on the whole attribute table.
    fn per_document(&self) -> bool {
        false
    }
    /// The summary of a run from its whole attribute table (at least the columns
    /// [`Self::summary_columns`]); per-document jobs only, whose [`Self::run`] calls it too.
    fn summarize(
        &self,
        _cfg: &AuditConfig,
        _attributes: &DataFrame,
    ) -> Result<serde_json::Value, AuditError> {
        Err(failed(
            self.name(),
            "this audit's summary needs its documents",
        ))
    }
    /// The attribute columns [`Self::summarize`] reads.
    fn summary_columns(&self) -> &'static [&'static str] {
        &[]
    }
    /// A per-document job's output: its tables, and the summary [`Self::summarize`] makes of
    /// them.
    fn output(
        &self,
        ctx: &AuditContext,
        attributes: DataFrame,
        excluded: Vec<Exclusion>,
    ) -> Result<AuditOutput, AuditError> {
        Ok(AuditOutput {
            summary: self.summarize(ctx.config(), &attributes)?,
            attributes,
            excluded,
        })
    }
}

/// Every audit job, in the order they run.
pub fn all() -> [&'static dyn AuditJob; 8] {
    [
        &license::License,
        &secrets::Secrets,
        &density::Density,
        &quality::Quality,
        &exact_dedup::ExactDedup,
        &near_dedup::NearDedup,
        &contamination::Contamination,
        &splits::Splits,
    ]
}

/// The job of that name.
pub fn by_name(name: &str) -> Option<&'static dyn AuditJob> {
    all().into_iter().find(|j| j.name() == name)
}

/// What a job runs over: the workspace (its config), the ingested documents (loaded once per
/// run) and the audit folder, whose tables of earlier audits a job may read.
pub struct AuditContext<'a> {
    pub ws: &'a Workspace,
    pub docs: &'a [Document],
    /// The documents' texts as the text audits (dedup, contamination, splits' verifier) read
    /// them, in document order: see [`audit_text`].
    pub texts: Vec<&'a str>,
    /// `dataset/audit/`.
    pub dir: PathBuf,
    /// Inputs read once and kept across the batches of a sharded task ([`RunCache`]); `None`:
    /// each run reads its own.
    pub cache: Option<&'a RunCache>,
}

/// What a job reads besides the documents, read once per run: a sharded task runs a job on
/// batch after batch of its shard with one of these.
#[derive(Default)]
pub struct RunCache {
    pub(crate) license: std::sync::OnceLock<license::LicenseInputs>,
}

/// The text audits read of a document: its text, but for an imported chat row the text of
/// every turn (contents, tool names, tool-call arguments, tool results, one per line; see
/// [`crate::core::conversation_text`]) or the prompt and completion, not the row's JSON
/// (escapes would hide a shared line of code from dedup and contamination alike).
pub fn audit_text(doc: &Document) -> Cow<'_, str> {
    audit_text_of(doc.provenance.unit_kind == UnitKind::ChatExample, &doc.text)
}

/// [`audit_text`] of a stored text, given whether it is a chat row (`unit_kind`
/// `chat_example`): the sharded stages read texts in batches and call this.
pub fn audit_text_of(chat_row: bool, text: &str) -> Cow<'_, str> {
    if !chat_row {
        return Cow::Borrowed(text);
    }
    let Ok(row) = serde_json::from_str::<serde_json::Value>(text) else {
        return Cow::Borrowed(text);
    };
    match crate::core::Conversation::from_json(&row) {
        Ok(c) => Cow::Owned(crate::core::conversation_text(&c.messages)),
        Err(_) => {
            let field = |k: &str| row.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
            Cow::Owned(format!("{}\n{}", field("prompt"), field("completion")))
        }
    }
}

impl<'a> AuditContext<'a> {
    /// `texts` are the documents' [`audit_text`]s, in order.
    pub fn new(ws: &'a Workspace, docs: &'a [Document], texts: &'a [Cow<'a, str>]) -> Self {
        AuditContext {
            ws,
            docs,
            texts: texts.iter().map(|t| t.as_ref()).collect(),
            dir: super::run::audit_dir(ws),
            cache: None,
        }
    }

    /// Keeps what the job reads besides the documents in `cache`, for its next batches.
    pub fn with_cache(mut self, cache: &'a RunCache) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn config(&self) -> &'a AuditConfig {
        &self.ws.config.audit
    }

    /// Ids dropped by the given audits (as their tables stand now).
    pub fn excluded_by(&self, audits: &[&str]) -> Result<HashSet<String>, AuditError> {
        super::run::excluded_ids(&self.dir, audits)
    }

    /// Keeper rank of every document, lower is better: not dropped by one of `earlier`, then the
    /// clearest and most permissive license (from the license audit, when it has run), then
    /// source order.
    pub fn keeper_rank(&self, earlier: &[&str]) -> Result<Vec<u64>, AuditError> {
        let docs = self.docs;
        let earlier = self.excluded_by(earlier)?;
        let source_order: BTreeMap<&str, u64> = {
            let mut ids: Vec<&str> = docs
                .iter()
                .map(|d| d.provenance.source_id.as_str())
                .collect();
            ids.dedup();
            ids.into_iter()
                .enumerate()
                .map(|(i, s)| (s, i as u64))
                .collect()
        };
        let permissive = self.license_permissiveness()?;
        Ok(docs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                ((earlier.contains(&d.id) as u64) << 40)
                    | ((7 - permissive[i] as u64) << 32)
                    | source_order[d.provenance.source_id.as_str()]
            })
            .collect())
    }

    /// Permissiveness (0..=6) of each document's concluded license, 0 when the license audit
    /// has not run.
    fn license_permissiveness(&self) -> Result<Vec<u8>, AuditError> {
        let p = self.dir.join("attributes").join("license.parquet");
        let mut by_id = BTreeMap::new();
        if p.exists() {
            let df = crate::store::read_parquet(&p)?;
            for (id, spdx) in super::license::table::id_spdx(&df)? {
                by_id.insert(
                    id.to_string(),
                    super::license_expr::permissiveness(spdx).min(6),
                );
            }
        }
        Ok(self
            .docs
            .iter()
            .map(|d| by_id.get(&d.id).copied().unwrap_or(0))
            .collect())
    }

    /// `id (source:path)` of document `i`, for exclusion details.
    pub fn describe(&self, i: usize) -> String {
        let d = &self.docs[i];
        format!(
            "{} ({}:{})",
            d.id, d.provenance.source_id, d.provenance.path
        )
    }

    /// An attribute table: `id`, `source_id`, then `columns`.
    pub fn attributes(&self, columns: Vec<Column>) -> PolarsResult<DataFrame> {
        attribute_frame(self.docs, columns)
    }
}

/// An attribute table of `docs`: `id`, `source_id`, then `columns`.
pub(crate) fn attribute_frame(docs: &[Document], columns: Vec<Column>) -> PolarsResult<DataFrame> {
    let mut all = vec![
        Column::new(
            "id".into(),
            docs.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "source_id".into(),
            docs.iter()
                .map(|d| d.provenance.source_id.clone())
                .collect::<Vec<_>>(),
        ),
    ];
    all.extend(columns);
    DataFrame::new(docs.len(), all)
}

/// An audit's drop of one document.
pub(crate) fn drop_document(
    step: &str,
    doc: &Document,
    reason: impl Into<String>,
    detail: impl Into<String>,
) -> Exclusion {
    Exclusion::document(Stage::Audit, step, doc.id.clone(), reason, detail)
}

pub(crate) fn failed(audit: &str, e: impl ToString) -> AuditError {
    AuditError::Failed {
        audit: audit.into(),
        message: e.to_string(),
    }
}

/// A typed summary as the JSON the runner writes (keys in field order).
pub(crate) fn summary_json(summary: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(summary).expect("an audit summary serializes")
}

/// One source's line in a per-source summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceCounts {
    pub source_id: String,
    pub documents: i64,
    pub passing: i64,
    /// Density only: the source's Luau code lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub luau_code_lines: Option<i64>,
}

/// A per-source summary computed with Polars: documents, passing (`pass_col`), and, when
/// `code_lines` is set, the sum of `luau_code_lines`.
pub(crate) fn per_source(
    df: &DataFrame,
    pass_col: &str,
    code_lines: bool,
) -> Result<Vec<SourceCounts>, AuditError> {
    let mut aggs = vec![
        col("id").count().alias("documents"),
        col(pass_col).sum().alias("passing"),
    ];
    if code_lines {
        aggs.push(col("luau_code_lines").sum().alias("luau_code_lines"));
    }
    let g = df
        .clone()
        .lazy()
        .group_by([col("source_id")])
        .agg(aggs)
        .sort(["source_id"], Default::default())
        .collect()?;
    let int = |name: &str, i: usize| -> Result<Option<i64>, AuditError> {
        Ok(g.column(name)?.get(i)?.extract::<i64>())
    };
    let mut rows = Vec::new();
    for i in 0..g.height() {
        rows.push(SourceCounts {
            source_id: g
                .column("source_id")?
                .str()?
                .get(i)
                .unwrap_or_default()
                .to_string(),
            documents: int("documents", i)?.unwrap_or(0),
            passing: int("passing", i)?.unwrap_or(0),
            luau_code_lines: if code_lines {
                int("luau_code_lines", i)?
            } else {
                None
            },
        });
    }
    Ok(rows)
}

/// Per-document cluster columns of a dedup audit, and the members it drops.
pub(crate) struct ClusterTables {
    pub cluster: Vec<Option<u32>>,
    pub representative: Vec<Option<String>>,
    pub excluded: Vec<Exclusion>,
    pub sizes: Vec<usize>,
}

/// `detail(representative)` explains a dropped member.
pub(crate) fn cluster_tables(
    docs: &[Document],
    clusters: &[super::cluster::Cluster],
    drop: bool,
    step: &str,
    reason: &str,
    detail: impl Fn(usize) -> String,
) -> ClusterTables {
    let mut t = ClusterTables {
        cluster: vec![None; docs.len()],
        representative: vec![None; docs.len()],
        excluded: Vec::new(),
        sizes: Vec::new(),
    };
    for (ci, c) in clusters.iter().enumerate() {
        t.sizes.push(c.members.len());
        for &m in &c.members {
            t.cluster[m] = Some(ci as u32);
            t.representative[m] = Some(docs[c.representative].id.clone());
            if drop && m != c.representative {
                t.excluded.push(drop_document(
                    step,
                    &docs[m],
                    reason,
                    detail(c.representative),
                ));
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_the_listed_order_and_after_their_dependencies() {
        let names: Vec<&str> = all().iter().map(|j| j.name()).collect();
        assert_eq!(names, super::super::run::AUDITS);
        for (i, j) in all().iter().enumerate() {
            for d in j.deps() {
                let at = names.iter().position(|n| n == d);
                assert!(at.is_some_and(|at| at < i), "{} needs {d} first", j.name());
            }
        }
    }
}
