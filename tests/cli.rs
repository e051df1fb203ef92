//! The `kappac` binary as a user and a CI pipeline meet it: exit codes, formats, `explain`, bad
//! paths, and the clean programs of the programming model.

use std::path::Path;
use std::process::Command;

mod common;

use common::{kappac, stderr, stdout};

#[test]
fn version_and_help() {
    let version = kappac(&["--version"]);
    assert!(version.status.success());
    assert!(stdout(&version).starts_with(&format!("kappac {}", env!("CARGO_PKG_VERSION"))));
    let help = kappac(&["--help"]);
    assert!(help.status.success());
    let text = stdout(&help);
    for command in ["check", "emit", "build", "run", "explain"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("  {command} "))),
            "help lists `{command}`"
        );
    }
    assert!(text.contains("Examples:"));
}

#[test]
fn clean_programs_check_clean() {
    // Kappa-style programs: the clean fixtures, the examples, and every app the transform and
    // run tests compile (those with a target version of their own are checked with it below).
    let mut entries: Vec<std::path::PathBuf> = Vec::new();
    for dir in [
        "tests/fixtures/clean",
        "examples",
        "tests/fixtures/transform",
        "tests/fixtures/apps",
    ] {
        entries.extend(
            std::fs::read_dir(dir)
                .expect("fixture directory")
                .map(|e| e.expect("entry").path())
                .filter(|p| !p.join("expect.json").is_file()),
        );
    }
    entries.sort();
    assert!(entries.len() >= 20);
    for entry in entries {
        let output = kappac(&["check", &entry.to_string_lossy()]);
        assert!(
            output.status.success(),
            "{} should check clean:\n{}",
            entry.display(),
            stdout(&output)
        );
        assert!(stdout(&output).contains("All checks passed"));
    }
}

#[test]
fn errors_exit_1_and_render_rustc_style() {
    let output = kappac(&["check", "tests/fixtures/diagnostics/K033.py"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("error[K033]: pause point inside a generator expression that runs lazily")
    );
    assert!(text.contains("┌─ tests/fixtures/diagnostics/K033.py:15:15"));
    assert!(text.contains("= help: use a list comprehension"));
    assert!(text.contains("Found 1 error and 0 warnings in 1 file checked."));
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let app = "tests/fixtures/diagnostics/K050_helper_module";
    assert_eq!(kappac(&["check", app]).status.code(), Some(0));
    assert_eq!(
        kappac(&["check", app, "--deny-warnings"]).status.code(),
        Some(1)
    );
}

#[test]
fn several_paths_at_once_in_a_stable_order() {
    let args = [
        "check",
        "tests/fixtures/diagnostics/K041.py",
        "tests/fixtures/diagnostics/K033.py",
        "--format",
        "json",
    ];
    let first = kappac(&args);
    assert_eq!(first.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&first.stdout).expect("valid JSON");
    let codes: Vec<&str> = value
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        ["K041", "K041", "K041", "K033"],
        "paths keep the order given"
    );
    assert_eq!(kappac(&args).stdout, first.stdout, "deterministic output");
}

#[test]
fn json_has_positions_labels_and_help() {
    let output = kappac(&[
        "check",
        "tests/fixtures/diagnostics/K023.py",
        "--format",
        "json",
    ]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let d = &value[0];
    assert_eq!(d["code"], "K023");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "tests/fixtures/diagnostics/K023.py");
    assert_eq!(d["start"]["line"], 22);
    assert_eq!(d["start"]["column"], 9);
    assert_eq!(d["end"]["column"], 14);
    assert_eq!(d["labels"].as_array().map(Vec::len), Some(2));
    assert!(d["help"]
        .as_str()
        .is_some_and(|h| h.contains("local variable")));
}

