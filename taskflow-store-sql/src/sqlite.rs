//! The SQLite store: the embedded default.
//!
//! WAL journal, `synchronous = NORMAL`, foreign keys on, a `busy_timeout`. All writes of
//! this process go through one writer connection, so concurrent callers queue in the pool
//! instead of meeting `SQLITE_BUSY`; readers use their own pool and, under WAL, never block
//! the writer. Every transaction starts with a write, taking the write lock at once, so a
//! second process writing the same file makes it wait (up to `busy_timeout`) rather than fail
//! on a lock upgrade. An in-memory database lives on a single connection.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use taskflow_core::{
    Error, ListRequest, Result, Scope, SessionId, SessionRecord, SessionRotation, SessionStore,
    StatsRequest, Store, Task, TaskId, TaskSlice, TaskStats, TaskStore, User, UserId,
    UserListRequest, UserRecord, UserStore, index_words,
};
use uuid::Uuid;

use crate::SqlOptions;
use crate::error::{db, duplicate_email, is_unique_violation, last_admin};
use crate::query::{self, Dialect, TASK_COLUMNS, USER_COLUMNS};
use crate::routing::ReadRouter;
use crate::rows::{TaskRow, UserRow, corrupt, version_param};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

impl Dialect for Sqlite {
    const ENABLED: &'static str = "0";

    fn bind_id(qb: &mut QueryBuilder<'static, Self>, id: Uuid) {
        qb.push_bind(id);
    }
    fn bind_time(qb: &mut QueryBuilder<'static, Self>, t: DateTime<Utc>) {
        qb.push_bind(t.timestamp_millis());
    }
    fn bind_int(qb: &mut QueryBuilder<'static, Self>, v: i64) {
        qb.push_bind(v);
    }
    fn bind_text(qb: &mut QueryBuilder<'static, Self>, s: String) {
        qb.push_bind(s);
    }
    fn push_tag_filter(qb: &mut QueryBuilder<'static, Self>, tag: &str) {
        qb.push(" AND EXISTS (SELECT 1 FROM json_each(t.tags) WHERE json_each.value = ");
        qb.push_bind(tag.to_owned());
        qb.push(")");
    }
    fn push_search(qb: &mut QueryBuilder<'static, Self>, words: &[String]) {
        // Words are runs of letters and digits, so quoting them makes each a plain FTS5
        // string; `*` makes it a prefix query and juxtaposition means AND.
        let query: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
        qb.push(" AND t.seq IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH ");
        qb.push_bind(query.join(" "));
        qb.push(")");
    }
    fn push_contains(qb: &mut QueryBuilder<'static, Self>, column: &str, needle: String) {
        qb.push(format_args!("instr({column}, "));
        qb.push_bind(needle);
        qb.push(") > 0");
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| corrupt(format!("timestamp {ms} out of range")))
}

fn opt_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    ms.map(time).transpose()
}

fn task_from_row(row: &SqliteRow) -> Result<Task> {
    let tags: String = row.try_get(7).map_err(db)?;
    TaskRow {
        id: row.try_get(0).map_err(db)?,
        owner_id: row.try_get(1).map_err(db)?,
        title: row.try_get(2).map_err(db)?,
        description: row.try_get(3).map_err(db)?,
        status: row.try_get(4).map_err(db)?,
        priority: row.try_get(5).map_err(db)?,
        due_date: opt_time(row.try_get(6).map_err(db)?)?,
        tags: serde_json::from_str(&tags).map_err(|e| corrupt(format!("tags {tags:?}: {e}")))?,
        created_at: time(row.try_get(8).map_err(db)?)?,
        updated_at: time(row.try_get(9).map_err(db)?)?,
        completed_at: opt_time(row.try_get(10).map_err(db)?)?,
        version: row.try_get(11).map_err(db)?,
    }
    .try_into()
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord> {
    UserRow {
        id: row.try_get(0).map_err(db)?,
        email: row.try_get(1).map_err(db)?,
        name: row.try_get(2).map_err(db)?,
        role: row.try_get(3).map_err(db)?,
        disabled: row.try_get(4).map_err(db)?,
        password_hash: row.try_get(5).map_err(db)?,
        created_at: time(row.try_get(6).map_err(db)?)?,
        updated_at: time(row.try_get(7).map_err(db)?)?,
        version: row.try_get(8).map_err(db)?,
    }
    .try_into()
}

fn session_from_row(row: &SqliteRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId::from_uuid(row.try_get(0).map_err(db)?),
        user_id: UserId::from_uuid(row.try_get(1).map_err(db)?),
        token_hash: row.try_get(2).map_err(db)?,
        revoked: row.try_get(3).map_err(db)?,
        created_at: time(row.try_get(4).map_err(db)?)?,
        expires_at: time(row.try_get(5).map_err(db)?)?,
        generation: crate::rows::version(row.try_get(6).map_err(db)?)?,
    })
}

