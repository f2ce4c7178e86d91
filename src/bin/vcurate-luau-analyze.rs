//! `vcurate-luau-analyze`: runs Luau's own type checker (the Analysis library, through the
//! `luau-analyzer-sys` crate) for `vcurate eval`. It reads one JSON request on stdin and writes
//! one JSON response on stdout (see `src/eval/typecheck/protocol.rs`).
//!
//! Why a separate binary: luau-analyzer-sys compiles its own, older copy of Luau's Ast, Compiler
//! and VM, and mlua's vendored Luau defines the same C++ symbols (`Luau::Parser`, ...), so the
//! two cannot be linked into one program (the linker reports duplicate symbols). Running the
//! analyzer in its own process also means a C++ exception or crash on hostile input ends this
//! process, never vcurate. This binary must never link the vcurate library (that would pull mlua
//! in) and never run the code it checks.

#[path = "../eval/typecheck/protocol.rs"]
mod protocol;

use std::io::{Read, Write};
use std::process::ExitCode;

use luau_analyzer_sys::NativeAnalyzer;
use protocol::{Diagnostic, ModuleResult, Request, Response};

const ANALYZER: &str = "luau-analyzer-sys 0.1.1";

fn main() -> ExitCode {
    if std::env::args().nth(1).is_some() {
        eprintln!(
            "vcurate-luau-analyze takes no arguments: it reads a JSON request on stdin \
             (vcurate eval runs it; see src/eval/typecheck/protocol.rs)"
        );
        return ExitCode::from(2);
    }
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("vcurate-luau-analyze: could not read the request from stdin: {e}");
        return ExitCode::from(2);
    }
    let request: Request = match serde_json::from_str(&input) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vcurate-luau-analyze: the request on stdin is not valid: {e}");
            return ExitCode::from(2);
        }
    };

    let mut analyzer = NativeAnalyzer::new();
    for d in &request.definitions {
        // The crate does not report whether a definitions file loaded; vcurate checks that by
        // type-checking a probe module that uses the declared globals.
        analyzer.add_definitions(&d.source);
    }
    let mut modules = Vec::with_capacity(request.modules.len());
    for m in &request.modules {
        let diagnostics = analyzer
            .check(
                &m.name,
                |name| (name == m.name).then(|| m.source.clone()),
                // `require` is not resolved: the sandbox has no module loader either.
                |_, _| None,
            )
            .into_iter()
            .map(|d| Diagnostic {
                severity: d.severity,
                line: d.line,
                column: d.col,
                end_line: d.end_line,
                end_column: d.end_col,
                message: d.message,
            })
            .collect();
        modules.push(ModuleResult {
            name: m.name.clone(),
            diagnostics,
        });
    }
    let response = Response {
        analyzer: ANALYZER.to_string(),
        modules,
    };
    let out = match serde_json::to_string(&response) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vcurate-luau-analyze: could not write the response: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
