//! `vcurate schemas`

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SchemasArgs {
    /// Write every schema into this folder (the repository keeps them in `schemas/`).
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

pub fn run(args: SchemasArgs) -> anyhow::Result<ExitCode> {
    let mut names = String::new();
    for (name, schema) in crate::schema::all() {
        match &args.write {
            Some(dir) => {
                fs_err::create_dir_all(dir)?;
                fs_err::write(dir.join(name), crate::schema::render(&schema))?;
                eprintln!("wrote {}", dir.join(name).display());
            }
            None => names.push_str(&format!("{name}\n")),
        }
    }
    super::print_data(&names)?;
    Ok(ExitCode::SUCCESS)
}
