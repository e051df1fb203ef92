//! Restrictions: constructs kappac cannot (yet) compile, reported only where a pause can happen
//! inside them. The same construct in code that cannot pause is ordinary Python and accepted.

use std::collections::BTreeMap;

use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashSet;

use super::calls::{Callee, ConstructKind};
use super::scopes::{FunctionId, FunctionNode, ScopeId};
use super::{short, Context};
use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};

pub(super) fn check(
    ctx: &Context,
    already_reported: &FxHashSet<FunctionId>,
    out: &mut Vec<Diagnostic>,
) {
    functions(ctx, already_reported, out);
    constructs(ctx, out);
    module_level(ctx, out);
    unknown_rt(ctx, out);
}

fn is_magic(name: &str) -> bool {
    name.len() > 4 && name.starts_with("__") && name.ends_with("__")
}

/// Restrictions that belong to a whole function that can pause.
fn functions(ctx: &Context, already_reported: &FxHashSet<FunctionId>, out: &mut Vec<Diagnostic>) {
    let analysis = ctx.analysis;
    for id in analysis.scopes.function_ids() {
        let function = analysis.scopes.function(id);
        let first_pause = analysis.pause_points_of(id).next();
        let Some(first_pause) = first_pause else {
            continue;
        };
        let pause_site = analysis.site(first_pause);
        let pause_label = ctx.pause_label(pause_site);

        if function.kappa_ignore {
            out.push(
                Diagnostic::new(
                    Code::PauseInIgnoredFunction,
                    format!(
                        "`{}` is marked `kappa:ignore`, but it can pause",
                        function.qualname
                    ),
                    Label::new(pause_site.range, pause_label),
                )
                .with_secondary(function.name_range, "left untransformed by `kappa:ignore`")
                .with_help("remove `kappa:ignore` from the docstring, or move the pausing call out of this function"),
            );
            continue;
        }
        let why = ctx.why_pauses(id);

        if let Some(first_yield) = function.yields.first() {
            let keyword = short(ctx.text(*first_yield));
            let (code, message, label, help) = if function.is_async {
                (
                    Code::PauseInAsyncFunction,
                    format!("`{}` is `async def`, but it can pause", function.qualname),
                    "makes this a coroutine".to_owned(),
                    "make it a plain `def`: tasks already run in parallel, spawn them instead of awaiting",
                )
            } else {
                (
                    Code::PauseInGenerator,
                    format!("`{}` is a generator, but it can pause", function.qualname),
                    format!("`{keyword}` makes this a generator"),
                    "return a list instead of yielding, e.g. `return [f.wait() for f in futures]`",
                )
            };
            out.push(
                Diagnostic::new(
                    code,
                    message,
                    Label::new(pause_site.range, pause_label.clone()),
                )
                .with_secondary(*first_yield, label)
                .with_optional_note(why.clone())
                .with_help(help),
            );
        } else if function.is_async {
            out.push(
                Diagnostic::new(
                    Code::PauseInAsyncFunction,
                    format!("`{}` is `async def`, but it can pause", function.qualname),
                    Label::new(pause_site.range, pause_label.clone()),
                )
                .with_secondary(function.name_range, "declared `async def`")
                .with_optional_note(why.clone())
                .with_help("make it a plain `def`: tasks already run in parallel, spawn them instead of awaiting"),
            );
        }

        if function.class.is_some() && is_magic(function.name) && function.name != "__init__" {
            out.push(
                Diagnostic::new(
                    Code::PauseInMagicMethod,
                    format!(
                        "magic method `{}` can pause, but Python calls it implicitly",
                        function.qualname
                    ),
                    Label::new(pause_site.range, pause_label.clone()),
                )
                .with_secondary(function.name_range, "called by operators or protocols, not by a call kappac can see")
                .with_optional_note(why.clone())
                .with_help(format!(
                    "move the pausing code into an ordinary method (e.g. `def {}(self, ...)`) and call it explicitly",
                    function.name.trim_matches('_')
                )),
            );
        }

        // Nested functions that pause are compiled (their continuations go to module level);
        // two shapes are not: a lambda that does more after its pausing call (it has no
        // statements to split), and a method of a class defined inside a function (its
        // continuations would belong to a class that does not exist at module level).
        let in_local_class = function.class.is_some() && function.in_local_class;
        let lambda_with_rest = match function.node {
            FunctionNode::Lambda(lambda) => analysis
                .pause_points_of(id)
                .any(|index| analysis.site(index).range != lambda.body.range()),
            FunctionNode::Def(_) => false,
        };
        if (lambda_with_rest || in_local_class) && !already_reported.contains(&id) {
            let (message, label, help) = if lambda_with_rest {
                (
                    "a lambda can pause, and does more after its pausing call".to_owned(),
                    "this lambda",
                    "write it as a nested `def` (a lambda whose whole body is the pausing call, like `lambda f: f.wait()`, is accepted)",
                )
            } else {
                (
                    format!(
                        "method `{}` of a class defined inside a function can pause",
                        function.qualname
                    ),
                    "defined in a class inside a function",
                    "define the class at module level",
                )
            };
            out.push(
                Diagnostic::new(
                    Code::PausingNestedFunction,
                    message,
                    Label::new(function.name_range, label),
                )
                .with_secondary(pause_site.range, pause_label.clone())
                .with_help(help),
            );
        }

        // Decorators defined in handler.py are compiled like any code (a wrapper that calls the
        // function it wraps pauses with it and is resumed through); imported ones are not.
        let imported_decorator = function.other_decorators.iter().find(|range| {
            let FunctionNode::Def(def) = function.node else {
                return true;
            };
            let local = def.decorator_list.iter().any(|d| {
                d.range() == **range
                    && (is_local_function(ctx, function.parent, &d.expression)
                        || super::calls::is_wrapper_helper(&d.expression))
            });
            !local
        });
        if let Some(decorator) = imported_decorator {
            let text = short(ctx.text(*decorator));
            out.push(
                Diagnostic::new(
                    Code::PausingDecoratedFunction,
                    format!(
                        "`{}` can pause, but has decorator `{text}`, which is not defined in handler.py",
                        function.qualname,
                    ),
                    Label::new(*decorator, "kappac cannot see or compile this decorator's code"),
                )
                .with_secondary(pause_site.range, pause_label.clone())
                .with_note(format!(
                    "a task paused inside `{}` resumes in its continuation, without passing through the wrapper `{text}` may have put around it: what the wrapper does after the call would be skipped",
                    function.name
                ))
                .with_optional_note(why.clone())
                .with_help("apply the decorator to a helper function that does not pause, or define the decorator in handler.py (a wrapper there is compiled and resumed through)"),
            );
        }

        // Declared `nonlocal` and only read: kappac's continuations cannot declare it (the
        // binding would not exist there), so the emitted module would not compile.
        let mut read_only: Vec<(&str, TextRange)> = function
            .nonlocal_decls
            .iter()
            .filter(|(name, _)| !function.declared_writes.iter().any(|(w, _)| w == *name))
            .map(|(name, range)| (&**name, *range))
            .collect();
        read_only.sort_by_key(|(_, range)| range.start());
        for (name, range) in read_only {
            out.push(
                Diagnostic::new(
                    Code::GlobalWriteInPausingFunction,
                    format!(
                        "`{}` can pause, but declares `nonlocal {name}`, which kappac does not compile in a function that can pause",
                        function.qualname
                    ),
                    Label::new(range, format!("declares `{name}` nonlocal")),
                )
                .with_optional_note(why.clone())
                .with_help(format!(
                    "remove the declaration: reading `{name}` needs no `nonlocal` (and writing it is not saved in checkpoints)"
                )),
            );
        }
        for (name, range) in &function.declared_writes {
            let kind = if function.global_decls.contains_key(name) {
                "global"
            } else {
                "nonlocal"
            };
            let declaration = function
                .global_decls
                .get(name)
                .or_else(|| function.nonlocal_decls.get(name))
                .copied();
            let mut diagnostic = Diagnostic::new(
                Code::GlobalWriteInPausingFunction,
                format!(
                    "`{}` can pause, but assigns {kind} `{name}`: the write is not saved in checkpoints",
                    function.qualname
                ),
                Label::new(*range, format!("assigns {kind} `{name}`")),
            )
            .with_optional_note(why.clone())
            .with_help(format!(
                "keep `{name}` in a local variable and return it (or pass it through a queue) instead of a {kind}"
            ));
            if let Some(declaration) = declaration {
                diagnostic =
                    diagnostic.with_secondary(declaration, format!("declared {kind} here"));
            }
            out.push(diagnostic);
        }
    }
}

