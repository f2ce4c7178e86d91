//! Top-level functions of a Luau chunk: the statements of the chunk itself (never anything
//! inside a function, `do` block or branch): `local function f` (`local`), `function f` /
//! `function M.f` (`global`), `function M:f` (`method`) and `local f = function` /
//! `M.f = function` (`assigned`). A span runs from the statement's first token (an `@native`
//! attribute included) to the function's `end`.
//!
//! From full_moon's tree when the file parses; from tree-sitter-luau, whose error recovery keeps
//! going past mistakes, when it does not. tree-sitter never decides validity.

use std::cell::RefCell;

use full_moon::ast::{Ast, Expression, Stmt, Var};
use full_moon::node::Node;
use full_moon::tokenizer::TokenReference;

use crate::core::FunctionSpan;

/// Which parser found the functions of a [`LuauAnalysis`].
pub const FROM_FULL_MOON: &str = "full_moon";
/// See [`FROM_FULL_MOON`].
pub const FROM_TREE_SITTER: &str = "tree-sitter";

/// Function kinds written into [`FunctionSpan::kind`].
pub const KIND_LOCAL: &str = "local";
/// `function foo()` and `function M.foo()`: a declaration that is not `local`.
pub const KIND_GLOBAL: &str = "global";
/// `function M:bar()`.
pub const KIND_METHOD: &str = "method";
/// `local f = function() end`, `f = function() end`, `M.f = function() end`.
pub const KIND_ASSIGNED: &str = "assigned";

// ---------------------------------------------------------------------------------------------
// Functions from full_moon

fn line_of(token: &TokenReference) -> u32 {
    token.token().start_position().line() as u32
}

fn start_line(node: &impl Node) -> u32 {
    node.start_position().map_or(0, |p| p.line() as u32)
}

/// The token text of a small node, without comments or whitespace (`M . foo` becomes `M.foo`).
fn written_name(node: &impl Node) -> String {
    node.tokens().map(|t| t.token().to_string()).collect()
}

/// The anonymous function an expression is, looking through `( )` and `:: T`.
fn as_function(expr: &Expression) -> Option<&full_moon::ast::AnonymousFunction> {
    match expr {
        Expression::Function(f) => Some(f),
        Expression::Parentheses { expression, .. } => as_function(expression),
        Expression::TypeAssertion { expression, .. } => as_function(expression),
        _ => None,
    }
}

pub(crate) fn full_moon_functions(ast: &Ast) -> Vec<FunctionSpan> {
    let mut out = Vec::new();
    for stmt in ast.nodes().stmts() {
        match stmt {
            Stmt::FunctionDeclaration(decl) => {
                let name = decl.name();
                let kind = if name.method_name().is_some() {
                    KIND_METHOD
                } else {
                    KIND_GLOBAL
                };
                out.push(FunctionSpan {
                    name: written_name(name),
                    kind: kind.to_string(),
                    line_start: start_line(stmt),
                    line_end: line_of(decl.body().end_token()),
                });
            }
            Stmt::LocalFunction(local) => out.push(FunctionSpan {
                name: local.name().token().to_string(),
                kind: KIND_LOCAL.to_string(),
                line_start: start_line(stmt),
                line_end: line_of(local.body().end_token()),
            }),
            Stmt::ConstFunction(constant) => out.push(FunctionSpan {
                name: constant.name().token().to_string(),
                kind: KIND_LOCAL.to_string(),
                line_start: start_line(stmt),
                line_end: line_of(constant.body().end_token()),
            }),
            Stmt::LocalAssignment(assignment) => {
                let names = assignment.names().iter().map(|n| n.token().to_string());
                push_assigned(&mut out, stmt, names, assignment.expressions().iter());
            }
            Stmt::ConstAssignment(assignment) => {
                let names = assignment.names().iter().map(|n| n.token().to_string());
                push_assigned(&mut out, stmt, names, assignment.expressions().iter());
            }
            Stmt::Assignment(assignment) => {
                let names = assignment.variables().iter().map(|var| match var {
                    Var::Name(token) => token.token().to_string(),
                    other => written_name(other),
                });
                push_assigned(&mut out, stmt, names, assignment.expressions().iter());
            }
            _ => {}
        }
    }
    out
}

