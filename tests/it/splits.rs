//! Splits on a workspace dominated by one large docs source (issue 11: default settings on 25
//! Roblox repos gave 910 train / 0 valid / 2,088 test documents, because `group-by = "source"`
//! put creator-docs whole into one split and nothing checked the result). Default splits land
//! near 80/10/10 and stay leak-free on every document and in the export; strict source grouping
//! keeps sources whole and says what it achieved, and fails on an empty split.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use vcurate::audit::run;
use vcurate::audit::split::{verify_splits, Split};
use vcurate::core::hash::SplitMix64;
use vcurate::core::Document;
use vcurate::workspace::Workspace;

use crate::util::{file, stderr, vcurate, workspace, write, Entry, TestRepo};

/// A Luau module of `functions` small functions with random constants, so that no two modules
/// the generator makes are near duplicates.
fn module(rng: &mut SplitMix64, name: &str, functions: usize) -> String {
    let mut s = format!("local {name} = {{}}\n\n");
    for k in 0..functions {
        s.push_str(&format!(
            "function {name}.step{k}(value: number): number\n\tlocal scaled = value * {} + {}\n\treturn math.floor(scaled / {})\nend\n\n",
            rng.below(1000),
            rng.below(1000),
            rng.below(90) + 1
        ));
    }
    s.push_str(&format!("return {name}\n"));
    s
}

/// Code every sixth docs page repeats verbatim: exact duplicates inside the docs source.
const BOILERPLATE: &str = "local Players = game:GetService(\"Players\")\nlocal ReplicatedStorage = game:GetService(\"ReplicatedStorage\")\nlocal RunService = game:GetService(\"RunService\")\nlocal player = Players.LocalPlayer\nlocal shared = ReplicatedStorage:WaitForChild(\"Shared\")\nprint(player, shared, RunService:IsClient())\n";

const PAGES: usize = 60;
const PARTS: usize = 4;

/// The code of part `s` of docs page `p`; the first is long, so that a copy of it in a
/// repository is a near duplicate of the whole docs section (prose included).
fn docs_code(rng: &mut SplitMix64, p: usize, s: usize) -> String {
    let functions = if p == 0 && s == 0 { 12 } else { 3 };
    module(rng, &format!("Guide{p}Part{s}"), functions)
}

