//! What lowering finds to report, for `check` as for `build`: pause points in positions the
//! transform cannot compile (K037, errors) and resources held in variables across a pause
//! point, from the liveness (K039, warnings).

use ruff_python_ast::{ModModule, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashSet;

use super::liveness::{self, Live};
use super::{
    inner_functions, ir, lower, lower_function, pause_calls, sorted_starts, top_level_defs, Lowered,
};
use crate::analyze::scopes::{FunctionId, FunctionNode, ScopeId};
use crate::analyze::Analysis;
use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};
use crate::source::SourceFile;

/// What lowering every function that would be transformed finds: pause points in positions
/// the transform cannot compile yet (K037, errors), and resources held in variables across a
/// pause point (K039, warnings). `check` reports these too, so that it reports everything
/// `build` would refuse.
pub fn unsupported_positions(
    file: &SourceFile,
    module: &ModModule,
    analysis: &Analysis<'_>,
) -> Vec<Diagnostic> {
    let pause_calls = pause_calls(analysis);
    if pause_calls.is_empty() {
        return Vec::new();
    }
    let pause_starts = sorted_starts(&pause_calls);
    let mut diagnostics = misplaced_definitions(module, analysis);
    let top_level = top_level_defs(module)
        .filter_map(|start| analysis.scopes.function_at(start))
        .filter(|id| analysis.can_pause.function_can_pause(*id));
    let mut next_resume_point = 1;
    for id in top_level.chain(inner_functions(module, analysis)) {
        let lowered = lower_function(
            file,
            analysis,
            id,
            &pause_calls,
            &pause_starts,
            &mut next_resume_point,
        );
        diagnostics.extend(live_resources(analysis, id, &lowered));
        diagnostics.extend(lowered.errors);
    }
    diagnostics
}

/// K039 for a resource held in a plain variable (`f = open(p)` ... `fut.wait()` ... `f.read()`):
/// one warning per variable, at the first pause point where it is live, since the checkpoint
/// there must save it and cannot. Only for a variable that holds nothing else (every binding of
/// it assigns a resource; not a parameter): liveness does not say which value a variable holds.
/// (A resource that is the manager of a pausing `with` has its own K039, from the analysis;
/// pause points inside such a `with` are left to that one.)
fn live_resources(
    analysis: &Analysis<'_>,
    id: FunctionId,
    lowered: &Lowered<'_>,
) -> Vec<Diagnostic> {
    if analysis.scopes.function(id).kappa_ignore {
        return Vec::new();
    }
    let function = analysis.scopes.function(id);
    let mut resources: Vec<(&str, &[TextRange])> = analysis
        .calls
        .resource_variables
        .iter()
        .filter_map(|(key, ranges)| match key {
            crate::analyze::calls::VarKey::Local(ScopeId::Function(owner), name)
                if *owner == id =>
            {
                Some((*name, ranges.as_slice()))
            }
            _ => None,
        })
        .collect();
    if resources.is_empty() {
        return Vec::new();
    }
    let stores = crate::analyze::names::in_body(&lowered.def.body).stores;
    let other_bindings = non_assignment_bindings(&lowered.def.body);
    resources.retain(|(name, ranges)| {
        !function.params.all().any(|p| p == *name)
            && !other_bindings.contains(*name)
            && stores.iter().filter(|(stored, _)| stored == name).count() == ranges.len()
    });
    resources.sort_by_key(|(_, ranges)| ranges.first().map(|r| r.start()));
    let in_resource_with: Vec<TextRange> = analysis
        .calls
        .sites
        .iter()
        .enumerate()
        .filter(|(index, site)| {
            site.scope == ScopeId::Function(id)
                && analysis.can_pause.is_pause_point(*index)
                && site
                    .enclosing
                    .iter()
                    .any(|c| c.kind == crate::analyze::calls::ConstructKind::UnpicklableWith)
        })
        .map(|(_, site)| site.range)
        .collect();
    let mut pauses: Vec<(TextRange, &Live)> = Vec::new();
    liveness::for_each_pause(&lowered.body, &mut |node| {
        if let ir::Node::Pause {
            id: pause, origin, ..
        } = node
        {
            let inside_with = in_resource_with.iter().any(|r| origin.contains_range(*r));
            if let (false, Some(live)) = (inside_with, lowered.liveness.at_pause.get(pause)) {
                pauses.push((*origin, live));
            }
        }
    });
    let mut diagnostics = Vec::new();
    for (name, assigned) in resources {
        let Some(&assigned) = assigned.first() else {
            continue;
        };
        let mut live_at = pauses
            .iter()
            .filter(|(_, live)| live.contains(name))
            .map(|(origin, _)| *origin);
        let Some(first) = live_at.next() else {
            continue;
        };
        let more = live_at.count();
        let mut diagnostic = Diagnostic::new(
            Code::UnpicklableContextManager,
            format!(
                "`{name}` holds a resource that cannot be saved in a checkpoint, and is still \
                 needed after this pause point"
            ),
            Label::new(
                first,
                format!("pauses while `{name}` is live: the checkpoint here will fail"),
            ),
        )
        .with_secondary(
            assigned,
            "cannot be pickled (a file, a lock, a connection ...)",
        )
        .with_help(format!(
            "close `{name}` before pausing and open it again after (or keep what it gives: the \
             path, the data read), so that nothing unpicklable is live at the pause"
        ));
        if more > 0 {
            diagnostic = diagnostic.with_note(format!(
                "{more} more pause point{} where `{name}` is live",
                if more == 1 { "" } else { "s" }
            ));
        }
        diagnostics.push(diagnostic);
    }
    diagnostics
}

