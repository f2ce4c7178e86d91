//! Sharded, bounded-memory audits. Exact and near dedup in datatrove's shape
//! (`pipeline/dedup/minhash.py`: signatures per shard into bucket files, a merge per bucket into
//! duplicate pairs, a small global union-find, a filter per shard); the per-document audits
//! (license, secrets, density, quality) as one task per shard; contamination as a scan per shard
//! (document frequencies against the broadcast eval-set index) and a score per shard ([`docs`]).
//! Only splits is not sharded: it reads ids and the dedup cluster tables, never texts.
//!
//! A run lives in a work folder (`dataset/audit/work/<audit>/` for `vcurate audit`, any shared
//! path for `vcurate shard` and the Ray driver, [`RAY_DRIVER`]):
//!
//! ```text
//! plan.json                    the shards (each stored source in source order, cut into runs
//!                              of at most SHARD_ROWS rows), settings,
//!                              the stages and their task counts, a fingerprint of all inputs
//! <stage>/<task>.*             what one task wrote (raw little-endian arrays or Parquet)
//! <stage>/<task>.done          its completion marker, written after its outputs
//! ```
//!
//! Stages run in order; the tasks of one stage are independent (a shard, a band, a partition),
//! so any executor can run them: the local worker pool here ([`run_local`]), one process per
//! task (`vcurate shard run`), or Ray. Every output is written to a temp file and renamed into
//! place and the marker comes last, so a task killed at any point leaves no output that looks
//! finished; a rerun runs exactly the tasks without a marker. A rerun against changed inputs
//! (another ingest, other settings, other tables of the earlier audits) sees a different
//! fingerprint and starts over.
//!
//! Documents are read back from the store in batches of rows with only the columns a stage
//! needs ([`crate::store::read_rows`]); no stage holds the corpus. What stays in memory is per
//! document a few fixed-size numbers (band keys of one band, set fingerprints, ranks, union-find
//! parents) and the candidate pairs; texts and shingle sets never are all at once.
//!
//! The results equal the in-memory [`crate::audit::minhash::near_duplicates_ranked`] and
//! [`crate::audit::normalize::exact_duplicates`] (same clusters, representatives, pairs), and
//! the other audits' tables and summaries equal their in-memory jobs'; tests pin it. The one
//! difference is the dedups' row order: excluded rows come in document order, not cluster order.

mod cluster;
mod docs;
mod exact;
mod near;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::audit::minhash::NearDupConfig;
use crate::store::StoreError;
use crate::workspace::settings::NormalizeOptions;
use crate::workspace::Workspace;

/// The Ray driver (Python): schedules `vcurate shard run` tasks on a Ray cluster, one per
/// shard/band/partition, skipping finished ones and retrying failed ones.
pub const RAY_DRIVER: &str = include_str!("ray_driver.py");

