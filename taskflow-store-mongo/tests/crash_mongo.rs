//! Writers that die between the steps of a write (feature `fault-injection`: an armed
//! crash point makes the write stop there and do nothing more, leaving the database as a
//! process killed at that step would). Another handle on the same database then logs the
//! event exactly once, readers never see a deleted task whose deletion is not logged, and
//! the next write to the document logs the dead writer's event before its own.

mod common;

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use common::*;
use taskflow_core::{
    Change, ListRequest, LogPosition, Pagination, Scope, SessionRotation, SessionStore,
    StatsRequest, TaskFilter, TaskSort, TaskStore, UserId, UserStore,
};
use taskflow_store_mongo::{CrashPoint, MongoOptions, MongoStore};

/// The writes whose logging can be interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    CreateTask,
    CreateTasks,
    UpdateTask,
    UpdateTasks,
    DeleteTask,
    CreateUser,
    UpdateUser,
    RotateSession,
    RevokeSession,
    RevokeAllSessions,
}

const WRITES: [Write; 10] = [
    Write::CreateTask,
    Write::CreateTasks,
    Write::UpdateTask,
    Write::UpdateTasks,
    Write::DeleteTask,
    Write::CreateUser,
    Write::UpdateUser,
    Write::RotateSession,
    Write::RevokeSession,
    Write::RevokeAllSessions,
];

impl Write {
    /// Whether the write logs several events (so it can stop after the first).
    fn is_batch(self) -> bool {
        matches!(self, Write::CreateTasks | Write::UpdateTasks)
    }
}

/// Prepares what `write` needs through `store` (normally), notes the length of the log
/// as `other` reads it, then arms `crash` and runs `write` through `store`; returns the
/// write's outcome, the events it must log and that length.
async fn run(
    store: &MongoStore,
    other: &MongoStore,
    write: Write,
    crash: CrashPoint,
) -> (taskflow_core::Result<()>, Vec<Change>, usize) {
    let owner = UserId::new();
    let u = user("writer");
    match write {
        Write::CreateTask => {
            let t = task(owner, "new");
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store.insert_task(&t).await;
            (r, vec![Change::TaskCreated(t)], before)
        }
        Write::CreateTasks => {
            let batch: Vec<_> = (0..3).map(|i| task(owner, &format!("n{i}"))).collect();
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store.insert_tasks(&batch).await;
            (
                r,
                batch.into_iter().map(Change::TaskCreated).collect(),
                before,
            )
        }
        Write::UpdateTask => {
            let t = task(owner, "old");
            store.insert_task(&t).await.unwrap();
            let t2 = retitled(&t, "new");
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store.replace_task(&t2).await.map(|w| assert!(w));
            (r, vec![Change::TaskUpdated(t2)], before)
        }
        Write::UpdateTasks => {
            let (a, b) = (task(owner, "a"), task(owner, "b"));
            store.insert_tasks(&[a.clone(), b.clone()]).await.unwrap();
            let next = vec![retitled(&a, "a2"), retitled(&b, "b2")];
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store
                .replace_tasks(&next)
                .await
                .map(|unwritten| assert!(unwritten.is_empty()));
            (
                r,
                next.into_iter().map(Change::TaskUpdated).collect(),
                before,
            )
        }
        Write::DeleteTask => {
            let t = task(owner, "doomed");
            store.insert_task(&t).await.unwrap();
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store
                .delete_task(owner, t.id, Some(1))
                .await
                .map(|d| assert!(d));
            let gone = Change::TaskDeleted {
                task_id: t.id,
                owner_id: owner,
            };
            (r, vec![gone], before)
        }
        Write::CreateUser => {
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store.insert_user(&u).await;
            (r, vec![Change::UserChanged { user_id: u.user.id }], before)
        }
        Write::UpdateUser => {
            store.insert_user(&u).await.unwrap();
            let mut renamed = u.clone();
            renamed.user.name = "renamed".into();
            renamed.version = 2;
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store
                .replace_user(&renamed, false)
                .await
                .map(|w| assert!(w));
            (r, vec![Change::UserChanged { user_id: u.user.id }], before)
        }
        Write::RotateSession => {
            let s = session(owner, "h1");
            store.insert_session(&s).await.unwrap();
            let rotation = SessionRotation {
                user_id: owner,
                id: s.id,
                presented_hash: "h1",
                new_hash: "h2",
                new_expires_at: Utc::now() + TimeDelta::days(2),
                now: Utc::now(),
            };
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store.rotate_session(&rotation).await.map(|w| assert!(w));
            let changed = Change::SessionsChanged {
                user_id: owner,
                session_id: Some(s.id),
            };
            (r, vec![changed], before)
        }
        Write::RevokeSession => {
            let s = session(owner, "h1");
            store.insert_session(&s).await.unwrap();
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store.revoke_session(owner, s.id).await;
            let changed = Change::SessionsChanged {
                user_id: owner,
                session_id: Some(s.id),
            };
            (r, vec![changed], before)
        }
        Write::RevokeAllSessions => {
            for hash in ["h1", "h2", "h3"] {
                store.insert_session(&session(owner, hash)).await.unwrap();
            }
            let before = log(other).await.len();
            store.crash_at(crash);
            let r = store
                .revoke_user_sessions(owner, None)
                .await
                .map(|n| assert_eq!(n, 3));
            let changed = Change::SessionsChanged {
                user_id: owner,
                session_id: None,
            };
            (r, vec![changed], before)
        }
    }
}

