//! The `quality` audit: Luau files must parse and compile (when configured), and code files
//! must not look generated, minified, obfuscated or packed (line length, alphanumeric share,
//! character entropy); every unit must be within the size bounds. The first failing rule is
//! the reason a document is dropped. An imported chat row's Luau (the fenced Luau blocks of its
//! assistant turns and the arguments of its calls to `audit.code-tools`) must parse and compile
//! too: the detail names the turn and call.

use std::collections::{BTreeMap, HashSet};

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{drop_document, per_source, summary_json, AuditContext, AuditJob, SourceCounts};
use crate::audit::run::{AuditError, AuditOutput};
use crate::core::{Conversation, Document, Role, UnitKind};
use crate::workspace::settings::AuditConfig;

pub struct Quality;

/// The quality audit's summary (`summary/quality.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualitySummary {
    pub per_source: Vec<SourceCounts>,
}

/// The measurements of one document.
struct Measures {
    parses: Option<bool>,
    /// Why a chat row's code does not parse (a Luau file's error is in its analysis).
    parse_error: Option<String>,
    compiles: Option<bool>,
    compile_error: Option<String>,
    max_line: u32,
    alnum: f64,
    entropy: f64,
}

impl AuditJob for Quality {
    fn name(&self) -> &'static str {
        "quality"
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let (docs, cfg, name) = (ctx.docs, ctx.config(), self.name());
        let qs: Vec<Measures> = docs
            .par_iter()
            .map(|d| {
                let (parses, compiles, compile_error, parse_error) = match &d.luau {
                    Some(l) => {
                        let c = crate::luau::compile(&d.text, &d.provenance.path);
                        (
                            Some(l.parse_ok),
                            Some(c.is_ok()),
                            c.err().map(|e| e.to_string()),
                            None,
                        )
                    }
                    None if d.provenance.unit_kind == UnitKind::ChatExample => {
                        chat_code_checks(d, &cfg.code_tools)
                    }
                    None => (None, None, None, None),
                };
                Measures {
                    parses,
                    parse_error,
                    compiles,
                    compile_error,
                    max_line: d.text.lines().map(|l| l.chars().count()).max().unwrap_or(0) as u32,
                    alnum: alnum_ratio(&d.text),
                    entropy: entropy(&d.text),
                }
            })
            .collect();
        // Line-length, alphanumeric and entropy heuristics judge code files; prose and
        // chat rows (stored as one-line JSON) have long lines by nature.
        let mut excluded = Vec::new();
        for (d, q) in docs.iter().zip(&qs) {
            let mut drop = |reason: &str, detail: String| {
                excluded.push(drop_document(name, d, reason, detail))
            };
            if cfg.require_parse && q.parses == Some(false) {
                let e = d
                    .luau
                    .as_ref()
                    .and_then(|l| l.error.as_ref())
                    .map(|e| format!("line {}:{}: {}", e.line, e.column, e.message))
                    .or_else(|| q.parse_error.clone())
                    .unwrap_or_default();
                drop("parse_failed", e);
            } else if cfg.require_compile && q.compiles == Some(false) {
                drop(
                    "compile_failed",
                    q.compile_error.clone().unwrap_or_default(),
                );
            } else if d.luau.is_some() && q.max_line as usize > cfg.max_line_length {
                drop(
                    "generated_or_minified",
                    format!(
                        "a line of {} characters > {} (audit.max-line-length)",
                        q.max_line, cfg.max_line_length
                    ),
                );
            } else if d.luau.is_some() && q.alnum < cfg.min_alnum_ratio {
                drop(
                    "low_alnum_ratio",
                    format!(
                        "{:.3} < {} (audit.min-alnum-ratio)",
                        q.alnum, cfg.min_alnum_ratio
                    ),
                );
            } else if d.luau.is_some() && q.entropy > cfg.max_entropy {
                drop(
                    "high_entropy",
                    format!(
                        "{:.2} bits/char > {} (audit.max-entropy)",
                        q.entropy, cfg.max_entropy
                    ),
                );
            } else if d.bytes < cfg.min_bytes || d.bytes > cfg.max_bytes {
                drop(
                    "size_out_of_bounds",
                    format!(
                        "{} bytes outside [{}, {}]",
                        d.bytes, cfg.min_bytes, cfg.max_bytes
                    ),
                );
            }
        }
        let dropped: HashSet<&str> = excluded
            .iter()
            .flat_map(|e| e.document_ids.iter().map(String::as_str))
            .collect();
        let df = ctx.attributes(vec![
            Column::new(
                "parses".into(),
                qs.iter().map(|q| q.parses).collect::<Vec<_>>(),
            ),
            Column::new(
                "compiles".into(),
                qs.iter().map(|q| q.compiles).collect::<Vec<_>>(),
            ),
            Column::new(
                "compile_error".into(),
                qs.iter()
                    .map(|q| q.compile_error.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "max_line_length".into(),
                qs.iter().map(|q| q.max_line).collect::<Vec<_>>(),
            ),
            Column::new(
                "alnum_ratio".into(),
                qs.iter().map(|q| q.alnum).collect::<Vec<_>>(),
            ),
            Column::new(
                "entropy".into(),
                qs.iter().map(|q| q.entropy).collect::<Vec<_>>(),
            ),
            Column::new(
                "passes".into(),
                docs.iter()
                    .map(|d| !dropped.contains(d.id.as_str()))
                    .collect::<Vec<_>>(),
            ),
        ])?;
        self.output(ctx, df, excluded)
    }

