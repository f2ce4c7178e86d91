//! The bottom layer: records shared by stages (document, provenance, message, exclusion, eval
//! task), ids,
//! config parsing with file:line errors, atomic file writes, hashing and RNG. Nothing here
//! imports a stage.

pub mod config;
pub mod eval_task;
pub mod example;
pub mod exclusion;
pub mod fs;
pub mod hash;
pub mod id;
pub mod message;
pub mod opt_out;
pub mod record;
pub mod training;

pub use eval_task::EvalTask;
pub use example::Example;
pub use exclusion::{Exclusion, Stage};
pub use id::{document_id, sha256_hex};
pub use message::{
    conversation_text, ChatCounts, Conversation, FunctionCall, FunctionSpec, Message, Role, Tool,
    ToolCall, ToolKind,
};
pub use record::*;
