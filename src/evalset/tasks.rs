//! vcurate's own task files: JSONL (one task per line) or a YAML list of tasks, in the shape of
//! `schemas/eval-task.schema.json`. Tasks are written by people, so reading is strict: an unknown
//! key is an error that names the file and line, and every task is validated.

use std::collections::HashMap;
use std::path::Path;

use super::{EvalSetError, Result};
use crate::core::EvalTask;

/// Parses a task set: JSONL (one task per line) or, for `.yaml`/`.yml`, a YAML list of tasks.
pub fn parse_tasks(path: &Path, text: &str) -> Result<Vec<EvalTask>> {
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let mut tasks: Vec<(usize, EvalTask)> = Vec::new();
    if is_yaml {
        let parsed: Vec<EvalTask> =
            serde_yaml::from_str(text).map_err(|e| EvalSetError::Syntax {
                path: path.to_path_buf(),
                line: e.location().map(|l| l.line()).unwrap_or(0),
                message: e.to_string(),
            })?;
        tasks.extend(parsed.into_iter().map(|t| (0, t)));
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let task: EvalTask = serde_json::from_str(line).map_err(|e| EvalSetError::Syntax {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!(
                    "{e} (a task line must be one JSON object; see schemas/eval-task.schema.json)"
                ),
            })?;
            tasks.push((i + 1, task));
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, task) in &tasks {
        task.validate()
            .map_err(|message| EvalSetError::InvalidTask {
                path: path.to_path_buf(),
                id: task.id.clone(),
                message,
            })?;
        if let Some(first) = seen.insert(task.id.clone(), *line) {
            return Err(EvalSetError::DuplicateTask {
                path: path.to_path_buf(),
                id: task.id.clone(),
                first,
                second: *line,
            });
        }
    }
    Ok(tasks.into_iter().map(|(_, t)| t).collect())
}

pub fn load_tasks(path: &Path) -> Result<Vec<EvalTask>> {
    let text = fs_err::read_to_string(path)?;
    parse_tasks(path, &text)
}

/// Writes tasks as JSONL, one per line.
pub fn tasks_to_jsonl(tasks: &[EvalTask]) -> Result<String> {
    let mut out = String::new();
    for t in tasks {
        out.push_str(&serde_json::to_string(t)?);
        out.push('\n');
    }
    Ok(out)
}
