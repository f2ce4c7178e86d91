//! Scoring: one response to one task becomes a [`SampleResult`] with a verdict per check:
//! parse (full_moon's Luau grammar), compile (the real Luau compiler, errors with line numbers),
//! type check (Luau's analyzer, see [`super::typecheck`]; errors with line:column), tests (run
//! in the sandbox), and patterns (regexes, scored separately and never deciding a pass). Also the
//! unbiased pass@k estimator.
//!
//! A sample passes when every enabled check among parse, compile, type check (only when the task
//! sets `checks.typecheck`) and tests passes. The verdict names the first failing stage in the
//! order parse, compile, type check, run/tests; a type error does not stop the tests from
//! running, so both results are in the record.
//!
//! A check that could not run is reported as `n/a` or `skipped` with a reason, never as a pass;
//! an enabled type check that could not run makes an otherwise passing sample a `host_error`.
//! Tasks that need Roblox Studio are `not_executable`: neither passed nor failed.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::{extract, tool_calls, Extraction, ExtractionRule, ReplyToolCall};
use super::sandbox::{
    self, harness_begin_line, harness_finish_line, CaseResult, HarnessProgress, Isolated,
    LimitKind, Program, RunStatus, SandboxOptions,
};
use super::task::{Response, Runner, Task, TestProtocol, TypecheckMode, CODE_PLACEHOLDER};
use super::typecheck::{self, Checked, TypecheckError};

/// The final verdict of one sample.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// No response for this task in the responses file: counted as a failure.
    NoResponse,
    /// The response held nothing that could be Luau code.
    NoCode,
    ParseError,
    CompileError,
    /// The task asked for a type check and Luau's analyzer found errors.
    TypeError,
    /// An uncaught runtime error outside a test case (in the answer or the test section).
    RuntimeError,
    TestFailure,
    /// The test code ran but reported no cases.
    NoTestCases,
    /// The harness protocol's test section did not run to its end.
    HarnessIncomplete,
    TimeLimit,
    InstructionLimit,
    MemoryLimit,
    HardTimeout,
    /// The evaluator itself failed (the sandbox, or a type check the task asked for could not
    /// run): not the answer's fault; counted as a failure and reported.
    HostError,
    /// The task's checks need Roblox Studio: neither passed nor failed here.
    NotExecutable,
    /// The task expected a tool call the reply does not make (another function, other
    /// arguments, or no call).
    ToolCallMismatch,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NoResponse => "no_response",
            Verdict::NoCode => "no_code",
            Verdict::ParseError => "parse_error",
            Verdict::CompileError => "compile_error",
            Verdict::TypeError => "type_error",
            Verdict::RuntimeError => "runtime_error",
            Verdict::TestFailure => "test_failure",
            Verdict::NoTestCases => "no_test_cases",
            Verdict::HarnessIncomplete => "harness_incomplete",
            Verdict::TimeLimit => "time_limit",
            Verdict::InstructionLimit => "instruction_limit",
            Verdict::MemoryLimit => "memory_limit",
            Verdict::HardTimeout => "hard_timeout",
            Verdict::HostError => "host_error",
            Verdict::NotExecutable => "not_executable",
            Verdict::ToolCallMismatch => "tool_call_mismatch",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CheckStatus {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "fail")]
    Fail,
    /// The check could not run here; `message` says why.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// The task did not ask for this check.
    #[serde(rename = "skipped")]
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CheckOutcome {
    pub status: CheckStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// 1-based line in the extracted code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl CheckOutcome {
    fn pass() -> Self {
        CheckOutcome {
            status: CheckStatus::Pass,
            message: None,
            line: None,
            column: None,
        }
    }
    fn fail(message: impl Into<String>) -> Self {
        CheckOutcome {
            status: CheckStatus::Fail,
            message: Some(message.into()),
            line: None,
            column: None,
        }
    }
    fn na(reason: impl Into<String>) -> Self {
        CheckOutcome {
            status: CheckStatus::NotApplicable,
            message: Some(reason.into()),
            line: None,
            column: None,
        }
    }
    fn skipped() -> Self {
        CheckOutcome {
            status: CheckStatus::Skipped,
            message: None,
            line: None,
            column: None,
        }
    }
    fn is_fail(&self) -> bool {
        self.status == CheckStatus::Fail
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TestsOutcome {
    pub status: CheckStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<TestProtocol>,
    pub passed_cases: u32,
    pub total_cases: u32,
    pub cases: Vec<CaseResult>,
    /// Set when the answer ended with a top-level `return` that was bound to `ANSWER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_binding: Option<String>,
}

impl TestsOutcome {
    fn simple(
        status: CheckStatus,
        message: Option<String>,
        protocol: Option<TestProtocol>,
    ) -> Self {
        TestsOutcome {
            status,
            message,
            protocol,
            passed_cases: 0,
            total_cases: 0,
            cases: Vec::new(),
            answer_binding: None,
        }
    }
}

/// One type error in the extracted code (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TypeErrorAt {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// The type check: `line`/`column`/`message` repeat the first error; `errors` lists them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TypecheckOutcome {
    pub status: CheckStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The mode the code was checked in (when the check ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<TypecheckMode>,
    /// The answer's own `--!strict` chose strict mode.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mode_from_answer: bool,
    /// Definitions files loaded for the check (`roblox-stubs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub definitions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<TypeErrorAt>,
    /// Which analyzer ran the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzer: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl TypecheckOutcome {
    fn simple(status: CheckStatus, message: Option<String>) -> Self {
        TypecheckOutcome {
            status,
            message,
            line: None,
            column: None,
            mode: None,
            mode_from_answer: false,
            definitions: Vec::new(),
            errors: Vec::new(),
            analyzer: None,
        }
    }

    /// The outcome of a type check that ran, or `n/a` with the reason it could not.
    pub fn from_check(result: Result<Checked, TypecheckError>) -> Self {
        match result {
            Err(e) => TypecheckOutcome::simple(CheckStatus::NotApplicable, Some(e.to_string())),
            Ok(c) => {
                let errors: Vec<TypeErrorAt> = c
                    .errors
                    .into_iter()
                    .map(|e| TypeErrorAt {
                        line: e.line,
                        column: e.column,
                        message: e.message,
                    })
                    .collect();
                let first = errors.first();
                TypecheckOutcome {
                    status: if errors.is_empty() {
                        CheckStatus::Pass
                    } else {
                        CheckStatus::Fail
                    },
                    message: first.map(|e| {
                        if errors.len() == 1 {
                            e.message.clone()
                        } else {
                            format!("{} (and {} more type errors)", e.message, errors.len() - 1)
                        }
                    }),
                    line: first.map(|e| e.line),
                    column: first.map(|e| e.column),
                    mode: Some(c.mode),
                    mode_from_answer: c.mode_from_answer,
                    definitions: c.definitions,
                    analyzer: Some(c.analyzer),
                    errors,
                }
            }
        }
    }
}

/// Folds an enabled type check into the verdict (see the module docs for the rule).
pub fn verdict_with_typecheck(verdict: Verdict, typecheck: &TypecheckOutcome) -> Verdict {
    match (verdict, typecheck.status) {
        // Earlier stages, the evaluator's own failures and Studio-only tasks keep their verdict.
        (
            Verdict::NoResponse
            | Verdict::NoCode
            | Verdict::ParseError
            | Verdict::CompileError
            | Verdict::HostError
            | Verdict::NotExecutable,
            _,
        ) => verdict,
        (_, CheckStatus::Fail) => Verdict::TypeError,
        (Verdict::Pass, CheckStatus::NotApplicable) => Verdict::HostError,
        _ => verdict,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckResults {
    pub parse: CheckOutcome,
    pub compile: CheckOutcome,
    pub typecheck: TypecheckOutcome,
    pub tests: TestsOutcome,
}

/// The pattern score: a separate column, never part of a pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PatternScore {
    /// `code` when matched against the extracted code, `response` when there was no code.
    pub target: String,
    pub expected_total: u32,
    pub expected_matched: u32,
    pub forbidden_total: u32,
    pub forbidden_found: u32,
    /// (expected matched + forbidden absent) / (expected + forbidden); None without patterns.
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden_hits: Vec<String>,
}

/// What the sandbox run looked like (absent when nothing ran).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    pub status: RunStatus,
    pub harness: HarnessProgress,
    pub output: String,
    pub output_truncated: bool,
    pub steps: u64,
    pub elapsed_ms: f64,
    /// Builtins the answer shadowed (e.g. a global `table`), restored for the test section.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored_globals: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timings {
    pub extract_ms: f64,
    pub parse_ms: f64,
    pub compile_ms: f64,
    /// The type check, including starting the analyzer's process.
    #[serde(default)]
    pub typecheck_ms: f64,
    pub run_ms: f64,
}

/// One scored sample: a line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SampleResult {
    pub task_id: String,
    pub category: String,
    pub difficulty: String,
    pub sample: u32,
    pub verdict: Verdict,
    /// Every enabled check among parse, compile, typecheck and tests passed.
    pub passed: bool,
    /// Why the sample was not executable, for `not_executable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_executable_reason: Option<String>,
    pub response: Option<String>,
    pub extraction: Extraction,
    pub checks: CheckResults,
    pub patterns: PatternScore,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunSummary>,
    /// The tests ran against vcurate's Roblox stubs, or the type check against their definitions:
    /// the result is against stubs, not Roblox.
    pub roblox_stubs: bool,
    /// Tasks that expect a tool call: whether the reply made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call: Option<ToolCallOutcome>,
    pub timings: Timings,
}

/// The tool-call check of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolCallOutcome {
    pub status: CheckStatus,
    /// Why it failed: no call, another function, an argument that differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The calls the reply made.
    pub calls: Vec<ReplyToolCall>,
}

