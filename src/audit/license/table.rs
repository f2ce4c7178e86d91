//! The license verdicts as typed columns of the license audit's attribute table
//! (`attributes/license.parquet`), and back. Lists are list columns and the evidence is a list
//! of structs, so other tools read the table without parsing JSON; `license report` reads the
//! verdicts from here instead of deciding them a second time.

use polars::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Evidence, LicenseVerdict};
use crate::core::Document;
use crate::store::columns::{
    read_string_lists, read_struct_lists, str_at, string_list_column, struct_list_column,
};

/// A serde unit-variant enum's snake_case name.
pub(crate) fn serde_name(v: impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|s| s.as_str().map(String::from))
        .unwrap_or_default()
}

fn from_name<T: DeserializeOwned>(column: &str, name: &str) -> PolarsResult<T> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(
        |_| polars_err!(ComputeError: "license table: `{name}` is not a valid `{column}` value"),
    )
}

/// The verdict columns, one row per verdict in order (`id` and `source_id` are the attribute
/// table's own): spdx, confidence, status, prose_license, code_license, the string lists
/// conflicts, notes and copyright, weak_evidence, and evidence (a list of structs with
/// [`Evidence`]'s fields).
pub fn verdict_columns(verdicts: &[&LicenseVerdict]) -> PolarsResult<Vec<Column>> {
    let strings = |name: &str, f: fn(&LicenseVerdict) -> Option<&str>| {
        Column::new(
            name.into(),
            verdicts.iter().map(|v| f(v)).collect::<Vec<_>>(),
        )
    };
    let lists = |name: &str, f: fn(&LicenseVerdict) -> &Vec<String>| {
        string_list_column(
            name,
            verdicts.iter().map(|v| f(v).iter().map(String::as_str)),
        )
    };
    Ok(vec![
        strings("spdx", |v| Some(&v.spdx)),
        Column::new(
            "confidence".into(),
            verdicts.iter().map(|v| v.confidence).collect::<Vec<_>>(),
        ),
        Column::new(
            "status".into(),
            verdicts
                .iter()
                .map(|v| serde_name(v.status))
                .collect::<Vec<_>>(),
        ),
        strings("prose_license", |v| v.prose_license.as_deref()),
        strings("code_license", |v| v.code_license.as_deref()),
        lists("conflicts", |v| &v.conflicts),
        lists("notes", |v| &v.notes),
        lists("copyright", |v| &v.copyright),
        Column::new(
            "weak_evidence".into(),
            verdicts.iter().map(|v| v.weak_evidence).collect::<Vec<_>>(),
        ),
        evidence_column(verdicts)?,
    ])
}

/// `evidence`: list<struct{kind, path, line, matched, score, license, fixture, used, ignored}>.
fn evidence_column(verdicts: &[&LicenseVerdict]) -> PolarsResult<Column> {
    let all: Vec<&Evidence> = verdicts.iter().flat_map(|v| &v.evidence).collect();
    let fields = [
        Column::new(
            "kind".into(),
            all.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "path".into(),
            all.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "line".into(),
            all.iter().map(|e| e.line).collect::<Vec<_>>(),
        ),
        Column::new(
            "matched".into(),
            all.iter().map(|e| e.matched.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "score".into(),
            all.iter().map(|e| e.score).collect::<Vec<_>>(),
        ),
        Column::new(
            "license".into(),
            all.iter().map(|e| e.license.as_deref()).collect::<Vec<_>>(),
        ),
        Column::new(
            "fixture".into(),
            all.iter().map(|e| e.fixture).collect::<Vec<_>>(),
        ),
        Column::new(
            "used".into(),
            all.iter().map(|e| e.used).collect::<Vec<_>>(),
        ),
        Column::new(
            "ignored".into(),
            all.iter().map(|e| e.ignored.as_deref()).collect::<Vec<_>>(),
        ),
    ];
    let lengths: Vec<usize> = verdicts.iter().map(|v| v.evidence.len()).collect();
    struct_list_column("evidence", &fields, &lengths)
}

/// `(document id, concluded SPDX expression)` of every row of a license attribute table (or a
/// batch of its `id` and `spdx` columns) that has both.
pub fn id_spdx(df: &DataFrame) -> PolarsResult<Vec<(&str, &str)>> {
    Ok(df
        .column("id")?
        .str()?
        .iter()
        .zip(df.column("spdx")?.str()?.iter())
        .filter_map(|(id, spdx)| Some((id?, spdx?)))
        .collect())
}

/// The verdicts of `docs` from a license attribute table. Every document must have its row:
/// a missing one means the table is older than the store.
pub fn read_verdicts(df: &DataFrame, docs: &[Document]) -> PolarsResult<Vec<LicenseVerdict>> {
    let ids = df.column("id")?.str()?;
    let row_of: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| Some((id?, i)))
        .collect();
    let spdx = df.column("spdx")?.str()?;
    let confidence = df.column("confidence")?.f64()?;
    let status = df.column("status")?.str()?;
    let prose = df.column("prose_license")?.str()?;
    let code = df.column("code_license")?.str()?;
    let conflicts = read_string_lists(df, "conflicts")?;
    let notes = read_string_lists(df, "notes")?;
    let copyright = read_string_lists(df, "copyright")?;
    let evidence = read_evidence(df)?;
    let weak = df.column("weak_evidence")?.bool()?;
    let text = |c: &StringChunked, i: usize| c.get(i).map(String::from);
    docs.iter()
        .map(|d| {
            let i = *row_of.get(d.id.as_str()).ok_or_else(|| {
                polars_err!(ComputeError: "document {} ({}:{}) has no license verdict", d.id, d.provenance.source_id, d.provenance.path)
            })?;
            Ok(LicenseVerdict {
                id: d.id.clone(),
                source_id: d.provenance.source_id.clone(),
                path: d.provenance.path.clone(),
                spdx: text(spdx, i).unwrap_or_default(),
                confidence: confidence.get(i).unwrap_or(0.0),
                prose_license: text(prose, i),
                code_license: text(code, i),
                evidence: evidence[i].clone(),
                conflicts: conflicts[i].clone(),
                notes: notes[i].clone(),
                copyright: copyright[i].clone(),
                weak_evidence: weak.get(i).unwrap_or(false),
                status: from_name("status", status.get(i).unwrap_or_default())?,
            })
        })
        .collect()
}

