//! `kappac build`: what lands on disk, and what never does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kappac(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kappac"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("kappac runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kappac-build-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("dirs");
    }
    std::fs::write(path, text).expect("write");
}

fn s(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[test]
fn bundle_has_handler_runtime_files_and_manifest() {
    let dir = temp_dir("bundle");
    let app = dir.join("app");
    write(&app.join("handler.py"), "import rt\nfrom helpers import double\n\ndef handler(event, context):\n    x = rt.spawn(double, (event['n'],)).wait()\n    return x + 1\n");
    write(
        &app.join("helpers.py"),
        "def double(x):\n    return 2 * x\n",
    );
    write(&app.join("data/keep.txt"), "kept\n");
    write(&app.join("data/big.csv"), "a,b\n");
    write(&app.join("notes/skip.md"), "skipped\n");
    write(&app.join(".kappaignore"), "# test\n*.csv\nnotes/\n");
    write(&app.join("__pycache__/x.pyc"), "junk");
    let out = dir.join("out");
    let result = kappac(&["build", &s(&app), "-o", &s(&out), "--zip"]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    for present in [
        "handler.py",
        "helpers.py",
        "data/keep.txt",
        "rt/__init__.py",
        "rt/local.py",
        "kappa-manifest.json",
    ] {
        assert!(out.join(present).is_file(), "{present} missing");
    }
    for absent in ["data/big.csv", "notes", "__pycache__", ".kappaignore"] {
        assert!(!out.join(absent).exists(), "{absent} should not be copied");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("kappa-manifest.json")).expect("manifest"))
            .expect("manifest is JSON");
    assert_eq!(manifest["kappac_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["entry"], "handler.handler");
    let points = manifest["resume_points"].as_array().expect("resume points");
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["function"], "handler");
    assert_eq!(points[0]["line"], 5);
    let lines = std::fs::read_to_string(out.join("handler.py"))
        .expect("handler")
        .lines()
        .count();
    assert_eq!(manifest["line_map"].as_array().map(Vec::len), Some(lines));
    // The hash is SHA-256 of the original handler.py, as `sha256sum` would print it.
    let hash = Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
        ])
        .arg(app.join("handler.py"))
        .output()
        .expect("python3");
    assert_eq!(
        manifest["source_sha256"].as_str(),
        Some(String::from_utf8_lossy(&hash.stdout).trim())
    );
    // The bundle runs from the directory and from the zip (zipimport) with nothing else.
    for path in [s(&out), s(&out.with_extension("zip"))] {
        let run = Command::new("python3")
            .args(["-c", "import sys; sys.path.insert(0, sys.argv[1]); import handler, rt; print(rt.run(handler.handler, {'n': 4}, None))"])
            .arg(&path)
            .current_dir(&dir)
            .output()
            .expect("python3");
        assert_eq!(
            String::from_utf8_lossy(&run.stdout).trim(),
            "9",
            "{path}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    // Building again replaces the earlier bundle.
    assert!(kappac(&["build", &s(&app), "-o", &s(&out)])
        .status
        .success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn apps_with_errors_are_not_built() {
    let dir = temp_dir("errors");
    let app = dir.join("app");
    write(&app.join("handler.py"), "import rt\n\ndef handler(event, context):\n    lazy = (rt.checkpoint() for _ in range(2))\n    return list(lazy)\n");
    let out = dir.join("out");
    let result = kappac(&["build", &s(&app), "-o", &s(&out)]);
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("error[K033]"), "{stderr}");
    assert!(stderr.contains("nothing was built"));
    assert!(!out.exists(), "nothing may be written");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "only the app: {leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_existing_directory_that_is_not_a_bundle_is_never_replaced() {
    let dir = temp_dir("clobber");
    let app = dir.join("app");
    write(
        &app.join("handler.py"),
        "def handler(event, context):\n    return 1\n",
    );
    let out = dir.join("precious");
    write(&out.join("mine.txt"), "do not delete\n");
    let result = kappac(&["build", &s(&app), "-o", &s(&out)]);
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("is not a kappac bundle"));
    assert!(out.join("mine.txt").is_file());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("kappac-tmp")),
        "temporary directory left: {names:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_app_folder_named_rt_is_refused() {
    let dir = temp_dir("shadow");
    let app = dir.join("app");
    write(
        &app.join("handler.py"),
        "def handler(event, context):\n    return 1\n",
    );
    write(&app.join("rt/__init__.py"), "\n");
    let result = kappac(&["build", &s(&app), "-o", &s(&dir.join("out"))]);
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("shadow the runtime"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_output_is_build_slash_app_name() {
    assert_eq!(
        kappac::build::default_output(Path::new("examples/fib")),
        PathBuf::from("build").join("fib")
    );
}

#[test]
fn emit_prints_the_transformed_module_or_the_errors() {
    let ok = kappac(&["emit", "examples/fib/handler.py"]);
    assert!(ok.status.success());
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(text.contains("import rt as _kappa_rt") && text.contains("def _kappa_fib_c1("));
    let bad = kappac(&["emit", "tests/fixtures/diagnostics/K033.py"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("error[K033]"));
}
