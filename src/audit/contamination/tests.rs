use super::*;

const PROMPT: &str = "Write a Luau function named debounce that takes a callback and a delay in \
    seconds and returns a new function. Calling the returned function repeatedly must only \
    invoke the callback once, after the calls have stopped for the given delay. Use \
    task.delay and make sure pending calls are cancelled with task.cancel.";

fn tasks() -> Vec<TaskTexts> {
    vec![
        TaskTexts {
            id: "debounce".into(),
            texts: vec![PROMPT.into()],
        },
        TaskTexts {
            id: "inventory".into(),
            texts: vec![
                "Implement an Inventory class in Luau with methods add(itemId, count), \
                 remove(itemId, count) and count(itemId); removing more than is held must \
                 raise an error that names the item."
                    .into(),
                "local Inventory = require(script.Parent.Inventory)\nlocal inv = Inventory.new()\n\
                 inv:add(\"sword\", 2)\nassert(inv:count(\"sword\") == 2)"
                    .into(),
            ],
        },
        TaskTexts {
            id: "tiny".into(),
            texts: vec!["Reverse a string.".into()],
        },
    ]
}

fn index() -> ContaminationIndex {
    ContaminationIndex::build(&tasks(), &ContaminationSettings::default()).unwrap()
}

fn normalized(text: &str) -> String {
    let mut sc = Scratch::default();
    normalize_into(text, &mut sc);
    sc.norm
}

fn flagged(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.task_id.as_str()).collect()
}

#[test]
fn verbatim_prompt_with_other_case_and_whitespace_is_caught_whole() {
    let idx = index();
    let shouty = PROMPT.to_uppercase().replace(' ', "  \n\t");
    let doc = format!("--[[\n{shouty}\n]]\nlocal function debounce(cb, d)\n  return cb\nend\n");
    let hits = idx.scan(&doc);
    assert_eq!(flagged(&hits), vec!["debounce"]);
    let h = &hits[0];
    assert_eq!((h.score, h.part), (1.0, Part::Prose));
    assert_eq!(h.matched_chars, h.distinctive_chars);
    assert_eq!(h.distinctive_chars, normalized(PROMPT).len());
    // The span is the prompt in the document's own bytes.
    assert_eq!(h.spans.len(), 1);
    let s = &h.spans[0];
    assert_eq!(&doc[s.start..s.end], shouty.trim_end_matches('.'));
    assert_eq!(h.longest_chars, s.end - s.start);
    assert!(s.text.starts_with("WRITE  \n\tA  \n\tLUAU") && s.text.ends_with('…'));
}

#[test]
fn lightly_edited_prompt_is_caught_and_a_shared_sentence_is_not() {
    let idx = index();
    let edited = PROMPT
        .replace("named debounce", "called debounced")
        .replace("repeatedly", "many times")
        .replace("task.cancel", "task.cancel()!")
        .replace("Write", "please write");
    let hits = idx.scan(&format!("# Exercise\n\n{edited}\n"));
    assert_eq!(flagged(&hits), vec!["debounce"], "{hits:?}");
    assert!(hits[0].score > 0.6 && hits[0].score < 1.0, "{hits:?}");
    // One sentence of the prompt, in a document about something else: it shares distinctive
    // text, but far from enough of it.
    let doc = "A debounce helper. Calling the returned function repeatedly must only invoke \
               the callback once. That is all it does.";
    assert_eq!(idx.scan(doc), vec![]);
    let assessed = idx.assess(&[doc]);
    assert_eq!(assessed.corpus.pairs_matched, 1);
    assert_eq!(assessed.corpus.pairs_flagged, 0);
}

#[test]
fn test_code_of_a_task_is_matched_through_punctuation_differences() {
    let idx = index();
    // 13 words of code: too short for a second n-gram, plenty of windows.
    let code = "local inv = Inventory.new() inv:add('sword', 2)\nassert(inv:count('sword')==2)";
    let hits = idx.scan(code);
    assert_eq!(flagged(&hits), vec!["inventory"], "{hits:?}");
    assert_eq!(hits[0].part, Part::Code);
}

#[test]
fn unrelated_text_is_not_flagged() {
    let idx = index();
    let docs = [
        "Write a Luau function that returns the sum of a list of numbers, using ipairs and a \
         local accumulator, and make sure empty lists return zero.",
        "local Players = game:GetService(\"Players\")\nPlayers.PlayerAdded:Connect(function(p)\n\
         \tprint(p.Name .. \" joined\")\nend)\n",
        "A debounce limits how often a callback runs. Roblox scripts often debounce Touched \
         events with a boolean flag and task.wait.",
        "",
    ];
    for d in docs {
        assert_eq!(idx.scan(d), vec![], "{d:?}");
    }
}

