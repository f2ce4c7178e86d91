//! `vcurate quickstart`: turns the embedded sample corpus into a real workspace with real local
//! git repositories, declared like any other source (behind a URL rewrite, as an offline mirror
//! would be), and runs the whole pipeline on it offline as a chain of the stages' own run
//! functions (nothing here re-implements a stage).

use std::path::{Path, PathBuf};

use crate::ingest::git::{commit_files, TreeContent};
use crate::sample::{self, files_of};
use crate::workspace::{self, Workspace, WorkspaceError};

/// The URL prefix the sample repositories are declared under; `vcurate.toml` rewrites it to the
/// local `samples/` folder. (`example.com` is reserved for examples: nothing is ever fetched.)
pub const SAMPLE_URL: &str = "https://example.com/vcurate-sample/";

/// A fixed commit time, so the sample's commits (and so its snapshot ids) are reproducible.
const SAMPLE_TIME: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z

#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    #[error("could not set up the sample workspace in {dir}: {message}")]
    Setup { dir: PathBuf, message: String },
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error(transparent)]
    Audit(#[from] crate::audit::run::AuditError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::CreateError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error("could not write the sample repository {repo}: {source}")]
    Git { repo: String, source: git2::Error },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

const CONFIG: &str = r#"# The vcurate quickstart workspace (written by `vcurate quickstart`).

[ingest]
max-file-bytes = 1048576

# The sample repositories are declared with URLs under https://example.com/vcurate-sample/ and
# read from local mirrors in samples/, like an offline mirror of GitHub would be.
[git.rewrite]
"https://example.com/vcurate-sample/" = "samples/"

[splits]
seed = 0
train = 0.8
valid = 0.1
test = 0.1
# A small sample has few sources: keep each file (not each source) in one split.
group-by = "file"

# The sample eval set: contamination checks flag training data that shares text with it.
[[eval-sets]]
name = "sample-evals"
path = "samples/evals/sample-evals.jsonl"
format = "plain"
"#;

/// Writes the quickstart workspace into `dir` unless one is already there; returns it.
pub fn setup(dir: &Path) -> Result<Workspace, QuickstartError> {
    if dir.join(workspace::CONFIG_FILE).is_file() {
        return Ok(Workspace::open(dir)?);
    }
    crate::scaffold::init_workspace(dir)?;
    fs_err::write(dir.join(workspace::CONFIG_FILE), CONFIG)?;
    let samples = dir.join("samples");
    for repo in sample::GIT_REPOS {
        let path = samples.join(repo);
        fs_err::create_dir_all(&path)?;
        let git = |source| QuickstartError::Git {
            repo: repo.to_string(),
            source,
        };
        let r = git2::Repository::init_bare(&path).map_err(git)?;
        let files: Vec<(String, TreeContent)> = files_of(repo)
            .map(|f| {
                (
                    f.path.to_string(),
                    TreeContent::File(f.contents.as_bytes().to_vec()),
                )
            })
            .collect();
        commit_files(&r, "main", "vcurate quickstart sample", SAMPLE_TIME, &files).map_err(git)?;
    }
    for folder in sample::PLAIN_FOLDERS {
        for f in files_of(folder) {
            let p = samples.join(folder).join(f.path);
            fs_err::create_dir_all(p.parent().expect("has a parent"))?;
            fs_err::write(&p, f.contents)?;
        }
    }
    let manifests = [
        (
            sample::LUAU_UTILS,
            format!("# An open-source Luau utility library (the embedded sample).\nkind = \"git\"\nurl = \"{SAMPLE_URL}{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\nexpected-license = \"MIT\"\n", sample::LUAU_UTILS),
        ),
        (
            sample::CREATOR_DOCS,
            format!(
                "# Documentation laid out like the Roblox Creator Docs (the embedded sample).\nkind = \"docs\"\nurl = \"{SAMPLE_URL}{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\ncontent-root = \"content/en-us\"\nsite-url = \"https://create.roblox.com/docs\"\nprose-license = \"CC-BY-4.0\"\ncode-license = \"MIT\"\nauthor = \"vcurate sample authors\"\n",
                sample::CREATOR_DOCS
            ),
        ),
        (
            sample::CHAT,
            "# A small chat/completions dataset (the embedded sample).\nkind = \"jsonl\"\npath = \"samples/chat/chat.jsonl\"\nrights-basis = \"generated\"\nlicense = \"MIT\"\n\n[fields]\nsource = \"meta.source\"\nlicense = \"meta.license\"\n".to_string(),
        ),
    ];
    for (id, text) in manifests {
        fs_err::write(dir.join("sources").join(format!("{id}.toml")), text)?;
    }
    Ok(Workspace::open(dir)?)
}

/// One finished stage of the quickstart, for the caller to show.
pub enum Step<'a> {
    Setup(&'a Workspace),
    Ingest(&'a crate::ingest::IngestReport),
    Audit(&'a [crate::audit::run::AuditSummary]),
    Snapshot(&'a crate::snapshot::freeze::SnapshotManifest),
    Report(&'a Path),
    Export(&'a crate::export::ExportReport),
}

/// What the quickstart made, stage by stage.
#[derive(Debug, serde::Serialize)]
pub struct QuickstartReport {
    pub workspace: PathBuf,
    pub snapshot: String,
    pub report: PathBuf,
    pub export: PathBuf,
}

/// The whole pipeline on the embedded sample: setup, ingest, audit, snapshot, report, export.
/// `on_step` is called after each stage; `progress` receives ingest's progress events.
pub fn run(
    dir: &Path,
    on_step: &dyn Fn(Step),
    progress: &(dyn Fn(crate::ingest::Progress) + Sync),
) -> Result<QuickstartReport, QuickstartError> {
    let ws = setup(dir)?;
    on_step(Step::Setup(&ws));
    let ingest = crate::ingest::run(&ws, &crate::ingest::IngestOptions::default(), progress)?;
    on_step(Step::Ingest(&ingest));
    let audits = crate::audit::run::run(&ws, &[], &|_| {})?;
    on_step(Step::Audit(&audits));
    let snap = crate::snapshot::create(&ws, &crate::snapshot::CreateSettings::default())?;
    on_step(Step::Snapshot(&snap));
    let snaps = ws.dataset_dir().join("snapshots");
    let report = snaps.join(&snap.id).join("reports").join("report.html");
    crate::report::write(&snaps, &snap.id, &report)?;
    on_step(Step::Report(&report));
    let settings = crate::export::ExportSettings {
        snapshot: snap.id.clone(),
        format: crate::export::Format::Chat,
        profile: "train".into(),
        out: ws.root.join("exports").join(&snap.id),
        provenance: true,
        drop_refused: false,
    };
    let export = crate::export::run(&ws, &settings)?;
    on_step(Step::Export(&export));
    Ok(QuickstartReport {
        workspace: ws.root.clone(),
        snapshot: snap.id,
        report,
        export: settings.out,
    })
}
