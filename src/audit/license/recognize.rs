//! Recognizing license evidence: license texts matched against the SPDX list (with a score),
//! short license statements, declared strings (manifest fields, SPDX tags, declarations, row
//! fields), README statements and the license header comment atop a file. Each piece is read
//! on its own here; weighing pieces against each other is [`super::verdict`]'s job.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use spdx::detection::{LicenseType, Store, TextData};

use super::{normalize, EvidenceKind, LicenseConfig, UNKNOWN};
use crate::audit::license_expr::{ids, licenses_in_text, term_id};
use crate::core::{CandidateKind, Document};
use crate::ingest::evidence::{evidence_kind, manifest_license};
use crate::store::EvidenceFile;

/// The SPDX license list matcher, loaded once (about 0.2 s). None if the embedded cache cannot
/// be read, in which case every license text is unknown and says so.
fn store() -> Option<&'static Store> {
    static STORE: OnceLock<Option<Store>> = OnceLock::new();
    STORE
        .get_or_init(|| match Store::load_inline() {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("the embedded SPDX license texts could not be loaded: {e}");
                None
            }
        })
        .as_ref()
}

/// The text matcher's reading of a license text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMatch {
    /// The SPDX id when the score reaches the threshold.
    pub id: Option<String>,
    /// The closest license on the list, whatever the score.
    pub closest: String,
    pub score: f64,
    /// Matched the license's standard header rather than its full text.
    pub header: bool,
}

/// Matches a license text against the SPDX list. GNU licenses read from their full text are
/// `-only` (the text alone does not grant later versions); from a header that says "or any
/// later version", `-or-later`.
pub fn match_text(text: &str, threshold: f64) -> TextMatch {
    let Some(store) = store() else {
        return TextMatch {
            id: None,
            closest: "(license list unavailable)".into(),
            score: 0.0,
            header: false,
        };
    };
    let m = store.analyze(&TextData::new(text));
    let score = f64::from(m.score);
    let header = m.license_type == LicenseType::Header;
    let id = (score >= threshold)
        .then(|| {
            let later = header && {
                let l = text.to_ascii_lowercase();
                l.contains("any later version") || l.contains("or later")
            };
            let id = term_id(m.name).ok()?;
            let base = id
                .trim_end_matches("-or-later")
                .trim_end_matches("-only")
                .to_string();
            if id.ends_with("-only") || id.ends_with("-or-later") {
                let want = if later { "-or-later" } else { "-only" };
                spdx::license_id(&format!("{base}{want}")).map(|l| l.name.to_string())
            } else {
                Some(id)
            }
        })
        .flatten();
    TextMatch {
        id,
        closest: m.name.to_string(),
        score,
        header,
    }
}

/// Standard license notices ("This program is free software ... GNU General Public License
/// ... version 3 ... any later version") are short and worded with small variations, so they
/// score below the full-text threshold. A notice that is close (>= 0.8) to a license's standard
/// header AND names that same license in words is read as that license. Full texts get no such
/// second chance: MIT with an added clause stays unknown.
fn confirmed_notice(m: &TextMatch, text: &str) -> Option<String> {
    if !m.header || m.score < 0.8 {
        return None;
    }
    let named = licenses_in_text(text).ok()??;
    let closest = term_id(m.closest.as_str()).ok()?;
    agree(&named, &closest).then_some(named)
}

/// The license-bearing text of a license file: for Lua files (`LICENSE.lua` returning a string
/// or holding a comment), the contents of its long strings, quoted strings or comments.
pub fn license_body(path: &str, text: &str) -> String {
    let lower = path.to_ascii_lowercase();
    if !(lower.ends_with(".lua") || lower.ends_with(".luau")) {
        return text.to_string();
    }
    let mut out = String::new();
    // Long brackets: [[...]], [==[...]==], in strings and comments alike.
    let mut rest = text;
    while let Some(start) = rest.find('[') {
        let after = &rest[start + 1..];
        let eq = after.chars().take_while(|&c| c == '=').count();
        if after[eq..].starts_with('[') {
            let body = &after[eq + 1..];
            let close = format!("]{}]", "=".repeat(eq));
            match body.find(&close) {
                Some(end) => {
                    out.push_str(&body[..end]);
                    out.push('\n');
                    rest = &body[end + close.len()..];
                }
                None => {
                    out.push_str(body);
                    break;
                }
            }
        } else {
            rest = after;
        }
    }
    if !out.trim().is_empty() {
        return out;
    }
    // Quoted strings ("...\n..."), then line comments.
    let mut quoted = String::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix("--") {
            quoted.push_str(c.trim());
            quoted.push('\n');
            continue;
        }
        let mut inside: Option<char> = None;
        let mut esc = false;
        for ch in t.chars() {
            match inside {
                None if ch == '"' || ch == '\'' => inside = Some(ch),
                None => {}
                Some(q) => {
                    if esc {
                        quoted.push(if ch == 'n' { '\n' } else { ch });
                        esc = false;
                    } else if ch == '\\' {
                        esc = true;
                    } else if ch == q {
                        inside = None;
                        quoted.push(' ');
                    } else {
                        quoted.push(ch);
                    }
                }
            }
        }
        quoted.push('\n');
    }
    quoted
}

