//! The caching store wrapper.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dashmap::DashMap;

use super::{Cache, CacheEntry, CacheKey, CacheMetrics, CacheValue};
use crate::auth::SessionRecord;
use crate::changes::{Change, ChangeBatch, FollowerStatus, LogPosition};
use crate::error::Result;
use crate::ids::{SessionId, TaskId, UserId};
use crate::query::{ListRequest, TaskSlice};
use crate::rbac::Scope;
use crate::stats::{StatsRequest, TaskStats};
use crate::store::{
    ChangeLog, SessionRotation, SessionStore, SharedRecord, SharedState, Store, TaskStore,
    UserStore,
};
use crate::task::Task;
use crate::user::{User, UserListRequest, UserRecord};

/// A store that reads through a [`Cache`] and invalidates on every write (see the
/// [module docs](crate::cache) for the stamp scheme and its guarantee).
///
/// Cached: users and sessions by id (what `authenticate` reads), tasks by id, task list
/// pages and stats. Not cached: reads by email, user listings, bulk reads, and
/// [`SharedState`] (every call goes to the store: its records are what instances agree on).
///
/// Writes made by other instances reach the cache through [`apply`](Self::apply), which a
/// [`Follower`](crate::Follower) calls for every event of the change log; with
/// [`trust_only_while`](Self::trust_only_while), entries are served only while the
/// follower has proved recently that it is caught up, and reads go to the store otherwise.
pub struct Cached {
    store: Arc<dyn Store>,
    cache: Arc<dyn Cache>,
    metrics: Arc<CacheMetrics>,
    /// Ticks once per write.
    counter: AtomicU64,
    /// Per user: counter after the latest write to the user record.
    user_marks: DashMap<UserId, u64>,
    /// Per user: counter after the latest write to one of their sessions (kept apart from
    /// `user_marks` so a refresh does not evict the user entry `authenticate` reads).
    session_marks: DashMap<UserId, u64>,
    /// Per task owner: counter after the latest write to one of their tasks.
    owner_marks: DashMap<UserId, u64>,
    /// Counter after the latest task write of any owner (for all-owner listings and stats).
    any_owner_mark: AtomicU64,
    /// Counter after the latest write that touched sessions of unknown users (purges).
    any_session_mark: AtomicU64,
    /// Counter after the latest "forget everything" (a follower that lost its place).
    floor: AtomicU64,
    /// When set, entries are served only while it reports the log followed.
    trust: Option<Arc<FollowerStatus>>,
}

impl Cached {
    /// Wraps `store` with `cache`.
    pub fn new(store: Arc<dyn Store>, cache: Arc<dyn Cache>) -> Self {
        Self {
            store,
            cache,
            metrics: Arc::default(),
            counter: AtomicU64::new(0),
            user_marks: DashMap::new(),
            session_marks: DashMap::new(),
            owner_marks: DashMap::new(),
            any_owner_mark: AtomicU64::new(0),
            any_session_mark: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            trust: None,
        }
    }

    /// Serves cached entries only while `status` reports the change log followed
    /// ([`FollowerStatus::is_following`]); otherwise every read goes to the store.
    pub fn trust_only_while(mut self, status: Arc<FollowerStatus>) -> Self {
        self.trust = Some(status);
        self
    }

    /// Drops what the cache holds that `change` (an event of the change log, possibly from
    /// another instance) makes stale.
    pub fn apply(&self, change: &Change) {
        match change {
            Change::TaskCreated(t) | Change::TaskUpdated(t) => self.wrote_tasks_of(t.owner_id),
            Change::TaskDeleted { owner_id, .. } => self.wrote_tasks_of(*owner_id),
            Change::UserChanged { user_id } => self.wrote_user(*user_id),
            Change::SessionsChanged { user_id, .. } => self.wrote_sessions_of(*user_id),
        }
    }

    /// Makes every entry stale at once (the follower could not tell what it missed).
    pub fn invalidate_all(&self) {
        let s = self.tick();
        self.floor.fetch_max(s, Ordering::SeqCst);
    }

