//! Prose for training from docs Markdown: what a reader of the rendered page sees, written so
//! that it still reads well without the page around it. Ingest runs this on every docs unit
//! (guide sections and API reference renderings) before the text is stored; the cut of the
//! unit, its span and its code blocks are untouched.
//!
//! What changes, outside fenced code blocks and inline code spans (which are never touched):
//!
//! - **Media.** `<img>` becomes its `alt` text when the alt text describes something (two words
//!   or more, not a file name), else nothing; so does Markdown's `![alt](src)`. `<video>`,
//!   `<audio>`, `<iframe>` (with their content), `<source>`, `<track>` and `<figcaption>` (a
//!   caption of a picture that is no longer there) are removed.
//! - **Image-only paragraphs.** A paragraph that held media and has no text left once media and
//!   tags are gone is dropped, and so is a line or paragraph of nothing but layout wrappers
//!   (`<figure>`, `<center>`, `<picture>`, `<div>`, `<GridContainer>`).
//! - **Links.** Relative links are resolved against the page's *file* path (as the docs site
//!   does; an `index.md` page links `./building/x.md` from its own folder) and written as
//!   absolute site links: `implement-blasters.md` on `tutorials/curriculums/gameplay-scripting/
//!   detect-hits.md` becomes `https://create.roblox.com/docs/tutorials/curriculums/
//!   gameplay-scripting/implement-blasters`; fragments are kept, `#anchor` alone points into
//!   the page itself, and `/path` is relative to the site URL (as front matter's `next:`/`prev:`
//!   are) unless it already starts with the site URL's own path (`/docs/...`). Links to assets
//!   (anything with a file extension other than a page's, or under an `assets` folder), and
//!   links that climb above the content root, become their plain text. Absolute URLs are kept.
//!
//! Left for the render-time `clean_docs` filter: API link markup in code spans
//! (`` `Class.Part` ``) and `<Alert>` tag lines, which need no page context.
//!
//! Modeled on real `Roblox/creator-docs` pages (paths under `content/en-us/`):
//! `tutorials/fundamentals/coding-4/create-a-timed-bridge.md` (one-line `<video controls
//! src="../../../assets/..."></video>` paragraphs, `<img>` without alt in list items, a
//! `../../../tutorials/index.md` link), `tutorials/curriculums/gameplay-scripting/detect-hits.md`
//! (`<figure>` around an `<img alt="A diagram ...">`, `alt=""`, sibling links such as
//! `implement-blasters.md`, `../../../workspace/raycasting.md`), `scripting/events/remote.md`
//! (`<GridContainer>` of `<figure><center><img><figcaption>`, `#argument-limitations` links,
//! links with fragments), `tutorials/curriculums/core/index.md` (`./building/x.md` links from an
//! index page, a multi-line `<div>` around a YouTube `<iframe>`, link text across lines) and
//! `reference/engine/classes/RemoteEvent.yaml` (descriptions linking
//! `../../../scripting/events/remote.md#argument-limitations`).

use std::sync::OnceLock;

use regex::{Captures, Regex};

use super::page_url;

/// Where a docs unit lives: what its relative links resolve against.
#[derive(Debug, Clone, Copy)]
pub struct PageLocation<'a> {
    /// The source's `site-url` (`https://create.roblox.com/docs`).
    pub site_url: &'a str,
    /// The file's path under the content root (`tutorials/fundamentals/coding-4/x.md`).
    pub path: &'a str,
}

/// The unit's Markdown with media, image-only paragraphs and relative links cleaned (see the
/// module docs). Returns the text unchanged when there is nothing to clean.
pub fn clean_markdown(text: &str, page: &PageLocation<'_>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let flush = |block: &mut Vec<&str>, out: &mut Vec<String>| {
        if !block.is_empty() {
            if let Some(cleaned) = clean_block(&block.join("\n"), page) {
                out.push(cleaned);
            }
            block.clear();
        }
    };
    for line in text.split('\n') {
        if let Some((ch, len)) = fence {
            out.push(line.to_string());
            if is_closing_fence(line, ch, len) {
                fence = None;
            }
            continue;
        }
        if let Some(open) = opening_fence(line) {
            flush(&mut block, &mut out);
            out.push(line.to_string());
            fence = Some(open);
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut block, &mut out);
            out.push(line.to_string());
        } else {
            block.push(line);
        }
    }
    flush(&mut block, &mut out);
    tidy_blank_lines(out, text.ends_with('\n'))
}

