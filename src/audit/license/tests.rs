use super::*;
use crate::audit::test_support::{cand, doc, ev, APACHE_NOTICE, MIT_TEXT};
use crate::core::{Attribution, CodeBlock, RightsBasis, Span};
use crate::core::{CandidateKind, Document, SourceKind, UnitKind};
use crate::ingest::evidence::{in_file_candidates, tree_candidates};
use crate::ingest::manifest::Source;
use crate::store::EvidenceFile;

/// Documents of one source built the way ingest builds them: candidates from the evidence
/// files' folders plus the file's own tags and headers.
fn run(
    evidence: &[EvidenceFile],
    files: &[(&str, &str)],
    sources: &[Source],
) -> Vec<LicenseVerdict> {
    let docs: Vec<Document> = files
        .iter()
        .map(|(path, text)| {
            let mut c = tree_candidates(path, evidence);
            c.extend(in_file_candidates(path, text));
            doc("lib", path, text, c)
        })
        .collect();
    detect(&docs, evidence, sources, &LicenseConfig::default())
}

fn source(expected: Option<&str>) -> Source {
    let mut text = String::from("kind = \"git\"\nurl = \"https://example.com/lib\"\nrev = \"main\"\nrights-basis = \"open_source\"\n");
    if let Some(e) = expected {
        text.push_str(&format!("expected-license = \"{e}\"\n"));
    }
    crate::ingest::manifest::parse(
        std::path::Path::new("sources/lib.toml"),
        &text,
        std::path::Path::new("/ws"),
    )
    .unwrap()
}

fn used(v: &LicenseVerdict) -> Vec<(&str, EvidenceKind)> {
    v.evidence
        .iter()
        .filter(|e| e.used)
        .map(|e| (e.path.as_str(), e.kind))
        .collect()
}

#[test]
fn vendored_subfolder_gets_its_own_license() {
    let evidence = vec![
        ev("lib", "LICENSE", MIT_TEXT),
        ev(
            "lib",
            "Packages/_Index/acme_thing@1.0.0/thing/LICENSE",
            APACHE_NOTICE,
        ),
    ];
    let v = run(
        &evidence,
        &[
            ("src/init.lua", "return {}\n"),
            (
                "Packages/_Index/acme_thing@1.0.0/thing/init.lua",
                "return 42\n",
            ),
        ],
        &[source(Some("MIT"))],
    );
    assert_eq!((v[0].spdx.as_str(), v[0].status), ("MIT", Status::Resolved));
    assert_eq!(used(&v[0]), vec![("LICENSE", EvidenceKind::LicenseText)]);
    assert!(v[0].conflicts.is_empty(), "{:?}", v[0].conflicts);
    assert_eq!(v[0].copyright, vec!["Copyright (c) 2024 Example Author"]);
    let vend = &v[1];
    assert_eq!(
        (vend.spdx.as_str(), vend.status),
        ("Apache-2.0", Status::Resolved)
    );
    assert_eq!(
        used(vend),
        vec![(
            "Packages/_Index/acme_thing@1.0.0/thing/LICENSE",
            EvidenceKind::LicenseText
        )]
    );
    // The root license was seen but outranked: nearest wins, and that is no conflict between
    // pieces of evidence ...
    assert!(vend.evidence.iter().any(|e| e.path == "LICENSE" && !e.used));
    // ... but the source expected MIT everywhere, which is reported (and only reported).
    assert_eq!(vend.conflicts.len(), 1, "{:?}", vend.conflicts);
    assert!(
        vend.conflicts[0].contains("expects `MIT`"),
        "{:?}",
        vend.conflicts
    );
}

#[test]
fn license_in_a_lua_file() {
    let lua = format!("-- The license of this package.\nreturn [[\n{MIT_TEXT}]]\n");
    let evidence = vec![ev("lib", "LICENSE.lua", &lua)];
    let v = run(&evidence, &[("src/a.luau", "return 1\n")], &[]);
    assert_eq!(v[0].spdx, "MIT");
    assert_eq!(
        used(&v[0]),
        vec![("LICENSE.lua", EvidenceKind::LicenseText)]
    );
    assert!(v[0].confidence > 0.95, "{}", v[0].confidence);
    // The body extraction is what makes it match: the long string, not the Lua around it.
    assert_eq!(license_body("LICENSE.lua", &lua).trim(), MIT_TEXT.trim());
    let quoted = "return \"MIT License\\n\\nPermission is hereby granted\"\n";
    assert!(license_body("License.luau", quoted).starts_with("MIT License\n\nPermission"));
}

