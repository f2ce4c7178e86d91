//! The sandboxed Luau runner: model-written code runs on the real Luau VM (mlua, vendored Luau)
//! in a fresh VM per run, with no way out to the host and bounded time, work and memory.
//!
//! What the code sees: Luau's base library without `loadstring`, `require`, `getfenv`,
//! `setfenv`; `string`, `table`, `math`, `utf8`, `bit32`, `buffer`, `vector`, `coroutine`; `os`
//! reduced to `os.clock` and `os.time`; no `debug`, no `io`. `print` is captured. The VM is in
//! Luau's sandbox mode: libraries, globals and the string metatable are read-only, and globals the
//! code assigns land in a per-run environment. Optionally, vcurate's Roblox stubs
//! (`roblox_stubs.luau`), which results label as stubs, not Roblox.
//!
//! Limits: the interrupt callback counts work (function calls, loop back-edges, pattern-matching
//! steps) and checks the clock; once a limit trips, every later interrupt raises again, so code
//! that catches the error with `pcall` still cannot continue. The heap is capped with
//! `set_memory_limit`. After a limit error the VM is collected and dropped, never reused. The
//! whole run also happens on its own thread with a wall-clock deadline (see [`isolate`]), so even
//! a hang inside a C function cannot hang the host.
//!
//! This module must never give run code a host capability (files, processes, network, module
//! loading, bytecode loading) and never reuse a VM between runs.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::task::Limits;

/// The Luau source of vcurate's Roblox stub globals.
pub const ROBLOX_STUBS: &str = include_str!("roblox_stubs.luau");

/// Max bytes of captured `print` output kept per run.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// Helpers given to test code by the harness protocol (see `TestProtocol::Harness`).
const HARNESS_PRELUDE: &str = r#"
local function fmt(v, depth)
    depth = depth or 0
    if type(v) == "string" then return string.format("%q", v) end
    if type(v) ~= "table" then return tostring(v) end
    if depth >= 3 then return "{...}" end
    local parts, n = {}, 0
    for k, x in pairs(v) do
        n += 1
        if n > 20 then table.insert(parts, "..."); break end
        table.insert(parts, "[" .. fmt(k, depth + 1) .. "]=" .. fmt(x, depth + 1))
    end
    return "{" .. table.concat(parts, ", ") .. "}"
end

local function deep_equal(a, b, seen)
    if a == b then return true end
    if type(a) ~= "table" or type(b) ~= "table" then return false end
    seen = seen or {}
    if seen[a] == b then return true end
    seen[a] = b
    for k, v in pairs(a) do
        if not deep_equal(v, rawget(b, k), seen) then return false end
    end
    for k in pairs(b) do
        if rawget(a, k) == nil then return false end
    end
    return true
end

local function prefix(message)
    if message then return tostring(message) .. ": " end
    return ""
end

local function expect_eq(actual, expected, message)
    if not deep_equal(actual, expected) then
        error(prefix(message) .. "expected " .. fmt(expected) .. ", got " .. fmt(actual), 2)
    end
end

local function expect_near(actual, expected, epsilon, message)
    epsilon = epsilon or 1e-9
    if type(actual) ~= "number" or math.abs(actual - expected) > epsilon then
        error(prefix(message) .. "expected " .. fmt(expected) .. " +/- " .. tostring(epsilon) .. ", got " .. fmt(actual), 2)
    end
end

local function expect(condition, message)
    if not condition then
        error(message or "expectation failed", 2)
    end
end

local function expect_error(fn, substring)
    local ok, err = pcall(fn)
    if ok then error("expected an error, but the call succeeded", 2) end
    if substring and not string.find(tostring(err), substring, 1, true) then
        error("expected an error containing " .. fmt(substring) .. ", got " .. fmt(tostring(err)), 2)
    end
end

return { expect_eq = expect_eq, expect_near = expect_near, expect = expect, expect_error = expect_error }
"#;

/// The Luau line the harness protocol puts between the answer and the test code.
pub fn harness_begin_line(nonce: &str) -> String {
    format!(
        "local __vcurate_begin, __vcurate_finish = ...; local test, expect_eq, expect_near, expect, expect_error = __vcurate_begin(\"{nonce}\")"
    )
}

/// The Luau line the harness protocol puts after the test code.
pub fn harness_finish_line(nonce: &str) -> String {
    format!("__vcurate_finish(\"{nonce}\")")
}

/// Options of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxOptions {
    pub limits: Limits,
    pub roblox_stubs: bool,
}

/// A program to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub source: String,
    /// Shown in error messages as `name:line: message`.
    pub chunk_name: String,
    /// When set, the harness API is installed and guarded by this token (see
    /// [`harness_begin_line`]); the answer never sees it.
    pub harness_nonce: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Time,
    Instructions,
    Memory,
    /// The run did not come back before the wall-clock deadline of [`isolate`]; its thread was
    /// abandoned.
    HardTimeout,
}

