//! Task listing: the raw query clients send ([`TaskQuery`]), the validated request stores
//! receive ([`ListRequest`]), keyset positions and opaque cursors, and the reference
//! semantics (search, ordering) every store must reproduce.

use std::cmp::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::to_millis;
use crate::error::{Result, ValidationErrors};
use crate::ids::{TaskId, UserId};
use crate::rbac::Scope;
use crate::task::{Priority, Status, Task, is_valid_tag};

/// Smallest page size.
pub const MIN_LIMIT: u32 = 1;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;
/// Page size when none is given.
pub const DEFAULT_LIMIT: u32 = 20;
/// Highest page number accepted in page mode (keeps offsets far from overflow).
pub const MAX_PAGE: u32 = 1_000_000;
/// Longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words in one search query.
pub const MAX_QUERY_WORDS: usize = 16;

/// A task listing as a client asks for it (every field optional, nothing validated yet).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TaskQuery {
    /// Any of these statuses (empty: all).
    #[serde(default)]
    pub status: Vec<String>,
    /// Any of these priorities (empty: all).
    #[serde(default)]
    pub priority: Vec<String>,
    /// Only tasks carrying this tag.
    pub tag: Option<String>,
    /// Full-text search: every word (run of letters and digits) must prefix a word of the
    /// title or description. Blank: no search. Text without a word (`%'_"`, what a person may
    /// type in a search box) matches no task: an empty page, not a validation error.
    pub q: Option<String>,
    /// Only tasks due strictly before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Only tasks due strictly after this instant.
    pub due_after: Option<DateTime<Utc>>,
    /// `true`: only overdue tasks (due in the past, not done or cancelled); `false`: only others.
    pub overdue: Option<bool>,
    /// Only this owner's tasks (requires [`Permission::ReadAllTasks`](crate::Permission::ReadAllTasks)).
    pub owner_id: Option<UserId>,
    /// `created_at`, `updated_at`, `due_date` or `priority`, `-` prefix for descending.
    pub sort: Option<String>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// 1-based page number (page mode; default 1).
    pub page: Option<i64>,
    /// Opaque cursor from a previous page's `next_cursor` (cursor mode).
    pub cursor: Option<String>,
}

/// A column tasks can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Due date; tasks without one sort last in both directions.
    DueDate,
    /// Priority rank.
    Priority,
}

impl SortKey {
    /// The name used in `sort=`.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
            SortKey::DueDate => "due_date",
            SortKey::Priority => "priority",
        }
    }
}

/// Sort key and direction. Ties are broken by task id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskSort {
    /// The column.
    pub key: SortKey,
    /// Descending when true.
    pub descending: bool,
}

impl Default for TaskSort {
    fn default() -> Self {
        Self {
            key: SortKey::CreatedAt,
            descending: true,
        }
    }
}

impl TaskSort {
    /// Parses `created_at`, `-priority`, ...
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let key = match name {
            "created_at" => SortKey::CreatedAt,
            "updated_at" => SortKey::UpdatedAt,
            "due_date" => SortKey::DueDate,
            "priority" => SortKey::Priority,
            _ => {
                return Err(
                    "must be one of created_at, updated_at, due_date, priority, optionally prefixed by -",
                );
            }
        };
        Ok(Self { key, descending })
    }

    /// The `sort=` spelling.
    pub fn to_param(self) -> String {
        format!(
            "{}{}",
            if self.descending { "-" } else { "" },
            self.key.as_str()
        )
    }

    /// The value of this sort's key for `task`.
    pub fn value_of(self, task: &Task) -> SortValue {
        match self.key {
            SortKey::CreatedAt => SortValue::Timestamp(task.created_at),
            SortKey::UpdatedAt => SortValue::Timestamp(task.updated_at),
            SortKey::DueDate => task.due_date.map_or(SortValue::Null, SortValue::Timestamp),
            SortKey::Priority => SortValue::Rank(task.priority.rank()),
        }
    }

    /// The listing order: nulls last whatever the direction, then key, then id, both in
    /// the sort's direction. Stores must produce exactly this order.
    pub fn compare(self, a: &Task, b: &Task) -> Ordering {
        self.compare_to(a, &Position::of(self, b))
    }

    /// Where `task` stands relative to a keyset position (`Greater`: after it).
    pub fn compare_to(self, task: &Task, position: &Position) -> Ordering {
        let value = self.value_of(task);
        let nulls = value.is_null().cmp(&position.value.is_null());
        let rest = value
            .cmp_non_null(&position.value)
            .then_with(|| task.id.cmp(&position.id));
        nulls.then(if self.descending {
            rest.reverse()
        } else {
            rest
        })
    }
}

