//! `vcurate export`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;

use crate::export::{export, DocOrigin, ExportExample, ExportOptions, Format};
use crate::snapshot::{freeze, read_parquet};
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Snapshot id (or unique prefix).
    #[arg(long)]
    pub snapshot: String,
    /// Line format: chat ({"messages"}), completions ({"prompt","completion"}) or text ({"text"}).
    #[arg(long, value_enum, default_value = "chat")]
    pub format: Format,
    /// License profile the export must satisfy: `train` (may include own and reviewed code) or
    /// `publish` (redistributable only).
    #[arg(long, default_value = "train")]
    pub profile: String,
    /// Output folder (train.jsonl, valid.jsonl, test.jsonl, NOTICE, README.md, SHA256SUMS).
    #[arg(long)]
    pub out: PathBuf,
    /// Skip the provenance sidecars (<split>.provenance.jsonl, aligned line by line).
    #[arg(long)]
    pub no_provenance: bool,
    /// Export what the profile allows and list the refused examples in refused.jsonl.
    #[arg(long)]
    pub drop_refused: bool,
    #[arg(long)]
    pub json: bool,
}

fn strings(df: &polars::prelude::DataFrame, name: &str) -> anyhow::Result<Vec<String>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

pub fn run(dir: Option<&Path>, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let ws = Workspace::discover(dir)?;
    let snaps = ws.dataset_dir().join("snapshots");
    let id = freeze::resolve(&snaps, &args.snapshot)?;
    let snap = snaps.join(&id);
    let examples = crate::export::load_examples(&snap)?;
    let docs = read_parquet(&snap.join("documents.parquet"))?;
    let (ids, sources, urls, paths) = (
        strings(&docs, "id")?,
        strings(&docs, "source_id")?,
        strings(&docs, "url")?,
        strings(&docs, "path")?,
    );
    let commits: Vec<Option<String>> = docs
        .column("commit")?
        .str()?
        .iter()
        .map(|v| v.map(String::from))
        .collect();
    let origins: BTreeMap<String, DocOrigin> = (0..docs.height())
        .map(|i| {
            (
                ids[i].clone(),
                DocOrigin {
                    doc_id: ids[i].clone(),
                    source_id: sources[i].clone(),
                    url: urls[i].clone(),
                    commit: commits[i].clone(),
                    path: paths[i].clone(),
                },
            )
        })
        .collect();
    // The profile's verdict per document, from the snapshot's license audit.
    let lic_path = snap.join("attributes").join("license.parquet");
    if !lic_path.exists() {
        bail!(
            "snapshot {id} has no license verdicts; run `vcurate audit` and re-create the snapshot"
        );
    }
    let lic = read_parquet(&lic_path)?;
    let (allowed_col, reason_col) = (
        format!("{}_allowed", args.profile),
        format!("{}_reason", args.profile),
    );
    if lic.column(&allowed_col).is_err() {
        bail!(
            "unknown profile `{}` (this snapshot's verdicts cover: train, publish)",
            args.profile
        );
    }
    let allowed: BTreeMap<String, (bool, String)> = strings(&lic, "id")?
        .into_iter()
        .zip(
            lic.column(&allowed_col)?
                .bool()?
                .iter()
                .map(|b| b.unwrap_or(false)),
        )
        .zip(strings(&lic, &reason_col)?)
        .map(|((id, a), r)| (id, (a, r)))
        .collect();
    let gate = |e: &ExportExample| -> Result<(), String> {
        let refused: Vec<String> = e
            .doc_ids
            .iter()
            .filter_map(|d| match allowed.get(d) {
                Some((true, _)) => None,
                Some((false, why)) => Some(format!("{d}: {why}")),
                None => Some(format!("{d}: no license verdict")),
            })
            .collect();
        if refused.is_empty() {
            Ok(())
        } else {
            Err(refused.join("; "))
        }
    };
    let opts = ExportOptions {
        snapshot: id,
        format: args.format,
        profile: args.profile.clone(),
        out: args.out.clone(),
        provenance: !args.no_provenance,
        drop_refused: args.drop_refused,
        origins: &origins,
        gate: &gate,
    };
    let report = export(&examples, &opts)?;
    if args.json {
        super::print_json(&report)?;
    } else {
        let lines: Vec<String> = report
            .lines
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        eprintln!(
            "exported {} ({}) to {}: {}{}",
            report.snapshot,
            args.profile,
            report.out.display(),
            lines.join(" "),
            if report.refused > 0 {
                format!(", {} refused (refused.jsonl)", report.refused)
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
