//! Which architecture a model folder holds, from the `model_type` of its `config.json`.
//!
//! Every architecture this crate implements is one variant of [`Architecture`]; its own
//! configuration type (e.g. [`crate::model::qwen3::Qwen3Config`]) parses the rest of the file.
//! Adding an architecture (Qwen3.5) means a variant here, the `model_type` names it answers to,
//! its config module beside `qwen3.rs`, and its implementation in each backend.

use crate::model::{ModelError, Result};

/// An architecture implemented by the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// Qwen3 dense decoders (and the Qwen2/Llama layouts it reads with the same code).
    Qwen3,
}

impl Architecture {
    /// The architecture for a `config.json` `model_type`; an unknown one is an error that says
    /// what is supported.
    pub fn from_model_type(model_type: &str) -> Result<Self> {
        match model_type {
            "qwen3" | "qwen2" | "llama" => Ok(Architecture::Qwen3),
            other => Err(ModelError::Config(format!(
                "model_type `{other}` is not supported; the trainer implements Qwen3 dense models"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_types_map_to_architectures_and_unknown_ones_are_named() {
        assert_eq!(
            Architecture::from_model_type("qwen3").unwrap(),
            Architecture::Qwen3
        );
        let err = Architecture::from_model_type("mamba")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mamba`"), "{err}");
    }
}
