//! The eval task format (what to ask a model, how to check its answer) and the responses format
//! (what a model answered), with their loaders and JSON Schemas.
//!
//! Tasks are written by people, so they are strict: an unknown key is an error that names the file
//! and line. Responses are written by other tools (mlx-lm, LM Studio, hosted APIs), so extra keys
//! such as token counts are allowed, but the keys we read must be there. This module never runs code.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{EvalError, Result};

/// One eval task.
///
/// Exactly one of `prompt` and `messages` must be given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Unique within its task set.
    pub id: String,
    /// Reports group results by category (e.g. `data-structures`, `strings`).
    pub category: String,
    /// `easy`, `medium`, `hard`, or `unknown` for imported tasks that do not say.
    pub difficulty: String,
    /// Optional system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// A single user prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// A chat transcript to continue (instead of `prompt`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub checks: Checks,
    #[serde(default)]
    pub limits: Limits,
    /// Load vcurate's Roblox stub globals (`game`, `Instance`, `task`, `Vector3`, `CFrame`) into
    /// the sandbox. Results of such tasks are labelled as run against stubs, not Roblox.
    #[serde(default, skip_serializing_if = "is_false")]
    pub roblox_stubs: bool,
    /// Where the checks can run.
    #[serde(default, skip_serializing_if = "Runner::is_sandbox")]
    pub runner: Runner,
    /// A reference solution, when the source provides one (never shown to the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Where an imported task came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TaskSource>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// Where a task's checks can run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Runner {
    /// vcurate's Luau sandbox.
    #[default]
    Sandbox,
    /// Only inside Roblox Studio (e.g. OpenGameEval). Such tasks are reported as not executable
    /// here; they are never counted as passed or failed.
    RobloxStudio,
}

impl Runner {
    pub fn is_sandbox(&self) -> bool {
        *self == Runner::Sandbox
    }
}

/// Provenance of an imported task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskSource {
    /// `luau-bench`, `plain`, or `opengameeval`.
    pub format: String,
    /// The file the task was read from, as given to the importer.
    pub path: String,
    /// The task's id in its source, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_id: Option<String>,
    /// Source fields kept for reference (OpenGameEval's `place`, `expected_tool_calls`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// What to check. A sample passes when every enabled check among `parse`, `compile`,
/// `typecheck` and `tests` passes. `patterns` never decide a pass: they are scored in a column of their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// The extracted code must parse as Luau (full_moon's Luau grammar).
    #[serde(default = "yes")]
    pub parse: bool,
    /// The extracted code must compile with the Luau compiler (errors carry line numbers).
    #[serde(default = "yes")]
    pub compile: bool,
    /// Type-check the extracted code with Luau's own analyzer (the `vcurate-luau-analyze`
    /// helper), with the Roblox stub definitions when `roblox_stubs` is set. When on, the
    /// sample passes only if the code type-checks; a check that cannot run is `n/a` with the
    /// reason, and a sample that passed everything else then counts as a `host_error`, never as
    /// a pass.
    #[serde(default, skip_serializing_if = "is_false")]
    pub typecheck: bool,
    /// The mode of the type check: `nonstrict` (the default, Luau's own) or `strict`. An
    /// answer's `--!strict` raises nonstrict to strict; nothing in the answer lowers the mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typecheck_mode: Option<TypecheckMode>,
    /// Test code run against the extracted answer in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<Tests>,
    /// Regexes that should match the extracted code (scored separately, never the headline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
    /// Regexes that should not match the extracted code (scored with `patterns`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden_patterns: Vec<String>,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            parse: true,
            compile: true,
            typecheck: false,
            typecheck_mode: None,
            tests: None,
            patterns: Vec::new(),
            forbidden_patterns: Vec::new(),
        }
    }
}

/// Luau type-checking modes (the `--!nonstrict` / `--!strict` comments).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TypecheckMode {
    /// Luau's default: unannotated code is inferred leniently (`any` where unsure).
    #[default]
    Nonstrict,
    /// Every value gets a precise type; unknown globals and members are errors.
    Strict,
}

impl TypecheckMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TypecheckMode::Nonstrict => "nonstrict",
            TypecheckMode::Strict => "strict",
        }
    }
}

/// Test code and the protocol it reports results with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tests {
    #[serde(default)]
    pub protocol: TestProtocol,
    pub code: String,
}

/// How test code is attached to the answer and how it reports per-case results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestProtocol {
    /// vcurate's harness. The runner appends the test code after the answer, in the same chunk
    /// (so the answer's locals are in scope), and gives it these locals:
    ///
    /// - `test(name, fn)` runs one case; it passes when `fn` returns without error.
    /// - `expect_eq(actual, expected, message?)` deep-compares tables, `==` otherwise.
    /// - `expect(condition, message?)` and `expect_error(fn, pattern?)`.
    ///
    /// If the answer ends with a top-level `return` (module style), its first value is bound to
    /// the local `ANSWER` instead. Results are recorded by the host, not printed, so the answer
    /// cannot forge them, and the test code must run to its end for any case to count.
    #[default]
    Harness,
    /// luau-bench's protocol: `code` is a whole script with a `{{CODE}}` placeholder for the
    /// answer; cases print `@@LUAU_BENCH_RESULT@@PASS:label`, `...FAIL:label:msg` or
    /// `...ERROR:label:msg`. Printed markers can be forged by the answer; prefer `harness`.
    LuauBench,
}

