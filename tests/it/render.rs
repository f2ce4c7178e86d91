//! Data-driven template tests (the minijinja `tests/test_templates.rs` habit): every
//! `tests/templates/<case>.txt` holds a JSON context, a line `---`, and a template (or
//! `@template NAME` to render the shipped `dataset/templates/NAME.j2`). It is rendered with the
//! production environment (strict undefined variables, vcurate's filters) and compared with
//! `<case>.out` next to it. Error cases are snapshots too: their `.out` holds the error.
//!
//! After an intended change, regenerate with `VCURATE_UPDATE_SNAPSHOTS=1 cargo test --test it
//! render` and review the diff of the `.out` files.

use std::path::{Path, PathBuf};

use vcurate::render::template::{
    render_conversation_source, render_source, to_value, Output, SourceOutput, TemplateSpec,
};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/templates")
}

/// Renders one case file into the text its snapshot holds.
fn render_case(path: &Path) -> String {
    let text = fs_err::read_to_string(path).unwrap();
    let (json, template) = text.split_once("\n---\n").unwrap_or_else(|| {
        panic!(
            "{}: no `---` line between context and template",
            path.display()
        )
    });
    let ctx: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{}: context is not JSON: {e}", path.display()));
    let (name, source, output) = match template.strip_prefix("@template ") {
        Some(rest) => {
            let name = rest.trim();
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dataset/templates");
            let sidecar = dir.join(format!("{name}.toml"));
            let spec =
                TemplateSpec::parse(&sidecar, &fs_err::read_to_string(&sidecar).unwrap()).unwrap();
            let source = fs_err::read_to_string(dir.join(format!("{name}.j2"))).unwrap();
            (format!("{name}.j2"), source, spec.output)
        }
        None => (
            path.file_name().unwrap().to_string_lossy().into_owned(),
            template.to_string(),
            Output::Turns,
        ),
    };
    let rendered = match output {
        Output::Turns => render_source(&name, &source, to_value(&ctx)),
        Output::Conversation => render_conversation_source(&name, &source, to_value(&ctx)),
    };
    let turn = |m: &vcurate::core::Message| {
        let mut head = format!("[{}", m.role.as_str());
        for (k, v) in [("tool_call_id", &m.tool_call_id), ("name", &m.name)] {
            if let Some(v) = v {
                head.push_str(&format!(" {k}={v}"));
            }
        }
        let mut out = format!("{head}]\n{}\n", m.content);
        for c in &m.tool_calls {
            out.push_str(&format!(
                "<call{}> {} {}\n",
                c.id.as_deref().map(|i| format!(" {i}")).unwrap_or_default(),
                c.function.name,
                serde_json::to_string(&c.function.arguments).unwrap()
            ));
        }
        out
    };
    match rendered {
        Ok(SourceOutput::Text(t)) => t,
        Ok(SourceOutput::Turns(turns)) => turns.iter().map(turn).collect::<Vec<_>>().join("\n"),
        Ok(SourceOutput::Conversation(c)) => {
            let mut parts: Vec<String> = c.messages.iter().map(turn).collect();
            for t in &c.tools {
                parts.push(format!(
                    "[tool definition]\n{}\n",
                    serde_json::to_string(t).unwrap()
                ));
            }
            parts.join("\n")
        }
        Err(e) => format!("ERROR: {e}\n"),
    }
}

#[test]
fn template_cases_match_their_snapshots() {
    let update = std::env::var_os("VCURATE_UPDATE_SNAPSHOTS").is_some();
    let mut cases: Vec<PathBuf> = fs_err::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let inputs: Vec<&PathBuf> = cases
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    assert!(
        inputs.len() >= 20,
        "the template cases went missing from {}",
        cases_dir().display()
    );
    for out in cases
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
    {
        assert!(
            out.with_extension("txt").exists(),
            "{} has no input; delete it",
            out.display()
        );
    }
    let mut failures = Vec::new();
    for input in inputs {
        let got = render_case(input);
        let snap = input.with_extension("out");
        if update {
            fs_err::write(&snap, &got).unwrap();
            continue;
        }
        match fs_err::read_to_string(&snap) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{}:\n--- expected\n{want}\n--- got\n{got}",
                snap.display()
            )),
            Err(_) => failures.push(format!("{} is missing; got:\n{got}", snap.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} template snapshot(s) differ (rerun with VCURATE_UPDATE_SNAPSHOTS=1 to accept):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn error_cases_are_errors_and_name_template_and_line() {
    // Pins the snapshot contents that matter, so a regenerated snapshot cannot quietly turn an
    // error case into a success.
    for entry in fs_err::read_dir(cases_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("error-") && name.ends_with(".txt")) {
            continue;
        }
        let got = render_case(&path);
        assert!(got.starts_with("ERROR: "), "{name}: {got}");
        if name != "error-empty-assistant.txt" {
            assert!(
                got.contains(".j2, line ") || got.contains(".txt, line "),
                "{name}: {got}"
            );
        }
    }
    let missing = render_case(&cases_dir().join("error-missing-field.txt"));
    assert!(
        missing.contains("template error-missing-field.txt, line 4")
            && missing.contains("`doc.descripton`"),
        "{missing}"
    );
}
