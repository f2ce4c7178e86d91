//! Leak-free, balanced train/valid/test assignment and a verifier for cross-split duplicates.
//!
//! Each item (a document) sits in a grouping hierarchy: its source, its file within the source,
//! and the item itself (a docs section, an API member, a row of a dataset). Items that share an
//! exact (normalized) content key or a near-dup cluster always share a split: that is the
//! leak-free part, and nothing here ever relaxes it. On top of it the configured grouping
//! (`source` or `file`) keeps related items together. Union-find over both gives the groups
//! ("components") that are assigned whole.
//!
//! Balance. Unless the grouping is strict, a component holding more counted items than the
//! smallest non-zero split's share (`cap`) is broken down along a finer key: first the groups in
//! it that are larger than `cap` by themselves go one level down (source -> file -> item),
//! then, when it is still too large because duplicates bridge several groups, all of its items
//! do; repeated until every component fits or only duplicate clusters are left. Components are
//! then placed largest first (in power-of-two size classes, seeded order within a class), each
//! into the split where it least increases `sum((count - target)^2 / target)`, i.e. the split
//! furthest below its target relative to the target's size, with the component's own size
//! weighed against overshooting. The smallest components are kept for splits that would
//! otherwise stay empty, so every non-zero target gets something when there are enough
//! components.
//!
//! Only counted items (documents no audit dropped for good) are balanced, since they are what
//! the export holds. An item that is not counted carries its duplicate keys (so it follows its
//! duplicates and the verifier stays clean on every document) but no grouping key: a dropped
//! boilerplate file must never glue two sources into one component.
//!
//! The result depends only on the items' ids and keys, the seed and the settings: never on
//! input order, thread count or run.
//!
//! The verifier recomputes exact (normalized) and near duplicates from the texts themselves and
//! reports every one that crosses splits. It must find none on our own assignment; it exists to
//! catch what a per-row split does (e.g. oversampling before splitting).
//!
//! Oversampling or mixing belongs after the split, inside train only; nothing here duplicates
//! items.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::cluster::UnionFind;
use super::minhash::{near_duplicates, NearDupConfig, NearDupError, NearDupResult};
use super::normalize::{content_key, NormalizeOptions};
use crate::core::hash::hash_bytes;
use crate::workspace::settings::{GroupBy, SplitsConfig};

/// How far (in fractions of the counted items, so 0.05 is 5 points) a split may land from its
/// target before the audit warns.
pub const TOLERANCE: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

/// The key an item is grouped by, coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupLevel {
    /// Its whole source.
    Source,
    /// Its file within the source, with all the file's sections or members.
    File,
    /// The item alone: only its duplicates keep it company.
    Document,
}

impl GroupLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupLevel::Source => "source",
            GroupLevel::File => "file",
            GroupLevel::Document => "document",
        }
    }

    fn finer(self) -> GroupLevel {
        match self {
            GroupLevel::Source => GroupLevel::File,
            GroupLevel::File | GroupLevel::Document => GroupLevel::Document,
        }
    }
}

impl From<GroupBy> for GroupLevel {
    fn from(g: GroupBy) -> Self {
        match g {
            GroupBy::Source => GroupLevel::Source,
            GroupBy::File => GroupLevel::File,
        }
    }
}

/// Seed, target fractions (of counted items) per split, and the grouping; fractions must be
/// >= 0 and sum to 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    pub seed: u64,
    pub train: f64,
    pub valid: f64,
    pub test: f64,
    /// The coarsest grouping: `Source` or `File` (`Document` keeps only duplicates together).
    pub group_by: GroupLevel,
    /// Keep every group at `group_by` whole, even one larger than a split's share (the result
    /// may then miss its targets; [`SplitAssignment::warnings`] says by how much).
    pub strict: bool,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self::from(&SplitsConfig::default())
    }
}

/// The `[splits]` settings of `vcurate.toml`.
impl From<&SplitsConfig> for SplitConfig {
    fn from(s: &SplitsConfig) -> Self {
        SplitConfig {
            seed: s.seed,
            train: s.train,
            valid: s.valid,
            test: s.test,
            group_by: s.group_by.into(),
            strict: s.strict,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error(
        "split fractions must be >= 0 and sum to 1, got train {train}, valid {valid}, test {test}"
    )]
    Fractions { train: f64, valid: f64, test: f64 },
    #[error("split verifier got {splits} splits for {texts} texts; pass one split per text")]
    Length { texts: usize, splits: usize },
    #[error("split `{split}` has a target of {target} but got no documents; achieved: {achieved}; {hint}")]
    Empty {
        split: &'static str,
        target: String,
        achieved: String,
        hint: String,
    },
    #[error(transparent)]
    NearDup(#[from] NearDupError),
}

/// One item to assign (a document).
#[derive(Debug, Clone)]
pub struct SplitItem<'a> {
    /// A stable id (the document id). Components are named by their smallest id, so the
    /// assignment never depends on input order.
    pub id: &'a str,
    pub source: &'a str,
    /// The file within the source.
    pub file: &'a str,
    /// Duplicate keys ([`leak_keys`]): items sharing one always share a split.
    pub leak_keys: Vec<String>,
    /// Counts toward the split sizes (a document no audit dropped for good). An item that does
    /// not count keeps its duplicate keys but is grouped by nothing else.
    pub counted: bool,
}

/// The split of every item, the component it was assigned with, and what was achieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitAssignment {
    pub splits: Vec<Split>,
    /// Component per item (0.. in order of each component's first item).
    pub groups: Vec<usize>,
    pub n_groups: usize,
    /// The level each item was finally grouped at (counted items start at `group_by`; items
    /// that do not count are at `Document`).
    pub levels: Vec<GroupLevel>,
    /// Items per split, in `Split::ALL` order.
    pub counts: [usize; 3],
    /// Counted items per split, in `Split::ALL` order.
    pub counted: [usize; 3],
    /// The target fractions, in `Split::ALL` order.
    pub targets: [f64; 3],
    /// Components holding at least one counted item.
    pub counted_groups: usize,
    /// Counted items of the largest component.
    pub largest_group: usize,
    /// Sources whose counted items were grouped below source level, sorted.
    pub broken_down_sources: Vec<String>,
    /// Files whose counted items were grouped one by one.
    pub broken_down_files: usize,
    pub group_by: GroupLevel,
    pub strict: bool,
}

