//! Parsing: source text to a ruff AST plus diagnostics. Parsing never fails; it returns the tree
//! (recovered around errors) and every error found.

use ruff_python_ast::{ModModule, PySourceType, PythonVersion};
use ruff_python_parser::{parse_unchecked, Mode, ParseOptions, Parsed};
use ruff_text_size::{TextRange, TextSize};

use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Label};
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
