//! The embedded sample corpus that `vcurate quickstart` writes to disk, turns into local git
//! repositories and ingests offline, so every pipeline stage has something real to chew on.
//!
//! All content here is original, written for vcurate; nothing is copied from the projects whose
//! layout it imitates. Each sample exists to make one stage produce a visible result:
//!
//! * `luau-utils` (git): an MIT Luau library with a `wally.toml`, a vendored Wally package under
//!   `Packages/_Index/` with its own Apache-2.0 license, one file with an
//!   `SPDX-License-Identifier: MPL-2.0` tag, one exact duplicate and one near-duplicate (for the
//!   dedup audit), and one file with fewer than five code lines (for the density filter).
//! * `creator-docs-sample` (git, docs kind): Markdown guides with YAML front matter and engine
//!   API reference YAML, laid out like the public Roblox creator docs, with prose under CC-BY-4.0
//!   (`LICENSE`) and code samples under MIT (`LICENSE-CODE`).
//! * `chat` (plain folder): a chat/completions JSONL dataset with exactly one malformed line (a
//!   skip record) and one row whose prompt copies an eval task verbatim (for contamination).
//! * `evals` (plain folder): three eval tasks, one of which that chat row copies.
//!
//! This module only describes files; it must never touch the filesystem or git (quickstart does).
//!
//! Formats imitated, read before writing (all text here is our own):
//! * Roblox/creator-docs `README.md` ("Licenses": prose under CC BY 4.0 in `LICENSE`, code
//!   samples under MIT in `LICENSE-CODE`) and `LICENSE-CODE`.
//! * Roblox/creator-docs `content/en-us/scripting/events/bindable.md`: guide front matter
//!   (`title`, `description`), `<Alert severity=...>` blocks, fenced `lua` code.
//! * Roblox/creator-docs `content/en-us/reference/engine/classes/Debris.yaml`,
//!   `classes/BindableEvent.yaml` and `classes/TweenService.yaml`: class pages (`name`, `type`,
//!   `category`, `memory_category`, `summary`, `description` with fenced code, `code_samples` as
//!   a list of sample ids, `inherits`, `tags`, `properties`/`methods`/`events`/`callbacks` with
//!   `parameters`, `returns`, `security`, `thread_safety`; parameter types spelled bare, e.g.
//!   `EasingStyle`).
//! * Roblox/creator-docs `content/en-us/reference/engine/enums/AnimationPriority.yaml` (enum
//!   `items` with `name`/`value`/`summary`) and `datatypes/NumberRange.yaml`,
//!   `datatypes/Random.yaml` (`constructors`, `constants`, `properties`, `methods`, `functions`,
//!   `math_operations`).
//! * Wally's install layout: `Packages/<Alias>.lua` link modules requiring
//!   `Packages/_Index/<scope>_<name>@<version>/<name>`; manifest keys as in
//!   evaera/roblox-lua-promise `wally.toml` (`name`, `description`, `version`, `license`,
//!   `registry`, `realm`).

/// One file of the sample corpus. Quickstart writes `contents` to `<root>/<repo>/<path>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleFile {
    /// The sample the file belongs to: one of [`GIT_REPOS`] or [`PLAIN_FOLDERS`]. It is also the
    /// natural source id for the sample.
    pub repo: &'static str,
    /// Path inside the sample, `/`-separated and relative.
    pub path: &'static str,
    pub contents: &'static str,
}

/// The open-source Luau library sample.
pub const LUAU_UTILS: &str = "luau-utils";
/// The documentation sample (ingested with the `docs` kind).
pub const CREATOR_DOCS: &str = "creator-docs-sample";
/// The imported chat dataset sample (`chat.jsonl`, ingested with the `jsonl` kind).
pub const CHAT: &str = "chat";
/// The sample eval task set (`sample-evals.jsonl`).
pub const EVALS: &str = "evals";

/// Samples that quickstart turns into git repositories (one commit each).
pub const GIT_REPOS: &[&str] = &[LUAU_UTILS, CREATOR_DOCS];
/// Samples that stay plain folders.
pub const PLAIN_FOLDERS: &[&str] = &[CHAT, EVALS];

