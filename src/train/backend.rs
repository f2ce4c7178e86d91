//! The seam between the trainer core and tensor code.
//!
//! The core hands a backend host-side batches (token ids + loss mask) and learning rates; the
//! backend owns the model, the LoRA parameters, their gradients and the optimizer state. Tensors
//! cross the seam only as [`HostTensor`] (f32, row-major; see [`crate::model::tensor`]), so
//! adapters, checkpoints and metrics never depend on a tensor library. This module must not
//! import any tensor library.

use crate::core::hash::SplitMix64;
use crate::model::config::Architecture;
use crate::model::{HostTensor, LoraConfig, LoraTensors};
use crate::train::{Result, TrainError};

/// One micro-batch: `batch` rows of `seq_len` token ids, right-padded.
///
/// `loss_mask[i]` is 1 where token `i` is a prediction target (an assistant token), 0 elsewhere
/// (prompt, system, padding). Position `t` is predicted from positions `< t`, so the mask of the
/// first token of each row is ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub batch: usize,
    pub seq_len: usize,
    pub tokens: Vec<u32>,
    pub loss_mask: Vec<u8>,
}

impl Batch {
    /// Number of tokens that contribute to the loss (targets at positions >= 1).
    pub fn target_count(&self) -> usize {
        (0..self.batch)
            .map(|b| {
                let row = &self.loss_mask[b * self.seq_len..(b + 1) * self.seq_len];
                row.iter().skip(1).filter(|&&m| m != 0).count()
            })
            .sum()
    }

    /// Check the batch's shape and that its token ids fit a vocabulary of `vocab_size` (every
    /// backend refuses a batch its model cannot embed before running it).
    pub fn check(&self, vocab_size: usize) -> Result<()> {
        let n = self.batch * self.seq_len;
        if self.tokens.len() != n || self.loss_mask.len() != n || self.seq_len < 2 {
            return Err(TrainError::Config(format!(
                "batch of {}x{} has {} tokens and {} mask entries (sequences need >= 2 tokens)",
                self.batch,
                self.seq_len,
                self.tokens.len(),
                self.loss_mask.len()
            )));
        }
        if let Some(&bad) = self.tokens.iter().find(|&&t| t as usize >= vocab_size) {
            return Err(TrainError::Config(format!(
                "token id {bad} is outside the model's vocabulary of {vocab_size}; tokenizer and model disagree"
            )));
        }
        Ok(())
    }

    /// The stream of LoRA dropout draws for micro-batch `micro` of optimizer step `step` in a
    /// run seeded `seed`: a function of those three only, so a resumed run draws the same masks
    /// as an uninterrupted one without saving generator state, and every backend draws the same.
    pub fn dropout_rng(seed: u64, step: u64, micro: u64) -> SplitMix64 {
        let mut mix = SplitMix64::new(seed ^ 0x5eed_d20f);
        SplitMix64::new(mix.next_u64() ^ (step << 20) ^ micro)
    }
}

/// AdamW state for resume: step count and the two moments of every LoRA tensor, in
/// [`Backend::lora_tensors`] order (`a` then `b` per key).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerState {
    pub step: u64,
    pub first_moment: Vec<HostTensor>,
    pub second_moment: Vec<HostTensor>,
}

impl OptimizerState {
    /// Check that the state holds two moments for each of `n` LoRA tensors.
    pub fn check_len(&self, n: usize) -> Result<()> {
        if self.first_moment.len() != n || self.second_moment.len() != n {
            return Err(TrainError::Config(format!(
                "optimizer state has {} tensors, the model has {n} LoRA tensors",
                self.first_moment.len(),
            )));
        }
        Ok(())
    }
}

/// The factor global-norm clipping multiplies the accumulated gradient by: `Some` when its norm
/// `grad_norm` exceeds `max_grad_norm` (the same rule on every backend).
pub fn clip_factor(grad_norm: f64, max_grad_norm: Option<f64>) -> Option<f64> {
    max_grad_norm
        .filter(|&m| grad_norm > m)
        .map(|m| m / (grad_norm + 1e-6))
}

/// What one optimizer step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Global L2 norm of the accumulated gradient before clipping.
    pub grad_norm: f64,
    /// Whether the gradient was scaled down to the clip norm.
    pub clipped: bool,
}

/// Optimizer hyper-parameters that stay fixed during a run (the learning rate comes per step).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamWParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay (Loshchilov & Hutter): `theta -= lr * weight_decay * theta`.
    pub weight_decay: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        // PyTorch's AdamW defaults.
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// A tensor backend that can train LoRA adapters on a frozen base model.
pub trait Backend {
    /// Short name for logs and the resolved config ("candle-cpu", ...).
    fn name(&self) -> String;

    /// The LoRA configuration the model was built with.
    fn lora_config(&self) -> &LoraConfig;

    /// The model's architecture (adapter files name its layers its way).
    fn architecture(&self) -> Architecture;

    /// Forward and backward on one micro-batch. The loss whose gradient is accumulated is
    /// `loss_scale * sum of target-token negative log-likelihoods`; returns that unscaled sum.
    /// Gradients add up across calls until [`Backend::optimizer_step`].
    fn accumulate(&mut self, batch: &Batch, loss_scale: f64) -> Result<f64>;

    /// Sum of target-token NLL and the number of targets, without dropout and without gradients.
    fn eval_loss(&mut self, batch: &Batch) -> Result<(f64, usize)>;

    /// Clip the accumulated gradient to `max_grad_norm` (global L2), apply one AdamW step at
    /// `lr`, and clear the accumulated gradient.
    fn optimizer_step(&mut self, lr: f64, max_grad_norm: Option<f64>) -> Result<StepReport>;

    /// The accumulated gradient of every LoRA tensor (zeros where none arrived), in the order of
    /// [`Backend::lora_tensors`]. For tests and diagnostics.
    fn lora_grads(&self) -> Result<Vec<LoraTensors>>;

    /// The current LoRA parameters, sorted by key.
    fn lora_tensors(&self) -> Result<Vec<LoraTensors>>;

    /// Replace LoRA parameters (resume, or loading an adapter). Keys must match the model's.
    fn set_lora_tensors(&mut self, tensors: &[LoraTensors]) -> Result<()>;

    fn optimizer_state(&self) -> Result<OptimizerState>;
    fn set_optimizer_state(&mut self, state: &OptimizerState) -> Result<()>;
}
