//! Questions a person would ask, phrased from where a docs section sits: its heading and its
//! page's title. The `docs_question(heading, title)` template function and the `imperative`
//! and `lower_first` helpers live here.
//!
//! The question used to be "How do I {heading} in Roblox ({title})?" when the heading started
//! with a known verb and "How do I handle {heading} ..." otherwise, which gave "How do I handle
//! keep the bridge from restarting in Roblox (loops practice - create a timed bridge)?" for a
//! verb the list lacked and a series title in parentheses (issue 11). Now the heading is read as
//! one of the shapes creator-docs headings take, and the page title becomes a sentence of
//! context in front of the question:
//!
//! | heading (page title)                                          | question |
//! |---------------------------------------------------------------|----------|
//! | Keep the bridge from restarting (Loops practice - create a timed bridge) | I'm creating a timed bridge in Roblox. How do I keep the bridge from restarting? |
//! | Creating a Dictionary (Intro to Dictionaries)                  | I'm working with dictionaries in Roblox. How do I create a dictionary? |
//! | Loops (Loops)                                                  | How do loops work in Roblox? |
//! | What is a boolean? (Loops practice - create a timed bridge)   | I'm creating a timed bridge in Roblox. What is a boolean? |
//! | Summary (Loops practice - create a timed bridge)               | How do I create a timed bridge in Roblox? |
//! | Complete timed bridge script (...)                             | I'm creating a timed bridge in Roblox. Can you show me the complete timed bridge script? |
//!
//! Imperative headings ("Cast rays") are asked as they are, gerunds ("Scripting the bridge")
//! become the verb ("script the bridge"), nouns ("Dictionary syntax") are asked how they work,
//! question headings are kept, and headings that name a part of a page rather than a topic
//! ("Summary", "Overview", "Next steps") ask about the page's own topic. Title Case headings
//! ("Using Dictionary Values") are lowercased word by word, except names (`TweenService`,
//! `API`, Roblox, Studio). A series prefix in the title ("Loops practice - ") is dropped.
//!
//! Headings were read from `Roblox/creator-docs` (`content/en-us/`):
//! `tutorials/fundamentals/coding-4/create-a-timed-bridge.md`,
//! `tutorials/fundamentals/coding-5/intro-to-dictionaries.md`,
//! `tutorials/curriculums/gameplay-scripting/detect-hits.md`,
//! `tutorials/curriculums/gameplay-scripting/implement-blasters.md`,
//! `scripting/events/remote.md`.

/// Verbs that start an imperative heading ("Create a module", "Keep the bridge from
/// restarting") or, as gerunds, a gerund heading ("Scripting the bridge").
#[rustfmt::skip]
const VERBS: &[&str] = &[
    "access", "activate", "add", "adjust", "align", "allow", "anchor", "animate", "annotate",
    "apply", "assemble", "assign", "attach", "avoid", "award", "bind", "block", "build", "cache",
    "calculate", "call", "cancel", "cast", "change", "check", "choose", "clamp", "clean", "clear",
    "click", "clone", "code", "collect", "combine", "compare", "compile", "complete", "configure",
    "confirm", "connect", "construct", "control", "convert", "copy", "count", "create",
    "customize", "damage", "debug", "declare", "decorate", "define", "delete", "deploy", "design",
    "destroy", "detect", "determine", "develop", "disable", "disconnect", "display", "distribute",
    "drag", "draw", "drop", "duplicate", "edit", "emit", "enable", "encode", "end", "ensure",
    "equip", "explore", "export", "extend", "fetch", "fill", "filter", "find", "finish", "fire",
    "fix", "follow", "format", "generate", "get", "give", "grant", "greybox", "group", "handle",
    "hide", "highlight", "implement", "import", "improve", "increase", "initialize", "insert",
    "install", "integrate", "invoke", "iterate", "join", "keep", "kill", "launch", "learn",
    "limit", "link", "listen", "load", "localize", "lock", "log", "loop", "make", "manage", "map",
    "measure", "merge", "migrate", "modify", "monetize", "monitor", "move", "name", "navigate",
    "notify", "open", "optimize", "organize", "override", "paint", "parent", "parse", "pass",
    "pause", "persist", "pick", "place", "plan", "play", "playtest", "polish", "position",
    "prepare", "prevent", "print", "process", "program", "prompt", "protect", "prototype",
    "publish", "pull", "push", "query", "raycast", "read", "receive", "record", "reduce",
    "refactor", "register", "release", "reload", "remove", "rename", "render", "reorder", "repeat",
    "replace", "replicate", "request", "require", "reset", "resize", "respawn", "respond",
    "restore", "restrict", "retrieve", "return", "reuse", "rig", "rotate", "run", "sanitize",
    "save", "scale", "schedule", "script", "sculpt", "search", "secure", "select", "send",
    "serialize", "set", "share", "show", "simulate", "sort", "spawn", "specify", "split", "start",
    "stop", "store", "stream", "structure", "submit", "subscribe", "support", "swap", "switch",
    "sync", "tag", "teleport", "test", "throttle", "toggle", "track", "trigger", "troubleshoot",
    "turn", "tween", "type", "unlock", "update", "upgrade", "upload", "use", "validate", "verify",
    "wait", "weld", "wireframe", "work", "wrap", "write",
];