// `include_str!` needs a literal path, so the folder name is spelled out per sample below
// instead of going through the constants above.
macro_rules! luau_utils {
    ($path:literal) => {
        SampleFile {
            repo: LUAU_UTILS,
            path: $path,
            contents: include_str!(concat!("files/luau-utils/", $path)),
        }
    };
}

macro_rules! creator_docs {
    ($path:literal) => {
        SampleFile {
            repo: CREATOR_DOCS,
            path: $path,
            contents: include_str!(concat!("files/creator-docs-sample/", $path)),
        }
    };
}

/// Every file of the sample corpus.
pub const FILES: &[SampleFile] = &[
    // --- luau-utils -------------------------------------------------------------------------
    luau_utils!("LICENSE"),
    luau_utils!("README.md"),
    luau_utils!("wally.toml"),
    luau_utils!("src/Signal.luau"),
    luau_utils!("src/Maid.luau"),
    luau_utils!("src/TableUtil.luau"),
    luau_utils!("src/Deferred.luau"),
    luau_utils!("src/StringUtil.luau"),
    luau_utils!("src/Queue.luau"),
    // Near-duplicate of src/Queue.luau: `peek` and `isEmpty` renamed to `front` and `empty`.
    luau_utils!("src/FifoQueue.luau"),
    // Starts with `-- SPDX-License-Identifier: MPL-2.0`, overriding the repo's MIT license.
    luau_utils!("src/Spring.luau"),
    // Fewer than five code lines: food for the density filter.
    luau_utils!("src/Version.luau"),
    // Exact duplicate of src/Signal.luau under another path (same bytes by construction).
    SampleFile {
        repo: LUAU_UTILS,
        path: "examples/Signal.luau",
        contents: include_str!("files/luau-utils/src/Signal.luau"),
    },
    // A vendored Wally dependency carrying its own Apache-2.0 license and manifest.
    luau_utils!("Packages/Thing.lua"),
    luau_utils!("Packages/_Index/someone_thing@1.0.0/thing/LICENSE"),
    luau_utils!("Packages/_Index/someone_thing@1.0.0/thing/wally.toml"),
    luau_utils!("Packages/_Index/someone_thing@1.0.0/thing/init.luau"),
    // --- creator-docs-sample ----------------------------------------------------------------
    creator_docs!("LICENSE"),
    creator_docs!("LICENSE-CODE"),
    creator_docs!("README.md"),
    creator_docs!("content/en-us/scripting/module-scripts.md"),
    creator_docs!("content/en-us/scripting/data/player-data.md"),
    creator_docs!("content/en-us/scripting/events/remote-events.md"),
    creator_docs!("content/en-us/luau/type-checking.md"),
    creator_docs!("content/en-us/reference/engine/classes/RemoteEvent.yaml"),
    creator_docs!("content/en-us/reference/engine/classes/TweenService.yaml"),
    creator_docs!("content/en-us/reference/engine/enums/EasingDirection.yaml"),
    creator_docs!("content/en-us/reference/engine/datatypes/TweenInfo.yaml"),
    // --- chat and evals ---------------------------------------------------------------------
    SampleFile {
        repo: CHAT,
        path: "chat.jsonl",
        contents: include_str!("files/chat.jsonl"),
    },
    SampleFile {
        repo: EVALS,
        path: "sample-evals.jsonl",
        contents: include_str!("files/evals/sample-evals.jsonl"),
    },
];

/// The files of one sample, in [`FILES`] order.
pub fn files_of(repo: &str) -> impl Iterator<Item = &'static SampleFile> + '_ {
    FILES.iter().filter(move |f| f.repo == repo)
}

/// Looks up one file by sample and path.
pub fn file(repo: &str, path: &str) -> Option<&'static SampleFile> {
    FILES.iter().find(|f| f.repo == repo && f.path == path)
}

#[cfg(test)]
mod tests {
    //! These tests pin the properties the corpus exists to have, so an edit to a sample file
    //! cannot silently take away what a pipeline stage is supposed to find in it.

    use super::*;
    use std::collections::HashSet;

