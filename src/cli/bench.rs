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

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.which {
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
