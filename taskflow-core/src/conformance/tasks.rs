//! Scenarios: task creation, validation, updates, deletes, bulk changes, concurrency.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};

use super::{Harness, concurrently, expect_code, expect_invalid_fields};
use crate::{
    Error, NewTask, Priority, Scope, Status, Store, TaskId, TaskPatch, TaskQuery, to_millis,
};

/// Defaults (todo, medium, version 1), trimming, tag normalisation, timestamps; the
/// stored task equals the returned one.
pub async fn create_task_applies_defaults_and_normalises(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("creator").await;
    let t = h
        .task(
            &a.principal,
            NewTask::new("  Ship it  ").tags(["Release", "backend", "RELEASE", "v1_0-rc"]),
        )
        .await;
    assert_eq!(t.title, "Ship it");
    assert_eq!(t.owner_id, a.user.id);
    assert_eq!(t.status, Status::Todo);
    assert_eq!(t.priority, Priority::Medium);
    assert_eq!(t.tags, vec!["release", "backend", "v1_0-rc"]);
    assert_eq!(t.description, None);
    assert_eq!(t.due_date, None);
    assert_eq!(t.completed_at, None);
    assert_eq!(t.version, 1);
    assert_eq!(t.created_at, h.now());
    assert_eq!(t.updated_at, h.now());
    assert_eq!(h.tf.get_task(&a.principal, t.id).await.unwrap(), t);
    assert_eq!(
        h.store
            .get_task(Scope::Owner(a.user.id), t.id)
            .await
            .unwrap(),
        Some(t.clone())
    );

    let full = h
        .task(
            &a.principal,
            NewTask::new("Full")
                .description("Some text")
                .status(Status::InProgress)
                .priority(Priority::Urgent)
                .due_date(Utc.with_ymd_and_hms(2030, 2, 1, 12, 0, 0).unwrap()),
        )
        .await;
    assert_eq!(full.description.as_deref(), Some("Some text"));
    assert_eq!(full.status, Status::InProgress);
    assert_eq!(full.priority, Priority::Urgent);
    assert_eq!(h.tf.get_task(&a.principal, full.id).await.unwrap(), full);
    let empty_tags = h
        .task(&a.principal, NewTask::new("x").tags(Vec::<String>::new()))
        .await;
    assert!(empty_tags.tags.is_empty());
}

/// Every invalid field of a new task is reported at once, with indexed tag errors.
pub async fn create_task_reports_every_invalid_field(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("sloppy").await;
    let input = NewTask {
        title: "   ".into(),
        description: Some("d".repeat(10_001)),
        status: Some("finished".into()),
        priority: Some("asap".into()),
        due_date: None,
        tags: Some(vec!["ok".into(), "not ok".into(), "".into()]),
    };
    expect_invalid_fields(
        h.tf.create_task(&a.principal, input).await,
        &[
            "description",
            "priority",
            "status",
            "tags[1]",
            "tags[2]",
            "title",
        ],
    );
    let page =
        h.tf.list_tasks(&a.principal, TaskQuery::default())
            .await
            .unwrap();
    assert!(page.items.is_empty(), "nothing half-written");
}

