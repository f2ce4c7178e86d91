//! The opt-out list, `licenses/opt-out.toml`: data owners who asked to be left out. An entry
//! names an account (every repository of that owner, present and future, on any host, in any
//! case), one repository (`owner/name`, any case), a vcurate source, one document id, or a path
//! glob (alone, or within one of the others), each with a reason and a date.
//!
//! Ingest does not fetch a source the list names whole; `snapshot create` excludes every document
//! whose provenance matches (reason `opt_out`) and records the list's hash and entries; `vcurate
//! takedown` appends entries. Strict like every file people write: an unknown key, a missing
//! reason or date, or an entry that names nothing is an error with the file and line.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::config::{parse_toml, ConfigError};
use super::Provenance;

/// Where the list lives in a workspace.
pub const OPT_OUT_PATH: &str = "licenses/opt-out.toml";

/// `licenses/opt-out.toml` (`schemas/opt-out.schema.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutFile {
    #[serde(default, rename = "opt-out")]
    pub opt_out: Vec<OptOutEntry>,
}

/// One opt-out: what it covers, why, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutEntry {
    /// An account: every repository of this owner (any host, any case), present and future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// One repository, `owner/name` (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// A vcurate source id (for sources with no owner, such as local folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// One document, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// A glob on the document's path (`src/secret/**`): alone it applies in every source; with
    /// `owner`, `repo` or `source`, only there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why (who asked, the request's reference).
    pub reason: String,
    /// When the request was made, `YYYY-MM-DD`.
    pub date: String,
}

impl OptOutEntry {
    /// A short description: `owner Foo`, `repo foo/bar, path src/**`, `document 0a1b...`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("owner", &self.owner),
            ("repo", &self.repo),
            ("source", &self.source),
            ("document", &self.document),
            ("path", &self.path),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k} {v}"));
            }
        }
        parts.join(", ")
    }

    /// Whether the entry covers a whole source (no path, no single document), so ingest need
    /// not fetch it.
    pub fn whole_source(&self) -> bool {
        self.path.is_none() && self.document.is_none()
    }

    fn check(&self) -> Result<(), String> {
        let scopes = [&self.owner, &self.repo, &self.source, &self.document]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if scopes == 0 && self.path.is_none() {
            return Err(
                "an entry must name one of `owner`, `repo`, `source`, `document`, or a `path` glob"
                    .into(),
            );
        }
        if scopes > 1 {
            return Err(
                "an entry names one of `owner`, `repo`, `source`, `document` (write two entries for two)"
                    .into(),
            );
        }
        if self.document.is_some() && self.path.is_some() {
            return Err("`path` narrows an owner, repo or source, not a document".into());
        }
        for (k, v) in [
            ("owner", &self.owner),
            ("source", &self.source),
            ("document", &self.document),
        ] {
            if v.as_deref()
                .is_some_and(|v| v.trim().is_empty() || v.contains('/'))
            {
                return Err(format!("`{k}` must be one non-empty name without `/`"));
            }
        }
        if let Some(r) = &self.repo {
            let parts: Vec<&str> = r.split('/').collect();
            if parts.len() != 2 || parts.iter().any(|p| p.trim().is_empty()) {
                return Err(format!("`repo` is `owner/name`, got `{r}`"));
            }
        }
        if let Some(p) = &self.path {
            globset::Glob::new(p).map_err(|e| format!("bad `path` glob `{p}`: {e}"))?;
        }
        if self.reason.trim().is_empty() {
            return Err("`reason` must say why (who asked, the request's reference)".into());
        }
        chrono::NaiveDate::parse_from_str(&self.date, "%Y-%m-%d")
            .map_err(|_| format!("`date` is YYYY-MM-DD, got `{}`", self.date))?;
        Ok(())
    }
}

/// A loaded opt-out list.
#[derive(Debug, Clone, Default)]
pub struct OptOutList {
    pub entries: Vec<OptOutEntry>,
    /// 16 hex digits of blake3 over the file's bytes (None when there is no file).
    pub hash: Option<String>,
    globs: Vec<Option<globset::GlobMatcher>>,
}

