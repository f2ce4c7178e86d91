//! `vcurate export`: a snapshot's examples as the JSONL files trainers read, with everything
//! needed to use them honestly: a provenance sidecar per split (aligned line by line), a dataset
//! card, a NOTICE with every attribution, and a SHA-256 manifest.
//!
//! The line formats are mlx-lm's LoRA data formats (ml-explore/mlx-lm
//! `mlx_lm/tuner/datasets.py`: `train.jsonl`, `valid.jsonl`, `test.jsonl` in one folder; the
//! format is detected from the first line, so a file holds one format; chat rows are
//! `{"messages": [...], "tools": [...]}` (`tools` only when the example offers tools; mlx-lm's
//! `ChatDataset` passes both to the model's chat template), completions rows
//! `{"prompt", "completion"}` (mlx-lm wraps them as one user and one assistant turn), text rows
//! `{"text"}`). The same files load in Unsloth and axolotl. Export never rewrites an example:
//! it only chooses its shape, and a shape that would lose the tool calls, tool results or
//! tools of an example refuses it.
//!
//! Every export made through [`run`] is recorded in the workspace (`dataset/exports/`, see
//! [`ExportRecord`]), so a takedown can name the exports that carried a document.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{Attribution, Example, Exclusion, Message, Role, Stage, Tool};
use crate::snapshot::examples::SplitExample;
use crate::workspace::Workspace;

