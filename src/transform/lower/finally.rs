//! A `try` whose `finally` pauses: the `finally` block moved after the statement, with how the
//! statement was left (exception, `return`, `break`, `continue`) recorded and replayed.

use ruff_python_ast as ast;
use ruff_text_size::TextRange;

use super::Lowerer;
use crate::transform::ir::{CompilerVariable, Jump, Node, NodeId, Snippet};
use std::collections::BTreeSet;

impl<'s> Lowerer<'s> {
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
    pub(super) fn lower_pausing_finally<'a>(
        &mut self,
        try_stmt: &'a ast::StmtTry,
        out: &mut Vec<Node<'a>>,
    ) {
        let origin = try_stmt.range;
        let id = self.id();
        let try_line = self.line_of(origin.start());
        let state = CompilerVariable::FinallyState { line: try_line };
        let names = Ending {
            pending: self.variable(format!("_kappa_fe{id}"), state.clone()),
            kind: self.variable(format!("_kappa_fk{id}"), state.clone()),
            value: self.variable(format!("_kappa_fr{id}"), state.clone()),
        };
        let caught = self.variable(format!("_kappa_fx{id}"), state);
        let line = |text: String, uses: Vec<String>, defs: Vec<String>| Node::Line {
            code: Snippet { text, uses, defs },
            returned: None,
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
        let mut jumps = BTreeSet::new();
        let mut next_id = self.next_id;
        redirect_jumps(&mut without_finally, &names, &mut jumps, &mut || {
            next_id += 1;
            next_id
        });
        self.next_id = next_id;
        if !jumps.is_empty() {
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
            handlers: vec![crate::transform::ir::Handler {
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
        if !jumps.is_empty() {
            let loop_id = self.id();
            let once = self.variable(
                format!("_kappa_once{loop_id}"),
                CompilerVariable::JumpState { line: try_line },
            );
            let iterator_var = self.variable(
                format!("_kappa_it{loop_id}"),
                CompilerVariable::JumpState { line: try_line },
            );
            out.push(Node::For {
                id: loop_id,
                target: Snippet {
                    text: once.clone(),
                    uses: Vec::new(),
                    defs: vec![once],
                },
                iter: Snippet {
                    text: "(0,)".to_owned(),
                    ..Snippet::default()
                },
                iterator_var,
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
        for exit in jumps {
            let then = match exit {
                Exit::Return => {
                    let value = Snippet {
                        text: names.value.clone(),
                        uses: vec![names.value.clone()],
                        defs: Vec::new(),
                    };
                    Node::Line {
                        code: Snippet {
                            text: format!("return {}", value.text),
                            ..value.clone()
                        },
                        returned: Some(Some(value)),
                        origin,
                    }
                }
                Exit::Break => Node::Jump {
                    jump: Jump::Break,
                    origin,
                },
                Exit::Continue => Node::Jump {
                    jump: Jump::Continue,
                    origin,
                },
            };
            let if_id = self.id();
            out.push(Node::If {
                id: if_id,
                test: Snippet {
                    text: format!("{} == {}", names.kind, exit as u8),
                    uses: vec![names.kind.clone()],
                    defs: Vec::new(),
                },
                body: vec![then],
                orelse: Vec::new(),
                origin,
            });
        }
    }
}

/// The variables a pausing `finally` records how the rest of its `try` ended in.
pub(super) struct Ending {
    /// The exception leaving the `try`, or None.
    pending: String,
    /// 0: it ended normally (or raised); else the `Exit` it took.
    kind: String,
    /// The value of the `return`.
    value: String,
}

/// How the `try` of a pausing `finally` was left, other than normally or by an exception: the
/// number its `Ending::kind` variable records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Exit {
    Return = 1,
    Break = 2,
    Continue = 3,
}

/// Rewrites the jumps that leave the `try` of a pausing `finally` (`return`s anywhere, and
/// `break`/`continue` not inside a loop of the `try`) into "record, then leave the one-shot
/// loop". `jumps` gets the kinds that occurred.
pub(super) fn redirect_jumps(
    nodes: &mut Vec<Node<'_>>,
    names: &Ending,
    jumps: &mut BTreeSet<Exit>,
    new_id: &mut dyn FnMut() -> NodeId,
) {
    redirect_in(nodes, names, jumps, 0, new_id);
}

/// Returns whether it rewrote anything. A jump redirected inside a loop of the `try` only
/// leaves that loop: the loop is followed by `if <kind>: break`, which leaves the next one.
pub(super) fn redirect_in(
    nodes: &mut Vec<Node<'_>>,
    names: &Ending,
    jumps: &mut BTreeSet<Exit>,
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
                returned: Some(returned),
                origin,
            } => {
                jumps.insert(Exit::Return);
                let value = returned
                    .as_ref()
                    .map_or("None", |value| value.text.as_str());
                let record = |text: String, uses: Vec<String>, defs: Vec<String>| Node::Line {
                    code: Snippet { text, uses, defs },
                    returned: None,
                    origin: *origin,
                };
                Some(vec![
                    record(
                        format!("{} = {value}", names.value),
                        code.uses.clone(),
                        vec![names.value.clone()],
                    ),
                    record(
                        format!("{} = {}", names.kind, Exit::Return as u8),
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
                let exit = if *jump == Jump::Break {
                    Exit::Break
                } else {
                    Exit::Continue
                };
                jumps.insert(exit);
                Some(vec![
                    Node::Line {
                        code: Snippet {
                            text: format!("{} = {}", names.kind, exit as u8),
                            uses: Vec::new(),
                            defs: vec![names.kind.clone()],
                        },
                        returned: None,
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
pub(super) fn leave_if_recorded<'a>(names: &Ending, origin: TextRange, id: NodeId) -> Node<'a> {
    Node::If {
        id,
        test: Snippet {
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
