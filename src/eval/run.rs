//! `eval::run`: one evaluation run from settings to a written run folder. Loads the task set,
//! checks the training snapshot's contamination link, generates the responses with a model when
//! asked (writing `<out>/responses.jsonl`, then scoring from that file like any other responses
//! file), scores every sample, and writes `results.jsonl`, `report.json` and `report.md`.
//!
//! Progress and notes go to the caller as [`RunEvent`]s; this module never prints.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::generate as eval_generate;
use super::report::{self, ContaminationStatus, Report};
use super::{score, task, EvalError, Result};
// The model layer; these paths move with it (see `src/model/`).
use crate::model::candle::generate::load_model;
use crate::model::chat::ChatFormatter;
use crate::model::device::DeviceKind;
use crate::model::generate::{self, SamplingParams};

/// Everything one run needs, resolved once (by the CLI or a pipeline).
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// The task set (JSONL or a YAML list).
    pub tasks: PathBuf,
    pub responses: ResponseSource,
    /// The run folder.
    pub out: PathBuf,
    /// pass@k reported besides pass@1; None: the samples per task when generating, else 1.
    pub k: Option<u32>,
    /// The `vcurate train` output (or adapter folder) of the model that answered, whose
    /// training snapshot is checked for these tasks.
    pub trained_from: Option<PathBuf>,
    /// Refuse to report unless the snapshot's contamination checks covered every task clean.
    pub strict: bool,
}

/// Where the responses come from.
#[derive(Debug, Clone)]
pub enum ResponseSource {
    /// A responses JSONL written by any model or API.
    File(PathBuf),
    /// Generated with a local model first.
    Generate(GenerationSettings),
}

/// How to generate responses.
#[derive(Debug, Clone)]
pub struct GenerationSettings {
    /// Hugging Face model folder.
    pub model: PathBuf,
    /// LoRA adapter folder for `model`.
    pub adapter: Option<PathBuf>,
    /// Samples per task.
    pub samples: u32,
    pub sampling: SamplingParams,
    /// Base seed of the sampler.
    pub seed: u64,
    /// Chat-template variables (`chat_template_kwargs`).
    pub template_vars: Vec<(String, serde_json::Value)>,
    pub device: DeviceKind,
}

/// What a run tells its caller while it works.
#[derive(Debug)]
pub enum RunEvent<'a> {
    GenerationStarted {
        total: u64,
    },
    /// One response generated; the tokens per second so far.
    Generated {
        tokens_per_second: f64,
    },
    GenerationFinished {
        responses: usize,
        tokens: u64,
        tokens_per_second: f64,
        file: &'a Path,
    },
    ScoringStarted {
        total: u64,
    },
    Scored,
    ScoringFinished,
    /// Something the user should know that does not stop the run.
    Warning(String),
}

/// A finished run: the report (also written to `out`) and how many samples were scored.
#[derive(Debug, Clone)]
pub struct EvalRun {
    pub report: Report,
    pub samples: usize,
    pub results_file: PathBuf,
}

