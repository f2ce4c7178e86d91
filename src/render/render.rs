//! From documents to examples: applies the gate, picks the templates that apply, renders them,
//! and drops examples that break the code-density rule or the token budget, keeping every drop
//! as an [`Exclusion`] record with its step and reason.
//!
//! Rendering is deterministic: the same documents, templates and options give the same
//! examples, in document order then template (name) order then function order, with the same
//! ids. It must never reorder by thread timing and never consult anything but its inputs.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::Value;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::core::{
    sha256_hex, Attribution, CandidateKind, Document, Example, Exclusion, Message, Role, Stage,
    Tool,
};
use crate::luau;
use crate::render::context::{
    document_code_lines, markdown_blocks, DocView, FunctionItem, Language,
};
use crate::render::template::{to_value, ForEach, Registry, Template, TurnError};
use crate::render::RenderError;

/// The default code-density rule: Luau lines the assistant turns must contain.
pub const DEFAULT_MIN_CODE_LINES: u32 = 5;
/// The tools whose call arguments are Luau code by default: the Roblox Studio MCP server's
/// `run_code` (`[audit] code-tools`).
pub const DEFAULT_CODE_TOOLS: &[&str] = &["run_code"];
/// The default token budget per example.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;
/// How tokens are counted without a tokenizer.
pub const ESTIMATE_METHOD: &str =
    "estimate: ceil(chars / 3.5), summed over message contents, tool calls and tools";

/// Steps named in [`Exclusion::step`].
pub const STEP_GATE: &str = "gate";
pub const STEP_RENDER: &str = "render";
pub const STEP_CODE_DENSITY: &str = "code_density";
pub const STEP_TOKEN_BUDGET: &str = "token_budget";

/// Reasons named in [`Exclusion::reason`] by rendering itself (the gate brings its own).
pub const REASON_NO_TEMPLATE: &str = "no_template";
pub const REASON_TEMPLATE_SKIPPED: &str = "template_skipped";
pub const REASON_TEMPLATE_ERROR: &str = "template_error";
pub const REASON_EMPTY_TURN: &str = "empty_turn";
pub const REASON_TOO_FEW_CODE_LINES: &str = "too_few_code_lines";
pub const REASON_OVER_TOKEN_BUDGET: &str = "over_token_budget";

/// Counts tokens with a Hugging Face `tokenizer.json`.
pub struct TokenCounter {
    tokenizer: tokenizers::Tokenizer,
    method: String,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("method", &self.method)
            .finish()
    }
}

impl TokenCounter {
    /// Loads a `tokenizer.json`. The method string records the file's sha256 so two runs with
    /// different tokenizers never look alike.
    pub fn from_file(path: &Path) -> Result<TokenCounter, RenderError> {
        let bytes = fs_err::read(path)?;
        let tokenizer =
            tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| RenderError::Tokenizer {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(TokenCounter {
            tokenizer,
            method: format!(
                "tokenizer.json sha256:{}, summed over message contents, tool calls and tools (no special tokens, no chat template)",
                &sha256_hex(&bytes)[..16]
            ),
        })
    }

    /// Tokens of `text`, without special tokens.
    pub fn count(&self, text: &str) -> u32 {
        match self.tokenizer.encode_fast(text, false) {
            Ok(enc) => enc.len() as u32,
            // A tokenizer that cannot encode some text (a WordLevel model without an unknown
            // token) gets the estimate rather than a silent zero.
            Err(_) => estimate_tokens(text),
        }
    }

    pub fn method(&self) -> &str {
        &self.method
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records serialize")
}

/// The documented estimate: ceil(chars / 3.5), chars being Unicode scalar values. Code tokenizes
/// denser than English prose (about 4 chars per token), so this errs towards more tokens.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count() as u64;
    (chars * 2).div_ceil(7) as u32
}

/// Settings of one rendering run.
#[derive(Debug)]
pub struct RenderOptions {
    /// The code-density rule: Luau lines the assistant turns of every example must contain
    /// (see [`conversation_code_lines`]).
    pub min_code_lines: u32,
    /// Tools whose string arguments are Luau code (`run_code`).
    pub code_tools: Vec<String>,
    /// Examples over this many tokens are dropped (`over_token_budget`); None: no budget.
    pub max_tokens: Option<u32>,
    /// Counts tokens with a tokenizer.json; None: [`ESTIMATE_METHOD`].
    pub tokenizer: Option<TokenCounter>,
    /// Licenses per document id, as the license audit decided them. A document not listed
    /// inherits the licenses its ingest evidence states (see [`evidence_licenses`]).
    pub licenses: BTreeMap<String, Vec<String>>,
    /// Only these templates (by name); empty: all.
    pub templates: Vec<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            min_code_lines: DEFAULT_MIN_CODE_LINES,
            code_tools: DEFAULT_CODE_TOOLS.iter().map(|t| t.to_string()).collect(),
            max_tokens: Some(DEFAULT_MAX_TOKENS),
            tokenizer: None,
            licenses: BTreeMap::new(),
            templates: Vec::new(),
        }
    }
}

impl RenderOptions {
    fn count_tokens(&self, messages: &[Message], tools: &[Tool]) -> (u32, String) {
        let count = |text: &str| match &self.tokenizer {
            Some(t) => t.count(text),
            None => estimate_tokens(text),
        };
        let total = messages
            .iter()
            .map(|m| {
                count(&m.content)
                    + m.tool_calls
                        .iter()
                        .map(|c| count(&c.function.name) + count(&json(&c.function.arguments)))
                        .sum::<u32>()
            })
            .sum::<u32>()
            + tools.iter().map(|t| count(&json(t))).sum::<u32>();
        let method = self
            .tokenizer
            .as_ref()
            .map_or(ESTIMATE_METHOD.to_string(), |t| t.method().to_string());
        (total, method)
    }
}

/// What [`render_examples`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderOutput {
    pub examples: Vec<Example>,
    pub excluded: Vec<Exclusion>,
}

impl RenderOutput {
    /// `examples` and `dropped_<reason>` counts.
    pub fn stats(&self) -> BTreeMap<String, u64> {
        let mut s = BTreeMap::new();
        s.insert("examples".to_string(), self.examples.len() as u64);
        for e in &self.excluded {
            *s.entry(format!("dropped_{}", e.reason)).or_default() += 1;
        }
        s
    }

    /// The template errors, which usually mean a template needs fixing rather than that a
    /// document is unfit: callers should show them.
    pub fn template_errors(&self) -> impl Iterator<Item = &Exclusion> {
        self.excluded
            .iter()
            .filter(|e| e.reason == REASON_TEMPLATE_ERROR)
    }
}

