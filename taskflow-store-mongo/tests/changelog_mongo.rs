//! The change log of the MongoDB store beyond the conformance suite: several handles (as
//! several instances) appending at once, pruning racing a stale tail, failed writes under a
//! recovery pass, documents of older versions, and waking waiters.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use common::*;
use mongodb::bson::{Document, doc};
use taskflow_core::{
    Change, ChangeLog, Error, LogPosition, Scope, SessionRotation, SessionStore, TaskStore, UserId,
    UserStore,
};
use taskflow_store_mongo::{ChangeStreams, MongoOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_handles_give_a_concurrent_reader_every_position_in_order() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let a = handle(&url, &database, &MongoOptions::default()).await;
    let b = handle(&url, &database, &MongoOptions::default()).await;
    let reader = handle(&url, &database, &MongoOptions::default()).await;
    const WRITERS: usize = 3;
    const TASKS: usize = 8;
    let expected = 2 * WRITERS * TASKS * 2;

    let done = Arc::new(AtomicBool::new(false));
    let read = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = LogPosition::ZERO;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let finished = done.load(Ordering::Acquire);
                let batch = reader.read_changes(Scope::All, after, 7).await.unwrap();
                for e in &batch.events {
                    assert!(e.position > after, "never an event before one seen");
                    after = e.position;
                }
                seen.extend(batch.events);
                // Only a read that began after every write was acknowledged must be whole.
                if finished && batch.caught_up {
                    return seen;
                }
                assert!(Instant::now() < deadline, "the reader never caught up");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut writers = Vec::new();
    for store in [&a, &b] {
        for w in 0..WRITERS {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                let owner = UserId::new();
                for i in 0..TASKS {
                    let t = task(owner, &format!("w{w} t{i}"));
                    store.insert_task(&t).await.unwrap();
                    assert!(store.replace_task(&retitled(&t, "again")).await.unwrap());
                }
            }));
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::Release);
    let seen = read.await.unwrap();

    assert_eq!(
        seen.len(),
        expected,
        "every acknowledged write's event, once"
    );
    assert_eq!(seen[0].position, LogPosition::from_seq(1));
    assert_consecutive(&seen);
    assert_eq!(seen, log(&a).await, "what the reader saw is the log");
    let created = seen
        .iter()
        .filter(|e| e.change.kind() == "task.created")
        .count();
    assert_eq!(created, expected / 2);
    assert_eq!(outboxes(&a).await, 0, "every outbox cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_into_a_pruned_position_moves_above_the_horizon() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let a = handle(&url, &database, &MongoOptions::default()).await;
    let b = handle(&url, &database, &MongoOptions::default()).await;
    let owner = UserId::new();
    // `a` appends position 1 and so would try 2 next; `b` appends 2 and 3.
    a.insert_task(&task(owner, "a1")).await.unwrap();
    b.insert_task(&task(owner, "b1")).await.unwrap();
    b.insert_task(&task(owner, "b2")).await.unwrap();
    let pruned = b
        .prune_changes(Utc::now() + TimeDelta::seconds(5))
        .await
        .unwrap();
    assert_eq!(pruned, 3);
    assert!(stored_events(&a).await.is_empty());
    // Position 2 is free again, but below the horizon: no reader would ever see it there.
    let late = task(owner, "late");
    a.insert_task(&late).await.unwrap();
    let head = LogPosition::from_seq(3);
    let batch = read_after(&b, head).await;
    assert!(batch.caught_up);
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].position, LogPosition::from_seq(4));
    assert_eq!(batch.events[0].change, Change::TaskCreated(late));
    let stored: Vec<i64> = stored_events(&a)
        .await
        .iter()
        .map(|d| {
            d.get_i64("pos")
                .unwrap_or_else(|_| d.get_i32("pos").unwrap().into())
        })
        .collect();
    assert_eq!(stored, [4], "nothing left at or below the horizon");
    match a
        .read_changes(Scope::All, LogPosition::from_seq(2), 10)
        .await
    {
        Err(Error::ResetRequired { start }) => assert_eq!(start, LogPosition::from_seq(4)),
        other => panic!("expected a reset, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_leave_no_event_even_for_a_recovery_pass() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let store = handle(&url, &database, &eager()).await;
    let u = user("ann");
    store.insert_user(&u).await.unwrap();
    let t = task(u.user.id, "kept");
    store.insert_task(&t).await.unwrap();
    let s = session(u.user.id, "h1");
    store.insert_session(&s).await.unwrap();
    store.revoke_session(u.user.id, s.id).await.unwrap();
    let before = log(&store).await;
    assert_eq!(before.len(), 3);

    let mut stale = retitled(&t, "stale");
    stale.version = 7;
    assert!(!store.replace_task(&stale).await.unwrap());
    assert!(!store.delete_task(u.user.id, t.id, Some(9)).await.unwrap());
    assert!(!store.delete_task(UserId::new(), t.id, None).await.unwrap());
    let fresh = task(u.user.id, "fresh");
    let err = store.insert_tasks(&[fresh.clone(), t.clone()]).await;
    assert_eq!(err.unwrap_err().code(), "conflict");
    assert_eq!(store.get_task(Scope::All, fresh.id).await.unwrap(), None);
    assert_eq!(
        store.insert_user(&user("ann")).await.unwrap_err().code(),
        "conflict"
    );
    let mut stale_user = u.clone();
    stale_user.version = 5;
    assert!(!store.replace_user(&stale_user, false).await.unwrap());
    store.revoke_session(u.user.id, s.id).await.unwrap();
    assert_eq!(
        store.revoke_user_sessions(u.user.id, None).await.unwrap(),
        0
    );
    let rotation = SessionRotation {
        user_id: u.user.id,
        id: s.id,
        presented_hash: "h1",
        new_hash: "h2",
        new_expires_at: Utc::now() + TimeDelta::days(1),
        now: Utc::now(),
    };
    assert!(!store.rotate_session(&rotation).await.unwrap(), "revoked");

    assert_eq!(outboxes(&store).await, 0, "no write left an event behind");
    assert_eq!(store.recover_pending(Duration::ZERO).await.unwrap(), 0);
    assert_eq!(log(&store).await, before, "failed writes log nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_of_older_versions_are_given_empty_outboxes_at_open() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let store = handle(&url, &database, &MongoOptions::default()).await;
    let owner = UserId::new();
    let t = task(owner, "from before the change log");
    store.insert_task(&t).await.unwrap();
    // What a version without the change log wrote: no outbox fields, no `deleted`.
    let tasks = store.database().collection::<Document>("tasks");
    tasks
        .update_one(
            doc! { "_id": t.id.to_string() },
            doc! { "$unset": { "pend": "", "pend_kind": "", "pend_subject": "", "pend_data": "", "deleted": "" } },
        )
        .await
        .unwrap();
    let legacy = tasks
        .find_one(doc! { "_id": t.id.to_string() })
        .await
        .unwrap()
        .unwrap();
    assert!(!legacy.contains_key("pend") && !legacy.contains_key("deleted"));

    let reopened = handle(&url, &database, &MongoOptions::default()).await;
    assert_eq!(
        reopened.get_task(Scope::All, t.id).await.unwrap(),
        Some(t.clone())
    );
    let t2 = retitled(&t, "updated after the upgrade");
    assert!(reopened.replace_task(&t2).await.unwrap());
    assert!(reopened.delete_task(owner, t.id, Some(2)).await.unwrap());
    let kinds: Vec<_> = log(&reopened)
        .await
        .iter()
        .map(|e| e.change.kind())
        .collect();
    assert_eq!(kinds, ["task.created", "task.updated", "task.deleted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_wake_on_their_own_appends_and_sleep_without_a_change_stream() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let quiet = MongoOptions {
        change_streams: ChangeStreams::Disabled,
        ..MongoOptions::default()
    };
    let watching = MongoOptions {
        change_streams: ChangeStreams::Enabled,
        ..MongoOptions::default()
    };
    let writer = handle(&url, &database, &quiet).await;
    let sleeper = handle(&url, &database, &quiet).await;
    let watcher = handle(&url, &database, &watching).await;
    let auto = handle(&url, &database, &MongoOptions::default()).await;
    let owner = UserId::new();

    // Its own append wakes a handle's waiter at once.
    let head = writer.change_head().await.unwrap();
    let w = writer.clone();
    let started = Instant::now();
    let wait = tokio::spawn(async move { w.wait_for_changes(head, Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    writer.insert_task(&task(owner, "own")).await.unwrap();
    wait.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken by its own append"
    );
    // And a wait after a position it has appended past returns at once.
    let started = Instant::now();
    writer.wait_for_changes(head, Duration::from_secs(10)).await;
    assert!(started.elapsed() < Duration::from_secs(1));

    // nx-27017 has no change streams for this driver (its cursor ids are 32-bit): a handle
    // that asks for one falls back to sleeping, like one that does not.
    let head = writer.change_head().await.unwrap();
    let started = Instant::now();
    watcher
        .wait_for_changes(head, Duration::from_millis(200))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    let deadline = Instant::now() + Duration::from_secs(5);
    while watcher.follows_change_stream() {
        assert!(Instant::now() < deadline, "the refused stream is given up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!writer.follows_change_stream(), "Disabled never opens one");

    // Without a stream, another handle's append does not: the waiter sleeps its timeout.
    let head = writer.change_head().await.unwrap();
    let s = sleeper.clone();
    let started = Instant::now();
    let wait =
        tokio::spawn(async move { s.wait_for_changes(head, Duration::from_millis(600)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    writer.insert_task(&task(owner, "unheard")).await.unwrap();
    wait.await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(550));
    auto.wait_for_changes(head, Duration::from_millis(10)).await;
    assert!(!auto.follows_change_stream(), "Auto opens none on nx-27017");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_reads_and_positions_survive_a_new_handle() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let a = handle(&url, &database, &MongoOptions::default()).await;
    let (ann, bob) = (UserId::new(), UserId::new());
    for i in 0..3 {
        a.insert_task(&task(ann, &format!("ann {i}")))
            .await
            .unwrap();
        a.insert_task(&task(bob, &format!("bob {i}")))
            .await
            .unwrap();
    }
    // A handle opened later appends after what is there, never into it.
    let b = handle(&url, &database, &MongoOptions::default()).await;
    b.insert_task(&task(bob, "later")).await.unwrap();
    let all = log(&b).await;
    assert_eq!(all.len(), 7);
    assert_consecutive(&all);
    let only_bob = b
        .read_changes(Scope::Owner(bob), LogPosition::ZERO, 100)
        .await
        .unwrap();
    let want: Vec<_> = all
        .iter()
        .filter(|e| e.change.subject() == bob)
        .cloned()
        .collect();
    assert_eq!(only_bob.events, want);
    assert!(only_bob.caught_up);
    assert_eq!(b.change_head().await.unwrap(), LogPosition::from_seq(7));
}
