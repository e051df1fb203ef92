//! Bounded differential fuzzing (issue 10), a fixed slice of what `scripts/fuzz/` does at length:
//!
//! - 40 programs from `scripts/fuzz/generate.py` (fixed seeds), each checked, emitted (the output
//!   must compile), run on the reference runtime and with `kappac run` normally, with
//!   `--chaos every` and with `--chaos kill=0.3,seed=S`: same result, same numbers of spawns and
//!   enqueued objects, no panic, no hang, no `NotCompiled`;
//! - a fixed number of mutants from `scripts/fuzz/mutate.py` (fixed seed; about 30 s): `check`
//!   and `emit` never panic or hang, emitted code compiles, and `check` reports a syntax error
//!   exactly when CPython's `compile()` does.
//!
//! The work is counted in programs and mutants, never in seconds, so the outcome does not depend
//! on the machine's speed (the scripts' timeouts are hang guards only). A failure lists every
//! finding with its report; reproduce one with the same script and seed, and reduce it with
//! `scripts/fuzz/minimize.py FINDING_DIR`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kappac-fuzz-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Every finding directory's report, for the failure message.
fn reports(findings: &Path) -> String {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(findings)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort();
    let mut text = String::new();
    for dir in dirs {
        let report = std::fs::read_to_string(dir.join("report.txt")).unwrap_or_default();
        let head: String = report.lines().take(40).collect::<Vec<_>>().join("\n");
        text.push_str(&format!("\n=== {}\n{head}\n", dir.display()));
    }
    text
}

fn run_script(name: &str, script: &str, args: &[&str]) {
    let findings = scratch(name);
    let output = Command::new("python3")
        .arg(script)
        .args(["--kappac", env!("CARGO_BIN_EXE_kappac")])
        .arg("--findings")
        .arg(&findings)
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // keep the findings for a look; say where they are
        panic!(
            "{script} found problems (kept in {}):\n{stdout}\n{stderr}{}",
            findings.display(),
            reports(&findings)
        );
    }
    eprintln!("{}", stdout.lines().last().unwrap_or(""));
    let _ = std::fs::remove_dir_all(&findings);
}

#[test]
fn generated_programs_run_as_on_the_reference_runtime() {
    run_script(
        "programs",
        "scripts/fuzz/run.py",
        &[
            "--seeds",
            "0..40",
            "--jobs",
            "2",
            "--modes",
            "normal,every,kill",
            "--quiet",
        ],
    );
}

#[test]
fn mutated_sources_never_break_check_or_emit() {
    run_script(
        "mutants",
        "scripts/fuzz/mutate.py",
        &[
            "--iterations",
            "400",
            "--seed",
            "7",
            "--stdlib-sample",
            "25",
            "--quiet",
        ],
    );
}
