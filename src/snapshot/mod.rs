//! The columnar store: Parquet tables written through Polars, atomically.

pub mod freeze;
pub mod store;

pub use store::*;
