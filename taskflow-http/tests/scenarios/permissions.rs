//! The permission matrix: every operation the server exposes × every kind of caller, with
//! the answer each cell must get. The operations come from the server's own OpenAPI
//! document (plus the few routes outside it), so a new route without rows, or rows of a
//! route that is gone, fail the test before any cell runs.
//!
//! Every cell sends a valid request (body, path id, headers), so its status reflects who
//! is asking, not what was sent. Cells that end the caller's sessions or change an account
//! run with a cast of their own; cells on a task get a task of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::support::{Account, PASSWORD, SECRET, Server};

/// A column of the matrix: who is calling, and with what credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// The account the cell's resource belongs to (or the account itself).
    Owner,
    /// Another user.
    Other,
    /// An administrator.
    Admin,
    /// A user disabled by the admin after logging in, with that unexpired access token.
    Disabled,
    /// The owner's access token of a session ended by logout.
    Revoked,
    /// The owner's claims with `exp` in the past, signed with the server's key.
    Expired,
    /// Another user's token whose payload now says `role: admin`, original signature kept.
    /// `sub` and `sid` stay: a changed `sub` is refused by the session check alone, which
    /// would hide a missing signature check.
    Tampered,
    /// The owner's claims signed with a key that is not the server's.
    ForeignKey,
    /// The owner's claims, `alg: none`, no signature.
    AlgNone,
    /// A bearer value that is not a JWT at all.
    Garbage,
}

const CALLERS: [Caller; 11] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::Other,
    Caller::Admin,
    Caller::Disabled,
    Caller::Revoked,
    Caller::Expired,
    Caller::Tampered,
    Caller::ForeignKey,
    Caller::AlgNone,
    Caller::Garbage,
];

/// What a cell must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// A success (or `304`) status.
    Status(u16),
    /// A problem+json error with this status and `code`.
    Problem(u16, &'static str),
}

const S200: Want = Want::Status(200);
const S201: Want = Want::Status(201);
const S204: Want = Want::Status(204);
const S304: Want = Want::Status(304);
const E401: Want = Want::Problem(401, "unauthenticated");
const E403: Want = Want::Problem(403, "forbidden");
const E404: Want = Want::Problem(404, "not_found");
const E412: Want = Want::Problem(412, "version_mismatch");

/// The request a row sends, beyond its method and path: fixtures, path id, query, headers
/// and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// No fixture, no body (probes, documents, metrics).
    Plain,
    /// A new account.
    Register,
    /// The owner's credentials.
    Login,
    /// A refresh token of a new session of the owner.
    Refresh,
    /// The owner's refresh token in the body; ends the caller's session.
    Logout,
    /// Ends every session of the caller.
    LogoutAll,
    /// A new display name.
    UpdateMe,
    /// The right current password; ends the caller's other sessions.
    ChangePassword,
    /// A new task.
    CreateTask,
    /// No query: the caller's scope.
    ListTasks,
    /// `owner_id=` the owner (admins only).
    OfOwner,
    /// `ids: [the owner's task]`.
    BulkStatus,
    /// `ids: [an id no task has]`.
    BulkStatusMissing,
    /// The owner's task.
    OwnersTask,
    /// The owner's task with `If-None-Match` of its current version.
    OwnersTaskNotModified,
    /// The owner's task with an `If-Match` version it never had.
    OwnersTaskStale,
    /// A task id no task has.
    MissingTask,
    /// The owner's task with a valid patch.
    PatchOwnersTask,
    /// The owner's task, a valid patch, a stale `If-Match`.
    PatchOwnersTaskStale,
    /// A missing task, a valid patch.
    PatchMissingTask,
    /// The owner's account.
    OwnerAccount,
    /// A user id no account has.
    MissingAccount,
    /// `{"role": "admin"}` on the owner's account (for the owner: self-promotion).
    PromoteOwner,
    /// An event stream: a `200` is checked by its head (the body never ends), then closed.
    Stream,
}

impl Case {
    /// Cells that end the caller's sessions or change an account get a cast of their own,
    /// so no other cell sees the change.
    fn needs_own_cast(self) -> bool {
        matches!(
            self,
            Case::Logout | Case::LogoutAll | Case::ChangePassword | Case::PromoteOwner
        )
    }

