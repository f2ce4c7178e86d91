//! Reports: per-sample results as JSONL, and per-category aggregates (pass@1, pass@k, parse,
//! compile, type-check and test pass rates, and the pattern score in a column of its own) as JSON
//! and Markdown.
//!
//! The headline is always execution-scored pass@1. Samples of tasks that cannot run here are
//! listed, never folded into any rate. This module does not score anything; it only counts.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::score::{pass_at_k, CheckStatus, SampleResult, Verdict};
use super::task::{Task, TestProtocol};
use super::{EvalError, Result};

/// What the headline number means.
pub const HEADLINE: &str = "pass@1, execution-scored: a sample passes when its code parses, compiles with the Luau compiler, type-checks with Luau's analyzer where the task asks for it, and passes the task's tests in the sandbox";

/// Aggregates over one category (or all of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Aggregate {
    pub name: String,
    pub tasks: u32,
    /// Tasks vcurate can execute (the others are listed in `not_executable`).
    pub executable_tasks: u32,
    /// Samples of executable tasks.
    pub samples: u32,
    /// Mean over executable tasks of the unbiased pass@1 estimate (c / n).
    pub pass_at_1: Option<f64>,
    pub k: u32,
    /// Mean over executable tasks of the unbiased pass@k estimate; None when a task has fewer
    /// than k samples (see `pass_at_k_note`).
    pub pass_at_k: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_at_k_note: Option<String>,
    /// Share of samples whose code parses / compiles (among samples where the check ran).
    pub parse_rate: Option<f64>,
    pub compile_rate: Option<f64>,
    /// Share of samples that type-check, among samples whose type check ran (tasks that ask for
    /// one); `n/a` checks are left out and counted in `typecheck_na`.
    #[serde(default)]
    pub typecheck_rate: Option<f64>,
    /// Samples whose requested type check could not run.
    #[serde(default)]
    pub typecheck_na: u32,
    /// Share of samples (of tasks with tests) whose tests all pass.
    pub test_pass_rate: Option<f64>,
    /// Share of test cases passed, over all cases that ran.
    pub test_case_rate: Option<f64>,
    /// Mean regex pattern score: a separate column, never part of a pass.
    pub pattern_score: Option<f64>,
    /// Executable tasks without tests: their pass means "parses and compiles".
    pub tasks_without_tests: u32,
    /// Samples whose tests ran against vcurate's Roblox stubs, not Roblox.
    pub stub_samples: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotExecutable {
    pub task_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContaminationStatus {
    /// Nobody checked that the task set was absent from the model's training data.
    Unverified,
    /// A contamination audit of the training snapshot covered this task set and found it clean.
    Clean,
    /// A contamination audit found task-set content in the training data.
    Contaminated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Contamination {
    pub status: ContaminationStatus,
    pub message: String,
}

impl Contamination {
    /// The status when no training snapshot is linked to the run.
    pub fn unverified() -> Self {
        Contamination {
            status: ContaminationStatus::Unverified,
            message: "no training snapshot's contamination audit was linked to this run, so nobody has checked \
                      that these tasks were absent from the model's training data; treat the scores as possibly \
                      contaminated"
                .into(),
        }
    }
}

/// Where the inputs came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Inputs {
    pub tasks_file: String,
    pub tasks_sha256: String,
    pub responses_file: String,
    pub responses_sha256: String,
    /// See `task::task_set_id`; reports are comparable only when these are equal.
    pub task_set_id: String,
    /// What generated the responses, when `vcurate eval run --model` did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationInputs>,
}

/// The model and settings that generated a run's responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GenerationInputs {
    /// The Hugging Face model folder, as given.
    pub model_dir: String,
    /// sha256 of the model's `config.json`.
    pub model_config_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterInputs>,
    /// Samples per task.
    pub samples: u32,
    /// 0 means greedy.
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: usize,
    pub stop: Vec<String>,
    /// Base seed; each sample's seed is derived from it, the task id and the sample index.
    pub seed: u64,
    /// Token ids that end a response.
    pub eos_token_ids: Vec<u32>,
    /// Tokens generated over all samples.
    pub generated_tokens: u64,
    /// Samples per reason generation ended (`eos`, `stop_sequence`, `max_tokens`, `context_limit`).
    pub stop_reasons: BTreeMap<String, u64>,
    /// Where the model ran (`cpu`, ...).
    pub device: String,
    /// Chat-template variables set with `--template-var`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub template_vars: BTreeMap<String, serde_json::Value>,
}

