//! Parsing: source text to a ruff AST plus diagnostics. Parsing never fails; it returns the tree
//! (recovered around errors) and every error found.

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ModModule, PySourceType, PythonVersion, Stmt};
use ruff_python_parser::{parse_unchecked, Mode, ParseOptions, Parsed};
use ruff_text_size::{Ranged, TextRange, TextSize};

use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};
use crate::parser_stack;
use crate::source::{DecodeError, SourceFile};

/// The Python versions kappac's output can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TargetVersion {
    pub minor: u8,
}

impl TargetVersion {
    pub const OLDEST: TargetVersion = TargetVersion { minor: 9 };
    pub const NEWEST: TargetVersion = TargetVersion { minor: 14 };

    pub fn parse(text: &str) -> Result<TargetVersion, String> {
        let minor = text
            .strip_prefix("3.")
            .or_else(|| text.strip_prefix("py3"))
            .and_then(|m| m.parse::<u8>().ok());
        match minor {
            Some(minor) if (Self::OLDEST.minor..=Self::NEWEST.minor).contains(&minor) => {
                Ok(TargetVersion { minor })
            }
            _ => Err(format!(
                "unsupported Python version `{text}`: expected one of 3.{}..3.{}",
                Self::OLDEST.minor,
                Self::NEWEST.minor
            )),
        }
    }

    fn python_version(self) -> PythonVersion {
        PythonVersion {
            major: 3,
            minor: self.minor,
        }
    }
}

impl Default for TargetVersion {
    fn default() -> Self {
        TargetVersion::OLDEST
    }
}

impl std::fmt::Display for TargetVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "3.{}", self.minor)
    }
}

/// The parsed module and the diagnostics that parsing produced.
pub struct ParsedModule {
    pub parsed: Parsed<ModModule>,
    pub diagnostics: Vec<Diagnostic>,
    /// The source nests deeper than CPython compiles: `parsed` is an empty module, which is
    /// not to be analyzed (the diagnostics say why).
    pub too_deep: bool,
}

impl ParsedModule {
    pub fn module(&self) -> &ModModule {
        self.parsed.syntax()
    }

    pub fn has_syntax_errors(&self) -> bool {
        !self.parsed.errors().is_empty()
    }
}

/// Parses `file` for `target`. Syntax errors (K001) and syntax newer than the target (K002) are
/// diagnostics; the tree is always returned.
pub fn parse(file: &SourceFile, target: TargetVersion) -> ParsedModule {
    let options = ParseOptions::from(Mode::Module).with_target_version(target.python_version());
    let parsed = parse_unchecked(&file.text, options);
    let parsed = match parsed.try_into_module() {
        Some(module) => module,
        // Mode::Module always yields a module; fall back to the source-type entry point.
        None => ruff_python_parser::parse_unchecked_source(&file.text, PySourceType::Python),
    };
    let mut diagnostics = Vec::new();
    if let Some(error) = layout_error(&parsed, &file.text, target) {
        // Nothing after parsing looks at a tree CPython cannot compile: it is replaced by an
        // empty module, and the one error says why.
        diagnostics.push(
            Diagnostic::new(
                Code::SyntaxError,
                format!("syntax error: {}", error.message),
                Label::new(error.range, error.label),
            )
            .with_help(error.help),
        );
        let empty = ruff_python_parser::parse_unchecked_source("", PySourceType::Python);
        return ParsedModule {
            parsed: empty,
            diagnostics,
            too_deep: true,
        };
    }
    if let Some(offset) = null_in_text(&parsed, &file.text) {
        diagnostics.push(
            Diagnostic::new(
                Code::SyntaxError,
                "syntax error: source code cannot contain null bytes",
                Label::new(TextRange::empty(offset), "a null byte here"),
            )
            .with_help("remove it, or write it as `\\0` in a string"),
        );
    }
    if let Some(offset) = stray_byte_order_mark(&parsed, &file.text) {
        diagnostics.push(
            Diagnostic::new(
                Code::SyntaxError,
                "syntax error: invalid non-printable character U+FEFF",
                Label::new(TextRange::empty(offset), "a byte-order mark here"),
            )
            .with_help("remove it: only one byte-order mark may start a file"),
        );
    }
    for error in parsed.errors() {
        diagnostics.push(
            Diagnostic::new(
                Code::SyntaxError,
                format!("syntax error: {}", error.error),
                Label::new(error.location, "here"),
            )
            .with_help(
                "fix the syntax here; kappac reports every syntax error it can recover from",
            ),
        );
    }
    // On a tree recovered around parse errors, compile-time checks would report noise.
    let compile_errors = if parsed.errors().is_empty() {
        crate::compile_errors::find(parsed.syntax(), &file.text, target.python_version())
    } else {
        Vec::new()
    };
    for error in compile_errors {
        diagnostics.push(
            Diagnostic::new(
                Code::SyntaxError,
                format!("syntax error: {}", error.message),
                Label::new(error.range, "here"),
            )
            .with_help("CPython rejects this when compiling the module; fix it here"),
        );
    }
    for error in parsed.unsupported_syntax_errors() {
        diagnostics.push(
            Diagnostic::new(
                Code::SyntaxNewerThanTarget,
                format!("{error}"),
                Label::new(error.range, format!("not available on Python {target}")),
            )
            .with_help(format!(
                "rewrite this for Python {target}, or pass `--target-version` with the oldest \
                 Python your workers run"
            )),
        );
    }
    ParsedModule {
        parsed,
        diagnostics,
        too_deep: false,
    }
}

