//! Fixtures are written here in the shape of the real Roblox/creator-docs files (see the module
//! docs for the files read): `content/en-us/scripting/events/bindable.md` for guides;
//! `content/en-us/reference/engine/classes/BindableFunction.yaml`, `enums/Axis.yaml`,
//! `datatypes/Vector3.yaml`, `libraries/task.yaml` and `globals/RobloxGlobals.yaml` for the API
//! reference. Every fixture is built from a list of lines so that line numbers in assertions
//! can be read off the list.

use super::*;

/// Stand-in for the Luau parser: code "parses" unless it holds a shell prompt (`$ `) or starts
/// like JSON; code lines are the non-blank lines that are not `--` comments.
fn probe(code: &str) -> LuauProbe {
    let parses = !code.contains("$ ") && !code.trim_start().starts_with('{');
    let code_lines = code
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        .count() as u32;
    LuauProbe { parses, code_lines }
}

fn text_of(lines: &[&str]) -> String {
    lines.join("\n") + "\n"
}

/// Byte offset of the start of 1-based line `n` in a fixture built by `text_of`.
fn line_start(lines: &[&str], n: usize) -> usize {
    lines[..n - 1].iter().map(|l| l.len() + 1).sum()
}

/// The span of whole lines `a..=b` (1-based), newline of `b` included.
fn lines_span(lines: &[&str], a: usize, b: usize) -> Span {
    Span {
        byte_start: line_start(lines, a) as u64,
        byte_end: (line_start(lines, b) + lines[b - 1].len() + 1) as u64,
        line_start: a as u32,
        line_end: b as u32,
    }
}

/// Like `lines_span` but starting `indent` bytes into line `a` (code inside a YAML block scalar).
fn indented_span(lines: &[&str], a: usize, b: usize, indent: usize) -> Span {
    let mut s = lines_span(lines, a, b);
    s.byte_start += indent as u64;
    s
}

fn names(units: &[DocUnit]) -> Vec<(UnitKind, &str, Option<&str>)> {
    units
        .iter()
        .map(|u| (u.unit_kind, u.unit_name.as_str(), u.anchor.as_deref()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Markdown

const GUIDE: &[&str] = &[
    "---",                                                                  // 1
    "title: Bindable events and callbacks",                                 // 2
    "description: Bindable events let scripts talk on one side.",           // 3
    "---",                                                                  // 4
    "",                                                                     // 5
    "`Class.BindableEvent` objects let scripts on the **same side** talk.", // 6
    "",                                                                     // 7
    "<Alert severity=\"info\">",                                            // 8
    "To talk **across** the boundary, see [Remote events](remote.md).",     // 9
    "</Alert>",                                                             // 10
    "",                                                                     // 11
    "## Bindable events",                                                   // 12
    "",                                                                     // 13
    "Connect a function to the event:",                                     // 14
    "",                                                                     // 15
    "```Lua title=\"Event Connection\"",                                    // 16
    "local bindableEvent = script.Parent.TestBindableEvent",                // 17
    "-- Connect anonymous function to event",                               // 18
    "bindableEvent.Event:Connect(print)",                                   // 19
    "```",                                                                  // 20
    "",                                                                     // 21
    "```LUA",                                                               // 22
    "print(\"upper-case tag\")",                                            // 23
    "```",                                                                  // 24
    "",                                                                     // 25
    "### Firing",                                                           // 26
    "",                                                                     // 27
    "```",                                                                  // 28
    "local n = 1",                                                          // 29
    "print(n)",                                                             // 30
    "```",                                                                  // 31
    "",                                                                     // 32
    "```",                                                                  // 33
    "$ rojo serve",                                                         // 34
    "```",                                                                  // 35
    "",                                                                     // 36
    "```bash",                                                              // 37
    "# not a heading",                                                      // 38
    "rojo build -o out.rbxl",                                               // 39
    "```",                                                                  // 40
    "",                                                                     // 41
    "~~~json",                                                              // 42
    "{\"name\": \"x\"}",                                                    // 43
    "~~~",                                                                  // 44
    "",                                                                     // 45
    "",                                                                     // 46
    "## Argument limitations",                                              // 47
    "",                                                                     // 48
    "~~~luau",                                                              // 49
    "print(\"tilde fence\")",                                               // 50
    "~~~",                                                                  // 51
];

#[test]
fn markdown_sections_names_spans_and_code_blocks() {
    let text = text_of(GUIDE);
    let units = split_markdown(&text, "bindable", &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::DocSection, "Bindable events and callbacks", None),
            (
                UnitKind::DocSection,
                "Bindable events",
                Some("bindable-events")
            ),
            (UnitKind::DocSection, "Firing", Some("firing")),
            (
                UnitKind::DocSection,
                "Argument limitations",
                Some("argument-limitations")
            ),
        ]
    );
    assert!(
        units
            .iter()
            .all(|u| u.title == "Bindable events and callbacks"),
        "title from front matter"
    );

    // Front matter and blank lines are not part of the preamble; trailing blanks are not part
    // of a section; the `# not a heading` line in the bash fence does not split "Firing".
    let spans: Vec<Span> = units.iter().map(|u| u.span).collect();
    assert_eq!(
        spans,
        vec![
            lines_span(GUIDE, 6, 10),
            lines_span(GUIDE, 12, 24),
            lines_span(GUIDE, 26, 44),
            lines_span(GUIDE, 47, 51),
        ]
    );
    for u in &units {
        let s = u.span;
        assert_eq!(
            u.text,
            text[s.byte_start as usize..s.byte_end as usize],
            "{}",
            u.unit_name
        );
    }
    assert!(units[2].text.contains("# not a heading"));

    let blocks: Vec<(Option<&str>, bool, Span, u32)> = units
        .iter()
        .flat_map(|u| &u.code_blocks)
        .map(|b| (b.lang.as_deref(), b.is_luau, b.span, b.code_lines))
        .collect();
    assert_eq!(
        blocks,
        vec![
            // Mixed-case tags are Luau; the info string's extra words are not the language.
            (Some("Lua"), true, lines_span(GUIDE, 17, 19), 2),
            (Some("LUA"), true, lines_span(GUIDE, 23, 23), 1),
            // Untagged: Luau only when the probe says it parses.
            (None, true, lines_span(GUIDE, 29, 30), 2),
            (None, false, lines_span(GUIDE, 34, 34), 0),
            // Other languages are never Luau and never counted.
            (Some("bash"), false, lines_span(GUIDE, 38, 39), 0),
            (Some("json"), false, lines_span(GUIDE, 43, 43), 0),
            (Some("luau"), true, lines_span(GUIDE, 50, 50), 1),
        ]
    );
    assert_eq!(units[0].code_blocks.len(), 0);
    assert_eq!(units[1].code_blocks.len(), 2);
    assert_eq!(units[2].code_blocks.len(), 4);
}

#[test]
fn markdown_title_falls_back_to_first_h1_then_to_the_given_stem() {
    let with_h1 = [
        "Intro text.",
        "",
        "# Services",
        "",
        "## Container services",
        "Text.",
    ];
    let units = split_markdown(&text_of(&with_h1), "services", &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::DocSection, "Services", None),
            (UnitKind::DocSection, "Services", Some("services")),
            (
                UnitKind::DocSection,
                "Container services",
                Some("container-services")
            ),
        ]
    );
    assert!(units.iter().all(|u| u.title == "Services"));
    assert_eq!(units[0].span, lines_span(&with_h1, 1, 1));

    let no_h1 = ["## Only a second-level heading", "Body."];
    let units = split_markdown(&text_of(&no_h1), "my-page", &probe).unwrap();
    assert_eq!(units.len(), 1, "a blank preamble is not a section");
    assert_eq!(units[0].title, "my-page");
    assert_eq!(units[0].span, lines_span(&no_h1, 1, 2));
}

