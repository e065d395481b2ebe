//! Role-based access control. Permissions are data: a [`Policy`] maps each role to a set
//! of [`Permission`]s. The built-in roles are `user` and `admin`; embedders add more with
//! [`TaskFlowBuilder::role`](crate::TaskFlowBuilder::role).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::ids::{SessionId, UserId};

/// A role name. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(Arc<str>);

impl Role {
    /// Name of the built-in role every registered account gets.
    pub const USER: &'static str = "user";
    /// Name of the built-in administrator role.
    pub const ADMIN: &'static str = "admin";

    /// A role with this name (not checked against a policy).
    pub fn new(name: impl AsRef<str>) -> Self {
        Self(Arc::from(name.as_ref()))
    }

    /// The built-in `user` role.
    pub fn user() -> Self {
        Self::new(Self::USER)
    }

    /// The built-in `admin` role.
    pub fn admin() -> Self {
        Self::new(Self::ADMIN)
    }

    /// The role's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the built-in `admin` role, the one the last-active-admin rule protects.
    pub fn is_admin(&self) -> bool {
        &*self.0 == Self::ADMIN
    }
}

impl fmt::Debug for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Role::new)
    }
}

/// Something a role may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Permission {
    /// Create tasks (always owned by the caller).
    CreateTask,
    /// Read (get, list) one's own tasks.
    ReadOwnTasks,
    /// Update, delete and bulk-update one's own tasks.
    WriteOwnTasks,
    /// Read every user's tasks, and filter listings by `owner_id`.
    ReadAllTasks,
    /// Update and delete every user's tasks.
    WriteAllTasks,
    /// Stats over one's own tasks.
    OwnStats,
    /// Stats over all tasks or any one owner's.
    AllStats,
    /// List and read user accounts.
    ReadUsers,
    /// Change users' roles and disable or enable them.
    ManageUsers,
}

impl Permission {
    /// Every permission (the built-in `admin` role has all of them).
    pub const ALL: [Permission; 9] = [
        Permission::CreateTask,
        Permission::ReadOwnTasks,
        Permission::WriteOwnTasks,
        Permission::ReadAllTasks,
        Permission::WriteAllTasks,
        Permission::OwnStats,
        Permission::AllStats,
        Permission::ReadUsers,
        Permission::ManageUsers,
    ];

    /// What the built-in `user` role may do.
    pub const USER: [Permission; 4] = [
        Permission::CreateTask,
        Permission::ReadOwnTasks,
        Permission::WriteOwnTasks,
        Permission::OwnStats,
    ];
}

/// Who is asking: the result of authenticating an access token (or a trusted construction
/// by an embedder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller's user id.
    pub user_id: UserId,
    /// The caller's current role (read from the user record, not trusted from the token).
    pub role: Role,
    /// The login session the access token belongs to; `None` for a principal built by the
    /// embedding program itself.
    pub session_id: Option<SessionId>,
}

impl Principal {
    /// A principal for trusted in-process use (no session behind it).
    pub fn trusted(user_id: UserId, role: Role) -> Self {
        Self {
            user_id,
            role,
            session_id: None,
        }
    }
}

/// Role → permissions.
#[derive(Debug, Clone)]
pub struct Policy {
    roles: HashMap<Role, HashSet<Permission>>,
}

impl Default for Policy {
    fn default() -> Self {
        let mut policy = Self {
            roles: HashMap::new(),
        };
        policy.set_role(Role::user(), Permission::USER);
        policy.set_role(Role::admin(), Permission::ALL);
        policy
    }
}

impl Policy {
    /// Defines (or redefines) a role.
    pub fn set_role(&mut self, role: Role, permissions: impl IntoIterator<Item = Permission>) {
        self.roles.insert(role, permissions.into_iter().collect());
    }

    /// True when the role exists in this policy.
    pub fn knows(&self, role: &Role) -> bool {
        self.roles.contains_key(role)
    }

    /// The known roles, sorted.
    pub fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = self.roles.keys().cloned().collect();
        roles.sort();
        roles
    }

    /// Whether `role` grants `permission`. Unknown roles grant nothing.
    pub fn allows(&self, role: &Role, permission: Permission) -> bool {
        self.roles
            .get(role)
            .is_some_and(|set| set.contains(&permission))
    }

    /// `Ok` when permitted, else `forbidden`.
    pub fn require(&self, principal: &Principal, permission: Permission) -> Result<()> {
        if self.allows(&principal.role, permission) {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "you lack the permission for this operation",
            ))
        }
    }

    /// The scope of task reads (`all`, `own`) for this principal, or `forbidden`.
    pub(crate) fn scope(
        &self,
        principal: &Principal,
        all: Permission,
        own: Permission,
    ) -> Result<Scope> {
        if self.allows(&principal.role, all) {
            Ok(Scope::All)
        } else if self.allows(&principal.role, own) {
            Ok(Scope::Owner(principal.user_id))
        } else {
            Err(Error::Forbidden(
                "you lack the permission for this operation",
            ))
        }
    }
}

/// Which tasks a store operation may see. Core derives it from the policy, so a listing can
/// never show what a get would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every owner's tasks.
    All,
    /// Only this owner's tasks.
    Owner(UserId),
}

impl Scope {
    /// Whether a task owned by `owner` is visible in this scope.
    pub fn contains(&self, owner: UserId) -> bool {
        match self {
            Scope::All => true,
            Scope::Owner(o) => *o == owner,
        }
    }
}
