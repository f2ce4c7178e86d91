//! Luau understanding for ingest and audits: validity, line counts, top-level functions, and a
//! check with the real Luau compiler.
//!
//! Validity is decided by exactly one parser, full_moon 3 in Luau mode. When it rejects a file we
//! still count its lines (full_moon's tokenizer, or a small scanner when even that fails) and
//! recover top-level functions with tree-sitter-luau, whose error recovery keeps going past
//! mistakes. tree-sitter must never decide whether a file parses: its grammar is more lenient than
//! Luau in places and stricter in others, so `parse_ok` comes from full_moon alone.
//!
//! Line counting rules (shared by [`analyze`] and [`code_lines`]):
//! - a line is *code* when any non-comment, non-whitespace token touches it; a token that spans
//!   lines (a long string `[[...]]`, a string with an escaped newline) makes every line it spans
//!   code;
//! - otherwise a line is *comment* when a comment touches it; a long comment `--[[ ... ]]` makes
//!   every line it spans a comment line, blank ones included;
//! - otherwise it is *blank*.
//!
//! A `#!` shebang line counts as a comment.
//!
//! Lines are the text split at `\n`; a final line without a newline counts, the empty string
//! after a trailing newline does not. So `code + comment + blank` is always the line total.
//!
//! Top-level functions are the statements of the chunk itself (never anything inside a function,
//! `do` block or branch): `local function f` (`local`), `function f` / `function M.f`
//! (`global`), `function M:f` (`method`) and `local f = function` / `M.f = function`
//! (`assigned`). A span runs from the statement's first token (an `@native` attribute included)
//! to the function's `end`.
//!
//! This module must stay linear in the input size: ingest runs it on hundreds of thousands of
//! lines. Each public function parses its input at most once. It must never crash the process:
//! deep nesting is parsed on a big stack (see "Stack safety" below) and a full_moon panic counts
//! as a failed parse.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use full_moon::ast::{Ast, Expression, Stmt, Var};
use full_moon::node::Node;
use full_moon::tokenizer::{Lexer, LexerResult, Token, TokenKind, TokenReference};
use full_moon::LuaVersion;
use serde::Serialize;

use crate::core::{FunctionSpan, LuauAnalysis, ParseError};

/// Which parser found the functions of a [`LuauAnalysis`].
pub const FROM_FULL_MOON: &str = "full_moon";
/// See [`FROM_FULL_MOON`].
pub const FROM_TREE_SITTER: &str = "tree-sitter";

/// Function kinds written into [`FunctionSpan::kind`].
pub const KIND_LOCAL: &str = "local";
/// `function foo()` and `function M.foo()`: a declaration that is not `local`.
pub const KIND_GLOBAL: &str = "global";
/// `function M:bar()`.
pub const KIND_METHOD: &str = "method";
/// `local f = function() end`, `f = function() end`, `M.f = function() end`.
pub const KIND_ASSIGNED: &str = "assigned";

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
    attempt.unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        FullMoon::Failed(ParseError {
            line: 1,
            column: 1,
            message: format!("full_moon panicked on this file ({reason}); report it upstream"),
        })
    })
}

/// Lines holding at least one non-comment, non-whitespace token; the same number
/// [`analyze`] reports, computed with the tokenizer alone (no syntax tree).
pub fn code_lines(text: &str) -> u32 {
    count_lines_tokenized(text).counts().0
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
/// `:` (mlua `src/chunk.rs`, `Compiler::compile`), leaving `LINE: message`. Accept both shapes.
fn split_compiler_message(raw: &str) -> (Option<u32>, String) {
    let rest = raw.strip_prefix(':').unwrap_or(raw);
    if let Some((digits, message)) = rest.split_once(':') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(line) = digits.parse::<u32>() {
                return (Some(line), message.trim_start().to_string());
            }
        }
    }
    (None, raw.trim().to_string())
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

// ---------------------------------------------------------------------------------------------
// Line counting

const BLANK: u8 = 0;
const COMMENT: u8 = 1;
const CODE: u8 = 2;

/// Per-line classification; index 0 is unused so lines are 1-based.
struct LineMarks {
    lines: Vec<u8>,
}

impl LineMarks {
    fn new(text: &str) -> Self {
        LineMarks {
            lines: vec![BLANK; total_lines(text) as usize + 1],
        }
    }

    /// Raises lines `first..=last` to at least `class` (code beats comment beats blank).
    fn mark(&mut self, first: usize, last: usize, class: u8) {
        let total = self.lines.len() - 1;
        let first = first.max(1);
        let last = last.min(total);
        for line in first..=last {
            if self.lines[line] < class {
                self.lines[line] = class;
            }
        }
    }

    fn mark_token(&mut self, token: &Token) {
        let class = match token.token_kind() {
            TokenKind::Whitespace | TokenKind::Eof => return,
            TokenKind::SingleLineComment | TokenKind::MultiLineComment | TokenKind::Shebang => {
                COMMENT
            }
            _ => CODE,
        };
        self.mark(
            token.start_position().line(),
            token.end_position().line(),
            class,
        );
    }