#[test]
fn github_annotations() {
    let output = kappac(&[
        "check",
        "tests/fixtures/diagnostics/K033.py",
        "--format",
        "github",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.starts_with("::error file=tests/fixtures/diagnostics/K033.py,line=15,col=15,"),
        "{text}"
    );
    assert!(text.contains("title=K033 pause-in-generator-expression::"));
}

#[test]
fn bad_paths_are_errors_in_the_report_and_the_rest_is_still_checked() {
    let output = kappac(&["check", "no/such/app", "tests/fixtures/diagnostics/K033.py"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("error[K004]: `no/such/app`: no such file or directory"),
        "{text}"
    );
    assert!(text.contains("error[K033]"), "{text}");
    assert!(!text.contains("All checks passed"), "{text}");
    let alone = kappac(&["check", "does/not/exist"]);
    assert_eq!(alone.status.code(), Some(1));
    assert!(
        stdout(&alone).contains("Found 1 error and 0 warnings in 0 files checked."),
        "{}",
        stdout(&alone)
    );
    let json = kappac(&["check", "--format", "json", "does/not/exist"]);
    assert!(
        stdout(&json).contains("\"code\": \"K004\""),
        "{}",
        stdout(&json)
    );
    let not_app = kappac(&["check", "tests/fixtures"]);
    assert_eq!(not_app.status.code(), Some(1));
    assert!(stdout(&not_app).contains("is not an app: it has no handler.py"));
}

#[test]
fn non_utf8_is_a_diagnostic_not_a_crash() {
    let output = kappac(&["check", "tests/fixtures/diagnostics/K003_invalid_utf8.py"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output)
        .contains("error[K003]: the file is not valid UTF-8 (first bad byte on line 3)"));
}

#[test]
fn target_version_controls_newer_syntax() {
    let fixture = "tests/fixtures/diagnostics/K002.py";
    assert_eq!(kappac(&["check", fixture]).status.code(), Some(1));
    assert_eq!(
        kappac(&["check", fixture, "--target-version", "3.10"])
            .status
            .code(),
        Some(0)
    );
    let bad = kappac(&["check", fixture, "--target-version", "3.8"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("unsupported Python version `3.8`"));
}

#[test]
fn explain_prints_the_registry_text() {
    let output = kappac(&["explain", "K030"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        kappac::codes::Code::PauseInTry.explanation(),
        "explain prints exactly the registry's text"
    );
    let by_name = kappac(&["explain", "pause-in-try"]);
    assert_eq!(by_name.stdout, output.stdout);
    let list = kappac(&["explain", "--list"]);
    assert!(list.status.success());
    assert_eq!(
        stdout(&list).lines().count(),
        kappac::codes::Code::ALL.len()
    );
    let unknown = kappac(&["explain", "K999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("unknown diagnostic code `K999`"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(kappac(&["check", "--format", "xml"]).status.code(), Some(2));
    assert_eq!(kappac(&["frobnicate"]).status.code(), Some(2));
}

/// Every prefix of every fixture (broken code of every shape) is checked without a panic.
#[test]
fn truncated_sources_never_panic() {
    use kappac::check::{check_handler_source, CheckOptions};
    use kappac::source::SourceFile;
    let mut files: Vec<_> = std::fs::read_dir("tests/fixtures/clean")
        .expect("fixtures")
        .chain(std::fs::read_dir("tests/fixtures/diagnostics").expect("fixtures"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    let mut checked = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // the deliberately non-UTF-8 fixtures
        };
        for end in (0..text.len())
            .step_by(5)
            .filter(|i| text.is_char_boundary(*i))
        {
            let file = SourceFile::new(Path::new("prefix.py"), &text[..end]);
            check_handler_source(&file, CheckOptions::default());
            checked += 1;
        }
    }
    assert!(checked > 1000);
}

#[test]
fn build_explains_what_each_checkpoint_saves() {
    let out = std::env::temp_dir().join(format!("kappac-explain-{}", std::process::id()));
    let output = kappac(&[
        "build",
        "examples/fib",
        "-o",
        &out.to_string_lossy(),
        "--explain-checkpoints",
    ]);
    let _ = std::fs::remove_dir_all(&out);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.contains("handler.py:11: in `fib`, a checkpoint saves n\n"),
        "{text}"
    );
    assert!(
        text.contains("handler.py:12: in `fib`, a checkpoint saves left\n"),
        "{text}"
    );
}

/// Input nested deeper than CPython compiles is a K001 with a location for `check` and a
/// refusal for `emit`, never a crash, and quickly (7,500 nested lambdas once took 11 s); just
/// below the limits it compiles.
#[test]
fn deep_nesting_is_a_diagnostic_not_a_crash() {
    let dir = std::env::temp_dir().join(format!("kappac-deep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let prefix = "import rt\n\ndef handler(event, context):\n    rt.checkpoint()\n    return ";
    let deep = [
        (
            "brackets",
            format!("{}{}", "[".repeat(5_500), "]".repeat(5_500)),
            "too many nested parentheses",
        ),
        (
            "calls",
            format!("{}{}", "f(".repeat(5_500), ")".repeat(5_500)),
            "too many nested parentheses",
        ),
        (
            "negations",
            format!("{}1", "-".repeat(100_000)),
            "nested more than",
        ),
        (
            "nots",
            format!("{}1", "not ".repeat(6_000)),
            "nested more than",
        ),
        ("sum", vec!["1"; 50_000].join(" + "), "nested more than"),
        (
            "lambdas",
            format!("{}1", "lambda: ".repeat(7_500)),
            "nested more than",
        ),
    ];
    for (name, expression, message) in deep {
        let path = dir.join(format!("{name}.py"));
        std::fs::write(&path, format!("{prefix}{expression}\n")).expect("write");
        let path = path.to_str().expect("utf-8 path");
        let check = kappac(&["check", path]);
        assert_eq!(check.status.code(), Some(1), "{name}: {}", stderr(&check));
        let text = stdout(&check);
        assert!(
            text.contains("error[K001]") && text.contains(message),
            "{name}: {text}"
        );
        assert!(
            !text.contains("K010"),
            "{name}: the emptied module was analyzed: {text}"
        );
        let emit = kappac(&["emit", path]);
        assert_eq!(emit.status.code(), Some(1), "{name}: {}", stderr(&emit));
    }
    let fine = [
        (
            "brackets_200",
            format!("{}{}", "[".repeat(200), "]".repeat(200)),
        ),
        ("sum_2000", vec!["1"; 2_000].join(" + ")),
    ];
    for (name, expression) in fine {
        let path = dir.join(format!("{name}.py"));
        std::fs::write(&path, format!("{prefix}{expression}\n")).expect("write");
        let check = kappac(&["check", path.to_str().expect("utf-8 path")]);
        assert_eq!(check.status.code(), Some(0), "{name}: {}", stdout(&check));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kappac run` names what is wrong with its arguments in plain words.
#[test]
fn run_usage_errors_say_what_is_wrong() {
    let missing = kappac(&["run", "does/not/exist"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("`does/not/exist`: no such directory"),
        "{}",
        stderr(&missing)
    );
    for bad in ["-1", "0"] {
        let output = kappac(&["run", "examples/fib", "--workers", bad]);
        assert_eq!(output.status.code(), Some(2));
        let text = stderr(&output);
        assert!(
            text.contains(&format!("invalid value '{bad}' for '--workers")),
            "{text}"
        );
        assert!(!text.contains("tip: to pass"), "{text}");
    }
}

/// Suppression comments and selection, with ruff's conventions; errors are never suppressed.
#[test]
fn noqa_comments_select_and_ignore() {
    let file = "tests/fixtures/cli/suppressed.py";
    // Four K042 warnings; the comments suppress three of them (`# noqa: K050` names another).
    let output = kappac(&["check", file, "--format", "concise"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(&format!("{file}:12:9: K042 [warning] ")),
        "{text}"
    );
    assert_eq!(lines[1], "Found 0 errors and 1 warning in 1 file checked.");
    let ignored = kappac(&["check", file, "--ignore", "K042", "--deny-warnings"]);
    assert_eq!(ignored.status.code(), Some(0), "{}", stdout(&ignored));
    let by_name = kappac(&[
        "check",
        file,
        "--ignore",
        "unfollowed-call",
        "--deny-warnings",
    ]);
    assert_eq!(by_name.status.code(), Some(0), "{}", stdout(&by_name));
    let other = kappac(&["check", file, "--select", "K050,K039", "--deny-warnings"]);
    assert_eq!(other.status.code(), Some(0), "{}", stdout(&other));
    let selected = kappac(&["check", file, "--select", "K042", "--deny-warnings"]);
    assert_eq!(selected.status.code(), Some(1), "{}", stdout(&selected));
    // An error cannot be ignored; an unknown code is a usage error.
    for (option, code, says) in [
        ("--ignore", "K001", "is an error"),
        ("--select", "K037", "is an error"),
        ("--ignore", "K999", "unknown diagnostic code"),
    ] {
        let refused = kappac(&["check", file, option, code]);
        assert_eq!(refused.status.code(), Some(2));
        assert!(stderr(&refused).contains(says), "{}", stderr(&refused));
    }
    // A comment naming an error's code leaves the error in place.
    let dir = std::env::temp_dir().join(format!("kappac-noqa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let handler = dir.join("handler.py");
    std::fs::write(
        &handler,
        "import rt\n\ndef handler(event, context):\n    g = (rt.checkpoint() for _ in range(2))  # noqa\n    return list(g)  # noqa: K033\n",
    )
    .expect("write");
    let with_error = kappac(&["check", &handler.to_string_lossy()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(with_error.status.code(), Some(1), "{}", stdout(&with_error));
    assert!(stdout(&with_error).contains("error[K033]"));
}

#[test]
fn explain_lists_codes_as_json() {
    let output = kappac(&["explain", "--list", "--format", "json"]);
    assert!(output.status.success());
    let codes: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let codes = codes.as_array().expect("an array");
    assert_eq!(
        codes.len(),
        stdout(&kappac(&["explain", "--list"])).lines().count()
    );
    let k042 = codes
        .iter()
        .find(|c| c["code"] == "K042")
        .expect("K042 listed");
    assert_eq!(k042["name"], "unfollowed-call");
    assert_eq!(k042["severity"], "warning");
    assert_eq!(k042["doc"], "docs/diagnostics/K042.md");
    assert!(Path::new(k042["doc"].as_str().unwrap_or_default()).is_file());
    let k030 = codes.iter().find(|c| c["code"] == "K030").expect("K030");
    assert!(k030["retired_in"].is_string(), "{k030}");
}

/// The codes of a `--format json` report, sorted.
fn json_codes(output: &std::process::Output) -> Vec<String> {
    let report: serde_json::Value = serde_json::from_str(&stdout(output))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(output), stderr(output)));
    let mut codes: Vec<String> = report
        .as_array()
        .expect("an array")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect();
    codes.sort();
    codes
}

/// `[tool.kappac]` in the closest pyproject.toml that has it, under the command line's options.
#[test]
fn pyproject_toml_configures_check_emit_and_build() {
    let project = tempfile::tempdir().expect("temporary directory");
    let root = project.path();
    let app = root.join("app");
    std::fs::create_dir_all(app.join("jobs")).expect("app");
    // Needs 3.10 (`match`), has one K042 and, in a helper, one K050.
    std::fs::write(
        app.join("handler.py"),
        "import rt\n\nclass W:\n    def step(self, x):\n        rt.checkpoint()\n        return x\n\n\
         def handler(event, context):\n    match event:\n        case _:\n            return getattr(W(), event[\"m\"])(1)\n",
    )
    .expect("handler");
    std::fs::write(
        app.join("jobs/helper.py"),
        "import rt\n\ndef later():\n    rt.checkpoint()\n",
    )
    .expect("helper");
    // A pyproject.toml without [tool.kappac] closer to the app is passed over, even a broken one.
    std::fs::write(app.join("pyproject.toml"), "[project\nname = \"app\"\n").expect("inner");
    let config = root.join("pyproject.toml");
    let write_config = |text: &str| std::fs::write(&config, text).expect("pyproject.toml");
    write_config(
        "[project]\nname = \"demo\"\n\n[tool.kappac]\ntarget-version = \"py310\"\nignore = [\"unfollowed-call\"]\n\
         per-file-ignores = { \"app/jobs/*.py\" = [\"K050\"] }\n",
    );
    let app_arg = app.to_string_lossy().into_owned();
    let codes = |args: &[&str]| -> (Option<i32>, Vec<String>) {
        let output = kappac(&[&["check", &app_arg, "--format", "json"], args].concat());
        (output.status.code(), json_codes(&output))
    };
    assert_eq!(codes(&["--deny-warnings"]), (Some(0), vec![]));
    // Without the file: 3.9 rejects `match`, and both warnings are back.
    let (status, isolated) = codes(&["--isolated"]);
    assert_eq!(status, Some(1));
    assert_eq!(isolated, vec!["K002", "K042", "K050"]);
    assert_eq!(
        codes(&["--isolated", "--target-version", "3.10"]),
        (Some(0), vec!["K042".to_owned(), "K050".to_owned()])
    );
    // The command line wins: its target version; `--ignore` adds; `--select` starts over, but
    // per-file ignores stay.
    assert_eq!(codes(&["--target-version", "3.9"]).1, vec!["K002"]);
    assert_eq!(
        codes(&["--select", "K042"]),
        (Some(0), vec!["K042".to_owned()])
    );
    assert_eq!(codes(&["--select", "K050"]), (Some(0), vec![]));
    // `extend-select` adds to `select`.
    write_config("[tool.kappac]\ntarget-version = \"3.10\"\nselect = [\"K039\"]\n");
    assert_eq!(codes(&[]), (Some(0), vec![]));
    assert_eq!(
        codes(&["--extend-select", "K050"]),
        (Some(0), vec!["K050".to_owned()])
    );
    // `--config` names the file; emit and build read the target version from it too.
    write_config("[tool.kappac]\ntarget-version = \"3.10\"\n");
    let elsewhere = tempfile::tempdir().expect("temporary directory");
    let named = elsewhere.path().join("kappac.toml");
    std::fs::write(&named, "[tool.kappac]\ntarget-version = \"3.9\"\n").expect("named");
    let named_arg = named.to_string_lossy().into_owned();
    assert_eq!(
        codes(&["--config", &named_arg]).1,
        vec!["K002", "K042", "K050"]
    );
    assert!(kappac(&["emit", &app_arg]).status.success());
    assert_eq!(
        kappac(&["emit", &app_arg, "--config", &named_arg])
            .status
            .code(),
        Some(1)
    );
    let out = root.join("bundle");
    let built = kappac(&["build", &app_arg, "-o", &out.to_string_lossy()]);
    assert!(built.status.success(), "{}", stderr(&built));
    assert!(stderr(&built).contains("K042"), "{}", stderr(&built));

    // Mistakes in the file are usage errors that say where.
    for (text, says) in [
        (
            "[tool.kappac]\nselet = [\"K042\"]\n",
            ":2:1: unknown field `selet`",
        ),
        (
            "[tool.kappac]\nignore = [\"K042\", \"K999\"]\n",
            ":2:19: ignore: unknown diagnostic code `K999`",
        ),
        (
            "[tool.kappac]\nextend-select = [\"K001\"]\n",
            ":2:18: extend-select: K001 is an error",
        ),
        (
            "[tool.kappac]\ntarget-version = \"3.8\"\n",
            ":2:18: target-version: unsupported Python version `3.8`",
        ),
        (
            "[tool.kappac]\nper-file-ignores = { \"a[\" = [\"K042\"] }\n",
            ":2:22: per-file-ignores: `a[` is not a glob",
        ),
        ("[tool.kappac\n", ":1:13: "),
    ] {
        write_config(text);
        for command in ["check", "emit", "build", "run"] {
            let output = kappac(&[command, &app_arg]);
            assert_eq!(output.status.code(), Some(2), "{command} {text}");
            let message = stderr(&output);
            assert!(
                message.contains(&format!("{}{says}", config.display())),
                "{command} {text}: {message}"
            );
        }
    }
    assert!(!root.join("build").exists() && !Path::new("build/app").exists());
}

/// Paths are resolved before the configuration is looked for: `kappac check ../app` from a
/// sibling project uses what is above the app, not the sibling's settings; `--config` with a
/// relative name works like any other.
#[test]
fn configuration_follows_the_real_path() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let root = temp.path();
    std::fs::create_dir_all(root.join("app/jobs")).expect("app");
    std::fs::create_dir_all(root.join("other")).expect("other");
    std::fs::write(
        root.join("app/handler.py"),
        "import rt\n\nclass W:\n    def step(self, x):\n        rt.checkpoint()\n        return x\n\n\
         def handler(event, context):\n    return getattr(W(), event[\"m\"])(1)\n",
    )
    .expect("handler");
    std::fs::write(
        root.join("app/jobs/helper.py"),
        "import rt\n\ndef later():\n    rt.checkpoint()\n",
    )
    .expect("helper");
    std::fs::write(
        root.join("other/pyproject.toml"),
        "[tool.kappac]\nignore = [\"K042\"]\nper-file-ignores = { \"jobs/*.py\" = [\"K050\"] }\n",
    )
    .expect("other's settings");
    let codes = |args: &[&str], cwd: &Path| -> Vec<String> {
        let output = Command::new(env!("CARGO_BIN_EXE_kappac"))
            .args(["check", "--format", "json"])
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("kappac runs");
        json_codes(&output)
    };
    // Nothing above the app configures it: both warnings.
    assert_eq!(codes(&["../app"], &root.join("other")), ["K042", "K050"]);
    // Named with a relative name, the sibling's settings apply, globs relative to their file.
    std::fs::copy(
        root.join("other/pyproject.toml"),
        root.join("app/settings.toml"),
    )
    .expect("copy");
    assert_eq!(
        codes(&[".", "--config", "settings.toml"], &root.join("app")),
        Vec::<String>::new()
    );
}

/// A file with CRLF line endings (and a lone CR) gets the same positions from `check` and from
/// `emit`: both read it as CPython does, every line ending as `\n`.
#[test]
fn crlf_files_get_the_same_positions_from_check_and_emit() {
    let dir = std::env::temp_dir().join(format!("kappac-crlf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("handler.py");
    std::fs::write(
        &file,
        "import rt\r\n\r\nx = (1,\r 2)\r\n\r\ndef handler(event, context):\r\n    return 1\r\nreturn 2\r\n",
    )
    .expect("write");
    let path = file.to_string_lossy().into_owned();
    let checked = kappac(&["check", &path, "--format", "json"]);
    let emitted = kappac(&["emit", &path]);
    let _ = std::fs::remove_dir_all(&dir);
    let report: serde_json::Value = serde_json::from_str(&stdout(&checked)).expect("JSON");
    assert_eq!(report[0]["code"], "K001");
    assert_eq!(report[0]["start"]["line"], 8);
    assert_eq!(report[0]["start"]["column"], 1);
    assert_eq!(emitted.status.code(), Some(1));
    assert!(
        stderr(&emitted).contains(&format!("{path}:8:1")),
        "{}",
        stderr(&emitted)
    );
}
