//! Test fixtures: real git repositories built with git2, workspaces, and the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git2::{Oid, Repository};

pub use vcurate::ingest::git::TreeContent as Entry;

pub fn file(s: &str) -> Entry {
    Entry::File(s.as_bytes().to_vec())
}

/// A git repository on disk that tests commit trees into.
pub struct TestRepo {
    pub repo: Repository,
}

impl TestRepo {
    pub fn init(path: &Path) -> TestRepo {
        let repo = Repository::init(path).unwrap();
        TestRepo { repo }
    }

    /// Commits exactly `files` as the whole tree on `refs/heads/main`; returns the commit.
    pub fn commit(&self, message: &str, files: &[(&str, Entry)]) -> Oid {
        let files: Vec<(String, Entry)> = files
            .iter()
            .map(|(p, e)| (p.to_string(), e.clone()))
            .collect();
        vcurate::ingest::git::commit_files(&self.repo, "main", message, 1_700_000_000, &files)
            .unwrap()
    }

    pub fn tag(&self, name: &str, commit: Oid) {
        let obj = self.repo.find_object(commit, None).unwrap();
        self.repo.tag_lightweight(name, &obj, true).unwrap();
    }

    /// Deletes the loose object file of a blob, as a damaged clone would lack it.
    pub fn delete_object(&self, oid: Oid) {
        let hex = oid.to_string();
        let p = self
            .repo
            .path()
            .join("objects")
            .join(&hex[..2])
            .join(&hex[2..]);
        std::fs::remove_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }

    pub fn blob_id(bytes: &[u8]) -> Oid {
        Oid::hash_object(git2::ObjectType::Blob, bytes).unwrap()
    }
}

/// A fresh workspace in a temp dir.
pub fn workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    vcurate::scaffold::init_workspace(&ws).unwrap();
    ws
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Runs the real binary in `dir` with a pinned ingest time.
pub fn vcurate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vcurate"))
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A tiny random Qwen3 (2 layers, hidden 32) in `dir`, with a byte-level BPE tokenizer of
/// `tokenizer_vocab` ids trained on `corpus` and a ChatML chat template (EOS `<|im_end|>`). No
/// model hub is reachable from tests, so they build their own. The model's vocabulary has 20
/// ids more than the tokenizer's.
pub fn tiny_model(dir: &Path, corpus: &[&str], tokenizer_vocab: usize) {
    tiny_model_with(
        dir,
        &vcurate::model::chat::TokenizerSpec {
            corpus,
            vocab_size: tokenizer_vocab,
            template: vcurate::model::chat::CHATML_TEMPLATE,
            added: &[],
        },
    );
}

/// [`tiny_model`] with the tokenizer `spec` describes (its chat template, added tokens); the
/// model's vocabulary has 20 ids more than the tokenizer's BPE vocabulary plus added tokens.
pub fn tiny_model_with(dir: &Path, spec: &vcurate::model::chat::TokenizerSpec) {
    vcurate::model::chat::write_tokenizer(dir, spec).unwrap();
    let config: vcurate::model::qwen3::Qwen3Config = serde_json::from_value(serde_json::json!({
        "model_type": "qwen3", "vocab_size": spec.vocab_size + spec.added.len() + 20,
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6, "tie_word_embeddings": false
    }))
    .unwrap();
    vcurate::model::candle::weights::write_random_checkpoint(
        dir,
        &config,
        7,
        candle_core::DType::F32,
    )
    .unwrap();
}

/// Validates `value` against a JSON Schema from `schemas/` (the subset our generated schemas
/// use: `$ref` to `#/$defs`, `anyOf`, `type` (one or several), `properties`, `required`,
/// `additionalProperties: false`, `items`, `enum`). Returns the first violation with its path.
pub fn validate(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/$defs/")
            .ok_or_else(|| format!("{at}: unsupported $ref {r}"))?;
        return validate(root, &root["$defs"][name], value, at);
    }
    // `Option<Struct>` is `anyOf: [{$ref}, {type: null}]`: one branch must hold.
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let errors: Vec<String> = branches
            .iter()
            .filter_map(|b| validate(root, b, value, at).err())
            .collect();
        if errors.len() == branches.len() {
            return Err(format!("{at}: matches no anyOf branch: {errors:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"))
        {
            return Err(format!("{at}: expected {types:?}, got {actual}"));
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            return Err(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    if let (Some(props), Some(obj)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(r) {
                return Err(format!("{at}: missing required `{r}`"));
            }
        }
        for (k, v) in obj {
            match props.get(k) {
                Some(s) => validate(root, s, v, &format!("{at}.{k}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: unexpected key `{k}`"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(root, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Loads `schemas/<name>`.
pub fn schema(name: &str) -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// The Python interpreter of the reference environment (`tests/python-env`: mlx-lm on MLX's CPU
/// build), from `VCURATE_PYTHON`, which `tests/run` sets. None (with a note on stderr) when it
/// is unset or empty: the caller skips its comparison. A set path that does not run is a
/// failure, so CI cannot skip silently.
pub fn reference_python(test: &str) -> Option<std::path::PathBuf> {
    let Some(p) = std::env::var_os("VCURATE_PYTHON").filter(|p| !p.is_empty()) else {
        eprintln!("{test}: skipped, VCURATE_PYTHON is not set (run the tests with tests/run, which prepares mlx-lm with tests/python-env)");
        return None;
    };
    let p = std::path::PathBuf::from(p);
    let ok = python_command(&p)
        .args(["-c", "import mlx.core, mlx_lm"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "VCURATE_PYTHON={} cannot import mlx and mlx_lm; rerun tests/python-env",
        p.display()
    );
    Some(p)
}

/// A command running the reference `python`. Under the MLX SDK's environment (`eval "$(tests/mlx-sdk)"`,
/// for `--features mlx`) `LD_LIBRARY_PATH` leads to the SDK's libmlx, which would shadow the
/// one the Python wheel was built with (another MLX release): the SDK's folders are dropped
/// from it here.
pub fn python_command(python: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(python);
    if let (Some(sdk), Some(paths)) = (
        std::env::var_os("MLX_SDK_DIR"),
        std::env::var_os("LD_LIBRARY_PATH"),
    ) {
        let kept: Vec<_> = std::env::split_paths(&paths)
            .filter(|p| !p.starts_with(&sdk))
            .collect();
        c.env("LD_LIBRARY_PATH", std::env::join_paths(kept).unwrap());
    }
    c
}

/// Three lines of Roblox-flavoured text the tests' tiny tokenizers are trained on.
pub const CORPUS: [&str; 3] = [
    "local Players = game:GetService(\"Players\")",
    "function M.new() return setmetatable({}, M) end",
    "How do I use a RemoteEvent in Roblox?",
];

/// `vcurate quickstart demo --no-train` in `dir`: the workspace and the id of its snapshot.
pub fn quickstart_snapshot(dir: &Path) -> (std::path::PathBuf, String) {
    let out = vcurate(dir, &["quickstart", "demo", "--no-train"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ws = dir.join("demo");
    let listed: serde_json::Value =
        serde_json::from_slice(&vcurate(&ws, &["snapshot", "list", "--json"]).stdout).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_string();
    (ws, id)
}

/// `vcurate train --snapshot ID --config CONFIG --json` in `ws`; asserts success and returns the
/// report.
pub fn train_snapshot(ws: &Path, id: &str, config: &Path) -> serde_json::Value {
    let config = config.to_str().expect("a UTF-8 path");
    let out = vcurate(
        ws,
        &["train", "--snapshot", id, "--config", config, "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("train --json prints its report")
}
