//! The secrets audit end to end (planted credentials never reach a frozen table, a rendered
//! example or an export; e-mail addresses arrive redacted), and opt-out and takedown: owners and
//! repositories named in any case leave the next snapshot and export, the list is recorded in
//! snapshot.toml, and `takedown` names the earlier exports and rebuilds the earlier snapshot.
//!
//! Every fake credential is assembled here at run time from pieces, so no committed file holds
//! one.

use std::path::{Path, PathBuf};

use crate::util::{file, stderr, stdout, vcurate, workspace, write, TestRepo};

const MIT: &str = "MIT License\n\nCopyright (c) 2024 Test\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\nAUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\nLIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\nOUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\nSOFTWARE.\n";

/// A Luau module with enough code to pass every other audit, holding `line`.
fn module(name: &str, line: &str) -> String {
    format!("--[[\n  {name}: sends a report.\n]]\nlocal HttpService = game:GetService(\"HttpService\")\nlocal {name} = {{}}\n\n{line}\n\n-- Builds the report body for a player.\nfunction {name}.body(player: Player, score: number): string\n\tlocal payload = {{ user = player.UserId, score = score * 2, tag = \"{name}\" }}\n\tfor i = 1, 3 do\n\t\tpayload.score += i\n\tend\n\treturn HttpService:JSONEncode(payload)\nend\n\nreturn {name}\n")
}

/// Deterministic characters of `set`.
fn chars(set: &str, n: usize, seed: u64) -> String {
    let set: Vec<char> = set.chars().collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            set[(x % set.len() as u64) as usize]
        })
        .collect()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The seven credentials of the issue's report, as (file, the value that must never reach an
/// export, the line that holds it).
fn planted() -> Vec<(&'static str, String, String)> {
    let cookie = format!(
        "{}{}FAKE{}",
        "_|WARNING:-DO-NOT-SHARE-THIS.--Sharing-this-will-allow-someone-to-log-in-as-you-and-",
        "to-steal-your-ROBUX-and-items.|_",
        chars("0123456789ABCDEF", 300, 1)
    );
    let token = cookie[cookie.len() - 300..].to_string();
    let api_key = format!("FAKE{}", chars(ALNUM, 44, 2));
    let webhook = format!(
        "https://discord.com/api/webhooks/{}/{}",
        "1".to_string() + &chars("0123456789", 17, 3),
        chars(&(ALNUM.to_string() + "-_"), 68, 4)
    );
    let aws = format!(
        "{}FAKE{}",
        "AKIA",
        chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 12, 5)
    );
    let gh = format!("{}_FAKE{}", "ghp", chars(ALNUM, 32, 6));
    let key_body = chars(ALNUM, 64, 7);
    let pem = format!(
        "-----BEGIN {k} PRIVATE KEY-----\n{key_body}\n{}\n-----END {k} PRIVATE KEY-----",
        chars(ALNUM, 64, 8),
        k = "RSA"
    );
    let email = "maintainer.fake@mailbox.fake-domain.org".to_string();
    vec![
        ("Cookie.luau", token, format!("local COOKIE = \"{cookie}\"")),
        (
            "Cloud.luau",
            api_key.clone(),
            format!("local HEADERS = {{ [\"x-api-key\"] = \"{api_key}\" }}"),
        ),
        (
            "Hook.luau",
            webhook.clone(),
            format!("local WEBHOOK = \"{webhook}\""),
        ),
        (
            "Aws.luau",
            aws.clone(),
            format!("local AWS_ACCESS_KEY = \"{aws}\""),
        ),
        ("Gh.luau", gh.clone(), format!("local GITHUB = \"{gh}\"")),
        ("Pem.luau", key_body, format!("local PEM = [[\n{pem}\n]]")),
        ("Mail.luau", email.clone(), format!("-- Questions: {email}")),
    ]
}

