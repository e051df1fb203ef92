//! The Redis store with a real `redis-server` (started here on a free localhost port, append-only
//! file on, always stopped) and the redis package of the venv `scripts/test.sh` makes
//! (`KAPPAC_TEST_PYTHON`, or `target/test-venv/bin/python`): its Python unit tests, and
//! `kappac run --store redis://…` giving the reference result, also with workers killed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Python with the redis package, from the venv `scripts/test.sh` makes.
fn venv_python() -> PathBuf {
    let python = std::env::var_os("KAPPAC_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/test-venv/bin/python"));
    assert!(
        python.is_file(),
        "{} not found: `bash scripts/test.sh` makes the venv these tests need \
         (redis-server and the redis package)",
        python.display()
    );
    python
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A redis-server of its own, stopped when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// With the append-only file on and synced at every write, unless `config` says otherwise.
    fn start(config: &[&str]) -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("kappac-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(config)
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; scripts/test.sh installs it)");
        let server = RedisServer { child, port, dir };
        for _ in 0..400 {
            if server.command("PING").as_deref() == Some("+PONG") {
                return server;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not answer on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// One inline command, its first reply line.
    fn command(&self, command: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut reply = [0u8; 512];
        let n = stream.read(&mut reply).ok()?;
        let text = String::from_utf8_lossy(&reply[..n]).into_owned();
        text.lines().next().map(str::to_owned)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn redis_store_unit_tests() {
    let output = Command::new(venv_python())
        .args(["-m", "unittest", "discover", "-s", "tests/py/cluster"])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn reference(app: &Path) -> serde_json::Value {
    let output = Command::new("python3")
        .arg("tests/py/drive.py")
        .arg("reference")
        .arg(app)
        .output()
        .expect("python3 runs");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("reference JSON");
    value["result"].clone()
}

#[test]
fn runs_on_the_redis_store_give_the_reference_result() {
    let server = RedisServer::start(&[]);
    let python = venv_python();
    let apps = [
        "tests/fixtures/transform/fanout_and_sum",
        "tests/fixtures/apps/producer_consumer",
    ];
    let mut runs = 0;
    for app in apps {
        let expected = reference(Path::new(app));
        for chaos in [None, Some("kill=0.3,seed=4")] {
            let mut args = vec![
                "run".to_owned(),
                app.to_owned(),
                "--event-file".to_owned(),
                format!("{app}/event.json"),
                "--store".to_owned(),
                server.url(),
                "--python".to_owned(),
                python.to_string_lossy().into_owned(),
            ];
            if let Some(chaos) = chaos {
                args.extend(["--chaos".to_owned(), chaos.to_owned()]);
            }
            let output = common::kappac(&args);
            let stdout = common::stdout(&output);
            assert!(
                output.status.success(),
                "{app} {chaos:?}: {stdout}{}",
                common::stderr(&output)
            );
            let got: serde_json::Value = serde_json::from_str(stdout.trim()).expect("result JSON");
            assert_eq!(got, expected, "{app} {chaos:?}");
            runs += 1;
        }
    }
    // Each run is in the store, finished.
    assert_eq!(
        server.command("ZCARD kappac:runs"),
        Some(format!(":{runs}"))
    );
}

#[test]
fn a_redis_server_without_an_append_only_file_is_refused_before_the_run() {
    let server = RedisServer::start(&["--appendonly", "no"]);
    let app = "tests/fixtures/transform/fanout_and_sum";
    let output = common::kappac(&[
        "run",
        app,
        "--event-file",
        &format!("{app}/event.json"),
        "--store",
        &server.url(),
        "--python",
        &venv_python().to_string_lossy(),
    ]);
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("keeps no append-only file"), "{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
    assert_eq!(server.command("DBSIZE").as_deref(), Some(":0"));
}

#[test]
fn a_run_whose_redis_server_dies_fails_clearly() {
    let mut server = RedisServer::start(&[]);
    let app = std::env::temp_dir().join(format!("kappac-redis-dies-{}", std::process::id()));
    std::fs::create_dir_all(&app).expect("app dir");
    // Never finishes by itself: checkpoints until the store fails.
    std::fs::write(
        app.join("handler.py"),
        "import rt\n\ndef handler(event, context):\n    while True:\n        rt.checkpoint()\n",
    )
    .expect("write");
    let run = Command::new(env!("CARGO_BIN_EXE_kappac"))
        .arg("run")
        .arg(&app)
        .args(["--store", &server.url(), "--python"])
        .arg(venv_python())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kappac runs");
    // Once the run has stored a checkpoint (it is past opening the store), the server goes.
    let mut started = false;
    for _ in 0..2400 {
        if server.command("KEYS kappac:run:*:checkpoints").as_deref() == Some("*1") {
            started = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    let output = run.wait_with_output().expect("kappac ends");
    let _ = std::fs::remove_dir_all(&app);
    assert!(started, "the run never wrote to the store");
    let stderr = common::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("the Redis store {} failed", server.url())),
        "{stderr}"
    );
    assert!(!stderr.contains("Traceback"), "{stderr}");
}