/// Verbs of more than one syllable whose final consonant doubles before `-ing`.
#[rustfmt::skip]
const DOUBLES_FINAL: &[&str] = &[
    "submit", "control", "begin", "admit", "commit", "equip", "forget", "program", "patrol",
    "refer", "prefer", "permit", "omit", "emit", "transmit", "unpin", "unwrap", "remap",
];

/// Words that stay capitalized when a Title Case heading is lowercased.
#[rustfmt::skip]
const NAMES: &[&str] = &[
    "Roblox", "Studio", "Luau", "Lua", "Explorer", "Output", "Toolbox", "Creator", "Hub",
    "Marketplace", "Assistant", "I",
];

/// Headings that name a part of a page, not a topic: the question is about the page instead.
#[rustfmt::skip]
const PAGE_PARTS: &[&str] = &[
    "summary", "overview", "introduction", "intro", "recap", "conclusion", "review", "background",
    "next steps", "what's next", "quick reference", "reference", "see also", "related",
    "related content", "resources", "prerequisites", "requirements", "learning objectives",
    "objectives", "optional challenges", "challenges", "practice", "example", "examples",
    "code sample", "code samples", "sample code", "try it", "wrap up", "wrap-up", "final thoughts",
    "key takeaways", "notes",
];

#[rustfmt::skip]
const TROUBLESHOOTING: &[&str] = &[
    "troubleshooting", "troubleshooting tips", "troubleshoot", "common issues", "common mistakes",
    "common problems", "debugging tips", "known issues",
];

#[rustfmt::skip]
const GETTING_STARTED: &[&str] = &[
    "setup", "set up", "getting started", "get started", "before you begin", "before you start",
];

const BEST_PRACTICES: &[&str] = &["best practices", "tips", "tips and tricks"];

#[rustfmt::skip]
const QUESTION_WORDS: &[&str] = &[
    "how", "what", "what's", "why", "when", "where", "which", "who", "can", "should", "is", "are",
    "do", "does", "will",
];

/// Words after which a noun phrase's head is done ("variables as keys": head `variables`).
#[rustfmt::skip]
const PREPOSITIONS: &[&str] = &[
    "of", "as", "in", "on", "for", "with", "to", "from", "by", "between", "within", "across",
    "into", "vs", "vs.", "versus", "via", "per", "without", "→", "->",
];

/// Words after which the first word of a heading must be a verb.
#[rustfmt::skip]
const ARTICLES: &[&str] = &[
    "the", "a", "an", "your", "its", "their", "this", "that", "these", "those", "my", "our",
];

/// Words that start the object of a verb ("scaffolding *the* map").
#[rustfmt::skip]
const DETERMINERS: &[&str] = &[
    "the", "a", "an", "your", "its", "their", "this", "that", "these", "those", "my", "our",
    "each", "every", "all", "some", "multiple", "new", "custom",
];

