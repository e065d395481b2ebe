//! Conversion of stored rows back into domain values, written once over the dialect's
//! column decoders.

use taskflow_core::{
    Error, Priority, Result, Role, SessionId, SessionRecord, SharedRecord, Status, Task, TaskId,
    User, UserId, UserRecord,
};

use crate::dialect::Dialect;

/// A task from the columns [`TASK_COLUMNS`](crate::query::TASK_COLUMNS) names, in order.
pub(crate) fn task<D: Dialect>(row: &D::Row) -> Result<Task> {
    let id = D::id(row, 0)?;
    let status = D::text(row, 4)?;
    let status: Status = status
        .parse()
        .map_err(|_| corrupt(format!("task {id} has status {status:?}")))?;
    let rank = D::priority(row, 5)?;
    let priority = u8::try_from(rank)
        .ok()
        .and_then(Priority::from_rank)
        .ok_or_else(|| corrupt(format!("task {id} has priority {rank}")))?;
    Ok(Task {
        id: TaskId::from_uuid(id),
        owner_id: UserId::from_uuid(D::id(row, 1)?),
        title: D::text(row, 2)?,
        description: D::opt_text(row, 3)?,
        status,
        priority,
        due_date: D::opt_time(row, 6)?,
        tags: D::tags(row, 7)?,
        created_at: D::time(row, 8)?,
        updated_at: D::time(row, 9)?,
        completed_at: D::opt_time(row, 10)?,
        version: version(D::int(row, 11)?)?,
    })
}

/// A user from the columns [`USER_COLUMNS`](crate::query::USER_COLUMNS) names, in order.
pub(crate) fn user<D: Dialect>(row: &D::Row) -> Result<UserRecord> {
    Ok(UserRecord {
        user: User {
            id: UserId::from_uuid(D::id(row, 0)?),
            email: D::text(row, 1)?,
            name: D::text(row, 2)?,
            role: Role::new(D::text(row, 3)?),
            disabled: D::flag(row, 4)?,
            created_at: D::time(row, 6)?,
            updated_at: D::time(row, 7)?,
        },
        password_hash: D::text(row, 5)?,
        version: version(D::int(row, 8)?)?,
    })
}

/// A session from `id, user_id, token_hash, revoked, created_at, expires_at, generation`.
pub(crate) fn session<D: Dialect>(row: &D::Row) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId::from_uuid(D::id(row, 0)?),
        user_id: UserId::from_uuid(D::id(row, 1)?),
        token_hash: D::text(row, 2)?,
        revoked: D::flag(row, 3)?,
        created_at: D::time(row, 4)?,
        expires_at: D::time(row, 5)?,
        generation: version(D::int(row, 6)?)?,
    })
}

/// A shared-state record from `value, version, expires_at`.
pub(crate) fn shared<D: Dialect>(row: &D::Row) -> Result<SharedRecord> {
    Ok(SharedRecord {
        value: D::text(row, 0)?,
        version: version(D::int(row, 1)?)?,
        expires_at: D::time(row, 2)?,
    })
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
