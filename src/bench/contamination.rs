//! `vcurate bench contamination`: the contamination scorer on a generated corpus shaped like
//! the one issue 11 reports on, with planted leaks and planted near misses, so pair precision
//! and recall can be measured against a known truth.
//!
//! The corpus: most documents come from one source of game scripts; the rest are docs pages
//! with code samples and chat rows. Nearly all of them open with the same Roblox service
//! boilerplate (`local Players = game:GetService("Players")`, RemoteEvent wiring,
//! `Players.PlayerAdded:Connect(function(player)`, leaderstats), and chat rows reuse the same
//! stock phrases ("Please fix without revising the script."). The tasks: "fix this code"
//! prompts that embed that boilerplate around a distinctive bug, longer "write a script"
//! prompts with reference solutions, a shared system prompt, and short prompts in the style of
//! Roblox OpenGameEval (`Evals/001_make_cars_faster.lua`: `content = [[Make the cars of this
//! game 2x faster]]`), whose eval files are planted in the corpus as they are in real ones.
//!
//! Planted leaks (the truth): prompts copied verbatim (case and spacing changed) or with a few
//! words replaced, reference solutions pasted into scripts, eval files and chat rows holding a
//! short prompt. Planted near misses (must not be flagged): a task's boilerplate with other
//! code, one sentence of a task, one line of a task's code, a short prompt with a word changed.
//! Tasks shorter than `whole-prompt-min-chars` get no leak: they are reported undetectable.
//!
//! This is a benchmark, not a test: nothing here asserts timings. The generator is
//! deterministic in `(n, seed)`.

use super::ratio;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::Rng;
use crate::audit::contamination::{
    Assessment, ContaminationError, ContaminationIndex, ContaminationSettings, TaskTexts,
    Undetectable,
};

/// A planted document: which task it concerns and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planted {
    pub doc: usize,
    pub task: usize,
    pub kind: String,
}