/// Resource limits for one sandbox run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock limit for running the answer and its tests, in milliseconds.
    #[serde(default = "Limits::default_time_ms")]
    pub time_ms: u64,
    /// Work limit, counted at the Luau VM's interrupt points (function calls, loop back-edges,
    /// pattern-matching steps): it bounds work, it is not an exact bytecode instruction count.
    #[serde(default = "Limits::default_instructions")]
    pub instructions: u64,
    /// Heap limit of the Luau VM, in bytes.
    #[serde(default = "Limits::default_memory_bytes")]
    pub memory_bytes: u64,
}

impl Limits {
    fn default_time_ms() -> u64 {
        2_000
    }
    fn default_instructions() -> u64 {
        20_000_000
    }
    fn default_memory_bytes() -> u64 {
        64 * 1024 * 1024
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_ms: Self::default_time_ms(),
            instructions: Self::default_instructions(),
            memory_bytes: Self::default_memory_bytes(),
        }
    }
}

/// The placeholder luau-bench harnesses use for the answer.
pub const CODE_PLACEHOLDER: &str = "{{CODE}}";

impl Task {
    /// Checks what serde cannot: prompt xor messages, compilable patterns, a runnable test
    /// protocol, and at least one check that can decide a pass.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("`id` is empty".into());
        }
        match (&self.prompt, self.messages.is_empty()) {
            (Some(_), false) => return Err("give either `prompt` or `messages`, not both".into()),
            (None, true) => return Err("give a `prompt` or `messages`".into()),
            _ => {}
        }
        for p in self
            .checks
            .patterns
            .iter()
            .chain(&self.checks.forbidden_patterns)
        {
            if let Err(e) = regex::Regex::new(p) {
                return Err(format!("pattern `{p}` is not a valid regex: {e}"));
            }
        }
        if let Some(tests) = &self.checks.tests {
            if tests.protocol == TestProtocol::LuauBench && !tests.code.contains(CODE_PLACEHOLDER) {
                return Err(format!(
                    "tests use the luau_bench protocol but have no `{CODE_PLACEHOLDER}` placeholder for the answer"
                ));
            }
        }
        if self.checks.typecheck_mode.is_some() && !self.checks.typecheck {
            return Err(
                "`typecheck_mode` is set but `typecheck` is off; set `typecheck: true`".into(),
            );
        }
        if self.runner == Runner::Sandbox
            && !self.checks.parse
            && !self.checks.compile
            && !self.checks.typecheck
            && self.checks.tests.is_none()
        {
            return Err(
                "no check can decide a pass: enable `parse`, `compile`, `typecheck` or give `tests`"
                    .into(),
            );
        }
        if self.limits.time_ms == 0
            || self.limits.instructions == 0
            || self.limits.memory_bytes < 1024 * 1024
        {
            return Err("limits are too small to run anything (time_ms > 0, instructions > 0, memory_bytes >= 1 MiB)".into());
        }
        Ok(())
    }

    /// The prompt as chat messages (system first, when given).
    pub fn chat(&self) -> Vec<Message> {
        let mut out = Vec::new();
        if let Some(s) = &self.system {
            out.push(Message {
                role: Role::System,
                content: s.clone(),
            });
        }
        if let Some(p) = &self.prompt {
            out.push(Message {
                role: Role::User,
                content: p.clone(),
            });
        }
        out.extend(self.messages.iter().cloned());
        out
    }
}

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

/// Parses a task set: JSONL (one task per line) or, for `.yaml`/`.yml`, a YAML list of tasks.
pub fn parse_tasks(path: &Path, text: &str) -> Result<Vec<Task>> {
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let mut tasks: Vec<(usize, Task)> = Vec::new();
    if is_yaml {
        let parsed: Vec<Task> = serde_yaml::from_str(text).map_err(|e| EvalError::Syntax {
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
            let task: Task = serde_json::from_str(line).map_err(|e| EvalError::Syntax {
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
        task.validate().map_err(|message| EvalError::InvalidTask {
            path: path.to_path_buf(),
            id: task.id.clone(),
            message,
        })?;
        if let Some(first) = seen.insert(task.id.clone(), *line) {
            return Err(EvalError::DuplicateTask {
                path: path.to_path_buf(),
                id: task.id.clone(),
                first,
                second: *line,
            });
        }
    }
    Ok(tasks.into_iter().map(|(_, t)| t).collect())
}

pub fn load_tasks(path: &Path) -> Result<Vec<Task>> {
    let text = fs_err::read_to_string(path)?;
    parse_tasks(path, &text)
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

/// Writes tasks as JSONL, one per line.
pub fn tasks_to_jsonl(tasks: &[Task]) -> Result<String> {
    let mut out = String::new();
    for t in tasks {
        out.push_str(&serde_json::to_string(t)?);
        out.push('\n');
    }
    Ok(out)
}

/// A stable id of a task set's content: blake3 over the canonical JSON of the tasks sorted by
/// id. Two reports are comparable only when their task sets have the same id.
pub fn task_set_id(tasks: &[Task]) -> String {
    let mut sorted: Vec<&Task> = tasks.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut hasher = blake3::Hasher::new();
    for t in sorted {
        hasher.update(task_json(t).as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex()[..16].to_string()
}

/// A task's content hash (id included, import provenance excluded): how a snapshot records
/// which tasks it was checked against, whatever file or eval-set name they came from.
pub fn task_hash(task: &Task) -> String {
    // `source` says where the file was read from, not what the task is.
    let content = Task {
        source: None,
        ..task.clone()
    };
    blake3::hash(task_json(&content).as_bytes()).to_hex()[..16].to_string()
}

/// serde_json of a struct is deterministic (field order is declaration order).
fn task_json(task: &Task) -> String {
    serde_json::to_string(task).unwrap_or_default()
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
