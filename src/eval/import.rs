//! Importers: other projects' task files become vcurate tasks, with their provenance.
//!
//! - **luau-bench** (github.com/imezx/luau-bench): a task YAML (`task`, `group`, `system_prompt`,
//!   `doc_to_text` as a Jinja2 template, `docs` inline or `dataset_path: jsonl` +
//!   `dataset_name`), where each doc carries a `test_harness` with a `{{CODE}}` placeholder that
//!   prints `@@LUAU_BENCH_RESULT@@PASS:label` lines. Read from `templates/task_basic.yaml`,
//!   `tasks/luau_coding/luau_coding.yaml` and `.jsonl`, and `luau_bench/api/task.py` there. A
//!   bare docs JSONL is accepted too (prompt = the doc's `description`).
//! - **plain**: a JSONL benchmark with `id, category, difficulty, prompt, expected_patterns`
//!   (and optionally `forbidden_patterns`, `system`): regex-only benchmarks. Imported tasks
//!   check parse + compile, and keep the regexes as patterns, which never decide a pass.
//! - **opengameeval** (github.com/Roblox/open-game-eval, `Evals/*.lua`, `DebugEvals/*.lua`): Luau
//!   files returning an `eval` table (`scenario_name`, `prompt`, `place`, `difficulty`, `tags`,
//!   `expected_tool_calls`, and `setup`/`check_scene`/`check_game` functions that run in Roblox
//!   Studio). Imported as prompt-only tasks with `runner: roblox_studio`: reported as not
//!   executable here, never passed or failed.
//!
//! Importers read files and never execute imported code, except that an OpenGameEval `eval`
//! table constructor (literal data) is evaluated in a locked-down Luau VM to read its values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value as Json;

use super::task::{Checks, Limits, Message, Role, Runner, Task, TaskSource, TestProtocol, Tests};
use super::{EvalError, Result};

/// The source formats `import` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    LuauBench,
    Plain,
    OpenGameEval,
}

/// Imported tasks plus what the importer had to say about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub tasks: Vec<Task>,
    pub warnings: Vec<String>,
}

pub fn import(format: Format, path: &Path) -> Result<Imported> {
    let imported = match format {
        Format::LuauBench => import_luau_bench(path)?,
        Format::Plain => import_plain(path)?,
        Format::OpenGameEval => import_opengameeval(path)?,
    };
    let mut seen = std::collections::HashSet::new();
    for t in &imported.tasks {
        t.validate().map_err(|m| EvalError::InvalidTask {
            path: path.to_path_buf(),
            id: t.id.clone(),
            message: m,
        })?;
        if !seen.insert(t.id.clone()) {
            return Err(EvalError::Import {
                path: path.to_path_buf(),
                message: format!(
                    "two imported tasks have the id `{}`; make the source ids unique",
                    t.id
                ),
            });
        }
    }
    Ok(imported)
}

fn import_err(path: &Path, message: impl Into<String>) -> EvalError {
    EvalError::Import {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn json_str(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------
// A small Jinja2 subset for luau-bench's `doc_to_text`: `{{ a.b }}`, `{% for x in a %}` ...
// `{% endfor %}`, `{% if a %}` ... `{% else %}` ... `{% endif %}`. Undefined names render as "",
// like jinja2's default `Undefined`. Anything else is an error naming the construct.
// ------------------------------------------------------------------------------------------

#[derive(Debug)]
enum Node {
    Text(String),
    Expr(String),
    For {
        var: String,
        iter: String,
        body: Vec<Node>,
    },
    If {
        cond: String,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

enum Piece {
    Text(String),
    Expr(String),
    Stmt(String),
}

fn lex(template: &str) -> std::result::Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let next = [rest.find("{{"), rest.find("{%"), rest.find("{#")]
            .into_iter()
            .flatten()
            .min();
        let Some(i) = next else {
            out.push(Piece::Text(rest.to_string()));
            break;
        };
        if i > 0 {
            out.push(Piece::Text(rest[..i].to_string()));
        }
        let open = &rest[i..i + 2];
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let body_start = i + 2;
        let Some(end) = rest[body_start..].find(close) else {
            return Err(format!("unclosed `{open}` in template"));
        };
        let body = rest[body_start..body_start + end]
            .trim()
            .trim_matches('-')
            .trim()
            .to_string();
        match open {
            "{{" => out.push(Piece::Expr(body)),
            "{%" => out.push(Piece::Stmt(body)),
            _ => {} // comment
        }
        rest = &rest[body_start + end + 2..];
    }
    Ok(out)
}

fn parse_nodes(
    pieces: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
    until: &[&str],
) -> std::result::Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while let Some(p) = pieces.next() {
        match p {
            Piece::Text(t) => nodes.push(Node::Text(t)),
            Piece::Expr(e) => nodes.push(Node::Expr(e)),
            Piece::Stmt(s) => {
                let words: Vec<&str> = s.split_whitespace().collect();
                match words.as_slice() {
                    [w] if until.contains(w) => return Ok((nodes, Some(w.to_string()))),
                    ["for", var, "in", iter] => {
                        let (body, end) = parse_nodes(pieces, &["endfor"])?;
                        if end.is_none() {
                            return Err("`{% for %}` without `{% endfor %}`".into());
                        }
                        nodes.push(Node::For {
                            var: var.to_string(),
                            iter: iter.to_string(),
                            body,
                        });
                    }
                    ["if", cond] => {
                        let (then, end) = parse_nodes(pieces, &["else", "endif"])?;
                        let otherwise = match end.as_deref() {
                            Some("else") => {
                                let (o, end2) = parse_nodes(pieces, &["endif"])?;
                                if end2.is_none() {
                                    return Err("`{% if %}` without `{% endif %}`".into());
                                }
                                o
                            }
                            Some(_) => Vec::new(),
                            None => return Err("`{% if %}` without `{% endif %}`".into()),
                        };
                        nodes.push(Node::If {
                            cond: cond.to_string(),
                            then,
                            otherwise,
                        });
                    }
                    _ => return Err(format!("unsupported template statement `{{% {s} %}}`")),
                }
            }
        }
    }
    Ok((nodes, None))
}

fn lookup<'a>(
    scopes: &'a [BTreeMap<String, Json>],
    path: &str,
) -> std::result::Result<Option<&'a Json>, String> {
    if !path
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        return Err(format!(
            "unsupported template expression `{{{{ {path} }}}}` (only names and dotted paths)"
        ));
    }
    let mut parts = path.split('.');
    let head = parts.next().unwrap_or_default();
    let mut cur = match scopes.iter().rev().find_map(|s| s.get(head)) {
        Some(v) => v,
        None => return Ok(None),
    };
    for p in parts {
        cur = match cur.get(p) {
            Some(v) => v,
            None => return Ok(None),
        };
    }
    Ok(Some(cur))
}

