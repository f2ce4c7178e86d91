//! License strings and expressions: turning what people write ("MIT + Apache 2.0", "GPLv3+",
//! "Apache License, Version 2.0") into SPDX expressions when the reading is unambiguous, finding
//! license names inside sentences (README lines, header comments), and ranking expressions by
//! how permissive they are.
//!
//! Nothing here ever guesses: a name without a version where versions differ in meaning
//! ("GPL", "BSD", "Apache"), a "style"/"like" license, or a list that does not say AND or OR is
//! an error that says why, and the caller flags it for review. The SPDX list itself (ids, flags)
//! comes from the `spdx` crate; expressions are validated with its strict parser.

use std::sync::OnceLock;

use regex::Regex;
use spdx::expression::{ExprNode, Operator};
use spdx::{Expression, LicenseItem};

/// The id used when license text was found but matches no known license well enough.
pub const UNKNOWN: &str = "LicenseRef-unknown";
/// SPDX's "no determination was made".
pub const NOASSERTION: &str = "NOASSERTION";
/// A public-domain dedication (not on the SPDX list as such).
pub const PUBLIC_DOMAIN: &str = "LicenseRef-public-domain";
/// "All rights reserved", npm's `UNLICENSED`, "proprietary".
pub const PROPRIETARY: &str = "LicenseRef-proprietary";

/// A license string read as an SPDX expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// A strictly valid SPDX expression.
    pub expr: String,
    /// True when `expr` differs from what was written (the caller records a note).
    pub rewritten: bool,
}

/// Reads a declared license string (manifest field, SPDX tag, source declaration) as an SPDX
/// expression. `Err` says why the string cannot be read unambiguously.
pub fn normalize(raw: &str) -> Result<Normalized, String> {
    let s = raw
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .trim();
    if s.is_empty() {
        return Err("empty license string".into());
    }
    if Expression::parse(s).is_ok() {
        return Ok(Normalized {
            expr: s.to_string(),
            rewritten: false,
        });
    }
    let done = |expr: String| -> Result<Normalized, String> {
        Expression::parse(&expr).map_err(|e| {
            format!("`{s}` read as `{expr}`, which is not a valid SPDX expression: {e}")
        })?;
        Ok(Normalized {
            rewritten: expr != s,
            expr,
        })
    };
    // The whole string as one name first: "Apache License, Version 2.0" has a comma and
    // "GNU General Public License v3 or later" has an "or" that are not operators.
    let whole = term_id(s);
    if let Ok(id) = whole {
        return done(id);
    }
    let tokens = lex(s);
    if !tokens.iter().any(|t| matches!(t, Tok::Op(_))) {
        return Err(whole.unwrap_err());
    }
    let mut out = String::new();
    let mut words: Vec<&str> = Vec::new();
    let mut after_with = false;
    let flush = |words: &mut Vec<&str>, out: &mut String, after_with: bool| -> Result<(), String> {
        if words.is_empty() {
            return Ok(());
        }
        let term = words.join(" ");
        words.clear();
        if after_with {
            let exc = term.replace(' ', "-");
            match spdx::exception_id(&exc) {
                Some(e) => out.push_str(e.name),
                None => {
                    return Err(format!(
                        "`{term}` after WITH is not an SPDX license exception"
                    ))
                }
            }
        } else {
            out.push_str(&term_id(&term)?);
        }
        Ok(())
    };
    for tok in &tokens {
        match tok {
            Tok::Word(w) => words.push(w),
            Tok::Open => {
                flush(&mut words, &mut out, after_with)?;
                out.push('(');
            }
            Tok::Close => {
                flush(&mut words, &mut out, after_with)?;
                after_with = false;
                out.push(')');
            }
            Tok::Op(op) => {
                flush(&mut words, &mut out, after_with)?;
                after_with = *op == "WITH";
                out.push(' ');
                out.push_str(op);
                out.push(' ');
            }
        }
    }
    flush(&mut words, &mut out, after_with)?;
    done(
        out.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("( ", "(")
            .replace(" )", ")"),
    )
}

#[derive(Debug, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Op(&'static str),
    Open,
    Close,
}