#[test]
fn markdown_setext_headings_split_like_atx_headings() {
    let page = [
        "Overview",
        "========",
        "",
        "Some text.",
        "",
        "Details",
        "-------",
        "More text.",
    ];
    let units = split_markdown(&text_of(&page), "p", &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::DocSection, "Overview", Some("overview")),
            (UnitKind::DocSection, "Details", Some("details"))
        ]
    );
    assert_eq!(units[0].title, "Overview", "a setext H1 names the page too");
    assert_eq!(units[0].span, lines_span(&page, 1, 4));
    assert_eq!(units[1].span, lines_span(&page, 6, 8));
}

#[test]
fn markdown_headings_in_lists_html_and_fences_do_not_split() {
    let page = [
        "## Steps",
        "",
        "1. Open Studio.",
        "   ## a heading inside a list item",
        "2. Press play:",
        "",
        "   ```lua",
        "   print(\"in a list\")",
        "   ```",
        "",
        "<Alert severity=\"warning\">",
        "## inside an HTML block",
        "</Alert>",
        "",
        "~~~",
        "## inside a tilde fence",
        "~~~",
        "",
        "## Next",
    ];
    let units = split_markdown(&text_of(&page), "p", &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::DocSection, "Steps", Some("steps")),
            (UnitKind::DocSection, "Next", Some("next"))
        ]
    );
    assert_eq!(units[0].span, lines_span(&page, 1, 17));
    let blocks = &units[0].code_blocks;
    assert_eq!(blocks.len(), 2);
    // The list item's code starts after its container indentation on line 8.
    assert_eq!(blocks[0].span, indented_span(&page, 8, 8, 3));
    assert_eq!(
        (
            blocks[0].lang.as_deref(),
            blocks[0].is_luau,
            blocks[0].code_lines
        ),
        (Some("lua"), true, 1)
    );
    // The untagged tilde block is judged by the probe (the stand-in accepts it).
    assert_eq!(blocks[1].span, lines_span(&page, 16, 16));
    assert_eq!((blocks[1].lang.as_deref(), blocks[1].is_luau), (None, true));
}

