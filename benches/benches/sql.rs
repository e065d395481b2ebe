//! Criterion benchmarks of the SQL stores (`taskflow-store-sql`) at a realistic size:
//! 100,000 tasks spread over 100 owners, on SQLite (a file in a temporary directory) and, when
//! `TASKFLOW_BENCH_POSTGRES_URL` is set, on PostgreSQL.
//!
//! ```text
//! cargo bench -p taskflow-benches --bench sql
//! TASKFLOW_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench -p taskflow-benches --bench sql
//! cargo bench -p taskflow-benches --bench sql -- stats   # only benches whose name matches
//! ```
//!
//! The PostgreSQL URL names a server and a database the bench may connect to in order to
//! run `CREATE DATABASE`: the bench creates its own `taskflow_bench_<random>` there, works in
//! it, and drops it at the end (`DROP DATABASE … WITH (FORCE)`, PostgreSQL 13 or later), also
//! after a panic (not after Ctrl-C: then drop the leftover `taskflow_bench_*` database by
//! hand). With `TASKFLOW_BENCH_KEEP=1` the SQLite file and the PostgreSQL database are kept and
//! their names printed, so their query plans can be inspected with `EXPLAIN`.
//!
//! Setup, all outside the timed closures: one current-thread Tokio runtime; 100 users
//! registered through `TaskFlow::register` (passwords hashed with
//! `PasswordParams::insecure_fast_for_tests()`) and one admin through `create_admin`; then
//! 100,000 varied tasks built directly as `Task` values and written with the raw store's
//! `insert_tasks` in chunks of 1,000. On PostgreSQL the seeding ends with `VACUUM ANALYZE`,
//! standing in for the autovacuum run a live database would have had; SQLite gets nothing
//! (neither the store nor SQLite itself runs `ANALYZE`). The `TaskFlow` under test has no
//! cache: these figures are the store's.
//!
//! Every bench goes through `TaskFlow` (validation, policy and scoping included) and is
//! named `<backend>/<bench>`: `first_page_filtered`, `search_user`, `keyset_page_500`,
//! `page_mode_500`, `stats_user`, `stats_all`, `get_task` and, last because it grows the
//! store, `create_task`.

use std::hint::black_box;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use taskflow_core::{
    MokaCache, NewTask, PasswordParams, Principal, Priority, Registration, Status, Task, TaskFlow,
    TaskId, TaskQuery, UserId, to_millis,
};
use taskflow_store_sql::{PostgresStore, SqlOptions, SqlStore};
use tokio::runtime::Runtime;

const POSTGRES_URL: &str = "TASKFLOW_BENCH_POSTGRES_URL";
const KEEP: &str = "TASKFLOW_BENCH_KEEP";

const OWNERS: usize = 100;
const TASKS: usize = 100_000;
const TASKS_PER_OWNER: usize = TASKS / OWNERS;
const CHUNK: usize = 1_000;
/// The page `keyset_page_500` and `page_mode_500` fetch.
const DEEP_PAGE: u32 = 500;
const LIMIT: u32 = 20;
/// What `search_user` looks for: a prefix of two title verbs ("Review", "Revise") and two
/// description words ("review", "revenue"), so the full-text index has tens of thousands of
/// matches to go through (43,374 of the 100,000 tasks).
const SEARCH: &str = "rev";
const PASSWORD: &str = "correct horse battery staple";
const ADMIN_EMAIL: &str = "admin@bench.example";

