//! License reports: per-document rows (CSV, JSON), grouped summaries (by license, by source,
//! unknown/no license), an SPDX 2.3 JSON document, and the NOTICE text exports ship with.
//!
//! The SPDX writer follows the SPDX 2.3 specification's JSON example
//! (spdx/spdx-spec `examples/SPDXJSONExample-v2.3.spdx.json`) and its file fields
//! (spdx/spdx-spec `chapters/file-information.md`: SHA1 is the one mandatory file checksum;
//! `licenseInfoInFiles` holds only what is written in the file itself; LicenseRef-* ids used
//! anywhere are defined in `hasExtractedLicensingInfos`).
//!
//! Reports only describe: they never decide a license (the audit does) or drop a document (the
//! gate does).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use crate::audit::license::{
    EvidenceKind, LicenseVerdict, RootLicense, Status, NOASSERTION, PROPRIETARY, PUBLIC_DOMAIN,
    UNKNOWN,
};
use crate::audit::license_expr::ids;
use crate::audit::policy::{Decision, Policy};
use crate::core::{Document, LineEndings, UnitKind};
use crate::ingest::manifest::{Location, Source};
use crate::store::EvidenceFile;

/// One document in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportRow {
    pub id: String,
    pub source_id: String,
    pub path: String,
    /// Heading, API member or row number for units inside a file.
    pub unit: Option<String>,
    pub sha256: String,
    pub license: LicenseVerdict,
    /// The attribution line the license requires, if any.
    pub attribution: Option<String>,
    /// Profile name -> the gate's decision.
    pub decisions: BTreeMap<String, Decision>,
}

/// Documents per license expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LicenseGroup {
    pub spdx: String,
    pub documents: usize,
    pub sources: Vec<String>,
    /// Profile name -> documents it admits.
    pub admitted: BTreeMap<String, usize>,
}

/// Documents per source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SourceGroup {
    pub source_id: String,
    /// What the source's root license files and manifests say.
    pub root_license: Option<String>,
    /// The manifest's `expected-license` (a cross-check only).
    pub expected_license: Option<String>,
    pub documents: usize,
    /// License expression -> documents.
    pub licenses: BTreeMap<String, usize>,
    pub unresolved: usize,
    pub with_conflicts: usize,
    pub admitted: BTreeMap<String, usize>,
}

/// Documents whose license is unknown or absent, grouped by what is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnknownGroup {
    /// `LicenseRef-unknown` (text found, no match), `NOASSERTION` (no evidence) or
    /// `low_confidence`.
    pub reason: String,
    pub documents: usize,
    /// Up to 20 `source:path` examples.
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub documents: usize,
    pub resolved: usize,
    pub unresolved: usize,
    pub with_conflicts: usize,
    pub by_license: Vec<LicenseGroup>,
    pub by_source: Vec<SourceGroup>,
    pub unknown: Vec<UnknownGroup>,
}

/// A whole license report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LicenseReport {
    pub created: String,
    pub tool_version: String,
    pub profiles: Vec<String>,
    pub summary: Summary,
    pub documents: Vec<ReportRow>,
}

/// Builds the report. `profiles` are the gate decisions to include (may be empty).
pub fn build(
    docs: &[Document],
    verdicts: &[LicenseVerdict],
    sources: &[Source],
    roots: &[RootLicense],
    policy: Option<&Policy>,
    profiles: &[String],
    created: &str,
) -> LicenseReport {
    let by_id: HashMap<&str, &LicenseVerdict> =
        verdicts.iter().map(|v| (v.id.as_str(), v)).collect();
    let mut rows = Vec::new();
    for d in docs {
        let Some(v) = by_id.get(d.id.as_str()) else {
            continue;
        };
        let decisions = match policy {
            Some(p) => profiles
                .iter()
                .map(|pr| (pr.clone(), p.decide(pr, v, d)))
                .collect(),
            None => BTreeMap::new(),
        };
        rows.push(ReportRow {
            id: d.id.clone(),
            source_id: d.provenance.source_id.clone(),
            path: d.provenance.path.clone(),
            unit: d.provenance.unit_name.clone(),
            sha256: d.sha256.clone(),
            license: (*v).clone(),
            attribution: d.provenance.attribution.as_ref().map(|a| a.line()),
            decisions,
        });
    }
    let summary = summarize(&rows, sources, roots, profiles);
    LicenseReport {
        created: created.to_string(),
        tool_version: crate::TOOL_VERSION.to_string(),
        profiles: profiles.to_vec(),
        summary,
        documents: rows,
    }
}

