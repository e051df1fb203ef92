//! The app's files that go into a bundle, validated: every name is the app's relative path,
//! component by component, and nothing outside the app or that is not a regular file is read.
//!
//! Refused, each with an error naming the file: names that cannot be represented safely in a
//! bundle directory and a zip (not UTF-8, a `\`, control characters), symbolic links leading
//! outside the app or to a directory, and FIFOs, sockets and devices (never opened).
//! `.kappaignore` is read with gitignore's exact semantics (the `ignore` crate).

use std::path::{Component, Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use walkdir::WalkDir;

use super::BuildError;

/// A file of the app to copy: its name in the bundle (`/`-separated) and where to read it.
pub struct AppFile {
    pub name: String,
    pub source: PathBuf,
}

/// The app's files, sorted by name; `handler.py` at the top, hidden entries, caches, compiled
/// files, a top-level `build/` and `.kappaignore` matches are left out.
pub fn app_files(app: &Path) -> Result<Vec<AppFile>, BuildError> {
    let root = app
        .canonicalize()
        .map_err(|e| BuildError::Io(format!("cannot read `{}`: {e}", app.display())))?;
    let ignore = kappaignore(app)?;
    let mut files = Vec::new();
    let mut walker = WalkDir::new(app)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry =
            entry.map_err(|e| BuildError::Io(format!("cannot list `{}`: {e}", app.display())))?;
        if entry.depth() == 0 {
            continue;
        }
        let relative = entry.path().strip_prefix(app).unwrap_or(entry.path());
        let name = bundle_name(relative, entry.path())?;
        let file_name = entry.file_name().to_string_lossy();
        let file_type = entry.file_type();
        let is_dir = file_type.is_dir();
        let skip = file_name.starts_with('.')
            || file_name == "__pycache__"
            || file_name.ends_with(".pyc")
            || (entry.depth() == 1 && (name == "handler.py" || name == "build"))
            || ignore
                .matched_path_or_any_parents(relative, is_dir)
                .is_ignore();
        if skip {
            if is_dir {
                walker.skip_current_dir();
            }
            continue;
        }
        if is_dir {
            continue;
        }
        if file_type.is_symlink() {
            check_link(entry.path(), &root)?;
        } else if !file_type.is_file() {
            return Err(BuildError::Io(format!(
                "`{}` is not a regular file (a FIFO, socket or device): kappac does not read it; \
                 remove it from the app or list it in .kappaignore",
                entry.path().display()
            )));
        }
        files.push(AppFile {
            name,
            source: entry.into_path(),
        });
    }
    Ok(files)
}

/// `.kappaignore`, with gitignore's rules, relative to the app.
fn kappaignore(app: &Path) -> Result<Gitignore, BuildError> {
    let mut builder = GitignoreBuilder::new(app);
    let path = app.join(".kappaignore");
    if path.is_file() {
        if let Some(error) = builder.add(&path) {
            return Err(BuildError::Io(format!("`{}`: {error}", path.display())));
        }
    }
    builder
        .build()
        .map_err(|e| BuildError::Io(format!("`{}`: {e}", path.display())))
}

/// The bundle name of a relative path: its components joined with `/`, each checked.
fn bundle_name(relative: &Path, full: &Path) -> Result<String, BuildError> {
    let refuse = |why: &str| {
        BuildError::Io(format!(
            "`{}` cannot be put in a bundle: {why}; rename it or list it in .kappaignore",
            full.display()
        ))
    };
    let mut parts = Vec::new();
    for component in relative.components() {
        let Component::Normal(part) = component else {
            return Err(refuse("its path leaves the app"));
        };
        let part = part
            .to_str()
            .ok_or_else(|| refuse("its name is not UTF-8"))?;
        if part.contains('\\') {
            return Err(refuse(
                "its name contains `\\`, which zip tools read as a directory separator",
            ));
        }
        if part.chars().any(char::is_control) {
            return Err(refuse("its name contains control characters"));
        }
        parts.push(part);
    }
    if parts.is_empty() {
        return Err(refuse("it has no name"));
    }
    Ok(parts.join("/"))
}

