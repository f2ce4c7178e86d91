//! What a template sees: a [`DocView`] of one document (and, for `for-each = "function"`
//! templates, a [`FunctionView`] of one top-level function), computed from the document's text
//! and its ingest analysis. The field list is the template authors' contract and is documented
//! in the [`crate::render`] module docs; change both together.
//!
//! Everything here is derived from the document alone and is deterministic. This module must
//! never decide whether a document may be rendered (that is the gate's job) and never reads
//! files.

use std::panic::{catch_unwind, AssertUnwindSafe};

use full_moon::tokenizer::{Lexer, LexerResult, TokenType};
use full_moon::LuaVersion;
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use serde::Serialize;

use crate::core::{Attribution, Document, FunctionSpan, SourceKind, UnitKind};
use crate::luau;

/// The coarse kind of content a document holds, as `applies-to.languages` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// A Luau source file (ingest attached a [`crate::core::LuauAnalysis`]).
    Luau,
    /// Markdown: docs sections, API reference renderings, `.md`/`.mdx` files.
    Markdown,
    /// An imported chat/completions row (canonical JSON).
    Json,
    /// Anything else.
    Text,
}

impl Language {
    pub fn of(doc: &Document) -> Language {
        if doc.luau.is_some() {
            return Language::Luau;
        }
        match doc.provenance.unit_kind {
            UnitKind::DocSection | UnitKind::ApiPage | UnitKind::ApiMember => Language::Markdown,
            UnitKind::ChatExample => Language::Json,
            UnitKind::File => {
                let p = doc.provenance.path.to_ascii_lowercase();
                if p.ends_with(".md") || p.ends_with(".mdx") || p.ends_with(".markdown") {
                    Language::Markdown
                } else {
                    Language::Text
                }
            }
        }
    }
}

/// A fenced code block of a Markdown text, with its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockView {
    /// The first word of the info string, as written (`lua`, `Lua`, `luau`), if any.
    pub lang: Option<String>,
    /// Tagged lua/luau (any case), or untagged and parses as Luau (the rule ingest uses for
    /// [`crate::core::CodeBlock::is_luau`]).
    pub is_luau: bool,
    /// The code between the fences, ending with a newline when it has any lines.
    pub code: String,
    /// Lines of Luau code ([`luau::code_lines`]); 0 when not Luau.
    pub code_lines: u32,
}

/// Ingest's Luau counts, for templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LuauCounts {
    pub parse_ok: bool,
    pub code_lines: u32,
    pub comment_lines: u32,
    pub blank_lines: u32,
}

/// One top-level function of a Luau file, cut into the pieces templates need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionView {
    /// As written: `foo`, `M.foo`, `M:bar`.
    pub name: String,
    /// `local`, `global`, `method` or `assigned`.
    pub kind: String,
    pub line_start: u32,
    pub line_end: u32,
    /// The function's lines, from its first token to its `end`.
    pub code: String,
    /// The header: from the first line through the line that closes the parameter list (and
    /// carries the return type). Several lines when the parameters are.
    pub signature: String,
    /// The lines between the header and the last line; empty for one-line functions.
    pub body: String,
    /// The indentation of the body's first non-blank line (a tab when the body is empty).
    pub body_indent: String,
    /// The comment block directly above the function, markers stripped; empty when none.
    pub doc_comment: String,
    /// Luau code lines of `code`.
    pub code_lines: u32,
    /// The 1-based line the header ends on.
    pub header_line_end: u32,
}

/// The variable `function` of a `for-each = "function"` template: the function's view plus the
/// file around it. Built per rendering rather than stored in `doc.functions`, which would make
/// the context quadratic in the file size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionItem<'a> {
    #[serde(flatten)]
    pub view: &'a FunctionView,
    /// The file up to and including the header.
    pub before: String,
    /// The file from the function's last line (its `end`) to the end; for a one-line function,
    /// from the line after it.
    pub after: String,
}

