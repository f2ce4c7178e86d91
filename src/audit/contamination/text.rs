//! Text handling of the contamination index: normalization (keeping each word's place in the
//! original text, so matches can be reported as ranges of the document), the split of a task
//! text into prose and code, sentences, and the rolling hashes of n-grams, windows and phrases.
//!
//! Nothing here decides whether anything is contaminated.

use std::sync::LazyLock;

use regex::Regex;

use super::Part;
use crate::core::hash::{fmix64, hash_bytes};

/// Rolling-hash base (odd).
pub(super) const BASE: u64 = 0x100_0000_01b3;
const NGRAM_SEED: u64 = 0x6e67_7261_6d73_0001;
const SUBSTR_SEED: u64 = 0x7375_6273_7472_0002;
const PHRASE_SEED: u64 = 0x7068_7261_7365_0003;
const LINE_SEED: u64 = 0x6c69_6e65_7300_0004;

/// Reusable per-thread buffers for normalization and hashing.
#[derive(Default)]
pub(super) struct Scratch {
    /// Lowercase words joined by single spaces.
    pub norm: String,
    /// Byte range of each word in `norm`.
    pub starts: Vec<u32>,
    pub ends: Vec<u32>,
    /// Byte range of each word in the original text.
    pub orig_starts: Vec<u32>,
    pub orig_ends: Vec<u32>,
    pub word_hashes: Vec<u64>,
    /// Prefix hashes of `norm`'s bytes (substring windows).
    pub prefix: Vec<u64>,
    /// Prefix hashes of the word hashes (phrases and lines), filled on demand.
    pub word_prefix: Vec<u64>,
    /// The first word of every line: a line ends at a line break, and at `.`, `!` or `?`
    /// followed by whitespace (so `task.wait` or `2.5x` do not end one).
    pub line_starts: Vec<u32>,
}

impl Scratch {
    /// The original byte range of the normalized range `start..end`, where `start` is the
    /// start of word `word`. A window ending inside a word maps by offset within the word
    /// (exact for ASCII), rounded up to a character boundary of `original`.
    pub fn original_range(&self, original: &str, word: usize, end: u32) -> (u32, u32) {
        let start = self.orig_starts[word];
        let last = self.starts.partition_point(|&s| s < end).saturating_sub(1);
        let mut orig_end = if end >= self.ends[last] {
            self.orig_ends[last]
        } else {
            (self.orig_starts[last] + (end - self.starts[last])).min(self.orig_ends[last])
        } as usize;
        while !original.is_char_boundary(orig_end) {
            orig_end += 1;
        }
        (start, orig_end as u32)
    }
}

/// The hash of one normalized word, as [`normalize_into`] computes it.
pub(super) fn word_hash(word: &str) -> u64 {
    hash_bytes(word.as_bytes(), NGRAM_SEED)
}

pub(super) fn pow_wrapping(base: u64, exp: usize) -> u64 {
    (0..exp).fold(1u64, |acc, _| acc.wrapping_mul(base))
}

/// Normalize into `sc.norm` (lowercase words joined by single spaces) with each word's byte
/// range (normalized and original) and hash, and where lines start.
pub(super) fn normalize_into(text: &str, sc: &mut Scratch) {
    sc.norm.clear();
    sc.starts.clear();
    sc.ends.clear();
    sc.orig_starts.clear();
    sc.orig_ends.clear();
    sc.word_hashes.clear();
    sc.line_starts.clear();
    let mut in_word = false;
    // A line break was seen (or a sentence end), so the next word starts a line.
    let mut new_line = true;
    let mut sentence_end = false;
    let push_boundary = |sc: &mut Scratch, in_word: &mut bool, at: usize| {
        if *in_word {
            let s = *sc.starts.last().expect("word started") as usize;
            let e = sc.norm.len();
            sc.ends.push(e as u32);
            sc.orig_ends.push(at as u32);
            let h = word_hash(&sc.norm[s..e]);
            sc.word_hashes.push(h);
            *in_word = false;
        }
    };
    for (at, ch) in text.char_indices() {
        let is_word = if ch.is_ascii() {
            ch.is_ascii_alphanumeric()
        } else {
            ch.is_alphanumeric()
        };
        if is_word {
            if !in_word {
                if new_line {
                    sc.line_starts.push(sc.starts.len() as u32);
                    new_line = false;
                }
                if !sc.norm.is_empty() {
                    sc.norm.push(' ');
                }
                sc.starts.push(sc.norm.len() as u32);
                sc.orig_starts.push(at as u32);
                in_word = true;
            }
            if ch.is_ascii() {
                sc.norm.push(ch.to_ascii_lowercase());
            } else {
                sc.norm.extend(ch.to_lowercase());
            }
            sentence_end = false;
        } else {
            push_boundary(sc, &mut in_word, at);
            new_line |= ch == '\n' || (sentence_end && ch.is_whitespace());
            sentence_end = matches!(ch, '.' | '!' | '?');
        }
    }
    push_boundary(sc, &mut in_word, text.len());
    // Prefix hashes for substring windows: P[k] = sum_{i<k} (byte_i + 1) * BASE^(k-1-i), so
    // H(s..s+len) = P[s+len] - P[s] * BASE^len.
    sc.prefix.clear();
    sc.prefix.reserve(sc.norm.len() + 1);
    sc.prefix.push(0);
    let mut h = 0u64;
    for &b in sc.norm.as_bytes() {
        h = h.wrapping_mul(BASE).wrapping_add(b as u64 + 1);
        sc.prefix.push(h);
    }
}

