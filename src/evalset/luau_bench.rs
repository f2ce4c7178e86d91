//! luau-bench (github.com/imezx/luau-bench): a task YAML (`task`, `group`, `system_prompt`,
//! `doc_to_text` as a Jinja2 template, `docs` inline or `dataset_path: jsonl` + `dataset_name`),
//! where each doc carries a `test_harness` with a `{{CODE}}` placeholder that prints
//! `@@LUAU_BENCH_RESULT@@PASS:label` lines. Read from `templates/task_basic.yaml`,
//! `tasks/luau_coding/luau_coding.yaml` and `.jsonl`, and `luau_bench/api/task.py` there. A bare
//! docs JSONL is accepted too (prompt = the doc's `description`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value as Json;

use super::template::render_template;
use super::{import_err, json_str, EvalSetError, Imported, Result};
use crate::core::eval_task::{
    Checks, EvalTask as Task, Limits, Runner, TaskSource, TestProtocol, Tests,
};

#[derive(Debug, Deserialize)]
struct LuauBenchConfig {
    task: Json,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    dataset_path: Option<String>,
    #[serde(default)]
    dataset_name: Option<String>,
    #[serde(default)]
    docs: Vec<Json>,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    doc_to_text: String,
    #[serde(default)]
    output_type: Option<String>,
}

