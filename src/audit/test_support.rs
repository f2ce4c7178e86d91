//! Builders for license-audit tests: documents, candidates and evidence files made in code.

use crate::core::{
    CandidateKind, Document, LicenseCandidate, LineEndings, Provenance, RightsBasis, SourceKind,
    UnitKind,
};
use crate::store::EvidenceFile;

pub(crate) fn cand(
    kind: CandidateKind,
    path: &str,
    line: Option<u32>,
    value: &str,
) -> LicenseCandidate {
    LicenseCandidate {
        kind,
        path: path.into(),
        line,
        value: value.into(),
    }
}

pub(crate) fn ev(source: &str, path: &str, text: &str) -> EvidenceFile {
    EvidenceFile {
        source_id: source.into(),
        path: path.into(),
        blob_id: None,
        text: text.into(),
    }
}

/// A whole-file document of a git source.
pub(crate) fn doc(
    source: &str,
    path: &str,
    text: &str,
    candidates: Vec<LicenseCandidate>,
) -> Document {
    let sha256 = crate::core::sha256_hex(text.as_bytes());
    Document {
        id: crate::core::document_id(source, path, "", &sha256),
        provenance: Provenance {
            source_id: source.into(),
            source_kind: SourceKind::Git,
            url: format!("https://example.com/{source}"),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            path: path.into(),
            blob_id: None,
            span: None,
            unit_kind: UnitKind::File,
            unit_name: None,
            origin: None,
            rights_basis: RightsBasis::OpenSource,
            license_candidates: candidates,
            prose_license: None,
            code_license: None,
            attribution: None,
            ingest_time: "2024-01-01T00:00:00Z".into(),
            tool_version: "test".into(),
            steps: vec!["ingest".into()],
        },
        text: text.into(),
        sha256,
        bytes: text.len() as u64,
        line_endings: LineEndings::Lf,
        luau: None,
        code_blocks: Vec::new(),
        chat: None,
    }
}

/// The MIT license as projects ship it.
pub(crate) const MIT_TEXT: &str = "MIT License

Copyright (c) 2024 Example Author

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the \"Software\"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
";

/// The standard Apache-2.0 per-file notice.
pub(crate) const APACHE_NOTICE: &str = "Copyright 2023 Vendor Inc.

Licensed under the Apache License, Version 2.0 (the \"License\");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an \"AS IS\" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
";
