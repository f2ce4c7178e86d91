//! plain: a JSONL benchmark with `id, category, difficulty, prompt, expected_patterns` (and
//! optionally `forbidden_patterns`, `system`): regex-only benchmarks. Imported tasks check parse +
//! compile, and keep the regexes as patterns, which never decide a pass.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;

use super::{import_err, json_str, EvalSetError, Imported, Result};
use crate::core::eval_task::{Checks, EvalTask as Task, Limits, Runner, TaskSource};

#[derive(Debug, Deserialize)]
struct PlainRow {
    id: Json,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    difficulty: Option<Json>,
    prompt: String,
    #[serde(default)]
    expected_patterns: Vec<String>,
    #[serde(default)]
    forbidden_patterns: Vec<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Json>,
}

/// Keeps a pattern that compiles as a regex; escapes one that does not (benchmarks often list
/// literal snippets such as `game:GetService(`), with a warning.
fn usable_regex(p: &str, id: &str, warnings: &mut Vec<String>) -> String {
    if regex::Regex::new(p).is_ok() {
        p.to_string()
    } else {
        warnings.push(format!(
            "task `{id}`: pattern `{p}` is not a valid regex; matched literally"
        ));
        regex::escape(p)
    }
}

pub fn import_plain(path: &Path) -> Result<Imported> {
    let text = fs_err::read_to_string(path)?;
    let mut warnings = Vec::new();
    let mut tasks = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: PlainRow = serde_json::from_str(line).map_err(|e| EvalSetError::Syntax {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("{e} (expected id, category, difficulty, prompt, expected_patterns)"),
        })?;
        let id = json_str(&row.id).ok_or_else(|| {
            import_err(
                path,
                format!("line {}: `id` must be a string or number", i + 1),
            )
        })?;
        let patterns = row
            .expected_patterns
            .iter()
            .map(|p| usable_regex(p, &id, &mut warnings))
            .collect();
        let forbidden = row
            .forbidden_patterns
            .iter()
            .map(|p| usable_regex(p, &id, &mut warnings))
            .collect();
        tasks.push(Task {
            id: id.clone(),
            category: row.category.unwrap_or_else(|| "uncategorized".into()),
            difficulty: row
                .difficulty
                .as_ref()
                .and_then(json_str)
                .unwrap_or_else(|| "unknown".into()),
            system: row.system,
            prompt: Some(row.prompt),
            messages: Vec::new(),
            tools: Vec::new(),
            checks: Checks {
                patterns,
                forbidden_patterns: forbidden,
                ..Checks::default()
            },
            limits: Limits::default(),
            roblox_stubs: false,
            runner: Runner::Sandbox,
            reference: None,
            tags: vec!["plain".into()],
            source: Some(TaskSource {
                format: "plain".into(),
                path: path.display().to_string(),
                original_id: Some(id),
                extra: row.rest,
            }),
        });
    }
    if !tasks.is_empty() {
        warnings.push(format!(
            "{} plain tasks have no tests: their pass means the code parses and compiles; \
             their expected_patterns are kept as a separate pattern score",
            tasks.len()
        ));
    }
    Ok(Imported { tasks, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evalset::test_support::write;
    use crate::evalset::{import, Format};

    #[test]
    fn plain_jsonl_imports_with_patterns_apart() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [
            serde_json::json!({"id": "rb_001", "category": "services", "difficulty": "easy",
                "prompt": "Get the Players service and print each player's name.",
                "expected_patterns": ["game:GetService\\(\"Players\"\\)", "GetPlayers", "for .* in"]}),
            serde_json::json!({"id": 2, "category": "remotes", "difficulty": 3,
                "prompt": "Fire a RemoteEvent to all clients.",
                "expected_patterns": ["FireAllClients(", "RemoteEvent"], "source_url": "https://example.invalid"}),
        ];
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        let p = write(dir.path(), "bench.jsonl", &text);
        let imp = import(Format::Plain, &p).unwrap();
        assert_eq!(imp.tasks.len(), 2);
        let t1 = &imp.tasks[1];
        assert_eq!((t1.id.as_str(), t1.difficulty.as_str()), ("2", "3"));
        assert_eq!(t1.checks.patterns[0], regex::escape("FireAllClients("));
        assert!(imp.warnings.iter().any(|w| w.contains("matched literally")));
        assert!(t1.checks.tests.is_none() && t1.checks.parse && t1.checks.compile);
        assert_eq!(
            t1.source
                .as_ref()
                .unwrap()
                .extra
                .get("source_url")
                .and_then(Json::as_str),
            Some("https://example.invalid")
        );

        // Pattern-perfect code that does not compile fails; the pattern score says 1.0 regardless.
        let reply = "```lua\nlocal re = game:GetService(\"ReplicatedStorage\").RemoteEvent\nre:FireAllClients(\n```";
        let r = crate::eval::score::score_sample(t1, 0, Some(reply));
        assert_eq!(r.verdict, crate::eval::score::Verdict::ParseError);
        assert_eq!(r.patterns.score, Some(1.0));

        let bad = write(
            dir.path(),
            "bad.jsonl",
            "{\"id\": \"x\", \"category\": \"c\"}\n",
        );
        let err = import(Format::Plain, &bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.jsonl:1") && err.contains("prompt"),
            "{err}"
        );
    }
}
