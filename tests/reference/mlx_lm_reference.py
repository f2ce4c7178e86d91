"""The mlx-lm side of vcurate's model checks (tests/it/reference.rs runs it).

Builds tiny random models with mlx-lm's own model classes and saves them with its own save
functions, then answers what the Rust side compares against: logits over a token sequence,
greedy generation through mlx-lm's cache, and the loss and LoRA gradients of one batch.
Every command prints one JSON object on stdout.

  build  --arch qwen3|qwen3_5 --out DIR [--bits 4] [--tied] [--vocab N] [--seed S]
  run    --model DIR --tokens 1,2,3 [--adapter DIR] [--generate N] [--load]
  grads  --model DIR --adapter DIR --tokens ... --mask ... --out FILE.safetensors
"""

import argparse
import json
import sys
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_map_with_path, tree_unflatten

from mlx_lm.generate import generate_step
from mlx_lm.tuner.utils import load_adapters
from mlx_lm.utils import load, load_model, quantize_model, save_config, save_model


def tiny_config(arch, vocab, tied):
    if arch == "qwen3":
        return {
            "model_type": "qwen3",
            "vocab_size": vocab,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "rms_norm_eps": 1e-6,
            "rope_theta": 10000.0,
            "max_position_embeddings": 4096,
            "tie_word_embeddings": tied,
        }
    # Qwen3.5: layers 0-2 Gated DeltaNet, 3 and 7 full attention; 2 key heads serve 4 value
    # heads; RoPE on a quarter of each head, as the real models.
    text = {
        "model_type": "qwen3_5_text",
        "vocab_size": vocab,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 8,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "linear_num_value_heads": 4,
        "linear_num_key_heads": 2,
        "linear_key_head_dim": 16,
        "linear_value_head_dim": 16,
        "linear_conv_kernel_dim": 4,
        "full_attention_interval": 4,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": tied,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000000.0,
            "partial_rotary_factor": 0.25,
            "mrope_section": [1, 1, 0],
            "mrope_interleaved": True,
        },
    }
    return {"model_type": "qwen3_5", "tie_word_embeddings": tied, "text_config": text}


def model_classes(config):
    if config["model_type"] == "qwen3":
        from mlx_lm.models import qwen3 as arch
    else:
        from mlx_lm.models import qwen3_5 as arch
    return arch.Model, arch.ModelArgs


def build(args):
    mx.random.seed(args.seed)
    config = tiny_config(args.arch, args.vocab, args.tied)
    model_class, args_class = model_classes(config)
    model = model_class(args_class.from_dict(config))

    # Norm weights start at one and DeltaNet's dt_bias too; move them off so that a swapped or
    # unshifted one shows. Everything else keeps mlx's own initialisation.
    def perturb(path, x):
        if path.endswith("norm.weight") or path.endswith("dt_bias"):
            return x + 0.2 * mx.random.normal(x.shape)
        return x

    model.update(tree_map_with_path(perturb, model.parameters()))
    mx.eval(model.parameters())
    if args.bits:
        model, config = quantize_model(model, config, group_size=64, bits=args.bits)
    out = Path(args.out)
    save_model(out, model)
    save_config(config, out / "config.json")
    print(json.dumps({"out": str(out), "keys": len(tree_flatten(model.parameters()))}))


def parse_ids(s):
    return [int(x) for x in s.split(",") if x]


def run(args):
    if args.load:
        # The full user path: mlx_lm.load reads the tokenizer too.
        model, _ = load(args.model, adapter_path=args.adapter)
    else:
        model, _ = load_model(Path(args.model))
        if args.adapter:
            load_adapters(model, args.adapter)
    model.eval()
    tokens = parse_ids(args.tokens)
    result = {}
    if args.logits:
        logits = model(mx.array([tokens]))[0].astype(mx.float32)
        mx.eval(logits)
        result["logits"] = logits.tolist()
    if args.generate:
        out = []
        for tok, _ in generate_step(mx.array(tokens), model, max_tokens=args.generate):
            out.append(int(tok))
        result["generated"] = out
    print(json.dumps(result))


def grads(args):
    model, _ = load_model(Path(args.model))
    model.freeze()
    load_adapters(model, args.adapter)
    model.train()
    tokens = mx.array([parse_ids(args.tokens)])
    mask = mx.array([parse_ids(args.mask)], dtype=mx.float32)

    # mlx-lm's default_loss: cross-entropy of next-token targets under a mask, summed over the
    # masked targets and divided by their count. Target i + 1 counts when mask[i + 1] is set.
    def loss_fn(model):
        logits = model(tokens[:, :-1])
        ce = nn.losses.cross_entropy(logits, tokens[:, 1:]) * mask[:, 1:]
        return ce.astype(mx.float32).sum() / mask[:, 1:].sum()

    loss, g = nn.value_and_grad(model, loss_fn)(model)
    flat = {k: v for k, v in tree_flatten(g) if k.endswith("lora_a") or k.endswith("lora_b")}
    mx.save_safetensors(args.out, flat)
    print(json.dumps({"loss": loss.item(), "tensors": len(flat)}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--arch", choices=["qwen3", "qwen3_5"], required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--bits", type=int, default=0)
    b.add_argument("--tied", action="store_true")
    b.add_argument("--vocab", type=int, default=256)
    b.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--model", required=True)
    r.add_argument("--tokens", required=True)
    r.add_argument("--adapter")
    r.add_argument("--logits", action="store_true")
    r.add_argument("--generate", type=int, default=0)
    r.add_argument("--load", action="store_true")
    g = sub.add_parser("grads")
    g.add_argument("--model", required=True)
    g.add_argument("--adapter", required=True)
    g.add_argument("--tokens", required=True)
    g.add_argument("--mask", required=True)
    g.add_argument("--out", required=True)
    args = p.parse_args()
    {"build": build, "run": run, "grads": grads}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
