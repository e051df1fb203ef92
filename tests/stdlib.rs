//! `kappac check` over every file of the local CPython standard library: no panic, no syntax
//! error for any file CPython itself compiles, and — since no stdlib module imports `rt` — no
//! error except the missing `handler`.

use std::path::PathBuf;
use std::process::Command;

use kappac::check::{check_file, CheckOptions};
use kappac::codes::Code;
use kappac::parse::TargetVersion;

/// The stdlib's `.py` files and whether CPython compiles each, asked of python3 itself.
fn stdlib_files() -> Option<(String, Vec<(PathBuf, bool)>)> {
    let script = r#"
import os, sys, sysconfig, warnings
warnings.simplefilter("ignore")
root = sysconfig.get_paths()["stdlib"]
print("%d.%d" % sys.version_info[:2])
for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if x != "site-packages")
    for f in sorted(files):
        if f.endswith(".py"):
            p = os.path.join(d, f)
            try:
                with open(p, "rb") as fh:
                    compile(fh.read(), p, "exec", dont_inherit=True)
                ok = 1
            except BaseException:
                ok = 0
            print(ok, p)
"#;
    let output = Command::new("python3").args(["-c", script]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let mut lines = text.lines();
    let version = lines.next()?.to_owned();
    let files = lines
        .filter_map(|line| line.split_once(' '))
        .map(|(ok, path)| (PathBuf::from(path), ok == "1"))
        .collect();
    Some((version, files))
}

#[test]
fn stdlib_checks_without_panics_or_false_syntax_errors() {
    // python3 is part of what the tests need (scripts/test.sh installs it): without it this
    // test fails rather than pass having checked nothing.
    let Some((version, files)) = stdlib_files() else {
        panic!("python3 did not list its standard library (is it installed? scripts/test.sh installs it)");
    };
    assert!(files.len() > 500, "found only {} stdlib files", files.len());
    let target = TargetVersion::parse(&version).unwrap_or(TargetVersion::NEWEST);
    let options = CheckOptions { target };
    let mut problems = Vec::new();
    let mut compiled = 0;
    for (path, compiles) in &files {
        let result = std::panic::catch_unwind(|| check_file(path, true, options));
        let report = match result {
            Err(_) => {
                problems.push(format!("{}: panic", path.display()));
                continue;
            }
            Ok(Err(error)) => {
                problems.push(format!("{}: {}", path.display(), error.message));
                continue;
            }
            Ok(Ok(report)) => report,
        };
        if !compiles {
            continue;
        }
        compiled += 1;
        for d in &report.diagnostics {
            let allowed = match d.code {
                Code::MissingHandler => true,
                // A few test files are deliberately in KOI8-R or ISO-8859-5.
                Code::UndecodableSource => d.message.starts_with("unsupported source encoding"),
                _ => false,
            };
            if !allowed {
                let line = report.file.line_of(d.primary.range.start());
                problems.push(format!(
                    "{}:{line}: {} {}",
                    path.display(),
                    d.code.as_str(),
                    d.message
                ));
            }
        }
    }
    assert!(compiled > 500);
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
