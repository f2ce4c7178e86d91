//! The store layer: the Parquet tables every stage reads and writes. The ingested store: per source, three Parquet tables (documents, skipped, license_files)
//! and a state file, under `dataset/store/<source-id>/`.
//!
//! Each ingest of a source writes a fresh generation folder, then flips the `CURRENT` pointer
//! file atomically (temp file + rename). A crash at any point leaves the previous generation in
//! force; a rerun writes the source again. Tables keep flat scalar columns for what people query
//! (ids, paths, licenses, counts) and JSON text columns for nested lists, so Polars, DuckDB and
//! pandas all read them without extensions.

pub mod columns;
pub mod exclusions;

pub use exclusions::{read_exclusions, write_exclusions};

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::core::{ChatCounts, Document, LuauAnalysis, Provenance, SkipRecord, Span};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Polars { path: PathBuf, source: PolarsError },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{path}: column `{column}` is malformed ({message}); re-run `vcurate ingest` to rebuild the store")]
    Malformed {
        path: PathBuf,
        column: String,
        message: String,
    },
}

/// What was ingested for a source, when, from what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    pub source_id: String,
    pub kind: String,
    pub url: String,
    pub commit: Option<String>,
    pub manifest_hash: String,
    pub tool_version: String,
    pub documents: u64,
    pub skipped: u64,
    pub parse_failures: u64,
}

/// A license-like file seen in a source tree (LICENSE, COPYING, package manifests, READMEs),
/// kept with its text so the license audit can decide without re-reading the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceFile {
    pub source_id: String,
    pub path: String,
    pub blob_id: Option<String>,
    pub text: String,
}

/// Everything one ingest of a source produced.
#[derive(Debug, Clone, Default)]
pub struct SourceTables {
    pub documents: Vec<Document>,
    pub skipped: Vec<SkipRecord>,
    pub evidence: Vec<EvidenceFile>,
}

const CURRENT: &str = "CURRENT";

/// The folder holding a source's current generation, if any.
pub fn current_dir(store: &Path, source_id: &str) -> Option<PathBuf> {
    let dir = store.join(source_id);
    let name = fs_err::read_to_string(dir.join(CURRENT)).ok()?;
    let gen = dir.join(name.trim());
    gen.join("state.json").is_file().then_some(gen)
}

/// The state of a source's current generation.
pub fn read_state(store: &Path, source_id: &str) -> Option<SourceState> {
    let gen = current_dir(store, source_id)?;
    serde_json::from_slice(&fs_err::read(gen.join("state.json")).ok()?).ok()
}

/// Writes a new generation for a source and makes it current.
pub fn write_source(
    store: &Path,
    state: &SourceState,
    tables: &SourceTables,
) -> Result<(), StoreError> {
    let mut w = SourceWriter::new(store, &state.source_id)?;
    w.write_documents(&tables.documents)?;
    w.finish(state, &tables.skipped, &tables.evidence)
}

/// Writes a source's new generation with its documents streamed in as they are made (a row
/// group of [`DOCUMENT_ROW_GROUP`] documents at a time, so a source of any size needs memory
/// for one row group), then its other tables and state, then flips `CURRENT`. Dropped before
/// [`SourceWriter::finish`] (an ingest that failed), it leaves the previous generation in
/// force; the next write removes the unfinished one.
pub struct SourceWriter {
    dir: PathBuf,
    gen_name: String,
    path: PathBuf,
    writer: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
    buffer: Vec<Document>,
    /// Documents, bytes and Luau files that do not parse, written so far.
    pub documents: u64,
    pub bytes: u64,
    pub parse_failures: u64,
}

impl SourceWriter {
    pub fn new(store: &Path, source_id: &str) -> Result<SourceWriter, StoreError> {
        let dir = store.join(source_id);
        let gen_name = format!(
            "g{}-{}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            std::process::id()
        );
        let gen = dir.join(&gen_name);
        fs_err::create_dir_all(&gen)?;
        Ok(SourceWriter {
            path: gen.join("documents.parquet"),
            dir,
            gen_name,
            writer: None,
            buffer: Vec::new(),
            documents: 0,
            bytes: 0,
            parse_failures: 0,
        })
    }

