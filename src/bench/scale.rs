//! `vcurate bench scale`: memory and time of the whole `vcurate audit` as the corpus grows.
//!
//! `generate` writes N Luau-like documents straight into a workspace's store (one source per
//! shard; no git, no parsing), or with `files` as Luau files in local source folders with their
//! manifests, for `vcurate ingest` to read (mode `ingest` measures that), about a quarter of them
//! variants of a recent original at a target Jaccard in [0.4, 1.0] (a tenth of those exact
//! copies), often in another shard, so both dedups have real clusters; one in 400 is headed by
//! a denied SPDX tag and one in 400 holds an AWS key id, for the license and secrets audits to
//! drop. The generator keeps only
//! a window of recent originals, so generating 1M documents needs little memory.
//!
//! The generated text is Luau-looking token soup that does not parse: the workspace asks for
//! no code lines (`min-code-lines = 0`) and no parse or compile (`require-parse = false`,
//! `require-compile = false`; the quality audit still compiles every ingested file). The
//! sources are open source under MIT (a declared license in the store; a LICENSE file at the
//! root of each source folder).
//!
//! `run` measures one mode in a fresh process (peak RSS is per process): `in-memory` is the
//! path before sharding (all documents loaded into one `Vec<Document>`, then every job),
//! `sharded` is `vcurate audit --workers W`. Besides time and memory it records a digest of
//! each audit's excluded ids and of the splits, so two modes' runs can be compared. Nothing
//! here asserts a time.

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::Rng;
use crate::core::{Document, LineEndings, Provenance, RightsBasis, SourceKind, UnitKind};
use crate::luau::lex::code_tokens;
use crate::store::{SourceState, SourceTables};
use crate::workspace::Workspace;

/// What `generate` made (`DIR/corpus.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleCorpus {
    pub documents: usize,
    pub shards: usize,
    /// Written as files in source folders (to ingest), not into the store.
    #[serde(default)]
    pub files: bool,
    pub seed: u64,
    pub text_bytes: u64,
    pub planted_variants: usize,
    pub planted_exact_copies: usize,
    /// Documents headed by an SPDX tag the default policy denies (AGPL-3.0-only).
    #[serde(default)]
    pub planted_denied_licenses: usize,
    /// Documents holding an AWS access key id.
    #[serde(default)]
    pub planted_secrets: usize,
    pub seconds: f64,
}

/// Time and memory of one measured run over a generated corpus.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub corpus: ScaleCorpus,
    pub mode: String,
    pub threads: usize,
    pub profile: String,
    pub seconds: f64,
    /// Resident memory before the run started (the binary and its libraries).
    pub baseline_rss_bytes: Option<u64>,
    pub peak_rss_bytes: Option<u64>,
    /// (peak - baseline) / documents.
    pub bytes_per_document: Option<f64>,
}

