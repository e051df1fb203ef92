//! The transform's intermediate form of a pausing function's body: statements that hold pause
//! points become nodes; everything else stays a reference to the user's statement (copied
//! verbatim when emitted).

use ruff_python_ast::Stmt;
use ruff_text_size::{Ranged, TextRange};

/// What a variable kappac introduces holds. Recorded where the variable is made and written to
/// the manifest with each resume point where it is live, so that the runtime can name it in the
/// user's terms without reading the generated name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CompilerVariable {
    /// A value computed before a pause point: part of an expression on the pause's line.
    Temporary,
    /// A comprehension's own variable, renamed so that it cannot clash with the function's.
    ComprehensionVariable { name: String },
    /// The iterator of the `for` loop or comprehension on `line`.
    Iterator { line: u32 },
    /// The context manager of the `with` statement on `line`.
    WithManager { line: u32 },
    /// That manager's bound `__exit__`.
    WithExit { line: u32 },
    /// Whether, and with which exception, that `with` block is being left.
    WithState { line: u32 },
    /// The exception caught by the `except` clause on `line`.
    CaughtException { line: u32 },
    /// How the `try` statement on `line`, whose `finally` pauses, is being left.
    FinallyState { line: u32 },
    /// Which way a loop kappac made around the statement on `line` is being left.
    JumpState { line: u32 },
}

/// An expression or statement as Python text, with the names it reads and writes.
#[derive(Debug, Clone, Default)]
pub struct Snippet {
    pub text: String,
    pub uses: Vec<String>,
    pub defs: Vec<String>,
}

/// Identifies a node that needs continuations (pause points, and compound statements that
/// contain pause points). Unique within one function.
pub type NodeId = u32;

pub use crate::knowledge::Jump;

#[derive(Debug)]
pub enum Node<'a> {
    /// A user statement without pause points, copied verbatim.
    Plain(&'a Stmt),
    /// A generated simple statement (a spilled temporary, the rest of a flattened statement).
    /// `returned` marks a `return` statement: the value it returns (`None` for a bare
    /// `return`).
    Line {
        code: Snippet,
        returned: Option<Option<Snippet>>,
        origin: TextRange,
    },
    /// A generated `break` / `continue` (from a flattened `while` test).
    Jump { jump: Jump, origin: TextRange },
    /// `[target =] call` where `call` is a pause point.
    Pause {
        id: NodeId,
        /// The resume point's number in the manifest (1-based within the module).
        resume_point: u32,
        target: Option<Snippet>,
        call: Snippet,
        origin: TextRange,
    },
    If {
        id: NodeId,
        test: Snippet,
        body: Vec<Node<'a>>,
        orelse: Vec<Node<'a>>,
        origin: TextRange,
    },
    While {
        id: NodeId,
        test: Snippet,
        body: Vec<Node<'a>>,
        /// The `else` block: runs when the test is false, not after `break`.
        orelse: Vec<Node<'a>>,
        origin: TextRange,
    },
    /// `try` with pause points in its body, handlers or `else` (never in `finally`).
    Try {
        id: NodeId,
        body: Vec<Node<'a>>,
        handlers: Vec<Handler<'a>>,
        orelse: Vec<Node<'a>>,
        finalbody: Vec<Node<'a>>,
        origin: TextRange,
    },
    /// `for target in iterator` where the iterator is kept in `iterator_var`, so that a resumed
    /// loop continues where it was.
    For {
        id: NodeId,
        target: Snippet,
        iter: Snippet,
        iterator_var: String,
        body: Vec<Node<'a>>,
        /// The `else` block: runs when the iterator is exhausted, not after `break`.
        orelse: Vec<Node<'a>>,
        origin: TextRange,
    },
}

/// One `except` clause of a `Try` node.
#[derive(Debug)]
pub struct Handler<'a> {
    /// `except ValueError`, `except (A, B)`, or `except BaseException` for a bare `except:`.
    pub header: String,
    /// Holds the exception while the handler runs (so a resumed handler can re-raise it).
    pub var: String,
    /// The user's `as` name.
    pub name: Option<String>,
    pub body: Vec<Node<'a>>,
    pub origin: TextRange,
}

impl<'a> Node<'a> {
    /// The blocks of nodes nested in this one that can hold pause points, in order: `body`,
    /// then (for `Try`) each handler's body, then `orelse`. A `Try`'s `finalbody` is not among
    /// them: it never pauses (a `try` whose `finally` pauses is lowered into nodes after the
    /// statement, `lower/finally.rs`); walks that must see every node (`nodes_leave_loop`)
    /// visit it themselves. Block `i` of a node is what a path through the IR means by `i`.
    pub fn blocks(&self) -> Vec<&[Node<'a>]> {
        match self {
            Node::If { body, orelse, .. }
            | Node::While { body, orelse, .. }
            | Node::For { body, orelse, .. } => vec![body, orelse],
            Node::Try {
                body,
                handlers,
                orelse,
                ..
            } => {
                let mut blocks: Vec<&[Node<'a>]> = vec![body];
                blocks.extend(handlers.iter().map(|h| h.body.as_slice()));
                blocks.push(orelse);
                blocks
            }
            Node::Plain(_) | Node::Line { .. } | Node::Jump { .. } | Node::Pause { .. } => {
                Vec::new()
            }
        }
    }

    /// The user's code the node stands for.
    pub fn origin(&self) -> TextRange {
        match self {
            Node::Plain(stmt) => stmt.range(),
            Node::Line { origin, .. }
            | Node::Jump { origin, .. }
            | Node::Pause { origin, .. }
            | Node::If { origin, .. }
            | Node::While { origin, .. }
            | Node::For { origin, .. }
            | Node::Try { origin, .. } => *origin,
        }
    }

    /// The id of a node that needs continuations; `None` for plain and generated lines.
    pub fn id(&self) -> Option<NodeId> {
        match self {
            Node::Pause { id, .. }
            | Node::If { id, .. }
            | Node::While { id, .. }
            | Node::For { id, .. }
            | Node::Try { id, .. } => Some(*id),
            Node::Plain(_) | Node::Line { .. } | Node::Jump { .. } => None,
        }
    }
}

/// Whether `nodes` hold a `break` or `continue` that leaves them: one that is not inside a
/// loop of their own.
pub fn nodes_leave_loop(nodes: &[Node<'_>]) -> bool {
    nodes.iter().any(|node| match node {
        Node::Plain(stmt) => crate::knowledge::JumpsLeaving::of(stmt).leaves_loop(),
        Node::Jump { .. } => true,
        Node::Line { .. } | Node::Pause { .. } => false,
        Node::If { body, orelse, .. } => nodes_leave_loop(body) || nodes_leave_loop(orelse),
        // A loop's own jumps are in its body; those in its `else` leave.
        Node::While { orelse, .. } | Node::For { orelse, .. } => nodes_leave_loop(orelse),
        Node::Try {
            body,
            handlers,
            orelse,
            finalbody,
            ..
        } => {
            nodes_leave_loop(body)
                || handlers.iter().any(|h| nodes_leave_loop(&h.body))
                || nodes_leave_loop(orelse)
                || nodes_leave_loop(finalbody)
        }
    })
}
