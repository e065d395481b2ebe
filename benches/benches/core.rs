//! Criterion benchmarks of `taskflow-core` on the in-memory store, with and without the
//! moka cache in front of it.
//!
//! ```text
//! cargo bench -p taskflow-benches --bench core
//! cargo bench -p taskflow-benches --bench core -- list_tasks   # one group
//! ```
//!
//! Every group but `password_hash` runs twice, on a bare store (`uncached`) and behind
//! `MokaCache::default()` (`cached`), for a user owning 1,000 seeded tasks whose password
//! is hashed with `PasswordParams::insecure_fast_for_tests()` so that setup is quick. The
//! `password_hash` group measures a login with the default (real) argon2id parameters.
//! One current-thread Tokio runtime is built up front and shared by every bench: only the
//! operation itself is inside the timed closures.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use taskflow_core::{
    MemoryStore, MokaCache, NewTask, PasswordParams, Principal, Priority, Registration, Status,
    TaskFlow, TaskId, TaskQuery, TokenPair,
};
use tokio::runtime::Runtime;

/// Tasks seeded for the benchmark user before the task benches run.
const SEEDED_TASKS: usize = 1_000;
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// A handle with one logged-in user owning `SEEDED_TASKS` tasks.
struct Fixture {
    tf: TaskFlow,
    me: Principal,
    tokens: TokenPair,
    task_ids: Vec<TaskId>,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn secret() -> [u8; 32] {
    // Fixed, because a bench has nothing to protect and should be reproducible.
    *b"taskflow-benchmarks-not-a-secret"
}

fn fixture(rt: &Runtime, cached: bool, params: PasswordParams) -> Fixture {
    let mut builder = TaskFlow::builder()
        .store(MemoryStore::new())
        .jwt_secret(secret())
        .password_params(params);
    if cached {
        builder = builder.cache(MokaCache::default());
    }
    let tf = builder.build().expect("valid configuration");
    rt.block_on(async {
        tf.register(Registration {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            name: "Bench".into(),
        })
        .await
        .expect("register");
        let tokens = tf.login(EMAIL, PASSWORD, None).await.expect("login");
        let me = tf
            .authenticate(&tokens.access_token)
            .await
            .expect("authenticate");
        let mut task_ids = Vec::with_capacity(SEEDED_TASKS);
        let now = Utc::now();
        for i in 0..SEEDED_TASKS {
            let task = tf
                .create_task(&me, seeded_task(i, now))
                .await
                .expect("seed task");
            task_ids.push(task.id);
        }
        Fixture {
            tf,
            me,
            tokens,
            task_ids,
        }
    })
}

/// A varied task: every status, priority and a spread of tags and due dates.
fn seeded_task(i: usize, now: chrono::DateTime<Utc>) -> NewTask {
    let statuses = [
        Status::Todo,
        Status::InProgress,
        Status::Done,
        Status::Cancelled,
    ];
    let mut task = NewTask::new(format!("Task {i}: review the quarterly report"))
        .description("Seeded by the benchmarks to give listings something to sort")
        .status(statuses[i % statuses.len()])
        .priority(Priority::ALL[i % Priority::ALL.len()])
        .tags([format!("team-{}", i % 10), "bench".to_owned()]);
    if !i.is_multiple_of(3) {
        let days = i64::try_from(i % 60).unwrap_or(0) - 30;
        task = task.due_date(now + TimeDelta::days(days));
    }
    task
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
}

fn variants(rt: &Runtime) -> [(&'static str, Fixture); 2] {
    let fast = PasswordParams::insecure_fast_for_tests();
    [
        ("uncached", fixture(rt, false, fast)),
        ("cached", fixture(rt, true, fast)),
    ]
}

fn bench_auth(c: &mut Criterion, rt: &Runtime, fixtures: &[(&'static str, Fixture)]) {
    let mut group = c.benchmark_group("authenticate");
    configure(&mut group);
    for (name, f) in fixtures {
        group.bench_function(*name, |b| {
            b.to_async(rt).iter(|| async move {
                black_box(f.tf.authenticate(&f.tokens.access_token).await.unwrap())
            });
        });
    }
    group.finish();
}

fn bench_refresh(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("refresh");
    configure(&mut group);
    for (name, f) in variants(rt) {
        // Each rotation spends the token it is given, so the chain is carried from one
        // iteration to the next (and from one sample to the next).
        let current = Arc::new(Mutex::new(f.tokens.refresh_token.clone()));
        group.bench_function(name, |b| {
            b.to_async(rt).iter_custom(|iters| {
                let tf = f.tf.clone();
                let current = Arc::clone(&current);
                async move {
                    let mut token = current.lock().unwrap().clone();
                    let start = Instant::now();
                    for _ in 0..iters {
                        token = black_box(tf.refresh(&token).await.unwrap()).refresh_token;
                    }
                    let elapsed = start.elapsed();
                    *current.lock().unwrap() = token;
                    elapsed
                }
            });
        });
    }
    group.finish();
}

fn bench_create(c: &mut Criterion, rt: &Runtime, fixtures: &[(&'static str, Fixture)]) {
    let mut group = c.benchmark_group("create_task");
    configure(&mut group);
    let due = Utc::now() + TimeDelta::days(7);
    for (name, f) in fixtures {
        group.bench_function(*name, |b| {
            b.to_async(rt).iter_custom(|iters| async move {
                let mut created = Vec::with_capacity(usize::try_from(iters).unwrap_or(0));
                let start = Instant::now();
                for _ in 0..iters {
                    let input = NewTask::new("Benchmark the task creation path")
                        .priority(Priority::High)
                        .tags(["bench", "create"])
                        .due_date(due);
                    created.push(black_box(f.tf.create_task(&f.me, input).await.unwrap()).id);
                }
                let elapsed = start.elapsed();
                // Untimed: keep the user at the seeded size so later samples (and the
                // benches after this one) see the same store.
                for id in created {
                    f.tf.delete_task(&f.me, id, None).await.unwrap();
                }
                elapsed
            });
        });
    }
    group.finish();
}

fn bench_reads(c: &mut Criterion, rt: &Runtime, fixtures: &[(&'static str, Fixture)]) {
    let mut group = c.benchmark_group("list_tasks_first_page_20");
    configure(&mut group);
    for (name, f) in fixtures {
        group.bench_function(*name, |b| {
            b.to_async(rt).iter(|| async move {
                let page = f.tf.list_tasks(&f.me, TaskQuery::default()).await.unwrap();
                assert_eq!(page.items.len(), 20);
                black_box(page)
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("get_task");
    configure(&mut group);
    for (name, f) in fixtures {
        let id = f.task_ids[f.task_ids.len() / 2];
        group.bench_function(*name, |b| {
            b.to_async(rt)
                .iter(|| async move { black_box(f.tf.get_task(&f.me, id).await.unwrap()) });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("task_stats");
    configure(&mut group);
    for (name, f) in fixtures {
        group.bench_function(*name, |b| {
            b.to_async(rt).iter(|| async move {
                let stats = f.tf.task_stats(&f.me, None).await.unwrap();
                assert_eq!(stats.total, SEEDED_TASKS as u64);
                black_box(stats)
            });
        });
    }
    group.finish();
}

fn bench_password_hash(c: &mut Criterion, rt: &Runtime) {
    let mut group = c.benchmark_group("password_hash");
    // Real argon2id is slow on purpose (tens of milliseconds): few samples suffice.
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    let f = &fixture(rt, false, PasswordParams::default());
    group.bench_function("login_default_params", |b| {
        b.to_async(rt)
            .iter(|| async move { black_box(f.tf.login(EMAIL, PASSWORD, None).await.unwrap()) });
    });
    group.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out so the runtime and the
// seeded fixtures are built once, before any timed code.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = runtime();
    let fixtures = variants(&rt);
    bench_auth(&mut c, &rt, &fixtures);
    bench_reads(&mut c, &rt, &fixtures);
    bench_create(&mut c, &rt, &fixtures);
    bench_refresh(&mut c, &rt);
    bench_password_hash(&mut c, &rt);
    c.final_summary();
}
