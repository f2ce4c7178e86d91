//! Ingest of real git repositories, local folders and JSONL files: exact documents, spans,
//! provenance fields and skip reasons.

use std::collections::BTreeMap;
use std::path::Path;

use vcurate::core::{CandidateKind, LineEndings, SkipReason, UnitKind};
use vcurate::ingest::{self, IngestOptions};
use vcurate::workspace::Workspace;

use crate::util::{file, stderr, vcurate, workspace, write, Entry, TestRepo};

const MIT: &str =
    "MIT License\n\nCopyright (c) 2024 Test\n\nPermission is hereby granted, free of charge...\n";
const APACHE: &str = "                                 Apache License\n                           Version 2.0, January 2004\n";

/// A repository with one of everything ingest must account for.
fn messy_repo(dir: &Path) -> (TestRepo, git2::Oid, git2::Oid) {
    let repo = TestRepo::init(&dir.join("mirrors/lib.git"));
    let sub = TestRepo::init(&dir.join("sub"));
    let sub_commit = sub.commit("sub", &[("x.lua", file("return 1\n"))]);
    let first = repo.commit("first", &[("LICENSE", file(MIT)), ("src/init.luau", file("local M = {}\nfunction M.add(a: number, b: number): number\n\treturn a + b\nend\nreturn M\n"))]);
    repo.tag("v1", first);
    let second = repo.commit(
        "second",
        &[
            ("LICENSE", file(MIT)),
            ("README.md", file("# lib\n\nLicensed under MIT.\n\n```lua\nprint(1)\n```\n")),
            ("src/init.luau", file("local M = {}\nfunction M.add(a: number, b: number): number\n\treturn a + b\nend\nreturn M\n")),
            ("src/crlf.lua", file("local x = 1\r\nreturn x\r\n")),
            ("src/broken.lua", file("local function f(\n  return 1\nend\n")),
            ("src/tagged.lua", file("-- SPDX-License-Identifier: GPL-3.0-only\nreturn {}\n")),
            ("src/binary.lua", Entry::File(b"\x1bLua\0\x01\x02".to_vec())),
            ("src/latin1.lua", Entry::File(b"-- caf\xe9\nreturn 1\n".to_vec())),
            ("src/gone.lua", file("return 'this blob will be deleted'\n")),
            ("src/link.lua", Entry::Symlink("init.luau".into())),
            ("models/huge.lua", file("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 123456\n")),
            ("deps/sub", Entry::Gitlink(sub_commit)),
            ("assets/logo.png", Entry::File(b"\x89PNG\r\n\x1a\n\0\0".to_vec())),
            ("Packages/_Index/acme_thing@1.0.0/thing/LICENSE", file(APACHE)),
            ("Packages/_Index/acme_thing@1.0.0/thing/init.lua", file("return function() return 42 end\n")),
        ],
    );
    repo.delete_object(TestRepo::blob_id(b"return 'this blob will be deleted'\n"));
    (repo, first, second)
}

fn git_manifest(ws: &Path, rev: &str) {
    write(&ws.join("sources/lib.toml"), &format!("kind = \"git\"\nurl = \"https://example.com/org/lib.git\"\nrev = \"{rev}\"\nrights-basis = \"open_source\"\nexpected-license = \"MIT\"\n"));
}

fn rewrite_config(ws: &Path, mirrors: &Path) {
    let cfg = format!(
        "[git.rewrite]\n\"https://example.com/org/\" = \"{}/\"\n",
        mirrors.display()
    );
    write(&ws.join("vcurate.toml"), &cfg);
}

fn opts() -> IngestOptions {
    IngestOptions {
        ingest_time: Some("2024-01-01T00:00:00Z".into()),
        ..Default::default()
    }
}