impl LimitKind {
    pub fn message(self) -> &'static str {
        match self {
            LimitKind::Time => "vcurate sandbox: time limit exceeded",
            LimitKind::Instructions => "vcurate sandbox: instruction limit exceeded",
            LimitKind::Memory => "vcurate sandbox: memory limit exceeded",
            LimitKind::HardTimeout => "vcurate sandbox: run abandoned at the wall-clock deadline",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    /// The chunk did not compile (e.g. test code appended to an answer that ends mid-string).
    CompileError {
        message: String,
    },
    /// An uncaught runtime error.
    Error {
        message: String,
    },
    Limit {
        kind: LimitKind,
    },
    /// The sandbox itself failed; not the code's fault.
    HostError {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How far the harness protocol got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HarnessProgress {
    NotUsed,
    NotStarted,
    Started,
    Finished,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunReport {
    pub status: RunStatus,
    /// Captured `print` output (capped at [`OUTPUT_CAP`] bytes).
    pub output: String,
    pub output_truncated: bool,
    pub cases: Vec<CaseResult>,
    pub harness: HarnessProgress,
    /// Builtin globals the answer shadowed, restored for the test section (harness protocol).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored_globals: Vec<String>,
    /// Interrupt points passed (the unit of the instruction limit).
    pub steps: u64,
    pub elapsed_ms: f64,
    /// The Roblox stubs were loaded: results are against stubs, not Roblox.
    pub roblox_stubs: bool,
}

impl RunReport {
    fn host_error(message: String, stubs: bool) -> Self {
        RunReport {
            status: RunStatus::HostError { message },
            output: String::new(),
            output_truncated: false,
            cases: Vec::new(),
            harness: HarnessProgress::NotUsed,
            restored_globals: Vec::new(),
            steps: 0,
            elapsed_ms: 0.0,
            roblox_stubs: stubs,
        }
    }
}

struct RunState {
    steps: Cell<u64>,
    limit: Cell<Option<LimitKind>>,
    started: Cell<Option<Instant>>,
    output: RefCell<String>,
    truncated: Cell<bool>,
    cases: RefCell<Vec<CaseResult>>,
    harness: Cell<HarnessProgress>,
    restored: RefCell<Vec<String>>,
}

/// Strips mlua's traceback and wrapping from an error (shared with the Luau layer).
pub use crate::luau::compile::clean_error;

fn limit_kind_of(e: &mlua::Error, state: &RunState) -> Option<LimitKind> {
    if let Some(k) = state.limit.get() {
        return Some(k);
    }
    let mut cur = e;
    loop {
        match cur {
            mlua::Error::MemoryError(_) => return Some(LimitKind::Memory),
            mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
                cur = cause
            }
            _ => return None,
        }
    }
}

/// The harness's begin and finish functions, passed to the chunk as its varargs.
type HarnessFns = Option<(Function, Function)>;

fn build_vm(
    opts: &SandboxOptions,
    state: &Rc<RunState>,
    nonce: Option<&str>,
) -> mlua::Result<(Lua, HarnessFns)> {
    let libs = StdLib::COROUTINE
        | StdLib::TABLE
        | StdLib::STRING
        | StdLib::UTF8
        | StdLib::BIT
        | StdLib::MATH
        | StdLib::BUFFER
        | StdLib::VECTOR
        | StdLib::OS;
    let lua = Lua::new_with(libs, LuaOptions::default())?;
    let g = lua.globals();

    // Host capabilities and environment introspection go; `os` keeps only the clock.
    for name in [
        "loadstring",
        "require",
        "getfenv",
        "setfenv",
        "debug",
        "load",
        "dofile",
        "loadfile",
        "io",
        "package",
    ] {
        g.raw_set(name, Value::Nil)?;
    }
    let old_os: Table = g.get("os")?;
    let os = lua.create_table()?;
    os.raw_set("clock", old_os.get::<Function>("clock")?)?;
    os.raw_set("time", old_os.get::<Function>("time")?)?;
    g.raw_set("os", os)?;

    // Captured print: tostring each argument, tab-separated, newline-terminated.
    let tostring: Function = g.get("tostring")?;
    let st = state.clone();
    let print = lua.create_function(move |_, args: MultiValue| {
        let mut line = String::new();
        for (i, v) in args.into_iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            let s: mlua::LuaString = tostring.call(v)?;
            line.push_str(&s.to_string_lossy());
        }
        line.push('\n');
        let mut out = st.output.borrow_mut();
        if out.len() + line.len() > OUTPUT_CAP {
            st.truncated.set(true);
            let room = OUTPUT_CAP.saturating_sub(out.len());
            let mut cut = room.min(line.len());
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&line[..cut]);
        } else {
            out.push_str(&line);
        }
        Ok(())
    })?;
    g.raw_set("print", print)?;

    let mut stub_flush: Option<Function> = None;
    let mut harness_fns: HarnessFns = None;
    if opts.roblox_stubs {
        // The stubs replace `typeof`; stop the compiler from inlining the builtin one.
        lua.set_compiler(mlua::chunk::Compiler::new().set_disabled_builtins(["typeof"]));
        let stubs: Table = lua
            .load(ROBLOX_STUBS)
            .set_name("=vcurate_roblox_stubs")
            .eval()?;
        stub_flush = Some(stubs.get("flush")?);
    }

    if let Some(nonce) = nonce {
        state.harness.set(HarnessProgress::NotStarted);
        let helpers: Table = lua
            .load(HARNESS_PRELUDE)
            .set_name("=vcurate_harness")
            .eval()?;
        let st = state.clone();
        let test = lua.create_function(move |_, (name, f): (String, Function)| {
            if st.harness.get() != HarnessProgress::Started {
                return Err(mlua::Error::runtime(
                    "test() called outside the test section",
                ));
            }
            match f.call::<()>(()) {
                Ok(()) => {
                    st.cases.borrow_mut().push(CaseResult {
                        name,
                        passed: true,
                        message: None,
                    });
                    Ok(())
                }
                Err(e) => {
                    let limit = limit_kind_of(&e, &st);
                    let message = match limit {
                        Some(k) => k.message().to_string(),
                        None => clean_error(&e),
                    };
                    st.cases.borrow_mut().push(CaseResult {
                        name,
                        passed: false,
                        message: Some(message),
                    });
                    match limit {
                        // A tripped limit ends the run: re-raise instead of moving to the next case.
                        Some(_) => Err(e),
                        None => Ok(()),
                    }
                }
            }
        })?;
        let expected = nonce.to_string();
        let st = state.clone();
        let real_globals = g.clone();
        let begin = lua.create_function(move |lua, token: String| {
            if token != expected || st.harness.get() != HarnessProgress::NotStarted {
                return Err(mlua::Error::runtime(
                    "__vcurate_begin: not the runner's token",
                ));
            }
            st.harness.set(HarnessProgress::Started);
            // The answer ran in the same environment; any builtin it shadowed (`table`, `pcall`,
            // `string`, ...) is put back so the test code runs against the real library. Globals
            // the answer added (its functions) stay.
            let env = lua.globals();
            if env.to_pointer() != real_globals.to_pointer() {
                let mut shadowed = Vec::new();
                for pair in env.pairs::<Value, Value>() {
                    let (k, _) = pair?;
                    if !real_globals.raw_get::<Value>(k.clone())?.is_nil() {
                        shadowed.push(k);
                    }
                }
                for k in shadowed {
                    st.restored
                        .borrow_mut()
                        .push(k.to_string().unwrap_or_else(|_| "?".into()));
                    env.raw_set(k, Value::Nil)?;
                }
            }
            if let Some(flush) = &stub_flush {
                flush.call::<()>(())?;
            }
            Ok((
                test.clone(),
                helpers.get::<Function>("expect_eq")?,
                helpers.get::<Function>("expect_near")?,
                helpers.get::<Function>("expect")?,
                helpers.get::<Function>("expect_error")?,
            ))
        })?;
        let expected = nonce.to_string();
        let st = state.clone();
        let finish = lua.create_function(move |_, token: String| {
            if token != expected || st.harness.get() != HarnessProgress::Started {
                return Err(mlua::Error::runtime(
                    "__vcurate_finish: not the runner's token",
                ));
            }
            st.harness.set(HarnessProgress::Finished);
            Ok(())
        })?;
        harness_fns = Some((begin, finish));
    }

    // Read-only libraries, globals and builtin metatables; writes go to a per-run environment.
    lua.sandbox(true)?;
    Ok((lua, harness_fns))
}

/// Runs a program on the current thread. The caller must give the thread a generous stack (see
/// [`isolate`]); prefer [`run`].
pub fn run_inline(program: &Program, opts: &SandboxOptions) -> RunReport {
    let state = Rc::new(RunState {
        steps: Cell::new(0),
        limit: Cell::new(None),
        started: Cell::new(None),
        output: RefCell::new(String::new()),
        truncated: Cell::new(false),
        cases: RefCell::new(Vec::new()),
        harness: Cell::new(HarnessProgress::NotUsed),
        restored: RefCell::new(Vec::new()),
    });
    let (lua, harness_fns) = match build_vm(opts, &state, program.harness_nonce.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            return RunReport::host_error(
                format!("could not set up the Luau VM: {}", clean_error(&e)),
                opts.roblox_stubs,
            )
        }
    };

