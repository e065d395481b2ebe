//! Storage traits. A backend implements [`UserStore`], [`TaskStore`], [`SessionStore`],
//! [`ChangeLog`], [`SharedState`] and [`Store`]; the doc comment of each method is the contract every backend honours and the
//! conformance suite (feature `conformance`) checks.
//!
//! Shared rules:
//! - Business rules are not the store's business: core validates, normalises, scopes and
//!   computes every value; stores persist and query faithfully.
//! - Timestamps arrive truncated to milliseconds and must round-trip equal.
//! - Writes of users and tasks are conditional on the stored `version` (optimistic
//!   concurrency): a record at version `v + 1` replaces the stored one only if that one is
//!   still at `v`. No write needs more than one document/row to be atomic, except where a
//!   method says so.
//! - Every task write names the owner (`owner_id`), so a store sharded by owner can route it.
//! - Every write that changes a record appends its [`Change`](crate::Change) to the change
//!   log ([`ChangeLog`]) atomically with it: both happen or neither does. The doc comment of
//!   each write says which event; a write that changes nothing appends nothing.
//!   [`SharedState`] records are not part of the log: their writes append nothing.
//! - Failures to reach the database are [`Error::Unavailable`](crate::Error::Unavailable);
//!   unexpected ones [`Error::Internal`](crate::Error::Internal), source kept.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::auth::SessionRecord;
use crate::changes::{ChangeBatch, LogPosition};
use crate::error::Result;
use crate::ids::{SessionId, TaskId, UserId};
use crate::query::{ListRequest, TaskSlice};
use crate::rbac::Scope;
use crate::stats::{StatsRequest, TaskStats};
use crate::task::Task;
use crate::user::{User, UserListRequest, UserRecord};

/// Users and credentials.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a new user. The email arrives normalised; if another user has it,
    /// fails with [`Error::Conflict`](crate::Error::Conflict) and writes nothing (a unique
    /// index, not a read-then-write, so concurrent inserts cannot both win). Logs
    /// `user.changed`.
    async fn insert_user(&self, user: &UserRecord) -> Result<()>;

    /// The user with this id.
    async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>>;

    /// The user with this (normalised) email.
    async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRecord>>;

    /// Replaces the user if the stored version is `user.version - 1`; returns whether it
    /// did. The email is written too (core changes it only to normalise a legacy email, see
    /// [`normalize_stored_emails`](crate::normalize_stored_emails)); if another user has
    /// the new email, fails with [`Error::Conflict`](crate::Error::Conflict)
    /// ([`Conflict::EmailTaken`](crate::Conflict::EmailTaken)) and writes nothing.
    ///
    /// With `keep_an_active_admin`, the write also requires that afterwards at least one
    /// user with role `admin` is not disabled, else it fails with
    /// [`Error::Conflict`](crate::Error::Conflict); such writes are serialised so that two
    /// admins demoting each other at once cannot leave none. Logs `user.changed` when it
    /// wrote.
    async fn replace_user(&self, user: &UserRecord, keep_an_active_admin: bool) -> Result<bool>;

    /// One page of users sorted by id (creation order), with the total count of matches.
    /// `q` matches a substring of the email or of the lower-cased name.
    async fn list_users(&self, request: &UserListRequest) -> Result<(Vec<User>, u64)>;
}

/// One refresh-token rotation, as [`SessionStore::rotate_session`] applies it: named
/// fields, because four of them are ids or hashes of the same type and easy to swap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionRotation<'a> {
    /// Whose session; a session of another user is never rotated.
    pub user_id: UserId,
    /// The session to rotate.
    pub id: SessionId,
    /// Hash of the refresh token the caller presented: the rotation applies only while it
    /// is still the session's current one.
    pub presented_hash: &'a str,
    /// Hash of the newly minted refresh token.
    pub new_hash: &'a str,
    /// When the new refresh token expires.
    pub new_expires_at: DateTime<Utc>,
    /// The time of the call: an expired session is not rotated.
    pub now: DateTime<Utc>,
}

