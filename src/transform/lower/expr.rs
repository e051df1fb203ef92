//! Expression flattening: everything an expression evaluates before a pause point is spilled
//! into temporaries, in Python's evaluation order, so that the pause is a statement of its own.

use ruff_python_ast::{self as ast, BoolOp, Expr};
use ruff_text_size::{Ranged, TextRange};

use super::comprehension::ComprehensionKind;
use super::Lowerer;
use crate::transform::ir::{Node, Snippet};

impl<'s> Lowerer<'s> {
    /// Whether evaluating `expr` earlier or later gives the same value around a call.
    pub(super) fn is_stable(&self, expr: &Expr) -> bool {
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
    pub(super) fn flatten_children(
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
            code: Snippet,
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
                        code: Snippet {
                            text: format!("{temp} = {value}"),
                            uses: earlier.code.uses.clone(),
                            defs: vec![temp.clone()],
                        },
                        returned: None,
                        origin,
                    });
                    earlier.code = Snippet {
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
    pub fn flatten_expr(&mut self, expr: &Expr, out: &mut Vec<Node<'_>>) -> Snippet {
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
                let children = crate::knowledge::evaluation_order(expr);
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
                        target: Some(Snippet {
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
        if !crate::knowledge::DRAINING_BUILTINS.contains(&name.id.as_str())
            || (self.shadowed)(name.id.as_str())
        {
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

    pub(super) fn flatten_draining_call(
        &mut self,
        call: &ast::ExprCall,
        out: &mut Vec<Node<'_>>,
    ) -> Snippet {
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

    pub(super) fn flatten_bool_op(
        &mut self,
        bool_op: &ast::ExprBoolOp,
        out: &mut Vec<Node<'_>>,
    ) -> Snippet {
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
                test: Snippet {
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
    pub(super) fn flatten_chain(
        &mut self,
        compare: &ast::ExprCompare,
        out: &mut Vec<Node<'_>>,
    ) -> Snippet {
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
                code: Snippet {
                    text: format!("{result} = {left} {} {right}", op.as_str()),
                    uses: vec![left.clone(), right.clone()],
                    defs: vec![result.clone()],
                },
                returned: None,
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
}

/// The ranges of the children unpacked with `**` (`f(**kw)`, `{**d}`).
pub(super) fn dict_unpacked(expr: &Expr) -> Vec<TextRange> {
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

/// Whether an f-string has a `{expr=}` field (at any depth).
pub(super) fn fstring_has_debug_text(fstring: &ast::ExprFString) -> bool {
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
