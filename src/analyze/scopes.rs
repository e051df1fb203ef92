//! Scopes: the functions, lambdas and classes defined in a module, what each name is bound to in
//! each scope, and how a name used in one scope resolves (Python's LEGB rules, class bodies
//! skipped). Pass one of the analysis; everything after queries it.
//!
//! One file (over 700 lines, a third of it tests): one walk fills one table; splitting the
//! walk from the queries would split the knowledge of how a binding is recorded.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{
    Comprehension, Expr, ExprContext, ExprLambda, ModModule, Parameters, Stmt, StmtFunctionDef,
};
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashMap;

use super::rt_api;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(pub u32);

/// A scope that owns local variables: the module, or one function (or lambda).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeId {
    Module,
    Function(FunctionId),
}

/// What a name is bound to in one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// Only ever bound by this `def`.
    Function(FunctionId),
    /// Only ever bound by this `class`.
    Class(ClassId),
    /// The runtime module, `import rt` or `import rt as r`.
    RtModule,
    /// A name imported from the runtime: `from rt import spawn as s` binds `s` to `spawn`.
    RtName(&'a str),
    /// Any other import.
    Module,
    /// Anything else, or a name bound in more than one way: a variable.
    Variable,
}

/// The syntax node of a function.
#[derive(Debug, Clone, Copy)]
pub enum FunctionNode<'a> {
    Def(&'a StmtFunctionDef),
    Lambda(&'a ExprLambda),
}

#[derive(Debug)]
pub struct Function<'a> {
    pub node: FunctionNode<'a>,
    /// `name` for a def, `<lambda>` for a lambda.
    pub name: &'a str,
    /// Dotted path for messages: `Worker.run`, `handler.<locals>.step`.
    pub qualname: String,
    /// The def's name, or the `lambda` keyword.
    pub name_range: TextRange,
    /// The innermost enclosing scope that owns variables (class bodies are skipped).
    pub parent: ScopeId,
    /// The class whose body directly contains this def.
    pub class: Option<ClassId>,
    /// Whether a class containing this function is itself defined inside a function.
    pub in_local_class: bool,
    pub locals: FxHashMap<&'a str, Binding<'a>>,
    /// Positional parameters in order, then `*args`, keyword-only, `**kwargs`.
    pub params: ParamNames<'a>,
    pub global_decls: FxHashMap<&'a str, TextRange>,
    pub nonlocal_decls: FxHashMap<&'a str, TextRange>,
    /// Assignments to names declared `global` or `nonlocal`.
    pub declared_writes: Vec<(&'a str, TextRange)>,
    /// `yield`, `yield from` and `await` expressions directly in this function.
    pub yields: Vec<TextRange>,
    pub is_async: bool,
    /// The docstring contains `kappa:ignore`.
    pub kappa_ignore: bool,
    /// Decorated with `@on_coordinator` / `@rt.on_coordinator`.
    pub on_coordinator: bool,
    /// Decorators other than `on_coordinator` (and `staticmethod`/`classmethod` on methods).
    pub other_decorators: Vec<TextRange>,
    /// The parameter naming the instance (`self`) or class (`cls`) in a method.
    pub receiver: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct ParamNames<'a> {
    pub positional: Vec<&'a str>,
    pub vararg: Option<&'a str>,
    pub keyword_only: Vec<&'a str>,
    pub kwarg: Option<&'a str>,
}

impl<'a> ParamNames<'a> {
    /// The parameter that receives the positional argument at `index`.
    pub fn for_position(&self, index: usize) -> Option<&'a str> {
        self.positional.get(index).copied().or(self.vararg)
    }

    /// The parameter that receives the keyword argument `name`.
    pub fn for_keyword(&self, name: &str) -> Option<&'a str> {
        self.positional
            .iter()
            .chain(&self.keyword_only)
            .copied()
            .find(|p| *p == name)
            .or(self.kwarg)
    }

    pub fn all(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.positional
            .iter()
            .copied()
            .chain(self.vararg)
            .chain(self.keyword_only.iter().copied())
            .chain(self.kwarg)
    }
}

