//! `vcurate eval`: score a JSONL of model responses against a task set, or generate the
//! responses with a model (base, or base + LoRA adapter) first (`run`); apply the promotion gate
//! to two runs (`compare`, whose exit status is the gate); and convert other projects' task files
//! into vcurate tasks (`import`).
//!
//! Data goes to stdout (the Markdown report, or JSON with `--json`); progress and file notices go
//! to stderr. Generated responses are written as the same responses JSONL `--responses` reads and
//! scored from that file, so a generated run can be rescored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::eval::generate as eval_generate;
use crate::eval::{compare, import, report, score, task};
use crate::model::candle::generate::load_model;
use crate::model::chat::ChatFormatter;
use crate::model::generate;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: EvalCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Score responses (JSONL: task_id, sample, response) against a task set, or generate them
    /// with --model [--adapter] first; writes results.jsonl, report.json and report.md (and the
    /// generated responses.jsonl) into --out.
    Run(Box<RunArgs>),
    /// Promotion gate: exit status 0 when run B may replace run A, 1 when it may not.
    Compare(CompareArgs),
    /// Convert luau-bench, plain JSONL or OpenGameEval task files into a vcurate task set.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["responses", "model"])))]
pub struct RunArgs {
    /// Task set: JSONL (one task per line) or a YAML list of tasks.
    #[arg(long, value_name = "FILE")]
    pub tasks: PathBuf,
    /// Responses JSONL: {"task_id", "sample", "response"} per line, from any model or API.
    #[arg(long, value_name = "FILE")]
    pub responses: Option<PathBuf>,
    /// Generate the responses with this Hugging Face model folder (Qwen3: config.json,
    /// *.safetensors, tokenizer.json, tokenizer_config.json with a chat template); they are
    /// written to <out>/responses.jsonl and scored from there.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    // Generation flags say `conflicts_with = "responses"` explicitly: clap waives `requires`
    // when the required argument conflicts with a present one (--model vs --responses).
    /// LoRA adapter for --model: an mlx-lm folder (adapters.safetensors), a PEFT folder
    /// (adapter_model.safetensors), or a `vcurate train` output folder (its mlx/).
    #[arg(
        long,
        value_name = "DIR",
        requires = "model",
        conflicts_with = "responses"
    )]
    pub adapter: Option<PathBuf>,
    /// Samples to generate per task (for pass@k) [default: 1]. Above 1 without --temperature,
    /// samples at temperature 0.8.
    #[arg(long, value_name = "N", requires = "model", conflicts_with = "responses", value_parser = clap::value_parser!(u32).range(1..))]
    pub samples: Option<u32>,
    /// Sampling temperature; 0 is greedy (the default with one sample).
    #[arg(
        long,
        value_name = "T",
        requires = "model",
        conflicts_with = "responses"
    )]
    pub temperature: Option<f64>,
    /// Nucleus sampling: keep the most likely tokens up to this probability mass [default: 1.0].
    #[arg(
        long,
        value_name = "P",
        requires = "model",
        conflicts_with = "responses"
    )]
    pub top_p: Option<f64>,
    /// Seed of the sampler; each (task, sample) derives its own seed from it [default: 0].
    #[arg(
        long,
        value_name = "N",
        requires = "model",
        conflicts_with = "responses"
    )]
    pub seed: Option<u64>,
    /// Most tokens to generate per response [default: 1024].
    #[arg(long, value_name = "N", requires = "model", conflicts_with = "responses", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: Option<u64>,
    /// End a response at this text (cut before it); repeat for several.
    #[arg(
        long,
        value_name = "TEXT",
        requires = "model",
        conflicts_with = "responses"
    )]
    pub stop: Vec<String>,
    /// Set a chat-template variable for --model, as Hugging Face's `chat_template_kwargs` do:
    /// NAME=VALUE, VALUE read as JSON when it parses (`enable_thinking=false` for Qwen3), else
    /// as a string. Repeat for several.
    #[arg(long, value_name = "NAME=VALUE", requires = "model", value_parser = parse_template_var)]
    pub template_var: Vec<(String, serde_json::Value)>,
    /// Tensor device for --model.
    #[arg(long, value_enum, default_value = "cpu", requires = "model")]
    pub device: crate::model::DeviceKind,
    /// Folder for results.jsonl, report.json and report.md (and responses.jsonl with --model).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print report.json to stdout instead of the Markdown report.
    #[arg(long)]
    pub json: bool,
    /// Also report pass@k for this k (needs at least k samples per task). Default: --samples
    /// when generating, else 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub k: Option<u32>,
    /// With --responses: the `vcurate train` output (or adapter folder) of the model that wrote
    /// them, so the report can check its training snapshot for these tasks (as --adapter does).
    #[arg(long, value_name = "DIR", requires = "responses")]
    pub trained_from: Option<PathBuf>,
    /// Refuse to report unless the training snapshot's contamination checks covered every task
    /// and found none of them in the training data.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Baseline run: its report.json, or the run folder.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// Candidate run: its report.json, or the run folder.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Largest pass@1 drop, in percentage points, any category may take.
    #[arg(long, value_name = "POINTS", default_value_t = 5.0)]
    pub max_drop: f64,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// luau-bench task YAML (or its docs JSONL) with `{{CODE}}` test harnesses.
    LuauBench,
    /// JSONL with id, category, difficulty, prompt, expected_patterns.
    Plain,
    /// Roblox OpenGameEval eval files (a file or a folder): prompt-only, not executable here.
    Opengameeval,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[arg(long, value_enum)]
    pub format: ImportFormat,
    /// The file (or, for opengameeval, the folder) to import.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Where to write the task set (JSONL).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        EvalCommand::Run(a) => run_cmd(*a).map(|()| ExitCode::SUCCESS),
        EvalCommand::Compare(a) => Ok(if compare_cmd(a)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        EvalCommand::Import(a) => import_cmd(a).map(|()| ExitCode::SUCCESS),
    }
}

