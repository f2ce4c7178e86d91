//! `training.json`: the record a `vcurate train` run leaves beside its adapters, naming the
//! snapshot it trained on. `train` writes it; `eval` reads it to check that the snapshot's
//! contamination audit covered the task set. A plain record: nothing here knows how to train.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `training.json`, written beside a run's adapters: what the run trained on. `vcurate eval`
/// reads it to check that the snapshot's contamination audit covered the task set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    pub snapshot: String,
    /// The workspace root whose `dataset/snapshots/<snapshot>` the run read.
    pub workspace: PathBuf,
    pub model: PathBuf,
    pub train_examples: usize,
    pub valid_examples: usize,
}

pub const TRAINING_RECORD: &str = "training.json";

/// A `training.json` that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TrainingRecordError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{path}: invalid JSON: {source}; fix or regenerate the file")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl TrainingRecord {
    /// The record of the run an adapter came from: `adapter_dir/training.json`, or its parent's
    /// (an adapter is often given as the run's `mlx/` or `peft/` folder). `None` when there is
    /// none (an adapter trained elsewhere).
    pub fn find(
        adapter_dir: &Path,
    ) -> Result<Option<(PathBuf, TrainingRecord)>, TrainingRecordError> {
        for dir in [Some(adapter_dir), adapter_dir.parent()]
            .into_iter()
            .flatten()
        {
            let path = dir.join(TRAINING_RECORD);
            if path.is_file() {
                let text = fs_err::read_to_string(&path)?;
                let rec =
                    serde_json::from_str(&text).map_err(|source| TrainingRecordError::Json {
                        path: path.clone(),
                        source,
                    })?;
                return Ok(Some((path, rec)));
            }
        }
        Ok(None)
    }

    /// Write the record as `dir/training.json` (pretty JSON, atomically).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).expect("record serialises");
        crate::core::fs::write_atomic(&dir.join(TRAINING_RECORD), (json + "\n").as_bytes())
    }
}
