//! The `kappac` command line: argument parsing and exit codes; the work lives in the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};

use kappac::check::{check_path, CheckOptions};
use kappac::codes::Code;
use kappac::config::{Config, RuleArguments};
use kappac::diagnostics::Severity;
use kappac::parse::TargetVersion;
use kappac::pipeline::compile_handler;
use kappac::render::{self, FileReport, Format};
use kappac::source::SourceFile;

mod run;

use run::{clean, run, RunOptions};

const EXAMPLES: &str = "\
Examples:
  kappac check examples/fib               check an app (its handler.py and helper modules)
  kappac check app/handler.py --format json
  kappac check apps/* --format github     annotate a GitHub Actions run
  kappac emit examples/fib/handler.py     print the transformed handler
  kappac build examples/fib               bundle it into ./build/fib
  kappac run examples/fib --event '{\"n\": 15}'   run it on the local coordinator
  kappac explain K041                     what a diagnostic means and how to fix it
  kappac explain --list                   every diagnostic code";

#[derive(Parser)]
#[command(
    name = "kappac",
    version,
    about = "Compile ordinary Python into tasks that checkpoint and resume on time-bounded workers",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and analyze apps, reporting everything kappac cannot compile
    #[command(after_help = "\
Exit status: 0 clean, 1 errors found (or warnings, with --deny-warnings; a path that cannot be read is error K004), 2 usage error.

Examples:
  kappac check examples/fib
  kappac check handler.py --target-version 3.11 --format json")]
    Check {
        /// App directories (their handler.py is checked) or .py files
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        #[command(flatten)]
        settings: Settings,
        /// Exit with status 1 when there are warnings, too
        #[arg(long)]
        deny_warnings: bool,
        /// Report only these warnings (codes or names, comma-separated), instead of what
        /// pyproject.toml selects and ignores; errors are always reported
        #[arg(long, value_delimiter = ',', value_name = "CODES")]
        select: Option<Vec<String>>,
        /// Report these warnings too, beside those selected
        #[arg(long, value_delimiter = ',', value_name = "CODES")]
        extend_select: Vec<String>,
        /// Do not report these warnings (an error cannot be ignored: kappac cannot compile
        /// the code it reports)
        #[arg(long, value_delimiter = ',', value_name = "CODES")]
        ignore: Vec<String>,
    },
    /// Print the transformed handler.py (continuation-passing Python) to stdout
    #[command(after_help = "\
Exit status: 0 printed, 1 the file has errors (printed on stderr), 2 usage or I/O error.

Example:
  kappac emit examples/fib/handler.py > transformed.py")]
    Emit {
        /// A handler.py (or an app directory)
        path: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
    /// Compile an app into a bundle that runs on any CPython 3.9+
    #[command(after_help = "\
The bundle holds the transformed handler.py, the app's other files (minus .kappaignore
matches, with .gitignore's rules), the runtime packages rt/ and kappa_coordinator/, the
original source as kappa-source/handler.py and kappa-manifest.json (resume points, line map,
every file with its SHA-256). It is written to a temporary directory and renamed into place,
so a failed build leaves nothing behind; an existing output is replaced only if it is a bundle
kappac wrote. Links are followed only to files inside the app; FIFOs and devices are refused.

Exit status: 0 built, 1 the app has errors (nothing written), 2 usage or I/O error.

Example:
  kappac build examples/fib               writes ./build/fib
  kappac build examples/fib -o /tmp/fib --zip")]
    Build {
        /// The app directory (it holds handler.py)
        app: PathBuf,
        /// Output directory [default: ./build/<app name>]
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Also write <out>.zip, ready to deploy
        #[arg(long)]
        zip: bool,
        #[command(flatten)]
        settings: Settings,
        /// List every pause point with the variables its checkpoints carry
        #[arg(long)]
        explain_checkpoints: bool,
    },
    /// Build an app and run it on the local coordinator; print the result as JSON
    #[command(after_help = "\
The result is printed on stdout as one line of JSON (the last line); the tasks' output and the
run's progress go to stderr. The bundle is built into a cache directory
($XDG_CACHE_HOME/kappac, else ~/.cache/kappac). Without --event or --event-file, APP/event.json
is used if there is one, else {}.

Exit status: 0 the run succeeded, 1 the app has errors or the run failed, 2 usage error.

Examples:
  kappac run examples/fib --event '{\"n\": 15}'
  kappac run examples/fib --chaos every            kill the worker at every coordinator call
  kappac run examples/fib --chaos kill=0.2,seed=7  kill workers at random, reproducibly
  kappac run app --timeout 0.5                     0.5 s per invocation, resuming from checkpoints")]
    Run(RunOptions),
    /// Remove what runs left in kappac's cache (a run killed with `kappac`), keeping what
    /// runs in progress use
    #[command(after_help = "\
The cache is $XDG_CACHE_HOME/kappac, else ~/.cache/kappac. `kappac run` builds each run there
and removes it when the run ends; only a `kappac` that was killed leaves its directory behind.")]
    Clean {
        /// List what would be removed, and remove nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Explain a diagnostic code: what it finds, why, and how to fix it
    Explain {
        /// The code (K041) or rule name (captured-variable-reassigned)
        #[arg(required_unless_present = "list")]
        code: Option<String>,
        /// List every code with its summary
        #[arg(long, conflicts_with = "code")]
        list: bool,
        /// Output format of `--list`
        #[arg(long, value_enum, default_value_t = ListFormat::Text, requires = "list")]
        format: ListFormat,
    },
}

/// The stack the compiler runs on. The parser and the analyses recurse with the input's
/// nesting, which `parse` bounds (`parse::layout_error`) but only after parsing: deep input
/// must not overflow before it is reported. Only the pages used are ever committed.
const STACK_SIZE: usize = 1 << 30;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let worker = std::thread::Builder::new()
        .name("kappac".to_owned())
        .stack_size(STACK_SIZE)
        .spawn(move || command(cli));
    match worker.map(std::thread::JoinHandle::join) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => ExitCode::from(101), // a panic, already printed
        Err(error) => {
            eprintln!("error: cannot start the compiler thread: {error}");
            ExitCode::from(2)
        }
    }
}

fn command(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check {
            paths,
            format,
            settings,
            deny_warnings,
            select,
            extend_select,
            ignore,
        } => {
            let rules = RuleArguments {
                select,
                extend_select,
                ignore,
            };
            check(&paths, format, &settings, &rules, deny_warnings)
        }
        Command::Explain { code, list, format } => explain(code.as_deref(), list, format),
        Command::Emit { path, settings } => emit(&path, &settings),
        Command::Build {
            app,
            out,
            zip,
            settings,
            explain_checkpoints,
        } => build(&app, out, zip, &settings, explain_checkpoints),
        Command::Run(options) => run(options),
        Command::Clean { dry_run } => clean(dry_run),
    }
}

/// Where the settings of a path come from (see `kappac::config`), and the target version.
#[derive(clap::Args)]
struct Settings {
    /// Oldest Python version the compiled app must run on, 3.9 to 3.14 [default:
    /// `target-version` of pyproject.toml, else 3.9]
    #[arg(long, value_parser = TargetVersion::parse)]
    target_version: Option<TargetVersion>,
    /// Read [tool.kappac] from this file, not from the closest pyproject.toml that has one
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read no pyproject.toml
    #[arg(long, conflicts_with = "config")]
    isolated: bool,
}

impl Settings {
    /// The configuration of `path` with the command line's options on top; an error is printed
    /// (exit status 2).
    fn resolve(&self, path: &std::path::Path, rules: &RuleArguments) -> Result<Config, ExitCode> {
        let config = if self.isolated {
            Ok(Config::default())
        } else if let Some(file) = &self.config {
            Config::load(file)
        } else {
            Config::discover(path)
        };
        let mut config = config
            .map_err(|error| error.0)
            .and_then(|config| config.with_arguments(rules))
            .map_err(|message| {
                eprintln!("error: {message}");
                ExitCode::from(2)
            })?;
        if let Some(target) = self.target_version {
            config.target = Some(target);
        }
        Ok(config)
    }
}

fn check_options(config: &Config) -> CheckOptions {
    CheckOptions {
        target: config.target.unwrap_or_default(),
    }
}

/// Prints on stderr the warnings of a build that `config` reports.
fn print_warnings(warnings: &mut Vec<FileReport>, config: &Config) {
    select(warnings, config);
    warnings.retain(|report| !report.diagnostics.is_empty());
    if !warnings.is_empty() {
        let mut stderr = StandardStream::stderr(stderr_color());
        let _ = render::human(warnings, &mut stderr);
    }
}

/// Keeps the diagnostics `config` reports.
fn select(reports: &mut [FileReport], config: &Config) {
    for report in reports.iter_mut() {
        let path = report.file.path.clone();
        report.diagnostics.retain(|d| config.reports(&path, d));
    }
}

fn check(
    paths: &[PathBuf],
    format: Format,
    settings: &Settings,
    rules: &RuleArguments,
    deny_warnings: bool,
) -> ExitCode {
    let mut reports: Vec<FileReport> = Vec::new();
    let mut path_errors: Vec<kappac::check::PathError> = Vec::new();
    for path in paths {
        let config = match settings.resolve(path, rules) {
            Ok(config) => config,
            Err(code) => return code,
        };
        let (mut found, errors) = check_path(path, check_options(&config));
        select(&mut found, &config);
        reports.extend(found);
        path_errors.extend(errors);
    }
    // A path that cannot be checked is a diagnostic like any other (ruff's E902): reported in
    // every format, counted in the summary, and an error for the exit status.
    let unreadable = path_errors.len();
    for error in path_errors.drain(..) {
        let file = kappac::source::SourceFile::new(error.path.clone(), String::new());
        let diagnostic = kappac::diagnostics::Diagnostic::new(
            Code::UnreadablePath,
            error.message.clone(),
            kappac::diagnostics::Label::new(ruff_text_size::TextRange::default(), "this path"),
        );
        reports.push(FileReport {
            file,
            diagnostics: vec![diagnostic],
        });
    }
    let errors = count(&reports, Severity::Error);
    let warnings = count(&reports, Severity::Warning);
    let checked = reports.len() - unreadable;
    let written = match format {
        Format::Human => {
            let color = if std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            {
                ColorChoice::Auto
            } else {
                ColorChoice::Never
            };
            let mut stdout = StandardStream::stdout(color);
            render::human(&reports, &mut stdout)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    writeln!(stdout, "{}", summary(checked, errors, warnings))
                        .map_err(|e| e.to_string())
                })
        }
        Format::Concise => write!(std::io::stdout(), "{}", render::concise(&reports))
            .and_then(|()| writeln!(std::io::stdout(), "{}", summary(checked, errors, warnings)))
            .map_err(|e| e.to_string()),
        Format::Json => {
            writeln!(std::io::stdout(), "{}", render::json(&reports)).map_err(|e| e.to_string())
        }
        Format::Github => {
            write!(std::io::stdout(), "{}", render::github(&reports)).map_err(|e| e.to_string())
        }
    };
    if let Err(error) = written {
        eprintln!("error: cannot write the report: {error}");
        return ExitCode::from(2);
    }
    if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// One line per pause point: where it is, and what a checkpoint taken there saves.
fn print_checkpoint_contents(points: &[kappac::transform::emit::ResumePoint]) {
    let mut points: Vec<_> = points.iter().collect();
    points.sort_by_key(|p| (p.line, p.id));
    for point in points {
        let user: Vec<&str> = point
            .live
            .iter()
            .filter(|name| !point.compiler_variables.contains_key(*name))
            .map(String::as_str)
            .collect();
        let internal = point.live.len() - user.len();
        let saved = if user.is_empty() {
            "no variables".to_owned()
        } else {
            user.join(", ")
        };
        let extra = match internal {
            0 => String::new(),
            1 => " (and 1 value kappac keeps: a loop iterator or a partial result)".to_owned(),
            n => format!(" (and {n} values kappac keeps: loop iterators or partial results)"),
        };
        println!(
            "handler.py:{}: in `{}`, a checkpoint saves {saved}{extra}",
            point.line, point.function
        );
    }
}

fn build(
    app: &std::path::Path,
    out: Option<PathBuf>,
    zip: bool,
    settings: &Settings,
    explain_checkpoints: bool,
) -> ExitCode {
    let config = match settings.resolve(app, &RuleArguments::default()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let out = out.unwrap_or_else(|| kappac::build::default_output(app));
    match kappac::build::build(app, &out, check_options(&config), zip) {
        Ok(mut bundle) => {
            print_warnings(&mut bundle.warnings, &config);
            if explain_checkpoints {
                print_checkpoint_contents(&bundle.resume_points);
            }
            eprintln!(
                "built `{}`: {} files, {} resume points{}",
                bundle.dir.display(),
                bundle.files,
                bundle.resume_points.len(),
                bundle
                    .zip
                    .map(|z| format!(", and `{}`", z.display()))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(kappac::build::BuildError::Io(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(kappac::build::BuildError::Diagnostics(reports)) => {
            let mut stderr = StandardStream::stderr(stderr_color());
            let _ = render::human(&reports, &mut stderr);
            let _ = writeln!(
                stderr,
                "error: `{}` has errors; nothing was built",
                app.display()
            );
            ExitCode::from(1)
        }
    }
}

fn stderr_color() -> ColorChoice {
    if std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    }
}

fn emit(path: &std::path::Path, settings: &Settings) -> ExitCode {
    let config = match settings.resolve(path, &RuleArguments::default()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let handler = if path.is_dir() {
        path.join("handler.py")
    } else {
        path.to_owned()
    };
    let (file, decode_error) = match SourceFile::read(&handler) {
        Ok(read) => read,
        Err(error) => {
            eprintln!("error: cannot read `{}`: {error}", handler.display());
            return ExitCode::from(2);
        }
    };
    let result = match &decode_error {
        Some(error) => Err(vec![kappac::parse::decode_diagnostic(&file, error)]),
        None => compile_handler(&file, check_options(&config)),
    };
    match result {
        Ok(transformed) => {
            print!("{}", transformed.text);
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            let report = FileReport { file, diagnostics };
            let mut stderr = StandardStream::stderr(stderr_color());
            let _ = render::human(std::slice::from_ref(&report), &mut stderr);
            let _ = writeln!(stderr, "error: `{}` was not transformed", handler.display());
            ExitCode::from(1)
        }
    }
}

fn count(reports: &[FileReport], severity: Severity) -> usize {
    reports
        .iter()
        .flat_map(|r| &r.diagnostics)
        .filter(|d| d.severity() == severity)
        .count()
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn summary(files: usize, errors: usize, warnings: usize) -> String {
    if errors == 0 && warnings == 0 {
        format!("All checks passed ({} checked).", plural(files, "file"))
    } else {
        format!(
            "Found {} and {} in {} checked.",
            plural(errors, "error"),
            plural(warnings, "warning"),
            plural(files, "file")
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListFormat {
    /// one line per code
    Text,
    /// a JSON array: code, name, severity, retired_in, summary, doc
    Json,
}

fn explain(code: Option<&str>, list: bool, format: ListFormat) -> ExitCode {
    if list && format == ListFormat::Json {
        let codes: Vec<serde_json::Value> = Code::ALL
            .iter()
            .map(|code| {
                serde_json::json!({
                    "code": code.as_str(),
                    "name": code.name(),
                    "severity": code.severity().as_str(),
                    "retired_in": code.retired_in(),
                    "summary": code.summary(),
                    "doc": format!("docs/diagnostics/{}.md", code.as_str()),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&codes).unwrap_or_else(|_| "[]".to_owned())
        );
        return ExitCode::SUCCESS;
    }
    if list {
        for code in Code::ALL {
            let status = match code.retired_in() {
                Some(_) => "retired",
                None => code.severity().as_str(),
            };
            println!(
                "{}  {:<34} {:<7}  {}",
                code.as_str(),
                code.name(),
                status,
                code.summary()
            );
        }
        return ExitCode::SUCCESS;
    }
    let Some(text) = code else {
        eprintln!("error: give a code (e.g. `kappac explain K041`) or `--list`");
        return ExitCode::from(2);
    };
    match Code::parse(text) {
        Some(code) => {
            print!("{}", code.explanation());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!(
                "error: unknown diagnostic code `{text}`; `kappac explain --list` lists them all"
            );
            ExitCode::from(2)
        }
    }
}
