//! Parsing Luau with full_moon 3 (Luau mode), the one parser that decides validity, and the
//! per-file analysis ingest records: validity, line counts and top-level functions.
//!
//! When full_moon rejects a file we still count its lines (see [`super::lines`]) and recover
//! top-level functions with tree-sitter-luau (see [`super::functions`]). tree-sitter must never
//! decide whether a file parses: its grammar is more lenient than Luau in places and stricter in
//! others, so `parse_ok` comes from full_moon alone.
//!
//! This module must stay linear in the input size: ingest runs it on hundreds of thousands of
//! lines. Each public function parses its input at most once. It must never crash the process:
//! deep nesting is parsed on a big stack (see "Stack safety" below) and a full_moon panic counts
//! as a failed parse.

use std::panic::{catch_unwind, AssertUnwindSafe};

use full_moon::ast::Ast;
use full_moon::LuaVersion;

use super::functions::{
    full_moon_functions, tree_sitter_functions, FROM_FULL_MOON, FROM_TREE_SITTER,
};
use super::lex::{Lexer, Token, TokenKind};
use super::lines::count_lines_tokenized;
use crate::core::{FunctionSpan, LuauAnalysis, ParseError};

fn luau() -> LuaVersion {
    LuaVersion::luau()
}

/// Parses `text` as Luau with full_moon and reports validity, line counts and top-level functions.
pub fn analyze(text: &str) -> LuauAnalysis {
    let outcome =
        with_parser_stack(text, || run_full_moon(text, true)).unwrap_or_else(FullMoon::Failed);
    // Lines come from the token stream, not the tree: full_moon's visitors skip some tokens
    // (the commas of `local a, b`, and the comments attached to them).
    let (code_lines, comment_lines, blank_lines) = count_lines_tokenized(text).counts();
    match outcome {
        FullMoon::Parsed { functions } => LuauAnalysis {
            parse_ok: true,
            error: None,
            code_lines,
            comment_lines,
            blank_lines,
            functions,
            functions_from: FROM_FULL_MOON.to_string(),
        },
        FullMoon::Failed(error) => LuauAnalysis {
            parse_ok: false,
            error: Some(error),
            code_lines,
            comment_lines,
            blank_lines,
            functions: tree_sitter_functions(text),
            functions_from: FROM_TREE_SITTER.to_string(),
        },
    }
}

/// Whether full_moon (Luau mode) parses `text` without errors: exactly `analyze(text).parse_ok`,
/// without counting lines or listing functions.
pub fn parses(text: &str) -> bool {
    matches!(
        with_parser_stack(text, || run_full_moon(text, false)),
        Ok(FullMoon::Parsed { .. })
    )
}

/// Parses `text` with full_moon and returns the tree, for callers that read it (eval's answer
/// checks, the OpenGameEval importer). The same verdict as [`parses`]: nesting deeper than
/// [`MAX_NESTING`] is refused before parsing, a full_moon panic or a tree that does not print
/// back to the text is a failed parse. The tree is built and dropped on the caller's stack, so
/// callers with deeply nested input run this on a thread with a big stack (eval's isolation
/// thread does).
pub fn parse_ast(text: &str) -> Result<Ast, ParseError> {
    if let Some(error) = too_deep(&estimate_nesting(text)) {
        return Err(error);
    }
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        let result = full_moon::parse_fallible(text, luau());
        if !result.errors().is_empty() {
            return Err(first_error(result.errors()));
        }
        let ast = result.into_ast();
        match first_difference(&ast, text) {
            Some(at) => Err(dropped_input_error(text, at)),
            None => Ok(ast),
        }
    }));
    attempt.unwrap_or_else(|panic| Err(panic_error(panic)))
}

enum FullMoon {
    Parsed { functions: Vec<FunctionSpan> },
    Failed(ParseError),
}

