//! `vcurate quickstart`: turns the embedded sample corpus into a real workspace with real local
//! git repositories, declared like any other source (behind a URL rewrite, as an offline mirror
//! would be), and runs the whole mission on it offline as a chain of the stages' own run
//! functions (nothing here re-implements a stage): ingest, audits, snapshot, report, export, then
//! a LoRA adapter trained from the snapshot ([`crate::train::run()`]) and evaluated on the
//! sample eval set ([`crate::eval::run()`]).
//!
//! Unless told to use a real local model, it trains a demo model it writes itself
//! ([`demo_model`]): random weights of a tiny Qwen3 shape, a byte-level BPE tokenizer trained on
//! the sample corpus, and [`crate::model::chat::QWEN3_STYLE_TEMPLATE`]. The demo shows the
//! pipeline working end to end (adapters, loss curve, an execution-scored eval report); its
//! scores say nothing about model quality, and the output must say so.
//!
//! Everything is deterministic (fixed commit times, seeds and settings), so a rerun on the same
//! folder gives the same snapshot, the same demo model and the same training run (which it
//! replaces).

use std::path::{Path, PathBuf};

use crate::eval::{EvalRun, GenerationSettings, ResponseSource, RunEvent};
use crate::ingest::git::{commit_files, TreeContent};
use crate::model::chat::{TokenizerSpec, QWEN3_STYLE_TEMPLATE};
use crate::model::qwen3::Qwen3Config;
use crate::sample::{self, files_of};
use crate::train::config::TrainConfig;
use crate::train::{TrainEvent, TrainReport};
use crate::workspace::{self, Workspace, WorkspaceError};

/// The URL prefix the sample repositories are declared under; `vcurate.toml` rewrites it to the
/// local `samples/` folder. (`example.com` is reserved for examples: nothing is ever fetched.)
pub const SAMPLE_URL: &str = "https://example.com/vcurate-sample/";

/// A fixed commit time, so the sample's commits (and so its snapshot ids) are reproducible.
const SAMPLE_TIME: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z

