//! The continuation transform: a checked handler.py to Python whose tasks can stop at any pause
//! point and resume from a checkpoint of their live variables.
//!
//! For each function that can pause (module-level functions and methods of module-level
//! classes): lower its body to the IR (`lower`), compute liveness (`liveness`), and emit it
//! (`emit`) in its normal shape with a wrapper at each pause point, followed by continuation
//! functions. Everything else is copied verbatim.

pub mod emit;
pub mod ir;
pub mod liveness;
pub mod lower;

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::{ModModule, Stmt, StmtFunctionDef};
use ruff_python_parser::Parsed;
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

use crate::analyze::scopes::{FunctionId, FunctionNode, Resolved, ScopeId};
use crate::analyze::Analysis;
use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};
use crate::source::SourceFile;
use emit::{FunctionEmitter, FunctionPlan, InnerFunction, Output, ResumePoint};
use liveness::Live;
use lower::Lowerer;

/// The transformed module.
pub struct Transformed {
    pub text: String,
    /// For each line of `text` (0-based index), the 1-based line of handler.py it came from.
    pub line_map: Vec<u32>,
    pub resume_points: Vec<ResumePoint>,
    /// Every generated function, with the user's function it runs part of.
    pub functions: BTreeMap<String, emit::UserFunction>,
}

/// Transforms a module that checked clean. Constructs the transform cannot compile (yet) are
/// returned as diagnostics.
pub fn transform(
    file: &SourceFile,
    parsed: &Parsed<ModModule>,
    analysis: &Analysis<'_>,
) -> Result<Transformed, Vec<Diagnostic>> {
    let pause_calls = pause_calls(analysis);
    let pause_starts = sorted_starts(&pause_calls);
    let unit = ruff_python_codegen::Stylist::from_tokens(parsed.tokens(), &file.text)
        .indentation()
        .to_string();
    let unit = if unit.is_empty() {
        "    ".to_owned()
    } else {
        unit
    };
    let mut errors = Vec::new();
    let mut next_resume_point = 1;
    let inner: Vec<InnerFunction<'_>> = inner_functions(parsed.syntax(), analysis)
        .into_iter()
        .map(|id| {
            let lowered = lower_function(
                file,
                analysis,
                id,
                &pause_calls,
                &pause_starts,
                &mut next_resume_point,
            );
            errors.extend(lowered.errors);
            let function = analysis.scopes.function(id);
            let def = lowered.def;
            InnerFunction {
                plan: FunctionPlan {
                    name: inner_name(file, function, def),
                    qualname: function.qualname.clone(),
                    owner_prefix: String::new(),
                    receiver: None,
                    is_init: false,
                    def,
                    variables: lowered.variables,
                },
                body: lowered.body,
                liveness: lowered.liveness,
                lines: TextRange::new(
                    line_start(&file.text, def.range.start()),
                    line_end(&file.text, def.range.end()),
                ),
            }
        })
        .collect();
    let mut out = Output::new(
        file,
        string_line_starts(parsed, &file.text),
        unit,
        &inner,
        emit::emit_inner_function,
    );
    let mut module = ModuleEmitter {
        file,
        analysis,
        pause_calls: &pause_calls,
        pause_starts: &pause_starts,
        next_resume_point,
        resume_points: Vec::new(),
        errors,
        imported: false,
    };
    let body = &parsed.syntax().body;
    let mut at = TextSize::default();
    for stmt in body {
        module.top_level(stmt, &mut at, &mut out);
        module.inner_continuations(&inner, &mut at, &mut out);
    }
    out.raw(TextRange::new(
        at,
        TextSize::try_from(file.text.len()).unwrap_or_default(),
    ));
    out.finish_line(TextSize::try_from(file.text.len()).unwrap_or_default());
    if !module.errors.is_empty() {
        return Err(module.errors);
    }
    Ok(Transformed {
        text: out.text,
        line_map: out.line_map,
        resume_points: module.resume_points,
        functions: out.functions,
    })
}

/// Line starts that fall inside a multi-line string token: never re-indented.
fn string_line_starts(parsed: &Parsed<ModModule>, source: &str) -> Vec<TextSize> {
    let mut starts = Vec::new();
    for token in parsed.tokens().iter() {
        if matches!(
            token.kind(),
            TokenKind::String | TokenKind::FStringMiddle | TokenKind::TStringMiddle
        ) {
            let range = token.range();
            let text = &source[range];
            for (i, _) in text.match_indices('\n') {
                let offset = range.start() + TextSize::try_from(i + 1).unwrap_or_default();
                if offset < range.end() {
                    starts.push(offset);
                }
            }
        }
    }
    starts.sort();
    starts
}

