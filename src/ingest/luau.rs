//! TEMPORARY stub with the agreed API; replaced by the luau branch.
use crate::core::LuauAnalysis;
pub fn analyze(text: &str) -> LuauAnalysis {
    let ok = full_moon::parse_fallible(text, full_moon::LuaVersion::luau())
        .errors()
        .is_empty();
    LuauAnalysis {
        parse_ok: ok,
        error: None,
        code_lines: code_lines(text),
        comment_lines: 0,
        blank_lines: 0,
        functions: vec![],
        functions_from: "full_moon".into(),
    }
}
pub fn parses(text: &str) -> bool {
    analyze(text).parse_ok
}
pub fn code_lines(text: &str) -> u32 {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim().starts_with("--"))
        .count() as u32
}
