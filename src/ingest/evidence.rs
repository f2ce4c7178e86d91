//! License evidence seen at ingest: license files and package manifests in the file's folder or
//! any ancestor folder, READMEs that talk about licensing (weak), and `SPDX-License-Identifier`
//! tags and license header comments in the file itself.
//!
//! Evidence inside a fixture folder (`test-projects/x/wally.toml`, `tests/fixtures/x/package.json`,
//! `spec/...`, `__fixtures__/`, `testdata/`, `examples/x/wally.toml`) is test or example data that
//! imitates a package: it is a candidate only for files below it, like any folder evidence, and
//! [`fixture_root`] lets the audit mark it, so that a fake manifest never sets a file's license
//! (the files inherit the license around the fixture).
//!
//! This module only collects candidates with where they were found. It never decides what the
//! license of a file is: that is the license audit's job, with the full evidence table.

use crate::core::{CandidateKind, LicenseCandidate};
use crate::store::EvidenceFile;

/// Package manifests whose `license` field counts as evidence.
const MANIFESTS: &[&str] = &[
    "wally.toml",
    "package.json",
    "Cargo.toml",
    "rotriever.toml",
    "pesde.toml",
];

/// What kind of evidence a path is, judged by its file name alone.
pub fn evidence_kind(path: &str) -> Option<CandidateKind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if MANIFESTS.contains(&name) {
        return Some(CandidateKind::PackageManifest);
    }
    let (stem, ext) = match name.split_once('.') {
        Some((s, e)) => (s, e.to_ascii_lowercase()),
        None => (name, String::new()),
    };
    if !matches!(
        ext.as_str(),
        "" | "txt" | "md" | "markdown" | "rst" | "lua" | "luau"
    ) {
        return None;
    }
    let upper = stem.to_ascii_uppercase();
    let license_like = ["LICENSE", "LICENCE", "COPYING", "UNLICENSE", "COPYRIGHT"]
        .iter()
        .any(|k| {
            upper == *k
                || upper
                    .strip_prefix(k)
                    .is_some_and(|rest| rest.starts_with(['-', '_']))
        });
    if license_like {
        return Some(CandidateKind::LicenseFile);
    }
    (upper == "README").then_some(CandidateKind::Readme)
}

/// Folder names whose contents are tests, test data or examples, not packages of their own:
/// the manifests in them are fake (a build tool's `test-projects/*/wally.toml`, a package
/// manager's `tests/fixtures/*/package.json`, an example project's `wally.toml`), and the files
/// in them belong to the repository around them. Matched case-insensitively, per path segment.
/// `examples/` is here because an example inside a library is the library's own code under the
/// library's license, whatever the example's manifest says.
const FIXTURE_DIRS: &[&str] = &[
    "fixtures",
    "fixture",
    "__fixtures__",
    "test-fixtures",
    "test_fixtures",
    "testdata",
    "test-data",
    "test_data",
    "test-projects",
    "test_projects",
    "testprojects",
    "tests",
    "test",
    "__tests__",
    "spec",
    "specs",
    "examples",
    "example",
];

/// Folder names that hold installed third-party packages (wally's `Packages/_Index/`,
/// `node_modules/`, `vendor/`). A package there is real, wherever it sits: its evidence is no
/// fixture evidence even inside a test tree, and keeps its own license.
const VENDOR_DIRS: &[&str] = &["_index", "node_modules", "vendor"];

/// The fixture folder an evidence path lies in (the path up to and including the first fixture
/// folder after the last vendored-package folder), or None.
/// `tests/fixtures/x/package.json` -> `tests`; `test-projects/a/wally.toml` -> `test-projects`;
/// a root `LICENSE` -> None; `spec/Packages/_Index/x/y/wally.toml` -> None (a vendored package).
pub fn fixture_root(path: &str) -> Option<&str> {
    let mut end = 0;
    let mut root = None;
    for part in path.split('/') {
        let next = end + part.len();
        // The file name itself is not a folder.
        if next >= path.len() {
            break;
        }
        let lower = part.to_ascii_lowercase();
        if VENDOR_DIRS.contains(&lower.as_str()) {
            root = None;
        } else if root.is_none() && FIXTURE_DIRS.contains(&lower.as_str()) {
            root = Some(&path[..next]);
        }
        end = next + 1;
    }
    root
}

/// The folder part of a path ("" for the root).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

/// Whether `dir` is `path`'s folder or one of its ancestors.
fn is_ancestor_dir(dir: &str, path: &str) -> bool {
    dir.is_empty() || (path.starts_with(dir) && path[dir.len()..].starts_with('/'))
}