#[test]
fn report_lists_contaminating_docs_per_task_and_short_tasks() {
    let idx = index();
    let tiny = UndetectableTask {
        task: "tiny".into(),
        reason: Undetectable::TooShort,
    };
    assert_eq!(idx.stats().undetectable_tasks, vec![tiny.clone()]);
    let docs = ["nothing here", PROMPT, "still nothing", &PROMPT[20..]];
    let a = idx.assess(&docs);
    assert_eq!(a.corpus.undetectable_tasks, vec![tiny]);
    let report = idx.by_task(&a.hits);
    assert_eq!(
        report[0],
        TaskContamination {
            task_id: "debounce".into(),
            docs: vec![1, 3]
        }
    );
    assert!(report[1].docs.is_empty() && report[2].docs.is_empty());
    let dup = vec![tasks()[0].clone(), tasks()[0].clone()];
    assert!(matches!(
        ContaminationIndex::build(&dup, &ContaminationSettings::default()),
        Err(ContaminationError::DuplicateTask(_))
    ));
    let bad = ContaminationSettings {
        min_score: 1.5,
        ..Default::default()
    };
    assert!(matches!(
        ContaminationIndex::build(&tasks(), &bad),
        Err(ContaminationError::Config(_))
    ));
}

#[test]
fn text_shared_by_many_tasks_is_boilerplate_not_contamination() {
    let system = "You are an expert Roblox engineer. Answer with a single Luau code block and \
                  no explanation, following the Roblox Lua style guide.";
    let specifics = [
        "implement a ring buffer with push, pop and a fixed capacity given to the constructor",
        "write a function that deep copies a table including nested tables and metatables",
        "create a signal class with Connect, Once, Fire and DisconnectAll methods for events",
        "parse a semantic version string into major, minor and patch numbers and compare them",
        "build a rate limiter that allows at most n calls per rolling window of t seconds",
    ];
    let tasks: Vec<TaskTexts> = specifics
        .iter()
        .enumerate()
        .map(|(i, s)| TaskTexts {
            id: format!("t{i}"),
            texts: vec![format!("{system} Task: {s}.")],
        })
        .collect();
    let idx = ContaminationIndex::build(&tasks, &ContaminationSettings::default()).unwrap();
    assert!(idx.stats().boilerplate_keys_dropped > 0);
    assert!(idx.stats().undetectable_tasks.is_empty());
    // A training example rendered with the same system prompt is not contaminated by it.
    let doc = format!("{system}\nTask: make a part spin.\nlocal p = script.Parent");
    assert_eq!(idx.scan(&doc), vec![]);
    // The task-specific part still is.
    let hits = idx.scan(&format!("-- {}", specifics[3]));
    assert_eq!(flagged(&hits), vec!["t3"]);
    // With the guard off, the shared prompt flags every task.
    let all = ContaminationSettings {
        boilerplate_min_tasks: 0,
        ..Default::default()
    };
    let idx = ContaminationIndex::build(&tasks, &all).unwrap();
    assert_eq!(idx.scan(&doc).len(), 5);
}

/// Issue 11, failure 1 in miniature: a "fix this code" task whose prompt embeds service
/// boilerplate matched hundreds of documents that share only the boilerplate.
#[test]
fn corpus_idioms_are_not_evidence_and_the_prose_still_is() {
    let boilerplate = "local Players = game:GetService(\"Players\")\n\
        local ReplicatedStorage = game:GetService(\"ReplicatedStorage\")\n\
        local remote = ReplicatedStorage:WaitForChild(\"RemoteEvent\")\n";
    let prompt = format!(
        "My shop button never gives the sword to the buyer, even when they have enough gems. \
         Fix this code:\n```lua\n{boilerplate}remote.OnServerEvent:Connect(function(player)\n\
         \tif player.leaderstats.Gems.Value > 50 then\n\t\tgiveSword(player)\n\tend\nend)\n```"
    );
    let task = TaskTexts {
        id: "shop".into(),
        texts: vec![prompt.clone()],
    };
    let idx = ContaminationIndex::build(&[task], &ContaminationSettings::default()).unwrap();
    let mut docs: Vec<String> = (0..200)
        .map(|i| format!("{boilerplate}local counter{i} = {i}\nprint(counter{i} * 2)\n"))
        .collect();
    docs.push(format!("user: {prompt}\nassistant: use >= instead of >"));
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let a = idx.assess(&refs);
    assert!(a.corpus.idiom_keys_dropped > 0, "{:?}", a.corpus);
    assert_eq!(a.corpus.idiom_min_documents, 20);
    let flagged_docs: Vec<usize> = (0..docs.len()).filter(|&d| !a.hits[d].is_empty()).collect();
    assert_eq!(flagged_docs, vec![200]);
    assert_eq!(a.hits[200][0].score, 1.0);
    assert!(a.corpus.undetectable_tasks.is_empty());
    // The rule is what makes the difference: without it every boilerplate document covers
    // most of the task's code.
    let off = ContaminationSettings {
        idiom_min_documents: 0,
        ..Default::default()
    };
    let idx = ContaminationIndex::build(
        &[TaskTexts {
            id: "shop".into(),
            texts: vec![prompt],
        }],
        &off,
    )
    .unwrap();
    let a = idx.assess(&refs);
    assert_eq!(a.corpus.idiom_keys_dropped, 0);
    assert!(a.hits.iter().filter(|h| !h.is_empty()).count() > 200);
}