fn truthy(v: Option<&Json>) -> bool {
    match v {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => !s.is_empty(),
        Some(Json::Array(a)) => !a.is_empty(),
        Some(Json::Object(o)) => !o.is_empty(),
        Some(Json::Number(n)) => n.as_f64() != Some(0.0),
    }
}

fn render_value(v: Option<&Json>) -> String {
    match v {
        None => String::new(),
        Some(Json::Null) => "None".into(),
        Some(Json::Bool(true)) => "True".into(),
        Some(Json::Bool(false)) => "False".into(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn render_nodes(
    nodes: &[Node],
    scopes: &mut Vec<BTreeMap<String, Json>>,
    out: &mut String,
) -> std::result::Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Expr(e) => out.push_str(&render_value(lookup(scopes, e)?)),
            Node::For { var, iter, body } => {
                let items = match lookup(scopes, iter)? {
                    Some(Json::Array(a)) => a.clone(),
                    None | Some(Json::Null) => Vec::new(),
                    Some(_) => return Err(format!("`{iter}` is not a list")),
                };
                for item in items {
                    scopes.push(BTreeMap::from([(var.clone(), item)]));
                    let r = render_nodes(body, scopes, out);
                    scopes.pop();
                    r?;
                }
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                let branch = if truthy(lookup(scopes, cond)?) {
                    then
                } else {
                    otherwise
                };
                render_nodes(branch, scopes, out)?;
            }
        }
    }
    Ok(())
}

/// Renders a luau-bench template against a doc, then strips it, as luau-bench does.
pub fn render_template(template: &str, doc: &Json) -> std::result::Result<String, String> {
    let pieces = lex(template)?;
    let (nodes, stray) = parse_nodes(&mut pieces.into_iter().peekable(), &[])?;
    if let Some(s) = stray {
        return Err(format!("unexpected `{{% {s} %}}`"));
    }
    let mut scope = BTreeMap::new();
    if let Json::Object(o) = doc {
        for (k, v) in o {
            scope.insert(k.clone(), v.clone());
        }
    }
    let mut out = String::new();
    render_nodes(&nodes, &mut vec![scope], &mut out)?;
    Ok(out.trim().to_string())
}

// ------------------------------------------------------------------------------------------
// luau-bench
// ------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct LuauBenchConfig {
    task: Json,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    dataset_path: Option<String>,
    #[serde(default)]
    dataset_name: Option<String>,
    #[serde(default)]
    docs: Vec<Json>,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    doc_to_text: String,
    #[serde(default)]
    output_type: Option<String>,
}