/// A NUL character in a comment or string: CPython refuses it anywhere in the source, ruff's
/// lexer only in code (which its own error reports).
fn null_in_text(parsed: &Parsed<ModModule>, text: &str) -> Option<TextSize> {
    let tokens = parsed.tokens();
    text.match_indices('\0').find_map(|(index, _)| {
        let offset = TextSize::try_from(index).ok()?;
        inside_text(tokens, offset).then_some(offset)
    })
}

/// Whether `offset` is inside a string or comment token.
fn inside_text(tokens: &ruff_python_ast::token::Tokens, offset: TextSize) -> bool {
    // Tokens are sorted and do not overlap: the one that could hold `offset` is the last that
    // starts at or before it.
    let index = tokens.partition_point(|token| token.start() <= offset);
    index.checked_sub(1).is_some_and(|i| {
        let token = &tokens[i];
        token.range().contains(offset)
            && matches!(
                token.kind(),
                TokenKind::String
                    | TokenKind::FStringMiddle
                    | TokenKind::TStringMiddle
                    | TokenKind::Comment
            )
    })
}

/// A U+FEFF outside strings and comments (a second byte-order mark, say), which CPython's
/// tokenizer refuses and ruff's lexer skips as white space.
fn stray_byte_order_mark(parsed: &Parsed<ModModule>, text: &str) -> Option<TextSize> {
    let tokens = parsed.tokens();
    text.match_indices('\u{feff}').find_map(|(index, _)| {
        let offset = TextSize::try_from(index).ok()?;
        (!inside_text(tokens, offset)).then_some(offset)
    })
}

/// How a logical line's indentation is wrong for CPython's tokenizer.
#[derive(Clone, Copy)]
enum Indentation {
    /// Ambiguous with tabs (TabError).
    InconsistentTabs,
    /// A dedent to a column no enclosing block starts at (IndentationError).
    Unindent,
}

/// The first logical line whose indentation CPython's tokenizer refuses. It measures each
/// indentation twice, with tabs to the next multiple of 8 and with tabs as one column: the two
/// must order the lines the same way (TabError), and a dedent must return to the column of an
/// enclosing block. ruff's lexer measures only once, and otherwise, so it lets some through.
fn indentation_error(parsed: &Parsed<ModModule>, source: &str) -> Option<(TextSize, Indentation)> {
    // With spaces alone, both measures agree with ruff's.
    if !source.contains(['\t', '\x0c']) {
        return None;
    }
    let mut stack: Vec<(u32, u32)> = vec![(0, 0)];
    let mut at_line_start = true;
    for token in parsed.tokens().iter() {
        match token.kind() {
            TokenKind::Newline => {
                at_line_start = true;
                continue;
            }
            TokenKind::NonLogicalNewline
            | TokenKind::Comment
            | TokenKind::Indent
            | TokenKind::Dedent => continue,
            _ if !at_line_start => continue,
            _ => at_line_start = false,
        }
        let start = usize::from(token.start());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let (mut col, mut alt) = (0u32, 0u32);
        for c in source[line_start..start].chars() {
            match c {
                ' ' => {
                    col += 1;
                    alt += 1;
                }
                '\t' => {
                    col = (col / 8 + 1) * 8;
                    alt += 1;
                }
                '\x0c' => {
                    col = 0;
                    alt = 0;
                }
                _ => break,
            }
        }
        let tabs = Some((token.start(), Indentation::InconsistentTabs));
        let &(top, top_alt) = stack.last()?;
        if col == top {
            if alt != top_alt {
                return tabs;
            }
        } else if col > top {
            if alt <= top_alt {
                return tabs;
            }
            stack.push((col, alt));
        } else {
            while stack.len() > 1 && stack.last().is_some_and(|&(c, _)| col < c) {
                stack.pop();
            }
            match stack.last() {
                Some(&(c, _)) if c != col => {
                    return Some((token.start(), Indentation::Unindent));
                }
                Some(&(_, a)) if a != alt => return tabs,
                _ => {}
            }
        }
    }
    None
}

