//! `vcurate audit`

use std::path::Path;
use std::process::ExitCode;

use crate::audit::jobs::secrets::SecretsSummary;
use crate::audit::jobs::splits::SplitsSummary;
use crate::audit::run::{self, AuditSummary};
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Audits to run (default: all, in order: license, secrets, density, quality, exact-dedup,
    /// near-dedup, contamination, splits). Each writes
    /// dataset/audit/{attributes,excluded,summary}/<audit>.*
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Print the summaries as JSON on stdout instead of a table on stderr.
    #[arg(long)]
    pub json: bool,
    /// Tasks run at once, each over one shard, band or partition of the store, read in
    /// batches (every audit but splits is sharded; splits reads the dedup tables).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
}

pub fn run(dir: Option<&Path>, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let quiet = args.json;
    let summaries = run::run_with(&ws, &args.names, args.workers, &|name| {
        if !quiet {
            eprintln!("auditing: {name}");
        }
    })?;
    if args.json {
        super::print_json(&summaries)?;
    } else {
        eprint!("{}", summary_table(&summaries));
        eprintln!("Tables: {}", run::audit_dir(&ws).display());
    }
    for s in &summaries {
        for w in &s.warnings {
            eprintln!("warning: {}: {w}", s.audit);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per audit: documents seen, dropped, and dropped by reason.
pub fn summary_table(summaries: &[AuditSummary]) -> String {
    let mut out = format!(
        "{:<14} {:>9} {:>9}  {}\n",
        "audit", "documents", "excluded", "excluded by reason"
    );
    for s in summaries {
        let reasons: Vec<String> = s
            .excluded_by_reason
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        out.push_str(&format!(
            "{:<14} {:>9} {:>9}  {}\n",
            s.audit,
            s.documents,
            s.excluded,
            reasons.join(" ")
        ));
    }
    if let Some(s) = summaries.iter().find(|s| s.audit == "secrets") {
        if let Ok(t) = serde_json::from_value::<SecretsSummary>(s.summary.clone()) {
            let kinds: Vec<String> = t.by_kind.iter().map(|(k, n)| format!("{k}={n}")).collect();
            out.push_str(&format!(
                "secrets and personal data: {} documents with findings ({} dropped, {} redacted){}{}\n",
                t.documents_with_findings,
                t.dropped,
                t.redacted,
                if kinds.is_empty() { "" } else { ": " },
                kinds.join(" ")
            ));
        }
    }
    if let Some(splits) = summaries.iter().find(|s| s.audit == "splits") {
        if let Ok(t) = serde_json::from_value::<SplitsSummary>(splits.summary.clone()) {
            let part = |name: &str, n: usize, f: f64, target: f64| {
                format!(
                    "{name} {n} ({:.1}%, target {:.0}%)",
                    f * 100.0,
                    target * 100.0
                )
            };
            out.push_str(&format!(
                "splits of the kept documents: {}, {}, {}\n",
                part("train", t.kept.train, t.fractions.train, t.targets.train),
                part("valid", t.kept.valid, t.fractions.valid, t.targets.valid),
                part("test", t.kept.test, t.fractions.test, t.targets.test),
            ));
        }
    }
    out
}
