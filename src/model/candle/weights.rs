//! Reading safetensors checkpoints into candle: a Hugging Face model folder (one file or the
//! shards of `model.safetensors.index.json`), dense (f32/f16/bf16) or MLX affine-quantized
//! (kept packed for QLoRA, or dequantized), and writing random checkpoints for tests and
//! benchmarks. Architecture-neutral: tensors by checkpoint key; each architecture picks its keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use super::quantized::Weight;
use crate::core::hash::SplitMix64;
use crate::model::quant::QuantMatrix;
use crate::model::qwen3::Qwen3Config;
use crate::model::weights::BaseConfig;
use crate::model::{ModelError, Result};

/// Read every tensor of a Hugging Face checkpoint directory (`model.safetensors`, or the shards
/// named in `model.safetensors.index.json`), converted to `dtype`. MLX affine-quantized modules
/// (`X.weight` uint32 + `X.scales` + `X.biases`, with `quantization: {group_size, bits}` and
/// per-module overrides in `config.json`, as mlx-lm writes them) are dequantized to dense.
pub fn load_checkpoint_tensors(
    dir: &Path,
    dtype: DType,
    device: &Device,
) -> Result<HashMap<String, Tensor>> {
    let base = BaseConfig {
        dequantize: true,
        ..BaseConfig::default()
    };
    load_checkpoint_weights(dir, &base, device)?
        .into_iter()
        .map(|(k, w)| Ok((k, w.to_dense(dtype, device)?)))
        .collect()
}

/// Read a checkpoint directory as base weights: dense tensors (f32, f16 or bf16, converted to
/// f32), MLX-quantized modules kept packed ([`Weight::Quant`], QLoRA) unless
/// `base.dequantize`, and, with `base.quantize_bits`, dense projection and embedding matrices
/// quantized at load.
pub fn load_checkpoint_weights(
    dir: &Path,
    base: &BaseConfig,
    device: &Device,
) -> Result<HashMap<String, Weight>> {
    load_checkpoint_weights_where(dir, base, device, &|_| true)
}

/// [`load_checkpoint_weights`] reading only the tensors whose checkpoint key `keep` accepts
/// (with their `scales`/`biases`); the others are never read from the (memory-mapped) files.
pub fn load_checkpoint_weights_where(
    dir: &Path,
    base: &BaseConfig,
    device: &Device,
    keep: &dyn Fn(&str) -> bool,
) -> Result<HashMap<String, Weight>> {
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if index.exists() {
        let text = fs_err::read_to_string(&index)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ModelError::Json {
                path: index.clone(),
                source,
            })?;
        let mut shards: Vec<String> = v["weight_map"]
            .as_object()
            .ok_or_else(|| ModelError::Safetensors {
                path: index.clone(),
                message: "no `weight_map` object".into(),
            })?
            .values()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        shards.sort();
        shards.dedup();
        shards.into_iter().map(|s| dir.join(s)).collect()
    } else {
        vec![dir.join("model.safetensors")]
    };
    let mut raw = HashMap::new();
    for file in files {
        if !file.exists() {
            return Err(ModelError::Safetensors {
                path: file,
                message: "file not found; is this a Hugging Face model directory?".into(),
            });
        }
        // Quantized weights are packed on the host; the dense rest goes to `device`.
        let st_err = |e: candle_core::Error| ModelError::Safetensors {
            path: file.clone(),
            message: e.to_string(),
        };
        // SAFETY: the file is only read, and not changed by us while mapped (candle's own
        // `safetensors::load` maps it the same way).
        let st =
            unsafe { candle_core::safetensors::MmapedSafetensors::new(&file) }.map_err(st_err)?;
        for (name, _) in st.tensors() {
            if keep(&name) {
                let t = st.load(&name, &Device::Cpu).map_err(st_err)?;
                raw.insert(name, t);
            }
        }
    }
    let config_path = dir.join("config.json");
    let quant = if config_path.exists() {
        let text = fs_err::read_to_string(&config_path)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ModelError::Json {
                path: config_path.clone(),
                source,
            })?;
        v.get("quantization").cloned()
    } else {
        None
    };
    let mut out = take_mlx_quantized(&mut raw, quant.as_ref())?;
    for (k, t) in raw {
        match t.dtype() {
            DType::F32 | DType::F16 | DType::BF16 => {}
            other => {
                return Err(ModelError::BadDtype {
                    key: k,
                    dtype: format!("{other:?}"),
                })
            }
        }
        let t = t.to_dtype(DType::F32)?;
        let w = match base.quantize_bits {
            Some(bits) if quantizable(&k, &t, base.quantize_group_size) => {
                let (rows, cols) = t.dims2()?;
                Weight::Quant(std::sync::Arc::new(QuantMatrix::quantize(
                    &t.flatten_all()?.to_vec1::<f32>()?,
                    rows,
                    cols,
                    bits,
                    base.quantize_group_size,
                )?))
            }
            _ => Weight::Dense(t.to_device(device)?),
        };
        out.insert(k, w);
    }
    if base.dequantize {
        for w in out.values_mut() {
            if w.is_quantized() {
                *w = Weight::Dense(w.to_dense(DType::F32, device)?);
            }
        }
    }
    Ok(out)
}

