//! The shape of a decoder block, shared by the tensor backends: what a block holds (two RMSNorm
//! weights, a token mixer, a SwiGLU MLP) and which of its linear layers a [`TargetModule`] names.
//! Each backend instantiates these types with its own tensors and layers and adds the forward
//! (`candle::model`, `mlx::model`); the layout is written once, here. Must not use a tensor
//! library.

use crate::model::lora::TargetModule;

/// The SwiGLU feed-forward of every block: `down(silu(gate(x)) * up(x))`.
#[derive(Debug, Clone)]
pub struct Mlp<L> {
    pub gate_proj: L,
    pub up_proj: L,
    pub down_proj: L,
}

/// A block's token mixer: (gated) attention or a Gated DeltaNet.
#[derive(Debug, Clone)]
pub enum Mixer<A, D> {
    Attention(A),
    DeltaNet(D),
}

/// One decoder block: norm weights `T`, a mixer, an MLP of linear layers `L`.
#[derive(Debug, Clone)]
pub struct Block<T, A, D, L> {
    pub input_layernorm: T,
    pub post_attention_layernorm: T,
    pub mixer: Mixer<A, D>,
    pub mlp: Mlp<L>,
}

/// A mixer's linear layers by the name LoRA targets them with.
pub trait Linears<L> {
    /// The linear layer `m` of this mixer, if it has one.
    fn linear_mut(&mut self, m: TargetModule) -> Option<&mut L>;
}

impl<T, A: Linears<L>, D: Linears<L>, L> Block<T, A, D, L> {
    /// The linear layer `m` of this block, if it has one.
    pub fn linear_mut(&mut self, m: TargetModule) -> Option<&mut L> {
        match (m, &mut self.mixer) {
            (TargetModule::Gate, _) => Some(&mut self.mlp.gate_proj),
            (TargetModule::Up, _) => Some(&mut self.mlp.up_proj),
            (TargetModule::Down, _) => Some(&mut self.mlp.down_proj),
            (_, Mixer::Attention(a)) => a.linear_mut(m),
            (_, Mixer::DeltaNet(d)) => d.linear_mut(m),
        }
    }
}

/// The attention projection `m` among `[q_proj, k_proj, v_proj, o_proj]`.
pub fn attention_linear<L>(m: TargetModule, [q, k, v, o]: [&mut L; 4]) -> Option<&mut L> {
    match m {
        TargetModule::Q => Some(q),
        TargetModule::K => Some(k),
        TargetModule::V => Some(v),
        TargetModule::O => Some(o),
        _ => None,
    }
}

/// The Gated DeltaNet projection `m` among
/// `[in_proj_qkv, in_proj_z, in_proj_a, in_proj_b, out_proj]`.
pub fn delta_net_linear<L>(m: TargetModule, [qkv, z, a, b, out]: [&mut L; 5]) -> Option<&mut L> {
    match m {
        TargetModule::InProjQkv => Some(qkv),
        TargetModule::InProjZ => Some(z),
        TargetModule::InProjA => Some(a),
        TargetModule::InProjB => Some(b),
        TargetModule::OutProj => Some(out),
        _ => None,
    }
}
