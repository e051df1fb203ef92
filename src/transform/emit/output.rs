//! The text sink of emission: output lines, each with the user's line it came from (the line
//! map), copies of source text (re-indented where statements move), and the inner pausing
//! functions a copy reaches, which it hands back to the function emitter.

use std::collections::BTreeMap;

use ruff_text_size::{TextRange, TextSize};

use super::{FunctionPlan, UserFunction};
use crate::source::SourceFile;
use crate::transform::ir::Node;
use crate::transform::liveness::Liveness;

/// How the sink has an inner function emitted (`super::emit_inner_function`).
pub type EmitInner = fn(&mut Output<'_>, usize, String);

/// The output text and, for each output line, the 1-based source line it came from.
pub struct Output<'s> {
    /// Emits the inner function `index` transformed, its `def` line indented by the given
    /// text, where a copy reaches it: given by the function emitter, so that this sink never
    /// builds emitters itself.
    emit_inner: EmitInner,
    pub file: &'s SourceFile,
    /// Offsets in the source where a multi-line string token covers a line start.
    pub(super) string_line_starts: Vec<TextSize>,
    pub unit: String,
    /// Prefixed to generated indentation: the column of the nested function being emitted.
    pub(super) base: String,
    pub text: String,
    pub line_map: Vec<u32>,
    /// Every function kappac generated (continuations), by qualified name (`C._kappa_step_c1`),
    /// with the user's function it runs part of: the manifest's `functions`, which tracebacks
    /// are told in.
    pub functions: BTreeMap<String, UserFunction>,
    /// Pausing functions that copied text may contain (nested functions, functions defined in
    /// a block), sorted by position: wherever a copy reaches one, it is emitted transformed.
    pub(super) inner: &'s [InnerFunction<'s>],
    pub(super) inner_emitted: Vec<bool>,
    /// The inner functions being emitted (their own header is copied, not spliced).
    pub(super) inner_active: Vec<usize>,
    /// Inner functions emitted in their normal shape whose continuations are still to come
    /// (at module level, after the current top-level statement).
    pub pending: Vec<usize>,
}

/// A pausing function that is not at the top level of the module or of a top-level class: its
/// normal shape is emitted where its definition is, its continuations at module level.
pub struct InnerFunction<'a> {
    pub plan: FunctionPlan<'a>,
    pub body: Vec<Node<'a>>,
    pub liveness: Liveness,
    /// From the start of its first line (decorators included) to the end of its last.
    pub lines: TextRange,
}

