//! Syntax errors CPython raises when compiling rather than parsing (`break` outside a loop,
//! `return` outside a function, duplicate parameters, `await` outside an async function …),
//! found with ruff's `SemanticSyntaxChecker` and a scope context kept here.
//!
//! One file (over 700 lines): the checker's context trait and the scope walk that feeds it are
//! one state machine; the rules themselves are ruff's, and the table of CPython's limits is short.

use std::cell::RefCell;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ExprContext, ModModule, PythonVersion, Stmt};
use ruff_python_parser::semantic_errors::{
    LazyImportContext, SemanticSyntaxChecker, SemanticSyntaxContext, SemanticSyntaxError,
};
use ruff_text_size::{Ranged, TextRange};
use rustc_hash::FxHashSet;

/// A compile-time syntax error: where, and CPython's words for it.
pub struct CompileError {
    pub range: TextRange,
    pub message: String,
}

/// What a function's body declares and binds (its own scope only).
#[derive(Default)]
struct Declarations<'a> {
    /// `global x` statements.
    globals: Vec<(&'a str, TextRange)>,
    /// `nonlocal x` statements.
    nonlocals: Vec<(&'a str, TextRange)>,
    /// Names bound in the scope: assigned, imported, defined, parameters, `nonlocal` names.
    bound: FxHashSet<&'a str>,
}

impl<'a> Declarations<'a> {
    fn of(body: &'a [Stmt], parameters: &[&'a str]) -> Self {
        let mut collector = DeclarationCollector {
            declarations: Declarations::default(),
            comprehension_depth: 0,
        };
        collector
            .declarations
            .bound
            .extend(parameters.iter().copied());
        collector.visit_body(body);
        collector.declarations
    }

    /// The last `global name` statement: CPython refuses any use or binding of the name
    /// before it.
    fn global(&self, name: &str) -> Option<TextRange> {
        last_declaration(&self.globals, name)
    }

    /// The last `nonlocal name` statement.
    fn nonlocal(&self, name: &str) -> Option<TextRange> {
        last_declaration(&self.nonlocals, name)
    }
}

fn last_declaration(declarations: &[(&str, TextRange)], name: &str) -> Option<TextRange> {
    declarations
        .iter()
        .rev()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
}

impl Declarations<'_> {}

struct DeclarationCollector<'a> {
    declarations: Declarations<'a>,
    comprehension_depth: u32,
}

impl<'a> Visitor<'a> for DeclarationCollector<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        let bound = &mut self.declarations.bound;
        match stmt {
            Stmt::FunctionDef(def) => {
                bound.insert(def.name.id.as_str());
                return; // its body is its own scope
            }
            Stmt::ClassDef(class_def) => {
                bound.insert(class_def.name.id.as_str());
                return;
            }
            Stmt::Global(global) => {
                for name in &global.names {
                    self.declarations
                        .globals
                        .push((name.id.as_str(), global.range));
                }
            }
            Stmt::Nonlocal(nonlocal) => {
                for name in &nonlocal.names {
                    self.declarations
                        .nonlocals
                        .push((name.id.as_str(), nonlocal.range));
                    bound.insert(name.id.as_str());
                }
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let name = alias.asname.as_ref().map_or_else(
                        || alias.name.id.as_str().split('.').next().unwrap_or_default(),
                        |n| n.id.as_str(),
                    );
                    bound.insert(name);
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    bound.insert(alias.asname.as_ref().unwrap_or(&alias.name).id.as_str());
                }
            }
            Stmt::Try(try_stmt) => {
                for handler in &try_stmt.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    if let Some(name) = &handler.name {
                        bound.insert(name.id.as_str());
                    }
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Lambda(_) => {} // its own scope
            Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
                self.comprehension_depth += 1;
                visitor::walk_expr(self, expr);
                self.comprehension_depth -= 1;
            }
            Expr::Named(named) => {
                // `:=` binds in the enclosing function, also inside a comprehension.
                if let Expr::Name(name) = &*named.target {
                    self.declarations.bound.insert(name.id.as_str());
                }
                self.visit_expr(&named.value);
            }
            Expr::Name(name) if self.comprehension_depth == 0 && name.ctx != ExprContext::Load => {
                self.declarations.bound.insert(name.id.as_str());
            }
            _ => visitor::walk_expr(self, expr),
        }
    }

    fn visit_pattern(&mut self, pattern: &'a ast::Pattern) {
        match pattern {
            ast::Pattern::MatchAs(p) => {
                if let Some(name) = &p.name {
                    self.declarations.bound.insert(name.id.as_str());
                }
            }
            ast::Pattern::MatchStar(p) => {
                if let Some(name) = &p.name {
                    self.declarations.bound.insert(name.id.as_str());
                }
            }
            ast::Pattern::MatchMapping(p) => {
                if let Some(name) = &p.rest {
                    self.declarations.bound.insert(name.id.as_str());
                }
            }
            _ => {}
        }
        visitor::walk_pattern(self, pattern);
    }
}

