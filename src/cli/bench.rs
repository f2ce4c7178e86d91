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

pub fn run_dedup(docs: usize, seed: u64, out: &std::path::Path) -> anyhow::Result<()> {
    eprintln!("generating {docs} documents with planted near duplicates and eval prompts");
    let figures = crate::bench::dedup::bench_dedup(docs, seed)?;
    crate::bench::write_figures(out, &figures)?;
    super::print_json(&figures)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.which {
        Which::Dedup { docs, seed, out } => run_dedup(docs, seed, &out)?,
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
            let figures = crate::bench::ingest::run(tmp.path(), files, lines, pages)?;
            crate::bench::write_figures(&out, &figures)?;
            super::print_json(&figures)?;
            eprintln!("wrote {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