impl SplitAssignment {
    /// All counted items.
    pub fn total_counted(&self) -> usize {
        self.counted.iter().sum()
    }

    /// The achieved fraction of counted items per split (0 when nothing counts).
    pub fn fractions(&self) -> [f64; 3] {
        let total = self.total_counted();
        self.counted.map(|c| {
            if total == 0 {
                0.0
            } else {
                c as f64 / total as f64
            }
        })
    }

    /// `train 3 (100.0%), valid 0 (0.0%), test 0 (0.0%) of 3 kept documents`
    pub fn achieved(&self) -> String {
        let fr = self.fractions();
        let parts: Vec<String> = Split::ALL
            .iter()
            .map(|s| {
                let i = *s as usize;
                format!("{} {} ({})", s.as_str(), self.counted[i], pct(fr[i]))
            })
            .collect();
        format!(
            "{} of {} kept documents",
            parts.join(", "),
            self.total_counted()
        )
    }

    /// An error naming the first split with a non-zero target that got no counted item, what
    /// was achieved and what to change. mlx-lm refuses an empty `valid.jsonl`, so an empty
    /// split is never a silent pass.
    pub fn check_nonempty(&self) -> Result<(), SplitError> {
        let Some(s) = Split::ALL
            .into_iter()
            .find(|s| self.targets[*s as usize] > 0.0 && self.counted[*s as usize] == 0)
        else {
            return Ok(());
        };
        let name = s.as_str();
        let hint = if self.total_counted() == 0 {
            "no document passed the earlier audits, so there is nothing to split: add data or \
             relax the audits"
                .to_string()
        } else {
            let strict = if self.strict && self.group_by != GroupLevel::Document {
                format!(
                    " and `strict = true` keeps each {} whole; set `strict = false` under [splits] \
                     to break groups larger than a split's share down, or",
                    self.group_by.as_str()
                )
            } else {
                ":".to_string()
            };
            format!(
                "the kept documents form only {} group(s) that must stay together (exact and near \
                 duplicates always do){strict} add data, or set `{name} = 0` under [splits] in \
                 vcurate.toml and give its share to another split",
                self.counted_groups
            )
        };
        Err(SplitError::Empty {
            split: name,
            target: pct(self.targets[s as usize]),
            achieved: self.achieved(),
            hint,
        })
    }

    /// One line per split that landed more than [`TOLERANCE`] from its target, with the
    /// achieved fractions and why.
    pub fn warnings(&self) -> Vec<String> {
        let total = self.total_counted();
        if total == 0 {
            return Vec::new();
        }
        let fr = self.fractions();
        let why = if self.strict && self.group_by != GroupLevel::Document {
            format!(
                "`strict = true` keeps each {} whole and the largest group holds {} of {total} \
                 kept documents; `strict = false` breaks groups larger than a split's share down",
                self.group_by.as_str(),
                self.largest_group
            )
        } else {
            format!(
                "exact and near duplicates keep {} of {total} kept documents in one group, and \
                 there are {} groups in all",
                self.largest_group, self.counted_groups
            )
        };
        Split::ALL
            .iter()
            .filter(|s| (fr[**s as usize] - self.targets[**s as usize]).abs() > TOLERANCE)
            .map(|s| {
                let i = *s as usize;
                format!(
                    "split `{}` got {} of the kept documents, target {}; achieved: {}; {why}",
                    s.as_str(),
                    pct(fr[i]),
                    pct(self.targets[i]),
                    self.achieved()
                )
            })
            .collect()
    }
}

/// `0.1` -> `10.0%`
fn pct(f: f64) -> String {
    format!("{:.1}%", f * 100.0)
}

