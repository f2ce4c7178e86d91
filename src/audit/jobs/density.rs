//! The `density` audit: Luau code lines per document, counted with the parser (not by fences
//! or raw lines); documents with fewer than `audit.min-code-lines` are dropped.

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{drop_document, per_source, summary_json, AuditContext, AuditJob, SourceCounts};
use crate::audit::run::{AuditError, AuditOutput};
use crate::core::{Document, UnitKind};

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
        let lines: Vec<u32> = docs.par_iter().map(luau_code_lines).collect();
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
        let summary = DensitySummary {
            min_code_lines: cfg.min_code_lines,
            per_source: per_source(&df, "passes", true)?,
        };
        Ok(AuditOutput {
            attributes: df,
            excluded,
            summary: summary_json(&summary),
        })
    }
}

/// The assistant side of a chat example (or the completion), for code counting.
fn assistant_text(doc: &Document) -> String {
    let v: Value = serde_json::from_str(&doc.text).unwrap_or(Value::Null);
    match v.get("messages").and_then(Value::as_array) {
        Some(ms) => ms
            .iter()
            .filter(|m| m["role"] == "assistant")
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        None => v
            .get("completion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

/// Luau code lines of a unit, counted with the parser: a Luau file's code lines, or the Luau
/// code blocks of docs units, Markdown files and chat answers (tags case-insensitive; untagged
/// blocks only if they parse).
pub fn luau_code_lines(doc: &Document) -> u32 {
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
        UnitKind::ChatExample => crate::ingest::docs::split_markdown(
            &assistant_text(doc),
            "answer",
            &crate::ingest::units::probe,
        )
        .map(blocks)
        .unwrap_or(0),
        _ => doc
            .code_blocks
            .iter()
            .filter(|b| b.is_luau)
            .map(|b| b.code_lines)
            .sum(),
    }
}