    /// Cells acting on a fresh task of the owner.
    fn needs_task(self) -> bool {
        matches!(
            self,
            Case::BulkStatus
                | Case::OwnersTask
                | Case::OwnersTaskNotModified
                | Case::OwnersTaskStale
                | Case::PatchOwnersTask
                | Case::PatchOwnersTaskStale
        )
    }

    /// Whether the test looks at the owner's state after the cell, and if so whether an
    /// accepted call changes it whoever makes it (`Some(false)`) or only when the owner
    /// acts on their own account (`Some(true)`: logging out or changing a password with
    /// someone else's refresh token in hand ends nothing of the owner's).
    fn probes_owner(self) -> Option<bool> {
        match self {
            _ if self.needs_task() => Some(false),
            Case::PromoteOwner => Some(false),
            Case::Logout | Case::LogoutAll | Case::ChangePassword => Some(true),
            _ => None,
        }
    }
}

/// A row: one operation (method and path as in the OpenAPI document, prefixed with the
/// server URL), one request shape, and the answer of every caller, in [`CALLERS`] order.
struct Row {
    method: &'static str,
    path: &'static str,
    case: Case,
    want: [Want; CALLERS.len()],
}

const fn row(
    method: &'static str,
    path: &'static str,
    case: Case,
    want: [Want; CALLERS.len()],
) -> Row {
    Row {
        method,
        path,
        case,
        want,
    }
}

/// Routes served outside the OpenAPI document.
const UNDOCUMENTED: [(&str, &str); 3] = [
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/metrics"),
];

