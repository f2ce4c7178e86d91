//! The license audit: one verdict per document, an SPDX expression with the evidence it rests
//! on, a confidence, and every conflict found on the way.
//!
//! Evidence and its weight, strongest first:
//! - in the file itself: `SPDX-License-Identifier` tags, then a license header comment (read by
//!   text matching when long, by name otherwise);
//! - the nearest folder (the file's own or its closest ancestor) holding a license file or a
//!   package manifest: vendored folders (`Packages/_Index/...`, `vendor/`) get their own;
//!   license texts are matched against the SPDX list with a score, and a text below the
//!   threshold is `LicenseRef-unknown` even when it starts like MIT;
//! - a README statement, used only when nothing else says anything;
//! - for docs sources, the declared prose and code licenses (kept apart; a unit with code
//!   carries both); for imported rows, the row's own field, then the source default.
//!
//! Evidence inside test-fixture folders (`tests/fixtures/x/package.json`) applies only to files
//! below it and never replaces the license around it: both are read and the more restrictive
//! wins. When strong pieces disagree (a GPL header in an MIT repository) the more restrictive
//! reading wins and the disagreement is reported. A source's `expected-license` is compared with
//! the verdict and a mismatch reported; it is never used as evidence.
//!
//! This module never reads the source trees: everything comes from the documents' candidates and
//! the evidence table ingest kept. It never drops a document either; the policy gate decides.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use spdx::detection::{LicenseType, Store, TextData};

use crate::audit::license_expr::{ids, licenses_in_text, term_id};
pub use crate::audit::license_expr::{
    normalize, permissiveness, NOASSERTION, PROPRIETARY, PUBLIC_DOMAIN, UNKNOWN,
};
use crate::core::{CandidateKind, Document, SourceKind, UnitKind};
use crate::ingest::evidence::{evidence_kind, fixture_root, manifest_license};
use crate::ingest::manifest::Source;
use crate::snapshot::EvidenceFile;

/// Settings of the license audit (`[audit.license]` in `vcurate.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LicenseConfig {
    /// Minimum text-match score (0..1) for a license file to count as a known license. Real
    /// MIT/Apache/GPL files score above 0.98; MIT with one added clause scores about 0.92.
    pub text_threshold: f64,
    /// Verdicts with a lower confidence are unresolved (sent to review).
    pub min_confidence: f64,
    /// Confidence of a README statement, the weakest evidence.
    pub readme_confidence: f64,
}

impl Default for LicenseConfig {
    fn default() -> Self {
        LicenseConfig {
            text_threshold: 0.95,
            min_confidence: 0.5,
            readme_confidence: 0.5,
        }
    }
}

/// Whether a verdict can be acted on or needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Resolved,
    Unresolved,
}

/// What a piece of evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A license file whose full text was matched against the SPDX list.
    LicenseText,
    /// A short license file that names a license instead of containing one.
    LicenseStatement,
    /// An `SPDX-License-Identifier:` tag in the document.
    SpdxTag,
    /// A license header comment at the top of the document.
    Header,
    /// The `license` field of a package manifest.
    Manifest,
    /// A README statement (weak).
    Readme,
    /// The source's declared license for prose (docs).
    DeclaredProse,
    /// The source's declared license for code samples (docs).
    DeclaredCode,
    /// A source-level default (jsonl `license`).
    Declared,
    /// A license field of an imported row.
    Row,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::LicenseText => "license_text",
            EvidenceKind::LicenseStatement => "license_statement",
            EvidenceKind::SpdxTag => "spdx_tag",
            EvidenceKind::Header => "header",
            EvidenceKind::Manifest => "manifest",
            EvidenceKind::Readme => "readme",
            EvidenceKind::DeclaredProse => "declared_prose",
            EvidenceKind::DeclaredCode => "declared_code",
            EvidenceKind::Declared => "declared",
            EvidenceKind::Row => "row",
        }
    }
}

