//! Configuration: `[tool.kappac]` in `pyproject.toml`, merged with the command line.
//!
//! As in ruff, the configuration of a path is the closest `pyproject.toml` with a
//! `[tool.kappac]` table, looked for in the path's directory and then in each parent
//! directory; `--config FILE` names one instead and `--isolated` ignores them all. The command
//! line wins over the file: `--extend-select` and `--ignore` add to the file's lists, `--select`
//! starts over (the file's `select`, `extend-select` and `ignore` no longer apply; its
//! `per-file-ignores` still do), `--target-version` replaces `target-version`.
//!
//! ```toml
//! [tool.kappac]
//! target-version = "3.11"             # or "py311"; default 3.9
//! select = ["K039", "K042"]           # report only these warnings (default: every warning)
//! extend-select = ["K050"]            # and these
//! ignore = ["unfollowed-call"]        # never these (codes or names)
//! per-file-ignores = { "legacy/*.py" = ["K050"] }   # globs relative to this file's directory
//!                                                   # (`*` also matches `/`), or file names
//! ```
//!
//! Only warnings can be selected or ignored: an error is code kappac cannot compile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::diagnostics::Severity;
use crate::parse::TargetVersion;

/// The options of `[tool.kappac]`, as written (each value with its place in the file, for
/// errors).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Options {
    target_version: Option<Spanned<String>>,
    select: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    extend_select: Vec<Spanned<String>>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    per_file_ignores: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
struct PyProject {
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Tool {
    kappac: Option<Options>,
}

/// A configuration file that cannot be used; the message names the file, line and column.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Settings read from one `pyproject.toml`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file they came from (None: no file, the defaults).
    pub file: Option<PathBuf>,
    pub target: Option<TargetVersion>,
    select: Option<Vec<Code>>,
    extend_select: Vec<Code>,
    ignore: Vec<Code>,
    per_file_ignores: Vec<PerFileIgnore>,
}

#[derive(Debug, Clone)]
struct PerFileIgnore {
    /// Matches paths relative to the configuration file's directory, and file names.
    glob: globset::GlobMatcher,
    codes: Vec<Code>,
}

impl Config {
    /// The closest `pyproject.toml` with a `[tool.kappac]` table at or above `path` (a file or
    /// directory), or the defaults when there is none.
    pub fn discover(path: &Path) -> Result<Config, ConfigError> {
        let absolute = real_path(path);
        let start = if absolute.is_dir() {
            absolute.as_path()
        } else {
            absolute.parent().unwrap_or(&absolute)
        };
        for directory in start.ancestors() {
            let candidate = directory.join("pyproject.toml");
            if candidate.is_file() {
                if let Some(config) = Config::read(&candidate, true)? {
                    return Ok(config);
                }
            }
        }
        Ok(Config::default())
    }

