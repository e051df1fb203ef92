//! Emission: Python text for the transformed module. Statements that need no change are copied
//! verbatim (re-indented where they move), so their formatting, comments and line numbers
//! survive; pausing functions get wrappers at pause points and continuation functions after
//! them. Every output line records the user's line it came from.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};

use super::ir::{loop_parts, nodes_leave_loop, Code, Handler, Jump, Node, NodeId};
use super::liveness::{Live, Liveness};
use crate::source::SourceFile;

/// The output text and, for each output line, the 1-based source line it came from.
pub struct Output<'s> {
    pub file: &'s SourceFile,
    /// Offsets in the source where a multi-line string token covers a line start.
    string_line_starts: Vec<TextSize>,
    pub unit: String,
    /// Prefixed to generated indentation: the column of the nested function being emitted.
    base: String,
    pub text: String,
    pub line_map: Vec<u32>,
    /// Pausing functions that copied text may contain (nested functions, functions defined in
    /// a block), sorted by position: wherever a copy reaches one, it is emitted transformed.
    inner: &'s [InnerFunction<'s>],
    inner_emitted: Vec<bool>,
    /// The inner functions being emitted (their own header is copied, not spliced).
    inner_active: Vec<usize>,
    /// Inner functions emitted in their normal shape whose continuations are still to come
    /// (at module level, after the current top-level statement).
    pub pending: Vec<usize>,
}

/// A pausing function that is not at the top level of the module or of a top-level class: its
/// normal shape is emitted where its definition is, its continuations at module level.
pub struct InnerFunction<'a> {
    pub plan: FunctionPlan<'a>,
    pub body: Vec<Node<'a>>,
    pub liveness: Liveness,
    /// From the start of its first line (decorators included) to the end of its last.
    pub lines: TextRange,
}

