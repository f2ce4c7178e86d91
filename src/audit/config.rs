//! Audit settings in `vcurate.toml`: `[audit]`, `[splits]` and `[[eval-sets]]`. Strict like
//! every human-written file: unknown keys are errors naming file and line.

use std::path::PathBuf;

use serde::Deserialize;

use super::contamination::ContaminationConfig;
use super::minhash::NearDupConfig;
use super::normalize::NormalizeOptions;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AuditConfig {
    /// The code-density rule: at least this many Luau code lines (parsed, not fence-counted).
    pub min_code_lines: u32,
    /// Drop Luau files that do not parse (full_moon).
    pub require_parse: bool,
    /// Drop Luau files the real Luau compiler rejects.
    pub require_compile: bool,
    /// Longer lines than this mark generated or minified code.
    pub max_line_length: usize,
    /// Below this share of alphanumeric characters a unit looks obfuscated or binary-like.
    pub min_alnum_ratio: f64,
    /// Above this Shannon entropy (bits per character) a unit looks obfuscated or packed.
    pub max_entropy: f64,
    pub min_bytes: u64,
    pub max_bytes: u64,
    pub exact_dedup: NormalizeOptions,
    pub near_dedup: NearDedupSettings,
    pub contamination: ContaminationSettings,
    pub license: super::license::LicenseConfig,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            min_code_lines: 5,
            require_parse: true,
            require_compile: true,
            max_line_length: 1000,
            min_alnum_ratio: 0.25,
            max_entropy: 6.0,
            min_bytes: 1,
            max_bytes: 1024 * 1024,
            exact_dedup: NormalizeOptions::default(),
            near_dedup: NearDedupSettings::default(),
            contamination: ContaminationSettings::default(),
            license: super::license::LicenseConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct NearDedupSettings {
    pub threshold: f64,
    pub num_perm: usize,
    pub shingle_size: usize,
    /// Drop every cluster member but its representative (else only record the clusters).
    pub drop: bool,
}

impl Default for NearDedupSettings {
    fn default() -> Self {
        let d = NearDupConfig::default();
        NearDedupSettings {
            threshold: d.threshold,
            num_perm: d.num_perm,
            shingle_size: d.shingle_size,
            drop: true,
        }
    }
}

impl NearDedupSettings {
    pub fn to_config(&self) -> NearDupConfig {
        NearDupConfig {
            threshold: self.threshold,
            num_perm: self.num_perm,
            shingle_size: self.shingle_size,
            ..NearDupConfig::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ContaminationSettings {
    pub ngram_words: usize,
    pub substring_chars: usize,
}

impl Default for ContaminationSettings {
    fn default() -> Self {
        let d = ContaminationConfig::default();
        ContaminationSettings {
            ngram_words: d.ngram_words,
            substring_chars: d.substring_chars,
        }
    }
}

impl ContaminationSettings {
    pub fn to_config(&self) -> ContaminationConfig {
        ContaminationConfig {
            ngram_words: self.ngram_words,
            substring_chars: self.substring_chars,
            ..ContaminationConfig::default()
        }
    }
}

/// What keeps items together in one split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// A whole source (repository) goes to one split.
    Source,
    /// A file (with all its sections/members) goes to one split.
    File,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SplitsConfig {
    pub seed: u64,
    pub train: f64,
    pub valid: f64,
    pub test: f64,
    /// Exact and near duplicates always stay together; this adds the coarser grouping.
    pub group_by: GroupBy,
}

impl Default for SplitsConfig {
    fn default() -> Self {
        SplitsConfig {
            seed: 0,
            train: 0.8,
            valid: 0.1,
            test: 0.1,
            group_by: GroupBy::Source,
        }
    }
}

/// The format of a registered eval set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvalSetFormat {
    /// vcurate's own task JSONL (`schemas/eval-task.schema.json`).
    Tasks,
    /// JSONL with `id, category, difficulty, prompt, expected_patterns`.
    Plain,
    /// luau-bench task files.
    LuauBench,
    /// A folder (or file) of Roblox OpenGameEval eval modules.
    OpenGameEval,
}

/// An eval set registered for contamination checks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EvalSetConfig {
    pub name: String,
    /// Relative to the workspace root.
    pub path: PathBuf,
    pub format: EvalSetFormat,
}
