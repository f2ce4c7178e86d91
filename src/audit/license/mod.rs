//! The license audit: one verdict per document, an SPDX expression with the evidence it rests
//! on, a confidence, and every conflict found on the way.
//!
//! Evidence and its weight, strongest first:
//! - in the file itself: `SPDX-License-Identifier` tags, then a license header comment (read by
//!   text matching when long, by name otherwise);
//! - the nearest folder (the file's own or its closest ancestor) holding a license file or a
//!   package manifest: vendored folders (`Packages/_Index/...`, `vendor/`) get their own;
//!   license texts are matched against the SPDX list with a score, and a text below the
//!   threshold is `LicenseRef-unknown` even when it starts like MIT;
//! - a README statement, used only when nothing else says anything; such a verdict is marked
//!   `weak_evidence`, and each policy profile caps it (`weak-evidence`: the default `publish`
//!   sends it to review, a redistributable profile never takes it as `allow`);
//! - for docs sources, the declared prose and code licenses (kept apart; a unit with code
//!   carries both); for imported rows, the row's own field, then the source default.
//!
//! Fixture folders (a path segment named `test-projects`, `fixtures`, `__fixtures__`,
//! `testdata`, `test-data`, `tests`, `test`, `__tests__`, `spec`, `specs`, `examples`, ...:
//! see `ingest::evidence::fixture_root`) hold test and example data, not packages of their own.
//! Their manifests and READMEs never set any file's license: they stay in the evidence, marked
//! `fixture` and `ignored` with the reason, and the files below them inherit the nearest
//! non-fixture license (wally's `test-projects/*/wally.toml` say `MIT` inside the MPL-2.0 tool;
//! its fixtures are MPL-2.0). A license *text* in a fixture folder may be a vendored library's
//! real license, so it can only make the verdict more restrictive (reported as a conflict),
//! never relax the license around it or stand alone. An installed package (`Packages/_Index/`,
//! `node_modules/`, `vendor/`) is no fixture, wherever it sits, and keeps its own license.
//!
//! "All rights reserved" beside a grant ("Copyright (c) Roblox Corporation. All rights
//! reserved. Licensed under the MIT License") is part of the copyright line, which the verdict
//! records in `copyright`; the license is the grant. With no grant it reads as
//! `LicenseRef-proprietary`.
//!
//! When strong pieces disagree (a GPL header in an MIT repository) the more restrictive
//! reading wins and the disagreement is reported. A source's `expected-license` is compared with
//! the verdict and a mismatch reported; it is never used as evidence.
//!
//! This module never reads the source trees: everything comes from the documents' candidates and
//! the evidence table ingest kept. It never drops a document either; the policy gate decides.
//!
//! Split in two: [`recognize`] reads one piece of evidence (a license text against the SPDX
//! list, a license statement, a manifest field, a README, a header comment, an SPDX tag);
//! [`verdict`] weighs a document's pieces into its verdict. The `license` audit job
//! (`audit/jobs/license.rs`) judges the verdicts with the policy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::audit::license_expr::{
    normalize, permissiveness, NOASSERTION, PROPRIETARY, PUBLIC_DOMAIN, UNKNOWN,
};

pub mod recognize;
pub mod table;
pub mod verdict;

pub use crate::workspace::settings::LicenseConfig;
pub use recognize::{license_body, match_text, TextMatch};
pub use verdict::{detect, detect_with, prepare, root_licenses, Prepared};

/// Whether a verdict can be acted on or needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Resolved,
    Unresolved,
}