/// Parses and (with `functions`) lists functions in one go, so the tree is built, walked and
/// dropped on the same (possibly big) stack. A panic inside full_moon counts as a failed parse,
/// not a crash.
///
/// full_moon promises that an error-free tree prints back to exactly the input. full_moon 3.0
/// breaks that for a dangling `if` in an expression list (`return if`, `print(if)`: no error,
/// the `if` silently dropped; Luau rejects both), so a tree that does not print back to the text
/// is a failed parse too: full_moon did not understand the file.
fn run_full_moon(text: &str, functions: bool) -> FullMoon {
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        let result = full_moon::parse_fallible(text, luau());
        if !result.errors().is_empty() {
            return FullMoon::Failed(first_error(result.errors()));
        }
        let ast = result.ast();
        if let Some(at) = first_difference(ast, text) {
            return FullMoon::Failed(dropped_input_error(text, at));
        }
        FullMoon::Parsed {
            functions: if functions {
                full_moon_functions(ast)
            } else {
                Vec::new()
            },
        }
    }));
    attempt.unwrap_or_else(|panic| FullMoon::Failed(panic_error(panic)))
}

fn panic_error(panic: Box<dyn std::any::Any + Send>) -> ParseError {
    let reason = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    ParseError {
        line: 1,
        column: 1,
        message: format!("full_moon panicked on this file ({reason}); report it upstream"),
    }
}

/// The first error full_moon reported (skipping phantom ones with no position). Reporting order
/// beats file order: the tokenizer runs one token ahead, so an unclosed string is reported before
/// the parser's complaint about the call it broke, and the string is the cause.
fn first_error(errors: &[full_moon::Error]) -> ParseError {
    let chosen = errors
        .iter()
        .find(|e| e.range().0.line() > 0)
        .or(errors.first())
        .expect("called with errors");
    let start = chosen.range().0;
    let message = match chosen {
        // The tokenizer's Display appends the range, which `line`/`column` already carry.
        full_moon::Error::TokenizerError(e) => e.error().to_string(),
        other => other.error_message().into_owned(),
    };
    ParseError {
        line: start.line() as u32,
        column: start.character() as u32,
        message,
    }
}

/// Compares a tree's printed form with the text as it is written, without building the string.
struct PrintCompare<'a> {
    text: &'a [u8],
    pos: usize,
    mismatch: Option<usize>,
}

impl std::fmt::Write for PrintCompare<'_> {
    fn write_str(&mut self, chunk: &str) -> std::fmt::Result {
        let chunk = chunk.as_bytes();
        let expected = &self.text[self.pos.min(self.text.len())..];
        let same = expected
            .iter()
            .zip(chunk)
            .take_while(|(a, b)| a == b)
            .count();
        if same < chunk.len() {
            self.mismatch = Some(self.pos + same);
            return Err(std::fmt::Error);
        }
        self.pos += chunk.len();
        Ok(())
    }
}

/// The byte offset where `ast` printed back first differs from `text`, if it does.
fn first_difference(ast: &Ast, text: &str) -> Option<usize> {
    use std::fmt::Write;
    let mut compare = PrintCompare {
        text: text.as_bytes(),
        pos: 0,
        mismatch: None,
    };
    if write!(compare, "{ast}").is_err() {
        return Some(compare.mismatch.unwrap_or(compare.pos));
    }
    (compare.pos != text.len()).then_some(compare.pos)
}

