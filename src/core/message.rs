//! The chat message: one record for a rendered example's turns, a training conversation, an
//! eval task's prompt and an export line. The shapes are OpenAI's chat format as mlx-lm reads it
//! (`{"messages": [...], "tools": [...]}`, ml-explore/mlx-lm `mlx_lm/tuner/datasets.py`, which
//! hands both to the model's chat template): a turn has a `role` and `content`; an assistant turn
//! may carry `tool_calls` (`{"id", "type": "function", "function": {"name", "arguments"}}`); a
//! `tool` turn answers a call (`tool_call_id`, `name`, `content`); a conversation may declare
//! `tools` (`{"type": "function", "function": {"name", "description", "parameters"}}`, the
//! parameters a JSON Schema).
//!
//! Two choices differ from OpenAI's wire format, both for the chat templates that render these
//! records: `arguments` is the JSON object itself, not a string holding it (Qwen3's template
//! writes it with `tojson`, Qwen3.5's iterates it with `items`; OpenAI's string form is accepted
//! on import and parsed), and `content` is never null (`""` for a turn that only calls tools:
//! Qwen3's template reads it as a string).
//!
//! [`Conversation::from_json`] is the one strict reader of such rows (imported datasets,
//! conversation templates): anything malformed is an error naming the field.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who speaks a turn.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool call, sent back to the model.
    Tool,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::System, Role::User, Role::Assistant, Role::Tool];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a tool or tool call; OpenAI's format has only functions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    #[default]
    Function,
}

/// A function call an assistant turn makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The call's id, which the answering `tool` turn names in `tool_call_id` (optional: many
    /// datasets match results to calls by position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    pub function: FunctionCall,
}

/// The function and arguments of a [`ToolCall`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionCall {
    pub name: String,
    /// The arguments as a JSON object (keys in the order written).
    pub arguments: Map<String, Value>,
}

impl ToolCall {
    pub fn new(id: Option<&str>, name: &str, arguments: Map<String, Value>) -> ToolCall {
        ToolCall {
            id: id.map(String::from),
            kind: ToolKind::Function,
            function: FunctionCall {
                name: name.to_string(),
                arguments,
            },
        }
    }

    /// The string values of the arguments (nested ones included), in order: where code,
    /// paths and text of a call are.
    pub fn string_arguments(&self) -> Vec<&str> {
        fn walk<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::String(s) => out.push(s),
                Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                Value::Object(m) => m.values().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.function
            .arguments
            .values()
            .for_each(|v| walk(v, &mut out));
        out
    }
}

/// A tool a conversation offers the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    pub function: FunctionSpec,
}

/// A function a [`Tool`] declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of the arguments object, as written (an arbitrary schema, so it stays
    /// free-form JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// One chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: Role,
    /// The text of the turn; `""` for an assistant turn that only calls tools.
    pub content: String,
    /// Assistant turns: the calls it makes, in order (parallel calls are several).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// `tool` turns: the id of the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// `tool` turns: the function whose result this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// An assistant turn that calls tools (with `content` before the calls, often empty).
    pub fn tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Message {
            tool_calls: calls,
            ..Message::new(Role::Assistant, content)
        }
    }

    /// A `tool` turn: the result of call `id` of function `name`.
    pub fn tool_result(id: Option<&str>, name: Option<&str>, content: impl Into<String>) -> Self {
        Message {
            tool_call_id: id.map(String::from),
            name: name.map(String::from),
            ..Message::new(Role::Tool, content)
        }
    }

    /// The string arguments of this turn's calls to one of `code_tools` (tools such as
    /// `run_code` whose arguments are Luau code by declaration), in order.
    pub fn code_arguments<'a>(&'a self, code_tools: &[String]) -> Vec<&'a str> {
        self.tool_calls
            .iter()
            .filter(|c| code_tools.contains(&c.function.name))
            .flat_map(|c| c.string_arguments())
            .collect()
    }

    /// Every text of the turn, in order: the content, then each call's name and its string
    /// arguments, then the tool result's name. What text audits (dedup, contamination) read.
    pub fn texts(&self) -> Vec<&str> {
        let mut out = vec![self.content.as_str()];
        for c in &self.tool_calls {
            out.push(&c.function.name);
            out.extend(c.string_arguments());
        }
        out.extend(self.name.as_deref());
        out.retain(|t| !t.is_empty());
        out
    }
}

