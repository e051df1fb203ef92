//! Can-pause: which functions can reach a coordinator call, which call sites are pause points,
//! and which variables may hold a function that can pause. One worklist fixpoint over the call
//! graph and the value flows, linear in their size.

use rustc_hash::{FxHashMap, FxHashSet};

use super::calls::{CallGraph, Callee, Sink, Value, VarKey};
use super::scopes::{FunctionId, ScopeId, Scopes};

/// The result: pausing functions (each with the call site that makes it pause) and pause points.
#[derive(Debug)]
pub struct CanPause<'a> {
    /// For each function that can pause, the first call site found that makes it pause.
    witness: Vec<Option<usize>>,
    pause_points: Vec<bool>,
    holds: FxHashSet<VarKey<'a>>,
}

/// Something whose change can make call sites pause or flows fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Trigger<'a> {
    FunctionPauses(FunctionId),
    Holds(VarKey<'a>),
}

impl<'a> CanPause<'a> {
    pub fn compute(scopes: &Scopes<'a>, graph: &CallGraph<'a>) -> CanPause<'a> {
        let mut site_deps: FxHashMap<Trigger<'a>, Vec<usize>> = FxHashMap::default();
        let mut flow_deps: FxHashMap<Trigger<'a>, Vec<usize>> = FxHashMap::default();
        let mut state = CanPause {
            witness: vec![None; scopes.functions.len()],
            pause_points: vec![false; graph.sites.len()],
            holds: FxHashSet::default(),
        };
        let mut queue: Vec<Trigger<'a>> = Vec::new();
        let mut initial = Vec::new();

        for (index, site) in graph.sites.iter().enumerate() {
            let trigger = match site.callee {
                Callee::Coordinator(_) => {
                    initial.push(index);
                    continue;
                }
                Callee::Function(id) | Callee::BoundMethod(id) => Trigger::FunctionPauses(id),
                Callee::Constructor(class) => match scopes.lookup_method(class, "__init__") {
                    Some(init) => Trigger::FunctionPauses(init),
                    None => continue,
                },
                Callee::MethodByName(name) => Trigger::Holds(VarKey::Attribute(name)),
                Callee::Variable(key) => Trigger::Holds(key),
                Callee::UnknownRt(_) | Callee::External | Callee::Unknown => continue,
            };
            site_deps.entry(trigger).or_default().push(index);
        }
        for (index, flow) in graph.flows.iter().enumerate() {
            for source in &flow.sources {
                let trigger = match source.value {
                    Value::Function(id) => Trigger::FunctionPauses(id),
                    Value::Variable(key) => Trigger::Holds(key),
                };
                let deps = flow_deps.entry(trigger).or_default();
                if deps.last() != Some(&index) {
                    deps.push(index);
                }
            }
        }

        for index in initial {
            state.mark_pause_point(scopes, graph, index, &mut queue);
        }
        while let Some(trigger) = queue.pop() {
            if let Some(sites) = site_deps.get(&trigger) {
                for &index in sites {
                    state.mark_pause_point(scopes, graph, index, &mut queue);
                }
            }
            if let Some(flows) = flow_deps.get(&trigger) {
                for &index in flows {
                    if let Sink::Variable(key) = graph.flows[index].sink {
                        state.mark_holds(key, &mut queue);
                    }
                }
            }
        }
        state
    }

    fn mark_pause_point(
        &mut self,
        scopes: &Scopes<'a>,
        graph: &CallGraph<'a>,
        index: usize,
        queue: &mut Vec<Trigger<'a>>,
    ) {
        if self.pause_points[index] {
            return;
        }
        self.pause_points[index] = true;
        if let ScopeId::Function(id) = graph.sites[index].scope {
            let function = scopes.function(id);
            // `kappa:ignore` declares the function non-pausing; K025 reports the contradiction.
            if self.witness[id.0 as usize].is_none() && !function.kappa_ignore {
                self.witness[id.0 as usize] = Some(index);
                queue.push(Trigger::FunctionPauses(id));
                if function.class.is_some() {
                    // `x.name(...)` on an unknown receiver may call this method.
                    self.mark_holds(VarKey::Attribute(function.name), queue);
                }
            }
        }
    }

    fn mark_holds(&mut self, key: VarKey<'a>, queue: &mut Vec<Trigger<'a>>) {
        if self.holds.insert(key) {
            queue.push(Trigger::Holds(key));
        }
    }

    pub fn function_can_pause(&self, id: FunctionId) -> bool {
        self.witness[id.0 as usize].is_some()
    }

    /// The call site that makes `id` pause, if it can.
    pub fn witness(&self, id: FunctionId) -> Option<usize> {
        self.witness[id.0 as usize]
    }

    pub fn is_pause_point(&self, site: usize) -> bool {
        self.pause_points[site]
    }

    pub fn may_hold_pausing(&self, key: VarKey<'a>) -> bool {
        self.holds.contains(&key)
    }

    pub fn value_can_pause(&self, value: Value<'a>) -> bool {
        match value {
            Value::Function(id) => self.function_can_pause(id),
            Value::Variable(key) => self.may_hold_pausing(key),
        }
    }
}
