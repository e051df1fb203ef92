//! Continuations: for each pause point, the function that resumes there with the pause's outcome
//! and runs the rest of the enclosing blocks; for each compound statement and loop, functions
//! for what follows it and for the next iterations, which continuations tail-call.

use ruff_python_ast::Stmt;
use ruff_text_size::TextSize;

use super::{BlockEnd, FunctionEmitter, Kind, LoopTarget, Rewrite};
use crate::transform::ir::{Node, NodeId};
use crate::transform::liveness::Live;

impl FunctionEmitter<'_, '_, '_> {
    /// The continuation functions, at `depth`.
    pub fn emit_continuations(&mut self, body: &[Node<'_>], depth: usize) {
        self.continuations(body, depth, BlockEnd::FunctionBody, None);
    }

    /// The continuations of the pause points inside a `try` node (at any depth): each rebuilds
    /// the `try` around the rest of the code from its pause point (inlined), so that handlers
    /// and `finally` are in force again, then goes on after the `try`.
    pub(super) fn try_continuations(
        &mut self,
        try_node: &Node<'_>,
        depth: usize,
        loop_id: Option<NodeId>,
    ) {
        let Some(try_id) = try_node.id() else { return };
        let mut paths = Vec::new();
        pause_paths(std::slice::from_ref(try_node), &mut Vec::new(), &mut paths);
        for path in paths {
            let Some(Node::Pause {
                id,
                target,
                origin,
                resume_point,
                ..
            }) = resolve_path(std::slice::from_ref(try_node), &path)
            else {
                continue;
            };
            let at = self.origin(*origin);
            let live = self.liveness.at_pause.get(id).cloned().unwrap_or_default();
            self.function_header(depth, Kind::Resume, *id, "_kappa_o, _kappa_v", at);
            self.bind(&live, depth + 1, at);
            let assign = match target {
                Some(target) => format!("{} = _kappa_o.get()", target.text),
                None => "_kappa_o.get()".to_owned(),
            };
            self.open_one_shot(depth + 1, at);
            let rewrite = Rewrite {
                moved_loop: if loop_id.is_some() {
                    LoopTarget::LeaveTry
                } else {
                    LoopTarget::Syntactic
                },
                in_init_continuation: self.names.plan.is_init,
            };
            self.inline(
                std::slice::from_ref(try_node),
                &path,
                depth + 2,
                rewrite,
                &assign,
                false,
            );
            self.close_one_shot(depth + 1, at);
            if let Some(loop_id) = loop_id {
                self.dispatch_jump(loop_id, depth + 1, at);
            }
            let tail = self.names.tail_call(Kind::Rest, try_id);
            self.out.line(depth + 1, &tail, at);
            let point = self.resume_point(*resume_point, *origin, *id, live);
            self.resume_points.push(point);
        }
    }

    /// Emits, inline, the rest of `nodes[path[0]]` from the pause point `path` leads to, then
    /// the rest of `nodes` in normal form. `assign` gives the pause point its outcome. With
    /// `only_rest`, the nodes after `path[0]` are not emitted (the caller does).
    pub(super) fn inline(
        &mut self,
        nodes: &[Node<'_>],
        path: &[PathStep],
        depth: usize,
        rewrite: Rewrite,
        assign: &str,
        only_rest: bool,
    ) {
        let Some((step, rest)) = path.split_first() else {
            return;
        };
        let node = &nodes[step.index];
        let at = self.origin(Node::origin(node));
        match (node, step.block) {
            (Node::Pause { .. }, _) => self.out.line(depth, assign, at),
            (Node::If { body, orelse, .. }, block) => {
                let branch = if block == 0 { body } else { orelse };
                self.inline(branch, rest, depth, rewrite, assign, false);
            }
            (
                Node::For {
                    id,
                    target,
                    iterator_var,
                    body,
                    orelse,
                    ..
                },
                0,
            ) => {
                self.inline_iteration(*id, body, rest, depth, rewrite, assign, at);
                self.for_loop(target, iterator_var, body, orelse, depth + 1, rewrite, at);
            }
            (
                Node::While {
                    id,
                    test,
                    body,
                    orelse,
                    ..
                },
                0,
            ) => {
                self.inline_iteration(*id, body, rest, depth, rewrite, assign, at);
                self.while_loop(test, body, orelse, depth + 1, rewrite, at);
            }
            (Node::For { orelse, .. } | Node::While { orelse, .. }, _) => {
                self.inline(orelse, rest, depth, rewrite, assign, false);
            }
            (
                Node::Try {
                    body,
                    handlers,
                    orelse,
                    finalbody,
                    ..
                },
                block,
            ) => {
                if block == 0 {
                    self.out.line(depth, "try:", at);
                    self.inline(body, rest, depth + 1, rewrite, assign, false);
                    self.try_tail(handlers, orelse, finalbody, depth, rewrite, at);
                } else if block <= handlers.len() {
                    // Re-enter the handler with its exception active again.
                    let handler = &handlers[block - 1];
                    let inner_depth = if finalbody.is_empty() {
                        depth
                    } else {
                        depth + 1
                    };
                    if !finalbody.is_empty() {
                        self.out.line(depth, "try:", at);
                    }
                    self.out.line(inner_depth, "try:", at);
                    self.out
                        .line(inner_depth + 1, &format!("raise {}", handler.var), at);
                    self.out.line(
                        inner_depth,
                        &format!("except BaseException as {}:", handler.var),
                        at,
                    );
                    if let Some(name) = &handler.name {
                        self.out
                            .line(inner_depth + 1, &format!("{name} = {}", handler.var), at);
                    }
                    self.inline(&handler.body, rest, inner_depth + 1, rewrite, assign, false);
                    if !finalbody.is_empty() {
                        self.out.line(depth, "except _kappa_rt.Unwind:", at);
                        self.out.line(depth + 1, "raise", at);
                        self.finally(finalbody, depth, rewrite, at);
                    }
                } else if finalbody.is_empty() {
                    self.inline(orelse, rest, depth, rewrite, assign, false);
                } else {
                    self.out.line(depth, "try:", at);
                    self.inline(orelse, rest, depth + 1, rewrite, assign, false);
                    self.out.line(depth, "except _kappa_rt.Unwind:", at);
                    self.out.line(depth + 1, "raise", at);
                    self.finally(finalbody, depth, rewrite, at);
                }
            }
            _ => {}
        }
        if !only_rest {
            for node in &nodes[step.index + 1..] {
                self.node(node, depth, rewrite);
                if ends_control_flow(node) {
                    break;
                }
            }
        }
    }

    /// The rest of a loop's interrupted iteration, inside a one-shot loop (its `continue` ends
    /// the iteration, its `break` also sets a flag), then `if not <flag>:` for the caller to
    /// put the remaining iterations under.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn inline_iteration(
        &mut self,
        id: NodeId,
        body: &[Node<'_>],
        path: &[PathStep],
        depth: usize,
        rewrite: Rewrite,
        assign: &str,
        at: TextSize,
    ) {
        // `_kappa_broke` is cleared by the loop's `else`, which runs unless a `break` really
        // left it: one cancelled by a `continue` in a `finally` (or by an exception) does not.
        self.out
            .line(depth, &format!("_kappa_broke{id} = True"), at);
        self.out
            .line(depth, &format!("for _kappa_once{id} in (0,):"), at);
        let inner = Rewrite {
            moved_loop: LoopTarget::InlineIteration,
            ..rewrite
        };
        self.inline(body, path, depth + 1, inner, assign, false);
        self.out.line(depth, "else:", at);
        self.out
            .line(depth + 1, &format!("_kappa_broke{id} = False"), at);
        self.out
            .line(depth, &format!("if not _kappa_broke{id}:"), at);
    }

    /// Emits the continuation functions of every node in `nodes` (recursively).
    pub(super) fn continuations(
        &mut self,
        nodes: &[Node<'_>],
        depth: usize,
        end: BlockEnd,
        loop_id: Option<NodeId>,
    ) {
        for (index, node) in nodes.iter().enumerate() {
            let Some(id) = node.id() else { continue };
            let at = self.origin(Node::origin(node));
            let rewrite = Rewrite {
                moved_loop: loop_id.map_or(LoopTarget::Syntactic, LoopTarget::Segment),
                in_init_continuation: self.names.plan.is_init,
            };
            // The rest of the block after this node.
            let after = self.liveness.after.get(&id).cloned().unwrap_or_default();
            self.function_header(depth, Kind::Rest, id, "_kappa_v", at);
            self.bind(&after, depth + 1, at);
            self.rest(nodes, index, depth + 1, end, rewrite);
            match node {
                Node::Pause {
                    target,
                    origin,
                    resume_point,
                    ..
                } => {
                    let live = self.liveness.at_pause.get(&id).cloned().unwrap_or_default();
                    self.function_header(depth, Kind::Resume, id, "_kappa_o, _kappa_v", at);
                    self.bind(&live, depth + 1, at);
                    let assign = match target {
                        Some(target) => format!("{} = _kappa_o.get()", target.text),
                        None => "_kappa_o.get()".to_owned(),
                    };
                    self.out.line(depth + 1, &assign, at);
                    let tail = self.names.tail_call(Kind::Rest, id);
                    self.out.line(depth + 1, &tail, at);
                    let point = self.resume_point(*resume_point, *origin, id, live);
                    self.resume_points.push(point);
                }
                Node::If { body, orelse, .. } => {
                    self.continuations(body, depth, BlockEnd::After(id), loop_id);
                    self.continuations(orelse, depth, BlockEnd::After(id), loop_id);
                }
                Node::Try { .. } => self.try_continuations(node, depth, loop_id),
                Node::While {
                    test, body, orelse, ..
                } => {
                    let head = self.liveness.head.get(&id).cloned().unwrap_or_default();
                    self.function_header(depth, Kind::NextIteration, id, "_kappa_v", at);
                    self.bind(&head, depth + 1, at);
                    self.while_loop(test, body, orelse, depth + 1, rewrite, at);
                    let tail = self.names.tail_call(Kind::Rest, id);
                    self.out.line(depth + 1, &tail, at);
                    self.continuations(body, depth, BlockEnd::LoopNext(id), Some(id));
                    // `break`/`continue` in the `else` block belong to the loop around this one.
                    self.continuations(orelse, depth, BlockEnd::After(id), loop_id);
                }
                Node::For {
                    target,
                    iterator_var,
                    body,
                    orelse,
                    ..
                } => {
                    let head = self.liveness.head.get(&id).cloned().unwrap_or_default();
                    self.function_header(depth, Kind::NextIteration, id, "_kappa_v", at);
                    self.bind(&head, depth + 1, at);
                    self.for_loop(target, iterator_var, body, orelse, depth + 1, rewrite, at);
                    let tail = self.names.tail_call(Kind::Rest, id);
                    self.out.line(depth + 1, &tail, at);
                    self.continuations(body, depth, BlockEnd::LoopNext(id), Some(id));
                    self.continuations(orelse, depth, BlockEnd::After(id), loop_id);
                }
                _ => {}
            }
        }
    }

    /// The code after node `index` of a block: up to and including the next node that can
    /// pause, then a tail call to that node's rest; or the block's end.
    pub(super) fn rest(
        &mut self,
        nodes: &[Node<'_>],
        index: usize,
        depth: usize,
        end: BlockEnd,
        rewrite: Rewrite,
    ) {
        for node in &nodes[index + 1..] {
            self.node(node, depth, rewrite);
            if let Some(next) = node.id() {
                let tail = self.names.tail_call(Kind::Rest, next);
                self.out.line(depth, &tail, self.origin(Node::origin(node)));
                return;
            }
            if ends_control_flow(node) {
                return;
            }
        }
        let at = self.names.plan.def.range.end();
        let text = match end {
            BlockEnd::FunctionBody if self.names.plan.is_init => self.init_return(),
            BlockEnd::FunctionBody => "return None".to_owned(),
            BlockEnd::After(id) => self.names.tail_call(Kind::Rest, id),
            BlockEnd::LoopNext(id) => self.names.tail_call(Kind::NextIteration, id),
        };
        self.out.line(depth, &text, at);
    }
}

/// A node after which nothing in its block runs.
pub(super) fn ends_control_flow(node: &Node<'_>) -> bool {
    match node {
        Node::Line { returned, .. } => returned.is_some(),
        Node::Jump { .. } => true,
        Node::Plain(stmt) => matches!(
            stmt,
            Stmt::Return(_) | Stmt::Raise(_) | Stmt::Break(_) | Stmt::Continue(_)
        ),
        _ => false,
    }
}

/// One step down the IR toward a pause point: a node of a block, and which of its blocks to
/// enter (0: body; for `If`, 1 is `orelse`; for loops, 1 is `else`; for `Try`, 1..=n are the
/// handlers and n + 1 is `else`).
#[derive(Clone, Copy, Debug)]
pub(super) struct PathStep {
    index: usize,
    block: usize,
}

/// The path to every pause point in `nodes`.
pub(super) fn pause_paths(
    nodes: &[Node<'_>],
    prefix: &mut Vec<PathStep>,
    out: &mut Vec<Vec<PathStep>>,
) {
    for (index, node) in nodes.iter().enumerate() {
        if let Node::Pause { .. } = node {
            let mut path = prefix.clone();
            path.push(PathStep { index, block: 0 });
            out.push(path);
            continue;
        }
        for (block, nodes) in node.blocks().into_iter().enumerate() {
            prefix.push(PathStep { index, block });
            pause_paths(nodes, prefix, out);
            prefix.pop();
        }
    }
}

/// The node a path leads to.
pub(super) fn resolve_path<'n, 'a>(
    nodes: &'n [Node<'a>],
    path: &[PathStep],
) -> Option<&'n Node<'a>> {
    let (step, rest) = path.split_first()?;
    let node = nodes.get(step.index)?;
    if rest.is_empty() {
        return Some(node);
    }
    let block = *node.blocks().get(step.block)?;
    resolve_path(block, rest)
}

/// `('a', 'b')` — a tuple of names as a Python literal.
pub(super) fn tuple_literal(names: &Live) -> String {
    match names.len() {
        0 => "()".to_owned(),
        1 => format!("({:?},)", names.iter().next().map_or("", |s| s.as_str())),
        _ => format!(
            "({})",
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
