//! Scenarios: filters, search, sorting, pagination, stats.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Account, Harness, expect_code, expect_invalid_fields};
use crate::{
    NewTask, Principal, Priority, Status, Store, Task, TaskId, TaskPatch, TaskQuery, TaskSort,
    TaskStats,
};

fn q() -> TaskQuery {
    TaskQuery::default()
}

async fn ids(h: &Harness, p: &Principal, query: TaskQuery) -> Vec<TaskId> {
    let page = h.tf.list_tasks(p, query).await.unwrap();
    page.items.into_iter().map(|t| t.id).collect()
}

fn sorted_ids(mut tasks: Vec<&Task>) -> Vec<TaskId> {
    tasks.sort_by_key(|t| t.id);
    tasks.into_iter().map(|t| t.id).collect()
}

async fn set_ids(h: &Harness, p: &Principal, query: TaskQuery) -> Vec<TaskId> {
    let mut got = ids(
        h,
        p,
        TaskQuery {
            limit: Some(100),
            ..query
        },
    )
    .await;
    got.sort();
    got
}

/// A mixed set of tasks for filter tests: statuses, priorities, tags, due dates.
async fn seed(h: &Harness, a: &Account) -> Vec<Task> {
    let now = h.now();
    let specs: [(Status, Priority, &[&str], Option<i64>); 10] = [
        (Status::Todo, Priority::Low, &["home"], Some(-2)),
        (
            Status::Todo,
            Priority::High,
            &["work", "urgent-ish"],
            Some(-1),
        ),
        (Status::InProgress, Priority::Urgent, &["work"], Some(1)),
        (Status::InProgress, Priority::Medium, &[], None),
        (Status::Done, Priority::High, &["work"], Some(-3)),
        (Status::Done, Priority::Low, &["home"], None),
        (Status::Cancelled, Priority::Urgent, &["work"], Some(-5)),
        (Status::Todo, Priority::Medium, &["home", "work"], Some(10)),
        (Status::Cancelled, Priority::Medium, &[], Some(2)),
        (Status::Todo, Priority::Urgent, &["hobby"], None),
    ];
    let mut out = Vec::new();
    for (i, (status, priority, tags, due_days)) in specs.into_iter().enumerate() {
        let mut input = NewTask::new(format!("task {i}"))
            .status(status)
            .priority(priority)
            .tags(tags.iter().copied());
        if let Some(d) = due_days {
            input = input.due_date(now + TimeDelta::days(d));
        }
        out.push(h.task(&a.principal, input).await);
        h.advance(TimeDelta::milliseconds(7));
    }
    out
}

/// Status and priority lists match any of their values; `tag` requires the tag; all
/// criteria combine with AND.
pub async fn list_filters_by_status_priority_and_tag(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("filters").await;
    let tasks = seed(&h, &a).await;
    let p = &a.principal;
    let expect = |f: &dyn Fn(&Task) -> bool| sorted_ids(tasks.iter().filter(|t| f(t)).collect());

    let got = set_ids(
        &h,
        p,
        TaskQuery {
            status: vec!["todo".into(), "in_progress".into()],
            ..q()
        },
    )
    .await;
    assert_eq!(
        got,
        expect(&|t| matches!(t.status, Status::Todo | Status::InProgress))
    );
    let got = set_ids(
        &h,
        p,
        TaskQuery {
            priority: vec!["high".into(), "urgent".into()],
            ..q()
        },
    )
    .await;
    assert_eq!(
        got,
        expect(&|t| matches!(t.priority, Priority::High | Priority::Urgent))
    );
    let got = set_ids(
        &h,
        p,
        TaskQuery {
            tag: Some("WORK".into()),
            ..q()
        },
    )
    .await;
    assert_eq!(got, expect(&|t| t.tags.contains(&"work".to_owned())));
    let got = set_ids(
        &h,
        p,
        TaskQuery {
            status: vec!["todo".into()],
            priority: vec!["high".into(), "medium".into()],
            tag: Some("work".into()),
            ..q()
        },
    )
    .await;
    assert_eq!(
        got,
        expect(&|t| t.status == Status::Todo
            && matches!(t.priority, Priority::High | Priority::Medium)
            && t.tags.contains(&"work".to_owned()))
    );
    assert!(
        set_ids(
            &h,
            p,
            TaskQuery {
                tag: Some("nothing".into()),
                ..q()
            }
        )
        .await
        .is_empty()
    );
    expect_invalid_fields(
        h.tf.list_tasks(
            p,
            TaskQuery {
                status: vec!["todo".into(), "later".into()],
                priority: vec!["max".into()],
                ..q()
            },
        )
        .await,
        &["priority", "status"],
    );
}

