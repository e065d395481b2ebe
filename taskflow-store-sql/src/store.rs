//! The store, written once over a [`Dialect`]: every statement, transaction and routing
//! decision. What a dialect's opener decides is only which pools play which role and
//! whether creates are group-committed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Pool, QueryBuilder};
use taskflow_core::{
    Change, ChangeBatch, ChangeEvent, ChangeLog, Error, ListRequest, LogPosition, Result, Scope,
    SessionId, SessionRecord, SessionRotation, SessionStore, SharedRecord, SharedState,
    StatsRequest, Store, Task, TaskId, TaskSlice, TaskStats, TaskStore, User, UserId,
    UserListRequest, UserRecord, UserStore, index_words, to_millis,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::PoolStats;
use crate::dialect::Dialect;
use crate::error::{db, duplicate_email, duplicate_task_id, is_unique_violation, last_admin};
use crate::group_commit::GroupCommit;
use crate::query::{self, TASK_COLUMNS, USER_COLUMNS};
use crate::read_replica::ReadRouter;
use crate::rows::{self as decode, version_param};

type Qb<D> = QueryBuilder<'static, D>;

const SESSION_COLUMNS: &str =
    "id, user_id, token_hash, revoked, created_at, expires_at, generation";

/// 13 binds a row keeps a chunk far below SQLite's 32,766-parameter limit (and
/// PostgreSQL's 65,535).
const INSERT_CHUNK: usize = 500;

/// A TaskFlow store on a SQL database of dialect `D`; see [`SqliteStore`](crate::SqliteStore)
/// and [`PostgresStore`](crate::PostgresStore) for how each opens.
pub struct DialectStore<D: Dialect> {
    /// Every write, and every read that must see the latest write (authentication,
    /// read-modify-write). SQLite: the one writer connection; PostgreSQL: the pool.
    writer: Pool<D>,
    /// Task reads the replica does not take. SQLite: read-only connections (the writer's
    /// pool when in memory); PostgreSQL: the same pool as `writer`.
    reader: Pool<D>,
    reads: ReadRouter<D>,
    /// SQLite: concurrent creates share a transaction, since its writes are serial anyway.
    inserts: Option<GroupCommit>,
    /// Woken after this handle's appends to the change log, and (PostgreSQL) on every
    /// notification of another process's: what [`ChangeLog::wait_for_changes`] waits on.
    appended: Arc<Notify>,
    /// Given a permit after each commit that appended: what a dialect that announces
    /// appends to other processes (PostgreSQL's `NOTIFY`) waits on, coalescing a burst of
    /// commits into one announcement.
    committed: Arc<Notify>,
}

/// Comma-separated items: call [`next`](List::next) before each one.
struct List<'a, D: Dialect> {
    qb: &'a mut Qb<D>,
    first: bool,
}

impl<'a, D: Dialect> List<'a, D> {
    fn new(qb: &'a mut Qb<D>) -> Self {
        Self { qb, first: true }
    }

    fn next(&mut self) -> &mut Qb<D> {
        if !std::mem::take(&mut self.first) {
            self.qb.push(", ");
        }
        self.qb
    }

    /// The next `column = <value>` of a SET list.
    fn set(&mut self, column: &str) -> &mut Qb<D> {
        self.next().push(format_args!("{column} = "))
    }
}

impl<D: Dialect> DialectStore<D> {
    pub(crate) fn from_pools(
        writer: Pool<D>,
        reader: Pool<D>,
        reads: ReadRouter<D>,
        group_commit: bool,
    ) -> Self {
        Self {
            writer,
            reader,
            reads,
            inserts: group_commit.then(GroupCommit::default),
            appended: Arc::new(Notify::new()),
            committed: Arc::new(Notify::new()),
        }
    }

    /// See the field: commits that appended, for the dialect's announcer.
    pub(crate) fn committed(&self) -> &Arc<Notify> {
        &self.committed
    }

    /// What wakes [`ChangeLog::wait_for_changes`]: a dialect's opener hands it to its
    /// listener of other processes' appends.
    pub(crate) fn appended(&self) -> &Arc<Notify> {
        &self.appended
    }

    /// The pool of writes and of reads that must see them.
    pub(crate) fn writer(&self) -> &Pool<D> {
        &self.writer
    }

    /// Applies pending migrations (idempotent; on PostgreSQL, concurrent callers are
    /// serialised by sqlx's migration lock).
    pub async fn migrate(&self) -> Result<()> {
        D::migrate(D::migrator(), &self.writer)
            .await
            .map_err(D::migrate_error)
    }