/// The LoRA adapter a run's model was loaded with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AdapterInputs {
    /// The folder given with `--adapter`.
    pub dir: String,
    /// `mlx` or `peft`.
    pub format: String,
    /// The weights file that was loaded.
    pub weights_file: String,
    pub weights_sha256: String,
}

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    pub tool_version: String,
    pub headline: String,
    pub inputs: Inputs,
    pub overall: Aggregate,
    pub categories: Vec<Aggregate>,
    /// Samples per verdict.
    pub verdicts: BTreeMap<String, u64>,
    pub not_executable: Vec<NotExecutable>,
    pub contamination: Contamination,
    pub notes: Vec<String>,
}

fn rate(pass: u32, total: u32) -> Option<f64> {
    (total > 0).then(|| pass as f64 / total as f64)
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

fn aggregate(name: &str, tasks: &[&Task], results: &[&SampleResult], k: u32) -> Aggregate {
    let mut by_task: BTreeMap<&str, Vec<&SampleResult>> = BTreeMap::new();
    for r in results {
        by_task.entry(r.task_id.as_str()).or_default().push(r);
    }
    let (mut p1, mut pk) = (Vec::new(), Vec::new());
    let mut min_n: Option<u64> = None;
    let mut executable_tasks = 0;
    let mut tasks_without_tests = 0;
    for t in tasks {
        let Some(samples) = by_task.get(t.id.as_str()) else {
            continue;
        };
        if samples.iter().all(|s| s.verdict == Verdict::NotExecutable) {
            continue;
        }
        executable_tasks += 1;
        if t.checks.tests.is_none() {
            tasks_without_tests += 1;
        }
        let n = samples.len() as u64;
        let c = samples.iter().filter(|s| s.passed).count() as u64;
        p1.extend(pass_at_k(n, c, 1));
        min_n = Some(min_n.map_or(n, |m| m.min(n)));
        if let Some(v) = pass_at_k(n, c, k as u64) {
            pk.push(v);
        }
    }
    let exec: Vec<&&SampleResult> = results
        .iter()
        .filter(|r| r.verdict != Verdict::NotExecutable)
        .collect();
    let count = |f: &dyn Fn(&SampleResult) -> Option<bool>| -> (u32, u32) {
        let mut pass = 0;
        let mut total = 0;
        for r in &exec {
            if let Some(ok) = f(r) {
                total += 1;
                pass += ok as u32;
            }
        }
        (pass, total)
    };
    let ran = |s: CheckStatus| match s {
        CheckStatus::Pass => Some(true),
        CheckStatus::Fail => Some(false),
        _ => None,
    };
    let (parse_ok, parse_n) = count(&|r| ran(r.checks.parse.status));
    let (compile_ok, compile_n) = count(&|r| ran(r.checks.compile.status));
    let (typecheck_ok, typecheck_n) = count(&|r| ran(r.checks.typecheck.status));
    let typecheck_na = exec
        .iter()
        .filter(|r| r.checks.typecheck.status == CheckStatus::NotApplicable)
        .count() as u32;
    let (tests_ok, tests_n) = count(&|r| ran(r.checks.tests.status));
    let cases_ok: u32 = exec.iter().map(|r| r.checks.tests.passed_cases).sum();
    let cases_n: u32 = exec.iter().map(|r| r.checks.tests.total_cases).sum();
    let patterns: Vec<f64> = exec.iter().filter_map(|r| r.patterns.score).collect();
    let incomplete_k = pk.len() < p1.len();
    Aggregate {
        name: name.to_string(),
        tasks: tasks.len() as u32,
        executable_tasks,
        samples: exec.len() as u32,
        pass_at_1: mean(&p1),
        k,
        pass_at_k: if incomplete_k { None } else { mean(&pk) },
        pass_at_k_note: incomplete_k.then(|| {
            format!(
                "pass@{k} needs at least {k} samples per task; the fewest here was {}",
                min_n.unwrap_or(0)
            )
        }),
        parse_rate: rate(parse_ok, parse_n),
        compile_rate: rate(compile_ok, compile_n),
        typecheck_rate: rate(typecheck_ok, typecheck_n),
        typecheck_na,
        test_pass_rate: rate(tests_ok, tests_n),
        test_case_rate: rate(cases_ok, cases_n),
        pattern_score: mean(&patterns),
        tasks_without_tests,
        stub_samples: exec.iter().filter(|r| r.roblox_stubs).count() as u32,
    }
}

/// Builds the report from the task set and its scored samples.
pub fn build_report(
    tasks: &[Task],
    results: &[SampleResult],
    inputs: Inputs,
    k: u32,
    contamination: Contamination,
) -> Report {
    let all_tasks: Vec<&Task> = tasks.iter().collect();
    let all_results: Vec<&SampleResult> = results.iter().collect();
    let overall = aggregate("overall", &all_tasks, &all_results, k);

    let mut cats: BTreeMap<&str, (Vec<&Task>, Vec<&SampleResult>)> = BTreeMap::new();
    for t in tasks {
        cats.entry(t.category.as_str()).or_default().0.push(t);
    }
    for r in results {
        cats.entry(r.category.as_str()).or_default().1.push(r);
    }
    let categories = cats
        .iter()
        .map(|(name, (ts, rs))| aggregate(name, ts, rs, k))
        .collect();

    let mut verdicts = BTreeMap::new();
    for r in results {
        *verdicts
            .entry(r.verdict.as_str().to_string())
            .or_insert(0u64) += 1;
    }
    let mut not_executable: Vec<NotExecutable> = Vec::new();
    for r in results
        .iter()
        .filter(|r| r.verdict == Verdict::NotExecutable)
    {
        if not_executable.iter().all(|n| n.task_id != r.task_id) {
            not_executable.push(NotExecutable {
                task_id: r.task_id.clone(),
                reason: r.not_executable_reason.clone().unwrap_or_default(),
            });
        }
    }

    let mut notes = Vec::new();
    if overall.stub_samples > 0 {
        notes.push(format!(
            "{} samples ran against vcurate's Roblox stubs (game, Instance, task, Vector3, CFrame): stand-ins, not Roblox",
            overall.stub_samples
        ));
    }
    if overall.tasks_without_tests > 0 {
        notes.push(format!(
            "{} tasks have no tests: for them, pass means the code parses and compiles, nothing more",
            overall.tasks_without_tests
        ));
    }
    let marker_tasks = tasks
        .iter()
        .filter(|t| {
            t.checks
                .tests
                .as_ref()
                .is_some_and(|x| x.protocol == TestProtocol::LuauBench)
        })
        .count();
    if marker_tasks > 0 {
        notes.push(format!(
            "{marker_tasks} tasks use luau-bench's printed result markers, which an answer could print itself; \
             vcurate's harness protocol records results in the host instead"
        ));
    }
    if overall.typecheck_na > 0 {
        notes.push(format!(
            "{} samples asked for a type check that could not run here (see `checks.typecheck.message` in results.jsonl); \
             they are left out of the type-check rate, and those that passed everything else count as host errors",
            overall.typecheck_na
        ));
    }
    if let Some(n) = verdicts.get("host_error") {
        notes.push(format!("{n} samples hit a host error (the sandbox or the type checker failed, not the answer) and count as failures; see results.jsonl"));
    }
    if let Some(n) = verdicts.get("no_response") {
        notes.push(format!("{n} tasks had no response and count as failures"));
    }

    Report {
        tool_version: crate::TOOL_VERSION.to_string(),
        headline: HEADLINE.to_string(),
        inputs,
        overall,
        categories,
        verdicts,
        not_executable,
        contamination,
        notes,
    }
}

/// `57.1%`, or `n/a`.
pub fn pct(v: Option<f64>) -> String {
    match v {
        Some(x) => format!("{:.1}%", x * 100.0),
        None => "n/a".into(),
    }
}

fn row(a: &Aggregate, bold: bool) -> String {
    let name = if bold {
        format!("**{}**", a.name)
    } else {
        a.name.clone()
    };
    format!(
        "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        a.executable_tasks,
        a.samples,
        pct(a.pass_at_1),
        pct(a.pass_at_k),
        pct(a.parse_rate),
        pct(a.compile_rate),
        pct(a.typecheck_rate),
        pct(a.test_pass_rate),
        pct(a.test_case_rate),
        pct(a.pattern_score),
    )
}

/// The Markdown report.
pub fn to_markdown(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("# vcurate eval report\n\n");
    s.push_str(&format!(
        "**pass@1: {}** over {} executable tasks ({} samples)\n\n",
        pct(r.overall.pass_at_1),
        r.overall.executable_tasks,
        r.overall.samples
    ));
    s.push_str(&format!("_{}._\n\n", r.headline));
    if r.contamination.status != ContaminationStatus::Clean {
        s.push_str(&format!(
            "> **WARNING: contamination {}.** {}\n\n",
            match r.contamination.status {
                ContaminationStatus::Contaminated => "found",
                _ => "unverified",
            },
            r.contamination.message
        ));
    } else {
        s.push_str(&format!(
            "Contamination: clean. {}\n\n",
            r.contamination.message
        ));
    }
    let k = r.overall.k;
    s.push_str(&format!(
        "| category | tasks | samples | pass@1 | pass@{k} | parse | compile | types | tests | cases | patterns\\* |\n"
    ));
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in &r.categories {
        s.push_str(&row(c, false));
    }
    s.push_str(&row(&r.overall, true));
    s.push_str(
        "\n\\* Patterns: regex matches against the extracted code, reported separately; they never decide a pass.\n",
    );
    if let Some(note) = &r.overall.pass_at_k_note {
        s.push_str(&format!("\npass@{k}: n/a, {note}.\n"));
    }
    s.push_str("\n## Verdicts\n\n| verdict | samples |\n|---|---:|\n");
    for (v, n) in &r.verdicts {
        s.push_str(&format!("| {v} | {n} |\n"));
    }
    if !r.not_executable.is_empty() {
        s.push_str(&format!(
            "\n## Not executable here ({} tasks; neither passed nor failed)\n\n",
            r.not_executable.len()
        ));
        for n in &r.not_executable {
            s.push_str(&format!("- `{}`: {}\n", n.task_id, n.reason));
        }
    }
    if !r.notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        for n in &r.notes {
            s.push_str(&format!("- {n}\n"));
        }
    }
    s.push_str(&format!(
        "\n## Inputs\n\n- tasks: `{}` (sha256 `{}`, task set `{}`)\n- responses: `{}` (sha256 `{}`)\n",
        r.inputs.tasks_file,
        r.inputs.tasks_sha256,
        r.inputs.task_set_id,
        r.inputs.responses_file,
        r.inputs.responses_sha256,
    ));
    if let Some(g) = &r.inputs.generation {
        s.push_str(&format!("- generated by: model `{}`", g.model_dir));
        if let Some(a) = &g.adapter {
            s.push_str(&format!(
                " + {} adapter `{}` (weights sha256 `{}`)",
                a.format, a.dir, a.weights_sha256
            ));
        }
        let sampling = if g.temperature == 0.0 {
            "greedy".to_string()
        } else {
            format!("temperature {}, top-p {}", g.temperature, g.top_p)
        };
        s.push_str(&format!(
            "; {} samples per task, {sampling}, seed {}, max {} tokens{}; {} tokens generated on {}\n",
            g.samples,
            g.seed,
            g.max_tokens,
            if g.stop.is_empty() {
                String::new()
            } else {
                format!(", stop {:?}", g.stop)
            },
            g.generated_tokens,
            g.device
        ));
    }
    s.push_str(&format!("- vcurate {}\n", r.tool_version));
    s
}