enum Scope<'a> {
    Module {
        declarations: Declarations<'a>,
    },
    Function {
        is_async: bool,
        parameters: Vec<&'a str>,
        /// Loops open in this function (`break` / `continue` need one).
        loops: u32,
        declarations: Declarations<'a>,
    },
    Comprehension {
        is_async: bool,
        kind: ComprehensionKind,
    },
    Class {
        /// Loops open in this class body.
        loops: u32,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ComprehensionKind {
    List,
    Set,
    Dict,
    Generator,
}

impl ComprehensionKind {
    /// As CPython's messages name it.
    fn name(self) -> &'static str {
        match self {
            ComprehensionKind::List => "list comprehension",
            ComprehensionKind::Set => "set comprehension",
            ComprehensionKind::Dict => "dict comprehension",
            ComprehensionKind::Generator => "generator expression",
        }
    }
}

struct Context<'a> {
    checker: SemanticSyntaxChecker,
    errors: RefCell<Vec<SemanticSyntaxError>>,
    /// Errors CPython raises that ruff's checker does not look for.
    more_errors: Vec<CompileError>,
    python_version: PythonVersion,
    source: &'a str,
    scopes: Vec<Scope<'a>>,
    /// Loops open at module level (outside any function).
    module_loops: u32,
    in_try: bool,
}

/// Finds the compile-time syntax errors of a parsed module.
pub fn find(module: &ModModule, source: &str, python_version: PythonVersion) -> Vec<CompileError> {
    let mut context = Context {
        checker: SemanticSyntaxChecker::new(),
        errors: RefCell::default(),
        more_errors: Vec::new(),
        python_version,
        source,
        scopes: vec![Scope::Module {
            declarations: Declarations::of(&module.body, &[]),
        }],
        module_loops: 0,
        in_try: false,
    };
    context.visit_body(&module.body);
    let mut errors: Vec<CompileError> = context
        .errors
        .into_inner()
        .into_iter()
        .map(|error| CompileError {
            range: error.range,
            message: error.to_string(),
        })
        .collect();
    errors.extend(context.more_errors);
    errors.sort_by_key(|error| error.range.start());
    errors
}

impl<'a> Context<'a> {
    fn with_checker(&mut self, f: impl FnOnce(&mut SemanticSyntaxChecker, &Self)) {
        let mut checker = std::mem::take(&mut self.checker);
        f(&mut checker, self);
        self.checker = checker;
    }