#[derive(Debug)]
pub struct Class<'a> {
    pub name: &'a str,
    pub name_range: TextRange,
    /// Base classes given by simple name.
    pub bases: Vec<&'a str>,
    pub methods: FxHashMap<&'a str, FunctionId>,
    pub parent: ScopeId,
}

/// How a name used in some scope resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved<'a> {
    Bound(ScopeId, Binding<'a>),
    /// Not bound in handler.py: a builtin (or a name that fails at run time).
    Builtin,
}

/// Everything pass one learns about a module.
#[derive(Debug, Default)]
pub struct Scopes<'a> {
    pub functions: Vec<Function<'a>>,
    pub classes: Vec<Class<'a>>,
    pub module_bindings: FxHashMap<&'a str, Binding<'a>>,
    /// `from rt import name` of a name the runtime does not define.
    pub unknown_rt_imports: Vec<(&'a str, TextRange)>,
    /// Module-level `from rt import *`.
    pub rt_star_import: bool,
    /// The module imports `rt` somewhere. Without it no runtime object (future, queue) can
    /// exist, so methods named like coordinator calls are ordinary methods.
    pub imports_rt: bool,
    /// Every method defined in any class, by name.
    methods_by_name: FxHashMap<&'a str, Vec<FunctionId>>,
    function_by_start: FxHashMap<TextSize, FunctionId>,
    class_by_start: FxHashMap<TextSize, ClassId>,
}

impl<'a> Scopes<'a> {
    pub fn collect(module: &'a ModModule) -> Scopes<'a> {
        let mut collector = Collector {
            scopes: Scopes::default(),
            stack: vec![Frame::Module],
            comprehension_targets: 0,
        };
        collector.visit_body(&module.body);
        let mut scopes = collector.scopes;
        if scopes.rt_star_import {
            for name in rt_api::NAMES {
                scopes
                    .module_bindings
                    .entry(name)
                    .or_insert(Binding::RtName(name));
            }
        }
        scopes
    }

    pub fn function(&self, id: FunctionId) -> &Function<'a> {
        &self.functions[id.0 as usize]
    }

    pub fn class(&self, id: ClassId) -> &Class<'a> {
        &self.classes[id.0 as usize]
    }

    pub fn function_ids(&self) -> impl Iterator<Item = FunctionId> {
        (0..self.functions.len() as u32).map(FunctionId)
    }

    /// The function defined by the def or lambda starting at `start`.
    pub fn function_at(&self, start: TextSize) -> Option<FunctionId> {
        self.function_by_start.get(&start).copied()
    }

    pub fn class_at(&self, start: TextSize) -> Option<ClassId> {
        self.class_by_start.get(&start).copied()
    }

    /// Every method named `name`, in any class of the module.
    pub fn methods_named(&self, name: &str) -> &[FunctionId] {
        self.methods_by_name.get(name).map_or(&[], Vec::as_slice)
    }

    fn bindings(&self, scope: ScopeId) -> &FxHashMap<&'a str, Binding<'a>> {
        match scope {
            ScopeId::Module => &self.module_bindings,
            ScopeId::Function(id) => &self.function(id).locals,
        }
    }

    /// Resolves `name` used in `scope` as Python does at run time.
    pub fn resolve(&self, scope: ScopeId, name: &str) -> Resolved<'a> {
        let mut current = scope;
        loop {
            match current {
                ScopeId::Module => {
                    return match self.module_bindings.get(name) {
                        Some(binding) => Resolved::Bound(ScopeId::Module, *binding),
                        None => Resolved::Builtin,
                    };
                }
                ScopeId::Function(id) => {
                    let function = self.function(id);
                    if function.global_decls.contains_key(name) {
                        current = ScopeId::Module;
                        continue;
                    }
                    if !function.nonlocal_decls.contains_key(name) {
                        if let Some(binding) = function.locals.get(name) {
                            return Resolved::Bound(current, *binding);
                        }
                    }
                    current = function.parent;
                }
            }
        }
    }

    /// Whether `name` is bound in `scope` itself.
    pub fn is_local(&self, scope: ScopeId, name: &str) -> bool {
        self.bindings(scope).contains_key(name)
    }

    /// Looks a method up in a class and its bases defined in this module (depth-first, as a
    /// single-inheritance MRO would).
    pub fn lookup_method(&self, class: ClassId, name: &str) -> Option<FunctionId> {
        let mut seen = Vec::new();
        self.lookup_method_inner(class, name, &mut seen)
    }

    fn lookup_method_inner(
        &self,
        class: ClassId,
        name: &str,
        seen: &mut Vec<ClassId>,
    ) -> Option<FunctionId> {
        if seen.contains(&class) {
            return None;
        }
        seen.push(class);
        let info = self.class(class);
        if let Some(id) = info.methods.get(name) {
            return Some(*id);
        }
        for base in &info.bases {
            if let Resolved::Bound(_, Binding::Class(base_id)) = self.resolve(info.parent, base) {
                if let Some(found) = self.lookup_method_inner(base_id, name, seen) {
                    return Some(found);
                }
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy)]
enum Frame {
    Module,
    Function(FunctionId),
    Class(ClassId),
}

struct Collector<'a> {
    scopes: Scopes<'a>,
    stack: Vec<Frame>,
    /// Depth of comprehension targets being visited: names stored there are not locals.
    comprehension_targets: u32,
}