impl<'s> Output<'s> {
    pub fn new(
        file: &'s SourceFile,
        string_line_starts: Vec<TextSize>,
        unit: String,
        inner: &'s [InnerFunction<'s>],
        emit_inner: EmitInner,
    ) -> Self {
        Output {
            emit_inner,
            file,
            string_line_starts,
            unit,
            base: String::new(),
            text: String::new(),
            line_map: Vec::new(),
            inner,
            inner_emitted: vec![false; inner.len()],
            inner_active: Vec::new(),
            pending: Vec::new(),
            functions: BTreeMap::new(),
        }
    }

    pub fn indent(&self, depth: usize) -> String {
        let mut indent = self.base.clone();
        indent.push_str(&self.unit.repeat(depth));
        indent
    }

    /// Whether `range` contains an inner function.
    pub fn contains_inner(&self, range: TextRange) -> bool {
        // Sorted by start: the first one starting at or after `range` decides.
        let first = self
            .inner
            .partition_point(|f| f.lines.start() < range.start());
        self.inner
            .get(first)
            .is_some_and(|f| f.lines.start() < range.end())
    }

    /// The inner function whose first line starts at `offset`.
    pub(super) fn inner_at(&self, offset: TextSize) -> Option<usize> {
        self.inner
            .binary_search_by_key(&offset, |f| f.lines.start())
            .ok()
            .filter(|index| !self.inner_active.contains(index))
    }

    pub(super) fn origin_line(&self, offset: TextSize) -> u32 {
        self.file.line_of(offset) as u32
    }

    /// Emits generated text at `depth`; its later lines (inside brackets or strings) are raw.
    pub fn line(&mut self, depth: usize, text: &str, origin: TextSize) {
        let origin = self.origin_line(origin);
        let indent = self.indent(depth);
        for (index, line) in text.split('\n').enumerate() {
            if index == 0 {
                self.text.push_str(&indent);
            }
            self.text.push_str(line);
            self.text.push('\n');
            self.line_map.push(origin);
        }
    }

    /// Copies source text exactly (between statements, and statements that do not move),
    /// except inner functions, which are emitted transformed.
    pub fn raw(&mut self, range: TextRange) {
        let mut at = range.start();
        let first = self
            .inner
            .partition_point(|f| f.lines.start() < range.start());
        for index in first..self.inner.len() {
            let lines = self.inner[index].lines;
            if lines.start() >= range.end() {
                break;
            }
            if lines.start() < at || self.inner_active.contains(&index) {
                continue; // inside an inner function already emitted
            }
            self.raw_text(TextRange::new(at, lines.start()));
            let indent_end =
                lines.start() + indent_width(&self.file.text[usize::from(lines.start())..]);
            let indent = self.file.text[TextRange::new(lines.start(), indent_end)].to_owned();
            (self.emit_inner)(self, index, indent);
            at = lines.end();
        }
        if at < range.end() {
            self.raw_text(TextRange::new(at, range.end()));
        }
    }

    pub(super) fn raw_text(&mut self, range: TextRange) {
        if range.is_empty() {
            return;
        }
        let text = &self.file.text[range];
        if text.is_empty() {
            return;
        }
        let mut line = self.origin_line(range.start());
        for c in text.chars() {
            self.text.push(c);
            if c == '\n' {
                self.line_map.push(line);
                line += 1;
            }
        }
    }

    /// Ends a partial line started by `raw`.
    pub fn finish_line(&mut self, origin: TextSize) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
            self.line_map.push(self.origin_line(origin));
        }
    }

    pub(super) fn in_string(&self, offset: TextSize) -> bool {
        self.string_line_starts.binary_search(&offset).is_ok()
    }

    /// Copies a statement (or header) verbatim at `depth`, re-indenting the lines that begin
    /// at its original indentation and replacing the given single-line ranges.
    pub fn verbatim(
        &mut self,
        range: TextRange,
        depth: usize,
        replacements: &[(TextRange, String)],
    ) {
        let file = self.file;
        let source = &file.text;
        let start = usize::from(range.start());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let prefix = &source[line_start..start];
        let original_indent = prefix
            .chars()
            .all(|c| c == ' ' || c == '\t')
            .then(|| prefix.to_owned());
        let new_indent = self.indent(depth);
        let end = usize::from(range.end());
        let mut at = start;
        let mut first = true;
        while at <= end {
            let line_end = source[at..end].find('\n').map_or(end, |i| at + i);
            let mut line = String::new();
            let mut cursor = at;
            let mut sorted: Vec<&(TextRange, String)> = replacements
                .iter()
                .filter(|(r, _)| usize::from(r.start()) >= at && usize::from(r.end()) <= line_end)
                .collect();
            sorted.sort_by_key(|(r, _)| r.start());
            for (r, replacement) in sorted {
                line.push_str(&source[cursor..usize::from(r.start())]);
                line.push_str(replacement);
                cursor = usize::from(r.end());
            }
            line.push_str(&source[cursor..line_end]);
            let offset = TextSize::try_from(at).unwrap_or_default();
            let line_key = if first {
                TextSize::try_from(line_start).unwrap_or_default()
            } else {
                offset
            };
            if let Some(index) = (first || !self.in_string(offset))
                .then(|| self.inner_at(line_key))
                .flatten()
            {
                // An inner function: transformed, at the indentation its line would get.
                let own = &line[..usize::from(indent_width(&line))];
                let indent = match &original_indent {
                    _ if first => new_indent.clone(),
                    Some(indent) if own.starts_with(indent.as_str()) => {
                        format!("{new_indent}{}", &own[indent.len()..])
                    }
                    _ => own.to_owned(),
                };
                (self.emit_inner)(self, index, indent);
                let after = usize::from(self.inner[index].lines.end());
                if after >= end {
                    break;
                }
                at = after;
                first = false;
                continue;
            }
            if first {
                self.text.push_str(&new_indent);
                self.text.push_str(&line);
            } else if self.in_string(offset) {
                self.text.push_str(&line);
            } else {
                match &original_indent {
                    Some(indent) if line.starts_with(indent.as_str()) => {
                        self.text.push_str(&new_indent);
                        self.text.push_str(&line[indent.len()..]);
                    }
                    _ => self.text.push_str(&line),
                }
            }
            self.text.push('\n');
            self.line_map.push(self.origin_line(offset));
            first = false;
            if line_end >= end {
                break;
            }
            at = line_end + 1;
        }
    }
}

/// The length of the indentation at the start of `line`.
fn indent_width(line: &str) -> TextSize {
    let width = line.len() - line.trim_start_matches([' ', '\t']).len();
    TextSize::try_from(width).unwrap_or_default()
}

/// The header of a def, from its first decorator to the end of the line of its colon.
pub fn trim_header(source: &str, start: TextSize, body_start: TextSize) -> TextRange {
    let text = &source[usize::from(start)..usize::from(body_start)];
    let trimmed = text.trim_end();
    TextRange::at(start, TextSize::try_from(trimmed.len()).unwrap_or_default())
}