impl<'a> FunctionItem<'a> {
    pub fn new(text: &str, view: &'a FunctionView) -> FunctionItem<'a> {
        let lines = text_lines(text);
        let head_end = (view.header_line_end as usize).min(lines.len());
        let last = (view.line_end as usize).min(lines.len());
        let after_from = if head_end < last { last - 1 } else { last };
        FunctionItem {
            view,
            before: join_lines(&lines[..head_end]),
            after: join_lines(&lines[after_from..]),
        }
    }
}

/// The lines of an LF text; a trailing newline does not make an empty last line.
fn text_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

/// One document as templates see it (the variable `doc`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocView {
    pub id: String,
    pub source_id: String,
    pub source_kind: SourceKind,
    pub unit_kind: UnitKind,
    pub unit_name: Option<String>,
    pub path: String,
    pub url: String,
    pub commit: Option<String>,
    /// Last path component: `Signal.luau`.
    pub file_name: String,
    /// The file stem (`Signal`); for `init.luau`/`init.lua`, the folder name.
    pub module_name: String,
    /// Attribution title (docs page title), else the unit name, else the module name.
    pub title: String,
    /// The unit name (section heading, API member), else the title.
    pub heading: String,
    pub language: Language,
    /// The analysis text (UTF-8, LF).
    pub text: String,
    /// `text` without a leading Markdown heading line and the blank lines after it.
    pub body: String,
    /// `body` with fenced code blocks removed.
    pub prose: String,
    /// Luau code lines: the file's (ingest analysis), else the sum over Luau code blocks.
    pub code_lines: u32,
    /// The licenses the examples of this document inherit.
    pub licenses: Vec<String>,
    pub attribution: Option<Attribution>,
    pub luau: Option<LuauCounts>,
    /// Luau files: the comment block(s) at the top of the file, markers stripped, skipping
    /// `--!` directives and license boilerplate. Empty otherwise.
    pub description: String,
    /// Luau files: the text without comments (`--!` directives kept). Empty otherwise, and
    /// for files full_moon cannot tokenize.
    pub code_without_comments: String,
    /// Luau files: the top-level functions, in file order.
    pub functions: Vec<FunctionView>,
    /// Markdown texts: every fenced code block, in order.
    pub code_blocks: Vec<BlockView>,
    /// The Luau ones among `code_blocks`.
    pub luau_blocks: Vec<BlockView>,
    /// Imported chat rows: the canonical row (`{"messages": [...]}` or `{"prompt",
    /// "completion"}`); none otherwise.
    pub row: Option<serde_json::Value>,
}

impl DocView {
    /// Builds the view of `doc`; `licenses` are the licenses its examples inherit.
    pub fn new(doc: &Document, licenses: Vec<String>) -> DocView {
        let p = &doc.provenance;
        let language = Language::of(doc);
        let file_name = p.path.rsplit('/').next().unwrap_or(&p.path).to_string();
        let module_name = module_name(&p.path);
        let title = p
            .attribution
            .as_ref()
            .map(|a| a.title.clone())
            .filter(|t| !t.trim().is_empty())
            .or_else(|| p.unit_name.clone())
            .unwrap_or_else(|| module_name.clone());
        let heading = p.unit_name.clone().unwrap_or_else(|| title.clone());
        let (code_blocks, prose_source) = match language {
            Language::Markdown => {
                let body = strip_heading(&doc.text);
                (markdown_blocks(&doc.text), Some(body))
            }
            _ => (Vec::new(), None),
        };
        let body = prose_source.unwrap_or_else(|| doc.text.clone());
        let prose = if language == Language::Markdown {
            remove_fences(&body)
        } else {
            String::new()
        };
        let luau_blocks: Vec<BlockView> =
            code_blocks.iter().filter(|b| b.is_luau).cloned().collect();
        let (description, code_without_comments, functions) = match &doc.luau {
            Some(a) => (
                leading_description(&doc.text),
                strip_comments(&doc.text).unwrap_or_default(),
                function_views(&doc.text, &a.functions),
            ),
            None => (String::new(), String::new(), Vec::new()),
        };
        let code_lines = match &doc.luau {
            Some(a) => a.code_lines,
            None => luau_blocks.iter().map(|b| b.code_lines).sum(),
        };
        DocView {
            id: doc.id.clone(),
            source_id: p.source_id.clone(),
            source_kind: p.source_kind,
            unit_kind: p.unit_kind,
            unit_name: p.unit_name.clone(),
            path: p.path.clone(),
            url: p.url.clone(),
            commit: p.commit.clone(),
            file_name,
            module_name,
            title,
            heading,
            language,
            text: doc.text.clone(),
            body,
            prose,
            code_lines,
            licenses,
            attribution: p.attribution.clone(),
            luau: doc.luau.as_ref().map(|a| LuauCounts {
                parse_ok: a.parse_ok,
                code_lines: a.code_lines,
                comment_lines: a.comment_lines,
                blank_lines: a.blank_lines,
            }),
            description,
            code_without_comments,
            functions,
            code_blocks,
            luau_blocks,
            row: match language {
                Language::Json => serde_json::from_str(&doc.text).ok(),
                _ => None,
            },
        }
    }
}