    /// Appends documents (in order).
    pub fn write_documents(&mut self, docs: &[Document]) -> Result<(), StoreError> {
        for d in docs {
            self.documents += 1;
            self.bytes += d.bytes;
            self.parse_failures += d.luau.as_ref().is_some_and(|l| !l.parse_ok) as u64;
        }
        self.buffer.extend_from_slice(docs);
        while self.buffer.len() >= DOCUMENT_ROW_GROUP {
            let rest = self.buffer.split_off(DOCUMENT_ROW_GROUP);
            let group = std::mem::replace(&mut self.buffer, rest);
            self.write_group(&group)?;
        }
        Ok(())
    }

    /// Small row groups let the sharded audits read a source back in batches of rows
    /// (`read_rows`) without decoding the whole text column.
    fn write_group(&mut self, docs: &[Document]) -> Result<(), StoreError> {
        let polars_err = |source| StoreError::Polars {
            path: self.path.clone(),
            source,
        };
        let df = documents_frame(docs).map_err(polars_err)?;
        if self.writer.is_none() {
            let file = fs_err::File::create(&self.path)?.into_parts().0;
            self.writer = Some(
                ParquetWriter::new(file)
                    .batched(df.schema())
                    .map_err(polars_err)?,
            );
        }
        let w = self.writer.as_mut().expect("set");
        w.write_batch(&df).map_err(polars_err)
    }

    /// Writes the rest of the documents, the skipped and evidence tables and the state, and
    /// makes this generation the source's current one.
    pub fn finish(
        mut self,
        state: &SourceState,
        skipped: &[SkipRecord],
        evidence: &[EvidenceFile],
    ) -> Result<(), StoreError> {
        let rest = std::mem::take(&mut self.buffer);
        if !rest.is_empty() || self.writer.is_none() {
            self.write_group(&rest)?;
        }
        let w = self.writer.take().expect("written");
        w.finish().map_err(|source| StoreError::Polars {
            path: self.path.clone(),
            source,
        })?;
        let file = fs_err::OpenOptions::new().write(true).open(&self.path)?;
        file.sync_all()?;
        crate::core::fs::publish_mode(file.file())?;
        let gen = self.dir.join(&self.gen_name);
        write_parquet(&gen.join("skipped.parquet"), skipped_frame(skipped))?;
        write_parquet(&gen.join("evidence.parquet"), evidence_frame(evidence))?;
        crate::core::fs::write_atomic(
            &gen.join("state.json"),
            &serde_json::to_vec_pretty(state).expect("state serializes"),
        )?;
        crate::core::fs::write_atomic(&self.dir.join(CURRENT), self.gen_name.as_bytes())?;
        // Older generations (and any left by a crash) are no longer reachable.
        for entry in fs_err::read_dir(&self.dir)?.flatten() {
            let p = entry.path();
            if p.is_dir() && p.file_name().is_some_and(|n| n != self.gen_name.as_str()) {
                let _ = fs_err::remove_dir_all(&p);
            }
        }
        Ok(())
    }
}