    /// The embedded migrations.
    pub fn migrator() -> &'static sqlx::migrate::Migrator {
        D::migrator()
    }

    /// Usage of each connection pool, for metrics.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        let [writer, reader] = D::POOL_NAMES;
        let mut stats = vec![PoolStats::of(writer, &self.writer)];
        if !self.one_pool() {
            stats.push(PoolStats::of(reader, &self.reader));
        }
        stats
    }

    /// Closes every pool, waiting for connections in use to be returned. The writer goes
    /// last: on SQLite the last connection to close checkpoints the WAL into the database
    /// file, and read-only connections cannot.
    pub async fn close(&self) {
        if let Some(replica) = self.reads.replica() {
            replica.close().await;
        }
        if !self.one_pool() {
            self.reader.close().await;
        }
        D::before_close(&self.writer).await;
        self.writer.close().await;
    }

    /// The database's plan for the page query of a listing (one line per row of the
    /// `EXPLAIN` output): a diagnostic for operators and the index tests.
    pub async fn explain_list(&self, request: &ListRequest) -> Result<String> {
        self.explain(query::page(D::EXPLAIN.0, request)).await
    }

    /// The plan for the page-mode `count(*)` of a listing.
    pub async fn explain_count(&self, request: &ListRequest) -> Result<String> {
        self.explain(query::count(D::EXPLAIN.0, &request.filter))
            .await
    }

    /// The plan for a stats query.
    pub async fn explain_stats(&self, request: &StatsRequest) -> Result<String> {
        self.explain(query::stats(D::EXPLAIN.0, request)).await
    }

    async fn explain(&self, qb: Qb<D>) -> Result<String> {
        let rows = Self::fetch(&self.reader, qb, true).await?;
        let lines: Result<Vec<String>> = rows.iter().map(|r| D::text(r, D::EXPLAIN.1)).collect();
        Ok(lines?.join("\n"))
    }

    /// `sqlite::memory:` (and PostgreSQL) use one pool for both roles.
    fn one_pool(&self) -> bool {
        std::ptr::eq(self.writer.options(), self.reader.options())
    }

    async fn execute(pool: &Pool<D>, qb: Qb<D>) -> std::result::Result<u64, sqlx::Error> {
        D::execute(&mut *pool.acquire().await?, qb).await
    }

    async fn fetch(pool: &Pool<D>, qb: Qb<D>, persistent: bool) -> Result<Vec<D::Row>> {
        let mut conn = pool.acquire().await.map_err(db)?;
        D::fetch_all(&mut conn, qb, persistent).await.map_err(db)
    }

    async fn count(pool: &Pool<D>, qb: Qb<D>, persistent: bool) -> Result<u64> {
        let rows = Self::fetch(pool, qb, persistent).await?;
        let n = rows.first().map_or(Ok(0), |r| D::int(r, 0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// A write transaction. SQLite takes the write lock at `BEGIN IMMEDIATE`: with a
    /// deferred `BEGIN`, a transaction that ever holds a read snapshot before writing fails
    /// with `SQLITE_BUSY_SNAPSHOT` when another process committed in between, and SQLite
    /// does not retry that; taking the lock at once makes a second process wait on
    /// `busy_timeout` instead.
    ///
    /// The `BEGIN` runs in a task of its own: sqlx's begin is not cancellation-safe (a
    /// caller dropped after the database began the transaction but before sqlx handed it
    /// over leaves the connection inside a transaction nobody owns, and every later write
    /// on it fails). A spawned begin always completes; if its caller is gone, the unused
    /// transaction is dropped, which rolls it back.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, D>> {
        let writer = self.writer.clone();
        tokio::spawn(async move {
            match D::BEGIN_WRITE {
                Some(begin) => writer.begin_with(begin).await,
                None => writer.begin().await,
            }
        })
        .await
        .map_err(taskflow_core::Error::internal)?
        .map_err(db)
    }

    /// The pool for a task read in `scope` that may lag behind (see [`ReadRouter`]).
    fn task_reader(&self, scope: Scope) -> &Pool<D> {
        self.reads.pool(&self.reader, scope)
    }

    async fn fetch_users(&self, qb: Qb<D>) -> Result<Vec<UserRecord>> {
        let rows = Self::fetch(&self.writer, qb, true).await?;
        rows.iter().map(decode::user::<D>).collect()
    }

    async fn fetch_tasks(pool: &Pool<D>, qb: Qb<D>, prepare: bool) -> Result<Vec<Task>> {
        let rows = Self::fetch(pool, qb, prepare).await?;
        rows.iter().map(decode::task::<D>).collect()
    }

    fn select_tasks(scope: Scope) -> Qb<D> {
        let mut qb = QueryBuilder::new(format!("SELECT {TASK_COLUMNS} FROM tasks t WHERE "));
        if let Scope::Owner(owner) = scope {
            qb.push("t.owner_id = ");
            D::bind_id(&mut qb, *owner.as_uuid());
            qb.push(" AND ");
        }
        qb
    }

    fn select_task(scope: Scope, id: TaskId) -> Qb<D> {
        let mut qb = Self::select_tasks(scope);
        qb.push("t.id = ");
        D::bind_id(&mut qb, *id.as_uuid());
        qb
    }

    /// `INSERT INTO tasks ...` of `tasks`, after `prefix`.
    fn insert_tasks_query(prefix: &str, tasks: &[Task]) -> Qb<D> {
        let mut qb = QueryBuilder::new(format!(
            "{prefix}INSERT INTO tasks (id, owner_id, title, description, status, priority, \
             due_date, tags, {}, created_at, updated_at, completed_at, version) VALUES ",
            D::SEARCH_COLUMN
        ));
        let mut rows = List::new(&mut qb);
        for task in tasks {
            rows.next().push("(");
            let mut values = List::new(rows.qb);
            D::bind_id(values.next(), *task.id.as_uuid());
            D::bind_id(values.next(), *task.owner_id.as_uuid());
            Self::bind_task_fields(&mut values, task);
            D::bind_time(values.next(), task.created_at);
            D::bind_time(values.next(), task.updated_at);
            D::bind_opt_time(values.next(), task.completed_at);
            D::bind_int(values.next(), version_param(task.version));
            rows.qb.push(")");
        }
        qb
    }

    /// The fields a replace rewrites, in the order of the insert's columns.
    fn bind_task_fields(values: &mut List<'_, D>, task: &Task) {
        D::bind_text(values.next(), task.title.clone());
        D::bind_opt_text(values.next(), task.description.clone());
        D::bind_text(values.next(), task.status.as_str().to_owned());
        D::bind_priority(values.next(), task.priority.rank());
        D::bind_opt_time(values.next(), task.due_date);
        D::bind_tags(values.next(), &task.tags);
        D::push_search_words(values.next(), search_words(task));
    }

    /// `UPDATE tasks SET ...` of `task` at its previous version, after `prefix`.
    fn replace_task_query(prefix: &str, task: &Task) -> Qb<D> {
        let mut qb = QueryBuilder::new(format!("{prefix}UPDATE tasks SET "));
        let mut set = List::new(&mut qb);
        D::bind_text(set.set("title"), task.title.clone());
        D::bind_opt_text(set.set("description"), task.description.clone());
        D::bind_text(set.set("status"), task.status.as_str().to_owned());
        D::bind_priority(set.set("priority"), task.priority.rank());
        D::bind_opt_time(set.set("due_date"), task.due_date);
        D::bind_tags(set.set("tags"), &task.tags);
        D::push_search_words(set.set(D::SEARCH_COLUMN), search_words(task));
        D::bind_time(set.set("updated_at"), task.updated_at);
        D::bind_opt_time(set.set("completed_at"), task.completed_at);
        D::bind_int(set.set("version"), version_param(task.version));
        Self::push_task_key(&mut qb, task.owner_id, task.id);
        qb.push(" AND version = ");
        D::bind_int(&mut qb, version_param(task.version.saturating_sub(1)));
        qb
    }

    /// ` WHERE id = <id> AND owner_id = <owner>`
    fn push_task_key(qb: &mut Qb<D>, owner: UserId, id: TaskId) {
        qb.push(" WHERE id = ");
        D::bind_id(qb, *id.as_uuid());
        qb.push(" AND owner_id = ");
        D::bind_id(qb, *owner.as_uuid());
    }

    /// `INSERT INTO change_log` of `changes`, stamped now.
    fn append_query(changes: &[Change]) -> Qb<D> {
        let mut qb = QueryBuilder::new("");
        Self::push_append(&mut qb, changes);
        qb
    }

    /// Pushes `INSERT INTO change_log ... VALUES` of `changes`, stamped now.
    fn push_append(qb: &mut Qb<D>, changes: &[Change]) {
        qb.push("INSERT INTO change_log (at, kind, subject, data) VALUES ");
        let mut rows = List::new(qb);
        for change in changes {
            rows.next().push("(");
            let mut values = List::new(rows.qb);
            Self::bind_event(&mut values, change);
            rows.qb.push(")");
        }
    }

    /// The four values of an event's row, in `push_append`'s column order.
    fn bind_event(values: &mut List<'_, D>, change: &Change) {
        D::bind_time(values.next(), to_millis(Utc::now()));
        D::bind_text(values.next(), change.kind().to_owned());
        D::bind_id(values.next(), *change.subject().as_uuid());
        D::bind_text(values.next(), change.data_json());
    }

    /// What a single-row write logged by [`write_logged`](Self::write_logged) starts
    /// with: nothing, or (one-statement logging) the opening of the CTE `written`.
    fn logged_prefix() -> &'static str {
        if D::LOG_IN_ONE_STATEMENT {
            "WITH written AS ("
        } else {
            ""
        }
    }

    /// Appends `changes` inside `tx` (in chunks far below the parameter limits).
    async fn append(tx: &mut sqlx::Transaction<'static, D>, changes: &[Change]) -> Result<()> {
        for chunk in changes.chunks(INSERT_CHUNK) {
            D::execute(tx, Self::append_query(chunk))
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    /// Commits a transaction that appended to the change log and wakes this handle's
    /// waiters.
    async fn commit_logged(&self, tx: sqlx::Transaction<'static, D>) -> Result<()> {
        tx.commit().await.map_err(db)?;
        self.announce();
        Ok(())
    }

    /// After a commit that appended: wakes this handle's waiters and gives the dialect's
    /// announcer (PostgreSQL's `NOTIFY` to other processes) a permit.
    fn announce(&self) {
        self.appended.notify_waiters();
        self.committed.notify_one();
    }

    /// Runs a write of at most one row, begun after [`logged_prefix`](Self::logged_prefix),
    /// and logs `change` if it wrote: one statement where the dialect allows (the write as
    /// the CTE `written`, the event inserted once per row it returned), else a transaction.
    /// `failed` words the statement's own errors. Returns the rows written.
    async fn write_logged(
        &self,
        mut qb: Qb<D>,
        failed: fn(sqlx::Error) -> Error,
        change: Change,
    ) -> Result<u64> {
        if !D::LOG_IN_ONE_STATEMENT {
            return self.write_logged_in_tx(qb, failed, change).await;
        }
        qb.push(" RETURNING 1) INSERT INTO change_log (at, kind, subject, data) SELECT ");
        let mut values = List::new(&mut qb);
        Self::bind_event(&mut values, &change);
        qb.push(" FROM written");
        let n = Self::execute(&self.writer, qb).await.map_err(failed)?;
        if n > 0 {
            self.announce();
        }
        Ok(n)
    }

    /// Runs one write statement (any number of rows, no prefix) and, when it changed rows,
    /// appends `change` once, in one transaction.
    async fn write_logged_in_tx(
        &self,
        qb: Qb<D>,
        failed: fn(sqlx::Error) -> Error,
        change: Change,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = D::execute(&mut tx, qb).await.map_err(failed)?;
        if n > 0 {
            Self::append(&mut tx, std::slice::from_ref(&change)).await?;
            self.commit_logged(tx).await?;
        }
        // Nothing changed: dropping the transaction rolls back nothing.
        Ok(n)
    }

    /// A task write through [`write_logged`](Self::write_logged), recorded for read
    /// routing whatever its outcome.
    async fn write_task(&self, owner: UserId, qb: Qb<D>, change: Change) -> Result<u64> {
        let r = self.write_logged(qb, db, change).await;
        self.reads.wrote(owner);
        r
    }

    fn log_position(row: &D::Row) -> Result<LogPosition> {
        let major = D::text(row, 0)?;
        let major: u64 = major
            .parse()
            .map_err(|_| decode::corrupt(format!("change log position {major:?}")))?;
        let minor = u64::try_from(D::int(row, 1)?).unwrap_or(0);
        Ok(LogPosition::new(major, minor))
    }

    /// The newest pruned position.
    async fn log_horizon(&self) -> Result<LogPosition> {
        let qb = QueryBuilder::new("SELECT major, minor FROM change_log_horizon WHERE id = 1");
        let rows = Self::fetch(&self.writer, qb, true).await?;
        let row = rows
            .first()
            .ok_or_else(|| decode::corrupt("change_log_horizon has no row".into()))?;
        let [major, minor] =
            [D::int(row, 0)?, D::int(row, 1)?].map(|n| u64::try_from(n).unwrap_or(0));
        Ok(LogPosition::new(major, minor))
    }

    /// `SELECT <position> FROM change_log WHERE <cond> ORDER BY <position> DESC LIMIT 1`,
    /// the condition pushed by `cond`.
    fn newest_position(cond: impl FnOnce(&mut Qb<D>)) -> Qb<D> {
        let [columns, order] = D::LOG_POSITION;
        let mut qb = QueryBuilder::new(format!("SELECT {columns} FROM change_log WHERE "));
        cond(&mut qb);
        qb.push(format_args!(
            " ORDER BY {} DESC LIMIT 1",
            order.replace(',', " DESC,")
        ));
        qb
    }
}

fn search_words(task: &Task) -> Vec<String> {
    index_words(&task.title, task.description.as_deref())
}

#[async_trait]
impl<D: Dialect> UserStore for DialectStore<D> {
    async fn insert_user(&self, user: &UserRecord) -> Result<()> {
        let u = &user.user;
        let mut qb = QueryBuilder::new(format!(
            "{}INSERT INTO users (id, email, name, name_lower, role, disabled, password_hash, \
             created_at, updated_at, version) VALUES (",
            Self::logged_prefix()
        ));
        let mut values = List::new(&mut qb);
        D::bind_id(values.next(), *u.id.as_uuid());
        D::bind_text(values.next(), u.email.clone());
        D::bind_text(values.next(), u.name.clone());
        D::bind_text(values.next(), u.name.to_lowercase());
        D::bind_text(values.next(), u.role.as_str().to_owned());
        D::bind_flag(values.next(), u.disabled);
        D::bind_text(values.next(), user.password_hash.clone());
        D::bind_time(values.next(), u.created_at);
        D::bind_time(values.next(), u.updated_at);
        D::bind_int(values.next(), version_param(user.version));
        qb.push(")");
        let change = Change::UserChanged { user_id: u.id };
        self.write_logged(qb, user_write_failed, change).await?;
        Ok(())
    }

    async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        let mut qb = QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE id = "));
        D::bind_id(&mut qb, *id.as_uuid());
        Ok(self.fetch_users(qb).await?.pop())
    }

    async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let mut qb = QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE email = "));
        D::bind_text(&mut qb, email.to_owned());
        Ok(self.fetch_users(qb).await?.pop())
    }

    async fn replace_user(&self, user: &UserRecord, keep_an_active_admin: bool) -> Result<bool> {
        let u = &user.user;
        let mut tx = self.begin_write().await?;
        if keep_an_active_admin && let Some(guard) = D::ADMIN_GUARD {
            D::execute(&mut tx, QueryBuilder::new(guard))
                .await
                .map_err(db)?;
        }
        let mut qb = QueryBuilder::new("UPDATE users SET ");
        let mut set = List::new(&mut qb);
        D::bind_text(set.set("email"), u.email.clone());
        D::bind_text(set.set("name"), u.name.clone());
        D::bind_text(set.set("name_lower"), u.name.to_lowercase());
        D::bind_text(set.set("role"), u.role.as_str().to_owned());
        D::bind_flag(set.set("disabled"), u.disabled);
        D::bind_text(set.set("password_hash"), user.password_hash.clone());
        D::bind_time(set.set("updated_at"), u.updated_at);
        D::bind_int(set.set("version"), version_param(user.version));
        qb.push(" WHERE id = ");
        D::bind_id(&mut qb, *u.id.as_uuid());
        qb.push(" AND version = ");
        D::bind_int(&mut qb, version_param(user.version.saturating_sub(1)));
        match D::execute(&mut tx, qb).await {
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(e) => return Err(user_write_failed(e)),
        }
        if keep_an_active_admin {
            // Under the guard (or SQLite's single writer), this sees every earlier guarded
            // write committed.
            let rows = D::fetch_all(&mut tx, query::active_admins(), true)
                .await
                .map_err(db)?;
            if rows.first().map_or(Ok(0), |r| D::int(r, 0))? == 0 {
                return Err(last_admin());
            }
        }
        Self::append(&mut tx, &[Change::UserChanged { user_id: u.id }]).await?;
        self.commit_logged(tx).await?;
        Ok(true)
    }

    async fn list_users(&self, request: &UserListRequest) -> Result<(Vec<User>, u64)> {
        let users = self.fetch_users(query::users_page(request)).await?;
        let total = Self::count(&self.writer, query::users_count(request), true).await?;
        Ok((users.into_iter().map(|r| r.user).collect(), total))
    }
}

