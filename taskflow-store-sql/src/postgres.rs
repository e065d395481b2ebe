//! The PostgreSQL dialect and how its store opens.
//!
//! Versioned writes and refresh rotation are single conditional statements, safe under READ
//! COMMITTED with real parallel connections; batches are transactions; the last-admin guard
//! serialises guarded writes with a transaction-scoped advisory lock. The pool connects
//! lazily, so opening never blocks on an unreachable server: calls fail with `unavailable`
//! after the acquire timeout instead.

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Pool, Postgres, QueryBuilder, Row};
use taskflow_core::{Error, LogPosition, Result, TaskId};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::dialect::Dialect;
use crate::error::db;
use crate::read_replica::ReadRouter;
use crate::{DialectStore, SqlOptions};

impl Dialect for Postgres {
    const COLUMN: usize = 1;

    fn migrate_error(e: sqlx::migrate::MigrateError) -> Error {
        match e {
            sqlx::migrate::MigrateError::Execute(e) => db(e),
            other => Error::internal(format!("{} migration failed: {other}", Self::LABEL)),
        }
    }

    fn bind_time(qb: &mut QueryBuilder<'static, Self>, t: DateTime<Utc>) {
        qb.push_bind(t);
    }
    fn bind_opt_time(qb: &mut QueryBuilder<'static, Self>, t: Option<DateTime<Utc>>) {
        qb.push_bind(t);
    }
    fn bind_priority(qb: &mut QueryBuilder<'static, Self>, rank: u8) {
        qb.push_bind(i16::from(rank));
    }
    fn bind_tags(qb: &mut QueryBuilder<'static, Self>, tags: &[String]) {
        qb.push_bind(tags.to_vec());
    }
    fn push_search_words(qb: &mut QueryBuilder<'static, Self>, words: Vec<String>) {
        // Each word one lexeme: no text-search parser or locale is involved.
        qb.push("array_to_tsvector(");
        qb.push_bind(words);
        qb.push("::text[])");
    }
    fn search_query(words: &[String]) -> String {
        // Words are runs of letters and digits; quoted, each is one lexeme, `:*` makes it a
        // prefix and `&` joins them.
        let query: Vec<String> = words.iter().map(|w| format!("'{w}':*")).collect();
        query.join(" & ")
    }
    fn push_log_after(qb: &mut QueryBuilder<'static, Self>, after: LogPosition) {
        // A row comparison over the primary key's columns, so the index serves it.
        qb.push("(xid, seq) > (");
        qb.push_bind(after.major().to_string());
        qb.push("::text::xid8, ");
        qb.push_bind(i64::try_from(after.minor()).unwrap_or(i64::MAX));
        qb.push(")");
    }
    fn push_id_in(qb: &mut QueryBuilder<'static, Self>, ids: &[TaskId]) {
        // One array parameter: one prepared statement whatever the number of ids.
        qb.push("t.id = ANY(");
        qb.push_bind(ids.iter().map(|id| *id.as_uuid()).collect::<Vec<Uuid>>());
        qb.push(")");
    }

    fn time(row: &PgRow, i: usize) -> Result<DateTime<Utc>> {
        row.try_get(i).map_err(db)
    }
    fn opt_time(row: &PgRow, i: usize) -> Result<Option<DateTime<Utc>>> {
        row.try_get(i).map_err(db)
    }
    fn priority(row: &PgRow, i: usize) -> Result<i64> {
        Ok(row.try_get::<i16, _>(i).map_err(db)?.into())
    }
    fn tags(row: &PgRow, i: usize) -> Result<Vec<String>> {
        row.try_get(i).map_err(db)
    }

    async fn before_close(_: &Pool<Self>) {}
}

