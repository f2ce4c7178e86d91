//! `--device mlx` end to end (cargo feature `mlx`): `vcurate train` on the MLX backend from the
//! quickstart snapshot, for a tiny Qwen3 and a tiny Qwen3.5 written by the test, against the same
//! run on candle; then `vcurate eval run --device mlx` with the adapter it trained, against
//! `--device cpu`.

use std::path::Path;

use crate::eval::{run_eval, task_line, ANSWER, PROMPT};
use crate::util::{quickstart_snapshot, tiny_model, train_snapshot, CORPUS};

/// The `loss` of each step in a run's `metrics.jsonl`.
fn step_losses(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["loss"].as_f64())
        .collect()
}

/// Greedy responses of `eval run` with the model and adapter on `device`.
fn eval_responses(dir: &Path, model: &Path, adapter: &Path, device: &str) -> Vec<String> {
    let out = format!("eval-{device}");
    let (model, adapter) = (model.to_str().unwrap(), adapter.to_str().unwrap());
    let o = run_eval(
        dir,
        &out,
        &[
            "--model",
            model,
            "--adapter",
            adapter,
            "--device",
            device,
            "--max-tokens",
            "24",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["inputs"]["generation"]["device"], device, "{report}");
    std::fs::read_to_string(dir.join(out).join("responses.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["response"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Train the same config on candle and on MLX: the same per-step losses (to `tol`, relative),
/// the MLX run writes everything a candle run writes, and greedy evaluation with its adapter
/// says the same on both devices.
#[test]
fn train_and_eval_on_mlx_follow_candle_from_the_quickstart_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let (ws, id) = quickstart_snapshot(tmp.path());
    let corpus = [CORPUS[0], CORPUS[1], CORPUS[2], PROMPT, ANSWER];
    std::fs::write(tmp.path().join("tasks.jsonl"), task_line() + "\n").unwrap();

    // Qwen3 (2 layers, untied) and Qwen3.5 (4 layers: 3 Gated DeltaNet + 1 attention, tied).
    let qwen3 = tmp.path().join("qwen3");
    tiny_model(&qwen3, &corpus, 300);
    let qwen35 = tmp.path().join("qwen3.5");
    vcurate::model::chat::write_tiny_tokenizer(&qwen35, &corpus, 300).unwrap();
    let Some(vcurate::model::config::ModelConfig::Qwen35(c)) =
        vcurate::bench::train::shape("qwen3.5-tiny")
    else {
        panic!("qwen3.5-tiny is a Qwen3.5 shape")
    };
    vcurate::model::candle::qwen3_5::write_random_checkpoint(
        &qwen35,
        &c,
        5,
        candle_core::DType::F32,
    )
    .unwrap();

    // Tolerances (relative, per step; measured in brackets): Qwen3 agrees to f32 rounding, 1e-6
    // (8.7e-8); the random Qwen3.5's DeltaNet amplifies rounding differences over steps (see
    // train::mlx's tests), 1e-4 (3.4e-6).
    for (model, targets, tol) in [
        (&qwen3, "\"q_proj\", \"v_proj\", \"down_proj\"", 1e-6),
        (
            &qwen35,
            "\"q_proj\", \"in_proj_qkv\", \"out_proj\", \"up_proj\"",
            1e-4,
        ),
    ] {
        let mut losses = Vec::new();
        for device in ["cpu", "mlx"] {
            let out_dir = model.with_extension(format!("adapter-{device}"));
            let config = tmp.path().join("train.toml");
            std::fs::write(&config, format!("model = {model:?}\noutput = {out_dir:?}\nseed = 3\ndevice = {device:?}\n[lora]\nrank = 2\nalpha = 4.0\ndropout = 0.1\ntargets = [{targets}]\n[optim]\nlr = 1e-2\nsteps = 4\nwarmup_steps = 1\ngrad_accum = 2\n[data]\nbatch_size = 2\nmax_seq_len = 128\n[loop]\neval_every = 2\nsave_every = 2\n")).unwrap();
            let report = train_snapshot(&ws, &id, &config);
            assert_eq!(report["steps_run"], 4, "{report}");
            for f in [
                "mlx/adapters.safetensors",
                "peft/adapter_model.safetensors",
                "checkpoint/resume.safetensors",
                "training.json",
                "loss.svg",
            ] {
                assert!(out_dir.join(f).is_file(), "{device}: {f}");
            }
            losses.push(step_losses(&out_dir));
        }
        let (candle, mlx) = (&losses[0], &losses[1]);
        assert_eq!(candle.len(), 4);
        let worst = candle
            .iter()
            .zip(mlx)
            .map(|(c, m)| (c - m).abs() / c)
            .fold(0.0, f64::max);
        eprintln!(
            "{}: step losses candle {candle:?}, MLX {mlx:?}; largest relative difference {worst:.1e}",
            model.display()
        );
        for (step, (c, m)) in candle.iter().zip(mlx).enumerate() {
            assert!(
                (c - m).abs() <= tol * c,
                "{}: step {} loss candle {c} vs MLX {m}",
                model.display(),
                step + 1
            );
        }

        // Greedy evaluation with the MLX-trained adapter: the MLX decoder says what candle says.
        let adapter = model.with_extension("adapter-mlx");
        let on_cpu = eval_responses(tmp.path(), model, &adapter, "cpu");
        let on_mlx = eval_responses(tmp.path(), model, &adapter, "mlx");
        assert_eq!(on_mlx, on_cpu, "{}", model.display());
        assert!(!on_mlx[0].is_empty(), "{}", model.display());
    }
}
