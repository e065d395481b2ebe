//! # taskflow-core
//!
//! The embeddable core of TaskFlow: users, JWT authentication with refresh-token rotation,
//! role-based access control and tasks (filters, full-text search, keyset and page
//! pagination, stats), behind pluggable [`Store`] and [`Cache`] traits. The HTTP server,
//! the Python bindings and Rust programs all drive this one [`TaskFlow`] handle, so every
//! rule (validation, permissions, token handling, error codes) is decided here, once.
//!
//! ```
//! use taskflow_core::{MemoryStore, NewTask, PasswordParams, Priority, Registration, TaskFlow, TaskQuery};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let tf = TaskFlow::builder()
//!     .store(MemoryStore::new())
//!     .jwt_secret("an example secret of at least 32 bytes!")
//!     # .password_params(PasswordParams::insecure_fast_for_tests())
//!     .build()?;
//!
//! tf.register(Registration {
//!     email: "Ada@Example.com".into(),
//!     password: "correct horse battery".into(),
//!     name: "Ada".into(),
//! })
//! .await?;
//! let tokens = tf.login("ada@example.com", "correct horse battery").await?;
//! let me = tf.authenticate(&tokens.access_token).await?;
//!
//! let task = tf
//!     .create_task(&me, NewTask::new("Ship it").priority(Priority::High).tags(["release"]))
//!     .await?;
//! assert_eq!(task.version, 1);
//!
//! let page = tf.list_tasks(&me, TaskQuery { q: Some("shi".into()), ..Default::default() }).await?;
//! assert_eq!(page.items.len(), 1);
//! # Ok::<(), taskflow_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## Map
//! - [`TaskFlow`] (built by [`TaskFlowBuilder`]): every operation.
//! - Domain: [`User`], [`Task`], [`Status`], [`Priority`], [`TaskQuery`], [`Page`],
//!   [`TaskStats`]; RBAC: [`Role`], [`Permission`], [`Policy`], [`Principal`].
//! - [`Error`]: one variant per error code of the HTTP contract ([`Error::code`]).
//! - Storage: [`Store`] = [`UserStore`] + [`TaskStore`] + [`SessionStore`], with
//!   [`MemoryStore`] as the reference implementation. Caching: [`Cache`],
//!   [`MokaCache`] (feature `moka`, default) and the [`Cached`] store wrapper.
//! - Feature `conformance`: the [`store_conformance!`] test suite for store crates.
//!
//! ## Implementing your own store
//!
//! Implement the four traits; the doc comment of each method is its contract. Then run the
//! conformance suite from your crate's tests (with `taskflow-core` as a dev-dependency with
//! feature `conformance`, and `tokio`):
//!
//! ```ignore
//! async fn setup() -> MyStore { MyStore::connect("...").await.unwrap() }
//! taskflow_core::store_conformance!(setup);
//! ```
//!
//! A minimal store that delegates to the in-memory one, to show the shape:
//!
//! ```
//! use async_trait::async_trait;
//! use taskflow_core::{MemoryStore, Result, Store};
//!
//! #[derive(Default)]
//! struct MyStore(MemoryStore);
//!
//! # use taskflow_core::*;
//! # use chrono::{DateTime, Utc};
//! # #[async_trait] impl UserStore for MyStore {
//! #   async fn insert_user(&self, u: &UserRecord) -> Result<()> { self.0.insert_user(u).await }
//! #   async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> { self.0.get_user(id).await }
//! #   async fn get_user_by_email(&self, e: &str) -> Result<Option<UserRecord>> { self.0.get_user_by_email(e).await }
//! #   async fn replace_user(&self, u: &UserRecord, k: bool) -> Result<bool> { self.0.replace_user(u, k).await }
//! #   async fn list_users(&self, r: &UserListRequest) -> Result<(Vec<User>, u64)> { self.0.list_users(r).await }
//! # }
//! # #[async_trait] impl SessionStore for MyStore {
//! #   async fn insert_session(&self, s: &SessionRecord) -> Result<()> { self.0.insert_session(s).await }
//! #   async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> { self.0.get_session(id).await }
//! #   async fn rotate_session(&self, u: UserId, id: SessionId, p: &str, n: &str, e: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> { self.0.rotate_session(u, id, p, n, e, now).await }
//! #   async fn revoke_session(&self, u: UserId, id: SessionId) -> Result<()> { self.0.revoke_session(u, id).await }
//! #   async fn revoke_user_sessions(&self, u: UserId, x: Option<SessionId>) -> Result<u64> { self.0.revoke_user_sessions(u, x).await }
//! #   async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> { self.0.purge_expired_sessions(now).await }
//! # }
//! # #[async_trait] impl TaskStore for MyStore {
//! #   async fn insert_task(&self, t: &Task) -> Result<()> { self.0.insert_task(t).await }
//! #   async fn get_task(&self, s: Scope, id: TaskId) -> Result<Option<Task>> { self.0.get_task(s, id).await }
//! #   async fn get_tasks(&self, s: Scope, ids: &[TaskId]) -> Result<Vec<Task>> { self.0.get_tasks(s, ids).await }
//! #   async fn replace_task(&self, t: &Task) -> Result<bool> { self.0.replace_task(t).await }
//! #   async fn delete_task(&self, o: UserId, id: TaskId, v: Option<u64>) -> Result<bool> { self.0.delete_task(o, id, v).await }
//! #   async fn list_tasks(&self, r: &ListRequest) -> Result<TaskSlice> { self.0.list_tasks(r).await }
//! #   async fn task_stats(&self, r: &StatsRequest) -> Result<TaskStats> { self.0.task_stats(r).await }
//! # }
//! // ... UserStore, SessionStore and TaskStore implemented method by method ...
//! #[async_trait]
//! impl Store for MyStore {
//!     async fn ping(&self) -> Result<()> {
//!         Ok(())
//!     }
//! }
//!
//! let tf = TaskFlow::builder()
//!     .store(MyStore::default())
//!     .jwt_secret([7u8; 32])
//!     .build()
//!     .unwrap();
//! # drop(tf);
//! ```
//!
//! ## Conformance scenarios
//! CONFORMANCE_SCENARIOS_PLACEHOLDER