/// Documents per batch read from the store.
pub const BATCH_ROWS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Polars(#[from] polars::prelude::PolarsError),
    #[error("{0}: no plan.json; run `vcurate shard plan` first")]
    NoPlan(PathBuf),
    #[error("{path}: {message}")]
    Bad { path: PathBuf, message: String },
    #[error("unknown stage `{stage}` (stages: {list})")]
    UnknownStage { stage: String, list: String },
    #[error("stage `{stage}` has {tasks} tasks, no task {task}")]
    UnknownTask {
        stage: String,
        task: usize,
        tasks: usize,
    },
    #[error("stage `{stage}` task {task} needs `{needs}` first (its marker {marker} is missing)")]
    NotReady {
        stage: String,
        task: usize,
        needs: String,
        marker: PathBuf,
    },
    #[error("`{0}` has no sharded form (sharded audits: license, secrets, density, quality, exact-dedup, near-dedup, contamination)")]
    NotSharded(String),
    #[error("no ingested documents in {0}; run `vcurate ingest` first")]
    NoDocuments(PathBuf),
    #[error(transparent)]
    Audit(#[from] Box<crate::audit::run::AuditError>),
}

fn bad(path: &Path, message: impl ToString) -> ShardError {
    ShardError::Bad {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// One shard: a run of rows of a stored source's documents table (a whole source, or a
/// slice of [`SHARD_ROWS`] rows of a large one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    pub source_id: String,
    pub documents: PathBuf,
    /// Its first row in `documents`.
    #[serde(default)]
    pub start: usize,
    pub rows: usize,
    /// Global index of its first document (documents are numbered in source order).
    pub offset: usize,
}

/// The most rows one shard holds: a source with more is split into several shards, on
/// row-group boundaries (one source often holds most of a corpus).
pub const SHARD_ROWS: usize = 32 * crate::store::DOCUMENT_ROW_GROUP;

/// Which audit a plan runs, with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "audit", rename_all = "kebab-case")]
pub enum JobSpec {
    ExactDedup {
        normalize: NormalizeOptions,
    },
    NearDedup {
        config: NearDupConfig,
        drop: bool,
    },
    /// A per-document audit (license, secrets, density, quality), run with the settings of
    /// the workspace at `workspace` (each task opens it).
    Documents {
        name: String,
        workspace: PathBuf,
    },
    /// Contamination against the eval sets registered in the workspace at `workspace`.
    Contamination {
        workspace: PathBuf,
    },
}

impl JobSpec {
    pub fn name(&self) -> &'static str {
        match self {
            JobSpec::ExactDedup { .. } => "exact-dedup",
            JobSpec::NearDedup { .. } => "near-dedup",
            JobSpec::Contamination { .. } => "contamination",
            JobSpec::Documents { name, .. } => crate::audit::jobs::by_name(name)
                .map(|j| j.name())
                .unwrap_or("unknown"),
        }
    }
}

/// A stage and how many independent tasks it has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageTasks {
    pub stage: String,
    pub tasks: usize,
}

fn stage_list(stages: &[(&str, usize)]) -> Vec<StageTasks> {
    stages
        .iter()
        .map(|&(s, n)| StageTasks {
            stage: s.into(),
            tasks: n,
        })
        .collect()
}

/// Everything a task needs, written once by [`plan`] and read by every task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub job: JobSpec,
    pub shards: Vec<Shard>,
    pub documents: usize,
    /// `dataset/audit/`: the earlier audits' tables (keeper rank) and where `finish` writes.
    pub audit_dir: PathBuf,
    /// Audits whose drops make a document a worse keeper.
    pub earlier: Vec<String>,
    /// Hash partitions of exact dedup / parts of the candidate pairs of near dedup.
    pub partitions: usize,
    pub stages: Vec<StageTasks>,
    /// Hash of the inputs: shards (generation folders and sizes), settings, earlier tables.
    pub fingerprint: String,
}

impl Plan {
    pub fn read(work: &Path) -> Result<Plan, ShardError> {
        let p = work.join("plan.json");
        let bytes = fs_err::read(&p).map_err(|_| ShardError::NoPlan(work.to_path_buf()))?;
        serde_json::from_slice(&bytes).map_err(|e| bad(&p, e))
    }

    /// The shard holding global document `g`.
    pub fn shard_of(&self, g: usize) -> usize {
        self.shards.partition_point(|s| s.offset + s.rows <= g)
    }
}

/// The shards of the store: each stored source's documents table, in source order, in runs of
/// at most `max_rows` rows (`SHARD_ROWS` for a plan).
pub fn shards(store: &Path, max_rows: usize) -> Result<Vec<Shard>, ShardError> {
    let max_rows = max_rows.max(1);
    let mut out = Vec::new();
    let mut offset = 0;
    for id in crate::store::stored_sources(store) {
        let Some(gen) = crate::store::current_dir(store, &id) else {
            continue;
        };
        let documents = gen.join("documents.parquet");
        let rows = crate::store::parquet_rows(&documents)?;
        let mut start = 0;
        while start < rows {
            let len = max_rows.min(rows - start);
            out.push(Shard {
                source_id: id.clone(),
                documents: documents.clone(),
                start,
                rows: len,
                offset,
            });
            start += len;
            offset += len;
        }
    }
    Ok(out)
}