struct ModuleEmitter<'x, 'a> {
    file: &'x SourceFile,
    analysis: &'x Analysis<'a>,
    pause_calls: &'x FxHashSet<(TextSize, TextSize)>,
    pause_starts: &'x [TextSize],
    next_resume_point: u32,
    resume_points: Vec<ResumePoint>,
    errors: Vec<Diagnostic>,
    imported: bool,
}

impl<'a> ModuleEmitter<'_, 'a> {
    fn pausing_def(&self, stmt: &Stmt) -> Option<FunctionId> {
        let Stmt::FunctionDef(def) = stmt else {
            return None;
        };
        let id = self.analysis.scopes.function_at(def.range.start())?;
        self.analysis.can_pause.function_can_pause(id).then_some(id)
    }

    fn line_start(&self, offset: TextSize) -> TextSize {
        line_start(&self.file.text, offset)
    }

    fn line_end(&self, offset: TextSize) -> TextSize {
        line_end(&self.file.text, offset)
    }

    /// After a top-level statement: the continuations of the inner functions it contained
    /// (and of those their continuations contain), at module level.
    fn inner_continuations(
        &mut self,
        inner: &[InnerFunction<'_>],
        at: &mut TextSize,
        out: &mut Output<'_>,
    ) {
        if out.pending.is_empty() {
            return;
        }
        // The rest of the statement's line (nothing if it ended with its line: the next line
        // may be the next statement, with no blank line between).
        let end = if *at == self.line_start(*at) {
            *at
        } else {
            self.line_end(*at)
        };
        out.raw(TextRange::new(*at, end));
        out.finish_line(end);
        *at = end;
        while !out.pending.is_empty() {
            let index = out.pending.remove(0);
            let mut points = emit::inner_continuations(out, index);
            let def = inner[index].plan.def;
            if let Some(id) = self.analysis.scopes.function_at(def.range.start()) {
                for point in &mut points {
                    point.function = self.analysis.scopes.function(id).qualname.clone();
                }
            }
            self.resume_points.extend(points);
        }
    }

    fn runtime_import(&mut self, out: &mut Output<'_>, origin: TextSize) {
        if !self.imported {
            self.imported = true;
            out.line(0, "import rt as _kappa_rt", origin);
        }
    }

    fn top_level(&mut self, stmt: &Stmt, at: &mut TextSize, out: &mut Output<'_>) {
        let start = self.line_start(stmt.range().start());
        if let Some(id) = self.pausing_def(stmt) {
            out.raw(TextRange::new(*at, start));
            self.runtime_import(out, stmt.range().start());
            if let Stmt::FunctionDef(def) = stmt {
                self.function(id, def, 0, out);
            }
            *at = self.line_end(stmt.range().end());
            return;
        }
        if let Stmt::ClassDef(class_def) = stmt {
            let methods: Vec<(FunctionId, &StmtFunctionDef)> = class_def
                .body
                .iter()
                .filter_map(|s| match (self.pausing_def(s), s) {
                    (Some(id), Stmt::FunctionDef(def)) => Some((id, def)),
                    _ => None,
                })
                .collect();
            if !methods.is_empty() {
                out.raw(TextRange::new(*at, start));
                self.runtime_import(out, stmt.range().start());
                let body_start = class_def
                    .body
                    .first()
                    .map_or(class_def.range.end(), |s| s.range().start());
                out.verbatim(
                    emit::trim_header(&self.file.text, class_def.range.start(), body_start),
                    0,
                    &[],
                );
                for member in &class_def.body {
                    match methods.iter().find(|(_, def)| def.range == member.range()) {
                        Some((id, def)) => self.function(*id, def, 1, out),
                        None => out.verbatim(member.range(), 1, &[]),
                    }
                }
                *at = self.line_end(stmt.range().end());
                return;
            }
        }
        if out.contains_inner(stmt.range()) {
            out.raw(TextRange::new(*at, start));
            self.runtime_import(out, stmt.range().start());
            *at = start;
        }
        out.raw(TextRange::new(*at, stmt.range().end()));
        *at = stmt.range().end();
    }

    fn function(
        &mut self,
        id: FunctionId,
        def: &StmtFunctionDef,
        depth: usize,
        out: &mut Output<'_>,
    ) {
        let function = self.analysis.scopes.function(id);
        let owner_prefix = match function.class {
            Some(class) => format!("{}.", self.analysis.scopes.class(class).name),
            None => String::new(),
        };
        if !matches!(function.node, FunctionNode::Def(_)) || function.parent != ScopeId::Module {
            return;
        }
        let lowered = lower_function(
            self.file,
            self.analysis,
            id,
            self.pause_calls,
            self.pause_starts,
            &mut self.next_resume_point,
        );
        self.errors.extend(lowered.errors);
        let plan = FunctionPlan {
            name: function.name.to_owned(),
            qualname: function.qualname.clone(),
            owner_prefix,
            receiver: function.receiver.map(str::to_owned),
            is_init: function.class.is_some() && function.name == "__init__",
            def,
            variables: lowered.variables,
        };
        let (body, liveness) = (lowered.body, lowered.liveness);
        let mut emitter = FunctionEmitter::new(out, &plan, &liveness);
        emitter.emit(&body, depth);
        let mut points = emitter.resume_points;
        points.sort_by_key(|p| p.id);
        for point in &mut points {
            if let Some(class) = function.class {
                point.function = format!(
                    "{}.{}",
                    self.analysis.scopes.class(class).name,
                    point.function
                );
            }
        }
        self.resume_points.extend(points);
    }
}