/// Runs `f` in this process and measures it.
fn measure<T>(
    corpus: ScaleCorpus,
    mode: &str,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(Measured, T)> {
    let baseline = super::rss_bytes();
    super::reset_peak_rss();
    let t = Instant::now();
    let out = f()?;
    let seconds = t.elapsed().as_secs_f64();
    let peak = super::peak_rss_bytes();
    let m = Measured {
        mode: mode.into(),
        threads: rayon::current_num_threads(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        seconds,
        baseline_rss_bytes: baseline,
        peak_rss_bytes: peak,
        bytes_per_document: match (peak, baseline) {
            (Some(p), Some(b)) => Some(p.saturating_sub(b) as f64 / corpus.documents as f64),
            _ => None,
        },
        corpus,
    };
    Ok((m, out))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleFigures {
    #[serde(flatten)]
    pub run: Measured,
    pub workers: usize,
    pub exact_excluded: usize,
    pub near_excluded: usize,
    pub near_clusters: usize,
    /// Excluded documents per audit.
    #[serde(default)]
    pub excluded: std::collections::BTreeMap<String, usize>,
    /// Per audit, blake3 of its sorted excluded ids; `splits`: of the sorted `id split` lines.
    #[serde(default)]
    pub digests: std::collections::BTreeMap<String, String>,
}

/// A generated document of source `source` at `path`.
fn document(source: &str, path: &str, text: String) -> Document {
    let sha256 = crate::core::sha256_hex(text.as_bytes());
    Document {
        id: crate::core::document_id(source, path, "", &sha256),
        provenance: Provenance {
            source_id: source.into(),
            source_kind: SourceKind::Local,
            url: format!("file:///bench/{source}"),
            commit: None,
            path: path.into(),
            blob_id: None,
            span: None,
            unit_kind: UnitKind::File,
            unit_name: None,
            origin: None,
            rights_basis: RightsBasis::OpenSource,
            license_candidates: crate::ingest::evidence::in_file_candidates(path, &text),
            prose_license: Some("MIT".into()),
            code_license: None,
            attribution: None,
            ingest_time: "2024-01-01T00:00:00Z".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            steps: Vec::new(),
        },
        bytes: text.len() as u64,
        chat: None,
        text,
        sha256,
        line_endings: LineEndings::Lf,
        luau: None,
        code_blocks: Vec::new(),
    }
}

/// Writes a workspace at `dir` whose store holds `docs` generated documents in `shards`
/// sources (with `files`: whose `corpus/<source>/` folders hold them as files, each with its
/// manifest in `sources/`).
pub fn generate(
    dir: &Path,
    docs: usize,
    shards: usize,
    seed: u64,
    files: bool,
) -> anyhow::Result<ScaleCorpus> {
    let t = Instant::now();
    if !dir.join("vcurate.toml").exists() {
        crate::scaffold::init_workspace(dir)?;
        // The generated code does not parse and has no code lines to count.
        let toml = dir.join(crate::workspace::CONFIG_FILE);
        let cfg = fs_err::read_to_string(&toml)?
            .replace("min-code-lines = 5", "min-code-lines = 0")
            .replace("require-parse = true", "require-parse = false")
            .replace("require-compile = true", "require-compile = false");
        fs_err::write(&toml, cfg)?;
    }
    let ws = Workspace::open(dir)?;
    let store = ws.store_dir();
    let mut rng = Rng::new(seed);
    let idents: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                "{}{}",
                ["ka", "lo", "mi", "tor", "ven"][i % 5],
                rng.below(1_000_000)
            )
        })
        .collect();
    let shards = shards.clamp(1, docs.max(1));
    let per = docs.div_ceil(shards);
    let mut recent: std::collections::VecDeque<String> = Default::default();
    let mut corpus = ScaleCorpus {
        documents: docs,
        shards,
        files,
        seed,
        text_bytes: 0,
        planted_variants: 0,
        planted_exact_copies: 0,
        planted_denied_licenses: 0,
        planted_secrets: 0,
        seconds: 0.0,
    };
    let mut line = Vec::new();
    for s in 0..shards {
        let source = format!("shard-{s:05}");
        let mut out = Vec::with_capacity(per);
        for i in s * per..((s + 1) * per).min(docs) {
            let text = if !recent.is_empty() && rng.below(4) == 0 {
                let base = &recent[rng.below(recent.len())];
                corpus.planted_variants += 1;
                if rng.below(10) == 0 {
                    corpus.planted_exact_copies += 1;
                    base.clone()
                } else {
                    let target = 0.4 + 0.6 * rng.unit();
                    let keep: f64 = 2.0 * target / (1.0 + target);
                    let p = 1.0 - keep.powf(1.0 / 5.0);
                    let mut text = String::with_capacity(base.len());
                    for l in base.lines() {
                        line.clear();
                        for tok in code_tokens(l) {
                            line.push(if rng.unit() < p {
                                rng.pick(&idents).clone()
                            } else {
                                tok.to_string()
                            });
                        }
                        text.push_str(&line.join(" "));
                        text.push('\n');
                    }
                    text
                }
            } else {
                let mut text = String::new();
                for _ in 0..10 + rng.below(50) {
                    text.push_str(&super::dedup::statement(&mut rng, &idents).join(" "));
                    text.push('\n');
                }
                recent.push_back(text.clone());
                if recent.len() > 4096 {
                    recent.pop_front();
                }
                text
            };
            // One in 400 under a denied license, one in 400 with a credential: the license
            // and secrets audits drop them.
            let mut text = text;
            match rng.below(400) {
                0 => {
                    text.insert_str(0, "-- SPDX-License-Identifier: AGPL-3.0-only\n");
                    corpus.planted_denied_licenses += 1;
                }
                1 => {
                    let key: String = (0..16)
                        .map(|_| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[rng.below(32)] as char)
                        .collect();
                    text.push_str(&format!("local awsKey = \"AKIA{key}\"\n"));
                    corpus.planted_secrets += 1;
                }
                _ => {}
            }
            corpus.text_bytes += text.len() as u64;
            let path = format!("src/m{i}.luau");
            if files {
                let p = dir.join("corpus").join(&source).join(&path);
                if i == s * per {
                    fs_err::create_dir_all(p.parent().expect("a folder"))?;
                }
                fs_err::write(p, text)?;
            } else {
                out.push(document(&source, &path, text));
            }
        }
        if files {
            // An MIT license file at the root: the evidence every file's license comes from.
            fs_err::write(
                dir.join("corpus").join(&source).join("LICENSE"),
                include_str!("../sample/files/luau-utils/LICENSE"),
            )?;
            fs_err::write(
                dir.join("sources").join(format!("{source}.toml")),
                format!(
                    "kind = \"local\"\npath = \"corpus/{source}\"\nrights-basis = \"open_source\"\n"
                ),
            )?;
            continue;
        }
        let state = SourceState {
            source_id: source.clone(),
            kind: "local".into(),
            url: format!("file:///bench/{source}"),
            commit: None,
            manifest_hash: String::new(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            documents: out.len() as u64,
            skipped: 0,
            parse_failures: 0,
        };
        crate::store::write_source(
            &store,
            &state,
            &SourceTables {
                documents: out,
                ..Default::default()
            },
        )?;
    }
    corpus.seconds = t.elapsed().as_secs_f64();
    crate::bench::write_figures(&dir.join("corpus.json"), &corpus)?;
    Ok(corpus)
}

/// What `vcurate ingest` of a generated `files` corpus took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestScaleFigures {
    #[serde(flatten)]
    pub run: Measured,
    pub documents_stored: u64,
    pub parse_failures: u64,
}

