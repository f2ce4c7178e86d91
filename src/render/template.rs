//! The template registry: `dataset/templates/<name>.j2` plus its sidecar `<name>.toml`, loaded
//! into one minijinja environment with strict undefined variables, and the turn convention
//! (one `{% block <role> %}` per declared role) that turns a template into chat messages.
//!
//! This module compiles and validates templates and renders one template against one context.
//! It must never choose documents (that is [`crate::render::render_examples`]) and never
//! evaluates gates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::core::{sha256_hex, Conversation, Message, Role, SourceKind, UnitKind};
use crate::render::context::Language;
use crate::render::phrase;
use crate::render::RenderError;
use crate::workspace::{line_of, parse_toml, ConfigError};

/// The roles a template's turn blocks can be (`tool` turns come only from conversation
/// templates).
const BLOCK_ROLES: [Role; 3] = [Role::System, Role::User, Role::Assistant];

/// What a template is rendered once for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForEach {
    /// Once per document (the context has `doc`).
    #[default]
    Document,
    /// Once per top-level function of a Luau document (the context has `doc` and `function`).
    Function,
}

/// How a template's output becomes messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// One `{% block <role> %}` per declared role, one message each (the turn convention).
    #[default]
    Turns,
    /// The whole output is one JSON object `{"messages": [...], "tools": [...]}` in the shapes
    /// of imported chat rows (OpenAI's, read by [`Conversation::from_json`]): any number of
    /// exchanges, tool calls and tool results. Build it with `tojson`.
    Conversation,
}

/// Which documents a template applies to. Every listed condition must hold; an empty list
/// means "any".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AppliesTo {
    #[serde(default)]
    pub source_kinds: Vec<SourceKind>,
    /// Required and non-empty: a template written for files rarely makes sense for docs
    /// sections, so the author must say.
    pub unit_kinds: Vec<UnitKind>,
    #[serde(default)]
    pub languages: Vec<Language>,
    /// Luau code lines the document must have (the file's, or its Luau code blocks').
    #[serde(default)]
    pub min_code_lines: u32,
}

/// The sidecar `<name>.toml` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSpec {
    task: toml::Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    roles: Option<toml::Spanned<Vec<Role>>>,
    #[serde(default)]
    output: Option<toml::Spanned<Output>>,
    #[serde(default)]
    for_each: ForEach,
    applies_to: toml::Spanned<AppliesTo>,
}

/// A template's declaration (its sidecar), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSpec {
    /// The task the examples teach (`implement_module`, `complete_function`, ...): lowercase
    /// letters, digits and `_`.
    pub task: String,
    pub description: Option<String>,
    /// The turns, in order: `user` and `assistant` required, `assistant` last, `system`
    /// (optional) first. Empty for `output = "conversation"`.
    pub roles: Vec<Role>,
    pub output: Output,
    pub for_each: ForEach,
    pub applies_to: AppliesTo,
}