/// Splits a license string into words, parentheses and operators. `+` alone or between two
/// names means AND ("MIT + Apache 2.0"); `+` ending a name is "or later" ("GPL-2.0+"); `/`
/// means OR ("MIT/Apache-2.0").
fn lex(s: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        let sep = match c {
            ' ' | '\t' | '\n' | '\r' => Some(None),
            '(' => Some(Some(Tok::Open)),
            ')' => Some(Some(Tok::Close)),
            '/' | '|' => Some(Some(Tok::Op("OR"))),
            '&' => Some(Some(Tok::Op("AND"))),
            // `+` followed by a letter, or standing alone, joins two licenses.
            '+' if bytes
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b' ')
                || start.is_none() =>
            {
                Some(Some(Tok::Op("AND")))
            }
            _ => None,
        };
        match sep {
            Some(tok) => {
                if let Some(st) = start.take() {
                    out.push(word_or_op(&s[st..i]));
                }
                if let Some(tok) = tok {
                    // "||" and "&&" are one operator.
                    if !matches!((&tok, out.last()), (Tok::Op(a), Some(Tok::Op(b))) if a == b) {
                        out.push(tok);
                    }
                }
            }
            None => {
                if start.is_none() {
                    start = Some(i);
                }
            }
        }
        // Separators are ASCII, so every slice boundary is a char boundary.
        i += 1;
    }
    if let Some(st) = start {
        out.push(word_or_op(&s[st..]));
    }
    out
}

fn word_or_op(w: &str) -> Tok<'_> {
    match w.to_ascii_lowercase().as_str() {
        "and" => Tok::Op("AND"),
        "or" => Tok::Op("OR"),
        "with" => Tok::Op("WITH"),
        _ => Tok::Word(w),
    }
}

/// The canonical SPDX id for a list entry: GNU ids get their `-only` / `-or-later` form.
fn canonical(id: spdx::LicenseId, or_later: bool) -> Result<String, String> {
    let name = id.name;
    if id.is_gnu() {
        let base = name
            .trim_end_matches("-only")
            .trim_end_matches("-or-later")
            .trim_end_matches('+');
        let want_later = or_later || name.ends_with("-or-later") || name.ends_with('+');
        let suffix = if want_later { "-or-later" } else { "-only" };
        return spdx::license_id(&format!("{base}{suffix}"))
            .map(|l| l.name.to_string())
            .ok_or_else(|| format!("`{name}` has no `{suffix}` form on the SPDX list"));
    }
    if id.is_deprecated() {
        return Err(format!(
            "`{name}` is a deprecated SPDX id; name its replacement"
        ));
    }
    Ok(if or_later {
        format!("{name}+")
    } else {
        name.to_string()
    })
}

/// Reads one license name (no operators) as an SPDX id.
pub fn term_id(term: &str) -> Result<String, String> {
    let t = term
        .trim()
        .trim_end_matches(['.', ',', ';', ':'])
        .trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .trim();
    if t.is_empty() {
        return Err("empty license name".into());
    }
    if let Some(rest) = t.strip_prefix("LicenseRef-") {
        if !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Ok(t.to_string());
        }
    }
    let (base, plus) = match t.strip_suffix('+') {
        Some(b) => (b.trim(), true),
        None => (t, false),
    };
    if let Some(id) = spdx::license_id(base) {
        return canonical(id, plus);
    }
    if let Some(l) = spdx::identifiers::LICENSES
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(base))
    {
        return canonical(spdx::license_id(l.name).expect("listed id"), plus);
    }
    family_id(t)
}

/// Words that carry no meaning for which license is meant.
const FILLER: &[&str] = &[
    "the",
    "license",
    "licence",
    "licensed",
    "licenses",
    "licences",
    "version",
    "v",
    "ver",
    "gnu",
    "under",
    "dual",
    "either",
    "of",
    "terms",
    "is",
    "this",
    "project",
    "code",
    "software",
    "source",
    "open",
    "see",
    "file",
    "a",
    "an",
    "by",
    "as",
    "published",
    "free",
    "foundation",
    "at",
    "your",
    "option",
    "any",
    "in",
    "are",
    "and",
    "or",
    "later",
    "only",
    "sharealike",
    "share",
    "alike",
    "attribution",
    "international",
    "unported",
    "generic",
];

