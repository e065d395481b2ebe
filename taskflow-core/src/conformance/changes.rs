//! Scenarios: the change log (order, atomicity, resume, scope, retention), the task
//! change feed, event streams and a cache that follows writes made by another handle.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use futures_util::StreamExt;

use super::{Harness, PASSWORD, expect_code};
use crate::{
    Change, ChangeBatch, ChangeEvent, Error, Event, FollowerConfig, LogPosition, MokaCache,
    NewTask, Scope, Status, Store, TaskChangeKind, TaskFlow, TaskPatch, UserUpdate,
};

/// Every event in the log, oldest first.
pub async fn whole_log(store: &dyn Store) -> Vec<ChangeEvent> {
    let mut after = LogPosition::ZERO;
    let mut events = Vec::new();
    loop {
        let batch = store
            .read_changes(Scope::All, after, 7)
            .await
            .expect("read_changes");
        if let Some(last) = batch.events.last() {
            after = last.position;
        }
        let (done, empty) = (batch.caught_up, batch.events.is_empty());
        events.extend(batch.events);
        if done {
            return events;
        }
        if empty {
            // Held back (PostgreSQL: an older transaction of someone else still runs).
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A read of the log once it has settled: a store may answer `caught_up: false` for a
/// while after a write (PostgreSQL holds events back while an older transaction, of any
/// test on the same server, still runs), so this reads again until the batch is caught
/// up or full. Panics after 10 s.
pub async fn settled(
    store: &dyn Store,
    scope: Scope,
    after: LogPosition,
    limit: usize,
) -> ChangeBatch {
    let started = std::time::Instant::now();
    loop {
        let batch = store
            .read_changes(scope, after, limit)
            .await
            .expect("read_changes");
        if batch.caught_up || batch.events.len() == limit {
            return batch;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the log never settled: {batch:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `(kind, subject)` of every event.
fn kinds(events: &[ChangeEvent]) -> Vec<(&'static str, crate::UserId)> {
    events
        .iter()
        .map(|e| (e.change.kind(), e.change.subject()))
        .collect()
}

/// Registration, task writes (create, update, bulk, delete) and the session and account
/// writes (logout, logout-all, password change, role change, disable) each append their
/// event, in the order they were acknowledged, with strictly increasing positions; task
/// events carry the task as written.
pub async fn every_write_appends_its_event_in_order(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let admin = h.admin("boss").await;
    let a = h.account("alice").await;
    let t = h.task(&a.principal, NewTask::new("first")).await;
    let patch = TaskPatch {
        title: Some("renamed".into()),
        ..Default::default()
    };
    let t2 =
        h.tf.update_task(&a.principal, t.id, patch, None)
            .await
            .unwrap();
    let u = h.task(&a.principal, NewTask::new("second")).await;
    h.tf.bulk_set_status(&a.principal, &[t.id, u.id], "done")
        .await
        .unwrap();
    h.tf.delete_task(&a.principal, u.id, None).await.unwrap();
    h.tf.logout(&a.principal, None).await.unwrap();
    let a2 =
        h.tf.login("alice@example.com", PASSWORD, None)
            .await
            .unwrap();
    let p2 = h.tf.authenticate(&a2.access_token).await.unwrap();
    h.tf.change_password(&p2, PASSWORD, "another horse battery staple", None)
        .await
        .unwrap();
    h.tf.logout_all(&p2).await.unwrap();
    let role = UserUpdate {
        role: Some("admin".into()),
        disabled: None,
    };
    h.tf.update_user(&admin.principal, a.user.id, role)
        .await
        .unwrap();
    let disable = UserUpdate {
        role: None,
        disabled: Some(true),
    };
    h.tf.update_user(&admin.principal, a.user.id, disable)
        .await
        .unwrap();

    let log = whole_log(&*h.store).await;
    for pair in log.windows(2) {
        assert!(pair[0].position < pair[1].position, "positions increase");
    }
    let (boss, alice) = (admin.user.id, a.user.id);
    let got = kinds(&log);
    // The account writes may append more than one event each (a password change writes
    // the user and revokes sessions); the task writes exactly theirs, in order.
    let tasks: Vec<_> = got.iter().filter(|(k, _)| k.starts_with("task.")).collect();
    assert_eq!(
        tasks,
        [
            &("task.created", alice),
            &("task.updated", alice),
            &("task.created", alice),
            &("task.updated", alice),
            &("task.updated", alice),
            &("task.deleted", alice),
        ]
    );
    assert_eq!(got[0], ("user.changed", boss), "registration of the admin");
    assert_eq!(got[1], ("user.changed", alice), "registration");
    let after_tasks = got
        .iter()
        .rposition(|(k, _)| k.starts_with("task."))
        .unwrap();
    let account: Vec<_> = got[after_tasks + 1..].to_vec();
    assert_eq!(account[0], ("sessions.changed", alice), "logout");
    assert!(
        account.contains(&("user.changed", alice)),
        "password change"
    );
    assert!(
        account
            .iter()
            .filter(|e| **e == ("sessions.changed", alice))
            .count()
            >= 2,
        "logout, then the password change or logout-all: {account:?}"
    );
    assert_eq!(
        &account[account.len() - 2..],
        [("user.changed", alice), ("user.changed", alice)],
        "role change, then disable"
    );
    match &log
        .iter()
        .find(|e| e.change.kind() == "task.updated")
        .unwrap()
        .change
    {
        Change::TaskUpdated(task) => assert_eq!(task, &t2),
        other => panic!("expected task.updated, got {other:?}"),
    }
    match &log
        .iter()
        .find(|e| e.change.kind() == "task.deleted")
        .unwrap()
        .change
    {
        Change::TaskDeleted { task_id, owner_id } => {
            assert_eq!((*task_id, *owner_id), (u.id, alice));
        }
        other => panic!("expected task.deleted, got {other:?}"),
    }
    for e in &log {
        let back = Change::from_parts(e.change.kind(), &e.change.data_json()).unwrap();
        assert_eq!(back, e.change, "an event survives its stored form");
    }
}

/// Writes that fail or change nothing append nothing: a stale version, a delete of a
/// missing task, a duplicate email, a batch with a duplicate id, a bulk change with a
/// stale member.
pub async fn failed_writes_append_nothing(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("alice").await;
    let t = h.task(&a.principal, NewTask::new("only")).await;
    let before = whole_log(&*h.store).await;

    let mut stale = t.clone();
    stale.version = 5;
    stale.title = "stale".into();
    assert!(!h.store.replace_task(&stale).await.unwrap());
    assert!(!h.store.delete_task(a.user.id, t.id, Some(9)).await.unwrap());
    let other = crate::TaskId::new();
    assert!(!h.store.delete_task(a.user.id, other, None).await.unwrap());
    expect_code(
        h.tf.register(super::registration("alice")).await,
        "conflict",
    );
    let mut fresh = t.clone();
    fresh.id = crate::TaskId::new();
    let dup = vec![fresh, t.clone()];
    assert!(h.store.insert_tasks(&dup).await.is_err());
    assert_eq!(
        whole_log(&*h.store).await,
        before,
        "failed writes log nothing"
    );
    let mut good = t.clone();
    good.version = 2;
    let mut stale_other = h.task(&a.principal, NewTask::new("other")).await;
    let before = whole_log(&*h.store).await;
    stale_other.version = 7;
    let unwritten = h
        .store
        .replace_tasks(&[good, stale_other.clone()])
        .await
        .unwrap();
    assert!(unwritten.contains(&stale_other.id));
    // A store without transactions may write the good half; then it logs that half only.
    let after = whole_log(&*h.store).await;
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "the log is append-only"
    );
    for e in &after[before.len()..] {
        assert_eq!(e.change.kind(), "task.updated");
        let id = e.change.task_id().unwrap();
        assert!(!unwritten.contains(&id), "only what was written is logged");
    }
}

/// Reading after any position returns exactly the later events; a scope keeps one
/// subject's events; the limit cuts a batch short and says so; the head taken before a
/// write sorts before that write's event.
pub async fn reads_resume_after_a_position_within_a_scope(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("alice").await;
    let b = h.account("bob").await;
    for i in 0..3 {
        h.task(&a.principal, NewTask::new(format!("a{i}"))).await;
        h.task(&b.principal, NewTask::new(format!("b{i}"))).await;
    }
    let log = whole_log(&*h.store).await;
    for (i, e) in log.iter().enumerate() {
        let rest = settled(&*h.store, Scope::All, e.position, 100).await;
        assert!(rest.caught_up);
        assert_eq!(rest.events, log[i + 1..], "resume after event {i}");
    }
    let cut = settled(&*h.store, Scope::All, LogPosition::ZERO, 2).await;
    assert_eq!(cut.events, log[..2]);
    assert!(!cut.caught_up, "a batch cut by the limit is not caught up");

    let only_b = settled(&*h.store, Scope::Owner(b.user.id), LogPosition::ZERO, 100).await;
    let want: Vec<_> = log
        .iter()
        .filter(|e| e.change.subject() == b.user.id)
        .cloned()
        .collect();
    assert_eq!(only_b.events, want);
    assert!(only_b.caught_up);

    let head = h.store.change_head().await.unwrap();
    assert!(head >= log.last().unwrap().position);
    let t = h.task(&a.principal, NewTask::new("after the head")).await;
    let next = settled(&*h.store, Scope::All, head, 100).await;
    assert_eq!(next.events.len(), 1);
    assert_eq!(next.events[0].change, Change::TaskCreated(t));
    let none = settled(&*h.store, Scope::Owner(b.user.id), head, 100).await;
    assert!(none.events.is_empty() && none.caught_up);
}

/// Pruning deletes old events; a reader behind them is told to reset, with the head to
/// start from; reading from there works, and later writes are logged as before.
pub async fn pruned_positions_ask_for_a_reset(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("alice").await;
    h.task(&a.principal, NewTask::new("old")).await;
    let old = whole_log(&*h.store).await;
    let pruned = h
        .store
        .prune_changes(Utc::now() + TimeDelta::seconds(5))
        .await
        .unwrap();
    assert_eq!(pruned, old.len() as u64);
    let err = h
        .store
        .read_changes(Scope::All, LogPosition::ZERO, 10)
        .await;
    let start = match expect_code(err, "reset_required") {
        Error::ResetRequired { start } => start,
        other => panic!("expected a reset, got {other:?}"),
    };
    assert!(start >= old.last().unwrap().position);
    let empty = settled(&*h.store, Scope::All, start, 10).await;
    assert!(empty.events.is_empty() && empty.caught_up);
    let t = h.task(&a.principal, NewTask::new("new")).await;
    let next = settled(&*h.store, Scope::All, start, 10).await;
    assert_eq!(next.events.len(), 1);
    assert_eq!(next.events[0].change, Change::TaskCreated(t));
    assert_eq!(
        h.store
            .prune_changes(Utc::now() - TimeDelta::hours(1))
            .await
            .unwrap(),
        0,
        "nothing older than an hour is left"
    );
    expect_code(
        h.tf.task_changes(&a.principal, Some(LogPosition::ZERO), 10)
            .await,
        "reset_required",
    );
}

/// The task feed shows a principal exactly the task events a get would show them, pages
/// by `next` without gaps or repeats, and starts from the head when `since` is omitted.
pub async fn task_feed_shows_what_get_shows(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let boss = h.admin("boss").await;
    let a = h.account("alice").await;
    let b = h.account("bob").await;
    let start = h.tf.task_changes(&a.principal, None, 100).await.unwrap();
    assert!(start.changes.is_empty() && !start.has_more);
    let mut mine = Vec::new();
    for i in 0..5 {
        mine.push(h.task(&a.principal, NewTask::new(format!("a{i}"))).await);
        h.task(&b.principal, NewTask::new(format!("b{i}"))).await;
    }
    h.tf.delete_task(&a.principal, mine[0].id, None)
        .await
        .unwrap();

    let mut since = start.next;
    let mut seen = Vec::new();
    loop {
        let page =
            h.tf.task_changes(&a.principal, Some(since), 2)
                .await
                .unwrap();
        assert!(page.changes.len() <= 2);
        seen.extend(page.changes);
        since = page.next;
        if !page.has_more {
            break;
        }
    }
    let ids: Vec<_> = seen.iter().map(|c| (c.kind, c.task_id)).collect();
    let mut want: Vec<_> = mine
        .iter()
        .map(|t| (TaskChangeKind::Upsert, t.id))
        .collect();
    want.push((TaskChangeKind::Delete, mine[0].id));
    assert_eq!(ids, want, "alice sees her own tasks only, in order");
    assert_eq!(seen[1].task.as_ref(), Some(&mine[1]));
    assert!(seen.last().unwrap().task.is_none());
    let again =
        h.tf.task_changes(&a.principal, Some(since), 100)
            .await
            .unwrap();
    assert!(
        again.changes.is_empty(),
        "nothing repeats after the last next"
    );

    let all =
        h.tf.task_changes(&boss.principal, Some(start.next), 500)
            .await
            .unwrap();
    assert_eq!(
        all.changes.len(),
        11,
        "an admin reads every task, as get does"
    );
    expect_code(
        h.tf.task_changes(&a.principal, None, 0).await,
        "validation_failed",
    );
    expect_code(
        h.tf.task_changes(&a.principal, None, 501).await,
        "validation_failed",
    );
}

/// A stream shows its principal's task events live and from a resume position, never
/// another user's, and ends when the session is revoked.
pub async fn event_streams_follow_visibility_and_end_on_logout(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let a = h.account("alice").await;
    let b = h.account("bob").await;
    let first = h.task(&a.principal, NewTask::new("before")).await;
    // "From now" starts at the newest settled event; on PostgreSQL an older transaction of
    // any test on the server can hold `first`'s back for a moment, and a stream opened then
    // would rightly show it. Wait until it has settled.
    whole_log(&*h.store).await;
    let resume_from = h.tf.change_head().await.unwrap();
    let mut live = h.tf.events(&a.principal, None).await.unwrap();
    let mut resumed_stream =
        h.tf.events(&a.principal, Some(LogPosition::ZERO))
            .await
            .unwrap();
    let created = h.task(&a.principal, NewTask::new("live")).await;
    h.task(&b.principal, NewTask::new("not alice's")).await;
    let patch = TaskPatch {
        status: Some(Status::Done.as_str().into()),
        ..Default::default()
    };
    h.tf.update_task(&a.principal, created.id, patch, None)
        .await
        .unwrap();

    let e1 = next_within(&mut live).await.unwrap().unwrap();
    assert_eq!(e1.kind(), "task.created");
    assert!(matches!(&e1, Event::Change(e) if e.change == Change::TaskCreated(created.clone())));
    let e2 = next_within(&mut live).await.unwrap().unwrap();
    assert_eq!(e2.kind(), "task.updated");
    assert!(e1.id() < e2.id());
    let r0 = next_within(&mut resumed_stream).await.unwrap().unwrap();
    assert!(
        matches!(&r0, Event::Change(e) if e.change.task_id() == Some(first.id)),
        "resume from zero sees all"
    );
    let r1 = next_within(&mut resumed_stream).await.unwrap().unwrap();
    assert_eq!(r1, e1);
    assert!(resume_from < e1.id());

    h.tf.logout(&a.principal, None).await.unwrap();
    let end = next_within(&mut live).await;
    assert!(end.is_none(), "the stream ends after logout, got {end:?}");
}

/// A handle with a cache that follows the log honours writes made through another handle
/// on the same store (another instance) within the follower's bound: a revoked session,
/// a disabled account and an updated task.
pub async fn a_following_cache_honours_other_handles_writes(store: Arc<dyn Store>) {
    let other = Harness::new(Arc::clone(&store));
    let follow = FollowerConfig {
        poll_interval: Duration::from_millis(10),
        stale_after: Duration::from_millis(200),
        ..FollowerConfig::default()
    };
    let cached = cached_instance(&other, Some(follow));
    let a = other.account("alice").await;
    let t = other.task(&a.principal, NewTask::new("cached")).await;
    // Warm this handle's cache.
    for _ in 0..3 {
        cached.authenticate(&a.tokens.access_token).await.unwrap();
        assert_eq!(cached.get_task(&a.principal, t.id).await.unwrap(), t);
    }
    let patch = TaskPatch {
        title: Some("changed elsewhere".into()),
        ..Default::default()
    };
    let t2 = other
        .tf
        .update_task(&a.principal, t.id, patch, None)
        .await
        .unwrap();
    let waited =
        eventually(|| async { cached.get_task(&a.principal, t.id).await.unwrap() == t2 }).await;
    assert!(
        waited < Duration::from_secs(2),
        "task seen after {waited:?}"
    );
    other.tf.logout(&a.principal, None).await.unwrap();
    let waited =
        eventually(|| async { cached.authenticate(&a.tokens.access_token).await.is_err() }).await;
    assert!(
        waited < Duration::from_secs(2),
        "logout honoured after {waited:?}"
    );
    assert!(cached.follower_status().unwrap().applied() > 0);
}

/// A stream ends when its session is revoked through another handle (another instance),
/// however warm the cache of the handle serving it: the stream decides from the store, not
/// from a cache entry its own instance has yet to drop. (The handle here has a cache and no
/// follower, so its cache keeps the live session for as long as the test runs.)
pub async fn event_streams_end_on_a_revocation_made_elsewhere(store: Arc<dyn Store>) {
    let other = Harness::new(Arc::clone(&store));
    let serving = cached_instance(&other, None);
    let a = other.account("alice").await;
    let b = other.account("bob").await;
    // Warm the serving handle's cache with both sessions.
    for tokens in [&a.tokens, &b.tokens] {
        for _ in 0..3 {
            serving.authenticate(&tokens.access_token).await.unwrap();
        }
    }
    let mut alice = serving.events(&a.principal, None).await.unwrap();
    let mut bob = serving.events(&b.principal, None).await.unwrap();
    other.tf.logout(&a.principal, None).await.unwrap();
    let end = next_within(&mut alice).await;
    assert!(
        end.is_none(),
        "the stream ends after logout elsewhere, got {end:?}"
    );

    // A disabled account ends its stream the same way; another user's stream goes on.
    let admin = other.admin("root").await;
    let t = other
        .task(&b.principal, NewTask::new("still streaming"))
        .await;
    let e = next_within(&mut bob).await.unwrap().unwrap();
    assert!(matches!(&e, Event::Change(c) if c.change.task_id() == Some(t.id)));
    let disable = crate::UserUpdate {
        role: None,
        disabled: Some(true),
    };
    other
        .tf
        .update_user(&admin.principal, b.principal.user_id, disable)
        .await
        .unwrap();
    let end = next_within(&mut bob).await;
    assert!(
        end.is_none(),
        "the stream ends when the account is disabled elsewhere, got {end:?}"
    );
}

/// Another instance over the store of `h`, on its clock, with a cache of its own that
/// follows the log as `follow` says (`None`: not at all).
fn cached_instance(h: &Harness, follow: Option<FollowerConfig>) -> TaskFlow {
    TaskFlow::builder()
        .shared_store(Arc::clone(&h.store))
        .jwt_secret(super::SECRET)
        .password_params(crate::PasswordParams::insecure_fast_for_tests())
        .clock(h.clock.clone())
        .cache(MokaCache::default())
        .follow_changes(follow)
        .build()
        .unwrap()
}

/// The stream's next item, which must come within 5 s.
async fn next_within(stream: &mut crate::EventStream) -> Option<crate::Result<crate::Event>> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an item within 5 s")
}

/// Polls `check` every 5 ms until it holds (at most 5 s); returns how long that took.
async fn eventually<F, Fut>(check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(5), "never happened");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

/// An event ticket opens one stream, once, on any handle over the store, as its principal;
/// a used, expired or forged ticket, or one whose session ended, is refused.
pub async fn event_tickets_are_single_use(store: Arc<dyn Store>) {
    let h = Harness::new(Arc::clone(&store));
    let other = Harness::new(store);
    let a = h.account("alice").await;
    let until = h.now() + TimeDelta::minutes(15);
    let t = h.tf.issue_event_ticket(&a.principal, until).await.unwrap();
    assert!(t.ticket.starts_with("evt_") && t.ticket.len() > 40);
    assert_eq!(t.expires_in, crate::EVENT_TICKET_TTL);
    let (p, stream_until) = other.tf.redeem_event_ticket(&t.ticket).await.unwrap();
    assert_eq!(
        p, a.principal,
        "redeemed on another handle, as its principal"
    );
    assert_eq!(stream_until, until);
    expect_code(h.tf.redeem_event_ticket(&t.ticket).await, "unauthenticated");
    expect_code(
        h.tf.redeem_event_ticket("evt_forged").await,
        "unauthenticated",
    );
    expect_code(
        h.tf.redeem_event_ticket(&"x".repeat(5000)).await,
        "unauthenticated",
    );

    let soon = h.now() + TimeDelta::seconds(10);
    let short = h.tf.issue_event_ticket(&a.principal, soon).await.unwrap();
    assert_eq!(
        short.expires_in,
        Duration::from_secs(10),
        "no longer than the token"
    );
    let late = h.tf.issue_event_ticket(&a.principal, until).await.unwrap();
    h.advance(TimeDelta::seconds(61));
    expect_code(
        h.tf.redeem_event_ticket(&late.ticket).await,
        "unauthenticated",
    );

    let b = h.account("bob").await;
    let until = h.now() + TimeDelta::minutes(15);
    let ended = h.tf.issue_event_ticket(&b.principal, until).await.unwrap();
    h.tf.logout(&b.principal, None).await.unwrap();
    expect_code(
        h.tf.redeem_event_ticket(&ended.ticket).await,
        "unauthenticated",
    );
}
