//! `TaskQuery::into_request`: the validation every listing goes through, whatever the
//! frontend, on arbitrary field values (any strings, any integers, instants across
//! chrono's whole range with sub-millisecond parts, cursors both garbage and issued).
//!
//! Invariants (the rules of the list query in `docs/http-api.md`, restated independently):
//! - the only error is `validation_failed`, and it names exactly the fields that break a
//!   rule: an unknown status or priority, a tag not `[a-z0-9_-]{1,32}` after lower-casing,
//!   a search over 200 characters or with over 16 distinct words, an
//!   unknown sort, a limit outside 1-100, a page outside 1-1,000,000, `page` with
//!   `cursor`, or (when all else is valid) a cursor not issued for this sort and filter;
//! - an accepted query becomes exactly the request those rules describe: the limit asked
//!   for (20 by default), page mode at the page asked for (1 by default) or keyset mode
//!   after the cursor's position, de-duplicated statuses and priorities in input order,
//!   the lower-cased tag, the distinct search words (a non-blank search without any makes
//!   a filter that matches nothing), instants truncated to milliseconds, the overdue
//!   filter anchored at the clock, the scope it was given.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use taskflow_core::query::{
    DEFAULT_LIMIT, MAX_PAGE, MAX_QUERY_CHARS, MAX_QUERY_WORDS, decode_cursor,
};
use taskflow_core::{
    Error, OverdueFilter, Pagination, Priority, Scope, Status, TaskQuery, TaskSort, search_words,
    to_millis,
};
use taskflow_fuzz::{now, world};

#[derive(Debug, Arbitrary)]
enum Cursor {
    /// Whatever the fuzzer makes up.
    Raw(String),
    /// One of the cursors the world's listings issued (valid for one sort, no filter).
    Issued(u8),
}

#[derive(Debug, Arbitrary)]
struct Input {
    status: Vec<String>,
    priority: Vec<String>,
    tag: Option<String>,
    q: Option<String>,
    due_before: Option<(i64, u32)>,
    due_after: Option<(i64, u32)>,
    overdue: Option<bool>,
    sort: Option<String>,
    limit: Option<i64>,
    page: Option<i64>,
    cursor: Option<Cursor>,
    all_owners: bool,
}

fn instant(raw: Option<(i64, u32)>) -> Option<DateTime<Utc>> {
    raw.and_then(|(secs, nanos)| DateTime::from_timestamp(secs, nanos))
}