#[test]
fn manifest_in_a_fixture_folder_never_sets_the_repository_license() {
    let evidence = vec![
        ev("lib", "LICENSE", MIT_TEXT),
        ev(
            "lib",
            "tests/fixtures/gpl-pkg/package.json",
            r#"{"name":"gpl-pkg","license":"GPL-3.0-only"}"#,
        ),
        ev(
            "lib",
            "tests/fixtures/gpl-pkg/README.md",
            "# gpl-pkg\n\nLicensed under the GPL-3.0-only.\n",
        ),
    ];
    let v = run(
        &evidence,
        &[
            ("src/init.lua", "return {}\n"),
            ("tests/fixtures/gpl-pkg/index.lua", "return 'fixture'\n"),
        ],
        &[],
    );
    assert_eq!(v[0].spdx, "MIT");
    assert!(v[0].evidence.iter().all(|e| !e.fixture));
    // Inside the fixture, its manifest and README are test data: seen, marked, set aside with
    // the reason; the fixture inherits the repository's license and nothing conflicts.
    let f = &v[1];
    assert_eq!((f.spdx.as_str(), f.status), ("MIT", Status::Resolved));
    assert_eq!(used(f), vec![("LICENSE", EvidenceKind::LicenseText)]);
    let fx: Vec<_> = f.evidence.iter().filter(|e| e.fixture).collect();
    assert_eq!(fx.len(), 2, "{fx:?}");
    for e in fx {
        assert!(!e.used, "{e:?}");
        let why = e.ignored.as_deref().unwrap();
        assert!(
            why.contains("fixture folder `tests/`") && why.contains("sets no license"),
            "{why}"
        );
    }
    assert!(f.conflicts.is_empty(), "{:?}", f.conflicts);
    assert_eq!(f.notes.len(), 2, "{:?}", f.notes);
    // The repository's own license, as a package would declare it, ignores fixtures.
    let roots = root_licenses(&evidence, &LicenseConfig::default());
    assert_eq!(roots.len(), 1);
    assert_eq!(
        (roots[0].spdx.as_str(), roots[0].paths.clone()),
        ("MIT", vec!["LICENSE".to_string()])
    );
    // With no license around it, a fixture manifest still sets nothing.
    let alone = vec![evidence[1].clone()];
    let v = run(
        &alone,
        &[("tests/fixtures/gpl-pkg/index.lua", "return 1\n")],
        &[],
    );
    assert_eq!(v[0].spdx, NOASSERTION);
}

/// A license text in a fixture folder may be a vendored library's real license: it can only
/// make the verdict more restrictive, never relax the license around it or stand alone.
#[test]
fn license_texts_in_fixture_folders_only_ever_restrict() {
    let gpl_notice = "This program is free software: you can redistribute it and/or modify\nit under the terms of the GNU General Public License as published by\nthe Free Software Foundation, either version 3 of the License, or\n(at your option) any later version.\n\nThis program is distributed in the hope that it will be useful,\nbut WITHOUT ANY WARRANTY; without even the implied warranty of\nMERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the\nGNU General Public License for more details.\n\nYou should have received a copy of the GNU General Public License\nalong with this program.  If not, see <https://www.gnu.org/licenses/>.\n";
    let evidence = vec![
        ev("lib", "LICENSE", MIT_TEXT),
        // Copied into the test tree, not installed by a package manager.
        ev("lib", "spec/deps/gpl-thing/COPYING", gpl_notice),
        // An example project that says its code is public domain.
        ev("lib", "examples/demo/LICENSE", "CC0-1.0\n"),
        // A package installed inside a test tree keeps its own license.
        ev(
            "lib",
            "spec/Packages/_Index/roblox_testez@0.4.1/testez/LICENSE",
            APACHE_NOTICE,
        ),
    ];
    let v = run(
        &evidence,
        &[
            ("spec/deps/gpl-thing/init.lua", "return 1\n"),
            ("examples/demo/main.lua", "return 2\n"),
            (
                "spec/Packages/_Index/roblox_testez@0.4.1/testez/init.lua",
                "return 3\n",
            ),
        ],
        &[],
    );
    let gpl = &v[0];
    assert_eq!(gpl.spdx, "GPL-3.0-or-later");
    assert!(
        gpl.conflicts
            .iter()
            .any(|c| c.contains("fixture evidence in `spec/deps/gpl-thing/`")),
        "{:?}",
        gpl.conflicts
    );
    let demo = &v[1];
    assert_eq!(demo.spdx, "MIT");
    assert!(demo.conflicts.is_empty(), "{:?}", demo.conflicts);
    let cc0 = demo
        .evidence
        .iter()
        .find(|e| e.path == "examples/demo/LICENSE")
        .unwrap();
    assert!(cc0.fixture && !cc0.used, "{cc0:?}");
    assert!(
        cc0.ignored.as_deref().unwrap().contains("never relaxes"),
        "{cc0:?}"
    );
    let testez = &v[2];
    assert_eq!(testez.spdx, "Apache-2.0");
    assert!(testez.evidence.iter().all(|e| !e.fixture), "{testez:?}");
    // Alone, a fixture's license text sets nothing.
    let v = run(
        &evidence[2..3],
        &[("examples/demo/main.lua", "return 2\n")],
        &[],
    );
    assert_eq!(v[0].spdx, NOASSERTION);
    assert!(v[0].evidence[0].ignored.is_some(), "{:?}", v[0]);
}