/// Reports put a task that expects a tool call in a category of its own: `tool_call/<category>`.
pub const TOOL_CALL_CATEGORY: &str = "tool_call";

/// The call of `calls` that `expected` asks for and the code it carries, or why none fits.
fn match_tool_call(
    expected: &crate::core::eval_task::ExpectedToolCall,
    calls: &[ReplyToolCall],
) -> Result<Option<String>, String> {
    let named: Vec<&ReplyToolCall> = calls.iter().filter(|c| c.name == expected.name).collect();
    if named.is_empty() {
        let made: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
        return Err(if made.is_empty() {
            format!("no tool call; expected a call to `{}`", expected.name)
        } else {
            format!(
                "no call to `{}` (called: {})",
                expected.name,
                made.join(", ")
            )
        });
    }
    let mut why = String::new();
    for call in named {
        let differs = expected
            .arguments
            .iter()
            .find(|(k, v)| call.arguments.get(*k) != Some(v));
        if let Some((k, v)) = differs {
            why = match call.arguments.get(k) {
                Some(got) => format!("argument `{k}` is {got}, expected {v}"),
                None => format!("argument `{k}` is missing (expected {v})"),
            };
            continue;
        }
        let Some(arg) = &expected.code_argument else {
            return Ok(None);
        };
        match call.arguments.get(arg) {
            Some(serde_json::Value::String(code)) => return Ok(Some(code.clone())),
            Some(other) => why = format!("code argument `{arg}` is {other}, not a string"),
            None => why = format!("code argument `{arg}` is missing"),
        }
    }
    Err(format!(
        "the call to `{}` does not fit: {why}",
        expected.name
    ))
}

/// A compile error from the Luau compiler.
pub use crate::luau::CompileError;

/// Compiles Luau source with the Luau compiler (mlua's vendored Luau), without running it.
pub fn compile_luau(code: &str) -> Result<(), CompileError> {
    crate::luau::compile(code, "answer")
}