/// Prefixes of a title that say what kind of page it is, not what it is about.
const TITLE_PREFIXES: &[&str] = &[
    "intro to ",
    "introduction to ",
    "overview of ",
    "guide to ",
    "basics of ",
    "the basics of ",
    "getting started with ",
    "get started with ",
];

/// What a heading or title asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phrase {
    /// A verb phrase in the base form: "keep the bridge from restarting".
    Action(String),
    /// A gerund phrase whose verb is not known: "scaffolding the map".
    Gerund(String),
    /// A noun phrase: "dictionary syntax".
    Topic { text: String, plural: bool },
    /// A heading that is already a question, with its question mark.
    Question(String),
}

impl Phrase {
    /// The question on its own; `place` is appended where the sentence allows it.
    fn question(&self, place: &str) -> String {
        match self {
            Phrase::Action(a) => format!("How do I {a}{place}?"),
            Phrase::Gerund(g) => format!("How do I go about {g}{place}?"),
            Phrase::Topic { text, plural } => {
                let verb = if *plural { "do" } else { "does" };
                format!("How {verb} {text} work{place}?")
            }
            Phrase::Question(q) => q.clone(),
        }
    }

    /// "creating a timed bridge", "working with dictionaries": what someone is doing when they
    /// ask; `None` for a question.
    fn doing(&self) -> Option<String> {
        match self {
            Phrase::Action(a) => {
                let mut words: Vec<String> = a.split(' ').map(str::to_string).collect();
                words[0] = gerund(&words[0]);
                // "Record and display player data" -> "recording and displaying player data".
                if words.len() > 2 && words[1] == "and" && VERBS.contains(&words[2].as_str()) {
                    words[2] = gerund(&words[2]);
                }
                Some(words.join(" "))
            }
            Phrase::Gerund(g) => Some(g.clone()),
            Phrase::Topic { text, .. } => Some(format!("working with {text}")),
            Phrase::Question(_) => None,
        }
    }

    fn key(&self) -> String {
        match self {
            Phrase::Action(s) | Phrase::Gerund(s) | Phrase::Question(s) => s.to_lowercase(),
            Phrase::Topic { text, .. } => text.to_lowercase(),
        }
    }
}

/// The question a person would ask to get a docs section as the answer, from the section's
/// heading and its page title (see the module docs for the shapes). Never ends without `?`.
pub fn docs_question(heading: &str, title: &str) -> String {
    let heading = normalize(heading);
    let topic = title_topic(title);
    // The section before the first heading is named after the page.
    let heading = if heading == normalize(title) {
        String::new()
    } else {
        heading
    };
    let context = |topic: &Option<Phrase>| {
        topic
            .as_ref()
            .and_then(Phrase::doing)
            .map(|d| format!("I'm {d} in Roblox."))
    };
    let lower = heading.to_lowercase();
    let in_roblox = " in Roblox";
    // A heading that names a part of the page asks about the page itself.
    if heading.is_empty() || PAGE_PARTS.contains(&lower.as_str()) {
        return match &topic {
            Some(t) => t.question(in_roblox),
            None => "How do I do this in Roblox?".to_string(),
        };
    }
    if TROUBLESHOOTING.contains(&lower.as_str()) {
        return match topic.as_ref().and_then(Phrase::doing) {
            Some(d) => {
                format!("I'm {d} in Roblox, and it doesn't work as intended. What should I check?")
            }
            None => "My Roblox script doesn't work as intended. What should I check?".to_string(),
        };
    }
    if GETTING_STARTED.contains(&lower.as_str()) {
        return match topic.as_ref().and_then(Phrase::doing) {
            Some(d) => format!("How do I get started {d} in Roblox?"),
            None => "How do I get started in Roblox?".to_string(),
        };
    }
    if BEST_PRACTICES.contains(&lower.as_str()) {
        return match topic.as_ref().and_then(Phrase::doing) {
            Some(d) => format!("What are the best practices for {d} in Roblox?"),
            None => "What are the best practices in Roblox?".to_string(),
        };
    }
    if is_show_me(&lower) {
        let ask = format!("Can you show me the {}?", sentence_case(&heading));
        return match context(&topic) {
            Some(c) => format!("{c} {ask}"),
            None => format!("{} in Roblox?", ask.trim_end_matches('?')),
        };
    }
    let phrase = classify(&heading);
    match (&topic, context(&topic)) {
        (Some(t), Some(c)) if t.key() != phrase.key() => format!("{c} {}", phrase.question("")),
        _ => phrase.question(in_roblox),
    }
}

