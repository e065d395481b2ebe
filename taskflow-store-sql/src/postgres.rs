//! The PostgreSQL store.
//!
//! Versioned writes and refresh rotation are single conditional statements, safe under READ
//! COMMITTED with real parallel connections; batches are transactions; the last-admin guard
//! serialises guarded writes with a transaction-scoped advisory lock. The pool connects
//! lazily, so opening never blocks on an unreachable server: calls fail with `unavailable`
//! after the acquire timeout instead.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
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
use crate::rows::{TaskRow, UserRow, version, version_param};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Advisory-lock key that serialises writes guarded by the last-active-admin rule.
const ADMIN_GUARD_LOCK: i64 = 0x7461_736b_666c_6f77; // "taskflow"

impl Dialect for Postgres {
    const ENABLED: &'static str = "false";

    fn bind_id(qb: &mut QueryBuilder<'static, Self>, id: Uuid) {
        qb.push_bind(id);
    }
    fn bind_time(qb: &mut QueryBuilder<'static, Self>, t: DateTime<Utc>) {
        qb.push_bind(t);
    }
    fn bind_int(qb: &mut QueryBuilder<'static, Self>, v: i64) {
        qb.push_bind(v);
    }
    fn bind_text(qb: &mut QueryBuilder<'static, Self>, s: String) {
        qb.push_bind(s);
    }
    fn push_tag_filter(qb: &mut QueryBuilder<'static, Self>, tag: &str) {
        qb.push(" AND t.tags @> ARRAY[");
        qb.push_bind(tag.to_owned());
        qb.push("]::text[]");
    }
    fn push_search(qb: &mut QueryBuilder<'static, Self>, words: &[String]) {
        // Words are runs of letters and digits; quoted, each is one lexeme, `:*` makes it a
        // prefix and `&` joins them. The cast parses no text-search configuration.
        let query: Vec<String> = words.iter().map(|w| format!("'{w}':*")).collect();
        qb.push(" AND t.search_tsv @@ ");
        qb.push_bind(query.join(" & "));
        qb.push("::tsquery");
    }
    fn push_contains(qb: &mut QueryBuilder<'static, Self>, column: &str, needle: String) {
        qb.push(format_args!("strpos({column}, "));
        qb.push_bind(needle);
        qb.push(") > 0");
    }
}

fn task_from_row(row: &PgRow) -> Result<Task> {
    TaskRow {
        id: row.try_get(0).map_err(db)?,
        owner_id: row.try_get(1).map_err(db)?,
        title: row.try_get(2).map_err(db)?,
        description: row.try_get(3).map_err(db)?,
        status: row.try_get(4).map_err(db)?,
        priority: i64::from(row.try_get::<i16, _>(5).map_err(db)?),
        due_date: row.try_get(6).map_err(db)?,
        tags: row.try_get(7).map_err(db)?,
        created_at: row.try_get(8).map_err(db)?,
        updated_at: row.try_get(9).map_err(db)?,
        completed_at: row.try_get(10).map_err(db)?,
        version: row.try_get(11).map_err(db)?,
    }
    .try_into()
}

fn user_from_row(row: &PgRow) -> Result<UserRecord> {
    UserRow {
        id: row.try_get(0).map_err(db)?,
        email: row.try_get(1).map_err(db)?,
        name: row.try_get(2).map_err(db)?,
        role: row.try_get(3).map_err(db)?,
        disabled: row.try_get(4).map_err(db)?,
        password_hash: row.try_get(5).map_err(db)?,
        created_at: row.try_get(6).map_err(db)?,
        updated_at: row.try_get(7).map_err(db)?,
        version: row.try_get(8).map_err(db)?,
    }
    .try_into()
}

fn session_from_row(row: &PgRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId::from_uuid(row.try_get(0).map_err(db)?),
        user_id: UserId::from_uuid(row.try_get(1).map_err(db)?),
        token_hash: row.try_get(2).map_err(db)?,
        revoked: row.try_get(3).map_err(db)?,
        created_at: row.try_get(4).map_err(db)?,
        expires_at: row.try_get(5).map_err(db)?,
        generation: version(row.try_get(6).map_err(db)?)?,
    })
}

fn search_lexemes(task: &Task) -> Vec<String> {
    index_words(&task.title, task.description.as_deref())
}

/// A TaskFlow store on PostgreSQL.
pub struct PostgresStore {
    pool: PgPool,
    reads: ReadRouter<Postgres>,
}

impl PostgresStore {
    /// Usage of the primary pool.
    pub fn pool_stats(&self) -> Vec<crate::PoolStats> {
        vec![crate::PoolStats::of("primary", &self.pool)]
    }