/// Every `n`-word n-gram: `(key, first word, start, end)` with the byte range in the
/// normalized text.
pub(super) fn for_each_ngram(
    sc: &Scratch,
    n: usize,
    pow_n: u64,
    mut f: impl FnMut(u64, usize, u32, u32),
) {
    let w = &sc.word_hashes;
    if w.len() < n {
        return;
    }
    // Polynomial rolling hash over word hashes: H = sum w[i+j] * BASE^(n-1-j).
    let mut h = 0u64;
    for &x in &w[..n] {
        h = h.wrapping_mul(BASE).wrapping_add(x);
    }
    for i in 0..=w.len() - n {
        if i > 0 {
            h = h
                .wrapping_mul(BASE)
                .wrapping_add(w[i + n - 1])
                .wrapping_sub(w[i - 1].wrapping_mul(pow_n));
        }
        f(fmix64(h ^ NGRAM_SEED), i, sc.starts[i], sc.ends[i + n - 1]);
    }
}

/// Every window of `len` bytes starting at a word start: `(key, first word, start, end)`.
pub(super) fn for_each_window(
    sc: &Scratch,
    len: usize,
    pow_l: u64,
    mut f: impl FnMut(u64, usize, u32, u32),
) {
    let bytes = sc.norm.as_bytes();
    if bytes.len() < len {
        return;
    }
    let prefix = &sc.prefix;
    for (i, &s) in sc.starts.iter().enumerate() {
        let s = s as usize;
        if s + len > bytes.len() {
            break;
        }
        let hv = prefix[s + len].wrapping_sub(prefix[s].wrapping_mul(pow_l));
        f(fmix64(hv ^ SUBSTR_SEED), i, s as u32, (s + len) as u32);
    }
}

/// The key of the phrase made of words `first..first + k` (whole words, any count): the
/// polynomial hash of their word hashes, salted with `k`.
pub(super) fn phrase_key(word_hashes: &[u64]) -> u64 {
    let h = word_hashes
        .iter()
        .fold(0u64, |h, &x| h.wrapping_mul(BASE).wrapping_add(x));
    phrase_salt(h, word_hashes.len())
}

fn phrase_salt(h: u64, k: usize) -> u64 {
    fmix64(h ^ PHRASE_SEED.wrapping_add(k as u64))
}

/// Fills `sc.word_prefix` so that [`phrase_key_at`] is O(1).
pub(super) fn phrase_prefix(sc: &mut Scratch) {
    sc.word_prefix.clear();
    sc.word_prefix.push(0);
    let mut h = 0u64;
    for &x in &sc.word_hashes {
        h = h.wrapping_mul(BASE).wrapping_add(x);
        sc.word_prefix.push(h);
    }
}

/// [`phrase_key`] of words `first..first + k`, from the prefix hashes (`pow_k` = BASE^k).
#[inline]
pub(super) fn phrase_key_at(sc: &Scratch, first: usize, k: usize, pow_k: u64) -> u64 {
    let p = &sc.word_prefix;
    phrase_salt(p[first + k].wrapping_sub(p[first].wrapping_mul(pow_k)), k)
}

