//! Helpers shared by the integration tests. (Each test binary uses some of them.)
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `kappac` built for the tests (colors off) and waits for it.
pub fn kappac<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kappac"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("kappac runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `check` on every item, on two threads (these machines have two cores): every failure.
pub fn on_two_threads<T: Sync>(
    items: &[T],
    check: impl Fn(&T) -> Vec<String> + Sync,
) -> Vec<String> {
    let check = &check;
    std::thread::scope(|scope| {
        let handles: Vec<_> = [0, 1]
            .into_iter()
            .map(|half| {
                scope.spawn(move || {
                    items
                        .iter()
                        .skip(half)
                        .step_by(2)
                        .flat_map(check)
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec!["a test thread panicked".to_owned()])
            })
            .collect()
    })
}

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
