//! Tasks, their enums, and the rules that turn client input into a stored task.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::to_millis;
use crate::error::{Result, ValidationErrors};
use crate::ids::{TaskId, UserId};

/// Longest title, in characters after trimming.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
/// Most tags on one task (after de-duplication).
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const TAG_MAX_CHARS: usize = 32;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in rank order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", [$($text),+].join(", "))),
                }
            }
        }
    };
}

string_enum!(
    /// Where a task stands.
    Status {
        /// Not started (the default).
        Todo = "todo",
        /// Being worked on.
        InProgress = "in_progress",
        /// Finished; entering it sets `completed_at`.
        Done = "done",
        /// Abandoned.
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// How urgent a task is; sorts by rank `low < medium < high < urgent`.
    Priority {
        /// Rank 0.
        Low = "low",
        /// Rank 1 (the default).
        Medium = "medium",
        /// Rank 2.
        High = "high",
        /// Rank 3.
        Urgent = "urgent",
    }
);

impl Priority {
    /// Sort rank: 0 (low) to 3 (urgent).
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The priority with this rank.
    pub fn from_rank(rank: u8) -> Option<Self> {
        Self::ALL.get(usize::from(rank)).copied()
    }
}

impl Status {
    /// Whether a task in this status counts as open for `overdue`.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Done | Status::Cancelled)
    }
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Identifier (UUIDv7).
    pub id: TaskId,
    /// The user who created it; never changes.
    pub owner_id: UserId,
    /// 1-200 characters, trimmed.
    pub title: String,
    /// Up to 10,000 characters.
    pub description: Option<String>,
    /// Current status.
    pub status: Status,
    /// Priority.
    pub priority: Priority,
    /// Optional due date (UTC, milliseconds).
    pub due_date: Option<DateTime<Utc>>,
    /// Up to 20 normalised tags, order kept.
    pub tags: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Set when the task enters `done`, cleared when it leaves.
    pub completed_at: Option<DateTime<Utc>>,
    /// Starts at 1 and grows by 1 on every change.
    pub version: u64,
}

/// Input of `create_task`. Enum fields are strings so that frontends pass client input
/// through and core reports every invalid field at once; Rust callers use the setters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// Title, 1-200 characters after trimming.
    pub title: String,
    /// Description, up to 10,000 characters.
    pub description: Option<String>,
    /// `todo` (default), `in_progress`, `done` or `cancelled`.
    pub status: Option<String>,
    /// `low`, `medium` (default), `high` or `urgent`.
    pub priority: Option<String>,
    /// Due date.
    pub due_date: Option<DateTime<Utc>>,
    /// Tags, each `[a-z0-9_-]{1,32}` after lower-casing.
    pub tags: Option<Vec<String>>,
}

impl NewTask {
    /// A task with this title and defaults for everything else.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            ..Self::default()
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status.as_str().to_owned());
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority.as_str().to_owned());
        self
    }

    /// Sets the due date.
    pub fn due_date(mut self, due: DateTime<Utc>) -> Self {
        self.due_date = Some(due);
        self
    }

    /// Sets the tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// Validates every field and builds the task owned by `owner` at `now`.
    pub(crate) fn into_task(self, owner: UserId, now: DateTime<Utc>) -> Result<Task> {
        let mut errors = ValidationErrors::new();
        let title = check(&mut errors, "title", normalize_title(&self.title));
        let description = match self.description {
            Some(d) => check(&mut errors, "description", check_description(d)).map(Some),
            None => Some(None),
        };
        let status = parse_enum::<Status>(&mut errors, "status", self.status.as_deref());
        let priority = parse_enum::<Priority>(&mut errors, "priority", self.priority.as_deref());
        let tags = normalize_tags(&mut errors, self.tags.unwrap_or_default());
        errors.into_result()?;

        let status = status.flatten().unwrap_or(Status::Todo);
        let now = to_millis(now);
        Ok(Task {
            id: TaskId::new(),
            owner_id: owner,
            title: title.unwrap_or_default(),
            description: description.flatten(),
            status,
            priority: priority.flatten().unwrap_or(Priority::Medium),
            due_date: self.due_date.map(to_millis),
            tags,
            created_at: now,
            updated_at: now,
            completed_at: (status == Status::Done).then_some(now),
            version: 1,
        })
    }
}

/// A partial update. For `description` and `due_date`, `Some(None)` clears the field and
/// `None` leaves it alone.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    /// New title.
    pub title: Option<String>,
    /// New description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// New status.
    pub status: Option<String>,
    /// New priority.
    pub priority: Option<String>,
    /// New due date, or `Some(None)` to clear it.
    pub due_date: Option<Option<DateTime<Utc>>>,
    /// New tags (replacing the old ones).
    pub tags: Option<Vec<String>>,
}

