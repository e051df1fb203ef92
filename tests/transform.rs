//! The continuation transform, end to end, over `tests/fixtures/transform/<app>/`:
//! snapshots of the emitted handler.py; deterministic bytes; the output compiles on every
//! CPython 3.9+ found here; the bundle imports; and the differential driver
//! (`tests/py/drive.py`) proves the continuations right — the compiled app, run normally and
//! as a chain of fresh interpreters each applying one coordinator call, gives the reference
//! result of the untransformed app with the same number of spawns and enqueues.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::pythons;

use kappac::check::CheckOptions;
use kappac::parse::TargetVersion;
use kappac::pipeline::compile_handler;
use kappac::source::SourceFile;

fn options(app: &Path) -> CheckOptions {
    let target = std::fs::read_to_string(app.join("expect.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["target_version"].as_str().map(str::to_owned))
        .map_or(TargetVersion::default(), |v| {
            TargetVersion::parse(&v).expect("valid target in expect.json")
        });
    CheckOptions { target }
}

fn emitted(app: &Path) -> String {
    let (file, error) = SourceFile::read(&app.join("handler.py")).expect("readable fixture");
    assert!(error.is_none());
    match compile_handler(&file, options(app)) {
        Ok(transformed) => transformed.text,
        Err(diagnostics) => panic!("{}: {diagnostics:#?}", app.display()),
    }
}

fn name(app: &Path) -> String {
    app.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// One fixture: its emitted code matches the snapshot and is the same every time; the bundle
/// compiles on every CPython here, imports, and matches the untransformed program.
fn transform_fixture(app: &Path) {
    let first = emitted(app);
    assert_eq!(
        first,
        emitted(app),
        "{}: emission is not deterministic",
        app.display()
    );
    insta::assert_snapshot!(name(app), first);
    let temp = std::env::temp_dir().join(format!(
        "kappac-transform-{}-{}",
        std::process::id(),
        name(app)
    ));
    let _ = std::fs::remove_dir_all(&temp);
    let result = check_app(app, &temp, &pythons());
    let _ = std::fs::remove_dir_all(&temp);
    if let Err(message) = result {
        panic!("{message}");
    }
}

mod fixtures {
    crate::transform_fixtures!(test_each_fixture, crate::transform_fixture);
}

fn check_app(app: &Path, temp: &Path, pythons: &[PathBuf]) -> Result<(), String> {
    let out = temp.join(name(app));
    kappac::build::build(app, &out, options(app), false)
        .map_err(|e| format!("{}: build failed: {e:?}", app.display()))?;
    let needs_310 = options(app).target.minor >= 10;
    for python in pythons {
        let output = Command::new(python)
            .args(["-c", "import sys, py_compile; [py_compile.compile(p, doraise=True) for p in sys.argv[1:]]"])
            .arg(out.join("handler.py"))
            // The whole runtime, as every bundle ships it.
            .args(
                kappac::build::RUNTIME_FILES
                    .iter()
                    .map(|(path, _)| out.join(path)),
            )
            .output()
            .map_err(|e| format!("{}: cannot run {}: {e}", app.display(), python.display()))?;
        let version_ok = !needs_310 || !python.to_string_lossy().contains("/3.9.");
        if version_ok && !output.status.success() {
            return Err(format!(
                "{}: emitted code does not compile with {}:\n{}",
                app.display(),
                python.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    let import = Command::new("python3")
        .args(["-c", "import handler"])
        .current_dir(&out)
        .output()
        .map_err(|e| e.to_string())?;
    if !import.status.success() {
        return Err(format!(
            "{}: `import handler` fails in the bundle:\n{}",
            app.display(),
            String::from_utf8_lossy(&import.stderr)
        ));
    }
    let drive = Command::new("python3")
        .arg("tests/py/drive.py")
        .arg("check")
        .arg(app)
        .arg(&out)
        .output()
        .map_err(|e| e.to_string())?;
    if !drive.status.success() {
        return Err(format!(
            "{}: differential check failed:\n{}{}",
            app.display(),
            String::from_utf8_lossy(&drive.stdout),
            String::from_utf8_lossy(&drive.stderr)
        ));
    }
    Ok(())
}

/// A module without pause points comes out byte for byte as it went in.
#[test]
fn modules_without_pause_points_are_unchanged() {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/fixtures/diagnostics")
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    let mut compared = 0;
    for path in files {
        let Ok((file, None)) = SourceFile::read(&path) else {
            continue;
        };
        if let Ok(transformed) = compile_handler(&file, CheckOptions::default()) {
            if transformed.resume_points.is_empty() {
                assert_eq!(transformed.text, file.text, "{}", path.display());
                assert_eq!(
                    transformed.line_map.len(),
                    file.line_count() - usize::from(file.text.ends_with('\n'))
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 3, "compared only {compared} files");
}

/// In a module that pauses, functions that cannot pause are emitted unchanged (same AST).
#[test]
fn non_pausing_functions_keep_their_ast() {
    let app = Path::new("tests/fixtures/transform/short_circuit");
    let original = std::fs::read_to_string(app.join("handler.py")).expect("fixture");
    let transformed = emitted(app);
    let script = r#"
import ast, sys
def functions(text):
    return {n.name: ast.dump(n) for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)}
original, transformed = functions(open(sys.argv[1]).read()), functions(sys.stdin.read())
for name in ("log_value", "remote"):
    assert original[name] == transformed[name], name
print("same")
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(app.join("handler.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(transformed.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("python3 finishes");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "same");
    assert!(original.contains("def log_value"));
}

/// Every output line maps to a line of the original, and wrappers map to their pause point.
#[test]
fn line_map_points_at_the_users_lines() {
    let app = Path::new("tests/fixtures/transform/fib_futures");
    let (file, _) = SourceFile::read(&app.join("handler.py")).expect("fixture");
    let transformed = compile_handler(&file, CheckOptions::default()).expect("compiles");
    assert_eq!(transformed.line_map.len(), transformed.text.lines().count());
    let lines: Vec<&str> = transformed.text.lines().collect();
    let source_lines: Vec<&str> = file.text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let origin = transformed.line_map[index] as usize;
        assert!(
            origin >= 1 && origin <= source_lines.len(),
            "line {index} maps to {origin}"
        );
        if line.contains("left = spawn(fib") {
            assert!(
                source_lines[origin - 1].contains("left = spawn(fib"),
                "{line}"
            );
        }
    }
}