fn read_jsonl_docs(path: &Path) -> Result<Vec<Json>> {
    let text = fs_err::read_to_string(path)?;
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Json = serde_json::from_str(line).map_err(|e| EvalSetError::Syntax {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        docs.push(v);
    }
    Ok(docs)
}

pub fn import_luau_bench(path: &Path) -> Result<Imported> {
    let mut warnings = Vec::new();
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let (config, docs) = if is_yaml {
        let text = fs_err::read_to_string(path)?;
        let config: LuauBenchConfig =
            serde_yaml::from_str(&text).map_err(|e| EvalSetError::Syntax {
                path: path.to_path_buf(),
                line: e.location().map(|l| l.line()).unwrap_or(0),
                message: format!("{e} (expected a luau-bench task YAML)"),
            })?;
        if let Json::Array(names) = &config.task {
            return Err(import_err(
                path,
                format!("this is a luau-bench group file listing tasks {names:?}; import each task's YAML instead"),
            ));
        }
        if let Some(kind) = config
            .output_type
            .as_deref()
            .filter(|k| *k != "generate_until")
        {
            return Err(import_err(
                path,
                format!("output_type `{kind}` is not a code-generation task; nothing to execute"),
            ));
        }
        let docs = match config.dataset_path.as_deref().unwrap_or("local") {
            "local" => config.docs.clone(),
            "jsonl" => {
                let name = config
                    .dataset_name
                    .as_deref()
                    .ok_or_else(|| import_err(path, "dataset_path is jsonl but dataset_name is missing"))?;
                let file = path.parent().unwrap_or(Path::new(".")).join(name);
                read_jsonl_docs(&file)?
            }
            other => {
                return Err(import_err(
                    path,
                    format!("dataset_path `{other}` cannot be imported offline; save the docs as JSONL and use `dataset_path: jsonl`"),
                ))
            }
        };
        (Some(config), docs)
    } else {
        warnings.push(
            "no luau-bench task YAML given: each prompt is the doc's `description` verbatim".into(),
        );
        (None, read_jsonl_docs(path)?)
    };

    let task_name = config
        .as_ref()
        .and_then(|c| json_str(&c.task))
        .unwrap_or_else(|| {
            path.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("luau_bench")
                .to_string()
        });
    let mut tasks = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let original_id = doc.get("id").and_then(json_str);
        let id = original_id
            .clone()
            .unwrap_or_else(|| format!("{task_name}_{:03}", i + 1));
        let Some(harness) = doc.get("test_harness").and_then(Json::as_str) else {
            warnings.push(format!(
                "doc `{id}` has no test_harness: skipped (not an execution task)"
            ));
            continue;
        };
        if !harness.contains("{{CODE}}") {
            warnings.push(format!(
                "doc `{id}`'s test_harness has no {{{{CODE}}}} placeholder: skipped"
            ));
            continue;
        }
        let prompt = match &config {
            Some(c) if !c.doc_to_text.is_empty() => render_template(&c.doc_to_text, doc)
                .map_err(|m| import_err(path, format!("doc `{id}`: doc_to_text: {m}")))?,
            _ => doc
                .get("description")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        if prompt.is_empty() {
            warnings.push(format!("doc `{id}` renders to an empty prompt: skipped"));
            continue;
        }
        let system = match &config {
            Some(c) if !c.system_prompt.is_empty() => Some(
                render_template(&c.system_prompt, doc)
                    .map_err(|m| import_err(path, format!("doc `{id}`: system_prompt: {m}")))?,
            ),
            _ => None,
        };
        let category = doc
            .get("category")
            .and_then(json_str)
            .or_else(|| config.as_ref().and_then(|c| c.group.clone()))
            .unwrap_or_else(|| task_name.clone());
        tasks.push(Task {
            id,
            category,
            difficulty: doc
                .get("difficulty")
                .and_then(json_str)
                .unwrap_or_else(|| "unknown".into()),
            system,
            prompt: Some(prompt),
            messages: Vec::new(),
            tools: Vec::new(),
            checks: Checks {
                tests: Some(Tests {
                    protocol: TestProtocol::LuauBench,
                    code: harness.to_string(),
                }),
                ..Checks::default()
            },
            limits: Limits::default(),
            roblox_stubs: false,
            runner: Runner::Sandbox,
            reference: doc
                .get("reference_solution")
                .and_then(Json::as_str)
                .map(str::to_string),
            tags: vec!["luau-bench".into(), task_name.clone()],
            source: Some(TaskSource {
                format: "luau-bench".into(),
                path: path.display().to_string(),
                original_id,
                extra: BTreeMap::new(),
            }),
        });
    }
    Ok(Imported { tasks, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evalset::test_support::write;
    use crate::evalset::{import, Format};

    // Shaped like luau-bench's templates/task_basic.yaml (inline docs, Jinja prompt, harness
    // with {{CODE}} and @@LUAU_BENCH_RESULT@@ markers).
    const LB_YAML: &str = r#"task: sum_digits
group: examples
version: 1.0

system_prompt: |
  You are an expert Luau programmer.  Respond ONLY with code inside a
  single ```luau fenced code block.  No explanations.

doc_to_text: |
  {{ description }}

  ### Required Signature
  ```luau
  {{ signature }}
  ```

  ### Examples
  {% for ex in examples %}
  -- {{ ex.desc }}: {{ ex.input }} -> {{ ex.expected }}
  {% endfor %}

output_type: generate_until
generation_kwargs:
  max_tokens: 2048
  temperature: 0.0
filters:
  - name: extract_code
    args: { lang: luau }
metric_list:
  - metric: luau_exec
    primary: true
metadata:
  version: 1.0

docs:
  - description: |
      Write a function `sumDigits` that returns the sum of the decimal digits of n.
    signature: "function sumDigits(n: number): number"
    examples:
      - { input: 493, expected: 16, desc: "4+9+3" }
    reference_solution: |
      local function sumDigits(n: number): number
          local total = 0
          for d in tostring(math.floor(math.abs(n))):gmatch("%d") do
              total += tonumber(d) :: number
          end
          return total
      end
    test_harness: |
      {{CODE}}
      local _P = "@@LUAU_BENCH_RESULT@@"
      local tests = {
          {args = {493}, expected = 16, label = "493"},
          {args = {0}, expected = 0, label = "zero"},
      }
      for _, t in ipairs(tests) do
          local ok, result = pcall(function() return sumDigits(unpack(t.args)) end)
          if not ok then
              print(_P .. "ERROR:" .. t.label .. ":" .. tostring(result))
          elseif result == t.expected then
              print(_P .. "PASS:" .. t.label)
          else
              print(_P .. "FAIL:" .. t.label .. ":expected " .. tostring(t.expected) .. " got " .. tostring(result))
          end
      end
  - description: "A trivia question without a harness."
"#;

    #[test]
    fn luau_bench_yaml_imports_and_its_reference_passes() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "task_basic.yaml", LB_YAML);
        let imp = import(Format::LuauBench, &p).unwrap();
        assert_eq!(imp.tasks.len(), 1);
        assert!(imp.warnings.iter().any(|w| w.contains("no test_harness")));
        let t = &imp.tasks[0];
        assert_eq!(t.id, "sum_digits_001");
        assert_eq!(t.category, "examples");
        assert!(t.prompt.as_deref().unwrap().contains("-- 4+9+3: 493 -> 16"));
        assert!(t
            .system
            .as_deref()
            .unwrap()
            .starts_with("You are an expert Luau programmer."));
        assert_eq!(
            t.checks.tests.as_ref().unwrap().protocol,
            TestProtocol::LuauBench
        );

        // The imported task scores its own reference solution as a pass, and a wrong one as a fail.
        let good = format!("```luau\n{}```", t.reference.as_deref().unwrap());
        let r = crate::eval::score::score_sample(t, 0, Some(&good));
        assert_eq!(
            r.verdict,
            crate::eval::score::Verdict::Pass,
            "{:?}",
            r.checks.tests
        );
        assert_eq!(r.checks.tests.total_cases, 2);
        let bad = "```luau\nlocal function sumDigits(n) return n end\n```";
        let r = crate::eval::score::score_sample(t, 0, Some(bad));
        assert_eq!(r.verdict, crate::eval::score::Verdict::TestFailure);
    }

    #[test]
    fn luau_bench_jsonl_dataset_is_read_relative_to_the_yaml() {
        let dir = tempfile::tempdir().unwrap();
        // Shaped like luau-bench's tasks/luau_coding/luau_coding.{yaml,jsonl}.
        write(
            dir.path(),
            "luau_coding.yaml",
            "task: luau_coding\ngroup: luau_coding\ndataset_path: jsonl\ndataset_name: luau_coding.jsonl\n\
             doc_to_text: |\n  Complete the following Luau function:\n\n  ```luau\n  {{ description }}\n  ```\n",
        );
        let row = serde_json::json!({
            "id": "lc002", "difficulty": "easy", "category": "table",
            "description": "-- Returns the sum of all numbers in the array `t`.\nlocal function sumArray(t: {number}): number",
            "reference_solution": "local function sumArray(t: {number}): number\n\tlocal total = 0\n\tfor _, v in t do\n\t\ttotal += v\n\tend\n\treturn total\nend",
            "test_harness": "--!strict\n{{CODE}}\n\nlocal function check(label: string, got: any, expected: any)\n\tif got == expected then\n\t\tprint(\"@@LUAU_BENCH_RESULT@@PASS:\" .. label)\n\telse\n\t\tprint(\"@@LUAU_BENCH_RESULT@@FAIL:\" .. label)\n\tend\nend\n\ncheck(\"empty\", sumArray({}), 0)\ncheck(\"three\", sumArray({1, 2, 3}), 6)"
        });
        write(dir.path(), "luau_coding.jsonl", &format!("{row}\n"));
        let imp = import(Format::LuauBench, &dir.path().join("luau_coding.yaml")).unwrap();
        let t = &imp.tasks[0];
        assert_eq!(
            (t.id.as_str(), t.category.as_str(), t.difficulty.as_str()),
            ("lc002", "table", "easy")
        );
        assert!(t
            .prompt
            .as_deref()
            .unwrap()
            .starts_with("Complete the following Luau function:"));
        let r = crate::eval::score::score_sample(t, 0, Some(t.reference.as_deref().unwrap()));
        assert_eq!(
            r.verdict,
            crate::eval::score::Verdict::Pass,
            "{:?}",
            r.checks.tests
        );

        // The docs file alone imports too, with the description as the prompt.
        let imp = import(Format::LuauBench, &dir.path().join("luau_coding.jsonl")).unwrap();
        assert!(imp.tasks[0]
            .prompt
            .as_deref()
            .unwrap()
            .starts_with("-- Returns the sum"));
        assert!(imp
            .warnings
            .iter()
            .any(|w| w.contains("no luau-bench task YAML")));
    }

    #[test]
    fn luau_bench_group_files_and_remote_datasets_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let g = write(
            dir.path(),
            "std_trivia.yaml",
            "group: std_trivia\ntask:\n  - std_trivia_easy\n",
        );
        assert!(import(Format::LuauBench, &g)
            .unwrap_err()
            .to_string()
            .contains("group file"));
        let h = write(
            dir.path(),
            "hf.yaml",
            "task: x\ndataset_path: huggingface\ndataset_name: a/b\n",
        );
        assert!(import(Format::LuauBench, &h)
            .unwrap_err()
            .to_string()
            .contains("offline"));
    }
}
