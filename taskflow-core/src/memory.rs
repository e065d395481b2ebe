//! The in-memory store: the reference implementation of the storage contract, for tests,
//! prototypes and embedders that need no persistence. Every operation runs under one lock,
//! so each is atomic; queries scan, which is fine for the data sizes it is meant for.

use std::collections::{BTreeSet, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::auth::SessionRecord;
use crate::changes::{Change, ChangeBatch, ChangeEvent, LogPosition};
use crate::clock::to_millis;
use crate::error::{Conflict, Error, Result};
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

/// A [`Store`] that keeps everything in process memory.
#[derive(Default)]
pub struct MemoryStore {
    data: RwLock<Data>,
    /// Woken after every append, for [`ChangeLog::wait_for_changes`].
    appended: tokio::sync::Notify,
}

#[derive(Default)]
struct Data {
    users: HashMap<UserId, UserRecord>,
    emails: HashMap<String, UserId>,
    sessions: HashMap<SessionId, SessionRecord>,
    tasks: HashMap<TaskId, Task>,
    tasks_by_owner: HashMap<UserId, BTreeSet<TaskId>>,
    /// The change log, oldest first.
    log: Vec<ChangeEvent>,
    /// Sequence of the newest event ever appended.
    last_seq: u64,
    /// Position of the newest pruned event.
    horizon: LogPosition,
    /// [`SharedState`] records, expired ones included until purged.
    shared: HashMap<String, SharedRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Data> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Data> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a write under the lock and wakes the log's waiters if it appended.
    fn write_logged<T>(&self, f: impl FnOnce(&mut Data) -> T) -> T {
        let (out, appended) = {
            let mut data = self.write();
            let before = data.last_seq;
            let out = f(&mut data);
            (out, data.last_seq != before)
        };
        if appended {
            self.appended.notify_waiters();
        }
        out
    }
}

impl Data {
    fn append(&mut self, change: Change) {
        self.last_seq += 1;
        self.log.push(ChangeEvent {
            position: LogPosition::from_seq(self.last_seq),
            at: to_millis(Utc::now()),
            change,
        });
    }

    fn visible(&self, scope: Scope) -> Box<dyn Iterator<Item = &Task> + '_> {
        match scope {
            Scope::All => Box::new(self.tasks.values()),
            Scope::Owner(owner) => Box::new(
                self.tasks_by_owner
                    .get(&owner)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| self.tasks.get(id)),
            ),
        }
    }

    fn version_matches(&self, task: &Task) -> bool {
        self.tasks
            .get(&task.id)
            .is_some_and(|t| t.owner_id == task.owner_id && t.version + 1 == task.version)
    }

    fn active_admins_after(&self, next: &UserRecord) -> usize {
        self.users
            .values()
            .map(|u| if u.user.id == next.user.id { next } else { u })
            .filter(|u| u.user.role.is_admin() && !u.user.disabled)
            .count()
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<()> {
        self.write_logged(|data| {
            if data.emails.contains_key(&user.user.email) {
                return Err(Conflict::EmailTaken.into());
            }
            if data.users.contains_key(&user.user.id) {
                return Err(Conflict::IdTaken("user").into());
            }
            data.emails.insert(user.user.email.clone(), user.user.id);
            data.users.insert(user.user.id, user.clone());
            data.append(Change::UserChanged {
                user_id: user.user.id,
            });
            Ok(())
        })
    }

    async fn get_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        Ok(self.read().users.get(&id).cloned())
    }

    async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let data = self.read();
        Ok(data
            .emails
            .get(email)
            .and_then(|id| data.users.get(id))
            .cloned())
    }

    async fn replace_user(&self, user: &UserRecord, keep_an_active_admin: bool) -> Result<bool> {
        self.write_logged(|data| {
            let Some(current) = data.users.get(&user.user.id) else {
                return Ok(false);
            };
            if current.version + 1 != user.version {
                return Ok(false);
            }
            let old_email = current.user.email.clone();
            if old_email != user.user.email && data.emails.contains_key(&user.user.email) {
                return Err(Conflict::EmailTaken.into());
            }
            if keep_an_active_admin && data.active_admins_after(user) == 0 {
                return Err(Conflict::LastActiveAdmin.into());
            }
            if old_email != user.user.email {
                data.emails.remove(&old_email);
                data.emails.insert(user.user.email.clone(), user.user.id);
            }
            data.users.insert(user.user.id, user.clone());
            data.append(Change::UserChanged {
                user_id: user.user.id,
            });
            Ok(true)
        })
    }

    async fn list_users(&self, request: &UserListRequest) -> Result<(Vec<User>, u64)> {
        let data = self.read();
        let mut users: Vec<&User> = data
            .users
            .values()
            .map(|r| &r.user)
            .filter(|u| request.role.as_ref().is_none_or(|r| u.role == *r))
            .filter(|u| {
                request.q.as_ref().is_none_or(|q| {
                    u.email.contains(q.as_str()) || u.name.to_lowercase().contains(q.as_str())
                })
            })
            .collect();
        users.sort_by_key(|u| u.id);
        let total = users.len() as u64;
        let items = users
            .into_iter()
            .skip(usize::try_from(request.offset).unwrap_or(usize::MAX))
            .take(request.limit as usize)
            .cloned()
            .collect();
        Ok((items, total))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, session: &SessionRecord) -> Result<()> {
        self.write().sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn get_session(&self, id: SessionId) -> Result<Option<SessionRecord>> {
        Ok(self.read().sessions.get(&id).cloned())
    }

    async fn rotate_session(&self, r: &SessionRotation<'_>) -> Result<bool> {
        self.write_logged(|data| match data.sessions.get_mut(&r.id) {
            Some(s)
                if s.user_id == r.user_id
                    && s.is_active(r.now)
                    && s.token_hash == r.presented_hash =>
            {
                s.token_hash = r.new_hash.to_owned();
                s.expires_at = r.new_expires_at;
                s.generation += 1;
                data.append(Change::SessionsChanged {
                    user_id: r.user_id,
                    session_id: Some(r.id),
                });
                Ok(true)
            }
            _ => Ok(false),
        })
    }

    async fn revoke_session(&self, user_id: UserId, id: SessionId) -> Result<()> {
        self.write_logged(|data| {
            if let Some(s) = data.sessions.get_mut(&id)
                && s.user_id == user_id
                && !s.revoked
            {
                s.revoked = true;
                data.append(Change::SessionsChanged {
                    user_id,
                    session_id: Some(id),
                });
            }
        });
        Ok(())
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
    ) -> Result<u64> {
        self.write_logged(|data| {
            let mut n = 0;
            for s in data.sessions.values_mut() {
                if s.user_id == user_id && !s.revoked && Some(s.id) != except {
                    s.revoked = true;
                    n += 1;
                }
            }
            if n > 0 {
                data.append(Change::SessionsChanged {
                    user_id,
                    session_id: None,
                });
            }
            Ok(n)
        })
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut data = self.write();
        let before = data.sessions.len();
        data.sessions.retain(|_, s| s.expires_at > now);
        Ok((before - data.sessions.len()) as u64)
    }
}

