//! Local folders (the user's own code): walked in path order, `.git` folders left out, every
//! other path a document or a skip record. There is no commit; blob ids are computed the way
//! git computes them, so the same file has the same blob id here and in a repository.

use std::path::Path;

use crate::core::SkipReason;
use crate::ingest::units::{PathFilter, UnitContext};
use crate::ingest::{
    evidence, manifest::Location, rel_path, skip, FileChunks, IngestError, Pending, Progress,
};
use crate::store::{EvidenceFile, SourceTables};

/// Ingests a local folder: the documents go to `out` as they are made; returns the skipped
/// and evidence tables (small: one row per skipped or license-like file).
pub fn ingest(
    ctx: &UnitContext,
    max: u64,
    out: &mut crate::store::SourceWriter,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<SourceTables, IngestError> {
    let source = ctx.source;
    let Location::Path(base) = &source.location else {
        unreachable!("local sources have a path")
    };
    let root = match &source.subdir {
        Some(s) => base.join(s),
        None => base.clone(),
    };
    let io = |path: &Path, e: std::io::Error| IngestError::Read {
        id: source.id.clone(),
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut files = Vec::new();
    walk(&root, &mut files).map_err(|e| io(&root, e))?;
    progress(Progress::Start {
        id: &source.id,
        files: files.len() as u64,
    });
    let filter = PathFilter::new(source);
    let mut tables = SourceTables::default();
    // License-like files first: every file's candidates need the whole tree's evidence.
    for path in &files {
        let rel = rel_path(&root, path);
        let meta = fs_err::symlink_metadata(path).map_err(|e| io(path, e))?;
        if meta.file_type().is_symlink() || evidence::evidence_kind(&rel).is_none() {
            continue;
        }
        let bytes = fs_err::read(path).map_err(|e| io(path, e))?;
        if let Ok(dec) = crate::ingest::units::decode(&bytes, max) {
            tables.evidence.push(EvidenceFile {
                source_id: source.id.clone(),
                path: rel,
                blob_id: blob_id(&bytes),
                text: dec.text,
            });
        }
    }
    let evidence = tables.evidence.clone();
    let mut chunks = FileChunks::new(ctx, &evidence, max, out, progress);
    for path in files {
        let rel = rel_path(&root, &path);
        let meta = fs_err::symlink_metadata(&path).map_err(|e| io(&path, e))?;
        if meta.file_type().is_symlink() {
            let target = fs_err::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            tables.skipped.push(skip(
                source,
                &rel,
                SkipReason::Symlink,
                format!("symlink to `{target}`"),
                None,
                None,
            ));
            progress(Progress::Advance {
                id: &source.id,
                n: 1,
            });
            continue;
        }
        let is_evidence = evidence::evidence_kind(&rel).is_some();
        let excluded = filter.excluded(&rel);
        if excluded.is_some() && !is_evidence {
            tables.skipped.push(skip(
                source,
                &rel,
                SkipReason::Excluded,
                excluded.unwrap_or_default(),
                None,
                Some(meta.len()),
            ));
            progress(Progress::Advance {
                id: &source.id,
                n: 1,
            });
            continue;
        }
        let bytes = fs_err::read(&path).map_err(|e| io(&path, e))?;
        let blob_id = blob_id(&bytes);
        match excluded {
            Some(why) => {
                tables.skipped.push(skip(
                    source,
                    &rel,
                    SkipReason::Excluded,
                    why,
                    blob_id,
                    Some(bytes.len() as u64),
                ));
                progress(Progress::Advance {
                    id: &source.id,
                    n: 1,
                });
            }
            None => {
                let file = Pending {
                    path: rel,
                    blob_id,
                    bytes,
                };
                chunks.push(file, &mut tables.skipped)?;
            }
        }
    }
    chunks.finish(&mut tables.skipped)?;
    tables.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(tables)
}

/// The file's git blob id.
fn blob_id(bytes: &[u8]) -> Option<String> {
    git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
        .ok()
        .map(|o| o.to_string())
}

/// All paths below `dir` except `.git`, sorted.
fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs_err::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            if e.file_name() != ".git" {
                walk(&path, out)?;
            }
        } else {
            out.push(path);
        }
    }
    Ok(())
}
