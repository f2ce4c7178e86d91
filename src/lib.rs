//! vcurate: data curation and provenance for Roblox/Luau code-model training sets.
//!
//! Pipeline stages are sibling modules over a small core; dependencies point down only:
//! `cli` -> (`ingest`, `snapshot`, `audit`, `eval`) -> `workspace` -> `core`.

pub mod audit;
pub mod bench;
pub mod cli;
pub mod core;
pub mod eval;
pub mod evalset;
pub mod export;
pub mod ingest;
pub mod luau;
pub mod model;
pub mod plot;
pub mod quickstart;
pub mod render;
pub mod report;
pub mod sample;
pub mod scaffold;
pub mod schema;
pub mod snapshot;
pub mod store;
pub mod takedown;
pub mod train;
pub mod workspace;

/// The version recorded in every provenance record and snapshot.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