#[test]
fn near_mit_custom_license_is_unknown_not_mit() {
    let custom = MIT_TEXT.replace(
        "The above copyright notice",
        "The Software may not be used for commercial purposes, nor by any government or military\norganization, and may not be used to train machine learning models.\n\nThe above copyright notice",
    );
    let evidence = vec![
        ev("lib", "LICENSE", &custom),
        ev(
            "lib",
            "wally.toml",
            "[package]\nname = \"a/b\"\nlicense = \"MIT\"\n",
        ),
    ];
    let v = run(
        &evidence,
        &[("src/a.lua", "return 1\n")],
        &[source(Some("MIT"))],
    );
    let v = &v[0];
    assert_eq!((v.spdx.as_str(), v.status), (UNKNOWN, Status::Unresolved));
    assert_eq!(v.confidence, 0.0);
    let text = v.evidence.iter().find(|e| e.path == "LICENSE").unwrap();
    assert!(
        text.score > 0.8 && text.score < 0.95,
        "close to MIT but below the threshold: {}",
        text.score
    );
    assert!(text.matched.contains("closest MIT"), "{}", text.matched);
    assert!(
        v.conflicts
            .iter()
            .any(|c| c.contains("wally.toml") && c.contains("the text decides")),
        "{:?}",
        v.conflicts
    );
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("may add or change terms")),
        "{:?}",
        v.notes
    );
    // MIT plus "Good, not Evil" is the JSON license, not MIT.
    let json = format!("{MIT_TEXT}\nThe Software shall be used for Good, not Evil.\n");
    let v = run(
        &[ev("lib", "LICENSE", &json)],
        &[("a.lua", "return 1\n")],
        &[],
    );
    assert_eq!(v[0].spdx, "JSON");
}

#[test]
fn non_spdx_manifest_strings_are_normalized_or_flagged() {
    let cases = [
        (
            r#"{"license":"MIT + Apache 2.0"}"#,
            "package.json",
            "MIT AND Apache-2.0",
            Status::Resolved,
        ),
        (
            "[package]\nname = \"a/b\"\nlicense = \"Apache 2\"\n",
            "wally.toml",
            "Apache-2.0",
            Status::Resolved,
        ),
        (
            "[package]\nname = \"x\"\nlicense = \"MIT/Apache-2.0\"\n",
            "Cargo.toml",
            "MIT OR Apache-2.0",
            Status::Resolved,
        ),
        (
            "name = \"a/b\"\nlicense = \"BSD\"\n",
            "pesde.toml",
            UNKNOWN,
            Status::Unresolved,
        ),
    ];
    for (text, name, want, status) in cases {
        let v = run(
            &[ev("lib", name, text)],
            &[("src/a.lua", "return 1\n")],
            &[],
        );
        assert_eq!(
            (v[0].spdx.as_str(), v[0].status),
            (want, status),
            "{name}: {:?}",
            v[0]
        );
        assert_eq!(
            v[0].notes.len(),
            1,
            "a normalization or a flag is always noted: {:?}",
            v[0].notes
        );
    }
    let v = run(
        &[ev(
            "lib",
            "package.json",
            r#"{"license":"MIT + Apache 2.0"}"#,
        )],
        &[("a.lua", "")],
        &[],
    );
    assert!(
        v[0].notes[0].contains("read `MIT + Apache 2.0` as `MIT AND Apache-2.0`"),
        "{:?}",
        v[0].notes
    );
    let v = run(
        &[ev("lib", "pesde.toml", "license = \"BSD\"\n")],
        &[("a.lua", "")],
        &[],
    );
    assert!(v[0].notes[0].contains("flagged `BSD`"), "{:?}", v[0].notes);
}

