//! `vcurate sources`

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::ingest::{load_sources, lock::Lock, manifest::Location};
use crate::snapshot;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct SourcesArgs {
    /// Print JSON to stdout instead of a table on stderr.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    kind: String,
    location: String,
    rev: Option<String>,
    locked_commit: Option<String>,
    ingested_commit: Option<String>,
    documents: Option<u64>,
    skipped: Option<u64>,
    parse_failures: Option<u64>,
}

pub fn run(dir: Option<&Path>, args: SourcesArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let lock = Lock::read(&ws.lock_path())?;
    let rows: Vec<Row> = load_sources(&ws, &[])?
        .into_iter()
        .map(|s| {
            let state = snapshot::read_state(&ws.store_dir(), &s.id);
            let rev = match &s.location {
                Location::Git { rev, .. } => Some(rev.clone()),
                Location::Path(_) => None,
            };
            Row {
                location: s.declared_location(),
                kind: s.kind.as_str().into(),
                rev,
                locked_commit: lock.sources.get(&s.id).map(|l| l.commit.clone()),
                ingested_commit: state.as_ref().and_then(|st| st.commit.clone()),
                documents: state.as_ref().map(|st| st.documents),
                skipped: state.as_ref().map(|st| st.skipped),
                parse_failures: state.as_ref().map(|st| st.parse_failures),
                id: s.id,
            }
        })
        .collect();
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