/// The `license` value of a package manifest, if it declares one.
pub fn manifest_license(path: &str, text: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let value = if name == "package.json" {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        match v.get("license")? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => {
                o.get("type").and_then(|t| t.as_str()).map(String::from)
            }
            _ => None,
        }
    } else {
        let v: toml::Table = toml::from_str(text).ok()?;
        let from = |t: &toml::Table| t.get("license").and_then(|l| l.as_str()).map(String::from);
        v.get("package")
            .and_then(|p| p.as_table())
            .and_then(from)
            .or_else(|| from(&v))
    };
    value
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Candidates from evidence files in `doc_path`'s folder and its ancestors, root first.
pub fn tree_candidates(doc_path: &str, evidence: &[EvidenceFile]) -> Vec<LicenseCandidate> {
    let mut out = Vec::new();
    for ev in evidence {
        if !is_ancestor_dir(parent(&ev.path), doc_path) || ev.path == doc_path {
            continue;
        }
        let Some(kind) = evidence_kind(&ev.path) else {
            continue;
        };
        let cand = match kind {
            CandidateKind::LicenseFile => {
                let first = ev
                    .text
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .unwrap_or_default();
                Some(LicenseCandidate {
                    kind,
                    path: ev.path.clone(),
                    line: None,
                    value: first.chars().take(120).collect(),
                })
            }
            CandidateKind::PackageManifest => {
                manifest_license(&ev.path, &ev.text).map(|value| LicenseCandidate {
                    kind,
                    path: ev.path.clone(),
                    line: None,
                    value,
                })
            }
            CandidateKind::Readme => ev
                .text
                .lines()
                .enumerate()
                .find(|(_, l)| mentions_license(l))
                .map(|(i, l)| LicenseCandidate {
                    kind,
                    path: ev.path.clone(),
                    line: Some(i as u32 + 1),
                    value: l.trim().chars().take(200).collect(),
                }),
            _ => None,
        };
        out.extend(cand);
    }
    out.sort_by(|a, b| {
        a.path
            .matches('/')
            .count()
            .cmp(&b.path.matches('/').count())
            .then(a.path.cmp(&b.path))
    });
    out
}

fn mentions_license(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.contains("license") || l.contains("licence") || l.contains("licensed")
}

/// How many leading lines of a file are searched for tags and headers.
const HEADER_LINES: usize = 30;