    /// The innermost scope that is not a comprehension.
    fn enclosing(&self) -> &Scope<'a> {
        self.scopes
            .iter()
            .rev()
            .find(|s| !matches!(s, Scope::Comprehension { .. }))
            .unwrap_or(&self.scopes[0])
    }

    /// The declarations of the innermost function or the module (class bodies have none
    /// that matter here).
    fn declarations(&self) -> Option<&Declarations<'a>> {
        match self.enclosing() {
            Scope::Function { declarations, .. } | Scope::Module { declarations } => {
                Some(declarations)
            }
            _ => None,
        }
    }

    fn loops(&mut self) -> &mut u32 {
        for scope in self.scopes.iter_mut().rev() {
            match scope {
                Scope::Function { loops, .. } | Scope::Class { loops } => return loops,
                Scope::Module { .. } => break,
                Scope::Comprehension { .. } => {}
            }
        }
        &mut self.module_loops
    }

    fn in_loop(&mut self, f: impl FnOnce(&mut Self)) {
        *self.loops() += 1;
        f(self);
        *self.loops() -= 1;
    }

    /// Loops open in the innermost function, class body or module: a loop outside a `def` or
    /// `class` does not make `break` legal inside it.
    fn loop_depth(&self) -> u32 {
        match self.scopes.last() {
            Some(Scope::Function { loops, .. } | Scope::Class { loops }) => *loops,
            Some(Scope::Module { .. }) | None => self.module_loops,
            Some(Scope::Comprehension { .. }) => 0,
        }
    }
}

impl SemanticSyntaxContext for Context<'_> {
    fn future_annotations_or_stub(&self) -> bool {
        false
    }

    fn lazy_import_context(&self) -> Option<LazyImportContext> {
        match self.scopes.last() {
            Some(Scope::Function { .. }) => return Some(LazyImportContext::Function),
            Some(Scope::Class { .. }) => return Some(LazyImportContext::Class),
            _ => {}
        }
        self.in_try.then_some(LazyImportContext::TryExceptBlocks)
    }

    fn python_version(&self) -> PythonVersion {
        self.python_version
    }

    fn source(&self) -> &str {
        self.source
    }

    fn global(&self, name: &str) -> Option<TextRange> {
        // Names in a comprehension are its own (CPython's symbol table gives it a scope): a
        // use there never comes "prior to" the function's `global` (`:=` is checked below).
        if matches!(self.scopes.last(), Some(Scope::Comprehension { .. })) {
            return None;
        }
        self.declarations()?.global(name)
    }

    /// Whether a function around the current one binds `name` (class bodies are skipped; a
    /// function declaring it `global` ends the search).
    fn has_nonlocal_binding(&self, name: &str) -> bool {
        let outer = self.scopes.len().saturating_sub(1);
        for scope in self.scopes[..outer].iter().rev() {
            match scope {
                Scope::Function { declarations, .. } => {
                    if declarations.global(name).is_some() {
                        return false;
                    }
                    if declarations.bound.contains(name) {
                        return true;
                    }
                }
                Scope::Module { .. } => return false,
                // A class body gives its methods an implicit `__class__` cell.
                Scope::Class { .. } if name == "__class__" => return true,
                Scope::Class { .. } | Scope::Comprehension { .. } => {}
            }
        }
        false
    }

    /// Comprehensions inherit the async-ness of the function around them.
    fn in_async_context(&self) -> bool {
        match self.enclosing() {
            Scope::Function { is_async, .. } => *is_async,
            _ => false,
        }
    }

    fn in_await_allowed_context(&self) -> bool {
        matches!(self.enclosing(), Scope::Function { .. })
    }

    fn in_yield_allowed_context(&self) -> bool {
        matches!(self.scopes.last(), Some(Scope::Function { .. }))
    }

    fn in_sync_comprehension(&self) -> bool {
        self.scopes.iter().any(|s| {
            matches!(
                s,
                Scope::Comprehension {
                    is_async: false,
                    ..
                }
            )
        })
    }

    fn in_class_body_comprehension(&self) -> bool {
        for scope in self.scopes.iter().rev() {
            match scope {
                Scope::Comprehension { .. } => {}
                Scope::Class { .. } => return true,
                Scope::Module { .. } | Scope::Function { .. } => return false,
            }
        }
        false
    }

    fn in_module_scope(&self) -> bool {
        matches!(self.scopes.last(), Some(Scope::Module { .. }))
    }

    fn in_function_scope(&self) -> bool {
        matches!(self.enclosing(), Scope::Function { .. })
    }

    fn in_generator_context(&self) -> bool {
        self.scopes.iter().rev().any(|s| {
            matches!(
                s,
                Scope::Comprehension {
                    kind: ComprehensionKind::Generator,
                    ..
                }
            )
        })
    }

    fn in_notebook(&self) -> bool {
        false
    }

    fn report_semantic_error(&self, error: SemanticSyntaxError) {
        self.errors.borrow_mut().push(error);
    }

    fn in_loop_context(&self) -> bool {
        self.loop_depth() > 0
    }

    fn is_bound_parameter(&self, name: &str) -> bool {
        matches!(self.scopes.last(), Some(Scope::Function { parameters, .. }) if parameters.contains(&name))
    }
}

