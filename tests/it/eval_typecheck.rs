//! The type check of `vcurate eval` against the real analyzer: the `vcurate-luau-analyze`
//! helper that cargo builds for these tests (Luau's Analysis library through luau-analyzer-sys).
//! Good code passes, type errors fail at the right line:column, the mode rule holds, Roblox-stub
//! code checks against `dataset/evals/roblox-stubs.d.luau`, the shipped reference solutions
//! type-check, and the report carries a type-check rate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vcurate::eval::score::{score_all, score_sample, CheckStatus, Verdict};
use vcurate::eval::task::{load_responses, load_tasks, Task, TypecheckMode};
use vcurate::eval::typecheck::{Analyzer, Checked};

use crate::util::{stderr, vcurate, write};

fn analyzer() -> Analyzer {
    Analyzer {
        program: PathBuf::from(env!("CARGO_BIN_EXE_vcurate-luau-analyze")),
        timeout: Duration::from_secs(60),
    }
}

fn check(code: &str, mode: TypecheckMode, stubs: bool) -> Checked {
    analyzer()
        .check(code, mode, stubs)
        .unwrap_or_else(|e| panic!("the type check did not run: {e}"))
}

/// (line, column, message) of each error.
fn errors(c: &Checked) -> Vec<(u32, u32, String)> {
    c.errors
        .iter()
        .map(|e| (e.line, e.column, e.message.clone()))
        .collect()
}

const GOOD: &str = r#"--[[ A typed stack. ]]
type Stack<T> = { items: { T }, push: (Stack<T>, T) -> (), pop: (Stack<T>) -> T? }

local function new<T>(): Stack<T>
	local s = { items = {} } :: any
	function s.push(self: Stack<T>, v: T)
		table.insert(self.items, v)
	end
	function s.pop(self: Stack<T>): T?
		return table.remove(self.items)
	end
	return s
end

local s = new() :: Stack<number>
s:push(1)
local top: number? = s:pop()
local copy = table.clone({ 1, 2, 3 })
print(top, #copy, string.format("%d", 3), ("x"):upper())
return new
"#;

#[test]
fn known_good_code_type_checks_in_both_modes() {
    for mode in [TypecheckMode::Nonstrict, TypecheckMode::Strict] {
        let c = check(GOOD, mode, false);
        assert_eq!(errors(&c), vec![], "{mode:?}");
        assert_eq!(c.mode, mode);
        assert!(
            c.analyzer.starts_with("luau-analyzer-sys"),
            "{}",
            c.analyzer
        );
    }
}

#[test]
fn type_errors_fail_at_their_line_and_column() {
    let code = "local a = 1\nlocal x: number = \"a\"\nlocal n = 5\n  n()\n";
    let c = check(code, TypecheckMode::Strict, false);
    let e = errors(&c);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!((e[0].0, e[0].1), (2, 1), "{e:?}");
    assert!(
        e[0].2.contains("number") && e[0].2.contains("string"),
        "{e:?}"
    );
    assert_eq!((e[1].0, e[1].1), (4, 3), "{e:?}");
    assert!(e[1].2.contains("Cannot call"), "{e:?}");
    // Lints are not type errors: the unused local `a` is not reported.
    assert!(!e.iter().any(|(_, _, m)| m.contains("never used")), "{e:?}");
    // A syntax error is an error too, at its line.
    let c = check(
        "local ok = 1\nlocal x = \n",
        TypecheckMode::Nonstrict,
        false,
    );
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    assert_eq!(c.errors[0].line, 3);
}

#[test]
fn strict_is_stricter_and_the_answer_can_only_raise_the_mode() {
    // Unannotated arithmetic is fine in nonstrict (`a` is any) and an error in strict.
    let code = "local function f(a) return a + 1 end\nlocal y = f(\"x\")\nreturn y\n";
    assert_eq!(
        errors(&check(code, TypecheckMode::Nonstrict, false)),
        vec![]
    );
    let c = check(code, TypecheckMode::Strict, false);
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    assert_eq!(c.errors[0].line, 1);

    // The answer's `--!strict` raises the task's nonstrict.
    let c = check(
        &format!("--!strict\n{code}"),
        TypecheckMode::Nonstrict,
        false,
    );
    assert_eq!((c.mode, c.mode_from_answer), (TypecheckMode::Strict, true));
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    assert_eq!(
        c.errors[0].line, 2,
        "positions follow the answer's own lines"
    );

    // `--!nocheck` and `--!nonstrict` in the answer do not switch a strict check off.
    for hint in ["--!nocheck", "--!nonstrict"] {
        let c = check(&format!("{hint}\n{code}"), TypecheckMode::Strict, false);
        assert_eq!(c.mode, TypecheckMode::Strict);
        assert_eq!(c.errors.len(), 1, "{hint}: {:?}", c.errors);
    }
}

const ROBLOX: &str = r#"--!strict
local Players = game:GetService("Players")
local part = Instance.new("Part")
part.Name = "Target"
part.Anchored = true
part.Parent = workspace
local found = workspace:FindFirstChild("Target")
local v = Vector3.new(1, 2, 3) + Vector3.new(0, 1, 0) * 2
local speed: number = v.Magnitude
local moved: Vector3 = CFrame.new(1, 2, 3) * v
task.spawn(function(n: number) print(n) end, 3)
local waited: number = task.wait(0.1)
print(Players.Name, found, speed, moved, waited, typeof(v))
"#;

#[test]
fn roblox_stub_code_checks_against_the_stub_definitions() {
    let c = check(ROBLOX, TypecheckMode::Strict, true);
    assert_eq!(errors(&c), vec![]);
    assert_eq!(c.definitions, vec!["roblox-stubs".to_string()]);

    // Without the definitions the same code has unknown globals.
    let c = check(ROBLOX, TypecheckMode::Strict, false);
    assert!(
        c.errors
            .iter()
            .any(|e| e.line == 2 && e.message.contains("Unknown global 'game'")),
        "{:?}",
        c.errors
    );

    // With them, what the stubs lack is still an error.
    let code =
        "--!strict\nlocal v = Vector3.new(1, 2, 3)\nlocal w = v:Rotate()\nprint(w, notAGlobal)\n";
    let e = errors(&check(code, TypecheckMode::Strict, true));
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0].0, 3, "{e:?}");
    assert!(e[0].2.contains("Rotate"), "{e:?}");
    assert_eq!(e[1].0, 4, "{e:?}");
    assert!(e[1].2.contains("Unknown global 'notAGlobal'"), "{e:?}");
}

