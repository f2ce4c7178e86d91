//! Command-line interface: clap types and one file per subcommand. No business logic.

pub mod eval;