#[test]
fn markdown_anchors_follow_the_site_slugs() {
    let page = [
        "## Argument limitations",
        "## What's new?",
        "## `Class.Instance` & children",
        "## Argument limitations",
        "## Argument limitations",
        "## Argument limitations 1",
    ];
    let units = split_markdown(&text_of(&page), "p", &probe).unwrap();
    let anchors: Vec<&str> = units.iter().map(|u| u.anchor.as_deref().unwrap()).collect();
    assert_eq!(
        anchors,
        vec![
            "argument-limitations",
            "whats-new",
            "classinstance--children",
            "argument-limitations-1",
            "argument-limitations-2",
            // github-slugger: the literal heading collides with an earlier dedup suffix.
            "argument-limitations-1-1",
        ]
    );
    assert_eq!(
        units[2].unit_name, "Class.Instance & children",
        "inline code text, no backticks"
    );
}

#[test]
fn markdown_empty_fence_and_text_without_trailing_newline() {
    let text = "## A\n\n```lua\n```\n\n## B\nlast line";
    let units = split_markdown(text, "p", &probe).unwrap();
    let b = &units[0].code_blocks[0];
    // Zero-length span where the code would start (line 4, the closing fence).
    let at = text.find("```\n\n##").unwrap() as u64;
    assert_eq!(
        b.span,
        Span {
            byte_start: at,
            byte_end: at,
            line_start: 4,
            line_end: 4
        }
    );
    assert_eq!((b.is_luau, b.code_lines), (true, 0));
    let b_start = text.find("## B").unwrap() as u64;
    assert_eq!(
        units[1].span,
        Span {
            byte_start: b_start,
            byte_end: text.len() as u64,
            line_start: 6,
            line_end: 7
        }
    );
    assert_eq!(units[1].text, "## B\nlast line");
}

#[test]
fn markdown_front_matter_errors_name_the_problem_and_line() {
    let unclosed = "---\ntitle: Oops\n\n## Heading\n";
    let err = split_markdown(unclosed, "p", &probe).unwrap_err();
    assert!(matches!(err, DocError::UnclosedFrontMatter), "{err:?}");
    assert!(err.to_string().contains("never closed"));

    let bad_yaml = "---\ntitle: Fine\ndescription: [unclosed\n---\n## H\n";
    match split_markdown(bad_yaml, "p", &probe).unwrap_err() {
        DocError::FrontMatter { at, message } => {
            assert!(
                at.line.is_some_and(|l| (3..=4).contains(&l)),
                "file line of the bad YAML, got {at}"
            );
            assert!(
                !message.contains("at line"),
                "serde_yaml's own positions are relative: {message}"
            );
        }
        other => panic!("{other:?}"),
    }

    let list_title = "---\ndescription: d\ntitle:\n  - a\n  - b\n---\n";
    let err = split_markdown(list_title, "p", &probe).unwrap_err();
    match &err {
        DocError::FrontMatter { at, .. } => assert_eq!(at.line, Some(3)),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("`title` must be a single line of text"),
        "{err}"
    );

    let not_a_mapping = "---\n- a\n- b\n---\n";
    assert!(matches!(
        split_markdown(not_a_mapping, "p", &probe),
        Err(DocError::FrontMatter { .. })
    ));

    // An empty front matter is fine: no title from it.
    let units = split_markdown("---\n---\n# T\n", "p", &probe).unwrap();
    assert_eq!(units[0].title, "T");
}

// ---------------------------------------------------------------------------------------------
// URLs and paths

#[test]
fn page_urls_drop_extensions_and_index_pages() {
    let site = "https://create.roblox.com/docs";
    assert_eq!(
        page_url(site, "scripting/services.md"),
        "https://create.roblox.com/docs/scripting/services"
    );
    assert_eq!(
        page_url(&format!("{site}/"), "/scripting/services.md"),
        "https://create.roblox.com/docs/scripting/services"
    );
    assert_eq!(
        page_url(site, "reference/engine/classes/Part.yaml"),
        "https://create.roblox.com/docs/reference/engine/classes/Part"
    );
    assert_eq!(
        page_url(site, "workspace/streaming/index.md"),
        "https://create.roblox.com/docs/workspace/streaming"
    );
    assert_eq!(page_url(site, "index.md"), site);
    assert_eq!(
        page_url(site, "ui/frames.mdx"),
        "https://create.roblox.com/docs/ui/frames"
    );
    assert_eq!(
        page_url(site, "reindex.md"),
        "https://create.roblox.com/docs/reindex",
        "only a whole `index` segment"
    );
}

