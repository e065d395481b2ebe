//! The handful of sqlx operations the store performs, behind one trait so that the store's
//! statements can be written once over any driver.
//!
//! Why a macro instantiates it instead of a blanket impl over `sqlx::Database`: sqlx's
//! SQLite arguments borrow for the lifetime of the query text (`SqliteArguments<'q>`), and a
//! generic `QueryBuilder<'static, DB>` cannot be executed without naming that lifetime,
//! which a generic bound cannot; on the concrete types variance makes it work. The body is
//! written once; the macro only names the driver.

use std::future::Future;

use sqlx::database::HasStatementCache;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Database, Pool, QueryBuilder};
use taskflow_core::Result;
use uuid::Uuid;

/// Executing built statements and moving plain values in and out of them: the part of sqlx
/// the store needs, the same for every driver. Sealed: implemented for the drivers this
/// crate ships.
pub trait Driver: Database + HasStatementCache {
    /// Runs a statement; the number of rows it changed.
    fn execute(
        conn: &mut Self::Connection,
        qb: QueryBuilder<'static, Self>,
    ) -> impl Future<Output = std::result::Result<u64, sqlx::Error>> + Send;

    /// Runs a query and collects its rows; `persistent: false` for a statement whose best
    /// plan depends on its values (it is then not kept prepared).
    fn fetch_all(
        conn: &mut Self::Connection,
        qb: QueryBuilder<'static, Self>,
        persistent: bool,
    ) -> impl Future<Output = std::result::Result<Vec<Self::Row>, sqlx::Error>> + Send;

    /// Applies the migrations not yet applied.
    fn migrate(
        migrator: &'static Migrator,
        pool: &Pool<Self>,
    ) -> impl Future<Output = std::result::Result<(), MigrateError>> + Send;

    /// Binds an id.
    fn bind_id(qb: &mut QueryBuilder<'static, Self>, v: Uuid);
    /// Binds a text.
    fn bind_text(qb: &mut QueryBuilder<'static, Self>, v: String);
    /// Binds a text or NULL.
    fn bind_opt_text(qb: &mut QueryBuilder<'static, Self>, v: Option<String>);
    /// Binds a boolean.
    fn bind_flag(qb: &mut QueryBuilder<'static, Self>, v: bool);
    /// Binds a 64-bit integer.
    fn bind_int(qb: &mut QueryBuilder<'static, Self>, v: i64);

    /// Column `i` as an id.
    fn id(row: &Self::Row, i: usize) -> Result<Uuid>;
    /// Column `i` as a text.
    fn text(row: &Self::Row, i: usize) -> Result<String>;
    /// Column `i` as a text or NULL.
    fn opt_text(row: &Self::Row, i: usize) -> Result<Option<String>>;
    /// Column `i` as a boolean.
    fn flag(row: &Self::Row, i: usize) -> Result<bool>;
    /// Column `i` as a 64-bit integer.
    fn int(row: &Self::Row, i: usize) -> Result<i64>;
}

macro_rules! driver {
    ($db:ty) => {
        impl Driver for $db {
            async fn execute(
                conn: &mut Self::Connection,
                mut qb: QueryBuilder<'static, Self>,
            ) -> std::result::Result<u64, sqlx::Error> {
                Ok(qb.build().execute(conn).await?.rows_affected())
            }

            async fn fetch_all(
                conn: &mut Self::Connection,
                mut qb: QueryBuilder<'static, Self>,
                persistent: bool,
            ) -> std::result::Result<Vec<Self::Row>, sqlx::Error> {
                qb.build().persistent(persistent).fetch_all(conn).await
            }

            async fn migrate(
                migrator: &'static Migrator,
                pool: &Pool<Self>,
            ) -> std::result::Result<(), MigrateError> {
                migrator.run(pool).await
            }

            fn bind_id(qb: &mut QueryBuilder<'static, Self>, v: Uuid) {
                qb.push_bind(v);
            }
            fn bind_text(qb: &mut QueryBuilder<'static, Self>, v: String) {
                qb.push_bind(v);
            }
            fn bind_opt_text(qb: &mut QueryBuilder<'static, Self>, v: Option<String>) {
                qb.push_bind(v);
            }
            fn bind_flag(qb: &mut QueryBuilder<'static, Self>, v: bool) {
                qb.push_bind(v);
            }
            fn bind_int(qb: &mut QueryBuilder<'static, Self>, v: i64) {
                qb.push_bind(v);
            }

            fn id(row: &Self::Row, i: usize) -> Result<Uuid> {
                sqlx::Row::try_get(row, i).map_err(crate::error::db)
            }
            fn text(row: &Self::Row, i: usize) -> Result<String> {
                sqlx::Row::try_get(row, i).map_err(crate::error::db)
            }
            fn opt_text(row: &Self::Row, i: usize) -> Result<Option<String>> {
                sqlx::Row::try_get(row, i).map_err(crate::error::db)
            }
            fn flag(row: &Self::Row, i: usize) -> Result<bool> {
                sqlx::Row::try_get(row, i).map_err(crate::error::db)
            }
            fn int(row: &Self::Row, i: usize) -> Result<i64> {
                sqlx::Row::try_get(row, i).map_err(crate::error::db)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
driver!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
driver!(sqlx::Postgres);
