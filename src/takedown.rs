//! `vcurate takedown`: a data owner asks for their files to be removed. Given an owner, a
//! repository, a source, a path glob or a document id, it
//!
//! 1. lists every snapshot holding a matching document (from each snapshot's frozen
//!    provenance) and every recorded export holding a line made from one (from the export's
//!    provenance sidecars);
//! 2. appends the entry to the opt-out list (`licenses/opt-out.toml`), so later ingests skip the
//!    source and later snapshots exclude the documents;
//! 3. rebuilds each of those snapshots without them: the same frozen inputs, with the matching
//!    documents excluded (stage `snapshot`, reason `opt_out`) and their text withheld, the
//!    examples made from them removed (and recorded as excluded), and the new list recorded. The
//!    rebuild has a new id and names the snapshot it replaces (`rebuilt_from`); `vcurate snapshot
//!    diff OLD NEW` lists exactly the removed documents and examples.
//!
//! Exports are files outside vcurate's control: the report names them (folder, snapshot, split
//! files and line counts) so they can be deleted or re-exported from the rebuilt snapshot.
//! Nothing here deletes an old snapshot or an export folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;

use crate::core::opt_out::{OptOutEntry, OptOutList};
use crate::core::{Exclusion, Stage};
use crate::snapshot::freeze::{self, FreezeInputs, OptOutRecord, SnapshotError};
use crate::store::{read_parquet, StoreError};
use crate::workspace::Workspace;