impl TemplateSpec {
    /// Parses and validates a sidecar; errors name `path` and the line.
    pub fn parse(path: &Path, text: &str) -> Result<TemplateSpec, ConfigError> {
        let raw: RawSpec = parse_toml(path, text)?;
        let at = |span: std::ops::Range<usize>| Some(line_of(text, span.start));
        let task = raw.task.get_ref();
        if task.is_empty()
            || !task
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(ConfigError::new(
                path,
                at(raw.task.span()),
                format!("`task = \"{task}\"`: use lowercase letters, digits and `_` (e.g. `implement_module`)"),
            ));
        }
        let output = raw.output.as_ref().map_or(Output::Turns, |o| *o.get_ref());
        let raw_roles = match (&raw.roles, output) {
            (None, Output::Turns) => {
                return Err(ConfigError::new(
                    path,
                    None,
                    "missing `roles`: list the turns the template's blocks render (e.g. [\"system\", \"user\", \"assistant\"]), or set `output = \"conversation\"`",
                ))
            }
            (Some(r), Output::Conversation) => {
                return Err(ConfigError::new(
                    path,
                    at(r.span()),
                    "`roles` is for `output = \"turns\"`; a conversation template renders its messages as JSON, so remove `roles`",
                ))
            }
            (None, Output::Conversation) => None,
            (Some(r), Output::Turns) => Some(r),
        };
        let roles = raw_roles.map(|r| r.get_ref().clone()).unwrap_or_default();
        let roles_span = raw_roles.map_or(0..0, |r| r.span());
        let role_error =
            |msg: &str| ConfigError::new(path, at(roles_span.clone()), msg.to_string());
        let mut sorted = roles.clone();
        sorted.sort();
        sorted.dedup();
        if roles.contains(&Role::Tool) {
            return Err(role_error(
                "a `tool` turn cannot be a block; tool calls and results come from `output = \"conversation\"` templates",
            ));
        }
        if output == Output::Conversation {
            // No roles to check.
        } else if sorted.len() != roles.len() {
            return Err(role_error(
                "`roles` lists a role twice; each role is one turn",
            ));
        } else if !roles.contains(&Role::User) || roles.last() != Some(&Role::Assistant) {
            return Err(role_error(
                "`roles` must contain \"user\" and end with \"assistant\" (e.g. [\"system\", \"user\", \"assistant\"])",
            ));
        } else if roles.contains(&Role::System) && roles[0] != Role::System {
            return Err(role_error("\"system\" must be the first role"));
        }
        if raw.applies_to.get_ref().unit_kinds.is_empty() {
            return Err(ConfigError::new(
                path,
                at(raw.applies_to.span()),
                "`applies-to.unit-kinds` is empty; name the unit kinds this template is written for (file, doc_section, api_page, api_member, chat_example)",
            ));
        }
        Ok(TemplateSpec {
            task: task.clone(),
            description: raw.description,
            roles,
            output,
            for_each: raw.for_each,
            applies_to: raw.applies_to.into_inner(),
        })
    }
}

/// One loaded template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The file stem: `implement-module` for `implement-module.j2`.
    pub name: String,
    pub spec: TemplateSpec,
    /// The `.j2` text.
    pub source: String,
    /// The sidecar text.
    pub sidecar: String,
    /// sha256 (hex) of the `.j2` text, a NUL byte and the sidecar text: a change to either
    /// changes the examples' ids and the snapshot.
    pub hash: String,
    /// Where the `.j2` was read from (`<builtin>/<name>.j2` for embedded templates).
    pub path: PathBuf,
}

impl Template {
    /// The name the environment knows the template by (and errors show).
    pub fn file_name(&self) -> String {
        format!("{}.j2", self.name)
    }
}

/// The content hash recorded for a template (see [`Template::hash`]).
pub fn template_hash(source: &str, sidecar: &str) -> String {
    sha256_hex(format!("{source}\0{sidecar}").as_bytes())
}

/// All templates of a folder (or the built-ins) compiled into one environment.
#[derive(Debug)]
pub struct Registry {
    env: Environment<'static>,
    templates: Vec<Template>,
}

impl Registry {
    /// Loads `dir/*.j2` with their sidecars. Every `.j2` needs a `<name>.toml` and every
    /// `.toml` a `<name>.j2`; other files (a README) are ignored. Templates are ordered by name.
    pub fn load_dir(dir: &Path) -> Result<Registry, RenderError> {
        if !dir.is_dir() {
            return Err(RenderError::NoTemplateDir {
                dir: dir.to_path_buf(),
            });
        }
        let mut stems: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        for entry in fs_err::read_dir(dir)? {
            let path = entry?.path();
            if !path.is_file() {
                continue;
            }
            let (Some(stem), Some(ext)) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            let e = stems.entry(stem.to_string()).or_default();
            match ext {
                "j2" => e.0 = true,
                "toml" => e.1 = true,
                _ => {}
            }
        }
        let mut files = Vec::new();
        for (stem, (j2, toml)) in stems {
            let j2_path = dir.join(format!("{stem}.j2"));
            let toml_path = dir.join(format!("{stem}.toml"));
            match (j2, toml) {
                (true, true) => {
                    let source = fs_err::read_to_string(&j2_path)?;
                    let sidecar = fs_err::read_to_string(&toml_path)?;
                    files.push((stem, source, sidecar, j2_path, toml_path));
                }
                (true, false) => {
                    return Err(ConfigError::new(
                        &j2_path,
                        None,
                        format!("template has no sidecar; add {} declaring `task`, `roles` and `[applies-to]`", toml_path.display()),
                    )
                    .into())
                }
                (false, true) => {
                    return Err(ConfigError::new(
                        &toml_path,
                        None,
                        format!("sidecar without a template; add {} or remove this file", j2_path.display()),
                    )
                    .into())
                }
                (false, false) => {}
            }
        }
        Registry::from_files(files)
    }

