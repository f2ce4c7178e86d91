//! Docs examples from creator-docs-shaped pages, through ingest and the built-in
//! `docs-how-do-i` template (issue 11, item 5: answers kept `<img>`/`<video>` tags and
//! relative links, and questions read "How do I handle keep the bridge from restarting in
//! Roblox (loops practice - create a timed bridge)?").
//!
//! The page is written for this test in the shape of real `Roblox/creator-docs` pages
//! (`content/en-us/tutorials/fundamentals/coding-4/create-a-timed-bridge.md`: front matter with
//! a "series - topic" title, one-line `<video controls src="../../../assets/...">` paragraphs,
//! alt-less `<img>` paragraphs inside numbered steps with indented code;
//! `tutorials/curriculums/gameplay-scripting/detect-hits.md`: a `<figure>` around an
//! `<img alt="A diagram ...">`, sibling `*.md` links and `../../../` links) and the API YAML
//! shape of `reference/engine/classes/RemoteEvent.yaml` (description links to
//! `../../../scripting/events/remote.md#argument-limitations`).

use vcurate::core::{Role, UnitKind};
use vcurate::ingest::{self, IngestOptions};
use vcurate::render::{render_examples, Registry, RenderOptions};
use vcurate::workspace::Workspace;

use crate::util::{file, workspace, write, TestRepo};

const PAGE_PATH: &str = "content/en-us/tutorials/fundamentals/coding-4/create-a-timed-bridge.md";

const PAGE: &str = r#"---
title: Loops practice - create a timed bridge
description: Make a bridge that disappears after a countdown.
next: /tutorials/fundamentals/coding-4/nested-loops
prev: /tutorials/fundamentals/coding-4/glow-lights-with-for-loops
---

This project uses for loops to time a bridge. Players touch a button and have a few seconds to cross.

<video controls src="../../../assets/education/coding-4/timedBridgePresentation.mp4" width="100%"></video>

## Keep the bridge from restarting

Notice though, if you move around on the button, the timer keeps starting over.

<video controls src="../../../assets/education/coding-4/forLoop_outputError.mp4" width="100%"></video>

The loop starts over on every touch. A boolean decides whether `startTimer()` may run again; the [previous page](glow-lights-with-for-loops.md) and the [Tutorials](../../../tutorials/index.md) section explain loops.

<figure>
  <img src="../../../assets/education/coding-4/bridge-diagram.png" width="60%" alt="A diagram of the button, the bridge and the timer display above it." />
</figure>

1. Under your variables, create a variable named `timerActive` and set it to `false`.

   ```lua
   local timerDuration = 5
   local timerActive = false
   ```

   <img src="../../../assets/education/coding-4/forLoopBridge_bridgeSetup.png" width="100%" />

2. Only start the timer when `timerActive` is false.

   ```lua
   local function buttonPressed(otherPart)
      local humanoid = otherPart.Parent:FindFirstChildWhichIsA("Humanoid")
      if humanoid and timerActive == false then
         startTimer()
      end
   end
   ```

   <video controls src="../../../assets/education/coding-4/forLoopBridge-finishedCountdown.mp4" width="100%"></video>
"#;

const API_PATH: &str = "content/en-us/reference/engine/classes/RemoteEvent.yaml";

const API: &str = "name: RemoteEvent\ntype: class\nsummary: One-way messages across the client-server boundary.\ndescription: |\n  Carries messages across the\n  [client-server](../../../projects/client-server.md) boundary; mind the\n  [limitations](../../../scripting/events/remote.md#argument-limitations).\nproperties: []\nmethods: []\nevents: []\ncallbacks: []\n";