fn read_jsonl_docs(path: &Path) -> Result<Vec<Json>> {
    let text = fs_err::read_to_string(path)?;
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Json = serde_json::from_str(line).map_err(|e| EvalError::Syntax {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        docs.push(v);
    }
    Ok(docs)
}

pub fn import_luau_bench(path: &Path) -> Result<Imported> {
    let mut warnings = Vec::new();
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let (config, docs) = if is_yaml {
        let text = fs_err::read_to_string(path)?;
        let config: LuauBenchConfig =
            serde_yaml::from_str(&text).map_err(|e| EvalError::Syntax {
                path: path.to_path_buf(),
                line: e.location().map(|l| l.line()).unwrap_or(0),
                message: format!("{e} (expected a luau-bench task YAML)"),
            })?;
        if let Json::Array(names) = &config.task {
            return Err(import_err(
                path,
                format!("this is a luau-bench group file listing tasks {names:?}; import each task's YAML instead"),
            ));
        }
        if let Some(kind) = config
            .output_type
            .as_deref()
            .filter(|k| *k != "generate_until")
        {
            return Err(import_err(
                path,
                format!("output_type `{kind}` is not a code-generation task; nothing to execute"),
            ));
        }
        let docs = match config.dataset_path.as_deref().unwrap_or("local") {
            "local" => config.docs.clone(),
            "jsonl" => {
                let name = config
                    .dataset_name
                    .as_deref()
                    .ok_or_else(|| import_err(path, "dataset_path is jsonl but dataset_name is missing"))?;
                let file = path.parent().unwrap_or(Path::new(".")).join(name);
                read_jsonl_docs(&file)?
            }
            other => {
                return Err(import_err(
                    path,
                    format!("dataset_path `{other}` cannot be imported offline; save the docs as JSONL and use `dataset_path: jsonl`"),
                ))
            }
        };
        (Some(config), docs)
    } else {
        warnings.push(
            "no luau-bench task YAML given: each prompt is the doc's `description` verbatim".into(),
        );
        (None, read_jsonl_docs(path)?)
    };

    let task_name = config
        .as_ref()
        .and_then(|c| json_str(&c.task))
        .unwrap_or_else(|| {
            path.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("luau_bench")
                .to_string()
        });
    let mut tasks = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let original_id = doc.get("id").and_then(json_str);
        let id = original_id
            .clone()
            .unwrap_or_else(|| format!("{task_name}_{:03}", i + 1));
        let Some(harness) = doc.get("test_harness").and_then(Json::as_str) else {
            warnings.push(format!(
                "doc `{id}` has no test_harness: skipped (not an execution task)"
            ));
            continue;
        };
        if !harness.contains("{{CODE}}") {
            warnings.push(format!(
                "doc `{id}`'s test_harness has no {{{{CODE}}}} placeholder: skipped"
            ));
            continue;
        }
        let prompt = match &config {
            Some(c) if !c.doc_to_text.is_empty() => render_template(&c.doc_to_text, doc)
                .map_err(|m| import_err(path, format!("doc `{id}`: doc_to_text: {m}")))?,
            _ => doc
                .get("description")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        if prompt.is_empty() {
            warnings.push(format!("doc `{id}` renders to an empty prompt: skipped"));
            continue;
        }
        let system = match &config {
            Some(c) if !c.system_prompt.is_empty() => Some(
                render_template(&c.system_prompt, doc)
                    .map_err(|m| import_err(path, format!("doc `{id}`: system_prompt: {m}")))?,
            ),
            _ => None,
        };
        let category = doc
            .get("category")
            .and_then(json_str)
            .or_else(|| config.as_ref().and_then(|c| c.group.clone()))
            .unwrap_or_else(|| task_name.clone());
        tasks.push(Task {
            id,
            category,
            difficulty: doc
                .get("difficulty")
                .and_then(json_str)
                .unwrap_or_else(|| "unknown".into()),
            system,
            prompt: Some(prompt),
            messages: Vec::new(),
            checks: Checks {
                tests: Some(Tests {
                    protocol: TestProtocol::LuauBench,
                    code: harness.to_string(),
                }),
                ..Checks::default()
            },
            limits: Limits::default(),
            roblox_stubs: false,
            runner: Runner::Sandbox,
            reference: doc
                .get("reference_solution")
                .and_then(Json::as_str)
                .map(str::to_string),
            tags: vec!["luau-bench".into(), task_name.clone()],
            source: Some(TaskSource {
                format: "luau-bench".into(),
                path: path.display().to_string(),
                original_id,
                extra: BTreeMap::new(),
            }),
        });
    }
    Ok(Imported { tasks, warnings })
}

// ------------------------------------------------------------------------------------------
// plain
// ------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct PlainRow {
    id: Json,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    difficulty: Option<Json>,
    prompt: String,
    #[serde(default)]
    expected_patterns: Vec<String>,
    #[serde(default)]
    forbidden_patterns: Vec<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Json>,
}

/// Keeps a pattern that compiles as a regex; escapes one that does not (benchmarks often list
/// literal snippets such as `game:GetService(`), with a warning.
fn usable_regex(p: &str, id: &str, warnings: &mut Vec<String>) -> String {
    if regex::Regex::new(p).is_ok() {
        p.to_string()
    } else {
        warnings.push(format!(
            "task `{id}`: pattern `{p}` is not a valid regex; matched literally"
        ));
        regex::escape(p)
    }
}