fn tags_json(task: &Task) -> String {
    serde_json::Value::from(task.tags.clone()).to_string()
}

fn search_text(task: &Task) -> String {
    index_words(&task.title, task.description.as_deref()).join(" ")
}

/// A TaskFlow store on a SQLite database file (or in memory).
pub struct SqliteStore {
    inserts: crate::group_commit::GroupCommit,
    writer: SqlitePool,
    reader: SqlitePool,
    reads: ReadRouter<Sqlite>,
}

impl SqliteStore {
    /// Usage of the writer and reader pools (one pool when in memory).
    pub fn pool_stats(&self) -> Vec<crate::PoolStats> {
        let mut stats = vec![crate::PoolStats::of("writer", &self.writer)];
        if !same_pool(&self.writer, &self.reader) {
            stats.push(crate::PoolStats::of("reader", &self.reader));
        }
        stats
    }

    /// Opens `sqlite://path`, `sqlite:path` or `sqlite::memory:` (creating a missing file).
    /// Does not migrate: call [`migrate`](Self::migrate).
    pub async fn open(url: &str, options: &SqlOptions) -> Result<Self> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("database_url", e.to_string()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if memory {
            // One connection holds the whole database: it must never be closed or replaced.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(base)
                .await
                .map_err(db)?;
            return Ok(Self {
                inserts: Default::default(),
                writer: pool.clone(),
                reader: pool,
                reads: ReadRouter::new(None, options.replica_lag),
            });
        }
        let file = base
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        // A local SQLite connection cannot drop under us: no ping before each acquire.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(file.clone())
            .await
            .map_err(db)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(file.read_only(true));
        let replica = match &options.replica_url {
            Some(url) => Some(
                SqlitePoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.acquire_timeout)
                    .connect_lazy_with(
                        SqliteConnectOptions::from_str(url)
                            .map_err(|e| Error::invalid("replica_url", e.to_string()))?
                            .read_only(true)
                            .busy_timeout(options.busy_timeout),
                    ),
            ),
            None => None,
        };
        Ok(Self {
            inserts: Default::default(),
            writer,
            reader,
            reads: ReadRouter::new(replica, options.replica_lag),
        })
    }

    /// The database's plan for the page query of a listing (`EXPLAIN QUERY PLAN` output, one
    /// line per row): a diagnostic for operators and the index tests.
    pub async fn explain_list(&self, request: &ListRequest) -> Result<String> {
        self.explain(query::page("EXPLAIN QUERY PLAN ", request))
            .await
    }

    /// The plan for the page-mode `count(*)` of a listing.
    pub async fn explain_count(&self, request: &ListRequest) -> Result<String> {
        self.explain(query::count("EXPLAIN QUERY PLAN ", &request.filter))
            .await
    }

    /// The plan for a stats query.
    pub async fn explain_stats(&self, request: &StatsRequest) -> Result<String> {
        self.explain(query::stats("EXPLAIN QUERY PLAN ", request))
            .await
    }

    async fn explain(&self, mut qb: QueryBuilder<'static, Sqlite>) -> Result<String> {
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db)?;
        let lines: Result<Vec<String>> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(3).map_err(db))
            .collect();
        Ok(lines?.join("\n"))
    }

    /// Applies pending migrations (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| Error::internal(format!("sqlite migration failed: {e}")))
    }

    /// The embedded migrations.
    pub fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    /// The pool all writes go through (one connection).
    pub fn writer_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// A write transaction holding the write lock from its first statement (`BEGIN
    /// IMMEDIATE`). With a deferred `BEGIN`, a transaction that ever holds a read snapshot
    /// before writing fails with `SQLITE_BUSY_SNAPSHOT` when another process committed in
    /// between, and SQLite does not retry that; taking the lock at `BEGIN` makes a second
    /// process wait on `busy_timeout` instead.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }

    /// Closes every pool, waiting for connections in use to be returned. The writer goes
    /// last: the last connection to close checkpoints the WAL into the database file, and
    /// read-only connections cannot.
    pub async fn close(&self) {
        if let Some(replica) = self.reads.replica() {
            replica.close().await;
        }
        self.reader.close().await;
        // SQLite checkpoints when the last connection closes, but skips it if anything
        // else still has the file open at that instant; checkpoint explicitly, so after
        // close() the database file alone holds every committed write.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await;
        self.writer.close().await;
    }

    fn task_reader(&self, scope: Scope) -> &SqlitePool {
        self.reads.pool(&self.reader, scope)
    }

    async fn fetch_users(&self, qb: &mut QueryBuilder<'static, Sqlite>) -> Result<Vec<UserRecord>> {
        let rows = qb.build().fetch_all(&self.writer).await.map_err(db)?;
        rows.iter().map(user_from_row).collect()
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<()> {
        let u = &user.user;
        let r = sqlx::query(
            "INSERT INTO users (id, email, name, name_lower, role, disabled, password_hash, \
             created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(u.id.as_uuid())
        .bind(&u.email)
        .bind(&u.name)
        .bind(u.name.to_lowercase())
        .bind(u.role.as_str())
        .bind(u.disabled)
        .bind(&user.password_hash)
        .bind(millis(u.created_at))
        .bind(millis(u.updated_at))
        .bind(version_param(user.version))
        .execute(&self.writer)
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(duplicate_email()),
            Err(e) => Err(db(e)),
        }
    }

    async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        let mut qb = QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE id = "));
        qb.push_bind(*id.as_uuid());
        Ok(self.fetch_users(&mut qb).await?.pop())
    }

    async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let mut qb = QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE email = "));
        qb.push_bind(email.to_owned());
        Ok(self.fetch_users(&mut qb).await?.pop())
    }

    async fn replace_user(&self, user: &UserRecord, keep_an_active_admin: bool) -> Result<bool> {
        let u = &user.user;
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE users SET name = ?, name_lower = ?, role = ?, disabled = ?, password_hash = ?, \
             updated_at = ?, version = ? WHERE id = ? AND version = ?",
        )
        .bind(&u.name)
        .bind(u.name.to_lowercase())
        .bind(u.role.as_str())
        .bind(u.disabled)
        .bind(&user.password_hash)
        .bind(millis(u.updated_at))
        .bind(version_param(user.version))
        .bind(u.id.as_uuid())
        .bind(version_param(user.version.saturating_sub(1)))
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        if keep_an_active_admin {
            let (admins,): (i64,) = query::active_admins::<Sqlite>()
                .build_query_as()
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if admins == 0 {
                return Err(last_admin());
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn list_users(&self, request: &UserListRequest) -> Result<(Vec<User>, u64)> {
        let users = self.fetch_users(&mut query::users_page(request)).await?;
        let (total,): (i64,) = query::users_count::<Sqlite>(request)
            .build_query_as()
            .fetch_one(&self.writer)
            .await
            .map_err(db)?;
        Ok((
            users.into_iter().map(|r| r.user).collect(),
            u64::try_from(total).unwrap_or(0),
        ))
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, revoked, created_at, expires_at, \
             generation) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id.as_uuid())
        .bind(s.user_id.as_uuid())
        .bind(&s.token_hash)
        .bind(s.revoked)
        .bind(millis(s.created_at))
        .bind(millis(s.expires_at))
        .bind(version_param(s.generation))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT id, user_id, token_hash, revoked, created_at, expires_at, generation \
             FROM sessions WHERE id = ?",
        )
        .bind(id.as_uuid())
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET token_hash = ?, expires_at = ?, generation = generation + 1 \
             WHERE id = ? AND user_id = ? AND token_hash = ? AND revoked = 0 AND expires_at > ?",
        )
        .bind(r.new_hash)
        .bind(millis(r.new_expires_at))
        .bind(r.id.as_uuid())
        .bind(r.user_id.as_uuid())
        .bind(r.presented_hash)
        .bind(millis(r.now))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_session(&self, user_id: UserId, id: SessionId) -> Result<()> {
        sqlx::query("UPDATE sessions SET revoked = 1 WHERE id = ? AND user_id = ?")
            .bind(id.as_uuid())
            .bind(user_id.as_uuid())
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
    ) -> Result<u64> {
        // A nil id never matches a session, so `except = None` keeps nothing back.
        let keep = except.map_or(Uuid::nil(), |s| *s.as_uuid());
        let r = sqlx::query(
            "UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0 AND id <> ?",
        )
        .bind(user_id.as_uuid())
        .bind(keep)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(r.rows_affected())
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(millis(now))
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(r.rows_affected())
    }
}

