//! Git access through git2: URL rewriting (like git's `insteadOf`), clone/fetch into a bare
//! cache, rev resolution, and reading trees straight from the object store (no checkout).
//!
//! A URL that is (or is rewritten to) a local path is opened in place instead of cloned: that is
//! what makes offline mirrors cheap, and it lets a repository whose object store lacks some
//! blobs still be read (every other file ingests; the missing ones get skip records).
//! Provenance always keeps the declared URL; this module only ever sees the effective one.

use std::path::{Path, PathBuf};

use git2::{
    FetchOptions, ObjectType, Oid, RemoteCallbacks, Repository, TreeWalkMode, TreeWalkResult,
};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot reach {url}: {message}\n  hint: check the URL and your network, or point it at a local mirror with [git.rewrite] in vcurate.toml or VCURATE_GIT_REWRITE=\"FROM=TO\"")]
    Unreachable { url: String, message: String },
    #[error("rev `{rev}` was not found in {url} (branches: {branches}; tags: {tags})")]
    UnknownRev {
        url: String,
        rev: String,
        branches: String,
        tags: String,
    },
    #[error("locked commit {commit} is not in {url}; run `vcurate ingest --update` to re-resolve (not allowed with --locked)")]
    LockedCommitMissing { url: String, commit: String },
    #[error("bad VCURATE_GIT_REWRITE entry `{0}`: expected FROM=TO[,FROM=TO]")]
    BadRewrite(String),
    #[error("git error in {url}: {source}")]
    Git { url: String, source: git2::Error },
}

/// URL rewrite rules: the longest matching prefix wins, as with git's `insteadOf`.
#[derive(Debug, Clone, Default)]
pub struct Rewrites {
    rules: Vec<(String, String)>,
}

impl Rewrites {
    /// Rules from `vcurate.toml`, overlaid by `VCURATE_GIT_REWRITE` (which wins on equal FROM).
    /// Relative targets are resolved against `root`.
    pub fn new<'a>(
        config: impl IntoIterator<Item = (&'a String, &'a String)>,
        env: Option<&str>,
        root: &Path,
    ) -> Result<Rewrites, GitError> {
        let mut rules: Vec<(String, String)> = config
            .into_iter()
            .map(|(a, b)| (a.clone(), b.clone()))
            .collect();
        for part in env
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (from, to) = part
                .split_once('=')
                .filter(|(f, t)| !f.is_empty() && !t.is_empty())
                .ok_or_else(|| GitError::BadRewrite(part.to_string()))?;
            rules.retain(|(f, _)| f != from);
            rules.push((from.to_string(), to.to_string()));
        }
        for (_, to) in &mut rules {
            if is_local(to) && !Path::new(to.trim_start_matches("file://")).is_absolute() {
                *to = root.join(to.as_str()).display().to_string();
            }
        }
        Ok(Rewrites { rules })
    }

    /// The URL git should actually use for a declared URL.
    pub fn apply(&self, url: &str) -> String {
        match self
            .rules
            .iter()
            .filter(|(from, _)| url.starts_with(from.as_str()))
            .max_by_key(|(from, _)| from.len())
        {
            Some((from, to)) => format!("{to}{}", &url[from.len()..]),
            None => url.to_string(),
        }
    }
}

/// Whether a URL names a path on this machine.
pub fn is_local(url: &str) -> bool {
    if url.starts_with("file://") {
        return true;
    }
    if url.contains("://") {
        return false;
    }
    // scp-like `git@host:owner/repo` is remote; `C:\...` or `/...` or `./...` is local.
    !matches!(url.split_once(':'), Some((host, _)) if host.contains('@') || (host.len() > 1 && !host.contains('/')))
}

/// An opened repository and the commit a rev resolved to.
pub struct Resolved {
    pub repo: Repository,
    pub commit: Oid,
}

