//! A lower bound of how much of CPython's parser stack a module needs.
//!
//! CPython's PEG parser (3.9 and later) counts the rule functions it is inside and gives up
//! past 6,000 (`MAXSTACK`): "Parser stack overflowed - Python source too complex to parse", a
//! `MemoryError`, although each nesting is within its own limit (99 indented blocks, 200
//! brackets). 84 nested `if`s around 199 nested parentheses are enough.
//!
//! Matching CPython exactly would mean running its grammar: how deep one bracket goes depends
//! on what surrounds it, and on which of the parser's alternatives happens to get deepest
//! (with memoization in between). So this is a *lower bound*: each indented block and each
//! open bracket is charged the least it was measured to cost on CPython 3.9 to 3.13 in the
//! contexts below, anything uncharted costs nothing, and a module is refused only when even
//! that bound is past the limit. It never refuses what CPython parses; near the limit it may
//! accept what CPython refuses (by about one bracket's worth), which then fails loudly when the
//! worker imports the app.
//!
//! Measured per level (the threshold of CPython's `compile()` as blocks and brackets are added,
//! identical on 3.9, 3.11, 3.12 and 3.13):
//! - an indented block: 6 (an `if`; `def`, `class`, `else` and the others cost more; a
//!   `match` and its `case` about 8 together, charged 6);
//! - a call or subscript bracket (`f(`, `a[`): 24;
//! - a parenthesis, tuple or generator `(`: 28 (27 right after `in`); a list, set or dict `[`
//!   or `{`: 29; any of them opening onto `*` or `**`: 23;
//! - a replacement field of an f-string: 33 on 3.12 and later (charged as 23), nothing before
//!   3.12, where CPython parses each field separately, starting again from an empty stack;
//! - what a statement needs around its outermost bracket: 15 after an assignment's `=`, 3 after
//!   `with`, and at least -15 elsewhere (an expression statement whose outermost bracket is
//!   parsed first as an assignment target and then again, partly memoized, as an expression).
//!
//! Brackets of patterns go through far shorter rules; those and the brackets of parameter lists
//! and type parameters cost nothing here. (Targets cost as much as expressions: the parser
//! tries them as expressions first.)

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ModModule, PythonVersion, Stmt};
use ruff_python_parser::Parsed;
use ruff_text_size::{Ranged, TextRange, TextSize};

/// CPython's `MAXSTACK`.
pub const LIMIT: i64 = 6_000;

/// What a statement needs around its outermost bracket, at least: after an assignment's `=`
/// (or `+=` …), 15; after `with`, 3 (a parenthesized group of context managers); anywhere else
/// -15, the least measured (a bracket that starts a statement is parsed first as an assignment
/// target, then again, partly memoized, as an expression).
const AFTER_ASSIGN: i64 = 15;
const AFTER_WITH: i64 = 3;
const ELSEWHERE: i64 = -15;
const BLOCK: i64 = 6;
const TRAILER: i64 = 24;
const PARENTHESIS: i64 = 28;
const PARENTHESIS_AFTER_IN: i64 = 27;
const DISPLAY: i64 = 29;
const STARRED_DISPLAY: i64 = 23;
const REPLACEMENT_FIELD: i64 = 23;