impl TaskPatch {
    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets (`Some`) or clears (`None`) the description.
    pub fn description(mut self, description: Option<String>) -> Self {
        self.description = Some(description);
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status.as_str().to_owned());
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority.as_str().to_owned());
        self
    }

    /// Sets (`Some`) or clears (`None`) the due date.
    pub fn due_date(mut self, due: Option<DateTime<Utc>>) -> Self {
        self.due_date = Some(due);
        self
    }

    /// Replaces the tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// Checks every field; the result can be applied to any task.
    pub(crate) fn validate(&self) -> Result<ValidPatch> {
        let mut errors = ValidationErrors::new();
        let title = match &self.title {
            Some(t) => check(&mut errors, "title", normalize_title(t)),
            None => None,
        };
        let description = match &self.description {
            Some(Some(d)) => check(&mut errors, "description", check_description(d.clone()))
                .map(|d| Some(Some(d))),
            Some(None) => Some(Some(None)),
            None => Some(None),
        };
        let status = parse_enum::<Status>(&mut errors, "status", self.status.as_deref());
        let priority = parse_enum::<Priority>(&mut errors, "priority", self.priority.as_deref());
        let tags = self
            .tags
            .as_ref()
            .map(|t| normalize_tags(&mut errors, t.clone()));
        errors.into_result()?;
        Ok(ValidPatch {
            title,
            description: description.flatten(),
            status: status.flatten(),
            priority: priority.flatten(),
            due_date: self.due_date.map(|d| d.map(to_millis)),
            tags,
        })
    }
}

/// A validated patch.
#[derive(Debug, Clone)]
pub(crate) struct ValidPatch {
    title: Option<String>,
    description: Option<Option<String>>,
    status: Option<Status>,
    priority: Option<Priority>,
    due_date: Option<Option<DateTime<Utc>>>,
    tags: Option<Vec<String>>,
}

impl ValidPatch {
    /// A patch that only changes the status (bulk updates).
    pub(crate) fn status_only(status: Status) -> Self {
        Self {
            title: None,
            description: None,
            status: Some(status),
            priority: None,
            due_date: None,
            tags: None,
        }
    }

    /// The task after this patch, or `None` when nothing would change (no version bump).
    pub(crate) fn apply(&self, task: &Task, now: DateTime<Utc>) -> Option<Task> {
        let mut next = task.clone();
        if let Some(title) = &self.title {
            next.title.clone_from(title);
        }
        if let Some(description) = &self.description {
            next.description.clone_from(description);
        }
        if let Some(priority) = self.priority {
            next.priority = priority;
        }
        if let Some(due) = self.due_date {
            next.due_date = due;
        }
        if let Some(tags) = &self.tags {
            next.tags.clone_from(tags);
        }
        if let Some(status) = self.status {
            next.status = status;
        }
        if next == *task {
            return None;
        }
        let now = to_millis(now);
        if next.status != task.status {
            next.completed_at = (next.status == Status::Done).then_some(now);
        }
        next.updated_at = now;
        next.version = task.version + 1;
        Some(next)
    }
}

fn check<T>(errors: &mut ValidationErrors, field: &str, r: Result<T, String>) -> Option<T> {
    r.map_err(|m| errors.add(field, m)).ok()
}

/// `Some(None)` when absent, `Some(Some(v))` when valid, `None` after recording an error.
fn parse_enum<T: FromStr<Err = String>>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<&str>,
) -> Option<Option<T>> {
    match raw {
        None => Some(None),
        Some(s) => check(errors, field, s.parse()).map(Some),
    }
}

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

fn normalize_title(raw: &str) -> Result<String, String> {
    let title = raw.trim();
    let chars = title.chars().count();
    if chars == 0 || chars > TITLE_MAX_CHARS {
        return Err(format!("must be 1-{TITLE_MAX_CHARS} characters"));
    }
    if has_nul(title) {
        return Err("must not contain NUL characters".into());
    }
    Ok(title.to_owned())
}

fn check_description(description: String) -> Result<String, String> {
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(format!(
            "must be at most {DESCRIPTION_MAX_CHARS} characters"
        ));
    }
    if has_nul(&description) {
        return Err("must not contain NUL characters".into());
    }
    Ok(description)
}

/// Whether `tag` (already lower-cased) matches `[a-z0-9_-]{1,32}`.
pub fn is_valid_tag(tag: &str) -> bool {
    (1..=TAG_MAX_CHARS).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Lower-cases, validates and de-duplicates tags, keeping first-seen order. Errors name the
/// offending position (`tags[3]`); the count limit applies after de-duplication.
fn normalize_tags(errors: &mut ValidationErrors, raw: Vec<String>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::with_capacity(raw.len().min(MAX_TAGS));
    for (i, tag) in raw.into_iter().enumerate() {
        let tag = tag.to_lowercase();
        if !is_valid_tag(&tag) {
            errors.add(format!("tags[{i}]"), "must match [a-z0-9_-]{1,32}");
        } else if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        errors.add("tags", format!("must have at most {MAX_TAGS} tags"));
    }
    tags
}
