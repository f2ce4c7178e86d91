//! Source ingesters: manifests, git, docs, local folders, jsonl datasets, Luau analysis.
//!
//! `run` turns declared sources into documents with complete provenance and accounts for every
//! path: each one becomes a document or a skip record with its reason. Resolution (manifests,
//! URLs, revs) happens for all selected sources before anything is written, so a bad manifest,
//! an unreachable URL or an unknown rev writes nothing. Each source is then written as one
//! atomic generation of the store; an unchanged source (same commit, manifest and tool version)
//! is a no-op. A source the opt-out list (`licenses/opt-out.toml`) names whole (its owner, the
//! repository, or the source id) is not fetched at all: it is reported as opted out and its
//! stored documents are removed; its `sources.lock` entry stays, so `--locked` still holds.

pub mod docs;
pub mod evidence;
pub mod git;
pub mod jsonl;
pub mod local;
pub mod lock;
pub mod manifest;
pub mod status;
pub mod units;

pub use status::{status, SourceStatus};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::core::{SkipReason, SkipRecord, SourceKind};
use crate::store::{EvidenceFile, SourceState, SourceTables};
use crate::workspace::{ConfigError, Workspace};
use manifest::{Location, Source};
use units::{PathFilter, UnitContext};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("source `{id}`: {source}")]
    Git { id: String, source: git::GitError },
    #[error(transparent)]
    GitSetup(git::GitError),
    #[error("unknown source `{0}` (known: {1}); sources are the *.toml files in sources/")]
    UnknownSource(String, String),
    #[error("sources.lock needs updating ({0}) but --locked was given; run without --locked to update it")]
    LockChanged(String),
    #[error("source `{id}`: {path}: {message}")]
    Read {
        id: String,
        path: PathBuf,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How to run an ingest.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Only these source ids (all when empty).
    pub only: Vec<String>,
    /// Refuse to change sources.lock.
    pub locked: bool,
    /// Re-resolve every rev instead of using locked commits.
    pub update: bool,
    /// Re-ingest even unchanged sources.
    pub force: bool,
    /// RFC 3339 time recorded in provenance (None: now, or SOURCE_DATE_EPOCH).
    pub ingest_time: Option<String>,
}