/// Title 200/201, description 10,000/10,001 (characters, not bytes), 20/21 tags,
/// 32/33-character tags, NUL characters.
pub async fn task_field_limits_hold_at_their_boundaries(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("limits").await;
    let p = &a.principal;
    h.task(p, NewTask::new("é".repeat(200))).await;
    expect_invalid_fields(
        h.tf.create_task(p, NewTask::new("é".repeat(201))).await,
        &["title"],
    );
    h.task(p, NewTask::new("d").description("ü".repeat(10_000)))
        .await;
    expect_invalid_fields(
        h.tf.create_task(p, NewTask::new("d").description("ü".repeat(10_001)))
            .await,
        &["description"],
    );
    let tags = |n: usize| (0..n).map(|i| format!("t{i}")).collect::<Vec<_>>();
    assert_eq!(
        h.task(p, NewTask::new("tags").tags(tags(20)))
            .await
            .tags
            .len(),
        20
    );
    expect_invalid_fields(
        h.tf.create_task(p, NewTask::new("tags").tags(tags(21)))
            .await,
        &["tags"],
    );
    // 21 tags that de-duplicate to 20 are fine.
    let mut dup = tags(20);
    dup.push("T0".into());
    assert_eq!(
        h.task(p, NewTask::new("dup").tags(dup)).await.tags.len(),
        20
    );
    h.task(p, NewTask::new("long tag").tags(["a".repeat(32)]))
        .await;
    expect_invalid_fields(
        h.tf.create_task(p, NewTask::new("long tag").tags(["a".repeat(33)]))
            .await,
        &["tags[0]"],
    );
    expect_invalid_fields(
        h.tf.create_task(p, NewTask::new("nul\0byte")).await,
        &["title"],
    );
    expect_invalid_fields(
        h.tf.create_task(p, NewTask::new("x").description("nul\0"))
            .await,
        &["description"],
    );
    let t = h.task(p, NewTask::new("patch limits")).await;
    expect_invalid_fields(
        h.tf.update_task(
            p,
            t.id,
            TaskPatch::default().title("é".repeat(201)).tags(tags(21)),
            None,
        )
        .await,
        &["tags", "title"],
    );
    assert_eq!(h.tf.get_task(p, t.id).await.unwrap(), t);
}

/// Times are kept at millisecond precision and round-trip equal.
pub async fn timestamps_round_trip_at_millisecond_precision(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.clock
        .set(Utc.timestamp_opt(1_900_000_000, 123_456_789).unwrap());
    let a = h.account("precise").await;
    let due = Utc.timestamp_opt(1_950_000_000, 987_654_321).unwrap();
    let t = h
        .task(&a.principal, NewTask::new("precise").due_date(due))
        .await;
    assert_eq!(t.due_date, Some(to_millis(due)));
    assert_eq!(t.due_date.unwrap().timestamp_subsec_nanos(), 987_000_000);
    assert_eq!(t.created_at.timestamp_subsec_nanos(), 123_000_000);
    assert_eq!(h.tf.get_task(&a.principal, t.id).await.unwrap(), t);
    let listed =
        h.tf.list_tasks(&a.principal, TaskQuery::default())
            .await
            .unwrap();
    assert_eq!(listed.items, vec![t.clone()]);
    let early = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap();
    let late = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    for d in [early, late] {
        let t = h.task(&a.principal, NewTask::new("edge").due_date(d)).await;
        assert_eq!(
            h.tf.get_task(&a.principal, t.id).await.unwrap().due_date,
            Some(d)
        );
    }
}