/// A symbolic link is copied (as the file it names) only when it names a regular file inside
/// the app.
fn check_link(link: &Path, root: &Path) -> Result<(), BuildError> {
    let target = std::fs::canonicalize(link).map_err(|e| {
        BuildError::Io(format!(
            "`{}` is a symbolic link that cannot be followed ({e}); remove it or list it in .kappaignore",
            link.display()
        ))
    })?;
    if !target.starts_with(root) {
        return Err(BuildError::Io(format!(
            "`{}` is a symbolic link to `{}`, outside the app: kappac copies only files inside \
             the app; copy the file in, or list the link in .kappaignore",
            link.display(),
            target.display()
        )));
    }
    let metadata = std::fs::metadata(&target)
        .map_err(|e| BuildError::Io(format!("cannot read `{}`: {e}", target.display())))?;
    if !metadata.is_file() {
        return Err(BuildError::Io(format!(
            "`{}` is a symbolic link to `{}`, which is not a regular file; kappac follows links \
             to files only",
            link.display(),
            target.display()
        )));
    }
    Ok(())
}

/// `path` made absolute with its existing part resolved (links, `..`), for comparing places.
/// None when a part after the existing prefix is `..` (it cannot be resolved without it).
pub fn resolved(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            let mut out = canonical;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Some(out);
        }
        let name = existing.file_name()?;
        if name == ".." {
            return None;
        }
        rest.push(name.to_owned());
        existing = existing.parent()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(patterns: &str, path: &str, is_dir: bool) -> bool {
        let mut builder = GitignoreBuilder::new("/app");
        for line in patterns.lines() {
            builder.add_line(None, line).expect("pattern");
        }
        let matcher = builder.build().expect("matcher");
        matcher
            .matched_path_or_any_parents(Path::new(path), is_dir)
            .is_ignore()
    }

    #[test]
    fn kappaignore_has_gitignore_semantics() {
        assert!(ignored("*.csv", "data/big.csv", false));
        assert!(!ignored("*.csv", "data/big.csv.txt", false));
        assert!(ignored("data/", "data", true));
        assert!(!ignored("data/", "data", false));
        assert!(ignored("/secrets.txt", "secrets.txt", false));
        assert!(!ignored("/secrets.txt", "sub/secrets.txt", false));
        assert!(ignored("sub/*.txt", "sub/a.txt", false));
        assert!(!ignored("sub/*.txt", "sub/deeper/a.txt", false));
        assert!(ignored("te?t.py", "test.py", false));
        // What the hand-written matcher got wrong:
        assert!(ignored("**/*.key", "root.key", false));
        assert!(ignored("**/*.key", "a/b/deep.key", false));
        assert!(!ignored("*.log\n!keep.log", "keep.log", false));
        assert!(ignored("*.log\n!keep.log", "drop.log", false));
        assert!(ignored("data[0-9].bin", "data7.bin", false));
        assert!(!ignored("data[0-9].bin", "datax.bin", false));
        assert!(ignored("cache/", "cache/inner/file.txt", false));
    }

    #[test]
    fn bundle_names_are_checked_component_by_component() {
        let full = Path::new("/app/x");
        assert_eq!(
            bundle_name(Path::new("sub/a.txt"), full).ok().as_deref(),
            Some("sub/a.txt")
        );
        assert!(bundle_name(Path::new("\\tmp\\x\\f.txt"), full).is_err());
        assert!(bundle_name(Path::new("sub/x\\..\\..\\e.txt"), full).is_err());
        assert!(bundle_name(Path::new("../e.txt"), full).is_err());
        assert!(bundle_name(Path::new("/etc/passwd"), full).is_err());
        assert!(bundle_name(Path::new("a\nb.txt"), full).is_err());
    }
}