/// Every text of the turns ([`Message::texts`]: contents, tool names, string arguments, tool
/// results), one per line: what text audits of a conversation (dedup, contamination) read.
pub fn conversation_text(messages: &[Message]) -> String {
    messages
        .iter()
        .flat_map(Message::texts)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A whole conversation: the turns and the tools they may call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
}

/// How many turns and calls a conversation has (recorded per imported row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChatCounts {
    /// Messages, every role counted.
    pub turns: u32,
    pub assistant_turns: u32,
    /// Tool calls over all assistant turns.
    pub tool_calls: u32,
    /// `tool` turns.
    pub tool_results: u32,
    /// Tools the conversation declares.
    pub tools: u32,
}

impl Conversation {
    pub fn counts(&self) -> ChatCounts {
        let of = |r: Role| self.messages.iter().filter(|m| m.role == r).count() as u32;
        ChatCounts {
            turns: self.messages.len() as u32,
            assistant_turns: of(Role::Assistant),
            tool_calls: self
                .messages
                .iter()
                .map(|m| m.tool_calls.len() as u32)
                .sum(),
            tool_results: of(Role::Tool),
            tools: self.tools.len() as u32,
        }
    }

    /// Reads `{"messages": [...], "tools": [...]}` strictly (other keys of the object are
    /// ignored; unknown keys of a message, call or tool are dropped, as trainers ignore them).
    /// Accepted beside the canonical shapes: `arguments` as a string holding a JSON object
    /// (OpenAI's wire format), a call or tool without the `function` wrapper (`{"name",
    /// "arguments"}`), and a null or missing `content` on an assistant turn that calls tools.
    /// Errors name the field: `messages[2].tool_calls[0].function.arguments is not a JSON
    /// object`.
    pub fn from_json(row: &Value) -> Result<Conversation, String> {
        let list = row
            .get("messages")
            .ok_or("row has no `messages`")?
            .as_array()
            .ok_or("`messages` must be an array")?;
        if list.is_empty() {
            return Err("`messages` is empty".into());
        }
        let mut messages = Vec::with_capacity(list.len());
        let mut call_ids: Vec<&str> = Vec::new();
        for (i, m) in list.iter().enumerate() {
            let at = format!("messages[{i}]");
            let msg = message_from_json(m, &at)?;
            if let Some(id) = &msg.tool_call_id {
                if !call_ids.contains(&id.as_str()) {
                    return Err(format!(
                        "{at}.tool_call_id `{id}` answers no tool call made before it"
                    ));
                }
            }
            call_ids.extend(
                m.get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("id").and_then(Value::as_str)),
            );
            messages.push(msg);
        }
        let tools = match row.get("tools") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, t)| tool_from_json(t, &format!("tools[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("`tools` must be an array".into()),
        };
        Ok(Conversation { messages, tools })
    }
}

fn string_field<'a>(obj: &'a Value, key: &str, at: &str) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "{at}.{key} must be a string, not {}",
            json_type(other)
        )),
    }
}

fn message_from_json(m: &Value, at: &str) -> Result<Message, String> {
    if !m.is_object() {
        return Err(format!("{at} must be an object"));
    }
    let role = m
        .get("role")
        .and_then(Value::as_str)
        .ok_or(format!("{at} has no string `role`"))?;
    let role = Role::parse(role).ok_or(format!(
        "{at} has unknown role `{role}` (system, user, assistant or tool)"
    ))?;
    let calls = match m.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if role == Role::Assistant => items
            .iter()
            .enumerate()
            .map(|(j, c)| call_from_json(c, &format!("{at}.tool_calls[{j}]")))
            .collect::<Result<_, _>>()?,
        Some(Value::Array(items)) if items.is_empty() => Vec::new(),
        Some(Value::Array(_)) => {
            return Err(format!(
                "{at}.tool_calls: only assistant turns call tools (this is a {role} turn)"
            ))
        }
        Some(other) => {
            return Err(format!(
                "{at}.tool_calls must be an array, not {}",
                json_type(other)
            ))
        }
    };
    let content = match string_field(m, "content", at) {
        Ok(Some(c)) => c.to_string(),
        Ok(None) if !calls.is_empty() => String::new(),
        Ok(None) => return Err(format!("{at} has no string `content`")),
        Err(_) => {
            let given = m.get("content").map_or("nothing", json_type);
            return Err(format!(
                "{at} has no string `content` ({given}; only text content is read)"
            ));
        }
    };
    let (tool_call_id, name) = (
        string_field(m, "tool_call_id", at)?,
        string_field(m, "name", at)?,
    );
    if role != Role::Tool && tool_call_id.is_some() {
        return Err(format!(
            "{at}.tool_call_id: only tool turns answer calls (this is a {role} turn)"
        ));
    }
    Ok(Message {
        role,
        content,
        tool_calls: calls,
        tool_call_id: tool_call_id.map(String::from),
        // A user or assistant `name` (OpenAI's participant name) is not a tool's: dropped.
        name: name.filter(|_| role == Role::Tool).map(String::from),
    })
}

