//! Closures of functions that can pause (K041). A pause splits a function into continuations,
//! each with its own copy of the live variables; a nested function keeps the variables it
//! captured in its closure. They agree as long as the captured variable does not change after
//! the nested function is created: that is checked here, and a write that breaks it (a later
//! assignment in the pausing function, an assignment in a loop around the definition, or a
//! `nonlocal` write from a nested function) is reported.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ExprContext, Stmt};
use ruff_text_size::{Ranged, TextRange};

use super::scopes::{FunctionId, FunctionNode, Resolved, ScopeId};
use super::Context;
use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};

pub(super) fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let scopes = &ctx.analysis.scopes;
    for id in scopes.function_ids() {
        let function = scopes.function(id);
        let FunctionNode::Def(def) = function.node else {
            continue;
        };
        if !ctx.analysis.can_pause.function_can_pause(id) || function.kappa_ignore {
            continue;
        }
        let mut body = Body::default();
        for stmt in &def.body {
            body.visit_stmt(stmt);
        }
        for nested in &body.nested {
            let Some(nested_id) = scopes.function_at(nested.range.start()) else {
                continue;
            };
            captured_then_reassigned(ctx, id, nested_id, nested, &body.stores, out);
        }
    }
    nonlocal_writes(ctx, out);
}

fn captured_then_reassigned(
    ctx: &Context,
    owner: FunctionId,
    nested_id: FunctionId,
    nested: &Nested,
    stores: &[Store],
    out: &mut Vec<Diagnostic>,
) {
    let scopes = &ctx.analysis.scopes;
    let owner_name = &scopes.function(owner).qualname;
    let nested_fn = scopes.function(nested_id);
    let uses = match nested_fn.node {
        FunctionNode::Def(def) => super::names::in_body(&def.body),
        FunctionNode::Lambda(lambda) => super::names::in_expr(&lambda.body),
    };
    let mut reported = Vec::new();
    for (name, _) in &uses.loads {
        if reported.contains(name) {
            continue;
        }
        let resolves_to_owner = matches!(
            scopes.resolve(ScopeId::Function(nested_id), name),
            Resolved::Bound(ScopeId::Function(f), _) if f == owner
        );
        if !resolves_to_owner {
            continue;
        }
        let later = stores.iter().find(|store| {
            store.name == *name
                && (store.range.start() >= nested.range.end()
                    || store.loops.iter().any(|l| l.contains_range(nested.range)))
        });
        let Some(store) = later else { continue };
        reported.push(name.clone());
        let what = match nested_fn.node {
            FunctionNode::Lambda(_) => "a lambda".to_owned(),
            FunctionNode::Def(_) => format!("`{}`", nested_fn.name),
        };
        let how = if store.range.start() >= nested.range.end() {
            "assigned again after it is created"
        } else {
            "assigned in a loop around it"
        };
        out.push(
            Diagnostic::new(
                Code::CapturedVariableReassigned,
                format!(
                    "{what} captures `{name}` from `{owner_name}`, which can pause, and `{name}` is {how}"
                ),
                Label::new(nested_fn.name_range, format!("captures `{name}`")),
            )
            .with_secondary(store.range, format!("`{name}` assigned here"))
            .with_note(format!(
                "a pause splits `{owner_name}` into continuations with their own copy of `{name}`; after a resume, {what} would keep the value it captured"
            ))
            .with_help(format!(
                "bind the value when the function is created, with a parameter default (`{name}={name}`), or assign `{name}` only before creating it"
            )),
        );
    }
}

/// `nonlocal` writes, from nested functions, to variables of a function that can pause.
fn nonlocal_writes(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let scopes = &ctx.analysis.scopes;
    for id in scopes.function_ids() {
        let function = scopes.function(id);
        if ctx.analysis.can_pause.function_can_pause(id) {
            continue; // reported as K023: a pausing function cannot write nonlocals at all
        }
        for (name, range) in &function.declared_writes {
            let Some(declaration) = function.nonlocal_decls.get(name) else {
                continue;
            };
            let Resolved::Bound(ScopeId::Function(owner), _) =
                scopes.resolve(function.parent, name)
            else {
                continue;
            };
            let owner_fn = scopes.function(owner);
            if !ctx.analysis.can_pause.function_can_pause(owner) || owner_fn.kappa_ignore {
                continue;
            }
            let owner_name = &owner_fn.qualname;
            out.push(
                Diagnostic::new(
                    Code::CapturedVariableReassigned,
                    format!(
                        "`{}` writes `{name}` of `{owner_name}` with `nonlocal`, but `{owner_name}` can pause",
                        function.qualname
                    ),
                    Label::new(*range, format!("assigns nonlocal `{name}`")),
                )
                .with_secondary(*declaration, "declared nonlocal here")
                .with_note(format!(
                    "a pause splits `{owner_name}` into continuations with their own copy of `{name}`; after a resume, writes through the nested function would not reach it"
                ))
                .with_help(format!(
                    "return the new value instead (`{name} = f({name}, ...)`), or keep it in a list or dict that both functions use"
                )),
            );
        }
    }
}

/// A variable binding of the pausing function, with the loops around it.
struct Store {
    name: String,
    range: TextRange,
    loops: Vec<TextRange>,
}

/// A function or lambda defined directly in the pausing function's body.
struct Nested {
    range: TextRange,
}

/// The pausing function's own bindings and nested functions (not looking into nested scopes).
#[derive(Default)]
struct Body {
    stores: Vec<Store>,
    nested: Vec<Nested>,
    loops: Vec<TextRange>,
}

impl Body {
    fn store(&mut self, name: &str, range: TextRange) {
        self.stores.push(Store {
            name: name.to_owned(),
            range,
            loops: self.loops.clone(),
        });
    }
}

impl<'a> Visitor<'a> for Body {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(def) => {
                crate::analyze::names::walk_def_header(self, def);
                self.nested.push(Nested { range: def.range });
                self.store(def.name.as_str(), def.name.range);
            }
            Stmt::ClassDef(class_def) => self.store(class_def.name.as_str(), class_def.name.range),
            Stmt::For(_) | Stmt::While(_) => {
                self.loops.push(stmt.range());
                visitor::walk_stmt(self, stmt);
                self.loops.pop();
            }
            Stmt::Import(ast::StmtImport { names, .. })
            | Stmt::ImportFrom(ast::StmtImportFrom { names, .. }) => {
                for alias in names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                    let name = bound.as_str().split('.').next().unwrap_or_default();
                    self.store(name, alias.range);
                }
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Name(name) if matches!(name.ctx, ExprContext::Store | ExprContext::Del) => {
                self.store(name.id.as_str(), name.range);
            }
            Expr::Lambda(lambda) => {
                if let Some(parameters) = &lambda.parameters {
                    for p in parameters.iter_non_variadic_params() {
                        if let Some(default) = &p.default {
                            self.visit_expr(default);
                        }
                    }
                }
                self.nested.push(Nested {
                    range: lambda.range,
                });
            }
            // Comprehension variables are the comprehension's own; lambdas inside still count.
            Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
                let mut inner = Body::default();
                visitor::walk_expr(&mut inner, expr);
                self.nested.extend(inner.nested);
            }
            _ => visitor::walk_expr(self, expr),
        }
    }

    fn visit_except_handler(&mut self, handler: &'a ast::ExceptHandler) {
        let ast::ExceptHandler::ExceptHandler(h) = handler;
        if let Some(name) = &h.name {
            self.store(name.as_str(), name.range);
        }
        visitor::walk_except_handler(self, handler);
    }
}
