//! Conversion of stored values back into domain values, shared by both dialects.

use chrono::{DateTime, Utc};
use taskflow_core::{Error, Priority, Result, Role, Status, Task, TaskId, User, UserId};
use uuid::Uuid;

/// A task row with dialect differences (time and tag encodings) already decoded.
pub(crate) struct TaskRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    pub priority: i64,
    pub due_date: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl TryFrom<TaskRow> for Task {
    type Error = Error;

    fn try_from(r: TaskRow) -> Result<Task> {
        let status: Status = r
            .status
            .parse()
            .map_err(|_| corrupt(format!("task {} has status {:?}", r.id, r.status)))?;
        let priority = u8::try_from(r.priority)
            .ok()
            .and_then(Priority::from_rank)
            .ok_or_else(|| corrupt(format!("task {} has priority {}", r.id, r.priority)))?;
        Ok(Task {
            id: TaskId::from_uuid(r.id),
            owner_id: UserId::from_uuid(r.owner_id),
            title: r.title,
            description: r.description,
            status,
            priority,
            due_date: r.due_date,
            tags: r.tags,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
            version: version(r.version)?,
        })
    }
}

/// A user row with dialect differences decoded.
pub(crate) struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl TryFrom<UserRow> for taskflow_core::UserRecord {
    type Error = Error;

    fn try_from(r: UserRow) -> Result<Self> {
        Ok(Self {
            user: User {
                id: UserId::from_uuid(r.id),
                email: r.email,
                name: r.name,
                role: Role::new(r.role),
                disabled: r.disabled,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            password_hash: r.password_hash,
            version: version(r.version)?,
        })
    }
}

/// Versions are stored as signed 64-bit integers.
pub(crate) fn version(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt(format!("negative version {v}")))
}

/// A version for a bind parameter.
pub(crate) fn version_param(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Data that breaks the schema's invariants.
pub(crate) fn corrupt(what: String) -> Error {
    Error::internal(format!("corrupt row: {what}"))
}

/// Stats from the eleven counts of [`query::stats`](crate::query::stats), read by index.
pub(crate) fn stats_from_counts(
    get: impl Fn(usize) -> Result<i64>,
) -> Result<taskflow_core::TaskStats> {
    let n = |i: usize| get(i).map(|v| u64::try_from(v).unwrap_or(0));
    Ok(taskflow_core::TaskStats {
        total: n(0)?,
        by_status: taskflow_core::StatusCounts {
            todo: n(1)?,
            in_progress: n(2)?,
            done: n(3)?,
            cancelled: n(4)?,
        },
        by_priority: taskflow_core::PriorityCounts {
            low: n(5)?,
            medium: n(6)?,
            high: n(7)?,
            urgent: n(8)?,
        },
        overdue: n(9)?,
        completed_last_7_days: n(10)?,
    })
}