/// The licenses a document's examples inherit when the license audit gave none: what ingest
/// saw, strongest evidence first. An `SPDX-License-Identifier` in the file wins; then a
/// dataset row's own license; then a docs source's declared prose license (plus its code
/// license when the unit has code); then the source's declared license; then the nearest
/// package manifest. `NOASSERTION` when there is nothing. License files are not read here (their
/// text is the audit's business).
pub fn evidence_licenses(doc: &Document) -> Vec<String> {
    let p = &doc.provenance;
    let of = |kind: CandidateKind| -> Vec<String> {
        p.license_candidates
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.value.clone())
            .filter(|v| !v.starts_with("prose: ") && !v.starts_with("code: "))
            .collect()
    };
    for kind in [CandidateKind::SpdxTag, CandidateKind::Row] {
        let v = of(kind);
        if !v.is_empty() {
            return dedup(v);
        }
    }
    if let Some(prose) = &p.prose_license {
        let mut v = vec![prose.clone()];
        let has_code = !doc.code_blocks.is_empty() || doc.luau.is_some();
        if let Some(code) = p.code_license.as_ref().filter(|_| has_code) {
            v.push(code.clone());
        }
        return dedup(v);
    }
    let declared = of(CandidateKind::Declared);
    if !declared.is_empty() {
        return dedup(declared);
    }
    // Manifests come root first; the nearest one (a vendored package's own) speaks for the file.
    if let Some(nearest) = of(CandidateKind::PackageManifest).pop() {
        return vec![nearest];
    }
    vec!["NOASSERTION".to_string()]
}

fn dedup<T: PartialEq + Clone>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Luau code lines of an assistant turn: the sum over its fenced Luau blocks (tagged lua/luau,
/// or untagged and parsing as Luau), counted with [`luau::code_lines`]; when the content has
/// no fenced blocks at all and parses as Luau as a whole, its code lines; else 0.
pub fn assistant_code_lines(content: &str) -> u32 {
    let blocks = markdown_blocks(content);
    if blocks.is_empty() {
        if luau::parses(content) {
            luau::code_lines(content)
        } else {
            0
        }
    } else {
        blocks.iter().map(|b| b.code_lines).sum()
    }
}

/// Luau code lines of a conversation's assistant turns: [`assistant_code_lines`] of each
/// turn's content plus the code lines ([`luau::code_lines`]) of every string argument of its
/// calls to `code_tools` (a `run_code` call's code is Luau whether or not it is fenced).
pub fn conversation_code_lines(messages: &[Message], code_tools: &[String]) -> u32 {
    messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| {
            assistant_code_lines(&m.content)
                + m.code_arguments(code_tools)
                    .into_iter()
                    .map(luau::code_lines)
                    .sum::<u32>()
        })
        .sum()
}

/// The stable id of an example. Tool calls, tool-turn fields and tools are hashed only when
/// present, so a plain example keeps the id it always had.
pub fn example_id(
    template_hash: &str,
    doc_ids: &[String],
    messages: &[Message],
    tools: &[Tool],
) -> String {
    let mut h = blake3::Hasher::new();
    h.update(template_hash.as_bytes());
    h.update(&[0]);
    for id in doc_ids {
        h.update(id.as_bytes());
        h.update(&[0]);
    }
    h.update(&[1]);
    for m in messages {
        h.update(m.role.as_str().as_bytes());
        h.update(&[0]);
        h.update(m.content.as_bytes());
        h.update(&[0]);
        if !m.tool_calls.is_empty() || m.tool_call_id.is_some() || m.name.is_some() {
            h.update(&[2]);
            h.update(json(&(&m.tool_calls, &m.tool_call_id, &m.name)).as_bytes());
            h.update(&[0]);
        }
    }
    if !tools.is_empty() {
        h.update(&[3]);
        h.update(json(&tools).as_bytes());
    }
    h.finalize().to_hex()[..32].to_string()
}

/// Whether `t` applies to `doc` by its sidecar's `applies-to`.
pub fn applies(t: &Template, doc: &Document) -> bool {
    let a = &t.spec.applies_to;
    let p = &doc.provenance;
    (a.source_kinds.is_empty() || a.source_kinds.contains(&p.source_kind))
        && a.unit_kinds.contains(&p.unit_kind)
        && (a.languages.is_empty() || a.languages.contains(&Language::of(doc)))
        && document_code_lines(doc) >= a.min_code_lines
}

/// Renders every document that passes `gate` with every template that applies to it.
///
/// `gate` returns `Err("reason")` or `Err("reason: detail")` for a document that must not be
/// rendered (license profile, duplicate, contamination...); it is called once per document, in
/// order, on the calling thread. Rendering itself runs in parallel.
pub fn render_examples(
    docs: &[Document],
    registry: &Registry,
    opts: &RenderOptions,
    gate: &dyn Fn(&Document) -> Result<(), String>,
) -> RenderOutput {
    let templates: Vec<&Template> = registry
        .templates()
        .iter()
        .filter(|t| opts.templates.is_empty() || opts.templates.contains(&t.name))
        .collect();
    let verdicts: Vec<Result<(), String>> = docs.iter().map(gate).collect();
    let per_doc: Vec<Vec<Result<Example, Exclusion>>> = docs
        .par_iter()
        .zip(verdicts.par_iter())
        .map(|(doc, verdict)| match verdict {
            Err(why) => {
                let (reason, detail) = match why.split_once(':') {
                    Some((r, d)) => (r.trim().to_string(), d.trim().to_string()),
                    None => (why.trim().to_string(), String::new()),
                };
                vec![Err(Exclusion::document(
                    Stage::Render,
                    STEP_GATE,
                    doc.id.clone(),
                    reason,
                    detail,
                ))]
            }
            Ok(()) => render_document(doc, registry, &templates, opts),
        })
        .collect();
    let mut out = RenderOutput::default();
    for r in per_doc.into_iter().flatten() {
        match r {
            Ok(e) => out.examples.push(e),
            Err(x) => out.excluded.push(x),
        }
    }
    out
}

