//! `sources.lock`: the commit every git/docs source's `rev` resolved to, like `Cargo.lock`.
//!
//! A locked entry is used as long as the manifest still declares the same URL and rev; a new or
//! changed source is resolved and recorded; `--update` re-resolves everything; `--locked`
//! refuses any change to the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::workspace::{read_toml, ConfigError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedSource {
    pub id: String,
    pub url: String,
    pub rev: String,
    pub commit: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    version: u32,
    #[serde(default, rename = "source")]
    sources: Vec<LockedSource>,
}

/// The lock, keyed by source id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    pub sources: BTreeMap<String, LockedSource>,
}

impl Lock {
    /// Reads `sources.lock`; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Lock, ConfigError> {
        if !path.exists() {
            return Ok(Lock::default());
        }
        let file: LockFile = read_toml(path)?;
        if file.version != 1 {
            return Err(ConfigError::new(
                path,
                None,
                format!(
                    "unsupported lock version {}; this vcurate writes version 1",
                    file.version
                ),
            ));
        }
        Ok(Lock {
            sources: file
                .sources
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect(),
        })
    }

    /// The locked commit for a source if the lock still matches its declared url and rev.
    pub fn commit_for(&self, id: &str, url: &str, rev: &str) -> Option<&str> {
        self.sources
            .get(id)
            .filter(|s| s.url == url && s.rev == rev)
            .map(|s| s.commit.as_str())
    }

    /// Writes the lock atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let file = LockFile {
            version: 1,
            sources: self.sources.values().cloned().collect(),
        };
        let body = toml::to_string(&file).expect("lock serializes");
        let text = format!("# Written by `vcurate ingest`: the commit each source's rev resolved to. Commit this file.\n# `vcurate ingest --update` moves it; `--locked` refuses to.\n{body}");
        crate::core::fs::write_atomic(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_match_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sources.lock");
        assert_eq!(Lock::read(&path).unwrap(), Lock::default());
        let mut lock = Lock::default();
        lock.sources.insert(
            "a".into(),
            LockedSource {
                id: "a".into(),
                url: "u".into(),
                rev: "main".into(),
                commit: "c1".into(),
            },
        );
        lock.write(&path).unwrap();
        let back = Lock::read(&path).unwrap();
        assert_eq!(back, lock);
        assert_eq!(back.commit_for("a", "u", "main"), Some("c1"));
        assert_eq!(
            back.commit_for("a", "u", "dev"),
            None,
            "a changed rev is not locked"
        );
        assert_eq!(
            back.commit_for("a", "v", "main"),
            None,
            "a changed url is not locked"
        );
        fs_err::write(&path, "version = 1\n[[source]]\nid = \"a\"\nurl = \"u\"\nrev = \"m\"\ncommit = \"c\"\ncomit = \"x\"\n").unwrap();
        let e = Lock::read(&path).unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
    }
}