/// `due_before`/`due_after` are strict and exclude tasks without a due date; `overdue`
/// means due in the past and neither done nor cancelled (and `false` its complement).
pub async fn list_filters_by_due_dates_and_overdue(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("dates").await;
    let tasks = seed(&h, &a).await;
    let p = &a.principal;
    let now = h.now();
    let expect = |f: &dyn Fn(&Task) -> bool| sorted_ids(tasks.iter().filter(|t| f(t)).collect());
    let before = |t: &Task, b: DateTime<Utc>| t.due_date.is_some_and(|d| d < b);
    let after = |t: &Task, x: DateTime<Utc>| t.due_date.is_some_and(|d| d > x);

    let got = set_ids(
        &h,
        p,
        TaskQuery {
            due_before: Some(now),
            ..q()
        },
    )
    .await;
    assert_eq!(got, expect(&|t| before(t, now)));
    let got = set_ids(
        &h,
        p,
        TaskQuery {
            due_after: Some(now),
            ..q()
        },
    )
    .await;
    assert_eq!(got, expect(&|t| after(t, now)));
    // Strictness: a bound equal to a due date excludes that task.
    let exact = tasks[2].due_date.unwrap();
    let got = set_ids(
        &h,
        p,
        TaskQuery {
            due_before: Some(exact),
            due_after: Some(now),
            ..q()
        },
    )
    .await;
    assert_eq!(got, expect(&|t| before(t, exact) && after(t, now)));
    assert!(!got.contains(&tasks[2].id));

    let overdue = |t: &Task| t.status.is_open() && before(t, now);
    let got = set_ids(
        &h,
        p,
        TaskQuery {
            overdue: Some(true),
            ..q()
        },
    )
    .await;
    assert_eq!(got, expect(&overdue));
    assert_eq!(got.len(), 2);
    let got = set_ids(
        &h,
        p,
        TaskQuery {
            overdue: Some(false),
            ..q()
        },
    )
    .await;
    assert_eq!(got, expect(&|t| !overdue(t)));
    // Time moves on: the in-progress task due tomorrow becomes overdue.
    h.advance(TimeDelta::days(1) + TimeDelta::seconds(1));
    let got = set_ids(
        &h,
        p,
        TaskQuery {
            overdue: Some(true),
            ..q()
        },
    )
    .await;
    assert_eq!(got.len(), 3);
}