impl<'s> Output<'s> {
    pub fn new(
        file: &'s SourceFile,
        string_line_starts: Vec<TextSize>,
        unit: String,
        inner: &'s [InnerFunction<'s>],
    ) -> Self {
        Output {
            file,
            string_line_starts,
            unit,
            base: String::new(),
            text: String::new(),
            line_map: Vec::new(),
            inner,
            inner_emitted: vec![false; inner.len()],
            inner_active: Vec::new(),
            pending: Vec::new(),
        }
    }

    pub fn indent(&self, depth: usize) -> String {
        let mut indent = self.base.clone();
        indent.push_str(&self.unit.repeat(depth));
        indent
    }

    /// Whether `range` contains an inner function.
    pub fn contains_inner(&self, range: TextRange) -> bool {
        // Sorted by start: the first one starting at or after `range` decides.
        let first = self
            .inner
            .partition_point(|f| f.lines.start() < range.start());
        self.inner
            .get(first)
            .is_some_and(|f| f.lines.start() < range.end())
    }

    /// The inner function whose first line starts at `offset`.
    fn inner_at(&self, offset: TextSize) -> Option<usize> {
        self.inner
            .binary_search_by_key(&offset, |f| f.lines.start())
            .ok()
            .filter(|index| !self.inner_active.contains(index))
    }

    /// Emits an inner function in its normal shape, its `def` line indented by `indent`.
    fn inner_function(&mut self, index: usize, indent: String) {
        let inner = self.inner;
        let function = &inner[index];
        let saved = std::mem::replace(&mut self.base, indent);
        self.inner_active.push(index);
        FunctionEmitter::new(self, &function.plan, &function.liveness)
            .emit_normal(&function.body, 0);
        self.inner_active.pop();
        self.base = saved;
        if !self.inner_emitted[index] {
            self.inner_emitted[index] = true;
            self.pending.push(index);
        }
    }

    /// Emits the continuations of an inner function, at module level; returns its resume points.
    pub fn inner_continuations(&mut self, index: usize) -> Vec<ResumePoint> {
        let inner = self.inner;
        let function = &inner[index];
        let saved = std::mem::take(&mut self.base);
        let mut emitter = FunctionEmitter::new(self, &function.plan, &function.liveness);
        emitter.emit_continuations(&function.body, 0);
        let points = std::mem::take(&mut emitter.resume_points);
        self.base = saved;
        points
    }

    fn origin_line(&self, offset: TextSize) -> u32 {
        self.file.line_of(offset) as u32
    }

    /// Emits generated text at `depth`; its later lines (inside brackets or strings) are raw.
    pub fn line(&mut self, depth: usize, text: &str, origin: TextSize) {
        let origin = self.origin_line(origin);
        let indent = self.indent(depth);
        for (index, line) in text.split('\n').enumerate() {
            if index == 0 {
                self.text.push_str(&indent);
            }
            self.text.push_str(line);
            self.text.push('\n');
            self.line_map.push(origin);
        }
    }

    /// Copies source text exactly (between statements, and statements that do not move),
    /// except inner functions, which are emitted transformed.
    pub fn raw(&mut self, range: TextRange) {
        let mut at = range.start();
        let first = self
            .inner
            .partition_point(|f| f.lines.start() < range.start());
        for index in first..self.inner.len() {
            let lines = self.inner[index].lines;
            if lines.start() >= range.end() {
                break;
            }
            if lines.start() < at || self.inner_active.contains(&index) {
                continue; // inside an inner function already emitted
            }
            self.raw_text(TextRange::new(at, lines.start()));
            let indent_end =
                lines.start() + indent_width(&self.file.text[usize::from(lines.start())..]);
            let indent = self.file.text[TextRange::new(lines.start(), indent_end)].to_owned();
            self.inner_function(index, indent);
            at = lines.end();
        }
        if at < range.end() {
            self.raw_text(TextRange::new(at, range.end()));
        }
    }

    fn raw_text(&mut self, range: TextRange) {
        if range.is_empty() {
            return;
        }
        let text = &self.file.text[range];
        if text.is_empty() {
            return;
        }
        let mut line = self.origin_line(range.start());
        for c in text.chars() {
            self.text.push(c);
            if c == '\n' {
                self.line_map.push(line);
                line += 1;
            }
        }
    }

    /// Ends a partial line started by `raw`.
    pub fn finish_line(&mut self, origin: TextSize) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
            self.line_map.push(self.origin_line(origin));
        }
    }

    fn in_string(&self, offset: TextSize) -> bool {
        self.string_line_starts.binary_search(&offset).is_ok()
    }

    /// Copies a statement (or header) verbatim at `depth`, re-indenting the lines that begin
    /// at its original indentation and replacing the given single-line ranges.
    pub fn verbatim(
        &mut self,
        range: TextRange,
        depth: usize,
        replacements: &[(TextRange, String)],
    ) {
        let file = self.file;
        let source = &file.text;
        let start = usize::from(range.start());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let prefix = &source[line_start..start];
        let original_indent = prefix
            .chars()
            .all(|c| c == ' ' || c == '\t')
            .then(|| prefix.to_owned());
        let new_indent = self.indent(depth);
        let end = usize::from(range.end());
        let mut at = start;
        let mut first = true;
        while at <= end {
            let line_end = source[at..end].find('\n').map_or(end, |i| at + i);
            let mut line = String::new();
            let mut cursor = at;
            let mut sorted: Vec<&(TextRange, String)> = replacements
                .iter()
                .filter(|(r, _)| usize::from(r.start()) >= at && usize::from(r.end()) <= line_end)
                .collect();
            sorted.sort_by_key(|(r, _)| r.start());
            for (r, replacement) in sorted {
                line.push_str(&source[cursor..usize::from(r.start())]);
                line.push_str(replacement);
                cursor = usize::from(r.end());
            }
            line.push_str(&source[cursor..line_end]);
            let offset = TextSize::try_from(at).unwrap_or_default();
            let line_key = if first {
                TextSize::try_from(line_start).unwrap_or_default()
            } else {
                offset
            };
            if let Some(index) = (first || !self.in_string(offset))
                .then(|| self.inner_at(line_key))
                .flatten()
            {
                // An inner function: transformed, at the indentation its line would get.
                let own = &line[..usize::from(indent_width(&line))];
                let indent = match &original_indent {
                    _ if first => new_indent.clone(),
                    Some(indent) if own.starts_with(indent.as_str()) => {
                        format!("{new_indent}{}", &own[indent.len()..])
                    }
                    _ => own.to_owned(),
                };
                self.inner_function(index, indent);
                let after = usize::from(self.inner[index].lines.end());
                if after >= end {
                    break;
                }
                at = after;
                first = false;
                continue;
            }
            if first {
                self.text.push_str(&new_indent);
                self.text.push_str(&line);
            } else if self.in_string(offset) {
                self.text.push_str(&line);
            } else {
                match &original_indent {
                    Some(indent) if line.starts_with(indent.as_str()) => {
                        self.text.push_str(&new_indent);
                        self.text.push_str(&line[indent.len()..]);
                    }
                    _ => self.text.push_str(&line),
                }
            }
            self.text.push('\n');
            self.line_map.push(self.origin_line(offset));
            first = false;
            if line_end >= end {
                break;
            }
            at = line_end + 1;
        }
    }
}