/// A workspace like the issue's: a Creator-Docs-like source with 60 guide pages (an intro,
/// four sections with Luau code, every sixth page a section of shared boilerplate code, and the
/// same feedback section on every page), about 80% of all documents; and `repos` git
/// repositories of 13 modules each, an identical README and `init.luau`, one module vendored
/// from repo0 into repo1 (an exact duplicate across sources) and one docs sample copied with an
/// extra function into repo2 (a near duplicate across sources).
fn docs_dominated(dir: &Path, repos: usize, splits: &str) -> PathBuf {
    let mut rng = SplitMix64::new(2024);
    let ws = workspace(dir);
    let sample = |repo, path| {
        vcurate::sample::file(repo, path)
            .expect("sample file")
            .contents
    };
    let mut docs: Vec<(String, Entry)> = vec![
        (
            "LICENSE".into(),
            file(sample(vcurate::sample::CREATOR_DOCS, "LICENSE")),
        ),
        (
            "LICENSE-CODE".into(),
            file(sample(vcurate::sample::CREATOR_DOCS, "LICENSE-CODE")),
        ),
    ];
    let mut copied = String::new();
    for p in 0..PAGES {
        let mut page = format!(
            "---\ntitle: Guide {p}\ndescription: How to build part {p} of an experience.\n---\n\nThis guide walks through part {p} of an experience, step by step.\n"
        );
        for s in 0..PARTS {
            let code = docs_code(&mut rng, p, s);
            if p == 0 && s == 0 {
                copied = code.clone();
            }
            page.push_str(&format!(
                "\n## Build step {s} of guide {p}\n\nAdd this module to the place.\n\n```lua\n{code}```\n"
            ));
        }
        if p % 6 == 0 {
            page.push_str(&format!(
                "\n## Get the common services\n\n```lua\n{BOILERPLATE}```\n"
            ));
        }
        page.push_str(
            "\n## Feedback\n\nTell us what you think of this guide on the developer forum.\n",
        );
        docs.push((format!("content/en-us/guides/guide{p}.md"), file(&page)));
    }
    let docs_dir = dir.join("creator-docs");
    let files: Vec<(&str, Entry)> = docs.iter().map(|(p, e)| (p.as_str(), e.clone())).collect();
    TestRepo::init(&docs_dir).commit("docs", &files);
    write(
        &ws.join("sources/creator-docs.toml"),
        &format!(
            "kind = \"docs\"\nurl = \"{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\ncontent-root = \"content/en-us\"\nsite-url = \"https://create.roblox.com/docs\"\nprose-license = \"CC-BY-4.0\"\ncode-license = \"MIT\"\nauthor = \"Test authors\"\n",
            docs_dir.display()
        ),
    );

    let mut vendored = String::new();
    for r in 0..repos {
        let mut files: Vec<(String, Entry)> = vec![
            (
                "LICENSE".into(),
                file(sample(vcurate::sample::LUAU_UTILS, "LICENSE")),
            ),
            (
                "README.md".into(),
                file("# A Roblox library\n\nInstall it with Wally and require it from ReplicatedStorage.\n"),
            ),
            (
                "src/init.luau".into(),
                file("return require(script.Module0)\n"),
            ),
        ];
        for f in 0..13 {
            let m = module(&mut rng, &format!("Lib{r}Module{f}"), 3);
            if r == 0 && f == 0 {
                vendored = m.clone();
            }
            files.push((format!("src/Module{f}.luau"), file(&m)));
        }
        if r == 1 {
            files.push(("vendor/Lib0Module0.luau".into(), file(&vendored)));
        }
        if r == 2 {
            let near = copied.replace(
                "return Guide0Part0\n",
                "function Guide0Part0.reset()\n\treturn 0\nend\n\nreturn Guide0Part0\n",
            );
            files.push(("src/Copied.luau".into(), file(&near)));
        }
        let repo_dir = dir.join(format!("lib{r}"));
        let files: Vec<(&str, Entry)> =
            files.iter().map(|(p, e)| (p.as_str(), e.clone())).collect();
        TestRepo::init(&repo_dir).commit("lib", &files);
        write(
            &ws.join(format!("sources/lib{r}.toml")),
            &format!(
                "kind = \"git\"\nurl = \"{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\n",
                repo_dir.display()
            ),
        );
    }
    write(&ws.join("vcurate.toml"), splits);
    let out = vcurate(&ws, &["ingest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    ws
}

/// Every document with its split from the splits audit's table and whether it counts (no
/// earlier audit dropped it for good).
fn split_table(ws: &Path) -> (Vec<Document>, Vec<Split>, Vec<bool>) {
    let ws = Workspace::open(ws).unwrap();
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    let df = vcurate::store::read_parquet(&run::audit_dir(&ws).join("attributes/splits.parquet"))
        .unwrap();
    let split: BTreeMap<String, (Split, bool)> = df
        .column("id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .zip(df.column("split").unwrap().str().unwrap().iter())
        .zip(df.column("kept").unwrap().bool().unwrap().iter())
        .map(|((id, s), kept)| {
            let s = Split::ALL
                .into_iter()
                .find(|x| Some(x.as_str()) == s)
                .unwrap();
            (id.unwrap().to_string(), (s, kept.unwrap()))
        })
        .collect();
    let splits = docs.iter().map(|d| split[&d.id].0).collect();
    let kept = docs.iter().map(|d| split[&d.id].1).collect();
    (docs, splits, kept)
}

fn audit_json(ws: &Path) -> serde_json::Value {
    let out = vcurate(ws, &["audit", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["audit"] == "splits")
        .unwrap()
        .clone()
}

fn fractions(v: &serde_json::Value) -> [f64; 3] {
    ["train", "valid", "test"].map(|s| v[s].as_f64().unwrap())
}

#[test]
fn default_splits_of_a_docs_dominated_workspace_are_near_target_and_leak_free() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = docs_dominated(tmp.path(), 6, "");
    let splits = audit_json(&ws);
    let summary = &splits["summary"];
    let (docs, split_of, kept) = split_table(&ws);

    // The fixture is the issue's shape: one docs source with 80% of the documents.
    let in_docs = |d: &Document| d.provenance.source_id == "creator-docs";
    let docs_share = docs.iter().filter(|d| in_docs(d)).count() as f64 / docs.len() as f64;
    assert!((0.79..0.82).contains(&docs_share), "{docs_share}");

    // Every split within 5 points of its target, counted over the documents an export holds;
    // nothing to warn about.
    let (achieved, targets) = (
        fractions(&summary["fractions"]),
        fractions(&summary["targets"]),
    );
    assert_eq!(targets, [0.8, 0.1, 0.1]);
    for (a, t) in achieved.iter().zip(targets) {
        assert!((a - t).abs() <= 0.05, "{summary:#}");
    }
    assert_eq!(splits["warnings"], serde_json::json!([]), "{summary:#}");
    assert_eq!(
        summary["broken_down_sources"],
        serde_json::json!(["creator-docs"])
    );
    // The summary's figures are the table's.
    let mut per_split = [0usize; 3];
    for (s, k) in split_of.iter().zip(&kept) {
        per_split[*s as usize] += *k as usize;
    }
    let total: usize = per_split.iter().sum();
    for (i, s) in Split::ALL.iter().enumerate() {
        assert_eq!(summary["kept"][s.as_str()], per_split[i], "{summary:#}");
        let f = per_split[i] as f64 / total as f64;
        assert!((f - achieved[i]).abs() < 1e-4);
    }
    eprintln!(
        "docs-dominated workspace: {} documents ({:.1}% in creator-docs), kept {total}: {}",
        docs.len(),
        docs_share * 100.0,
        summary["fractions"]
    );

    // Grouping is kept where it fits: each repository whole, each docs page whole.
    let mut groups: BTreeMap<String, BTreeSet<Split>> = BTreeMap::new();
    for ((d, s), k) in docs.iter().zip(&split_of).zip(&kept) {
        if *k {
            let key = if in_docs(d) {
                d.provenance.path.clone()
            } else {
                d.provenance.source_id.clone()
            };
            groups.entry(key).or_default().insert(*s);
        }
    }
    for (g, s) in &groups {
        assert_eq!(s.len(), 1, "{g} is in {s:?}");
    }
    // Held-out splits are not docs alone.
    assert!(docs
        .iter()
        .zip(&split_of)
        .zip(&kept)
        .any(|((d, s), k)| *k && !in_docs(d) && *s != Split::Train));

    // Leak-free: the verifier finds no exact or near duplicate across splits, over every
    // document (dropped ones included) ...
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let ws_cfg = Workspace::open(&ws).unwrap().config;
    let near_cfg = (&ws_cfg.audit.near_dedup).into();
    let report = verify_splits(&texts, &split_of, &near_cfg, &ws_cfg.audit.exact_dedup).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(summary["clean"], true);
    // ... and the planted cross-source duplicates really are duplicates that share a split.
    let split_at = |source: &str, path: &str| {
        let i = docs
            .iter()
            .position(|d| d.provenance.source_id == source && d.provenance.path == path)
            .unwrap_or_else(|| panic!("{source}:{path}"));
        split_of[i]
    };
    assert_eq!(
        split_at("lib0", "src/Module0.luau"),
        split_at("lib1", "vendor/Lib0Module0.luau")
    );
    let copied = docs
        .iter()
        .position(|d| d.provenance.source_id == "lib2" && d.provenance.path == "src/Copied.luau")
        .unwrap();
    let original = docs
        .iter()
        .position(|d| in_docs(d) && d.text.contains("return Guide0Part0"))
        .unwrap();
    assert_eq!(split_of[copied], split_of[original]);
    // Moving the copy alone to another split is a leak the verifier sees.
    let elsewhere = if split_of[original] == Split::Train {
        Split::Test
    } else {
        Split::Train
    };
    let mut moved = split_of.clone();
    moved[copied] = elsewhere;
    let leaky = verify_splits(&texts, &moved, &near_cfg, &ws_cfg.audit.exact_dedup).unwrap();
    assert!(
        !leaky.is_clean(),
        "the planted near copy is a near duplicate"
    );

    // The export has every split, and its examples do not leak across them either.
    let out = vcurate(&ws, &["snapshot", "create", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = tmp.path().join("export");
    let out = vcurate(
        &ws,
        &[
            "export",
            "--snapshot",
            snap["id"].as_str().unwrap(),
            "--format",
            "chat",
            "--out",
            dir.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    let mut texts = Vec::new();
    let mut splits = Vec::new();
    let mut lines = [0usize; 3];
    for s in Split::ALL {
        let data = std::fs::read_to_string(dir.join(format!("{}.jsonl", s.as_str()))).unwrap();
        for l in data.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let text: Vec<&str> = v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["content"].as_str().unwrap())
                .collect();
            texts.push(text.join("\n"));
            splits.push(s);
            lines[s as usize] += 1;
        }
    }
    assert!(lines.iter().all(|&n| n > 0), "{lines:?}");
    let examples = lines.iter().sum::<usize>() as f64;
    eprintln!(
        "exported examples: train {} valid {} test {} ({:.1}% / {:.1}% / {:.1}%)",
        lines[0],
        lines[1],
        lines[2],
        lines[0] as f64 * 100.0 / examples,
        lines[1] as f64 * 100.0 / examples,
        lines[2] as f64 * 100.0 / examples
    );
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let report = verify_splits(&refs, &splits, &near_cfg, &ws_cfg.audit.exact_dedup).unwrap();
    assert!(report.is_clean(), "{report:?}");

    // People see the achieved fractions under the audit table.
    let out = vcurate(&ws, &["audit", "splits"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("splits of the kept documents: train "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn strict_source_grouping_keeps_sources_whole_warns_off_target_and_fails_on_an_empty_split() {
    let tmp = tempfile::tempdir().unwrap();
    // Two repositories beside the docs: three whole sources for three splits.
    let ws = docs_dominated(
        &tmp.path().join("two"),
        2,
        "[splits]\ngroup-by = \"source\"\nstrict = true\n",
    );
    let splits = audit_json(&ws);
    let summary = &splits["summary"];
    let (docs, split_of, kept) = split_table(&ws);
    let mut by_source: BTreeMap<&str, BTreeSet<Split>> = BTreeMap::new();
    for ((d, s), k) in docs.iter().zip(&split_of).zip(&kept) {
        if *k {
            by_source
                .entry(d.provenance.source_id.as_str())
                .or_default()
                .insert(*s);
        }
    }
    assert_eq!(by_source.len(), 3);
    assert!(by_source.values().all(|s| s.len() == 1), "{by_source:?}");
    assert_eq!(summary["broken_down_sources"], serde_json::json!([]));
    // Every split got a source, and each split more than 5 points off target is a warning that
    // says what was achieved and what to change.
    let (achieved, targets) = (
        fractions(&summary["fractions"]),
        fractions(&summary["targets"]),
    );
    assert!(achieved.iter().all(|&f| f > 0.0), "{summary:#}");
    let warnings: Vec<&str> = splits["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    let off: Vec<&str> = Split::ALL
        .iter()
        .filter(|s| (achieved[**s as usize] - targets[**s as usize]).abs() > 0.05)
        .map(|s| s.as_str())
        .collect();
    assert!(
        !off.is_empty(),
        "the docs source alone is over 80%: {summary:#}"
    );
    assert_eq!(warnings.len(), off.len(), "{warnings:?}");
    for (w, s) in warnings.iter().zip(&off) {
        assert!(w.starts_with(&format!("split `{s}` got ")), "{w}");
        assert!(w.contains("strict = false"), "{w}");
    }
    let out = vcurate(&ws, &["audit", "splits"]);
    assert!(
        stderr(&out).contains("warning: splits: split `"),
        "{}",
        stderr(&out)
    );

    // One repository: two whole sources cannot fill three splits. The audit fails naming the
    // split, its target and what to change, and leaves no splits table a snapshot could use.
    let ws = docs_dominated(
        &tmp.path().join("one"),
        1,
        "[splits]\ngroup-by = \"source\"\nstrict = true\n",
    );
    let out = vcurate(&ws, &["audit"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("split `test` has a target of 10.0% but got no documents"),
        "{err}"
    );
    assert!(err.contains("strict = false"), "{err}");
    assert!(err.contains("`test = 0` under [splits]"), "{err}");
    let audit_dir = run::audit_dir(&Workspace::open(&ws).unwrap());
    assert!(!audit_dir.join("attributes/splits.parquet").exists());
    let out = vcurate(&ws, &["snapshot", "create"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Without strict the same workspace splits fine.
    write(&ws.join("vcurate.toml"), "");
    let summary = &audit_json(&ws)["summary"];
    for (a, t) in fractions(&summary["fractions"])
        .iter()
        .zip(fractions(&summary["targets"]))
    {
        assert!((a - t).abs() <= 0.05, "{summary:#}");
    }
}