fn summarize(
    rows: &[ReportRow],
    sources: &[Source],
    roots: &[RootLicense],
    profiles: &[String],
) -> Summary {
    let mut by_license: BTreeMap<String, LicenseGroup> = BTreeMap::new();
    let mut by_source: BTreeMap<String, SourceGroup> = BTreeMap::new();
    let mut unknown: BTreeMap<String, UnknownGroup> = BTreeMap::new();
    let zero: BTreeMap<String, usize> = profiles.iter().map(|p| (p.clone(), 0)).collect();
    for r in rows {
        let v = &r.license;
        let g = by_license
            .entry(v.spdx.clone())
            .or_insert_with(|| LicenseGroup {
                spdx: v.spdx.clone(),
                documents: 0,
                sources: Vec::new(),
                admitted: zero.clone(),
            });
        g.documents += 1;
        if !g.sources.contains(&r.source_id) {
            g.sources.push(r.source_id.clone());
        }
        let s = by_source
            .entry(r.source_id.clone())
            .or_insert_with(|| SourceGroup {
                source_id: r.source_id.clone(),
                root_license: roots
                    .iter()
                    .find(|x| x.source_id == r.source_id)
                    .map(|x| x.spdx.clone()),
                expected_license: sources
                    .iter()
                    .find(|x| x.id == r.source_id)
                    .and_then(|x| x.expected_license.clone()),
                documents: 0,
                licenses: BTreeMap::new(),
                unresolved: 0,
                with_conflicts: 0,
                admitted: zero.clone(),
            });
        s.documents += 1;
        *s.licenses.entry(v.spdx.clone()).or_default() += 1;
        if v.status == Status::Unresolved {
            s.unresolved += 1;
            let reason = if v.spdx == NOASSERTION {
                NOASSERTION.to_string()
            } else if v.spdx.contains(UNKNOWN) {
                UNKNOWN.to_string()
            } else {
                "low_confidence_or_contested".to_string()
            };
            let u = unknown
                .entry(reason.clone())
                .or_insert_with(|| UnknownGroup {
                    reason,
                    documents: 0,
                    examples: Vec::new(),
                });
            u.documents += 1;
            if u.examples.len() < 20 {
                u.examples.push(format!("{}:{}", r.source_id, r.path));
            }
        }
        if !v.conflicts.is_empty() {
            s.with_conflicts += 1;
        }
        for (p, d) in &r.decisions {
            if d.allowed {
                *g.admitted.entry(p.clone()).or_default() += 1;
                *s.admitted.entry(p.clone()).or_default() += 1;
            }
        }
    }
    let mut by_license: Vec<LicenseGroup> = by_license.into_values().collect();
    by_license.sort_by(|a, b| b.documents.cmp(&a.documents).then(a.spdx.cmp(&b.spdx)));
    Summary {
        documents: rows.len(),
        resolved: rows
            .iter()
            .filter(|r| r.license.status == Status::Resolved)
            .count(),
        unresolved: rows
            .iter()
            .filter(|r| r.license.status == Status::Unresolved)
            .count(),
        with_conflicts: rows
            .iter()
            .filter(|r| !r.license.conflicts.is_empty())
            .count(),
        by_license,
        by_source: by_source.into_values().collect(),
        unknown: unknown.into_values().collect(),
    }
}

/// JSON: the whole report.
pub fn to_json(report: &LicenseReport) -> String {
    serde_json::to_string_pretty(report).expect("report serializes") + "\n"
}

