//! The provenance record every document carries, and the skip record every path that did not
//! become a document carries. These types are the contract between stages; their JSON Schemas
//! in `schemas/` are generated from them (see `schema.rs`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which ingester produced a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Git,
    Docs,
    Local,
    Jsonl,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Git => "git",
            SourceKind::Docs => "docs",
            SourceKind::Local => "local",
            SourceKind::Jsonl => "jsonl",
        }
    }
}

/// On what basis we may use a source's material at all (license evidence is separate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RightsBasis {
    OpenSource,
    OwnCodebase,
    Permissioned,
    Generated,
    PublicDomain,
}

impl RightsBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            RightsBasis::OpenSource => "open_source",
            RightsBasis::OwnCodebase => "own_codebase",
            RightsBasis::Permissioned => "permissioned",
            RightsBasis::Generated => "generated",
            RightsBasis::PublicDomain => "public_domain",
        }
    }
}

/// The kind of unit a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A whole file (Luau source, Markdown, ...).
    File,
    /// One heading-delimited section of a Markdown page.
    DocSection,
    /// The summary/description of an engine API reference page (class, enum, datatype, ...).
    ApiPage,
    /// One member (property, method, event, callback, enum item, ...) of an API reference page.
    ApiMember,
    /// One row of an imported chat/completions dataset.
    ChatExample,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::File => "file",
            UnitKind::DocSection => "doc_section",
            UnitKind::ApiPage => "api_page",
            UnitKind::ApiMember => "api_member",
            UnitKind::ChatExample => "chat_example",
        }
    }
}

/// A byte and line span inside a file's analysis text (UTF-8, LF line endings; see
/// `LineEndings` for what was normalized). Bytes are end-exclusive offsets; lines are 1-based
/// and inclusive, and equal the original file's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Span {
    pub byte_start: u64,
    pub byte_end: u64,
    pub line_start: u32,
    pub line_end: u32,
}

/// Where a piece of license evidence was seen at ingest. The license audit decides what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    /// A LICENSE/LICENCE/COPYING file at the repo root or in an ancestor folder of the document.
    LicenseFile,
    /// An `SPDX-License-Identifier:` line in the document itself.
    SpdxTag,
    /// A license header comment in the first lines of the document.
    Header,
    /// A package manifest (wally.toml, package.json, Cargo.toml, rotriever.toml, pesde.toml).
    PackageManifest,
    /// A README statement (weak evidence).
    Readme,
    /// Declared by the source manifest (`prose-license`, `code-license`, `expected-license`).
    Declared,
    /// Declared by a field of an imported dataset row.
    Row,
}

/// One license candidate found at ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LicenseCandidate {
    pub kind: CandidateKind,
    /// Path of the file the evidence is in, relative to the source root ("" for declarations).
    pub path: String,
    /// 1-based line of the evidence, where it has one.
    pub line: Option<u32>,
    /// The evidence: an SPDX-ish string for tags/manifests/declarations, or the blob id of a
    /// license file (its text is kept in the source's license-file table).
    pub value: String,
}

/// The attribution line a license such as CC-BY-4.0 requires, stored per document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attribution {
    pub title: String,
    pub url: String,
    pub license: String,
    pub author: Option<String>,
}

impl Attribution {
    /// The human-readable line used in NOTICE files and dataset cards.
    pub fn line(&self) -> String {
        match &self.author {
            Some(a) => format!(
                "\"{}\" by {}, {}, licensed under {}",
                self.title, a, self.url, self.license
            ),
            None => format!(
                "\"{}\", {}, licensed under {}",
                self.title, self.url, self.license
            ),
        }
    }
}

/// A Luau parse error position (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ParseError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// A top-level function of a Luau unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionSpan {
    /// The name as written: `foo`, `M.foo`, `M:bar`.
    pub name: String,
    /// `local`, `global`, `method` or `assigned` (`local f = function`).
    pub kind: String,
    pub line_start: u32,
    pub line_end: u32,
}

/// What ingest learned about a unit of Luau code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LuauAnalysis {
    pub parse_ok: bool,
    pub error: Option<ParseError>,
    pub code_lines: u32,
    pub comment_lines: u32,
    pub blank_lines: u32,
    pub functions: Vec<FunctionSpan>,
    /// Which parser produced `functions`: "full_moon", or "tree-sitter" when full_moon failed
    /// and the error-tolerant parser recovered what it could.
    pub functions_from: String,
}

