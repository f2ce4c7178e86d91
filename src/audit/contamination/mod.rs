//! Contamination scoring over registered eval tasks: which training documents leak which task,
//! told apart from documents that merely share the idioms every Roblox script has.
//!
//! **Keys.** Each task text (prompt, system prompt, reference, messages, tests) is split into
//! prose and code ([`text::split_prose_code`]: fenced blocks, and lines that read as Luau
//! statements), and each run of lines is normalized (lowercase, punctuation-insensitive,
//! whitespace-collapsed: every maximal run of alphanumeric characters is a word, joined by
//! single spaces, so `Players:GetPlayers()` and `players getplayers` are the same text) and
//! indexed by its 13-word n-grams and its 50-byte windows starting at every word start. A task
//! text too short for either (an OpenGameEval prompt such as "Make the cars of this game 2x
//! faster") is indexed whole, and by its longest sentence, as phrase keys that match whole
//! words; so are short prose runs. Keys never span two runs.
//!
//! **What is not evidence.** A key shared by `boilerplate_min_tasks` tasks (a common system
//! prompt) is task boilerplate; a key found in many corpus documents (`idiom_min_documents`, or
//! `idiom_min_fraction` of them: `local ReplicatedStorage = game:GetService(...)`) is a corpus
//! idiom. Neither counts. Every line (and sentence) of a task text is also counted as a whole:
//! a line that is boilerplate or an idiom is masked out of the distinctive text, so a window
//! that merely joins two idiomatic lines (`Players` then `DataStoreService`, a rarer pair of
//! common lines) adds nothing. Document frequency is counted for task keys only, during the
//! scan, and decided after it, so it is the same whatever the thread count.
//!
//! **Score.** A (task, document) pair scores, per task text and part (prose, code, or a short
//! text indexed whole), the share of the part's distinctive text (the normalized bytes its
//! remaining keys cover, outside masked lines) that the document's matches cover; the pair's
//! score is its best part.
//! It is flagged when that share reaches `min_score`, or when the document covers at least
//! `min_matched_chars` distinctive bytes of one part (a long solution copied in part). A task
//! whose prose is distinctive but whose code is boilerplate is thus matched on its prose, and a
//! document sharing one idiom with a task is not flagged.
//!
//! Lookups go through 64-bit rolling hashes and a bitset prefilter, and every hash hit is
//! confirmed by comparing the normalized text itself, so a hit is never a hash collision.
//! Tasks with no distinctive text at all are listed as undetectable, with the reason, instead of
//! silently passing. This module reports; it never drops anything.

#[cfg(test)]
mod tests;
mod text;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use text::split_prose_code;
use text::{
    for_each_ngram, for_each_window, line_key_at, lines, longest_sentence, normalize_into,
    phrase_key, phrase_key_at, phrase_prefix, pow_wrapping, Scratch, BASE,
};

/// The parameters of the index and the scorer are the `[audit.contamination]` settings.
pub use crate::workspace::settings::ContaminationSettings;

/// What the index holds of one eval task: its id and every text that must not leak (prompt,
/// messages, solution, tests; see [`crate::core::EvalTask::protected_texts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTexts {
    pub id: String,
    pub texts: Vec<String>,
}

/// Which part of a task text a match is scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Prose lines of a text.
    Prose,
    /// Code lines and fenced blocks of a text.
    Code,
    /// A text too short for n-grams and windows, indexed whole (and by its longest sentence).
    WholePrompt,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Prose => "prose",
            Part::Code => "code",
            Part::WholePrompt => "whole_prompt",
        }
    }
}

/// A document flagged for a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub task_id: String,
    /// The share (0..1) of the best part's distinctive text the document covers.
    pub score: f64,
    /// The best part.
    pub part: Part,
    /// Distinctive normalized bytes of the best part the document covers, and its total.
    pub matched_chars: usize,
    pub distinctive_chars: usize,
    /// The longest matched stretch, in bytes of the document.
    pub longest_chars: usize,
    /// The longest matched stretches (at most [`MAX_SPANS`]), in document order.
    pub spans: Vec<Span>,
}

/// A matched stretch of a document: byte offsets into its text, and the text (truncated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// How many spans a hit keeps, and how many characters of each.
pub const MAX_SPANS: usize = 5;
const SPAN_TEXT_CHARS: usize = 160;

/// The documents that contaminate one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskContamination {
    pub task_id: String,
    /// Indices of the scanned documents that hit this task, ascending.
    pub docs: Vec<usize>,
}

/// Why a task can never be flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undetectable {
    /// No text long enough for any key (`whole_prompt_min_chars`).
    TooShort,
    /// Every key is shared with `boilerplate_min_tasks` tasks.
    TaskBoilerplate,
    /// Every remaining key is a corpus idiom.
    CorpusIdioms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndetectableTask {
    pub task: String,
    pub reason: Undetectable,
}