#[test]
fn gpl_header_in_an_mit_repository_resolves_to_gpl_and_is_reported() {
    let evidence = vec![ev("lib", "LICENSE", MIT_TEXT)];
    let gpl = "--[[\n  Copyright (C) 2023 Someone Else\n\n  This program is free software: you can redistribute it and/or modify\n  it under the terms of the GNU General Public License as published by\n  the Free Software Foundation, either version 3 of the License, or\n  (at your option) any later version.\n]]\nlocal M = {}\nreturn M\n";
    let tagged = "-- SPDX-License-Identifier: Apache-2.0\nreturn {}\n";
    let permissive_tag_in_gpl = "-- SPDX-License-Identifier: MIT\nreturn {}\n";
    let v = run(
        &evidence,
        &[("src/gpl.lua", gpl), ("src/tagged.lua", tagged)],
        &[],
    );
    let g = &v[0];
    assert_eq!(
        (g.spdx.as_str(), g.status),
        ("GPL-3.0-or-later", Status::Resolved)
    );
    assert_eq!(g.conflicts.len(), 1, "{:?}", g.conflicts);
    assert!(
        g.conflicts[0].contains("`GPL-3.0-or-later`") && g.conflicts[0].contains("`MIT`"),
        "{:?}",
        g.conflicts
    );
    let h = g
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Header)
        .unwrap();
    assert_eq!((h.line, h.used), (Some(4), true));
    assert_eq!(g.copyright, vec!["Copyright (C) 2023 Someone Else"]);
    // A tag in the file wins a tie of equally permissive licenses, and the mismatch is noted.
    assert_eq!(v[1].spdx, "Apache-2.0");
    assert_eq!(v[1].conflicts.len(), 1);
    // A permissive tag never loosens a more restrictive folder license.
    let notice = "This program is free software: you can redistribute it and/or modify\nit under the terms of the GNU General Public License as published by\nthe Free Software Foundation, either version 3 of the License, or\n(at your option) any later version.\n\nThis program is distributed in the hope that it will be useful,\nbut WITHOUT ANY WARRANTY; without even the implied warranty of\nMERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the\nGNU General Public License for more details.\n\nYou should have received a copy of the GNU General Public License\nalong with this program.  If not, see <https://www.gnu.org/licenses/>.\n";
    let gpl_repo = vec![ev("lib", "COPYING", notice)];
    let v = run(&gpl_repo, &[("src/m.lua", permissive_tag_in_gpl)], &[]);
    assert_eq!(v[0].spdx, "GPL-3.0-or-later", "{:?}", v[0]);
    assert_eq!(v[0].conflicts.len(), 1);
    let copying = v[0].evidence.iter().find(|e| e.path == "COPYING").unwrap();
    assert!(
        copying.used && copying.score >= 0.8 && copying.matched.contains("header"),
        "{copying:?}"
    );
}

fn docs_unit(with_code: bool, cands: Vec<crate::core::LicenseCandidate>) -> Document {
    let mut d = doc(
        "docs",
        "content/en-us/scripting/events.md",
        if with_code {
            "## Events\n\n```lua\nprint(1)\n```\n"
        } else {
            "## Events\n\nText.\n"
        },
        cands,
    );
    d.id = format!("{}{}", d.id, with_code as u8);
    let p = &mut d.provenance;
    p.source_kind = SourceKind::Docs;
    p.unit_kind = UnitKind::DocSection;
    p.unit_name = Some("Events".into());
    p.prose_license = Some("CC-BY-4.0".into());
    p.code_license = Some("MIT".into());
    let license = if with_code {
        "CC-BY-4.0 AND MIT"
    } else {
        "CC-BY-4.0"
    };
    p.attribution = Some(Attribution {
        title: "Events".into(),
        url: "https://create.roblox.com/docs/scripting/events#events".into(),
        license: license.into(),
        author: Some("Roblox Corporation".into()),
    });
    if with_code {
        d.code_blocks = vec![CodeBlock {
            lang: Some("lua".into()),
            is_luau: true,
            span: Span {
                byte_start: 12,
                byte_end: 21,
                line_start: 4,
                line_end: 4,
            },
            code_lines: 1,
        }];
    }
    d
}

