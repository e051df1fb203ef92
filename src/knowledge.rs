//! What kappac knows about Python itself, shared by the analyses and the transform: which
//! builtins drain a generator passed to them, the order in which Python evaluates an
//! expression's parts, and which standard-library calls return objects a checkpoint cannot
//! save. Tables and pure functions of the syntax tree; no analysis state.

use ruff_python_ast::{self as ast, Expr};

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