#[test]
fn git_source_every_path_accounted_for() {
    let tmp = tempfile::tempdir().unwrap();
    let (_repo, _first, second) = messy_repo(tmp.path());
    let ws_dir = workspace(tmp.path());
    rewrite_config(&ws_dir, &tmp.path().join("mirrors"));
    git_manifest(&ws_dir, "main");
    let ws = Workspace::open(&ws_dir).unwrap();
    let report = ingest::run(&ws, &opts(), &|_| {}).unwrap();
    assert_eq!(report.sources.len(), 1);
    assert_eq!(report.sources[0].status, "ingested");

    let gen = vcurate::store::current_dir(&ws.store_dir(), "lib").unwrap();
    let docs = vcurate::store::read_documents(&gen.join("documents.parquet")).unwrap();
    let skipped = vcurate::store::read_skipped(&gen.join("skipped.parquet")).unwrap();
    let doc_paths: Vec<&str> = docs.iter().map(|d| d.provenance.path.as_str()).collect();
    assert_eq!(
        doc_paths,
        vec![
            "Packages/_Index/acme_thing@1.0.0/thing/init.lua",
            "README.md",
            "src/broken.lua",
            "src/crlf.lua",
            "src/init.luau",
            "src/tagged.lua"
        ]
    );
    let reasons: BTreeMap<&str, SkipReason> = skipped
        .iter()
        .map(|s| (s.path.as_str(), s.reason))
        .collect();
    let expected: BTreeMap<&str, SkipReason> = [
        ("LICENSE", SkipReason::Excluded),
        (
            "Packages/_Index/acme_thing@1.0.0/thing/LICENSE",
            SkipReason::Excluded,
        ),
        ("assets/logo.png", SkipReason::Excluded),
        ("deps/sub", SkipReason::Submodule),
        ("models/huge.lua", SkipReason::LfsPointer),
        ("src/binary.lua", SkipReason::Binary),
        ("src/gone.lua", SkipReason::MissingObject),
        ("src/latin1.lua", SkipReason::NotUtf8),
        ("src/link.lua", SkipReason::Symlink),
    ]
    .into();
    assert_eq!(reasons, expected);
    assert_eq!(
        docs.len() + skipped.len(),
        15,
        "every path of the tree is a document or a skip record"
    );
    assert!(skipped
        .iter()
        .find(|s| s.path == "src/link.lua")
        .unwrap()
        .detail
        .contains("init.luau"));
    assert!(skipped
        .iter()
        .find(|s| s.path == "assets/logo.png")
        .unwrap()
        .detail
        .contains("not matched by include"));

    // Provenance: declared URL (not the mirror), commit, blob id, no span for whole files.
    let init = docs
        .iter()
        .find(|d| d.provenance.path == "src/init.luau")
        .unwrap();
    let p = &init.provenance;
    assert_eq!(p.url, "https://example.com/org/lib.git");
    assert_eq!(p.commit.as_deref(), Some(second.to_string().as_str()));
    let init_bytes = b"local M = {}\nfunction M.add(a: number, b: number): number\n\treturn a + b\nend\nreturn M\n";
    assert_eq!(
        p.blob_id.as_deref(),
        Some(TestRepo::blob_id(init_bytes).to_string().as_str())
    );
    assert_eq!(init.sha256, vcurate::core::sha256_hex(init_bytes));
    assert_eq!(
        (p.unit_kind, p.span, p.ingest_time.as_str()),
        (UnitKind::File, None, "2024-01-01T00:00:00Z")
    );
    assert_eq!(p.steps, vec!["ingest"]);
    assert_eq!(p.tool_version, vcurate::TOOL_VERSION);
    let luau = init.luau.as_ref().unwrap();
    assert!(luau.parse_ok);
    assert_eq!(luau.code_lines, 5);

    // CRLF is normalized for analysis, recorded, and the original bytes' hash is kept.
    let crlf = docs
        .iter()
        .find(|d| d.provenance.path == "src/crlf.lua")
        .unwrap();
    assert_eq!(crlf.text, "local x = 1\nreturn x\n");
    assert_eq!(crlf.line_endings, LineEndings::Crlf);
    assert_eq!(crlf.provenance.steps, vec!["ingest", "normalize_crlf"]);
    assert_eq!(
        crlf.sha256,
        vcurate::core::sha256_hex(b"local x = 1\r\nreturn x\r\n")
    );

    // A parse failure is recorded, not dropped.
    let broken = docs
        .iter()
        .find(|d| d.provenance.path == "src/broken.lua")
        .unwrap();
    assert!(!broken.luau.as_ref().unwrap().parse_ok);
    assert_eq!(report.sources[0].parse_failures, 1);

    // License candidates: the vendored folder sees its own LICENSE after the root one.
    let vendored = docs
        .iter()
        .find(|d| d.provenance.path.ends_with("thing/init.lua"))
        .unwrap();
    let cands: Vec<(CandidateKind, &str)> = vendored
        .provenance
        .license_candidates
        .iter()
        .map(|c| (c.kind, c.path.as_str()))
        .collect();
    assert_eq!(
        cands,
        vec![
            (CandidateKind::LicenseFile, "LICENSE"),
            (CandidateKind::Readme, "README.md"),
            (
                CandidateKind::LicenseFile,
                "Packages/_Index/acme_thing@1.0.0/thing/LICENSE"
            )
        ]
    );
    assert_eq!(
        vendored.provenance.license_candidates[2].value,
        "Apache License"
    );
    let tagged = docs
        .iter()
        .find(|d| d.provenance.path == "src/tagged.lua")
        .unwrap();
    assert!(tagged
        .provenance
        .license_candidates
        .iter()
        .any(|c| c.kind == CandidateKind::SpdxTag
            && c.value == "GPL-3.0-only"
            && c.line == Some(1)));

    // Markdown files keep their code blocks.
    let readme = docs
        .iter()
        .find(|d| d.provenance.path == "README.md")
        .unwrap();
    assert_eq!(readme.code_blocks.len(), 1);
    assert!(readme.code_blocks[0].is_luau);

    // The lock records the commit.
    let lock = ingest::lock::Lock::read(&ws.lock_path()).unwrap();
    assert_eq!(lock.sources["lib"].commit, second.to_string());
    assert_eq!(lock.sources["lib"].url, "https://example.com/org/lib.git");
}