/// Copyright lines of a text, minus license-template placeholders. "All rights reserved" on
/// the line after a copyright line belongs to it ("Copyright 2021 X\nAll rights reserved.").
fn copyright_lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // The entry the previous line made, if it was a copyright line.
    let mut prev: Option<usize> = None;
    for line in text.lines() {
        let t = line
            .trim()
            .trim_start_matches(['-', '/', '*', '#', ' ', '\t'])
            .trim();
        let l = t.to_ascii_lowercase();
        if let Some(i) = prev.take() {
            if l.starts_with("all rights reserved")
                && !out[i].to_ascii_lowercase().contains("all rights reserved")
            {
                out[i] = format!("{} {t}", out[i]);
                continue;
            }
        }
        let is = l.starts_with("copyright") || l.starts_with("(c)") || t.starts_with('©');
        if !is || t.contains('[') || t.contains('<') || l.contains("free software foundation") {
            continue;
        }
        // "Copyright notice" and friends in license prose are not notices.
        if l.starts_with("copyright notice")
            || l.starts_with("copyright holders")
            || l.starts_with("copyright and")
        {
            continue;
        }
        match out.iter().position(|o| o == t) {
            Some(i) => prev = Some(i),
            None => {
                if out.len() >= 5 {
                    break;
                }
                out.push(t.to_string());
                prev = Some(out.len() - 1);
            }
        }
    }
    out
}

/// Words of a license text outside its copyright lines.
fn word_count(text: &str) -> usize {
    text.lines()
        .filter(|l| {
            let l = l.trim().to_ascii_lowercase();
            !(l.starts_with("copyright") || l.starts_with("(c)"))
        })
        .map(|l| l.split_whitespace().count())
        .sum()
}

/// Below this many words a license file is read as a statement ("MIT", "Licensed under
/// Apache-2.0, see ..."), not matched as a text.
const STATEMENT_WORDS: usize = 30;

/// What one evidence file (license file, manifest, README) reads as.
#[derive(Debug, Clone)]
pub(super) struct FileReading {
    pub(super) kind: EvidenceKind,
    pub(super) license: Option<String>,
    pub(super) score: f64,
    pub(super) matched: String,
    pub(super) line: Option<u32>,
    pub(super) note: Option<String>,
    pub(super) copyright: Vec<String>,
}

pub(super) fn read_evidence_file(ev: &EvidenceFile, cfg: &LicenseConfig) -> Option<FileReading> {
    match evidence_kind(&ev.path)? {
        CandidateKind::LicenseFile => Some(read_license_file(&ev.path, &ev.text, cfg)),
        CandidateKind::PackageManifest => {
            let value = manifest_license(&ev.path, &ev.text)?;
            Some(read_declared(EvidenceKind::Manifest, &ev.path, &value, 0.9))
        }
        CandidateKind::Readme => read_readme(&ev.text, cfg),
        _ => None,
    }
}

pub(super) fn read_license_file(path: &str, text: &str, cfg: &LicenseConfig) -> FileReading {
    let body = license_body(path, text);
    let copyright = copyright_lines(&body);
    if word_count(&body) < STATEMENT_WORDS {
        let (license, note) = match licenses_in_text(&body) {
            Ok(l) => (l, None),
            Err(why) => (
                Some(UNKNOWN.to_string()),
                Some(format!("{path}: cannot read the license it names: {why}")),
            ),
        };
        let first = body.lines().map(str::trim).find(|l| !l.is_empty());
        return FileReading {
            kind: EvidenceKind::LicenseStatement,
            matched: first.unwrap_or_default().chars().take(120).collect(),
            score: if license.as_deref().is_some_and(|l| l != UNKNOWN) {
                0.8
            } else {
                0.0
            },
            license,
            line: None,
            note,
            copyright,
        };
    }
    let m = match_text(&body, cfg.text_threshold);
    let how = if m.header { "header" } else { "text" };
    match m.id.clone().or_else(|| confirmed_notice(&m, &body)) {
        Some(id) => FileReading {
            kind: EvidenceKind::LicenseText,
            matched: format!("{} ({how}, score {:.3})", m.closest, m.score),
            score: m.score,
            license: Some(id),
            line: None,
            note: None,
            copyright,
        },
        None => FileReading {
            kind: EvidenceKind::LicenseText,
            matched: format!("closest {} ({how}, score {:.3})", m.closest, m.score),
            score: m.score,
            license: Some(UNKNOWN.to_string()),
            line: None,
            note: Some(format!(
                "{path}: the text matches no known license closely enough (closest {} at {:.3}, threshold {:.2}); it may add or change terms",
                m.closest, m.score, cfg.text_threshold
            )),
            copyright,
        },
    }
}

