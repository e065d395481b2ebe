//! Wire shapes of `API.md`: request bodies as clients send them and responses as core's
//! types are shown. Conversions only; every rule is core's.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    MaybeUndefined, ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use poem_openapi::{Enum, Object};
use serde::{Serialize, Serializer};
use serde_json::Value;
use taskflow_core as core;

/// An instant on the wire: RFC 3339, UTC, millisecond precision, `Z` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// `2026-11-23T08:00:00.000Z`.
    pub fn format(&self) -> String {
        let mut buf = [0u8; 24];
        match self.write(&mut buf) {
            Some(text) => text.to_owned(),
            None => self.0.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }

    /// Writes the fixed-width form for years 0-9999 without a format-string interpreter:
    /// chrono's `format()` parsed the pattern on every call and was the largest single
    /// cost of a task listing (18 % of the server's CPU under load).
    fn write<'b>(&self, buf: &'b mut [u8; 24]) -> Option<&'b str> {
        use chrono::{Datelike, Timelike};
        let t = &self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let fields: [(u32, usize, usize); 7] = [
            (year, 0, 4),
            (t.month(), 5, 2),
            (t.day(), 8, 2),
            (t.hour(), 11, 2),
            (t.minute(), 14, 2),
            (t.second().min(59), 17, 2),
            (t.timestamp_subsec_millis().min(999), 20, 3),
        ];
        buf.copy_from_slice(b"0000-00-00T00:00:00.000Z");
        for (mut value, start, width) in fields {
            for i in (start..start + width).rev() {
                buf[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        std::str::from_utf8(buf).ok()
    }
}

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(Value::String("2026-11-23T08:00:00.000Z".into())),
            ..MetaSchema::new_with_format("string", "date-time")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Self::parse_from_parameter(&s),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for Timestamp {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        DateTime::parse_from_rfc3339(value)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|_| ParseError::custom("must be an RFC 3339 date-time"))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        match self.write(&mut buf) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&self.format()),
        }
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.format()))
    }
}

/// A value that is always present and may be `null` (the schema says `nullable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                ..*schema
            })),
            reference => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                all_of: vec![reference],
                ..MetaSchema::ANY
            })),
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(|v| v.as_raw_value())
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(v) => v.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Nullable(None)),
            some => T::parse_from_json(some)
                .map(|v| Nullable(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        Some(
            self.0
                .as_ref()
                .and_then(ToJSON::to_json)
                .unwrap_or(Value::Null),
        )
    }
}

fn ts(t: DateTime<Utc>) -> Timestamp {
    Timestamp(t)
}

fn nullable_ts(t: Option<DateTime<Utc>>) -> Nullable<Timestamp> {
    Nullable(t.map(Timestamp))
}

// ---------------------------------------------------------------------------------------
// Responses

/// An account as clients see it (never a password hash).
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "User")]
pub struct UserOut {
    /// UUIDv7.
    pub id: String,
    /// Trimmed, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `user`, `admin`, or a role the embedding library added.
    pub role: String,
    /// A disabled account can neither log in nor use its tokens.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account last changed.
    pub updated_at: Timestamp,
}

impl From<core::User> for UserOut {
    fn from(u: core::User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email,
            name: u.name,
            role: u.role.as_str().to_owned(),
            disabled: u.disabled,
            created_at: ts(u.created_at),
            updated_at: ts(u.updated_at),
        }
    }
}

/// Tokens issued by login and refresh.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "TokenPair")]
pub struct TokenPairOut {
    /// JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Single-use token for `POST /auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// The account the tokens belong to.
    pub user: UserOut,
}