impl DialectStore<Postgres> {
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
        let reads = ReadRouter::new(replica.clone(), options.replica_lag);
        if let Some(replica) = replica {
            let every = (options.replica_lag / 4).clamp(REPLICA_CHECK_MIN, REPLICA_CHECK_MAX);
            monitor_replica(pool.clone(), replica, Arc::downgrade(reads.health()), every);
        }
        // Parallel connections: a reader pool of its own would only halve each.
        let store = Self::from_pools(pool.clone(), pool.clone(), reads, false);
        listen_for_changes(pool.clone(), Arc::downgrade(store.appended()));
        announce_changes(pool, Arc::downgrade(store.committed()));
        Ok(store)
    }

    /// The primary pool.
    pub fn pool(&self) -> &PgPool {
        self.writer()
    }
}

/// The channel appends are announced on.
const CHANGES_CHANNEL: &str = "taskflow_changes";

/// `NOTIFY`s other processes after this store's commits that appended, at most one at a
/// time: the commits of a burst share one notification. Not inside the write's own
/// transaction on purpose: a transaction that notifies holds a cluster-wide lock from its
/// pre-commit until its commit record is flushed, which serialises every such commit and
/// halved create throughput. A crash between a commit and its notification loses only the
/// wake-up; followers poll the table, which stays the truth.
fn announce_changes(pool: PgPool, committed: Weak<Notify>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            let Some(notify) = committed.upgrade() else {
                return;
            };
            let woken = tokio::time::timeout(Duration::from_secs(1), notify.notified()).await;
            drop(notify);
            if woken.is_ok() {
                let _ = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(CHANGES_CHANNEL)
                    .execute(&pool)
                    .await;
            }
        }
    });
}

/// Wakes `appended` on every notification of an append to the change log (another
/// process's, or this one's):
/// `LISTEN` is the wake-up, the table stays the truth, and a follower polls anyway, so a
/// lost notification or a dead listening connection only delays it. Reconnects after
/// failures; ends when the store is dropped. Outside a tokio runtime there is no listener
/// (followers then poll).
fn listen_for_changes(pool: PgPool, appended: Weak<Notify>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        while appended.strong_count() > 0 {
            let listener = match PgListener::connect_with(&pool).await {
                Ok(mut l) => l.listen(CHANGES_CHANNEL).await.map(|()| l),
                Err(e) => Err(e),
            };
            let Ok(mut listener) = listener else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            loop {
                match tokio::time::timeout(Duration::from_secs(5), listener.try_recv()).await {
                    Ok(Ok(Some(_))) => match appended.upgrade() {
                        Some(notify) => notify.notify_waiters(),
                        None => return,
                    },
                    // The connection was lost (or failed): listen again on a new one.
                    Ok(Ok(None) | Err(_)) => break,
                    Err(_) if appended.strong_count() == 0 => return,
                    Err(_) => {}
                }
            }
        }
    });
}

/// Bounds of how often the replica's lag is checked (a quarter of the lag in between).
const REPLICA_CHECK_MIN: Duration = Duration::from_millis(50);
const REPLICA_CHECK_MAX: Duration = Duration::from_secs(1);

/// Keeps `health` proving that the replica is caught up: the primary's WAL position is
/// read, then the standby's replayed position; when the standby has replayed at least that
/// far, everything committed before the first read is visible there. A standby that does
/// not answer, or lags, proves nothing, and reads go to the primary once the last proof is
/// older than the lag. A replica that is not a standby (logical replication) cannot be
/// measured this way and counts as fresh while it answers. Outside a tokio runtime there
/// is no monitor, and the replica is not used.
fn monitor_replica(
    primary: PgPool,
    replica: PgPool,
    health: Weak<crate::read_replica::ReplicaHealth>,
    every: Duration,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            let Some(health) = health.upgrade() else {
                return;
            };
            let asked = std::time::Instant::now();
            let primary_at: Option<i64> =
                sqlx::query_scalar("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
                    .fetch_one(&primary)
                    .await
                    .ok();
            let standby: Option<(bool, Option<i64>)> = sqlx::query_as(
                "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint",
            )
            .fetch_one(&replica)
            .await
            .ok();
            match (primary_at, standby) {
                (Some(wanted), Some((true, Some(replayed)))) if replayed >= wanted => {
                    health.proved(asked)
                }
                (_, Some((false, _))) => health.proved(asked),
                _ => {}
            }
            drop(health);
            tokio::time::sleep(every).await;
        }
    });
}
