//! SQLite-specific guarantees: concurrent writers never see `SQLITE_BUSY`, listings and
//! stats are served by indexes, migrations upgrade an existing database, database files
//! are owner-only on Unix.
#![cfg(feature = "sqlite")]

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use taskflow_core::conformance::{PASSWORD, registration};
use taskflow_core::{
    NewTask, PasswordParams, Priority, Scope, StatsRequest, Status, Store, TaskFlow, TaskPatch,
    TaskQuery, UserStore,
};
use taskflow_store_sql::{SqlOptions, SqliteStore};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("sqlite-specific")
        .join(format!("{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The record `register` makes for `early@example.com`, from an in-memory store.
async fn early_user() -> taskflow_core::UserRecord {
    let memory = Arc::new(taskflow_core::MemoryStore::new());
    flow(memory.clone())
        .register(registration("early"))
        .await
        .unwrap();
    memory
        .get_user_by_email("early@example.com")
        .await
        .unwrap()
        .unwrap()
}

fn flow(store: Arc<dyn Store>) -> TaskFlow {
    TaskFlow::builder()
        .shared_store(store)
        .jwt_secret(taskflow_core::conformance::SECRET)
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .expect("taskflow")
}

async fn open(url: &str) -> SqliteStore {
    let store = SqliteStore::open(url, &SqlOptions::default())
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    store
}

/// 32 writers in this process plus 8 through a second connection set on the same file (as
/// a second process would) all succeed: no `SQLITE_BUSY` reaches a caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_writers_never_see_busy() {
    let url = format!(
        "sqlite://{}",
        scratch("writers").join("db.sqlite").display()
    );
    let first: Arc<dyn Store> = Arc::new(open(&url).await);
    let second: Arc<dyn Store> = Arc::new(open(&url).await);
    let mut handles = Vec::new();
    for i in 0..40 {
        let tf = flow(if i < 32 {
            first.clone()
        } else {
            second.clone()
        });
        handles.push(tokio::spawn(async move {
            let name = format!("writer{i}");
            tf.register(registration(&name)).await?;
            let pair = tf
                .login(&format!("{name}@example.com"), PASSWORD, None)
                .await?;
            let me = tf.authenticate(&pair.access_token).await?;
            let mut ids = Vec::new();
            for j in 0..15 {
                let t = tf
                    .create_task(&me, NewTask::new(format!("task {j}")).tags(["load"]))
                    .await?;
                let t = tf
                    .update_task(
                        &me,
                        t.id,
                        TaskPatch::default().priority(Priority::High),
                        Some(1),
                    )
                    .await?;
                ids.push(t.id);
            }
            tf.bulk_set_status(&me, &ids, "done").await?;
            tf.delete_task(&me, ids[0], None).await?;
            let stats = tf.task_stats(&me, None).await?;
            Ok::<_, taskflow_core::Error>(stats)
        }));
    }
    for h in handles {
        let stats = h.await.expect("writer task").expect("no writer may fail");
        assert_eq!(stats.total, 14);
        assert_eq!(stats.by_status.done, 14);
    }
}

/// Owner-scoped listings (every sort, filters, keyset positions), counts and stats are
/// answered through indexes, never by scanning the tasks table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_stats_queries_use_indexes() {
    let store = Arc::new(open("sqlite::memory:").await);
    let tf = flow(store.clone());
    let mut owners = Vec::new();
    for i in 0..5 {
        let user = tf
            .register(registration(&format!("owner{i}")))
            .await
            .unwrap();
        let pair = tf.login(&user.email, PASSWORD, None).await.unwrap();
        owners.push(tf.authenticate(&pair.access_token).await.unwrap());
    }
    for (i, p) in owners.iter().enumerate() {
        for j in 0..40 {
            let mut input = NewTask::new(format!("report {i} {j}"))
                .priority(Priority::ALL[j % 4])
                .tags(["x"]);
            if j % 2 == 0 {
                input = input.due_date(chrono::Utc::now() + TimeDelta::days(j as i64));
            }
            if j % 3 == 0 {
                input = input.status(Status::Done);
            }
            tf.create_task(p, input).await.unwrap();
        }
    }
    sqlx::query("ANALYZE")
        .execute(store.writer_pool())
        .await
        .unwrap();
    let owner = owners[0].user_id;
    let q = |query: TaskQuery| query;
    let queries = [
        q(TaskQuery::default()),
        q(TaskQuery {
            status: vec!["todo".into(), "in_progress".into()],
            ..Default::default()
        }),
        q(TaskQuery {
            sort: Some("due_date".into()),
            ..Default::default()
        }),
        q(TaskQuery {
            sort: Some("-priority".into()),
            ..Default::default()
        }),
        q(TaskQuery {
            sort: Some("updated_at".into()),
            ..Default::default()
        }),
        q(TaskQuery {
            q: Some("rep".into()),
            ..Default::default()
        }),
        q(TaskQuery {
            tag: Some("x".into()),
            overdue: Some(true),
            ..Default::default()
        }),
    ];
    for query in queries {
        // Build the validated requests the way core does, for page and keyset mode.
        let first = tf.list_tasks(&owners[0], query.clone()).await.unwrap();
        let keyset = TaskQuery {
            cursor: first.next_cursor.clone(),
            ..query.clone()
        };
        let now = chrono::Utc::now();
        let scope = Scope::Owner(owner);
        for request in [
            query.clone().into_request(scope, now).unwrap(),
            keyset.into_request(scope, now).unwrap(),
        ] {
            for plan in [
                store.explain_list(&request).await.unwrap(),
                store.explain_count(&request).await.unwrap(),
            ] {
                assert_indexed(&plan, &format!("{query:?}"));
            }
        }
    }
    let stats = StatsRequest {
        scope: Scope::Owner(owner),
        as_of: chrono::Utc::now(),
    };
    assert_indexed(&store.explain_stats(&stats).await.unwrap(), "stats");
    // The check can fail: stats over every owner have no owner to seek and scan the table.
    let all = StatsRequest {
        scope: Scope::All,
        as_of: chrono::Utc::now(),
    };
    let plan = store.explain_stats(&all).await.unwrap();
    assert!(
        std::panic::catch_unwind(|| assert_indexed(&plan, "all")).is_err(),
        "{plan}"
    );
}

