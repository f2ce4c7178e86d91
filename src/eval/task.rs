//! The responses format (what a model answered) with its loader, and the JSON Schemas of the
//! evaluator's records. The task record itself is [`crate::core::eval_task`] (shared with the
//! contamination audit); task files are read by [`crate::evalset`]. Both are re-exported here
//! for the evaluator's modules.
//!
//! Responses are written by other tools (mlx-lm, LM Studio, hosted APIs), so extra keys such as
//! token counts are allowed, but the keys we read must be there. This module never runs code.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{EvalError, Result};
pub use crate::core::eval_task::{
    task_hash, task_set_id, Checks, EvalTask as Task, Limits, Runner, TaskSource, TestProtocol,
    Tests, TypecheckMode, CODE_PLACEHOLDER,
};
pub use crate::core::{Message, Role};
pub use crate::evalset::tasks::{load_tasks, parse_tasks, tasks_to_jsonl};

/// One model response to one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Response {
    pub task_id: String,
    /// 0-based sample index; several samples per task give pass@k.
    #[serde(default)]
    pub sample: u32,
    /// The model's full reply text.
    pub response: String,
    /// Free-form label of the model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Parses a responses JSONL file. Duplicate (task, sample) pairs and responses to tasks that
/// are not in `tasks` are errors.
pub fn parse_responses(path: &Path, text: &str, tasks: &[Task]) -> Result<Vec<Response>> {
    let known: std::collections::HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    let mut unknown = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: Response = serde_json::from_str(line).map_err(|e| EvalError::Syntax {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!(
                "{e} (a response line needs `task_id` and `response`, optional `sample`)"
            ),
        })?;
        if !known.contains(r.task_id.as_str()) {
            unknown.insert(r.task_id.clone());
            continue;
        }
        if !seen.insert((r.task_id.clone(), r.sample)) {
            return Err(EvalError::DuplicateResponse {
                path: path.to_path_buf(),
                line: i + 1,
                task_id: r.task_id,
                sample: r.sample,
            });
        }
        out.push(r);
    }
    if !unknown.is_empty() {
        let mut ids: Vec<String> = unknown.iter().take(5).map(|s| format!("`{s}`")).collect();
        if unknown.len() > 5 {
            ids.push(format!("and {} more", unknown.len() - 5));
        }
        return Err(EvalError::UnknownTasks {
            path: path.to_path_buf(),
            ids: ids.join(", "),
        });
    }
    Ok(out)
}

pub fn load_responses(path: &Path, tasks: &[Task]) -> Result<Vec<Response>> {
    let text = fs_err::read_to_string(path)?;
    parse_responses(path, &text, tasks)
}