    let limits = opts.limits;
    let st = state.clone();
    lua.set_interrupt(move |_| {
        let n = st.steps.get() + 1;
        st.steps.set(n);
        if let Some(kind) = st.limit.get() {
            return Err(mlua::Error::runtime(kind.message()));
        }
        if n > limits.instructions {
            st.limit.set(Some(LimitKind::Instructions));
            return Err(mlua::Error::runtime(LimitKind::Instructions.message()));
        }
        if n % 128 == 0 {
            if let Some(t0) = st.started.get() {
                if t0.elapsed() > Duration::from_millis(limits.time_ms) {
                    st.limit.set(Some(LimitKind::Time));
                    return Err(mlua::Error::runtime(LimitKind::Time.message()));
                }
            }
        }
        Ok(VmState::Continue)
    });
    let base = lua.used_memory();
    if let Err(e) = lua.set_memory_limit(base + limits.memory_bytes as usize) {
        return RunReport::host_error(
            format!("could not set the memory limit: {e}"),
            opts.roblox_stubs,
        );
    }

    let t0 = Instant::now();
    state.started.set(Some(t0));
    // The harness functions travel as the chunk's varargs, not as globals: the answer runs first
    // in the same chunk and could shadow a global, but it cannot change what `...` is.
    let chunk = lua
        .load(program.source.as_str())
        .set_name(format!("={}", program.chunk_name));
    let result = match harness_fns {
        Some((begin, finish)) => chunk.call::<()>((begin, finish)),
        None => chunk.exec(),
    };
    let elapsed_ms = (t0.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;

    let status = match &result {
        _ if state.limit.get().is_some() => RunStatus::Limit {
            kind: state.limit.get().unwrap_or(LimitKind::Time),
        },
        Ok(()) => RunStatus::Completed,
        Err(e) => match limit_kind_of(e, &state) {
            Some(kind) => RunStatus::Limit { kind },
            None => match e {
                mlua::Error::SyntaxError { .. } => RunStatus::CompileError {
                    message: clean_error(e),
                },
                _ => RunStatus::Error {
                    message: clean_error(e),
                },
            },
        },
    };
    if let RunStatus::Limit { kind } = status {
        if kind == LimitKind::Memory {
            // Lift the cap so the collector can run, and free what the bomb allocated.
            let _ = lua.set_memory_limit(0);
            let _ = lua.gc_collect();
        }
    }
    drop(result);
    lua.remove_interrupt();
    drop(lua);

    let report = RunReport {
        status,
        output: state.output.borrow().clone(),
        output_truncated: state.truncated.get(),
        cases: state.cases.borrow().clone(),
        harness: state.harness.get(),
        restored_globals: state.restored.borrow().clone(),
        steps: state.steps.get(),
        elapsed_ms,
        roblox_stubs: opts.roblox_stubs,
    };
    report
}

/// The outcome of [`isolate`].
#[derive(Debug)]
pub enum Isolated<T> {
    Done(T),
    /// The work did not finish by the deadline; its thread was abandoned (it is detached and
    /// dies with the process).
    TimedOut,
    Panicked(String),
}

/// Stack size of isolation threads: parsers recurse, and a hostile reply must not overflow them.
pub const ISOLATE_STACK: usize = 64 * 1024 * 1024;

/// Runs `f` on its own thread with a large stack and waits at most `deadline` for it.
pub fn isolate<T: Send + 'static>(
    deadline: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Isolated<T> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("vcurate-sandbox".into())
        .stack_size(ISOLATE_STACK)
        .spawn(move || {
            let _ = tx.send(f());
        });
    if let Err(e) = spawned {
        return Isolated::Panicked(format!("could not start a sandbox thread: {e}"));
    }
    match rx.recv_timeout(deadline) {
        Ok(v) => Isolated::Done(v),
        Err(mpsc::RecvTimeoutError::Timeout) => Isolated::TimedOut,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Isolated::Panicked("sandbox thread panicked".into())
        }
    }
}

