//! Weighing a document's license evidence into its verdict: in-file evidence first, then the
//! nearest folder's license files and manifests (a fixture's manifests and READMEs set aside, a
//! fixture's license texts only ever more restrictive than the license around them), a README
//! only alone (and then the verdict is marked as resting on weak evidence), docs sources'
//! declared prose and code licenses, imported rows' own fields; the more restrictive reading
//! wins a disagreement, which is reported.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use rayon::prelude::*;

use super::recognize::{
    agree, read_declared, read_evidence_file, read_header, read_license_file, read_readme,
    FileReading, HeaderMatches,
};
use super::{
    normalize, permissiveness, Evidence, EvidenceKind, LicenseConfig, LicenseVerdict, RootLicense,
    Status, NOASSERTION, UNKNOWN,
};
use crate::audit::license_expr::ids;
use crate::core::{CandidateKind, Document, SourceKind, UnitKind};
use crate::ingest::evidence::fixture_root;
use crate::ingest::manifest::Source;
use crate::store::EvidenceFile;

/// A candidate reading while a verdict is assembled.
#[derive(Debug, Clone)]
struct Item {
    ev: Evidence,
    /// Folder the evidence file is in ("" for the root and for in-file evidence).
    dir: String,
    note: Option<String>,
    copyright: Vec<String>,
}

impl Item {
    fn from_reading(r: FileReading, path: &str, fixture: bool) -> Item {
        Item {
            dir: path
                .rsplit_once('/')
                .map(|(d, _)| d)
                .unwrap_or("")
                .to_string(),
            ev: Evidence {
                kind: r.kind,
                path: path.to_string(),
                line: r.line,
                matched: r.matched,
                score: r.score,
                license: r.license,
                fixture,
                used: false,
                ignored: None,
            },
            note: r.note,
            copyright: r.copyright,
        }
    }
    fn license(&self) -> Option<&str> {
        self.ev.license.as_deref()
    }
}

fn is_unknown(e: &str) -> bool {
    e == NOASSERTION || e.contains(UNKNOWN)
}

/// The more restrictive of two readings; `a` wins ties (callers pass the stronger kind first).
fn restrictive<'a>(a: &'a str, b: &'a str) -> &'a str {
    if is_unknown(a) {
        return a;
    }
    if is_unknown(b) {
        return b;
    }
    if permissiveness(b) < permissiveness(a) {
        b
    } else {
        a
    }
}

/// A reading being built: expression, confidence and the indices of the items it rests on.
#[derive(Debug, Clone)]
struct Reading {
    expr: String,
    confidence: f64,
    used: Vec<usize>,
}

/// Runs the license audit over every document.
pub fn detect(
    docs: &[Document],
    evidence: &[EvidenceFile],
    sources: &[Source],
    cfg: &LicenseConfig,
) -> Vec<LicenseVerdict> {
    detect_with(docs, &prepare(evidence, cfg), sources, cfg)
}

/// What a run reads once for all its documents: every evidence file recognized, and the
/// header texts matched so far. A sharded run keeps it across the batches of a shard.
pub struct Prepared {
    readings: Readings,
    header_matches: HeaderMatches,
}

pub fn prepare(evidence: &[EvidenceFile], cfg: &LicenseConfig) -> Prepared {
    Prepared {
        readings: read_all_evidence(evidence, cfg),
        header_matches: Mutex::new(HashMap::new()),
    }
}

/// [`detect`] with the evidence already read ([`prepare`], with the same `cfg`).
pub fn detect_with(
    docs: &[Document],
    prepared: &Prepared,
    sources: &[Source],
    cfg: &LicenseConfig,
) -> Vec<LicenseVerdict> {
    let by_id: HashMap<&str, &Source> = sources.iter().map(|s| (s.id.as_str(), s)).collect();
    let ctx = Ctx {
        readings: &prepared.readings,
        cfg,
        header_matches: &prepared.header_matches,
    };
    docs.par_iter()
        .map(|d| verdict(d, &ctx, by_id.get(d.provenance.source_id.as_str()).copied()))
        .collect()
}

type Readings = HashMap<(String, String), FileReading>;

