//! The objects Python sees: plain attributes, timezone-aware UTC datetimes, `to_dict()`
//! and a readable `repr`. Conversions only; every rule is core's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use taskflow_core as core;

/// A string as Python's `repr` shows it (single quotes unless the text has one).
fn quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// A `dict[str, int]` as Python shows it.
fn dict_repr(map: &BTreeMap<String, u64>) -> String {
    let items: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}: {v}", quote(k)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// An account (never a password hash).
#[pyclass(module = "taskflow", frozen, get_all, eq, from_py_object)]
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// UUIDv7.
    pub id: String,
    /// Trimmed, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `user`, `admin` or a custom role.
    pub role: String,
    /// Disabled accounts can neither log in nor use their tokens.
    pub disabled: bool,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<core::User> for User {
    fn from(u: core::User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            name: u.name,
            role: u.role.as_str().to_owned(),
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[pymethods]
impl User {
    /// The attributes as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", &self.id)?;
        d.set_item("email", &self.email)?;
        d.set_item("name", &self.name)?;
        d.set_item("role", &self.role)?;
        d.set_item("disabled", self.disabled)?;
        d.set_item("created_at", self.created_at)?;
        d.set_item("updated_at", self.updated_at)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "User(id={}, email={}, name={}, role={}, disabled={})",
            quote(&self.id),
            quote(&self.email),
            quote(&self.name),
            quote(&self.role),
            if self.disabled { "True" } else { "False" }
        )
    }
}

/// Tokens from login or refresh. The `repr` never shows them.
#[pyclass(module = "taskflow", frozen, get_all)]
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// JWT for `authenticate` and `Authorization: Bearer`.
    pub access_token: String,
    /// Single-use token for `refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
    /// The account.
    pub user: User,
}

impl From<core::TokenPair> for TokenPair {
    fn from(t: core::TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: t.token_type.to_owned(),
            expires_in: t.expires_in,
            user: t.user.into(),
        }
    }
}

#[pymethods]
impl TokenPair {
    /// The attributes as a dict (tokens included: handle it as a secret).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("access_token", &self.access_token)?;
        d.set_item("refresh_token", &self.refresh_token)?;
        d.set_item("token_type", &self.token_type)?;
        d.set_item("expires_in", self.expires_in)?;
        d.set_item("user", self.user.to_dict(py)?)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "TokenPair(token_type={}, expires_in={}, user={}, access_token=<hidden>, refresh_token=<hidden>)",
            quote(&self.token_type),
            self.expires_in,
            self.user.__repr__()
        )
    }
}

/// Who is asking: the result of `authenticate`, passed to every operation.
#[pyclass(module = "taskflow", frozen, eq, from_py_object)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub(crate) inner: core::Principal,
}

#[pymethods]
impl Principal {
    /// The user's id.
    #[getter]
    fn user_id(&self) -> String {
        self.inner.user_id.to_string()
    }

    /// The user's role.
    #[getter]
    fn role(&self) -> String {
        self.inner.role.as_str().to_owned()
    }

    /// The attributes as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("user_id", self.user_id())?;
        d.set_item("role", self.role())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Principal(user_id={}, role={})",
            quote(&self.user_id()),
            quote(&self.role())
        )
    }
}

/// A task.
#[pyclass(module = "taskflow", frozen, get_all, eq, from_py_object)]
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// UUIDv7.
    pub id: String,
    /// The owner's user id.
    pub owner_id: String,
    /// 1-200 characters.
    pub title: String,
    /// Up to 10,000 characters, or `None`.
    pub description: Option<String>,
    /// `todo`, `in_progress`, `done` or `cancelled`.
    pub status: String,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: String,
    /// Due date (UTC) or `None`.
    pub due_date: Option<DateTime<Utc>>,
    /// Tags, lower-cased, in order.
    pub tags: Vec<String>,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
    /// When the task entered `done`, or `None`.
    pub completed_at: Option<DateTime<Utc>>,
    /// Starts at 1, grows by 1 on every change.
    pub version: u64,
}

impl From<core::Task> for Task {
    fn from(t: core::Task) -> Self {
        Self {
            id: t.id.to_string(),
            owner_id: t.owner_id.to_string(),
            title: t.title,
            description: t.description,
            status: t.status.as_str().to_owned(),
            priority: t.priority.as_str().to_owned(),
            due_date: t.due_date,
            tags: t.tags,
            created_at: t.created_at,
            updated_at: t.updated_at,
            completed_at: t.completed_at,
            version: t.version,
        }
    }
}

#[pymethods]
impl Task {
    /// The attributes as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", &self.id)?;
        d.set_item("owner_id", &self.owner_id)?;
        d.set_item("title", &self.title)?;
        d.set_item("description", &self.description)?;
        d.set_item("status", &self.status)?;
        d.set_item("priority", &self.priority)?;
        d.set_item("due_date", self.due_date)?;
        d.set_item("tags", &self.tags)?;
        d.set_item("created_at", self.created_at)?;
        d.set_item("updated_at", self.updated_at)?;
        d.set_item("completed_at", self.completed_at)?;
        d.set_item("version", self.version)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Task(id={}, title={}, status={}, priority={}, version={})",
            quote(&self.id),
            quote(&self.title),
            quote(&self.status),
            quote(&self.priority),
            self.version
        )
    }
}

