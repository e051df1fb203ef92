//! What kappac knows about Python itself, shared by the analyses and the transform: which
//! builtins drain a generator passed to them, the order in which Python evaluates an
//! expression's parts, which standard-library calls return objects a checkpoint cannot save,
//! which library functions take a function without calling it, and where jumps go. Tables and
//! pure functions of the syntax tree; no analysis state.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::TextRange;

/// Builtins that consume a generator expression passed to them completely (or, `any`/`all`,
/// until they know the answer), right away: a pausing generator expression passed to one of them
/// is compiled as a comprehension.
pub const DRAINING_BUILTINS: &[&str] = &[
    "all",
    "any",
    "dict",
    "frozenset",
    "list",
    "max",
    "min",
    "set",
    "sorted",
    "sum",
    "tuple",
];

/// The direct sub-expressions of an expression in the order Python evaluates them.
pub fn evaluation_order(expr: &Expr) -> Vec<&Expr> {
    let mut children: Vec<&Expr> = Vec::new();
    match expr {
        Expr::Call(call) => {
            children.push(&call.func);
            children.extend(call.arguments.args.iter());
            children.extend(call.arguments.keywords.iter().map(|k| &k.value));
        }
        Expr::BinOp(b) => {
            children.push(&b.left);
            children.push(&b.right);
        }
        Expr::UnaryOp(u) => children.push(&u.operand),
        Expr::Compare(c) => {
            children.push(&c.left);
            children.extend(c.comparators.iter());
        }
        Expr::Attribute(a) => children.push(&a.value),
        Expr::Subscript(s) => {
            children.push(&s.value);
            children.push(&s.slice);
        }
        Expr::Slice(s) => {
            children.extend(s.lower.as_deref());
            children.extend(s.upper.as_deref());
            children.extend(s.step.as_deref());
        }
        Expr::Starred(s) => children.push(&s.value),
        Expr::Named(n) => children.push(&n.value),
        Expr::Tuple(t) => children.extend(t.elts.iter()),
        Expr::List(l) => children.extend(l.elts.iter()),
        Expr::Set(s) => children.extend(s.elts.iter()),
        Expr::Dict(d) => {
            for item in &d.items {
                children.extend(item.key.as_ref());
                children.push(&item.value);
            }
        }
        // Each replacement field's expression, then those of its format spec.
        Expr::FString(fstring) => {
            fn fields<'e>(elements: &'e ast::InterpolatedStringElements, out: &mut Vec<&'e Expr>) {
                for field in elements.interpolations() {
                    out.push(&field.expression);
                    if let Some(spec) = &field.format_spec {
                        fields(&spec.elements, out);
                    }
                }
            }
            for part in fstring.value.f_strings() {
                fields(&part.elements, &mut children);
            }
        }
        _ => {}
    }
    children
}

/// Builtins that return an object the standard `pickle` refuses (a checkpoint holding one
/// fails): K039.
pub const UNPICKLABLE_BUILTINS: &[&str] = &["open"];

/// `(module, function)` of the standard library returning such objects: files, locks, sockets,
/// connections, processes.
pub const UNPICKLABLE_MODULE_FUNCTIONS: &[(&str, &str)] = &[
    ("threading", "Lock"),
    ("threading", "RLock"),
    ("threading", "Condition"),
    ("threading", "Semaphore"),
    ("threading", "BoundedSemaphore"),
    ("socket", "socket"),
    ("socket", "create_connection"),
    ("sqlite3", "connect"),
    ("tempfile", "TemporaryFile"),
    ("tempfile", "NamedTemporaryFile"),
    ("tempfile", "SpooledTemporaryFile"),
    ("io", "open"),
    ("gzip", "open"),
    ("bz2", "open"),
    ("lzma", "open"),
    ("zipfile", "ZipFile"),
    ("tarfile", "open"),
    ("subprocess", "Popen"),
    ("multiprocessing", "Pool"),
    ("urllib.request", "urlopen"),
];

/// Library functions that take a function and never call it: `functools.wraps(f)` copies its
/// name and docstring onto a wrapper. Passing a pausing function to them is no escape, and as
/// decorators they return the function they are given.
pub const WRAPPER_HELPERS: &[&str] = &[
    "functools.wraps",
    "functools.update_wrapper",
    "wraps",
    "update_wrapper",
];

/// Builtins that never call the functions or classes given to them.
pub const NON_CALLING_BUILTINS: &[&str] = &[
    "callable",
    "getattr",
    "hasattr",
    "id",
    "isinstance",
    "issubclass",
    "super",
    "type",
];

/// A `for` or `while` loop's parts: the expressions it evaluates (target and iterable, or
/// test), its body, where `break` and `continue` are its own, and its `else` block, where they
/// belong to the loop around it. `None` for other statements.
pub fn loop_parts(stmt: &Stmt) -> Option<(Vec<&Expr>, &[Stmt], &[Stmt])> {
    match stmt {
        Stmt::For(f) => Some((vec![&*f.target, &*f.iter], &f.body, &f.orelse)),
        Stmt::While(w) => Some((vec![&*w.test], &w.body, &w.orelse)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jump {
    Break,
    Continue,
}

/// The jumps in a statement, as Python resolves them: the `break`/`continue` statements that
/// leave it (not inside a loop of its own), its `return`s, and whether such a `break`/`continue`
/// leaves the body of a `try` with a `finally` or handlers, or of a `with` (whose cleanup must
/// run first). Nested functions and classes
/// are not looked into. The one place that knows which loop a `break` belongs to.
#[derive(Debug, Default)]
pub struct JumpsLeaving {
    /// `break`/`continue` statements that leave the statement.
    pub jumps: Vec<(TextRange, Jump)>,
    pub returns: Vec<TextRange>,
    /// Whether a `break`/`continue` in `jumps` leaves the body (or a handler) of a `try` with a
    /// `finally` or handlers, or of a `with`. `return`s are not counted.
    pub leaves_cleanup: bool,
    /// Whether the statement holds a `break` or `continue` at all (leaving or not).
    pub any_loop_jump: bool,
    loop_depth: u32,
    /// How many `try` bodies with handlers or `finally`, `finally`-guarded handlers and `with`
    /// bodies are around.
    cleanup_depth: u32,
}

impl JumpsLeaving {
    pub fn of(stmt: &Stmt) -> JumpsLeaving {
        let mut jumps = JumpsLeaving::default();
        jumps.visit_stmt(stmt);
        jumps
    }

    /// Whether a `break` or `continue` leaves the statement.
    pub fn leaves_loop(&self) -> bool {
        !self.jumps.is_empty()
    }

    /// Whether it holds a `return`, `break` or `continue` (leaving it or not).
    pub fn holds_any(&self) -> bool {
        self.any_loop_jump || !self.returns.is_empty()
    }

    fn jump(&mut self, range: TextRange, jump: Jump) {
        self.any_loop_jump = true;
        if self.loop_depth > 0 {
            return;
        }
        self.jumps.push((range, jump));
        if self.cleanup_depth > 0 {
            self.leaves_cleanup = true;
        }
    }
}

impl<'a> Visitor<'a> for JumpsLeaving {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if let Some((_, body, orelse)) = loop_parts(stmt) {
            self.loop_depth += 1;
            self.visit_body(body);
            self.loop_depth -= 1;
            // `break`/`continue` in the `else` block leave the loop around this one.
            self.visit_body(orelse);
            return;
        }
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::Break(b) => self.jump(b.range, Jump::Break),
            Stmt::Continue(c) => self.jump(c.range, Jump::Continue),
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