/// Reads a spelled-out name ("Apache License, Version 2.0", "GPLv3+", "BSD 3-Clause",
/// "CC BY 4.0", "Mozilla Public License 2.0") by its family, version and variant words.
fn family_id(t: &str) -> Result<String, String> {
    let lower = t.to_ascii_lowercase();
    let or_later = lower.ends_with('+')
        || lower.contains("or later")
        || lower.contains("or-later")
        || lower.contains("any later");
    // Split into words; a letter-to-digit change starts a new word ("gplv3", "apache2").
    let mut words: Vec<String> = Vec::new();
    for raw in lower.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.')) {
        let raw = raw.trim_matches('.');
        let mut cur = String::new();
        let mut prev_alpha = false;
        for c in raw.chars() {
            if c.is_ascii_digit() && prev_alpha && !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_alpha = c.is_ascii_alphabetic();
            cur.push(c);
        }
        if !cur.is_empty() {
            words.push(cur);
        }
    }
    // "gplv" + "3" → "gpl" "3".
    for w in words.iter_mut() {
        for fam in ["gplv", "lgplv", "agplv", "mplv", "eplv"] {
            if w == fam {
                w.pop();
            }
        }
    }
    let has = |w: &str| words.iter().any(|x| x == w);
    if has("style") || has("like") || has("similar") || has("compatible") || has("based") {
        return Err(format!("`{t}` names a kind of license, not a specific one"));
    }
    if has("see") && (has("file") || words.iter().any(|w| w.starts_with("licen"))) {
        return Err(format!(
            "`{t}` points at a file instead of naming a license"
        ));
    }
    let version: Option<String> = words
        .iter()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|v| {
            if v.contains('.') {
                v.clone()
            } else {
                format!("{v}.0")
            }
        });
    let mut used: Vec<&str> = Vec::new();
    let mut take = |ws: &[&'static str]| -> bool {
        let hit = ws.iter().any(|w| has(w));
        if hit {
            used.extend(ws.iter().copied());
        }
        hit
    };
    let versioned =
        |family: &str, prefix: &str, version: &Option<String>| -> Result<String, String> {
            let v = version
                .as_ref()
                .ok_or_else(|| format!("`{t}` names the {family} family but no version"))?;
            let id = spdx::license_id(&format!("{prefix}-{v}"))
                .ok_or_else(|| format!("`{t}`: there is no {family} version {v}"))?;
            canonical(id, or_later)
        };
    let id: Result<String, String> = if take(&["affero", "agpl"]) {
        take(&["general", "public"]);
        versioned("AGPL", "AGPL", &version)
    } else if take(&["lesser", "library", "lgpl"]) {
        take(&["general", "public"]);
        versioned("LGPL", "LGPL", &version)
    } else if take(&["gpl"]) || (has("general") && has("public") && take(&["general", "public"])) {
        versioned("GPL", "GPL", &version)
    } else if take(&["apache", "asl"]) {
        versioned("Apache", "Apache", &version)
    } else if take(&["mozilla", "mpl"]) {
        take(&["public"]);
        versioned("MPL", "MPL", &version)
    } else if take(&["eclipse", "epl"]) {
        take(&["public"]);
        versioned("EPL", "EPL", &version)
    } else if take(&["boost", "bsl"]) {
        Ok("BSL-1.0".to_string())
    } else if take(&["artistic"]) {
        versioned("Artistic", "Artistic", &version)
    } else if take(&["bsd"]) {
        take(&["clause"]);
        if take(&["simplified", "freebsd"]) || has("2") {
            Ok("BSD-2-Clause".into())
        } else if take(&["new", "revised", "modified"]) || has("3") {
            Ok("BSD-3-Clause".into())
        } else if take(&["original"]) || has("4") {
            Ok("BSD-4-Clause".into())
        } else if has("0") || has("zero") {
            take(&["zero"]);
            Ok("0BSD".into())
        } else {
            Err(format!(
                "`{t}` does not say which BSD license (2-, 3- or 4-clause)"
            ))
        }
    } else if take(&["0bsd"]) {
        Ok("0BSD".into())
    } else if take(&["cc0"]) || (has("cc") && has("0")) || (has("commons") && has("zero")) {
        take(&[
            "cc",
            "creative",
            "commons",
            "zero",
            "universal",
            "public",
            "domain",
            "dedication",
        ]);
        Ok("CC0-1.0".into())
    } else if take(&["cc", "creative"]) {
        take(&["commons", "by", "attribution"]);
        let mut id = String::from("CC-BY");
        if take(&["nc", "noncommercial"]) {
            id.push_str("-NC");
        }
        if take(&["nd", "noderivatives", "noderivs"]) {
            id.push_str("-ND");
        } else if take(&["sa", "sharealike"]) || (has("share") && has("alike")) {
            id.push_str("-SA");
        }
        versioned("Creative Commons", &id, &version)
    } else if take(&["mit"]) {
        if has("0") {
            Ok("MIT-0".into())
        } else {
            Ok("MIT".into())
        }
    } else if take(&["expat"]) {
        Ok("MIT".into())
    } else if take(&["isc"]) {
        Ok("ISC".into())
    } else if take(&["zlib"]) {
        take(&["libpng"]);
        Ok("Zlib".into())
    } else if take(&["unlicense"]) {
        Ok("Unlicense".into())
    } else if take(&["wtfpl"]) {
        Ok("WTFPL".into())
    } else if has("public") && has("domain") {
        take(&[
            "public",
            "domain",
            "dedicated",
            "dedication",
            "released",
            "into",
            "to",
        ]);
        Ok(PUBLIC_DOMAIN.into())
    } else if take(&["proprietary", "unlicensed", "commercial", "confidential"])
        || (has("all") && has("rights") && has("reserved") && take(&["all", "rights", "reserved"]))
    {
        Ok(PROPRIETARY.into())
    } else {
        Err(format!("`{t}` is not a license name this tool knows"))
    };
    let id = id?;
    // Every word must be accounted for: "Apache 2.0 modified" is not Apache-2.0.
    let leftover: Vec<&String> = words
        .iter()
        .filter(|w| {
            !FILLER.contains(&w.as_str())
                && !used.contains(&w.as_str())
                && !w.chars().next().is_some_and(|c| c.is_ascii_digit())
                && !matches!(w.as_str(), "clause" | "public" | "general" | "commons")
        })
        .collect();
    if !leftover.is_empty() {
        let l: Vec<&str> = leftover.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "`{t}` reads like {id} but also says `{}`",
            l.join(" ")
        ));
    }
    Ok(id)
}

