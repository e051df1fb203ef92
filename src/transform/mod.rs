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

use crate::analyze::scopes::{FunctionId, FunctionNode, ScopeId};
use crate::analyze::Analysis;
use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};
use crate::source::SourceFile;
use emit::{FunctionEmitter, FunctionPlan, Output, ResumePoint};
use liveness::Live;
use lower::Lowerer;

/// The transformed module.
pub struct Transformed {
    pub text: String,
    /// For each line of `text` (0-based index), the 1-based line of handler.py it came from.
    pub line_map: Vec<u32>,
    pub resume_points: Vec<ResumePoint>,
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
    let mut out = Output::new(file, string_line_starts(parsed, &file.text), unit);
    let mut module = ModuleEmitter {
        file,
        analysis,
        pause_calls: &pause_calls,
        pause_starts: &pause_starts,
        next_resume_point: 1,
        resume_points: Vec::new(),
        errors: Vec::new(),
        imported: false,
    };
    let body = &parsed.syntax().body;
    let mut at = TextSize::default();
    for stmt in body {
        module.top_level(stmt, &mut at, &mut out);
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
        let text = &self.file.text[..usize::from(offset)];
        TextSize::try_from(text.rfind('\n').map_or(0, |i| i + 1)).unwrap_or_default()
    }

    fn line_end(&self, offset: TextSize) -> TextSize {
        let text = &self.file.text[usize::from(offset)..];
        offset
            + TextSize::try_from(text.find('\n').map_or(text.len(), |i| i + 1)).unwrap_or_default()
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
        let mut lowerer = Lowerer::new(
            self.file,
            self.pause_calls,
            self.pause_starts,
            self.next_resume_point,
        );
        lowerer.globals = function
            .global_decls
            .keys()
            .map(|k| (*k).to_owned())
            .collect();
        let body = lowerer.lower_block(&def.body);
        self.next_resume_point = lowerer.next_resume_point;
        for unsupported in std::mem::take(&mut lowerer.unsupported) {
            self.errors.push(unsupported_diagnostic(unsupported));
        }
        let mut locals: FxHashSet<String> =
            function.locals.keys().map(|k| (*k).to_owned()).collect();
        locals.extend(function.params.all().map(str::to_owned));
        let plan = FunctionPlan {
            name: function.name.to_owned(),
            owner_prefix,
            receiver: function.receiver.map(str::to_owned),
            is_init: function.class.is_some() && function.name == "__init__",
            def,
        };
        let liveness = liveness::compute(&body, &locals, &Live::new());
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

/// Pause points in positions the transform cannot compile yet (K037), found by lowering every
/// function that would be transformed. `check` reports these too, so that it reports
/// everything `build` would refuse.
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
    for stmt in &module.body {
        let defs: Vec<&Stmt> = match stmt {
            Stmt::ClassDef(class_def) => class_def.body.iter().collect(),
            other => vec![other],
        };
        for def_stmt in defs {
            let Stmt::FunctionDef(def) = def_stmt else {
                continue;
            };
            let Some(id) = analysis.scopes.function_at(def.range.start()) else {
                continue;
            };
            if !analysis.can_pause.function_can_pause(id) {
                continue;
            }
            let mut lowerer = Lowerer::new(file, &pause_calls, &pause_starts, 1);
            lowerer.shadowed = shadowed_names(analysis, id);
            lowerer.lower_block(&def.body);
            diagnostics.extend(lowerer.unsupported.into_iter().map(unsupported_diagnostic));
        }
    }
    diagnostics
}

/// Pausing functions the transform does not reach: defined at module level but inside a block
/// (`if`, `try`, ...), or in a block of a class body. (Nested functions are K032.)
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
            let nested = function.parent != ScopeId::Module || function.in_local_class;
            if nested || reachable.contains(&def.range.start()) {
                return None;
            }
            Some(
                Diagnostic::new(
                    Code::PauseInUnsupportedPosition,
                    format!(
                        "kappac cannot yet compile `{}`: a function that can pause, defined inside a block",
                        function.qualname
                    ),
                    Label::new(function.name_range, "defined inside an `if`, `try`, `with` or loop block"),
                )
                .with_help("define it at the top level of the module (or directly in its class body)"),
            )
        })
        .collect()
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

/// The whole pipeline for one handler: parse, analyze, refuse on errors, transform.
pub fn compile_handler(
    file: &SourceFile,
    options: crate::check::CheckOptions,
) -> Result<Transformed, Vec<Diagnostic>> {
    let parsed = crate::parse::parse(file, options.target);
    let analysis = Analysis::new(parsed.module());
    let mut diagnostics = parsed.diagnostics.clone();
    diagnostics.extend(analysis.diagnostics(file));
    diagnostics.retain(|d| d.severity() == crate::diagnostics::Severity::Error);
    if !diagnostics.is_empty() {
        crate::diagnostics::sort(&mut diagnostics);
        return Err(diagnostics);
    }
    transform(file, &parsed.parsed, &analysis)
}
