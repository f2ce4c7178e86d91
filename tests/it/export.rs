//! Export round trip: every line validates against `schemas/` and parses into the strict export
//! types those schemas are generated from, maps back to its documents and licenses through the provenance sidecar, and
//! the publish profile refuses what it must.

use std::collections::BTreeMap;

use vcurate::export::{ChatLine, CompletionsLine, ProvenanceLine, TextLine};

use crate::util::{schema, stderr, validate, vcurate};

#[test]
fn export_round_trip_provenance_and_the_publish_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let out = vcurate(tmp.path(), &["quickstart", "demo", "--no-train"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ws = tmp.path().join("demo");
    let listed = vcurate(&ws, &["snapshot", "list", "--json"]);
    let snaps: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let id = snaps[0]["id"].as_str().unwrap().to_string();
    let examples = snaps[0]["counts"]["examples"].as_u64().unwrap();
    assert!(examples > 10, "the sample renders examples: {examples}");

    // The snapshot's documents, by id: what every sidecar line must point at.
    let docs = vcurate::store::read_parquet(
        &ws.join("dataset/snapshots")
            .join(&id)
            .join("documents.parquet"),
    )
    .unwrap();
    let col = |n: &str| {
        docs.column(n)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    let (ids, paths) = (col("id"), col("path"));
    let included: Vec<bool> = docs
        .column("included")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|b| b.unwrap())
        .collect();
    let doc_path: BTreeMap<String, (String, bool)> = ids
        .into_iter()
        .zip(paths)
        .zip(included)
        .map(|((i, p), inc)| (i, (p, inc)))
        .collect();

    for format in ["chat", "completions", "text"] {
        let dir = tmp.path().join(format);
        let out = vcurate(
            &ws,
            &[
                "export",
                "--snapshot",
                &id,
                "--format",
                format,
                "--out",
                dir.to_str().unwrap(),
                "--json",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut total = 0;
        for split in ["train", "valid", "test"] {
            let data = std::fs::read_to_string(dir.join(format!("{split}.jsonl"))).unwrap();
            let side =
                std::fs::read_to_string(dir.join(format!("{split}.provenance.jsonl"))).unwrap();
            assert_eq!(
                data.lines().count(),
                side.lines().count(),
                "sidecar aligned with {split}.jsonl"
            );
            assert_eq!(
                report["lines"][split].as_u64().unwrap() as usize,
                data.lines().count()
            );
            let line_schema = schema(&format!("export-{format}.schema.json"));
            let prov_schema = schema("export-provenance.schema.json");
            for (line, prov) in data.lines().zip(side.lines()) {
                validate(
                    &line_schema,
                    &line_schema,
                    &serde_json::from_str(line).unwrap(),
                    split,
                )
                .unwrap();
                validate(
                    &prov_schema,
                    &prov_schema,
                    &serde_json::from_str(prov).unwrap(),
                    split,
                )
                .unwrap();
                match format {
                    "chat" => {
                        let l: ChatLine = serde_json::from_str(line).unwrap();
                        assert_eq!(
                            l.messages.last().unwrap().role,
                            vcurate::core::Role::Assistant,
                            "assistant turn last"
                        );
                    }
                    "completions" => {
                        let l: CompletionsLine = serde_json::from_str(line).unwrap();
                        assert!(!l.completion.is_empty());
                    }
                    _ => {
                        let _: TextLine = serde_json::from_str(line).unwrap();
                    }
                }
                let p: ProvenanceLine = serde_json::from_str(prov).unwrap();
                assert!(!p.doc_ids.is_empty() && !p.licenses.is_empty(), "{prov}");
                for d in &p.doc_ids {
                    let (path, inc) = &doc_path[d];
                    assert!(
                        *inc,
                        "an exported line comes only from included documents ({path})"
                    );
                    assert!(p.sources.iter().any(|s| &s.doc_id == d && &s.path == path));
                }
                total += 1;
            }
        }
        assert_eq!(total as u64, examples, "every example exported under train");
        // The manifest verifies with sha256sum's format.
        let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
        for l in sums.lines() {
            let (hash, name) = l.split_once("  ").unwrap();
            assert_eq!(
                hash,
                vcurate::core::sha256_hex(&std::fs::read(dir.join(name)).unwrap()),
                "{name}"
            );
        }
        let card = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(
            card.starts_with("---\nlicense:\n") && card.contains("size_categories:\n- n<1K"),
            "{card}"
        );
        let notice = std::fs::read_to_string(dir.join("NOTICE")).unwrap();
        assert!(
            notice.contains("licensed under CC-BY-4.0"),
            "docs attributions: {notice}"
        );
    }

    // publish: the sample's MPL-2.0 file is for review, so publishing refuses and names it.
    let pub_dir = tmp.path().join("publish");
    let out = vcurate(
        &ws,
        &[
            "export",
            "--snapshot",
            &id,
            "--profile",
            "publish",
            "--out",
            pub_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("not allowed under profile `publish`") && err.contains("MPL-2.0"),
        "{err}"
    );
    assert!(
        !pub_dir.join("train.jsonl").exists(),
        "nothing written on refusal"
    );
    let out = vcurate(
        &ws,
        &[
            "export",
            "--snapshot",
            &id,
            "--profile",
            "publish",
            "--drop-refused",
            "--out",
            pub_dir.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let refused = report["refused"].as_u64().unwrap();
    assert!(refused > 0);
    let refusals = std::fs::read_to_string(pub_dir.join("refused.jsonl")).unwrap();
    assert_eq!(refusals.lines().count() as u64, refused);
    // Each refusal is the one exclusion record every stage writes.
    let exclusion = schema("exclusion.schema.json");
    for l in refusals.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        validate(&exclusion, &exclusion, &v, "refusal").unwrap();
        assert_eq!(
            (
                v["stage"].as_str(),
                v["step"].as_str(),
                v["reason"].as_str()
            ),
            (Some("export"), Some("publish"), Some("license_refused")),
            "{l}"
        );
        assert!(v["example_id"].is_string() && !v["document_ids"].as_array().unwrap().is_empty());
        assert!(v["detail"].as_str().unwrap().contains("MPL-2.0"), "{l}");
    }
    let side: String = ["train", "valid", "test"]
        .iter()
        .map(|s| std::fs::read_to_string(pub_dir.join(format!("{s}.provenance.jsonl"))).unwrap())
        .collect();
    assert!(
        !side.contains("MPL-2.0"),
        "no MPL-2.0 example reaches a publish export"
    );
}

#[test]
fn the_validator_rejects_what_the_schemas_forbid() {
    let chat = schema("export-chat.schema.json");
    let ok = serde_json::json!({"messages": [{"role": "user", "content": "x"}]});
    assert!(validate(&chat, &chat, &ok, "line").is_ok());
    for bad in [
        serde_json::json!({"messages": [{"role": "user"}]}),
        serde_json::json!({"messages": [{"role": "user", "content": 3}]}),
        serde_json::json!({"messages": [], "extra": 1}),
        serde_json::json!({"prompt": "p"}),
    ] {
        assert!(validate(&chat, &chat, &bad, "line").is_err(), "{bad}");
    }
}