/// CPython's tokenizer refuses a 100th level of indentation.
const MAX_INDENT_DEPTH: u32 = 99;

/// CPython's tokenizer refuses more than 200 nested brackets.
const MAX_BRACKET_DEPTH: u32 = 200;

/// How deeply expressions may nest (statements count as levels too) before CPython's compiler
/// gives up ("maximum recursion depth exceeded during compilation"). Measured on the worker's
/// way in, `import handler`:
/// - 3.12: 2,994 levels (`x = a + a + …` of 2,993 terms), however deep the importer's stack;
/// - 3.9 to 3.11: the budget is three levels per Python frame of the interpreter's limit, less
///   the frames below the compilation: about 2,960 levels when imported from a module's top
///   level, 2,930 ten frames deeper. kappac takes 2,900, short of any realistic import; a file
///   in between compiles or not depending on where it is imported from;
/// - 3.13: ~10,000 levels for the compiler, but unary operators and lambdas, each a rule of the
///   parser, first meet its stack (about 5,960; see `parser_stack`). kappac takes 5,900 for
///   every kind, so binary operators nested 5,900 to ~10,000 deep are refused though 3.13
///   compiles them.
fn max_expression_depth(target: TargetVersion) -> u32 {
    let version = target.python_version();
    if version >= PythonVersion::PY313 {
        5_900
    } else if version >= PythonVersion::PY312 {
        2_990
    } else {
        2_900
    }
}

/// Where and why CPython's tokenizer or compiler refuses the module's layout.
struct LayoutError {
    range: TextRange,
    message: String,
    label: &'static str,
    help: &'static str,
}

impl LayoutError {
    fn nesting(range: TextRange, message: String) -> Self {
        LayoutError {
            range,
            message,
            label: "nested too deeply here",
            help: "split the expression into several statements with intermediate variables",
        }
    }
}

/// The first place where the module's layout is beyond what CPython's tokenizer and compiler
/// take (nesting too deep, indentation CPython measures otherwise than ruff), with the message
/// CPython gives.
fn layout_error(
    parsed: &Parsed<ModModule>,
    source: &str,
    target: TargetVersion,
) -> Option<LayoutError> {
    let mut depth = 0u32;
    let mut indents = 0u32;
    for token in parsed.tokens().iter() {
        match token.kind() {
            TokenKind::Indent => {
                indents += 1;
                if indents > MAX_INDENT_DEPTH {
                    return Some(LayoutError::nesting(
                        token.range(),
                        "too many levels of indentation".to_owned(),
                    ));
                }
            }
            TokenKind::Dedent => indents = indents.saturating_sub(1),
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Some(LayoutError::nesting(
                        token.range(),
                        "too many nested parentheses".to_owned(),
                    ));
                }
            }
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => {
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    if let Some((offset, kind)) = indentation_error(parsed, source) {
        let range = TextRange::empty(offset);
        return Some(match kind {
            Indentation::InconsistentTabs => LayoutError {
                range,
                message: "inconsistent use of tabs and spaces in indentation".to_owned(),
                label: "this line's indentation is ambiguous",
                help: "indent with spaces only (or tabs only): CPython refuses indentation \
                       whose depth depends on how wide a tab is",
            },
            Indentation::Unindent => LayoutError {
                range,
                message: "unindent does not match any outer indentation level".to_owned(),
                label: "no enclosing block starts at this column",
                help: "indent with spaces only, to the column of the block this line belongs to \
                       (CPython counts a tab as up to 8 columns)",
            },
        });
    }
    let limit = max_expression_depth(target);
    let mut finder = DepthFinder {
        depth: 0,
        limit,
        found: None,
    };
    finder.visit_body(&parsed.syntax().body);
    if let Some(range) = finder.found {
        return Some(LayoutError::nesting(
            range,
            format!(
                "expression nested more than {limit} levels deep: CPython {target} cannot compile it"
            ),
        ));
    }
    // The tree's depth is bounded now, as parser_stack's walk needs.
    parser_stack::overflow(parsed, target.python_version()).map(|range| LayoutError {
        range,
        message: format!(
            "too complex to parse: these nested blocks and brackets overflow CPython's parser \
             stack ({} levels)",
            parser_stack::LIMIT
        ),
        label: "CPython's parser gives up here",
        help: "nest less: move the inner blocks into a function, or split the expression into \
               several statements with intermediate variables",
    })
}

/// Finds the first expression nested deeper than `limit` (statements count as levels too);
/// never descends further than that, so its own recursion is bounded.
struct DepthFinder {
    depth: u32,
    limit: u32,
    found: Option<TextRange>,
}

impl<'a> Visitor<'a> for DepthFinder {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.found.is_some() {
            return;
        }
        self.depth += 1;
        if self.depth > self.limit {
            self.found = Some(stmt.range());
        } else {
            visitor::walk_stmt(self, stmt);
        }
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.found.is_some() {
            return;
        }
        self.depth += 1;
        if self.depth > self.limit {
            self.found = Some(expr.range());
        } else {
            visitor::walk_expr(self, expr);
        }
        self.depth -= 1;
    }
}