/// The owner and name of a repository URL (`https://host/owner/name(.git)`,
/// `git@host:owner/name.git`, `ssh://git@host/owner/name`), or of a local path's last two
/// folders; lower-cased. `https://github.com/owner/name/blob/...` (a row's declared origin)
/// gives `owner/name` too.
pub fn repo_of(url: &str) -> Option<(String, String)> {
    let url = url.trim().trim_end_matches('/');
    let rest = match url.split_once("://") {
        Some((scheme, r)) if scheme.eq_ignore_ascii_case("file") => r,
        Some((_, r)) => {
            // scheme://[user@]host[:port]/owner/name[/...]
            let r = r.split_once('/').map(|(_, p)| p)?;
            let segs: Vec<&str> = r.split('/').filter(|s| !s.is_empty()).collect();
            return (segs.len() >= 2).then(|| pair(segs[0], segs[1]));
        }
        // scp-like: git@host:owner/name.git
        None => match url.split_once(':') {
            Some((host, path)) if host.contains('@') => path,
            _ => url,
        },
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    (segs.len() >= 2).then(|| pair(segs[segs.len() - 2], segs[segs.len() - 1]))
}

fn pair(owner: &str, name: &str) -> (String, String) {
    (
        owner.to_lowercase(),
        name.trim_end_matches(".git").to_lowercase(),
    )
}

impl OptOutList {
    /// Parses a list; `path` names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<OptOutList, ConfigError> {
        let file: OptOutFile = parse_toml(path, text)?;
        // The line of the n-th `[[opt-out]]` header, for errors about an entry.
        let headers: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with("[[opt-out]]"))
            .map(|(i, _)| i + 1)
            .collect();
        let mut globs = Vec::new();
        for (i, e) in file.opt_out.iter().enumerate() {
            e.check()
                .map_err(|m| ConfigError::new(path, headers.get(i).copied(), m))?;
            globs.push(e.path.as_deref().map(|p| {
                globset::GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .expect("checked")
                    .compile_matcher()
            }));
        }
        Ok(OptOutList {
            entries: file.opt_out,
            hash: Some(blake3::hash(text.as_bytes()).to_hex()[..16].to_string()),
            globs,
        })
    }

    /// Reads the workspace's list (`root/licenses/opt-out.toml`); an absent file is an empty
    /// list.
    pub fn load(root: &Path) -> Result<OptOutList, ConfigError> {
        let path = root.join(OPT_OUT_PATH);
        match fs_err::read_to_string(&path) {
            Ok(text) => OptOutList::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(OptOutList::default()),
            Err(e) => Err(ConfigError::new(&path, None, e.to_string())),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether an entry's owner/repo/source scope covers a source or a URL.
    fn scope_matches(e: &OptOutEntry, source_id: &str, urls: &[&str]) -> bool {
        if let Some(s) = &e.source {
            return s == source_id;
        }
        let repos: Vec<(String, String)> = urls.iter().filter_map(|u| repo_of(u)).collect();
        if let Some(o) = &e.owner {
            let o = o.to_lowercase();
            return repos.iter().any(|(owner, _)| *owner == o);
        }
        if let Some(r) = &e.repo {
            let r = r.to_lowercase();
            return repos.iter().any(|(o, n)| format!("{o}/{n}") == r);
        }
        // A path-only entry applies everywhere.
        e.document.is_none()
    }

    /// The entry that leaves out a whole source (declared URL and id), if any.
    pub fn source_entry(&self, source_id: &str, url: &str) -> Option<&OptOutEntry> {
        self.entries.iter().find(|e| {
            e.whole_source()
                && (e.owner.is_some() || e.repo.is_some() || e.source.is_some())
                && Self::scope_matches(e, source_id, &[url])
        })
    }

    /// The entry that leaves out a document, if any: by id, or by its source, declared URL, a
    /// dataset row's declared origin, and path.
    pub fn document_entry(&self, id: &str, p: &Provenance) -> Option<&OptOutEntry> {
        let mut urls = vec![p.url.as_str()];
        if let Some(o) = &p.origin {
            urls.push(o.as_str());
        }
        self.entry_for(id, &p.source_id, &urls, &p.path)
    }

    /// The entry that leaves out a document known by its id, source, URLs and path.
    pub fn entry_for(
        &self,
        id: &str,
        source_id: &str,
        urls: &[&str],
        path: &str,
    ) -> Option<&OptOutEntry> {
        self.entries.iter().zip(&self.globs).find_map(|(e, glob)| {
            let hit = match &e.document {
                Some(d) => d == id,
                None => {
                    Self::scope_matches(e, source_id, urls)
                        && glob.as_ref().is_none_or(|g| g.is_match(path))
                }
            };
            hit.then_some(e)
        })
    }

    /// A list of the given entries (checked as in a file), with no file behind it.
    pub fn from_entries(entries: Vec<OptOutEntry>) -> Result<OptOutList, String> {
        let text = toml::to_string(&OptOutFile { opt_out: entries }).expect("entries serialize");
        let mut list = OptOutList::parse(Path::new(OPT_OUT_PATH), &text).map_err(|e| e.message)?;
        list.hash = None;
        Ok(list)
    }
}

/// Appends an entry to the list file (creating it with a header), keeping what is there, and
/// checks the result parses. Returns the new list.
pub fn append(root: &Path, entry: &OptOutEntry) -> Result<OptOutList, ConfigError> {
    let path = root.join(OPT_OUT_PATH);
    let old = match fs_err::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DEFAULT_OPT_OUT.to_string(),
        Err(e) => return Err(ConfigError::new(&path, None, e.to_string())),
    };
    let table = toml::to_string(&OptOutFile {
        opt_out: vec![entry.clone()],
    })
    .expect("an entry serializes");
    let mut text = old;
    if !text.ends_with('\n') && !text.is_empty() {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&table);
    let list = OptOutList::parse(&path, &text)?;
    crate::core::fs::write_atomic(&path, text.as_bytes())
        .map_err(|e| ConfigError::new(&path, None, e.to_string()))?;
    Ok(list)
}