mod gate;
pub use gate::LicenseGate;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{count} example(s) are not allowed under profile `{profile}`:\n{list}\nExport a snapshot without them, or pass --drop-refused to export the rest (the refusals are written to refused.jsonl)")]
    Refused {
        profile: String,
        count: usize,
        list: String,
    },
    #[error("snapshot {0} has no rendered examples; render examples before snapshotting")]
    NoExamples(String),
    #[error("{0}: {1}")]
    Malformed(PathBuf, String),
    #[error(
        "snapshot {0} has no license verdicts; run `vcurate audit` and re-create the snapshot"
    )]
    NoLicenseVerdicts(String),
    #[error("unknown profile `{0}` (this snapshot's verdicts cover: train, publish)")]
    UnknownProfile(String),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::freeze::SnapshotError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The export line shapes (`schemas/export-*.schema.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatLine {
    pub messages: Vec<Message>,
    /// The tools the conversation offers (OpenAI's function declarations); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletionsLine {
    pub prompt: String,
    pub completion: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextLine {
    pub text: String,
}

/// One line of a provenance sidecar: where the line with the same number came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceLine {
    pub example_id: String,
    pub template: String,
    pub template_hash: String,
    pub doc_ids: Vec<String>,
    pub sources: Vec<DocOrigin>,
    pub licenses: Vec<String>,
    pub attributions: Vec<Attribution>,
}

/// Where one source document of an example came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocOrigin {
    pub doc_id: String,
    pub source_id: String,
    pub url: String,
    pub commit: Option<String>,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Chat,
    Completions,
    Text,
}

/// The examples of a snapshot folder, each with its split.
pub fn load_examples(snapshot_dir: &Path) -> Result<Vec<SplitExample>, ExportError> {
    let path = snapshot_dir.join("examples.parquet");
    if !path.exists() {
        return Err(ExportError::NoExamples(snapshot_dir.display().to_string()));
    }
    crate::snapshot::examples::read_examples(snapshot_dir)
        .map_err(|e| ExportError::Malformed(path, e.to_string()))
}

/// The line of an example in a format. The assistant turn is last in every chat line (mlx-lm
/// masks and trains on what follows the prompt); completions fold system and user turns into
/// the prompt; text joins the turns with role headers.
pub fn line(ex: &Example, format: Format) -> Result<String, String> {
    let last = ex.messages.last().ok_or("an example without messages")?;
    if last.role != Role::Assistant {
        return Err(format!(
            "example {} does not end with an assistant turn",
            ex.id
        ));
    }
    let tool_use = !ex.tools.is_empty()
        || ex
            .messages
            .iter()
            .any(|m| !m.tool_calls.is_empty() || m.role == Role::Tool);
    if tool_use && format != Format::Chat {
        return Err(format!(
            "example {} has tool calls, tool results or tools, which the {} format cannot hold; export with --format chat",
            ex.id,
            serde_json::to_value(format).expect("format serializes").as_str().unwrap_or_default()
        ));
    }
    let v = match format {
        Format::Chat => serde_json::to_string(&ChatLine {
            messages: ex.messages.clone(),
            tools: ex.tools.clone(),
        }),
        Format::Completions => {
            let prompt = ex.messages[..ex.messages.len() - 1]
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            serde_json::to_string(&CompletionsLine {
                prompt,
                completion: last.content.clone(),
            })
        }
        Format::Text => {
            let text = ex
                .messages
                .iter()
                .map(|m| format!("### {}\n{}", m.role, m.content))
                .collect::<Vec<_>>()
                .join("\n\n");
            serde_json::to_string(&TextLine { text })
        }
    };
    v.map_err(|e| e.to_string())
}

/// What an export wrote (`vcurate export --json`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExportReport {
    pub snapshot: String,
    pub format: Format,
    pub profile: String,
    pub out: PathBuf,
    pub lines: BTreeMap<String, usize>,
    pub refused: usize,
    pub files: Vec<String>,
    /// What a trainer will trip over (an empty split file); also printed on stderr.
    pub warnings: Vec<String>,
}

impl ExportReport {
    /// One line for people: what went where.
    pub fn summary(&self) -> String {
        let lines: Vec<String> = self.lines.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "exported {} ({}) to {}: {}{}",
            self.snapshot,
            self.profile,
            self.out.display(),
            lines.join(" "),
            if self.refused > 0 {
                format!(", {} refused (refused.jsonl)", self.refused)
            } else {
                String::new()
            }
        )
    }
}

/// One export as [`export`] runs it: the settings, with the snapshot resolved and its
/// documents' origins and license gate loaded.
pub struct ExportOptions<'a> {
    pub settings: &'a ExportSettings,
    /// The resolved snapshot id.
    pub snapshot: String,
    /// Where each document came from, by id.
    pub origins: &'a BTreeMap<String, DocOrigin>,
    /// The profile's verdict on an example (Err: why it is refused).
    pub gate: &'a dyn Fn(&Example) -> Result<(), String>,
}

/// Settings of the export stage (`vcurate export`).
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// Snapshot id or unique prefix.
    pub snapshot: String,
    pub format: Format,
    /// The license profile every exported example must satisfy (`train`, `publish`).
    pub profile: String,
    pub out: PathBuf,
    /// Write `<split>.provenance.jsonl` beside each split.
    pub provenance: bool,
    /// Export what the profile allows and list the rest in `refused.jsonl` (else: refuse all).
    pub drop_refused: bool,
}

/// The export stage: a snapshot's examples, through the profile's license gate (the license
/// audit's verdicts frozen in the snapshot), into JSONL with provenance, card, NOTICE and sums.
pub fn run(ws: &Workspace, settings: &ExportSettings) -> Result<ExportReport, ExportError> {
    let snaps = ws.dataset_dir().join("snapshots");
    let id = crate::snapshot::freeze::resolve(&snaps, &settings.snapshot)?;
    let snap = snaps.join(&id);
    let examples = load_examples(&snap)?;
    let origins = load_origins(&snap)?;
    let gate = LicenseGate::load(&snap, &id, &settings.profile)?;
    let check = |e: &Example| gate.check(e);
    tracing::debug!(snapshot = %id, profile = %settings.profile, examples = examples.len(), "export");
    let opts = ExportOptions {
        settings,
        snapshot: id,
        origins: &origins,
        gate: &check,
    };
    let report = export(&examples, &opts)?;
    record_export(ws, &report)?;
    Ok(report)
}

/// One export as the workspace remembers it (`dataset/exports/<hash of the folder>.json`; a
/// later export to the same folder replaces the record, as it replaced the files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRecord {
    pub snapshot: String,
    /// The folder, absolute.
    pub out: PathBuf,
    pub format: String,
    pub profile: String,
    pub created: String,
    pub files: Vec<String>,
}

fn exports_dir(ws: &Workspace) -> PathBuf {
    ws.dataset_dir().join("exports")
}

fn record_export(ws: &Workspace, report: &ExportReport) -> Result<(), ExportError> {
    let out = fs_err::canonicalize(&report.out)?;
    let record = ExportRecord {
        snapshot: report.snapshot.clone(),
        format: serde_json::to_value(report.format)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        profile: report.profile.clone(),
        created: crate::ingest::default_ingest_time(),
        files: report.files.clone(),
        out,
    };
    let key = blake3::hash(record.out.to_string_lossy().as_bytes()).to_hex()[..16].to_string();
    crate::core::fs::write_atomic(
        &exports_dir(ws).join(format!("{key}.json")),
        &serde_json::to_vec_pretty(&record).expect("a record serializes"),
    )?;
    Ok(())
}

/// Every export recorded in the workspace, by folder.
pub fn recorded_exports(ws: &Workspace) -> Result<Vec<ExportRecord>, ExportError> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(exports_dir(ws))
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            let bytes = fs_err::read(&p)?;
            out.push(
                serde_json::from_slice(&bytes)
                    .map_err(|e| ExportError::Malformed(p.clone(), e.to_string()))?,
            );
        }
    }
    out.sort_by(|a: &ExportRecord, b| a.out.cmp(&b.out));
    Ok(out)
}

/// The provenance sidecar lines of an export folder, by split file name (`train.jsonl`, ...);
/// folders or sidecars that are gone give nothing.
pub fn read_sidecars(out: &Path) -> Result<Vec<(String, Vec<ProvenanceLine>)>, ExportError> {
    let mut all = Vec::new();
    for split in ["train", "valid", "test"] {
        let p = out.join(format!("{split}.provenance.jsonl"));
        let Ok(text) = fs_err::read_to_string(&p) else {
            continue;
        };
        let mut lines = Vec::new();
        for l in text.lines().filter(|l| !l.trim().is_empty()) {
            lines.push(
                serde_json::from_str(l)
                    .map_err(|e| ExportError::Malformed(p.clone(), e.to_string()))?,
            );
        }
        all.push((format!("{split}.jsonl"), lines));
    }
    Ok(all)
}

/// Where each document of a snapshot folder came from, by id.
pub fn load_origins(snapshot_dir: &Path) -> Result<BTreeMap<String, DocOrigin>, ExportError> {
    let path = snapshot_dir.join("documents.parquet");
    let bad = |m: String| ExportError::Malformed(path.clone(), m);
    let docs = crate::store::read_parquet(&path).map_err(|e| bad(e.to_string()))?;
    let strings = |name: &str| -> Result<Vec<Option<String>>, ExportError> {
        Ok(docs
            .column(name)
            .and_then(|c| c.str().cloned())
            .map_err(|e| bad(e.to_string()))?
            .iter()
            .map(|v| v.map(String::from))
            .collect())
    };
    let (ids, sources, urls, paths, commits) = (
        strings("id")?,
        strings("source_id")?,
        strings("url")?,
        strings("path")?,
        strings("commit")?,
    );
    let mut out = BTreeMap::new();
    for i in 0..docs.height() {
        let doc_id = ids[i].clone().unwrap_or_default();
        out.insert(
            doc_id.clone(),
            DocOrigin {
                doc_id,
                source_id: sources[i].clone().unwrap_or_default(),
                url: urls[i].clone().unwrap_or_default(),
                commit: commits[i].clone(),
                path: paths[i].clone().unwrap_or_default(),
            },
        );
    }
    Ok(out)
}

/// An example the profile refuses, as the one exclusion record (`refused.jsonl` holds one per
/// line, `schemas/exclusion.schema.json`).
fn refusal(e: &Example, profile: &str, why: String) -> Exclusion {
    Exclusion {
        stage: Stage::Export,
        step: profile.into(),
        reason: "license_refused".into(),
        detail: format!("not allowed under profile `{profile}`: {why}"),
        document_ids: e.doc_ids.clone(),
        example_id: Some(e.id.clone()),
        template: Some(e.template.clone()),
        item: e.item.clone(),
    }
}

/// Writes an export.
pub fn export(
    examples: &[SplitExample],
    opts: &ExportOptions,
) -> Result<ExportReport, ExportError> {
    if examples.is_empty() {
        return Err(ExportError::NoExamples(opts.snapshot.clone()));
    }
    let mut refused = Vec::new();
    let mut kept = Vec::new();
    for ex in examples {
        match (opts.gate)(&ex.example) {
            Ok(()) => kept.push(ex),
            Err(why) => refused.push(refusal(&ex.example, &opts.settings.profile, why)),
        }
    }
    if !refused.is_empty() && !opts.settings.drop_refused {
        let list = refused
            .iter()
            .take(20)
            .map(|r| {
                format!(
                    "  {} (documents {}): {}",
                    r.example_id.as_deref().unwrap_or_default(),
                    r.document_ids.join(", "),
                    r.detail
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let more = if refused.len() > 20 {
            format!("\n  ... and {} more", refused.len() - 20)
        } else {
            String::new()
        };
        return Err(ExportError::Refused {
            profile: opts.settings.profile.clone(),
            count: refused.len(),
            list: format!("{list}{more}"),
        });
    }
    fs_err::create_dir_all(&opts.settings.out)?;
    let mut files = Vec::new();
    let mut lines = BTreeMap::new();
    for split in ["train", "valid", "test"] {
        let mut data = String::new();
        let mut side = String::new();
        for ex in kept.iter().filter(|e| e.split == split).map(|e| &e.example) {
            let l = line(ex, opts.settings.format)
                .map_err(|e| ExportError::Malformed(opts.settings.out.clone(), e))?;
            data.push_str(&l);
            data.push('\n');
            let sources = ex
                .doc_ids
                .iter()
                .filter_map(|d| opts.origins.get(d).cloned())
                .collect();
            let p = ProvenanceLine {
                example_id: ex.id.clone(),
                template: ex.template.clone(),
                template_hash: ex.template_hash.clone(),
                doc_ids: ex.doc_ids.clone(),
                sources,
                licenses: ex.licenses.clone(),
                attributions: ex.attributions.clone(),
            };
            side.push_str(&serde_json::to_string(&p).expect("json"));
            side.push('\n');
        }
        lines.insert(split.to_string(), data.lines().count());
        write(
            &opts.settings.out,
            &format!("{split}.jsonl"),
            &data,
            &mut files,
        )?;
        if opts.settings.provenance {
            write(
                &opts.settings.out,
                &format!("{split}.provenance.jsonl"),
                &side,
                &mut files,
            )?;
        }
    }
    if !refused.is_empty() {
        let text: String = refused
            .iter()
            .map(|r| serde_json::to_string(r).expect("an exclusion serializes") + "\n")
            .collect();
        write(&opts.settings.out, "refused.jsonl", &text, &mut files)?;
    }
    let kept: Vec<&Example> = kept.iter().map(|e| &e.example).collect();
    write(&opts.settings.out, "NOTICE", &notice(&kept), &mut files)?;
    write(
        &opts.settings.out,
        "README.md",
        &dataset_card(&kept, opts, &lines),
        &mut files,
    )?;
    // The manifest, in the format `sha256sum -c` reads.
    let mut sums = String::new();
    for f in &files {
        let bytes = fs_err::read(opts.settings.out.join(f))?;
        let _ = writeln!(sums, "{}  {f}", crate::core::sha256_hex(&bytes));
    }
    crate::core::fs::write_atomic(&opts.settings.out.join("SHA256SUMS"), sums.as_bytes())?;
    files.push("SHA256SUMS".into());
    Ok(ExportReport {
        warnings: empty_split_warnings(&lines),
        snapshot: opts.snapshot.clone(),
        format: opts.settings.format,
        profile: opts.settings.profile.clone(),
        out: opts.settings.out.clone(),
        lines,
        refused: refused.len(),
        files,
    })
}

/// mlx-lm refuses an empty `train.jsonl` or `valid.jsonl` for `--train` and an empty
/// `test.jsonl` for `--test` (`mlx_lm/tuner/datasets.py`, `load_dataset`: "Validation set not
/// found or empty").
fn empty_split_warnings(lines: &BTreeMap<String, usize>) -> Vec<String> {
    ["train", "valid", "test"]
        .into_iter()
        .filter(|s| lines.get(*s).copied().unwrap_or(0) == 0)
        .map(|s| {
            let flag = if s == "test" { "--test" } else { "--train" };
            format!(
                "{s}.jsonl is empty, and mlx-lm's {flag} refuses an empty {s} set; see the splits \
                 audit's summary (dataset/audit/summary/splits.json) and the profile's refusals"
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str, files: &mut Vec<String>) -> std::io::Result<()> {
    crate::core::fs::write_atomic(&dir.join(name), text.as_bytes())?;
    files.push(name.to_string());
    Ok(())
}

/// Every attribution the exported examples require, once each, sorted.
pub fn notice(examples: &[&Example]) -> String {
    let lines: BTreeSet<String> = examples
        .iter()
        .flat_map(|e| e.attributions.iter().map(Attribution::line))
        .collect();
    let licenses: BTreeSet<&str> = examples
        .iter()
        .flat_map(|e| e.licenses.iter().map(String::as_str))
        .collect();
    let mut out = String::from("NOTICE\n\nThis dataset was assembled with vcurate. Its examples are derived from the works below,\nused under the licenses named; each line of the provenance sidecars names the documents\nand licenses of one example.\n\n");
    let _ = writeln!(
        out,
        "Licenses present: {}\n",
        licenses.into_iter().collect::<Vec<_>>().join(", ")
    );
    if lines.is_empty() {
        out.push_str("No attribution lines are required by the licenses of these examples.\n");
    } else {
        out.push_str("Attributions:\n");
        for l in lines {
            let _ = writeln!(out, "- {l}");
        }
    }
    out
}

/// Hugging Face's size category for a count.
pub fn size_category(n: usize) -> &'static str {
    match n {
        0..=999 => "n<1K",
        1_000..=9_999 => "1K<n<10K",
        10_000..=99_999 => "10K<n<100K",
        100_000..=999_999 => "100K<n<1M",
        _ => "1M<n<10M",
    }
}

/// The dataset card: a Hugging Face YAML header, then counts, audits and known limitations.
pub fn dataset_card(
    examples: &[&Example],
    opts: &ExportOptions,
    lines: &BTreeMap<String, usize>,
) -> String {
    let licenses: BTreeSet<String> = examples
        .iter()
        .flat_map(|e| e.licenses.iter())
        .flat_map(|l| l.split(" AND ").map(|s| s.trim().to_ascii_lowercase()))
        .collect();
    let sources: BTreeSet<&str> = examples
        .iter()
        .flat_map(|e| e.doc_ids.iter())
        .filter_map(|d| opts.origins.get(d))
        .map(|o| o.url.as_str())
        .collect();
    let total: usize = lines.values().sum();
    let mut s = String::from("---\nlicense:\n");
    for l in &licenses {
        let _ = writeln!(s, "- {l}");
    }
    let _ = writeln!(s, "size_categories:\n- {}\ntask_categories:\n- text-generation\nlanguage:\n- en\ntags:\n- code\n- luau\n- roblox\nsource_datasets:", size_category(total));
    for src in &sources {
        let _ = writeln!(s, "- {src}");
    }
    s.push_str("configs:\n- config_name: default\n  data_files:\n");
    for split in ["train", "valid", "test"] {
        let _ = writeln!(
            s,
            "  - split: {}\n    path: {split}.jsonl",
            if split == "valid" {
                "validation"
            } else {
                split
            }
        );
    }
    s.push_str("---\n\n");
    let _ = writeln!(
        s,
        "# Roblox/Luau training examples (vcurate snapshot {})\n",
        opts.snapshot
    );
    let _ = writeln!(
        s,
        "Exported with `vcurate export --format {:?} --profile {}`.\n",
        opts.settings.format, opts.settings.profile
    );
    s.push_str("| split | examples |\n|---|---|\n");
    for (k, v) in lines {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    s.push_str("\n## Audits passed\n\nEvery example was rendered only from documents that passed the snapshot's audits: credentials (gitleaks' rules and Roblox rules; e-mail and public IP addresses redacted), code density (parsed Luau lines), quality (parses and compiles with the real Luau compiler), exact and near deduplication, contamination against the registered eval sets, and a leak-free train/valid/test split by group (no exact or near duplicate crosses splits). Licenses are per file, with the evidence in the snapshot.\n\n");
    s.push_str("## Sources\n\n");
    for src in &sources {
        let _ = writeln!(s, "- {src}");
    }
    s.push_str("\n## Known limitations\n\n- Near-duplicate detection is MinHash-based (Jaccard 0.7 by default): pairs just below the threshold remain.\n- Contamination is checked only against the eval sets registered in the workspace.\n- Examples are rendered by templates; their prompts are synthetic even where the answers are real code.\n\nSee `NOTICE` for attributions and `*.provenance.jsonl` for the origin of every line.\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_split_file_is_a_warning_naming_what_refuses_it() {
        let lines: BTreeMap<String, usize> = [("train", 9), ("valid", 0), ("test", 1)]
            .into_iter()
            .map(|(s, n)| (s.to_string(), n))
            .collect();
        let w = empty_split_warnings(&lines);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("valid.jsonl is empty, and mlx-lm's --train refuses"));
        let none: BTreeMap<String, usize> = BTreeMap::new();
        assert_eq!(empty_split_warnings(&none).len(), 3);
    }
}
