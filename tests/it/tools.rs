//! Issue 15: tool-calling and multi-turn chat data end to end. Rows shaped like a public Roblox
//! fine-tuning project's agent data (OpenAI-style `tool_calls` on assistant turns with no
//! content, parallel calls, `tool` results by id, the `tools` the conversation offers) and
//! several exchanges go through import, audit, snapshot, export and training on a tiny model;
//! a broken call is one `invalid_row` naming the field, and the exported file is read by
//! mlx-lm's own loader (when the reference environment is there) into the same tokens and
//! prompt offsets as vcurate's trainer.

use std::path::Path;

use serde_json::{json, Value};
use vcurate::core::{ChatCounts, SkipReason};
use vcurate::export::ChatLine;
use vcurate::model::chat::{ChatFormatter, MaskMode, TokenizerSpec, QWEN3_STYLE_TEMPLATE};

use crate::util::{
    reference_python, schema, stderr, tiny_model_with, validate, vcurate, workspace, write,
};

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "run_code", "description": "Runs Luau in Roblox Studio and returns what it prints.", "parameters": {"type": "object", "properties": {"command": {"type": "string", "description": "Luau source"}}, "required": ["command"]}}},
        {"type": "function", "function": {"name": "get_instance_children", "description": "Lists the children of an instance.", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}},
        {"type": "function", "function": {"name": "set_property", "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "property": {"type": "string"}, "value": {}}}}}
    ])
}

