use super::*;
use crate::audit::license::{detect, root_licenses, LicenseConfig};
use crate::audit::test_support::{doc, ev, MIT_TEXT};
use crate::core::{Attribution, CandidateKind, LicenseCandidate};
use crate::ingest::evidence::{in_file_candidates, tree_candidates};

struct Fixture {
    docs: Vec<Document>,
    verdicts: Vec<LicenseVerdict>,
    evidence: Vec<EvidenceFile>,
    roots: Vec<RootLicense>,
}

/// An MIT repository with a GPL-headed file, a CRLF file, a vendored file under a custom
/// license, and one docs unit with an attribution.
fn fixture() -> Fixture {
    let custom = MIT_TEXT.replace(
        "The above copyright notice",
        "The Software may not be used for commercial purposes, nor by any government or military\norganization, and may not be used to train machine learning models.\n\nThe above copyright notice",
    );
    let evidence = vec![
        ev("lib", "LICENSE", MIT_TEXT),
        ev("lib", "vendor/x/LICENSE", &custom),
        ev("odd", "LICENSE", &custom),
    ];
    let files = [
        ("src/a.lua", "return 1\n"),
        (
            "src/gpl.lua",
            "-- SPDX-License-Identifier: GPL-3.0-or-later\n-- Copyright 2022 Gee\nreturn 2\n",
        ),
        ("vendor/x/init.lua", "return 3\n"),
    ];
    let mut docs: Vec<Document> = files
        .iter()
        .map(|(p, t)| {
            let mut c = tree_candidates(p, &evidence[..2]);
            c.extend(in_file_candidates(p, t));
            doc("lib", p, t, c)
        })
        .collect();
    // A CRLF file: its sha256 is of the original bytes, its text is LF.
    let crlf = "local x = 1\r\nreturn x\r\n";
    let mut d = doc(
        "lib",
        "src/crlf.lua",
        &crlf.replace("\r\n", "\n"),
        tree_candidates("src/crlf.lua", &evidence[..2]),
    );
    d.sha256 = crate::core::sha256_hex(crlf.as_bytes());
    d.line_endings = LineEndings::Crlf;
    docs.push(d);
    docs.push(doc(
        "odd",
        "init.lua",
        "return 0\n",
        tree_candidates("init.lua", &evidence[2..]),
    ));
    let mut unit = doc(
        "docs",
        "content/a.md",
        "## A\n\ntext\n",
        vec![LicenseCandidate {
            kind: CandidateKind::Declared,
            path: String::new(),
            line: None,
            value: "prose: CC-BY-4.0".into(),
        }],
    );
    unit.provenance.unit_kind = UnitKind::DocSection;
    unit.provenance.unit_name = Some("A".into());
    unit.provenance.attribution = Some(Attribution {
        title: "A".into(),
        url: "https://docs.example/a#a".into(),
        license: "CC-BY-4.0".into(),
        author: Some("Docs Team".into()),
    });
    docs.push(unit);
    let cfg = LicenseConfig::default();
    let verdicts = detect(&docs, &evidence, &[], &cfg);
    let roots = root_licenses(&evidence, &cfg);
    Fixture {
        docs,
        verdicts,
        evidence,
        roots,
    }
}

