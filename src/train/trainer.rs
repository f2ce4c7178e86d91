//! The backend-neutral training step and loop: gradient accumulation with exact token-mean
//! loss, clipping, the schedule, and step logs. Must not depend on a tensor library.

use serde::Serialize;

use crate::train::backend::{Backend, Batch};
use crate::train::schedule::Schedule;
use crate::train::{Result, TrainError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOptions {
    pub max_grad_norm: Option<f64>,
}

/// One optimizer step, as written to `metrics.jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepLog {
    pub step: usize,
    pub lr: f64,
    /// Mean NLL per target token over all micro-batches of the step.
    pub loss: f64,
    pub grad_norm: f64,
    pub clipped: bool,
    pub target_tokens: usize,
    pub tokens: usize,
}

/// One optimizer step over `micro` (gradient accumulation). The loss is the mean over all
/// target tokens of all micro-batches, so accumulating k micro-batches gives the same gradient
/// as one batch holding all of them.
pub fn train_step<B: Backend>(
    backend: &mut B,
    micro: &[Batch],
    step: usize,
    lr: f64,
    opts: StepOptions,
) -> Result<StepLog> {
    let targets: usize = micro.iter().map(Batch::target_count).sum();
    if targets == 0 {
        return Err(TrainError::Config(format!(
            "step {step} has no assistant tokens to learn from; check the loss mask"
        )));
    }
    let scale = 1.0 / targets as f64;
    let mut nll = 0.0;
    for b in micro {
        nll += backend.accumulate(b, scale)?;
    }
    let loss = nll / targets as f64;
    if !loss.is_finite() {
        return Err(TrainError::NonFinite(loss, step));
    }
    let report = backend.optimizer_step(lr, opts.max_grad_norm)?;
    Ok(StepLog {
        step,
        lr,
        loss,
        grad_norm: report.grad_norm,
        clipped: report.clipped,
        target_tokens: targets,
        tokens: micro.iter().map(|b| b.batch * b.seq_len).sum(),
    })
}

/// Mean NLL per target token over `batches`, without dropout or gradients.
pub fn eval_loss<B: Backend>(backend: &mut B, batches: &[Batch]) -> Result<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for b in batches {
        let (s, c) = backend.eval_loss(b)?;
        sum += s;
        n += c;
    }
    Ok(if n == 0 { f64::NAN } else { sum / n as f64 })
}

/// Which of `n` batches micro-batch number `m` (counted from the start of training) uses:
/// epoch `m / n` visits every batch once, epoch 0 in order (the data loader already shuffled
/// it with the run's seed), later epochs in a permutation drawn from the epoch number, so
/// repeated epochs do not replay one order.
pub fn batch_index(m: usize, n: usize) -> usize {
    let (epoch, pos) = (m / n, m % n);
    if epoch == 0 {
        return pos;
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = crate::core::hash::SplitMix64::new(0x5eed_e90c ^ epoch as u64);
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    order[pos]
}

/// Run optimizer steps `steps` (a sub-range of `0..schedule.total_steps`), each over
/// `grad_accum` consecutive batches: the first epoch in the given order, every later epoch in a
/// fresh permutation (see [`batch_index`]). The batch is a function of the step, so a run split
/// into `0..k` and `k..n` (resume) sees the same data as one over `0..n`. Calls `on_step` after
/// each step.
pub fn run<B: Backend>(
    backend: &mut B,
    batches: &[Batch],
    schedule: &Schedule,
    grad_accum: usize,
    opts: StepOptions,
    steps: std::ops::Range<usize>,
    mut on_step: impl FnMut(&mut B, &StepLog) -> Result<()>,
) -> Result<Vec<StepLog>> {
    if batches.is_empty() {
        return Err(TrainError::Config("no training batches".into()));
    }
    if steps.end > schedule.total_steps {
        return Err(TrainError::Config(format!(
            "steps {steps:?} run past the schedule's {} steps",
            schedule.total_steps
        )));
    }
    let accum = grad_accum.max(1);
    let mut logs = Vec::new();
    for step in steps {
        let micro: Vec<Batch> = (0..accum)
            .map(|j| batches[batch_index(step * accum + j, batches.len())].clone())
            .collect();
        let log = train_step(backend, &micro, step, schedule.lr_at(step), opts)?;
        on_step(backend, &log)?;
        logs.push(log);
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use super::batch_index;

    #[test]
    fn every_epoch_visits_each_batch_once_and_later_epochs_reorder() {
        let n = 7;
        let epochs: Vec<Vec<usize>> = (0..4)
            .map(|e| (0..n).map(|p| batch_index(e * n + p, n)).collect())
            .collect();
        assert_eq!(epochs[0], (0..n).collect::<Vec<_>>());
        for e in &epochs {
            let mut sorted = e.clone();
            sorted.sort();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "a permutation: {e:?}");
        }
        assert!(
            epochs[1] != epochs[0] && epochs[2] != epochs[1],
            "{epochs:?}"
        );
        assert_eq!(batch_index(3, 1), 0);
    }
}
