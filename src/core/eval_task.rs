//! The eval task: what to ask a model and how to check its answer. One record for the evaluator
//! (which scores answers against it), the eval-set readers (`evalset`, which read vcurate's task
//! files and import other projects' formats into it) and the contamination audit (which keeps
//! every text of a task out of the training data). Its JSON form is
//! `schemas/eval-task.schema.json`.
//!
//! Tasks are written by people, so they are strict: an unknown key is an error. This module only
//! defines the record, its validation and its content hashes; it never reads files or runs code.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::message::{Message, Role, Tool};

/// One eval task.
///
/// Exactly one of `prompt` and `messages` must be given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalTask {
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
    /// Tools offered to the model (rendered into the prompt by its chat template); a task that
    /// expects a call names it in `checks.tool_call`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
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
    /// The answer must be a call to one of the task's `tools` (Qwen3's `<tool_call>` JSON in
    /// the reply); its code argument, when named, is the code the other checks run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call: Option<ExpectedToolCall>,
}

/// The tool call a task expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedToolCall {
    /// The function the model must call.
    pub name: String,
    /// Arguments the call must carry, compared as JSON values (other arguments are allowed).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// The argument that holds Luau (`command` of `run_code`): parse, compile, typecheck and
    /// tests check its value as they check an answer's code. None: the call alone decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_argument: Option<String>,
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
            tool_call: None,
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

impl EvalTask {
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
        if let Some(call) = &self.checks.tool_call {
            if !self.tools.iter().any(|t| t.function.name == call.name) {
                return Err(format!(
                    "`checks.tool_call` expects a call to `{}`, which is not among the task's `tools`",
                    call.name
                ));
            }
        }
        if self.runner == Runner::Sandbox
            && self.checks.tool_call.is_none()
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
            out.push(Message::new(Role::System, s.clone()));
        }
        if let Some(p) = &self.prompt {
            out.push(Message::new(Role::User, p.clone()));
        }
        out.extend(self.messages.iter().cloned());
        out
    }

    /// Every text of the task that must not leak into training data: prompt, system prompt,
    /// reference solution, messages and test code, in that order.
    pub fn protected_texts(&self) -> Vec<String> {
        let mut texts: Vec<String> = self
            .prompt
            .iter()
            .chain(self.system.iter())
            .chain(self.reference.iter())
            .cloned()
            .collect();
        texts.extend(self.messages.iter().map(|m| m.content.clone()));
        texts.extend(self.checks.tests.iter().map(|x| x.code.clone()));
        texts
    }
}

/// A stable id of a task set's content: blake3 over the canonical JSON of the tasks sorted by
/// id. Two reports are comparable only when their task sets have the same id.
pub fn task_set_id(tasks: &[EvalTask]) -> String {
    let mut sorted: Vec<&EvalTask> = tasks.iter().collect();
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
pub fn task_hash(task: &EvalTask) -> String {
    // `source` says where the file was read from, not what the task is.
    let content = EvalTask {
        source: None,
        ..task.clone()
    };
    blake3::hash(task_json(&content).as_bytes()).to_hex()[..16].to_string()
}

/// serde_json of a struct is deterministic (field order is declaration order).
fn task_json(task: &EvalTask) -> String {
    serde_json::to_string(task).unwrap_or_default()
}