/// The key grouping an item at a level (`None` at `Document`). Source and file keys are
/// tagged so they can never collide.
fn group_key(item: &SplitItem, level: GroupLevel) -> Option<String> {
    match level {
        GroupLevel::Source => Some(format!("s\u{0}{}", item.source)),
        GroupLevel::File => Some(format!("f\u{0}{}\u{0}{}", item.source, item.file)),
        GroupLevel::Document => None,
    }
}

/// Component per item (union-find over group keys and duplicate keys) and their number.
fn components(items: &[SplitItem], gkeys: &[Option<String>]) -> (Vec<usize>, usize) {
    let mut uf = UnionFind::new(items.len());
    let mut first_group: HashMap<&str, usize> = HashMap::new();
    let mut first_leak: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(k) = &gkeys[i] {
            uf.union(*first_group.entry(k.as_str()).or_insert(i), i);
        }
        for k in &item.leak_keys {
            uf.union(*first_leak.entry(k.as_str()).or_insert(i), i);
        }
    }
    let ids = uf.component_ids();
    let n = ids.iter().copied().max().map_or(0, |m| m + 1);
    (ids, n)
}

/// One round of breaking down: in every component with more than `cap` counted items, the
/// groups larger than `cap` by themselves go one level finer; when there is none (duplicates
/// bridge several small groups), all of the component's items do. Returns whether any level
/// changed.
fn break_down(
    items: &[SplitItem],
    levels: &mut [GroupLevel],
    gkeys: &[Option<String>],
    comp: &[usize],
    n_comp: usize,
    cap: f64,
) -> bool {
    let over = |w: usize| w as f64 > cap;
    let mut comp_w = vec![0usize; n_comp];
    let mut group_w: HashMap<&str, usize> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        if it.counted {
            comp_w[comp[i]] += 1;
            if let Some(k) = &gkeys[i] {
                *group_w.entry(k.as_str()).or_default() += 1;
            }
        }
    }
    let group_over = |i: usize| gkeys[i].as_deref().is_some_and(|k| over(group_w[k]));
    let mut has_big_group = vec![false; n_comp];
    for (i, &c) in comp.iter().enumerate() {
        if group_over(i) {
            has_big_group[c] = true;
        }
    }
    let mut changed = false;
    for (i, &c) in comp.iter().enumerate() {
        if levels[i] == GroupLevel::Document || !over(comp_w[c]) {
            continue;
        }
        if !has_big_group[c] || group_over(i) {
            levels[i] = levels[i].finer();
            changed = true;
        }
    }
    changed
}

/// The split in `pool` where adding `w` items least increases `sum((have - target)^2 / target)`:
/// the largest `(2 * (target - have) - w) / target`. Ties go to the earlier split.
fn best_split(pool: &[usize], target: &[f64; 3], have: &[usize; 3], w: usize) -> usize {
    let mut best = pool[0];
    let mut best_score = f64::NEG_INFINITY;
    for &s in pool {
        let score = (2.0 * (target[s] - have[s] as f64) - w as f64) / target[s];
        if score > best_score {
            best_score = score;
            best = s;
        }
    }
    best
}