impl<'a> Collector<'a> {
    /// The innermost scope that owns variables.
    fn owner(&self) -> ScopeId {
        for frame in self.stack.iter().rev() {
            match frame {
                Frame::Module => return ScopeId::Module,
                Frame::Function(id) => return ScopeId::Function(*id),
                Frame::Class(_) => {}
            }
        }
        ScopeId::Module
    }

    fn in_function(&self) -> bool {
        self.stack.iter().any(|f| matches!(f, Frame::Function(_)))
    }

    fn current_function(&mut self) -> Option<&mut Function<'a>> {
        match self.stack.last() {
            Some(Frame::Function(id)) => Some(&mut self.scopes.functions[id.0 as usize]),
            _ => None,
        }
    }

    fn qualname(&self, name: &str) -> String {
        let mut parts: Vec<String> = Vec::new();
        for frame in &self.stack {
            match frame {
                Frame::Module => {}
                Frame::Function(id) => {
                    parts.push(self.scopes.function(*id).name.to_owned());
                    parts.push("<locals>".to_owned());
                }
                Frame::Class(id) => parts.push(self.scopes.class(*id).name.to_owned()),
            }
        }
        parts.push(name.to_owned());
        parts.join(".")
    }

    /// Binds `name` in the current frame. Class bodies bind class attributes, which are not
    /// variables of any scope kappac tracks.
    fn bind(&mut self, name: &'a str, binding: Binding<'a>, range: TextRange) {
        let map = match self.stack.last() {
            Some(Frame::Module) | None => &mut self.scopes.module_bindings,
            Some(Frame::Function(id)) => {
                let function = &mut self.scopes.functions[id.0 as usize];
                if function.global_decls.contains_key(name) {
                    function.declared_writes.push((name, range));
                    &mut self.scopes.module_bindings
                } else if function.nonlocal_decls.contains_key(name) {
                    function.declared_writes.push((name, range));
                    return;
                } else {
                    &mut function.locals
                }
            }
            Some(Frame::Class(_)) => return,
        };
        map.entry(name)
            .and_modify(|existing| {
                if *existing != binding {
                    *existing = Binding::Variable;
                }
            })
            .or_insert(binding);
    }

    fn is_on_coordinator(&self, decorator: &Expr) -> bool {
        let owner = self.owner();
        match decorator {
            Expr::Name(name) => {
                matches!(self.resolve_now(owner, &name.id), Some(Binding::RtName(n)) if n == "on_coordinator")
            }
            Expr::Attribute(attribute) => {
                attribute.attr.as_str() == "on_coordinator"
                    && matches!(&*attribute.value, Expr::Name(base)
                        if matches!(self.resolve_now(owner, &base.id), Some(Binding::RtModule)))
            }
            _ => false,
        }
    }

    /// Resolution during collection: imports precede their use, so what is bound so far is
    /// enough for decorators.
    fn resolve_now(&self, scope: ScopeId, name: &str) -> Option<Binding<'a>> {
        match self.scopes.resolve(scope, name) {
            Resolved::Bound(_, binding) => Some(binding),
            Resolved::Builtin => None,
        }
    }

    fn new_function(
        &mut self,
        node: FunctionNode<'a>,
        name: &'a str,
        name_range: TextRange,
        parameters: Option<&'a Parameters>,
    ) -> FunctionId {
        let id = FunctionId(self.scopes.functions.len() as u32);
        let class = match self.stack.last() {
            Some(Frame::Class(class)) if matches!(node, FunctionNode::Def(_)) => Some(*class),
            _ => None,
        };
        let in_local_class = class.is_some() && self.in_function();
        let mut params = ParamNames::default();
        if let Some(parameters) = parameters {
            for p in parameters.posonlyargs.iter().chain(&parameters.args) {
                params.positional.push(p.parameter.name.id.as_str());
            }
            params.vararg = parameters.vararg.as_ref().map(|p| p.name.id.as_str());
            for p in &parameters.kwonlyargs {
                params.keyword_only.push(p.parameter.name.id.as_str());
            }
            params.kwarg = parameters.kwarg.as_ref().map(|p| p.name.id.as_str());
        }
        let mut locals = FxHashMap::default();
        for name in params.all() {
            locals.insert(name, Binding::Variable);
        }
        let (is_async, kappa_ignore) = match node {
            FunctionNode::Def(def) => (def.is_async, docstring_has_ignore(&def.body)),
            FunctionNode::Lambda(_) => (false, false),
        };
        let qualname = self.qualname(name);
        self.scopes.functions.push(Function {
            node,
            name,
            qualname,
            name_range,
            parent: self.owner(),
            class,
            in_local_class,
            locals,
            params,
            global_decls: FxHashMap::default(),
            nonlocal_decls: FxHashMap::default(),
            declared_writes: Vec::new(),
            yields: Vec::new(),
            is_async,
            kappa_ignore,
            on_coordinator: false,
            other_decorators: Vec::new(),
            receiver: None,
        });
        id
    }

    fn visit_function_def(&mut self, def: &'a StmtFunctionDef) {
        for decorator in &def.decorator_list {
            self.visit_decorator(decorator);
        }
        self.visit_parameter_defaults(&def.parameters);
        if let Some(returns) = &def.returns {
            self.visit_annotation(returns);
        }
        let id = self.new_function(
            FunctionNode::Def(def),
            def.name.id.as_str(),
            def.name.range,
            Some(&def.parameters),
        );
        let mut is_static = false;
        let mut on_coordinator = false;
        let mut others = Vec::new();
        for decorator in &def.decorator_list {
            if self.is_on_coordinator(&decorator.expression) {
                on_coordinator = true;
            } else {
                // `staticmethod` and `classmethod` (the builtins, on a method) change only how
                // the function receives its first argument, which continuations handle.
                let builtin = match &decorator.expression {
                    Expr::Name(n) if matches!(n.id.as_str(), "staticmethod" | "classmethod") => {
                        let owner = self.owner();
                        self.resolve_now(owner, n.id.as_str())
                            .is_none()
                            .then_some(n.id.as_str())
                    }
                    _ => None,
                };
                let in_class = matches!(self.stack.last(), Some(Frame::Class(_)));
                match builtin {
                    Some("staticmethod") if in_class => is_static = true,
                    Some("classmethod") if in_class => {}
                    _ => others.push(decorator.range()),
                }
            }
        }
        {
            let function = &mut self.scopes.functions[id.0 as usize];
            function.on_coordinator = on_coordinator;
            function.other_decorators = others;
            if function.class.is_some() && !is_static {
                function.receiver = function.params.positional.first().copied();
            }
        }
        if let Some(Frame::Class(class)) = self.stack.last() {
            self.scopes.classes[class.0 as usize]
                .methods
                .insert(def.name.id.as_str(), id);
            self.scopes
                .methods_by_name
                .entry(def.name.id.as_str())
                .or_default()
                .push(id);
        } else {
            self.bind(def.name.id.as_str(), Binding::Function(id), def.name.range);
        }
        self.scopes.function_by_start.insert(def.range.start(), id);
        self.stack.push(Frame::Function(id));
        self.visit_body(&def.body);
        self.stack.pop();
    }

    fn visit_parameter_defaults(&mut self, parameters: &'a Parameters) {
        for p in parameters.iter_non_variadic_params() {
            if let Some(default) = &p.default {
                self.visit_expr(default);
            }
        }
    }

    fn visit_comprehensions(&mut self, generators: &'a [Comprehension]) {
        for generator in generators {
            self.visit_expr(&generator.iter);
            self.comprehension_targets += 1;
            self.visit_expr(&generator.target);
            self.comprehension_targets -= 1;
            for condition in &generator.ifs {
                self.visit_expr(condition);
            }
        }
    }
}

