//! `vcurate eval`: score a JSONL of model responses against a task set (`run`), apply the
//! promotion gate to two runs (`compare`, whose exit status is the gate), and convert other
//! projects' task files into vcurate tasks (`import`).
//!
//! Data goes to stdout (the Markdown report, or JSON with `--json`); progress and file notices go
//! to stderr. Generation with a model plugs in later by writing the same responses JSONL.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::eval::{compare, import, report, score, task};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: EvalCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Score responses (JSONL: task_id, sample, response) against a task set; writes
    /// results.jsonl, report.json and report.md into --out.
    Run(RunArgs),
    /// Promotion gate: exit status 0 when run B may replace run A, 1 when it may not.
    Compare(CompareArgs),
    /// Convert luau-bench, plain JSONL or OpenGameEval task files into a vcurate task set.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Task set: JSONL (one task per line) or a YAML list of tasks.
    #[arg(long, value_name = "FILE")]
    pub tasks: PathBuf,
    /// Responses JSONL: {"task_id", "sample", "response"} per line, from any model or API.
    #[arg(long, value_name = "FILE")]
    pub responses: PathBuf,
    /// Folder for results.jsonl, report.json and report.md.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print report.json to stdout instead of the Markdown report.
    #[arg(long)]
    pub json: bool,
    /// Also report pass@k for this k (needs at least k samples per task).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub k: u32,
    /// Refuse to report when no contamination audit covered this task set.
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
        EvalCommand::Run(a) => run_cmd(a).map(|()| ExitCode::SUCCESS),
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
    let contamination = report::Contamination::unverified();
    if args.strict && contamination.status != report::ContaminationStatus::Clean {
        bail!(
            "refusing to report under --strict: contamination {:?}: {}. Run without --strict to get an \
             explicitly flagged report",
            contamination.status,
            contamination.message
        );
    }
    let tasks = task::load_tasks(&args.tasks).context("could not load the task set")?;
    let responses =
        task::load_responses(&args.responses, &tasks).context("could not load the responses")?;
    let inputs = report::Inputs {
        tasks_file: args.tasks.display().to_string(),
        tasks_sha256: sha256_file(&args.tasks)?,
        responses_file: args.responses.display().to_string(),
        responses_sha256: sha256_file(&args.responses)?,
        task_set_id: task::task_set_id(&tasks),
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

    let rep = report::build_report(&tasks, &results, inputs, args.k, contamination);
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
    crate::snapshot::write_atomic(&args.out, task::tasks_to_jsonl(&imported.tasks)?.as_bytes())?;
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
        assert_eq!((r.k, r.json, r.strict), (5, true, false));
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