/// An agent row: the user asks for something in `folder`, the assistant lists it and runs
/// code in parallel (arguments as OpenAI's JSON strings, content null), reads both results,
/// sets a property, and answers.
fn agent_row(folder: &str, colour: &str) -> Value {
    let code = format!(
        "local n = 0\nfor _, part in workspace.{folder}:GetChildren() do\n\tif part:IsA(\"BasePart\") then\n\t\tpart.Color = Color3.fromRGB({colour})\n\t\tn += 1\n\tend\nend\nprint(n)"
    );
    json!({"messages": [
        {"role": "system", "content": "You drive Roblox Studio through its MCP tools."},
        {"role": "user", "content": format!("Colour every part in Workspace.{folder} ({colour}) and anchor the first one.")},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_instance_children", "arguments": json!({"path": format!("Workspace.{folder}")}).to_string()}},
            {"id": "call_2", "type": "function", "function": {"name": "run_code", "arguments": json!({"command": code}).to_string()}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_instance_children", "content": "[\"Stage1\", \"Stage2\"]"},
        {"role": "tool", "tool_call_id": "call_2", "name": "run_code", "content": "2"},
        {"role": "assistant", "content": "Both are coloured; anchoring Stage1.", "tool_calls": [
            {"id": "call_3", "type": "function", "function": {"name": "set_property", "arguments": {"path": format!("Workspace.{folder}.Stage1"), "property": "Anchored", "value": true}}}
        ]},
        {"role": "tool", "tool_call_id": "call_3", "name": "set_property", "content": "ok"},
        {"role": "assistant", "content": format!("Done: the parts in {folder} are coloured and Stage1 is anchored.")}
    ], "tools": tools()})
}

/// Several exchanges, Luau in fenced blocks of two answers.
fn multi_turn_row(name: &str) -> Value {
    json!({"messages": [
        {"role": "user", "content": format!("How do I make a {name} that counts down?")},
        {"role": "assistant", "content": format!("Keep the time in a variable:\n\n```lua\nlocal {name} = 10\nwhile {name} > 0 do\n\ttask.wait(1)\n\t{name} -= 1\nend\n```")},
        {"role": "user", "content": "And print each second?"},
        {"role": "assistant", "content": format!("Print inside the loop:\n\n```lua\nlocal {name} = 10\nwhile {name} > 0 do\n\tprint({name})\n\ttask.wait(1)\n\t{name} -= 1\nend\n```")}
    ]})
}

/// A tiny random Qwen3 whose tokenizer carries vcurate's Qwen3-style chat template (tools and
/// tool calls rendered as Qwen3 renders them).
fn tiny_tool_model(dir: &Path) {
    let corpus = [
        "run_code get_instance_children set_property Workspace Stage1 Anchored",
        "local n = 0 for _, part in workspace:GetChildren() do print(n) end",
        "You drive Roblox Studio through its MCP tools. Colour every part.",
    ];
    tiny_model_with(
        dir,
        &TokenizerSpec {
            corpus: &corpus,
            vocab_size: 400,
            template: QWEN3_STYLE_TEMPLATE,
            added: &["<think>", "</think>", "<tool_call>", "</tool_call>"],
        },
    );
}

#[test]
fn tool_conversations_go_from_import_to_training() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    // Few documents: two splits, half and half.
    let toml = fs_err::read_to_string(ws.join("vcurate.toml")).unwrap();
    let toml = toml
        .replace("train = 0.8", "train = 0.5")
        .replace("valid = 0.1", "valid = 0.5")
        .replace("test = 0.1", "test = 0.0");
    write(&ws.join("vcurate.toml"), &toml);

    let mut broken = agent_row("Broken", "1, 2, 3");
    broken["messages"][2]["tool_calls"][1]["function"]["arguments"] = json!("{\"command\": ");
    let mut bad_code = agent_row("BadCode", "0, 0, 0");
    bad_code["messages"][2]["tool_calls"][1]["function"]["arguments"] = json!({"command": "for i = 1, 10 do\n\tprint(i)\n\tprint(i * 2)\n\tprint(i * 3)\n\tprint(i * 4)\n"});
    let rows = [
        agent_row("Obby", "255, 0, 0"),
        multi_turn_row("countdown"),
        broken,
        bad_code,
        agent_row("Lobby", "0, 255, 0"),
        multi_turn_row("timer"),
        agent_row("Arena", "0, 0, 255"),
        multi_turn_row("clock"),
        agent_row("Spawn", "9, 9, 9"),
        multi_turn_row("fuse"),
    ];
    let jsonl: String = rows.iter().map(|r| format!("{r}\n")).collect();
    write(&ws.join("data/agent.jsonl"), &jsonl);
    write(
        &ws.join("sources/agent.toml"),
        "kind = \"jsonl\"\npath = \"data/agent.jsonl\"\nrights-basis = \"generated\"\nlicense = \"MIT\"\n",
    );

    // Runs a command in the workspace; it must succeed.
    let run = |args: &[&str]| {
        let out = vcurate(&ws, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out.stdout
    };

    // Import: every row but the broken call, kept whole, with its counts.
    run(&["ingest"]);
    let store = ws.join("dataset/store");
    let docs = vcurate::store::all_documents(&store).unwrap();
    assert_eq!(docs.len(), rows.len() - 1);
    assert_eq!(
        docs[0].chat,
        Some(ChatCounts {
            turns: 8,
            assistant_turns: 3,
            tool_calls: 3,
            tool_results: 3,
            tools: 3
        })
    );
    assert_eq!(
        docs[1].chat,
        Some(ChatCounts {
            turns: 4,
            assistant_turns: 2,
            ..ChatCounts::default()
        })
    );
    let gen = vcurate::store::current_dir(&store, "agent").unwrap();
    let skipped = vcurate::store::read_skipped(&gen.join("skipped.parquet")).unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].reason, SkipReason::InvalidRow);
    assert!(
        skipped[0]
            .detail
            .starts_with("line 3: messages[2].tool_calls[1].function.arguments is not valid JSON"),
        "{}",
        skipped[0].detail
    );

    // Audit: the run_code calls are the agent rows' Luau (density keeps them); the one whose
    // code does not compile is dropped, naming the call.
    run(&["audit"]);
    let density =
        vcurate::store::read_parquet(&ws.join("dataset/audit/attributes/density.parquet")).unwrap();
    let lines: Vec<u32> = density
        .column("luau_code_lines")
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(lines[0], 8, "the run_code call's lines");
    assert_eq!(lines[1], 11, "both answers' fenced blocks");
    let excluded =
        vcurate::store::read_exclusions(&ws.join("dataset/audit/excluded/quality.parquet"))
            .unwrap();
    assert_eq!(excluded.len(), 1, "{excluded:?}");
    assert_eq!(excluded[0].reason, "parse_failed");
    assert!(
        excluded[0]
            .detail
            .starts_with("messages[2].tool_calls[1] (run_code): line "),
        "{}",
        excluded[0].detail
    );

    // Snapshot and export: whole conversations, mlx-lm's chat shape with `tools`.
    let created: Value = serde_json::from_slice(&run(&["snapshot", "create", "--json"])).unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let export_dir = tmp.path().join("export");
    let to = export_dir.to_str().unwrap();
    run(&[
        "export",
        "--format",
        "chat",
        "--profile",
        "train",
        "--out",
        to,
        "--snapshot",
        &id,
    ]);
    let chat_schema = schema("export-chat.schema.json");
    let mut lines: Vec<(String, Value)> = Vec::new();
    for split in ["train", "valid", "test"] {
        let text = fs_err::read_to_string(export_dir.join(format!("{split}.jsonl"))).unwrap();
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            validate(&chat_schema, &chat_schema, &v, "").unwrap();
            let _: ChatLine = serde_json::from_value(v.clone()).unwrap();
            lines.push((split.to_string(), v));
        }
    }
    assert_eq!(lines.len(), 8, "every kept row, whole");
    assert!(lines.iter().any(|(s, _)| s == "train") && lines.iter().any(|(s, _)| s == "valid"));
    let agent = lines
        .iter()
        .map(|(_, v)| v)
        .find(|v| {
            v["messages"][1]["content"]
                .as_str()
                .unwrap()
                .contains("Workspace.Obby")
        })
        .unwrap();
    assert_eq!(agent["tools"], tools());
    assert_eq!(agent["messages"].as_array().unwrap().len(), 8);
    assert_eq!(
        agent["messages"][2],
        json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_instance_children", "arguments": {"path": "Workspace.Obby"}}},
            {"id": "call_2", "type": "function", "function": {"name": "run_code", "arguments": {"command": rows[0]["messages"][2]["tool_calls"][1]["function"]["arguments"].as_str().map(|a| serde_json::from_str::<Value>(a).unwrap()["command"].clone()).unwrap()}}}
        ]})
    );
    assert_eq!(
        agent["messages"][3],
        json!({"role": "tool", "content": "[\"Stage1\", \"Stage2\"]", "tool_call_id": "call_1", "name": "get_instance_children"})
    );

    // mlx-lm's own loader reads the export, and renders and masks it as vcurate's trainer does.
    let model = tmp.path().join("model");
    tiny_tool_model(&model);
    let formatter = ChatFormatter::from_model_dir(&model).unwrap();
    if let Some(python) = reference_python("tool_conversations_go_from_import_to_training") {
        // The test split is off, so test.jsonl is empty; mlx-lm's loader fails on an empty file
        // (`data[0]` of no rows) but skips a missing one.
        let test = export_dir.join("test.jsonl");
        assert_eq!(fs_err::read_to_string(&test).unwrap(), "");
        fs_err::remove_file(&test).unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/mlx_chat_dataset.py");
        let out = std::process::Command::new(python)
            .arg(&script)
            .arg(&export_dir)
            .arg(&model)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let loaded: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(loaded.len(), lines.len());
        let mut index = std::collections::BTreeMap::<String, usize>::new();
        for (split, line) in &lines {
            let n = index.entry(split.clone()).or_default();
            let got = loaded
                .iter()
                .find(|l| l["split"] == split.as_str() && l["line"] == *n)
                .unwrap();
            *n += 1;
            let row: ChatLine = serde_json::from_value(line.clone()).unwrap();
            let ours = formatter
                .tokenize_with(&row.messages, &row.tools, MaskMode::LastTurn)
                .unwrap();
            let tokens: Vec<u32> = serde_json::from_value(got["tokens"].clone()).unwrap();
            assert_eq!(
                ours.tokens, tokens,
                "mlx-lm renders {split} line {n} as we do"
            );
            let offset = ours.mask.iter().position(|&m| m == 1).unwrap();
            assert_eq!(
                got["offset"], offset,
                "the last turn starts where mlx-lm's mask does"
            );
        }
    }

    // Train on the snapshot: every assistant turn of the tool conversations is a target.
    let agent_msgs: ChatLine = serde_json::from_value(agent.clone()).unwrap();
    let t = formatter
        .tokenize_with(&agent_msgs.messages, &agent_msgs.tools, MaskMode::AllTurns)
        .unwrap();
    let runs = t.mask.windows(2).filter(|w| w == &[0, 1]).count();
    assert_eq!(runs, 3, "three assistant turns, three masked runs");
    let out_dir = tmp.path().join("run");
    let config = tmp.path().join("train.toml");
    fs_err::write(&config, format!("model = {model:?}\noutput = {out_dir:?}\nseed = 3\n[lora]\nrank = 2\nalpha = 4.0\ntargets = [\"q_proj\", \"v_proj\"]\n[optim]\nlr = 1e-2\nsteps = 2\nwarmup_steps = 1\n[data]\nbatch_size = 2\nmax_seq_len = 4096\nmask = \"all_turns\"\n[loop]\neval_every = 2\nsave_every = 2\n")).unwrap();
    let config = config.to_str().unwrap();
    let report: Value = serde_json::from_slice(&run(&[
        "train",
        "--json",
        "--snapshot",
        &id,
        "--config",
        config,
    ]))
    .unwrap();
    assert_eq!(report["steps_run"], 2);
    assert!(
        report["last_loss"].as_f64().unwrap().is_finite(),
        "{report}"
    );
    assert_eq!(
        report["train_examples"].as_u64().unwrap() + report["valid_examples"].as_u64().unwrap(),
        8
    );
}
