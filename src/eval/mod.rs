//! Execution-scored evaluation of Luau code: task sets, a sandboxed Luau runner, scoring, reports.
//!
//! The pipeline is `task` (what to ask and how to check it) -> `extract` (find the code in a
//! response) -> `score` (parse with full_moon, compile with the real Luau compiler, type-check
//! with Luau's analyzer in `typecheck` when the task asks, run the task's tests in `sandbox`) ->
//! `report` (per-task JSONL, per-category pass@k) -> `compare` (promotion gate). Task files are read (and other projects' formats imported) by [`crate::evalset`]; `generate` writes the responses
//! with the trainer's model when no precomputed responses are given.
//!
//! What this module must never do: count a check it could not run as passed (it says `n/a` with a
//! reason instead), let model-written code reach the host (files, processes, the network, the
//! module loader) or hang it, or put a regex score in the headline: patterns are reported in a
//! column of their own.

pub mod compare;
pub mod extract;
pub mod generate;
pub mod link;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod score;
pub mod task;
pub mod typecheck;

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

    /// Reading or importing a task set.
    #[error(transparent)]
    EvalSet(#[from] crate::evalset::EvalSetError),

    #[error("{path}:{line}: response for task `{task_id}` sample {sample} appears twice; give each sample its own `sample` index")]
    DuplicateResponse {
        path: PathBuf,
        line: usize,
        task_id: String,
        sample: u32,
    },

    #[error("{path}: responses name tasks that are not in the task file: {ids}; check that you scored the right task set")]
    UnknownTasks { path: PathBuf, ids: String },

    #[error("{path}: not a vcurate eval report ({message}); pass the `report.json` written by `vcurate eval run`")]
    BadReport { path: PathBuf, message: String },

    #[error("could not write JSON: {0}")]
    Json(#[from] serde_json::Error),

    #[error("refusing to report under --strict: contamination {status}: {message}. Run without --strict to get an explicitly flagged report")]
    StrictContamination { status: String, message: String },

    #[error("{what}: {message}")]
    Generation { what: String, message: String },
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;

pub use run::{
    compare_runs, run, EvalRun, EvalSettings, GenerationSettings, ResponseSource, RunEvent,
};

#[cfg(test)]
mod shipped_task_set {
    //! The task set vcurate ships (`dataset/evals/luau-basics.jsonl`) must score its reference
    //! solutions as passes and its known-bad solutions as the failures they are.

    use std::path::{Path, PathBuf};

    use super::score::{score_all, Verdict};
    use super::task::{load_responses, load_tasks};

    fn dataset(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("dataset/evals")
            .join(name)
    }

    #[test]
    fn reference_solutions_all_pass() {
        let tasks = load_tasks(&dataset("luau-basics.jsonl")).unwrap();
        assert!(
            tasks.len() >= 12,
            "ship at least 12 tasks, found {}",
            tasks.len()
        );
        assert!(tasks
            .iter()
            .all(|t| t.checks.tests.is_some() && !t.roblox_stubs));
        let responses = load_responses(&dataset("luau-basics.solutions.jsonl"), &tasks).unwrap();
        let results = score_all(&tasks, &responses, &|| {});
        assert_eq!(
            results.len(),
            tasks.len(),
            "one reference solution per task"
        );
        for r in &results {
            assert_eq!(
                r.verdict,
                Verdict::Pass,
                "reference solution of `{}` did not pass: {:?} {:?}",
                r.task_id,
                r.checks.tests.message,
                r.checks
                    .tests
                    .cases
                    .iter()
                    .filter(|c| !c.passed)
                    .collect::<Vec<_>>()
            );
            assert!(
                r.checks.tests.total_cases >= 3,
                "`{}` has too few test cases",
                r.task_id
            );
        }
    }

    #[test]
    fn known_bad_solutions_fail_as_expected() {
        let tasks = load_tasks(&dataset("luau-basics.jsonl")).unwrap();
        let path = dataset("luau-basics.known-bad.jsonl");
        let responses = load_responses(&path, &tasks).unwrap();
        // The expected verdict rides along as an extra key of each response line.
        let text = fs_err::read_to_string(&path).unwrap();
        let expected: Vec<(String, String)> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["task_id"].as_str().unwrap().to_string(),
                    v["expected_verdict"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            expected.len(),
            tasks.len(),
            "one known-bad solution per task"
        );
        let results = score_all(&tasks, &responses, &|| {});
        for r in &results {
            let want = &expected.iter().find(|(id, _)| *id == r.task_id).unwrap().1;
            let got = r.verdict.as_str();
            let limit = |v: &str| matches!(v, "instruction_limit" | "time_limit");
            // Which work limit trips first depends on the machine's speed; either is the verdict.
            let same = got == want || (limit(got) && limit(want));
            assert!(
                same,
                "known-bad `{}`: expected {want}, got {got} ({:?})",
                r.task_id, r.checks.tests.message
            );
            assert!(!r.passed);
            assert!(
                r.checks.parse.status == super::score::CheckStatus::Pass,
                "known-bad code should still parse"
            );
        }
    }
}
