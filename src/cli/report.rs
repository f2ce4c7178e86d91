//! `vcurate report`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Snapshot id (or unique prefix).
    #[arg(long)]
    pub snapshot: String,
    /// Where to write the page (default: dataset/snapshots/<id>/reports/report.html).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print `{"snapshot", "path"}` as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: Option<&Path>, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let snaps = ws.dataset_dir().join("snapshots");
    let id = crate::snapshot::freeze::resolve(&snaps, &args.snapshot)?;
    let out = args
        .out
        .unwrap_or_else(|| snaps.join(&id).join("reports").join("report.html"));
    crate::report::write(&snaps, &id, &out)?;
    if args.json {
        super::print_json(&crate::report::ReportOutput {
            snapshot: id,
            path: out,
        })?;
    } else {
        eprintln!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