/// Licenses named inside free text (a README line, a header comment block, a short LICENSE
/// file). Returns the expression the text states, `Ok(None)` when it names no license, and
/// `Err` when it names one ambiguously.
///
/// "All rights reserved" is the copyright formula, not a license: beside a grant
/// ("Copyright (c) Roblox Corporation. All rights reserved. Licensed under the MIT License")
/// it is part of the copyright line and the text states the grant; only with no grant at all
/// does it read as `LicenseRef-proprietary` (nothing is granted to anyone).
pub fn licenses_in_text(text: &str) -> Result<Option<String>, String> {
    let (ids, problems) = scan_names(text);
    if ids.is_empty() && problems.is_empty() && patterns().reserved.is_match(text) {
        return Ok(Some(PROPRIETARY.to_string()));
    }
    if !problems.is_empty() && ids.is_empty() {
        return Err(problems.join("; "));
    }
    if !problems.is_empty() {
        return Err(format!(
            "names {} but also: {}",
            ids.join(", "),
            problems.join("; ")
        ));
    }
    match ids.len() {
        0 => Ok(None),
        1 => Ok(Some(ids[0].clone())),
        _ => {
            let lower = text.to_ascii_lowercase();
            let choice = lower.contains("dual")
                || lower.contains("either")
                || lower.contains("at your option")
                || lower.contains("choice")
                || ids.iter().any(|a| {
                    ids.iter().any(|b| {
                        a != b
                            && (lower.contains(&format!(
                                "{} or {}",
                                a.to_ascii_lowercase(),
                                b.to_ascii_lowercase()
                            )) || lower.contains(&format!(
                                "{}/{}",
                                a.to_ascii_lowercase(),
                                b.to_ascii_lowercase()
                            )))
                    })
                });
            let op = if choice { " OR " } else { " AND " };
            Ok(Some(ids.join(op)))
        }
    }
}

