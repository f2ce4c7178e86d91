//! `vcurate eval`: score a JSONL of model responses against a task set, or generate the
//! responses with a model (base, or base + LoRA adapter) first (`run`); apply the promotion gate
//! to two runs (`compare`, whose exit status is the gate); and convert other projects' task files
//! into vcurate tasks (`import`).
//!
//! Data goes to stdout, and only with `--json` (the report, the gate decision, the import
//! summary); the Markdown tables for people, progress and file notices go to stderr (the run's
//! data is also in its `report.json` and `report.md`). Generated responses are written as the same
//! responses JSONL `--responses` reads and scored from that file, so a generated run can be
//! rescored.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;

use crate::eval::{compare, report, EvalSettings, GenerationSettings, ResponseSource, RunEvent};
use crate::evalset;
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
    pub device: crate::model::device::DeviceKind,
    /// Folder for results.jsonl, report.json and report.md (and responses.jsonl with --model).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print report.json to stdout (and no Markdown report on stderr).
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
    /// Print the decision as JSON on stdout instead of a Markdown table on stderr.
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
    /// Print a summary as JSON on stdout: {"out", "tasks", "format", "warnings"}.
    #[arg(long)]
    pub json: bool,
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

/// The settings of `eval run`, resolved once from the arguments (defaults, notes about them).
fn run_settings(args: &RunArgs) -> anyhow::Result<EvalSettings> {
    let responses = match (&args.responses, &args.model) {
        (Some(file), _) => ResponseSource::File(file.clone()),
        (None, Some(model)) => ResponseSource::Generate(generation_settings(args, model)?),
        (None, None) => bail!("give --responses FILE or --model DIR"),
    };
    Ok(EvalSettings {
        tasks: args.tasks.clone(),
        responses,
        out: args.out.clone(),
        k: args.k,
        trained_from: args.adapter.clone().or_else(|| args.trained_from.clone()),
        strict: args.strict,
    })
}

fn generation_settings(args: &RunArgs, model: &Path) -> anyhow::Result<GenerationSettings> {
    let samples = args.samples.unwrap_or(1);
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
        top_p: args.top_p.unwrap_or(1.0),
        max_new_tokens: usize::try_from(args.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS))
            .unwrap_or(usize::MAX),
        stop: args.stop.clone(),
    };
    sampling.validate()?;
    Ok(GenerationSettings {
        model: model.to_path_buf(),
        adapter: args.adapter.clone(),
        samples,
        sampling,
        seed: args.seed.unwrap_or(0),
        template_vars: args.template_var.clone(),
        device: args.device,
    })
}

/// A stderr progress bar, hidden under `--json`.
fn run_cmd(args: RunArgs) -> anyhow::Result<()> {
    let settings = run_settings(&args)?;
    let bar = super::progress::StepBar::new(args.json);
    let on_event = |event: RunEvent<'_>| bar.eval_event(event);
    let done = crate::eval::run(&settings, &on_event)?;
    let rep = &done.report;
    eprintln!(
        "wrote {} ({} samples), report.json and report.md",
        done.results_file.display(),
        done.samples
    );
    if rep.contamination.status != report::ContaminationStatus::Clean {
        eprintln!(
            "warning: contamination {:?}: {}",
            rep.contamination.status, rep.contamination.message
        );
    }
    if args.json {
        super::print_json(rep)
    } else {
        eprint!("{}", report::to_markdown(rep));
        Ok(())
    }
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
    let decision = crate::eval::compare_runs(&args.a, &args.b, args.max_drop)?;
    if args.json {
        super::print_json(&decision)?;
    } else {
        eprint!("{}", compare::to_markdown(&decision));
    }
    Ok(decision.passed)
}

fn import_cmd(args: ImportArgs) -> anyhow::Result<()> {
    let (format, name) = match args.format {
        ImportFormat::LuauBench => (evalset::Format::LuauBench, "luau-bench"),
        ImportFormat::Plain => (evalset::Format::Plain, "plain"),
        ImportFormat::Opengameeval => (evalset::Format::OpenGameEval, "opengameeval"),
    };
    let imported = evalset::import_to_file(format, &args.input, &args.out, &mut |w| {
        eprintln!("warning: {w}")
    })?;
    eprintln!(
        "imported {} tasks into {}",
        imported.tasks.len(),
        args.out.display()
    );
    if args.json {
        let summary = evalset::ImportSummary {
            out: args.out.display().to_string(),
            tasks: imported.tasks.len(),
            format: name.to_string(),
            warnings: imported.warnings,
        };
        super::print_json(&summary)?;
    }
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
        assert_eq!((i.format, i.json), (ImportFormat::LuauBench, false));
        let a = parse(&[
            "import", "--format", "plain", "in.jsonl", "--out", "x", "--json",
        ]);
        let EvalCommand::Import(i) = a.command else {
            panic!()
        };
        assert!(i.json);
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
        let tasks = crate::eval::task::load_tasks(&out).unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].checks.patterns, vec!["GetService".to_string()]);
    }
}