pub mod auth;
pub mod cache;
mod clock;
mod error;
mod ids;
mod memory;
pub mod query;
mod rbac;
mod service;
mod stats;
pub mod store;
mod task;
mod user;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use auth::{JwtAlgorithm, PasswordParams, SessionRecord, TokenPair};
pub use cache::{Cache, CacheEntry, CacheKey, CacheMetrics, CacheValue, Cached};
#[cfg(feature = "moka")]
pub use cache::{CacheConfig, MokaCache};
pub use clock::{Clock, ManualClock, SystemClock, to_millis};
pub use error::{BoxError, Error, Result, ValidationErrors};
pub use ids::{SessionId, TaskId, UserId};
pub use memory::MemoryStore;
pub use query::{
    ListRequest, OverdueFilter, Page, Pagination, Position, SortKey, SortValue, TaskFilter,
    TaskQuery, TaskSlice, TaskSort,
};
pub use rbac::{Permission, Policy, Principal, Role, Scope};
pub use service::{
    DEFAULT_ACCESS_TTL, DEFAULT_LOGIN_MAX_FAILURES, DEFAULT_LOGIN_WINDOW, DEFAULT_REFRESH_TTL,
    TaskFlow, TaskFlowBuilder,
};
pub use stats::{PriorityCounts, StatsRequest, StatusCounts, TaskStats};
pub use store::{SessionStore, Store, TaskStore, UserStore};
pub use task::{NewTask, Priority, Status, Task, TaskPatch};
pub use user::{
    ProfileUpdate, Registration, User, UserListRequest, UserQuery, UserRecord, UserUpdate,
};

/// Re-exports for the [`store_conformance!`] macro; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use tokio;
}
