//! Helpers shared by the integration tests. (Each test binary uses some of them.)
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `kappac` built for the tests (colors off) and waits for it.
pub fn kappac<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kappac"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("kappac runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One `#[test]` per fixture directory of `$dir`, named after it, calling `$check(&path)`, and
/// one that the names are exactly the directories of `$dir` with a `handler.py` (a new fixture
/// cannot be left out, nor a removed one linger). Invoke it in a module of its own.
#[macro_export]
macro_rules! test_each_fixture {
    ($dir:literal, $check:path, [$($name:ident),* $(,)?]) => {
        $(
            #[test]
            fn $name() {
                $check(&std::path::Path::new($dir).join(stringify!($name)));
            }
        )*

        #[test]
        fn every_fixture_has_its_test() {
            $crate::common::assert_fixtures_listed($dir, &[$(stringify!($name)),*]);
        }
    };
}

/// `$m!(dir, $check, [names])` for the apps of `tests/fixtures/transform` (the transform tests
/// and the run tests both take every one).
#[macro_export]
macro_rules! transform_fixtures {
    ($m:ident, $check:path) => {
        $crate::$m!(
            "tests/fixtures/transform",
            $check,
            [
                assignment_expressions,
                big_integers,
                callee_expressions,
                carriage_returns,
                checkpoint_is_durable,
                child_error,
                closures_and_lambdas,
                comprehensions,
                control_flow_mix,
                dead_data,
                decorators,
                deep_chain,
                del_after_pause,
                dict_view_iterators,
                drained_by_builtins,
                drained_stopping_early,
                early_returns,
                exception_chains,
                exit_from_tasks,
                expression_statement_with_pause_argument,
                fanout_and_sum,
                fib_futures,
                finally_after_pausing_handler,
                finally_after_return,
                finally_on_every_ending,
                finally_on_propagating_exception,
                finally_with_loop_jumps,
                fstrings_and_block_defs,
                future_waited_twice,
                generator_from_helper,
                inheritance_super,
                jumps_in_try_except,
                jumps_leaving_blocks,
                jumps_leaving_pausing_blocks,
                jumps_overridden_in_finally,
                loops_with_else,
                match_class_patterns,
                module_identity,
                names_inside_flattened_arguments,
                nested_loops,
                no_blank_lines_between,
                nonlocal_of_dead_variable,
                pausing_init,
                ping_pong,
                queue_counter,
                retry_with_counter_file,
                short_circuit,
                static_and_class_methods,
                tasks_that_exit,
                try_except,
                unpacking_before_pauses,
                with_blocks,
                with_target_rebound,
            ]
        );
    };
}

/// `$m!(dir, $check, [names])` for the apps of `tests/fixtures/apps`.
#[macro_export]
macro_rules! app_fixtures {
    ($m:ident, $check:path) => {
        $crate::$m!(
            "tests/fixtures/apps",
            $check,
            [
                long_loop,
                producer_consumer,
                returned_futures,
                side_effect_once,
            ]
        );
    };
}

pub fn assert_fixtures_listed(dir: &str, listed: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("handler.py").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = listed.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "the fixtures of {dir} and the names listed in tests/common/mod.rs differ"
    );
}

/// The CPython interpreters to test with: python3, and pyenv's 3.9–3.13 (a missing one is
/// said on stderr).
pub fn pythons() -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("python3")];
    for minor in 9..=13 {
        let Ok(entries) = std::fs::read_dir("/root/.pyenv/versions") else {
            break;
        };
        let mut matching: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("3.{minor}.")))
            })
            .map(|p| p.join("bin/python3"))
            .filter(|p| p.is_file())
            .collect();
        matching.sort();
        match matching.pop() {
            Some(python) => found.push(python),
            None => eprintln!("note: no CPython 3.{minor} here; emitted code not compiled with it"),
        }
    }
    found
}