/// A pausing function lowered to the IR, with its liveness.
struct Lowered<'a> {
    def: &'a StmtFunctionDef,
    body: Vec<ir::Node<'a>>,
    liveness: liveness::Liveness,
    variables: BTreeMap<String, ir::CompilerVariable>,
    errors: Vec<Diagnostic>,
}

fn lower_function<'a>(
    file: &SourceFile,
    analysis: &Analysis<'a>,
    id: FunctionId,
    pause_calls: &FxHashSet<(TextSize, TextSize)>,
    pause_starts: &[TextSize],
    next_resume_point: &mut u32,
) -> Lowered<'a> {
    let function = analysis.scopes.function(id);
    let (def, body, variables, errors) = lower_body(
        file,
        analysis,
        id,
        pause_calls,
        pause_starts,
        next_resume_point,
    );
    // The variables a continuation must get back: the function's own, and those it uses from
    // enclosing functions (saved by value; a nested function does not write them, K023).
    let mut locals: FxHashSet<String> = function.locals.keys().map(|k| (*k).to_owned()).collect();
    locals.extend(function.params.all().map(str::to_owned));
    locals.extend(free_variables(analysis, id, def));
    locals.extend(variables.keys().cloned());
    let liveness = liveness::compute(&body, &locals, &Live::new());
    Lowered {
        def,
        body,
        liveness,
        variables,
        errors,
    }
}

/// A pausing `def` lowered to the IR, with the positions it cannot compile (K037). The one
/// lowering `check` and `build` share, so that `check` reports everything `build` refuses.
fn lower_body<'a>(
    file: &SourceFile,
    analysis: &Analysis<'a>,
    id: FunctionId,
    pause_calls: &FxHashSet<(TextSize, TextSize)>,
    pause_starts: &[TextSize],
    next_resume_point: &mut u32,
) -> (
    &'a StmtFunctionDef,
    Vec<ir::Node<'a>>,
    BTreeMap<String, ir::CompilerVariable>,
    Vec<Diagnostic>,
) {
    let function = analysis.scopes.function(id);
    let FunctionNode::Def(def) = function.node else {
        unreachable!("only `def` functions are lowered")
    };
    let mut lowerer = Lowerer::new(file, pause_calls, pause_starts, *next_resume_point);
    lowerer.globals = function
        .global_decls
        .keys()
        .map(|k| (*k).to_owned())
        .collect();
    lowerer.shadowed = shadowed_names(analysis, id);
    let body = lowerer.lower_block(&def.body);
    *next_resume_point = lowerer.next_resume_point;
    let errors = std::mem::take(&mut lowerer.unsupported)
        .into_iter()
        .map(unsupported_diagnostic)
        .collect();
    (def, body, lowerer.variables, errors)
}

