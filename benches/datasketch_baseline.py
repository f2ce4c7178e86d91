#!/usr/bin/env python3
"""Baseline for `vcurate bench dedup`: the same near-dedup job with Python datasketch.

Requirements (this script installs nothing itself):

    pip install datasketch        # tested with datasketch 2.0.0 (numpy, scipy)

Corpus: the JSONL written by `vcurate::bench::dedup::write_bench_corpus(path, n, seed)`
(`{"id", "text", "planted_from", "true_jaccard"}` per line), e.g. via the ignored test

    VCURATE_BENCH_N=100000 VCURATE_BENCH_CORPUS=/tmp/corpus.jsonl \
        cargo test --lib bench::dedup::tests::bench_dedup_full -- --ignored

Same parameters as the Rust side (`NearDupConfig::default()`): 5-token shingles of Luau tokens
(comments dropped), 256 permutations, Jaccard threshold 0.7, bands/rows chosen by datasketch's
own `_optimal_param` with weights (0.1 false positive, 0.9 false negative) -> (32, 8), candidates
from `MinHashLSH.query`, verified by true Jaccard of the shingle sets, clusters by union-find.
MinHash uses datasketch's defaults (sha1_hash32, affine32 permutations) and `MinHash.bulk`, its
fastest CPU path. Single process, single thread (datasketch has no parallel mode).

Timed: tokenize+shingle+MinHash, LSH insert, LSH query, verification. Not timed: reading JSONL.

    python3 benches/datasketch_baseline.py /tmp/corpus.jsonl --limit 20000 --out figures.json
"""

import argparse
import json
import re
import resource
import sys
import time

from datasketch import MinHash, MinHashLSH

# Mirrors src/luau/lex.rs closely enough for the generated corpus (which has no
# unterminated strings or comments): comments, whole strings, numbers, names, operators.
TOKEN_RE = re.compile(
    r"""
      --\[(?P<ceq>=*)\[.*?\](?P=ceq)\]          # long comment
    | --[^\n]*                                  # line comment
    | \[(?P<seq>=*)\[.*?\](?P=seq)\]            # long string
    | "(?:\\.|[^"\\\n])*"?                      # quoted strings
    | '(?:\\.|[^'\\\n])*'?
    | `(?:\\.|[^`\\])*`?                        # interpolated string (no nested backticks)
    | 0[xX][0-9A-Za-z_.]*                       # hex/binary
    | (?:\d|\.\d)(?:[eE][+-]|\w|\.(?!\.))*      # decimal
    | [A-Za-z_\u0080-\U0010ffff][\w\u0080-\U0010ffff]*
    | \.\.\.|\.\.=|//=|==|~=|<=|>=|//|\.\.|::|->|[-+*/%^]=
    | \S
    """,
    re.X | re.S,
)


def code_tokens(text):
    return [m.group(0) for m in TOKEN_RE.finditer(text) if not m.group(0).startswith("--")]


def shingles(text, k):
    toks = code_tokens(text)
    if not toks:
        return set()
    if len(toks) < k:
        return {"\x1f".join(toks).encode()}
    return {"\x1f".join(toks[i : i + k]).encode() for i in range(len(toks) - k + 1)}


def jaccard(a, b):
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class UnionFind:
    def __init__(self, n):
        self.p = list(range(n))

    def find(self, x):
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N documents")
    ap.add_argument("--num-perm", type=int, default=256)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--shingle-size", type=int, default=5)
    ap.add_argument("--fp-weight", type=float, default=0.1)
    ap.add_argument("--out", default=None, help="write figures JSON here (also printed)")
    args = ap.parse_args()

    rows = []
    with open(args.corpus, encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if args.limit and len(rows) >= args.limit:
                break
    texts = [r["text"] for r in rows]
    n = len(texts)
    k = args.shingle_size

    lsh = MinHashLSH(
        threshold=args.threshold,
        num_perm=args.num_perm,
        weights=(args.fp_weight, 1.0 - args.fp_weight),
    )

    t0 = time.perf_counter()
    minhashes = MinHash.bulk((shingles(t, k) for t in texts), num_perm=args.num_perm)
    t1 = time.perf_counter()
    with lsh.insertion_session() as session:
        for i, m in enumerate(minhashes):
            if not m.is_empty():
                session.insert(i, m)
    t2 = time.perf_counter()
    candidates = set()
    for i, m in enumerate(minhashes):
        if m.is_empty():
            continue
        for j in lsh.query(m):
            if j != i:
                candidates.add((min(i, j), max(i, j)))
    t3 = time.perf_counter()
    involved = sorted({x for c in candidates for x in c})
    sets = {i: shingles(texts[i], k) for i in involved}
    uf = UnionFind(n)
    pairs = 0
    for a, b in candidates:
        if jaccard(sets[a], sets[b]) >= args.threshold:
            uf.union(a, b)
            pairs += 1
    t4 = time.perf_counter()

    above = found = 0
    max_j_diff = 0.0
    for r in rows:
        base = r.get("planted_from")
        if base is None or base >= n:
            continue
        j_rust = r["true_jaccard"]
        # The two tokenizers must agree on this corpus, or the comparison is meaningless.
        j_py = jaccard(shingles(texts[base], k), shingles(r["text"], k))
        max_j_diff = max(max_j_diff, abs(j_py - j_rust))
        if j_rust >= args.threshold:
            above += 1
            found += uf.find(base) == uf.find(r["id"])

    total = t4 - t0
    figures = {
        "tool": "datasketch",
        "datasketch_version": __import__("datasketch").__version__,
        "python": sys.version.split()[0],
        "n_docs": n,
        "num_perm": args.num_perm,
        "threshold": args.threshold,
        "bands": lsh.b,
        "rows": lsh.r,
        "seconds_minhash": t1 - t0,
        "seconds_lsh_insert": t2 - t1,
        "seconds_lsh_query": t3 - t2,
        "seconds_verify": t4 - t3,
        "seconds": total,
        "docs_per_sec": n / total,
        "candidate_pairs": len(candidates),
        "verified_pairs": pairs,
        "planted_at_or_above_threshold": above,
        "planted_found": found,
        "recall": found / above if above else 1.0,
        "max_true_jaccard_diff_vs_rust": max_j_diff,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
