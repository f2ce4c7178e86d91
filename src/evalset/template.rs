//! luau-bench's `doc_to_text` and `system_prompt` are Jinja2 templates rendered against a doc:
//! rendered here with minijinja, the way luau-bench's jinja2 does (undefined names and chained
//! lookups on them render as empty text; `None`, `True`, `False` print as Python prints them),
//! then stripped. Lists and mappings print as compact JSON.

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};
use serde_json::Value as Json;

/// Renders a luau-bench template against a doc, then strips it, as luau-bench does. The error
/// is minijinja's message with the line of the template.
pub fn render_template(template: &str, doc: &Json) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(|out, _state, value| {
        match value.kind() {
            ValueKind::Undefined => {}
            ValueKind::None => out.write_str("None")?,
            ValueKind::Bool => out.write_str(if value.is_true() { "True" } else { "False" })?,
            ValueKind::Seq | ValueKind::Map => {
                let json = serde_json::to_string(value)
                    .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
                out.write_str(&json)?
            }
            _ => write!(out, "{value}")?,
        }
        Ok(())
    });
    let ctx = Value::from(minijinja::value::Serde(doc));
    env.render_str(template, ctx)
        .map(|out| out.trim().to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_subset_renders_like_jinja() {
        let doc = serde_json::json!({
            "description": "Sum digits.",
            "signature": "function f(n: number): number",
            "examples": [{"input": 493, "expected": 16, "desc": "4+9+3"}, {"input": 0, "expected": 0, "desc": "zero"}],
            "flag": false
        });
        let t = "{{ description }}\n```luau\n{{ signature }}\n```\n{% for ex in examples %}-- {{ ex.desc }}: {{ ex.input }} -> {{ ex.expected }}\n{% endfor %}{% if flag %}yes{% else %}no{% endif %}{{ missing }}{# note #}\n";
        let out = render_template(t, &doc).unwrap();
        assert_eq!(
            out,
            "Sum digits.\n```luau\nfunction f(n: number): number\n```\n-- 4+9+3: 493 -> 16\n-- zero: 0 -> 0\nno"
        );
        // Real Jinja now (minijinja): filters work, as they do in luau-bench's jinja2.
        assert_eq!(
            render_template("{{ description | upper }}", &doc).unwrap(),
            "SUM DIGITS."
        );
        // Python-style literals and JSON for lists, as the hand-written subset rendered them.
        assert_eq!(
            render_template(
                "{{ flag }} {{ nothing }} {{ examples[1] }} {{ a.b.c }}",
                &serde_json::json!({"flag": true, "nothing": null, "examples": [1, [2, 3]]})
            )
            .unwrap(),
            "True None [2,3]"
        );
        // Broken templates are errors that say what is wrong and where. minijinja 3.1 reports an
        // unclosed `for` as "unexpected end of input, expected end of block (in <string>:1)"; it
        // does not name the missing `endfor`.
        let unclosed_for = render_template("{% for x in y %}", &doc).unwrap_err();
        assert!(
            unclosed_for.contains("unexpected end of input")
                && unclosed_for.contains("expected end of block")
                && unclosed_for.contains("<string>:1"),
            "{unclosed_for}"
        );
        let unclosed_expr = render_template("{{ open", &doc).unwrap_err();
        assert!(
            unclosed_expr.contains("end of input") && unclosed_expr.contains("<string>:1"),
            "{unclosed_expr}"
        );
    }
}
