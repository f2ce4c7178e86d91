"""mlx-lm's side of the Qwen3.5 LoRA training benchmark (vcurate's is `vcurate bench train`).

Same shapes (benches/README-train.md), same token ids (a JSON list, cyclically into batch x seq,
modulo the vocabulary), LoRA rank 8 / scale 2 (alpha 16) on every linear of the last N layers
(mlx-lm's `linear_to_lora_layers` with the keys of both layer kinds), AdamW lr 1e-4, weight decay
0.01, loss on every position (mlx-lm's `default_loss` shape). Random weights from mlx-lm's own
initialisation, float32, optionally quantized to 4 bits (group 64) like an mlx-community
checkpoint. Writes one JSON object of figures. Not a test: figures, not assertions.

  python benches/train_mlx.py --config qwen3.5-tiny --tokens ids.json --seq 256 --steps 20 \
      --warmup 2 [--bits 4] [--lora-layers 6] --out FILE.json
"""

import argparse
import json
import resource
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten

import mlx_lm
from mlx_lm.models import qwen3_5
from mlx_lm.tuner.utils import linear_to_lora_layers
from mlx_lm.utils import quantize_model

SHAPES = {
    # vocab, hidden, intermediate, layers, heads, kv heads, head_dim, linear k heads, v heads, dim
    "qwen3.5-tiny": (1024, 64, 128, 4, 4, 2, 16, 2, 4, 16),
    "qwen3.5-0.8b": (248320, 1024, 3584, 24, 8, 2, 256, 16, 16, 128),
}

KEYS = [
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "linear_attn.in_proj_qkv", "linear_attn.in_proj_z", "linear_attn.in_proj_a",
    "linear_attn.in_proj_b", "linear_attn.out_proj",
    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True, choices=sorted(SHAPES))
    p.add_argument("--tokens", required=True)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--bits", type=int, default=0)
    p.add_argument("--lora-layers", type=int, default=0)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    vocab, hidden, inter, layers, heads, kv, hd, lk, lv, ld = SHAPES[a.config]
    text = {
        "model_type": "qwen3_5_text", "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
        "num_key_value_heads": kv, "head_dim": hd, "linear_num_key_heads": lk,
        "linear_num_value_heads": lv, "linear_key_head_dim": ld, "linear_value_head_dim": ld,
        "linear_conv_kernel_dim": 4, "full_attention_interval": 4, "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True, "max_position_embeddings": 262144,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e7,
                            "partial_rotary_factor": 0.25},
    }
    config = {"model_type": "qwen3_5", "text_config": text, "tie_word_embeddings": True}
    mx.random.seed(0)
    model = qwen3_5.Model(qwen3_5.ModelArgs.from_dict(config))
    mx.eval(model.parameters())
    if a.bits:
        model, config = quantize_model(model, config, group_size=64, bits=a.bits)
    model.freeze()
    n_layers = a.lora_layers or layers
    linear_to_lora_layers(model, n_layers, {"rank": 8, "scale": 2.0, "dropout": 0.0, "keys": KEYS})
    model.train()
    trainable = sum(v.size for _, v in tree_flatten(model.trainable_parameters()))
    ids = json.load(open(a.tokens))
    n = a.batch * a.seq
    batch = mx.array([ids[i % len(ids)] % vocab for i in range(n)]).reshape(a.batch, a.seq)

    def loss_fn(model):
        logits = model(batch[:, :-1])
        ce = nn.losses.cross_entropy(logits, batch[:, 1:])
        return ce.astype(mx.float32).mean()

    opt = optim.AdamW(learning_rate=1e-4, weight_decay=0.01)
    step_fn = nn.value_and_grad(model, loss_fn)
    mx.reset_peak_memory()
    losses, secs = [], []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss, grads = step_fn(model)
        opt.update(model, grads)
        mx.eval(loss, model.trainable_parameters(), opt.state)
        dt = time.perf_counter() - t0
        losses.append(loss.item())
        if step >= a.warmup:
            secs.append(dt)
    med = sorted(secs)[len(secs) // 2]
    figures = {
        "tool": f"mlx-lm {mlx_lm.__version__} (mlx {mx.__version__}, {mx.default_device()})",
        "config": a.config, "qlora_bits": a.bits or None, "batch": a.batch, "seq": a.seq,
        "steps": a.steps, "warmup": a.warmup, "lora_layers": n_layers,
        "step_seconds": secs, "tokens_per_s": n * len(secs) / sum(secs),
        "tokens_per_s_median_step": n / med,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "mlx_peak_memory_mb": round(mx.get_peak_memory() / 2**20, 1),
        "trainable_params": trainable, "losses": losses,
        "note": "peak_rss_mb includes building the random model (dense f32 before quantizing); "
                "mlx_peak_memory_mb is MLX's allocator peak over the training steps only",
    }
    with open(a.out, "w") as f:
        json.dump(figures, f, indent=2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
