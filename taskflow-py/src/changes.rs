//! What Python sees of the change log: `Event` (items of `events()`) and `Changes`
//! (a page of `task_changes()`). Conversions only; the scoping is core's.

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use taskflow_core as core;

use crate::types::Task;

/// What an event says, kept typed until Python asks for `data`.
#[derive(Debug, Clone)]
enum Payload {
    Task(Task),
    Deleted {
        task_id: String,
        owner_id: String,
    },
    /// Account and session events (core never streams them to a principal).
    Account {
        user_id: String,
    },
    Reset {
        start: String,
    },
}

/// One live event: `id` (resume after it with `last_event_id=`), `type`
/// (`task.created`, `task.updated`, `task.deleted` or `reset`), `at` and `data` (a dict:
/// `{"task": Task}`, `{"task_id", "owner_id"}`, or `{"start"}` for `reset`).
#[pyclass(module = "taskflow", frozen)]
#[derive(Debug, Clone)]
pub struct Event {
    /// The event's position (32 hex digits, sorting in log order).
    #[pyo3(get)]
    id: String,
    /// The event type.
    #[pyo3(get, name = "type")]
    kind: String,
    /// When it was appended (UTC).
    #[pyo3(get)]
    at: DateTime<Utc>,
    payload: Payload,
}

impl From<core::Event> for Event {
    fn from(event: core::Event) -> Self {
        let (id, kind) = (event.id().to_string(), event.kind().to_owned());
        let (at, payload) = match event {
            core::Event::Change(e) => {
                let payload = match e.change {
                    core::Change::TaskCreated(t) | core::Change::TaskUpdated(t) => {
                        Payload::Task(t.into())
                    }
                    core::Change::TaskDeleted { task_id, owner_id } => Payload::Deleted {
                        task_id: task_id.to_string(),
                        owner_id: owner_id.to_string(),
                    },
                    other => Payload::Account {
                        user_id: other.subject().to_string(),
                    },
                };
                (e.at, payload)
            }
            core::Event::Reset { start } => (
                Utc::now(),
                Payload::Reset {
                    start: start.to_string(),
                },
            ),
        };
        Self {
            id,
            kind,
            at,
            payload,
        }
    }
}

#[pymethods]
impl Event {
    /// The event's data as a dict.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        match &self.payload {
            Payload::Task(t) => d.set_item("task", t.clone())?,
            Payload::Deleted { task_id, owner_id } => {
                d.set_item("task_id", task_id)?;
                d.set_item("owner_id", owner_id)?;
            }
            Payload::Account { user_id } => d.set_item("user_id", user_id)?,
            Payload::Reset { start } => d.set_item("start", start)?,
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Event(id='{}', type='{}', at={})",
            self.id,
            self.kind,
            self.at.to_rfc3339()
        )
    }
}

/// One entry of `task_changes()`: `id`, `type` (`upsert` or `delete`), `task_id` and
/// `task` (the task as written; `None` for deletes).
#[pyclass(module = "taskflow", frozen, get_all)]
#[derive(Debug, Clone)]
pub struct TaskChange {
    /// The event's position.
    pub id: String,
    /// `upsert` or `delete`.
    #[pyo3(name = "type")]
    pub kind: String,
    /// The task.
    pub task_id: String,
    /// The task as written, for upserts.
    pub task: Option<Task>,
}

#[pymethods]
impl TaskChange {
    fn __repr__(&self) -> String {
        format!(
            "TaskChange(id='{}', type='{}', task_id='{}')",
            self.id, self.kind, self.task_id
        )
    }
}

/// A page of `task_changes()`: `changes`, `next` (the `since` of the next call) and
/// `has_more`.
#[pyclass(module = "taskflow", frozen)]
#[derive(Debug, Clone)]
pub struct Changes {
    items: Vec<TaskChange>,
    /// Pass as `since` to read on.
    #[pyo3(get)]
    next: String,
    /// Whether more changes can be read right now.
    #[pyo3(get)]
    has_more: bool,
}

impl From<core::TaskChanges> for Changes {
    fn from(page: core::TaskChanges) -> Self {
        Self {
            items: page
                .changes
                .into_iter()
                .map(|c| TaskChange {
                    id: c.id.to_string(),
                    kind: c.kind.as_str().to_owned(),
                    task_id: c.task_id.to_string(),
                    task: c.task.map(Task::from),
                })
                .collect(),
            next: page.next.to_string(),
            has_more: page.has_more,
        }
    }
}

#[pymethods]
impl Changes {
    /// The changes after `since`, in log order.
    #[getter]
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.items.clone())
    }

    fn __len__(&self) -> usize {
        self.items.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Changes(changes=<{} changes>, next='{}', has_more={})",
            self.items.len(),
            self.next,
            if self.has_more { "True" } else { "False" }
        )
    }
}
