//! The SQLite dialect and how its store opens: the embedded default.
//!
//! WAL journal, `synchronous = NORMAL`, foreign keys on, a `busy_timeout`. All writes of
//! this process go through one writer connection, so concurrent callers queue in the pool
//! instead of meeting `SQLITE_BUSY`, and concurrent creates share a transaction (group
//! commit); readers use their own pool and, under WAL, never block the writer. Every
//! transaction starts with a write lock (`BEGIN IMMEDIATE`), so a second process writing the
//! same file makes it wait (up to `busy_timeout`) rather than fail on a lock upgrade. An
//! in-memory database lives on a single connection.
//!
//! On Unix a new database file is created mode 0600 before SQLite opens it, and SQLite
//! gives the `-wal`, `-shm` and `-journal` files it creates the mode of the database file:
//! nobody but the owner can read the accounts and tasks. This is done per file, never by
//! changing the process umask (embedders and the Python bindings share the process). An
//! existing database readable or writable by others is reported at open with a WARN and
//! left as it is: changing its mode could break whatever else was meant to use it.

#[cfg(unix)]
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Pool, QueryBuilder, Row, Sqlite};
use taskflow_core::{Error, LogPosition, Result, TaskId};

use crate::dialect::Dialect;
use crate::error::db;
use crate::read_replica::ReadRouter;
use crate::rows::corrupt;
use crate::{DialectStore, SqlOptions};

impl Dialect for Sqlite {
    const COLUMN: usize = 0;

    fn migrate_error(e: sqlx::migrate::MigrateError) -> Error {
        Error::internal(format!("{} migration failed: {e}", Self::LABEL))
    }

    fn bind_time(qb: &mut QueryBuilder<'static, Self>, t: DateTime<Utc>) {
        qb.push_bind(t.timestamp_millis());
    }
    fn bind_opt_time(qb: &mut QueryBuilder<'static, Self>, t: Option<DateTime<Utc>>) {
        qb.push_bind(t.map(|t| t.timestamp_millis()));
    }
    fn bind_priority(qb: &mut QueryBuilder<'static, Self>, rank: u8) {
        qb.push_bind(i64::from(rank));
    }
    fn bind_tags(qb: &mut QueryBuilder<'static, Self>, tags: &[String]) {
        qb.push_bind(serde_json::Value::from(tags.to_vec()).to_string());
    }
    fn push_search_words(qb: &mut QueryBuilder<'static, Self>, words: Vec<String>) {
        // Space-separated: the FTS5 table's ascii tokenizer splits them back into words.
        qb.push_bind(words.join(" "));
    }
    fn search_query(words: &[String]) -> String {
        // Words are runs of letters and digits, so quoting them makes each a plain FTS5
        // string; `*` makes it a prefix query and juxtaposition means AND.
        let query: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
        query.join(" ")
    }
    fn push_log_after(qb: &mut QueryBuilder<'static, Self>, after: LogPosition) {
        // One counter: the major half is always zero.
        qb.push("seq > ");
        qb.push_bind(i64::try_from(after.minor()).unwrap_or(i64::MAX));
    }
    fn push_id_in(qb: &mut QueryBuilder<'static, Self>, ids: &[TaskId]) {
        qb.push("t.id IN (");
        let mut list = qb.separated(", ");
        for id in ids {
            list.push_bind(*id.as_uuid());
        }
        qb.push(")");
    }

    fn time(row: &SqliteRow, i: usize) -> Result<DateTime<Utc>> {
        from_millis(row.try_get(i).map_err(db)?)
    }
    fn opt_time(row: &SqliteRow, i: usize) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> = row.try_get(i).map_err(db)?;
        ms.map(from_millis).transpose()
    }
    fn priority(row: &SqliteRow, i: usize) -> Result<i64> {
        row.try_get(i).map_err(db)
    }
    fn tags(row: &SqliteRow, i: usize) -> Result<Vec<String>> {
        let tags: String = row.try_get(i).map_err(db)?;
        serde_json::from_str(&tags).map_err(|e| corrupt(format!("tags {tags:?}: {e}")))
    }

    async fn before_close(writer: &Pool<Self>) {
        // SQLite checkpoints when the last connection closes, but skips it if anything
        // else still has the file open at that instant; checkpoint explicitly, so after
        // close() the database file alone holds every committed write.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(writer)
            .await;
    }
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| corrupt(format!("timestamp {ms} out of range")))
}