/// Pins the known limits of luau-analyzer-sys 0.1.1 (module docs of `eval::typecheck`): its shim
/// reloads Luau's builtin definitions after registering the builtins, which drops `table.clone`
/// (restored by vcurate's fixups) and `assert`'s narrowing (not restorable from outside). When a
/// new version fixes the shim, this test fails: drop the fixups and the documented limitation.
#[test]
fn the_analyzer_crates_known_builtin_gaps() {
    let code = "local c = table.clone({ 1 })
local f = table.freeze({ a = 1 })
print(c, f)
";
    assert_eq!(errors(&check(code, TypecheckMode::Strict, false)), vec![]);
    let narrowing = "local function f(x: number?): number
	assert(x)
	return x + 1
end
return f
";
    let e = errors(&check(narrowing, TypecheckMode::Nonstrict, false));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, 3);
    assert!(e[0].2.contains("number?"), "{e:?}");
    // The same narrowing with an explicit branch is understood.
    let branch = "local function f(x: number?): number
	if x == nil then error(\"nil\") end
	return x + 1
end
return f
";
    assert_eq!(errors(&check(branch, TypecheckMode::Strict, false)), vec![]);
}

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dataset/evals")
        .join(name)
}

/// The shipped tasks with the type check switched on (they do not ask for one themselves).
fn shipped_tasks_with_typecheck() -> Vec<Task> {
    let mut tasks = load_tasks(&dataset("luau-basics.jsonl")).unwrap();
    for t in &mut tasks {
        t.checks.typecheck = true;
    }
    tasks
}