#[test]
fn api_reference_paths_are_yaml_under_reference_engine() {
    assert!(is_api_reference("reference/engine/classes/Part.yaml"));
    assert!(is_api_reference(
        "content/en-us/reference/engine/enums/Material.yaml"
    ));
    assert!(is_api_reference(
        "reference/engine/globals/RobloxGlobals.yml"
    ));
    assert!(!is_api_reference("reference/engine/classes.md"));
    assert!(!is_api_reference("reference/cloud/assets/v1.json"));
    assert!(!is_api_reference(
        "tools/schemas/engine/examples/class.yaml"
    ));
    assert!(!is_api_reference("myreference/engine/x.yaml"));
}

// ---------------------------------------------------------------------------------------------
// API reference

const CLASS: &[&str] = &[
    "# This file is automatically generated. Please don't edit it manually.", // 1
    "",                                                                       // 2
    "name: BindableThing",                                                    // 3
    "type: class",                                                            // 4
    "memory_category: Instances",                                             // 5
    "summary: |",                                                             // 6
    "  Lets scripts call each other.",                                        // 7
    "description: |",                                                         // 8
    "  The **BindableThing** lets scripts on one side call each other.",      // 9
    "",                                                                       // 10
    "  See `Class.BindableEvent` for one-way calls.",                         // 11
    "code_samples:",                                                          // 12
    "  - bindable-thing-basics",                                              // 13
    "inherits:",                                                              // 14
    "  - Instance",                                                           // 15
    "tags: []",                                                               // 16
    "deprecation_message: ''",                                                // 17
    "properties:",                                                            // 18
    "  - name: BindableThing.Enabled",                                        // 19
    "    summary: |",                                                         // 20
    "      Whether invocations are accepted.",                                // 21
    "    description: |",                                                     // 22
    "      Whether invocations are accepted. Defaults to true.",              // 23
    "    code_samples:",                                                      // 24
    "      - bindable-thing-toggle",                                          // 25
    "    type: bool",                                                         // 26
    "    tags:",                                                              // 27
    "      - NotReplicated",                                                  // 28
    "    deprecation_message: ''",                                            // 29
    "    security:",                                                          // 30
    "      read: None",                                                       // 31
    "      write: None",                                                      // 32
    "    thread_safety: ReadSafe",                                            // 33
    "    category: Behavior",                                                 // 34
    "    serialization:",                                                     // 35
    "      can_load: true",                                                   // 36
    "      can_save: true",                                                   // 37
    "methods:",                                                               // 38
    "  - name: BindableThing:Invoke",                                         // 39
    "    summary: |",                                                         // 40
    "      Calls the callback and returns what it returns.",                  // 41
    "    description: |",                                                     // 42
    "      Calls the `Class.BindableThing.OnInvoke|OnInvoke` callback.",      // 43
    "",                                                                       // 44
    "      ```lua",                                                           // 45
    "      local result = thing:Invoke(1, 2)",                                // 46
    "      print(result) --> 3",                                              // 47
    "      ```",                                                              // 48
    "    code_samples: []",                                                   // 49
    "    parameters:",                                                        // 50
    "      - name: arguments",                                                // 51
    "        type: Tuple",                                                    // 52
    "        default:",                                                       // 53
    "        summary: |",                                                     // 54
    "          Values passed to the callback.",                               // 55
    "    returns:",                                                           // 56
    "      - type: Tuple",                                                    // 57
    "        summary: |",                                                     // 58
    "          What the callback returned.",                                  // 59
    "    tags:",                                                              // 60
    "      - Yields",                                                         // 61
    "    deprecation_message: ''",                                            // 62
    "    security: None",                                                     // 63
    "    thread_safety: Unsafe",                                              // 64
    "events:",                                                                // 65
    "  - name: BindableThing.Fired",                                          // 66
    "    summary: |",                                                         // 67
    "      Fires after each invocation.",                                     // 68
    "    description: ''",                                                    // 69
    "    code_samples:",                                                      // 70
    "    parameters:",                                                        // 71
    "      - name: count",                                                    // 72
    "        type: int",                                                      // 73
    "        default:",                                                       // 74
    "        summary: ''",                                                    // 75
    "    tags: []",                                                           // 76
    "    deprecation_message: ''",                                            // 77
    "    security: None",                                                     // 78
    "    thread_safety: Unsafe",                                              // 79
    "callbacks:",                                                             // 80
    "  - name: BindableThing.OnInvoke",                                       // 81
    "    summary: |",                                                         // 82
    "      Called on invocation.",                                            // 83
    "    description: |",                                                     // 84
    "      Called on invocation.",                                            // 85
    "    code_samples: []",                                                   // 86
    "    parameters:",                                                        // 87
    "      - name: arguments",                                                // 88
    "        type: Tuple",                                                    // 89
    "        default:",                                                       // 90
    "        summary: ''",                                                    // 91
    "    returns:",                                                           // 92
    "      - type: Tuple",                                                    // 93
    "        summary: ''",                                                    // 94
    "    tags: []",                                                           // 95
    "    deprecation_message: ''",                                            // 96
    "    security: None",                                                     // 97
    "    thread_safety: Unsafe",                                              // 98
];