/// Writes `results.jsonl`, `report.json` and `report.md` into `dir`.
pub fn write_run(dir: &Path, results: &[SampleResult], report: &Report) -> Result<()> {
    let mut jsonl = String::new();
    for r in results {
        jsonl.push_str(&serde_json::to_string(r)?);
        jsonl.push('\n');
    }
    crate::core::fs::write_atomic(&dir.join("results.jsonl"), jsonl.as_bytes())?;
    crate::core::fs::write_atomic(
        &dir.join("report.json"),
        (serde_json::to_string_pretty(report)? + "\n").as_bytes(),
    )?;
    crate::core::fs::write_atomic(&dir.join("report.md"), to_markdown(report).as_bytes())?;
    Ok(())
}

/// Reads a `report.json`, or the `report.json` inside a run folder.
pub fn load_report(path: &Path) -> Result<Report> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = fs_err::read_to_string(&file)?;
    serde_json::from_str(&text).map_err(|e| EvalError::BadReport {
        path: file,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::score::score_sample;
    use crate::eval::task::{Checks, Limits, Runner, Tests};

    fn task(id: &str, cat: &str, tests: bool) -> Task {
        Task {
            id: id.into(),
            category: cat.into(),
            difficulty: "easy".into(),
            system: None,
            prompt: Some("p".into()),
            messages: vec![],
            tools: vec![],
            checks: Checks {
                tests: tests.then(|| Tests {
                    protocol: TestProtocol::Harness,
                    code: "test('f', function() expect_eq(f(), 1) end)".into(),
                }),
                patterns: vec!["return".into()],
                ..Checks::default()
            },
            limits: Limits::default(),
            roblox_stubs: false,
            runner: Runner::Sandbox,
            reference: None,
            tags: vec![],
            source: None,
        }
    }

    fn inputs() -> Inputs {
        Inputs {
            tasks_file: "t.jsonl".into(),
            tasks_sha256: "00".into(),
            responses_file: "r.jsonl".into(),
            responses_sha256: "11".into(),
            task_set_id: "abc".into(),
            generation: None,
        }
    }

    const GOOD: &str = "local function f() return 1 end";
    const WRONG: &str = "local function f() return 2 end";

    fn fixture() -> (Vec<Task>, Vec<SampleResult>) {
        let a = task("a", "strings", true);
        let b = task("b", "tables", true);
        let c = task("c", "tables", false);
        let mut d = task("d", "roblox", false);
        d.runner = Runner::RobloxStudio;
        let results = vec![
            score_sample(&a, 0, Some(GOOD)),
            score_sample(&a, 1, Some(WRONG)),
            score_sample(&b, 0, Some(WRONG)),
            score_sample(&b, 1, Some(WRONG)),
            score_sample(&c, 0, Some("local x = (")),
            score_sample(&c, 1, Some(GOOD)),
            score_sample(&d, 0, Some(GOOD)),
        ];
        (vec![a, b, c, d], results)
    }

    #[test]
    fn aggregates_follow_from_the_verdicts() {
        let (tasks, results) = fixture();
        let r = build_report(&tasks, &results, inputs(), 2, Contamination::unverified());
        // a: 1/2, b: 0/2, c: 1/2 -> pass@1 = (0.5 + 0 + 0.5) / 3; d is not executable.
        assert_eq!(r.overall.executable_tasks, 3);
        assert_eq!(r.overall.samples, 6);
        assert!((r.overall.pass_at_1.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // pass@2 with n=2: a task passes iff any sample passed -> (1 + 0 + 1) / 3.
        assert!((r.overall.pass_at_k.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.overall.parse_rate.unwrap() - 5.0 / 6.0).abs() < 1e-12);
        assert!((r.overall.test_pass_rate.unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(r.overall.tasks_without_tests, 1);
        assert_eq!(r.not_executable.len(), 1);
        assert_eq!(r.not_executable[0].task_id, "d");
        let tables = r.categories.iter().find(|c| c.name == "tables").unwrap();
        assert!((tables.pass_at_1.unwrap() - 0.25).abs() < 1e-12);
        let roblox = r.categories.iter().find(|c| c.name == "roblox").unwrap();
        assert_eq!((roblox.executable_tasks, roblox.pass_at_1), (0, None));
        assert_eq!(r.verdicts.get("not_executable"), Some(&1));
    }

    #[test]
    fn typecheck_rate_counts_only_checks_that_ran() {
        use crate::eval::score::TypecheckOutcome;
        let (tasks, mut results) = fixture();
        // Before any task asks for a type check, there is no rate.
        let r = build_report(&tasks, &results, inputs(), 1, Contamination::unverified());
        assert_eq!(
            (r.overall.typecheck_rate, r.overall.typecheck_na),
            (None, 0)
        );
        assert!(to_markdown(&r).contains("| compile | types | tests |"));

        let status = |s: CheckStatus| {
            let mut o = TypecheckOutcome::from_check(Err(
                crate::eval::typecheck::TypecheckError::TimedOut { secs: 1 },
            ));
            o.status = s;
            o
        };
        // a: pass, fail; b: pass, n/a; the Studio task's n/a is not executable and not counted.
        results[0].checks.typecheck = status(CheckStatus::Pass);
        results[1].checks.typecheck = status(CheckStatus::Fail);
        results[2].checks.typecheck = status(CheckStatus::Pass);
        results[3].checks.typecheck = status(CheckStatus::NotApplicable);
        let r = build_report(&tasks, &results, inputs(), 1, Contamination::unverified());
        assert!((r.overall.typecheck_rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.overall.typecheck_na, 1);
        assert!(r
            .notes
            .iter()
            .any(|n| n.contains("1 samples asked for a type check that could not run")));
        let strings = r.categories.iter().find(|c| c.name == "strings").unwrap();
        assert_eq!(strings.typecheck_rate, Some(0.5));
        assert!(to_markdown(&r).contains("| 66.7% |"), "{}", to_markdown(&r));
    }

    #[test]
    fn pass_at_k_is_na_when_samples_are_too_few() {
        let (tasks, mut results) = fixture();
        results.retain(|r| !(r.task_id == "a" && r.sample == 1));
        let r = build_report(&tasks, &results, inputs(), 2, Contamination::unverified());
        assert_eq!(r.overall.pass_at_k, None);
        assert!(r
            .overall
            .pass_at_k_note
            .as_deref()
            .unwrap()
            .contains("fewest here was 1"));
    }

    #[test]
    fn markdown_leads_with_pass_at_1_and_keeps_patterns_apart() {
        let (tasks, results) = fixture();
        let r = build_report(&tasks, &results, inputs(), 1, Contamination::unverified());
        let md = to_markdown(&r);
        assert!(md.contains("**pass@1: 33.3%**"), "{md}");
        assert!(md.contains("WARNING: contamination unverified"));
        assert!(md.contains("patterns\\*"));
        assert!(md.contains("never decide a pass"));
        assert!(md.contains("`d`: this task's checks run inside Roblox Studio"));
    }

    #[test]
    fn markdown_and_json_say_what_generated_the_responses() {
        let (tasks, results) = fixture();
        let mut inp = inputs();
        inp.generation = Some(GenerationInputs {
            model_dir: "models/tiny".into(),
            model_config_sha256: "cc".into(),
            adapter: Some(AdapterInputs {
                dir: "runs/a".into(),
                format: "mlx".into(),
                weights_file: "runs/a/mlx/adapters.safetensors".into(),
                weights_sha256: "abcd".into(),
            }),
            samples: 3,
            temperature: 0.8,
            top_p: 0.95,
            max_tokens: 64,
            stop: vec![],
            seed: 7,
            eos_token_ids: vec![1],
            generated_tokens: 99,
            stop_reasons: BTreeMap::from([("eos".to_string(), 3)]),
            device: "cpu".into(),
            template_vars: BTreeMap::new(),
        });
        let r = build_report(&tasks, &results, inp, 1, Contamination::unverified());
        let md = to_markdown(&r);
        assert!(
            md.contains(
                "generated by: model `models/tiny` + mlx adapter `runs/a` (weights sha256 `abcd`)"
            ),
            "{md}"
        );
        assert!(md.contains("temperature 0.8, top-p 0.95, seed 7"), "{md}");
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        // A report without generation omits the key and still loads.
        let plain = build_report(&tasks, &results, inputs(), 1, Contamination::unverified());
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("generation"));
        assert!(!to_markdown(&plain).contains("generated by"));
    }

    #[test]
    fn run_folder_round_trips() {
        let (tasks, results) = fixture();
        let r = build_report(&tasks, &results, inputs(), 1, Contamination::unverified());
        let dir = tempfile::tempdir().unwrap();
        write_run(dir.path(), &results, &r).unwrap();
        assert_eq!(load_report(dir.path()).unwrap(), r);
        let lines = fs_err::read_to_string(dir.path().join("results.jsonl")).unwrap();
        let back: Vec<SampleResult> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // Timings are floats that JSON may round in the last bit; everything else is exact.
        let strip = |rs: &[SampleResult]| -> Vec<SampleResult> {
            rs.iter()
                .cloned()
                .map(|mut r| {
                    r.timings = Default::default();
                    if let Some(run) = r.run.as_mut() {
                        run.elapsed_ms = 0.0;
                    }
                    r
                })
                .collect()
        };
        assert_eq!(strip(&back), strip(&results));
        let err = load_report(&dir.path().join("results.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a vcurate eval report"), "{err}");
    }
}
