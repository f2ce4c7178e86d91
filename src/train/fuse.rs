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

use crate::model::adapter;
use crate::model::candle::weights::load_checkpoint_tensors;
use crate::model::config::{Architecture, ModelConfig};
use crate::model::ModelError;
use crate::train::{Result, TrainError};

/// What [`fuse`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
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
    let config = ModelConfig::from_dir(base_dir)?;
    let (dir, format) = adapter::resolve(adapter_dir)?;
    let (lora, pairs) = adapter::read(&dir, format)?;
    let expected = config.lora_keys(&lora)?;
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
    let out_dtype = stored_dtype(base_dir, "model.norm.weight").unwrap_or(DType::F32);
    let scale = lora.scale();
    for p in &pairs {
        // The base's own name for the module (`model.layers.N`, or Qwen3.5's
        // `model.language_model.layers.N` / `language_model.model.layers.N`).
        let names: Vec<String> = Architecture::LAYER_PREFIXES
            .iter()
            .map(|prefix| format!("{prefix}{}.{}.weight", p.key.layer, p.key.module.path()))
            .collect();
        let key = names
            .iter()
            .find(|k| tensors.contains_key(*k))
            .cloned()
            .ok_or_else(|| ModelError::MissingWeight {
                path: base_dir.to_path_buf(),
                key: names[0].clone(),
            })?;
        let w = &tensors[&key];
        let a = Tensor::from_vec(p.a.data.clone(), p.a.shape.as_slice(), &device)?;
        let b = Tensor::from_vec(p.b.data.clone(), p.b.shape.as_slice(), &device)?;
        let delta = (b.matmul(&a)? * scale)?;
        if delta.dims() != w.dims() {
            return Err(ModelError::BadShape {
                key,
                got: delta.dims().to_vec(),
                expected: w.dims().to_vec(),
            }
            .into());
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
    candle_core::safetensors::save(&tensors, &weights).map_err(|e| ModelError::Safetensors {
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

/// The dtype `key` is stored in, from the safetensors header alone (the weights themselves were
/// already read, as f32). The format: an 8-byte little-endian header length, then a JSON object
/// mapping each tensor name to `{dtype, shape, data_offsets}` (huggingface/safetensors README).
fn stored_dtype(dir: &Path, key: &str) -> Option<DType> {
    use std::io::Read;
    let index = dir.join("model.safetensors.index.json");
    let file = if index.exists() {
        let v: serde_json::Value =
            serde_json::from_str(&fs_err::read_to_string(&index).ok()?).ok()?;
        dir.join(v["weight_map"][key].as_str()?)
    } else {
        dir.join("model.safetensors")
    };
    let mut f = fs_err::File::open(file).ok()?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).ok()?;
    let len = usize::try_from(u64::from_le_bytes(len)).ok()?;
    if len > 100 << 20 {
        return None;
    }
    let mut header = vec![0u8; len];
    f.read_exact(&mut header).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&header).ok()?;
    match v[key]["dtype"].as_str()? {
        "F32" => Some(DType::F32),
        "F16" => Some(DType::F16),
        "BF16" => Some(DType::BF16),
        _ => None,
    }
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
                serde_json::from_str(&text).map_err(|source| ModelError::Json {
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