/// Opens (local) or clones/fetches into `cache` (remote) the effective URL and resolves `rev`.
/// With `locked`, that commit is used (fetching only if it is not already present).
pub fn resolve(
    url: &str,
    rev: &str,
    locked: Option<&str>,
    cache: &Path,
    on_progress: &mut dyn FnMut(String),
) -> Result<Resolved, GitError> {
    let git = |source| GitError::Git {
        url: url.to_string(),
        source,
    };
    let local = is_local(url);
    let repo = if local {
        let path = url.trim_start_matches("file://");
        Repository::open(path).map_err(|e| GitError::Unreachable {
            url: url.to_string(),
            message: e.message().to_string(),
        })?
    } else {
        let dir = cache_path(cache, url);
        match Repository::open_bare(&dir) {
            Ok(r) => r,
            Err(_) => {
                fs_err::create_dir_all(&dir).map_err(|e| GitError::Unreachable {
                    url: url.to_string(),
                    message: e.to_string(),
                })?;
                Repository::init_bare(&dir).map_err(git)?
            }
        }
    };
    if let Some(c) = locked {
        let oid = Oid::from_str(c).map_err(git)?;
        if repo.find_commit(oid).is_ok() {
            return Ok(Resolved { repo, commit: oid });
        }
        if !local {
            fetch(&repo, url, on_progress)?;
            if repo.find_commit(oid).is_ok() {
                return Ok(Resolved { repo, commit: oid });
            }
        }
        return Err(GitError::LockedCommitMissing {
            url: url.to_string(),
            commit: c.to_string(),
        });
    }
    if !local {
        fetch(&repo, url, on_progress)?;
    }
    let commit = resolve_rev(&repo, rev, local).ok_or_else(|| unknown_rev(&repo, url, rev))?;
    Ok(Resolved { repo, commit })
}

fn cache_path(cache: &Path, url: &str) -> PathBuf {
    let name: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit('/')
        .next()
        .unwrap_or("repo")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    cache.join(format!(
        "{name}-{}.git",
        &blake3::hash(url.as_bytes()).to_hex()[..12]
    ))
}

fn fetch(
    repo: &Repository,
    url: &str,
    on_progress: &mut dyn FnMut(String),
) -> Result<(), GitError> {
    let mut callbacks = RemoteCallbacks::new();
    callbacks.transfer_progress(|p| {
        on_progress(format!(
            "fetching {url}: {}/{} objects",
            p.received_objects(),
            p.total_objects()
        ));
        true
    });
    let mut opts = FetchOptions::new();
    opts.remote_callbacks(callbacks);
    opts.download_tags(git2::AutotagOption::All);
    let mut remote = repo.remote_anonymous(url).map_err(|source| GitError::Git {
        url: url.to_string(),
        source,
    })?;
    remote
        .fetch(
            &[
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
            Some(&mut opts),
            None,
        )
        .map_err(|e| GitError::Unreachable {
            url: url.to_string(),
            message: e.message().to_string(),
        })
}

fn resolve_rev(repo: &Repository, rev: &str, local: bool) -> Option<Oid> {
    let mut candidates = Vec::new();
    if local {
        candidates.push(format!("refs/heads/{rev}"));
    }
    candidates.push(format!("refs/remotes/origin/{rev}"));
    candidates.push(format!("refs/tags/{rev}"));
    for name in &candidates {
        if let Ok(r) = repo.find_reference(name) {
            if let Ok(c) = r.peel_to_commit() {
                return Some(c.id());
            }
        }
    }
    // A commit id, full or abbreviated.
    if rev.len() >= 7 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        if let Ok(obj) = repo.revparse_single(rev) {
            return obj.peel_to_commit().ok().map(|c| c.id());
        }
    }
    None
}

fn unknown_rev(repo: &Repository, url: &str, rev: &str) -> GitError {
    let mut branches = Vec::new();
    let mut tags = Vec::new();
    if let Ok(refs) = repo.references() {
        for r in refs.flatten() {
            let Ok(name) = r.name() else { continue };
            if let Some(b) = name
                .strip_prefix("refs/heads/")
                .or_else(|| name.strip_prefix("refs/remotes/origin/"))
            {
                branches.push(b.to_string());
            } else if let Some(t) = name.strip_prefix("refs/tags/") {
                tags.push(t.to_string());
            }
        }
    }
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    GitError::UnknownRev {
        url: url.to_string(),
        rev: rev.to_string(),
        branches: list(branches),
        tags: list(tags),
    }
}

/// One entry of a tree, before any bytes are read.
#[derive(Debug, Clone)]
pub struct TreeEntry {
    /// Path relative to the source root (the `subdir`, if any, is stripped).
    pub path: String,
    pub oid: Oid,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Blob,
    Symlink,
    Submodule,
}