fn push_assigned<'a>(
    out: &mut Vec<FunctionSpan>,
    stmt: &Stmt,
    names: impl Iterator<Item = String>,
    values: impl Iterator<Item = &'a Expression>,
) {
    for (name, value) in names.zip(values) {
        if let Some(function) = as_function(value) {
            out.push(FunctionSpan {
                name,
                kind: KIND_ASSIGNED.to_string(),
                line_start: start_line(stmt),
                line_end: line_of(function.body().end_token()),
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Functions from tree-sitter (only for files full_moon rejects)

thread_local! {
    static TS_PARSER: RefCell<Option<tree_sitter::Parser>> = const { RefCell::new(None) };
}

/// Top-level functions as tree-sitter-luau recovers them. Node kinds come from the grammar's
/// `src/node-types.json` (tree-sitter-luau 1.2): `function_declaration` (a `local` child for
/// local ones; `name` field is an `identifier`, `dot_index_expression` or
/// `method_index_expression`), `variable_declaration` > `assignment_statement` >
/// `variable_list` (`name` fields) + `expression_list` (`value` fields), `function_definition`
/// for `function() end` expressions, and `ERROR` for what it skipped.
pub(crate) fn tree_sitter_functions(text: &str) -> Vec<FunctionSpan> {
    let tree = TS_PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut parser = tree_sitter::Parser::new();
            parser
                .set_language(&tree_sitter_luau::LANGUAGE.into())
                .ok()?;
            *slot = Some(parser);
        }
        slot.as_mut()?.parse(text, None)
    });
    let Some(tree) = tree else {
        return Vec::new();
    };
    let mut out = Vec::new();
    collect_ts(tree.root_node(), text.as_bytes(), &mut out);
    out
}

fn ts_text(node: tree_sitter::Node<'_>, source: &[u8]) -> String {
    node.utf8_text(source)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn collect_ts(root: tree_sitter::Node<'_>, source: &[u8], out: &mut Vec<FunctionSpan>) {
    // Statements tree-sitter could not fit into the grammar sit inside top-level `ERROR` nodes;
    // look through those (iteratively: they can nest), but never into function bodies.
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        let mut cursor = parent.walk();
        let mut errors = Vec::new();
        for node in parent.children(&mut cursor) {
            match node.kind() {
                "ERROR" => errors.push(node),
                "function_declaration" => ts_declaration(node, source, out),
                "variable_declaration" => {
                    let mut inner = node.walk();
                    for child in node.named_children(&mut inner) {
                        if child.kind() == "assignment_statement" {
                            ts_assignment(child, node, source, out);
                        }
                    }
                }
                "assignment_statement" => ts_assignment(node, node, source, out),
                _ => {}
            }
        }
        parents.extend(errors.into_iter().rev());
    }
    out.sort_by_key(|f| (f.line_start, f.line_end));
}

fn ts_declaration(node: tree_sitter::Node<'_>, source: &[u8], out: &mut Vec<FunctionSpan>) {
    let Some(name) = node.child_by_field_name("name") else {
        return;
    };
    let is_local = node.child(0).is_some_and(|c| c.kind() == "local");
    let kind = if is_local {
        KIND_LOCAL
    } else if name.kind() == "method_index_expression" {
        KIND_METHOD
    } else {
        KIND_GLOBAL
    };
    out.push(FunctionSpan {
        name: ts_text(name, source),
        kind: kind.to_string(),
        line_start: node.start_position().row as u32 + 1,
        line_end: node.end_position().row as u32 + 1,
    });
}

fn ts_assignment(
    assignment: tree_sitter::Node<'_>,
    statement: tree_sitter::Node<'_>,
    source: &[u8],
    out: &mut Vec<FunctionSpan>,
) {
    let mut cursor = assignment.walk();
    let mut names = Vec::new();
    let mut values = Vec::new();
    for child in assignment.named_children(&mut cursor) {
        let mut inner = child.walk();
        match child.kind() {
            "variable_list" => names.extend(child.children_by_field_name("name", &mut inner)),
            "expression_list" => values.extend(child.children_by_field_name("value", &mut inner)),
            _ => {}
        }
    }
    for (name, value) in names.into_iter().zip(values) {
        if value.kind() == "function_definition" {
            out.push(FunctionSpan {
                name: ts_text(name, source),
                kind: KIND_ASSIGNED.to_string(),
                line_start: statement.start_position().row as u32 + 1,
                line_end: value.end_position().row as u32 + 1,
            });
        }
    }
}
