//! Reads rule files in gitleaks' own configuration format (the vendored default rule set, and
//! vcurate's Roblox rules written in the same format) and compiles them for the `regex` crate.
//!
//! gitleaks compiles its patterns with Go's RE2 syntax. The `regex` crate reads nearly the same
//! language; [`translate`] rewrites the parts that differ, so a pattern means what it means in
//! gitleaks:
//!
//! - Perl classes are ASCII in Go (`\w` is `[0-9A-Za-z_]`, `\d` `[0-9]`, `\s` `[\t\n\f\r ]`,
//!   `\b` an ASCII word boundary) and Unicode-aware in `regex`: they become ASCII classes
//!   (`(?-u:\b)` for the boundaries), outside and inside brackets.
//! - A `{` that does not start a counted repetition is a literal in Go and an error in `regex`
//!   (`^\${(?:...)}$`, `{\d+}`, `{,n}`): it is escaped, and so is its `}`.
//! - Inside brackets `regex` reads `[` as a nested class and `&&`, `--`, `~~` as set operations;
//!   Go reads them as literals: they are escaped (POSIX classes such as `[:alpha:]` are kept).
//! - `\Q...\E` quoting (not in the default rules) becomes an escaped literal.
//!
//! Everything else (`(?i)` anywhere, `(?-i:...)`, `(?s:.)`, `(?P<name>...)`, `\z`, `\x60`,
//! escaped punctuation, `[]...]`) reads the same in both. Go's other differences (backreferences
//! and look-around are unsupported by both) never arise.

use serde::Deserialize;

/// A gitleaks configuration file (the subset of its keys vcurate reads; every key gitleaks
/// defines for rules and allowlists is accepted, unknown keys are errors).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub title: Option<String>,
    pub description: Option<String>,
    /// The global allowlist (gitleaks' `[allowlist]`; newer files may use `[[allowlists]]`).
    pub allowlist: Option<AllowlistDef>,
    #[serde(default)]
    pub allowlists: Vec<AllowlistDef>,
    #[serde(default)]
    pub rules: Vec<RuleDef>,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: String,
    pub description: Option<String>,
    pub regex: Option<String>,
    /// The capture group holding the secret (default: the first group that matched).
    #[serde(rename = "secretGroup")]
    pub secret_group: Option<usize>,
    /// The secret must have more Shannon entropy (bits per character) than this.
    pub entropy: Option<f64>,
    /// The rule runs only on text holding one of these (case-insensitive).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The rule applies only to paths matching this regex; alone, it flags the file itself.
    pub path: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub allowlists: Vec<AllowlistDef>,
}

/// One allowlist, global or of a rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistDef {
    pub description: Option<String>,
    /// `OR` (default: any check allows) or `AND` (every check that is set must allow).
    pub condition: Option<String>,
    #[serde(default)]
    pub commits: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// What `regexes` test: the secret (default), the whole `match`, or the `line`.
    #[serde(rename = "regexTarget")]
    pub regex_target: Option<String>,
    #[serde(default)]
    pub regexes: Vec<String>,
    /// Substrings (case-insensitive) that mark the secret as not one.
    #[serde(default)]
    pub stopwords: Vec<String>,
}

/// What an allowlist's regexes test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Secret,
    Match,
    Line,
}

/// A compiled allowlist.
#[derive(Debug, Clone)]
pub struct Allowlist {
    pub and: bool,
    pub target: Target,
    pub paths: Option<regex::Regex>,
    pub regexes: Option<regex::Regex>,
    /// Lower-cased.
    pub stopwords: Option<aho_corasick::AhoCorasick>,
}

impl Allowlist {
    /// Whether the document's path alone allows everything (gitleaks' "commit or path allowed":
    /// an OR list with a matching path, or an AND list of paths only).
    pub fn path_allows(&self, path: &str) -> bool {
        let hit = self.paths.as_ref().is_some_and(|p| p.is_match(path));
        if self.and {
            hit && self.regexes.is_none() && self.stopwords.is_none()
        } else {
            hit
        }
    }