/// Login sessions (refresh-token families).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts a new session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<()>;

    /// The session with this id, revoked or expired ones included.
    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>>;

    /// Atomically rotates the refresh token as [`SessionRotation`] describes: if the
    /// session `id` of `user_id` is not revoked, expires after `now` and its `token_hash`
    /// equals `presented_hash`, sets `token_hash = new_hash`, `expires_at = new_expires_at`,
    /// `generation += 1` and returns true; otherwise changes nothing and returns false. Of
    /// two concurrent calls with the same `presented_hash`, at most one returns true (one
    /// conditional update). Logs `sessions.changed` for this session when it rotated.
    async fn rotate_session(&self, rotation: &SessionRotation<'_>) -> Result<bool>;

    /// Marks the session revoked (idempotent; unknown ids are ignored). Logs
    /// `sessions.changed` for this session when it was not revoked yet.
    async fn revoke_session(&self, user_id: UserId, id: SessionId) -> Result<()>;

    /// Revokes every session of the user except `except`; returns how many it revoked.
    /// Logs one `sessions.changed` without a session id when that is more than none.
    async fn revoke_user_sessions(&self, user_id: UserId, except: Option<SessionId>)
    -> Result<u64>;

    /// Deletes sessions that expired before `now`; returns how many.
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;
}

/// Tasks.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Inserts a new task (version 1). Logs `task.created`.
    async fn insert_task(&self, task: &Task) -> Result<()>;

    /// Inserts many new tasks (imports, seeding). Stores with transactions insert all or
    /// none; the default inserts one by one. Logs `task.created` per task, in order.
    async fn insert_tasks(&self, tasks: &[Task]) -> Result<()> {
        for task in tasks {
            self.insert_task(task).await?;
        }
        Ok(())
    }

    /// The task with this id if it is visible in `scope`.
    async fn get_task(&self, scope: Scope, id: TaskId) -> Result<Option<Task>>;

    /// The task as [`get_task`](Self::get_task) returns it, read for a read-modify-write:
    /// from the primary database (never a replica) and never from a cache, so a
    /// conditional write that follows sees the version it is conditioned on.
    async fn get_task_for_update(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        self.get_task(scope, id).await
    }

    /// The tasks with these ids that are visible in `scope`, in any order; missing ids are
    /// skipped. Read like [`get_task_for_update`](Self::get_task_for_update).
    async fn get_tasks(&self, scope: Scope, ids: &[TaskId]) -> Result<Vec<Task>>;

    /// Replaces the task (same id and owner) if the stored version is `task.version - 1`;
    /// returns whether it did. Logs `task.updated` when it wrote.
    async fn replace_task(&self, task: &Task) -> Result<bool>;

    /// Replaces several tasks under the same per-task condition as
    /// [`replace_task`](Self::replace_task) and returns the ids it did **not** write. A
    /// store with transactions writes all or nothing (then, on any conflict, it returns
    /// every id); a store without them may write the others. Core retries what is returned.
    /// Logs `task.updated` per task written, in order.
    async fn replace_tasks(&self, tasks: &[Task]) -> Result<Vec<TaskId>> {
        let mut unwritten = Vec::new();
        for task in tasks {
            if !self.replace_task(task).await? {
                unwritten.push(task.id);
            }
        }
        Ok(unwritten)
    }

    /// Deletes the task of `owner` (only if at `expected_version`, when given); returns
    /// whether it did. Logs `task.deleted` when it deleted.
    async fn delete_task(
        &self,
        owner: UserId,
        id: TaskId,
        expected_version: Option<u64>,
    ) -> Result<bool>;

    /// One page of tasks: exactly those for which
    /// [`TaskFilter::matches`](crate::TaskFilter::matches) holds, ordered by
    /// [`TaskSort::compare`](crate::TaskSort::compare) (nulls last, then key, then id), and
    /// in keyset mode strictly after the position. Returns at most `limit` items, whether
    /// more follow, and in page mode the total count of matches. Served by indexes, not
    /// by loading rows into memory.
    async fn list_tasks(&self, request: &ListRequest) -> Result<TaskSlice>;

    /// Aggregates equal to [`TaskStats::add`] over every task in scope, computed in the
    /// database.
    async fn task_stats(&self, request: &StatsRequest) -> Result<TaskStats>;
}

