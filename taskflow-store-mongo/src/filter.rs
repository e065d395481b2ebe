//! Query documents for task listings. Every filter on a user's tasks starts with
//! `owner_id`, the shard key, so a sharded cluster routes it to one shard.

use mongodb::bson::{Bson, Document, doc};
use taskflow_core::{ListRequest, Position, Scope, SortKey, SortValue, TaskFilter, TaskSort};

use crate::docs::{id_str, ms};

/// Statuses that count as open for `overdue`.
const OPEN: [&str; 2] = ["todo", "in_progress"];

/// The tasks of a scope: the owner's (shard key first), never a deleted task's tombstone.
pub(crate) fn scope(scope: Scope) -> Document {
    let mut d = match scope {
        Scope::All => doc! {},
        Scope::Owner(owner) => doc! { "owner_id": id_str(owner) },
    };
    d.insert("deleted", 0);
    d
}

/// The filter document of a listing (without the keyset position).
pub(crate) fn matching(filter: &TaskFilter) -> Document {
    let mut d = scope(filter.scope);
    let mut and: Vec<Document> = Vec::new();
    if !filter.statuses.is_empty() {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        d.insert("status", doc! { "$in": statuses });
    }
    if !filter.priorities.is_empty() {
        let ranks: Vec<i32> = filter
            .priorities
            .iter()
            .map(|p| i32::from(p.rank()))
            .collect();
        d.insert("priority_rank", doc! { "$in": ranks });
    }
    // Array fields are matched with $elemMatch: MongoDB serves it from the multikey index,
    // and nx-27017 finds nothing with a plain equality or regex on an indexed array.
    if let Some(tag) = &filter.tag {
        d.insert("tags", doc! { "$elemMatch": { "$eq": tag.as_str() } });
    }
    for word in &filter.words {
        // An anchored, case-sensitive prefix regex on the lower-cased words; words are
        // letters and digits, escaped all the same.
        let prefix = format!("^{}", escape(word));
        and.push(doc! { "search_words": { "$elemMatch": { "$regex": prefix } } });
    }
    let mut due = Document::new();
    if let Some(before) = filter.due_before {
        due.insert("$lt", ms(before));
    }
    if let Some(after) = filter.due_after {
        due.insert("$gt", ms(after));
    }
    if !due.is_empty() {
        d.insert("has_due", 1);
        and.push(doc! { "due_ms": due });
    }
    if let Some(overdue) = filter.overdue {
        let is_overdue = doc! {
            "status": { "$in": OPEN.to_vec() },
            "has_due": 1,
            "due_ms": { "$lt": ms(overdue.as_of) },
        };
        if overdue.overdue {
            and.push(is_overdue);
        } else {
            and.push(doc! { "$or": [
                { "status": { "$nin": OPEN.to_vec() } },
                { "has_due": 0 },
                { "due_ms": { "$gte": ms(overdue.as_of) } },
            ]});
        }
    }
    if !and.is_empty() {
        d.insert("$and", and);
    }
    d
}

/// The listing filter plus "strictly after the keyset position".
pub(crate) fn page(request: &ListRequest) -> Document {
    let base = matching(&request.filter);
    match request.after() {
        None => base,
        Some(position) => doc! { "$and": [base, after(request.sort, position)] },
    }
}

fn field(key: SortKey) -> &'static str {
    match key {
        SortKey::CreatedAt => "created_ms",
        SortKey::UpdatedAt => "updated_ms",
        SortKey::DueDate => "due_ms",
        SortKey::Priority => "priority_rank",
    }
}

/// Nulls last in both directions (`has_due` first), then the key, then `_id`.
pub(crate) fn sort(sort: TaskSort) -> Document {
    let dir = if sort.descending { -1 } else { 1 };
    let mut d = Document::new();
    if sort.key == SortKey::DueDate {
        d.insert("has_due", -1);
    }
    d.insert(field(sort.key), dir);
    d.insert("_id", dir);
    d
}

fn after(sort: TaskSort, position: &Position) -> Document {
    let op = if sort.descending { "$lt" } else { "$gt" };
    let id = id_str(position.id);
    let value: Bson = match position.value {
        SortValue::Null => {
            // Only due dates are nullable and nulls come last: stay among the nulls.
            return doc! { "has_due": 0, "_id": { op: id } };
        }
        SortValue::Timestamp(t) => Bson::Int64(ms(t)),
        SortValue::Rank(r) => Bson::Int32(i32::from(r)),
    };
    let key = field(sort.key);
    let mut branches = vec![
        doc! { key: { op: value.clone() } },
        doc! { key: value, "_id": { op: id } },
    ];
    if sort.key == SortKey::DueDate {
        for b in &mut branches {
            b.insert("has_due", 1);
        }
        branches.push(doc! { "has_due": 0 });
    }
    doc! { "$or": branches }
}

/// Escapes regex metacharacters so the word is matched literally.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}-/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