/// What the index holds (before any corpus is seen).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStats {
    pub tasks: usize,
    pub texts: usize,
    /// Scored parts (prose, code or whole text of a task text).
    pub parts: usize,
    pub ngrams: usize,
    pub substrings: usize,
    /// Whole short texts and prose runs, and their longest sentences.
    pub phrases: usize,
    /// Lines and sentences, counted in the corpus to mask idiomatic lines.
    pub lines: usize,
    /// Keys (lines included) not used because `boilerplate_min_tasks` tasks share them.
    pub boilerplate_keys_dropped: usize,
    /// Tasks with no distinctive text left after the task-side rules.
    pub undetectable_tasks: Vec<UndetectableTask>,
}

/// What a corpus did to the index, and what the scorer found in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusStats {
    pub documents: usize,
    /// A key found in at least this many documents was an idiom (0: the rule was off).
    pub idiom_min_documents: usize,
    /// N-grams, windows and phrases dropped as corpus idioms.
    pub idiom_keys_dropped: usize,
    /// Task lines found in that many documents, masked out of the distinctive text.
    pub idiom_lines_masked: usize,
    /// (task, document) pairs sharing some distinctive text, and those flagged.
    pub pairs_matched: usize,
    pub pairs_flagged: usize,
    /// Tasks that can never be flagged (index and corpus rules together).
    pub undetectable_tasks: Vec<UndetectableTask>,
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

/// Hash to the first key with that hash (the others are chained through [`Key::next`]).
type KeyMap = HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>;

const FILTER_BITS: u32 = 24;
/// Bits of the first-word filter of phrase keys (small: it is tested at every word).
const FIRST_WORD_BITS: u32 = 16;
const NO_KEY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    NGram,
    Window,
    Phrase,
    /// A whole line or sentence of a task text: never evidence, only counted, so that a line
    /// found in many documents (or tasks) is masked out of the distinctive text, and windows
    /// that merely join two idiomatic lines do not count.
    Line,
}

/// One distinct normalized text (an n-gram, a window or a phrase) and where tasks hold it.
#[derive(Debug, Clone)]
struct Key {
    kind: KeyKind,
    hash: u64,
    /// The next key with the same hash (a collision), or `NO_KEY`.
    next: u32,
    /// Distinct tasks holding it, and the last one counted (tasks are indexed in order).
    tasks: u32,
    last_task: u32,
    boilerplate: bool,
    /// Every place it occurs: the first one is where its text is read from.
    postings: Vec<Posting>,
}

/// A byte range of one normalized run of a task text.
#[derive(Debug, Clone, Copy)]
struct Posting {
    seg: u32,
    start: u32,
    end: u32,
}

/// A scored part of one task text: its runs of one kind.
#[derive(Debug, Clone)]
struct Unit {
    task: u32,
    part: Part,
}

/// One normalized run of lines of a task text.
#[derive(Debug, Clone)]
struct Segment {
    unit: u32,
    norm: String,
    /// The keys found in it, with their ranges.
    keys: Vec<(u32, u32, u32)>,
}

/// A confirmed key found in a document: the key and the byte range of the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct KeyMatch {
    key: u32,
    /// Byte range in the original text.
    start: u32,
    end: u32,
    /// Start in the normalized text (to tell which occurrence of a repeated key it copies).
    norm: u32,
}

/// The confirmed key matches of scanned texts, and in how many of them each key was found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Per text, the evidence keys found (sorted by key and place).
    matches: Vec<Vec<KeyMatch>>,
    /// Per key, the texts it was found in.
    df: Vec<u32>,
}

impl Scan {
    /// Per key, the number of scanned texts it was found in.
    pub fn df(&self) -> &[u32] {
        &self.df
    }

    /// How many texts were scanned.
    pub fn len(&self) -> usize {
        self.matches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.matches.is_empty()
    }
}

/// Which keys a corpus made idioms, and what is left of each part.
#[derive(Debug, Clone)]
pub struct CorpusIdioms {
    /// Per key: dropped (task boilerplate or corpus idiom); for a line, masked.
    dropped: Vec<bool>,
    /// Per segment: the masked byte ranges (idiomatic lines), sorted and disjoint.
    masks: Vec<Vec<(u32, u32)>>,
    /// Per unit: distinctive normalized bytes (covered by a key that is not dropped, outside
    /// the masks).
    distinctive: Vec<u32>,
    stats: CorpusStats,
}

impl CorpusIdioms {
    pub fn stats(&self) -> &CorpusStats {
        &self.stats
    }
}

