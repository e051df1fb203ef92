//! `kappac build`: an app directory to a bundle that needs nothing but CPython — the
//! transformed handler.py, the app's other files, the runtime package `rt/`, and
//! `kappa-manifest.json`. Written into a temporary directory and renamed into place, so a
//! failed build leaves nothing half-written.

mod sha256;
mod zip;

use std::path::{Path, PathBuf};

use serde::Serialize;
use walkdir::WalkDir;

use crate::check::{check_path, CheckOptions};
use crate::diagnostics::Severity;
use crate::render::FileReport;
use crate::source::SourceFile;
use crate::transform::{compile_handler, emit::ResumePoint};

/// The runtime package, embedded in the binary.
pub const RUNTIME_FILES: &[(&str, &str)] = &[
    (
        "rt/__init__.py",
        include_str!("../../runtime_py/rt/__init__.py"),
    ),
    ("rt/local.py", include_str!("../../runtime_py/rt/local.py")),
    (
        "rt/soundness.py",
        include_str!("../../runtime_py/rt/soundness.py"),
    ),
    ("rt/wire.py", include_str!("../../runtime_py/rt/wire.py")),
    (
        "rt/worker.py",
        include_str!("../../runtime_py/rt/worker.py"),
    ),
    (
        "kappa_coordinator/__init__.py",
        include_str!("../../runtime_py/kappa_coordinator/__init__.py"),
    ),
    (
        "kappa_coordinator/__main__.py",
        include_str!("../../runtime_py/kappa_coordinator/__main__.py"),
    ),
    (
        "kappa_coordinator/local.py",
        include_str!("../../runtime_py/kappa_coordinator/local.py"),
    ),
    (
        "kappa_coordinator/protocol.py",
        include_str!("../../runtime_py/kappa_coordinator/protocol.py"),
    ),
    (
        "kappa_coordinator/state.py",
        include_str!("../../runtime_py/kappa_coordinator/state.py"),
    ),
];

pub const MANIFEST: &str = "kappa-manifest.json";

/// Where the bundle keeps a copy of the original handler.py.
pub const SOURCE_COPY: &str = "kappa-source/handler.py";

#[derive(Debug)]
pub enum BuildError {
    /// The app has errors; nothing was written.
    Diagnostics(Vec<FileReport>),
    /// Bad paths or an I/O failure (exit status 2).
    Io(String),
}

pub struct Bundle {
    pub dir: PathBuf,
    pub zip: Option<PathBuf>,
    pub files: usize,
    /// Each pause point: where it is and which variables its checkpoints carry.
    pub resume_points: Vec<ResumePoint>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    kappac_version: &'static str,
    protocol_version: u32,
    entry: &'static str,
    source: &'static str,
    source_sha256: String,
    target_version: String,
    resume_points: &'a [ResumePoint],
    /// `line_map[i]` is the line of the original handler.py that line `i + 1` came from.
    line_map: &'a [u32],
}

/// Where a bundle goes by default: `./build/<app name>`.
pub fn default_output(app: &Path) -> PathBuf {
    let name = app
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_owned()))
        .unwrap_or_else(|| "app".into());
    PathBuf::from("build").join(name)
}

pub fn build(
    app: &Path,
    out: &Path,
    options: CheckOptions,
    zip: bool,
) -> Result<Bundle, BuildError> {
    let handler_path = app.join("handler.py");
    if !handler_path.is_file() {
        return Err(BuildError::Io(format!(
            "`{}` is not an app: it has no handler.py",
            app.display()
        )));
    }
    let (reports, path_errors) = check_path(app, options);
    if let Some(error) = path_errors.first() {
        return Err(BuildError::Io(error.message.clone()));
    }
    if reports
        .iter()
        .flat_map(|r| &r.diagnostics)
        .any(|d| d.severity() == Severity::Error)
    {
        return Err(BuildError::Diagnostics(reports));
    }
    let (file, _) = SourceFile::read(&handler_path)
        .map_err(|e| BuildError::Io(format!("cannot read `{}`: {e}", handler_path.display())))?;
    let transformed = match compile_handler(&file, options) {
        Ok(transformed) => transformed,
        Err(diagnostics) => {
            return Err(BuildError::Diagnostics(vec![FileReport {
                file,
                diagnostics,
            }]))
        }
    };

    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    entries.push(("handler.py".to_owned(), transformed.text.into_bytes()));
    // The user's source, so that tracebacks quote what the user wrote.
    entries.push((SOURCE_COPY.to_owned(), file.text.as_bytes().to_vec()));
    for (path, text) in RUNTIME_FILES {
        entries.push(((*path).to_owned(), text.as_bytes().to_vec()));
    }
    for (relative, full) in app_files(app, out)? {
        if ["rt", "kappa_coordinator"]
            .iter()
            .any(|p| relative == *p || relative.starts_with(&format!("{p}/")))
        {
            return Err(BuildError::Io(format!(
                "`{}` would shadow the runtime packages `rt` / `kappa_coordinator`; rename it",
                full.display()
            )));
        }
        let data = std::fs::read(&full)
            .map_err(|e| BuildError::Io(format!("cannot read `{}`: {e}", full.display())))?;
        entries.push((relative, data));
    }
    let manifest = Manifest {
        kappac_version: env!("CARGO_PKG_VERSION"),
        protocol_version: 2,
        entry: "handler.handler",
        source: "handler.py",
        source_sha256: sha256::hex_digest(file.text.as_bytes()),
        target_version: options.target.to_string(),
        resume_points: &transformed.resume_points,
        line_map: &transformed.line_map,
    };
    let manifest = serde_json::to_vec(&manifest)
        .map_err(|e| BuildError::Io(format!("cannot write the manifest: {e}")))?;
    entries.push((MANIFEST.to_owned(), manifest));
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    write_atomically(out, &entries)?;
    let zip_path = if zip {
        let path = out.with_extension("zip");
        let temp = path.with_extension("zip.tmp");
        let mut data = Vec::new();
        zip::write_zip(&mut data, &entries).map_err(|e| BuildError::Io(e.to_string()))?;
        std::fs::write(&temp, &data)
            .and_then(|()| std::fs::rename(&temp, &path))
            .map_err(|e| BuildError::Io(format!("cannot write `{}`: {e}", path.display())))?;
        Some(path)
    } else {
        None
    };
    Ok(Bundle {
        dir: out.to_owned(),
        zip: zip_path,
        files: entries.len(),
        resume_points: transformed.resume_points,
    })
}

