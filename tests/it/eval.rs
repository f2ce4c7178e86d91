//! `vcurate eval run --model` end to end on a tiny Qwen3 written by the test: an adapter trained
//! (through the library) to memorize a known-correct answer passes the task, the base model
//! fails it, greedy runs are reproducible, the promotion gate orders them, and sampled runs give
//! pass@k.

use std::path::Path;

use candle_core::Device;
use vcurate::core::{Message, Role};
use vcurate::model::adapter;
use vcurate::model::candle::model::CausalLm;
use vcurate::model::candle::weights::write_random_checkpoint;
use vcurate::model::chat::ChatFormatter;
use vcurate::model::config::Architecture;
use vcurate::model::generate::{self, Generator, SamplingParams, StopReason};
use vcurate::model::qwen3::Qwen3Config;
use vcurate::model::{LoraConfig, TargetModule};
use vcurate::train::backend::{AdamWParams, Backend};
use vcurate::train::candle::CandleBackend;
use vcurate::train::data::make_batches;
use vcurate::train::schedule::Schedule;
use vcurate::train::trainer::{self, StepOptions};

use crate::util::{schema, stderr, stdout, tiny_model, validate, vcurate};

pub(crate) const PROMPT: &str = "Write a Luau function add(a, b) that returns a + b.";
/// Known correct: the task's tests pass on it (checked below through `--responses`).
pub(crate) const ANSWER: &str = "local function add(a, b) return a + b end";

pub(crate) fn task_line() -> String {
    serde_json::json!({
        "id": "add", "category": "basics", "difficulty": "easy", "prompt": PROMPT,
        "checks": {"tests": {"code":
            "test('adds', function() expect_eq(add(1, 2), 3) end)\ntest('negatives', function() expect_eq(add(-4, 1), -3) end)"}}
    })
    .to_string()
}

/// Trains a LoRA adapter on the one conversation until greedy generation reproduces ANSWER and
/// ends with EOS, then writes it as `vcurate train` does (`mlx/` and `peft/`).
fn train_adapter(model_dir: &Path, out: &Path) {
    let formatter = ChatFormatter::from_model_dir(model_dir).unwrap();
    let conversation = [
        Message::new(Role::User, PROMPT),
        Message::new(Role::Assistant, ANSWER),
    ];
    let example = formatter.tokenize(&conversation).unwrap();
    let (batches, _) = make_batches(&[example], 1, 256, 0, 0);
    let lora = LoraConfig {
        rank: 8,
        alpha: 16.0,
        dropout: 0.0,
        targets: TargetModule::ATTENTION_AND_MLP.to_vec(),
        num_layers: None,
    };
    let model = CausalLm::load(model_dir, &lora, 1, &Device::Cpu).unwrap();
    let adamw = AdamWParams {
        weight_decay: 0.0,
        ..AdamWParams::default()
    };
    let mut backend = CandleBackend::new(model, lora.clone(), adamw, 1).unwrap();
    let prompt = formatter.render(&conversation[..1], true).unwrap();
    let eos = generate::eos_token_ids(model_dir, formatter.tokenizer()).unwrap();
    let greedy = SamplingParams {
        max_new_tokens: 40,
        ..SamplingParams::default()
    };
    let rounds = 40;
    let per_round = 10;
    let schedule = Schedule {
        lr: 2e-2,
        warmup_steps: 0,
        total_steps: rounds * per_round,
        min_lr: 2e-2,
    };
    let opts = StepOptions {
        max_grad_norm: Some(1.0),
    };
    for round in 0..rounds {
        let steps = round * per_round..(round + 1) * per_round;
        trainer::run(&mut backend, &batches, &schedule, 1, opts, steps, |_, _| {
            Ok(())
        })
        .unwrap();
        let g = Generator::new(
            backend.model.clone(),
            formatter.tokenizer().clone(),
            eos.clone(),
        );
        let ids = g.encode(&prompt).unwrap();
        let out_text = g.generate(&ids, &greedy, 0).unwrap();
        if out_text.text == ANSWER && out_text.stop_reason == StopReason::Eos {
            let tensors = backend.lora_tensors().unwrap();
            adapter::write_mlx(&out.join("mlx"), Architecture::Qwen3, &lora, 2, &tensors).unwrap();
            adapter::write_peft(
                &out.join("peft"),
                Architecture::Qwen3,
                &lora,
                2,
                "tiny",
                &tensors,
            )
            .unwrap();
            eprintln!("memorized after {} steps", (round + 1) * per_round);
            return;
        }
    }
    panic!(
        "the adapter did not memorize the answer in {} steps",
        rounds * per_round
    );
}