/// The matrix. Public routes ignore whatever `Authorization` a client sends (a stale token
/// must not stop a login or a refresh); every other route answers `401` to every credential
/// that is not a live session of an enabled account. Another user's task is `404`, never
/// `403`; `/users` and `owner_id=` are admin-only (`403`), checked before existence.
#[rustfmt::skip]
const TABLE: &[Row] = {
    use Case::*;
    &[
    //                                                                  anon  owner other admin disabl revokd expird tamper forkey none  garbage
    row("POST",   "/api/v1/auth/register",    Register,              [S201, S201, S201, S201, S201, S201, S201, S201, S201, S201, S201]),
    row("POST",   "/api/v1/auth/login",       Login,                 [S200, S200, S200, S200, S200, S200, S200, S200, S200, S200, S200]),
    row("POST",   "/api/v1/auth/refresh",     Refresh,               [S200, S200, S200, S200, S200, S200, S200, S200, S200, S200, S200]),
    row("POST",   "/api/v1/auth/logout",      Logout,                [E401, S204, S204, S204, E401, E401, E401, E401, E401, E401, E401]),
    row("POST",   "/api/v1/auth/logout-all",  LogoutAll,             [E401, S204, S204, S204, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/auth/me",          Plain,                 [E401, S200, S200, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("PATCH",  "/api/v1/auth/me",          UpdateMe,              [E401, S200, S200, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("POST",   "/api/v1/auth/password",    ChangePassword,        [E401, S204, S204, S204, E401, E401, E401, E401, E401, E401, E401]),
    row("POST",   "/api/v1/tasks",            CreateTask,            [E401, S201, S201, S201, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/tasks",            ListTasks,             [E401, S200, S200, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/tasks",            OfOwner,               [E401, E403, E403, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/tasks/stats",      Plain,                 [E401, S200, S200, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/tasks/stats",      OfOwner,               [E401, E403, E403, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("POST",   "/api/v1/tasks/bulk-status", BulkStatus,           [E401, S200, E404, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("POST",   "/api/v1/tasks/bulk-status", BulkStatusMissing,    [E401, E404, E404, E404, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/tasks/changes",    Plain,                 [E401, S200, S200, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/events",           Stream,                [E401, S200, S200, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("POST",   "/api/v1/events/ticket",    Plain,                 [E401, S200, S200, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/tasks/{id}",       OwnersTask,            [E401, S200, E404, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/tasks/{id}",       OwnersTaskNotModified, [E401, S304, E404, S304, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/tasks/{id}",       MissingTask,           [E401, E404, E404, E404, E401, E401, E401, E401, E401, E401, E401]),
    row("PATCH",  "/api/v1/tasks/{id}",       PatchOwnersTask,       [E401, S200, E404, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("PATCH",  "/api/v1/tasks/{id}",       PatchOwnersTaskStale,  [E401, E412, E404, E412, E401, E401, E401, E401, E401, E401, E401]),
    row("PATCH",  "/api/v1/tasks/{id}",       PatchMissingTask,      [E401, E404, E404, E404, E401, E401, E401, E401, E401, E401, E401]),
    row("DELETE", "/api/v1/tasks/{id}",       OwnersTask,            [E401, S204, E404, S204, E401, E401, E401, E401, E401, E401, E401]),
    row("DELETE", "/api/v1/tasks/{id}",       OwnersTaskStale,       [E401, E412, E404, E412, E401, E401, E401, E401, E401, E401, E401]),
    row("DELETE", "/api/v1/tasks/{id}",       MissingTask,           [E401, E404, E404, E404, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/users",            Plain,                 [E401, E403, E403, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/users/{id}",       OwnerAccount,          [E401, E403, E403, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/users/{id}",       MissingAccount,        [E401, E403, E403, E404, E401, E401, E401, E401, E401, E401, E401]),
    row("PATCH",  "/api/v1/users/{id}",       PromoteOwner,          [E401, E403, E403, S200, E401, E401, E401, E401, E401, E401, E401]),
    row("GET",    "/api/v1/health",           Plain,                 [S200, S200, S200, S200, S200, S200, S200, S200, S200, S200, S200]),
    row("GET",    "/api/v1/health/ready",     Plain,                 [S200, S200, S200, S200, S200, S200, S200, S200, S200, S200, S200]),
    row("GET",    "/api/v1/openapi.json",     Plain,                 [S200, S200, S200, S200, S200, S200, S200, S200, S200, S200, S200]),
    row("GET",    "/docs",                    Plain,                 [S200, S200, S200, S200, S200, S200, S200, S200, S200, S200, S200]),
    row("GET",    "/metrics",                 Plain,                 [S200, S200, S200, S200, S200, S200, S200, S200, S200, S200, S200]),
    ]
};

pub async fn permissions_matrix(s: Server) {
    let started = Instant::now();
    check_coverage(&s).await;

    let world = World {
        s: &s,
        serial: AtomicUsize::new(0),
    };
    let (world, shared) = (&world, &world.cast().await);
    let mut failures = Vec::new();
    // 404 bodies (request id aside) per operation: every one must be the same, so "not
    // yours" cannot be told from "not there".
    let mut not_found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut cells = 0;
    for row in TABLE {
        // The cells of a row share no state they change, so they run side by side.
        let replies = join_all(CALLERS.map(|caller| async move {
            if row.case.needs_own_cast() {
                world.send(row, &world.cast().await, caller).await
            } else {
                world.send(row, shared, caller).await
            }
        }))
        .await;
        for ((caller, want), (reply, changed)) in CALLERS.into_iter().zip(row.want).zip(replies) {
            let cell = format!("{} {} [{:?}] as {caller:?}", row.method, row.path, row.case);
            if let Err(why) = verdict(want, &reply) {
                failures.push(format!("{cell}: {why}"));
            }
            // A refused call changes nothing; an accepted one changes what it says it does.
            if let (Some(changed), Some(own_only)) = (changed, row.case.probes_owner()) {
                let accepted = matches!(want, Want::Status(status) if status < 300);
                let expected =
                    accepted && row.method != "GET" && (!own_only || caller == Caller::Owner);
                if changed != expected {
                    failures.push(format!(
                        "{cell}: the owner's state {} changed",
                        if changed { "was" } else { "was not" }
                    ));
                }
            }
            if reply.status == StatusCode::NOT_FOUND {
                let mut body: Value = serde_json::from_str(&reply.text).unwrap_or_default();
                body["request_id"] = Value::Null;
                not_found
                    .entry(format!("{} {}", row.method, row.path))
                    .or_default()
                    .insert(body.to_string());
            }
            cells += 1;
        }
    }
    for (op, bodies) in &not_found {
        if bodies.len() > 1 {
            failures.push(format!(
                "{op}: 404 answers differ, so they tell apart missing and not yours: {bodies:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "permission matrix: {} rows x {} callers = {cells} cells, {} operations, in {:.1?}",
        TABLE.len(),
        CALLERS.len(),
        TABLE
            .iter()
            .map(|r| (r.method, r.path))
            .collect::<BTreeSet<_>>()
            .len(),
        started.elapsed()
    );
}

/// The operations of the served OpenAPI document plus [`UNDOCUMENTED`] must be exactly
/// the operations of the table.
async fn check_coverage(s: &Server) {
    let spec: Value = s
        .http
        .get(s.api("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = spec["servers"][0]["url"].as_str().expect("a server URL");
    let mut served: BTreeSet<(String, String)> = UNDOCUMENTED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                served.insert((method.to_uppercase(), format!("{base}{path}")));
            }
        }
    }
    let tabled: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = served.difference(&tabled).collect();
    let stale: Vec<_> = tabled.difference(&served).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the permission matrix is out of date:\n  operations without rows: {missing:?}\n  \
         rows of operations the server does not have: {stale:?}"
    );
}

/// The accounts and credentials of one set of cells, one bearer value per caller.
struct Cast {
    owner_name: String,
    owner: Account,
    bearer: [Option<String>; CALLERS.len()],
}

impl Cast {
    fn bearer(&self, caller: Caller) -> Option<&str> {
        let i = CALLERS.iter().position(|c| *c == caller).unwrap();
        self.bearer[i].as_deref()
    }
}

/// The server under test and a serial number that keeps account emails unique.
struct World<'a> {
    s: &'a Server,
    serial: AtomicUsize,
}

/// What came back, read whole so a cell can be judged without panicking.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl World<'_> {
    /// New accounts (owner, other, admin, disabled) and every caller's bearer value.
    async fn cast(&self) -> Cast {
        let s = self.s;
        let n = self.next();
        let owner_name = format!("c{n}-owner");
        let admin = s.admin(&format!("c{n}-admin")).await;
        let owner = s.user(&owner_name).await;
        let other = s.user(&format!("c{n}-other")).await;

        let disabled = s.user(&format!("c{n}-disabled")).await;
        let r = s
            .as_user(
                Method::PATCH,
                &format!("/users/{}", disabled.id),
                &admin.access,
            )
            .json(&json!({"disabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "disable");

        let revoked = s.login(&owner_name).await;
        let r = s
            .as_user(Method::POST, "/auth/logout", &revoked.access)
            .json(&json!({"refresh_token": revoked.refresh}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "logout");

        let claims = Claims::of(&owner.access);
        let expired = Claims {
            iat: claims.iat - 7200,
            exp: claims.exp - 7200,
            ..claims.clone()
        };
        let mut tampered = Claims::of(&other.access);
        tampered.role = "admin".to_owned();

        let bearer = CALLERS.map(|caller| match caller {
            Caller::Anonymous => None,
            Caller::Owner => Some(owner.access.clone()),
            Caller::Other => Some(other.access.clone()),
            Caller::Admin => Some(admin.access.clone()),
            Caller::Disabled => Some(disabled.access.clone()),
            Caller::Revoked => Some(revoked.access.clone()),
            Caller::Expired => Some(expired.sign(SECRET)),
            Caller::Tampered => Some(tampered.with_signature_of(&other.access)),
            Caller::ForeignKey => Some(claims.sign("another secret, also thirty-two bytes long")),
            Caller::AlgNone => Some(claims.unsigned()),
            Caller::Garbage => Some("definitely-not-a-jwt".to_owned()),
        });
        // Controls: re-signing or re-assembling unchanged claims gives back the very token
        // core issued, so each forged token differs from a live one only where it is forged.
        assert_eq!(claims.sign(SECRET), owner.access);
        assert_eq!(
            Claims::of(&other.access).with_signature_of(&other.access),
            other.access
        );
        assert!(expired.exp < now() && claims.exp > now());
        Cast {
            owner_name,
            owner,
            bearer,
        }
    }

    /// Builds the fixtures of one cell and sends its request.
    fn next(&self) -> usize {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Builds the fixtures of one cell, sends its request and, where the case says so,
    /// reports whether the owner's state changed.
    async fn send(&self, row: &Row, cast: &Cast, caller: Caller) -> (Reply, Option<bool>) {
        let s = self.s;
        let task = match row.case.needs_task() {
            true => Some(self.owners_task(cast).await),
            false => None,
        };
        let mut id = None;
        let mut query = None;
        let mut header = None;
        let mut body = None;
        match row.case {
            Case::Plain | Case::ListTasks | Case::LogoutAll | Case::Stream => {}
            Case::Register => {
                body = Some(json!({
                    "email": format!("new{}@example.com", self.next()),
                    "password": PASSWORD,
                    "name": "New",
                }));
            }
            Case::Login => {
                body = Some(json!({
                    "email": format!("{}@example.com", cast.owner_name),
                    "password": PASSWORD,
                }));
            }
            Case::Refresh => {
                let session = s.login(&cast.owner_name).await;
                body = Some(json!({"refresh_token": session.refresh}));
            }
            Case::Logout => body = Some(json!({"refresh_token": cast.owner.refresh})),
            Case::UpdateMe => body = Some(json!({"name": "Renamed"})),
            Case::ChangePassword => {
                body = Some(json!({
                    "current_password": PASSWORD,
                    "new_password": "a brand new passphrase",
                }));
            }
            Case::CreateTask => body = Some(json!({"title": "created", "priority": "high"})),
            Case::OfOwner => query = Some(format!("owner_id={}", cast.owner.id)),
            Case::BulkStatus => body = Some(json!({"ids": [task], "status": "done"})),
            Case::BulkStatusMissing => {
                body = Some(json!({"ids": [uuid::Uuid::now_v7()], "status": "done"}));
            }
            Case::OwnersTask => id = task.clone(),
            Case::OwnersTaskNotModified => {
                id = task.clone();
                header = Some(("if-none-match", "\"1\""));
            }
            Case::OwnersTaskStale => {
                id = task.clone();
                header = Some(("if-match", "\"7\""));
            }
            Case::MissingTask | Case::MissingAccount => id = Some(uuid::Uuid::now_v7().to_string()),
            Case::PatchOwnersTask => {
                id = task.clone();
                body = Some(json!({"status": "in_progress", "tags": ["x"]}));
            }
            Case::PatchOwnersTaskStale => {
                id = task.clone();
                header = Some(("if-match", "\"7\""));
                body = Some(json!({"status": "in_progress"}));
            }
            Case::PatchMissingTask => {
                id = Some(uuid::Uuid::now_v7().to_string());
                body = Some(json!({"status": "in_progress"}));
            }
            Case::OwnerAccount => id = Some(cast.owner.id.clone()),
            Case::PromoteOwner => {
                id = Some(cast.owner.id.clone());
                body = Some(json!({"role": "admin"}));
            }
        }
        assert_eq!(
            row.path.contains("{id}"),
            id.is_some(),
            "{} {} [{:?}]: a path id exactly when the path has one",
            row.method,
            row.path,
            row.case
        );
        let mut url = format!("{}{}", s.origin, row.path);
        if let Some(id) = id {
            url = url.replace("{id}", &id);
        }
        if let Some(q) = query {
            url = format!("{url}?{q}");
        }
        let mut req = s.http.request(row.method.parse().unwrap(), url);
        if let Some(token) = cast.bearer(caller) {
            req = req.bearer_auth(token);
        }
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let streaming = row.case == Case::Stream && resp.status() == StatusCode::OK;
        let reply = Reply {
            status: resp.status(),
            headers: resp.headers().clone(),
            // Dropping the response closes the stream.
            text: if streaming {
                String::new()
            } else {
                resp.text().await.unwrap()
            },
        };
        let changed = match row.case.probes_owner() {
            None => None,
            Some(_) => Some(self.owner_changed(row.case, cast, task.as_deref()).await),
        };
        (reply, changed)
    }

    /// Whether the cell changed what it targets of the owner's: the task (a new version,
    /// or gone), the role, the session, the password.
    async fn owner_changed(&self, case: Case, cast: &Cast, task: Option<&str>) -> bool {
        let s = self.s;
        let owner = &cast.owner.access;
        if let Some(task) = task {
            let r = s
                .as_user(Method::GET, &format!("/tasks/{task}"), owner)
                .send()
                .await
                .unwrap();
            return match r.status() {
                StatusCode::NOT_FOUND => true,
                StatusCode::OK => r.json::<Value>().await.unwrap()["version"] != 1,
                other => panic!("reading the owner's task: {other}"),
            };
        }
        match case {
            Case::PromoteOwner => {
                let me: Value = s
                    .as_user(Method::GET, "/auth/me", owner)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                me["role"] != "user"
            }
            Case::Logout | Case::LogoutAll => {
                let r = s
                    .as_user(Method::GET, "/auth/me", owner)
                    .send()
                    .await
                    .unwrap();
                r.status() != StatusCode::OK
            }
            Case::ChangePassword => {
                let r = s
                    .req(Method::POST, "/auth/login")
                    .json(&json!({
                        "email": format!("{}@example.com", cast.owner_name),
                        "password": PASSWORD,
                    }))
                    .send()
                    .await
                    .unwrap();
                r.status() != StatusCode::OK
            }
            _ => unreachable!("{case:?} has no probe"),
        }
    }

    /// A new task of the cast's owner (version 1); its id.
    async fn owners_task(&self, cast: &Cast) -> String {
        let task = self.s.task(&cast.owner, json!({"title": "owned"})).await;
        task["id"].as_str().unwrap().to_owned()
    }
}

/// Whether `reply` is what the cell wants: the status, and for errors the problem+json
/// body the contract specifies (code, type, request id; `WWW-Authenticate` on `401`).
fn verdict(want: Want, reply: &Reply) -> Result<(), String> {
    let (status, code) = match want {
        Want::Status(status) => (status, None),
        Want::Problem(status, code) => (status, Some(code)),
    };
    if reply.status.as_u16() != status {
        return Err(format!(
            "want {status}, got {}: {}",
            reply.status, reply.text
        ));
    }
    let Some(code) = code else { return Ok(()) };
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    if header("content-type") != taskflow_http::PROBLEM_JSON {
        return Err(format!("content type {:?}", header("content-type")));
    }
    let body: Value = serde_json::from_str(&reply.text).map_err(|e| e.to_string())?;
    if body["code"] != code
        || body["status"] != status
        || body["type"] != format!("https://taskflow.dev/problems/{code}")
        || body["request_id"] != header("x-request-id")
        || !body["title"].is_string()
        || !body["detail"].is_string()
    {
        return Err(format!("want a {code} problem, got {body}"));
    }
    if status == 401 && !header("www-authenticate").starts_with("Bearer") {
        return Err(format!("WWW-Authenticate {:?}", header("www-authenticate")));
    }
    Ok(())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims core puts in an access token (`taskflow-core/src/auth/tokens.rs`); unknown
/// claims are refused, so a forged token carries exactly what a real one does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    sub: String,
    role: String,
    sid: String,
    jti: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

impl Claims {
    /// The payload of a real token.
    fn of(token: &str) -> Self {
        let payload = token.split('.').nth(1).expect("a JWT");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
            .expect("the claims core issues")
    }

    fn payload(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap())
    }

    /// Signed as core signs: HS256, `typ: at+jwt`.
    fn sign(&self, secret: &str) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".to_owned());
        jsonwebtoken::encode(&header, self, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    /// `alg: none`: header and payload, empty signature.
    fn unsigned(&self) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        format!("{header}.{}.", self.payload())
    }

    /// These claims between the header and signature of `token`.
    fn with_signature_of(&self, token: &str) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWT");
        format!("{}.{}.{}", parts[0], self.payload(), parts[2])
    }
}
