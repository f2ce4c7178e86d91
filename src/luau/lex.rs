//! The one never-fail Luau lexer: names, numbers, strings, operators and comments as byte-offset
//! slices of the source. Ingest's line counts (for text full_moon cannot tokenize), the parser's
//! nesting estimate, dedup (exact-dedup normalization, MinHash shingles) and the dedup benchmark
//! all read Luau through it.
//!
//! Lexical rules follow the Luau syntax reference (luau.org/syntax; the same page ships as
//! `docs/_pages/syntax.md` in the luau-lang/luau repository): Lua 5.1 baseline (`--` line
//! comments, `--[==[ ]==]` long comments, `[==[ ]==]` long strings, quoted strings with `\`
//! escapes, `\z` skipping the whitespace after it, newlines included), plus Luau's backtick
//! interpolated strings with `{expr}` holes, `0x`/`0b` literals with `_` separators, compound
//! assignment (`+=`, `..=`, `//=`, ...), `//`, `::` and `->`, and a `#!` first line (a comment).
//!
//! Two views of the same scan:
//! - [`Lexer`] yields every token, interpolated strings in parts ([`TokenKind::InterpBegin`],
//!   the tokens of each hole, [`TokenKind::InterpMid`], [`TokenKind::InterpEnd`]), so a comment
//!   or a long string inside a hole is seen as what it is (line counting needs that);
//! - [`lex`] / [`code_tokens`] report each interpolated string as one [`TokenKind::String`]
//!   token, the view dedup hashes.
//!
//! It never fails and allocates only to track open interpolation holes: malformed input
//! (unterminated strings or comments, stray bytes) still yields tokens, so near-dedup and line
//! counts work on broken files too. Unclosed quoted and backtick strings end with their line (as
//! Luau ends them), unclosed long brackets at the end of the text. It is not a parser and must
//! not be used to decide whether code is valid Luau (full_moon and the Luau compiler do that, see
//! [`super::parse`] and [`super::compile`]).

/// What a token is; comments are reported so callers can drop or strip them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Identifier or keyword (also any run of non-ASCII bytes, kept whole).
    Name,
    Number,
    /// A whole string literal including its quotes or brackets (a backtick string without
    /// holes included; in [`lex`]'s view, every backtick string).
    String,
    Operator,
    Comment,
    /// The opening part of a backtick string with holes: `` `text{ ``.
    InterpBegin,
    /// The part between two holes: `}text{`.
    InterpMid,
    /// The closing part: `` }text` `` (or up to the end of the line when unterminated).
    InterpEnd,
}

