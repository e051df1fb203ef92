//! The entry point: handler.py must define `handler(event, context)` (K010, K011).

use ruff_text_size::{TextRange, TextSize};

use super::scopes::{Binding, FunctionNode};
use super::Context;
use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};

pub(super) fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let scopes = &ctx.analysis.scopes;
    let id = match scopes.module_bindings.get("handler") {
        Some(Binding::Function(id)) => *id,
        // Bound some other way (`handler = make_handler()`): callable-ness cannot be checked.
        Some(_) => return,
        None => {
            out.push(
                Diagnostic::new(
                    Code::MissingHandler,
                    "no `handler` function: a run starts by calling `handler(event, context)`",
                    Label::new(TextRange::empty(TextSize::default()), "in this file"),
                )
                .with_help("define `def handler(event, context):` at module level"),
            );
            return;
        }
    };
    let function = scopes.function(id);
    let FunctionNode::Def(def) = function.node else {
        return;
    };
    let parameters = &def.parameters;
    let positional: Vec<_> = parameters
        .posonlyargs
        .iter()
        .chain(&parameters.args)
        .collect();
    let required = positional.iter().filter(|p| p.default.is_none()).count();
    let accepts_two = positional.len() >= 2 || parameters.vararg.is_some();
    let required_keyword: Vec<&str> = parameters
        .kwonlyargs
        .iter()
        .filter(|p| p.default.is_none())
        .map(|p| p.parameter.name.id.as_str())
        .collect();
    let problem = if def.is_async {
        Some("`handler` is `async def`; the coordinator calls it as a plain function".to_owned())
    } else if required > 2 {
        Some(format!(
            "`handler` requires {required} positional arguments, but is called with 2 (event, context)"
        ))
    } else if !accepts_two {
        Some(format!(
            "`handler` accepts {} positional argument{}, but is called with 2 (event, context)",
            positional.len(),
            if positional.len() == 1 { "" } else { "s" }
        ))
    } else if !required_keyword.is_empty() {
        Some(format!(
            "`handler` requires keyword-only argument{} {}, which the coordinator never passes",
            if required_keyword.len() == 1 { "" } else { "s" },
            required_keyword
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else {
        None
    };
    if let Some(message) = problem {
        out.push(
            Diagnostic::new(
                Code::HandlerSignature,
                message,
                Label::new(parameters.range, "parameters declared here"),
            )
            .with_secondary(function.name_range, "the entry point")
            .with_help("declare it as `def handler(event, context):`"),
        );
    }
}