/// The sharded form of an audit, with the workspace's settings.
pub fn job_spec(ws: &Workspace, audit: &str) -> Result<JobSpec, ShardError> {
    let cfg = &ws.config.audit;
    match audit {
        "exact-dedup" => Ok(JobSpec::ExactDedup {
            normalize: cfg.exact_dedup,
        }),
        "near-dedup" => Ok(JobSpec::NearDedup {
            config: (&cfg.near_dedup).into(),
            drop: cfg.near_dedup.drop,
        }),
        "contamination" => Ok(JobSpec::Contamination {
            workspace: ws.root.clone(),
        }),
        other => match crate::audit::jobs::by_name(other) {
            Some(j) if j.per_document() => Ok(JobSpec::Documents {
                name: j.name().to_string(),
                workspace: ws.root.clone(),
            }),
            _ => Err(ShardError::NotSharded(other.to_string())),
        },
    }
}

/// Writes `plan.json` in `work` for `audit` over the workspace's store and returns it. An
/// existing plan with the same fingerprint is kept (its finished tasks count); a different one
/// is replaced and the folder emptied.
pub fn plan(
    ws: &Workspace,
    audit: &str,
    work: &Path,
    partitions: Option<usize>,
) -> Result<Plan, ShardError> {
    plan_with(ws, audit, work, partitions, SHARD_ROWS)
}