/// The value of a sort key, as kept in a keyset position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "t", content = "v")]
pub enum SortValue {
    /// A timestamp (`created_at`, `updated_at`, `due_date`).
    Timestamp(DateTime<Utc>),
    /// A priority rank.
    Rank(u8),
    /// A missing due date.
    Null,
}

impl SortValue {
    /// True for a missing due date.
    pub fn is_null(&self) -> bool {
        matches!(self, SortValue::Null)
    }

    fn cmp_non_null(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Timestamp(a), SortValue::Timestamp(b)) => a.cmp(b),
            (SortValue::Rank(a), SortValue::Rank(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

/// A keyset position: the sort value and id of the last task of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// Sort-key value of the last task seen.
    pub value: SortValue,
    /// Id of the last task seen.
    pub id: TaskId,
}

impl Position {
    /// The position of `task` under `sort`.
    pub fn of(sort: TaskSort, task: &Task) -> Self {
        Self {
            value: sort.value_of(task),
            id: task.id,
        }
    }
}

/// The `overdue` filter with the instant it is evaluated at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OverdueFilter {
    /// `true`: only overdue tasks; `false`: only tasks that are not overdue.
    pub overdue: bool,
    /// "Now" for the comparison (whole seconds).
    pub as_of: DateTime<Utc>,
}

/// Which tasks a listing returns. Every criterion must hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskFilter {
    /// Ownership scope, decided by the policy.
    pub scope: Scope,
    /// Any of these statuses (empty: all).
    pub statuses: Vec<Status>,
    /// Any of these priorities (empty: all).
    pub priorities: Vec<Priority>,
    /// Must carry this tag.
    pub tag: Option<String>,
    /// Lower-cased search words; each must prefix a word of title or description.
    pub words: Vec<String>,
    /// `due_date < due_before`.
    pub due_before: Option<DateTime<Utc>>,
    /// `due_date > due_after`.
    pub due_after: Option<DateTime<Utc>>,
    /// Overdue or not.
    pub overdue: Option<OverdueFilter>,
    /// A search without a word was asked for: no task matches. Private so that stores never
    /// see it: [`TaskFlow::list_tasks`](crate::TaskFlow::list_tasks) answers such a listing
    /// with an empty page without asking the store (each store's empty word list means "no
    /// search", and none could index a word-less query the same way).
    matches_nothing: bool,
}

impl TaskFilter {
    /// A filter matching every task in `scope`.
    pub fn scope(scope: Scope) -> Self {
        Self {
            scope,
            statuses: Vec::new(),
            priorities: Vec::new(),
            tag: None,
            words: Vec::new(),
            due_before: None,
            due_after: None,
            overdue: None,
            matches_nothing: false,
        }
    }

    /// Whether no task can match (a search without a word); core answers such a listing
    /// itself, so stores never receive one.
    pub fn matches_nothing(&self) -> bool {
        self.matches_nothing
    }

    /// The reference predicate; stores must select exactly the tasks for which it holds.
    pub fn matches(&self, task: &Task) -> bool {
        !self.matches_nothing
            && self.scope.contains(task.owner_id)
            && (self.statuses.is_empty() || self.statuses.contains(&task.status))
            && (self.priorities.is_empty() || self.priorities.contains(&task.priority))
            && self.tag.as_ref().is_none_or(|t| task.tags.contains(t))
            && self
                .due_before
                .is_none_or(|b| task.due_date.is_some_and(|d| d < b))
            && self
                .due_after
                .is_none_or(|a| task.due_date.is_some_and(|d| d > a))
            && self
                .overdue
                .is_none_or(|o| is_overdue(task, o.as_of) == o.overdue)
            && matches_words(&self.words, task)
    }

