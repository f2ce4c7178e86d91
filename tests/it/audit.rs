//! Audits over a real ingested workspace, with a planted case for every rule.

use std::collections::BTreeMap;
use std::path::Path;

use vcurate::audit::run;
use vcurate::workspace::Workspace;

use crate::util::{file, stderr, vcurate, workspace, write, TestRepo};

const MODULE: &str = "local Stack = {}\nStack.__index = Stack\n\nfunction Stack.new()\n\treturn setmetatable({ items = {}, size = 0 }, Stack)\nend\n\nfunction Stack:push(value)\n\tself.size += 1\n\tself.items[self.size] = value\nend\n\nfunction Stack:pop()\n\tlocal value = self.items[self.size]\n\tself.items[self.size] = nil\n\tself.size -= 1\n\treturn value\nend\n\nreturn Stack\n";

/// The chat row's answer. Not `MODULE`: dedup reads a chat row as the text of its turns (issue
/// 15), so an answer repeating a file would be that file's near duplicate, not a contamination
/// case.
const CHUNK: &str = "local function chunkArray(list, size)\n\tlocal chunks = {}\n\tfor i = 1, #list, size do\n\t\ttable.insert(chunks, table.move(list, i, math.min(i + size - 1, #list), 1, {}))\n\tend\n\treturn chunks\nend\n\nreturn chunkArray\n";

const PROMPT: &str = "Write a Luau function called chunkArray that splits an array into consecutive chunks of a given size and returns a new array of those chunks without modifying the input";

/// Two local sources and a chat dataset with one planted case per audit rule.
fn planted(dir: &Path) -> std::path::PathBuf {
    let ws = workspace(dir);
    let a = dir.join("a");
    write(&a.join("Stack.luau"), MODULE);
    // A near duplicate: one statement added.
    write(
        &a.join("Stack2.luau"),
        &MODULE.replace("return Stack\n", "Stack.VERSION = 2\nreturn Stack\n"),
    );
    // Four code lines and a wall of comments: the density rule counts code, not lines.
    write(
        &a.join("tiny.luau"),
        "-- a\n-- b\n-- c\n-- d\n-- e\n-- f\nlocal x = 1\nlocal y = 2\nprint(x + y)\nreturn x\n",
    );
    write(
        &a.join("broken.luau"),
        "local function f(\n\treturn 1\nend\nlocal a = 1\nlocal b = 2\nlocal c = 3\n",
    );
    write(
        &a.join("nobreak.luau"),
        "local a = 1\nlocal b = 2\nlocal c = 3\nlocal d = 4\nprint(a, b, c, d)\nbreak\n",
    );
    write(
        &a.join("minified.luau"),
        &format!(
            "local t = {{{}}}\nprint(1)\nprint(2)\nprint(3)\nreturn t\n",
            (0..400)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
    );
    write(&a.join("notes.md"), "# Notes\n\n```json\n{\"a\": 1,\n \"b\": 2,\n \"c\": 3,\n \"d\": 4,\n \"e\": 5,\n \"f\": 6}\n```\n");
    write(
        &a.join("guide.md"),
        &format!(
            "# Guide\n\nA lightly edited copy of the benchmark prompt: {}\n\n```Lua\n{MODULE}```\n",
            PROMPT.replace("consecutive", "successive").to_uppercase()
        ),
    );
    // The same module vendored in a second source: an exact duplicate across sources.
    let b = dir.join("b");
    write(&b.join("vendor/Stack.luau"), &MODULE.replace('\n', "\r\n"));
    write(
        &ws.join("sources/a.toml"),
        &format!("kind = \"local\"\npath = \"{}\"\n", a.display()),
    );
    // Open-source code whose own header puts it under a license the policy denies.
    let c = dir.join("c");
    write(
        &c.join("agpl.luau"),
        &format!(
            "-- SPDX-License-Identifier: AGPL-3.0-only\n{}",
            MODULE.replace("Stack", "Heap")
        ),
    );
    write(
        &ws.join("sources/c.toml"),
        &format!(
            "kind = \"local\"\npath = \"{}\"\nrights-basis = \"open_source\"\n",
            c.display()
        ),
    );
    write(
        &ws.join("sources/b.toml"),
        &format!("kind = \"local\"\npath = \"{}\"\n", b.display()),
    );
    let chat = serde_json::json!({"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": format!("```luau\n{CHUNK}```")}]});
    write(&ws.join("chat.jsonl"), &format!("{chat}\n"));
    write(
        &ws.join("sources/chat.toml"),
        "kind = \"jsonl\"\npath = \"chat.jsonl\"\nrights-basis = \"generated\"\nlicense = \"MIT\"\n",
    );
    write(
        &ws.join("evals/bench.jsonl"),
        &format!(
            "{}\n",
            serde_json::json!({"id": "chunk-1", "category": "tables", "difficulty": "easy", "prompt": PROMPT, "expected_patterns": ["function"]})
        ),
    );
    let mut cfg = std::fs::read_to_string(ws.join("vcurate.toml")).unwrap();
    cfg = cfg.replace("group-by = \"source\"", "group-by = \"file\"");
    cfg.push_str(
        "\n[[eval-sets]]\nname = \"bench\"\npath = \"evals/bench.jsonl\"\nformat = \"plain\"\n",
    );
    write(&ws.join("vcurate.toml"), &cfg);
    ws
}

