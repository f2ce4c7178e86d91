//! `vcurate snapshot create|list|show|diff`

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::audit::run::{audit_dir, read_excluded, AUDITS};
use crate::snapshot::freeze::{self, FreezeInputs, Verdict};
use crate::snapshot::{all_documents, read_parquet};
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Freeze the ingested documents, audit verdicts, splits, policy and templates into
    /// dataset/snapshots/<id>/ (id = hash of all inputs; same inputs, same id).
    Create {
        /// Keep documents the contamination audit flagged. Recorded in the snapshot.
        #[arg(long)]
        allow_contaminated: bool,
        #[arg(long)]
        json: bool,
    },
    /// List snapshots, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a snapshot's manifest (id or unique prefix).
    Show { id: String },
    /// What changed between two snapshots, and why.
    Diff {
        a: String,
        b: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(dir: Option<&Path>, args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let snaps = ws.dataset_dir().join("snapshots");
    match args.command {
        SnapshotCommand::Create {
            allow_contaminated,
            json,
        } => {
            let manifest = create(&ws, allow_contaminated)?;
            if json {
                super::print_json(&manifest)?;
            } else {
                let c = &manifest.counts;
                eprintln!("snapshot {}: {} documents, {} included ({} train / {} valid / {} test), {} excluded, {} examples", manifest.id, c.documents, c.included, c.train, c.valid, c.test, c.excluded, c.examples);
                eprintln!("  {}", snaps.join(&manifest.id).display());
            }
        }
        SnapshotCommand::List { json } => {
            let all = freeze::list(&snaps)?;
            if json {
                super::print_json(&all)?;
            } else {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "{:<18} {:<22} {:>9} {:>9} {:>9}",
                    "id", "created", "documents", "included", "examples"
                )?;
                for m in all {
                    writeln!(
                        out,
                        "{:<18} {:<22} {:>9} {:>9} {:>9}",
                        m.id, m.created, m.counts.documents, m.counts.included, m.counts.examples
                    )?;
                }
            }
        }
        SnapshotCommand::Show { id } => {
            let id = freeze::resolve(&snaps, &id)?;
            let text = fs_err::read_to_string(snaps.join(&id).join("snapshot.toml"))?;
            print!("{text}");
        }
        SnapshotCommand::Diff { a, b, json } => {
            let d = freeze::diff(&snaps, &a, &b)?;
            if json {
                super::print_json(&d)?;
            } else {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{} -> {}: {} changes; policy changed: {}; templates changed: [{}]; sources moved: [{}]", d.a, d.b, d.entries.len(), d.policy_changed, d.templates_changed.join(", "), d.sources_moved.join(", "))?;
                for e in &d.examples {
                    writeln!(
                        out,
                        "example {:<8} {} ({})  {}",
                        e.change, e.id, e.template, e.why
                    )?;
                }
                for e in &d.entries {
                    writeln!(
                        out,
                        "{:<15} {}:{}  {}",
                        e.change, e.source_id, e.path, e.why
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Renders training examples from the documents no audit dropped: the templates of
/// `dataset/templates/` (the built-ins when there are none), the code-density rule on every
/// example, licenses from the license audit. Returns the examples table (one row per example,
/// its split from its documents, the full record as JSON) and the render exclusions.
fn render(
    ws: &Workspace,
    documents: &[crate::core::Document],
    excluded: &[Verdict],
    splits: &BTreeMap<String, String>,
    attributes: &[(String, polars::prelude::DataFrame)],
    allow_contaminated: bool,
) -> anyhow::Result<(
    polars::prelude::DataFrame,
    polars::prelude::DataFrame,
    BTreeSet<String>,
)> {
    use crate::render::{render_examples, RenderOptions};
    use polars::prelude::*;
    let dir = ws.dataset_dir().join("templates");
    let registry = match crate::render::Registry::load_dir(&dir) {
        Ok(r) if !r.templates().is_empty() => r,
        _ => crate::render::Registry::builtin()?,
    };
    let mut dropped: BTreeMap<&str, String> = BTreeMap::new();
    for v in excluded {
        dropped
            .entry(v.id.as_str())
            .or_insert_with(|| format!("{}: {} ({})", v.reason, v.detail, v.step));
    }
    let mut licenses = BTreeMap::new();
    if let Some((_, df)) = attributes.iter().find(|(n, _)| n == "license") {
        for (id, spdx) in df
            .column("id")?
            .str()?
            .iter()
            .zip(df.column("spdx")?.str()?.iter())
        {
            if let (Some(id), Some(spdx)) = (id, spdx) {
                licenses.insert(id.to_string(), vec![spdx.to_string()]);
            }
        }
    }
    let opts = RenderOptions {
        min_code_lines: ws.config.audit.min_code_lines,
        licenses,
        ..RenderOptions::default()
    };
    let gate = |d: &crate::core::Document| match dropped.get(d.id.as_str()) {
        Some(why) => Err(why.clone()),
        None => Ok(()),
    };
    let mut out = render_examples(documents, &registry, &opts, &gate);
    // Templates add text of their own: scan every rendered example against the eval sets too
    // (and record the matches even when `allow_contaminated` keeps the examples).
    let mut matched = BTreeSet::new();
    {
        let tasks = crate::audit::run::load_eval_tasks(ws)?;
        let index = crate::audit::contamination::ContaminationIndex::build(
            &tasks,
            &ws.config.audit.contamination.to_config(),
        )?;
        let texts: Vec<String> = out
            .examples
            .iter()
            .map(|e| {
                e.messages
                    .iter()
                    .map(|m| m.content.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let hits = index.scan_many(&refs);
        let mut kept = Vec::new();
        for (e, h) in std::mem::take(&mut out.examples).into_iter().zip(hits) {
            matched.extend(h.iter().map(|hit| hit.task_id.clone()));
            match h.first() {
                None => kept.push(e),
                Some(_) if allow_contaminated => kept.push(e),
                Some(hit) => out.excluded.push(crate::render::Excluded {
                    doc_ids: e.doc_ids.clone(),
                    example_id: Some(e.id.clone()),
                    template: Some(e.template.clone()),
                    item: e.item.clone(),
                    step: "contamination".into(),
                    reason: "contaminated".into(),
                    detail: format!(
                        "the rendered example shares text with eval task {}: \"{}\"",
                        hit.task_id,
                        hit.matched.chars().take(120).collect::<String>()
                    ),
                }),
            }
        }
        out.examples = kept;
    }
    // An example belongs to the split of its documents (they share one: splits group them).
    let split_of = |doc_ids: &[String]| {
        doc_ids
            .iter()
            .find_map(|d| splits.get(d))
            .cloned()
            .unwrap_or_else(|| "train".into())
    };
    let ex = &out.examples;
    let examples = df!(
        "id" => ex.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        "split" => ex.iter().map(|e| split_of(&e.doc_ids)).collect::<Vec<_>>(),
        "template" => ex.iter().map(|e| e.template.clone()).collect::<Vec<_>>(),
        "template_hash" => ex.iter().map(|e| e.template_hash.clone()).collect::<Vec<_>>(),
        "task" => ex.iter().map(|e| e.task.clone()).collect::<Vec<_>>(),
        "doc_ids" => ex.iter().map(|e| e.doc_ids.join(",")).collect::<Vec<_>>(),
        "code_lines" => ex.iter().map(|e| e.code_lines).collect::<Vec<_>>(),
        "tokens" => ex.iter().map(|e| e.tokens).collect::<Vec<_>>(),
        "record" => ex.iter().map(|e| serde_json::to_string(e).expect("example serializes")).collect::<Vec<_>>(),
    )?;
    let x = &out.excluded;
    let render_excluded = df!(
        "doc_ids" => x.iter().map(|e| e.doc_ids.join(",")).collect::<Vec<_>>(),
        "template" => x.iter().map(|e| e.template.clone()).collect::<Vec<_>>(),
        "step" => x.iter().map(|e| e.step.clone()).collect::<Vec<_>>(),
        "reason" => x.iter().map(|e| e.reason.clone()).collect::<Vec<_>>(),
        "detail" => x.iter().map(|e| e.detail.clone()).collect::<Vec<_>>(),
    )?;
    Ok((examples, render_excluded, matched))
}

/// What the contamination checks covered: every registered eval set with its task hashes and
/// the tasks that matched a document (contamination audit) or a rendered example.
fn eval_set_coverage(
    ws: &Workspace,
    attributes: &[(String, polars::prelude::DataFrame)],
    example_matches: &BTreeSet<String>,
) -> anyhow::Result<Vec<freeze::EvalSetCoverage>> {
    let mut matched = example_matches.clone();
    if let Some((_, df)) = attributes.iter().find(|(n, _)| n == "contamination") {
        for tasks in crate::snapshot::exclusions::read_string_lists(df, "tasks")? {
            matched.extend(tasks);
        }
    }
    let mut out = Vec::new();
    for (name, tasks) in crate::audit::run::load_eval_sets(ws)? {
        let prefix = format!("{name}/");
        let mut task_hashes: Vec<String> = tasks.iter().map(crate::eval::task::task_hash).collect();
        task_hashes.sort();
        out.push(freeze::EvalSetCoverage {
            task_set_id: crate::eval::task::task_set_id(&tasks),
            task_hashes,
            matched_tasks: matched
                .iter()
                .filter_map(|t| t.strip_prefix(&prefix).map(String::from))
                .collect(),
            name,
        });
    }
    Ok(out)
}

/// Gathers the inputs of a snapshot from the workspace and freezes them.
pub fn create(
    ws: &Workspace,
    allow_contaminated: bool,
) -> anyhow::Result<freeze::SnapshotManifest> {
    let documents = all_documents(&ws.store_dir())?;
    if documents.is_empty() {
        bail!("nothing ingested yet; run `vcurate ingest` and `vcurate audit` first");
    }
    let adir = audit_dir(ws);
    let mut attributes = Vec::new();
    for name in AUDITS {
        let p = adir.join("attributes").join(format!("{name}.parquet"));
        if !p.exists() {
            bail!(
                "audit `{name}` has not run; run `vcurate audit` before `vcurate snapshot create`"
            );
        }
        let df = read_parquet(&p)?;
        if df.height() != documents.len() {
            bail!("audit `{name}` is older than the ingested store ({} rows for {} documents); run `vcurate audit` again", df.height(), documents.len());
        }
        attributes.push((name.to_string(), df));
    }
    let mut excluded = Vec::new();
    for e in read_excluded(ws)? {
        if allow_contaminated && e.step == "contamination" {
            continue;
        }
        for id in &e.document_ids {
            excluded.push(Verdict {
                id: id.clone(),
                step: e.step.clone(),
                reason: e.reason.clone(),
                detail: e.detail.clone(),
            });
        }
    }
    let splits_df = &attributes
        .iter()
        .find(|(n, _)| n == "splits")
        .expect("checked")
        .1;
    let splits: BTreeMap<String, String> = splits_df
        .column("id")?
        .str()?
        .iter()
        .zip(splits_df.column("split")?.str()?.iter())
        .filter_map(|(i, s)| Some((i?.to_string(), s?.to_string())))
        .collect();
    let policy_path = ws.licenses_dir().join("policy.toml");
    let policy = policy_path
        .exists()
        .then(|| fs_err::read(&policy_path))
        .transpose()?;
    let mut templates = BTreeMap::new();
    for e in fs_err::read_dir(ws.dataset_dir().join("templates"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_file() && !name.starts_with('.') {
            templates.insert(name, fs_err::read(e.path())?);
        }
    }
    let flags = if allow_contaminated {
        vec!["allow-contaminated".to_string()]
    } else {
        Vec::new()
    };
    let (examples, render_excluded, example_matches) = render(
        ws,
        &documents,
        &excluded,
        &splits,
        &attributes,
        allow_contaminated,
    )?;
    let eval_sets = eval_set_coverage(ws, &attributes, &example_matches)?;
    attributes.push(("render-excluded".to_string(), render_excluded));
    let inputs = FreezeInputs {
        documents,
        excluded,
        splits,
        attributes,
        policy,
        templates,
        examples: Some(examples),
        flags,
        eval_sets,
    };
    let created = crate::ingest::default_ingest_time();
    freeze::freeze(&ws.dataset_dir().join("snapshots"), inputs, created)
        .context("could not write the snapshot")
}
