//! Immutable, content-addressed snapshots: `dataset/snapshots/<id>/`.
//!
//! The id is a hash of every input that decides what a snapshot contains (documents and their
//! hashes, audit verdicts, split assignments, the policy, the templates, examples, flags and the
//! tool version), each taken in a canonical order, so the same inputs give the same id whatever
//! order they were ingested in, and a different template or policy gives a different id. The
//! small `snapshot.toml` is meant to be committed; the Parquet tables beside it are not.
//! A snapshot folder is written under a temporary name and renamed into place: it is never
//! modified afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::core::{Document, Exclusion};
use crate::store::{documents_frame, read_parquet, write_parquet, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("no snapshot `{0}` in {1}; `vcurate snapshot list` shows the snapshots there are")]
    NotFound(String, PathBuf),
    #[error("snapshot id prefix `{0}` is ambiguous ({1}); give more characters")]
    Ambiguous(String, String),
    #[error("{0}: {1}")]
    Manifest(PathBuf, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Everything a snapshot is made of.
#[derive(Default)]
pub struct FreezeInputs {
    pub documents: Vec<Document>,
    /// The audits' drops (one document each): documents the snapshot leaves out.
    pub excluded: Vec<Exclusion>,
    /// Split per document id.
    pub splits: BTreeMap<String, String>,
    /// Attribute tables of the audits, by audit name.
    pub attributes: Vec<(String, DataFrame)>,
    /// The license policy file, if any.
    pub policy: Option<Vec<u8>>,
    /// Template files by name.
    pub templates: BTreeMap<String, Vec<u8>>,
    /// Rendered examples (must have an `id` column), if rendered.
    pub examples: Option<DataFrame>,
    /// Explicit overrides that change what passes (e.g. `allow-contaminated`).
    pub flags: Vec<String>,
    /// The eval sets the contamination checks ran against, and what they found.
    pub eval_sets: Vec<EvalSetCoverage>,
    /// The opt-out list applied, if the workspace has one.
    pub opt_out: Option<OptOutRecord>,
    /// The snapshot a takedown rebuilt these inputs from (recorded, not hashed: the changed
    /// exclusions already give the rebuild its own id).
    pub rebuilt_from: Option<String>,
}

/// The opt-out list a snapshot applied (`licenses/opt-out.toml`): its hash and entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutRecord {
    /// 16 hex digits of blake3 over the file.
    pub hash: String,
    #[serde(default, rename = "entry")]
    pub entries: Vec<crate::core::opt_out::OptOutEntry>,
}

impl OptOutRecord {
    /// The record of a loaded list (None when the workspace has no list file).
    pub fn of(list: &crate::core::opt_out::OptOutList) -> Option<OptOutRecord> {
        list.hash.as_ref().map(|h| OptOutRecord {
            hash: h.clone(),
            entries: list.entries.clone(),
        })
    }
}

/// One registered eval set the snapshot's documents and examples were checked against; lets
/// `vcurate eval` tell whether a model trained on this snapshot has seen a task set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalSetCoverage {
    pub name: String,
    /// `eval::task::task_set_id` of the set's tasks.
    pub task_set_id: String,
    /// `eval::task::task_hash` of every task, sorted: a task is covered when its hash is here.
    pub task_hashes: Vec<String>,
    /// Ids of the tasks whose text matched an ingested document or a rendered example (those
    /// were excluded from the snapshot unless it was created with `allow-contaminated`).
    pub matched_tasks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSource {
    pub id: String,
    pub kind: String,
    pub url: String,
    pub commit: Option<String>,
    pub documents: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub documents: u64,
    pub included: u64,
    pub excluded: u64,
    pub examples: u64,
    pub train: u64,
    pub valid: u64,
    pub test: u64,
}

/// `snapshot.toml`: small, human-readable, committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotManifest {
    pub id: String,
    pub tool_version: String,
    pub created: String,
    pub policy_hash: Option<String>,
    pub template_hashes: BTreeMap<String, String>,
    pub flags: Vec<String>,
    pub counts: Counts,
    pub excluded_by_reason: BTreeMap<String, u64>,
    #[serde(rename = "source")]
    pub sources: Vec<SnapshotSource>,
    /// Snapshots made before eval-set coverage was recorded have none.
    #[serde(default, rename = "eval_set")]
    pub eval_sets: Vec<EvalSetCoverage>,
    /// The opt-out list applied (absent when the workspace had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out: Option<OptOutRecord>,
    /// The snapshot a takedown rebuilt this one from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuilt_from: Option<String>,
}

fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..16].to_string()
}

/// The content-addressed id of a set of inputs.
pub fn snapshot_id(inputs: &FreezeInputs) -> String {
    let mut h = blake3::Hasher::new();
    let mut line = |parts: &[&str]| {
        for p in parts {
            h.update(p.as_bytes());
            h.update(&[0]);
        }
        h.update(b"\n");
    };
    line(&["vcurate-snapshot", crate::TOOL_VERSION]);
    let docs: BTreeSet<(&str, &str, &str)> = inputs
        .documents
        .iter()
        .map(|d| {
            (
                d.id.as_str(),
                d.sha256.as_str(),
                d.provenance.commit.as_deref().unwrap_or(""),
            )
        })
        .collect();
    for (id, sha, commit) in docs {
        line(&["doc", id, sha, commit]);
    }
    let verdicts: BTreeSet<(&str, &str, &str)> = inputs
        .excluded
        .iter()
        .flat_map(|v| {
            v.document_ids
                .iter()
                .map(|id| (id.as_str(), v.step.as_str(), v.reason.as_str()))
        })
        .collect();
    for (id, step, reason) in verdicts {
        line(&["excluded", id, step, reason]);
    }
    for (id, split) in &inputs.splits {
        line(&["split", id, split]);
    }
    line(&[
        "policy",
        &inputs.policy.as_deref().map(hash).unwrap_or_default(),
    ]);
    for (name, bytes) in &inputs.templates {
        line(&["template", name, &hash(bytes)]);
    }
    if let Some(ex) = &inputs.examples {
        let mut ids: Vec<String> = ex
            .column("id")
            .ok()
            .and_then(|c| {
                c.str()
                    .ok()
                    .map(|s| s.iter().flatten().map(String::from).collect())
            })
            .unwrap_or_default();
        ids.sort();
        for id in ids {
            line(&["example", &id]);
        }
    }
    let flags: BTreeSet<&String> = inputs.flags.iter().collect();
    for f in flags {
        line(&["flag", f]);
    }
    let mut sets: Vec<&EvalSetCoverage> = inputs.eval_sets.iter().collect();
    sets.sort_by(|a, b| a.name.cmp(&b.name));
    for set in sets {
        line(&["eval-set", &set.name, &set.task_set_id]);
        for t in &set.matched_tasks {
            line(&["eval-set-match", &set.name, t]);
        }
    }
    if let Some(o) = &inputs.opt_out {
        line(&["opt-out", &o.hash]);
    }
    h.finalize().to_hex()[..16].to_string()
}