    /// A stable fingerprint of the criteria (scope and the overdue instant excluded), so a
    /// cursor can be checked against the query it is used with.
    fn fingerprint(&self) -> String {
        let mut canon = String::new();
        for s in &self.statuses {
            canon.push_str(s.as_str());
            canon.push(',');
        }
        canon.push('|');
        for p in &self.priorities {
            canon.push_str(p.as_str());
            canon.push(',');
        }
        canon.push('|');
        canon.push_str(self.tag.as_deref().unwrap_or(""));
        canon.push('|');
        canon.push_str(&self.words.join(" "));
        canon.push('|');
        for d in [self.due_before, self.due_after] {
            canon.push_str(
                &d.map(|d| d.timestamp_millis().to_string())
                    .unwrap_or_default(),
            );
            canon.push('|');
        }
        canon.push_str(match self.overdue.map(|o| o.overdue) {
            Some(true) => "1",
            Some(false) => "0",
            None => "",
        });
        // Appended only when set, so cursors issued before the flag existed stay valid; and
        // no cursor of a listing that matches something fits one that matches nothing.
        if self.matches_nothing {
            canon.push_str("|nothing");
        }
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let hash = canon.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{hash:016x}")
    }
}

/// Whether a task is overdue at `now`: due in the past and neither done nor cancelled.
pub fn is_overdue(task: &Task, now: DateTime<Utc>) -> bool {
    task.status.is_open() && task.due_date.is_some_and(|d| d < now)
}

/// Splits text into lower-cased words: maximal runs of Unicode letters and digits. The
/// tokenisation every store's full-text index must agree with.
pub fn search_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The distinct words of a task's title and description, in first-seen order: what a
/// store's full-text index must hold. Stores index these words (never the raw text, which
/// database tokenisers split differently) and match each query word as a prefix of one.
///
/// Words are cut to [`MAX_QUERY_CHARS`] characters: no query word is longer, so prefix
/// matching cannot tell, and index entries stay small (PostgreSQL refuses lexemes over
/// 2 KiB).
pub fn index_words(title: &str, description: Option<&str>) -> Vec<String> {
    // A 10,000-character description has ~2,000 words: dedupe with a set, not a scan.
    let mut seen = std::collections::HashSet::new();
    search_words(title)
        .chain(description.into_iter().flat_map(search_words))
        .map(|w| match w.char_indices().nth(MAX_QUERY_CHARS) {
            Some((cut, _)) => w[..cut].to_owned(),
            None => w,
        })
        .filter(|w| seen.insert(w.clone()))
        .collect()
}

/// Reference search semantics: every query word prefixes some word of title or description.
pub fn matches_words(words: &[String], task: &Task) -> bool {
    if words.is_empty() {
        return true;
    }
    let text_words: Vec<String> = search_words(&task.title)
        .chain(task.description.iter().flat_map(|d| search_words(d)))
        .collect();
    words
        .iter()
        .all(|w| text_words.iter().any(|t| t.starts_with(w.as_str())))
}

/// How a listing is paginated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pagination {
    /// Offset pages with a total count.
    Page {
        /// 1-based page number.
        number: u32,
    },
    /// Keyset pages: tasks strictly after `after` in the listing order (from the start
    /// when `None`).
    Keyset {
        /// Position of the last task of the previous page.
        after: Option<Position>,
    },
}

/// A validated, scoped listing request as stores receive it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListRequest {
    /// Which tasks.
    pub filter: TaskFilter,
    /// In which order.
    pub sort: TaskSort,
    /// Page size.
    pub limit: u32,
    /// Which page.
    pub pagination: Pagination,
}

impl ListRequest {
    /// Rows to skip in page mode (0 in keyset mode).
    pub fn offset(&self) -> u64 {
        match self.pagination {
            Pagination::Page { number } => u64::from(number - 1) * u64::from(self.limit),
            Pagination::Keyset { .. } => 0,
        }
    }

    /// The keyset position to start after, if any.
    pub fn after(&self) -> Option<&Position> {
        match &self.pagination {
            Pagination::Keyset { after } => after.as_ref(),
            Pagination::Page { .. } => None,
        }
    }

    /// Whether the store must count every matching task.
    pub fn wants_total(&self) -> bool {
        matches!(self.pagination, Pagination::Page { .. })
    }
}

/// What a store returns for a [`ListRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSlice {
    /// At most `limit` tasks, in listing order.
    pub items: Vec<Task>,
    /// Whether at least one more task follows the last item.
    pub has_more: bool,
    /// Count of every matching task (page mode only).
    pub total: Option<u64>,
}

/// A page of results as frontends show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Page size used.
    pub limit: u32,
    /// Page number (page mode), `None` in cursor mode.
    pub page: Option<u32>,
    /// Total matching items (page mode), `None` in cursor mode.
    pub total: Option<u64>,
    /// Cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Cursor payload. Opaque to clients; binds the position to the sort and filter it came from.
