//! `vcurate train` from a snapshot made by the quickstart sample, on a tiny random Qwen3 with a
//! tiny BPE tokenizer, both written by the test (no model hub is reachable).

use crate::util::{quickstart_snapshot, stderr, tiny_model, train_snapshot, vcurate, CORPUS};

#[test]
fn train_runs_straight_from_the_quickstart_snapshot_and_writes_adapters() {
    let tmp = tempfile::tempdir().unwrap();
    let (ws, id) = quickstart_snapshot(tmp.path());
    let model = tmp.path().join("model");
    tiny_model(&model, &CORPUS, 300);
    let out_dir = tmp.path().join("adapter");
    let config = tmp.path().join("train.toml");
    std::fs::write(&config, format!("model = {model:?}\noutput = {out_dir:?}\nseed = 3\n[lora]\nrank = 2\nalpha = 4.0\ntargets = [\"q_proj\", \"v_proj\"]\n[optim]\nlr = 1e-2\nsteps = 3\nwarmup_steps = 1\n[data]\nbatch_size = 2\nmax_seq_len = 128\n[loop]\neval_every = 3\nsave_every = 3\n")).unwrap();
    let report = train_snapshot(&ws, &id, &config);
    assert_eq!(report["steps_run"], 3);
    assert!(
        report["train_examples"].as_u64().unwrap() > 0
            && report["valid_examples"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert!(report["last_loss"].as_f64().unwrap().is_finite());
    for f in [
        "mlx/adapters.safetensors",
        "mlx/adapter_config.json",
        "peft/adapter_model.safetensors",
        "peft/adapter_config.json",
        "metrics.jsonl",
        "config.toml",
    ] {
        assert!(out_dir.join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read_to_string(out_dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"loss\""))
            .count(),
        3
    );

    // training.json links the run to its snapshot (eval's contamination check reads it);
    // loss.svg draws the curve.
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("training.json")).unwrap()).unwrap();
    assert_eq!(record["snapshot"], id.as_str());
    let svg = std::fs::read_to_string(out_dir.join("loss.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );

    // Fuse the adapter into the base: a plain model folder that loads without adapters.
    let fused = tmp.path().join("fused");
    let args = [
        "train",
        "fuse",
        "--model",
        model.to_str().unwrap(),
        "--adapter",
        out_dir.to_str().unwrap(),
        "--out",
        fused.to_str().unwrap(),
        "--json",
    ];
    let out = vcurate(&ws, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let fuse: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        fuse["modules_fused"], 4,
        "2 layers x q_proj, v_proj: {fuse}"
    );
    for f in [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "fuse.json",
    ] {
        assert!(fused.join(f).is_file(), "{f}");
    }
    let base =
        candle_core::safetensors::load(model.join("model.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    let merged =
        candle_core::safetensors::load(fused.join("model.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    assert_eq!(base.len(), merged.len());
    let differs = |k: &str| {
        let d = (&base[k] - &merged[k])
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap();
        d.to_scalar::<f32>().unwrap() > 0.0
    };
    assert!(
        differs("model.layers.1.self_attn.q_proj.weight"),
        "q_proj changed"
    );
    assert!(
        !differs("model.layers.1.self_attn.k_proj.weight"),
        "k_proj untouched"
    );
    // A non-empty output folder is refused, and nothing in it is touched.
    let out = vcurate(&ws, &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));

    // The contamination link: the adapter's training.json names the snapshot, whose checks
    // covered the quickstart's registered eval set: clean. A task set the snapshot was never
    // checked against is unverified, and --strict refuses it.
    let tasks = tmp.path().join("sample-tasks.jsonl");
    let sample = ws.join("samples/evals/sample-evals.jsonl");
    let imported = vcurate(
        &ws,
        &[
            "eval",
            "import",
            "--format",
            "plain",
            sample.to_str().unwrap(),
            "--out",
            tasks.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    let summary: serde_json::Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(summary["format"], "plain");
    assert_eq!(summary["out"], tasks.to_str().unwrap());
    assert!(summary["tasks"].as_u64().unwrap() > 0, "{summary}");
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dataset/evals/luau-basics.jsonl");
    let eval = |tasks: &std::path::Path, run: &str, extra: &[&str]| {
        let run_dir = tmp.path().join(run);
        let mut args = vec![
            "eval",
            "run",
            "--tasks",
            tasks.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--adapter",
            out_dir.to_str().unwrap(),
            "--max-tokens",
            "4",
            "--json",
            "--out",
            run_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        vcurate(&ws, &args)
    };
    let o = eval(&tasks, "run-sample", &["--strict"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["contamination"]["status"], "clean", "{rep}");
    let msg = rep["contamination"]["message"].as_str().unwrap();
    assert!(msg.contains(&id) && msg.contains("sample-evals"), "{msg}");
    let o = eval(&shipped, "run-shipped", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["contamination"]["status"], "unverified", "{rep}");
    assert!(
        stderr(&o).contains("warning: contamination"),
        "{}",
        stderr(&o)
    );
    let o = eval(&shipped, "run-strict", &["--strict"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("refusing to report under --strict"),
        "{}",
        stderr(&o)
    );

    // Flags override the file; a misspelled config key is an error naming it.
    std::fs::write(
        &config,
        format!(
            "model = {model:?}\noutput = {out_dir:?}\n[optim]\nsteps = 1\nlearning_rate = 0.1\n"
        ),
    )
    .unwrap();
    let out = vcurate(
        &ws,
        &[
            "train",
            "--snapshot",
            &id,
            "--config",
            config.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("learning_rate"), "{}", stderr(&out));
}

/// A build without the MLX backend refuses `--device mlx` before it reads the snapshot or the
/// model, and says how to build it (the command is the same in every build; the backend is not).
#[cfg(not(feature = "mlx"))]
#[test]
fn train_device_mlx_in_a_build_without_it_says_how_to_build_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = crate::util::workspace(tmp.path());
    let out = vcurate(
        &ws,
        &[
            "train",
            "--snapshot",
            "none",
            "--model",
            "m",
            "--output",
            "o",
            "--device",
            "mlx",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--features mlx") && err.contains("tests/mlx-sdk"),
        "{err}"
    );
}
