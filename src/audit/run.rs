//! The audit runner: loads the ingested documents once, runs the selected audits in a fixed
//! order, and writes for each one an attribute table keyed by document id
//! (`dataset/audit/attributes/<audit>.parquet`), the documents it drops with step and reason
//! (`dataset/audit/excluded/<audit>.parquet`) and a summary (`dataset/audit/summary/<audit>.json`).
//! Re-running one audit replaces only its own tables. Audits never rewrite documents.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};

use super::config::{EvalSetFormat, GroupBy};
use super::contamination::{ContaminationIndex, TaskTexts};
use super::minhash::near_duplicates_ranked;
use super::normalize::exact_duplicates;
use super::split::{assign_splits, leak_free_keys, verify_splits, SplitConfig};
use crate::core::{Document, EvalTask, UnitKind};
use crate::snapshot::{self, write_parquet, StoreError};
use crate::workspace::Workspace;

/// The audits, in the order they run.
pub const AUDITS: &[&str] = &[
    "license",
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
    #[error(transparent)]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A document an audit drops, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    pub id: String,
    pub step: String,
    pub reason: String,
    pub detail: String,
}

/// What one audit produced.
pub struct AuditOutput {
    /// Keyed by `id`, one row per document.
    pub attributes: DataFrame,
    pub excluded: Vec<Excluded>,
    pub summary: Value,
}

/// One audit's line in the run report.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSummary {
    pub audit: String,
    pub documents: usize,
    pub excluded: usize,
    pub excluded_by_reason: BTreeMap<String, usize>,
    pub summary: Value,
}

pub fn audit_dir(ws: &Workspace) -> PathBuf {
    ws.dataset_dir().join("audit")
}

/// Runs the named audits (all when empty), in the fixed order.
pub fn run(
    ws: &Workspace,
    names: &[String],
    on_start: &dyn Fn(&str),
) -> Result<Vec<AuditSummary>, AuditError> {
    for n in names {
        if !AUDITS.contains(&n.as_str()) {
            return Err(AuditError::Unknown(n.clone()));
        }
    }
    let docs = snapshot::all_documents(&ws.store_dir())?;
    if docs.is_empty() {
        return Err(AuditError::NoDocuments(ws.store_dir()));
    }
    let dir = audit_dir(ws);
    let mut out = Vec::new();
    for name in AUDITS
        .iter()
        .filter(|a| names.is_empty() || names.iter().any(|n| n == *a))
    {
        on_start(name);
        // Documents dropped by the audits that come before this one (keepers avoid them).
        let earlier: HashSet<String> = excluded_ids(
            &dir,
            &AUDITS[..AUDITS.iter().position(|a| a == name).expect("listed")],
        )?;
        let output = run_one(ws, name, &docs, &earlier)?;
        write_parquet(
            &dir.join("attributes").join(format!("{name}.parquet")),
            Ok(output.attributes),
        )?;
        write_parquet(
            &dir.join("excluded").join(format!("{name}.parquet")),
            excluded_frame(&docs, &output.excluded),
        )?;
        crate::core::fs::write_atomic(
            &dir.join("summary").join(format!("{name}.json")),
            &serde_json::to_vec_pretty(&output.summary).expect("json"),
        )?;
        let mut by_reason = BTreeMap::new();
        for e in &output.excluded {
            *by_reason.entry(e.reason.clone()).or_insert(0) += 1;
        }
        out.push(AuditSummary {
            audit: name.to_string(),
            documents: docs.len(),
            excluded: output.excluded.len(),
            excluded_by_reason: by_reason,
            summary: output.summary,
        });
    }
    Ok(out)
}

/// Ids dropped by the given audits in their last run.
pub fn excluded_ids(dir: &Path, audits: &[&str]) -> Result<HashSet<String>, AuditError> {
    let mut ids = HashSet::new();
    for a in audits {
        let p = dir.join("excluded").join(format!("{a}.parquet"));
        if p.exists() {
            let df = snapshot::read_parquet(&p)?;
            ids.extend(df.column("id")?.str()?.iter().flatten().map(String::from));
        }
    }
    Ok(ids)
}

