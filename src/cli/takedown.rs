//! `vcurate takedown`

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::core::opt_out::OptOutEntry;
use crate::takedown::{TakedownReport, TakedownSettings};
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("what")
        .required(true)
        .multiple(true)
        .args(["owner", "repo", "source", "document", "path"])
))]
pub struct TakedownArgs {
    /// Every repository of this account (any host, any case).
    #[arg(long, conflicts_with_all = ["repo", "source", "document"])]
    pub owner: Option<String>,
    /// One repository, OWNER/NAME (any case).
    #[arg(long, value_name = "OWNER/NAME", conflicts_with_all = ["source", "document"])]
    pub repo: Option<String>,
    /// A vcurate source id.
    #[arg(long, conflicts_with = "document")]
    pub source: Option<String>,
    /// One document id.
    #[arg(long, conflicts_with = "path")]
    pub document: Option<String>,
    /// A glob on document paths (alone: in every source; with --owner/--repo/--source: there).
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,
    /// Why (who asked, the request's reference); recorded in the opt-out list.
    #[arg(long)]
    pub reason: String,
    /// The request's date, YYYY-MM-DD (default: today, or SOURCE_DATE_EPOCH's day).
    #[arg(long)]
    pub date: Option<String>,
    /// Only list the snapshots and exports that hold matching documents; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Add the opt-out entry but rebuild no snapshot.
    #[arg(long, conflicts_with = "dry_run")]
    pub no_rebuild: bool,
    /// Print the report as JSON on stdout instead of a summary on stderr.
    #[arg(long)]
    pub json: bool,
}

pub fn run(dir: Option<&Path>, args: TakedownArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let date = args
        .date
        .unwrap_or_else(|| crate::ingest::default_ingest_time()[..10].to_string());
    let settings = TakedownSettings {
        entry: OptOutEntry {
            owner: args.owner,
            repo: args.repo,
            source: args.source,
            document: args.document,
            path: args.path,
            reason: args.reason,
            date,
        },
        dry_run: args.dry_run,
        no_rebuild: args.no_rebuild,
    };
    let report = crate::takedown::run(&ws, &settings).context("takedown failed")?;
    if args.json {
        super::print_json(&report)?;
    } else {
        eprint!("{}", summary(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// The human summary.
pub fn summary(r: &TakedownReport) -> String {
    let mut out = format!(
        "takedown: {} ({}, {})\n",
        r.entry.describe(),
        r.entry.reason,
        r.entry.date
    );
    if r.snapshots.is_empty() {
        out.push_str("no snapshot holds a matching document\n");
    }
    for s in &r.snapshots {
        let included = s.documents.iter().filter(|d| d.included).count();
        out.push_str(&format!(
            "snapshot {} ({}): {} matching document(s), {} included, {} example(s){}\n",
            s.snapshot,
            s.created,
            s.documents.len(),
            included,
            s.examples,
            match &s.rebuilt {
                Some(new) => format!(
                    " -> rebuilt as {new} (`vcurate snapshot diff {} {new}`)",
                    s.snapshot
                ),
                None => String::new(),
            }
        ));
        for d in s.documents.iter().take(10) {
            out.push_str(&format!("  {} {}:{}\n", d.id, d.source_id, d.path));
        }
        if s.documents.len() > 10 {
            out.push_str(&format!("  ... and {} more\n", s.documents.len() - 10));
        }
    }
    for e in &r.exports {
        let lines: Vec<String> = e.lines.iter().map(|(f, n)| format!("{f}: {n}")).collect();
        out.push_str(&format!(
            "export {} (snapshot {}, {}, {}): {}{}\n",
            e.out.display(),
            e.snapshot,
            e.format,
            e.profile,
            lines.join(", "),
            if e.sidecars_read {
                ""
            } else {
                " (its provenance sidecars are gone; counted from the snapshot)"
            }
        ));
    }
    if !r.exports.is_empty() {
        out.push_str("exports are files vcurate does not delete: remove them, or export the rebuilt snapshots again\n");
    }
    match &r.opt_out_hash {
        Some(h) => out.push_str(&format!(
            "added to {} (now {h})\n",
            crate::core::opt_out::OPT_OUT_PATH
        )),
        None => out.push_str("dry run: nothing was changed\n"),
    }
    out
}
