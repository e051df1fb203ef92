//! `kappac run` under faults, with real processes and real signals: an app that cannot be
//! imported, `kappac run` or the coordinator killed, a task that ends its own process, an app
//! whose modules shadow the standard library, and bad input. Nothing here depends on the
//! machine's speed: waits poll for a file or a process, with generous bounds as hang guards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn app(name: &str, handler: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kappac-faults-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("app dir");
    std::fs::write(dir.join("handler.py"), handler).expect("handler");
    dir
}

fn kappac_run(app: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kappac"));
    command.arg("run").arg(app).args(args);
    command
}

fn output_of(mut command: Command) -> Output {
    command.output().expect("kappac runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits (at most a minute: a hang guard, not a timing assertion) until `ready` holds.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: u32) -> bool {
    // A zombie has exited: only its parent has not reaped it yet.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            state != Some("Z")
        })
        .unwrap_or(false)
}

/// Sends a signal with the shell's `kill` (a builtin: nothing to install).
fn signal(pid: u32, name: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{name} {pid}"))
        .status()
        .expect("sh");
    assert!(status.success());
}

/// The pids the app's tasks wrote into `dir` (one file per process, named by its pid).
fn pids_in(dir: &Path) -> Vec<u32> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Two tasks spinning in a CPU loop, each with a `sleep 300` of its own; every process writes
/// its pid into the event's directory.
const SPINNING: &str = r#"
import os
import subprocess

import rt


def spin(directory):
    child = subprocess.Popen(["sleep", "300"])
    open(os.path.join(directory, str(child.pid)), "w").close()
    open(os.path.join(directory, str(os.getpid())), "w").close()
    x = 0
    while True:
        x += 1


def handler(event, context):
    futures = [rt.spawn(spin, (event["dir"],)) for _ in range(2)]
    return [f.wait() for f in futures]
"#;

/// Starts the spinning app and waits until its four processes have written their pids.
fn start_spinning(name: &str) -> (Child, PathBuf, Vec<u32>) {
    let app = app(name, SPINNING);
    let pids = app.join("pids");
    std::fs::create_dir_all(&pids).expect("pid dir");
    let event = format!("{{\"dir\": {:?}}}", pids.to_string_lossy());
    let child = kappac_run(&app, &["--event", &event, "--workers", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kappac run starts");
    wait_for("the tasks to start", || pids_in(&pids).len() >= 4);
    let started = pids_in(&pids);
    (child, app, started)
}

fn assert_all_gone(pids: &[u32], after: &str) {
    wait_for(&format!("every process to stop after {after}"), || {
        pids.iter().all(|&pid| !alive(pid))
    });
}

#[test]
fn killing_kappac_run_stops_the_coordinator_workers_and_their_subprocesses() {
    for how in ["KILL", "TERM", "INT"] {
        let (mut child, app, pids) = start_spinning(&format!("kill-run-{how}"));
        signal(child.id(), how);
        let _ = child.wait();
        assert_all_gone(&pids, &format!("SIG{how} to kappac run"));
        let _ = std::fs::remove_dir_all(app);
    }
}

#[test]
fn a_killed_coordinator_is_reported_and_its_workers_stop() {
    let (child, app, pids) = start_spinning("kill-coordinator");
    // The coordinator is the workers' parent.
    let mut coordinator = None;
    for &pid in &pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.contains("rt.worker") {
            let ppid: u32 = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())
                .expect("ppid");
            coordinator = Some(ppid);
        }
    }
    let coordinator = coordinator.expect("found the coordinator");
    signal(coordinator, "KILL");
    let output = child.wait_with_output().expect("kappac run ends");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("the coordinator was killed (signal 9)"),
        "{}",
        stderr(&output)
    );
    assert_all_gone(&pids, "the coordinator died");
    let _ = std::fs::remove_dir_all(app);
}

