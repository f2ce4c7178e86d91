//! The contamination link (issue 6): were these tasks absent from the training data of the
//! model under test?
//!
//! A `vcurate train` run leaves `training.json` beside its adapters naming the snapshot it
//! trained on; that snapshot's `snapshot.toml` lists every eval set its contamination checks ran
//! against (task content hashes) and the tasks that matched a document or a rendered example.
//! The verdict is `clean` only when every task of this run is covered and none matched in a
//! snapshot that kept contaminated data (`allow-contaminated`); anything else is said loudly.
//! Must never report `clean` on missing or unreadable evidence.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::core::training::TrainingRecord;
use crate::eval::report::{Contamination, ContaminationStatus};
use crate::eval::task::{task_hash, Task};

/// The contamination verdict for scoring `tasks` on the base model plus the adapter in
/// `adapter` (`None`: the base model alone, or precomputed responses).
pub fn check(adapter: Option<&Path>, tasks: &[Task]) -> Contamination {
    let unverified = |message: String| Contamination {
        status: ContaminationStatus::Unverified,
        message,
    };
    let Some(adapter) = adapter else {
        return Contamination::unverified();
    };
    let (record_path, record) = match TrainingRecord::find(adapter) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return unverified(format!(
                "the adapter {} has no training.json, so the snapshot it was trained on is unknown and \
                 nobody has checked these tasks against its training data; treat the scores as possibly \
                 contaminated",
                adapter.display()
            ))
        }
        Err(e) => return unverified(format!("could not read the adapter's training record: {e}")),
    };
    let snaps = record.workspace.join("dataset").join("snapshots");
    let manifest = match crate::snapshot::freeze::load(&snaps, &record.snapshot) {
        Ok(m) => m,
        Err(e) => {
            return unverified(format!(
            "{} names snapshot {} but it cannot be read ({e}); the training data cannot be checked",
            record_path.display(),
            record.snapshot
        ))
        }
    };
    let mut covered: BTreeMap<&str, &str> = BTreeMap::new(); // task hash -> eval set
    for set in &manifest.eval_sets {
        for h in &set.task_hashes {
            covered.insert(h, &set.name);
        }
    }
    let mut missing = Vec::new();
    let mut sets = BTreeSet::new();
    let mut matched = Vec::new();
    for t in tasks {
        match covered.get(task_hash(t).as_str()) {
            None => missing.push(t.id.as_str()),
            Some(set) => {
                sets.insert(*set);
                let hit = manifest
                    .eval_sets
                    .iter()
                    .any(|s| s.name == *set && s.matched_tasks.contains(&t.id));
                if hit {
                    matched.push(t.id.as_str());
                }
            }
        }
    }
    let snap = &manifest.id;
    if !missing.is_empty() {
        return unverified(format!(
            "snapshot {snap} (the training data of this adapter) was not checked against {} of {} tasks \
             (e.g. {}); register this task set under [[eval-sets]] in vcurate.toml, re-run `vcurate audit` \
             and `vcurate snapshot create`, and train again",
            missing.len(),
            tasks.len(),
            missing.iter().take(3).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let kept = manifest.flags.iter().any(|f| f == "allow-contaminated");
    let sets = sets.into_iter().collect::<Vec<_>>().join(", ");
    if !matched.is_empty() && kept {
        return Contamination {
            status: ContaminationStatus::Contaminated,
            message: format!(
                "snapshot {snap} was created with allow-contaminated and its data matched {} of these tasks \
                 (e.g. {}): the model has likely seen them; these scores do not measure generalisation",
                matched.len(),
                matched.iter().take(3).copied().collect::<Vec<_>>().join(", ")
            ),
        };
    }
    let excluded = if matched.is_empty() {
        String::new()
    } else {
        format!(
            "; documents or examples matching {} of them were excluded from it",
            matched.len()
        )
    };
    Contamination {
        status: ContaminationStatus::Clean,
        message: format!(
            "snapshot {snap}, which this adapter was trained on, was checked against all {} tasks (eval set {sets}){excluded}",
            tasks.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::freeze::{Counts, EvalSetCoverage, SnapshotManifest};

    fn shipped_tasks() -> Vec<Task> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dataset/evals/luau-basics.jsonl");
        crate::eval::task::load_tasks(&path).unwrap()
    }

    /// A workspace with one snapshot covering `covered` (matching `matched`), and a run folder
    /// whose `training.json` names it; returns the run's `mlx/` folder.
    fn setup(
        root: &Path,
        covered: &[Task],
        matched: &[&str],
        flags: &[&str],
    ) -> std::path::PathBuf {
        let snap = root.join("ws/dataset/snapshots/abc123");
        fs_err::create_dir_all(&snap).unwrap();
        let mut task_hashes: Vec<String> = covered.iter().map(task_hash).collect();
        task_hashes.sort();
        let manifest = SnapshotManifest {
            id: "abc123".into(),
            tool_version: "test".into(),
            created: "2026-01-01T00:00:00Z".into(),
            policy_hash: None,
            template_hashes: BTreeMap::new(),
            flags: flags.iter().map(|f| f.to_string()).collect(),
            counts: Counts::default(),
            excluded_by_reason: BTreeMap::new(),
            sources: Vec::new(),
            eval_sets: vec![EvalSetCoverage {
                name: "basics".into(),
                task_set_id: crate::eval::task::task_set_id(covered),
                task_hashes,
                matched_tasks: matched.iter().map(|m| m.to_string()).collect(),
            }],
            opt_out: None,
            rebuilt_from: None,
        };
        fs_err::write(
            snap.join("snapshot.toml"),
            toml::to_string(&manifest).unwrap(),
        )
        .unwrap();
        let run = root.join("run");
        fs_err::create_dir_all(run.join("mlx")).unwrap();
        let record = TrainingRecord {
            snapshot: "abc123".into(),
            workspace: root.join("ws"),
            model: root.join("model"),
            train_examples: 1,
            valid_examples: 1,
        };
        fs_err::write(
            run.join("training.json"),
            serde_json::to_string(&record).unwrap(),
        )
        .unwrap();
        run.join("mlx")
    }

    #[test]
    fn verdicts_follow_the_training_snapshots_coverage() {
        let tasks = shipped_tasks();
        assert!(tasks.len() >= 3);
        let first = tasks[0].id.clone();

        // No adapter, or one without a training record: unverified, never clean.
        assert_eq!(check(None, &tasks).status, ContaminationStatus::Unverified);
        let dir = tempfile::tempdir().unwrap();
        let c = check(Some(dir.path()), &tasks);
        assert_eq!(c.status, ContaminationStatus::Unverified);
        assert!(c.message.contains("no training.json"), "{}", c.message);

        // Covered and clean (an adapter given as the run folder or its mlx/ folder).
        let dir = tempfile::tempdir().unwrap();
        let adapter = setup(dir.path(), &tasks, &[], &[]);
        for a in [adapter.as_path(), adapter.parent().unwrap()] {
            let c = check(Some(a), &tasks);
            assert_eq!(c.status, ContaminationStatus::Clean, "{}", c.message);
            assert!(c.message.contains("abc123") && c.message.contains("basics"));
        }

        // Matches that the snapshot excluded: still clean, and said.
        let dir = tempfile::tempdir().unwrap();
        let adapter = setup(dir.path(), &tasks, &[&first], &[]);
        let c = check(Some(&adapter), &tasks);
        assert_eq!(c.status, ContaminationStatus::Clean);
        assert!(c.message.contains("excluded"), "{}", c.message);

        // Matches kept by allow-contaminated: contaminated.
        let dir = tempfile::tempdir().unwrap();
        let adapter = setup(dir.path(), &tasks, &[&first], &["allow-contaminated"]);
        let c = check(Some(&adapter), &tasks);
        assert_eq!(c.status, ContaminationStatus::Contaminated);
        assert!(c.message.contains(&first), "{}", c.message);

        // A task the snapshot was never checked against (here: an edited prompt): unverified.
        let dir = tempfile::tempdir().unwrap();
        let adapter = setup(dir.path(), &tasks, &[], &[]);
        let mut edited = tasks.clone();
        edited[1].prompt = Some("a different prompt".into());
        let c = check(Some(&adapter), &edited);
        assert_eq!(c.status, ContaminationStatus::Unverified);
        assert!(
            c.message.contains(&format!("1 of {}", tasks.len()))
                && c.message.contains(&edited[1].id),
            "{}",
            c.message
        );

        // A training record naming a snapshot that is gone: unverified.
        fs_err::remove_dir_all(dir.path().join("ws/dataset/snapshots/abc123")).unwrap();
        let c = check(Some(&adapter), &tasks);
        assert_eq!(c.status, ContaminationStatus::Unverified);
        assert!(c.message.contains("cannot be read"), "{}", c.message);
    }
}