/// One token: its kind and byte range. `start..end` is always on UTF-8 boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// Every token of a text, in order, interpolated strings in parts (see the module docs).
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
    /// One entry per backtick string whose `{` hole we are in: brace depth inside that hole.
    holes: Vec<u32>,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer {
            b: src.as_bytes(),
            i: 0,
            holes: Vec::new(),
        }
    }

    /// Scans a literal part of a backtick string starting at `start` (its `` ` `` or the `}`
    /// that closes a hole). Opens a hole when the part ends with `{`.
    fn backtick_part(&mut self, start: usize, opening: bool) -> TokenKind {
        let b = self.b;
        let mut i = start + 1;
        let mut opens_hole = false;
        while i < b.len() {
            match b[i] {
                b'\\' => i = escape_end(b, i),
                // Unterminated: Luau ends the string with its line.
                b'\n' => break,
                b'`' => {
                    i += 1;
                    break;
                }
                b'{' => {
                    self.holes.push(0);
                    opens_hole = true;
                    i += 1;
                    break;
                }
                _ => i += 1,
            }
        }
        self.i = i.min(b.len());
        match (opening, opens_hole) {
            (true, false) => TokenKind::String,
            (true, true) => TokenKind::InterpBegin,
            (false, true) => TokenKind::InterpMid,
            (false, false) => TokenKind::InterpEnd,
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    #[inline]
    fn next(&mut self) -> Option<Token> {
        let b = self.b;
        let n = b.len();
        loop {
            let c = *b.get(self.i)?;
            let start = self.i;
            let kind = match c {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => {
                    self.i += 1;
                    continue;
                }
                // A shebang, only as the very first line (full_moon reads it as trivia).
                b'#' if start == 0 && b.get(1) == Some(&b'!') => {
                    self.i = line_end(b, start);
                    TokenKind::Comment
                }
                b'-' if b.get(start + 1) == Some(&b'-') => {
                    self.i = match long_bracket_open(b, start + 2) {
                        Some(level) => long_bracket_close(b, start + 2 + level + 2, level),
                        None => line_end(b, start),
                    };
                    TokenKind::Comment
                }
                b'[' if long_bracket_open(b, start).is_some() => {
                    let level = long_bracket_open(b, start).unwrap_or(0);
                    self.i = long_bracket_close(b, start + level + 2, level);
                    TokenKind::String
                }
                b'"' | b'\'' => {
                    self.i = quoted_end(b, start + 1, c);
                    TokenKind::String
                }
                b'`' => self.backtick_part(start, true),
                b'}' if self.holes.last() == Some(&0) => {
                    self.holes.pop();
                    self.backtick_part(start, false)
                }
                b'0'..=b'9' => {
                    self.i = number_end(b, start);
                    TokenKind::Number
                }
                b'.' if start + 1 < n && b[start + 1].is_ascii_digit() => {
                    self.i = number_end(b, start);
                    TokenKind::Number
                }
                c if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                    let mut i = start + 1;
                    while i < n && (b[i] == b'_' || b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
                        i += 1;
                    }
                    self.i = i;
                    TokenKind::Name
                }
                _ => {
                    if let Some(depth) = self.holes.last_mut() {
                        match c {
                            b'{' => *depth += 1,
                            b'}' => *depth = depth.saturating_sub(1),
                            _ => {}
                        }
                    }
                    self.i = start + operator_len(b, start);
                    TokenKind::Operator
                }
            };
            return Some(Token {
                kind,
                start,
                end: self.i,
            });
        }
    }
}

/// Call `f(kind, start, end)` for every token of `src`, in order, each backtick string (holes
/// included) as one [`TokenKind::String`]. `start..end` is always on UTF-8 boundaries of `src`.
/// An interpolated string still open at the end of the text runs to the end.
#[inline]
pub fn lex(src: &str, mut f: impl FnMut(TokenKind, usize, usize)) {
    let mut depth = 0usize;
    let mut open = 0usize;
    for t in Lexer::new(src) {
        match t.kind {
            TokenKind::InterpBegin => {
                if depth == 0 {
                    open = t.start;
                }
                depth += 1;
            }
            TokenKind::InterpEnd => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    f(TokenKind::String, open, t.end);
                }
            }
            _ if depth > 0 => {}
            kind => f(kind, t.start, t.end),
        }
    }
    if depth > 0 {
        f(TokenKind::String, open, src.len());
    }
}

/// Call `f(token_text)` for every non-comment token of [`lex`]'s view.
#[inline]
pub fn for_each_code_token<'a>(src: &'a str, mut f: impl FnMut(&'a str)) {
    lex(src, |kind, s, e| {
        if kind != TokenKind::Comment {
            f(&src[s..e]);
        }
    });
}

/// The non-comment tokens of `src` (convenience for tests and small inputs).
pub fn code_tokens(src: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for_each_code_token(src, |t| out.push(t));
    out
}

/// The index of the `\n` ending the line that `i` is on, or the end of input.
#[inline]
fn line_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

/// If `b[i..]` opens a long bracket `[`, `=`*, `[`, return its level (number of `=`).
#[inline]
fn long_bracket_open(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut j = i + 1;
    while j < b.len() && b[j] == b'=' {
        j += 1;
    }
    (b.get(j) == Some(&b'[')).then_some(j - i - 1)
}

