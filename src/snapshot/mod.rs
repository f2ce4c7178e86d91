//! The columnar store: Parquet tables written through Polars, atomically.

pub mod exclusions;
pub mod freeze;
pub mod store;

pub use exclusions::{read_exclusions, write_exclusions};
pub use store::*;