#[test]
fn api_class_page_and_members() {
    let text = text_of(CLASS);
    let units = parse_api_reference(&text, &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::ApiPage, "BindableThing", None),
            (
                UnitKind::ApiMember,
                "BindableThing.Enabled",
                Some("Enabled")
            ),
            (UnitKind::ApiMember, "BindableThing:Invoke", Some("Invoke")),
            (UnitKind::ApiMember, "BindableThing.Fired", Some("Fired")),
            (
                UnitKind::ApiMember,
                "BindableThing.OnInvoke",
                Some("OnInvoke")
            ),
        ]
    );
    assert!(units.iter().all(|u| u.title == "BindableThing"));
    let spans: Vec<Span> = units.iter().map(|u| u.span).collect();
    assert_eq!(
        spans,
        vec![
            lines_span(CLASS, 3, 17), // from `name:`, the generated-file comment excluded
            lines_span(CLASS, 19, 37),
            lines_span(CLASS, 39, 64),
            lines_span(CLASS, 66, 79),
            lines_span(CLASS, 81, 98),
        ]
    );
    assert_eq!(units[0].code_sample_ids, vec!["bindable-thing-basics"]);
    assert_eq!(units[1].code_sample_ids, vec!["bindable-thing-toggle"]);

    assert_eq!(
        units[0].text,
        "# BindableThing\n\nClass reference page.\nInherits: `Instance`\n\n\
         Lets scripts call each other.\n\n\
         The **BindableThing** lets scripts on one side call each other.\n\n\
         See `Class.BindableEvent` for one-way calls.\n\n\
         Code samples (ids): `bindable-thing-basics`\n"
    );
    assert_eq!(
        units[1].text,
        "# BindableThing.Enabled\n\nProperty of class `BindableThing`.\n\
         Signature: `BindableThing.Enabled: bool`\nTags: `NotReplicated`\n\n\
         Whether invocations are accepted. Defaults to true.\n\n\
         Code samples (ids): `bindable-thing-toggle`\n",
        "the summary is left out when the description starts with it"
    );
    assert_eq!(
        units[2].text,
        "# BindableThing:Invoke\n\nMethod of class `BindableThing`.\n\
         Signature: `BindableThing:Invoke(arguments: Tuple): Tuple`\nTags: `Yields`\n\n\
         Calls the callback and returns what it returns.\n\n\
         Calls the `Class.BindableThing.OnInvoke|OnInvoke` callback.\n\n\
         ```lua\nlocal result = thing:Invoke(1, 2)\nprint(result) --> 3\n```\n\n\
         Parameters:\n\n- `arguments: Tuple`: Values passed to the callback.\n\n\
         Returns:\n\n- `Tuple`: What the callback returned.\n"
    );
    assert_eq!(
        units[3].text,
        "# BindableThing.Fired\n\nEvent of class `BindableThing`.\n\
         Signature: `BindableThing.Fired(count: int)`\n\n\
         Fires after each invocation.\n\nParameters:\n\n- `count: int`\n"
    );
    assert!(units[4]
        .text
        .contains("Signature: `BindableThing.OnInvoke(arguments: Tuple): Tuple`"));

    // The code in the method's description, placed at its lines in the YAML.
    assert_eq!(
        units[2].code_blocks,
        vec![CodeBlock {
            lang: Some("lua".into()),
            is_luau: true,
            span: indented_span(CLASS, 46, 47, 6),
            code_lines: 2
        }]
    );
    assert!(units
        .iter()
        .enumerate()
        .all(|(i, u)| i == 2 || u.code_blocks.is_empty()));
}

const ENUM: &[&str] = &[
    "name: Direction",                       // 1
    "type: enum",                            // 2
    "summary: |",                            // 3
    "  One of the axes.",                    // 4
    "description: |",                        // 5
    "  Used by `Class.ArcHandles`.",         // 6
    "code_samples:",                         // 7
    "tags: []",                              // 8
    "deprecation_message: ''",               // 9
    "items:",                                // 10
    "  - name: X",                           // 11
    "    summary: |",                        // 12
    "      The X axis.",                     // 13
    "    value: 0",                          // 14
    "    tags: []",                          // 15
    "    deprecation_message: ''",           // 16
    "  - name: 'Y'",                         // 17
    "    summary: |",                        // 18
    "      The Y axis.",                     // 19
    "    value: 1",                          // 20
    "    tags:",                             // 21
    "      - Deprecated",                    // 22
    "    deprecation_message: |",            // 23
    "      Use `Enum.Direction.X` instead.", // 24
];