#[test]
fn docs_prose_and_code_licenses_stay_separate() {
    let evidence = vec![
        ev(
            "docs",
            "LICENSE",
            "Attribution 4.0 International, see https://creativecommons.org/licenses/by/4.0/\n",
        ),
        ev("docs", "LICENSE-CODE", MIT_TEXT),
    ];
    let declared = |extra: &[&str]| {
        let mut c = vec![
            cand(CandidateKind::Declared, "", None, "prose: CC-BY-4.0"),
            cand(CandidateKind::Declared, "", None, "code: MIT"),
        ];
        c.extend(tree_candidates(
            "content/en-us/scripting/events.md",
            &evidence,
        ));
        for p in extra {
            c.push(cand(CandidateKind::LicenseFile, p, None, ""));
        }
        c
    };
    let docs = vec![
        docs_unit(true, declared(&[])),
        docs_unit(false, declared(&[])),
    ];
    let v = detect(&docs, &evidence, &[], &LicenseConfig::default());
    assert_eq!(v[0].spdx, "CC-BY-4.0 AND MIT");
    assert_eq!(
        (v[0].prose_license.as_deref(), v[0].code_license.as_deref()),
        (Some("CC-BY-4.0"), Some("MIT"))
    );
    assert_eq!(v[1].spdx, "CC-BY-4.0");
    assert_eq!(
        (v[1].prose_license.as_deref(), v[1].code_license.as_deref()),
        (Some("CC-BY-4.0"), None)
    );
    for x in &v {
        assert_eq!(x.status, Status::Resolved);
        assert!(x.conflicts.is_empty(), "{:?}", x.conflicts);
        assert!(
            x.confidence > 0.95,
            "both license files corroborate the declaration: {}",
            x.confidence
        );
    }
    // A license file that contradicts the declaration sends the unit to review.
    let mut evidence2 = evidence.clone();
    evidence2.push(ev(
        "docs",
        "content/LICENSE",
        "Licensed under the GNU General Public License v3.\n",
    ));
    let mut c = declared(&[]);
    c.extend(tree_candidates(
        "content/en-us/scripting/events.md",
        &evidence2[2..],
    ));
    let v = detect(
        &[docs_unit(true, c)],
        &evidence2,
        &[],
        &LicenseConfig::default(),
    );
    assert_eq!(
        (v[0].spdx.as_str(), v[0].status),
        ("CC-BY-4.0 AND MIT", Status::Unresolved)
    );
    assert!(
        v[0].conflicts[0].contains("GPL-3.0-only"),
        "{:?}",
        v[0].conflicts
    );
}

#[test]
fn readme_is_weak_and_only_used_alone() {
    let readme = ev(
        "lib",
        "README.md",
        "# lib\n\nA library.\n\n## License\n\nMIT\n",
    );
    let v = run(
        std::slice::from_ref(&readme),
        &[("a.lua", "return 1\n")],
        &[],
    );
    assert_eq!((v[0].spdx.as_str(), v[0].confidence), ("MIT", 0.5));
    assert_eq!(used(&v[0]), vec![("README.md", EvidenceKind::Readme)]);
    assert!(v[0].notes.iter().any(|n| n.contains("only a README")));
    // The verdict says it rests on weak evidence, and where: the statement's own line.
    assert!(v[0].weak_evidence);
    assert_eq!(v[0].evidence[0].line, Some(7));
    let strict = LicenseConfig {
        min_confidence: 0.6,
        ..LicenseConfig::default()
    };
    let d = doc(
        "lib",
        "a.lua",
        "return 1\n",
        tree_candidates("a.lua", std::slice::from_ref(&readme)),
    );
    assert_eq!(
        detect(&[d], std::slice::from_ref(&readme), &[], &strict)[0].status,
        Status::Unresolved
    );
    // With a manifest, the README is not used.
    let v = run(
        &[
            readme,
            ev("lib", "wally.toml", "[package]\nlicense = \"Apache-2.0\"\n"),
        ],
        &[("a.lua", "")],
        &[],
    );
    assert_eq!(v[0].spdx, "Apache-2.0");
    assert!(!v[0].weak_evidence);
    assert!(v[0]
        .evidence
        .iter()
        .any(|e| e.kind == EvidenceKind::Readme && !e.used));
}

