//! The sharded audits through the binary: `kill -9` of a run mid-stage and a rerun give the same
//! tables as an uninterrupted run, byte for byte; the Ray driver (optional, `VCURATE_RAY_PYTHON`
//! = a Python with `ray`) writes the same tables as the local executor.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{stderr, vcurate};

fn generated(dir: &Path, docs: &str) -> PathBuf {
    let ws = dir.join("ws");
    let o = vcurate(
        dir,
        &[
            "bench",
            "scale-generate",
            "--dir",
            "ws",
            "--docs",
            docs,
            "--shards",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    ws
}

/// The audit's three tables, as bytes.
fn tables(ws: &Path, audit: &str) -> Vec<Vec<u8>> {
    let a = ws.join("dataset/audit");
    [
        a.join(format!("attributes/{audit}.parquet")),
        a.join(format!("excluded/{audit}.parquet")),
        a.join(format!("summary/{audit}.json")),
    ]
    .iter()
    .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
    .collect()
}

fn wait_for(path: &Path, limit: Duration) {
    let t = Instant::now();
    while !path.exists() {
        assert!(t.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `kill -9` of `vcurate shard local` for `audit` while tasks of `stage` are half-way (after
/// `earlier`, a finished stage, when there is one), then reruns: the audit's tables are byte for
/// byte those of `vcurate audit`, and finished stages do not run again.
fn kill_9_and_rerun(ws: &Path, work: &Path, audit: &str, stage: &str, earlier: Option<&str>) {
    let o = vcurate(ws, &["audit", audit, "--workers", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = tables(ws, audit);

    let w = work.to_str().unwrap();
    let o = vcurate(ws, &["shard", "plan", audit, "--work", w]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Tasks of `stage` stop half-way; kill -9 the whole run there.
    let mut child = Command::new(env!("CARGO_BIN_EXE_vcurate"))
        .current_dir(ws)
        .env("VCURATE_SHARD_PAUSE", stage)
        .args(["shard", "local", "--work", w, "--workers", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&work.join(stage).join("paused"), Duration::from_secs(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!work.join(stage).join("0.done").exists());
    if let Some(e) = earlier {
        assert!(work.join(e).join("0.done").exists());
    }

    let o = vcurate(ws, &["shard", "local", "--work", w, "--workers", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    if let Some(e) = earlier {
        assert!(
            !err.contains(&format!("done: {e}")),
            "finished stages rerun: {err}"
        );
    }
    assert!(err.contains(&format!("done: {stage}")), "{err}");
    assert_eq!(tables(ws, audit), want, "{audit}");
    // A second rerun has nothing left to do.
    let o = vcurate(ws, &["shard", "local", "--work", w]);
    assert!(
        o.status.success() && !stderr(&o).contains("done:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn kill_9_mid_stage_and_rerun_gives_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = generated(tmp.path(), "1500");
    let o = vcurate(&ws, &["audit", "exact-dedup", "--workers", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    kill_9_and_rerun(
        &ws,
        &tmp.path().join("work-near"),
        "near-dedup",
        "near-verify",
        Some("near-sets"),
    );
    // A per-document audit: one stage, each task a shard read in batches.
    kill_9_and_rerun(
        &ws,
        &tmp.path().join("work-secrets"),
        "secrets",
        "docs",
        None,
    );
}

#[test]
fn ray_driver_writes_the_local_executors_tables() {
    let Some(python) = std::env::var_os("VCURATE_RAY_PYTHON").filter(|p| !p.is_empty()) else {
        eprintln!("ray_driver_writes_the_local_executors_tables: skipped, VCURATE_RAY_PYTHON (a Python with `pip install ray`) is not set");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ws = generated(tmp.path(), "1200");
    // Every audit the driver takes that this workspace can run (it declares no eval sets, so
    // no contamination), in the order `vcurate audit` runs them: the dedup keepers read the
    // license table.
    let audits = [
        "license",
        "secrets",
        "density",
        "quality",
        "exact-dedup",
        "near-dedup",
    ];
    let o = vcurate(
        &ws,
        &[&["audit"][..], &audits, &["--workers", "2"]].concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let want: Vec<_> = audits.iter().map(|a| tables(&ws, a)).collect();
    // The driver must write them anew (the dedup keepers then read the Ray run's licenses).
    std::fs::remove_dir_all(ws.join("dataset/audit")).unwrap();
    let driver = tmp.path().join("ray_shards.py");
    let o = vcurate(&ws, &["shard", "ray-driver"]);
    std::fs::write(&driver, &o.stdout).unwrap();
    for audit in audits {
        let work = tmp.path().join(format!("work-{audit}"));
        let o = Command::new(&python)
            .arg(&driver)
            .args(["-C", ws.to_str().unwrap(), "--audit", audit])
            .args(["--work", work.to_str().unwrap(), "--num-cpus", "2"])
            .args(["--vcurate", env!("CARGO_BIN_EXE_vcurate")])
            .output()
            .unwrap();
        assert!(o.status.success(), "{audit}: {}", stderr(&o));
    }
    let got: Vec<_> = audits.iter().map(|a| tables(&ws, a)).collect();
    assert_eq!(got, want);
}
