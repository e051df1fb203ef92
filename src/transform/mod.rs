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
mod positions;

use positions::unsupported_diagnostic;
pub use positions::unsupported_positions;

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::{ModModule, Stmt, StmtFunctionDef};
use ruff_python_parser::Parsed;
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

use crate::analyze::scopes::{FunctionId, FunctionNode, Resolved, ScopeId};
use crate::analyze::Analysis;
use crate::diagnostics::Diagnostic;
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

/// Liveness as a reader checks it: for a tiny function `f`, the variables a checkpoint saves at
/// each of its pause points, in order, written beside the code (kappac's own variables shown
/// by what they hold).
#[cfg(test)]
mod liveness_tests {
    use super::*;

    fn live_at_pauses(source: &str) -> Vec<Vec<String>> {
        let file = SourceFile::new("handler.py", format!("import rt\n\n{source}"));
        let parsed = crate::parse::parse(&file, crate::parse::TargetVersion::default());
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let analysis = Analysis::new(parsed.module());
        let id = analysis
            .scopes
            .function_ids()
            .find(|id| analysis.scopes.function(*id).qualname == "f")
            .expect("a function f");
        let calls = pause_calls(&analysis);
        let starts = sorted_starts(&calls);
        let lowered = lower_function(&file, &analysis, id, &calls, &starts, &mut 1);
        let mut live = Vec::new();
        liveness::for_each_pause(&lowered.body, &mut |node| {
            if let ir::Node::Pause { id: pause, .. } = node {
                let names = lowered
                    .liveness
                    .at_pause
                    .get(pause)
                    .cloned()
                    .unwrap_or_default();
                live.push(
                    names
                        .into_iter()
                        .map(|name| match lowered.variables.get(&name) {
                            Some(variable) => format!("{variable:?}"),
                            None => name,
                        })
                        .collect(),
                );
            }
        });
        live
    }

    fn check(source: &str, expected: &[&[&str]]) {
        let expected: Vec<Vec<String>> = expected
            .iter()
            .map(|names| names.iter().map(|n| (*n).to_owned()).collect())
            .collect();
        assert_eq!(live_at_pauses(source), expected, "\n{source}");
    }

    #[test]
    fn straight_line() {
        check(
            "def f(a, b):\n    c = a + 1\n    rt.checkpoint()\n    return c",
            &[&["c"]],
        );
        // Rebound before any read: dead at the pause.
        check(
            "def f(a):\n    rt.checkpoint()\n    a = 2\n    return a",
            &[&[]],
        );
    }

    #[test]
    fn loops_keep_what_the_next_iterations_read() {
        check(
            "def f(xs):\n    total = 0\n    for x in xs:\n        rt.checkpoint()\n        total += x\n    return total",
            &[&["Iterator { line: 5 }", "total", "x"]],
        );
        check(
            "def f(n):\n    i = 0\n    while i < n:\n        rt.checkpoint()\n        i += 1\n    return i",
            &[&["i", "n"]],
        );
    }

    #[test]
    fn values_computed_before_the_pause_are_kept() {
        check(
            "def f(a, fut):\n    return a * 2 + fut.wait()",
            &[&["Temporary"]],
        );
    }

    #[test]
    fn handlers_and_finally_keep_what_they_read() {
        check(
            "def f(a, b):\n    try:\n        rt.checkpoint()\n    except ValueError:\n        return a\n    finally:\n        print(b)\n    return 0",
            &[&["a", "b"]],
        );
    }
}
