//! The contamination audit on corpora that reproduce issue 11: "fix this code" tasks whose
//! prompts embed the Roblox service boilerplate every script has (failure 1: hundreds of
//! documents flagged for sharing it), and OpenGameEval prompts shorter than a window whose own
//! eval files are in the corpus (failure 2: they passed). Fixtures are built here.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use polars::prelude::DataType;
use vcurate::audit::run;
use vcurate::core::Document;
use vcurate::workspace::Workspace;

use crate::util::{stderr, vcurate, workspace, write};

const SERVICES: [&str; 5] = [
    "Players",
    "ReplicatedStorage",
    "RunService",
    "TweenService",
    "DataStoreService",
];

const STOCK: [&str; 3] = [
    "I'm trying to run a script but it keeps erroring out.",
    "Please fix without revising the script.",
    "Can someone tell me what is wrong with this code?",
];

/// The boilerplate of script `i`: a service header (services in the usual order, a different
/// subset per script) and the wiring most scripts repeat word for word.
fn boilerplate(i: usize) -> String {
    let mut s = String::new();
    for (k, svc) in SERVICES.iter().enumerate() {
        if k < 2 || (i >> k) & 1 == 1 {
            s.push_str(&format!("local {svc} = game:GetService(\"{svc}\")\n"));
        }
    }
    s.push_str("local remote = ReplicatedStorage:WaitForChild(\"RemoteEvent\")\n");
    if i % 2 == 0 {
        s.push_str("Players.PlayerAdded:Connect(function(player)\n\tlocal leaderstats = Instance.new(\"Folder\")\n\tleaderstats.Name = \"leaderstats\"\n\tleaderstats.Parent = player\nend)\n");
    }
    s
}

/// Script `i`: boilerplate and a few lines of its own.
fn script(i: usize) -> String {
    format!(
        "{}local part{i} = workspace:FindFirstChild(\"Part{i}\")\nremote.OnServerEvent:Connect(function(player, amount{i})\n\tpart{i}.Size += Vector3.new(amount{i}, {i}, 0)\nend)\n",
        boilerplate(i)
    )
}

fn fix_prompt(symptom: &str, body: &str) -> String {
    format!(
        "{} {symptom} {}\n```lua\n{}{body}```",
        STOCK[0],
        STOCK[1],
        boilerplate(6)
    )
}

const SHOP_BUG: &str = "remote.OnServerEvent:Connect(function(player)\n\tif player.leaderstats.Gems.Value > 50 then\n\t\tplayer.leaderstats.Gems.Value -= 50\n\t\tgiveSword(player, \"Excalibur\")\n\tend\nend)\n";
const DOOR_BUG: &str = "remote.OnServerEvent:Connect(function(player, door)\n\tlocal hinge = door:FindFirstChild(\"Hinge\")\n\tTweenService:Create(hinge, TweenInfo.new(0.4), { CFrame = hinge.CFrame * CFrame.Angles(0, math.rad(90), 0) }):Play()\n\tdoor.CanCollide = true\nend)\n";

/// `vcurate.toml` with the eval set registered and `[audit.contamination]` edited by `edit`.
fn register(ws: &Path, eval_set: &str, edit: impl Fn(String) -> String) {
    let mut cfg = edit(std::fs::read_to_string(ws.join("vcurate.toml")).unwrap());
    cfg.push_str(eval_set);
    write(&ws.join("vcurate.toml"), &cfg);
}

