//! The candle training backend: trains LoRA adapters on a [`crate::model::candle::model::CausalLm`]
//! (CPU; CUDA/Metal behind cargo features).
//!
//! Owns the model, the LoRA `Var`s (registered in a `candle_nn::VarMap` under their
//! `model.layers.N.<module>.lora_{A,B}` names; base weights are plain tensors and never
//! trainable), the accumulated gradients and the optimizer. The model's forward pass is the
//! model layer's; this module adds only what training needs (dropout draws, backward,
//! gradient accumulation, AdamW).

pub mod optim;

use candle_core::{Device, Tensor, Var};

use crate::model::candle::model::{CausalLm, ForwardCtx};
use crate::model::config::Architecture;
use crate::model::{HostTensor, LoraConfig, LoraTensors};
use crate::train::backend::{clip_factor, AdamWParams, Backend, Batch, OptimizerState, StepReport};
use crate::train::{Result, TrainError};

pub struct CandleBackend {
    pub model: CausalLm,
    lora_config: LoraConfig,
    varmap: candle_nn::VarMap,
    /// `a, b` per adapter, in `model.lora` order.
    vars: Vec<Var>,
    grads: Vec<Option<Tensor>>,
    optimizer: optim::AdamW,
    /// Dropout draws are a function of (seed, optimizer step, micro-batch index), so a resumed
    /// run draws the same masks as an uninterrupted one without saving generator state.
    seed: u64,
    micro_in_step: u64,
    device: Device,
}

fn to_host(t: &Tensor) -> Result<HostTensor> {
    Ok(crate::model::candle::to_host(t)?)
}

fn from_host(h: &HostTensor, like: &Tensor) -> Result<Tensor> {
    Ok(crate::model::candle::from_host(h, like)?)
}

impl CandleBackend {
    /// Wrap a model whose adapters are attached. `seed` drives dropout.
    pub fn new(
        model: CausalLm,
        lora_config: LoraConfig,
        adamw: AdamWParams,
        seed: u64,
    ) -> Result<Self> {
        let device = model.device().clone();
        let varmap = candle_nn::VarMap::new();
        let mut vars = Vec::new();
        {
            let mut data = varmap.data().lock().expect("varmap lock");
            for (key, layer) in &model.lora {
                data.insert(format!("{}.lora_A", key.module_name()), layer.a.clone());
                data.insert(format!("{}.lora_B", key.module_name()), layer.b.clone());
                vars.push(layer.a.clone());
                vars.push(layer.b.clone());
            }
        }
        let optimizer = optim::AdamW::new(vars.clone(), adamw)?;
        Ok(Self {
            model,
            lora_config,
            varmap,
            grads: vec![None; vars.len()],
            vars,
            optimizer,
            seed,
            micro_in_step: 0,
            device,
        })
    }

    /// The trainable variables, by name (LoRA only).
    pub fn varmap(&self) -> &candle_nn::VarMap {
        &self.varmap
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl Backend for CandleBackend {
    fn name(&self) -> String {
        match self.device {
            Device::Cpu => "candle-cpu".into(),
            Device::Cuda(_) => "candle-cuda".into(),
            Device::Metal(_) => "candle-metal".into(),
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
        let mut ctx = ForwardCtx {
            rng: Some(&mut rng),
        };
        let (nll, _) = self.model.nll_sum(
            &batch.tokens,
            &batch.loss_mask,
            batch.batch,
            batch.seq_len,
            &mut ctx,
        )?;
        let value = nll.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        let grads = (nll * loss_scale)?.backward()?;
        for (slot, var) in self.grads.iter_mut().zip(&self.vars) {
            if let Some(g) = grads.get(var.as_tensor()) {
                *slot = Some(match slot.take() {
                    Some(acc) => (acc + g)?,
                    None => g.clone(),
                });
            }
        }
        Ok(value)
    }

    fn eval_loss(&mut self, batch: &Batch) -> Result<(f64, usize)> {
        batch.check(self.model.vocab_size())?;
        let mut ctx = ForwardCtx { rng: None };
        let (nll, count) = self.model.nll_sum(
            &batch.tokens,
            &batch.loss_mask,
            batch.batch,
            batch.seq_len,
            &mut ctx,
        )?;
        let value = nll
            .detach()
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?;
        Ok((value, count))
    }

    fn optimizer_step(&mut self, lr: f64, max_grad_norm: Option<f64>) -> Result<StepReport> {
        let grads: Vec<Tensor> = self
            .grads
            .iter_mut()
            .zip(&self.vars)
            .map(|(g, v)| match g.take() {
                Some(g) => Ok(g),
                None => v.as_tensor().zeros_like(),
            })
            .collect::<candle_core::Result<_>>()?;
        let mut sq = 0f64;
        for g in &grads {
            sq += g
                .sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?;
        }
        let grad_norm = sq.sqrt();
        let clip = clip_factor(grad_norm, max_grad_norm);
        let grads = match clip {
            Some(f) => grads
                .iter()
                .map(|g| g * f)
                .collect::<candle_core::Result<Vec<_>>>()?,
            None => grads,
        };
        self.optimizer.step(&grads, lr)?;
        self.micro_in_step = 0;
        Ok(StepReport {
            grad_norm,
            clipped: clip.is_some(),
        })
    }

    fn lora_grads(&self) -> Result<Vec<LoraTensors>> {
        let mut out = Vec::new();
        for (i, (key, layer)) in self.model.lora.iter().enumerate() {
            let get = |j: usize, var: &Var| -> Result<HostTensor> {
                match &self.grads[j] {
                    Some(g) => to_host(g),
                    None => to_host(&var.as_tensor().zeros_like()?),
                }
            };
            out.push(LoraTensors {
                key: *key,
                a: get(2 * i, &layer.a)?,
                b: get(2 * i + 1, &layer.b)?,
            });
        }
        Ok(out)
    }

    fn lora_tensors(&self) -> Result<Vec<LoraTensors>> {
        Ok(self.model.lora_tensors()?)
    }

    fn set_lora_tensors(&mut self, tensors: &[LoraTensors]) -> Result<()> {
        let ours: Vec<_> = self.model.lora.iter().map(|(k, _)| *k).collect();
        let theirs: Vec<_> = tensors.iter().map(|t| t.key).collect();
        if ours != theirs {
            return Err(TrainError::Config(format!(
                "adapter covers {} modules, the model has {} adapted modules; rank, targets and num_layers must match",
                theirs.len(),
                ours.len()
            )));
        }
        for ((_, layer), t) in self.model.lora.iter().zip(tensors) {
            layer.a.set(&from_host(&t.a, layer.a.as_tensor())?)?;
            layer.b.set(&from_host(&t.b, layer.b.as_tensor())?)?;
        }
        Ok(())
    }

    fn optimizer_state(&self) -> Result<OptimizerState> {
        Ok(OptimizerState {
            step: self.optimizer.step,
            first_moment: self
                .optimizer
                .m
                .iter()
                .map(to_host)
                .collect::<Result<_>>()?,
            second_moment: self
                .optimizer
                .v
                .iter()
                .map(to_host)
                .collect::<Result<_>>()?,
        })
    }

    fn set_optimizer_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_len(self.vars.len())?;
        for i in 0..self.vars.len() {
            let like = self.vars[i].as_tensor();
            self.optimizer.m[i] = from_host(&state.first_moment[i], like)?;
            self.optimizer.v[i] = from_host(&state.second_moment[i], like)?;
        }
        self.optimizer.step = state.step;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
