//! The per-document audits (license, secrets, density, quality: [`AuditJob::per_document`])
//! and contamination as sharded stages. A per-document audit is one stage, one task per shard:
//! the task streams its shard's documents in batches of [`super::BATCH_ROWS`], runs the audit's
//! own job on each batch and writes the shard's attribute and excluded rows; `finish`
//! concatenates them in shard order (document order, as the in-memory run writes them) and
//! computes the summary from the whole attribute table with [`AuditJob::summarize`].
//!
//! Contamination needs the corpus' document frequencies (its idioms) before it can score a
//! document, so it has two stages: `contamination-scan` counts per shard in how many documents
//! each key of the eval-set index occurs, `contamination-score` sums those counts, derives the
//! idioms of the whole corpus and scores its shard. The index is small (eval sets are) and is
//! built from the eval sets in each process once, the broadcast of datatrove's decontamination.

use std::path::Path;
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::cluster::publish;
use super::near::{read_json, write_json};
use super::{read_raw, write_raw, Plan, ShardError, StageTasks, TaskCtx, BATCH_ROWS};
use crate::audit::contamination::{ContaminationIndex, CorpusStats, IndexStats};
use crate::audit::jobs::contamination::TaskDocuments;
use crate::audit::jobs::{by_name, AuditContext, AuditJob, RunCache};
use crate::core::Document;
use crate::workspace::Workspace;

pub(super) const DOCS: &str = "docs";
pub(super) const SCAN: &str = "contamination-scan";
pub(super) const SCORE: &str = "contamination-score";

pub(super) fn stages(shards: usize) -> Vec<StageTasks> {
    super::stage_list(&[(DOCS, shards)])
}

pub(super) fn contamination_stages(shards: usize) -> Vec<StageTasks> {
    super::stage_list(&[(SCAN, shards), (SCORE, shards)])
}

fn job(audit: &str) -> Result<&'static dyn AuditJob, ShardError> {
    by_name(audit)
        .filter(|j| j.per_document())
        .ok_or_else(|| ShardError::NotSharded(audit.to_string()))
}

fn open(root: &Path) -> Result<Workspace, ShardError> {
    Workspace::open(root).map_err(|e| super::bad(root, e))
}

fn audit_err(e: crate::audit::run::AuditError) -> ShardError {
    ShardError::Audit(Box::new(e))
}

/// Streams the documents of the task's shard in batches: `f(batch)`.
fn for_each_documents(
    ctx: &TaskCtx,
    mut f: impl FnMut(&[Document]) -> Result<(), ShardError>,
) -> Result<(), ShardError> {
    let shard = &ctx.plan.shards[ctx.task];
    let mut at = 0;
    while at < shard.rows {
        let len = BATCH_ROWS.min(shard.rows - at);
        let docs = crate::store::read_document_rows(&shard.documents, shard.start + at, len)?;
        f(&docs)?;
        at += len;
    }
    Ok(())
}

/// Runs the audit's job over each batch of the shard; writes `docs/<task>.attributes.parquet`
/// and `docs/<task>.excluded.parquet`.
pub(super) fn run(ctx: &TaskCtx, audit: &str, root: &Path) -> Result<(), ShardError> {
    let job = job(audit)?;
    let ws = open(root)?;
    let mut attributes: Option<DataFrame> = None;
    let mut excluded = Vec::new();
    let cache = RunCache::default();
    for_each_documents(ctx, |docs| {
        let texts: Vec<_> = docs.iter().map(crate::audit::jobs::audit_text).collect();
        let out = job
            .run(&AuditContext::new(&ws, docs, &texts).with_cache(&cache))
            .map_err(audit_err)?;
        match &mut attributes {
            None => attributes = Some(out.attributes),
            Some(a) => {
                a.vstack_mut(&out.attributes)?;
            }
        }
        excluded.extend(out.excluded);
        ctx.crash_point(DOCS);
        Ok(())
    })?;
    write_tables(ctx, DOCS, attributes, &excluded)
}

fn write_tables(
    ctx: &TaskCtx,
    stage: &str,
    attributes: Option<DataFrame>,
    excluded: &[crate::core::Exclusion],
) -> Result<(), ShardError> {
    let attributes = attributes.expect("a shard has documents");
    crate::store::write_parquet(
        &ctx.path(stage, format!("{}.attributes.parquet", ctx.task)),
        Ok(attributes),
    )?;
    crate::store::write_exclusions(
        &ctx.path(stage, format!("{}.excluded.parquet", ctx.task)),
        excluded,
    )?;
    Ok(())
}

/// The contamination index of the plan's workspace, built once per process and plan.
fn index(plan: &Plan, ws: &Workspace) -> Result<Arc<ContaminationIndex>, ShardError> {
    static BUILT: Mutex<Option<(String, Arc<ContaminationIndex>)>> = Mutex::new(None);
    let mut built = BUILT.lock().expect("index lock");
    if let Some((fp, index)) = built.as_ref() {
        if *fp == plan.fingerprint {
            return Ok(index.clone());
        }
    }
    let tasks = crate::audit::jobs::contamination::load_eval_tasks(ws).map_err(audit_err)?;
    let index = Arc::new(
        ContaminationIndex::build(&tasks, &ws.config.audit.contamination)
            .map_err(|e| audit_err(crate::audit::jobs::failed("contamination", e)))?,
    );
    *built = Some((plan.fingerprint.clone(), index.clone()));
    Ok(index)
}