/// Every excluded row of every audit (id, source_id, path, step, reason, detail).
pub fn read_excluded(ws: &Workspace) -> Result<DataFrame, AuditError> {
    let dir = audit_dir(ws).join("excluded");
    let frames: Vec<LazyFrame> = AUDITS
        .iter()
        .map(|a| dir.join(format!("{a}.parquet")))
        .filter(|p| p.exists())
        .map(|p| snapshot::read_parquet(&p).map(|df| df.lazy()))
        .collect::<Result<_, _>>()?;
    if frames.is_empty() {
        return Ok(DataFrame::empty());
    }
    Ok(concat(frames, UnionArgs::default())?.collect()?)
}

fn excluded_frame(docs: &[Document], rows: &[Excluded]) -> PolarsResult<DataFrame> {
    let by_id: BTreeMap<&str, &Document> = docs.iter().map(|d| (d.id.as_str(), d)).collect();
    let get =
        |id: &str, f: fn(&Document) -> String| by_id.get(id).map(|d| f(d)).unwrap_or_default();
    df!(
        "id" => rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        "source_id" => rows.iter().map(|r| get(&r.id, |d| d.provenance.source_id.clone())).collect::<Vec<_>>(),
        "path" => rows.iter().map(|r| get(&r.id, |d| d.provenance.path.clone())).collect::<Vec<_>>(),
        "step" => rows.iter().map(|r| r.step.clone()).collect::<Vec<_>>(),
        "reason" => rows.iter().map(|r| r.reason.clone()).collect::<Vec<_>>(),
        "detail" => rows.iter().map(|r| r.detail.clone()).collect::<Vec<_>>(),
    )
}

fn ids(docs: &[Document]) -> Column {
    Column::new(
        "id".into(),
        docs.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
    )
}

fn source_col(docs: &[Document]) -> Column {
    Column::new(
        "source_id".into(),
        docs.iter()
            .map(|d| d.provenance.source_id.clone())
            .collect::<Vec<_>>(),
    )
}

fn failed(audit: &str, e: impl ToString) -> AuditError {
    AuditError::Failed {
        audit: audit.into(),
        message: e.to_string(),
    }
}

/// A per-source summary computed with Polars: documents, passing, and sums of `sum_cols`.
fn per_source(df: &DataFrame, pass_col: &str, sum_cols: &[&str]) -> Result<Value, AuditError> {
    let mut aggs = vec![
        col("id").count().alias("documents"),
        col(pass_col).sum().alias("passing"),
    ];
    aggs.extend(sum_cols.iter().map(|c| col(*c).sum().alias(*c)));
    let g = df
        .clone()
        .lazy()
        .group_by([col("source_id")])
        .agg(aggs)
        .sort(["source_id"], Default::default())
        .collect()?;
    let mut rows = Vec::new();
    for i in 0..g.height() {
        let mut row = serde_json::Map::new();
        for c in g.columns() {
            let v = c.get(i)?;
            let value = match v {
                AnyValue::String(s) => json!(s),
                AnyValue::StringOwned(s) => json!(s.as_str()),
                other => other
                    .extract::<i64>()
                    .map(|n| json!(n))
                    .unwrap_or(Value::Null),
            };
            row.insert(c.name().to_string(), value);
        }
        rows.push(Value::Object(row));
    }
    Ok(Value::Array(rows))
}