/// End (exclusive) of a long bracket body starting at `i` closed by `]`, `=`*level, `]`; the end
/// of input when unterminated.
#[inline]
fn long_bracket_close(b: &[u8], mut i: usize, level: usize) -> usize {
    let n = b.len();
    while i < n {
        if b[i] == b']' {
            let mut j = i + 1;
            while j < n && b[j] == b'=' {
                j += 1;
            }
            if j - i - 1 == level && j < n && b[j] == b']' {
                return j + 1;
            }
        }
        // `]==]...`: a shorter or longer run cannot close this level; continue after `]`.
        i += 1;
    }
    n
}

/// The index after the escape whose backslash is at `i`. `\` newline (or CR LF) continues the
/// string on the next line; `\z` skips all whitespace that follows, newlines included.
#[inline]
fn escape_end(b: &[u8], i: usize) -> usize {
    let n = b.len();
    let mut i = i + 1;
    match b.get(i) {
        Some(b'z') => {
            i += 1;
            while i < n && b[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        Some(b'\r') => {
            i += 1;
            if b.get(i) == Some(&b'\n') {
                i += 1;
            }
        }
        Some(_) => i += 1,
        None => {}
    }
    i.min(n)
}

/// End of a quoted string whose body starts at `i`; stops after the closing quote or at an
/// unescaped newline (an unterminated string in Luau).
#[inline]
fn quoted_end(b: &[u8], mut i: usize, quote: u8) -> usize {
    let n = b.len();
    while i < n {
        match b[i] {
            b'\\' => i = escape_end(b, i),
            b'\n' => return i,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    n
}

/// End of a numeric literal: decimal with fraction/exponent, or `0x`/`0b` with `_` separators.
#[inline]
fn number_end(b: &[u8], mut i: usize) -> usize {
    let n = b.len();
    let hex = b[i] == b'0' && i + 1 < n && (b[i + 1] | 0x20) == b'x';
    while i < n {
        let c = b[i];
        let part_of_number = c.is_ascii_alphanumeric()
            || c == b'_'
            // `1..2` is a concatenation, not a number.
            || (c == b'.' && !(i + 1 < n && b[i + 1] == b'.'))
            // Exponent sign of a decimal literal (`1e-3`); in hex `e` is a digit.
            || ((c == b'+' || c == b'-') && !hex && (b[i - 1] | 0x20) == b'e');
        if !part_of_number {
            break;
        }
        i += 1;
    }
    i
}

/// Longest operator at `b[i..]`; at least 1.
#[inline]
fn operator_len(b: &[u8], i: usize) -> usize {
    let at = |k: usize| b.get(i + k).copied().unwrap_or(0);
    let (c0, c1, c2) = (b[i], at(1), at(2));
    match (c0, c1, c2) {
        (b'.', b'.', b'.') | (b'.', b'.', b'=') | (b'/', b'/', b'=') => 3,
        (b'=', b'=', _)
        | (b'~', b'=', _)
        | (b'<', b'=', _)
        | (b'>', b'=', _)
        | (b'/', b'/', _)
        | (b'.', b'.', _)
        | (b':', b':', _)
        | (b'-', b'>', _)
        | (b'+' | b'-' | b'*' | b'/' | b'%' | b'^', b'=', _) => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, &str)> {
        let mut out = Vec::new();
        lex(src, |k, s, e| out.push((k, &src[s..e])));
        out
    }

    #[test]
    fn lexes_luau_constructs_as_single_tokens() {
        let src = "local s = `hi {a[\"}\"]} {b}` .. [==[long ]] still]==] -- note\n\
                   x //= 0x_FF_FF + 1e-3 + .5 ... a::T -> b ~= c --[[ block\ncomment ]] y";
        let toks = kinds(src);
        use TokenKind::*;
        assert_eq!(
            toks,
            vec![
                (Name, "local"),
                (Name, "s"),
                (Operator, "="),
                (String, "`hi {a[\"}\"]} {b}`"),
                (Operator, ".."),
                (String, "[==[long ]] still]==]"),
                (Comment, "-- note"),
                (Name, "x"),
                (Operator, "//="),
                (Number, "0x_FF_FF"),
                (Operator, "+"),
                (Number, "1e-3"),
                (Operator, "+"),
                (Number, ".5"),
                (Operator, "..."),
                (Name, "a"),
                (Operator, "::"),
                (Name, "T"),
                (Operator, "->"),
                (Name, "b"),
                (Operator, "~="),
                (Name, "c"),
                (Comment, "--[[ block\ncomment ]]"),
                (Name, "y"),
            ]
        );
    }

    #[test]
    fn strings_hide_comment_markers_and_escapes() {
        assert_eq!(
            code_tokens(r#"print("a -- b \" c", 'd') -- real"#),
            vec!["print", "(", r#""a -- b \" c""#, ",", "'d'", ")"]
        );
        // A hex literal's `e` is a digit, so `0x1e-2` is a subtraction.
        assert_eq!(code_tokens("0x1e-2"), vec!["0x1e", "-", "2"]);
        assert_eq!(code_tokens("1..2"), vec!["1", "..", "2"]);
    }

    #[test]
    fn malformed_input_never_panics_and_keeps_going() {
        for src in [
            "\"unterminated\nnext",
            "--[==[ never closed",
            "[[ open",
            "`{ {",
            "é ü = 1",
            "\\",
            "x = \"trailing backslash\\",
        ] {
            let toks = code_tokens(src);
            assert!(toks.iter().all(|t| !t.is_empty()), "{src:?} -> {toks:?}");
        }
        assert_eq!(code_tokens("\"open\nnext"), vec!["\"open", "next"]);
        assert_eq!(code_tokens("é ü = 1"), vec!["é", "ü", "=", "1"]);
    }

    fn parts(src: &str) -> Vec<(TokenKind, &str)> {
        Lexer::new(src)
            .map(|t| (t.kind, &src[t.start..t.end]))
            .collect()
    }

    #[test]
    fn lexer_yields_interpolation_parts_and_lex_merges_them() {
        use TokenKind::*;
        let src = "local m = `a {f(\n  -- hole\nx)} b {[[}]]}`";
        assert_eq!(
            parts(src),
            vec![
                (Name, "local"),
                (Name, "m"),
                (Operator, "="),
                (InterpBegin, "`a {"),
                (Name, "f"),
                (Operator, "("),
                (Comment, "-- hole"),
                (Name, "x"),
                (Operator, ")"),
                (InterpMid, "} b {"),
                // A long string in a hole is a string, even with a `}` inside.
                (String, "[[}]]"),
                (InterpEnd, "}`"),
            ]
        );
        assert_eq!(
            code_tokens(src),
            vec!["local", "m", "=", &src[10..]],
            "dedup sees the whole interpolated string as one token"
        );
        // Nested interpolation and a plain backtick string inside a hole.
        let nested = "x = `{`{1}` .. `y`}` z";
        assert_eq!(code_tokens(nested), vec!["x", "=", "`{`{1}` .. `y`}`", "z"]);
    }

    #[test]
    fn shebang_z_escape_and_unterminated_backtick_follow_luau() {
        // A `#!` first line is a comment (full_moon and Luau skip it); elsewhere `#` is length.
        assert_eq!(
            code_tokens("#!/usr/bin/env luau\nprint(#t)"),
            vec!["print", "(", "#", "t", ")"]
        );
        // `\z` skips the whitespace after it, newlines included: one string.
        assert_eq!(
            code_tokens("a = \"x\\z\n   y\" b"),
            vec!["a", "=", "\"x\\z\n   y\"", "b"]
        );
        // `\` CR LF continues a string like `\` LF.
        assert_eq!(code_tokens("'a\\\r\nb' c"), vec!["'a\\\r\nb'", "c"]);
        // A backtick string cannot hold a raw newline: unterminated, it ends with its line.
        assert_eq!(
            code_tokens("s = `open\nnext"),
            vec!["s", "=", "`open", "next"]
        );
    }
}