/// [`plan`] with shards of at most `shard_rows` rows.
pub fn plan_with(
    ws: &Workspace,
    audit: &str,
    work: &Path,
    partitions: Option<usize>,
    shard_rows: usize,
) -> Result<Plan, ShardError> {
    let job = job_spec(ws, audit)?;
    let shards = shards(&ws.store_dir(), shard_rows)?;
    let documents: usize = shards.iter().map(|s| s.rows).sum();
    if documents == 0 {
        return Err(ShardError::NoDocuments(ws.store_dir()));
    }
    let earlier: Vec<String> = crate::audit::jobs::by_name(audit)
        .map(|j| j.deps().iter().map(|d| d.to_string()).collect())
        .unwrap_or_default();
    let audit_dir = crate::audit::run::audit_dir(ws);
    let partitions = partitions.unwrap_or(shards.len().clamp(4, 256));
    let stages = match &job {
        JobSpec::ExactDedup { .. } => exact::stages(shards.len(), partitions),
        JobSpec::NearDedup { config, .. } => {
            let (bands, _) = config
                .lsh_params()
                .map_err(|e| bad(&ws.root, e.to_string()))?;
            near::stages(shards.len(), bands, partitions)
        }
        JobSpec::Documents { .. } => docs::stages(shards.len()),
        JobSpec::Contamination { .. } => docs::contamination_stages(shards.len()),
    };
    // The earlier audits' tables decide keepers: their sizes and times are inputs too.
    let mut inputs = serde_json::json!({
        "job": job, "shards": shards, "partitions": partitions, "earlier": earlier,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let mut tables = Vec::new();
    for a in earlier.iter().map(String::as_str).chain(["license"]) {
        for p in [
            crate::audit::run::excluded_path(&audit_dir, a),
            audit_dir.join("attributes").join(format!("{a}.parquet")),
        ] {
            if let Ok(m) = fs_err::metadata(&p) {
                tables.push(stamp(&p, &m));
            }
        }
    }
    inputs["tables"] = tables.into();
    // The settings and files a per-document audit or contamination reads besides documents.
    if matches!(
        job,
        JobSpec::Documents { .. } | JobSpec::Contamination { .. }
    ) {
        inputs["files"] = workspace_inputs(ws).into();
    }
    let fingerprint = blake3::hash(inputs.to_string().as_bytes())
        .to_hex()
        .to_string();
    let plan = Plan {
        job,
        shards,
        documents,
        audit_dir,
        earlier,
        partitions,
        stages,
        fingerprint,
    };
    if let Ok(old) = Plan::read(work) {
        if old.fingerprint == plan.fingerprint {
            return Ok(old);
        }
    }
    if work.exists() {
        fs_err::remove_dir_all(work)?;
    }
    write_file(&work.join("plan.json"), |w| {
        serde_json::to_writer_pretty(w, &plan).map_err(std::io::Error::other)
    })?;
    Ok(plan)
}

/// A task's completion marker.
pub fn marker(work: &Path, stage: &str, task: usize) -> PathBuf {
    work.join(stage).join(format!("{task}.done"))
}

/// Runs one task of a stage unless its marker exists (or `force`); checks that the stage
/// before it has finished. Returns whether it ran.
pub fn run_task(work: &Path, stage: &str, task: usize, force: bool) -> Result<bool, ShardError> {
    let plan = Plan::read(work)?;
    run_task_of(&plan, work, stage, task, force)
}

fn run_task_of(
    plan: &Plan,
    work: &Path,
    stage: &str,
    task: usize,
    force: bool,
) -> Result<bool, ShardError> {
    let at = plan
        .stages
        .iter()
        .position(|s| s.stage == stage)
        .ok_or_else(|| ShardError::UnknownStage {
            stage: stage.into(),
            list: plan
                .stages
                .iter()
                .map(|s| s.stage.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let tasks = plan.stages[at].tasks;
    if task >= tasks {
        return Err(ShardError::UnknownTask {
            stage: stage.into(),
            task,
            tasks,
        });
    }
    let done = marker(work, stage, task);
    if !force && done.exists() {
        return Ok(false);
    }
    if let Some(prev) = at.checked_sub(1).map(|i| &plan.stages[i]) {
        for t in 0..prev.tasks {
            let m = marker(work, &prev.stage, t);
            if !m.exists() {
                return Err(ShardError::NotReady {
                    stage: stage.into(),
                    task,
                    needs: prev.stage.clone(),
                    marker: m,
                });
            }
        }
    }
    let ctx = TaskCtx { plan, work, task };
    match &plan.job {
        JobSpec::ExactDedup { normalize } => exact::run(&ctx, stage, normalize)?,
        JobSpec::NearDedup { config, drop } => near::run(&ctx, stage, config, *drop)?,
        JobSpec::Documents { name, workspace } => docs::run(&ctx, name, workspace)?,
        JobSpec::Contamination { workspace } => docs::run_contamination(&ctx, stage, workspace)?,
    }
    crate::core::fs::write_atomic(&done, b"")?;
    Ok(true)
}

/// What a task sees.
pub(crate) struct TaskCtx<'a> {
    pub plan: &'a Plan,
    pub work: &'a Path,
    pub task: usize,
}

impl TaskCtx<'_> {
    /// `<work>/<stage>/<name>`.
    pub fn path(&self, stage: &str, name: impl std::fmt::Display) -> PathBuf {
        self.work.join(stage).join(name.to_string())
    }

    /// Test hook for the kill/resume tests: `VCURATE_SHARD_PAUSE=<stage>` makes every task of
    /// that stage write `<work>/<stage>/paused` and sleep (a test kills the process then);
    /// `VCURATE_SHARD_ABORT=<stage>` aborts the process there (no cleanup, like `kill -9`).
    pub fn crash_point(&self, stage: &str) {
        if std::env::var("VCURATE_SHARD_PAUSE").is_ok_and(|s| s == stage) {
            let _ = crate::core::fs::write_atomic(&self.path(stage, "paused"), b"");
            std::thread::sleep(std::time::Duration::from_secs(600));
        }
        if std::env::var("VCURATE_SHARD_ABORT").is_ok_and(|s| s == stage) {
            std::process::abort();
        }
    }
}

/// Streams the rows of a shard in batches: `f(first_local_row, batch)`.
pub(crate) fn for_each_batch(
    shard: &Shard,
    columns: &[&str],
    mut f: impl FnMut(usize, &polars::prelude::DataFrame) -> Result<(), ShardError>,
) -> Result<(), ShardError> {
    let mut at = 0;
    while at < shard.rows {
        let len = BATCH_ROWS.min(shard.rows - at);
        let df = crate::store::read_rows(&shard.documents, columns, shard.start + at, len)?;
        f(at, &df)?;
        at += len;
    }
    Ok(())
}

/// The columns a batch needs for [`audit_texts`].
pub(crate) const TEXT_COLUMNS: [&str; 2] = ["text", "unit_kind"];

/// The texts the audits read of a batch read with [`TEXT_COLUMNS`]: a chat row as its turns
/// and tool arguments, as the in-memory jobs read it (`audit::jobs::audit_text`).
pub(crate) fn audit_texts(
    df: &polars::prelude::DataFrame,
) -> Result<Vec<std::borrow::Cow<'_, str>>, ShardError> {
    let chat = crate::core::UnitKind::ChatExample.as_str();
    Ok(strings(df, "text")?
        .into_iter()
        .zip(strings(df, "unit_kind")?)
        .map(|(t, k)| crate::audit::jobs::audit_text_of(k == chat, t))
        .collect())
}

/// The strings of a column of a batch (nulls as empty strings).
pub(crate) fn strings<'a>(
    df: &'a polars::prelude::DataFrame,
    name: &str,
) -> Result<Vec<&'a str>, ShardError> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or(""))
        .collect())
}