    /// The templates embedded in the binary ([`crate::render::BUILTIN_TEMPLATES`]).
    pub fn builtin() -> Result<Registry, RenderError> {
        let base = Path::new("<builtin>");
        Registry::from_files(
            crate::render::BUILTIN_TEMPLATES
                .iter()
                .map(|(name, j2, toml)| {
                    (
                        name.to_string(),
                        j2.to_string(),
                        toml.to_string(),
                        base.join(format!("{name}.j2")),
                        base.join(format!("{name}.toml")),
                    )
                })
                .collect(),
        )
    }

    /// (name, j2 text, sidecar text, j2 path, sidecar path), in any order.
    fn from_files(
        mut files: Vec<(String, String, String, PathBuf, PathBuf)>,
    ) -> Result<Registry, RenderError> {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut env = new_environment();
        let mut templates = Vec::new();
        for (name, source, sidecar, j2_path, toml_path) in files {
            let spec = TemplateSpec::parse(&toml_path, &sidecar)?;
            let file_name = format!("{name}.j2");
            env.add_template_owned(file_name.clone(), source.clone())
                .map_err(|e| ConfigError::new(&j2_path, e.line(), describe(&e, &source)))?;
            check_blocks(&j2_path, &source, &spec.roles)?;
            templates.push(Template {
                hash: template_hash(&source, &sidecar),
                name,
                spec,
                source,
                sidecar,
                path: j2_path,
            });
        }
        Ok(Registry { env, templates })
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.name == name)
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Renders `template` against `ctx` into a conversation: its role blocks, one message
    /// each in the declared order (an empty `system` turn is left out; an empty `user` or
    /// `assistant` turn is an error), or, for `output = "conversation"`, the JSON it writes
    /// (see [`conversation`]).
    pub fn render_turns(&self, template: &Template, ctx: Value) -> Result<Conversation, TurnError> {
        let tmpl = self
            .env
            .get_template(&template.file_name())
            .map_err(|e| TurnError::Template(describe(&e, &template.source)))?;
        match template.spec.output {
            Output::Turns => {
                turns(&tmpl, &template.source, &template.spec.roles, ctx).map(|messages| {
                    Conversation {
                        messages,
                        tools: Vec::new(),
                    }
                })
            }
            Output::Conversation => conversation(&tmpl, &template.source, ctx),
        }
    }
}