/// Freezes the inputs into `dir/<id>/`; an existing snapshot with the same id is left as it is.
pub fn freeze(
    dir: &Path,
    inputs: FreezeInputs,
    created: String,
) -> Result<SnapshotManifest, SnapshotError> {
    let id = snapshot_id(&inputs);
    let target = dir.join(&id);
    if target.join("snapshot.toml").is_file() && target.join("documents.parquet").is_file() {
        return load(dir, &id);
    }
    let mut docs = inputs.documents;
    docs.sort_by(|a, b| a.id.cmp(&b.id));
    let dropped: BTreeSet<&str> = inputs
        .excluded
        .iter()
        .flat_map(|v| v.document_ids.iter().map(String::as_str))
        .collect();
    let included: Vec<bool> = docs
        .iter()
        .map(|d| !dropped.contains(d.id.as_str()))
        .collect();
    let splits: Vec<Option<String>> = docs
        .iter()
        .map(|d| inputs.splits.get(&d.id).cloned())
        .collect();

    let mut counts = Counts {
        documents: docs.len() as u64,
        ..Counts::default()
    };
    counts.included = included.iter().filter(|&&b| b).count() as u64;
    counts.excluded = counts.documents - counts.included;
    for (inc, split) in included.iter().zip(&splits) {
        match (inc, split.as_deref()) {
            (true, Some("train")) => counts.train += 1,
            (true, Some("valid")) => counts.valid += 1,
            (true, Some("test")) => counts.test += 1,
            _ => {}
        }
    }
    counts.examples = inputs
        .examples
        .as_ref()
        .map(|e| e.height() as u64)
        .unwrap_or(0);
    let mut excluded_by_reason = BTreeMap::new();
    for v in &inputs.excluded {
        *excluded_by_reason
            .entry(format!("{}:{}", v.step, v.reason))
            .or_insert(0) += 1;
    }
    let mut sources: BTreeMap<String, SnapshotSource> = BTreeMap::new();
    for d in &docs {
        let p = &d.provenance;
        sources
            .entry(p.source_id.clone())
            .or_insert_with(|| SnapshotSource {
                id: p.source_id.clone(),
                kind: p.source_kind.as_str().into(),
                url: p.url.clone(),
                commit: p.commit.clone(),
                documents: 0,
            })
            .documents += 1;
    }
    let manifest = SnapshotManifest {
        id: id.clone(),
        tool_version: crate::TOOL_VERSION.into(),
        created,
        policy_hash: inputs.policy.as_deref().map(hash),
        template_hashes: inputs
            .templates
            .iter()
            .map(|(n, b)| (n.clone(), hash(b)))
            .collect(),
        flags: inputs.flags.clone(),
        counts,
        excluded_by_reason,
        sources: sources.into_values().collect(),
        eval_sets: inputs.eval_sets.clone(),
        opt_out: inputs.opt_out.clone(),
        rebuilt_from: inputs.rebuilt_from.clone(),
    };

    let tmp = dir.join(format!(".tmp-{id}-{}", std::process::id()));
    if tmp.exists() {
        fs_err::remove_dir_all(&tmp)?;
    }
    fs_err::create_dir_all(&tmp)?;
    let mut frame = documents_frame(&docs)?;
    frame.with_column(Column::new("included".into(), included))?;
    frame.with_column(Column::new("split".into(), splits))?;
    write_parquet(&tmp.join("documents.parquet"), Ok(frame))?;
    let mut verdicts = inputs.excluded.clone();
    verdicts.sort_by(|a, b| {
        (&a.document_ids, &a.step, &a.reason, &a.detail).cmp(&(
            &b.document_ids,
            &b.step,
            &b.reason,
            &b.detail,
        ))
    });
    crate::store::exclusions::write_exclusions(&tmp.join("excluded.parquet"), &verdicts)?;
    for (name, df) in inputs.attributes {
        write_parquet(
            &tmp.join("attributes").join(format!("{name}.parquet")),
            Ok(df),
        )?;
    }
    if let Some(ex) = inputs.examples {
        write_parquet(&tmp.join("examples.parquet"), Ok(ex))?;
    }
    if let Some(policy) = &inputs.policy {
        fs_err::write(tmp.join("policy.toml"), policy)?;
    }
    for (name, bytes) in &inputs.templates {
        fs_err::create_dir_all(tmp.join("templates"))?;
        fs_err::write(tmp.join("templates").join(name), bytes)?;
    }
    let text = format!("# A vcurate snapshot: commit this file; the tables beside it are rebuilt by `vcurate snapshot create`.\n{}", toml::to_string(&manifest).expect("manifest serializes"));
    fs_err::write(tmp.join("snapshot.toml"), text)?;
    if target.exists() {
        fs_err::remove_dir_all(&target)?;
    }
    fs_err::rename(&tmp, &target)?;
    Ok(manifest)
}

/// Every snapshot in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<SnapshotManifest>, SnapshotError> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.path().join("snapshot.toml").is_file() {
            out.push(load(dir, &name)?);
        }
    }
    out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Resolves an id or unique prefix to the full id.
pub fn resolve(dir: &Path, id: &str) -> Result<String, SnapshotError> {
    let ids: Vec<String> = list(dir)?
        .into_iter()
        .map(|m| m.id)
        .filter(|m| m.starts_with(id))
        .collect();
    match ids.len() {
        0 => Err(SnapshotError::NotFound(id.into(), dir.to_path_buf())),
        1 => Ok(ids[0].clone()),
        _ => Err(SnapshotError::Ambiguous(id.into(), ids.join(", "))),
    }
}

/// Reads a snapshot's manifest.
pub fn load(dir: &Path, id: &str) -> Result<SnapshotManifest, SnapshotError> {
    let path = dir.join(id).join("snapshot.toml");
    let text = fs_err::read_to_string(&path)
        .map_err(|_| SnapshotError::NotFound(id.into(), dir.to_path_buf()))?;
    toml::from_str(&text).map_err(|e| SnapshotError::Manifest(path, e.to_string()))
}

/// One document whose presence or inclusion differs between two snapshots, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DiffEntry {
    pub id: String,
    pub source_id: String,
    pub path: String,
    pub change: String,
    pub why: String,
}