/// What one run shares across documents.
struct Ctx<'a> {
    readings: &'a Readings,
    cfg: &'a LicenseConfig,
    header_matches: &'a HeaderMatches,
}

fn read_all_evidence(evidence: &[EvidenceFile], cfg: &LicenseConfig) -> Readings {
    evidence
        .par_iter()
        .filter_map(|ev| {
            read_evidence_file(ev, cfg).map(|r| ((ev.source_id.clone(), ev.path.clone()), r))
        })
        .collect()
}

/// The verdict for one document.
fn verdict(doc: &Document, ctx: &Ctx, source: Option<&Source>) -> LicenseVerdict {
    let (readings, cfg) = (ctx.readings, ctx.cfg);
    let p = &doc.provenance;
    let mut items: Vec<Item> = Vec::new();
    let mut prose: Option<(String, FileReading)> = None;
    let mut code: Option<(String, FileReading)> = None;
    for c in &p.license_candidates {
        let fixture = fixture_root(&c.path).is_some();
        match c.kind {
            CandidateKind::LicenseFile | CandidateKind::PackageManifest | CandidateKind::Readme => {
                let r = match readings.get(&(p.source_id.clone(), c.path.clone())) {
                    Some(r) => r.clone(),
                    // Not in the evidence table (an older store): the candidate's own value.
                    None => {
                        match c.kind {
                            CandidateKind::PackageManifest => {
                                read_declared(EvidenceKind::Manifest, &c.path, &c.value, 0.9)
                            }
                            CandidateKind::Readme => match read_readme(&c.value, cfg) {
                                Some(r) => r,
                                None => continue,
                            },
                            _ => {
                                let mut r = read_license_file(&c.path, &c.value, cfg);
                                r.note = Some(format!("{}: full text not in the evidence table; read its first line only", c.path));
                                r
                            }
                        }
                    }
                };
                items.push(Item::from_reading(r, &c.path, fixture));
            }
            CandidateKind::SpdxTag => {
                let mut r = read_declared(EvidenceKind::SpdxTag, &c.path, &c.value, 0.99);
                r.line = c.line;
                items.push(Item::from_reading(r, &c.path, false));
                // In-file evidence is not in a folder; keep dir for sorting only.
            }
            CandidateKind::Declared => {
                if let Some(v) = c.value.strip_prefix("prose:") {
                    prose = Some((
                        v.trim().to_string(),
                        read_declared(EvidenceKind::DeclaredProse, "", v.trim(), 0.9),
                    ));
                } else if let Some(v) = c.value.strip_prefix("code:") {
                    code = Some((
                        v.trim().to_string(),
                        read_declared(EvidenceKind::DeclaredCode, "", v.trim(), 0.9),
                    ));
                } else {
                    items.push(Item::from_reading(
                        read_declared(EvidenceKind::Declared, "", &c.value, 0.8),
                        "",
                        false,
                    ));
                }
            }
            CandidateKind::Row => {
                let mut r = read_declared(EvidenceKind::Row, &c.path, &c.value, 0.85);
                r.line = c.line;
                items.push(Item::from_reading(r, &c.path, false));
            }
            // Header lines are re-read below from the file's whole leading comment block.
            CandidateKind::Header => {}
        }
    }
    let mut copyright: Vec<String> = Vec::new();
    // Header comments of code files (Markdown `#` lines are headings, not comments).
    let prose_file = [".md", ".markdown", ".mdx", ".rst", ".txt"]
        .iter()
        .any(|e| p.path.to_ascii_lowercase().ends_with(e));
    if p.unit_kind == UnitKind::File && p.source_kind != SourceKind::Jsonl && !prose_file {
        let (header, cr) = read_header(doc, cfg, ctx.header_matches);
        copyright = cr;
        if let Some(h) = header {
            let path = p.path.clone();
            items.push(Item::from_reading(h, &path, false));
        }
    }

    let mut v = LicenseVerdict::empty(&doc.id, &p.source_id, &p.path, NOASSERTION);
    set_aside_fixture_declarations(&mut items, &mut v);
    // `contested`: evidence contradicts a declaration outright, so a person must look.
    let (reading, contested) = if prose.is_some() || code.is_some() {
        docs_reading(doc, prose, code, &mut items, &mut v)
    } else {
        (file_reading(doc, &mut items, &mut v), false)
    };
    for i in &reading.used {
        items[*i].ev.used = true;
    }
    v.weak_evidence = !reading.used.is_empty()
        && reading
            .used
            .iter()
            .all(|&i| items[i].ev.kind == EvidenceKind::Readme);
    if copyright.is_empty() {
        for i in &reading.used {
            for c in &items[*i].copyright {
                if !copyright.contains(c) {
                    copyright.push(c.clone());
                }
            }
        }
    }
    for it in &items {
        if let Some(n) = &it.note {
            if !v.notes.contains(n) {
                v.notes.push(n.clone());
            }
        }
    }
    v.spdx = reading.expr;
    v.confidence = (reading.confidence * 1000.0).round() / 1000.0;
    v.copyright = copyright;
    v.evidence = items.into_iter().map(|i| i.ev).collect();
    v.status = if !is_unknown(&v.spdx) && v.confidence >= cfg.min_confidence && !contested {
        Status::Resolved
    } else {
        Status::Unresolved
    };
    // The expected license is a cross-check only.
    if let Some(expected) = source.and_then(|s| s.expected_license.as_deref()) {
        let exp = normalize(expected)
            .map(|n| n.expr)
            .unwrap_or_else(|_| expected.to_string());
        if !is_unknown(&v.spdx) && !agree(&exp, &v.spdx) {
            v.conflicts.push(format!(
                "the source manifest expects `{exp}` but the evidence says `{}` (the expectation is never used as evidence)",
                v.spdx
            ));
        } else if is_unknown(&v.spdx) {
            v.notes.push(format!(
                "the source manifest expects `{exp}`; not used as evidence"
            ));
        }
    }
    v
}

