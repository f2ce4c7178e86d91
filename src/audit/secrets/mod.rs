//! Finding credentials and personal data in document texts, for the `secrets` audit
//! (`audit/jobs/secrets.rs`) and for redaction at snapshot time.
//!
//! The rules are gitleaks' default rule set (vendored as data in `gitleaks.toml`, MIT, see
//! NOTICE) and vcurate's Roblox rules (`roblox.toml`: `.ROBLOSECURITY` cookies, Open Cloud API
//! keys, `x-api-key` headers, Discord webhook URLs), both in gitleaks' format and run the way
//! gitleaks runs them (`detect/detect.go`): an Aho-Corasick keyword prefilter over the lower-cased
//! text picks the rules to run, a rule's regex finds candidates, the secret is its `secretGroup`
//! or first non-empty group, the entropy must exceed the rule's, the global and the rule's
//! allowlists (paths, regexes against the secret, the match or the line, stopwords; OR/AND)
//! and `gitleaks:allow` lines let it go, and a `generic-*` finding yields to a specific rule's
//! finding on the same line that contains it. On top of gitleaks, [`luau_allows`] lets go of
//! what Luau code is full of (listed there), and [`pii`] finds e-mail and public IP addresses.
//!
//! Nothing here keeps a value: a [`Finding`] is a rule, a kind and a byte span; reports show at
//! most [`fingerprint`] (a short prefix and a hash). This module never rewrites a stored
//! document: [`redact`] returns a new text for the snapshot to freeze and render.

pub mod gitleaks;
pub mod pii;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use gitleaks::{Allowlist, Rule, RuleError};

/// gitleaks' default rules, translated as data (see the file's header and NOTICE).
pub const GITLEAKS_RULES: &str = include_str!("gitleaks.toml");
/// vcurate's Roblox rules, in gitleaks' format.
pub const ROBLOX_RULES: &str = include_str!("roblox.toml");

/// What a finding is, which decides its placeholder and the default policy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A credential (every gitleaks and Roblox rule).
    Secret,
    Email,
    IpAddress,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Email => "email",
            Kind::IpAddress => "ip_address",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "secret" => Some(Kind::Secret),
            "email" => Some(Kind::Email),
            "ip_address" => Some(Kind::IpAddress),
            _ => None,
        }
    }

    /// What replaces a redacted span.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Secret => "<SECRET>",
            Kind::Email => "<EMAIL>",
            Kind::IpAddress => "<IP_ADDRESS>",
        }
    }
}

/// The rule id of e-mail findings.
pub const EMAIL_RULE: &str = "email";
/// The rule id of public IP address findings.
pub const IP_RULE: &str = "ip-address";

/// One finding: where the value is, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub kind: Kind,
    /// Byte span of the value (the rule's secret group) in the text.
    pub start: usize,
    pub end: usize,
    /// 1-based line of the start.
    pub line: u32,
}

/// What a report may show of a value: its first characters (at most 4, and never more than a
/// quarter of it) and 12 hex digits of its blake3 hash.
pub fn fingerprint(value: &str) -> (String, String) {
    let keep = (value.chars().count() / 4).min(4);
    let prefix: String = value.chars().take(keep).collect();
    let hash = blake3::hash(value.as_bytes()).to_hex()[..12].to_string();
    (prefix, hash)
}

/// Shannon entropy in bits per character, as gitleaks computes it (character counts over the
/// byte length).
pub fn shannon_entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts: std::collections::HashMap<char, usize> = Default::default();
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let inv = 1.0 / s.len() as f64;
    counts
        .values()
        .map(|&n| {
            let f = n as f64 * inv;
            -f * f.log2()
        })
        .sum()
}

/// The compiled rules and the prefilter.
pub struct Scanner {
    rules: Vec<Rule>,
    global: Vec<Allowlist>,
    /// Every keyword of every rule, lower-cased; `keyword_rules[k]` are the rules of keyword k.
    keywords: aho_corasick::AhoCorasick,
    keyword_rules: Vec<Vec<usize>>,
    /// Rules without keywords run on every text.
    always: Vec<usize>,
    pii: pii::Pii,
}