pub(crate) fn run_eval(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "eval",
        "run",
        "--tasks",
        "tasks.jsonl",
        "--out",
        out,
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = vcurate(dir, &args);
    assert!(o.status.success(), "eval run {extra:?}: {}", stderr(&o));
    o
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn report(dir: &Path, run: &str) -> serde_json::Value {
    serde_json::from_str(&read(&dir.join(run).join("report.json"))).unwrap()
}

#[test]
fn generation_with_base_and_adapter_scores_and_gates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let model = dir.join("model");
    // A tokenizer trained on the prompt and answer keeps sequences short.
    tiny_model(&model, &[PROMPT, ANSWER, ANSWER, ANSWER], 400);
    std::fs::write(dir.join("tasks.jsonl"), task_line() + "\n").unwrap();

    // The answer is known-correct: scored as precomputed responses, it passes.
    std::fs::write(
        dir.join("known.jsonl"),
        serde_json::json!({"task_id": "add", "response": ANSWER}).to_string() + "\n",
    )
    .unwrap();
    run_eval(dir, "known", &["--responses", "known.jsonl"]);
    assert_eq!(report(dir, "known")["overall"]["pass_at_1"], 1.0);

    let adapter_dir = dir.join("adapter");
    train_adapter(&model, &adapter_dir);

    let m = "model";
    let greedy = ["--max-tokens", "40"];
    for run in ["base", "base2"] {
        run_eval(dir, run, &[&["--model", m][..], &greedy].concat());
    }
    for run in ["tuned", "tuned2"] {
        run_eval(
            dir,
            run,
            &[&["--model", m, "--adapter", "adapter"][..], &greedy].concat(),
        );
    }
    // Greedy generation is deterministic: the same responses, byte for byte.
    let responses = |run: &str| read(&dir.join(run).join("responses.jsonl"));
    assert_eq!(responses("base"), responses("base2"));
    assert_eq!(responses("tuned"), responses("tuned2"));

    let tuned_lines: Vec<serde_json::Value> = responses("tuned")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(tuned_lines.len(), 1);
    assert_eq!(tuned_lines[0]["task_id"], "add");
    assert_eq!(tuned_lines[0]["sample"], 0);
    assert_eq!(tuned_lines[0]["response"], ANSWER);
    assert_eq!(tuned_lines[0]["stop_reason"], "eos");
    let response_schema = schema("eval-response.schema.json");
    validate(&response_schema, &response_schema, &tuned_lines[0], "$").unwrap();

    // The adapter passes the task; the base model fails it.
    let tuned = report(dir, "tuned");
    let base = report(dir, "base");
    assert_eq!(tuned["overall"]["pass_at_1"], 1.0, "{tuned}");
    assert_eq!(base["overall"]["pass_at_1"], 0.0, "{base}");
    let report_schema = schema("eval-report.schema.json");
    validate(&report_schema, &report_schema, &tuned, "$").unwrap();

    // The report says what generated the responses.
    let g = &tuned["inputs"]["generation"];
    assert_eq!(g["model_dir"], "model");
    assert_eq!(g["adapter"]["dir"], "adapter");
    assert_eq!(g["adapter"]["format"], "mlx");
    let weights = std::fs::read(adapter_dir.join("mlx/adapters.safetensors")).unwrap();
    assert_eq!(
        g["adapter"]["weights_sha256"],
        vcurate::core::sha256_hex(&weights)
    );
    assert_eq!(
        (g["temperature"].as_f64(), g["seed"].as_u64()),
        (Some(0.0), Some(0))
    );
    assert_eq!(g["stop_reasons"]["eos"], 1);
    assert!(base["inputs"]["generation"]["adapter"].is_null());
    assert!(tuned["inputs"]["responses_file"]
        .as_str()
        .unwrap()
        .ends_with("responses.jsonl"));

    // The written responses rescore to the same verdicts.
    run_eval(dir, "rescored", &["--responses", "tuned/responses.jsonl"]);
    assert_eq!(report(dir, "rescored")["overall"]["pass_at_1"], 1.0);

    // The PEFT copy of the adapter generates the same answer.
    run_eval(
        dir,
        "peft",
        &[&["--model", m, "--adapter", "adapter/peft"][..], &greedy].concat(),
    );
    let peft_line: serde_json::Value =
        serde_json::from_str(responses("peft").lines().next().unwrap()).unwrap();
    assert_eq!(peft_line["response"], ANSWER);
    assert_eq!(peft_line["model"], "model + adapter/peft");
    assert_eq!(
        report(dir, "peft")["inputs"]["generation"]["adapter"]["format"],
        "peft"
    );

    // The promotion gate: tuned may replace base, not the other way round.
    let cmp = |a: &str, b: &str| vcurate(dir, &["eval", "compare", a, b]).status.code();
    assert_eq!(cmp("base", "tuned"), Some(0));
    assert_eq!(cmp("tuned", "base"), Some(1));

    // Sampling: 3 samples per task, reproducible for a seed, and a pass@3 column.
    let sampled = [
        "--model",
        m,
        "--adapter",
        "adapter",
        "--samples",
        "3",
        "--temperature",
        "1.0",
        "--seed",
        "7",
        "--max-tokens",
        "40",
    ];
    run_eval(dir, "sampled", &sampled);
    run_eval(dir, "sampled2", &sampled);
    assert_eq!(responses("sampled"), responses("sampled2"));
    let lines: Vec<serde_json::Value> = responses("sampled")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let samples: Vec<u64> = lines
        .iter()
        .map(|l| l["sample"].as_u64().unwrap())
        .collect();
    assert_eq!(samples, vec![0, 1, 2]);
    let rep = report(dir, "sampled");
    assert_eq!(rep["overall"]["samples"], 3);
    assert_eq!(rep["overall"]["k"], 3);
    assert!(rep["overall"]["pass_at_k"].as_f64().is_some(), "{rep}");
    assert_eq!(rep["inputs"]["generation"]["samples"], 3);
    assert_eq!(rep["inputs"]["generation"]["temperature"], 1.0);
    let md = read(&dir.join("sampled").join("report.md"));
    assert!(md.contains("| pass@3 |"), "{md}");

    // Without --temperature, several samples use the default temperature, and say so.
    let o = vcurate(
        dir,
        &[
            "eval",
            "run",
            "--tasks",
            "tasks.jsonl",
            "--out",
            "defaulted",
            "--model",
            m,
            "--samples",
            "2",
            "--max-tokens",
            "8",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("temperature 0.8"), "{}", stderr(&o));
    // Without --json the Markdown report is for people: stderr, nothing on stdout.
    assert!(stderr(&o).contains("pass@2"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));

    // Errors: an adapter made for another model shape names its file; a folder without an
    // adapter says so; --model and --responses clash.
    let wide = dir.join("wide");
    let mut cfg: Qwen3Config = serde_json::from_str(&read(&model.join("config.json"))).unwrap();
    cfg.hidden_size = 48;
    write_random_checkpoint(&wide, &cfg, 3, candle_core::DType::F32).unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(model.join(f), wide.join(f)).unwrap();
    }
    let bad = |model: &str, adapter: &str| {
        let o = vcurate(
            dir,
            &[
                "eval",
                "run",
                "--tasks",
                "tasks.jsonl",
                "--out",
                "bad",
                "--model",
                model,
                "--adapter",
                adapter,
            ],
        );
        assert!(!o.status.success());
        stderr(&o)
    };
    let err = bad("wide", "adapter");
    assert!(
        err.contains("adapters.safetensors") && err.contains("different model"),
        "{err}"
    );
    let err = bad("model", "model");
    assert!(err.contains("no adapter"), "{err}");
    let o = vcurate(
        dir,
        &[
            "eval",
            "run",
            "--tasks",
            "tasks.jsonl",
            "--out",
            "bad",
            "--model",
            "model",
            "--responses",
            "known.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