#[async_trait]
impl<D: Dialect> SessionStore for DialectStore<D> {
    async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        let mut qb =
            QueryBuilder::new(format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ("));
        let mut values = List::new(&mut qb);
        D::bind_id(values.next(), *s.id.as_uuid());
        D::bind_id(values.next(), *s.user_id.as_uuid());
        D::bind_text(values.next(), s.token_hash.clone());
        D::bind_flag(values.next(), s.revoked);
        D::bind_time(values.next(), s.created_at);
        D::bind_time(values.next(), s.expires_at);
        D::bind_int(values.next(), version_param(s.generation));
        qb.push(")");
        Self::execute(&self.writer, qb).await.map_err(db)?;
        Ok(())
    }

    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        let mut qb = QueryBuilder::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = "
        ));
        D::bind_id(&mut qb, *id.as_uuid());
        let rows = Self::fetch(&self.writer, qb, true).await?;
        rows.first().map(decode::session::<D>).transpose()
    }

    async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool> {
        let mut qb = QueryBuilder::new(format!(
            "{}UPDATE sessions SET token_hash = ",
            Self::logged_prefix()
        ));
        D::bind_text(&mut qb, r.new_hash.to_owned());
        qb.push(", expires_at = ");
        D::bind_time(&mut qb, r.new_expires_at);
        qb.push(", generation = generation + 1 WHERE id = ");
        D::bind_id(&mut qb, *r.id.as_uuid());
        qb.push(" AND user_id = ");
        D::bind_id(&mut qb, *r.user_id.as_uuid());
        qb.push(" AND token_hash = ");
        D::bind_text(&mut qb, r.presented_hash.to_owned());
        qb.push(format_args!(
            " AND revoked = {} AND expires_at > ",
            D::FALSE
        ));
        D::bind_time(&mut qb, r.now);
        let change = Change::SessionsChanged {
            user_id: r.user_id,
            session_id: Some(r.id),
        };
        Ok(self.write_logged(qb, db, change).await? == 1)
    }

    async fn revoke_session(&self, user_id: UserId, id: SessionId) -> Result<()> {
        let mut qb = QueryBuilder::new(format!(
            "{}UPDATE sessions SET revoked = {} WHERE id = ",
            Self::logged_prefix(),
            D::TRUE
        ));
        D::bind_id(&mut qb, *id.as_uuid());
        qb.push(" AND user_id = ");
        D::bind_id(&mut qb, *user_id.as_uuid());
        qb.push(format_args!(" AND revoked = {}", D::FALSE));
        let change = Change::SessionsChanged {
            user_id,
            session_id: Some(id),
        };
        self.write_logged(qb, db, change).await?;
        Ok(())
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
    ) -> Result<u64> {
        // A nil id never matches a session, so `except = None` keeps nothing back.
        let keep = except.map_or(Uuid::nil(), |s| *s.as_uuid());
        let mut qb = QueryBuilder::new(format!(
            "UPDATE sessions SET revoked = {} WHERE user_id = ",
            D::TRUE
        ));
        D::bind_id(&mut qb, *user_id.as_uuid());
        qb.push(format_args!(" AND revoked = {} AND id <> ", D::FALSE));
        D::bind_id(&mut qb, keep);
        // Many rows, one event: the transaction form on every dialect.
        let change = Change::SessionsChanged {
            user_id,
            session_id: None,
        };
        self.write_logged_in_tx(qb, db, change).await
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut qb = QueryBuilder::new("DELETE FROM sessions WHERE expires_at <= ");
        D::bind_time(&mut qb, now);
        Self::execute(&self.writer, qb).await.map_err(db)
    }
}

