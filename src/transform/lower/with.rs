//! A `with` statement whose block pauses, expanded into what Python does (enter, the block in a
//! `try`, exit once), with the manager kept in variables that checkpoints save.

use ruff_python_ast::{self as ast, Stmt};
use ruff_text_size::{Ranged, TextRange};

use super::Lowerer;
use crate::transform::ir::{CompilerVariable, Node, Snippet};

impl<'s> Lowerer<'s> {
    /// `with` as PEP 343 defines it, item by item, over a `Try` node (which continuations know
    /// how to rebuild): the manager, its `__exit__` looked up before `__enter__` is called,
    /// `__exit__` called once, with the exception if one propagates (suppressing it if it returns
    /// true). The temporaries are named after the statement's line, so that a manager that cannot
    /// be pickled is reported at its `with`.
    pub(super) fn lower_with<'a>(
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
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        let (mgr, exit, exc, error) = (
            self.variable(
                format!("{prefix}_mgr"),
                CompilerVariable::WithManager { line },
            ),
            self.variable(
                format!("{prefix}_exit"),
                CompilerVariable::WithExit { line },
            ),
            self.variable(
                format!("{prefix}_exc"),
                CompilerVariable::WithState { line },
            ),
            self.variable(
                format!("{prefix}_error"),
                CompilerVariable::WithState { line },
            ),
        );
        let line_node = |text: String, uses: &[&str], defs: &[&str]| Node::Line {
            code: Snippet {
                text,
                uses: uses.iter().map(|s| (*s).to_owned()).collect(),
                defs: defs.iter().map(|s| (*s).to_owned()).collect(),
            },
            returned: None,
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
                code: Snippet {
                    text: format!("{} = {value}", target.text),
                    uses,
                    defs: target.defs,
                },
                returned: None,
                origin,
            });
        }
        let mut inner_prelude = Vec::new();
        let inner = self.lower_with(rest, body, origin, &mut inner_prelude);
        try_body.extend(inner_prelude);
        try_body.extend(inner);
        let handler = crate::transform::ir::Handler {
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
}
