//! `vcurate bench`

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Debug, clap::Subcommand)]
pub enum Which {
    /// Near dedup (MinHash + LSH) and contamination on a generated corpus with planted near
    /// duplicates and eval prompts: docs/s, peak memory, recall against true Jaccard.
    Dedup {
        /// Number of generated documents.
        #[arg(long, default_value_t = 100_000)]
        docs: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the figures (JSON).
        #[arg(long, default_value = "bench-dedup.json")]
        out: PathBuf,
    },
    /// The contamination scorer on a generated Roblox-like corpus with planted leaks, planted
    /// boilerplate and near misses: pair precision and recall, docs/s, beside the rule it
    /// replaced (any shared n-gram or window).
    Contamination {
        /// Number of generated documents.
        #[arg(long, default_value_t = 20_000)]
        docs: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the figures (JSON).
        #[arg(long, default_value = "bench-contamination.json")]
        out: PathBuf,
    },
    /// LoRA training steps on a random Qwen3 or Qwen3.5 (tiny, or Qwen3-0.6B's / Qwen3.5-0.8B's
    /// shapes): tokens/s and peak memory, to set beside `benches/train_torch.sh` (PyTorch +
    /// PEFT) and `benches/train_mlx.py` (mlx-lm), same shapes and settings.
    Train {
        /// Model shape: tiny, qwen3-0.6b, qwen3.5-tiny or qwen3.5-0.8b.
        #[arg(long, default_value = "tiny")]
        config: String,
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value_t = 256)]
        seq: usize,
        /// Timed optimizer steps (after the warmup steps).
        #[arg(long, default_value_t = 3)]
        steps: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Token ids (a JSON list of ints, as benches/make_tokens.py writes); default: a fixed
        /// pseudo-random sequence.
        #[arg(long, value_name = "FILE")]
        tokens: Option<PathBuf>,
        /// Quantize the base to this many bits at load (QLoRA) instead of a dense f32 base.
        #[arg(long, value_name = "BITS")]
        qlora_bits: Option<u32>,
        /// Adapt only the last N layers (default: every layer).
        #[arg(long, value_name = "N")]
        lora_layers: Option<usize>,
        /// Tensor backend: cpu (candle) or mlx (MLX, in builds with `--features mlx`).
        #[arg(long, value_enum, default_value = "cpu")]
        device: crate::model::DeviceKind,
        /// Where to write the figures (JSON).
        #[arg(long, default_value = "bench-train.json")]
        out: PathBuf,
    },
    /// The secrets audit on a generated Roblox-style corpus with planted fake credentials:
    /// documents/s and its share of a whole audit run. With --corpus DIR: what the scanner flags
    /// in a real folder of Luau files (the false-positive rate).
    Secrets {
        /// Number of generated documents.
        #[arg(long, default_value_t = 2000)]
        docs: usize,
        /// Lines of ordinary code per generated document (on top of the look-alikes).
        #[arg(long, default_value_t = 140)]
        lines: usize,
        /// Scan the .lua/.luau files under DIR instead of generating a corpus.
        #[arg(long, value_name = "DIR")]
        corpus: Option<PathBuf>,
        /// Where to write the figures (JSON).
        #[arg(long, default_value = "bench-secrets.json")]
        out: PathBuf,
    },
    /// Write a workspace whose store holds N generated Luau documents (one source per shard)
    /// with planted near duplicates and exact copies, for `bench scale`.
    ScaleGenerate {
        /// The workspace folder to write.
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        docs: usize,
        #[arg(long, default_value_t = 16)]
        shards: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write Luau files in local source folders (and their manifests) instead of the
        /// store, for `bench scale --mode ingest`.
        #[arg(long)]
        files: bool,
    },
    /// The whole audit over a `bench scale-generate` workspace in one mode (`in-memory`: the
    /// whole corpus loaded, the path before sharding; `sharded`: `vcurate audit --workers`;
    /// `ingest`: `vcurate ingest` of a `--files` corpus): wall time, peak RSS, bytes per
    /// document, and for the audits digests of the excluded sets and splits to compare modes.
    /// One mode per process.
    Scale {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "sharded")]
        mode: String,
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Where to write the figures (JSON).
        #[arg(long, default_value = "bench-scale.json")]
        out: PathBuf,
    },
    /// Generate a Luau + docs corpus, ingest it from scratch, write files/s, MB/s, peak memory.
    Ingest {
        /// Number of generated Luau files.
        #[arg(long, default_value_t = 5000)]
        files: usize,
        /// Lines per generated Luau file (5000 x 140 = 700k lines).
        #[arg(long, default_value_t = 140)]
        lines: usize,
        /// Number of generated docs pages.
        #[arg(long, default_value_t = 1000)]
        pages: usize,
        /// Where to write the figures (JSON).
        #[arg(long, default_value = "bench-ingest.json")]
        out: PathBuf,
    },
}

/// Writes the figures to `out` and prints them as JSON on stdout.
fn finish<T: serde::Serialize>(out: &std::path::Path, figures: &T) -> anyhow::Result<()> {
    crate::bench::write_figures(out, figures)?;
    super::print_json(figures)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.which {
        Which::Dedup { docs, seed, out } => {
            eprintln!("generating {docs} documents with planted near duplicates and eval prompts");
            finish(&out, &crate::bench::dedup::bench_dedup(docs, seed)?)?;
        }
        Which::Contamination { docs, seed, out } => {
            eprintln!(
                "generating {docs} documents with planted leaks, boilerplate and near misses"
            );
            finish(&out, &crate::bench::contamination::run(docs, seed)?)?;
        }
        Which::Train {
            config,
            batch,
            seq,
            steps,
            warmup,
            tokens,
            qlora_bits,
            lora_layers,
            device,
            out,
        } => {
            let (ids, source) = crate::bench::train::token_ids(tokens.as_deref())?;
            let tmp = tempfile::tempdir()?;
            let bench = crate::bench::train::TrainBench {
                config,
                batch,
                seq,
                steps,
                warmup,
                qlora_bits,
                lora_layers,
                device,
            };
            let figures = crate::bench::train::run(tmp.path(), &bench, &ids, &source)?;
            finish(&out, &figures)?;
        }
        Which::Secrets {
            docs,
            lines,
            corpus,
            out,
        } => match corpus {
            Some(dir) => finish(&out, &crate::bench::secrets::scan_corpus(&dir)?)?,
            None => {
                let tmp = tempfile::tempdir()?;
                eprintln!("generating {docs} Luau documents x {lines} lines with look-alikes and planted fake credentials");
                finish(&out, &crate::bench::secrets::run(tmp.path(), docs, lines)?)?;
            }
        },
        Which::ScaleGenerate {
            dir,
            docs,
            shards,
            seed,
            files,
        } => {
            let c = crate::bench::scale::generate(&dir, docs, shards, seed, files)?;
            super::print_json(&c)?;
        }
        Which::Scale { dir, mode, out, .. } if mode == "ingest" => {
            finish(&out, &crate::bench::scale::run_ingest(&dir)?)?
        }
        Which::Scale {
            dir,
            mode,
            workers,
            out,
        } => finish(&out, &crate::bench::scale::run(&dir, &mode, workers)?)?,
        Which::Ingest {
            files,
            lines,
            pages,
            out,
        } => {
            let tmp = tempfile::tempdir()?;
            eprintln!(
                "generating {files} Luau files x {lines} lines and {pages} docs pages in {}",
                tmp.path().display()
            );
            finish(
                &out,
                &crate::bench::ingest::run(tmp.path(), files, lines, pages)?,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