#[async_trait]
impl<D: Dialect> TaskStore for DialectStore<D> {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        match &self.inserts {
            // One code path binds task columns for inserts: the batch one.
            Some(inserts) => {
                inserts
                    .insert(task, |batch| async move { self.insert_tasks(&batch).await })
                    .await
            }
            None => self.insert_tasks(std::slice::from_ref(task)).await,
        }
    }

    async fn insert_tasks(&self, tasks: &[Task]) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let created: Vec<Change> = tasks.iter().cloned().map(Change::TaskCreated).collect();
        if D::LOG_IN_ONE_STATEMENT && tasks.len() <= INSERT_CHUNK {
            // One statement: the rows, then their events (all or none, as one statement).
            let mut qb = Self::insert_tasks_query("WITH written AS (", tasks);
            qb.push(") ");
            Self::push_append(&mut qb, &created);
            Self::execute(&self.writer, qb)
                .await
                .map_err(duplicate_task)?;
            self.announce();
        } else {
            // Multi-row INSERTs: one statement (and on SQLite one FTS5 sync) per chunk.
            let mut tx = self.begin_write().await?;
            for chunk in tasks.chunks(INSERT_CHUNK) {
                D::execute(&mut tx, Self::insert_tasks_query("", chunk))
                    .await
                    .map_err(duplicate_task)?;
            }
            Self::append(&mut tx, &created).await?;
            self.commit_logged(tx).await?;
        }
        for task in tasks {
            self.reads.wrote(task.owner_id);
        }
        Ok(())
    }

    async fn get_task(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        let pool = self.task_reader(scope);
        let qb = Self::select_task(scope, id);
        Ok(Self::fetch_tasks(pool, qb, true).await?.pop())
    }

    async fn get_task_for_update(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        let qb = Self::select_task(scope, id);
        Ok(Self::fetch_tasks(&self.writer, qb, true).await?.pop())
    }

    async fn get_tasks(&self, scope: Scope, ids: &[TaskId]) -> Result<Vec<Task>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = Self::select_tasks(scope);
        D::push_id_in(&mut qb, ids);
        Self::fetch_tasks(&self.writer, qb, true).await
    }

    async fn replace_task(&self, task: &Task) -> Result<bool> {
        let qb = Self::replace_task_query(Self::logged_prefix(), task);
        let updated = Change::TaskUpdated(task.clone());
        Ok(self.write_task(task.owner_id, qb, updated).await? == 1)
    }

    async fn replace_tasks(&self, tasks: &[Task]) -> Result<Vec<TaskId>> {
        let mut tx = self.begin_write().await?;
        for task in tasks {
            let n = D::execute(&mut tx, Self::replace_task_query("", task))
                .await
                .map_err(db)?;
            if n != 1 {
                // All or nothing: dropping the transaction rolls it back.
                return Ok(tasks.iter().map(|t| t.id).collect());
            }
        }
        let updated: Vec<Change> = tasks.iter().cloned().map(Change::TaskUpdated).collect();
        Self::append(&mut tx, &updated).await?;
        self.commit_logged(tx).await?;
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
        let mut qb = QueryBuilder::new(format!("{}DELETE FROM tasks", Self::logged_prefix()));
        Self::push_task_key(&mut qb, owner, id);
        if let Some(v) = expected_version {
            qb.push(" AND version = ");
            D::bind_int(&mut qb, version_param(v));
        }
        let deleted = Change::TaskDeleted {
            task_id: id,
            owner_id: owner,
        };
        Ok(self.write_task(owner, qb, deleted).await? == 1)
    }

    async fn list_tasks(&self, request: &ListRequest) -> Result<TaskSlice> {
        let pool = self.task_reader(request.filter.scope);
        let prepare = query::may_prepare(request);
        let mut items = Self::fetch_tasks(pool, query::page("", request), prepare).await?;
        let has_more = items.len() > request.limit as usize;
        items.truncate(request.limit as usize);
        let total = if request.wants_total() {
            Some(Self::count(pool, query::count("", &request.filter), prepare).await?)
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
        let rows = Self::fetch(pool, query::stats("", request), true).await?;
        let row = rows
            .first()
            .ok_or_else(|| decode::corrupt("stats returned no row".into()))?;
        decode::stats_from_counts(|i| D::int(row, i))
    }
}