pub fn import_plain(path: &Path) -> Result<Imported> {
    let text = fs_err::read_to_string(path)?;
    let mut warnings = Vec::new();
    let mut tasks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: PlainRow = serde_json::from_str(line).map_err(|e| EvalError::Syntax {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("{e} (expected id, category, difficulty, prompt, expected_patterns)"),
        })?;
        let id = json_str(&row.id).ok_or_else(|| {
            import_err(
                path,
                format!("line {}: `id` must be a string or number", i + 1),
            )
        })?;
        let patterns = row
            .expected_patterns
            .iter()
            .map(|p| usable_regex(p, &id, &mut warnings))
            .collect();
        let forbidden = row
            .forbidden_patterns
            .iter()
            .map(|p| usable_regex(p, &id, &mut warnings))
            .collect();
        tasks.push(Task {
            id: id.clone(),
            category: row.category.unwrap_or_else(|| "uncategorized".into()),
            difficulty: row
                .difficulty
                .as_ref()
                .and_then(json_str)
                .unwrap_or_else(|| "unknown".into()),
            system: row.system,
            prompt: Some(row.prompt),
            messages: Vec::new(),
            checks: Checks {
                patterns,
                forbidden_patterns: forbidden,
                ..Checks::default()
            },
            limits: Limits::default(),
            roblox_stubs: false,
            runner: Runner::Sandbox,
            reference: None,
            tags: vec!["plain".into()],
            source: Some(TaskSource {
                format: "plain".into(),
                path: path.display().to_string(),
                original_id: Some(id),
                extra: row.rest,
            }),
        });
    }
    if !tasks.is_empty() {
        warnings.push(format!(
            "{} plain tasks have no tests: their pass means the code parses and compiles; \
             their expected_patterns are kept as a separate pattern score",
            tasks.len()
        ));
    }
    Ok(Imported { tasks, warnings })
}

// ------------------------------------------------------------------------------------------
// OpenGameEval
// ------------------------------------------------------------------------------------------

fn lua_to_json(v: &mlua::Value, depth: usize) -> Json {
    if depth > 32 {
        return Json::Null;
    }
    match v {
        mlua::Value::Nil => Json::Null,
        mlua::Value::Boolean(b) => Json::Bool(*b),
        mlua::Value::Integer(i) => Json::from(*i),
        mlua::Value::Number(n) => serde_json::Number::from_f64(*n)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        mlua::Value::String(s) => Json::String(s.to_string_lossy()),
        mlua::Value::Table(t) => {
            let len = t.raw_len();
            let pairs: Vec<(mlua::Value, mlua::Value)> =
                t.pairs::<mlua::Value, mlua::Value>().flatten().collect();
            if len > 0 && pairs.len() == len {
                Json::Array(
                    (1..=len)
                        .map(|i| lua_to_json(&t.raw_get(i).unwrap_or(mlua::Value::Nil), depth + 1))
                        .collect(),
                )
            } else if pairs.is_empty() {
                Json::Array(Vec::new())
            } else {
                let mut m = serde_json::Map::new();
                for (k, v) in pairs {
                    let key = match &k {
                        mlua::Value::String(s) => s.to_string_lossy(),
                        other => lua_to_json(other, depth + 1).to_string(),
                    };
                    m.insert(key, lua_to_json(&v, depth + 1));
                }
                Json::Object(m)
            }
        }
        other => Json::String(format!("<{}>", other.type_name())),
    }
}

/// Evaluates a Luau table constructor made of literals in a fresh, sandboxed VM with no
/// libraries, a memory cap and a work cap, and returns it as JSON.
fn eval_table_literal(ctor: &str) -> std::result::Result<Json, String> {
    let lua = mlua::Lua::new_with(mlua::StdLib::NONE, mlua::LuaOptions::default())
        .map_err(|e| e.to_string())?;
    lua.sandbox(true).map_err(|e| e.to_string())?;
    let steps = std::cell::Cell::new(0u64);
    lua.set_interrupt(move |_| {
        steps.set(steps.get() + 1);
        if steps.get() > 100_000 {
            return Err(mlua::Error::runtime("too much work for a literal table"));
        }
        Ok(mlua::VmState::Continue)
    });
    let _ = lua.set_memory_limit(lua.used_memory() + 16 * 1024 * 1024);
    let value: mlua::Value = lua
        .load(format!("return {ctor}"))
        .set_name("=eval_table")
        .eval()
        .map_err(|e| super::sandbox::clean_error(&e))?;
    Ok(lua_to_json(&value, 0))
}

/// Finds the `eval` table constructor of an OpenGameEval file: the first top-level local
/// assignment of a table constructor with a `scenario_name` field.
fn find_eval_table(source: &str) -> std::result::Result<String, String> {
    use full_moon::ast::{Expression, Field, Stmt};
    let ast = super::extract::parse_luau(source)
        .map_err(|e| format!("line {}: {}", e.line, e.message))?;
    for stmt in ast.nodes().stmts() {
        let exprs: Vec<&Expression> = match stmt {
            Stmt::LocalAssignment(a) => a.expressions().iter().collect(),
            Stmt::Assignment(a) => a.expressions().iter().collect(),
            _ => continue,
        };
        for e in exprs {
            let Expression::TableConstructor(t) = e else {
                continue;
            };
            let has_name = t.fields().iter().any(|f| match f {
                Field::NameKey { key, .. } => key.token().to_string() == "scenario_name",
                _ => false,
            });
            if has_name {
                return Ok(t.to_string());
            }
        }
    }
    Err("no top-level table with a `scenario_name` field (expected `local eval: BaseEval = { scenario_name = ... }`)".into())
}

fn role_of(s: &str) -> Option<Role> {
    match s {
        "user" => Some(Role::User),
        "system" => Some(Role::System),
        "assistant" => Some(Role::Assistant),
        _ => None,
    }
}

