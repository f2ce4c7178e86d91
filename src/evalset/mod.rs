//! Eval-set readers: vcurate's own task files ([`tasks`]) and importers that turn other
//! projects' task files into [`EvalTask`] records with their provenance. A shared layer: the
//! evaluator scores against these tasks and the contamination audit keeps their texts out of the
//! training data, so both read them here (the audit must not reach into `eval`).
//!
//! - [`luau_bench`]: luau-bench task YAML (Jinja2 `doc_to_text`, rendered with minijinja) or
//!   its docs JSONL, with `{{CODE}}` test harnesses;
//! - [`plain`]: JSONL with `id, category, difficulty, prompt, expected_patterns`;
//! - [`open_game_eval`]: Roblox OpenGameEval eval modules, as prompt-only Studio tasks.
//!
//! Importers read files and never execute imported code, except that an OpenGameEval `eval`
//! table constructor (literal data) is evaluated in a locked-down Luau VM to read its values.
//! Depends on `core` and `luau` only.

pub mod luau_bench;
pub mod open_game_eval;
pub mod plain;
pub mod tasks;
mod template;

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::core::EvalTask;

pub use luau_bench::import_luau_bench;
pub use open_game_eval::import_opengameeval;
pub use plain::import_plain;
pub use template::render_template;

/// Errors reading or importing a task set. Each message names the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum EvalSetError {
    #[error(transparent)]
    Io(#[from] std::io::Error),

    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error("{path}: task `{id}` is invalid: {message}")]
    InvalidTask {
        path: PathBuf,
        id: String,
        message: String,
    },

    #[error("{path}: task id `{id}` appears more than once (lines {first} and {second}); give every task a unique id")]
    DuplicateTask {
        path: PathBuf,
        id: String,
        first: usize,
        second: usize,
    },

    #[error("{path}: {message}")]
    Import { path: PathBuf, message: String },

    #[error("{0}: no tasks to import")]
    NoTasks(PathBuf),

    #[error("could not write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = EvalSetError> = std::result::Result<T, E>;

/// The source formats `import` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    LuauBench,
    Plain,
    OpenGameEval,
}

/// Imported tasks plus what the importer had to say about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub tasks: Vec<EvalTask>,
    pub warnings: Vec<String>,
}

/// Imports the task file (or, for OpenGameEval, the folder) at `path`; every task is validated
/// and ids must be unique.
pub fn import(format: Format, path: &Path) -> Result<Imported> {
    let imported = match format {
        Format::LuauBench => import_luau_bench(path)?,
        Format::Plain => import_plain(path)?,
        Format::OpenGameEval => import_opengameeval(path)?,
    };
    let mut seen = std::collections::HashSet::new();
    for t in &imported.tasks {
        t.validate().map_err(|m| EvalSetError::InvalidTask {
            path: path.to_path_buf(),
            id: t.id.clone(),
            message: m,
        })?;
        if !seen.insert(t.id.clone()) {
            return Err(EvalSetError::Import {
                path: path.to_path_buf(),
                message: format!(
                    "two imported tasks have the id `{}`; make the source ids unique",
                    t.id
                ),
            });
        }
    }
    Ok(imported)
}

/// `vcurate eval import`: imports `input` and writes the tasks to `out` as a vcurate task set
/// (JSONL, atomically). `warn` hears the importer's warnings before anything can fail on an
/// empty import, which is an error ([`EvalSetError::NoTasks`]).
/// What `eval import --json` prints.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ImportSummary {
    /// The task set written.
    pub out: String,
    /// How many tasks it holds.
    pub tasks: usize,
    /// The source format, as `--format` spells it.
    pub format: String,
    /// The importer's warnings (also printed on stderr).
    pub warnings: Vec<String>,
}

pub fn import_to_file(
    format: Format,
    input: &Path,
    out: &Path,
    warn: &mut dyn FnMut(&str),
) -> Result<Imported> {
    let imported = import(format, input)?;
    for w in &imported.warnings {
        warn(w);
    }
    if imported.tasks.is_empty() {
        return Err(EvalSetError::NoTasks(input.to_path_buf()));
    }
    crate::core::fs::write_atomic(out, tasks::tasks_to_jsonl(&imported.tasks)?.as_bytes())?;
    Ok(imported)
}

fn import_err(path: &Path, message: impl Into<String>) -> EvalSetError {
    EvalSetError::Import {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn json_str(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What the importers' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::{Path, PathBuf};

    /// Writes `text` to `dir/name` (creating folders); returns the path.
    pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            fs_err::create_dir_all(parent).unwrap();
        }
        fs_err::write(&p, text).unwrap();
        p
    }
}
