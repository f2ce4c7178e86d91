//! OpenGameEval (github.com/Roblox/open-game-eval, `Evals/*.lua`, `DebugEvals/*.lua`): Luau
//! files returning an `eval` table (`scenario_name`, `prompt`, `place`, `difficulty`, `tags`,
//! `expected_tool_calls`, and `setup`/`check_scene`/`check_game` functions that run in Roblox
//! Studio). Imported as prompt-only tasks with `runner: roblox_studio`: reported as not
//! executable here, never passed or failed.
//!
//! The file is parsed (never run); only the `eval` table constructor, literal data, is evaluated
//! in a locked-down Luau VM (no libraries, memory and work caps) to read its values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::{import_err, json_str, Imported, Result};
use crate::core::eval_task::{Checks, EvalTask as Task, Limits, Runner, TaskSource};
use crate::core::{Message, Role};

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
        .map_err(|e| crate::luau::compile::clean_error(&e))?;
    Ok(lua_to_json(&value, 0))
}

/// Finds the `eval` table constructor of an OpenGameEval file: the first top-level local
/// assignment of a table constructor with a `scenario_name` field.
fn find_eval_table(source: &str) -> std::result::Result<String, String> {
    use full_moon::ast::{Expression, Field, Stmt};
    let ast =
        crate::luau::parse_ast(source).map_err(|e| format!("line {}: {}", e.line, e.message))?;
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
                        .map(|content| Message::new(Role::User, content))
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
                messages.push(Message::new(role, content));
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
        tools: Vec::new(),
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
    use crate::evalset::test_support::write;
    use crate::evalset::{import, Format};

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
            vec![Message::new(
                Role::User,
                "Make the cars of this game 2x faster"
            )]
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