/// One training example added to or removed from a snapshot, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExampleDiff {
    pub id: String,
    pub template: String,
    pub change: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SnapshotDiff {
    pub a: String,
    pub b: String,
    pub policy_changed: bool,
    pub templates_changed: Vec<String>,
    pub sources_moved: Vec<String>,
    pub entries: Vec<DiffEntry>,
    /// Examples added or removed (an example's id covers its text, template and documents, so a
    /// changed example is one removal and one addition).
    pub examples: Vec<ExampleDiff>,
}

/// (template, doc ids) of each example of a snapshot, by example id.
fn example_rows(
    dir: &Path,
    id: &str,
) -> Result<BTreeMap<String, (String, Vec<String>)>, SnapshotError> {
    let p = dir.join(id).join("examples.parquet");
    if !p.exists() {
        return Ok(BTreeMap::new());
    }
    Ok(super::examples::read_examples(&dir.join(id))?
        .into_iter()
        .map(|e| (e.example.id, (e.example.template, e.example.doc_ids)))
        .collect())
}

struct Row {
    source_id: String,
    path: String,
    commit: Option<String>,
    included: bool,
}

/// A snapshot's documents by id, and the `step:reason` verdicts that dropped each.
type Rows = (BTreeMap<String, Row>, BTreeMap<String, Vec<String>>);

fn rows(dir: &Path, id: &str) -> Result<Rows, SnapshotError> {
    let df = read_parquet(&dir.join(id).join("documents.parquet"))?;
    let s = |n: &str| -> Result<Vec<Option<String>>, SnapshotError> {
        Ok(df
            .column(n)?
            .str()?
            .iter()
            .map(|v| v.map(String::from))
            .collect())
    };
    let (ids, sources, paths, commits) = (s("id")?, s("source_id")?, s("path")?, s("commit")?);
    let included: Vec<bool> = df
        .column("included")?
        .bool()?
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect();
    let mut out = BTreeMap::new();
    for i in 0..df.height() {
        out.insert(
            ids[i].clone().unwrap_or_default(),
            Row {
                source_id: sources[i].clone().unwrap_or_default(),
                path: paths[i].clone().unwrap_or_default(),
                commit: commits[i].clone(),
                included: included[i],
            },
        );
    }
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in crate::store::exclusions::read_exclusions(&dir.join(id).join("excluded.parquet"))? {
        for doc in &e.document_ids {
            reasons
                .entry(doc.clone())
                .or_default()
                .push(format!("{}:{}", e.step, e.reason));
        }
    }
    Ok((out, reasons))
}

