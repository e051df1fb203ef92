//! `kappac build`: what lands on disk, and what never does.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::kappac;

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
        "rt/protocol.py",
        "kappa_coordinator/coordinator.py",
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
fn apps_with_warnings_are_built_and_the_warnings_shown() {
    let dir = temp_dir("warnings");
    let app = dir.join("app");
    // A call kappac cannot follow (K042), in handler.py, and a coordinator call in a helper
    // module (K050): both warnings.
    write(&app.join("handler.py"), "import rt\nfrom helper import later\n\nclass Worker:\n    def step(self, x):\n        rt.checkpoint()\n        return x\n\ndef handler(event, context):\n    return getattr(Worker(), event['method'])(1)\n");
    write(
        &app.join("helper.py"),
        "import rt\n\ndef later():\n    rt.checkpoint()\n",
    );
    let out = dir.join("out");
    let result = kappac(&["build", &s(&app), "-o", &s(&out)]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning[K042]"), "{stderr}");
    assert!(stderr.contains("warning[K050]"), "{stderr}");
    assert!(stderr.contains("built `"), "{stderr}");
    assert!(out.join("handler.py").is_file());
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
        names.iter().all(|n| !n.starts_with(".kappac-")),
        "temporary directory left: {names:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn app_files_named_like_kappacs_own_are_refused() {
    for name in [
        "rt/__init__.py",
        "kappa_coordinator/x.py",
        "kappa-source/notes.txt",
        "__main__.py",
        "kappa-manifest.json",
    ] {
        let dir = temp_dir("shadow");
        let app = dir.join("app");
        write(
            &app.join("handler.py"),
            "def handler(event, context):\n    return 1\n",
        );
        write(&app.join(name), "\n");
        let out = dir.join("out");
        let result = kappac(&["build", &s(&app), "-o", &s(&out)]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("a name the bundle uses for kappac's own files"),
            "{name}: {stderr}"
        );
        assert!(!out.exists(), "{name}: nothing may be written");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `python3 BUNDLE`, from another directory, on the bundle directory and on its zip.
#[test]
fn bundles_run_with_python_from_anywhere_directory_or_zip() {
    let dir = temp_dir("python-bundle");
    let app = dir.join("app");
    write(&app.join("handler.py"), "import rt\nfrom helper import triple\n\ndef handler(event, context):\n    rt.checkpoint()\n    return triple(event['n'])\n");
    write(&app.join("helper.py"), "def triple(x):\n    return 3 * x\n");
    let out = dir.join("out");
    let built = kappac(&["build", &s(&app), "-o", &s(&out), "--zip"]);
    assert_eq!(built.status.code(), Some(0), "{built:?}");
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    for bundle in [out.clone(), dir.join("out.zip")] {
        let run = std::process::Command::new("python3")
            .arg(&bundle)
            .args(["--event", r#"{"n": 14}"#, "--workers", "1"])
            .current_dir(&elsewhere)
            .output()
            .expect("python3 runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "{}: {stderr}", bundle.display());
        assert_eq!(
            String::from_utf8_lossy(&run.stdout).trim(),
            "42",
            "{stderr}"
        );
        assert!(stderr.contains("run finished"), "{stderr}");
    }
    // Nothing unpacked is left behind, and a zip that is not as its manifest says is refused.
    let tampered = dir.join("tampered.zip");
    let copied = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\n\
             src, dst = zipfile.ZipFile(sys.argv[1]), zipfile.ZipFile(sys.argv[2], 'w')\n\
             for info in src.infolist():\n    \
                 dst.writestr(info, src.read(info).replace(b'3 * x', b'4 * x'))\n\
             dst.close()",
        ])
        .arg(dir.join("out.zip"))
        .arg(&tampered)
        .status()
        .expect("python3 runs");
    assert!(copied.success());
    let run = std::process::Command::new("python3")
        .arg(&tampered)
        .current_dir(&elsewhere)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_ne!(run.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("is not a bundle written by kappac build"),
        "{stderr}"
    );
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

/// The names of the entries directly in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn simple_app(dir: &Path) -> PathBuf {
    let app = dir.join("app");
    write(
        &app.join("handler.py"),
        "def handler(event, context):\n    return 1\n",
    );
    app
}

fn refused(args: &[&str], expected: &str) -> String {
    let result = kappac(args);
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert_eq!(result.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    stderr
}

/// File names are the app's relative paths, byte for byte: a backslash is never a directory
/// separator, so nothing lands outside the bundle; names that cannot be represented safely are
/// refused, naming the file, and nothing is written.
#[test]
fn names_that_could_leave_the_bundle_are_refused() {
    for (case, name) in [
        ("backslash_absolute", "\\tmp\\kappac-escape\\f.txt"),
        ("backslash_dots", "sub/x\\..\\..\\..\\..\\e.txt"),
        ("newline", "bad\nname.txt"),
    ] {
        let dir = temp_dir(case);
        let app = simple_app(&dir);
        write(&app.join(name), "data\n");
        let out = dir.join("out");
        let stderr = refused(
            &["build", &s(&app), "-o", &s(&out)],
            "cannot be put in a bundle",
        );
        assert!(
            stderr.contains(name.rsplit('/').next().unwrap_or(name)) || stderr.contains("name"),
            "{stderr}"
        );
        assert_eq!(
            listing(&dir),
            vec!["app".to_owned()],
            "{case}: something was written"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(!Path::new("/tmp/kappac-escape").exists());
}

/// Links are followed only to regular files inside the app; FIFOs and devices are never read.
#[test]
fn links_outside_the_app_and_special_files_are_refused() {
    let dir = temp_dir("links");
    let app = simple_app(&dir);
    let out = dir.join("out");
    std::os::unix::fs::symlink("/etc/passwd", app.join("passwd")).expect("link");
    refused(&["build", &s(&app), "-o", &s(&out)], "outside the app");
    std::fs::remove_file(app.join("passwd")).expect("unlink");
    std::os::unix::fs::symlink(&dir, app.join("parent")).expect("link");
    refused(&["build", &s(&app), "-o", &s(&out)], "outside the app");
    std::fs::remove_file(app.join("parent")).expect("unlink");
    write(&app.join("data/real.txt"), "real\n");
    std::os::unix::fs::symlink(app.join("data"), app.join("alias")).expect("link");
    refused(&["build", &s(&app), "-o", &s(&out)], "not a regular file");
    std::fs::remove_file(app.join("alias")).expect("unlink");
    std::os::unix::fs::symlink(app.join("data/real.txt"), app.join("inside.txt")).expect("link");
    let status = Command::new("mkfifo")
        .arg(app.join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    refused(&["build", &s(&app), "-o", &s(&out)], "FIFO");
    std::fs::remove_file(app.join("pipe")).expect("rm fifo");
    let result = kappac(&["build", &s(&app), "-o", &s(&out)]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out.join("inside.txt")).expect("copied"),
        "real\n"
    );
    assert!(!std::fs::symlink_metadata(out.join("inside.txt"))
        .expect("meta")
        .file_type()
        .is_symlink());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Only a bundle kappac wrote, holding only what its manifest lists, is ever replaced; the
/// output may not be the app or inside it; the zip goes to `<out>.zip` beside it.
#[test]
fn outputs_are_replaced_only_when_they_are_bundles() {
    let dir = temp_dir("outputs");
    let app = simple_app(&dir);
    // A user's directory that happens to have a file called kappa-manifest.json.
    let precious = dir.join("precious");
    write(&precious.join("kappa-manifest.json"), "{}");
    write(&precious.join("mine.txt"), "keep\n");
    refused(
        &["build", &s(&app), "-o", &s(&precious)],
        "not a kappac bundle",
    );
    assert!(precious.join("mine.txt").is_file());
    // The app itself, or a place inside it.
    refused(&["build", &s(&app), "-o", &s(&app)], "inside the app");
    refused(
        &["build", &s(&app), "-o", &s(&app.join("out"))],
        "inside the app",
    );
    assert_eq!(
        std::fs::read_to_string(app.join("handler.py")).expect("handler"),
        "def handler(event, context):\n    return 1\n"
    );
    // A bundle with a file added by hand is not replaced.
    let out = dir.join("out");
    assert!(kappac(&["build", &s(&app), "-o", &s(&out)])
        .status
        .success());
    write(&out.join("added.txt"), "mine\n");
    refused(&["build", &s(&app), "-o", &s(&out)], "does not list");
    std::fs::remove_file(out.join("added.txt")).expect("rm");
    assert!(kappac(&["build", &s(&app), "-o", &s(&out)])
        .status
        .success());
    // `-o name.v2 --zip` writes name.v2.zip and leaves name.zip alone.
    write(&dir.join("name.zip"), "not mine to overwrite");
    let versioned = dir.join("name.v2");
    let result = kappac(&["build", &s(&app), "-o", &s(&versioned), "--zip"]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(dir.join("name.v2.zip").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.join("name.zip")).expect("kept"),
        "not mine to overwrite"
    );
    // `-o x.zip --zip` works and leaves no temporary file.
    let result = kappac(&["build", &s(&app), "-o", &s(&dir.join("x.zip")), "--zip"]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        listing(&dir)
            .iter()
            .all(|n| !n.starts_with(".kappac-") && !n.ends_with(".tmp")),
        "{:?}",
        listing(&dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The zip is deflated and deterministic; `.kappaignore` has gitignore's semantics.
#[test]
fn zips_are_deflated_and_deterministic_and_kappaignore_is_gitignore() {
    let dir = temp_dir("zip");
    let app = simple_app(&dir);
    write(&app.join("server.key"), "secret\n");
    write(&app.join("deep/a/b.key"), "secret\n");
    write(&app.join("logs/x.log"), "log\n");
    write(&app.join("logs/keep.log"), "kept\n");
    write(&app.join("data/big.txt"), &"compressible ".repeat(10_000));
    write(&app.join(".kappaignore"), "**/*.key\n*.log\n!keep.log\n");
    let first = dir.join("first");
    let second = dir.join("second");
    for out in [&first, &second] {
        let result = kappac(&["build", &s(&app), "-o", &s(out), "--zip"]);
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
    }
    let zip_a = std::fs::read(dir.join("first.zip")).expect("zip");
    let zip_b = std::fs::read(dir.join("second.zip")).expect("zip");
    assert_eq!(zip_a, zip_b, "the zip is not deterministic");
    assert!(!first.join("server.key").exists() && !first.join("deep/a/b.key").exists());
    assert!(!first.join("logs/x.log").exists());
    assert!(first.join("logs/keep.log").is_file());
    let check = Command::new("python3")
        .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); i = z.getinfo('data/big.txt'); print(z.testzip(), i.compress_type, i.compress_size * 10 < i.file_size)"])
        .arg(dir.join("first.zip"))
        .output()
        .expect("python3");
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "None 8 True");
    let _ = std::fs::remove_dir_all(&dir);
}
