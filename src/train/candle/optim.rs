//! AdamW with decoupled weight decay, with state we can save and restore for resume.
//!
//! The update is the one of Loshchilov & Hutter / PyTorch `torch.optim.AdamW` (and candle-nn's
//! `AdamW`, which we checked and match in a test, but whose moments are private so a run could
//! not be resumed from them):
//! `theta *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//!  theta -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)`.

use candle_core::{Result, Tensor, Var};

use crate::train::backend::AdamWParams;

pub struct AdamW {
    pub params: AdamWParams,
    pub vars: Vec<Var>,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    pub step: u64,
}

impl AdamW {
    pub fn new(vars: Vec<Var>, params: AdamWParams) -> Result<Self> {
        let m = vars
            .iter()
            .map(|v| v.as_tensor().zeros_like())
            .collect::<Result<Vec<_>>>()?;
        let v = m.clone();
        Ok(Self {
            params,
            vars,
            m,
            v,
            step: 0,
        })
    }

    /// One step with gradients `grads[i]` for `vars[i]`.
    pub fn step(&mut self, grads: &[Tensor], lr: f64) -> Result<()> {
        self.step += 1;
        let p = self.params;
        let t = self.step as i32;
        let bc1 = 1.0 - p.beta1.powi(t);
        let bc2 = 1.0 - p.beta2.powi(t);
        for (i, g) in grads.iter().enumerate() {
            let m = ((&self.m[i] * p.beta1)? + (g * (1.0 - p.beta1))?)?;
            let v = ((&self.v[i] * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
            let theta = self.vars[i].as_tensor();
            let decayed = (theta * (1.0 - lr * p.weight_decay))?;
            let update = ((&m / bc1)? / ((&v / bc2)?.sqrt()? + p.eps)?)?;
            self.vars[i].set(&(decayed - (update * lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};
    use candle_nn::Optimizer;

    #[test]
    fn matches_candle_nn_adamw_and_decays_decoupled() {
        let init = Tensor::new(&[[0.5f32, -1.0, 2.0], [0.0, 3.0, -0.25]], &Device::Cpu).unwrap();
        let params = AdamWParams {
            beta1: 0.8,
            beta2: 0.95,
            eps: 1e-6,
            weight_decay: 0.1,
        };
        let ours_var = Var::from_tensor(&init).unwrap();
        let theirs_var = Var::from_tensor(&init).unwrap();
        let mut ours = AdamW::new(vec![ours_var.clone()], params).unwrap();
        let mut theirs = candle_nn::AdamW::new(
            vec![theirs_var.clone()],
            candle_nn::ParamsAdamW {
                lr: 0.05,
                beta1: 0.8,
                beta2: 0.95,
                eps: 1e-6,
                weight_decay: 0.1,
            },
        )
        .unwrap();
        for _ in 0..5 {
            // loss = sum(theta^3) so the gradient changes every step
            let g = ours_var
                .as_tensor()
                .sqr()
                .unwrap()
                .affine(3.0, 0.0)
                .unwrap();
            ours.step(&[g], 0.05).unwrap();
            let loss = theirs_var.as_tensor().powf(3.0).unwrap().sum_all().unwrap();
            theirs.backward_step(&loss).unwrap();
        }
        let a = ours_var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = theirs_var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }

        // With a zero gradient only the decoupled decay acts: theta * (1 - lr * wd).
        let w = Var::from_tensor(&init).unwrap();
        let mut opt = AdamW::new(vec![w.clone()], params).unwrap();
        opt.step(&[init.zeros_like().unwrap()], 0.5).unwrap();
        let got = w
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let want: Vec<f32> = init
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|x| x * 0.95)
            .collect();
        for (x, y) in got.iter().zip(&want) {
            assert!((x - y).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }
}