/// A declared string (manifest field, tag, declaration, row field).
pub(super) fn read_declared(
    kind: EvidenceKind,
    path: &str,
    value: &str,
    score: f64,
) -> FileReading {
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("see license in") || lower.starts_with("see licence in") {
        return FileReading {
            kind,
            license: None,
            score: 0.0,
            matched: value.to_string(),
            line: None,
            note: Some(format!("{path}: `{value}` defers to a license file")),
            copyright: Vec::new(),
        };
    }
    let (license, score, note) = match normalize(value) {
        Ok(n) if n.rewritten => {
            let note = format!("{path}: read `{value}` as `{}`", n.expr);
            (Some(n.expr), score - 0.05, Some(note))
        }
        Ok(n) => (Some(n.expr), score, None),
        Err(why) => (
            Some(UNKNOWN.to_string()),
            0.0,
            Some(format!("{path}: flagged `{value}`: {why}")),
        ),
    };
    FileReading {
        kind,
        license,
        score,
        matched: value.to_string(),
        line: None,
        note,
        copyright: Vec::new(),
    }
}

/// A README's license statement: lines that mention a license plus the paragraph under a
/// "License" heading. Its line is the statement's own (the first line of the paragraph under
/// a heading), so a person can find it.
pub(super) fn read_readme(text: &str, cfg: &LicenseConfig) -> Option<FileReading> {
    let lines: Vec<&str> = text.lines().collect();
    let mentions = |l: &str| {
        let l = l.to_ascii_lowercase();
        l.contains("licens") || l.contains("licenc")
    };
    // (1-based line, text) of every line read.
    let mut picked: Vec<(u32, &str)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if mentions(l) {
            picked.push((i as u32 + 1, l));
            if l.trim_start().starts_with('#') {
                // The paragraph under a License heading.
                let mut j = i + 1;
                while j < lines.len() && lines[j].trim().is_empty() {
                    j += 1;
                }
                while j < lines.len()
                    && !lines[j].trim().is_empty()
                    && !lines[j].trim_start().starts_with('#')
                {
                    picked.push((j as u32 + 1, lines[j]));
                    j += 1;
                }
                i = j;
                continue;
            }
        }
        i += 1;
    }
    let first = *picked.first()?;
    let joined = picked
        .iter()
        .map(|(_, l)| *l)
        .collect::<Vec<_>>()
        .join("\n");
    let (license, note) = match licenses_in_text(&joined) {
        Ok(l) => (l, None),
        Err(why) => (
            Some(UNKNOWN.to_string()),
            Some(format!("README statement is ambiguous: {why}")),
        ),
    };
    let (line, statement) = picked
        .iter()
        .map(|(n, l)| (*n, l.trim()))
        .find(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or((first.0, first.1.trim()));
    Some(FileReading {
        kind: EvidenceKind::Readme,
        score: if license.as_deref().is_some_and(|l| l != UNKNOWN) {
            cfg.readme_confidence
        } else {
            0.0
        },
        license,
        matched: statement.chars().take(200).collect(),
        line: Some(line),
        note,
        copyright: Vec::new(),
    })
}