/// The words of the longest line (sentence) of a normalized text, as a word range, when it
/// has more than one.
pub(super) fn longest_sentence(sc: &Scratch) -> Option<(usize, usize)> {
    if sc.line_starts.len() < 2 {
        return None;
    }
    lines(sc).max_by_key(|&(a, b)| (sc.ends[b - 1] - sc.starts[a], std::cmp::Reverse(a)))
}

/// Every line as a word range `a..b` (never empty).
pub(super) fn lines(sc: &Scratch) -> impl Iterator<Item = (usize, usize)> + '_ {
    let n = sc.starts.len();
    sc.line_starts.iter().enumerate().map(move |(i, &a)| {
        let b = sc.line_starts.get(i + 1).map_or(n, |&b| b as usize);
        (a as usize, b)
    })
}

/// The key of a whole line (words `a..b`), from the prefix hashes (`pow` = BASE^(b-a)).
#[inline]
pub(super) fn line_key_at(sc: &Scratch, a: usize, b: usize, pow: u64) -> u64 {
    let p = &sc.word_prefix;
    fmix64(p[b].wrapping_sub(p[a].wrapping_mul(pow)) ^ LINE_SEED.wrapping_add((b - a) as u64))
}

/// Splits a task text into maximal runs of prose lines and of code lines, as slices of the
/// text. Fenced blocks (```` ``` ```` or `~~~`) are code and their fence lines belong to
/// neither; outside fences a line is code when it reads as a Luau statement (see
/// [`looks_like_code`]). Blank lines join the run they are in.
pub fn split_prose_code(text: &str) -> Vec<(Part, &str)> {
    let mut out: Vec<(Part, &str)> = Vec::new();
    // The open run: its part, byte start, byte end of its last non-blank line.
    let mut run: Option<(Part, usize, usize)> = None;
    let mut fence: Option<&str> = None;
    let mut prev_code = false;
    let mut at = 0;
    type Run = Option<(Part, usize, usize)>;
    fn close<'a>(text: &'a str, run: &mut Run, out: &mut Vec<(Part, &'a str)>) {
        if let Some((part, s, e)) = run.take() {
            out.push((part, &text[s..e]));
        }
    }
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let t = body.trim();
        let marker = if t.starts_with("```") {
            Some("```")
        } else if t.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        if let Some(m) = marker {
            if fence.is_none() || fence == Some(m) {
                close(text, &mut run, &mut out);
                fence = if fence.is_some() { None } else { Some(m) };
                prev_code = false;
                continue;
            }
        }
        if t.is_empty() {
            continue;
        }
        let part = if fence.is_some() || looks_like_code(body, prev_code) {
            Part::Code
        } else {
            Part::Prose
        };
        prev_code = part == Part::Code;
        let end = start + body.len();
        match &mut run {
            Some((p, _, e)) if *p == part => *e = end,
            _ => {
                close(text, &mut run, &mut out);
                run = Some((part, start, end));
            }
        }
    }
    close(text, &mut run, &mut out);
    out
}

static CALL_OR_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    // `a.b:c(` at the start of a line (a call statement: no space before the parenthesis), or
    // `a.b[c] = ...` / `+=` ... (an assignment; `==` is a comparison, not an assignment).
    Regex::new(
        r"^[A-Za-z_](?:[\w.:]|\[[^\]]*\])*(?:\(|\s*(?:=|\+=|-=|\*=|/=|%=|\^=|\.\.=)\s*[^=\s])",
    )
    .expect("static regex")
});
static STATEMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:local\s+(?:function\b|[A-Za-z_]\w*\s*(?:[:=,]|$))|function\s*[\w.:]*\s*\(|elseif\s|until\s|export\s+type\s|type\s+\w+(?:<[^>]*>)?\s*=|end\b[\s),;]*$|end\)|else$|repeat$|do$|--|[})\]])",
    )
    .expect("static regex")
});
static BLOCK_OPENER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(if|for|while)\b.*\b(then|do)$|^return(\s*$|\s+[A-Za-z_][\w.:]*$|\b.*[(){}\[\]=:])",
    )
    .expect("static regex")
});