    /// The configuration in `file` (`--config`): an error if it has no `[tool.kappac]` table.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        Config::read(file, false)?
            .ok_or_else(|| ConfigError(format!("`{}` has no [tool.kappac] table", file.display())))
    }

    /// The `[tool.kappac]` table of a pyproject.toml, if it has one. When `discovering`, a file
    /// that never mentions kappac is passed over unparsed: another project's pyproject.toml
    /// above the app, broken or not, is none of kappac's business.
    fn read(file: &Path, discovering: bool) -> Result<Option<Config>, ConfigError> {
        let text = std::fs::read_to_string(file)
            .map_err(|error| ConfigError(format!("cannot read `{}`: {error}", file.display())))?;
        if discovering && !text.contains("kappac") {
            return Ok(None);
        }
        let located = |span: Option<std::ops::Range<usize>>, message: &str| {
            ConfigError(match span {
                Some(span) => {
                    let (line, column) = line_column(&text, span.start);
                    format!("{}:{line}:{column}: {message}", file.display())
                }
                None => format!("{}: {message}", file.display()),
            })
        };
        let project: PyProject =
            toml::from_str(&text).map_err(|e| located(e.span(), e.message().trim_end()))?;
        let Some(options) = project.tool.and_then(|tool| tool.kappac) else {
            return Ok(None);
        };
        let codes = |names: &[Spanned<String>], key: &str| -> Result<Vec<Code>, ConfigError> {
            names
                .iter()
                .map(|name| {
                    warning_code(name.get_ref(), key)
                        .map_err(|message| located(Some(name.span()), &message))
                })
                .collect()
        };
        let target = options
            .target_version
            .as_ref()
            .map(|version| {
                TargetVersion::parse(version.get_ref()).map_err(|message| {
                    located(Some(version.span()), &format!("target-version: {message}"))
                })
            })
            .transpose()?;
        let mut per_file_ignores = Vec::new();
        for (pattern, names) in &options.per_file_ignores {
            let glob = globset::Glob::new(pattern.get_ref()).map_err(|error| {
                located(
                    Some(pattern.span()),
                    &format!(
                        "per-file-ignores: `{}` is not a glob: {}",
                        pattern.get_ref(),
                        error.kind()
                    ),
                )
            })?;
            per_file_ignores.push(PerFileIgnore {
                glob: glob.compile_matcher(),
                codes: codes(names, "per-file-ignores")?,
            });
        }
        Ok(Some(Config {
            file: Some(real_path(file)),
            target,
            select: options
                .select
                .as_deref()
                .map(|names| codes(names, "select"))
                .transpose()?,
            extend_select: codes(&options.extend_select, "extend-select")?,
            ignore: codes(&options.ignore, "ignore")?,
            per_file_ignores,
        }))
    }

    /// These settings with the command line's on top.
    pub fn with_arguments(mut self, arguments: &RuleArguments) -> Result<Config, String> {
        let cli_codes = |names: &[String], option: &str| -> Result<Vec<Code>, String> {
            names
                .iter()
                .map(|name| warning_code(name.trim(), option))
                .collect()
        };
        let extend_select = cli_codes(&arguments.extend_select, "--extend-select")?;
        let ignore = cli_codes(&arguments.ignore, "--ignore")?;
        if let Some(select) = &arguments.select {
            // As in ruff, a selection on the command line starts over.
            self.select = Some(cli_codes(select, "--select")?);
            self.extend_select = extend_select;
            self.ignore = ignore;
        } else {
            self.extend_select.extend(extend_select);
            self.ignore.extend(ignore);
        }
        Ok(self)
    }

    /// Whether `diagnostic`, found in `path`, is reported. Errors always are.
    pub fn reports(&self, path: &Path, diagnostic: &Diagnostic) -> bool {
        let code = diagnostic.code;
        if code.severity() == Severity::Error {
            return true;
        }
        let selected = match &self.select {
            None => true,
            Some(select) => select.contains(&code) || self.extend_select.contains(&code),
        };
        selected && !self.ignore.contains(&code) && !self.ignored_in(path, code)
    }

    fn ignored_in(&self, path: &Path, code: Code) -> bool {
        if self.per_file_ignores.is_empty() {
            return false;
        }
        let absolute = real_path(path);
        let relative = self
            .file
            .as_deref()
            .and_then(Path::parent)
            .and_then(|directory| absolute.strip_prefix(directory).ok())
            .unwrap_or(&absolute);
        let name = path.file_name().map(Path::new);
        self.per_file_ignores.iter().any(|ignore| {
            ignore.codes.contains(&code)
                && (ignore.glob.is_match(relative) || name.is_some_and(|n| ignore.glob.is_match(n)))
        })
    }
}

/// The rule options of the command line, to put on top of a file's (`Config::with_arguments`).
#[derive(Debug, Default)]
pub struct RuleArguments {
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
}

/// Where `path` really is: absolute, without `..` and links (`kappac check ../app` looks for
/// the configuration above the app, not above the working directory), or absolute as written
/// if it does not exist.
fn real_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// A warning's code from its code or name; errors cannot be selected or ignored.
fn warning_code(name: &str, option: &str) -> Result<Code, String> {
    let code = Code::parse(name).ok_or_else(|| {
        format!(
            "{option}: unknown diagnostic code `{name}`; `kappac explain --list` lists them all"
        )
    })?;
    if code.severity() == Severity::Error {
        return Err(format!(
            "{option}: {} is an error (code kappac cannot compile), which cannot be selected or \
             ignored; only warnings can",
            code.as_str()
        ));
    }
    Ok(code)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, column)
}