#[test]
fn api_enum_items() {
    let units = parse_api_reference(&text_of(ENUM), &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::ApiPage, "Direction", None),
            (UnitKind::ApiMember, "Direction.X", Some("X")),
            (UnitKind::ApiMember, "Direction.Y", Some("Y")),
        ]
    );
    let spans: Vec<Span> = units.iter().map(|u| u.span).collect();
    assert_eq!(
        spans,
        vec![
            lines_span(ENUM, 1, 9),
            lines_span(ENUM, 11, 16),
            lines_span(ENUM, 17, 24)
        ]
    );
    assert_eq!(
        units[1].text,
        "# Direction.X\n\nEnum item of enum `Direction`.\nSignature: `Enum.Direction.X`\nValue: `0`\n\nThe X axis.\n"
    );
    assert_eq!(
        units[2].text,
        "# Direction.Y\n\nEnum item of enum `Direction`.\nSignature: `Enum.Direction.Y`\nValue: `1`\n\
         Tags: `Deprecated`\nDeprecated: Use `Enum.Direction.X` instead.\n\nThe Y axis.\n"
    );
}

const DATATYPE: &[&str] = &[
    "name: Vec3",                                                   // 1
    "type: datatype",                                               // 2
    "summary: |",                                                   // 3
    "  A 3D value.",                                                // 4
    "description: |",                                               // 5
    "  For example:",                                               // 6
    "",                                                             // 7
    "  ```lua",                                                     // 8
    "  local part = workspace.Part",                                // 9
    "",                                                             // 10
    "  part.Position += Vec3.new(5, 2, 10)",                        // 11
    "  ```",                                                        // 12
    "code_samples:",                                                // 13
    "tags: []",                                                     // 14
    "deprecation_message: ''",                                      // 15
    "constructors:",                                                // 16
    "  - name: Vec3.new",                                           // 17
    "    summary: Returns a new `Datatype.Vec3`.",                  // 18
    "    description: Returns a new `Datatype.Vec3` from x, y, z.", // 19
    "    parameters:",                                              // 20
    "      - name: x",                                              // 21
    "        type: number",                                         // 22
    "        default: 0",                                           // 23
    "        summary: ''",                                          // 24
    "      - name: 'y'",                                            // 25
    "        type: number",                                         // 26
    "        default: 0",                                           // 27
    "        summary: ''",                                          // 28
    "    code_samples: []",                                         // 29
    "    tags: []",                                                 // 30
    "    deprecation_message: ''",                                  // 31
    "constants:",                                                   // 32
    "  - name: Vec3.zero",                                          // 33
    "    type: Vec3",                                               // 34
    "    summary: A `Datatype.Vec3` of zero length.",               // 35
    "    description: |-",                                          // 36
    "      A `Datatype.Vec3` of zero length.",                      // 37
    "",                                                             // 38
    "      ```lua",                                                 // 39
    "      print(Vec3.zero)  --> 0, 0, 0",                          // 40
    "      ```",                                                    // 41
    "    code_samples:",                                            // 42
    "    tags: []",                                                 // 43
    "    deprecation_message: ''",                                  // 44
    "methods:",                                                     // 45
    "  - name: Vec3:Dot",                                           // 46
    "    summary: |",                                               // 47
    "      Returns the dot product.",                               // 48
    "    description: \"Returns the dot product:\\n\\n```lua\\nprint(a:Dot(b))\\n```\\n\"", // 49
    "    category: Math",                                           // 50
    "    thread_safety: Safe",                                      // 51
    "    security: None",                                           // 52
    "    capabilities: []",                                         // 53
    "    parameters:",                                              // 54
    "      - name: other",                                          // 55
    "        type: Vec3",                                           // 56
    "        default:",                                             // 57
    "        summary: ''",                                          // 58
    "    returns:",                                                 // 59
    "      - type: number",                                         // 60
    "        summary: ''",                                          // 61
    "    code_samples: []",                                         // 62
    "    tags: []",                                                 // 63
    "    deprecation_message: ''",                                  // 64
    "functions:",                                                   // 65
    "math_operations:",                                             // 66
    "  - operation: +",                                             // 67
    "    summary: |",                                               // 68
    "      Adds the components.",                                   // 69
    "    description: |",                                           // 70
    "      Adds the components.",                                   // 71
    "    type_a: Vec3",                                             // 72
    "    type_b: Vec3",                                             // 73
    "    return_type: Vec3",                                        // 74
    "    code_samples: []",                                         // 75
    "    tags: []",                                                 // 76
    "    deprecation_message: ''",                                  // 77
    "  - operation: '*'",                                           // 78
    "    summary: |",                                               // 79
    "      Scales by the number.",                                  // 80
    "    description: ''",                                          // 81
    "    type_a: Vec3",                                             // 82
    "    type_b: number",                                           // 83
    "    return_type: Vec3",                                        // 84
    "    code_samples: []",                                         // 85
    "    tags: []",                                                 // 86
    "    deprecation_message: ''",                                  // 87
];