    /// Whether a finding is allowed (gitleaks' `checkFindingAllowed`).
    pub fn allows(&self, path: &str, secret: &str, matched: &str, line: &str) -> bool {
        let target = match self.target {
            Target::Secret => secret,
            Target::Match => matched,
            Target::Line => line,
        };
        let regex = !target.is_empty() && self.regexes.as_ref().is_some_and(|r| r.is_match(target));
        let stop = !secret.is_empty()
            && self
                .stopwords
                .as_ref()
                .is_some_and(|s| s.is_match(&secret.to_ascii_lowercase()));
        if self.and {
            let mut checks = Vec::new();
            if let Some(p) = &self.paths {
                checks.push(p.is_match(path));
            }
            if self.regexes.is_some() {
                checks.push(regex);
            }
            if self.stopwords.is_some() {
                checks.push(stop);
            }
            checks.iter().all(|&c| c)
        } else {
            regex || stop
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub regex: Option<regex::Regex>,
    pub secret_group: Option<usize>,
    pub entropy: Option<f64>,
    /// Lower-cased.
    pub keywords: Vec<String>,
    pub path: Option<regex::Regex>,
    pub allowlists: Vec<Allowlist>,
}

/// A rule file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RuleError {
    pub file: String,
    pub message: String,
}

/// Parses and compiles a rule file. `file` names it in errors.
pub fn load(file: &str, text: &str) -> Result<(Vec<Rule>, Vec<Allowlist>), RuleError> {
    let err = |message: String| RuleError {
        file: file.to_string(),
        message,
    };
    let cfg: ConfigFile = crate::core::config::parse_toml(std::path::Path::new(file), text)
        .map_err(|e| err(e.to_string()))?;
    let mut global = Vec::new();
    for a in cfg.allowlist.iter().chain(&cfg.allowlists) {
        global.push(allowlist(a).map_err(|m| err(format!("global allowlist: {m}")))?);
    }
    let mut rules = Vec::new();
    for r in &cfg.rules {
        let ctx = |m: String| err(format!("rule `{}`: {m}", r.id));
        if r.regex.is_none() && r.path.is_none() {
            return Err(ctx("needs `regex` or `path`".into()));
        }
        let mut allowlists = Vec::new();
        for a in &r.allowlists {
            allowlists.push(allowlist(a).map_err(ctx)?);
        }
        let regex = r.regex.as_deref().map(compile).transpose().map_err(ctx)?;
        if let (Some(g), Some(re)) = (r.secret_group, &regex) {
            if g >= re.captures_len() {
                return Err(ctx(format!(
                    "secretGroup {g} but the regex has {} groups",
                    re.captures_len() - 1
                )));
            }
        }
        rules.push(Rule {
            id: r.id.clone(),
            regex,
            secret_group: r.secret_group.filter(|&g| g > 0),
            entropy: r.entropy.filter(|&e| e != 0.0),
            keywords: r.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
            path: r.path.as_deref().map(compile).transpose().map_err(ctx)?,
            allowlists,
        });
    }
    Ok((rules, global))
}

fn allowlist(a: &AllowlistDef) -> Result<Allowlist, String> {
    if a.commits.is_empty() && a.paths.is_empty() && a.regexes.is_empty() && a.stopwords.is_empty()
    {
        return Err("an allowlist needs at least one of commits, paths, regexes, stopwords".into());
    }
    let and = match a
        .condition
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("OR") => false,
        Some("AND") => true,
        Some(other) => return Err(format!("allowlist condition `{other}` (use OR or AND)")),
    };
    let target = match a.regex_target.as_deref() {
        None | Some("") | Some("secret") => Target::Secret,
        Some("match") => Target::Match,
        Some("line") => Target::Line,
        Some(other) => return Err(format!("regexTarget `{other}` (use secret, match or line)")),
    };
    let join = |pats: &[String]| -> Result<Option<regex::Regex>, String> {
        if pats.is_empty() {
            return Ok(None);
        }
        let mut parts = Vec::new();
        for p in pats {
            parts.push(format!("(?:{})", translate(p)?));
        }
        build(&parts.join("|")).map(Some)
    };
    let stopwords = if a.stopwords.is_empty() {
        None
    } else {
        let words: Vec<String> = a.stopwords.iter().map(|w| w.to_ascii_lowercase()).collect();
        Some(aho_corasick::AhoCorasick::new(&words).map_err(|e| e.to_string())?)
    };
    Ok(Allowlist {
        and,
        target,
        paths: join(&a.paths)?,
        regexes: join(&a.regexes)?,
        stopwords,
    })
}

/// Translates a Go pattern and compiles it.
pub fn compile(go: &str) -> Result<regex::Regex, String> {
    build(&translate(go)?)
}

fn build(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .map_err(|e| format!("`{pattern}`: {e}"))
}

const WORD: &str = "0-9A-Za-z_";
const DIGIT: &str = "0-9";
const SPACE: &str = r"\t\n\x0C\r ";