/// The comment block at the top of a file (after a shebang and blank lines), with 1-based line
/// numbers and comment markers removed.
fn header_block(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut close: Option<String> = None;
    for (i, line) in text.lines().enumerate().take(80) {
        let n = i as u32 + 1;
        let t = line.trim();
        if let Some(c) = &close {
            match t.find(c.as_str()) {
                Some(p) => {
                    out.push((n, clean_comment(&t[..p])));
                    close = None;
                }
                None => out.push((n, clean_comment(t))),
            }
            continue;
        }
        if t.is_empty() || (i == 0 && t.starts_with("#!")) {
            continue;
        }
        let long = t.strip_prefix("--[").and_then(|r| {
            let eq = r.chars().take_while(|&c| c == '=').count();
            r[eq..]
                .strip_prefix('[')
                .map(|body| (body, format!("]{}]", "=".repeat(eq))))
        });
        if let Some((body, c)) = long {
            match body.find(c.as_str()) {
                Some(p) => out.push((n, clean_comment(&body[..p]))),
                None => {
                    out.push((n, clean_comment(body)));
                    close = Some(c);
                }
            }
        } else if let Some(body) = t.strip_prefix("/*") {
            match body.find("*/") {
                Some(p) => out.push((n, clean_comment(&body[..p]))),
                None => {
                    out.push((n, clean_comment(body)));
                    close = Some("*/".into());
                }
            }
        } else if let Some(c) = t
            .strip_prefix("--")
            .or_else(|| t.strip_prefix("//"))
            .or_else(|| t.strip_prefix('#'))
        {
            out.push((n, clean_comment(c)));
        } else {
            break;
        }
    }
    out
}

fn clean_comment(s: &str) -> String {
    s.trim()
        .trim_start_matches(['*', '-', '/', '#'])
        .trim()
        .to_string()
}

fn license_words(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("licens")
        || l.contains("licenc")
        || l.contains("public domain")
        || l.contains("all rights reserved")
        || l.contains("free software")
}

/// Text matches of header comments, by the header text without its copyright lines: a project
/// that puts the same notice atop every file is matched once, not once per file.
pub(super) type HeaderMatches = Mutex<HashMap<String, TextMatch>>;

/// What the header comment of a file says about its license, and its copyright lines.
pub(super) fn read_header(
    doc: &Document,
    cfg: &LicenseConfig,
    header_matches: &HeaderMatches,
) -> (Option<FileReading>, Vec<String>) {
    let block = header_block(&doc.text);
    let joined: String = block
        .iter()
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let copyright = copyright_lines(&joined);
    let Some(line) = block
        .iter()
        .find(|(_, l)| license_words(l) && !l.contains("SPDX-License-Identifier"))
        .map(|(n, _)| *n)
    else {
        return (None, copyright);
    };
    let text: String = block
        .iter()
        .filter(|(_, l)| !l.contains("SPDX-License-Identifier"))
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let line_text = block
        .iter()
        .find(|(n, _)| *n == line)
        .map(|(_, l)| l.chars().take(200).collect::<String>())
        .unwrap_or_default();
    if word_count(&text) >= STATEMENT_WORDS {
        let key: String = text
            .lines()
            .filter(|l| copyright_lines(l).is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let cached = header_matches
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned());
        let m = match cached {
            Some(m) => m,
            None => {
                let m = match_text(&text, cfg.text_threshold);
                if let Ok(mut c) = header_matches.lock() {
                    c.insert(key, m.clone());
                }
                m
            }
        };
        if let Some(id) = m.id.clone().or_else(|| confirmed_notice(&m, &text)) {
            return (
                Some(FileReading {
                    kind: EvidenceKind::Header,
                    license: Some(id),
                    score: m.score,
                    matched: format!("{} (header, score {:.3}): {line_text}", m.closest, m.score),
                    line: Some(line),
                    note: None,
                    copyright: Vec::new(),
                }),
                copyright,
            );
        }
    }
    let (license, score, note) = match licenses_in_text(&text) {
        Ok(Some(l)) => (Some(l), 0.85, None),
        Ok(None) => (None, 0.0, None),
        Err(why) => (
            Some(UNKNOWN.to_string()),
            0.0,
            Some(format!(
                "{}:{line}: the header names a license ambiguously: {why}",
                doc.provenance.path
            )),
        ),
    };
    let reading = license.is_some().then(|| FileReading {
        kind: EvidenceKind::Header,
        license,
        score,
        matched: line_text,
        line: Some(line),
        note,
        copyright: Vec::new(),
    });
    (reading, copyright)
}

/// Whether two expressions name the same licenses (ignoring GNU `-only`/`-or-later` and `+`).
pub(super) fn agree(a: &str, b: &str) -> bool {
    let base = |e: &str| -> Vec<String> {
        let mut v: Vec<String> = ids(e)
            .into_iter()
            .map(|i| {
                i.trim_end_matches('+')
                    .trim_end_matches("-or-later")
                    .trim_end_matches("-only")
                    .to_string()
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    a == b || base(a) == base(b)
}