#[test]
fn api_datatype_members_math_operations_and_code_placement() {
    let units = parse_api_reference(&text_of(DATATYPE), &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::ApiPage, "Vec3", None),
            (UnitKind::ApiMember, "Vec3.new", Some("new")),
            (UnitKind::ApiMember, "Vec3.zero", Some("zero")),
            (UnitKind::ApiMember, "Vec3:Dot", Some("Dot")),
            (UnitKind::ApiMember, "Vec3 + Vec3", None),
            (UnitKind::ApiMember, "Vec3 * number", None),
        ]
    );
    let spans: Vec<Span> = units.iter().map(|u| u.span).collect();
    assert_eq!(
        spans,
        vec![
            lines_span(DATATYPE, 1, 15),
            lines_span(DATATYPE, 17, 31),
            lines_span(DATATYPE, 33, 44),
            lines_span(DATATYPE, 46, 64),
            lines_span(DATATYPE, 67, 77),
            lines_span(DATATYPE, 78, 87),
        ]
    );
    // Page description code, with a blank line inside the block scalar.
    assert_eq!(
        units[0].code_blocks,
        vec![CodeBlock {
            lang: Some("lua".into()),
            is_luau: true,
            span: indented_span(DATATYPE, 9, 11, 2),
            code_lines: 2
        }]
    );
    // `|-` block scalar: still found at its lines.
    assert_eq!(
        units[2].code_blocks[0].span,
        indented_span(DATATYPE, 40, 40, 6)
    );
    // A double-quoted description (escaped newlines) cannot be mapped line for line: its code
    // block is placed at its member.
    assert_eq!(
        units[3].code_blocks,
        vec![CodeBlock {
            lang: Some("lua".into()),
            is_luau: true,
            span: units[3].span,
            code_lines: 1
        }]
    );

    assert_eq!(
        units[1].text,
        "# Vec3.new\n\nConstructor of data type `Vec3`.\n\
         Signature: `Vec3.new(x: number = 0, y: number = 0)`\n\n\
         Returns a new `Datatype.Vec3` from x, y, z.\n\n\
         Parameters:\n\n- `x: number = 0`\n- `y: number = 0`\n",
        "`y` quoted as in the real files, defaults rendered"
    );
    assert_eq!(
        units[5].text,
        "# Vec3 * number\n\nMath operation of data type `Vec3`.\n\
         Signature: `Vec3 * number -> Vec3`\n\nScales by the number.\n"
    );
}

#[test]
fn api_library_and_globals() {
    let library = [
        "name: sched",                                    // 1
        "type: library",                                  // 2
        "summary: |",                                     // 3
        "  Schedules threads.",                           // 4
        "description: |",                                 // 5
        "  The **sched** library.",                       // 6
        "code_samples:",                                  // 7
        "properties:",                                    // 8
        "functions:",                                     // 9
        "  - name: sched.cancel",                         // 10
        "    summary: |",                                 // 11
        "      Cancels a thread.",                        // 12
        "    description: |",                             // 13
        "      Cancels a thread. For example:",           // 14
        "",                                               // 15
        "      ```lua",                                   // 16
        "      local thread = sched.delay(5, function()", // 17
        "      \tprint(\"Hello world!\")",                // 18
        "      end)",                                     // 19
        "",                                               // 20
        "      sched.cancel(thread)",                     // 21
        "      ```",                                      // 22
        "    parameters:",                                // 23
        "      - name: thread",                           // 24
        "        type: thread",                           // 25
        "        default:",                               // 26
        "        summary: |",                             // 27
        "          The thread that will be cancelled.",   // 28
        "    returns:",                                   // 29
        "      - type: ()",                               // 30
        "        summary: ''",                            // 31
        "    tags:",                                      // 32
        "    code_samples:",                              // 33
    ];
    let units = parse_api_reference(&text_of(&library), &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::ApiPage, "sched", None),
            (UnitKind::ApiMember, "sched.cancel", Some("cancel"))
        ]
    );
    assert_eq!(
        units[0].span,
        lines_span(&library, 1, 7),
        "empty member lists are not page text"
    );
    assert_eq!(units[1].span, lines_span(&library, 10, 33));
    assert_eq!(
        units[1].code_blocks,
        vec![CodeBlock {
            lang: Some("lua".into()),
            is_luau: true,
            span: indented_span(&library, 17, 21, 6),
            code_lines: 4
        }]
    );
    assert!(units[1]
        .text
        .contains("Signature: `sched.cancel(thread: thread): ()`"));
    assert!(units[0]
        .text
        .starts_with("# sched\n\nLibrary reference page.\n\n"));

    let globals = [
        "name: Roblox globals",
        "type: global",
        "summary: |",
        "  Built-in functions unique to Roblox.",
        "description: |",
        "  Roblox provides several unique built-in functions.",
        "tags: []",
        "code_samples: []",
        "properties:",
        "  - name: game",
        "    type: DataModel",
        "    summary: |",
        "      Refers to the DataModel singleton.",
        "    description: |",
        "      A reference to the `Class.DataModel`.",
        "    tags: []",
        "    code_samples: []",
        "    deprecation_message: ''",
        "functions:",
        "  - name: wait",
        "    summary: |",
        "      Yields the current thread.",
        "    description: |",
        "      Yields the current thread until the given time has elapsed.",
        "    parameters:",
        "      - name: seconds",
        "        type: number",
        "        default: 0.03",
        "        summary: ''",
        "    returns:",
        "      - type: number",
        "        summary: ''",
        "      - type: number",
        "        summary: ''",
        "    tags:",
        "      - Deprecated",
        "    code_samples: []",
        "    deprecation_message: |",
        "      This method has been superseded by `Library.task.wait()` and should not be",
        "      used for future work.",
    ];
    let units = parse_api_reference(&text_of(&globals), &probe).unwrap();
    assert_eq!(
        names(&units),
        vec![
            (UnitKind::ApiPage, "Roblox globals", None),
            (UnitKind::ApiMember, "game", Some("game")),
            (UnitKind::ApiMember, "wait", Some("wait")),
        ]
    );
    assert_eq!(
        units[2].text,
        "# wait\n\nFunction of globals page `Roblox globals`.\n\
         Signature: `wait(seconds: number = 0.03): (number, number)`\nTags: `Deprecated`\n\
         Deprecated: This method has been superseded by `Library.task.wait()` and should not be used for future work.\n\n\
         Yields the current thread until the given time has elapsed.\n\n\
         Parameters:\n\n- `seconds: number = 0.03`\n\nReturns:\n\n- `number`\n- `number`\n"
    );
}