#[test]
fn lock_pins_update_moves_locked_refuses_and_unchanged_is_a_noop() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = TestRepo::init(&tmp.path().join("mirrors/lib.git"));
    let c1 = repo.commit("one", &[("a.lua", file("return 1\n"))]);
    let ws_dir = workspace(tmp.path());
    rewrite_config(&ws_dir, &tmp.path().join("mirrors"));
    git_manifest(&ws_dir, "main");
    let ws = Workspace::open(&ws_dir).unwrap();
    let r = ingest::run(&ws, &opts(), &|_| {}).unwrap();
    assert_eq!(
        r.sources[0].commit.as_deref(),
        Some(c1.to_string().as_str())
    );

    // Unchanged: a no-op that does not rewrite the store.
    let gen_before = vcurate::store::current_dir(&ws.store_dir(), "lib").unwrap();
    let r = ingest::run(&ws, &opts(), &|_| {}).unwrap();
    assert_eq!(r.sources[0].status, "unchanged");
    assert_eq!(r.sources[0].documents, 1);
    assert_eq!(
        vcurate::store::current_dir(&ws.store_dir(), "lib").unwrap(),
        gen_before
    );

    // A new upstream commit does not move the lock by itself...
    let c2 = repo.commit(
        "two",
        &[("a.lua", file("return 2\n")), ("b.lua", file("return 3\n"))],
    );
    let r = ingest::run(&ws, &opts(), &|_| {}).unwrap();
    assert_eq!(
        r.sources[0].commit.as_deref(),
        Some(c1.to_string().as_str())
    );
    // ...--locked --update is refused by clap; --update with --locked semantics is an error here:
    let locked_update = IngestOptions {
        update: true,
        locked: true,
        ..opts()
    };
    let e = ingest::run(&ws, &locked_update, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("would move from"), "{e}");
    // ...and --update moves it and replaces that source's documents.
    let r = ingest::run(
        &ws,
        &IngestOptions {
            update: true,
            ..opts()
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(
        (
            r.sources[0].commit.as_deref(),
            r.sources[0].status.as_str(),
            r.sources[0].documents
        ),
        (Some(c2.to_string().as_str()), "ingested", 2)
    );
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    assert!(docs
        .iter()
        .all(|d| d.provenance.commit.as_deref() == Some(c2.to_string().as_str())));

    // A tag rev and a commit rev resolve too; --locked refuses the changed manifest.
    repo.tag("v1", c1);
    git_manifest(&ws_dir, "v1");
    let e = ingest::run(
        &ws,
        &IngestOptions {
            locked: true,
            ..opts()
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("--locked"), "{e}");
    let r = ingest::run(&ws, &opts(), &|_| {}).unwrap();
    assert_eq!(
        r.sources[0].commit.as_deref(),
        Some(c1.to_string().as_str())
    );
    git_manifest(&ws_dir, &c2.to_string()[..10]);
    let r = ingest::run(&ws, &opts(), &|_| {}).unwrap();
    assert_eq!(
        r.sources[0].commit.as_deref(),
        Some(c2.to_string().as_str())
    );
}

#[test]
fn bad_inputs_fail_clearly_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = TestRepo::init(&tmp.path().join("mirrors/lib.git"));
    repo.commit("one", &[("a.lua", file("return 1\n"))]);
    let ws_dir = workspace(tmp.path());
    rewrite_config(&ws_dir, &tmp.path().join("mirrors"));

    // Unknown rev: names the rev and the branches there are.
    git_manifest(&ws_dir, "no-such-branch");
    let out = vcurate(&ws_dir, &["ingest"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no-such-branch") && err.contains("branches: main"),
        "{err}"
    );
    assert!(
        !ws_dir.join("sources.lock").exists() && !ws_dir.join("dataset/store").exists(),
        "nothing written"
    );

    // Unreachable URL.
    write(&ws_dir.join("sources/lib.toml"), "kind = \"git\"\nurl = \"/nonexistent/repo\"\nrev = \"main\"\nrights-basis = \"open_source\"\n");
    let out = vcurate(&ws_dir, &["ingest"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot reach /nonexistent/repo"),
        "{}",
        stderr(&out)
    );

    // Bad manifest: file and line.
    write(&ws_dir.join("sources/lib.toml"), "kind = \"git\"\nurl = \"x\"\nrev = \"main\"\nrights-basis = \"open_source\"\nincludes = [\"*.lua\"]\n");
    let out = vcurate(&ws_dir, &["ingest"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("lib.toml:5") && err.contains("includes"),
        "{err}"
    );
    assert!(
        !ws_dir.join("sources.lock").exists() && !ws_dir.join("dataset/store").exists(),
        "nothing written"
    );

    // No workspace at all.
    let out = vcurate(tmp.path(), &["ingest"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("vcurate init"), "{}", stderr(&out));
}

#[test]
fn cli_rewrite_env_json_report_and_sources_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = TestRepo::init(&tmp.path().join("elsewhere/lib.git"));
    let c = repo.commit(
        "one",
        &[("a.lua", file("return 1\n")), ("b.txt", file("notes\n"))],
    );
    let ws_dir = workspace(tmp.path());
    git_manifest(&ws_dir, "main");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vcurate"))
        .args(["-C", ws_dir.to_str().unwrap(), "ingest", "--json"])
        .env(
            "VCURATE_GIT_REWRITE",
            format!(
                "https://example.com/org/={}/",
                tmp.path().join("elsewhere").display()
            ),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sources"][0]["id"], "lib");
    assert_eq!(report["sources"][0]["documents"], 1);
    assert_eq!(report["sources"][0]["skipped"]["excluded"], 1);
    assert_eq!(report["sources"][0]["commit"], c.to_string());

    let out = vcurate(&ws_dir, &["sources", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["ingested_commit"], c.to_string());
    assert_eq!(rows[0]["locked_commit"], c.to_string());
    assert_eq!(rows[0]["location"], "https://example.com/org/lib.git");
    // The table is for people: stderr (the data is `--json` on stdout).
    let table = stderr(&vcurate(&ws_dir, &["sources"]));
    assert!(table.lines().nth(1).unwrap().starts_with("lib "), "{table}");
}

#[test]
fn local_folder_and_jsonl_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let ws_dir = workspace(tmp.path());
    let game = tmp.path().join("game");
    write(
        &game.join("src/main.server.luau"),
        "local Players = game:GetService(\"Players\")\nprint(#Players:GetPlayers())\n",
    );
    write(&game.join("src/notes.txt"), "todo\n");
    write(&game.join(".git/HEAD"), "ref: refs/heads/main\n");
    std::os::unix::fs::symlink("main.server.luau", game.join("src/alias.luau")).unwrap();
    write(
        &ws_dir.join("sources/game.toml"),
        &format!("kind = \"local\"\npath = \"{}\"\n", game.display()),
    );
    write(
        &ws_dir.join("data/chat.jsonl"),
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"```lua\\nprint(1)\\n```\"}],\"meta\":{\"license\":\"CC0-1.0\",\"source\":\"forum\"}}\n\n{not json\n{\"prompt\":\"p\",\"completion\":\"c\"}\n{\"text\":\"only text\"}\n",
    );
    write(&ws_dir.join("sources/chat.toml"), "kind = \"jsonl\"\npath = \"data/chat.jsonl\"\nrights-basis = \"generated\"\nlicense = \"MIT\"\n[fields]\nlicense = \"meta.license\"\nsource = \"meta.source\"\n");
    let ws = Workspace::open(&ws_dir).unwrap();
    let r = ingest::run(&ws, &opts(), &|_| {}).unwrap();
    let ids: Vec<&str> = r.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["chat", "game"]);

    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    let game_docs: Vec<_> = docs
        .iter()
        .filter(|d| d.provenance.source_id == "game")
        .collect();
    assert_eq!(game_docs.len(), 1);
    assert_eq!(game_docs[0].provenance.path, "src/main.server.luau");
    assert_eq!(
        game_docs[0].provenance.rights_basis,
        vcurate::core::RightsBasis::OwnCodebase
    );
    assert_eq!(game_docs[0].provenance.commit, None);
    let expected_blob = TestRepo::blob_id(
        b"local Players = game:GetService(\"Players\")\nprint(#Players:GetPlayers())\n",
    )
    .to_string();
    assert_eq!(
        game_docs[0].provenance.blob_id.as_deref(),
        Some(expected_blob.as_str())
    );
    let gen = vcurate::store::current_dir(&ws.store_dir(), "game").unwrap();
    let skipped: BTreeMap<String, SkipReason> =
        vcurate::store::read_skipped(&gen.join("skipped.parquet"))
            .unwrap()
            .into_iter()
            .map(|s| (s.path, s.reason))
            .collect();
    assert_eq!(
        skipped,
        [
            ("src/alias.luau".to_string(), SkipReason::Symlink),
            ("src/notes.txt".to_string(), SkipReason::Excluded)
        ]
        .into()
    );

    let rows: Vec<_> = docs
        .iter()
        .filter(|d| d.provenance.source_id == "chat")
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].provenance.unit_name.as_deref(), Some("line 1"));
    assert_eq!(rows[0].provenance.origin.as_deref(), Some("forum"));
    assert_eq!(rows[0].provenance.license_candidates[0].value, "CC0-1.0");
    assert_eq!(
        rows[0].provenance.license_candidates[0].kind,
        CandidateKind::Row
    );
    assert_eq!(
        rows[1].provenance.license_candidates[0].value, "MIT",
        "the manifest default applies to rows without a license"
    );
    assert_eq!(rows[1].text, "{\"prompt\":\"p\",\"completion\":\"c\"}");
    let span = rows[1].provenance.span.unwrap();
    assert_eq!((span.line_start, span.line_end), (4, 4));
    let gen = vcurate::store::current_dir(&ws.store_dir(), "chat").unwrap();
    let skipped = vcurate::store::read_skipped(&gen.join("skipped.parquet")).unwrap();
    let details: Vec<&str> = skipped.iter().map(|s| s.detail.as_str()).collect();
    assert_eq!(skipped.len(), 2, "{details:?}");
    assert!(
        details[0].starts_with("line 3: not valid JSON"),
        "{details:?}"
    );
    assert!(
        details[1].starts_with("line 5: row has neither"),
        "{details:?}"
    );
}

/// Issue 11, item 6: one mis-encoded line in a scraped JSONL dataset failed the whole source
/// ("not valid UTF-8 at byte 124"). Every bad line is now one `invalid_row` skip record with its
/// line number and reason, and the good rows around it are still ingested.
#[test]
fn jsonl_bad_rows_are_skipped_one_by_one_and_the_source_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let ws_dir = workspace(tmp.path());
    // (line bytes, what ingest must make of it): Some(reason prefix) for a skip, None for a row.
    let lines: Vec<(Vec<u8>, Option<&str>)> = vec![
        (
            b"\xef\xbb\xbf{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}\n".to_vec(),
            None,
        ),
        (b"{\"prompt\":\"p\",\"completion\":\"c\"}\r\n".to_vec(), None),
        // Latin-1 "caf\xe9": what a scraper that did not re-encode leaves behind.
        (
            b"{\"prompt\":\"caf\xe9\",\"completion\":\"x\"}\n".to_vec(),
            Some("not valid UTF-8 at byte"),
        ),
        (
            b"{\"prompt\": \"unterminated\n".to_vec(),
            Some("not valid JSON"),
        ),
        (b"[1, 2]\n".to_vec(), Some("a row must be a JSON object")),
        (
            b"{\"messages\":\"hi\"}\n".to_vec(),
            Some("`messages` must be an array"),
        ),
        (
            b"{\"messages\":[{\"role\":\"user\",\"content\":5}]}\n".to_vec(),
            Some("messages[0] has no string `content`"),
        ),
        (
            b"{\"prompt\":\"p\",\"completion\":\"c\",\"meta\":{\"license\":{\"spdx\":\"MIT\"}}}\n"
                .to_vec(),
            Some("`meta.license` (the `license` field in [fields]) must be a string, not an object"),
        ),
        (b"\n".to_vec(), None),
        (
            b"{\"prompt\":\"q\",\"completion\":\"a\",\"meta\":{\"license\":\"Apache-2.0\"}}"
                .to_vec(),
            None,
        ),
    ];
    let bytes: Vec<u8> = lines.iter().flat_map(|(l, _)| l.clone()).collect();
    fs_err::create_dir_all(ws_dir.join("data")).unwrap();
    fs_err::write(ws_dir.join("data/scraped.jsonl"), &bytes).unwrap();
    write(&ws_dir.join("sources/scraped.toml"), "kind = \"jsonl\"\npath = \"data/scraped.jsonl\"\nrights-basis = \"generated\"\nlicense = \"MIT\"\n[fields]\nlicense = \"meta.license\"\n");
    let ws = Workspace::open(&ws_dir).unwrap();
    let r = ingest::run(&ws, &opts(), &|_| {}).expect("bad rows never fail the source");
    assert_eq!(r.sources.len(), 1);

    // Rows: lines that are neither skipped nor blank, with their own line numbers and spans.
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    let mut offset = 0u64;
    let mut want_rows = Vec::new();
    let mut want_skips = Vec::new();
    for (i, (line, outcome)) in lines.iter().enumerate() {
        let n = i as u32 + 1;
        let span = (offset, offset + line.len() as u64);
        offset += line.len() as u64;
        match outcome {
            Some(reason) => want_skips.push(format!("line {n}: {reason}")),
            None if line.iter().all(u8::is_ascii_whitespace) => {}
            None => want_rows.push((format!("line {n}"), span)),
        }
    }
    let got_rows: Vec<(String, (u64, u64))> = docs
        .iter()
        .map(|d| {
            let s = d.provenance.span.unwrap();
            (
                d.provenance.unit_name.clone().unwrap(),
                (s.byte_start, s.byte_end),
            )
        })
        .collect();
    assert_eq!(got_rows, want_rows);
    assert!(
        docs[0].provenance.steps.contains(&"strip_bom".to_string()),
        "the BOM before the first row is stripped visibly: {:?}",
        docs[0].provenance.steps
    );
    assert_eq!(docs[1].text, "{\"prompt\":\"p\",\"completion\":\"c\"}");
    assert_eq!(
        docs[2].provenance.license_candidates[0].value, "Apache-2.0",
        "a row after the bad ones keeps its own provenance"
    );

    let gen = vcurate::store::current_dir(&ws.store_dir(), "scraped").unwrap();
    let skipped = vcurate::store::read_skipped(&gen.join("skipped.parquet")).unwrap();
    assert_eq!(skipped.len(), want_skips.len(), "{skipped:?}");
    for (s, want) in skipped.iter().zip(&want_skips) {
        assert_eq!(s.reason, SkipReason::InvalidRow, "{s:?}");
        assert_eq!(s.path, "scraped.jsonl");
        assert!(
            s.detail.starts_with(want.as_str()),
            "{} should start with {want}",
            s.detail
        );
    }
    // The UTF-8 error says where the bad byte is, in the line and in the file, and what to do.
    let in_line = lines[2].0.iter().position(|&b| b == 0xe9).unwrap();
    let in_file = lines[..2].iter().map(|(l, _)| l.len()).sum::<usize>() + in_line;
    assert!(
        skipped[0].detail.contains(&format!(
            "at byte {in_line} of the line (byte {in_file} of the file); re-encode the file as UTF-8"
        )),
        "{}",
        skipped[0].detail
    );
}

/// Builds a workspace with two generated git sources under `corpus` (shared by callers).
fn big_workspace(dir: &Path, corpus: &Path) -> std::path::PathBuf {
    let ws = workspace(dir);
    for id in ["a-big", "b-big"] {
        write(
            &ws.join(format!("sources/{id}.toml")),
            &format!(
                "kind = \"git\"\nurl = \"{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\n",
                corpus.join(id).display()
            ),
        );
    }
    ws
}

#[test]
fn killed_ingest_resumes_to_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let mut rng = vcurate::bench::Rng::new(7);
    for (id, n) in [("a-big", 300), ("b-big", 3000)] {
        let files: Vec<(String, Entry)> = (0..n)
            .map(|i| {
                (
                    format!("src/m{i}.luau"),
                    Entry::File(vcurate::bench::ingest::luau_module(&mut rng, i, 60).into_bytes()),
                )
            })
            .collect();
        let repo = git2::Repository::init_bare(corpus.join(id)).unwrap();
        vcurate::ingest::git::commit_files(&repo, "main", "c", 1_700_000_000, &files).unwrap();
    }
    // Reference: an uninterrupted run.
    let reference = big_workspace(&tmp.path().join("ref"), &corpus);
    assert!(vcurate(&reference, &["ingest"]).status.success());

    // Interrupted: kill the process as soon as the first source is committed to the store.
    let ws = big_workspace(&tmp.path().join("killed"), &corpus);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vcurate"))
        .current_dir(&ws)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("ingest")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let first = ws.join("dataset/store/a-big/CURRENT");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !first.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.exists(),
        "the first source was committed before the kill"
    );
    assert!(
        !ws.join("dataset/store/b-big/CURRENT").exists(),
        "the kill interrupted the second source"
    );

    let out = vcurate(&ws, &["ingest", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["sources"][0]["status"], "unchanged",
        "the finished source is not redone"
    );
    assert_eq!(report["sources"][1]["status"], "ingested");
    for id in ["a-big", "b-big"] {
        let table = |root: &Path, t: &str| {
            vcurate::store::current_dir(&root.join("dataset/store"), id)
                .unwrap()
                .join(format!("{t}.parquet"))
        };
        assert_eq!(
            vcurate::store::read_documents(&table(&ws, "documents")).unwrap(),
            vcurate::store::read_documents(&table(&reference, "documents")).unwrap()
        );
        assert_eq!(
            vcurate::store::read_skipped(&table(&ws, "skipped")).unwrap(),
            vcurate::store::read_skipped(&table(&reference, "skipped")).unwrap()
        );
        // Only the current generation is left behind.
        let gens = std::fs::read_dir(ws.join("dataset/store").join(id))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_dir())
            .count();
        assert_eq!(gens, 1);
    }
    assert_eq!(
        std::fs::read_to_string(ws.join("sources.lock")).unwrap(),
        std::fs::read_to_string(reference.join("sources.lock")).unwrap()
    );
}

