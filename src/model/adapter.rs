//! Adapter files that other tools load: mlx-lm's and PEFT's.
//!
//! **mlx-lm** (checked in ml-explore/mlx-lm `mlx_lm/lora.py`, `mlx_lm/tuner/utils.py`
//! `load_adapters`/`linear_to_lora_layers`, `mlx_lm/tuner/lora.py` `LoRALinear`):
//! - `adapters.safetensors`: the model's trainable parameters by module path,
//!   `model.layers.N.self_attn.q_proj.lora_a` of shape `[in, rank]` and `...lora_b` of shape
//!   `[rank, out]`; the layer computes `y = W x + scale * (x @ lora_a) @ lora_b`.
//! - `adapter_config.json`: the training args; `load_adapters` reads `fine_tune_type` ("lora"),
//!   `num_layers` (adapt the last N layers) and `lora_parameters` = `{rank, scale, dropout, keys}`
//!   where `keys` are paths inside a layer (`self_attn.q_proj`).
//!
//! **PEFT** (huggingface/peft `src/peft/utils/save_and_load.py` `get_peft_model_state_dict`, which
//! drops the adapter name from `...lora_A.default.weight`; `src/peft/tuners/lora/config.py`
//! `LoraConfig`; `src/peft/tuners/lora/layer.py`: `scaling = lora_alpha / r`):
//! - `adapter_model.safetensors`: `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`
//!   of shape `[rank, in]` and `...lora_B.weight` of shape `[out, rank]` (torch `nn.Linear`
//!   layout); `y = W x + (lora_alpha / r) * B (A x)`.
//! - `adapter_config.json`: `peft_type: "LORA"`, `task_type: "CAUSAL_LM"`, `r`, `lora_alpha`,
//!   `lora_dropout`, `target_modules`, `layers_to_transform`, `bias: "none"`, ...
//!
//! Layer names follow the architecture (see [`Architecture::mlx_layer_prefix`] and
//! [`Architecture::hf_layer_prefix`]): Qwen3's are `model.layers.N` in both files; Qwen3.5's are
//! `language_model.model.layers.N` in mlx-lm's (the path of its parameter tree, which
//! `load_adapters` matches) and `base_model.model.model.language_model.layers.N` in PEFT's (the
//! Hugging Face `Qwen3_5ForConditionalGeneration` module names). Readers accept every prefix.
//!
//! Both describe the same update: mlx `scale` = PEFT `lora_alpha / r`, mlx `lora_a` = `A^T`,
//! mlx `lora_b` = `B^T`. This module works on [`HostTensor`]s and must not use a tensor library.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::json;

use crate::model::config::Architecture;
use crate::model::lora::{LoraConfig, LoraKey, TargetModule};
use crate::model::tensor::{HostTensor, LoraTensors};
use crate::model::{ModelError, Result};

pub const MLX_WEIGHTS: &str = "adapters.safetensors";
pub const PEFT_WEIGHTS: &str = "adapter_model.safetensors";
pub const ADAPTER_CONFIG: &str = "adapter_config.json";

fn adapter_err(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Adapter {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Write f32 tensors as safetensors with the given `__metadata__`, via a temp file + rename.
pub fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, HostTensor>,
    metadata: HashMap<String, String>,
) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(k, t)| {
            let b = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
            (k.clone(), b, t.shape.clone())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(k, b, s)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| adapter_err(path, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let data = safetensors::serialize(views, Some(metadata))
        .map_err(|e| adapter_err(path, e.to_string()))?;
    let tmp = path.with_extension("safetensors.tmp");
    fs_err::write(&tmp, data)?;
    fs_err::rename(&tmp, path)?;
    Ok(())
}

/// Read every tensor of a safetensors file as f32 (f32, f16 and bf16 accepted), with metadata.
pub fn read_safetensors(
    path: &Path,
) -> Result<(BTreeMap<String, HostTensor>, HashMap<String, String>)> {
    let bytes = fs_err::read(path)?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| ModelError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| ModelError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::BF16 => view
                .data()
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            Dtype::F16 => view
                .data()
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(ModelError::BadDtype {
                    key: name,
                    dtype: format!("{other:?}"),
                })
            }
        };
        out.insert(name, HostTensor::new(view.shape().to_vec(), data));
    }
    Ok((out, meta.metadata().clone().unwrap_or_default()))
}

fn sorted_targets(cfg: &LoraConfig) -> Vec<TargetModule> {
    let mut t = cfg.targets.clone();
    t.sort();
    t.dedup();
    t
}