/// A parse error at byte offset `at`, for code full_moon left out of its tree.
fn dropped_input_error(text: &str, at: usize) -> ParseError {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ParseError {
        line: line as u32,
        column: column as u32,
        message: "full_moon left the code here out of its tree without reporting an error (a \
                  full_moon bug, e.g. a dangling `if`); Luau will not accept it either, so check \
                  this spot"
            .to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Stack safety
//
// full_moon parses, visits and drops syntax trees recursively. Measured in a debug build on a
// 2 MiB thread (rayon's and the test harness's default), about 90 nested `function`s, 150 `do`
// blocks or 300 parentheses overflow the stack, and an overflow aborts the whole process. So
// before parsing we take a cheap nesting estimate; deep files are parsed on a scoped thread with
// a large stack, and files deeper than Luau itself accepts are not handed to full_moon at all.

/// Nesting (blocks + brackets) parsed on the caller's stack; deeper goes to a big-stack thread.
const INLINE_DEPTH: usize = 32;
/// Right-associative or unary chains (`..`, `not`) parsed on the caller's stack.
const INLINE_CHAINS: usize = 200;
/// Stack for deep files: 2000 nested functions need about 50 MiB in a debug build.
const BIG_STACK_BYTES: usize = 256 << 20;
/// Luau's parser gives up past 1000 levels (`FInt::LuauRecursionLimit`, Ast/src/Parser.cpp:
/// "Exceeded allowed recursion depth"), so no file deeper than this compiles anyway.
pub const MAX_NESTING: usize = 1000;

/// An upper-ish estimate of how deep full_moon will recurse on `text`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Nesting {
    pub(crate) depth: usize,
    pub(crate) chains: usize,
    /// Where `depth` first passed [`MAX_NESTING`] (1-based line and character column).
    pub(crate) too_deep_at: Option<(usize, usize)>,
}

pub(crate) fn estimate_nesting(text: &str) -> Nesting {
    let mut out = Nesting::default();
    let mut depth = 0usize;
    let mut previous: Option<Token> = None;
    let mut open_expression_ifs = 0usize;
    let mut expression_else: Option<usize> = None;
    for token in Lexer::new(text) {
        let slice = text.get(token.start..token.end).unwrap_or_default();
        match token.kind {
            TokenKind::Operator => match slice {
                "(" | "{" | "[" => depth += 1,
                ")" | "}" | "]" => depth = depth.saturating_sub(1),
                // `..` chains are right-associative: each one recurses.
                ".." | "..=" => out.chains += 1,
                "..." => out.chains += 2,
                _ => {}
            },
            TokenKind::Name => match slice {
                "function" | "do" | "repeat" => depth += 1,
                // An if-statement opens a level closed by `end`; an if-expression
                // (`x = if a then b else c`) has no `end`, so it must not.
                "if" => {
                    let expression = previous.is_some_and(|p| {
                        starts_expression(text, p) || Some(p.start) == expression_else
                    });
                    if expression {
                        open_expression_ifs += 1;
                    } else {
                        depth += 1;
                    }
                }
                // `x = if a then b else if c then d else e`: the `if` after an if-expression's
                // `else` is an expression too.
                "else" if open_expression_ifs > 0 => {
                    open_expression_ifs -= 1;
                    expression_else = Some(token.start);
                }
                "end" | "until" => depth = depth.saturating_sub(1),
                "not" => out.chains += 1,
                _ => {}
            },
            _ => {}
        }
        if depth > out.depth {
            out.depth = depth;
            if depth > MAX_NESTING && out.too_deep_at.is_none() {
                let before = text.get(..token.start).unwrap_or_default();
                let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                out.too_deep_at = Some((line, column));
            }
        }
        if token.kind != TokenKind::Comment {
            previous = Some(token);
        }
    }
    out
}

/// Whether an `if` after `previous` is an if-expression rather than a statement.
fn starts_expression(text: &str, previous: Token) -> bool {
    let slice = text.get(previous.start..previous.end).unwrap_or_default();
    match previous.kind {
        // The operator's last byte: `==`, `..`, `->` end like `=`, `.`, `>`.
        TokenKind::Operator => slice
            .bytes()
            .last()
            .is_some_and(|b| b"=(,{[+-*/%^#<>~.".contains(&b)),
        TokenKind::Name => matches!(slice, "return" | "and" | "or" | "not" | "in"),
        _ => false,
    }
}

/// The refusal for code deeper than Luau accepts, if `nesting` is.
fn too_deep(nesting: &Nesting) -> Option<ParseError> {
    let (line, column) = nesting.too_deep_at?;
    Some(ParseError {
        line: line as u32,
        column: column as u32,
        message: format!(
            "code nests deeper than {MAX_NESTING} levels of blocks and brackets (nesting depth \
             over Luau's recursion limit); Luau refuses code this deep, so simplify or split it"
        ),
    })
}

/// Runs `parse` where full_moon cannot overflow the stack on `text`, or says why it did not run.
fn with_parser_stack<R: Send>(
    text: &str,
    parse: impl FnOnce() -> R + Send,
) -> Result<R, ParseError> {
    let nesting = estimate_nesting(text);
    if let Some(error) = too_deep(&nesting) {
        return Err(error);
    }
    if nesting.depth <= INLINE_DEPTH && nesting.chains <= INLINE_CHAINS {
        return Ok(parse());
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("luau-parse".into())
            .stack_size(BIG_STACK_BYTES)
            .spawn_scoped(scope, parse);
        match handle {
            Ok(handle) => match handle.join() {
                Ok(value) => Ok(value),
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(err) => Err(ParseError {
                line: 1,
                column: 1,
                message: format!(
                    "could not start a {} MiB parser thread for deeply nested code ({err}); \
                     free memory or raise the process's thread limits",
                    BIG_STACK_BYTES >> 20
                ),
            }),
        }
    })
}