/// Every word of `q` must prefix a word of the title or description, case-insensitively;
/// words are runs of letters and digits.
pub async fn search_matches_word_prefixes_case_insensitively(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("searcher").await;
    let p = &a.principal;
    let report = h
        .task(
            p,
            NewTask::new("Quarterly Report draft").description("Budget for the ÉTÉ review, v2.5"),
        )
        .await;
    let budget = h.task(p, NewTask::new("Budget meeting")).await;
    let _noise = h
        .task(
            p,
            NewTask::new("Unrelated").description("reporter's notebook"),
        )
        .await;
    let search = |text: &str| TaskQuery {
        q: Some(text.into()),
        ..q()
    };
    let mut both = vec![report.id, budget.id];
    both.sort();

    assert_eq!(set_ids(&h, p, search("quarterly")).await, vec![report.id]);
    assert_eq!(set_ids(&h, p, search("QUAR rep")).await, vec![report.id]);
    assert_eq!(
        set_ids(&h, p, search("budget")).await,
        both,
        "title and description"
    );
    assert_eq!(
        set_ids(&h, p, search("report budget")).await,
        vec![report.id],
        "across fields"
    );
    assert_eq!(set_ids(&h, p, search("été")).await, vec![report.id]);
    assert_eq!(set_ids(&h, p, search("ÉT")).await, vec![report.id]);
    assert_eq!(set_ids(&h, p, search("v2")).await, vec![report.id]);
    assert_eq!(
        set_ids(&h, p, search("5")).await,
        vec![report.id],
        "digits are words"
    );
    assert!(
        set_ids(&h, p, search("port")).await.is_empty(),
        "no mid-word matches"
    );
    assert!(
        set_ids(&h, p, search("report missing")).await.is_empty(),
        "every word must match"
    );
    assert_eq!(
        set_ids(&h, p, search("  ")).await.len(),
        3,
        "blank means no search"
    );
    let mut rep = vec![report.id, _noise.id];
    rep.sort();
    assert_eq!(set_ids(&h, p, search("rep")).await, rep);
    assert_eq!(set_ids(&h, p, search("reporter")).await, vec![_noise.id]);
    // Text without a word (typed into a search box) matches nothing: an empty page, not a
    // validation error, decided by core on every store.
    let stats = h.tf.task_stats(p, None).await.unwrap();
    for wordless in ["%%", "%'_\"", " _ "] {
        let page = h.tf.list_tasks(p, search(wordless)).await.unwrap();
        assert!(page.items.is_empty(), "{wordless:?} matches nothing");
        assert_eq!(
            (page.page, page.total, page.next_cursor),
            (Some(1), Some(0), None),
            "{wordless:?}: an empty first page"
        );
    }
    assert_eq!(h.tf.task_stats(p, None).await.unwrap(), stats);
    let wordless_bad_limit = TaskQuery {
        limit: Some(0),
        ..search("%")
    };
    expect_invalid_fields(h.tf.list_tasks(p, wordless_bad_limit).await, &["limit"]);
    expect_invalid_fields(h.tf.list_tasks(p, search(&"x".repeat(201))).await, &["q"]);
    // Search combines with filters and follows edits.
    h.tf.update_task(p, budget.id, TaskPatch::default().title("Planning"), None)
        .await
        .unwrap();
    assert_eq!(set_ids(&h, p, search("budget")).await, vec![report.id]);
    let filtered = TaskQuery {
        status: vec!["done".into()],
        ..search("budget")
    };
    assert!(set_ids(&h, p, filtered).await.is_empty());
}

