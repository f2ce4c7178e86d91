#!/usr/bin/env bash
# `vcurate ingest` and the whole `vcurate audit` as the corpus grows, each in its own process
# (peak RSS is per process):
# - ingest: the corpus written as Luau files in four local source folders, then `vcurate
#   ingest` (benches/results/vcurate-scale-<N>-ingest.json);
# - audit: the same generated corpus written straight into a store, then the in-memory path
#   (the whole corpus in one Vec<Document>; only up to 100k documents) beside the sharded
#   stages with 1 and 2 workers (vcurate-scale-<N>-<mode>-w<workers>.json); then a check that
#   every mode of a size excluded the same documents and assigned the same splits.
# Usage: benches/scale.sh [VCURATE_BINARY] [DOCS...]   (default: 100000 1000000)
set -euo pipefail
bin=${1:-vcurate}; shift || true
sizes=("${@:-100000 1000000}")
out=$(cd "$(dirname "$0")" && pwd)/results
for n in ${sizes[@]}; do
  label=$(( n >= 1000000 ? n / 1000000 : n / 1000 ))$([ "$n" -ge 1000000 ] && echo m || echo k)
  dir=$(mktemp -d)
  "$bin" bench scale-generate --dir "$dir" --docs "$n" --shards 4 --files >/dev/null
  "$bin" bench scale --dir "$dir" --mode ingest --out "$out/vcurate-scale-$label-ingest.json" >/dev/null
  rm -rf "$dir"
  dir=$(mktemp -d)
  # Four sources: at 1M each holds 250k documents and is cut into several shards.
  "$bin" bench scale-generate --dir "$dir" --docs "$n" --shards 4 >/dev/null
  runs=("sharded 1" "sharded 2")
  (( n <= 100000 )) && runs=("in-memory 1" "${runs[@]}")
  files=()
  for run in "${runs[@]}"; do
    set -- $run
    f="$out/vcurate-scale-$label-$1-w$2.json"
    "$bin" bench scale --dir "$dir" --mode "$1" --workers "$2" --out "$f" >/dev/null
    files+=("$f")
  done
  python3 - "${files[@]}" <<'PY'
import json, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
first = runs[0]["digests"]
for f, r in zip(sys.argv[1:], runs):
    if r["digests"] != first:
        sys.exit(f"{f}: excluded sets or splits differ from {sys.argv[1]}")
print(f"{len(runs)} runs: same excluded sets and splits")
PY
  rm -rf "$dir"
done
