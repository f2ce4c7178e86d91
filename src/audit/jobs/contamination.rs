//! The `contamination` audit: documents that share text (n-grams or long substrings) with a
//! task of a registered eval set are dropped. Also where the eval sets are loaded as
//! contamination inputs, for this audit and the snapshot's scan of rendered examples.

use std::collections::BTreeSet;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{drop_document, failed, summary_json, AuditContext, AuditJob};
use crate::audit::contamination::{ContaminationIndex, IndexStats, TaskTexts};
use crate::audit::run::{AuditError, AuditOutput};
use crate::core::EvalTask;
use crate::store::columns::string_list_column;
use crate::workspace::settings::EvalSetFormat;
use crate::workspace::Workspace;

pub struct Contamination;

/// The contamination audit's summary (`summary/contamination.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContaminationSummary {
    pub eval_tasks: usize,
    pub contaminated_documents: usize,
    /// Every task some document shares text with, and those documents in document order.
    pub per_task: Vec<TaskDocuments>,
    pub index: IndexStats,
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
}

impl AuditJob for Contamination {
    fn name(&self) -> &'static str {
        "contamination"
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let (name, docs) = (self.name(), ctx.docs);
        let tasks = load_eval_tasks(ctx.ws)?;
        let index = ContaminationIndex::build(&tasks, &(&ctx.config().contamination).into())
            .map_err(|e| failed(name, e))?;
        let hits = index.scan_many(&ctx.texts);
        // Distinct task ids per document (one task can match by n-gram and by substring).
        let task_ids: Vec<Vec<&str>> = hits
            .iter()
            .map(|h| {
                h.iter()
                    .map(|h| h.task_id.as_str())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .collect();
        let mut excluded = Vec::new();
        for (i, h) in hits.iter().enumerate() {
            if let Some(first) = h.first() {
                excluded.push(drop_document(
                    name,
                    &docs[i],
                    "contaminated",
                    format!(
                        "shares text with eval task(s) {}: \"{}\"",
                        task_ids[i].join(","),
                        first.matched.chars().take(120).collect::<String>()
                    ),
                ));
            }
        }
        let per_task = index
            .by_task(&hits)
            .into_iter()
            .map(|t| TaskDocuments {
                task: t.task_id,
                documents: t
                    .docs
                    .iter()
                    .map(|&i| DocumentRef {
                        id: docs[i].id.clone(),
                        source: docs[i].provenance.source_id.clone(),
                        path: docs[i].provenance.path.clone(),
                    })
                    .collect(),
            })
            .collect();
        let df = ctx.attributes(vec![
            string_list_column("tasks", task_ids.iter().map(|t| t.iter().copied())),
            Column::new(
                "contaminated".into(),
                hits.iter().map(|h| !h.is_empty()).collect::<Vec<_>>(),
            ),
        ])?;
        let summary = ContaminationSummary {
            eval_tasks: tasks.len(),
            contaminated_documents: excluded.len(),
            per_task,
            index: index.stats().clone(),
        };
        Ok(AuditOutput {
            attributes: df,
            excluded,
            summary: summary_json(&summary),
        })
    }
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