fn render_document(
    doc: &Document,
    registry: &Registry,
    templates: &[&Template],
    opts: &RenderOptions,
) -> Vec<Result<Example, Exclusion>> {
    let excluded =
        |t: Option<&Template>, item: Option<&str>, step: &str, reason: &str, detail: String| {
            Exclusion {
                template: t.map(|t| t.name.clone()),
                item: item.map(String::from),
                ..Exclusion::document(Stage::Render, step, doc.id.clone(), reason, detail)
            }
        };
    let applicable: Vec<&Template> = templates
        .iter()
        .copied()
        .filter(|t| applies(t, doc))
        .collect();
    if applicable.is_empty() {
        let p = &doc.provenance;
        return vec![Err(excluded(
            None,
            None,
            STEP_RENDER,
            REASON_NO_TEMPLATE,
            format!(
                "no template applies to a {} unit from a {} source ({:?} language, {} Luau code lines)",
                p.unit_kind.as_str(),
                p.source_kind.as_str(),
                Language::of(doc),
                document_code_lines(doc)
            ),
        ))];
    }
    let licenses = opts
        .licenses
        .get(&doc.id)
        .cloned()
        .map(dedup)
        .unwrap_or_else(|| evidence_licenses(doc));
    let attributions: Vec<Attribution> = doc.provenance.attribution.iter().cloned().collect();
    let view = DocView::new(doc, licenses.clone());
    let doc_value = to_value(&view);
    let mut out = Vec::new();
    for t in applicable {
        let items: Vec<Option<&crate::render::FunctionView>> = match t.spec.for_each {
            ForEach::Document => vec![None],
            ForEach::Function => view.functions.iter().map(Some).collect(),
        };
        if items.is_empty() {
            out.push(Err(excluded(
                Some(t),
                None,
                STEP_RENDER,
                REASON_TEMPLATE_SKIPPED,
                "the template renders once per top-level function and the document has none".into(),
            )));
            continue;
        }
        for item in items {
            let item_name = item.map(|f| f.name.as_str());
            let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
            ctx.insert("doc".into(), doc_value.clone());
            if let Some(f) = item {
                ctx.insert(
                    "function".into(),
                    to_value(&FunctionItem::new(&doc.text, f)),
                );
            }
            ctx.insert(
                "template".into(),
                to_value(&BTreeMap::from([("name", &t.name), ("task", &t.spec.task)])),
            );
            let conversation = match registry.render_turns(t, Value::from(ctx)) {
                Ok(c) => c,
                Err(e) => {
                    let (reason, detail) = match e {
                        TurnError::Skip(r) => (REASON_TEMPLATE_SKIPPED, r),
                        TurnError::Template(m) => (REASON_TEMPLATE_ERROR, m),
                        e @ TurnError::EmptyTurn(_) => (REASON_EMPTY_TURN, e.to_string()),
                    };
                    out.push(Err(excluded(
                        Some(t),
                        item_name,
                        STEP_RENDER,
                        reason,
                        detail,
                    )));
                    continue;
                }
            };
            let (messages, tools) = (conversation.messages, conversation.tools);
            let doc_ids = vec![doc.id.clone()];
            let id = example_id(&t.hash, &doc_ids, &messages, &tools);
            let code_lines = conversation_code_lines(&messages, &opts.code_tools);
            if code_lines < opts.min_code_lines {
                let mut x = excluded(
                    Some(t),
                    item_name,
                    STEP_CODE_DENSITY,
                    REASON_TOO_FEW_CODE_LINES,
                    format!(
                        "{code_lines} Luau code lines in the assistant turns; at least {} required",
                        opts.min_code_lines
                    ),
                );
                x.example_id = Some(id);
                out.push(Err(x));
                continue;
            }
            let (tokens, token_count_method) = opts.count_tokens(&messages, &tools);
            if let Some(max) = opts.max_tokens.filter(|&m| tokens > m) {
                let mut x = excluded(
                    Some(t),
                    item_name,
                    STEP_TOKEN_BUDGET,
                    REASON_OVER_TOKEN_BUDGET,
                    format!("{tokens} tokens > budget {max} ({token_count_method})"),
                );
                x.example_id = Some(id);
                out.push(Err(x));
                continue;
            }
            out.push(Ok(Example {
                id,
                template: t.name.clone(),
                template_hash: t.hash.clone(),
                task: t.spec.task.clone(),
                doc_ids,
                item: item_name.map(String::from),
                messages,
                tools,
                licenses: licenses.clone(),
                attributions: attributions.clone(),
                code_lines,
                tokens,
                token_count_method,
            }));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::{Document, UnitKind};
    use crate::ingest::{evidence, manifest, units};
    use crate::render::template::{template_hash, trim_turn, Registry};
    use crate::render::{write_builtin_templates, BUILTIN_TEMPLATES};
    use crate::sample;
    use crate::store::EvidenceFile;

    const LUAU_MANIFEST: &str = "kind = \"git\"\nurl = \"https://example.com/luau-utils\"\nrev = \"main\"\nrights-basis = \"open_source\"\nexpected-license = \"MIT\"\n";
    const DOCS_MANIFEST: &str = "kind = \"docs\"\nurl = \"https://example.com/creator-docs-sample\"\nrev = \"main\"\nrights-basis = \"open_source\"\ncontent-root = \"content/en-us\"\nsite-url = \"https://create.roblox.com/docs\"\nprose-license = \"CC-BY-4.0\"\ncode-license = \"MIT\"\nauthor = \"vcurate sample authors\"\n";

    /// The documents ingest makes of one sample repository: the real manifest parser, decoder,
    /// docs splitter, Luau analysis and license evidence, without git.
    fn ingest_sample(repo: &str, manifest_text: &str) -> Vec<Document> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{repo}.toml"));
        let source = manifest::parse(&path, manifest_text, dir.path()).unwrap();
        let ctx = units::UnitContext {
            source: &source,
            url: source.declared_location(),
            commit: Some("0".repeat(40)),
            ingest_time: "2025-01-01T00:00:00Z".into(),
        };
        let files: Vec<_> = sample::files_of(repo).collect();
        let ev: Vec<EvidenceFile> = files
            .iter()
            .filter(|f| evidence::evidence_kind(f.path).is_some())
            .map(|f| EvidenceFile {
                source_id: source.id.clone(),
                path: f.path.to_string(),
                blob_id: None,
                text: f.contents.to_string(),
            })
            .collect();
        let filter = units::PathFilter::new(&source);
        let mut docs = Vec::new();
        for f in files {
            if filter.excluded(f.path).is_some() {
                continue;
            }
            let dec = units::decode(f.contents.as_bytes(), u64::MAX).unwrap();
            let cands = evidence::tree_candidates(f.path, &ev);
            if let Ok(d) = units::file_documents(&ctx, f.path, None, dec, cands) {
                docs.extend(d);
            }
        }
        docs
    }

    /// The sample chat dataset through the real JSONL ingester.
    fn ingest_chat() -> Vec<Document> {
        ingest_rows(sample::file(sample::CHAT, "chat.jsonl").unwrap().contents)
    }

    pub(crate) fn sample_documents() -> Vec<Document> {
        let mut docs = ingest_sample(sample::LUAU_UTILS, LUAU_MANIFEST);
        docs.extend(ingest_sample(sample::CREATOR_DOCS, DOCS_MANIFEST));
        docs.extend(ingest_chat());
        docs
    }

    fn by_path<'a>(docs: &'a [Document], path: &str) -> &'a Document {
        docs.iter()
            .find(|d| d.provenance.path == path && d.provenance.unit_kind == UnitKind::File)
            .unwrap_or_else(|| panic!("no document for {path}"))
    }

    fn only(template: &str) -> RenderOptions {
        RenderOptions {
            templates: vec![template.into()],
            ..Default::default()
        }
    }

    fn pass(_: &Document) -> Result<(), String> {
        Ok(())
    }

    fn content(e: &Example, role: Role) -> &str {
        &e.messages.iter().find(|m| m.role == role).unwrap().content
    }

    #[test]
    fn every_document_is_accounted_for_and_every_example_obeys_the_rules() {
        let docs = sample_documents();
        let reg = Registry::builtin().unwrap();
        let opts = RenderOptions::default();
        let out = render_examples(&docs, &reg, &opts, &pass);
        assert_eq!(
            out.template_errors().count(),
            0,
            "{:#?}",
            out.template_errors().collect::<Vec<_>>()
        );
        for d in &docs {
            let seen = out.examples.iter().any(|e| e.doc_ids.contains(&d.id))
                || out.excluded.iter().any(|x| x.document_ids.contains(&d.id));
            assert!(
                seen,
                "{} ({:?}) vanished without a record",
                d.provenance.path, d.provenance.unit_name
            );
        }
        let mut ids: Vec<&str> = out.examples.iter().map(|e| e.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), out.examples.len(), "example ids are unique");
        for e in &out.examples {
            assert_eq!(e.messages.last().unwrap().role, Role::Assistant);
            assert!(e.code_lines >= opts.min_code_lines, "{}", e.id);
            assert_eq!(
                e.code_lines,
                assistant_code_lines(content(e, Role::Assistant))
            );
            assert!(e.tokens <= DEFAULT_MAX_TOKENS);
            assert_eq!(e.token_count_method, ESTIMATE_METHOD);
            let t = reg.get(&e.template).unwrap();
            assert_eq!(e.template_hash, t.hash);
            assert_eq!(e.task, t.spec.task);
            assert_eq!(
                e.id,
                example_id(&e.template_hash, &e.doc_ids, &e.messages, &e.tools)
            );
        }
        // Every built-in template finds work in the sample corpus.
        for (name, _, _) in BUILTIN_TEMPLATES {
            assert!(
                out.examples.iter().any(|e| e.template == *name),
                "no example from {name}"
            );
        }
    }

    #[test]
    fn implement_module_prompts_with_description_and_signatures() {
        let docs = sample_documents();
        let signal = by_path(&docs, "src/Signal.luau");
        let reg = Registry::builtin().unwrap();
        let opts = only("implement-module");
        let out = render_examples(std::slice::from_ref(signal), &reg, &opts, &pass);
        assert_eq!(out.examples.len(), 1, "{:#?}", out.excluded);
        let e = &out.examples[0];
        let user = content(e, Role::User);
        assert!(user.contains("`Signal.luau`"), "{user}");
        assert!(
            user.contains("A pure-Luau signal: connect handlers"),
            "{user}"
        );
        let analysis = crate::luau::analyze(&signal.text);
        for f in &analysis.functions {
            assert!(
                user.contains(&format!("`function {}(", f.name)),
                "{} missing from {user}",
                f.name
            );
        }
        let assistant = content(e, Role::Assistant);
        assert!(assistant.starts_with("```luau\n") && assistant.ends_with("\n```"));
        assert!(
            assistant.contains(signal.text.trim_end()),
            "the answer is the file as written"
        );
        assert_eq!(e.code_lines, analysis.code_lines);
        assert_eq!(e.doc_ids, vec![signal.id.clone()]);
        assert_eq!(e.licenses, vec!["MIT".to_string()], "from wally.toml");
        assert_eq!(e.messages[0].role, Role::System);
    }

    #[test]
    fn complete_function_makes_one_example_per_function_with_enough_code() {
        let docs = sample_documents();
        let signal = by_path(&docs, "src/Signal.luau");
        let reg = Registry::builtin().unwrap();
        let opts = only("complete-function");
        let out = render_examples(std::slice::from_ref(signal), &reg, &opts, &pass);
        let view = DocView::new(signal, vec![]);
        assert!(view.functions.len() >= 5);
        for f in &view.functions {
            let made: Vec<&Example> = out
                .examples
                .iter()
                .filter(|e| e.item.as_deref() == Some(f.name.as_str()))
                .collect();
            let dropped: Vec<&Exclusion> = out
                .excluded
                .iter()
                .filter(|x| x.item.as_deref() == Some(f.name.as_str()))
                .collect();
            if f.code_lines >= DEFAULT_MIN_CODE_LINES {
                assert_eq!((made.len(), dropped.len()), (1, 0), "{}", f.name);
                let e = made[0];
                let user = content(e, Role::User);
                assert!(user.contains("-- TODO: implement"), "{user}");
                assert!(user.contains(f.signature.trim_end()), "{user}");
                // The body is gone from the prompt; the rest of the file is there.
                let first_body_line = f.body.lines().find(|l| !l.trim().is_empty()).unwrap();
                assert_eq!(
                    user.matches(first_body_line).count(),
                    signal.text.matches(first_body_line).count() - 1,
                    "{}",
                    f.name
                );
                assert!(user.contains("return Signal"));
                assert_eq!(
                    content(e, Role::Assistant),
                    format!("```luau\n{}\n```", f.code.trim_end())
                );
            } else {
                assert_eq!((made.len(), dropped.len()), (0, 1), "{}", f.name);
                assert_eq!(dropped[0].reason, REASON_TOO_FEW_CODE_LINES);
                assert_eq!(dropped[0].step, STEP_CODE_DENSITY);
                assert!(dropped[0].example_id.is_some());
            }
        }
    }

    #[test]
    fn explain_code_strips_comments_from_the_prompt_only() {
        let docs = sample_documents();
        let signal = by_path(&docs, "src/Signal.luau");
        let reg = Registry::builtin().unwrap();
        let opts = only("explain-code");
        let out = render_examples(std::slice::from_ref(signal), &reg, &opts, &pass);
        assert_eq!(out.examples.len(), 1, "{:#?}", out.excluded);
        let e = &out.examples[0];
        let user = content(e, Role::User);
        let code_comments = user
            .lines()
            .filter(|l| l.trim_start().starts_with("--") && !l.starts_with("--!"))
            .count();
        assert_eq!(code_comments, 0, "{user}");
        assert!(user.contains("function Signal:Fire(...: any)"));
        let assistant = content(e, Role::Assistant);
        assert!(assistant.starts_with("A pure-Luau signal: connect handlers, fire values to them, or wait for the next firing."), "{assistant}");
        assert!(assistant
            .contains("-- Iterate over a snapshot so handlers may disconnect while we fire."));
    }

    #[test]
    fn docs_sections_become_how_do_i_questions_with_prose_and_code_licenses() {
        let docs = sample_documents();
        let reg = Registry::builtin().unwrap();
        let opts = only("docs-how-do-i");
        let out = render_examples(&docs, &reg, &opts, &pass);
        let section = docs
            .iter()
            .find(|d| d.provenance.unit_name.as_deref() == Some("Client to server"))
            .unwrap();
        let e = out
            .examples
            .iter()
            .find(|e| e.doc_ids == vec![section.id.clone()])
            .expect("an example from the section");
        // A noun heading is asked how it works, with the page title as context in front.
        assert_eq!(
            content(e, Role::User),
            "I'm working with remote events in Roblox. How does client to server work? Please include Luau code."
        );
        let a = content(e, Role::Assistant);
        assert!(!a.contains("Class."), "API links are made plain: {a}");
        assert!(
            a.contains("`Player`") && a.contains("requestJump.OnServerEvent:Connect"),
            "{a}"
        );
        assert!(
            !a.starts_with('#'),
            "the heading is the question, not part of the answer"
        );
        assert_eq!(e.licenses, vec!["CC-BY-4.0".to_string(), "MIT".to_string()]);
        assert_eq!(e.attributions.len(), 1);
        assert!(
            e.attributions[0].url.ends_with("#client-to-server"),
            "{:?}",
            e.attributions
        );
        // Imperative headings are asked as they are, after the page's topic.
        let create = docs
            .iter()
            .find(|d| d.provenance.unit_name.as_deref() == Some("Create a module"))
            .unwrap();
        if let Some(e) = out
            .examples
            .iter()
            .find(|e| e.doc_ids == vec![create.id.clone()])
        {
            assert_eq!(
                content(e, Role::User),
                "I'm reusing code with module scripts in Roblox. How do I create a module? Please include Luau code."
            );
        }
        // Every docs example carries code, no example comes from a section without Luau.
        for e in &out.examples {
            let d = docs.iter().find(|d| d.id == e.doc_ids[0]).unwrap();
            assert!(d.code_blocks.iter().any(|b| b.is_luau));
        }
    }

    #[test]
    fn api_entries_with_enough_code_show_usage() {
        let docs = sample_documents();
        let reg = Registry::builtin().unwrap();
        let opts = only("api-usage");
        let out = render_examples(&docs, &reg, &opts, &pass);
        let page = docs
            .iter()
            .find(|d| {
                d.provenance.unit_kind == UnitKind::ApiPage
                    && d.provenance.unit_name.as_deref() == Some("TweenService")
            })
            .unwrap();
        let e = out
            .examples
            .iter()
            .find(|e| e.doc_ids == vec![page.id.clone()])
            .expect("TweenService page example");
        assert_eq!(
            content(e, Role::User),
            "How do I use TweenService in a Roblox script? Show an example in Luau."
        );
        let a = content(e, Role::Assistant);
        assert!(a.contains("TweenService:Create(door, info"), "{a}");
        assert!(!a.contains("Code samples (ids)"), "{a}");
        // Members whose reference has a Luau example too short for the density rule are
        // dropped with that reason, not silently.
        for d in docs
            .iter()
            .filter(|d| d.provenance.unit_kind == UnitKind::ApiMember)
        {
            let luau_lines: u32 = d
                .code_blocks
                .iter()
                .filter(|b| b.is_luau)
                .map(|b| b.code_lines)
                .sum();
            let made = out.examples.iter().any(|e| e.doc_ids[0] == d.id);
            let dropped = out.excluded.iter().find(|x| x.document_ids[0] == d.id);
            match luau_lines {
                0 => assert_eq!(dropped.map(|x| x.reason.as_str()), Some(REASON_NO_TEMPLATE)),
                n if n < DEFAULT_MIN_CODE_LINES => assert_eq!(
                    dropped.map(|x| x.reason.as_str()),
                    Some(REASON_TOO_FEW_CODE_LINES),
                    "{:?}",
                    d.provenance.unit_name
                ),
                _ => assert!(made, "{:?}", d.provenance.unit_name),
            }
        }
    }

    /// Tool-calling and multi-turn rows shaped like public Roblox agent datasets: parallel
    /// calls to MCP tools, results by id, a `run_code` call whose code is the only Luau, and a
    /// row that ends with a tool result (nothing to train on).
    pub(crate) const AGENT_ROWS: &str = r#"{"messages": [{"role": "system", "content": "You drive Roblox Studio."}, {"role": "user", "content": "Make every part under Workspace.Obby red."}, {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_instance_children", "arguments": "{\"path\": \"Workspace.Obby\"}"}}, {"id": "call_2", "type": "function", "function": {"name": "run_code", "arguments": "{\"command\": \"local n = 0\\nfor _, p in workspace.Obby:GetChildren() do\\n\\tif p:IsA(\\\"BasePart\\\") then\\n\\t\\tp.Color = Color3.new(1, 0, 0)\\n\\t\\tn += 1\\n\\tend\\nend\\nprint(n)\"}"}}]}, {"role": "tool", "tool_call_id": "call_1", "name": "get_instance_children", "content": "[\"Stage1\", \"Stage2\"]"}, {"role": "tool", "tool_call_id": "call_2", "name": "run_code", "content": "2"}, {"role": "assistant", "content": "Both stages are red now."}], "tools": [{"type": "function", "function": {"name": "run_code", "description": "Run Luau in Studio", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}, {"type": "function", "function": {"name": "get_instance_children", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]}
{"messages": [{"role": "user", "content": "How do I wait?"}, {"role": "assistant", "content": "Use task.wait."}, {"role": "user", "content": "And in a loop?"}, {"role": "assistant", "content": "```lua\nwhile true do\n\ttask.wait(1)\n\tprint(\"tick\")\nend\nprint(\"never\")\n```"}]}
{"messages": [{"role": "user", "content": "Run it."}, {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "run_code", "arguments": {"command": "print(1)"}}}]}, {"role": "tool", "tool_call_id": "c1", "content": "1"}]}
"#;

    /// Rows through the real JSONL ingester.
    pub(crate) fn ingest_rows(rows: &str) -> Vec<Document> {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("chat.jsonl"), rows).unwrap();
        let path = dir.path().join("chat.toml");
        let text = "kind = \"jsonl\"\npath = \"chat.jsonl\"\nrights-basis = \"generated\"\nlicense = \"MIT\"\n\n[fields]\nsource = \"meta.source\"\nlicense = \"meta.license\"\n";
        let source = manifest::parse(&path, text, dir.path()).unwrap();
        let ctx = units::UnitContext {
            source: &source,
            url: source.declared_location(),
            commit: None,
            ingest_time: "2025-01-01T00:00:00Z".into(),
        };
        let store = dir.path().join("store");
        let mut out = crate::store::SourceWriter::new(&store, &source.id).unwrap();
        let tables = crate::ingest::jsonl::ingest(&ctx, &mut out, &|_| {}).unwrap();
        let state = crate::store::SourceState {
            source_id: source.id.clone(),
            kind: source.kind.as_str().into(),
            url: ctx.url.clone(),
            commit: None,
            manifest_hash: source.manifest_hash.clone(),
            tool_version: crate::TOOL_VERSION.into(),
            documents: out.documents,
            skipped: tables.skipped.len() as u64,
            parse_failures: 0,
        };
        out.finish(&state, &tables.skipped, &tables.evidence)
            .unwrap();
        crate::store::all_documents(&store).unwrap()
    }

    /// Every imported row passes through whole, as the row has it (contents trimmed): one
    /// exchange or several, tool calls, tool results and tools; a row that does not end with
    /// an assistant turn is skipped, naming its roles.
    #[test]
    fn chat_rows_pass_through_whole() {
        let mut docs: Vec<Document> = sample_documents()
            .into_iter()
            .filter(|d| d.provenance.unit_kind == UnitKind::ChatExample)
            .collect();
        assert!(docs.len() >= 5);
        let agent_docs = ingest_rows(AGENT_ROWS);
        assert_eq!(agent_docs.len(), 3, "every agent row imports");
        docs.extend(agent_docs);
        let reg = Registry::builtin().unwrap();
        let opts = RenderOptions {
            min_code_lines: 0,
            ..only("chat-passthrough")
        };
        let out = render_examples(&docs, &reg, &opts, &pass);
        for d in &docs {
            let row: serde_json::Value = serde_json::from_str(&d.text).unwrap();
            let mut want = match row.get("messages") {
                Some(_) => crate::core::Conversation::from_json(&row).unwrap(),
                None => crate::core::Conversation {
                    messages: vec![
                        Message::new(Role::User, row["prompt"].as_str().unwrap()),
                        Message::new(Role::Assistant, row["completion"].as_str().unwrap()),
                    ],
                    tools: Vec::new(),
                },
            };
            for m in &mut want.messages {
                m.content = trim_turn(&m.content);
            }
            let ends_with_answer = want.messages.last().unwrap().role == Role::Assistant;
            match out.examples.iter().find(|e| e.doc_ids[0] == d.id) {
                Some(e) => {
                    assert!(ends_with_answer);
                    assert_eq!(e.messages, want.messages);
                    assert_eq!(e.tools, want.tools);
                    assert_eq!(e.licenses, evidence_licenses(d), "the row's own license");
                }
                None => {
                    assert!(!ends_with_answer);
                    let x = out
                        .excluded
                        .iter()
                        .find(|x| x.document_ids[0] == d.id)
                        .unwrap();
                    assert_eq!(x.reason, REASON_TEMPLATE_SKIPPED);
                    assert!(
                        x.detail.contains("roles: user, assistant, tool"),
                        "{}",
                        x.detail
                    );
                }
            }
        }
        let agent = out.examples.iter().find(|e| !e.tools.is_empty()).unwrap();
        assert_eq!(agent.messages.len(), 6);
        assert_eq!(agent.messages[2].tool_calls.len(), 2);
        assert_eq!(agent.tools.len(), 2);
        // The density rule applies to imported rows too; the code of a `run_code` call counts
        // (it is the agent row's only Luau), and every assistant turn's fenced blocks count.
        assert_eq!(agent.code_lines, 8);
        let multi = out
            .examples
            .iter()
            .find(|e| e.messages.len() == 4 && e.messages[0].content == "How do I wait?")
            .unwrap();
        assert_eq!(multi.code_lines, 5);
        let dense = render_examples(&docs, &reg, &only("chat-passthrough"), &pass);
        for e in &out.examples {
            let kept = dense.examples.iter().any(|k| k.id == e.id);
            assert_eq!(kept, e.code_lines >= DEFAULT_MIN_CODE_LINES);
        }
        let no_code_tools = RenderOptions {
            min_code_lines: 0,
            code_tools: Vec::new(),
            ..only("chat-passthrough")
        };
        let without = render_examples(&docs, &reg, &no_code_tools, &pass);
        let same = without.examples.iter().find(|e| e.id == agent.id).unwrap();
        assert_eq!(same.code_lines, 0, "no tool declared as code");
    }

    #[test]
    fn the_gate_excludes_with_its_reason() {
        let docs = sample_documents();
        let reg = Registry::builtin().unwrap();
        let gate = |d: &Document| {
            if d.provenance.path.ends_with("Spring.luau") {
                Err("license_denied: MPL-2.0 is not in the train profile".to_string())
            } else if d.provenance.path.starts_with("examples/") {
                Err("duplicate".to_string())
            } else {
                Ok(())
            }
        };
        let out = render_examples(&docs, &reg, &RenderOptions::default(), &gate);
        let spring = by_path(&docs, "src/Spring.luau");
        assert!(out.examples.iter().all(|e| !e.doc_ids.contains(&spring.id)));
        let x: Vec<&Exclusion> = out
            .excluded
            .iter()
            .filter(|x| x.document_ids.contains(&spring.id))
            .collect();
        assert_eq!(x.len(), 1);
        assert_eq!(
            (
                x[0].step.as_str(),
                x[0].reason.as_str(),
                x[0].detail.as_str()
            ),
            (
                STEP_GATE,
                "license_denied",
                "MPL-2.0 is not in the train profile"
            )
        );
        let dup = by_path(&docs, "examples/Signal.luau");
        let x = out
            .excluded
            .iter()
            .find(|x| x.document_ids.contains(&dup.id))
            .unwrap();
        assert_eq!((x.reason.as_str(), x.detail.as_str()), ("duplicate", ""));
        // Without the gate Spring renders, and inherits its SPDX tag over the repo's MIT.
        let out = render_examples(
            std::slice::from_ref(spring),
            &reg,
            &RenderOptions::default(),
            &pass,
        );
        assert!(!out.examples.is_empty());
        assert!(out
            .examples
            .iter()
            .all(|e| e.licenses == vec!["MPL-2.0".to_string()]));
    }

    #[test]
    fn density_rule_is_configurable() {
        let docs = sample_documents();
        let reg = Registry::builtin().unwrap();
        let count = |min: u32| {
            let opts = RenderOptions {
                min_code_lines: min,
                ..Default::default()
            };
            let out = render_examples(&docs, &reg, &opts, &pass);
            assert!(out.examples.iter().all(|e| e.code_lines >= min));
            let dropped = out
                .excluded
                .iter()
                .filter(|x| x.reason == REASON_TOO_FEW_CODE_LINES)
                .count();
            (out.examples.len(), dropped)
        };
        let (loose, loose_dropped) = count(0);
        let (default, default_dropped) = count(DEFAULT_MIN_CODE_LINES);
        let (strict, _) = count(10_000);
        assert_eq!(loose_dropped, 0);
        assert!(
            loose > default && default > strict && strict == 0,
            "{loose} {default} {strict}"
        );
        assert_eq!(
            loose,
            default + default_dropped,
            "every extra example at 0 was a density drop at 5"
        );
    }

    #[test]
    fn token_budget_drops_long_examples_with_the_count() {
        let docs = sample_documents();
        let reg = Registry::builtin().unwrap();
        let unbounded = render_examples(
            &docs,
            &reg,
            &RenderOptions {
                max_tokens: None,
                ..Default::default()
            },
            &pass,
        );
        let mut tokens: Vec<u32> = unbounded.examples.iter().map(|e| e.tokens).collect();
        tokens.sort();
        let budget = tokens[tokens.len() / 2];
        let out = render_examples(
            &docs,
            &reg,
            &RenderOptions {
                max_tokens: Some(budget),
                ..Default::default()
            },
            &pass,
        );
        for e in &unbounded.examples {
            let kept = out.examples.iter().any(|k| k.id == e.id);
            assert_eq!(kept, e.tokens <= budget, "{} has {} tokens", e.id, e.tokens);
            if !kept {
                let x = out
                    .excluded
                    .iter()
                    .find(|x| x.example_id.as_deref() == Some(e.id.as_str()))
                    .unwrap();
                assert_eq!(
                    (x.step.as_str(), x.reason.as_str()),
                    (STEP_TOKEN_BUDGET, REASON_OVER_TOKEN_BUDGET)
                );
                assert!(
                    x.detail
                        .starts_with(&format!("{} tokens > budget {budget}", e.tokens)),
                    "{}",
                    x.detail
                );
            }
        }
        let e = &unbounded.examples[0];
        let chars: usize = e.messages.iter().map(|m| m.content.chars().count()).sum();
        assert!(
            e.tokens as f64 >= chars as f64 / 3.5
                && (e.tokens as f64) < chars as f64 / 3.5 + e.messages.len() as f64
        );
        assert_eq!(out.stats()["examples"], out.examples.len() as u64);
        assert!(out.stats()["dropped_over_token_budget"] > 0);
    }

    #[test]
    fn estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcdefg"), 2);
        assert_eq!(estimate_tokens("abcdefgh"), 3);
        assert_eq!(estimate_tokens("ééééééé"), 2, "characters, not bytes");
    }

    #[test]
    fn a_tokenizer_json_counts_tokens() {
        use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainer};
        use tokenizers::models::TrainerWrapper;
        use tokenizers::pre_tokenizers::whitespace::Whitespace;
        use tokenizers::{AddedToken, Tokenizer};

        // A tiny word-level tokenizer trained on the sample's Luau, saved as tokenizer.json.
        let corpus: Vec<&str> = sample::files_of(sample::LUAU_UTILS)
            .map(|f| f.contents)
            .collect();
        let mut tok = Tokenizer::new(
            WordLevel::builder()
                .unk_token("[UNK]".into())
                .build()
                .unwrap(),
        );
        tok.with_pre_tokenizer(Some(Whitespace {}));
        let mut trainer = TrainerWrapper::WordLevelTrainer(
            WordLevelTrainer::builder()
                .show_progress(false)
                .special_tokens(vec![AddedToken::from("[UNK]", true)])
                .build()
                .unwrap(),
        );
        tok.train(&mut trainer, corpus.iter()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        tok.save(&path, false).unwrap();

        let counter = TokenCounter::from_file(&path).unwrap();
        // Whitespace pre-tokenizes into \w+ and runs of punctuation.
        assert_eq!(counter.count("local x = Signal.new()"), 7);
        assert_eq!(
            counter.count("zzzunseen"),
            1,
            "unknown words are one [UNK] token"
        );
        let sha = crate::core::sha256_hex(&fs_err::read(&path).unwrap());
        assert!(counter.method().contains(&sha[..16]));

        let docs = sample_documents();
        let reg = Registry::builtin().unwrap();
        let opts = RenderOptions {
            tokenizer: Some(counter),
            max_tokens: None,
            ..Default::default()
        };
        let out = render_examples(&docs, &reg, &opts, &pass);
        let counter = opts.tokenizer.as_ref().unwrap();
        for e in &out.examples {
            assert_eq!(e.token_count_method, counter.method());
            let want: u32 = e.messages.iter().map(|m| counter.count(&m.content)).sum();
            assert_eq!(e.tokens, want);
        }

        fs_err::write(&path, "{ not a tokenizer").unwrap();
        let err = TokenCounter::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("tokenizer.json") && err.contains("cannot read tokenizer"),
            "{err}"
        );
    }

    #[test]
    fn ids_are_stable_and_depend_on_template_and_content() {
        let docs = sample_documents();
        let reg = Registry::builtin().unwrap();
        let opts = RenderOptions::default();
        let a = render_examples(&docs, &reg, &opts, &pass);
        let mut reversed = docs.clone();
        reversed.reverse();
        let b = render_examples(&reversed, &reg, &opts, &pass);
        let ids = |o: &RenderOutput| {
            let mut v: Vec<String> = o.examples.iter().map(|e| e.id.clone()).collect();
            v.sort();
            v
        };
        assert_eq!(ids(&a), ids(&b), "document order does not change ids");
        assert_eq!(
            a,
            render_examples(&docs, &reg, &opts, &pass),
            "same inputs, same output"
        );

        // The same template text with one word changed: every id of that template changes.
        let dir = tempfile::tempdir().unwrap();
        write_builtin_templates(dir.path()).unwrap();
        let p = dir.path().join("explain-code.j2");
        let text = fs_err::read_to_string(&p).unwrap();
        fs_err::write(
            &p,
            text.replace("explains Luau code clearly", "explains Luau code plainly"),
        )
        .unwrap();
        let changed = Registry::load_dir(dir.path()).unwrap();
        let c = render_examples(&docs, &changed, &opts, &pass);
        for (e, f) in a.examples.iter().zip(&c.examples) {
            assert_eq!(e.template, f.template);
            assert_eq!(e.id == f.id, e.template != "explain-code", "{}", e.template);
        }

        // A changed document changes its examples' ids.
        let mut edited = by_path(&docs, "src/Signal.luau").clone();
        edited.text = edited.text.replace(
            "Handlers run in their own thread",
            "Each handler runs in its own thread",
        );
        let before = render_examples(
            std::slice::from_ref(by_path(&docs, "src/Signal.luau")),
            &reg,
            &opts,
            &pass,
        );
        let after = render_examples(std::slice::from_ref(&edited), &reg, &opts, &pass);
        let implement = |o: &RenderOutput| {
            o.examples
                .iter()
                .find(|e| e.template == "implement-module")
                .unwrap()
                .id
                .clone()
        };
        assert_ne!(implement(&before), implement(&after));
    }

    #[test]
    fn audit_licenses_override_the_evidence() {
        let docs = sample_documents();
        let signal = by_path(&docs, "src/Signal.luau");
        let reg = Registry::builtin().unwrap();
        let mut opts = RenderOptions::default();
        opts.licenses.insert(
            signal.id.clone(),
            vec!["Apache-2.0".into(), "MIT".into(), "Apache-2.0".into()],
        );
        let out = render_examples(std::slice::from_ref(signal), &reg, &opts, &pass);
        assert!(!out.examples.is_empty());
        assert!(out
            .examples
            .iter()
            .all(|e| e.licenses == vec!["Apache-2.0".to_string(), "MIT".to_string()]));
    }

    #[test]
    fn a_template_error_is_recorded_per_example() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("bad.j2"), "{% block user %}\nExplain {{ doc.file_name }}\nby {{ doc.author }}\n{% endblock %}{% block assistant %}{{ doc.text | fence('luau') }}{% endblock %}").unwrap();
        fs_err::write(dir.path().join("bad.toml"), "task = \"bad\"\nroles = [\"user\", \"assistant\"]\n[applies-to]\nunit-kinds = [\"file\"]\nlanguages = [\"luau\"]\n").unwrap();
        let reg = Registry::load_dir(dir.path()).unwrap();
        let docs = sample_documents();
        let out = render_examples(
            std::slice::from_ref(by_path(&docs, "src/Signal.luau")),
            &reg,
            &RenderOptions::default(),
            &pass,
        );
        assert!(out.examples.is_empty());
        let x = out.template_errors().next().expect("a template error");
        assert!(
            x.detail.contains("template bad.j2, line 3") && x.detail.contains("`doc.author`"),
            "{}",
            x.detail
        );
        assert_eq!(x.template.as_deref(), Some("bad"));
    }

    #[test]
    fn builtins_are_the_shipped_files_and_init_writes_them_once() {
        let shipped = Registry::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dataset/templates"),
        )
        .unwrap();
        let builtin = Registry::builtin().unwrap();
        let names = |r: &Registry| {
            r.templates()
                .iter()
                .map(|t| (t.name.clone(), t.hash.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&shipped),
            names(&builtin),
            "dataset/templates holds exactly the built-ins"
        );

        let dir = tempfile::tempdir().unwrap();
        let written = write_builtin_templates(dir.path()).unwrap();
        assert_eq!(
            written.len(),
            2 * BUILTIN_TEMPLATES.len() + 1,
            "pairs and the README"
        );
        assert_eq!(
            names(&Registry::load_dir(dir.path()).unwrap()),
            names(&builtin)
        );
        let mine = dir.path().join("api-usage.j2");
        let edited = "{% block system %}{% endblock %}{% block user %}q{% endblock %}{% block assistant %}a{% endblock %}";
        fs_err::write(&mine, edited).unwrap();
        assert!(write_builtin_templates(dir.path()).unwrap().is_empty());
        assert_eq!(
            fs_err::read_to_string(&mine).unwrap(),
            edited,
            "a user's edit survives"
        );
        let t = Registry::load_dir(dir.path()).unwrap();
        let (_, _, toml) = BUILTIN_TEMPLATES
            .iter()
            .find(|(n, _, _)| *n == "api-usage")
            .unwrap();
        assert_eq!(
            t.get("api-usage").unwrap().hash,
            template_hash(edited, toml)
        );
    }

    #[test]
    fn evidence_licenses_prefer_the_strongest_evidence() {
        let docs = sample_documents();
        assert_eq!(
            evidence_licenses(by_path(&docs, "src/Spring.luau")),
            vec!["MPL-2.0"]
        );
        assert_eq!(
            evidence_licenses(by_path(&docs, "src/Signal.luau")),
            vec!["MIT"]
        );
        assert_eq!(
            evidence_licenses(by_path(
                &docs,
                "Packages/_Index/someone_thing@1.0.0/thing/init.luau"
            )),
            vec!["Apache-2.0"],
            "the vendored package's own manifest, not the repo's"
        );
        let prose_only = docs
            .iter()
            .find(|d| d.provenance.unit_kind == UnitKind::DocSection && d.code_blocks.is_empty())
            .unwrap();
        assert_eq!(evidence_licenses(prose_only), vec!["CC-BY-4.0"]);
        let mut bare = by_path(&docs, "src/Signal.luau").clone();
        bare.provenance.license_candidates.clear();
        assert_eq!(evidence_licenses(&bare), vec!["NOASSERTION"]);
    }
}