/// A conversation template's output: one JSON object read by [`Conversation::from_json`]
/// (a malformed call is a template error naming the field), each content trimmed as turns are
/// ([`trim_turn`]). Empty `system` turns are left out; a conversation without a `user` turn or
/// that does not end with an assistant turn is an error, as is an empty `user` turn or a last
/// assistant turn with neither content nor tool calls.
fn conversation(
    tmpl: &minijinja::Template<'_, '_>,
    source: &str,
    ctx: Value,
) -> Result<Conversation, TurnError> {
    let text = tmpl.render(ctx).map_err(|e| match skip_reason(&e) {
        Some(reason) => TurnError::Skip(reason),
        None => TurnError::Template(describe(&e, source)),
    })?;
    let name = tmpl.name();
    let bad = |why: String| {
        TurnError::Template(format!(
            "template {name}: the output is not a conversation: {why}; a conversation template writes one JSON object {{\"messages\": [...], \"tools\": [...]}} (build it with `tojson`)"
        ))
    };
    let value: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| bad(format!("not JSON ({e})")))?;
    let mut c = Conversation::from_json(&value).map_err(bad)?;
    for m in &mut c.messages {
        m.content = trim_turn(&m.content);
    }
    c.messages
        .retain(|m| !(m.role == Role::System && m.content.is_empty()));
    if !c.messages.iter().any(|m| m.role == Role::User) {
        return Err(bad("it has no user turn".into()));
    }
    match c.messages.last() {
        Some(m) if m.role == Role::Assistant => {
            if m.content.is_empty() && m.tool_calls.is_empty() {
                return Err(TurnError::EmptyTurn(Role::Assistant));
            }
        }
        _ => return Err(bad("it does not end with an assistant turn".into())),
    }
    if c.messages
        .iter()
        .any(|m| m.role == Role::User && m.content.is_empty())
    {
        return Err(TurnError::EmptyTurn(Role::User));
    }
    Ok(c)
}

fn turns(
    tmpl: &minijinja::Template<'_, '_>,
    source: &str,
    roles: &[Role],
    ctx: Value,
) -> Result<Vec<Message>, TurnError> {
    let err = |e: Error| match skip_reason(&e) {
        Some(reason) => TurnError::Skip(reason),
        None => TurnError::Template(describe(&e, source)),
    };
    // Evaluating the whole template first runs its top-level code (`set`, imports) so blocks
    // see it, and surfaces a `skip()` anywhere in the template.
    let mut captured = tmpl.render_captured(ctx).map_err(err)?;
    let mut out = Vec::new();
    for &role in roles {
        let content = captured
            .with_state_mut(|state| state.render_block(role.as_str()))
            .map_err(err)?;
        let content = trim_turn(&content);
        if content.is_empty() {
            if role == Role::System {
                continue;
            }
            return Err(TurnError::EmptyTurn(role));
        }
        out.push(Message::new(role, content));
    }
    Ok(out)
}

/// A turn without blank lines at either end or trailing whitespace. The first line keeps its
/// indentation: a completion that starts inside a function body must stay indented.
pub(crate) fn trim_turn(s: &str) -> String {
    let s = s.trim_end();
    let mut start = 0;
    for line in s.split_inclusive('\n') {
        if !line.trim().is_empty() {
            break;
        }
        start += line.len();
    }
    s[start..].to_string()
}

/// Why one rendering produced no messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// The template called `skip(reason)`: it does not apply to this context.
    #[error("template skipped: {0}")]
    Skip(String),
    /// A template error (undefined variable, bad filter argument, ...), naming template and line.
    #[error("{0}")]
    Template(String),
    /// A `user` or `assistant` block rendered to nothing but whitespace.
    #[error("the `{}` turn rendered empty; a template must produce every turn it declares except `system`", .0.as_str())]
    EmptyTurn(Role),
}

/// What [`render_source`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceOutput {
    /// The template defines no role blocks: its plain output.
    Text(String),
    /// The turns of the role blocks it defines, in role order.
    Turns(Vec<Message>),
    /// What a conversation template wrote ([`render_conversation_source`]).
    Conversation(Conversation),
}

/// Renders a template source outside a registry, with the production environment (strict
/// undefined, the same filters and functions). Role blocks present in the source are rendered
/// as turns (every role whose block exists, in system/user/assistant order); a source without
/// role blocks renders as plain text. Used by the data-driven template tests and for checking a
/// template before adding it.
pub fn render_source(name: &str, source: &str, ctx: Value) -> Result<SourceOutput, TurnError> {
    let env = source_environment(name, source)?;
    let tmpl = env
        .get_template(name)
        .map_err(|e| TurnError::Template(describe(&e, source)))?;
    let present: Vec<Role> = BLOCK_ROLES
        .into_iter()
        .filter(|r| block_lines(source).iter().any(|(b, _)| b == r.as_str()))
        .collect();
    if present.is_empty() {
        return tmpl
            .render(ctx)
            .map(SourceOutput::Text)
            .map_err(|e| match skip_reason(&e) {
                Some(r) => TurnError::Skip(r),
                None => TurnError::Template(describe(&e, source)),
            });
    }
    turns(&tmpl, source, &present, ctx).map(SourceOutput::Turns)
}

