//! Lowering: a pausing function's body to the IR, flattening pause points out of expressions
//! into temporaries in Python's evaluation order (siblings evaluated earlier are spilled first;
//! `and`/`or`, conditional expressions and comparison chains keep their short-circuiting), and
//! comprehensions that pause into loops with their variables renamed so they do not leak.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

use super::ir::{CompilerVariable, Node, NodeId, Snippet};
use crate::analyze::names::in_expr as name_uses;

mod comprehension;
mod expr;
mod finally;
mod stmt;
mod with;

/// A statement kind or position kappac cannot yet compile with a pause point inside.
#[derive(Debug)]
pub struct Unsupported {
    pub range: TextRange,
    pub what: String,
}

pub struct Lowerer<'s> {
    pub source: &'s str,
    file: &'s crate::source::SourceFile,
    /// Ranges of the calls that are pause points.
    pub pause_calls: &'s FxHashSet<(TextSize, TextSize)>,
    /// Their start offsets, sorted (built once per module).
    pause_starts: &'s [TextSize],
    /// Names declared `global` in the function (not safe from being rebound by a call).
    pub globals: FxHashSet<String>,
    /// Whether a name, used in the function being lowered, is bound there or in the module (and
    /// so is not the builtin of that name). Asked of the analysis; never copied.
    pub shadowed: Box<dyn Fn(&str) -> bool + 's>,
    next_temp: u32,
    next_id: NodeId,
    pub next_resume_point: u32,
    pub unsupported: Vec<Unsupported>,
    /// Comprehension variables renamed in the code being lowered (innermost last).
    renames: Vec<(String, String)>,
    /// Inside the `try` of a pausing `finally`: statements holding `return`, `break` or
    /// `continue` are lowered (not kept verbatim), so that those jumps can be redirected.
    lower_jumps: u32,
    /// Every variable the lowering made, and what it holds (for the manifest).
    pub variables: BTreeMap<String, CompilerVariable>,
}

/// Whether an expression (not looking into nested scopes) contains a pause point.
struct PauseFinder<'s> {
    pause_calls: &'s FxHashSet<(TextSize, TextSize)>,
    found: bool,
}

impl<'a> Visitor<'a> for PauseFinder<'_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.found {
            return;
        }
        match expr {
            Expr::Lambda(_) => {}
            Expr::Call(call)
                if self
                    .pause_calls
                    .contains(&(call.range().start(), call.range().end())) =>
            {
                self.found = true;
            }
            _ => visitor::walk_expr(self, expr),
        }
    }

    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.found {
            return;
        }
        match stmt {
            Stmt::FunctionDef(def) => {
                crate::analyze::names::walk_def_header(self, def);
            }
            Stmt::ClassDef(class_def) => {
                for decorator in &class_def.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                if let Some(arguments) = &class_def.arguments {
                    self.visit_arguments(arguments);
                }
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }
}

fn inside(range: TextRange, replacements: &[(TextRange, String)]) -> bool {
    replacements.iter().any(|(r, _)| r.contains_range(range))
}

impl<'s> Lowerer<'s> {
    pub fn new(
        file: &'s crate::source::SourceFile,
        pause_calls: &'s FxHashSet<(TextSize, TextSize)>,
        pause_starts: &'s [TextSize],
        first_resume_point: u32,
    ) -> Self {
        Lowerer {
            source: &file.text,
            file,
            pause_calls,
            pause_starts,
            globals: FxHashSet::default(),
            shadowed: Box::new(|_| false),
            next_temp: 0,
            next_id: 0,
            next_resume_point: first_resume_point,
            unsupported: Vec::new(),
            renames: Vec::new(),
            lower_jumps: 0,
            variables: BTreeMap::new(),
        }
    }

    /// A variable of kappac's own, recorded with what it holds.
    fn variable(&mut self, name: String, holds: CompilerVariable) -> String {
        self.variables.insert(name.clone(), holds);
        name
    }

    fn line_of(&self, offset: TextSize) -> u32 {
        u32::try_from(self.file.line_of(offset)).unwrap_or(u32::MAX)
    }

    fn temp(&mut self) -> String {
        self.next_temp += 1;
        self.variable(
            format!("_kappa_t{}", self.next_temp),
            CompilerVariable::Temporary,
        )
    }

    fn id(&mut self) -> NodeId {
        self.next_id += 1;
        self.next_id
    }

