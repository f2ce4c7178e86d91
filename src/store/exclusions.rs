//! The one excluded-table shape, written and read for every stage: one row per
//! [`Exclusion`], with `stage`, `step`, `reason` and `detail` as strings, `document_ids` as a
//! list-of-strings column (never comma-joined) and `example_id`/`template`/`item` as nullable
//! strings.
//! The audits' `dataset/audit/excluded/<audit>.parquet` tables use it; so can the snapshot, the
//! render drops and the export's refusals, so "why is X missing?" is one query over one shape.

use std::path::Path;

use polars::prelude::*;

use super::columns::{read_string_lists, string_list_column};
use super::{read_parquet, write_parquet, StoreError};
use crate::core::{Exclusion, Stage};

/// The columns of an excluded table, in order.
pub const EXCLUSION_COLUMNS: [&str; 8] = [
    "stage",
    "step",
    "reason",
    "detail",
    "document_ids",
    "example_id",
    "template",
    "item",
];

/// The excluded table of some exclusions.
pub fn exclusions_frame(rows: &[Exclusion]) -> PolarsResult<DataFrame> {
    let strings = |name: &str, f: fn(&Exclusion) -> &str| -> Column {
        Column::new(
            name.into(),
            rows.iter().map(|r| f(r).to_string()).collect::<Vec<_>>(),
        )
    };
    let opt = |name: &str, f: fn(&Exclusion) -> &Option<String>| -> Column {
        Column::new(
            name.into(),
            rows.iter().map(|r| f(r).clone()).collect::<Vec<_>>(),
        )
    };
    DataFrame::new(
        rows.len(),
        vec![
            strings("stage", |r| r.stage.as_str()),
            strings("step", |r| &r.step),
            strings("reason", |r| &r.reason),
            strings("detail", |r| &r.detail),
            string_list_column(
                "document_ids",
                rows.iter()
                    .map(|r| r.document_ids.iter().map(String::as_str)),
            ),
            opt("example_id", |r| &r.example_id),
            opt("template", |r| &r.template),
            opt("item", |r| &r.item),
        ],
    )
}

/// Exclusions back from their table; `path` names the table in errors.
pub fn exclusions_from_frame(df: &DataFrame, path: &Path) -> Result<Vec<Exclusion>, StoreError> {
    let malformed = |column: &str, message: String| StoreError::Malformed {
        path: path.to_path_buf(),
        column: column.to_string(),
        message,
    };
    let polars = |source| StoreError::Polars {
        path: path.to_path_buf(),
        source,
    };
    let opt_strings = |name: &str| -> Result<Vec<Option<String>>, StoreError> {
        Ok(df
            .column(name)
            .map_err(polars)?
            .str()
            .map_err(polars)?
            .iter()
            .map(|v| v.map(String::from))
            .collect())
    };
    let strings = |name: &str| -> Result<Vec<String>, StoreError> {
        opt_strings(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| malformed(name, format!("null in row {i}"))))
            .collect()
    };
    let stages = strings("stage")?
        .into_iter()
        .map(|s| Stage::parse(&s).ok_or_else(|| malformed("stage", format!("unknown stage `{s}`"))))
        .collect::<Result<Vec<_>, _>>()?;
    let (steps, reasons, details) = (strings("step")?, strings("reason")?, strings("detail")?);
    let ids = read_string_lists(df, "document_ids").map_err(polars)?;
    let (examples, templates, items) = (
        opt_strings("example_id")?,
        opt_strings("template")?,
        opt_strings("item")?,
    );
    Ok(stages
        .into_iter()
        .zip(steps)
        .zip(reasons)
        .zip(details)
        .zip(ids)
        .zip(examples)
        .zip(templates)
        .zip(items)
        .map(
            |(
                ((((((stage, step), reason), detail), document_ids), example_id), template),
                item,
            )| {
                Exclusion {
                    stage,
                    step,
                    reason,
                    detail,
                    document_ids,
                    example_id,
                    template,
                    item,
                }
            },
        )
        .collect())
}

/// Writes exclusions as an excluded table (atomically, creating the folder).
pub fn write_exclusions(path: &Path, rows: &[Exclusion]) -> Result<(), StoreError> {
    write_parquet(path, exclusions_frame(rows))
}

/// Reads an excluded table written by [`write_exclusions`].
pub fn read_exclusions(path: &Path) -> Result<Vec<Exclusion>, StoreError> {
    exclusions_from_frame(&read_parquet(path)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_round_trip_with_a_list_column_of_document_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x/excluded.parquet");
        let rows = vec![
            Exclusion::document(
                Stage::Audit,
                "license",
                "d1",
                "license_deny",
                "AGPL-3.0-only",
            ),
            Exclusion {
                stage: Stage::Render,
                step: "contamination".into(),
                reason: "contaminated".into(),
                detail: "shares text, with commas".into(),
                document_ids: vec!["a,b".into(), "c".into()],
                example_id: Some("e1".into()),
                template: Some("t.j2".into()),
                item: Some("f".into()),
            },
            Exclusion {
                document_ids: Vec::new(),
                ..Exclusion::document(Stage::Export, "publish", "", "refused", "")
            },
        ];
        write_exclusions(&path, &rows).unwrap();
        let df = read_parquet(&path).unwrap();
        let names: Vec<&str> = df.get_column_names().iter().map(|c| c.as_str()).collect();
        assert_eq!(names, EXCLUSION_COLUMNS);
        assert!(matches!(
            df.column("document_ids").unwrap().dtype(),
            DataType::List(inner) if **inner == DataType::String
        ));
        assert_eq!(read_exclusions(&path).unwrap(), rows);
        // An empty table keeps its shape.
        write_exclusions(&path, &[]).unwrap();
        assert!(read_exclusions(&path).unwrap().is_empty());
        assert_eq!(
            read_parquet(&path).unwrap().width(),
            EXCLUSION_COLUMNS.len()
        );
    }
}