impl<'a> Visitor<'a> for Collector<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(def) => self.visit_function_def(def),
            Stmt::ClassDef(class_def) => {
                for decorator in &class_def.decorator_list {
                    self.visit_decorator(decorator);
                }
                let mut bases = Vec::new();
                if let Some(arguments) = &class_def.arguments {
                    self.visit_arguments(arguments);
                    for base in arguments.args.iter() {
                        if let Expr::Name(name) = base {
                            bases.push(name.id.as_str());
                        }
                    }
                }
                let id = ClassId(self.scopes.classes.len() as u32);
                self.scopes.classes.push(Class {
                    name: class_def.name.id.as_str(),
                    name_range: class_def.name.range,
                    bases,
                    methods: FxHashMap::default(),
                    parent: self.owner(),
                });
                self.scopes
                    .class_by_start
                    .insert(class_def.range.start(), id);
                self.bind(
                    class_def.name.id.as_str(),
                    Binding::Class(id),
                    class_def.name.range,
                );
                self.stack.push(Frame::Class(id));
                self.visit_body(&class_def.body);
                self.stack.pop();
            }
            Stmt::Global(global) => {
                if let Some(function) = self.current_function() {
                    for name in &global.names {
                        function.global_decls.insert(name.id.as_str(), name.range);
                    }
                }
            }
            Stmt::Nonlocal(nonlocal) => {
                if let Some(function) = self.current_function() {
                    for name in &nonlocal.names {
                        function.nonlocal_decls.insert(name.id.as_str(), name.range);
                    }
                }
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let full = alias.name.id.as_str();
                    let (bound, binding) = match &alias.asname {
                        Some(asname) => (
                            asname.id.as_str(),
                            if full == "rt" {
                                Binding::RtModule
                            } else {
                                Binding::Module
                            },
                        ),
                        // `import a.b` binds `a`.
                        None => {
                            let first = full.split('.').next().unwrap_or(full);
                            (
                                first,
                                if full == "rt" {
                                    Binding::RtModule
                                } else {
                                    Binding::Module
                                },
                            )
                        }
                    };
                    if binding == Binding::RtModule {
                        self.scopes.imports_rt = true;
                    }
                    self.bind(bound, binding, alias.range);
                }
            }
            Stmt::ImportFrom(import) => {
                let from_rt = import.level == 0
                    && import
                        .module
                        .as_ref()
                        .is_some_and(|m| m.id.as_str() == "rt");
                self.scopes.imports_rt |= from_rt;
                for alias in &import.names {
                    let name = alias.name.id.as_str();
                    if name == "*" {
                        if from_rt && matches!(self.stack.last(), Some(Frame::Module)) {
                            self.scopes.rt_star_import = true;
                        }
                        continue;
                    }
                    let bound = alias.asname.as_ref().map_or(name, |a| a.id.as_str());
                    let binding = if from_rt {
                        if !rt_api::NAMES.contains(&name) {
                            self.scopes
                                .unknown_rt_imports
                                .push((name, alias.name.range));
                        }
                        Binding::RtName(name)
                    } else {
                        Binding::Module
                    };
                    self.bind(bound, binding, alias.range);
                }
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Name(name) => {
                if matches!(name.ctx, ExprContext::Store | ExprContext::Del)
                    && self.comprehension_targets == 0
                {
                    self.bind(name.id.as_str(), Binding::Variable, name.range);
                }
            }
            Expr::Lambda(lambda) => {
                if let Some(parameters) = &lambda.parameters {
                    self.visit_parameter_defaults(parameters);
                }
                let keyword = TextRange::at(lambda.range.start(), TextSize::from(6));
                let id = self.new_function(
                    FunctionNode::Lambda(lambda),
                    "<lambda>",
                    keyword,
                    lambda.parameters.as_deref(),
                );
                self.scopes
                    .function_by_start
                    .insert(lambda.range.start(), id);
                self.stack.push(Frame::Function(id));
                // A walrus in a lambda binds in the lambda; comprehension state does not leak in.
                let saved = std::mem::take(&mut self.comprehension_targets);
                self.visit_expr(&lambda.body);
                self.comprehension_targets = saved;
                self.stack.pop();
            }
            Expr::Named(named) => {
                // `(x := v)` binds in the enclosing function even inside a comprehension.
                self.visit_expr(&named.value);
                let saved = std::mem::take(&mut self.comprehension_targets);
                self.visit_expr(&named.target);
                self.comprehension_targets = saved;
            }
            Expr::ListComp(comp) => {
                self.visit_comprehensions(&comp.generators);
                self.visit_expr(&comp.elt);
            }
            Expr::SetComp(comp) => {
                self.visit_comprehensions(&comp.generators);
                self.visit_expr(&comp.elt);
            }
            Expr::Generator(comp) => {
                self.visit_comprehensions(&comp.generators);
                self.visit_expr(&comp.elt);
            }
            Expr::DictComp(comp) => {
                self.visit_comprehensions(&comp.generators);
                if let Some(key) = &comp.key {
                    self.visit_expr(key);
                }
                self.visit_expr(&comp.value);
            }
            Expr::Yield(_) | Expr::YieldFrom(_) | Expr::Await(_) => {
                let range = expr.range();
                if let Some(function) = self.current_function() {
                    function.yields.push(range);
                }
                visitor::walk_expr(self, expr);
            }
            _ => visitor::walk_expr(self, expr),
        }
    }

    fn visit_except_handler(&mut self, handler: &'a ruff_python_ast::ExceptHandler) {
        let ruff_python_ast::ExceptHandler::ExceptHandler(h) = handler;
        if let Some(name) = &h.name {
            self.bind(name.id.as_str(), Binding::Variable, name.range);
        }
        visitor::walk_except_handler(self, handler);
    }

    fn visit_pattern(&mut self, pattern: &'a ruff_python_ast::Pattern) {
        use ruff_python_ast::Pattern;
        match pattern {
            Pattern::MatchAs(p) => {
                if let Some(name) = &p.name {
                    self.bind(name.id.as_str(), Binding::Variable, name.range);
                }
            }
            Pattern::MatchStar(p) => {
                if let Some(name) = &p.name {
                    self.bind(name.id.as_str(), Binding::Variable, name.range);
                }
            }
            Pattern::MatchMapping(p) => {
                if let Some(name) = &p.rest {
                    self.bind(name.id.as_str(), Binding::Variable, name.range);
                }
            }
            _ => {}
        }
        visitor::walk_pattern(self, pattern);
    }
}