impl Scanner {
    /// The built-in rules (gitleaks' defaults and the Roblox rules), compiled once.
    pub fn builtin() -> &'static Scanner {
        static SCANNER: OnceLock<Scanner> = OnceLock::new();
        SCANNER.get_or_init(|| {
            Scanner::new(&[
                ("gitleaks.toml", GITLEAKS_RULES),
                ("roblox.toml", ROBLOX_RULES),
            ])
            .expect("the built-in rules compile (a unit test checks them)")
        })
    }

    /// A scanner over rule files (`(name, text)`, gitleaks' format).
    pub fn new(files: &[(&str, &str)]) -> Result<Scanner, RuleError> {
        let mut rules = Vec::new();
        let mut global = Vec::new();
        for (name, text) in files {
            let (r, g) = gitleaks::load(name, text)?;
            rules.extend(r);
            global.extend(g);
        }
        let mut words: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.keywords.is_empty() {
                always.push(i);
            }
            for k in &r.keywords {
                match words.iter().position(|w| w == k) {
                    Some(at) => keyword_rules[at].push(i),
                    None => {
                        words.push(k.clone());
                        keyword_rules.push(vec![i]);
                    }
                }
            }
        }
        let keywords = aho_corasick::AhoCorasick::new(&words).map_err(|e| RuleError {
            file: "keywords".into(),
            message: e.to_string(),
        })?;
        Ok(Scanner {
            rules,
            global,
            keywords,
            keyword_rules,
            always,
            pii: pii::Pii::new(),
        })
    }

    /// Rule ids, in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// Every finding in `text` (a document at `path`), in text order.
    pub fn scan(&self, text: &str, path: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        if !self.global.iter().any(|a| a.path_allows(path)) {
            self.scan_rules(text, path, &mut out);
        }
        for h in self.pii.emails(text) {
            out.push(finding(text, EMAIL_RULE, Kind::Email, h.start, h.end));
        }
        for h in self.pii.public_ipv4(text) {
            out.push(finding(text, IP_RULE, Kind::IpAddress, h.start, h.end));
        }
        out.sort_by(|a, b| (a.start, a.end, &a.rule).cmp(&(b.start, b.end, &b.rule)));
        out
    }

    fn scan_rules(&self, text: &str, path: &str, out: &mut Vec<Finding>) {
        let lower = text.to_ascii_lowercase();
        let mut run = vec![false; self.rules.len()];
        for &i in &self.always {
            run[i] = true;
        }
        for m in self.keywords.find_overlapping_iter(&lower) {
            for &r in &self.keyword_rules[m.pattern().as_usize()] {
                run[r] = true;
            }
        }
        let mut found: Vec<Finding> = Vec::new();
        for (rule, _) in self.rules.iter().zip(&run).filter(|(_, &r)| r) {
            if let Some(p) = &rule.path {
                if !p.is_match(path) {
                    continue;
                }
            }
            if rule.allowlists.iter().any(|a| a.path_allows(path)) {
                continue;
            }
            let Some(re) = &rule.regex else {
                // A path-only rule flags the file itself.
                if !text.is_empty() {
                    found.push(finding(text, &rule.id, Kind::Secret, 0, text.len()));
                }
                continue;
            };
            for caps in re.captures_iter(text) {
                let m = caps.get(0).expect("group 0 always matches");
                // gitleaks trims newlines off a match.
                let ms = m.start() + (m.as_str().len() - m.as_str().trim_start_matches('\n').len());
                let me = ms + m.as_str().trim_matches('\n').len();
                if ms >= me {
                    continue;
                }
                let group = match rule.secret_group {
                    Some(g) => caps.get(g),
                    None => (1..caps.len())
                        .filter_map(|g| caps.get(g))
                        .find(|g| !g.is_empty()),
                };
                let (ss, se) = group.map(|g| (g.start(), g.end())).unwrap_or((ms, me));
                let (ss, se) = (ss.max(ms), se.min(me));
                if ss >= se {
                    continue;
                }
                let secret = &text[ss..se];
                let line = line_around(text, ms, me);
                if line.contains("gitleaks:allow") {
                    continue;
                }
                if rule.entropy.is_some_and(|e| shannon_entropy(secret) <= e) {
                    continue;
                }
                let matched = &text[ms..me];
                if self
                    .global
                    .iter()
                    .chain(&rule.allowlists)
                    .any(|a| a.allows(path, secret, matched, line))
                {
                    continue;
                }
                if luau_allows(&rule.id, text, ss, se, path) {
                    continue;
                }
                found.push(finding(text, &rule.id, Kind::Secret, ss, se));
            }
        }
        // A generic finding yields to a specific rule's finding on the same line that holds it
        // (gitleaks' `filter`).
        let keep: Vec<bool> = found
            .iter()
            .map(|f| {
                !f.rule.contains("generic")
                    || !found.iter().any(|o| {
                        !o.rule.contains("generic")
                            && o.line == f.line
                            && text[o.start..o.end].contains(&text[f.start..f.end])
                    })
            })
            .collect();
        out.extend(
            found
                .into_iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|(f, _)| f),
        );
    }
}

