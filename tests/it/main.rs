//! The one integration-test binary: fixtures are built inside each test (real git repositories
//! made with git2, real Parquet, the real binary).

mod audit;
mod cli;
mod contamination;
mod docs;
mod eval;
mod eval_typecheck;
mod export;
mod ingest;
#[cfg(feature = "mlx")]
mod mlx_backend;
mod quickstart;
mod reference;
mod render;
mod schema;
mod secrets;
mod shard;
mod snapshot;
mod splits;
mod tools;
mod train;
mod util;
mod workspace;