struct Patterns {
    url: Regex,
    names: Vec<Regex>,
    reserved: Regex,
    token: Regex,
    later: Regex,
    version: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let r = |s: &str| Regex::new(s).expect("valid pattern");
        Patterns {
            url: r(r"(?i)(?:https?://|www\.)[^\s)>\]]+"),
            names: [
                r"(?i)\b(?:GNU\s+)?(?:(?:Affero|Lesser|Library)\s+)?General\s+Public\s+Licen[cs]e(?:,?\s*(?:version|v\.?)?\s*\d(?:\.\d)?)?",
                r"(?i)\b(?:A|L)?GPL(?:\s*-?\s*v?\s*\d(?:\.\d)?(?:-only|-or-later|\+)?)?\b\+?",
                r"(?i)\bApache(?:\s+Licen[cs]e)?(?:,?\s*(?:Version|v\.?)?\s*\d(?:\.\d)?)?",
                r"(?i)\bMozilla\s+Public\s+Licen[cs]e(?:,?\s*(?:version|v\.?)?\s*\d(?:\.\d)?)?",
                r"(?i)\bMPL(?:\s*-?\s*v?\s*\d(?:\.\d)?)?\b",
                r"(?i)\bEclipse\s+Public\s+Licen[cs]e(?:,?\s*(?:version|v\.?)?\s*\d(?:\.\d)?)?",
                r"(?i)\bBSD(?:[\s-]*\d[\s-]*Clause)?\b",
                r"(?i)\b(?:Simplified|New|Revised|Modified)\s+BSD\b",
                r"(?i)\bBoost\s+Software\s+Licen[cs]e(?:\s*-?\s*Version\s*1\.0)?",
                r"(?i)\bCC[\s-]?0(?:[\s-]*1\.0)?\b",
                r"(?i)\bCC[\s-]BY(?:[\s-](?:NC|ND|SA))*(?:[\s-]*\d\.\d)?",
                r"(?i)\bCreative\s+Commons\s+(?:Attribution|Zero)(?:[\s-]+(?:NonCommercial|NoDerivatives|NoDerivs|ShareAlike))*(?:\s+\d\.\d)?",
                r"(?i)\bMIT\b",
                r"(?i)\bISC\b",
                r"(?i)\bzlib\b",
                r"(?i)\bUnlicense\b",
                r"(?i)\bWTFPL\b",
                r"(?i)\bpublic\s+domain\b",
            ]
            .iter()
            .map(|s| r(s))
            .collect(),
            reserved: r(r"(?i)\ball\s+rights\s+reserved\b"),
            token: r(r"[A-Za-z0-9][A-Za-z0-9.+-]*[A-Za-z0-9+]"),
            later: r(r"(?i)(?:any\s+later|or\s+later|or-later)"),
            version: r(r"(?i)version\s+(\d(?:\.\d)?)"),
        }
    })
}

/// Distinct license ids named in `text` (in order), and the ambiguous names found.
fn scan_names(text: &str) -> (Vec<String>, Vec<String>) {
    let p = patterns();
    let mut ids: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let add = |id: String, ids: &mut Vec<String>| {
        if !ids.contains(&id) {
            ids.push(id);
        }
    };
    // URLs name licenses precisely; read those, then blank them so `apache.org` is not "Apache".
    for m in p.url.find_iter(text) {
        if let Some(id) = url_license(m.as_str()) {
            add(id, &mut ids);
        }
    }
    let text = p.url.replace_all(text, " ").into_owned();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut found: Vec<(usize, Result<String, String>)> = Vec::new();
    // Exact SPDX ids first ("MPL-2.0", "GPL-3.0-or-later"): only ids with a digit or hyphen,
    // or the common bare ones, so prose words that happen to be ids ("JSON", "curl") do not count.
    for m in p.token.find_iter(&text) {
        let w = m.as_str();
        let base = w.trim_end_matches('+');
        let common = matches!(
            base,
            "MIT" | "ISC" | "Zlib" | "Unlicense" | "WTFPL" | "0BSD"
        );
        if (base.contains('-') || base.chars().any(|c| c.is_ascii_digit()) || common)
            && spdx::license_id(base).is_some()
        {
            found.push((m.start(), term_id(w)));
            spans.push((m.start(), m.end()));
        }
    }
    for re in &p.names {
        for m in re.find_iter(&text) {
            if spans.iter().any(|&(s, e)| m.start() < e && s < m.end()) {
                continue;
            }
            let mut phrase = m.as_str().to_string();
            // "GNU General Public License as published by ..., either version 3 of the
            // License, or (at your option) any later version": the version follows.
            let lower = phrase.to_ascii_lowercase();
            if lower.contains("general public") && !lower.chars().any(|c| c.is_ascii_digit()) {
                let tail: String = text[m.end()..].chars().take(160).collect();
                let tail = tail.split(". ").next().unwrap_or_default();
                if let Some(v) = p.version.captures(tail) {
                    phrase.push(' ');
                    phrase.push_str(&v[1]);
                    if p.later.is_match(tail) {
                        phrase.push('+');
                    }
                }
            }
            found.push((m.start(), term_id(&phrase)));
            spans.push((m.start(), m.end()));
        }
    }
    found.sort_by_key(|(s, _)| *s);
    for (_, r) in found {
        match r {
            Ok(id) => add(id, &mut ids),
            Err(e) => {
                if !problems.contains(&e) {
                    problems.push(e)
                }
            }
        }
    }
    // "the GNU General Public License for more details" after "version 3 of the GNU General
    // Public License": a bare mention of a family the text names precisely elsewhere is fine.
    problems.retain(|p| {
        let family = p
            .split("names the ")
            .nth(1)
            .and_then(|r| r.split(" family").next())
            .or_else(|| p.contains("which BSD").then_some("BSD"));
        let prefix = match family {
            Some("Creative Commons") => "CC-".to_string(),
            Some(f) => format!("{f}-"),
            None => return true,
        };
        !ids.iter().any(|id| id.starts_with(&prefix))
    });
    (ids, problems)
}

