//! Liveness over a pausing function's IR: which local variables are live after each pause
//! point, after each compound node, and at the head of each loop. A real fixpoint over loop
//! back edges, `break` and `continue`; statements without pause points are treated as one
//! conservative block (everything they read is live before them).

use std::collections::BTreeSet;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ExprContext, Stmt};
use rustc_hash::{FxHashMap, FxHashSet};

use super::ir::{Jump, Node, NodeId};
use crate::knowledge::{loop_parts, JumpsLeaving};

pub type Live = BTreeSet<String>;

#[derive(Debug, Default)]
pub struct Liveness {
    /// Live once the pause point's call has returned (its target not yet assigned).
    pub at_pause: FxHashMap<NodeId, Live>,
    /// Live after a node completes.
    pub after: FxHashMap<NodeId, Live>,
    /// Live at a loop's head (before the test or the next item).
    pub head: FxHashMap<NodeId, Live>,
}

#[derive(Clone)]
struct LoopTargets {
    exit: Live,
    next: Live,
}

/// Computes liveness; only names in `locals` (the function's own variables and the variables
/// the lowering made) are ever live.
pub fn compute(body: &[Node<'_>], locals: &FxHashSet<String>, end: &Live) -> Liveness {
    let mut analysis = LivenessPass {
        locals,
        result: Liveness::default(),
    };
    analysis.block(body, end.clone(), None);
    analysis.result
}

struct LivenessPass<'l> {
    locals: &'l FxHashSet<String>,
    result: Liveness,
}

