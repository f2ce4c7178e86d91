//! `vcurate bench ingest`: generates a corpus (a git repository of Luau modules and a docs
//! repository of Markdown pages), ingests it from scratch, and reports files/s, MB/s and peak
//! memory. The issue's target is ~700k lines of Luau plus 1,000 docs pages in under 30 s on
//! 2 cores; the defaults generate that size.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::Rng;
use crate::ingest::git::{commit_files, TreeContent};
use crate::ingest::{self, IngestOptions};
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize)]
pub struct IngestFigures {
    pub luau_files: usize,
    pub luau_lines: usize,
    pub docs_pages: usize,
    pub bytes: u64,
    pub documents: u64,
    pub seconds: f64,
    pub files_per_second: f64,
    pub mb_per_second: f64,
    pub peak_rss_mb: Option<f64>,
    pub threads: usize,
    pub profile: &'static str,
}

/// One generated Luau module of roughly `lines` lines.
pub fn luau_module(rng: &mut Rng, i: usize, lines: usize) -> String {
    let mut s = format!(
        "--!strict\n-- Generated module {i} for the ingest benchmark.\nlocal Module{i} = {{}}\n\n"
    );
    let mut n = 4;
    let mut f = 0;
    while n + 9 < lines {
        let a = rng.below(1000);
        s.push_str(&format!(
            "export type Item{i}_{f} = {{ id: number, name: string }}\n\n--[[\n  Adds {a} to every value.\n]]\nfunction Module{i}.step{f}(items: {{ Item{i}_{f} }}, scale: number): number\n\tlocal total = 0\n\tfor _, item in items do\n\t\ttotal += item.id * scale + {a}\n\tend\n\treturn total\nend\n\n"
        ));
        n += 14;
        f += 1;
    }
    s.push_str(&format!("return Module{i}\n"));
    s
}

fn docs_page(rng: &mut Rng, i: usize) -> String {
    format!(
        "---\ntitle: Page {i}\ndescription: A generated page.\n---\n\n# Page {i}\n\nSome prose about feature {}.\n\n## Usage\n\n```lua\nlocal value = {}\nprint(value * 2)\n```\n\n## Notes\n\nMore prose.\n\n```json\n{{\"a\": 1}}\n```\n",
        rng.below(100),
        rng.below(10_000)
    )
}

/// Generates the corpus in `dir`, ingests it, and returns the figures.
pub fn run(
    dir: &Path,
    luau_files: usize,
    lines_per_file: usize,
    docs_pages: usize,
) -> anyhow::Result<IngestFigures> {
    let mut rng = Rng::new(42);
    let mut files = Vec::new();
    let mut luau_lines = 0;
    for i in 0..luau_files {
        let m = luau_module(&mut rng, i, lines_per_file);
        luau_lines += m.lines().count();
        files.push((
            format!("src/dir{}/Module{i}.luau", i % 50),
            TreeContent::File(m.into_bytes()),
        ));
    }
    let repo = git2::Repository::init_bare(dir.join("corpus/code"))?;
    commit_files(&repo, "main", "bench", 1_700_000_000, &files)?;
    let pages: Vec<_> = (0..docs_pages)
        .map(|i| {
            (
                format!("content/en-us/guide{}/page{i}.md", i % 20),
                TreeContent::File(docs_page(&mut rng, i).into_bytes()),
            )
        })
        .collect();
    let repo = git2::Repository::init_bare(dir.join("corpus/docs"))?;
    commit_files(&repo, "main", "bench", 1_700_000_000, &pages)?;

    let ws_dir = dir.join("ws");
    crate::scaffold::init_workspace(&ws_dir)?;
    let corpus = dir.join("corpus");
    fs_err::write(
        ws_dir.join("sources/code.toml"),
        format!(
            "kind = \"git\"\nurl = \"{}/code\"\nrev = \"main\"\nrights-basis = \"open_source\"\n",
            corpus.display()
        ),
    )?;
    fs_err::write(
        ws_dir.join("sources/docs.toml"),
        format!("kind = \"docs\"\nurl = \"{}/docs\"\nrev = \"main\"\nrights-basis = \"open_source\"\ncontent-root = \"content/en-us\"\nsite-url = \"https://example.com/docs\"\nprose-license = \"CC-BY-4.0\"\ncode-license = \"MIT\"\n", corpus.display()),
    )?;
    let ws = Workspace::open(&ws_dir)?;
    let started = Instant::now();
    let report = ingest::run(&ws, &IngestOptions::default(), &|_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes: u64 = report.sources.iter().map(|s| s.bytes).sum();
    let documents = report.sources.iter().map(|s| s.documents).sum();
    let total_files = (luau_files + docs_pages) as f64;
    Ok(IngestFigures {
        luau_files,
        luau_lines,
        docs_pages,
        bytes,
        documents,
        seconds,
        files_per_second: total_files / seconds,
        mb_per_second: bytes as f64 / 1e6 / seconds,
        peak_rss_mb: super::peak_rss_bytes().map(|b| b as f64 / 1e6),
        threads: rayon::current_num_threads(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    })
}
