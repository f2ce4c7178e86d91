//! Stable identifiers. A document id depends on where the unit came from (source, path, unit
//! locator) and on its content, never on when or from which commit it was ingested, so an
//! unchanged file keeps its id across commits and re-ingests.

use sha2::{Digest, Sha256};

/// Hex sha256 of raw bytes (the hash recorded for original file bytes and export manifests).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The stable id of a document: 32 hex chars of blake3 over origin and content hash.
pub fn document_id(source_id: &str, path: &str, locator: &str, content_sha256: &str) -> String {
    let mut h = blake3::Hasher::new();
    for part in [source_id, path, locator, content_sha256] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    h.finalize().to_hex()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_depends_on_origin_and_content() {
        let a = document_id("s", "a.luau", "", "00");
        assert_eq!(a, document_id("s", "a.luau", "", "00"));
        assert_ne!(a, document_id("t", "a.luau", "", "00"));
        assert_ne!(a, document_id("s", "b.luau", "", "00"));
        assert_ne!(a, document_id("s", "a.luau", "#x", "00"));
        assert_ne!(a, document_id("s", "a.luau", "", "01"));
        // Separators keep ("ab","c") and ("a","bc") apart.
        assert_ne!(
            document_id("ab", "c", "", ""),
            document_id("a", "bc", "", "")
        );
        assert_eq!(a.len(), 32);
    }
}