/// The wall-clock deadline [`run`] gives a program: twice its time limit plus 10 s of slack.
pub fn hard_deadline(limits: &Limits) -> Duration {
    Duration::from_millis(limits.time_ms.saturating_mul(2).saturating_add(10_000))
}

/// Runs a program in a fresh VM on its own thread, with a hard wall-clock deadline.
pub fn run(program: &Program, opts: &SandboxOptions) -> RunReport {
    let p = program.clone();
    let o = *opts;
    match isolate(hard_deadline(&opts.limits), move || run_inline(&p, &o)) {
        Isolated::Done(r) => r,
        Isolated::TimedOut => RunReport {
            status: RunStatus::Limit {
                kind: LimitKind::HardTimeout,
            },
            ..RunReport::host_error(String::new(), opts.roblox_stubs)
        },
        Isolated::Panicked(m) => RunReport::host_error(m, opts.roblox_stubs),
    }
}

/// A random-enough token for the harness protocol: the answer cannot read the source it is
/// embedded in (no `debug`, no source access), so it only has to be unguessable, not secret.
pub fn new_nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let a = h.finish();
    let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
    h2.write_u64(a);
    format!("{:016x}{:016x}", a, h2.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SandboxOptions {
        SandboxOptions {
            limits: Limits {
                time_ms: 1_000,
                instructions: 5_000_000,
                memory_bytes: 16 * 1024 * 1024,
            },
            roblox_stubs: false,
        }
    }

    fn run_code(code: &str) -> RunReport {
        run(
            &Program {
                source: code.into(),
                chunk_name: "solution".into(),
                harness_nonce: None,
            },
            &opts(),
        )
    }

    fn error_message(r: &RunReport) -> String {
        match &r.status {
            RunStatus::Error { message } => message.clone(),
            other => panic!("expected a runtime error, got {other:?}"),
        }
    }

    #[test]
    fn plain_code_runs_and_print_is_captured() {
        let r = run_code("print('a', 1, nil, true)\nprint(`x{1+1}`)");
        assert_eq!(r.status, RunStatus::Completed);
        assert_eq!(r.output, "a\t1\tnil\ttrue\nx2\n");
        assert!(r.steps < 1000);
    }

    #[test]
    fn runtime_errors_carry_chunk_name_and_line() {
        let r = run_code("local x = 1\nerror('boom')");
        assert_eq!(error_message(&r), "solution:2: boom");
    }

    // --- escape and denial-of-service attempts: each must end with a clear verdict ---

    #[test]
    fn infinite_loop_hits_a_limit() {
        let r = run_code("while true do end");
        assert!(
            matches!(
                r.status,
                RunStatus::Limit {
                    kind: LimitKind::Instructions | LimitKind::Time
                }
            ),
            "{:?}",
            r.status
        );
    }

    #[test]
    fn time_limit_trips_when_the_instruction_budget_is_huge() {
        let o = SandboxOptions {
            limits: Limits {
                time_ms: 50,
                instructions: u64::MAX,
                memory_bytes: 16 << 20,
            },
            roblox_stubs: false,
        };
        let r = run(
            &Program {
                source: "while true do end".into(),
                chunk_name: "s".into(),
                harness_nonce: None,
            },
            &o,
        );
        assert_eq!(
            r.status,
            RunStatus::Limit {
                kind: LimitKind::Time
            }
        );
    }

    #[test]
    fn pcall_cannot_swallow_a_tripped_limit() {
        let r = run_code(
            "local n = 0\nwhile true do\n  pcall(function() while true do end end)\n  n += 1\nend",
        );
        assert!(
            matches!(r.status, RunStatus::Limit { .. }),
            "{:?}",
            r.status
        );
        let r = run_code(
            "for i = 1, 1e9 do pcall(function() while true do end end) end print('escaped')",
        );
        assert!(
            matches!(r.status, RunStatus::Limit { .. }),
            "{:?}",
            r.status
        );
        assert!(!r.output.contains("escaped"));
    }

    #[test]
    fn loops_inside_coroutines_and_error_handlers_hit_limits_too() {
        for code in [
            "coroutine.wrap(function() while true do end end)()",
            "local co = coroutine.create(function() while true do coroutine.yield() end end)\nwhile true do coroutine.resume(co) end",
            "xpcall(function() error('x') end, function() while true do end end)",
            "error(setmetatable({}, { __tostring = function() while true do end end }))",
            "local t = setmetatable({}, { __index = function(t, k) return t[k] end })\nprint(t.x)",
        ] {
            let r = run_code(code);
            assert!(
                matches!(r.status, RunStatus::Limit { .. } | RunStatus::Error { .. }),
                "{code}: {:?}",
                r.status
            );
            assert_ne!(r.status, RunStatus::Completed, "{code}");
        }
        assert!(matches!(
            run_code("coroutine.wrap(function() while true do end end)()").status,
            RunStatus::Limit { .. }
        ));
    }

    #[test]
    fn deep_recursion_is_a_stack_overflow_error() {
        let r = run_code("local function f(n) return 1 + f(n + 1) end\nf(1)");
        let msg = error_message(&r);
        assert!(msg.contains("stack overflow"), "{msg}");
    }

    #[test]
    fn string_rep_memory_bomb_hits_the_memory_limit() {
        let r = run_code("local s = string.rep('x', 2^30)\nprint(#s)");
        assert_eq!(
            r.status,
            RunStatus::Limit {
                kind: LimitKind::Memory
            },
            "{:?}",
            r.status
        );
        let r = run_code("local s = 'x'\nfor i = 1, 40 do s = s .. s end");
        assert_eq!(
            r.status,
            RunStatus::Limit {
                kind: LimitKind::Memory
            },
            "{:?}",
            r.status
        );
    }

    #[test]
    fn table_growth_hits_the_memory_limit() {
        let r = run_code("local t = {}\nfor i = 1, 1e8 do t[i] = {i} end");
        assert_eq!(
            r.status,
            RunStatus::Limit {
                kind: LimitKind::Memory
            },
            "{:?}",
            r.status
        );
        // Luau refuses absurd preallocation outright.
        let msg = error_message(&run_code("local t = table.create(1e9, 0)"));
        assert!(msg.contains("table overflow"), "{msg}");
        let r = run_code("local t = table.create(1e6, 0)\nlocal all = {}\nfor i = 1, 100 do all[i] = table.clone(t) end");
        assert_eq!(
            r.status,
            RunStatus::Limit {
                kind: LimitKind::Memory
            },
            "{:?}",
            r.status
        );
    }

    #[test]
    fn os_is_reduced_to_clock_and_time() {
        let r = run_code(
            "print(type(os.clock()), type(os.time()), os.execute, os.exit, os.getenv, os.remove)",
        );
        assert_eq!(r.output, "number\tnumber\tnil\tnil\tnil\tnil\n");
        let msg = error_message(&run_code("os.execute('echo pwned')"));
        assert!(msg.contains("attempt to call a nil value"), "{msg}");
    }

    #[test]
    fn io_require_loadstring_getfenv_debug_are_absent() {
        for (code, what) in [
            ("io.open('/etc/passwd')", "io"),
            ("require('./x')", "require"),
            ("loadstring('return 1')()", "loadstring"),
            ("getfenv(1).x = 1", "getfenv"),
            ("setfenv(1, {})", "setfenv"),
            ("debug.traceback()", "debug"),
        ] {
            let msg = error_message(&run_code(code));
            assert!(msg.contains("nil"), "{what}: {msg}");
        }
        let r = run_code("print(io, require, loadstring, getfenv, setfenv, debug, load, dofile)");
        assert_eq!(r.output, "nil\tnil\tnil\tnil\tnil\tnil\tnil\tnil\n");
    }

    #[test]
    fn shared_library_metatable_tricks_are_refused() {
        for code in [
            "getmetatable('').__index = {upper = function() return 'pwned' end}",
            "getmetatable('').__index.upper = function() return 'pwned' end",
            "string.upper = function() return 'pwned' end",
            "rawset(string, 'upper', function() end)",
            "setmetatable(string, {})",
            "table.insert = nil",
            "math.pi = 3",
        ] {
            let msg = error_message(&run_code(code));
            assert!(
                msg.contains("readonly") || msg.contains("read-only") || msg.contains("protected"),
                "{code}: {msg}"
            );
        }
    }

    #[test]
    fn globals_written_by_one_run_do_not_leak_into_the_next() {
        let r = run_code("leaked = 42\n_G.also = 1");
        // Writing to the read-only _G is refused, and the plain global lands in this run's env.
        assert!(
            matches!(r.status, RunStatus::Error { .. }),
            "{:?}",
            r.status
        );
        let r = run_code("print(leaked, also)");
        assert_eq!(r.output, "nil\tnil\n");
    }

    #[test]
    fn collectgarbage_is_restricted_to_count() {
        let r = run_code("print(type(collectgarbage('count')))");
        assert_eq!(r.output, "number\n");
        assert!(error_message(&run_code("collectgarbage('collect')")).contains("invalid option"));
    }

    #[test]
    fn pathological_pattern_is_stopped_by_the_interrupt() {
        let r = run_code(
            "local s = string.rep('a', 5000)\nprint(string.find(s, '.-.-.-.-.-.-.-.-.-b'))",
        );
        assert!(
            matches!(
                r.status,
                RunStatus::Limit {
                    kind: LimitKind::Instructions | LimitKind::Time
                }
            ),
            "{:?}",
            r.status
        );
    }

    #[test]
    fn print_output_is_capped() {
        let r = run_code("for i = 1, 100000 do print('0123456789') end");
        assert_eq!(r.status, RunStatus::Completed);
        assert!(r.output_truncated);
        assert!(r.output.len() <= OUTPUT_CAP);
    }

    #[test]
    fn isolate_abandons_work_past_its_deadline() {
        let r = isolate(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(2));
            1
        });
        assert!(matches!(r, Isolated::TimedOut));
        assert!(matches!(
            isolate(Duration::from_secs(5), || 7),
            Isolated::Done(7)
        ));
    }

    /// `dataset/evals/roblox-stubs.d.luau` must describe what the stubs really provide: every
    /// declared member exists on a stub value, and every declared global exists.
    #[test]
    fn stub_definitions_match_the_stubs() {
        let defs = fs_err::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("dataset/evals/roblox-stubs.d.luau"),
        )
        .unwrap();
        let samples = [
            ("Vector3", "Vector3.new(1, 2, 3)"),
            ("CFrame", "CFrame.new(1, 2, 3)"),
            ("Instance", "Instance.new('Folder', workspace)"),
            ("DataModel", "game"),
        ];
        let mut checks = String::new();
        let mut current: Option<&str> = None;
        let mut global_table: Option<String> = None;
        let member = regex::Regex::new(r"^\t(?:function )?([A-Za-z_]\w*)[:(]").unwrap();
        for line in defs.lines() {
            if let Some(name) = line.strip_prefix("declare class ") {
                let name = name.split_whitespace().next().unwrap();
                current = samples.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
                assert!(
                    current.is_some(),
                    "no sample value for declared class {name}"
                );
                continue;
            }
            if let Some(rest) = line.strip_prefix("declare ") {
                let rest = rest.strip_prefix("function ").unwrap_or(rest);
                let name = rest.split([':', ' ', '(']).next().unwrap();
                checks.push_str(&format!(
                    "if {name} == nil then print([[missing global {name}]]) end\n"
                ));
                global_table = rest.trim_end().ends_with('{').then(|| name.to_string());
                continue;
            }
            if line == "end" || line == "}" {
                current = None;
                global_table = None;
                continue;
            }
            let Some(c) = member.captures(line) else {
                continue;
            };
            let m = &c[1];
            if m.starts_with("__") {
                continue;
            }
            if let Some(value) = current {
                checks.push_str(&format!(
                    "do local v = {value}; local ok, r = pcall(function() return v.{m} end)\n\
                     if not ok or r == nil then print([[missing {value}.{m}]]) end end\n"
                ));
            } else if let Some(t) = &global_table {
                checks.push_str(&format!(
                    "if {t}.{m} == nil then print([[missing {t}.{m}]]) end\n"
                ));
            }
        }
        assert!(
            checks.matches("missing").count() > 40,
            "the definitions file was not read: {checks}"
        );
        let o = SandboxOptions {
            roblox_stubs: true,
            ..opts()
        };
        let r = run(
            &Program {
                source: checks,
                chunk_name: "defs".into(),
                harness_nonce: None,
            },
            &o,
        );
        assert_eq!(r.status, RunStatus::Completed);
        assert_eq!(
            r.output, "",
            "declared but not provided by the stubs:\n{}",
            r.output
        );
    }

    #[test]
    fn stubs_behave_like_their_roblox_counterparts_in_the_basics() {
        let o = SandboxOptions {
            roblox_stubs: true,
            ..opts()
        };
        let code = r#"
            local v = Vector3.new(1, 2, 2)
            assert(v.Magnitude == 3 and (v * 2).Z == 4 and (v + Vector3.one).X == 2)
            assert(v:Dot(Vector3.xAxis) == 1 and Vector3.xAxis:Cross(Vector3.yAxis) == Vector3.zAxis)
            assert(not pcall(function() v.X = 5 end), "Vector3 is immutable")
            local cf = CFrame.new(1, 2, 3) * CFrame.Angles(0, math.pi / 2, 0)
            local p = cf * Vector3.new(0, 0, -1)
            -- A quarter turn about +Y turns the -Z look direction into -X, as in Roblox.
            assert(math.abs(p.X) < 1e-9 and p.Y == 2 and math.abs(p.Z - 3) < 1e-9, tostring(p))
            assert((cf.LookVector - Vector3.new(-1, 0, 0)).Magnitude < 1e-9, tostring(cf.LookVector))
            local back = cf:Inverse() * cf
            assert(back.Position.Magnitude < 1e-9)
            local folder = Instance.new("Folder")
            folder.Name = "Things"
            folder.Parent = workspace
            local part = Instance.new("Part", folder)
            assert(workspace.Things.Part == part and part:IsA("BasePart") and part:GetFullName() == "Workspace.Things.Part")
            assert(#workspace:GetDescendants() == 2)
            part:Destroy()
            assert(folder:FindFirstChild("Part") == nil)
            assert(not pcall(function() part.Parent = folder end), "destroyed parts stay destroyed")
            assert(not pcall(function() return game:GetService("NotAService") end))
            local order = {}
            task.defer(function() table.insert(order, "deferred") end)
            task.spawn(function() table.insert(order, "spawned") end)
            task.delay(1, function() table.insert(order, "delayed") end)
            task.wait(0.5)
            assert(order[1] == "spawned" and order[2] == "deferred" and order[3] == nil)
            task.wait(1)
            assert(order[3] == "delayed")
            print(typeof(v), typeof(cf), typeof(part), typeof({}))
        "#;
        let r = run(
            &Program {
                source: code.into(),
                chunk_name: "stubs".into(),
                harness_nonce: None,
            },
            &o,
        );
        assert_eq!(r.status, RunStatus::Completed, "{:?}", r.status);
        assert_eq!(r.output, "Vector3\tCFrame\tInstance\ttable\n");
    }

    // --- harness protocol ---

    fn harness_program(answer: &str, tests: &str, nonce: &str) -> Program {
        Program {
            source: format!(
                "{answer}\n{}\n{tests}\n{}\n",
                harness_begin_line(nonce),
                harness_finish_line(nonce)
            ),
            chunk_name: "solution".into(),
            harness_nonce: Some(nonce.into()),
        }
    }

    #[test]
    fn harness_records_cases_and_finishes() {
        let p = harness_program(
            "local function add(a, b) return a + b end",
            "test('adds', function() expect_eq(add(1, 2), 3) end)\n\
             test('tables', function() expect_eq({1, {2}}, {1, {2}}) end)\n\
             test('wrong', function() expect_eq(add(1, 1), 3, 'sum') end)\n\
             test('errors', function() expect_error(function() error('bad input') end, 'bad input') end)\n\
             test('near', function() expect_near(0.1 + 0.2, 0.3, 1e-9) end)",
            "n1",
        );
        let r = run(&p, &opts());
        assert_eq!(r.status, RunStatus::Completed);
        assert_eq!(r.harness, HarnessProgress::Finished);
        let summary: Vec<(&str, bool)> = r
            .cases
            .iter()
            .map(|c| (c.name.as_str(), c.passed))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("adds", true),
                ("tables", true),
                ("wrong", false),
                ("errors", true),
                ("near", true)
            ]
        );
        let msg = r.cases[2].message.as_deref().unwrap();
        assert!(msg.contains("sum: expected 3, got 2"), "{msg}");
    }

    #[test]
    fn answer_cannot_forge_results_or_start_the_harness() {
        // The answer can reach the begin function through `...`, but not without the token.
        let p = harness_program(
            "local begin = ...\nbegin('guess')",
            "test('x', function() end)",
            "secret",
        );
        let r = run(&p, &opts());
        assert!(
            matches!(r.status, RunStatus::Error { .. }),
            "{:?}",
            r.status
        );
        assert!(r.cases.is_empty());
        assert_eq!(r.harness, HarnessProgress::NotStarted);

        // Shadowing globals the test section might use changes nothing: it takes the harness from
        // `...`, and the helpers run in the original (read-only) global environment.
        let p = harness_program(
            "__vcurate_begin = function() return function(n, f) end end\n\
             pcall = function() return true end\nerror = function() end\ntest = function() end",
            "test('still real', function() expect_eq(1, 2) end)",
            "secret",
        );
        let r = run(&p, &opts());
        assert_eq!(r.harness, HarnessProgress::Finished);
        assert_eq!(r.cases.len(), 1);
        assert!(!r.cases[0].passed, "{:?}", r.cases);
    }

    #[test]
    fn builtins_shadowed_by_the_answer_are_restored_for_the_tests() {
        let p = harness_program(
            "table = { insert = function() end }\nfunction helper() return 7 end\nlocal function f() return #string.rep('x', 3) end",
            "test('real table.insert', function()\n  local t = {}\n  table.insert(t, 1)\n  expect_eq(#t, 1)\nend)\n\
             test('answer globals stay', function() expect_eq(helper(), 7) end)\n\
             test('answer locals stay', function() expect_eq(f(), 3) end)",
            "n3",
        );
        let r = run(&p, &opts());
        assert_eq!(r.status, RunStatus::Completed, "{:?}", r.status);
        assert!(r.cases.iter().all(|c| c.passed), "{:?}", r.cases);
        assert_eq!(r.restored_globals, vec!["table".to_string()]);
    }

    #[test]
    fn a_limit_inside_a_case_stops_the_run() {
        let p = harness_program(
            "local function spin() while true do end end",
            "test('spins', function() spin() end)\ntest('after', function() end)",
            "n2",
        );
        let r = run(&p, &opts());
        assert!(
            matches!(r.status, RunStatus::Limit { .. }),
            "{:?}",
            r.status
        );
        assert_eq!(r.cases.len(), 1);
        assert!(!r.cases[0].passed);
        assert_ne!(r.harness, HarnessProgress::Finished);
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(new_nonce(), new_nonce());
        assert_eq!(new_nonce().len(), 32);
    }
}