    fn get(repo: &str, path: &str) -> &'static str {
        file(repo, path)
            .unwrap_or_else(|| panic!("{repo}/{path} missing from FILES"))
            .contents
    }

    /// Lines that are neither blank nor `--` comments (block comments are not used here).
    fn code_lines(text: &str) -> usize {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("--"))
            .count()
    }

    fn token_trigrams(text: &str) -> HashSet<Vec<String>> {
        let mut tokens = Vec::new();
        let mut word = String::new();
        for c in text.chars() {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        }
        if !word.is_empty() {
            tokens.push(word);
        }
        tokens.windows(3).map(<[String]>::to_vec).collect()
    }

    fn is_luau(f: &SampleFile) -> bool {
        f.path.ends_with(".luau") || f.path.ends_with(".lua")
    }

    #[test]
    fn every_file_belongs_to_a_known_sample_and_has_a_unique_relative_path() {
        let mut seen = HashSet::new();
        for f in FILES {
            assert!(
                GIT_REPOS.contains(&f.repo) || PLAIN_FOLDERS.contains(&f.repo),
                "unknown sample {}",
                f.repo
            );
            assert!(
                !f.path.starts_with('/') && !f.path.contains('\\'),
                "{}",
                f.path
            );
            assert!(
                f.path
                    .split('/')
                    .all(|c| !c.is_empty() && c != ".." && c != "."),
                "{}",
                f.path
            );
            assert!(
                seen.insert((f.repo, f.path)),
                "duplicate entry {}/{}",
                f.repo,
                f.path
            );
            assert!(!f.contents.is_empty(), "{}/{} is empty", f.repo, f.path);
        }
        for repo in GIT_REPOS.iter().chain(PLAIN_FOLDERS) {
            assert!(
                files_of(repo).next().is_some(),
                "sample {repo} has no files"
            );
        }
    }

    #[test]
    fn every_luau_file_parses_as_luau() {
        for f in FILES.iter().filter(|f| is_luau(f)) {
            let result = full_moon::parse_fallible(f.contents, full_moon::LuaVersion::luau());
            assert!(
                result.errors().is_empty(),
                "{}/{} does not parse: {:?}",
                f.repo,
                f.path,
                result.errors()
            );
        }
    }

    #[test]
    fn luau_utils_modules_are_substantial_except_the_one_tiny_file() {
        let modules: Vec<_> = files_of(LUAU_UTILS)
            .filter(|f| f.path.starts_with("src/"))
            .collect();
        let tiny: Vec<_> = modules
            .iter()
            .filter(|f| code_lines(f.contents) < 5)
            .collect();
        assert_eq!(
            tiny.len(),
            1,
            "expected exactly one tiny module, got {tiny:?}"
        );
        assert_eq!(tiny[0].path, "src/Version.luau");
        for f in modules.iter().filter(|f| f.path != "src/Version.luau") {
            assert!(f.contents.lines().count() >= 20, "{} is too short", f.path);
        }
    }

    #[test]
    fn luau_utils_has_one_exact_and_one_near_duplicate() {
        let signal = get(LUAU_UTILS, "src/Signal.luau");
        let exact: Vec<_> = files_of(LUAU_UTILS)
            .filter(|f| f.contents == signal)
            .map(|f| f.path)
            .collect();
        assert_eq!(exact, ["src/Signal.luau", "examples/Signal.luau"]);

        let queue = get(LUAU_UTILS, "src/Queue.luau");
        let fifo = get(LUAU_UTILS, "src/FifoQueue.luau");
        assert_ne!(queue, fifo);
        let (a, b) = (token_trigrams(queue), token_trigrams(fifo));
        let jaccard = a.intersection(&b).count() as f64 / a.union(&b).count() as f64;
        assert!(
            (0.8..1.0).contains(&jaccard),
            "near-duplicate similarity drifted: {jaccard}"
        );
    }

    #[test]
    fn luau_utils_license_evidence_disagrees_where_intended() {
        assert!(get(LUAU_UTILS, "LICENSE").starts_with("MIT License"));
        assert!(get(LUAU_UTILS, "wally.toml").contains("license = \"MIT\""));
        let spdx: Vec<_> = files_of(LUAU_UTILS)
            .filter(|f| {
                f.contents
                    .lines()
                    .next()
                    .is_some_and(|l| l.trim() == "-- SPDX-License-Identifier: MPL-2.0")
            })
            .map(|f| f.path)
            .collect();
        assert_eq!(spdx, ["src/Spring.luau"]);
        let vendored = get(
            LUAU_UTILS,
            "Packages/_Index/someone_thing@1.0.0/thing/LICENSE",
        );
        assert!(vendored.contains("Licensed under the Apache License, Version 2.0"));
    }

    #[test]
    fn creator_docs_pages_have_front_matter_and_mixed_fence_tags() {
        let guides: Vec<_> = files_of(CREATOR_DOCS)
            .filter(|f| f.path.starts_with("content/en-us/") && f.path.ends_with(".md"))
            .collect();
        assert!(guides.len() >= 3);
        let mut tags = HashSet::new();
        for g in &guides {
            let rest = g
                .contents
                .strip_prefix("---\n")
                .expect("front matter opens the page");
            let (front, _) = rest.split_once("\n---\n").expect("front matter is closed");
            let meta: serde_yaml::Value = serde_yaml::from_str(front).unwrap();
            assert!(meta["title"].as_str().is_some(), "{} has no title", g.path);
            for line in g.contents.lines() {
                if let Some(tag) = line.strip_prefix("```") {
                    tags.insert(tag.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        }
        for tag in ["lua", "Lua", "luau", "json", ""] {
            assert!(
                tags.contains(tag),
                "no code fence tagged {tag:?} (have {tags:?})"
            );
        }
    }

    #[test]
    fn creator_docs_reference_pages_match_their_folder() {
        let expected = [
            ("classes/", "class"),
            ("enums/", "enum"),
            ("datatypes/", "datatype"),
        ];
        let mut count = 0;
        for f in files_of(CREATOR_DOCS).filter(|f| f.path.ends_with(".yaml")) {
            let rel = f
                .path
                .strip_prefix("content/en-us/reference/engine/")
                .expect("reference YAML lives under reference/engine");
            let (_, kind) = expected
                .iter()
                .find(|(dir, _)| rel.starts_with(dir))
                .expect("known reference folder");
            let page: serde_yaml::Value = serde_yaml::from_str(f.contents).unwrap();
            assert_eq!(page["type"].as_str(), Some(*kind), "{}", f.path);
            let stem = rel.rsplit('/').next().unwrap().trim_end_matches(".yaml");
            assert_eq!(page["name"].as_str(), Some(stem), "{}", f.path);
            count += 1;
        }
        assert_eq!(count, 4);
        assert!(get(CREATOR_DOCS, "LICENSE").contains("Attribution 4.0 International"));
        assert!(get(CREATOR_DOCS, "LICENSE-CODE").contains("Permission is hereby granted"));
    }

    #[test]
    fn chat_jsonl_has_one_malformed_line_and_the_expected_row_shapes() {
        let mut malformed = 0;
        let (mut chats, mut completions) = (0, 0);
        for line in get(CHAT, "chat.jsonl").lines() {
            let Ok(row) = serde_json::from_str::<serde_json::Value>(line) else {
                malformed += 1;
                continue;
            };
            if let Some(messages) = row["messages"].as_array() {
                assert!(messages.iter().all(|m| {
                    matches!(m["role"].as_str(), Some("system" | "user" | "assistant"))
                        && m["content"].is_string()
                }));
                chats += 1;
            } else {
                assert!(row["prompt"].is_string() && row["completion"].is_string());
                completions += 1;
            }
        }
        assert_eq!((malformed, chats, completions), (1, 9, 2));
    }

    #[test]
    fn exactly_one_chat_row_copies_an_eval_prompt() {
        let eval_prompts: Vec<String> = get(EVALS, "sample-evals.jsonl")
            .lines()
            .map(|l| {
                let task: serde_json::Value = serde_json::from_str(l).unwrap();
                for key in ["id", "category", "difficulty", "prompt"] {
                    assert!(task[key].is_string(), "eval task lacks {key}: {l}");
                }
                assert!(task["expected_patterns"].is_array());
                task["prompt"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(eval_prompts.len(), 3);
        let copies = get(CHAT, "chat.jsonl")
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|row| {
                let user_texts: Vec<&str> = match row["messages"].as_array() {
                    Some(m) => m
                        .iter()
                        .filter(|m| m["role"] == "user")
                        .filter_map(|m| m["content"].as_str())
                        .collect(),
                    None => row["prompt"].as_str().into_iter().collect(),
                };
                user_texts
                    .iter()
                    .any(|t| eval_prompts.iter().any(|p| p == t))
            })
            .count();
        assert_eq!(copies, 1);
    }
}
