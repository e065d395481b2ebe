//! The `taskflow` binary as a child process: started on a free port, stopped with SIGTERM
//! or killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_taskflow");

/// `taskflow` run in `dir`, with no configuration inherited from the environment.
pub fn taskflow(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("TASKFLOW_JWT_SECRET")
        .env_remove("TASKFLOW_JWT_SECRET_FILE")
        .env_remove("TASKFLOW_DATABASE_URL")
        .env_remove("TASKFLOW_BIND")
        .env("RUST_LOG", "info");
    cmd
}

/// A running `taskflow serve`, killed on drop.
pub struct Serve {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:port`.
    pub origin: String,
    /// What the server logged up to and including its "listening" line.
    pub startup_log: Vec<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// SIGKILL (`kill -9`): the process gets no chance to flush or close anything.
    pub fn kill_hard(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

/// Starts `taskflow serve` on a free port and waits for its "listening" line.
pub fn serve(dir: &Path, extra: &[&str]) -> Serve {
    let mut child = taskflow(dir)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn taskflow");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut startup_log = Vec::new();
    let origin = loop {
        let line = lines
            .next()
            .expect("taskflow exited before listening")
            .unwrap();
        startup_log.push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            let url = rest.split_whitespace().next().unwrap();
            assert!(line.contains("/docs"), "prints where Swagger UI is: {line}");
            break url.to_owned();
        }
    };
    // Keep draining logs so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Serve {
        child,
        origin,
        startup_log,
    }
}

/// Sends SIGTERM and waits (at most 20 s) for the exit.
pub fn terminate(s: &mut Serve) -> std::process::ExitStatus {
    let pid = s.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP client with a 30-second timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