/// "Complete timed bridge script", "Finished script", "Final code": a request for the code.
fn is_show_me(lower: &str) -> bool {
    let words: Vec<&str> = lower.split_whitespace().collect();
    let first = words.iter().copied().find(|w| *w != "the");
    let last = words.last().copied().unwrap_or("");
    first.is_some_and(|f| {
        matches!(
            f,
            "complete" | "completed" | "finished" | "final" | "full" | "whole" | "sample"
        )
    }) && matches!(
        last,
        "script" | "scripts" | "code" | "project" | "example" | "sample"
    )
}

/// The page's topic: the part after a series prefix ("Loops practice - create a timed
/// bridge"), without "Intro to" and the like.
fn title_topic(title: &str) -> Option<Phrase> {
    let title = normalize(title);
    let after_series = [" - ", " – ", " — ", ": "]
        .iter()
        .filter_map(|sep| title.rfind(sep).map(|i| &title[i + sep.len()..]))
        .min_by_key(|rest| rest.len())
        .unwrap_or(&title)
        .trim();
    let mut topic = after_series.to_string();
    if let Some(rest) = TITLE_PREFIXES
        .iter()
        .find_map(|p| strip_prefix_ignore_case(&topic, p))
    {
        topic = rest.trim().to_string();
    }
    (!topic.is_empty()).then(|| classify(&topic))
}

/// Reads a normalized heading as a phrase, in its lowercased sentence form.
fn classify(text: &str) -> Phrase {
    let text = sentence_case(text);
    let first = text.split(' ').next().unwrap_or("").to_lowercase();
    if text.ends_with('?') || (QUESTION_WORDS.contains(&first.as_str()) && text.contains(' ')) {
        return Phrase::Question(upper_first(text.trim_end_matches('?')) + "?");
    }
    let rest = text.split_once(' ').map_or("", |(_, r)| r);
    if VERBS.contains(&first.as_str()) {
        return Phrase::Action(join_words(&first, rest));
    }
    if let Some(v) = base_of_gerund(&first) {
        return Phrase::Action(join_words(v, rest));
    }
    // An unknown word followed by an article is a verb too ("Greybox a playable area",
    // "Scaffold the map"): noun phrases do not continue that way.
    let second = rest.split(' ').next().unwrap_or("").to_lowercase();
    let alphabetic = first.chars().all(char::is_alphabetic);
    if alphabetic && !first.ends_with("ing") && ARTICLES.contains(&second.as_str()) {
        return Phrase::Action(join_words(&first, rest));
    }
    // An unknown verb's gerund reads as one only with an object after it ("Scaffolding the
    // map"); "Moving parts" or "Pre-existing variables" are noun phrases.
    if alphabetic && first.ends_with("ing") && DETERMINERS.contains(&second.as_str()) {
        return Phrase::Gerund(text);
    }
    Phrase::Topic {
        plural: is_plural(&text),
        text,
    }
}

