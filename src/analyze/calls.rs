//! Call sites and value flows: for every scope, each call with what it calls and which
//! constructs enclose it, and each place where a function value may flow (into a variable, a
//! parameter, an attribute, or code kappac does not compile). Pass two of the analysis.
//!
//! One file (over 1,200 lines): one walker records sites, flows and enclosing constructs in a
//! single pass over every scope, and each `Stmt`/`Expr` case must record all three together;
//! the tables it consults live in `knowledge.rs`. Splitting it is issue 13's remaining work.

use ruff_python_ast::{Arguments, Comprehension, Expr, ExprCall, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::FxHashMap;

use super::rt_api;
use super::scopes::{Binding, ClassId, FunctionId, FunctionNode, Resolved, ScopeId, Scopes};

/// A place a function value can be held. Parameters are locals of their function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VarKey<'a> {
    Local(ScopeId, &'a str),
    /// Any attribute of this name on any object (kappac does not know types).
    Attribute(&'a str),
    /// What a function returns.
    Return(FunctionId),
    /// Values that travel through the coordinator (task arguments, queue items, results).
    ThroughCoordinator,
    /// An argument of `x.name(...)` on a value of unknown type: it reaches the matching
    /// parameter of every method called `name`.
    MethodArgument(&'a str, ArgumentSlot<'a>),
    /// What `x.name(...)` on a value of unknown type returns: what every method called
    /// `name` returns (and, for containers' methods like `get` or `pop`, the receiver's items).
    MethodReturn(&'a str),
    /// The function called by a call whose callee is an expression other than a name or an
    /// attribute (`make(k)(x)`, `(f if c else g)(x)`, `table[i](x)`), by the callee's start.
    CalleeValue(TextSize),
}

/// Where an argument sits in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArgumentSlot<'a> {
    Position(usize),
    Keyword(&'a str),
    /// `*args` or `**kwargs`: any parameter.
    Unpacked,
}

/// What a call calls, as far as kappac can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callee<'a> {
    /// A coordinator call: an `rt` function or a runtime object's method.
    Coordinator(&'a str),
    /// `rt.name(...)` where the runtime has no `name`.
    UnknownRt(&'a str),
    /// A function or lambda defined in this module, called with its own parameters.
    Function(FunctionId),
    /// `C(...)` of a class defined in this module: runs `C.__init__` if there is one.
    Constructor(ClassId),
    /// `self.m(...)` resolved to a method: the receiver fills the first parameter.
    BoundMethod(FunctionId),
    /// `x.m(...)` on a value of unknown type.
    MethodByName(&'a str),
    /// A call of a variable that may hold a function.
    Variable(VarKey<'a>),
    /// A builtin or a function of another module: not compiled by kappac.
    External,
    /// A call of a value kappac cannot follow (what a builtin or another module returned,
    /// `getattr` with a computed name ...): K042 where functions of the module can pause.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConstructKind {
    /// A `with` whose context expression makes a resource that cannot be pickled.
    UnpicklableWith,
    GeneratorExpression,
    /// The body of a module-level `if __name__ == "__main__":`, which never runs when a
    /// worker imports handler.py.
    MainBlock,
}

/// A construct around a call site that matters when the call pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Construct {
    pub kind: ConstructKind,
    /// The construct's keyword (or the whole generator expression).
    pub range: TextRange,
}

/// What a spawning coordinator call is given as the task's function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnedFunction {
    pub function: FunctionId,
    pub range: TextRange,
}

#[derive(Debug, Clone)]
pub struct CallSite<'a> {
    pub scope: ScopeId,
    pub range: TextRange,
    pub callee_range: TextRange,
    pub callee: Callee<'a>,
    /// Enclosing constructs within the scope, outermost first.
    pub enclosing: Vec<Construct>,
    /// For `spawn`/`spawn_many`/`map_spawn`: the function given, when it is defined here.
    pub spawned: Option<SpawnedFunction>,
}

/// A function value, or a variable that may hold one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Function(FunctionId),
    Variable(VarKey<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source<'a> {
    pub value: Value<'a>,
    pub range: TextRange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink<'a> {
    Variable(VarKey<'a>),
    /// Passed to code kappac does not compile (the callee's range).
    Escape {
        callee_range: TextRange,
    },
}

/// Function values in `sources` may end up in `sink`.
#[derive(Debug, Clone)]
pub struct Flow<'a> {
    pub sources: Vec<Source<'a>>,
    pub sink: Sink<'a>,
}

/// All call sites and flows of a module.
#[derive(Debug, Default)]
pub struct CallGraph<'a> {
    pub sites: Vec<CallSite<'a>>,
    pub flows: Vec<Flow<'a>>,
    /// Variables assigned a value from code kappac does not follow (`f = getattr(w, name)`),
    /// with that value's range: a call of one may reach any function (K042).
    pub opaque_assignments: Vec<(VarKey<'a>, TextRange)>,
    /// Variables assigned a resource that cannot be pickled (`lock = threading.Lock()`), with
    /// the range of each such value: `with lock:` holds one, and so may the variable wherever
    /// it is live (K039).
    pub resource_variables: FxHashMap<VarKey<'a>, Vec<TextRange>>,
}

impl<'a> CallGraph<'a> {
    pub fn collect(scopes: &Scopes<'a>, module_body: &'a [Stmt]) -> CallGraph<'a> {
        let mut graph = CallGraph::default();
        Walker::new(scopes, ScopeId::Module, &mut graph).body(module_body);
        for id in scopes.function_ids() {
            let mut walker = Walker::new(scopes, ScopeId::Function(id), &mut graph);
            match scopes.function(id).node {
                FunctionNode::Def(def) => walker.body(&def.body),
                FunctionNode::Lambda(lambda) => {
                    walker.expr(&lambda.body);
                    let sources = walker.sources(&lambda.body);
                    walker.flow(sources, Sink::Variable(VarKey::Return(id)));
                }
            }
        }
        graph.connect_method_arguments(scopes);
        graph
    }

    /// One flow from each method-argument key to the parameter it reaches in each method of
    /// that name (the receiver takes the first parameter).
    fn connect_method_arguments(&mut self, scopes: &Scopes<'a>) {
        let mut keys: Vec<(&'a str, ArgumentSlot<'a>, TextRange)> = Vec::new();
        for flow in &self.flows {
            if let Sink::Variable(VarKey::MethodArgument(name, slot)) = flow.sink {
                keys.push((name, slot, flow.sources[0].range));
            }
        }
        keys.sort_by_key(|(name, slot, _)| (*name, *slot));
        keys.dedup_by_key(|(name, slot, _)| (*name, *slot));
        let mut returns: Vec<(&'a str, TextRange)> = Vec::new();
        for flow in &self.flows {
            for source in &flow.sources {
                if let Value::Variable(VarKey::MethodReturn(name)) = source.value {
                    returns.push((name, source.range));
                }
            }
        }
        returns.sort_by_key(|(name, _)| *name);
        returns.dedup_by_key(|(name, _)| *name);
        for (name, range) in returns {
            for &method in scopes.methods_named(name) {
                self.flows.push(Flow {
                    sources: vec![Source {
                        value: Value::Variable(VarKey::Return(method)),
                        range,
                    }],
                    sink: Sink::Variable(VarKey::MethodReturn(name)),
                });
            }
        }
        for (name, slot, range) in keys {
            let source = Source {
                value: Value::Variable(VarKey::MethodArgument(name, slot)),
                range,
            };
            for &method in scopes.methods_named(name) {
                let params = &scopes.function(method).params;
                let targets: Vec<&'a str> = match slot {
                    ArgumentSlot::Position(index) => {
                        params.for_position(index + 1).into_iter().collect()
                    }
                    ArgumentSlot::Keyword(keyword) => {
                        params.for_keyword(keyword).into_iter().collect()
                    }
                    ArgumentSlot::Unpacked => params.all().collect(),
                };
                for param in targets {
                    self.flows.push(Flow {
                        sources: vec![source],
                        sink: Sink::Variable(VarKey::Local(ScopeId::Function(method), param)),
                    });
                }
            }
        }
    }
}

struct Walker<'s, 'a, 'g> {
    scopes: &'s Scopes<'a>,
    scope: ScopeId,
    /// The receiver parameter and class of the method being walked.
    receiver: Option<(&'a str, ClassId)>,
    constructs: Vec<Construct>,
    /// Names bound by the comprehensions being walked.
    comprehension_names: Vec<&'a str>,
    /// Depth of class bodies being walked (defs there are methods, not variables).
    class_body_depth: u32,
    graph: &'g mut CallGraph<'a>,
}

impl<'s, 'a, 'g> Walker<'s, 'a, 'g> {
    fn new(scopes: &'s Scopes<'a>, scope: ScopeId, graph: &'g mut CallGraph<'a>) -> Self {
        let receiver = match scope {
            ScopeId::Function(id) => {
                let function = scopes.function(id);
                function.receiver.zip(function.class)
            }
            ScopeId::Module => None,
        };
        Walker {
            scopes,
            scope,
            receiver,
            constructs: Vec::new(),
            comprehension_names: Vec::new(),
            class_body_depth: 0,
            graph,
        }
    }

    fn with_construct(&mut self, kind: ConstructKind, range: TextRange, f: impl FnOnce(&mut Self)) {
        let depth = self.constructs.len();
        self.constructs.push(Construct { kind, range });
        f(self);
        let popped = self.constructs.pop();
        debug_assert_eq!(popped.map(|c| c.kind), Some(kind));
        debug_assert_eq!(self.constructs.len(), depth);
    }

    fn flow(&mut self, sources: Vec<Source<'a>>, sink: Sink<'a>) {
        if !sources.is_empty() {
            self.graph.flows.push(Flow { sources, sink });
        }
    }

    fn body(&mut self, body: &'a [Stmt]) {
        for stmt in body {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(def) => {
                for decorator in &def.decorator_list {
                    self.expr(&decorator.expression);
                }
                for p in def.parameters.iter_non_variadic_params() {
                    if let Some(default) = &p.default {
                        self.expr(default);
                    }
                }
                if let Some(id) = self.scopes.function_at(def.range.start()) {
                    self.decorator_flows(def, id);
                    // `def apply(x, f=work)`: the default is a value of the parameter.
                    for p in def.parameters.iter_non_variadic_params() {
                        if let Some(default) = &p.default {
                            let sources = self.sources(default);
                            let param = p.parameter.name.id.as_str();
                            self.flow(
                                sources,
                                Sink::Variable(VarKey::Local(ScopeId::Function(id), param)),
                            );
                        }
                    }
                }
                if self.class_body_depth == 0 {
                    if let Some(id) = self.scopes.function_at(def.range.start()) {
                        let key = self.store_key(def.name.id.as_str());
                        self.flow(
                            vec![Source {
                                value: Value::Function(id),
                                range: def.name.range,
                            }],
                            Sink::Variable(key),
                        );
                    }
                }
            }
            Stmt::ClassDef(class_def) => {
                for decorator in &class_def.decorator_list {
                    self.expr(&decorator.expression);
                }
                if let Some(arguments) = &class_def.arguments {
                    self.arguments_plain(arguments);
                }
                self.class_body_depth += 1;
                self.body(&class_def.body);
                self.class_body_depth -= 1;
            }
            Stmt::Return(ret) => {
                if let Some(value) = &ret.value {
                    self.expr(value);
                    if let ScopeId::Function(id) = self.scope {
                        let sources = self.sources(value);
                        self.flow(sources, Sink::Variable(VarKey::Return(id)));
                    }
                }
            }
            Stmt::Assign(assign) => {
                self.expr(&assign.value);
                for target in &assign.targets {
                    self.expr(target);
                }
                if self.is_unpicklable_resource(&assign.value) {
                    for target in &assign.targets {
                        if let Expr::Name(name) = target {
                            let key = self.store_key(name.id.as_str());
                            self.graph
                                .resource_variables
                                .entry(key)
                                .or_default()
                                .push(assign.value.range());
                        }
                    }
                }
                if self.opaque(&assign.value) {
                    for target in &assign.targets {
                        if let Expr::Name(name) = target {
                            let key = self.store_key(name.id.as_str());
                            self.graph
                                .opaque_assignments
                                .push((key, assign.value.range()));
                        }
                    }
                }
                let sources = self.sources(&assign.value);
                if !sources.is_empty() {
                    for target in &assign.targets {
                        self.assign_to(target, &sources);
                    }
                }
            }
            Stmt::AugAssign(assign) => {
                self.expr(&assign.target);
                self.expr(&assign.value);
                let sources = self.sources(&assign.value);
                self.assign_to(&assign.target, &sources);
            }
            Stmt::AnnAssign(assign) => {
                self.expr(&assign.target);
                if let Some(value) = &assign.value {
                    self.expr(value);
                    let sources = self.sources(value);
                    self.assign_to(&assign.target, &sources);
                }
            }
            Stmt::For(for_stmt) => {
                self.expr(&for_stmt.iter);
                let sources = self.sources(&for_stmt.iter);
                self.assign_to(&for_stmt.target, &sources);
                self.expr(&for_stmt.target);
                self.body(&for_stmt.body);
                self.body(&for_stmt.orelse);
            }
            Stmt::While(while_stmt) => {
                self.expr(&while_stmt.test);
                self.body(&while_stmt.body);
                self.body(&while_stmt.orelse);
            }
            Stmt::If(if_stmt) => {
                self.expr(&if_stmt.test);
                if self.scope == ScopeId::Module
                    && self.class_body_depth == 0
                    && is_main_test(&if_stmt.test)
                {
                    let range = if_stmt.test.range();
                    self.with_construct(ConstructKind::MainBlock, range, |w| w.body(&if_stmt.body));
                } else {
                    self.body(&if_stmt.body);
                }
                for clause in &if_stmt.elif_else_clauses {
                    if let Some(test) = &clause.test {
                        self.expr(test);
                    }
                    self.body(&clause.body);
                }
            }
            Stmt::With(with) => {
                for item in &with.items {
                    self.expr(&item.context_expr);
                    if let Some(vars) = &item.optional_vars {
                        self.expr(vars);
                        let sources = self.sources(&item.context_expr);
                        self.assign_to(vars, &sources);
                    }
                }
                // A resource that cannot be pickled (a file, a lock) held across a pause.
                let resource = with
                    .items
                    .iter()
                    .find(|item| self.is_unpicklable_resource(&item.context_expr));
                match resource {
                    Some(item) => {
                        let range = item.context_expr.range();
                        self.with_construct(ConstructKind::UnpicklableWith, range, |w| {
                            w.body(&with.body)
                        });
                    }
                    None => self.body(&with.body),
                }
            }
            Stmt::Try(try_stmt) => {
                self.body(&try_stmt.body);
                for handler in &try_stmt.handlers {
                    let ruff_python_ast::ExceptHandler::ExceptHandler(h) = handler;
                    if let Some(type_) = &h.type_ {
                        self.expr(type_);
                    }
                    self.body(&h.body);
                }
                self.body(&try_stmt.orelse);
                self.body(&try_stmt.finalbody);
            }
            Stmt::Match(match_stmt) => {
                self.expr(&match_stmt.subject);
                for case in &match_stmt.cases {
                    if let Some(guard) = &case.guard {
                        self.expr(guard);
                    }
                    self.body(&case.body);
                }
            }
            Stmt::Expr(expr) => self.expr(&expr.value),
            Stmt::Raise(raise) => {
                if let Some(exc) = &raise.exc {
                    self.expr(exc);
                }
                if let Some(cause) = &raise.cause {
                    self.expr(cause);
                }
            }
            Stmt::Assert(assert) => {
                self.expr(&assert.test);
                if let Some(msg) = &assert.msg {
                    self.expr(msg);
                }
            }
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    self.expr(target);
                }
            }
            Stmt::TypeAlias(alias) => self.expr(&alias.value),
            Stmt::Import(_)
            | Stmt::ImportFrom(_)
            | Stmt::Global(_)
            | Stmt::Nonlocal(_)
            | Stmt::Pass(_)
            | Stmt::Break(_)
            | Stmt::Continue(_)
            | Stmt::IpyEscapeCommand(_) => {}
        }
    }

    /// Records that function values in `sources` flow into the assignment target.
    fn assign_to(&mut self, target: &'a Expr, sources: &[Source<'a>]) {
        if sources.is_empty() {
            return;
        }
        match target {
            Expr::Name(name) => {
                let key = self.store_key(name.id.as_str());
                self.flow(sources.to_vec(), Sink::Variable(key));
            }
            Expr::Attribute(attribute) => {
                if let Expr::Name(base) = &*attribute.value {
                    if let Resolved::Bound(_, Binding::Module | Binding::RtModule) =
                        self.resolve(base.id.as_str())
                    {
                        self.flow(
                            sources.to_vec(),
                            Sink::Escape {
                                callee_range: attribute.range,
                            },
                        );
                        return;
                    }
                }
                let key = VarKey::Attribute(attribute.attr.id.as_str());
                self.flow(sources.to_vec(), Sink::Variable(key));
            }
            Expr::Subscript(subscript) => self.assign_to(&subscript.value, sources),
            Expr::Starred(starred) => self.assign_to(&starred.value, sources),
            Expr::Tuple(tuple) => {
                for element in &tuple.elts {
                    self.assign_to(element, sources);
                }
            }
            Expr::List(list) => {
                for element in &list.elts {
                    self.assign_to(element, sources);
                }
            }
            _ => {}
        }
    }

    /// `open(...)`, `threading.Lock()`, `socket.socket(...)` and the like: objects that the
    /// standard `pickle` refuses, so a checkpoint holding one fails.
    fn is_unpicklable_resource(&self, expr: &'a Expr) -> bool {
        let call = match expr {
            Expr::Call(call) => call,
            // A variable assigned one earlier (in its own scope or at module level: modules are
            // walked first).
            Expr::Name(name) => {
                let key = self.store_key(name.id.as_str());
                return self.graph.resource_variables.contains_key(&key);
            }
            _ => return false,
        };
        match &*call.func {
            Expr::Name(name) => {
                crate::knowledge::UNPICKLABLE_BUILTINS.contains(&name.id.as_str())
                    && self.resolve(name.id.as_str()) == Resolved::Builtin
            }
            Expr::Attribute(attribute) => {
                let module = dotted_name(&attribute.value);
                let imported = match &*attribute.value {
                    Expr::Name(base) => matches!(
                        self.resolve(base.id.as_str()),
                        Resolved::Bound(_, Binding::Module)
                    ),
                    _ => true,
                };
                imported
                    && module.is_some_and(|m| {
                        crate::knowledge::UNPICKLABLE_MODULE_FUNCTIONS
                            .iter()
                            .any(|(mm, f)| *mm == m && *f == attribute.attr.id.as_str())
                    })
            }
            _ => false,
        }
    }

    fn resolve(&self, name: &str) -> Resolved<'a> {
        self.scopes.resolve(self.scope, name)
    }

    /// The variable a store to `name` in this scope writes.
    fn store_key(&self, name: &'a str) -> VarKey<'a> {
        if self.comprehension_names.contains(&name) {
            return VarKey::Local(self.scope, name);
        }
        match self.resolve(name) {
            Resolved::Bound(scope, _) => VarKey::Local(scope, name),
            Resolved::Builtin => VarKey::Local(ScopeId::Module, name),
        }
    }

    /// The function values (or variables that may hold them) an expression may evaluate to.
    fn sources(&self, expr: &'a Expr) -> Vec<Source<'a>> {
        let mut out = Vec::new();
        self.collect_sources(expr, &mut out);
        out
    }

    fn collect_sources(&self, expr: &'a Expr, out: &mut Vec<Source<'a>>) {
        let range = expr.range();
        match expr {
            Expr::Name(name) => {
                let name = name.id.as_str();
                if self.comprehension_names.contains(&name) {
                    out.push(Source {
                        value: Value::Variable(VarKey::Local(self.scope, name)),
                        range,
                    });
                    return;
                }
                match self.resolve(name) {
                    Resolved::Bound(_, Binding::Function(id)) => out.push(Source {
                        value: Value::Function(id),
                        range,
                    }),
                    Resolved::Bound(_, Binding::Class(class)) => {
                        if let Some(init) = self.scopes.lookup_method(class, "__init__") {
                            out.push(Source {
                                value: Value::Function(init),
                                range,
                            });
                        }
                    }
                    Resolved::Bound(scope, Binding::Variable) => out.push(Source {
                        value: Value::Variable(VarKey::Local(scope, name)),
                        range,
                    }),
                    _ => {}
                }
            }
            Expr::Attribute(attribute) => {
                self.attribute_sources(&attribute.value, attribute.attr.id.as_str(), range, out);
            }
            Expr::Call(call) => {
                if let Some((object, attribute)) = getattr_constant(call) {
                    // `getattr(x, "name")` is `x.name`.
                    self.attribute_sources(object, attribute, range, out);
                    return;
                }
                match self.classify(call) {
                    Callee::Function(id) | Callee::BoundMethod(id) => out.push(Source {
                        value: Value::Variable(VarKey::Return(id)),
                        range,
                    }),
                    Callee::Coordinator(_) => out.push(Source {
                        value: Value::Variable(VarKey::ThroughCoordinator),
                        range,
                    }),
                    Callee::MethodByName(name) => {
                        out.push(Source {
                            value: Value::Variable(VarKey::MethodReturn(name)),
                            range,
                        });
                        if let Expr::Attribute(attribute) = &*call.func {
                            // `handlers.get(k)`, `stack.pop()`: the receiver's items.
                            self.collect_sources(&attribute.value, out);
                        }
                    }
                    _ => {}
                }
            }
            Expr::Lambda(lambda) => {
                if let Some(id) = self.scopes.function_at(lambda.range.start()) {
                    out.push(Source {
                        value: Value::Function(id),
                        range,
                    });
                }
            }
            Expr::Subscript(subscript) => self.collect_sources(&subscript.value, out),
            Expr::Starred(starred) => self.collect_sources(&starred.value, out),
            Expr::Named(named) => self.collect_sources(&named.value, out),
            Expr::BoolOp(bool_op) => {
                for value in &bool_op.values {
                    self.collect_sources(value, out);
                }
            }
            Expr::If(if_expr) => {
                self.collect_sources(&if_expr.body, out);
                self.collect_sources(&if_expr.orelse, out);
            }
            Expr::Tuple(t) => t.elts.iter().for_each(|e| self.collect_sources(e, out)),
            Expr::List(l) => l.elts.iter().for_each(|e| self.collect_sources(e, out)),
            Expr::Set(s) => s.elts.iter().for_each(|e| self.collect_sources(e, out)),
            Expr::Dict(d) => d.items.iter().for_each(|item| {
                self.collect_sources(&item.value, out);
            }),
            Expr::ListComp(c) => {
                self.comprehension_sources(&c.generators, out);
                self.collect_sources(&c.elt, out);
            }
            Expr::SetComp(c) => {
                self.comprehension_sources(&c.generators, out);
                self.collect_sources(&c.elt, out);
            }
            Expr::Generator(c) => {
                self.comprehension_sources(&c.generators, out);
                self.collect_sources(&c.elt, out);
            }
            Expr::DictComp(c) => {
                self.comprehension_sources(&c.generators, out);
                self.collect_sources(&c.value, out);
            }
            _ => {}
        }
    }

    /// The functions `value.attr` may be.
    fn attribute_sources(
        &self,
        value: &'a Expr,
        attr: &'a str,
        range: TextRange,
        out: &mut Vec<Source<'a>>,
    ) {
        if let Expr::Name(base) = value {
            let base = base.id.as_str();
            if let Some((receiver, class)) = self.receiver {
                if base == receiver && !self.comprehension_names.contains(&base) {
                    if let Some(id) = self.scopes.lookup_method(class, attr) {
                        out.push(Source {
                            value: Value::Function(id),
                            range,
                        });
                        return;
                    }
                }
            }
            match self.resolve(base) {
                Resolved::Bound(_, Binding::Module | Binding::RtModule) => return,
                Resolved::Bound(_, Binding::Class(class)) => {
                    if let Some(id) = self.scopes.lookup_method(class, attr) {
                        out.push(Source {
                            value: Value::Function(id),
                            range,
                        });
                        return;
                    }
                }
                _ => {}
            }
        }
        out.push(Source {
            value: Value::Variable(VarKey::Attribute(attr)),
            range,
        });
    }

    /// The iterables of a comprehension: their elements may become the comprehension's value.
    fn comprehension_sources(&self, generators: &'a [Comprehension], out: &mut Vec<Source<'a>>) {
        for generator in generators {
            self.collect_sources(&generator.iter, out);
        }
    }

    fn classify(&self, call: &'a ExprCall) -> Callee<'a> {
        match &*call.func {
            Expr::Name(name) => {
                let name = name.id.as_str();
                if self.comprehension_names.contains(&name) {
                    return Callee::Variable(VarKey::Local(self.scope, name));
                }
                match self.resolve(name) {
                    Resolved::Bound(_, Binding::Function(id)) => Callee::Function(id),
                    Resolved::Bound(_, Binding::Class(id)) => Callee::Constructor(id),
                    Resolved::Bound(_, Binding::RtName(api)) => {
                        if rt_api::is_coordinator_function(api) {
                            Callee::Coordinator(api)
                        } else {
                            // Unknown names were reported at the import.
                            Callee::External
                        }
                    }
                    Resolved::Bound(_, Binding::RtModule | Binding::Module) => Callee::External,
                    Resolved::Bound(scope, Binding::Variable) => {
                        Callee::Variable(VarKey::Local(scope, name))
                    }
                    Resolved::Builtin => Callee::External,
                }
            }
            Expr::Attribute(attribute) => {
                let attr = attribute.attr.id.as_str();
                if let Expr::Name(base) = &*attribute.value {
                    let base = base.id.as_str();
                    let is_comprehension_name = self.comprehension_names.contains(&base);
                    if let Some((receiver, class)) = self.receiver {
                        if base == receiver && !is_comprehension_name {
                            if let Some(id) = self.scopes.lookup_method(class, attr) {
                                return Callee::BoundMethod(id);
                            }
                        }
                    }
                    if !is_comprehension_name {
                        match self.resolve(base) {
                            Resolved::Bound(_, Binding::RtModule) => {
                                return if rt_api::is_coordinator_function(attr) {
                                    Callee::Coordinator(attr)
                                } else if rt_api::NAMES.contains(&attr) {
                                    Callee::External
                                } else {
                                    Callee::UnknownRt(attr)
                                };
                            }
                            Resolved::Bound(_, Binding::Module) => return Callee::External,
                            Resolved::Bound(_, Binding::Class(class)) => {
                                if let Some(id) = self.scopes.lookup_method(class, attr) {
                                    return Callee::Function(id);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                if self.scopes.imports_rt && rt_api::is_coordinator_method(attr) {
                    Callee::Coordinator(attr)
                } else {
                    Callee::MethodByName(attr)
                }
            }
            Expr::Lambda(lambda) => self
                .scopes
                .function_at(lambda.range.start())
                .map_or(Callee::Unknown, Callee::Function),
            func if self.opaque(func) => Callee::Unknown,
            // `handlers[i](x)`, `make(k)(x)`, `(f if c else g)(x)`: whatever the expression's
            // value may hold (the flow is added by `call`).
            func => Callee::Variable(VarKey::CalleeValue(func.range().start())),
        }
    }

    /// `isinstance(C, ...)`, `getattr(C, "m")` ...: builtins that look at a function or class
    /// without calling it (what `getattr` returns is followed by `collect_sources`).
    fn never_calls_arguments(&self, call: &'a ExprCall) -> bool {
        let Expr::Name(name) = &*call.func else {
            return false;
        };
        let name = name.id.as_str();
        crate::knowledge::NON_CALLING_BUILTINS.contains(&name)
            && self.resolve(name) == Resolved::Builtin
    }

    /// Whether an expression's value may come from code kappac does not follow, so that the
    /// functions it may hold are unknown.
    fn opaque(&self, expr: &'a Expr) -> bool {
        match expr {
            Expr::Call(call) => {
                if getattr_constant(call).is_some() {
                    return false;
                }
                matches!(
                    self.classify(call),
                    Callee::External | Callee::Unknown | Callee::UnknownRt(_)
                )
            }
            Expr::Subscript(subscript) => self.opaque(&subscript.value),
            Expr::Named(named) => self.opaque(&named.value),
            Expr::If(if_expr) => self.opaque(&if_expr.body) || self.opaque(&if_expr.orelse),
            Expr::BoolOp(bool_op) => bool_op.values.iter().any(|value| self.opaque(value)),
            Expr::Await(_) | Expr::Yield(_) | Expr::YieldFrom(_) => true,
            _ => false,
        }
    }

    /// A generator expression passed first to a builtin that drains it at once (`sum(...)`,
    /// `any(...)` with one `for`): compiled as a comprehension, so not lazy.
    fn drained_generator(&self, call: &'a ExprCall) -> Option<&'a ruff_python_ast::ExprGenerator> {
        let Expr::Name(name) = &*call.func else {
            return None;
        };
        let name = name.id.as_str();
        if !crate::knowledge::DRAINING_BUILTINS.contains(&name)
            || self.resolve(name) != Resolved::Builtin
            || self.comprehension_names.contains(&name)
        {
            return None;
        }
        match call.arguments.args.first() {
            Some(Expr::Generator(generator))
                if !(matches!(name, "any" | "all") && generator.generators.len() > 1) =>
            {
                Some(generator)
            }
            _ => None,
        }
    }

    fn call(&mut self, call: &'a ExprCall) {
        let callee = self.classify(call);
        if let Callee::Variable(key @ VarKey::CalleeValue(_)) = callee {
            let sources = self.sources(&call.func);
            self.flow(sources, Sink::Variable(key));
        }
        self.expr(&call.func);
        match self.drained_generator(call) {
            Some(generator) => {
                self.comprehension(&generator.generators, None, &[&generator.elt]);
                for arg in call.arguments.args.iter().skip(1) {
                    self.expr(arg);
                }
                for keyword in &call.arguments.keywords {
                    self.expr(&keyword.value);
                }
            }
            None => self.arguments_plain(&call.arguments),
        }
        let mut spawned = None;
        match callee {
            Callee::Function(id) => self.argument_flows(&call.arguments, id, 0),
            Callee::BoundMethod(id) => self.argument_flows(&call.arguments, id, 1),
            Callee::Constructor(class) => {
                if let Some(init) = self.scopes.lookup_method(class, "__init__") {
                    self.argument_flows(&call.arguments, init, 1);
                }
            }
            Callee::MethodByName(name) => self.method_argument_flows(&call.arguments, name),
            Callee::External
                if is_wrapper_helper(&call.func) || self.never_calls_arguments(call) => {}
            Callee::External => {
                let callee_range = call.func.range();
                for arg in call.arguments.args.iter() {
                    let sources = self.sources(arg);
                    self.flow(sources, Sink::Escape { callee_range });
                }
                for keyword in &call.arguments.keywords {
                    let sources = self.sources(&keyword.value);
                    self.flow(sources, Sink::Escape { callee_range });
                }
            }
            Callee::Coordinator(api) => {
                spawned = self.coordinator_flows(api, &call.arguments);
            }
            Callee::UnknownRt(_) | Callee::Variable(_) | Callee::Unknown => {}
        }
        self.graph.sites.push(CallSite {
            scope: self.scope,
            range: call.range(),
            callee_range: call.func.range(),
            callee,
            enclosing: self.constructs.clone(),
            spawned,
        });
    }

    /// A decorator defined in handler.py is called with the function it decorates: the
    /// function flows into its first parameter (so a wrapper that calls that parameter can
    /// pause). For a decorator factory, `@f(...)`, into the first parameter of the functions
    /// defined directly in `f`.
    fn decorator_flows(&mut self, def: &'a ruff_python_ast::StmtFunctionDef, id: FunctionId) {
        for decorator in &def.decorator_list {
            let Some(decorator_fn) = self.local_decorator(&decorator.expression) else {
                continue;
            };
            let targets: Vec<FunctionId> = match &decorator.expression {
                Expr::Call(_) => self
                    .scopes
                    .function_ids()
                    .filter(|f| self.scopes.function(*f).parent == ScopeId::Function(decorator_fn))
                    .collect(),
                _ => vec![decorator_fn],
            };
            for target in targets {
                if let Some(param) = self.scopes.function(target).params.for_position(0) {
                    self.flow(
                        vec![Source {
                            value: Value::Function(id),
                            range: def.name.range,
                        }],
                        Sink::Variable(VarKey::Local(ScopeId::Function(target), param)),
                    );
                }
            }
        }
    }

    /// The handler.py function a decorator expression calls: `@name` or `@name(...)`.
    fn local_decorator(&self, expr: &'a Expr) -> Option<FunctionId> {
        let callee = match expr {
            Expr::Call(call) => &*call.func,
            other => other,
        };
        let Expr::Name(name) = callee else {
            return None;
        };
        match self.resolve(name.id.as_str()) {
            Resolved::Bound(_, Binding::Function(id)) => Some(id),
            _ => None,
        }
    }

    /// Flows of the arguments of `x.name(...)` into one key per argument slot; `collect` later
    /// connects each key to the methods called `name` once, however many calls there are.
    fn method_argument_flows(&mut self, arguments: &'a Arguments, name: &'a str) {
        if self.scopes.methods_named(name).is_empty() {
            return;
        }
        for (index, arg) in arguments.args.iter().enumerate() {
            let slot = if matches!(arg, Expr::Starred(_)) {
                ArgumentSlot::Unpacked
            } else {
                ArgumentSlot::Position(index)
            };
            let sources = self.sources(arg);
            self.flow(sources, Sink::Variable(VarKey::MethodArgument(name, slot)));
        }
        for keyword in &arguments.keywords {
            let slot = keyword.arg.as_ref().map_or(ArgumentSlot::Unpacked, |k| {
                ArgumentSlot::Keyword(k.id.as_str())
            });
            let sources = self.sources(&keyword.value);
            self.flow(sources, Sink::Variable(VarKey::MethodArgument(name, slot)));
        }
    }

    /// Flows of a call's arguments into the parameters of `target`; `skip` parameters are
    /// filled implicitly (the receiver of a bound method).
    fn argument_flows(&mut self, arguments: &'a Arguments, target: FunctionId, skip: usize) {
        let params = &self.scopes.function(target).params;
        let sinks: Vec<(Vec<Source<'a>>, Option<&'a str>)> = arguments
            .args
            .iter()
            .enumerate()
            .map(|(index, arg)| {
                let param = if matches!(arg, Expr::Starred(_)) {
                    None
                } else {
                    params.for_position(index + skip)
                };
                (self.sources(arg), param)
            })
            .chain(arguments.keywords.iter().map(|keyword| {
                let param = keyword
                    .arg
                    .as_ref()
                    .and_then(|name| params.for_keyword(name.id.as_str()));
                (self.sources(&keyword.value), param)
            }))
            .collect();
        for (sources, param) in sinks {
            if sources.is_empty() {
                continue;
            }
            match param {
                Some(param) => self.flow(
                    sources,
                    Sink::Variable(VarKey::Local(ScopeId::Function(target), param)),
                ),
                // `*args` / `**kwargs` at the call: any parameter may receive the value.
                None => {
                    let all: Vec<&'a str> = params.all().collect();
                    for param in all {
                        self.flow(
                            sources.clone(),
                            Sink::Variable(VarKey::Local(ScopeId::Function(target), param)),
                        );
                    }
                }
            }
        }
    }

    /// Flows through a coordinator call: a spawned task's arguments reach its parameters; any
    /// other argument travels through the coordinator. Returns the spawned function, if known.
    fn coordinator_flows(
        &mut self,
        api: &'a str,
        arguments: &'a Arguments,
    ) -> Option<SpawnedFunction> {
        let task = if rt_api::SPAWNING_FUNCTIONS.contains(&api) {
            arguments.args.first().or_else(|| {
                arguments
                    .keywords
                    .iter()
                    .find(|k| k.arg.as_ref().is_some_and(|a| a.id.as_str() == "f"))
                    .map(|k| &k.value)
            })
        } else {
            None
        };
        let spawned = task.and_then(|task| {
            let id = match task {
                Expr::Lambda(lambda) => self.scopes.function_at(lambda.range.start()),
                Expr::Name(name) => match self.resolve(name.id.as_str()) {
                    Resolved::Bound(_, Binding::Function(id)) => Some(id),
                    _ => None,
                },
                _ => None,
            };
            id.map(|function| SpawnedFunction {
                function,
                range: task.range(),
            })
        });
        for (index, arg) in arguments.args.iter().enumerate() {
            if index == 0 && task.is_some() {
                continue;
            }
            let sources = self.sources(arg);
            match (spawned, arg) {
                // `spawn(f, (a, b))`: a and b become f's parameters.
                (Some(spawned), Expr::Tuple(_) | Expr::List(_)) if index == 1 => {
                    let elements = match arg {
                        Expr::Tuple(t) => &t.elts,
                        Expr::List(l) => &l.elts,
                        _ => continue,
                    };
                    let params = &self.scopes.function(spawned.function).params;
                    let offset = usize::from(api == "map_spawn");
                    let targets: Vec<Option<&'a str>> = (0..elements.len())
                        .map(|i| params.for_position(i + offset))
                        .collect();
                    for (element, param) in elements.iter().zip(targets) {
                        let sources = self.sources(element);
                        if let Some(param) = param {
                            self.flow(
                                sources,
                                Sink::Variable(VarKey::Local(
                                    ScopeId::Function(spawned.function),
                                    param,
                                )),
                            );
                        }
                    }
                }
                _ => self.flow(sources, Sink::Variable(VarKey::ThroughCoordinator)),
            }
        }
        for keyword in &arguments.keywords {
            let sources = self.sources(&keyword.value);
            self.flow(sources, Sink::Variable(VarKey::ThroughCoordinator));
        }
        spawned
    }

    fn arguments_plain(&mut self, arguments: &'a Arguments) {
        for arg in arguments.args.iter() {
            self.expr(arg);
        }
        for keyword in &arguments.keywords {
            self.expr(&keyword.value);
        }
    }

    fn comprehension(
        &mut self,
        generators: &'a [Comprehension],
        generator_range: Option<TextRange>,
        elements: &[&'a Expr],
    ) {
        let depth = self.comprehension_names.len();
        for (index, generator) in generators.iter().enumerate() {
            // The first iterable is evaluated eagerly, in the enclosing scope.
            if index == 0 || generator_range.is_none() {
                self.expr(&generator.iter);
            }
            let sources = self.sources(&generator.iter);
            collect_target_names(&generator.target, &mut self.comprehension_names);
            self.assign_to(&generator.target, &sources);
        }
        let lazy_part = |w: &mut Self| {
            for (index, generator) in generators.iter().enumerate() {
                if index > 0 && generator_range.is_some() {
                    w.expr(&generator.iter);
                }
                for condition in &generator.ifs {
                    w.expr(condition);
                }
            }
            for element in elements {
                w.expr(element);
            }
        };
        match generator_range {
            Some(range) => {
                self.with_construct(ConstructKind::GeneratorExpression, range, lazy_part)
            }
            None => lazy_part(self),
        }
        self.comprehension_names.truncate(depth);
    }

    fn expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Call(call) => self.call(call),
            // A lambda's body is its own scope, walked on its own.
            Expr::Lambda(lambda) => {
                if let Some(parameters) = &lambda.parameters {
                    for p in parameters.iter_non_variadic_params() {
                        if let Some(default) = &p.default {
                            self.expr(default);
                        }
                    }
                }
            }
            Expr::Named(named) => {
                self.expr(&named.value);
                let sources = self.sources(&named.value);
                let saved = std::mem::take(&mut self.comprehension_names);
                self.assign_to(&named.target, &sources);
                self.comprehension_names = saved;
            }
            Expr::ListComp(c) => self.comprehension(&c.generators, None, &[&c.elt]),
            Expr::SetComp(c) => self.comprehension(&c.generators, None, &[&c.elt]),
            Expr::Generator(c) => self.comprehension(&c.generators, Some(c.range), &[&c.elt]),
            Expr::DictComp(c) => {
                let mut elements: Vec<&'a Expr> = Vec::with_capacity(2);
                if let Some(key) = &c.key {
                    elements.push(key);
                }
                elements.push(&c.value);
                self.comprehension(&c.generators, None, &elements);
            }
            _ => {
                ruff_python_ast::visitor::walk_expr(&mut ExprChildren(self), expr);
            }
        }
    }
}

/// Adapter that sends an expression's direct children back to the walker.
struct ExprChildren<'w, 's, 'a, 'g>(&'w mut Walker<'s, 'a, 'g>);

impl<'a> ruff_python_ast::visitor::Visitor<'a> for ExprChildren<'_, '_, 'a, '_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        self.0.expr(expr);
    }
}

/// `__name__ == "__main__"` (either way round).
fn is_main_test(test: &Expr) -> bool {
    let Expr::Compare(compare) = test else {
        return false;
    };
    let [ruff_python_ast::CmpOp::Eq] = &*compare.ops else {
        return false;
    };
    let [right] = &*compare.comparators else {
        return false;
    };
    let is_name = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "__name__");
    let is_main = |e: &Expr| matches!(e, Expr::StringLiteral(s) if s.value.to_str() == "__main__");
    (is_name(&compare.left) && is_main(right)) || (is_main(&compare.left) && is_name(right))
}

/// `getattr(x, "name")` (two arguments, a constant name): `(x, "name")`.
fn getattr_constant(call: &ExprCall) -> Option<(&Expr, &str)> {
    let Expr::Name(name) = &*call.func else {
        return None;
    };
    if name.id.as_str() != "getattr" || !call.arguments.keywords.is_empty() {
        return None;
    }
    match &*call.arguments.args {
        [object, Expr::StringLiteral(attribute)] => Some((object, attribute.value.to_str())),
        _ => None,
    }
}

/// Whether `expr` is (a call of) one of `knowledge::WRAPPER_HELPERS`.
pub fn is_wrapper_helper(expr: &Expr) -> bool {
    let callee = match expr {
        Expr::Call(call) => &*call.func,
        other => other,
    };
    dotted_name(callee)
        .is_some_and(|name| crate::knowledge::WRAPPER_HELPERS.contains(&name.as_str()))
}

/// `a.b.c` as text, for names and attribute chains.
fn dotted_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(name) => Some(name.id.to_string()),
        Expr::Attribute(attribute) => {
            dotted_name(&attribute.value).map(|base| format!("{base}.{}", attribute.attr.id))
        }
        _ => None,
    }
}

fn collect_target_names<'a>(target: &'a Expr, out: &mut Vec<&'a str>) {
    match target {
        Expr::Name(name) => out.push(name.id.as_str()),
        Expr::Tuple(t) => t.elts.iter().for_each(|e| collect_target_names(e, out)),
        Expr::List(l) => l.elts.iter().for_each(|e| collect_target_names(e, out)),
        Expr::Starred(s) => collect_target_names(&s.value, out),
        _ => {}
    }
}
