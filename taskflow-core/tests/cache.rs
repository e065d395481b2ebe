//! Stale-read tests of the caching store: warm the cache, write through every write path,
//! and check the next read sees the write. Plus a race test over a deliberately slow store,
//! where readers hold old data while writers commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use taskflow_core::conformance::{Harness, PASSWORD};
use taskflow_core::*;

fn cached_memory() -> Arc<dyn Store> {
    Arc::new(Cached::new(
        Arc::new(MemoryStore::new()),
        Arc::new(MokaCache::default()),
    ))
}

/// A cached TaskFlow whose cache metrics can be read.
fn cached_flow() -> TaskFlow {
    TaskFlow::builder()
        .store(MemoryStore::new())
        .cache(MokaCache::default())
        .jwt_secret(taskflow_core::conformance::SECRET)
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .unwrap()
}

/// Waits until the handle's follower has applied every event appended so far and is
/// trusted by the cache.
async fn settle(tf: &TaskFlow) {
    let head = tf.change_head().await.unwrap();
    let status = tf.follower_status().expect("a follower");
    for _ in 0..5_000 {
        if status.position() >= head && status.is_following() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the follower did not catch up within 5 s");
}

fn reg(name: &str) -> Registration {
    taskflow_core::conformance::registration(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_reads_are_served_from_the_cache() {
    let tf = cached_flow();
    tf.register(reg("hits")).await.unwrap();
    let pair = tf.login("hits@example.com", PASSWORD, None).await.unwrap();
    let p = tf.authenticate(&pair.access_token).await.unwrap();
    let t = tf.create_task(&p, NewTask::new("cached")).await.unwrap();
    // The follower applies this handle's own writes too, and each invalidates what it
    // touches: let it apply them all before warming the cache.
    settle(&tf).await;
    tf.authenticate(&pair.access_token).await.unwrap();
    tf.get_task(&p, t.id).await.unwrap();
    tf.list_tasks(&p, TaskQuery::default()).await.unwrap();
    let before = tf.cache_metrics().unwrap().hits();
    for _ in 0..10 {
        tf.authenticate(&pair.access_token).await.unwrap();
        tf.get_task(&p, t.id).await.unwrap();
        tf.list_tasks(&p, TaskQuery::default()).await.unwrap();
    }
    // authenticate reads user + session; plus the task and the list page.
    assert_eq!(tf.cache_metrics().unwrap().hits() - before, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_reads_follow_every_task_write_path() {
    let h = Harness::new(cached_memory());
    let a = h.account("writer").await;
    let admin = h.admin("admin").await;
    let p = &a.principal;
    let t = h.task(p, NewTask::new("one")).await;
    let u = h.task(p, NewTask::new("two")).await;
    let warm = |h: &Harness, p: &Principal| {
        let (tf, p) = (h.tf.clone(), p.clone());
        async move {
            let own = tf.list_tasks(&p, TaskQuery::default()).await.unwrap();
            let stats = tf.task_stats(&p, None).await.unwrap();
            (own, stats)
        }
    };

    // update
    warm(&h, p).await;
    warm(&h, &admin.principal).await;
    h.tf.get_task(p, t.id).await.unwrap();
    let t2 =
        h.tf.update_task(p, t.id, TaskPatch::default().title("uno"), None)
            .await
            .unwrap();
    assert_eq!(h.tf.get_task(p, t.id).await.unwrap(), t2);
    assert!(warm(&h, p).await.0.items.contains(&t2));
    assert!(
        warm(&h, &admin.principal).await.0.items.contains(&t2),
        "all-owner listing"
    );

    // bulk
    let n =
        h.tf.bulk_set_status(p, &[t.id, u.id], "done")
            .await
            .unwrap();
    assert_eq!(n, 2);
    assert_eq!(h.tf.get_task(p, u.id).await.unwrap().status, Status::Done);
    assert_eq!(warm(&h, p).await.1.by_status.done, 2);
    assert_eq!(warm(&h, &admin.principal).await.1.by_status.done, 2);

    // admin writes to someone else's task
    h.tf.get_task(p, u.id).await.unwrap();
    let u2 =
        h.tf.update_task(
            &admin.principal,
            u.id,
            TaskPatch::default().title("moderated"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(h.tf.get_task(p, u.id).await.unwrap(), u2);
    assert!(warm(&h, p).await.0.items.contains(&u2));

    // delete
    h.tf.delete_task(p, t.id, None).await.unwrap();
    assert_eq!(
        h.tf.get_task(p, t.id).await.unwrap_err().code(),
        "not_found"
    );
    let (own, stats) = warm(&h, p).await;
    assert_eq!(own.items, vec![u2.clone()]);
    assert_eq!(stats.total, 1);

    // create
    let v = h.task(p, NewTask::new("three")).await;
    assert_eq!(warm(&h, p).await.0.items[0], v);
    assert_eq!(warm(&h, &admin.principal).await.1.total, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_follows_every_account_write_path() {
    let h = Harness::new(cached_memory());
    let admin = h.admin("admin").await;
    let a = h.account("subject").await;
    let token = a.tokens.access_token.clone();

    // role change
    h.tf.authenticate(&token).await.unwrap();
    let upd = UserUpdate {
        role: Some("admin".into()),
        disabled: None,
    };
    h.tf.update_user(&admin.principal, a.user.id, upd)
        .await
        .unwrap();
    assert_eq!(h.tf.authenticate(&token).await.unwrap().role, Role::admin());
    let upd = UserUpdate {
        role: Some("user".into()),
        disabled: None,
    };
    h.tf.update_user(&admin.principal, a.user.id, upd)
        .await
        .unwrap();
    assert_eq!(h.tf.authenticate(&token).await.unwrap().role, Role::user());

    // profile
    h.tf.me(&a.principal).await.unwrap();
    h.tf.update_me(
        &a.principal,
        ProfileUpdate {
            name: Some("Renamed".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(h.tf.me(&a.principal).await.unwrap().name, "Renamed");

    // password change ends the other session
    let other =
        h.tf.login("subject@example.com", PASSWORD, None)
            .await
            .unwrap();
    h.tf.authenticate(&other.access_token).await.unwrap();
    h.tf.change_password(&a.principal, PASSWORD, "another long password", None)
        .await
        .unwrap();
    assert!(h.tf.authenticate(&other.access_token).await.is_err());
    h.tf.authenticate(&token).await.unwrap();

    // refresh rotation then reuse
    let rotated = h.tf.refresh(&a.tokens.refresh_token).await.unwrap();
    h.tf.authenticate(&rotated.access_token).await.unwrap();
    assert!(h.tf.refresh(&a.tokens.refresh_token).await.is_err());
    assert!(h.tf.authenticate(&rotated.access_token).await.is_err());

    // logout
    let s =
        h.tf.login("subject@example.com", "another long password", None)
            .await
            .unwrap();
    let p = h.tf.authenticate(&s.access_token).await.unwrap();
    h.tf.logout(&p, Some(&s.refresh_token)).await.unwrap();
    assert!(h.tf.authenticate(&s.access_token).await.is_err());

    // logout-all
    let s =
        h.tf.login("subject@example.com", "another long password", None)
            .await
            .unwrap();
    let p = h.tf.authenticate(&s.access_token).await.unwrap();
    h.tf.logout_all(&p).await.unwrap();
    assert!(h.tf.authenticate(&s.access_token).await.is_err());

    // disable
    let s =
        h.tf.login("subject@example.com", "another long password", None)
            .await
            .unwrap();
    h.tf.authenticate(&s.access_token).await.unwrap();
    let upd = UserUpdate {
        role: None,
        disabled: Some(true),
    };
    h.tf.update_user(&admin.principal, a.user.id, upd)
        .await
        .unwrap();
    assert!(h.tf.authenticate(&s.access_token).await.is_err());
}

tokio::task_local! {
    /// Set in reader tasks: their store reads are slow, the writer's are not.
    static SLOW_READER: bool;
}

/// Delays reads of reader tasks so that they hold old data across the writer's writes.
struct SlowReads {
    inner: MemoryStore,
}

impl SlowReads {
    async fn pause(&self) {
        if SLOW_READER.try_with(|slow| *slow).unwrap_or(false) {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
}

#[async_trait]
impl UserStore for SlowReads {
    async fn insert_user(&self, u: &UserRecord) -> Result<()> {
        self.inner.insert_user(u).await
    }
    async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        let r = self.inner.get_user(id).await;
        self.pause().await;
        r
    }
    async fn get_user_by_email(&self, e: &str) -> Result<Option<UserRecord>> {
        self.inner.get_user_by_email(e).await
    }
    async fn replace_user(&self, u: &UserRecord, k: bool) -> Result<bool> {
        self.inner.replace_user(u, k).await
    }
    async fn list_users(&self, r: &UserListRequest) -> Result<(Vec<User>, u64)> {
        self.inner.list_users(r).await
    }
}

#[async_trait]
impl SessionStore for SlowReads {
    async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        self.inner.insert_session(s).await
    }
    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        let r = self.inner.get_session(id).await;
        self.pause().await;
        r
    }
    async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool> {
        self.inner.rotate_session(r).await
    }
    async fn revoke_session(&self, u: UserId, id: SessionId) -> Result<()> {
        self.inner.revoke_session(u, id).await
    }
    async fn revoke_user_sessions(&self, u: UserId, x: Option<SessionId>) -> Result<u64> {
        self.inner.revoke_user_sessions(u, x).await
    }
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        self.inner.purge_expired_sessions(now).await
    }
}

#[async_trait]
impl TaskStore for SlowReads {
    async fn insert_task(&self, t: &Task) -> Result<()> {
        self.inner.insert_task(t).await
    }
    async fn get_task(&self, s: Scope, id: TaskId) -> Result<Option<Task>> {
        let r = self.inner.get_task(s, id).await;
        self.pause().await;
        r
    }
    async fn get_tasks(&self, s: Scope, ids: &[TaskId]) -> Result<Vec<Task>> {
        self.inner.get_tasks(s, ids).await
    }
    async fn replace_task(&self, t: &Task) -> Result<bool> {
        self.inner.replace_task(t).await
    }
    async fn delete_task(&self, o: UserId, id: TaskId, v: Option<u64>) -> Result<bool> {
        self.inner.delete_task(o, id, v).await
    }
    async fn list_tasks(&self, r: &ListRequest) -> Result<TaskSlice> {
        let res = self.inner.list_tasks(r).await;
        self.pause().await;
        res
    }
    async fn task_stats(&self, r: &StatsRequest) -> Result<TaskStats> {
        let res = self.inner.task_stats(r).await;
        self.pause().await;
        res
    }
}

#[async_trait]
impl ChangeLog for SlowReads {
    async fn read_changes(&self, s: Scope, a: LogPosition, n: usize) -> Result<ChangeBatch> {
        self.inner.read_changes(s, a, n).await
    }
    async fn change_head(&self) -> Result<LogPosition> {
        self.inner.change_head().await
    }
    async fn prune_changes(&self, b: DateTime<Utc>) -> Result<u64> {
        self.inner.prune_changes(b).await
    }
    async fn wait_for_changes(&self, a: LogPosition, t: Duration) {
        self.inner.wait_for_changes(a, t).await
    }
}

#[async_trait]
impl SharedState for SlowReads {
    async fn get_shared(&self, k: &str, now: DateTime<Utc>) -> Result<Option<SharedRecord>> {
        self.inner.get_shared(k, now).await
    }
    async fn put_shared(
        &self,
        k: &str,
        v: &str,
        e: Option<u64>,
        x: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        self.inner.put_shared(k, v, e, x, now).await
    }
    async fn purge_shared(&self, now: DateTime<Utc>) -> Result<u64> {
        self.inner.purge_shared(now).await
    }
}

#[async_trait]
impl Store for SlowReads {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_reads_never_plant_stale_entries() {
    let slow = Arc::new(SlowReads {
        inner: MemoryStore::new(),
    });
    let tf = TaskFlow::builder()
        .shared_store(slow.clone())
        .cache(MokaCache::default())
        .jwt_secret(taskflow_core::conformance::SECRET)
        .password_params(PasswordParams::insecure_fast_for_tests())
        .build()
        .unwrap();
    tf.register(reg("racer")).await.unwrap();
    let pair = tf.login("racer@example.com", PASSWORD, None).await.unwrap();
    let p = tf.authenticate(&pair.access_token).await.unwrap();
    let t = tf.create_task(&p, NewTask::new("v0")).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (tf, p, stop) = (tf.clone(), p.clone(), Arc::clone(&stop));
        readers.push(tokio::spawn(SLOW_READER.scope(true, async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = tf.get_task(&p, t.id).await;
                let _ = tf.list_tasks(&p, TaskQuery::default()).await;
                let _ = tf.task_stats(&p, None).await;
                // Cache hits complete without awaiting anything; let the writer run.
                tokio::task::yield_now().await;
            }
        })));
    }
    for i in 1..=100 {
        let title = format!("v{i}");
        let status = if i % 2 == 0 { "done" } else { "todo" };
        let patch = TaskPatch {
            title: Some(title.clone()),
            status: Some(status.into()),
            ..Default::default()
        };
        tf.update_task(&p, t.id, patch, None).await.unwrap();
        // Every read that starts after the write returned sees it: right away, and after
        // the readers' slow reads that started before the write have finished.
        for delay in [0, 4] {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            assert_eq!(
                tf.get_task(&p, t.id).await.unwrap().title,
                title,
                "get after write {i}"
            );
            let listed = tf.list_tasks(&p, TaskQuery::default()).await.unwrap();
            assert_eq!(listed.items[0].title, title, "list after write {i}");
            let done = tf.task_stats(&p, None).await.unwrap().by_status.done;
            assert_eq!(done, u64::from(i % 2 == 0), "stats after write {i}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_cache_stays_correct_under_eviction() {
    let store: Arc<dyn Store> = Arc::new(Cached::new(
        Arc::new(MemoryStore::new()),
        Arc::new(MokaCache::new(CacheConfig {
            max_entries: 2,
            ttl: Duration::from_millis(50),
        })),
    ));
    let h = Harness::new(store);
    let a = h.account("tiny").await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        tasks.push(h.task(&a.principal, NewTask::new(format!("t{i}"))).await);
    }
    for (i, t) in tasks.iter().enumerate() {
        let got = h.tf.get_task(&a.principal, t.id).await.unwrap();
        assert_eq!(&got, t, "task {i}");
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        h.tf.list_tasks(
            &a.principal,
            TaskQuery {
                limit: Some(100),
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .items
        .len(),
        20
    );
}