/// Each sort key in each direction: the reference order (nulls last, then key, then id in
/// the same direction), through both pagination modes.
pub async fn list_sorts_by_each_key_with_id_tie_break(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("sorter").await;
    let p = &a.principal;
    let now = h.now();
    let mut tasks = Vec::new();
    for i in 0..24i64 {
        let priority = Priority::ALL[(i % 4) as usize];
        let mut input = NewTask::new(format!("t{i}")).priority(priority);
        if i % 3 != 0 {
            // Repeating due dates, so ties are common.
            input = input.due_date(now + TimeDelta::hours(i % 5));
        }
        tasks.push(h.task(p, input).await);
        if i % 2 == 0 {
            // Pairs share created_at, so ties are common there too.
            h.advance(TimeDelta::milliseconds(1));
        }
    }
    // Some updates so updated_at differs from created_at order.
    for t in tasks.iter_mut().step_by(5) {
        h.advance(TimeDelta::milliseconds(3));
        *t =
            h.tf.update_task(p, t.id, TaskPatch::default().title("touched"), None)
                .await
                .unwrap();
    }
    for key in ["created_at", "updated_at", "due_date", "priority"] {
        for sort in [key.to_owned(), format!("-{key}")] {
            let parsed = TaskSort::parse(&sort).unwrap();
            let mut expected = tasks.clone();
            expected.sort_by(|x, y| parsed.compare(x, y));
            let expected: Vec<TaskId> = expected.iter().map(|t| t.id).collect();
            let got = ids(
                &h,
                p,
                TaskQuery {
                    sort: Some(sort.clone()),
                    limit: Some(100),
                    ..q()
                },
            )
            .await;
            assert_eq!(got, expected, "page mode, sort {sort}");
            let mut walked = Vec::new();
            let mut cursor = None;
            loop {
                let page =
                    h.tf.list_tasks(
                        p,
                        TaskQuery {
                            sort: Some(sort.clone()),
                            limit: Some(5),
                            cursor: cursor.clone(),
                            ..q()
                        },
                    )
                    .await
                    .unwrap();
                walked.extend(page.items.iter().map(|t| t.id));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            assert_eq!(walked, expected, "cursor mode, sort {sort}");
        }
    }
    // Spot checks of the reference order itself.
    let by_due = ids(
        &h,
        p,
        TaskQuery {
            sort: Some("-due_date".into()),
            limit: Some(100),
            ..q()
        },
    )
    .await;
    let last = tasks
        .iter()
        .find(|t| t.id == by_due[by_due.len() - 1])
        .unwrap();
    assert!(last.due_date.is_none(), "nulls last when descending");
    let by_due = ids(
        &h,
        p,
        TaskQuery {
            sort: Some("due_date".into()),
            limit: Some(100),
            ..q()
        },
    )
    .await;
    let last = tasks
        .iter()
        .find(|t| t.id == by_due[by_due.len() - 1])
        .unwrap();
    assert!(last.due_date.is_none(), "nulls last when ascending");
    let by_priority = ids(
        &h,
        p,
        TaskQuery {
            sort: Some("-priority".into()),
            limit: Some(100),
            ..q()
        },
    )
    .await;
    let first = tasks.iter().find(|t| t.id == by_priority[0]).unwrap();
    assert_eq!(
        first.priority,
        Priority::Urgent,
        "priority by rank, not by name"
    );
    let default = ids(
        &h,
        p,
        TaskQuery {
            limit: Some(100),
            ..q()
        },
    )
    .await;
    let newest = ids(
        &h,
        p,
        TaskQuery {
            sort: Some("-created_at".into()),
            limit: Some(100),
            ..q()
        },
    )
    .await;
    assert_eq!(default, newest, "default sort is -created_at");
    expect_invalid_fields(
        h.tf.list_tasks(
            p,
            TaskQuery {
                sort: Some("title".into()),
                ..q()
            },
        )
        .await,
        &["sort"],
    );
    expect_invalid_fields(
        h.tf.list_tasks(
            p,
            TaskQuery {
                sort: Some("--due_date".into()),
                ..q()
            },
        )
        .await,
        &["sort"],
    );
}

/// Page mode: `page` and `total` present, pages partition the result, a page past the end
/// is empty, `next_cursor` only while more follow.
pub async fn page_mode_reports_totals_and_pages(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("pager").await;
    let p = &a.principal;
    for i in 0..45 {
        h.task(p, NewTask::new(format!("t{i}"))).await;
    }
    let mut seen = Vec::new();
    for (page, size, more) in [(1, 20, true), (2, 20, true), (3, 5, false)] {
        let got =
            h.tf.list_tasks(
                p,
                TaskQuery {
                    page: Some(page),
                    ..q()
                },
            )
            .await
            .unwrap();
        assert_eq!(got.items.len(), size);
        assert_eq!(got.page, Some(page as u32));
        assert_eq!(got.total, Some(45));
        assert_eq!(got.limit, 20);
        assert_eq!(got.next_cursor.is_some(), more, "page {page}");
        seen.extend(got.items.into_iter().map(|t| t.id));
    }
    assert_eq!(seen.len(), 45);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 45);
    let past =
        h.tf.list_tasks(
            p,
            TaskQuery {
                page: Some(4),
                ..q()
            },
        )
        .await
        .unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total, Some(45));
    assert_eq!(past.next_cursor, None);
    let filtered =
        h.tf.list_tasks(
            p,
            TaskQuery {
                q: Some("t44".into()),
                limit: Some(3),
                ..q()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        filtered.total,
        Some(1),
        "total counts matches, not all tasks"
    );
    // A page's cursor continues where page mode stopped.
    let first =
        h.tf.list_tasks(
            p,
            TaskQuery {
                limit: Some(10),
                ..q()
            },
        )
        .await
        .unwrap();
    let next =
        h.tf.list_tasks(
            p,
            TaskQuery {
                limit: Some(10),
                cursor: first.next_cursor.clone(),
                ..q()
            },
        )
        .await
        .unwrap();
    assert_eq!(next.page, None, "cursor mode has no page number");
    assert_eq!(next.total, None, "cursor mode has no total");
    let second =
        h.tf.list_tasks(
            p,
            TaskQuery {
                limit: Some(10),
                page: Some(2),
                ..q()
            },
        )
        .await
        .unwrap();
    assert_eq!(next.items, second.items);
}