#[async_trait]
impl<D: Dialect> Store for DialectStore<D> {
    async fn ping(&self) -> Result<()> {
        Self::execute(&self.writer, QueryBuilder::new("SELECT 1"))
            .await
            .map_err(db)?;
        Ok(())
    }
}

/// Each operation is one statement in its own (implicit) transaction, on the writer: reads
/// see the latest write, and each conditional write is atomic. On PostgreSQL two writers
/// racing for one key meet at its row (or its primary-key entry) and the second evaluates
/// its condition on the first one's result; on SQLite writes are serial.
#[async_trait]
impl<D: Dialect> SharedState for DialectStore<D> {
    async fn get_shared(&self, key: &str, now: DateTime<Utc>) -> Result<Option<SharedRecord>> {
        let mut qb =
            QueryBuilder::new("SELECT value, version, expires_at FROM shared_state WHERE key = ");
        D::bind_text(&mut qb, key.to_owned());
        qb.push(" AND expires_at > ");
        D::bind_time(&mut qb, now);
        let rows = Self::fetch(&self.writer, qb, true).await?;
        rows.first().map(decode::shared::<D>).transpose()
    }

    async fn put_shared(
        &self,
        key: &str,
        value: &str,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        let mut qb = match expected {
            // Inserts, or takes over an expired row (one version up); a live row stays.
            None => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO shared_state (key, value, version, expires_at) VALUES (",
                );
                let mut values = List::new(&mut qb);
                D::bind_text(values.next(), key.to_owned());
                D::bind_text(values.next(), value.to_owned());
                values.next().push("1");
                D::bind_time(values.next(), expires_at);
                qb.push(
                    ") ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                     version = shared_state.version + 1, expires_at = excluded.expires_at \
                     WHERE shared_state.expires_at <= ",
                );
                D::bind_time(&mut qb, now);
                qb
            }
            Some(version) => {
                let mut qb = QueryBuilder::new("UPDATE shared_state SET value = ");
                D::bind_text(&mut qb, value.to_owned());
                qb.push(", version = version + 1, expires_at = ");
                D::bind_time(&mut qb, expires_at);
                qb.push(" WHERE key = ");
                D::bind_text(&mut qb, key.to_owned());
                qb.push(" AND version = ");
                D::bind_int(&mut qb, version_param(version));
                qb.push(" AND expires_at > ");
                D::bind_time(&mut qb, now);
                qb
            }
        };
        // A row comes back only when the statement wrote.
        qb.push(" RETURNING version");
        let rows = Self::fetch(&self.writer, qb, true).await?;
        rows.first()
            .map(|row| D::int(row, 0).and_then(decode::version))
            .transpose()
    }

    async fn purge_shared(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut qb = QueryBuilder::new("DELETE FROM shared_state WHERE expires_at <= ");
        D::bind_time(&mut qb, now);
        Self::execute(&self.writer, qb).await.map_err(db)
    }
}

