//! Source manifests: `sources/*.toml`, one source per file, the file stem is its id.
//!
//! Parsing is strict: an unknown key, a key that does not belong to the source's kind, or a
//! missing required key is an error naming the file and line. Manifests are parsed into one flat
//! raw struct (so TOML keeps line information for every key) and then validated per kind.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::{RightsBasis, SourceKind};
use crate::workspace::{parse_toml, ConfigError};

/// The default include globs: Luau files plus Markdown.
pub const DEFAULT_INCLUDE: &[&str] = &["**/*.lua", "**/*.luau", "**/*.md"];

/// A source manifest as written (the JSON Schema in `schemas/source-manifest.schema.json` is
/// generated from this type).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawManifest {
    /// git | docs | local | jsonl
    pub kind: Option<SourceKind>,
    /// Repository URL (git, docs).
    pub url: Option<String>,
    /// Branch, tag or commit (git, docs). `sources.lock` pins the commit.
    pub rev: Option<String>,
    /// Directory or file (local, jsonl); relative to the workspace root.
    pub path: Option<String>,
    /// Globs of files to ingest, relative to the source root (after `subdir`).
    pub include: Option<Vec<String>>,
    /// Globs of files to leave out; every excluded path gets a skip record.
    pub exclude: Option<Vec<String>>,
    /// Only ingest below this folder of the repository.
    pub subdir: Option<String>,
    pub rights_basis: Option<RightsBasis>,
    /// A cross-check against detected evidence, never a substitute for it.
    pub expected_license: Option<String>,
    /// docs: the site the pages are published at, for attribution URLs.
    pub site_url: Option<String>,
    /// docs: the folder of the repository that maps to `site-url`.
    pub content_root: Option<String>,
    /// docs: license of prose.
    pub prose_license: Option<String>,
    /// docs: license of code samples.
    pub code_license: Option<String>,
    /// docs: who to attribute.
    pub author: Option<String>,
    /// jsonl: the license of rows that do not carry their own.
    pub license: Option<String>,
    /// jsonl: row fields (dotted paths) holding per-row provenance.
    pub fields: Option<FieldMap>,
}

/// jsonl field mapping: which row fields carry per-row provenance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FieldMap {
    pub source: Option<String>,
    pub license: Option<String>,
    pub rights_basis: Option<String>,
}

/// Where a source's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Git {
        url: String,
        rev: String,
    },
    /// The path resolved against the workspace root.
    Path(PathBuf),
}

/// Settings only docs sources have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsSettings {
    pub site_url: String,
    pub content_root: String,
    pub prose_license: String,
    pub code_license: String,
    pub author: Option<String>,
}

/// A validated source.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub manifest_path: PathBuf,
    /// blake3 of the manifest text: a changed manifest re-ingests the source.
    pub manifest_hash: String,
    pub kind: SourceKind,
    pub location: Location,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub subdir: Option<String>,
    pub rights_basis: RightsBasis,
    pub expected_license: Option<String>,
    pub docs: Option<DocsSettings>,
    pub license: Option<String>,
    pub fields: FieldMap,
    /// The URL or path exactly as the manifest declares it.
    declared: String,
}

impl Source {
    /// The URL or path as declared (never a rewritten mirror, never made absolute): what
    /// provenance records.
    pub fn declared_location(&self) -> String {
        self.declared.clone()
    }
}

/// Loads every `*.toml` in `dir`, sorted by id. Any bad manifest is an error.
pub fn load_dir(dir: &Path, root: &Path) -> Result<Vec<Source>, ConfigError> {
    let mut paths: Vec<PathBuf> = match fs_err::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ConfigError::new(dir, None, e.to_string())),
    };
    paths.sort();
    paths.iter().map(|p| load(p, root)).collect()
}

/// Loads and validates one manifest.
pub fn load(path: &Path, root: &Path) -> Result<Source, ConfigError> {
    let text =
        fs_err::read_to_string(path).map_err(|e| ConfigError::new(path, None, e.to_string()))?;
    parse(path, &text, root)
}