/// `{"type": "function", "function": {...}}` or the bare `{...}`: the inner object.
fn function_of<'a>(v: &'a Value, at: &str) -> Result<(&'a Value, String), String> {
    if !v.is_object() {
        return Err(format!("{at} must be an object"));
    }
    match string_field(v, "type", at)? {
        None | Some("function") => {}
        Some(other) => return Err(format!("{at}.type is `{other}`; only `function` is known")),
    }
    match v.get("function") {
        Some(f @ Value::Object(_)) => Ok((f, format!("{at}.function"))),
        Some(other) => Err(format!(
            "{at}.function must be an object, not {}",
            json_type(other)
        )),
        None => Ok((v, at.to_string())),
    }
}

fn required_name(f: &Value, at: &str) -> Result<String, String> {
    match string_field(f, "name", at)? {
        Some(n) if !n.trim().is_empty() => Ok(n.to_string()),
        _ => Err(format!("{at}.name is missing or empty")),
    }
}

fn call_from_json(c: &Value, at: &str) -> Result<ToolCall, String> {
    let id = string_field(c, "id", at)?.map(String::from);
    let (f, at) = function_of(c, at)?;
    let name = required_name(f, &at)?;
    let arguments = match f.get("arguments") {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m,
            Ok(other) => {
                return Err(format!(
                    "{at}.arguments holds {}, not a JSON object",
                    json_type(&other)
                ))
            }
            Err(e) => return Err(format!("{at}.arguments is not valid JSON ({e})")),
        },
        None | Some(Value::Null) => return Err(format!("{at}.arguments is missing")),
        Some(other) => {
            return Err(format!(
                "{at}.arguments must be a JSON object (or a string holding one), not {}",
                json_type(other)
            ))
        }
    };
    Ok(ToolCall {
        id,
        kind: ToolKind::Function,
        function: FunctionCall { name, arguments },
    })
}

fn tool_from_json(t: &Value, at: &str) -> Result<Tool, String> {
    let (f, at) = function_of(t, at)?;
    let name = required_name(f, &at)?;
    let description = string_field(f, "description", &at)?.map(String::from);
    let parameters = match f.get("parameters") {
        None | Some(Value::Null) => None,
        Some(p @ Value::Object(_)) => Some(p.clone()),
        Some(other) => {
            return Err(format!(
                "{at}.parameters must be a JSON Schema object, not {}",
                json_type(other)
            ))
        }
    };
    Ok(Tool {
        kind: ToolKind::Function,
        function: FunctionSpec {
            name,
            description,
            parameters,
        },
    })
}

