//! `/tasks/changes` and `/events`: the change feed's pages and the stream's events.

use poem_openapi::{Enum, Object};
use serde::Serialize;
use taskflow_core as core;

use super::tasks::TaskOut;
use super::wire::{Nullable, Timestamp, ts};

/// What a change did to its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ChangeTypeOut {
    /// Created or updated: `task` is the task as written.
    Upsert,
    /// Deleted: `task` is null.
    Delete,
}

/// One entry of the change feed.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TaskChange")]
pub struct TaskChangeOut {
    /// The event's position (an event id of `GET /events`).
    pub id: String,
    /// `upsert` or `delete`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: ChangeTypeOut,
    /// The task.
    pub task_id: String,
    /// The task as written, for upserts; null for deletes.
    pub task: Nullable<TaskOut>,
}

/// A page of the change feed.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TaskChanges")]
pub struct TaskChangesOut {
    /// Changes after `since`, in log order.
    pub changes: Vec<TaskChangeOut>,
    /// `since` of the next call.
    pub next: String,
    /// Whether more changes can be read right now.
    pub has_more: bool,
}

impl From<core::TaskChanges> for TaskChangesOut {
    fn from(page: core::TaskChanges) -> Self {
        Self {
            changes: page
                .changes
                .into_iter()
                .map(|c| TaskChangeOut {
                    id: c.id.to_string(),
                    kind: match c.kind {
                        core::TaskChangeKind::Upsert => ChangeTypeOut::Upsert,
                        core::TaskChangeKind::Delete => ChangeTypeOut::Delete,
                    },
                    task_id: c.task_id.to_string(),
                    task: Nullable(c.task.map(TaskOut::from)),
                })
                .collect(),
            next: page.next.to_string(),
            has_more: page.has_more,
        }
    }
}

/// One event of `GET /events`; also the JSON of each frame's `data` line.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Event")]
pub struct EventOut {
    /// Position in the change log (32 hex digits, sorting in log order); resume after it
    /// with `Last-Event-ID`.
    pub id: String,
    /// `task.created`, `task.updated`, `task.deleted` or `reset`.
    #[oai(rename = "type")]
    pub kind: String,
    /// When the event was appended.
    pub at: Timestamp,
    /// `{"task": Task}` for created and updated tasks; `{"task_id", "owner_id"}` for
    /// deleted ones; `{"start"}` for `reset` (refetch, then the stream goes on after it).
    pub data: serde_json::Value,
}

impl From<core::Event> for EventOut {
    fn from(event: core::Event) -> Self {
        let (id, kind) = (event.id().to_string(), event.kind().to_owned());
        let (at, data) = match event {
            core::Event::Change(e) => {
                let data = match e.change {
                    core::Change::TaskCreated(t) | core::Change::TaskUpdated(t) => {
                        serde_json::json!({ "task": TaskOut::from(t) })
                    }
                    // Only task events reach a stream; every other kind shows as core words it.
                    other => other.data(),
                };
                (e.at, data)
            }
            core::Event::Reset { start } => (
                chrono::Utc::now(),
                serde_json::json!({ "start": start.to_string() }),
            ),
        };
        Self {
            id,
            kind,
            at: ts(at),
            data,
        }
    }
}
/// A single-use ticket for `GET /events?ticket=` (browsers' `EventSource` cannot send an
/// `Authorization` header).
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "EventTicket")]
pub struct EventTicketOut {
    /// Pass as `ticket=`; valid once, for `expires_in` seconds.
    pub ticket: String,
    /// Seconds the ticket stays valid (60).
    pub expires_in: u64,
}
