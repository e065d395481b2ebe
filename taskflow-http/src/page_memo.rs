//! Serialized task pages, reused while a page is unchanged.
//!
//! A warm listing comes from core's cache, but turning its 20 tasks into JSON (ids and
//! timestamps formatted, strings escaped, ~7 KB written) was the largest cost left per
//! request. A page's bytes are a pure function of what identifies it: each task's id and
//! version (every change to a task bumps its version) and the page info. The memo keeps,
//! per caller and query string, the last body with that identity, and serves it only when
//! the page core returned has the same identity: a stale body can never be served, nothing
//! needs invalidating, and a page that changes replaces its slot instead of piling up.

use std::sync::Arc;

use bytes::Bytes;
use moka::sync::Cache;
use taskflow_core::{Page, Task, TaskId, UserId};

use crate::dto::TaskPage;

/// What a page's JSON is a function of.
#[derive(Debug, Hash, PartialEq, Eq)]
struct PageKey {
    items: Box<[(TaskId, u64)]>,
    limit: u32,
    page: Option<u32>,
    total: Option<u64>,
    next_cursor: Option<Box<str>>,
}

impl PageKey {
    fn of(page: &Page<Task>) -> Self {
        Self {
            items: page.items.iter().map(|t| (t.id, t.version)).collect(),
            limit: page.limit,
            page: page.page,
            total: page.total,
            next_cursor: page.next_cursor.as_deref().map(Box::from),
        }
    }

    /// Approximate heap bytes of the key, for the memo's byte budget.
    fn weight(&self) -> usize {
        self.items.len() * size_of::<(TaskId, u64)>()
            + self.next_cursor.as_ref().map_or(0, |c| c.len())
            + size_of::<Self>()
    }
}

/// Which listing a slot holds: the caller and the raw query string.
type Slot = (UserId, Box<str>);

/// A page's identity and its serialized body.
struct Memo {
    key: PageKey,
    body: Bytes,
}

/// A bounded map from listing to its last serialized page (cheap to clone: shared).
#[derive(Clone)]
pub(crate) struct PageMemo {
    bodies: Cache<Slot, Arc<Memo>>,
}

impl PageMemo {
    /// A memo holding at most `max_bytes` of keys and bodies.
    pub(crate) fn new(max_bytes: u64) -> Self {
        Self {
            bodies: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|slot: &Slot, memo: &Arc<Memo>| {
                    let bytes = slot.1.len() + memo.key.weight() + memo.body.len();
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// The JSON body of `page`, the answer to `caller`'s listing `query`: serialized at
    /// most once while the page stays unchanged.
    pub(crate) fn body(
        &self,
        caller: UserId,
        query: &str,
        page: Page<Task>,
    ) -> serde_json::Result<Bytes> {
        let key = PageKey::of(&page);
        let slot: Slot = (caller, query.into());
        if let Some(memo) = self.bodies.get(&slot)
            && memo.key == key
        {
            return Ok(memo.body.clone());
        }
        let body = Bytes::from(crate::response::to_json(&TaskPage::from(page))?);
        self.bodies.insert(
            slot,
            Arc::new(Memo {
                key,
                body: body.clone(),
            }),
        );
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taskflow_core::{Priority, Status, UserId};

    fn page_of(tasks: Vec<Task>) -> Page<Task> {
        Page {
            items: tasks,
            limit: 20,
            page: None,
            total: None,
            next_cursor: Some("c1".into()),
        }
    }

    fn task(title: &str) -> Task {
        let now = chrono::DateTime::UNIX_EPOCH;
        Task {
            id: TaskId::new(),
            owner_id: UserId::new(),
            title: title.into(),
            description: Some("with \"quotes\" and ünïcode".into()),
            status: Status::Todo,
            priority: Priority::Medium,
            due_date: None,
            tags: vec!["x".into()],
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
        }
    }

    #[test]
    fn a_changed_task_or_page_info_gives_a_fresh_body() {
        let memo = PageMemo::new(1 << 20);
        let caller = UserId::new();
        let mut t = task("first");
        let first = memo.body(caller, "", page_of(vec![t.clone()])).unwrap();
        assert_eq!(
            first,
            memo.body(caller, "", page_of(vec![t.clone()])).unwrap()
        );

        t.title = "second".into();
        t.version += 1;
        let changed = memo.body(caller, "", page_of(vec![t.clone()])).unwrap();
        assert!(String::from_utf8_lossy(&changed).contains("second"));

        let mut other_cursor = page_of(vec![t.clone()]);
        other_cursor.next_cursor = Some("c2".into());
        let body = memo.body(caller, "", other_cursor).unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"c2\""));

        // Another caller or query has its own slot; the first slot is unchanged.
        let other = memo
            .body(UserId::new(), "", page_of(vec![t.clone()]))
            .unwrap();
        assert!(String::from_utf8_lossy(&other).contains("\"c1\""));
        let again = memo.body(caller, "limit=1", page_of(vec![t])).unwrap();
        assert!(String::from_utf8_lossy(&again).contains("\"c1\""));
    }

    #[test]
    fn bodies_are_the_serde_serialization_of_the_page() {
        let memo = PageMemo::new(1 << 20);
        let page = page_of(vec![task("a"), task("b")]);
        let direct = serde_json::to_vec(&TaskPage::from(page.clone())).unwrap();
        let caller = UserId::new();
        assert_eq!(memo.body(caller, "q=a", page.clone()).unwrap(), direct);
        assert_eq!(
            memo.body(caller, "q=a", page).unwrap(),
            direct,
            "from the memo"
        );
    }
}
