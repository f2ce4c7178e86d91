use polars::prelude::*;

use crate::audit::jobs::{by_name, AuditContext};
use crate::core::Exclusion;
use crate::workspace::Workspace;

/// A generated workspace: 6 shards, ~1/4 of the documents near duplicates or exact copies of
/// an earlier one (often in another shard).
fn corpus(dir: &std::path::Path, docs: usize) -> Workspace {
    crate::bench::scale::generate(dir, docs, 6, 7, false).unwrap();
    Workspace::open(dir).unwrap()
}

fn sorted(mut rows: Vec<Exclusion>) -> Vec<Exclusion> {
    rows.sort_by(|a, b| a.document_ids.cmp(&b.document_ids));
    rows
}

/// Asserts that `audit`'s tables as written equal the in-memory job's output; returns the
/// job's summary and the number of excluded rows.
fn assert_tables_equal(
    ws: &Workspace,
    audit: &str,
    ctx: &AuditContext,
) -> (serde_json::Value, usize) {
    let (attrs, excl) = table(ws, audit);
    let want = by_name(audit).unwrap().run(ctx).unwrap();
    assert!(
        attrs.equals_missing(&want.attributes),
        "{audit}: attributes differ\n{attrs}\n{}",
        want.attributes
    );
    assert_eq!(excl, sorted(want.excluded), "{audit}: exclusions differ");
    (want.summary, excl.len())
}

fn table(ws: &Workspace, audit: &str) -> (DataFrame, Vec<Exclusion>) {
    let dir = crate::audit::run::audit_dir(ws);
    let attrs =
        crate::store::read_parquet(&dir.join("attributes").join(format!("{audit}.parquet")))
            .unwrap();
    let excl =
        crate::store::read_exclusions(&crate::audit::run::excluded_path(&dir, audit)).unwrap();
    (attrs, sorted(excl))
}

