//! The world every TaskFlow fuzz target runs in: a [`TaskFlow`] over a cached
//! [`MemoryStore`] (the server's default shape) with a stopped clock, three accounts with
//! live tokens, a few dozen varied tasks, and the HTTP app on top.
//!
//! The clock never moves, so tokens issued here stay valid however long a run lasts, and
//! the checked-in seeds (a JWT signed with [`SECRET`], cursors) stay meaningful.
//! Seeds cannot hold ids or tokens minted at run time, so targets replace placeholders
//! such as [`ALICE_ACCESS`] in their input with the live values.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderValue, Uri, header};
use poem::{Endpoint, EndpointExt, Request, Response};
use taskflow_core::{
    ManualClock, MemoryStore, MokaCache, NewTask, PasswordParams, Principal, Priority,
    Registration, Status, Task, TaskFlow, TaskPatch, TaskQuery, TokenPair, User,
};
use taskflow_http::HttpConfig;
use tokio::runtime::Runtime;

/// JWT secret of the world (public on purpose: the fuzzers forge tokens with it).
pub const SECRET: &[u8] = b"fuzzing secret, at least thirty-two bytes long";
/// Password of every account.
pub const PASSWORD: &str = "correct horse battery";
/// Issuer and audience TaskFlow puts into access tokens by default.
pub const ISSUER: &str = "taskflow";
/// See [`ISSUER`].
pub const AUDIENCE: &str = "taskflow-api";

/// Placeholder for alice's live access token.
pub const ALICE_ACCESS: &str = "$ALICE_ACCESS";
/// Placeholder for alice's live refresh token.
pub const ALICE_REFRESH: &str = "$ALICE_REFRESH";
/// Placeholder for alice's user id.
pub const ALICE_ID: &str = "$ALICE_ID";
/// Placeholder for the id of alice's session (hyphenated, as in access-token claims).
pub const ALICE_SID: &str = "$ALICE_SID";
/// Placeholder for the id of alice's session as 32 hex digits (as in refresh tokens).
pub const ALICE_SID_HEX: &str = "$ALICE_SID_HEX";
/// Placeholder for bob's user id.
pub const BOB_ID: &str = "$BOB_ID";
/// Placeholder for a cursor of alice's default listing (`-created_at`, no filter).
pub const CURSOR: &str = "$CURSOR";

/// The instant the world's clock is stopped at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .expect("a valid instant")
}

/// One logged-in account.
pub struct Account {
    /// The user.
    pub user: User,
    /// Who the live access token authenticates as.
    pub principal: Principal,
    /// The live token pair of one login.
    pub tokens: TokenPair,
}

/// The state the targets fuzz against.
pub struct World {
    /// The library handle.
    pub tf: TaskFlow,
    /// A user owning most tasks.
    pub alice: Account,
    /// Another user with a few tasks.
    pub bob: Account,
    /// An administrator (owns no tasks).
    pub admin: Account,
    /// Every task of every owner.
    pub tasks: Vec<Task>,
    /// A `next_cursor` of alice's unfiltered listing per entry of [`SORTS`], in that order.
    pub cursors: Vec<String>,
}

/// The single-threaded runtime every target drives its futures on.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime")
    })
}

/// Runs a future to completion on [`runtime`].
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

/// The shared world, built on first use.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| block_on(World::build()))
}

/// The HTTP app over the shared world (rate limits off: a fuzzer is one very busy client).
pub fn app() -> &'static BoxEndpoint<'static, Response> {
    static APP: OnceLock<BoxEndpoint<'static, Response>> = OnceLock::new();
    APP.get_or_init(|| {
        taskflow_http::app(world().tf.clone(), HttpConfig::without_rate_limits())
            .expect("the default HTTP configuration is valid")
            .boxed()
    })
}

/// A `GET` of `uri` with this `Authorization` header (none when `None`), answered by the
/// app. `None` when `uri` is no valid request target: an HTTP server never sees those.
pub fn get(uri: &str, authorization: Option<HeaderValue>) -> Option<Response> {
    let uri = Uri::try_from(uri).ok()?;
    let mut req = Request::builder().uri(uri).finish();
    if let Some(value) = authorization {
        req.headers_mut().insert(header::AUTHORIZATION, value);
    }
    Some(block_on(app().get_response(req)))
}

