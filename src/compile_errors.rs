//! Syntax errors CPython raises when compiling rather than parsing (`break` outside a loop,
//! `return` outside a function, duplicate parameters, `await` outside an async function …),
//! found with ruff's `SemanticSyntaxChecker` and a scope context kept here.

use std::cell::RefCell;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ModModule, PythonVersion, Stmt};
use ruff_python_parser::semantic_errors::{
    LazyImportContext, SemanticSyntaxChecker, SemanticSyntaxContext, SemanticSyntaxError,
};
use ruff_text_size::TextRange;

enum Scope<'a> {
    Module,
    Function {
        is_async: bool,
        parameters: Vec<&'a str>,
        /// Loops open in this function (`break` / `continue` need one).
        loops: u32,
    },
    Comprehension {
        is_async: bool,
        is_generator: bool,
    },
    Class {
        /// Loops open in this class body.
        loops: u32,
    },
}

struct Context<'a> {
    checker: SemanticSyntaxChecker,
    errors: RefCell<Vec<SemanticSyntaxError>>,
    python_version: PythonVersion,
    source: &'a str,
    scopes: Vec<Scope<'a>>,
    /// Loops open at module level (outside any function).
    module_loops: u32,
    in_try: bool,
}

/// Finds the compile-time syntax errors of a parsed module.
pub fn find(
    module: &ModModule,
    source: &str,
    python_version: PythonVersion,
) -> Vec<SemanticSyntaxError> {
    let mut context = Context {
        checker: SemanticSyntaxChecker::new(),
        errors: RefCell::default(),
        python_version,
        source,
        scopes: vec![Scope::Module],
        module_loops: 0,
        in_try: false,
    };
    context.visit_body(&module.body);
    context.errors.into_inner()
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
            .unwrap_or(&Scope::Module)
    }

    fn loops(&mut self) -> &mut u32 {
        for scope in self.scopes.iter_mut().rev() {
            match scope {
                Scope::Function { loops, .. } | Scope::Class { loops } => return loops,
                Scope::Module => break,
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
            Some(Scope::Module) | None => self.module_loops,
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

    fn global(&self, _name: &str) -> Option<TextRange> {
        // Declaration-order checks need binding positions; skipping them never invents errors.
        None
    }

    fn has_nonlocal_binding(&self, _name: &str) -> bool {
        true
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
                Scope::Module | Scope::Function { .. } => return false,
            }
        }
        false
    }

    fn in_module_scope(&self) -> bool {
        matches!(self.scopes.last(), Some(Scope::Module))
    }

    fn in_function_scope(&self) -> bool {
        matches!(self.enclosing(), Scope::Function { .. })
    }

    fn in_generator_context(&self) -> bool {
        self.scopes.iter().rev().any(|s| {
            matches!(
                s,
                Scope::Comprehension {
                    is_generator: true,
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
                self.scopes.push(Scope::Function {
                    is_async: def.is_async,
                    parameters: parameter_names(&def.parameters),
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
            Stmt::Try(_) => {
                let was_in_try = std::mem::replace(&mut self.in_try, true);
                visitor::walk_stmt(self, stmt);
                self.in_try = was_in_try;
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        self.with_checker(|checker, context| checker.visit_expr(expr, context));
        match expr {
            Expr::Lambda(lambda) => {
                if let Some(parameters) = &lambda.parameters {
                    self.visit_parameters(parameters);
                }
                self.scopes.push(Scope::Function {
                    is_async: false,
                    parameters: lambda
                        .parameters
                        .as_deref()
                        .map(parameter_names)
                        .unwrap_or_default(),
                    loops: 0,
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
                self.comprehension(generators, matches!(expr, Expr::Generator(_)), &[elt]);
            }
            Expr::DictComp(ast::ExprDictComp {
                key,
                value,
                generators,
                ..
            }) => {
                let mut parts: Vec<&'a Expr> = key.iter().map(|k| &**k).collect();
                parts.push(value);
                self.comprehension(generators, false, &parts);
            }
            _ => visitor::walk_expr(self, expr),
        }
    }
}

impl<'a> Context<'a> {
    fn comprehension(
        &mut self,
        generators: &'a [ast::Comprehension],
        is_generator: bool,
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
            is_generator,
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