/// Writes to stdout; a closed pipe (`vcurate eval run ... | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    Ok(crate::core::sha256_hex(&fs_err::read(path)?))
}

fn run_cmd(args: RunArgs) -> anyhow::Result<()> {
    let tasks = task::load_tasks(&args.tasks).context("could not load the task set")?;
    let trained = args.adapter.as_deref().or(args.trained_from.as_deref());
    let contamination = crate::eval::link::check(trained, &tasks);
    if args.strict && contamination.status != report::ContaminationStatus::Clean {
        bail!(
            "refusing to report under --strict: contamination {:?}: {}. Run without --strict to get an \
             explicitly flagged report",
            contamination.status,
            contamination.message
        );
    }
    let (responses_file, generation, k) = match (&args.responses, &args.model) {
        (Some(file), _) => (file.clone(), None, args.k.unwrap_or(1)),
        (None, Some(model)) => {
            let (file, info) = generate_cmd(&args, model, &tasks)?;
            let k = args.k.unwrap_or(info.samples);
            (file, Some(info), k)
        }
        (None, None) => bail!("give --responses FILE or --model DIR"),
    };
    let responses =
        task::load_responses(&responses_file, &tasks).context("could not load the responses")?;
    let inputs = report::Inputs {
        tasks_file: args.tasks.display().to_string(),
        tasks_sha256: sha256_file(&args.tasks)?,
        responses_file: responses_file.display().to_string(),
        responses_sha256: sha256_file(&responses_file)?,
        task_set_id: task::task_set_id(&tasks),
        generation,
    };

    let samples = responses.len().max(1) as u64;
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::with_draw_target(
            Some(samples),
            indicatif::ProgressDrawTarget::stderr(),
        )
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>8.bold} [{bar:30}] {pos}/{len} samples {elapsed}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix("scoring");
    let results = score::score_all(&tasks, &responses, &|| bar.inc(1));
    bar.finish_and_clear();

    let rep = report::build_report(&tasks, &results, inputs, k, contamination);
    report::write_run(&args.out, &results, &rep).context("could not write the run folder")?;
    eprintln!(
        "wrote {} ({} samples), report.json and report.md",
        args.out.join("results.jsonl").display(),
        results.len()
    );
    if rep.contamination.status != report::ContaminationStatus::Clean {
        eprintln!(
            "warning: contamination {:?}: {}",
            rep.contamination.status, rep.contamination.message
        );
    }
    if args.json {
        emit(&(serde_json::to_string_pretty(&rep)? + "\n"))
    } else {
        emit(&report::to_markdown(&rep))
    }
}