/// The license a well-known license URL names.
fn url_license(url: &str) -> Option<String> {
    let u = url.to_ascii_lowercase();
    let u = u.trim_end_matches(['/', '.', ',', ')', '"', '\'']);
    let last = url
        .trim_end_matches(['/', '.', ',', ')', '"', '\''])
        .rsplit('/')
        .next()?;
    if u.contains("apache.org/licenses/license-2.0") {
        return Some("Apache-2.0".into());
    }
    if u.contains("spdx.org/licenses/") || u.contains("opensource.org/licenses/") {
        let id = last.trim_end_matches(".html").trim_end_matches(".php");
        return term_id(id).ok();
    }
    if u.contains("creativecommons.org/publicdomain/zero/1.0") {
        return Some("CC0-1.0".into());
    }
    if let Some(rest) = u.split("creativecommons.org/licenses/").nth(1) {
        let mut parts = rest.split('/');
        let kind = parts.next()?;
        let version = parts.next()?;
        return term_id(&format!("CC-{}-{}", kind.to_ascii_uppercase(), version)).ok();
    }
    if u.contains("gnu.org/licenses/gpl-3.0") {
        return Some("GPL-3.0-only".into());
    }
    None
}

/// How permissive an SPDX expression is, for keeper rules and restrictive readings: higher is
/// more permissive. 6 public domain, 5 permissive (MIT, BSD, Apache, ISC, CC-BY), 4 weak
/// copyleft (MPL, LGPL, EPL), 3 strong copyleft (GPL, CC-BY-SA), 2 network copyleft (AGPL),
/// 1 known but restrictive (non-commercial, proprietary, unclassified), 0 unknown or
/// unparseable. AND takes the least permissive part, OR the most.
pub fn permissiveness(spdx_expr: &str) -> u8 {
    let Some(expr) = parse(spdx_expr) else {
        return 0;
    };
    let mut stack: Vec<u8> = Vec::new();
    for node in expr.iter() {
        match node {
            ExprNode::Req(r) => stack.push(leaf_permissiveness(&r.req.license)),
            ExprNode::Op(op) => {
                let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                    return 0;
                };
                stack.push(match op {
                    Operator::And => a.min(b),
                    Operator::Or => a.max(b),
                });
            }
        }
    }
    stack.pop().unwrap_or(0)
}

/// Parses an expression strictly; `None` for NOASSERTION/NONE or anything invalid.
pub fn parse(spdx_expr: &str) -> Option<Expression> {
    let s = spdx_expr.trim();
    if s.is_empty() || s == NOASSERTION || s == "NONE" {
        return None;
    }
    Expression::parse(s).ok()
}

