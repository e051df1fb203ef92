//! `kappac check` accepts exactly what CPython accepts when a worker imports the file (decode as
//! the import system does, then `compile()`): every file of
//! `tests/fixtures/syntax/` (each a rule CPython enforces while tokenizing, parsing or
//! compiling, or a case just inside one) is compiled by every CPython 3.9+ found here, and
//! `check --target-version` of that version must report a syntax or encoding error (K001,
//! K002, K003) exactly when CPython raises `SyntaxError` — where Python's two ways of reading a
//! file agree: `import` compiles the raw bytes and lets invalid UTF-8 in a comment (or in the
//! line of a coding declaration) through, `python3 file.py` refuses it; there kappac refuses.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

const DIR: &str = "tests/fixtures/syntax";

/// CPython's verdict on each file: `(version, {file: accepted})`, `None` where Python's two
/// ways of reading a file disagree (then either verdict is Python's).
fn cpython_verdicts(
    python: &std::path::Path,
    files: &[String],
) -> Option<(String, BTreeMap<String, Option<bool>>)> {
    let script = r#"
import importlib.util, json, sys
verdicts = {}
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    # `import` compiles the raw bytes (lax: invalid UTF-8 in a comment passes);
    # `python3 file.py` and tracebacks decode first (strict: importlib.util.decode_source).
    # Up to 3.11 how deeply an expression may nest depends on the Python stack below the
    # compilation (three levels per frame): compiled 100 frames deeper, a file near the limit
    # can fail; then either verdict is Python's too.
    def deeper(frames, way):
        return way() if frames == 0 else deeper(frames - 1, way)
    ways = []
    for way in (lambda: compile(data, path, "exec"),
                lambda: compile(importlib.util.decode_source(data), path, "exec"),
                lambda: deeper(100, lambda: compile(data, path, "exec"))):
        try:
            way()
            ways.append(True)
        # (3.9 and 3.10 raise ValueError for a null byte; a parser stack overflow is a
        # MemoryError.)
        except (SyntaxError, UnicodeDecodeError, LookupError, ValueError, MemoryError, RecursionError):
            ways.append(False)
    verdicts[path] = ways[0] if all(w == ways[0] for w in ways) else None
print(json.dumps({"version": "%d.%d" % sys.version_info[:2], "verdicts": verdicts}))
"#;
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    let version = value["version"].as_str()?.to_owned();
    let verdicts = value["verdicts"]
        .as_object()?
        .iter()
        .map(|(path, ok)| (path.clone(), ok.as_bool()))
        .collect();
    Some((version, verdicts))
}

/// kappac's verdict on each file for a target version: no K001/K002/K003.
fn kappac_verdicts(version: &str, files: &[String]) -> BTreeMap<String, bool> {
    let output = Command::new(env!("CARGO_BIN_EXE_kappac"))
        .args(["check", "--format", "json", "--target-version", version])
        .args(files)
        .output()
        .expect("kappac runs");
    let diagnostics: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("JSON diagnostics");
    let mut verdicts: BTreeMap<String, bool> = files.iter().map(|f| (f.clone(), true)).collect();
    for diagnostic in diagnostics.as_array().expect("an array") {
        let code = diagnostic["code"].as_str().unwrap_or("");
        if matches!(code, "K001" | "K002" | "K003") {
            if let Some(file) = diagnostic["file"].as_str() {
                verdicts.insert(file.to_owned(), false);
            }
        }
    }
    verdicts
}

#[test]
fn check_accepts_exactly_what_cpython_compiles() {
    let mut files: Vec<String> = std::fs::read_dir(DIR)
        .expect("syntax fixtures")
        .map(|e| e.expect("entry").path().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".py"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "expected the syntax fixtures");
    let mut problems = Vec::new();
    let mut versions = Vec::new();
    for python in common::pythons() {
        let Some((version, expected)) = cpython_verdicts(&python, &files) else {
            eprintln!("note: {} did not run; skipped", python.display());
            continue;
        };
        if versions.contains(&version) {
            continue;
        }
        let found = kappac_verdicts(&version, &files);
        for file in &files {
            let Some(Some(accepted)) = expected.get(file).copied() else {
                continue; // Python itself goes both ways (see cpython_verdicts)
            };
            if Some(&accepted) != found.get(file) {
                problems.push(format!(
                    "{file}: CPython {version} {}, kappac check {}",
                    if accepted {
                        "compiles it"
                    } else {
                        "rejects it"
                    },
                    if found[file] {
                        "accepts it"
                    } else {
                        "rejects it"
                    },
                ));
            }
        }
        versions.push(version);
    }
    assert!(!versions.is_empty(), "no CPython ran");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
