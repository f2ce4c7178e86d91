//! Contamination index over registered eval tasks: finds training documents that share a long
//! normalized word n-gram (13 words by default) or a long normalized substring (50 chars by
//! default) with any task text (prompt, solution, tests).
//!
//! Normalization is lowercase, punctuation-insensitive and whitespace-collapsed: every maximal
//! run of alphanumeric characters is a word, and the normalized text is the words joined by
//! single spaces. So `Players:GetPlayers()` and `players getplayers` are the same text.
//!
//! Substrings are indexed as windows of `substring_chars` bytes of the normalized text starting
//! at every word start, and the same windows are looked up in documents. Any common stretch of
//! at least `substring_chars` + one word is therefore found, so a benchmark prompt with a few
//! words changed is still caught by the unchanged stretches between the edits.
//!
//! Lookups go through 64-bit rolling hashes and a bitset prefilter, and every hash hit is
//! confirmed by comparing the normalized text itself, so a hit is never a hash collision.
//! A task text too short to produce any n-gram or window cannot be detected; the index lists
//! such tasks instead of silently passing them. This module reports; it never drops anything.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::core::hash::{fmix64, hash_bytes};

/// Parameters of the contamination index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContaminationConfig {
    /// Words per n-gram.
    pub ngram_words: usize,
    /// Bytes per substring window of the normalized text.
    pub substring_chars: usize,
    /// An n-gram or window found in at least this many tasks is boilerplate (shared system
    /// prompt, common instructions) and is not indexed; 0 keeps everything.
    pub boilerplate_min_tasks: usize,
}

impl Default for ContaminationConfig {
    fn default() -> Self {
        Self::from(&crate::workspace::settings::ContaminationSettings::default())
    }
}

/// The `[audit.contamination]` settings; the parameters they do not name keep their defaults.
impl From<&crate::workspace::settings::ContaminationSettings> for ContaminationConfig {
    fn from(s: &crate::workspace::settings::ContaminationSettings) -> Self {
        Self {
            ngram_words: s.ngram_words,
            substring_chars: s.substring_chars,
            boilerplate_min_tasks: 5,
        }
    }
}

/// What the index holds of one eval task: its id and every text that must not leak (prompt,
/// messages, solution, tests; see [`crate::core::EvalTask::protected_texts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTexts {
    pub id: String,
    pub texts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    NGram,
    Substring,
}

/// A document shares normalized text with a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub task_id: String,
    pub kind: HitKind,
    /// The longest run of overlapping matched windows, as normalized document text.
    pub matched: String,
    /// How many n-grams (or windows) of this kind the document shares with the task.
    pub windows: usize,
}