/// A manifest or README inside a fixture folder describes test or example data, not a package
/// of its own (wally's `test-projects/*/wally.toml` say `MIT` inside the MPL-2.0 tool): it sets
/// no file's license, so the files below it inherit the license around the fixture. Such pieces
/// stay in the evidence, marked `ignored` with the reason, and the verdict notes them.
fn set_aside_fixture_declarations(items: &mut [Item], v: &mut LicenseVerdict) {
    for it in items.iter_mut() {
        if !it.ev.fixture || !matches!(it.ev.kind, EvidenceKind::Manifest | EvidenceKind::Readme) {
            continue;
        }
        let Some(root) = fixture_root(&it.ev.path) else {
            continue;
        };
        let what = if it.ev.kind == EvidenceKind::Manifest {
            "a manifest"
        } else {
            "a README"
        };
        let why = format!(
            "`{}` sits in the fixture folder `{root}/`: {what} there describes test or example data, not a package of its own, so it sets no license; the files below it inherit the license around the fixture",
            it.ev.path
        );
        if let Some(l) = it.license() {
            v.notes.push(format!(
                "ignored `{}` (`{l}`): it is fixture data in `{root}/`",
                it.ev.path
            ));
        }
        it.ev.ignored = Some(why);
    }
}

/// Docs units: prose and code licenses stay separate; a unit with code carries both.
fn docs_reading(
    doc: &Document,
    prose: Option<(String, FileReading)>,
    code: Option<(String, FileReading)>,
    items: &mut Vec<Item>,
    v: &mut LicenseVerdict,
) -> (Reading, bool) {
    let has_code = !doc.code_blocks.is_empty();
    let mut used = Vec::new();
    let mut part = |d: Option<(String, FileReading)>, items: &mut Vec<Item>, use_it: bool| {
        d.map(|(_, r)| {
            let lic = r.license.clone().unwrap_or_else(|| UNKNOWN.into());
            items.push(Item::from_reading(r, "", false));
            if use_it {
                used.push(items.len() - 1);
            }
            lic
        })
    };
    let prose_l = part(prose, items, true);
    let code_l = part(code, items, has_code);
    let expr = match (&prose_l, &code_l) {
        (Some(pl), Some(cl)) if has_code && !agree(pl, cl) => {
            format!("{} AND {}", paren(pl), paren(cl))
        }
        (Some(pl), _) => pl.clone(),
        (None, Some(cl)) => cl.clone(),
        (None, None) => UNKNOWN.into(),
    };
    v.prose_license = prose_l.clone();
    v.code_license = if has_code { code_l.clone() } else { None };
    if let Some(a) = &doc.provenance.attribution {
        if let Ok(n) = normalize(&a.license) {
            if !agree(&n.expr, &expr) {
                v.notes.push(format!(
                    "the attribution recorded at ingest says `{}`; the audit reads `{expr}`",
                    a.license
                ));
            }
        }
    }
    // Folder license files corroborate or contradict the declaration.
    let declared: Vec<String> = [prose_l.as_deref(), code_l.as_deref()]
        .into_iter()
        .flatten()
        .flat_map(ids)
        .collect();
    let mut confidence: f64 = 0.9;
    let mut contested = false;
    for (i, it) in items.iter().enumerate() {
        if it.ev.ignored.is_some()
            || !matches!(
                it.ev.kind,
                EvidenceKind::LicenseText | EvidenceKind::LicenseStatement | EvidenceKind::Manifest
            )
        {
            continue;
        }
        let Some(l) = it.license() else { continue };
        if l == UNKNOWN {
            continue;
        }
        if ids(l)
            .iter()
            .all(|id| declared.iter().any(|d| agree(d, id)))
        {
            confidence = 0.97;
            used.push(i);
        } else {
            contested = true;
            v.conflicts.push(format!(
                "`{}` reads as `{l}`, which the source declares for neither prose ({}) nor code ({})",
                it.ev.path,
                prose_l.as_deref().unwrap_or("-"),
                code_l.as_deref().unwrap_or("-")
            ));
        }
    }
    (
        Reading {
            expr,
            confidence,
            used,
        },
        contested,
    )
}