/// The unbiased pass@k estimator of Chen et al. (2021), `1 - C(n-c, k) / C(n, k)`, computed as
/// `1 - prod_{i=n-c+1}^{n} (1 - k/i)` so that no binomial coefficient is ever formed.
/// None when `n < k` (the estimate needs at least k samples) or `k == 0`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> Option<f64> {
    if k == 0 || n < k || c > n {
        return None;
    }
    if n - c < k {
        return Some(1.0);
    }
    let mut prod = 1.0f64;
    for i in (n - c + 1)..=n {
        prod *= 1.0 - k as f64 / i as f64;
    }
    Some(1.0 - prod)
}

/// If the code's last top-level statement is `return ...`, rewrite it to `local ANSWER = ...`
/// so test code can follow it in the same chunk. Line numbers are unchanged.
fn bind_module_return(code: &str, ast: &full_moon::ast::Ast) -> Option<String> {
    use full_moon::ast::LastStmt;
    use full_moon::node::Node;
    let LastStmt::Return(ret) = ast.nodes().last_stmt()? else {
        return None;
    };
    let start = ret.token().start_position()?.bytes();
    let end = ret.token().end_position()?.bytes();
    if code.get(start..end) != Some("return") {
        return None;
    }
    let replacement = if ret.returns().is_empty() {
        "local ANSWER = nil"
    } else {
        "local ANSWER ="
    };
    Some(format!("{}{}{}", &code[..start], replacement, &code[end..]))
}

/// Renames `solution:N:` in messages to `tests:M:` when line N falls in the appended test code,
/// which starts after `lines_before_tests` lines of the combined chunk.
fn relabel_lines(message: &str, lines_before_tests: usize) -> String {
    let re = regex::Regex::new(r"solution:(\d+):").expect("static regex");
    re.replace_all(message, |c: &regex::Captures| {
        let n: usize = c[1].parse().unwrap_or(0);
        if n > lines_before_tests {
            format!("tests:{}:", n - lines_before_tests)
        } else {
            format!("solution:{n}:")
        }
    })
    .into_owned()
}

const MARKER: &str = "@@LUAU_BENCH_RESULT@@";

/// Reads luau-bench result markers from captured output.
/// Format (luau-bench `luau_bench/runtime/executor.py`): `@@LUAU_BENCH_RESULT@@PASS:label`,
/// `...FAIL:label:message`, `...ERROR:label:message`.
pub fn parse_luau_bench_markers(output: &str) -> Vec<CaseResult> {
    let mut cases = Vec::new();
    for line in output.lines() {
        let Some(payload) = line.trim().strip_prefix(MARKER) else {
            continue;
        };
        if let Some(label) = payload.strip_prefix("PASS:") {
            cases.push(CaseResult {
                name: label.to_string(),
                passed: true,
                message: None,
            });
        } else if let Some(rest) = payload
            .strip_prefix("FAIL:")
            .or_else(|| payload.strip_prefix("ERROR:"))
        {
            let (name, msg) = match rest.split_once(':') {
                Some((n, m)) => (n.to_string(), Some(m.to_string())),
                None => (rest.to_string(), None),
            };
            cases.push(CaseResult {
                name,
                passed: false,
                message: msg,
            });
        }
    }
    cases
}

fn score_patterns(task: &Task, target_text: &str, target: &str) -> PatternScore {
    let mut s = PatternScore {
        target: target.to_string(),
        expected_total: task.checks.patterns.len() as u32,
        expected_matched: 0,
        forbidden_total: task.checks.forbidden_patterns.len() as u32,
        forbidden_found: 0,
        score: None,
        missing: Vec::new(),
        forbidden_hits: Vec::new(),
    };
    for p in &task.checks.patterns {
        match regex::Regex::new(p) {
            Ok(re) if re.is_match(target_text) => s.expected_matched += 1,
            _ => s.missing.push(p.clone()),
        }
    }
    for p in &task.checks.forbidden_patterns {
        if regex::Regex::new(p).is_ok_and(|re| re.is_match(target_text)) {
            s.forbidden_found += 1;
            s.forbidden_hits.push(p.clone());
        }
    }
    let total = s.expected_total + s.forbidden_total;
    if total > 0 {
        s.score = Some(
            (s.expected_matched + s.forbidden_total - s.forbidden_found) as f64 / total as f64,
        );
    }
    s
}

