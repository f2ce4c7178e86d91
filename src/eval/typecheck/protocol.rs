//! The JSON messages between vcurate and its type-check helper, `vcurate-luau-analyze`.
//!
//! This file is compiled twice: into the library (`eval::typecheck::protocol`) and, by path,
//! into the helper binary, which must not link the library (see `eval::typecheck` for why). It
//! must therefore use nothing but `serde`.

use serde::{Deserialize, Serialize};

/// What vcurate asks the helper: load these definition files, then check these modules, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub definitions: Vec<Source>,
    pub modules: Vec<Source>,
}

/// A named Luau source text. Module names must be unique within a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub source: String,
}

/// The helper's answer: one entry per requested module, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Which analyzer answered, e.g. `luau-analyzer-sys 0.1.1`.
    pub analyzer: String,
    pub modules: Vec<ModuleResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleResult {
    pub name: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// One diagnostic as the analyzer reports it. Positions are 0-based, as in Luau's `Location`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diagnostic {
    /// 0: error, 1: warning (luau-analyzer-sys reports nonstrict-mode type errors as warnings).
    pub severity: u8,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
}
