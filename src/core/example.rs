//! The rendered training example: one record for what render makes, the snapshot freezes
//! (`examples.parquet`), export writes and train reads.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Attribution, Message, Tool};

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
    /// The turns; an assistant turn is last. Several exchanges, tool calls and tool results
    /// for conversations.
    pub messages: Vec<Message>,
    /// The tools the conversation offers (rendered into the prompt by the model's chat
    /// template); empty for plain chat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Inherited from the documents, deduplicated, in first-seen order (e.g. prose and code
    /// licenses of a docs section).
    pub licenses: Vec<String>,
    /// Inherited from the documents, deduplicated.
    pub attributions: Vec<Attribution>,
    /// Luau code lines of the assistant turns: their fenced Luau blocks and the code arguments
    /// of their tool calls (counted by `render::conversation_code_lines`).
    pub code_lines: u32,
    /// Tokens of all message contents, tool calls (name and arguments) and tool definitions.
    pub tokens: u32,
    /// How `tokens` was counted (tokenizer hash or the estimate).
    pub token_count_method: String,
}
