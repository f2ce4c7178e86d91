//! `vcurate quickstart`: the embedded sample, end to end, offline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::ingest::IngestOptions;

#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Where to create the sample workspace (reused if it already exists).
    #[arg(default_value = "vcurate-quickstart")]
    pub dir: PathBuf,
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<ExitCode> {
    let ws = crate::quickstart::setup(&args.dir).with_context(|| {
        format!(
            "could not set up the sample workspace in {}",
            args.dir.display()
        )
    })?;
    eprintln!("Sample workspace: {}", ws.root.display());
    eprintln!("\n== ingest");
    let bars = super::progress::Bars::new(false);
    let report = crate::ingest::run(&ws, &IngestOptions::default(), &|e| bars.handle(e))?;
    eprint!("{}", super::ingest::summary_table(&report));
    eprintln!("\n== audit");
    let audits = crate::audit::run::run(&ws, &[], &|_| {})?;
    eprint!("{}", super::audit::summary_table(&audits));
    eprintln!("\n== snapshot");
    let snap = super::snapshot::create(&ws, false)?;
    let c = &snap.counts;
    eprintln!(
        "snapshot {}: {} documents, {} included ({} train / {} valid / {} test)",
        snap.id, c.documents, c.included, c.train, c.valid, c.test
    );
    let snaps = ws.dataset_dir().join("snapshots");
    eprintln!("\n== report");
    let report = snaps.join(&snap.id).join("reports").join("report.html");
    crate::core::fs::write_atomic(&report, crate::report::render(&snaps, &snap.id)?.as_bytes())?;
    eprintln!("wrote {}", report.display());
    eprintln!("\n== export");
    let export_dir = ws.root.join("exports").join(&snap.id);
    let args = super::export::ExportArgs {
        snapshot: snap.id.clone(),
        format: crate::export::Format::Chat,
        profile: "train".into(),
        out: export_dir.clone(),
        no_provenance: false,
        drop_refused: false,
        json: false,
    };
    super::export::run(Some(&ws.root), args)?;
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
        ("snapshot", snaps.join(&snap.id).display().to_string()),
        ("report", report.display().to_string()),
        (
            "export",
            format!(
                "{} (mlx-lm chat JSONL, provenance sidecars, README.md, NOTICE, SHA256SUMS)",
                export_dir.display()
            ),
        ),
    ];
    eprintln!("\nArtifacts:");
    for (what, where_) in artifacts {
        eprintln!("  {what:<13} {where_}");
    }
    eprintln!(
        "\nNext: cd {} && vcurate sources && vcurate snapshot show {}",
        ws.root.display(),
        snap.id
    );
    Ok(ExitCode::SUCCESS)
}