    /// Hit and miss counters.
    pub fn metrics(&self) -> Arc<CacheMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Stamp for an entry about to be read from the store.
    fn stamp(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    fn tick(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn raise(marks: &DashMap<UserId, u64>, id: UserId, to: u64) {
        marks
            .entry(id)
            .and_modify(|m| *m = (*m).max(to))
            .or_insert(to);
    }

    /// Called after (not before) every user write, whatever its outcome.
    fn wrote_user(&self, id: UserId) {
        let s = self.tick();
        Self::raise(&self.user_marks, id, s);
    }

    /// Called after (not before) every session write, whatever its outcome.
    fn wrote_sessions_of(&self, user: UserId) {
        let s = self.tick();
        Self::raise(&self.session_marks, user, s);
    }

    /// Called after (not before) every task write, whatever its outcome.
    fn wrote_tasks_of(&self, owner: UserId) {
        let s = self.tick();
        Self::raise(&self.owner_marks, owner, s);
        self.any_owner_mark.fetch_max(s, Ordering::SeqCst);
    }

    fn wrote_tasks(&self, tasks: &[Task]) {
        let mut owners: Vec<UserId> = tasks.iter().map(|t| t.owner_id).collect();
        owners.sort_unstable();
        owners.dedup();
        for owner in owners {
            self.wrote_tasks_of(owner);
        }
    }

    fn mark(marks: &DashMap<UserId, u64>, id: UserId) -> u64 {
        marks.get(&id).map_or(0, |m| *m)
    }

    fn scope_mark(&self, scope: Scope) -> u64 {
        match scope {
            Scope::All => self.any_owner_mark.load(Ordering::SeqCst),
            Scope::Owner(o) => Self::mark(&self.owner_marks, o),
        }
    }

    /// The cached value of `key` if its stamp is still valid for the mark `mark_of` derives
    /// from it; stale entries are dropped.
    fn lookup(
        &self,
        key: &CacheKey,
        mark_of: impl FnOnce(&CacheValue) -> u64,
    ) -> Option<CacheValue> {
        if self.trust.as_ref().is_some_and(|t| !t.is_following()) {
            return None;
        }
        let entry = self.cache.get(key)?;
        let floor = self.floor.load(Ordering::SeqCst);
        if entry.stamp >= mark_of(&entry.value).max(floor) {
            self.metrics.hit();
            Some(entry.value)
        } else {
            self.cache.invalidate(key);
            None
        }
    }

    fn store_entry(&self, key: CacheKey, stamp: u64, value: CacheValue) {
        self.cache.insert(key, CacheEntry { stamp, value });
    }
}

#[async_trait]
impl UserStore for Cached {
    async fn insert_user(&self, user: &UserRecord) -> Result<()> {
        let r = self.store.insert_user(user).await;
        self.wrote_user(user.user.id);
        r
    }

    async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        let key = CacheKey::User(id);
        if let Some(CacheValue::User(u)) = self.lookup(&key, |_| Self::mark(&self.user_marks, id)) {
            return Ok(Some(UserRecord::clone(&u)));
        }
        self.metrics.miss();
        let stamp = self.stamp();
        let user = self.store.get_user(id).await?;
        if let Some(u) = &user {
            self.store_entry(key, stamp, CacheValue::User(Arc::new(u.clone())));
        }
        Ok(user)
    }

    async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        self.store.get_user_by_email(email).await
    }

    async fn replace_user(&self, user: &UserRecord, keep_an_active_admin: bool) -> Result<bool> {
        let r = self.store.replace_user(user, keep_an_active_admin).await;
        self.wrote_user(user.user.id);
        r
    }

    async fn list_users(&self, request: &UserListRequest) -> Result<(Vec<User>, u64)> {
        self.store.list_users(request).await
    }
}

#[async_trait]
impl SessionStore for Cached {
    async fn insert_session(&self, session: &SessionRecord) -> Result<()> {
        self.store.insert_session(session).await
    }

    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        let key = CacheKey::Session(id);
        let marks = &self.session_marks;
        let floor = self.any_session_mark.load(Ordering::SeqCst);
        if let Some(CacheValue::Session(s)) = self.lookup(&key, |v| match v {
            CacheValue::Session(s) => Self::mark(marks, s.user_id).max(floor),
            _ => u64::MAX,
        }) {
            return Ok(Some(SessionRecord::clone(&s)));
        }
        self.metrics.miss();
        let stamp = self.stamp();
        let session = self.store.get_session(id).await?;
        if let Some(s) = &session {
            self.store_entry(key, stamp, CacheValue::Session(Arc::new(s.clone())));
        }
        Ok(session)
    }

    async fn rotate_session(&self, rotation: &SessionRotation<'_>) -> Result<bool> {
        let r = self.store.rotate_session(rotation).await;
        self.wrote_sessions_of(rotation.user_id);
        r
    }

    async fn revoke_session(&self, user_id: UserId, id: SessionId) -> Result<()> {
        let r = self.store.revoke_session(user_id, id).await;
        self.wrote_sessions_of(user_id);
        r
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
    ) -> Result<u64> {
        let r = self.store.revoke_user_sessions(user_id, except).await;
        self.wrote_sessions_of(user_id);
        r
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let r = self.store.purge_expired_sessions(now).await;
        let s = self.tick();
        self.any_session_mark.fetch_max(s, Ordering::SeqCst);
        r
    }
}