/// Removes a source from the store.
pub fn remove_source(store: &Path, source_id: &str) -> std::io::Result<()> {
    match fs_err::remove_dir_all(store.join(source_id)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Ids of the sources that have a current generation.
pub fn stored_sources(store: &Path) -> Vec<String> {
    let mut ids: Vec<String> = fs_err::read_dir(store)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    ids.retain(|id| current_dir(store, id).is_some());
    ids.sort();
    ids
}

/// Paths of one table (`documents`, `skipped`, `evidence`) for every stored source.
pub fn table_paths(store: &Path, table: &str) -> Vec<PathBuf> {
    stored_sources(store)
        .iter()
        .filter_map(|id| current_dir(store, id))
        .map(|g| g.join(format!("{table}.parquet")))
        .collect()
}

/// Rows per row group of a documents table.
pub const DOCUMENT_ROW_GROUP: usize = 2048;

/// The number of rows of a Parquet table (from its footer; reads no data).
pub fn parquet_rows(path: &Path) -> Result<usize, StoreError> {
    let file = fs_err::File::open(path)?;
    ParquetReader::new(file.into_parts().0)
        .num_rows()
        .map_err(|source| StoreError::Polars {
            path: path.to_path_buf(),
            source,
        })
}

/// Rows `offset..offset + len` of a Parquet table, only `columns`: only the row groups that
/// hold those rows are decoded, so a stage can stream a large table in batches.
pub fn read_rows(
    path: &Path,
    columns: &[&str],
    offset: usize,
    len: usize,
) -> Result<DataFrame, StoreError> {
    let file = fs_err::File::open(path)?;
    ParquetReader::new(file.into_parts().0)
        .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
        .with_slice(Some((offset, len)))
        .finish()
        .map_err(|source| StoreError::Polars {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes a table to Parquet atomically (temp file + rename), creating its folder.
pub fn write_parquet(path: &Path, df: PolarsResult<DataFrame>) -> Result<(), StoreError> {
    write_parquet_with(path, df, None)
}

/// [`write_parquet`] with a row-group size (rows; Polars' default when `None`).
pub fn write_parquet_with(
    path: &Path,
    df: PolarsResult<DataFrame>,
    row_group: Option<usize>,
) -> Result<(), StoreError> {
    let polars_err = |source| StoreError::Polars {
        path: path.to_path_buf(),
        source,
    };
    let mut df = df.map_err(polars_err)?;
    let dir = path.parent().expect("a table path has a folder");
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    ParquetWriter::new(tmp.as_file_mut())
        .with_row_group_size(row_group)
        .finish(&mut df)
        .map_err(polars_err)?;
    crate::core::fs::publish_mode(tmp.as_file())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads a Parquet table.
pub fn read_parquet(path: &Path) -> Result<DataFrame, StoreError> {
    let file = fs_err::File::open(path)?;
    ParquetReader::new(file.into_parts().0)
        .finish()
        .map_err(|source| StoreError::Polars {
            path: path.to_path_buf(),
            source,
        })
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("record serializes")
}

fn s(name: &str, v: Vec<Option<String>>) -> Column {
    Column::new(name.into(), v)
}

pub(crate) fn documents_frame(docs: &[Document]) -> PolarsResult<DataFrame> {
    let p = |f: fn(&Provenance) -> Option<String>| {
        docs.iter().map(|d| f(&d.provenance)).collect::<Vec<_>>()
    };
    let span = |f: fn(&Span) -> u64| {
        docs.iter()
            .map(|d| d.provenance.span.as_ref().map(f))
            .collect::<Vec<Option<u64>>>()
    };
    let luau = |f: fn(&LuauAnalysis) -> u32| {
        docs.iter()
            .map(|d| d.luau.as_ref().map(f))
            .collect::<Vec<Option<u32>>>()
    };
    let chat = |name: &str, f: fn(&ChatCounts) -> u32| {
        Column::new(
            name.into(),
            docs.iter()
                .map(|d| d.chat.as_ref().map(f))
                .collect::<Vec<Option<u32>>>(),
        )
    };
    let cols = vec![
        s("id", docs.iter().map(|d| Some(d.id.clone())).collect()),
        s("source_id", p(|p| Some(p.source_id.clone()))),
        s("source_kind", p(|p| Some(p.source_kind.as_str().into()))),
        s("url", p(|p| Some(p.url.clone()))),
        s("commit", p(|p| p.commit.clone())),
        s("path", p(|p| Some(p.path.clone()))),
        s("blob_id", p(|p| p.blob_id.clone())),
        s("unit_kind", p(|p| Some(p.unit_kind.as_str().into()))),
        s("unit_name", p(|p| p.unit_name.clone())),
        s("origin", p(|p| p.origin.clone())),
        Column::new("byte_start".into(), span(|s| s.byte_start)),
        Column::new("byte_end".into(), span(|s| s.byte_end)),
        Column::new("line_start".into(), span(|s| s.line_start as u64)),
        Column::new("line_end".into(), span(|s| s.line_end as u64)),
        s("rights_basis", p(|p| Some(p.rights_basis.as_str().into()))),
        s("prose_license", p(|p| p.prose_license.clone())),
        s("code_license", p(|p| p.code_license.clone())),
        s("attribution", p(|p| p.attribution.as_ref().map(json))),
        s(
            "license_candidates",
            p(|p| Some(json(&p.license_candidates))),
        ),
        s("ingest_time", p(|p| Some(p.ingest_time.clone()))),
        s("tool_version", p(|p| Some(p.tool_version.clone()))),
        s("steps", p(|p| Some(json(&p.steps)))),
        s("text", docs.iter().map(|d| Some(d.text.clone())).collect()),
        s(
            "sha256",
            docs.iter().map(|d| Some(d.sha256.clone())).collect(),
        ),
        Column::new(
            "bytes".into(),
            docs.iter().map(|d| d.bytes).collect::<Vec<u64>>(),
        ),
        s(
            "line_endings",
            docs.iter()
                .map(|d| Some(json(&d.line_endings).trim_matches('"').to_string()))
                .collect(),
        ),
        Column::new(
            "parse_ok".into(),
            docs.iter()
                .map(|d| d.luau.as_ref().map(|l| l.parse_ok))
                .collect::<Vec<Option<bool>>>(),
        ),
        Column::new("code_lines".into(), luau(|l| l.code_lines)),
        Column::new("comment_lines".into(), luau(|l| l.comment_lines)),
        Column::new("blank_lines".into(), luau(|l| l.blank_lines)),
        s(
            "luau",
            docs.iter().map(|d| d.luau.as_ref().map(json)).collect(),
        ),
        s(
            "code_blocks",
            docs.iter().map(|d| Some(json(&d.code_blocks))).collect(),
        ),
        chat("chat_turns", |c| c.turns),
        chat("chat_assistant_turns", |c| c.assistant_turns),
        chat("chat_tool_calls", |c| c.tool_calls),
        chat("chat_tool_results", |c| c.tool_results),
        chat("chat_tools", |c| c.tools),
    ];
    DataFrame::new(docs.len(), cols)
}

fn skipped_frame(rows: &[SkipRecord]) -> PolarsResult<DataFrame> {
    let cols = vec![
        s(
            "source_id",
            rows.iter().map(|r| Some(r.source_id.clone())).collect(),
        ),
        s("path", rows.iter().map(|r| Some(r.path.clone())).collect()),
        s(
            "reason",
            rows.iter()
                .map(|r| Some(r.reason.as_str().into()))
                .collect(),
        ),
        s(
            "detail",
            rows.iter().map(|r| Some(r.detail.clone())).collect(),
        ),
        s("blob_id", rows.iter().map(|r| r.blob_id.clone()).collect()),
        Column::new(
            "bytes".into(),
            rows.iter().map(|r| r.bytes).collect::<Vec<Option<u64>>>(),
        ),
    ];
    DataFrame::new(rows.len(), cols)
}

fn evidence_frame(rows: &[EvidenceFile]) -> PolarsResult<DataFrame> {
    let cols = vec![
        s(
            "source_id",
            rows.iter().map(|r| Some(r.source_id.clone())).collect(),
        ),
        s("path", rows.iter().map(|r| Some(r.path.clone())).collect()),
        s("blob_id", rows.iter().map(|r| r.blob_id.clone()).collect()),
        s("text", rows.iter().map(|r| Some(r.text.clone())).collect()),
    ];
    DataFrame::new(rows.len(), cols)
}

/// Typed access to the columns of a table read back from Parquet.
struct Cols<'a> {
    df: &'a DataFrame,
    path: &'a Path,
}

impl<'a> Cols<'a> {
    fn bad(&self, column: &str, message: impl ToString) -> StoreError {
        StoreError::Malformed {
            path: self.path.to_path_buf(),
            column: column.into(),
            message: message.to_string(),
        }
    }
    fn str(&self, name: &str) -> Result<Vec<Option<String>>, StoreError> {
        let c = self.df.column(name).map_err(|e| self.bad(name, e))?;
        let ca = c.str().map_err(|e| self.bad(name, e))?;
        Ok(ca.iter().map(|v| v.map(String::from)).collect())
    }
    fn req_str(&self, name: &str) -> Result<Vec<String>, StoreError> {
        self.str(name)?
            .into_iter()
            .map(|v| v.ok_or_else(|| self.bad(name, "null value")))
            .collect()
    }
    fn u64(&self, name: &str) -> Result<Vec<Option<u64>>, StoreError> {
        let c = self.df.column(name).map_err(|e| self.bad(name, e))?;
        let c = c.cast(&DataType::UInt64).map_err(|e| self.bad(name, e))?;
        Ok(c.u64().map_err(|e| self.bad(name, e))?.iter().collect())
    }
    /// A column that tables written before it existed lack: all null then.
    fn optional_u64(&self, name: &str) -> Result<Vec<Option<u64>>, StoreError> {
        match self.df.column(name) {
            Ok(_) => self.u64(name),
            Err(_) => Ok(vec![None; self.df.height()]),
        }
    }
    fn json<T: DeserializeOwned>(&self, name: &str) -> Result<Vec<Option<T>>, StoreError> {
        self.str(name)?
            .into_iter()
            .map(|v| {
                v.map(|s| serde_json::from_str(&s).map_err(|e| self.bad(name, e)))
                    .transpose()
            })
            .collect()
    }
    fn enum_col<T: DeserializeOwned>(&self, name: &str) -> Result<Vec<T>, StoreError> {
        self.req_str(name)?
            .into_iter()
            .map(|v| {
                serde_json::from_value(serde_json::Value::String(v)).map_err(|e| self.bad(name, e))
            })
            .collect()
    }
}

/// Reads a documents table back into records.
pub fn read_documents(path: &Path) -> Result<Vec<Document>, StoreError> {
    documents_from_frame(&read_parquet(path)?, path)
}

/// Rows `offset..offset + len` of a documents table as records (only the row groups holding
/// them are decoded): how the per-document audits stream a source in batches.
pub fn read_document_rows(
    path: &Path,
    offset: usize,
    len: usize,
) -> Result<Vec<Document>, StoreError> {
    let file = fs_err::File::open(path)?;
    let df = ParquetReader::new(file.into_parts().0)
        .with_slice(Some((offset, len)))
        .finish()
        .map_err(|source| StoreError::Polars {
            path: path.to_path_buf(),
            source,
        })?;
    documents_from_frame(&df, path)
}

/// The records of a documents frame read from `path` (named in errors).
fn documents_from_frame(df: &DataFrame, path: &Path) -> Result<Vec<Document>, StoreError> {
    let c = Cols { df, path };
    let (ids, source_ids, kinds, urls, commits) = (
        c.req_str("id")?,
        c.req_str("source_id")?,
        c.enum_col("source_kind")?,
        c.req_str("url")?,
        c.str("commit")?,
    );
    let (paths, blobs, units, names, origins) = (
        c.req_str("path")?,
        c.str("blob_id")?,
        c.enum_col("unit_kind")?,
        c.str("unit_name")?,
        c.str("origin")?,
    );
    let (bs, be, ls, le) = (
        c.u64("byte_start")?,
        c.u64("byte_end")?,
        c.u64("line_start")?,
        c.u64("line_end")?,
    );
    let (rights, prose, code) = (
        c.enum_col("rights_basis")?,
        c.str("prose_license")?,
        c.str("code_license")?,
    );
    let (attr, cands, times, versions, steps) = (
        c.json("attribution")?,
        c.json("license_candidates")?,
        c.req_str("ingest_time")?,
        c.req_str("tool_version")?,
        c.json("steps")?,
    );
    let (texts, shas, bytes, endings, luau, blocks) = (
        c.req_str("text")?,
        c.req_str("sha256")?,
        c.u64("bytes")?,
        c.enum_col("line_endings")?,
        c.json("luau")?,
        c.json("code_blocks")?,
    );
    let chat: Vec<Vec<Option<u64>>> = [
        "chat_turns",
        "chat_assistant_turns",
        "chat_tool_calls",
        "chat_tool_results",
        "chat_tools",
    ]
    .into_iter()
    .map(|name| c.optional_u64(name))
    .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let n = |k: usize| chat[k][i].map(|v| v as u32);
        let chat = n(0).map(|turns| ChatCounts {
            turns,
            assistant_turns: n(1).unwrap_or(0),
            tool_calls: n(2).unwrap_or(0),
            tool_results: n(3).unwrap_or(0),
            tools: n(4).unwrap_or(0),
        });
        let span = match (bs[i], be[i], ls[i], le[i]) {
            (Some(a), Some(b), Some(c), Some(d)) => Some(Span {
                byte_start: a,
                byte_end: b,
                line_start: c as u32,
                line_end: d as u32,
            }),
            _ => None,
        };
        out.push(Document {
            id: ids[i].clone(),
            provenance: Provenance {
                source_id: source_ids[i].clone(),
                source_kind: kinds[i],
                url: urls[i].clone(),
                commit: commits[i].clone(),
                path: paths[i].clone(),
                blob_id: blobs[i].clone(),
                span,
                unit_kind: units[i],
                unit_name: names[i].clone(),
                origin: origins[i].clone(),
                rights_basis: rights[i],
                license_candidates: cands[i].clone().unwrap_or_default(),
                prose_license: prose[i].clone(),
                code_license: code[i].clone(),
                attribution: attr[i].clone(),
                ingest_time: times[i].clone(),
                tool_version: versions[i].clone(),
                steps: steps[i].clone().unwrap_or_default(),
            },
            text: texts[i].clone(),
            sha256: shas[i].clone(),
            bytes: bytes[i].unwrap_or_default(),
            line_endings: endings[i],
            luau: luau[i].clone(),
            code_blocks: blocks[i].clone().unwrap_or_default(),
            chat,
        });
    }
    Ok(out)
}

/// Reads a skipped table back into records.
pub fn read_skipped(path: &Path) -> Result<Vec<SkipRecord>, StoreError> {
    let df = read_parquet(path)?;
    let c = Cols { df: &df, path };
    let (ids, paths, reasons, details, blobs, bytes) = (
        c.req_str("source_id")?,
        c.req_str("path")?,
        c.enum_col("reason")?,
        c.req_str("detail")?,
        c.str("blob_id")?,
        c.u64("bytes")?,
    );
    Ok((0..df.height())
        .map(|i| SkipRecord {
            source_id: ids[i].clone(),
            path: paths[i].clone(),
            reason: reasons[i],
            detail: details[i].clone(),
            blob_id: blobs[i].clone(),
            bytes: bytes[i],
        })
        .collect())
}

/// Reads an evidence table back into records.
pub fn read_evidence(path: &Path) -> Result<Vec<EvidenceFile>, StoreError> {
    let df = read_parquet(path)?;
    let c = Cols { df: &df, path };
    let (ids, paths, blobs, texts) = (
        c.req_str("source_id")?,
        c.req_str("path")?,
        c.str("blob_id")?,
        c.req_str("text")?,
    );
    Ok((0..df.height())
        .map(|i| EvidenceFile {
            source_id: ids[i].clone(),
            path: paths[i].clone(),
            blob_id: blobs[i].clone(),
            text: texts[i].clone(),
        })
        .collect())
}

/// All license evidence files of all stored sources.
pub fn all_evidence(store: &Path) -> Result<Vec<EvidenceFile>, StoreError> {
    let mut out = Vec::new();
    for p in table_paths(store, "evidence") {
        out.extend(read_evidence(&p)?);
    }
    Ok(out)
}

/// All current documents of all stored sources, in source-id order.
pub fn all_documents(store: &Path) -> Result<Vec<Document>, StoreError> {
    let mut out = Vec::new();
    for p in table_paths(store, "documents") {
        out.extend(read_documents(&p)?);
    }
    Ok(out)
}