#[test]
fn shipped_reference_solutions_type_check_in_their_own_mode() {
    let tasks = shipped_tasks_with_typecheck();
    let responses = load_responses(&dataset("luau-basics.solutions.jsonl"), &tasks).unwrap();
    let results = score_all(&tasks, &responses, &|| {});
    assert_eq!(results.len(), tasks.len());
    let mut strict = 0;
    for r in &results {
        assert_eq!(
            r.checks.typecheck.status,
            CheckStatus::Pass,
            "`{}`: {:?}",
            r.task_id,
            r.checks.typecheck
        );
        // Nonstrict unless the solution asks for strict itself, as most do.
        let declares_strict = r
            .extraction
            .code
            .as_deref()
            .is_some_and(|c| c.starts_with("--!strict"));
        let want = if declares_strict {
            TypecheckMode::Strict
        } else {
            TypecheckMode::Nonstrict
        };
        assert_eq!(r.checks.typecheck.mode, Some(want), "`{}`", r.task_id);
        strict += declares_strict as usize;
        assert_eq!(r.verdict, Verdict::Pass, "`{}`", r.task_id);
        assert!(r.timings.typecheck_ms > 0.0);
    }
    assert!(
        strict >= 10,
        "only {strict} solutions were checked in strict mode"
    );
}

#[test]
fn a_type_error_fails_a_sample_whose_tests_pass() {
    let mut task = shipped_tasks_with_typecheck().remove(0);
    task.checks.tests = Some(vcurate::eval::task::Tests {
        protocol: Default::default(),
        code: "test('one', function() expect_eq(f(), 1) end)".into(),
    });
    let r = score_sample(
        &task,
        0,
        Some(
            "```luau\nlocal function f(): number\n\treturn 1\nend\nlocal label: string = f()\n```",
        ),
    );
    assert_eq!(r.checks.tests.status, CheckStatus::Pass);
    assert_eq!(r.checks.typecheck.status, CheckStatus::Fail);
    assert_eq!(
        (r.checks.typecheck.line, r.checks.typecheck.column),
        (Some(4), Some(1))
    );
    assert_eq!(r.verdict, Verdict::TypeError);
    assert!(!r.passed);
    // The same answer without the type check passes.
    task.checks.typecheck = false;
    assert_eq!(
        score_sample(
            &task,
            0,
            Some("local function f(): number return 1 end\nlocal label: string = f()")
        )
        .verdict,
        Verdict::Pass
    );
}

#[test]
fn eval_run_reports_the_type_check_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let task = |id: &str, mode: Option<&str>| {
        let mut checks = serde_json::json!({
            "typecheck": true,
            "tests": {"code": "test('adds', function() expect_eq(add(1, 2), 3) end)"}
        });
        if let Some(m) = mode {
            checks["typecheck_mode"] = m.into();
        }
        serde_json::json!({"id": id, "category": "basics", "difficulty": "easy",
            "prompt": "Write add(a, b).", "checks": checks})
        .to_string()
    };
    write(
        &dir.join("tasks.jsonl"),
        &format!(
            "{}\n{}\n",
            task("loose", None),
            task("strict", Some("strict"))
        ),
    );
    // Unannotated: passes nonstrict, fails strict (line 1).
    let answer = "local function add(a, b) return a + b end";
    let resp = |id: &str| serde_json::json!({"task_id": id, "response": answer}).to_string();
    write(
        &dir.join("responses.jsonl"),
        &format!("{}\n{}\n", resp("loose"), resp("strict")),
    );
    let o = vcurate(
        dir,
        &[
            "eval",
            "run",
            "--tasks",
            "tasks.jsonl",
            "--responses",
            "responses.jsonl",
            "--out",
            "run",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["overall"]["typecheck_rate"], 0.5, "{report:#}");
    assert_eq!(report["overall"]["typecheck_na"], 0);
    assert_eq!(report["verdicts"]["type_error"], 1);
    assert_eq!(report["verdicts"]["pass"], 1);
    let results: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("run/results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let strict = results.iter().find(|r| r["task_id"] == "strict").unwrap();
    let tc = &strict["checks"]["typecheck"];
    assert_eq!(tc["status"], "fail");
    assert_eq!(tc["mode"], "strict");
    assert_eq!(tc["errors"][0]["line"], 1);
    assert_eq!(strict["checks"]["tests"]["status"], "pass");
    let md = std::fs::read_to_string(dir.join("run/report.md")).unwrap();
    assert!(md.contains("| types |"), "{md}");
    assert!(md.contains("| 50.0% |"), "{md}");
}