/// Renders a conversation template (`output = "conversation"`) outside a registry, with the
/// production environment, as [`Registry::render_turns`] does.
pub fn render_conversation_source(
    name: &str,
    source: &str,
    ctx: Value,
) -> Result<SourceOutput, TurnError> {
    let env = source_environment(name, source)?;
    let tmpl = env
        .get_template(name)
        .map_err(|e| TurnError::Template(describe(&e, source)))?;
    conversation(&tmpl, source, ctx).map(SourceOutput::Conversation)
}

/// The production environment holding one template source.
fn source_environment(name: &str, source: &str) -> Result<Environment<'static>, TurnError> {
    let mut env = new_environment();
    env.add_template_owned(name.to_string(), source.to_string())
        .map_err(|e| TurnError::Template(describe(&e, source)))?;
    Ok(env)
}

/// `{% block NAME %}` occurrences: (name, 1-based line).
fn block_lines(source: &str) -> Vec<(String, usize)> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"\{%[-+]?\s*block\s+([A-Za-z_][A-Za-z0-9_]*)").expect("valid regex")
    });
    re.captures_iter(source)
        .map(|c| {
            let m = c.get(1).expect("group");
            (m.as_str().to_string(), line_of(source, m.start()))
        })
        .collect()
}

/// Every declared role has a block, and no role block is left undeclared (it would silently
/// never be rendered).
fn check_blocks(path: &Path, source: &str, roles: &[Role]) -> Result<(), ConfigError> {
    let blocks = block_lines(source);
    for role in roles {
        if !blocks.iter().any(|(b, _)| b == role.as_str()) {
            return Err(ConfigError::new(
                path,
                None,
                format!(
                    "the sidecar declares the `{0}` role but the template has no `{{% block {0} %}}...{{% endblock %}}`",
                    role.as_str()
                ),
            ));
        }
    }
    for (b, line) in &blocks {
        if let Some(role) = Role::ALL.iter().find(|r| r.as_str() == b) {
            if roles.is_empty() {
                return Err(ConfigError::new(
                    path,
                    Some(*line),
                    format!("block `{b}`: a conversation template (`output = \"conversation\"`) writes JSON, not role blocks; remove the block or use `roles`"),
                ));
            }
            if !roles.contains(role) {
                return Err(ConfigError::new(
                    path,
                    Some(*line),
                    format!("block `{b}` is a role the sidecar does not declare; add \"{b}\" to `roles` or rename the block"),
                ));
            }
        }
    }
    Ok(())
}

/// A template error as one line: template, line, what, and the offending source.
pub fn describe(err: &Error, source: &str) -> String {
    let name = err.name().unwrap_or("<template>");
    let line = err
        .line()
        .map(|l| format!(", line {l}"))
        .unwrap_or_default();
    let what = match err.detail() {
        Some(d) => format!("{}: {d}", err.kind()),
        None => err.kind().to_string(),
    };
    let snippet = err
        .range()
        .and_then(|r| source.get(r))
        .filter(|s| !s.is_empty() && s.len() <= 120 && !what.contains(*s))
        .map(|s| format!(" at `{s}`"))
        .unwrap_or_default();
    let hint = if err.kind() == ErrorKind::UndefinedError {
        "; templates see `doc` (and `function` in for-each = \"function\" templates) with the fields listed in the vcurate::render docs; test optional fields with `if` or `is defined`"
    } else {
        ""
    };
    format!("template {name}{line}: {what}{snippet}{hint}")
}

