//! Several `taskflow serve` processes on one database behave as one system
//! (docs/running-several-instances.md): every write, logout, logout-all, password change,
//! role change and disable made through one instance is honoured by the others within the
//! coherence bound (100 ms), measured and printed per case; the login throttle is one
//! budget; an event stream on one instance sees writes made through another and resumes
//! on a third after its instance is killed with SIGKILL; and an instance whose feed from
//! the database is cut serves nothing stale and refuses revoked tokens, then recovers.
//!
//! Run on PostgreSQL, on MongoDB (nx-27017) and on one SQLite file.

mod support;

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use taskflow_test_support::proxy::Proxy;

use support::binary::{Serve, serve, taskflow};

/// The bound the servers run with (their default) and every case is held to.
const BOUND: Duration = Duration::from_millis(100);
/// Longest a probe loop runs before the case fails.
const GIVE_UP: Duration = Duration::from_secs(10);
const ADMIN_PASSWORD: &str = "fleet admin password";

/// Instances on one database, sharing a JWT secret, with rate limits off (the cases send
/// many requests from one address).
struct Fleet {
    dir: tempfile::TempDir,
    database_url: String,
    secret: PathBuf,
    servers: Vec<Serve>,
    http: Client,
    backend: &'static str,
}

impl Fleet {
    fn start(backend: &'static str, database_url: String, instances: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("jwt-secret");
        std::fs::write(&secret, "a fleet's one secret, at least 32 bytes long").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut fleet = Fleet {
            dir,
            database_url,
            secret,
            servers: Vec::new(),
            http: Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            backend,
        };
        for _ in 0..instances {
            let server = fleet.instance(&fleet.database_url.clone());
            fleet.servers.push(server);
        }
        fleet
    }

    /// One more instance on `database_url` (the fleet's, or a proxy in front of it).
    fn instance(&self, database_url: &str) -> Serve {
        serve(
            self.dir.path(),
            &[
                "--database-url",
                database_url,
                "--jwt-secret-file",
                self.secret.to_str().unwrap(),
                "--rate-limit-per-ip",
                "0",
                "--auth-rate-limit-per-ip",
                "0",
                "--rate-limit-per-user",
                "0",
            ],
        )
    }

    fn url(&self, server: usize, path: &str) -> String {
        format!("{}/api/v1{path}", self.servers[server].origin)
    }