/// Where a pausing function lives, which decides how its continuations are named and called.
pub struct FunctionPlan<'a> {
    /// `handler` or the method name.
    pub name: String,
    /// `C.` for methods of class `C`, empty for module functions.
    pub owner_prefix: String,
    /// The receiver parameter (`self`) of a method.
    pub receiver: Option<String>,
    /// `__init__`: its continuations return the instance, which `C(...)` would have returned.
    pub is_init: bool,
    pub def: &'a ruff_python_ast::StmtFunctionDef,
}

/// A resume point for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ResumePoint {
    pub id: u32,
    pub function: String,
    pub line: u32,
    pub continuation: String,
    pub live: Vec<String>,
}

struct Names<'p> {
    plan: &'p FunctionPlan<'p>,
}

impl Names<'_> {
    fn def_name(&self, kind: char, id: NodeId) -> String {
        format!("_kappa_{}_{kind}{id}", self.plan.name)
    }

    fn reference(&self, kind: char, id: NodeId) -> String {
        format!("{}{}", self.plan.owner_prefix, self.def_name(kind, id))
    }

    /// `name(self, ` or `name(` — the start of a call passing the receiver.
    fn call_prefix(&self, kind: char, id: NodeId) -> String {
        match &self.plan.receiver {
            Some(receiver) => format!("{}({receiver}, ", self.reference(kind, id)),
            None => format!("{}(", self.reference(kind, id)),
        }
    }

    fn params(&self, rest: &str) -> String {
        match &self.plan.receiver {
            Some(receiver) => format!("{receiver}, {rest}"),
            None => rest.to_owned(),
        }
    }

    fn tail_call(&self, kind: char, id: NodeId) -> String {
        format!("return {}locals())", self.call_prefix(kind, id))
    }
}

/// Where the `break`/`continue` of emitted code go when their loop is not syntactically around
/// the code any more.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LoopTarget {
    /// The loop is around the code: leave them as they are.
    Syntactic,
    /// In a rest-of-block function: tail-call the loop's rest (`break`) or next iterations.
    Segment(NodeId),
    /// Resuming an iteration inline, inside a one-shot loop: `continue` ends the iteration,
    /// `break` also skips the remaining iterations (`inline_iteration`).
    InlineIteration,
    /// Inside a one-shot loop around a `try` (rebuilt by a continuation, or left by a tail
    /// call), for a loop outside it: leave the one-shot loop (every `finally` runs); the jump
    /// is made after it (`close_one_shot`, `dispatch_jump`).
    LeaveTry,
}

/// How `break`, `continue` and `return` are written where code has moved out of its loop or
/// into a continuation of `__init__`.
#[derive(Clone, Copy)]
struct Rewrite {
    moved_loop: LoopTarget,
    /// In continuations of `__init__`, `return` gives back the instance.
    in_init_continuation: bool,
}

/// What ends a block when control falls off it.
#[derive(Clone, Copy)]
enum BlockEnd {
    FunctionBody,
    After(NodeId),
    LoopNext(NodeId),
}

pub struct FunctionEmitter<'o, 's, 'p> {
    pub out: &'o mut Output<'s>,
    names: Names<'p>,
    liveness: &'p Liveness,
    pub resume_points: Vec<ResumePoint>,
}