/// Milliseconds since `t`, to the microsecond.
fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The checks that need code: everything after extraction. Runs on an isolation thread.
fn check_code(
    task: &Task,
    code: &str,
    timings: &mut Timings,
) -> (CheckResults, Option<RunSummary>, Verdict) {
    let t = Instant::now();
    let parsed = crate::luau::parse_ast(code);
    timings.parse_ms = ms(t);
    let parse = if !task.checks.parse {
        CheckOutcome::skipped()
    } else {
        match &parsed {
            Ok(_) => CheckOutcome::pass(),
            Err(e) => CheckOutcome {
                status: CheckStatus::Fail,
                message: Some(e.message.clone()),
                line: Some(e.line),
                column: Some(e.column),
            },
        }
    };

    let t = Instant::now();
    let compile = if !task.checks.compile {
        CheckOutcome::skipped()
    } else {
        match compile_luau(code) {
            Ok(()) => CheckOutcome::pass(),
            Err(e) => CheckOutcome {
                status: CheckStatus::Fail,
                message: Some(e.message),
                line: e.line,
                column: None,
            },
        }
    };
    timings.compile_ms = ms(t);

    // The type check runs in score_sample, outside this thread's deadline: it is a child
    // process with a deadline of its own.
    let mut checks = CheckResults {
        parse,
        compile,
        typecheck: TypecheckOutcome::simple(CheckStatus::Skipped, None),
        tests: TestsOutcome::simple(CheckStatus::Skipped, None, None),
    };
    if checks.parse.is_fail() {
        let v = Verdict::ParseError;
        if let Some(tests) = &task.checks.tests {
            checks.tests = TestsOutcome::simple(
                CheckStatus::Fail,
                Some("not run: the answer does not parse".into()),
                Some(tests.protocol),
            );
        }
        return (checks, None, v);
    }
    if checks.compile.is_fail() {
        if let Some(tests) = &task.checks.tests {
            checks.tests = TestsOutcome::simple(
                CheckStatus::Fail,
                Some("not run: the answer does not compile".into()),
                Some(tests.protocol),
            );
        }
        return (checks, None, Verdict::CompileError);
    }
    let Some(tests) = &task.checks.tests else {
        return (checks, None, Verdict::Pass);
    };

    let bound = parsed
        .as_ref()
        .ok()
        .and_then(|ast| bind_module_return(code, ast));
    let answer = bound.as_deref().unwrap_or(code);
    let opts = SandboxOptions {
        limits: task.limits,
        roblox_stubs: task.roblox_stubs,
    };
    let mut lines_before_tests = 0;
    let program = match tests.protocol {
        TestProtocol::Harness => {
            let nonce = sandbox::new_nonce();
            let head = format!("{answer}\n{}\n", harness_begin_line(&nonce));
            lines_before_tests = head.matches('\n').count();
            Program {
                source: format!("{head}{}\n{}\n", tests.code, harness_finish_line(&nonce)),
                chunk_name: "solution".into(),
                harness_nonce: Some(nonce),
            }
        }
        TestProtocol::LuauBench => Program {
            source: tests.code.replace(CODE_PLACEHOLDER, answer),
            chunk_name: "harness".into(),
            harness_nonce: None,
        },
    };
    let t = Instant::now();
    let report = sandbox::run_inline(&program, &opts);
    timings.run_ms = ms(t);

    let cases = match tests.protocol {
        TestProtocol::Harness => report.cases.clone(),
        TestProtocol::LuauBench => parse_luau_bench_markers(&report.output),
    };
    let passed_cases = cases.iter().filter(|c| c.passed).count() as u32;
    let relabel = |m: &str| match tests.protocol {
        TestProtocol::Harness => relabel_lines(m, lines_before_tests),
        TestProtocol::LuauBench => m.to_string(),
    };
    let (verdict, message) = match &report.status {
        RunStatus::Limit { kind } => (
            match kind {
                LimitKind::Time => Verdict::TimeLimit,
                LimitKind::Instructions => Verdict::InstructionLimit,
                LimitKind::Memory => Verdict::MemoryLimit,
                LimitKind::HardTimeout => Verdict::HardTimeout,
            },
            Some(kind.message().to_string()),
        ),
        RunStatus::CompileError { message } => (
            Verdict::CompileError,
            Some(format!(
                "answer + tests did not compile: {}",
                relabel(message)
            )),
        ),
        RunStatus::Error { message } => (Verdict::RuntimeError, Some(relabel(message))),
        RunStatus::HostError { message } => (Verdict::HostError, Some(message.clone())),
        RunStatus::Completed => {
            if tests.protocol == TestProtocol::Harness
                && report.harness != HarnessProgress::Finished
            {
                (
                    Verdict::HarnessIncomplete,
                    Some("the test section did not run to its end".into()),
                )
            } else if cases.is_empty() {
                (
                    Verdict::NoTestCases,
                    Some("the tests reported no cases".into()),
                )
            } else if passed_cases < cases.len() as u32 {
                (
                    Verdict::TestFailure,
                    Some(format!(
                        "{} of {} cases failed",
                        cases.len() as u32 - passed_cases,
                        cases.len()
                    )),
                )
            } else {
                (Verdict::Pass, None)
            }
        }
    };
    let cases: Vec<CaseResult> = cases
        .into_iter()
        .map(|mut c| {
            c.message = c.message.map(|m| relabel(&m));
            c
        })
        .collect();
    checks.tests = TestsOutcome {
        status: if verdict == Verdict::Pass {
            CheckStatus::Pass
        } else {
            CheckStatus::Fail
        },
        message,
        protocol: Some(tests.protocol),
        passed_cases,
        total_cases: cases.len() as u32,
        cases,
        answer_binding: bound.as_ref().map(|_| "ANSWER".to_string()),
    };
    let run = RunSummary {
        status: report.status,
        harness: report.harness,
        output: report.output,
        output_truncated: report.output_truncated,
        steps: report.steps,
        elapsed_ms: report.elapsed_ms,
        restored_globals: report.restored_globals,
    };
    (checks, Some(run), verdict)
}

