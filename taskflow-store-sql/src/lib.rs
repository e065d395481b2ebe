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
//!     .shared_store(store.shared())
//!     .cache(MokaCache::default())
//!     .jwt_secret(std::env::var("TASKFLOW_JWT_SECRET").unwrap_or_default())
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! ## Shape: one store over a dialect
//!
//! [`DialectStore<D>`](DialectStore) holds every statement, transaction and routing
//! decision once; [`SqliteStore`] and [`PostgresStore`] are it over `sqlx::Sqlite` and
//! `sqlx::Postgres`. The [`Dialect`] trait, implemented on sqlx's driver types themselves
//! (one type parameter, no wrapper types), carries only what differs: time encoding
//! (milliseconds vs `timestamptz`), tags (JSON text vs `text[]`), full-text search (FTS5 vs
//! `tsvector`), id lists, boolean literals, the write `BEGIN`, the last-admin lock,
//! migrations and plans. Placeholders come from sqlx's `QueryBuilder`. Each dialect's opener
//! picks the execution strategy: SQLite one writer connection, a read-only pool and group
//! commit of concurrent creates; PostgreSQL one parallel pool. A trait rather than an enum
//! matched in every statement, so each statement stays monomorphic: sqlx keeps it prepared
//! per connection exactly as a hand-written one. [`SqlStore`] only chooses the dialect from
//! a URL and hands the store out as `Arc<dyn Store>`, so no layer forwards the store
//! methods.
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
//! - Shared state (`SharedState`, the login throttle's records; table `shared_state`) is
//!   one conditional statement per write on both dialects: with no expected version an
//!   `INSERT … ON CONFLICT DO UPDATE … WHERE` that takes over only an expired row, otherwise
//!   an `UPDATE … WHERE version = … AND expires_at > now`, each `RETURNING` the new version.
//! - An optional read replica ([`SqlOptions::replica_url`]) serves task gets, listings and
//!   stats, never authentication, read-modify-write reads, or reads of an owner who wrote
//!   within [`SqlOptions::replica_lag`].
//! - A database that cannot be reached surfaces as `unavailable` within
//!   [`SqlOptions::acquire_timeout`].

mod dialect;
mod driver;
mod error;
mod group_commit;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod read_replica;
mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

use std::sync::Arc;
use std::time::Duration;

use taskflow_core::{Error, Result, Store};

pub use dialect::Dialect;
pub use store::DialectStore;

/// A TaskFlow store on PostgreSQL.
#[cfg(feature = "postgres")]
pub type PostgresStore = DialectStore<sqlx::Postgres>;
/// A TaskFlow store on a SQLite database file (or in memory).
#[cfg(feature = "sqlite")]
pub type SqliteStore = DialectStore<sqlx::Sqlite>;

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

/// A SQL store chosen by URL scheme. It does not implement the store traits itself:
/// [`shared`](Self::shared) hands out the store of its dialect, so calls reach the statements
/// without a forwarding layer.
#[derive(Clone)]
#[non_exhaustive]
pub enum SqlStore {
    /// `sqlite://path`, `sqlite:path`, `sqlite::memory:`.
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<SqliteStore>),
    /// `postgres://…`, `postgresql://…`.
    #[cfg(feature = "postgres")]
    Postgres(Arc<PostgresStore>),
}

/// `$body` with `$s` bound to the store, whichever dialect it is.
macro_rules! each_dialect {
    ($self:ident, $s:ident => $body:expr) => {
        match $self {
            #[cfg(feature = "sqlite")]
            SqlStore::Sqlite($s) => $body,
            #[cfg(feature = "postgres")]
            SqlStore::Postgres($s) => $body,
        }
    };
}

impl SqlStore {
    /// Opens the store the URL's scheme names. Does not migrate.
    pub async fn open(url: &str, options: &SqlOptions) -> Result<Self> {
        #[cfg(feature = "sqlite")]
        if url.starts_with("sqlite:") {
            let store = SqliteStore::open(url, options).await?;
            return Ok(SqlStore::Sqlite(Arc::new(store)));
        }
        #[cfg(feature = "postgres")]
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let store = PostgresStore::open(url, options).await?;
            return Ok(SqlStore::Postgres(Arc::new(store)));
        }
        let _ = options;
        Err(Error::invalid(
            "database_url",
            "must start with sqlite: or postgres:// (for the features this build has)",
        ))
    }

    /// The store, as core takes it.
    pub fn shared(&self) -> Arc<dyn Store> {
        each_dialect!(self, s => s.clone())
    }

    /// Applies pending migrations (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        each_dialect!(self, s => s.migrate().await)
    }

    /// Current usage of each connection pool, for metrics.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        each_dialect!(self, s => s.pool_stats())
    }

    /// Closes every pool.
    pub async fn close(&self) {
        each_dialect!(self, s => s.close().await)
    }
}
