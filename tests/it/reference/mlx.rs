//! The checks of [`super`] for the MLX backend (cargo feature `mlx`): tiny random Qwen3 and
//! Qwen3.5 models built and saved by mlx-lm's own classes (dense and 4-bit, kept packed) give
//! mlx-lm's logits over more than one delta-rule chunk and its greedy tokens, and the loss and
//! LoRA gradients of one batch (MLX's `value_and_grad` through `model::mlx`) match mlx-lm's.

use std::sync::Mutex;

use vcurate::model::mlx::model::CausalLm;
use vcurate::model::mlx::to_host;
use vcurate::model::{LoraConfig, LoraTensors};

use super::{check_logits_and_greedy, check_lora_gradients, with_nonzero_b};

/// MLX work stays on one thread at a time.
static MLX: Mutex<()> = Mutex::new(());

/// Logits within 2e-4 of mlx-lm's (measured: Qwen3 ~2e-6, Qwen3.5 ~9e-5) and the same greedy
/// tokens. The bound is twice candle's because MLX's chunked delta rule rounds differently in
/// f32: on a tiny Qwen3.5 over 100 tokens, against candle in f64, candle f32 is 2.9e-5 off,
/// MLX f32 3.8e-5 (chunked) and 2.7e-5 (per-token); two f32 implementations may sit ~1e-4
/// apart.
#[test]
fn mlx_backend_logits_and_greedy_tokens_match_mlx_lm() {
    let _guard = MLX.lock().unwrap_or_else(|e| e.into_inner());
    check_logits_and_greedy(
        "mlx_backend_logits_and_greedy_tokens_match_mlx_lm",
        2e-4,
        |dir| {
            CausalLm::load(dir, &LoraConfig::default(), 0)
                .unwrap()
                .without_lora()
        },
        |model, ids| {
            let logits = model.forward(ids, (1, ids.len())).unwrap();
            to_host(&logits).unwrap().data
        },
    );
}

/// Loss and LoRA gradients (dense, and QLoRA through `quantized_matmul`) against mlx-lm's.
#[test]
fn mlx_backend_lora_loss_and_gradients_match_mlx_lm() {
    let _guard = MLX.lock().unwrap_or_else(|e| e.into_inner());
    check_lora_gradients(
        "mlx_backend_lora_loss_and_gradients_match_mlx_lm",
        |dir, lora, batch| {
            let mut model = CausalLm::load(dir, lora, 3).unwrap();
            let tensors = with_nonzero_b(model.lora_tensors().unwrap());
            model.set_lora_tensors(&tensors).unwrap();
            let rows = (batch.batch, batch.seq_len);
            let params = model.lora_params();
            let (nll, grads) = model
                .nll_value_and_grad(&params, &batch.tokens, &batch.loss_mask, rows, None)
                .unwrap();
            let count = batch.target_count() as f64;
            let loss = to_host(&nll).unwrap().data[0] as f64 / count;
            // Gradients of the summed NLL, per target token as the candle backend reports them.
            let per_token = |i: usize| {
                let mut g = to_host(&grads[i]).unwrap();
                g.data.iter_mut().for_each(|x| *x /= count as f32);
                g
            };
            let grads = model
                .lora_keys()
                .iter()
                .enumerate()
                .map(|(i, &key)| LoraTensors {
                    key,
                    a: per_token(2 * i),
                    b: per_token(2 * i + 1),
                })
                .collect();
            (tensors, loss, grads)
        },
    );
}