#[test]
fn a_task_made_only_of_idioms_is_reported_undetectable() {
    let line = "local ReplicatedStorage = game:GetService(\"ReplicatedStorage\")\nlocal Players = game:GetService(\"Players\")";
    let task = TaskTexts {
        id: "header".into(),
        texts: vec![line.into()],
    };
    let idx = ContaminationIndex::build(&[task], &ContaminationSettings::default()).unwrap();
    let docs: Vec<String> = (0..30).map(|i| format!("{line}\nprint({i})")).collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let a = idx.assess(&refs);
    assert!(a.hits.iter().all(Vec::is_empty));
    assert_eq!(
        a.corpus.undetectable_tasks,
        vec![UndetectableTask {
            task: "header".into(),
            reason: Undetectable::CorpusIdioms
        }]
    );
}

/// Issue 11, failure 2: OpenGameEval prompts are shorter than a window, and their own eval
/// files (which hold the prompt verbatim) passed. The document below is shaped like
/// Roblox/open-game-eval `Evals/001_make_cars_faster.lua`.
#[test]
fn a_short_prompt_is_matched_whole_on_word_boundaries() {
    let tasks = vec![
        TaskTexts {
            id: "cars".into(),
            texts: vec!["Make the cars of this game 2x faster".into()],
        },
        TaskTexts {
            id: "thanks".into(),
            texts: vec!["Make every door open when touched. Thanks!".into()],
        },
        TaskTexts {
            id: "tiny".into(),
            texts: vec!["Fix the bug".into()],
        },
    ];
    let idx = ContaminationIndex::build(&tasks, &ContaminationSettings::default()).unwrap();
    assert_eq!(idx.stats().phrases, 3, "two whole prompts and one sentence");
    assert_eq!(
        idx.stats().undetectable_tasks,
        vec![UndetectableTask {
            task: "tiny".into(),
            reason: Undetectable::TooShort
        }]
    );
    let eval_file = "local eval: BaseEval = {\n    scenario_name = \"001_make_cars_faster\",\n    \
        prompt = {\n        {\n            {\n                role = \"user\",\n                \
        content = [[Make the cars of this game 2x faster]],\n                request_id = \
        \"s20250617_001\"\n            }\n        }\n    },\n    place = \"racing.rbxl\",\n}\n";
    let hits = idx.scan(eval_file);
    assert_eq!(flagged(&hits), vec!["cars"]);
    assert_eq!((hits[0].score, hits[0].part), (1.0, Part::WholePrompt));
    assert_eq!(
        hits[0].spans[0].text,
        "Make the cars of this game 2x faster"
    );
    // The longest sentence alone is most of the prompt.
    let hits = idx.scan("-- make every door open when touched");
    assert_eq!(flagged(&hits), vec!["thanks"]);
    assert!(hits[0].score > 0.8 && hits[0].score < 1.0);
    for near_miss in [
        "Make the cars of this game 3x faster",
        "make the cars of this game 2x fasterer",
        "remake the cars of this game 2x faster",
        "Make the cars of this game faster",
    ] {
        assert_eq!(idx.scan(near_miss), vec![], "{near_miss}");
    }
    // Phrase keys can be turned off.
    let off = ContaminationSettings {
        whole_prompt_min_chars: 0,
        ..Default::default()
    };
    let idx = ContaminationIndex::build(&tasks, &off).unwrap();
    assert_eq!(idx.stats().undetectable_tasks.len(), 3);
    assert_eq!(idx.scan(eval_file), vec![]);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let idx = index();
    let docs: Vec<String> = (0..300)
        .map(|i| match i % 7 {
            0 => format!("{i} {PROMPT}"),
            3 => format!(
                "-- {}\nlocal inv = Inventory.new()\ninv:add(\"sword\", 2)",
                &PROMPT[i % 40..]
            ),
            _ => format!("local x{i} = {i}"),
        })
        .collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let many = idx.assess(&refs);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| idx.assess(&refs));
    assert_eq!(many.hits, one.hits);
    assert_eq!(many.corpus, one.corpus);
    // 43 documents hold the prompt: more than the floor of 20, so its keys are idioms here.
    assert_eq!(many.corpus.undetectable_tasks.len(), 2, "{:?}", many.corpus);
}

