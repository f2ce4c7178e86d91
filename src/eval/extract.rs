//! Answer extraction: find the Luau code in a model's reply, by one documented rule, and say
//! which branch of the rule was used so every result can be audited.
//!
//! The rule, in order:
//!
//! 0. If the reply contains `</think>`, only the text after the last `</think>` is considered
//!    (reasoning models draft code in their thoughts).
//! 1. Fenced code blocks (CommonMark, ``` or ~~~) whose info string starts with `lua` or `luau`
//!    in any case: the longest one wins, ties going to the later block. Models often follow the
//!    solution with a short usage example; the solution is the longer block.
//! 2. Otherwise, untagged fenced blocks that parse as Luau: longest wins, ties to the later one.
//! 3. Otherwise, the whole text, if it is not blank and parses as Luau.
//! 4. Otherwise there is no code.
//!
//! A task that expects a tool call reads the reply's calls instead ([`tool_calls`]): Qwen3's
//! (and Hermes') `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks after the
//! last `</think>`, or a reply that is one such JSON object; the code is then the value of the
//! task's code argument (rule `tool_call_argument`).
//!
//! This module never runs code; "parses" means full_moon's Luau grammar.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which branch of the extraction rule produced the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExtractionRule {
    /// Longest fenced block tagged lua/luau (ties: the later one).
    TaggedFence,
    /// Longest untagged fenced block that parses (ties: the later one).
    UntaggedFence,
    /// The whole reply parses as Luau.
    WholeText,
    /// Nothing that could be code.
    NoCode,
    /// There was no response to extract from.
    NoResponse,
    /// The code argument of the tool call the task expects.
    ToolCallArgument,
}

/// A tool call read from a reply: the function's name and its arguments (an object, or a
/// string holding one, parsed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplyToolCall {
    pub name: String,
    pub arguments: serde_json::Map<String, serde_json::Value>,
}

/// The tool calls of a reply, in order: every `<tool_call>...</tool_call>` block after the last
/// `</think>` whose body is a JSON object with a string `name` (and `arguments`, an object or a
/// string holding one); when there is no such block, the reply itself as one such object. A
/// block that is not valid JSON is skipped (it is not a call the tool runner could make).
pub fn tool_calls(reply: &str) -> Vec<ReplyToolCall> {
    let text = reply
        .rfind("</think>")
        .map_or(reply, |i| &reply[i + "</think>".len()..]);
    let parse = |body: &str| -> Option<ReplyToolCall> {
        let v: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
        let name = v.get("name")?.as_str()?.to_string();
        let arguments = match v.get("arguments") {
            Some(serde_json::Value::Object(m)) => m.clone(),
            Some(serde_json::Value::String(s)) => match serde_json::from_str(s).ok()? {
                serde_json::Value::Object(m) => m,
                _ => return None,
            },
            None => serde_json::Map::new(),
            Some(_) => return None,
        };
        Some(ReplyToolCall { name, arguments })
    };
    let mut calls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<tool_call>") {
        let body = &rest[start + "<tool_call>".len()..];
        let end = body.find("</tool_call>").unwrap_or(body.len());
        calls.extend(parse(&body[..end]));
        rest = &body[end..];
    }
    if calls.is_empty() {
        calls.extend(parse(text));
    }
    calls
}

/// The result of extraction, recorded per sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Extraction {
    pub rule: ExtractionRule,
    /// The extracted code, if any.
    pub code: Option<String>,
    /// 0-based index of the chosen block among all fenced blocks of the reply.
    pub block_index: Option<usize>,
    /// Fenced blocks seen, and how many were tagged lua/luau.
    pub fenced_blocks: usize,
    pub tagged_blocks: usize,
    /// Only the text after the last `</think>` was considered.
    pub after_think: bool,
}

struct Block {
    lang: Option<String>,
    text: String,
}

fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let lang = info.split_whitespace().next().map(|s| s.to_string());
                current = Some(Block {
                    lang,
                    text: String::new(),
                });
            }
            Event::Text(t) => {
                if let Some(b) = current.as_mut() {
                    b.text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(b) = current.take() {
                    blocks.push(b);
                }
            }
            _ => {}
        }
    }
    blocks
}

fn is_luau_tag(lang: &str) -> bool {
    let l = lang
        .trim_start_matches('{')
        .trim_start_matches('.')
        .to_ascii_lowercase();
    l == "lua" || l == "luau"
}

/// The longest candidate; among equals, the later one.
fn pick_longest<'a>(
    candidates: impl Iterator<Item = (usize, &'a Block)>,
) -> Option<(usize, &'a Block)> {
    let mut best: Option<(usize, &Block)> = None;
    for (i, b) in candidates {
        let len = b.text.trim().len();
        if best.is_none_or(|(_, cur)| len >= cur.text.trim().len()) {
            best = Some((i, b));
        }
    }
    best
}

