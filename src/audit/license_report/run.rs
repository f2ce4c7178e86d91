//! `license report` as a library call: the license verdict of every ingested document in one
//! of the report formats, with the policy's profile decisions, and the NOTICE text for what a
//! profile admits. The CLI only writes what this returns.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{build, notice, to_csv, to_json, to_spdx, SpdxOptions, Summary};
use crate::audit::license::root_licenses;
use crate::audit::license::table::read_verdicts;
use crate::audit::policy::{Policy, POLICY_PATH};
use crate::core::config::ConfigError;
use crate::workspace::Workspace;

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One row per document.
    Csv,
    /// Summaries (by license, by source, unknown) and every document with its evidence.
    Json,
    /// An SPDX 2.3 JSON document: one package per source, one file per document.
    Spdx,
}

/// Settings of one license report.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub format: ReportFormat,
    /// Only this profile's decisions (None: every profile of the policy).
    pub profile: Option<String>,
    /// Also produce the NOTICE text for what the profile (`publish` when none) admits.
    pub notice: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LicenseReportError {
    #[error("no ingested documents in {0}; run `vcurate ingest` first")]
    NoDocuments(PathBuf),
    #[error("unknown profile `{profile}`; {POLICY_PATH} defines: {known}")]
    UnknownProfile { profile: String, known: String },
    #[error("no license audit of the ingested documents ({0} is missing); run `vcurate audit license` (or `vcurate audit`) first")]
    NoAudit(PathBuf),
    #[error(
        "the license audit is older than the ingested store: {0}; rerun `vcurate audit license`"
    )]
    StaleAudit(String),
    #[error("reading the ingested store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error(transparent)]
    Policy(#[from] ConfigError),
    #[error("writing the SPDX document: {0}")]
    Json(#[from] serde_json::Error),
}

/// What a report run produced.
pub struct ReportRun {
    /// The report in the asked format.
    pub text: String,
    /// The NOTICE text, when asked for.
    pub notice: Option<String>,
    pub summary: Summary,
    /// (profile, documents it admits), for every profile reported.
    pub admitted: Vec<(String, usize)>,
}

/// Reports the license of every ingested document of the workspace, as the license audit
/// concluded it (`attributes/license.parquet`; the report never decides a license itself).
pub fn run(ws: &Workspace, settings: &ReportSettings) -> Result<ReportRun, LicenseReportError> {
    let store = ws.store_dir();
    let docs = crate::store::all_documents(&store)?;
    if docs.is_empty() {
        return Err(LicenseReportError::NoDocuments(store));
    }
    let evidence = crate::store::all_evidence(&store)?;
    let sources = crate::ingest::load_sources(ws, &[])?;
    let policy = Policy::for_workspace(&ws.root)?;
    let profiles: Vec<String> = match &settings.profile {
        Some(p) if policy.file.profiles.contains_key(p) => vec![p.clone()],
        Some(p) => {
            return Err(LicenseReportError::UnknownProfile {
                profile: p.clone(),
                known: policy
                    .file
                    .profiles
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
        None => policy.file.profiles.keys().cloned().collect(),
    };
    let table = crate::audit::run::audit_dir(ws)
        .join("attributes")
        .join("license.parquet");
    if !table.is_file() {
        return Err(LicenseReportError::NoAudit(table));
    }
    let verdicts = read_verdicts(&crate::store::read_parquet(&table)?, &docs)
        .map_err(|e| LicenseReportError::StaleAudit(e.to_string()))?;
    let roots = root_licenses(&evidence, &ws.config.audit.license);
    let created = crate::ingest::default_ingest_time();
    let report = build(
        &docs,
        &verdicts,
        &sources,
        &roots,
        Some(&policy),
        &profiles,
        &created,
    );
    let text = match settings.format {
        ReportFormat::Csv => to_csv(&report),
        ReportFormat::Json => to_json(&report),
        ReportFormat::Spdx => {
            let name = ws
                .root
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("workspace");
            let opts = SpdxOptions {
                name: format!("vcurate-{name}"),
                namespace_base: "https://vcurate.invalid/spdxdocs".into(),
                created: created.clone(),
            };
            let v = to_spdx(&docs, &verdicts, &sources, &roots, &evidence, &opts);
            serde_json::to_string_pretty(&v)? + "\n"
        }
    };
    let admitted_by = |profile: &str| -> HashSet<&str> {
        report
            .documents
            .iter()
            .filter(|r| r.decisions.get(profile).is_some_and(|d| d.allowed))
            .map(|r| r.id.as_str())
            .collect()
    };
    let notice = settings.notice.then(|| {
        let profile = settings.profile.as_deref().unwrap_or("publish");
        let allowed = admitted_by(profile);
        let admitted: Vec<_> = docs
            .iter()
            .filter(|d| allowed.contains(d.id.as_str()))
            .cloned()
            .collect();
        notice(&admitted, &verdicts)
    });
    let admitted = profiles
        .iter()
        .map(|p| (p.clone(), admitted_by(p).len()))
        .collect();
    Ok(ReportRun {
        text,
        notice,
        summary: report.summary.clone(),
        admitted,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::audit::policy::POLICY_PATH;
    use crate::audit::test_support::MIT_TEXT;
    use crate::ingest::IngestOptions;

    fn write(p: &Path, text: &str) {
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }

    /// A real workspace, a real ingest of a local folder, then the report in each format.
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
        let settings = |format, notice: bool| ReportSettings {
            format,
            profile: None,
            notice,
        };
        let e = run(&ws, &settings(ReportFormat::Csv, false)).err().unwrap();
        assert!(
            e.to_string().contains("run `vcurate audit license`"),
            "the report reads the audit's verdicts: {e}"
        );
        crate::audit::run::run(&ws, &["license".to_string()], &|_| {}).unwrap();

        let settings = |format, notice: bool| ReportSettings {
            format,
            profile: None,
            notice,
        };
        let spdx = run(&ws, &settings(ReportFormat::Spdx, false)).unwrap();
        assert!(spdx.notice.is_none());
        let doc: serde_json::Value = serde_json::from_str(&spdx.text).unwrap();
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
        // A fixture's manifest sets no license: the fixture inherits the repository's (issue 11).
        assert_eq!(
            concluded("./game/tests/fixtures/pkg/x.lua").as_deref(),
            Some("MIT")
        );
        assert_eq!(doc["packages"][0]["licenseDeclared"], "MIT");

        let csv_run = run(&ws, &settings(ReportFormat::Csv, true)).unwrap();
        let csv = csv_run.text;
        assert_eq!(csv.lines().count(), 6);
        let fixture = csv
            .lines()
            .find(|l| l.contains("tests/fixtures/pkg/x.lua"))
            .unwrap();
        assert!(
            fixture.contains("AGPL-3.0-only (0.90) [fixture]") && fixture.contains(",true,allow,"),
            "{fixture}"
        );
        let notice = csv_run.notice.unwrap();
        assert!(
            notice.contains("Licenses: MIT (4 documents)\n"),
            "only what publish admits: {notice}"
        );
        assert!(
            notice.contains("Copyright (c) 2024 Example Author"),
            "{notice}"
        );

        let bad = ReportSettings {
            format: ReportFormat::Json,
            profile: Some("ship".into()),
            notice: false,
        };
        let e = run(&ws, &bad).err().unwrap().to_string();
        assert!(
            e.contains("unknown profile `ship`") && e.contains("publish"),
            "{e}"
        );
    }
}
