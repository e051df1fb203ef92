//! Lowering: a pausing function's body to the IR, flattening pause points out of expressions
//! into temporaries in Python's evaluation order (siblings evaluated earlier are spilled first;
//! `and`/`or`, conditional expressions and comparison chains keep their short-circuiting), and
//! comprehensions that pause into loops with their variables renamed so they do not leak.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, BoolOp, Expr, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashSet;

use super::ir::{leaves_loop, Code, Jump, Node, NodeId};
use crate::analyze::names::in_expr as name_uses;

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
        }
    }

    fn temp(&mut self) -> String {
        self.next_temp += 1;
        format!("_kappa_t{}", self.next_temp)
    }

    fn id(&mut self) -> NodeId {
        self.next_id += 1;
        self.next_id
    }

    pub fn ids_used(&self) -> NodeId {
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
    fn render(&self, expr: &Expr, replacements: &[(TextRange, String)], temps: &[String]) -> Code {
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
        if text.contains('\n') {
            text = format!("({text})");
        }
        uses.extend(temps.iter().cloned());
        Code { text, uses, defs }
    }

    fn plain_code(&self, expr: &Expr) -> Code {
        self.render(expr, &[], &[])
    }

    /// Whether evaluating `expr` earlier or later gives the same value around a call.
    fn is_stable(&self, expr: &Expr) -> bool {
        match expr {
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_) => true,
            Expr::Name(name) => !self.globals.contains(name.id.as_str()),
            _ => false,
        }
    }

    /// Flattens the children of an expression, in evaluation order. Returns the replacements to
    /// make in the parent's text and the names they read.
    fn flatten_children(
        &mut self,
        children: &[&Expr],
        dict_unpacked: &[TextRange],
        out: &mut Vec<Node<'_>>,
        origin: TextRange,
    ) -> (Vec<(TextRange, String)>, Vec<String>) {
        enum Unpacking {
            Iterable,
            Mapping,
        }
        struct Done {
            range: TextRange,
            code: Code,
            changed: bool,
            stable: bool,
            unpacking: Option<Unpacking>,
        }
        let mut done: Vec<Done> = Vec::new();
        for &child in children {
            let mut prelude = Vec::new();
            let code = self.flatten_expr(child, &mut prelude);
            if !prelude.is_empty() {
                // Everything evaluated before this child must be evaluated before its pause.
                for earlier in done.iter_mut().filter(|d| !d.stable) {
                    let temp = self.temp();
                    // An unpacking is done where it stands: `*xs` iterates `xs` and `**d`
                    // copies `d` before the later children run.
                    let (value, replacement) = match earlier.unpacking {
                        Some(Unpacking::Iterable) => {
                            (format!("[{}]", earlier.code.text), format!("*{temp}"))
                        }
                        Some(Unpacking::Mapping) => {
                            (format!("{{**{}}}", earlier.code.text), temp.clone())
                        }
                        None => (earlier.code.text.clone(), temp.clone()),
                    };
                    out.push(Node::Line {
                        code: Code {
                            text: format!("{temp} = {value}"),
                            uses: earlier.code.uses.clone(),
                            defs: vec![temp.clone()],
                        },
                        returns: false,
                        origin,
                    });
                    earlier.code = Code {
                        text: replacement,
                        uses: vec![temp],
                        defs: Vec::new(),
                    };
                    earlier.changed = true;
                    earlier.stable = true;
                }
                out.extend(prelude);
            }
            let changed = code.text != self.source[child.range()];
            let unpacking = if matches!(child, Expr::Starred(_)) {
                Some(Unpacking::Iterable)
            } else if dict_unpacked.contains(&child.range()) {
                Some(Unpacking::Mapping)
            } else {
                None
            };
            done.push(Done {
                range: child.range(),
                stable: self.is_stable(child) && unpacking.is_none(),
                code,
                changed,
                unpacking,
            });
        }
        let mut replacements = Vec::new();
        let mut temps = Vec::new();
        for d in done.into_iter().filter(|d| d.changed) {
            // The names the replacement reads (temporaries, renamed variables and the rest of
            // a partly flattened child) stand for those of the range it replaces.
            temps.extend(d.code.uses.iter().cloned());
            replacements.push((d.range, d.code.text));
        }
        (replacements, temps)
    }

    /// Flattens an expression: pause points inside it are moved into `out` (in evaluation
    /// order); the returned code computes the rest.
    pub fn flatten_expr(&mut self, expr: &Expr, out: &mut Vec<Node<'_>>) -> Code {
        if !self.expr_pauses(expr) {
            return self.plain_code(expr);
        }
        let origin = expr.range();
        match expr {
            Expr::BoolOp(bool_op) => self.flatten_bool_op(bool_op, out),
            Expr::If(if_expr) => {
                let test = self.flatten_expr(&if_expr.test, out);
                let temp = self.temp();
                let mut body = Vec::new();
                let value = self.flatten_expr(&if_expr.body, &mut body);
                body.push(self.assign_line(&temp, value, origin));
                let mut orelse = Vec::new();
                let value = self.flatten_expr(&if_expr.orelse, &mut orelse);
                orelse.push(self.assign_line(&temp, value, origin));
                let id = self.id();
                out.push(Node::If {
                    id,
                    test,
                    body,
                    orelse,
                    origin,
                });
                self.temp_code(temp)
            }
            Expr::Compare(compare) if compare.ops.len() > 1 => self.flatten_chain(compare, out),
            Expr::Call(call) if self.drained_generator(call).is_some() => {
                self.flatten_draining_call(call, out)
            }
            Expr::ListComp(comp) => self.flatten_comprehension(
                &comp.generators,
                ComprehensionKind::List(&comp.elt),
                origin,
                out,
            ),
            Expr::SetComp(comp) => self.flatten_comprehension(
                &comp.generators,
                ComprehensionKind::Set(&comp.elt),
                origin,
                out,
            ),
            Expr::DictComp(comp) => match &comp.key {
                Some(key) => self.flatten_comprehension(
                    &comp.generators,
                    ComprehensionKind::Dict(key, &comp.value),
                    origin,
                    out,
                ),
                None => {
                    self.unsupported(origin, "a dict comprehension with `**` unpacking");
                    self.plain_code(expr)
                }
            },
            // Reported by `check`: K033 (generator expressions), K032 (lambdas), K020/K021.
            Expr::Generator(_)
            | Expr::Lambda(_)
            | Expr::Await(_)
            | Expr::Yield(_)
            | Expr::YieldFrom(_) => self.plain_code(expr),
            Expr::FString(fstring) if fstring_has_debug_text(fstring) => {
                // `f"{x=}"` prints the expression's text, which a temporary would change.
                self.unsupported(origin, "an f-string with a `=` specifier");
                self.plain_code(expr)
            }
            Expr::TString(_) => {
                self.unsupported(origin, "a template string");
                self.plain_code(expr)
            }
            _ => {
                let children = eval_children(expr);
                let (replacements, temps) =
                    self.flatten_children(&children, &dict_unpacked(expr), out, origin);
                let code = self.render(expr, &replacements, &temps);
                if self.is_pause_call(expr) {
                    let temp = self.temp();
                    let id = self.id();
                    let resume_point = self.resume_point();
                    out.push(Node::Pause {
                        id,
                        resume_point,
                        target: Some(Code {
                            text: temp.clone(),
                            uses: Vec::new(),
                            defs: vec![temp.clone()],
                        }),
                        call: code,
                        origin,
                    });
                    self.temp_code(temp)
                } else {
                    code
                }
            }
        }
    }

    /// `sum(f.wait() for f in futures)` and the like: the generator expression argument of a
    /// draining builtin, when it pauses.
    pub fn drained_generator<'e>(&self, call: &'e ast::ExprCall) -> Option<&'e ast::ExprGenerator> {
        let Expr::Name(name) = &*call.func else {
            return None;
        };
        if !DRAINING_BUILTINS.contains(&name.id.as_str()) || (self.shadowed)(name.id.as_str()) {
            return None;
        }
        match call.arguments.args.first() {
            Some(Expr::Generator(generator))
                if self.expr_pauses(&generator.elt)
                    || generator.generators.iter().any(|g| {
                        self.expr_pauses(&g.iter) || g.ifs.iter().any(|i| self.expr_pauses(i))
                    }) =>
            {
                Some(generator)
            }
            _ => None,
        }
    }

    fn flatten_draining_call(&mut self, call: &ast::ExprCall, out: &mut Vec<Node<'_>>) -> Code {
        let origin = call.range();
        let Some(generator) = self.drained_generator(call) else {
            return self.plain_code(&Expr::Call(call.clone()));
        };
        let others_pause = call
            .arguments
            .args
            .iter()
            .skip(1)
            .any(|a| self.expr_pauses(a))
            || call
                .arguments
                .keywords
                .iter()
                .any(|k| self.expr_pauses(&k.value));
        if others_pause {
            self.unsupported(
                origin,
                "a call whose generator expression and other arguments both pause",
            );
            return self.plain_code(&Expr::Call(call.clone()));
        }
        let name = match &*call.func {
            Expr::Name(name) => name.id.as_str(),
            _ => "",
        };
        let single = generator.generators.len() == 1;
        let drained = match name {
            "any" if single => {
                return self.flatten_comprehension(
                    &generator.generators,
                    ComprehensionKind::Any(&generator.elt),
                    origin,
                    out,
                )
            }
            "all" if single => {
                return self.flatten_comprehension(
                    &generator.generators,
                    ComprehensionKind::All(&generator.elt),
                    origin,
                    out,
                )
            }
            "any" | "all" => {
                self.unsupported(
                    origin,
                    "`any`/`all` over a pausing generator expression with several `for`s",
                );
                return self.plain_code(&Expr::Call(call.clone()));
            }
            _ => self.flatten_comprehension(
                &generator.generators,
                ComprehensionKind::List(&generator.elt),
                origin,
                out,
            ),
        };
        let temps = drained.uses.clone();
        self.render(
            &Expr::Call(call.clone()),
            &[(generator.range, drained.text)],
            &temps,
        )
    }

    fn resume_point(&mut self) -> u32 {
        let point = self.next_resume_point;
        self.next_resume_point += 1;
        point
    }

    fn temp_code(&self, temp: String) -> Code {
        Code {
            text: temp.clone(),
            uses: vec![temp],
            defs: Vec::new(),
        }
    }

    fn assign_line(&self, target: &str, value: Code, origin: TextRange) -> Node<'static> {
        Node::Line {
            code: Code {
                text: format!("{target} = {}", value.text),
                uses: value.uses,
                defs: vec![target.to_owned()],
            },
            returns: false,
            origin,
        }
    }

    fn flatten_bool_op(&mut self, bool_op: &ast::ExprBoolOp, out: &mut Vec<Node<'_>>) -> Code {
        let origin = bool_op.range;
        let temp = self.temp();
        let mut values = bool_op.values.iter();
        if let Some(first) = values.next() {
            let code = self.flatten_expr(first, out);
            out.push(self.assign_line(&temp, code, origin));
        }
        for value in values {
            let mut body = Vec::new();
            let code = self.flatten_expr(value, &mut body);
            body.push(self.assign_line(&temp, code, origin));
            let test = match bool_op.op {
                BoolOp::And => temp.clone(),
                BoolOp::Or => format!("not {temp}"),
            };
            let id = self.id();
            out.push(Node::If {
                id,
                test: Code {
                    text: test,
                    uses: vec![temp.clone()],
                    defs: Vec::new(),
                },
                body,
                orelse: Vec::new(),
                origin,
            });
        }
        self.temp_code(temp)
    }

    /// `a < b < c`: each operand evaluated once, later comparisons only while the chain holds.
    fn flatten_chain(&mut self, compare: &ast::ExprCompare, out: &mut Vec<Node<'_>>) -> Code {
        let origin = compare.range;
        let result = self.temp();
        let left_code = self.flatten_expr(&compare.left, out);
        let mut left = self.temp();
        out.push(self.assign_line(&left, left_code, origin));
        let mut blocks: Vec<Vec<Node<'_>>> = vec![Vec::new()];
        for (index, (op, comparator)) in compare
            .ops
            .iter()
            .zip(compare.comparators.iter())
            .enumerate()
        {
            let block = blocks.last_mut().map(std::mem::take).unwrap_or_default();
            let mut block = block;
            let code = self.flatten_expr(comparator, &mut block);
            let right = self.temp();
            block.push(self.assign_line(&right, code, origin));
            block.push(Node::Line {
                code: Code {
                    text: format!("{result} = {left} {} {right}", op.as_str()),
                    uses: vec![left.clone(), right.clone()],
                    defs: vec![result.clone()],
                },
                returns: false,
                origin,
            });
            if let Some(last) = blocks.last_mut() {
                *last = block;
            }
            if index + 1 < compare.ops.len() {
                blocks.push(Vec::new());
            }
            left = right;
        }
        // Nest: each later block runs inside `if result:` at the end of the block before it.
        let mut inner: Option<Vec<Node<'_>>> = None;
        while let Some(mut block) = blocks.pop() {
            if let Some(body) = inner.take() {
                let id = self.id();
                block.push(Node::If {
                    id,
                    test: self.temp_code(result.clone()),
                    body,
                    orelse: Vec::new(),
                    origin,
                });
            }
            inner = Some(block);
        }
        out.extend(inner.unwrap_or_default());
        self.temp_code(result)
    }

    fn flatten_comprehension(
        &mut self,
        generators: &[ast::Comprehension],
        kind: ComprehensionKind<'_>,
        origin: TextRange,
        out: &mut Vec<Node<'_>>,
    ) -> Code {
        let result = self.temp();
        let init = match kind {
            ComprehensionKind::List(_) => "[]",
            ComprehensionKind::Set(_) => "set()",
            ComprehensionKind::Dict(..) => "{}",
            ComprehensionKind::Any(_) => "False",
            ComprehensionKind::All(_) => "True",
        };
        out.push(Node::Line {
            code: Code {
                text: format!("{result} = {init}"),
                uses: Vec::new(),
                defs: vec![result.clone()],
            },
            returns: false,
            origin,
        });
        // Comprehension variables are renamed so they do not leak into the function.
        let mut renames: Vec<(String, String)> = Vec::new();
        let body =
            self.comprehension_level(generators, &kind, &result, origin, &mut renames, true, out);
        out.extend(body);
        self.temp_code(result)
    }

    /// One `for` (and its `if`s) of a comprehension; returns nodes to append to `out`.
    #[allow(clippy::too_many_arguments)]
    fn comprehension_level<'n>(
        &mut self,
        generators: &[ast::Comprehension],
        kind: &ComprehensionKind<'_>,
        result: &str,
        origin: TextRange,
        renames: &mut Vec<(String, String)>,
        first: bool,
        prelude_out: &mut Vec<Node<'n>>,
    ) -> Vec<Node<'n>> {
        let mut nodes = Vec::new();
        let Some((generator, rest)) = generators.split_first() else {
            // The element.
            let line = match kind {
                ComprehensionKind::List(elt) | ComprehensionKind::Set(elt) => {
                    let code = self.flatten_renamed(elt, renames, &mut nodes);
                    let method = if matches!(kind, ComprehensionKind::List(_)) {
                        "append"
                    } else {
                        "add"
                    };
                    let mut uses = code.uses;
                    uses.push(result.to_owned());
                    Code {
                        text: format!("{result}.{method}({})", code.text),
                        uses,
                        defs: code.defs,
                    }
                }
                ComprehensionKind::Any(elt) | ComprehensionKind::All(elt) => {
                    let code = self.flatten_renamed(elt, renames, &mut nodes);
                    let any = matches!(kind, ComprehensionKind::Any(_));
                    let test = if any {
                        code.text.clone()
                    } else {
                        format!("not ({})", code.text)
                    };
                    let id = self.id();
                    nodes.push(Node::If {
                        id,
                        test: Code {
                            text: test,
                            uses: code.uses,
                            defs: code.defs,
                        },
                        body: vec![
                            Node::Line {
                                code: Code {
                                    text: format!(
                                        "{result} = {}",
                                        if any { "True" } else { "False" }
                                    ),
                                    uses: Vec::new(),
                                    defs: vec![result.to_owned()],
                                },
                                returns: false,
                                origin,
                            },
                            Node::Jump {
                                jump: Jump::Break,
                                origin,
                            },
                        ],
                        orelse: Vec::new(),
                        origin,
                    });
                    return nodes;
                }
                ComprehensionKind::Dict(key, value) => {
                    let key = self.flatten_renamed(key, renames, &mut nodes);
                    let key_temp = self.temp();
                    nodes.push(self.assign_line(&key_temp, key, origin));
                    let value = self.flatten_renamed(value, renames, &mut nodes);
                    let mut uses = value.uses;
                    uses.push(result.to_owned());
                    uses.push(key_temp.clone());
                    Code {
                        text: format!("{result}[{key_temp}] = {}", value.text),
                        uses,
                        defs: value.defs,
                    }
                }
            };
            nodes.push(Node::Line {
                code: line,
                returns: false,
                origin,
            });
            return nodes;
        };
        if generator.is_async {
            self.unsupported(generator.range, "an `async for` comprehension");
        }
        // The first iterable is evaluated outside, before any renaming applies.
        let iter = if first {
            self.flatten_expr(&generator.iter, prelude_out)
        } else {
            self.flatten_renamed(&generator.iter, renames, prelude_out)
        };
        for (name, _) in name_uses(&generator.target).stores {
            let fresh = format!("{}_{}", self.temp(), name);
            renames.retain(|(old, _)| *old != name);
            renames.push((name, fresh));
        }
        let target = self.flatten_renamed(&generator.target, renames, &mut Vec::new());
        let mut body = Vec::new();
        let mut conditions = Vec::new();
        for condition in &generator.ifs {
            let mut prelude = Vec::new();
            let test = self.flatten_renamed(condition, renames, &mut prelude);
            conditions.push((prelude, test));
        }
        let inner = self.comprehension_level(rest, kind, result, origin, renames, false, &mut body);
        // Wrap the inner part in the conditions, innermost last.
        let mut inner = {
            let mut b = body;
            b.extend(inner);
            b
        };
        for (prelude, test) in conditions.into_iter().rev() {
            let id = self.id();
            let mut block = prelude;
            block.push(Node::If {
                id,
                test,
                body: inner,
                orelse: Vec::new(),
                origin,
            });
            inner = block;
        }
        let id = self.id();
        let iterator_var = format!("_kappa_it{id}");
        nodes.push(Node::For {
            id,
            target,
            iter,
            iterator_var,
            body: inner,
            orelse: Vec::new(),
            origin,
        });
        nodes
    }

    /// Flattens an expression in which comprehension variables are renamed.
    fn flatten_renamed(
        &mut self,
        expr: &Expr,
        renames: &[(String, String)],
        out: &mut Vec<Node<'_>>,
    ) -> Code {
        let outer = self.renames.len();
        self.renames.extend_from_slice(renames);
        let code = self.flatten_expr(expr, out);
        self.renames.truncate(outer);
        code
    }

    /// Lowers a block of statements.
    pub fn lower_block<'a>(&mut self, body: &'a [Stmt]) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        for stmt in body {
            self.lower_stmt(stmt, &mut out);
        }
        out
    }

    fn lower_stmt<'a>(&mut self, stmt: &'a Stmt, out: &mut Vec<Node<'a>>) {
        let redirectable_jump = self.lower_jumps > 0 && holds_jump(stmt);
        if !(self.stmt_pauses(stmt) || redirectable_jump) {
            out.push(Node::Plain(stmt));
            return;
        }
        let origin = stmt.range();
        match stmt {
            Stmt::Expr(expr_stmt) => {
                let value = &*expr_stmt.value;
                if self.is_pause_call(value) {
                    let call = self.flatten_call_children(value, out);
                    let id = self.id();
                    let resume_point = self.resume_point();
                    out.push(Node::Pause {
                        id,
                        resume_point,
                        target: None,
                        call,
                        origin,
                    });
                } else {
                    let code = self.flatten_expr(value, out);
                    // A statement that is only a temporary's name does nothing; anything else
                    // (a call of a spilled method, an operation) must run.
                    let bare_temp = code.text.starts_with("_kappa_t")
                        && code
                            .text
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !bare_temp {
                        out.push(Node::Line {
                            code,
                            returns: false,
                            origin,
                        });
                    }
                }
            }
            Stmt::Assign(assign) => {
                if assign.targets.iter().any(|t| self.expr_pauses(t)) {
                    self.unsupported(
                        origin,
                        "an assignment target (it is evaluated after the value)",
                    );
                    out.push(Node::Plain(stmt));
                    return;
                }
                let target = self.targets_code(&assign.targets);
                if self.is_pause_call(&assign.value) {
                    let call = self.flatten_call_children(&assign.value, out);
                    let id = self.id();
                    let resume_point = self.resume_point();
                    out.push(Node::Pause {
                        id,
                        resume_point,
                        target: Some(target),
                        call,
                        origin,
                    });
                } else {
                    let value = self.flatten_expr(&assign.value, out);
                    let mut uses = value.uses;
                    uses.extend(target.uses);
                    let mut defs = target.defs;
                    defs.extend(value.defs);
                    out.push(Node::Line {
                        code: Code {
                            text: format!("{} = {}", target.text, value.text),
                            uses,
                            defs,
                        },
                        returns: false,
                        origin,
                    });
                }
            }
            Stmt::AnnAssign(assign) => match &assign.value {
                Some(value) if !self.expr_pauses(&assign.target) => {
                    let target = self.targets_code(std::slice::from_ref(&*assign.target));
                    let value = self.flatten_expr(value, out);
                    let mut uses = value.uses;
                    uses.extend(target.uses);
                    out.push(Node::Line {
                        code: Code {
                            text: format!("{} = {}", target.text, value.text),
                            uses,
                            defs: target.defs,
                        },
                        returns: false,
                        origin,
                    });
                }
                _ => {
                    self.unsupported(origin, "this annotated assignment");
                    out.push(Node::Plain(stmt));
                }
            },
            Stmt::AugAssign(assign) => self.lower_aug_assign(assign, out),
            Stmt::Return(ret) => {
                let Some(value) = &ret.value else {
                    out.push(Node::Line {
                        code: Code {
                            text: "return".to_owned(),
                            ..Code::default()
                        },
                        returns: true,
                        origin,
                    });
                    return;
                };
                let code = self.flatten_expr(value, out);
                out.push(Node::Line {
                    code: Code {
                        text: format!("return {}", code.text),
                        uses: code.uses,
                        defs: code.defs,
                    },
                    returns: true,
                    origin,
                });
            }
            Stmt::If(if_stmt) => {
                let node = self.lower_if(
                    &if_stmt.test,
                    &if_stmt.body,
                    &if_stmt.elif_else_clauses,
                    origin,
                    out,
                );
                out.push(node);
            }
            Stmt::While(while_stmt) => {
                let id = self.id();
                if self.expr_pauses(&while_stmt.test) {
                    // `while test:` becomes `while True:` with the test (and its pause points)
                    // at the top of the body; the `else` block runs where the test fails.
                    if while_stmt.orelse.iter().any(leaves_loop) {
                        self.unsupported(origin, "the `else` of a `while` loop whose condition pauses, when it has `break` or `continue`");
                        out.push(Node::Plain(stmt));
                        return;
                    }
                    let mut body = Vec::new();
                    let test = self.flatten_expr(&while_stmt.test, &mut body);
                    let mut exhausted = self.lower_block(&while_stmt.orelse);
                    exhausted.push(Node::Jump {
                        jump: Jump::Break,
                        origin,
                    });
                    let if_id = self.id();
                    body.push(Node::If {
                        id: if_id,
                        test: Code {
                            text: format!("not ({})", test.text),
                            uses: test.uses,
                            defs: test.defs,
                        },
                        body: exhausted,
                        orelse: Vec::new(),
                        origin,
                    });
                    body.extend(self.lower_block(&while_stmt.body));
                    out.push(Node::While {
                        id,
                        test: Code {
                            text: "True".to_owned(),
                            ..Code::default()
                        },
                        body,
                        orelse: Vec::new(),
                        origin,
                    });
                } else {
                    let test = self.plain_code(&while_stmt.test);
                    let body = self.lower_block(&while_stmt.body);
                    let orelse = self.lower_block(&while_stmt.orelse);
                    out.push(Node::While {
                        id,
                        test,
                        body,
                        orelse,
                        origin,
                    });
                }
            }
            Stmt::For(for_stmt) => {
                if for_stmt.is_async {
                    // Reported by `check` as K021.
                    out.push(Node::Plain(stmt));
                    return;
                }
                if self.expr_pauses(&for_stmt.target) {
                    self.unsupported(origin, "a `for` target");
                    out.push(Node::Plain(stmt));
                    return;
                }
                let iter = self.flatten_expr(&for_stmt.iter, out);
                let target = self.targets_code(std::slice::from_ref(&*for_stmt.target));
                let body = self.lower_block(&for_stmt.body);
                let orelse = self.lower_block(&for_stmt.orelse);
                let id = self.id();
                out.push(Node::For {
                    id,
                    target,
                    iter,
                    iterator_var: format!("_kappa_it{id}"),
                    body,
                    orelse,
                    origin,
                });
            }
            Stmt::Raise(raise) => {
                let mut children: Vec<&Expr> = Vec::new();
                children.extend(raise.exc.as_deref());
                children.extend(raise.cause.as_deref());
                self.generic_line(stmt, &children, out);
            }
            Stmt::Delete(delete) => {
                let children: Vec<&Expr> = delete.targets.iter().collect();
                self.generic_line(stmt, &children, out);
            }
            Stmt::Assert(assert) => {
                if assert.msg.as_deref().is_some_and(|m| self.expr_pauses(m)) {
                    self.unsupported(
                        origin,
                        "an `assert` message (it is evaluated only when the assertion fails)",
                    );
                    out.push(Node::Plain(stmt));
                    return;
                }
                self.generic_line(stmt, &[&assert.test], out);
            }
            Stmt::Try(try_stmt) => self.lower_try(stmt, try_stmt, out),
            // `async with` can only pause in an `async def`: reported by `check` as K021.
            Stmt::With(with) if with.is_async => out.push(Node::Plain(stmt)),
            Stmt::With(with) => {
                let nodes = self.lower_with(&with.items, &with.body, origin, out);
                out.extend(nodes);
            }
            Stmt::Break(_) => out.push(Node::Jump {
                jump: Jump::Break,
                origin,
            }),
            Stmt::Continue(_) => out.push(Node::Jump {
                jump: Jump::Continue,
                origin,
            }),
            Stmt::Match(_) => {
                self.unsupported(origin, "a `match` statement");
                out.push(Node::Plain(stmt));
            }
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {
                self.unsupported(
                    origin,
                    "the decorators, defaults or bases of a nested definition",
                );
                out.push(Node::Plain(stmt));
            }
            _ => {
                self.unsupported(origin, "this statement");
                out.push(Node::Plain(stmt));
            }
        }
    }

    /// A simple statement whose expression children are flattened in place.
    fn generic_line<'a>(&mut self, stmt: &'a Stmt, children: &[&Expr], out: &mut Vec<Node<'a>>) {
        let origin = stmt.range();
        let (replacements, temps) = self.flatten_children(children, &[], out, origin);
        let mut uses = temps;
        for child in children {
            let names = name_uses(child);
            uses.extend(
                names
                    .loads
                    .into_iter()
                    .filter(|(_, r)| !inside(*r, &replacements))
                    .map(|(n, _)| n),
            );
        }
        out.push(Node::Line {
            code: Code {
                text: self.splice(origin, &replacements),
                uses,
                defs: Vec::new(),
            },
            returns: false,
            origin,
        });
    }

    /// The call of a pause point with its arguments (and callee) flattened.
    fn flatten_call_children(&mut self, call: &Expr, out: &mut Vec<Node<'_>>) -> Code {
        let children = eval_children(call);
        let (replacements, temps) =
            self.flatten_children(&children, &dict_unpacked(call), out, call.range());
        self.render(call, &replacements, &temps)
    }

    /// Assignment targets as code: `a = b` for several; uses are the names read by subscript
    /// and attribute targets, defs the names bound.
    fn targets_code(&self, targets: &[Expr]) -> Code {
        let mut code = Code::default();
        let mut texts = Vec::new();
        for target in targets {
            let mut text = self.source[target.range()].to_owned();
            if text.contains('\n') {
                text = format!("({text})");
            }
            texts.push(text);
            let names = name_uses(target);
            code.uses.extend(names.loads.into_iter().map(|(n, _)| n));
            code.defs.extend(names.stores.into_iter().map(|(n, _)| n));
        }
        code.text = texts.join(" = ");
        code
    }

    /// `with` as PEP 343 defines it, item by item, over a `Try` node (which continuations know
    /// how to rebuild): the manager, its `__exit__` looked up before `__enter__` is called,
    /// `__exit__` called once, with the exception if one propagates (suppressing it if it returns
    /// true). The temporaries are named after the statement's line, so that a manager that cannot
    /// be pickled is reported at its `with`.
    fn lower_with<'a>(
        &mut self,
        items: &'a [ast::WithItem],
        body: &'a [Stmt],
        origin: TextRange,
        out: &mut Vec<Node<'a>>,
    ) -> Vec<Node<'a>> {
        let Some((item, rest)) = items.split_first() else {
            return self.lower_block(body);
        };
        let line = self.file.line_of(origin.start());
        let id = self.id();
        let prefix = format!("_kappa_w{line}_{id}");
        let (mgr, exit, exc, error) = (
            format!("{prefix}_mgr"),
            format!("{prefix}_exit"),
            format!("{prefix}_exc"),
            format!("{prefix}_error"),
        );
        let line_node = |text: String, uses: &[&str], defs: &[&str]| Node::Line {
            code: Code {
                text,
                uses: uses.iter().map(|s| (*s).to_owned()).collect(),
                defs: defs.iter().map(|s| (*s).to_owned()).collect(),
            },
            returns: false,
            origin,
        };
        let manager = self.flatten_expr(&item.context_expr, out);
        let mut nodes = Vec::new();
        nodes.push(self.assign_line(&mgr, manager, origin));
        // `__exit__` and `__enter__` looked up, `__enter__` called, with the running Python's
        // own error for an object that is not a context manager.
        let value = format!("{prefix}_value");
        nodes.push(line_node(
            format!("{exit}, {value} = _kappa_rt.enter_context({mgr})"),
            &[&mgr],
            &[&exit, &value],
        ));
        nodes.push(line_node(format!("{exc} = True"), &[], &[&exc]));
        let mut try_body = Vec::new();
        if let Some(vars) = &item.optional_vars {
            if self.expr_pauses(vars) {
                self.unsupported(vars.range(), "the target of a `with` item");
            }
            let target = self.targets_code(std::slice::from_ref(&**vars));
            let mut uses = target.uses;
            uses.push(value.clone());
            try_body.push(Node::Line {
                code: Code {
                    text: format!("{} = {value}", target.text),
                    uses,
                    defs: target.defs,
                },
                returns: false,
                origin,
            });
        }
        let mut inner_prelude = Vec::new();
        let inner = self.lower_with(rest, body, origin, &mut inner_prelude);
        try_body.extend(inner_prelude);
        try_body.extend(inner);
        let handler = super::ir::Handler {
            header: "except BaseException".to_owned(),
            var: error.clone(),
            name: None,
            body: vec![
                line_node(format!("{exc} = False"), &[], &[&exc]),
                line_node(
                    format!("if not {exit}({mgr}, type({error}), {error}, {error}.__traceback__): raise"),
                    &[&exit, &mgr, &error],
                    &[],
                ),
            ],
            origin,
        };
        let try_id = self.id();
        nodes.push(Node::Try {
            id: try_id,
            body: try_body,
            handlers: vec![handler],
            orelse: Vec::new(),
            finalbody: vec![line_node(
                format!("if {exc}: {exit}({mgr}, None, None, None)"),
                &[&exc, &exit, &mgr],
                &[],
            )],
            origin,
        });
        nodes
    }

    fn lower_try<'a>(
        &mut self,
        stmt: &'a Stmt,
        try_stmt: &'a ast::StmtTry,
        out: &mut Vec<Node<'a>>,
    ) {
        let origin = try_stmt.range;
        if try_stmt.is_star {
            self.unsupported(origin, "a `try` statement with `except*`");
            out.push(Node::Plain(stmt));
            return;
        }
        if try_stmt.finalbody.iter().any(|s| self.stmt_pauses(s)) {
            self.lower_pausing_finally(try_stmt, out);
            return;
        }
        let node = self.try_node(
            &try_stmt.body,
            &try_stmt.handlers,
            &try_stmt.orelse,
            &try_stmt.finalbody,
            origin,
        );
        out.push(node);
    }

    fn try_node<'a>(
        &mut self,
        body: &'a [Stmt],
        except_handlers: &'a [ast::ExceptHandler],
        orelse: &'a [Stmt],
        finalbody: &'a [Stmt],
        origin: TextRange,
    ) -> Node<'a> {
        let id = self.id();
        let body = self.lower_block(body);
        let mut handlers = Vec::new();
        for (index, handler) in except_handlers.iter().enumerate() {
            let ast::ExceptHandler::ExceptHandler(h) = handler;
            let header = match &h.type_ {
                Some(type_) => {
                    if self.expr_pauses(type_) {
                        self.unsupported(type_.range(), "the exception type of an `except` clause");
                    }
                    let text = &self.source[type_.range()];
                    if text.contains('\n') {
                        format!("except ({text})")
                    } else {
                        format!("except {text}")
                    }
                }
                None => "except BaseException".to_owned(),
            };
            handlers.push(super::ir::Handler {
                header,
                var: format!("_kappa_e{id}_{index}"),
                name: h.name.as_ref().map(|n| n.id.to_string()),
                body: self.lower_block(&h.body),
                origin: h.range,
            });
        }
        let orelse = self.lower_block(orelse);
        let finalbody = self.lower_block(finalbody);
        Node::Try {
            id,
            body,
            handlers,
            orelse,
            finalbody,
            origin,
        }
    }

    /// A `try` whose `finally` block pauses: the rest of the `try` runs inside a one-shot
    /// loop that records how it ended — the exception leaving it, or a `return` (with its
    /// value), `break` or `continue` leaving it, each of which leaves the one-shot loop; then the
    /// `finally` block runs as ordinary code (so it can pause), then the recorded ending is
    /// carried out.
    ///
    /// ```python
    /// _kappa_fe = None; _kappa_fk = 0
    /// for _kappa_once in (0,):
    ///     try:
    ///         <the try statement without its finally; `return x` is
    ///          `_kappa_fr = x; _kappa_fk = 1; break`, `break` is `_kappa_fk = 2; break` ...>
    ///     except BaseException as _kappa_fx:   # a pause unwinding is let through before this
    ///         _kappa_fe = _kappa_fx
    /// <finally block>
    /// if _kappa_fe is not None: raise _kappa_fe
    /// if _kappa_fk == 1: return _kappa_fr      (and `break`, `continue`)
    /// ```
    fn lower_pausing_finally<'a>(&mut self, try_stmt: &'a ast::StmtTry, out: &mut Vec<Node<'a>>) {
        let origin = try_stmt.range;
        let id = self.id();
        let names = Ending {
            pending: format!("_kappa_fe{id}"),
            kind: format!("_kappa_fk{id}"),
            value: format!("_kappa_fr{id}"),
        };
        let caught = format!("_kappa_fx{id}");
        let line = |text: String, uses: Vec<String>, defs: Vec<String>| Node::Line {
            code: Code { text, uses, defs },
            returns: false,
            origin,
        };
        out.push(line(
            format!("{} = None", names.pending),
            vec![],
            vec![names.pending.clone()],
        ));
        self.lower_jumps += 1;
        let mut without_finally = if try_stmt.handlers.is_empty() {
            self.lower_block(&try_stmt.body)
        } else {
            vec![self.try_node(
                &try_stmt.body,
                &try_stmt.handlers,
                &try_stmt.orelse,
                &[],
                origin,
            )]
        };
        self.lower_jumps -= 1;
        let mut jumps = [false; 3];
        let mut next_id = self.next_id;
        redirect_jumps(&mut without_finally, &names, &mut jumps, &mut || {
            next_id += 1;
            next_id
        });
        self.next_id = next_id;
        if jumps.iter().any(|j| *j) {
            out.push(line(
                format!("{} = 0", names.kind),
                vec![],
                vec![names.kind.clone()],
            ));
        }
        let try_id = self.id();
        let guarded = Node::Try {
            id: try_id,
            body: without_finally,
            handlers: vec![super::ir::Handler {
                header: "except BaseException".to_owned(),
                var: caught.clone(),
                name: None,
                body: vec![line(
                    format!("{} = {caught}", names.pending),
                    vec![caught.clone()],
                    vec![names.pending.clone()],
                )],
                origin,
            }],
            orelse: Vec::new(),
            finalbody: Vec::new(),
            origin,
        };
        if jumps.iter().any(|j| *j) {
            let loop_id = self.id();
            out.push(Node::For {
                id: loop_id,
                target: Code {
                    text: format!("_kappa_once{loop_id}"),
                    uses: Vec::new(),
                    defs: vec![format!("_kappa_once{loop_id}")],
                },
                iter: Code {
                    text: "(0,)".to_owned(),
                    ..Code::default()
                },
                iterator_var: format!("_kappa_it{loop_id}"),
                body: vec![guarded],
                orelse: Vec::new(),
                origin,
            });
        } else {
            out.push(guarded);
        }
        out.extend(self.lower_block(&try_stmt.finalbody));
        out.push(line(
            format!("if {0} is not None: raise {0}", names.pending),
            vec![names.pending.clone()],
            vec![],
        ));
        for (index, jumped) in jumps.iter().enumerate() {
            if !*jumped {
                continue;
            }
            let then = match index {
                0 => Node::Line {
                    code: Code {
                        text: format!("return {}", names.value),
                        uses: vec![names.value.clone()],
                        defs: Vec::new(),
                    },
                    returns: true,
                    origin,
                },
                1 => Node::Jump {
                    jump: Jump::Break,
                    origin,
                },
                _ => Node::Jump {
                    jump: Jump::Continue,
                    origin,
                },
            };
            let if_id = self.id();
            out.push(Node::If {
                id: if_id,
                test: Code {
                    text: format!("{} == {}", names.kind, index + 1),
                    uses: vec![names.kind.clone()],
                    defs: Vec::new(),
                },
                body: vec![then],
                orelse: Vec::new(),
                origin,
            });
        }
    }

    fn lower_if<'a>(
        &mut self,
        test: &Expr,
        body: &'a [Stmt],
        clauses: &'a [ast::ElifElseClause],
        origin: TextRange,
        out: &mut Vec<Node<'a>>,
    ) -> Node<'a> {
        let test = self.flatten_expr(test, out);
        let body = self.lower_block(body);
        let orelse = match clauses.split_first() {
            None => Vec::new(),
            Some((clause, rest)) => match &clause.test {
                None => self.lower_block(&clause.body),
                Some(elif_test) => {
                    let mut block = Vec::new();
                    let node =
                        self.lower_if(elif_test, &clause.body, rest, clause.range, &mut block);
                    block.push(node);
                    block
                }
            },
        };
        let id = self.id();
        Node::If {
            id,
            test,
            body,
            orelse,
            origin,
        }
    }

    /// `place op= value` where `place` (an attribute or an item of evaluated temporaries) is
    /// read before the value is evaluated, as Python does, and written back after.
    fn aug_assign_place(
        &mut self,
        place: String,
        place_uses: Vec<String>,
        op: &str,
        value: &Expr,
        origin: TextRange,
        out: &mut Vec<Node<'_>>,
    ) {
        let old = self.temp();
        out.push(self.assign_line(
            &old,
            Code {
                text: place.clone(),
                uses: place_uses.clone(),
                defs: Vec::new(),
            },
            origin,
        ));
        let value = self.flatten_expr(value, out);
        let mut uses = value.uses;
        uses.push(old.clone());
        out.push(Node::Line {
            code: Code {
                text: format!("{old} {op}= {}", value.text),
                uses,
                defs: vec![old.clone()],
            },
            returns: false,
            origin,
        });
        let mut uses = place_uses;
        uses.push(old.clone());
        out.push(Node::Line {
            code: Code {
                text: format!("{place} = {old}"),
                uses,
                defs: Vec::new(),
            },
            returns: false,
            origin,
        });
    }

    fn lower_aug_assign<'a>(&mut self, assign: &'a ast::StmtAugAssign, out: &mut Vec<Node<'a>>) {
        let origin = assign.range;
        let op = assign.op.as_str();
        match &*assign.target {
            Expr::Name(name) => {
                let value = self.flatten_expr(&assign.value, out);
                let mut uses = value.uses;
                uses.push(name.id.to_string());
                out.push(Node::Line {
                    code: Code {
                        text: format!("{} {op}= {}", name.id, value.text),
                        uses,
                        defs: vec![name.id.to_string()],
                    },
                    returns: false,
                    origin,
                });
            }
            Expr::Attribute(attribute) if !self.expr_pauses(&attribute.value) => {
                let object = self.temp();
                out.push(self.assign_line(&object, self.plain_code(&attribute.value), origin));
                let place = format!("{object}.{}", attribute.attr);
                self.aug_assign_place(place, vec![object], op, &assign.value, origin, out);
            }
            Expr::Subscript(subscript)
                if !self.expr_pauses(&subscript.value) && !self.expr_pauses(&subscript.slice) =>
            {
                let object = self.temp();
                let key = self.temp();
                out.push(self.assign_line(&object, self.plain_code(&subscript.value), origin));
                out.push(self.assign_line(&key, self.plain_code(&subscript.slice), origin));
                let place = format!("{object}[{key}]");
                self.aug_assign_place(place, vec![object, key], op, &assign.value, origin, out);
            }
            _ => {
                self.unsupported(
                    origin,
                    "an augmented assignment whose target contains a pause point",
                );
            }
        }
    }
}