    fn per_document(&self) -> bool {
        true
    }

    fn summary_columns(&self) -> &'static [&'static str] {
        &["id", "source_id", "passes"]
    }

    fn summarize(
        &self,
        _cfg: &AuditConfig,
        df: &DataFrame,
    ) -> Result<serde_json::Value, AuditError> {
        Ok(summary_json(&QualitySummary {
            per_source: per_source(df, "passes", false)?,
        }))
    }
}

/// (parses, compiles, compile error, parse error) of a chat row's Luau: the fenced Luau blocks
/// of its assistant turns and the string arguments of its calls to `code_tools`; all None when
/// it has none. Errors name the piece: `messages[2].tool_calls[0] (run_code): line 3: ...`.
#[allow(clippy::type_complexity)]
fn chat_code_checks(
    doc: &Document,
    code_tools: &[String],
) -> (Option<bool>, Option<bool>, Option<String>, Option<String>) {
    let Ok(c) = serde_json::from_str::<serde_json::Value>(&doc.text)
        .map_err(|e| e.to_string())
        .and_then(|v| Conversation::from_json(&v))
    else {
        return (None, None, None, None);
    };
    let mut pieces: Vec<(String, String)> = Vec::new();
    for (i, m) in c.messages.iter().enumerate() {
        if m.role != Role::Assistant {
            continue;
        }
        if let Ok(units) =
            crate::ingest::docs::split_markdown(&m.content, "answer", &crate::ingest::units::probe)
        {
            for b in units
                .iter()
                .flat_map(|u| &u.code_blocks)
                .filter(|b| b.is_luau)
            {
                let code = &m.content[b.span.byte_start as usize..b.span.byte_end as usize];
                pieces.push((
                    format!("messages[{i}] code block at line {}", b.span.line_start),
                    code.to_string(),
                ));
            }
        }
        for (j, call) in m.tool_calls.iter().enumerate() {
            if code_tools.contains(&call.function.name) {
                for code in call.string_arguments() {
                    pieces.push((
                        format!("messages[{i}].tool_calls[{j}] ({})", call.function.name),
                        code.to_string(),
                    ));
                }
            }
        }
    }
    if pieces.is_empty() {
        return (None, None, None, None);
    }
    let parse_error = pieces.iter().find_map(|(label, code)| {
        let a = crate::luau::analyze(code);
        a.error
            .map(|e| format!("{label}: line {}:{}: {}", e.line, e.column, e.message))
            .or_else(|| (!a.parse_ok).then(|| format!("{label}: does not parse")))
    });
    let compile_error = pieces.iter().find_map(|(label, code)| {
        crate::luau::compile(code, label)
            .err()
            .map(|e| format!("{label}: {e}"))
    });
    (
        Some(parse_error.is_none()),
        Some(compile_error.is_none()),
        compile_error,
        parse_error,
    )
}

/// Share of alphanumeric characters among non-whitespace characters.
pub fn alnum_ratio(text: &str) -> f64 {
    let (mut alnum, mut total) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        total += 1;
        alnum += c.is_alphanumeric() as usize;
    }
    if total == 0 {
        1.0
    } else {
        alnum as f64 / total as f64
    }
}

/// Shannon entropy of the characters, in bits per character.
pub fn entropy(text: &str) -> f64 {
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    let mut n = 0usize;
    for c in text.chars() {
        *counts.entry(c).or_insert(0) += 1;
        n += 1;
    }
    counts
        .values()
        .map(|&k| k as f64 / n as f64)
        .map(|p| -p * p.log2())
        .sum()
}