/// Names a block binds other than by assigning an expression (`import`, `def`, `class`,
/// `except ... as`, `match` captures) or declares `global`/`nonlocal`, at any depth.
fn non_assignment_bindings(body: &[Stmt]) -> FxHashSet<String> {
    use ruff_python_ast::visitor::{self, Visitor};
    use ruff_python_ast::{ExceptHandler, Pattern};
    #[derive(Default)]
    struct Bindings(FxHashSet<String>);
    impl<'a> Visitor<'a> for Bindings {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::Import(import) => self.0.extend(import.names.iter().map(|alias| {
                    alias.asname.as_ref().map_or_else(
                        || alias.name.id.split('.').next().unwrap_or("").to_owned(),
                        |name| name.id.to_string(),
                    )
                })),
                Stmt::ImportFrom(import) => self.0.extend(
                    import
                        .names
                        .iter()
                        .map(|alias| alias.asname.as_ref().unwrap_or(&alias.name).id.to_string()),
                ),
                Stmt::FunctionDef(def) => {
                    self.0.insert(def.name.id.to_string());
                }
                Stmt::ClassDef(class) => {
                    self.0.insert(class.name.id.to_string());
                }
                Stmt::Global(global) => {
                    self.0.extend(global.names.iter().map(|n| n.id.to_string()))
                }
                Stmt::Nonlocal(nonlocal) => {
                    self.0
                        .extend(nonlocal.names.iter().map(|n| n.id.to_string()));
                }
                _ => {}
            }
            visitor::walk_stmt(self, stmt);
        }
        fn visit_except_handler(&mut self, handler: &'a ExceptHandler) {
            let ExceptHandler::ExceptHandler(h) = handler;
            if let Some(name) = &h.name {
                self.0.insert(name.id.to_string());
            }
            visitor::walk_except_handler(self, handler);
        }
        fn visit_pattern(&mut self, pattern: &'a Pattern) {
            match pattern {
                Pattern::MatchAs(p) => self.0.extend(p.name.as_ref().map(|n| n.id.to_string())),
                Pattern::MatchStar(p) => self.0.extend(p.name.as_ref().map(|n| n.id.to_string())),
                Pattern::MatchMapping(p) => {
                    self.0.extend(p.rest.as_ref().map(|n| n.id.to_string()))
                }
                _ => {}
            }
            visitor::walk_pattern(self, pattern);
        }
    }
    let mut bindings = Bindings::default();
    visitor::walk_body(&mut bindings, body);
    bindings.0
}

