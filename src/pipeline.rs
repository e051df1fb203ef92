//! One compilation of a handler, computed once: parse → analyze → every diagnostic (syntax, the
//! analyses, the positions the transform cannot compile, suppression comments) → transform,
//! unless one is an error. `check`, `emit`, `build` and `run` all go through here, so that they
//! cannot disagree (`tests/parity.rs`).

use crate::analyze::Analysis;
use crate::diagnostics::{self, Diagnostic};
use crate::parse::{self, TargetVersion};
use crate::source::SourceFile;
use crate::suppression::Suppressions;
use crate::transform::Transformed;

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    pub target: TargetVersion,
}

/// Every diagnostic of a parsed and analyzed handler, sorted: syntax, analyses, and the
/// positions the transform cannot compile (K037) and resources its liveness finds held across a
/// pause (K039). `check` reports exactly these, and `emit`,
/// `build` and `run` refuse to transform a handler that has an error among them.
pub fn handler_diagnostics(
    file: &SourceFile,
    parsed: &parse::ParsedModule,
    analysis: &Analysis<'_>,
) -> Vec<Diagnostic> {
    let mut diagnostics = parsed.diagnostics.clone();
    if parsed.too_deep {
        return diagnostics;
    }
    diagnostics.extend(analysis.diagnostics(file));
    diagnostics.extend(crate::transform::unsupported_positions(
        file,
        parsed.module(),
        analysis,
    ));
    Suppressions::of(file, parsed.parsed.tokens()).apply(file, &mut diagnostics);
    diagnostics::sort(&mut diagnostics);
    diagnostics
}

/// One handler through the whole pipeline, parsed and analyzed once: every diagnostic `check`
/// reports for it (warnings too, sorted), and the transformed module when none is an error.
pub struct Compilation {
    pub diagnostics: Vec<Diagnostic>,
    pub transformed: Option<Transformed>,
}

/// Parse, analyze, diagnose, and transform unless there is an error.
pub fn compile(file: &SourceFile, options: CheckOptions) -> Compilation {
    let parsed = crate::parse::parse(file, options.target);
    let analysis = Analysis::new(parsed.module());
    let mut diagnostics = handler_diagnostics(file, &parsed, &analysis);
    if diagnostics
        .iter()
        .any(|d| d.severity() == crate::diagnostics::Severity::Error)
    {
        return Compilation {
            diagnostics,
            transformed: None,
        };
    }
    match crate::transform::transform(file, &parsed.parsed, &analysis) {
        Ok(transformed) => Compilation {
            diagnostics,
            transformed: Some(transformed),
        },
        Err(errors) => {
            diagnostics.extend(errors);
            crate::diagnostics::sort(&mut diagnostics);
            Compilation {
                diagnostics,
                transformed: None,
            }
        }
    }
}

/// [`compile`], for callers that want only the module or the errors that prevent it.
pub fn compile_handler(
    file: &SourceFile,
    options: CheckOptions,
) -> Result<Transformed, Vec<Diagnostic>> {
    let compilation = compile(file, options);
    compilation.transformed.ok_or_else(|| {
        let mut errors = compilation.diagnostics;
        errors.retain(|d| d.severity() == crate::diagnostics::Severity::Error);
        errors
    })
}