#[test]
fn idiom_threshold_grows_with_the_corpus() {
    let idx = index();
    let scan = |n: usize| {
        let docs = vec!["x"; n];
        idx.idioms(&idx.scan_many(&docs))
            .stats()
            .idiom_min_documents
    };
    assert_eq!(scan(10), 20);
    assert_eq!(scan(10_000), 50);
}

#[test]
fn normalization_is_punctuation_and_case_insensitive_and_unicode_aware() {
    let mut a = Scratch::default();
    let text = "  Players:GetPlayers()[1].Name -- ÉLAN,  naïve\r\n";
    normalize_into(text, &mut a);
    assert_eq!(a.norm, "players getplayers 1 name élan naïve");
    assert_eq!(a.starts.len(), 6);
    let words: Vec<&str> = a
        .starts
        .iter()
        .zip(&a.ends)
        .map(|(&s, &e)| &a.norm[s as usize..e as usize])
        .collect();
    assert_eq!(
        words,
        vec!["players", "getplayers", "1", "name", "élan", "naïve"]
    );
    let originals: Vec<&str> = a
        .orig_starts
        .iter()
        .zip(&a.orig_ends)
        .map(|(&s, &e)| &text[s as usize..e as usize])
        .collect();
    assert_eq!(
        originals,
        vec!["Players", "GetPlayers", "1", "Name", "ÉLAN", "naïve"]
    );
}

/// A found once in a document is credited once, even where the task says it twice (a bug
/// line and its fix share a window): otherwise one copied line covered two.
#[test]
fn a_key_the_task_repeats_is_credited_once_per_match() {
    let s = "The quick brown fox named Zorblax jumps over the lazy dog every single morning.";
    let task = TaskTexts {
        id: "story".into(),
        texts: vec![format!(
            "{s} Then something entirely different happens in the middle of this long story. {s}"
        )],
    };
    let idx = ContaminationIndex::build(&[task], &ContaminationSettings::default()).unwrap();
    let a = idx.assess(&[s]);
    assert_eq!(a.hits, vec![Vec::<Hit>::new()]);
    assert_eq!(a.corpus.pairs_matched, 1);
    let copy = format!(
        "{s} Then something entirely different happens in the middle of this long story. {s}"
    );
    let hits = idx.scan(&copy);
    assert_eq!(hits[0].score, 1.0, "{hits:?}");
}

/// A long solution copied in part: under `min_score` of it, but more distinctive text than
/// `min_matched_chars`.
#[test]
fn a_long_part_copied_in_part_is_flagged_by_its_size() {
    let functions: Vec<String> = (0..12)
        .map(|i| {
            format!(
                "function Ledger{i}.settle(account{i}, amount{i})\n\taccount{i}.balance -= amount{i} * {}\n\treturn account{i}.balance\nend\n",
                i + 2
            )
        })
        .collect();
    let task = TaskTexts {
        id: "ledger".into(),
        texts: vec![functions.concat()],
    };
    let idx = ContaminationIndex::build(
        std::slice::from_ref(&task),
        &ContaminationSettings::default(),
    )
    .unwrap();
    let part = functions[..5].concat();
    let hits = idx.scan(&part);
    assert_eq!(flagged(&hits), vec!["ledger"]);
    assert!(
        hits[0].score < 0.5 && hits[0].matched_chars >= 300,
        "{hits:?}"
    );
    let off = ContaminationSettings {
        min_matched_chars: 0,
        ..Default::default()
    };
    let idx = ContaminationIndex::build(&[task], &off).unwrap();
    assert_eq!(idx.scan(&part), vec![]);
}
