//! JSON Schemas of the records vcurate writes and reads, generated from the Rust types. The
//! committed copies in `schemas/` are checked against these by a test; regenerate them with
//! `vcurate schemas --write schemas`.

use schemars::schema_for;
use serde_json::Value;

/// Every schema, by file name.
pub fn all() -> Vec<(&'static str, Value)> {
    let to = |s: schemars::Schema| serde_json::to_value(s).expect("schema serializes");
    let mut all = vec![
        (
            "document.schema.json",
            to(schema_for!(crate::core::Document)),
        ),
        ("example.schema.json", to(schema_for!(crate::core::Example))),
        (
            "skip-record.schema.json",
            to(schema_for!(crate::core::SkipRecord)),
        ),
        (
            "source-manifest.schema.json",
            to(schema_for!(crate::ingest::manifest::RawManifest)),
        ),
        (
            "license-policy.schema.json",
            to(schema_for!(crate::audit::policy::PolicyFile)),
        ),
        (
            "license-verdict.schema.json",
            to(schema_for!(crate::audit::license::LicenseVerdict)),
        ),
        (
            "export-chat.schema.json",
            to(schema_for!(crate::export::ChatLine)),
        ),
        (
            "export-completions.schema.json",
            to(schema_for!(crate::export::CompletionsLine)),
        ),
        (
            "export-text.schema.json",
            to(schema_for!(crate::export::TextLine)),
        ),
        (
            "export-provenance.schema.json",
            to(schema_for!(crate::export::ProvenanceLine)),
        ),
        (
            "exclusion.schema.json",
            to(schema_for!(crate::core::Exclusion)),
        ),
        (
            "opt-out.schema.json",
            to(schema_for!(crate::core::opt_out::OptOutFile)),
        ),
        (
            "export-record.schema.json",
            to(schema_for!(crate::export::ExportRecord)),
        ),
        (
            "snapshot-manifest.schema.json",
            to(schema_for!(crate::snapshot::freeze::SnapshotManifest)),
        ),
        // What the commands print with --json.
        (
            "cli-sources.schema.json",
            to(schema_for!(Vec<crate::ingest::SourceStatus>)),
        ),
        (
            "cli-audit.schema.json",
            to(schema_for!(Vec<crate::audit::run::AuditSummary>)),
        ),
        (
            "cli-snapshot-list.schema.json",
            to(schema_for!(Vec<crate::snapshot::freeze::SnapshotManifest>)),
        ),
        (
            "cli-snapshot-diff.schema.json",
            to(schema_for!(crate::snapshot::freeze::SnapshotDiff)),
        ),
        (
            "cli-report.schema.json",
            to(schema_for!(crate::report::ReportOutput)),
        ),
        (
            "cli-export.schema.json",
            to(schema_for!(crate::export::ExportReport)),
        ),
        (
            "cli-ingest.schema.json",
            to(schema_for!(crate::ingest::IngestReport)),
        ),
        (
            "cli-train.schema.json",
            to(schema_for!(crate::train::run::TrainReport)),
        ),
        (
            "cli-train-fuse.schema.json",
            to(schema_for!(crate::train::fuse::FuseReport)),
        ),
        (
            "cli-eval-compare.schema.json",
            to(schema_for!(crate::eval::compare::GateDecision)),
        ),
        (
            "cli-eval-import.schema.json",
            to(schema_for!(crate::evalset::ImportSummary)),
        ),
        (
            "cli-takedown.schema.json",
            to(schema_for!(crate::takedown::TakedownReport)),
        ),
        (
            "cli-shard-plan.schema.json",
            to(schema_for!(Vec<crate::audit::sharded::StageTasks>)),
        ),
        (
            // `shard finish` and `shard local` print the same report.
            "cli-shard-finish.schema.json",
            to(schema_for!(crate::audit::sharded::FinishReport)),
        ),
        (
            "cli-quickstart.schema.json",
            to(schema_for!(crate::quickstart::QuickstartReport)),
        ),
    ];
    all.extend(crate::eval::task::schemas());
    all
}

/// Pretty JSON with a trailing newline, as committed.
pub fn render(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("json");
    s.push('\n');
    s
}
