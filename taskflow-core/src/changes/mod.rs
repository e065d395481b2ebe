//! The change log: the spine every other instance, stream and feed reads.
//!
//! Every acknowledged write appends one [`Change`] per record it wrote, atomically with the
//! write (the store contract of each write method says which). A reader asks for the events
//! after a [`LogPosition`] and gets them in log order; nothing is pushed "after the write" from
//! memory, so a crash between a commit and a notification loses nothing.
//!
//! What a store keeps of an event is its position, time, [`Change::kind`],
//! [`Change::subject`] and [`Change::data_json`]; [`Change::from_parts`] rebuilds it. The
//! shape of every event is decided here, so all stores log the same thing.

mod follower;

pub use follower::{Follower, FollowerConfig, FollowerStatus};

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{SessionId, TaskId, UserId};
use crate::rbac::Scope;
use crate::task::Task;

/// Default time an event is kept (7 days): a client that comes back later starts over.
pub const DEFAULT_CHANGE_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(7 * 24 * 3600);

/// Largest batch a reader may ask for at once.
pub const MAX_CHANGE_BATCH: usize = 1000;

/// Where an event sits in the log. Positions are totally ordered in log order; a store
/// builds them from one or two counters ([`LogPosition::new`]). On the wire a position is
/// 32 lowercase hex digits, so positions also sort in log order as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogPosition(u128);

impl LogPosition {
    /// Before every event.
    pub const ZERO: LogPosition = LogPosition(0);

    /// A position from a major and a minor counter (PostgreSQL: transaction id and
    /// sequence; single-counter stores: `0` and the sequence).
    pub const fn new(major: u64, minor: u64) -> Self {
        LogPosition(((major as u128) << 64) | minor as u128)
    }

    /// A position from one counter.
    pub const fn from_seq(seq: u64) -> Self {
        LogPosition(seq as u128)
    }

    /// The major counter.
    pub const fn major(self) -> u64 {
        (self.0 >> 64) as u64
    }

    /// The minor counter.
    pub const fn minor(self) -> u64 {
        self.0 as u64
    }
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for LogPosition {
    type Err = Error;

    /// Parses the wire form; anything else is a validation error naming the format.
    fn from_str(s: &str) -> Result<Self> {
        let well_formed =
            s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        match well_formed.then(|| u128::from_str_radix(s, 16)) {
            Some(Ok(n)) => Ok(LogPosition(n)),
            _ => Err(Error::invalid(
                "position",
                "must be an event id as the server gave it (32 lowercase hex digits)",
            )),
        }
    }
}

impl Serialize for LogPosition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LogPosition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What one event says happened. Task events carry the task as written; account and
/// session events name whose state changed, so that instances drop what they hold about
/// it (those are never shown to other users).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A task was created (`task.created`).
    TaskCreated(Task),
    /// A task was replaced (`task.updated`).
    TaskUpdated(Task),
    /// A task was deleted (`task.deleted`).
    TaskDeleted {
        /// The deleted task.
        task_id: TaskId,
        /// Its owner.
        owner_id: UserId,
    },
    /// A user record was created or replaced: name, email, role, disabled flag or password
    /// (`user.changed`).
    UserChanged {
        /// Whose record.
        user_id: UserId,
    },
    /// Sessions of a user were revoked or rotated (`sessions.changed`): one session
    /// (logout, refresh, reuse revocation), or all but `except` (logout-all, password
    /// change, disable).
    SessionsChanged {
        /// Whose sessions.
        user_id: UserId,
        /// The one session, or `None` for all of the user's sessions.
        session_id: Option<SessionId>,
    },
}

// The JSON a store keeps as an event's data, one shape per kind.
#[derive(Serialize, Deserialize)]
struct TaskData {
    task: Task,
}

#[derive(Serialize, Deserialize)]
struct DeletedData {
    task_id: TaskId,
    owner_id: UserId,
}

#[derive(Serialize, Deserialize)]
struct UserData {
    user_id: UserId,
}

#[derive(Serialize, Deserialize)]
struct SessionsData {
    user_id: UserId,
    session_id: Option<SessionId>,
}

