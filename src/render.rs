//! Renderers of diagnostics: human (rustc-style, via codespan-reporting), JSON and GitHub Actions
//! annotations. One diagnostic model, several outputs.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label as CsLabel};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::WriteColor};
use serde::Serialize;

use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Severity};
use crate::source::SourceFile;

/// The diagnostics found in one file, in the order renderers print them.
#[derive(Debug)]
pub struct FileReport {
    pub file: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style messages with source excerpts
    Human,
    /// one line per diagnostic: `file:line:column: code [severity] message`
    Concise,
    /// a JSON array, one object per diagnostic
    Json,
    /// GitHub Actions workflow commands (`::error file=…::`)
    Github,
}

/// Human output: one rustc-style block per diagnostic.
pub fn human(
    reports: &[FileReport],
    out: &mut dyn WriteColor,
) -> Result<(), codespan_reporting::files::Error> {
    let config = term::Config::default();
    for report in reports {
        let file = SimpleFile::new(report.file.display_path(), report.file.text.as_str());
        for diagnostic in &report.diagnostics {
            term::emit(out, &config, &file, &to_codespan(diagnostic))?;
        }
    }
    Ok(())
}

fn to_codespan(diagnostic: &Diagnostic) -> CsDiagnostic<()> {
    let base = match diagnostic.severity() {
        Severity::Error => CsDiagnostic::error(),
        Severity::Warning => CsDiagnostic::warning(),
    };
    let range = |r: ruff_text_size::TextRange| usize::from(r.start())..usize::from(r.end());
    let mut labels = vec![CsLabel::primary((), range(diagnostic.primary.range))
        .with_message(&diagnostic.primary.message)];
    labels.extend(
        diagnostic
            .secondary
            .iter()
            .map(|label| CsLabel::secondary((), range(label.range)).with_message(&label.message)),
    );
    let mut notes: Vec<String> = diagnostic
        .notes
        .iter()
        .map(|note| format!("note: {note}"))
        .collect();
    if let Some(help) = &diagnostic.help {
        notes.push(format!("help: {help}"));
    }
    base.with_code(diagnostic.code.as_str())
        .with_message(&diagnostic.message)
        .with_labels(labels)
        .with_notes(notes)
}

#[derive(Serialize)]
struct JsonPosition {
    line: usize,
    column: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: &'a str,
    primary: bool,
    start: JsonPosition,
    end: JsonPosition,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: Code,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    file: String,
    start: JsonPosition,
    end: JsonPosition,
    labels: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
    /// The code's documentation, relative to the repository (`kappac explain CODE` prints it).
    doc: String,
}

fn position(file: &SourceFile, offset: ruff_text_size::TextSize) -> JsonPosition {
    let (line, column) = file.line_col(offset);
    JsonPosition { line, column }
}

fn json_label<'a>(
    file: &SourceFile,
    label: &'a crate::diagnostics::Label,
    primary: bool,
) -> JsonLabel<'a> {
    JsonLabel {
        message: &label.message,
        primary,
        start: position(file, label.range.start()),
        end: position(file, label.range.end()),
    }
}

/// JSON output: an array with one object per diagnostic; positions are 1-based, columns count
/// characters, and `end` is exclusive.
pub fn json(reports: &[FileReport]) -> String {
    let mut all = Vec::new();
    for report in reports {
        let file = &report.file;
        for d in &report.diagnostics {
            let mut labels = vec![json_label(file, &d.primary, true)];
            labels.extend(d.secondary.iter().map(|l| json_label(file, l, false)));
            all.push(JsonDiagnostic {
                code: d.code,
                name: d.code.name(),
                severity: d.severity(),
                message: &d.message,
                file: file.display_path(),
                start: position(file, d.primary.range.start()),
                end: position(file, d.primary.range.end()),
                labels,
                notes: &d.notes,
                help: d.help.as_deref(),
                doc: format!("docs/diagnostics/{}.md", d.code.as_str()),
            });
        }
    }
    // Serializing plain data to a string cannot fail.
    serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".to_owned())
}

/// Concise output: one line per diagnostic (ruff's `--output-format concise`).
pub fn concise(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let file = &report.file;
        for d in &report.diagnostics {
            let start = position(file, d.primary.range.start());
            out.push_str(&format!(
                "{}:{}:{}: {} [{}] {}\n",
                file.display_path(),
                start.line,
                start.column,
                d.code.as_str(),
                d.severity().as_str(),
                d.message.replace('\n', " ")
            ));
        }
    }
    out
}

/// GitHub Actions output: one `::error` / `::warning` workflow command per diagnostic.
pub fn github(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let file = &report.file;
        for d in &report.diagnostics {
            let start = position(file, d.primary.range.start());
            let end = position(file, d.primary.range.end());
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            out.push_str(&format!(
                "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
                d.severity().as_str(),
                escape_property(&file.display_path()),
                start.line,
                start.column,
                end.line,
                end.column,
                escape_property(&format!("{} {}", d.code.as_str(), d.code.name())),
                escape_data(&message),
            ));
        }
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escapes_workflow_command_syntax() {
        assert_eq!(escape_property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
    }
}