/// The documents that contaminate one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskContamination {
    pub task_id: String,
    /// Indices of the scanned documents that hit this task, ascending.
    pub docs: Vec<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStats {
    pub tasks: usize,
    pub texts: usize,
    pub ngrams: usize,
    pub substrings: usize,
    /// N-grams and windows not indexed because `boilerplate_min_tasks` tasks share them.
    pub boilerplate_keys_dropped: usize,
    /// Tasks with no indexed n-gram or window (texts too short, or only boilerplate): they can
    /// never be flagged, so they need another check (or longer texts).
    pub undetectable_tasks: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContaminationError {
    #[error("invalid contamination config: {0}")]
    Config(String),
    #[error("eval task id {0:?} appears twice; task ids must be unique within an index")]
    DuplicateTask(String),
    #[error("eval task text of {0:?} is longer than 4 GiB after normalization; split it")]
    TooLong(String),
}

/// Where an indexed n-gram or window occurs: a byte range of one normalized task text.
#[derive(Debug, Clone, Copy)]
struct Posting {
    text: u32,
    start: u32,
    end: u32,
}

/// Keys are already mixed 64-bit hashes; hashing them again would only cost time.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type PostingMap = HashMap<u64, Vec<Posting>, BuildHasherDefault<IdentityHasher>>;

const FILTER_BITS: u32 = 24;
/// Rolling-hash base (odd).
const BASE: u64 = 0x100_0000_01b3;
const NGRAM_SEED: u64 = 0x6e67_7261_6d73_0001;
const SUBSTR_SEED: u64 = 0x7375_6273_7472_0002;

/// The index over all registered eval tasks.
#[derive(Debug, Clone)]
pub struct ContaminationIndex {
    cfg: ContaminationConfig,
    task_ids: Vec<String>,
    /// (task index, normalized text) per indexed text.
    texts: Vec<(u32, String)>,
    ngrams: PostingMap,
    substrings: PostingMap,
    filter: Vec<u64>,
    stats: IndexStats,
}

/// Reusable per-thread buffers for normalization and hashing.
#[derive(Default)]
struct Scratch {
    norm: String,
    starts: Vec<u32>,
    ends: Vec<u32>,
    word_hashes: Vec<u64>,
    prefix: Vec<u64>,
    found: Vec<(u32, HitKind, u32, u32)>,
}

impl ContaminationIndex {
    pub fn build(
        tasks: &[TaskTexts],
        cfg: &ContaminationConfig,
    ) -> Result<Self, ContaminationError> {
        if cfg.ngram_words == 0 || cfg.substring_chars == 0 {
            return Err(ContaminationError::Config(format!(
                "ngram_words and substring_chars must be at least 1, got {} and {}",
                cfg.ngram_words, cfg.substring_chars
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for t in tasks {
            if !seen.insert(t.id.as_str()) {
                return Err(ContaminationError::DuplicateTask(t.id.clone()));
            }
        }
        let mut index = Self {
            cfg: cfg.clone(),
            task_ids: tasks.iter().map(|t| t.id.clone()).collect(),
            texts: Vec::new(),
            ngrams: PostingMap::default(),
            substrings: PostingMap::default(),
            filter: vec![0u64; 1 << (FILTER_BITS - 6)],
            stats: IndexStats {
                tasks: tasks.len(),
                ..Default::default()
            },
        };
        let mut sc = Scratch::default();
        let pow_n = pow_wrapping(BASE, cfg.ngram_words);
        let pow_l = pow_wrapping(BASE, cfg.substring_chars);
        for (ti, task) in tasks.iter().enumerate() {
            for text in &task.texts {
                normalize_into(text, &mut sc);
                if sc.norm.len() > u32::MAX as usize {
                    return Err(ContaminationError::TooLong(task.id.clone()));
                }
                let text_idx = index.texts.len() as u32;
                let texts = &index.texts;
                for_each_ngram(&sc, cfg.ngram_words, pow_n, |key, s, e| {
                    insert(&mut index.ngrams, key, ti as u32, text_idx, s, e, texts);
                });
                for_each_window(&sc, cfg.substring_chars, pow_l, |key, s, e| {
                    insert(&mut index.substrings, key, ti as u32, text_idx, s, e, texts);
                });
                index.texts.push((ti as u32, sc.norm.clone()));
            }
        }
        // Text shared by many tasks (a common system prompt or instructions) says nothing about
        // any one task; a training item that contains it is not contaminated by it.
        if cfg.boilerplate_min_tasks > 0 {
            let min = cfg.boilerplate_min_tasks;
            let before = index.ngrams.len() + index.substrings.len();
            index.ngrams.retain(|_, p| p.len() < min);
            index.substrings.retain(|_, p| p.len() < min);
            index.stats.boilerplate_keys_dropped =
                before - index.ngrams.len() - index.substrings.len();
        }
        let mut covered = vec![false; tasks.len()];
        for (key, postings) in index.ngrams.iter().chain(index.substrings.iter()) {
            set_filter(&mut index.filter, *key);
            for p in postings {
                covered[index.texts[p.text as usize].0 as usize] = true;
            }
        }
        index.stats.undetectable_tasks = tasks
            .iter()
            .zip(&covered)
            .filter(|(_, c)| !**c)
            .map(|(t, _)| t.id.clone())
            .collect();
        index.stats.texts = index.texts.len();
        index.stats.ngrams = index.ngrams.len();
        index.stats.substrings = index.substrings.len();
        Ok(index)
    }

    pub fn stats(&self) -> &IndexStats {
        &self.stats
    }

    pub fn config(&self) -> &ContaminationConfig {
        &self.cfg
    }

    /// Every task this document shares an n-gram or a long substring with, one hit per task
    /// and kind, in task order (n-gram before substring).
    pub fn scan(&self, doc: &str) -> Vec<Hit> {
        self.scan_with(doc, &mut Scratch::default())
    }

    /// `scan` over many documents in parallel; result `i` belongs to `docs[i]`.
    pub fn scan_many(&self, docs: &[&str]) -> Vec<Vec<Hit>> {
        docs.par_iter()
            .map_init(Scratch::default, |sc, d| self.scan_with(d, sc))
            .collect()
    }

    /// Per task (all tasks, in index order), the documents that contaminate it.
    pub fn by_task(&self, hits: &[Vec<Hit>]) -> Vec<TaskContamination> {
        let pos: HashMap<&str, usize> = self
            .task_ids
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        let mut out: Vec<TaskContamination> = self
            .task_ids
            .iter()
            .map(|t| TaskContamination {
                task_id: t.clone(),
                docs: Vec::new(),
            })
            .collect();
        for (d, doc_hits) in hits.iter().enumerate() {
            for h in doc_hits {
                if let Some(&t) = pos.get(h.task_id.as_str()) {
                    if out[t].docs.last() != Some(&d) {
                        out[t].docs.push(d);
                    }
                }
            }
        }
        out
    }

    fn scan_with(&self, doc: &str, sc: &mut Scratch) -> Vec<Hit> {
        normalize_into(doc, sc);
        let mut found = std::mem::take(&mut sc.found);
        found.clear();
        let pow_n = pow_wrapping(BASE, self.cfg.ngram_words);
        let pow_l = pow_wrapping(BASE, self.cfg.substring_chars);
        let norm = sc.norm.as_bytes();
        for_each_ngram(sc, self.cfg.ngram_words, pow_n, |key, s, e| {
            self.lookup(&self.ngrams, key, &norm[s as usize..e as usize], |task| {
                found.push((task, HitKind::NGram, s, e))
            });
        });
        for_each_window(sc, self.cfg.substring_chars, pow_l, |key, s, e| {
            self.lookup(
                &self.substrings,
                key,
                &norm[s as usize..e as usize],
                |task| found.push((task, HitKind::Substring, s, e)),
            );
        });
        let hits = self.summarize(&sc.norm, &mut found);
        sc.found = found;
        hits
    }

    #[inline]
    fn lookup(&self, map: &PostingMap, key: u64, text: &[u8], mut on_hit: impl FnMut(u32)) {
        if !test_filter(&self.filter, key) {
            return;
        }
        if let Some(postings) = map.get(&key) {
            for p in postings {
                let (task, norm) = &self.texts[p.text as usize];
                if &norm.as_bytes()[p.start as usize..p.end as usize] == text {
                    on_hit(*task);
                }
            }
        }
    }

    /// Merge matched windows per (task, kind) into runs; keep the longest run's text.
    fn summarize(&self, norm: &str, found: &mut [(u32, HitKind, u32, u32)]) -> Vec<Hit> {
        found.sort_unstable();
        let mut hits = Vec::new();
        let mut i = 0;
        while i < found.len() {
            let (task, kind) = (found[i].0, found[i].1);
            let mut j = i;
            let (mut best, mut run) = ((0u32, 0u32), (found[i].2, found[i].3));
            let mut windows = 0;
            let mut last_start = None;
            while j < found.len() && found[j].0 == task && found[j].1 == kind {
                let (s, e) = (found[j].2, found[j].3);
                // Postings of one task can repeat a window; count each document window once.
                if last_start != Some(s) {
                    windows += 1;
                    last_start = Some(s);
                }
                if s <= run.1 {
                    run.1 = run.1.max(e);
                } else {
                    if run.1 - run.0 > best.1 - best.0 {
                        best = run;
                    }
                    run = (s, e);
                }
                j += 1;
            }
            if run.1 - run.0 > best.1 - best.0 {
                best = run;
            }
            let mut end = best.1 as usize;
            while !norm.is_char_boundary(end) {
                end += 1;
            }
            hits.push(Hit {
                task_id: self.task_ids[task as usize].clone(),
                kind,
                matched: norm[best.0 as usize..end].to_string(),
                windows,
            });
            i = j;
        }
        hits
    }
}

/// Add a posting for `key` unless the same task already has one.
fn insert(
    map: &mut PostingMap,
    key: u64,
    task: u32,
    text: u32,
    start: u32,
    end: u32,
    texts: &[(u32, String)],
) {
    let postings = map.entry(key).or_default();
    // The current text is pushed after indexing: a posting past `texts` belongs to `task`.
    let task_of = |p: &Posting| texts.get(p.text as usize).map_or(task, |t| t.0);
    if !postings.iter().any(|p| task_of(p) == task) {
        postings.push(Posting { text, start, end });
    }
}

#[inline]
fn set_filter(filter: &mut [u64], key: u64) {
    let bit = (key >> (64 - FILTER_BITS)) as usize;
    filter[bit >> 6] |= 1 << (bit & 63);
}

#[inline]
fn test_filter(filter: &[u64], key: u64) -> bool {
    let bit = (key >> (64 - FILTER_BITS)) as usize;
    filter[bit >> 6] & (1 << (bit & 63)) != 0
}

fn pow_wrapping(base: u64, exp: usize) -> u64 {
    (0..exp).fold(1u64, |acc, _| acc.wrapping_mul(base))
}

/// Normalize into `sc.norm` (lowercase words joined by single spaces) with each word's byte
/// range and hash.
fn normalize_into(text: &str, sc: &mut Scratch) {
    sc.norm.clear();
    sc.starts.clear();
    sc.ends.clear();
    sc.word_hashes.clear();
    let mut in_word = false;
    let push_boundary = |sc: &mut Scratch, in_word: &mut bool| {
        if *in_word {
            let s = *sc.starts.last().expect("word started") as usize;
            let e = sc.norm.len();
            sc.ends.push(e as u32);
            let h = hash_bytes(&sc.norm.as_bytes()[s..e], NGRAM_SEED);
            sc.word_hashes.push(h);
            *in_word = false;
        }
    };
    for ch in text.chars() {
        let is_word = if ch.is_ascii() {
            ch.is_ascii_alphanumeric()
        } else {
            ch.is_alphanumeric()
        };
        if is_word {
            if !in_word {
                if !sc.norm.is_empty() {
                    sc.norm.push(' ');
                }
                sc.starts.push(sc.norm.len() as u32);
                in_word = true;
            }
            if ch.is_ascii() {
                sc.norm.push(ch.to_ascii_lowercase());
            } else {
                sc.norm.extend(ch.to_lowercase());
            }
        } else {
            push_boundary(sc, &mut in_word);
        }
    }
    push_boundary(sc, &mut in_word);
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

/// Every `n`-word n-gram: `(key, start, end)` with the byte range in the normalized text.
fn for_each_ngram(sc: &Scratch, n: usize, pow_n: u64, mut f: impl FnMut(u64, u32, u32)) {
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
        f(fmix64(h ^ NGRAM_SEED), sc.starts[i], sc.ends[i + n - 1]);
    }
}

/// Every window of `len` bytes starting at a word start: `(key, start, end)`.
fn for_each_window(sc: &Scratch, len: usize, pow_l: u64, mut f: impl FnMut(u64, u32, u32)) {
    let bytes = sc.norm.as_bytes();
    if bytes.len() < len {
        return;
    }
    let prefix = &sc.prefix;
    for &s in &sc.starts {
        let s = s as usize;
        if s + len > bytes.len() {
            break;
        }
        let hv = prefix[s + len].wrapping_sub(prefix[s].wrapping_mul(pow_l));
        f(fmix64(hv ^ SUBSTR_SEED), s as u32, (s + len) as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str =
        "Write a Luau function named debounce that takes a callback and a delay in \
        seconds and returns a new function. Calling the returned function repeatedly must only \
        invoke the callback once, after the calls have stopped for the given delay. Use \
        task.delay and make sure pending calls are cancelled with task.cancel.";

    fn tasks() -> Vec<TaskTexts> {
        vec![
            TaskTexts {
                id: "debounce".into(),
                texts: vec![PROMPT.into()],
            },
            TaskTexts {
                id: "inventory".into(),
                texts: vec![
                    "Implement an Inventory class in Luau with methods add(itemId, count), \
                     remove(itemId, count) and count(itemId); removing more than is held must \
                     raise an error that names the item."
                        .into(),
                    "local Inventory = require(script.Parent.Inventory)\nlocal inv = Inventory.new()\n\
                     inv:add(\"sword\", 2)\nassert(inv:count(\"sword\") == 2)"
                        .into(),
                ],
            },
            TaskTexts {
                id: "tiny".into(),
                texts: vec!["Reverse a string.".into()],
            },
        ]
    }

    fn index() -> ContaminationIndex {
        ContaminationIndex::build(&tasks(), &ContaminationConfig::default()).unwrap()
    }

    #[test]
    fn verbatim_prompt_with_other_case_and_whitespace_is_caught() {
        let idx = index();
        let shouty = PROMPT.to_uppercase().replace(' ', "  \n\t");
        let doc = format!("--[[\n{shouty}\n]]\nlocal function debounce(cb, d)\n  return cb\nend\n");
        let hits = idx.scan(&doc);
        let kinds: Vec<(&str, HitKind)> =
            hits.iter().map(|h| (h.task_id.as_str(), h.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("debounce", HitKind::NGram),
                ("debounce", HitKind::Substring)
            ]
        );
        // The whole prompt is one matched run.
        let mut scratch = Scratch::default();
        normalize_into(PROMPT, &mut scratch);
        assert_eq!(hits[0].matched, scratch.norm);
        // Windows running past the prompt's end into the code do not match, so the substring
        // run stops within the last window.
        assert!(scratch.norm.starts_with(&hits[1].matched));
        assert!(hits[1].matched.len() + 50 > scratch.norm.len());
    }

    #[test]
    fn lightly_edited_prompt_is_caught() {
        let idx = index();
        let edited = PROMPT
            .replace("named debounce", "called debounced")
            .replace("repeatedly", "many times")
            .replace("task.cancel", "task.cancel()!")
            .replace("Write", "please write");
        let hits = idx.scan(&format!("# Exercise\n\n{edited}\n"));
        assert!(
            hits.iter()
                .any(|h| h.task_id == "debounce" && h.kind == HitKind::NGram),
            "{hits:?}"
        );
        assert!(hits
            .iter()
            .any(|h| h.task_id == "debounce" && h.kind == HitKind::Substring));
        // Test code of a task counts too, matched through punctuation differences.
        // 12 words: too short for an n-gram, long enough for windows.
        let code = "inv = Inventory.new() inv:add('sword', 2)\nassert(inv:count('sword')==2)";
        let hits = idx.scan(code);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(
            (hits[0].task_id.as_str(), hits[0].kind),
            ("inventory", HitKind::Substring)
        );
    }

    #[test]
    fn unrelated_text_is_not_flagged() {
        let idx = index();
        let docs = [
            "Write a Luau function that returns the sum of a list of numbers, using ipairs and a \
             local accumulator, and make sure empty lists return zero.",
            "local Players = game:GetService(\"Players\")\nPlayers.PlayerAdded:Connect(function(p)\n\
             \tprint(p.Name .. \" joined\")\nend)\n",
            "A debounce limits how often a callback runs. Roblox scripts often debounce Touched \
             events with a boolean flag and task.wait.",
            "",
        ];
        for d in docs {
            assert_eq!(idx.scan(d), vec![], "{d:?}");
        }
    }

    #[test]
    fn report_lists_contaminating_docs_per_task_and_short_tasks() {
        let idx = index();
        assert_eq!(idx.stats().undetectable_tasks, vec!["tiny".to_string()]);
        let docs = ["nothing here", PROMPT, "still nothing", &PROMPT[20..]];
        let hits = idx.scan_many(&docs);
        let report = idx.by_task(&hits);
        assert_eq!(
            report[0],
            TaskContamination {
                task_id: "debounce".into(),
                docs: vec![1, 3]
            }
        );
        assert!(report[1].docs.is_empty() && report[2].docs.is_empty());
        let dup = vec![tasks()[0].clone(), tasks()[0].clone()];
        assert!(matches!(
            ContaminationIndex::build(&dup, &ContaminationConfig::default()),
            Err(ContaminationError::DuplicateTask(_))
        ));
    }

    #[test]
    fn text_shared_by_many_tasks_is_boilerplate_not_contamination() {
        let system = "You are an expert Roblox engineer. Answer with a single Luau code block and \
                      no explanation, following the Roblox Lua style guide.";
        let specifics = [
            "implement a ring buffer with push, pop and a fixed capacity given to the constructor",
            "write a function that deep copies a table including nested tables and metatables",
            "create a signal class with Connect, Once, Fire and DisconnectAll methods for events",
            "parse a semantic version string into major, minor and patch numbers and compare them",
            "build a rate limiter that allows at most n calls per rolling window of t seconds",
        ];
        let tasks: Vec<TaskTexts> = specifics
            .iter()
            .enumerate()
            .map(|(i, s)| TaskTexts {
                id: format!("t{i}"),
                texts: vec![format!("{system} Task: {s}.")],
            })
            .collect();
        let idx = ContaminationIndex::build(&tasks, &ContaminationConfig::default()).unwrap();
        assert!(idx.stats().boilerplate_keys_dropped > 0);
        assert!(idx.stats().undetectable_tasks.is_empty());
        // A training example rendered with the same system prompt is not contaminated by it.
        let doc = format!("{system}\nTask: make a part spin.\nlocal p = script.Parent");
        assert_eq!(idx.scan(&doc), vec![]);
        // The task-specific part still is.
        let hits = idx.scan(&format!("-- {}", specifics[3]));
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(hits.iter().all(|h| h.task_id == "t3"));
        // With the guard off, the shared prompt flags every task.
        let all = ContaminationConfig {
            boilerplate_min_tasks: 0,
            ..Default::default()
        };
        let idx = ContaminationIndex::build(&tasks, &all).unwrap();
        let flagged: std::collections::BTreeSet<String> =
            idx.scan(&doc).into_iter().map(|h| h.task_id).collect();
        assert_eq!(flagged.len(), 5);
    }

    #[test]
    fn normalization_is_punctuation_and_case_insensitive_and_unicode_aware() {
        let mut a = Scratch::default();
        normalize_into("  Players:GetPlayers()[1].Name -- ÉLAN,  naïve\r\n", &mut a);
        assert_eq!(a.norm, "players getplayers 1 name élan naïve");
        assert_eq!(a.starts.len(), 6);
        let words: Vec<&str> = a
            .starts
            .iter()
            .zip(&a.ends)
            .map(|(&s, &e)| &a.norm[s as usize..e as usize])
            .collect();
        assert_eq!(
            words,
            vec!["players", "getplayers", "1", "name", "élan", "naïve"]
        );
    }
}