/// Injection strings, wildcards and Unicode edge cases are stored and returned literally.
pub async fn hostile_and_unicode_text_is_stored_literally(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("hostile").await;
    let texts = [
        "'; DROP TABLE tasks; --",
        "{\"$gt\": \"\"}",
        "$where: sleep(1000)",
        "100% _done_ \\ back\\slash",
        "RTL \u{202e}override\u{202c} text",
        "e\u{301}\u{301} combining",
        "emoji 🎉👩‍💻 zwj",
        "line\nbreak\ttab",
        "\u{feff}bom and \u{200b}zero width",
    ];
    for text in texts {
        let t = h
            .task(&a.principal, NewTask::new(text).description(text))
            .await;
        let got = h.tf.get_task(&a.principal, t.id).await.unwrap();
        assert_eq!(got.title, text.trim());
        assert_eq!(got.description.as_deref(), Some(text));
    }
    for q in ["%", "_", "'", "$gt", "DROP TABLE", "🎉", "\u{202e}"] {
        let r =
            h.tf.list_tasks(
                &a.principal,
                TaskQuery {
                    q: Some(q.into()),
                    ..Default::default()
                },
            )
            .await;
        match r {
            Ok(_) => {}
            Err(e) => assert_eq!(e.code(), "validation_failed", "{q:?}: {e:?}"),
        }
    }
    let drop =
        h.tf.list_tasks(
            &a.principal,
            TaskQuery {
                q: Some("drop table".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(drop.items.len(), 1);
    let tag =
        h.tf.list_tasks(
            &a.principal,
            TaskQuery {
                tag: Some("%".into()),
                ..Default::default()
            },
        )
        .await;
    expect_invalid_fields(tag, &["tag"]);
    let all =
        h.tf.list_tasks(&a.principal, TaskQuery::default())
            .await
            .unwrap();
    assert_eq!(all.total, Some(texts.len() as u64));
}

/// Another user's task is `not_found` for every operation; an admin reaches it.
pub async fn tasks_of_other_users_are_not_found(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let owner = h.account("owner").await;
    let other = h.account("other").await;
    let admin = h.admin("admin").await;
    let t = h.task(&owner.principal, NewTask::new("private")).await;
    let p = &other.principal;
    expect_code(h.tf.get_task(p, t.id).await, "not_found");
    expect_code(
        h.tf.update_task(p, t.id, TaskPatch::default().title("pwned"), None)
            .await,
        "not_found",
    );
    expect_code(
        h.tf.update_task(p, t.id, TaskPatch::default().title("pwned"), Some(1))
            .await,
        "not_found",
    );
    expect_code(h.tf.delete_task(p, t.id, None).await, "not_found");
    expect_code(h.tf.bulk_set_status(p, &[t.id], "done").await, "not_found");
    assert!(
        h.tf.list_tasks(p, TaskQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(h.tf.task_stats(p, None).await.unwrap().total, 0);
    assert_eq!(h.tf.get_task(&owner.principal, t.id).await.unwrap(), t);
    // Unknown ids look the same as foreign ones.
    expect_code(h.tf.get_task(p, TaskId::new()).await, "not_found");

    assert_eq!(h.tf.get_task(&admin.principal, t.id).await.unwrap(), t);
    let edited =
        h.tf.update_task(
            &admin.principal,
            t.id,
            TaskPatch::default().title("moderated"),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(edited.owner_id, owner.user.id, "owner never changes");
    assert_eq!(h.tf.get_task(&owner.principal, t.id).await.unwrap(), edited);
    h.tf.delete_task(&admin.principal, t.id, Some(2))
        .await
        .unwrap();
    expect_code(h.tf.get_task(&owner.principal, t.id).await, "not_found");
}

/// Patches change only what they name; `None` inside clears; every change bumps the
/// version by one and `updated_at`; a no-op changes nothing.
pub async fn update_applies_patch_semantics(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("patcher").await;
    let p = &a.principal;
    let due = Utc.with_ymd_and_hms(2030, 3, 1, 0, 0, 0).unwrap();
    let t = h
        .task(
            p,
            NewTask::new("Original")
                .description("desc")
                .due_date(due)
                .tags(["a"]),
        )
        .await;
    h.advance(TimeDelta::seconds(30));
    let t2 =
        h.tf.update_task(p, t.id, TaskPatch::default().title("  Renamed "), None)
            .await
            .unwrap();
    assert_eq!(t2.title, "Renamed");
    assert_eq!(t2.description, t.description);
    assert_eq!(t2.due_date, t.due_date);
    assert_eq!(t2.tags, t.tags);
    assert_eq!(t2.version, 2);
    assert_eq!(t2.created_at, t.created_at);
    assert_eq!(t2.updated_at, h.now());
    h.advance(TimeDelta::seconds(30));
    let t3 =
        h.tf.update_task(
            p,
            t.id,
            TaskPatch::default().description(None).due_date(None),
            Some(2),
        )
        .await
        .unwrap();
    assert_eq!(t3.description, None);
    assert_eq!(t3.due_date, None);
    assert_eq!(t3.version, 3);
    let t4 =
        h.tf.update_task(
            p,
            t.id,
            TaskPatch::default()
                .priority(Priority::Low)
                .tags(["B", "c", "b"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(t4.priority, Priority::Low);
    assert_eq!(t4.tags, vec!["b", "c"]);
    assert_eq!(t4.version, 4);
    h.advance(TimeDelta::seconds(30));
    let same =
        h.tf.update_task(
            p,
            t.id,
            TaskPatch::default()
                .title("Renamed")
                .priority(Priority::Low),
            None,
        )
        .await
        .unwrap();
    assert_eq!(same, t4, "a no-op is not a change");
    let same =
        h.tf.update_task(p, t.id, TaskPatch::default(), Some(4))
            .await
            .unwrap();
    assert_eq!(same, t4);
    assert_eq!(h.tf.get_task(p, t.id).await.unwrap(), t4);
    expect_invalid_fields(
        h.tf.update_task(
            p,
            t.id,
            TaskPatch {
                status: Some("nope".into()),
                ..Default::default()
            },
            None,
        )
        .await,
        &["status"],
    );
}

/// Entering `done` sets `completed_at`; leaving it clears it; staying keeps it.
pub async fn status_changes_set_and_clear_completed_at(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("finisher").await;
    let p = &a.principal;
    let born_done = h
        .task(p, NewTask::new("already").status(Status::Done))
        .await;
    assert_eq!(born_done.completed_at, Some(h.now()));
    let t = h.task(p, NewTask::new("work")).await;
    h.advance(TimeDelta::minutes(1));
    let done =
        h.tf.update_task(p, t.id, TaskPatch::default().status(Status::Done), None)
            .await
            .unwrap();
    assert_eq!(done.completed_at, Some(h.now()));
    let completed = done.completed_at;
    h.advance(TimeDelta::minutes(1));
    let retitled =
        h.tf.update_task(p, t.id, TaskPatch::default().title("still done"), None)
            .await
            .unwrap();
    assert_eq!(retitled.completed_at, completed);
    let reopened =
        h.tf.update_task(
            p,
            t.id,
            TaskPatch::default().status(Status::InProgress),
            None,
        )
        .await
        .unwrap();
    assert_eq!(reopened.completed_at, None);
    let done =
        h.tf.update_task(p, t.id, TaskPatch::default().status(Status::Done), None)
            .await
            .unwrap();
    let cancelled =
        h.tf.update_task(
            p,
            t.id,
            TaskPatch::default().status(Status::Cancelled),
            None,
        )
        .await
        .unwrap();
    assert!(done.completed_at.is_some());
    assert_eq!(cancelled.completed_at, None);
    assert_eq!(h.tf.get_task(p, t.id).await.unwrap(), cancelled);
}

/// A stale expected version is `version_mismatch` (carrying the current version) for
/// updates and deletes, and changes nothing.
pub async fn stale_expected_versions_are_rejected(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("stale").await;
    let p = &a.principal;
    let t = h.task(p, NewTask::new("v1")).await;
    let t2 =
        h.tf.update_task(p, t.id, TaskPatch::default().title("v2"), Some(1))
            .await
            .unwrap();
    match expect_code(
        h.tf.update_task(p, t.id, TaskPatch::default().title("lost"), Some(1))
            .await,
        "version_mismatch",
    ) {
        Error::VersionMismatch { current } => assert_eq!(current, 2),
        other => panic!("unexpected {other:?}"),
    }
    expect_code(h.tf.delete_task(p, t.id, Some(1)).await, "version_mismatch");
    expect_code(h.tf.delete_task(p, t.id, Some(3)).await, "version_mismatch");
    assert_eq!(h.tf.get_task(p, t.id).await.unwrap(), t2);
    h.tf.delete_task(p, t.id, Some(2)).await.unwrap();
}

/// Concurrent updates expecting the same version: exactly one applies.
pub async fn concurrent_updates_with_one_expected_version_let_exactly_one_win(
    store: Arc<dyn Store>,
) {
    let h = Arc::new(Harness::new(store));
    let a = h.account("contended").await;
    let p = Arc::new(a.principal.clone());
    let t = h.task(&p, NewTask::new("v1")).await;
    let results = concurrently(8, |i| {
        let (h, p) = (Arc::clone(&h), Arc::clone(&p));
        async move {
            h.tf.update_task(
                &p,
                t.id,
                TaskPatch::default().title(format!("writer {i}")),
                Some(1),
            )
            .await
        }
    })
    .await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one writer wins");
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(r.as_ref().unwrap_err().code(), "version_mismatch");
    }
    let stored = h.tf.get_task(&p, t.id).await.unwrap();
    assert_eq!(&stored, winners[0]);
    assert_eq!(stored.version, 2);
}

/// Concurrent updates without an expected version are all applied, one version each.
pub async fn concurrent_updates_without_expected_version_all_apply(store: Arc<dyn Store>) {
    let h = Arc::new(Harness::new(store));
    let a = h.account("busy").await;
    let p = Arc::new(a.principal.clone());
    let t = h.task(&p, NewTask::new("v1")).await;
    let results = concurrently(8, |i| {
        let (h, p) = (Arc::clone(&h), Arc::clone(&p));
        async move {
            h.tf.update_task(
                &p,
                t.id,
                TaskPatch::default().title(format!("writer {i}")),
                None,
            )
            .await
        }
    })
    .await;
    let mut versions: Vec<u64> = results.into_iter().map(|r| r.unwrap().version).collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (2..=9).collect::<Vec<_>>(),
        "each write got its own version"
    );
    assert_eq!(h.tf.get_task(&p, t.id).await.unwrap().version, 9);
}

/// A deleted task is gone for every operation; deleting twice is `not_found`.
pub async fn delete_removes_the_task(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("deleter").await;
    let p = &a.principal;
    let keep = h.task(p, NewTask::new("keep")).await;
    let t = h.task(p, NewTask::new("doomed")).await;
    h.tf.delete_task(p, t.id, None).await.unwrap();
    expect_code(h.tf.get_task(p, t.id).await, "not_found");
    expect_code(h.tf.delete_task(p, t.id, None).await, "not_found");
    expect_code(
        h.tf.update_task(p, t.id, TaskPatch::default().title("zombie"), None)
            .await,
        "not_found",
    );
    let page = h.tf.list_tasks(p, TaskQuery::default()).await.unwrap();
    assert_eq!(page.items, vec![keep]);
    assert_eq!(h.tf.task_stats(p, None).await.unwrap().total, 1);
}

/// Bulk status: one invisible id fails the call and changes nothing; otherwise every
/// task changes (version + 1, `completed_at`), unchanged ones are not counted.
pub async fn bulk_status_is_all_or_nothing(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("bulker").await;
    let b = h.account("neighbour").await;
    let admin = h.admin("admin").await;
    let p = &a.principal;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(h.task(p, NewTask::new(format!("t{i}"))).await.id);
    }
    let already = h
        .task(p, NewTask::new("already done").status(Status::Done))
        .await;
    let foreign = h.task(&b.principal, NewTask::new("theirs")).await;

    let with_foreign = [ids.clone(), vec![foreign.id]].concat();
    expect_code(
        h.tf.bulk_set_status(p, &with_foreign, "done").await,
        "not_found",
    );
    let with_missing = [ids.clone(), vec![TaskId::new()]].concat();
    expect_code(
        h.tf.bulk_set_status(p, &with_missing, "done").await,
        "not_found",
    );
    for id in &ids {
        let t = h.tf.get_task(p, *id).await.unwrap();
        assert_eq!((t.status, t.version), (Status::Todo, 1), "nothing changed");
    }
    assert_eq!(
        h.tf.get_task(&b.principal, foreign.id).await.unwrap(),
        foreign
    );

    h.advance(TimeDelta::seconds(1));
    let all = [ids.clone(), vec![already.id, ids[0]]].concat();
    assert_eq!(h.tf.bulk_set_status(p, &all, "done").await.unwrap(), 3);
    for id in &ids {
        let t = h.tf.get_task(p, *id).await.unwrap();
        assert_eq!(t.status, Status::Done);
        assert_eq!(t.version, 2);
        assert_eq!(t.completed_at, Some(h.now()));
        assert_eq!(t.updated_at, h.now());
    }
    assert_eq!(h.tf.get_task(p, already.id).await.unwrap(), already);
    assert_eq!(h.tf.bulk_set_status(p, &ids, "todo").await.unwrap(), 3);
    assert_eq!(h.tf.get_task(p, ids[0]).await.unwrap().completed_at, None);
    // An admin may bulk-change any owner's tasks.
    let mixed = [ids.clone(), vec![foreign.id]].concat();
    assert_eq!(
        h.tf.bulk_set_status(&admin.principal, &mixed, "cancelled")
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        h.tf.get_task(&b.principal, foreign.id)
            .await
            .unwrap()
            .status,
        Status::Cancelled
    );
    let stats = h.tf.task_stats(p, None).await.unwrap();
    assert_eq!(stats.by_status.cancelled, 3);
}

/// Bulk takes 1-100 ids and a valid status.
pub async fn bulk_status_limits_hold_at_their_boundaries(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("many").await;
    let p = &a.principal;
    let mut ids = Vec::new();
    for i in 0..101 {
        ids.push(h.task(p, NewTask::new(format!("t{i}"))).await.id);
    }
    expect_invalid_fields(h.tf.bulk_set_status(p, &[], "done").await, &["ids"]);
    expect_invalid_fields(h.tf.bulk_set_status(p, &ids, "done").await, &["ids"]);
    expect_invalid_fields(
        h.tf.bulk_set_status(p, &ids[..1], "finished").await,
        &["status"],
    );
    assert_eq!(
        h.tf.bulk_set_status(p, &ids[..100], "in_progress")
            .await
            .unwrap(),
        100
    );
    let stats = h.tf.task_stats(p, None).await.unwrap();
    assert_eq!(stats.by_status.in_progress, 100);
    assert_eq!(stats.by_status.todo, 1);
}

/// Below the service: task and user writes apply only at the expected version, deletes
/// name the owner, and batch replacement reports what it did not write.
pub async fn store_writes_are_conditional_on_version(store: Arc<dyn Store>) {
    let h = Harness::new(Arc::clone(&store));
    let a = h.account("raw").await;
    let t = h.task(&a.principal, NewTask::new("raw")).await;
    let mut next = t.clone();
    next.title = "v2".into();
    next.version = 2;
    assert!(store.replace_task(&next).await.unwrap());
    assert!(
        !store.replace_task(&next).await.unwrap(),
        "same version twice"
    );
    let mut skip = next.clone();
    skip.version = 4;
    assert!(
        !store.replace_task(&skip).await.unwrap(),
        "versions cannot skip"
    );
    let mut ghost = next.clone();
    ghost.id = TaskId::new();
    ghost.version = 2;
    assert!(!store.replace_task(&ghost).await.unwrap(), "missing task");

    let other = h.task(&a.principal, NewTask::new("other")).await;
    let mut good = other.clone();
    good.version = 2;
    good.title = "batch".into();
    let unwritten = store
        .replace_tasks(&[good.clone(), next.clone()])
        .await
        .unwrap();
    assert!(unwritten.contains(&next.id), "stale one reported");
    let stored_other = store.get_task(Scope::All, other.id).await.unwrap().unwrap();
    if unwritten.contains(&other.id) {
        assert_eq!(stored_other, other, "all-or-nothing store wrote nothing");
    } else {
        assert_eq!(stored_other, good);
    }

    let intruder = h.account("intruder").await;
    assert!(
        !store
            .delete_task(intruder.user.id, t.id, None)
            .await
            .unwrap(),
        "owner must match"
    );
    assert!(
        !store.delete_task(a.user.id, t.id, Some(1)).await.unwrap(),
        "version must match"
    );
    assert!(store.delete_task(a.user.id, t.id, Some(2)).await.unwrap());
    assert!(store.get_task(Scope::All, t.id).await.unwrap().is_none());
    assert!(
        store
            .get_task(Scope::Owner(intruder.user.id), other.id)
            .await
            .unwrap()
            .is_none()
    );
    let both = store
        .get_tasks(Scope::Owner(a.user.id), &[other.id, t.id, TaskId::new()])
        .await
        .unwrap();
    assert_eq!(both.len(), 1);

    let mut user = store.get_user(a.user.id).await.unwrap().unwrap();
    user.user.name = "changed".into();
    assert!(
        !store.replace_user(&user, false).await.unwrap(),
        "same version"
    );
    user.version += 1;
    assert!(store.replace_user(&user, false).await.unwrap());
    assert_eq!(store.get_user(a.user.id).await.unwrap().unwrap(), user);
}

/// A batch insert writes every task, visible to reads, listings and stats at once.
pub async fn batch_insert_is_visible_everywhere(store: Arc<dyn Store>) {
    let h = Harness::new(Arc::clone(&store));
    let a = h.account("importer").await;
    let now = h.now();
    let batch: Vec<crate::Task> = (0..25)
        .map(|i| crate::Task {
            id: TaskId::new(),
            owner_id: a.user.id,
            title: format!("imported {i}"),
            description: Some(format!("row {i} of the import")),
            status: if i % 5 == 0 {
                Status::Done
            } else {
                Status::Todo
            },
            priority: Priority::ALL[i % 4],
            due_date: (i % 2 == 0).then_some(now + TimeDelta::days(i as i64)),
            tags: vec!["import".into()],
            created_at: now,
            updated_at: now,
            completed_at: (i % 5 == 0).then_some(now),
            version: 1,
        })
        .collect();
    store.insert_tasks(&batch).await.unwrap();
    for t in &batch {
        assert_eq!(&h.tf.get_task(&a.principal, t.id).await.unwrap(), t);
    }
    let page =
        h.tf.list_tasks(
            &a.principal,
            TaskQuery {
                q: Some("import".into()),
                limit: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, Some(25));
    let stats = h.tf.task_stats(&a.principal, None).await.unwrap();
    assert_eq!((stats.total, stats.by_status.done), (25, 5));
    // An empty batch is fine; a batch reusing an existing id fails.
    store.insert_tasks(&[]).await.unwrap();
    assert!(store.insert_tasks(&batch[..1]).await.is_err());
    assert_eq!(h.tf.task_stats(&a.principal, None).await.unwrap().total, 25);
}

/// Writes cancelled at any point (a client hanging up mid-request drops its future) leave
/// no transaction open behind them: later writes succeed, and every write that reported
/// success is stored.
pub async fn cancelled_writes_leave_the_store_writable(store: Arc<dyn Store>) {
    use std::time::Duration;

    let h = Harness::new(store);
    let a = h.account("canceller").await;
    let target = h
        .task(&a.principal, NewTask::new("updated under cancellation"))
        .await;
    let mut created = Vec::new();
    for round in 0..40u64 {
        let mut writes = Vec::new();
        for i in 0..8u64 {
            let (tf, who) = (h.tf.clone(), a.principal.clone());
            // Budgets from nothing to 2 ms, so cancellation lands before, during and after
            // the transaction starts, runs and commits.
            let budget = Duration::from_micros((round * 8 + i) * 37 % 2000);
            writes.push(tokio::spawn(async move {
                let write = async {
                    if i % 4 == 3 {
                        let patch = TaskPatch::default().title(format!("round {round}"));
                        tf.update_task(&who, target.id, patch, None)
                            .await
                            .map(|_| None)
                    } else {
                        let input = NewTask::new(format!("cancelled {round}-{i}"));
                        tf.create_task(&who, input).await.map(|t| Some(t.id))
                    }
                };
                tokio::time::timeout(budget, write).await
            }));
        }
        for w in writes {
            if let Ok(Ok(Some(id))) = w.await.expect("write task") {
                created.push(id);
            }
        }
    }
    // A hang (a transaction or lock left behind) never ends; a slow test server may take
    // seconds to finish the work of the cancelled requests first (nx-27017 runs them all
    // after their clients have gone, at ~2,000 operations a second).
    let after = tokio::time::timeout(
        Duration::from_secs(30),
        h.tf.create_task(&a.principal, NewTask::new("after the cancellations")),
    )
    .await
    .expect("a write after cancelled ones must not hang")
    .expect("a write after cancelled ones must succeed");
    h.tf.update_task(
        &a.principal,
        after.id,
        TaskPatch::default().priority(Priority::High),
        Some(1),
    )
    .await
    .expect("and so must an update");
    h.tf.delete_task(&a.principal, target.id, None)
        .await
        .expect("and a delete");
    for id in created {
        h.tf.get_task(&a.principal, id)
            .await
            .expect("a create that reported success is stored");
    }
}