    /// Opens a lazily connecting pool for `postgres://…`. Does not migrate: call
    /// [`migrate`](Self::migrate).
    pub async fn open(url: &str, options: &SqlOptions) -> Result<Self> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("database_url", e.to_string()))?;
        Self::with_connect_options(connect, options)
    }

    /// Opens a pool with explicit connect options (e.g. a `search_path`).
    pub fn with_connect_options(connect: PgConnectOptions, options: &SqlOptions) -> Result<Self> {
        let pool_options = || {
            PgPoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
        };
        let pool = pool_options().connect_lazy_with(connect);
        let replica = match &options.replica_url {
            Some(url) => Some(
                pool_options().connect_lazy_with(
                    PgConnectOptions::from_str(url)
                        .map_err(|e| Error::invalid("replica_url", e.to_string()))?,
                ),
            ),
            None => None,
        };
        Ok(Self {
            pool,
            reads: ReadRouter::new(replica, options.replica_lag),
        })
    }

    /// The database's plan for the page query of a listing (`EXPLAIN` output, one
    /// line per row): a diagnostic for operators and the index tests.
    pub async fn explain_list(&self, request: &ListRequest) -> Result<String> {
        self.explain(query::page("EXPLAIN ", request)).await
    }

    /// The plan for the page-mode `count(*)` of a listing.
    pub async fn explain_count(&self, request: &ListRequest) -> Result<String> {
        self.explain(query::count("EXPLAIN ", &request.filter))
            .await
    }

    /// The plan for a stats query.
    pub async fn explain_stats(&self, request: &StatsRequest) -> Result<String> {
        self.explain(query::stats("EXPLAIN ", request)).await
    }

    async fn explain(&self, mut qb: QueryBuilder<'static, Postgres>) -> Result<String> {
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        let lines: Result<Vec<String>> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0).map_err(db))
            .collect();
        Ok(lines?.join("\n"))
    }

    /// Applies pending migrations (idempotent; concurrent callers are serialised by sqlx's
    /// migration lock).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => db(e),
            other => Error::internal(format!("postgres migration failed: {other}")),
        })
    }

    /// The embedded migrations.
    pub fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    /// The primary pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(replica) = self.reads.replica() {
            replica.close().await;
        }
    }

    fn task_reader(&self, scope: Scope) -> &PgPool {
        self.reads.pool(&self.pool, scope)
    }

    async fn fetch_users(
        &self,
        qb: &mut QueryBuilder<'static, Postgres>,
    ) -> Result<Vec<UserRecord>> {
        let rows = qb.build().fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(user_from_row).collect()
    }

    /// Runs a task query; `prepare: false` for statements whose best plan depends on the
    /// values (see `query::may_prepare`).
    async fn fetch_tasks(
        &self,
        pool: &PgPool,
        mut qb: QueryBuilder<'static, Postgres>,
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

    fn select_tasks(scope: Scope) -> QueryBuilder<'static, Postgres> {
        let mut qb = QueryBuilder::new(format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE "));
        if let Scope::Owner(owner) = scope {
            qb.push("t.owner_id = ");
            qb.push_bind(*owner.as_uuid());
            qb.push(" AND ");
        }
        qb
    }

    fn select_task(scope: Scope, id: TaskId) -> QueryBuilder<'static, Postgres> {
        let mut qb = Self::select_tasks(scope);
        qb.push("t.id = ");
        qb.push_bind(*id.as_uuid());
        qb
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<()> {
        let u = &user.user;
        let r = sqlx::query(
            "INSERT INTO users (id, email, name, name_lower, role, disabled, password_hash, \
             created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(u.id.as_uuid())
        .bind(&u.email)
        .bind(&u.name)
        .bind(u.name.to_lowercase())
        .bind(u.role.as_str())
        .bind(u.disabled)
        .bind(&user.password_hash)
        .bind(u.created_at)
        .bind(u.updated_at)
        .bind(version_param(user.version))
        .execute(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        if keep_an_active_admin {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ADMIN_GUARD_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let updated = sqlx::query(
            "UPDATE users SET name = $1, name_lower = $2, role = $3, disabled = $4, \
             password_hash = $5, updated_at = $6, version = $7 WHERE id = $8 AND version = $9",
        )
        .bind(&u.name)
        .bind(u.name.to_lowercase())
        .bind(u.role.as_str())
        .bind(u.disabled)
        .bind(&user.password_hash)
        .bind(u.updated_at)
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
            // Under the lock, this statement sees every earlier guarded write committed.
            let (admins,): (i64,) = query::active_admins::<Postgres>()
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
        let (total,): (i64,) = query::users_count::<Postgres>(request)
            .build_query_as()
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok((
            users.into_iter().map(|r| r.user).collect(),
            u64::try_from(total).unwrap_or(0),
        ))
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, revoked, created_at, expires_at, \
             generation) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id.as_uuid())
        .bind(s.user_id.as_uuid())
        .bind(&s.token_hash)
        .bind(s.revoked)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(version_param(s.generation))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT id, user_id, token_hash, revoked, created_at, expires_at, generation \
             FROM sessions WHERE id = $1",
        )
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET token_hash = $1, expires_at = $2, generation = generation + 1 \
             WHERE id = $3 AND user_id = $4 AND token_hash = $5 AND NOT revoked AND expires_at > $6",
        )
        .bind(r.new_hash)
        .bind(r.new_expires_at)
        .bind(r.id.as_uuid())
        .bind(r.user_id.as_uuid())
        .bind(r.presented_hash)
        .bind(r.now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_session(&self, user_id: UserId, id: SessionId) -> Result<()> {
        sqlx::query("UPDATE sessions SET revoked = true WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user_id.as_uuid())
            .execute(&self.pool)
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
            "UPDATE sessions SET revoked = true WHERE user_id = $1 AND NOT revoked AND id <> $2",
        )
        .bind(user_id.as_uuid())
        .bind(keep)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(r.rows_affected())
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(r.rows_affected())
    }
}

const INSERT_TASK: &str = "INSERT INTO tasks (id, owner_id, title, description, status, priority, \
    due_date, tags, search_tsv, created_at, updated_at, completed_at, version) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, array_to_tsvector($9::text[]), $10, $11, $12, $13)";

const REPLACE_TASK: &str = "UPDATE tasks SET title = $1, description = $2, status = $3, \
    priority = $4, due_date = $5, tags = $6, search_tsv = array_to_tsvector($7::text[]), \
    updated_at = $8, completed_at = $9, version = $10 \
    WHERE id = $11 AND owner_id = $12 AND version = $13";

type PgQuery = sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments>;

fn insert_task_query(task: &Task) -> PgQuery {
    sqlx::query(INSERT_TASK)
        .bind(*task.id.as_uuid())
        .bind(*task.owner_id.as_uuid())
        .bind(task.title.clone())
        .bind(task.description.clone())
        .bind(task.status.as_str())
        .bind(i16::from(task.priority.rank()))
        .bind(task.due_date)
        .bind(task.tags.clone())
        .bind(search_lexemes(task))
        .bind(task.created_at)
        .bind(task.updated_at)
        .bind(task.completed_at)
        .bind(version_param(task.version))
}

fn replace_task_query(task: &Task) -> PgQuery {
    sqlx::query(REPLACE_TASK)
        .bind(task.title.clone())
        .bind(task.description.clone())
        .bind(task.status.as_str())
        .bind(i16::from(task.priority.rank()))
        .bind(task.due_date)
        .bind(task.tags.clone())
        .bind(search_lexemes(task))
        .bind(task.updated_at)
        .bind(task.completed_at)
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

#[async_trait]
impl TaskStore for PostgresStore {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        let r = insert_task_query(task).execute(&self.pool).await;
        self.reads.wrote(task.owner_id);
        r.map(drop).map_err(duplicate_task)
    }

    async fn insert_tasks(&self, tasks: &[Task]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for task in tasks {
            insert_task_query(task)
                .execute(&mut *tx)
                .await
                .map_err(duplicate_task)?;
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
            .fetch_tasks(&self.pool, Self::select_task(scope, id), true)
            .await?
            .pop())
    }

    async fn get_tasks(&self, scope: Scope, ids: &[TaskId]) -> Result<Vec<Task>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = Self::select_tasks(scope);
        qb.push("t.id = ANY(");
        qb.push_bind(ids.iter().map(|id| *id.as_uuid()).collect::<Vec<Uuid>>());
        qb.push(")");
        self.fetch_tasks(&self.pool, qb, true).await
    }

    async fn replace_task(&self, task: &Task) -> Result<bool> {
        let r = replace_task_query(task).execute(&self.pool).await;
        self.reads.wrote(task.owner_id);
        Ok(r.map_err(db)?.rows_affected() == 1)
    }

    async fn replace_tasks(&self, tasks: &[Task]) -> Result<Vec<TaskId>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
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
        let mut qb = QueryBuilder::<Postgres>::new("DELETE FROM tasks WHERE id = ");
        qb.push_bind(*id.as_uuid());
        qb.push(" AND owner_id = ");
        qb.push_bind(*owner.as_uuid());
        if let Some(v) = expected_version {
            qb.push(" AND version = ");
            qb.push_bind(version_param(v));
        }
        let r = qb.build().execute(&self.pool).await;
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
            let (n,): (i64,) = query::count::<Postgres>("", &request.filter)
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
        let row = query::stats::<Postgres>("", request)
            .build()
            .fetch_one(pool)
            .await
            .map_err(db)?;
        crate::rows::stats_from_counts(|i| row.try_get::<i64, _>(i).map_err(db))
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
