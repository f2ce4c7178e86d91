//! The rendered training example: one record for what render makes, the snapshot freezes
//! (`examples.parquet`), export writes and train reads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Attribution, Message};

/// One rendered training example: chat turns plus where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Example {
    /// 32 hex chars of blake3 over the template hash, the document ids and the messages: the
    /// same inputs give the same id, any change gives another.
    pub id: String,
    /// Template name (`implement-module`).
    pub template: String,
    /// The template's content hash (sha256 of `.j2`, NUL, sidecar).
    pub template_hash: String,
    /// The template's task kind (`implement_module`).
    pub task: String,
    /// The documents the example was rendered from.
    pub doc_ids: Vec<String>,
    /// For `for-each = "function"` templates: the function the example is about.
    pub item: Option<String>,
    /// The turns; the assistant turn is last.
    pub messages: Vec<Message>,
    /// Inherited from the documents, deduplicated, in first-seen order (e.g. prose and code
    /// licenses of a docs section).
    pub licenses: Vec<String>,
    /// Inherited from the documents, deduplicated.
    pub attributions: Vec<Attribution>,
    /// Luau code lines in the assistant turn (counted by `render::assistant_code_lines`).
    pub code_lines: u32,
    /// Tokens of all message contents.
    pub tokens: u32,
    /// How `tokens` was counted (tokenizer hash or the estimate).
    pub token_count_method: String,
}
