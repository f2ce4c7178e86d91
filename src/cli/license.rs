//! `vcurate license report`: the license verdict of every ingested document, as CSV, JSON or
//! an SPDX 2.3 JSON document, with the gate decisions of the policy's profiles; optionally the
//! NOTICE text for what a profile admits.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::audit::license::{detect, root_licenses};
use crate::audit::license_report::{self, SpdxOptions};
use crate::audit::policy::{Policy, POLICY_PATH};
use crate::ingest::load_sources;
use crate::snapshot;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct LicenseArgs {
    #[command(subcommand)]
    pub command: LicenseCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LicenseCommand {
    /// Report the license of every ingested document, with its evidence and the gate's decision.
    Report(ReportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One row per document.
    Csv,
    /// Summaries (by license, by source, unknown) and every document with its evidence.
    Json,
    /// An SPDX 2.3 JSON document: one package per source, one file per document.
    Spdx,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
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
    let store = ws.store_dir();
    let docs = snapshot::all_documents(&store).context("reading the ingested documents")?;
    if docs.is_empty() {
        bail!(
            "no ingested documents in {}; run `vcurate ingest` first",
            store.display()
        );
    }
    let evidence = snapshot::all_evidence(&store).context("reading the license evidence")?;
    let sources = load_sources(&ws, &[])?;
    let policy = Policy::for_workspace(&ws.root)?;
    let profiles: Vec<String> = match &args.profile {
        Some(p) if policy.file.profiles.contains_key(p) => vec![p.clone()],
        Some(p) => bail!(
            "unknown profile `{p}`; {} defines: {}",
            POLICY_PATH,
            policy
                .file
                .profiles
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => policy.file.profiles.keys().cloned().collect(),
    };
    let cfg = ws.config.audit.license.clone();
    let verdicts = detect(&docs, &evidence, &sources, &cfg);
    let roots = root_licenses(&evidence, &cfg);
    let created = crate::ingest::default_ingest_time();
    let report = license_report::build(
        &docs,
        &verdicts,
        &sources,
        &roots,
        Some(&policy),
        &profiles,
        &created,
    );

    let text = match args.format {
        Format::Csv => license_report::to_csv(&report),
        Format::Json => license_report::to_json(&report),
        Format::Spdx => {
            let name = ws
                .root
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("workspace")
                .to_string();
            let opts = SpdxOptions {
                name: format!("vcurate-{name}"),
                namespace_base: "https://vcurate.invalid/spdxdocs".into(),
                created: created.clone(),
            };
            let v = license_report::to_spdx(&docs, &verdicts, &sources, &roots, &evidence, &opts);
            serde_json::to_string_pretty(&v)? + "\n"
        }
    };
    match &args.out {
        Some(p) => crate::core::fs::write_atomic(p, text.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    if let Some(path) = &args.notice {
        let profile = args.profile.clone().unwrap_or_else(|| "publish".into());
        let allowed: std::collections::HashSet<&str> = report
            .documents
            .iter()
            .filter(|r| r.decisions.get(&profile).is_some_and(|dec| dec.allowed))
            .map(|r| r.id.as_str())
            .collect();
        let admitted: Vec<_> = docs
            .iter()
            .filter(|d| allowed.contains(d.id.as_str()))
            .cloned()
            .collect();
        let text = license_report::notice(&admitted, &verdicts);
        crate::core::fs::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let s = &report.summary;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "{} documents: {} resolved, {} unresolved, {} with conflicts",
        s.documents, s.resolved, s.unresolved, s.with_conflicts
    )?;
    for p in &profiles {
        let n = report
            .documents
            .iter()
            .filter(|r| r.decisions.get(p).is_some_and(|d| d.allowed))
            .count();
        writeln!(err, "  {p}: {n} admitted, {} refused", s.documents - n)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::test_support::MIT_TEXT;
    use crate::ingest::IngestOptions;

    fn write(p: &Path, text: &str) {
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }

    /// A real workspace, a real ingest of a local folder, then the report as the CLI writes it.
    #[test]
    fn report_from_an_ingested_workspace() {
        let tmp = tempfile::tempdir().unwrap();
        let ws_dir = tmp.path().join("ws");
        crate::scaffold::init_workspace(&ws_dir).unwrap();
        write(
            &ws_dir.join(POLICY_PATH),
            crate::audit::policy::DEFAULT_POLICY,
        );
        write(
            &ws_dir.join("sources/game.toml"),
            "kind = \"local\"\npath = \"tree\"\nrights-basis = \"open_source\"\nexpected-license = \"MIT\"\n",
        );
        let tree = ws_dir.join("tree");
        write(&tree.join("LICENSE"), MIT_TEXT);
        write(&tree.join("src/init.lua"), "return {}\n");
        write(
            &tree.join("src/gpl.lua"),
            "-- SPDX-License-Identifier: GPL-3.0-only\nreturn 1\n",
        );
        write(
            &tree.join("vendor/lib/LICENSE.lua"),
            &format!(
                "return [[\n{}]]\n",
                MIT_TEXT.replace("MIT License", "MIT License (vendored)")
            ),
        );
        write(&tree.join("vendor/lib/init.lua"), "return 2\n");
        write(
            &tree.join("tests/fixtures/pkg/package.json"),
            r#"{"license":"AGPL-3.0-only"}"#,
        );
        write(&tree.join("tests/fixtures/pkg/x.lua"), "return 3\n");
        let ws = Workspace::open(&ws_dir).unwrap();
        let opts = IngestOptions {
            ingest_time: Some("2024-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        crate::ingest::run(&ws, &opts, &|_| {}).unwrap();

        let out = tmp.path().join("report.spdx.json");
        let args = |format, out: &Path, notice: Option<PathBuf>| LicenseArgs {
            command: LicenseCommand::Report(ReportArgs {
                format,
                out: Some(out.to_path_buf()),
                profile: None,
                notice,
            }),
        };
        run(Some(&ws_dir), args(Format::Spdx, &out, None)).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&fs_err::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        let files = doc["files"].as_array().unwrap();
        // LICENSE.lua is Luau, so it is a document too.
        assert_eq!(files.len(), 5, "{files:#?}");
        let concluded = |name: &str| {
            files
                .iter()
                .find(|f| f["fileName"] == name)
                .map(|f| f["licenseConcluded"].as_str().unwrap().to_string())
        };
        assert_eq!(concluded("./game/src/init.lua").as_deref(), Some("MIT"));
        assert_eq!(
            concluded("./game/src/gpl.lua").as_deref(),
            Some("GPL-3.0-only")
        );
        assert_eq!(
            concluded("./game/vendor/lib/init.lua").as_deref(),
            Some("MIT")
        );
        assert_eq!(
            concluded("./game/tests/fixtures/pkg/x.lua").as_deref(),
            Some("AGPL-3.0-only")
        );
        assert_eq!(doc["packages"][0]["licenseDeclared"], "MIT");

        let csv = tmp.path().join("r.csv");
        let notice = tmp.path().join("NOTICE");
        run(Some(&ws_dir), args(Format::Csv, &csv, Some(notice.clone()))).unwrap();
        let csv = fs_err::read_to_string(&csv).unwrap();
        assert_eq!(csv.lines().count(), 6);
        let agpl = csv
            .lines()
            .find(|l| l.contains("tests/fixtures/pkg/x.lua"))
            .unwrap();
        assert!(
            agpl.contains("[fixture]") && agpl.contains(",false,deny,"),
            "{agpl}"
        );
        let notice = fs_err::read_to_string(&notice).unwrap();
        assert!(
            notice.contains("Licenses: MIT (3 documents)\n"),
            "only what publish admits: {notice}"
        );
        assert!(
            notice.contains("Copyright (c) 2024 Example Author"),
            "{notice}"
        );

        let bad = LicenseArgs {
            command: LicenseCommand::Report(ReportArgs {
                format: Format::Json,
                out: Some(out.clone()),
                profile: Some("ship".into()),
                notice: None,
            }),
        };
        let e = run(Some(&ws_dir), bad).unwrap_err().to_string();
        assert!(
            e.contains("unknown profile `ship`") && e.contains("publish"),
            "{e}"
        );
    }
}