/// Validates manifest text. `root` resolves relative `path`s.
pub fn parse(path: &Path, text: &str, root: &Path) -> Result<Source, ConfigError> {
    let raw: RawManifest = parse_toml(path, text)?;
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ConfigError::new(path, None, format!("source id `{id}` (the file stem) may only use ASCII letters, digits, `-`, `_` and `.`; rename the file")));
    }
    // The line a key is written on, for errors about keys that parsed but do not belong.
    let key_line = |key: &str| {
        text.lines()
            .position(|l| {
                l.trim_start().starts_with(key)
                    && l.trim_start()[key.len()..].trim_start().starts_with('=')
            })
            .map(|i| i + 1)
    };
    let err = |key: &str, msg: String| ConfigError::new(path, key_line(key), msg);
    let kind = raw.kind.ok_or_else(|| {
        ConfigError::new(
            path,
            None,
            "missing `kind` (one of git, docs, local, jsonl)",
        )
    })?;

    let letter = match kind {
        SourceKind::Git => 'g',
        SourceKind::Docs => 'd',
        SourceKind::Local => 'l',
        SourceKind::Jsonl => 'j',
    };
    let allowed: Vec<&str> = KEYS
        .iter()
        .filter(|(_, kinds)| kinds.contains(letter))
        .map(|(k, _)| *k)
        .collect();
    for key in present_keys(&raw) {
        if !allowed.contains(&key) {
            return Err(err(
                key,
                format!(
                    "key `{key}` does not apply to a `{}` source (allowed: {})",
                    kind.as_str(),
                    allowed.join(", ")
                ),
            ));
        }
    }
    let required = |v: &Option<String>, key: &str| -> Result<String, ConfigError> {
        match v {
            Some(s) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(ConfigError::new(
                path,
                None,
                format!("a `{}` source needs `{key}`", kind.as_str()),
            )),
        }
    };
    let location = match kind {
        SourceKind::Git | SourceKind::Docs => Location::Git {
            url: required(&raw.url, "url")?,
            rev: required(&raw.rev, "rev")?,
        },
        SourceKind::Local | SourceKind::Jsonl => {
            let p = required(&raw.path, "path")?;
            let p = Path::new(&p);
            Location::Path(if p.is_absolute() {
                p.to_path_buf()
            } else {
                root.join(p)
            })
        }
    };
    let rights_basis = match (raw.rights_basis, kind) {
        (Some(r), _) => r,
        (None, SourceKind::Local) => RightsBasis::OwnCodebase,
        (None, _) => return Err(ConfigError::new(path, None, "missing `rights-basis` (open_source, own_codebase, permissioned, generated, public_domain): say on what basis this material may be used")),
    };
    for (key, globs) in [("include", &raw.include), ("exclude", &raw.exclude)] {
        for g in globs.iter().flatten() {
            globset::Glob::new(g)
                .map_err(|e| err(key, format!("bad glob `{g}` in `{key}`: {e}")))?;
        }
    }
    if let Some(sub) = &raw.subdir {
        if Path::new(sub).is_absolute() || sub.split('/').any(|c| c == "..") {
            return Err(err(
                "subdir",
                format!("`subdir` must be a relative path inside the source, got `{sub}`"),
            ));
        }
    }
    let docs = match kind {
        SourceKind::Docs => Some(DocsSettings {
            site_url: required(&raw.site_url, "site-url")?
                .trim_end_matches('/')
                .to_string(),
            content_root: raw
                .content_root
                .clone()
                .unwrap_or_default()
                .trim_matches('/')
                .to_string(),
            prose_license: required(&raw.prose_license, "prose-license")?,
            code_license: required(&raw.code_license, "code-license")?,
            author: raw.author.clone(),
        }),
        _ => None,
    };
    let default_include = match kind {
        SourceKind::Docs => vec![
            "**/*.md".to_string(),
            "**/*.yaml".to_string(),
            "**/*.yml".to_string(),
        ],
        _ => DEFAULT_INCLUDE.iter().map(|s| s.to_string()).collect(),
    };
    Ok(Source {
        id,
        manifest_path: path.to_path_buf(),
        manifest_hash: blake3::hash(text.as_bytes()).to_hex()[..16].to_string(),
        kind,
        location,
        include: raw.include.clone().unwrap_or(default_include),
        exclude: raw.exclude.clone().unwrap_or_default(),
        subdir: raw
            .subdir
            .clone()
            .map(|s| s.trim_matches('/').to_string())
            .filter(|s| !s.is_empty()),
        rights_basis,
        expected_license: raw.expected_license.clone(),
        docs,
        license: raw.license.clone(),
        fields: raw.fields.clone().unwrap_or_default(),
        declared: raw.url.clone().or(raw.path.clone()).unwrap_or_default(),
    })
}

/// The kebab-case keys a raw manifest sets.
fn present_keys(raw: &RawManifest) -> Vec<&'static str> {
    let value = toml::Value::try_from(raw).expect("manifest serializes");
    let table = value.as_table().cloned().unwrap_or_default();
    KEYS.iter()
        .map(|(k, _)| *k)
        .filter(|k| table.contains_key(*k))
        .collect()
}

