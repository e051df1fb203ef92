//! The normal shape of a pausing function: its own code, with a wrapper at each pause point that
//! saves the live variables when a pause unwinds through it.

use ruff_python_ast::Stmt;
use ruff_text_size::{Ranged, TextSize};

use super::continuations::tuple_literal;
use super::{trim_header, FunctionEmitter, Kind, LoopTarget, Rewrite};
use crate::transform::ir::{
    nodes_leave_loop, CompilerVariable, Handler, Jump, Node, NodeId, Snippet,
};

impl FunctionEmitter<'_, '_, '_> {
    /// The function in its normal shape (a wrapper at each pause point), at `depth`.
    pub fn emit_normal(&mut self, body: &[Node<'_>], depth: usize) {
        let def = self.names.plan.def;
        let header_end = def
            .body
            .first()
            .map_or(def.range.end(), |s| s.range().start());
        let header = trim_header(&self.out.file.text, def.range.start(), header_end);
        self.out.verbatim(header, depth, &[]);
        let normal = Rewrite {
            moved_loop: LoopTarget::Syntactic,
            in_init_continuation: false,
        };
        self.block(body, depth + 1, normal);
    }

    /// A block in normal form.
    pub(super) fn block(&mut self, nodes: &[Node<'_>], depth: usize, rewrite: Rewrite) {
        if nodes.is_empty() {
            self.out
                .line(depth, "pass", self.names.plan.def.range.start());
        }
        let mut index = 0;
        while index < nodes.len() {
            if let Some(fused) = self.fused_pause(&nodes[index], nodes.get(index + 1), rewrite) {
                let Node::Pause { id, origin, .. } = &nodes[index] else {
                    unreachable!("fused_pause accepts pause points only")
                };
                self.pause_wrapper(*id, &fused, depth, self.origin(*origin));
                index += 2;
                continue;
            }
            self.node(&nodes[index], depth, rewrite);
            index += 1;
        }
    }

    /// A pause point whose result goes to a temporary read once by the next line
    /// (`_kappa_t1 = f(x)` then `total += _kappa_t1 % 7`) is emitted as that line with the call
    /// in place (`total += f(x) % 7`), inside the pause point's wrapper: the same evaluation
    /// order (everything the line evaluates before the call is a constant, a local or a spilled
    /// temporary), one store and one load fewer on the path that does not pause. The
    /// continuation still assigns the temporary and runs the line.
    pub(super) fn fused_pause(
        &self,
        node: &Node<'_>,
        next: Option<&Node<'_>>,
        rewrite: Rewrite,
    ) -> Option<String> {
        let (
            Node::Pause {
                target: Some(target),
                call,
                ..
            },
            Some(Node::Line { code, returned, .. }),
        ) = (node, next)
        else {
            return None;
        };
        let temp = target.text.as_str();
        let is_temporary = matches!(
            self.names.plan.variables.get(temp),
            Some(CompilerVariable::Temporary)
        );
        if !is_temporary || (returned.is_some() && rewrite.in_init_continuation) {
            return None;
        }
        let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let mut uses = code.text.match_indices(temp).filter(|(at, _)| {
            let before = code.text[..*at].chars().next_back();
            let after = code.text[at + temp.len()..].chars().next();
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        });
        let (at, _) = uses.next()?;
        if uses.next().is_some() {
            return None;
        }
        Some(format!(
            "{}({}){}",
            &code.text[..at],
            call.text,
            &code.text[at + temp.len()..]
        ))
    }

    /// `try: <statement> except Unwind: push the continuation of pause point `id`; raise`.
    pub(super) fn pause_wrapper(
        &mut self,
        id: NodeId,
        statement: &str,
        depth: usize,
        at: TextSize,
    ) {
        self.out.line(depth, "try:", at);
        self.out.line(depth + 1, statement, at);
        self.out
            .line(depth, "except _kappa_rt.Unwind as _kappa_u:", at);
        let live = self.liveness.at_pause.get(&id).cloned().unwrap_or_default();
        let receiver = self
            .names
            .plan
            .receiver
            .as_ref()
            .map(|r| format!(", {r}"))
            .unwrap_or_default();
        let push = format!(
            "_kappa_u.push({}, _kappa_rt.live(locals(), {}){receiver})",
            self.names.reference(Kind::Resume, id),
            tuple_literal(&live)
        );
        self.out.line(depth + 1, &push, at);
        self.out.line(depth + 1, "raise", at);
    }

    pub(super) fn node(&mut self, node: &Node<'_>, depth: usize, rewrite: Rewrite) {
        match node {
            Node::Plain(stmt) => self.plain(stmt, depth, rewrite),
            Node::Line {
                code,
                returned,
                origin,
            } => {
                let text = if returned.is_some() && rewrite.in_init_continuation {
                    self.init_return()
                } else {
                    code.text.clone()
                };
                self.out.line(depth, &text, self.origin(*origin));
            }
            Node::Jump { jump, origin } => {
                let text = self.jump_text(*jump, rewrite);
                self.out.line(depth, &text, self.origin(*origin));
            }
            Node::Pause {
                id,
                target,
                call,
                origin,
                ..
            } => {
                let statement = match target {
                    Some(target) => format!("{} = {}", target.text, call.text),
                    None => call.text.clone(),
                };
                self.pause_wrapper(*id, &statement, depth, self.origin(*origin));
            }
            Node::Try {
                body,
                handlers,
                orelse,
                finalbody,
                origin,
                ..
            } => {
                let at = self.origin(*origin);
                // As for a plain `try`: a jump that becomes a tail call must leave the `try`
                // first, or the rest of the loop would run under its handlers and before its
                // `finally`.
                let leave_first = match rewrite.moved_loop {
                    LoopTarget::Segment(loop_id)
                        if nodes_leave_loop(std::slice::from_ref(node)) =>
                    {
                        Some(loop_id)
                    }
                    _ => None,
                };
                let (depth, rewrite) = match leave_first {
                    Some(_) => {
                        self.open_one_shot(depth, at);
                        let jumps = Rewrite {
                            moved_loop: LoopTarget::LeaveTry,
                            ..rewrite
                        };
                        (depth + 1, jumps)
                    }
                    None => (depth, rewrite),
                };
                self.out.line(depth, "try:", at);
                self.block(body, depth + 1, rewrite);
                self.try_tail(handlers, orelse, finalbody, depth, rewrite, at);
                if let Some(loop_id) = leave_first {
                    self.close_one_shot(depth - 1, at);
                    self.dispatch_jump(loop_id, depth - 1, at);
                }
            }
            Node::If {
                test,
                body,
                orelse,
                origin,
                ..
            } => {
                let at = self.origin(*origin);
                self.out.line(depth, &format!("if {}:", test.text), at);
                self.block(body, depth + 1, rewrite);
                if !orelse.is_empty() {
                    self.out.line(depth, "else:", at);
                    self.block(orelse, depth + 1, rewrite);
                }
            }
            Node::While {
                test,
                body,
                orelse,
                origin,
                ..
            } => {
                let at = self.origin(*origin);
                self.while_loop(test, body, orelse, depth, rewrite, at);
            }
            Node::For {
                target,
                iter,
                iterator_var,
                body,
                orelse,
                origin,
                ..
            } => {
                let at = self.origin(*origin);
                self.out
                    .line(depth, &format!("{iterator_var} = iter({})", iter.text), at);
                self.for_loop(target, iterator_var, body, orelse, depth, rewrite, at);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_loop(
        &mut self,
        target: &Snippet,
        iterator_var: &str,
        body: &[Node<'_>],
        orelse: &[Node<'_>],
        depth: usize,
        rewrite: Rewrite,
        at: TextSize,
    ) {
        let header = format!("for {} in {iterator_var}:", target.text);
        self.loop_statement(&header, body, orelse, depth, rewrite, at);
    }

    /// Everything of a `try` statement after its body: a first handler that lets pauses
    /// through, the user's handlers (each keeping its exception in a variable, so that a resumed
    /// handler can re-enter itself), `else`, and a `finally` that does not run while a pause
    /// unwinds the stack (it runs once, when the `try` really ends).
    pub(super) fn try_tail(
        &mut self,
        handlers: &[Handler<'_>],
        orelse: &[Node<'_>],
        finalbody: &[Node<'_>],
        depth: usize,
        rewrite: Rewrite,
        at: TextSize,
    ) {
        self.out.line(depth, "except _kappa_rt.Unwind:", at);
        self.out.line(depth + 1, "raise", at);
        for handler in handlers {
            self.handler(handler, depth, rewrite);
        }
        if !orelse.is_empty() {
            self.out.line(depth, "else:", at);
            self.block(orelse, depth + 1, rewrite);
        }
        self.finally(finalbody, depth, rewrite, at);
    }

    pub(super) fn handler(&mut self, handler: &Handler<'_>, depth: usize, rewrite: Rewrite) {
        let at = self.origin(handler.origin);
        self.out.line(
            depth,
            &format!("{} as {}:", handler.header, handler.var),
            at,
        );
        if let Some(name) = &handler.name {
            self.out
                .line(depth + 1, &format!("{name} = {}", handler.var), at);
        }
        self.block(&handler.body, depth + 1, rewrite);
    }

    pub(super) fn finally(
        &mut self,
        finalbody: &[Node<'_>],
        depth: usize,
        rewrite: Rewrite,
        at: TextSize,
    ) {
        if finalbody.is_empty() {
            return;
        }
        self.out.line(depth, "finally:", at);
        self.out
            .line(depth + 1, "if not _kappa_rt.unwinding():", at);
        self.block(finalbody, depth + 2, rewrite);
    }

    /// A `while` loop in its normal shape (the counterpart of `for_loop`).
    pub(super) fn while_loop(
        &mut self,
        test: &Snippet,
        body: &[Node<'_>],
        orelse: &[Node<'_>],
        depth: usize,
        rewrite: Rewrite,
        at: TextSize,
    ) {
        let header = format!("while {}:", test.text);
        self.loop_statement(&header, body, orelse, depth, rewrite, at);
    }

    /// A loop in its normal shape: its header, its body (where `break`/`continue` are its
    /// own), its `else`.
    fn loop_statement(
        &mut self,
        header: &str,
        body: &[Node<'_>],
        orelse: &[Node<'_>],
        depth: usize,
        rewrite: Rewrite,
        at: TextSize,
    ) {
        self.out.line(depth, header, at);
        self.block(
            body,
            depth + 1,
            Rewrite {
                moved_loop: LoopTarget::Syntactic,
                ..rewrite
            },
        );
        self.loop_else(orelse, depth, rewrite, at);
    }

    /// A loop's `else` block (if any): it is outside the loop for `break` and `continue`.
    pub(super) fn loop_else(
        &mut self,
        orelse: &[Node<'_>],
        depth: usize,
        rewrite: Rewrite,
        at: TextSize,
    ) {
        if !orelse.is_empty() {
            self.out.line(depth, "else:", at);
            self.block(orelse, depth + 1, rewrite);
        }
    }

    pub(super) fn init_return(&self) -> String {
        format!(
            "return {}",
            self.names.plan.receiver.as_deref().unwrap_or("None")
        )
    }

    pub(super) fn jump_text(&self, jump: Jump, rewrite: Rewrite) -> String {
        match (jump, rewrite.moved_loop) {
            (Jump::Break, LoopTarget::Syntactic) => "break".to_owned(),
            (Jump::Continue, LoopTarget::Syntactic) => "continue".to_owned(),
            (Jump::Break, LoopTarget::Segment(loop_id)) => {
                self.names.tail_call(Kind::Rest, loop_id)
            }
            (Jump::Continue, LoopTarget::Segment(loop_id)) => {
                self.names.tail_call(Kind::NextIteration, loop_id)
            }
            // A one-shot loop stands for the loop: its own `break`/`continue` leave it, and how
            // it was left is read after it (`close_one_shot`, `inline_iteration`).
            (Jump::Break, LoopTarget::InlineIteration | LoopTarget::LeaveTry) => "break".to_owned(),
            (Jump::Continue, LoopTarget::InlineIteration | LoopTarget::LeaveTry) => {
                "continue".to_owned()
            }
        }
    }

    /// A user statement copied verbatim, with `break`/`continue`/`return` rewritten where the
    /// code has moved out of its loop or into a continuation of `__init__`.
    pub(super) fn plain(&mut self, stmt: &Stmt, depth: usize, rewrite: Rewrite) {
        let finder = crate::knowledge::JumpsLeaving::of(stmt);
        // A tail call made inside a `try` with `finally` (or a `with`) would run the rest of
        // the function before the `finally` (or `__exit__`): leave the statement first, through
        // a one-shot loop, then make the call.
        let leave_first = match rewrite.moved_loop {
            LoopTarget::Segment(loop_id) if finder.leaves_cleanup => Some(loop_id),
            _ => None,
        };
        let jumps = match leave_first {
            Some(_) => Rewrite {
                moved_loop: LoopTarget::LeaveTry,
                ..rewrite
            },
            None => rewrite,
        };
        let mut replacements = Vec::new();
        // Only a tail call needs other text: in a one-shot loop (`LeaveTry`,
        // `InlineIteration`) the user's `break`/`continue` stay as written.
        if let LoopTarget::Segment(_) = jumps.moved_loop {
            for (range, jump) in &finder.jumps {
                replacements.push((*range, self.jump_text(*jump, jumps)));
            }
        }
        if rewrite.in_init_continuation {
            for range in &finder.returns {
                replacements.push((*range, self.init_return()));
            }
        }
        let Some(loop_id) = leave_first else {
            self.out.verbatim(stmt.range(), depth, &replacements);
            return;
        };
        let at = stmt.range().start();
        self.open_one_shot(depth, at);
        self.out.verbatim(stmt.range(), depth + 1, &replacements);
        self.close_one_shot(depth, at);
        self.dispatch_jump(loop_id, depth, at);
    }

    /// Opens a one-shot loop (its body at `depth + 1`) that stands for a loop outside the code
    /// it holds (`LoopTarget::LeaveTry`): that loop's `break` and `continue` become the
    /// one-shot loop's own, so that every `finally` and `__exit__` in between runs (and can
    /// override them, as in Python) before the jump is made, after it.
    pub(super) fn open_one_shot(&mut self, depth: usize, at: TextSize) {
        self.out.line(depth, "_kappa_jump = 'break'", at);
        self.out.line(depth, "for _kappa_once in (0,):", at);
    }

    /// Closes it: `_kappa_jump` is `None` when the body ran to its end, `'continue'` when a
    /// `continue` left it (the `else` runs), and stays `'break'` when a `break` did.
    pub(super) fn close_one_shot(&mut self, depth: usize, at: TextSize) {
        self.out.line(depth + 1, "_kappa_jump = None", at);
        self.out.line(depth + 1, "break", at);
        self.out.line(depth, "else:", at);
        self.out.line(depth + 1, "_kappa_jump = 'continue'", at);
    }

    /// After a one-shot loop left by a jump (`LoopTarget::LeaveTry`): the jump's tail call.
    pub(super) fn dispatch_jump(&mut self, loop_id: NodeId, depth: usize, at: TextSize) {
        let brk = self.names.tail_call(Kind::Rest, loop_id);
        let cont = self.names.tail_call(Kind::NextIteration, loop_id);
        self.out
            .line(depth, &format!("if _kappa_jump == 'break': {brk}"), at);
        self.out
            .line(depth, &format!("if _kappa_jump == 'continue': {cont}"), at);
    }
}
