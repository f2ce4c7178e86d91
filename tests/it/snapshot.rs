//! Snapshots: content-addressed ids that do not depend on ingestion order, and diffs that say why.

use std::path::Path;

use crate::util::{file, stderr, stdout, vcurate, workspace, write, TestRepo};

const MIT: &str = "MIT License\n\nCopyright (c) 2024 Test\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\nin the Software without restriction, including without limitation the rights\nto use, copy, modify, merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to whom the Software is\nfurnished to do so, subject to the following conditions:\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\nIMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\nFITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\nAUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\nLIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\nOUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\nSOFTWARE.\n";

fn module(name: &str, extra: &str) -> String {
    format!("--[[\n  {name}: builds and sums doubled sequences.\n]]\nlocal {name} = {{}}\n\n-- Creates a list of the first `size` even numbers.\nfunction {name}.create(size: number): {{ number }}\n\tlocal items = table.create(size)\n\tfor i = 1, size do\n\t\titems[i] = i * 2\n\tend\n\treturn items\nend\n\n-- Adds up every item of a list.\nfunction {name}.sum(items: {{ number }}): number\n\tlocal total = 0\n\tfor _, v in items do\n\t\ttotal += v\n\tend\n\treturn total\nend\n{extra}\nreturn {name}\n")
}

