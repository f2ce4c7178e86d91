//! The README's first command, end to end (the pipeline, then training and evaluating the demo
//! model), and the report in a real browser; `--model` with a model folder of one's own.

use std::path::Path;
use std::process::Command;

use crate::util::{schema, stderr, tiny_model, validate, vcurate};

/// The train losses of `metrics.jsonl`, in order.
fn losses(metrics: &Path) -> Vec<f64> {
    std::fs::read_to_string(metrics)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["loss"].as_f64())
        .collect()
}

/// Validates a `quickstart --json` report against its committed schema.
fn valid_report(report: &serde_json::Value) {
    let s = schema("cli-quickstart.schema.json");
    validate(&s, &s, report, "$").unwrap();
}

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
        "== model",
        "== train",
        "== eval",
        "Artifacts:",
        "demo model: random weights — this demonstrates the pipeline, not model quality",
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

    // The demo model was written, an adapter trained from the snapshot, and evaluated.
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(ws.join("models/demo-qwen3-tiny").join(f).is_file(), "{f}");
    }
    let run = ws.join("runs/quickstart");
    for f in [
        "mlx/adapters.safetensors",
        "mlx/adapter_config.json",
        "peft/adapter_model.safetensors",
        "peft/adapter_config.json",
        "training.json",
        "metrics.jsonl",
        "loss.svg",
    ] {
        assert!(run.join(f).is_file(), "{f}");
    }
    let first_losses = losses(&run.join("metrics.jsonl"));
    assert!(
        !first_losses.is_empty() && first_losses.iter().all(|l| l.is_finite()),
        "{first_losses:?}"
    );
    let svg = std::fs::read_to_string(run.join("loss.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg}"
    );
    // The train config it wrote is one `vcurate train --config` takes.
    let config = std::fs::read_to_string(ws.join("train.toml")).unwrap();
    vcurate::train::config::TrainConfig::from_toml_str(&config, Path::new("train.toml")).unwrap();
    let evals = ws.join("evals/quickstart");
    let results = std::fs::read_to_string(evals.join("results.jsonl")).unwrap();
    for task in ["sample-001", "sample-002", "sample-003"] {
        assert!(results.contains(&format!("\"{task}\"")), "{results}");
    }
    assert!(evals.join("responses.jsonl").is_file());
    let eval_report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(evals.join("report.json")).unwrap()).unwrap();
    assert_eq!(eval_report["overall"]["tasks"], 3, "{eval_report}");
    assert!(std::fs::read_to_string(evals.join("report.md"))
        .unwrap()
        .starts_with("# vcurate eval report"));
    // The output says where the loss curve and the eval report are.
    for path in [run.join("loss.svg"), evals.join("report.md")] {
        let shown = std::path::absolute(&path).unwrap().display().to_string();
        assert!(err.contains(&shown), "{shown} in {err}");
    }

    let html = std::fs::read_to_string(&report).unwrap();
    // Eight plots, and the secrets section's findings-by-rule chart.
    assert_eq!(html.matches("<figure class=\"plot\"").count(), 9);
    assert!(html.contains("Secrets and personal data"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );

    // Rerunning is idempotent: same snapshot id, the same demo model and the same training run,
    // which replaces the first (its metrics start over instead of appending to the old ones:
    // two runs' steps in one loss curve was a bug). The --json report carries all of it.
    let again = vcurate(tmp.path(), &["quickstart", "demo", "--json"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let count = std::fs::read_dir(ws.join("dataset/snapshots"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("snapshot.toml").exists())
        .count();
    assert_eq!(count, 1, "same inputs, same snapshot");
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    valid_report(&json);
    assert_eq!(
        json["snapshot"].as_str().unwrap(),
        snaps[0].file_name().to_str().unwrap()
    );
    assert_eq!(json["model"]["demo"], true);
    assert_eq!(
        losses(&run.join("metrics.jsonl")),
        first_losses,
        "same seeds, same run"
    );
    let train = &json["train"];
    let reported: Vec<f64> = serde_json::from_value(train["losses"].clone()).unwrap();
    assert_eq!(reported, first_losses);
    assert_eq!(train["run"]["steps_run"], first_losses.len());
    assert!(train["run"]["last_loss"].as_f64().unwrap().is_finite());
    assert!(Path::new(train["loss_curve"].as_str().unwrap()).is_file());
    assert!(Path::new(train["config"].as_str().unwrap()).is_file());
    let eval = &json["eval"];
    assert_eq!(
        eval["tasks"],
        serde_json::json!(["sample-001", "sample-002", "sample-003"])
    );
    assert!(Path::new(eval["report_md"].as_str().unwrap()).is_file());
    assert_eq!(eval["report"]["overall"]["tasks"], 3);
    // The adapter's training snapshot was checked against the sample eval set.
    assert_eq!(eval["report"]["contamination"]["status"], "clean");

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
        dom_text.contains("data-rendered=\"9\""),
        "the page's script ran and counted 9 plots: {}",
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

#[test]
fn quickstart_trains_and_evaluates_a_model_folder_given_with_model() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder that does not exist is a clear error, before anything is set up.
    let out = vcurate(
        tmp.path(),
        &["quickstart", "demo", "--model", "no-such-model"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no-such-model") && err.contains("no such folder"),
        "{err}"
    );
    assert!(!tmp.path().join("demo").exists());

    // A model folder of one's own (a tiny random Qwen3 with a ChatML template here: no model
    // hub is reachable) is trained and evaluated instead of the demo model.
    let model = tmp.path().join("my-model");
    tiny_model(
        &model,
        &[
            "local Players = game:GetService(\"Players\")",
            "How do I use a RemoteEvent?",
        ],
        300,
    );
    let out = vcurate(
        tmp.path(),
        &["quickstart", "demo", "--model", "my-model", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("demo model: random weights"),
        "{}",
        stderr(&out)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    valid_report(&json);
    assert_eq!(json["model"]["demo"], false);
    assert_eq!(
        json["model"]["path"].as_str().unwrap(),
        std::path::absolute(&model).unwrap().to_str().unwrap()
    );
    assert!(!tmp.path().join("demo/models").exists(), "no demo model");
    let losses: Vec<f64> = serde_json::from_value(json["train"]["losses"].clone()).unwrap();
    assert!(
        !losses.is_empty() && losses.iter().all(|l| l.is_finite()),
        "{losses:?}"
    );
    let eval = &json["eval"]["report"]["inputs"]["generation"];
    assert_eq!(eval["model_dir"], json["model"]["path"], "{eval}");
}