fn owner_email(i: usize) -> String {
    format!("owner{i:03}@bench.example")
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn keep() -> bool {
    std::env::var(KEEP).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A seeded backend and the callers the benches act as.
struct Backend {
    name: &'static str,
    store: Arc<SqlStore>,
    /// No cache: every call reaches the store.
    tf: TaskFlow,
    /// Owner 0, with `TASKS_PER_OWNER` tasks.
    user: Principal,
    /// Sees all 100,000 tasks.
    admin: Principal,
    /// One of the user's tasks.
    user_task: TaskId,
    /// The cursor whose page is page `DEEP_PAGE` of the admin's listing.
    deep_cursor: String,
}

/// Deterministic pseudo-random numbers (xorshift64*), so every run seeds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// Up to `max`, uniformly, as a duration.
    fn within(&mut self, max: TimeDelta) -> TimeDelta {
        let ms = u64::try_from(max.num_milliseconds()).unwrap_or(0).max(1);
        TimeDelta::milliseconds(i64::try_from(self.next() % ms).unwrap_or(0))
    }
}

const VERBS: &[&str] = &[
    "Review", "Write", "Fix", "Deploy", "Plan", "Test", "Update", "Migrate", "Document",
    "Refactor", "Measure", "Design", "Prepare", "Schedule", "Clean up", "Revise",
];
const OBJECTS: &[&str] = &[
    "the quarterly report",
    "the release notes",
    "the login page",
    "the billing service",
    "the database backups",
    "the onboarding guide",
    "the search index",
    "the payment flow",
    "the mobile app",
    "the design system",
    "the API gateway",
    "the load balancer",
    "the invoice export",
    "the customer survey",
    "the team offsite",
    "the security audit",
    "the hiring pipeline",
    "the status dashboard",
    "the support macros",
    "the data retention policy",
];
/// Description words. Few, so every word is common and searches have many matches.
static WORDS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    "customer deadline budget feedback metrics latency rollout staging production \
     incident review revenue contract vendor roadmap sprint estimate meeting notes owner \
     approval legal privacy export import dashboard alert pager rotation capacity storage \
     network cache queue worker schema index query backup restore archive ticket priority \
     blocker follow up with the team before after next week friday q3 q4 2026 v2 draft \
     final"
        .split_whitespace()
        .collect()
});
const TAGS: &[&str] = &[
    "backend", "frontend", "ops", "docs", "design", "billing", "security", "mobile", "infra",
    "research", "bug", "feature", "chore", "hiring", "legal", "q4",
];

/// How far back the seeded tasks' creation times go.
const HISTORY: TimeDelta = TimeDelta::days(730);

