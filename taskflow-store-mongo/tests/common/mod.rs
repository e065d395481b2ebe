//! Helpers of the change-log tests: handles on one fresh database, domain values, and what
//! the database holds beyond the store's API (outboxes, tombstones, event documents).

#![allow(dead_code)]

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mongodb::bson::{Document, doc};
use taskflow_core::{
    ChangeEvent, LogPosition, Priority, Role, Scope, SessionId, SessionRecord, Status, Store, Task,
    TaskId, User, UserId, UserRecord,
};
use taskflow_store_mongo::{ChangeStreams, MongoOptions, MongoStore};

/// A fresh database name on the test server, or `None` (skipped) without one.
pub fn fresh_database() -> Option<(String, String)> {
    let url = taskflow_test_support::mongo_url()?;
    Some((url, taskflow_test_support::unique_name("c_")))
}

/// Options of a handle whose recovery pass logs every outbox it finds, however young.
pub fn eager() -> MongoOptions {
    MongoOptions {
        recovery_grace: Duration::ZERO,
        change_streams: ChangeStreams::Disabled,
        ..MongoOptions::default()
    }
}

/// Another handle (its own client and change-log state) on the database.
pub async fn handle(url: &str, database: &str, options: &MongoOptions) -> MongoStore {
    MongoStore::open_database(url, Some(database), options)
        .await
        .expect("open MongoDB store")
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().unwrap()
}

pub fn user(name: &str) -> UserRecord {
    UserRecord {
        user: User {
            id: UserId::new(),
            email: format!("{name}@example.com"),
            name: name.to_owned(),
            role: Role::new(Role::USER),
            disabled: false,
            created_at: t0(),
            updated_at: t0(),
        },
        password_hash: "$argon2id$not-a-real-hash".to_owned(),
        version: 1,
    }
}

pub fn task(owner: UserId, title: &str) -> Task {
    Task {
        id: TaskId::new(),
        owner_id: owner,
        title: title.to_owned(),
        description: None,
        status: Status::Todo,
        priority: Priority::Medium,
        due_date: None,
        tags: vec!["x".to_owned()],
        created_at: t0(),
        updated_at: t0(),
        completed_at: None,
        version: 1,
    }
}

/// The next version of `t`, retitled.
pub fn retitled(t: &Task, title: &str) -> Task {
    Task {
        title: title.to_owned(),
        version: t.version + 1,
        updated_at: t.updated_at + chrono::TimeDelta::milliseconds(1),
        ..t.clone()
    }
}

pub fn session(user_id: UserId, hash: &str) -> SessionRecord {
    SessionRecord {
        id: SessionId::new(),
        user_id,
        token_hash: hash.to_owned(),
        revoked: false,
        created_at: t0(),
        expires_at: Utc::now() + chrono::TimeDelta::days(1),
        generation: 0,
    }
}

/// Every event in the log, oldest first.
pub async fn log(store: &MongoStore) -> Vec<ChangeEvent> {
    taskflow_core::conformance::whole_log(store as &dyn Store).await
}

/// The events after `n` ones.
pub async fn log_after(store: &MongoStore, n: usize) -> Vec<ChangeEvent> {
    log(store).await.split_off(n)
}

/// Documents of users, sessions and tasks whose outbox still holds an event.
pub async fn outboxes(store: &MongoStore) -> u64 {
    let mut n = 0;
    for coll in ["users", "sessions", "tasks"] {
        n += store
            .database()
            .collection::<Document>(coll)
            .count_documents(doc! { "pend": { "$gt": "" } })
            .await
            .unwrap();
    }
    n
}

/// Tombstones (deleted tasks whose event was not logged yet).
pub async fn tombstones(store: &MongoStore) -> u64 {
    store
        .database()
        .collection::<Document>("tasks")
        .count_documents(doc! { "deleted": 1 })
        .await
        .unwrap()
}

/// Stored event documents, whatever their position.
pub async fn stored_events(store: &MongoStore) -> Vec<Document> {
    use futures_util::TryStreamExt;
    store
        .database()
        .collection::<Document>("events")
        .find(doc! {})
        .sort(doc! { "pos": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// Asserts that positions strictly increase by one from the first.
#[track_caller]
pub fn assert_consecutive(events: &[ChangeEvent]) {
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].position,
            LogPosition::from_seq(pair[0].position.minor() + 1),
            "positions follow each other without a hole: {:?} then {:?}",
            pair[0].position,
            pair[1].position
        );
    }
}

/// A read of everything after `after` in one batch.
pub async fn read_after(store: &MongoStore, after: LogPosition) -> taskflow_core::ChangeBatch {
    use taskflow_core::ChangeLog;
    store
        .read_changes(Scope::All, after, 1000)
        .await
        .expect("read_changes")
}
