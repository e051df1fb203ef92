//! `kappac build`: an app directory to a bundle that needs nothing but CPython — the
//! transformed handler.py, the app's other files, the runtime package `rt/`, and
//! `kappa-manifest.json`. Written into a temporary directory and renamed into place, so a
//! failed build leaves nothing half-written.

mod files;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::check::{check_app, CheckOptions};
use crate::diagnostics::Severity;
use crate::render::FileReport;
use crate::transform::emit::ResumePoint;

/// The runtime package, embedded in the binary.
pub const RUNTIME_FILES: &[(&str, &str)] = &[
    // `python3 BUNDLE` (the directory or its zip) runs the bundle from anywhere.
    (
        "__main__.py",
        include_str!("../../runtime_py/bundle_main.py"),
    ),
    (
        "rt/__init__.py",
        include_str!("../../runtime_py/rt/__init__.py"),
    ),
    (
        "rt/lifetime.py",
        include_str!("../../runtime_py/rt/lifetime.py"),
    ),
    (
        "rt/manifest.py",
        include_str!("../../runtime_py/rt/manifest.py"),
    ),
    (
        "rt/protocol.py",
        include_str!("../../runtime_py/rt/protocol.py"),
    ),
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
        "kappa_coordinator/backend.py",
        include_str!("../../runtime_py/kappa_coordinator/backend.py"),
    ),
    (
        "kappa_coordinator/chaos.py",
        include_str!("../../runtime_py/kappa_coordinator/chaos.py"),
    ),
    (
        "kappa_coordinator/coordinator.py",
        include_str!("../../runtime_py/kappa_coordinator/coordinator.py"),
    ),
    (
        "kappa_coordinator/inprocess.py",
        include_str!("../../runtime_py/kappa_coordinator/inprocess.py"),
    ),
    (
        "kappa_coordinator/redis_store.py",
        include_str!("../../runtime_py/kappa_coordinator/redis_store.py"),
    ),
    (
        "kappa_coordinator/state.py",
        include_str!("../../runtime_py/kappa_coordinator/state.py"),
    ),
    (
        "kappa_coordinator/store.py",
        include_str!("../../runtime_py/kappa_coordinator/store.py"),
    ),
    (
        "kappa_coordinator/terminal.py",
        include_str!("../../runtime_py/kappa_coordinator/terminal.py"),
    ),
];

/// The version of docs/protocol.md the embedded runtime speaks (`VERSION` in `rt/protocol.py`,
/// which a test compares), written into every manifest.
pub const PROTOCOL_VERSION: u32 = 3;

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
    /// The files that have warnings (a bundle is built despite them), with their warnings.
    pub warnings: Vec<FileReport>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    /// What makes a directory a kappac bundle, which `build` may replace.
    kappac_bundle: u32,
    kappac_version: &'static str,
    protocol_version: u32,
    entry: &'static str,
    source: &'static str,
    source_sha256: String,
    target_version: String,
    resume_points: &'a [ResumePoint],
    /// Each function kappac generated: `{name, qualname}` of the user's function it runs part
    /// of.
    functions: &'a BTreeMap<String, crate::transform::emit::UserFunction>,
    /// `line_map[i]` is the line of the original handler.py that line `i + 1` came from.
    line_map: &'a [u32],
    /// Every other file of the bundle with its SHA-256: what a later build may delete.
    files: BTreeMap<&'a str, String>,
}