/// Applies the extraction rule to a reply.
pub fn extract(reply: &str) -> Extraction {
    let (text, after_think) = match reply.rfind("</think>") {
        Some(i) => (&reply[i + "</think>".len()..], true),
        None => (reply, false),
    };
    let blocks = fenced_blocks(text);
    let tagged = blocks
        .iter()
        .filter(|b| b.lang.as_deref().is_some_and(is_luau_tag))
        .count();
    let mut out = Extraction {
        rule: ExtractionRule::NoCode,
        code: None,
        block_index: None,
        fenced_blocks: blocks.len(),
        tagged_blocks: tagged,
        after_think,
    };
    let tagged_pick = pick_longest(
        blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.lang.as_deref().is_some_and(is_luau_tag)),
    );
    if let Some((i, b)) = tagged_pick {
        out.rule = ExtractionRule::TaggedFence;
        out.code = Some(b.text.clone());
        out.block_index = Some(i);
        return out;
    }
    let untagged_pick = pick_longest(blocks.iter().enumerate().filter(|(_, b)| {
        b.lang.is_none() && !b.text.trim().is_empty() && crate::luau::parse_ast(&b.text).is_ok()
    }));
    if let Some((i, b)) = untagged_pick {
        out.rule = ExtractionRule::UntaggedFence;
        out.code = Some(b.text.clone());
        out.block_index = Some(i);
        return out;
    }
    if !text.trim().is_empty() && crate::luau::parse_ast(text).is_ok() {
        out.rule = ExtractionRule::WholeText;
        out.code = Some(text.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_are_read_from_qwen3_blocks_or_bare_json() {
        let reply = "<think>\n<tool_call>{\"name\": \"draft\"}</tool_call>\n</think>\n\nLooking.\n<tool_call>\n{\"name\": \"get_instance_children\", \"arguments\": {\"path\": \"Workspace\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"run_code\", \"arguments\": \"{\\\"command\\\": \\\"print(1)\\\"}\"}\n</tool_call>\n<tool_call>{broken</tool_call>";
        let calls = tool_calls(reply);
        let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["get_instance_children", "run_code"]);
        assert_eq!(calls[1].arguments["command"], "print(1)");
        let bare = tool_calls("{\"name\": \"run_code\", \"arguments\": {\"command\": \"x\"}}");
        assert_eq!(bare[0].arguments["command"], "x");
        assert!(tool_calls("local x = 1").is_empty());
    }

    #[test]
    fn longest_tagged_block_wins_in_any_case() {
        let reply = "Here:\n```LUA\nlocal function f()\n  return 1\nend\n```\nUsage:\n```luau\nprint(f())\n```\n";
        let e = extract(reply);
        assert_eq!(e.rule, ExtractionRule::TaggedFence);
        assert_eq!(e.block_index, Some(0));
        assert_eq!((e.fenced_blocks, e.tagged_blocks), (2, 2));
        assert!(e.code.unwrap().contains("return 1"));
    }

    #[test]
    fn equal_length_blocks_go_to_the_later_one() {
        let reply = "```lua\nlocal a = 1\n```\nfixed:\n```lua\nlocal a = 2\n```";
        let e = extract(reply);
        assert_eq!(e.block_index, Some(1));
        assert_eq!(e.code.as_deref(), Some("local a = 2\n"));
    }

    #[test]
    fn tagged_beats_longer_untagged_and_other_languages_are_ignored() {
        let reply = "```\nlocal x = 1\nlocal y = 2\nlocal z = 3\n```\n```python\nprint('hi there, long python block')\n```\n```lua\nreturn 1\n```";
        let e = extract(reply);
        assert_eq!(e.rule, ExtractionRule::TaggedFence);
        assert_eq!(e.code.as_deref(), Some("return 1\n"));
    }

    #[test]
    fn untagged_block_is_used_only_if_it_parses() {
        let reply = "```\nthis is not ( code\n```\n```\nlocal ok = true\n```";
        let e = extract(reply);
        assert_eq!(e.rule, ExtractionRule::UntaggedFence);
        assert_eq!(e.block_index, Some(1));
        let none = extract("```\nnot ( code\n```");
        assert_eq!(none.rule, ExtractionRule::NoCode);
        assert_eq!(none.code, None);
    }

    #[test]
    fn whole_text_when_it_parses() {
        let e = extract("local function f() return 2 end\n");
        assert_eq!(e.rule, ExtractionRule::WholeText);
        let prose = extract("I cannot help with that.");
        assert_eq!(prose.rule, ExtractionRule::NoCode);
        assert_eq!(extract("   \n").rule, ExtractionRule::NoCode);
    }

    #[test]
    fn unterminated_fence_runs_to_the_end() {
        let e = extract("```lua\nlocal x = 1\nlocal y = 2");
        assert_eq!(e.rule, ExtractionRule::TaggedFence);
        assert!(e.code.unwrap().contains("local y = 2"));
    }

    #[test]
    fn think_section_is_skipped() {
        let reply = "<think>\n```lua\nlocal draft = 'a much longer draft that would otherwise win'\n```\n</think>\n```lua\nlocal final = 1\n```";
        let e = extract(reply);
        assert!(e.after_think);
        assert_eq!(e.code.as_deref(), Some("local final = 1\n"));
    }

    #[test]
    fn parse_errors_have_positions() {
        let err = crate::luau::parse_ast("local x = 1\nlocal = 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            crate::luau::parse_ast("local x: number = 1\nx += 1\nlocal s = `v{x}`\n").is_ok(),
            "Luau syntax must parse"
        );
    }

    #[test]
    fn absurd_nesting_is_refused_without_parsing() {
        let code = "(".repeat(200_000);
        let err = crate::luau::parse_ast(&code).unwrap_err();
        assert!(err.message.contains("nesting depth"));
        assert_eq!(extract(&code).rule, ExtractionRule::NoCode);
    }
}