/// Pause points inside constructs not yet supported there: one diagnostic per construct, at
/// its first pause point.
fn constructs(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let analysis = ctx.analysis;
    let mut first: BTreeMap<(TextSize, ConstructKind), (usize, usize)> = BTreeMap::new();
    for (index, site) in analysis.calls.sites.iter().enumerate() {
        if !analysis.can_pause.is_pause_point(index) || site.scope == ScopeId::Module {
            continue;
        }
        if let ScopeId::Function(id) = site.scope {
            if analysis.scopes.function(id).kappa_ignore {
                continue;
            }
        }
        for construct in &site.enclosing {
            let entry = first
                .entry((construct.range.start(), construct.kind))
                .or_insert((index, 0));
            if site.range.start() < analysis.site(entry.0).range.start() {
                entry.0 = index;
            }
            entry.1 += 1;
        }
    }
    for ((_, kind), (index, count)) in first {
        let site = analysis.site(index);
        let construct = site.enclosing.iter().find(|c| c.kind == kind).copied();
        let Some(construct) = construct else { continue };
        let (code, message, label, help) = match kind {
            ConstructKind::MainBlock => continue, // only at module level, never in a task
            ConstructKind::UnpicklableWith => (
                Code::UnpicklableContextManager,
                "a `with` block pauses while holding a resource that cannot be saved in a checkpoint",
                "cannot be pickled: the checkpoint at the pause point will fail",
                "close it before pausing: do the pausing call before (or after) the `with` block, and use only the result inside it",
            ),
            ConstructKind::GeneratorExpression => (
                Code::PauseInGeneratorExpression,
                "pause point inside a generator expression that runs lazily",
                "runs lazily, inside whoever consumes it",
                "use a list comprehension (`[...]` in place of `(...)`), or pass the generator straight to `sum`, `list`, `sorted`, `any`, ... which kappac compiles",
            ),
        };
        let mut diagnostic =
            Diagnostic::new(code, message, Label::new(site.range, ctx.pause_label(site)))
                .with_secondary(construct.range, label)
                .with_help(help);
        if count > 1 {
            diagnostic = diagnostic.with_note(format!(
                "{} more pause point{} in the same construct",
                count - 1,
                if count == 2 { "" } else { "s" }
            ));
        }
        out.push(diagnostic);
    }
}