/// A response body as JSON.
pub fn json_body(resp: Response) -> serde_json::Value {
    let bytes = block_on(resp.into_body().into_vec()).expect("a readable body");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "the body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// Asserts `resp` is a problem document with this status and code (`docs/http-api.md`), and returns
/// its body.
pub fn expect_problem(resp: Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let content_type = resp.content_type().map(str::to_owned);
    assert_eq!(
        content_type.as_deref(),
        Some(taskflow_http::PROBLEM_JSON),
        "content type"
    );
    let body = json_body(resp);
    assert_eq!(body["status"], status, "problem status: {body}");
    assert_eq!(body["code"], code, "problem code: {body}");
    body
}

/// A fresh TaskFlow over a cached memory store with the world's clock, secret and cheap
/// password hashing.
pub fn taskflow() -> TaskFlow {
    TaskFlow::builder()
        .store(MemoryStore::new())
        .cache(MokaCache::default())
        .jwt_secret(SECRET)
        .clock(Arc::new(ManualClock::new(now())))
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .expect("a valid configuration")
}

/// Registers (or, for an admin, creates) an account and logs it in.
pub async fn account(tf: &TaskFlow, name: &str, admin: bool) -> Account {
    let registration = Registration {
        email: format!("{name}@example.com"),
        password: PASSWORD.to_owned(),
        name: name.to_owned(),
    };
    let user = if admin {
        tf.create_admin(registration).await
    } else {
        tf.register(registration).await
    }
    .expect("register");
    let tokens = tf.login(&user.email, PASSWORD, None).await.expect("login");
    let principal = tf
        .authenticate(&tokens.access_token)
        .await
        .expect("a fresh token authenticates");
    Account {
        user,
        principal,
        tokens,
    }
}

impl World {
    /// Builds the world: accounts, then tasks covering every status, priority, missing and
    /// present due dates, shared tags and words, and equal timestamps (for id tie-breaks).
    pub async fn build() -> World {
        let tf = taskflow();
        let alice = account(&tf, "alice", false).await;
        let bob = account(&tf, "bob", false).await;
        let admin = account(&tf, "admin", true).await;
        let words = ["report", "review", "release", "refactor", "read"];
        let tags = ["work", "home", "urgent-fix", "q3"];
        let mut tasks = Vec::new();
        for i in 0..36_usize {
            let owner = if i % 6 == 5 { &bob } else { &alice };
            let mut new = NewTask::new(format!("{} item {i}", words[i % words.len()]))
                .status(Status::ALL[i % Status::ALL.len()])
                .priority(Priority::ALL[(i / 2) % Priority::ALL.len()])
                .tags([tags[i % tags.len()], tags[(i / 3) % tags.len()]]);
            if i % 3 != 0 {
                // Some past (overdue when open), some future, a few equal.
                let hours = (i as i64 % 7 - 3) * 24;
                new = new.due_date(now() + TimeDelta::hours(hours));
            }
            if i % 4 == 0 {
                new = new.description(format!("Notes about {} number {i}", words[i % 3]));
            }
            let task = tf
                .create_task(&owner.principal, new)
                .await
                .expect("a valid task");
            tasks.push(task);
        }
        // Later updates give updated_at an order other than created_at's.
        for i in (0..tasks.len()).step_by(5) {
            let owner = if i % 6 == 5 { &bob } else { &alice };
            tasks[i] = tf
                .update_task(
                    &owner.principal,
                    tasks[i].id,
                    TaskPatch::default().title(format!("updated item {i}")),
                    None,
                )
                .await
                .expect("an update");
        }
        let mut cursors = Vec::new();
        for sort in SORTS {
            let query = TaskQuery {
                sort: Some(sort.to_owned()),
                limit: Some(3),
                ..TaskQuery::default()
            };
            let page = tf
                .list_tasks(&alice.principal, query)
                .await
                .expect("a valid listing");
            cursors.push(page.next_cursor.expect("alice has more than 3 tasks"));
        }
        World {
            tf,
            alice,
            bob,
            admin,
            tasks,
            cursors,
        }
    }

    /// The tasks `query` could ever show alice (hers), before filters.
    pub fn alice_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks
            .iter()
            .filter(|t| t.owner_id == self.alice.user.id)
    }
}

/// Replaces the placeholders in fuzz input with the live values of `alice` and the shared
/// world's other accounts and cursors.
pub fn substitute(input: &str, alice: &Account) -> String {
    if !input.contains('$') {
        return input.to_owned();
    }
    let w = world();
    let sid = alice
        .principal
        .session_id
        .expect("a logged-in account has a session");
    input
        .replace(ALICE_ACCESS, &alice.tokens.access_token)
        .replace(ALICE_REFRESH, &alice.tokens.refresh_token)
        .replace(ALICE_ID, &alice.user.id.to_string())
        // The longer name first: `$ALICE_SID` is a prefix of it.
        .replace(ALICE_SID_HEX, &sid.as_uuid().simple().to_string())
        .replace(ALICE_SID, &sid.to_string())
        .replace(BOB_ID, &w.bob.user.id.to_string())
        .replace(CURSOR, &w.cursors[1])
}

/// Every `sort=` value.
pub const SORTS: [&str; 8] = [
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "due_date",
    "-due_date",
    "priority",
    "-priority",
];

/// How many filter presets [`preset`] has.
pub const PRESETS: usize = 8;

/// A valid listing filter, one per index below [`PRESETS`], each selecting differently
/// (so their cursors must not be interchangeable).
pub fn preset(index: usize) -> TaskQuery {
    let q = TaskQuery::default();
    match index % PRESETS {
        0 => q,
        1 => TaskQuery {
            status: vec!["todo".into(), "in_progress".into()],
            ..q
        },
        2 => TaskQuery {
            priority: vec!["high".into(), "urgent".into()],
            ..q
        },
        3 => TaskQuery {
            tag: Some("work".into()),
            ..q
        },
        4 => TaskQuery {
            q: Some("re".into()),
            ..q
        },
        5 => TaskQuery {
            overdue: Some(true),
            ..q
        },
        6 => TaskQuery {
            due_after: Some(now() - TimeDelta::days(2)),
            due_before: Some(now() + TimeDelta::days(2)),
            ..q
        },
        _ => TaskQuery {
            status: vec!["done".into()],
            tag: Some("q3".into()),
            ..q
        },
    }
}