fn finding(text: &str, rule: &str, kind: Kind, start: usize, end: usize) -> Finding {
    Finding {
        rule: rule.to_string(),
        kind,
        start,
        end,
        line: crate::core::config::line_of(text, start) as u32,
    }
}

/// The lines a match spans.
fn line_around(text: &str, start: usize, end: usize) -> &str {
    let b = text.as_bytes();
    let s = b[..start]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1);
    let e = b[end..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| end + i);
    &text[s..e]
}

/// vcurate's allowlist on top of gitleaks', for what `generic-api-key` finds in Luau and
/// Roblox projects that is not a credential:
///
/// - a UUID/GUID (`HttpService:GenerateGUID()` output, DataStore keys, asset ids);
/// - in a Luau file, an unquoted identifier or dotted path (`apiKey = Config.API_KEY_V2`):
///   code refers to a value there, it does not hold one;
/// - counting hex test vectors (`000102030405...`, `0123456789abcdef...`), and any hex value in a
///   test or spec file (crypto libraries' known-answer tests);
/// - base64 of images and audio (PNG, JPEG, GIF, WebP/RIFF, Ogg, MP3), which asset scripts embed.
pub fn luau_allows(rule: &str, text: &str, start: usize, end: usize, path: &str) -> bool {
    if rule != "generic-api-key" {
        return false;
    }
    static PATTERNS: OnceLock<[regex::Regex; 4]> = OnceLock::new();
    let [uuid, ident, hex, media] = PATTERNS.get_or_init(|| {
        [
            regex::Regex::new(r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$"),
            regex::Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$"),
            regex::Regex::new(r"^(?:0x)?[0-9A-Fa-f]+$"),
            regex::Regex::new(r"^(?:iVBORw0KGgo|/9j/|R0lGOD|UklGR|T2dnU|SUQz|//[PuF]|AAAA[A-Za-z0-9+/]{0,4}ZnR5c)"),
        ]
        .map(|r| r.expect("the Luau allowlist patterns compile"))
    });
    let secret = &text[start..end];
    if uuid.is_match(secret) || media.is_match(secret) {
        return true;
    }
    let lower_path = path.to_ascii_lowercase();
    let luau = lower_path.ends_with(".lua") || lower_path.ends_with(".luau");
    let quoted = text[..start]
        .chars()
        .next_back()
        .is_some_and(|c| matches!(c, '"' | '\'' | '`' | '['));
    if luau && !quoted && ident.is_match(secret) {
        return true;
    }
    if hex.is_match(secret) {
        let s = secret.to_ascii_lowercase();
        let counting = [
            "000102030405",
            "0123456789abcdef",
            "fedcba9876543210",
            "00112233445566",
        ]
        .iter()
        .any(|v| s.contains(v));
        let test_file = ["test", "spec", "vector", "fixture", "kat"]
            .iter()
            .any(|t| lower_path.contains(t));
        if counting || test_file {
            return true;
        }
    }
    false
}

/// One span to replace, with the kind whose placeholder replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redaction {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

/// `text` with every span replaced by its kind's placeholder. Overlapping spans merge into one,
/// replaced by the placeholder of the most serious kind among them (secret, then e-mail, then
/// IP address), followed by as many newlines as the span held. Spans outside the text or off
/// character boundaries are widened to boundaries.
pub fn redact(text: &str, spans: &[Redaction]) -> String {
    let mut spans: Vec<Redaction> = spans
        .iter()
        .map(|r| {
            let mut s = r.start.min(text.len());
            let mut e = r.end.min(text.len());
            while !text.is_char_boundary(s) {
                s -= 1;
            }
            while !text.is_char_boundary(e) {
                e += 1;
            }
            Redaction {
                start: s,
                end: e,
                kind: r.kind,
            }
        })
        .filter(|r| r.start < r.end)
        .collect();
    spans.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Redaction> = Vec::new();
    for r in spans {
        match merged.last_mut() {
            Some(last) if r.start < last.end => {
                last.end = last.end.max(r.end);
                last.kind = last.kind.min(r.kind);
            }
            _ => merged.push(r),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in merged {
        out.push_str(&text[at..r.start]);
        out.push_str(r.kind.placeholder());
        // Keep the line count (a private key block spans lines): line-based views of the text,
        // such as a Luau file's function spans, still point at the same lines.
        let newlines = text[r.start..r.end].matches('\n').count();
        out.extend(std::iter::repeat_n('\n', newlines));
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}