/// Assign every item to a split: leak-free components, broken down where they are larger than
/// a split's share (unless strict), placed so each split lands near its target by counted
/// items. See the module docs for the procedure.
pub fn assign_splits(
    items: &[SplitItem],
    cfg: &SplitConfig,
) -> Result<SplitAssignment, SplitError> {
    let fr = [cfg.train, cfg.valid, cfg.test];
    if fr.iter().any(|f| f.is_nan() || *f < 0.0) || (fr.iter().sum::<f64>() - 1.0).abs() > 1e-9 {
        return Err(SplitError::Fractions {
            train: cfg.train,
            valid: cfg.valid,
            test: cfg.test,
        });
    }
    let n = items.len();
    let total = items.iter().filter(|it| it.counted).count();
    // The smallest non-zero split's share: a component larger than this fits fewer splits.
    let cap = fr
        .iter()
        .filter(|f| **f > 0.0)
        .map(|f| f * total as f64)
        .fold(f64::INFINITY, f64::min);
    let mut levels: Vec<GroupLevel> = items
        .iter()
        .map(|it| {
            if it.counted {
                cfg.group_by
            } else {
                GroupLevel::Document
            }
        })
        .collect();
    let (comp, n_comp) = loop {
        let gkeys: Vec<Option<String>> = items
            .iter()
            .zip(&levels)
            .map(|(it, &l)| group_key(it, l))
            .collect();
        let (comp, n_comp) = components(items, &gkeys);
        if cfg.strict || !break_down(items, &mut levels, &gkeys, &comp, n_comp, cap) {
            break (comp, n_comp);
        }
    };

    let mut comp_w = vec![0usize; n_comp];
    let mut comp_n = vec![0usize; n_comp];
    let mut names: Vec<&str> = vec![""; n_comp];
    for (i, it) in items.iter().enumerate() {
        let c = comp[i];
        if comp_n[c] == 0 || it.id < names[c] {
            names[c] = it.id;
        }
        comp_n[c] += 1;
        comp_w[c] += it.counted as usize;
    }
    // Largest first by power-of-two size class (items that do not count last), seeded order
    // within a class.
    let class = |w: usize| usize::BITS - w.leading_zeros();
    let mut order: Vec<usize> = (0..n_comp).collect();
    order.sort_by_cached_key(|&c| {
        (
            Reverse(class(comp_w[c])),
            hash_bytes(names[c].as_bytes(), cfg.seed),
            names[c],
            Reverse(comp_w[c]),
            Reverse(comp_n[c]),
        )
    });
    let target_counted = fr.map(|f| f * total as f64);
    let target_all = fr.map(|f| f * n as f64);
    let nonzero: Vec<usize> = (0..3).filter(|&s| fr[s] > 0.0).collect();
    let counted_groups = comp_w.iter().filter(|&&w| w > 0).count();
    let mut left = counted_groups;
    let mut counts = [0usize; 3];
    let mut counted = [0usize; 3];
    let mut comp_split = vec![Split::Train; n_comp];
    for c in order {
        let s = if comp_w[c] > 0 {
            // Keep the last (smallest) components for splits that are still empty.
            let empty: Vec<usize> = nonzero
                .iter()
                .copied()
                .filter(|&s| counted[s] == 0)
                .collect();
            left -= 1;
            let pool = if !empty.is_empty() && left < empty.len() {
                &empty
            } else {
                &nonzero
            };
            best_split(pool, &target_counted, &counted, comp_w[c])
        } else {
            best_split(&nonzero, &target_all, &counts, comp_n[c])
        };
        comp_split[c] = Split::ALL[s];
        counts[s] += comp_n[c];
        counted[s] += comp_w[c];
    }

    let mut broken_sources = BTreeSet::new();
    let mut broken_files = BTreeSet::new();
    for (it, &l) in items.iter().zip(&levels) {
        if it.counted && l > cfg.group_by {
            if cfg.group_by == GroupLevel::Source {
                broken_sources.insert(it.source);
            }
            if l == GroupLevel::Document {
                broken_files.insert((it.source, it.file));
            }
        }
    }
    Ok(SplitAssignment {
        splits: comp.iter().map(|&c| comp_split[c]).collect(),
        groups: comp,
        n_groups: n_comp,
        levels,
        counts,
        counted,
        targets: fr,
        counted_groups,
        largest_group: comp_w.iter().copied().max().unwrap_or(0),
        broken_down_sources: broken_sources.into_iter().map(String::from).collect(),
        broken_down_files: broken_files.len(),
        group_by: cfg.group_by,
        strict: cfg.strict,
    })
}

/// The keys that keep duplicates in one split under `verify_splits` with the same options: the
/// exact normalized content (`exact:`) and the near-dup cluster (`near:`, from `near`, computed
/// over the same `texts`).
pub fn leak_keys(
    texts: &[&str],
    near: &NearDupResult,
    norm: &NormalizeOptions,
) -> Vec<Vec<String>> {
    use rayon::prelude::*;
    let mut keys: Vec<Vec<String>> = texts
        .par_iter()
        .map(|t| vec![format!("exact:{}", content_key(t, norm))])
        .collect();
    for c in &near.clusters {
        for &m in &c.members {
            keys[m].push(format!("near:{}", c.representative));
        }
    }
    keys
}

/// Items that share normalized content across splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactLeak {
    pub content_key: String,
    pub members: Vec<(usize, Split)>,
}

/// A verified near-duplicate pair whose two items are in different splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearLeak {
    pub a: usize,
    pub b: usize,
    pub jaccard: f64,
    pub split_a: Split,
    pub split_b: Split,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakReport {
    pub exact: Vec<ExactLeak>,
    pub near: Vec<NearLeak>,
    /// Items outside train that have an exact copy in train (the "valid rows byte-identical to
    /// training rows" failure), per split in `Split::ALL` order (train is always 0).
    pub exact_copies_of_train: [usize; 3],
    /// Near-dup clusters whose members are in more than one split.
    pub near_clusters_crossing: usize,
}

impl LeakReport {
    pub fn is_clean(&self) -> bool {
        self.exact.is_empty() && self.near.is_empty() && self.near_clusters_crossing == 0
    }
}

/// Find exact and near duplicates shared across splits, from the texts alone.
pub fn verify_splits(
    texts: &[&str],
    splits: &[Split],
    near_cfg: &NearDupConfig,
    norm: &NormalizeOptions,
) -> Result<LeakReport, SplitError> {
    use rayon::prelude::*;
    if texts.len() != splits.len() {
        return Err(SplitError::Length {
            texts: texts.len(),
            splits: splits.len(),
        });
    }
    let keys: Vec<String> = texts.par_iter().map(|t| content_key(t, norm)).collect();
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        by_key.entry(k.as_str()).or_default().push(i);
    }
    let mut exact: Vec<ExactLeak> = by_key
        .into_iter()
        .filter(|(_, m)| m.iter().any(|&i| splits[i] != splits[m[0]]))
        .map(|(k, m)| ExactLeak {
            content_key: k.to_string(),
            members: m.iter().map(|&i| (i, splits[i])).collect(),
        })
        .collect();
    exact.sort_by_key(|l| l.members[0].0);
    let mut exact_copies_of_train = [0usize; 3];
    for l in &exact {
        if l.members.iter().any(|(_, s)| *s == Split::Train) {
            for (_, s) in &l.members {
                if *s != Split::Train {
                    exact_copies_of_train[*s as usize] += 1;
                }
            }
        }
    }
    let near_res = near_duplicates(texts, near_cfg)?;
    let near: Vec<NearLeak> = near_res
        .pairs
        .iter()
        .filter(|(a, b, _)| splits[*a] != splits[*b])
        .map(|&(a, b, jaccard)| NearLeak {
            a,
            b,
            jaccard,
            split_a: splits[a],
            split_b: splits[b],
        })
        .collect();
    let near_clusters_crossing = near_res
        .clusters
        .iter()
        .filter(|c| c.members.iter().any(|&m| splits[m] != splits[c.members[0]]))
        .count();
    Ok(LeakReport {
        exact,
        near,
        exact_copies_of_train,
        near_clusters_crossing,
    })
}