fn import_one_oge(path: &Path, display_root: &Path, warnings: &mut Vec<String>) -> Result<Task> {
    let source = fs_err::read_to_string(path)?;
    let ctor = find_eval_table(&source).map_err(|m| import_err(path, m))?;
    let table = eval_table_literal(&ctor)
        .map_err(|m| import_err(path, format!("could not read the eval table: {m}")))?;
    let name = table
        .get("scenario_name")
        .and_then(Json::as_str)
        .ok_or_else(|| import_err(path, "`scenario_name` is not a string"))?
        .to_string();
    let id = format!("opengameeval/{name}");

    // `prompt` is either a list of conversations (each a list of {role, content, request_id})
    // as in Evals/, or a list of plain strings as in DebugEvals/.
    let (prompt, messages) = match table.get("prompt") {
        Some(Json::String(s)) => (Some(s.clone()), Vec::new()),
        Some(Json::Array(items)) if items.iter().all(Json::is_string) => {
            let texts: Vec<String> = items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if texts.len() == 1 {
                (Some(texts[0].clone()), Vec::new())
            } else {
                (
                    None,
                    texts
                        .into_iter()
                        .map(|content| Message {
                            role: Role::User,
                            content,
                        })
                        .collect(),
                )
            }
        }
        Some(Json::Array(convs)) if !convs.is_empty() => {
            if convs.len() > 1 {
                warnings.push(format!(
                    "{id}: {} conversations in `prompt`; only the first was imported",
                    convs.len()
                ));
            }
            let conv = match &convs[0] {
                Json::Array(msgs) => msgs.clone(),
                single @ Json::Object(_) => vec![single.clone()],
                _ => Vec::new(),
            };
            let mut messages = Vec::new();
            for m in conv {
                let role = m.get("role").and_then(Json::as_str).unwrap_or("user");
                let role = role_of(role)
                    .ok_or_else(|| import_err(path, format!("unknown message role `{role}`")))?;
                let content = m
                    .get("content")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string();
                messages.push(Message { role, content });
            }
            (None, messages)
        }
        _ => return Err(import_err(path, "`prompt` is missing or empty")),
    };
    if prompt.is_none() && messages.is_empty() {
        return Err(import_err(path, "`prompt` holds no messages"));
    }

    let mut extra = BTreeMap::new();
    for key in [
        "place",
        "tool",
        "expected_tool_calls",
        "expected_script_instances",
        "expected_non_script_instances",
    ] {
        if let Some(v) = table.get(key) {
            extra.insert(key.to_string(), v.clone());
        }
    }
    let check_re = regex::Regex::new(r"(?m)^\s*eval\.(\w+)\s*=\s*function").expect("static regex");
    let functions: Vec<Json> = check_re
        .captures_iter(&source)
        .map(|c| Json::String(c[1].to_string()))
        .collect();
    extra.insert("studio_functions".into(), Json::Array(functions));

    let debug = path.components().any(|c| c.as_os_str() == "DebugEvals") || name.contains("_bug_");
    let mut tags = vec!["opengameeval".to_string()];
    if let Some(place) = table.get("place").and_then(Json::as_str) {
        tags.push(format!("place:{place}"));
    }
    if let Some(Json::Array(t)) = table.get("tags") {
        tags.extend(t.iter().filter_map(|v| v.as_str().map(str::to_string)));
    }
    let rel = path.strip_prefix(display_root).unwrap_or(path);
    Ok(Task {
        id,
        category: if debug {
            "opengameeval-debug".into()
        } else {
            "opengameeval".into()
        },
        difficulty: table
            .get("difficulty")
            .and_then(json_str)
            .unwrap_or_else(|| "unknown".into()),
        system: None,
        prompt,
        messages,
        checks: Checks {
            parse: false,
            compile: false,
            ..Checks::default()
        },
        limits: Limits::default(),
        roblox_stubs: false,
        runner: Runner::RobloxStudio,
        reference: None,
        tags,
        source: Some(TaskSource {
            format: "opengameeval".into(),
            path: rel.display().to_string(),
            original_id: Some(name),
            extra,
        }),
    })
}

fn lua_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            lua_files(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("lua" | "luau")) {
            out.push(p);
        }
    }
    Ok(())
}

