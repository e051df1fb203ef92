//! `check`, `emit` and `build` are one compilation: on every fixture they agree on whether the
//! handler has errors (check exits 1 exactly when emit and build refuse), and emit's refusal
//! names the same diagnostics as check.

use std::path::{Path, PathBuf};

mod common;

use common::kappac;

/// Every handler among the fixtures: app directories and single diagnostics files.
fn handlers() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in [
        "tests/fixtures/transform",
        "tests/fixtures/apps",
        "tests/fixtures/diagnostics",
        "tests/fixtures/clean",
    ] {
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.join("handler.py").is_file() || path.extension().is_some_and(|e| e == "py") {
                found.push(path);
            }
        }
    }
    found.sort();
    assert!(
        found.len() > 60,
        "expected the fixtures, found {}",
        found.len()
    );
    found
}

/// The `K0xx` codes of the errors in a rendering (`error[K037]: ...`).
fn error_codes(text: &str) -> Vec<String> {
    let mut codes: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("error[")?.split(']').next())
        .map(str::to_owned)
        .collect();
    codes.sort();
    codes
}

fn as_app(path: &Path, scratch: &Path) -> PathBuf {
    if path.is_dir() {
        return path.to_owned();
    }
    let app = scratch.join(path.file_stem().expect("name"));
    std::fs::create_dir_all(&app).expect("scratch app");
    std::fs::copy(path, app.join("handler.py")).expect("copy");
    app
}

#[test]
fn check_emit_and_build_agree_on_every_fixture() {
    let scratch = std::env::temp_dir().join(format!("kappac-parity-{}", std::process::id()));
    let mut problems = Vec::new();
    for path in handlers() {
        let app = as_app(&path, &scratch);
        let check = kappac(&["check".as_ref(), app.as_os_str()]);
        let emit = kappac(&["emit".as_ref(), app.as_os_str()]);
        let out = scratch.join("bundle");
        let build = kappac(&[
            "build".as_ref(),
            app.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        let _ = std::fs::remove_dir_all(&out);
        let check_errors = error_codes(&String::from_utf8_lossy(&check.stdout));
        let emit_errors = error_codes(&String::from_utf8_lossy(&emit.stderr));
        let codes = (check.status.code(), emit.status.code(), build.status.code());
        let agree = match codes {
            (Some(0), Some(0), Some(0)) => true,
            (Some(1), Some(1), Some(1)) => check_errors == emit_errors,
            _ => false,
        };
        if !agree {
            problems.push(format!(
                "{}: check/emit/build exit {codes:?}; check errors {check_errors:?}, emit errors {emit_errors:?}",
                path.display()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
