//! `kappac run` and `kappac clean`: a run's own build directory under the user's cache, the
//! event, and the coordinator process that runs the bundle.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use codespan_reporting::term::termcolor::StandardStream;

use kappac::config::RuleArguments;
use kappac::render;

use super::{check_options, print_warnings, stderr_color, Settings};

#[derive(clap::Args)]
pub struct RunOptions {
    /// The app directory (it holds handler.py)
    app: PathBuf,
    /// The event, as JSON
    #[arg(long, conflicts_with = "event_file")]
    event: Option<String>,
    /// A file holding the event as JSON
    #[arg(long)]
    event_file: Option<PathBuf>,
    /// Worker processes, 1 or more [default: the number of CPUs]
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    workers: Option<u32>,
    /// Time limit of one invocation, in seconds
    #[arg(long)]
    timeout: Option<f64>,
    /// Where checkpoints and coordinator calls are kept: a SQLite file, or
    /// `redis://HOST:PORT/DB` (the coordinator's Python needs the redis package)
    /// [default: in memory]
    #[arg(long)]
    store: Option<PathBuf>,
    /// Workers join the run over TCP at this address (port 0: a free one) after proving they
    /// know the run's secret, as a cluster's workers do [default: pipes]
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Failure injection: `every` (at every call), or `kill=P,seed=S` (at calls, reproducibly per
    /// seed), or `kill=P,seed=S,timed` (also mid-invocation; not reproducible)
    #[arg(long)]
    chaos: Option<String>,
    /// How long a blocked call waits in place before the worker is released, in seconds
    #[arg(long, default_value = "1.0")]
    block_wait: f64,
    /// The Python interpreter (looked up on PATH)
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    #[command(flatten)]
    settings: Settings,
}

/// Where `kappac run` builds: a new directory for this run under the user's cache, removed
/// when the run ends. A run never sees another run's build (an edited handler.py is built
/// afresh, and a run in progress keeps its own).
fn run_directory(app: &std::path::Path) -> std::io::Result<(tempfile::TempDir, std::fs::File)> {
    let base = cache_directory().join("runs");
    std::fs::create_dir_all(&base)?;
    let name = app
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".to_owned());
    let directory = tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(base)?;
    // Held for the whole run (the system releases it when this process ends, however it
    // ends): `kappac clean` removes only run directories whose lock it can take.
    let lock = std::fs::File::create(directory.path().join(RUN_LOCK))?;
    lock.lock()?;
    Ok((directory, lock))
}

/// The lock file of a run directory.
const RUN_LOCK: &str = "run.lock";

/// kappac's cache: `$XDG_CACHE_HOME/kappac`, else `~/.cache/kappac`.
fn cache_directory() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("kappac")
}

/// `kappac clean`: what `kappac run` left in the cache (the build of a run whose `kappac` was
/// killed, directories of earlier versions), removed unless a run is using it.
pub fn clean(dry_run: bool) -> ExitCode {
    let cache = cache_directory();
    let mut entries: Vec<PathBuf> = Vec::new();
    let runs = cache.join("runs");
    for dir in [&runs, &cache] {
        if let Ok(read) = std::fs::read_dir(dir) {
            entries.extend(read.filter_map(Result::ok).map(|e| e.path()));
        }
    }
    entries.retain(|path| *path != runs);
    entries.sort();
    let (mut removed, mut in_use, mut bytes, mut failed) = (0usize, 0usize, 0u64, 0usize);
    for path in &entries {
        // A run holds its directory's lock for as long as it runs.
        let lock = std::fs::File::open(path.join(RUN_LOCK)).ok();
        if lock.as_ref().is_some_and(|file| file.try_lock().is_err()) {
            in_use += 1;
            continue;
        }
        let size = size_of(path);
        if dry_run {
            println!("would remove {} ({})", path.display(), human_size(size));
        } else {
            let result = if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
            if let Err(error) = result {
                eprintln!("error: cannot remove {}: {error}", path.display());
                failed += 1;
                continue;
            }
        }
        removed += 1;
        bytes += size;
    }
    println!(
        "{} {removed} entries ({}) from {}; {in_use} in use by a run, kept",
        if dry_run { "would remove" } else { "removed" },
        human_size(bytes),
        cache.display()
    );
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The bytes of the files under `path` (links not followed).
fn size_of(path: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .sum()
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// Starts the coordinator of a bundle (the first argument) in an isolated interpreter.
const COORDINATOR_BOOTSTRAP: &str = "import sys; sys.path.append(sys.argv[1]); \
     from kappa_coordinator.__main__ import main; sys.exit(main(sys.argv[1:]))";

/// The event's JSON text: `--event`, `--event-file`, else the app's `event.json` if there is
/// one, else `{}`. Checked for syntax only (integers of any size, any depth): the coordinator
/// parses it.
fn read_event(options: &RunOptions) -> Result<String, String> {
    let (text, source) = match (&options.event, &options.event_file) {
        (Some(text), _) => (text.clone(), "--event".to_owned()),
        (None, path) => {
            let default = options.app.join("event.json");
            let path = match path {
                Some(path) => path.clone(),
                None if std::fs::symlink_metadata(&default).is_err() => return Ok("{}".to_owned()),
                None => default,
            };
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("cannot read the event `{}`: {e}", path.display()))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| format!("the event `{}` is not UTF-8: {e}", path.display()))?;
            (text, format!("`{}`", path.display()))
        }
    };
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    deserializer.disable_recursion_limit();
    serde::Deserialize::deserialize(&mut deserializer)
        .and_then(|serde::de::IgnoredAny| deserializer.end())
        .map_err(|e| format!("the event ({source}) is not valid JSON: {e}"))?;
    Ok(text)
}