/// Every step that reads the tasks table seeks through an index (`SEARCH t USING …`): a
/// `SCAN t`, even of an index, would read every owner's rows.
fn assert_indexed(plan: &str, what: &str) {
    assert!(!plan.is_empty(), "{what}: empty plan");
    for line in plan.lines() {
        let reads_tasks = line.contains(" t ") || line.ends_with(" t");
        if reads_tasks {
            assert!(
                line.trim_start().starts_with("SEARCH t"),
                "{what}: scan of tasks in plan:\n{plan}"
            );
        }
    }
    assert!(
        plan.contains("SEARCH t"),
        "{what}: no index seek in plan:\n{plan}"
    );
}

/// A database created by the first migration is upgraded in place: data written at that
/// schema version survives and works with the new one; migrating again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_upgrade_from_the_first() {
    let dir = scratch("upgrade");
    let first_only = dir.join("migrations");
    std::fs::create_dir_all(&first_only).unwrap();
    let first = SqliteStore::migrator()
        .iter()
        .next()
        .expect("a first migration");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let file = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{:04}_", first.version))
        })
        .expect("first migration file");
    std::fs::copy(&file, first_only.join(file.file_name().unwrap())).unwrap();

    let url = format!("sqlite://{}", dir.join("db.sqlite").display());
    let store = Arc::new(
        SqliteStore::open(&url, &SqlOptions::default())
            .await
            .unwrap(),
    );
    sqlx::migrate::Migrator::new(first_only.as_path())
        .await
        .unwrap()
        .run(store.writer_pool())
        .await
        .unwrap();
    let tf = flow(store.clone());
    // Accounts exist at version 1, written as that schema's code wrote them (the code of
    // today also appends to the change log, which this schema does not have yet).
    let early = early_user().await;
    let u = &early.user;
    sqlx::query(
        "INSERT INTO users (id, email, name, name_lower, role, disabled, password_hash, \
         created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(*u.id.as_uuid())
    .bind(&u.email)
    .bind(&u.name)
    .bind(u.name.to_lowercase())
    .bind(u.role.as_str())
    .bind(u.disabled)
    .bind(&early.password_hash)
    .bind(u.created_at.timestamp_millis())
    .bind(u.updated_at.timestamp_millis())
    .bind(early.version as i64)
    .execute(store.writer_pool())
    .await
    .unwrap();
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tasks'")
            .fetch_all(store.writer_pool())
            .await
            .unwrap();
    assert!(tables.is_empty(), "the first migration has no tasks table");

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
    let applied: (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.writer_pool())
        .await
        .unwrap();
    assert_eq!(applied.0 as usize, SqliteStore::migrator().iter().count());
}

/// Data written through one store is there after closing and reopening the file, and
/// closing checkpoints the WAL into the database file (copying the file alone is a backup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_closing_and_reopening() {
    let path = scratch("reopen").join("db.sqlite");
    let url = format!("sqlite://{}", path.display());
    let store = Arc::new(open(&url).await);
    let tf = flow(store.clone());
    tf.register(registration("durable")).await.unwrap();
    let pair = tf
        .login("durable@example.com", PASSWORD, None)
        .await
        .unwrap();
    let me = tf.authenticate(&pair.access_token).await.unwrap();
    let t = tf.create_task(&me, NewTask::new("kept")).await.unwrap();
    tf.list_tasks(&me, TaskQuery::default()).await.unwrap();
    store.close().await;
    let wal = path.with_extension("sqlite-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL was not checkpointed on close"
    );
    let reopened = open(&url).await;
    let tf = flow(Arc::new(reopened));
    let pair = tf
        .login("durable@example.com", PASSWORD, None)
        .await
        .unwrap();
    let me = tf.authenticate(&pair.access_token).await.unwrap();
    assert_eq!(tf.get_task(&me, t.id).await.unwrap(), t);
}