/// A serializable value as a template value.
pub fn to_value<T: Serialize>(value: &T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// The marker error `skip()` raises.
#[derive(Debug)]
struct SkipSignal(String);

impl std::fmt::Display for SkipSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skip: {}", self.0)
    }
}

impl std::error::Error for SkipSignal {}

fn skip_reason(err: &Error) -> Option<String> {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(skip) = s.downcast_ref::<SkipSignal>() {
            return Some(skip.0.clone());
        }
        source = s.source();
    }
    None
}

/// The environment every template runs in: strict undefined variables, no auto-escaping (the
/// output is training text, not HTML), `trim_blocks`/`lstrip_blocks` so tags on their own lines
/// leave no blank lines, and vcurate's filters, tests and functions:
///
/// - `skip(reason)`: the template does not apply to this context; the example is excluded
///   with reason `template_skipped` and the given detail.
/// - `x | fence(lang)`: `x` in a Markdown code fence long enough for its contents.
/// - `x | one_line`: whitespace runs collapsed to one space, trimmed.
/// - `x | lower_first`: first letter lowercased unless the first word is an acronym or
///   CamelCase (`Client to server` -> `client to server`, `DataStore keys` unchanged).
/// - `x | clean_docs`: Roblox docs markup made plain outside code fences: API links
///   `` `Class.RemoteEvent:FireServer()|FireServer()` `` -> `` `FireServer()` ``,
///   `` `Class.Player` `` -> `` `Player` `` (`Enum.` kept), `<Alert>` tag lines dropped.
/// - `x | reject_lines(prefix, ...)`: drops lines starting with any prefix (after indentation).
/// - `x is imperative`: the first word is a common imperative verb ("Create", "Keep").
/// - `docs_question(heading, title)`: the question a person would ask to get a docs section
///   as the answer, e.g. "I'm creating a timed bridge in Roblox. How do I keep the bridge from
///   restarting?" (see [`crate::render::phrase`]).
pub fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.add_function("skip", |reason: String| -> Result<Value, Error> {
        Err(
            Error::new(ErrorKind::InvalidOperation, format!("skipped: {reason}"))
                .with_source(SkipSignal(reason)),
        )
    });
    env.add_filter("fence", |code: String, lang: Option<String>| {
        fence(&code, lang.as_deref().unwrap_or(""))
    });
    env.add_filter("one_line", |s: String| {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    });
    env.add_filter("lower_first", |s: String| phrase::lower_first(&s));
    env.add_filter("clean_docs", |s: String| clean_docs(&s));
    env.add_filter(
        "reject_lines",
        |s: String, prefixes: minijinja::value::Rest<String>| {
            s.split('\n')
                .filter(|line| {
                    let t = line.trim_start();
                    !prefixes.iter().any(|p| t.starts_with(p.as_str()))
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    env.add_test("imperative", |s: String| phrase::is_imperative(&s));
    env.add_function("docs_question", |heading: String, title: String| {
        phrase::docs_question(&heading, &title)
    });
    env
}

fn fence(code: &str, lang: &str) -> String {
    let longest = code
        .lines()
        .map(|l| l.trim_start().bytes().take_while(|&b| b == b'`').count())
        .max()
        .unwrap_or(0);
    let ticks = "`".repeat(longest.max(2) + 1);
    let body = code.trim_end_matches('\n');
    format!("{ticks}{lang}\n{body}\n{ticks}")
}

fn clean_docs(s: &str) -> String {
    static LINK: OnceLock<Regex> = OnceLock::new();
    static ALERT: OnceLock<Regex> = OnceLock::new();
    let link = LINK.get_or_init(|| {
        Regex::new(r"`(Class|Datatype|Enum|Global|Library)\.([^`|\s]+)(?:\|([^`]+))?`")
            .expect("valid regex")
    });
    let alert = ALERT.get_or_init(|| Regex::new(r"^\s*</?Alert\b[^>]*>\s*$").expect("valid regex"));
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for line in s.split('\n') {
        let t = line.trim_start();
        if let Some(f) = &fence {
            if t.starts_with(f.as_str())
                && t.trim_end()
                    .chars()
                    .all(|c| c == f.chars().next().unwrap_or('`'))
            {
                fence = None;
            }
            out.push(line.to_string());
            continue;
        }
        let marker: String = t.chars().take_while(|&c| c == '`' || c == '~').collect();
        if marker.len() >= 3
            && marker
                .chars()
                .all(|c| c == marker.chars().next().unwrap_or('`'))
        {
            fence = Some(marker);
            out.push(line.to_string());
            continue;
        }
        if alert.is_match(line) {
            continue;
        }
        let replaced = link.replace_all(line, |c: &regex::Captures<'_>| {
            let label = match c.get(3) {
                Some(l) => l.as_str().to_string(),
                None => {
                    let (kind, name) = (&c[1], &c[2]);
                    match kind {
                        "Enum" => format!("Enum.{name}"),
                        // `Global.LuaGlobals.print()` -> `print()`
                        "Global" => name.split_once('.').map_or(name, |(_, n)| n).to_string(),
                        _ => name.to_string(),
                    }
                }
            };
            format!("`{label}`")
        });
        out.push(replaced.into_owned());
    }
    crate::render::context::collapse_blank_lines(&out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const J2: &str = "{% block system %}sys{% endblock %}\n{% block user %}Q {{ doc.x }}{% endblock %}\n{% block assistant %}A{% endblock %}\n";
    const TOML: &str = "task = \"t\"\nroles = [\"system\", \"user\", \"assistant\"]\n[applies-to]\nunit-kinds = [\"file\"]\n";

    fn write(dir: &Path, name: &str, text: &str) {
        fs_err::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn loads_a_folder_and_renders_turns() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.j2", J2);
        write(dir.path(), "a.toml", TOML);
        write(dir.path(), "README.md", "not a template");
        let reg = Registry::load_dir(dir.path()).unwrap();
        assert_eq!(reg.templates().len(), 1);
        let t = reg.get("a").unwrap();
        assert_eq!(t.hash, template_hash(J2, TOML));
        let msgs = reg
            .render_turns(
                t,
                minijinja::context! { doc => minijinja::context! { x => 1 } },
            )
            .unwrap()
            .messages;
        let got: Vec<(Role, &str)> = msgs.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Role::System, "sys"),
                (Role::User, "Q 1"),
                (Role::Assistant, "A")
            ]
        );
    }

    #[test]
    fn bad_sidecar_key_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.j2", J2);
        write(dir.path(), "a.toml", &format!("{TOML}min-code-line = 3\n"));
        let err = Registry::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a.toml:5"), "{err}");
        assert!(err.contains("min-code-line"), "{err}");
    }

    #[test]
    fn sidecar_rules_are_enforced_with_lines() {
        let p = Path::new("x.toml");
        let cases = [
            ("task = \"Bad Task\"\nroles = [\"user\", \"assistant\"]\n[applies-to]\nunit-kinds = [\"file\"]\n", 1, "lowercase"),
            ("task = \"t\"\nroles = [\"assistant\", \"user\"]\n[applies-to]\nunit-kinds = [\"file\"]\n", 2, "end with"),
            ("task = \"t\"\nroles = [\"user\", \"system\", \"assistant\"]\n[applies-to]\nunit-kinds = [\"file\"]\n", 2, "first role"),
            ("task = \"t\"\nroles = [\"user\", \"user\", \"assistant\"]\n[applies-to]\nunit-kinds = [\"file\"]\n", 2, "twice"),
            ("task = \"t\"\nroles = [\"user\", \"assistant\"]\n[applies-to]\nunit-kinds = []\n", 3, "unit-kinds"),
            ("task = \"t\"\nroles = [\"user\", \"assistant\"]\n[applies-to]\nunit-kinds = [\"function\"]\n", 4, "function"),
            ("task = \"t\"\nroles = [\"user\", \"assistant\"]\nfor-each = \"line\"\n[applies-to]\nunit-kinds = [\"file\"]\n", 3, "line"),
        ];
        for (text, line, needle) in cases {
            let e = TemplateSpec::parse(p, text).unwrap_err();
            assert_eq!(e.line, Some(line), "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn template_and_sidecar_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.j2", J2);
        write(dir.path(), "a.toml", &TOML.replace("\"system\", ", ""));
        let err = Registry::load_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("a.j2:1") && err.contains("block `system`"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.j2", "{% block user %}x{% endblock %}");
        write(dir.path(), "a.toml", TOML);
        let err = Registry::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no `{% block system %}"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.j2", J2);
        let err = Registry::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no sidecar"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.toml", TOML);
        let err = Registry::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sidecar without a template"), "{err}");
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.j2", "{% block system %}{% endblock %}\n{% block user %}\n{{ doc.x }\n{% endblock %}{% block assistant %}{% endblock %}");
        write(dir.path(), "a.toml", TOML);
        let err = Registry::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a.j2:3"), "{err}");
    }

    #[test]
    fn missing_variable_names_template_and_line() {
        let reg = {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), "a.j2", J2);
            write(dir.path(), "a.toml", TOML);
            Registry::load_dir(dir.path()).unwrap()
        };
        let err = reg
            .render_turns(
                reg.get("a").unwrap(),
                minijinja::context! { doc => minijinja::context! { y => 1 } },
            )
            .unwrap_err();
        let TurnError::Template(msg) = err else {
            panic!("{err:?}")
        };
        assert!(
            msg.contains("template a.j2, line 2") && msg.contains("`doc.x`"),
            "{msg}"
        );
    }

    #[test]
    fn skip_and_empty_turns() {
        let skip = "{% block user %}{{ skip('nothing to ask') }}{% endblock %}{% block assistant %}a{% endblock %}";
        assert_eq!(
            render_source("s.j2", skip, Value::UNDEFINED),
            Err(TurnError::Skip("nothing to ask".into()))
        );
        let empty = "{% block system %} {% endblock %}{% block user %}q{% endblock %}{% block assistant %}\n{% endblock %}";
        assert_eq!(
            render_source("e.j2", empty, Value::UNDEFINED),
            Err(TurnError::EmptyTurn(Role::Assistant))
        );
        let no_system = "{% block system %}  {% endblock %}{% block user %}q{% endblock %}{% block assistant %}a{% endblock %}";
        let SourceOutput::Turns(t) = render_source("n.j2", no_system, Value::UNDEFINED).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            t.iter().map(|m| m.role).collect::<Vec<_>>(),
            vec![Role::User, Role::Assistant]
        );
    }

    #[test]
    fn turns_keep_the_first_lines_indentation() {
        assert_eq!(
            trim_turn("\n  \n\tlocal x = 1\nend  \n\n"),
            "\tlocal x = 1\nend"
        );
        assert_eq!(trim_turn(" \n \n"), "");
    }

    #[test]
    fn filters_behave() {
        assert_eq!(fence("a\n```\nb\n", "lua"), "````lua\na\n```\nb\n````");
        assert_eq!(fence("x", ""), "```\nx\n```");
        assert_eq!(phrase::lower_first("Client to server"), "client to server");
        assert_eq!(phrase::lower_first("DataStore keys"), "DataStore keys");
        assert_eq!(phrase::lower_first("API keys"), "API keys");
        let docs = "Call `Class.RemoteEvent:FireServer()|FireServer()` on `Class.RemoteEvent` with `Enum.EasingStyle` and `Global.LuaGlobals.print()`.\n\n<Alert severity=\"info\">\nMind this.\n</Alert>\n\n```lua\nlocal s = `Class.X`\n```\n";
        assert_eq!(
            clean_docs(docs),
            "Call `FireServer()` on `RemoteEvent` with `Enum.EasingStyle` and `print()`.\n\nMind this.\n\n```lua\nlocal s = `Class.X`\n```\n"
        );
    }
}