impl From<core::TokenPair> for TokenPairOut {
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

/// Position of a page in a listing.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "PageInfo")]
pub struct PageInfo {
    /// Page size used.
    pub limit: u32,
    /// Page number in page mode; `null` in cursor mode.
    pub page: Nullable<u32>,
    /// Matching items in page mode; `null` in cursor mode.
    pub total: Nullable<u64>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Nullable<String>,
}

fn page_info<T>(p: &core::Page<T>) -> PageInfo {
    PageInfo {
        limit: p.limit,
        page: Nullable(p.page),
        total: Nullable(p.total),
        next_cursor: Nullable(p.next_cursor.clone()),
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

/// A page of users.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "UserPage")]
pub struct UserPage {
    /// The users of this page.
    pub items: Vec<UserOut>,
    /// Where this page is.
    pub page: PageInfo,
}

impl From<core::Page<core::User>> for UserPage {
    fn from(p: core::Page<core::User>) -> Self {
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

/// Liveness answer.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Health")]
pub struct HealthOut {
    /// Always `ok`.
    pub status: String,
}

/// Readiness answer.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Readiness")]
pub struct ReadinessOut {
    /// `ready` or `unavailable`.
    pub status: String,
    /// Each dependency: `up` or `down`.
    pub checks: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------
// Requests. Enum-like fields stay strings: core validates them and reports every failing
// field at once with the messages of `API.md`.

// Bodies carrying passwords or tokens print them as `<redacted>`, so no log line or panic
// message can leak one.
macro_rules! redacted_debug {
    ($type:ident { $($shown:ident),* ; $($secret:ident),* }) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($secret), &"<redacted>"))*
                    .finish()
            }
        }
    };
}
redacted_debug!(RegisterIn { email, name; password });
redacted_debug!(LoginIn { email; password });
redacted_debug!(RefreshIn { ; refresh_token });
redacted_debug!(PasswordIn { ; current_password, new_password });

/// `POST /auth/register`.
#[derive(Clone, Object)]
#[oai(rename = "Registration", deny_unknown_fields)]
pub struct RegisterIn {
    /// Trimmed and lower-cased; must be unique.
    pub email: String,
    /// 8-128 characters.
    pub password: String,
    /// Display name.
    pub name: String,
}

/// `POST /auth/login`.
#[derive(Clone, Object)]
#[oai(rename = "Credentials", deny_unknown_fields)]
pub struct LoginIn {
    /// Account email.
    pub email: String,
    /// Account password.
    pub password: String,
}

/// `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Clone, Object)]
#[oai(rename = "RefreshRequest", deny_unknown_fields)]
pub struct RefreshIn {
    /// A refresh token from login or a previous refresh.
    pub refresh_token: String,
}

/// `PATCH /auth/me`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ProfileUpdate", deny_unknown_fields)]
pub struct ProfileIn {
    /// New display name.
    pub name: Option<String>,
}

/// `POST /auth/password`.
#[derive(Clone, Object)]
#[oai(rename = "PasswordChange", deny_unknown_fields)]
pub struct PasswordIn {
    /// The password in use now.
    pub current_password: String,
    /// 8-128 characters.
    pub new_password: String,
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

/// `PATCH /users/{id}`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "UserUpdate", deny_unknown_fields)]
pub struct UserPatchIn {
    /// A role known to the server's RBAC configuration.
    pub role: Option<String>,
    /// Disabling ends every session of the user at once.
    pub disabled: Option<bool>,
}

impl From<UserPatchIn> for core::UserUpdate {
    fn from(u: UserPatchIn) -> Self {
        core::UserUpdate {
            role: u.role,
            disabled: u.disabled,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::Timestamp;

    #[test]
    fn timestamps_are_rfc3339_utc_millis() {
        for (input, expected) in [
            ("2026-11-23T08:00:00Z", "2026-11-23T08:00:00.000Z"),
            (
                "2030-01-02T01:04:05.678999+00:00",
                "2030-01-02T01:04:05.678Z",
            ),
            ("0999-12-31T23:59:59.001Z", "0999-12-31T23:59:59.001Z"),
        ] {
            let t = Timestamp(input.parse::<DateTime<Utc>>().unwrap());
            assert_eq!(t.format(), expected);
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{expected}\"")
            );
        }
        let far = Timestamp("+12345-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(
            far.format(),
            far.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn secrets_never_reach_debug_output() {
        let shown = [
            format!(
                "{:?}",
                RegisterIn {
                    email: "a@example.com".into(),
                    password: "hunter2-secret".into(),
                    name: "Ann".into(),
                }
            ),
            format!(
                "{:?}",
                LoginIn {
                    email: "a@example.com".into(),
                    password: "hunter2-secret".into(),
                }
            ),
            format!(
                "{:?}",
                RefreshIn {
                    refresh_token: "hunter2-secret".into(),
                }
            ),
            format!(
                "{:?}",
                PasswordIn {
                    current_password: "hunter2-secret".into(),
                    new_password: "hunter2-secret".into(),
                }
            ),
        ];
        for s in shown {
            assert!(!s.contains("hunter2"), "{s}");
            assert!(s.contains("<redacted>"), "{s}");
        }
    }
}