/// Generates `args.samples` responses per task with `model` (and `args.adapter`), writes them to
/// `<out>/responses.jsonl`, and says what generated them.
fn generate_cmd(
    args: &RunArgs,
    model: &Path,
    tasks: &[task::Task],
) -> anyhow::Result<(PathBuf, report::GenerationInputs)> {
    let samples = args.samples.unwrap_or(1);
    let top_p = args.top_p.unwrap_or(1.0);
    let seed = args.seed.unwrap_or(0);
    let max_tokens = args.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let temperature = match args.temperature {
        Some(t) => t,
        None if samples > 1 => {
            eprintln!(
                "note: {samples} samples per task and no --temperature: sampling at temperature {DEFAULT_SAMPLING_TEMPERATURE}"
            );
            DEFAULT_SAMPLING_TEMPERATURE
        }
        None => 0.0,
    };
    if temperature == 0.0 && samples > 1 {
        eprintln!("note: greedy decoding gives {samples} identical samples per task");
    }
    let sampling = generate::SamplingParams {
        temperature,
        top_p,
        max_new_tokens: usize::try_from(max_tokens).unwrap_or(usize::MAX),
        stop: args.stop.clone(),
    };
    sampling.validate()?;
    let device = args.device.open()?;
    let formatter = args.template_var.iter().fold(
        ChatFormatter::from_model_dir(model).with_context(|| {
            format!(
                "loading the tokenizer and chat template from {}",
                model.display()
            )
        })?,
        |f, (name, value)| f.with_var(name, value.clone()),
    );
    let (qwen, adapter) = load_model(model, args.adapter.as_deref(), &device)
        .with_context(|| format!("loading the model from {}", model.display()))?;
    let eos = generate::eos_token_ids(model, formatter.tokenizer())?;
    if eos.is_empty() {
        eprintln!(
            "warning: {} names no eos_token_id (generation_config.json, config.json) or eos_token (tokenizer_config.json); responses end only at --max-tokens or --stop",
            model.display()
        );
    }
    let generator = generate::Generator::new(qwen, formatter.tokenizer().clone(), eos.clone());
    let label = match &args.adapter {
        Some(a) => format!("{} + {}", model.display(), a.display()),
        None => model.display().to_string(),
    };
    let total = tasks.len() as u64 * samples as u64;
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        )
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>10.bold} [{bar:30}] {pos}/{len} samples {msg} {elapsed}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix("generating");
    let start = std::time::Instant::now();
    let mut tokens = 0u64;
    let opts = eval_generate::GenerateOptions {
        samples,
        sampling: sampling.clone(),
        seed,
    };
    let lines =
        eval_generate::generate_responses(&generator, &formatter, tasks, &opts, &label, &mut |r| {
            tokens += r.tokens as u64;
            let rate = tokens as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{rate:.1} tok/s"));
            bar.inc(1);
        })
        .context("generation failed")?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    fs_err::create_dir_all(&args.out)?;
    let file = args.out.join("responses.jsonl");
    crate::core::fs::write_atomic(&file, eval_generate::to_jsonl(&lines)?.as_bytes())?;
    let mut stop_reasons = std::collections::BTreeMap::new();
    for l in &lines {
        *stop_reasons
            .entry(l.stop_reason.as_str().to_string())
            .or_insert(0u64) += 1;
    }
    let generated_tokens: u64 = lines.iter().map(|l| l.tokens as u64).sum();
    eprintln!(
        "generated {} responses ({generated_tokens} tokens, {:.1} tok/s) into {}",
        lines.len(),
        generated_tokens as f64 / secs.max(1e-9),
        file.display()
    );
    let info = report::GenerationInputs {
        model_dir: model.display().to_string(),
        model_config_sha256: sha256_file(&model.join("config.json"))?,
        adapter: adapter.map(|a| report::AdapterInputs {
            dir: args
                .adapter
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            format: a.format.as_str().to_string(),
            weights_file: a.weights.display().to_string(),
            weights_sha256: a.weights_sha256,
        }),
        samples,
        temperature,
        top_p,
        max_tokens: sampling.max_new_tokens,
        stop: args.stop.clone(),
        seed,
        eos_token_ids: eos,
        generated_tokens,
        stop_reasons,
        device: format!("{:?}", args.device).to_lowercase(),
        template_vars: args.template_var.iter().cloned().collect(),
    };
    Ok((file, info))
}