/// "a string", "an array", ... for error messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A row shaped like the tool-calling rows of public Roblox fine-tuning sets: an assistant
    /// turn with `tool_calls` and no content, parallel calls, results by id.
    fn agent_row() -> Value {
        json!({
            "messages": [
                {"role": "system", "content": "You drive Roblox Studio."},
                {"role": "user", "content": "Make the part red."},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_instance_children", "arguments": "{\"path\": \"Workspace\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "run_code", "arguments": {"command": "print(1)"}}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "name": "get_instance_children", "content": "[\"Part\"]"},
                {"role": "tool", "tool_call_id": "call_2", "content": "1"},
                {"role": "assistant", "content": "Done."}
            ],
            "tools": [{"type": "function", "function": {"name": "run_code", "description": "Runs Luau", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}]
        })
    }

    #[test]
    fn reads_tool_rows_into_the_canonical_shape() {
        let c = Conversation::from_json(&agent_row()).unwrap();
        assert_eq!(
            c.counts(),
            ChatCounts {
                turns: 6,
                assistant_turns: 2,
                tool_calls: 2,
                tool_results: 2,
                tools: 1
            }
        );
        assert_eq!(c.messages[2].content, "");
        assert_eq!(
            c.messages[2].tool_calls[0].function.arguments,
            json!({"path": "Workspace"}).as_object().unwrap().clone()
        );
        // The canonical JSON is OpenAI's shape with the arguments as an object, and reads back
        // to the same record.
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v["messages"][2],
            json!({"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_instance_children", "arguments": {"path": "Workspace"}}},
                {"id": "call_2", "type": "function", "function": {"name": "run_code", "arguments": {"command": "print(1)"}}}
            ]})
        );
        assert_eq!(
            v["messages"][3],
            json!({"role": "tool", "content": "[\"Part\"]", "tool_call_id": "call_1", "name": "get_instance_children"})
        );
        assert_eq!(Conversation::from_json(&v).unwrap(), c);
        assert_eq!(
            serde_json::from_value::<Conversation>(v.clone()).unwrap(),
            c
        );
        // Plain turns keep their old two-key shape.
        assert_eq!(
            v["messages"][1],
            json!({"role": "user", "content": "Make the part red."})
        );
        assert_eq!(
            c.messages[2].texts(),
            ["get_instance_children", "Workspace", "run_code", "print(1)"]
        );
    }

    #[test]
    fn bare_calls_and_tools_are_wrapped() {
        let row = json!({"messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "tool_calls": [{"name": "run_code", "arguments": {"command": "x"}}]}
        ], "tools": [{"name": "run_code", "parameters": {"type": "object"}}]});
        let c = Conversation::from_json(&row).unwrap();
        assert_eq!(c.messages[1].tool_calls[0].id, None);
        assert_eq!(c.tools[0].function.name, "run_code");
        assert_eq!(c.tools[0].kind, ToolKind::Function);
    }

    #[test]
    fn malformed_rows_name_the_field() {
        type Edit = fn(&mut Value);
        let with = |f: Edit| {
            let mut row = agent_row();
            f(&mut row);
            Conversation::from_json(&row).unwrap_err()
        };
        let cases: Vec<(Edit, &str)> = vec![
            (
                (|r| {
                    r["messages"][2]["tool_calls"][0]["function"]["arguments"] =
                        json!("{\"path\": ")
                }),
                "messages[2].tool_calls[0].function.arguments is not valid JSON",
            ),
            (
                (|r| r["messages"][2]["tool_calls"][0]["function"]["arguments"] = json!("[1]")),
                "messages[2].tool_calls[0].function.arguments holds an array, not a JSON object",
            ),
            (
                (|r| r["messages"][2]["tool_calls"][1]["function"]["name"] = json!("")),
                "messages[2].tool_calls[1].function.name is missing or empty",
            ),
            (
                (|r| {
                    r["messages"][2]["tool_calls"][1]["function"]
                        .as_object_mut()
                        .unwrap()
                        .remove("arguments")
                        .map(|_| ())
                        .unwrap()
                }),
                "messages[2].tool_calls[1].function.arguments is missing",
            ),
            (
                (|r| r["messages"][2]["tool_calls"][0]["type"] = json!("retrieval")),
                "messages[2].tool_calls[0].type is `retrieval`",
            ),
            (
                (|r| r["messages"][2]["tool_calls"] = json!({})),
                "messages[2].tool_calls must be an array, not an object",
            ),
            (
                (|r| r["messages"][1]["tool_calls"] = r["messages"][2]["tool_calls"].clone()),
                "messages[1].tool_calls: only assistant turns call tools",
            ),
            (
                (|r| r["messages"][3]["tool_call_id"] = json!("call_9")),
                "messages[3].tool_call_id `call_9` answers no tool call made before it",
            ),
            (
                (|r| r["messages"][4]["content"] = Value::Null),
                "messages[4] has no string `content`",
            ),
            (
                (|r| r["messages"][5]["content"] = json!([{"type": "text", "text": "x"}])),
                "messages[5] has no string `content` (an array; only text content is read)",
            ),
            (
                (|r| r["messages"][0]["role"] = json!("developer")),
                "messages[0] has unknown role `developer`",
            ),
            (
                (|r| r["tools"][0]["function"]["parameters"] = json!("object")),
                "tools[0].function.parameters must be a JSON Schema object, not a string",
            ),
            ((|r| r["tools"] = json!({})), "`tools` must be an array"),
        ];
        for (edit, want) in cases {
            let err = with(edit);
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        }
    }
}
