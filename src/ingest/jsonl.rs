//! Existing chat/completions datasets: one JSON object per line, either
//! `{"messages": [{"role", "content"}, ...]}` or `{"prompt", "completion"}` (the shapes mlx-lm's
//! LoRA loader reads, see ml-explore/mlx-lm `mlx_lm/tuner/datasets.py`). Each row becomes a
//! `chat_example` document whose text is the row's canonical JSON (only the training fields, keys
//! in a fixed order). Per-row provenance comes from mapped fields (`[fields]` in the manifest).
//! A row that is not valid JSON, or lacks both shapes, is a skip record naming its line.

use serde_json::{json, Value};

use crate::core::{
    document_id, sha256_hex, CandidateKind, Document, LicenseCandidate, LineEndings, Provenance,
    RightsBasis, SkipReason, Span, UnitKind,
};
use crate::ingest::units::UnitContext;
use crate::ingest::{manifest::Location, skip, IngestError, Progress};
use crate::snapshot::SourceTables;

/// Looks up a dotted path (`meta.license`) in a JSON object.
fn lookup<'a>(row: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(row, |v, k| v.get(k))
}

/// The training content of a row in canonical form, or why it has none.
pub fn canonical_row(row: &Value) -> Result<Value, String> {
    if !row.is_object() {
        return Err("a row must be a JSON object".into());
    }
    if let Some(messages) = row.get("messages") {
        let list = messages.as_array().ok_or("`messages` must be an array")?;
        if list.is_empty() {
            return Err("`messages` is empty".into());
        }
        let mut out = Vec::new();
        for (i, m) in list.iter().enumerate() {
            let role = m
                .get("role")
                .and_then(Value::as_str)
                .ok_or(format!("messages[{i}] has no string `role`"))?;
            let content = m
                .get("content")
                .and_then(Value::as_str)
                .ok_or(format!("messages[{i}] has no string `content`"))?;
            if !matches!(role, "system" | "user" | "assistant" | "tool") {
                return Err(format!("messages[{i}] has unknown role `{role}`"));
            }
            out.push(json!({"role": role, "content": content}));
        }
        return Ok(json!({ "messages": out }));
    }
    match (
        row.get("prompt").and_then(Value::as_str),
        row.get("completion").and_then(Value::as_str),
    ) {
        (Some(p), Some(c)) => Ok(json!({"prompt": p, "completion": c})),
        _ => Err("row has neither `messages` nor string `prompt` and `completion`".into()),
    }
}

/// Ingests a JSONL dataset file.
pub fn ingest(
    ctx: &UnitContext,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<SourceTables, IngestError> {
    let source = ctx.source;
    let Location::Path(path) = &source.location else {
        unreachable!("jsonl sources have a path")
    };
    let bytes = fs_err::read(path).map_err(|e| IngestError::Read {
        id: source.id.clone(),
        path: path.clone(),
        message: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| IngestError::Read {
        id: source.id.clone(),
        path: path.clone(),
        message: format!("not valid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    progress(Progress::Start {
        id: &source.id,
        files: lines.len() as u64,
    });
    let mut tables = SourceTables::default();
    let mut offset = 0u64;
    for (i, raw) in lines.iter().enumerate() {
        let line_no = i as u32 + 1;
        let start = offset;
        offset += raw.len() as u64;
        progress(Progress::Advance {
            id: &source.id,
            n: 1,
        });
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let bad = |detail: String| {
            skip(
                source,
                &file,
                SkipReason::InvalidRow,
                format!("line {line_no}: {detail}"),
                None,
                Some(raw.len() as u64),
            )
        };
        let row: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                tables.skipped.push(bad(format!("not valid JSON ({e})")));
                continue;
            }
        };
        let canonical = match canonical_row(&row) {
            Ok(c) => c,
            Err(e) => {
                tables.skipped.push(bad(e));
                continue;
            }
        };
        let field = |f: &Option<String>| {
            f.as_deref()
                .and_then(|p| lookup(&row, p))
                .and_then(Value::as_str)
                .map(String::from)
        };
        let rights_basis = match field(&source.fields.rights_basis) {
            Some(r) => match serde_json::from_value::<RightsBasis>(Value::String(r.clone())) {
                Ok(rb) => rb,
                Err(_) => {
                    tables.skipped.push(bad(format!("rights basis `{r}` is not one of open_source, own_codebase, permissioned, generated, public_domain")));
                    continue;
                }
            },
            None => source.rights_basis,
        };
        let mut candidates = Vec::new();
        match field(&source.fields.license) {
            Some(l) => candidates.push(LicenseCandidate {
                kind: CandidateKind::Row,
                path: file.clone(),
                line: Some(line_no),
                value: l,
            }),
            None => candidates.extend(source.license.clone().map(|l| LicenseCandidate {
                kind: CandidateKind::Declared,
                path: String::new(),
                line: None,
                value: l,
            })),
        }
        let text = serde_json::to_string(&canonical).expect("json serializes");
        let sha = sha256_hex(text.as_bytes());
        tables.documents.push(Document {
            id: document_id(&source.id, &file, &format!("line:{line_no}"), &sha),
            provenance: Provenance {
                source_id: source.id.clone(),
                source_kind: source.kind,
                url: ctx.url.clone(),
                commit: None,
                path: file.clone(),
                blob_id: None,
                span: Some(Span {
                    byte_start: start,
                    byte_end: offset,
                    line_start: line_no,
                    line_end: line_no,
                }),
                unit_kind: UnitKind::ChatExample,
                unit_name: Some(format!("line {line_no}")),
                origin: field(&source.fields.source),
                rights_basis,
                license_candidates: candidates,
                prose_license: None,
                code_license: None,
                attribution: None,
                ingest_time: ctx.ingest_time.clone(),
                tool_version: crate::TOOL_VERSION.to_string(),
                steps: vec!["ingest".into(), "canonicalize_row".into()],
            },
            bytes: text.len() as u64,
            text,
            sha256: sha,
            line_endings: LineEndings::None,
            luau: None,
            code_blocks: Vec::new(),
        });
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_shapes_and_errors() {
        let row = json!({"messages":[{"role":"user","content":"hi","extra":1},{"role":"assistant","content":"yo"}],"meta":{}});
        assert_eq!(
            canonical_row(&row).unwrap(),
            json!({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]})
        );
        assert_eq!(
            canonical_row(&json!({"prompt":"p","completion":"c","x":2})).unwrap(),
            json!({"prompt":"p","completion":"c"})
        );
        assert!(
            canonical_row(&json!({"messages":[{"role":"wizard","content":"x"}]}))
                .unwrap_err()
                .contains("unknown role")
        );
        assert!(canonical_row(&json!({"prompt":"p"}))
            .unwrap_err()
            .contains("neither"));
        assert!(canonical_row(&json!([1])).is_err());
        assert_eq!(
            lookup(&json!({"meta":{"license":"MIT"}}), "meta.license"),
            Some(&json!("MIT"))
        );
    }
}
