//! Learning-rate schedule: linear warmup, then cosine decay to a floor.
//! Pure arithmetic; must not depend on a tensor library.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Peak learning rate, reached at the end of warmup.
    pub lr: f64,
    /// Optimizer steps of linear warmup from `lr / warmup_steps` up to `lr`.
    #[serde(default)]
    pub warmup_steps: usize,
    /// Total optimizer steps; the cosine reaches `min_lr` at the last one.
    pub total_steps: usize,
    #[serde(default)]
    pub min_lr: f64,
}

impl Schedule {
    /// Learning rate for optimizer step `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps);
        if decay_steps <= 1 {
            return self.lr;
        }
        let t = ((step - self.warmup_steps) as f64 / (decay_steps - 1) as f64).min(1.0);
        self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_rises_then_cosine_falls_to_floor() {
        let s = Schedule {
            lr: 1e-3,
            warmup_steps: 4,
            total_steps: 20,
            min_lr: 1e-5,
        };
        let lrs: Vec<f64> = (0..20).map(|i| s.lr_at(i)).collect();
        for w in lrs[..4].windows(2) {
            assert!(w[1] > w[0], "warmup must rise: {lrs:?}");
        }
        assert!((lrs[3] - 1e-3).abs() < 1e-15 && (lrs[4] - 1e-3).abs() < 1e-15);
        for w in lrs[4..].windows(2) {
            assert!(w[1] < w[0], "cosine must fall: {lrs:?}");
        }
        assert!((lrs[19] - 1e-5).abs() < 1e-12);
        // Halfway through the decay the cosine sits at the midpoint.
        let mid = Schedule {
            total_steps: 13,
            warmup_steps: 2,
            ..s
        }
        .lr_at(2 + 5);
        assert!((mid - (1e-3 + 1e-5) / 2.0).abs() < 1e-12, "{mid}");
    }
}