impl Change {
    /// The event type (`task.created`, `task.updated`, `task.deleted`, `user.changed`,
    /// `sessions.changed`).
    pub fn kind(&self) -> &'static str {
        match self {
            Change::TaskCreated(_) => "task.created",
            Change::TaskUpdated(_) => "task.updated",
            Change::TaskDeleted { .. } => "task.deleted",
            Change::UserChanged { .. } => "user.changed",
            Change::SessionsChanged { .. } => "sessions.changed",
        }
    }

    /// The user the event is about: a task's owner, or the user whose account or sessions
    /// changed. Stores index it, so a reader can follow one user's events.
    pub fn subject(&self) -> UserId {
        match self {
            Change::TaskCreated(t) | Change::TaskUpdated(t) => t.owner_id,
            Change::TaskDeleted { owner_id, .. } => *owner_id,
            Change::UserChanged { user_id } | Change::SessionsChanged { user_id, .. } => *user_id,
        }
    }

    /// Whether other users may ever be shown this event (task events, subject to the
    /// visibility rule); account and session events are for the instances only.
    pub fn is_public(&self) -> bool {
        matches!(
            self,
            Change::TaskCreated(_) | Change::TaskUpdated(_) | Change::TaskDeleted { .. }
        )
    }

    /// The task the event is about, if any.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            Change::TaskCreated(t) | Change::TaskUpdated(t) => Some(t.id),
            Change::TaskDeleted { task_id, .. } => Some(*task_id),
            _ => None,
        }
    }

    /// The event's `data` object as the HTTP contract shows it: `{"task": Task}` for
    /// created and updated tasks, `{"task_id", "owner_id"}` for deletions,
    /// `{"user_id"[, "session_id"]}` otherwise.
    pub fn data(&self) -> serde_json::Value {
        let value = match self.clone() {
            Change::TaskCreated(task) | Change::TaskUpdated(task) => {
                serde_json::to_value(TaskData { task })
            }
            Change::TaskDeleted { task_id, owner_id } => {
                serde_json::to_value(DeletedData { task_id, owner_id })
            }
            Change::UserChanged { user_id } => serde_json::to_value(UserData { user_id }),
            Change::SessionsChanged {
                user_id,
                session_id,
            } => serde_json::to_value(SessionsData {
                user_id,
                session_id,
            }),
        };
        value.unwrap_or(serde_json::Value::Null)
    }

    /// [`data`](Self::data) as JSON text, which is what stores keep.
    pub fn data_json(&self) -> String {
        self.data().to_string()
    }

    /// Rebuilds an event from what a store kept ([`kind`](Self::kind) and
    /// [`data_json`](Self::data_json)); anything else is an internal error.
    pub fn from_parts(kind: &str, data_json: &str) -> Result<Change> {
        fn parse<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T> {
            serde_json::from_str(json).map_err(Error::internal)
        }
        let change = match kind {
            "task.created" | "task.updated" => {
                let TaskData { task } = parse(data_json)?;
                if kind == "task.created" {
                    Change::TaskCreated(task)
                } else {
                    Change::TaskUpdated(task)
                }
            }
            "task.deleted" => {
                let DeletedData { task_id, owner_id } = parse(data_json)?;
                Change::TaskDeleted { task_id, owner_id }
            }
            "user.changed" => {
                let UserData { user_id } = parse(data_json)?;
                Change::UserChanged { user_id }
            }
            "sessions.changed" => {
                let SessionsData {
                    user_id,
                    session_id,
                } = parse(data_json)?;
                Change::SessionsChanged {
                    user_id,
                    session_id,
                }
            }
            other => {
                return Err(Error::internal(format!(
                    "change log: unknown event type {other:?}"
                )));
            }
        };
        Ok(change)
    }
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEvent {
    /// Where it sits in the log.
    pub position: LogPosition,
    /// When the store appended it.
    pub at: DateTime<Utc>,
    /// What happened.
    pub change: Change,
}

/// What a read of the log returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeBatch {
    /// Events after the position asked for, in log order.
    pub events: Vec<ChangeEvent>,
    /// Whether the batch reaches the end of the log as of the read: every event of a write
    /// acknowledged before the read began is in it or before it. False when the limit cut
    /// it short, or (PostgreSQL) when a transaction still running holds later events back.
    pub caught_up: bool,
}

impl ChangeBatch {
    /// The events of `events` (in log order, all after the position asked for) whose
    /// subject is in `scope`, at most `limit`; caught up when none in scope is left after
    /// them. How a store or cache that holds the log in memory answers `read_changes`.
    pub(crate) fn in_scope<'a>(
        events: impl IntoIterator<Item = &'a ChangeEvent>,
        scope: Scope,
        limit: usize,
    ) -> ChangeBatch {
        let mut in_scope = events
            .into_iter()
            .filter(|e| scope.contains(e.change.subject()));
        let events: Vec<ChangeEvent> = in_scope.by_ref().take(limit).cloned().collect();
        ChangeBatch {
            caught_up: in_scope.next().is_none(),
            events,
        }
    }
}
