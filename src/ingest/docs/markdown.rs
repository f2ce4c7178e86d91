//! Markdown guides: one unit per heading-delimited section, YAML front matter for the title,
//! fenced code blocks as [`CodeBlock`]s; also the fence scanner the API reference reader uses
//! for the Markdown inside its `description` strings.

use std::collections::HashMap;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use super::{
    classify, scalar_string, strip_marks, top_level_key, At, DocError, DocUnit, Lines, LuauProbe,
};
use crate::core::{CodeBlock, UnitKind};

/// The language of a fence: the first word of its info string (`lua title="x"` -> `lua`).
fn fence_lang(info: &str) -> Option<String> {
    info.split_whitespace().next().map(str::to_string)
}

/// A fenced code block found by pulldown-cmark, offsets relative to the parsed text.
pub(super) struct Fence {
    /// Start of the whole block (the opening fence).
    pub(super) block_start: usize,
    pub(super) lang: Option<String>,
    /// The code with container indentation removed.
    pub(super) code: String,
    /// Byte range of the code inside the fences.
    pub(super) inner: (usize, usize),
}

/// A top-level heading found by pulldown-cmark.
pub(super) struct Heading {
    start: usize,
    level: u8,
    text: String,
}

fn markdown_options() -> Options {
    // GFM tables so that a table's delimiter row is never taken for a setext underline.
    Options::ENABLE_TABLES
}