/// "All rights reserved" beside a grant is part of the copyright line (Roblox's open-source
/// Luau libraries head every file with it, e.g. Roblox/luau-polyfill
/// `src/Array/__tests__/reverse.spec.lua`); with no grant it stays proprietary.
#[test]
fn all_rights_reserved_beside_a_grant_is_copyright_not_a_license() {
    let roblox = "--[[\n\t* Copyright (c) Roblox Corporation. All rights reserved.\n\t* Licensed under the MIT License (the \"License\");\n\t* you may not use this file except in compliance with the License.\n\t* You may obtain a copy of the License at\n\t*\n\t*     https://opensource.org/licenses/MIT\n\t*\n\t* Unless required by applicable law or agreed to in writing, software\n\t* distributed under the License is distributed on an \"AS IS\" BASIS,\n\t* WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.\n\t* See the License for the specific language governing permissions and\n\t* limitations under the License.\n]]\nreturn {}\n";
    let two_lines = "-- Copyright 2021 Studio X\n-- All rights reserved.\nreturn {}\n";
    let v = run(&[], &[("src/a.lua", roblox), ("src/b.lua", two_lines)], &[]);
    assert_eq!((v[0].spdx.as_str(), v[0].status), ("MIT", Status::Resolved));
    assert_eq!(
        v[0].copyright,
        vec!["Copyright (c) Roblox Corporation. All rights reserved."]
    );
    assert!(v[0].conflicts.is_empty(), "{:?}", v[0].conflicts);
    assert_eq!(v[1].spdx, PROPRIETARY);
    assert_eq!(
        v[1].copyright,
        vec!["Copyright 2021 Studio X All rights reserved."]
    );
    // In a license file too: a notice plus a grant is the grant.
    let stmt = "Copyright (c) 2022 Jane. All rights reserved.\nLicensed under the MIT License.\n";
    let v = run(
        &[ev("lib", "LICENSE", stmt)],
        &[("a.lua", "return 1\n")],
        &[],
    );
    assert_eq!(v[0].spdx, "MIT");
    assert_eq!(
        v[0].copyright,
        vec!["Copyright (c) 2022 Jane. All rights reserved."]
    );
}

#[test]
fn dual_license_files_follow_the_manifest_operator_else_and() {
    let apache_text = APACHE_NOTICE.replace("Copyright 2023 Vendor Inc.\n\n", "");
    let both = vec![
        ev("lib", "LICENSE-MIT", MIT_TEXT),
        ev("lib", "LICENSE-APACHE", &apache_text),
    ];
    let v = run(&both, &[("a.lua", "")], &[]);
    // Candidates come root first, then by path: LICENSE-APACHE before LICENSE-MIT.
    assert_eq!(v[0].spdx, "Apache-2.0 AND MIT");
    assert!(
        v[0].notes.iter().any(|n| n.contains("read as AND")),
        "{:?}",
        v[0].notes
    );
    let mut with_manifest = both.clone();
    with_manifest.push(ev(
        "lib",
        "Cargo.toml",
        "[package]\nname = \"x\"\nlicense = \"MIT OR Apache-2.0\"\n",
    ));
    let v = run(&with_manifest, &[("a.lua", "")], &[]);
    assert_eq!(v[0].spdx, "MIT OR Apache-2.0");
    assert!(v[0].conflicts.is_empty(), "{:?}", v[0].conflicts);
}

#[test]
fn no_evidence_is_noassertion_and_rows_use_their_own_field() {
    let v = run(&[], &[("a.lua", "return 1\n")], &[]);
    assert_eq!(
        (v[0].spdx.as_str(), v[0].status),
        (NOASSERTION, Status::Unresolved)
    );
    let mut row = doc(
        "chat",
        "data.jsonl",
        "{}",
        vec![cand(CandidateKind::Row, "data.jsonl", Some(3), "apache2")],
    );
    row.provenance.source_kind = SourceKind::Jsonl;
    row.provenance.unit_kind = UnitKind::ChatExample;
    row.provenance.rights_basis = RightsBasis::Generated;
    let mut dflt = row.clone();
    dflt.id.push('x');
    dflt.provenance.license_candidates = vec![cand(CandidateKind::Declared, "", None, "CC0")];
    let v = detect(&[row, dflt], &[], &[], &LicenseConfig::default());
    assert_eq!(v[0].spdx, "Apache-2.0");
    assert_eq!(v[0].evidence[0].line, Some(3));
    assert_eq!(v[1].spdx, "CC0-1.0");
}