/// One piece of evidence and what it reads as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// Path relative to the source root ("" for declarations).
    pub path: String,
    pub line: Option<u32>,
    /// What was seen: the declared string, the matched license and how it matched, or the
    /// statement.
    pub matched: String,
    /// Match score or confidence of this piece (0..1).
    pub score: f64,
    /// The SPDX expression this piece reads as; None when it names no license.
    pub license: Option<String>,
    /// Inside a test-fixture folder: applies only below it and never replaces the license
    /// around it.
    pub fixture: bool,
    /// Whether this piece decided the verdict (false: seen, outranked or only corroborating).
    pub used: bool,
}

/// The license audit's verdict on one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LicenseVerdict {
    /// Document id.
    pub id: String,
    pub source_id: String,
    pub path: String,
    /// SPDX expression, `LicenseRef-unknown` (text found, no match) or `NOASSERTION` (nothing).
    pub spdx: String,
    pub confidence: f64,
    /// Docs units: the license of the prose part.
    pub prose_license: Option<String>,
    /// Docs units with code samples: the license of the code part.
    pub code_license: Option<String>,
    pub evidence: Vec<Evidence>,
    /// Disagreements between pieces of evidence, and with the source's expected license.
    pub conflicts: Vec<String>,
    /// Normalizations made and strings that could not be read.
    pub notes: Vec<String>,
    /// Copyright lines from the file's header or its license file.
    pub copyright: Vec<String>,
    pub status: Status,
}

impl LicenseVerdict {
    /// A verdict with no evidence yet: `spdx`, unresolved, confidence 0.
    pub fn empty(id: &str, source_id: &str, path: &str, spdx: &str) -> LicenseVerdict {
        LicenseVerdict {
            id: id.to_string(),
            source_id: source_id.to_string(),
            path: path.to_string(),
            spdx: spdx.to_string(),
            confidence: 0.0,
            prose_license: None,
            code_license: None,
            evidence: Vec::new(),
            conflicts: Vec::new(),
            notes: Vec::new(),
            copyright: Vec::new(),
            status: Status::Unresolved,
        }
    }

    pub fn is_resolved(&self) -> bool {
        self.status == Status::Resolved
    }
}

/// The license stated at the root of a source (its top-level license files and manifests, never
/// fixture evidence): what the SPDX package declares and what summaries show per source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RootLicense {
    pub source_id: String,
    pub spdx: String,
    pub confidence: f64,
    pub paths: Vec<String>,
    pub conflicts: Vec<String>,
}

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

