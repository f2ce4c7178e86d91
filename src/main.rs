//! The `vcurate` binary: parse args, set up logging, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("RUST_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = vcurate::cli::Cli::parse();
    match vcurate::cli::run(cli) {
        Ok(code) => code,
        // A closed pipe (`vcurate ... | head`) is not a failure: the reader has what it wanted.
        Err(err) if vcurate::cli::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", vcurate::cli::error_text(&err));
            ExitCode::from(2)
        }
    }
}
