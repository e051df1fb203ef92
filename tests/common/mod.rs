//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The CPython interpreters to test with: python3, and pyenv's 3.9–3.13 (a missing one is
/// said on stderr).
pub fn pythons() -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("python3")];
    for minor in 9..=13 {
        let Ok(entries) = std::fs::read_dir("/root/.pyenv/versions") else {
            break;
        };
        let mut matching: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("3.{minor}.")))
            })
            .map(|p| p.join("bin/python3"))
            .filter(|p| p.is_file())
            .collect();
        matching.sort();
        match matching.pop() {
            Some(python) => found.push(python),
            None => eprintln!("note: no CPython 3.{minor} here; emitted code not compiled with it"),
        }
    }
    found
}