/// One CSV field, quoted when it must be (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV: one row per document; evidence and conflicts are `; `-joined.
pub fn to_csv(report: &LicenseReport) -> String {
    let mut head: Vec<String> = [
        "document_id",
        "source_id",
        "path",
        "unit",
        "spdx",
        "status",
        "confidence",
        "prose_license",
        "code_license",
        "conflicts",
        "notes",
        "evidence",
        "copyright",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for p in &report.profiles {
        head.push(format!("{p}_allowed"));
        head.push(format!("{p}_class"));
        head.push(format!("{p}_reason"));
    }
    let mut out = head.join(",");
    out.push('\n');
    for r in &report.documents {
        let v = &r.license;
        let evidence: Vec<String> = v
            .evidence
            .iter()
            .map(|e| {
                format!(
                    "{}{}:{}{}={} ({:.2}){}",
                    if e.used { "*" } else { "" },
                    e.kind.as_str(),
                    e.path,
                    e.line.map(|l| format!(":{l}")).unwrap_or_default(),
                    e.license.as_deref().unwrap_or("-"),
                    e.score,
                    if e.fixture { " [fixture]" } else { "" }
                )
            })
            .collect();
        let mut fields = vec![
            r.id.clone(),
            r.source_id.clone(),
            r.path.clone(),
            r.unit.clone().unwrap_or_default(),
            v.spdx.clone(),
            match v.status {
                Status::Resolved => "resolved".into(),
                Status::Unresolved => "unresolved".into(),
            },
            format!("{:.3}", v.confidence),
            v.prose_license.clone().unwrap_or_default(),
            v.code_license.clone().unwrap_or_default(),
            v.conflicts.join("; "),
            v.notes.join("; "),
            evidence.join("; "),
            v.copyright.join("; "),
        ];
        for p in &report.profiles {
            match r.decisions.get(p) {
                Some(d) => {
                    fields.push(d.allowed.to_string());
                    fields.push(d.class.as_str().to_string());
                    fields.push(d.reason.clone());
                }
                None => fields.extend([String::new(), String::new(), String::new()]),
            }
        }
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// The bytes the document's `sha256` was taken over, rebuilt from its text when ingest's
/// normalizations can be undone (LF/CRLF endings, a stripped BOM); None when they cannot.
fn original_bytes(d: &Document) -> Option<Vec<u8>> {
    let mut s = String::new();
    if d.provenance.steps.iter().any(|s| s == "strip_bom") {
        s.push('\u{feff}');
    }
    match d.line_endings {
        LineEndings::Crlf => s.push_str(&d.text.replace('\n', "\r\n")),
        LineEndings::Lf | LineEndings::None => s.push_str(&d.text),
        LineEndings::Mixed => return None,
    }
    (crate::core::sha256_hex(s.as_bytes()) == d.sha256).then(|| s.into_bytes())
}

/// An SPDX idstring: letters, digits, `.` and `-`.
fn idstring(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').to_string()
}

/// Settings of the SPDX document.
#[derive(Debug, Clone)]
pub struct SpdxOptions {
    /// Document name.
    pub name: String,
    /// Namespace URI prefix; the document's namespace is this plus the name and a content hash.
    pub namespace_base: String,
    /// RFC 3339 UTC creation time (`YYYY-MM-DDThh:mm:ssZ`).
    pub created: String,
}

/// An SPDX 2.3 JSON document: one package per source, one file per document.
pub fn to_spdx(
    docs: &[Document],
    verdicts: &[LicenseVerdict],
    sources: &[Source],
    roots: &[RootLicense],
    evidence: &[EvidenceFile],
    opts: &SpdxOptions,
) -> Value {
    let by_id: HashMap<&str, &LicenseVerdict> =
        verdicts.iter().map(|v| (v.id.as_str(), v)).collect();
    // LicenseRef id -> (name, extracted text).
    let mut refs: BTreeMap<String, (String, String)> = BTreeMap::new();
    let note_ref = |expr: &str, refs: &mut BTreeMap<String, (String, String)>| {
        for id in ids(expr) {
            if !id.starts_with("LicenseRef-") || refs.contains_key(&id) {
                continue;
            }
            let (name, text) = match id.as_str() {
                UNKNOWN => ("Unknown license".to_string(), "License text was found but matches no license on the SPDX list closely enough; see the file's licenseComments for where.".to_string()),
                PROPRIETARY => ("All rights reserved".to_string(), "The evidence reserves all rights (\"All rights reserved\", \"proprietary\", or npm's UNLICENSED) and grants no license.".to_string()),
                PUBLIC_DOMAIN => ("Public domain".to_string(), "The evidence states the material is in the public domain.".to_string()),
                other => (other.trim_start_matches("LicenseRef-").to_string(), format!("{other}: declared by the source; no text was collected.")),
            };
            refs.insert(id, (name, text));
        }
    };
    let mut files: Vec<Value> = Vec::new();
    let mut per_source: BTreeMap<String, Vec<(String, String, BTreeSet<String>)>> = BTreeMap::new();
    let mut seen_ids: BTreeSet<String> = BTreeSet::new();
    for d in docs {
        let Some(v) = by_id.get(d.id.as_str()) else {
            continue;
        };
        let p = &d.provenance;
        let spdx_id = format!("SPDXRef-File-{}", idstring(&d.id));
        if !seen_ids.insert(spdx_id.clone()) {
            continue;
        }
        let original = original_bytes(d);
        let sha1 = hex::encode(Sha1::digest(
            original.as_deref().unwrap_or(d.text.as_bytes()),
        ));
        let mut comments: Vec<String> = Vec::new();
        if original.is_none() {
            comments.push("SHA1 is of the LF-normalized text (mixed line endings could not be restored); SHA256 is of the original bytes.".into());
        }
        if let (Some(span), Some(name)) = (p.span, &p.unit_name) {
            comments.push(format!(
                "A {} unit `{name}`, lines {}-{} of the file; checksums are of the unit's text.",
                p.unit_kind.as_str(),
                span.line_start,
                span.line_end
            ));
        }
        // What the file itself says (tags, header); "NONE" when nothing.
        let mut in_file: Vec<String> = Vec::new();
        for e in &v.evidence {
            if matches!(e.kind, EvidenceKind::SpdxTag | EvidenceKind::Header) {
                if let Some(l) = &e.license {
                    for id in ids(l) {
                        if !in_file.contains(&id) {
                            in_file.push(id);
                        }
                    }
                }
            }
        }
        let concluded = if v.status == Status::Resolved {
            v.spdx.clone()
        } else {
            NOASSERTION.to_string()
        };
        note_ref(&concluded, &mut refs);
        for i in &in_file {
            note_ref(i, &mut refs);
        }
        let mut license_comments: Vec<String> = Vec::new();
        if v.status == Status::Unresolved {
            license_comments.push(format!(
                "Unresolved: the audit read `{}` (confidence {:.2}).",
                v.spdx, v.confidence
            ));
        }
        let used: Vec<String> = v
            .evidence
            .iter()
            .filter(|e| e.used)
            .map(|e| {
                format!(
                    "{} {}{}",
                    e.kind.as_str(),
                    if e.path.is_empty() {
                        "(source declaration)"
                    } else {
                        &e.path
                    },
                    e.license
                        .as_deref()
                        .map(|l| format!(" = {l}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        if !used.is_empty() {
            license_comments.push(format!("Concluded from: {}.", used.join("; ")));
        }
        license_comments.extend(v.conflicts.iter().map(|c| format!("Conflict: {c}")));
        license_comments.extend(v.notes.iter().cloned());
        let file_type = match p.unit_kind {
            UnitKind::ChatExample => "TEXT",
            UnitKind::DocSection | UnitKind::ApiPage | UnitKind::ApiMember => "DOCUMENTATION",
            UnitKind::File if d.luau.is_some() => "SOURCE",
            UnitKind::File => "TEXT",
        };
        let mut f = json!({
            "SPDXID": spdx_id,
            "fileName": format!("./{}/{}", p.source_id, p.path),
            "fileTypes": [file_type],
            "checksums": [
                {"algorithm": "SHA1", "checksumValue": sha1},
                {"algorithm": "SHA256", "checksumValue": d.sha256},
            ],
            "licenseConcluded": concluded,
            "licenseInfoInFiles": if in_file.is_empty() { vec!["NONE".to_string()] } else { in_file.clone() },
            "copyrightText": if v.copyright.is_empty() { NOASSERTION.to_string() } else { v.copyright.join("\n") },
        });
        if !license_comments.is_empty() {
            f["licenseComments"] = json!(license_comments.join("\n"));
        }
        if !comments.is_empty() {
            f["comment"] = json!(comments.join("\n"));
        }
        if let Some(a) = &p.attribution {
            f["attributionTexts"] = json!([a.line()]);
        }
        files.push(f);
        let infos: BTreeSet<String> = in_file.into_iter().collect();
        per_source
            .entry(p.source_id.clone())
            .or_default()
            .push((spdx_id, sha1, infos));
    }
    // Unknown root license texts get their own LicenseRef with the text itself.
    let mut root_declared: BTreeMap<String, String> = BTreeMap::new();
    for r in roots {
        if r.spdx == UNKNOWN {
            if let Some(path) = r.paths.first() {
                let id = format!("LicenseRef-{}-{}", idstring(&r.source_id), idstring(path));
                let text = evidence
                    .iter()
                    .find(|e| e.source_id == r.source_id && &e.path == path)
                    .map(|e| e.text.clone())
                    .unwrap_or_default();
                refs.insert(id.clone(), (format!("{} {path}", r.source_id), text));
                root_declared.insert(r.source_id.clone(), id);
                continue;
            }
        }
        note_ref(&r.spdx, &mut refs);
        root_declared.insert(r.source_id.clone(), r.spdx.clone());
    }
    let mut packages: Vec<Value> = Vec::new();
    let mut relationships: Vec<Value> = Vec::new();
    for (sid, entries) in &per_source {
        let pkg_id = format!("SPDXRef-Package-{}", idstring(sid));
        let source = sources.iter().find(|s| &s.id == sid);
        let doc = docs.iter().find(|d| &d.provenance.source_id == sid);
        let download = match source.map(|s| &s.location) {
            Some(Location::Git { url, .. }) => format!("git+{url}"),
            _ => doc
                .map(|d| d.provenance.url.clone())
                .filter(|u| u.contains("://"))
                .unwrap_or_else(|| NOASSERTION.into()),
        };
        let mut sha1s: Vec<&str> = entries.iter().map(|(_, s, _)| s.as_str()).collect();
        sha1s.sort();
        let verification = hex::encode(Sha1::digest(sha1s.concat().as_bytes()));
        let mut from_files: BTreeSet<String> = entries
            .iter()
            .flat_map(|(_, _, i)| i.iter().cloned())
            .collect();
        if from_files.is_empty() {
            from_files.insert("NONE".into());
        }
        let mut pkg = json!({
            "SPDXID": pkg_id,
            "name": sid,
            "downloadLocation": download,
            "filesAnalyzed": true,
            "packageVerificationCode": {"packageVerificationCodeValue": verification},
            "licenseConcluded": NOASSERTION,
            "licenseDeclared": root_declared.get(sid).cloned().unwrap_or_else(|| NOASSERTION.into()),
            "licenseInfoFromFiles": from_files.into_iter().collect::<Vec<_>>(),
            "copyrightText": NOASSERTION,
            "hasFiles": entries.iter().map(|(id, _, _)| id.clone()).collect::<Vec<_>>(),
        });
        if let Some(c) = doc.and_then(|d| d.provenance.commit.clone()) {
            pkg["versionInfo"] = json!(c);
        }
        if let Some(e) = source.and_then(|s| s.expected_license.clone()) {
            pkg["licenseComments"] = json!(format!(
                "The source manifest expects `{e}` (a cross-check, not evidence)."
            ));
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": format!("SPDXRef-Package-{}", idstring(sid)),
        }));
    }
    let mut h = blake3::Hasher::new();
    for f in &files {
        h.update(f["SPDXID"].as_str().unwrap_or_default().as_bytes());
        h.update(
            f["licenseConcluded"]
                .as_str()
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    let digest = h.finalize().to_hex()[..16].to_string();
    let namespace = format!(
        "{}/{}-{digest}",
        opts.namespace_base.trim_end_matches('/'),
        idstring(&opts.name)
    );
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": opts.name,
        "documentNamespace": namespace,
        "creationInfo": {
            "created": opts.created,
            "creators": [format!("Tool: vcurate-{}", crate::TOOL_VERSION)],
            "licenseListVersion": spdx::license_version(),
        },
        "documentDescribes": packages.iter().map(|p| p["SPDXID"].clone()).collect::<Vec<_>>(),
        "packages": packages,
        "files": files,
        "hasExtractedLicensingInfos": refs.into_iter().map(|(id, (name, text))| json!({
            "licenseId": id,
            "name": name,
            "extractedText": if text.trim().is_empty() { "(no text)".to_string() } else { text },
        })).collect::<Vec<_>>(),
        "relationships": relationships,
    })
}

/// The NOTICE text for an export of `docs`: per source, the licenses, the copyright notices the
/// licenses require to be kept, and every attribution line (CC-BY docs and the like).
pub fn notice(docs: &[Document], verdicts: &[LicenseVerdict]) -> String {
    let by_id: HashMap<&str, &LicenseVerdict> =
        verdicts.iter().map(|v| (v.id.as_str(), v)).collect();
    struct Acc {
        url: String,
        commit: Option<String>,
        licenses: BTreeMap<String, usize>,
        copyright: Vec<String>,
        attributions: Vec<String>,
    }
    let mut by_source: BTreeMap<String, Acc> = BTreeMap::new();
    for d in docs {
        let p = &d.provenance;
        let acc = by_source.entry(p.source_id.clone()).or_insert_with(|| Acc {
            url: p.url.clone(),
            commit: p.commit.clone(),
            licenses: BTreeMap::new(),
            copyright: Vec::new(),
            attributions: Vec::new(),
        });
        let spdx = by_id
            .get(d.id.as_str())
            .map(|v| v.spdx.clone())
            .unwrap_or_else(|| NOASSERTION.into());
        *acc.licenses.entry(spdx).or_default() += 1;
        if let Some(v) = by_id.get(d.id.as_str()) {
            for c in &v.copyright {
                if !acc.copyright.contains(c) {
                    acc.copyright.push(c.clone());
                }
            }
        }
        if let Some(a) = &p.attribution {
            let line = a.line();
            if !acc.attributions.contains(&line) {
                acc.attributions.push(line);
            }
        }
    }
    let mut out = String::from(
        "NOTICE\n\nThis dataset contains material from the sources listed below, each under the license(s)\nshown. The copyright notices and attribution lines those licenses require are reproduced here.\n",
    );
    for (sid, a) in &by_source {
        out.push_str(&format!("\n== {sid} ==\nSource: {}", a.url));
        if let Some(c) = &a.commit {
            out.push_str(&format!(" at commit {c}"));
        }
        out.push('\n');
        let lic: Vec<String> = a
            .licenses
            .iter()
            .map(|(l, n)| format!("{l} ({n} document{})", if *n == 1 { "" } else { "s" }))
            .collect();
        out.push_str(&format!("Licenses: {}\n", lic.join(", ")));
        if !a.copyright.is_empty() {
            out.push_str("Copyright notices:\n");
            for c in &a.copyright {
                out.push_str(&format!("  {c}\n"));
            }
        }
        if !a.attributions.is_empty() {
            out.push_str("Attributions:\n");
            for l in &a.attributions {
                out.push_str(&format!("  {l}\n"));
            }
        }
    }
    out
}

mod run;
pub use run::{run, LicenseReportError, ReportFormat, ReportRun, ReportSettings};

#[cfg(test)]
mod tests;
