//! `vcurate snapshot create|list|show|diff`

use std::collections::BTreeMap;
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
    let ex = read_excluded(ws)?;
    let mut excluded = Vec::new();
    if ex.height() > 0 {
        let col = |n: &str| -> anyhow::Result<Vec<String>> {
            Ok(ex
                .column(n)?
                .str()?
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect())
        };
        let (ids, steps, reasons, details) =
            (col("id")?, col("step")?, col("reason")?, col("detail")?);
        for i in 0..ex.height() {
            if allow_contaminated && steps[i] == "contamination" {
                continue;
            }
            excluded.push(Verdict {
                id: ids[i].clone(),
                step: steps[i].clone(),
                reason: reasons[i].clone(),
                detail: details[i].clone(),
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
    let inputs = FreezeInputs {
        documents,
        excluded,
        splits,
        attributes,
        policy,
        templates,
        examples: None,
        flags,
    };
    let created = crate::ingest::default_ingest_time();
    freeze::freeze(&ws.dataset_dir().join("snapshots"), inputs, created)
        .context("could not write the snapshot")
}