/// Write `adapters.safetensors` + `adapter_config.json` in mlx-lm's format.
pub fn write_mlx(
    dir: &Path,
    arch: Architecture,
    cfg: &LoraConfig,
    n_model_layers: usize,
    tensors: &[LoraTensors],
) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    let mut map = BTreeMap::new();
    for t in tensors {
        let name = format!(
            "{}.{}",
            arch.mlx_layer_prefix(t.key.layer),
            t.key.module.path()
        );
        map.insert(format!("{name}.lora_a"), t.a.transpose2());
        map.insert(format!("{name}.lora_b"), t.b.transpose2());
    }
    let meta = HashMap::from([("format".to_string(), "mlx".to_string())]);
    write_safetensors(&dir.join(MLX_WEIGHTS), &map, meta)?;
    let keys: Vec<&str> = sorted_targets(cfg).iter().map(|m| m.path()).collect();
    let config = json!({
        "fine_tune_type": "lora",
        "num_layers": cfg.num_layers.unwrap_or(n_model_layers),
        "lora_parameters": {
            "rank": cfg.rank,
            "scale": cfg.scale(),
            "dropout": cfg.dropout,
            "keys": keys,
        },
    });
    write_json(&dir.join(ADAPTER_CONFIG), &config)
}

/// Write `adapter_model.safetensors` + `adapter_config.json` in PEFT's format.
pub fn write_peft(
    dir: &Path,
    arch: Architecture,
    cfg: &LoraConfig,
    n_model_layers: usize,
    base_model: &str,
    tensors: &[LoraTensors],
) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    let mut map = BTreeMap::new();
    for t in tensors {
        let name = format!(
            "{}.{}",
            arch.hf_layer_prefix(t.key.layer),
            t.key.module.path()
        );
        map.insert(
            format!("base_model.model.{name}.lora_A.weight"),
            t.a.clone(),
        );
        map.insert(
            format!("base_model.model.{name}.lora_B.weight"),
            t.b.clone(),
        );
    }
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_safetensors(&dir.join(PEFT_WEIGHTS), &map, meta)?;
    let targets: Vec<&str> = sorted_targets(cfg).iter().map(|m| m.leaf()).collect();
    let layers: Option<Vec<usize>> = cfg
        .num_layers
        .map(|n| (n_model_layers.saturating_sub(n)..n_model_layers).collect());
    let config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": cfg.rank,
        "lora_alpha": cfg.alpha,
        "lora_dropout": cfg.dropout,
        "target_modules": targets,
        "layers_to_transform": layers,
        "bias": "none",
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "use_rslora": false,
        "use_dora": false,
        "modules_to_save": null,
    });
    write_json(&dir.join(ADAPTER_CONFIG), &config)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("json value serialises");
    let tmp = path.with_extension("json.tmp");
    fs_err::write(&tmp, text + "\n")?;
    fs_err::rename(&tmp, path)?;
    Ok(())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = fs_err::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Parse `<layers prefix>N.<path>.<suffix>` into a key (any architecture's prefix).
fn parse_key(name: &str, suffix: &str) -> Option<LoraKey> {
    let rest = Architecture::LAYER_PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))?
        .strip_suffix(suffix)?;
    let (layer, path) = rest.split_once('.')?;
    Some(LoraKey {
        layer: layer.parse().ok()?,
        module: TargetModule::from_leaf(path).filter(|m| m.path() == path)?,
    })
}

fn collect_pairs(
    path: &Path,
    tensors: &BTreeMap<String, HostTensor>,
    strip: &str,
    a_suffix: &str,
    b_suffix: &str,
    transpose: bool,
) -> Result<Vec<LoraTensors>> {
    let mut out = Vec::new();
    for (name, a) in tensors {
        let Some(inner) = name.strip_prefix(strip) else {
            return Err(adapter_err(path, format!("unexpected tensor `{name}`")));
        };
        if inner.ends_with(b_suffix) {
            continue;
        }
        let key = parse_key(inner, a_suffix)
            .ok_or_else(|| adapter_err(path, format!("unexpected tensor `{name}`")))?;
        let stem = name
            .strip_suffix(a_suffix)
            .expect("parse_key checked the suffix");
        let b_name = format!("{stem}{b_suffix}");
        let b = tensors
            .get(&b_name)
            .ok_or_else(|| adapter_err(path, format!("`{name}` has no partner `{b_name}`")))?;
        let (a, b) = if transpose {
            (a.transpose2(), b.transpose2())
        } else {
            (a.clone(), b.clone())
        };
        out.push(LoraTensors { key, a, b });
    }
    out.sort_by_key(|t| t.key);
    Ok(out)
}

