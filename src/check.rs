//! `kappac check`: from paths on the command line to diagnostics per file. An app directory
//! means its handler.py (compiled) plus its other Python files (checked for coordinator calls
//! that would not be compiled); a `.py` file is checked as a handler.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::analyze::Analysis;
use crate::codes::Code;
use crate::diagnostics::{self, Diagnostic, Label};
use crate::parse;
use crate::render::FileReport;
use crate::source::SourceFile;
use crate::suppression::Suppressions;
use crate::transform::Transformed;

pub use crate::pipeline::CheckOptions;

/// A path that could not be checked at all (missing, unreadable, not an app).
#[derive(Debug)]
pub struct PathError {
    pub path: PathBuf,
    pub message: String,
}

/// Checks handler source text: parse, analyze, diagnose. The single entry point every caller
/// (CLI, tests, benchmarks) goes through.
pub fn check_handler_source(file: &SourceFile, options: CheckOptions) -> Vec<Diagnostic> {
    let parsed = parse::parse(file, options.target);
    let analysis = Analysis::new(parsed.module());
    crate::pipeline::handler_diagnostics(file, &parsed, &analysis)
}

/// Checks a helper module of an app: only coordinator calls matter (K050), since it is not
/// compiled. Files that do not parse are left to Python: they are not kappac's to compile.
pub fn check_helper_source(file: &SourceFile, options: CheckOptions) -> Vec<Diagnostic> {
    let parsed = parse::parse(file, options.target);
    if parsed.has_syntax_errors() {
        return Vec::new();
    }
    let analysis = Analysis::new(parsed.module());
    let mut sites: Vec<_> = analysis.coordinator_calls().collect();
    sites.sort_by_key(|site| (site.range.start(), std::cmp::Reverse(site.range.end())));
    // `spawn(f, args).wait()` is two coordinator calls; one warning for the outer call is enough.
    let mut covered_until = ruff_text_size::TextSize::default();
    sites.retain(|site| {
        let keep = site.range.start() >= covered_until;
        covered_until = covered_until.max(site.range.end());
        keep
    });
    let mut diagnostics: Vec<Diagnostic> = sites
        .into_iter()
        .map(|site| {
            let callee = file
                .text
                .get(site.callee_range.to_std_range())
                .unwrap_or("?");
            Diagnostic::new(
                Code::CoordinatorCallOutsideHandler,
                format!("`{callee}` is a coordinator call, but only handler.py is compiled"),
                Label::new(
                    site.range,
                    "runs untransformed: this task could not be resumed here",
                ),
            )
            .with_help("move the function that makes this call into handler.py")
        })
        .collect();
    Suppressions::of(file, parsed.parsed.tokens()).apply(file, &mut diagnostics);
    diagnostics::sort(&mut diagnostics);
    diagnostics
}

/// Checks one file, reading and decoding it first.
pub fn check_file(
    path: &Path,
    as_handler: bool,
    options: CheckOptions,
) -> Result<FileReport, PathError> {
    let role = if as_handler {
        Role::Handler
    } else {
        Role::Helper
    };
    read_and_check(path, role, options).map(|(report, _)| report)
}

/// What is done with a file of an app.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Helper,
    Handler,
    /// The handler, also transformed when it has no error (`build`): one parse for both.
    CompiledHandler,
}

fn read_and_check(
    path: &Path,
    role: Role,
    options: CheckOptions,
) -> Result<(FileReport, Option<Transformed>), PathError> {
    let (file, decode_error) = SourceFile::read(path).map_err(|error| PathError {
        path: path.to_owned(),
        message: format!("cannot read `{}`: {error}", path.display()),
    })?;
    let (diagnostics, transformed) = match (&decode_error, role) {
        (Some(error), _) => (vec![parse::decode_diagnostic(&file, error)], None),
        (None, Role::Helper) => (check_helper_source(&file, options), None),
        (None, Role::Handler) => (check_handler_source(&file, options), None),
        (None, Role::CompiledHandler) => {
            let compilation = crate::pipeline::compile(&file, options);
            (compilation.diagnostics, compilation.transformed)
        }
    };
    Ok((FileReport { file, diagnostics }, transformed))
}

/// Directories under an app that never hold the app's own modules.
fn is_skipped_dir(name: &str) -> bool {
    name.starts_with('.')
        || matches!(
            name,
            "__pycache__" | "node_modules" | "venv" | "build" | "dist" | "site-packages"
        )
}

/// Checks one command-line path: an app directory or a `.py` file.
pub fn check_path(path: &Path, options: CheckOptions) -> (Vec<FileReport>, Vec<PathError>) {
    let checked = check_app(path, options, false);
    (checked.reports, checked.errors)
}

/// An app (or file) checked, and its handler transformed if asked for and possible.
pub struct AppCheck {
    /// One report per file read; for a directory, handler.py's comes first.
    pub reports: Vec<FileReport>,
    pub errors: Vec<PathError>,
    /// handler.py transformed (with `compile`, when it has no error).
    pub transformed: Option<Transformed>,
}

/// Checks an app directory or a `.py` file; with `compile`, the handler goes through the whole
/// pipeline in the same pass (`build` parses and analyzes it once).
pub fn check_app(path: &Path, options: CheckOptions, compile: bool) -> AppCheck {
    let handler_role = if compile {
        Role::CompiledHandler
    } else {
        Role::Handler
    };
    let mut app = AppCheck {
        reports: Vec::new(),
        errors: Vec::new(),
        transformed: None,
    };
    if path.is_dir() {
        let handler = path.join("handler.py");
        if !handler.is_file() {
            app.errors.push(PathError {
                path: path.to_owned(),
                message: format!("`{}` is not an app: it has no handler.py", path.display()),
            });
            return app;
        }
        app.add(read_and_check(&handler, handler_role, options));
        let mut helpers: Vec<PathBuf> = WalkDir::new(path)
            .follow_links(false)
            .into_iter()
            .filter_entry(|entry| {
                entry.depth() == 0
                    || !entry.file_type().is_dir()
                    || !is_skipped_dir(&entry.file_name().to_string_lossy())
            })
            .filter_map(Result::ok)
            .filter(|entry| {
                entry.file_type().is_file()
                    && entry.path().extension().is_some_and(|e| e == "py")
                    && entry.path() != handler
            })
            .map(|entry| entry.into_path())
            .collect();
        helpers.sort();
        for helper in helpers {
            app.add(read_and_check(&helper, Role::Helper, options));
        }
    } else if path.is_file() {
        app.add(read_and_check(path, handler_role, options));
    } else {
        app.errors.push(PathError {
            path: path.to_owned(),
            message: format!("`{}`: no such file or directory", path.display()),
        });
    }
    app
}

impl AppCheck {
    fn add(&mut self, result: Result<(FileReport, Option<Transformed>), PathError>) {
        match result {
            Ok((report, transformed)) => {
                self.reports.push(report);
                if transformed.is_some() {
                    self.transformed = transformed;
                }
            }
            Err(error) => self.errors.push(error),
        }
    }
}