#[derive(Serialize, Deserialize)]
struct CursorData {
    s: String,
    f: String,
    p: SortValue,
    i: TaskId,
}

const CURSOR_ERROR: &str = "is not a cursor of this listing (sort and filters must stay the same)";

/// First and last second an RFC 3339 date-time can name (years 0000-9999, offsets up to
/// ±23:59): every instant the API can carry, and inside every store's range.
const RFC3339_SECONDS: std::ops::RangeInclusive<i64> = -62_167_305_540..=253_402_387_139;

fn encode_cursor(sort: TaskSort, filter: &TaskFilter, position: &Position) -> String {
    let data = CursorData {
        s: sort.to_param(),
        f: filter.fingerprint(),
        p: position.value,
        i: position.id,
    };
    // Serialising plain data to a Vec cannot fail.
    let json = serde_json::to_vec(&data).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes an opaque cursor, checking it belongs to a listing with this sort and filter.
pub fn decode_cursor(
    raw: &str,
    sort: TaskSort,
    filter: &TaskFilter,
) -> Result<Position, &'static str> {
    if raw.len() > 512 {
        return Err(CURSOR_ERROR);
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| CURSOR_ERROR)?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| CURSOR_ERROR)?;
    if data.s != sort.to_param() || data.f != filter.fingerprint() {
        return Err(CURSOR_ERROR);
    }
    let value_fits = match (sort.key, data.p) {
        (SortKey::CreatedAt | SortKey::UpdatedAt, SortValue::Timestamp(_)) => true,
        (SortKey::DueDate, SortValue::Timestamp(_) | SortValue::Null) => true,
        (SortKey::Priority, SortValue::Rank(r)) => Priority::from_rank(r).is_some(),
        _ => false,
    };
    if !value_fits {
        return Err(CURSOR_ERROR);
    }
    let value = match data.p {
        // Positions come from stored tasks; a forged one beyond any store's range (PostgreSQL
        // refuses years before 4713 BC) must not reach the store.
        SortValue::Timestamp(t) if !RFC3339_SECONDS.contains(&t.timestamp()) => {
            return Err(CURSOR_ERROR);
        }
        SortValue::Timestamp(t) => SortValue::Timestamp(to_millis(t)),
        other => other,
    };
    Ok(Position { value, id: data.i })
}

/// Parses a page size.
pub(crate) fn parse_limit(errors: &mut ValidationErrors, raw: Option<i64>) -> u32 {
    match raw {
        None => DEFAULT_LIMIT,
        Some(n) if (i64::from(MIN_LIMIT)..=i64::from(MAX_LIMIT)).contains(&n) => n as u32,
        Some(_) => {
            errors.add("limit", format!("must be {MIN_LIMIT}-{MAX_LIMIT}"));
            DEFAULT_LIMIT
        }
    }
}

/// Parses a 1-based page number.
pub(crate) fn parse_page(errors: &mut ValidationErrors, raw: Option<i64>) -> u32 {
    match raw {
        None => 1,
        Some(n) if (1..=i64::from(MAX_PAGE)).contains(&n) => n as u32,
        Some(_) => {
            errors.add("page", format!("must be 1-{MAX_PAGE}"));
            1
        }
    }
}

