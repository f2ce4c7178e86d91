//! A fast, forgiving Luau lexer for dedup: names/keywords, numbers, whole strings, operators and
//! comments, as byte-offset slices of the source.
//!
//! Lexical rules follow the Luau syntax reference (luau.org/syntax; the same page ships as
//! `docs/_pages/syntax.md` in the luau-lang/luau repository): Lua 5.1 baseline (`--` line
//! comments, `--[==[ ]==]` long comments, `[==[ ]==]` long strings, quoted strings with `\`
//! escapes), plus Luau's backtick interpolated strings, `0x`/`0b` literals with `_` separators,
//! compound assignment (`+=`, `..=`, `//=`, ...), `//`, `::` and `->`.
//!
//! It never fails and never allocates: malformed input (unterminated strings or comments, stray
//! bytes) still yields tokens, so near-dedup works on broken files too. It is not a parser and
//! must not be used to decide whether code is valid Luau (the quality audit does that with
//! full_moon and the Luau compiler).

/// What a token is; comments are reported so callers can drop or strip them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Identifier or keyword (also any run of non-ASCII bytes, kept whole).
    Name,
    Number,
    /// A whole string literal including its quotes or brackets.
    String,
    Operator,
    Comment,
}

/// Call `f(kind, start, end)` for every token of `src`, in order. `start..end` is always on
/// UTF-8 boundaries of `src`.
pub fn lex(src: &str, mut f: impl FnMut(TokenKind, usize, usize)) {
    let b = src.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => {
                i += 1;
            }
            b'-' if i + 1 < n && b[i + 1] == b'-' => {
                let start = i;
                i += 2;
                if let Some(level) = long_bracket_open(b, i) {
                    i = long_bracket_close(b, i + level + 2, level);
                } else {
                    while i < n && b[i] != b'\n' {
                        i += 1;
                    }
                }
                f(TokenKind::Comment, start, i);
            }
            b'[' => {
                let start = i;
                if let Some(level) = long_bracket_open(b, i) {
                    i = long_bracket_close(b, i + level + 2, level);
                    f(TokenKind::String, start, i);
                } else {
                    i += 1;
                    f(TokenKind::Operator, start, i);
                }
            }
            b'"' | b'\'' => {
                let start = i;
                i = quoted_end(b, i + 1, c);
                f(TokenKind::String, start, i);
            }
            b'`' => {
                let start = i;
                i = interpolated_end(b, i + 1);
                f(TokenKind::String, start, i);
            }
            b'0'..=b'9' => {
                let start = i;
                i = number_end(b, i);
                f(TokenKind::Number, start, i);
            }
            b'.' if i + 1 < n && b[i + 1].is_ascii_digit() => {
                let start = i;
                i = number_end(b, i);
                f(TokenKind::Number, start, i);
            }
            c if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                let start = i;
                i += 1;
                while i < n && (b[i] == b'_' || b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
                    i += 1;
                }
                f(TokenKind::Name, start, i);
            }
            _ => {
                let start = i;
                i += operator_len(b, i);
                f(TokenKind::Operator, start, i);
            }
        }
    }
}

/// Call `f(token_text)` for every non-comment token.
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
            // `]==]...`: a shorter or longer run cannot close this level; continue after `]`.
            i += 1;
        } else {
            i += 1;
        }
    }
    n
}

/// End of a quoted string whose body starts at `i`; stops after the closing quote or at an
/// unescaped newline (an unterminated string in Luau).
#[inline]
fn quoted_end(b: &[u8], mut i: usize, quote: u8) -> usize {
    let n = b.len();
    while i < n {
        match b[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    n
}

/// End of a backtick string: escapes, and `{ ... }` holes whose expressions may themselves
/// contain braces or strings.
#[inline]
fn interpolated_end(b: &[u8], mut i: usize) -> usize {
    let n = b.len();
    let mut depth = 0usize;
    while i < n {
        match b[i] {
            b'\\' => i += 2,
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            b'"' | b'\'' if depth > 0 => i = quoted_end(b, i + 1, b[i]),
            b'`' if depth == 0 => return i + 1,
            b'`' => i = interpolated_end(b, i + 1),
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
}
