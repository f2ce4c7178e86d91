//! AdamW on MLX arrays: the update of [`crate::train::candle::optim`], op for op, so that the
//! two backends take the same step from the same gradient (to f32 rounding).
//!
//! `theta *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//!  theta -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)`, with every scalar rounded to f32
//! where candle rounds it (candle's `tensor * f64` and `tensor / f64` are f32 affine maps, the
//! division a multiplication by the f32 reciprocal). The moments are plain arrays, so a
//! checkpoint can save and restore them.

use mlx_rs::Array;

use crate::train::backend::AdamWParams;

pub struct AdamW {
    pub params: AdamWParams,
    /// First and second moments, one per parameter.
    pub m: Vec<Array>,
    pub v: Vec<Array>,
    pub step: u64,
}

fn scalar(x: f64) -> Array {
    Array::from_f32(x as f32)
}

impl AdamW {
    /// Zero moments shaped like `params`.
    pub fn new(params: &[Array], hyper: AdamWParams) -> mlx_rs::error::Result<Self> {
        let m = params
            .iter()
            .map(mlx_rs::ops::zeros_like)
            .collect::<mlx_rs::error::Result<Vec<_>>>()?;
        Ok(Self {
            params: hyper,
            v: m.clone(),
            m,
            step: 0,
        })
    }

    /// One step: returns the updated parameters (`grads[i]` is the gradient of `theta[i]`), and
    /// evaluates them with the new moments (in one `eval`, one sync point per step) so no graph
    /// outlives the step.
    pub fn step(
        &mut self,
        theta: &[Array],
        grads: &[Array],
        lr: f64,
    ) -> mlx_rs::error::Result<Vec<Array>> {
        self.step += 1;
        let p = self.params;
        let t = self.step as i32;
        let bc1 = 1.0 - p.beta1.powi(t);
        let bc2 = 1.0 - p.beta2.powi(t);
        let mut out = Vec::with_capacity(theta.len());
        for (i, (theta, g)) in theta.iter().zip(grads).enumerate() {
            let m = self.m[i]
                .multiply(scalar(p.beta1))?
                .add(g.multiply(scalar(1.0 - p.beta1))?)?;
            let v = self.v[i]
                .multiply(scalar(p.beta2))?
                .add(g.square()?.multiply(scalar(1.0 - p.beta2))?)?;
            let decayed = theta.multiply(scalar(1.0 - lr * p.weight_decay))?;
            let denom = v.multiply(scalar(1.0 / bc2))?.sqrt()?.add(scalar(p.eps))?;
            let update = m.multiply(scalar(1.0 / bc1))?.divide(denom)?;
            out.push(decayed.subtract(update.multiply(scalar(lr))?)?);
            self.m[i] = m;
            self.v[i] = v;
        }
        mlx_rs::transforms::eval(out.iter().chain(&self.m).chain(&self.v))?;
        Ok(out)
    }
}