fn reasons(ws: &Workspace) -> BTreeMap<(String, String), String> {
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    let by_id: BTreeMap<&str, (String, String)> = docs
        .iter()
        .map(|d| {
            (
                d.id.as_str(),
                (d.provenance.source_id.clone(), d.provenance.path.clone()),
            )
        })
        .collect();
    let mut out = BTreeMap::new();
    for e in run::read_excluded(ws).unwrap() {
        assert_eq!(e.stage, vcurate::core::Stage::Audit);
        assert_eq!(
            e.document_ids.len(),
            1,
            "an audit drops one document per row"
        );
        out.entry(by_id[e.document_ids[0].as_str()].clone())
            .or_insert_with(|| e.reason.clone());
    }
    out
}

#[test]
fn every_planted_case_is_dropped_with_its_reason_and_the_rest_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let ws_dir = planted(tmp.path());
    let out = vcurate(&ws_dir, &["ingest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = vcurate(&ws_dir, &["audit", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summaries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = summaries
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["audit"].as_str().unwrap())
        .collect();
    assert_eq!(names, run::AUDITS);

    let ws = Workspace::open(&ws_dir).unwrap();
    let got = reasons(&ws);
    let key = |s: &str, p: &str| (s.to_string(), p.to_string());
    let expected: BTreeMap<(String, String), String> = [
        (key("a", "tiny.luau"), "too_few_code_lines"),
        (key("c", "agpl.luau"), "license_deny"),
        (key("a", "notes.md"), "too_few_code_lines"),
        (key("a", "broken.luau"), "parse_failed"),
        (key("a", "nobreak.luau"), "compile_failed"),
        (key("a", "minified.luau"), "generated_or_minified"),
        (key("b", "vendor/Stack.luau"), "exact_duplicate"),
        (key("a", "Stack2.luau"), "near_duplicate"),
        (key("a", "guide.md"), "contaminated"),
        (key("chat", "chat.jsonl"), "contaminated"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    assert_eq!(got, expected);

    // The keeper of the cross-source duplicate is the first source's copy.
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    let excluded = run::excluded_ids(&run::audit_dir(&ws), run::AUDITS).unwrap();
    let kept: Vec<String> = docs
        .iter()
        .filter(|d| !excluded.contains(&d.id))
        .map(|d| format!("{}:{}", d.provenance.source_id, d.provenance.path))
        .collect();
    assert_eq!(kept, vec!["a:Stack.luau"]);

    // Contamination names the task and the items that contaminate it.
    let by_name = |name: &str| {
        summaries
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["audit"] == name)
            .unwrap()
            .clone()
    };
    let contamination = &by_name("contamination")["summary"]["per_task"][0];
    assert_eq!(contamination["task"], "bench/chunk-1");
    let contaminating: Vec<&str> = contamination["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        contaminating,
        vec!["guide.md", "chat.jsonl"],
        "in document order"
    );

    // Splits: every document assigned, no exact or near duplicate across splits.
    let splits = &by_name("splits")["summary"];
    assert_eq!(splits["clean"], true);
    let counts = &splits["counts"];
    assert_eq!(
        counts["train"].as_u64().unwrap()
            + counts["valid"].as_u64().unwrap()
            + counts["test"].as_u64().unwrap(),
        docs.len() as u64
    );
    let attrs =
        vcurate::store::read_parquet(&run::audit_dir(&ws).join("attributes/splits.parquet"))
            .unwrap();
    assert_eq!(attrs.height(), docs.len());

    // Density is reported per source, computed from parsed code lines.
    let density =
        vcurate::store::read_parquet(&run::audit_dir(&ws).join("attributes/density.parquet"))
            .unwrap();
    let lines: BTreeMap<String, u32> = density
        .column("id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .zip(
            density
                .column("luau_code_lines")
                .unwrap()
                .u32()
                .unwrap()
                .iter(),
        )
        .map(|(i, n)| (i.unwrap().to_string(), n.unwrap()))
        .collect();
    let tiny = docs
        .iter()
        .find(|d| d.provenance.path == "tiny.luau")
        .unwrap();
    assert_eq!(lines[&tiny.id], 4);
    let chat = docs
        .iter()
        .find(|d| d.provenance.source_id == "chat")
        .unwrap();
    assert_eq!(
        lines[&chat.id],
        vcurate::luau::code_lines(CHUNK),
        "the assistant's fenced luau block, parsed"
    );
    assert_eq!(vcurate::luau::code_lines(CHUNK), 8);
    assert_eq!(vcurate::luau::code_lines(MODULE), 16);
}

#[test]
fn rerunning_one_audit_replaces_only_its_tables_and_unknown_names_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let ws_dir = planted(tmp.path());
    assert!(vcurate(&ws_dir, &["ingest"]).status.success());
    let out = vcurate(&ws_dir, &["audit", "density", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summaries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summaries.as_array().unwrap().len(), 1);
    let ws = Workspace::open(&ws_dir).unwrap();
    assert!(run::audit_dir(&ws)
        .join("excluded/density.parquet")
        .exists());
    assert!(!run::audit_dir(&ws)
        .join("excluded/quality.parquet")
        .exists());
    let out = vcurate(&ws_dir, &["audit", "densty"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown audit `densty`"),
        "{}",
        stderr(&out)
    );
    // Auditing before ingesting says what to do.
    let empty = workspace(&tmp.path().join("empty"));
    let out = vcurate(&empty, &["audit"]);
    assert!(
        stderr(&out).contains("run `vcurate ingest` first"),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// License edge cases from issue 11 (25 real Roblox/Luau repositories), each reproduced with a
// real git repository made here, through `vcurate ingest` and `vcurate audit license`.

/// One row of `attributes/license.parquet`: the verdict and the two profiles' gate.
#[derive(Debug)]
struct LicenseRow {
    verdict: vcurate::audit::license::LicenseVerdict,
    train_allowed: bool,
    publish_allowed: bool,
    publish_reason: String,
    /// The typed columns beside the verdict.
    weak_evidence: bool,
    copyright: Vec<String>,
}

/// Ingests the workspace, runs the license audit and reads its table by (source, path).
fn license_rows(ws_dir: &Path) -> BTreeMap<(String, String), LicenseRow> {
    let out = vcurate(ws_dir, &["ingest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = vcurate(ws_dir, &["audit", "license"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ws = Workspace::open(ws_dir).unwrap();
    let df = vcurate::store::read_parquet(&run::audit_dir(&ws).join("attributes/license.parquet"))
        .unwrap();
    let strs = |c: &str| -> Vec<String> {
        df.column(c)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect()
    };
    let bools = |c: &str| -> Vec<bool> {
        df.column(c)
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .map(|v| v.unwrap())
            .collect()
    };
    let (train, publish, reason, weak) = (
        bools("train_allowed"),
        bools("publish_allowed"),
        strs("publish_reason"),
        bools("weak_evidence"),
    );
    let copyright = vcurate::store::columns::read_string_lists(&df, "copyright").unwrap();
    // The verdicts as `license report` reads them back from the typed columns.
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    let verdicts = vcurate::audit::license::table::read_verdicts(&df, &docs).unwrap();
    let ids = strs("id");
    verdicts
        .into_iter()
        .map(|verdict| {
            let i = ids.iter().position(|id| *id == verdict.id).unwrap();
            (
                (verdict.source_id.clone(), verdict.path.clone()),
                LicenseRow {
                    verdict,
                    train_allowed: train[i],
                    publish_allowed: publish[i],
                    publish_reason: reason[i].clone(),
                    weak_evidence: weak[i],
                    copyright: copyright[i].clone(),
                },
            )
        })
        .collect()
}

/// Declares a git source whose URL the workspace rewrites to a local mirror.
fn git_source(ws: &Path, id: &str) {
    write(
        &ws.join(format!("sources/{id}.toml")),
        &format!("kind = \"git\"\nurl = \"https://example.com/org/{id}.git\"\nrev = \"main\"\nrights-basis = \"open_source\"\n"),
    );
}

fn mirrors_config(ws: &Path, mirrors: &Path) {
    write(
        &ws.join("vcurate.toml"),
        &format!(
            "[git.rewrite]\n\"https://example.com/org/\" = \"{}/\"\n",
            mirrors.display()
        ),
    );
}

const MIT_LICENSE: &str = "MIT License\n\nCopyright (c) 2020 Eryn L. K.\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\nAUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\nLIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\nOUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\nSOFTWARE.\n";

/// An MPL-2.0 build tool laid out like UpliftGames/wally and rojo-rbx/rojo: the root
/// `Cargo.toml` says `license = "MPL-2.0"` (wally's own does; the full MPL text is left out),
/// `test-projects/` holds fake packages whose `wally.toml` say `license = "MIT"` (copied from
/// wally's `test-projects/diamond-graph/direct-dependency-a/0.1.1/wally.toml` and
/// `test-projects/workspace-inheritance/modules/lib/wally.toml`), a `tests/fixtures/` package
/// and an `examples/` project carry their own fake manifests, and `Packages/_Index/` holds a
/// real vendored dependency with its own license.
fn mpl_tool(dir: &Path) {
    let repo = TestRepo::init(&dir.join("tool.git"));
    let fixture_a = "[package]\nname = \"diamond-graph/direct-dependency-a\"\nversion = \"0.1.1\"\nlicense = \"MIT\"\nrealm = \"server\"\nregistry = \"test-registries/primary-registry\"\n\n[server-dependencies]\nIndirect = \"diamond-graph/indirect-dependency-a@0.1.1\"";
    let fixture_lib = "[package]\nname = \"team/lib\"\nversion = \"0.1.0\"\nlicense = \"MIT\"\n\n[dependencies]\nMinimalShared = { workspace = true }\n";
    let vendored = "[package]\nname = \"evaera/promise\"\nversion = \"4.0.0\"\nlicense = \"MIT\"\nrealm = \"shared\"\nregistry = \"https://github.com/UpliftGames/wally-index\"\n";
    repo.commit(
        "tool",
        &[
            ("Cargo.toml", file("[package]\nname = \"wally\"\ndescription = \"Package manager for Roblox\"\nversion = \"0.3.2\"\nlicense = \"MPL-2.0\"\nedition = \"2018\"\n")),
            ("plugin/src/init.lua", file("local Plugin = {}\n\nfunction Plugin.start()\n\treturn true\nend\n\nreturn Plugin\n")),
            ("test-projects/diamond-graph/direct-dependency-a/0.1.1/wally.toml", file(fixture_a)),
            ("test-projects/diamond-graph/direct-dependency-a/0.1.1/src/init.lua", file("local Indirect = require(script.Parent.Indirect)\n\nreturn if Indirect == 420 then \"Bingo!\" else \"Naw...\"")),
            ("test-projects/workspace-inheritance/wally.toml", file("[workspace]\nmembers = [\"modules/*\"]\n")),
            ("test-projects/workspace-inheritance/modules/lib/wally.toml", file(fixture_lib)),
            ("test-projects/workspace-inheritance/modules/lib/src/init.lua", file("return { name = \"lib\" }\n")),
            ("tests/fixtures/npm-pkg/package.json", file("{\"name\": \"npm-pkg\", \"version\": \"1.0.0\", \"license\": \"ISC\"}\n")),
            ("tests/fixtures/npm-pkg/index.lua", file("return 'fixture'\n")),
            ("examples/hello/wally.toml", file("[package]\nname = \"example/hello\"\nversion = \"0.1.0\"\nlicense = \"MIT\"\nrealm = \"shared\"\n")),
            ("examples/hello/src/init.lua", file("print(\"hello from an example\")\n")),
            ("Packages/_Index/evaera_promise@4.0.0/promise/wally.toml", file(vendored)),
            ("Packages/_Index/evaera_promise@4.0.0/promise/LICENSE", file(MIT_LICENSE)),
            ("Packages/_Index/evaera_promise@4.0.0/promise/lib/init.lua", file("local Promise = {}\nPromise.__index = Promise\nreturn Promise\n")),
        ],
    );
}

#[test]
fn license_fixture_manifests_never_set_a_files_license() {
    let tmp = tempfile::tempdir().unwrap();
    mpl_tool(&tmp.path().join("mirrors"));
    let ws = workspace(tmp.path());
    mirrors_config(&ws, &tmp.path().join("mirrors"));
    git_source(&ws, "tool");
    let rows = license_rows(&ws);
    let row = |p: &str| {
        rows.get(&("tool".to_string(), p.to_string()))
            .unwrap_or_else(|| panic!("no verdict for {p}: {:?}", rows.keys()))
    };
    let own = row("plugin/src/init.lua");
    assert_eq!(own.verdict.spdx, "MPL-2.0");
    // Every file of a fixture or an example is the tool's own MPL-2.0 data, whatever its fake
    // manifest says, so `publish` (which sends MPL-2.0 to review) refuses it.
    for (path, manifest) in [
        (
            "test-projects/diamond-graph/direct-dependency-a/0.1.1/src/init.lua",
            "test-projects/diamond-graph/direct-dependency-a/0.1.1/wally.toml",
        ),
        (
            "test-projects/workspace-inheritance/modules/lib/src/init.lua",
            "test-projects/workspace-inheritance/modules/lib/wally.toml",
        ),
        (
            "tests/fixtures/npm-pkg/index.lua",
            "tests/fixtures/npm-pkg/package.json",
        ),
        ("examples/hello/src/init.lua", "examples/hello/wally.toml"),
    ] {
        let r = row(path);
        let v = &r.verdict;
        assert_eq!(v.spdx, "MPL-2.0", "{path}: {v:#?}");
        assert_eq!(
            v.status,
            vcurate::audit::license::Status::Resolved,
            "{path}"
        );
        assert!(r.train_allowed && !r.publish_allowed, "{path}: {r:?}");
        // The fake manifest is kept as evidence, marked as a fixture, not used, and says why.
        let m = v
            .evidence
            .iter()
            .find(|e| e.path == manifest)
            .unwrap_or_else(|| panic!("{path}: {manifest} not in the evidence: {v:#?}"));
        assert!(m.fixture && !m.used, "{path}: {m:?}");
        let why = m.ignored.as_deref().unwrap_or_default();
        assert!(
            why.contains("fixture") && why.contains("sets no license"),
            "{path}: {why}"
        );
        assert!(
            v.notes
                .iter()
                .any(|n| n.contains(manifest) && n.contains("ignored")),
            "{path}: {:?}",
            v.notes
        );
        // What the verdict does rest on: the tool's root manifest.
        let used: Vec<&str> = v
            .evidence
            .iter()
            .filter(|e| e.used)
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(used, vec!["Cargo.toml"], "{path}");
        assert!(v.conflicts.is_empty(), "{path}: {:?}", v.conflicts);
    }
    // A vendored package is no fixture: it keeps its own license and may be published.
    let vend = row("Packages/_Index/evaera_promise@4.0.0/promise/lib/init.lua");
    assert_eq!(vend.verdict.spdx, "MIT");
    assert!(vend.verdict.evidence.iter().all(|e| !e.fixture));
    assert!(vend.publish_allowed, "{vend:?}");
}

#[test]
fn license_readme_only_evidence_is_not_enough_to_publish() {
    // The README of a game template as many repositories ship it: "## License" and a line
    // that names MIT "or your preferred license" (seen verbatim in several public READMEs).
    let tmp = tempfile::tempdir().unwrap();
    let repo = TestRepo::init(&tmp.path().join("mirrors/game.git"));
    repo.commit(
        "game",
        &[
            ("README.md", file("# Obby Template\n\nA starter place for obstacle courses.\n\n## Setup\n\nRun `rojo serve` and connect from Studio.\n\n## License\n\nMIT (or your preferred license).\n")),
            ("default.project.json", file("{\"name\": \"obby\", \"tree\": {\"$className\": \"DataModel\"}}\n")),
            ("src/server/Checkpoints.server.lua", file("local Players = game:GetService(\"Players\")\n\nPlayers.PlayerAdded:Connect(function(player)\n\tplayer:SetAttribute(\"Checkpoint\", 1)\nend)\n")),
            ("src/shared/Util.lua", file("local Util = {}\n\nfunction Util.clamp(x, a, b)\n\treturn math.max(a, math.min(b, x))\nend\n\nreturn Util\n")),
        ],
    );
    let ws = workspace(tmp.path());
    mirrors_config(&ws, &tmp.path().join("mirrors"));
    git_source(&ws, "game");
    let rows = license_rows(&ws);
    let code: Vec<&LicenseRow> = rows
        .iter()
        .filter(|((_, p), _)| p.ends_with(".lua"))
        .map(|(_, r)| r)
        .collect();
    assert_eq!(code.len(), 2);
    for r in code {
        let v = &r.verdict;
        // The reading itself stands (MIT, weak, resolved) ...
        assert_eq!((v.spdx.as_str(), v.confidence), ("MIT", 0.5), "{v:#?}");
        assert!(v.weak_evidence && r.weak_evidence, "{v:#?}");
        // ... training may use it, publishing may not without a person's exception, and the
        // gate says why.
        assert!(r.train_allowed, "{r:?}");
        assert!(!r.publish_allowed, "{r:?}");
        assert!(
            r.publish_reason.starts_with("weak_evidence: ")
                && r.publish_reason.contains("README.md:11"),
            "{}",
            r.publish_reason
        );
    }
}

/// The header Roblox puts atop the files of its open-source Luau libraries (verbatim from
/// Roblox/luau-polyfill `src/Array/__tests__/reverse.spec.lua`).
const ROBLOX_HEADER: &str = "--[[\n\t* Copyright (c) Roblox Corporation. All rights reserved.\n\t* Licensed under the MIT License (the \"License\");\n\t* you may not use this file except in compliance with the License.\n\t* You may obtain a copy of the License at\n\t*\n\t*     https://opensource.org/licenses/MIT\n\t*\n\t* Unless required by applicable law or agreed to in writing, software\n\t* distributed under the License is distributed on an \"AS IS\" BASIS,\n\t* WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.\n\t* See the License for the specific language governing permissions and\n\t* limitations under the License.\n]]\n";

#[test]
fn license_all_rights_reserved_next_to_a_grant_is_a_copyright_line() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = TestRepo::init(&tmp.path().join("mirrors/polyfill.git"));
    repo.commit(
        "polyfill",
        &[
            // luau-polyfill's rotriever.toml names no license; the headers are the evidence.
            ("rotriever.toml", file("[package]\nname = \"roblox/roblox-luau-polyfill\"\nversion = \"0.2.0\"\ncontent_root = \"src\"\n")),
            ("src/Array/reverse.lua", file(&format!("{ROBLOX_HEADER}return function<T>(t: {{ T }}): {{ T }}\n\tlocal n = #t\n\tfor i = 1, n // 2 do\n\t\tt[i], t[n - i + 1] = t[n - i + 1], t[i]\n\tend\n\treturn t\nend\n"))),
            ("src/Array/__tests__/reverse.spec.lua", file(&format!("{ROBLOX_HEADER}return function()\n\tlocal reverse = require(script.Parent.Parent.reverse)\n\tit(\"returns the same array\", function()\n\t\tlocal array = {{}}\n\t\tassert(reverse(array) == array)\n\tend)\nend\n"))),
            // A notice with no grant beside it: nobody may copy this file.
            ("src/Internal/secret.lua", file("-- Copyright (c) 2021 Roblox Corporation.\n-- All rights reserved.\nreturn { key = \"internal\" }\n")),
        ],
    );
    let ws = workspace(tmp.path());
    mirrors_config(&ws, &tmp.path().join("mirrors"));
    git_source(&ws, "polyfill");
    let rows = license_rows(&ws);
    for p in [
        "src/Array/reverse.lua",
        "src/Array/__tests__/reverse.spec.lua",
    ] {
        let r = &rows[&("polyfill".to_string(), p.to_string())];
        let v = &r.verdict;
        assert_eq!(v.spdx, "MIT", "{p}: {v:#?}");
        assert_eq!(
            v.copyright,
            vec!["Copyright (c) Roblox Corporation. All rights reserved."],
            "{p}"
        );
        assert_eq!(r.copyright, v.copyright, "the typed column says the same");
        assert!(!r.weak_evidence);
        assert!(v.conflicts.is_empty(), "{p}: {:?}", v.conflicts);
        assert!(r.publish_allowed, "{p}: {r:?}");
    }
    let secret = &rows[&(
        "polyfill".to_string(),
        "src/Internal/secret.lua".to_string(),
    )];
    assert_eq!(secret.verdict.spdx, "LicenseRef-proprietary");
    assert_eq!(
        secret.verdict.copyright,
        vec!["Copyright (c) 2021 Roblox Corporation. All rights reserved."]
    );
    assert!(!secret.train_allowed && !secret.publish_allowed);
}