#[async_trait]
impl TaskStore for Cached {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        let r = self.store.insert_task(task).await;
        self.wrote_tasks_of(task.owner_id);
        r
    }

    async fn get_task(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        let key = CacheKey::Task(id);
        let marks = &self.owner_marks;
        if let Some(CacheValue::Task(t)) = self.lookup(&key, |v| match v {
            CacheValue::Task(t) => Self::mark(marks, t.owner_id),
            _ => u64::MAX,
        }) {
            return Ok(scope.contains(t.owner_id).then(|| Task::clone(&t)));
        }
        self.metrics.miss();
        let stamp = self.stamp();
        let task = self.store.get_task(scope, id).await?;
        if let Some(t) = &task {
            self.store_entry(key, stamp, CacheValue::Task(Arc::new(t.clone())));
        }
        Ok(task)
    }

    async fn get_task_for_update(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        self.store.get_task_for_update(scope, id).await
    }

    async fn insert_tasks(&self, tasks: &[Task]) -> Result<()> {
        let r = self.store.insert_tasks(tasks).await;
        self.wrote_tasks(tasks);
        r
    }

    async fn get_tasks(&self, scope: Scope, ids: &[TaskId]) -> Result<Vec<Task>> {
        self.store.get_tasks(scope, ids).await
    }

    async fn replace_task(&self, task: &Task) -> Result<bool> {
        let r = self.store.replace_task(task).await;
        self.wrote_tasks_of(task.owner_id);
        r
    }

    async fn replace_tasks(&self, tasks: &[Task]) -> Result<Vec<TaskId>> {
        let r = self.store.replace_tasks(tasks).await;
        self.wrote_tasks(tasks);
        r
    }

    async fn delete_task(
        &self,
        owner: UserId,
        id: TaskId,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        let r = self.store.delete_task(owner, id, expected_version).await;
        self.wrote_tasks_of(owner);
        r
    }

    async fn list_tasks(&self, request: &ListRequest) -> Result<TaskSlice> {
        let key = CacheKey::TaskList(Box::new(request.clone()));
        let mark = self.scope_mark(request.filter.scope);
        if let Some(CacheValue::TaskList(slice)) = self.lookup(&key, |_| mark) {
            return Ok(TaskSlice::clone(&slice));
        }
        self.metrics.miss();
        let stamp = self.stamp();
        let slice = self.store.list_tasks(request).await?;
        self.store_entry(key, stamp, CacheValue::TaskList(Arc::new(slice.clone())));
        Ok(slice)
    }

    async fn task_stats(&self, request: &StatsRequest) -> Result<TaskStats> {
        let key = CacheKey::Stats(*request);
        let mark = self.scope_mark(request.scope);
        if let Some(CacheValue::Stats(stats)) = self.lookup(&key, |_| mark) {
            return Ok(*stats);
        }
        self.metrics.miss();
        let stamp = self.stamp();
        let stats = self.store.task_stats(request).await?;
        self.store_entry(key, stamp, CacheValue::Stats(Arc::new(stats)));
        Ok(stats)
    }
}

#[async_trait]
impl Store for Cached {
    async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }
}

#[async_trait]
impl ChangeLog for Cached {
    async fn read_changes(
        &self,
        scope: Scope,
        after: LogPosition,
        limit: usize,
    ) -> Result<ChangeBatch> {
        self.store.read_changes(scope, after, limit).await
    }

    async fn change_head(&self) -> Result<LogPosition> {
        self.store.change_head().await
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64> {
        self.store.prune_changes(before).await
    }

    async fn wait_for_changes(&self, after: LogPosition, timeout: std::time::Duration) {
        self.store.wait_for_changes(after, timeout).await
    }

    fn observe(&self, change: &Change) {
        self.store.observe(change);
    }
}

/// Never cached: a shared record is what every instance must agree on, and each of its
/// writes is conditioned on the version just read from the store.
#[async_trait]
impl SharedState for Cached {
    async fn get_shared(&self, key: &str, now: DateTime<Utc>) -> Result<Option<SharedRecord>> {
        self.store.get_shared(key, now).await
    }

    async fn put_shared(
        &self,
        key: &str,
        value: &str,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        self.store
            .put_shared(key, value, expected, expires_at, now)
            .await
    }

    async fn purge_shared(&self, now: DateTime<Utc>) -> Result<u64> {
        self.store.purge_shared(now).await
    }
}
