//! `vcurate shard`: the sharded audits one task at a time, for an executor (the local worker
//! pool, the Ray driver of `vcurate shard ray-driver`, or a Slurm array) that runs the tasks of each stage
//! anywhere the work folder is visible.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::audit::sharded;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct ShardArgs {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(Debug, clap::Subcommand)]
pub enum Which {
    /// Write WORK/plan.json for a sharded audit (every audit but splits) over the store and
    /// print its stages and task counts as JSON. Keeps an existing plan with the same inputs.
    Plan {
        /// license, secrets, density, quality, exact-dedup, near-dedup or contamination.
        audit: String,
        /// The work folder (a shared filesystem path when tasks run on other machines).
        #[arg(long)]
        work: PathBuf,
        /// Hash partitions (exact) or parts of the candidate pairs (near); default: shards,
        /// clamped to 4..=256.
        #[arg(long)]
        partitions: Option<usize>,
    },
    /// Run one task of a stage; does nothing when its completion marker exists.
    Run {
        #[arg(long)]
        work: PathBuf,
        stage: String,
        task: usize,
        /// Run it even when its marker exists.
        #[arg(long)]
        force: bool,
    },
    /// Run every unfinished task on a local worker pool, then finish.
    Local {
        #[arg(long)]
        work: PathBuf,
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
    /// Write the audit's tables from a finished run; prints its summary as JSON.
    Finish {
        #[arg(long)]
        work: PathBuf,
    },
    /// Print the Ray driver (Python; needs `pip install ray`) that runs these tasks on a Ray
    /// cluster with retries and resume: `vcurate shard ray-driver > ray_shards.py`.
    RayDriver,
}

pub fn run(dir: Option<&Path>, args: ShardArgs) -> anyhow::Result<ExitCode> {
    match args.which {
        Which::Plan {
            audit,
            work,
            partitions,
        } => {
            let ws = Workspace::discover(dir)?;
            let plan = sharded::plan(&ws, &audit, &work, partitions)?;
            super::print_json(&plan.stages)?;
        }
        Which::Run {
            work,
            stage,
            task,
            force,
        } => {
            let ran = sharded::run_task(&work, &stage, task, force)?;
            if !ran {
                eprintln!("{stage} {task}: already done");
            }
        }
        Which::Local { work, workers } => {
            let report = sharded::run_local(&work, workers, &|stage, task, ran| {
                if ran {
                    eprintln!("done: {stage} {task}");
                }
            })?;
            super::print_json(&report)?;
        }
        Which::Finish { work } => super::print_json(&sharded::finish(&work)?)?,
        Which::RayDriver => super::print_data(sharded::RAY_DRIVER)?,
    }
    Ok(ExitCode::SUCCESS)
}
