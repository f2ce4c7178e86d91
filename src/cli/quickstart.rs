//! `vcurate quickstart`: the embedded sample, end to end, offline: ingest, audits, snapshot,
//! report, export, then a LoRA adapter trained on the snapshot and evaluated
//! ([`crate::quickstart::run`]). Parses the flags, calls the library, draws progress and prints
//! where everything is.

use crate::quickstart::{QuickstartSettings, Step};
use crate::train::TrainEvent;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Where to create the sample workspace (reused if it already exists).
    #[arg(default_value = "vcurate-quickstart")]
    pub dir: PathBuf,
    /// Train and evaluate this local Hugging Face model folder (config.json, *.safetensors,
    /// tokenizer.json, tokenizer_config.json) instead of the demo model (random weights).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Stop after the export: no training, no evaluation.
    #[arg(long, conflicts_with = "model")]
    pub no_train: bool,
    /// Print what was made as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What the demo model is, said wherever its results are shown.
const DEMO_NOTE: &str =
    "demo model: random weights — this demonstrates the pipeline, not model quality";

pub fn run(args: QuickstartArgs) -> anyhow::Result<ExitCode> {
    let bars = super::progress::Bars::new(args.json);
    let bar = super::progress::StepBar::new(args.json);
    let on_step = |step: Step| match step {
        Step::Setup(ws) => eprintln!("Sample workspace: {}\n\n== ingest", ws.root.display()),
        Step::Ingest(report) => {
            eprint!("{}", super::ingest::summary_table(report));
            eprintln!("\n== audit");
        }
        Step::Audit(audits) => {
            eprint!("{}", super::audit::summary_table(audits));
            eprintln!("\n== snapshot");
        }
        Step::Snapshot(snap) => {
            let c = &snap.counts;
            eprintln!(
                "snapshot {}: {} documents, {} included ({} train / {} valid / {} test)",
                snap.id, c.documents, c.included, c.train, c.valid, c.test
            );
            eprintln!("\n== report");
        }
        Step::Report(path) => {
            eprintln!("wrote {}", path.display());
            eprintln!("\n== export");
        }
        Step::Export(report) => eprintln!("{}", report.summary()),
        Step::Model(model) => {
            eprintln!("\n== model");
            if model.demo {
                eprintln!("{DEMO_NOTE}");
                eprintln!("wrote {} (a tiny Qwen3 shape, a BPE tokenizer trained on the sample, a chat template that renders like Qwen3's)", model.path.display());
            } else {
                eprintln!("using {}", model.path.display());
            }
            eprintln!("\n== train");
            bar.start(None, "train step {pos} {msg} {elapsed}");
        }
        Step::Training(TrainEvent::Batched(cut)) => {
            if cut.truncated > 0 || cut.dropped_no_target > 0 {
                bar.get().suspend(|| eprintln!("note: {} examples truncated ({} tokens cut), {} dropped with no assistant tokens left", cut.truncated, cut.tokens_cut, cut.dropped_no_target));
            }
        }
        Step::Training(TrainEvent::Step(log)) => {
            let b = bar.get();
            b.set_position(log.step as u64 + 1);
            b.set_message(format!("loss {:.4}", log.loss));
        }
        Step::Train(t) => {
            bar.get().finish_and_clear();
            let r = &t.run;
            let first = t.losses.first().copied().unwrap_or(f64::NAN);
            eprintln!(
                "trained {} steps on snapshot {} ({} train / {} valid examples): loss {first:.4} -> {:.4}{}",
                r.steps_run,
                r.snapshot,
                r.train_examples,
                r.valid_examples,
                r.last_loss,
                r.best_val_loss
                    .map(|v| format!(", best validation loss {v:.4}"))
                    .unwrap_or_default()
            );
            eprintln!("adapters in {}", r.output.display());
            eprintln!("loss curve: {}", t.loss_curve.display());
            eprintln!("\n== eval");
        }
        Step::Evaluating(event) => bar.eval_event(event),
        Step::Eval(e) => {
            let o = &e.report.overall;
            let pct = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{:.1}%", 100.0 * x));
            let contamination = serde_json::to_value(e.report.contamination.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            eprintln!(
                "{} tasks ({}): pass@1 {}, parse {}, compile {}; contamination {contamination}",
                e.tasks.len(),
                e.tasks.join(", "),
                pct(o.pass_at_1),
                pct(o.parse_rate),
                pct(o.compile_rate),
            );
            eprintln!("eval report: {}", e.report_md.display());
        }
    };
    let settings = QuickstartSettings {
        model: args.model.clone(),
        skip_training: args.no_train,
    };
    let report = crate::quickstart::run(&args.dir, &settings, &on_step, &|e| bars.handle(e))?;
    if args.json {
        super::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ws = crate::workspace::Workspace::open(&report.workspace)?;
    let mut artifacts = vec![
        ("sources", ws.sources_dir().display().to_string()),
        ("lock file", ws.lock_path().display().to_string()),
        (
            "store",
            format!(
                "{} (Parquet: documents, skipped, evidence per source)",
                ws.store_dir().display()
            ),
        ),
        (
            "audits",
            format!(
                "{} (attributes/, excluded/, summary/ per audit)",
                crate::audit::run::audit_dir(&ws).display()
            ),
        ),
        (
            "snapshot",
            ws.dataset_dir()
                .join("snapshots")
                .join(&report.snapshot)
                .display()
                .to_string(),
        ),
        ("report", report.report.display().to_string()),
        (
            "export",
            format!(
                "{} (mlx-lm chat JSONL, provenance sidecars, README.md, NOTICE, SHA256SUMS)",
                report.export.display()
            ),
        ),
    ];
    if let (Some(model), Some(train), Some(eval)) = (&report.model, &report.train, &report.eval) {
        artifacts.extend([
            (
                "model",
                format!(
                    "{}{}",
                    model.path.display(),
                    if model.demo {
                        " (demo: random weights)"
                    } else {
                        ""
                    }
                ),
            ),
            ("train config", train.config.display().to_string()),
            (
                "adapter",
                format!(
                    "{} (mlx/, peft/, best/, metrics.jsonl)",
                    train.run.output.display()
                ),
            ),
            ("loss curve", train.loss_curve.display().to_string()),
            (
                "eval report",
                format!(
                    "{} (and report.json, results.jsonl, responses.jsonl)",
                    eval.report_md.display()
                ),
            ),
        ]);
    }
    eprintln!("\nArtifacts:");
    for (what, where_) in artifacts {
        eprintln!("  {what:<13} {where_}");
    }
    // `cargo run` does not put vcurate on PATH: name the binary that is running.
    let exe = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "vcurate".into());
    let root = report.workspace.display();
    let id = &report.snapshot;
    eprintln!(
        "\nNext:\n  {exe} -C {root} sources\n  {exe} -C {root} snapshot show {id}\n  {exe} -C {root} export --snapshot {id} --profile publish --drop-refused --out {root}/exports/publish"
    );
    if let (Some(model), Some(train), Some(eval)) = (&report.model, &report.train, &report.eval) {
        let max_tokens = eval
            .report
            .inputs
            .generation
            .as_ref()
            .map_or(256, |g| g.max_tokens);
        eprintln!(
            "  {exe} -C {root} train --snapshot {id} --config {}\n  {exe} -C {root} eval run --tasks {} --model {} --adapter {} --template-var enable_thinking=false --max-tokens {max_tokens} --out {root}/evals/again",
            train.config.display(),
            eval.tasks_file.display(),
            model.path.display(),
            train.run.output.display(),
        );
        if model.demo {
            eprintln!("  {exe} quickstart {root} --model PATH/TO/Qwen3-0.6B   # a real local model instead of the demo one");
            eprintln!("\n{DEMO_NOTE}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
