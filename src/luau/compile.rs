//! The real Luau compiler (mlua's vendored Luau) as a check: compile a chunk, keep the error's
//! line and message, discard the bytecode. Ingest's quality audit and eval's compile check both
//! call [`compile`]. It never runs code.

use serde::Serialize;

/// The real Luau compiler rejected a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error(
    "Luau compiler rejected {chunk}{}: {message}; fix the source there (the compiler reports only \
     the first error)",
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
)]
pub struct CompileError {
    /// The chunk name the caller gave (usually the file path), for messages.
    pub chunk: String,
    /// 1-based line of the error, when the compiler named one.
    pub line: Option<u32>,
    /// The compiler's message without its `:LINE:` prefix.
    pub message: String,
}

/// Compiles `text` with the real Luau compiler (through mlua) and discards the bytecode.
///
/// This catches what the parser alone accepts but Luau refuses, such as `break` outside a loop
/// or more than 200 locals in one function.
pub fn compile(text: &str, chunk_name: &str) -> Result<(), CompileError> {
    match mlua::chunk::Compiler::new().compile(text) {
        Ok(_) => Ok(()),
        Err(mlua::Error::SyntaxError { message, .. }) => {
            let (line, message) = split_compiler_message(&message);
            Err(CompileError {
                chunk: chunk_name.to_string(),
                line,
                message,
            })
        }
        Err(other) => Err(CompileError {
            chunk: chunk_name.to_string(),
            line: None,
            message: other.to_string(),
        }),
    }
}

/// Luau formats compile errors as `:LINE: message` (Compiler.cpp, `compile`:
/// `format(":%d: %s", location.begin.line + 1, what)`); mlua strips the NUL marker and the first
/// `:` (mlua `src/chunk.rs`, `Compiler::compile`), leaving `LINE: message`. Accept both shapes,
/// and a chunk name before the line (`chunk:LINE: message`) as other entry points print it.
pub(crate) fn split_compiler_message(raw: &str) -> (Option<u32>, String) {
    let rest = raw.strip_prefix(':').unwrap_or(raw);
    let first_line_len = rest.find('\n').unwrap_or(rest.len());
    let mut from = 0;
    while from <= first_line_len {
        if let Some((digits, message)) = rest[from..].split_once(':') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(line) = digits.parse::<u32>() {
                    return (Some(line), message.trim_start().to_string());
                }
            }
        }
        match rest[from..first_line_len].find(':') {
            Some(k) => from += k + 1,
            None => break,
        }
    }
    (None, raw.trim().to_string())
}

/// Strips mlua's traceback and wrapping from an error so messages stay one readable line.
pub fn clean_error(e: &mlua::Error) -> String {
    let raw = match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => return clean_error(cause),
        mlua::Error::WithContext { cause, .. } => return clean_error(cause),
        other => other.to_string(),
    };
    let cut = raw.find("\nstack traceback:").unwrap_or(raw.len());
    raw[..cut].trim().to_string()
}