#[test]
fn an_app_that_cannot_be_imported_fails_at_once_with_the_users_file_and_line() {
    let app = app(
        "import-error",
        "import helper\n\n\ndef handler(event, context):\n    return helper.f()\n",
    );
    std::fs::write(app.join("helper.py"), "x = 1\ndef f(:\n    return 1\n").expect("helper");
    let output = output_of(kappac_run(&app, &["--workers", "4"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("cannot be imported"), "{text}");
    assert!(text.contains("File \"helper.py\", line 2"), "{text}");
    assert!(text.contains("SyntaxError"), "{text}");
    assert!(text.contains("0 restarts"), "{text}");
    let _ = std::fs::remove_dir_all(app);
}

#[test]
fn a_task_that_ends_its_own_process_is_reported_as_such() {
    let app = app(
        "os-exit",
        "import os\nimport rt\n\n\ndef dies():\n    os._exit(3)\n\n\ndef handler(event, context):\n    return rt.spawn(dies, ()).wait()\n",
    );
    let output = output_of(kappac_run(&app, &[]));
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("its worker exited with status 3"), "{text}");
    assert!(!text.contains("time limit"), "{text}");
    let _ = std::fs::remove_dir_all(app);
}

#[test]
fn the_coordinator_never_imports_the_apps_modules() {
    let app = app(
        "shadowing",
        "import rt\n\n\ndef square(x):\n    return x * x\n\n\ndef handler(event, context):\n    return rt.spawn(square, (7,)).wait()\n",
    );
    // (Modules the worker's runtime imports beyond Python's startup — `json`, `signal` … — are
    // refused instead: `run.rs an_app_module_the_runtime_would_shadow_fails_the_run`.)
    for module in ["random", "selectors", "types", "sqlite3", "subprocess"] {
        std::fs::write(
            app.join(format!("{module}.py")),
            format!("raise RuntimeError('the app\\'s {module}.py was imported')\n"),
        )
        .expect("module");
    }
    let output = output_of(kappac_run(&app, &[]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "49");
    let _ = std::fs::remove_dir_all(app);
}

#[test]
fn large_events_travel_by_file_and_bad_input_is_a_clear_error() {
    let app = app(
        "events",
        "def handler(event, context):\n    return [len(event['text']), event['deep']]\n",
    );
    let text = "x".repeat(1 << 20);
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let event = app.join("big.json");
    std::fs::write(
        &event,
        format!("{{\"text\": \"{text}\", \"deep\": {deep}}}"),
    )
    .expect("event");
    let output = output_of(kappac_run(
        &app,
        &["--event-file", &event.to_string_lossy()],
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("[1048576, [[[["));

    let bad = [
        (vec!["--block-wait", "nan"], "--block-wait"),
        (vec!["--block-wait", "inf"], "--block-wait"),
        (vec!["--event", "{"], "not valid JSON"),
    ];
    for (args, message) in bad {
        let output = output_of(kappac_run(&app, &args));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    std::fs::write(app.join("event.json"), b"{\"a\": \"\xff\"}").expect("event");
    let output = output_of(kappac_run(&app, &[]));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not UTF-8"), "{}", stderr(&output));
    std::fs::remove_file(app.join("event.json")).expect("rm");
    std::fs::create_dir(app.join("event.json")).expect("a directory");
    let output = output_of(kappac_run(&app, &[]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read the event"),
        "{}",
        stderr(&output)
    );
    let _ = std::fs::remove_dir_all(app);
}

/// Results and output of tens of megabytes move in linear time (this took minutes when
/// buffers were concatenated for every read) and a long line is relayed in pieces.
#[test]
fn large_results_and_output_lines_pass_through() {
    let app = app(
        "large",
        "import sys\nimport rt\n\n\ndef big(n):\n    return 'r' * n\n\n\ndef handler(event, context):\n    sys.stdout.write('p' * event['n'] + '\\n')\n    sys.stdout.flush()\n    return len(rt.spawn(big, (event['n'],)).wait())\n",
    );
    let n = 30 << 20;
    let output = output_of(kappac_run(&app, &["--event", &format!("{{\"n\": {n}}}")]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        &stderr(&output)[..2000.min(output.stderr.len())]
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        n.to_string()
    );
    let text = stderr(&output);
    let printed = text
        .lines()
        .find_map(|line| line.strip_prefix("[task 0] "))
        .expect("the task's line");
    assert_eq!(printed.len(), n, "the printed line was not relayed whole");
    assert!(printed.bytes().all(|b| b == b'p'));
    let _ = std::fs::remove_dir_all(app);
}

/// A database that is not a kappac store is refused (exit 2) and left as it was; a store in
/// use by another run is refused too.
#[test]
fn stores_are_identified_and_never_shared() {
    let app = app(
        "store",
        "import os\nimport time\nimport rt\n\n\ndef handler(event, context):\n    rt.checkpoint()\n    while not os.path.exists(event['go']):\n        time.sleep(0.05)\n    return 'done'\n",
    );
    let foreign = app.join("foreign.db");
    let create = Command::new("python3")
        .args(["-c", "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute('CREATE TABLE calls (x)'); db.execute('INSERT INTO calls VALUES (42)'); db.commit()"])
        .arg(&foreign)
        .status()
        .expect("python3");
    assert!(create.success());
    let go = app.join("go");
    let event = format!("{{\"go\": {:?}}}", go.to_string_lossy());
    let output = output_of(kappac_run(
        &app,
        &["--event", &event, "--store", &foreign.to_string_lossy()],
    ));
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is not a kappac store"),
        "{}",
        stderr(&output)
    );
    assert!(
        !stderr(&output).contains("Traceback"),
        "{}",
        stderr(&output)
    );
    let rows = Command::new("python3")
        .args(["-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT x FROM calls').fetchall())"])
        .arg(&foreign)
        .output()
        .expect("python3");
    assert_eq!(String::from_utf8_lossy(&rows.stdout).trim(), "[(42,)]");

    let store = app.join("runs.db");
    let store_arg = store.to_string_lossy().into_owned();
    let first = kappac_run(&app, &["--event", &event, "--store", &store_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("first run");
    wait_for("the first run's store", || store.exists());
    // The first run holds the store while it waits for `go`.
    std::thread::sleep(Duration::from_millis(200));
    let second = output_of(kappac_run(
        &app,
        &["--event", &event, "--store", &store_arg],
    ));
    std::fs::write(&go, "").expect("go");
    let first = first.wait_with_output().expect("first run ends");
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("in use by another kappac run"),
        "{}",
        stderr(&second)
    );
    let mode = Command::new("stat")
        .args(["-c", "%a"])
        .arg(&store)
        .output()
        .expect("stat");
    assert_eq!(String::from_utf8_lossy(&mode.stdout).trim(), "600");
    let _ = std::fs::remove_dir_all(app);
}

/// A run builds into a directory of its own: editing the app, and running it again, while a
/// run is in progress changes nothing for that run.
#[test]
fn a_run_never_sees_another_runs_code() {
    let version = |v: &str| {
        format!("import os\nimport time\nimport rt\n\nVERSION = {v:?}\n\n\ndef version():\n    import helper  # read only now, after the edit\n    return helper.VERSION\n\n\ndef handler(event, context):\n    open(event['started'], 'w').close()\n    while not os.path.exists(event['go']):\n        time.sleep(0.05)\n    return [VERSION, rt.spawn(version, ()).wait()]\n")
    };
    let app = app("versions", &version("v1"));
    std::fs::write(app.join("helper.py"), "VERSION = 'v1'\n").expect("helper");
    let started = app.join("started");
    let go = app.join("go");
    let event = format!(
        "{{\"started\": {:?}, \"go\": {:?}}}",
        started.to_string_lossy(),
        go.to_string_lossy()
    );
    let first = kappac_run(&app, &["--event", &event, "--workers", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("first run");
    wait_for("the first run to start", || started.exists());
    std::fs::write(app.join("handler.py"), version("v2")).expect("edit");
    std::fs::write(app.join("helper.py"), "VERSION = 'v2'\n").expect("edit");
    let other = app.join("other-go");
    std::fs::write(&other, "").expect("go");
    let second_event = format!(
        "{{\"started\": {:?}, \"go\": {:?}}}",
        app.join("other-started").to_string_lossy(),
        other.to_string_lossy()
    );
    let second = output_of(kappac_run(&app, &["--event", &second_event]));
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "[\"v2\", \"v2\"]"
    );
    std::fs::write(&go, "").expect("go");
    let first = first.wait_with_output().expect("first run ends");
    assert_eq!(
        String::from_utf8_lossy(&first.stdout).trim(),
        "[\"v1\", \"v1\"]",
        "{}",
        stderr(&first)
    );
    let _ = std::fs::remove_dir_all(app);
}

/// `kappac clean` removes what runs left in the cache (a killed `kappac`'s build, directories
/// of earlier versions) and keeps the directory of a run in progress, which holds its lock.
#[test]
fn clean_removes_leftovers_and_keeps_runs_in_progress() {
    let root = std::env::temp_dir().join(format!("kappac-clean-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cache = root.join("cache");
    let leftover = cache.join("kappac/runs/app-left");
    std::fs::create_dir_all(leftover.join("bundle")).expect("dirs");
    std::fs::write(leftover.join("bundle/handler.py"), "x = 1\n").expect("write");
    std::fs::write(leftover.join("run.lock"), "").expect("write");
    let legacy = cache.join("kappac/b1-cedf2e2f");
    std::fs::create_dir_all(&legacy).expect("dirs");
    // A run that waits for the test's signal, so that it is surely in progress during `clean`.
    let go = root.join("go");
    let app = app(
        "clean-in-progress",
        "import os, time\n\n\ndef handler(event, context):\n    while not os.path.exists(event['go']):\n        time.sleep(0.05)\n    return 'ran'\n",
    );
    let event = format!(r#"{{"go": {:?}}}"#, go.to_string_lossy());
    let running = Command::new(env!("CARGO_BIN_EXE_kappac"))
        .args(["run"])
        .arg(&app)
        .args(["--event", &event])
        .env("XDG_CACHE_HOME", &cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kappac runs");
    let runs = cache.join("kappac/runs");
    let in_progress = || {
        std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p != &leftover && p.join("run.lock").exists())
    };
    wait_for("the run's directory", || in_progress().is_some());
    let kept = in_progress().expect("the run's directory");
    let clean = Command::new(env!("CARGO_BIN_EXE_kappac"))
        .arg("clean")
        .env("XDG_CACHE_HOME", &cache)
        .output()
        .expect("kappac clean runs");
    let said = String::from_utf8_lossy(&clean.stdout).into_owned();
    assert!(clean.status.success(), "{said}");
    assert!(said.contains("removed 2 entries"), "{said}");
    assert!(said.contains("1 in use by a run, kept"), "{said}");
    assert!(!leftover.exists() && !legacy.exists(), "{said}");
    assert!(kept.exists(), "the run in progress keeps its build");
    std::fs::write(&go, "").expect("go");
    let output = running.wait_with_output().expect("the run ends");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "\"ran\"");
    assert!(!kept.exists(), "a finished run removes its directory");
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(app);
}
