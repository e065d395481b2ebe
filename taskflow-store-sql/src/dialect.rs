//! What differs between SQLite and PostgreSQL, as one trait the store is generic over.

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::{Pool, QueryBuilder};
use taskflow_core::{Error, LogPosition, Result, TaskId};

use crate::driver::Driver;

/// A SQL dialect: the SQL fragments, encodings and pool roles in which SQLite and PostgreSQL
/// differ. Implemented on sqlx's own driver types (`sqlx::Sqlite`, `sqlx::Postgres`), which
/// are one-to-one with the dialects, so the store names a single type parameter. Every
/// statement is written once in the store over these hooks; placeholders come from sqlx's
/// `QueryBuilder`, which numbers them for the driver.
pub trait Dialect: Driver {
    /// This dialect's column in the side-by-side `text` table below: 0 SQLite, 1 PostgreSQL.
    const COLUMN: usize;
    /// Name in error messages.
    const LABEL: &'static str = text::LABEL[Self::COLUMN];
    /// The boolean literals.
    const FALSE: &'static str = text::FALSE[Self::COLUMN];
    /// See [`FALSE`](Self::FALSE).
    const TRUE: &'static str = text::TRUE[Self::COLUMN];
    /// The prefix that turns a query into its plan, and the plan's text column.
    const EXPLAIN: (&'static str, usize) = text::EXPLAIN[Self::COLUMN];
    /// How a write transaction begins (`None`: the driver's default `BEGIN`).
    const BEGIN_WRITE: Option<&'static str> = text::BEGIN_WRITE[Self::COLUMN];
    /// A statement, run first in a transaction, that serialises the writes guarded by the
    /// last-active-admin rule (`None` where writes are serial anyway).
    const ADMIN_GUARD: Option<&'static str> = text::ADMIN_GUARD[Self::COLUMN];
    /// The task column holding the full-text index input.
    const SEARCH_COLUMN: &'static str = text::SEARCH_COLUMN[Self::COLUMN];
    /// Names of the writer and reader pools in [`PoolStats`](crate::PoolStats) (one name
    /// when they are the same pool).
    const POOL_NAMES: [&'static str; 2] = text::POOL_NAMES[Self::COLUMN];
    /// What goes before and after a bound tag for ` AND <task t carries tag>`.
    const TAG_FILTER: [&'static str; 2] = text::TAG_FILTER[Self::COLUMN];
    /// What goes before and after the bound [`search_query`](Self::search_query) for
    /// ` AND <every word prefixes one of t's indexed words>`.
    const SEARCH_FILTER: [&'static str; 2] = text::SEARCH_FILTER[Self::COLUMN];
    /// The function whose `f(column, needle) > 0` says the column contains the needle
    /// literally (no LIKE wildcards).
    const POSITION_FN: &'static str = text::POSITION_FN[Self::COLUMN];
    /// Whether a single-row write and its change-log event are one statement (the write as
    /// a CTE, the event inserted from its rows) rather than a transaction of two.
    const LOG_IN_ONE_STATEMENT: bool = text::LOG_IN_ONE_STATEMENT[Self::COLUMN];
    /// The change log's position columns as `(major as text, minor)`, and its order.
    const LOG_POSITION: [&'static str; 2] = text::LOG_POSITION[Self::COLUMN];
    /// The boolean column "this event can no longer be preceded by one not yet visible".
    const LOG_SETTLED: &'static str = text::LOG_SETTLED[Self::COLUMN];

    /// The embedded migrations.
    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATORS[Self::COLUMN]
    }
    /// A failed migration as a TaskFlow error.
    fn migrate_error(e: sqlx::migrate::MigrateError) -> Error;

    /// Binds a timestamp.
    fn bind_time(qb: &mut QueryBuilder<'static, Self>, t: DateTime<Utc>);
    /// Binds a timestamp or NULL.
    fn bind_opt_time(qb: &mut QueryBuilder<'static, Self>, t: Option<DateTime<Utc>>);
    /// Binds a priority rank.
    fn bind_priority(qb: &mut QueryBuilder<'static, Self>, rank: u8);
    /// Binds a task's tags.
    fn bind_tags(qb: &mut QueryBuilder<'static, Self>, tags: &[String]);
    /// The value of [`SEARCH_COLUMN`](Self::SEARCH_COLUMN) for these index words.
    fn push_search_words(qb: &mut QueryBuilder<'static, Self>, words: Vec<String>);
    /// The full-text query text matching tasks with words that start with each of `words`.
    fn search_query(words: &[String]) -> String;
    /// Pushes `<the change log's position> > after`.
    fn push_log_after(qb: &mut QueryBuilder<'static, Self>, after: LogPosition);
    /// `<t.id is one of ids>` (`ids` is not empty)
    fn push_id_in(qb: &mut QueryBuilder<'static, Self>, ids: &[TaskId]);

    /// Column `i` as a timestamp.
    fn time(row: &Self::Row, i: usize) -> Result<DateTime<Utc>>;
    /// Column `i` as a timestamp or NULL.
    fn opt_time(row: &Self::Row, i: usize) -> Result<Option<DateTime<Utc>>>;
    /// Column `i` as a priority rank.
    fn priority(row: &Self::Row, i: usize) -> Result<i64>;
    /// Column `i` as a task's tags.
    fn tags(row: &Self::Row, i: usize) -> Result<Vec<String>>;

    /// Runs just before the writer pool closes.
    fn before_close(writer: &Pool<Self>) -> impl Future<Output = ()> + Send;
}

/// One migrations folder per dialect, `[SQLite, PostgreSQL]`.
static MIGRATORS: [sqlx::migrate::Migrator; 2] = [
    sqlx::migrate!("migrations/sqlite"),
    sqlx::migrate!("migrations/postgres"),
];

/// The SQL text in which the dialects differ, side by side as `[SQLite, PostgreSQL]`, so
/// that a difference is read and changed in one place.
pub mod text {
    /// See [`Dialect::LABEL`](super::Dialect::LABEL).
    pub const LABEL: [&str; 2] = ["sqlite", "postgres"];
    /// See [`Dialect::FALSE`](super::Dialect::FALSE).
    pub const FALSE: [&str; 2] = ["0", "false"];
    /// See [`Dialect::TRUE`](super::Dialect::TRUE).
    pub const TRUE: [&str; 2] = ["1", "true"];
    /// See [`Dialect::EXPLAIN`](super::Dialect::EXPLAIN).
    pub const EXPLAIN: [(&str, usize); 2] = [("EXPLAIN QUERY PLAN ", 3), ("EXPLAIN ", 0)];
    /// SQLite takes the write lock at `BEGIN`: a deferred transaction cannot be upgraded
    /// after another process has committed, and `busy_timeout` does not retry that.
    pub const BEGIN_WRITE: [Option<&str>; 2] = [Some("BEGIN IMMEDIATE"), None];
    /// SQLite has one writer connection, so guarded writes are serial already. The
    /// PostgreSQL key is 0x7461_736b_666c_6f77, "taskflow" in ASCII.
    pub const ADMIN_GUARD: [Option<&str>; 2] = [
        None,
        Some("SELECT pg_advisory_xact_lock(8386110886257651575)"),
    ];
    /// See [`Dialect::SEARCH_COLUMN`](super::Dialect::SEARCH_COLUMN).
    pub const SEARCH_COLUMN: [&str; 2] = ["search_words", "search_tsv"];
    /// See [`Dialect::POOL_NAMES`](super::Dialect::POOL_NAMES).
    pub const POOL_NAMES: [[&str; 2]; 2] = [["writer", "reader"], ["primary", "primary"]];
    /// See [`Dialect::TAG_FILTER`](super::Dialect::TAG_FILTER).
    pub const TAG_FILTER: [[&str; 2]; 2] = [
        [
            " AND EXISTS (SELECT 1 FROM json_each(t.tags) WHERE json_each.value = ",
            ")",
        ],
        [" AND t.tags @> ARRAY[", "]::text[]"],
    ];
    /// The PostgreSQL cast parses no text-search configuration.
    pub const SEARCH_FILTER: [[&str; 2]; 2] = [
        [
            " AND t.seq IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH ",
            ")",
        ],
        [" AND t.search_tsv @@ ", "::tsquery"],
    ];
    /// See [`Dialect::POSITION_FN`](super::Dialect::POSITION_FN).
    pub const POSITION_FN: [&str; 2] = ["instr", "strpos"];
    /// SQLite's single writer is in process: a transaction costs no round trips. On
    /// PostgreSQL a transaction is four (BEGIN, write, append, COMMIT) where the CTE form is
    /// one, which is what keeps creates near their speed without the log.
    pub const LOG_IN_ONE_STATEMENT: [bool; 2] = [false, true];
    /// SQLite positions are one counter (`major` is always 0); PostgreSQL's are
    /// (transaction id, sequence): see the change-log migration for why.
    pub const LOG_POSITION: [[&str; 2]; 2] = [["'0', seq", "seq"], ["xid::text, seq", "xid, seq"]];
    /// SQLite has one writer: what a reader sees is settled. PostgreSQL: events of
    /// transactions older than every running one.
    pub const LOG_SETTLED: [&str; 2] = ["1", "xid < pg_snapshot_xmin(pg_current_snapshot())"];
}
