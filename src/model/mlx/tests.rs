//! The MLX backend against the candle backend on the same inputs: MLX's ops and autograd first,
//! then the Qwen3 forward on a tiny random model (with LoRA).

use std::collections::HashMap;
use std::sync::Mutex;

use candle_core::{DType, Device, Tensor, Var};
use mlx_rs::Array;

use super::qwen3::Qwen3 as MlxQwen3;
use super::{from_host, to_host};
use crate::core::hash::SplitMix64;
use crate::model::candle::qwen3::Qwen3 as CandleQwen3;
use crate::model::candle::weights::{load_checkpoint_tensors, write_random_checkpoint};
use crate::model::qwen3::tiny_config;
use crate::model::{candle, HostTensor, LoraConfig, LoraTensors, TargetModule};

/// MLX evaluates on a per-thread default stream; the tests take turns rather than rely on
/// MLX's thread safety across test threads.
static MLX: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    MLX.lock().unwrap_or_else(|e| e.into_inner())
}

fn random(shape: &[usize], seed: u64) -> HostTensor {
    let mut rng = SplitMix64::new(seed);
    let n = shape.iter().product();
    HostTensor::new(
        shape.to_vec(),
        (0..n).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect(),
    )
}

fn max_abs_diff(a: &HostTensor, b: &HostTensor) -> f32 {
    assert_eq!(a.shape, b.shape);
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn candle_tensor(h: &HostTensor) -> Tensor {
    Tensor::from_vec(h.data.clone(), h.shape.as_slice(), &Device::Cpu).unwrap()
}

/// `loss(W) = sum((X W^T)^2) / 2 + sum(silu(X W^T))`: a matmul, elementwise ops and a
/// reduction; MLX's value and gradient (value_and_grad) against candle's backward.
#[test]
fn mlx_matmul_and_value_and_grad_match_candle() {
    let _guard = lock();
    let x = random(&[5, 7], 1);
    let w = random(&[3, 7], 2);

    // Plain matmul.
    let y_mlx = to_host(
        &from_host(&x)
            .unwrap()
            .matmul(from_host(&w).unwrap().t())
            .unwrap(),
    )
    .unwrap();
    let y_candle = candle::to_host(
        &candle_tensor(&x)
            .matmul(&candle_tensor(&w).t().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        max_abs_diff(&y_mlx, &y_candle) < 1e-5,
        "{y_mlx:?} vs {y_candle:?}"
    );

    // Value and gradient with respect to W.
    let xa = from_host(&x).unwrap();
    let loss_mlx = |args: &[Array]| -> mlx_rs::error::Result<Vec<Array>> {
        let y = xa.matmul(args[0].t())?;
        let quad = y.square()?.sum(None)?.multiply(Array::from_f32(0.5))?;
        let act = mlx_rs::nn::silu(&y)?.sum(None)?;
        Ok(vec![quad.add(act)?])
    };
    let (value, grads) =
        mlx_rs::transforms::value_and_grad(loss_mlx)(&[from_host(&w).unwrap()]).unwrap();
    let value_mlx = to_host(&value[0]).unwrap().data[0];
    let grad_mlx = to_host(&grads[0]).unwrap();

    let wv = Var::from_tensor(&candle_tensor(&w)).unwrap();
    let y = candle_tensor(&x)
        .matmul(&wv.as_tensor().t().unwrap())
        .unwrap();
    let loss = ((y.sqr().unwrap().sum_all().unwrap() * 0.5).unwrap()
        + y.silu().unwrap().sum_all().unwrap())
    .unwrap();
    let grad_candle =
        candle::to_host(loss.backward().unwrap().get(wv.as_tensor()).unwrap()).unwrap();
    let value_candle = loss.to_scalar::<f32>().unwrap();

    assert!(
        (value_mlx - value_candle).abs() < 1e-4 * value_candle.abs().max(1.0),
        "loss: MLX {value_mlx} vs candle {value_candle}"
    );
    assert!(
        max_abs_diff(&grad_mlx, &grad_candle) < 1e-4,
        "dloss/dW: MLX {grad_mlx:?} vs candle {grad_candle:?}"
    );
    assert!(
        grad_mlx.sum_sq() > 1e-3,
        "the gradient is not trivially zero"
    );
}

/// A tiny random Qwen3 (untied and tied embeddings) with LoRA on every projection and non-zero
/// B matrices: the MLX forward's logits equal candle's within f32 rounding.
#[test]
fn mlx_qwen3_logits_match_candle_with_lora() {
    let _guard = lock();
    for tied in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let config = tiny_config(tied);
        write_random_checkpoint(dir.path(), &config, 11, DType::F32).unwrap();
        let lora = LoraConfig {
            rank: 4,
            alpha: 8.0,
            dropout: 0.0,
            targets: TargetModule::ALL.to_vec(),
            num_layers: None,
        };
        let mut candle_model = CandleQwen3::load(dir.path(), &lora, 5, &Device::Cpu).unwrap();
        let host: HashMap<String, HostTensor> =
            load_checkpoint_tensors(dir.path(), DType::F32, &Device::Cpu)
                .unwrap()
                .into_iter()
                .map(|(k, t)| (k, candle::to_host(&t).unwrap()))
                .collect();
        let mut mlx_model =
            MlxQwen3::from_host(config.clone(), host, &lora, 5, dir.path()).unwrap();

        // Same seed, same initial adapters.
        let initial = candle_model.lora_tensors().unwrap();
        assert_eq!(mlx_model.lora_tensors().unwrap(), initial);

        // Non-zero B everywhere, so every adapter shows in the logits.
        let trained: Vec<LoraTensors> = initial
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut b = random(&t.b.shape, 100 + i as u64);
                b.data.iter_mut().for_each(|v| *v *= 0.2);
                LoraTensors { b, ..t.clone() }
            })
            .collect();
        for (key, layer) in &mut candle_model.lora {
            let t = trained.iter().find(|t| t.key == *key).unwrap();
            layer
                .b
                .set(&candle::from_host(&t.b, layer.b.as_tensor()).unwrap())
                .unwrap();
        }
        mlx_model.set_lora_tensors(&trained).unwrap();

        let (batch, seq) = (2, 9);
        let tokens: Vec<u32> = (0..batch * seq).map(|i| (i * 7 % 64) as u32).collect();
        let input = Tensor::from_vec(tokens.clone(), (batch, seq), &Device::Cpu).unwrap();
        let want = candle::to_host(
            &candle_model
                .forward(&input, &mut candle::qwen3::ForwardCtx { rng: None })
                .unwrap(),
        )
        .unwrap();
        let got = to_host(&mlx_model.forward(&tokens, (batch, seq)).unwrap()).unwrap();
        assert_eq!(got.shape, vec![batch, seq, config.vocab_size]);
        let diff = max_abs_diff(&got, &want);
        assert!(diff < 1e-4, "tied={tied}: logits differ by {diff}");

        // And the adapters matter: without them the logits move.
        let base = MlxQwen3::from_host(
            config.clone(),
            load_checkpoint_tensors(dir.path(), DType::F32, &Device::Cpu)
                .unwrap()
                .into_iter()
                .map(|(k, t)| (k, candle::to_host(&t).unwrap()))
                .collect(),
            &lora,
            5,
            dir.path(),
        )
        .unwrap();
        let plain = to_host(&base.forward(&tokens, (batch, seq)).unwrap()).unwrap();
        assert!(
            max_abs_diff(&plain, &got) > 1e-3,
            "tied={tied}: LoRA had no effect"
        );
    }
}