/// Whether a statement holds a `break` or `continue` that leaves it (not inside a loop of its own).
/// The variables a pausing `finally` records how the rest of its `try` ended in.
struct Ending {
    /// The exception leaving the `try`, or None.
    pending: String,
    /// 0: it ended normally (or raised); 1: `return`; 2: `break`; 3: `continue`.
    kind: String,
    /// The value of the `return`.
    value: String,
}

/// Rewrites the jumps that leave the `try` of a pausing `finally` (`return`s anywhere, and
/// `break`/`continue` not inside a loop of the `try`) into "record, then leave the one-shot
/// loop". `jumps` says which kinds occurred (return, break, continue).
fn redirect_jumps(
    nodes: &mut Vec<Node<'_>>,
    names: &Ending,
    jumps: &mut [bool; 3],
    new_id: &mut dyn FnMut() -> NodeId,
) {
    redirect_in(nodes, names, jumps, 0, new_id);
}

/// Returns whether it rewrote anything. A jump redirected inside a loop of the `try` only
/// leaves that loop: the loop is followed by `if <kind>: break`, which leaves the next one.
fn redirect_in(
    nodes: &mut Vec<Node<'_>>,
    names: &Ending,
    jumps: &mut [bool; 3],
    loops: u32,
    new_id: &mut dyn FnMut() -> NodeId,
) -> bool {
    let mut redirected = false;
    let mut index = 0;
    while index < nodes.len() {
        let mut after_loop = None;
        let replacement = match &mut nodes[index] {
            Node::Line {
                code,
                returns: true,
                origin,
            } => {
                jumps[0] = true;
                let value = code.text.strip_prefix("return").unwrap_or("").trim();
                let value = if value.is_empty() { "None" } else { value };
                let record = |text: String, uses: Vec<String>, defs: Vec<String>| Node::Line {
                    code: Code { text, uses, defs },
                    returns: false,
                    origin: *origin,
                };
                Some(vec![
                    record(
                        format!("{} = {value}", names.value),
                        code.uses.clone(),
                        vec![names.value.clone()],
                    ),
                    record(
                        format!("{} = 1", names.kind),
                        vec![],
                        vec![names.kind.clone()],
                    ),
                    Node::Jump {
                        jump: Jump::Break,
                        origin: *origin,
                    },
                ])
            }
            Node::Jump { jump, origin } if loops == 0 => {
                let kind = if *jump == Jump::Break { 2 } else { 3 };
                jumps[kind - 1] = true;
                Some(vec![
                    Node::Line {
                        code: Code {
                            text: format!("{} = {kind}", names.kind),
                            uses: Vec::new(),
                            defs: vec![names.kind.clone()],
                        },
                        returns: false,
                        origin: *origin,
                    },
                    Node::Jump {
                        jump: Jump::Break,
                        origin: *origin,
                    },
                ])
            }
            Node::If { body, orelse, .. } => {
                redirected |= redirect_in(body, names, jumps, loops, new_id);
                redirected |= redirect_in(orelse, names, jumps, loops, new_id);
                None
            }
            Node::For {
                body,
                orelse,
                origin,
                ..
            }
            | Node::While {
                body,
                orelse,
                origin,
                ..
            } => {
                if redirect_in(body, names, jumps, loops + 1, new_id) {
                    redirected = true;
                    after_loop = Some(*origin);
                }
                // A loop's `else` is outside the loop: its jumps are the enclosing loop's.
                redirected |= redirect_in(orelse, names, jumps, loops, new_id);
                None
            }
            Node::Try {
                body,
                handlers,
                orelse,
                finalbody,
                ..
            } => {
                redirected |= redirect_in(body, names, jumps, loops, new_id);
                for handler in handlers {
                    redirected |= redirect_in(&mut handler.body, names, jumps, loops, new_id);
                }
                redirected |= redirect_in(orelse, names, jumps, loops, new_id);
                redirected |= redirect_in(finalbody, names, jumps, loops, new_id);
                None
            }
            _ => None,
        };
        match replacement {
            Some(new) => {
                redirected = true;
                let count = new.len();
                nodes.splice(index..=index, new);
                index += count;
            }
            None => index += 1,
        }
        if let Some(origin) = after_loop {
            nodes.insert(index, leave_if_recorded(names, origin, new_id()));
            index += 1;
        }
    }
    redirected
}

