//! Criterion benchmarks of the MongoDB store (`taskflow-store-mongo`) at the size of the SQL
//! benches: 100,000 tasks spread over 100 owners. They run only when
//! `TASKFLOW_BENCH_MONGO_URL` is set.
//!
//! ```text
//! TASKFLOW_BENCH_MONGO_URL='mongodb://127.0.0.1:27217/?directConnection=true' \
//!     cargo bench -p taskflow-benches --bench mongo
//! ```
//!
//! The bench works in a database of its own, `taskflow_bench_<random>`, on the server the URL
//! names, and drops it at the end, also after a panic (not after Ctrl-C: then drop the
//! leftover `taskflow_bench_*` database by hand). With `TASKFLOW_BENCH_KEEP=1` it is kept and
//! its name printed.
//!
//! Setup, all outside the timed closures, as in the SQL benches (`sql.rs`, whose data
//! generator is copied here): one current-thread Tokio runtime; 100 users registered through
//! `TaskFlow::register` (`PasswordParams::insecure_fast_for_tests()`) and one admin through
//! `create_admin`; then 100,000 varied tasks written with the raw store's `insert_tasks` in
//! chunks of 1,000. Unlike `sql.rs`, the cursor of page 500 is not walked to (499 keyset
//! pages, seconds each on nx-27017) but taken from page 499 in page mode: the same cursor.
//! The `TaskFlow` under test has no cache: these figures are the store's (and, on nx-27017,
//! mostly the server's: see `BENCHMARKS.md`).
//!
//! Every bench goes through `TaskFlow` and is named `mongo/<bench>`: `first_page_filtered`,
//! `keyset_page_500`, `page_mode_500`, `stats_user`, `get_task` and, last because it grows
//! the store, `create_task`. Ten samples each, the listings and stats sampled flat: on
//! nx-27017 (a test server, one Python process) each of them takes seconds, so a run takes
//! about 8 minutes. There is no `stats_all`: on nx-27017 it costs what `stats_user` costs
//! (16 s a call), and would add close to 3 minutes.

use std::hint::black_box;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};
use taskflow_core::{
    MokaCache, NewTask, PasswordParams, Principal, Priority, Registration, Status, Store, Task,
    TaskFlow, TaskId, TaskQuery, TaskStore, UserId, to_millis,
};
use taskflow_store_mongo::{MongoOptions, MongoStore};
use tokio::runtime::Runtime;

const MONGO_URL: &str = "TASKFLOW_BENCH_MONGO_URL";
const KEEP: &str = "TASKFLOW_BENCH_KEEP";

const OWNERS: usize = 100;
const TASKS: usize = 100_000;
const TASKS_PER_OWNER: usize = TASKS / OWNERS;
const CHUNK: usize = 1_000;
/// The page `keyset_page_500` and `page_mode_500` fetch.
const DEEP_PAGE: u32 = 500;
const LIMIT: u32 = 20;
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

/// The seeded store and the callers the benches act as.
struct Backend {
    store: Arc<MongoStore>,
    /// No cache: every call reaches the store.
    tf: TaskFlow,
    /// Owner 0, with `TASKS_PER_OWNER` tasks.
    user: Principal,
    /// Sees all `TASKS` tasks.
    admin: Principal,
    /// One of the user's tasks.
    user_task: TaskId,
    /// The cursor whose page is page `DEEP_PAGE` of the admin's listing.
    deep_cursor: String,
}

/// Deterministic pseudo-random numbers (xorshift64*): the same data as the SQL benches.
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

/// The `i`-th of `TASKS` varied tasks, as in `sql.rs`: created in order over the last two
/// years, skewed status and priority mixes, 0-3 tags, two thirds with a due date,
/// descriptions of 6-30 words (a fifth have none).
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

/// The database of this run, dropped when this guard is.
struct MongoDatabase {
    url: String,
    name: String,
}

impl MongoDatabase {
    fn new(url: String) -> MongoDatabase {
        // Unique enough: the tail of a v7 UUID is random.
        let name = format!("taskflow_bench_{}", UserId::new().as_uuid().simple());
        MongoDatabase { url, name }
    }

    /// The defaults, but for a minute's operation timeout instead of 10 s: on nx-27017 a
    /// `count_documents` over 100,000 tasks takes 7-9 s, and more on a busy machine.
    async fn open(&self) -> taskflow_core::Result<MongoStore> {
        let options = MongoOptions {
            operation_timeout: Duration::from_secs(60),
            ..MongoOptions::default()
        };
        MongoStore::open_database(&self.url, Some(&self.name), &options).await
    }
}

