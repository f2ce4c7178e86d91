//! Host-side tensors: how weights and adapters cross from a tensor backend to files and back.
//!
//! Adapter formats, checkpoints and metrics see tensors only as [`HostTensor`] (f32, row-major),
//! so they never depend on a tensor library. This module must not import one.

use crate::model::lora::LoraKey;

/// A dense f32 tensor on the host, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "HostTensor shape {shape:?} does not match {} values",
            data.len()
        );
        Self { shape, data }
    }

    /// The transpose of a 2-D tensor (adapter formats differ in orientation).
    pub fn transpose2(&self) -> HostTensor {
        assert_eq!(self.shape.len(), 2, "transpose2 needs a 2-D tensor");
        let (r, c) = (self.shape[0], self.shape[1]);
        let mut out = vec![0f32; r * c];
        for i in 0..r {
            for j in 0..c {
                out[j * r + i] = self.data[i * c + j];
            }
        }
        HostTensor::new(vec![c, r], out)
    }

    pub fn sum_sq(&self) -> f64 {
        self.data.iter().map(|&x| (x as f64) * (x as f64)).sum()
    }
}

/// One LoRA pair in the canonical (PEFT) orientation: `a` is `[rank, in]`, `b` is `[out, rank]`,
/// and the layer computes `y = x W^T + scale * (x A^T) B^T`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraTensors {
    pub key: LoraKey,
    pub a: HostTensor,
    pub b: HostTensor,
}