/// The generated corpus with its truth.
#[derive(Debug, Clone)]
pub struct ContaminationCorpus {
    pub docs: Vec<String>,
    /// The source of each document.
    pub sources: Vec<&'static str>,
    pub tasks: Vec<TaskTexts>,
    /// (task, document) pairs that are leaks.
    pub leaks: Vec<Planted>,
    /// (task, document) pairs that look related but are not leaks.
    pub near_misses: Vec<Planted>,
    /// Tasks too short to detect (no leak planted for them).
    pub too_short: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContaminationBenchFigures {
    pub n_docs: usize,
    pub seed: u64,
    pub threads: usize,
    pub corpus_bytes: usize,
    pub docs_per_source: BTreeMap<String, usize>,
    pub tasks: usize,
    pub tasks_by_kind: BTreeMap<String, usize>,
    /// Planted leaks and near misses, by kind.
    pub leaks_by_kind: BTreeMap<String, usize>,
    pub near_misses_by_kind: BTreeMap<String, usize>,
    /// Tasks under `whole-prompt-min-chars`: no leak planted, reported undetectable.
    pub too_short_tasks: usize,
    /// The settings of `vcurate.toml` (`[audit.contamination]` defaults).
    pub scorer: ScorerFigures,
    /// Any shared 13-word n-gram or 50-byte window flags a pair, no corpus idioms and no
    /// whole-prompt keys: the rule before issue 11, emulated with the same code.
    pub any_shared_key: ScorerFigures,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScorerFigures {
    pub config: ContaminationSettings,
    pub seconds_index: f64,
    pub seconds_scan: f64,
    pub seconds_idioms: f64,
    pub seconds_score: f64,
    pub docs_per_sec: f64,
    pub flagged_pairs: usize,
    pub true_pairs: usize,
    pub pair_precision: f64,
    pub pair_recall: f64,
    /// Documents flagged for any task (what the audit drops), and how many hold no leak.
    pub flagged_docs: usize,
    pub flagged_docs_without_leak: usize,
    pub recall_by_kind: BTreeMap<String, f64>,
    /// Near misses flagged, by kind.
    pub near_misses_flagged: BTreeMap<String, usize>,
    /// Verbatim copies of a task text of 20+ normalized bytes planted, and found.
    pub verbatim_planted: usize,
    pub verbatim_found: usize,
    pub idiom_min_documents: usize,
    pub idiom_keys_dropped: usize,
    pub boilerplate_keys_dropped: usize,
    pub undetectable_tasks: BTreeMap<String, usize>,
}

/// Generates the corpus and measures the default scorer and the any-shared-key rule on it.
pub fn run(n_docs: usize, seed: u64) -> Result<ContaminationBenchFigures, ContaminationError> {
    let corpus = generate(n_docs, seed);
    let refs: Vec<&str> = corpus.docs.iter().map(String::as_str).collect();
    let scorer = measure(&corpus, &refs, &ContaminationSettings::default())?;
    let legacy = ContaminationSettings {
        idiom_min_documents: 0,
        min_score: 0.0,
        min_matched_chars: 0,
        whole_prompt_min_chars: 0,
        ..ContaminationSettings::default()
    };
    let any_shared_key = measure(&corpus, &refs, &legacy)?;
    let count = |items: &mut dyn Iterator<Item = String>| {
        let mut m = BTreeMap::new();
        for k in items {
            *m.entry(k).or_insert(0) += 1;
        }
        m
    };
    Ok(ContaminationBenchFigures {
        n_docs: corpus.docs.len(),
        seed,
        threads: rayon::current_num_threads(),
        corpus_bytes: refs.iter().map(|d| d.len()).sum(),
        docs_per_source: count(&mut corpus.sources.iter().map(|s| s.to_string())),
        tasks: corpus.tasks.len(),
        tasks_by_kind: count(
            &mut corpus
                .tasks
                .iter()
                .map(|t| t.id.split('-').next().unwrap_or_default().to_string()),
        ),
        leaks_by_kind: count(&mut corpus.leaks.iter().map(|p| p.kind.clone())),
        near_misses_by_kind: count(&mut corpus.near_misses.iter().map(|p| p.kind.clone())),
        too_short_tasks: corpus.too_short.len(),
        scorer,
        any_shared_key,
    })
}

fn measure(
    corpus: &ContaminationCorpus,
    refs: &[&str],
    cfg: &ContaminationSettings,
) -> Result<ScorerFigures, ContaminationError> {
    let t = Instant::now();
    let index = ContaminationIndex::build(&corpus.tasks, cfg)?;
    let seconds_index = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let scan = index.scan_many(refs);
    let seconds_scan = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let idioms = index.idioms(&scan);
    let seconds_idioms = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let Assessment {
        hits,
        corpus: stats,
    } = index.score(refs, &scan, &idioms);
    let seconds_score = t.elapsed().as_secs_f64();

    let task_pos: BTreeMap<&str, usize> = corpus
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let flagged: BTreeSet<(usize, usize)> = hits
        .iter()
        .enumerate()
        .flat_map(|(d, h)| h.iter().map(move |h| (h.task_id.as_str(), d)))
        .map(|(t, d)| (task_pos[t], d))
        .collect();
    let truth: BTreeSet<(usize, usize)> = corpus.leaks.iter().map(|p| (p.task, p.doc)).collect();
    let true_pairs = flagged.intersection(&truth).count();
    let mut recall_by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for p in &corpus.leaks {
        let e = recall_by_kind.entry(p.kind.clone()).or_default();
        e.0 += 1;
        e.1 += flagged.contains(&(p.task, p.doc)) as usize;
    }
    let mut near_misses_flagged = BTreeMap::new();
    for p in &corpus.near_misses {
        *near_misses_flagged.entry(p.kind.clone()).or_insert(0) +=
            flagged.contains(&(p.task, p.doc)) as usize;
    }
    let verbatim: Vec<&Planted> = corpus
        .leaks
        .iter()
        .filter(|p| VERBATIM_KINDS.contains(&p.kind.as_str()))
        .collect();
    let leak_docs: BTreeSet<usize> = corpus.leaks.iter().map(|p| p.doc).collect();
    let flagged_docs: BTreeSet<usize> = flagged.iter().map(|&(_, d)| d).collect();
    let mut undetectable = BTreeMap::new();
    for u in &stats.undetectable_tasks {
        let reason = match u.reason {
            Undetectable::TooShort => "too_short",
            Undetectable::TaskBoilerplate => "task_boilerplate",
            Undetectable::CorpusIdioms => "corpus_idioms",
        };
        *undetectable.entry(reason.to_string()).or_insert(0) += 1;
    }
    Ok(ScorerFigures {
        config: cfg.clone(),
        seconds_index,
        seconds_scan,
        seconds_idioms,
        seconds_score,
        docs_per_sec: refs.len() as f64 / (seconds_scan + seconds_idioms + seconds_score),
        flagged_pairs: flagged.len(),
        true_pairs,
        pair_precision: ratio(true_pairs, flagged.len()),
        pair_recall: ratio(true_pairs, truth.len()),
        flagged_docs: flagged_docs.len(),
        flagged_docs_without_leak: flagged_docs.difference(&leak_docs).count(),
        recall_by_kind: recall_by_kind
            .into_iter()
            .map(|(k, (n, f))| (k, ratio(f, n)))
            .collect(),
        near_misses_flagged,
        verbatim_planted: verbatim.len(),
        verbatim_found: verbatim
            .iter()
            .filter(|p| flagged.contains(&(p.task, p.doc)))
            .count(),
        idiom_min_documents: stats.idiom_min_documents,
        idiom_keys_dropped: stats.idiom_keys_dropped,
        boilerplate_keys_dropped: index.stats().boilerplate_keys_dropped,
        undetectable_tasks: undetectable,
    })
}

/// Leak kinds that copy a task text verbatim (up to case and spacing).
const VERBATIM_KINDS: &[&str] = &[
    "prompt_verbatim",
    "solution_verbatim",
    "eval_file",
    "short_prompt_chat",
];

const SERVICES: &[&str] = &[
    "Players",
    "ReplicatedStorage",
    "RunService",
    "TweenService",
    "UserInputService",
    "DataStoreService",
    "ServerScriptService",
    "Workspace",
    "Debris",
    "SoundService",
];

/// Blocks of wiring that most Roblox scripts repeat, word for word.
const WIRING: &[&str] = &[
    "Players.PlayerAdded:Connect(function(player)\n\tlocal leaderstats = Instance.new(\"Folder\")\n\tleaderstats.Name = \"leaderstats\"\n\tleaderstats.Parent = player\nend)\n",
    "local remoteEvent = ReplicatedStorage:WaitForChild(\"RemoteEvent\")\n",
    "local player = Players.LocalPlayer\nlocal character = player.Character or player.CharacterAdded:Wait()\nlocal humanoid = character:WaitForChild(\"Humanoid\")\n",
    "remoteEvent.OnServerEvent:Connect(function(player, ...)\n\tprint(player.Name, ...)\nend)\n",
    "Players.PlayerRemoving:Connect(function(player)\n\tsaveData(player)\nend)\n",
];

/// Wiring that fewer scripts share: the first two in about 1 in 150 documents (corpus idioms
/// at the default thresholds), the others in about 1 in 400 (not idioms: the score must keep
/// a document that shares one of them with a task below the threshold).
const RARE_WIRING: &[&str] = &[
    "local store = DataStoreService:GetDataStore(\"PlayerData\")\n",
    "local tweenInfo = TweenInfo.new(1, Enum.EasingStyle.Quad, Enum.EasingDirection.Out)\n",
    "local mouse = player:GetMouse()\nmouse.Button1Down:Connect(function()\n\tprint(mouse.Hit.Position)\nend)\n",
    "Debris:AddItem(part, 5)\n",
];

/// Stock phrases of chat rows and issue reports, shared by tasks and training rows alike.
const STOCK: &[&str] = &[
    "I'm trying to run a script but it keeps erroring out.",
    "Please fix without revising the script.",
    "Can someone tell me what is wrong with this code?",
    "It works in Studio but not in a live game.",
    "Here is my script:",
    "Thanks in advance for any help!",
];

const WORDS: &[&str] = &[
    "player", "score", "round", "spawn", "team", "health", "damage", "coin", "shop", "item",
    "level", "timer", "door", "light", "sound", "effect", "camera", "input", "mouse", "key",
    "save", "load", "data", "value", "table", "list", "queue", "event", "signal", "remote",
    "server", "client", "module", "class", "object", "state", "update", "render", "frame",
    "button", "label", "text", "color", "size", "position", "speed", "jump", "walk", "tool",
    "weapon", "reward", "badge", "quest", "npc", "path", "zone", "region", "part", "model",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "tor", "ven", "sha", "pil", "rex", "dun", "gal", "bo", "qui", "zen", "fa",
    "ry", "ost", "mar", "lin", "cud", "ept", "ora", "nim", "sul", "tek", "wab", "yor", "hex",
];
const NOUNS: &[&str] = &[
    "cars",
    "doors",
    "coins",
    "trees",
    "lamps",
    "npcs",
    "platforms",
    "boxes",
    "leaves",
    "walls",
    "bridges",
    "clouds",
    "flags",
    "gems",
    "boats",
    "planes",
    "fountains",
    "trampolines",
    "crates",
    "torches",
];
const ADJECTIVES: &[&str] = &[
    "faster", "slower", "bigger", "smaller", "brighter", "heavier", "lighter", "taller",
];
const COLORS: &[&str] = &[
    "red", "green", "blue", "yellow", "purple", "white", "orange",
];
const VERBS: &[&str] = &[
    "spin", "glow", "bounce", "explode", "float", "shake", "vanish", "sparkle", "hover", "sway",
];

fn ident(rng: &mut Rng) -> String {
    let k = 2 + rng.below(2);
    (0..k).map(|_| *rng.pick(SYLLABLES)).collect()
}

/// A unique camelCase identifier of a task (never generated for the background corpus).
fn task_ident(rng: &mut Rng, t: usize) -> String {
    format!("{}{}Q{t}", ident(rng), capitalize(&ident(rng)))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn words(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| *rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The service header of a script: services in the usual order, Players and
/// ReplicatedStorage most often.
fn header(rng: &mut Rng) -> String {
    let mut s = String::new();
    for (i, svc) in SERVICES.iter().enumerate() {
        let p = if i < 2 { 0.8 } else { 0.25 };
        if rng.unit() < p {
            s.push_str(&format!("local {svc} = game:GetService(\"{svc}\")\n"));
        }
    }
    s
}

fn statement(rng: &mut Rng) -> String {
    let (a, b) = (ident(rng), ident(rng));
    match rng.below(8) {
        0 => format!("local {a} = {}\n", rng.below(1000)),
        1 => format!("{a}.{b} = \"{}\"\n", words(rng, 2)),
        2 => format!("if {a} > {} then\n\t{b}({a})\nend\n", rng.below(100)),
        3 => format!(
            "local function {a}({b})\n\treturn {b} * {}\nend\n",
            rng.below(9) + 1
        ),
        4 => format!("{a}:{}(\"{}\")\n", capitalize(&b), words(rng, 1)),
        5 => format!("for _, {a} in {b}:GetChildren() do\n\t{a}:Destroy()\nend\n"),
        6 => format!("print(\"{}\", {a})\n", words(rng, 3)),
        _ => format!("task.wait({})\n", rng.below(5) + 1),
    }
}

/// A script: the header, some wiring, and `min + (0..spread)` statements of its own.
fn script(rng: &mut Rng, min: usize, spread: usize) -> String {
    let statements = min + rng.below(spread);
    let mut s = header(rng);
    wiring(rng, &mut s);
    for _ in 0..statements {
        s.push_str(&statement(rng));
    }
    s
}

/// Appends the wiring blocks a script has: each common one with probability 1/3, the rare
/// ones with 1/150 or 1/400.
fn wiring(rng: &mut Rng, s: &mut String) {
    for w in WIRING {
        if rng.below(3) == 0 {
            s.push_str(w);
        }
    }
    for (i, w) in RARE_WIRING.iter().enumerate() {
        if rng.below(if i < 2 { 150 } else { 400 }) == 0 {
            s.push_str(w);
        }
    }
}

fn docs_page(rng: &mut Rng) -> String {
    format!(
        "# {}\n\nThis code sample shows how to {}. {}\n\n```lua\n{}```\n\nSee also the {} guide.\n",
        capitalize(&words(rng, 3)),
        words(rng, 8),
        capitalize(&words(rng, 12)),
        script(rng, 3, 6),
        words(rng, 2)
    )
}

fn chat_row(rng: &mut Rng, user: &str) -> String {
    format!(
        "user: {user}\n\nassistant: {} {}\n```lua\n{}```\n",
        rng.pick(STOCK),
        capitalize(&words(rng, 10)),
        script(rng, 2, 4)
    )
}

fn background_chat(rng: &mut Rng) -> String {
    let user = format!(
        "{} How do I make the {} {}?\n```lua\n{}```\n{}",
        rng.pick(STOCK),
        words(rng, 3),
        words(rng, 4),
        script(rng, 2, 3),
        rng.pick(STOCK)
    );
    chat_row(rng, &user)
}

/// A file shaped like Roblox/open-game-eval `Evals/*.lua`, holding `prompt` verbatim.
fn eval_file(rng: &mut Rng, name: &str, prompt: &str) -> String {
    format!(
        "--!strict\n\nlocal LoadedCode = game:FindFirstChild(\"LoadedCode\")\nassert(LoadedCode, \"Failed to find LoadedCode\")\n\nlocal types = require(LoadedCode.EvalUtils.types)\nlocal HttpService = game:GetService(\"HttpService\")\ntype BaseEval = types.BaseEval\n\nlocal eval: BaseEval = {{\n    scenario_name = \"{name}\",\n    prompt = {{\n        {{\n            {{\n                role = \"user\",\n                content = [[{prompt}]],\n                request_id = \"s20250617_{:03}\"\n            }}\n        }}\n    }},\n    place = \"racing.rbxl\",\n}}\n\neval.check_scene = function()\n{}end\n\nreturn eval\n",
        rng.below(1000),
        script(rng, 2, 1)
    )
}

/// One fix-this-code task: (prompt, reference, the code's boilerplate, one line of its bug).
fn fix_task(rng: &mut Rng, t: usize) -> (String, String, String, String) {
    let (thing, currency, item) = (task_ident(rng, t), task_ident(rng, t), task_ident(rng, t));
    let limit = 10 + rng.below(90);
    // The task's own mix of boilerplate: a service header, common wiring, and one rarer block.
    let mut boilerplate = header(rng);
    wiring(rng, &mut boilerplate);
    boilerplate.push_str(WIRING[1]);
    boilerplate.push_str(RARE_WIRING[rng.below(RARE_WIRING.len())]);
    let bug_line = format!("\tif player.leaderstats.{currency}.Value > {limit} then");
    let body = |cmp: &str| {
        format!(
            "remoteEvent.OnServerEvent:Connect(function(player)\n\tif player.leaderstats.{currency}.Value {cmp} {limit} then\n\t\tplayer.leaderstats.{currency}.Value -= {limit}\n\t\tgive{item}(player, \"{thing}\")\n\tend\nend)\n"
        )
    };
    let prompt = format!(
        "{} My {thing} never gives the {item} to the buyer even when they have exactly {limit} {currency}, and nothing shows up in the output. {}\n```lua\n{boilerplate}{}```\n{}",
        rng.pick(STOCK),
        STOCK[4],
        body(">"),
        rng.pick(STOCK)
    );
    let reference = format!("{boilerplate}{}", body(">="));
    (prompt, reference, boilerplate, bug_line)
}

/// One write-a-script task: (prompt, reference, one sentence of the prompt).
fn prose_task(rng: &mut Rng, t: usize) -> (String, String, String) {
    let (name, field) = (task_ident(rng, t), task_ident(rng, t));
    let sentence = format!(
        "It keeps a {} of every {} in {field}",
        words(rng, 2),
        words(rng, 3)
    );
    let prompt = format!(
        "Write a ModuleScript named {name} that {}. {sentence}, and {} when the {} changes. \
         It must {} without yielding.",
        words(rng, 12),
        words(rng, 8),
        words(rng, 3),
        words(rng, 6)
    );
    let reference = format!(
        "{}local {name} = {{}}\n{name}.{field} = {{}}\n\nfunction {name}.track(player, value)\n\t{name}.{field}[player.UserId] = value\n\tif value > {} then\n\t\t{name}.changed:Fire(player, value)\n\tend\nend\n\nreturn {name}\n",
        header(rng),
        rng.below(100)
    );
    (prompt, reference, sentence)
}

/// Prompts of Roblox/open-game-eval (`Evals/001_make_cars_faster.lua`,
/// `Evals/011_change_height_to_1.lua`, `Evals/008_spawn_as_r6.lua`), typos included, each with
/// a near miss; and one too short to detect.
const REAL_SHORT_PROMPTS: &[(&str, &str)] = &[
    (
        "Make the cars of this game 2x faster",
        "Make the cars of this game 2x slower",
    ),
    ("chahge players height to 1", "change players height to 10"),
    (
        "make every player spawn as a R6 test dummy as their character for now.",
        "make every player spawn as a R15 dummy",
    ),
    ("make it rain", "make it rain frogs"),
];

/// One OpenGameEval-style short prompt, unique among `seen`, and a near-miss variant.
fn short_task(rng: &mut Rng, seen: &mut BTreeSet<String>) -> (String, String) {
    loop {
        let (n, a, c, v) = (
            *rng.pick(NOUNS),
            *rng.pick(ADJECTIVES),
            *rng.pick(COLORS),
            *rng.pick(VERBS),
        );
        let k = 2 + rng.below(8);
        let (prompt, variant) = match rng.below(6) {
            0 => (
                format!("Make the {n} of this game {k}x {a}"),
                format!("Make the {n} of this game {}x {a}", k + 1),
            ),
            1 => (
                format!("make every {n} {v} when a player touches it"),
                format!("make every {n} {v} when a player jumps on it"),
            ),
            2 => (
                format!("change the {n} color to {c}"),
                format!("change the {n} color to {}", rng.pick(COLORS)),
            ),
            3 => (
                format!("{} the {c} {n}", capitalize(v)),
                format!("{v} all {c} {n}"),
            ),
            4 => (
                format!("the {n} should {v} at night. Thanks!"),
                format!("the {n} should {v} at noon"),
            ),
            _ => (
                format!("spawn {k} {c} {n} near the spawn point"),
                format!("spawn {k} {c} {n} near the finish line"),
            ),
        };
        // A variant must not be (or contain) another task's prompt, nor the other way round.
        let clash = |a: &str, b: &str| a.contains(b) || b.contains(a);
        if prompt != variant && !seen.iter().any(|s| clash(s, &prompt) || clash(s, &variant)) {
            seen.insert(prompt.clone());
            seen.insert(variant.clone());
            return (prompt, variant);
        }
    }
}

/// The generated corpus. `n` documents (at least 1,000): 70% game scripts, 15% docs pages,
/// 15% chat rows; tasks scale with `n` (about 1 per 170 documents, at least 60).
pub fn generate(n: usize, seed: u64) -> ContaminationCorpus {
    let n = n.max(1000);
    let mut rng = Rng::new(seed);
    let mut docs = Vec::with_capacity(n);
    let mut sources = Vec::with_capacity(n);
    for _ in 0..n {
        let r = rng.below(100);
        let (source, doc) = if r < 70 {
            ("games", script(&mut rng, 3, 15))
        } else if r < 85 {
            ("creator-docs", docs_page(&mut rng))
        } else {
            ("chat", background_chat(&mut rng))
        };
        sources.push(source);
        docs.push(doc);
    }

    let n_tasks = (n / 170).max(60);
    let (n_fix, n_prose) = (n_tasks / 6, n_tasks / 4);
    let system =
        "You are an expert Roblox engineer. Answer with one Luau code block, then explain \
                  the fix in two sentences at most.";
    let mut tasks = Vec::new();
    // Per task: texts to leak and near misses.
    let mut plans: Vec<(Vec<Plant>, Vec<Plant>)> = Vec::new();
    let mut seen: BTreeSet<String> = REAL_SHORT_PROMPTS
        .iter()
        .flat_map(|&(p, v)| [p.to_string(), v.to_string()])
        .collect();
    let mut too_short = Vec::new();
    for t in 0..n_tasks {
        if t < n_fix {
            let (prompt, reference, boilerplate, bug) = fix_task(&mut rng, t);
            tasks.push(TaskTexts {
                id: format!("fix-{t}"),
                texts: vec![prompt.clone(), system.into(), reference.clone()],
            });
            plans.push((
                vec![
                    ("prompt_verbatim", prompt.to_lowercase().replace(' ', "  ")),
                    ("prompt_edited", edit_words(&mut rng, &prompt, 3)),
                    (
                        "solution_edited",
                        reference.replace(" then\n", " then -- checked\n"),
                    ),
                    ("solution_verbatim", reference),
                ],
                vec![
                    (
                        "boilerplate_only",
                        format!("{boilerplate}{}", script(&mut rng, 4, 1)),
                    ),
                    (
                        "one_code_line",
                        format!(
                            "{}{bug}\n\t\tprint(\"ok\")\n\tend\n",
                            script(&mut rng, 3, 1)
                        ),
                    ),
                ],
            ));
        } else if t < n_fix + n_prose {
            let (prompt, reference, sentence) = prose_task(&mut rng, t);
            tasks.push(TaskTexts {
                id: format!("write-{t}"),
                texts: vec![prompt.clone(), system.into(), reference.clone()],
            });
            plans.push((
                vec![
                    ("prompt_verbatim", prompt.to_uppercase()),
                    ("prompt_edited", edit_words(&mut rng, &prompt, 2)),
                    ("prompt_partial", format!("> {}", first_words(&prompt, 0.6))),
                    (
                        "solution_edited",
                        reference.replace("\tend\nend", "\t\tprint(value)\n\tend\nend"),
                    ),
                    ("solution_verbatim", reference),
                ],
                vec![("shared_sentence", format!("-- {sentence}.\n"))],
            ));
        } else {
            let fixed = t - n_fix - n_prose;
            let (prompt, variant) = match REAL_SHORT_PROMPTS.get(fixed) {
                Some(&(p, v)) => (p.to_string(), v.to_string()),
                None => short_task(&mut rng, &mut seen),
            };
            let name = format!(
                "{t:03}_{}",
                prompt.to_lowercase().replace([' ', '.', '!'], "_")
            );
            tasks.push(TaskTexts {
                id: format!("oge-{t}"),
                texts: vec![prompt.clone()],
            });
            if normalized_len(&prompt) < ContaminationSettings::default().whole_prompt_min_chars {
                too_short.push(t);
                plans.push((Vec::new(), Vec::new()));
                continue;
            }
            plans.push((
                vec![
                    ("eval_file", eval_file(&mut rng, &name, &prompt)),
                    ("short_prompt_chat", prompt.clone()),
                ],
                vec![("short_variant", variant)],
            ));
        }
    }

    // Plant: each planted text replaces or joins a distinct random document.
    let mut used = BTreeSet::new();
    let mut leaks = Vec::new();
    let mut near_misses = Vec::new();
    for (t, (leak_texts, near)) in plans.into_iter().enumerate() {
        for (kind, text) in leak_texts {
            // Most leaks once, some twice (a fork, a second dataset row).
            for _ in 0..1 + (rng.below(4) == 0) as usize {
                let d = fresh_doc(&mut rng, n, &mut used);
                docs[d] = match kind {
                    "eval_file" => {
                        sources[d] = "games";
                        text.clone()
                    }
                    "short_prompt_chat" | "prompt_verbatim" | "prompt_edited" => {
                        sources[d] = "chat";
                        chat_row(&mut rng, &text)
                    }
                    _ => format!("{}{text}", docs[d]),
                };
                leaks.push(Planted {
                    doc: d,
                    task: t,
                    kind: kind.into(),
                });
            }
        }
        for (kind, text) in near {
            let d = fresh_doc(&mut rng, n, &mut used);
            docs[d] = match kind {
                "short_variant" => {
                    sources[d] = "chat";
                    chat_row(&mut rng, &text)
                }
                _ => format!("{}{text}", docs[d]),
            };
            near_misses.push(Planted {
                doc: d,
                task: t,
                kind: kind.into(),
            });
        }
    }
    ContaminationCorpus {
        docs,
        sources,
        tasks,
        leaks,
        near_misses,
        too_short,
    }
}

/// The first `share` of the words of `text`.
fn first_words(text: &str, share: f64) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let k = ((words.len() as f64 * share).ceil() as usize).max(1);
    words[..k].join(" ")
}

/// Bytes of the normalized text (lowercase alphanumeric words joined by single spaces).
fn normalized_len(text: &str) -> usize {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().map(|w| w.len()).sum::<usize>() + words.len().saturating_sub(1)
}

/// A text to plant, with its kind.
type Plant = (&'static str, String);

fn fresh_doc(rng: &mut Rng, n: usize, used: &mut BTreeSet<usize>) -> usize {
    loop {
        let d = rng.below(n);
        if used.insert(d) {
            return d;
        }
    }
}

/// `text` with `k` words of its first line replaced by other words (a light edit).
fn edit_words(rng: &mut Rng, text: &str, k: usize) -> String {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let mut words: Vec<String> = first.split(' ').map(str::to_string).collect();
    for _ in 0..k {
        let i = rng.below(words.len());
        words[i] = rng.pick(WORDS).to_string();
    }
    let mut out = words.join(" ");
    if !rest.is_empty() {
        out.push('\n');
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_deterministic_and_plants_what_it_says() {
        let a = generate(2000, 3);
        let b = generate(2000, 3);
        assert_eq!(a.docs, b.docs);
        assert_eq!(a.leaks, b.leaks);
        assert_ne!(generate(2000, 4).docs, a.docs);
        let games = a.sources.iter().filter(|s| **s == "games").count();
        assert!(games * 2 > a.docs.len(), "one source holds most documents");
        let boiler = a
            .docs
            .iter()
            .filter(|d| d.contains("local Players = game:GetService(\"Players\")"))
            .count();
        assert!(boiler * 2 > a.docs.len(), "{boiler}");
        for p in a.leaks.iter().filter(|p| p.kind == "eval_file") {
            let prompt = &a.tasks[p.task].texts[0];
            assert!(a.docs[p.doc].contains(&format!("[[{prompt}]]")));
        }
        let docs: BTreeSet<usize> = a
            .leaks
            .iter()
            .chain(&a.near_misses)
            .map(|p| p.doc)
            .collect();
        assert_eq!(docs.len(), a.leaks.len() + a.near_misses.len());
        assert!(!a.too_short.is_empty());
    }

    /// `cargo test --lib bench::contamination -- --ignored`: the targets of issue 11 on a small
    /// corpus (the full run is `vcurate bench contamination`).
    #[test]
    #[ignore = "benchmark smoke run; slow in debug builds"]
    fn targets_hold_on_a_small_corpus() {
        let f = run(3000, 1).unwrap();
        let s = &f.scorer;
        assert!(s.pair_precision >= 0.9, "{s:#?}");
        assert!(s.pair_recall >= 0.95, "{s:#?}");
        assert_eq!(s.verbatim_found, s.verbatim_planted, "{s:#?}");
        assert!(
            f.any_shared_key.pair_precision < 0.5,
            "{:#?}",
            f.any_shared_key
        );
    }

    /// The full measurement with an optimized build (see `benches/results/README.md`): set
    /// VCURATE_BENCH_N (default 20000) and VCURATE_BENCH_OUT (figures JSON).
    #[test]
    #[ignore = "benchmark: run explicitly with an optimized build"]
    fn bench_contamination_full() {
        let n = std::env::var("VCURATE_BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let f = run(n, 1).unwrap();
        let json = serde_json::to_string_pretty(&f).unwrap();
        println!("{json}");
        if let Ok(out) = std::env::var("VCURATE_BENCH_OUT") {
            crate::bench::write_figures(std::path::Path::new(&out), &f).unwrap();
        }
    }
}
