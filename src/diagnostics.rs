//! The diagnostic model: what every stage reports, independent of how it is rendered.

use ruff_text_size::TextRange;

use crate::codes::Code;
pub use crate::codes::Severity;

/// A span of the file with what it means for the diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub range: TextRange,
    pub message: String,
}

impl Label {
    pub fn new(range: TextRange, message: impl Into<String>) -> Self {
        Label {
            range,
            message: message.into(),
        }
    }
}

/// One finding in one file: a code, a headline, where (primary label), what else is involved
/// (secondary labels), and the change to make (help).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>, primary: Label) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            primary,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    #[must_use]
    pub fn with_secondary(mut self, range: TextRange, message: impl Into<String>) -> Self {
        self.secondary.push(Label::new(range, message));
        self
    }

    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Adds a note when there is one to add.
    #[must_use]
    pub fn with_optional_note(mut self, note: Option<String>) -> Self {
        self.notes.extend(note);
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Sorts diagnostics into the one order every renderer uses: by position, then code.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (
            a.primary.range.start(),
            a.primary.range.end(),
            a.code,
            &a.message,
        )
            .cmp(&(
                b.primary.range.start(),
                b.primary.range.end(),
                b.code,
                &b.message,
            ))
    });
}
