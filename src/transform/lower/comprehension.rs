//! Comprehensions (and generator expressions drained by a builtin) with pause points, lowered
//! to loops that build the result, with the comprehension's own variables renamed.

use ruff_python_ast::{self as ast, Expr};
use ruff_text_size::TextRange;

use super::Lowerer;
use crate::analyze::names::in_expr as name_uses;
use crate::transform::ir::{CompilerVariable, Jump, Node, Snippet};

impl<'s> Lowerer<'s> {
    pub(super) fn flatten_comprehension(
        &mut self,
        generators: &[ast::Comprehension],
        kind: ComprehensionKind<'_>,
        origin: TextRange,
        out: &mut Vec<Node<'_>>,
    ) -> Snippet {
        let result = self.temp();
        let init = match kind {
            ComprehensionKind::List(_) => "[]",
            ComprehensionKind::Set(_) => "set()",
            ComprehensionKind::Dict(..) => "{}",
            ComprehensionKind::Any(_) => "False",
            ComprehensionKind::All(_) => "True",
        };
        out.push(Node::Line {
            code: Snippet {
                text: format!("{result} = {init}"),
                uses: Vec::new(),
                defs: vec![result.clone()],
            },
            returned: None,
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
    pub(super) fn comprehension_level<'n>(
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
                    Snippet {
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
                        test: Snippet {
                            text: test,
                            uses: code.uses,
                            defs: code.defs,
                        },
                        body: vec![
                            Node::Line {
                                code: Snippet {
                                    text: format!(
                                        "{result} = {}",
                                        if any { "True" } else { "False" }
                                    ),
                                    uses: Vec::new(),
                                    defs: vec![result.to_owned()],
                                },
                                returned: None,
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
                    Snippet {
                        text: format!("{result}[{key_temp}] = {}", value.text),
                        uses,
                        defs: value.defs,
                    }
                }
            };
            nodes.push(Node::Line {
                code: line,
                returned: None,
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
            let fresh = self.variable(
                fresh,
                CompilerVariable::ComprehensionVariable { name: name.clone() },
            );
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
        let line = self.line_of(origin.start());
        let iterator_var = self.variable(
            format!("_kappa_it{id}"),
            CompilerVariable::Iterator { line },
        );
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
    pub(super) fn flatten_renamed(
        &mut self,
        expr: &Expr,
        renames: &[(String, String)],
        out: &mut Vec<Node<'_>>,
    ) -> Snippet {
        let outer = self.renames.len();
        self.renames.extend_from_slice(renames);
        let code = self.flatten_expr(expr, out);
        self.renames.truncate(outer);
        code
    }
}

pub(super) enum ComprehensionKind<'e> {
    List(&'e Expr),
    Set(&'e Expr),
    Dict(&'e Expr, &'e Expr),
    /// `any(elt for ...)` with one `for`: stops at the first true element.
    Any(&'e Expr),
    /// `all(elt for ...)` with one `for`: stops at the first false element.
    All(&'e Expr),
}