/// Writes a file through a temp file in its folder and a rename (never a torn file).
pub(crate) fn write_file(
    path: &Path,
    f: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().expect("a work file has a folder");
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        f(&mut w)?;
        w.flush()?;
    }
    crate::core::fs::publish_mode(tmp.as_file())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Fixed-size little-endian values in the work files.
pub(crate) trait Raw: Copy {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

macro_rules! raw {
    ($($t:ty),*) => {$(
        impl Raw for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("sized"))
            }
        }
    )*};
}
raw!(u8, u32, u64, f64);

pub(crate) fn write_raw<T: Raw>(path: &Path, values: &[T]) -> std::io::Result<()> {
    write_file(path, |w| {
        let mut buf = Vec::with_capacity(1 << 16);
        for chunk in values.chunks(8192) {
            buf.clear();
            for &v in chunk {
                v.put(&mut buf);
            }
            w.write_all(&buf)?;
        }
        Ok(())
    })
}

pub(crate) fn read_raw<T: Raw>(path: &Path) -> Result<Vec<T>, ShardError> {
    let bytes = fs_err::read(path)?;
    if bytes.len() % T::SIZE != 0 {
        return Err(bad(path, "truncated work file; rerun with --force"));
    }
    Ok(bytes.chunks_exact(T::SIZE).map(T::get).collect())
}

/// Reads `len` values at value index `at` of a raw file.
pub(crate) fn read_raw_at<T: Raw>(
    file: &std::fs::File,
    at: u64,
    len: usize,
    buf: &mut Vec<u8>,
    out: &mut Vec<T>,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    buf.resize(len * T::SIZE, 0);
    file.read_exact_at(buf, at * T::SIZE as u64)?;
    out.clear();
    out.extend(buf.chunks_exact(T::SIZE).map(T::get));
    Ok(())
}

/// A set of global document indices, one bit each.
pub(crate) struct Bits(pub Vec<u8>);

impl Bits {
    pub fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(8)])
    }
    pub fn set(&mut self, i: usize) {
        self.0[i / 8] |= 1 << (i % 8);
    }
    pub fn get(&self, i: usize) -> bool {
        self.0[i / 8] & (1 << (i % 8)) != 0
    }
}

