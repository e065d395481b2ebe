//! Task statistics.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::query::is_overdue;
use crate::rbac::Scope;
use crate::task::{Priority, Status, Task};

/// Window of `completed_last_7_days`.
pub const COMPLETED_WINDOW: TimeDelta = TimeDelta::days(7);

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// `todo` tasks.
    pub todo: u64,
    /// `in_progress` tasks.
    pub in_progress: u64,
    /// `done` tasks.
    pub done: u64,
    /// `cancelled` tasks.
    pub cancelled: u64,
}

impl StatusCounts {
    /// Adds `n` to the counter of `status`.
    pub fn add(&mut self, status: Status, n: u64) {
        match status {
            Status::Todo => self.todo += n,
            Status::InProgress => self.in_progress += n,
            Status::Done => self.done += n,
            Status::Cancelled => self.cancelled += n,
        }
    }
}

/// Counts per priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityCounts {
    /// `low` tasks.
    pub low: u64,
    /// `medium` tasks.
    pub medium: u64,
    /// `high` tasks.
    pub high: u64,
    /// `urgent` tasks.
    pub urgent: u64,
}

impl PriorityCounts {
    /// Adds `n` to the counter of `priority`.
    pub fn add(&mut self, priority: Priority, n: u64) {
        match priority {
            Priority::Low => self.low += n,
            Priority::Medium => self.medium += n,
            Priority::High => self.high += n,
            Priority::Urgent => self.urgent += n,
        }
    }
}

/// Aggregates over a set of tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStats {
    /// Number of tasks.
    pub total: u64,
    /// Per status.
    pub by_status: StatusCounts,
    /// Per priority.
    pub by_priority: PriorityCounts,
    /// Due before `as_of` and neither done nor cancelled.
    pub overdue: u64,
    /// Completed at or after `as_of - 7 days`.
    pub completed_last_7_days: u64,
}

impl TaskStats {
    /// Reference computation, one task at a time; stores compute the same in the database.
    pub fn add(&mut self, task: &Task, as_of: DateTime<Utc>) {
        self.total += 1;
        self.by_status.add(task.status, 1);
        self.by_priority.add(task.priority, 1);
        if is_overdue(task, as_of) {
            self.overdue += 1;
        }
        if task
            .completed_at
            .is_some_and(|c| c >= as_of - COMPLETED_WINDOW)
        {
            self.completed_last_7_days += 1;
        }
    }
}

/// A stats request as stores receive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatsRequest {
    /// Whose tasks.
    pub scope: Scope,
    /// "Now" for `overdue` and the 7-day window (whole seconds).
    pub as_of: DateTime<Utc>,
}
