//! The workspace: `vcurate.toml`, where it is, and its settings.
