//! `/tasks`: tasks, pages of them, stats and bulk status changes, and the bodies that
//! create and change them.

use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Enum, Object};
use serde::Serialize;
use taskflow_core as core;

use super::wire::{Nullable, PageInfo, Timestamp, nullable_ts, page_info, ts};

/// Task status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum StatusOut {
    /// Not started (default).
    Todo,
    /// Being worked on.
    InProgress,
    /// Finished; sets `completed_at`.
    Done,
    /// Abandoned.
    Cancelled,
}

impl From<core::Status> for StatusOut {
    fn from(s: core::Status) -> Self {
        match s {
            core::Status::Todo => StatusOut::Todo,
            core::Status::InProgress => StatusOut::InProgress,
            core::Status::Done => StatusOut::Done,
            core::Status::Cancelled => StatusOut::Cancelled,
        }
    }
}

/// Task priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PriorityOut {
    /// Low.
    Low,
    /// Medium (default).
    Medium,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

impl From<core::Priority> for PriorityOut {
    fn from(p: core::Priority) -> Self {
        match p {
            core::Priority::Low => PriorityOut::Low,
            core::Priority::Medium => PriorityOut::Medium,
            core::Priority::High => PriorityOut::High,
            core::Priority::Urgent => PriorityOut::Urgent,
        }
    }
}

/// A task.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Task")]
pub struct TaskOut {
    /// UUIDv7.
    pub id: String,
    /// The owner's user id.
    pub owner_id: String,
    /// 1-200 characters.
    pub title: String,
    /// Up to 10,000 characters, or `null`.
    pub description: Nullable<String>,
    /// Current status.
    pub status: StatusOut,
    /// Priority.
    pub priority: PriorityOut,
    /// Due date, or `null`.
    pub due_date: Nullable<Timestamp>,
    /// Up to 20 tags, `[a-z0-9_-]{1,32}`.
    pub tags: Vec<String>,
    /// When the task was created.
    pub created_at: Timestamp,
    /// When the task last changed.
    pub updated_at: Timestamp,
    /// When the task entered `done`, or `null`.
    pub completed_at: Nullable<Timestamp>,
    /// Starts at 1, grows by 1 on every change; the `ETag` is `"<version>"`.
    pub version: u64,
}

impl From<core::Task> for TaskOut {
    fn from(t: core::Task) -> Self {
        Self {
            id: t.id.to_string(),
            owner_id: t.owner_id.to_string(),
            title: t.title,
            description: Nullable(t.description),
            status: t.status.into(),
            priority: t.priority.into(),
            due_date: nullable_ts(t.due_date),
            tags: t.tags,
            created_at: ts(t.created_at),
            updated_at: ts(t.updated_at),
            completed_at: nullable_ts(t.completed_at),
            version: t.version,
        }
    }
}

/// A page of tasks.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TaskPage")]
pub struct TaskPage {
    /// The tasks of this page.
    pub items: Vec<TaskOut>,
    /// Where this page is.
    pub page: PageInfo,
}

impl From<core::Page<core::Task>> for TaskPage {
    fn from(p: core::Page<core::Task>) -> Self {
        let page = page_info(&p);
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            page,
        }
    }
}

/// Task counts by status.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "StatusCounts")]
pub struct StatusCountsOut {
    /// `todo`.
    pub todo: u64,
    /// `in_progress`.
    pub in_progress: u64,
    /// `done`.
    pub done: u64,
    /// `cancelled`.
    pub cancelled: u64,
}

/// Task counts by priority.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "PriorityCounts")]
pub struct PriorityCountsOut {
    /// `low`.
    pub low: u64,
    /// `medium`.
    pub medium: u64,
    /// `high`.
    pub high: u64,
    /// `urgent`.
    pub urgent: u64,
}

/// Counts over a set of tasks.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Stats")]
pub struct StatsOut {
    /// Tasks counted.
    pub total: u64,
    /// By status.
    pub by_status: StatusCountsOut,
    /// By priority.
    pub by_priority: PriorityCountsOut,
    /// Open tasks whose due date has passed.
    pub overdue: u64,
    /// Tasks completed in the last 7 days.
    pub completed_last_7_days: u64,
}

impl From<core::TaskStats> for StatsOut {
    fn from(s: core::TaskStats) -> Self {
        Self {
            total: s.total,
            by_status: StatusCountsOut {
                todo: s.by_status.todo,
                in_progress: s.by_status.in_progress,
                done: s.by_status.done,
                cancelled: s.by_status.cancelled,
            },
            by_priority: PriorityCountsOut {
                low: s.by_priority.low,
                medium: s.by_priority.medium,
                high: s.by_priority.high,
                urgent: s.by_priority.urgent,
            },
            overdue: s.overdue,
            completed_last_7_days: s.completed_last_7_days,
        }
    }
}

/// Result of a bulk status change.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "BulkStatusResult")]
pub struct BulkStatusOut {
    /// Tasks whose status changed (tasks already in that status are not counted).
    pub updated: u64,
}

/// `POST /tasks`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "NewTask", deny_unknown_fields)]
pub struct NewTaskIn {
    /// 1-200 characters after trimming.
    pub title: String,
    /// Up to 10,000 characters.
    pub description: Option<String>,
    /// `todo` (default), `in_progress`, `done`, `cancelled`.
    pub status: Option<String>,
    /// `low`, `medium` (default), `high`, `urgent`.
    pub priority: Option<String>,
    /// RFC 3339.
    pub due_date: Option<Timestamp>,
    /// Up to 20 tags, `[a-z0-9_-]{1,32}` after lower-casing; duplicates dropped.
    pub tags: Option<Vec<String>>,
}

impl From<NewTaskIn> for core::NewTask {
    fn from(t: NewTaskIn) -> Self {
        core::NewTask {
            title: t.title,
            description: t.description,
            status: t.status,
            priority: t.priority,
            due_date: t.due_date.map(|d| d.0),
            tags: t.tags,
        }
    }
}

/// `PATCH /tasks/{id}`: only the fields present change; `null` clears `description` and
/// `due_date`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "TaskPatch", deny_unknown_fields)]
pub struct TaskPatchIn {
    /// 1-200 characters after trimming.
    pub title: Option<String>,
    /// Up to 10,000 characters; `null` clears it.
    pub description: MaybeUndefined<Nullable<String>>,
    /// `todo`, `in_progress`, `done`, `cancelled`.
    pub status: Option<String>,
    /// `low`, `medium`, `high`, `urgent`.
    pub priority: Option<String>,
    /// RFC 3339; `null` clears it.
    pub due_date: MaybeUndefined<Nullable<Timestamp>>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
}

fn clearable<T, U>(v: MaybeUndefined<Nullable<T>>, f: impl Fn(T) -> U) -> Option<Option<U>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(Nullable(v)) => Some(v.map(f)),
    }
}

impl From<TaskPatchIn> for core::TaskPatch {
    fn from(p: TaskPatchIn) -> Self {
        core::TaskPatch {
            title: p.title,
            description: clearable(p.description, |d| d),
            status: p.status,
            priority: p.priority,
            due_date: clearable(p.due_date, |d| d.0),
            tags: p.tags,
        }
    }
}

/// `POST /tasks/bulk-status`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "BulkStatus", deny_unknown_fields)]
pub struct BulkStatusIn {
    /// Up to 100 task ids; any id not visible to the caller fails the whole request.
    pub ids: Vec<String>,
    /// The status to set.
    pub status: String,
}
