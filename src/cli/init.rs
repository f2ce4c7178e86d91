//! `vcurate init DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Folder to create the workspace in (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    crate::scaffold::init_workspace(&args.dir)
        .with_context(|| format!("could not create a workspace in {}", args.dir.display()))?;
    eprintln!("Created a vcurate workspace in {}", args.dir.display());
    eprintln!("Next: declare sources in {}/sources/*.toml (see sources/README.md), then run `vcurate ingest`.", args.dir.display());
    Ok(ExitCode::SUCCESS)
}
