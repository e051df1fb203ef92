//! Escape: a function that can pause, passed as a value into code kappac does not compile
//! (K040).

use rustc_hash::FxHashSet;

use super::calls::{Sink, Value, VarKey};
use super::scopes::FunctionId;
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

    reported
}
