//! The snapshot stage: `create` (render + contamination scan of the examples + freeze), the
//! immutable snapshots it writes (`freeze`: list, show, diff) and their examples table
//! (`examples`). The tables it reads and writes go through the `store` layer.

pub mod create;
pub mod examples;
pub mod freeze;

pub use create::{create, CreateError, CreateSettings};