/// Walking cursor pages while tasks are created and deleted between requests neither skips
/// nor repeats any task that exists throughout, for every sort.
pub async fn keyset_pages_neither_skip_nor_repeat_under_inserts_and_deletes(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("walker").await;
    let p = &a.principal;
    let now = h.now();
    for sort in [
        "-created_at",
        "created_at",
        "due_date",
        "-due_date",
        "priority",
        "-priority",
        "updated_at",
    ] {
        let mut survivors: Vec<TaskId> = Vec::new();
        let mut doomed: Vec<TaskId> = Vec::new();
        for i in 0..30i64 {
            let mut input =
                NewTask::new(format!("{sort} {i}")).priority(Priority::ALL[(i % 4) as usize]);
            if i % 4 != 0 {
                input = input.due_date(now + TimeDelta::minutes(i % 7));
            }
            let t = h.task(p, input).await;
            if i % 6 == 5 {
                doomed.push(t.id)
            } else {
                survivors.push(t.id)
            }
            if i % 3 == 0 {
                h.advance(TimeDelta::milliseconds(1));
            }
        }
        let mut seen: Vec<TaskId> = Vec::new();
        let mut cursor = None;
        let mut round = 0i64;
        loop {
            let page =
                h.tf.list_tasks(
                    p,
                    TaskQuery {
                        sort: Some(sort.into()),
                        limit: Some(7),
                        cursor: cursor.clone(),
                        ..q()
                    },
                )
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|t| t.id));
            let Some(next) = page.next_cursor else { break };
            cursor = Some(next);
            // Between pages: delete a task (possibly not yet seen) and insert new ones.
            if let Some(id) = doomed.pop() {
                h.tf.delete_task(p, id, None).await.unwrap();
            }
            for j in 0..2 {
                let mut input = NewTask::new(format!("late {round} {j}"))
                    .priority(Priority::ALL[(j % 4) as usize]);
                if j == 0 {
                    input = input.due_date(now + TimeDelta::minutes(round % 7));
                }
                h.task(p, input).await;
            }
            h.advance(TimeDelta::milliseconds(1));
            round += 1;
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "sort {sort}: a task was repeated");
        for id in &survivors {
            assert!(unique.contains(id), "sort {sort}: a task was skipped");
        }
        // Clean up for the next sort.
        let all =
            h.tf.list_tasks(
                p,
                TaskQuery {
                    limit: Some(100),
                    ..q()
                },
            )
            .await
            .unwrap();
        let mut ids: Vec<TaskId> = all.items.iter().map(|t| t.id).collect();
        let mut page = 2;
        while ids.len() < all.total.unwrap() as usize {
            let more =
                h.tf.list_tasks(
                    p,
                    TaskQuery {
                        limit: Some(100),
                        page: Some(page),
                        ..q()
                    },
                )
                .await
                .unwrap();
            ids.extend(more.items.iter().map(|t| t.id));
            page += 1;
        }
        for id in ids {
            h.tf.delete_task(p, id, None).await.unwrap();
        }
    }
}