#[async_trait]
impl TaskStore for MemoryStore {
    async fn insert_task(&self, task: &Task) -> Result<()> {
        self.insert_tasks(std::slice::from_ref(task)).await
    }

    async fn insert_tasks(&self, tasks: &[Task]) -> Result<()> {
        self.write_logged(|data| {
            if tasks.iter().any(|t| data.tasks.contains_key(&t.id)) {
                return Err(Conflict::IdTaken("task").into());
            }
            for task in tasks {
                data.tasks_by_owner
                    .entry(task.owner_id)
                    .or_default()
                    .insert(task.id);
                data.tasks.insert(task.id, task.clone());
                data.append(Change::TaskCreated(task.clone()));
            }
            Ok(())
        })
    }

    async fn get_task(&self, scope: Scope, id: TaskId) -> Result<Option<Task>> {
        Ok(self
            .read()
            .tasks
            .get(&id)
            .filter(|t| scope.contains(t.owner_id))
            .cloned())
    }

    async fn get_tasks(&self, scope: Scope, ids: &[TaskId]) -> Result<Vec<Task>> {
        let data = self.read();
        Ok(ids
            .iter()
            .filter_map(|id| data.tasks.get(id))
            .filter(|t| scope.contains(t.owner_id))
            .cloned()
            .collect())
    }

    async fn replace_task(&self, task: &Task) -> Result<bool> {
        self.write_logged(|data| {
            if !data.version_matches(task) {
                return Ok(false);
            }
            data.tasks.insert(task.id, task.clone());
            data.append(Change::TaskUpdated(task.clone()));
            Ok(true)
        })
    }