/// Blank-line runs left by dropped paragraphs become one blank line; blank lines at both ends
/// go. Lines inside fences are kept as they are.
fn tidy_blank_lines(lines: Vec<String>, trailing_newline: bool) -> String {
    let mut kept: Vec<String> = Vec::with_capacity(lines.len());
    let mut fence: Option<(char, usize)> = None;
    for line in lines {
        let blank = line.trim().is_empty();
        if let Some((ch, len)) = fence {
            if is_closing_fence(&line, ch, len) {
                fence = None;
            }
        } else if let Some(open) = opening_fence(&line) {
            fence = Some(open);
        } else if blank && kept.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        kept.push(line);
    }
    while fence.is_none() && kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    let mut s = kept.join("\n");
    if trailing_newline && !s.is_empty() {
        s.push('\n');
    }
    s
}

/// A line's content after indentation and blockquote markers.
fn fence_content(line: &str) -> &str {
    line.trim_start_matches([' ', '\t', '>'])
}

/// An opening code fence: three or more backticks or tildes (a backtick fence's info string
/// has no backticks, as in CommonMark).
fn opening_fence(line: &str) -> Option<(char, usize)> {
    let t = fence_content(line);
    let ch = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.chars().take_while(|&c| c == ch).count();
    (len >= 3 && !(ch == '`' && t[len..].contains('`'))).then_some((ch, len))
}

fn is_closing_fence(line: &str, ch: char, len: usize) -> bool {
    let t = fence_content(line).trim_end();
    t.chars().count() >= len && t.chars().all(|c| c == ch)
}

// ---------------------------------------------------------------------------------------------
// One paragraph (lines between blank lines, outside fences)

const TAG_BODY: &str = r#"(?:[^>"']|"[^"]*"|'[^']*')*"#;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid regex"))
}

/// Media elements removed with their content.
fn paired_media() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        &format!(
            r"(?is)<(?:video|audio|iframe|figcaption)\b{TAG_BODY}>.*?</(?:video|audio|iframe|figcaption)\s*>"
        ),
    )
}

/// Media tags on their own (self-closing, unclosed, or a stray closing tag).
fn lone_media() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        &format!(r"(?i)</?(?:video|audio|iframe|source|track|embed|figcaption)\b{TAG_BODY}>"),
    )
}

fn img_tag() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, &format!(r"(?i)<img\b({TAG_BODY})>"))
}

/// `alt="..."`, `alt='...'` or JSX `alt={"..."}`.
fn alt_attr() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r#"(?i)\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|\{\s*["']([^"']*)["']\s*\})"#,
    )
}

/// Link text (one level of nested brackets), then an inline destination with an optional title.
const LINK_TEXT: &str = r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]";
const LINK_DEST: &str = r#"\(\s*(<[^<>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^()]*\)))?\s*\)"#;

fn md_image() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, &format!(r"!{LINK_TEXT}(?:{LINK_DEST}|\[[^\]]*\])"))
}

fn md_link() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, &format!(r"{LINK_TEXT}{LINK_DEST}"))
}

/// Any HTML/JSX tag, or a JSX fragment (`<>`, `</>`).
fn any_tag() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        &format!(r"(?s)</?(?:[A-Za-z][A-Za-z0-9.:-]*\b{TAG_BODY})?>"),
    )
}

/// A line of nothing but layout wrappers around media.
fn wrapper_line() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        &format!(r"(?i)^\s*(?:</?(?:figure|center|picture|div|gridcontainer)\b{TAG_BODY}>\s*)+$"),
    )
}

/// Code-span placeholders: private-use characters that docs text does not contain.
const HOLD_OPEN: char = '\u{F8F0}';
const HOLD_CLOSE: char = '\u{F8F1}';