const INSERT_TASK_COLUMNS: &str = "INSERT INTO tasks (id, owner_id, title, description, status, \
    priority, due_date, tags, search_words, created_at, updated_at, completed_at, version) ";

const REPLACE_TASK: &str = "UPDATE tasks SET title = ?, description = ?, status = ?, priority = ?, \
    due_date = ?, tags = ?, search_words = ?, updated_at = ?, completed_at = ?, version = ? \
    WHERE id = ? AND owner_id = ? AND version = ?";

fn replace_task_query(
    task: &Task,
) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments<'static>> {
    sqlx::query(REPLACE_TASK)
        .bind(task.title.clone())
        .bind(task.description.clone())
        .bind(task.status.as_str())
        .bind(i64::from(task.priority.rank()))
        .bind(task.due_date.map(millis))
        .bind(tags_json(task))
        .bind(search_text(task))
        .bind(millis(task.updated_at))
        .bind(task.completed_at.map(millis))
        .bind(version_param(task.version))
        .bind(*task.id.as_uuid())
        .bind(*task.owner_id.as_uuid())
        .bind(version_param(task.version.saturating_sub(1)))
}

fn duplicate_task(e: sqlx::Error) -> Error {
    if is_unique_violation(&e) {
        Error::Conflict("task id already exists".into())
    } else {
        db(e)
    }
}