impl Drop for MongoDatabase {
    fn drop(&mut self) {
        if keep() {
            eprintln!("kept: MongoDB database {} ({KEEP} is set)", self.name);
            return;
        }
        // A thread and a client of their own: this may run while the bench's runtime is
        // being unwound by a panic, and a client only works on the runtime it was made on.
        let dropped = std::thread::scope(|s| {
            s.spawn(|| {
                runtime().block_on(async {
                    let store = self.open().await.map_err(|e| e.to_string())?;
                    let dropped = store.database().drop().await;
                    store.close().await;
                    dropped.map_err(|e| e.to_string())
                })
            })
            .join()
        });
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop MongoDB database {}: drop it by hand",
                self.name
            );
        }
    }
}

/// Registers the owners and the admin, inserts the tasks through the raw store, and
/// prepares what the benches need.
async fn seed(store: MongoStore) -> Backend {
    let store = Arc::new(store);
    let tf = TaskFlow::builder()
        .shared_store(Arc::clone(&store) as Arc<dyn Store>)
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
            store.insert_tasks(&chunk).await.expect("insert_tasks");
            chunk.clear();
        }
    }
    let tasks_took = started.elapsed();

    let user = principal(&tf, &owner_email(0)).await;
    let admin = principal(&tf, ADMIN_EMAIL).await;

    let started = Instant::now();
    let deep_cursor = cursor_of_page(&tf, &admin, DEEP_PAGE).await;
    let cursor_took = started.elapsed();

    eprintln!(
        "mongo: seeded {OWNERS} users and 1 admin in {:.2} s, {TASKS} tasks in {:.1} s \
         ({:.0} tasks/s); cursor of page {DEEP_PAGE} and check in {:.1} s",
        users_took.as_secs_f64(),
        tasks_took.as_secs_f64(),
        TASKS as f64 / tasks_took.as_secs_f64(),
        cursor_took.as_secs_f64(),
    );

    Backend {
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

/// The cursor that starts page `page` of the admin's listing: the `next_cursor` of page
/// `page - 1` in page mode, the same cursor a walk from page 1 ends with (a cursor holds the
/// sort, the filters and the last item's position, not how the page was reached). No walk:
/// on nx-27017 every keyset page of 100,000 tasks takes seconds. Checks that the cursor's
/// page equals page `page` in page mode.
async fn cursor_of_page(tf: &TaskFlow, admin: &Principal, page: u32) -> String {
    let numbered = |page: u32| TaskQuery {
        page: Some(page.into()),
        ..all_tasks()
    };
    let before = tf
        .list_tasks(admin, numbered(page - 1))
        .await
        .expect("page");
    let cursor = before.next_cursor.expect("a next page");
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
    let by_number = tf.list_tasks(admin, numbered(page)).await.expect("page");
    let ids = |items: &[Task]| items.iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(&by_cursor.items),
        ids(&by_number.items),
        "keyset and page mode disagree on page {page}"
    );
    cursor
}

/// Ten samples (criterion's minimum), warm-up 1 s. `Flat` runs the same number of
/// iterations in every sample, at least one: for the benches that take seconds on nx-27017,
/// where criterion's default ramp (1, 2, … 10 iterations) would need 55 of them.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, mode: SamplingMode, seconds: u64) {
    group
        .sampling_mode(mode)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(seconds))
        .sample_size(10);
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, b: &Backend) {
    let mut group = c.benchmark_group("mongo");
    let (tf, user, admin) = (&b.tf, &b.user, &b.admin);

    configure(&mut group, SamplingMode::Flat, 5);
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

    configure(&mut group, SamplingMode::Linear, 3);
    let id = b.user_task;
    group.bench_function("get_task", |bench| {
        bench
            .to_async(rt)
            .iter(|| async move { black_box(tf.get_task(user, id).await.unwrap()) });
    });

    // The same store behind the moka cache, for the cache-hit and authenticate figures.
    let cached = &TaskFlow::builder()
        .shared_store(Arc::clone(&b.store) as Arc<dyn Store>)
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

    // Last, because it grows the store.
    let due = Utc::now() + TimeDelta::days(7);
    group.bench_function("create_task", |bench| {
        bench.to_async(rt).iter(|| async move {
            let input = NewTask::new("Benchmark the task creation path")
                .description("Created by the MongoDB benchmarks; the store keeps it")
                .priority(Priority::High)
                .tags(["bench", "create"])
                .due_date(due);
            black_box(tf.create_task(user, input).await.unwrap())
        });
    });
    group.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out so the runtime and the
// seeded store are built once, outside any timed code.
fn main() {
    let Some(url) = std::env::var(MONGO_URL).ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: mongo benches, {MONGO_URL} not set");
        return;
    };
    let mut c = Criterion::default().configure_from_args();
    let rt = runtime();
    let database = MongoDatabase::new(url);
    eprintln!("mongo: database {}", database.name);
    let backend = rt.block_on(async {
        let store = database.open().await.expect("open MongoDB");
        seed(store).await
    });
    bench_backend(&mut c, &rt, &backend);
    rt.block_on(backend.store.close());
    drop(database);
    c.final_summary();
}
