#!/usr/bin/env python3
"""PyTorch + PEFT side of the LoRA training benchmark (the other side is `vcurate bench train`).

Builds a randomly initialised float32 transformers `Qwen3ForCausalLM` with the shapes below,
wraps it with a PEFT LoRA adapter, and times optimizer steps on CPU. One config per process, so
that ru_maxrss is this config's own peak.

Shapes: `qwen3-0.6b` is Qwen/Qwen3-0.6B's config.json (hidden 1024, intermediate 3072, 28
layers, 16 heads, 8 KV heads, head_dim 128, vocab 151936, tied embeddings, rope_theta 1e6,
rms_norm_eps 1e-6; the file as published, e.g. mirrored at
huggingface.co/TensorStack/TextEncoder/blob/main/Qwen-3-06B/config.json); `tiny` is the same
architecture scaled down. Weights are random (seed 0): the work per step does not depend on them.

LoRA: r 8, alpha 16, dropout 0, on q/k/v/o/gate/up/down of every layer (PEFT's standard init:
A Kaiming-uniform, B zero). AdamW lr 1e-4, weight decay 0.01, over the LoRA parameters only.
Input: ids from `--tokens` (a JSON list of ints, see benches/make_tokens.py) taken cyclically to
fill batch x seq (modulo the vocabulary for `tiny`); labels = input ids, i.e. the usual causal-LM
loss that transformers computes (shifted inside the model: seq-1 predicted positions per row).
tokens/s counts batch*seq per step. Timed: forward + backward + optimizer step + zero_grad for
`--steps` steps after `--warmup` untimed steps.

    python benches/train_torch.py --config tiny --tokens ~/.cache/vcurate-bench/qwen3-tokens.json \
        --batch 1 --seq 256 --steps 3 --warmup 1 --threads 2 --out tiny.json
"""

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import Qwen3Config, Qwen3ForCausalLM

SHAPES = {
    "tiny": dict(
        vocab_size=1024,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        tie_word_embeddings=True,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
    ),
    "qwen3-0.6b": dict(
        vocab_size=151936,
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        tie_word_embeddings=True,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
    ),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LORA_R, LORA_ALPHA = 8, 16
LR, WEIGHT_DECAY = 1e-4, 0.01


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_config(name: str, attn: str) -> Qwen3Config:
    shapes = dict(SHAPES[name])
    rope_theta = shapes.pop("rope_theta")
    cfg = Qwen3Config(
        **shapes,
        max_position_embeddings=40960,
        attention_bias=False,
        hidden_act="silu",
        use_cache=False,
        rope_parameters={"rope_type": "default", "rope_theta": rope_theta},
    )
    cfg._attn_implementation = attn
    # Fail loudly if this transformers version stored a shape differently from what we asked.
    got_theta = (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta")
    if got_theta != rope_theta:
        sys.exit(f"rope_theta not applied (config has {got_theta}); check the transformers API")
    for key, want in shapes.items():
        if getattr(cfg, key) != want:
            sys.exit(f"config {key} = {getattr(cfg, key)}, expected {want}")
    return cfg


def input_batch(tokens_path: Path, vocab: int, batch: int, seq: int) -> torch.Tensor:
    ids = json.loads(tokens_path.read_text(encoding="utf-8"))
    if not ids or not all(isinstance(i, int) and i >= 0 for i in ids):
        sys.exit(f"{tokens_path}: expected a non-empty JSON list of non-negative ints")
    need = batch * seq
    flat = [ids[i % len(ids)] % vocab for i in range(need)]
    return torch.tensor(flat, dtype=torch.long).view(batch, seq)


def main() -> None:
    ap = argparse.ArgumentParser(description="PyTorch+PEFT LoRA training throughput on CPU")
    ap.add_argument("--config", choices=sorted(SHAPES), required=True)
    ap.add_argument("--tokens", type=Path, required=True, help="JSON list of token ids")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--attn", choices=["eager", "sdpa"], default="eager")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if min(args.batch, args.seq, args.steps, args.threads) < 1 or args.warmup < 0:
        sys.exit("batch, seq, steps and threads must be >= 1, warmup >= 0")

    load_start = loadavg()
    rss_after_import = peak_rss_mb()  # torch + transformers + peft loaded, nothing built yet
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = build_config(args.config, args.attn)
    t0 = time.perf_counter()
    model = Qwen3ForCausalLM(cfg).to(torch.float32)
    model.config.use_cache = False
    lora = LoraConfig(
        r=LORA_R,
        lora_alpha=LORA_ALPHA,
        lora_dropout=0.0,
        target_modules=TARGETS,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    build_seconds = time.perf_counter() - t0
    model.train()
    attn_used = model.base_model.model.config._attn_implementation
    if attn_used != args.attn:
        sys.exit(f"asked for {args.attn} attention, model uses {attn_used}")

    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    n_total = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(trainable, lr=LR, weight_decay=WEIGHT_DECAY)
    x = input_batch(args.tokens, cfg.vocab_size, args.batch, args.seq)
    rss_after_build = peak_rss_mb()

    losses, step_seconds = [], []
    for step in range(args.warmup + args.steps):
        s0 = time.perf_counter()
        out = model(input_ids=x, labels=x)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - s0
        losses.append(float(out.loss.detach()))
        if step >= args.warmup:
            step_seconds.append(dt)
        print(f"[{args.config}/{args.attn}] step {step + 1}/{args.warmup + args.steps}"
              f"{' (warmup)' if step < args.warmup else ''}: loss {losses[-1]:.4f}, {dt:.2f} s",
              file=sys.stderr, flush=True)

    total = sum(step_seconds)
    median_step = sorted(step_seconds)[len(step_seconds) // 2]
    result = {
        "tool": "pytorch+peft",
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "python": platform.python_version(),
        },
        "config": args.config,
        "shapes": SHAPES[args.config],
        "batch": args.batch,
        "seq": args.seq,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": args.threads,
        "step_seconds": step_seconds,
        "tokens_per_s": args.batch * args.seq * args.steps / total,
        "tokens_per_s_median_step": args.batch * args.seq / median_step,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "trainable_params": n_trainable,
        "attn": args.attn,
        "total_params": n_total,
        "losses": losses,
        "build_seconds": round(build_seconds, 3),
        "rss_after_import_mb": round(rss_after_import, 1),
        "rss_after_build_mb": round(rss_after_build, 1),
        "lora": {"r": LORA_R, "alpha": LORA_ALPHA, "dropout": 0.0, "targets": TARGETS},
        "optimizer": {"name": "torch.optim.AdamW", "lr": LR, "weight_decay": WEIGHT_DECAY},
        "dtype": "float32",
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "tokens_file": str(args.tokens),
        "note": f"loadavg at start: {load_start}; at end: {loadavg()}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{args.config}/{args.attn}: {result['tokens_per_s']:.1f} tokens/s, "
          f"peak RSS {result['peak_rss_mb']:.0f} MB, trainable {n_trainable} -> {args.out}")


if __name__ == "__main__":
    main()