#[test]
fn api_flow_style_lists_fall_back_to_the_list_span() {
    let page = [
        "name: Tiny",
        "type: class",
        "summary: s",
        "description: d",
        "properties: [{name: Tiny.A, type: bool, summary: a}, {name: Tiny.B, type: int, summary: b}]",
        "methods: []",
    ];
    let units = parse_api_reference(&text_of(&page), &probe).unwrap();
    assert_eq!(
        names(&units)[1..],
        [
            (UnitKind::ApiMember, "Tiny.A", Some("A")),
            (UnitKind::ApiMember, "Tiny.B", Some("B"))
        ]
    );
    assert_eq!(units[0].span, lines_span(&page, 1, 4));
    assert_eq!(units[1].span, lines_span(&page, 5, 5));
    assert_eq!(units[2].span, lines_span(&page, 5, 5));
}

#[test]
fn api_name_lists_skip_entries_that_are_not_names() {
    let page = [
        "name: Odd",
        "type: class",
        "summary: 42",
        "code_samples:",
        "  - odd-sample",
        "  - {identifier: not-a-name}",
        "tags: NotCreatable",
    ];
    let units = parse_api_reference(&text_of(&page), &probe).unwrap();
    assert_eq!(units[0].code_sample_ids, vec!["odd-sample"]);
    assert!(
        units[0].text.contains("Tags: `NotCreatable`"),
        "{}",
        units[0].text
    );
    assert!(
        units[0].text.contains("\n\n42\n"),
        "a numeric summary is still text"
    );
}

#[test]
fn api_errors_are_clear() {
    let err = parse_api_reference("name: X\ntype: class\n  bad: 1\n", &probe).unwrap_err();
    match &err {
        DocError::Yaml { at, message } => {
            assert_eq!(at.line, Some(3), "{err}");
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("line 3"), "{err}");

    let err = parse_api_reference("- a\n- b\n", &probe).unwrap_err();
    assert!(matches!(err, DocError::Yaml { .. }), "{err:?}");

    let err = parse_api_reference("name: X\ntype: class\nproperties: 3\n", &probe).unwrap_err();
    assert!(
        matches!(&err, DocError::Yaml { at, .. } if at.line == Some(3)),
        "{err:?}"
    );

    let err = parse_api_reference("type: class\nsummary: s\n", &probe).unwrap_err();
    assert!(
        matches!(err, DocError::MissingKey { key: "name" }),
        "{err:?}"
    );
    let err = parse_api_reference("name: X\nsummary: s\n", &probe).unwrap_err();
    assert!(
        matches!(err, DocError::MissingKey { key: "type" }),
        "{err:?}"
    );

    let err = parse_api_reference("name: X\ntype: widget\n", &probe).unwrap_err();
    match &err {
        DocError::UnknownApiType { found, at } => {
            assert_eq!((found.as_str(), at.line), ("widget", Some(2)))
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("`type: widget` (line 2)"), "{err}");

    let unnamed = "name: X\ntype: class\nproperties:\n  - name: X.A\n    type: bool\n  - summary: no name\n    type: int\n";
    let err = parse_api_reference(unnamed, &probe).unwrap_err();
    match &err {
        DocError::UnnamedMember { list, index, at } => {
            assert_eq!((list.as_str(), *index, at.line), ("properties", 1, Some(6)))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn strip_marks_removes_serde_positions_only() {
    assert_eq!(
        strip_marks("did not find expected key at line 3 column 5, while parsing a block mapping at line 1 column 1"),
        "did not find expected key, while parsing a block mapping"
    );
    assert_eq!(strip_marks("seen at line x"), "seen at line x");
}