/// `NAME=VALUE` with VALUE as JSON when it parses, else as a string.
fn parse_template_var(s: &str) -> Result<(String, serde_json::Value), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))?;
    if name.is_empty() {
        return Err(format!("expected NAME=VALUE, got `{s}`"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| value.into());
    Ok((name.to_string(), value))
}

/// The temperature used when several samples are asked for and none is given.
const DEFAULT_SAMPLING_TEMPERATURE: f64 = 0.8;
const DEFAULT_MAX_TOKENS: u64 = 1024;

/// True when the gate passes.
fn compare_cmd(args: CompareArgs) -> anyhow::Result<bool> {
    if args.max_drop.is_nan() || args.max_drop < 0.0 {
        bail!(
            "--max-drop must be a number of points >= 0, got {}",
            args.max_drop
        );
    }
    let a = report::load_report(&args.a)?;
    let b = report::load_report(&args.b)?;
    let decision = compare::gate(&a, &b, args.max_drop);
    if args.json {
        emit(&(serde_json::to_string_pretty(&decision)? + "\n"))?;
    } else {
        emit(&compare::to_markdown(&decision))?;
    }
    Ok(decision.passed)
}

fn import_cmd(args: ImportArgs) -> anyhow::Result<()> {
    let format = match args.format {
        ImportFormat::LuauBench => import::Format::LuauBench,
        ImportFormat::Plain => import::Format::Plain,
        ImportFormat::Opengameeval => import::Format::OpenGameEval,
    };
    let imported = import::import(format, &args.input)?;
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    if imported.tasks.is_empty() {
        bail!("{}: no tasks to import", args.input.display());
    }
    crate::core::fs::write_atomic(&args.out, task::tasks_to_jsonl(&imported.tasks)?.as_bytes())?;
    eprintln!(
        "imported {} tasks into {}",
        imported.tasks.len(),
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        eval: EvalArgs,
    }

    fn parse(args: &[&str]) -> EvalArgs {
        Cli::try_parse_from(std::iter::once("eval").chain(args.iter().copied()))
            .unwrap()
            .eval
    }

    fn dataset(name: &str) -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("dataset/evals")
            .join(name)
            .display()
            .to_string()
    }

    #[test]
    fn arguments_parse() {
        let a = parse(&[
            "run",
            "--tasks",
            "t.jsonl",
            "--responses",
            "r.jsonl",
            "--out",
            "o",
            "--k",
            "5",
            "--json",
        ]);
        let EvalCommand::Run(r) = a.command else {
            panic!()
        };
        assert_eq!((r.k, r.json, r.strict), (Some(5), true, false));
        let a = parse(&["compare", "a", "b", "--max-drop", "2.5"]);
        let EvalCommand::Compare(c) = a.command else {
            panic!()
        };
        assert_eq!(c.max_drop, 2.5);
        let a = parse(&[
            "import",
            "--format",
            "luau-bench",
            "in.yaml",
            "--out",
            "x.jsonl",
        ]);
        let EvalCommand::Import(i) = a.command else {
            panic!()
        };
        assert_eq!(i.format, ImportFormat::LuauBench);
        assert!(Cli::try_parse_from([
            "eval",
            "run",
            "--tasks",
            "t",
            "--responses",
            "r",
            "--out",
            "o",
            "--k",
            "0"
        ])
        .is_err());
        assert!(
            Cli::try_parse_from(["eval", "import", "--format", "nope", "x", "--out", "y"]).is_err()
        );
    }

    #[test]
    fn run_takes_either_responses_or_a_model() {
        let try_run = |extra: &[&str]| {
            let mut args = vec!["eval", "run", "--tasks", "t.jsonl", "--out", "o"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args).map(|c| c.eval.command)
        };
        let EvalCommand::Run(r) = try_run(&[
            "--model",
            "m",
            "--adapter",
            "a",
            "--samples",
            "3",
            "--temperature",
            "1.0",
            "--top-p",
            "0.9",
            "--seed",
            "7",
            "--max-tokens",
            "64",
            "--stop",
            "```",
            "--stop",
            "END",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(r.model.as_deref(), Some(Path::new("m")));
        assert_eq!(r.adapter.as_deref(), Some(Path::new("a")));
        assert_eq!(
            (r.samples, r.temperature, r.top_p, r.seed, r.max_tokens, r.k),
            (Some(3), Some(1.0), Some(0.9), Some(7), Some(64), None)
        );
        assert_eq!(r.stop, vec!["```".to_string(), "END".to_string()]);
        let EvalCommand::Run(r) = try_run(&["--responses", "r.jsonl"]).unwrap() else {
            panic!()
        };
        assert_eq!((r.samples, r.temperature, r.model), (None, None, None));
        // Exactly one source; generation flags need --model.
        assert!(try_run(&[]).is_err());
        assert!(try_run(&["--responses", "r", "--model", "m"]).is_err());
        assert!(try_run(&["--adapter", "a"]).is_err());
        assert!(try_run(&["--responses", "r", "--adapter", "a"]).is_err());
        assert!(try_run(&["--responses", "r", "--samples", "2"]).is_err());
        assert!(try_run(&["--responses", "r", "--temperature", "1"]).is_err());
        assert!(try_run(&["--model", "m", "--samples", "0"]).is_err());
    }

    /// End to end on the shipped task set: known-bad responses as the baseline, the reference
    /// solutions as the candidate. The gate passes one way and fails the other.
    #[test]
    fn run_then_compare_sets_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        let bad = dir.path().join("bad");
        for (responses, out) in [
            ("luau-basics.solutions.jsonl", &good),
            ("luau-basics.known-bad.jsonl", &bad),
        ] {
            let code = run(parse(&[
                "run",
                "--tasks",
                &dataset("luau-basics.jsonl"),
                "--responses",
                &dataset(responses),
                "--out",
                &out.display().to_string(),
                "--json",
            ]))
            .unwrap();
            assert_eq!(code, ExitCode::SUCCESS);
            for f in ["results.jsonl", "report.json", "report.md"] {
                assert!(out.join(f).is_file(), "{f} missing");
            }
        }
        let g = report::load_report(&good).unwrap();
        let b = report::load_report(&bad).unwrap();
        assert_eq!(g.overall.pass_at_1, Some(1.0));
        assert_eq!(b.overall.pass_at_1, Some(0.0));
        assert_eq!(g.inputs.task_set_id, b.inputs.task_set_id);

        let cmp = |a: &Path, b: &Path| {
            compare_cmd(CompareArgs {
                a: a.to_path_buf(),
                b: b.to_path_buf(),
                max_drop: 5.0,
                json: true,
            })
            .unwrap()
        };
        assert!(cmp(&bad, &good), "good over bad must pass the gate");
        assert!(!cmp(&good, &bad), "bad over good must fail the gate");
        assert!(!cmp(&good, &good), "no improvement must fail the gate");
        assert_eq!(
            run(parse(&[
                "compare",
                &bad.display().to_string(),
                &good.display().to_string()
            ]))
            .unwrap(),
            ExitCode::SUCCESS
        );
        assert_eq!(
            run(parse(&[
                "compare",
                &good.display().to_string(),
                &bad.display().to_string()
            ]))
            .unwrap(),
            ExitCode::from(1)
        );
    }

    #[test]
    fn strict_refuses_without_a_contamination_audit() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(parse(&[
            "run",
            "--tasks",
            &dataset("luau-basics.jsonl"),
            "--responses",
            &dataset("luau-basics.solutions.jsonl"),
            "--out",
            &dir.path().display().to_string(),
            "--strict",
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--strict") && err.contains("Unverified"),
            "{err}"
        );
        assert!(!dir.path().join("report.json").exists());
    }

    #[test]
    fn import_writes_a_loadable_task_set() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("bench.jsonl");
        fs_err::write(
            &input,
            "{\"id\":\"r1\",\"category\":\"services\",\"difficulty\":\"easy\",\"prompt\":\"Get Players.\",\"expected_patterns\":[\"GetService\"]}\n",
        )
        .unwrap();
        let out = dir.path().join("tasks.jsonl");
        run(parse(&[
            "import",
            "--format",
            "plain",
            &input.display().to_string(),
            "--out",
            &out.display().to_string(),
        ]))
        .unwrap();
        let tasks = task::load_tasks(&out).unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].checks.patterns, vec!["GetService".to_string()]);
    }
}