impl<'o, 's, 'p> FunctionEmitter<'o, 's, 'p> {
    pub fn new(
        out: &'o mut Output<'s>,
        plan: &'p FunctionPlan<'p>,
        liveness: &'p Liveness,
    ) -> Self {
        FunctionEmitter {
            out,
            names: Names { plan },
            liveness,
            resume_points: Vec::new(),
        }
    }

    /// Emits the function in its normal shape, then its continuations, at `depth`.
    pub fn emit(&mut self, body: &[Node<'_>], depth: usize) {
        self.emit_normal(body, depth);
        self.emit_continuations(body, depth);
    }

    /// The continuation functions, at `depth`.
    pub fn emit_continuations(&mut self, body: &[Node<'_>], depth: usize) {
        self.continuations(body, depth, BlockEnd::FunctionBody, None);
    }

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

    fn origin(&self, range: TextRange) -> TextSize {
        range.start()
    }

    /// A block in normal form.
    fn block(&mut self, nodes: &[Node<'_>], depth: usize, rewrite: Rewrite) {
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
    fn fused_pause(
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
            Some(Node::Line { code, returns, .. }),
        ) = (node, next)
        else {
            return None;
        };
        let temp = target.text.as_str();
        if !temp.starts_with("_kappa_t") || (*returns && rewrite.in_init_continuation) {
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
    fn pause_wrapper(&mut self, id: NodeId, statement: &str, depth: usize, at: TextSize) {
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
            self.names.reference('c', id),
            tuple_literal(&live)
        );
        self.out.line(depth + 1, &push, at);
        self.out.line(depth + 1, "raise", at);
    }

    fn node(&mut self, node: &Node<'_>, depth: usize, rewrite: Rewrite) {
        match node {
            Node::Plain(stmt) => self.plain(stmt, depth, rewrite),
            Node::Line {
                code,
                returns,
                origin,
            } => {
                let text = if *returns && rewrite.in_init_continuation {
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
    fn for_loop(
        &mut self,
        target: &Code,
        iterator_var: &str,
        body: &[Node<'_>],
        orelse: &[Node<'_>],
        depth: usize,
        rewrite: Rewrite,
        at: TextSize,
    ) {
        self.out.line(
            depth,
            &format!("for {} in {iterator_var}:", target.text),
            at,
        );
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

    /// Everything of a `try` statement after its body: a first handler that lets pauses
    /// through, the user's handlers (each keeping its exception in a variable, so that a resumed
    /// handler can re-enter itself), `else`, and a `finally` that does not run while a pause
    /// unwinds the stack (it runs once, when the `try` really ends).
    fn try_tail(
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

    fn handler(&mut self, handler: &Handler<'_>, depth: usize, rewrite: Rewrite) {
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

    fn finally(&mut self, finalbody: &[Node<'_>], depth: usize, rewrite: Rewrite, at: TextSize) {
        if finalbody.is_empty() {
            return;
        }
        self.out.line(depth, "finally:", at);
        self.out
            .line(depth + 1, "if not _kappa_rt.unwinding():", at);
        self.block(finalbody, depth + 2, rewrite);
    }

    /// The continuations of the pause points inside a `try` node (at any depth): each rebuilds
    /// the `try` around the rest of the code from its pause point (inlined), so that handlers
    /// and `finally` are in force again, then goes on after the `try`.
    fn try_continuations(&mut self, try_node: &Node<'_>, depth: usize, loop_id: Option<NodeId>) {
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
            self.function_header(depth, 'c', *id, "_kappa_o, _kappa_v", at);
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
            let tail = self.names.tail_call('r', try_id);
            self.out.line(depth + 1, &tail, at);
            self.resume_points.push(ResumePoint {
                id: *resume_point,
                function: self.names.plan.def.name.id.to_string(),
                line: self.out.file.line_of(origin.start()) as u32,
                continuation: self.names.reference('c', *id),
                live: live.into_iter().collect(),
            });
        }
        let _ = try_id;
    }

    /// Emits, inline, the rest of `nodes[path[0]]` from the pause point `path` leads to, then
    /// the rest of `nodes` in normal form. `assign` gives the pause point its outcome. With
    /// `only_rest`, the nodes after `path[0]` are not emitted (the caller does).
    fn inline(
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
        let at = self.origin(node_origin(node));
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
    fn inline_iteration(
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

    /// A `while` loop in its normal shape (the counterpart of `for_loop`).
    fn while_loop(
        &mut self,
        test: &Code,
        body: &[Node<'_>],
        orelse: &[Node<'_>],
        depth: usize,
        rewrite: Rewrite,
        at: TextSize,
    ) {
        self.out.line(depth, &format!("while {}:", test.text), at);
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
    fn loop_else(&mut self, orelse: &[Node<'_>], depth: usize, rewrite: Rewrite, at: TextSize) {
        if !orelse.is_empty() {
            self.out.line(depth, "else:", at);
            self.block(orelse, depth + 1, rewrite);
        }
    }

    fn init_return(&self) -> String {
        format!(
            "return {}",
            self.names.plan.receiver.as_deref().unwrap_or("None")
        )
    }

    fn jump_text(&self, jump: Jump, rewrite: Rewrite) -> String {
        match (jump, rewrite.moved_loop) {
            (Jump::Break, LoopTarget::Syntactic) => "break".to_owned(),
            (Jump::Continue, LoopTarget::Syntactic) => "continue".to_owned(),
            (Jump::Break, LoopTarget::Segment(loop_id)) => self.names.tail_call('r', loop_id),
            (Jump::Continue, LoopTarget::Segment(loop_id)) => self.names.tail_call('n', loop_id),
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
    fn plain(&mut self, stmt: &Stmt, depth: usize, rewrite: Rewrite) {
        let mut finder = JumpFinder::default();
        finder.visit_stmt(stmt);
        // A tail call made inside a `try` with `finally` (or a `with`) would run the rest of
        // the function before the `finally` (or `__exit__`): leave the statement first, through
        // a one-shot loop, then make the call.
        let leave_first = match rewrite.moved_loop {
            LoopTarget::Segment(loop_id) if finder.jump_leaves_cleanup => Some(loop_id),
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
    fn open_one_shot(&mut self, depth: usize, at: TextSize) {
        self.out.line(depth, "_kappa_jump = 'break'", at);
        self.out.line(depth, "for _kappa_once in (0,):", at);
    }

    /// Closes it: `_kappa_jump` is `None` when the body ran to its end, `'continue'` when a
    /// `continue` left it (the `else` runs), and stays `'break'` when a `break` did.
    fn close_one_shot(&mut self, depth: usize, at: TextSize) {
        self.out.line(depth + 1, "_kappa_jump = None", at);
        self.out.line(depth + 1, "break", at);
        self.out.line(depth, "else:", at);
        self.out.line(depth + 1, "_kappa_jump = 'continue'", at);
    }

    /// After a one-shot loop left by a jump (`LoopTarget::LeaveTry`): the jump's tail call.
    fn dispatch_jump(&mut self, loop_id: NodeId, depth: usize, at: TextSize) {
        let brk = self.names.tail_call('r', loop_id);
        let cont = self.names.tail_call('n', loop_id);
        self.out
            .line(depth, &format!("if _kappa_jump == 'break': {brk}"), at);
        self.out
            .line(depth, &format!("if _kappa_jump == 'continue': {cont}"), at);
    }

    /// Emits the continuation functions of every node in `nodes` (recursively).
    fn continuations(
        &mut self,
        nodes: &[Node<'_>],
        depth: usize,
        end: BlockEnd,
        loop_id: Option<NodeId>,
    ) {
        for (index, node) in nodes.iter().enumerate() {
            let Some(id) = node.id() else { continue };
            let at = self.origin(node_origin(node));
            let rewrite = Rewrite {
                moved_loop: loop_id.map_or(LoopTarget::Syntactic, LoopTarget::Segment),
                in_init_continuation: self.names.plan.is_init,
            };
            // The rest of the block after this node.
            let after = self.liveness.after.get(&id).cloned().unwrap_or_default();
            self.function_header(depth, 'r', id, "_kappa_v", at);
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
                    self.function_header(depth, 'c', id, "_kappa_o, _kappa_v", at);
                    self.bind(&live, depth + 1, at);
                    let assign = match target {
                        Some(target) => format!("{} = _kappa_o.get()", target.text),
                        None => "_kappa_o.get()".to_owned(),
                    };
                    self.out.line(depth + 1, &assign, at);
                    let tail = self.names.tail_call('r', id);
                    self.out.line(depth + 1, &tail, at);
                    self.resume_points.push(ResumePoint {
                        id: *resume_point,
                        function: self.names.plan.def.name.id.to_string(),
                        line: self.out.file.line_of(origin.start()) as u32,
                        continuation: self.names.reference('c', id),
                        live: live.into_iter().collect(),
                    });
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
                    self.function_header(depth, 'n', id, "_kappa_v", at);
                    self.bind(&head, depth + 1, at);
                    self.while_loop(test, body, orelse, depth + 1, rewrite, at);
                    let tail = self.names.tail_call('r', id);
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
                    self.function_header(depth, 'n', id, "_kappa_v", at);
                    self.bind(&head, depth + 1, at);
                    self.for_loop(target, iterator_var, body, orelse, depth + 1, rewrite, at);
                    let tail = self.names.tail_call('r', id);
                    self.out.line(depth + 1, &tail, at);
                    self.continuations(body, depth, BlockEnd::LoopNext(id), Some(id));
                    self.continuations(orelse, depth, BlockEnd::After(id), loop_id);
                }
                _ => {}
            }
        }
    }

    fn function_header(
        &mut self,
        depth: usize,
        kind: char,
        id: NodeId,
        params: &str,
        at: TextSize,
    ) {
        let header = format!(
            "def {}({}):",
            self.names.def_name(kind, id),
            self.names.params(params)
        );
        self.out.line(depth, &header, at);
    }

    /// Rebinds saved variables as locals; a variable unbound at the pause stays unbound.
    fn bind(&mut self, live: &Live, depth: usize, at: TextSize) {
        for name in live {
            if Some(name) == self.names.plan.receiver.as_ref() {
                continue;
            }
            self.out.line(
                depth,
                &format!("if {name:?} in _kappa_v: {name} = _kappa_v[{name:?}]"),
                at,
            );
        }
    }

    /// The code after node `index` of a block: up to and including the next node that can
    /// pause, then a tail call to that node's rest; or the block's end.
    fn rest(
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
                let tail = self.names.tail_call('r', next);
                self.out.line(depth, &tail, self.origin(node_origin(node)));
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
            BlockEnd::After(id) => self.names.tail_call('r', id),
            BlockEnd::LoopNext(id) => self.names.tail_call('n', id),
        };
        self.out.line(depth, &text, at);
    }
}

/// A node after which nothing in its block runs.
fn ends_control_flow(node: &Node<'_>) -> bool {
    match node {
        Node::Line { returns, .. } => *returns,
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
struct PathStep {
    index: usize,
    block: usize,
}

/// The path to every pause point in `nodes`.
fn pause_paths(nodes: &[Node<'_>], prefix: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    for (index, node) in nodes.iter().enumerate() {
        let blocks: Vec<&[Node<'_>]> = match node {
            Node::Pause { .. } => {
                let mut path = prefix.clone();
                path.push(PathStep { index, block: 0 });
                out.push(path);
                continue;
            }
            Node::If { body, orelse, .. }
            | Node::While { body, orelse, .. }
            | Node::For { body, orelse, .. } => vec![body, orelse],
            Node::Try {
                body,
                handlers,
                orelse,
                ..
            } => {
                let mut blocks: Vec<&[Node<'_>]> = vec![body];
                blocks.extend(handlers.iter().map(|h| h.body.as_slice()));
                blocks.push(orelse);
                blocks
            }
            Node::Plain(_) | Node::Line { .. } | Node::Jump { .. } => continue,
        };
        for (block, nodes) in blocks.into_iter().enumerate() {
            prefix.push(PathStep { index, block });
            pause_paths(nodes, prefix, out);
            prefix.pop();
        }
    }
}

/// The node a path leads to.
fn resolve_path<'n, 'a>(nodes: &'n [Node<'a>], path: &[PathStep]) -> Option<&'n Node<'a>> {
    let (step, rest) = path.split_first()?;
    let node = nodes.get(step.index)?;
    if rest.is_empty() {
        return Some(node);
    }
    let block: &[Node<'a>] = match node {
        Node::If { body, orelse, .. }
        | Node::While { body, orelse, .. }
        | Node::For { body, orelse, .. } => {
            if step.block == 0 {
                body
            } else {
                orelse
            }
        }
        Node::Try {
            body,
            handlers,
            orelse,
            ..
        } => {
            if step.block == 0 {
                body
            } else if step.block <= handlers.len() {
                &handlers[step.block - 1].body
            } else {
                orelse
            }
        }
        _ => return None,
    };
    resolve_path(block, rest)
}

fn node_origin(node: &Node<'_>) -> TextRange {
    match node {
        Node::Plain(stmt) => stmt.range(),
        Node::Line { origin, .. }
        | Node::Jump { origin, .. }
        | Node::Pause { origin, .. }
        | Node::If { origin, .. }
        | Node::While { origin, .. }
        | Node::For { origin, .. }
        | Node::Try { origin, .. } => *origin,
    }
}

/// `('a', 'b')` — a tuple of names as a Python literal.
fn tuple_literal(names: &Live) -> String {
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

/// The header of a def, from its first decorator to the end of the line of its colon.
/// The length of the indentation at the start of `line`.
fn indent_width(line: &str) -> TextSize {
    let width = line.len() - line.trim_start_matches([' ', '\t']).len();
    TextSize::try_from(width).unwrap_or_default()
}

pub fn trim_header(source: &str, start: TextSize, body_start: TextSize) -> TextRange {
    let text = &source[usize::from(start)..usize::from(body_start)];
    let trimmed = text.trim_end();
    TextRange::at(start, TextSize::try_from(trimmed.len()).unwrap_or_default())
}

/// `break`/`continue` that leave a statement (not inside a loop of its own) and `return`s
/// (not inside a nested function).
#[derive(Default)]
struct JumpFinder {
    loop_depth: u32,
    /// How many `try` bodies with handlers or `finally`, `finally`-guarded handlers and `with`
    /// bodies are around.
    cleanup_depth: u32,
    jumps: Vec<(TextRange, Jump)>,
    /// Whether a jump found leaves a `finally` or a `with` that must run before it.
    jump_leaves_cleanup: bool,
    returns: Vec<TextRange>,
}

impl JumpFinder {
    fn jump(&mut self, range: TextRange, jump: Jump) {
        self.jumps.push((range, jump));
        if self.cleanup_depth > 0 {
            self.jump_leaves_cleanup = true;
        }
    }
}

impl<'a> Visitor<'a> for JumpFinder {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if let Some((_, body, orelse)) = loop_parts(stmt) {
            self.loop_depth += 1;
            self.visit_body(body);
            self.loop_depth -= 1;
            self.visit_body(orelse);
            return;
        }
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::Break(b) if self.loop_depth == 0 => self.jump(b.range, Jump::Break),
            Stmt::Continue(c) if self.loop_depth == 0 => self.jump(c.range, Jump::Continue),
            Stmt::Return(r) => self.returns.push(r.range),
            Stmt::Try(t) if !t.finalbody.is_empty() => {
                self.cleanup_depth += 1;
                self.visit_body(&t.body);
                for handler in &t.handlers {
                    self.visit_except_handler(handler);
                }
                self.visit_body(&t.orelse);
                self.cleanup_depth -= 1;
                self.visit_body(&t.finalbody);
            }
            // The rest of the function must not run under this `try`'s handlers, nor inside
            // a handler (an exception it raised would be chained to the handled one).
            Stmt::Try(t) if !t.handlers.is_empty() => {
                self.cleanup_depth += 1;
                self.visit_body(&t.body);
                for handler in &t.handlers {
                    self.visit_except_handler(handler);
                }
                self.cleanup_depth -= 1;
                self.visit_body(&t.orelse);
            }
            Stmt::With(w) => {
                self.cleanup_depth += 1;
                self.visit_body(&w.body);
                self.cleanup_depth -= 1;
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, _expr: &'a Expr) {}
}