/// Linear and embedding matrices (every 2-D `.weight`, as MLX's `nn.quantize` takes every
/// `Linear` and `Embedding`) are quantized at load; norms, biases and convolutions never are.
fn quantizable(key: &str, t: &Tensor, group: usize) -> bool {
    key.ends_with(".weight") && t.rank() == 2 && t.dims()[1] % group == 0
}

/// Remove every MLX-quantized `X.weight` (with `X.scales`, `X.biases`) from `tensors` and return
/// it packed, under `X.weight`.
fn take_mlx_quantized(
    tensors: &mut HashMap<String, Tensor>,
    quant: Option<&serde_json::Value>,
) -> Result<HashMap<String, Weight>> {
    let modules: Vec<String> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix(".scales").map(str::to_string))
        .collect();
    let mut out = HashMap::new();
    for m in modules {
        let q = quant.ok_or_else(|| {
            ModelError::Config(format!(
                "`{m}.scales` found but config.json has no `quantization` section"
            ))
        })?;
        let own = q.get(&m).filter(|v| v.is_object()).unwrap_or(q);
        let bits = own["bits"].as_u64().or(q["bits"].as_u64());
        let group = own["group_size"].as_u64().or(q["group_size"].as_u64());
        let (Some(bits), Some(group)) = (bits, group) else {
            return Err(ModelError::Config(format!(
                "config.json `quantization` lacks bits/group_size for `{m}`"
            )));
        };
        let missing = |k: &str| ModelError::Config(format!("quantized module `{m}` lacks `{k}`"));
        let w = tensors
            .remove(&format!("{m}.weight"))
            .ok_or_else(|| missing("weight"))?;
        let s = tensors
            .remove(&format!("{m}.scales"))
            .ok_or_else(|| missing("scales"))?;
        let b = tensors
            .remove(&format!("{m}.biases"))
            .ok_or_else(|| missing("biases"))?;
        let (rows, words) = w.dims2()?;
        let cols = words * 32 / bits as usize;
        let matrix = QuantMatrix::new(
            w.flatten_all()?.to_vec1::<u32>()?,
            s.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
            b.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
            rows,
            cols,
            bits as u32,
            group as usize,
        )
        .map_err(|e| ModelError::Config(format!("quantized module `{m}`: {e}")))?;
        out.insert(
            format!("{m}.weight"),
            Weight::Quant(std::sync::Arc::new(matrix)),
        );
    }
    Ok(out)
}

/// Write a Qwen3 checkpoint with random weights (`config.json` + `model.safetensors`) for tests
/// and benchmarks. Norm weights are near 1, projections ~N-ish(0, 1/sqrt(fan_in)).
pub fn write_random_checkpoint(
    dir: &Path,
    config: &Qwen3Config,
    seed: u64,
    dtype: DType,
) -> Result<()> {
    let json = serde_json::to_value(config).expect("config serialises");
    write_random_weights(dir, &json, config.weight_shapes(), seed, dtype, |_, _| None)
}

/// Write `config` as `config.json` and random tensors of `shapes` as `model.safetensors`.
/// `special(key, u)` may give a tensor's values from uniform draws `u` in `[0, 1)`; otherwise
/// vectors (norm weights) are near 1 and matrices uniform in `±sqrt(3 / fan_in)`.
pub fn write_random_weights(
    dir: &Path,
    config: &serde_json::Value,
    shapes: Vec<(String, Vec<usize>)>,
    seed: u64,
    dtype: DType,
    special: impl Fn(&str, f64) -> Option<f64>,
) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(config).expect("config serialises");
    fs_err::write(dir.join("config.json"), json)?;
    let mut rng = SplitMix64::new(seed);
    let mut map = HashMap::new();
    for (key, shape) in shapes {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = if special(&key, 0.5).is_some() {
            (0..n)
                .map(|_| special(&key, rng.unit()).unwrap_or(0.0) as f32)
                .collect()
        } else if shape.len() == 1 && !key.ends_with(".bias") {
            (0..n)
                .map(|_| 1.0 + 0.1 * (rng.unit() as f32 - 0.5))
                .collect()
        } else {
            let fan_in = *shape.last().unwrap() as f64;
            let bound = (3.0 / fan_in).sqrt();
            (0..n)
                .map(|_| ((rng.unit() * 2.0 - 1.0) * bound) as f32)
                .collect()
        };
        let t = Tensor::from_vec(data, shape, &Device::Cpu)?.to_dtype(dtype)?;
        map.insert(key, t);
    }
    let path = dir.join("model.safetensors");
    candle_core::safetensors::save(&map, &path).map_err(|e| ModelError::Safetensors {
        path,
        message: e.to_string(),
    })?;
    Ok(())
}

/// Copy `src/config.json` to `dst/config.json` with a `quantization` section (tests writing
/// MLX-quantized checkpoints).
#[cfg(test)]
pub(crate) fn write_quantized_config(src: &Path, dst: &Path, bits: u32, group: usize) {
    let text = fs_err::read_to_string(src.join("config.json")).expect("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&text).expect("config.json");
    config["quantization"] = serde_json::json!({"group_size": group, "bits": bits});
    fs_err::write(dst.join("config.json"), config.to_string()).expect("write config.json");
}
