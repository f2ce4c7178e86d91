//! Test fixtures: real git repositories built with git2, workspaces, and the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git2::{Oid, Repository};

pub use vcurate::ingest::git::TreeContent as Entry;

pub fn file(s: &str) -> Entry {
    Entry::File(s.as_bytes().to_vec())
}

/// A git repository on disk that tests commit trees into.
pub struct TestRepo {
    pub repo: Repository,
}

impl TestRepo {
    pub fn init(path: &Path) -> TestRepo {
        let repo = Repository::init(path).unwrap();
        TestRepo { repo }
    }

    /// Commits exactly `files` as the whole tree on `refs/heads/main`; returns the commit.
    pub fn commit(&self, message: &str, files: &[(&str, Entry)]) -> Oid {
        let files: Vec<(String, Entry)> = files
            .iter()
            .map(|(p, e)| (p.to_string(), e.clone()))
            .collect();
        vcurate::ingest::git::commit_files(&self.repo, "main", message, 1_700_000_000, &files)
            .unwrap()
    }

    pub fn tag(&self, name: &str, commit: Oid) {
        let obj = self.repo.find_object(commit, None).unwrap();
        self.repo.tag_lightweight(name, &obj, true).unwrap();
    }

    /// Deletes the loose object file of a blob, as a damaged clone would lack it.
    pub fn delete_object(&self, oid: Oid) {
        let hex = oid.to_string();
        let p = self
            .repo
            .path()
            .join("objects")
            .join(&hex[..2])
            .join(&hex[2..]);
        std::fs::remove_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }

    pub fn blob_id(bytes: &[u8]) -> Oid {
        Oid::hash_object(git2::ObjectType::Blob, bytes).unwrap()
    }
}

/// A fresh workspace in a temp dir.
pub fn workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    vcurate::workspace::init(&ws).unwrap();
    ws
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Runs the real binary in `dir` with a pinned ingest time.
pub fn vcurate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vcurate"))
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
