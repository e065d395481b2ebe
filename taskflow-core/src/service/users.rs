//! Administration of user accounts.

use crate::error::{Contended, Error, Result, ValidationErrors};
use crate::ids::UserId;
use crate::query::{Page, parse_limit, parse_page};
use crate::rbac::{Permission, Principal, Role};
use crate::user::{User, UserListRequest, UserQuery, UserUpdate};

use super::TaskFlow;
use super::optimistic::retry_lost_races;

impl TaskFlow {
    /// The message for a role the policy does not know: the roles it does.
    fn unknown_role(&self) -> String {
        let roles: Vec<String> = self
            .inner
            .policy
            .roles()
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect();
        format!("must be one of {}", roles.join(", "))
    }

    /// Lists users (requires [`Permission::ReadUsers`]), sorted by creation.
    pub async fn list_users(&self, principal: &Principal, query: UserQuery) -> Result<Page<User>> {
        self.inner
            .policy
            .require(principal, Permission::ReadUsers)?;
        let mut errors = ValidationErrors::new();
        let limit = parse_limit(&mut errors, query.limit);
        let page = parse_page(&mut errors, query.page);
        let role = query.role.map(Role::new);
        if let Some(r) = &role
            && !self.inner.policy.knows(r)
        {
            errors.add("role", self.unknown_role());
        }
        let q = query
            .q
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        if q.as_deref().is_some_and(|q| q.chars().count() > 200) {
            errors.add("q", "must be at most 200 characters");
        }
        // No email or name holds one (both refuse them), and PostgreSQL cannot even take a
        // NUL as a query parameter: refused, not searched.
        if q.as_deref()
            .is_some_and(|q| q.chars().any(char::is_control))
        {
            errors.add("q", "must not contain control characters");
        }
        errors.into_result()?;
        let request = UserListRequest {
            role,
            q,
            limit,
            offset: u64::from(page - 1) * u64::from(limit),
        };
        let (items, total) = self.inner.store.list_users(&request).await?;
        Ok(Page {
            items,
            limit,
            page: Some(page),
            total: Some(total),
            next_cursor: None,
        })
    }

    /// One user (requires [`Permission::ReadUsers`]).
    pub async fn get_user(&self, principal: &Principal, id: UserId) -> Result<User> {
        self.inner
            .policy
            .require(principal, Permission::ReadUsers)?;
        self.inner
            .store
            .get_user(id)
            .await?
            .map(|r| r.user)
            .ok_or_else(Error::user_not_found)
    }

    /// Changes a user's role or disabled flag (requires [`Permission::ManageUsers`]).
    /// The role must exist in the policy. The last active admin can be neither demoted
    /// nor disabled (`conflict`). Disabling ends every session of the user at once.
    pub async fn update_user(
        &self,
        principal: &Principal,
        id: UserId,
        update: UserUpdate,
    ) -> Result<User> {
        self.inner
            .policy
            .require(principal, Permission::ManageUsers)?;
        let role = update.role.map(Role::new);
        if let Some(r) = &role
            && !self.inner.policy.knows(r)
        {
            return Err(Error::invalid("role", self.unknown_role()));
        }
        let store = &self.inner.store;
        retry_lost_races!(Contended::User, |_| {
            let current = store
                .get_user(id)
                .await?
                .ok_or_else(Error::user_not_found)?;
            let mut next = current.clone();
            if let Some(r) = &role {
                next.user.role = r.clone();
            }
            if let Some(d) = update.disabled {
                next.user.disabled = d;
            }
            if next == current {
                return Ok(current.user);
            }
            next.user.updated_at = self.now();
            next.version += 1;
            let was_active_admin = current.user.role.is_admin() && !current.user.disabled;
            let is_active_admin = next.user.role.is_admin() && !next.user.disabled;
            let guard = was_active_admin && !is_active_admin;
            if store.replace_user(&next, guard).await? {
                if next.user.disabled && !current.user.disabled {
                    store.revoke_user_sessions(id, None).await?;
                }
                return Ok(next.user);
            }
            None
        })
    }
}