/// Flagged hits per scanned text, and the corpus figures.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// `hits[i]`: the tasks text `i` is flagged for, in task order.
    pub hits: Vec<Vec<Hit>>,
    pub corpus: CorpusStats,
}

/// The index over all registered eval tasks.
#[derive(Debug, Clone)]
pub struct ContaminationIndex {
    cfg: ContaminationSettings,
    task_ids: Vec<String>,
    units: Vec<Unit>,
    segs: Vec<Segment>,
    keys: Vec<Key>,
    ngrams: KeyMap,
    windows: KeyMap,
    phrases: KeyMap,
    lines: KeyMap,
    /// Distinctive bytes per unit after the task-side rule only.
    base_distinctive: Vec<u32>,
    /// Word counts of phrase keys, ascending.
    phrase_lens: Vec<usize>,
    /// Bitset of the first word hashes of phrase keys.
    phrase_first: Vec<u64>,
    filter: Vec<u64>,
    stats: IndexStats,
}

impl ContaminationIndex {
    pub fn build(
        tasks: &[TaskTexts],
        cfg: &ContaminationSettings,
    ) -> Result<Self, ContaminationError> {
        if cfg.ngram_words == 0 || cfg.substring_chars == 0 {
            return Err(ContaminationError::Config(format!(
                "ngram-words and substring-chars must be at least 1, got {} and {}",
                cfg.ngram_words, cfg.substring_chars
            )));
        }
        for (name, v) in [
            ("min-score", cfg.min_score),
            ("idiom-min-fraction", cfg.idiom_min_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ContaminationError::Config(format!(
                    "{name} must be between 0 and 1, got {v}"
                )));
            }
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
            units: Vec::new(),
            segs: Vec::new(),
            keys: Vec::new(),
            ngrams: KeyMap::default(),
            windows: KeyMap::default(),
            phrases: KeyMap::default(),
            lines: KeyMap::default(),
            base_distinctive: Vec::new(),
            phrase_lens: Vec::new(),
            phrase_first: vec![0u64; 1 << (FIRST_WORD_BITS - 6)],
            filter: vec![0u64; 1 << (FILTER_BITS - 6)],
            stats: IndexStats {
                tasks: tasks.len(),
                ..Default::default()
            },
        };
        let mut sc = Scratch::default();
        for (ti, task) in tasks.iter().enumerate() {
            for text in &task.texts {
                index.stats.texts += 1;
                index
                    .add_text(ti as u32, text, &mut sc)
                    .map_err(|()| ContaminationError::TooLong(task.id.clone()))?;
            }
        }
        // Text shared by many tasks (a common system prompt or instructions) says nothing about
        // any one task; a training item that contains it is not contaminated by it.
        if cfg.boilerplate_min_tasks > 0 {
            for k in &mut index.keys {
                if k.tasks as usize >= cfg.boilerplate_min_tasks {
                    k.boilerplate = true;
                    index.stats.boilerplate_keys_dropped += 1;
                }
            }
        }
        let mut lens = Vec::new();
        for k in index.keys.iter().filter(|k| !k.boilerplate) {
            set_bit(&mut index.filter, k.hash, FILTER_BITS);
            match k.kind {
                KeyKind::NGram => index.stats.ngrams += 1,
                KeyKind::Window => index.stats.substrings += 1,
                KeyKind::Line => index.stats.lines += 1,
                KeyKind::Phrase => {
                    index.stats.phrases += 1;
                    let p = k.postings[0];
                    let seg = &index.segs[p.seg as usize];
                    let text = &seg.norm[p.start as usize..p.end as usize];
                    lens.push(text.split(' ').count());
                    let first = text.split(' ').next().unwrap_or_default();
                    set_bit(
                        &mut index.phrase_first,
                        text::word_hash(first),
                        FIRST_WORD_BITS,
                    );
                }
            }
        }
        lens.sort_unstable();
        lens.dedup();
        index.phrase_lens = lens;
        index.stats.parts = index.units.len();
        let task_side: Vec<bool> = index.keys.iter().map(|k| k.boilerplate).collect();
        index.base_distinctive = index.leftover(&task_side).0;
        index.stats.undetectable_tasks = index.undetectable(&index.base_distinctive);
        Ok(index)
    }

    /// Splits one task text into parts and runs and indexes their keys.
    fn add_text(&mut self, task: u32, text: &str, sc: &mut Scratch) -> Result<(), ()> {
        let cfg = &self.cfg;
        normalize_into(text, sc);
        phrase_prefix(sc);
        let short = sc.norm.len() < cfg.substring_chars && sc.starts.len() < cfg.ngram_words;
        if short {
            // Too short for n-grams and windows: the whole text (and its longest sentence) is
            // the only evidence there is.
            if cfg.whole_prompt_min_chars == 0 || sc.norm.len() < cfg.whole_prompt_min_chars {
                return Ok(());
            }
            let unit = self.push_unit(task, Part::WholePrompt);
            self.add_run(task, unit, sc, true)?;
            return Ok(());
        }
        let mut units: [Option<u32>; 2] = [None, None];
        for (part, run) in split_prose_code(text) {
            normalize_into(run, sc);
            phrase_prefix(sc);
            if sc.norm.is_empty() {
                continue;
            }
            let slot = (part == Part::Code) as usize;
            let unit = match units[slot] {
                Some(u) => u,
                None => {
                    let u = self.push_unit(task, part);
                    units[slot] = Some(u);
                    u
                }
            };
            self.add_run(task, unit, sc, part == Part::Prose)?;
        }
        Ok(())
    }

    fn push_unit(&mut self, task: u32, part: Part) -> u32 {
        self.units.push(Unit { task, part });
        (self.units.len() - 1) as u32
    }

    /// Indexes one normalized run (in `sc`, with its phrase prefix hashes): its n-grams and
    /// windows, or, when it has none and `phrases` is set, the whole run and its longest
    /// sentence; and its lines.
    fn add_run(&mut self, task: u32, unit: u32, sc: &Scratch, phrases: bool) -> Result<(), ()> {
        if sc.norm.len() > u32::MAX as usize {
            return Err(());
        }
        let cfg = &self.cfg;
        let seg = self.segs.len() as u32;
        let mut found: Vec<(KeyKind, u64, u32, u32)> = Vec::new();
        for_each_ngram(
            sc,
            cfg.ngram_words,
            pow_wrapping(BASE, cfg.ngram_words),
            |key, _, s, e| found.push((KeyKind::NGram, key, s, e)),
        );
        for_each_window(
            sc,
            cfg.substring_chars,
            pow_wrapping(BASE, cfg.substring_chars),
            |key, _, s, e| found.push((KeyKind::Window, key, s, e)),
        );
        let min = cfg.whole_prompt_min_chars;
        if found.is_empty() && phrases && min > 0 && sc.norm.len() >= min {
            let n = sc.starts.len();
            found.push((
                KeyKind::Phrase,
                phrase_key(&sc.word_hashes),
                0,
                sc.ends[n - 1],
            ));
            if let Some((a, b)) = longest_sentence(sc) {
                let (s, e) = (sc.starts[a], sc.ends[b - 1]);
                if (e - s) as usize >= min {
                    found.push((KeyKind::Phrase, phrase_key(&sc.word_hashes[a..b]), s, e));
                }
            }
        }
        for (a, b) in lines(sc) {
            let key = line_key_at(sc, a, b, pow_wrapping(BASE, b - a));
            found.push((KeyKind::Line, key, sc.starts[a], sc.ends[b - 1]));
        }
        self.segs.push(Segment {
            unit,
            norm: sc.norm.clone(),
            keys: Vec::with_capacity(found.len()),
        });
        for (kind, hash, s, e) in found {
            let k = self.insert(kind, hash, task, seg, s, e);
            self.segs[seg as usize].keys.push((k, s, e));
        }
        Ok(())
    }

    /// The key with this kind and text (`seg`'s `start..end`), made if new; adds the posting.
    fn insert(
        &mut self,
        kind: KeyKind,
        hash: u64,
        task: u32,
        seg: u32,
        start: u32,
        end: u32,
    ) -> u32 {
        let posting = Posting { seg, start, end };
        let head = self.map(kind).get(&hash).copied().unwrap_or(NO_KEY);
        let mut cur = head;
        while cur != NO_KEY {
            if self.key_text(cur) == self.posting_text(posting) {
                let k = &mut self.keys[cur as usize];
                k.postings.push(posting);
                if k.last_task != task {
                    k.tasks += 1;
                    k.last_task = task;
                }
                return cur;
            }
            cur = self.keys[cur as usize].next;
        }
        let id = self.keys.len() as u32;
        self.keys.push(Key {
            kind,
            hash,
            next: head,
            tasks: 1,
            last_task: task,
            boilerplate: false,
            postings: vec![posting],
        });
        match kind {
            KeyKind::NGram => &mut self.ngrams,
            KeyKind::Window => &mut self.windows,
            KeyKind::Phrase => &mut self.phrases,
            KeyKind::Line => &mut self.lines,
        }
        .insert(hash, id);
        id
    }

    fn map(&self, kind: KeyKind) -> &KeyMap {
        match kind {
            KeyKind::NGram => &self.ngrams,
            KeyKind::Window => &self.windows,
            KeyKind::Phrase => &self.phrases,
            KeyKind::Line => &self.lines,
        }
    }

    fn posting_text(&self, p: Posting) -> &[u8] {
        &self.segs[p.seg as usize].norm.as_bytes()[p.start as usize..p.end as usize]
    }

    fn key_text(&self, k: u32) -> &[u8] {
        self.posting_text(self.keys[k as usize].postings[0])
    }

    pub fn stats(&self) -> &IndexStats {
        &self.stats
    }

    pub fn config(&self) -> &ContaminationSettings {
        &self.cfg
    }

    /// The number of tasks indexed.
    pub fn tasks(&self) -> usize {
        self.task_ids.len()
    }

    /// Scans `docs` as the corpus: its document frequencies decide the idioms, and every
    /// document is scored.
    pub fn assess(&self, docs: &[&str]) -> Assessment {
        let scan = self.scan_many(docs);
        let idioms = self.idioms(&scan);
        self.score(docs, &scan, &idioms)
    }

    /// The tasks one text is flagged for, without corpus statistics (no key is an idiom).
    pub fn scan(&self, doc: &str) -> Vec<Hit> {
        self.assess(&[doc]).hits.pop().unwrap_or_default()
    }

    /// The confirmed key matches of every text (in parallel; result `i` belongs to `docs[i]`),
    /// and the document frequency of every key.
    pub fn scan_many(&self, docs: &[&str]) -> Scan {
        let found: Vec<(Vec<KeyMatch>, Vec<u32>)> = docs
            .par_iter()
            .map_init(Scratch::default, |sc, d| self.matches(d, sc))
            .collect();
        // Matches are sorted by key and line hits are distinct, so a key counts once per text.
        // Sums do not depend on the order texts were scanned in.
        let n_keys = self.keys.len();
        let df = found
            .par_iter()
            .fold(
                || vec![0u32; n_keys],
                |mut df, (m, lines)| {
                    let mut last = NO_KEY;
                    for km in m {
                        if km.key != last {
                            df[km.key as usize] += 1;
                            last = km.key;
                        }
                    }
                    for &k in lines {
                        df[k as usize] += 1;
                    }
                    df
                },
            )
            .reduce(
                || vec![0u32; n_keys],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        Scan {
            matches: found.into_iter().map(|(m, _)| m).collect(),
            df,
        }
    }

    /// Corpus idioms: keys found in at least `max(idiom_min_documents, idiom_min_fraction *
    /// documents)` of the scanned documents.
    pub fn idioms(&self, corpus: &Scan) -> CorpusIdioms {
        self.idioms_of(&corpus.df, corpus.len())
    }

    /// [`Self::idioms`] from document frequencies summed over scans of parts of a corpus
    /// (`df` per key, [`Scan::df`]) of `n` documents in all: a sharded run scans each shard,
    /// sums the frequencies, and scores every shard against the idioms of the whole corpus.
    pub fn idioms_of(&self, df: &[u32], n: usize) -> CorpusIdioms {
        let threshold = match self.cfg.idiom_min_documents {
            0 => 0,
            min => min.max((self.cfg.idiom_min_fraction * n as f64).ceil() as usize),
        };
        let (mut idiom_keys_dropped, mut idiom_lines_masked) = (0, 0);
        let dropped: Vec<bool> = self
            .keys
            .iter()
            .zip(df)
            .map(|(k, &d)| {
                let idiom = !k.boilerplate && threshold > 0 && d as usize >= threshold;
                if idiom && k.kind == KeyKind::Line {
                    idiom_lines_masked += 1;
                } else if idiom {
                    idiom_keys_dropped += 1;
                }
                k.boilerplate || idiom
            })
            .collect();
        let (distinctive, masks) = self.leftover(&dropped);
        let stats = CorpusStats {
            documents: n,
            idiom_min_documents: threshold,
            idiom_keys_dropped,
            idiom_lines_masked,
            undetectable_tasks: self.undetectable(&distinctive),
            ..Default::default()
        };
        CorpusIdioms {
            dropped,
            masks,
            distinctive,
            stats,
        }
    }

    /// With `dropped` keys: the distinctive bytes of every unit, and the masked ranges of every
    /// segment.
    fn leftover(&self, dropped: &[bool]) -> (Vec<u32>, Vec<Vec<(u32, u32)>>) {
        let mut distinctive = vec![0u32; self.units.len()];
        let mut masks = Vec::with_capacity(self.segs.len());
        let mut ranges = Vec::new();
        for seg in &self.segs {
            let mut mask: Vec<(u32, u32)> = seg
                .keys
                .iter()
                .filter(|(k, _, _)| {
                    dropped[*k as usize] && self.keys[*k as usize].kind == KeyKind::Line
                })
                .map(|&(_, s, e)| (s, e))
                .collect();
            let mask = merge(&mut mask);
            ranges.clear();
            ranges.extend(
                seg.keys
                    .iter()
                    .filter(|(k, _, _)| {
                        !dropped[*k as usize] && self.keys[*k as usize].kind != KeyKind::Line
                    })
                    .map(|&(_, s, e)| (s, e)),
            );
            distinctive[seg.unit as usize] += unmasked_len(&mut ranges, &mask);
            masks.push(mask);
        }
        (distinctive, masks)
    }

    /// Scores scanned texts against the idioms of a corpus (`scan` and `texts` in the same
    /// order; the corpus may be other texts, as when a snapshot scores its rendered examples
    /// against the documents' idioms).
    pub fn score(&self, texts: &[&str], scan: &Scan, idioms: &CorpusIdioms) -> Assessment {
        assert_eq!(texts.len(), scan.len(), "one scan result per text");
        let scored: Vec<(Vec<Hit>, usize)> = texts
            .par_iter()
            .zip(&scan.matches)
            .map(|(t, m)| self.score_one(t, m, idioms))
            .collect();
        let mut corpus = idioms.stats.clone();
        let mut hits = Vec::with_capacity(scored.len());
        for (h, matched) in scored {
            corpus.pairs_matched += matched;
            corpus.pairs_flagged += h.len();
            hits.push(h);
        }
        Assessment { hits, corpus }
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

    /// Tasks with no distinctive text left, with the reason.
    fn undetectable(&self, distinctive: &[u32]) -> Vec<UndetectableTask> {
        // Per task: has an evidence key, has distinctive text after the task-side rule, has
        // distinctive text now.
        let mut has = vec![(false, false, false); self.task_ids.len()];
        for seg in &self.segs {
            let t = self.units[seg.unit as usize].task as usize;
            has[t].0 |= seg
                .keys
                .iter()
                .any(|(k, _, _)| self.keys[*k as usize].kind != KeyKind::Line);
        }
        for (u, unit) in self.units.iter().enumerate() {
            let t = unit.task as usize;
            has[t].1 |= self.base_distinctive[u] > 0;
            has[t].2 |= distinctive[u] > 0;
        }
        self.task_ids
            .iter()
            .zip(has)
            .filter_map(|(id, (any, task_side, left))| {
                let reason = if !any {
                    Undetectable::TooShort
                } else if !task_side {
                    Undetectable::TaskBoilerplate
                } else if !left {
                    Undetectable::CorpusIdioms
                } else {
                    return None;
                };
                Some(UndetectableTask {
                    task: id.clone(),
                    reason,
                })
            })
            .collect()
    }

    /// The confirmed evidence keys of one text, sorted by key and position, and the distinct
    /// task lines it holds.
    fn matches(&self, doc: &str, sc: &mut Scratch) -> (Vec<KeyMatch>, Vec<u32>) {
        normalize_into(doc, sc);
        phrase_prefix(sc);
        let sc = &*sc;
        let mut found = Vec::new();
        let norm = sc.norm.as_bytes();
        let mut record = |k: u32, word: usize, end: u32, sc: &Scratch| {
            let (start, end) = sc.original_range(doc, word, end);
            found.push(KeyMatch {
                key: k,
                start,
                end,
                norm: sc.starts[word],
            });
        };
        for_each_ngram(
            sc,
            self.cfg.ngram_words,
            pow_wrapping(BASE, self.cfg.ngram_words),
            |key, w, s, e| {
                self.lookup(KeyKind::NGram, key, &norm[s as usize..e as usize], |k| {
                    record(k, w, e, sc)
                });
            },
        );
        for_each_window(
            sc,
            self.cfg.substring_chars,
            pow_wrapping(BASE, self.cfg.substring_chars),
            |key, w, s, e| {
                self.lookup(KeyKind::Window, key, &norm[s as usize..e as usize], |k| {
                    record(k, w, e, sc)
                });
            },
        );
        if !self.phrase_lens.is_empty() {
            let pows: Vec<u64> = self
                .phrase_lens
                .iter()
                .map(|&k| pow_wrapping(BASE, k))
                .collect();
            let n = sc.word_hashes.len();
            for i in 0..n {
                if !test_bit(&self.phrase_first, sc.word_hashes[i], FIRST_WORD_BITS) {
                    continue;
                }
                for (&k, &pow) in self.phrase_lens.iter().zip(&pows) {
                    if i + k > n {
                        break;
                    }
                    let key = phrase_key_at(sc, i, k, pow);
                    let (s, e) = (sc.starts[i] as usize, sc.ends[i + k - 1] as usize);
                    self.lookup(KeyKind::Phrase, key, &norm[s..e], |kid| {
                        record(kid, i, e as u32, sc)
                    });
                }
            }
        }
        let mut line_hits = Vec::new();
        for (a, b) in lines(sc) {
            let key = line_key_at(sc, a, b, pow_wrapping(BASE, b - a));
            let (s, e) = (sc.starts[a] as usize, sc.ends[b - 1] as usize);
            self.lookup(KeyKind::Line, key, &norm[s..e], |k| line_hits.push(k));
        }
        found.sort_unstable();
        found.dedup();
        line_hits.sort_unstable();
        line_hits.dedup();
        (found, line_hits)
    }

    /// Calls `on_hit` with every key of this kind whose hash is `hash` and whose text is
    /// `text` (at most one: equal texts are one key).
    #[inline]
    fn lookup(&self, kind: KeyKind, hash: u64, text: &[u8], mut on_hit: impl FnMut(u32)) {
        if !test_bit(&self.filter, hash, FILTER_BITS) {
            return;
        }
        let mut cur = self.map(kind).get(&hash).copied().unwrap_or(NO_KEY);
        while cur != NO_KEY {
            let k = &self.keys[cur as usize];
            if !k.boilerplate && self.key_text(cur) == text {
                on_hit(cur);
                return;
            }
            cur = k.next;
        }
    }

    /// The flagged hits of one text, and how many tasks it shares distinctive text with.
    fn score_one(
        &self,
        doc: &str,
        matches: &[KeyMatch],
        idioms: &CorpusIdioms,
    ) -> (Vec<Hit>, usize) {
        // One entry per posting (in its task's part) of every match that counts.
        let mut ev: Vec<Ev> = Vec::new();
        for (mi, m) in matches.iter().enumerate() {
            if idioms.dropped[m.key as usize] {
                continue;
            }
            for p in &self.keys[m.key as usize].postings {
                let unit = self.segs[p.seg as usize].unit;
                ev.push(Ev {
                    task: self.units[unit as usize].task,
                    unit,
                    m: mi as u32,
                    seg: p.seg,
                    diag: p.start as i64 - m.norm as i64,
                    ts: p.start,
                    te: p.end,
                    ds: m.start,
                    de: m.end,
                });
            }
        }
        if ev.is_empty() {
            return (Vec::new(), 0);
        }
        ev.sort_unstable();
        let cfg = &self.cfg;
        let mut hits = Vec::new();
        let mut matched_pairs = 0;
        let mut ranges = Vec::new();
        let mut diags = Vec::new();
        let mut chosen = Vec::new();
        for task_ev in ev.chunk_by(|a, b| a.task == b.task) {
            // The best part: flagged first, then by score, then by covered bytes.
            let mut best: Option<(bool, f64, u32, u32, u32)> = None;
            for unit_ev in task_ev.chunk_by(|a, b| a.unit == b.unit) {
                let unit = unit_ev[0].unit;
                // A key the part holds more than once is credited once per match: at the
                // occurrence on the diagonal (task offset - document offset) most other matches
                // share, which is where a contiguous copy puts it.
                diags.clear();
                diags.extend(unit_ev.iter().map(|e| (e.seg, e.diag)));
                diags.sort_unstable();
                let on_diag = |d: (u32, i64)| {
                    diags.partition_point(|x| *x <= d) - diags.partition_point(|x| *x < d)
                };
                chosen.clear();
                for per_match in unit_ev.chunk_by(|a, b| a.m == b.m) {
                    let e = per_match
                        .iter()
                        .max_by_key(|e| (on_diag((e.seg, e.diag)), std::cmp::Reverse(e.ts)))
                        .expect("chunks are not empty");
                    chosen.push((e.seg, e.ts, e.te));
                }
                chosen.sort_unstable();
                let mut covered = 0;
                for seg_ev in chosen.chunk_by(|a, b| a.0 == b.0) {
                    ranges.clear();
                    ranges.extend(seg_ev.iter().map(|e| (e.1, e.2)));
                    covered += unmasked_len(&mut ranges, &idioms.masks[seg_ev[0].0 as usize]);
                }
                let total = idioms.distinctive[unit as usize];
                // Matches inside masked lines only (a window joining two idioms) share nothing.
                if total == 0 || covered == 0 {
                    continue;
                }
                let score = covered as f64 / total as f64;
                let flagged = score >= cfg.min_score
                    || (cfg.min_matched_chars > 0 && covered as usize >= cfg.min_matched_chars);
                let cand = (flagged, score, covered, total, unit);
                if best.is_none_or(|b| (cand.0, cand.1, cand.2) > (b.0, b.1, b.2)) {
                    best = Some(cand);
                }
            }
            matched_pairs += best.is_some() as usize;
            let Some((true, score, covered, total, unit)) = best else {
                continue;
            };
            let mut doc_ranges: Vec<(u32, u32)> = task_ev.iter().map(|e| (e.ds, e.de)).collect();
            let spans = merge(&mut doc_ranges);
            let longest = spans.iter().map(|(s, e)| e - s).max().unwrap_or(0);
            let mut top: Vec<(u32, u32)> = spans.clone();
            top.sort_by_key(|&(s, e)| (std::cmp::Reverse(e - s), s));
            top.truncate(MAX_SPANS);
            top.sort_unstable();
            hits.push(Hit {
                task_id: self.task_ids[task_ev[0].task as usize].clone(),
                score: (score * 10_000.0).round() / 10_000.0,
                part: self.units[unit as usize].part,
                matched_chars: covered as usize,
                distinctive_chars: total as usize,
                longest_chars: longest as usize,
                spans: top
                    .into_iter()
                    .map(|(s, e)| Span {
                        start: s as usize,
                        end: e as usize,
                        text: truncate(&doc[s as usize..e as usize], SPAN_TEXT_CHARS),
                    })
                    .collect(),
            });
        }
        (hits, matched_pairs)
    }
}

/// The text a document is scanned as: its text, or for a dataset row the contents of its
/// messages (or its prompt and completion) joined by line breaks, decoded from the row's JSON
/// (escaped, `\n\tif` would read as the word `ntif`). Span offsets are into this text.
pub fn document_text(doc: &crate::core::Document) -> std::borrow::Cow<'_, str> {
    if doc.provenance.unit_kind != crate::core::UnitKind::ChatExample {
        return std::borrow::Cow::Borrowed(&doc.text);
    }
    let row: serde_json::Value = match serde_json::from_str(&doc.text) {
        Ok(v) => v,
        Err(_) => return std::borrow::Cow::Borrowed(&doc.text),
    };
    let parts: Vec<&str> = match row.get("messages").and_then(|m| m.as_array()) {
        Some(ms) => ms.iter().filter_map(|m| m["content"].as_str()).collect(),
        None => ["prompt", "completion"]
            .iter()
            .filter_map(|k| row.get(*k).and_then(|v| v.as_str()))
            .collect(),
    };
    std::borrow::Cow::Owned(parts.join("\n"))
}