impl LivenessPass<'_> {
    fn keep<'n>(&self, names: impl IntoIterator<Item = &'n String>) -> Live {
        names
            .into_iter()
            .filter(|n| self.locals.contains(*n))
            .cloned()
            .collect()
    }

    fn block(&mut self, nodes: &[Node<'_>], out: Live, targets: Option<&LoopTargets>) -> Live {
        let mut live = out;
        for node in nodes.iter().rev() {
            live = self.node(node, live, targets);
        }
        live
    }

    fn node(&mut self, node: &Node<'_>, out: Live, targets: Option<&LoopTargets>) -> Live {
        match node {
            Node::Plain(stmt) => self.plain(stmt, out, targets),
            Node::Try {
                id,
                body,
                handlers,
                orelse,
                finalbody,
                ..
            } => {
                self.result.after.insert(*id, out.clone());
                // `finally` runs after every path: a normal end, or an exception on its way out.
                let after_finally = self.block(finalbody, out.clone(), targets);
                let unwinding = self.block(finalbody, Live::new(), targets);
                let after_body = self.block(orelse, after_finally.clone(), targets);
                // An exception anywhere in the body goes to a handler.
                let mut exceptional = unwinding.clone();
                for handler in handlers {
                    let mut live = self.block(&handler.body, after_finally.clone(), targets);
                    if let Some(name) = &handler.name {
                        live.remove(name);
                    }
                    // A handler that pauses needs its exception to re-enter itself on resume.
                    let mut ids = Vec::new();
                    pause_ids(&handler.body, &mut ids);
                    for pause in ids {
                        if let Some(set) = self.result.at_pause.get_mut(&pause) {
                            set.insert(handler.var.clone());
                        }
                    }
                    exceptional.extend(live);
                }
                // Whatever leaves a handler or the `else` block other than by falling through
                // (an exception, `return`, `raise`, `break`, `continue`) runs the `finally`
                // first: what it reads is live at every pause point there.
                let mut ids = Vec::new();
                pause_ids(orelse, &mut ids);
                for handler in handlers {
                    pause_ids(&handler.body, &mut ids);
                }
                for pause in ids {
                    if let Some(set) = self.result.at_pause.get_mut(&pause) {
                        set.extend(unwinding.iter().cloned());
                    }
                }
                let mut live = self.block(body, after_body, targets);
                let mut ids = Vec::new();
                pause_ids(body, &mut ids);
                for pause in ids {
                    if let Some(set) = self.result.at_pause.get_mut(&pause) {
                        set.extend(exceptional.iter().cloned());
                    }
                }
                live.extend(exceptional);
                live
            }
            Node::Line { code, returned, .. } => {
                let mut live = if returned.is_some() { Live::new() } else { out };
                for def in &code.defs {
                    live.remove(def);
                }
                live.extend(self.keep(&code.uses));
                live
            }
            Node::Jump { jump, .. } => match (jump, targets) {
                (Jump::Break, Some(t)) => t.exit.clone(),
                (Jump::Continue, Some(t)) => t.next.clone(),
                (_, None) => Live::new(),
            },
            Node::Pause {
                id, target, call, ..
            } => {
                self.result.after.insert(*id, out.clone());
                let mut after_call = out;
                if let Some(target) = target {
                    for def in &target.defs {
                        after_call.remove(def);
                    }
                    after_call.extend(self.keep(&target.uses));
                }
                self.result.at_pause.insert(*id, after_call.clone());
                let mut live = after_call;
                live.extend(self.keep(&call.uses));
                live
            }
            Node::If {
                id,
                test,
                body,
                orelse,
                ..
            } => {
                self.result.after.insert(*id, out.clone());
                let mut live = self.block(body, out.clone(), targets);
                live.extend(self.block(orelse, out, targets));
                live.extend(self.keep(&test.uses));
                live
            }
            Node::While {
                id,
                test,
                body,
                orelse,
                ..
            } => {
                self.result.after.insert(*id, out.clone());
                // When the test fails the `else` block runs; `break` skips it.
                let exhausted = self.block(orelse, out.clone(), targets);
                let mut head: Live = self.keep(&test.uses);
                head.extend(exhausted.iter().cloned());
                loop {
                    let loop_targets = LoopTargets {
                        exit: out.clone(),
                        next: head.clone(),
                    };
                    let mut new_head = self.block(body, head.clone(), Some(&loop_targets));
                    new_head.extend(self.keep(&test.uses));
                    new_head.extend(exhausted.iter().cloned());
                    if new_head == head {
                        break;
                    }
                    head = new_head;
                }
                self.result.head.insert(*id, head.clone());
                head
            }
            Node::For {
                id,
                target,
                iter,
                iterator_var,
                body,
                orelse,
                ..
            } => {
                self.result.after.insert(*id, out.clone());
                let exhausted = self.block(orelse, out.clone(), targets);
                let mut head: Live = exhausted.clone();
                head.insert(iterator_var.clone());
                loop {
                    let loop_targets = LoopTargets {
                        exit: out.clone(),
                        next: head.clone(),
                    };
                    let mut body_live = self.block(body, head.clone(), Some(&loop_targets));
                    for def in &target.defs {
                        body_live.remove(def);
                    }
                    body_live.extend(self.keep(&target.uses));
                    let mut new_head = body_live;
                    new_head.extend(exhausted.iter().cloned());
                    new_head.insert(iterator_var.clone());
                    if new_head == head {
                        break;
                    }
                    head = new_head;
                }
                self.result.head.insert(*id, head.clone());
                let mut live = head;
                live.remove(iterator_var);
                live.extend(self.keep(&iter.uses));
                live
            }
        }
    }

    /// A statement without pause points.
    fn plain(&mut self, stmt: &Stmt, out: Live, targets: Option<&LoopTargets>) -> Live {
        let mut names = StatementNames::default();
        names.visit_stmt(stmt);
        let jumps_out = || JumpsLeaving::of(stmt).leaves_loop();
        match stmt {
            Stmt::Return(_) | Stmt::Raise(_) => self.keep(&names.loads),
            Stmt::Break(_) => targets.map(|t| t.exit.clone()).unwrap_or_default(),
            Stmt::Continue(_) => targets.map(|t| t.next.clone()).unwrap_or_default(),
            Stmt::With(with) => {
                // As the conservative case below, except that the names bound by `as` are
                // assigned before the body runs: their values before the `with` are dead
                // (`with open(p) as f` in a loop that pauses does not keep the last file).
                let mut live = out;
                live.extend(self.keep(&names.loads));
                if let Some(t) = targets {
                    if jumps_out() {
                        live.extend(t.exit.iter().cloned());
                        live.extend(t.next.iter().cloned());
                    }
                }
                for item in &with.items {
                    if let Some(Expr::Name(name)) = item.optional_vars.as_deref() {
                        live.remove(name.id.as_str());
                    }
                }
                for item in &with.items {
                    let mut context = StatementNames::default();
                    context.visit_expr(&item.context_expr);
                    live.extend(self.keep(&context.loads));
                }
                live
            }
            Stmt::If(_) | Stmt::For(_) | Stmt::While(_) | Stmt::Try(_) | Stmt::Match(_) => {
                // Conservative: what it reads, what is live after it, and what is live where
                // its `break`/`continue` would go.
                let mut live = out;
                live.extend(self.keep(&names.loads));
                if let Some(t) = targets {
                    if jumps_out() {
                        live.extend(t.exit.iter().cloned());
                        live.extend(t.next.iter().cloned());
                    }
                }
                live
            }
            _ => {
                let mut live = out;
                for def in &names.stores {
                    live.remove(def);
                }
                live.extend(self.keep(&names.loads));
                live
            }
        }
    }
}