/// Lists every non-tree entry under `subdir` of the commit's tree, in path order.
pub fn list_tree(
    repo: &Repository,
    commit: Oid,
    subdir: Option<&str>,
    url: &str,
) -> Result<Vec<TreeEntry>, GitError> {
    let git = |source| GitError::Git {
        url: url.to_string(),
        source,
    };
    let mut tree = repo.find_commit(commit).map_err(git)?.tree().map_err(git)?;
    if let Some(sub) = subdir {
        let entry = tree.get_path(Path::new(sub)).map_err(git)?;
        tree = repo.find_tree(entry.id()).map_err(git)?;
    }
    let mut out = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |root, entry| {
        let kind = match (entry.kind(), entry.filemode()) {
            (_, 0o160000) => EntryKind::Submodule,
            (_, 0o120000) => EntryKind::Symlink,
            (Some(ObjectType::Blob), _) => EntryKind::Blob,
            _ => return TreeWalkResult::Ok,
        };
        let name = entry.name().unwrap_or_default();
        out.push(TreeEntry {
            path: format!("{root}{name}"),
            oid: entry.id(),
            kind,
        });
        TreeWalkResult::Ok
    })
    .map_err(git)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_longest_prefix_env_wins_relative_targets() {
        let cfg: std::collections::BTreeMap<String, String> = [
            ("https://github.com/".to_string(), "/m/gh/".to_string()),
            (
                "https://github.com/Roblox/".to_string(),
                "/m/roblox/".to_string(),
            ),
        ]
        .into();
        let rw = Rewrites::new(&cfg, None, Path::new("/ws")).unwrap();
        assert_eq!(
            rw.apply("https://github.com/rojo-rbx/rojo"),
            "/m/gh/rojo-rbx/rojo"
        );
        assert_eq!(
            rw.apply("https://github.com/Roblox/creator-docs"),
            "/m/roblox/creator-docs"
        );
        assert_eq!(rw.apply("https://gitlab.com/x"), "https://gitlab.com/x");
        let rw =
            Rewrites::new(&cfg, Some("https://github.com/=mirrors/"), Path::new("/ws")).unwrap();
        assert_eq!(
            rw.apply("https://github.com/rojo-rbx/rojo"),
            "/ws/mirrors/rojo-rbx/rojo"
        );
        assert!(matches!(
            Rewrites::new(&cfg, Some("nonsense"), Path::new("/ws")),
            Err(GitError::BadRewrite(_))
        ));
    }

    #[test]
    fn local_or_remote() {
        for l in ["/srv/repo", "./repo", "../repo", "file:///srv/repo", "repo"] {
            assert!(is_local(l), "{l}");
        }
        for r in [
            "https://github.com/a/b",
            "git@github.com:a/b.git",
            "ssh://host/x",
            "host:path",
        ] {
            assert!(!is_local(r), "{r}");
        }
    }
}

/// What to put at one path when writing a tree (used by `quickstart` to turn the embedded sample
/// into real repositories, and by tests to build fixtures).
#[derive(Debug, Clone)]
pub enum TreeContent {
    File(Vec<u8>),
    Symlink(String),
    /// A submodule entry pointing at a commit of another repository.
    Gitlink(Oid),
}

/// Commits exactly `files` as the whole tree on `refs/heads/<branch>` (parent: the branch's
/// current commit, if any) with a fixed author and the given time, and points HEAD at it.
pub fn commit_files(
    repo: &Repository,
    branch: &str,
    message: &str,
    time: i64,
    files: &[(String, TreeContent)],
) -> Result<Oid, git2::Error> {
    let tree = write_tree(repo, files)?;
    let tree = repo.find_tree(tree)?;
    let sig = git2::Signature::new("vcurate", "vcurate@example.com", &git2::Time::new(time, 0))?;
    let refname = format!("refs/heads/{branch}");
    let parent = repo
        .find_reference(&refname)
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo.commit(Some(&refname), &sig, &sig, message, &tree, &parents)?;
    repo.set_head(&refname)?;
    Ok(oid)
}

fn write_tree(repo: &Repository, files: &[(String, TreeContent)]) -> Result<Oid, git2::Error> {
    let mut here = Vec::new();
    let mut dirs: std::collections::BTreeMap<&str, Vec<(String, TreeContent)>> = Default::default();
    for (path, content) in files {
        match path.split_once('/') {
            Some((dir, rest)) => dirs
                .entry(dir)
                .or_default()
                .push((rest.to_string(), content.clone())),
            None => here.push((path.as_str(), content)),
        }
    }
    let mut tb = repo.treebuilder(None)?;
    for (name, content) in here {
        match content {
            TreeContent::File(bytes) => tb.insert(name, repo.blob(bytes)?, 0o100644)?,
            TreeContent::Symlink(target) => {
                tb.insert(name, repo.blob(target.as_bytes())?, 0o120000)?
            }
            TreeContent::Gitlink(commit) => tb.insert(name, *commit, 0o160000)?,
        };
    }
    for (name, sub) in dirs {
        tb.insert(name, write_tree(repo, &sub)?, 0o040000)?;
    }
    tb.write()
}