fn leaf_permissiveness(item: &LicenseItem) -> u8 {
    match item {
        LicenseItem::Other(r) => match format!("LicenseRef-{}", r.lic_ref).as_str() {
            PUBLIC_DOMAIN => 6,
            PROPRIETARY => 1,
            _ => 0,
        },
        LicenseItem::Spdx { id, .. } => id_permissiveness(*id),
    }
}

fn id_permissiveness(id: spdx::LicenseId) -> u8 {
    let n = id.name;
    let starts = |ps: &[&str]| ps.iter().any(|p| n.starts_with(p));
    if matches!(
        n,
        "CC0-1.0" | "Unlicense" | "0BSD" | "WTFPL" | "MIT-0" | "CC-PDDC" | "PDDL-1.0"
    ) {
        return 6;
    }
    if n.starts_with("CC-BY") {
        return if n.contains("-NC") || n.contains("-ND") {
            1
        } else if n.contains("-SA") {
            3
        } else {
            5
        };
    }
    if starts(&["AGPL", "SSPL", "RPL-", "CPAL-", "OSL-"]) {
        return 2;
    }
    if starts(&[
        "LGPL", "MPL", "EPL", "CDDL", "CPL-", "MS-RL", "CECILL-C", "ErlPL",
    ]) {
        return 4;
    }
    if starts(&["GPL", "EUPL", "CECILL-2", "CECILL-1", "Sleepycat"]) || id.is_copyleft() {
        return 3;
    }
    if starts(&["BUSL", "Elastic", "PolyForm", "Commons-Clause"]) {
        return 1;
    }
    if id.is_osi_approved() || id.is_fsf_free_libre() {
        return 5;
    }
    1
}