fn parameter_names(parameters: &ast::Parameters) -> Vec<&str> {
    parameters
        .iter_non_variadic_params()
        .map(|p| p.parameter.name.id.as_str())
        .chain(parameters.vararg.as_ref().map(|p| p.name.id.as_str()))
        .chain(parameters.kwarg.as_ref().map(|p| p.name.id.as_str()))
        .collect()
}

impl<'a> Visitor<'a> for Context<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        self.with_checker(|checker, context| checker.visit_stmt(stmt, context));
        for (name, range) in statement_bindings(stmt) {
            self.binding_before_declaration(name, range, true);
        }
        match stmt {
            Stmt::ClassDef(class_def) => {
                for decorator in &class_def.decorator_list {
                    self.visit_decorator(decorator);
                }
                if let Some(type_params) = &class_def.type_params {
                    self.visit_type_params(type_params);
                }
                if let Some(arguments) = &class_def.arguments {
                    self.visit_arguments(arguments);
                }
                self.scopes.push(Scope::Class { loops: 0 });
                self.visit_body(&class_def.body);
                self.scopes.pop();
            }
            Stmt::FunctionDef(def) => {
                for decorator in &def.decorator_list {
                    self.visit_decorator(decorator);
                }
                if let Some(type_params) = &def.type_params {
                    self.visit_type_params(type_params);
                }
                self.visit_parameters(&def.parameters);
                if let Some(returns) = &def.returns {
                    self.visit_annotation(returns);
                }
                let parameters = parameter_names(&def.parameters);
                self.scopes.push(Scope::Function {
                    is_async: def.is_async,
                    declarations: Declarations::of(&def.body, &parameters),
                    parameters,
                    loops: 0,
                });
                self.visit_body(&def.body);
                self.scopes.pop();
            }
            Stmt::For(for_stmt) => {
                self.visit_expr(&for_stmt.iter);
                self.visit_expr(&for_stmt.target);
                self.in_loop(|c| c.visit_body(&for_stmt.body));
                self.visit_body(&for_stmt.orelse);
            }
            Stmt::While(while_stmt) => {
                self.visit_expr(&while_stmt.test);
                self.in_loop(|c| c.visit_body(&while_stmt.body));
                self.visit_body(&while_stmt.orelse);
            }
            Stmt::Try(try_stmt) => {
                self.try_rules(try_stmt);
                let was_in_try = std::mem::replace(&mut self.in_try, true);
                visitor::walk_stmt(self, stmt);
                self.in_try = was_in_try;
            }
            Stmt::AugAssign(ast::StmtAugAssign { value, .. })
            | Stmt::Expr(ast::StmtExpr { value, .. })
            | Stmt::AnnAssign(ast::StmtAnnAssign {
                value: Some(value), ..
            }) if value.is_starred_expr() => {
                // ruff's parser takes `x += *a`, `x: T = *a` and a statement `*a`; CPython's
                // compiler does not.
                self.error(value.range(), "can't use starred expression here");
                visitor::walk_stmt(self, stmt);
            }
            Stmt::AnnAssign(assign) => {
                if let Expr::Name(name) = &*assign.target {
                    let name = name.id.as_str();
                    if self
                        .declarations()
                        .is_some_and(|d| d.nonlocal(name).is_some())
                    {
                        self.error(
                            assign.target.range(),
                            format!("annotated name '{name}' can't be nonlocal"),
                        );
                    }
                }
                visitor::walk_stmt(self, stmt);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        self.with_checker(|checker, context| checker.visit_expr(expr, context));
        match expr {
            Expr::Name(name) => {
                // ruff's checker covers `global`; `nonlocal` is checked here.
                if matches!(self.scopes.last(), Some(Scope::Function { .. })) {
                    let bound = name.ctx != ExprContext::Load;
                    self.nonlocal_after(name.id.as_str(), name.range, bound);
                    // Reading `super` in a function reads `__class__` too (CPython's symbol
                    // table adds the use, for zero-argument `super()`).
                    if name.id.as_str() == "super" && !bound {
                        self.nonlocal_after("__class__", name.range, false);
                        let global = self
                            .declarations()
                            .and_then(|d| d.global("__class__"))
                            .filter(|declaration| name.range.start() < declaration.start());
                        if global.is_some() {
                            self.error(
                                name.range,
                                "name '__class__' is used prior to global declaration",
                            );
                        }
                    }
                }
            }
            // `:=` in a comprehension binds in the enclosing function: before that function's
            // `global`/`nonlocal` statement, an error (other names of a comprehension are its own).
            Expr::Named(named)
                if matches!(self.scopes.last(), Some(Scope::Comprehension { .. })) =>
            {
                if let Expr::Name(name) = &*named.target {
                    self.binding_before_declaration(name.id.as_str(), name.range, true);
                }
                visitor::walk_expr(self, expr);
            }
            // In a function, ruff's checker takes a comprehension's `yield` for the function's.
            Expr::Yield(_) | Expr::YieldFrom(_) if self.in_function_scope() => {
                if let Some(Scope::Comprehension { kind, .. }) = self.scopes.last() {
                    let message = format!("'yield' inside {}", kind.name());
                    self.error(expr.range(), message);
                }
                visitor::walk_expr(self, expr);
            }
            Expr::Lambda(lambda) => {
                if let Some(parameters) = &lambda.parameters {
                    self.visit_parameters(parameters);
                }
                let parameters = lambda
                    .parameters
                    .as_deref()
                    .map(parameter_names)
                    .unwrap_or_default();
                let mut declarations = Declarations::default();
                declarations.bound.extend(parameters.iter().copied());
                self.scopes.push(Scope::Function {
                    is_async: false,
                    parameters,
                    loops: 0,
                    declarations,
                });
                self.visit_expr(&lambda.body);
                self.scopes.pop();
            }
            Expr::ListComp(ast::ExprListComp {
                elt, generators, ..
            })
            | Expr::SetComp(ast::ExprSetComp {
                elt, generators, ..
            })
            | Expr::Generator(ast::ExprGenerator {
                elt, generators, ..
            }) => {
                let kind = match expr {
                    Expr::ListComp(_) => ComprehensionKind::List,
                    Expr::SetComp(_) => ComprehensionKind::Set,
                    _ => ComprehensionKind::Generator,
                };
                self.comprehension(generators, kind, &[elt]);
            }
            Expr::DictComp(ast::ExprDictComp {
                key,
                value,
                generators,
                ..
            }) => {
                let mut parts: Vec<&'a Expr> = key.iter().map(|k| &**k).collect();
                parts.push(value);
                self.comprehension(generators, ComprehensionKind::Dict, &parts);
            }
            _ => visitor::walk_expr(self, expr),
        }
    }
}