/// Scores one response (None: the task had no response) to one task.
pub fn score_sample(task: &Task, sample: u32, response: Option<&str>) -> SampleResult {
    let mut timings = Timings::default();
    let t = Instant::now();
    let no_code = |rule| Extraction {
        rule,
        code: None,
        block_index: None,
        fenced_blocks: 0,
        tagged_blocks: 0,
        after_think: false,
    };
    // A task that expects a tool call: the call decides, and its code argument is the code.
    let tool_call = task.checks.tool_call.as_ref().map(|expected| {
        let calls = response.map(tool_calls).unwrap_or_default();
        let matched = match_tool_call(expected, &calls);
        (matched, calls)
    });
    let extraction = match (response, &tool_call) {
        (None, _) => no_code(ExtractionRule::NoResponse),
        (Some(_), Some((Ok(Some(code)), _))) => Extraction {
            code: Some(code.clone()),
            ..no_code(ExtractionRule::ToolCallArgument)
        },
        (Some(_), Some(_)) => no_code(ExtractionRule::ToolCallArgument),
        (Some(r), None) => extract(r),
    };
    timings.extract_ms = ms(t);

    let patterns = match (&extraction.code, response) {
        (Some(code), _) => score_patterns(task, code, "code"),
        (None, Some(r)) => score_patterns(task, r, "response"),
        (None, None) => score_patterns(task, "", "response"),
    };
    let mut result = SampleResult {
        task_id: task.id.clone(),
        category: task.category.clone(),
        difficulty: task.difficulty.clone(),
        sample,
        verdict: Verdict::NoCode,
        passed: false,
        not_executable_reason: None,
        response: response.map(str::to_string),
        extraction: extraction.clone(),
        checks: CheckResults {
            parse: CheckOutcome::skipped(),
            compile: CheckOutcome::skipped(),
            typecheck: TypecheckOutcome::simple(CheckStatus::Skipped, None),
            tests: TestsOutcome::simple(
                CheckStatus::Skipped,
                None,
                task.checks.tests.as_ref().map(|t| t.protocol),
            ),
        },
        patterns,
        run: None,
        roblox_stubs: task.roblox_stubs && (task.checks.tests.is_some() || task.checks.typecheck),
        tool_call: None,
        timings,
    };
    if let Some((matched, calls)) = tool_call {
        result.category = format!("{TOOL_CALL_CATEGORY}/{}", task.category);
        let code_checks = task
            .checks
            .tool_call
            .as_ref()
            .and_then(|c| c.code_argument.as_ref())
            .is_some();
        match matched {
            Err(why) if response.is_some() => {
                result.verdict = Verdict::ToolCallMismatch;
                result.tool_call = Some(ToolCallOutcome {
                    status: CheckStatus::Fail,
                    message: Some(why),
                    calls,
                });
                return result;
            }
            Err(_) => {}
            Ok(_) => {
                result.tool_call = Some(ToolCallOutcome {
                    status: CheckStatus::Pass,
                    message: None,
                    calls,
                });
                if !code_checks && task.runner == Runner::Sandbox {
                    result.verdict = Verdict::Pass;
                    result.passed = true;
                    return result;
                }
            }
        }
    }

    if task.runner == Runner::RobloxStudio {
        let reason =
            "this task's checks run inside Roblox Studio; vcurate cannot execute them".to_string();
        result.verdict = Verdict::NotExecutable;
        result.not_executable_reason = Some(reason.clone());
        result.checks.parse = CheckOutcome::na(reason.clone());
        result.checks.compile = CheckOutcome::na(reason.clone());
        result.checks.typecheck =
            TypecheckOutcome::simple(CheckStatus::NotApplicable, Some(reason.clone()));
        result.checks.tests = TestsOutcome::simple(CheckStatus::NotApplicable, Some(reason), None);
        result.roblox_stubs = false;
        return result;
    }

    let Some(code) = extraction.code.clone() else {
        let (verdict, why) = match response {
            None => (Verdict::NoResponse, "no response"),
            Some(_) => (Verdict::NoCode, "no code found in the response"),
        };
        result.verdict = verdict;
        let fail = |enabled: bool| {
            if enabled {
                CheckOutcome::fail(why)
            } else {
                CheckOutcome::skipped()
            }
        };
        result.checks.parse = fail(task.checks.parse);
        result.checks.compile = fail(task.checks.compile);
        if task.checks.typecheck {
            result.checks.typecheck =
                TypecheckOutcome::simple(CheckStatus::Fail, Some(why.to_string()));
        }
        if let Some(tests) = &task.checks.tests {
            result.checks.tests = TestsOutcome::simple(
                CheckStatus::Fail,
                Some(format!("not run: {why}")),
                Some(tests.protocol),
            );
        }
        return result;
    };

    // Parsing, compiling and running happen on an isolation thread with a big stack and a
    // wall-clock deadline: hostile input can neither overflow the host's stack nor hang it.
    let code_for_typecheck = code.clone();
    let task_owned = task.clone();
    let mut t_inner = result.timings.clone();
    let deadline = sandbox::hard_deadline(&task.limits);
    match sandbox::isolate(deadline, move || {
        let out = check_code(&task_owned, &code, &mut t_inner);
        (out, t_inner)
    }) {
        Isolated::Done(((checks, run, verdict), timings)) => {
            result.checks = checks;
            result.run = run;
            result.verdict = verdict;
            result.timings = timings;
        }
        Isolated::TimedOut => {
            result.verdict = Verdict::HardTimeout;
            result.checks.tests = TestsOutcome::simple(
                CheckStatus::Fail,
                Some(LimitKind::HardTimeout.message().into()),
                task.checks.tests.as_ref().map(|t| t.protocol),
            );
        }
        Isolated::Panicked(m) => {
            result.verdict = Verdict::HostError;
            result.checks.tests = TestsOutcome::simple(CheckStatus::Fail, Some(m), None);
        }
    }
    if task.checks.typecheck {
        let t = Instant::now();
        result.checks.typecheck = TypecheckOutcome::from_check(typecheck::typecheck(
            &code_for_typecheck,
            task.checks.typecheck_mode.unwrap_or_default(),
            task.roblox_stubs,
        ));
        result.timings.typecheck_ms = ms(t);
        result.verdict = verdict_with_typecheck(result.verdict, &result.checks.typecheck);
    }
    result.passed = result.verdict == Verdict::Pass;
    result
}