    /// (code, comment, blank)
    fn counts(&self) -> (u32, u32, u32) {
        let mut counts = [0u32; 3];
        for &class in &self.lines[1..] {
            counts[class as usize] += 1;
        }
        (
            counts[CODE as usize],
            counts[COMMENT as usize],
            counts[BLANK as usize],
        )
    }
}

/// Lines of `text`: every `\n` ends one, and a non-empty tail without `\n` is one more.
fn total_lines(text: &str) -> u32 {
    let newlines = text.bytes().filter(|&b| b == b'\n').count() as u32;
    if text.is_empty() || text.ends_with('\n') {
        newlines
    } else {
        newlines + 1
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

/// Counts lines from full_moon's tokenizer; falls back to [`scan_lines`] when it reports errors
/// (an unclosed string or comment makes its token stream unreliable), panics, or returns tokens
/// that do not cover the text (full_moon 3.0 does that after a shebang followed by an unclosed
/// long comment).
fn count_lines_tokenized(text: &str) -> LineMarks {
    let tokens = catch_unwind(AssertUnwindSafe(|| Lexer::new(text, luau()).collect()));
    if let Ok(LexerResult::Ok(tokens)) = tokens {
        let covered: usize = tokens
            .iter()
            .map(|t| {
                t.end_position()
                    .bytes()
                    .saturating_sub(t.start_position().bytes())
            })
            .sum();
        if covered == text.len() {
            let mut marks = LineMarks::new(text);
            for token in &tokens {
                marks.mark_token(token);
            }
            return marks;
        }
    }
    scan_lines(text)
}

/// Counts lines with [`Scanner`], for text full_moon cannot tokenize.
fn scan_lines(text: &str) -> LineMarks {
    let mut marks = LineMarks::new(text);
    for lexeme in Scanner::new(text) {
        let class = match lexeme.kind {
            LexKind::Comment => COMMENT,
            _ => CODE,
        };
        marks.mark(lexeme.first_line, lexeme.last_line, class);
    }
    marks
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LexKind {
    Comment,
    /// A quoted string, long string, or a literal segment of a backtick string.
    Str,
    /// A run of identifier/number bytes (and any non-ASCII byte).
    Word,
    /// Any other single byte.
    Punct(u8),
}

#[derive(Debug, Clone, Copy)]
struct Lexeme {
    kind: LexKind,
    start: usize,
    end: usize,
    first_line: usize,
    last_line: usize,
}

/// A byte scanner that never fails, for text full_moon's tokenizer rejects and for the cheap
/// nesting estimate taken before parsing. It knows `--` comments, long comments `--[==[ ]==]`,
/// long strings `[==[ ]==]`, quoted strings with escapes (`\` newline, `\z`) and backtick
/// strings with `{expr}` holes (Luau lexer rules: <https://luau.org/syntax>), and a `#!` first
/// line. Unclosed quoted
/// strings end at their line's end, unclosed long brackets at the end of the text.
struct Scanner<'a> {
    bytes: &'a [u8],
    i: usize,
    line: usize,
    line_start: usize,
    /// One entry per backtick string whose `{` hole we are in: brace depth inside that hole.
    holes: Vec<u32>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            i: 0,
            line: 1,
            line_start: 0,
            holes: Vec::new(),
        }
    }

    fn newline_at(&mut self, index: usize) {
        self.line += 1;
        self.line_start = index + 1;
    }

    /// If a long bracket `[`, `=`*, `[` opens at `at`, its level (the number of `=`).
    fn long_bracket_level(&self, at: usize) -> Option<usize> {
        let bytes = self.bytes;
        if bytes.get(at) != Some(&b'[') {
            return None;
        }
        let mut j = at + 1;
        while bytes.get(j) == Some(&b'=') {
            j += 1;
        }
        (bytes.get(j) == Some(&b'[')).then_some(j - at - 1)
    }

    /// Skips a long bracket of `level` opening at `self.i`, up to after its close (or the end).
    fn skip_long_bracket(&mut self, level: usize) {
        let bytes = self.bytes;
        let mut i = self.i + level + 2;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => self.newline_at(i),
                b']' => {
                    let mut j = i + 1;
                    while j < bytes.len() && bytes[j] == b'=' {
                        j += 1;
                    }
                    if j - i - 1 == level && bytes.get(j) == Some(&b']') {
                        self.i = j + 1;
                        return;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.i = bytes.len();
    }

    /// Skips the escape whose backslash is at `i` (inside any kind of string); returns the index
    /// after it. `\` newline continues the string on the next line, `\z` skips all whitespace
    /// that follows, newlines included.
    fn skip_escape(&mut self, mut i: usize) -> usize {
        let bytes = self.bytes;
        i += 1;
        match bytes.get(i) {
            Some(b'z') => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    if bytes[i] == b'\n' {
                        self.newline_at(i);
                    }
                    i += 1;
                }
            }
            Some(b'\n') => {
                self.newline_at(i);
                i += 1;
            }
            Some(_) => i += 1,
            None => {}
        }
        i
    }

    /// Skips a `'` or `"` string whose quote is at `self.i`.
    fn skip_quoted(&mut self, quote: u8) {
        let bytes = self.bytes;
        let mut i = self.i + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i = self.skip_escape(i),
                // Unclosed: the string ends with its line.
                b'\n' => break,
                c if c == quote => {
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
        self.i = i.min(bytes.len());
    }

    /// Skips a literal segment of a backtick string; `self.i` is at its opening `` ` `` or `}`.
    /// Opens a hole when the segment ends with `{`.
    fn skip_backtick_segment(&mut self) {
        let bytes = self.bytes;
        let mut i = self.i + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i = self.skip_escape(i),
                b'\n' => break,
                b'`' => {
                    i += 1;
                    break;
                }
                b'{' => {
                    self.holes.push(0);
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
        self.i = i.min(bytes.len());
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

impl Iterator for Scanner<'_> {
    type Item = Lexeme;

    fn next(&mut self) -> Option<Lexeme> {
        let bytes = self.bytes;
        loop {
            let b = *bytes.get(self.i)?;
            let start = self.i;
            let first_line = self.line;
            let kind = match b {
                b'\n' => {
                    self.newline_at(self.i);
                    self.i += 1;
                    continue;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                    self.i += 1;
                    continue;
                }
                // A shebang, only as the very first line (full_moon reads it as trivia).
                b'#' if self.i == 0 && bytes.get(1) == Some(&b'!') => {
                    while self.i < bytes.len() && bytes[self.i] != b'\n' {
                        self.i += 1;
                    }
                    LexKind::Comment
                }
                b'-' if bytes.get(self.i + 1) == Some(&b'-') => {
                    if let Some(level) = self.long_bracket_level(self.i + 2) {
                        self.i += 2;
                        self.skip_long_bracket(level);
                    } else {
                        while self.i < bytes.len() && bytes[self.i] != b'\n' {
                            self.i += 1;
                        }
                    }
                    LexKind::Comment
                }
                b'[' if self.long_bracket_level(self.i).is_some() => {
                    let level = self.long_bracket_level(self.i).unwrap_or(0);
                    self.skip_long_bracket(level);
                    LexKind::Str
                }
                b'"' | b'\'' => {
                    self.skip_quoted(b);
                    LexKind::Str
                }
                b'`' => {
                    self.skip_backtick_segment();
                    LexKind::Str
                }
                b'}' if self.holes.last() == Some(&0) => {
                    self.holes.pop();
                    self.skip_backtick_segment();
                    LexKind::Str
                }
                _ if is_word_byte(b) => {
                    while self.i < bytes.len() && is_word_byte(bytes[self.i]) {
                        self.i += 1;
                    }
                    LexKind::Word
                }
                _ => {
                    if let Some(depth) = self.holes.last_mut() {
                        match b {
                            b'{' => *depth += 1,
                            b'}' => *depth -= 1,
                            _ => {}
                        }
                    }
                    self.i += 1;
                    LexKind::Punct(b)
                }
            };
            return Some(Lexeme {
                kind,
                start,
                end: self.i,
                first_line,
                last_line: self.line,
            });
        }
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
struct Nesting {
    depth: usize,
    chains: usize,
    /// Where `depth` first passed [`MAX_NESTING`] (1-based line and character column).
    too_deep_at: Option<(usize, usize)>,
}

fn estimate_nesting(text: &str) -> Nesting {
    let mut scanner = Scanner::new(text);
    let mut out = Nesting::default();
    let mut depth = 0usize;
    let mut previous: Option<Lexeme> = None;
    let mut open_expression_ifs = 0usize;
    let mut expression_else: Option<usize> = None;
    while let Some(lexeme) = scanner.next() {
        match lexeme.kind {
            LexKind::Punct(b'(' | b'{' | b'[') => depth += 1,
            LexKind::Punct(b')' | b'}' | b']') => depth = depth.saturating_sub(1),
            LexKind::Punct(b'.')
                if previous
                    .is_some_and(|p| p.kind == LexKind::Punct(b'.') && p.end == lexeme.start) =>
            {
                out.chains += 1;
            }
            LexKind::Word => match text.get(lexeme.start..lexeme.end).unwrap_or_default() {
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
                    expression_else = Some(lexeme.start);
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
                let column = text
                    .get(scanner.line_start..lexeme.start)
                    .map_or(0, |s| s.chars().count())
                    + 1;
                out.too_deep_at = Some((lexeme.first_line, column));
            }
        }
        if lexeme.kind != LexKind::Comment {
            previous = Some(lexeme);
        }
    }
    out
}

/// Whether an `if` after `previous` is an if-expression rather than a statement.
fn starts_expression(text: &str, previous: Lexeme) -> bool {
    match previous.kind {
        LexKind::Punct(b) => b"=(,{[+-*/%^#<>~.".contains(&b),
        LexKind::Word => matches!(
            text.get(previous.start..previous.end).unwrap_or_default(),
            "return" | "and" | "or" | "not" | "in"
        ),
        _ => false,
    }
}

/// Runs `parse` where full_moon cannot overflow the stack on `text`, or says why it did not run.
fn with_parser_stack<R: Send>(
    text: &str,
    parse: impl FnOnce() -> R + Send,
) -> Result<R, ParseError> {
    let nesting = estimate_nesting(text);
    if let Some((line, column)) = nesting.too_deep_at {
        return Err(ParseError {
            line: line as u32,
            column: column as u32,
            message: format!(
                "code nests deeper than {MAX_NESTING} levels of blocks and brackets; Luau refuses \
                 code this deep (recursion limit), so simplify or split it"
            ),
        });
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

// ---------------------------------------------------------------------------------------------
// Functions from full_moon

fn line_of(token: &TokenReference) -> u32 {
    token.token().start_position().line() as u32
}

fn start_line(node: &impl Node) -> u32 {
    node.start_position().map_or(0, |p| p.line() as u32)
}

/// The token text of a small node, without comments or whitespace (`M . foo` becomes `M.foo`).
fn written_name(node: &impl Node) -> String {
    node.tokens().map(|t| t.token().to_string()).collect()
}

/// The anonymous function an expression is, looking through `( )` and `:: T`.
fn as_function(expr: &Expression) -> Option<&full_moon::ast::AnonymousFunction> {
    match expr {
        Expression::Function(f) => Some(f),
        Expression::Parentheses { expression, .. } => as_function(expression),
        Expression::TypeAssertion { expression, .. } => as_function(expression),
        _ => None,
    }
}

fn full_moon_functions(ast: &Ast) -> Vec<FunctionSpan> {
    let mut out = Vec::new();
    for stmt in ast.nodes().stmts() {
        match stmt {
            Stmt::FunctionDeclaration(decl) => {
                let name = decl.name();
                let kind = if name.method_name().is_some() {
                    KIND_METHOD
                } else {
                    KIND_GLOBAL
                };
                out.push(FunctionSpan {
                    name: written_name(name),
                    kind: kind.to_string(),
                    line_start: start_line(stmt),
                    line_end: line_of(decl.body().end_token()),
                });
            }
            Stmt::LocalFunction(local) => out.push(FunctionSpan {
                name: local.name().token().to_string(),
                kind: KIND_LOCAL.to_string(),
                line_start: start_line(stmt),
                line_end: line_of(local.body().end_token()),
            }),
            Stmt::ConstFunction(constant) => out.push(FunctionSpan {
                name: constant.name().token().to_string(),
                kind: KIND_LOCAL.to_string(),
                line_start: start_line(stmt),
                line_end: line_of(constant.body().end_token()),
            }),
            Stmt::LocalAssignment(assignment) => {
                let names = assignment.names().iter().map(|n| n.token().to_string());
                push_assigned(&mut out, stmt, names, assignment.expressions().iter());
            }
            Stmt::ConstAssignment(assignment) => {
                let names = assignment.names().iter().map(|n| n.token().to_string());
                push_assigned(&mut out, stmt, names, assignment.expressions().iter());
            }
            Stmt::Assignment(assignment) => {
                let names = assignment.variables().iter().map(|var| match var {
                    Var::Name(token) => token.token().to_string(),
                    other => written_name(other),
                });
                push_assigned(&mut out, stmt, names, assignment.expressions().iter());
            }
            _ => {}
        }
    }
    out
}

fn push_assigned<'a>(
    out: &mut Vec<FunctionSpan>,
    stmt: &Stmt,
    names: impl Iterator<Item = String>,
    values: impl Iterator<Item = &'a Expression>,
) {
    for (name, value) in names.zip(values) {
        if let Some(function) = as_function(value) {
            out.push(FunctionSpan {
                name,
                kind: KIND_ASSIGNED.to_string(),
                line_start: start_line(stmt),
                line_end: line_of(function.body().end_token()),
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Functions from tree-sitter (only for files full_moon rejects)

thread_local! {
    static TS_PARSER: RefCell<Option<tree_sitter::Parser>> = const { RefCell::new(None) };
}

/// Top-level functions as tree-sitter-luau recovers them. Node kinds come from the grammar's
/// `src/node-types.json` (tree-sitter-luau 1.2): `function_declaration` (a `local` child for
/// local ones; `name` field is an `identifier`, `dot_index_expression` or
/// `method_index_expression`), `variable_declaration` > `assignment_statement` >
/// `variable_list` (`name` fields) + `expression_list` (`value` fields), `function_definition`
/// for `function() end` expressions, and `ERROR` for what it skipped.
fn tree_sitter_functions(text: &str) -> Vec<FunctionSpan> {
    let tree = TS_PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut parser = tree_sitter::Parser::new();
            parser
                .set_language(&tree_sitter_luau::LANGUAGE.into())
                .ok()?;
            *slot = Some(parser);
        }
        slot.as_mut()?.parse(text, None)
    });
    let Some(tree) = tree else {
        return Vec::new();
    };
    let mut out = Vec::new();
    collect_ts(tree.root_node(), text.as_bytes(), &mut out);
    out
}

fn ts_text(node: tree_sitter::Node<'_>, source: &[u8]) -> String {
    node.utf8_text(source)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn collect_ts(root: tree_sitter::Node<'_>, source: &[u8], out: &mut Vec<FunctionSpan>) {
    // Statements tree-sitter could not fit into the grammar sit inside top-level `ERROR` nodes;
    // look through those (iteratively: they can nest), but never into function bodies.
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        let mut cursor = parent.walk();
        let mut errors = Vec::new();
        for node in parent.children(&mut cursor) {
            match node.kind() {
                "ERROR" => errors.push(node),
                "function_declaration" => ts_declaration(node, source, out),
                "variable_declaration" => {
                    let mut inner = node.walk();
                    for child in node.named_children(&mut inner) {
                        if child.kind() == "assignment_statement" {
                            ts_assignment(child, node, source, out);
                        }
                    }
                }
                "assignment_statement" => ts_assignment(node, node, source, out),
                _ => {}
            }
        }
        parents.extend(errors.into_iter().rev());
    }
    out.sort_by_key(|f| (f.line_start, f.line_end));
}

fn ts_declaration(node: tree_sitter::Node<'_>, source: &[u8], out: &mut Vec<FunctionSpan>) {
    let Some(name) = node.child_by_field_name("name") else {
        return;
    };
    let is_local = node.child(0).is_some_and(|c| c.kind() == "local");
    let kind = if is_local {
        KIND_LOCAL
    } else if name.kind() == "method_index_expression" {
        KIND_METHOD
    } else {
        KIND_GLOBAL
    };
    out.push(FunctionSpan {
        name: ts_text(name, source),
        kind: kind.to_string(),
        line_start: node.start_position().row as u32 + 1,
        line_end: node.end_position().row as u32 + 1,
    });
}

fn ts_assignment(
    assignment: tree_sitter::Node<'_>,
    statement: tree_sitter::Node<'_>,
    source: &[u8],
    out: &mut Vec<FunctionSpan>,
) {
    let mut cursor = assignment.walk();
    let mut names = Vec::new();
    let mut values = Vec::new();
    for child in assignment.named_children(&mut cursor) {
        let mut inner = child.walk();
        match child.kind() {
            "variable_list" => names.extend(child.children_by_field_name("name", &mut inner)),
            "expression_list" => values.extend(child.children_by_field_name("value", &mut inner)),
            _ => {}
        }
    }
    for (name, value) in names.into_iter().zip(values) {
        if value.kind() == "function_definition" {
            out.push(FunctionSpan {
                name: ts_text(name, source),
                kind: KIND_ASSIGNED.to_string(),
                line_start: statement.start_position().row as u32 + 1,
                line_end: value.end_position().row as u32 + 1,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str, kind: &str, line_start: u32, line_end: u32) -> FunctionSpan {
        FunctionSpan {
            name: name.to_string(),
            kind: kind.to_string(),
            line_start,
            line_end,
        }
    }

    /// (code, comment, blank) as `analyze` reports them.
    fn lines(text: &str) -> (u32, u32, u32) {
        let a = analyze(text);
        (a.code_lines, a.comment_lines, a.blank_lines)
    }

    // Syntax from the Luau reference (https://luau.org/syntax, https://luau.org/typecheck).
    const FEATURES: &[(&str, &str)] = &[
        ("type annotations", "local x: number = 1\nlocal s: string? = nil\n"),
        (
            "generic function",
            "local function id<T>(x: T): T\n  return x\nend\n",
        ),
        (
            "generic defaults",
            "type Box<T = number> = { value: T }\ntype Pair<T, U = T> = { a: T, b: U }\n",
        ),
        (
            "continue",
            "for i = 1, 3 do\n  if i == 2 then continue end\n  print(i)\nend\n",
        ),
        (
            "compound assignment",
            "local n = 0\nn += 1\nn -= 1\nn *= 2\nn //= 2\nlocal s = ''\ns ..= 'x'\n",
        ),
        (
            "string interpolation",
            "local n = 3\nlocal s = `n is {n}, nested {`{n + 1}`} \\{literal}`\n",
        ),
        (
            "attributes",
            "@native\nlocal function f(x: number) return x * 2 end\n@checked function g() end\n",
        ),
        (
            "type function",
            "type function Keys(t)\n  return t\nend\nexport type function Same(t)\n  return t\nend\n",
        ),
        (
            "read/write properties",
            "type T = { read x: number, write y: string, z: boolean }\n",
        ),
        (
            "export type",
            "export type Point = { x: number, y: number }\nlocal p: Point = { x = 1, y = 2 }\n",
        ),
        (
            "if expression and type cast",
            "local a = 1\nlocal b = if a > 0 then 'pos' else 'neg'\nlocal c = (a :: any) :: number\n",
        ),
    ];

    #[test]
    fn every_listed_luau_feature_parses_and_compiles() {
        for (feature, code) in FEATURES {
            let a = analyze(code);
            assert!(a.parse_ok, "{feature}: {:?}", a.error);
            assert_eq!(a.error, None, "{feature}");
            assert!(parses(code), "{feature}");
            assert_eq!(a.functions_from, FROM_FULL_MOON, "{feature}");
            // The real compiler agrees, so these are not full_moon quirks.
            assert_eq!(compile(code, "feature.luau"), Ok(()), "{feature}");
        }
    }

    #[test]
    fn syntax_error_reports_line_and_column_of_the_offending_token() {
        let a = analyze("local ok = 1\nlocal t = {1, 2 3}\n");
        assert!(!a.parse_ok);
        let error = a.error.expect("an error");
        // `3` is the 17th character of line 2.
        assert_eq!((error.line, error.column), (2, 17), "{}", error.message);
        assert!(error.message.contains('}'), "{}", error.message);

        let error = analyze("local a = 1\nlocal b = 2\nlocal x = = 1\n")
            .error
            .expect("an error");
        assert_eq!(error.line, 3);
        assert!(!parses("local a = 1\nlocal b = 2\nlocal x = = 1\n"));
    }

    #[test]
    fn tokenizer_error_is_reported_where_the_bad_token_starts() {
        // The unclosed string is the cause, even though the parser also complains about the call.
        let error = analyze("print('a')\nprint(\"b)\n").error.expect("an error");
        assert_eq!((error.line, error.column), (2, 7));
        assert_eq!(error.message, "unclosed string");
    }

    const MIXED: &str = "-- header comment\n\
                         \n\
                         local x = 1 -- trailing comment\n\
                         --[[ block\n   comment spanning\n\n]]\n\
                         local s = [[long\n\nstring]]\n\
                         \x20   \n\
                         --[==[ level-2 ]] still comment\n]==] local y = 2\n\
                         local t = \"a\\\nb\"\n\
                         -- done\n\
                         local m = `a {f(\n  -- inside a hole\nx)} b`\n";

    #[test]
    fn line_counts_on_a_mixed_file() {
        // Lines, by hand:
        //  1 comment | 2 blank | 3 code (trailing comment) | 4-7 comment (block comment, its
        //  blank line 6 included) | 8-10 code (long string, its blank line 9 included) |
        //  11 blank (spaces only) | 12 comment (`]]` does not close `--[==[`) | 13 code after
        //  `]==]` | 14-15 code (string with an escaped newline) | 16 comment |
        //  17 code | 18 comment inside an interpolation hole | 19 code
        assert_eq!(total_lines(MIXED), 19);
        let a = analyze(MIXED);
        assert!(a.parse_ok, "{:?}", a.error);
        let code = [3, 8, 9, 10, 13, 14, 15, 17, 19].len() as u32;
        let comment = [1, 4, 5, 6, 7, 12, 16, 18].len() as u32;
        let blank = [2, 11].len() as u32;
        assert_eq!(
            (a.code_lines, a.comment_lines, a.blank_lines),
            (code, comment, blank)
        );
        assert_eq!(code_lines(MIXED), code);
    }

    #[test]
    fn line_totals_follow_newlines() {
        assert_eq!(lines(""), (0, 0, 0));
        assert_eq!(lines("\n"), (0, 0, 1));
        // No trailing newline: the last line still counts.
        assert_eq!(lines("local a = 1\n\n-- c"), (1, 1, 1));
        assert_eq!(lines("local a = 1\n\n-- c\n"), (1, 1, 1));
        // A comment after code on the same line leaves it a code line.
        assert_eq!(lines("local a = 1 --[[ x ]] -- y\n"), (1, 0, 0));
    }

    #[test]
    fn fallback_scanner_agrees_with_the_tokenizer_on_valid_code() {
        let samples = [
            MIXED,
            FEATURES[5].1,
            "local a = \"x\\z\n      y\"\nlocal b = 'q' -- c\n\n--[=[\n]]\n]=]\n",
            "local t = { [1] = 'a', [ [[k]] ] = 2 }\n-- [[ not a long comment\nreturn t\n",
            "#!/usr/bin/env luau\nprint(#t)\n",
        ];
        for text in samples {
            assert_eq!(
                scan_lines(text).counts(),
                count_lines_tokenized(text).counts(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn untokenizable_file_is_still_counted() {
        // Lines: 1 comment | 2 code (string left open: Luau ends it at the newline) | 3 blank |
        // 4 code after a closed block comment | 5-6 comment (unclosed long comment runs to EOF)
        let text = "-- note\nlocal a = \"unclosed\n\n--[[ c ]] local b = 1\n--[[ open\nstill\n";
        let a = analyze(text);
        assert!(!a.parse_ok);
        assert_eq!((a.code_lines, a.comment_lines, a.blank_lines), (2, 3, 1));
        assert_eq!(code_lines(text), 2);
    }

    const FUNCTIONS: &str = "local M = {}\n\
        \n\
        local function helper(a: number): number\n\
        \x20 local function inner() return a end\n\
        \x20 return inner()\n\
        end\n\
        \n\
        function globalFn<T>(x: T): T\n\
        \x20 return x\n\
        end\n\
        \n\
        function M.util()\n\
        end\n\
        \n\
        function M:method(n)\n\
        \x20 local nested = function() end\n\
        \x20 return n\n\
        end\n\
        \n\
        local assigned = function(...)\n\
        \x20 return ...\n\
        end\n\
        \n\
        M.field = function() end\n\
        \n\
        @native\n\
        local function fast()\n\
        end\n\
        \n\
        do\n\
        \x20 local function hidden() end\n\
        end\n\
        \n\
        return M\n";

    #[test]
    fn top_level_functions_have_names_kinds_and_spans() {
        let a = analyze(FUNCTIONS);
        assert!(a.parse_ok, "{:?}", a.error);
        assert_eq!(a.functions_from, FROM_FULL_MOON);
        assert_eq!(
            a.functions,
            vec![
                span("helper", KIND_LOCAL, 3, 6),
                span("globalFn", KIND_GLOBAL, 8, 10),
                span("M.util", KIND_GLOBAL, 12, 13),
                span("M:method", KIND_METHOD, 15, 18),
                span("assigned", KIND_ASSIGNED, 20, 22),
                span("M.field", KIND_ASSIGNED, 24, 24),
                // The span starts at the attribute.
                span("fast", KIND_LOCAL, 26, 28),
            ]
        );
    }

    #[test]
    fn nested_functions_are_not_listed() {
        let names: Vec<String> = analyze(FUNCTIONS)
            .functions
            .into_iter()
            .map(|f| f.name)
            .collect();
        for nested in ["inner", "nested", "hidden"] {
            assert!(!names.iter().any(|n| n == nested), "{nested} in {names:?}");
        }
    }

    #[test]
    fn names_are_written_without_trivia_and_several_assignments_split() {
        // Also pins a regression: full_moon's visitor skips the commas of `local a, b`, so an
        // earlier token-coverage check called this valid file broken.
        let a = analyze("M . f --[[x]] = function() end\nlocal a, b = function() end, 1\n");
        assert!(a.parse_ok, "{:?}", a.error);
        assert_eq!(
            a.functions,
            vec![
                span("M.f", KIND_ASSIGNED, 1, 1),
                span("a", KIND_ASSIGNED, 2, 2)
            ]
        );
    }

    #[test]
    fn broken_file_recovers_functions_with_tree_sitter() {
        // A stray statement on line 12, between globalFn and M.util.
        let broken = FUNCTIONS.replace("\nfunction M.util()", "\nlocal = 5\nfunction M.util()");
        let a = analyze(&broken);
        assert!(!a.parse_ok);
        let error = a.error.expect("an error");
        assert_eq!(error.line, 12);
        assert_eq!(a.functions_from, FROM_TREE_SITTER);
        // Everything after line 11 moved down one line. tree-sitter-luau 1.2 does not know
        // `@native`, so `fast` starts at its `local`.
        assert_eq!(
            a.functions,
            vec![
                span("helper", KIND_LOCAL, 3, 6),
                span("globalFn", KIND_GLOBAL, 8, 10),
                span("M.util", KIND_GLOBAL, 13, 14),
                span("M:method", KIND_METHOD, 16, 19),
                span("assigned", KIND_ASSIGNED, 21, 23),
                span("M.field", KIND_ASSIGNED, 25, 25),
                span("fast", KIND_LOCAL, 28, 29),
            ]
        );
        // Lines are still counted from tokens: one more code line than the valid file.
        assert_eq!(a.code_lines, analyze(FUNCTIONS).code_lines + 1);
    }

    #[test]
    fn code_full_moon_drops_silently_does_not_parse() {
        // full_moon 3.0 returns no error for a dangling `if` and leaves it out of the tree.
        let text = "local a = 1\nreturn --[[ c ]] if\n";
        assert!(full_moon::parse_fallible(text, luau()).errors().is_empty());
        let a = analyze(text);
        assert!(!a.parse_ok);
        let error = a.error.expect("an error");
        // Everything before `if` (line 2, character 18) is covered by the tree.
        assert_eq!((error.line, error.column), (2, 18), "{}", error.message);
        assert!(!parses(text));
        assert_eq!(a.code_lines, 2);
        assert!(compile(text, "if.luau").is_err());
    }

    #[test]
    fn a_full_moon_panic_is_a_failed_parse_not_a_crash() {
        // full_moon 3.0 hits `unreachable!("current() called past EOF")` on this input.
        let text = "#!/usr/bin/env luau\n--[==[ never closed\nlocal a = 1\n";
        let a = analyze(text);
        assert!(!a.parse_ok);
        let error = a.error.expect("an error");
        assert!(error.message.contains("panicked"), "{}", error.message);
        assert!(!parses(text));
        // Counted by the scanner: a shebang line, then a long comment running to the end.
        assert_eq!((a.code_lines, a.comment_lines, a.blank_lines), (0, 3, 0));
    }

    #[test]
    fn random_fragment_soup_keeps_every_invariant() {
        // Deterministic pseudo-random texts from lexically tricky fragments. No backslashes:
        // full_moon 3.0's tokenizer lets any escape be followed by one raw newline (and treats
        // the character after `\z` in a backtick string as escaped), which Luau does not; the
        // scanner follows Luau there, and its escapes are checked in the agreement test above.
        const PARTS: &[&str] = &[
            "local ", "x", " = ", "1", "\n", "--", "[[", "]]", "[=[", "]=]", "\"", "'", "`", "{",
            "}", "(", ")", " ", "\t", "é", "function", "end", "if", "then", "else", "..", "not ",
            "--[==[", "]==]", "@native ", "type ", "::", "do ", "return ", ",", "+=", "\n\n",
        ];
        let mut seed: u64 = 0x5eed;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let mut lexed_cleanly = 0;
        for _ in 0..3000 {
            let text: String = (0..next() % 40)
                .map(|_| PARTS[next() % PARTS.len()])
                .collect();
            let a = analyze(&text);
            assert_eq!(
                a.code_lines + a.comment_lines + a.blank_lines,
                total_lines(&text),
                "{text:?}"
            );
            assert_eq!(code_lines(&text), a.code_lines, "{text:?}");
            assert_eq!(parses(&text), a.parse_ok, "{text:?}");
            assert_eq!(a.parse_ok, a.error.is_none(), "{text:?}");
            // Wherever full_moon tokenizes cleanly, the fallback scanner must agree with it.
            if let LexerResult::Ok(_) = Lexer::new(&text, luau()).collect() {
                lexed_cleanly += 1;
                assert_eq!(
                    scan_lines(&text).counts(),
                    count_lines_tokenized(&text).counts(),
                    "{text:?}"
                );
            }
        }
        assert!(
            lexed_cleanly > 300,
            "only {lexed_cleanly} texts exercised the comparison"
        );
    }

    #[test]
    fn tree_sitter_never_decides_validity() {
        // full_moon 3 rejects the `@[...]` attribute list (newer Luau syntax) even though
        // tree-sitter and the compiler may accept parts of it: full_moon's verdict stands.
        let text = "@[native] function h() end\n";
        assert!(!analyze(text).parse_ok);
        assert!(!parses(text));
    }

    #[test]
    fn compile_accepts_good_code() {
        assert_eq!(compile(FUNCTIONS, "functions.luau"), Ok(()));
        assert_eq!(compile(MIXED, "mixed.luau"), Ok(()));
    }

    #[test]
    fn compile_reports_the_line_of_a_syntax_error() {
        let error = compile("local a = 1\nlocal b = 2\nlocal x = = 1\n", "bad.luau")
            .expect_err("must not compile");
        assert_eq!(error.line, Some(3));
        assert_eq!(error.chunk, "bad.luau");
        assert!(!error.message.is_empty() && !error.message.starts_with(':'));
        assert!(error.to_string().contains("bad.luau at line 3"), "{error}");
    }

    #[test]
    fn compile_catches_what_the_parser_accepts() {
        // `break` outside a loop: full_moon accepts it, Luau's parser does not.
        let text = "local a = 1\nbreak\n";
        assert!(parses(text));
        let error = compile(text, "break.luau").expect_err("must not compile");
        assert_eq!(error.line, Some(2));
        assert!(error.message.contains("loop"), "{}", error.message);

        // 201 live locals in one function: over Luau's register limit of 200 (kMaxLocalCount).
        let body: String = (0..201)
            .map(|i| format!("  local v{i} = tostring({i})\n"))
            .collect();
        let text = format!("local function f()\n{body}end\n");
        assert!(parses(&text));
        let error = compile(&text, "locals.luau").expect_err("must not compile");
        // v200 is declared on line 202.
        assert_eq!(error.line, Some(202));
        assert!(
            error.message.contains("local registers"),
            "{}",
            error.message
        );
    }

    #[test]
    fn compiler_messages_split_into_line_and_text() {
        assert_eq!(
            split_compiler_message("3: Expected identifier"),
            (Some(3), "Expected identifier".to_string())
        );
        assert_eq!(
            split_compiler_message(":12: oops: detail"),
            (Some(12), "oops: detail".to_string())
        );
        assert_eq!(
            split_compiler_message("no line here"),
            (None, "no line here".to_string())
        );
    }

    #[test]
    fn deep_nesting_parses_on_a_big_stack() {
        // 150 nested functions overflow a 2 MiB stack in a debug build when parsed inline; the
        // test thread has 2 MiB, so this passes only through the big-stack path.
        let depth = 150;
        let text = format!(
            "{}{}\n",
            "local function f()\n".repeat(depth),
            "end\n".repeat(depth)
        );
        assert!(estimate_nesting(&text).depth >= depth);
        let a = analyze(&text);
        assert!(a.parse_ok, "{:?}", a.error);
        assert_eq!(
            a.functions,
            vec![span("f", KIND_LOCAL, 1, 2 * depth as u32)]
        );
        assert!(parses(&text));
    }

    #[test]
    fn nesting_beyond_luau_limit_is_refused_without_crashing() {
        let depth = MAX_NESTING + 5;
        let text = format!("local x = {}1{}\n", "(".repeat(depth), ")".repeat(depth));
        let a = analyze(&text);
        assert!(!a.parse_ok);
        let error = a.error.expect("an error");
        // `local x = ` is 10 bytes; the 1001st `(` is where the limit is passed.
        assert_eq!((error.line, error.column), (1, 10 + MAX_NESTING as u32 + 1));
        assert!(error.message.contains("nests deeper"), "{}", error.message);
        assert!(!parses(&text));
        assert_eq!(a.code_lines, 1);
        // The real compiler refuses it too, so the refusal is Luau's verdict, not ours.
        let error = compile(&text, "deep.luau").expect_err("too deep for Luau");
        assert!(
            error.message.contains("recursion depth"),
            "{}",
            error.message
        );
    }

    #[test]
    fn if_expressions_and_elseif_do_not_inflate_the_nesting_estimate() {
        let mut text = String::new();
        for i in 0..100 {
            text.push_str(&format!(
                "local v{i} = if a then 1 elseif b then 2 else 3\n\
                 if a then f() elseif b then g() else h() end\n\
                 return if a then x else if b then y else z\n"
            ));
        }
        // The deepest point is `f(` inside the if-statement: 2 levels.
        assert_eq!(
            estimate_nesting(&text).depth,
            2,
            "{:?}",
            estimate_nesting(&text)
        );
    }
}