/// The detail of a contaminated item's exclusion: every task with its score and part, and the
/// longest matched stretch.
pub fn describe(hits: &[Hit]) -> String {
    let tasks: Vec<String> = hits
        .iter()
        .map(|h| format!("{} ({:.2} of its {})", h.task_id, h.score, h.part.as_str()))
        .collect();
    let longest = hits
        .iter()
        .flat_map(|h| &h.spans)
        .max_by_key(|s| (s.end - s.start, std::cmp::Reverse(s.start)));
    format!(
        "shares distinctive text with eval task(s) {}: \"{}\"",
        tasks.join(", "),
        longest.map_or("", |s| s.text.as_str())
    )
}

/// One posting of a matched key, for scoring: sorted by task, part and match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ev {
    task: u32,
    unit: u32,
    /// The match (index into the text's matches).
    m: u32,
    seg: u32,
    /// Task offset minus document offset, both normalized.
    diag: i64,
    /// Range in the task's run, and in the document's original text.
    ts: u32,
    te: u32,
    ds: u32,
    de: u32,
}

/// Total length of the union of ranges (sorted in place) outside `mask` (sorted, disjoint).
fn unmasked_len(ranges: &mut [(u32, u32)], mask: &[(u32, u32)]) -> u32 {
    let union = merge(ranges);
    let total: u32 = union.iter().map(|(s, e)| e - s).sum();
    // Both lists are sorted and disjoint: walk them together for the overlap.
    let (mut i, mut j, mut overlap) = (0, 0, 0);
    while i < union.len() && j < mask.len() {
        let (a, b) = (union[i], mask[j]);
        let (s, e) = (a.0.max(b.0), a.1.min(b.1));
        if s < e {
            overlap += e - s;
        }
        if a.1 < b.1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    total - overlap
}

/// The union of ranges as sorted disjoint ranges (touching ranges are joined).
fn merge(ranges: &mut [(u32, u32)]) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &(s, e) in ranges.iter() {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn truncate(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[inline]
fn set_bit(bits: &mut [u64], key: u64, width: u32) {
    let bit = (key >> (64 - width)) as usize;
    bits[bit >> 6] |= 1 << (bit & 63);
}

#[inline]
fn test_bit(bits: &[u64], key: u64, width: u32) -> bool {
    let bit = (key >> (64 - width)) as usize;
    bits[bit >> 6] & (1 << (bit & 63)) != 0
}