#[test]
fn docs_source_sections_api_members_licenses_and_attribution() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = TestRepo::init(&tmp.path().join("docs"));
    let guide = "---\ntitle: Tweening\ndescription: Move things smoothly.\n---\n\nIntro prose.\n\n## Create a tween\n\nUse TweenService.\n\n```Lua\nlocal TweenService = game:GetService(\"TweenService\")\nprint(TweenService)\n```\n\n```\nlocal untagged = 1\nreturn untagged\n```\n\n```json\n{\"a\": 1}\n```\n\n## Notes\n\nNo code here.\n";
    let class = "name: Debris\ntype: class\nsummary: Schedules removal.\ndescription: |\n  Removes things later.\nproperties: []\nmethods:\n  - name: Debris:AddItem\n    summary: Adds an item.\n    description: |\n      Example:\n\n      ```lua\n      Debris:AddItem(part, 5)\n      ```\n    parameters:\n      - name: item\n        type: Instance\n      - name: lifetime\n        type: number\n    returns:\n      - type: ()\n    code_samples: []\nevents: []\ncallbacks: []\n";
    repo.commit(
        "docs",
        &[
            (
                "LICENSE",
                file("Creative Commons Attribution 4.0 International\n"),
            ),
            ("LICENSE-CODE", file(MIT)),
            ("content/en-us/animation/tweens.md", file(guide)),
            (
                "content/en-us/reference/engine/classes/Debris.yaml",
                file(class),
            ),
            (
                "content/en-us/assets/pic.png",
                Entry::File(b"\x89PNG\0".to_vec()),
            ),
        ],
    );
    let ws_dir = workspace(tmp.path());
    write(
        &ws_dir.join("sources/creator-docs.toml"),
        &format!("kind = \"docs\"\nurl = \"{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\ncontent-root = \"content/en-us\"\nsite-url = \"https://create.roblox.com/docs\"\nprose-license = \"CC-BY-4.0\"\ncode-license = \"MIT\"\nauthor = \"Roblox Corporation\"\n", tmp.path().join("docs").display()),
    );
    let ws = Workspace::open(&ws_dir).unwrap();
    ingest::run(&ws, &opts(), &|_| {}).unwrap();
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    let units: Vec<(UnitKind, &str)> = docs
        .iter()
        .map(|d| {
            (
                d.provenance.unit_kind,
                d.provenance.unit_name.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        units,
        vec![
            (UnitKind::DocSection, "Tweening"),
            (UnitKind::DocSection, "Create a tween"),
            (UnitKind::DocSection, "Notes"),
            (UnitKind::ApiPage, "Debris"),
            (UnitKind::ApiMember, "Debris:AddItem"),
        ]
    );
    let create = &docs[1];
    let span = create.provenance.span.unwrap();
    assert_eq!(
        (span.line_start, span.line_end),
        (8, 24),
        "trailing blank lines are not part of a section"
    );
    assert_eq!(
        create.text,
        guide[guide.find("## Create").unwrap()..guide.find("\n\n## Notes").unwrap() + 1]
    );
    let blocks: Vec<(Option<&str>, bool)> = create
        .code_blocks
        .iter()
        .map(|b| (b.lang.as_deref(), b.is_luau))
        .collect();
    assert_eq!(
        blocks,
        vec![(Some("Lua"), true), (None, true), (Some("json"), false)]
    );
    assert_eq!(create.code_blocks[0].code_lines, 2);
    let attribution = create.provenance.attribution.as_ref().unwrap();
    assert_eq!(
        attribution.url,
        "https://create.roblox.com/docs/animation/tweens#create-a-tween"
    );
    assert_eq!(
        attribution.license, "CC-BY-4.0 AND MIT",
        "a section with code carries both licenses"
    );
    assert_eq!(attribution.title, "Tweening");
    assert_eq!(
        docs[2].provenance.attribution.as_ref().unwrap().license,
        "CC-BY-4.0",
        "prose only"
    );
    assert_eq!(
        (
            create.provenance.prose_license.as_deref(),
            create.provenance.code_license.as_deref()
        ),
        (Some("CC-BY-4.0"), Some("MIT"))
    );
    let member = &docs[4];
    assert!(member.text.contains("Debris:AddItem"), "{}", member.text);
    assert_eq!(member.code_blocks.len(), 1);
    assert!(member.code_blocks[0].is_luau);
    assert_eq!(
        member.provenance.attribution.as_ref().unwrap().url,
        "https://create.roblox.com/docs/reference/engine/classes/Debris#AddItem"
    );
    // Unit ids are unique and stable.
    let mut ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), docs.len());
}