/// `if <kind>: break`, after a loop of the `try` that a redirected jump left.
fn leave_if_recorded<'a>(names: &Ending, origin: TextRange, id: NodeId) -> Node<'a> {
    Node::If {
        id,
        test: Code {
            text: names.kind.clone(),
            uses: vec![names.kind.clone()],
            defs: Vec::new(),
        },
        body: vec![Node::Jump {
            jump: Jump::Break,
            origin,
        }],
        orelse: Vec::new(),
        origin,
    }
}

/// Whether a statement holds a `return`, `break` or `continue` (not in a nested function).
fn holds_jump(stmt: &Stmt) -> bool {
    struct Finder(bool);
    impl<'a> Visitor<'a> for Finder {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
                Stmt::Return(_) | Stmt::Break(_) | Stmt::Continue(_) => self.0 = true,
                _ => visitor::walk_stmt(self, stmt),
            }
        }
        fn visit_expr(&mut self, _expr: &'a Expr) {}
    }
    let mut finder = Finder(false);
    finder.visit_stmt(stmt);
    finder.0
}

enum ComprehensionKind<'e> {
    List(&'e Expr),
    Set(&'e Expr),
    Dict(&'e Expr, &'e Expr),
    /// `any(elt for ...)` with one `for`: stops at the first true element.
    Any(&'e Expr),
    /// `all(elt for ...)` with one `for`: stops at the first false element.
    All(&'e Expr),
}

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

/// The ranges of the children unpacked with `**` (`f(**kw)`, `{**d}`).
fn dict_unpacked(expr: &Expr) -> Vec<TextRange> {
    match expr {
        Expr::Call(call) => call
            .arguments
            .keywords
            .iter()
            .filter(|k| k.arg.is_none())
            .map(|k| k.value.range())
            .collect(),
        Expr::Dict(dict) => dict
            .items
            .iter()
            .filter(|item| item.key.is_none())
            .map(|item| item.value.range())
            .collect(),
        _ => Vec::new(),
    }
}

/// The direct sub-expressions of an expression in the order Python evaluates them.
fn eval_children(expr: &Expr) -> Vec<&Expr> {
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

/// Whether an f-string has a `{expr=}` field (at any depth).
fn fstring_has_debug_text(fstring: &ast::ExprFString) -> bool {
    fn any_debug(elements: &ast::InterpolatedStringElements) -> bool {
        elements.interpolations().any(|field| {
            field.debug_text.is_some()
                || field
                    .format_spec
                    .as_ref()
                    .is_some_and(|spec| any_debug(&spec.elements))
        })
    }
    fstring
        .value
        .f_strings()
        .any(|part| any_debug(&part.elements))
}