/// The ids an expression names, sorted and deduplicated ("MIT OR Apache-2.0" → [Apache-2.0, MIT]).
pub fn ids(spdx_expr: &str) -> Vec<String> {
    let mut v: Vec<String> = match parse(spdx_expr) {
        Some(e) => e.requirements().map(|r| r.req.to_string()).collect(),
        None => vec![spdx_expr.trim().to_string()],
    };
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Result<String, String> {
        normalize(s).map(|n| n.expr)
    }

    #[test]
    fn valid_spdx_is_kept_as_written() {
        for s in [
            "MIT",
            "MIT OR Apache-2.0",
            "GPL-3.0-or-later",
            "(MIT AND Zlib) OR MPL-2.0",
            "LicenseRef-custom-1",
        ] {
            let got = normalize(s).unwrap();
            assert_eq!((got.expr.as_str(), got.rewritten), (s, false), "{s}");
        }
    }

    #[test]
    fn common_spellings_are_normalized() {
        let cases = [
            ("MIT + Apache 2.0", "MIT AND Apache-2.0"),
            ("Apache 2", "Apache-2.0"),
            ("Apache2", "Apache-2.0"),
            ("apache-2.0", "Apache-2.0"),
            ("Apache License, Version 2.0", "Apache-2.0"),
            ("MIT/Apache-2.0", "MIT OR Apache-2.0"),
            ("MIT or Apache 2.0", "MIT OR Apache-2.0"),
            ("mit license", "MIT"),
            ("The MIT License (MIT)", "MIT"),
            ("GPLv3", "GPL-3.0-only"),
            ("GPL-3.0", "GPL-3.0-only"),
            ("GPL-2.0+", "GPL-2.0-or-later"),
            ("GNU General Public License v3 or later", "GPL-3.0-or-later"),
            ("LGPL 2.1", "LGPL-2.1-only"),
            ("MPL 2.0", "MPL-2.0"),
            ("Mozilla Public License 2.0", "MPL-2.0"),
            ("BSD 3-Clause", "BSD-3-Clause"),
            ("Simplified BSD", "BSD-2-Clause"),
            ("CC BY 4.0", "CC-BY-4.0"),
            ("CC-BY-SA 4.0", "CC-BY-SA-4.0"),
            ("CC0", "CC0-1.0"),
            ("UNLICENSED", PROPRIETARY),
            ("Public Domain", PUBLIC_DOMAIN),
            (
                "(MIT OR Apache-2.0) AND Zlib",
                "(MIT OR Apache-2.0) AND Zlib",
            ),
            ("MIT && ISC", "MIT AND ISC"),
        ];
        for (raw, want) in cases {
            let got = normalize(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(got.expr, want, "{raw}");
            assert!(
                Expression::parse(&got.expr).is_ok(),
                "{raw} -> {}",
                got.expr
            );
        }
        assert!(normalize("Apache 2").unwrap().rewritten);
    }

    #[test]
    fn ambiguous_strings_are_flagged_not_guessed() {
        for raw in [
            "GPL",
            "BSD",
            "Apache",
            "LGPL",
            "MIT-style",
            "BSD-like",
            "MIT, Apache-2.0",
            "SEE LICENSE IN LICENSE.txt",
            "Apache 2.0 modified",
            "MIT WITH no-evil",
            "Do what you want",
            "",
        ] {
            assert!(n(raw).is_err(), "{raw:?} must be flagged, got {:?}", n(raw));
        }
        let e = n("GPL").unwrap_err();
        assert!(e.contains("no version"), "{e}");
    }

    #[test]
    fn names_in_sentences() {
        let t = |s: &str| licenses_in_text(s);
        assert_eq!(
            t("This project is licensed under the MIT License.")
                .unwrap()
                .as_deref(),
            Some("MIT")
        );
        assert_eq!(
            t("Licensed under the Apache License, Version 2.0 (the \"License\"); see http://www.apache.org/licenses/LICENSE-2.0").unwrap().as_deref(),
            Some("Apache-2.0")
        );
        assert_eq!(
            t("under the terms of the GNU General Public License as published by the Free Software Foundation, either version 3 of the License, or (at your option) any later version.").unwrap().as_deref(),
            Some("GPL-3.0-or-later")
        );
        assert_eq!(
            t("Dual licensed under MIT or Apache-2.0, at your option.")
                .unwrap()
                .as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(t("Copyright (c) 2020 Someone").unwrap(), None);
        assert_eq!(
            t("All rights reserved.").unwrap().as_deref(),
            Some(PROPRIETARY)
        );
        assert_eq!(
            t("Copyright (c) 2021 Studio. All rights reserved.")
                .unwrap()
                .as_deref(),
            Some(PROPRIETARY)
        );
        // Beside a grant it is the copyright formula, not a second license (issue 11: the
        // header of Roblox's open-source libraries read as `MIT OR LicenseRef-proprietary`).
        assert_eq!(
            t("Copyright (c) Roblox Corporation. All rights reserved.\nLicensed under the MIT License (the \"License\");\nyou may not use this file except in compliance with the License.\nYou may obtain a copy of the License at\n\n    https://opensource.org/licenses/MIT\n\nUnless required by applicable law or agreed to in writing, software\ndistributed under the License is distributed on an \"AS IS\" BASIS,\nWITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.").unwrap().as_deref(),
            Some("MIT")
        );

        assert!(t("Released under the GPL.").is_err());
        // A bare family name next to a precise one is the same license.
        assert_eq!(
            t("under the terms of the GNU General Public License as published by the Free Software Foundation; version 2 of the License. See the GNU General Public License for more details.").unwrap().as_deref(),
            Some("GPL-2.0-only")
        );
        // A prose word that happens to be an SPDX id is not a license statement.
        assert_eq!(
            t("Parses JSON and calls curl for the license check.").unwrap(),
            None
        );
    }

    #[test]
    fn permissiveness_orders_families_and_combines_expressions() {
        let p = permissiveness;
        assert!(p("CC0-1.0") > p("MIT"));
        assert_eq!(p("MIT"), p("Apache-2.0"));
        assert_eq!(p("MIT"), p("BSD-3-Clause"));
        assert!(p("MIT") > p("MPL-2.0"));
        assert!(p("MPL-2.0") == p("LGPL-2.1-only"));
        assert!(p("LGPL-2.1-only") > p("GPL-3.0-only"));
        assert!(p("GPL-3.0-only") > p("AGPL-3.0-only"));
        assert!(p("AGPL-3.0-only") > p(UNKNOWN));
        assert_eq!(p(NOASSERTION), 0);
        assert_eq!(p("not an expression"), 0);
        assert_eq!(p("MIT AND GPL-3.0-only"), p("GPL-3.0-only"));
        assert_eq!(p("MIT OR GPL-3.0-only"), p("MIT"));
        assert_eq!(p("CC-BY-4.0 AND MIT"), p("MIT"));
        assert!(p("CC-BY-NC-4.0") < p("GPL-3.0-only"));
    }
}