/// Whether a body starts with a docstring containing `kappa:ignore`.
fn docstring_has_ignore(body: &[Stmt]) -> bool {
    match body.first() {
        Some(Stmt::Expr(expr)) => match &*expr.value {
            Expr::StringLiteral(s) => s.value.to_str().contains("kappa:ignore"),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruff_python_parser::parse_module;

    fn with_scopes(source: &str, check: impl FnOnce(&Scopes)) {
        let parsed = parse_module(source).expect("test source parses");
        let scopes = Scopes::collect(parsed.syntax());
        check(&scopes);
    }

    fn id_of(scopes: &Scopes, qualname: &str) -> FunctionId {
        scopes
            .function_ids()
            .find(|id| scopes.function(*id).qualname == qualname)
            .unwrap_or_else(|| panic!("no function {qualname}"))
    }

    #[test]
    fn parameters_shadow_module_names() {
        with_scopes("len = 1\ndef f(len):\n    return len\n", |s| {
            let f = id_of(s, "f");
            assert_eq!(
                s.resolve(ScopeId::Function(f), "len"),
                Resolved::Bound(ScopeId::Function(f), Binding::Variable)
            );
        });
    }

    #[test]
    fn comprehension_targets_do_not_leak() {
        with_scopes("def f(xs):\n    return [y for y in xs]\n", |s| {
            let f = id_of(s, "f");
            assert!(!s.is_local(ScopeId::Function(f), "y"));
        });
    }

    #[test]
    fn walrus_in_comprehension_binds_enclosing_function() {
        with_scopes("def f(xs):\n    return [(z := y) for y in xs]\n", |s| {
            let f = id_of(s, "f");
            assert!(s.is_local(ScopeId::Function(f), "z"));
        });
    }

    #[test]
    fn global_and_nonlocal_change_resolution() {
        let source = "x = 0\ndef f():\n    global x\n    x = 1\ndef g():\n    y = 0\n    def h():\n        nonlocal y\n        y = 2\n";
        with_scopes(source, |s| {
            let f = id_of(s, "f");
            assert_eq!(
                s.resolve(ScopeId::Function(f), "x"),
                Resolved::Bound(ScopeId::Module, Binding::Variable)
            );
            assert_eq!(s.function(f).declared_writes.len(), 1);
            let h = id_of(s, "g.<locals>.h");
            let g = id_of(s, "g");
            assert_eq!(
                s.resolve(ScopeId::Function(h), "y"),
                Resolved::Bound(ScopeId::Function(g), Binding::Variable)
            );
        });
    }

    #[test]
    fn rt_imports_are_recognised() {
        let source = "import rt as r\nfrom rt import spawn as s, nope\n";
        with_scopes(source, |s| {
            assert_eq!(s.module_bindings.get("r"), Some(&Binding::RtModule));
            assert_eq!(s.module_bindings.get("s"), Some(&Binding::RtName("spawn")));
            assert_eq!(s.unknown_rt_imports.len(), 1);
        });
    }

    #[test]
    fn methods_are_found_through_bases() {
        let source =
            "class A:\n    def run(self):\n        pass\nclass B(A):\n    def other(self):\n        pass\n";
        with_scopes(source, |s| {
            let b = ClassId(1);
            assert_eq!(s.lookup_method(b, "run"), Some(id_of(s, "A.run")));
            assert_eq!(s.function(id_of(s, "A.run")).receiver, Some("self"));
        });
    }

    #[test]
    fn rebinding_a_def_makes_a_variable() {
        with_scopes("def f():\n    pass\nf = 3\n", |s| {
            assert_eq!(s.module_bindings.get("f"), Some(&Binding::Variable));
        });
    }
}
