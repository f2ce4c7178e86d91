//! A snapshot's `examples.parquet`: one row per rendered [`Example`] with its split, every field
//! a typed column (`doc_ids`, `licenses` lists of strings; `messages` and `attributions` lists
//! of structs), so Polars, DuckDB and pandas read it without parsing JSON. Export and train read
//! the examples back from here.
//!
//! `messages` is `list<struct{role, content, tool_calls: list<struct{id, name, arguments}>,
//! tool_call_id, name}>`. Two fields are JSON text, because what they hold is free-form JSON
//! that no fixed column type fits: a call's `arguments` (an arbitrary object) and the example's
//! `tools` (arbitrary JSON Schemas of the functions' parameters; null when the example offers
//! no tools).

use std::path::Path;

use polars::prelude::*;
use serde::de::DeserializeOwned;

use crate::core::{Attribution, Example, Message, Tool, ToolCall};
use crate::store::columns::{
    read_string_lists, read_struct_lists, str_at, string_list_column, struct_list_column,
};
use crate::store::{read_parquet, StoreError};

/// An example of a snapshot and the split it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitExample {
    /// train | valid | test
    pub split: String,
    pub example: Example,
}

/// The examples table: `splits[i]` is the split of `examples[i]`.
pub fn examples_frame(examples: &[Example], splits: &[String]) -> PolarsResult<DataFrame> {
    let strings = |name: &str, f: fn(&Example) -> &str| {
        Column::new(name.into(), examples.iter().map(f).collect::<Vec<_>>())
    };
    let u32s = |name: &str, f: fn(&Example) -> u32| {
        Column::new(name.into(), examples.iter().map(f).collect::<Vec<_>>())
    };
    let messages: Vec<&Message> = examples.iter().flat_map(|e| &e.messages).collect();
    let message = |name: &str, f: fn(&Message) -> Option<&str>| {
        Column::new(
            name.into(),
            messages.iter().map(|m| f(m)).collect::<Vec<_>>(),
        )
    };
    let calls: Vec<&ToolCall> = messages.iter().flat_map(|m| &m.tool_calls).collect();
    let arguments: Vec<String> = calls
        .iter()
        .map(|c| serde_json::to_string(&c.function.arguments).expect("json"))
        .collect();
    let tool_calls = struct_list_column(
        "tool_calls",
        &[
            Column::new(
                "id".into(),
                calls.iter().map(|c| c.id.as_deref()).collect::<Vec<_>>(),
            ),
            Column::new(
                "name".into(),
                calls
                    .iter()
                    .map(|c| c.function.name.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new("arguments".into(), arguments),
        ],
        &messages
            .iter()
            .map(|m| m.tool_calls.len())
            .collect::<Vec<_>>(),
    )?;
    let attributions: Vec<&Attribution> = examples.iter().flat_map(|e| &e.attributions).collect();
    let attr = |name: &str, f: fn(&Attribution) -> Option<&str>| {
        Column::new(
            name.into(),
            attributions.iter().map(|a| f(a)).collect::<Vec<_>>(),
        )
    };
    DataFrame::new(
        examples.len(),
        vec![
            strings("id", |e| &e.id),
            Column::new("split".into(), splits.to_vec()),
            strings("template", |e| &e.template),
            strings("template_hash", |e| &e.template_hash),
            strings("task", |e| &e.task),
            string_list_column(
                "doc_ids",
                examples
                    .iter()
                    .map(|e| e.doc_ids.iter().map(String::as_str)),
            ),
            Column::new(
                "item".into(),
                examples
                    .iter()
                    .map(|e| e.item.as_deref())
                    .collect::<Vec<_>>(),
            ),
            struct_list_column(
                "messages",
                &[
                    message("role", |m| Some(m.role.as_str())),
                    message("content", |m| Some(&m.content)),
                    tool_calls,
                    message("tool_call_id", |m| m.tool_call_id.as_deref()),
                    message("name", |m| m.name.as_deref()),
                ],
                &examples
                    .iter()
                    .map(|e| e.messages.len())
                    .collect::<Vec<_>>(),
            )?,
            string_list_column(
                "licenses",
                examples
                    .iter()
                    .map(|e| e.licenses.iter().map(String::as_str)),
            ),
            struct_list_column(
                "attributions",
                &[
                    attr("title", |a| Some(&a.title)),
                    attr("url", |a| Some(&a.url)),
                    attr("license", |a| Some(&a.license)),
                    attr("author", |a| a.author.as_deref()),
                ],
                &examples
                    .iter()
                    .map(|e| e.attributions.len())
                    .collect::<Vec<_>>(),
            )?,
            Column::new(
                "tools".into(),
                examples
                    .iter()
                    .map(|e| {
                        (!e.tools.is_empty())
                            .then(|| serde_json::to_string(&e.tools).expect("json"))
                    })
                    .collect::<Vec<_>>(),
            ),
            u32s("code_lines", |e| e.code_lines),
            u32s("tokens", |e| e.tokens),
            strings("token_count_method", |e| &e.token_count_method),
        ],
    )
}

fn from_name<T: DeserializeOwned>(column: &str, name: &str) -> PolarsResult<T> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| polars_err!(ComputeError: "`{name}` is not a valid `{column}` value"))
}

