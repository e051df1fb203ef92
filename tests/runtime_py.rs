//! The runtime's Python unit tests (`tests/py/test_*.py`, standard `unittest`), run with every
//! CPython 3.9+ found here.

mod common;

use std::process::Command;

#[test]
fn python_unit_tests_pass_on_every_cpython() {
    let mut failures = Vec::new();
    for python in common::pythons() {
        let output = Command::new(&python)
            .args([
                "-m",
                "unittest",
                "discover",
                "-s",
                "tests/py",
                "-p",
                "test_*.py",
                "-v",
            ])
            .output();
        match output {
            Ok(output) => {
                let text = String::from_utf8_lossy(&output.stderr);
                // unittest exits 5 when it found no test: that is a failure here too.
                if !output.status.success() || !text.contains(" ok\n") {
                    failures.push(format!("{}:\n{text}", python.display()));
                }
            }
            Err(error) => failures.push(format!("{}: {error}", python.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
