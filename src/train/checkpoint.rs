//! Resume checkpoints: the LoRA tensors, the AdamW moments and the step, in one directory.
//!
//! `resume.safetensors` holds `lora.{i}.{a,b}`, `adam.m.{j}`, `adam.v.{j}` (canonical
//! orientation, f32); `trainer_state.json` holds the next step and the optimizer's step count.
//! The data order and dropout draws are functions of the step, so nothing else is needed for a
//! resumed run to match an uninterrupted one. Backend-neutral; no tensor library here.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::adapter::{read_safetensors, write_safetensors};
use crate::model::ModelError;
use crate::model::{HostTensor, LoraTensors};
use crate::train::backend::{Backend, OptimizerState};
use crate::train::{Result, TrainError};

pub const RESUME_WEIGHTS: &str = "resume.safetensors";
pub const TRAINER_STATE: &str = "trainer_state.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerState {
    /// The first step the resumed run will execute.
    pub next_step: usize,
    pub optimizer_step: u64,
    pub lora_keys: Vec<String>,
}

pub fn save<B: Backend>(backend: &B, dir: &Path, next_step: usize) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    let lora = backend.lora_tensors()?;
    let opt = backend.optimizer_state()?;
    let mut map: BTreeMap<String, HostTensor> = BTreeMap::new();
    for (i, t) in lora.iter().enumerate() {
        map.insert(format!("lora.{i}.a"), t.a.clone());
        map.insert(format!("lora.{i}.b"), t.b.clone());
    }
    for (j, (m, v)) in opt.first_moment.iter().zip(&opt.second_moment).enumerate() {
        map.insert(format!("adam.m.{j}"), m.clone());
        map.insert(format!("adam.v.{j}"), v.clone());
    }
    write_safetensors(&dir.join(RESUME_WEIGHTS), &map, HashMap::new())?;
    let state = TrainerState {
        next_step,
        optimizer_step: opt.step,
        lora_keys: lora.iter().map(|t| t.key.module_name()).collect(),
    };
    let text = serde_json::to_string_pretty(&state).expect("state serialises");
    let tmp = dir.join(format!("{TRAINER_STATE}.tmp"));
    fs_err::write(&tmp, text)?;
    fs_err::rename(&tmp, dir.join(TRAINER_STATE))?;
    Ok(())
}

/// Restore `backend` from `dir`; returns the step to continue from.
pub fn load<B: Backend>(backend: &mut B, dir: &Path) -> Result<usize> {
    let state_path = dir.join(TRAINER_STATE);
    let text = fs_err::read_to_string(&state_path)?;
    let state: TrainerState = serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: state_path.clone(),
        source,
    })?;
    let current = backend.lora_tensors()?;
    let names: Vec<String> = current.iter().map(|t| t.key.module_name()).collect();
    if names != state.lora_keys {
        return Err(TrainError::Adapter {
            path: state_path,
            message: "checkpoint adapts other modules than this run; use the same lora settings"
                .into(),
        });
    }
    let weights = dir.join(RESUME_WEIGHTS);
    let (mut map, _) = read_safetensors(&weights)?;
    let mut take = |k: String| {
        map.remove(&k).ok_or_else(|| TrainError::Adapter {
            path: weights.clone(),
            message: format!("missing tensor `{k}`"),
        })
    };
    let mut lora = Vec::with_capacity(current.len());
    for (i, t) in current.iter().enumerate() {
        lora.push(LoraTensors {
            key: t.key,
            a: take(format!("lora.{i}.a"))?,
            b: take(format!("lora.{i}.b"))?,
        });
    }
    let n = 2 * current.len();
    let mut first_moment = Vec::with_capacity(n);
    let mut second_moment = Vec::with_capacity(n);
    for j in 0..n {
        first_moment.push(take(format!("adam.m.{j}"))?);
        second_moment.push(take(format!("adam.v.{j}"))?);
    }
    backend.set_lora_tensors(&lora)?;
    backend.set_optimizer_state(&OptimizerState {
        step: state.optimizer_step,
        first_moment,
        second_moment,
    })?;
    Ok(state.next_step)
}
