//! What differs between SQLite and PostgreSQL, as one trait the store is generic over.

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::{Pool, QueryBuilder};
use taskflow_core::{Error, Result, TaskId};

use crate::driver::Driver;

/// A SQL dialect: the SQL fragments, encodings and pool roles in which SQLite and PostgreSQL
/// differ. Implemented on sqlx's own driver types (`sqlx::Sqlite`, `sqlx::Postgres`), which
/// are one-to-one with the dialects, so the store names a single type parameter. Every
/// statement is written once in the store over these hooks; placeholders come from sqlx's
/// `QueryBuilder`, which numbers them for the driver.
pub trait Dialect: Driver {
    /// Name in error messages.
    const LABEL: &'static str;
    /// The boolean literals.
    const FALSE: &'static str;
    /// See [`FALSE`](Self::FALSE).
    const TRUE: &'static str;
    /// The prefix that turns a query into its plan, and the plan's text column.
    const EXPLAIN: (&'static str, usize);
    /// How a write transaction begins (`None`: the driver's default `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// A statement, run first in a transaction, that serialises the writes guarded by the
    /// last-active-admin rule (`None` where writes are serial anyway).
    const ADMIN_GUARD: Option<&'static str>;
    /// The task column holding the full-text index input.
    const SEARCH_COLUMN: &'static str;
    /// Names of the writer and reader pools in [`PoolStats`](crate::PoolStats) (one name
    /// when they are the same pool).
    const POOL_NAMES: [&'static str; 2];

    /// The embedded migrations.
    fn migrator() -> &'static sqlx::migrate::Migrator;
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
    /// What goes before and after a bound tag for ` AND <task t carries tag>`.
    const TAG_FILTER: [&'static str; 2];
    /// What goes before and after the bound [`search_query`](Self::search_query) for
    /// ` AND <every word prefixes one of t's indexed words>`.
    const SEARCH_FILTER: [&'static str; 2];
    /// The function whose `f(column, needle) > 0` says the column contains the needle
    /// literally (no LIKE wildcards).
    const POSITION_FN: &'static str;
    /// The full-text query text matching tasks with words that start with each of `words`.
    fn search_query(words: &[String]) -> String;
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
