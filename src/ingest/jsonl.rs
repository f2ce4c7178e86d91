//! Existing chat/completions datasets: one JSON object per line, either
//! `{"messages": [...], "tools": [...]}` or `{"prompt", "completion"}` (the shapes mlx-lm's
//! LoRA loader reads, see ml-explore/mlx-lm `mlx_lm/tuner/datasets.py`). Chat rows may hold
//! several exchanges, OpenAI-style `tool_calls` and `tool` turns (see [`crate::core::message`]
//! for the shapes); they are kept whole. Each row becomes a `chat_example` document whose text
//! is the row's canonical JSON (only the training fields, keys in a fixed order, tool-call
//! arguments as objects) and whose `chat` counts its turns, tool calls, tool results and tools.
//! Per-row provenance comes from mapped fields (`[fields]` in the manifest).
//! The file is read as bytes and split into lines before decoding: a line that is not UTF-8,
//! not JSON, not one of the two shapes (a malformed tool call included: the detail names the
//! field), or whose mapped provenance field has the wrong type is
//! one `invalid_row` skip record naming its line, and the other rows still become documents
//! (a scraped dataset with one mis-encoded row must not fail the whole source). A UTF-8 BOM
//! before the first row is stripped and recorded in that row's steps.

use serde_json::{json, Value};

use crate::core::{
    document_id, message::json_type, sha256_hex, CandidateKind, ChatCounts, Conversation, Document,
    LicenseCandidate, LineEndings, Provenance, RightsBasis, SkipReason, Span, UnitKind,
};
use crate::ingest::units::UnitContext;
use crate::ingest::{manifest::Location, skip, IngestError, Progress};
use crate::store::SourceTables;

/// Looks up a dotted path (`meta.license`) in a JSON object.
fn lookup<'a>(row: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(row, |v, k| v.get(k))
}

/// The training content of a row in canonical form (only the training fields, keys in a fixed
/// order, tool-call arguments as JSON objects) with its turn and call counts, or why it has
/// none. Chat rows are read by [`Conversation::from_json`], strictly: a malformed tool call is
/// an error naming the field.
pub fn canonical_row(row: &Value) -> Result<(Value, ChatCounts), String> {
    if !row.is_object() {
        return Err("a row must be a JSON object".into());
    }
    if row.get("messages").is_some() {
        let conversation = Conversation::from_json(row)?;
        let counts = conversation.counts();
        let value = serde_json::to_value(&conversation).expect("json serializes");
        return Ok((value, counts));
    }
    match (
        row.get("prompt").and_then(Value::as_str),
        row.get("completion").and_then(Value::as_str),
    ) {
        (Some(p), Some(c)) => Ok((
            json!({"prompt": p, "completion": c}),
            ChatCounts {
                turns: 2,
                assistant_turns: 1,
                ..ChatCounts::default()
            },
        )),
        _ => Err("row has neither `messages` nor string `prompt` and `completion`".into()),
    }
}

/// One line of a JSONL file: its 1-based number, where it is in the file, and its bytes
/// without the line break.
struct RawLine<'a> {
    number: u32,
    /// Byte range of the line in the file, its line break included.
    start: u64,
    end: u64,
    bytes: &'a [u8],
}

/// Splits a file into lines at `\n` (a `\r` before it belongs to the break). Works on bytes so
/// that one badly encoded line cannot hide the others.
fn raw_lines(bytes: &[u8]) -> impl Iterator<Item = RawLine<'_>> {
    let mut offset = 0u64;
    bytes
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .map(move |(i, raw)| {
            let start = offset;
            offset += raw.len() as u64;
            let body = raw.strip_suffix(b"\n").unwrap_or(raw);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            RawLine {
                number: i as u32 + 1,
                start,
                end: offset,
                bytes: body,
            }
        })
}

/// A mapped provenance field of a row: `Ok(None)` when the row does not have it (or it is
/// null), an error naming the field when it is there but not a string (falling back to the
/// manifest's default would misstate the row's provenance).
fn mapped_field(row: &Value, key: &str, path: Option<&str>) -> Result<Option<String>, String> {
    let Some(path) = path else { return Ok(None) };
    match lookup(row, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "`{path}` (the `{key}` field in [fields]) must be a string, not {}; fix the row or the mapping",
            json_type(other)
        )),
    }
}