/// The manifest's `kappac_bundle`: the layout of bundles this kappac writes and replaces.
const BUNDLE_FORMAT: u32 = 1;

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
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
    if !app.is_dir() {
        return Err(BuildError::Io(if app.exists() {
            format!(
                "`{}` is not a directory: an app is a directory with a handler.py",
                app.display()
            )
        } else {
            format!("`{}`: no such directory", app.display())
        }));
    }
    if !handler_path.is_file() {
        return Err(BuildError::Io(format!(
            "`{}` is not an app: it has no handler.py",
            app.display()
        )));
    }
    // handler.py is parsed, analyzed and transformed once, in the same pass as the check.
    let checked = check_app(app, options, true);
    if let Some(error) = checked.errors.first() {
        return Err(BuildError::Io(error.message.clone()));
    }
    let has_errors = checked
        .reports
        .iter()
        .flat_map(|r| &r.diagnostics)
        .any(|d| d.severity() == Severity::Error);
    let (Some(transformed), Some(handler_report), false) =
        (checked.transformed, checked.reports.first(), has_errors)
    else {
        return Err(BuildError::Diagnostics(checked.reports));
    };
    let file = handler_report.file.clone();
    let warnings: Vec<FileReport> = checked
        .reports
        .into_iter()
        .filter(|report| !report.diagnostics.is_empty())
        .collect();

    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    entries.push(("handler.py".to_owned(), transformed.text.into_bytes()));
    // The user's source, so that tracebacks quote what the user wrote.
    entries.push((SOURCE_COPY.to_owned(), file.text.as_bytes().to_vec()));
    for (path, text) in RUNTIME_FILES {
        entries.push(((*path).to_owned(), text.as_bytes().to_vec()));
    }
    let output = files::resolved(out).ok_or_else(|| {
        BuildError::Io(format!(
            "cannot tell where `{}` is; name the output without `..` after a missing directory",
            out.display()
        ))
    })?;
    let app_root = app
        .canonicalize()
        .map_err(|e| BuildError::Io(format!("cannot read `{}`: {e}", app.display())))?;
    if output.starts_with(&app_root) {
        return Err(BuildError::Io(format!(
            "the output `{}` is inside the app `{}`; write the bundle elsewhere with -o",
            out.display(),
            app.display()
        )));
    }
    // The names kappac writes, and the directories they are in: no app file may take one.
    let mut reserved: Vec<String> = vec![MANIFEST.to_owned()];
    for (name, _) in &entries {
        reserved.push(match name.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => name.clone(),
        });
    }
    reserved.sort();
    reserved.dedup();
    for file in files::app_files(app)? {
        let taken = reserved.iter().any(|r| match r.strip_suffix('/') {
            Some(dir) => file.name == dir || file.name.starts_with(r.as_str()),
            None => file.name == *r,
        });
        if taken {
            return Err(BuildError::Io(format!(
                "`{}` has a name the bundle uses for kappac's own files ({}); rename it",
                file.source.display(),
                reserved
                    .iter()
                    .filter(|r| *r != "handler.py")
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let data = std::fs::read(&file.source)
            .map_err(|e| BuildError::Io(format!("cannot read `{}`: {e}", file.source.display())))?;
        entries.push((file.name, data));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let listed = entries
        .iter()
        .map(|(name, data)| (name.as_str(), sha256_hex(data)))
        .collect();
    let manifest = Manifest {
        kappac_bundle: BUNDLE_FORMAT,
        kappac_version: env!("CARGO_PKG_VERSION"),
        protocol_version: PROTOCOL_VERSION,
        entry: "handler.handler",
        source: "handler.py",
        source_sha256: sha256_hex(file.text.as_bytes()),
        target_version: options.target.to_string(),
        resume_points: &transformed.resume_points,
        functions: &transformed.functions,
        line_map: &transformed.line_map,
        files: listed,
    };
    let manifest = serde_json::to_vec(&manifest)
        .map_err(|e| BuildError::Io(format!("cannot write the manifest: {e}")))?;
    entries.push((MANIFEST.to_owned(), manifest));
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    write_atomically(out, &entries)?;
    let zip_path = if zip {
        Some(write_zip(out, &entries)?)
    } else {
        None
    };
    Ok(Bundle {
        dir: out.to_owned(),
        zip: zip_path,
        files: entries.len(),
        resume_points: transformed.resume_points,
        warnings,
    })
}

fn io_error(what: &str, path: &Path, error: impl std::fmt::Display) -> BuildError {
    BuildError::Io(format!("cannot {what} `{}`: {error}", path.display()))
}

/// The directory that holds `path` (`.` for a bare name), created if missing.
fn parent_dir(path: &Path) -> Result<PathBuf, BuildError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io_error("create", parent, e))?;
    Ok(parent.to_owned())
}

/// Writes the bundle into a new temporary directory beside `out`, then puts it in place of
/// `out`; a failure on the way removes the temporary directory and leaves `out` as it was.
fn write_atomically(out: &Path, entries: &[(String, Vec<u8>)]) -> Result<(), BuildError> {
    let parent = parent_dir(out)?;
    let temp = tempfile::Builder::new()
        .prefix(".kappac-bundle-")
        .tempdir_in(&parent)
        .map_err(|e| io_error("create a directory in", &parent, e))?;
    for (name, data) in entries {
        // Names are validated `/`-separated relative paths (files::bundle_name).
        let path = name
            .split('/')
            .fold(temp.path().to_owned(), |path, part| path.join(part));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
        }
        std::fs::write(&path, data).map_err(|e| io_error("write", &path, e))?;
    }
    if std::fs::symlink_metadata(out).is_ok() {
        verify_bundle(out)?;
        std::fs::remove_dir_all(out).map_err(|e| io_error("replace", out, e))?;
    }
    std::fs::rename(temp.path(), out).map_err(|e| io_error("move the bundle to", out, e))?;
    // The directory is `out` now: nothing left to clean up.
    let _ = temp.keep();
    Ok(())
}

/// An existing output may be replaced only if it is a kappac bundle and holds nothing but
/// what its manifest lists: a directory of the user's is never deleted.
fn verify_bundle(out: &Path) -> Result<(), BuildError> {
    let refuse = |why: String| {
        BuildError::Io(format!(
            "`{}` exists and is not a kappac bundle ({why}); kappac replaces only a bundle it wrote: choose another output with -o, or remove it yourself",
            out.display()
        ))
    };
    let metadata = std::fs::symlink_metadata(out).map_err(|e| io_error("read", out, e))?;
    if !metadata.is_dir() {
        return Err(refuse("it is not a directory".to_owned()));
    }
    let manifest: serde_json::Value = std::fs::read(out.join(MANIFEST))
        .ok()
        .and_then(|data| serde_json::from_slice(&data).ok())
        .ok_or_else(|| refuse(format!("it has no readable {MANIFEST}")))?;
    let listed = match (&manifest["kappac_bundle"], manifest["files"].as_object()) {
        (serde_json::Value::Number(_), Some(files)) => files,
        _ => return Err(refuse(format!("its {MANIFEST} was not written by kappac"))),
    };
    for entry in WalkDir::new(out).follow_links(false) {
        let entry = entry.map_err(|e| io_error("read", out, e))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let relative = entry.path().strip_prefix(out).unwrap_or(entry.path());
        let name = relative.to_string_lossy();
        if name != MANIFEST && !listed.contains_key(name.as_ref()) {
            return Err(refuse(format!(
                "it holds `{name}`, which its manifest does not list"
            )));
        }
        if !entry.file_type().is_file() {
            return Err(refuse(format!(
                "it holds `{name}`, which is not a regular file"
            )));
        }
    }
    Ok(())
}

/// `<out>.zip`: the bundle as a deterministic, deflated, ZIP64-capable archive (fixed times
/// and modes, sorted names), written to a temporary file and renamed. An existing file there
/// is replaced only if it is a kappac bundle's zip.
fn write_zip(out: &Path, entries: &[(String, Vec<u8>)]) -> Result<PathBuf, BuildError> {
    let mut name = out.as_os_str().to_owned();
    name.push(".zip");
    let path = PathBuf::from(name);
    if std::fs::symlink_metadata(&path).is_ok() && !is_bundle_zip(&path) {
        return Err(BuildError::Io(format!(
            "`{}` exists and is not a kappac bundle's zip; choose another output with -o",
            path.display()
        )));
    }
    let parent = parent_dir(&path)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".kappac-zip-")
        .tempfile_in(&parent)
        .map_err(|e| io_error("create a file in", &parent, e))?;
    {
        let mut writer = zip::ZipWriter::new(temp.as_file_mut());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::DEFAULT)
            .unix_permissions(0o644);
        for (name, data) in entries {
            let options = options.large_file(data.len() as u64 >= u64::from(u32::MAX));
            writer
                .start_file(name.as_str(), options)
                .and_then(|()| writer.write_all(data).map_err(Into::into))
                .map_err(|e| io_error("write", &path, e))?;
        }
        writer.finish().map_err(|e| io_error("write", &path, e))?;
    }
    temp.as_file()
        .sync_all()
        .map_err(|e| io_error("write", &path, e))?;
    temp.persist(&path)
        .map_err(|e| io_error("write", &path, e.error))?;
    Ok(path)
}

fn is_bundle_zip(path: &Path) -> bool {
    std::fs::File::open(path)
        .ok()
        .and_then(|file| zip::ZipArchive::new(file).ok())
        .is_some_and(|archive| archive.index_for_name(MANIFEST).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of `runtime_py/` is in the bundle, and nothing else.
    #[test]
    fn runtime_files_are_the_runtime_py_directory() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime_py");
        let mut on_disk: Vec<String> = walkdir::WalkDir::new(&root)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "py"))
            .filter_map(|e| {
                let relative = e
                    .path()
                    .strip_prefix(&root)
                    .ok()?
                    .to_string_lossy()
                    .into_owned();
                Some(if relative == "bundle_main.py" {
                    "__main__.py".to_owned()
                } else {
                    relative
                })
            })
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> =
            RUNTIME_FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn protocol_version_is_the_runtimes() {
        let protocol = RUNTIME_FILES
            .iter()
            .find(|(path, _)| *path == "rt/protocol.py")
            .map(|(_, text)| *text)
            .unwrap_or_default();
        assert!(
            protocol.contains(&format!("\nVERSION = {PROTOCOL_VERSION}\n")),
            "rt/protocol.py and build::PROTOCOL_VERSION disagree"
        );
    }
}
