//! The naming scheme of continuations: every generated function is `_kappa_<function>_<k><id>`
//! with `k` its kind, and is called with the receiver of a method first.

use super::FunctionPlan;
use crate::transform::ir::NodeId;

/// The kinds of generated function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Continues after pause point `id`, with the pause's outcome (`_c`).
    Resume,
    /// The rest of the function after compound statement `id` completes (`_r`).
    Rest,
    /// The next iterations of loop `id` (`_n`).
    NextIteration,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Resume => 'c',
            Kind::Rest => 'r',
            Kind::NextIteration => 'n',
        }
    }
}

pub(super) struct Naming<'p> {
    pub(super) plan: &'p FunctionPlan<'p>,
}

impl Naming<'_> {
    pub(super) fn def_name(&self, kind: Kind, id: NodeId) -> String {
        format!("_kappa_{}_{}{id}", self.plan.name, kind.letter())
    }

    pub(super) fn reference(&self, kind: Kind, id: NodeId) -> String {
        format!("{}{}", self.plan.owner_prefix, self.def_name(kind, id))
    }

    /// `name(self, ` or `name(` — the start of a call passing the receiver.
    pub(super) fn call_prefix(&self, kind: Kind, id: NodeId) -> String {
        match &self.plan.receiver {
            Some(receiver) => format!("{}({receiver}, ", self.reference(kind, id)),
            None => format!("{}(", self.reference(kind, id)),
        }
    }

    pub(super) fn params(&self, rest: &str) -> String {
        match &self.plan.receiver {
            Some(receiver) => format!("{receiver}, {rest}"),
            None => rest.to_owned(),
        }
    }

    pub(super) fn tail_call(&self, kind: Kind, id: NodeId) -> String {
        format!("return {}locals())", self.call_prefix(kind, id))
    }
}