/// The JSON Schemas this module owns, by file name under `schemas/`.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "eval-task.schema.json",
            serde_json::to_value(schemars::schema_for!(Task)).unwrap_or_default(),
        ),
        (
            "eval-response.schema.json",
            serde_json::to_value(schemars::schema_for!(Response)).unwrap_or_default(),
        ),
        (
            "eval-result.schema.json",
            serde_json::to_value(schemars::schema_for!(super::score::SampleResult))
                .unwrap_or_default(),
        ),
        (
            "eval-report.schema.json",
            serde_json::to_value(schemars::schema_for!(super::report::Report)).unwrap_or_default(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn p() -> PathBuf {
        PathBuf::from("tasks.jsonl")
    }

    const MINIMAL: &str = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"write x"}"#;

    #[test]
    fn minimal_task_gets_default_checks_and_limits() {
        let tasks = parse_tasks(&p(), MINIMAL).unwrap();
        assert_eq!(tasks.len(), 1);
        let t = &tasks[0];
        assert!(t.checks.parse && t.checks.compile && t.checks.tests.is_none());
        assert_eq!(t.limits, Limits::default());
        assert_eq!(t.runner, Runner::Sandbox);
        assert_eq!(t.chat().len(), 1);
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_line_and_key() {
        let text = format!(
            "{MINIMAL}\n{}",
            r#"{"id":"b","category":"c","difficulty":"easy","prompt":"x","promt":"y"}"#
        );
        let err = parse_tasks(&p(), &text).unwrap_err().to_string();
        assert!(err.contains("tasks.jsonl:2"), "{err}");
        assert!(err.contains("promt"), "{err}");
    }

    #[test]
    fn unknown_key_inside_checks_is_an_error() {
        let text = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"x","checks":{"test":{"code":""}}}"#;
        assert!(parse_tasks(&p(), text)
            .unwrap_err()
            .to_string()
            .contains("test"));
    }

    #[test]
    fn prompt_and_messages_are_exclusive() {
        let both = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"x","messages":[{"role":"user","content":"y"}]}"#;
        assert!(parse_tasks(&p(), both)
            .unwrap_err()
            .to_string()
            .contains("not both"));
        let neither = r#"{"id":"a","category":"c","difficulty":"easy"}"#;
        assert!(parse_tasks(&p(), neither)
            .unwrap_err()
            .to_string()
            .contains("give a `prompt`"));
    }

    #[test]
    fn bad_regex_and_missing_placeholder_are_rejected() {
        let bad = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"x","checks":{"patterns":["("]}}"#;
        assert!(parse_tasks(&p(), bad)
            .unwrap_err()
            .to_string()
            .contains("not a valid regex"));
        let nocode = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"x","checks":{"tests":{"protocol":"luau_bench","code":"print(1)"}}}"#;
        assert!(parse_tasks(&p(), nocode)
            .unwrap_err()
            .to_string()
            .contains("{{CODE}}"));
    }

    #[test]
    fn typecheck_mode_needs_typecheck_and_typecheck_alone_can_decide_a_pass() {
        let strict = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"x","checks":{"typecheck":true,"typecheck_mode":"strict"}}"#;
        let t = parse_tasks(&p(), strict).unwrap().remove(0);
        assert_eq!(t.checks.typecheck_mode, Some(TypecheckMode::Strict));
        let orphan = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"x","checks":{"typecheck_mode":"strict"}}"#;
        assert!(parse_tasks(&p(), orphan)
            .unwrap_err()
            .to_string()
            .contains("`typecheck` is off"));
        let only_types = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"x","checks":{"parse":false,"compile":false,"typecheck":true}}"#;
        assert!(parse_tasks(&p(), only_types).is_ok());
        let bad_mode = r#"{"id":"a","category":"c","difficulty":"easy","prompt":"x","checks":{"typecheck":true,"typecheck_mode":"nocheck"}}"#;
        assert!(parse_tasks(&p(), bad_mode).is_err());
    }

    #[test]
    fn duplicate_ids_are_rejected_with_both_lines() {
        let text = format!("{MINIMAL}\n\n{MINIMAL}");
        let err = parse_tasks(&p(), &text).unwrap_err().to_string();
        assert!(err.contains("lines 1 and 3"), "{err}");
    }

    #[test]
    fn yaml_task_sets_load_too() {
        let yaml = "- id: y1\n  category: strings\n  difficulty: easy\n  prompt: |\n    Write f.\n  checks:\n    tests:\n      code: |\n        test('x', function() expect_eq(f(), 1) end)\n";
        let tasks = parse_tasks(Path::new("set.yaml"), yaml).unwrap();
        assert_eq!(
            tasks[0].checks.tests.as_ref().unwrap().protocol,
            TestProtocol::Harness
        );
        assert_eq!(tasks[0].prompt.as_deref(), Some("Write f.\n"));
    }

    #[test]
    fn responses_reject_duplicates_and_unknown_tasks_but_allow_extra_keys() {
        let tasks = parse_tasks(&p(), MINIMAL).unwrap();
        let ok = r#"{"task_id":"a","response":"x","usage":{"tokens":3}}
{"task_id":"a","sample":1,"response":"y"}"#;
        let r = parse_responses(Path::new("r.jsonl"), ok, &tasks).unwrap();
        assert_eq!(r.iter().map(|r| r.sample).collect::<Vec<_>>(), vec![0, 1]);

        let dup = r#"{"task_id":"a","response":"x"}
{"task_id":"a","response":"y"}"#;
        let err = parse_responses(Path::new("r.jsonl"), dup, &tasks)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("r.jsonl:2") && err.contains("sample 0"),
            "{err}"
        );

        let unknown = r#"{"task_id":"zzz","response":"x"}"#;
        let err = parse_responses(Path::new("r.jsonl"), unknown, &tasks)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`zzz`"), "{err}");
    }

    #[test]
    fn task_set_id_ignores_order_but_not_content() {
        let a = parse_tasks(&p(), MINIMAL).unwrap().remove(0);
        let mut b = a.clone();
        b.id = "b".into();
        let id1 = task_set_id(&[a.clone(), b.clone()]);
        let id2 = task_set_id(&[b.clone(), a.clone()]);
        assert_eq!(id1, id2);
        let mut a2 = a.clone();
        a2.prompt = Some("write y".into());
        assert_ne!(id1, task_set_id(&[a2, b]));
    }

    #[test]
    fn jsonl_round_trip_is_lossless() {
        let text = r#"{"id":"a","category":"c","difficulty":"easy","system":"s","prompt":"x","checks":{"compile":false,"tests":{"code":"test('t', function() end)"},"patterns":["foo"]},"limits":{"time_ms":5},"roblox_stubs":true,"tags":["t"]}"#;
        let tasks = parse_tasks(&p(), text).unwrap();
        let back = parse_tasks(&p(), &tasks_to_jsonl(&tasks).unwrap()).unwrap();
        assert_eq!(tasks, back);
        assert_eq!(back[0].limits.instructions, Limits::default().instructions);
    }
}
