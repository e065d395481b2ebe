//! nx-27017 (a MongoDB wire-protocol server on SQLite, from PyPI) started for a test
//! process that has no MongoDB URL, when `TASKFLOW_NX_27017` names its executable.
//!
//! One server per test process, on a free port with a scratch data directory. A test
//! process has no exit hook, so the server runs under a small shell watchdog that stops it
//! and removes its data once this process is gone.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The variable naming the nx-27017 executable (e.g. `~/.cache/taskflow-venv/bin/nx-27017`).
pub const NX_27017: &str = "TASKFLOW_NX_27017";

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The URL of this process's nx-27017, started on first use; `None` when
/// [`NX_27017`] is unset.
///
/// # Panics
/// When the executable is named but the server does not start.
pub fn url() -> Option<String> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        let exe = std::env::var(NX_27017).ok().filter(|e| !e.is_empty())?;
        Some(start(&exe))
    })
    .clone()
}

fn start(exe: &str) -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(crate::unique_name("taskflow-nx-"));
    // $1 executable, $2 port, $3 data dir, $4 the test process to outlive.
    let script = r#""$1" --host 127.0.0.1 --port "$2" --data-dir "$3/data" >/dev/null 2>&1 &
nx=$!
while kill -0 "$4" 2>/dev/null && kill -0 "$nx" 2>/dev/null; do sleep 0.5; done
kill "$nx" 2>/dev/null; wait "$nx" 2>/dev/null; rm -rf "$3""#;
    let mut watchdog = Command::new("sh")
        .args(["-c", script, "nx-watchdog", exe, &port.to_string()])
        .arg(&dir)
        .arg(std::process::id().to_string())
        // Not this process's pipes: whoever reads them to the end would wait for the
        // watchdog, which waits for this process to be reaped.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{NX_27017}={exe}: cannot start it: {e}"));
    // Reaps the watchdog should it end first (the server failed); it outlives us otherwise.
    std::thread::spawn(move || watchdog.wait());
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{NX_27017}={exe}: no server on 127.0.0.1:{port} after {START_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    format!("mongodb://127.0.0.1:{port}/?directConnection=true")
}
