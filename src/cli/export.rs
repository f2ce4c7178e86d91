//! `vcurate export`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::export::{ExportSettings, Format};
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Snapshot id (or unique prefix).
    #[arg(long)]
    pub snapshot: String,
    /// Line format: chat ({"messages"}), completions ({"prompt","completion"}) or text ({"text"}).
    #[arg(long, value_enum, default_value = "chat")]
    pub format: Format,
    /// License profile the export must satisfy: `train` (may include own and reviewed code) or
    /// `publish` (redistributable only).
    #[arg(long, default_value = "train")]
    pub profile: String,
    /// Output folder (train.jsonl, valid.jsonl, test.jsonl, NOTICE, README.md, SHA256SUMS).
    #[arg(long)]
    pub out: PathBuf,
    /// Skip the provenance sidecars (<split>.provenance.jsonl, aligned line by line).
    #[arg(long)]
    pub no_provenance: bool,
    /// Export what the profile allows and list the refused examples in refused.jsonl.
    #[arg(long)]
    pub drop_refused: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: Option<&Path>, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let settings = ExportSettings {
        snapshot: args.snapshot,
        format: args.format,
        profile: args.profile,
        out: args.out,
        provenance: !args.no_provenance,
        drop_refused: args.drop_refused,
    };
    let report = crate::export::run(&ws, &settings)?;
    if args.json {
        super::print_json(&report)?;
    } else {
        eprintln!("{}", report.summary());
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
