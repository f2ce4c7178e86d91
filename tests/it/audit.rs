//! Audits over a real ingested workspace, with a planted case for every rule.

use std::collections::BTreeMap;
use std::path::Path;

use vcurate::audit::run;
use vcurate::workspace::Workspace;

use crate::util::{stderr, vcurate, workspace, write};

const MODULE: &str = "local Stack = {}\nStack.__index = Stack\n\nfunction Stack.new()\n\treturn setmetatable({ items = {}, size = 0 }, Stack)\nend\n\nfunction Stack:push(value)\n\tself.size += 1\n\tself.items[self.size] = value\nend\n\nfunction Stack:pop()\n\tlocal value = self.items[self.size]\n\tself.items[self.size] = nil\n\tself.size -= 1\n\treturn value\nend\n\nreturn Stack\n";

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
    let chat = serde_json::json!({"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": format!("```luau\n{MODULE}```")}]});
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
    let docs = vcurate::snapshot::all_documents(&ws.store_dir()).unwrap();
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
    let docs = vcurate::snapshot::all_documents(&ws.store_dir()).unwrap();
    let excluded = run::excluded_ids(&run::audit_dir(&ws), run::AUDITS).unwrap();
    let kept: Vec<String> = docs
        .iter()
        .filter(|d| !excluded.contains(&d.id))
        .map(|d| format!("{}:{}", d.provenance.source_id, d.provenance.path))
        .collect();
    assert_eq!(kept, vec!["a:Stack.luau"]);

    // Contamination names the task and the items that contaminate it.
    let contamination = &summaries[5]["summary"]["per_task"][0];
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
    let splits = &summaries[6]["summary"];
    assert_eq!(splits["clean"], true);
    let counts = &splits["counts"];
    assert_eq!(
        counts["train"].as_u64().unwrap()
            + counts["valid"].as_u64().unwrap()
            + counts["test"].as_u64().unwrap(),
        docs.len() as u64
    );
    let attrs =
        vcurate::snapshot::read_parquet(&run::audit_dir(&ws).join("attributes/splits.parquet"))
            .unwrap();
    assert_eq!(attrs.height(), docs.len());

    // Density is reported per source, computed from parsed code lines.
    let density =
        vcurate::snapshot::read_parquet(&run::audit_dir(&ws).join("attributes/density.parquet"))
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
        vcurate::luau::code_lines(MODULE),
        "the assistant's fenced luau block, parsed"
    );
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
