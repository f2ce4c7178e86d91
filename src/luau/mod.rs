//! The Luau layer shared by the stages: parse (full_moon, the one parser that decides validity),
//! line counts (code, comment, blank), top-level functions, compile (the real Luau compiler via
//! mlua), and one never-fail lexer.
//!
//! Used by ingest (per-file analysis), the audits (density, quality, dedup), rendering and eval
//! (answer checks, the OpenGameEval importer). It depends only on `core`; it never reads files,
//! never runs code, and never panics or overflows the stack on hostile input (see
//! [`parse`]'s "Stack safety").

pub mod compile;
pub mod functions;
pub mod lex;
pub mod lines;
pub mod parse;

pub use compile::{compile, CompileError};
pub use functions::{
    FROM_FULL_MOON, FROM_TREE_SITTER, KIND_ASSIGNED, KIND_GLOBAL, KIND_LOCAL, KIND_METHOD,
};
pub use lines::{code_lines, count_lines};
pub use parse::{analyze, parse_ast, parses, MAX_NESTING};

#[cfg(test)]
mod tests;