pub fn run(options: RunOptions) -> ExitCode {
    let event = match read_event(&options) {
        Ok(event) => event,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if !options.block_wait.is_finite() || options.block_wait < 0.0 {
        eprintln!("error: --block-wait must be a number of seconds, 0 or more");
        return ExitCode::from(2);
    }
    if let Some(timeout) = options.timeout {
        if timeout.is_nan() || timeout <= 0.0 {
            eprintln!("error: --timeout must be a positive number of seconds");
            return ExitCode::from(2);
        }
    }
    let config = match options
        .settings
        .resolve(&options.app, &RuleArguments::default())
    {
        Ok(config) => config,
        Err(code) => return code,
    };
    let (directory, _lock) = match run_directory(&options.app) {
        Ok(directory) => directory,
        Err(error) => {
            eprintln!("error: cannot create a directory for the run's build: {error}");
            return ExitCode::from(2);
        }
    };
    let bundle = directory.path().join("bundle");
    match kappac::build::build(&options.app, &bundle, check_options(&config), false) {
        Ok(mut built) => print_warnings(&mut built.warnings, &config),
        Err(kappac::build::BuildError::Io(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
        Err(kappac::build::BuildError::Diagnostics(reports)) => {
            let mut stderr = StandardStream::stderr(stderr_color());
            let _ = render::human(&reports, &mut stderr);
            let _ = writeln!(
                stderr,
                "error: `{}` has errors; nothing was run",
                options.app.display()
            );
            return ExitCode::from(1);
        }
    }
    // The event travels in a file (any size; not visible in `ps`).
    let event_file = directory.path().join("event.json");
    if let Err(error) = std::fs::write(&event_file, &event) {
        eprintln!("error: cannot write `{}`: {error}", event_file.display());
        return ExitCode::from(2);
    }
    // The coordinator runs in another directory: a relative path to the interpreter is named
    // from here (a bare name is looked up on PATH, as a shell would).
    let python = if options.python.components().count() > 1 && options.python.is_relative() {
        std::env::current_dir()
            .map(|d| d.join(&options.python))
            .unwrap_or_else(|_| options.python.clone())
    } else {
        options.python.clone()
    };
    let mut command = std::process::Command::new(&python);
    command
        // Isolated (-I): the coordinator never imports the app's modules; a `random.py` or
        // `selectors.py` of the app must not replace the standard library's in it. The bundle
        // comes last on its path, for `kappa_coordinator` only. Workers (started with the
        // bundle as their directory and PYTHONPATH) import the app.
        .arg("-I")
        .arg("-c")
        .arg(COORDINATOR_BOOTSTRAP)
        .arg(&bundle)
        .arg("--event-file")
        .arg(&event_file)
        .arg("--block-wait")
        .arg(options.block_wait.to_string())
        .current_dir(directory.path());
    if let Some(workers) = options.workers {
        command.arg("--workers").arg(workers.to_string());
    }
    if let Some(timeout) = options.timeout {
        command.arg("--timeout").arg(timeout.to_string());
    }
    if let Some(store) = &options.store {
        // A URL goes as it is; a file is named from here (the coordinator runs elsewhere).
        let store = if store.to_string_lossy().contains("://") {
            store.clone()
        } else {
            std::env::current_dir()
                .map(|d| d.join(store))
                .unwrap_or_else(|_| store.clone())
        };
        command.arg("--store").arg(store);
    }
    if let Some(chaos) = &options.chaos {
        command.arg("--chaos").arg(chaos);
    }
    if let Some(listen) = &options.listen {
        command.arg("--listen").arg(listen);
    }
    match command.status() {
        Ok(status) => match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(2) => ExitCode::from(2),
            Some(130) => ExitCode::from(130),
            Some(_) => ExitCode::from(1),
            None => {
                use std::os::unix::process::ExitStatusExt;
                eprintln!(
                    "error: the coordinator was killed (signal {}); the run did not finish, and its workers stopped with it",
                    status.signal().unwrap_or_default()
                );
                ExitCode::from(1)
            }
        },
        Err(error) => {
            eprintln!(
                "error: cannot start `{}` ({error}); kappac run needs CPython 3.9+ (pass --python)",
                options.python.display()
            );
            ExitCode::from(2)
        }
    }
}
