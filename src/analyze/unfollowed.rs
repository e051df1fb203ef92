//! Unfollowed calls: a call of a value kappac cannot follow (what a builtin or another module
//! returned, `getattr` with a computed name ...) in a module whose functions can pause (K042).
//! kappac treats such a call as not pausing; if it does pause at run time, the runtime's safety
//! net fails the run (`rt.soundness`), so the warning says so before the run.

use super::calls::Callee;
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
    for site in &analysis.calls.sites {
        if site.callee != Callee::Unknown {
            continue;
        }
        let callee = short(ctx.text(site.callee_range));
        out.push(
            Diagnostic::new(
                Code::UnfollowedCall,
                format!("kappac cannot tell which function `{callee}` is, so it assumes this call does not pause"),
                Label::new(site.callee_range, "the called value comes from code kappac does not follow"),
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