#[test]
fn spdx_document_has_the_required_fields() {
    let f = fixture();
    let opts = SpdxOptions {
        name: "vcurate license report".into(),
        namespace_base: "https://vcurate.invalid/spdxdocs".into(),
        created: "2024-01-01T00:00:00Z".into(),
    };
    let value = to_spdx(&f.docs, &f.verdicts, &[], &f.roots, &f.evidence, &opts);
    // It round-trips through text as JSON.
    let doc: Value = serde_json::from_str(&serde_json::to_string_pretty(&value).unwrap()).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
    assert!(doc["documentNamespace"]
        .as_str()
        .unwrap()
        .starts_with("https://vcurate.invalid/spdxdocs/vcurate-license-report-"));
    assert_eq!(doc["creationInfo"]["created"], "2024-01-01T00:00:00Z");
    assert!(doc["creationInfo"]["creators"][0]
        .as_str()
        .unwrap()
        .starts_with("Tool: vcurate-"));
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), f.docs.len(), "one file entry per document");
    let id_ok = |s: &str| {
        s.starts_with("SPDXRef-")
            && s[8..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    for (file, d) in files.iter().zip(&f.docs) {
        for key in [
            "SPDXID",
            "fileName",
            "checksums",
            "licenseConcluded",
            "licenseInfoInFiles",
            "copyrightText",
        ] {
            assert!(!file[key].is_null(), "{key} missing in {file}");
        }
        assert!(
            id_ok(file["SPDXID"].as_str().unwrap()),
            "{}",
            file["SPDXID"]
        );
        assert!(file["fileName"].as_str().unwrap().starts_with("./"));
        let sums = file["checksums"].as_array().unwrap();
        assert_eq!(sums[0]["algorithm"], "SHA1");
        assert_eq!(sums[0]["checksumValue"].as_str().unwrap().len(), 40);
        assert_eq!(
            sums[1],
            json!({"algorithm": "SHA256", "checksumValue": d.sha256})
        );
    }
    let by_name = |n: &str| files.iter().find(|f| f["fileName"] == n).unwrap();
    // The CRLF file's SHA1 is of its original bytes, restored from the text.
    let crlf = by_name("./lib/src/crlf.lua");
    assert_eq!(
        crlf["checksums"][0]["checksumValue"],
        hex::encode(Sha1::digest(b"local x = 1\r\nreturn x\r\n"))
    );
    // What the file says about itself is licenseInfoInFiles; folder licenses are not.
    let gpl = by_name("./lib/src/gpl.lua");
    assert_eq!(gpl["licenseInfoInFiles"], json!(["GPL-3.0-or-later"]));
    assert_eq!(gpl["licenseConcluded"], "GPL-3.0-or-later");
    assert_eq!(gpl["copyrightText"], "Copyright 2022 Gee");
    assert!(gpl["licenseComments"]
        .as_str()
        .unwrap()
        .contains("Conflict"));
    let a = by_name("./lib/src/a.lua");
    assert_eq!(
        (
            a["licenseConcluded"].as_str(),
            a["licenseInfoInFiles"].clone()
        ),
        (Some("MIT"), json!(["NONE"]))
    );
    // Unresolved is NOASSERTION with the reason in licenseComments.
    let vend = by_name("./lib/vendor/x/init.lua");
    assert_eq!(vend["licenseConcluded"], "NOASSERTION");
    assert!(vend["licenseComments"]
        .as_str()
        .unwrap()
        .contains("Unresolved"));
    let unit = by_name("./docs/content/a.md");
    assert_eq!(
        unit["attributionTexts"][0],
        "\"A\" by Docs Team, https://docs.example/a#a, licensed under CC-BY-4.0"
    );
    // Packages: one per source, declaring the root license; every LicenseRef used is defined.
    let pkgs = doc["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), 3);
    let lib = pkgs.iter().find(|p| p["name"] == "lib").unwrap();
    assert_eq!(lib["licenseDeclared"], "MIT");
    assert_eq!(lib["hasFiles"].as_array().unwrap().len(), 4);
    assert_eq!(
        lib["packageVerificationCode"]["packageVerificationCodeValue"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    let defined: Vec<&str> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["licenseId"].as_str().unwrap())
        .collect();
    let mut used_refs = Vec::new();
    for el in files.iter().chain(pkgs) {
        for key in [
            "licenseConcluded",
            "licenseDeclared",
            "licenseInfoInFiles",
            "licenseInfoFromFiles",
        ] {
            let v = &el[key];
            let vals: Vec<&str> = match v.as_array() {
                Some(a) => a.iter().filter_map(|x| x.as_str()).collect(),
                None => v.as_str().into_iter().collect(),
            };
            for val in vals {
                used_refs.extend(
                    val.split([' ', '(', ')'])
                        .filter(|w| w.starts_with("LicenseRef-"))
                        .map(String::from),
                );
            }
        }
    }
    assert!(
        used_refs.contains(&"LicenseRef-odd-LICENSE".to_string()),
        "{used_refs:?}"
    );
    for r in &used_refs {
        assert!(
            defined.contains(&r.as_str()),
            "{r} used but not defined in {defined:?}"
        );
    }
    let odd = doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["licenseId"] == "LicenseRef-odd-LICENSE")
        .unwrap();
    assert!(
        odd["extractedText"].as_str().unwrap().contains("military"),
        "the unknown text itself is carried"
    );
    // The "odd" source has only an unknown root license: it gets its own ref with the text.
    let odd_root = f.roots.iter().find(|r| r.source_id == "odd").unwrap();
    assert_eq!(odd_root.spdx, UNKNOWN);
}

#[test]
fn csv_json_summaries_and_notice() {
    let f = fixture();
    let policy = crate::audit::policy::Policy::default_policy();
    let profiles = vec!["train".to_string(), "publish".to_string()];
    let report = build(
        &f.docs,
        &f.verdicts,
        &[],
        &f.roots,
        Some(&policy),
        &profiles,
        "2024-01-01T00:00:00Z",
    );
    let s = &report.summary;
    assert_eq!((s.documents, s.resolved, s.unresolved), (6, 4, 2));
    let mit = s.by_license.iter().find(|g| g.spdx == "MIT").unwrap();
    assert_eq!((mit.documents, mit.admitted["publish"]), (2, 2));
    let gpl = s
        .by_license
        .iter()
        .find(|g| g.spdx == "GPL-3.0-or-later")
        .unwrap();
    assert_eq!((gpl.admitted["train"], gpl.admitted["publish"]), (1, 0));
    let lib = s.by_source.iter().find(|g| g.source_id == "lib").unwrap();
    assert_eq!(
        (
            lib.documents,
            lib.unresolved,
            lib.with_conflicts,
            lib.root_license.as_deref()
        ),
        (4, 1, 1, Some("MIT"))
    );
    assert_eq!(s.unknown.len(), 1);
    assert_eq!(
        (s.unknown[0].reason.as_str(), s.unknown[0].examples.clone()),
        (
            UNKNOWN,
            vec![
                "lib:vendor/x/init.lua".to_string(),
                "odd:init.lua".to_string()
            ]
        )
    );

    let csv = to_csv(&report);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("document_id,source_id,path,unit,spdx,status,confidence"));
    assert!(lines[0].ends_with("publish_allowed,publish_class,publish_reason"));
    assert_eq!(lines.len(), 7);
    let gpl_row = lines.iter().find(|l| l.contains("src/gpl.lua")).unwrap();
    assert!(gpl_row.contains(",GPL-3.0-or-later,resolved,"), "{gpl_row}");
    assert!(
        gpl_row.contains("*spdx_tag:src/gpl.lua:1=GPL-3.0-or-later"),
        "{gpl_row}"
    );

    let json: LicenseReport = serde_json::from_str(&to_json(&report)).unwrap();
    assert_eq!(json, report);

    let allowed: Vec<Document> = f
        .docs
        .iter()
        .filter(|d| {
            report
                .documents
                .iter()
                .any(|r| r.id == d.id && r.decisions["publish"].allowed)
        })
        .cloned()
        .collect();
    let n = notice(&allowed, &f.verdicts);
    assert!(
        n.contains("== lib ==") && n.contains("MIT (2 documents)"),
        "{n}"
    );
    assert!(n.contains("Copyright (c) 2024 Example Author"), "{n}");
    assert!(
        n.contains("\"A\" by Docs Team, https://docs.example/a#a, licensed under CC-BY-4.0"),
        "{n}"
    );
    assert!(
        !n.contains("Gee"),
        "refused documents are not in the export's NOTICE: {n}"
    );
}

#[test]
fn csv_quotes_fields() {
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("plain"), "plain");
}