/// The list `vcurate init` writes: no entries, the format in comments.
pub const DEFAULT_OPT_OUT: &str = r#"# Data owners who asked to be left out. Ingest does not fetch a source an entry names whole;
# `vcurate snapshot create` excludes every matching document (reason `opt_out`) and records
# this list in snapshot.toml; `vcurate takedown` appends entries and rebuilds snapshots.
#
# [[opt-out]]
# owner = "SomeAccount"          # every repository of this owner, any host, any case
# reason = "opt-out request #12 by the account owner"
# date = "2025-01-31"
#
# [[opt-out]]
# repo = "owner/name"            # one repository, any case; add `path = "src/**"` for part of it
# reason = "..."
# date = "2025-01-31"
#
# Also: `source = "<source id>"`, `document = "<document id>"`, or `path = "<glob>"` alone.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn prov(source: &str, url: &str, path: &str, origin: Option<&str>) -> Provenance {
        Provenance {
            source_id: source.into(),
            source_kind: crate::core::SourceKind::Git,
            url: url.into(),
            commit: None,
            path: path.into(),
            blob_id: None,
            span: None,
            unit_kind: crate::core::UnitKind::File,
            unit_name: None,
            origin: origin.map(String::from),
            rights_basis: crate::core::RightsBasis::OpenSource,
            license_candidates: vec![],
            prose_license: None,
            code_license: None,
            attribution: None,
            ingest_time: String::new(),
            tool_version: String::new(),
            steps: vec![],
        }
    }

    #[test]
    fn repo_urls_of_every_shape_give_owner_and_name() {
        let r = |u: &str| repo_of(u).map(|(o, n)| format!("{o}/{n}"));
        assert_eq!(
            r("https://github.com/Roblox/Roact"),
            Some("roblox/roact".into())
        );
        assert_eq!(
            r("https://github.com/Roblox/Roact.git/"),
            Some("roblox/roact".into())
        );
        assert_eq!(
            r("git@github.com:Owner/Repo.git"),
            Some("owner/repo".into())
        );
        assert_eq!(r("ssh://git@host:22/o/r"), Some("o/r".into()));
        assert_eq!(
            r("https://github.com/o/r/blob/main/src/x.lua"),
            Some("o/r".into())
        );
        assert_eq!(r("/srv/mirrors/Owner/Repo"), Some("owner/repo".into()));
        assert_eq!(
            r("file:///srv/mirrors/Owner/Repo"),
            Some("owner/repo".into())
        );
        assert_eq!(r("https://example.com"), None);
    }

    #[test]
    fn owner_and_repo_match_in_any_case_and_paths_narrow() {
        let text = "[[opt-out]]\nowner = \"SomeUser\"\nreason = \"asked\"\ndate = \"2025-01-02\"\n\n[[opt-out]]\nrepo = \"other/THING\"\npath = \"src/private/**\"\nreason = \"asked\"\ndate = \"2025-01-03\"\n";
        let l = OptOutList::parse(Path::new("opt-out.toml"), text).unwrap();
        assert!(l
            .source_entry("a", "https://github.com/someuser/anything")
            .is_some());
        assert!(
            l.source_entry("b", "https://github.com/Other/thing")
                .is_none(),
            "a path entry never skips a whole source"
        );
        let p = prov(
            "b",
            "https://github.com/Other/thing",
            "src/private/x.lua",
            None,
        );
        assert!(l.document_entry("d", &p).is_some());
        let p = prov(
            "b",
            "https://github.com/Other/thing",
            "src/public/x.lua",
            None,
        );
        assert!(l.document_entry("d", &p).is_none());
        // A dataset row's declared origin counts.
        let p = prov(
            "chat",
            "data/chat.jsonl",
            "data/chat.jsonl",
            Some("https://github.com/SOMEUSER/x/blob/main/a.lua"),
        );
        assert!(l.document_entry("d", &p).is_some());
    }

    #[test]
    fn bad_entries_name_the_file_and_the_entry_line() {
        let bad = [
            ("[[opt-out]]\nreason = \"r\"\ndate = \"2025-01-01\"\n", "must name one"),
            ("[[opt-out]]\nowner = \"a\"\nrepo = \"a/b\"\nreason = \"r\"\ndate = \"2025-01-01\"\n", "one of"),
            ("[[opt-out]]\nrepo = \"ab\"\nreason = \"r\"\ndate = \"2025-01-01\"\n", "owner/name"),
            ("[[opt-out]]\nowner = \"a\"\nreason = \"r\"\ndate = \"01/02/2025\"\n", "YYYY-MM-DD"),
            ("[[opt-out]]\nowner = \"a\"\nreason = \" \"\ndate = \"2025-01-01\"\n", "reason"),
        ];
        for (text, want) in bad {
            let e = OptOutList::parse(Path::new("licenses/opt-out.toml"), text).unwrap_err();
            assert_eq!(e.line, Some(1), "{e}");
            assert!(e.to_string().contains(want), "{e}");
        }
        let e = OptOutList::parse(
            Path::new("x.toml"),
            "[[opt-out]]\nowner = \"a\"\nreason = \"r\"\ndate = \"2025-01-01\"\nwhy = \"x\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("why"), "{e}");
    }

    #[test]
    fn append_keeps_the_file_and_adds_a_valid_entry() {
        let dir = tempfile::tempdir().unwrap();
        let e = OptOutEntry {
            owner: None,
            repo: Some("a/b".into()),
            source: None,
            document: None,
            path: None,
            reason: "takedown".into(),
            date: "2025-02-03".into(),
        };
        let l = append(dir.path(), &e).unwrap();
        assert_eq!(l.entries, vec![e.clone()]);
        let l = append(dir.path(), &e).unwrap();
        assert_eq!(l.entries.len(), 2);
        let text = fs_err::read_to_string(dir.path().join(OPT_OUT_PATH)).unwrap();
        assert!(text.starts_with("# Data owners"), "{text}");
    }
}