/// A fenced code block inside a docs unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CodeBlock {
    /// The info-string tag as written (`lua`, `Lua`, `luau`, ...), if any.
    pub lang: Option<String>,
    /// Tagged lua/luau (any case), or untagged and parses as Luau.
    pub is_luau: bool,
    /// Span of the code (inside the fences) in the original file.
    pub span: Span,
    /// Non-blank, non-comment Luau lines (0 when not Luau).
    pub code_lines: u32,
}

/// How the original bytes ended their lines. Analysis text is always LF; this says what was
/// normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineEndings {
    Lf,
    Crlf,
    Mixed,
    None,
}

/// Where a document came from and what has been done to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Provenance {
    pub source_id: String,
    pub source_kind: SourceKind,
    /// The URL as declared in the manifest (never a rewritten mirror), or the local path.
    pub url: String,
    /// The commit the unit was read at (git and docs sources).
    pub commit: Option<String>,
    /// Path relative to the source root (for jsonl: the file, and `line_number` in `unit_name`).
    pub path: String,
    /// Git blob id of the file the unit was read from.
    pub blob_id: Option<String>,
    /// Span of the unit inside the file; None for whole files.
    pub span: Option<Span>,
    pub unit_kind: UnitKind,
    /// Heading, API member name, or row number.
    pub unit_name: Option<String>,
    /// For imported dataset rows: the row's own declared origin (mapped `source` field).
    pub origin: Option<String>,
    pub rights_basis: RightsBasis,
    /// License evidence found at ingest. Not a verdict: the license audit decides.
    pub license_candidates: Vec<LicenseCandidate>,
    /// Declared license of prose (docs sources).
    pub prose_license: Option<String>,
    /// Declared license of code (docs sources).
    pub code_license: Option<String>,
    pub attribution: Option<Attribution>,
    /// RFC 3339; `SOURCE_DATE_EPOCH` pins it for reproducible runs.
    pub ingest_time: String,
    pub tool_version: String,
    /// Steps applied so far, in order (e.g. `ingest`, `normalize_crlf`).
    pub steps: Vec<String>,
}

/// One ingested unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Document {
    pub id: String,
    pub provenance: Provenance,
    /// Analysis text: UTF-8 with LF line endings.
    pub text: String,
    /// sha256 of the original bytes of a whole file; for units inside a file (sections, API
    /// members, rows), of the unit's text.
    pub sha256: String,
    /// Length of the original bytes of the unit.
    pub bytes: u64,
    pub line_endings: LineEndings,
    /// Present for Luau files.
    pub luau: Option<LuauAnalysis>,
    /// Fenced code blocks (docs units).
    pub code_blocks: Vec<CodeBlock>,
    /// Imported chat rows: how many turns, assistant turns, tool calls, tool results and tools
    /// the conversation has (a completions row is one user and one assistant turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<super::ChatCounts>,
}

/// Why a path did not become a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Excluded,
    Binary,
    LfsPointer,
    Submodule,
    Symlink,
    MissingObject,
    NotUtf8,
    TooLarge,
    /// A row of an imported dataset that is not valid JSON or lacks the mapped fields.
    InvalidRow,
    /// A docs file (Markdown or YAML) that could not be read as such.
    InvalidDoc,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Excluded => "excluded",
            SkipReason::Binary => "binary",
            SkipReason::LfsPointer => "lfs_pointer",
            SkipReason::Submodule => "submodule",
            SkipReason::Symlink => "symlink",
            SkipReason::MissingObject => "missing_object",
            SkipReason::NotUtf8 => "not_utf8",
            SkipReason::TooLarge => "too_large",
            SkipReason::InvalidRow => "invalid_row",
            SkipReason::InvalidDoc => "invalid_doc",
        }
    }
}

/// A path (or row) that did not become a document, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkipRecord {
    pub source_id: String,
    pub path: String,
    pub reason: SkipReason,
    /// Human detail: the glob that excluded it, the size, the submodule URL, the row error...
    pub detail: String,
    pub blob_id: Option<String>,
    pub bytes: Option<u64>,
}