/// Luau code lines of a document as `applies-to.min-code-lines` measures them (the same number
/// as [`DocView::code_lines`], without building the view).
pub fn document_code_lines(doc: &Document) -> u32 {
    match &doc.luau {
        Some(a) => a.code_lines,
        None => doc
            .code_blocks
            .iter()
            .filter(|b| b.is_luau)
            .map(|b| b.code_lines)
            .sum(),
    }
}

fn module_name(path: &str) -> String {
    let mut parts = path.rsplit('/');
    let file = parts.next().unwrap_or(path);
    let stem = file.split('.').next().unwrap_or(file);
    if stem == "init" {
        if let Some(parent) = parts.next().filter(|p| !p.is_empty()) {
            return parent.to_string();
        }
    }
    stem.to_string()
}

/// Whether a fence's language tag names Lua or Luau.
pub(crate) fn is_luau_tag(lang: &str) -> bool {
    lang.eq_ignore_ascii_case("lua") || lang.eq_ignore_ascii_case("luau")
}

/// The fenced code blocks of a Markdown text (indented code blocks are not code samples in
/// the docs we ingest, so they are left out).
pub fn markdown_blocks(text: &str) -> Vec<BlockView> {
    let mut out = Vec::new();
    let mut current: Option<(Option<String>, String)> = None;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let lang = info
                    .split_whitespace()
                    .next()
                    .filter(|l| !l.is_empty())
                    .map(String::from);
                current = Some((lang, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, code)) = current.as_mut() {
                    code.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((lang, code)) = current.take() {
                    let is_luau = match &lang {
                        Some(l) => is_luau_tag(l),
                        None => !code.trim().is_empty() && luau::parses(&code),
                    };
                    let code_lines = if is_luau { luau::code_lines(&code) } else { 0 };
                    out.push(BlockView {
                        lang,
                        is_luau,
                        code,
                        code_lines,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// `text` without fenced code blocks; runs of blank lines left behind are collapsed.
fn remove_fences(text: &str) -> String {
    let mut cut: Vec<std::ops::Range<usize>> = Vec::new();
    for (event, range) in Parser::new(text).into_offset_iter() {
        if let Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) = event {
            cut.push(range);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in cut {
        if r.start >= at {
            out.push_str(&text[at..r.start]);
            at = r.end;
        }
    }
    out.push_str(&text[at..]);
    collapse_blank_lines(&out)
}

/// Trims trailing whitespace of every line, collapses runs of blank lines into one and trims
/// blank lines at both ends. The result ends with one newline unless empty.
pub(crate) fn collapse_blank_lines(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    if out.is_empty() {
        String::new()
    } else {
        out.join("\n") + "\n"
    }
}

/// Drops a leading ATX heading line (`# Title`, `## Section`) and the blank lines after it.
fn strip_heading(text: &str) -> String {
    let trimmed = text.trim_start_matches('\n');
    let first = trimmed.lines().next().unwrap_or("");
    let is_heading = {
        let hashes = first.bytes().take_while(|&b| b == b'#').count();
        (1..=6).contains(&hashes)
            && first[hashes..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t')
    };
    if is_heading {
        trimmed[first.len()..].trim_start_matches('\n').to_string()
    } else {
        text.to_string()
    }
}

/// The text of a comment line without its markers: `-- x` -> `x`, `--- x` -> `x`.
fn line_comment_text(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = t.strip_prefix("--")?;
    // A long comment opener is not a line comment.
    if long_bracket_level(rest).is_some() {
        return None;
    }
    let rest = rest.trim_start_matches('-').trim_end();
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

/// `[[`, `[=[`, `[==[` ... at the start of `s`: the number of `=`.
fn long_bracket_level(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('[')?;
    let eq = rest.bytes().take_while(|&b| b == b'=').count();
    rest[eq..].starts_with('[').then_some(eq)
}

fn is_directive(line: &str) -> bool {
    line.trim_start().starts_with("--!")
}

fn looks_like_license(text: &str) -> bool {
    let l = text.to_ascii_lowercase();
    [
        "spdx-license-identifier",
        "copyright",
        "permission is hereby granted",
        "licensed under",
        "all rights reserved",
    ]
    .iter()
    .any(|w| l.contains(w))
}

/// A comment group: either consecutive `--` lines or one long comment, as (first line index,
/// last line index, text without markers).
fn comment_group_at(lines: &[&str], i: usize) -> Option<(usize, usize, String)> {
    let line = lines.get(i)?;
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("--") {
        if let Some(level) = long_bracket_level(rest) {
            let close = format!("]{}]", "=".repeat(level));
            let open_len = level + 2;
            let first_rest = &t[2 + open_len..];
            if let Some(end) = first_rest.find(&close) {
                return Some((i, i, first_rest[..end].trim().to_string()));
            }
            let mut body = vec![first_rest.trim_end()];
            for (j, l) in lines.iter().enumerate().skip(i + 1) {
                if let Some(end) = l.find(&close) {
                    body.push(&l[..end]);
                    return Some((i, j, dedent_join(&body)));
                }
                body.push(l);
            }
            return None;
        }
    }
    if is_directive(line) {
        return None;
    }
    let mut j = i;
    let mut body = Vec::new();
    while let Some(text) = lines
        .get(j)
        .filter(|l| !is_directive(l))
        .and_then(|l| line_comment_text(l))
    {
        body.push(text);
        j += 1;
    }
    (j > i).then(|| (i, j - 1, body.join("\n").trim().to_string()))
}

fn dedent_join(lines: &[&str]) -> String {
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// The description at the top of a Luau file: the comment groups before the first code line,
/// skipping `--!` directives and license boilerplate, joined by blank lines.
pub fn leading_description(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() || is_directive(line) || line.starts_with("#!") {
            i += 1;
            continue;
        }
        match comment_group_at(&lines, i) {
            Some((_, last, body)) => {
                if !body.is_empty() && !looks_like_license(&body) {
                    groups.push(body);
                }
                i = last + 1;
            }
            None => break,
        }
    }
    groups.join("\n\n")
}

/// The comment block ending on the line directly above 0-based line `above` (no blank line in
/// between), markers stripped; empty when none or when it is license boilerplate.
fn doc_comment_above(lines: &[&str], above: usize) -> String {
    if above == 0 {
        return String::new();
    }
    let keep = |text: String| {
        if looks_like_license(&text) {
            String::new()
        } else {
            text
        }
    };
    // A long comment (`--[[ ... ]]`, `--[=[ ... ]=]`) closing right above: find its opener.
    if closes_long_bracket(lines[above - 1]) {
        for start in (above.saturating_sub(200)..above).rev() {
            if lines[start].trim_start().starts_with("--[") {
                if let Some((_, end, body)) = comment_group_at(lines, start) {
                    if end == above - 1 {
                        return keep(body);
                    }
                }
                break;
            }
        }
    }
    let mut start = above;
    while start > 0
        && !is_directive(lines[start - 1])
        && line_comment_text(lines[start - 1]).is_some()
    {
        start -= 1;
    }
    let body: Vec<&str> = (start..above)
        .filter_map(|k| line_comment_text(lines[k]))
        .collect();
    keep(body.join("\n").trim().to_string())
}

/// Whether a line ends with a long-bracket close (`]]`, `]=]`, ...).
fn closes_long_bracket(line: &str) -> bool {
    let Some(t) = line.trim_end().strip_suffix(']') else {
        return false;
    };
    t.trim_end_matches('=').ends_with(']')
}

/// Luau text without comments (`--!` directives kept). Lines that held only comments are
/// dropped, trailing whitespace trimmed and blank runs collapsed. None when full_moon cannot
/// tokenize the text.
pub fn strip_comments(text: &str) -> Option<String> {
    let tokens = catch_unwind(AssertUnwindSafe(|| {
        Lexer::new(text, LuaVersion::luau()).collect()
    }))
    .ok()?;
    let LexerResult::Ok(tokens) = tokens else {
        return None;
    };
    let mut out = String::with_capacity(text.len());
    // 0-based lines (of the original, and so of `out`) that held a comment.
    let mut had_comment = vec![false; text.split('\n').count()];
    let mut covered = 0;
    for t in &tokens {
        let (a, b) = (t.start_position().bytes(), t.end_position().bytes());
        covered += b.saturating_sub(a);
        let slice = text.get(a..b)?;
        let is_comment = match t.token_type() {
            TokenType::SingleLineComment { comment } => !comment.starts_with('!'),
            TokenType::MultiLineComment { .. } => true,
            _ => false,
        };
        if is_comment {
            let first = t.start_position().line().saturating_sub(1);
            let newlines = slice.matches('\n').count();
            for l in first..=first + newlines {
                if let Some(h) = had_comment.get_mut(l) {
                    *h = true;
                }
            }
            // Keep line numbering: the comment becomes its newlines.
            out.extend(std::iter::repeat_n('\n', newlines));
        } else {
            out.push_str(slice);
        }
    }
    if covered != text.len() {
        return None;
    }
    let kept: Vec<&str> = out
        .split('\n')
        .enumerate()
        .filter(|(i, l)| !(had_comment.get(*i).copied().unwrap_or(false) && l.trim().is_empty()))
        .map(|(_, l)| l)
        .collect();
    Some(collapse_blank_lines(&kept.join("\n")))
}

/// The 0-based index of the line that closes the parameter list of the function starting at
/// 0-based line `first`: the first `(` after the `function` keyword and its matching `)`,
/// skipping strings and comments. None when it cannot be found within the function.
fn header_end(lines: &[&str], first: usize, last: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut seen_function = false;
    let mut opened = false;
    for (k, line) in lines.iter().enumerate().take(last + 1).skip(first) {
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'-' if b.get(i + 1) == Some(&b'-') => break,
                q @ (b'"' | b'\'' | b'`') => {
                    i += 1;
                    while i < b.len() && b[i] != q {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                b'(' if seen_function => {
                    depth += 1;
                    opened = true;
                }
                b')' if opened => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(k);
                    }
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let start = i;
                    while i + 1 < b.len() && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] == b'_')
                    {
                        i += 1;
                    }
                    if &line[start..=i] == "function" {
                        seen_function = true;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    None
}

fn join_lines(lines: &[&str]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        lines.join("\n") + "\n"
    }
}

/// Views of the top-level functions of a Luau text.
pub fn function_views(text: &str, functions: &[FunctionSpan]) -> Vec<FunctionView> {
    let lines = text_lines(text);
    functions
        .iter()
        .filter_map(|f| {
            let first = (f.line_start as usize).checked_sub(1)?;
            let last = (f.line_end as usize).checked_sub(1)?;
            if first > last || last >= lines.len() {
                return None;
            }
            let head_end = header_end(&lines, first, last).unwrap_or(first);
            let body_lines = if head_end < last {
                &lines[head_end + 1..last]
            } else {
                &lines[0..0]
            };
            let code = join_lines(&lines[first..=last]);
            let body_indent = body_lines
                .iter()
                .find(|l| !l.trim().is_empty())
                .map(|l| l[..l.len() - l.trim_start().len()].to_string())
                .unwrap_or_else(|| "\t".to_string());
            let body = if body_lines.iter().all(|l| l.trim().is_empty()) {
                String::new()
            } else {
                join_lines(body_lines)
            };
            Some(FunctionView {
                name: f.name.clone(),
                kind: f.kind.clone(),
                line_start: f.line_start,
                line_end: f.line_end,
                code_lines: luau::code_lines(&code),
                signature: join_lines(&lines[first..=head_end]),
                body,
                body_indent,
                doc_comment: doc_comment_above(&lines, first),
                header_line_end: head_end as u32 + 1,
                code,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_skips_directives_and_license_headers() {
        let text = "-- SPDX-License-Identifier: MPL-2.0\n--!strict\n-- A spring.\n-- Step it per frame.\n\nlocal x = 1\n-- not this\n";
        assert_eq!(leading_description(text), "A spring.\nStep it per frame.");
        let long = "--[=[\n\tA long description\n\tover two lines.\n]=]\nreturn 1\n";
        assert_eq!(
            leading_description(long),
            "A long description\nover two lines."
        );
        assert_eq!(leading_description("local x = 1\n-- late\n"), "");
    }

    #[test]
    fn comments_are_stripped_but_directives_and_strings_stay() {
        let text = "--!strict\n-- header\nlocal s = \"-- not a comment\" -- trailing\n--[[ long\ncomment ]]\nreturn s\n";
        let got = strip_comments(text).unwrap();
        assert_eq!(got, "--!strict\nlocal s = \"-- not a comment\"\nreturn s\n");
        assert_eq!(strip_comments("local s = \"unterminated\n"), None);
    }

    #[test]
    fn function_view_splits_header_body_and_context() {
        let text = "local M = {}\n\n-- Adds two numbers.\n-- Really.\nfunction M.add(a: number,\n\tb: (number) -> ()): number\n\tlocal s = a + b\n\treturn s\nend\n\nreturn M\n";
        let a = luau::analyze(text);
        let v = function_views(text, &a.functions);
        assert_eq!(v.len(), 1);
        let f = &v[0];
        assert_eq!(f.name, "M.add");
        assert_eq!(
            f.signature,
            "function M.add(a: number,\n\tb: (number) -> ()): number\n"
        );
        assert_eq!(f.body, "\tlocal s = a + b\n\treturn s\n");
        assert_eq!(f.body_indent, "\t");
        assert_eq!(f.doc_comment, "Adds two numbers.\nReally.");
        assert_eq!(f.header_line_end, 6);
        let item = FunctionItem::new(text, f);
        assert!(
            item.before.ends_with("(number) -> ()): number\n")
                && item.before.starts_with("local M")
        );
        assert_eq!(item.after, "end\n\nreturn M\n");
        assert_eq!(f.code_lines, 5);
    }

    #[test]
    fn one_line_functions_have_no_body() {
        let text = "local function f() return 1 end\n";
        let a = luau::analyze(text);
        let v = function_views(text, &a.functions);
        assert_eq!(v[0].body, "");
        assert_eq!(v[0].signature, text);
        let item = FunctionItem::new(text, &v[0]);
        assert_eq!((item.before.as_str(), item.after.as_str()), (text, ""));
    }

    #[test]
    fn markdown_blocks_classify_luau() {
        let text = "# T\n\nSome prose.\n\n```Lua\nlocal a = 1\n```\n\n```json\n{}\n```\n\n```\nprint(\"x\")\n```\n";
        let blocks = markdown_blocks(text);
        assert_eq!(blocks.len(), 3);
        assert!(blocks[0].is_luau && blocks[0].code_lines == 1);
        assert!(!blocks[1].is_luau);
        assert!(
            blocks[2].is_luau,
            "untagged code that parses counts as Luau"
        );
        assert_eq!(remove_fences(&strip_heading(text)), "Some prose.\n");
    }
}