/// Replaces inline code spans with placeholders so no rule can touch them.
fn hold_code_spans(text: &str) -> (String, Vec<String>) {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut held = Vec::new();
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] != b'`' {
            i += 1;
            continue;
        }
        let run = b[i..].iter().take_while(|&&c| c == b'`').count();
        // The closing run is the next run of exactly the same length.
        let mut j = i + run;
        let mut close = None;
        while j < b.len() {
            if b[j] == b'`' {
                let r = b[j..].iter().take_while(|&&c| c == b'`').count();
                if r == run {
                    close = Some(j + r);
                    break;
                }
                j += r;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                out.push_str(&text[copied..i]);
                out.push(HOLD_OPEN);
                out.push_str(&held.len().to_string());
                out.push(HOLD_CLOSE);
                held.push(text[i..end].to_string());
                copied = end;
                i = end;
            }
            None => i += run,
        }
    }
    out.push_str(&text[copied..]);
    (out, held)
}

fn restore_code_spans(text: &str, held: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(HOLD_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + HOLD_OPEN.len_utf8()..];
        let end = after.find(HOLD_CLOSE).unwrap_or(after.len());
        let index: usize = after[..end].parse().unwrap_or(usize::MAX);
        out.push_str(held.get(index).map_or("", String::as_str));
        rest = after.get(end + HOLD_CLOSE.len_utf8()..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// `re.replace_all` where a match replaced by nothing takes one neighbouring space with it,
/// so `the <img/> button` reads `the button`. `f` gets the match and the text before it.
fn replace_tidy(
    re: &Regex,
    text: &str,
    mut f: impl FnMut(&Captures<'_>, &str) -> String,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let m = caps.get(0).expect("group 0");
        out.push_str(&text[last..m.start()]);
        let r = f(&caps, &text[..m.start()]);
        if r.is_empty() {
            let next = text[m.end()..].chars().next();
            if out.ends_with(' ')
                && next.is_some_and(|c| {
                    c == ' ' || matches!(c, '.' | ',' | ';' | ':' | ')' | '!' | '?')
                })
            {
                out.pop();
            }
        }
        out.push_str(&r);
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// Alt text worth keeping: two words or more, not a file name.
fn meaningful_alt(alt: &str) -> Option<String> {
    let alt = alt.split_whitespace().collect::<Vec<_>>().join(" ");
    let looks_like_file = alt.contains('/')
        || alt.rsplit_once('.').is_some_and(|(_, ext)| {
            !ext.is_empty() && ext.len() <= 4 && ext.chars().all(|c| c.is_ascii_alphanumeric())
        });
    let words = alt
        .split(' ')
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count();
    (!looks_like_file && words >= 2).then_some(alt)
}

/// Cleans one paragraph; `None` when nothing of it is left.
fn clean_block(block: &str, page: &PageLocation<'_>) -> Option<String> {
    let (text, held) = hold_code_spans(block);
    let mut media = false;
    let text = replace_tidy(paired_media(), &text, |_, _| {
        media = true;
        String::new()
    });
    let text = replace_tidy(lone_media(), &text, |_, _| {
        media = true;
        String::new()
    });
    let text = replace_tidy(img_tag(), &text, |c, _| {
        media = true;
        alt_attr()
            .captures(&c[1])
            .and_then(|a| {
                a.iter()
                    .skip(1)
                    .flatten()
                    .next()
                    .map(|m| m.as_str().to_string())
            })
            .and_then(|alt| meaningful_alt(&alt))
            .unwrap_or_default()
    });
    let text = replace_tidy(md_image(), &text, |c, _| {
        media = true;
        meaningful_alt(&c[1]).unwrap_or_default()
    });
    let text = replace_tidy(md_link(), &text, |c, before| {
        // `\[not a link](x)`: an escaped bracket is literal text.
        if before.ends_with('\\') {
            return c[0].to_string();
        }
        let label = c[1].trim();
        if label.is_empty() {
            return String::new();
        }
        match resolve_link(&c[2], page) {
            Some(url) => format!("[{}]({url})", &c[1]),
            None => c[1].to_string(),
        }
    });

    let only_tags = |s: &str| any_tag().replace_all(s, "").trim().is_empty();
    if media && only_tags(&text) {
        return None;
    }
    let lines: Vec<&str> = text
        .split('\n')
        .filter(|l| !l.trim().is_empty() && !wrapper_line().is_match(l))
        .collect();
    let first = lines.first()?;
    // What is left starts at the paragraph's own indentation (alt text from an `<img>` line
    // indented inside a `<figure>` becomes a plain paragraph, not an indented one).
    let shift = indent(first).saturating_sub(indent(block));
    let lines: Vec<&str> = lines.iter().map(|l| &l[indent(l).min(shift)..]).collect();
    Some(restore_code_spans(&lines.join("\n"), &held))
}

/// Leading spaces and tabs, in bytes.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

// ---------------------------------------------------------------------------------------------
// Links

/// The absolute URL a docs link points to, or `None` when it should become plain text (an
/// asset, a path above the content root, an empty destination).
pub fn resolve_link(dest: &str, page: &PageLocation<'_>) -> Option<String> {
    let dest = dest.trim();
    let dest = dest
        .strip_prefix('<')
        .and_then(|d| d.strip_suffix('>'))
        .unwrap_or(dest)
        .trim();
    if dest.is_empty() {
        return None;
    }
    if has_scheme(dest) {
        return Some(dest.to_string());
    }
    if let Some(rest) = dest.strip_prefix("//") {
        return Some(format!("https://{rest}"));
    }
    let (before_fragment, fragment) = match dest.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (dest, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    let site = page.site_url.trim_end_matches('/');
    let target = if path.is_empty() {
        // `#anchor` or `?query` alone: this page.
        page_url(site, page.path)
    } else {
        let under_root = if let Some(abs) = path.strip_prefix('/') {
            let base = site_path(site);
            match abs.strip_prefix(base.trim_start_matches('/')) {
                Some(rest) if !base.is_empty() && (rest.is_empty() || rest.starts_with('/')) => {
                    normalize("", rest)?
                }
                _ => normalize("", abs)?,
            }
        } else {
            let dir = page.path.rsplit_once('/').map_or("", |(d, _)| d);
            normalize(dir, path)?
        };
        if is_asset(&under_root) {
            return None;
        }
        page_url(site, &under_root)
    };
    let mut url = target;
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(q);
    }
    if let Some(f) = fragment.filter(|f| !f.is_empty()) {
        url.push('#');
        url.push_str(f);
    }
    Some(url)
}

fn has_scheme(dest: &str) -> bool {
    let Some((scheme, _)) = dest.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
}

/// The path part of a site URL: `https://create.roblox.com/docs` -> `/docs`.
fn site_path(site: &str) -> &str {
    let after_scheme = site.split_once("://").map_or(site, |(_, r)| r);
    after_scheme.find('/').map_or("", |i| &after_scheme[i..])
}

/// `dir` joined with a relative `path`, `.` and `..` resolved; `None` above the root.
fn normalize(dir: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// A file that is not a docs page: an extension other than a page's, or under `assets/`.
fn is_asset(path: &str) -> bool {
    if path.split('/').any(|p| p.eq_ignore_ascii_case("assets")) {
        return true;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    // An extension is a short run of letters and digits (`png`, `mp4`, `rbxm`).
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| (1..=5).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphanumeric()));
    ext.is_some_and(|e| !matches!(e.as_str(), "md" | "mdx" | "yaml" | "yml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "https://create.roblox.com/docs";

    fn at(path: &str) -> PageLocation<'_> {
        PageLocation {
            site_url: SITE,
            path,
        }
    }

    /// The fenced blocks of a text, as written (fences included).
    fn fences(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur: Option<(Vec<&str>, char, usize)> = None;
        for line in text.split('\n') {
            match cur.as_mut() {
                Some((lines, ch, len)) => {
                    lines.push(line);
                    if is_closing_fence(line, *ch, *len) {
                        out.push(lines.join("\n"));
                        cur = None;
                    }
                }
                None => {
                    if let Some((ch, len)) = opening_fence(line) {
                        cur = Some((vec![line], ch, len));
                    }
                }
            }
        }
        out
    }

    // Shaped like `tutorials/fundamentals/coding-4/create-a-timed-bridge.md`: a one-line
    // `<video>` paragraph, an alt-less `<img>` paragraph inside a numbered step, code in the
    // step, relative links up to the content root and to a sibling page.
    const TIMED_BRIDGE: &str = "## Keep the bridge from restarting\n\nNotice though, if you move around on the button, the timer will keep restarting.\n\n<video controls src=\"../../../assets/education/coding-4/forLoop_outputError.mp4\" width=\"100%\"></video>\n\nThis happens because the loop starts over. More in the [Tutorials](../../../tutorials/index.md) section and in [Nested loops](nested-loops.md#nesting).\n\n1. Under your variables, create a variable named `timerActive`.\n\n   ```lua\n   local timerActive = false\n   -- <img src=\"kept.png\" /> and [kept](kept.md) inside code\n   ```\n\n   <img src=\"../../../assets/education/coding-4/forLoopBridge_bridgeSetup.png\" width=\"100%\" />\n\n2. Playtest and check the bridge can be used again.\n";

    #[test]
    fn media_paragraphs_go_links_become_absolute_and_code_stays() {
        let page = at("tutorials/fundamentals/coding-4/create-a-timed-bridge.md");
        let got = clean_markdown(TIMED_BRIDGE, &page);
        assert_eq!(
            got,
            "## Keep the bridge from restarting\n\nNotice though, if you move around on the button, the timer will keep restarting.\n\nThis happens because the loop starts over. More in the [Tutorials](https://create.roblox.com/docs/tutorials) section and in [Nested loops](https://create.roblox.com/docs/tutorials/fundamentals/coding-4/nested-loops#nesting).\n\n1. Under your variables, create a variable named `timerActive`.\n\n   ```lua\n   local timerActive = false\n   -- <img src=\"kept.png\" /> and [kept](kept.md) inside code\n   ```\n\n2. Playtest and check the bridge can be used again.\n"
        );
        assert_eq!(fences(&got), fences(TIMED_BRIDGE), "code is never touched");
        assert_eq!(clean_markdown(&got, &page), got, "cleaning is idempotent");
    }

    // Shaped like `tutorials/curriculums/gameplay-scripting/detect-hits.md` and
    // `scripting/events/remote.md`: figures with and without alt text, a grid of captioned
    // figures, an inline image, Markdown images.
    #[test]
    fn images_leave_their_alt_text_when_it_says_something() {
        let page = at("tutorials/curriculums/gameplay-scripting/detect-hits.md");
        let md = "For more information, see [Raycasting](../../../workspace/raycasting.md).\n\n<figure>\n  <img src=\"../../../assets/tutorials/gameplay-scripting/Detecting-Hits/Two-Rays.png\" width=\"60%\" alt=\"A diagram where Ray A continues through the wall, and Ray B collides with the wall.\" />\n</figure>\n\n<figure>\n  <img src=\"../../../assets/tutorials/gameplay-scripting/Detecting-Hits/Reduce-Player-Health.png\" alt=\"\" width=\"80%\" />\n</figure>\n\n<GridContainer numColumns=\"2\">\n  <figure>\n    <center>\n    <img src=\"../../assets/scripting/client-server/Remote-Flow-Client-Server.png\" width=\"85%\" />\n    <figcaption>Client &rarr; Server</figcaption>\n    </center>\n  </figure>\n</GridContainer>\n\nClick the <img src=\"../../../assets/studio/icons/Plus.png\" width=\"16\" /> button, then the ![gear icon next to the name](../../../assets/gear.png) ![Screenshot](../../../assets/shot.png).\n\n![Two-Rays.png](../../../assets/two-rays.png)\n\nThe previous chapter [Implementing Blasters](implement-blasters.md) explains it.\n";
        let got = clean_markdown(md, &page);
        assert_eq!(
            got,
            "For more information, see [Raycasting](https://create.roblox.com/docs/workspace/raycasting).\n\nA diagram where Ray A continues through the wall, and Ray B collides with the wall.\n\nClick the button, then the gear icon next to the name.\n\nThe previous chapter [Implementing Blasters](https://create.roblox.com/docs/tutorials/curriculums/gameplay-scripting/implement-blasters) explains it.\n"
        );
    }

    // Shaped like `tutorials/curriculums/core/index.md`: a `<div>` whose opening tag spans two
    // lines around a YouTube `<iframe>`, `./` links from an index page, link text over two lines.
    #[test]
    fn an_index_page_links_from_its_folder_and_embeds_disappear() {
        let page = at("tutorials/curriculums/core/index.md");
        let md = "<div class=\"container\"\nstyle={{position: \"relative\", paddingBottom: \"56.25%\", height: 0}}>\n<iframe width=\"880\" src=\"https://www.youtube-nocookie.com/embed/x\" allowfullscreen></iframe>\n</div>\n\nRecreate a simple [3D platformer\nexperience](https://www.roblox.com/games/14238807008), then [Create a project](./building/create-a-project.md) or try the [absolute basics](../../first-experience/index.md).\n";
        assert_eq!(
            clean_markdown(md, &page),
            "Recreate a simple [3D platformer\nexperience](https://www.roblox.com/games/14238807008), then [Create a project](https://create.roblox.com/docs/tutorials/curriculums/core/building/create-a-project) or try the [absolute basics](https://create.roblox.com/docs/tutorials/first-experience).\n"
        );
    }

    #[test]
    fn link_destinations_resolve_like_the_site() {
        let page = at("scripting/events/remote.md");
        let cases = [
            ("#argument-limitations", Some("https://create.roblox.com/docs/scripting/events/remote#argument-limitations")),
            ("bindable.md", Some("https://create.roblox.com/docs/scripting/events/bindable")),
            ("../../production/monetization/subscriptions.md#prompt-subscription-purchases", Some("https://create.roblox.com/docs/production/monetization/subscriptions#prompt-subscription-purchases")),
            // Front matter style: relative to the site URL ...
            ("/tutorials/fundamentals/coding-4/nested-loops", Some("https://create.roblox.com/docs/tutorials/fundamentals/coding-4/nested-loops")),
            // ... unless it already carries the site's own path.
            ("/docs/reference/engine/classes/Part", Some("https://create.roblox.com/docs/reference/engine/classes/Part")),
            ("../../reference/engine/classes/Part.yaml", Some("https://create.roblox.com/docs/reference/engine/classes/Part")),
            ("<bindable.md>", Some("https://create.roblox.com/docs/scripting/events/bindable")),
            ("https://www.roblox.com/games/1", Some("https://www.roblox.com/games/1")),
            ("mailto:docs@example.com", Some("mailto:docs@example.com")),
            ("//example.com/x", Some("https://example.com/x")),
            // Assets and places above the content root become plain text.
            ("../../assets/scripting/flow.png", None),
            ("../../../assets/models/Bridge.rbxm", None),
            ("files/sample.zip", None),
            ("../../../../outside.md", None),
            ("", None),
        ];
        for (dest, want) in cases {
            assert_eq!(resolve_link(dest, &page).as_deref(), want, "{dest}");
        }
        let index = at("index.md");
        assert_eq!(
            resolve_link("#top", &index).as_deref(),
            Some("https://create.roblox.com/docs#top")
        );
    }

    #[test]
    fn asset_links_keep_their_text_and_code_spans_and_escapes_are_literal() {
        let page = at("tutorials/x/y.md");
        let md = "Download the [bridge model](../../assets/Bridge.rbxm) and read `[not a link](z.md)` or \\[literal](z.md).\n";
        assert_eq!(
            clean_markdown(md, &page),
            "Download the bridge model and read `[not a link](z.md)` or \\[literal](z.md).\n"
        );
    }

    #[test]
    fn clean_text_is_returned_unchanged() {
        let page = at("scripting/services.md");
        for md in [
            "## Services\n\nPlain prose with `Class.Players` and **bold**.\n\n```lua\nlocal Players = game:GetService(\"Players\")\n\n\nprint(Players)\n```\n",
            "| Key | Value |\n| --- | --- |\n| `Name` | text |\n",
            "<Alert severity=\"info\">\nKept for the render filter.\n</Alert>",
        ] {
            assert_eq!(clean_markdown(md, &page), md);
        }
    }

    #[test]
    fn alt_text_is_kept_only_when_it_describes_something() {
        assert_eq!(
            meaningful_alt(" The  Explorer window "),
            Some("The Explorer window".into())
        );
        for alt in ["", "Screenshot", "Two-Rays.png", "../assets/a.png", "42 %"] {
            assert_eq!(meaningful_alt(alt), None, "{alt}");
        }
    }
}