/// What a piece of evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A license file whose full text was matched against the SPDX list.
    LicenseText,
    /// A short license file that names a license instead of containing one.
    LicenseStatement,
    /// An `SPDX-License-Identifier:` tag in the document.
    SpdxTag,
    /// A license header comment at the top of the document.
    Header,
    /// The `license` field of a package manifest.
    Manifest,
    /// A README statement (weak).
    Readme,
    /// The source's declared license for prose (docs).
    DeclaredProse,
    /// The source's declared license for code samples (docs).
    DeclaredCode,
    /// A source-level default (jsonl `license`).
    Declared,
    /// A license field of an imported row.
    Row,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::LicenseText => "license_text",
            EvidenceKind::LicenseStatement => "license_statement",
            EvidenceKind::SpdxTag => "spdx_tag",
            EvidenceKind::Header => "header",
            EvidenceKind::Manifest => "manifest",
            EvidenceKind::Readme => "readme",
            EvidenceKind::DeclaredProse => "declared_prose",
            EvidenceKind::DeclaredCode => "declared_code",
            EvidenceKind::Declared => "declared",
            EvidenceKind::Row => "row",
        }
    }
}

/// One piece of evidence and what it reads as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// Path relative to the source root ("" for declarations).
    pub path: String,
    pub line: Option<u32>,
    /// What was seen: the declared string, the matched license and how it matched, or the
    /// statement.
    pub matched: String,
    /// Match score or confidence of this piece (0..1).
    pub score: f64,
    /// The SPDX expression this piece reads as; None when it names no license.
    pub license: Option<String>,
    /// Inside a fixture folder (test projects, test data, examples): a manifest or README
    /// there sets no license, a license text there only ever makes the verdict more
    /// restrictive.
    pub fixture: bool,
    /// Whether this piece decided the verdict (false: seen, outranked or only corroborating).
    pub used: bool,
    /// Why this piece was set aside without deciding anything (a fixture's manifest, a
    /// fixture's license text that would relax the license around it); absent when weighed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

/// The license audit's verdict on one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LicenseVerdict {
    /// Document id.
    pub id: String,
    pub source_id: String,
    pub path: String,
    /// SPDX expression, `LicenseRef-unknown` (text found, no match) or `NOASSERTION` (nothing).
    pub spdx: String,
    pub confidence: f64,
    /// Docs units: the license of the prose part.
    pub prose_license: Option<String>,
    /// Docs units with code samples: the license of the code part.
    pub code_license: Option<String>,
    pub evidence: Vec<Evidence>,
    /// Disagreements between pieces of evidence, and with the source's expected license.
    pub conflicts: Vec<String>,
    /// Normalizations made and strings that could not be read.
    pub notes: Vec<String>,
    /// Copyright lines from the file's header or its license file ("All rights reserved"
    /// beside a grant is part of the copyright line, not a license).
    pub copyright: Vec<String>,
    /// The verdict rests only on weak evidence (a README statement): each profile's
    /// `weak-evidence` class caps it, and redistributable profiles never take it as `allow`.
    #[serde(default)]
    pub weak_evidence: bool,
    pub status: Status,
}

impl LicenseVerdict {
    /// A verdict with no evidence yet: `spdx`, unresolved, confidence 0.
    pub fn empty(id: &str, source_id: &str, path: &str, spdx: &str) -> LicenseVerdict {
        LicenseVerdict {
            id: id.to_string(),
            source_id: source_id.to_string(),
            path: path.to_string(),
            spdx: spdx.to_string(),
            confidence: 0.0,
            prose_license: None,
            code_license: None,
            evidence: Vec::new(),
            conflicts: Vec::new(),
            notes: Vec::new(),
            copyright: Vec::new(),
            weak_evidence: false,
            status: Status::Unresolved,
        }
    }

    pub fn is_resolved(&self) -> bool {
        self.status == Status::Resolved
    }
}

/// The license stated at the root of a source (its top-level license files and manifests, never
/// fixture evidence): what the SPDX package declares and what summaries show per source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RootLicense {
    pub source_id: String,
    pub spdx: String,
    pub confidence: f64,
    pub paths: Vec<String>,
    pub conflicts: Vec<String>,
}

#[cfg(test)]
mod tests;