/// A cursor only works with the sort and filters it was issued for; garbage cursors and
/// combining `page` with `cursor` are rejected.
pub async fn cursors_are_bound_to_their_listing(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("cursors").await;
    let p = &a.principal;
    for i in 0..5 {
        h.task(p, NewTask::new(format!("t{i}")).tags(["x"])).await;
    }
    let first =
        h.tf.list_tasks(
            p,
            TaskQuery {
                limit: Some(2),
                tag: Some("x".into()),
                ..q()
            },
        )
        .await
        .unwrap();
    let cursor = first.next_cursor.clone().unwrap();
    let with = |query: TaskQuery| TaskQuery {
        cursor: Some(cursor.clone()),
        limit: Some(2),
        ..query
    };
    h.tf.list_tasks(
        p,
        with(TaskQuery {
            tag: Some("x".into()),
            ..q()
        }),
    )
    .await
    .unwrap();
    expect_invalid_fields(h.tf.list_tasks(p, with(q())).await, &["cursor"]);
    expect_invalid_fields(
        h.tf.list_tasks(
            p,
            with(TaskQuery {
                tag: Some("x".into()),
                sort: Some("created_at".into()),
                ..q()
            }),
        )
        .await,
        &["cursor"],
    );
    expect_invalid_fields(
        h.tf.list_tasks(
            p,
            with(TaskQuery {
                tag: Some("x".into()),
                page: Some(1),
                ..q()
            }),
        )
        .await,
        &["cursor"],
    );
    for garbage in [
        "",
        "abc",
        "!!!",
        &"A".repeat(600),
        "eyJzIjoiLWNyZWF0ZWRfYXQifQ",
    ] {
        expect_invalid_fields(
            h.tf.list_tasks(
                p,
                TaskQuery {
                    cursor: Some(garbage.into()),
                    ..q()
                },
            )
            .await,
            &["cursor"],
        );
    }
    // A cursor from another user's listing reveals nothing of theirs.
    let b = h.account("other").await;
    let theirs =
        h.tf.list_tasks(
            &b.principal,
            with(TaskQuery {
                tag: Some("x".into()),
                ..q()
            }),
        )
        .await
        .unwrap();
    assert!(theirs.items.is_empty());
}

/// `limit` 1-100 and `page` ≥ 1.
pub async fn list_limits_hold_at_their_boundaries(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("bounds").await;
    let p = &a.principal;
    for i in 0..101 {
        h.task(p, NewTask::new(format!("t{i}"))).await;
    }
    assert_eq!(
        h.tf.list_tasks(
            p,
            TaskQuery {
                limit: Some(1),
                ..q()
            }
        )
        .await
        .unwrap()
        .items
        .len(),
        1
    );
    assert_eq!(
        h.tf.list_tasks(
            p,
            TaskQuery {
                limit: Some(100),
                ..q()
            }
        )
        .await
        .unwrap()
        .items
        .len(),
        100
    );
    assert_eq!(h.tf.list_tasks(p, q()).await.unwrap().items.len(), 20);
    for bad in [0, 101, -1] {
        expect_invalid_fields(
            h.tf.list_tasks(
                p,
                TaskQuery {
                    limit: Some(bad),
                    ..q()
                },
            )
            .await,
            &["limit"],
        );
    }
    for bad in [0, -3] {
        expect_invalid_fields(
            h.tf.list_tasks(
                p,
                TaskQuery {
                    page: Some(bad),
                    ..q()
                },
            )
            .await,
            &["page"],
        );
    }
    let last =
        h.tf.list_tasks(
            p,
            TaskQuery {
                limit: Some(100),
                page: Some(2),
                ..q()
            },
        )
        .await
        .unwrap();
    assert_eq!(last.items.len(), 1);
    assert_eq!(last.next_cursor, None);
}

/// Users list only their own tasks and may not pass `owner_id`; admins list everyone's,
/// or one owner's.
pub async fn listing_is_scoped_by_owner(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("ann").await;
    let b = h.account("bob").await;
    let admin = h.admin("root").await;
    let ta = h.task(&a.principal, NewTask::new("ann's")).await;
    let tb = h.task(&b.principal, NewTask::new("bob's")).await;
    assert_eq!(ids(&h, &a.principal, q()).await, vec![ta.id]);
    assert_eq!(ids(&h, &b.principal, q()).await, vec![tb.id]);
    expect_code(
        h.tf.list_tasks(
            &a.principal,
            TaskQuery {
                owner_id: Some(b.user.id),
                ..q()
            },
        )
        .await,
        "forbidden",
    );
    expect_code(
        h.tf.list_tasks(
            &a.principal,
            TaskQuery {
                owner_id: Some(a.user.id),
                ..q()
            },
        )
        .await,
        "forbidden",
    );
    assert_eq!(ids(&h, &admin.principal, q()).await, vec![tb.id, ta.id]);
    assert_eq!(
        ids(
            &h,
            &admin.principal,
            TaskQuery {
                owner_id: Some(a.user.id),
                ..q()
            }
        )
        .await,
        vec![ta.id]
    );
    let search = TaskQuery {
        q: Some("bob".into()),
        ..q()
    };
    assert!(
        ids(&h, &a.principal, search).await.is_empty(),
        "search is scoped too"
    );
}