/// The change log (see [`crate::changes`]): what every write appended, in log order.
#[async_trait]
pub trait ChangeLog: Send + Sync + 'static {
    /// Up to `limit` events strictly after `after` whose [`subject`](crate::Change::subject)
    /// is in `scope`, in log order, and whether they reach the end of the log
    /// ([`ChangeBatch::caught_up`]). Served by an index on (subject, position) for
    /// [`Scope::Owner`]. Once a read has returned an event,
    /// no event can later appear before it: a reader that resumes after the last position
    /// it saw never skips one. Fails with
    /// [`Error::ResetRequired`](crate::Error::ResetRequired), naming the current head, when
    /// `after` is older than the newest pruned event.
    async fn read_changes(
        &self,
        scope: Scope,
        after: LogPosition,
        limit: usize,
    ) -> Result<ChangeBatch>;

    /// The position a reader starting now resumes after: every event appended by a write
    /// that begins after this call returns sorts after it.
    async fn change_head(&self) -> Result<LogPosition>;

    /// Deletes the events appended before `before`; returns how many. Readers behind them
    /// get `ResetRequired` from then on.
    async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Returns when events after `after` may have been appended, or after `timeout`. A
    /// hint only (a store may wake early or late); the log stays the truth. The default
    /// sleeps for `timeout`, which turns a follower into a poller.
    async fn wait_for_changes(&self, after: LogPosition, timeout: std::time::Duration) {
        let _ = after;
        tokio::time::sleep(timeout).await;
    }

    /// Told of every event the instance's follower reads, this instance's and other
    /// instances' alike: a store that routes reads (a read replica) learns who wrote just
    /// now. The default ignores it.
    fn observe(&self, change: &crate::Change) {
        let _ = change;
    }
}

/// Small records that every instance must agree on (the login throttle's budgets; later
/// single-use tickets and job leases): a versioned text value under a key, with an expiry
/// after which the record counts as absent.
///
/// Not part of the change log (writes append nothing) and never cached. Keys and values
/// are opaque to the store; core keeps both small (a login record is a few kilobytes at
/// most) and never puts a raw email or address in either.
#[async_trait]
pub trait SharedState: Send + Sync + 'static {
    /// The record under `key` unless it expired at or before `now`. Read from the primary
    /// (never a replica or a cache), so a conditional write that follows sees the version
    /// it is conditioned on.
    async fn get_shared(&self, key: &str, now: DateTime<Utc>) -> Result<Option<SharedRecord>>;

    /// Writes `value` with `expires_at` under `key` if the stored record is at version
    /// `expected` and has not expired at `now` (`None`: only if there is no live record,
    /// absent or expired); returns the new version, or `None` when the condition did not
    /// hold (nothing written). The new version is 1 when no record is stored under `key`,
    /// else one more than the stored record's, expired or not. One conditional statement
    /// (atomic operation), so of two concurrent writers with the same `expected` exactly
    /// one wins.
    async fn put_shared(
        &self,
        key: &str,
        value: &str,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>>;

    /// Deletes records that expired at or before `now`; returns how many.
    async fn purge_shared(&self, now: DateTime<Utc>) -> Result<u64>;
}

/// A record of [`SharedState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRecord {
    /// The text stored.
    pub value: String,
    /// Its version: 1 for the first write under a key, one more with each write after.
    pub version: u64,
    /// When it stops counting: at this instant and after, the record is absent.
    pub expires_at: DateTime<Utc>,
}

/// A complete backend.
#[async_trait]
pub trait Store: UserStore + TaskStore + SessionStore + ChangeLog + SharedState {
    /// Checks that the backend answers (readiness probes).
    async fn ping(&self) -> Result<()>;
}
