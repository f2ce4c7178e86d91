//! From bytes to documents: the checks every file goes through whatever its source kind
//! (size, LFS pointer, binary, UTF-8), line-ending normalization, and the split of a file into
//! units (a Luau file, a Markdown file, doc sections, API reference members).
//!
//! Normalization is never silent: a file whose line endings or BOM were changed records the
//! step in its provenance and keeps the hash of its original bytes.

use crate::core::{
    document_id, sha256_hex, Attribution, CandidateKind, Document, LicenseCandidate, LineEndings,
    Provenance, SkipReason, SourceKind, Span, UnitKind,
};
use crate::ingest::docs::{self, LuauProbe};
use crate::ingest::manifest::Source;
use crate::luau;

const LFS_MAGIC: &[u8] = b"version https://git-lfs.github.com/spec/v1";

/// A file's bytes turned into analysis text.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// UTF-8, LF line endings, no BOM.
    pub text: String,
    pub line_endings: LineEndings,
    pub sha256: String,
    pub bytes: u64,
    /// Normalization steps applied (`strip_bom`, `normalize_crlf`).
    pub steps: Vec<String>,
}

/// Checks and decodes a file. The error says why it cannot be a document.
pub fn decode(bytes: &[u8], max_bytes: u64) -> Result<Decoded, (SkipReason, String)> {
    let len = bytes.len() as u64;
    if len > max_bytes {
        return Err((SkipReason::TooLarge, format!("{len} bytes is over the limit of {max_bytes} ([ingest] max-file-bytes in vcurate.toml)")));
    }
    if bytes.starts_with(LFS_MAGIC) {
        let oid = std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("oid ").map(String::from))
            })
            .unwrap_or_default();
        return Err((
            SkipReason::LfsPointer,
            format!("Git LFS pointer {oid}; the content is not in the repository"),
        ));
    }
    if let Some(pos) = bytes.iter().take(8000).position(|&b| b == 0) {
        return Err((SkipReason::Binary, format!("NUL byte at offset {pos}")));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        (
            SkipReason::NotUtf8,
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    let mut steps = Vec::new();
    let text = match text.strip_prefix('\u{feff}') {
        Some(t) => {
            steps.push("strip_bom".to_string());
            t
        }
        None => text,
    };
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count();
    let line_endings = match (crlf, lf) {
        (0, 0) => LineEndings::None,
        (0, _) => LineEndings::Lf,
        (c, l) if c == l => LineEndings::Crlf,
        _ => LineEndings::Mixed,
    };
    let text = if crlf > 0 {
        steps.push("normalize_crlf".to_string());
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    };
    Ok(Decoded {
        text,
        line_endings,
        sha256: sha256_hex(bytes),
        bytes: len,
        steps,
    })
}

/// What every document of one source ingest shares.
pub struct UnitContext<'a> {
    pub source: &'a Source,
    /// Declared URL or path.
    pub url: String,
    pub commit: Option<String>,
    pub ingest_time: String,
}

fn is_luau_path(path: &str) -> bool {
    path.ends_with(".lua") || path.ends_with(".luau")
}

fn is_markdown(path: &str) -> bool {
    path.ends_with(".md") || path.ends_with(".markdown") || path.ends_with(".mdx")
}

fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split_once('.').map(|(s, _)| s).unwrap_or(name)
}

/// The probe the docs splitter uses to ask whether code is Luau.
pub fn probe(code: &str) -> LuauProbe {
    LuauProbe {
        parses: luau::parses(code),
        code_lines: luau::code_lines(code),
    }
}