/// The ids of every pause point in `nodes`, at any depth.
pub fn pause_ids(nodes: &[Node<'_>], out: &mut Vec<NodeId>) {
    for_each_pause(nodes, &mut |node| {
        if let Node::Pause { id, .. } = node {
            out.push(*id);
        }
    });
}

/// Calls `f` on every pause point (`Node::Pause`) in `nodes`, at any depth, in order.
pub fn for_each_pause<'n, 'a>(nodes: &'n [Node<'a>], f: &mut impl FnMut(&'n Node<'a>)) {
    for node in nodes {
        if let Node::Pause { .. } = node {
            f(node);
        }
        for block in node.blocks() {
            for_each_pause(block, f);
        }
    }
}

/// Names read and bound by a statement.
///
/// Names bound inside nested scopes (function bodies, lambdas, comprehensions, class bodies)
/// are not the function's own: they count as reads only, which keeps liveness conservative.
#[derive(Default)]
struct StatementNames {
    loads: Vec<String>,
    stores: Vec<String>,
    nested_scopes: u32,
}

impl StatementNames {
    fn store(&mut self, name: String) {
        if self.nested_scopes == 0 {
            self.stores.push(name);
        }
    }
}

impl<'a> Visitor<'a> for StatementNames {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(def) => {
                self.store(def.name.id.to_string());
                crate::analyze::names::walk_def_header(self, def);
                // Free variables of the body are read when it runs: count every name it reads.
                self.nested_scopes += 1;
                visitor::walk_body(self, &def.body);
                self.nested_scopes -= 1;
            }
            Stmt::ClassDef(class_def) => {
                self.store(class_def.name.id.to_string());
                self.nested_scopes += 1;
                visitor::walk_stmt(self, stmt);
                self.nested_scopes -= 1;
            }
            Stmt::For(_) | Stmt::While(_) => {
                if let Some((exprs, body, orelse)) = loop_parts(stmt) {
                    for expr in exprs {
                        self.visit_expr(expr);
                    }
                    self.visit_body(body);
                    self.visit_body(orelse);
                }
            }
            // A nested function's `nonlocal x` needs `x` bound in this function when the
            // function is defined (or the module does not compile): a read.
            Stmt::Nonlocal(nonlocal) => {
                self.loads
                    .extend(nonlocal.names.iter().map(|name| name.id.to_string()));
            }
            Stmt::AugAssign(assign) => {
                if let Expr::Name(name) = &*assign.target {
                    self.loads.push(name.id.to_string());
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let bound = alias.asname.as_ref().map_or_else(
                        || alias.name.id.split('.').next().unwrap_or("").to_owned(),
                        |a| a.id.to_string(),
                    );
                    self.store(bound);
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                    self.store(bound.id.to_string());
                }
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Name(name) = expr {
            match name.ctx {
                ExprContext::Load => self.loads.push(name.id.to_string()),
                ExprContext::Store => self.store(name.id.to_string()),
                // `del x` needs `x` bound (it reads the binding), then unbinds it.
                ExprContext::Del => {
                    self.loads.push(name.id.to_string());
                    self.store(name.id.to_string());
                }
                ExprContext::Invalid => {}
            }
        }
        let nested = matches!(
            expr,
            Expr::Lambda(_)
                | Expr::ListComp(_)
                | Expr::SetComp(_)
                | Expr::DictComp(_)
                | Expr::Generator(_)
        );
        self.nested_scopes += u32::from(nested);
        visitor::walk_expr(self, expr);
        self.nested_scopes -= u32::from(nested);
    }

    fn visit_except_handler(&mut self, handler: &'a ruff_python_ast::ExceptHandler) {
        let ruff_python_ast::ExceptHandler::ExceptHandler(h) = handler;
        if let Some(name) = &h.name {
            self.store(name.id.to_string());
        }
        visitor::walk_except_handler(self, handler);
    }
}
