//! `vcurate snapshot create|list|show|diff`

use std::path::Path;
use std::process::ExitCode;

use crate::snapshot::freeze;
use crate::snapshot::CreateSettings;
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
    /// Show a snapshot's manifest (id or unique prefix): snapshot.toml as written, or JSON.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
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
            let manifest = crate::snapshot::create(&ws, &CreateSettings { allow_contaminated })?;
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
                let mut out = std::io::stderr().lock();
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
        SnapshotCommand::Show { id, json } => {
            let id = freeze::resolve(&snaps, &id)?;
            if json {
                super::print_json(&freeze::load(&snaps, &id)?)?;
            } else {
                let text = fs_err::read_to_string(snaps.join(&id).join("snapshot.toml"))?;
                super::print_data(&text)?;
            }
        }
        SnapshotCommand::Diff { a, b, json } => {
            let d = freeze::diff(&snaps, &a, &b)?;
            if json {
                super::print_json(&d)?;
            } else {
                use std::io::Write;
                let mut out = std::io::stderr().lock();
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