/// Progress events for whoever draws progress (the CLI draws bars on stderr).
pub enum Progress<'a> {
    Resolving { id: &'a str, message: String },
    Start { id: &'a str, files: u64 },
    Advance { id: &'a str, n: u64 },
    Finish { id: &'a str },
}

/// What happened to one source.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SourceReport {
    pub id: String,
    pub kind: String,
    pub commit: Option<String>,
    /// `ingested` or `unchanged`.
    pub status: String,
    pub documents: u64,
    pub skipped: BTreeMap<String, u64>,
    pub parse_failures: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// What an ingest did (`vcurate ingest --json`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IngestReport {
    pub sources: Vec<SourceReport>,
    /// Sources removed from the store because their manifest is gone.
    pub removed: Vec<String>,
    /// Sources not fetched because the opt-out list names them.
    pub opted_out: Vec<OptedOut>,
}

/// A declared source the opt-out list leaves out.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OptedOut {
    pub id: String,
    pub url: String,
    /// The entry: what it names, why, when.
    pub entry: String,
    pub reason: String,
    pub date: String,
    /// Whether documents of an earlier ingest were removed from the store.
    pub removed_documents: bool,
}

/// The time recorded in provenance: SOURCE_DATE_EPOCH when set, else now.
pub fn default_ingest_time() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_else(chrono::Utc::now);
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A source whose location is resolved and ready to read.
enum Ready {
    Git {
        source: Source,
        resolved: git::Resolved,
    },
    Path {
        source: Source,
    },
}

/// Loads the selected sources of a workspace.
pub fn load_sources(ws: &Workspace, only: &[String]) -> Result<Vec<Source>, IngestError> {
    let all = manifest::load_dir(&ws.sources_dir(), &ws.root)?;
    for id in only {
        if !all.iter().any(|s| &s.id == id) {
            let known: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
            return Err(IngestError::UnknownSource(id.clone(), known.join(", ")));
        }
    }
    Ok(all
        .into_iter()
        .filter(|s| only.is_empty() || only.contains(&s.id))
        .collect())
}

/// Runs an ingest of a workspace's sources.
pub fn run(
    ws: &Workspace,
    opts: &IngestOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<IngestReport, IngestError> {
    let sources = load_sources(ws, &opts.only)?;
    tracing::debug!(sources = sources.len(), root = %ws.root.display(), "ingest");
    let opt_out = crate::core::opt_out::OptOutList::load(&ws.root)?;
    let mut opted_out = Vec::new();
    let mut sources_in = Vec::new();
    for s in sources {
        match opt_out.source_entry(&s.id, &s.declared_location()) {
            Some(e) => opted_out.push(OptedOut {
                id: s.id.clone(),
                url: s.declared_location(),
                entry: e.describe(),
                reason: e.reason.clone(),
                date: e.date.clone(),
                removed_documents: false,
            }),
            None => sources_in.push(s),
        }
    }
    let sources = sources_in;
    let env_rewrite = std::env::var("VCURATE_GIT_REWRITE").ok();
    let rewrites = git::Rewrites::new(&ws.config.git.rewrite, env_rewrite.as_deref(), &ws.root)
        .map_err(IngestError::GitSetup)?;
    let lock_path = ws.lock_path();
    let old_lock = lock::Lock::read(&lock_path)?;
    let mut new_lock = old_lock.clone();

    // Phase 1: resolve everything; nothing is written if any source fails.
    let mut ready = Vec::new();
    for source in sources {
        match &source.location {
            Location::Git { url, rev } => {
                let locked = if opts.update {
                    None
                } else {
                    old_lock.commit_for(&source.id, url, rev).map(String::from)
                };
                let effective = rewrites.apply(url);
                progress(Progress::Resolving {
                    id: &source.id,
                    message: format!("resolving {rev}"),
                });
                let mut on_fetch = |m: String| {
                    progress(Progress::Resolving {
                        id: &source.id,
                        message: m,
                    })
                };
                let resolved = git::resolve(
                    &effective,
                    rev,
                    locked.as_deref(),
                    &ws.git_cache_dir(),
                    &mut on_fetch,
                )
                .map_err(|e| IngestError::Git {
                    id: source.id.clone(),
                    source: e,
                })?;
                new_lock.sources.insert(
                    source.id.clone(),
                    lock::LockedSource {
                        id: source.id.clone(),
                        url: url.clone(),
                        rev: rev.clone(),
                        commit: resolved.commit.to_string(),
                    },
                );
                ready.push(Ready::Git { source, resolved });
            }
            Location::Path(p) => {
                if !p.exists() {
                    return Err(IngestError::Read {
                        id: source.id.clone(),
                        path: p.clone(),
                        message: "does not exist; fix `path` in the manifest".into(),
                    });
                }
                ready.push(Ready::Path { source });
            }
        }
    }
    // A full ingest also forgets sources whose manifests were removed.
    let removed: Vec<String> = if opts.only.is_empty() {
        let declared: Vec<String> = ready
            .iter()
            .map(|r| ready_source(r).id.clone())
            .chain(opted_out.iter().map(|o| o.id.clone()))
            .collect();
        new_lock.sources.retain(|id, _| declared.contains(id));
        crate::store::stored_sources(&ws.store_dir())
            .into_iter()
            .filter(|id| !declared.contains(id))
            .collect()
    } else {
        Vec::new()
    };
    if new_lock != old_lock {
        if opts.locked {
            return Err(IngestError::LockChanged(lock_diff(&old_lock, &new_lock)));
        }
        new_lock.write(&lock_path)?;
    }
    for id in &removed {
        crate::store::remove_source(&ws.store_dir(), id)?;
    }
    for o in &mut opted_out {
        o.removed_documents = crate::store::current_dir(&ws.store_dir(), &o.id).is_some();
        crate::store::remove_source(&ws.store_dir(), &o.id)?;
    }

    // Phase 2: ingest each source that changed.
    let ingest_time = opts.ingest_time.clone().unwrap_or_else(default_ingest_time);
    let mut reports = Vec::new();
    for r in &ready {
        let source = ready_source(r);
        let commit = match r {
            Ready::Git { resolved, .. } => Some(resolved.commit.to_string()),
            Ready::Path { .. } => None,
        };
        let started = Instant::now();
        let prev = crate::store::read_state(&ws.store_dir(), &source.id);
        // Local folders and files have no commit: they are always re-read.
        let unchanged = !opts.force
            && commit.is_some()
            && prev.as_ref().is_some_and(|p| {
                p.commit == commit
                    && p.manifest_hash == source.manifest_hash
                    && p.tool_version == crate::TOOL_VERSION
            });
        if unchanged {
            let p = prev.expect("checked");
            let skipped = crate::store::current_dir(&ws.store_dir(), &source.id)
                .map(|g| crate::store::read_skipped(&g.join("skipped.parquet")))
                .transpose()?
                .unwrap_or_default();
            reports.push(report(
                source,
                commit,
                "unchanged",
                p.documents,
                &skipped,
                p.parse_failures,
                0,
                started,
            ));
            continue;
        }
        let ctx = UnitContext {
            source,
            url: source.declared_location(),
            commit: commit.clone(),
            ingest_time: ingest_time.clone(),
        };
        let max = ws.config.ingest.max_file_bytes;
        // Every kind streams its documents into the store as it makes them.
        let mut out = crate::store::SourceWriter::new(&ws.store_dir(), &source.id)?;
        let tables = match r {
            Ready::Git { resolved, .. } => ingest_git(&ctx, resolved, max, &mut out, progress)?,
            Ready::Path { .. } if source.kind == SourceKind::Jsonl => {
                jsonl::ingest(&ctx, &mut out, progress)?
            }
            Ready::Path { .. } => local::ingest(&ctx, max, &mut out, progress)?,
        };
        let (parse_failures, bytes) = (out.parse_failures, out.bytes);
        let state = SourceState {
            source_id: source.id.clone(),
            kind: source.kind.as_str().into(),
            url: ctx.url.clone(),
            commit: commit.clone(),
            manifest_hash: source.manifest_hash.clone(),
            tool_version: crate::TOOL_VERSION.into(),
            documents: out.documents,
            skipped: tables.skipped.len() as u64,
            parse_failures,
        };
        out.finish(&state, &tables.skipped, &tables.evidence)?;
        progress(Progress::Finish { id: &source.id });
        reports.push(report(
            source,
            commit,
            "ingested",
            state.documents,
            &tables.skipped,
            parse_failures,
            bytes,
            started,
        ));
    }
    Ok(IngestReport {
        sources: reports,
        removed,
        opted_out,
    })
}

fn ready_source(r: &Ready) -> &Source {
    match r {
        Ready::Git { source, .. } | Ready::Path { source } => source,
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    source: &Source,
    commit: Option<String>,
    status: &str,
    documents: u64,
    skipped: &[SkipRecord],
    parse_failures: u64,
    bytes: u64,
    started: Instant,
) -> SourceReport {
    let mut by_reason = BTreeMap::new();
    for s in skipped {
        *by_reason.entry(s.reason.as_str().to_string()).or_insert(0) += 1;
    }
    SourceReport {
        id: source.id.clone(),
        kind: source.kind.as_str().into(),
        commit,
        status: status.into(),
        documents,
        skipped: by_reason,
        parse_failures,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn lock_diff(old: &lock::Lock, new: &lock::Lock) -> String {
    let mut parts = Vec::new();
    for (id, n) in &new.sources {
        match old.sources.get(id) {
            None => parts.push(format!("`{id}` is not locked")),
            Some(o) if o != n => parts.push(format!(
                "`{id}` would move from {} to {}",
                short(&o.commit),
                short(&n.commit)
            )),
            _ => {}
        }
    }
    for id in old
        .sources
        .keys()
        .filter(|id| !new.sources.contains_key(*id))
    {
        parts.push(format!("`{id}` is no longer declared"));
    }
    parts.join("; ")
}

fn short(c: &str) -> &str {
    &c[..c.len().min(12)]
}

fn skip(
    source: &Source,
    path: &str,
    reason: SkipReason,
    detail: String,
    blob_id: Option<String>,
    bytes: Option<u64>,
) -> SkipRecord {
    SkipRecord {
        source_id: source.id.clone(),
        path: path.to_string(),
        reason,
        detail,
        blob_id,
        bytes,
    }
}

/// A file whose bytes were read, waiting to become documents.
pub(crate) struct Pending {
    pub path: String,
    pub blob_id: Option<String>,
    pub bytes: Vec<u8>,
}

/// Files read at a time: decoded and split in parallel, their documents handed to the store's
/// writer before more files are read, so a source of any size needs memory for this many files.
const FILES_PER_CHUNK: usize = 4096;

/// Read files on their way to the store, [`FILES_PER_CHUNK`] at a time (path order kept).
/// Shared by git and local folders.
pub(crate) struct FileChunks<'a> {
    ctx: &'a UnitContext<'a>,
    /// The whole tree's license evidence, read before any file.
    evidence: &'a [EvidenceFile],
    max: u64,
    out: &'a mut crate::store::SourceWriter,
    progress: &'a (dyn Fn(Progress) + Sync),
    pending: Vec<Pending>,
}

impl<'a> FileChunks<'a> {
    pub(crate) fn new(
        ctx: &'a UnitContext<'a>,
        evidence: &'a [EvidenceFile],
        max: u64,
        out: &'a mut crate::store::SourceWriter,
        progress: &'a (dyn Fn(Progress) + Sync),
    ) -> Self {
        FileChunks {
            ctx,
            evidence,
            max,
            out,
            progress,
            pending: Vec::new(),
        }
    }

    /// Queues a file; a full chunk goes to the store (files that make no document to
    /// `skipped`).
    pub(crate) fn push(
        &mut self,
        file: Pending,
        skipped: &mut Vec<SkipRecord>,
    ) -> Result<(), IngestError> {
        self.pending.push(file);
        if self.pending.len() == FILES_PER_CHUNK {
            self.flush(skipped)?;
        }
        Ok(())
    }

    /// The last, partial chunk.
    pub(crate) fn finish(mut self, skipped: &mut Vec<SkipRecord>) -> Result<(), IngestError> {
        self.flush(skipped)
    }

    fn flush(&mut self, skipped: &mut Vec<SkipRecord>) -> Result<(), IngestError> {
        let (ctx, evidence, max, progress) = (self.ctx, self.evidence, self.max, self.progress);
        let results: Vec<_> = std::mem::take(&mut self.pending)
            .into_par_iter()
            .map(|p| {
                let out = units::decode(&p.bytes, max).and_then(|dec| {
                    let cands = evidence::tree_candidates(&p.path, evidence);
                    units::file_documents(ctx, &p.path, p.blob_id.clone(), dec, cands)
                });
                progress(Progress::Advance {
                    id: &ctx.source.id,
                    n: 1,
                });
                (p, out)
            })
            .collect();
        for (p, out) in results {
            match out {
                Ok(docs) => self.out.write_documents(&docs)?,
                Err((reason, detail)) => skipped.push(skip(
                    ctx.source,
                    &p.path,
                    reason,
                    detail,
                    p.blob_id,
                    Some(p.bytes.len() as u64),
                )),
            }
        }
        Ok(())
    }
}

/// Reads a git tree at the resolved commit and turns it into tables.
fn ingest_git(
    ctx: &UnitContext,
    resolved: &git::Resolved,
    max: u64,
    out: &mut crate::store::SourceWriter,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<SourceTables, IngestError> {
    let source = ctx.source;
    let repo = &resolved.repo;
    let git_err = |e| IngestError::Git {
        id: source.id.clone(),
        source: e,
    };
    let entries = git::list_tree(repo, resolved.commit, source.subdir.as_deref(), &ctx.url)
        .map_err(git_err)?;
    progress(Progress::Start {
        id: &source.id,
        files: entries.len() as u64,
    });
    let filter = PathFilter::new(source);
    let mut tables = SourceTables::default();
    let read = |oid: git2::Oid| repo.find_blob(oid).map(|b| b.content().to_vec());
    for e in entries
        .iter()
        .filter(|e| e.kind == git::EntryKind::Blob && evidence::evidence_kind(&e.path).is_some())
    {
        if let Ok(bytes) = read(e.oid) {
            if let Ok(dec) = units::decode(&bytes, max) {
                tables.evidence.push(EvidenceFile {
                    source_id: source.id.clone(),
                    path: e.path.clone(),
                    blob_id: Some(e.oid.to_string()),
                    text: dec.text,
                });
            }
        }
    }
    let evidence = tables.evidence.clone();
    let mut files = FileChunks::new(ctx, &evidence, max, out, progress);
    for e in &entries {
        let blob_id = Some(e.oid.to_string());
        let record = |reason, detail| skip(source, &e.path, reason, detail, blob_id.clone(), None);
        match e.kind {
            git::EntryKind::Submodule => tables.skipped.push(record(
                SkipReason::Submodule,
                format!("submodule (gitlink) at commit {}", e.oid),
            )),
            git::EntryKind::Symlink => {
                let target = read(e.oid)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                tables.skipped.push(record(
                    SkipReason::Symlink,
                    format!("symlink to `{target}`"),
                ));
            }
            git::EntryKind::Blob => match filter.excluded(&e.path) {
                Some(why) => tables.skipped.push(record(SkipReason::Excluded, why)),
                None => match read(e.oid) {
                    Ok(bytes) => {
                        // Counted when processed.
                        let file = Pending {
                            path: e.path.clone(),
                            blob_id,
                            bytes,
                        };
                        files.push(file, &mut tables.skipped)?;
                        continue;
                    }
                    Err(err) => tables.skipped.push(record(
                        SkipReason::MissingObject,
                        format!(
                            "blob {} is missing from the object store: {}",
                            e.oid,
                            err.message()
                        ),
                    )),
                },
            },
        }
        progress(Progress::Advance {
            id: &source.id,
            n: 1,
        });
    }
    files.finish(&mut tables.skipped)?;
    tables.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(tables)
}

/// The path of a file relative to a root, with `/` separators.
pub(crate) fn rel_path(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
