//! The `contamination` audit: documents that leak a task of a registered eval set are dropped.
//! Documents are scored against the tasks by `audit::contamination` (the same scorer the
//! snapshot runs on rendered examples), with this corpus's idioms discounted. Also where the
//! eval sets are loaded as contamination inputs, for this audit and the snapshot's scan.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{drop_document, failed, summary_json, AuditContext, AuditJob};
use crate::audit::contamination::{
    self, ContaminationIndex, CorpusStats, Hit, IndexStats, TaskTexts,
};
use crate::audit::run::{AuditError, AuditOutput};
use crate::core::EvalTask;
use crate::store::columns::{string_list_column, struct_list_column};
use crate::workspace::settings::EvalSetFormat;
use crate::workspace::Workspace;

pub struct Contamination;

/// The contamination audit's summary (`summary/contamination.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContaminationSummary {
    pub eval_tasks: usize,
    pub contaminated_documents: usize,
    /// Every task, and the documents flagged for it in document order.
    pub per_task: Vec<TaskDocuments>,
    /// What the index holds: keys per kind, task boilerplate dropped.
    pub index: IndexStats,
    /// What this corpus did: idioms dropped, pairs matched and flagged, undetectable tasks.
    pub corpus: CorpusStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDocuments {
    /// `<eval set>/<task id>`.
    pub task: String,
    pub documents: Vec<DocumentRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRef {
    pub id: String,
    pub source: String,
    pub path: String,
    /// The pair's score (share of the task part's distinctive text the document covers).
    pub score: f64,
}

impl AuditJob for Contamination {
    fn name(&self) -> &'static str {
        "contamination"
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let (name, docs) = (self.name(), ctx.docs);
        let tasks = load_eval_tasks(ctx.ws)?;
        let index = ContaminationIndex::build(&tasks, &ctx.config().contamination)
            .map_err(|e| failed(name, e))?;
        let texts: Vec<_> = docs.iter().map(contamination::document_text).collect();
        let texts: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let assessed = index.assess(&texts);
        let out = outputs(&index, docs, &assessed.hits)?;
        let summary = summary(
            tasks.len(),
            out.per_task,
            out.excluded.len(),
            index.stats().clone(),
            assessed.corpus,
        );
        Ok(AuditOutput {
            attributes: ctx.attributes(out.columns)?,
            excluded: out.excluded,
            summary,
        })
    }
}

/// What scoring some documents gives (all of them, or one batch of a sharded run).
pub(crate) struct Outputs {
    /// The attribute columns after `id` and `source_id`.
    pub columns: Vec<Column>,
    pub excluded: Vec<crate::core::Exclusion>,
    /// Every task, with the documents flagged for it in document order.
    pub per_task: Vec<TaskDocuments>,
}

/// The tables of `docs` scored as `hits` (one list per document).
pub(crate) fn outputs(
    index: &ContaminationIndex,
    docs: &[crate::core::Document],
    hits: &[Vec<Hit>],
) -> Result<Outputs, AuditError> {
    let name = Contamination.name();
    let mut excluded = Vec::new();
    for (i, h) in hits.iter().enumerate() {
        if !h.is_empty() {
            excluded.push(drop_document(
                name,
                &docs[i],
                "contaminated",
                contamination::describe(h),
            ));
        }
    }
    let per_task = index
        .by_task(hits)
        .into_iter()
        .map(|t| TaskDocuments {
            documents: t
                .docs
                .iter()
                .map(|&i| DocumentRef {
                    id: docs[i].id.clone(),
                    source: docs[i].provenance.source_id.clone(),
                    path: docs[i].provenance.path.clone(),
                    score: hits[i]
                        .iter()
                        .find(|h| h.task_id == t.task_id)
                        .map_or(0.0, |h| h.score),
                })
                .collect(),
            task: t.task_id,
        })
        .collect();
    let columns = vec![
        string_list_column(
            "tasks",
            hits.iter().map(|h| h.iter().map(|h| h.task_id.as_str())),
        ),
        Column::new(
            "contaminated".into(),
            hits.iter().map(|h| !h.is_empty()).collect::<Vec<_>>(),
        ),
        hits_column("matches", hits)?,
    ];
    Ok(Outputs {
        columns,
        excluded,
        per_task,
    })
}

/// The audit's summary.
pub(crate) fn summary(
    eval_tasks: usize,
    per_task: Vec<TaskDocuments>,
    contaminated_documents: usize,
    index: IndexStats,
    corpus: CorpusStats,
) -> serde_json::Value {
    summary_json(&ContaminationSummary {
        eval_tasks,
        contaminated_documents,
        per_task,
        index,
        corpus,
    })
}

/// A `list<struct>` column with one struct per flagged task of each row: `task`, `score`,
/// `part`, `matched_chars`, `distinctive_chars`, `longest_chars` and `spans`
/// (`list<struct{start, end, text}>`, byte offsets into the scanned text, see
/// [`contamination::document_text`]).
pub fn hits_column(name: &str, hits: &[Vec<Hit>]) -> PolarsResult<Column> {
    let all: Vec<&Hit> = hits.iter().flatten().collect();
    let spans: Vec<&crate::audit::contamination::Span> =
        all.iter().flat_map(|h| &h.spans).collect();
    let u32s = |name: &str, v: Vec<usize>| {
        Column::new(
            name.into(),
            v.into_iter().map(|x| x as u32).collect::<Vec<u32>>(),
        )
    };
    let span_fields = [
        u32s("start", spans.iter().map(|s| s.start).collect()),
        u32s("end", spans.iter().map(|s| s.end).collect()),
        Column::new(
            "text".into(),
            spans.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
        ),
    ];
    let span_lists = all.iter().map(|h| h.spans.len()).collect::<Vec<_>>();
    let fields = [
        Column::new(
            "task".into(),
            all.iter().map(|h| h.task_id.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "score".into(),
            all.iter().map(|h| h.score).collect::<Vec<f64>>(),
        ),
        Column::new(
            "part".into(),
            all.iter().map(|h| h.part.as_str()).collect::<Vec<_>>(),
        ),
        u32s(
            "matched_chars",
            all.iter().map(|h| h.matched_chars).collect(),
        ),
        u32s(
            "distinctive_chars",
            all.iter().map(|h| h.distinctive_chars).collect(),
        ),
        u32s(
            "longest_chars",
            all.iter().map(|h| h.longest_chars).collect(),
        ),
        struct_list_column("spans", &span_fields, &span_lists)?,
    ];
    struct_list_column(
        name,
        &fields,
        &hits.iter().map(Vec::len).collect::<Vec<_>>(),
    )
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