/// [`verify_splits`] from the duplicate clusters the exact-dedup and near-dedup audits found
/// (cluster per item, `None` for none), when the texts are not at hand (a corpus streamed from
/// the store): an exact cluster crossing splits is an exact leak (named `cluster <n>`, no
/// content key), a near cluster crossing splits counts in `near_clusters_crossing` (no pairs).
pub fn verify_clusters(
    exact: &[Option<u32>],
    near: &[Option<u32>],
    splits: &[Split],
) -> Result<LeakReport, SplitError> {
    for t in [exact.len(), near.len()] {
        if t != splits.len() {
            return Err(SplitError::Length {
                texts: t,
                splits: splits.len(),
            });
        }
    }
    let members = |clusters: &[Option<u32>]| {
        let mut by: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
        for (i, c) in clusters.iter().enumerate() {
            if let Some(c) = c {
                by.entry(*c).or_default().push(i);
            }
        }
        by
    };
    let crossing = |m: &Vec<usize>| m.iter().any(|&i| splits[i] != splits[m[0]]);
    let mut exact_copies_of_train = [0usize; 3];
    let mut leaks = Vec::new();
    for (c, m) in members(exact) {
        if crossing(&m) {
            if m.iter().any(|&i| splits[i] == Split::Train) {
                for &i in &m {
                    if splits[i] != Split::Train {
                        exact_copies_of_train[splits[i] as usize] += 1;
                    }
                }
            }
            leaks.push(ExactLeak {
                content_key: format!("cluster {c}"),
                members: m.iter().map(|&i| (i, splits[i])).collect(),
            });
        }
    }
    leaks.sort_by_key(|l| l.members[0].0);
    Ok(LeakReport {
        exact: leaks,
        near: Vec::new(),
        exact_copies_of_train,
        near_clusters_crossing: members(near).values().filter(|m| crossing(m)).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::SplitMix64;

    /// One document as a test owns it; [`items`] borrows them as split items.
    #[derive(Clone)]
    struct Row {
        id: String,
        source: String,
        file: String,
        leak: Vec<String>,
        counted: bool,
    }

    fn row(id: impl Into<String>, source: &str, file: impl Into<String>) -> Row {
        Row {
            id: id.into(),
            source: source.into(),
            file: file.into(),
            leak: Vec::new(),
            counted: true,
        }
    }

    fn items(rows: &[Row]) -> Vec<SplitItem<'_>> {
        rows.iter()
            .map(|r| SplitItem {
                id: &r.id,
                source: &r.source,
                file: &r.file,
                leak_keys: r.leak.clone(),
                counted: r.counted,
            })
            .collect()
    }

    /// The split of every row, by id.
    fn by_id(rows: &[Row], a: &SplitAssignment) -> HashMap<String, Split> {
        rows.iter()
            .zip(&a.splits)
            .map(|(r, s)| (r.id.clone(), *s))
            .collect()
    }

    /// Splits that rows with the same `key` landed in, per key.
    fn splits_per<F: Fn(&Row) -> String>(
        rows: &[Row],
        a: &SplitAssignment,
        key: F,
    ) -> HashMap<String, BTreeSet<Split>> {
        let mut out: HashMap<String, BTreeSet<Split>> = HashMap::new();
        for (r, s) in rows.iter().zip(&a.splits) {
            out.entry(key(r)).or_default().insert(*s);
        }
        out
    }

    /// A workspace dominated by one docs source: `pages` pages of `sections` sections each,
    /// plus `repos` repositories of `files` files each.
    fn dominated(pages: usize, sections: usize, repos: usize, files: usize) -> Vec<Row> {
        let mut rows = Vec::new();
        for p in 0..pages {
            for s in 0..sections {
                rows.push(row(
                    format!("docs-{p}-{s}"),
                    "docs",
                    format!("content/page{p}.md"),
                ));
            }
        }
        for r in 0..repos {
            for f in 0..files {
                rows.push(row(
                    format!("repo{r}-{f}"),
                    &format!("repo{r}"),
                    format!("src/M{f}.luau"),
                ));
            }
        }
        rows
    }

    /// A dataset like the one that motivated this audit: 150 distinct snippets from 30 repos,
    /// oversampled x3 before splitting, with the copies differing only in line endings or
    /// trailing spaces, plus a lightly edited near copy of every fifth snippet.
    fn oversampled() -> (Vec<String>, Vec<String>) {
        let mut rng = SplitMix64::new(11);
        let mut texts = Vec::new();
        let mut repos = Vec::new();
        for i in 0..150 {
            let lines: Vec<String> = (0..25)
                .map(|k| {
                    format!(
                        "local v{}_{k} = game:GetService(\"S{}\"):Get{}(v{k}, {})",
                        i,
                        rng.below(1000),
                        rng.below(1000),
                        rng.below(1000)
                    )
                })
                .collect();
            let base = lines.join("\n");
            let repo = format!("repo{}", i % 30);
            for copy in 0..3 {
                texts.push(match copy {
                    0 => base.clone(),
                    1 => base.replace('\n', "\r\n"),
                    _ => format!("{}   \n\n", base),
                });
                repos.push(repo.clone());
            }
            if i % 5 == 0 {
                let mut edited = lines.clone();
                edited[3] = "print(\"patched\")".into();
                texts.push(edited.join("\n"));
                // A fork: the near copy lives in another repo.
                repos.push(format!("fork{i}"));
            }
        }
        (texts, repos)
    }

    #[test]
    fn naive_row_split_leaks_and_grouped_split_does_not() {
        let (texts, repos) = oversampled();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let near_cfg = NearDupConfig::default();
        let norm = NormalizeOptions::default();

        // Naive: shuffle rows with a seed, cut 80/10/10.
        let mut rng = SplitMix64::new(1);
        let mut order: Vec<usize> = (0..texts.len()).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, rng.below(k + 1));
        }
        let mut naive = vec![Split::Train; texts.len()];
        for (pos, &i) in order.iter().enumerate() {
            let f = pos as f64 / texts.len() as f64;
            naive[i] = if f < 0.8 {
                Split::Train
            } else if f < 0.9 {
                Split::Valid
            } else {
                Split::Test
            };
        }
        let naive_report = verify_splits(&refs, &naive, &near_cfg, &norm).unwrap();
        assert!(!naive_report.is_clean());
        assert!(
            naive_report.exact.len() > 20,
            "{}",
            naive_report.exact.len()
        );
        assert!(naive_report.exact_copies_of_train[1] > 10);
        assert!(!naive_report.near.is_empty());

        // Ours: group by repo, exact key and near cluster.
        let near = near_duplicates(&refs, &near_cfg).unwrap();
        let rows: Vec<Row> = leak_keys(&refs, &near, &norm)
            .into_iter()
            .zip(&repos)
            .enumerate()
            .map(|(i, (leak, repo))| Row {
                leak,
                ..row(format!("d{i}"), repo, format!("f{i}.luau"))
            })
            .collect();
        let ours = assign_splits(&items(&rows), &SplitConfig::default()).unwrap();
        let report = verify_splits(&refs, &ours.splits, &near_cfg, &norm).unwrap();
        assert!(report.is_clean(), "{report:?}");
        // Still a real split: every split near its target.
        for (f, t) in ours.fractions().iter().zip(ours.targets) {
            assert!((f - t).abs() < 0.03, "{:?}", ours.counted);
        }
        ours.check_nonempty().unwrap();
    }

    #[test]
    fn assignment_is_deterministic_by_seed_independent_of_order_and_keeps_groups_together() {
        let rows: Vec<Row> = (0..400)
            .map(|i| {
                let mut r = row(format!("d{i:03}"), &format!("repo{}", i % 97), "f.luau");
                if i % 10 == 0 {
                    // Bridges repos into one group.
                    r.leak.push(format!("near:{}", i % 3));
                }
                r
            })
            .collect();
        let cfg = SplitConfig {
            seed: 5,
            group_by: GroupLevel::Source,
            strict: true,
            ..Default::default()
        };
        let a = assign_splits(&items(&rows), &cfg).unwrap();
        assert_eq!(a, assign_splits(&items(&rows), &cfg).unwrap());
        let c = assign_splits(
            &items(&rows),
            &SplitConfig {
                seed: 6,
                ..cfg.clone()
            },
        )
        .unwrap();
        assert_ne!(a.splits, c.splits, "another seed gives another split");
        for (i, ri) in rows.iter().enumerate() {
            for (j, rj) in rows.iter().enumerate().skip(i + 1) {
                if ri.source == rj.source || ri.leak.iter().any(|k| rj.leak.contains(k)) {
                    assert_eq!(a.splits[i], a.splits[j], "rows {i} and {j} share a key");
                }
            }
        }
        // Input order does not matter, broken down or not.
        for strict in [true, false] {
            let cfg = SplitConfig {
                strict,
                ..cfg.clone()
            };
            let a = assign_splits(&items(&rows), &cfg).unwrap();
            let mut shuffled = rows.clone();
            let mut rng = SplitMix64::new(9);
            for k in (1..shuffled.len()).rev() {
                shuffled.swap(k, rng.below(k + 1));
            }
            let b = assign_splits(&items(&shuffled), &cfg).unwrap();
            assert_eq!(by_id(&rows, &a), by_id(&shuffled, &b));
            assert_eq!(a.counted, b.counted);
        }
    }

    /// The failure of issue 11: one source with 80% of the documents, grouped by source, gave
    /// an empty valid split. It is broken down into its pages; the small repositories stay
    /// whole; every split lands near its target.
    #[test]
    fn a_dominant_source_is_broken_down_and_every_split_lands_near_its_target() {
        let rows = dominated(100, 8, 10, 20);
        for seed in 0..8 {
            let cfg = SplitConfig {
                seed,
                ..Default::default()
            };
            let a = assign_splits(&items(&rows), &cfg).unwrap();
            a.check_nonempty().unwrap();
            for (f, t) in a.fractions().iter().zip(a.targets) {
                assert!((f - t).abs() <= 0.02, "seed {seed}: {}", a.achieved());
            }
            assert!(a.warnings().is_empty(), "{:?}", a.warnings());
            assert_eq!(a.broken_down_sources, vec!["docs".to_string()]);
            assert_eq!(a.broken_down_files, 0, "pages fit a split's share");
            for (key, splits) in splits_per(&rows, &a, |r| {
                if r.source == "docs" {
                    r.file.clone()
                } else {
                    r.source.clone()
                }
            }) {
                assert_eq!(splits.len(), 1, "{key} is in {splits:?}");
            }
            // Held-out splits are not docs alone: some repository lands outside train.
            let held_out_repos = rows
                .iter()
                .zip(&a.splits)
                .filter(|(r, s)| r.source != "docs" && **s != Split::Train)
                .count();
            assert!(held_out_repos > 0, "seed {seed}: {}", a.achieved());
        }
    }

    #[test]
    fn strict_keeps_sources_whole_and_warns_with_the_achieved_fractions() {
        let rows = dominated(90, 10, 5, 20);
        let cfg = SplitConfig {
            strict: true,
            ..Default::default()
        };
        let a = assign_splits(&items(&rows), &cfg).unwrap();
        for (key, splits) in splits_per(&rows, &a, |r| r.source.clone()) {
            assert_eq!(splits.len(), 1, "{key} is in {splits:?}");
        }
        assert!(a.broken_down_sources.is_empty());
        assert_eq!(a.largest_group, 900);
        a.check_nonempty().unwrap();
        let w = a.warnings();
        assert!(!w.is_empty());
        assert!(
            w.iter().any(|w| w.starts_with("split `train` got 90.0%")
                && w.contains("target 80.0%")
                && w.contains("strict = false")),
            "{w:?}"
        );
        // The same workspace without strict lands on target.
        let b = assign_splits(&items(&rows), &SplitConfig::default()).unwrap();
        assert!(b.warnings().is_empty(), "{}", b.achieved());
    }

    #[test]
    fn a_file_larger_than_a_share_is_broken_into_its_sections() {
        // One API page with 300 members, 20 small pages, grouped by file.
        let mut rows: Vec<Row> = (0..300)
            .map(|m| row(format!("api-{m:03}"), "docs", "api/Instance.yaml"))
            .collect();
        for p in 0..20 {
            for s in 0..5 {
                rows.push(row(format!("page{p}-{s}"), "docs", format!("page{p}.md")));
            }
        }
        let cfg = SplitConfig {
            group_by: GroupLevel::File,
            ..Default::default()
        };
        let a = assign_splits(&items(&rows), &cfg).unwrap();
        assert_eq!(a.broken_down_files, 1);
        assert!(a.broken_down_sources.is_empty());
        for (f, t) in a.fractions().iter().zip(a.targets) {
            assert!((f - t).abs() <= 0.02, "{}", a.achieved());
        }
        for (key, splits) in splits_per(&rows, &a, |r| r.file.clone()) {
            if key != "api/Instance.yaml" {
                assert_eq!(splits.len(), 1, "{key} is in {splits:?}");
            }
        }
    }

    #[test]
    fn duplicates_bridge_groups_only_through_documents_that_count() {
        // Ten repositories of 10 files; each also has an empty `init.luau` that an earlier
        // audit dropped: one exact key across all of them.
        let mut rows = dominated(0, 0, 10, 10);
        for r in 0..10 {
            rows.push(Row {
                leak: vec!["exact:empty".into()],
                counted: false,
                ..row(format!("repo{r}-init"), &format!("repo{r}"), "init.luau")
            });
        }
        let a = assign_splits(&items(&rows), &SplitConfig::default()).unwrap();
        assert!(a.broken_down_sources.is_empty(), "no glue, nothing broken");
        for (f, t) in a.fractions().iter().zip(a.targets) {
            assert!((f - t).abs() <= 0.05, "{}", a.achieved());
        }
        for (key, splits) in splits_per(
            &rows
                .iter()
                .filter(|r| r.counted)
                .cloned()
                .collect::<Vec<_>>(),
            &SplitAssignment {
                splits: rows
                    .iter()
                    .zip(&a.splits)
                    .filter(|(r, _)| r.counted)
                    .map(|(_, s)| *s)
                    .collect(),
                ..a.clone()
            },
            |r| r.source.clone(),
        ) {
            assert_eq!(splits.len(), 1, "{key} is in {splits:?}");
        }
        // The dropped copies still share one split (the verifier checks every document).
        let dropped: BTreeSet<Split> = rows
            .iter()
            .zip(&a.splits)
            .filter(|(r, _)| !r.counted)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(dropped.len(), 1);

        // When the copies count, they do bridge the repositories; the bridged group is larger
        // than a split's share, so its repositories are broken down into files and the copies
        // stay together.
        for r in rows.iter_mut() {
            r.counted = true;
        }
        let b = assign_splits(&items(&rows), &SplitConfig::default()).unwrap();
        assert_eq!(b.broken_down_sources.len(), 10);
        let copies: BTreeSet<Split> = rows
            .iter()
            .zip(&b.splits)
            .filter(|(r, _)| r.file == "init.luau")
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(copies.len(), 1);
        for (f, t) in b.fractions().iter().zip(b.targets) {
            assert!((f - t).abs() <= 0.05, "{}", b.achieved());
        }
    }

    #[test]
    fn a_duplicate_cluster_larger_than_a_share_stays_together_and_is_reported() {
        // 88 of 100 documents are near copies of each other: leak-freeness wins over balance.
        let mut rows: Vec<Row> = (0..100)
            .map(|i| row(format!("d{i:03}"), "src", format!("f{i}.luau")))
            .collect();
        for r in rows.iter_mut().take(88) {
            r.leak.push("near:0".into());
        }
        let a = assign_splits(&items(&rows), &SplitConfig::default()).unwrap();
        let cluster: BTreeSet<Split> = a.splits[..88].iter().copied().collect();
        assert_eq!(cluster, BTreeSet::from([Split::Train]));
        assert_eq!(a.largest_group, 88);
        assert_eq!(a.counted, [88, 6, 6]);
        a.check_nonempty().unwrap();
        let w = a.warnings();
        assert!(
            w.iter().any(|w| w.starts_with("split `train` got 88.0%")
                && w.contains("exact and near duplicates keep 88 of 100")),
            "{w:?}"
        );
    }

    #[test]
    fn every_split_with_a_target_gets_something_when_there_are_enough_groups() {
        for n in 3..8 {
            let rows: Vec<Row> = (0..n)
                .map(|i| row(format!("d{i}"), &format!("s{i}"), "f.luau"))
                .collect();
            let a = assign_splits(&items(&rows), &SplitConfig::default()).unwrap();
            a.check_nonempty().unwrap();
            assert!(a.counted.iter().all(|&c| c > 0), "{n}: {:?}", a.counted);
            assert!(a.counted[0] >= a.counted[1], "{n}: {:?}", a.counted);
        }
        // Two groups cannot fill three splits: the error names the split, the target, what was
        // achieved and what to change.
        let rows = vec![row("a", "s", "f"), row("b", "t", "f")];
        let err = assign_splits(&items(&rows), &SplitConfig::default())
            .unwrap()
            .check_nonempty()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("split `test` has a target of 10.0%"),
            "{err}"
        );
        assert!(
            err.contains("train 1 (50.0%), valid 1 (50.0%), test 0 (0.0%)"),
            "{err}"
        );
        assert!(err.contains("only 2 group(s)"), "{err}");
        assert!(err.contains("`test = 0` under [splits]"), "{err}");
        // Nothing kept at all.
        let mut none = rows.clone();
        none.iter_mut().for_each(|r| r.counted = false);
        let err = assign_splits(&items(&none), &SplitConfig::default())
            .unwrap()
            .check_nonempty()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no document passed the earlier audits"),
            "{err}"
        );
    }

    #[test]
    fn bad_fractions_and_lengths_are_errors() {
        let rows = vec![row("a", "s", "f")];
        let bad = SplitConfig {
            train: 0.9,
            valid: 0.2,
            test: 0.0,
            ..Default::default()
        };
        assert!(matches!(
            assign_splits(&items(&rows), &bad),
            Err(SplitError::Fractions { .. })
        ));
        let nan = SplitConfig {
            train: f64::NAN,
            ..Default::default()
        };
        assert!(assign_splits(&items(&rows), &nan).is_err());
        let err = verify_splits(
            &["a"],
            &[],
            &NearDupConfig::default(),
            &NormalizeOptions::default(),
        );
        assert!(matches!(err, Err(SplitError::Length { .. })));
        // A zero fraction is never used, and a split without a target may stay empty.
        let no_valid = SplitConfig {
            train: 0.5,
            valid: 0.0,
            test: 0.5,
            seed: 3,
            ..Default::default()
        };
        let many: Vec<Row> = (0..50)
            .map(|i| Row {
                counted: i % 5 != 0,
                ..row(format!("k{i}"), &format!("s{i}"), "f")
            })
            .collect();
        let a = assign_splits(&items(&many), &no_valid).unwrap();
        assert_eq!(a.counts[1], 0);
        assert_eq!(a.counts[0] + a.counts[2], 50);
        assert_eq!(a.counted, [20, 0, 20]);
        a.check_nonempty().unwrap();
    }
}