impl TaskQuery {
    /// Validates every field and builds the store request for `scope` (what
    /// [`TaskFlow::list_tasks`](crate::TaskFlow::list_tasks) does after deciding the scope
    /// from the caller's permissions). `now` anchors the `overdue` filter.
    ///
    /// A `q` without a letter or digit is valid and yields a request whose filter
    /// [matches nothing](TaskFilter::matches_nothing); callers answer it with an empty page
    /// rather than asking a store.
    pub fn into_request(self, scope: Scope, now: DateTime<Utc>) -> Result<ListRequest> {
        let mut errors = ValidationErrors::new();
        let statuses = parse_list::<Status>(&mut errors, "status", &self.status);
        let priorities = parse_list::<Priority>(&mut errors, "priority", &self.priority);
        let tag = self.tag.map(|t| t.to_lowercase());
        if tag.as_deref().is_some_and(|t| !is_valid_tag(t)) {
            errors.add("tag", "must match [a-z0-9_-]{1,32}");
        }
        let mut matches_nothing = false;
        let words = match self.q.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
                errors.add("q", format!("must be at most {MAX_QUERY_CHARS} characters"));
                Vec::new()
            }
            Some(q) => {
                let mut words: Vec<String> = Vec::new();
                for w in search_words(q) {
                    if !words.contains(&w) {
                        words.push(w);
                    }
                }
                if words.is_empty() {
                    // Punctuation only: a search for something no task's words can hold.
                    matches_nothing = true;
                } else if words.len() > MAX_QUERY_WORDS {
                    errors.add("q", format!("must have at most {MAX_QUERY_WORDS} words"));
                }
                words
            }
        };
        let sort = match self.sort.as_deref() {
            None => TaskSort::default(),
            Some(s) => TaskSort::parse(s).unwrap_or_else(|m| {
                errors.add("sort", m);
                TaskSort::default()
            }),
        };
        let limit = parse_limit(&mut errors, self.limit);
        if self.page.is_some() && self.cursor.is_some() {
            errors.add("cursor", "cannot be combined with page");
        }
        let page = parse_page(&mut errors, self.page);
        let filter = TaskFilter {
            scope,
            statuses,
            priorities,
            tag,
            words,
            due_before: self.due_before.map(to_millis),
            due_after: self.due_after.map(to_millis),
            overdue: self.overdue.map(|overdue| OverdueFilter {
                overdue,
                as_of: crate::clock::to_seconds(now),
            }),
            matches_nothing,
        };
        let pagination = match self.cursor.as_deref() {
            Some(raw) if errors.is_empty() => match decode_cursor(raw, sort, &filter) {
                Ok(position) => Pagination::Keyset {
                    after: Some(position),
                },
                Err(m) => {
                    errors.add("cursor", m);
                    Pagination::Keyset { after: None }
                }
            },
            Some(_) => Pagination::Keyset { after: None },
            None => Pagination::Page { number: page },
        };
        errors.into_result()?;
        Ok(ListRequest {
            filter,
            sort,
            limit,
            pagination,
        })
    }
}

fn parse_list<T>(errors: &mut ValidationErrors, field: &str, raw: &[String]) -> Vec<T>
where
    T: std::str::FromStr<Err = String> + PartialEq,
{
    let mut out = Vec::new();
    for item in raw {
        match item.trim().parse::<T>() {
            Ok(v) if !out.contains(&v) => out.push(v),
            Ok(_) => {}
            Err(m) => errors.add(field, format!("{item:?} {m}")),
        }
    }
    out
}

impl ListRequest {
    /// Builds the page frontends show from a store slice.
    pub(crate) fn page_of(&self, slice: TaskSlice) -> Page<Task> {
        let next_cursor = if slice.has_more {
            slice
                .items
                .last()
                .map(|last| encode_cursor(self.sort, &self.filter, &Position::of(self.sort, last)))
        } else {
            None
        };
        let page = match self.pagination {
            Pagination::Page { number } => Some(number),
            Pagination::Keyset { .. } => None,
        };
        Page {
            items: slice.items,
            limit: self.limit,
            page,
            total: slice.total,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn cursor_at(t: DateTime<Utc>) -> String {
        let position = Position {
            value: SortValue::Timestamp(t),
            id: TaskId::new(),
        };
        encode_cursor(TaskSort::default(), &filter(), &position)
    }

    fn filter() -> TaskFilter {
        TaskFilter::scope(Scope::All)
    }

    // Found by fuzzing (fuzz/fuzz_targets/cursor.rs): a cursor carrying a year no store can
    // hold was passed on, and PostgreSQL answered "timestamp out of range" (a 500).
    #[test]
    fn cursors_outside_rfc3339_years_are_rejected() {
        let sort = TaskSort::default();
        for t in [
            DateTime::<Utc>::MIN_UTC,
            Utc.with_ymd_and_hms(-200_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 12, 30, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 2, 0, 0, 0).unwrap(),
            DateTime::<Utc>::MAX_UTC,
        ] {
            assert_eq!(
                decode_cursor(&cursor_at(t), sort, &filter()),
                Err(CURSOR_ERROR),
                "{t}"
            );
        }
    }

    #[test]
    fn cursors_at_the_ends_of_rfc3339_years_are_accepted() {
        let sort = TaskSort::default();
        for text in [
            "0000-01-01T00:00:00+23:59",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "9999-12-31T23:59:59.999-23:59",
        ] {
            let t = DateTime::parse_from_rfc3339(text).unwrap().to_utc();
            let position = decode_cursor(&cursor_at(t), sort, &filter()).expect(text);
            assert_eq!(position.value, SortValue::Timestamp(t), "{text}");
        }
    }
}
