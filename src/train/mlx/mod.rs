//! The MLX training backend (cargo feature `mlx`): trains LoRA adapters on a
//! [`crate::model::mlx::model::CausalLm`], the mirror of [`crate::train::candle`].
//!
//! The gradient comes from MLX's autograd: the model's `nll_value_and_grad` differentiates the
//! masked NLL sum with respect to the LoRA arrays (the only arguments; base weights are
//! constants). The loss gradient the trainer asks for is `loss_scale * d(nll)/d(theta)`;
//! micro-batches add up until the optimizer step, which clips to the global norm and applies
//! [`optim::AdamW`], the candle update op for op. Dropout masks are drawn on the host from
//! [`Batch::dropout_rng`], in the order the linears run, so MLX and candle draw the same masks
//! for the same seed, step and micro-batch.
//!
//! MLX arrays are lazy: every step evaluates what it keeps (accumulated gradients, parameters,
//! moments), so no graph outlives a step. MLX evaluates on the calling thread's default stream;
//! a backend is driven from one thread.

pub mod optim;

use mlx_rs::Array;

use crate::model::config::Architecture;
use crate::model::mlx::model::CausalLm;
use crate::model::mlx::{from_host, to_host};
use crate::model::{LoraConfig, LoraTensors, ModelError};
use crate::train::backend::{clip_factor, AdamWParams, Backend, Batch, OptimizerState, StepReport};
use crate::train::{Result, TrainError};

pub struct MlxBackend {
    pub model: CausalLm,
    lora_config: LoraConfig,
    /// `a, b` per adapter, in the model's `lora_keys` order (the model keeps a copy in sync,
    /// for generation and adapter files).
    params: Vec<Array>,
    /// The accumulated gradient of `params`, `None` until a micro-batch arrives.
    grads: Option<Vec<Array>>,
    optimizer: optim::AdamW,
    /// Seed of the dropout draws (see [`Batch::dropout_rng`]).
    seed: u64,
    micro_in_step: u64,
}

impl From<mlx_rs::error::Exception> for TrainError {
    fn from(e: mlx_rs::error::Exception) -> Self {
        TrainError::Model(ModelError::from(e))
    }
}

/// The value of an evaluated f32 scalar array.
fn scalar(a: &Array) -> Result<f64> {
    a.try_item_exact::<f32>()
        .map(f64::from)
        .map_err(|e| TrainError::Model(ModelError::Mlx(e.to_string())))
}

impl MlxBackend {
    /// Wrap a model whose adapters are attached. `seed` drives dropout.
    pub fn new(
        model: CausalLm,
        lora_config: LoraConfig,
        adamw: AdamWParams,
        seed: u64,
    ) -> Result<Self> {
        let params = model.lora_params();
        let optimizer = optim::AdamW::new(&params, adamw)?;
        Ok(Self {
            model,
            lora_config,
            params,
            grads: None,
            optimizer,
            seed,
            micro_in_step: 0,
        })
    }
}

impl Backend for MlxBackend {
    fn name(&self) -> String {
        if cfg!(target_os = "macos") {
            "mlx-metal".into()
        } else {
            "mlx-cpu".into()
        }
    }

    fn lora_config(&self) -> &LoraConfig {
        &self.lora_config
    }

    fn architecture(&self) -> Architecture {
        self.model.config.architecture()
    }

    fn accumulate(&mut self, batch: &Batch, loss_scale: f64) -> Result<f64> {
        batch.check(self.model.vocab_size())?;
        let mut rng = Batch::dropout_rng(self.seed, self.optimizer.step, self.micro_in_step);
        self.micro_in_step += 1;
        let (nll, grads) = self.model.nll_value_and_grad(
            &self.params,
            &batch.tokens,
            &batch.loss_mask,
            (batch.batch, batch.seq_len),
            Some(&mut rng),
        )?;
        let scale = Array::from_f32(loss_scale as f32);
        let grads = grads
            .iter()
            .map(|g| g.multiply(&scale))
            .collect::<mlx_rs::error::Result<Vec<_>>>()?;
        let grads = match self.grads.take() {
            Some(acc) => acc
                .iter()
                .zip(&grads)
                .map(|(a, g)| a.add(g))
                .collect::<mlx_rs::error::Result<Vec<_>>>()?,
            None => grads,
        };
        mlx_rs::transforms::eval(grads.iter().chain([&nll]))?;
        self.grads = Some(grads);
        scalar(&nll)
    }

