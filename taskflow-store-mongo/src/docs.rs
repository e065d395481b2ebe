//! How domain values are stored as BSON documents, and read back.
//!
//! Every field is always written (never omitted), ids are UUID strings, times BSON dates,
//! enums strings. Flags that queries compare are integers (`disabled`, `has_due`), never
//! booleans or nulls, so that filters mean the same on MongoDB and nx-27017. Readers accept
//! the representations nx-27017 may hand back (integers as doubles, dates as strings).

use chrono::{DateTime, Utc};
use mongodb::bson::{self, Bson, Document, doc};
use taskflow_core::{
    Error, Priority, Result, Role, SessionId, SessionRecord, Status, Task, TaskId, User, UserId,
    UserRecord, index_words,
};

pub(crate) fn date(t: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

/// Times as Unix milliseconds: what every filter, sort and keyset compares (nx-27017
/// compares BSON dates at whole-second precision; integers compare exactly everywhere).
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn id_str(id: impl std::fmt::Display) -> String {
    id.to_string()
}

pub(crate) fn user_doc(r: &UserRecord) -> Document {
    let u = &r.user;
    doc! {
        "_id": id_str(u.id),
        "email": &u.email,
        "name": &u.name,
        "name_lower": u.name.to_lowercase(),
        "role": u.role.as_str(),
        "disabled": i32::from(u.disabled),
        "password_hash": &r.password_hash,
        "created_at": date(u.created_at),
        "updated_at": date(u.updated_at),
        "version": int64(r.version),
    }
}

pub(crate) fn user_from(d: &Document) -> Result<UserRecord> {
    Ok(UserRecord {
        user: User {
            id: parse_id(d, "_id")?,
            email: text(d, "email")?,
            name: text(d, "name")?,
            role: Role::new(text(d, "role")?),
            disabled: int(d, "disabled")? != 0,
            created_at: time(d, "created_at")?,
            updated_at: time(d, "updated_at")?,
        },
        password_hash: text(d, "password_hash")?,
        version: uint(d, "version")?,
    })
}

/// Session state is a string: nx-27017 turns booleans written by `$set` into integers.
pub(crate) const ACTIVE: &str = "active";
pub(crate) const REVOKED: &str = "revoked";

pub(crate) fn session_doc(s: &SessionRecord) -> Document {
    doc! {
        "_id": id_str(s.id),
        "user_id": id_str(s.user_id),
        "token_hash": &s.token_hash,
        "state": if s.revoked { REVOKED } else { ACTIVE },
        "created_at": date(s.created_at),
        "expires_at": date(s.expires_at),
        "expires_ms": ms(s.expires_at),
        "generation": int64(s.generation),
    }
}

pub(crate) fn session_from(d: &Document) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id: SessionId::from_uuid(*parse_id(d, "_id")?.as_uuid()),
        user_id: parse_id(d, "user_id")?,
        token_hash: text(d, "token_hash")?,
        revoked: text(d, "state")? != ACTIVE,
        created_at: time(d, "created_at")?,
        expires_at: time(d, "expires_at")?,
        generation: uint(d, "generation")?,
    })
}

pub(crate) fn task_doc(t: &Task) -> Document {
    doc! {
        "_id": id_str(t.id),
        "owner_id": id_str(t.owner_id),
        "title": &t.title,
        "description": t.description.clone(),
        "status": t.status.as_str(),
        "priority": t.priority.as_str(),
        "priority_rank": i32::from(t.priority.rank()),
        "has_due": i32::from(t.due_date.is_some()),
        "due_date": t.due_date.map(date),
        "due_ms": t.due_date.map(ms),
        "tags": t.tags.clone(),
        "search_words": index_words(&t.title, t.description.as_deref()),
        "created_at": date(t.created_at),
        "created_ms": ms(t.created_at),
        "updated_at": date(t.updated_at),
        "updated_ms": ms(t.updated_at),
        "completed_at": t.completed_at.map(date),
        "completed_ms": t.completed_at.map(ms),
        "version": int64(t.version),
        // A tombstone (1) is a deleted task whose event is not logged yet.
        "deleted": 0,
    }
}

pub(crate) fn task_from(d: &Document) -> Result<Task> {
    let status: Status = text(d, "status")?
        .parse()
        .map_err(|_| corrupt(d, "status"))?;
    let priority: Priority = text(d, "priority")?
        .parse()
        .map_err(|_| corrupt(d, "priority"))?;
    let tags = match d.get("tags") {
        Some(Bson::Array(items)) => items
            .iter()
            .map(|b| {
                b.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| corrupt(d, "tags"))
            })
            .collect::<Result<Vec<_>>>()?,
        _ => return Err(corrupt(d, "tags")),
    };
    Ok(Task {
        id: TaskId::from_uuid(*parse_id(d, "_id")?.as_uuid()),
        owner_id: parse_id(d, "owner_id")?,
        title: text(d, "title")?,
        description: opt(d, "description", |b| b.as_str().map(str::to_owned))?,
        status,
        priority,
        due_date: opt(d, "due_date", as_time)?,
        tags,
        created_at: time(d, "created_at")?,
        updated_at: time(d, "updated_at")?,
        completed_at: opt(d, "completed_at", as_time)?,
        version: uint(d, "version")?,
    })
}

fn int64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn corrupt(d: &Document, field: &str) -> Error {
    let id = d.get("_id").map(ToString::to_string).unwrap_or_default();
    Error::internal(format!("corrupt document {id}: field {field}"))
}

fn text(d: &Document, field: &str) -> Result<String> {
    d.get_str(field)
        .map(str::to_owned)
        .map_err(|_| corrupt(d, field))
}

fn parse_id(d: &Document, field: &str) -> Result<UserId> {
    d.get_str(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt(d, field))
}

fn as_int(b: &Bson) -> Option<i64> {
    match b {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        Bson::Double(v) if v.fract() == 0.0 => Some(*v as i64),
        Bson::Boolean(v) => Some(i64::from(*v)),
        _ => None,
    }
}

fn int(d: &Document, field: &str) -> Result<i64> {
    d.get(field)
        .and_then(as_int)
        .ok_or_else(|| corrupt(d, field))
}

fn uint(d: &Document, field: &str) -> Result<u64> {
    int(d, field).and_then(|v| u64::try_from(v).map_err(|_| corrupt(d, field)))
}

fn as_time(b: &Bson) -> Option<DateTime<Utc>> {
    match b {
        Bson::DateTime(t) => DateTime::from_timestamp_millis(t.timestamp_millis()),
        Bson::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

fn time(d: &Document, field: &str) -> Result<DateTime<Utc>> {
    d.get(field)
        .and_then(as_time)
        .ok_or_else(|| corrupt(d, field))
}

/// A nullable field: `null` (or, leniently, absent) is `None`.
fn opt<T>(d: &Document, field: &str, read: impl Fn(&Bson) -> Option<T>) -> Result<Option<T>> {
    match d.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(b) => read(b).map(Some).ok_or_else(|| corrupt(d, field)),
    }
}

/// The `n` of a `$group` result.
pub(crate) fn count_of(d: &Document) -> Result<u64> {
    uint(d, "n")
}

/// An integer field, accepting the numeric types servers return.
pub(crate) fn int_of(d: &Document, field: &str) -> Result<i64> {
    int(d, field)
}
