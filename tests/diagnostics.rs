//! Diagnostics fixtures (`tests/fixtures/diagnostics/`): the `# K0xx` / `# OK` markers in each
//! fixture are checked against what `kappac check` reports, and the human and JSON renderings of
//! every fixture are snapshot-tested.
//!
//! A marker comment on a line of its own opens a case that runs until the next marker. Every
//! diagnostic in a `# K0xx` case must have that code and there must be at least one; an `# OK`
//! case must have none; lines before the first marker must have none.

use std::path::{Path, PathBuf};

use codespan_reporting::term::termcolor::Buffer;
use kappac::check::{check_path, CheckOptions};
use kappac::codes::Code;
use kappac::render::{self, FileReport};

const FIXTURES: &str = "tests/fixtures/diagnostics";

/// Fixtures: `.py` files (checked as handlers) and directories (checked as apps).
fn fixtures() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("fixture directory exists")
        .map(|entry| entry.expect("readable fixture entry").path())
        .filter(|path| path.is_dir() || path.extension().is_some_and(|e| e == "py"))
        .collect();
    found.sort();
    assert!(found.len() > 20, "expected the diagnostics fixtures");
    found
}

fn check(path: &Path) -> Vec<FileReport> {
    let (reports, errors) = check_path(path, CheckOptions::default());
    assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    reports
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Code(Code),
    Ok,
}

struct Case {
    expect: Expect,
    first_line: usize,
    last_line: usize,
}

fn cases(text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases: Vec<Case> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(marker) = line.trim().strip_prefix("# ") else {
            continue;
        };
        let expect = if marker == "OK" {
            Expect::Ok
        } else if let Some(code) = Code::parse(marker).filter(|_| marker.starts_with('K')) {
            Expect::Code(code)
        } else {
            continue;
        };
        if let Some(previous) = cases.last_mut() {
            previous.last_line = index;
        }
        cases.push(Case {
            expect,
            first_line: index + 1,
            last_line: lines.len().max(index + 1),
        });
    }
    cases
}

/// Problems with one file's markers, as readable lines.
fn marker_problems(report: &FileReport) -> Vec<String> {
    let path = report.file.display_path();
    let cases = cases(&report.file.text);
    let mut problems = Vec::new();
    let found: Vec<(usize, Code)> = report
        .diagnostics
        .iter()
        .map(|d| (report.file.line_of(d.primary.range.start()), d.code))
        .collect();
    let first_case_line = cases.first().map_or(usize::MAX, |c| c.first_line);
    for (line, code) in &found {
        if *line < first_case_line {
            problems.push(format!(
                "{path}:{line}: {} before any marker",
                code.as_str()
            ));
        }
    }
    for case in &cases {
        let inside: Vec<Code> = found
            .iter()
            .filter(|(line, _)| (case.first_line..=case.last_line).contains(line))
            .map(|(_, code)| *code)
            .collect();
        match case.expect {
            Expect::Ok if !inside.is_empty() => problems.push(format!(
                "{path}:{}: `# OK` case has {inside:?}",
                case.first_line
            )),
            Expect::Code(code) if inside.is_empty() => problems.push(format!(
                "{path}:{}: expected {} but found nothing",
                case.first_line,
                code.as_str()
            )),
            Expect::Code(code) if inside.iter().any(|c| *c != code) => problems.push(format!(
                "{path}:{}: expected only {} but found {inside:?}",
                case.first_line,
                code.as_str()
            )),
            _ => {}
        }
    }
    problems
}

#[test]
fn markers_match_diagnostics() {
    let mut problems = Vec::new();
    for fixture in fixtures() {
        for report in check(&fixture) {
            problems.extend(marker_problems(&report));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_code_has_a_failing_and_a_passing_fixture() {
    let mut problems = Vec::new();
    for code in Code::ALL {
        if *code == Code::UnreadablePath {
            continue; // about paths, not file contents: tested in tests/cli.rs
        }
        let mut fails = false;
        let mut passes = false;
        for fixture in fixtures() {
            let name = fixture
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if !name.starts_with(code.as_str()) {
                continue;
            }
            for report in check(&fixture) {
                for case in cases(&report.file.text) {
                    match case.expect {
                        Expect::Code(c) if c == *code => fails = true,
                        Expect::Ok => passes = true,
                        _ => {}
                    }
                }
            }
        }
        if let Some(version) = code.retired_in() {
            if fails {
                problems.push(format!(
                    "{}: retired in {version}, but a fixture expects it",
                    code.as_str()
                ));
            }
        } else if !fails {
            problems.push(format!(
                "{}: no fixture with a `# {}` case",
                code.as_str(),
                code.as_str()
            ));
        }
        if !passes {
            problems.push(format!(
                "{}: no fixture `{}*` with an `# OK` case",
                code.as_str(),
                code.as_str()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn five_different_errors_are_reported_in_one_run() {
    let reports = check(Path::new("tests/fixtures/diagnostics/five_errors.py"));
    let mut codes: Vec<Code> = reports
        .iter()
        .flat_map(|r| &r.diagnostics)
        .map(|d| d.code)
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 5, "{codes:?}");
}

#[test]
fn renderings_match_snapshots() {
    for fixture in fixtures() {
        let reports = check(&fixture);
        let name = fixture
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut human = Buffer::no_color();
        render::human(&reports, &mut human).expect("rendering to a buffer works");
        let human = String::from_utf8(human.into_inner()).expect("rendering is UTF-8");
        insta::assert_snapshot!(format!("{name}.human"), human);
        insta::assert_snapshot!(format!("{name}.json"), render::json(&reports));
        insta::assert_snapshot!(format!("{name}.github"), render::github(&reports));
    }
}