/// Every manifest key and the kinds it applies to (g=git, d=docs, l=local, j=jsonl).
const KEYS: &[(&str, &str)] = &[
    ("kind", "gdlj"),
    ("url", "gd"),
    ("rev", "gd"),
    ("path", "lj"),
    ("include", "gdl"),
    ("exclude", "gdl"),
    ("subdir", "gdl"),
    ("rights-basis", "gdlj"),
    ("expected-license", "gdl"),
    ("site-url", "d"),
    ("content-root", "d"),
    ("prose-license", "d"),
    ("code-license", "d"),
    ("author", "d"),
    ("license", "j"),
    ("fields", "j"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Source, ConfigError> {
        parse(Path::new("sources/rojo.toml"), text, Path::new("/ws"))
    }

    #[test]
    fn git_manifest_with_defaults() {
        let s = p("kind = \"git\"\nurl = \"https://github.com/rojo-rbx/rojo\"\nrev = \"master\"\nrights-basis = \"open_source\"\n").unwrap();
        assert_eq!(s.id, "rojo");
        assert_eq!(
            s.location,
            Location::Git {
                url: "https://github.com/rojo-rbx/rojo".into(),
                rev: "master".into()
            }
        );
        assert_eq!(s.include, vec!["**/*.lua", "**/*.luau", "**/*.md"]);
        assert_eq!(s.rights_basis, RightsBasis::OpenSource);
    }

    #[test]
    fn unknown_key_is_an_error_with_line() {
        let e = p("kind = \"git\"\nurl = \"u\"\nrev = \"main\"\nrights-basis = \"open_source\"\nexpected-licence = \"MIT\"\n").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.to_string().contains("expected-licence"), "{e}");
    }

    #[test]
    fn key_of_another_kind_is_an_error_with_line() {
        let e = p("kind = \"git\"\nurl = \"u\"\nrev = \"main\"\nrights-basis = \"open_source\"\nsite-url = \"https://x\"\n").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(
            e.to_string().contains("does not apply to a `git` source"),
            "{e}"
        );
    }

    #[test]
    fn missing_required_keys_and_bad_values() {
        assert!(
            p("kind = \"git\"\nurl = \"u\"\nrights-basis = \"open_source\"\n")
                .unwrap_err()
                .to_string()
                .contains("needs `rev`")
        );
        assert!(p("url = \"u\"\n")
            .unwrap_err()
            .to_string()
            .contains("missing `kind`"));
        assert!(p("kind = \"git\"\nurl = \"u\"\nrev = \"m\"\n")
            .unwrap_err()
            .to_string()
            .contains("rights-basis"));
        let e =
            p("kind = \"git\"\nurl = \"u\"\nrev = \"m\"\nrights-basis = \"stolen\"\n").unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        let e = p("kind = \"git\"\nurl = \"u\"\nrev = \"m\"\nrights-basis = \"open_source\"\ninclude = [\"a/{b\"]\n").unwrap_err();
        assert!(e.to_string().contains("bad glob"), "{e}");
        let e = p("kind = \"git\"\nurl = \"u\"\nrev = \"m\"\nrights-basis = \"open_source\"\nsubdir = \"../x\"\n").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
    }

    #[test]
    fn docs_and_local_and_jsonl() {
        let d = p("kind = \"docs\"\nurl = \"u\"\nrev = \"main\"\nrights-basis = \"open_source\"\nsite-url = \"https://create.roblox.com/docs/\"\ncontent-root = \"content/en-us\"\nprose-license = \"CC-BY-4.0\"\ncode-license = \"MIT\"\n").unwrap();
        let docs = d.docs.unwrap();
        assert_eq!(docs.site_url, "https://create.roblox.com/docs");
        assert_eq!(docs.code_license, "MIT");
        let l = p("kind = \"local\"\npath = \"../game/src\"\n").unwrap();
        assert_eq!(l.rights_basis, RightsBasis::OwnCodebase);
        assert_eq!(l.location, Location::Path(PathBuf::from("/ws/../game/src")));
        let j = p("kind = \"jsonl\"\npath = \"chat.jsonl\"\nrights-basis = \"generated\"\n[fields]\nlicense = \"meta.license\"\n").unwrap();
        assert_eq!(j.fields.license.as_deref(), Some("meta.license"));
        let e = p("kind = \"jsonl\"\npath = \"chat.jsonl\"\nrights-basis = \"generated\"\n[fields]\nlicence = \"x\"\n").unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
    }
}