fn write_atomically(out: &Path, entries: &[(String, Vec<u8>)]) -> Result<(), BuildError> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        BuildError::Io(format!("cannot {what} `{}`: {e}", path.display()))
    };
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = parent.join(format!(".{name}.kappac-tmp-{}", std::process::id()));
    if temp.exists() {
        std::fs::remove_dir_all(&temp).map_err(|e| io("remove", &temp, e))?;
    }
    let result = (|| {
        for (relative, data) in entries {
            let path = temp.join(relative);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
            }
            std::fs::write(&path, data).map_err(|e| io("write", &path, e))?;
        }
        if out.exists() {
            // Only ever replace an earlier bundle, never a directory of the user's.
            if !out.join(MANIFEST).is_file() {
                return Err(BuildError::Io(format!(
                    "`{}` exists and is not a kappac bundle; choose another output with -o",
                    out.display()
                )));
            }
            std::fs::remove_dir_all(out).map_err(|e| io("replace", out, e))?;
        }
        std::fs::rename(&temp, out).map_err(|e| io("move the bundle to", out, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

/// The app's files to copy (relative path with `/`, full path), sorted; `handler.py`,
/// caches, hidden entries, the output directory and `.kappaignore` matches are left out.
fn app_files(app: &Path, out: &Path) -> Result<Vec<(String, PathBuf)>, BuildError> {
    let ignore = match std::fs::read_to_string(app.join(".kappaignore")) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    };
    let out_canonical = out.canonicalize().ok();
    let mut files = Vec::new();
    let walker = WalkDir::new(app).follow_links(true).sort_by_file_name();
    let mut iter = walker.into_iter();
    while let Some(entry) = iter.next() {
        let entry =
            entry.map_err(|e| BuildError::Io(format!("cannot list `{}`: {e}", app.display())))?;
        if entry.depth() == 0 {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(app)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .replace('\\', "/");
        let name = entry.file_name().to_string_lossy();
        let is_dir = entry.file_type().is_dir();
        let skip = name.starts_with('.')
            || name == "__pycache__"
            || name.ends_with(".pyc")
            || (entry.depth() == 1 && (relative == "handler.py" || relative == "build"))
            || out_canonical
                .as_ref()
                .is_some_and(|o| entry.path().canonicalize().ok().as_ref() == Some(o))
            || ignore
                .iter()
                .any(|pattern| ignored(pattern, &relative, is_dir));
        if skip {
            if is_dir {
                iter.skip_current_dir();
            }
            continue;
        }
        if !is_dir {
            files.push((relative, entry.into_path()));
        }
    }
    Ok(files)
}

/// `.kappaignore` matching, as in `.gitignore` for the common cases: `*` and `?` wildcards, a
/// pattern without `/` matches a name at any depth, a trailing `/` matches directories only.
fn ignored(pattern: &str, relative: &str, is_dir: bool) -> bool {
    let (pattern, dirs_only) = match pattern.strip_suffix('/') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    if dirs_only && !is_dir {
        return false;
    }
    if let Some(anchored) = pattern.strip_prefix('/') {
        return glob(anchored, relative);
    }
    if pattern.contains('/') {
        return glob(pattern, relative);
    }
    relative
        .rsplit('/')
        .next()
        .is_some_and(|name| glob(pattern, name))
}

fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) && t[ti] != '/'
            || (pi < p.len() && p[pi] == t[ti])
        {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            if t[mark] == '/' {
                return false;
            }
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kappaignore_patterns() {
        assert!(ignored("*.csv", "data/big.csv", false));
        assert!(!ignored("*.csv", "data/big.csv.txt", false));
        assert!(ignored("data/", "data", true));
        assert!(!ignored("data/", "data", false));
        assert!(ignored("/secrets.txt", "secrets.txt", false));
        assert!(!ignored("/secrets.txt", "sub/secrets.txt", false));
        assert!(ignored("sub/*.txt", "sub/a.txt", false));
        assert!(!ignored("sub/*.txt", "sub/deeper/a.txt", false));
        assert!(ignored("te?t.py", "test.py", false));
    }
}