/// Fenced code blocks and top-level headings of a Markdown text. Indented code blocks are not
/// collected: in MDX-style pages, indentation under components is layout, not code.
pub(super) fn scan_markdown(md: &str) -> (Vec<Heading>, Vec<Fence>) {
    let mut headings = Vec::new();
    let mut fences = Vec::new();
    // Depth of containers (lists, quotes, footnotes) around the current event: a heading inside
    // a list item belongs to that item and does not start a section.
    let mut depth = 0usize;
    let mut heading: Option<Heading> = None;
    let mut fence: Option<(Fence, bool)> = None; // (fence, saw text)
    for (event, range) in Parser::new_ext(md, markdown_options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) if depth == 0 => {
                heading = Some(Heading {
                    start: range.start,
                    level: level as u8,
                    text: String::new(),
                });
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(mut h) = heading.take() {
                    h.text = h.text.split_whitespace().collect::<Vec<_>>().join(" ");
                    headings.push(h);
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                // An empty block's code "starts" on the line after the opening fence.
                let after_open = md[range.start..range.end]
                    .find('\n')
                    .map_or(range.end, |i| range.start + i + 1);
                fence = Some((
                    Fence {
                        block_start: range.start,
                        lang: fence_lang(&info),
                        code: String::new(),
                        inner: (after_open, after_open),
                    },
                    false,
                ));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((f, _)) = fence.take() {
                    fences.push(f);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((f, saw)) = fence.as_mut() {
                    f.code.push_str(&t);
                    if !*saw {
                        f.inner.0 = range.start;
                        *saw = true;
                    }
                    f.inner.1 = range.end;
                } else if let Some(h) = heading.as_mut() {
                    h.text.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(h) = heading.as_mut() {
                    h.text.push(' ');
                }
            }
            Event::Start(
                Tag::BlockQuote(_) | Tag::List(_) | Tag::Item | Tag::FootnoteDefinition(_),
            ) => depth += 1,
            Event::End(
                TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item | TagEnd::FootnoteDefinition,
            ) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (headings, fences)
}

/// The fragment the site gives a heading: GitHub-style slugs (lowercase; letters, digits,
/// `-`, `_` and spaces kept; spaces become `-`), repeats suffixed `-1`, `-2`, ... — the page
/// `bindable.md` links `## Argument limitations` as `#argument-limitations`.
struct Slugger {
    seen: HashMap<String, usize>,
}

impl Slugger {
    fn new() -> Self {
        Slugger {
            seen: HashMap::new(),
        }
    }

    fn slug(&mut self, heading: &str) -> String {
        let base: String = heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut slug = base.clone();
        while self.seen.contains_key(&slug) {
            let n = self.seen.entry(base.clone()).or_insert(0);
            *n += 1;
            slug = format!("{base}-{n}");
        }
        self.seen.insert(slug.clone(), 0);
        slug
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown

/// Splits a Markdown guide into sections.
///
/// - YAML front matter (`---` on line 1 up to the next `---` or `...` line) is excluded; its
///   `title` names the page. Without one, the first H1 does; without that, `fallback_title`
///   (the caller passes the file stem).
/// - Sections start at top-level ATX (`#`..`######`) and setext (`===`/`---` underlined)
///   headings; a `#` line inside a fenced code block, an HTML block or a list item does not
///   start one. Text before the first heading (if not blank) is its own section named after
///   the title, with no anchor.
/// - A section spans from its heading line to the line before the next heading, trailing
///   blank lines excluded; `text` is that slice of the input.
/// - Fenced blocks (```` ``` ```` and `~~~`) become [`CodeBlock`]s whose span is the code
///   between the fences (an empty block: a zero-length span at the line after the opening
///   fence).
pub fn split_markdown(
    text: &str,
    fallback_title: &str,
    probe: &dyn Fn(&str) -> LuauProbe,
) -> Result<Vec<DocUnit>, DocError> {
    let lines = Lines::new(text);
    let (front_title, body_start) = front_matter(text, &lines)?;
    let body = &text[body_start..];
    let (headings, fences) = scan_markdown(body);

    let title = front_title
        .or_else(|| {
            headings
                .iter()
                .find(|h| h.level == 1)
                .map(|h| h.text.clone())
        })
        .unwrap_or_else(|| fallback_title.to_string());

    // Section boundaries as 0-based line indices of the whole text.
    let body_first_line = if body_start >= text.len() {
        lines.count()
    } else {
        lines.index_of(body_start)
    };
    let heading_lines: Vec<usize> = headings
        .iter()
        .map(|h| lines.index_of(body_start + h.start))
        .collect();

    let mut units = Vec::new();
    let mut slugger = Slugger::new();
    let first_heading_line = heading_lines.first().copied().unwrap_or(lines.count());
    if let Some(range) = lines.trimmed_range(body_first_line, first_heading_line) {
        units.push(section_unit(
            text,
            &lines,
            range,
            title.clone(),
            None,
            &title,
            &fences,
            body_start,
            probe,
        ));
    }
    for (i, h) in headings.iter().enumerate() {
        let first = heading_lines[i];
        let next = heading_lines.get(i + 1).copied().unwrap_or(lines.count());
        // A heading with no letters or digits (an emoji) has no usable fragment.
        let anchor = Some(slugger.slug(&h.text)).filter(|a| !a.is_empty());
        // A heading line is never blank, so the range always exists.
        if let Some(range) = lines.trimmed_range(first, next) {
            units.push(section_unit(
                text,
                &lines,
                range,
                h.text.clone(),
                anchor,
                &title,
                &fences,
                body_start,
                probe,
            ));
        }
    }
    Ok(units)
}

#[allow(clippy::too_many_arguments)]
fn section_unit(
    text: &str,
    lines: &Lines<'_>,
    (start, end): (usize, usize),
    unit_name: String,
    anchor: Option<String>,
    title: &str,
    fences: &[Fence],
    body_start: usize,
    probe: &dyn Fn(&str) -> LuauProbe,
) -> DocUnit {
    let code_blocks = fences
        .iter()
        .filter(|f| (start..end).contains(&(body_start + f.block_start)))
        .map(|f| {
            let (is_luau, code_lines) = classify(f.lang.as_deref(), &f.code, probe);
            CodeBlock {
                lang: f.lang.clone(),
                is_luau,
                span: lines.span(body_start + f.inner.0, body_start + f.inner.1),
                code_lines,
            }
        })
        .collect();
    DocUnit {
        unit_kind: UnitKind::DocSection,
        unit_name,
        title: title.to_string(),
        anchor,
        span: lines.span(start, end),
        text: text[start..end].to_string(),
        code_blocks,
        code_sample_ids: Vec::new(),
    }
}

/// Reads the front matter: its `title` (if any) and where the body starts.
fn front_matter(text: &str, lines: &Lines<'_>) -> Result<(Option<String>, usize), DocError> {
    if lines.count() == 0 || lines.get(0).trim_end() != "---" {
        return Ok((None, 0));
    }
    let close = (1..lines.count())
        .find(|&i| matches!(lines.get(i).trim_end(), "---" | "..."))
        .ok_or(DocError::UnclosedFrontMatter)?;
    let yaml = &text[lines.start(1)..lines.start(close)];
    let body_start = lines.end_with_newline(close);
    let value: serde_yaml::Value =
        serde_yaml::from_str(yaml).map_err(|e| DocError::FrontMatter {
            // The YAML starts on file line 2.
            at: e.location().map_or(At::unknown(), |l| At {
                line: Some(l.line() + 1),
                column: Some(l.column()),
            }),
            message: strip_marks(&e.to_string()),
        })?;
    let title = match &value {
        serde_yaml::Value::Null => None,
        serde_yaml::Value::Mapping(m) => match m.get("title") {
            None | Some(serde_yaml::Value::Null) => None,
            Some(v) => Some(scalar_string(v).ok_or_else(|| DocError::FrontMatter {
                at: key_line(lines, 1, close, "title").map_or(At::unknown(), At::line),
                message: "`title` must be a single line of text, not a list or mapping".to_string(),
            })?),
        },
        _ => {
            return Err(DocError::FrontMatter {
                at: At::line(2),
                message: "front matter must be a mapping of `key: value` lines".to_string(),
            })
        }
    };
    Ok((title.map(|t| t.trim().to_string()), body_start))
}

/// 1-based line of a `key:` line at column 0 among lines `[from, to)`.
fn key_line(lines: &Lines<'_>, from: usize, to: usize, key: &str) -> Option<usize> {
    (from..to)
        .find(|&i| top_level_key(lines.get(i)) == Some(key))
        .map(|i| i + 1)
}