/// The texts contamination scans of a batch.
fn scan_texts(docs: &[Document]) -> Vec<std::borrow::Cow<'_, str>> {
    docs.iter()
        .map(crate::audit::contamination::document_text)
        .collect()
}

/// What one score task adds to the summary.
#[derive(Serialize, Deserialize)]
struct ScorePart {
    eval_tasks: usize,
    index: IndexStats,
    corpus: CorpusStats,
    per_task: Vec<TaskDocuments>,
}

pub(super) fn run_contamination(ctx: &TaskCtx, stage: &str, root: &Path) -> Result<(), ShardError> {
    let ws = open(root)?;
    let index = index(ctx.plan, &ws)?;
    if stage == SCAN {
        // Per key, the documents of this shard it occurs in.
        let mut df: Vec<u32> = Vec::new();
        for_each_documents(ctx, |docs| {
            let texts = scan_texts(docs);
            let texts: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
            let scan = index.scan_many(&texts);
            if df.is_empty() {
                df = scan.df().to_vec();
            } else {
                df.iter_mut().zip(scan.df()).for_each(|(a, b)| *a += b);
            }
            ctx.crash_point(SCAN);
            Ok(())
        })?;
        return Ok(write_raw(&ctx.path(SCAN, format!("{}.df", ctx.task)), &df)?);
    }
    let mut df: Vec<u32> = Vec::new();
    for t in 0..ctx.plan.shards.len() {
        let path = ctx.path(SCAN, format!("{t}.df"));
        let part: Vec<u32> = read_raw(&path)?;
        if t == 0 {
            df = part;
        } else if part.len() == df.len() {
            df.iter_mut().zip(part).for_each(|(a, b)| *a += b);
        } else {
            return Err(super::bad(
                &path,
                "counts for another index than shard 0's; rerun the scan with --force",
            ));
        }
    }
    let idioms = index.idioms_of(&df, ctx.plan.documents);
    let mut attributes: Option<DataFrame> = None;
    let mut excluded = Vec::new();
    let mut corpus = idioms.stats().clone();
    let mut per_task: Vec<TaskDocuments> = Vec::new();
    for_each_documents(ctx, |docs| {
        let texts = scan_texts(docs);
        let texts: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let assessed = index.score(&texts, &index.scan_many(&texts), &idioms);
        corpus.pairs_matched += assessed.corpus.pairs_matched;
        corpus.pairs_flagged += assessed.corpus.pairs_flagged;
        let out = crate::audit::jobs::contamination::outputs(&index, docs, &assessed.hits)
            .map_err(audit_err)?;
        let frame = crate::audit::jobs::attribute_frame(docs, out.columns)?;
        match &mut attributes {
            None => attributes = Some(frame),
            Some(a) => {
                a.vstack_mut(&frame)?;
            }
        }
        excluded.extend(out.excluded);
        if per_task.is_empty() {
            per_task = out.per_task;
        } else {
            for (all, more) in per_task.iter_mut().zip(out.per_task) {
                all.documents.extend(more.documents);
            }
        }
        ctx.crash_point(SCORE);
        Ok(())
    })?;
    write_json(
        &ctx.path(SCORE, format!("{}.summary.json", ctx.task)),
        &ScorePart {
            eval_tasks: index.tasks(),
            index: index.stats().clone(),
            corpus,
            per_task,
        },
    )?;
    write_tables(ctx, SCORE, attributes, &excluded)
}

/// Writes the audit's tables from the last stage's per-shard tables, and its summary.
pub(super) fn finish(plan: &Plan, work: &Path) -> Result<super::FinishReport, ShardError> {
    let stage = &plan.stages.last().expect("stages").stage;
    publish(plan, work, stage, |attributes, excluded| match &plan.job {
        super::JobSpec::Documents { name, workspace } => {
            let job = job(name)?;
            let ws = open(workspace)?;
            let rows = crate::store::parquet_rows(attributes)?;
            let df = crate::store::read_rows(attributes, job.summary_columns(), 0, rows)?;
            job.summarize(&ws.config.audit, &df).map_err(audit_err)
        }
        _ => {
            let part = |s: usize| {
                read_json::<ScorePart>(&work.join(stage).join(format!("{s}.summary.json")))
            };
            let mut all = part(0)?;
            for s in 1..plan.shards.len() {
                let p = part(s)?;
                all.corpus.pairs_matched += p.corpus.pairs_matched;
                all.corpus.pairs_flagged += p.corpus.pairs_flagged;
                for (a, more) in all.per_task.iter_mut().zip(p.per_task) {
                    a.documents.extend(more.documents);
                }
            }
            Ok(crate::audit::jobs::contamination::summary(
                all.eval_tasks,
                all.per_task,
                excluded,
                all.index,
                all.corpus,
            ))
        }
    })
}