/// Stats equal counts over the data: per status, per priority, overdue, and completions in
/// the last 7 days.
pub async fn stats_equal_counts_over_the_data(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("counter").await;
    let p = &a.principal;
    let mut tasks = seed(&h, &a).await;
    // Completions at various ages.
    h.advance(TimeDelta::days(3));
    let old = tasks[0].clone();
    tasks[0] =
        h.tf.update_task(p, old.id, TaskPatch::default().status(Status::Done), None)
            .await
            .unwrap();
    h.advance(TimeDelta::days(5));
    let old = tasks[9].clone();
    tasks[9] =
        h.tf.update_task(p, old.id, TaskPatch::default().status(Status::Done), None)
            .await
            .unwrap();
    let check = |tasks: &[Task], now| {
        let mut expected = TaskStats::default();
        for t in tasks {
            expected.add(t, now);
        }
        expected
    };
    let stats = h.tf.task_stats(p, None).await.unwrap();
    let now = crate::clock::to_seconds(h.now());
    assert_eq!(stats, check(&tasks, now));
    assert_eq!(stats.total, 10);
    assert_eq!(stats.by_status.done, 4);
    // Seeded done tasks completed 8 days ago no longer count; the two new ones do...
    // ...until their 7 days pass.
    assert_eq!(stats.completed_last_7_days, 2);
    h.advance(TimeDelta::days(5));
    let stats = h.tf.task_stats(p, None).await.unwrap();
    assert_eq!(stats.completed_last_7_days, 1);
    assert_eq!(stats, check(&tasks, crate::clock::to_seconds(h.now())));
    // An empty account has all-zero stats.
    let empty = h.account("empty").await;
    assert_eq!(
        h.tf.task_stats(&empty.principal, None).await.unwrap(),
        TaskStats::default()
    );
}

/// Users get their own stats and may not pass `owner_id`; admins get everything or one
/// owner's.
pub async fn stats_are_scoped_by_owner(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("ann").await;
    let b = h.account("bob").await;
    let admin = h.admin("root").await;
    for i in 0..3 {
        h.task(&a.principal, NewTask::new(format!("a{i}"))).await;
    }
    h.task(&b.principal, NewTask::new("b").priority(Priority::Urgent))
        .await;
    assert_eq!(h.tf.task_stats(&a.principal, None).await.unwrap().total, 3);
    let sb = h.tf.task_stats(&b.principal, None).await.unwrap();
    assert_eq!((sb.total, sb.by_priority.urgent), (1, 1));
    expect_code(
        h.tf.task_stats(&a.principal, Some(b.user.id)).await,
        "forbidden",
    );
    assert_eq!(
        h.tf.task_stats(&admin.principal, None).await.unwrap().total,
        4
    );
    assert_eq!(
        h.tf.task_stats(&admin.principal, Some(a.user.id))
            .await
            .unwrap()
            .total,
        3
    );
    // Stats follow writes at once.
    let t = h.task(&a.principal, NewTask::new("new")).await;
    assert_eq!(h.tf.task_stats(&a.principal, None).await.unwrap().total, 4);
    assert_eq!(
        h.tf.task_stats(&admin.principal, None).await.unwrap().total,
        5
    );
    h.tf.delete_task(&a.principal, t.id, None).await.unwrap();
    assert_eq!(h.tf.task_stats(&a.principal, None).await.unwrap().total, 3);
    assert_eq!(
        h.tf.task_stats(&admin.principal, None).await.unwrap().total,
        4
    );
}