impl<'a> Context<'a> {
    /// A name bound by a statement (`def`, `class`, `except ... as`) before its
    /// scope declares it `global` or `nonlocal` (ruff's checker sees only assignments).
    fn binding_before_declaration(&mut self, name: &str, range: TextRange, bound: bool) {
        let global = self
            .declarations()
            .and_then(|d| d.global(name))
            .filter(|declaration| range.start() < declaration.start());
        if global.is_some() {
            self.error(
                range,
                format!("name '{name}' is assigned to before global declaration"),
            );
        }
        if matches!(self.enclosing(), Scope::Function { .. }) {
            self.nonlocal_after(name, range, bound);
        }
    }

    /// A use or binding of `name` before the function's `nonlocal name` statement.
    fn nonlocal_after(&mut self, name: &str, range: TextRange, bound: bool) {
        let Some(declaration) = self.declarations().and_then(|d| d.nonlocal(name)) else {
            return;
        };
        if range.start() >= declaration.start() {
            return;
        }
        let message = if bound {
            format!("name '{name}' is assigned to before nonlocal declaration")
        } else {
            format!("name '{name}' is used prior to nonlocal declaration")
        };
        self.error(range, message);
    }

    fn error(&mut self, range: TextRange, message: impl Into<String>) {
        self.more_errors.push(CompileError {
            range,
            message: message.into(),
        });
    }

