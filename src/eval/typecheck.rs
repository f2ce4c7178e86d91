//! Type checking of extracted answers with Luau's own analyzer (the Analysis library that
//! `luau-analyze` and Roblox Studio use), through the `vcurate-luau-analyze` helper binary.
//!
//! Why a child process: the analyzer comes from the `luau-analyzer-sys` crate, which compiles its
//! own (older) copy of Luau's Ast, Compiler and VM; mlua's vendored Luau defines the same C++
//! symbols, and linking both into one binary fails with duplicate symbols (`Luau::Parser`,
//! `Luau::BytecodeBuilder`, `luaD_*`, ...). The helper links only the analyzer. The process
//! boundary also contains the analyzer's failure modes: a C++ exception (Luau throws
//! `InternalCompilerError` on internal errors) is not caught by the crate's `extern "C"` shim and
//! cannot be caught in Rust, so it ends the process, and the analyzer has no time limit of its
//! own. Here an abort,
//! a crash or a hang (killed after [`Analyzer::timeout`]) ends the helper, and the check says why.
//!
//! How code is checked: the answer gets a two-line header, `--!nolint` (the crate reports lint
//! warnings such as unused locals among its diagnostics; they are not type errors) and the mode
//! comment, and positions are shifted back. The mode is the task's (`checks.typecheck_mode`,
//! nonstrict by default, Luau's own default) unless the answer asks for strict with `--!strict`
//! in its header; an answer cannot lower the mode (`--!nonstrict`, `--!nocheck`), because the
//! first mode comment wins and ours comes first. Every diagnostic that remains is a type or
//! syntax error in the answer. With Roblox stubs, `dataset/evals/roblox-stubs.d.luau` is loaded as
//! a definitions file. A probe module that uses what each definitions file declares is checked
//! first: the crate does not say whether a definitions file loaded, and a file that failed to
//! load would otherwise turn into false type errors.
//!
//! Known limits of luau-analyzer-sys 0.1.1 (its `shim.cpp` loads Luau's builtin definitions a
//! second time after `registerBuiltinGlobals`, which replaces the builtins that registration had
//! patched): `table.clone` and `table.freeze` disappear (restored here by [`BUILTIN_FIXUPS`]), and
//! `assert`, `pcall` and `select` lose their special handling, so `assert(x)` does not narrow an
//! optional `x` and code that relies on that gets a false "got 'number?'" error in either mode.
//! Its Luau is also older than mlua's, so library functions newer than it are unknown to it.
//!
//! What this module must never do: run the code, report a pass it did not get from the analyzer,
//! or let the analyzer take vcurate down.

pub mod protocol;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protocol::{Request, Response, Source};

use super::task::TypecheckMode;

/// The helper binary's name (plus the platform's executable suffix).
pub const HELPER: &str = "vcurate-luau-analyze";

/// Set this to the helper's path to use a helper that is not next to the running executable.
pub const HELPER_ENV: &str = "VCURATE_LUAU_ANALYZE";

/// Type definitions of vcurate's Roblox stubs, loaded for `roblox_stubs: true` tasks.
pub const ROBLOX_STUB_DEFINITIONS: &str = include_str!("../../dataset/evals/roblox-stubs.d.luau");

/// Definitions loaded for every check: the builtins luau-analyzer-sys 0.1.1 loses (see the
/// module docs), typed as Luau types them (`table.clone<T>(t: T): T`).
pub const BUILTIN_FIXUPS: &str =
    "declare table: typeof(table) & { clone: <T>(t: T) -> T, freeze: <T>(t: T) -> T }\n";

/// How long one check may take before the helper is killed. Checking a model's answer takes
/// milliseconds; this bounds pathological inputs, not normal ones.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Lines vcurate puts in front of the answer (`--!nolint`, the mode comment).
const HEADER_LINES: u32 = 2;

