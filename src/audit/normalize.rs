//! Text normalization for exact dedup and the stable content key of a normalized text.
//!
//! Default normalization only removes differences that carry no meaning for training data:
//! a UTF-8 byte-order mark, CRLF/CR line endings, trailing whitespace on each line, and trailing
//! blank lines. Options strip Luau comments and collapse formatting (token stream joined by single
//! spaces) for a coarser "same code" key.
//!
//! Normalized text is used only to compare documents. This module must never be used to rewrite
//! a stored document (audits add attributes beside documents; see STYLE.md habit 7).

use super::cluster::{Cluster, UnionFind};
use crate::luau::lex::{lex, TokenKind};
pub use crate::workspace::settings::NormalizeOptions;

/// Normalize `text` as configured. The result ends with exactly one `\n` unless it is empty.
pub fn normalize(text: &str, opts: &NormalizeOptions) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if opts.collapse_formatting {
        let mut out = String::with_capacity(text.len());
        lex(text, |kind, s, e| {
            if kind != TokenKind::Comment {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&text[s..e]);
            }
        });
        if !out.is_empty() {
            out.push('\n');
        }
        return out;
    }
    if opts.strip_comments {
        let without = strip_luau_comments(text);
        return normalize_lines(&without, true);
    }
    normalize_lines(text, false)
}

/// Blake3 hex of the normalized text: equal keys mean equal normalized texts.
pub fn content_key(text: &str, opts: &NormalizeOptions) -> String {
    blake3::hash(normalize(text, opts).as_bytes())
        .to_hex()
        .to_string()
}

/// Clusters of documents whose normalized texts are identical. `rank` (lower is better, e.g.
/// license clarity then source order, supplied by the caller) picks the keeper; ties go to input
/// order. Runs in parallel; the result does not depend on thread count.
pub fn exact_duplicates(
    docs: &[&str],
    opts: &NormalizeOptions,
    rank: Option<&[u64]>,
) -> Result<Vec<Cluster>, ExactDedupError> {
    use rayon::prelude::*;
    if let Some(r) = rank {
        if r.len() != docs.len() {
            return Err(ExactDedupError::RankLength {
                docs: docs.len(),
                ranks: r.len(),
            });
        }
    }
    let mut keyed: Vec<([u8; 32], usize)> = docs
        .par_iter()
        .enumerate()
        .map(|(i, d)| (*blake3::hash(normalize(d, opts).as_bytes()).as_bytes(), i))
        .collect();
    keyed.par_sort_unstable();
    let mut uf = UnionFind::new(docs.len());
    for w in keyed.windows(2) {
        if w[0].0 == w[1].0 {
            uf.union(w[0].1, w[1].1);
        }
    }
    Ok(uf.clusters(rank))
}

/// Errors of exact dedup.
#[derive(Debug, thiserror::Error)]
pub enum ExactDedupError {
    #[error(
        "exact dedup got {ranks} ranks for {docs} documents; pass one rank per document or none"
    )]
    RankLength { docs: usize, ranks: usize },
}

/// Line-level normalization: `\r\n` and lone `\r` become `\n`, trailing spaces/tabs are cut,
/// trailing blank lines dropped; with `drop_blank`, every blank line is dropped.
fn normalize_lines(text: &str, drop_blank: bool) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    // Blank lines are held back until a non-blank line follows, so trailing ones vanish.
    let mut pending_blank = 0usize;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // A lone `\r` (old Mac line ending) also ends a line.
        for piece in line.split('\r') {
            let trimmed = piece.trim_end_matches([' ', '\t', '\u{0b}', '\u{0c}']);
            if trimmed.is_empty() {
                if !drop_blank {
                    pending_blank += 1;
                }
                continue;
            }
            for _ in 0..pending_blank {
                out.push('\n');
            }
            pending_blank = 0;
            out.push_str(trimmed);
            out.push('\n');
        }
    }
    // Leading blank lines are kept (they were emitted once a non-blank line followed); only
    // trailing ones are dropped by never flushing `pending_blank` at the end.
    out
}

fn strip_luau_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    lex(text, |kind, s, e| {
        if kind == TokenKind::Comment {
            out.push_str(&text[last..s]);
            last = e;
        }
    });
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: NormalizeOptions = NormalizeOptions {
        strip_comments: false,
        collapse_formatting: false,
    };

    #[test]
    fn line_endings_trailing_space_and_blank_lines_do_not_matter() {
        let base = "local x = 1\n\nreturn x\n";
        let variants = [
            "local x = 1\r\n\r\nreturn x\r\n",
            "local x = 1   \n\t\nreturn x\t \n\n\n",
            "\u{feff}local x = 1\r\rreturn x",
            "local x = 1\n\nreturn x",
        ];
        for v in variants {
            assert_eq!(normalize(v, &PLAIN), base, "{v:?}");
            assert_eq!(content_key(v, &PLAIN), content_key(base, &PLAIN));
        }
        // Meaningful differences survive: indentation, inner spaces, interior blank lines.
        for other in [
            "  local x = 1\n\nreturn x\n",
            "local x =  1\n\nreturn x\n",
            "local x = 1\nreturn x\n",
        ] {
            assert_ne!(
                content_key(other, &PLAIN),
                content_key(base, &PLAIN),
                "{other:?}"
            );
        }
    }

    #[test]
    fn comment_stripping_and_formatting_collapse_are_opt_in() {
        let a =
            "-- header\nlocal t = {1,2} -- trailing\n--[[ block\n]]\nprint(\"-- not a comment\")\n";
        let b = "local t = {1,2}\nprint(\"-- not a comment\")\n";
        let c = "local   t={ 1, 2 }\n\n\nprint( \"-- not a comment\" )";
        assert_ne!(content_key(a, &PLAIN), content_key(b, &PLAIN));
        let strip = NormalizeOptions {
            strip_comments: true,
            ..PLAIN
        };
        assert_eq!(normalize(a, &strip), b);
        assert_ne!(content_key(c, &strip), content_key(b, &strip));
        let collapse = NormalizeOptions {
            collapse_formatting: true,
            ..PLAIN
        };
        assert_eq!(content_key(a, &collapse), content_key(c, &collapse));
        assert_eq!(
            normalize(c, &collapse),
            "local t = { 1 , 2 } print ( \"-- not a comment\" )\n"
        );
        // String contents are never reformatted.
        assert_ne!(
            content_key("print(\"a  b\")", &collapse),
            content_key("print(\"a b\")", &collapse)
        );
    }

    #[test]
    fn exact_clusters_span_variants_and_pick_ranked_keeper() {
        let docs = [
            "return 1\n",       // 0
            "return 2\n",       // 1
            "return 1\r\n\r\n", // 2
            "return 1  ",       // 3
            "return 2",         // 4
            "return 3\n",       // 5
        ];
        let clusters = exact_duplicates(&docs, &PLAIN, None).unwrap();
        assert_eq!(
            clusters,
            vec![
                Cluster {
                    members: vec![0, 2, 3],
                    representative: 0
                },
                Cluster {
                    members: vec![1, 4],
                    representative: 1
                },
            ]
        );
        let rank = [5, 5, 1, 1, 0, 0];
        let ranked = exact_duplicates(&docs, &PLAIN, Some(&rank)).unwrap();
        assert_eq!(ranked[0].representative, 2, "lowest rank, then input order");
        assert_eq!(ranked[1].representative, 4);
        assert!(exact_duplicates(&docs, &PLAIN, Some(&rank[..2])).is_err());
    }
}
