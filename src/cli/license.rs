//! `vcurate license report`: the license verdict of every ingested document (as the license
//! audit concluded it: run `vcurate audit license` first), as CSV, JSON or
//! an SPDX 2.3 JSON document, with the gate decisions of the policy's profiles; optionally the
//! NOTICE text for what a profile admits. The report is `audit::license_report::run`'s; this
//! file writes it where asked.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::audit::license_report::{self, ReportFormat, ReportSettings};
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct LicenseArgs {
    #[command(subcommand)]
    pub command: LicenseCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LicenseCommand {
    /// Report the license of every ingested document, with its evidence and the gate's decision.
    ///
    /// Reads the verdicts of the license audit (`vcurate audit license` or `vcurate audit`),
    /// so the report and the snapshot's gate agree by construction.
    Report(ReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    pub format: ReportFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only this profile's decisions (default: every profile of licenses/policy.toml).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Also write the NOTICE text for the documents the profile admits (`--profile`, default
    /// `publish`) to FILE.
    #[arg(long, value_name = "FILE")]
    pub notice: Option<PathBuf>,
}

pub fn run(dir: Option<&Path>, args: LicenseArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        LicenseCommand::Report(a) => report(dir, a),
    }
}

fn report(dir: Option<&Path>, args: ReportArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let settings = ReportSettings {
        format: args.format,
        profile: args.profile.clone(),
        notice: args.notice.is_some(),
    };
    let done = license_report::run(&ws, &settings)?;
    match &args.out {
        Some(p) => crate::core::fs::write_atomic(p, done.text.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?,
        None => super::print_data(&done.text)?,
    }
    if let (Some(path), Some(text)) = (&args.notice, &done.notice) {
        crate::core::fs::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let s = &done.summary;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "{} documents: {} resolved, {} unresolved, {} with conflicts",
        s.documents, s.resolved, s.unresolved, s.with_conflicts
    )?;
    for (profile, n) in &done.admitted {
        writeln!(
            err,
            "  {profile}: {n} admitted, {} refused",
            s.documents - n
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