/// Splits a decoded file into documents. `tree_candidates` is the license evidence from the
/// file's folders. Errors are docs files that cannot be read as such.
pub fn file_documents(
    ctx: &UnitContext,
    path: &str,
    blob_id: Option<String>,
    dec: Decoded,
    tree_candidates: Vec<LicenseCandidate>,
) -> Result<Vec<Document>, (SkipReason, String)> {
    let source = ctx.source;
    let mut candidates = tree_candidates;
    candidates.extend(crate::ingest::evidence::in_file_candidates(path, &dec.text));
    let mut steps = vec!["ingest".to_string()];
    steps.extend(dec.steps.iter().cloned());
    let provenance = |unit_kind,
                      unit_name: Option<String>,
                      span: Option<Span>,
                      attribution: Option<Attribution>,
                      cands: Vec<LicenseCandidate>,
                      extra_steps: &[&str]| Provenance {
        source_id: source.id.clone(),
        source_kind: source.kind,
        url: ctx.url.clone(),
        commit: ctx.commit.clone(),
        path: path.to_string(),
        blob_id: blob_id.clone(),
        span,
        unit_kind,
        unit_name,
        origin: None,
        rights_basis: source.rights_basis,
        license_candidates: cands,
        prose_license: source.docs.as_ref().map(|d| d.prose_license.clone()),
        code_license: source.docs.as_ref().map(|d| d.code_license.clone()),
        attribution,
        ingest_time: ctx.ingest_time.clone(),
        tool_version: crate::TOOL_VERSION.to_string(),
        steps: steps
            .iter()
            .cloned()
            .chain(extra_steps.iter().map(|s| s.to_string()))
            .collect(),
    };

    let docs_settings = source
        .docs
        .as_ref()
        .filter(|_| source.kind == SourceKind::Docs);
    let split = match docs_settings {
        Some(_) if is_markdown(path) => {
            Some(docs::split_markdown(&dec.text, file_stem(path), &probe))
        }
        Some(_) if docs::is_api_reference(path) => {
            Some(docs::parse_api_reference(&dec.text, &probe))
        }
        _ => None,
    };
    let Some(split) = split else {
        // A whole file.
        let luau = is_luau_path(path).then(|| luau::analyze(&dec.text));
        let code_blocks = if is_markdown(path) {
            docs::split_markdown(&dec.text, file_stem(path), &probe)
                .map(|units| units.into_iter().flat_map(|u| u.code_blocks).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let id = document_id(&source.id, path, "", &dec.sha256);
        return Ok(vec![Document {
            id,
            provenance: provenance(UnitKind::File, None, None, None, candidates, &[]),
            text: dec.text,
            sha256: dec.sha256,
            bytes: dec.bytes,
            line_endings: dec.line_endings,
            luau,
            code_blocks,
            chat: None,
        }]);
    };
    let units = split.map_err(|e| (SkipReason::InvalidDoc, e.to_string()))?;
    let d = docs_settings.expect("split only for docs sources");
    let rel = path
        .strip_prefix(&d.content_root)
        .map(|p| p.trim_start_matches('/'))
        .unwrap_or(path);
    let page = docs::page_url(&d.site_url, rel);
    let mut declared = vec![
        LicenseCandidate {
            kind: CandidateKind::Declared,
            path: String::new(),
            line: None,
            value: format!("prose: {}", d.prose_license),
        },
        LicenseCandidate {
            kind: CandidateKind::Declared,
            path: String::new(),
            line: None,
            value: format!("code: {}", d.code_license),
        },
    ];
    declared.extend(candidates);
    Ok(units
        .into_iter()
        .map(|u| {
            let has_code = !u.code_blocks.is_empty();
            let license = if has_code {
                format!("{} AND {}", d.prose_license, d.code_license)
            } else {
                d.prose_license.clone()
            };
            let url = match &u.anchor {
                Some(a) => format!("{page}#{a}"),
                None => page.clone(),
            };
            let attribution = Attribution {
                title: u.title.clone(),
                url,
                license,
                author: d.author.clone(),
            };
            // The stored text is the unit's prose as a reader of the page sees it: media out,
            // relative links absolute (`docs::clean_markdown`); the span still points at the
            // Markdown as written.
            let location = docs::PageLocation {
                site_url: &d.site_url,
                path: rel,
            };
            let text = docs::clean_markdown(&u.text, &location);
            let cleaned: &[&str] = if text != u.text {
                &["clean_docs_markup"]
            } else {
                &[]
            };
            let sha = sha256_hex(text.as_bytes());
            let locator = format!(
                "{}:{}-{}",
                u.unit_kind.as_str(),
                u.span.byte_start,
                u.unit_name
            );
            Document {
                id: document_id(&source.id, path, &locator, &sha),
                provenance: provenance(
                    u.unit_kind,
                    Some(u.unit_name),
                    Some(u.span),
                    Some(attribution),
                    declared.clone(),
                    cleaned,
                ),
                bytes: text.len() as u64,
                line_endings: dec.line_endings,
                text,
                sha256: sha,
                luau: None,
                code_blocks: u.code_blocks,
                chat: None,
            }
        })
        .collect())
}

/// Include/exclude globs of a source, matched against paths relative to the source root.
pub struct PathFilter {
    include: globset::GlobSet,
    exclude: Vec<(String, globset::GlobMatcher)>,
    include_text: String,
}

impl PathFilter {
    pub fn new(source: &Source) -> PathFilter {
        let glob = |g: &str| {
            globset::GlobBuilder::new(g)
                .literal_separator(false)
                .build()
                .expect("globs are validated when the manifest is loaded")
        };
        let mut include = globset::GlobSetBuilder::new();
        for g in &source.include {
            include.add(glob(g));
        }
        PathFilter {
            include: include.build().expect("valid globs"),
            exclude: source
                .exclude
                .iter()
                .map(|g| (g.clone(), glob(g).compile_matcher()))
                .collect(),
            include_text: source.include.join(", "),
        }
    }

    /// None when the path is ingested, else the reason it is excluded.
    pub fn excluded(&self, path: &str) -> Option<String> {
        if let Some((g, _)) = self.exclude.iter().find(|(_, m)| m.is_match(path)) {
            return Some(format!("matched exclude `{g}`"));
        }
        (!self.include.is_match(path))
            .then(|| format!("not matched by include [{}]", self.include_text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_checks_in_order() {
        assert_eq!(decode(b"abc", 2).unwrap_err().0, SkipReason::TooLarge);
        assert_eq!(
            decode(
                b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 3\n",
                1000
            )
            .unwrap_err()
            .0,
            SkipReason::LfsPointer
        );
        assert_eq!(
            decode(b"\x89PNG\0\0", 1000).unwrap_err(),
            (SkipReason::Binary, "NUL byte at offset 4".to_string())
        );
        assert_eq!(
            decode(b"ok \xff", 1000).unwrap_err(),
            (SkipReason::NotUtf8, "invalid UTF-8 at byte 3".to_string())
        );
    }

    #[test]
    fn decode_normalizes_visibly() {
        let d = decode(b"a\r\nb\r\n", 100).unwrap();
        assert_eq!(d.text, "a\nb\n");
        assert_eq!(d.line_endings, LineEndings::Crlf);
        assert_eq!(d.steps, vec!["normalize_crlf"]);
        assert_eq!(
            d.sha256,
            sha256_hex(b"a\r\nb\r\n"),
            "the hash is of the original bytes"
        );
        let d = decode("\u{feff}a\r\nb\n".as_bytes(), 100).unwrap();
        assert_eq!(d.line_endings, LineEndings::Mixed);
        assert_eq!(d.steps, vec!["strip_bom", "normalize_crlf"]);
        let d = decode(b"x = 1", 100).unwrap();
        assert_eq!((d.line_endings, d.steps.len()), (LineEndings::None, 0));
    }
}
