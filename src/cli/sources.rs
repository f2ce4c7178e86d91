//! `vcurate sources`

use std::path::Path;
use std::process::ExitCode;

use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct SourcesArgs {
    /// Print JSON to stdout instead of a table on stderr.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: Option<&Path>, args: SourcesArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let rows = crate::ingest::status(&ws)?;
    if args.json {
        super::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    // The table is for people: stderr (data goes to stdout with --json).
    use std::io::Write;
    let mut out = std::io::stderr().lock();
    let short = |c: &Option<String>| {
        c.as_deref()
            .map(|c| c[..c.len().min(12)].to_string())
            .unwrap_or_else(|| "-".into())
    };
    let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "{:<20} {:<6} {:<12} {:<12} {:>9} {:>8}  location",
        "id", "kind", "locked", "ingested", "documents", "skipped"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<20} {:<6} {:<12} {:<12} {:>9} {:>8}  {}{}",
            r.id,
            r.kind,
            short(&r.locked_commit),
            short(&r.ingested_commit),
            num(r.documents),
            num(r.skipped),
            r.location,
            r.rev
                .as_deref()
                .map(|v| format!("@{v}"))
                .unwrap_or_default()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