    fn unsupported(&mut self, range: TextRange, what: impl Into<String>) {
        self.unsupported.push(Unsupported {
            range,
            what: what.into(),
        });
    }

    pub fn is_pause_call(&self, expr: &Expr) -> bool {
        matches!(expr, Expr::Call(call) if self.pause_calls.contains(&(call.range().start(), call.range().end())))
    }

    /// Whether a pause-point call starts inside `range`: a fast, exact "no" for most code.
    fn any_pause_within(&self, range: TextRange) -> bool {
        let first = self
            .pause_starts
            .partition_point(|start| *start < range.start());
        self.pause_starts
            .get(first)
            .is_some_and(|start| *start < range.end())
    }

    /// Whether a node holds a pause point (not counting nested scopes): a fast "no" from the
    /// sorted offsets, else an exact walk.
    fn pauses_in(&self, range: TextRange, walk: impl FnOnce(&mut PauseFinder<'s>)) -> bool {
        if !self.any_pause_within(range) {
            return false;
        }
        let mut finder = PauseFinder {
            pause_calls: self.pause_calls,
            found: false,
        };
        walk(&mut finder);
        finder.found
    }

    pub fn expr_pauses(&self, expr: &Expr) -> bool {
        self.pauses_in(expr.range(), |finder| finder.visit_expr(expr))
    }

    pub fn stmt_pauses(&self, stmt: &Stmt) -> bool {
        self.pauses_in(stmt.range(), |finder| finder.visit_stmt(stmt))
    }

    /// The source of `range` with `replacements` (sub-ranges) substituted.
    fn splice(&self, range: TextRange, replacements: &[(TextRange, String)]) -> String {
        let mut sorted: Vec<&(TextRange, String)> = replacements.iter().collect();
        sorted.sort_by_key(|(r, _)| r.start());
        let mut text = String::new();
        let mut at = range.start();
        for (r, replacement) in sorted {
            if r.start() < at || r.end() > range.end() {
                continue; // nested in an earlier replacement
            }
            text.push_str(&self.source[TextRange::new(at, r.start())]);
            text.push_str(replacement);
            at = r.end();
        }
        text.push_str(&self.source[TextRange::new(at, range.end())]);
        text
    }

    /// Renders an expression with replacements as code: parenthesized when it spans lines.
    /// Names renamed by an enclosing comprehension (`self.renames`) are replaced too, exactly
    /// at their nodes (so also inside f-strings, never inside string literals).
    fn render(
        &self,
        expr: &Expr,
        replacements: &[(TextRange, String)],
        temps: &[String],
    ) -> Snippet {
        let names = name_uses(expr);
        let renamed = |name: String| -> String {
            self.renames
                .iter()
                .rev()
                .find(|(old, _)| *old == name)
                .map_or(name, |(_, new)| new.clone())
        };
        let mut all = replacements.to_vec();
        let mut uses = Vec::new();
        let mut defs = Vec::new();
        for (loads, (name, range)) in names
            .loads
            .into_iter()
            .map(|n| (true, n))
            .chain(names.stores.into_iter().map(|n| (false, n)))
        {
            if inside(range, replacements) {
                continue;
            }
            let new = renamed(name.clone());
            if new != name {
                all.push((range, new.clone()));
            }
            if loads {
                uses.push(new);
            } else {
                defs.push(new);
            }
        }
        let mut text = self.splice(expr.range(), &all);
        // A multi-line expression keeps its lines together; an assignment expression is only
        // an expression in parentheses (`return (y := f())`: its range leaves them out).
        if text.contains('\n') || matches!(expr, Expr::Named(_)) {
            text = format!("({text})");
        }
        uses.extend(temps.iter().cloned());
        Snippet { text, uses, defs }
    }

    fn plain_code(&self, expr: &Expr) -> Snippet {
        self.render(expr, &[], &[])
    }

    fn resume_point(&mut self) -> u32 {
        let point = self.next_resume_point;
        self.next_resume_point += 1;
        point
    }

    fn temp_code(&self, temp: String) -> Snippet {
        Snippet {
            text: temp.clone(),
            uses: vec![temp],
            defs: Vec::new(),
        }
    }

    fn assign_line(&self, target: &str, value: Snippet, origin: TextRange) -> Node<'static> {
        Node::Line {
            code: Snippet {
                text: format!("{target} = {}", value.text),
                uses: value.uses,
                defs: vec![target.to_owned()],
            },
            returned: None,
            origin,
        }
    }
}