/// Why a type check could not run. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum TypecheckError {
    #[error("the Luau type checker `{HELPER}` was not found (looked for {searched}); build it with `cargo build --bin {HELPER}` or point {HELPER_ENV} at it")]
    HelperNotFound { searched: String },

    #[error("could not run the Luau type checker {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("the Luau type checker did not finish within {secs} s and was stopped; the code may be too complex to check")]
    TimedOut { secs: u64 },

    #[error("the Luau type checker failed on this code ({status}){stderr}; this is the analyzer's failure, not a verdict on the code")]
    Crashed { status: String, stderr: String },

    #[error("the Luau type checker's answer could not be read ({message}); is {path} from this vcurate build? Rebuild it with `cargo build --bin {HELPER}`")]
    BadResponse { path: PathBuf, message: String },

    #[error("the type definitions ({names}) did not all load into the Luau type checker ({errors}); fix the definitions")]
    DefinitionsNotLoaded { names: String, errors: String },
}

/// One type (or syntax) error, positioned in the answer as extracted (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDiagnostic {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// A finished type check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The mode the answer was checked in.
    pub mode: TypecheckMode,
    /// The answer's own `--!strict` raised the mode above the task's.
    pub mode_from_answer: bool,
    /// Names of the definitions files loaded (`roblox-stubs`).
    pub definitions: Vec<String>,
    /// Errors in source order; empty means the answer type-checks.
    pub errors: Vec<TypeDiagnostic>,
    /// Which analyzer answered.
    pub analyzer: String,
}

/// The helper program and how long a check may take.
#[derive(Debug, Clone)]
pub struct Analyzer {
    pub program: PathBuf,
    pub timeout: Duration,
}

/// Hot comments (`--!word ...`) in the code's header: the comments before its first token,
/// which is where Luau reads them (`Parser.cpp` marks them `header`).
pub fn header_hot_comments(code: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = code;
    loop {
        rest = rest.trim_start();
        let Some(after) = rest.strip_prefix("--") else {
            break;
        };
        // A long comment: `--[[ ... ]]` or `--[==[ ... ]==]`.
        if let Some(open) = after.strip_prefix('[') {
            let eqs = open.len() - open.trim_start_matches('=').len();
            if open[eqs..].starts_with('[') {
                let close = format!("]{}]", "=".repeat(eqs));
                match open[eqs + 1..].find(&close) {
                    Some(i) => {
                        rest = &open[eqs + 1 + i + close.len()..];
                        continue;
                    }
                    None => break,
                }
            }
        }
        let line_end = after.find('\n').unwrap_or(after.len());
        if let Some(hot) = after[..line_end].strip_prefix('!') {
            out.push(hot.trim_end());
        }
        rest = &after[line_end..];
    }
    out
}

/// The mode to check in: the task's, raised to strict when the answer's header says `--!strict`.
pub fn effective_mode(code: &str, task_mode: TypecheckMode) -> (TypecheckMode, bool) {
    let answer_strict = header_hot_comments(code).contains(&"strict");
    match (task_mode, answer_strict) {
        (TypecheckMode::Nonstrict, true) => (TypecheckMode::Strict, true),
        (mode, _) => (mode, false),
    }
}

/// The module the helper checks: the header, then the answer (a leading `#!` line, which Luau
/// accepts only at the very start of a file, becomes a comment of the same length).
fn module_source(code: &str, mode: TypecheckMode) -> String {
    let body = match code.strip_prefix("#!") {
        Some(rest) => format!("--{rest}"),
        None => code.to_string(),
    };
    format!("--!nolint\n--!{}\n{body}", mode.as_str())
}

/// Global names a definitions file declares (`declare name: T`, `declare function name(...)`).
pub fn declared_globals(definitions: &str) -> Vec<String> {
    let re = regex::Regex::new(r"(?m)^declare\s+(?:function\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[:(<]")
        .expect("static regex");
    let mut names: Vec<String> = re
        .captures_iter(definitions)
        .map(|c| c[1].to_string())
        .collect();
    names.dedup();
    names
}

/// A strict module that only reads the given expressions (the globals or members a definitions
/// file declares): it checks clean exactly when the definitions loaded.
fn probe_source(uses: &[String]) -> String {
    let mut s = String::from("--!nolint\n--!strict\n");
    for g in uses {
        s.push_str(&format!("local _ = {g}\n"));
    }
    s
}

/// The definitions files for a check, each with what the probe reads to see that it loaded.
fn definitions_for(roblox_stubs: bool) -> Vec<(Source, Vec<String>)> {
    let mut out = vec![(
        Source {
            name: "builtin-fixups".into(),
            source: BUILTIN_FIXUPS.into(),
        },
        vec!["table.clone".to_string(), "table.freeze".to_string()],
    )];
    if roblox_stubs {
        out.push((
            Source {
                name: "roblox-stubs".into(),
                source: ROBLOX_STUB_DEFINITIONS.into(),
            },
            declared_globals(ROBLOX_STUB_DEFINITIONS),
        ));
    }
    out
}