/// What changed between two snapshots, document by document, with the reason.
pub fn diff(dir: &Path, a: &str, b: &str) -> Result<SnapshotDiff, SnapshotError> {
    let (a, b) = (resolve(dir, a)?, resolve(dir, b)?);
    let (ma, mb) = (load(dir, &a)?, load(dir, &b)?);
    let (ra, xa) = rows(dir, &a)?;
    let (rb, xb) = rows(dir, &b)?;
    let commit_of = |m: &SnapshotManifest| -> BTreeMap<String, Option<String>> {
        m.sources
            .iter()
            .map(|s| (s.id.clone(), s.commit.clone()))
            .collect()
    };
    let (ca, cb) = (commit_of(&ma), commit_of(&mb));
    let sources_moved: Vec<String> = cb
        .iter()
        .filter(|(id, c)| ca.get(*id).is_some_and(|o| o != *c))
        .map(|(id, _)| id.clone())
        .collect();
    let policy_changed = ma.policy_hash != mb.policy_hash;
    let templates_changed: Vec<String> = ma
        .template_hashes
        .keys()
        .chain(mb.template_hashes.keys())
        .filter(|k| ma.template_hashes.get(*k) != mb.template_hashes.get(*k))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Why a source-level change happened, for documents that appear or disappear.
    let why_new = |r: &Row| -> String {
        if sources_moved.contains(&r.source_id) {
            format!(
                "new commit of {} ({})",
                r.source_id,
                r.commit
                    .as_deref()
                    .map(|c| &c[..c.len().min(12)])
                    .unwrap_or("-")
            )
        } else if !ca.contains_key(&r.source_id) {
            format!("new source {}", r.source_id)
        } else {
            "new file in the source".into()
        }
    };
    let mut entries = Vec::new();
    let entry = |id: &str, r: &Row, change: &str, why: String| DiffEntry {
        id: id.into(),
        source_id: r.source_id.clone(),
        path: r.path.clone(),
        change: change.into(),
        why,
    };
    for (id, r) in &rb {
        match ra.get(id) {
            None => entries.push(entry(id, r, "added", why_new(r))),
            Some(old) if old.included && !r.included => {
                let reasons = xb.get(id).cloned().unwrap_or_default().join(", ");
                let extra = if policy_changed {
                    " (policy changed)"
                } else {
                    ""
                };
                entries.push(entry(id, r, "newly_excluded", format!("{reasons}{extra}")));
            }
            Some(old) if !old.included && r.included => {
                let was = xa.get(id).cloned().unwrap_or_default().join(", ");
                let extra = if policy_changed {
                    "; policy changed"
                } else {
                    ""
                };
                entries.push(entry(
                    id,
                    r,
                    "newly_included",
                    format!("no longer {was}{extra}"),
                ));
            }
            _ => {}
        }
    }
    for (id, r) in &ra {
        if !rb.contains_key(id) {
            let why = if sources_moved.contains(&r.source_id) {
                format!("new commit of {}", r.source_id)
            } else if !cb.contains_key(&r.source_id) {
                format!("source {} removed", r.source_id)
            } else {
                "file removed from the source".into()
            };
            entries.push(entry(id, r, "removed", why));
        }
    }
    // A file whose content changed has a new id: pair its removal and addition as one change.
    let key = |e: &DiffEntry| (e.source_id.clone(), e.path.clone());
    let added: BTreeSet<(String, String)> = entries
        .iter()
        .filter(|e| e.change == "added")
        .map(key)
        .collect();
    let removed: BTreeSet<(String, String)> = entries
        .iter()
        .filter(|e| e.change == "removed")
        .map(key)
        .collect();
    let changed: BTreeSet<&(String, String)> = added.intersection(&removed).collect();
    entries.retain(|e| !(e.change == "removed" && changed.contains(&key(e))));
    for e in entries
        .iter_mut()
        .filter(|e| e.change == "added" && changed.contains(&key(e)))
    {
        e.change = "changed".into();
        if !sources_moved.contains(&e.source_id) {
            e.why = "content changed".into();
        }
    }
    // Why examples appeared or disappeared: their template, their documents, or the policy.
    let (ea, eb) = (example_rows(dir, &a)?, example_rows(dir, &b)?);
    let doc_why: BTreeMap<&str, &DiffEntry> = entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let by_path: BTreeMap<(&str, &str), &DiffEntry> = entries
        .iter()
        .map(|e| ((e.source_id.as_str(), e.path.as_str()), e))
        .collect();
    let explain = |template: &str, docs: &[String], rows: &BTreeMap<String, Row>| -> String {
        if templates_changed
            .iter()
            .any(|t| t.starts_with(&format!("{template}.")))
        {
            return format!("template {template} changed");
        }
        for d in docs {
            let entry = doc_why.get(d.as_str()).copied().or_else(|| {
                rows.get(d).and_then(|r| {
                    by_path
                        .get(&(r.source_id.as_str(), r.path.as_str()))
                        .copied()
                })
            });
            if let Some(e) = entry {
                return format!(
                    "document {}:{} {}: {}",
                    e.source_id, e.path, e.change, e.why
                );
            }
        }
        if policy_changed {
            "the policy changed".into()
        } else {
            "rendering changed".into()
        }
    };
    let mut examples = Vec::new();
    for (id, (template, docs)) in &eb {
        if !ea.contains_key(id) {
            examples.push(ExampleDiff {
                id: id.clone(),
                template: template.clone(),
                change: "added".into(),
                why: explain(template, docs, &rb),
            });
        }
    }
    for (id, (template, docs)) in &ea {
        if !eb.contains_key(id) {
            examples.push(ExampleDiff {
                id: id.clone(),
                template: template.clone(),
                change: "removed".into(),
                why: explain(template, docs, &ra),
            });
        }
    }
    entries.sort_by(|x, y| {
        (x.source_id.as_str(), x.path.as_str(), x.change.as_str()).cmp(&(
            y.source_id.as_str(),
            y.path.as_str(),
            y.change.as_str(),
        ))
    });
    Ok(SnapshotDiff {
        a,
        b,
        policy_changed,
        templates_changed,
        sources_moved,
        entries,
        examples,
    })
}