/// Copyright lines of a text, minus license-template placeholders.
fn copyright_lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line
            .trim()
            .trim_start_matches(['-', '/', '*', '#', ' ', '\t'])
            .trim();
        let l = t.to_ascii_lowercase();
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
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
        if out.len() >= 5 {
            break;
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
struct FileReading {
    kind: EvidenceKind,
    license: Option<String>,
    score: f64,
    matched: String,
    line: Option<u32>,
    note: Option<String>,
    copyright: Vec<String>,
}

fn read_evidence_file(ev: &EvidenceFile, cfg: &LicenseConfig) -> Option<FileReading> {
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

fn read_license_file(path: &str, text: &str, cfg: &LicenseConfig) -> FileReading {
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
fn read_declared(kind: EvidenceKind, path: &str, value: &str, score: f64) -> FileReading {
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
/// "License" heading.
fn read_readme(text: &str, cfg: &LicenseConfig) -> Option<FileReading> {
    let lines: Vec<&str> = text.lines().collect();
    let mentions = |l: &str| {
        let l = l.to_ascii_lowercase();
        l.contains("licens") || l.contains("licenc")
    };
    let mut picked: Vec<&str> = Vec::new();
    let mut first_line = None;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if mentions(l) {
            first_line.get_or_insert(i as u32 + 1);
            picked.push(l);
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
                    picked.push(lines[j]);
                    j += 1;
                }
                i = j;
                continue;
            }
        }
        i += 1;
    }
    let first_line = first_line?;
    let joined = picked.join("\n");
    let (license, note) = match licenses_in_text(&joined) {
        Ok(l) => (l, None),
        Err(why) => (
            Some(UNKNOWN.to_string()),
            Some(format!("README statement is ambiguous: {why}")),
        ),
    };
    Some(FileReading {
        kind: EvidenceKind::Readme,
        score: if license.as_deref().is_some_and(|l| l != UNKNOWN) {
            cfg.readme_confidence
        } else {
            0.0
        },
        license,
        matched: picked
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .or(picked.first().map(|l| l.trim()))
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
        line: Some(first_line),
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

/// What the header comment of a file says about its license.
fn read_header(doc: &Document, ctx: &Ctx) -> (Option<FileReading>, Vec<String>) {
    let cfg = ctx.cfg;
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
        let cached = ctx
            .header_matches
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned());
        let m = match cached {
            Some(m) => m,
            None => {
                let m = match_text(&text, cfg.text_threshold);
                if let Ok(mut c) = ctx.header_matches.lock() {
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

/// A candidate reading while a verdict is assembled.
#[derive(Debug, Clone)]
struct Item {
    ev: Evidence,
    /// Folder the evidence file is in ("" for the root and for in-file evidence).
    dir: String,
    note: Option<String>,
    copyright: Vec<String>,
}

impl Item {
    fn from_reading(r: FileReading, path: &str, fixture: bool) -> Item {
        Item {
            dir: path
                .rsplit_once('/')
                .map(|(d, _)| d)
                .unwrap_or("")
                .to_string(),
            ev: Evidence {
                kind: r.kind,
                path: path.to_string(),
                line: r.line,
                matched: r.matched,
                score: r.score,
                license: r.license,
                fixture,
                used: false,
            },
            note: r.note,
            copyright: r.copyright,
        }
    }
    fn license(&self) -> Option<&str> {
        self.ev.license.as_deref()
    }
}

/// Whether two expressions name the same licenses (ignoring GNU `-only`/`-or-later` and `+`).
fn agree(a: &str, b: &str) -> bool {
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

fn is_unknown(e: &str) -> bool {
    e == NOASSERTION || e.contains(UNKNOWN)
}

/// The more restrictive of two readings; `a` wins ties (callers pass the stronger kind first).
fn restrictive<'a>(a: &'a str, b: &'a str) -> &'a str {
    if is_unknown(a) {
        return a;
    }
    if is_unknown(b) {
        return b;
    }
    if permissiveness(b) < permissiveness(a) {
        b
    } else {
        a
    }
}

/// A reading being built: expression, confidence and the indices of the items it rests on.
#[derive(Debug, Clone)]
struct Reading {
    expr: String,
    confidence: f64,
    used: Vec<usize>,
}

/// Runs the license audit over every document.
pub fn detect(
    docs: &[Document],
    evidence: &[EvidenceFile],
    sources: &[Source],
    cfg: &LicenseConfig,
) -> Vec<LicenseVerdict> {
    let readings = read_all_evidence(evidence, cfg);
    let by_id: HashMap<&str, &Source> = sources.iter().map(|s| (s.id.as_str(), s)).collect();
    let ctx = Ctx {
        readings,
        cfg,
        header_matches: Mutex::new(HashMap::new()),
    };
    docs.par_iter()
        .map(|d| verdict(d, &ctx, by_id.get(d.provenance.source_id.as_str()).copied()))
        .collect()
}

type Readings = HashMap<(String, String), FileReading>;

/// What one run shares across documents.
struct Ctx<'a> {
    readings: Readings,
    cfg: &'a LicenseConfig,
    /// Text matches of header comments, by the header text without its copyright lines: a
    /// project that puts the same notice atop every file is matched once, not once per file.
    header_matches: Mutex<HashMap<String, TextMatch>>,
}

fn read_all_evidence(evidence: &[EvidenceFile], cfg: &LicenseConfig) -> Readings {
    evidence
        .par_iter()
        .filter_map(|ev| {
            read_evidence_file(ev, cfg).map(|r| ((ev.source_id.clone(), ev.path.clone()), r))
        })
        .collect()
}

/// The verdict for one document.
fn verdict(doc: &Document, ctx: &Ctx, source: Option<&Source>) -> LicenseVerdict {
    let (readings, cfg) = (&ctx.readings, ctx.cfg);
    let p = &doc.provenance;
    let mut items: Vec<Item> = Vec::new();
    let mut prose: Option<(String, FileReading)> = None;
    let mut code: Option<(String, FileReading)> = None;
    for c in &p.license_candidates {
        let fixture = fixture_root(&c.path).is_some();
        match c.kind {
            CandidateKind::LicenseFile | CandidateKind::PackageManifest | CandidateKind::Readme => {
                let r = match readings.get(&(p.source_id.clone(), c.path.clone())) {
                    Some(r) => r.clone(),
                    // Not in the evidence table (an older store): the candidate's own value.
                    None => {
                        match c.kind {
                            CandidateKind::PackageManifest => {
                                read_declared(EvidenceKind::Manifest, &c.path, &c.value, 0.9)
                            }
                            CandidateKind::Readme => match read_readme(&c.value, cfg) {
                                Some(r) => r,
                                None => continue,
                            },
                            _ => {
                                let mut r = read_license_file(&c.path, &c.value, cfg);
                                r.note = Some(format!("{}: full text not in the evidence table; read its first line only", c.path));
                                r
                            }
                        }
                    }
                };
                items.push(Item::from_reading(r, &c.path, fixture));
            }
            CandidateKind::SpdxTag => {
                let mut r = read_declared(EvidenceKind::SpdxTag, &c.path, &c.value, 0.99);
                r.line = c.line;
                items.push(Item::from_reading(r, &c.path, false));
                // In-file evidence is not in a folder; keep dir for sorting only.
            }
            CandidateKind::Declared => {
                if let Some(v) = c.value.strip_prefix("prose:") {
                    prose = Some((
                        v.trim().to_string(),
                        read_declared(EvidenceKind::DeclaredProse, "", v.trim(), 0.9),
                    ));
                } else if let Some(v) = c.value.strip_prefix("code:") {
                    code = Some((
                        v.trim().to_string(),
                        read_declared(EvidenceKind::DeclaredCode, "", v.trim(), 0.9),
                    ));
                } else {
                    items.push(Item::from_reading(
                        read_declared(EvidenceKind::Declared, "", &c.value, 0.8),
                        "",
                        false,
                    ));
                }
            }
            CandidateKind::Row => {
                let mut r = read_declared(EvidenceKind::Row, &c.path, &c.value, 0.85);
                r.line = c.line;
                items.push(Item::from_reading(r, &c.path, false));
            }
            // Header lines are re-read below from the file's whole leading comment block.
            CandidateKind::Header => {}
        }
    }
    let mut copyright: Vec<String> = Vec::new();
    // Header comments of code files (Markdown `#` lines are headings, not comments).
    let prose_file = [".md", ".markdown", ".mdx", ".rst", ".txt"]
        .iter()
        .any(|e| p.path.to_ascii_lowercase().ends_with(e));
    if p.unit_kind == UnitKind::File && p.source_kind != SourceKind::Jsonl && !prose_file {
        let (header, cr) = read_header(doc, ctx);
        copyright = cr;
        if let Some(h) = header {
            let path = p.path.clone();
            items.push(Item::from_reading(h, &path, false));
        }
    }

    let mut v = LicenseVerdict::empty(&doc.id, &p.source_id, &p.path, NOASSERTION);
    // `contested`: evidence contradicts a declaration outright, so a person must look.
    let (reading, contested) = if prose.is_some() || code.is_some() {
        docs_reading(doc, prose, code, &mut items, &mut v)
    } else {
        (file_reading(doc, &mut items, &mut v), false)
    };
    for i in &reading.used {
        items[*i].ev.used = true;
    }
    if copyright.is_empty() {
        for i in &reading.used {
            for c in &items[*i].copyright {
                if !copyright.contains(c) {
                    copyright.push(c.clone());
                }
            }
        }
    }
    for it in &items {
        if let Some(n) = &it.note {
            if !v.notes.contains(n) {
                v.notes.push(n.clone());
            }
        }
    }
    v.spdx = reading.expr;
    v.confidence = (reading.confidence * 1000.0).round() / 1000.0;
    v.copyright = copyright;
    v.evidence = items.into_iter().map(|i| i.ev).collect();
    v.status = if !is_unknown(&v.spdx) && v.confidence >= cfg.min_confidence && !contested {
        Status::Resolved
    } else {
        Status::Unresolved
    };
    // The expected license is a cross-check only.
    if let Some(expected) = source.and_then(|s| s.expected_license.as_deref()) {
        let exp = normalize(expected)
            .map(|n| n.expr)
            .unwrap_or_else(|_| expected.to_string());
        if !is_unknown(&v.spdx) && !agree(&exp, &v.spdx) {
            v.conflicts.push(format!(
                "the source manifest expects `{exp}` but the evidence says `{}` (the expectation is never used as evidence)",
                v.spdx
            ));
        } else if is_unknown(&v.spdx) {
            v.notes.push(format!(
                "the source manifest expects `{exp}`; not used as evidence"
            ));
        }
    }
    v
}

/// Docs units: prose and code licenses stay separate; a unit with code carries both.
fn docs_reading(
    doc: &Document,
    prose: Option<(String, FileReading)>,
    code: Option<(String, FileReading)>,
    items: &mut Vec<Item>,
    v: &mut LicenseVerdict,
) -> (Reading, bool) {
    let has_code = !doc.code_blocks.is_empty();
    let mut used = Vec::new();
    let mut part = |d: Option<(String, FileReading)>, items: &mut Vec<Item>, use_it: bool| {
        d.map(|(_, r)| {
            let lic = r.license.clone().unwrap_or_else(|| UNKNOWN.into());
            items.push(Item::from_reading(r, "", false));
            if use_it {
                used.push(items.len() - 1);
            }
            lic
        })
    };
    let prose_l = part(prose, items, true);
    let code_l = part(code, items, has_code);
    let expr = match (&prose_l, &code_l) {
        (Some(pl), Some(cl)) if has_code && !agree(pl, cl) => {
            format!("{} AND {}", paren(pl), paren(cl))
        }
        (Some(pl), _) => pl.clone(),
        (None, Some(cl)) => cl.clone(),
        (None, None) => UNKNOWN.into(),
    };
    v.prose_license = prose_l.clone();
    v.code_license = if has_code { code_l.clone() } else { None };
    if let Some(a) = &doc.provenance.attribution {
        if let Ok(n) = normalize(&a.license) {
            if !agree(&n.expr, &expr) {
                v.notes.push(format!(
                    "the attribution recorded at ingest says `{}`; the audit reads `{expr}`",
                    a.license
                ));
            }
        }
    }
    // Folder license files corroborate or contradict the declaration.
    let declared: Vec<String> = [prose_l.as_deref(), code_l.as_deref()]
        .into_iter()
        .flatten()
        .flat_map(ids)
        .collect();
    let mut confidence: f64 = 0.9;
    let mut contested = false;
    for (i, it) in items.iter().enumerate() {
        if !matches!(
            it.ev.kind,
            EvidenceKind::LicenseText | EvidenceKind::LicenseStatement | EvidenceKind::Manifest
        ) {
            continue;
        }
        let Some(l) = it.license() else { continue };
        if l == UNKNOWN {
            continue;
        }
        if ids(l)
            .iter()
            .all(|id| declared.iter().any(|d| agree(d, id)))
        {
            confidence = 0.97;
            used.push(i);
        } else {
            contested = true;
            v.conflicts.push(format!(
                "`{}` reads as `{l}`, which the source declares for neither prose ({}) nor code ({})",
                it.ev.path,
                prose_l.as_deref().unwrap_or("-"),
                code_l.as_deref().unwrap_or("-")
            ));
        }
    }
    (
        Reading {
            expr,
            confidence,
            used,
        },
        contested,
    )
}

fn paren(e: &str) -> String {
    if e.contains(" OR ") {
        format!("({e})")
    } else {
        e.to_string()
    }
}

/// Files (git, local) and imported rows.
fn file_reading(doc: &Document, items: &mut [Item], v: &mut LicenseVerdict) -> Reading {
    let in_file = in_file_reading(items, v);
    let folder = folder_reading(items, v);
    let mut r = match (in_file, folder) {
        (Some(a), Some(b)) => {
            if agree(&a.expr, &b.expr) {
                let mut used = a.used.clone();
                used.extend(b.used);
                Reading {
                    confidence: a.confidence.max(b.confidence),
                    expr: a.expr,
                    used,
                }
            } else {
                let pick = restrictive(&a.expr, &b.expr).to_string();
                v.conflicts.push(format!(
                    "the file itself says `{}` but {} says `{}`; kept the more restrictive `{pick}`",
                    a.expr,
                    describe(items, &b.used),
                    b.expr
                ));
                if pick == a.expr {
                    a
                } else {
                    b
                }
            }
        }
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => {
            // Weakest: a README statement, nearest first; then declarations and row fields.
            let readme = items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.ev.kind == EvidenceKind::Readme && it.license().is_some())
                .max_by_key(|(_, it)| depth(&it.dir));
            let declared = items
                .iter()
                .enumerate()
                .filter(|(_, it)| {
                    matches!(it.ev.kind, EvidenceKind::Row | EvidenceKind::Declared)
                        && it.license().is_some()
                })
                .max_by_key(|(_, it)| (it.ev.kind == EvidenceKind::Row) as u8);
            match (declared, readme) {
                (Some((i, it)), _) => Reading {
                    expr: it.license().unwrap_or(UNKNOWN).to_string(),
                    confidence: it.ev.score,
                    used: vec![i],
                },
                (None, Some((i, it))) => {
                    v.notes.push(format!(
                        "only a README statement ({}) speaks to the license",
                        it.ev.path
                    ));
                    Reading {
                        expr: it.license().unwrap_or(UNKNOWN).to_string(),
                        confidence: it.ev.score,
                        used: vec![i],
                    }
                }
                (None, None) => {
                    let fallback = doc
                        .provenance
                        .code_license
                        .as_ref()
                        .filter(|_| doc.luau.is_some())
                        .or(doc.provenance.prose_license.as_ref());
                    match fallback.map(|f| (f, normalize(f))) {
                        Some((f, Ok(n))) => {
                            v.notes.push(format!(
                                "no evidence in the tree; the docs source declares `{f}`"
                            ));
                            Reading {
                                expr: n.expr,
                                confidence: 0.8,
                                used: vec![],
                            }
                        }
                        _ => {
                            v.notes
                                .push("no license evidence found for this document".into());
                            Reading {
                                expr: NOASSERTION.into(),
                                confidence: 0.0,
                                used: vec![],
                            }
                        }
                    }
                }
            }
        }
    };
    if is_unknown(&r.expr) {
        r.confidence = 0.0;
    }
    r
}

fn depth(dir: &str) -> usize {
    if dir.is_empty() {
        0
    } else {
        dir.matches('/').count() + 1
    }
}

fn describe(items: &[Item], used: &[usize]) -> String {
    let paths: Vec<&str> = used.iter().map(|i| items[*i].ev.path.as_str()).collect();
    if paths.is_empty() {
        "the folder".into()
    } else {
        format!("`{}`", paths.join("`, `"))
    }
}

/// SPDX tags (all of them, ANDed) or else the header comment.
fn in_file_reading(items: &[Item], v: &mut LicenseVerdict) -> Option<Reading> {
    let tags: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].ev.kind == EvidenceKind::SpdxTag && items[i].license().is_some())
        .collect();
    let header = (0..items.len()).find(|&i| items[i].ev.kind == EvidenceKind::Header);
    if !tags.is_empty() {
        let mut exprs: Vec<String> = Vec::new();
        for &i in &tags {
            let l = items[i].license().unwrap_or(UNKNOWN).to_string();
            if !exprs.contains(&l) {
                exprs.push(l);
            }
        }
        let expr = if exprs.iter().any(|e| is_unknown(e)) {
            UNKNOWN.to_string()
        } else {
            exprs
                .iter()
                .map(|e| paren(e))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let conf = tags.iter().map(|&i| items[i].ev.score).fold(1.0, f64::min);
        let mut used = tags.clone();
        if let Some(h) = header {
            let hl = items[h].license().unwrap_or(UNKNOWN);
            if agree(hl, &expr) {
                used.push(h);
            } else if !is_unknown(hl) {
                v.conflicts.push(format!(
                    "the SPDX tag says `{expr}` but the header comment reads as `{hl}`"
                ));
                let pick = restrictive(&expr, hl).to_string();
                if pick != expr {
                    return Some(Reading {
                        expr: pick,
                        confidence: items[h].ev.score,
                        used: vec![h],
                    });
                }
            }
        }
        return Some(Reading {
            expr,
            confidence: conf,
            used,
        });
    }
    let h = header?;
    let l = items[h].license()?.to_string();
    Some(Reading {
        confidence: items[h].ev.score,
        expr: l,
        used: vec![h],
    })
}

/// The nearest folder's license files and manifests; fixture evidence is read alongside the
/// nearest non-fixture folder and the more restrictive reading kept.
fn folder_reading(items: &[Item], v: &mut LicenseVerdict) -> Option<Reading> {
    let folder_kinds = |k: EvidenceKind| {
        matches!(
            k,
            EvidenceKind::LicenseText | EvidenceKind::LicenseStatement | EvidenceKind::Manifest
        )
    };
    let mut groups: BTreeMap<(bool, usize, String), Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        if folder_kinds(it.ev.kind) && it.license().is_some() {
            groups
                .entry((it.ev.fixture, depth(&it.dir), it.dir.clone()))
                .or_default()
                .push(i);
        }
    }
    let nearest = |fixture: bool| {
        groups
            .iter()
            .filter(|((f, _, _), _)| *f == fixture)
            .max_by_key(|((_, d, _), _)| *d)
            .map(|((_, _, dir), idx)| (dir.clone(), idx.clone()))
    };
    let main = nearest(false).map(|(dir, idx)| group_reading(&dir, &idx, items, v));
    let fixture =
        nearest(true).map(|(dir, idx)| (dir.clone(), group_reading(&dir, &idx, items, v)));
    match (main, fixture) {
        (Some(m), Some((dir, f))) => {
            if agree(&m.expr, &f.expr) {
                let mut used = m.used.clone();
                used.extend(f.used);
                Some(Reading { used, ..m })
            } else {
                let pick = restrictive(&m.expr, &f.expr).to_string();
                v.conflicts.push(format!(
                    "fixture evidence in `{dir}/` says `{}` but the enclosing license is `{}`; kept the more restrictive `{pick}`",
                    f.expr, m.expr
                ));
                Some(if pick == m.expr { m } else { f })
            }
        }
        (Some(m), None) => Some(m),
        (None, Some((dir, f))) => {
            v.notes.push(format!(
                "the only folder evidence is fixture evidence in `{dir}/`"
            ));
            Some(f)
        }
        (None, None) => None,
    }
}

/// License files and manifests of one folder read together.
fn group_reading(dir: &str, idx: &[usize], items: &[Item], v: &mut LicenseVerdict) -> Reading {
    let shown = if dir.is_empty() {
        "the root".to_string()
    } else {
        format!("`{dir}/`")
    };
    let texts: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| items[i].ev.kind != EvidenceKind::Manifest)
        .collect();
    let manifests: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| items[i].ev.kind == EvidenceKind::Manifest)
        .collect();
    let lic = |i: usize| items[i].license().unwrap_or(UNKNOWN).to_string();
    let unknown_text = texts.iter().copied().find(|&i| lic(i) == UNKNOWN);
    if let Some(u) = unknown_text {
        for &m in &manifests {
            if lic(m) != UNKNOWN {
                v.conflicts.push(format!(
                    "`{}` says `{}` but `{}` does not match that license (or any other); the text decides",
                    items[m].ev.path,
                    lic(m),
                    items[u].ev.path
                ));
            }
        }
        return Reading {
            expr: UNKNOWN.into(),
            confidence: 0.0,
            used: vec![u],
        };
    }
    // The union of what the license files say; several different files are read as AND unless
    // a manifest in the same folder names exactly those licenses with its own operators.
    let mut text_exprs: Vec<String> = Vec::new();
    for &i in &texts {
        let l = lic(i);
        if !text_exprs.iter().any(|e| agree(e, &l)) {
            text_exprs.push(l);
        }
    }
    let text_conf = texts.iter().map(|&i| items[i].ev.score).fold(0.0, f64::max);
    let mut manifest_exprs: Vec<(usize, String)> = Vec::new();
    for &i in &manifests {
        let l = lic(i);
        if !manifest_exprs.iter().any(|(_, e)| agree(e, &l)) {
            manifest_exprs.push((i, l));
        }
    }
    let manifest = match manifest_exprs.len() {
        0 => None,
        1 => Some(manifest_exprs[0].clone()),
        _ => {
            let mut pick = manifest_exprs[0].clone();
            for (i, e) in &manifest_exprs[1..] {
                if restrictive(&pick.1, e) == e.as_str() && e != &pick.1 {
                    pick = (*i, e.clone());
                }
            }
            v.conflicts.push(format!(
                "manifests in {shown} disagree ({}); kept the more restrictive `{}`",
                manifest_exprs
                    .iter()
                    .map(|(i, e)| format!("`{}`: `{e}`", items[*i].ev.path))
                    .collect::<Vec<_>>()
                    .join(", "),
                pick.1
            ));
            Some(pick)
        }
    };
    if text_exprs.is_empty() {
        let (i, e) = manifest.expect("a group has at least one reading");
        return Reading {
            confidence: if e == UNKNOWN { 0.0 } else { items[i].ev.score },
            expr: e,
            used: vec![i],
        };
    }
    let joined_ids: Vec<String> = {
        let mut v: Vec<String> = text_exprs.iter().flat_map(|e| ids(e)).collect();
        v.sort();
        v.dedup();
        v
    };
    let text_expr = if text_exprs.len() == 1 {
        text_exprs[0].clone()
    } else if let Some((_, m)) = manifest.as_ref().filter(|(_, m)| {
        let mut mi = ids(m);
        mi.sort();
        agree(&mi.join(" AND "), &joined_ids.join(" AND "))
    }) {
        m.clone()
    } else {
        v.notes.push(format!(
            "several license files in {shown} ({}) and no manifest says how they combine; read as AND",
            text_exprs.join(", ")
        ));
        text_exprs
            .iter()
            .map(|e| paren(e))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let mut used = texts.clone();
    match manifest {
        // A flagged manifest string is outranked by a license text that reads cleanly.
        Some((_, m)) if m == UNKNOWN => Reading {
            expr: text_expr,
            confidence: text_conf,
            used,
        },
        Some((mi, m)) if agree(&m, &text_expr) => {
            used.push(mi);
            Reading {
                expr: text_expr,
                confidence: text_conf.max(items[mi].ev.score),
                used,
            }
        }
        Some((mi, m)) => {
            let pick = restrictive(&text_expr, &m).to_string();
            v.conflicts.push(format!(
                "`{}` says `{m}` but the license file(s) in {shown} read `{text_expr}`; kept the more restrictive `{pick}`",
                items[mi].ev.path
            ));
            if pick == text_expr {
                Reading {
                    expr: text_expr,
                    confidence: text_conf,
                    used,
                }
            } else {
                Reading {
                    expr: m,
                    confidence: items[mi].ev.score,
                    used: vec![mi],
                }
            }
        }
        None => Reading {
            expr: text_expr,
            confidence: text_conf,
            used,
        },
    }
}

/// The license at the root of each source, from its top-level license files and manifests.
pub fn root_licenses(evidence: &[EvidenceFile], cfg: &LicenseConfig) -> Vec<RootLicense> {
    let readings = read_all_evidence(evidence, cfg);
    let mut by_source: BTreeMap<&str, Vec<Item>> = BTreeMap::new();
    for ev in evidence {
        if ev.path.contains('/') {
            continue;
        }
        if let Some(r) = readings.get(&(ev.source_id.clone(), ev.path.clone())) {
            if r.kind != EvidenceKind::Readme && r.license.is_some() {
                by_source
                    .entry(ev.source_id.as_str())
                    .or_default()
                    .push(Item::from_reading(r.clone(), &ev.path, false));
            }
        }
    }
    by_source
        .into_iter()
        .map(|(sid, items)| {
            let mut scratch = LicenseVerdict::empty("", sid, "", "");
            let idx: Vec<usize> = (0..items.len()).collect();
            let r = group_reading("", &idx, &items, &mut scratch);
            RootLicense {
                source_id: sid.to_string(),
                spdx: r.expr,
                confidence: (r.confidence * 1000.0).round() / 1000.0,
                paths: r.used.iter().map(|&i| items[i].ev.path.clone()).collect(),
                conflicts: scratch.conflicts,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