fn paren(e: &str) -> String {
    if e.contains(" OR ") {
        format!("({e})")
    } else {
        e.to_string()
    }
}

/// Files (git, local) and imported rows.
fn file_reading(doc: &Document, items: &mut [Item], v: &mut LicenseVerdict) -> Reading {
    let in_file = in_file_reading(items, v);
    let folder = folder_reading(items, v);
    let mut r = match (in_file, folder) {
        (Some(a), Some(b)) => {
            if agree(&a.expr, &b.expr) {
                let mut used = a.used.clone();
                used.extend(b.used);
                Reading {
                    confidence: a.confidence.max(b.confidence),
                    expr: a.expr,
                    used,
                }
            } else {
                let pick = restrictive(&a.expr, &b.expr).to_string();
                v.conflicts.push(format!(
                    "the file itself says `{}` but {} says `{}`; kept the more restrictive `{pick}`",
                    a.expr,
                    describe(items, &b.used),
                    b.expr
                ));
                if pick == a.expr {
                    a
                } else {
                    b
                }
            }
        }
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => {
            // Weakest: a README statement, nearest first; then declarations and row fields.
            let readme = items
                .iter()
                .enumerate()
                .filter(|(_, it)| {
                    it.ev.kind == EvidenceKind::Readme
                        && it.license().is_some()
                        && it.ev.ignored.is_none()
                })
                .max_by_key(|(_, it)| depth(&it.dir));
            let declared = items
                .iter()
                .enumerate()
                .filter(|(_, it)| {
                    matches!(it.ev.kind, EvidenceKind::Row | EvidenceKind::Declared)
                        && it.license().is_some()
                })
                .max_by_key(|(_, it)| (it.ev.kind == EvidenceKind::Row) as u8);
            match (declared, readme) {
                (Some((i, it)), _) => Reading {
                    expr: it.license().unwrap_or(UNKNOWN).to_string(),
                    confidence: it.ev.score,
                    used: vec![i],
                },
                (None, Some((i, it))) => {
                    v.notes.push(format!(
                        "only a README statement ({}) speaks to the license",
                        it.ev.path
                    ));
                    Reading {
                        expr: it.license().unwrap_or(UNKNOWN).to_string(),
                        confidence: it.ev.score,
                        used: vec![i],
                    }
                }
                (None, None) => {
                    let fallback = doc
                        .provenance
                        .code_license
                        .as_ref()
                        .filter(|_| doc.luau.is_some())
                        .or(doc.provenance.prose_license.as_ref());
                    match fallback.map(|f| (f, normalize(f))) {
                        Some((f, Ok(n))) => {
                            v.notes.push(format!(
                                "no evidence in the tree; the docs source declares `{f}`"
                            ));
                            Reading {
                                expr: n.expr,
                                confidence: 0.8,
                                used: vec![],
                            }
                        }
                        _ => {
                            v.notes
                                .push("no license evidence found for this document".into());
                            Reading {
                                expr: NOASSERTION.into(),
                                confidence: 0.0,
                                used: vec![],
                            }
                        }
                    }
                }
            }
        }
    };
    if is_unknown(&r.expr) {
        r.confidence = 0.0;
    }
    r
}