/// Pause points that run at import time.
fn module_level(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let analysis = ctx.analysis;
    for (index, site) in analysis.calls.sites.iter().enumerate() {
        if site.scope != ScopeId::Module
            || !analysis.can_pause.is_pause_point(index)
            || site
                .enclosing
                .iter()
                .any(|c| c.kind == ConstructKind::MainBlock)
        {
            continue;
        }
        let mut diagnostic = Diagnostic::new(
            Code::PauseAtModuleLevel,
            "coordinator call at import time, outside any task",
            Label::new(site.range, ctx.pause_label(site)),
        )
        .with_help(
            "make this call inside `handler` (or a function it calls) and pass the result along",
        );
        if let Callee::Function(id) = site.callee {
            diagnostic = diagnostic.with_optional_note(ctx.why_pauses(id));
        }
        out.push(diagnostic);
    }
}

/// Calls of `rt` attributes and imports of `rt` names the runtime does not define.
fn unknown_rt(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let help = format!(
        "the runtime defines: {}",
        super::rt_api::NAMES
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for site in &ctx.analysis.calls.sites {
        if let Callee::UnknownRt(name) = site.callee {
            out.push(
                Diagnostic::new(
                    Code::UnknownRtFunction,
                    format!("the runtime `rt` has no function `{name}`"),
                    Label::new(site.callee_range, "unknown runtime function"),
                )
                .with_help(help.clone()),
            );
        }
    }
    for (name, range) in &ctx.analysis.scopes.unknown_rt_imports {
        out.push(
            Diagnostic::new(
                Code::UnknownRtFunction,
                format!("the runtime `rt` has no name `{name}` to import"),
                Label::new(*range, "unknown runtime name"),
            )
            .with_help(help.clone()),
        );
    }
}

/// Whether a decorator is a function of handler.py: `@name` or `@name(...)`.
fn is_local_function(ctx: &Context, scope: ScopeId, expr: &ruff_python_ast::Expr) -> bool {
    let callee = match expr {
        ruff_python_ast::Expr::Call(call) => &*call.func,
        other => other,
    };
    let ruff_python_ast::Expr::Name(name) = callee else {
        return false;
    };
    matches!(
        ctx.analysis.scopes.resolve(scope, name.id.as_str()),
        super::scopes::Resolved::Bound(_, super::scopes::Binding::Function(_))
    )
}