/// Runs one evaluation (see the module docs).
pub fn run(settings: &EvalSettings, on_event: &(dyn Fn(RunEvent<'_>) + Sync)) -> Result<EvalRun> {
    let tasks = task::load_tasks(&settings.tasks)?;
    let contamination = super::link::check(settings.trained_from.as_deref(), &tasks);
    if settings.strict && contamination.status != ContaminationStatus::Clean {
        return Err(EvalError::StrictContamination {
            status: format!("{:?}", contamination.status),
            message: contamination.message,
        });
    }
    let (responses_file, generation, k) = match &settings.responses {
        ResponseSource::File(file) => (file.clone(), None, settings.k.unwrap_or(1)),
        ResponseSource::Generate(g) => {
            let (file, info) = generate_responses(g, &settings.out, &tasks, on_event)?;
            let k = settings.k.unwrap_or(info.samples);
            (file, Some(info), k)
        }
    };
    let responses = task::load_responses(&responses_file, &tasks)?;
    let inputs = report::Inputs {
        tasks_file: settings.tasks.display().to_string(),
        tasks_sha256: sha256_file(&settings.tasks)?,
        responses_file: responses_file.display().to_string(),
        responses_sha256: sha256_file(&responses_file)?,
        task_set_id: task::task_set_id(&tasks),
        generation,
    };
    on_event(RunEvent::ScoringStarted {
        total: responses.len().max(1) as u64,
    });
    let results = score::score_all(&tasks, &responses, &|| on_event(RunEvent::Scored));
    on_event(RunEvent::ScoringFinished);
    let rep = report::build_report(&tasks, &results, inputs, k, contamination);
    report::write_run(&settings.out, &results, &rep)?;
    Ok(EvalRun {
        report: rep,
        samples: results.len(),
        results_file: settings.out.join("results.jsonl"),
    })
}

fn sha256_file(path: &Path) -> Result<String> {
    Ok(crate::core::sha256_hex(&fs_err::read(path)?))
}

fn model_error(what: impl Into<String>, e: impl std::fmt::Display) -> EvalError {
    EvalError::Generation {
        what: what.into(),
        message: e.to_string(),
    }
}

/// Generates `g.samples` responses per task, writes them to `<out>/responses.jsonl`, and says
/// what generated them.
fn generate_responses(
    g: &GenerationSettings,
    out: &Path,
    tasks: &[task::Task],
    on_event: &(dyn Fn(RunEvent<'_>) + Sync),
) -> Result<(PathBuf, report::GenerationInputs)> {
    let model = g.model.as_path();
    // MLX generation loads through candle on the CPU, then moves the model (and adapter) over.
    let device = if g.device.is_mlx() {
        g.device
            .check_mlx()
            .map_err(|e| model_error("opening the tensor device", e))?;
        candle_core::Device::Cpu
    } else {
        g.device
            .open()
            .map_err(|e| model_error("opening the tensor device", e))?
    };
    let formatter = ChatFormatter::from_model_dir(model).map_err(|e| {
        model_error(
            format!(
                "loading the tokenizer and chat template from {}",
                model.display()
            ),
            e,
        )
    })?;
    let formatter = g.template_vars.iter().fold(formatter, |f, (name, value)| {
        f.with_var(name, value.clone())
    });
    let (qwen, adapter) = load_model(model, g.adapter.as_deref(), &device)
        .map_err(|e| model_error(format!("loading the model from {}", model.display()), e))?;
    let eos = generate::eos_token_ids(model, formatter.tokenizer()).map_err(|e| {
        model_error(
            format!("reading the end-of-sequence tokens of {}", model.display()),
            e,
        )
    })?;
    if eos.is_empty() {
        on_event(RunEvent::Warning(format!(
            "{} names no eos_token_id (generation_config.json, config.json) or eos_token (tokenizer_config.json); responses end only at --max-tokens or --stop",
            model.display()
        )));
    }
    let label = match &g.adapter {
        Some(a) => format!("{} + {}", model.display(), a.display()),
        None => model.display().to_string(),
    };
    on_event(RunEvent::GenerationStarted {
        total: tasks.len() as u64 * g.samples as u64,
    });
    let start = std::time::Instant::now();
    let mut tokens = 0u64;
    let opts = eval_generate::GenerateOptions {
        samples: g.samples,
        sampling: g.sampling.clone(),
        seed: g.seed,
    };
    let mut on_sample = |r: &eval_generate::GeneratedResponse| {
        tokens += r.tokens as u64;
        on_event(RunEvent::Generated {
            tokens_per_second: tokens as f64 / start.elapsed().as_secs_f64().max(1e-9),
        });
    };
    let args = (&formatter, tasks, &opts, label.as_str());
    let lines = if g.device.is_mlx() {
        responses_of(on_mlx(qwen)?, eos.clone(), args, &mut on_sample)
    } else {
        responses_of(qwen, eos.clone(), args, &mut on_sample)
    }
    .map_err(|e| model_error("generation failed", e))?;
    let secs = start.elapsed().as_secs_f64();
    fs_err::create_dir_all(out)?;
    let file = out.join("responses.jsonl");
    crate::core::fs::write_atomic(&file, eval_generate::to_jsonl(&lines)?.as_bytes())?;
    let mut stop_reasons = BTreeMap::new();
    for l in &lines {
        *stop_reasons
            .entry(l.stop_reason.as_str().to_string())
            .or_insert(0u64) += 1;
    }
    let generated_tokens: u64 = lines.iter().map(|l| l.tokens as u64).sum();
    on_event(RunEvent::GenerationFinished {
        responses: lines.len(),
        tokens: generated_tokens,
        tokens_per_second: generated_tokens as f64 / secs.max(1e-9),
        file: &file,
    });
    let info = report::GenerationInputs {
        model_dir: model.display().to_string(),
        model_config_sha256: sha256_file(&model.join("config.json"))?,
        adapter: adapter.map(|a| report::AdapterInputs {
            dir: g
                .adapter
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            format: a.format.as_str().to_string(),
            weights_file: a.weights.display().to_string(),
            weights_sha256: a.weights_sha256,
        }),
        samples: g.samples,
        temperature: g.sampling.temperature,
        top_p: g.sampling.top_p,
        max_tokens: g.sampling.max_new_tokens,
        stop: g.sampling.stop.clone(),
        seed: g.seed,
        eos_token_ids: eos,
        generated_tokens,
        stop_reasons,
        device: format!("{:?}", g.device).to_lowercase(),
        template_vars: g.template_vars.iter().cloned().collect(),
    };
    Ok((file, info))
}

/// [`eval_generate::generate_responses`] with `model` (either backend's) as the decoder.
fn responses_of<M: generate::Decoder>(
    model: M,
    eos: Vec<u32>,
    (formatter, tasks, opts, label): (
        &ChatFormatter,
        &[task::Task],
        &eval_generate::GenerateOptions,
        &str,
    ),
    on_sample: &mut dyn FnMut(&eval_generate::GeneratedResponse),
) -> std::result::Result<Vec<eval_generate::GeneratedResponse>, generate::GenerateError> {
    let generator = generate::Generator::new(model, formatter.tokenizer().clone(), eos);
    eval_generate::generate_responses(&generator, formatter, tasks, opts, label, on_sample)
}

/// The candle model (adapter applied) moved onto the MLX backend, for `--device mlx`.
#[cfg(feature = "mlx")]
fn on_mlx(m: crate::model::candle::model::CausalLm) -> Result<crate::model::mlx::model::CausalLm> {
    crate::model::mlx::model::CausalLm::from_candle(m)
        .map_err(|e| model_error("moving the model onto MLX", e))
}

/// Never called: `check_mlx` refuses `--device mlx` in builds without the `mlx` feature.
#[cfg(not(feature = "mlx"))]
fn on_mlx(
    _: crate::model::candle::model::CausalLm,
) -> Result<crate::model::candle::model::CausalLm> {
    unreachable!("device mlx is refused by check_mlx in builds without the mlx feature")
}

/// `vcurate eval compare`: loads two runs' reports (files or run folders) and applies the
/// promotion gate. `max_drop_points` must be a number >= 0.
pub fn compare_runs(
    a: &Path,
    b: &Path,
    max_drop_points: f64,
) -> Result<super::compare::GateDecision> {
    let a = report::load_report(a)?;
    let b = report::load_report(b)?;
    Ok(super::compare::gate(&a, &b, max_drop_points))
}