/// The assistant side of a chat example (or the completion), for code counting.
fn assistant_text(doc: &Document) -> String {
    let v: Value = serde_json::from_str(&doc.text).unwrap_or(Value::Null);
    match v.get("messages").and_then(Value::as_array) {
        Some(ms) => ms
            .iter()
            .filter(|m| m["role"] == "assistant")
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        None => v
            .get("completion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

/// Luau code lines of a unit, counted with the parser: a Luau file's code lines, or the Luau
/// code blocks of docs units, Markdown files and chat answers (tags case-insensitive; untagged
/// blocks only if they parse).
pub fn luau_code_lines(doc: &Document) -> u32 {
    if let Some(l) = &doc.luau {
        return l.code_lines;
    }
    let blocks = |units: Vec<crate::ingest::docs::DocUnit>| -> u32 {
        units
            .iter()
            .flat_map(|u| &u.code_blocks)
            .filter(|b| b.is_luau)
            .map(|b| b.code_lines)
            .sum()
    };
    match doc.provenance.unit_kind {
        UnitKind::ChatExample => crate::ingest::docs::split_markdown(
            &assistant_text(doc),
            "answer",
            &crate::ingest::units::probe,
        )
        .map(blocks)
        .unwrap_or(0),
        _ => doc
            .code_blocks
            .iter()
            .filter(|b| b.is_luau)
            .map(|b| b.code_lines)
            .sum(),
    }
}

fn run_one(
    ws: &Workspace,
    name: &str,
    docs: &[Document],
    earlier: &HashSet<String>,
) -> Result<AuditOutput, AuditError> {
    let cfg = &ws.config.audit;
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    // Keeper rank: documents already dropped by an earlier audit last, then source order.
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
    // Keeper rank, lower is better: not dropped by an earlier audit, then the clearest and most
    // permissive license (from the license audit, when it has run), then source order.
    let permissive = license_permissiveness(ws, docs)?;
    let rank: Vec<u64> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            ((earlier.contains(&d.id) as u64) << 40)
                | ((7 - permissive[i] as u64) << 32)
                | source_order[d.provenance.source_id.as_str()]
        })
        .collect();
    let describe = |i: usize| {
        format!(
            "{} ({}:{})",
            docs[i].id, docs[i].provenance.source_id, docs[i].provenance.path
        )
    };
    match name {
        "license" => {
            let evidence = snapshot::all_evidence(&ws.store_dir())?;
            let sources = crate::ingest::load_sources(ws, &[]).map_err(|e| failed(name, e))?;
            let policy =
                super::policy::Policy::for_workspace(&ws.root).map_err(|e| failed(name, e))?;
            let verdicts = super::license::detect(docs, &evidence, &sources, &cfg.license);
            let by_id: BTreeMap<&str, &super::license::LicenseVerdict> =
                verdicts.iter().map(|v| (v.id.as_str(), v)).collect();
            let mut excluded = Vec::new();
            let (mut spdx, mut confidence, mut status, mut conflicts, mut json_v) =
                (vec![], vec![], vec![], vec![], vec![]);
            let mut profile_cols: BTreeMap<&str, ProfileColumns> = BTreeMap::new();
            for d in docs {
                let v = by_id
                    .get(d.id.as_str())
                    .ok_or_else(|| failed(name, format!("no verdict for document {}", d.id)))?;
                spdx.push(v.spdx.clone());
                confidence.push(v.confidence);
                status.push(
                    serde_json::to_value(v.status)
                        .ok()
                        .and_then(|s| s.as_str().map(String::from))
                        .unwrap_or_default(),
                );
                conflicts.push(v.conflicts.join("; "));
                json_v.push(serde_json::to_string(v).expect("verdict serializes"));
                for profile in ["train", "publish"] {
                    let dec = policy.decide(profile, v, d);
                    let cols = profile_cols.entry(profile).or_default();
                    let class = serde_json::to_value(dec.class)
                        .ok()
                        .and_then(|s| s.as_str().map(String::from))
                        .unwrap_or_default();
                    if profile == "train" && !dec.allowed {
                        excluded.push(Excluded {
                            id: d.id.clone(),
                            step: name.into(),
                            reason: format!("license_{class}"),
                            detail: format!("{} under profile `train`: {}", v.spdx, dec.reason),
                        });
                    }
                    cols.0.push(class);
                    cols.1.push(dec.allowed);
                    cols.2.push(dec.reason);
                }
            }
            let mut columns = vec![
                ids(docs),
                source_col(docs),
                Column::new("spdx".into(), spdx),
                Column::new("confidence".into(), confidence),
                Column::new("status".into(), status),
                Column::new("conflicts".into(), conflicts),
            ];
            for (profile, (class, allowed, reason)) in profile_cols {
                columns.push(Column::new(format!("{profile}_class").into(), class));
                columns.push(Column::new(format!("{profile}_allowed").into(), allowed));
                columns.push(Column::new(format!("{profile}_reason").into(), reason));
            }
            columns.push(Column::new("verdict".into(), json_v));
            let df = DataFrame::new(docs.len(), columns)?;
            let summary = json!({"per_license": per_license(&df)?, "unresolved": verdicts.iter().filter(|v| v.status == super::license::Status::Unresolved).count(), "with_conflicts": verdicts.iter().filter(|v| !v.conflicts.is_empty()).count()});
            Ok(AuditOutput {
                attributes: df,
                excluded,
                summary,
            })
        }
        "density" => {
            let lines: Vec<u32> = docs.par_iter().map(luau_code_lines).collect();
            let passes: Vec<bool> = lines.iter().map(|&n| n >= cfg.min_code_lines).collect();
            let excluded = docs
                .iter()
                .zip(&lines)
                .filter(|(_, &n)| n < cfg.min_code_lines)
                .map(|(d, &n)| Excluded {
                    id: d.id.clone(),
                    step: name.into(),
                    reason: "too_few_code_lines".into(),
                    detail: format!(
                        "{n} Luau code lines < {} (audit.min-code-lines)",
                        cfg.min_code_lines
                    ),
                })
                .collect();
            let df = DataFrame::new(
                docs.len(),
                vec![
                    ids(docs),
                    source_col(docs),
                    Column::new("luau_code_lines".into(), lines),
                    Column::new("passes".into(), passes),
                ],
            )?;
            let summary = json!({"min_code_lines": cfg.min_code_lines, "per_source": per_source(&df, "passes", &["luau_code_lines"])?});
            Ok(AuditOutput {
                attributes: df,
                excluded,
                summary,
            })
        }
        "quality" => {
            struct Q {
                parses: Option<bool>,
                compiles: Option<bool>,
                compile_error: Option<String>,
                max_line: u32,
                alnum: f64,
                entropy: f64,
            }
            let qs: Vec<Q> = docs
                .par_iter()
                .map(|d| {
                    let (parses, compiles, compile_error) = match &d.luau {
                        Some(l) => {
                            let c = crate::luau::compile(&d.text, &d.provenance.path);
                            (
                                Some(l.parse_ok),
                                Some(c.is_ok()),
                                c.err().map(|e| e.to_string()),
                            )
                        }
                        None => (None, None, None),
                    };
                    Q {
                        parses,
                        compiles,
                        compile_error,
                        max_line: d.text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
                            as u32,
                        alnum: alnum_ratio(&d.text),
                        entropy: entropy(&d.text),
                    }
                })
                .collect();
            // Line-length, alphanumeric and entropy heuristics judge code files; prose and
            // chat rows (stored as one-line JSON) have long lines by nature.
            let mut excluded = Vec::new();
            for (d, q) in docs.iter().zip(&qs) {
                let mut drop = |reason: &str, detail: String| {
                    excluded.push(Excluded {
                        id: d.id.clone(),
                        step: name.into(),
                        reason: reason.into(),
                        detail,
                    })
                };
                if cfg.require_parse && q.parses == Some(false) {
                    let e = d
                        .luau
                        .as_ref()
                        .and_then(|l| l.error.as_ref())
                        .map(|e| format!("line {}:{}: {}", e.line, e.column, e.message))
                        .unwrap_or_default();
                    drop("parse_failed", e);
                } else if cfg.require_compile && q.compiles == Some(false) {
                    drop(
                        "compile_failed",
                        q.compile_error.clone().unwrap_or_default(),
                    );
                } else if d.luau.is_some() && q.max_line as usize > cfg.max_line_length {
                    drop(
                        "generated_or_minified",
                        format!(
                            "a line of {} characters > {} (audit.max-line-length)",
                            q.max_line, cfg.max_line_length
                        ),
                    );
                } else if d.luau.is_some() && q.alnum < cfg.min_alnum_ratio {
                    drop(
                        "low_alnum_ratio",
                        format!(
                            "{:.3} < {} (audit.min-alnum-ratio)",
                            q.alnum, cfg.min_alnum_ratio
                        ),
                    );
                } else if d.luau.is_some() && q.entropy > cfg.max_entropy {
                    drop(
                        "high_entropy",
                        format!(
                            "{:.2} bits/char > {} (audit.max-entropy)",
                            q.entropy, cfg.max_entropy
                        ),
                    );
                } else if d.bytes < cfg.min_bytes || d.bytes > cfg.max_bytes {
                    drop(
                        "size_out_of_bounds",
                        format!(
                            "{} bytes outside [{}, {}]",
                            d.bytes, cfg.min_bytes, cfg.max_bytes
                        ),
                    );
                }
            }
            let dropped: HashSet<&str> = excluded.iter().map(|e| e.id.as_str()).collect();
            let df = DataFrame::new(
                docs.len(),
                vec![
                    ids(docs),
                    source_col(docs),
                    Column::new(
                        "parses".into(),
                        qs.iter().map(|q| q.parses).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "compiles".into(),
                        qs.iter().map(|q| q.compiles).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "compile_error".into(),
                        qs.iter()
                            .map(|q| q.compile_error.clone())
                            .collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "max_line_length".into(),
                        qs.iter().map(|q| q.max_line).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "alnum_ratio".into(),
                        qs.iter().map(|q| q.alnum).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "entropy".into(),
                        qs.iter().map(|q| q.entropy).collect::<Vec<_>>(),
                    ),
                    Column::new(
                        "passes".into(),
                        docs.iter()
                            .map(|d| !dropped.contains(d.id.as_str()))
                            .collect::<Vec<_>>(),
                    ),
                ],
            )?;
            let summary = json!({"per_source": per_source(&df, "passes", &[])?});
            Ok(AuditOutput {
                attributes: df,
                excluded,
                summary,
            })
        }
        "exact-dedup" => {
            let clusters = exact_duplicates(&texts, &cfg.exact_dedup, Some(&rank))
                .map_err(|e| failed(name, e))?;
            let t = cluster_tables(docs, &clusters, true, name, "exact_duplicate", |rep| {
                format!("same normalized text as {}", describe(rep))
            });
            let df = DataFrame::new(
                docs.len(),
                vec![
                    ids(docs),
                    source_col(docs),
                    Column::new("cluster".into(), t.cluster),
                    Column::new("keeper".into(), t.representative),
                ],
            )?;
            Ok(AuditOutput {
                attributes: df,
                excluded: t.excluded,
                summary: json!({"clusters": clusters.len(), "cluster_sizes": t.sizes}),
            })
        }
        "near-dedup" => {
            let result = near_duplicates_ranked(&texts, Some(&rank), &cfg.near_dedup.to_config())
                .map_err(|e| failed(name, e))?;
            let mut best = vec![None::<f64>; docs.len()];
            for &(a, b, j) in &result.pairs {
                for x in [a, b] {
                    best[x] = Some(best[x].map_or(j, |v: f64| v.max(j)));
                }
            }
            let threshold = cfg.near_dedup.threshold;
            let drop = cfg.near_dedup.drop;
            let t = cluster_tables(
                docs,
                &result.clusters,
                drop,
                name,
                "near_duplicate",
                |rep| {
                    format!(
                        "near duplicate (Jaccard >= {threshold}) of {}",
                        describe(rep)
                    )
                },
            );
            let df = DataFrame::new(
                docs.len(),
                vec![
                    ids(docs),
                    source_col(docs),
                    Column::new("cluster".into(), t.cluster),
                    Column::new("representative".into(), t.representative),
                    Column::new("max_jaccard".into(), best),
                ],
            )?;
            Ok(AuditOutput {
                attributes: df,
                excluded: t.excluded,
                summary: json!({"clusters": result.clusters.len(), "cluster_sizes": t.sizes, "stats": result.stats}),
            })
        }
        "contamination" => {
            let tasks = load_eval_tasks(ws)?;
            let index = ContaminationIndex::build(&tasks, &cfg.contamination.to_config())
                .map_err(|e| failed(name, e))?;
            let hits = index.scan_many(&texts);
            // Distinct task ids per document (one task can match by n-gram and by substring).
            let task_ids: Vec<String> = hits
                .iter()
                .map(|h| {
                    h.iter()
                        .map(|h| h.task_id.as_str())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            let mut excluded = Vec::new();
            for (i, h) in hits.iter().enumerate() {
                if let Some(first) = h.first() {
                    excluded.push(Excluded {
                        id: docs[i].id.clone(),
                        step: name.into(),
                        reason: "contaminated".into(),
                        detail: format!(
                            "shares text with eval task(s) {}: \"{}\"",
                            task_ids[i],
                            first.matched.chars().take(120).collect::<String>()
                        ),
                    });
                }
            }
            let per_task: Vec<Value> = index.by_task(&hits).into_iter().map(|t| json!({"task": t.task_id, "documents": t.docs.iter().map(|&i| json!({"id": docs[i].id, "source": docs[i].provenance.source_id, "path": docs[i].provenance.path})).collect::<Vec<_>>()})).collect();
            let df = DataFrame::new(
                docs.len(),
                vec![
                    ids(docs),
                    source_col(docs),
                    Column::new("tasks".into(), task_ids.clone()),
                    Column::new(
                        "contaminated".into(),
                        hits.iter().map(|h| !h.is_empty()).collect::<Vec<_>>(),
                    ),
                ],
            )?;
            let summary = json!({"eval_tasks": tasks.len(), "contaminated_documents": excluded.len(), "per_task": per_task, "index": index.stats()});
            Ok(AuditOutput {
                attributes: df,
                excluded,
                summary,
            })
        }
        "splits" => {
            let near = near_duplicates_ranked(&texts, None, &cfg.near_dedup.to_config())
                .map_err(|e| failed(name, e))?;
            let groups: Vec<String> = docs
                .iter()
                .map(|d| match ws.config.splits.group_by {
                    GroupBy::Source => d.provenance.source_id.clone(),
                    GroupBy::File => format!("{}/{}", d.provenance.source_id, d.provenance.path),
                })
                .collect();
            let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
            let keys = leak_free_keys(&texts, &group_refs, &near, &cfg.exact_dedup);
            let s = &ws.config.splits;
            let split_cfg = SplitConfig {
                seed: s.seed,
                train: s.train,
                valid: s.valid,
                test: s.test,
            };
            let assignment = assign_splits(&keys, &split_cfg).map_err(|e| failed(name, e))?;
            let leaks = verify_splits(
                &texts,
                &assignment.splits,
                &cfg.near_dedup.to_config(),
                &cfg.exact_dedup,
            )
            .map_err(|e| failed(name, e))?;
            let df = DataFrame::new(
                docs.len(),
                vec![
                    ids(docs),
                    source_col(docs),
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
                ],
            )?;
            let summary = json!({"groups": assignment.n_groups, "counts": {"train": assignment.counts[0], "valid": assignment.counts[1], "test": assignment.counts[2]}, "leaks": leaks, "clean": leaks.is_clean()});
            if !leaks.is_clean() {
                return Err(failed(
                    name,
                    format!(
                        "the split verifier found leaks in our own split: {}",
                        serde_json::to_string(&leaks).unwrap_or_default()
                    ),
                ));
            }
            Ok(AuditOutput {
                attributes: df,
                excluded: Vec::new(),
                summary,
            })
        }
        other => Err(AuditError::Unknown(other.into())),
    }
}

/// Per profile: class, allowed and reason of every document.
type ProfileColumns = (Vec<String>, Vec<bool>, Vec<String>);

/// Documents per concluded license, with how many each profile allows (a Polars group-by).
fn per_license(df: &DataFrame) -> Result<Value, AuditError> {
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
        rows.push(json!({"spdx": get("spdx")?.trim_matches('"'), "documents": get("documents")?.parse::<u64>().unwrap_or(0), "train_allowed": get("train_allowed")?.parse::<u64>().unwrap_or(0), "publish_allowed": get("publish_allowed")?.parse::<u64>().unwrap_or(0)}));
    }
    Ok(Value::Array(rows))
}

/// Permissiveness (0..=6) of each document's concluded license, 0 when the license audit has
/// not run.
fn license_permissiveness(ws: &Workspace, docs: &[Document]) -> Result<Vec<u8>, AuditError> {
    let p = audit_dir(ws).join("attributes").join("license.parquet");
    let mut by_id = BTreeMap::new();
    if p.exists() {
        let df = snapshot::read_parquet(&p)?;
        for (id, spdx) in df
            .column("id")?
            .str()?
            .iter()
            .zip(df.column("spdx")?.str()?.iter())
        {
            if let (Some(id), Some(spdx)) = (id, spdx) {
                by_id.insert(
                    id.to_string(),
                    super::license_expr::permissiveness(spdx).min(6),
                );
            }
        }
    }
    Ok(docs
        .iter()
        .map(|d| by_id.get(&d.id).copied().unwrap_or(0))
        .collect())
}

/// Per-document cluster columns of a dedup audit, and the members it drops.
struct ClusterTables {
    cluster: Vec<Option<u32>>,
    representative: Vec<Option<String>>,
    excluded: Vec<Excluded>,
    sizes: Vec<usize>,
}

/// `detail(representative)` explains a dropped member.
fn cluster_tables(
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
                t.excluded.push(Excluded {
                    id: docs[m].id.clone(),
                    step: step.into(),
                    reason: reason.into(),
                    detail: detail(c.representative),
                });
            }
        }
    }
    t
}

