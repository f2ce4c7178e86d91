//! Line counts of Luau text: code, comment and blank lines (the "at least N code lines" density
//! rule of ingest, the audits and rendering).
//!
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
//! Lines come from full_moon's tokenizer; for text it cannot tokenize, from the never-fail
//! [`super::lex::Lexer`]. Linear in the input; never panics.

use std::panic::{catch_unwind, AssertUnwindSafe};

use full_moon::tokenizer::{Lexer, LexerResult, Token, TokenKind};
use full_moon::LuaVersion;

use super::lex;

/// Lines holding at least one non-comment, non-whitespace token; the same number
/// [`super::analyze`] reports, computed with the tokenizer alone (no syntax tree).
pub fn code_lines(text: &str) -> u32 {
    count_lines(text).0
}

/// (code, comment, blank) lines of `text`.
pub fn count_lines(text: &str) -> (u32, u32, u32) {
    count_lines_tokenized(text).counts()
}

const BLANK: u8 = 0;
const COMMENT: u8 = 1;
const CODE: u8 = 2;

/// Per-line classification; index 0 is unused so lines are 1-based.
pub(crate) struct LineMarks {
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
    pub(crate) fn counts(&self) -> (u32, u32, u32) {
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
pub(crate) fn total_lines(text: &str) -> u32 {
    let newlines = text.bytes().filter(|&b| b == b'\n').count() as u32;
    if text.is_empty() || text.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

/// Counts lines from full_moon's tokenizer; falls back to [`scan_lines`] when it reports errors
/// (an unclosed string or comment makes its token stream unreliable), panics, or returns tokens
/// that do not cover the text (full_moon 3.0 does that after a shebang followed by an unclosed
/// long comment).
pub(crate) fn count_lines_tokenized(text: &str) -> LineMarks {
    let tokens = catch_unwind(AssertUnwindSafe(|| {
        Lexer::new(text, LuaVersion::luau()).collect()
    }));
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

/// Counts lines with the never-fail [`lex::Lexer`], for text full_moon cannot tokenize.
pub(crate) fn scan_lines(text: &str) -> LineMarks {
    let mut marks = LineMarks::new(text);
    let bytes = text.as_bytes();
    let newlines = |from: usize, to: usize| bytes[from..to].iter().filter(|&&b| b == b'\n').count();
    let (mut line, mut pos) = (1usize, 0usize);
    for token in lex::Lexer::new(text) {
        line += newlines(pos, token.start);
        let last = line + newlines(token.start, token.end);
        let class = match token.kind {
            lex::TokenKind::Comment => COMMENT,
            _ => CODE,
        };
        marks.mark(line, last, class);
        (line, pos) = (last, token.end);
    }
    marks
}
