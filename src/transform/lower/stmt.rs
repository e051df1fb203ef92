//! Statement lowering: each statement of a pausing function to IR nodes (`if`, loops, `try`,
//! assignments, and the rest kept verbatim when they do not pause).

use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::{Ranged, TextRange};

use super::expr::dict_unpacked;
use super::{inside, Lowerer};
use crate::analyze::names::in_expr as name_uses;
use crate::transform::ir::{CompilerVariable, Jump, Node, Snippet};

impl<'s> Lowerer<'s> {
    /// Lowers a block of statements.
    pub fn lower_block<'a>(&mut self, body: &'a [Stmt]) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        for stmt in body {
            self.lower_stmt(stmt, &mut out);
        }
        out
    }

    pub(super) fn lower_stmt<'a>(&mut self, stmt: &'a Stmt, out: &mut Vec<Node<'a>>) {
        let redirectable_jump =
            self.lower_jumps > 0 && crate::knowledge::JumpsLeaving::of(stmt).holds_any();
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
                    let bare_temp = matches!(
                        self.variables.get(&code.text),
                        Some(CompilerVariable::Temporary)
                    );
                    if !bare_temp {
                        out.push(Node::Line {
                            code,
                            returned: None,
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
                        code: Snippet {
                            text: format!("{} = {}", target.text, value.text),
                            uses,
                            defs,
                        },
                        returned: None,
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
                        code: Snippet {
                            text: format!("{} = {}", target.text, value.text),
                            uses,
                            defs: target.defs,
                        },
                        returned: None,
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
                        code: Snippet {
                            text: "return".to_owned(),
                            ..Snippet::default()
                        },
                        returned: Some(None),
                        origin,
                    });
                    return;
                };
                let code = self.flatten_expr(value, out);
                out.push(Node::Line {
                    code: Snippet {
                        text: format!("return {}", code.text),
                        uses: code.uses.clone(),
                        defs: code.defs.clone(),
                    },
                    returned: Some(Some(code)),
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
                    if while_stmt
                        .orelse
                        .iter()
                        .any(|s| crate::knowledge::JumpsLeaving::of(s).leaves_loop())
                    {
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
                        test: Snippet {
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
                        test: Snippet {
                            text: "True".to_owned(),
                            ..Snippet::default()
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
                let line = self.line_of(origin.start());
                let iterator_var = self.variable(
                    format!("_kappa_it{id}"),
                    CompilerVariable::Iterator { line },
                );
                out.push(Node::For {
                    id,
                    target,
                    iter,
                    iterator_var,
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
    pub(super) fn generic_line<'a>(
        &mut self,
        stmt: &'a Stmt,
        children: &[&Expr],
        out: &mut Vec<Node<'a>>,
    ) {
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
            code: Snippet {
                text: self.splice(origin, &replacements),
                uses,
                defs: Vec::new(),
            },
            returned: None,
            origin,
        });
    }

    /// The call of a pause point with its arguments (and callee) flattened.
    pub(super) fn flatten_call_children(
        &mut self,
        call: &Expr,
        out: &mut Vec<Node<'_>>,
    ) -> Snippet {
        let children = crate::knowledge::evaluation_order(call);
        let (replacements, temps) =
            self.flatten_children(&children, &dict_unpacked(call), out, call.range());
        self.render(call, &replacements, &temps)
    }

    /// Assignment targets as code: `a = b` for several; uses are the names read by subscript
    /// and attribute targets, defs the names bound.
    pub(super) fn targets_code(&self, targets: &[Expr]) -> Snippet {
        let mut code = Snippet::default();
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

    pub(super) fn lower_try<'a>(
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

    pub(super) fn try_node<'a>(
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
            let line = self.line_of(h.range.start());
            let var = self.variable(
                format!("_kappa_e{id}_{index}"),
                CompilerVariable::CaughtException { line },
            );
            handlers.push(crate::transform::ir::Handler {
                header,
                var,
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

    pub(super) fn lower_if<'a>(
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
    pub(super) fn aug_assign_place(
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
            Snippet {
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
            code: Snippet {
                text: format!("{old} {op}= {}", value.text),
                uses,
                defs: vec![old.clone()],
            },
            returned: None,
            origin,
        });
        let mut uses = place_uses;
        uses.push(old.clone());
        out.push(Node::Line {
            code: Snippet {
                text: format!("{place} = {old}"),
                uses,
                defs: Vec::new(),
            },
            returned: None,
            origin,
        });
    }

    pub(super) fn lower_aug_assign<'a>(
        &mut self,
        assign: &'a ast::StmtAugAssign,
        out: &mut Vec<Node<'a>>,
    ) {
        let origin = assign.range;
        let op = assign.op.as_str();
        match &*assign.target {
            Expr::Name(name) => {
                let value = self.flatten_expr(&assign.value, out);
                let mut uses = value.uses;
                uses.push(name.id.to_string());
                out.push(Node::Line {
                    code: Snippet {
                        text: format!("{} {op}= {}", name.id, value.text),
                        uses,
                        defs: vec![name.id.to_string()],
                    },
                    returned: None,
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
