//! The settings sections of `vcurate.toml` that the audits read: `[audit]` (with its
//! `exact-dedup`, `near-dedup`, `contamination`, `license` and `secrets` tables), `[splits]` and
//! `[[eval-sets]]`. They are plain data owned by the workspace; each audit turns its section into
//! its own parameters (`audit::minhash::NearDupConfig` from [`NearDedupSettings`], ...), so this
//! module depends on nothing above `core`. Strict like every human-written file: unknown keys
//! are errors naming file and line.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AuditConfig {
    /// The code-density rule: at least this many Luau code lines (parsed, not fence-counted).
    pub min_code_lines: u32,
    /// Tools whose call arguments are Luau code (an MCP server's `run_code`): density, quality
    /// and the rendered examples' density rule read their string arguments as code, beside the
    /// fenced Luau of every assistant turn.
    pub code_tools: Vec<String>,
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
    pub license: LicenseConfig,
    pub secrets: SecretsSettings,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            min_code_lines: 5,
            code_tools: vec!["run_code".to_string()],
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
            license: LicenseConfig::default(),
            secrets: SecretsSettings::default(),
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
        NearDedupSettings {
            threshold: 0.7,
            num_perm: 256,
            shingle_size: 5,
            drop: true,
        }
    }
}

/// `[audit.contamination]`: how eval-task text is matched in training data and what counts as
/// a leak (see `audit::contamination`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ContaminationSettings {
    /// Words per n-gram.
    pub ngram_words: usize,
    /// Bytes per window of the normalized text.
    pub substring_chars: usize,
    /// Text found in at least this many eval tasks is task boilerplate (a shared system prompt),
    /// not evidence; 0 keeps everything.
    pub boilerplate_min_tasks: usize,
    /// Text found in at least this many corpus documents, and in `idiom-min-fraction` of them,
    /// is a corpus idiom (`local Players = game:GetService("Players")`), not evidence; 0 turns
    /// the rule off.
    pub idiom_min_documents: usize,
    pub idiom_min_fraction: f64,
    /// A document is flagged for a task when it covers at least this share (0..1) of the
    /// distinctive text of one part (prose, code or whole short prompt) of a task text...
    pub min_score: f64,
    /// ... or at least this many distinctive normalized bytes of one (0: off).
    pub min_matched_chars: usize,
    /// Task texts and prose runs too short for an n-gram or a window are matched whole (and by
    /// their longest sentence) when they have at least this many normalized bytes (0: off).
    pub whole_prompt_min_chars: usize,
}

impl Default for ContaminationSettings {
    fn default() -> Self {
        ContaminationSettings {
            ngram_words: 13,
            substring_chars: 50,
            boilerplate_min_tasks: 5,
            idiom_min_documents: 20,
            idiom_min_fraction: 0.005,
            min_score: 0.5,
            min_matched_chars: 300,
            whole_prompt_min_chars: 20,
        }
    }
}

/// What keeps documents together in one split, on top of exact and near duplicates (which
/// always share a split).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// A source (repository) goes to one split; unless `strict`, a source larger than a split's
    /// share is broken down into its files, and such a file into its sections or members.
    Source,
    /// A file (with all its sections/members) goes to one split; unless `strict`, a file larger
    /// than a split's share is broken down into its sections or members.
    File,
}

/// `[splits]`: target fractions of the documents that pass the audits, the seed, and the
/// grouping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SplitsConfig {
    pub seed: u64,
    pub train: f64,
    pub valid: f64,
    pub test: f64,
    /// Exact and near duplicates always stay together; this adds the coarser grouping.
    pub group_by: GroupBy,
    /// Never break a `group-by` group down, even one larger than a split's share; the audit then
    /// warns with the achieved fractions when a split misses its target by more than 5 points.
    pub strict: bool,
}

impl Default for SplitsConfig {
    fn default() -> Self {
        SplitsConfig {
            seed: 0,
            train: 0.8,
            valid: 0.1,
            test: 0.1,
            group_by: GroupBy::Source,
            strict: false,
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

/// Which differences exact dedup ignores. The default ignores only whitespace noise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct NormalizeOptions {
    /// Remove Luau comments (`--` and `--[[ ]]`, never inside strings). Blank lines are removed
    /// too, since a removed comment block leaves them behind.
    pub strip_comments: bool,
    /// Replace all layout by the token stream joined with single spaces (string literals kept
    /// verbatim), so reformatted copies of the same code compare equal. Implies comment removal.
    pub collapse_formatting: bool,
}

/// Settings of the license audit (`[audit.license]` in `vcurate.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LicenseConfig {
    /// Minimum text-match score (0..1) for a license file to count as a known license. Real
    /// MIT/Apache/GPL files score above 0.98; MIT with one added clause scores about 0.92.
    pub text_threshold: f64,
    /// Verdicts with a lower confidence are unresolved (sent to review).
    pub min_confidence: f64,
    /// Confidence of a README statement, the weakest evidence.
    pub readme_confidence: f64,
}

impl Default for LicenseConfig {
    fn default() -> Self {
        LicenseConfig {
            text_threshold: 0.95,
            min_confidence: 0.5,
            readme_confidence: 0.5,
        }
    }
}

/// What the `secrets` audit does with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretAction {
    /// Drop the document (reason `contains_<kind>`); its frozen copy is still redacted.
    Drop,
    /// Keep the document; replace the value with a placeholder (`<SECRET>`, `<EMAIL>`,
    /// `<IP_ADDRESS>`) before rendering and freezing.
    Redact,
    /// Ignore these findings.
    Off,
}

impl SecretAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretAction::Drop => "drop",
            SecretAction::Redact => "redact",
            SecretAction::Off => "off",
        }
    }
}

/// `[audit.secrets]`: the policy per kind of finding, and per rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SecretsSettings {
    /// Credentials: every gitleaks rule and every Roblox rule.
    pub secret: SecretAction,
    pub email: SecretAction,
    pub ip_address: SecretAction,
    /// Overrides by rule id (`generic-api-key = "redact"`, `email = "off"`); an unknown id is
    /// an error that lists where the ids are.
    pub rules: BTreeMap<String, SecretAction>,
}

impl Default for SecretsSettings {
    fn default() -> Self {
        SecretsSettings {
            secret: SecretAction::Drop,
            email: SecretAction::Redact,
            ip_address: SecretAction::Redact,
            rules: BTreeMap::new(),
        }
    }
}