/// A workspace with a git source and a local source, ingested in the given order, audited.
fn build(dir: &Path, order: &[&str]) -> std::path::PathBuf {
    let repo_dir = dir.join("repo");
    if !repo_dir.exists() {
        let repo = TestRepo::init(&repo_dir);
        repo.commit(
            "one",
            &[
                ("LICENSE", file(MIT)),
                ("A.luau", file(&module("A", ""))),
                ("B.luau", file(&module("Bee", "local unused = 1"))),
            ],
        );
        write(&dir.join("local/C.luau"), &module("Sea", "print(Sea)"));
    }
    let ws = workspace(&dir.join(format!("ws-{}", order.join("-"))));
    write(
        &ws.join("sources/git.toml"),
        &format!(
            "kind = \"git\"\nurl = \"{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\n",
            repo_dir.display()
        ),
    );
    write(
        &ws.join("sources/mine.toml"),
        &format!(
            "kind = \"local\"\npath = \"{}\"\n",
            dir.join("local").display()
        ),
    );
    // Three documents, one of which loses its code later, cannot fill three splits: these tests
    // are about snapshots, so everything is train.
    write(
        &ws.join("vcurate.toml"),
        "[splits]\ngroup-by = \"file\"\ntrain = 1.0\nvalid = 0.0\ntest = 0.0\n",
    );
    for id in order {
        let out = vcurate(&ws, &["ingest", "--source", id]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = vcurate(&ws, &["audit"]);
    assert!(out.status.success(), "{}", stderr(&out));
    ws
}

fn create(ws: &Path) -> serde_json::Value {
    let out = vcurate(ws, &["snapshot", "create", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn same_inputs_in_another_ingestion_order_give_the_same_id_and_policy_changes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let a = create(&build(tmp.path(), &["git", "mine"]));
    let ws_b = build(tmp.path(), &["mine", "git"]);
    let b = create(&ws_b);
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["counts"]["documents"], 3);
    // Re-creating is a no-op returning the same snapshot.
    assert_eq!(create(&ws_b)["id"], b["id"]);
    // A different policy is a different snapshot.
    write(&ws_b.join("licenses/policy.toml"), "# changed\n");
    let c = create(&ws_b);
    assert_ne!(c["id"], b["id"]);
    let listed = stderr(&vcurate(&ws_b, &["snapshot", "list"]));
    assert_eq!(listed.lines().count(), 3, "{listed}");
    let shown = stdout(&vcurate(
        &ws_b,
        &["snapshot", "show", &c["id"].as_str().unwrap()[..6]],
    ));
    assert!(shown.contains(&format!("id = {}", c["id"])), "{shown}");
    assert!(shown.contains("policy_hash = "), "{shown}");
}

#[test]
fn diff_says_what_changed_and_why() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = build(tmp.path(), &["git", "mine"]);
    let first = create(&ws);
    // Upstream moves: A changes, B is removed, D is added; C (local) loses its code.
    let repo = TestRepo {
        repo: git2::Repository::open(tmp.path().join("repo")).unwrap(),
    };
    repo.commit(
        "two",
        &[
            ("LICENSE", file(MIT)),
            ("A.luau", file(&module("A", "print(A)"))),
            ("D.luau", file(&module("Dee", ""))),
        ],
    );
    write(&tmp.path().join("local/C.luau"), "return 1\n");
    for args in [&["ingest", "--update"][..], &["audit"][..]] {
        let out = vcurate(&ws, args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let second = create(&ws);
    let out = vcurate(
        &ws,
        &[
            "snapshot",
            "diff",
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(diff["sources_moved"], serde_json::json!(["git"]));
    let entries: Vec<(String, String, String)> = diff["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["change"].as_str().unwrap().to_string(),
                e["why"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let find = |p: &str| {
        entries
            .iter()
            .find(|e| e.0 == p)
            .unwrap_or_else(|| panic!("{p} not in {entries:?}"))
    };
    assert_eq!(find("A.luau").1, "changed");
    assert!(
        find("A.luau").2.starts_with("new commit of git"),
        "{entries:?}"
    );
    assert_eq!(
        (find("B.luau").1.as_str(), find("B.luau").2.as_str()),
        ("removed", "new commit of git")
    );
    assert_eq!(find("D.luau").1, "added");
    let c = find("C.luau");
    assert_eq!(c.1, "changed", "{entries:?}");
    // Examples follow their documents.
    let ex: Vec<(String, String)> = diff["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["change"].as_str().unwrap().to_string(),
                e["why"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        ex.iter()
            .any(|(c, w)| c == "added" && w.starts_with("document git:D.luau added")),
        "{ex:?}"
    );
    assert!(
        ex.iter()
            .any(|(c, w)| c == "removed" && w.starts_with("document git:B.luau removed")),
        "{ex:?}"
    );
    // A template edit changes every example it renders, and says so.
    for e in std::fs::read_dir(ws.join("dataset/templates"))
        .unwrap()
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "j2") {
            let mut t = std::fs::read_to_string(e.path()).unwrap();
            t.push_str("{# edited #}\n");
            std::fs::write(e.path(), t).unwrap();
        }
    }
    let third = create(&ws);
    let out = vcurate(
        &ws,
        &[
            "snapshot",
            "diff",
            second["id"].as_str().unwrap(),
            third["id"].as_str().unwrap(),
            "--json",
        ],
    );
    let diff3: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let whys: Vec<&str> = diff3["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["why"].as_str().unwrap())
        .collect();
    assert!(
        !whys.is_empty()
            && whys
                .iter()
                .all(|w| w.starts_with("template ") && w.ends_with(" changed")),
        "{whys:?}"
    );
    assert!(
        diff3["entries"].as_array().unwrap().is_empty(),
        "no document changed"
    );
    // The text table says the same for people.
    let text = stderr(&vcurate(
        &ws,
        &[
            "snapshot",
            "diff",
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap(),
        ],
    ));
    assert!(text.contains("sources moved: [git]"), "{text}");
}

#[test]
fn rendered_examples_are_scanned_for_contamination_and_the_override_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let prompt = "Write a Luau function called chunkArray that splits an array into consecutive chunks of a given size and returns a new array of those chunks";
    let ws = workspace(&tmp.path().join("w"));
    write(&tmp.path().join("code/M.luau"), &module("M", "print(M)"));
    write(
        &ws.join("sources/code.toml"),
        &format!(
            "kind = \"local\"\npath = \"{}\"\n",
            tmp.path().join("code").display()
        ),
    );
    write(
        &ws.join("evals/bench.jsonl"),
        &format!(
            "{}\n",
            serde_json::json!({"id": "chunk", "category": "tables", "difficulty": "easy", "prompt": prompt, "expected_patterns": []})
        ),
    );
    // One document cannot fill three splits: it is all train.
    let mut cfg = std::fs::read_to_string(ws.join("vcurate.toml"))
        .unwrap()
        .replace("valid = 0.1", "valid = 0.0")
        .replace("test = 0.1", "test = 0.0")
        .replace("train = 0.8", "train = 1.0");
    cfg.push_str(
        "\n[[eval-sets]]\nname = \"bench\"\npath = \"evals/bench.jsonl\"\nformat = \"plain\"\n",
    );
    write(&ws.join("vcurate.toml"), &cfg);
    // A user template that leaks the benchmark prompt into every example it renders: the
    // document is clean, the example is not.
    write(&ws.join("dataset/templates/leaky.toml"), "task = \"leaky\"\ndescription = \"leaks\"\nroles = [\"user\", \"assistant\"]\nfor-each = \"document\"\n[applies-to]\nunit-kinds = [\"file\"]\n");
    write(&ws.join("dataset/templates/leaky.j2"), &format!("{{% block user %}}{prompt}{{% endblock %}}\n{{% block assistant %}}{{{{ doc.text | fence(\"luau\") }}}}{{% endblock %}}\n"));
    for args in [&["ingest"][..], &["audit"][..]] {
        let out = vcurate(&ws, args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let templates = |snap: &serde_json::Value| -> Vec<String> {
        let dir = ws
            .join("dataset/snapshots")
            .join(snap["id"].as_str().unwrap());
        let df = vcurate::store::read_parquet(&dir.join("examples.parquet")).unwrap();
        df.column("template")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|t| t.unwrap().to_string())
            .collect()
    };
    let clean = create(&ws);
    let t = templates(&clean);
    assert!(!t.is_empty() && !t.iter().any(|t| t == "leaky"), "{t:?}");
    let dir = ws
        .join("dataset/snapshots")
        .join(clean["id"].as_str().unwrap());
    let render_excluded =
        vcurate::store::read_parquet(&dir.join("attributes/render-excluded.parquet")).unwrap();
    let steps: Vec<String> = render_excluded
        .column("step")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    assert!(steps.iter().any(|s| s == "contamination"), "{steps:?}");

    let out = vcurate(
        &ws,
        &["snapshot", "create", "--allow-contaminated", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let overridden: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(overridden["id"], clean["id"]);
    assert_eq!(
        overridden["flags"],
        serde_json::json!(["allow-contaminated"])
    );
    assert!(templates(&overridden).iter().any(|t| t == "leaky"));
}