/// Pausing methods the transform does not reach: of a class defined inside a module-level block
/// (`if`, `try`, ...), or in a block of a class body. (Methods of classes defined in functions
/// are K032; functions anywhere are compiled as inner functions.)
fn misplaced_definitions(module: &ModModule, analysis: &Analysis<'_>) -> Vec<Diagnostic> {
    let mut reachable: FxHashSet<TextSize> = FxHashSet::default();
    for stmt in &module.body {
        match stmt {
            Stmt::FunctionDef(def) => {
                reachable.insert(def.range.start());
            }
            Stmt::ClassDef(class_def) => {
                for member in &class_def.body {
                    if let Stmt::FunctionDef(def) = member {
                        reachable.insert(def.range.start());
                    }
                }
            }
            _ => {}
        }
    }
    let scopes = &analysis.scopes;
    scopes
        .function_ids()
        .filter(|id| analysis.can_pause.function_can_pause(*id))
        .filter_map(|id| {
            let function = scopes.function(id);
            let FunctionNode::Def(def) = function.node else { return None };
            // Functions (not methods) anywhere are compiled as inner functions.
            let nested = function.parent != ScopeId::Module || function.in_local_class;
            if nested || function.class.is_none() || reachable.contains(&def.range.start()) {
                return None;
            }
            let class_at_top_level = module.body.iter().any(|stmt| {
                matches!(stmt, Stmt::ClassDef(c) if function.class.is_some_and(|class| scopes.class_at(c.range.start()) == Some(class)))
            });

            let (place, label, help) = if class_at_top_level {
                (
                    "defined inside a block of its class body",
                    "defined under an `if`, `try`, `with` or loop in the class body",
                    "define the method directly in the class body",
                )
            } else if function
                .class
                .is_some_and(|class| in_class_body(module, scopes.class(class).name_range.start()))
            {
                (
                    "in a class defined inside another class",
                    "its class is defined in the body of another class",
                    "define the class at the top level of the module",
                )
            } else {
                (
                    "in a class defined inside a block",
                    "its class is defined inside an `if`, `try`, `with` or loop block",
                    "define the class at the top level of the module",
                )
            };
            Some(
                Diagnostic::new(
                    Code::PauseInUnsupportedPosition,
                    format!(
                        "kappac cannot yet compile `{}`: a method that can pause, {place}",
                        function.qualname
                    ),
                    Label::new(function.name_range, label),
                )
                .with_help(help),
            )
        })
        .collect()
}

/// Whether the class whose name starts at `name_start` is defined directly in the body of a
/// class defined at module level (or in a class nested so, at any depth).
fn in_class_body(module: &ModModule, name_start: TextSize) -> bool {
    let mut bodies: Vec<&[Stmt]> = module
        .body
        .iter()
        .filter_map(|stmt| match stmt {
            Stmt::ClassDef(c) => Some(&*c.body),
            _ => None,
        })
        .collect();
    while let Some(body) = bodies.pop() {
        for stmt in body {
            if let Stmt::ClassDef(c) = stmt {
                if c.name.range.start() == name_start {
                    return true;
                }
                bodies.push(&c.body);
            }
        }
    }
    false
}

pub(super) fn unsupported_diagnostic(unsupported: lower::Unsupported) -> Diagnostic {
    Diagnostic::new(
        Code::PauseInUnsupportedPosition,
        format!("kappac cannot yet compile a pause point inside {}", unsupported.what),
        Label::new(unsupported.range, "contains a pause point"),
    )
    .with_help("assign the pausing call's result to a variable in a statement of its own, and use the variable here")
}
