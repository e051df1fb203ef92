//! Unfollowed calls: a call of a value kappac cannot follow (what a builtin or another module
//! returned, `getattr` with a computed name ...) in a module whose functions can pause (K042).
//! kappac treats such a call as not pausing; if it does pause at run time, the runtime's safety
//! net fails the run (`rt.soundness`), so the warning says so before the run.

use super::calls::{Callee, Sink};
use super::{short, Context};
use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};

pub(super) fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let analysis = ctx.analysis;
    let Some(example) = analysis
        .scopes
        .functions
        .iter()
        .enumerate()
        .map(|(index, _)| super::scopes::FunctionId(index as u32))
        .find(|&id| analysis.can_pause.function_can_pause(id))
    else {
        return; // nothing in the module can pause: no call can
    };
    let example = analysis.scopes.function(example);
    for (index, site) in analysis.calls.sites.iter().enumerate() {
        let callee = short(ctx.text(site.callee_range));
        let (message, label) = match site.callee {
            Callee::Unknown => (
                format!("kappac cannot tell which function `{callee}` is, so it assumes this call does not pause"),
                "the called value comes from code kappac does not follow".to_owned(),
            ),
            // A variable that was assigned what code kappac does not follow returned: unless
            // the call is a pause point anyway, it is as unknown as a direct call of that.
            Callee::Variable(key) if !analysis.can_pause.is_pause_point(index) => {
                let Some((_, assigned)) = analysis
                    .calls
                    .opaque_assignments
                    .iter()
                    .find(|(k, _)| *k == key)
                else {
                    continue;
                };
                // `f = functools.partial(pausing)` is already K040, the error to fix.
                let escapes_here = analysis.calls.flows.iter().any(|flow| {
                    matches!(flow.sink, Sink::Escape { callee_range } if assigned.contains_range(callee_range))
                        && flow
                            .sources
                            .iter()
                            .any(|source| analysis.can_pause.value_can_pause(source.value))
                });
                if escapes_here {
                    continue;
                }
                (
                    format!("kappac cannot tell which function `{callee}` holds, so it assumes this call does not pause"),
                    format!(
                        "`{callee}` was assigned `{}` (line {}), which comes from code kappac does not follow",
                        short(ctx.text(*assigned)),
                        ctx.line(*assigned)
                    ),
                )
            }
            _ => continue,
        };
        out.push(
            Diagnostic::new(
                Code::UnfollowedCall,
                message,
                Label::new(site.callee_range, label),
            )
            .with_note(format!(
                "functions of this module can pause (`{}`, line {}); if this call reaches one, the task cannot be resumed and the run fails when it pauses",
                example.qualname,
                ctx.line(example.name_range),
            ))
            .with_help(
                "call the function through something kappac follows: a function or class of handler.py, a variable, parameter, attribute or container holding one, a method on `self`, or `getattr(obj, \"name\")` with a constant name",
            ),
        );
    }
}