fn run_ok(ws: &Path, args: &[&str]) -> String {
    let out = vcurate(ws, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn json(ws: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&run_ok(ws, args)).unwrap()
}

/// Everything under `dir`, as text (Parquet pages are uncompressed enough for a plain value to
/// show; the JSONL and HTML are text).
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in walk(dir) {
        out.push_str(&String::from_utf8_lossy(&std::fs::read(e).unwrap()));
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn planted_credentials_never_reach_an_export_and_emails_arrive_redacted() {
    // As the issue tried it: the seven fakes in a local source (a game's own code).
    let tmp = tempfile::tempdir().unwrap();
    let planted = planted();
    let game = tmp.path().join("game");
    write(
        &game.join("Clean.luau"),
        &module("Clean", "local VERSION = \"1.2.3.4\""),
    );
    for (name, _, line) in &planted {
        write(&game.join(name), &module(&name.replace(".luau", ""), line));
    }
    let ws = workspace(tmp.path());
    write(
        &ws.join("sources/game.toml"),
        &format!("kind = \"local\"\npath = \"{}\"\n", game.display()),
    );
    write(
        &ws.join("vcurate.toml"),
        "[splits]\ngroup-by = \"file\"\ntrain = 1.0\nvalid = 0.0\ntest = 0.0\n",
    );
    run_ok(&ws, &["ingest"]);
    let audits = json(&ws, &["audit", "--json"]);
    let secrets = audits
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["audit"] == "secrets")
        .unwrap();
    assert_eq!(
        secrets["excluded_by_reason"]["contains_secret"], 6,
        "{secrets:#}"
    );
    assert_eq!(secrets["summary"]["redacted"], 1, "{secrets:#}");
    assert_eq!(secrets["summary"]["by_kind"]["email"], 1, "{secrets:#}");
    let summary_text = serde_json::to_string(secrets).unwrap();
    for (name, value, _) in &planted {
        assert!(
            !summary_text.contains(value.as_str()),
            "{name}: the summary shows the value"
        );
    }
    let table = stderr(&vcurate(&ws, &["audit", "secrets"]));
    assert!(
        table.contains("7 documents with findings (6 dropped, 1 redacted)"),
        "{table}"
    );

    let snap = json(&ws, &["snapshot", "create", "--json"]);
    let id = snap["id"].as_str().unwrap();
    assert_eq!(snap["excluded_by_reason"]["secrets:contains_secret"], 6);
    let out = tmp.path().join("export");
    run_ok(
        &ws,
        &["export", "--snapshot", id, "--out", out.to_str().unwrap()],
    );
    run_ok(&ws, &["report", "--snapshot", id]);
    let exported = all_text(&out);
    let frozen = all_text(&ws.join("dataset/snapshots").join(id));
    assert!(exported.contains("<EMAIL>"), "{exported}");
    assert!(exported.contains("Clean"), "the clean module is exported");
    for (name, value, _) in &planted {
        assert!(
            !exported.contains(value.as_str()),
            "{name} reached the export"
        );
        assert!(
            !frozen.contains(value.as_str()),
            "{name} is in the frozen snapshot"
        );
    }
    // The frozen copy records the redaction in its steps; the store's copy is untouched.
    let docs = vcurate::store::read_documents(
        &ws.join("dataset/snapshots")
            .join(id)
            .join("documents.parquet"),
    )
    .unwrap();
    let mail = docs
        .iter()
        .find(|d| d.provenance.path == "Mail.luau")
        .unwrap();
    assert!(
        mail.text.contains("-- Questions: <EMAIL>\n"),
        "{}",
        mail.text
    );
    assert!(
        mail.provenance
            .steps
            .iter()
            .any(|s| s == "redact_secrets:email"),
        "{:?}",
        mail.provenance.steps
    );
    let pem = docs
        .iter()
        .find(|d| d.provenance.path == "Pem.luau")
        .unwrap();
    assert_eq!(
        pem.text.lines().count(),
        module("Pem", &planted[5].2).lines().count(),
        "a redacted block keeps its lines: {}",
        pem.text
    );
    let stored = vcurate::store::all_documents(&ws.join("dataset/store")).unwrap();
    let raw = stored
        .iter()
        .find(|d| d.provenance.path == "Mail.luau")
        .unwrap();
    assert!(
        raw.text.contains(&planted[6].1),
        "audits never rewrite the store"
    );
    // The report has the section, with counts by source and by rule.
    let html = std::fs::read_to_string(
        ws.join("dataset/snapshots")
            .join(id)
            .join("reports/report.html"),
    )
    .unwrap();
    assert!(html.contains("Secrets and personal data"), "{html}");
    assert!(html.contains("roblox-security-cookie"), "{html}");
    assert!(
        html.contains("<td>game</td><td>8</td><td>7</td><td>6</td><td>1</td>"),
        "{html}"
    );
}

/// Four repositories behind GitHub-style URLs, read from local mirrors.
fn owners_workspace(dir: &Path) -> PathBuf {
    for (owner, name) in [
        ("AliceDev", "alpha"),
        ("AliceDev", "beta"),
        ("bob", "gamma"),
        ("carol", "delta"),
    ] {
        let repo = TestRepo::init(&dir.join("mirrors").join(owner).join(name));
        let m = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
        repo.commit(
            "init",
            &[
                ("LICENSE", file(MIT)),
                (
                    "src/Main.luau",
                    file(&module(&m, &format!("local NAME = \"{owner}/{name}\""))),
                ),
                (
                    "src/Util.luau",
                    file(&module(&format!("{m}Util"), "local LIMIT = 10")),
                ),
            ],
        );
    }
    let ws = workspace(dir);
    write(
        &ws.join("vcurate.toml"),
        &format!(
            "[git.rewrite]\n\"https://github.com/\" = \"{}/\"\n\n[splits]\ngroup-by = \"file\"\ntrain = 1.0\nvalid = 0.0\ntest = 0.0\n",
            dir.join("mirrors").display()
        ),
    );
    for (owner, name) in [
        ("AliceDev", "alpha"),
        ("AliceDev", "beta"),
        ("bob", "gamma"),
        ("carol", "delta"),
    ] {
        write(
            &ws.join(format!("sources/{name}.toml")),
            &format!("kind = \"git\"\nurl = \"https://github.com/{owner}/{name}\"\nrev = \"main\"\nrights-basis = \"open_source\"\n"),
        );
    }
    ws
}

fn sources_of(export: &Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for split in ["train", "valid", "test"] {
        let side = std::fs::read_to_string(export.join(format!("{split}.provenance.jsonl")))
            .unwrap_or_default();
        for l in side.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            for s in v["sources"].as_array().unwrap() {
                out.insert(s["source_id"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

#[test]
fn opt_out_by_owner_and_repo_in_any_case_and_takedown_rebuilds_and_names_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = owners_workspace(tmp.path());
    run_ok(&ws, &["ingest"]);
    run_ok(&ws, &["audit"]);
    let first = json(&ws, &["snapshot", "create", "--json"]);
    let first_id = first["id"].as_str().unwrap().to_string();
    assert_eq!(first["counts"]["documents"], 8);
    assert!(
        first.get("opt_out").unwrap().is_object(),
        "init writes an empty list: {first:#}"
    );
    let export1 = tmp.path().join("export-1");
    run_ok(
        &ws,
        &[
            "export",
            "--snapshot",
            &first_id,
            "--out",
            export1.to_str().unwrap(),
        ],
    );
    assert_eq!(sources_of(&export1).len(), 4);

    // A takedown of one repository, named in another case.
    let report = json(
        &ws,
        &[
            "takedown",
            "--repo",
            "BOB/Gamma",
            "--reason",
            "request #1 from bob",
            "--date",
            "2025-03-04",
            "--json",
        ],
    );
    let snaps = report["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 1, "{report:#}");
    assert_eq!(snaps[0]["snapshot"], first_id.as_str());
    assert_eq!(snaps[0]["documents"].as_array().unwrap().len(), 2);
    let exports = report["exports"].as_array().unwrap();
    assert_eq!(exports.len(), 1, "{report:#}");
    assert_eq!(
        std::path::PathBuf::from(exports[0]["out"].as_str().unwrap()),
        std::fs::canonicalize(&export1).unwrap()
    );
    let lines: u64 = exports[0]["lines"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(lines, snaps[0]["examples"].as_u64().unwrap());
    assert!(lines > 0);
    let rebuilt = snaps[0]["rebuilt"].as_str().unwrap().to_string();
    assert_ne!(rebuilt, first_id);
    let shown = run_ok(&ws, &["snapshot", "show", &rebuilt]);
    assert!(
        shown.contains(&format!("rebuilt_from = \"{first_id}\"")),
        "{shown}"
    );
    assert!(shown.contains("repo = \"BOB/Gamma\""), "{shown}");

    // The diff lists exactly gamma's two documents and its examples, all for the opt-out.
    let diff = json(&ws, &["snapshot", "diff", &first_id, &rebuilt, "--json"]);
    let entries = diff["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{diff:#}");
    for e in entries {
        assert_eq!(e["source_id"], "gamma");
        assert_eq!(e["change"], "newly_excluded");
        assert_eq!(e["why"], "opt-out:opt_out");
    }
    let examples = diff["examples"].as_array().unwrap();
    assert_eq!(examples.len() as u64, lines, "{diff:#}");
    assert!(examples.iter().all(|e| e["change"] == "removed"));
    // The rebuilt snapshot no longer holds gamma's text.
    let frozen = all_text(&ws.join("dataset/snapshots").join(&rebuilt));
    assert!(!frozen.contains("local NAME = \"bob/gamma\""));

    // Then an owner's opt-out, written by hand in another case: the next ingest does not fetch
    // alpha or beta (nor gamma), the next snapshot records the list and holds only delta.
    let list = ws.join("licenses/opt-out.toml");
    let mut text = std::fs::read_to_string(&list).unwrap();
    text.push_str("\n[[opt-out]]\nowner = \"alicedev\"\nreason = \"account-wide request #2\"\ndate = \"2025-03-05\"\n");
    std::fs::write(&list, &text).unwrap();
    let ingest = vcurate(&ws, &["ingest"]);
    assert!(ingest.status.success(), "{}", stderr(&ingest));
    let said = stderr(&ingest);
    for id in ["alpha", "beta", "gamma"] {
        assert!(
            said.contains(&format!("{id:<20} not fetched: opted out")),
            "{said}"
        );
    }
    assert!(
        said.contains("owner alicedev: account-wide request #2, 2025-03-05"),
        "{said}"
    );
    run_ok(&ws, &["audit"]);
    let next = json(&ws, &["snapshot", "create", "--json"]);
    assert_eq!(next["counts"]["documents"], 2, "{next:#}");
    let recorded = &next["opt_out"];
    assert_eq!(recorded["entry"].as_array().unwrap().len(), 2, "{next:#}");
    let shown = run_ok(&ws, &["snapshot", "show", next["id"].as_str().unwrap()]);
    assert!(
        shown.contains("[opt_out]") && shown.contains("owner = \"alicedev\""),
        "{shown}"
    );
    let export2 = tmp.path().join("export-2");
    run_ok(
        &ws,
        &[
            "export",
            "--snapshot",
            next["id"].as_str().unwrap(),
            "--out",
            export2.to_str().unwrap(),
        ],
    );
    assert_eq!(
        sources_of(&export2).into_iter().collect::<Vec<_>>(),
        vec!["delta".to_string()]
    );

    // A takedown now names the first export (alice's lines are in it) and both older snapshots
    // that hold alice's documents, and touches nothing on a dry run.
    let before = std::fs::read_to_string(&list).unwrap();
    let dry = json(
        &ws,
        &[
            "takedown",
            "--owner",
            "ALICEDEV",
            "--reason",
            "r",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(std::fs::read_to_string(&list).unwrap(), before);
    let named: Vec<&str> = dry["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["snapshot"].as_str().unwrap())
        .collect();
    assert!(
        named.contains(&first_id.as_str()) && named.contains(&rebuilt.as_str()),
        "{dry:#}"
    );
    assert!(dry["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["rebuilt"].is_null()));
    let outs: Vec<&str> = dry["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["out"].as_str().unwrap())
        .collect();
    assert_eq!(outs.len(), 1, "{dry:#}");
    assert!(outs[0].ends_with("export-1"), "{dry:#}");

    // A path glob alone matches in every source; a document id matches that document only.
    let by_path = json(
        &ws,
        &[
            "takedown",
            "--path",
            "src/Util.luau",
            "--reason",
            "r",
            "--dry-run",
            "--json",
        ],
    );
    let first_hit = by_path["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["snapshot"] == first_id.as_str())
        .unwrap();
    let docs = first_hit["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 4, "{by_path:#}");
    assert!(docs.iter().all(|d| d["path"] == "src/Util.luau"));
    let one = docs[0]["id"].as_str().unwrap();
    let by_id = json(
        &ws,
        &[
            "takedown",
            "--document",
            one,
            "--reason",
            "r",
            "--dry-run",
            "--json",
        ],
    );
    let hits: Vec<&serde_json::Value> = by_id["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["documents"].as_array().unwrap())
        .collect();
    assert!(
        !hits.is_empty() && hits.iter().all(|d| d["id"] == one),
        "{by_id:#}"
    );
    // Naming nothing is refused before anything happens.
    let none = vcurate(&ws, &["takedown", "--reason", "r"]);
    assert!(!none.status.success());
}

#[test]
fn a_misspelled_opt_out_key_stops_ingest_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    write(
        &ws.join("licenses/opt-out.toml"),
        "[[opt-out]]\nowner = \"x\"\nreasn = \"typo\"\ndate = \"2025-01-01\"\n",
    );
    let out = vcurate(&ws, &["ingest"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("opt-out.toml:3") && err.contains("reasn"),
        "{err}"
    );
}
