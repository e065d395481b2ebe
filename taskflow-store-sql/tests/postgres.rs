//! PostgreSQL-specific guarantees: indexes serve listings and stats, an unreachable server
//! is `unavailable` within the acquire timeout, the read replica is used only where it
//! cannot show a caller stale data, and migrations upgrade an existing schema.
#![cfg(feature = "postgres")]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use taskflow_core::conformance::{PASSWORD, registration};
use taskflow_core::{
    NewTask, PasswordParams, Priority, Scope, StatsRequest, Status, Store, Task, TaskFlow, TaskId,
    TaskPatch, TaskQuery, TaskStore, UserStore,
};
use taskflow_store_sql::{PostgresStore, SqlOptions};
use taskflow_test_support::pg::fresh_schema;

fn flow(store: Arc<dyn Store>) -> TaskFlow {
    TaskFlow::builder()
        .shared_store(store)
        .jwt_secret(taskflow_core::conformance::SECRET)
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .expect("taskflow")
}

/// Seeded like production data (20,000 tasks over 100 owners, analysed), every
/// owner-scoped listing, count and stats query is planned with indexes, not a sequential
/// scan of `tasks`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_stats_queries_use_indexes() {
    let Some(store) = support::postgres().await else {
        return;
    };
    let store = Arc::new(store);
    let tf = flow(store.clone());
    let mut owners = Vec::new();
    for i in 0..100 {
        owners.push(
            tf.register(registration(&format!("owner{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let now = Utc::now();
    let mut batch = Vec::new();
    for (i, owner) in owners.iter().enumerate() {
        for j in 0..200usize {
            let t = now - TimeDelta::minutes((i * 200 + j) as i64);
            batch.push(Task {
                id: TaskId::new(),
                owner_id: *owner,
                title: format!("report {j} for owner {i}"),
                description: Some("quarterly numbers".into()),
                status: Status::ALL[j % 4],
                priority: Priority::ALL[j % 4],
                due_date: (j % 2 == 0).then(|| t + TimeDelta::days(3)),
                tags: vec![format!("t{}", j % 10)],
                created_at: taskflow_core::to_millis(t),
                updated_at: taskflow_core::to_millis(t),
                completed_at: None,
                version: 1,
            });
        }
    }
    for chunk in batch.chunks(2_000) {
        store.insert_tasks(chunk).await.unwrap();
    }
    sqlx::query("ANALYZE tasks")
        .execute(store.pool())
        .await
        .unwrap();

    let scope = Scope::Owner(owners[7]);
    let queries = [
        TaskQuery::default(),
        TaskQuery {
            status: vec!["todo".into(), "in_progress".into()],
            ..Default::default()
        },
        TaskQuery {
            sort: Some("due_date".into()),
            ..Default::default()
        },
        TaskQuery {
            sort: Some("-priority".into()),
            ..Default::default()
        },
        TaskQuery {
            sort: Some("updated_at".into()),
            ..Default::default()
        },
        TaskQuery {
            q: Some("rep".into()),
            ..Default::default()
        },
        TaskQuery {
            tag: Some("t3".into()),
            ..Default::default()
        },
    ];
    for query in queries {
        let request = query.clone().into_request(scope, now).unwrap();
        let page = store.list_tasks(&request).await.unwrap();
        let last = page.items.last().expect("seeded tasks match");
        let position = taskflow_core::Position::of(request.sort, last);
        let keyset = taskflow_core::ListRequest {
            pagination: taskflow_core::Pagination::Keyset {
                after: Some(position),
            },
            ..request.clone()
        };
        for plan in [
            store.explain_list(&request).await.unwrap(),
            store.explain_list(&keyset).await.unwrap(),
            store.explain_count(&request).await.unwrap(),
        ] {
            assert_indexed(&plan, &format!("{query:?}"));
        }
    }
    let stats = StatsRequest { scope, as_of: now };
    assert_indexed(&store.explain_stats(&stats).await.unwrap(), "stats");
    // The check can fail: stats over every owner read the whole table.
    let all = StatsRequest {
        scope: Scope::All,
        as_of: now,
    };
    let plan = store.explain_stats(&all).await.unwrap();
    assert!(plan.contains("Seq Scan on tasks"), "{plan}");
}

fn assert_indexed(plan: &str, what: &str) {
    assert!(
        !plan.contains("Seq Scan on tasks"),
        "{what}: sequential scan:\n{plan}"
    );
    assert!(plan.contains("Index"), "{what}: no index in plan:\n{plan}");
}

/// With nothing listening, calls fail with `unavailable` within the acquire timeout; no
/// panic, no hang. Opening does not block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable_within_the_timeout() {
    let options = SqlOptions {
        acquire_timeout: Duration::from_secs(1),
        ..SqlOptions::default()
    };
    let started = Instant::now();
    let store = PostgresStore::open("postgres://postgres@127.0.0.1:9/taskflow", &options)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "open must not connect"
    );
    let started = Instant::now();
    let err = store.ping().await.unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let tf = flow(Arc::new(store));
    assert_eq!(
        tf.login("a@example.com", PASSWORD, None)
            .await
            .unwrap_err()
            .code(),
        "unavailable"
    );
}

/// The replica (here: a second, empty schema, so its answers are recognisable) serves task
/// reads only; authentication, read-modify-write reads and reads of an owner who just wrote
/// go to the primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_serves_only_reads_that_cannot_be_stale() {
    let Some(url) = taskflow_test_support::postgres_url() else {
        return;
    };
    let primary = fresh_schema(&url).await;
    let replica = fresh_schema(&url).await;
    let options = SqlOptions {
        replica_url: Some(replica.url()),
        replica_lag: Duration::from_millis(300),
        ..SqlOptions::default()
    };
    let store = PostgresStore::with_connect_options(primary.connect_options(), &options).unwrap();
    store.migrate().await.unwrap();
    let empty_replica = PostgresStore::open(
        options.replica_url.as_deref().unwrap(),
        &SqlOptions::default(),
    )
    .await
    .unwrap();
    empty_replica.migrate().await.unwrap();

    // Not following the change log: the routing under test is by this process's own
    // writes, and a follower's observation of them (later, when another test's transaction
    // holds the log back) would only send reads to the primary for longer.
    let tf = TaskFlow::builder()
        .shared_store(Arc::new(store))
        .jwt_secret(taskflow_core::conformance::SECRET)
        .password_params(PasswordParams::insecure_fast_for_tests())
        .follow_changes(None)
        .build()
        .expect("taskflow");
    // Authentication reads the primary (the replica has no users).
    tf.register(registration("reader")).await.unwrap();
    let pair = tf
        .login("reader@example.com", PASSWORD, None)
        .await
        .unwrap();
    let me = tf.authenticate(&pair.access_token).await.unwrap();
    let t = tf.create_task(&me, NewTask::new("fresh")).await.unwrap();
    // Right after a write, the owner reads the primary.
    assert_eq!(
        tf.list_tasks(&me, TaskQuery::default())
            .await
            .unwrap()
            .items,
        vec![t.clone()]
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Later, reads go to the replica (empty here), ...
    assert!(
        tf.list_tasks(&me, TaskQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        tf.get_task(&me, t.id).await.unwrap_err().code(),
        "not_found"
    );
    // ... but read-modify-write reads the primary, and its write sends reads back there.
    let t2 = tf
        .update_task(&me, t.id, TaskPatch::default().title("edited"), Some(1))
        .await
        .unwrap();
    assert_eq!(tf.get_task(&me, t.id).await.unwrap(), t2);
}

/// A schema created by the first migration is upgraded in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_upgrade_from_the_first() {
    let Some(url) = taskflow_test_support::postgres_url() else {
        return;
    };
    let schema = fresh_schema(&url).await;
    let store = Arc::new(
        PostgresStore::with_connect_options(schema.connect_options(), &SqlOptions::default())
            .unwrap(),
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "pg-first-migration-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let first = PostgresStore::migrator().iter().next().unwrap().version;
    let file = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{first:04}_"))
        })
        .unwrap();
    std::fs::copy(&file, dir.join(file.file_name().unwrap())).unwrap();
    sqlx::migrate::Migrator::new(dir.as_path())
        .await
        .unwrap()
        .run(store.pool())
        .await
        .unwrap();

    let tf = flow(store.clone());
    // An account as the first schema's code wrote it (today's code also appends to the
    // change log, which that schema does not have yet).
    let memory = Arc::new(taskflow_core::MemoryStore::new());
    flow(memory.clone())
        .register(registration("early"))
        .await
        .unwrap();
    let early = memory
        .get_user_by_email("early@example.com")
        .await
        .unwrap()
        .unwrap();
    let u = &early.user;
    sqlx::query(
        "INSERT INTO users (id, email, name, name_lower, role, disabled, password_hash, \
         created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(*u.id.as_uuid())
    .bind(&u.email)
    .bind(&u.name)
    .bind(u.name.to_lowercase())
    .bind(u.role.as_str())
    .bind(u.disabled)
    .bind(&early.password_hash)
    .bind(u.created_at)
    .bind(u.updated_at)
    .bind(early.version as i64)
    .execute(store.pool())
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let pair = tf.login("early@example.com", PASSWORD, None).await.unwrap();
    let me = tf.authenticate(&pair.access_token).await.unwrap();
    let t = tf
        .create_task(&me, NewTask::new("after the upgrade"))
        .await
        .unwrap();
    let page = tf
        .list_tasks(
            &me,
            TaskQuery {
                q: Some("upgrade".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items, vec![t]);
}

/// A real streaming standby (`pg_basebackup` of a primary, both started by `scripts/test`:
/// `TASKFLOW_TEST_PG_PRIMARY_URL`, `TASKFLOW_TEST_PG_STANDBY_URL`): a user reads their own
/// writes at once, sees another user's within the replica's lag, and reads go back to the
/// primary while the standby lags past the bound (replay paused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_standby_serves_reads_within_its_lag() {
    let Some(primary_url) =
        taskflow_test_support::backend_url("TASKFLOW_TEST_PG_PRIMARY_URL", "PostgreSQL standby")
    else {
        return;
    };
    let Some(standby_url) =
        taskflow_test_support::backend_url("TASKFLOW_TEST_PG_STANDBY_URL", "PostgreSQL standby")
    else {
        return;
    };
    let schema = fresh_schema(&primary_url).await;
    let sep = if standby_url.contains('?') { '&' } else { '?' };
    let standby_schema = format!(
        "{standby_url}{sep}options=-c%20search_path%3D{}",
        schema.name()
    );
    let lag = Duration::from_millis(500);
    let options = SqlOptions {
        replica_url: Some(standby_schema),
        replica_lag: lag,
        ..SqlOptions::default()
    };
    let store = PostgresStore::with_connect_options(schema.connect_options(), &options).unwrap();
    store.migrate().await.unwrap();
    let tf = flow(Arc::new(store));
    for name in ["writer", "watcher"] {
        tf.register(registration(name)).await.unwrap();
    }
    let admin_record = taskflow_core::conformance::registration("boss");
    tf.create_admin(admin_record).await.unwrap();
    let principal = |name: &'static str| {
        let tf = tf.clone();
        async move {
            let pair = tf
                .login(&format!("{name}@example.com"), PASSWORD, None)
                .await
                .unwrap();
            tf.authenticate(&pair.access_token).await.unwrap()
        }
    };
    let writer = principal("writer").await;
    let boss = principal("boss").await;

    // Own writes at once (the owner's reads go to the primary for the lag).
    let t = tf.create_task(&writer, NewTask::new("mine")).await.unwrap();
    assert_eq!(tf.get_task(&writer, t.id).await.unwrap(), t);

    // Another reader (here an admin listing every owner, after the lag has passed for
    // this process's writes) sees it once the standby replayed it.
    tokio::time::sleep(lag).await;
    let started = Instant::now();
    loop {
        let page = tf.list_tasks(&boss, TaskQuery::default()).await.unwrap();
        if page.items.iter().any(|x| x.id == t.id) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never replicated"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "standby: another reader saw the write {:?} after the lag",
        started.elapsed()
    );

    // Replay paused: the standby falls behind, and after the lag reads go to the primary.
    use sqlx::Connection as _;
    let mut control = sqlx::PgConnection::connect(&standby_url).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&mut control)
        .await
        .unwrap();
    let raw = Arc::new(
        PostgresStore::with_connect_options(schema.connect_options(), &SqlOptions::default())
            .unwrap(),
    );
    // A write the router does not hear of (another instance, not followed here).
    let other = flow(raw);
    let hidden = other
        .create_task(&writer, NewTask::new("while paused"))
        .await
        .unwrap();
    tokio::time::sleep(lag * 2).await;
    let page = tf.list_tasks(&boss, TaskQuery::default()).await.unwrap();
    assert!(
        page.items.iter().any(|x| x.id == hidden.id),
        "a lagging standby is not read"
    );
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&mut control)
        .await
        .unwrap();
    // Replay resumed: reads still see everything once the standby is used again.
    tokio::time::sleep(lag).await;
    let page = tf.list_tasks(&boss, TaskQuery::default()).await.unwrap();
    assert!(page.items.iter().any(|x| x.id == hidden.id));
}