fn depth(dir: &str) -> usize {
    if dir.is_empty() {
        0
    } else {
        dir.matches('/').count() + 1
    }
}

fn describe(items: &[Item], used: &[usize]) -> String {
    let paths: Vec<&str> = used.iter().map(|i| items[*i].ev.path.as_str()).collect();
    if paths.is_empty() {
        "the folder".into()
    } else {
        format!("`{}`", paths.join("`, `"))
    }
}

/// SPDX tags (all of them, ANDed) or else the header comment.
fn in_file_reading(items: &[Item], v: &mut LicenseVerdict) -> Option<Reading> {
    let tags: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].ev.kind == EvidenceKind::SpdxTag && items[i].license().is_some())
        .collect();
    let header = (0..items.len()).find(|&i| items[i].ev.kind == EvidenceKind::Header);
    if !tags.is_empty() {
        let mut exprs: Vec<String> = Vec::new();
        for &i in &tags {
            let l = items[i].license().unwrap_or(UNKNOWN).to_string();
            if !exprs.contains(&l) {
                exprs.push(l);
            }
        }
        let expr = if exprs.iter().any(|e| is_unknown(e)) {
            UNKNOWN.to_string()
        } else {
            exprs
                .iter()
                .map(|e| paren(e))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let conf = tags.iter().map(|&i| items[i].ev.score).fold(1.0, f64::min);
        let mut used = tags.clone();
        if let Some(h) = header {
            let hl = items[h].license().unwrap_or(UNKNOWN);
            if agree(hl, &expr) {
                used.push(h);
            } else if !is_unknown(hl) {
                v.conflicts.push(format!(
                    "the SPDX tag says `{expr}` but the header comment reads as `{hl}`"
                ));
                let pick = restrictive(&expr, hl).to_string();
                if pick != expr {
                    return Some(Reading {
                        expr: pick,
                        confidence: items[h].ev.score,
                        used: vec![h],
                    });
                }
            }
        }
        return Some(Reading {
            expr,
            confidence: conf,
            used,
        });
    }
    let h = header?;
    let l = items[h].license()?.to_string();
    Some(Reading {
        confidence: items[h].ev.score,
        expr: l,
        used: vec![h],
    })
}