/// The `i`-th of `TASKS` varied tasks, of `owner`: created in order over the last two years
/// (as a live database fills up, so inserts land where they would), skewed status and
/// priority mixes, 0-3 tags, two thirds with a due date, descriptions of 6-30 words (a
/// fifth have none).
fn seeded_task(rng: &mut Rng, i: usize, owner: UserId, now: DateTime<Utc>) -> Task {
    let status = match rng.below(100) {
        0..35 => Status::Todo,
        35..55 => Status::InProgress,
        55..90 => Status::Done,
        _ => Status::Cancelled,
    };
    let priority = match rng.below(100) {
        0..25 => Priority::Low,
        25..65 => Priority::Medium,
        65..90 => Priority::High,
        _ => Priority::Urgent,
    };
    let mut tags: Vec<String> = Vec::new();
    for _ in 0..rng.below(4) {
        let tag = rng.pick(TAGS).to_owned();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let title = format!("{} {}", rng.pick(VERBS), rng.pick(OBJECTS));
    let description = (rng.below(5) != 0).then(|| {
        let n = 6 + rng.below(25);
        (0..n)
            .map(|_| rng.pick(&WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    });
    let step = HISTORY / i32::try_from(TASKS).unwrap_or(i32::MAX);
    let created_at =
        to_millis(now - HISTORY + step * i32::try_from(i).unwrap_or(0) + rng.within(step));
    let updated_at =
        to_millis(created_at + rng.within((now - created_at).min(TimeDelta::days(30))));
    let due_date =
        (rng.below(3) != 0).then(|| to_millis(created_at + rng.within(TimeDelta::days(90))));
    Task {
        id: TaskId::new(),
        owner_id: owner,
        title,
        description,
        status,
        priority,
        due_date,
        tags,
        created_at,
        updated_at,
        completed_at: (status == Status::Done).then_some(updated_at),
        version: 1,
    }
}

/// A PostgreSQL database created for this run, dropped when this guard is.
struct PgDatabase {
    server: PgConnectOptions,
    name: String,
}

impl PgDatabase {
    async fn create(url: &str) -> PgDatabase {
        let server = PgConnectOptions::from_str(url).expect("a valid PostgreSQL URL");
        // Unique enough: the tail of a v7 UUID is random.
        let name = format!("taskflow_bench_{}", UserId::new().as_uuid().simple());
        let mut conn = PgConnection::connect_with(&server)
            .await
            .expect("connect to TASKFLOW_BENCH_POSTGRES_URL");
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        PgDatabase { server, name }
    }

    fn options(&self) -> PgConnectOptions {
        self.server.clone().database(&self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if keep() {
            eprintln!("kept: PostgreSQL database {} ({KEEP} is set)", self.name);
            return;
        }
        let server = self.server.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A thread of its own: this may run while a runtime is being unwound by a panic,
        // where starting another runtime on this thread would abort.
        let dropped = std::thread::spawn(move || {
            runtime().block_on(async {
                let mut conn = PgConnection::connect_with(&server).await?;
                sqlx::raw_sql(&sql).execute(&mut conn).await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop PostgreSQL database {}: drop it by hand",
                self.name
            );
        }
    }
}

/// Registers the owners and the admin, inserts the tasks through the raw store, and
/// prepares what the benches need.
async fn seed(name: &'static str, store: SqlStore) -> Backend {
    store.migrate().await.expect("migrate");
    let store = Arc::new(store);
    let tf = TaskFlow::builder()
        .shared_store(store.shared())
        .jwt_secret(*b"taskflow-benchmarks-not-a-secret")
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .expect("valid configuration");

    let started = Instant::now();
    let mut owners = Vec::with_capacity(OWNERS);
    for i in 0..OWNERS {
        let user = tf
            .register(Registration {
                email: owner_email(i),
                password: PASSWORD.into(),
                name: format!("Owner {i}"),
            })
            .await
            .expect("register");
        owners.push(user.id);
    }
    tf.create_admin(Registration {
        email: ADMIN_EMAIL.into(),
        password: PASSWORD.into(),
        name: "Admin".into(),
    })
    .await
    .expect("create_admin");
    let users_took = started.elapsed();

    let started = Instant::now();
    let now = Utc::now();
    let mut rng = Rng(0x7461_736b_666c_6f77);
    let mut user_tasks = Vec::with_capacity(TASKS_PER_OWNER);
    let mut chunk = Vec::with_capacity(CHUNK);
    for i in 0..TASKS {
        let task = seeded_task(&mut rng, i, owners[i % OWNERS], now);
        if i % OWNERS == 0 {
            user_tasks.push(task.id);
        }
        chunk.push(task);
        if chunk.len() == CHUNK {
            tf.store().insert_tasks(&chunk).await.expect("insert_tasks");
            chunk.clear();
        }
    }
    let tasks_took = started.elapsed();

    let analyze_took = match &*store {
        SqlStore::Postgres(pg) => {
            let started = Instant::now();
            sqlx::raw_sql("VACUUM ANALYZE")
                .execute(pg.pool())
                .await
                .expect("VACUUM ANALYZE");
            Some(started.elapsed())
        }
        _ => None,
    };

    let user = principal(&tf, &owner_email(0)).await;
    let admin = principal(&tf, ADMIN_EMAIL).await;

    let started = Instant::now();
    let deep_cursor = walk_to_page(&tf, &admin, DEEP_PAGE).await;
    let walk_took = started.elapsed();

    let search = || TaskQuery {
        q: Some(SEARCH.into()),
        ..all_tasks()
    };
    let matches_all = tf.list_tasks(&admin, search()).await.expect("search").total;
    let matches_user = tf.list_tasks(&user, search()).await.expect("search").total;

    eprintln!(
        "{name}: seeded {OWNERS} users and 1 admin in {:.2} s, {TASKS} tasks in {:.1} s \
         ({:.0} tasks/s){}; walked {} cursor pages in {:.2} s",
        users_took.as_secs_f64(),
        tasks_took.as_secs_f64(),
        TASKS as f64 / tasks_took.as_secs_f64(),
        analyze_took.map_or_else(String::new, |took| format!(
            "; VACUUM ANALYZE {:.1} s",
            took.as_secs_f64()
        )),
        DEEP_PAGE - 1,
        walk_took.as_secs_f64(),
    );
    eprintln!(
        "{name}: search {SEARCH:?} matches {} of all tasks, {} of the benchmark user's",
        matches_all.unwrap_or_default(),
        matches_user.unwrap_or_default(),
    );

    Backend {
        name,
        store,
        tf,
        user,
        admin,
        user_task: user_tasks[user_tasks.len() / 2],
        deep_cursor,
    }
}

async fn principal(tf: &TaskFlow, email: &str) -> Principal {
    let tokens = tf.login(email, PASSWORD, None).await.expect("login");
    tf.authenticate(&tokens.access_token)
        .await
        .expect("authenticate")
}

fn all_tasks() -> TaskQuery {
    TaskQuery {
        limit: Some(LIMIT.into()),
        ..TaskQuery::default()
    }
}

/// Follows `next_cursor` from the first page of the admin's listing and returns the cursor
/// that starts page `page`; checks that this page equals page `page` in page mode.
async fn walk_to_page(tf: &TaskFlow, admin: &Principal, page: u32) -> String {
    // Without a cursor a listing is in page mode; its `next_cursor` switches to keyset.
    let mut current = tf.list_tasks(admin, all_tasks()).await.expect("page 1");
    for _ in 2..page {
        let cursor = current.next_cursor.expect("more pages");
        current = tf
            .list_tasks(
                admin,
                TaskQuery {
                    cursor: Some(cursor),
                    ..all_tasks()
                },
            )
            .await
            .expect("keyset page");
    }
    let cursor = current.next_cursor.expect("page after the walk");
    let by_cursor = tf
        .list_tasks(
            admin,
            TaskQuery {
                cursor: Some(cursor.clone()),
                ..all_tasks()
            },
        )
        .await
        .expect("keyset page");
    let by_number = tf
        .list_tasks(
            admin,
            TaskQuery {
                page: Some(page.into()),
                ..all_tasks()
            },
        )
        .await
        .expect("numbered page");
    let ids = |items: &[Task]| items.iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(&by_cursor.items),
        ids(&by_number.items),
        "keyset and page mode disagree on page {page}"
    );
    cursor
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, samples: usize, seconds: u64) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(seconds))
        .sample_size(samples);
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, b: &Backend) {
    let mut group = c.benchmark_group(b.name);
    let (tf, user, admin) = (&b.tf, &b.user, &b.admin);

    configure(&mut group, 50, 5);
    group.bench_function("first_page_filtered", |bench| {
        bench.to_async(rt).iter(|| async move {
            let query = TaskQuery {
                status: vec!["todo".into(), "in_progress".into()],
                ..all_tasks()
            };
            let page = tf.list_tasks(user, query).await.unwrap();
            assert_eq!(page.items.len(), LIMIT as usize);
            assert!(page.total.is_some());
            black_box(page)
        });
    });

    configure(&mut group, 20, 5);
    group.bench_function("search_user", |bench| {
        bench.to_async(rt).iter(|| async move {
            let query = TaskQuery {
                q: Some(SEARCH.into()),
                ..all_tasks()
            };
            let page = tf.list_tasks(user, query).await.unwrap();
            assert_eq!(page.items.len(), LIMIT as usize);
            black_box(page)
        });
    });

    configure(&mut group, 50, 5);
    let cursor = &b.deep_cursor;
    group.bench_function("keyset_page_500", |bench| {
        bench.to_async(rt).iter(|| async move {
            let query = TaskQuery {
                cursor: Some(cursor.clone()),
                ..all_tasks()
            };
            let page = tf.list_tasks(admin, query).await.unwrap();
            assert_eq!(page.items.len(), LIMIT as usize);
            black_box(page)
        });
    });

    configure(&mut group, 20, 5);
    group.bench_function("page_mode_500", |bench| {
        bench.to_async(rt).iter(|| async move {
            let query = TaskQuery {
                page: Some(DEEP_PAGE.into()),
                ..all_tasks()
            };
            let page = tf.list_tasks(admin, query).await.unwrap();
            assert_eq!(page.items.len(), LIMIT as usize);
            assert_eq!(page.total, Some(TASKS as u64));
            black_box(page)
        });
    });

    group.bench_function("stats_user", |bench| {
        bench.to_async(rt).iter(|| async move {
            let stats = tf.task_stats(user, None).await.unwrap();
            assert_eq!(stats.total, TASKS_PER_OWNER as u64);
            black_box(stats)
        });
    });

    // Tens of milliseconds per call: 20 samples need about 200 calls.
    configure(&mut group, 20, 10);
    group.bench_function("stats_all", |bench| {
        bench.to_async(rt).iter(|| async move {
            let stats = tf.task_stats(admin, None).await.unwrap();
            assert_eq!(stats.total, TASKS as u64);
            black_box(stats)
        });
    });

    configure(&mut group, 50, 5);
    let id = b.user_task;
    group.bench_function("get_task", |bench| {
        bench
            .to_async(rt)
            .iter(|| async move { black_box(tf.get_task(user, id).await.unwrap()) });
    });

    // The same store behind the moka cache, for the cache-hit and authenticate figures.
    let cached = &TaskFlow::builder()
        .shared_store(b.store.shared())
        .cache(MokaCache::default())
        .jwt_secret(*b"taskflow-benchmarks-not-a-secret")
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .expect("valid configuration");
    group.bench_function("get_task_cache_hit", |bench| {
        bench
            .to_async(rt)
            .iter(|| async move { black_box(cached.get_task(user, id).await.unwrap()) });
    });
    let tokens = rt
        .block_on(tf.login(&owner_email(0), PASSWORD, None))
        .expect("login");
    let access = tokens.access_token.as_str();
    group.bench_function("authenticate_uncached", |bench| {
        bench
            .to_async(rt)
            .iter(|| async move { black_box(tf.authenticate(access).await.unwrap()) });
    });
    group.bench_function("authenticate_cached", |bench| {
        bench
            .to_async(rt)
            .iter(|| async move { black_box(cached.authenticate(access).await.unwrap()) });
    });
    // A chain of rotations: each iteration spends the token the previous one returned.
    let refresh = &std::sync::Mutex::new(tokens.refresh_token.clone());
    group.bench_function("refresh_rotation", |bench| {
        bench.to_async(rt).iter(|| async move {
            let token = refresh.lock().unwrap().clone();
            let pair = tf.refresh(&token).await.unwrap();
            refresh.lock().unwrap().clone_from(&pair.refresh_token);
            black_box(pair)
        });
    });

    // Last, because it grows the store (by a few thousand tasks: a few per cent).
    let due = Utc::now() + TimeDelta::days(7);
    group.bench_function("create_task", |bench| {
        bench.to_async(rt).iter(|| async move {
            let input = NewTask::new("Benchmark the task creation path")
                .description("Created by the SQL benchmarks; the store keeps it")
                .priority(Priority::High)
                .tags(["bench", "create"])
                .due_date(due);
            black_box(tf.create_task(user, input).await.unwrap())
        });
    });
    group.finish();
}

fn run_sqlite(c: &mut Criterion, rt: &Runtime) {
    let dir = tempfile::Builder::new()
        .prefix("taskflow-bench-")
        .tempdir()
        .expect("temporary directory");
    let path = dir.path().join("bench.db");
    let url = format!("sqlite://{}", path.display());
    let backend = rt.block_on(async {
        let store = SqlStore::open(&url, &SqlOptions::default())
            .await
            .expect("open SQLite");
        seed("sqlite", store).await
    });
    bench_backend(c, rt, &backend);
    rt.block_on(backend.store.close());
    if keep() {
        eprintln!("kept: SQLite database {} ({KEEP} is set)", path.display());
        let _ = dir.keep();
    }
}

fn run_postgres(c: &mut Criterion, rt: &Runtime) {
    let Some(url) = std::env::var(POSTGRES_URL).ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: postgres benches, {POSTGRES_URL} not set");
        return;
    };
    let database = rt.block_on(PgDatabase::create(&url));
    eprintln!("postgres: created database {}", database.name);
    let backend = rt.block_on(async {
        let store = PostgresStore::with_connect_options(database.options(), &SqlOptions::default())
            .expect("PostgreSQL pool");
        seed("postgres", SqlStore::Postgres(Arc::new(store))).await
    });
    bench_backend(c, rt, &backend);
    rt.block_on(backend.store.close());
    drop(database);
}

// What `criterion_group!`/`criterion_main!` expand to, written out so the runtime and the
// seeded stores are built once, outside any timed code.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = runtime();
    run_sqlite(&mut c, &rt);
    run_postgres(&mut c, &rt);
    c.final_summary();
}
