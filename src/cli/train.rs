//! `vcurate train`: fine-tune a LoRA adapter straight from a snapshot's examples
//! ([`crate::train::run()`]); `vcurate train fuse` folds an adapter into its base
//! ([`crate::train::fuse::fuse`]). Parses the flags, resolves the config, calls the library,
//! draws progress on stderr and prints the report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::DeviceKind;
use crate::train::config::TrainConfig;
use crate::train::{TrainEvent, TrainSettings};
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_long_help = TRAIN_HELP
)]
pub struct TrainArgs {
    #[command(subcommand)]
    pub command: Option<TrainCommand>,
    /// Snapshot id (or unique prefix) whose examples to train on.
    #[arg(long, required = true)]
    pub snapshot: Option<String>,
    /// Training config (TOML; unknown keys are errors). Flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Hugging Face model folder: config.json, *.safetensors, tokenizer.json, tokenizer_config.json.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Where adapters (mlx/, peft/, best/), checkpoints and metrics.jsonl go.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Optimizer steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Tensor device (overrides `device` in the config).
    #[arg(long, value_enum)]
    pub device: Option<DeviceKind>,
    /// Print the run summary as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

const TRAIN_HELP: &str = "\
The config file (strict TOML: a misspelled key is an error naming it):

  model = \"models/Qwen3-0.6B\"     # config.json, *.safetensors, tokenizer.json, tokenizer_config.json
  output = \"runs/first\"
  seed = 0
  device = \"cpu\"                  # cuda / metal / mlx in builds with that feature
  [base]
  dequantize = false                # an MLX-quantized model stays quantized (QLoRA) unless true
  quantize_bits = 4                 # quantize a dense model at load (QLoRA); omit for plain LoRA
  quantize_group_size = 64
  [lora]
  rank = 8
  alpha = 16.0                      # scale = alpha / rank
  dropout = 0.0
  targets = [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]
  num_layers = 16                   # adapt the last N layers; omit for all
  [optim]
  lr = 1e-4
  min_lr = 0.0
  warmup_steps = 10                 # then cosine decay to min_lr
  steps = 1000
  grad_accum = 1
  max_grad_norm = 1.0               # 0 disables clipping
  weight_decay = 0.01
  [data]
  batch_size = 4
  max_seq_len = 2048                # longer examples are cut, and the cut is reported
  [loop]
  eval_every = 100                  # validation loss; best/ keeps the best adapters
  save_every = 100                  # checkpoint/ for resume
  early_stop_patience = 0           # evaluations without a new best before stopping (0: never)
  resume = false                    # continue from output/checkpoint

Output: mlx/ (mlx-lm adapter), peft/ (PEFT adapter), best/, checkpoint/, metrics.jsonl,
loss.svg, config.toml (resolved), training.json (the snapshot; `vcurate eval` reads it).
Then: `vcurate eval run --model M --adapter OUTPUT ...`, or `vcurate train fuse`.";

#[derive(Debug, clap::Subcommand)]
pub enum TrainCommand {
    /// Fold an adapter into its base model: writes a plain Hugging Face model folder
    /// (model.safetensors, config.json, tokenizer files, fuse.json) that loads without adapters.
    Fuse(FuseArgs),
}

#[derive(Debug, clap::Args)]
pub struct FuseArgs {
    /// The base model folder the adapter was trained on.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Adapter: an mlx-lm or PEFT adapter folder, or a `vcurate train` output folder.
    #[arg(long, value_name = "DIR")]
    pub adapter: PathBuf,
    /// New folder for the fused model (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print what was written as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The resolved config: the file, then the flags.
fn resolve(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let mut cfg = match &args.config {
        Some(p) => TrainConfig::from_file(p)?,
        None => {
            let (Some(model), Some(output)) = (&args.model, &args.output) else {
                bail!("give --config FILE, or both --model DIR and --output DIR");
            };
            TrainConfig::from_toml_str(
                &format!("model = {model:?}\noutput = {output:?}\n"),
                Path::new("<flags>"),
            )?
        }
    };
    if let Some(m) = &args.model {
        cfg.model = m.clone();
    }
    if let Some(o) = &args.output {
        cfg.output = o.clone();
    }
    if let Some(s) = args.steps {
        cfg.optim.steps = s;
    }
    if let Some(d) = args.device {
        cfg.device = d;
    }
    cfg.validate()?;
    Ok(cfg)
}

pub fn run(dir: Option<&Path>, args: TrainArgs) -> anyhow::Result<ExitCode> {
    if let Some(TrainCommand::Fuse(f)) = &args.command {
        return fuse(f);
    }
    let ws = Workspace::discover(dir)?;
    let settings = TrainSettings {
        snapshot: args.snapshot.clone().expect("clap requires --snapshot"),
        config: resolve(&args)?,
    };
    let cfg = &settings.config;
    let bar = ProgressBar::with_draw_target(
        Some(cfg.optim.steps as u64),
        if args.json {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("train [{bar:30}] {pos}/{len} steps  {msg}  eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let mut tokens = 0usize;
    let report = crate::train::run(&ws, &settings, &mut |event| match event {
        TrainEvent::Batched(cut) => {
            if cut.truncated > 0 || cut.dropped_no_target > 0 {
                bar.suspend(|| eprintln!("note: {} examples truncated to {} tokens ({} tokens cut), {} dropped with no assistant tokens left", cut.truncated, cfg.data.max_seq_len, cut.tokens_cut, cut.dropped_no_target));
            }
        }
        TrainEvent::Step(log) => {
            tokens += log.tokens;
            bar.set_position(log.step as u64 + 1);
            bar.set_message(format!(
                "loss {:.4}  {:.0} tok/s",
                log.loss,
                tokens as f64 / started.elapsed().as_secs_f64().max(1e-9)
            ));
        }
    })?;
    bar.finish_and_clear();
    if args.json {
        super::print_json(&report)?;
    } else {
        eprintln!("trained {} steps on snapshot {} ({} train / {} valid examples): last loss {:.4}; adapters in {}", report.steps_run, report.snapshot, report.train_examples, report.valid_examples, report.last_loss, report.output.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn fuse(args: &FuseArgs) -> anyhow::Result<ExitCode> {
    let report =
        crate::train::fuse::fuse(&args.model, &args.adapter, &args.out).with_context(|| {
            format!(
                "fusing {} into {}",
                args.adapter.display(),
                args.model.display()
            )
        })?;
    if args.json {
        super::print_json(&report)?;
    } else {
        eprintln!(
            "fused {} modules of {} into {} ({} tensors, {})",
            report.modules_fused,
            args.adapter.display(),
            args.out.display(),
            report.tensors_written,
            report.dtype
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    /// The config shown by `vcurate train --help` is a valid config (the help cannot rot).
    #[test]
    fn the_help_example_config_parses() {
        let start = super::TRAIN_HELP.find("  model =").unwrap();
        let end = super::TRAIN_HELP.find("\nOutput:").unwrap();
        let toml: String = super::TRAIN_HELP[start..end]
            .lines()
            .map(|l| l.strip_prefix("  ").unwrap_or(l).to_string() + "\n")
            .collect();
        let cfg =
            crate::train::config::TrainConfig::from_toml_str(&toml, std::path::Path::new("help"))
                .unwrap();
        assert_eq!(cfg.base.quantize_bits, Some(4));
        assert_eq!(cfg.lora.targets.len(), 7);
        assert_eq!(cfg.lora.num_layers, Some(16));
    }
}