/// The nearest folder's license files and manifests. Fixture manifests were set aside before;
/// a license text inside a fixture folder is read beside the nearest non-fixture folder and
/// kept only when it is more restrictive (it may be a vendored library's real license, which
/// must not be lost), never when it would relax the license around it or stand alone.
fn folder_reading(items: &mut [Item], v: &mut LicenseVerdict) -> Option<Reading> {
    let folder_kinds = |k: EvidenceKind| {
        matches!(
            k,
            EvidenceKind::LicenseText | EvidenceKind::LicenseStatement | EvidenceKind::Manifest
        )
    };
    let mut groups: BTreeMap<(bool, usize, String), Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        if folder_kinds(it.ev.kind) && it.license().is_some() && it.ev.ignored.is_none() {
            groups
                .entry((it.ev.fixture, depth(&it.dir), it.dir.clone()))
                .or_default()
                .push(i);
        }
    }
    let nearest = |fixture: bool| {
        groups
            .iter()
            .filter(|((f, _, _), _)| *f == fixture)
            .max_by_key(|((_, d, _), _)| *d)
            .map(|((_, _, dir), idx)| (dir.clone(), idx.clone()))
    };
    let main = nearest(false).map(|(dir, idx)| group_reading(&dir, &idx, items, v));
    let fixture =
        nearest(true).map(|(dir, idx)| (dir.clone(), group_reading(&dir, &idx, items, v)));
    let mut set_aside = |used: &[usize], why: String| {
        for &i in used {
            items[i].ev.ignored = Some(why.clone());
        }
    };
    match (main, fixture) {
        (Some(m), Some((dir, f))) => {
            if agree(&m.expr, &f.expr) {
                let mut used = m.used.clone();
                used.extend(f.used);
                Some(Reading { used, ..m })
            } else if restrictive(&m.expr, &f.expr) == m.expr {
                v.notes.push(format!(
                    "fixture evidence in `{dir}/` reads `{}`, which would relax the enclosing `{}`; kept `{}`",
                    f.expr, m.expr, m.expr
                ));
                set_aside(
                    &f.used,
                    format!(
                        "fixture evidence in `{dir}/` never relaxes the license around it (`{}`)",
                        m.expr
                    ),
                );
                Some(m)
            } else {
                v.conflicts.push(format!(
                    "fixture evidence in `{dir}/` says `{}` but the enclosing license is `{}`; a license text there may be a vendored library's own, so the more restrictive `{}` is kept",
                    f.expr, m.expr, f.expr
                ));
                Some(f)
            }
        }
        (Some(m), None) => Some(m),
        (None, Some((dir, f))) => {
            v.notes.push(format!(
                "the only folder evidence is fixture evidence in `{dir}/` (`{}`), which sets no license on its own",
                f.expr
            ));
            set_aside(
                &f.used,
                format!("fixture evidence in `{dir}/` only ever makes the license around it more restrictive, and there is none"),
            );
            None
        }
        (None, None) => None,
    }
}