fn audit(ws: &Path) -> (serde_json::Value, Vec<Document>, HashSet<String>) {
    let out = vcurate(ws, &["audit", "contamination", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ws = Workspace::open(ws).unwrap();
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();
    let excluded = run::excluded_ids(&run::audit_dir(&ws), &["contamination"]).unwrap();
    (summary[0]["summary"].clone(), docs, excluded)
}

/// Where a document came from: `source:path` (`source:line N` for a dataset row).
fn place(d: &Document) -> String {
    let p = &d.provenance;
    format!(
        "{}:{}",
        p.source_id,
        p.unit_name.clone().unwrap_or_else(|| p.path.clone())
    )
}

fn flagged(docs: &[Document], excluded: &HashSet<String>) -> BTreeSet<String> {
    docs.iter()
        .filter(|d| excluded.contains(&d.id))
        .map(place)
        .collect()
}

/// Issue 11, failure 1: a chat dataset and a game repository where nearly every item carries
/// the service boilerplate that three "fix this code" prompts embed. Only the planted leaks
/// are flagged; with the rule of before (any shared n-gram or window) hundreds were.
#[test]
fn boilerplate_shared_with_fix_this_code_tasks_is_not_contamination() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let shop = fix_prompt(
        "My shop button never gives the sword to the buyer even when they have exactly 50 gems.",
        SHOP_BUG,
    );
    let door = fix_prompt(
        "The garage door opens but the player still cannot walk through it afterwards.",
        DOOR_BUG,
    );
    let queue = "Write a ModuleScript named MatchQueue that groups waiting players into matches \
                 of four by skill rating, widens the rating window by 50 every ten seconds a \
                 player waits, and fires a MatchFound signal with the four players.";
    let queue_solution = "local MatchQueue = {}\nMatchQueue.__index = MatchQueue\n\nfunction MatchQueue.new(signal)\n\treturn setmetatable({ waiting = {}, found = signal }, MatchQueue)\nend\n\nfunction MatchQueue:add(player, rating)\n\ttable.insert(self.waiting, { player = player, rating = rating, since = os.clock() })\n\tself:tryMatch()\nend\n\nreturn MatchQueue\n";
    let tasks = [
        serde_json::json!({"id": "fix-shop", "category": "debug", "difficulty": "easy", "prompt": shop,
            "reference": fix_prompt("", &SHOP_BUG.replace("> 50", ">= 50"))}),
        serde_json::json!({"id": "fix-door", "category": "debug", "difficulty": "easy", "prompt": door}),
        serde_json::json!({"id": "queue", "category": "modules", "difficulty": "hard", "prompt": queue,
            "reference": queue_solution}),
    ];
    write(
        &ws.join("evals/bench.jsonl"),
        &tasks.iter().map(|t| format!("{t}\n")).collect::<String>(),
    );

    // The chat dataset: 600 rows asking about their own scripts, in the same stock phrases.
    let mut rows = Vec::new();
    for i in 0..600 {
        let user = match i {
            // A verbatim leak of a prompt, and a lightly edited one.
            100 => shop.clone(),
            200 => door
                .replace("garage door", "barn door")
                .replace("afterwards", "after that"),
            // Near misses: a task's stock phrase, and two lines of its bug in another script.
            300 => format!("{} Why does my door not open?", STOCK[1]),
            301 => format!(
                "{}\n```lua\n{}\tif player.leaderstats.Gems.Value > 50 then\n\t\tplayer.leaderstats.Gems.Value -= 50\n\t\tprint(\"rich\")\n\tend\n```",
                STOCK[2],
                script(301)
            ),
            _ => format!(
                "{} How do I resize part {i}?\n```lua\n{}```",
                STOCK[i % 3],
                script(i)
            ),
        };
        let assistant = format!("Try this:\n```lua\n{}```", script(i + 1000));
        rows.push(
            serde_json::json!({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]})
                .to_string(),
        );
    }
    write(&ws.join("chat.jsonl"), &(rows.join("\n") + "\n"));
    write(
        &ws.join("sources/chat.toml"),
        "kind = \"jsonl\"\npath = \"chat.jsonl\"\nrights-basis = \"generated\"\nlicense = \"MIT\"\n",
    );
    // A game repository: 300 scripts with the same boilerplate; one pastes a task's solution.
    let games = tmp.path().join("games");
    for i in 0..300 {
        let text = if i == 7 {
            format!("{}\n{queue_solution}", script(i))
        } else {
            script(i)
        };
        write(&games.join(format!("src/Script{i}.server.luau")), &text);
    }
    write(
        &ws.join("sources/games.toml"),
        &format!("kind = \"local\"\npath = \"{}\"\n", games.display()),
    );
    let eval_set =
        "\n[[eval-sets]]\nname = \"bench\"\npath = \"evals/bench.jsonl\"\nformat = \"tasks\"\n";
    register(&ws, eval_set, |c| c);
    let out = vcurate(&ws, &["ingest"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (summary, docs, excluded) = audit(&ws);
    assert_eq!(docs.len(), 900);
    let expected: BTreeSet<String> = [
        "chat:line 101",
        "chat:line 201",
        "games:src/Script7.server.luau",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(flagged(&docs, &excluded), expected, "{summary:#}");
    let corpus = &summary["corpus"];
    assert!(
        corpus["idiom_keys_dropped"].as_u64().unwrap() > 0,
        "{corpus}"
    );
    assert!(
        corpus["idiom_lines_masked"].as_u64().unwrap() > 0,
        "{corpus}"
    );
    assert_eq!(corpus["pairs_flagged"], 3);
    assert!(
        corpus["pairs_matched"].as_u64().unwrap() > 3,
        "the near misses share some distinctive text: {corpus}"
    );
    assert_eq!(corpus["undetectable_tasks"], serde_json::json!([]));
    let per_task: Vec<(String, usize)> = summary["per_task"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task"].as_str().unwrap().to_string(),
                t["documents"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        per_task,
        vec![
            ("bench/fix-shop".into(), 1),
            ("bench/fix-door".into(), 1),
            ("bench/queue".into(), 1)
        ]
    );

    // The attribute table reports each flagged pair typed: score, part and matched spans.
    let w = Workspace::open(&ws).unwrap();
    let attrs =
        vcurate::store::read_parquet(&run::audit_dir(&w).join("attributes/contamination.parquet"))
            .unwrap();
    let DataType::List(inner) = attrs.column("matches").unwrap().dtype() else {
        panic!("matches is a list column");
    };
    let DataType::Struct(fields) = inner.as_ref() else {
        panic!("of structs");
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        vec![
            "task",
            "score",
            "part",
            "matched_chars",
            "distinctive_chars",
            "longest_chars",
            "spans"
        ]
    );
    let row = docs
        .iter()
        .position(|d| place(d) == "chat:line 201")
        .unwrap();
    let m = attrs
        .column("matches")
        .unwrap()
        .get(row)
        .unwrap()
        .to_string();
    assert!(m.contains("bench/fix-door"), "{m}");
    let excluded_rows = run::read_excluded(&w).unwrap();
    let detail = &excluded_rows
        .iter()
        .find(|e| e.document_ids[0] == docs[row].id)
        .unwrap()
        .detail;
    assert!(
        detail.starts_with("shares distinctive text with eval task(s) bench/fix-door ("),
        "{detail}"
    );

    // Failure 1 reproduced: with the rule of before, any shared n-gram or window flags.
    register(&ws, "", |c| {
        c.replace("idiom-min-documents = 20", "idiom-min-documents = 0")
            .replace("min-score = 0.5", "min-score = 0.0")
            .replace("min-matched-chars = 300", "min-matched-chars = 0")
    });
    let (_, docs, excluded) = audit(&ws);
    let before = flagged(&docs, &excluded);
    assert!(before.is_superset(&expected));
    assert!(before.len() > 300, "{}", before.len());
}

/// An OpenGameEval eval file as Roblox/open-game-eval writes them
/// (`Evals/001_make_cars_faster.lua` at commit f9ffff80: the prompt is a list of
/// conversations of `{role, content, request_id}`).
fn oge_file(name: &str, prompt: &str) -> String {
    format!(
        "--!strict\n\nlocal LoadedCode = game:FindFirstChild(\"LoadedCode\")\nassert(LoadedCode, \"Failed to find LoadedCode\")\n\nlocal types = require(LoadedCode.EvalUtils.types)\nlocal HttpService = game:GetService(\"HttpService\")\ntype BaseEval = types.BaseEval\n\n\nlocal eval: BaseEval = {{\n    scenario_name = \"{name}\",\n    prompt = {{\n                {{\n                    {{\n                        role = \"user\",\n                        content = [[{prompt}]],\n                        request_id = \"s20250617_001\"\n                    }}\n                }}\n            }},\n    place = \"racing.rbxl\",\n\n\texpected_tool_calls = {{ \"execute_luau\" }},\n}}\n\neval.setup = function()\nend\n\neval.check_scene = function()\n\tlocal target = game:GetService(\"ReplicatedStorage\"):FindFirstChild(\"Car\")\n\tassert(target, \"Car is missing\")\nend\n\nreturn eval\n"
    )
}

/// Issue 11, failure 2: OpenGameEval prompts are shorter than a window, and their own eval
/// files, which hold them verbatim, are in the corpus. Each is matched whole; a prompt with no
/// distinctive text at all is the only one reported undetectable.
#[test]
fn short_open_game_eval_prompts_are_matched_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    // Prompts of Roblox/open-game-eval Evals/001, 011 (its typo included) and 008, and one
    // too short to tell from anything else.
    let prompts = [
        (
            "001_make_cars_faster",
            "Make the cars of this game 2x faster",
        ),
        ("011_change_height_to_1", "chahge players height to 1"),
        (
            "008_spawn_as_r6",
            "make every player spawn as a R6 test dummy as their character for now.",
        ),
        ("999_make_it_rain", "make it rain"),
    ];
    let evals = tmp.path().join("oge");
    for (name, prompt) in prompts {
        write(
            &evals.join(format!("Evals/{name}.lua")),
            &oge_file(name, prompt),
        );
    }
    // The eval files are in the corpus, as in the issue's 25 repositories, beside scripts: one
    // quotes a prompt in a comment, others say something close to one.
    write(
        &ws.join("sources/oge.toml"),
        &format!("kind = \"local\"\npath = \"{}\"\n", evals.display()),
    );
    let games = tmp.path().join("games");
    for i in 0..40 {
        let comment = match i {
            3 => "-- TODO(design): make the cars of this game 2x faster!".to_string(),
            4 => "-- make the cars of this game 3x faster".to_string(),
            5 => "-- players height: change it to 1 later".to_string(),
            6 => "-- make it rain".to_string(),
            _ => format!("-- script {i}"),
        };
        write(
            &games.join(format!("S{i}.luau")),
            &format!("{comment}\n{}", script(i)),
        );
    }
    write(
        &ws.join("sources/games.toml"),
        &format!("kind = \"local\"\npath = \"{}\"\n", games.display()),
    );
    let set = format!(
        "\n[[eval-sets]]\nname = \"oge\"\npath = \"{}\"\nformat = \"open-game-eval\"\n",
        evals.display()
    );
    register(&ws, &set, |c| c);
    let out = vcurate(&ws, &["ingest"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (summary, docs, excluded) = audit(&ws);
    let expected: BTreeSet<String> = [
        "oge:Evals/001_make_cars_faster.lua",
        "oge:Evals/011_change_height_to_1.lua",
        "oge:Evals/008_spawn_as_r6.lua",
        "games:S3.luau",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(flagged(&docs, &excluded), expected, "{summary:#}");
    assert_eq!(
        summary["corpus"]["undetectable_tasks"],
        serde_json::json!([{"task": "oge/opengameeval/999_make_it_rain", "reason": "too_short"}])
    );
    let per_task = summary["per_task"].as_array().unwrap();
    let cars = per_task
        .iter()
        .find(|t| t["task"] == "oge/opengameeval/001_make_cars_faster")
        .unwrap();
    let scores: Vec<f64> = cars["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["score"].as_f64().unwrap())
        .collect();
    assert_eq!(scores, vec![1.0, 1.0]);
    let w = Workspace::open(&ws).unwrap();
    let attrs =
        vcurate::store::read_parquet(&run::audit_dir(&w).join("attributes/contamination.parquet"))
            .unwrap();
    let row = docs
        .iter()
        .position(|d| place(d) == "games:S3.luau")
        .unwrap();
    let m = attrs
        .column("matches")
        .unwrap()
        .get(row)
        .unwrap()
        .to_string();
    assert!(
        m.contains("whole_prompt") && m.contains("make the cars of this game 2x faster"),
        "{m}"
    );

    // Failure 2 reproduced: without whole-prompt keys the short prompts are undetectable and
    // their eval files pass.
    register(&ws, "", |c| {
        c.replace("whole-prompt-min-chars = 20", "whole-prompt-min-chars = 0")
    });
    let (summary, docs, excluded) = audit(&ws);
    assert_eq!(
        flagged(&docs, &excluded),
        ["oge:Evals/008_spawn_as_r6.lua".to_string()].into(),
        "{summary:#}"
    );
    assert_eq!(
        summary["corpus"]["undetectable_tasks"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
