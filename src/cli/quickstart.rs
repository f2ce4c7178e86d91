//! `vcurate quickstart`: the embedded sample, end to end, offline.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::quickstart::Step;

#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Where to create the sample workspace (reused if it already exists).
    #[arg(default_value = "vcurate-quickstart")]
    pub dir: PathBuf,
    /// Print what was made as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<ExitCode> {
    let bars = super::progress::Bars::new(args.json);
    let on_step = |step: Step| match step {
        Step::Setup(ws) => eprintln!("Sample workspace: {}\n\n== ingest", ws.root.display()),
        Step::Ingest(report) => {
            eprint!("{}", super::ingest::summary_table(report));
            eprintln!("\n== audit");
        }
        Step::Audit(audits) => {
            eprint!("{}", super::audit::summary_table(audits));
            eprintln!("\n== snapshot");
        }
        Step::Snapshot(snap) => {
            let c = &snap.counts;
            eprintln!(
                "snapshot {}: {} documents, {} included ({} train / {} valid / {} test)",
                snap.id, c.documents, c.included, c.train, c.valid, c.test
            );
            eprintln!("\n== report");
        }
        Step::Report(path) => {
            eprintln!("wrote {}", path.display());
            eprintln!("\n== export");
        }
        Step::Export(report) => eprintln!("{}", report.summary()),
    };
    let report = crate::quickstart::run(&args.dir, &on_step, &|e| bars.handle(e))?;
    if args.json {
        super::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ws = crate::workspace::Workspace::open(&report.workspace)?;
    let artifacts = [
        ("sources", ws.sources_dir().display().to_string()),
        ("lock file", ws.lock_path().display().to_string()),
        (
            "store",
            format!(
                "{} (Parquet: documents, skipped, evidence per source)",
                ws.store_dir().display()
            ),
        ),
        (
            "audits",
            format!(
                "{} (attributes/, excluded/, summary/ per audit)",
                crate::audit::run::audit_dir(&ws).display()
            ),
        ),
        (
            "snapshot",
            ws.dataset_dir()
                .join("snapshots")
                .join(&report.snapshot)
                .display()
                .to_string(),
        ),
        ("report", report.report.display().to_string()),
        (
            "export",
            format!(
                "{} (mlx-lm chat JSONL, provenance sidecars, README.md, NOTICE, SHA256SUMS)",
                report.export.display()
            ),
        ),
    ];
    eprintln!("\nArtifacts:");
    for (what, where_) in artifacts {
        eprintln!("  {what:<13} {where_}");
    }
    // `cargo run` does not put vcurate on PATH: name the binary that is running.
    let exe = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "vcurate".into());
    eprintln!(
        "\nNext:\n  {exe} -C {root} sources\n  {exe} -C {root} snapshot show {id}\n  {exe} -C {root} export --snapshot {id} --profile publish --drop-refused --out {root}/exports/publish",
        root = report.workspace.display(),
        id = report.snapshot,
    );
    Ok(ExitCode::SUCCESS)
}