/// The examples of a frame made by [`examples_frame`], in row order.
pub fn examples_from_frame(df: &DataFrame) -> PolarsResult<Vec<SplitExample>> {
    let req = |name: &str, i: usize| -> PolarsResult<String> {
        str_at(df, name, i)?.ok_or_else(|| polars_err!(ComputeError: "null `{name}` in row {i}"))
    };
    let doc_ids = read_string_lists(df, "doc_ids")?;
    let licenses = read_string_lists(df, "licenses")?;
    let messages = read_struct_lists(df, "messages", |f, i| {
        // Tables written before tool calls existed lack the fields: no calls then.
        let tool_calls = match f.column("tool_calls") {
            Ok(_) => read_struct_lists(&f.slice(i as i64, 1), "tool_calls", |c, j| {
                let arguments = str_at(c, "arguments", j)?.unwrap_or_default();
                Ok(ToolCall::new(
                    str_at(c, "id", j)?.as_deref(),
                    &str_at(c, "name", j)?.unwrap_or_default(),
                    serde_json::from_str(&arguments).map_err(
                        |e| polars_err!(ComputeError: "`messages.tool_calls.arguments` is not a JSON object: {e}"),
                    )?,
                ))
            })?
            .pop()
            .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let optional = |name: &str| match f.column(name) {
            Ok(_) => str_at(f, name, i),
            Err(_) => Ok(None),
        };
        Ok(Message {
            role: from_name("messages.role", &str_at(f, "role", i)?.unwrap_or_default())?,
            content: str_at(f, "content", i)?.unwrap_or_default(),
            tool_calls,
            tool_call_id: optional("tool_call_id")?,
            name: optional("name")?,
        })
    })?;
    let attributions = read_struct_lists(df, "attributions", |f, i| {
        Ok(Attribution {
            title: str_at(f, "title", i)?.unwrap_or_default(),
            url: str_at(f, "url", i)?.unwrap_or_default(),
            license: str_at(f, "license", i)?.unwrap_or_default(),
            author: str_at(f, "author", i)?,
        })
    })?;
    let (code_lines, tokens) = (df.column("code_lines")?.u32()?, df.column("tokens")?.u32()?);
    let mut out = Vec::with_capacity(df.height());
    for (i, (((doc_ids, licenses), messages), attributions)) in doc_ids
        .into_iter()
        .zip(licenses)
        .zip(messages)
        .zip(attributions)
        .enumerate()
    {
        out.push(SplitExample {
            split: req("split", i)?,
            example: Example {
                id: req("id", i)?,
                template: req("template", i)?,
                template_hash: req("template_hash", i)?,
                task: req("task", i)?,
                doc_ids,
                item: str_at(df, "item", i)?,
                messages,
                tools: tools_at(df, i)?,
                licenses,
                attributions,
                code_lines: code_lines.get(i).unwrap_or(0),
                tokens: tokens.get(i).unwrap_or(0),
                token_count_method: req("token_count_method", i)?,
            },
        });
    }
    Ok(out)
}

/// The `tools` of row `i` (JSON text; null or a missing column: none).
fn tools_at(df: &DataFrame, i: usize) -> PolarsResult<Vec<Tool>> {
    if df.column("tools").is_err() {
        return Ok(Vec::new());
    }
    match str_at(df, "tools", i)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| polars_err!(ComputeError: "`tools` of row {i} is not a tool list: {e}")),
        None => Ok(Vec::new()),
    }
}