/// The sharded stages give the in-memory jobs' clusters, keepers, Jaccard scores and drops,
/// with the earlier audit's drops and the license table steering the keeper.
#[test]
fn sharded_dedup_equals_the_in_memory_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = corpus(tmp.path(), 3000);
    let docs = crate::store::all_documents(&ws.store_dir()).unwrap();
    // A license table that makes some later copies better keepers than the first ones.
    let dir = crate::audit::run::audit_dir(&ws);
    let spdx: Vec<Option<&str>> = (0..docs.len())
        .map(|i| match i % 3 {
            0 => Some("MIT"),
            1 => Some("GPL-3.0-only"),
            _ => None,
        })
        .collect();
    crate::store::write_parquet(
        &dir.join("attributes").join("license.parquet"),
        DataFrame::new(
            docs.len(),
            vec![
                Column::new(
                    "id".into(),
                    docs.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
                ),
                Column::new("spdx".into(), spdx),
            ],
        ),
    )
    .unwrap();
    let texts: Vec<_> = docs.iter().map(crate::audit::jobs::audit_text).collect();
    let ctx = AuditContext::new(&ws, &docs, &texts);
    for audit in ["exact-dedup", "near-dedup"] {
        crate::audit::run::run_with(&ws, &[audit.to_string()], 2, &|_| {}).unwrap();
        // The in-memory job reads the same earlier tables (exact-dedup's, just written).
        let (want_summary, excluded) = assert_tables_equal(&ws, audit, &ctx);
        assert!(excluded > 0, "{audit}: the corpus plants duplicates");
        let summary: serde_json::Value = serde_json::from_slice(
            &fs_err::read(dir.join("summary").join(format!("{audit}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(summary["cluster_sizes"], want_summary["cluster_sizes"]);
        if audit == "near-dedup" {
            for k in [
                "empty_docs",
                "identical_shingle_sets",
                "candidate_pairs",
                "verified_pairs",
                "oversized_buckets",
            ] {
                assert_eq!(summary["stats"][k], want_summary["stats"][k], "{k}");
            }
        }
    }
    // The work folder is gone after a successful run.
    assert!(!dir.join("work").exists());
}

/// A task that dies mid-way (abort: no destructors, temp files left behind) leaves no marker;
/// the rerun runs only the missing tasks and writes the same tables as a clean run.
#[test]
fn a_rerun_after_a_crash_does_what_is_missing_and_gives_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = corpus(tmp.path(), 800);
    let work = tmp.path().join("work");
    super::plan(&ws, "near-dedup", &work, Some(3)).unwrap();
    // Run up to the sets stage, then "crash" in one of its tasks: simulate by removing the
    // outputs' marker of task 1 after a full run of the stage and leaving a torn temp file.
    let plan = super::Plan::read(&work).unwrap();
    for st in &plan.stages[..5] {
        for t in 0..st.tasks {
            assert!(super::run_task(&work, &st.stage, t, false).unwrap());
        }
    }
    fs_err::remove_file(super::marker(&work, "near-sets", 1)).unwrap();
    fs_err::write(work.join("near-sets").join(".tmpTORN"), b"half a file").unwrap();
    // A later stage refuses to start while an earlier one is unfinished.
    let err = super::run_task(&work, "near-verify", 0, false).unwrap_err();
    assert!(matches!(err, super::ShardError::NotReady { .. }), "{err}");
    let ran = std::sync::Mutex::new(Vec::new());
    super::run_local(&work, 2, &|stage, task, did| {
        if did {
            ran.lock().unwrap().push((stage.to_string(), task));
        }
    })
    .unwrap();
    let ran = ran.into_inner().unwrap();
    assert!(ran.contains(&("near-sets".to_string(), 1)));
    assert!(!ran
        .iter()
        .any(|(s, _)| s == "near-sig" || s == "near-bucket"));
    let resumed = table(&ws, "near-dedup");
    // A clean run in another folder.
    let work2 = tmp.path().join("work2");
    super::plan(&ws, "near-dedup", &work2, Some(3)).unwrap();
    super::run_local(&work2, 1, &|_, _, _| {}).unwrap();
    let clean = table(&ws, "near-dedup");
    assert!(resumed.0.equals_missing(&clean.0));
    assert_eq!(resumed.1, clean.1);
    // Same inputs, same plan (finished tasks count); other settings, a fresh plan.
    let again = super::plan(&ws, "near-dedup", &work, Some(3)).unwrap();
    assert_eq!(again.fingerprint, plan.fingerprint);
    assert!(super::marker(&work, "near-sig", 0).exists());
    let other = super::plan(&ws, "near-dedup", &work, Some(4)).unwrap();
    assert_ne!(other.fingerprint, plan.fingerprint);
    assert!(!super::marker(&work, "near-sig", 0).exists());
}

fn summary(ws: &Workspace, audit: &str) -> serde_json::Value {
    let p = crate::audit::run::audit_dir(ws)
        .join("summary")
        .join(format!("{audit}.json"));
    serde_json::from_slice(&fs_err::read(p).unwrap()).unwrap()
}

/// The whole `vcurate audit` on the sharded path (every audit but splits in shards, splits
/// from the dedup tables without texts) writes the in-memory jobs' tables and summaries; a
/// store whose sources are cut into several shards each gives them too.
#[test]
fn a_sharded_full_audit_equals_the_in_memory_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = corpus(tmp.path(), 1500);
    crate::audit::run::run_with(&ws, &[], 2, &|_| {}).unwrap();
    let docs = crate::store::all_documents(&ws.store_dir()).unwrap();
    let texts: Vec<_> = docs.iter().map(crate::audit::jobs::audit_text).collect();
    let ctx = AuditContext::new(&ws, &docs, &texts);
    let mut excluded = std::collections::BTreeMap::new();
    for audit in crate::audit::run::AUDITS {
        let (want_summary, n) = assert_tables_equal(&ws, audit, &ctx);
        excluded.insert(*audit, n);
        if !["exact-dedup", "near-dedup"].contains(audit) {
            assert_eq!(
                summary(&ws, audit),
                want_summary,
                "{audit}: summaries differ"
            );
        }
    }
    // The corpus plants duplicates, denied licenses and credentials.
    for audit in ["license", "secrets", "exact-dedup", "near-dedup"] {
        assert!(excluded[audit] > 0, "{audit} dropped nothing: {excluded:?}");
    }
    // Sources cut into shards of 100 rows (on no batch boundary): the same tables.
    for audit in ["quality", "secrets", "contamination", "near-dedup"] {
        let before = (table(&ws, audit), summary(&ws, audit));
        let work = tmp.path().join("work").join(audit);
        let plan = super::plan_with(&ws, audit, &work, None, 100).unwrap();
        assert_eq!(plan.shards.len(), 18, "6 sources of 250 documents");
        assert_eq!((plan.shards[1].start, plan.shards[1].rows), (100, 100));
        super::run_local(&work, 2, &|_, _, _| {}).unwrap();
        let after = (table(&ws, audit), summary(&ws, audit));
        assert!(before.0 .0.equals_missing(&after.0 .0), "{audit}");
        assert_eq!(before.0 .1, after.0 .1, "{audit}");
        if audit != "near-dedup" {
            assert_eq!(before.1, after.1, "{audit}");
        }
    }
}

/// A local folder of more files than ingest decodes at a time is streamed into the store in
/// path order, every file once; its one source is then cut into several shards whose
/// per-document audit equals the in-memory job.
#[test]
fn a_large_local_source_is_ingested_in_chunks_and_audited_in_several_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = crate::bench::scale::generate(tmp.path(), 5000, 1, 3, true).unwrap();
    assert!(corpus.files);
    let ws = Workspace::open(tmp.path()).unwrap();
    let report =
        crate::ingest::run(&ws, &crate::ingest::IngestOptions::default(), &|_| {}).unwrap();
    assert_eq!(report.sources[0].documents, 5000);
    let docs = crate::store::all_documents(&ws.store_dir()).unwrap();
    let paths: Vec<&str> = docs.iter().map(|d| d.provenance.path.as_str()).collect();
    let mut want: Vec<String> = (0..5000).map(|i| format!("src/m{i}.luau")).collect();
    want.sort();
    assert_eq!(paths, want);
    let root = tmp.path().join("corpus").join("shard-00000");
    for d in [&docs[0], &docs[4096], &docs[4999]] {
        assert_eq!(
            d.text,
            fs_err::read_to_string(root.join(&d.provenance.path)).unwrap()
        );
        assert!(d.luau.is_some(), "a Luau file is analysed");
    }
    let work = tmp.path().join("work");
    let plan = super::plan_with(&ws, "quality", &work, None, 2048).unwrap();
    assert_eq!(plan.shards.len(), 3);
    super::run_local(&work, 2, &|_, _, _| {}).unwrap();
    let texts: Vec<_> = docs.iter().map(crate::audit::jobs::audit_text).collect();
    assert_tables_equal(&ws, "quality", &AuditContext::new(&ws, &docs, &texts));
}
