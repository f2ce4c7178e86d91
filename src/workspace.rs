//! The workspace: a directory holding `vcurate.toml`, `sources/`, `licenses/` and `dataset/`.
//! Commands find it like cargo finds `Cargo.toml` (nearest ancestor) or take `-C DIR`.
//!
//! Every file a human writes is parsed strictly: an unknown or misspelled key is an error that
//! names the file, the line and the key. Nothing here falls back to a silent default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod settings;

pub use crate::core::config::{line_of, parse_toml, read_toml, ConfigError};

pub const CONFIG_FILE: &str = "vcurate.toml";

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("no vcurate workspace found in {start} or any parent folder (looked for {CONFIG_FILE}); run `vcurate init DIR` to create one, or pass -C DIR")]
    NotFound { start: PathBuf },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `vcurate.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub git: GitConfig,
    #[serde(default)]
    pub audit: settings::AuditConfig,
    #[serde(default)]
    pub splits: settings::SplitsConfig,
    /// Eval sets registered for contamination checks.
    #[serde(default)]
    pub eval_sets: Vec<settings::EvalSetConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IngestConfig {
    /// Files larger than this are skipped with reason `too_large`.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_file_bytes: default_max_file_bytes(),
        }
    }
}

fn default_max_file_bytes() -> u64 {
    1024 * 1024
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GitConfig {
    /// URL prefix rewrites, like git's `url.<base>.insteadOf`: `"https://github.com/" =
    /// "/srv/mirrors/"`. A relative target is taken relative to the workspace root.
    #[serde(default)]
    pub rewrite: BTreeMap<String, String>,
    /// Where remote repositories are cloned (bare). Default: `.vcurate/git` in the workspace.
    pub cache_dir: Option<PathBuf>,
}

/// A located workspace and its parsed config.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
}

impl Workspace {
    /// Finds the workspace: `dir` itself when given (it must hold `vcurate.toml`), else the
    /// nearest ancestor of the current directory that holds one.
    pub fn discover(dir: Option<&Path>) -> Result<Workspace, WorkspaceError> {
        match dir {
            Some(d) => {
                let d = fs_err::canonicalize(d)?;
                if !d.join(CONFIG_FILE).is_file() {
                    return Err(WorkspaceError::NotFound { start: d });
                }
                Workspace::open(&d)
            }
            None => Workspace::find(&std::env::current_dir()?),
        }
    }

    /// Opens the nearest workspace at or above `start`.
    pub fn find(start: &Path) -> Result<Workspace, WorkspaceError> {
        let start = fs_err::canonicalize(start)?;
        let root = start
            .ancestors()
            .find(|a| a.join(CONFIG_FILE).is_file())
            .map(Path::to_path_buf);
        let root = root.ok_or(WorkspaceError::NotFound { start })?;
        Workspace::open(&root)
    }

    /// Opens the workspace rooted at `root`.
    pub fn open(root: &Path) -> Result<Workspace, WorkspaceError> {
        let config = read_toml(&root.join(CONFIG_FILE))?;
        Ok(Workspace {
            root: root.to_path_buf(),
            config,
        })
    }

    pub fn sources_dir(&self) -> PathBuf {
        self.root.join("sources")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("sources.lock")
    }
    pub fn dataset_dir(&self) -> PathBuf {
        self.root.join("dataset")
    }
    /// The ingested document store (bulky, git-ignored).
    pub fn store_dir(&self) -> PathBuf {
        self.dataset_dir().join("store")
    }
    pub fn licenses_dir(&self) -> PathBuf {
        self.root.join("licenses")
    }
    pub fn git_cache_dir(&self) -> PathBuf {
        match &self.config.git.cache_dir {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => self.root.join(p),
            None => self.root.join(".vcurate").join("git"),
        }
    }
    /// Resolves a path written in a workspace file: relative paths are relative to the root.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }
}

/// The default `vcurate.toml` written by `vcurate init`: every setting, commented.
pub const DEFAULT_CONFIG: &str = r#"# vcurate workspace configuration.
# Sources are declared one per file in sources/*.toml; the license policy lives in
# licenses/policy.toml; templates, snapshots and the ingested store live under dataset/.

[ingest]
# Files larger than this many bytes are skipped with reason `too_large`.
max-file-bytes = 1048576

[git]
# Where remote repositories are cloned (bare clones, read without checkout).
# cache-dir = ".vcurate/git"

# URL rewriting, like git's `insteadOf`: run offline against local mirrors. Provenance keeps
# the declared URL. The environment variable VCURATE_GIT_REWRITE="FROM=TO[,FROM=TO]" adds
# rules on top of these (and wins on the same FROM).
[git.rewrite]
# "https://github.com/" = "/srv/git-mirrors/"