/// `SPDX-License-Identifier:` tags and license/copyright header comment lines in the first
/// lines of a file.
pub fn in_file_candidates(path: &str, text: &str) -> Vec<LicenseCandidate> {
    let mut out = Vec::new();
    let mut in_block = false;
    for (i, line) in text.lines().take(HEADER_LINES).enumerate() {
        let line_no = Some(i as u32 + 1);
        let t = line.trim_start();
        // Inside a block comment (`--[[ ... ]]`, `--[==[ ... ]==]`, `/* ... */`) every line is comment.
        let opens = t.starts_with("--[[") || t.starts_with("--[=") || t.starts_with("/*");
        let is_comment =
            in_block || opens || t.starts_with("--") || t.starts_with("//") || t.starts_with('#');
        if opens {
            in_block = true;
        }
        if in_block && (t.contains("]]") || t.contains("]=") || t.contains("*/")) {
            in_block = false;
        }
        if let Some(pos) = line.find("SPDX-License-Identifier:") {
            let value = line[pos + "SPDX-License-Identifier:".len()..]
                .trim()
                .trim_end_matches("]]")
                .trim_end_matches("*/")
                .trim()
                .to_string();
            out.push(LicenseCandidate {
                kind: CandidateKind::SpdxTag,
                path: path.to_string(),
                line: line_no,
                value,
            });
            continue;
        }
        let lower = t.to_ascii_lowercase();
        if is_comment
            && (mentions_license(t) || lower.contains("copyright") || lower.contains("(c)"))
        {
            out.push(LicenseCandidate {
                kind: CandidateKind::Header,
                path: path.to_string(),
                line: line_no,
                value: t.chars().take(200).collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(path: &str, text: &str) -> EvidenceFile {
        EvidenceFile {
            source_id: "s".into(),
            path: path.into(),
            blob_id: None,
            text: text.into(),
        }
    }

    #[test]
    fn recognizes_license_spellings() {
        for p in [
            "LICENSE",
            "LICENCE.md",
            "COPYING.txt",
            "License.lua",
            "vendor/x/LICENSE-MIT",
            "UNLICENSE",
        ] {
            assert_eq!(evidence_kind(p), Some(CandidateKind::LicenseFile), "{p}");
        }
        assert_eq!(
            evidence_kind("wally.toml"),
            Some(CandidateKind::PackageManifest)
        );
        assert_eq!(evidence_kind("README.md"), Some(CandidateKind::Readme));
        for p in [
            "LICENSES.png",
            "src/licensing.lua",
            "LICENSE.png",
            "mylicense.lua",
        ] {
            assert_eq!(evidence_kind(p), None, "{p}");
        }
    }

    #[test]
    fn ancestors_only_root_first_and_vendored_folders_get_their_own() {
        let evidence = vec![
            ev("LICENSE", "MIT License\n\nCopyright"),
            ev("Packages/_Index/thing/LICENSE", "\n  Apache License\n"),
            ev(
                "Packages/_Index/thing/wally.toml",
                "[package]\nname = \"a/thing\"\nlicense = \"Apache-2.0\"\n",
            ),
            ev("other/LICENSE", "GPL"),
            ev("README.md", "# x\n\nThis project is licensed under MIT.\n"),
        ];
        let c = tree_candidates("Packages/_Index/thing/init.lua", &evidence);
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.kind, c.path.as_str(), c.value.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (CandidateKind::LicenseFile, "LICENSE", "MIT License"),
                (
                    CandidateKind::Readme,
                    "README.md",
                    "This project is licensed under MIT."
                ),
                (
                    CandidateKind::LicenseFile,
                    "Packages/_Index/thing/LICENSE",
                    "Apache License"
                ),
                (
                    CandidateKind::PackageManifest,
                    "Packages/_Index/thing/wally.toml",
                    "Apache-2.0"
                ),
            ]
        );
        assert_eq!(c[1].line, Some(3));
        // "other/" is not an ancestor; neither is a prefix that is not a folder boundary.
        assert!(tree_candidates("otherwise.lua", &evidence)
            .iter()
            .all(|c| c.path != "other/LICENSE"));
    }

    #[test]
    fn fixture_manifests_apply_only_below_their_folder() {
        for (p, want) in [
            ("tests/fixtures/gpl-pkg/package.json", Some("tests")),
            ("spec/pkg/wally.toml", Some("spec")),
            ("src/__fixtures__/a/package.json", Some("src/__fixtures__")),
            ("lib/testdata/Cargo.toml", Some("lib/testdata")),
            (
                "test-projects/diamond-graph/root/0.1.0/wally.toml",
                Some("test-projects"),
            ),
            ("examples/hello/wally.toml", Some("examples")),
            ("package.json", None),
            ("Packages/_Index/x/wally.toml", None),
            // A real package installed inside a test tree is vendored, not a fixture ...
            ("spec/Packages/_Index/a_b@1.0.0/b/wally.toml", None),
            ("tests/node_modules/x/package.json", None),
            // ... unless the fixture folder is inside the vendored package.
            (
                "Packages/_Index/a_b@1.0.0/b/tests/fixtures/wally.toml",
                Some("Packages/_Index/a_b@1.0.0/b/tests"),
            ),
            ("src/tests.lua", None),
            ("tests", None),
        ] {
            assert_eq!(fixture_root(p), want, "{p}");
        }
        let evidence = vec![
            ev("LICENSE", "MIT License\n"),
            ev(
                "tests/fixtures/gpl-pkg/package.json",
                r#"{"name":"gpl-pkg","license":"GPL-3.0-only"}"#,
            ),
        ];
        // The repository's own files never see the fixture's manifest ...
        for doc in [
            "src/init.lua",
            "tests/run.lua",
            "tests/fixtures/other/a.lua",
        ] {
            let c = tree_candidates(doc, &evidence);
            assert!(
                c.iter().all(|c| c.kind != CandidateKind::PackageManifest),
                "{doc}: {c:?}"
            );
        }
        // ... files inside the fixture do, next to the root license.
        let c = tree_candidates("tests/fixtures/gpl-pkg/index.lua", &evidence);
        let kinds: Vec<_> = c.iter().map(|c| (c.kind, c.value.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (CandidateKind::LicenseFile, "MIT License"),
                (CandidateKind::PackageManifest, "GPL-3.0-only")
            ]
        );
    }

    #[test]
    fn manifests_in_several_formats() {
        assert_eq!(
            manifest_license("package.json", r#"{"name":"x","license":"MIT"}"#).as_deref(),
            Some("MIT")
        );
        assert_eq!(
            manifest_license("package.json", r#"{"license":{"type":"ISC"}}"#).as_deref(),
            Some("ISC")
        );
        assert_eq!(
            manifest_license("pesde.toml", "name = \"a/b\"\nlicense = \"MPL-2.0\"\n").as_deref(),
            Some("MPL-2.0")
        );
        assert_eq!(
            manifest_license("Cargo.toml", "[package]\nname = \"x\"\n"),
            None
        );
        assert_eq!(manifest_license("package.json", "{not json"), None);
    }

    #[test]
    fn tags_and_headers_in_first_lines() {
        let text = "-- SPDX-License-Identifier: MPL-2.0\n--[[\n  Copyright (c) 2024 Someone\n  Licensed under the GPL v3\n]]\nlocal x = 1 -- not a header\n";
        let c = in_file_candidates("a.lua", text);
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.kind, c.line, c.value.as_str()))
            .collect();
        assert_eq!(got[0], (CandidateKind::SpdxTag, Some(1), "MPL-2.0"));
        let headers: Vec<_> = c
            .iter()
            .filter(|c| c.kind == CandidateKind::Header)
            .map(|c| c.line)
            .collect();
        assert_eq!(
            headers,
            vec![Some(3), Some(4)],
            "lines inside a block comment count, code after it does not: {got:?}"
        );
        let text =
            "-- Copyright 2020 A\n-- Licensed under the Apache License, Version 2.0\nreturn {}\n";
        let c = in_file_candidates("b.lua", text);
        assert_eq!(
            c.iter().map(|c| c.line).collect::<Vec<_>>(),
            vec![Some(1), Some(2)]
        );
    }
}