impl Analyzer {
    /// Finds the helper: `$VCURATE_LUAU_ANALYZE`, else next to the running executable, else one
    /// folder up (test binaries run from `target/<profile>/deps/`).
    pub fn locate() -> Result<Analyzer, TypecheckError> {
        let file = format!("{HELPER}{}", std::env::consts::EXE_SUFFIX);
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(p) = std::env::var_os(HELPER_ENV) {
            candidates.push(PathBuf::from(p));
        } else if let Ok(exe) = std::env::current_exe() {
            if let Some(dir) = exe.parent() {
                candidates.push(dir.join(&file));
                if let Some(up) = dir.parent() {
                    candidates.push(up.join(&file));
                }
            }
        }
        match candidates.iter().find(|p| p.is_file()) {
            Some(p) => Ok(Analyzer {
                program: p.clone(),
                timeout: DEFAULT_TIMEOUT,
            }),
            None => Err(TypecheckError::HelperNotFound {
                searched: if candidates.is_empty() {
                    "nowhere: the running executable's folder is unknown".into()
                } else {
                    candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
        }
    }

    /// Type-checks `code` (an extracted answer) in `task_mode` (see [`effective_mode`]), with
    /// the Roblox stub definitions when `roblox_stubs` is set.
    pub fn check(
        &self,
        code: &str,
        task_mode: TypecheckMode,
        roblox_stubs: bool,
    ) -> Result<Checked, TypecheckError> {
        let (mode, mode_from_answer) = effective_mode(code, task_mode);
        let (definitions, uses): (Vec<Source>, Vec<Vec<String>>) =
            definitions_for(roblox_stubs).into_iter().unzip();
        let request = Request {
            definitions: definitions.clone(),
            modules: vec![
                Source {
                    name: "definitions-probe".into(),
                    source: probe_source(&uses.concat()),
                },
                Source {
                    name: "answer".into(),
                    source: module_source(code, mode),
                },
            ],
        };
        let response = self.run(&request)?;
        if response.modules.len() != request.modules.len()
            || response
                .modules
                .iter()
                .zip(&request.modules)
                .any(|(a, b)| a.name != b.name)
        {
            return Err(TypecheckError::BadResponse {
                path: self.program.clone(),
                message: "its modules do not match the request".into(),
            });
        }
        let mut results = response.modules.into_iter();
        let probe = results.next().expect("length checked above");
        if !probe.diagnostics.is_empty() {
            return Err(TypecheckError::DefinitionsNotLoaded {
                names: definitions
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                errors: probe
                    .diagnostics
                    .iter()
                    .take(3)
                    .map(|d| d.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        let answer = results.next().expect("length checked above");
        let mut errors: Vec<TypeDiagnostic> = answer
            .diagnostics
            .into_iter()
            .map(|d| TypeDiagnostic {
                line: (d.line + 1).saturating_sub(HEADER_LINES).max(1),
                column: d.column + 1,
                message: d.message,
            })
            .collect();
        errors.sort_by_key(|e| (e.line, e.column));
        Ok(Checked {
            mode,
            mode_from_answer,
            // The fixups restore Luau's own builtins; only real additions are worth reporting.
            definitions: definitions
                .into_iter()
                .map(|d| d.name)
                .filter(|n| n != "builtin-fixups")
                .collect(),
            errors,
            analyzer: response.analyzer,
        })
    }

    /// Runs the helper on one request, killing it at the deadline.
    fn run(&self, request: &Request) -> Result<Response, TypecheckError> {
        let input = serde_json::to_vec(request).map_err(|e| TypecheckError::BadResponse {
            path: self.program.clone(),
            message: format!("could not write the request: {e}"),
        })?;
        let mut child = Command::new(&self.program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| TypecheckError::Spawn {
                path: self.program.clone(),
                source,
            })?;
        // Feed stdin and drain stdout/stderr on their own threads, so that no pipe fills up
        // while we wait.
        let mut stdin = child.stdin.take().expect("piped");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        };
        let out = drain(Box::new(child.stdout.take().expect("piped")));
        let err = drain(Box::new(child.stderr.take().expect("piped")));

        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(TypecheckError::TimedOut {
                        secs: self.timeout.as_secs().max(1),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(source) => {
                    let _ = child.kill();
                    return Err(TypecheckError::Spawn {
                        path: self.program.clone(),
                        source,
                    });
                }
            }
        };
        let _ = writer.join();
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if !status.success() {
            return Err(TypecheckError::Crashed {
                status: describe_status(&status),
                stderr: stderr_tail(&stderr),
            });
        }
        serde_json::from_slice(&stdout).map_err(|e| TypecheckError::BadResponse {
            path: self.program.clone(),
            message: e.to_string(),
        })
    }
}

fn describe_status(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}");
        }
    }
    match status.code() {
        Some(c) => format!("exit code {c}"),
        None => "no exit code".into(),
    }
}

/// The last few lines of the helper's stderr, for the message: `: <text>` or nothing.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    if tail.is_empty() {
        String::new()
    } else {
        let tail: String = tail.chars().take(400).collect();
        format!(": {tail}")
    }
}

/// Locates the helper and checks `code`; see [`Analyzer::check`].
pub fn typecheck(
    code: &str,
    task_mode: TypecheckMode,
    roblox_stubs: bool,
) -> Result<Checked, TypecheckError> {
    Analyzer::locate()?.check(code, task_mode, roblox_stubs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn header_hot_comments_are_read_before_the_first_token_only() {
        assert_eq!(
            header_hot_comments("--!strict\n-- note\n--[[ long\n--!nocheck ]]\n  --!native\nlocal x = 1\n--!nonstrict\n"),
            vec!["strict", "native"]
        );
        assert_eq!(
            header_hot_comments("--[==[ a ]] still ]==]--!strict\nreturn 1"),
            vec!["strict"]
        );
        assert!(header_hot_comments("local x --!strict\n").is_empty());
        assert!(header_hot_comments("--[[ never closed\n--!strict").is_empty());
    }

    #[test]
    fn the_answer_can_raise_the_mode_but_never_lower_it() {
        use TypecheckMode::*;
        assert_eq!(effective_mode("local x = 1", Nonstrict), (Nonstrict, false));
        assert_eq!(
            effective_mode("--!strict\nlocal x = 1", Nonstrict),
            (Strict, true)
        );
        assert_eq!(
            effective_mode("--!nonstrict\nlocal x = 1", Strict),
            (Strict, false)
        );
        assert_eq!(
            effective_mode("--!nocheck\nlocal x = 1", Strict),
            (Strict, false)
        );
        // The checked module starts with our mode comment, which Luau reads first.
        let m = module_source("--!nocheck\nlocal x = 1", Nonstrict);
        assert!(
            m.starts_with("--!nolint\n--!nonstrict\n--!nocheck\n"),
            "{m}"
        );
        assert_eq!(m.lines().count() as u32, HEADER_LINES + 2);
        assert_eq!(
            module_source("#!/usr/bin/env luau\nprint(1)", Strict),
            "--!nolint\n--!strict\n--/usr/bin/env luau\nprint(1)"
        );
    }

    #[test]
    fn the_stub_definitions_declare_every_stub_global() {
        let names = declared_globals(ROBLOX_STUB_DEFINITIONS);
        for g in [
            "game",
            "workspace",
            "Instance",
            "Vector3",
            "CFrame",
            "task",
            "typeof",
        ] {
            assert!(names.iter().any(|n| n == g), "{g} missing from {names:?}");
        }
        // Classes are types, not globals.
        assert!(!names.iter().any(|n| n == "class" || n == "DataModel"));
        let probe = probe_source(&names);
        assert!(probe.starts_with("--!nolint\n--!strict\n"));
        assert!(probe.contains("local _ = game\n"));
    }

    #[test]
    fn a_missing_helper_is_an_error_that_says_how_to_build_it() {
        let a = Analyzer {
            program: PathBuf::from("/nonexistent/vcurate-luau-analyze"),
            timeout: DEFAULT_TIMEOUT,
        };
        let e = a
            .check("local x = 1", TypecheckMode::Nonstrict, false)
            .unwrap_err();
        assert!(matches!(e, TypecheckError::Spawn { .. }), "{e}");
        let msg = TypecheckError::HelperNotFound {
            searched: "x".into(),
        }
        .to_string();
        assert!(
            msg.contains("cargo build --bin vcurate-luau-analyze"),
            "{msg}"
        );
    }

    /// A stand-in helper written as a shell script: the analyzer's failure modes must come back
    /// as errors, never as a pass.
    #[cfg(unix)]
    fn fake_helper(dir: &Path, body: &str) -> Analyzer {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("fake-analyze");
        fs_err::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Analyzer {
            program: p,
            timeout: Duration::from_millis(500),
        }
    }

    #[cfg(unix)]
    #[test]
    fn analyzer_aborts_hangs_and_garbage_are_errors_not_passes() {
        let dir = tempfile::tempdir().unwrap();
        let abort = fake_helper(
            dir.path(),
            "cat >/dev/null; echo \"terminate called after throwing an instance of 'Luau::InternalCompilerError'\" >&2; kill -ABRT $$",
        );
        let e = abort
            .check("local x = 1", TypecheckMode::Nonstrict, false)
            .unwrap_err();
        match &e {
            TypecheckError::Crashed { status, stderr } => {
                assert_eq!(status, "killed by signal 6");
                assert!(stderr.contains("InternalCompilerError"), "{stderr}");
            }
            other => panic!("expected a crash, got {other}"),
        }

        let hang = fake_helper(dir.path(), "cat >/dev/null; exec sleep 30");
        let t = Instant::now();
        let e = hang
            .check("local x = 1", TypecheckMode::Nonstrict, false)
            .unwrap_err();
        assert!(matches!(e, TypecheckError::TimedOut { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(10));

        let garbage = fake_helper(dir.path(), "cat >/dev/null; echo '{\"modules\": 3}'");
        let e = garbage
            .check("local x = 1", TypecheckMode::Nonstrict, false)
            .unwrap_err();
        assert!(matches!(e, TypecheckError::BadResponse { .. }), "{e}");

        // A well-formed answer about other modules than those asked for is rejected too.
        let wrong = fake_helper(
            dir.path(),
            "cat >/dev/null; echo '{\"analyzer\":\"x\",\"modules\":[]}'",
        );
        let e = wrong
            .check("local x = 1", TypecheckMode::Nonstrict, false)
            .unwrap_err();
        assert!(matches!(e, TypecheckError::BadResponse { .. }), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn positions_are_shifted_past_the_header_and_made_one_based() {
        let dir = tempfile::tempdir().unwrap();
        // Reports an error at 0-based line 3, column 4: line 2 of the answer, column 5.
        let fake = fake_helper(
            dir.path(),
            "cat >/dev/null; echo '{\"analyzer\":\"fake\",\"modules\":[{\"name\":\"definitions-probe\",\"diagnostics\":[]},{\"name\":\"answer\",\"diagnostics\":[{\"severity\":1,\"line\":3,\"column\":4,\"end_line\":3,\"end_column\":9,\"message\":\"m\"}]}]}'",
        );
        let c = fake
            .check(
                "local a = 1\nlocal b = a()",
                TypecheckMode::Nonstrict,
                false,
            )
            .unwrap();
        assert_eq!(
            c.errors,
            vec![TypeDiagnostic {
                line: 2,
                column: 5,
                message: "m".into()
            }]
        );
        assert_eq!(c.analyzer, "fake");
    }

    #[cfg(unix)]
    #[test]
    fn definitions_that_did_not_load_make_the_check_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let fake = fake_helper(
            dir.path(),
            "cat >/dev/null; echo '{\"analyzer\":\"fake\",\"modules\":[{\"name\":\"definitions-probe\",\"diagnostics\":[{\"severity\":0,\"line\":2,\"column\":10,\"end_line\":2,\"end_column\":14,\"message\":\"Unknown global game\"}]},{\"name\":\"answer\",\"diagnostics\":[]}]}'",
        );
        let e = fake
            .check("local x = 1", TypecheckMode::Strict, true)
            .unwrap_err();
        assert!(
            matches!(&e, TypecheckError::DefinitionsNotLoaded { names, .. } if names.contains("roblox-stubs")),
            "{e}"
        );
    }
}