impl SqliteStore {
    /// Runs a task query; `prepare: false` for statements whose best plan depends on the
    /// values (see `query::may_prepare`).
    async fn fetch_tasks(
        &self,
        pool: &SqlitePool,
        mut qb: QueryBuilder<'static, Sqlite>,
        prepare: bool,
    ) -> Result<Vec<Task>> {
        let rows = qb
            .build()
            .persistent(prepare)
            .fetch_all(pool)
            .await
            .map_err(db)?;
        rows.iter().map(task_from_row).collect()
    }

    fn select_tasks(scope: Scope) -> QueryBuilder<'static, Sqlite> {
        let mut qb = QueryBuilder::new(format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE "));
        if let Scope::Owner(owner) = scope {
            qb.push("t.owner_id = ");
            qb.push_bind(*owner.as_uuid());
            qb.push(" AND ");
        }
        qb
    }

    fn select_task(scope: Scope, id: TaskId) -> QueryBuilder<'static, Sqlite> {
        let mut qb = Self::select_tasks(scope);
        qb.push("t.id = ");
        qb.push_bind(*id.as_uuid());
        qb
    }
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        // Concurrent creates share a transaction (group commit); one code path binds task
        // columns for inserts: the batch one.
        self.inserts
            .insert(task, |batch| async move { self.insert_tasks(&batch).await })
            .await
    }

    async fn insert_tasks(&self, tasks: &[Task]) -> Result<()> {
        // Multi-row INSERTs: one statement (and one FTS5 sync) per chunk instead of per row.
        // 13 binds a row keeps a chunk far below SQLite's 32,766-parameter limit.
        let mut tx = self.begin_write().await?;
        for chunk in tasks.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(INSERT_TASK_COLUMNS);
            qb.push_values(chunk, |mut row, task| {
                row.push_bind(*task.id.as_uuid())
                    .push_bind(*task.owner_id.as_uuid())
                    .push_bind(task.title.clone())
                    .push_bind(task.description.clone())
                    .push_bind(task.status.as_str())
                    .push_bind(i64::from(task.priority.rank()))
                    .push_bind(task.due_date.map(millis))
                    .push_bind(tags_json(task))
                    .push_bind(search_text(task))
                    .push_bind(millis(task.created_at))
                    .push_bind(millis(task.updated_at))
                    .push_bind(task.completed_at.map(millis))
                    .push_bind(version_param(task.version));
            });
            qb.build().execute(&mut *tx).await.map_err(duplicate_task)?;
        }
        tx.commit().await.map_err(db)?;
        for task in tasks {
            self.reads.wrote(task.owner_id);
        }
        Ok(())
    }

    async fn get_task(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        let pool = self.task_reader(scope);
        Ok(self
            .fetch_tasks(pool, Self::select_task(scope, id), true)
            .await?
            .pop())
    }

    async fn get_task_for_update(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        Ok(self
            .fetch_tasks(&self.writer, Self::select_task(scope, id), true)
            .await?
            .pop())
    }

    async fn get_tasks(&self, scope: Scope, ids: &[TaskId]) -> Result<Vec<Task>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = Self::select_tasks(scope);
        qb.push("t.id IN (");
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(*id.as_uuid());
        }
        qb.push(")");
        self.fetch_tasks(&self.writer, qb, true).await
    }

    async fn replace_task(&self, task: &Task) -> Result<bool> {
        let r = replace_task_query(task).execute(&self.writer).await;
        self.reads.wrote(task.owner_id);
        Ok(r.map_err(db)?.rows_affected() == 1)
    }

    async fn replace_tasks(&self, tasks: &[Task]) -> Result<Vec<TaskId>> {
        let mut tx = self.begin_write().await?;
        for task in tasks {
            let n = replace_task_query(task)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
            if n != 1 {
                // All or nothing: dropping the transaction rolls it back.
                return Ok(tasks.iter().map(|t| t.id).collect());
            }
        }
        tx.commit().await.map_err(db)?;
        for task in tasks {
            self.reads.wrote(task.owner_id);
        }
        Ok(Vec::new())
    }

    async fn delete_task(
        &self,
        owner: UserId,
        id: TaskId,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM tasks WHERE id = ");
        qb.push_bind(*id.as_uuid());
        qb.push(" AND owner_id = ");
        qb.push_bind(*owner.as_uuid());
        if let Some(v) = expected_version {
            qb.push(" AND version = ");
            qb.push_bind(version_param(v));
        }
        let r = qb.build().execute(&self.writer).await;
        self.reads.wrote(owner);
        Ok(r.map_err(db)?.rows_affected() == 1)
    }

    async fn list_tasks(&self, request: &ListRequest) -> Result<TaskSlice> {
        let pool = self.task_reader(request.filter.scope);
        let mut items = self
            .fetch_tasks(pool, query::page("", request), query::may_prepare(request))
            .await?;
        let has_more = items.len() > request.limit as usize;
        items.truncate(request.limit as usize);
        let total = if request.wants_total() {
            let (n,): (i64,) = query::count::<Sqlite>("", &request.filter)
                .build_query_as()
                .persistent(query::may_prepare(request))
                .fetch_one(pool)
                .await
                .map_err(db)?;
            Some(u64::try_from(n).unwrap_or(0))
        } else {
            None
        };
        Ok(TaskSlice {
            items,
            has_more,
            total,
        })
    }

    async fn task_stats(&self, request: &StatsRequest) -> Result<TaskStats> {
        let pool = self.task_reader(request.scope);
        let row = query::stats::<Sqlite>("", request)
            .build()
            .fetch_one(pool)
            .await
            .map_err(db)?;
        crate::rows::stats_from_counts(|i| row.try_get::<i64, _>(i).map_err(db))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }
}

/// `sqlite::memory:` uses one pool (two handles of it) for both roles.
fn same_pool(a: &SqlitePool, b: &SqlitePool) -> bool {
    std::ptr::eq(a.options(), b.options())
}