fn user_write_failed(e: sqlx::Error) -> Error {
    if is_unique_violation(&e) {
        duplicate_email()
    } else {
        db(e)
    }
}

fn duplicate_task(e: sqlx::Error) -> taskflow_core::Error {
    if is_unique_violation(&e) {
        duplicate_task_id()
    } else {
        db(e)
    }
}

#[async_trait]
impl<D: Dialect> ChangeLog for DialectStore<D> {
    async fn read_changes(
        &self,
        scope: Scope,
        after: LogPosition,
        limit: usize,
    ) -> Result<ChangeBatch> {
        if after < self.log_horizon().await? {
            return Err(Error::ResetRequired {
                start: self.change_head().await?,
            });
        }
        let [columns, order] = D::LOG_POSITION;
        let mut qb = QueryBuilder::new(format!(
            "SELECT {columns}, at, kind, data, {} FROM change_log WHERE ",
            D::LOG_SETTLED
        ));
        if let Scope::Owner(subject) = scope {
            qb.push("subject = ");
            D::bind_id(&mut qb, *subject.as_uuid());
            qb.push(" AND ");
        }
        D::push_log_after(&mut qb, after);
        qb.push(format_args!(" ORDER BY {order} LIMIT "));
        D::bind_int(
            &mut qb,
            i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1),
        );
        let rows = Self::fetch(&self.reader, qb, true).await?;
        let mut events = Vec::with_capacity(rows.len().min(limit));
        let mut held_back = false;
        for row in &rows {
            if !D::flag(row, 5)? {
                // An older transaction is still running: later events wait for it.
                held_back = true;
                break;
            }
            if events.len() == limit {
                break;
            }
            events.push(ChangeEvent {
                position: Self::log_position(row)?,
                at: D::time(row, 2)?,
                change: Change::from_parts(&D::text(row, 3)?, &D::text(row, 4)?)?,
            });
        }
        Ok(ChangeBatch {
            caught_up: !held_back && rows.len() <= limit,
            events,
        })
    }

    async fn change_head(&self) -> Result<LogPosition> {
        let settled = Self::newest_position(|qb| {
            qb.push(D::LOG_SETTLED);
        });
        let rows = Self::fetch(&self.reader, settled, true).await?;
        let newest = rows.first().map(Self::log_position).transpose()?;
        Ok(newest.unwrap_or_default().max(self.log_horizon().await?))
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64> {
        let horizon = self.log_horizon().await?;
        let mut tx = self.begin_write().await?;
        let newest = Self::newest_position(|qb| {
            qb.push("at < ");
            D::bind_time(qb, before);
        });
        let rows = D::fetch_all(&mut tx, newest, true).await.map_err(db)?;
        let Some(newest) = rows.first().map(Self::log_position).transpose()? else {
            return Ok(0);
        };
        let mut delete = QueryBuilder::new("DELETE FROM change_log WHERE at < ");
        D::bind_time(&mut delete, before);
        let n = D::execute(&mut tx, delete).await.map_err(db)?;
        // The horizon only moves forward (PostgreSQL's ages and positions may disagree).
        let newest = newest.max(horizon);
        let mut update = QueryBuilder::new("UPDATE change_log_horizon SET major = ");
        D::bind_int(
            &mut update,
            i64::try_from(newest.major()).unwrap_or(i64::MAX),
        );
        update.push(", minor = ");
        D::bind_int(
            &mut update,
            i64::try_from(newest.minor()).unwrap_or(i64::MAX),
        );
        update.push(" WHERE id = 1");
        D::execute(&mut tx, update).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(n)
    }

    async fn wait_for_changes(&self, _after: LogPosition, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.appended.notified()).await;
    }

    /// A task write of another instance sends its owner's reads to the primary for the
    /// replica lag, as this instance's own writes do.
    fn observe(&self, change: &Change) {
        if change.task_id().is_some() {
            self.reads.wrote(change.subject());
        }
    }
}