/// Read an mlx-lm adapter directory back into canonical orientation.
pub fn read_mlx(dir: &Path) -> Result<(LoraConfig, Vec<LoraTensors>)> {
    let cfg_path = dir.join(ADAPTER_CONFIG);
    let v = read_json(&cfg_path)?;
    let p = &v["lora_parameters"];
    let rank = p["rank"]
        .as_u64()
        .ok_or_else(|| adapter_err(&cfg_path, "lora_parameters.rank missing"))?
        as usize;
    let scale = p["scale"]
        .as_f64()
        .ok_or_else(|| adapter_err(&cfg_path, "lora_parameters.scale missing"))?;
    let targets = p["keys"]
        .as_array()
        .ok_or_else(|| {
            adapter_err(
                &cfg_path,
                "lora_parameters.keys missing (model default keys are not supported)",
            )
        })?
        .iter()
        .map(|k| {
            k.as_str()
                .and_then(TargetModule::from_leaf)
                .ok_or_else(|| adapter_err(&cfg_path, format!("unsupported key {k}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let cfg = LoraConfig {
        rank,
        alpha: scale * rank as f64,
        dropout: p["dropout"].as_f64().unwrap_or(0.0),
        targets,
        num_layers: v["num_layers"].as_u64().map(|n| n as usize),
    };
    let weights = dir.join(MLX_WEIGHTS);
    let (tensors, _) = read_safetensors(&weights)?;
    let pairs = collect_pairs(&weights, &tensors, "", ".lora_a", ".lora_b", true)?;
    Ok((cfg, pairs))
}

/// An adapter file layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterFormat {
    /// mlx-lm: `adapters.safetensors` + `adapter_config.json`.
    Mlx,
    /// PEFT: `adapter_model.safetensors` + `adapter_config.json`.
    Peft,
}

impl AdapterFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterFormat::Mlx => "mlx",
            AdapterFormat::Peft => "peft",
        }
    }

    pub fn weights_file(self) -> &'static str {
        match self {
            AdapterFormat::Mlx => MLX_WEIGHTS,
            AdapterFormat::Peft => PEFT_WEIGHTS,
        }
    }
}

/// Find the adapter under `dir`: an mlx-lm adapter, a PEFT adapter, or a `vcurate train` output
/// folder (its `mlx/` subfolder). Returns the folder holding the files and their layout.
pub fn resolve(dir: &Path) -> Result<(std::path::PathBuf, AdapterFormat)> {
    let has = |d: &Path, f: &str| d.join(f).is_file() && d.join(ADAPTER_CONFIG).is_file();
    if has(dir, MLX_WEIGHTS) {
        return Ok((dir.to_path_buf(), AdapterFormat::Mlx));
    }
    if has(dir, PEFT_WEIGHTS) {
        return Ok((dir.to_path_buf(), AdapterFormat::Peft));
    }
    let mlx = dir.join("mlx");
    if has(&mlx, MLX_WEIGHTS) {
        return Ok((mlx, AdapterFormat::Mlx));
    }
    Err(adapter_err(
        dir,
        format!(
            "no adapter here; expected {MLX_WEIGHTS} or {PEFT_WEIGHTS} next to {ADAPTER_CONFIG}, or a `vcurate train` output folder with mlx/{MLX_WEIGHTS}"
        ),
    ))
}

/// Read an adapter folder of a known layout.
pub fn read(dir: &Path, format: AdapterFormat) -> Result<(LoraConfig, Vec<LoraTensors>)> {
    match format {
        AdapterFormat::Mlx => read_mlx(dir),
        AdapterFormat::Peft => read_peft(dir),
    }
}

/// Read a PEFT adapter directory back.
pub fn read_peft(dir: &Path) -> Result<(LoraConfig, Vec<LoraTensors>)> {
    let cfg_path = dir.join(ADAPTER_CONFIG);
    let v = read_json(&cfg_path)?;
    if v["peft_type"] != "LORA" {
        return Err(adapter_err(&cfg_path, "peft_type is not \"LORA\""));
    }
    let rank = v["r"]
        .as_u64()
        .ok_or_else(|| adapter_err(&cfg_path, "`r` missing"))? as usize;
    let targets = v["target_modules"]
        .as_array()
        .ok_or_else(|| adapter_err(&cfg_path, "`target_modules` must be a list"))?
        .iter()
        .map(|k| {
            k.as_str()
                .and_then(TargetModule::from_leaf)
                .ok_or_else(|| adapter_err(&cfg_path, format!("unsupported target module {k}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let num_layers = v["layers_to_transform"].as_array().map(|l| l.len());
    let cfg = LoraConfig {
        rank,
        alpha: v["lora_alpha"].as_f64().unwrap_or(rank as f64),
        dropout: v["lora_dropout"].as_f64().unwrap_or(0.0),
        targets,
        num_layers,
    };
    let weights = dir.join(PEFT_WEIGHTS);
    let (tensors, _) = read_safetensors(&weights)?;
    let pairs = collect_pairs(
        &weights,
        &tensors,
        "base_model.model.",
        ".lora_A.weight",
        ".lora_B.weight",
        false,
    )?;
    Ok((cfg, pairs))
}

/// The adapter a model was loaded with.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedAdapter {
    /// The folder holding the adapter files (a `vcurate train` output resolves to its `mlx/`).
    pub dir: std::path::PathBuf,
    pub format: AdapterFormat,
    /// The safetensors file with the adapter weights.
    pub weights: std::path::PathBuf,
    pub weights_sha256: String,
    pub config: LoraConfig,
}