/// Imports one OpenGameEval eval file, or every `.lua`/`.luau` file under a folder.
pub fn import_opengameeval(path: &Path) -> Result<Imported> {
    let mut warnings = Vec::new();
    let mut files = Vec::new();
    let root = if path.is_dir() {
        lua_files(path, &mut files)?;
        path.to_path_buf()
    } else {
        files.push(path.to_path_buf());
        path.parent().unwrap_or(Path::new("")).to_path_buf()
    };
    let mut tasks = Vec::new();
    for f in &files {
        match import_one_oge(f, &root, &mut warnings) {
            Ok(t) => tasks.push(t),
            // In a folder, one odd file (a helper module) should not sink the import.
            Err(e) if path.is_dir() => warnings.push(format!("skipped: {e}")),
            Err(e) => return Err(e),
        }
    }
    if !tasks.is_empty() {
        warnings.push(format!(
            "{} OpenGameEval tasks imported as prompt-only (runner: roblox_studio): their checks need Roblox Studio, \
             so reports list them as not executable",
            tasks.len()
        ));
    }
    Ok(Imported { tasks, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            fs_err::create_dir_all(parent).unwrap();
        }
        fs_err::write(&p, text).unwrap();
        p
    }

    #[test]
    fn template_subset_renders_like_jinja() {
        let doc = serde_json::json!({
            "description": "Sum digits.",
            "signature": "function f(n: number): number",
            "examples": [{"input": 493, "expected": 16, "desc": "4+9+3"}, {"input": 0, "expected": 0, "desc": "zero"}],
            "flag": false
        });
        let t = "{{ description }}\n```luau\n{{ signature }}\n```\n{% for ex in examples %}-- {{ ex.desc }}: {{ ex.input }} -> {{ ex.expected }}\n{% endfor %}{% if flag %}yes{% else %}no{% endif %}{{ missing }}{# note #}\n";
        let out = render_template(t, &doc).unwrap();
        assert_eq!(
            out,
            "Sum digits.\n```luau\nfunction f(n: number): number\n```\n-- 4+9+3: 493 -> 16\n-- zero: 0 -> 0\nno"
        );
        assert!(render_template("{{ a | upper }}", &doc)
            .unwrap_err()
            .contains("unsupported"));
        assert!(render_template("{% for x in y %}", &doc)
            .unwrap_err()
            .contains("endfor"));
        assert!(render_template("{{ open", &doc)
            .unwrap_err()
            .contains("unclosed"));
    }

    // Shaped like luau-bench's templates/task_basic.yaml (inline docs, Jinja prompt, harness
    // with {{CODE}} and @@LUAU_BENCH_RESULT@@ markers).
    const LB_YAML: &str = r#"task: sum_digits
group: examples
version: 1.0

system_prompt: |
  You are an expert Luau programmer.  Respond ONLY with code inside a
  single ```luau fenced code block.  No explanations.

doc_to_text: |
  {{ description }}

  ### Required Signature
  ```luau
  {{ signature }}
  ```

  ### Examples
  {% for ex in examples %}
  -- {{ ex.desc }}: {{ ex.input }} -> {{ ex.expected }}
  {% endfor %}

output_type: generate_until
generation_kwargs:
  max_tokens: 2048
  temperature: 0.0
filters:
  - name: extract_code
    args: { lang: luau }
metric_list:
  - metric: luau_exec
    primary: true
metadata:
  version: 1.0

docs:
  - description: |
      Write a function `sumDigits` that returns the sum of the decimal digits of n.
    signature: "function sumDigits(n: number): number"
    examples:
      - { input: 493, expected: 16, desc: "4+9+3" }
    reference_solution: |
      local function sumDigits(n: number): number
          local total = 0
          for d in tostring(math.floor(math.abs(n))):gmatch("%d") do
              total += tonumber(d) :: number
          end
          return total
      end
    test_harness: |
      {{CODE}}
      local _P = "@@LUAU_BENCH_RESULT@@"
      local tests = {
          {args = {493}, expected = 16, label = "493"},
          {args = {0}, expected = 0, label = "zero"},
      }
      for _, t in ipairs(tests) do
          local ok, result = pcall(function() return sumDigits(unpack(t.args)) end)
          if not ok then
              print(_P .. "ERROR:" .. t.label .. ":" .. tostring(result))
          elseif result == t.expected then
              print(_P .. "PASS:" .. t.label)
          else
              print(_P .. "FAIL:" .. t.label .. ":expected " .. tostring(t.expected) .. " got " .. tostring(result))
          end
      end
  - description: "A trivia question without a harness."
"#;

    #[test]
    fn luau_bench_yaml_imports_and_its_reference_passes() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "task_basic.yaml", LB_YAML);
        let imp = import(Format::LuauBench, &p).unwrap();
        assert_eq!(imp.tasks.len(), 1);
        assert!(imp.warnings.iter().any(|w| w.contains("no test_harness")));
        let t = &imp.tasks[0];
        assert_eq!(t.id, "sum_digits_001");
        assert_eq!(t.category, "examples");
        assert!(t.prompt.as_deref().unwrap().contains("-- 4+9+3: 493 -> 16"));
        assert!(t
            .system
            .as_deref()
            .unwrap()
            .starts_with("You are an expert Luau programmer."));
        assert_eq!(
            t.checks.tests.as_ref().unwrap().protocol,
            TestProtocol::LuauBench
        );

        // The imported task scores its own reference solution as a pass, and a wrong one as a fail.
        let good = format!("```luau\n{}```", t.reference.as_deref().unwrap());
        let r = crate::eval::score::score_sample(t, 0, Some(&good));
        assert_eq!(
            r.verdict,
            crate::eval::score::Verdict::Pass,
            "{:?}",
            r.checks.tests
        );
        assert_eq!(r.checks.tests.total_cases, 2);
        let bad = "```luau\nlocal function sumDigits(n) return n end\n```";
        let r = crate::eval::score::score_sample(t, 0, Some(bad));
        assert_eq!(r.verdict, crate::eval::score::Verdict::TestFailure);
    }

    #[test]
    fn luau_bench_jsonl_dataset_is_read_relative_to_the_yaml() {
        let dir = tempfile::tempdir().unwrap();
        // Shaped like luau-bench's tasks/luau_coding/luau_coding.{yaml,jsonl}.
        write(
            dir.path(),
            "luau_coding.yaml",
            "task: luau_coding\ngroup: luau_coding\ndataset_path: jsonl\ndataset_name: luau_coding.jsonl\n\
             doc_to_text: |\n  Complete the following Luau function:\n\n  ```luau\n  {{ description }}\n  ```\n",
        );
        let row = serde_json::json!({
            "id": "lc002", "difficulty": "easy", "category": "table",
            "description": "-- Returns the sum of all numbers in the array `t`.\nlocal function sumArray(t: {number}): number",
            "reference_solution": "local function sumArray(t: {number}): number\n\tlocal total = 0\n\tfor _, v in t do\n\t\ttotal += v\n\tend\n\treturn total\nend",
            "test_harness": "--!strict\n{{CODE}}\n\nlocal function check(label: string, got: any, expected: any)\n\tif got == expected then\n\t\tprint(\"@@LUAU_BENCH_RESULT@@PASS:\" .. label)\n\telse\n\t\tprint(\"@@LUAU_BENCH_RESULT@@FAIL:\" .. label)\n\tend\nend\n\ncheck(\"empty\", sumArray({}), 0)\ncheck(\"three\", sumArray({1, 2, 3}), 6)"
        });
        write(dir.path(), "luau_coding.jsonl", &format!("{row}\n"));
        let imp = import(Format::LuauBench, &dir.path().join("luau_coding.yaml")).unwrap();
        let t = &imp.tasks[0];
        assert_eq!(
            (t.id.as_str(), t.category.as_str(), t.difficulty.as_str()),
            ("lc002", "table", "easy")
        );
        assert!(t
            .prompt
            .as_deref()
            .unwrap()
            .starts_with("Complete the following Luau function:"));
        let r = crate::eval::score::score_sample(t, 0, Some(t.reference.as_deref().unwrap()));
        assert_eq!(
            r.verdict,
            crate::eval::score::Verdict::Pass,
            "{:?}",
            r.checks.tests
        );

        // The docs file alone imports too, with the description as the prompt.
        let imp = import(Format::LuauBench, &dir.path().join("luau_coding.jsonl")).unwrap();
        assert!(imp.tasks[0]
            .prompt
            .as_deref()
            .unwrap()
            .starts_with("-- Returns the sum"));
        assert!(imp
            .warnings
            .iter()
            .any(|w| w.contains("no luau-bench task YAML")));
    }

    #[test]
    fn luau_bench_group_files_and_remote_datasets_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let g = write(
            dir.path(),
            "std_trivia.yaml",
            "group: std_trivia\ntask:\n  - std_trivia_easy\n",
        );
        assert!(import(Format::LuauBench, &g)
            .unwrap_err()
            .to_string()
            .contains("group file"));
        let h = write(
            dir.path(),
            "hf.yaml",
            "task: x\ndataset_path: huggingface\ndataset_name: a/b\n",
        );
        assert!(import(Format::LuauBench, &h)
            .unwrap_err()
            .to_string()
            .contains("offline"));
    }

    #[test]
    fn plain_jsonl_imports_with_patterns_apart() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [
            serde_json::json!({"id": "rb_001", "category": "services", "difficulty": "easy",
                "prompt": "Get the Players service and print each player's name.",
                "expected_patterns": ["game:GetService\\(\"Players\"\\)", "GetPlayers", "for .* in"]}),
            serde_json::json!({"id": 2, "category": "remotes", "difficulty": 3,
                "prompt": "Fire a RemoteEvent to all clients.",
                "expected_patterns": ["FireAllClients(", "RemoteEvent"], "source_url": "https://example.invalid"}),
        ];
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        let p = write(dir.path(), "bench.jsonl", &text);
        let imp = import(Format::Plain, &p).unwrap();
        assert_eq!(imp.tasks.len(), 2);
        let t1 = &imp.tasks[1];
        assert_eq!((t1.id.as_str(), t1.difficulty.as_str()), ("2", "3"));
        assert_eq!(t1.checks.patterns[0], regex::escape("FireAllClients("));
        assert!(imp.warnings.iter().any(|w| w.contains("matched literally")));
        assert!(t1.checks.tests.is_none() && t1.checks.parse && t1.checks.compile);
        assert_eq!(
            t1.source
                .as_ref()
                .unwrap()
                .extra
                .get("source_url")
                .and_then(Json::as_str),
            Some("https://example.invalid")
        );

        // Pattern-perfect code that does not compile fails; the pattern score says 1.0 regardless.
        let reply = "```lua\nlocal re = game:GetService(\"ReplicatedStorage\").RemoteEvent\nre:FireAllClients(\n```";
        let r = crate::eval::score::score_sample(t1, 0, Some(reply));
        assert_eq!(r.verdict, crate::eval::score::Verdict::ParseError);
        assert_eq!(r.patterns.score, Some(1.0));

        let bad = write(
            dir.path(),
            "bad.jsonl",
            "{\"id\": \"x\", \"category\": \"c\"}\n",
        );
        let err = import(Format::Plain, &bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.jsonl:1") && err.contains("prompt"),
            "{err}"
        );
    }

    // Shaped like Roblox/open-game-eval Evals/001_make_cars_faster.lua (nested conversation
    // prompt, place, expected_tool_calls, Studio-only check functions).
    const OGE_EVAL: &str = r#"--!strict

local LoadedCode = game:FindFirstChild("LoadedCode")
assert(LoadedCode, "Failed to find LoadedCode")

local types = require(LoadedCode.EvalUtils.types)
local HttpService = game:GetService("HttpService")
type BaseEval = types.BaseEval

local eval: BaseEval = {
    scenario_name = "001_make_cars_faster",
    prompt = {
                {
                    {
                        role = "user",
                        content = [[Make the cars of this game 2x faster]],
                        request_id = "s20250617_001"
                    }
                }
            },
    place = "racing.rbxl",
	tool = nil,
	tags = {},
	difficulty = "medium",
	expected_tool_calls = { "execute_luau" },
	expected_script_instances = {},
	expected_non_script_instances = {
		"game.ReplicatedStorage.Car",
	},
}

eval.setup = function()
	local target = game:GetService("ReplicatedStorage"):FindFirstChild("Car")
end

eval.reference = function()
end

eval.check_scene = function()
	assert(false, "needs Studio")
end

eval.check_game = function()
end

return eval
"#;

    // Shaped like DebugEvals/001_make_cars_faster_bug_1.lua (prompt as a list of strings).
    const OGE_DEBUG: &str = r#"--!strict
local LoadedCode = game:FindFirstChild("LoadedCode")
local types = require(LoadedCode.EvalUtils.types)
type BaseEval = types.BaseEval

local eval: BaseEval = {
	scenario_name = "001_make_cars_faster_bug_1",
	prompt = { "I'm trying to run a script to make the cars faster, but it keeps erroring out saying it can't find the car's 'Engine'. Please fix without revising the script." },
	place = "racing.rbxl"
}

eval.setup = function()
	local car = game:GetService("ReplicatedStorage"):FindFirstChild("Car")
	if not car then return end
end

eval.check_scene = function()
end

return eval
"#;

    #[test]
    fn opengameeval_files_become_prompt_only_studio_tasks() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Evals/001_make_cars_faster.lua", OGE_EVAL);
        write(
            dir.path(),
            "DebugEvals/001_make_cars_faster_bug_1.lua",
            OGE_DEBUG,
        );
        write(
            dir.path(),
            "EvalUtils/helpers.lua",
            "local M = {}\nreturn M\n",
        );
        let imp = import(Format::OpenGameEval, dir.path()).unwrap();
        assert_eq!(imp.tasks.len(), 2, "{:?}", imp.warnings);
        assert!(imp
            .warnings
            .iter()
            .any(|w| w.contains("skipped") && w.contains("helpers.lua")));

        let debug = &imp.tasks[0];
        assert_eq!(debug.id, "opengameeval/001_make_cars_faster_bug_1");
        assert_eq!(debug.category, "opengameeval-debug");
        assert!(debug
            .prompt
            .as_deref()
            .unwrap()
            .starts_with("I'm trying to run a script"));

        let t = &imp.tasks[1];
        assert_eq!(t.id, "opengameeval/001_make_cars_faster");
        assert_eq!(t.runner, Runner::RobloxStudio);
        assert_eq!(t.difficulty, "medium");
        assert_eq!(
            t.messages,
            vec![Message {
                role: Role::User,
                content: "Make the cars of this game 2x faster".into()
            }]
        );
        let src = t.source.as_ref().unwrap();
        assert_eq!(src.path, "Evals/001_make_cars_faster.lua");
        assert_eq!(
            src.extra.get("place").and_then(Json::as_str),
            Some("racing.rbxl")
        );
        assert_eq!(
            src.extra["expected_tool_calls"],
            serde_json::json!(["execute_luau"])
        );
        assert_eq!(
            src.extra["studio_functions"],
            serde_json::json!(["setup", "reference", "check_scene", "check_game"])
        );
        assert!(t.tags.contains(&"place:racing.rbxl".to_string()));

        // Scoring never passes or fails them.
        let r = crate::eval::score::score_sample(t, 0, Some("```lua\nprint('faster')\n```"));
        assert_eq!(r.verdict, crate::eval::score::Verdict::NotExecutable);

        // A single file imports too; a file without an eval table is an error when named directly.
        let one = import(
            Format::OpenGameEval,
            &dir.path().join("Evals/001_make_cars_faster.lua"),
        )
        .unwrap();
        assert_eq!(
            one.tasks[0].source.as_ref().unwrap().path,
            "001_make_cars_faster.lua"
        );
        let err = import(
            Format::OpenGameEval,
            &dir.path().join("EvalUtils/helpers.lua"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("scenario_name"), "{err}");
    }

    #[test]
    fn eval_table_reading_is_sandboxed_and_bounded() {
        // A constructor that tries to do work or touch the host fails cleanly.
        assert!(
            eval_table_literal("{ x = (function() while true do end end)() }")
                .unwrap_err()
                .contains("too much work")
        );
        assert!(eval_table_literal("{ x = os.execute('true') }").is_err());
        assert_eq!(
            eval_table_literal("{ a = [[x]], b = { 1, 2 } }").unwrap(),
            serde_json::json!({"a": "x", "b": [1, 2]})
        );
    }
}
