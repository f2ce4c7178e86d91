//! The snapshot stage: `create` (render + freeze) and the immutable snapshots it writes
//! (`freeze`: list, show, diff). `store` is the Parquet document store the stages share, and
//! `exclusions` reads and writes the one excluded-table shape every stage uses.

pub mod columns;
pub mod create;
pub mod examples;
pub mod exclusions;
pub mod freeze;
pub mod store;

pub use create::{create, CreateError, CreateSettings};
pub use exclusions::{read_exclusions, write_exclusions};
pub use store::*;