fn read_corpus(dir: &Path) -> anyhow::Result<ScaleCorpus> {
    Ok(serde_json::from_slice(&fs_err::read(
        dir.join("corpus.json"),
    )?)?)
}

/// Ingests the generated `files` corpus at `dir` (as `vcurate ingest` does) and measures.
pub fn run_ingest(dir: &Path) -> anyhow::Result<IngestScaleFigures> {
    let corpus = read_corpus(dir)?;
    anyhow::ensure!(
        corpus.files,
        "{} holds no files to ingest; generate it with `bench scale-generate --files`",
        dir.display()
    );
    let ws = Workspace::open(dir)?;
    let (run, report) = measure(corpus, "ingest", || {
        Ok(crate::ingest::run(
            &ws,
            &crate::ingest::IngestOptions::default(),
            &|_| {},
        )?)
    })?;
    Ok(IngestScaleFigures {
        run,
        documents_stored: report.sources.iter().map(|s| s.documents).sum(),
        parse_failures: report.sources.iter().map(|s| s.parse_failures).sum(),
    })
}

/// Runs every audit over the generated workspace at `dir` in one mode and measures.
pub fn run(dir: &Path, mode: &str, workers: usize) -> anyhow::Result<ScaleFigures> {
    let ws = Workspace::open(dir)?;
    let (run, ()) = measure(read_corpus(dir)?, mode, || match mode {
        "sharded" => {
            crate::audit::run::run_with(&ws, &[], workers, &|_| {})?;
            Ok(())
        }
        "in-memory" => in_memory(&ws),
        other => anyhow::bail!("unknown mode `{other}` (in-memory, sharded, ingest)"),
    })?;
    let dir_a = crate::audit::run::audit_dir(&ws);
    let excluded = |a: &str| -> anyhow::Result<usize> {
        Ok(crate::store::parquet_rows(
            &crate::audit::run::excluded_path(&dir_a, a),
        )?)
    };
    let near: crate::audit::jobs::near_dedup::NearDedupSummary = serde_json::from_slice(
        &fs_err::read(dir_a.join("summary").join("near-dedup.json"))?,
    )?;
    let mut excluded_by = std::collections::BTreeMap::new();
    let mut digests = std::collections::BTreeMap::new();
    for a in crate::audit::run::AUDITS {
        let mut ids: Vec<String> = crate::audit::run::excluded_ids(&dir_a, &[a])?
            .into_iter()
            .collect();
        ids.sort();
        excluded_by.insert(a.to_string(), ids.len());
        digests.insert(a.to_string(), digest(ids.iter().map(String::as_str)));
    }
    let splits = crate::store::read_parquet(&dir_a.join("attributes").join("splits.parquet"))?;
    let mut lines: Vec<String> = splits
        .column("id")?
        .str()?
        .iter()
        .zip(splits.column("split")?.str()?.iter())
        .map(|(id, s)| format!("{} {}", id.unwrap_or(""), s.unwrap_or("")))
        .collect();
    lines.sort();
    digests.insert("splits".into(), digest(lines.iter().map(String::as_str)));
    Ok(ScaleFigures {
        run,
        workers,
        exact_excluded: excluded("exact-dedup")?,
        near_excluded: excluded("near-dedup")?,
        near_clusters: near.clusters,
        excluded: excluded_by,
        digests,
    })
}

/// blake3 of the lines, one per line.
fn digest<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut h = blake3::Hasher::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    h.finalize().to_hex().to_string()
}

/// The path before sharding: every document in memory, every job's in-memory code, their
/// tables written as the runner wrote them.
fn in_memory(ws: &Workspace) -> anyhow::Result<()> {
    use crate::audit::jobs::{by_name, AuditContext};
    let docs = crate::store::all_documents(&ws.store_dir())?;
    let texts: Vec<_> = docs.iter().map(crate::audit::jobs::audit_text).collect();
    let ctx = AuditContext::new(ws, &docs, &texts);
    for &name in crate::audit::run::AUDITS {
        let out = by_name(name).expect("a job").run(&ctx)?;
        crate::store::write_parquet(
            &ctx.dir.join("attributes").join(format!("{name}.parquet")),
            Ok(out.attributes),
        )?;
        crate::store::write_exclusions(
            &crate::audit::run::excluded_path(&ctx.dir, name),
            &out.excluded,
        )?;
        crate::core::fs::write_atomic(
            &ctx.dir.join("summary").join(format!("{name}.json")),
            &serde_json::to_vec_pretty(&out.summary)?,
        )?;
    }
    Ok(())
}
