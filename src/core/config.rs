//! Reading the files people write (TOML, YAML): strictly, with errors that name the file, the
//! line and what is wrong.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A human-written file that could not be read as what it claims to be.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Parses TOML strictly into `T`, turning errors into `ConfigError`s with file and line.
pub fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        ConfigError::new(path, line, e.message().trim().to_string())
    })
}

/// Reads and strictly parses a TOML file.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text =
        fs_err::read_to_string(path).map_err(|e| ConfigError::new(path, None, e.to_string()))?;
    parse_toml(path, &text)
}