/// Whether a line (outside fences) reads as a Luau statement: a declaration or block keyword,
/// a call statement, an assignment, a closing bracket, a comment, or an indented line after
/// code. Lines with inline `backticks` are prose that mentions code.
pub(super) fn looks_like_code(line: &str, prev_code: bool) -> bool {
    let t = line.trim();
    if t.contains('`') {
        return false;
    }
    if STATEMENT.is_match(t) || BLOCK_OPENER.is_match(t) || CALL_OR_ASSIGNMENT.is_match(t) {
        return true;
    }
    prev_code && line.starts_with([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_and_code_lines_are_told_apart() {
        let prompt = "This script should give a coin when a player touches the part, but the \
            count never changes.\nFix it:\n\nlocal Players = game:GetService(\"Players\")\n\
            local coins = {}\nPlayers.PlayerAdded:Connect(function(player)\n\tcoins[player] = 0\n\
            end)\nif coins[p] > 3 then\n\tprint(\"many\")\nend\n\nThanks! It must also work \
            for new players.\n```lua\nreturn coins\n```\n-- a comment\nreturn the value of x";
        let parts = split_prose_code(prompt);
        let got: Vec<(Part, &str)> = parts.iter().map(|(p, s)| (*p, s.trim())).collect();
        assert_eq!(got.len(), 6, "{got:#?}");
        assert_eq!(got[0].0, Part::Prose);
        assert!(got[0].1.ends_with("Fix it:"));
        assert_eq!(got[1].0, Part::Code);
        assert!(got[1].1.starts_with("local Players") && got[1].1.ends_with("end"));
        assert_eq!(
            got[2],
            (Part::Prose, "Thanks! It must also work for new players.")
        );
        assert_eq!(got[3], (Part::Code, "return coins"));
        // The fence ends a run; a comment is code; "return the value of x" is a sentence.
        assert_eq!(got[4], (Part::Code, "-- a comment"));
        assert_eq!(got[5], (Part::Prose, "return the value of x"));
        for prose in [
            "Use `game:GetService(\"Players\")` to get the service.",
            "If the player leaves, save their data.",
            "Make the cars of this game 2x faster",
            "for every player, print the name",
            "local players should see a red sky",
        ] {
            assert!(!looks_like_code(prose, false), "{prose}");
        }
        for code in [
            "x += 1",
            "self.items[self.size] = value",
            "Players.PlayerAdded:Connect(function(player)",
            "if x then",
            "end)",
            "return setmetatable({}, Stack)",
            "local function f(a)",
            "print(\"hi\")",
        ] {
            assert!(looks_like_code(code, false), "{code}");
        }
    }

    #[test]
    fn the_longest_sentence_is_found_in_original_order() {
        let text = "Make the cars of this game 2.5x faster. Thanks!\nAlso keep task.wait calls";
        let mut sc = Scratch::default();
        normalize_into(text, &mut sc);
        let (a, b) = longest_sentence(&sc).unwrap();
        let s = &sc.norm[sc.starts[a] as usize..sc.ends[b - 1] as usize];
        assert_eq!(s, "make the cars of this game 2 5x faster");
        normalize_into("One sentence only", &mut sc);
        assert_eq!(longest_sentence(&sc), None);
        let text = "local x = 1\nprint(x.y) -- done. Next?\n\n  end";
        normalize_into(text, &mut sc);
        let got: Vec<&str> = lines(&sc)
            .map(|(a, b)| &sc.norm[sc.starts[a] as usize..sc.ends[b - 1] as usize])
            .collect();
        assert_eq!(got, vec!["local x 1", "print x y done", "next", "end"]);
    }

    #[test]
    fn phrase_keys_from_prefix_hashes_equal_direct_ones() {
        let mut sc = Scratch::default();
        normalize_into("make the cars of this game 2x faster", &mut sc);
        phrase_prefix(&mut sc);
        for k in 1..=4 {
            let pow = pow_wrapping(BASE, k);
            assert_eq!(
                phrase_key_at(&sc, 2, k, pow),
                phrase_key(&sc.word_hashes[2..2 + k])
            );
        }
        // Original ranges of a window that ends inside a word.
        let text = "  Make THE cars!";
        normalize_into(text, &mut sc);
        assert_eq!(sc.original_range(text, 0, 6), (2, 8));
        assert_eq!(&text[2..8], "Make T");
        assert_eq!(sc.original_range(text, 1, 8), (7, 10));
    }
}