/// Scores every response; a task without any response gets one `no_response` sample. Results
/// come back in task order, then sample order. `on_done` is called once per finished sample.
pub fn score_all(
    tasks: &[Task],
    responses: &[Response],
    on_done: &(dyn Fn() + Sync),
) -> Vec<SampleResult> {
    let mut by_task: BTreeMap<&str, Vec<&Response>> = BTreeMap::new();
    for r in responses {
        by_task.entry(r.task_id.as_str()).or_default().push(r);
    }
    let mut work: Vec<(usize, &Task, u32, Option<&str>)> = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        match by_task.get(task.id.as_str()) {
            Some(rs) => {
                for r in rs {
                    work.push((i, task, r.sample, Some(r.response.as_str())));
                }
            }
            None => work.push((i, task, 0, None)),
        }
    }
    let mut scored: Vec<(usize, SampleResult)> = work
        .into_par_iter()
        .map(|(i, task, sample, response)| {
            let r = score_sample(task, sample, response);
            on_done();
            (i, r)
        })
        .collect();
    scored.sort_by_key(|(i, r)| (*i, r.sample));
    scored.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::task::{Checks, Limits, Tests};

    fn task_with_tests(code: &str) -> Task {
        Task {
            id: "t".into(),
            category: "c".into(),
            difficulty: "easy".into(),
            system: None,
            prompt: Some("p".into()),
            messages: vec![],
            tools: vec![],
            checks: Checks {
                tests: Some(Tests {
                    protocol: TestProtocol::Harness,
                    code: code.into(),
                }),
                ..Checks::default()
            },
            limits: Limits {
                time_ms: 1_000,
                instructions: 5_000_000,
                memory_bytes: 16 << 20,
            },
            roblox_stubs: false,
            runner: Runner::Sandbox,
            reference: None,
            tags: vec![],
            source: None,
        }
    }

    /// A Studio-agent task: the model must call `run_code` with code that defines `double`
    /// (run against the task's tests like an answer) and `target` = "server".
    fn tool_task() -> Task {
        let mut t = task_with_tests("test(\"doubles\", function() expect_eq(double(21), 42) end)");
        t.tools = serde_json::from_value(serde_json::json!([
            {"type": "function", "function": {"name": "run_code", "parameters": {"type": "object", "properties": {"command": {"type": "string"}, "target": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "get_instance_children", "parameters": {"type": "object"}}}
        ]))
        .unwrap();
        t.checks.tool_call = Some(crate::core::eval_task::ExpectedToolCall {
            name: "run_code".into(),
            arguments: serde_json::json!({"target": "server"})
                .as_object()
                .unwrap()
                .clone(),
            code_argument: Some("command".into()),
        });
        t.validate().unwrap();
        t
    }

    /// Issue 15, item 6: a task that gives tools and expects a call is scored on the call (name
    /// and arguments as JSON) and runs the call's Luau like an answer, in a category of its own.
    #[test]
    fn tool_call_tasks_check_the_call_and_run_its_code() {
        let task = tool_task();
        let call = |name: &str, args: serde_json::Value| {
            format!(
                "<think>\nplan\n</think>\n\n<tool_call>\n{}\n</tool_call>",
                serde_json::json!({"name": name, "arguments": args})
            )
        };
        let good = call(
            "run_code",
            serde_json::json!({"command": "function double(x)\n\treturn x * 2\nend", "target": "server"}),
        );
        let r = score_sample(&task, 0, Some(&good));
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        assert_eq!(r.category, "tool_call/c");
        assert_eq!(r.extraction.rule, ExtractionRule::ToolCallArgument);
        assert_eq!(r.tool_call.as_ref().unwrap().status, CheckStatus::Pass);

        let cases = [
            (
                call("get_instance_children", serde_json::json!({})),
                Verdict::ToolCallMismatch,
                Some("no call to `run_code` (called: get_instance_children)"),
            ),
            (
                call(
                    "run_code",
                    serde_json::json!({"command": "function double(x) return x * 2 end", "target": "client"}),
                ),
                Verdict::ToolCallMismatch,
                Some("the call to `run_code` does not fit: argument `target` is \"client\", expected \"server\""),
            ),
            (
                "Sure! `double(x)` returns x * 2.".to_string(),
                Verdict::ToolCallMismatch,
                Some("no tool call; expected a call to `run_code`"),
            ),
            (
                call(
                    "run_code",
                    serde_json::json!({"command": "function double(x) return x * 3 end", "target": "server"}),
                ),
                Verdict::TestFailure,
                None,
            ),
            (
                call(
                    "run_code",
                    serde_json::json!({"command": "function double(x) return x * end", "target": "server"}),
                ),
                Verdict::ParseError,
                None,
            ),
        ];
        for (reply, verdict, why) in cases {
            let r = score_sample(&task, 0, Some(&reply));
            assert_eq!(r.verdict, verdict, "{reply}: {r:?}");
            assert!(!r.passed);
            assert_eq!(
                r.tool_call.as_ref().and_then(|c| c.message.as_deref()),
                why,
                "{reply}"
            );
        }
        // A call that alone decides (no code argument).
        let mut call_only = tool_task();
        call_only.checks.tool_call.as_mut().unwrap().code_argument = None;
        let r = score_sample(
            &call_only,
            0,
            Some(&call("run_code", serde_json::json!({"target": "server"}))),
        );
        assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        // Offering no such tool is a task error.
        let mut bad = tool_task();
        bad.tools.pop();
        bad.tools[0].function.name = "exec".into();
        assert!(bad
            .validate()
            .unwrap_err()
            .contains("not among the task's `tools`"));
    }

    fn binom(n: u64, k: u64) -> u128 {
        if k > n {
            return 0;
        }
        let mut r: u128 = 1;
        for i in 0..k {
            r = r * (n - i) as u128 / (i + 1) as u128;
        }
        r
    }

    #[test]
    fn pass_at_k_matches_the_closed_form() {
        for n in 1..=40u64 {
            for c in 0..=n {
                for k in 1..=n {
                    let closed = 1.0 - binom(n - c, k) as f64 / binom(n, k) as f64;
                    let est = pass_at_k(n, c, k).unwrap();
                    assert!(
                        (closed - est).abs() < 1e-9,
                        "n={n} c={c} k={k}: {closed} vs {est}"
                    );
                }
            }
        }
        assert_eq!(pass_at_k(3, 1, 5), None);
        assert!((pass_at_k(10, 3, 1).unwrap() - 0.3).abs() < 1e-12);
        // Large n stays finite and in range where binomials would overflow.
        let big = pass_at_k(2000, 37, 100).unwrap();
        assert!(big > 0.0 && big <= 1.0);
    }

    #[test]
    fn compile_errors_carry_line_numbers() {
        let e = compile_luau("local a = 1\nlocal b = \nreturn a").unwrap_err();
        assert_eq!(e.line, Some(3), "{e:?}");
        assert!(!e.message.is_empty());
        assert!(compile_luau("local t: {number} = {}\nt[1] = 2").is_ok());
        let e = compile_luau("local x = 1\nbreak\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e:?}");
    }

    #[test]
    fn module_style_answer_is_bound_to_answer() {
        let task = task_with_tests("test('m', function() expect_eq(ANSWER.double(2), 4) end)");
        let r = score_sample(
            &task,
            0,
            Some("```lua\nlocal M = {}\nfunction M.double(x) return x * 2 end\nreturn M\n```"),
        );
        assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.checks.tests);
        assert_eq!(r.checks.tests.answer_binding.as_deref(), Some("ANSWER"));
    }

    #[test]
    fn failing_case_reports_test_line_numbers() {
        let task = task_with_tests("test('ok', function() expect_eq(f(), 1) end)\ntest('bad', function()\n  expect_eq(f(), 2)\nend)");
        let r = score_sample(&task, 0, Some("local function f() return 1 end"));
        assert_eq!(r.verdict, Verdict::TestFailure);
        assert_eq!(
            (r.checks.tests.passed_cases, r.checks.tests.total_cases),
            (1, 2)
        );
        let msg = r.checks.tests.cases[1].message.as_deref().unwrap();
        assert!(msg.starts_with("tests:3:"), "{msg}");
        // Extracted code ends with a newline; the numbering must not shift.
        let r = score_sample(
            &task,
            0,
            Some("```lua\n-- one\n-- two\nlocal function f() return 1 end\n```\n"),
        );
        let msg = r.checks.tests.cases[1].message.as_deref().unwrap();
        assert!(msg.starts_with("tests:3:"), "{msg}");
        let r = score_sample(
            &task,
            0,
            Some("```lua\n\nlocal function f()\n  error('inside')\nend\n```"),
        );
        let msg = r.checks.tests.cases[0].message.as_deref().unwrap();
        assert!(msg.starts_with("solution:3: inside"), "{msg}");
        assert!(!r.passed);
    }

    #[test]
    fn verdicts_for_each_stage() {
        let task = task_with_tests("test('x', function() expect_eq(f(), 1) end)");
        assert_eq!(score_sample(&task, 0, None).verdict, Verdict::NoResponse);
        assert_eq!(
            score_sample(&task, 0, Some("Sorry, I can't.")).verdict,
            Verdict::NoCode
        );
        let r = score_sample(
            &task,
            0,
            Some("```lua\nlocal function f( return 1 end\n```"),
        );
        assert_eq!(r.verdict, Verdict::ParseError);
        assert_eq!(r.checks.parse.line, Some(1));
        assert_eq!(r.checks.tests.status, CheckStatus::Fail);
        let r = score_sample(
            &task,
            0,
            Some("```lua\nlocal function f() while true do end end\n```"),
        );
        assert!(
            matches!(r.verdict, Verdict::InstructionLimit | Verdict::TimeLimit),
            "{:?}",
            r.verdict
        );
        let r = score_sample(&task, 0, Some("```lua\nerror('at load')\n```"));
        assert_eq!(r.verdict, Verdict::RuntimeError);
        assert!(r
            .checks
            .tests
            .message
            .as_deref()
            .unwrap()
            .contains("solution:1: at load"));
        let r = score_sample(
            &task,
            0,
            Some("```lua\nlocal function f() return 1 end\n```"),
        );
        assert_eq!(r.verdict, Verdict::Pass);
        assert!(r.passed);
        assert_eq!(r.checks.typecheck.status, CheckStatus::Skipped);
    }

    fn checked(errors: Vec<(u32, u32, &str)>) -> Checked {
        Checked {
            mode: TypecheckMode::Strict,
            mode_from_answer: true,
            definitions: vec!["roblox-stubs".into()],
            errors: errors
                .into_iter()
                .map(|(line, column, m)| typecheck::TypeDiagnostic {
                    line,
                    column,
                    message: m.into(),
                })
                .collect(),
            analyzer: "a".into(),
        }
    }

    #[test]
    fn typecheck_outcomes_carry_every_error_and_never_pass_when_the_check_did_not_run() {
        let ok = TypecheckOutcome::from_check(Ok(checked(vec![])));
        assert_eq!(ok.status, CheckStatus::Pass);
        assert_eq!(ok.mode, Some(TypecheckMode::Strict));
        assert!(ok.mode_from_answer && ok.message.is_none());

        let bad = TypecheckOutcome::from_check(Ok(checked(vec![
            (2, 7, "Type 'string' could not be converted into 'number'"),
            (4, 1, "Cannot call a value of type number"),
        ])));
        assert_eq!(bad.status, CheckStatus::Fail);
        assert_eq!((bad.line, bad.column), (Some(2), Some(7)));
        assert_eq!(bad.errors.len(), 2);
        assert_eq!(bad.errors[1].line, 4);
        assert!(
            bad.message
                .as_deref()
                .unwrap()
                .ends_with("(and 1 more type errors)"),
            "{:?}",
            bad.message
        );

        let na = TypecheckOutcome::from_check(Err(TypecheckError::TimedOut { secs: 20 }));
        assert_eq!(na.status, CheckStatus::NotApplicable);
        assert!(na.message.unwrap().contains("20 s"));
    }

    #[test]
    fn typecheck_gates_a_pass_after_parse_and_compile() {
        let fail = TypecheckOutcome::from_check(Ok(checked(vec![(1, 1, "x")])));
        let pass = TypecheckOutcome::from_check(Ok(checked(vec![])));
        let na = TypecheckOutcome::from_check(Err(TypecheckError::TimedOut { secs: 1 }));
        use Verdict::*;
        assert_eq!(verdict_with_typecheck(Pass, &fail), TypeError);
        assert_eq!(verdict_with_typecheck(TestFailure, &fail), TypeError);
        assert_eq!(verdict_with_typecheck(RuntimeError, &fail), TypeError);
        assert_eq!(verdict_with_typecheck(ParseError, &fail), ParseError);
        assert_eq!(verdict_with_typecheck(CompileError, &fail), CompileError);
        assert_eq!(verdict_with_typecheck(NoCode, &fail), NoCode);
        assert_eq!(verdict_with_typecheck(Pass, &pass), Pass);
        assert_eq!(verdict_with_typecheck(TestFailure, &pass), TestFailure);
        // A check that could not run never lets a sample pass, and never hides a real failure.
        assert_eq!(verdict_with_typecheck(Pass, &na), HostError);
        assert_eq!(verdict_with_typecheck(TestFailure, &na), TestFailure);
    }

    #[test]
    fn typecheck_without_code_fails_and_studio_tasks_stay_not_applicable() {
        let mut task = task_with_tests("test('x', function() end)");
        task.checks.typecheck = true;
        let r = score_sample(&task, 0, Some("Sorry, I can't."));
        assert_eq!(r.verdict, Verdict::NoCode);
        assert_eq!(r.checks.typecheck.status, CheckStatus::Fail);
        task.runner = Runner::RobloxStudio;
        let r = score_sample(&task, 0, Some("local x = 1"));
        assert_eq!(r.verdict, Verdict::NotExecutable);
        assert_eq!(r.checks.typecheck.status, CheckStatus::NotApplicable);
    }

    #[test]
    fn patterns_never_decide_a_pass() {
        let mut task = task_with_tests("test('x', function() expect_eq(f(), 1) end)");
        task.checks.patterns = vec!["Signal".into(), r"GetService\(".into()];
        task.checks.forbidden_patterns = vec!["while true".into()];
        // Every pattern matches, but the code is wrong: fail, with a perfect pattern score.
        let r = score_sample(
            &task,
            0,
            Some("local Signal\nlocal function f() return 2 end -- GetService("),
        );
        assert_eq!(r.verdict, Verdict::TestFailure);
        assert_eq!(r.patterns.score, Some(1.0));
        // No pattern matches, but the code is right: pass, with a low pattern score.
        let r = score_sample(
            &task,
            0,
            Some("local function f() while true do return 1 end end"),
        );
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!(r.patterns.score, Some(0.0));
        assert_eq!(r.patterns.forbidden_hits, vec!["while true".to_string()]);
    }

    #[test]
    fn roblox_studio_tasks_are_not_executable_not_failed() {
        let mut task = task_with_tests("test('x', function() end)");
        task.runner = Runner::RobloxStudio;
        let r = score_sample(&task, 0, Some("local x = 1"));
        assert_eq!(r.verdict, Verdict::NotExecutable);
        assert!(!r.passed);
        assert_eq!(r.checks.tests.status, CheckStatus::NotApplicable);
        assert!(r.not_executable_reason.unwrap().contains("Roblox Studio"));
    }

    #[test]
    fn luau_bench_protocol_reads_markers() {
        let mut task = task_with_tests("");
        task.checks.tests = Some(Tests {
            protocol: TestProtocol::LuauBench,
            code: "--!strict\n{{CODE}}\nlocal function check(l, g, e)\n  if g == e then print('@@LUAU_BENCH_RESULT@@PASS:' .. l)\n  else print('@@LUAU_BENCH_RESULT@@FAIL:' .. l .. ':got ' .. tostring(g)) end\nend\ncheck('one', f(), 1)\ncheck('two', f() + 1, 2)".into(),
        });
        let r = score_sample(&task, 0, Some("local function f() return 1 end"));
        assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.checks.tests);
        assert_eq!(r.checks.tests.total_cases, 2);
        let r = score_sample(&task, 0, Some("local function f() return 0 end"));
        assert_eq!(r.verdict, Verdict::TestFailure);
        assert_eq!(r.checks.tests.cases[0].message.as_deref(), Some("got 0"));
        let cases = parse_luau_bench_markers("noise\n@@LUAU_BENCH_RESULT@@ERROR:lbl:boom: more\n");
        assert_eq!(
            cases,
            vec![CaseResult {
                name: "lbl".into(),
                passed: false,
                message: Some("boom: more".into())
            }]
        );
    }

    #[test]
    fn stubs_are_labelled_in_results() {
        let mut task = task_with_tests(
            "test('part', function()\n  local p = Instance.new('Part')\n  p.Parent = workspace\n  expect_eq(workspace:FindFirstChild('Part'), p)\n  expect_eq(typeof(Vector3.new(1,2,3)), 'Vector3')\nend)",
        );
        task.roblox_stubs = true;
        let r = score_sample(&task, 0, Some("local x = 1"));
        assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.checks.tests);
        assert!(r.roblox_stubs);
        // Without stubs the same test fails: the globals do not exist.
        task.roblox_stubs = false;
        let r = score_sample(&task, 0, Some("local x = 1"));
        assert_eq!(r.verdict, Verdict::TestFailure);
        assert!(!r.roblox_stubs);
    }

    #[test]
    fn score_all_orders_results_and_fills_missing_responses() {
        let mut a = task_with_tests("test('x', function() expect_eq(f(), 1) end)");
        a.id = "a".into();
        let mut b = a.clone();
        b.id = "b".into();
        let responses = vec![
            Response {
                task_id: "a".into(),
                sample: 1,
                response: "local function f() return 2 end".into(),
                model: None,
            },
            Response {
                task_id: "a".into(),
                sample: 0,
                response: "local function f() return 1 end".into(),
                model: None,
            },
        ];
        let results = score_all(&[a, b], &responses, &|| {});
        let summary: Vec<(&str, u32, Verdict)> = results
            .iter()
            .map(|r| (r.task_id.as_str(), r.sample, r.verdict))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("a", 0, Verdict::Pass),
                ("a", 1, Verdict::TestFailure),
                ("b", 0, Verdict::NoResponse)
            ]
        );
    }
}
