//! TEMPORARY stub with the agreed API; replaced by the docs branch.
use crate::core::{CodeBlock, Span, UnitKind};
pub struct LuauProbe {
    pub parses: bool,
    pub code_lines: u32,
}
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DocError(String);
pub struct DocUnit {
    pub unit_kind: UnitKind,
    pub unit_name: String,
    pub title: String,
    pub anchor: Option<String>,
    pub span: Span,
    pub text: String,
    pub code_blocks: Vec<CodeBlock>,
}
pub fn split_markdown(
    text: &str,
    _probe: &dyn Fn(&str) -> LuauProbe,
) -> Result<Vec<DocUnit>, DocError> {
    Ok(vec![DocUnit {
        unit_kind: UnitKind::DocSection,
        unit_name: "all".into(),
        title: "t".into(),
        anchor: None,
        span: Span {
            byte_start: 0,
            byte_end: text.len() as u64,
            line_start: 1,
            line_end: text.lines().count() as u32,
        },
        text: text.into(),
        code_blocks: vec![],
    }])
}
pub fn parse_api_reference(
    _text: &str,
    _probe: &dyn Fn(&str) -> LuauProbe,
) -> Result<Vec<DocUnit>, DocError> {
    Ok(vec![])
}
pub fn page_url(site_url: &str, path: &str) -> String {
    format!(
        "{site_url}/{}",
        path.trim_end_matches(".md").trim_end_matches(".yaml")
    )
}
pub fn is_api_reference(path: &str) -> bool {
    path.contains("reference/engine/") && (path.ends_with(".yaml") || path.ends_with(".yml"))
}