/// For every write and every step it can die after: another handle's recovery pass logs
/// the write's events exactly once and in order, leaves no outbox or tombstone, and the
/// log goes on after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_handle_logs_a_dead_writers_events_exactly_once() {
    let Some((url, _)) = fresh_database() else {
        return;
    };
    let mut cases = 0;
    for write in WRITES {
        for crash in [
            CrashPoint::DocumentWritten,
            CrashPoint::FirstEventAppended,
            CrashPoint::EventsAppended,
        ] {
            if crash == CrashPoint::FirstEventAppended && !write.is_batch() {
                continue;
            }
            let database = taskflow_test_support::unique_name("k_");
            let dead = handle(&url, &database, &MongoOptions::default()).await;
            let other = handle(&url, &database, &eager()).await;
            let case = format!("{write:?} stopped {crash:?}");

            let (outcome, want, before) = run(&dead, &other, write, crash).await;
            let err = outcome.expect_err(&case);
            assert_eq!(err.code(), "unavailable", "{case}: {err:?}");
            if crash != CrashPoint::EventsAppended {
                assert!(outboxes(&other).await > 0, "{case}: an event waits");
            }

            let found = other.recover_pending(Duration::ZERO).await.unwrap();
            assert!(found > 0, "{case}: the recovery pass found the outbox");
            let logged: Vec<Change> = log_after(&other, before)
                .await
                .into_iter()
                .map(|e| e.change)
                .collect();
            assert_eq!(logged, want, "{case}: logged once, in order");
            assert_eq!(outboxes(&other).await, 0, "{case}: outboxes cleared");
            assert_eq!(tombstones(&other).await, 0, "{case}: tombstones removed");
            let whole = log(&other).await;
            assert_consecutive(&whole);

            // Once, however often recovery runs, and through either handle.
            assert_eq!(other.recover_pending(Duration::ZERO).await.unwrap(), 0);
            assert_eq!(dead.recover_pending(Duration::ZERO).await.unwrap(), 0);
            assert_eq!(log(&other).await, whole, "{case}: nothing logged twice");

            // The dead writer's handle (a restarted process) writes on.
            let next = task(UserId::new(), "after");
            dead.insert_task(&next).await.unwrap();
            let last = log(&other).await.pop().unwrap();
            assert_eq!(last.change, Change::TaskCreated(next), "{case}");
            assert_eq!(
                last.position,
                LogPosition::from_seq(whole.last().unwrap().position.minor() + 1),
                "{case}"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 22);
}

/// A write to a document whose outbox still holds a dead writer's event logs that event
/// first, then its own: per document, events keep the order of the writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_write_to_the_document_logs_the_dead_writers_event_first() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let dead = handle(&url, &database, &MongoOptions::default()).await;
    let other = handle(&url, &database, &MongoOptions::default()).await;
    let owner = UserId::new();
    let t = task(owner, "v1");
    dead.insert_task(&t).await.unwrap();
    let before = log(&other).await.len();

    let t2 = retitled(&t, "v2");
    dead.crash_at(CrashPoint::DocumentWritten);
    assert!(dead.replace_task(&t2).await.is_err());
    // The write is in the document: a read for update sees version 2 ...
    let current = other
        .get_task_for_update(Scope::All, t.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current, t2);
    // ... and a write conditioned on it logs version 2 before version 3.
    let t3 = retitled(&t2, "v3");
    assert!(other.replace_task(&t3).await.unwrap());
    // A stale write is still refused (and logs nothing).
    assert!(!other.replace_task(&retitled(&t, "stale")).await.unwrap());
    let logged: Vec<Change> = log_after(&other, before)
        .await
        .into_iter()
        .map(|e| e.change)
        .collect();
    assert_eq!(
        logged,
        [Change::TaskUpdated(t2), Change::TaskUpdated(t3.clone())]
    );

    // Same for a delete stopped after its tombstone: another delete finds nothing to
    // delete, logs the dead writer's deletion and removes the tombstone.
    dead.crash_at(CrashPoint::DocumentWritten);
    assert!(dead.delete_task(owner, t.id, None).await.is_err());
    assert!(!other.delete_task(owner, t.id, None).await.unwrap());
    assert_eq!(tombstones(&other).await, 0);
    let last = log(&other).await.pop().unwrap();
    assert_eq!(
        last.change,
        Change::TaskDeleted {
            task_id: t.id,
            owner_id: owner
        }
    );
    assert_eq!(other.get_task(Scope::All, t.id).await.unwrap(), None);

    // And for sessions: a logout-all over a session whose rotation was not logged.
    let s = session(owner, "h1");
    dead.insert_session(&s).await.unwrap();
    let rotation = SessionRotation {
        user_id: owner,
        id: s.id,
        presented_hash: "h1",
        new_hash: "h2",
        new_expires_at: Utc::now() + TimeDelta::days(2),
        now: Utc::now(),
    };
    dead.crash_at(CrashPoint::DocumentWritten);
    assert!(dead.rotate_session(&rotation).await.is_err());
    assert_eq!(other.revoke_user_sessions(owner, None).await.unwrap(), 1);
    let kinds: Vec<_> = log(&other)
        .await
        .iter()
        .rev()
        .take(2)
        .map(|e| e.change.clone())
        .collect();
    assert_eq!(
        kinds,
        [
            Change::SessionsChanged {
                user_id: owner,
                session_id: None
            },
            Change::SessionsChanged {
                user_id: owner,
                session_id: Some(s.id)
            },
        ]
    );
    assert_eq!(outboxes(&other).await, 0);
}

