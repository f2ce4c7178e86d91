//! The `density` audit: Luau code lines per document, counted with the parser (not by fences
//! or raw lines); documents with fewer than `audit.min-code-lines` are dropped. In an imported
//! chat row the Luau is what the assistant wrote: the fenced Luau of every assistant turn and
//! the string arguments of its calls to `audit.code-tools` (`run_code`).

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{drop_document, per_source, summary_json, AuditContext, AuditJob, SourceCounts};
use crate::audit::run::{AuditError, AuditOutput};
use crate::core::{Conversation, Document, Role, UnitKind};
use crate::workspace::settings::AuditConfig;

pub struct Density;

/// The density audit's summary (`summary/density.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DensitySummary {
    pub min_code_lines: u32,
    pub per_source: Vec<SourceCounts>,
}

impl AuditJob for Density {
    fn name(&self) -> &'static str {
        "density"
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let (docs, cfg) = (ctx.docs, ctx.config());
        let lines: Vec<u32> = docs
            .par_iter()
            .map(|d| luau_code_lines(d, &cfg.code_tools))
            .collect();
        let passes: Vec<bool> = lines.iter().map(|&n| n >= cfg.min_code_lines).collect();
        let excluded = docs
            .iter()
            .zip(&lines)
            .filter(|(_, &n)| n < cfg.min_code_lines)
            .map(|(d, &n)| {
                drop_document(
                    self.name(),
                    d,
                    "too_few_code_lines",
                    format!(
                        "{n} Luau code lines < {} (audit.min-code-lines)",
                        cfg.min_code_lines
                    ),
                )
            })
            .collect();
        let df = ctx.attributes(vec![
            Column::new("luau_code_lines".into(), lines),
            Column::new("passes".into(), passes),
        ])?;
        self.output(ctx, df, excluded)
    }

    fn per_document(&self) -> bool {
        true
    }

    fn summary_columns(&self) -> &'static [&'static str] {
        &["id", "source_id", "passes", "luau_code_lines"]
    }

    fn summarize(&self, cfg: &AuditConfig, df: &DataFrame) -> Result<Value, AuditError> {
        Ok(summary_json(&DensitySummary {
            min_code_lines: cfg.min_code_lines,
            per_source: per_source(df, "passes", true)?,
        }))
    }
}

/// What the assistant wrote in a chat row: the text of its turns (or the completion), and the
/// string arguments of its calls to `code_tools`.
pub fn assistant_parts(doc: &Document, code_tools: &[String]) -> (String, Vec<String>) {
    let v: Value = serde_json::from_str(&doc.text).unwrap_or(Value::Null);
    match Conversation::from_json(&v) {
        Ok(c) => {
            let turns = c.messages.iter().filter(|m| m.role == Role::Assistant);
            let text = turns
                .clone()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let code = turns
                .flat_map(|m| m.code_arguments(code_tools))
                .map(String::from)
                .collect();
            (text, code)
        }
        Err(_) => (
            v.get("completion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            Vec::new(),
        ),
    }
}

/// Luau code lines of a unit, counted with the parser: a Luau file's code lines, or the Luau
/// code blocks of docs units, Markdown files and chat answers (tags case-insensitive; untagged
/// blocks only if they parse), plus in chat rows the code lines of the arguments of calls to
/// `code_tools` (code by declaration, fenced or not).
pub fn luau_code_lines(doc: &Document, code_tools: &[String]) -> u32 {
    if let Some(l) = &doc.luau {
        return l.code_lines;
    }
    let blocks = |units: Vec<crate::ingest::docs::DocUnit>| -> u32 {
        units
            .iter()
            .flat_map(|u| &u.code_blocks)
            .filter(|b| b.is_luau)
            .map(|b| b.code_lines)
            .sum()
    };
    match doc.provenance.unit_kind {
        UnitKind::ChatExample => {
            let (text, code) = assistant_parts(doc, code_tools);
            crate::ingest::docs::split_markdown(&text, "answer", &crate::ingest::units::probe)
                .map(blocks)
                .unwrap_or(0)
                + code.iter().map(|c| crate::luau::code_lines(c)).sum::<u32>()
        }
        _ => doc
            .code_blocks
            .iter()
            .filter(|b| b.is_luau)
            .map(|b| b.code_lines)
            .sum(),
    }
}