/// The examples of the snapshot folder `dir` (`examples.parquet`), each with its split.
pub fn read_examples(dir: &Path) -> Result<Vec<SplitExample>, StoreError> {
    let path = dir.join("examples.parquet");
    let df = read_parquet(&path)?;
    examples_from_frame(&df).map_err(|source| StoreError::Polars { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Role;

    fn example(id: &str, attributions: Vec<Attribution>, item: Option<&str>) -> Example {
        Example {
            id: id.into(),
            template: "explain-function".into(),
            template_hash: "ab12".into(),
            task: "explain_function".into(),
            doc_ids: vec!["d1".into(), "d2".into()],
            item: item.map(String::from),
            messages: vec![
                Message::new(Role::System, "You write Luau."),
                Message::new(
                    Role::User,
                    "What does `sum` do, with \"quotes\", commas, and\nlines?",
                ),
                Message::new(Role::Assistant, "It adds the values."),
            ],
            tools: Vec::new(),
            licenses: vec!["CC-BY-4.0".into(), "MIT".into()],
            attributions,
            code_lines: 7,
            tokens: 42,
            token_count_method: "estimate".into(),
        }
    }

    /// Examples through a real Parquet file and back: every field, the nested ones as list and
    /// struct columns (no JSON text), and the split of each.
    #[test]
    fn examples_round_trip_with_typed_nested_columns() {
        let with = vec![
            Attribution {
                title: "Loops".into(),
                url: "https://create.roblox.com/docs/tutorials/loops".into(),
                license: "CC-BY-4.0".into(),
                author: Some("Roblox".into()),
            },
            Attribution {
                title: "Untitled".into(),
                url: "https://example.com".into(),
                license: "MIT".into(),
                author: None,
            },
        ];
        // A tool conversation: parallel calls (one without an id), results, several exchanges.
        let args = |v: serde_json::Value| v.as_object().unwrap().clone();
        let mut agent = example("e3", Vec::new(), None);
        agent.messages = vec![
            Message::new(Role::User, "Make the part red."),
            Message::tool_calls(
                "",
                vec![
                    ToolCall::new(
                        Some("call_1"),
                        "get_instance_children",
                        args(serde_json::json!({"path": "Workspace"})),
                    ),
                    ToolCall::new(
                        None,
                        "run_code",
                        args(
                            serde_json::json!({"command": "print(1)", "n": [1, {"b": 2, "a": 1}]}),
                        ),
                    ),
                ],
            ),
            Message::tool_result(Some("call_1"), Some("get_instance_children"), "[\"Part\"]"),
            Message::tool_result(None, None, "1"),
            Message::new(Role::Assistant, "Done."),
            Message::new(Role::User, "Thanks"),
            Message::new(Role::Assistant, "You're welcome."),
        ];
        agent.tools = serde_json::from_value(serde_json::json!([{"type": "function", "function": {"name": "run_code", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}])).unwrap();
        let examples = vec![
            example("e1", with, Some("sum")),
            example("e2", Vec::new(), None),
            agent,
        ];
        let splits = vec![
            "train".to_string(),
            "valid".to_string(),
            "train".to_string(),
        ];
        let dir = tempfile::tempdir().unwrap();
        crate::store::write_parquet(
            &dir.path().join("examples.parquet"),
            examples_frame(&examples, &splits),
        )
        .unwrap();
        let df = read_parquet(&dir.path().join("examples.parquet")).unwrap();
        // The message struct's fields, the tool calls a typed list of structs in it.
        let DataType::List(inner) = df.column("messages").unwrap().dtype() else {
            panic!("messages is not a list")
        };
        let DataType::Struct(fields) = inner.as_ref() else {
            panic!("messages holds no structs")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["role", "content", "tool_calls", "tool_call_id", "name"]
        );
        assert!(
            matches!(fields[2].dtype(), DataType::List(c) if matches!(c.as_ref(), DataType::Struct(_))),
            "{:?}",
            fields[2].dtype()
        );
        for (name, nested) in [
            ("doc_ids", "list"),
            ("messages", "struct"),
            ("attributions", "struct"),
        ] {
            let dtype = df.column(name).unwrap().dtype().to_string();
            assert!(
                dtype.starts_with("list") && dtype.contains(nested),
                "{name}: {dtype}"
            );
        }
        let back = read_examples(dir.path()).unwrap();
        let expected: Vec<SplitExample> = examples
            .into_iter()
            .zip(splits)
            .map(|(example, split)| SplitExample { split, example })
            .collect();
        assert_eq!(back, expected);
    }
}