    /// What CPython's grammar and compiler require of a `try` that ruff's parser lets
    /// through: an `except` before `else`, a bare `except:` last, and no `return`, `break` or
    /// `continue` leaving an `except*` block.
    fn try_rules(&mut self, try_stmt: &'a ast::StmtTry) {
        if try_stmt.handlers.is_empty() && !try_stmt.orelse.is_empty() {
            let start = try_stmt.orelse[0].start();
            self.error(
                TextRange::empty(start),
                "expected 'except' or 'finally' block",
            );
        }
        let last = try_stmt.handlers.len().saturating_sub(1);
        for (index, handler) in try_stmt.handlers.iter().enumerate() {
            let ast::ExceptHandler::ExceptHandler(handler) = handler;
            if handler.type_.is_none() && index < last {
                self.error(handler.range, "default 'except:' must be last");
            }
            if try_stmt.is_star {
                let mut finder = ExceptStarJumps {
                    loops: 0,
                    found: None,
                };
                finder.visit_body(&handler.body);
                if let Some(range) = finder.found {
                    self.error(
                        range,
                        "'break', 'continue' and 'return' cannot appear in an except* block",
                    );
                }
            }
        }
    }

    fn comprehension(
        &mut self,
        generators: &'a [ast::Comprehension],
        kind: ComprehensionKind,
        parts: &[&'a Expr],
    ) {
        // The first iterable is evaluated in the enclosing scope.
        let mut generators = generators.iter();
        let first = generators.next();
        if let Some(first) = first {
            self.visit_expr(&first.iter);
        }
        self.scopes.push(Scope::Comprehension {
            is_async: first.is_some_and(|g| g.is_async) || generators.clone().any(|g| g.is_async),
            kind,
        });
        if let Some(first) = first {
            self.visit_expr(&first.target);
            for condition in &first.ifs {
                self.visit_expr(condition);
            }
        }
        for generator in generators {
            self.visit_comprehension(generator);
        }
        for part in parts {
            self.visit_expr(part);
        }
        self.scopes.pop();
    }
}

/// The names a statement itself binds other than by assignment (those are `Expr::Name`s).
/// Imports are not among them: CPython lets `import x` come before `global x`.
fn statement_bindings(stmt: &Stmt) -> Vec<(&str, TextRange)> {
    match stmt {
        Stmt::FunctionDef(def) => vec![(def.name.id.as_str(), def.name.range)],
        Stmt::ClassDef(class_def) => vec![(class_def.name.id.as_str(), class_def.name.range)],
        Stmt::Try(try_stmt) => try_stmt
            .handlers
            .iter()
            .filter_map(|handler| {
                let ast::ExceptHandler::ExceptHandler(handler) = handler;
                handler.name.as_ref().map(|n| (n.id.as_str(), n.range))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The first `return`, or `break`/`continue` not inside a loop of its own, in an `except*`
/// block.
struct ExceptStarJumps {
    loops: u32,
    found: Option<TextRange>,
}

impl<'a> Visitor<'a> for ExceptStarJumps {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.found.is_some() {
            return;
        }
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::For(_) | Stmt::While(_) => {
                if let Some((_, body, orelse)) = crate::knowledge::loop_parts(stmt) {
                    self.loops += 1;
                    self.visit_body(body);
                    self.loops -= 1;
                    self.visit_body(orelse);
                }
            }
            Stmt::Return(_) => self.found = Some(stmt.range()),
            Stmt::Break(_) | Stmt::Continue(_) if self.loops == 0 => {
                self.found = Some(stmt.range())
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, _expr: &'a Expr) {}
}