[audit]
# The code-density rule, applied to every source and every rendered example: at least this many
# Luau code lines, counted with the parser (comments and blank lines do not count).
min-code-lines = 5
# Tools whose call arguments are Luau code (the Roblox Studio MCP server's `run_code`): in
# imported tool-calling conversations their string arguments count as code, beside the fenced
# Luau of every assistant turn.
code-tools = ["run_code"]
# Drop Luau files that do not parse / that the real Luau compiler rejects.
require-parse = true
require-compile = true
# Generated / minified / obfuscated heuristics and size bounds.
max-line-length = 1000
min-alnum-ratio = 0.25
max-entropy = 6.0
min-bytes = 1
max-bytes = 1048576

[audit.exact-dedup]
# Also ignore Luau comments / all formatting when comparing texts.
strip-comments = false
collapse-formatting = false

[audit.near-dedup]
# MinHash + LSH over 5-grams of Luau tokens; candidates are verified by true Jaccard.
threshold = 0.7
num-perm = 256
shingle-size = 5
# Drop all but one representative per cluster (false: only record clusters).
drop = true

[audit.contamination]
# Task texts (prompt, reference, tests) are split into prose and code and matched, normalized,
# by 13-word n-grams and 50-character windows; texts too short for either are matched whole.
ngram-words = 13
substring-chars = 50
whole-prompt-min-chars = 20
# Text shared by this many tasks (a common system prompt) is task boilerplate, not evidence.
boilerplate-min-tasks = 5
# Text found in at least this many documents, and this share of them, is a corpus idiom
# (`local Players = game:GetService("Players")`), not evidence. 0 turns the rule off.
idiom-min-documents = 20
idiom-min-fraction = 0.005
# A document leaks a task when it covers this share of the distinctive text of one of the
# task's parts (prose, code, or a short prompt), or this many distinctive characters of one.
min-score = 0.5
min-matched-chars = 300

[audit.secrets]
# Credentials and personal data, found with gitleaks' default rules (MIT, see NOTICE), vcurate's
# Roblox rules (.ROBLOSECURITY cookies, Open Cloud API keys and x-api-key headers, Discord webhook
# URLs) and e-mail / public IPv4 checks. Per kind: "drop" the document, "redact" the value with a
# placeholder (<SECRET>, <EMAIL>, <IP_ADDRESS>) before anything is rendered or frozen, or "off".
secret = "drop"
email = "redact"
ip-address = "redact"
# Overrides by rule id, e.g. "generic-api-key" = "redact" or "ip-address" = "off".
[audit.secrets.rules]

[splits]
# Target fractions of the documents that pass the audits (what an export holds); they sum to 1.
# A split with a non-zero target that gets no document fails the audit (mlx-lm refuses an empty
# valid.jsonl); one more than 5 points off its target is a warning. 0 turns a split off.
seed = 0
train = 0.8
valid = 0.1
test = 0.1
# Exact and near duplicates always share a split. On top of that, "source" keeps each source in
# one split and "file" each file (with its sections or members). A group larger than the smallest
# split's share is broken down (a source into its files, a file into its sections), so one big
# docs source cannot take a whole split.
group-by = "source"
# true: never break a group down; the audit warns with the achieved fractions when that misses
# the targets.
strict = false

# Eval sets that must not leak into training data (format: tasks | plain | luau-bench | open-game-eval).
# [[eval-sets]]
# name = "luau-basics"
# path = "dataset/evals/luau-basics.jsonl"
# format = "tasks"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_and_line() {
        let text = "[ingest]\nmax-file-bytes = 10\nmax-fle-bytes = 3\n";
        let err = parse_toml::<Config>(Path::new("vcurate.toml"), text).unwrap_err();
        assert_eq!(err.line, Some(3));
        let msg = err.to_string();
        assert!(msg.starts_with("vcurate.toml:3: "), "{msg}");
        assert!(msg.contains("max-fle-bytes"), "{msg}");
    }

    #[test]
    fn default_config_parses_and_init_refuses_to_overwrite() {
        let cfg: Config = parse_toml(Path::new("x"), DEFAULT_CONFIG).unwrap();
        assert_eq!(cfg.ingest.max_file_bytes, 1048576);
        let dir = tempfile::tempdir().unwrap();
        crate::scaffold::init_workspace(dir.path()).unwrap();
        let ws = Workspace::discover(Some(dir.path())).unwrap();
        assert!(ws.sources_dir().is_dir());
        assert!(crate::scaffold::init_workspace(dir.path()).is_err());
        // Discovery from a nested folder finds the nearest ancestor.
        let found = Workspace::find(&dir.path().join("dataset/templates")).unwrap();
        assert_eq!(found.root, fs_err::canonicalize(dir.path()).unwrap());
        let outside = tempfile::tempdir().unwrap();
        assert!(matches!(
            Workspace::find(outside.path()),
            Err(WorkspaceError::NotFound { .. })
        ));
    }
}
