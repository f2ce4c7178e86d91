//! The snapshot stage: `create` (render + freeze) and the immutable snapshots it writes
//! (`freeze`: list, show, diff). `store` is the Parquet document store the stages share.

pub mod create;
pub mod freeze;
pub mod store;

pub use create::{create, CreateError, CreateSettings};
pub use store::*;


