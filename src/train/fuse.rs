//! `vcurate train fuse`: fold a LoRA adapter into its base model and write a plain Hugging Face
//! checkpoint (`W' = W + scale * B A` for every adapted module) that any loader reads without
//! adapter support.
//!
//! The output folder gets `model.safetensors` (every tensor of the base, in the dtype of the base's
//! `model.norm.weight`), the base's `config.json` (without `quantization`: an MLX-quantized base
//! is written dequantized, like `mlx_lm.fuse --de-quantize`), the base's other small files
//! (tokenizer, chat template, generation config) and `fuse.json` saying what was fused. Must
//! never modify the base or the adapter folder.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use crate::train::candle::qwen3::{load_checkpoint_tensors, Qwen3Config};
use crate::train::{adapter, Result, TrainError};

/// What [`fuse`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FuseReport {
    pub base: String,
    pub adapter: String,
    /// sha256 of the adapter weights file that was read.
    pub adapter_sha256: String,
    pub modules_fused: usize,
    pub dtype: String,
    pub tensors_written: usize,
}

/// Fuse the adapter in `adapter_dir` (mlx-lm, PEFT, or a `vcurate train` output folder) into the
/// model in `base_dir`, writing a new model folder `out_dir` (which must not exist or be empty).
pub fn fuse(base_dir: &Path, adapter_dir: &Path, out_dir: &Path) -> Result<FuseReport> {
    if out_dir.exists() && fs_err::read_dir(out_dir)?.next().is_some() {
        return Err(TrainError::Config(format!(
            "{} exists and is not empty; choose a new output folder",
            out_dir.display()
        )));
    }
    let config = Qwen3Config::from_file(&base_dir.join("config.json"))?;
    let (dir, format) = adapter::resolve(adapter_dir)?;
    let (lora, pairs) = adapter::read(&dir, format)?;
    let expected = lora.keys(config.num_hidden_layers)?;
    let got: Vec<_> = pairs.iter().map(|p| p.key).collect();
    if expected != got {
        return Err(TrainError::Adapter {
            path: adapter_dir.to_path_buf(),
            message: format!(
                "the adapter config names {} modules but the weights hold {}; the adapter is damaged",
                expected.len(),
                got.len()
            ),
        });
    }
    let device = Device::Cpu;
    let mut tensors: HashMap<String, Tensor> =
        load_checkpoint_tensors(base_dir, DType::F32, &device)?;
    let out_dtype = candle_core::safetensors::load(first_shard(base_dir)?, &device)
        .ok()
        .and_then(|t| t.get("model.norm.weight").map(Tensor::dtype))
        .filter(|d| matches!(d, DType::F32 | DType::F16 | DType::BF16))
        .unwrap_or(DType::F32);
    let scale = lora.scale();
    for p in &pairs {
        let key = format!("{}.weight", p.key.module_name());
        let w = tensors.get(&key).ok_or_else(|| TrainError::MissingWeight {
            path: base_dir.to_path_buf(),
            key: key.clone(),
        })?;
        let a = Tensor::from_vec(p.a.data.clone(), p.a.shape.as_slice(), &device)?;
        let b = Tensor::from_vec(p.b.data.clone(), p.b.shape.as_slice(), &device)?;
        let delta = (b.matmul(&a)? * scale)?;
        if delta.dims() != w.dims() {
            return Err(TrainError::BadShape {
                key,
                got: delta.dims().to_vec(),
                expected: w.dims().to_vec(),
            });
        }
        let fused = (w + delta)?;
        tensors.insert(key, fused);
    }
    let tensors: HashMap<String, Tensor> = tensors
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_dtype(out_dtype)?)))
        .collect::<Result<_>>()?;
    fs_err::create_dir_all(out_dir)?;
    let weights = out_dir.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &weights).map_err(|e| TrainError::Safetensors {
        path: weights.clone(),
        message: e.to_string(),
    })?;
    copy_small_files(base_dir, out_dir)?;
    let adapter_file = dir.join(format.weights_file());
    let report = FuseReport {
        base: base_dir.display().to_string(),
        adapter: adapter_dir.display().to_string(),
        adapter_sha256: crate::core::sha256_hex(&fs_err::read(&adapter_file)?),
        modules_fused: pairs.len(),
        dtype: format!("{out_dtype:?}").to_lowercase(),
        tensors_written: tensors.len(),
    };
    let json = serde_json::to_string_pretty(&report).expect("report serialises");
    fs_err::write(out_dir.join("fuse.json"), json + "\n")?;
    Ok(report)
}

fn first_shard(dir: &Path) -> Result<std::path::PathBuf> {
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(single);
    }
    let mut shards: Vec<_> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    shards.sort();
    shards
        .into_iter()
        .next()
        .ok_or_else(|| TrainError::Safetensors {
            path: dir.to_path_buf(),
            message: "no safetensors file".into(),
        })
}

/// Copy the base's non-weight files; `config.json` loses its `quantization` section.
fn copy_small_files(base: &Path, out: &Path) -> Result<()> {
    for entry in fs_err::read_dir(base)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !path.is_file()
            || name.ends_with(".safetensors")
            || name == "model.safetensors.index.json"
        {
            continue;
        }
        if name == "config.json" {
            let text = fs_err::read_to_string(&path)?;
            let mut v: serde_json::Value =
                serde_json::from_str(&text).map_err(|source| TrainError::Json {
                    path: path.clone(),
                    source,
                })?;
            if let Some(o) = v.as_object_mut() {
                o.remove("quantization");
                o.remove("quantization_config");
            }
            let json = serde_json::to_string_pretty(&v).expect("json serialises");
            fs_err::write(out.join(name), json + "\n")?;
        } else {
            fs_err::copy(&path, out.join(name))?;
        }
    }
    Ok(())
}
