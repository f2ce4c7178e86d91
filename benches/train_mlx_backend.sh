#!/usr/bin/env bash
# vcurate's MLX training backend beside mlx-lm and beside vcurate's candle backend (issue 16):
# the Qwen3.5 shapes of benches/README-train.md, same token ids, LoRA and AdamW settings, on
# MLX's CPU backend with the same BLAS on both MLX sides (OpenBLAS: the SDK of tests/mlx-sdk
# links it; mlx-lm's wheel bundles netlib's reference BLAS, ~20x slower, so it runs with OpenBLAS
# preloaded). Writes benches/results/train-{vcurate-mlx,vcurate-candle,mlx-openblas}-<shape>*.json. Figures, not
# a test; keep runs short on a shared machine.
#
#   benches/train_mlx_backend.sh [tiny] [0.8b]      (default: both)
#
# Knobs: VCURATE (a vcurate binary built with --features mlx; default: cargo build it),
# PYTHON (default: tests/python-env), OUT_DIR, THREADS (default 2), TINY_STEPS (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT_DIR:-benches/results}"
threads="${THREADS:-2}"
tiny_steps="${TINY_STEPS:-10}"
python="${PYTHON:-$(tests/python-env)}"
mlx_env="$(tests/mlx-sdk)"
eval "$mlx_env"
if [[ -z "${VCURATE:-}" ]]; then
  cargo build --config "$VCURATE_MLX_CARGO_CONFIG" --locked --features mlx --bin vcurate >&2
  VCURATE="${CARGO_TARGET_DIR:-target}/debug/vcurate"
fi
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
export OPENBLAS_NUM_THREADS="$threads" RAYON_NUM_THREADS="$threads"
tokens="$(mktemp --suffix .json)"
python3 -c "import json; json.dump([(i * 7919 + 13) % 1000003 for i in range(4096)], open('$tokens', 'w'))"

vcurate() { # out-name device args...
  local name=$1 device=$2; shift 2
  echo "== vcurate --device $device $*" >&2
  "$VCURATE" bench train --device "$device" --tokens "$tokens" "$@" --out "$out/$name.json"
}
mlx_lm() { # out-name args...
  local name=$1; shift
  echo "== mlx-lm $*" >&2
  # The Python wheel's own libmlx, not the SDK's (LD_LIBRARY_PATH); OpenBLAS preloaded.
  env -u LD_LIBRARY_PATH LD_PRELOAD="$openblas/libblas.so.3:$openblas/liblapack.so.3" \
    "$python" benches/train_mlx.py --tokens "$tokens" "$@" --out "$out/$name.json" >/dev/null
}

for what in "${@:-tiny 0.8b}"; do
  for w in $what; do
    case "$w" in
      tiny)
        t=(--seq 256 --steps "$tiny_steps" --warmup 2)
        vcurate train-vcurate-mlx-qwen3.5-tiny mlx --config qwen3.5-tiny "${t[@]}"
        vcurate train-vcurate-candle-qwen3.5-tiny cpu --config qwen3.5-tiny "${t[@]}"
        mlx_lm train-mlx-openblas-qwen3.5-tiny --config qwen3.5-tiny "${t[@]}"
        vcurate train-vcurate-mlx-qwen3.5-tiny-qlora4 mlx --config qwen3.5-tiny "${t[@]}" --qlora-bits 4
        vcurate train-vcurate-candle-qwen3.5-tiny-qlora4 cpu --config qwen3.5-tiny "${t[@]}" --qlora-bits 4
        mlx_lm train-mlx-openblas-qwen3.5-tiny-qlora4 --config qwen3.5-tiny "${t[@]}" --bits 4
        ;;
      0.8b)
        b=(--config qwen3.5-0.8b --seq 256 --steps 1 --warmup 0)
        vcurate train-vcurate-mlx-qwen3.5-0.8b-qlora4-T256 mlx "${b[@]}" --qlora-bits 4 --lora-layers 6
        vcurate train-vcurate-candle-qwen3.5-0.8b-qlora4-T256 cpu "${b[@]}" --qlora-bits 4 --lora-layers 6
        mlx_lm train-mlx-openblas-qwen3.5-0.8b-qlora4-T256 "${b[@]}" --bits 4 --lora-layers 6
        ;;
      *) echo "unknown set $w (tiny, 0.8b)" >&2; exit 2 ;;
    esac
  done
done
rm -f "$tokens"