#[test]
fn creator_docs_pages_become_clean_answers_to_natural_questions() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = TestRepo::init(&tmp.path().join("docs"));
    repo.commit(
        "docs",
        &[
            (
                "LICENSE",
                file("Creative Commons Attribution 4.0 International\n"),
            ),
            (PAGE_PATH, file(PAGE)),
            (API_PATH, file(API)),
        ],
    );
    let ws_dir = workspace(tmp.path());
    write(
        &ws_dir.join("sources/creator-docs.toml"),
        &format!("kind = \"docs\"\nurl = \"{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\ncontent-root = \"content/en-us\"\nsite-url = \"https://create.roblox.com/docs\"\nprose-license = \"CC-BY-4.0\"\ncode-license = \"MIT\"\nauthor = \"Roblox Corporation\"\n", tmp.path().join("docs").display()),
    );
    let ws = Workspace::open(&ws_dir).unwrap();
    let opts = IngestOptions {
        ingest_time: Some("2024-01-01T00:00:00Z".into()),
        ..Default::default()
    };
    ingest::run(&ws, &opts, &|_| {}).unwrap();
    let docs = vcurate::store::all_documents(&ws.store_dir()).unwrap();

    // Ingest stores prose a reader sees: no media markup, no relative links.
    for d in &docs {
        for markup in ["<video", "<img", "<figure", "](../", ".md)", ".md#"] {
            assert!(
                !d.text.contains(markup),
                "{:?} keeps `{markup}`:\n{}",
                d.provenance.unit_name,
                d.text
            );
        }
    }
    let section = docs
        .iter()
        .find(|d| d.provenance.unit_name.as_deref() == Some("Keep the bridge from restarting"))
        .expect("the section");
    let text = &section.text;
    assert!(
        text.contains("[previous page](https://create.roblox.com/docs/tutorials/fundamentals/coding-4/glow-lights-with-for-loops)")
            && text.contains("[Tutorials](https://create.roblox.com/docs/tutorials)"),
        "relative links resolve against the page's folder:\n{text}"
    );
    assert!(
        text.contains("\nA diagram of the button, the bridge and the timer display above it.\n"),
        "a figure with alt text leaves the alt text:\n{text}"
    );
    assert!(
        !text.contains("\n\n\n"),
        "dropped paragraphs leave no gaps:\n{text}"
    );
    assert!(section
        .provenance
        .steps
        .contains(&"clean_docs_markup".to_string()));
    // The span and the code blocks still point at the page as written, and the code in the
    // stored text is byte for byte the code of the page.
    let span = section.provenance.span.unwrap();
    let as_written = page_at(span.byte_start, span.byte_end);
    assert!(
        as_written.starts_with("## Keep the bridge from restarting")
            && as_written.contains("<video"),
        "{as_written}"
    );
    assert_eq!(section.code_blocks.len(), 2);
    for b in &section.code_blocks {
        let code = page_at(b.span.byte_start, b.span.byte_end);
        assert!(
            text.contains(code),
            "code block changed:\n{code}\n---\n{text}"
        );
    }
    let api = docs
        .iter()
        .find(|d| d.provenance.unit_kind == UnitKind::ApiPage)
        .unwrap();
    assert!(
        api.text.contains("[limitations](https://create.roblox.com/docs/scripting/events/remote#argument-limitations)"),
        "{}",
        api.text
    );
    let intro = docs
        .iter()
        .find(|d| {
            d.provenance.unit_name.as_deref() == Some("Loops practice - create a timed bridge")
        })
        .unwrap();
    assert!(
        intro.text.trim_end().ends_with("a few seconds to cross."),
        "a trailing video paragraph is dropped with its blank line:\n{:?}",
        intro.text
    );

    // The built-in template asks the way a person would and answers with the clean prose.
    let reg = Registry::builtin().unwrap();
    let render_opts = RenderOptions {
        templates: vec!["docs-how-do-i".into()],
        ..Default::default()
    };
    let out = render_examples(&docs, &reg, &render_opts, &|_| Ok(()));
    let e = out
        .examples
        .iter()
        .find(|e| e.doc_ids == vec![section.id.clone()])
        .unwrap_or_else(|| panic!("no example: {:?}", out.excluded));
    let turn = |role| &e.messages.iter().find(|m| m.role == role).unwrap().content;
    assert_eq!(
        turn(Role::User),
        "I'm creating a timed bridge in Roblox. How do I keep the bridge from restarting? Please include Luau code."
    );
    let answer = turn(Role::Assistant);
    assert!(
        !answer.contains('<') && !answer.contains("../") && answer.contains("timerActive == false"),
        "{answer}"
    );
}

/// The page's text at a byte range of the committed file.
fn page_at(start: u64, end: u64) -> &'static str {
    &PAGE[start as usize..end as usize]
}