/// A delete that stopped after writing its tombstone has deleted the task for every reader
/// (gets, listings, counts, statistics), although its event is not logged yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tombstone_is_deleted_for_every_reader() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let dead = handle(&url, &database, &MongoOptions::default()).await;
    let reader = handle(&url, &database, &MongoOptions::default()).await;
    let owner = UserId::new();
    let (kept, doomed) = (task(owner, "kept"), task(owner, "doomed"));
    dead.insert_tasks(&[kept.clone(), doomed.clone()])
        .await
        .unwrap();
    dead.crash_at(CrashPoint::DocumentWritten);
    assert!(dead.delete_task(owner, doomed.id, None).await.is_err());
    assert_eq!(tombstones(&reader).await, 1);

    for scope in [Scope::All, Scope::Owner(owner)] {
        assert_eq!(reader.get_task(scope, doomed.id).await.unwrap(), None);
        let both = reader
            .get_tasks(scope, &[kept.id, doomed.id])
            .await
            .unwrap();
        assert_eq!(both, std::slice::from_ref(&kept));
        let request = ListRequest {
            filter: TaskFilter::scope(scope),
            sort: TaskSort::default(),
            limit: 10,
            pagination: Pagination::Page { number: 1 },
        };
        let page = reader.list_tasks(&request).await.unwrap();
        assert_eq!(page.items, std::slice::from_ref(&kept));
        assert_eq!(page.total, Some(1));
        let stats = StatsRequest {
            scope,
            as_of: Utc::now(),
        };
        assert_eq!(reader.task_stats(&stats).await.unwrap().total, 1);
    }
    assert!(!reader.replace_task(&retitled(&doomed, "x")).await.unwrap());
    assert_eq!(tombstones(&reader).await, 0, "the refused write logged it");
}

/// Readers run the recovery pass by themselves: a fresh handle's first read logs what a
/// dead writer left, and a handle with the default grace logs it once it is that old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_recover_dead_writers_events_by_themselves() {
    let Some((url, database)) = fresh_database() else {
        return;
    };
    let dead = handle(&url, &database, &MongoOptions::default()).await;
    let patient = handle(&url, &database, &MongoOptions::default()).await;
    let t = task(UserId::new(), "left behind");
    dead.crash_at(CrashPoint::DocumentWritten);
    let stopped = Instant::now();
    assert!(dead.insert_task(&t).await.is_err());

    // Younger than the default grace (2 s): left to its writer for now.
    let early = read_after(&patient, LogPosition::ZERO).await;
    assert!(early.events.is_empty() && early.caught_up);

    // Then logged by the patient handle's reads, after the grace.
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let batch = read_after(&patient, LogPosition::ZERO).await;
        if !batch.events.is_empty() {
            break batch.events;
        }
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        stopped.elapsed() >= Duration::from_secs(2),
        "not before the grace"
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, Change::TaskCreated(t.clone()));

    // An eager handle's first read does it at once.
    dead.crash_at(CrashPoint::DocumentWritten);
    let t2 = task(UserId::new(), "left behind too");
    assert!(dead.insert_task(&t2).await.is_err());
    let eager_reader = handle(&url, &database, &eager()).await;
    let batch = read_after(&eager_reader, events[0].position).await;
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].change, Change::TaskCreated(t2));
    assert_eq!(outboxes(&eager_reader).await, 0);
}
