//! Execution-scored evaluation of Luau code: task sets, a sandboxed Luau runner, scoring, reports.