macro_rules! page_class {
    ($name:ident, $item:ident, $doc:literal) => {
        #[doc = $doc]
        #[pyclass(module = "taskflow", frozen)]
        #[derive(Debug, Clone)]
        pub struct $name {
            items: Vec<$item>,
            /// Page size used.
            #[pyo3(get)]
            limit: u32,
            /// Page number (page mode) or `None` (cursor mode).
            #[pyo3(get)]
            page: Option<u32>,
            /// Matching items (page mode) or `None` (cursor mode).
            #[pyo3(get)]
            total: Option<u64>,
            /// Cursor of the next page; `None` on the last page.
            #[pyo3(get)]
            next_cursor: Option<String>,
        }

        impl<T: Into<$item>> From<core::Page<T>> for $name {
            fn from(p: core::Page<T>) -> Self {
                Self {
                    items: p.items.into_iter().map(Into::into).collect(),
                    limit: p.limit,
                    page: p.page,
                    total: p.total,
                    next_cursor: p.next_cursor,
                }
            }
        }

        #[pymethods]
        impl $name {
            /// The items of this page.
            #[getter]
            fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                PyList::new(py, self.items.iter().cloned())
            }

            fn __len__(&self) -> usize {
                self.items.len()
            }

            fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                Ok(self.items(py)?.try_iter()?.into_any())
            }

            fn __getitem__(&self, index: isize) -> PyResult<$item> {
                let len = self.items.len() as isize;
                let i = if index < 0 { index + len } else { index };
                if i < 0 || i >= len {
                    return Err(pyo3::exceptions::PyIndexError::new_err(
                        "page index out of range",
                    ));
                }
                Ok(self.items[i as usize].clone())
            }

            /// The attributes as a dict (items as dicts).
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let d = PyDict::new(py);
                let items = PyList::empty(py);
                for item in &self.items {
                    items.append(item.to_dict(py)?)?;
                }
                d.set_item("items", items)?;
                d.set_item("limit", self.limit)?;
                d.set_item("page", self.page)?;
                d.set_item("total", self.total)?;
                d.set_item("next_cursor", &self.next_cursor)?;
                Ok(d)
            }

            fn __repr__(&self) -> String {
                format!(
                    "{}(items=<{} {}>, limit={}, page={}, total={}, next_cursor={})",
                    stringify!($name),
                    self.items.len(),
                    stringify!($item),
                    self.limit,
                    self.page.map_or("None".to_owned(), |p| p.to_string()),
                    self.total.map_or("None".to_owned(), |t| t.to_string()),
                    if self.next_cursor.is_some() {
                        "<cursor>"
                    } else {
                        "None"
                    }
                )
            }
        }
    };
}

page_class!(TaskPage, Task, "A page of tasks: iterable, with `len()`.");
page_class!(UserPage, User, "A page of users: iterable, with `len()`.");

/// Counts over a set of tasks.
#[pyclass(module = "taskflow", frozen, get_all)]
#[derive(Debug, Clone)]
pub struct TaskStats {
    /// Tasks counted.
    pub total: u64,
    /// Count per status.
    pub by_status: BTreeMap<String, u64>,
    /// Count per priority.
    pub by_priority: BTreeMap<String, u64>,
    /// Open tasks past their due date.
    pub overdue: u64,
    /// Tasks completed in the last 7 days.
    pub completed_last_7_days: u64,
}

impl From<core::TaskStats> for TaskStats {
    fn from(s: core::TaskStats) -> Self {
        let by_status = BTreeMap::from([
            ("todo".to_owned(), s.by_status.todo),
            ("in_progress".to_owned(), s.by_status.in_progress),
            ("done".to_owned(), s.by_status.done),
            ("cancelled".to_owned(), s.by_status.cancelled),
        ]);
        let by_priority = BTreeMap::from([
            ("low".to_owned(), s.by_priority.low),
            ("medium".to_owned(), s.by_priority.medium),
            ("high".to_owned(), s.by_priority.high),
            ("urgent".to_owned(), s.by_priority.urgent),
        ]);
        Self {
            total: s.total,
            by_status,
            by_priority,
            overdue: s.overdue,
            completed_last_7_days: s.completed_last_7_days,
        }
    }
}

#[pymethods]
impl TaskStats {
    /// The attributes as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("total", self.total)?;
        d.set_item("by_status", &self.by_status)?;
        d.set_item("by_priority", &self.by_priority)?;
        d.set_item("overdue", self.overdue)?;
        d.set_item("completed_last_7_days", self.completed_last_7_days)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "TaskStats(total={}, by_status={}, by_priority={}, overdue={}, completed_last_7_days={})",
            self.total,
            dict_repr(&self.by_status),
            dict_repr(&self.by_priority),
            self.overdue,
            self.completed_last_7_days
        )
    }
}