    /// `taskflow create-admin` on the fleet's database.
    fn create_admin(&self, email: &str) {
        let mut child = taskflow(self.dir.path())
            .args([
                "create-admin",
                "--email",
                email,
                "--database-url",
                &self.database_url,
                "--jwt-secret-file",
                self.secret.to_str().unwrap(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{ADMIN_PASSWORD}").unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "create-admin: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn register(&self, server: usize, email: &str, password: &str) -> Value {
        let body = json!({"email": email, "password": password, "name": email});
        send_json(
            self.http
                .post(self.url(server, "/auth/register"))
                .json(&body),
            StatusCode::CREATED,
        )
        .await
    }

    /// Logs in through `server`; the access token.
    async fn login(&self, server: usize, email: &str, password: &str) -> String {
        let pair = self.login_pair(server, email, password).await;
        pair["access_token"].as_str().unwrap().to_owned()
    }

    /// Logs in through `server`; the token pair.
    async fn login_pair(&self, server: usize, email: &str, password: &str) -> Value {
        let body = json!({"email": email, "password": password});
        send_json(
            self.http.post(self.url(server, "/auth/login")).json(&body),
            StatusCode::OK,
        )
        .await
    }

    fn get(&self, server: usize, path: &str, token: &str) -> RequestBuilder {
        self.http.get(self.url(server, path)).bearer_auth(token)
    }

    /// Sends `request` until `honoured` holds for the answer; returns how long after `ack`
    /// the first honoured probe was sent. Every probe sent later than [`BOUND`] after `ack`
    /// must be honoured, and once honoured, the next probes stay so.
    async fn honoured<F, Fut>(&self, what: &str, server: usize, ack: Instant, probe: F) -> Duration
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        loop {
            let sent = ack.elapsed();
            if probe().await {
                for _ in 0..3 {
                    assert!(probe().await, "{what}: honoured, then not again");
                }
                println!(
                    "{}: {what} honoured on instance {server} after {:.1} ms",
                    self.backend,
                    sent.as_secs_f64() * 1000.0
                );
                return sent;
            }
            assert!(
                sent <= BOUND,
                "{}: {what} not honoured on instance {server} by a request sent {sent:?} after the write",
                self.backend
            );
            assert!(sent < GIVE_UP);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

async fn send_json(request: RequestBuilder, status: StatusCode) -> Value {
    let response = request.send().await.unwrap();
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

async fn status_of(request: RequestBuilder) -> StatusCode {
    request.send().await.unwrap().status()
}

/// Every case of the list, written through instance 0 and probed on each other one.
async fn every_change_is_honoured_everywhere(fleet: &Fleet) {
    fleet.create_admin("boss@example.com");
    let boss = fleet.login(0, "boss@example.com", ADMIN_PASSWORD).await;
    let ann = fleet.register(0, "ann@example.com", "ann's password").await;
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    let others = 1..fleet.servers.len();
    let mut delays = Vec::new();

    // A task updated, then deleted.
    let token = fleet.login(0, "ann@example.com", "ann's password").await;
    let task = send_json(
        fleet
            .http
            .post(fleet.url(0, "/tasks"))
            .bearer_auth(&token)
            .json(&json!({"title": "shared"})),
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    for s in others.clone() {
        for _ in 0..3 {
            assert_eq!(status_of(fleet.get(s, &path, &token)).await, StatusCode::OK);
        }
    }
    send_json(
        fleet
            .http
            .patch(fleet.url(0, &path))
            .bearer_auth(&token)
            .json(&json!({"title": "changed through instance 0"})),
        StatusCode::OK,
    )
    .await;
    let ack = Instant::now();
    for s in others.clone() {
        let d = fleet
            .honoured("task update", s, ack, || async {
                let r = fleet.get(s, &path, &token).send().await.unwrap();
                r.json::<Value>().await.unwrap()["version"] == 2
            })
            .await;
        delays.push(d);
    }
    let r = fleet.http.delete(fleet.url(0, &path)).bearer_auth(&token);
    assert_eq!(status_of(r).await, StatusCode::NO_CONTENT);
    let ack = Instant::now();
    for s in others.clone() {
        let d = fleet
            .honoured("task delete", s, ack, || async {
                status_of(fleet.get(s, &path, &token)).await == StatusCode::NOT_FOUND
            })
            .await;
        delays.push(d);
    }

    // Session and account changes: each leaves a token that others must refuse.
    let mut password = "ann's password".to_owned();
    for case in [
        "logout",
        "logout-all",
        "password change",
        "disable",
        "role change",
    ] {
        let acting = fleet.login(0, "ann@example.com", &password).await;
        let watched_pair = fleet.login_pair(0, "ann@example.com", &password).await;
        let watched = watched_pair["access_token"].as_str().unwrap().to_owned();
        for s in others.clone() {
            for _ in 0..3 {
                let me = status_of(fleet.get(s, "/auth/me", &watched)).await;
                assert_eq!(me, StatusCode::OK, "{case}: warm");
            }
        }
        let (acted, expect) = match case {
            "logout" => (
                fleet
                    .http
                    .post(fleet.url(0, "/auth/logout"))
                    .bearer_auth(&watched)
                    .json(&json!({"refresh_token": watched_pair["refresh_token"]})),
                StatusCode::UNAUTHORIZED,
            ),
            "logout-all" => (
                fleet
                    .http
                    .post(fleet.url(0, "/auth/logout-all"))
                    .bearer_auth(&acting),
                StatusCode::UNAUTHORIZED,
            ),
            "password change" => {
                let new = format!("{password} changed");
                let body = json!({"current_password": password, "new_password": new});
                password = new;
                (
                    fleet
                        .http
                        .post(fleet.url(0, "/auth/password"))
                        .bearer_auth(&acting)
                        .json(&body),
                    StatusCode::UNAUTHORIZED,
                )
            }
            "disable" => (
                fleet
                    .http
                    .patch(fleet.url(0, &format!("/users/{ann_id}")))
                    .bearer_auth(&boss)
                    .json(&json!({"disabled": true})),
                StatusCode::UNAUTHORIZED,
            ),
            // Promoted: the same token may now list users.
            _ => (
                fleet
                    .http
                    .patch(fleet.url(0, &format!("/users/{ann_id}")))
                    .bearer_auth(&boss)
                    .json(&json!({"role": "admin"})),
                StatusCode::OK,
            ),
        };
        let probe_path = if case == "role change" {
            "/users"
        } else {
            "/auth/me"
        };
        if case == "role change" {
            for s in others.clone() {
                let before = status_of(fleet.get(s, probe_path, &watched)).await;
                assert_eq!(before, StatusCode::FORBIDDEN, "a user may not list users");
            }
        }
        let done = acted.send().await.unwrap().status();
        assert!(done.is_success(), "{case} through instance 0: {done}");
        let ack = Instant::now();
        for s in others.clone() {
            let d = fleet
                .honoured(case, s, ack, || async {
                    status_of(fleet.get(s, probe_path, &watched)).await == expect
                })
                .await;
            delays.push(d);
        }
        if case == "disable" {
            let enable = fleet
                .http
                .patch(fleet.url(0, &format!("/users/{ann_id}")))
                .bearer_auth(&boss)
                .json(&json!({"disabled": false}));
            send_json(enable, StatusCode::OK).await;
        }
    }
    delays.sort();
    println!(
        "{}: {} cases on {} instances; delay p50 {:.1} ms, max {:.1} ms (bound {} ms)",
        fleet.backend,
        delays.len(),
        fleet.servers.len(),
        delays[delays.len() / 2].as_secs_f64() * 1000.0,
        delays.last().unwrap().as_secs_f64() * 1000.0,
        BOUND.as_millis()
    );
}

/// Failed logins for one account from one address, spread over the instances: the sixth
/// is `429` wherever it lands.
async fn the_login_throttle_is_one_budget(fleet: &Fleet) {
    fleet
        .register(0, "target@example.com", "the real password")
        .await;
    let n = fleet.servers.len();
    for attempt in 0..6 {
        let body = json!({"email": "target@example.com", "password": "a wrong guess"});
        let r = fleet
            .http
            .post(fleet.url(attempt % n, "/auth/login"))
            .json(&body);
        let status = status_of(r).await;
        let want = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(
            status,
            want,
            "failure {} on instance {}",
            attempt + 1,
            attempt % n
        );
    }
    println!(
        "{}: the sixth failure was 429 on instance {}",
        fleet.backend,
        5 % n
    );
}

/// One parsed Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
struct Frame {
    id: String,
    event: String,
    data: Value,
}

/// An open `GET /events`, parsed frame by frame (comments skipped).
struct Events {
    bytes: futures_util::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl Events {
    async fn open(fleet: &Fleet, server: usize, token: &str, last_event_id: Option<&str>) -> Self {
        let request = fleet
            .http
            .get(fleet.url(server, "/events"))
            .bearer_auth(token);
        Self::send(request, last_event_id).await
    }

    /// A stream opened with a ticket in the URL instead of a header (what browsers do).
    async fn open_with_ticket(
        fleet: &Fleet,
        server: usize,
        ticket: &str,
        last_event_id: Option<&str>,
    ) -> Self {
        let request = fleet
            .http
            .get(fleet.url(server, "/events"))
            .query(&[("ticket", ticket)]);
        Self::send(request, last_event_id).await
    }

    async fn send(request: RequestBuilder, last_event_id: Option<&str>) -> Self {
        let mut request = request.timeout(Duration::from_secs(3600));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let ct = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        Self {
            bytes: response
                .bytes_stream()
                .map(|r| r.map(|b| b.to_vec()))
                .boxed(),
            buffer: String::new(),
        }
    }

    /// The next event, which must come within 5 s (`None`: the stream ended).
    async fn next(&mut self) -> Option<Frame> {
        tokio::time::timeout(Duration::from_secs(5), self.next_frame())
            .await
            .expect("an event within 5 s")
    }

    async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if let (Some(id), Some(event)) = (id, event) {
                    let data = serde_json::from_str(&data).unwrap();
                    return Some(Frame { id, event, data });
                }
                continue;
            }
            let chunk = self.bytes.next().await?.ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// Creates a task through instance 0.
async fn create_task(fleet: &Fleet, token: &str, title: &str) -> Value {
    let request = fleet
        .http
        .post(fleet.url(0, "/tasks"))
        .bearer_auth(token)
        .json(&json!({"title": title}));
    send_json(request, StatusCode::CREATED).await
}

/// A stream on instance 1 sees a task created through instance 0; instance 1 is killed
/// with SIGKILL, two more tasks are created meanwhile, and the client resumes on instance 2
/// with `Last-Event-ID`: exactly the two, in order, nothing repeated.
async fn a_stream_resumes_on_another_instance(fleet: &mut Fleet) {
    assert!(fleet.servers.len() >= 3);
    fleet.register(0, "sue@example.com", "sue's password").await;
    let token = fleet.login(0, "sue@example.com", "sue's password").await;
    let mut events = Events::open(fleet, 1, &token, None).await;
    let first = create_task(fleet, &token, "first").await;
    let ack = Instant::now();
    let seen = events.next().await.expect("an event");
    println!(
        "{}: a write through instance 0 reached a stream on instance 1 after {:.1} ms",
        fleet.backend,
        ack.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(seen.event, "task.created");
    assert_eq!(seen.data["data"]["task"]["id"], first["id"]);
    assert_eq!(seen.data["id"], seen.id.as_str());

    fleet.servers[1].kill_hard();
    drop(events);
    let second = create_task(fleet, &token, "second").await;
    let third = create_task(fleet, &token, "third").await;
    // Resumed on instance 2 with a ticket issued by instance 0, as a browser would.
    let ticket = send_json(
        fleet
            .http
            .post(fleet.url(0, "/events/ticket"))
            .bearer_auth(&token),
        StatusCode::OK,
    )
    .await;
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let mut resumed = Events::open_with_ticket(fleet, 2, &ticket, Some(&seen.id)).await;
    let again = fleet
        .http
        .get(fleet.url(2, "/events"))
        .query(&[("ticket", ticket.as_str())]);
    assert_eq!(
        status_of(again).await,
        StatusCode::UNAUTHORIZED,
        "a ticket opens one stream"
    );
    let a = resumed.next().await.expect("the second task");
    let b = resumed.next().await.expect("the third task");
    assert_eq!(
        a.data["data"]["task"]["id"], second["id"],
        "nothing skipped"
    );
    assert_eq!(b.data["data"]["task"]["id"], third["id"]);
    assert!(seen.id < a.id && a.id < b.id, "ids sort in log order");
    // Nothing else is pending: a fourth write is the next frame.
    let fourth = create_task(fleet, &token, "fourth").await;
    let c = resumed.next().await.expect("the fourth task");
    assert_eq!(
        c.data["data"]["task"]["id"], fourth["id"],
        "nothing repeated"
    );

    // The stream ends when the session is revoked.
    let r = fleet
        .http
        .post(fleet.url(0, "/auth/logout-all"))
        .bearer_auth(&token);
    assert_eq!(status_of(r).await, StatusCode::NO_CONTENT);
    let ack = Instant::now();
    assert_eq!(
        resumed.next().await,
        None,
        "the stream ends after logout-all"
    );
    println!(
        "{}: the stream on instance 2 ended {:.1} ms after logout-all through instance 0",
        fleet.backend,
        ack.elapsed().as_secs_f64() * 1000.0
    );
    fleet.servers[1] = fleet.instance(&fleet.database_url.clone());
}

/// An instance reaching the database through a proxy that is cut: while cut it answers
/// nothing stale (an error instead) and refuses a token revoked through another instance;
/// restored, it recovers by itself and honours everything.
async fn a_cut_feed_fails_safe(fleet: &mut Fleet, proxied_url: String, proxy: &Proxy) {
    let far = fleet.instance(&proxied_url);
    fleet.servers.push(far);
    let far_idx = fleet.servers.len() - 1;
    fleet.register(0, "cut@example.com", "cut's password").await;
    let token = fleet.login(0, "cut@example.com", "cut's password").await;
    let task = send_json(
        fleet
            .http
            .post(fleet.url(0, "/tasks"))
            .bearer_auth(&token)
            .json(&json!({"title": "before the cut"})),
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    for _ in 0..3 {
        assert_eq!(
            status_of(fleet.get(far_idx, &path, &token)).await,
            StatusCode::OK
        );
    }
    proxy.cut();
    send_json(
        fleet
            .http
            .patch(fleet.url(0, &path))
            .bearer_auth(&token)
            .json(&json!({"title": "changed during the cut"})),
        StatusCode::OK,
    )
    .await;
    let r = fleet
        .http
        .post(fleet.url(0, "/auth/logout-all"))
        .bearer_auth(&token);
    assert_eq!(status_of(r).await, StatusCode::NO_CONTENT);
    tokio::time::sleep(BOUND * 2).await;
    for _ in 0..5 {
        let status = status_of(fleet.get(far_idx, &path, &token)).await;
        assert!(
            status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::UNAUTHORIZED,
            "{}: with its feed cut the instance answered {status}: stale",
            fleet.backend
        );
    }
    proxy.restore();
    let restored = Instant::now();
    loop {
        let status = status_of(fleet.get(far_idx, &path, &token)).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "never a stale 200");
        assert!(
            restored.elapsed() < GIVE_UP,
            "{}: did not recover",
            fleet.backend
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fresh = fleet.login(0, "cut@example.com", "cut's password").await;
    let body = send_json(fleet.get(far_idx, &path, &fresh), StatusCode::OK).await;
    assert_eq!(body["title"], "changed during the cut");
    println!(
        "{}: the cut instance recovered {:.0} ms after the feed came back",
        fleet.backend,
        restored.elapsed().as_secs_f64() * 1000.0
    );
    // It reaches the database only through the proxy, which goes with this case.
    fleet.servers.pop();
}

/// `host:port` of a URL's authority, and the URL with it replaced by `127.0.0.1:<port>`.
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (auth_host, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let (userinfo, host) = match auth_host.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), auth_host),
    };
    let target = host.to_owned();
    (
        target,
        format!("{scheme}://{userinfo}127.0.0.1:{port}{tail}"),
    )
}

async fn run_fleet(backend: &'static str, url: String, proxy: Option<Proxy>) {
    let mut fleet = Fleet::start(backend, url, 3);
    every_change_is_honoured_everywhere(&fleet).await;
    a_stream_resumes_on_another_instance(&mut fleet).await;
    if let Some(proxy) = proxy {
        let (_, proxied) = through_proxy(&fleet.database_url, proxy.port);
        a_cut_feed_fails_safe(&mut fleet, proxied, &proxy).await;
    }
    the_login_throttle_is_one_budget(&fleet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_postgres_is_one_system() {
    let Some(url) = taskflow_test_support::postgres_url() else {
        return;
    };
    let schema = taskflow_test_support::pg::fresh_schema(&url).await;
    let url = schema.url();
    let (target, _) = through_proxy(&url, 0);
    let proxy = Proxy::start(target).await;
    run_fleet("postgres", url, Some(proxy)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_one_sqlite_file_is_one_system() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fleet.db").display());
    run_fleet("sqlite", url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_mongodb_is_one_system() {
    let Some(url) = taskflow_test_support::mongo_url() else {
        return;
    };
    let db = taskflow_test_support::unique_name("fleet");
    let url = mongo_url_with_db(&url, &db);
    let (target, _) = through_proxy(&url, 0);
    let proxy = Proxy::start(target).await;
    run_fleet("mongodb", url, Some(proxy)).await;
}

/// `mongodb://host/?opts` with `/db` as the database.
fn mongo_url_with_db(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let base = base.trim_end_matches('/');
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((host, _)) => format!("{scheme}://{host}"),
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    if query.is_empty() {
        format!("{base}/{db}")
    } else {
        format!("{base}/{db}?{query}")
    }
}

#[test]
fn urls_are_rewritten_to_the_proxy() {
    let (target, url) = through_proxy("postgres://postgres@127.0.0.1:5432/db?options=x", 9);
    assert_eq!(target, "127.0.0.1:5432");
    assert_eq!(url, "postgres://postgres@127.0.0.1:9/db?options=x");
    assert_eq!(
        mongo_url_with_db("mongodb://127.0.0.1:27017/?directConnection=true", "f"),
        "mongodb://127.0.0.1:27017/f?directConnection=true"
    );
}
