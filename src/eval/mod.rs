//! Execution-scored evaluation of Luau code: task sets, a sandboxed Luau runner, scoring, reports.
//!
//! The pipeline is `task` (what to ask and how to check it) -> `extract` (find the code in a
//! response) -> `score` (parse with full_moon, compile with the real Luau compiler, run the task's
//! tests in `sandbox`) -> `report` (per-task JSONL, per-category pass@k) -> `compare` (promotion
//! gate). `import` turns other projects' task files into ours.
//!
//! What this module must never do: count a check it could not run as passed (it says `n/a` with a
//! reason instead), let model-written code reach the host (files, processes, the network, the
//! module loader) or hang it, or put a regex score in the headline: patterns are reported in a
//! column of their own.

pub mod compare;
pub mod extract;
pub mod import;
pub mod report;
pub mod sandbox;
pub mod score;
pub mod task;

use std::path::PathBuf;

/// Errors of the evaluator. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
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

    #[error("{path}:{line}: response for task `{task_id}` sample {sample} appears twice; give each sample its own `sample` index")]
    DuplicateResponse {
        path: PathBuf,
        line: usize,
        task_id: String,
        sample: u32,
    },

    #[error("{path}: responses name tasks that are not in the task file: {ids}; check that you scored the right task set")]
    UnknownTasks { path: PathBuf, ids: String },

    #[error("{path}: {message}")]
    Import { path: PathBuf, message: String },

    #[error("{path}: not a vcurate eval report ({message}); pass the `report.json` written by `vcurate eval run`")]
    BadReport { path: PathBuf, message: String },

    #[error("could not write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;
