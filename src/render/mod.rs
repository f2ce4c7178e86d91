//! Rendering: turns curated documents into training examples (chat turns) with minijinja
//! templates, records where every example came from, and drops examples that break the
//! density or token-budget rules with a reason.
//!
//! This module never reads the store, never decides licenses, duplicates or contamination
//! (the caller's gate does), and never writes exports; it maps documents to examples.
//!
//! # Templates
//!
//! A template is two files in `dataset/templates/`: `<name>.j2` (minijinja) and a sidecar
//! `<name>.toml`. Users add templates by adding files; nothing is compiled in except the
//! built-ins ([`BUILTIN_TEMPLATES`], also shipped as files in the repository's
//! `dataset/templates/` and written into new workspaces by [`write_builtin_templates`]).
//!
//! The sidecar is strict (an unknown key is an error naming file and line):
//!
//! ```toml
//! task = "implement_module"            # what the examples teach: [a-z0-9_]+
//! description = "..."                  # optional, for people
//! roles = ["system", "user", "assistant"]   # the turns, in order; user required, assistant last
//! # output = "conversation"          # instead of `roles`: the template writes the JSON of a whole
//! #                                  # conversation (turns, tool calls, tools; see below)
//! for-each = "document"                # or "function": once per top-level Luau function
//!
//! [applies-to]                         # every condition must hold; empty list = any
//! source-kinds = ["git", "local"]      # git | docs | local | jsonl
//! unit-kinds = ["file"]                # required: file | doc_section | api_page | api_member | chat_example
//! languages = ["luau"]                 # luau | markdown | json | text
//! min-code-lines = 10                  # Luau code lines of the document (file, or its Luau code blocks)
//! ```
//!
//! **Turn convention.** The `.j2` defines one `{% block <role> %}...{% endblock %}` per
//! declared role. Each block is rendered on its own into one message (blank lines at either
//! end and trailing whitespace removed, the first line's indentation kept); messages
//! follow the order of `roles`. A `system` block that renders empty is left out; an empty
//! `user` or `assistant` turn excludes the example (`empty_turn`). Code outside blocks runs
//! first (so `{% set %}` there is visible in every block) and its output is ignored. A block
//! named like a role the sidecar does not declare is an error.
//!
//! **Conversation templates** (`output = "conversation"`) write one JSON object
//! `{"messages": [...], "tools": [...]}` instead (OpenAI's shapes, read by
//! [`crate::core::Conversation::from_json`]): several exchanges, tool calls and tool results.
//! Each content is trimmed like a turn; the conversation needs a user turn and must end with an
//! assistant turn.
//!
//! **Strict variables.** A missing field is an error naming the template and line (the
//! example is excluded with reason `template_error` and that message). Test optional fields
//! with `{% if doc.attribution %}`. A template that does not fit a document calls
//! `{{ skip("why") }}` (reason `template_skipped`). Filters: see
//! [`template::new_environment`].
//!
//! **Context.** `doc` ([`context::DocView`]): `id`, `source_id`, `source_kind`, `unit_kind`,
//! `unit_name`, `path`, `url`, `commit`, `file_name`, `module_name`, `title`, `heading`,
//! `language`, `text`, `body` (text without a leading Markdown heading), `prose` (body without
//! code fences), `code_lines`, `licenses`, `attribution` (`title`, `url`, `license`, `author`
//! or none), `luau` (`parse_ok`, `code_lines`, `comment_lines`, `blank_lines` or none),
//! `description` (top-of-file comments of a Luau file), `code_without_comments`, `functions`,
//! `code_blocks` and `luau_blocks` (`lang`, `is_luau`, `code`, `code_lines`), `row` (an
//! imported chat row as JSON: `messages` or `prompt`/`completion`; none otherwise).
//! `function` ([`context::FunctionView`], for `for-each = "function"`): `name`, `kind`,
//! `line_start`, `line_end`, `code`, `signature`, `body`, `body_indent`, `doc_comment`,
//! `code_lines`, `header_line_end`, `before` (the file through the header), `after` (from the
//! closing `end`).
//! `template`: `name`, `task`.

pub mod context;
pub mod phrase;
#[allow(clippy::module_inception)]
pub mod render;
pub mod template;

use std::path::{Path, PathBuf};

pub use context::{DocView, FunctionItem, FunctionView, Language};
pub use render::{
    render_examples, RenderOptions, RenderOutput, TokenCounter, DEFAULT_MAX_TOKENS,
    DEFAULT_MIN_CODE_LINES,
};
pub use template::{Registry, Template, TemplateSpec, TurnError};

use crate::workspace::ConfigError;

/// Errors loading templates or a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template or sidecar that is not what it should be (names file and line).
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("template folder {dir} does not exist; create it and add templates, or restore the built-ins with `vcurate init` into a fresh workspace")]
    NoTemplateDir { dir: PathBuf },
    #[error("cannot read tokenizer {path}: {message}; pass a Hugging Face tokenizer.json (the file next to the model weights), or leave the tokenizer out to use the character estimate")]
    Tokenizer { path: PathBuf, message: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

macro_rules! builtin {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../dataset/templates/", $name, ".j2")),
            include_str!(concat!("../../dataset/templates/", $name, ".toml")),
        )
    };
}

/// The built-in templates, embedded from the repository's `dataset/templates/`:
/// (name, `.j2` text, sidecar text).
pub const BUILTIN_TEMPLATES: &[(&str, &str, &str)] = &[
    builtin!("api-usage"),
    builtin!("chat-passthrough"),
    builtin!("complete-function"),
    builtin!("docs-how-do-i"),
    builtin!("explain-code"),
    builtin!("implement-module"),
];

/// The `README.md` written next to the built-in templates: the conventions, for people who
/// write templates.
pub const TEMPLATES_README: &str = include_str!("../../dataset/templates/README.md");

/// Writes the built-in templates (and the README) into `dir` (created if needed). A template of which either
/// file already exists is left alone, so a user's edits (or deliberate removal of one half)
/// survive; returns the paths written.
pub fn write_builtin_templates(dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
    fs_err::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, j2, toml) in BUILTIN_TEMPLATES {
        let pair = [("j2", j2), ("toml", toml)]
            .map(|(ext, text)| (dir.join(format!("{name}.{ext}")), text));
        if pair.iter().any(|(path, _)| path.exists()) {
            continue;
        }
        for (path, text) in pair {
            crate::core::fs::write_atomic(&path, text.as_bytes())
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            written.push(path);
        }
    }
    let readme = dir.join("README.md");
    if !readme.exists() {
        crate::core::fs::write_atomic(&readme, TEMPLATES_README.as_bytes())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", readme.display())))?;
        written.push(readme);
    }
    Ok(written)
}