/// The first bracket at which the module surely overflows CPython's parser stack. Call it only
/// on a tree whose depth is bounded (it walks the tree recursively).
pub fn overflow(parsed: &Parsed<ModModule>, target: PythonVersion) -> Option<TextRange> {
    if !parsed.errors().is_empty() || target > PythonVersion::PY313 {
        // A file with syntax errors has those to report (and brackets that may never close);
        // the costs were not measured on 3.14's grammar, and a guess could refuse valid code.
        return None;
    }
    let uncharted = Uncharted::ranges(parsed.syntax());
    let fields_apart = target < PythonVersion::PY312;
    let tokens: Vec<_> = parsed
        .tokens()
        .iter()
        .filter(|token| !token.kind().is_trivia())
        .collect();
    // The cost of each open indented block.
    let mut blocks: Vec<i64> = Vec::new();
    let mut open: Vec<i64> = Vec::new();
    let mut brackets = 0i64;
    let mut strings = 0u32;
    // The first token of the current logical line.
    let mut first: Option<TokenKind> = None;
    for (i, token) in tokens.iter().enumerate() {
        let kind = token.kind();
        let previous = i.checked_sub(1).map(|p| tokens[p].kind());
        if open.is_empty()
            && !matches!(
                kind,
                TokenKind::Newline | TokenKind::Indent | TokenKind::Dedent
            )
            && matches!(
                previous,
                None | Some(
                    TokenKind::Newline | TokenKind::Indent | TokenKind::Dedent | TokenKind::Semi
                )
            )
        {
            first = Some(kind);
        }
        match kind {
            // A `match` statement's body costs nothing more here: a `match` and a `case` cost
            // about 8 together, charged 6 for the `case`'s block.
            TokenKind::Indent if first == Some(TokenKind::Match) => blocks.push(0),
            TokenKind::Indent => blocks.push(BLOCK),
            TokenKind::Dedent => {
                blocks.pop();
            }
            TokenKind::FStringStart | TokenKind::TStringStart => strings += 1,
            TokenKind::FStringEnd | TokenKind::TStringEnd => strings = strings.saturating_sub(1),
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                let next = tokens.get(i + 1).map(|t| t.kind());
                if open.is_empty() {
                    // The statement around the outermost bracket.
                    let base = match previous {
                        Some(TokenKind::With) => AFTER_WITH,
                        Some(p)
                            if (p == TokenKind::Equal
                                || p.as_augmented_assign_operator().is_some())
                                && first != Some(TokenKind::Type) =>
                        {
                            AFTER_ASSIGN
                        }
                        _ => ELSEWHERE,
                    };
                    open.push(base);
                    brackets += base;
                }
                let cost = if (strings > 0 && fields_apart) || uncharted.contains(token.start()) {
                    0
                } else if strings > 0 && kind == TokenKind::Lbrace {
                    REPLACEMENT_FIELD
                } else {
                    bracket(kind, previous, next)
                };
                open.push(cost);
                brackets += cost;
                if blocks.iter().sum::<i64>() + brackets > LIMIT {
                    return Some(token.range());
                }
            }
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => {
                brackets -= open.pop().unwrap_or(0);
                if open.len() == 1 {
                    brackets -= open.pop().unwrap_or(0); // the statement's base
                }
            }
            _ => {}
        }
    }
    None
}

/// The least one open bracket of `kind` costs, between the tokens `previous` and `next`.
fn bracket(kind: TokenKind, previous: Option<TokenKind>, next: Option<TokenKind>) -> i64 {
    let trailer = previous.is_some_and(|p| {
        matches!(
            p,
            TokenKind::Name
                | TokenKind::Rpar
                | TokenKind::Rsqb
                | TokenKind::Rbrace
                | TokenKind::String
                | TokenKind::FStringEnd
                | TokenKind::TStringEnd
                | TokenKind::Int
                | TokenKind::Float
                | TokenKind::Complex
                | TokenKind::None
                | TokenKind::True
                | TokenKind::False
                | TokenKind::Ellipsis
        ) || p.is_soft_keyword()
    });
    if trailer {
        TRAILER
    } else if matches!(next, Some(TokenKind::Star | TokenKind::DoubleStar)) {
        STARRED_DISPLAY
    } else if kind == TokenKind::Lpar {
        if previous == Some(TokenKind::In) {
            PARENTHESIS_AFTER_IN
        } else {
            PARENTHESIS
        }
    } else {
        DISPLAY
    }
}

/// The source ranges whose brackets are not charged: patterns, parameter lists and type
/// parameters. Sorted and disjoint.
struct Uncharted(Vec<TextRange>);

impl Uncharted {
    fn ranges(module: &ModModule) -> Self {
        let mut collector = Collector(Vec::new());
        collector.visit_body(&module.body);
        let mut ranges = collector.0;
        ranges.sort_by_key(|r| (r.start(), r.end()));
        let mut merged: Vec<TextRange> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start() <= last.end() => {
                    *last = TextRange::new(last.start(), last.end().max(range.end()));
                }
                _ => merged.push(range),
            }
        }
        Uncharted(merged)
    }

    fn contains(&self, offset: TextSize) -> bool {
        let after = self.0.partition_point(|r| r.start() <= offset);
        after > 0 && self.0[after - 1].contains_inclusive(offset)
    }
}

struct Collector(Vec<TextRange>);

impl<'a> Visitor<'a> for Collector {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(s) => {
                self.0.push(s.parameters.range());
                self.0.extend(s.type_params.as_deref().map(Ranged::range));
            }
            Stmt::ClassDef(s) => self.0.extend(s.type_params.as_deref().map(Ranged::range)),
            Stmt::TypeAlias(s) => self.0.extend(s.type_params.as_deref().map(Ranged::range)),
            // From `case` to the guard or the body: a pattern's range leaves its parentheses out.
            Stmt::Match(s) => self.0.extend(s.cases.iter().map(|case| {
                let end = case.guard.as_deref().map_or_else(
                    || case.body.first().map_or(case.end(), Ranged::start),
                    Ranged::start,
                );
                TextRange::new(case.start(), end)
            })),
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Lambda(lambda) = expr {
            self.0
                .extend(lambda.parameters.as_deref().map(Ranged::range));
        }
        visitor::walk_expr(self, expr);
    }
}
