//! Source ingesters: manifests, git, docs, local folders, jsonl datasets, Luau analysis.

pub mod docs;
