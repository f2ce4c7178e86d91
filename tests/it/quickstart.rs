//! The README's first command, end to end, and the report in a real browser.

use std::process::Command;

use crate::util::{stderr, vcurate};

/// Headless Chromium with the flags this closed network needs; None when it is not installed.
fn chromium() -> Option<Command> {
    let bin = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    Some(c)
}

#[test]
fn quickstart_runs_the_pipeline_offline_and_the_report_renders_in_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let out = vcurate(tmp.path(), &["quickstart", "demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for stage in [
        "== ingest",
        "== audit",
        "== snapshot",
        "== report",
        "== export",
        "Artifacts:",
    ] {
        assert!(err.contains(stage), "{err}");
    }
    let ws = tmp.path().join("demo");
    let snaps: Vec<_> = std::fs::read_dir(ws.join("dataset/snapshots"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("snapshot.toml").exists())
        .collect();
    assert_eq!(snaps.len(), 1);
    let report = snaps[0].path().join("reports/report.html");
    let export = ws.join("exports").join(snaps[0].file_name());
    assert!(
        std::fs::read_to_string(export.join("train.jsonl"))
            .unwrap()
            .lines()
            .count()
            > 0
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("<figure class=\"plot\"").count(), 8);
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );

    // Rerunning is idempotent: same snapshot id.
    let again = vcurate(tmp.path(), &["quickstart", "demo"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let count = std::fs::read_dir(ws.join("dataset/snapshots"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("snapshot.toml").exists())
        .count();
    assert_eq!(count, 1, "same inputs, same snapshot");

    let mut chrome = chromium().expect("Debian's chromium is needed for the report test (`.ci/run` installs it: apt-get install chromium)");
    let dom = chrome
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("chrome").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("data-rendered=\"8\""),
        "the page's script ran and counted 8 plots: {}",
        &dom_text[..dom_text.len().min(500)]
    );
    assert!(dom_text.matches("<svg").count() >= 5, "plots drawn as SVG");
    let log = String::from_utf8_lossy(&dom.stderr);
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console_errors.is_empty(),
        "console errors: {console_errors:?}"
    );
}
