//! Emission: Python text for the transformed module. Statements that need no change are copied
//! verbatim (re-indented where they move), so their formatting, comments and line numbers
//! survive; pausing functions get wrappers at pause points and continuation functions after
//! them. Every output line records the user's line it came from.

use ruff_text_size::{TextRange, TextSize};

use std::collections::BTreeMap;

use super::ir::{CompilerVariable, Node, NodeId};
use super::liveness::{Live, Liveness};

mod continuations;
mod names;
mod normal;
mod output;

use names::{Kind, Naming};
pub use output::{trim_header, InnerFunction, Output};

/// Where a pausing function lives, which decides how its continuations are named and called.
pub struct FunctionPlan<'a> {
    /// `handler` or the method name: the base of its continuations' names.
    pub name: String,
    /// The user's qualified name (`handler`, `C.step`, `handler.<locals>.work`).
    pub qualname: String,
    /// `C.` for methods of class `C`, empty for module functions.
    pub owner_prefix: String,
    /// The receiver parameter (`self`) of a method.
    pub receiver: Option<String>,
    /// `__init__`: its continuations return the instance, which `C(...)` would have returned.
    pub is_init: bool,
    pub def: &'a ruff_python_ast::StmtFunctionDef,
    /// The variables the lowering made, and what each holds.
    pub variables: BTreeMap<String, CompilerVariable>,
}

/// The user's function a generated function runs part of.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserFunction {
    /// Its name (what a traceback line of it says).
    pub name: String,
    /// Its qualified name (`C.step`, `handler.<locals>.work`).
    pub qualname: String,
}

/// A resume point for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ResumePoint {
    pub id: u32,
    pub function: String,
    pub line: u32,
    pub continuation: String,
    pub live: Vec<String>,
    /// What each of kappac's own variables among `live` holds; the others are the user's.
    pub compiler_variables: BTreeMap<String, CompilerVariable>,
}

/// Where the `break`/`continue` of emitted code go when their loop is not syntactically around
/// the code any more.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LoopTarget {
    /// The loop is around the code: leave them as they are.
    Syntactic,
    /// In a rest-of-block function: tail-call the loop's rest (`break`) or next iterations.
    Segment(NodeId),
    /// Resuming an iteration inline, inside a one-shot loop: `continue` ends the iteration,
    /// `break` also skips the remaining iterations (`inline_iteration`).
    InlineIteration,
    /// Inside a one-shot loop around a `try` (rebuilt by a continuation, or left by a tail
    /// call), for a loop outside it: leave the one-shot loop (every `finally` runs); the jump
    /// is made after it (`close_one_shot`, `dispatch_jump`).
    LeaveTry,
}

/// How `break`, `continue` and `return` are written where code has moved out of its loop or
/// into a continuation of `__init__`.
#[derive(Clone, Copy)]
struct Rewrite {
    moved_loop: LoopTarget,
    /// In continuations of `__init__`, `return` gives back the instance.
    in_init_continuation: bool,
}

/// What ends a block when control falls off it.
#[derive(Clone, Copy)]
enum BlockEnd {
    FunctionBody,
    After(NodeId),
    LoopNext(NodeId),
}

pub struct FunctionEmitter<'o, 's, 'p> {
    pub out: &'o mut Output<'s>,
    names: Naming<'p>,
    liveness: &'p Liveness,
    pub resume_points: Vec<ResumePoint>,
}

impl<'o, 's, 'p> FunctionEmitter<'o, 's, 'p> {
    pub fn new(
        out: &'o mut Output<'s>,
        plan: &'p FunctionPlan<'p>,
        liveness: &'p Liveness,
    ) -> Self {
        FunctionEmitter {
            out,
            names: Naming { plan },
            liveness,
            resume_points: Vec::new(),
        }
    }

    /// Emits the function in its normal shape, then its continuations, at `depth`.
    pub fn emit(&mut self, body: &[Node<'_>], depth: usize) {
        self.emit_normal(body, depth);
        self.emit_continuations(body, depth);
    }

    fn origin(&self, range: TextRange) -> TextSize {
        range.start()
    }

    /// The manifest's entry for a pause point: where it is, its continuation, what a
    /// checkpoint there saves, and what each of kappac's variables among those holds.
    fn resume_point(&self, number: u32, origin: TextRange, id: NodeId, live: Live) -> ResumePoint {
        let variables = &self.names.plan.variables;
        let compiler_variables: BTreeMap<String, CompilerVariable> = live
            .iter()
            .filter_map(|name| Some((name.clone(), variables.get(name)?.clone())))
            .collect();
        debug_assert!(
            live.iter()
                .all(|name| !name.starts_with("_kappa_") || compiler_variables.contains_key(name)),
            "a variable of kappac's is live without a description: {live:?}"
        );
        ResumePoint {
            id: number,
            function: self.names.plan.def.name.id.to_string(),
            line: self.out.file.line_of(origin.start()) as u32,
            continuation: self.names.reference(Kind::Resume, id),
            live: live.into_iter().collect(),
            compiler_variables,
        }
    }

    fn function_header(
        &mut self,
        depth: usize,
        kind: Kind,
        id: NodeId,
        params: &str,
        at: TextSize,
    ) {
        let name = self.names.def_name(kind, id);
        let header = format!("def {name}({}):", self.names.params(params));
        self.out.line(depth, &header, at);
        let plan = self.names.plan;
        self.out.functions.insert(
            self.names.reference(kind, id),
            UserFunction {
                name: plan.def.name.id.to_string(),
                qualname: plan.qualname.clone(),
            },
        );
    }

    /// Rebinds saved variables as locals; a variable unbound at the pause stays unbound.
    fn bind(&mut self, live: &Live, depth: usize, at: TextSize) {
        for name in live {
            if Some(name) == self.names.plan.receiver.as_ref() {
                continue;
            }
            self.out.line(
                depth,
                &format!("if {name:?} in _kappa_v: {name} = _kappa_v[{name:?}]"),
                at,
            );
        }
    }
}

/// Emits an inner function in its normal shape, its `def` line indented by `indent` (the
/// sink's `EmitInner`).
pub fn emit_inner_function(out: &mut Output<'_>, index: usize, indent: String) {
    let inner = out.inner;
    let function = &inner[index];
    let saved = std::mem::replace(&mut out.base, indent);
    out.inner_active.push(index);
    FunctionEmitter::new(out, &function.plan, &function.liveness).emit_normal(&function.body, 0);
    out.inner_active.pop();
    out.base = saved;
    if !out.inner_emitted[index] {
        out.inner_emitted[index] = true;
        out.pending.push(index);
    }
}

/// Emits the continuations of an inner function, at module level; returns its resume points.
pub fn inner_continuations(out: &mut Output<'_>, index: usize) -> Vec<ResumePoint> {
    let inner = out.inner;
    let function = &inner[index];
    let saved = std::mem::take(&mut out.base);
    let mut emitter = FunctionEmitter::new(out, &function.plan, &function.liveness);
    emitter.emit_continuations(&function.body, 0);
    let points = std::mem::take(&mut emitter.resume_points);
    out.base = saved;
    points
}
