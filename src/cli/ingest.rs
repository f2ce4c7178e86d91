//! `vcurate ingest`

use std::path::Path;
use std::process::ExitCode;

use crate::ingest::{IngestOptions, IngestReport};
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Only ingest this source (repeatable). Default: every manifest in sources/.
    #[arg(long = "source", value_name = "ID")]
    pub sources: Vec<String>,
    /// Refuse to change sources.lock (for CI and reproducible rebuilds).
    #[arg(long, conflicts_with = "update")]
    pub locked: bool,
    /// Re-resolve every rev to its newest commit and update sources.lock.
    #[arg(long)]
    pub update: bool,
    /// Re-ingest sources even when their commit, manifest and tool version are unchanged.
    #[arg(long)]
    pub force: bool,
    /// Print the report as JSON on stdout instead of a table on stderr.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: Option<&Path>, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let opts = IngestOptions {
        only: args.sources,
        locked: args.locked,
        update: args.update,
        force: args.force,
        ingest_time: None,
    };
    let bars = super::progress::Bars::new(args.json);
    let report = crate::ingest::run(&ws, &opts, &|e| bars.handle(e))?;
    if args.json {
        super::print_json(&report)?;
    } else {
        eprint!("{}", summary_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// The human summary: one row per source.
pub fn summary_table(report: &IngestReport) -> String {
    let mut out = format!(
        "{:<20} {:<10} {:<12} {:>9} {:>9} {:>7}  {}\n",
        "source", "status", "commit", "documents", "skipped", "parse!", "skipped by reason"
    );
    for s in &report.sources {
        let skipped: u64 = s.skipped.values().sum();
        let reasons: Vec<String> = s.skipped.iter().map(|(r, n)| format!("{r}={n}")).collect();
        let commit = s
            .commit
            .as_deref()
            .map(|c| &c[..c.len().min(12)])
            .unwrap_or("-");
        out.push_str(&format!(
            "{:<20} {:<10} {:<12} {:>9} {:>9} {:>7}  {}\n",
            s.id,
            s.status,
            commit,
            s.documents,
            skipped,
            s.parse_failures,
            reasons.join(" ")
        ));
    }
    for id in &report.removed {
        out.push_str(&format!("{id:<20} removed (its manifest is gone)\n"));
    }
    for o in &report.opted_out {
        out.push_str(&format!(
            "{:<20} not fetched: opted out ({}: {}, {}){}\n",
            o.id,
            o.entry,
            o.reason,
            o.date,
            if o.removed_documents {
                "; its stored documents were removed"
            } else {
                ""
            }
        ));
    }
    out
}
