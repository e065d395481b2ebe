//! # taskflow-store-sql
//!
//! TaskFlow stores on [sqlx]: SQLite, the embedded default (feature `sqlite`), and
//! PostgreSQL for teams that run a database server (feature `postgres`). Both pass the whole
//! `taskflow-core` conformance suite.
//!
//! ```no_run
//! use taskflow_store_sql::{SqlOptions, SqlStore};
//! use taskflow_core::{MokaCache, TaskFlow};
//!
//! # async fn run() -> taskflow_core::Result<()> {
//! let store = SqlStore::open("sqlite://taskflow.db", &SqlOptions::default()).await?;
//! store.migrate().await?;
//! let tf = TaskFlow::builder()
//!     .store(store)
//!     .cache(MokaCache::default())
//!     .jwt_secret(std::env::var("TASKFLOW_JWT_SECRET").unwrap_or_default())
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! - Migrations are embedded per dialect (`migrations/sqlite`, `migrations/postgres`) and
//!   applied by [`SqlStore::migrate`], which is idempotent.
//! - Every value is bound; SQL text is built only from fixed fragments (`QueryBuilder`).
//! - Listings use keyset positions `(sort key, id)` served by `(owner_id, key, id)` indexes;
//!   page mode adds a `count(*)`. Stats are one aggregate query with `FILTER` clauses.
//! - Full-text search indexes the words `taskflow_core::index_words` extracts (FTS5 with
//!   the `ascii` tokenizer; a `tsvector` built by `array_to_tsvector` on PostgreSQL), so both
//!   match exactly the core's word-prefix semantics, whatever the database locale.
//! - Refresh rotation and versioned writes are single conditional statements; bulk changes
//!   and the last-admin guard are transactions.
//! - An optional read replica ([`SqlOptions::replica_url`]) serves task gets, listings and
//!   stats, never authentication, read-modify-write reads, or reads of an owner who wrote
//!   within [`SqlOptions::replica_lag`].
//! - A database that cannot be reached surfaces as `unavailable` within
//!   [`SqlOptions::acquire_timeout`].

mod error;
#[cfg(feature = "sqlite")]
mod group_commit;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod routing;
mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use taskflow_core::{
    Error, ListRequest, Result, Scope, SessionId, SessionRecord, SessionRotation, SessionStore,
    StatsRequest, Store, Task, TaskId, TaskSlice, TaskStats, TaskStore, User, UserId,
    UserListRequest, UserRecord, UserStore,
};

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// Pool and routing settings.
#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// Most connections per pool (default 10; the SQLite writer always has one).
    pub max_connections: u32,
    /// How long a call waits for a connection before failing with `unavailable`
    /// (default 5 s).
    pub acquire_timeout: Duration,
    /// SQLite: how long a statement waits on another process's lock (default 5 s).
    pub busy_timeout: Duration,
    /// A read replica for task gets, listings and stats.
    pub replica_url: Option<String>,
    /// For how long after an owner's write their reads stay on the primary (default 5 s).
    pub replica_lag: Duration,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
            replica_url: None,
            replica_lag: Duration::from_secs(5),
        }
    }
}

/// Usage of one connection pool at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// `writer` / `reader` (SQLite) or `primary` (PostgreSQL).
    pub name: &'static str,
    /// Open connections.
    pub size: u32,
    /// Idle connections among them.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

impl PoolStats {
    fn of<DB: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<DB>) -> Self {
        Self {
            name,
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
}

/// A SQL store chosen by URL scheme.
#[non_exhaustive]
pub enum SqlStore {
    /// `sqlite://path`, `sqlite:path`, `sqlite::memory:`.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// `postgres://…`, `postgresql://…`.
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
}

impl SqlStore {
    /// Opens the store the URL's scheme names. Does not migrate.
    pub async fn open(url: &str, options: &SqlOptions) -> Result<Self> {
        #[cfg(feature = "sqlite")]
        if url.starts_with("sqlite:") {
            return SqliteStore::open(url, options).await.map(SqlStore::Sqlite);
        }
        #[cfg(feature = "postgres")]
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return PostgresStore::open(url, options)
                .await
                .map(SqlStore::Postgres);
        }
        let _ = options;
        Err(Error::invalid(
            "database_url",
            "must start with sqlite: or postgres:// (for the features this build has)",
        ))
    }

    /// Applies pending migrations (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(s) => s.migrate().await,
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(s) => s.migrate().await,
        }
    }

    /// Current usage of each connection pool, for metrics.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        match self {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(s) => s.pool_stats(),
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(s) => s.pool_stats(),
        }
    }

    /// Closes every pool.
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(s) => s.close().await,
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(s) => s.close().await,
        }
    }
}

/// Forwards a store method to whichever backend the enum holds.
macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite(s) => s.$method($($arg),*).await,
            #[cfg(feature = "postgres")]
            SqlStore::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

#[async_trait]
impl UserStore for SqlStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<()> {
        delegate!(self.insert_user(user))
    }
    async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        delegate!(self.get_user(id))
    }
    async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        delegate!(self.get_user_by_email(email))
    }
    async fn replace_user(&self, user: &UserRecord, keep_an_active_admin: bool) -> Result<bool> {
        delegate!(self.replace_user(user, keep_an_active_admin))
    }
    async fn list_users(&self, request: &UserListRequest) -> Result<(Vec<User>, u64)> {
        delegate!(self.list_users(request))
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, session: &SessionRecord) -> Result<()> {
        delegate!(self.insert_session(session))
    }
    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        delegate!(self.get_session(id))
    }
    async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool> {
        delegate!(self.rotate_session(r))
    }
    async fn revoke_session(&self, user_id: UserId, id: SessionId) -> Result<()> {
        delegate!(self.revoke_session(user_id, id))
    }
    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
    ) -> Result<u64> {
        delegate!(self.revoke_user_sessions(user_id, except))
    }
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        delegate!(self.purge_expired_sessions(now))
    }
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        delegate!(self.insert_task(task))
    }
    async fn insert_tasks(&self, tasks: &[Task]) -> Result<()> {
        delegate!(self.insert_tasks(tasks))
    }
    async fn get_task(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        delegate!(self.get_task(scope, id))
    }
    async fn get_task_for_update(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        delegate!(self.get_task_for_update(scope, id))
    }
    async fn get_tasks(&self, scope: Scope, ids: &[TaskId]) -> Result<Vec<Task>> {
        delegate!(self.get_tasks(scope, ids))
    }
    async fn replace_task(&self, task: &Task) -> Result<bool> {
        delegate!(self.replace_task(task))
    }
    async fn replace_tasks(&self, tasks: &[Task]) -> Result<Vec<TaskId>> {
        delegate!(self.replace_tasks(tasks))
    }
    async fn delete_task(
        &self,
        owner: UserId,
        id: TaskId,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        delegate!(self.delete_task(owner, id, expected_version))
    }
    async fn list_tasks(&self, request: &ListRequest) -> Result<TaskSlice> {
        delegate!(self.list_tasks(request))
    }
    async fn task_stats(&self, request: &StatsRequest) -> Result<TaskStats> {
        delegate!(self.task_stats(request))
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        delegate!(self.ping())
    }
}