/// Whitespace collapsed, "Step 2:" / "2." numbering and trailing `:`/`.` dropped, API link
/// markup (`Class.Players.PlayerAdded|PlayerAdded`) reduced to the name people use, and
/// "How to X" read as "X".
fn normalize(s: &str) -> String {
    let words: Vec<String> = s.split_whitespace().map(api_name).collect();
    let mut s = words.join(" ");
    let numbered = ["step ", "part ", "chapter "]
        .iter()
        .find_map(|p| strip_prefix_ignore_case(&s, p))
        .unwrap_or(&s);
    let digits = numbered.chars().take_while(char::is_ascii_digit).count();
    let after = numbered[digits..].trim_start_matches([':', '.', '-', '–', ')', ' ']);
    // "Step 2: Create the timer", "2. Cast rays", "3) Test" — not "3D art".
    if digits > 0 && (numbered.len() != s.len() || numbered[digits..].starts_with(['.', ')'])) {
        s = after.to_string();
    }
    if let Some(rest) = strip_prefix_ignore_case(&s, "how to ") {
        s = rest.to_string();
    }
    s.trim_end_matches([':', '.', ' ']).to_string()
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

/// `Class.Players.PlayerAdded|PlayerAdded` -> `PlayerAdded`; `Class.TweenService` ->
/// `TweenService`; `Enum.Material` stays (it is how code names it). Backticks around the word
/// are kept.
fn api_name(word: &str) -> String {
    if let Some(inner) = word.strip_prefix('`').and_then(|w| w.strip_suffix('`')) {
        return format!("`{}`", api_name(inner));
    }
    for kind in ["Class.", "Datatype.", "Global.", "Library."] {
        if let Some(rest) = word.strip_prefix(kind) {
            return match rest.split_once('|') {
                Some((_, label)) => label.to_string(),
                None if kind == "Global." => {
                    rest.split_once('.').map_or(rest, |(_, n)| n).to_string()
                }
                None => rest.to_string(),
            };
        }
    }
    word.to_string()
}

/// A heading as it reads inside a sentence: Title Case headings ("Using Dictionary Values")
/// lowercase every plain capitalized word; sentence-case ones only their first word (unless it
/// is a name such as `DataStore`, `API` or Roblox).
fn sentence_case(s: &str) -> String {
    let words: Vec<&str> = s.split(' ').collect();
    let significant: Vec<&&str> = words
        .iter()
        .filter(|w| w.len() > 3 && w.chars().next().is_some_and(char::is_alphabetic))
        .collect();
    let title_case = significant.len() >= 2
        && significant
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase));
    if !title_case {
        return lower_first(s);
    }
    words
        .iter()
        .map(|w| {
            let plain = w.chars().skip(1).all(|c| !c.is_uppercase());
            if plain && !NAMES.contains(w) {
                w.to_lowercase()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// First letter lowercased unless the first word is an acronym, CamelCase or a name
/// (`Client to server` -> `client to server`; `DataStore keys`, `API keys`, `Roblox Studio`
/// unchanged).
pub fn lower_first(s: &str) -> String {
    let first_word = s.split_whitespace().next().unwrap_or("");
    if first_word.chars().skip(1).any(|c| c.is_uppercase()) || NAMES.contains(&first_word) {
        return s.to_string();
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

fn join_words(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.to_string()
    } else {
        format!("{a} {b}")
    }
}

/// Whether the text starts with a known imperative verb ("Create", "Keep").
pub fn is_imperative(s: &str) -> bool {
    let first = s
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    VERBS.contains(&first.as_str())
}

/// The `-ing` form of a verb: `create` -> `creating`, `set` -> `setting`, `keep` -> `keeping`.
fn gerund(verb: &str) -> String {
    let v = verb.to_lowercase();
    let chars: Vec<char> = v.chars().collect();
    let vowel = |c: char| "aeiou".contains(c);
    if let Some(stem) = v.strip_suffix("ie") {
        return format!("{stem}ying");
    }
    if v.ends_with("ee") || v.ends_with("ye") || v.ends_with("oe") {
        return format!("{v}ing");
    }
    if let Some(stem) = v.strip_suffix('e') {
        return format!("{stem}ing");
    }
    let n = chars.len();
    let one_syllable = v
        .chars()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| vowel(w[1]) && !vowel(w[0]))
        .count()
        + usize::from(chars.first().is_some_and(|&c| vowel(c)))
        == 1;
    let cvc = n >= 3
        && !vowel(chars[n - 1])
        && !"wxy".contains(chars[n - 1])
        && vowel(chars[n - 2])
        && !vowel(chars[n - 3]);
    if DOUBLES_FINAL.contains(&v.as_str()) || cvc && one_syllable {
        return format!("{v}{}ing", chars[n - 1]);
    }
    format!("{v}ing")
}

/// The verb of a known gerund: `creating` -> `create`, `setting` -> `set`.
fn base_of_gerund(word: &str) -> Option<&'static str> {
    if !word.ends_with("ing") {
        return None;
    }
    VERBS.iter().copied().find(|v| gerund(v) == word)
}

/// Whether a noun phrase takes "do" ("loops", "remote events", "dictionaries and pairs()")
/// rather than "does" ("dictionary syntax", "physics").
fn is_plural(text: &str) -> bool {
    let lower = text.to_lowercase();
    if lower.contains(" and ") || lower.contains(" & ") {
        return true;
    }
    let head = lower
        .split(' ')
        .take_while(|w| !PREPOSITIONS.contains(w))
        .last()
        .unwrap_or("");
    let head = head.trim_end_matches(|c: char| !c.is_alphanumeric());
    head.len() > 3
        && head.ends_with('s')
        && !["ss", "us", "is", "ics"].iter().any(|e| head.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gerunds_follow_english_spelling() {
        for (verb, ing) in [
            ("create", "creating"),
            ("use", "using"),
            ("keep", "keeping"),
            ("set", "setting"),
            ("get", "getting"),
            ("run", "running"),
            ("stop", "stopping"),
            ("script", "scripting"),
            ("submit", "submitting"),
            ("open", "opening"),
            ("detect", "detecting"),
            ("see", "seeing"),
            ("tie", "tying"),
            ("play", "playing"),
            ("fix", "fixing"),
            ("code", "coding"),
        ] {
            assert_eq!(gerund(verb), ing, "{verb}");
            if VERBS.contains(&verb) {
                assert_eq!(base_of_gerund(ing), Some(verb), "{ing}");
            }
        }
    }

    #[test]
    fn headings_are_read_by_shape() {
        assert_eq!(
            classify("Keep the bridge from restarting"),
            Phrase::Action("keep the bridge from restarting".into())
        );
        assert_eq!(
            classify("Creating a Dictionary"),
            Phrase::Action("create a dictionary".into())
        );
        assert_eq!(
            classify("Scaffolding the map"),
            Phrase::Gerund("scaffolding the map".into())
        );
        assert_eq!(
            classify("Pre-existing Variables as Keys"),
            Phrase::Topic {
                text: "pre-existing variables as keys".into(),
                plural: true
            }
        );
        assert_eq!(
            classify("Dictionary Syntax"),
            Phrase::Topic {
                text: "dictionary syntax".into(),
                plural: false
            }
        );
        assert_eq!(
            classify("What is a boolean"),
            Phrase::Question("What is a boolean?".into())
        );
        assert_eq!(
            classify("DataStore limits"),
            Phrase::Topic {
                text: "DataStore limits".into(),
                plural: true
            }
        );
    }

    #[test]
    fn titles_become_what_someone_is_doing() {
        for (title, doing) in [
            (
                "Loops practice - create a timed bridge",
                "creating a timed bridge",
            ),
            (
                "Record and display player data",
                "recording and displaying player data",
            ),
            ("Intro to Dictionaries", "working with dictionaries"),
            ("Scaffold the map", "scaffolding the map"),
            (
                "Remote events and callbacks",
                "working with remote events and callbacks",
            ),
        ] {
            assert_eq!(
                title_topic(title).and_then(|t| t.doing()).as_deref(),
                Some(doing),
                "{title}"
            );
        }
        assert_eq!(
            title_topic("What are services?").and_then(|t| t.doing()),
            None
        );
        assert_eq!(title_topic(""), None);
    }

    #[test]
    fn headings_are_normalized() {
        assert_eq!(normalize("Step 2: Create  the timer."), "Create the timer");
        assert_eq!(normalize("3. Cast rays"), "Cast rays");
        assert_eq!(
            normalize("How to create a leaderboard"),
            "create a leaderboard"
        );
        assert_eq!(
            normalize("Listen to Class.Players.PlayerAdded|PlayerAdded"),
            "Listen to PlayerAdded"
        );
        assert_eq!(normalize("Client\u{a0}→ server"), "Client → server");
        assert_eq!(normalize("3D art"), "3D art");
    }
}