/// Bad URLs are validation errors, an unusable path is an error: never a panic or a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_locations_fail_cleanly() {
    let options = SqlOptions {
        acquire_timeout: Duration::from_secs(2),
        ..SqlOptions::default()
    };
    let err = taskflow_store_sql::SqlStore::open("mysql://nope", &options)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "validation_failed");
    let started = std::time::Instant::now();
    let err = SqliteStore::open("sqlite:///proc/no/such/dir/db.sqlite", &options)
        .await
        .err()
        .expect("cannot create a database there");
    assert!(
        matches!(err.code().as_str(), "unavailable" | "internal"),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Log lines written while `f` runs on this thread (the store logs from the caller's task).
#[cfg(unix)]
async fn logged<T>(f: impl std::future::Future<Output = T>) -> (T, String) {
    use std::sync::Mutex;
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    drop(guard);
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

/// The permission bits of `path`, in octal as `chmod` takes them.
#[cfg(unix)]
fn mode(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:04o}", meta.permissions().mode() & 0o777)
}

/// `db.sqlite` → `db.sqlite-wal` (SQLite appends to the whole name).
#[cfg(unix)]
fn companion(db: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Registers a user and creates a task, so the WAL holds writes.
#[cfg(unix)]
async fn write_something(store: Arc<dyn Store>) {
    let tf = flow(store);
    tf.register(registration("modes")).await.unwrap();
    let pair = tf.login("modes@example.com", PASSWORD, None).await.unwrap();
    let me = tf.authenticate(&pair.access_token).await.unwrap();
    tf.create_task(&me, NewTask::new("private")).await.unwrap();
}

/// A fresh database, its WAL and its shared-memory file are mode 0600 after opening and
/// writing, and opening it logs no warning.
#[cfg(unix)]
#[tokio::test]
async fn a_new_database_and_its_wal_and_shm_are_owner_only() {
    let dir = scratch("modes-new");
    let path = dir.join("db.sqlite");
    let url = format!("sqlite://{}", path.display());
    let (store, log) = logged(open(&url)).await;
    let store = Arc::new(store);
    write_something(store.clone()).await;
    for file in [
        path.clone(),
        companion(&path, "-wal"),
        companion(&path, "-shm"),
    ] {
        assert_eq!(mode(&file), "0600", "{}", file.display());
    }
    assert!(
        std::fs::metadata(companion(&path, "-wal")).unwrap().len() > 0,
        "the writes are in the WAL"
    );
    assert!(
        !log.contains("WARN"),
        "no warning for a new database: {log}"
    );
    // Reopened (the files exist now), still nothing to warn about.
    store.close().await;
    let (_again, log) = logged(open(&url)).await;
    assert!(!log.contains("WARN"), "{log}");
    assert_eq!(mode(&path), "0600");
}

/// SQLite creates the -wal and -shm with the mode of the database file (0640 here, which
/// no umask yields by itself from SQLite's default 0644): that is what keeps them 0600 for
/// a new database. An existing database open to others is warned about, naming each file,
/// its mode and the fix, and its mode is not changed.
#[cfg(unix)]
#[tokio::test]
async fn companions_take_the_database_mode_and_exposed_files_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("modes-exposed");
    let path = dir.join("db.sqlite");
    let url = format!("sqlite://{}", path.display());
    // An existing database, closed cleanly (SQLite removed its -wal and -shm), opened
    // to the group since.
    open(&url).await.close().await;
    assert!(!companion(&path, "-wal").exists());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (store, log) = logged(open(&url)).await;
    write_something(Arc::new(store)).await;
    let (wal, shm) = (companion(&path, "-wal"), companion(&path, "-shm"));
    assert_eq!(mode(&wal), "0640", "the WAL takes the database's mode");
    assert_eq!(mode(&shm), "0640", "the shm takes the database's mode");
    assert_eq!(
        mode(&path),
        "0640",
        "an existing database is not changed silently"
    );
    for file in [&path, &wal, &shm] {
        let line = log
            .lines()
            .find(|l| {
                l.contains("WARN") && l.contains(&format!("database file {} ", file.display()))
            })
            .unwrap_or_else(|| panic!("no warning for {}: {log}", file.display()));
        assert!(line.contains("mode 0640"), "{line}");
        assert!(
            line.contains(&format!(
                "chmod 600 {} {} {}",
                path.display(),
                wal.display(),
                shm.display()
            )),
            "{line}"
        );
    }
}

/// Only a writable on-disk database is created: a read-only URL of a missing file fails
/// and leaves no file behind, and an in-memory database touches no file at all.
#[cfg(unix)]
#[tokio::test]
async fn read_only_and_in_memory_databases_create_no_file() {
    let dir = scratch("modes-ro");
    let path = dir.join("missing.sqlite");
    let url = format!("sqlite://{}?mode=ro", path.display());
    assert!(
        SqliteStore::open(&url, &SqlOptions::default())
            .await
            .is_err()
    );
    assert!(!path.exists());
    let before: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let (store, log) = logged(open("sqlite::memory:")).await;
    write_something(Arc::new(store)).await;
    let after: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before, after, "in-memory databases leave no file");
    assert!(!log.contains("WARN"), "{log}");
}