/// Share of alphanumeric characters among non-whitespace characters.
pub fn alnum_ratio(text: &str) -> f64 {
    let (mut alnum, mut total) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        total += 1;
        alnum += c.is_alphanumeric() as usize;
    }
    if total == 0 {
        1.0
    } else {
        alnum as f64 / total as f64
    }
}

/// Shannon entropy of the characters, in bits per character.
pub fn entropy(text: &str) -> f64 {
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    let mut n = 0usize;
    for c in text.chars() {
        *counts.entry(c).or_insert(0) += 1;
        n += 1;
    }
    counts
        .values()
        .map(|&k| k as f64 / n as f64)
        .map(|p| -p * p.log2())
        .sum()
}

/// The tasks of every registered eval set, as contamination inputs (ids `<set>/<task>`).
pub fn load_eval_tasks(ws: &Workspace) -> Result<Vec<TaskTexts>, AuditError> {
    let mut out = Vec::new();
    for (name, tasks) in load_eval_sets(ws)? {
        for t in tasks {
            out.push(TaskTexts {
                id: format!("{name}/{}", t.id),
                texts: t.protected_texts(),
            });
        }
    }
    Ok(out)
}

/// Every registered eval set, by name, as vcurate tasks (read by the shared `evalset` layer).
pub fn load_eval_sets(ws: &Workspace) -> Result<Vec<(String, Vec<EvalTask>)>, AuditError> {
    use crate::evalset::{import, tasks::load_tasks, Format};
    let mut out = Vec::new();
    for set in &ws.config.eval_sets {
        let path = ws.root.join(&set.path);
        let err = |e: &dyn std::fmt::Display| AuditError::EvalSet {
            name: set.name.clone(),
            path: path.clone(),
            message: e.to_string(),
        };
        let tasks = match set.format {
            EvalSetFormat::Tasks => load_tasks(&path).map_err(|e| err(&e))?,
            EvalSetFormat::Plain => import(Format::Plain, &path).map_err(|e| err(&e))?.tasks,
            EvalSetFormat::LuauBench => {
                import(Format::LuauBench, &path).map_err(|e| err(&e))?.tasks
            }
            EvalSetFormat::OpenGameEval => {
                import(Format::OpenGameEval, &path)
                    .map_err(|e| err(&e))?
                    .tasks
            }
        };
        out.push((set.name.clone(), tasks));
    }
    Ok(out)
}