/// The diagnostic for a file whose bytes could not be decoded.
pub fn decode_diagnostic(file: &SourceFile, error: &DecodeError) -> Diagnostic {
    let point = |offset: usize| {
        let offset = TextSize::try_from(offset.min(file.text.len())).unwrap_or_default();
        TextRange::empty(offset)
    };
    match error {
        DecodeError::InvalidBytes { offset, encoding } => {
            // The lossy text maps the valid prefix one-to-one, so the offset is still right.
            let (line, _) = file.line_col(point(*offset).start());
            Diagnostic::new(
                Code::UndecodableSource,
                format!("the file is not valid {encoding} (first bad byte on line {line})"),
                Label::new(point(*offset), format!("invalid {encoding} here")),
            )
            .with_help("save the file as UTF-8")
        }
        DecodeError::UnknownEncoding { offset, encoding } => Diagnostic::new(
            Code::UndecodableSource,
            format!("unsupported source encoding `{encoding}`"),
            Label::new(point(*offset), "declared here"),
        )
        .with_help("save the file as UTF-8 and remove the `coding` declaration"),
        DecodeError::BomWithOtherEncoding { offset, encoding } => Diagnostic::new(
            Code::UndecodableSource,
            format!("encoding problem: `{encoding}` with a UTF-8 byte-order mark"),
            Label::new(
                point(*offset),
                "declared here, but the file starts with a UTF-8 BOM",
            ),
        )
        .with_help("remove the byte-order mark, or declare `coding: utf-8`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str, target: &str) -> Vec<Code> {
        let file = SourceFile::new("t.py", text);
        let target = TargetVersion::parse(target).unwrap();
        parse(&file, target)
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn reports_every_syntax_error() {
        let found = codes("def f(:\n    pass\nx = (1,\ny = ]\n", "3.11");
        assert!(found.len() >= 2, "{found:?}");
        assert!(found.iter().all(|c| *c == Code::SyntaxError));
    }

    #[test]
    fn compile_time_errors_are_syntax_errors() {
        let cases = [
            "break\n",
            "def f():\n    continue\n",
            "return 1\n",
            "def f(a, a):\n    pass\n",
            "def f():\n    await g()\n",
            "class C:\n    yield 1\n",
            "for x in y:\n    def f():\n        break\n",
            "for x in y:\n    class C:\n        break\n",
        ];
        for case in cases {
            assert_eq!(codes(case, "3.11"), vec![Code::SyntaxError], "{case:?}");
        }
        let fine = [
            "for x in y:\n    break\nelse:\n    pass\n",
            "while True:\n    class C:\n        pass\n    continue\n",
            "async def f():\n    return [await x for x in y]\n",
            "def f():\n    return (await x for x in y)\n",
            "def g():\n    yield 1\n    return 2\n",
            "f = lambda: (yield)\n",
            "for x in y:\n    class C:\n        for z in x:\n            break\n",
            "async def f():\n    return [[i async for i in g(j)] for j in y]\n",
        ];
        for case in fine {
            assert_eq!(codes(case, "3.11"), vec![], "{case:?}");
        }
    }

    #[test]
    fn match_depends_on_target() {
        let text = "match x:\n    case 1:\n        pass\n";
        assert_eq!(codes(text, "3.9"), vec![Code::SyntaxNewerThanTarget]);
        assert_eq!(codes(text, "3.10"), vec![]);
    }

    #[test]
    fn target_version_parse() {
        assert_eq!(TargetVersion::parse("3.12").unwrap().minor, 12);
        assert!(TargetVersion::parse("3.8").is_err());
        assert!(TargetVersion::parse("2.7").is_err());
        assert!(TargetVersion::parse("3.15").is_err());
    }
}
