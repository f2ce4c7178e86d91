//! Command-line interface: clap types and one file per subcommand. No business logic here:
//! each subcommand resolves its settings, calls the library, and renders the result (tables for
//! people on stderr, `--json` on stdout).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod audit;
pub mod bench;
pub mod eval;
pub mod export;
pub mod ingest;
pub mod init;
pub mod license;
pub mod progress;
pub mod quickstart;
pub mod report;
pub mod schemas;
pub mod shard;
pub mod snapshot;
pub mod sources;
pub mod takedown;
pub mod train;

/// Curate Roblox/Luau training data with per-file provenance.
///
/// The pipeline: `ingest` declared sources into documents, audit them, render training
/// examples, freeze a snapshot, export it. Start with `vcurate quickstart` to run it on the
/// embedded sample, or `vcurate init DIR` for a new workspace.
#[derive(Debug, Parser)]
#[command(
    name = "vcurate",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Exit codes: 0 success, 1 a gate said no (`eval compare`), 2 error. Logs: RUST_LOG=debug. Tables for people go to stderr; --json output goes to stdout."
)]
pub struct Cli {
    /// Run as if started in DIR (which must hold vcurate.toml) instead of finding the nearest
    /// workspace above the current directory.
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline on the embedded sample corpus, offline: ingest to export, then
    /// train a LoRA adapter (on a demo model, or --model) and evaluate it.
    Quickstart(quickstart::QuickstartArgs),
    /// Create a new workspace with commented defaults.
    Init(init::InitArgs),
    /// Turn declared sources into documents with per-file provenance.
    Ingest(ingest::IngestArgs),
    /// Audit ingested documents: licenses, secrets and PII, code density, quality, exact/near
    /// dedup, contamination, splits.
    Audit(audit::AuditArgs),
    /// License reports (csv, json, SPDX 2.3) with per-file evidence, and the NOTICE.
    License(license::LicenseArgs),
    /// Freeze, list, show and compare immutable, content-addressed snapshots.
    Snapshot(snapshot::SnapshotArgs),
    /// Export a snapshot as JSONL for mlx-lm and others, with provenance, dataset card, NOTICE.
    Export(export::ExportArgs),
    /// Take down an owner's, a repository's, a path's or a document's files: list the snapshots
    /// and exports holding them, add an opt-out entry, rebuild those snapshots without them.
    Takedown(takedown::TakedownArgs),
    /// Fine-tune a LoRA or QLoRA adapter (Qwen3, candle) straight from a snapshot's examples.
    Train(train::TrainArgs),
    /// Write a self-contained HTML report with plots for a snapshot.
    Report(report::ReportArgs),
    /// List sources with their locked and ingested commits and counts.
    Sources(sources::SourcesArgs),
    /// Score Luau answers by executing them: parse, compile, run tests in a sandbox.
    Eval(eval::EvalArgs),
    /// Benchmarks that write their figures to a file.
    Bench(bench::BenchArgs),
    /// Run the sharded audits (all but splits) task by task: plan, run one task,
    /// run all locally, finish. For executors such as Ray; see "When one machine is not enough".
    Shard(shard::ShardArgs),
    /// List (or write) the JSON Schemas of every record vcurate reads and writes.
    Schemas(schemas::SchemasArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let dir = cli.dir.as_deref();
    match cli.command {
        Command::Quickstart(args) => quickstart::run(args),
        Command::Init(args) => init::run(args),
        Command::Ingest(args) => ingest::run(dir, args),
        Command::Sources(args) => sources::run(dir, args),
        Command::Audit(args) => audit::run(dir, args),
        Command::Snapshot(args) => snapshot::run(dir, args),
        Command::License(args) => license::run(dir, args),
        Command::Report(args) => report::run(dir, args),
        Command::Export(args) => export::run(dir, args),
        Command::Takedown(args) => takedown::run(dir, args),
        Command::Train(args) => train::run(dir, args),
        Command::Schemas(args) => schemas::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Shard(args) => shard::run(dir, args),
        Command::Eval(args) => eval::run(args),
    }
}

/// Prints JSON to stdout (the one way a command prints `--json` output).
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // serde_json wraps I/O errors in its own type; give a closed pipe back its io::Error so
    // `is_broken_pipe` recognises it.
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| match e.io_error_kind() {
        Some(kind) => anyhow::Error::from(std::io::Error::from(kind)),
        None => anyhow::Error::from(e),
    })?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Writes data (a report, a manifest, a list) to stdout. Never use `print!` in a command: it
/// panics on a closed pipe.
pub(crate) fn print_data(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Whether an error is a closed stdout (`vcurate ... | head`), which is success.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}

/// The text of an error and its causes, each said once: a cause whose text its parent's message
/// already contains (`#[error("...: {source}")]`) is not repeated.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(part.trim()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("could not fetch https://example.invalid/x: {source}")]
    struct Outer {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_its_parent_message_is_said_once() {
        let inner = std::io::Error::other("connection refused; check the URL or set [git.rewrite]");
        let err = anyhow::Error::from(Outer { source: inner }).context("ingest failed");
        let text = error_text(&err);
        assert_eq!(text.matches("connection refused").count(), 1, "{text}");
        assert!(text.starts_with("ingest failed: could not fetch"), "{text}");
    }

    #[test]
    fn broken_pipe_is_recognised_through_serde_json_and_context() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let json = serde_json::Error::io(io);
        assert!(is_broken_pipe(
            &anyhow::Error::from(json).context("printing")
        ));
        let other = serde_json::Error::io(std::io::Error::other("disk full"));
        assert!(!is_broken_pipe(&anyhow::Error::from(other)));
    }
}