/// Ingests a JSONL dataset file, each row's document written to `out` as it is made (the
/// file's bytes are read whole; its documents are never all held). Only an unreadable file or
/// a failed store write fails the source: every line that
/// cannot become a document (not UTF-8, not JSON, not one of the two shapes, a mapped field of
/// the wrong type) is one `invalid_row` skip record whose detail starts with `line N:`.
pub fn ingest(
    ctx: &UnitContext,
    out: &mut crate::store::SourceWriter,
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
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let line_count = bytes.split_inclusive(|&b| b == b'\n').count();
    progress(Progress::Start {
        id: &source.id,
        files: line_count as u64,
    });
    let mut tables = SourceTables::default();
    for raw in raw_lines(&bytes) {
        let line_no = raw.number;
        progress(Progress::Advance {
            id: &source.id,
            n: 1,
        });
        let bad = |detail: String| {
            skip(
                source,
                &file,
                SkipReason::InvalidRow,
                format!("line {line_no}: {detail}"),
                None,
                Some(raw.end - raw.start),
            )
        };
        let mut steps = vec!["ingest".to_string()];
        let mut body = raw.bytes;
        if line_no == 1 {
            if let Some(rest) = body.strip_prefix(b"\xef\xbb\xbf") {
                body = rest;
                steps.push("strip_bom".to_string());
            }
        }
        let line = match std::str::from_utf8(body) {
            Ok(l) => l,
            Err(e) => {
                tables.skipped.push(bad(format!(
                    "not valid UTF-8 at byte {} of the line (byte {} of the file); re-encode the file as UTF-8",
                    e.valid_up_to(),
                    raw.start as usize + (raw.bytes.len() - body.len()) + e.valid_up_to()
                )));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let row: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                tables.skipped.push(bad(format!(
                    "not valid JSON ({e}); each line must hold one JSON object"
                )));
                continue;
            }
        };
        let (canonical, counts) = match canonical_row(&row) {
            Ok(c) => c,
            Err(e) => {
                tables.skipped.push(bad(e));
                continue;
            }
        };
        let fields = &source.fields;
        let mapped = mapped_field(&row, "source", fields.source.as_deref()).and_then(|origin| {
            Ok((
                origin,
                mapped_field(&row, "license", fields.license.as_deref())?,
                mapped_field(&row, "rights-basis", fields.rights_basis.as_deref())?,
            ))
        });
        let (origin, license, rights_basis) = match mapped {
            Ok(m) => m,
            Err(e) => {
                tables.skipped.push(bad(e));
                continue;
            }
        };
        let rights_basis = match rights_basis {
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
        match license {
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
        steps.push("canonicalize_row".to_string());
        let text = serde_json::to_string(&canonical).expect("json serializes");
        let sha = sha256_hex(text.as_bytes());
        out.write_documents(&[Document {
            id: document_id(&source.id, &file, &format!("line:{line_no}"), &sha),
            provenance: Provenance {
                source_id: source.id.clone(),
                source_kind: source.kind,
                url: ctx.url.clone(),
                commit: None,
                path: file.clone(),
                blob_id: None,
                span: Some(Span {
                    byte_start: raw.start,
                    byte_end: raw.end,
                    line_start: line_no,
                    line_end: line_no,
                }),
                unit_kind: UnitKind::ChatExample,
                unit_name: Some(format!("line {line_no}")),
                origin,
                rights_basis,
                license_candidates: candidates,
                prose_license: None,
                code_license: None,
                attribution: None,
                ingest_time: ctx.ingest_time.clone(),
                tool_version: crate::TOOL_VERSION.to_string(),
                steps,
            },
            bytes: text.len() as u64,
            text,
            sha256: sha,
            line_endings: LineEndings::None,
            luau: None,
            code_blocks: Vec::new(),
            chat: Some(counts),
        }])?;
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
            canonical_row(&row).unwrap().0,
            json!({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]})
        );
        assert_eq!(
            canonical_row(&json!({"prompt":"p","completion":"c","x":2}))
                .unwrap()
                .0,
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
