//! The one record of anything dropped anywhere in the pipeline: an audit's dropped document, a
//! render gate's or template's drop, a contaminated example, an export's refused example. Every
//! excluded table (`excluded.parquet` of the audits and of a snapshot, the render drops, the
//! export's `refused.jsonl`) has this shape, so "why is X not in the export?" is one query.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which pipeline stage dropped something.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Audit,
    /// `snapshot create` itself: documents an opt-out entry leaves out (step `opt-out`).
    Snapshot,
    Render,
    Export,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Audit => "audit",
            Stage::Snapshot => "snapshot",
            Stage::Render => "render",
            Stage::Export => "export",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "audit" => Some(Stage::Audit),
            "snapshot" => Some(Stage::Snapshot),
            "render" => Some(Stage::Render),
            "export" => Some(Stage::Export),
            _ => None,
        }
    }
}

/// Something that did not go further, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub stage: Stage,
    /// The step inside the stage: an audit's name (`license`, `near_dedup`, ...), or render's
    /// `gate`, `render`, `code_density`, `token_budget`, `contamination`, or export's profile.
    pub step: String,
    /// Machine-readable reason (`not_allowed`, `near_duplicate`, `contaminated`, ...).
    pub reason: String,
    /// For people: numbers, the matched text, the template error.
    pub detail: String,
    /// The documents concerned (one for an audit's drop; all of an example's for later stages).
    pub document_ids: Vec<String>,
    /// The example concerned, once there is one.
    pub example_id: Option<String>,
    /// The template that rendered (or failed to render) the example.
    pub template: Option<String>,
    /// The function, for `for-each = "function"` templates.
    pub item: Option<String>,
}

impl Exclusion {
    /// An audit's drop of one document.
    pub fn document(
        stage: Stage,
        step: impl Into<String>,
        document_id: impl Into<String>,
        reason: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Exclusion {
            stage,
            step: step.into(),
            reason: reason.into(),
            detail: detail.into(),
            document_ids: vec![document_id.into()],
            example_id: None,
            template: None,
            item: None,
        }
    }
}