#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    #[error("could not set up the sample workspace in {dir}: {message}")]
    Setup { dir: PathBuf, message: String },
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error(transparent)]
    Audit(#[from] crate::audit::run::AuditError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::CreateError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error("--model {}: no such folder; give a local Hugging Face model folder (config.json, *.safetensors, tokenizer.json, tokenizer_config.json), or leave --model out to train the demo model", .0.display())]
    ModelNotFound(PathBuf),
    #[error("--model {}: no config.json in it; give a local Hugging Face model folder (config.json, *.safetensors, tokenizer.json, tokenizer_config.json)", .0.display())]
    NotAModel(PathBuf),
    #[error("writing the demo model: {0}")]
    DemoModel(#[from] crate::model::ModelError),
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
    #[error(transparent)]
    EvalSet(#[from] crate::evalset::EvalSetError),
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    #[error("could not write the sample repository {repo}: {source}")]
    Git { repo: String, source: git2::Error },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

const CONFIG: &str = r#"# The vcurate quickstart workspace (written by `vcurate quickstart`).

[ingest]
max-file-bytes = 1048576

# The sample repositories are declared with URLs under https://example.com/vcurate-sample/ and
# read from local mirrors in samples/, like an offline mirror of GitHub would be.
[git.rewrite]
"https://example.com/vcurate-sample/" = "samples/"

[splits]
seed = 0
train = 0.8
valid = 0.1
test = 0.1
# A small sample has few sources: keep each file (not each source) in one split.
group-by = "file"

# The sample eval set: contamination checks flag training data that shares text with it.
[[eval-sets]]
name = "sample-evals"
path = "samples/evals/sample-evals.jsonl"
format = "plain"
"#;

/// Writes the quickstart workspace into `dir` unless one is already there; returns it.
pub fn setup(dir: &Path) -> Result<Workspace, QuickstartError> {
    if dir.join(workspace::CONFIG_FILE).is_file() {
        return Ok(Workspace::open(dir)?);
    }
    crate::scaffold::init_workspace(dir)?;
    fs_err::write(dir.join(workspace::CONFIG_FILE), CONFIG)?;
    let samples = dir.join("samples");
    for repo in sample::GIT_REPOS {
        let path = samples.join(repo);
        fs_err::create_dir_all(&path)?;
        let git = |source| QuickstartError::Git {
            repo: repo.to_string(),
            source,
        };
        let r = git2::Repository::init_bare(&path).map_err(git)?;
        let files: Vec<(String, TreeContent)> = files_of(repo)
            .map(|f| {
                (
                    f.path.to_string(),
                    TreeContent::File(f.contents.as_bytes().to_vec()),
                )
            })
            .collect();
        commit_files(&r, "main", "vcurate quickstart sample", SAMPLE_TIME, &files).map_err(git)?;
    }
    for folder in sample::PLAIN_FOLDERS {
        for f in files_of(folder) {
            let p = samples.join(folder).join(f.path);
            fs_err::create_dir_all(p.parent().expect("has a parent"))?;
            fs_err::write(&p, f.contents)?;
        }
    }
    let manifests = [
        (
            sample::LUAU_UTILS,
            format!("# An open-source Luau utility library (the embedded sample).\nkind = \"git\"\nurl = \"{SAMPLE_URL}{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\nexpected-license = \"MIT\"\n", sample::LUAU_UTILS),
        ),
        (
            sample::CREATOR_DOCS,
            format!(
                "# Documentation laid out like the Roblox Creator Docs (the embedded sample).\nkind = \"docs\"\nurl = \"{SAMPLE_URL}{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\ncontent-root = \"content/en-us\"\nsite-url = \"https://create.roblox.com/docs\"\nprose-license = \"CC-BY-4.0\"\ncode-license = \"MIT\"\nauthor = \"vcurate sample authors\"\n",
                sample::CREATOR_DOCS
            ),
        ),
        (
            sample::CHAT,
            "# A small chat/completions dataset (the embedded sample).\nkind = \"jsonl\"\npath = \"samples/chat/chat.jsonl\"\nrights-basis = \"generated\"\nlicense = \"MIT\"\n\n[fields]\nsource = \"meta.source\"\nlicense = \"meta.license\"\n".to_string(),
        ),
    ];
    for (id, text) in manifests {
        fs_err::write(dir.join("sources").join(format!("{id}.toml")), text)?;
    }
    Ok(Workspace::open(dir)?)
}

/// Where the demo model goes, under the quickstart folder.
pub const DEMO_MODEL_DIR: &str = "models/demo-qwen3-tiny";

/// The demo model's seed (weights) and the training seed: fixed, so reruns are identical.
const DEMO_SEED: u64 = 0;

/// The demo tokenizer's BPE vocabulary (byte alphabet and ChatML tokens included); `<think>`
/// and `</think>` come on top, and the model's vocabulary is rounded up to a multiple of 64.
/// About what the small sample corpus supports: every example of the sample then fits the demo's
/// `max_seq_len` with assistant tokens to learn (with 1,000, a third of them did not).
const DEMO_BPE_VOCAB: usize = 4000;

/// The shape of the demo model: Qwen3's architecture (grouped-query attention, q/k norms, tied
/// embeddings) at the size of `vcurate bench train`'s `tiny` shape, small enough to train in
/// seconds on a CPU.
fn demo_config(vocab_size: usize) -> Qwen3Config {
    Qwen3Config {
        model_type: "qwen3".into(),
        vocab_size: vocab_size.div_ceil(64) * 64,
        hidden_size: 64,
        intermediate_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: Some(16),
        rope_theta: 1_000_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: true,
        attention_bias: false,
        max_position_embeddings: Some(4096),
        rope_scaling: None,
    }
}

/// Writes the demo model into `dir/models/demo-qwen3-tiny/` and returns that folder: a Hugging
/// Face model folder (`config.json`, `model.safetensors`, `tokenizer.json`,
/// `tokenizer_config.json`) with random weights of a tiny Qwen3 shape, a byte-level BPE trained
/// on the embedded sample corpus (ChatML's special tokens, `<think>` and `</think>`), and the
/// Qwen3-style chat template. Made offline and deterministically: the same bytes every time.
/// It demonstrates the pipeline; it has learned nothing.
pub fn demo_model(dir: &Path) -> Result<PathBuf, QuickstartError> {
    let out = dir.join(DEMO_MODEL_DIR);
    let corpus: Vec<&str> = sample::FILES.iter().map(|f| f.contents).collect();
    let tokenizer = crate::model::chat::write_tokenizer(
        &out,
        &TokenizerSpec {
            corpus: &corpus,
            vocab_size: DEMO_BPE_VOCAB,
            template: QWEN3_STYLE_TEMPLATE,
            added: &["<think>", "</think>"],
        },
    )?;
    let config = demo_config(tokenizer.get_vocab_size(true));
    crate::model::candle::weights::write_random_checkpoint(
        &out,
        &config,
        DEMO_SEED,
        candle_core::DType::F32,
    )?;
    Ok(out)
}

/// What to do after the export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuickstartSettings {
    /// A local Hugging Face model folder to train and evaluate instead of the demo model.
    pub model: Option<PathBuf>,
    /// Stop after the export: no model, no training, no evaluation.
    pub skip_training: bool,
}

/// One finished stage of the quickstart (or progress inside one), for the caller to show.
pub enum Step<'a> {
    Setup(&'a Workspace),
    Ingest(&'a crate::ingest::IngestReport),
    Audit(&'a [crate::audit::run::AuditSummary]),
    Snapshot(&'a crate::snapshot::freeze::SnapshotManifest),
    Report(&'a Path),
    Export(&'a crate::export::ExportReport),
    /// The model that will be trained: the demo model just written, or `--model`.
    Model(&'a QuickstartModel),
    /// Training progress: what batching had to cut, then each optimizer step.
    Training(TrainEvent<'a>),
    Train(&'a QuickstartTrain),
    /// Evaluation progress: generation and scoring.
    Evaluating(RunEvent<'a>),
    Eval(&'a QuickstartEval),
}

/// What the quickstart made, stage by stage (`vcurate quickstart --json` prints it).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct QuickstartReport {
    pub workspace: PathBuf,
    pub snapshot: String,
    /// The snapshot's HTML report.
    pub report: PathBuf,
    /// The export folder (mlx-lm chat JSONL with provenance).
    pub export: PathBuf,
    /// The model trained and evaluated; absent with `--no-train`.
    pub model: Option<QuickstartModel>,
    pub train: Option<QuickstartTrain>,
    pub eval: Option<QuickstartEval>,
}

/// The model the quickstart trained.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct QuickstartModel {
    /// The Hugging Face model folder.
    pub path: PathBuf,
    /// True for the demo model the quickstart wrote (random weights: it demonstrates the
    /// pipeline, not model quality).
    pub demo: bool,
}

/// The LoRA adapter the quickstart trained from the snapshot.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct QuickstartTrain {
    /// The training config it wrote; `vcurate train --snapshot ID --config FILE` runs it again.
    pub config: PathBuf,
    /// Train and validation loss by optimizer step (SVG).
    pub loss_curve: PathBuf,
    /// One JSON object per step and per validation (`loss`, `val_loss`).
    pub metrics: PathBuf,
    /// The train loss of every optimizer step, in order.
    pub losses: Vec<f64>,
    /// What the training run reported; adapters are in `run.output` (`mlx/`, `peft/`).
    pub run: TrainReport,
}

/// The evaluation of the trained adapter on the sample eval set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct QuickstartEval {
    /// The sample eval set as a vcurate task file (imported from the sample's plain JSONL).
    pub tasks_file: PathBuf,
    /// The ids of the tasks evaluated.
    pub tasks: Vec<String>,
    /// The run folder: `responses.jsonl`, `results.jsonl`, `report.json`, `report.md`.
    pub out: PathBuf,
    /// The eval report (`report.md` is its Markdown).
    pub report_md: PathBuf,
    pub report: crate::eval::report::Report,
}

/// The quickstart's training settings: LoRA on every projection, batch 1, sequences up to 1,024
/// tokens (every sample example keeps assistant tokens to learn). For the demo model, 16 steps
/// at a high learning rate, so the loss visibly falls in seconds on a CPU; for a real model, 8
/// steps at a fine-tuning learning rate, to show the chain working without hours of CPU time.
/// The written config is the place to ask for more.
fn train_config(model: &Path, output: &Path, demo: bool) -> TrainConfig {
    let mut cfg = TrainConfig {
        model: model.to_path_buf(),
        output: output.to_path_buf(),
        seed: DEMO_SEED,
        device: Default::default(),
        base: Default::default(),
        lora: crate::model::LoraConfig {
            targets: crate::model::TargetModule::ATTENTION_AND_MLP.to_vec(),
            ..Default::default()
        },
        optim: Default::default(),
        data: crate::train::config::DataConfig {
            batch_size: 1,
            max_seq_len: 1024,
            ..Default::default()
        },
        run: Default::default(),
    };
    (cfg.optim.lr, cfg.optim.steps, cfg.optim.warmup_steps) =
        if demo { (1e-2, 16, 2) } else { (1e-4, 8, 1) };
    // Validation loss halfway and at the end; adapters and the resume checkpoint at the end.
    cfg.run.eval_every = cfg.optim.steps / 2;
    cfg.run.save_every = 0;
    cfg
}

/// The header of the training config the quickstart writes: what it is and how to run it again.
fn train_config_header(root: &Path, snapshot: &str, file: &Path) -> String {
    format!(
        "# The quickstart's training config, written by `vcurate quickstart` on every run (copy it
# to change it). Run it again with:
#   vcurate -C {} train --snapshot {snapshot} --config {}
# `vcurate train --help` explains every key.

",
        root.display(),
        file.display()
    )
}

/// Tokens generated per eval answer: the demo model's answers are noise, so few; a real model
/// gets room for a short function.
fn max_new_tokens(demo: bool) -> usize {
    if demo {
        48
    } else {
        256
    }
}

/// The whole mission on the embedded sample: setup, ingest, audit, snapshot, report, export,
/// then (unless `settings.skip_training`) train a LoRA adapter on the snapshot and evaluate it
/// on the sample eval set. `on_step` is called after each stage and with training and
/// evaluation progress; `progress` receives ingest's progress events.
pub fn run(
    dir: &Path,
    settings: &QuickstartSettings,
    on_step: &(dyn Fn(Step<'_>) + Sync),
    progress: &(dyn Fn(crate::ingest::Progress) + Sync),
) -> Result<QuickstartReport, QuickstartError> {
    // A wrong --model is reported before minutes of work, not after.
    if let Some(m) = &settings.model {
        if !m.is_dir() {
            return Err(QuickstartError::ModelNotFound(m.clone()));
        }
        if !m.join("config.json").is_file() {
            return Err(QuickstartError::NotAModel(m.clone()));
        }
    }
    let ws = setup(dir)?;
    on_step(Step::Setup(&ws));
    let ingest = crate::ingest::run(&ws, &crate::ingest::IngestOptions::default(), progress)?;
    on_step(Step::Ingest(&ingest));
    let audits = crate::audit::run::run(&ws, &[], &|_| {})?;
    on_step(Step::Audit(&audits));
    let snap = crate::snapshot::create(&ws, &crate::snapshot::CreateSettings::default())?;
    on_step(Step::Snapshot(&snap));
    let snaps = ws.dataset_dir().join("snapshots");
    let report = snaps.join(&snap.id).join("reports").join("report.html");
    crate::report::write(&snaps, &snap.id, &report)?;
    on_step(Step::Report(&report));
    let export_settings = crate::export::ExportSettings {
        snapshot: snap.id.clone(),
        format: crate::export::Format::Chat,
        profile: "train".into(),
        out: ws.root.join("exports").join(&snap.id),
        provenance: true,
        drop_refused: false,
    };
    let export = crate::export::run(&ws, &export_settings)?;
    on_step(Step::Export(&export));
    let mut done = QuickstartReport {
        workspace: ws.root.clone(),
        snapshot: snap.id,
        report,
        export: export_settings.out,
        model: None,
        train: None,
        eval: None,
    };
    if settings.skip_training {
        return Ok(done);
    }

    // The training config holds absolute paths: `vcurate train --config` reads them relative
    // to wherever it is started.
    let root = std::path::absolute(&ws.root)?;
    let model = match &settings.model {
        Some(m) => QuickstartModel {
            path: std::path::absolute(m)?,
            demo: false,
        },
        None => QuickstartModel {
            path: demo_model(&root)?,
            demo: true,
        },
    };
    on_step(Step::Model(&model));
    let trained = train(&ws, &root, &done.snapshot, &model, on_step)?;
    on_step(Step::Train(&trained));
    let evaluated = evaluate(&ws, &model, &trained, on_step)?;
    on_step(Step::Eval(&evaluated));
    done.model = Some(model);
    done.train = Some(trained);
    done.eval = Some(evaluated);
    Ok(done)
}

/// Writes `train.toml` and trains a LoRA adapter from `snapshot` into `runs/quickstart/`,
/// replacing the previous quickstart run there (reruns start fresh, with the same seeds).
fn train(
    ws: &Workspace,
    root: &Path,
    snapshot: &str,
    model: &QuickstartModel,
    on_step: &(dyn Fn(Step<'_>) + Sync),
) -> Result<QuickstartTrain, QuickstartError> {
    let output = root.join("runs").join("quickstart");
    let config = train_config(&model.path, &output, model.demo);
    let config_file = root.join("train.toml");
    let header = train_config_header(root, snapshot, &config_file);
    crate::core::fs::write_atomic(
        &config_file,
        format!("{header}{}", config.to_toml()).as_bytes(),
    )?;
    let settings = crate::train::TrainSettings {
        snapshot: snapshot.to_string(),
        config: TrainConfig::from_file(&config_file)?,
    };
    let run = crate::train::run(ws, &settings, &mut |e| on_step(Step::Training(e)))?;
    let metrics = run.output.join("metrics.jsonl");
    let losses = fs_err::read_to_string(&metrics)?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["loss"].as_f64())
        .collect();
    Ok(QuickstartTrain {
        config: config_file,
        loss_curve: run.output.join("loss.svg"),
        metrics,
        losses,
        run,
    })
}

/// Imports the sample eval set and evaluates the base model plus the trained adapter on it:
/// generation with the model's chat template (Qwen3's non-thinking prompt), then scoring in the
/// Luau sandbox, into `evals/quickstart/`.
fn evaluate(
    ws: &Workspace,
    model: &QuickstartModel,
    trained: &QuickstartTrain,
    on_step: &(dyn Fn(Step<'_>) + Sync),
) -> Result<QuickstartEval, QuickstartError> {
    let evals = std::path::absolute(ws.root.join("evals"))?;
    let tasks_file = evals.join("sample-evals.tasks.jsonl");
    let sample_evals = ws.root.join("samples/evals/sample-evals.jsonl");
    let imported = crate::evalset::import_to_file(
        crate::evalset::Format::Plain,
        &sample_evals,
        &tasks_file,
        &mut |w| on_step(Step::Evaluating(RunEvent::Warning(w.to_string()))),
    )?;
    let out = evals.join("quickstart");
    let settings = crate::eval::EvalSettings {
        tasks: tasks_file.clone(),
        responses: ResponseSource::Generate(GenerationSettings {
            model: model.path.clone(),
            adapter: Some(trained.run.output.clone()),
            samples: 1,
            sampling: crate::model::generate::SamplingParams {
                temperature: 0.0,
                top_p: 1.0,
                max_new_tokens: max_new_tokens(model.demo),
                stop: Vec::new(),
            },
            seed: DEMO_SEED,
            template_vars: vec![("enable_thinking".into(), serde_json::json!(false))],
            device: Default::default(),
        }),
        out: out.clone(),
        k: None,
        trained_from: Some(trained.run.output.clone()),
        strict: false,
    };
    let EvalRun { report, .. } = crate::eval::run(&settings, &|e| on_step(Step::Evaluating(e)))?;
    Ok(QuickstartEval {
        tasks_file,
        tasks: imported.tasks.into_iter().map(|t| t.id).collect(),
        report_md: out.join("report.md"),
        out,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Message, Role};
    use crate::model::chat::ChatFormatter;

    /// The demo model is a loadable Hugging Face folder, written offline with the same bytes
    /// every time (reruns of the quickstart train and evaluate the same model).
    #[test]
    fn the_demo_model_is_deterministic_and_speaks_qwen3s_chat_format() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (da, db) = (demo_model(a.path()).unwrap(), demo_model(b.path()).unwrap());
        assert_eq!(da, a.path().join(DEMO_MODEL_DIR));
        for f in [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
        ] {
            let bytes = fs_err::read(da.join(f)).unwrap();
            assert!(!bytes.is_empty(), "{f}");
            assert!(bytes == fs_err::read(db.join(f)).unwrap(), "{f} differs");
        }
        let config = Qwen3Config::from_file(&da.join("config.json")).unwrap();
        let f = ChatFormatter::from_model_dir(&da).unwrap();
        let tok = f.tokenizer();
        assert!(config.vocab_size >= tok.get_vocab_size(true));
        let msgs = [
            Message::new(Role::User, "Write a Luau function."),
            Message::new(Role::Assistant, "local function f() end"),
        ];
        assert_eq!(
            f.render(&msgs, false).unwrap(),
            "<|im_start|>user\nWrite a Luau function.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nlocal function f() end<|im_end|>\n"
        );
        for t in ["<|im_start|>", "<|im_end|>", "<think>", "</think>"] {
            let id = tok
                .token_to_id(t)
                .unwrap_or_else(|| panic!("{t} is a token"));
            assert!((id as usize) < config.vocab_size);
        }
        // The eval generates until <|im_end|>: the model folder names it.
        assert_eq!(
            crate::model::generate::eos_token_ids(&da, tok).unwrap(),
            vec![tok.token_to_id("<|im_end|>").unwrap()]
        );
    }

    #[test]
    fn the_training_configs_are_valid_and_the_demo_one_is_tiny() {
        for demo in [true, false] {
            let cfg = train_config(Path::new("/m"), Path::new("/o"), demo);
            cfg.validate().unwrap();
            let header = train_config_header(Path::new("/ws"), "abc", Path::new("/ws/train.toml"));
            assert!(header.contains("--snapshot abc --config /ws/train.toml"));
            let text = format!("{header}{}", cfg.to_toml());
            assert_eq!(
                TrainConfig::from_toml_str(&text, Path::new("train.toml")).unwrap(),
                cfg,
                "the written file reads back to the config that ran"
            );
            assert!(cfg.optim.steps <= 32 && cfg.run.eval_every > 0);
        }
    }

    #[test]
    fn a_missing_model_folder_is_an_error_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("qs");
        let settings = QuickstartSettings {
            model: Some(tmp.path().join("no-such-model")),
            skip_training: false,
        };
        let err = run(&dir, &settings, &|_| {}, &|_| {}).unwrap_err();
        assert!(matches!(err, QuickstartError::ModelNotFound(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("no-such-model") && msg.contains("no such folder"),
            "{msg}"
        );
        assert!(!dir.exists(), "nothing was set up");
        // A folder that is not a model says so.
        let settings = QuickstartSettings {
            model: Some(tmp.path().to_path_buf()),
            skip_training: false,
        };
        let err = run(&dir, &settings, &|_| {}, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("no config.json"), "{err}");
    }
}