impl DialectStore<Sqlite> {
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
            // No ping before each acquire: an acquire cancelled during that ping (a client
            // hanging up) drops the connection, and with it every table.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(base)
                .await
                .map_err(db)?;
            let reads = ReadRouter::new(None, options.replica_lag);
            return Ok(Self::from_pools(pool.clone(), pool, reads, true));
        }
        #[cfg(unix)]
        let path = on_disk(&base, url);
        #[cfg(unix)]
        if let Some(path) = &path {
            private_file::create(path);
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
        // After the first connection: switching to WAL has created the -wal and -shm files.
        #[cfg(unix)]
        if let Some(path) = &path {
            private_file::warn_if_exposed(path);
        }
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
        let reads = ReadRouter::new(replica, options.replica_lag);
        Ok(Self::from_pools(writer, reader, reads, true))
    }

    /// The pool all writes go through (one connection).
    pub fn writer_pool(&self) -> &SqlitePool {
        self.writer()
    }
}

/// The database file a writable on-disk URL names: `None` for a read-only URL (it must
/// not create anything) and for a SQLite `file:` URI, whose path SQLite itself decodes.
#[cfg(unix)]
fn on_disk(options: &SqliteConnectOptions, url: &str) -> Option<PathBuf> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    if query.split('&').any(|pair| pair == "mode=ro") {
        return None;
    }
    let path = options.get_filename();
    if path.as_os_str().is_empty() || path.to_str().is_some_and(|p| p.starts_with("file:")) {
        return None;
    }
    Some(path.to_path_buf())
}

/// Owner-only database files on Unix.
#[cfg(unix)]
mod private_file {
    use std::ffi::OsString;
    use std::fs::{OpenOptions, Permissions};
    use std::io::ErrorKind;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    /// The files SQLite keeps beside a database, each named by a suffix of its name.
    const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

    /// Creates `path` empty with mode 0600 if it does not exist (an empty file is an empty
    /// SQLite database). `create_new` makes this safe against another process creating it
    /// at the same moment: then the file is theirs and only checked. Any other failure is
    /// left for SQLite to report when it opens the same path, in its own words.
    pub(super) fn create(path: &Path) {
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            // The mode given to open(2) is narrowed by the umask; set it exactly, so an
            // unusual umask (say 0277) cannot leave the owner without write access.
            Ok(file) => {
                if let Err(e) = file.set_permissions(Permissions::from_mode(0o600)) {
                    tracing::warn!(
                        path = %path.display(),
                        error = %e,
                        "cannot set mode 0600 on the new database file"
                    );
                }
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                tracing::debug!(
                    path = %path.display(),
                    error = %e,
                    "cannot create the database file; leaving it to SQLite"
                );
            }
        }
    }

    /// Logs a WARN for the database and each companion file that exists with any group
    /// or other permission bit, naming the file, its mode and the command that fixes all
    /// of them (an existing -wal or -shm keeps its own mode: SQLite only sets the mode of
    /// one it creates).
    pub(super) fn warn_if_exposed(path: &Path) {
        let files: Vec<(PathBuf, u32)> = std::iter::once(path.to_path_buf())
            .chain(COMPANIONS.iter().map(|suffix| {
                let mut name = OsString::from(path.as_os_str());
                name.push(suffix);
                PathBuf::from(name)
            }))
            .filter_map(|file| {
                let mode = std::fs::metadata(&file).ok()?.permissions().mode() & 0o777;
                Some((file, mode))
            })
            .collect();
        let fix = files
            .iter()
            .map(|(file, _)| file.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        for (file, mode) in &files {
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %file.display(),
                    mode = %format!("{mode:04o}"),
                    "database file {} is mode {mode:04o}: other local users can read or \
                     change accounts and tasks; restrict it to its owner with `chmod 600 {fix}`",
                    file.display(),
                );
            }
        }
    }
}
