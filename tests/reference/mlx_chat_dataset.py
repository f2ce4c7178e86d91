"""Loads a vcurate export folder with mlx-lm's own dataset loader and prints what it makes of
every line: one JSON object per line, {"split", "line", "tokens", "offset"}.

mlx-lm's `load_local_dataset` reads train/valid/test.jsonl, detects the format from the first
line, and its `ChatDataset.process` hands each row's `messages` and `tools` to the tokenizer's
chat template (transformers' `apply_chat_template`); with `mask_prompt` the offset is where the
last assistant turn starts. The tokenizer is the test's own `tokenizer.json` with the chat
template of its `tokenizer_config.json`.

usage: python mlx_chat_dataset.py EXPORT_DIR TOKENIZER_DIR
"""

import json
import sys
import types
from pathlib import Path

from mlx_lm.tuner.datasets import load_local_dataset
from transformers import PreTrainedTokenizerFast


def main() -> None:
    data_dir, tok_dir = Path(sys.argv[1]), Path(sys.argv[2])
    config = json.loads((tok_dir / "tokenizer_config.json").read_text())
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tok_dir / "tokenizer.json"),
        eos_token=config["eos_token"],
    )
    tokenizer.chat_template = config["chat_template"]
    args = types.SimpleNamespace(mask_prompt=True)
    splits = load_local_dataset(data_dir, tokenizer, args)
    for name, dataset in zip(("train", "valid", "test"), splits):
        for i in range(len(dataset)):
            tokens, offset = dataset.process(dataset[i])
            print(json.dumps({"split": name, "line": i, "tokens": list(tokens), "offset": offset}))


if __name__ == "__main__":
    main()
