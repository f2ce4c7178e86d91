//! The one integration-test binary: fixtures are built inside each test (real git repositories
//! made with git2, real Parquet, the real binary).

mod ingest;
mod render;
mod schema;
mod util;
mod workspace;