/// Parses every item (trimmed), de-duplicated in input order; `None` if any is invalid.
fn parse_all<T: std::str::FromStr + PartialEq>(raw: &[String]) -> Option<Vec<T>> {
    let mut out = Vec::new();
    for item in raw {
        let v = item.trim().parse::<T>().ok()?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Some(out)
}

fn valid_tag(tag: &str) -> bool {
    (1..=32).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fuzz_target!(|input: Input| {
    let w = world();
    let scope = if input.all_owners {
        Scope::All
    } else {
        Scope::Owner(w.alice.user.id)
    };
    let cursor = input.cursor.as_ref().map(|c| match c {
        Cursor::Raw(s) => s.clone(),
        Cursor::Issued(i) => w.cursors[usize::from(*i) % w.cursors.len()].clone(),
    });
    let query = TaskQuery {
        status: input.status.clone(),
        priority: input.priority.clone(),
        tag: input.tag.clone(),
        q: input.q.clone(),
        due_before: instant(input.due_before),
        due_after: instant(input.due_after),
        overdue: input.overdue,
        owner_id: None,
        sort: input.sort.clone(),
        limit: input.limit,
        page: input.page,
        cursor: cursor.clone(),
    };

    // What the rules say, field by field.
    let mut bad: BTreeSet<&str> = BTreeSet::new();
    let statuses = parse_all::<Status>(&input.status);
    let priorities = parse_all::<Priority>(&input.priority);
    if statuses.is_none() {
        bad.insert("status");
    }
    if priorities.is_none() {
        bad.insert("priority");
    }
    let tag = input.tag.as_deref().map(str::to_lowercase);
    if tag.as_deref().is_some_and(|t| !valid_tag(t)) {
        bad.insert("tag");
    }
    let mut words: Vec<String> = Vec::new();
    let mut wordless = false;
    if let Some(q) = input.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > MAX_QUERY_CHARS {
            bad.insert("q");
        } else {
            for word in search_words(q) {
                if !words.contains(&word) {
                    words.push(word);
                }
            }
            wordless = words.is_empty();
            if words.len() > MAX_QUERY_WORDS {
                bad.insert("q");
            }
        }
    }
    let sort = match input.sort.as_deref() {
        None => Some(TaskSort::default()),
        Some(s) => TaskSort::parse(s).ok(),
    };
    if sort.is_none() {
        bad.insert("sort");
    }
    if input.limit.is_some_and(|n| !(1..=100).contains(&n)) {
        bad.insert("limit");
    }
    if input
        .page
        .is_some_and(|n| !(1..=i64::from(MAX_PAGE)).contains(&n))
    {
        bad.insert("page");
    }
    if input.page.is_some() && cursor.is_some() {
        bad.insert("cursor");
    }

    let result = query.clone().into_request(scope, now());
    let checked_cursor = if bad.is_empty() {
        cursor.as_deref().map(|raw| {
            // The cursor is judged against the request the other fields make.
            let base = TaskQuery {
                cursor: None,
                ..query.clone()
            }
            .into_request(scope, now())
            .expect("every field but the cursor is valid");
            decode_cursor(raw, base.sort, &base.filter)
        })
    } else {
        None
    };
    if let Some(Err(_)) = checked_cursor {
        bad.insert("cursor");
    }

    let request = match result {
        Err(Error::Validation(v)) => {
            let fields: BTreeSet<&str> = v.fields().keys().map(String::as_str).collect();
            assert_eq!(fields, bad, "the fields reported for {input:?}");
            for (field, messages) in v.fields() {
                assert!(
                    !messages.is_empty() && messages.iter().all(|m| !m.is_empty()),
                    "{field} has an empty message"
                );
            }
            return;
        }
        Err(other) => panic!("a listing query failed with {other:?}, not validation"),
        Ok(request) => request,
    };
    assert!(
        bad.is_empty(),
        "accepted despite invalid {bad:?}: {input:?}"
    );

    let limit = input.limit.map_or(DEFAULT_LIMIT, |n| n as u32);
    assert_eq!(request.limit, limit);
    assert_eq!(Some(request.sort), sort);
    match (request.pagination, checked_cursor) {
        (Pagination::Page { number }, None) => {
            let page = input.page.map_or(1, |n| n as u32);
            assert_eq!(number, page);
            assert_eq!(request.offset(), u64::from(page - 1) * u64::from(limit));
            assert!(request.wants_total());
        }
        (Pagination::Keyset { after }, Some(Ok(position))) => {
            assert_eq!(after, Some(position));
            assert_eq!(request.offset(), 0);
            assert!(!request.wants_total());
        }
        (pagination, cursor) => panic!("{pagination:?} for cursor {cursor:?}"),
    }
    let filter = &request.filter;
    assert_eq!(filter.scope, scope);
    assert_eq!(Some(&filter.statuses), statuses.as_ref());
    assert_eq!(Some(&filter.priorities), priorities.as_ref());
    assert_eq!(filter.tag, tag);
    assert_eq!(filter.words, words);
    assert_eq!(filter.matches_nothing(), wordless, "matches nothing");
    assert_eq!(filter.due_before, instant(input.due_before).map(to_millis));
    assert_eq!(filter.due_after, instant(input.due_after).map(to_millis));
    assert_eq!(
        filter.overdue,
        input.overdue.map(|overdue| OverdueFilter {
            overdue,
            as_of: now(),
        })
    );
});
