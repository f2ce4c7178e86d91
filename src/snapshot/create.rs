//! `snapshot::create`: the library's snapshot stage. Reads the ingested store and the audits'
//! tables, renders the training examples (templates of `dataset/templates/`, or the built-ins
//! when that folder has none), scans every rendered example against the registered eval sets,
//! and freezes it all into an immutable snapshot.
//!
//! Two things happen to the documents before anything is rendered or frozen: every span the
//! `secrets` audit found is replaced by its placeholder (the stored document is never touched;
//! the step is recorded in the frozen copy's provenance), and documents the opt-out list
//! (`licenses/opt-out.toml`) covers are excluded with reason `opt_out` and frozen without their
//! text. The snapshot records the list's hash and entries.
//!
//! It never re-runs an audit: a missing or stale audit table is an error that says which
//! command to run.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::DataFrame;

use super::freeze::{self, FreezeInputs, SnapshotError, SnapshotManifest};
use crate::audit::run::{audit_dir, read_excluded, AuditError, AUDITS};
use crate::core::opt_out::OptOutList;
use crate::core::{Document, Exclusion, Stage};
use crate::store::{all_documents, read_parquet};
use crate::workspace::Workspace;

/// Settings of `snapshot::create`.
#[derive(Debug, Clone, Default)]
pub struct CreateSettings {
    /// Keep documents and examples the contamination checks flagged (recorded as the
    /// `allow-contaminated` flag in the snapshot, and so in its id).
    pub allow_contaminated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("nothing ingested yet; run `vcurate ingest` and `vcurate audit` first")]
    NothingIngested,
    #[error("audit `{0}` has not run; run `vcurate audit` before `vcurate snapshot create`")]
    AuditMissing(String),
    #[error("audit `{name}` is older than the ingested store ({rows} rows for {documents} documents); run `vcurate audit` again")]
    AuditStale {
        name: String,
        rows: usize,
        documents: usize,
    },
    #[error("the templates in {dir} cannot be used: {source}\nFix them (or remove the folder's templates to use the built-ins); nothing was snapshotted")]
    Templates {
        dir: std::path::PathBuf,
        source: crate::render::RenderError,
    },
    #[error(transparent)]
    OptOut(#[from] crate::core::config::ConfigError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Contamination(#[from] crate::audit::contamination::ContaminationError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Polars(#[from] polars::prelude::PolarsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

type Result<T, E = CreateError> = std::result::Result<T, E>;

/// Renders training examples from the documents no audit dropped: the templates of
/// `dataset/templates/` (the built-ins when there are none), the code-density rule on every
/// example, licenses from the license audit. Returns the examples table (one row per example,
/// its split from its documents, the full record as JSON) and the render exclusions.
fn render(
    ws: &Workspace,
    documents: &[crate::core::Document],
    excluded: &[Exclusion],
    splits: &BTreeMap<String, String>,
    attributes: &[(String, DataFrame)],
    allow_contaminated: bool,
) -> Result<(DataFrame, DataFrame, BTreeSet<String>)> {
    use crate::render::{render_examples, RenderOptions};
    let registry = templates_registry(ws)?;
    let mut dropped: BTreeMap<&str, String> = BTreeMap::new();
    for v in excluded {
        for id in &v.document_ids {
            dropped
                .entry(id.as_str())
                .or_insert_with(|| format!("{}: {} ({})", v.reason, v.detail, v.step));
        }
    }
    let mut licenses = BTreeMap::new();
    if let Some((_, df)) = attributes.iter().find(|(n, _)| n == "license") {
        for (id, spdx) in crate::audit::license::table::id_spdx(df)? {
            licenses.insert(id.to_string(), vec![spdx.to_string()]);
        }
    }
    let opts = RenderOptions {
        min_code_lines: ws.config.audit.min_code_lines,
        code_tools: ws.config.audit.code_tools.clone(),
        licenses,
        ..RenderOptions::default()
    };
    let gate = |d: &crate::core::Document| match dropped.get(d.id.as_str()) {
        Some(why) => Err(why.clone()),
        None => Ok(()),
    };
    let mut out = render_examples(documents, &registry, &opts, &gate);
    // Templates add text of their own: score every rendered example against the eval sets too
    // (and record the matches even when `allow_contaminated` keeps the examples). The idioms
    // are the documents' (the corpus the contamination audit counted), so an idiom the audit
    // discounted is discounted here as well.
    let mut matched = BTreeSet::new();
    {
        let tasks = crate::audit::run::load_eval_tasks(ws)?;
        let index = crate::audit::contamination::ContaminationIndex::build(
            &tasks,
            &ws.config.audit.contamination,
        )?;
        let doc_texts: Vec<_> = documents
            .iter()
            .map(crate::audit::contamination::document_text)
            .collect();
        let doc_texts: Vec<&str> = doc_texts.iter().map(|t| t.as_ref()).collect();
        let idioms = index.idioms(&index.scan_many(&doc_texts));
        let texts: Vec<String> = out
            .examples
            .iter()
            .map(|e| crate::core::conversation_text(&e.messages))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let hits = index.score(&refs, &index.scan_many(&refs), &idioms).hits;
        let mut kept = Vec::new();
        for (e, h) in std::mem::take(&mut out.examples).into_iter().zip(hits) {
            matched.extend(h.iter().map(|hit| hit.task_id.clone()));
            if h.is_empty() || allow_contaminated {
                kept.push(e);
                continue;
            }
            out.excluded.push(Exclusion {
                stage: Stage::Render,
                document_ids: e.doc_ids.clone(),
                example_id: Some(e.id.clone()),
                template: Some(e.template.clone()),
                item: e.item.clone(),
                step: "contamination".into(),
                reason: "contaminated".into(),
                detail: format!(
                    "the rendered example {}",
                    crate::audit::contamination::describe(&h)
                ),
            });
        }
        out.examples = kept;
    }
    // An example belongs to the split of its documents. The built-in templates render one
    // document per example; an example built from documents in different splits would carry
    // text of one split into another, so it is dropped with the reason.
    let mut example_splits = Vec::new();
    let mut kept = Vec::new();
    for e in std::mem::take(&mut out.examples) {
        match example_split(&e.doc_ids, splits) {
            Ok(split) => {
                example_splits.push(split);
                kept.push(e);
            }
            Err(detail) => out.excluded.push(Exclusion {
                stage: Stage::Render,
                document_ids: e.doc_ids.clone(),
                example_id: Some(e.id.clone()),
                template: Some(e.template.clone()),
                item: e.item.clone(),
                step: "splits".into(),
                reason: "split_conflict".into(),
                detail,
            }),
        }
    }
    out.examples = kept;
    let examples = super::examples::examples_frame(&out.examples, &example_splits)?;
    let render_excluded = crate::store::exclusions::exclusions_frame(&out.excluded)?;
    Ok((examples, render_excluded, matched))
}

/// The split an example's documents share (`train` for documents the splits table does not
/// know), or why it has none.
fn example_split(doc_ids: &[String], splits: &BTreeMap<String, String>) -> Result<String, String> {
    let found: BTreeSet<&str> = doc_ids
        .iter()
        .filter_map(|d| splits.get(d).map(String::as_str))
        .collect();
    match found.len() {
        0 => Ok("train".into()),
        1 => Ok(found.into_iter().next().expect("one split").to_string()),
        _ => Err(format!(
            "the example's documents are in different splits ({}); an example must not carry text of one split into another",
            found.into_iter().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// What the contamination checks covered: every registered eval set with its task hashes and
/// the tasks that matched a document (contamination audit) or a rendered example.
fn eval_set_coverage(
    ws: &Workspace,
    attributes: &[(String, DataFrame)],
    example_matches: &BTreeSet<String>,
) -> Result<Vec<freeze::EvalSetCoverage>> {
    let mut matched = example_matches.clone();
    if let Some((_, df)) = attributes.iter().find(|(n, _)| n == "contamination") {
        for tasks in crate::store::columns::read_string_lists(df, "tasks")? {
            matched.extend(tasks);
        }
    }
    let mut out = Vec::new();
    for (name, tasks) in crate::audit::run::load_eval_sets(ws)? {
        let prefix = format!("{name}/");
        let mut task_hashes: Vec<String> = tasks
            .iter()
            .map(crate::core::eval_task::task_hash)
            .collect();
        task_hashes.sort();
        out.push(freeze::EvalSetCoverage {
            task_set_id: crate::core::eval_task::task_set_id(&tasks),
            task_hashes,
            matched_tasks: matched
                .iter()
                .filter_map(|t| t.strip_prefix(&prefix).map(String::from))
                .collect(),
            name,
        });
    }
    Ok(out)
}

/// The snapshot stage: gathers the inputs of a snapshot from the workspace, renders the
/// examples and freezes them. The same inputs give the same snapshot (and id).
pub fn create(ws: &Workspace, settings: &CreateSettings) -> Result<SnapshotManifest> {
    let allow_contaminated = settings.allow_contaminated;
    tracing::debug!(root = %ws.root.display(), allow_contaminated, "snapshot create");
    let mut documents = all_documents(&ws.store_dir())?;
    if documents.is_empty() {
        return Err(CreateError::NothingIngested);
    }
    let opt_out = OptOutList::load(&ws.root)?;
    let adir = audit_dir(ws);
    let mut attributes = Vec::new();
    for name in AUDITS {
        let p = adir.join("attributes").join(format!("{name}.parquet"));
        if !p.exists() {
            return Err(CreateError::AuditMissing(name.to_string()));
        }
        let df = read_parquet(&p)?;
        if df.height() != documents.len() {
            return Err(CreateError::AuditStale {
                name: name.to_string(),
                rows: df.height(),
                documents: documents.len(),
            });
        }
        attributes.push((name.to_string(), df));
    }
    let mut excluded: Vec<Exclusion> = read_excluded(ws)?
        .into_iter()
        .filter(|e| !(allow_contaminated && e.step == "contamination"))
        .collect();
    let secrets = &attributes
        .iter()
        .find(|(n, _)| n == "secrets")
        .expect("checked")
        .1;
    apply_redactions(&mut documents, secrets)?;
    excluded.extend(opt_out_exclusions(&mut documents, &opt_out));
    let splits_df = &attributes
        .iter()
        .find(|(n, _)| n == "splits")
        .expect("checked")
        .1;
    let splits: BTreeMap<String, String> = splits_df
        .column("id")?
        .str()?
        .iter()
        .zip(splits_df.column("split")?.str()?.iter())
        .filter_map(|(i, s)| Some((i?.to_string(), s?.to_string())))
        .collect();
    let policy_path = ws.licenses_dir().join("policy.toml");
    let policy = policy_path
        .exists()
        .then(|| fs_err::read(&policy_path))
        .transpose()?;
    let mut templates = BTreeMap::new();
    for e in fs_err::read_dir(ws.dataset_dir().join("templates"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_file() && !name.starts_with('.') {
            templates.insert(name, fs_err::read(e.path())?);
        }
    }
    let flags = if allow_contaminated {
        vec!["allow-contaminated".to_string()]
    } else {
        Vec::new()
    };
    let (examples, render_excluded, example_matches) = render(
        ws,
        &documents,
        &excluded,
        &splits,
        &attributes,
        allow_contaminated,
    )?;
    let eval_sets = eval_set_coverage(ws, &attributes, &example_matches)?;
    tracing::debug!(
        documents = documents.len(),
        excluded = excluded.len(),
        examples = examples.height(),
        "snapshot inputs gathered"
    );
    attributes.push(("render-excluded".to_string(), render_excluded));
    let inputs = FreezeInputs {
        documents,
        excluded,
        splits,
        attributes,
        policy,
        templates,
        examples: Some(examples),
        flags,
        eval_sets,
        opt_out: freeze::OptOutRecord::of(&opt_out),
        rebuilt_from: None,
    };
    let created = crate::ingest::default_ingest_time();
    Ok(freeze::freeze(
        &ws.dataset_dir().join("snapshots"),
        inputs,
        created,
    )?)
}

/// Replaces every span the `secrets` audit found with its placeholder, in the snapshot's copy of
/// each document, and records the step (`redact_secrets:<rule ids>`) in that copy's provenance.
fn apply_redactions(documents: &mut [Document], secrets: &DataFrame) -> Result<()> {
    let spans = crate::audit::jobs::secrets::redactions(secrets)?;
    for d in documents.iter_mut() {
        if let Some(r) = spans.get(&d.id) {
            d.text = crate::audit::secrets::redact(&d.text, &r.spans);
            d.provenance
                .steps
                .push(format!("redact_secrets:{}", r.rules.join(",")));
        }
    }
    Ok(())
}

/// The opt-out list's exclusions (stage `snapshot`, step `opt-out`, reason `opt_out`); the
/// snapshot's copy of each excluded document keeps its provenance and hash but not its text.
pub fn opt_out_exclusions(documents: &mut [Document], list: &OptOutList) -> Vec<Exclusion> {
    if list.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for d in documents.iter_mut() {
        if let Some(e) = list.document_entry(&d.id, &d.provenance) {
            out.push(Exclusion::document(
                Stage::Snapshot,
                "opt-out",
                d.id.clone(),
                "opt_out",
                format!("{}: {} ({})", e.describe(), e.reason, e.date),
            ));
            withhold(d);
        }
    }
    out
}

/// Empties a frozen document copy's text (an opt-out or a takedown), recording the step.
pub fn withhold(d: &mut Document) {
    d.text.clear();
    if !d.provenance.steps.iter().any(|s| s == "withheld_opt_out") {
        d.provenance.steps.push("withheld_opt_out".into());
    }
}

/// The templates a snapshot renders with: the workspace's `dataset/templates/` when it holds
/// any, else the built-ins. A broken template in the folder is an error, never a silent fall
/// back to the built-ins (the snapshot id hashes the folder's files).
fn templates_registry(ws: &Workspace) -> Result<crate::render::Registry> {
    let dir = ws.dataset_dir().join("templates");
    if dir.is_dir() {
        let registry =
            crate::render::Registry::load_dir(&dir).map_err(|source| CreateError::Templates {
                dir: dir.clone(),
                source,
            })?;
        if !registry.templates().is_empty() {
            return Ok(registry);
        }
    }
    tracing::debug!(dir = %dir.display(), "no templates in the workspace; rendering with the built-ins");
    crate::render::Registry::builtin().map_err(|source| CreateError::Templates { dir, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_example_takes_the_split_its_documents_share_or_has_none() {
        let splits: BTreeMap<String, String> = [("a", "valid"), ("b", "valid"), ("c", "test")]
            .into_iter()
            .map(|(d, s)| (d.to_string(), s.to_string()))
            .collect();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(example_split(&ids(&["a"]), &splits).unwrap(), "valid");
        assert_eq!(example_split(&ids(&["a", "b"]), &splits).unwrap(), "valid");
        assert_eq!(example_split(&ids(&["zz"]), &splits).unwrap(), "train");
        let err = example_split(&ids(&["a", "c"]), &splits).unwrap_err();
        assert!(err.contains("different splits (test, valid)"), "{err}");
    }
}