/// Names a function reads from enclosing functions (at any depth of its body).
fn free_variables(analysis: &Analysis<'_>, id: FunctionId, def: &StmtFunctionDef) -> Vec<String> {
    if analysis.scopes.function(id).parent == ScopeId::Module {
        return Vec::new();
    }
    crate::analyze::names::in_body(&def.body)
        .loads
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            matches!(
                analysis.scopes.resolve(ScopeId::Function(id), name),
                Resolved::Bound(ScopeId::Function(owner), _) if owner != id
            )
        })
        .collect()
}

/// Pausing functions the module emitter does not reach at the top level: functions nested in
/// functions, and functions defined in a block (`if`, `try`, ...) of the module. Methods are
/// not among them (their continuations live in their class). Sorted by position.
fn inner_functions(module: &ModModule, analysis: &Analysis<'_>) -> Vec<FunctionId> {
    let top: FxHashSet<TextSize> = top_level_defs(module).collect();
    let mut inner: Vec<FunctionId> = analysis
        .scopes
        .function_ids()
        .filter(|id| {
            let function = analysis.scopes.function(*id);
            matches!(function.node, FunctionNode::Def(def) if !top.contains(&def.range.start()))
                && function.class.is_none()
                && analysis.can_pause.function_can_pause(*id)
        })
        .collect();
    inner.sort_by_key(|id| analysis.scopes.function(*id).name_range.start());
    inner
}

/// The start of every `def` the module emitter transforms in place: at the top level of the
/// module or of a top-level class.
fn top_level_defs(module: &ModModule) -> impl Iterator<Item = TextSize> + '_ {
    module.body.iter().flat_map(|stmt| {
        let members: Vec<&Stmt> = match stmt {
            Stmt::ClassDef(class_def) => class_def.body.iter().collect(),
            other => vec![other],
        };
        members.into_iter().filter_map(|member| match member {
            Stmt::FunctionDef(def) => Some(def.range.start()),
            _ => None,
        })
    })
}

/// The base name of an inner function's continuations: its qualified name and line, unique in
/// the module (`handler.<locals>.work` on line 12 is `handler_work_12`).
fn inner_name(
    file: &SourceFile,
    function: &crate::analyze::scopes::Function<'_>,
    def: &StmtFunctionDef,
) -> String {
    let path: Vec<&str> = function
        .qualname
        .split('.')
        .filter(|part| *part != "<locals>")
        .collect();
    format!("{}_{}", path.join("_"), file.line_of(def.range.start()))
}

fn line_start(text: &str, offset: TextSize) -> TextSize {
    let before = &text[..usize::from(offset)];
    TextSize::try_from(before.rfind('\n').map_or(0, |i| i + 1)).unwrap_or_default()
}

fn line_end(text: &str, offset: TextSize) -> TextSize {
    let after = &text[usize::from(offset)..];
    offset + TextSize::try_from(after.find('\n').map_or(after.len(), |i| i + 1)).unwrap_or_default()
}

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
    let other_bindings = statement_bindings(&lowered.def.body);
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
fn statement_bindings(body: &[Stmt]) -> FxHashSet<String> {
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

/// Whether a name used in a function is bound there, in an enclosing function or in the module,
/// hiding the builtin of that name.
fn shadowed_names<'x>(
    analysis: &'x Analysis<'_>,
    id: FunctionId,
) -> Box<dyn Fn(&str) -> bool + 'x> {
    Box::new(move |name| {
        analysis.scopes.resolve(ScopeId::Function(id), name)
            != crate::analyze::scopes::Resolved::Builtin
    })
}

fn unsupported_diagnostic(unsupported: lower::Unsupported) -> Diagnostic {
    Diagnostic::new(
        Code::PauseInUnsupportedPosition,
        format!("kappac cannot yet compile a pause point inside {}", unsupported.what),
        Label::new(unsupported.range, "contains a pause point"),
    )
    .with_help("assign the pausing call's result to a variable in a statement of its own, and use the variable here")
}

fn sorted_starts(pause_calls: &FxHashSet<(TextSize, TextSize)>) -> Vec<TextSize> {
    let mut starts: Vec<TextSize> = pause_calls.iter().map(|(start, _)| *start).collect();
    starts.sort_unstable();
    starts
}

fn pause_calls(analysis: &Analysis<'_>) -> FxHashSet<(TextSize, TextSize)> {
    analysis
        .calls
        .sites
        .iter()
        .enumerate()
        .filter(|(i, _)| analysis.can_pause.is_pause_point(*i))
        .map(|(_, site)| (site.range.start(), site.range.end()))
        .collect()
}
