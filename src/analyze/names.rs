//! The names an expression or a block reads and binds, with their ranges, nested scopes
//! included (a free variable of a lambda is read where the lambda runs). Shared by the
//! analyses and the transform.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ExprContext, Stmt, StmtFunctionDef};
use ruff_text_size::TextRange;

#[derive(Default)]
pub struct NameUses {
    pub loads: Vec<(String, TextRange)>,
    /// Assignment targets, walrus targets and `del` targets.
    pub stores: Vec<(String, TextRange)>,
}

impl<'a> Visitor<'a> for NameUses {
    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Name(name) = expr {
            let entry = (name.id.to_string(), name.range);
            match name.ctx {
                ExprContext::Load => self.loads.push(entry),
                ExprContext::Store => self.stores.push(entry),
                // `del x` needs `x` bound (it reads the binding), then unbinds it.
                ExprContext::Del => {
                    self.loads.push(entry.clone());
                    self.stores.push(entry);
                }
                ExprContext::Invalid => {}
            }
        }
        visitor::walk_expr(self, expr);
    }
}

/// The names an expression reads and binds.
pub fn in_expr(expr: &Expr) -> NameUses {
    let mut uses = NameUses::default();
    uses.visit_expr(expr);
    uses
}

/// The names a block of statements reads and binds (as expressions: `def` and `import` names
/// are not among the stores).
pub fn in_body(body: &[Stmt]) -> NameUses {
    let mut uses = NameUses::default();
    visitor::walk_body(&mut uses, body);
    uses
}

/// Visits what a `def` statement evaluates where it stands — its decorators and parameter
/// defaults — but not its body, which runs later, in a scope of its own.
pub fn walk_def_header<'a, V: Visitor<'a>>(visitor: &mut V, def: &'a StmtFunctionDef) {
    for decorator in &def.decorator_list {
        visitor.visit_expr(&decorator.expression);
    }
    for p in def.parameters.iter_non_variadic_params() {
        if let Some(default) = &p.default {
            visitor.visit_expr(default);
        }
    }
}
