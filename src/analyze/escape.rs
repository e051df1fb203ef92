//! Escape: a function that can pause, passed as a value into code kappac does not compile
//! (K040), or given to `spawn` when it cannot be pickled by reference (K036).

use rustc_hash::FxHashSet;

use super::calls::{Sink, Value, VarKey};
use super::scopes::{FunctionId, FunctionNode, ScopeId};
use super::{short, Context};
use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};

/// Reports escapes and returns the functions already reported, so that the restrictions pass
/// does not report the same function again as a pausing nested function.
pub(super) fn check(ctx: &Context, out: &mut Vec<Diagnostic>) -> FxHashSet<FunctionId> {
    let analysis = ctx.analysis;
    let mut reported = FxHashSet::default();
    let mut seen_sources = FxHashSet::default();
    for flow in &analysis.calls.flows {
        let Sink::Escape { callee_range } = flow.sink else {
            continue;
        };
        for source in &flow.sources {
            // Values received from the coordinator may be anything; reporting every such value
            // passed to `print` would drown real escapes.
            if source.value == Value::Variable(VarKey::ThroughCoordinator)
                || !analysis.can_pause.value_can_pause(source.value)
                || !seen_sources.insert((source.range.start(), callee_range.start()))
            {
                continue;
            }
            let value = short(ctx.text(source.range));
            let callee = short(ctx.text(callee_range));
            let mut diagnostic = match source.value {
                Value::Function(id) => {
                    reported.insert(id);
                    Diagnostic::new(
                        Code::PausingFunctionEscapes,
                        format!(
                            "`{value}` can pause, but it is passed to `{callee}`, which kappac does not compile"
                        ),
                        Label::new(source.range, "this function can pause"),
                    )
                    .with_optional_note(ctx.why_pauses(id))
                }
                Value::Variable(_) => Diagnostic::new(
                    Code::PausingFunctionEscapes,
                    format!(
                        "`{value}` may hold a function that can pause, but it is passed to `{callee}`, which kappac does not compile"
                    ),
                    Label::new(source.range, "may be a function that can pause"),
                ),
            };
            diagnostic = diagnostic
                .with_secondary(callee_range, "not compiled by kappac: it would call the function directly")
                .with_help(
                    "call the function from code in handler.py instead, e.g. `[f(x) for x in xs]` instead of `map(f, xs)`",
                );
            out.push(diagnostic);
        }
    }

    for site in &analysis.calls.sites {
        let Some(spawned) = site.spawned else {
            continue;
        };
        let function = analysis.scopes.function(spawned.function);
        let is_lambda = matches!(function.node, FunctionNode::Lambda(_));
        let nested = function.parent != ScopeId::Module || function.in_local_class;
        if !(is_lambda || nested) || !reported.insert(spawned.function) {
            continue;
        }
        let what = if is_lambda {
            "a lambda".to_owned()
        } else {
            format!("`{}`, a nested function,", function.qualname)
        };
        let mut diagnostic = Diagnostic::new(
            Code::SpawnOfNestedFunction,
            format!("{what} is spawned as a task, but a task's function must be defined at module level"),
            Label::new(spawned.range, "spawned here"),
        )
        .with_help("define the function at module level and pass what it uses as arguments");
        if !is_lambda {
            diagnostic = diagnostic.with_secondary(function.name_range, "defined here");
        }
        out.push(diagnostic);
    }
    reported
}
