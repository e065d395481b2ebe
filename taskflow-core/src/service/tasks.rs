//! Task operations, scoped by the RBAC policy.

use std::collections::HashSet;

use crate::clock::to_seconds;
use crate::error::{Contended, Error, Result};
use crate::ids::{TaskId, UserId};
use crate::query::{Page, TaskQuery, TaskSlice};
use crate::rbac::{Permission, Principal, Scope};
use crate::stats::{StatsRequest, TaskStats};
use crate::task::{NewTask, Status, Task, TaskPatch, ValidPatch};

use super::TaskFlow;
use super::optimistic::retry_lost_races;

/// Most ids in one bulk status change.
pub const MAX_BULK_IDS: usize = 100;

impl TaskFlow {
    pub(super) fn read_scope(&self, principal: &Principal) -> Result<Scope> {
        self.inner.policy.scope(
            principal,
            Permission::ReadAllTasks,
            Permission::ReadOwnTasks,
        )
    }

    fn write_scope(&self, principal: &Principal) -> Result<Scope> {
        self.inner.policy.scope(
            principal,
            Permission::WriteAllTasks,
            Permission::WriteOwnTasks,
        )
    }

    /// Creates a task owned by the caller.
    pub async fn create_task(&self, principal: &Principal, input: NewTask) -> Result<Task> {
        self.inner
            .policy
            .require(principal, Permission::CreateTask)?;
        let task = input.into_task(principal.user_id, self.now())?;
        self.inner.store.insert_task(&task).await?;
        Ok(task)
    }

    /// One task. Another user's task is `not_found` unless the caller may read all tasks.
    pub async fn get_task(&self, principal: &Principal, id: TaskId) -> Result<Task> {
        let scope = self.read_scope(principal)?;
        self.inner
            .store
            .get_task(scope, id)
            .await?
            .ok_or_else(Error::task_not_found)
    }

    /// Applies a patch. With `expected_version`, fails with `version_mismatch` unless the
    /// task is at that version; without it, concurrent changes are retried transparently.
    /// A patch that changes nothing returns the task as it is (no new version).
    pub async fn update_task(
        &self,
        principal: &Principal,
        id: TaskId,
        patch: TaskPatch,
        expected_version: Option<u64>,
    ) -> Result<Task> {
        let scope = self.write_scope(principal)?;
        let patch = patch.validate()?;
        let store = &self.inner.store;
        retry_lost_races!(Contended::Task, |_| {
            let current = store
                .get_task_for_update(scope, id)
                .await?
                .ok_or_else(Error::task_not_found)?;
            if let Some(v) = expected_version
                && v != current.version
            {
                return Err(Error::VersionMismatch {
                    current: current.version,
                });
            }
            let Some(next) = patch.apply(&current, self.now()) else {
                return Ok(current);
            };
            store.replace_task(&next).await?.then_some(next)
        })
    }

    /// Deletes a task, only at `expected_version` when given.
    pub async fn delete_task(
        &self,
        principal: &Principal,
        id: TaskId,
        expected_version: Option<u64>,
    ) -> Result<()> {
        let scope = self.write_scope(principal)?;
        let store = &self.inner.store;
        retry_lost_races!(Contended::Task, |_| {
            let current = store
                .get_task_for_update(scope, id)
                .await?
                .ok_or_else(Error::task_not_found)?;
            if let Some(v) = expected_version
                && v != current.version
            {
                return Err(Error::VersionMismatch {
                    current: current.version,
                });
            }
            store
                .delete_task(current.owner_id, id, expected_version)
                .await?
                .then_some(())
        })
    }

    /// Sets the status of up to 100 tasks; returns how many changed (tasks already in that
    /// status are left alone). All or nothing: if any id is not visible to the caller,
    /// fails with `not_found` and changes nothing.
    pub async fn bulk_set_status(
        &self,
        principal: &Principal,
        ids: &[TaskId],
        status: &str,
    ) -> Result<u64> {
        let scope = self.write_scope(principal)?;
        let mut errors = crate::error::ValidationErrors::new();
        if ids.is_empty() || ids.len() > MAX_BULK_IDS {
            errors.add("ids", format!("must contain 1-{MAX_BULK_IDS} ids"));
        }
        let status = status
            .parse::<Status>()
            .map_err(|m| errors.add("status", m))
            .ok();
        errors.into_result()?;
        let patch = ValidPatch::status_only(status.unwrap_or(Status::Todo));

        let mut seen = HashSet::new();
        let mut pending: Vec<TaskId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        let store = &self.inner.store;
        let mut changed = 0u64;
        retry_lost_races!(Contended::Tasks, |attempt| {
            let mut tasks = store.get_tasks(scope, &pending).await?;
            // Stores return them in any order; the writes (and so the change log) follow
            // the order the caller gave, on every store.
            let order: std::collections::HashMap<TaskId, usize> =
                pending.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            tasks.sort_by_key(|t| order.get(&t.id).copied().unwrap_or(usize::MAX));
            // Before anything is written, a missing id fails the whole call. On a retry, an
            // id that vanished was deleted concurrently, after our check: that delete
            // serialises after this bulk change, so it is simply dropped.
            if attempt == 0 && tasks.len() != pending.len() {
                return Err(Error::task_not_found());
            }
            let now = self.now();
            let updates: Vec<Task> = tasks.iter().filter_map(|t| patch.apply(t, now)).collect();
            if updates.is_empty() {
                return Ok(changed);
            }
            let unwritten = store.replace_tasks(&updates).await?;
            changed += (updates.len() - unwritten.len()) as u64;
            if unwritten.is_empty() {
                return Ok(changed);
            }
            pending = unwritten;
            None
        })
    }

    /// A page of tasks. Users see their own; callers that may read all tasks see every
    /// owner's, or one owner's with `owner_id` (anyone else passing `owner_id` is
    /// `forbidden`). A search without a letter or digit (`q=%`) matches nothing: an empty
    /// page (total 0), answered without asking the store.
    pub async fn list_tasks(&self, principal: &Principal, query: TaskQuery) -> Result<Page<Task>> {
        let scope = self.scope_for_owner(
            principal,
            query.owner_id,
            Permission::ReadAllTasks,
            Permission::ReadOwnTasks,
        )?;
        let request = query.into_request(scope, self.now())?;
        if request.filter.matches_nothing() {
            // Decided here, once: stores read an empty word list as "no search".
            let total = request.wants_total().then_some(0);
            let slice = TaskSlice {
                items: Vec::new(),
                has_more: false,
                total,
            };
            return Ok(request.page_of(slice));
        }
        let slice = self.inner.store.list_tasks(&request).await?;
        Ok(request.page_of(slice))
    }

    /// Counts over the caller's tasks; callers that may see all stats get every task's,
    /// or one owner's with `owner_id`.
    pub async fn task_stats(
        &self,
        principal: &Principal,
        owner_id: Option<UserId>,
    ) -> Result<TaskStats> {
        let scope = self.scope_for_owner(
            principal,
            owner_id,
            Permission::AllStats,
            Permission::OwnStats,
        )?;
        let request = StatsRequest {
            scope,
            as_of: to_seconds(self.now()),
        };
        self.inner.store.task_stats(&request).await
    }

    fn scope_for_owner(
        &self,
        principal: &Principal,
        owner_id: Option<UserId>,
        all: Permission,
        own: Permission,
    ) -> Result<Scope> {
        match owner_id {
            Some(owner) => {
                self.inner.policy.require(principal, all)?;
                Ok(Scope::Owner(owner))
            }
            None => self.inner.policy.scope(principal, all, own),
        }
    }
}
