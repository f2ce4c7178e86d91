#!/usr/bin/env bash
# Exact + near dedup as the corpus grows: the in-memory path (the whole corpus in one
# Vec<Document>) beside the sharded stages, each mode in its own process (peak RSS is per
# process). Writes benches/results/vcurate-scale-<N>-<mode>-w<workers>.json.
# Usage: benches/scale.sh [VCURATE_BINARY] [DOCS...]   (default: 100000 1000000)
set -euo pipefail
bin=${1:-vcurate}; shift || true
sizes=("${@:-100000 1000000}")
out=$(cd "$(dirname "$0")" && pwd)/results
for n in ${sizes[@]}; do
  dir=$(mktemp -d)
  shards=$(( n / 15625 )); (( shards < 4 )) && shards=4
  "$bin" bench scale-generate --dir "$dir" --docs "$n" --shards "$shards" >/dev/null
  label=$(( n >= 1000000 ? n / 1000000 : n / 1000 ))$([ "$n" -ge 1000000 ] && echo m || echo k)
  for run in "in-memory 1" "sharded 1" "sharded 2"; do
    set -- $run
    "$bin" bench scale --dir "$dir" --mode "$1" --workers "$2" \
      --out "$out/vcurate-scale-$label-$1-w$2.json" >/dev/null
  done
  rm -rf "$dir"
done
