//! Tests of the Luau layer as ingest uses it: validity, line counts, functions, compile, stack
//! safety (moved from `ingest/luau.rs`).

use full_moon::tokenizer::{Lexer, LexerResult};
use full_moon::LuaVersion;

use super::compile::split_compiler_message;
use super::lines::{count_lines_tokenized, scan_lines, total_lines};
use super::parse::estimate_nesting;
use super::*;
use crate::core::FunctionSpan;

fn luau() -> LuaVersion {
    LuaVersion::luau()
}

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
    (
        "type annotations",
        "local x: number = 1\nlocal s: string? = nil\n",
    ),
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
        "local ", "x", " = ", "1", "\n", "--", "[[", "]]", "[=[", "]=]", "\"", "'", "`", "{", "}",
        "(", ")", " ", "\t", "é", "function", "end", "if", "then", "else", "..", "not ", "--[==[",
        "]==]", "@native ", "type ", "::", "do ", "return ", ",", "+=", "\n\n",
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