    fn eval_loss(&mut self, batch: &Batch) -> Result<(f64, usize)> {
        batch.check(self.model.vocab_size())?;
        let nll = self.model.nll_sum(
            &self.params,
            &batch.tokens,
            &batch.loss_mask,
            (batch.batch, batch.seq_len),
        )?;
        Ok((scalar(&nll)?, batch.target_count()))
    }

    fn optimizer_step(&mut self, lr: f64, max_grad_norm: Option<f64>) -> Result<StepReport> {
        let grads = match self.grads.take() {
            Some(g) => g,
            None => self
                .params
                .iter()
                .map(mlx_rs::ops::zeros_like)
                .collect::<mlx_rs::error::Result<_>>()?,
        };
        // Per-tensor sums of squares in f32 (one evaluation), added in f64: candle's order.
        let sums = grads
            .iter()
            .map(|g| g.square()?.sum(None))
            .collect::<mlx_rs::error::Result<Vec<_>>>()?;
        let sums = to_host(&mlx_rs::ops::stack(&sums, 0)?)?;
        let grad_norm = sums.data.iter().map(|&s| f64::from(s)).sum::<f64>().sqrt();
        let clip = clip_factor(grad_norm, max_grad_norm);
        let grads = match clip {
            Some(f) => {
                let f = Array::from_f32(f as f32);
                grads
                    .iter()
                    .map(|g| g.multiply(&f))
                    .collect::<mlx_rs::error::Result<Vec<_>>>()?
            }
            None => grads,
        };
        self.params = self.optimizer.step(&self.params, &grads, lr)?;
        self.model.set_lora_params(self.params.clone())?;
        self.micro_in_step = 0;
        Ok(StepReport {
            grad_norm,
            clipped: clip.is_some(),
        })
    }

    fn lora_grads(&self) -> Result<Vec<LoraTensors>> {
        let keys = self.model.lora_keys();
        let mut out = Vec::with_capacity(keys.len());
        for (i, &key) in keys.iter().enumerate() {
            let get = |j: usize| -> Result<_> {
                Ok(match &self.grads {
                    Some(g) => to_host(&g[j])?,
                    None => to_host(&mlx_rs::ops::zeros_like(&self.params[j])?)?,
                })
            };
            out.push(LoraTensors {
                key,
                a: get(2 * i)?,
                b: get(2 * i + 1)?,
            });
        }
        Ok(out)
    }

    fn lora_tensors(&self) -> Result<Vec<LoraTensors>> {
        Ok(self.model.lora_tensors()?)
    }

    fn set_lora_tensors(&mut self, tensors: &[LoraTensors]) -> Result<()> {
        self.model.set_lora_tensors(tensors)?;
        self.params = self.model.lora_params();
        Ok(())
    }

    fn optimizer_state(&self) -> Result<OptimizerState> {
        let host = |a: &[Array]| a.iter().map(|x| Ok(to_host(x)?)).collect::<Result<_>>();
        Ok(OptimizerState {
            step: self.optimizer.step,
            first_moment: host(&self.optimizer.m)?,
            second_moment: host(&self.optimizer.v)?,
        })
    }

    fn set_optimizer_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_len(self.params.len())?;
        for (i, p) in self.params.iter().enumerate() {
            for (h, slot) in [
                (&state.first_moment[i], &mut self.optimizer.m[i]),
                (&state.second_moment[i], &mut self.optimizer.v[i]),
            ] {
                let a = from_host(h)?;
                if a.shape() != p.shape() {
                    return Err(TrainError::Config(format!(
                        "optimizer state tensor {i} has shape {:?}, the LoRA tensor {:?}",
                        h.shape,
                        p.shape()
                    )));
                }
                *slot = a;
            }
        }
        self.optimizer.step = state.step;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
