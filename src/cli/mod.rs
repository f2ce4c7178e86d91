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
pub mod snapshot;
pub mod sources;
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
    /// Run the whole pipeline on the embedded sample corpus, offline.
    Quickstart(quickstart::QuickstartArgs),
    /// Create a new workspace with commented defaults.
    Init(init::InitArgs),
    /// Turn declared sources into documents with per-file provenance.
    Ingest(ingest::IngestArgs),
    /// Audit ingested documents: code density, quality, exact/near dedup, contamination, splits.
    Audit(audit::AuditArgs),
    /// License reports (csv, json, SPDX 2.3) with per-file evidence, and the NOTICE.
    License(license::LicenseArgs),
    /// Freeze, list, show and compare immutable, content-addressed snapshots.
    Snapshot(snapshot::SnapshotArgs),
    /// Export a snapshot as JSONL for mlx-lm and others, with provenance, dataset card, NOTICE.
    Export(export::ExportArgs),
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
        Command::Train(args) => train::run(dir, args),
        Command::Schemas(args) => schemas::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Eval(args) => eval::run(args),
    }
}

/// Prints JSON to stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
