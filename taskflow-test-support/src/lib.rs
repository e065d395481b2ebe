//! # taskflow-test-support
//!
//! Test support shared by every TaskFlow crate's tests (`publish = false`), so each rule
//! is written once:
//!
//! - [`backend_url`], [`postgres_url`], [`mongo_url`]: a backend's test URL from
//!   `TASKFLOW_TEST_POSTGRES_URL` / `TASKFLOW_TEST_MONGO_URL`. Unset locally, the tests
//!   of that backend print one `skipped: … not set` line and return; unset under
//!   `CI=true`, they fail: CI never silently skips a backend.
//! - [`unique_name`]: a fresh database or schema name.
//! - [`pg`] (feature `postgres`): a fresh PostgreSQL schema, dropped with its guard.
//! - [`http`] (feature `http`): request helpers that fold the
//!   `.send().await.unwrap()` + status + `.json()` chains, and the problem+json check.
//! - [`generated`]: keeps a generated block of a source file (such as a documented list)
//!   equal to what the code says, failing on drift.
//!
//! The heavy dependencies (sqlx, reqwest) are behind features, so a crate whose tests
//! need none of them (taskflow-core) compiles neither.
//!
//! - [`nx`]: without a MongoDB URL, [`mongo_url`] starts nx-27017 for the test process
//!   when `TASKFLOW_NX_27017` names its executable. `scripts/test` instead starts one
//!   server for the whole run and exports `TASKFLOW_TEST_MONGO_URL`; point that variable at
//!   a real MongoDB to test against it.
//!
//! ```no_run
//! # async fn open(url: &str) {}
//! # async fn example() {
//! // In a test: skip locally (one line), fail under CI=true.
//! let Some(url) = taskflow_test_support::mongo_url() else { return };
//! open(&url).await;
//! # }
//! ```

pub mod generated;
#[cfg(feature = "http")]
pub mod http;
pub mod nx;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(feature = "proxy")]
pub mod proxy;

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

/// The variable naming the PostgreSQL database tests may use.
pub const POSTGRES_URL: &str = "TASKFLOW_TEST_POSTGRES_URL";
/// The variable naming the MongoDB server tests may use.
pub const MONGO_URL: &str = "TASKFLOW_TEST_MONGO_URL";

/// Whether this run is CI (`CI=true`), where no backend may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The URL in the variable `var` for the tests of `backend` (a name for messages, such as
/// `"PostgreSQL"`).
///
/// `None` when it is unset or empty outside CI, after printing
/// `skipped: {backend} tests, {var} not set` once per process and variable.
///
/// # Panics
/// When it is unset or empty and `CI=true`: CI never silently skips a backend.
pub fn backend_url(var: &str, backend: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("{var} is not set, and CI=true: {backend} tests must run in CI"),
        _ => {
            say_skipped_once(var, backend);
            None
        }
    }
}

/// [`backend_url`] for PostgreSQL ([`POSTGRES_URL`]).
pub fn postgres_url() -> Option<String> {
    backend_url(POSTGRES_URL, "PostgreSQL")
}

/// [`backend_url`] for MongoDB ([`MONGO_URL`]); when that is unset, a server of
/// [`nx::url`] if `TASKFLOW_NX_27017` names nx-27017.
pub fn mongo_url() -> Option<String> {
    let set = std::env::var(MONGO_URL).is_ok_and(|u| !u.is_empty());
    if !set && let Some(url) = nx::url() {
        return Some(url);
    }
    backend_url(MONGO_URL, "MongoDB")
}

/// Prints the skip line once per variable. It goes to the process's stderr itself, not
/// through `eprintln!`, so libtest's output capture does not hide it in a passing run.
fn say_skipped_once(var: &str, backend: &str) {
    static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if said.get_or_insert_with(HashSet::new).insert(var.to_owned()) {
        let _ = writeln!(std::io::stderr(), "skipped: {backend} tests, {var} not set");
    }
}

/// A name no other test run uses: `prefix` and a UUIDv7 in hex (valid as a PostgreSQL
/// identifier and a MongoDB database name; sorts by creation time).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A variable no environment sets, so the child below always sees it unset.
    const UNSET: &str = "TASKFLOW_TEST_SUPPORT_NEVER_SET_URL";

    #[test]
    fn unique_names_differ_and_keep_their_prefix() {
        let (a, b) = (unique_name("t_"), unique_name("t_"));
        assert_ne!(a, b);
        assert!(a.starts_with("t_") && a.len() == 34, "{a}");
        assert!(a[2..].bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
    }

    /// Run by the test below in a child process (`CI` set or not there).
    #[test]
    #[ignore = "run by unset_urls_skip_locally_and_fail_under_ci in a child process"]
    fn child_reads_an_unset_url_twice() {
        assert_eq!(backend_url(UNSET, "Self-test"), None);
        assert_eq!(backend_url(UNSET, "Self-test"), None);
    }

    /// Run by the test below in a child process without a MongoDB URL.
    #[test]
    #[ignore = "run by nx_27017_is_started_without_a_mongo_url in a child process"]
    fn child_gets_a_live_mongo_url() {
        let url = mongo_url().expect("nx-27017 was named");
        let port: u16 = url
            .trim_start_matches("mongodb://127.0.0.1:")
            .split('/')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the URL");
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("the server answers");
        assert_eq!(mongo_url(), Some(url), "one server per process");
    }

    /// `scripts/test` names nx-27017 in `TASKFLOW_NX_27017`; without it (a developer's
    /// machine without the virtualenv) there is nothing to start.
    #[test]
    fn nx_27017_is_started_without_a_mongo_url() {
        let Some(exe) = std::env::var(nx::NX_27017).ok().filter(|e| !e.is_empty()) else {
            let external = std::env::var(MONGO_URL).is_ok_and(|u| !u.is_empty());
            assert!(
                external || !in_ci(),
                "scripts/test names nx-27017 under CI=true"
            );
            return;
        };
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "tests::child_gets_a_live_mongo_url"])
            .env_remove(MONGO_URL)
            .env(nx::NX_27017, exe)
            .output()
            .expect("run the test binary");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// The rule itself, observed from outside: locally one skip line and a pass; under
    /// `CI=true` a failure naming the variable.
    #[test]
    fn unset_urls_skip_locally_and_fail_under_ci() {
        let child = |ci: Option<&str>| {
            let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
            cmd.args([
                "--ignored",
                "--exact",
                "tests::child_reads_an_unset_url_twice",
            ])
            .env_remove(UNSET)
            .env_remove("CI");
            if let Some(ci) = ci {
                cmd.env("CI", ci);
            }
            cmd.output().expect("run the test binary")
        };
        let local = child(None);
        let stderr = String::from_utf8_lossy(&local.stderr);
        assert!(local.status.success(), "{stderr}");
        let line = format!("skipped: Self-test tests, {UNSET} not set");
        assert_eq!(stderr.matches(&line).count(), 1, "{stderr}");

        let ci = child(Some("true"));
        let out = String::from_utf8_lossy(&ci.stdout);
        assert!(!ci.status.success(), "{out}");
        assert!(out.contains("is not set, and CI=true"), "{out}");
    }
}