/// License files and manifests of one folder read together.
fn group_reading(dir: &str, idx: &[usize], items: &[Item], v: &mut LicenseVerdict) -> Reading {
    let shown = if dir.is_empty() {
        "the root".to_string()
    } else {
        format!("`{dir}/`")
    };
    let texts: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| items[i].ev.kind != EvidenceKind::Manifest)
        .collect();
    let manifests: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| items[i].ev.kind == EvidenceKind::Manifest)
        .collect();
    let lic = |i: usize| items[i].license().unwrap_or(UNKNOWN).to_string();
    let unknown_text = texts.iter().copied().find(|&i| lic(i) == UNKNOWN);
    if let Some(u) = unknown_text {
        for &m in &manifests {
            if lic(m) != UNKNOWN {
                v.conflicts.push(format!(
                    "`{}` says `{}` but `{}` does not match that license (or any other); the text decides",
                    items[m].ev.path,
                    lic(m),
                    items[u].ev.path
                ));
            }
        }
        return Reading {
            expr: UNKNOWN.into(),
            confidence: 0.0,
            used: vec![u],
        };
    }
    // The union of what the license files say; several different files are read as AND unless
    // a manifest in the same folder names exactly those licenses with its own operators.
    let mut text_exprs: Vec<String> = Vec::new();
    for &i in &texts {
        let l = lic(i);
        if !text_exprs.iter().any(|e| agree(e, &l)) {
            text_exprs.push(l);
        }
    }
    let text_conf = texts.iter().map(|&i| items[i].ev.score).fold(0.0, f64::max);
    let mut manifest_exprs: Vec<(usize, String)> = Vec::new();
    for &i in &manifests {
        let l = lic(i);
        if !manifest_exprs.iter().any(|(_, e)| agree(e, &l)) {
            manifest_exprs.push((i, l));
        }
    }
    let manifest = match manifest_exprs.len() {
        0 => None,
        1 => Some(manifest_exprs[0].clone()),
        _ => {
            let mut pick = manifest_exprs[0].clone();
            for (i, e) in &manifest_exprs[1..] {
                if restrictive(&pick.1, e) == e.as_str() && e != &pick.1 {
                    pick = (*i, e.clone());
                }
            }
            v.conflicts.push(format!(
                "manifests in {shown} disagree ({}); kept the more restrictive `{}`",
                manifest_exprs
                    .iter()
                    .map(|(i, e)| format!("`{}`: `{e}`", items[*i].ev.path))
                    .collect::<Vec<_>>()
                    .join(", "),
                pick.1
            ));
            Some(pick)
        }
    };
    if text_exprs.is_empty() {
        let (i, e) = manifest.expect("a group has at least one reading");
        return Reading {
            confidence: if e == UNKNOWN { 0.0 } else { items[i].ev.score },
            expr: e,
            used: vec![i],
        };
    }
    let joined_ids: Vec<String> = {
        let mut v: Vec<String> = text_exprs.iter().flat_map(|e| ids(e)).collect();
        v.sort();
        v.dedup();
        v
    };
    let text_expr = if text_exprs.len() == 1 {
        text_exprs[0].clone()
    } else if let Some((_, m)) = manifest.as_ref().filter(|(_, m)| {
        let mut mi = ids(m);
        mi.sort();
        agree(&mi.join(" AND "), &joined_ids.join(" AND "))
    }) {
        m.clone()
    } else {
        v.notes.push(format!(
            "several license files in {shown} ({}) and no manifest says how they combine; read as AND",
            text_exprs.join(", ")
        ));
        text_exprs
            .iter()
            .map(|e| paren(e))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let mut used = texts.clone();
    match manifest {
        // A flagged manifest string is outranked by a license text that reads cleanly.
        Some((_, m)) if m == UNKNOWN => Reading {
            expr: text_expr,
            confidence: text_conf,
            used,
        },
        Some((mi, m)) if agree(&m, &text_expr) => {
            used.push(mi);
            Reading {
                expr: text_expr,
                confidence: text_conf.max(items[mi].ev.score),
                used,
            }
        }
        Some((mi, m)) => {
            let pick = restrictive(&text_expr, &m).to_string();
            v.conflicts.push(format!(
                "`{}` says `{m}` but the license file(s) in {shown} read `{text_expr}`; kept the more restrictive `{pick}`",
                items[mi].ev.path
            ));
            if pick == text_expr {
                Reading {
                    expr: text_expr,
                    confidence: text_conf,
                    used,
                }
            } else {
                Reading {
                    expr: m,
                    confidence: items[mi].ev.score,
                    used: vec![mi],
                }
            }
        }
        None => Reading {
            expr: text_expr,
            confidence: text_conf,
            used,
        },
    }
}

/// The license at the root of each source, from its top-level license files and manifests.
pub fn root_licenses(evidence: &[EvidenceFile], cfg: &LicenseConfig) -> Vec<RootLicense> {
    let readings = read_all_evidence(evidence, cfg);
    let mut by_source: BTreeMap<&str, Vec<Item>> = BTreeMap::new();
    for ev in evidence {
        if ev.path.contains('/') {
            continue;
        }
        if let Some(r) = readings.get(&(ev.source_id.clone(), ev.path.clone())) {
            if r.kind != EvidenceKind::Readme && r.license.is_some() {
                by_source
                    .entry(ev.source_id.as_str())
                    .or_default()
                    .push(Item::from_reading(r.clone(), &ev.path, false));
            }
        }
    }
    by_source
        .into_iter()
        .map(|(sid, items)| {
            let mut scratch = LicenseVerdict::empty("", sid, "", "");
            let idx: Vec<usize> = (0..items.len()).collect();
            let r = group_reading("", &idx, &items, &mut scratch);
            RootLicense {
                source_id: sid.to_string(),
                spdx: r.expr,
                confidence: (r.confidence * 1000.0).round() / 1000.0,
                paths: r.used.iter().map(|&i| items[i].ev.path.clone()).collect(),
                conflicts: scratch.conflicts,
            }
        })
        .collect()
}