fn read_evidence(df: &DataFrame) -> PolarsResult<Vec<Vec<Evidence>>> {
    read_struct_lists(df, "evidence", |f, i| {
        Ok(Evidence {
            kind: from_name("evidence.kind", &str_at(f, "kind", i)?.unwrap_or_default())?,
            path: str_at(f, "path", i)?.unwrap_or_default(),
            line: f.column("line")?.u32()?.get(i),
            matched: str_at(f, "matched", i)?.unwrap_or_default(),
            score: f.column("score")?.f64()?.get(i).unwrap_or(0.0),
            license: str_at(f, "license", i)?,
            fixture: f.column("fixture")?.bool()?.get(i).unwrap_or(false),
            used: f.column("used")?.bool()?.get(i).unwrap_or(false),
            ignored: str_at(f, "ignored", i)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::license::{detect, LicenseConfig};
    use crate::audit::test_support::{cand, doc, ev, MIT_TEXT};
    use crate::core::CandidateKind;

    /// Real verdicts (a tagged file, a licensed folder, a fixture manifest, a file with no
    /// evidence) through a real Parquet file and back: every field survives, lists and the
    /// evidence structs included, and a document without a row is an error naming it.
    #[test]
    fn verdicts_round_trip_through_parquet() {
        let lic = || cand(CandidateKind::LicenseFile, "LICENSE", None, "");
        let docs = vec![
            doc(
                "g",
                "src/a.lua",
                "-- SPDX-License-Identifier: Apache-2.0\nreturn 1\n",
                vec![
                    cand(CandidateKind::SpdxTag, "src/a.lua", Some(1), "Apache-2.0"),
                    lic(),
                ],
            ),
            doc("g", "src/b.lua", "return 2\n", vec![lic()]),
            doc(
                "g",
                "tests/fixtures/p/c.lua",
                "return 3\n",
                vec![
                    lic(),
                    cand(
                        CandidateKind::PackageManifest,
                        "tests/fixtures/p/package.json",
                        None,
                        "",
                    ),
                ],
            ),
            doc("h", "x.lua", "return 4\n", vec![]),
        ];
        let evidence = vec![
            ev("g", "LICENSE", MIT_TEXT),
            ev(
                "g",
                "tests/fixtures/p/package.json",
                r#"{"license":"GPL-3.0-only"}"#,
            ),
        ];
        let verdicts = detect(&docs, &evidence, &[], &LicenseConfig::default());
        assert!(verdicts.iter().any(|v| v.evidence.is_empty()));
        assert!(verdicts.iter().any(|v| v.evidence.len() > 1));
        let refs: Vec<&LicenseVerdict> = verdicts.iter().collect();
        let mut cols = vec![Column::new(
            "id".into(),
            docs.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        )];
        cols.extend(verdict_columns(&refs).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("license.parquet");
        crate::store::write_parquet(&path, DataFrame::new(docs.len(), cols)).unwrap();
        let df = crate::store::read_parquet(&path).unwrap();
        assert!(
            matches!(df.column("evidence").unwrap().dtype(), DataType::List(inner) if matches!(**inner, DataType::Struct(_)))
        );
        assert_eq!(read_verdicts(&df, &docs).unwrap(), verdicts);

        let stranger = doc("z", "new.lua", "return 5\n", vec![]);
        let err = read_verdicts(&df, &[stranger]).unwrap_err().to_string();
        assert!(
            err.contains("z:new.lua") && err.contains("no license verdict"),
            "{err}"
        );
    }
}