#[derive(Debug, thiserror::Error)]
pub enum TakedownError {
    #[error("the takedown entry is not valid: {0}")]
    Entry(String),
    #[error(transparent)]
    OptOut(#[from] crate::core::config::ConfigError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Polars(#[from] PolarsError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Settings of a takedown.
#[derive(Debug, Clone)]
pub struct TakedownSettings {
    /// What to take down, why and when.
    pub entry: OptOutEntry,
    /// Only list what matches: write no opt-out entry, rebuild nothing.
    pub dry_run: bool,
    /// Write the opt-out entry but rebuild no snapshot.
    pub no_rebuild: bool,
}

/// What a takedown found and did (`vcurate takedown --json`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TakedownReport {
    pub entry: OptOutEntry,
    pub dry_run: bool,
    /// The opt-out list's hash after the entry was appended (None on a dry run).
    pub opt_out_hash: Option<String>,
    /// Snapshots holding at least one matching document, oldest first.
    pub snapshots: Vec<SnapshotHit>,
    /// Recorded exports holding at least one line made from a matching document.
    pub exports: Vec<ExportHit>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SnapshotHit {
    pub snapshot: String,
    pub created: String,
    /// The matching documents.
    pub documents: Vec<DocumentHit>,
    /// Examples rendered from them.
    pub examples: usize,
    /// The rebuilt snapshot's id (None on a dry run or with --no-rebuild).
    pub rebuilt: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DocumentHit {
    pub id: String,
    pub source_id: String,
    pub path: String,
    /// Whether the snapshot included it (its examples can be in exports).
    pub included: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExportHit {
    pub out: PathBuf,
    pub snapshot: String,
    pub format: String,
    pub profile: String,
    pub created: String,
    /// Whether the folder's provenance sidecars could be read; when they are gone the hit comes
    /// from the snapshot the export was made from.
    pub sidecars_read: bool,
    /// Lines made from matching documents, per split file (`train.jsonl`: 3).
    pub lines: BTreeMap<String, usize>,
}

/// The takedown stage.
pub fn run(ws: &Workspace, settings: &TakedownSettings) -> Result<TakedownReport, TakedownError> {
    let one =
        OptOutList::from_entries(vec![settings.entry.clone()]).map_err(TakedownError::Entry)?;
    let dir = ws.dataset_dir().join("snapshots");
    let mut snapshots = Vec::new();
    let mut matched_by_snapshot: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in freeze::list(&dir)? {
        let docs = crate::store::read_documents(&dir.join(&m.id).join("documents.parquet"))?;
        let included = included_column(&dir.join(&m.id))?;
        // Documents an earlier opt-out already withheld are no longer in the snapshot's text.
        let withheld: BTreeSet<&str> = docs
            .iter()
            .filter(|d| d.provenance.steps.iter().any(|s| s == "withheld_opt_out"))
            .map(|d| d.id.as_str())
            .collect();
        let hits: Vec<DocumentHit> = docs
            .iter()
            .filter(|d| !withheld.contains(d.id.as_str()))
            .filter(|d| one.document_entry(&d.id, &d.provenance).is_some())
            .map(|d| DocumentHit {
                id: d.id.clone(),
                source_id: d.provenance.source_id.clone(),
                path: d.provenance.path.clone(),
                included: included.get(&d.id).copied().unwrap_or(false),
            })
            .collect();
        if hits.is_empty() {
            continue;
        }
        let ids: BTreeSet<String> = hits.iter().map(|h| h.id.clone()).collect();
        let examples = example_hits(&dir.join(&m.id), &ids)?
            .iter()
            .filter(|&&b| b)
            .count();
        matched_by_snapshot.insert(m.id.clone(), ids);
        snapshots.push(SnapshotHit {
            snapshot: m.id.clone(),
            created: m.created.clone(),
            documents: hits,
            examples,
            rebuilt: None,
        });
    }
    let mut exports = Vec::new();
    for rec in crate::export::recorded_exports(ws)? {
        let sidecars = crate::export::read_sidecars(&rec.out)?;
        let sidecars_read = !sidecars.is_empty();
        let mut lines = BTreeMap::new();
        if sidecars_read {
            let snap_ids = matched_by_snapshot.get(&rec.snapshot);
            for (file, side) in sidecars {
                let n = side
                    .iter()
                    .filter(|l| {
                        l.doc_ids
                            .iter()
                            .any(|d| snap_ids.is_some_and(|s| s.contains(d)))
                            || l.sources.iter().any(|o| {
                                one.entry_for(&o.doc_id, &o.source_id, &[o.url.as_str()], &o.path)
                                    .is_some()
                            })
                    })
                    .count();
                if n > 0 {
                    lines.insert(file, n);
                }
            }
        } else if matched_by_snapshot.contains_key(&rec.snapshot) {
            let examples = snapshots
                .iter()
                .find(|s| s.snapshot == rec.snapshot)
                .map_or(0, |s| s.examples);
            lines.insert("(from the snapshot's examples)".into(), examples);
        }
        if !lines.is_empty() {
            exports.push(ExportHit {
                out: rec.out,
                snapshot: rec.snapshot,
                format: rec.format,
                profile: rec.profile,
                created: rec.created,
                sidecars_read,
                lines,
            });
        }
    }
    let mut opt_out_hash = None;
    if !settings.dry_run {
        let list = crate::core::opt_out::append(&ws.root, &settings.entry)?;
        opt_out_hash = list.hash.clone();
        if !settings.no_rebuild {
            let created = crate::ingest::default_ingest_time();
            for s in &mut snapshots {
                let m = rebuild(&dir, &s.snapshot, &list, created.clone())?;
                s.rebuilt = Some(m.id);
            }
        }
    }
    Ok(TakedownReport {
        entry: settings.entry.clone(),
        dry_run: settings.dry_run,
        opt_out_hash,
        snapshots,
        exports,
    })
}

/// `included` by document id, from a snapshot's documents table.
fn included_column(snap: &Path) -> Result<BTreeMap<String, bool>, TakedownError> {
    let df = read_parquet(&snap.join("documents.parquet"))?;
    let ids = df.column("id")?.str()?.clone();
    let inc = df.column("included")?.bool()?.clone();
    Ok(ids
        .iter()
        .zip(inc.iter())
        .filter_map(|(i, b)| Some((i?.to_string(), b.unwrap_or(false))))
        .collect())
}

/// For each example row of a snapshot: whether it was made from one of `ids`.
fn example_hits(snap: &Path, ids: &BTreeSet<String>) -> Result<Vec<bool>, TakedownError> {
    let p = snap.join("examples.parquet");
    if !p.exists() {
        return Ok(Vec::new());
    }
    let df = read_parquet(&p)?;
    Ok(crate::store::columns::read_string_lists(&df, "doc_ids")?
        .into_iter()
        .map(|docs| docs.iter().any(|d| ids.contains(d)))
        .collect())
}

/// Rebuilds frozen snapshot `id` of `dir` under opt-out list `list`: its own inputs, read back
/// from the snapshot, with the list applied. Returns the new snapshot's manifest.
pub fn rebuild(
    dir: &Path,
    id: &str,
    list: &OptOutList,
    created: String,
) -> Result<freeze::SnapshotManifest, TakedownError> {
    let snap = dir.join(id);
    let m = freeze::load(dir, id)?;
    let mut documents = crate::store::read_documents(&snap.join("documents.parquet"))?;
    let docs_df = read_parquet(&snap.join("documents.parquet"))?;
    let splits: BTreeMap<String, String> = docs_df
        .column("id")?
        .str()?
        .iter()
        .zip(docs_df.column("split")?.str()?.iter())
        .filter_map(|(i, s)| Some((i?.to_string(), s?.to_string())))
        .collect();
    let mut excluded = crate::store::read_exclusions(&snap.join("excluded.parquet"))?;
    let already: BTreeSet<String> = excluded
        .iter()
        .filter(|e| e.reason == "opt_out")
        .flat_map(|e| e.document_ids.clone())
        .collect();
    let new: Vec<Exclusion> = crate::snapshot::create::opt_out_exclusions(&mut documents, list)
        .into_iter()
        .filter(|e| e.document_ids.iter().all(|d| !already.contains(d)))
        .collect();
    let removed: BTreeSet<String> = new.iter().flat_map(|e| e.document_ids.clone()).collect();
    let why: BTreeMap<String, String> = new
        .iter()
        .flat_map(|e| e.document_ids.iter().map(|d| (d.clone(), e.detail.clone())))
        .collect();
    excluded.extend(new);

    // Attribute tables, by name; the render exclusions gain one row per removed example.
    let mut attributes = Vec::new();
    let mut render_excluded = Vec::new();
    for e in fs_err::read_dir(snap.join("attributes"))?.flatten() {
        let p = e.path();
        let Some(name) = p.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if name == "render-excluded" {
            render_excluded = crate::store::read_exclusions(&p)?;
            continue;
        }
        attributes.push((name, read_parquet(&p)?));
    }
    let examples = match snap.join("examples.parquet") {
        p if p.exists() => {
            let df = read_parquet(&p)?;
            let hits = example_hits(&snap, &removed)?;
            let rows = crate::snapshot::examples::read_examples(&snap)?;
            for (row, hit) in rows.iter().zip(&hits) {
                if *hit {
                    let e = &row.example;
                    let doc = e
                        .doc_ids
                        .iter()
                        .find(|d| removed.contains(*d))
                        .expect("a hit names a removed document");
                    render_excluded.push(Exclusion {
                        stage: Stage::Snapshot,
                        step: "opt-out".into(),
                        reason: "opt_out".into(),
                        detail: format!("made from document {doc}, taken down: {}", why[doc]),
                        document_ids: e.doc_ids.clone(),
                        example_id: Some(e.id.clone()),
                        template: Some(e.template.clone()),
                        item: e.item.clone(),
                    });
                }
            }
            let keep: BooleanChunked = hits.iter().map(|h| !h).collect();
            Some(df.filter(&keep)?)
        }
        _ => None,
    };
    attributes.push((
        "render-excluded".to_string(),
        crate::store::exclusions::exclusions_frame(&render_excluded)?,
    ));
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    let policy = match fs_err::read(snap.join("policy.toml")) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let mut templates = BTreeMap::new();
    for e in fs_err::read_dir(snap.join("templates"))
        .into_iter()
        .flatten()
        .flatten()
    {
        templates.insert(
            e.file_name().to_string_lossy().into_owned(),
            fs_err::read(e.path())?,
        );
    }
    let inputs = FreezeInputs {
        documents,
        excluded,
        splits,
        attributes,
        policy,
        templates,
        examples,
        flags: m.flags.clone(),
        eval_sets: m.eval_sets.clone(),
        opt_out: OptOutRecord::of(list),
        rebuilt_from: Some(id.to_string()),
    };
    // The old snapshot's folder stays as it is: frozen snapshots are never modified.
    Ok(freeze::freeze(dir, inputs, created)?)
}