/// Rewrites a Go (RE2) pattern into the `regex` crate's syntax with the same meaning (see the
/// module docs for what differs).
pub fn translate(go: &str) -> Result<String, String> {
    let chars: Vec<char> = go.chars().collect();
    let mut out = String::with_capacity(go.len() + 16);
    let mut i = 0;
    // Inside brackets: the index where the class's items start (after `[` and `^`).
    let mut class_start: Option<usize> = None;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return Err("a trailing backslash".into());
            };
            i += 2;
            if n == 'Q' {
                let rest: String = chars[i..].iter().collect();
                let (lit, after) = match rest.find("\\E") {
                    Some(e) => (rest[..e].to_string(), e + 2),
                    None => (rest.clone(), rest.len()),
                };
                out.push_str(&regex::escape(&lit));
                i += rest[..after].chars().count();
                continue;
            }
            let inside = class_start.is_some();
            match (n, inside) {
                ('w', false) => out.push_str(&format!("[{WORD}]")),
                ('W', false) => out.push_str(&format!("[^{WORD}]")),
                ('d', false) => out.push_str(&format!("[{DIGIT}]")),
                ('D', false) => out.push_str(&format!("[^{DIGIT}]")),
                ('s', false) => out.push_str(&format!("[{SPACE}]")),
                ('S', false) => out.push_str(&format!("[^{SPACE}]")),
                ('b', false) => out.push_str(r"(?-u:\b)"),
                ('B', false) => out.push_str(r"(?-u:\B)"),
                ('w', true) => out.push_str(WORD),
                ('d', true) => out.push_str(DIGIT),
                ('s', true) => out.push_str(SPACE),
                ('W', true) => out.push_str(&format!("[^{WORD}]")),
                ('D', true) => out.push_str(&format!("[^{DIGIT}]")),
                ('S', true) => out.push_str(&format!("[^{SPACE}]")),
                _ => {
                    out.push('\\');
                    out.push(n);
                }
            }
            continue;
        }
        if let Some(start) = class_start {
            match c {
                ']' if out.len() > start => {
                    class_start = None;
                    out.push(']');
                }
                '[' if chars.get(i + 1) == Some(&':') => {
                    // A POSIX class: copy through its `:]`.
                    let rest: String = chars[i..].iter().collect();
                    match rest.find(":]") {
                        Some(e) => {
                            out.push_str(&rest[..e + 2]);
                            i += rest[..e + 2].chars().count();
                            continue;
                        }
                        None => out.push_str(r"\["),
                    }
                }
                '[' => out.push_str(r"\["),
                '&' | '~' | '-' if chars.get(i + 1) == Some(&c) => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                class_start = Some(out.len());
                // A `]` first in the class is a literal in both dialects.
                if chars.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
                continue;
            }
            '{' => {
                if counted_repetition(&chars[i..]) {
                    let end = chars[i..].iter().position(|&c| c == '}').expect("checked");
                    out.extend(&chars[i..=i + end]);
                    i += end + 1;
                    continue;
                }
                out.push_str(r"\{");
            }
            // A `}` outside a counted repetition (copied whole above) is a literal.
            '}' => out.push_str(r"\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    if class_start.is_some() {
        return Err("an unclosed `[`".into());
    }
    Ok(out)
}

/// Whether `s` (starting at `{`) is a counted repetition Go accepts: `{n}`, `{n,}`, `{n,m}`.
fn counted_repetition(s: &[char]) -> bool {
    let Some(end) = s.iter().position(|&c| c == '}') else {
        return false;
    };
    let body: String = s[1..end].iter().collect();
    let (a, b) = match body.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (body.as_str(), None),
    };
    let digits = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit());
    digits(a) && b.is_none_or(|b| b.is_empty() || digits(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_only_syntax_is_translated_to_the_same_meaning() {
        // A `{` that starts no repetition is a literal in Go.
        let re = compile(r"^\$(?:\d+|{\d+})$").unwrap();
        assert!(re.is_match("${12}") && re.is_match("$12") && !re.is_match("${x}"));
        let re = compile(r"^\${(?:[A-Z_]+|[a-z_]+)}$").unwrap();
        assert!(re.is_match("${HOME}"));
        assert!(compile(r"x{,3}").unwrap().is_match("x{,3}"));
        // Perl classes are ASCII, as in Go.
        let re = compile(r"^\w+$").unwrap();
        assert!(re.is_match("abc_1") && !re.is_match("héllo"));
        assert!(!compile(r"^\d$").unwrap().is_match("٣"));
        let re = compile(r"^[\w.-]+$").unwrap();
        assert!(re.is_match("a.b-c") && !re.is_match("é"));
        // `]` first in a class, and `[` inside one, are literals.
        let re = compile(r"[^:]+:\[[^]]+]").unwrap();
        assert!(re.is_match("user:[redacted]"));
        assert!(compile(r"[a[]").unwrap().is_match("["));
        // POSIX classes stay classes.
        assert!(compile(r"^[[:alpha:]]+$").unwrap().is_match("abc"));
        // Counted repetitions stay repetitions.
        let re = compile(r"^a{2,3}$").unwrap();
        assert!(re.is_match("aaa") && !re.is_match("a{2,3}"));
        // \Q...\E quotes.
        assert!(compile(r"\Qa.b\E").unwrap().is_match("a.b"));
        assert!(!compile(r"\Qa.b\E").unwrap().is_match("axb"));
    }

    #[test]
    fn the_vendored_rule_set_compiles_whole() {
        let (rules, global) = load("gitleaks.toml", super::super::GITLEAKS_RULES).unwrap();
        assert!(rules.len() >= 200, "{} rules", rules.len());
        assert!(!global.is_empty());
        assert!(rules.iter().any(|r| r.id == "generic-api-key"));
        let (roblox, _) = load("roblox.toml", super::super::ROBLOX_RULES).unwrap();
        assert!(roblox.iter().any(|r| r.id.starts_with("roblox-")));
    }

    #[test]
    fn a_bad_rule_file_names_the_rule() {
        let e = load("x.toml", "[[rules]]\nid = \"r\"\nregex = '''a(b'''\n").unwrap_err();
        assert!(e.to_string().contains("rule `r`"), "{e}");
        let e = load("x.toml", "[[rules]]\nid = \"r\"\nregx = 'a'\n").unwrap_err();
        assert!(e.to_string().contains("regx"), "{e}");
    }
}