/// Runs every unfinished task of every stage with `workers` threads, stage after stage, then
/// [`finish`]. `on_task(stage, task, ran)` is told about each task.
pub fn run_local(
    work: &Path,
    workers: usize,
    on_task: &(dyn Fn(&str, usize, bool) + Sync),
) -> Result<FinishReport, ShardError> {
    let plan = Plan::read(work)?;
    for st in &plan.stages {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<ShardError>> = Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..workers.max(1).min(st.tasks) {
                s.spawn(|| loop {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let t = next.fetch_add(1, Ordering::Relaxed);
                    if t >= st.tasks {
                        return;
                    }
                    match run_task_of(&plan, work, &st.stage, t, false) {
                        Ok(ran) => on_task(&st.stage, t, ran),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            first_error.lock().expect("lock").get_or_insert(e);
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().expect("lock") {
            return Err(e);
        }
    }
    finish(work)
}

/// What [`finish`] wrote.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FinishReport {
    pub audit: String,
    pub documents: usize,
    pub excluded: usize,
    /// Excluded rows per reason.
    pub excluded_by_reason: std::collections::BTreeMap<String, usize>,
    pub summary: serde_json::Value,
}

/// Writes the audit's tables (`attributes/<audit>.parquet`, `excluded/<audit>.parquet`,
/// `summary/<audit>.json` under the plan's audit folder) from the finished filter stage.
pub fn finish(work: &Path) -> Result<FinishReport, ShardError> {
    let plan = Plan::read(work)?;
    let last = plan.stages.last().expect("a plan has stages");
    for t in 0..last.tasks {
        let m = marker(work, &last.stage, t);
        if !m.exists() {
            return Err(ShardError::NotReady {
                stage: "finish".into(),
                task: 0,
                needs: last.stage.clone(),
                marker: m,
            });
        }
    }
    match plan.job {
        JobSpec::ExactDedup { .. } | JobSpec::NearDedup { .. } => {
            cluster::finish(&plan, work, &last.stage)
        }
        JobSpec::Documents { .. } | JobSpec::Contamination { .. } => docs::finish(&plan, work),
    }
}

/// Size and modification time of every file a non-dedup audit reads besides the documents:
/// the workspace config, the license policy, the source manifests, the stored license
/// evidence and the registered eval sets.
fn workspace_inputs(ws: &Workspace) -> Vec<serde_json::Value> {
    let mut roots = vec![
        ws.root.join("vcurate.toml"),
        ws.root.join("licenses"),
        ws.root.join("sources"),
    ];
    roots.extend(crate::store::table_paths(&ws.store_dir(), "evidence"));
    roots.extend(ws.config.eval_sets.iter().map(|s| ws.root.join(&s.path)));
    let mut out = Vec::new();
    while let Some(p) = roots.pop() {
        let Ok(m) = std::fs::metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                let mut more: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                more.sort();
                more.reverse();
                roots.extend(more);
            }
            continue;
        }
        out.push(stamp(&p, &m));
    }
    out
}

/// A file as a plan's input: its path, size and modification time.
fn stamp(p: &Path, m: &std::fs::Metadata) -> serde_json::Value {
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos());
    serde_json::json!([p, m.len(), mtime])
}

/// `vcurate audit`'s way to run a sharded audit: plan in `dataset/audit/work/<audit>/`, run
/// the missing tasks with `workers` threads, write the tables, remove the work folder.
pub fn run_audit(ws: &Workspace, audit: &str, workers: usize) -> Result<FinishReport, ShardError> {
    let work = crate::audit::run::audit_dir(ws).join("work").join(audit);
    plan(ws, audit, &work, None)?;
    let report = run_local(&work, workers, &|_, _, _| {})?;
    fs_err::remove_dir_all(&work)?;
    // The parent goes too once no other audit's run is in it.
    let _ = std::fs::remove_dir(work.parent().expect("work has a parent"));
    Ok(report)
}

#[cfg(test)]
mod tests;
