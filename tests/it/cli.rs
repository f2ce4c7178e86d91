//! CLI conventions on the real binary: a closed stdout (`vcurate ... | head`) ends quietly with
//! exit 0 for every command that prints data, and each `--json` output validates against its
//! committed schema.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::util::{schema, stderr, stdout, validate, vcurate};

/// Runs the binary with stdout a pipe whose reading end is already closed, as `| head` leaves
/// it once head has what it wants. (`std::io::pipe` is newer than the crate's MSRV; only the
/// tests use it, on the toolchain that runs them.)
#[allow(clippy::incompatible_msrv)]
fn into_closed_pipe(dir: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_vcurate"))
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("NO_COLOR", "1")
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// The quickstart workspace (ingested, audited, snapshotted, exported; no training here) and its
/// snapshot id. Its `--json` report validates against its schema.
fn quickstart(dir: &Path) -> (std::path::PathBuf, String) {
    let out = vcurate(dir, &["quickstart", "demo", "--no-train", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let s = schema("cli-quickstart.schema.json");
    validate(&s, &s, &report, "$").unwrap();
    assert!(
        report["train"].is_null() && report["eval"].is_null(),
        "{report}"
    );
    (
        dir.join("demo"),
        report["snapshot"].as_str().unwrap().to_string(),
    )
}

#[test]
fn every_printing_command_ends_quietly_on_a_closed_pipe_and_json_matches_its_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let (ws, id) = quickstart(tmp.path());
    let ws_s = ws.display().to_string();
    let export_dir = tmp.path().join("export-again").display().to_string();
    let imported = tmp.path().join("imported.jsonl").display().to_string();
    let evals = ws
        .join("samples/evals/sample-evals.jsonl")
        .display()
        .to_string();
    // (arguments, schema of the --json output or None for other data)
    let commands: Vec<(Vec<&str>, Option<&str>)> = vec![
        (vec!["sources", "--json"], Some("cli-sources.schema.json")),
        (vec!["ingest", "--json"], Some("cli-ingest.schema.json")),
        (
            vec![
                "eval", "import", "--format", "plain", &evals, "--out", &imported, "--json",
            ],
            Some("cli-eval-import.schema.json"),
        ),
        (vec!["audit", "--json"], Some("cli-audit.schema.json")),
        (
            vec!["snapshot", "list", "--json"],
            Some("cli-snapshot-list.schema.json"),
        ),
        (vec!["snapshot", "show", &id], None),
        (
            vec!["snapshot", "show", &id, "--json"],
            Some("snapshot-manifest.schema.json"),
        ),
        (
            vec!["snapshot", "diff", &id, &id, "--json"],
            Some("cli-snapshot-diff.schema.json"),
        ),
        (vec!["license", "report"], None),
        (
            vec!["report", "--snapshot", &id, "--json"],
            Some("cli-report.schema.json"),
        ),
        (
            vec!["export", "--snapshot", &id, "--out", &export_dir, "--json"],
            Some("cli-export.schema.json"),
        ),
        (vec!["schemas"], None),
    ];
    for (args, schema_name) in &commands {
        let mut full = vec!["-C", ws_s.as_str()];
        full.extend(args.iter().copied());
        let closed = into_closed_pipe(tmp.path(), &full);
        let err = stderr(&closed);
        assert!(
            closed.status.success() && !err.contains("error") && !err.contains("panicked"),
            "`vcurate {}` into a closed pipe: {:?}\n{err}",
            args.join(" "),
            closed.status
        );
        let out = vcurate(tmp.path(), &full);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            !stdout(&out).is_empty(),
            "`vcurate {}` printed no data",
            args.join(" ")
        );
        if let Some(name) = schema_name {
            let value: serde_json::Value = serde_json::from_str(&stdout(&out))
                .unwrap_or_else(|e| panic!("`vcurate {}`: {e}", args.join(" ")));
            let s = schema(name);
            validate(&s, &s, &value, "$")
                .unwrap_or_else(|e| panic!("`vcurate {}` vs {name}: {e}", args.join(" ")));
        }
    }
}

#[test]
fn tables_for_people_go_to_stderr_and_stdout_stays_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let (ws, id) = quickstart(tmp.path());
    let ws_s = ws.display().to_string();
    for args in [
        vec!["sources"],
        vec!["snapshot", "list"],
        vec!["snapshot", "diff", &id, &id],
    ] {
        let mut full = vec!["-C", ws_s.as_str()];
        full.extend(args.iter().copied());
        let out = vcurate(tmp.path(), &full);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), "", "`vcurate {}`", args.join(" "));
        assert!(!stderr(&out).is_empty());
    }
}

#[test]
fn a_broken_user_template_fails_snapshot_create_and_a_missing_policy_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (ws, _) = quickstart(tmp.path());
    let ws_s = ws.display().to_string();
    let templates = ws.join("dataset/templates");
    std::fs::write(
        templates.join("implement-module.j2"),
        "{% block user %}{{ doc.text ",
    )
    .unwrap();
    let out = vcurate(tmp.path(), &["-C", &ws_s, "snapshot", "create"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("implement-module") && err.contains("nothing was snapshotted"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "said once: {err}"
    );
    assert_eq!(
        err.matches("unexpected end of input").count(),
        1,
        "said once: {err}"
    );

    std::fs::remove_file(ws.join("licenses/policy.toml")).unwrap();
    let out = vcurate(tmp.path(), &["-C", &ws_s, "audit", "license"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("licenses/policy.toml") && err.contains("vcurate init"),
        "{err}"
    );
}