    async fn replace_tasks(&self, tasks: &[Task]) -> Result<Vec<TaskId>> {
        self.write_logged(|data| {
            if !tasks.iter().all(|t| data.version_matches(t)) {
                return Ok(tasks.iter().map(|t| t.id).collect());
            }
            for task in tasks {
                data.tasks.insert(task.id, task.clone());
                data.append(Change::TaskUpdated(task.clone()));
            }
            Ok(Vec::new())
        })
    }

    async fn delete_task(
        &self,
        owner: UserId,
        id: TaskId,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        self.write_logged(|data| {
            let matches = data.tasks.get(&id).is_some_and(|t| {
                t.owner_id == owner && expected_version.is_none_or(|v| v == t.version)
            });
            if matches {
                data.tasks.remove(&id);
                if let Some(ids) = data.tasks_by_owner.get_mut(&owner) {
                    ids.remove(&id);
                }
                data.append(Change::TaskDeleted {
                    task_id: id,
                    owner_id: owner,
                });
            }
            Ok(matches)
        })
    }

    async fn list_tasks(&self, request: &ListRequest) -> Result<TaskSlice> {
        let data = self.read();
        let mut matching: Vec<&Task> = data
            .visible(request.filter.scope)
            .filter(|t| request.filter.matches(t))
            .collect();
        let total = request.wants_total().then_some(matching.len() as u64);
        matching.sort_by(|a, b| request.sort.compare(a, b));
        let after = request.after();
        let limit = request.limit as usize;
        let mut items: Vec<Task> = matching
            .into_iter()
            .filter(|t| after.is_none_or(|p| request.sort.compare_to(t, p).is_gt()))
            .skip(usize::try_from(request.offset()).unwrap_or(usize::MAX))
            .take(limit + 1)
            .cloned()
            .collect();
        let has_more = items.len() > limit;
        items.truncate(limit);
        Ok(TaskSlice {
            items,
            has_more,
            total,
        })
    }

    async fn task_stats(&self, request: &StatsRequest) -> Result<TaskStats> {
        let data = self.read();
        let mut stats = TaskStats::default();
        for task in data.visible(request.scope) {
            stats.add(task, request.as_of);
        }
        Ok(stats)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl SharedState for MemoryStore {
    async fn get_shared(&self, key: &str, now: DateTime<Utc>) -> Result<Option<SharedRecord>> {
        Ok(self
            .read()
            .shared
            .get(key)
            .filter(|r| r.expires_at > now)
            .cloned())
    }

    async fn put_shared(
        &self,
        key: &str,
        value: &str,
        expected: Option<u64>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>> {
        let mut data = self.write();
        let stored = data.shared.get(key);
        let live = stored.filter(|r| r.expires_at > now);
        let holds = match expected {
            None => live.is_none(),
            Some(v) => live.is_some_and(|r| r.version == v),
        };
        if !holds {
            return Ok(None);
        }
        let version = stored.map_or(1, |r| r.version + 1);
        data.shared.insert(
            key.to_owned(),
            SharedRecord {
                value: value.to_owned(),
                version,
                expires_at,
            },
        );
        Ok(Some(version))
    }

    async fn purge_shared(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut data = self.write();
        let before = data.shared.len();
        data.shared.retain(|_, r| r.expires_at > now);
        Ok((before - data.shared.len()) as u64)
    }
}

#[async_trait]
impl ChangeLog for MemoryStore {
    async fn read_changes(
        &self,
        scope: Scope,
        after: LogPosition,
        limit: usize,
    ) -> Result<ChangeBatch> {
        let data = self.read();
        if after < data.horizon {
            return Err(Error::ResetRequired {
                start: LogPosition::from_seq(data.last_seq),
            });
        }
        let first = data.log.partition_point(|e| e.position <= after);
        Ok(ChangeBatch::in_scope(&data.log[first..], scope, limit))
    }

    async fn change_head(&self) -> Result<LogPosition> {
        Ok(LogPosition::from_seq(self.read().last_seq))
    }

    async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut data = self.write();
        let n = data.log.partition_point(|e| e.at < before);
        if n > 0 {
            data.horizon = data.log[n - 1].position;
            data.log.drain(..n);
        }
        Ok(n as u64)
    }

    async fn wait_for_changes(&self, after: LogPosition, timeout: std::time::Duration) {
        let woken = self.appended.notified();
        if self.read().last_seq > after.minor() {
            return;
        }
        let _ = tokio::time::timeout(timeout, woken).await;
    }
}
