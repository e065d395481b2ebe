//! Registration, login, refresh-token rotation, logout, password change, authentication.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::auth::password::Verified;
use crate::auth::throttle::AccountKey;
use crate::auth::{SessionRecord, TokenPair, refresh};
use crate::error::{Contended, Error, Result};
use crate::ids::{SessionId, UserId};
use crate::rbac::{Principal, Role};
use crate::store::SessionRotation;
use crate::user::{
    ProfileUpdate, Registration, User, UserRecord, check_password, fold_email, normalize_email,
    normalize_name,
};

use super::TaskFlow;
use super::optimistic::retry_lost_races;

const BAD_CREDENTIALS: Error = Error::Unauthenticated("invalid email or password");
const BAD_REFRESH: Error = Error::Unauthenticated("invalid or expired refresh token");

impl TaskFlow {
    /// Creates an account with role `user`.
    pub async fn register(&self, input: Registration) -> Result<User> {
        self.create_account(input, Role::user()).await
    }

    /// Trusted bootstrap: creates an account with role `admin`. Not reachable over HTTP.
    pub async fn create_admin(&self, input: Registration) -> Result<User> {
        self.create_account(input, Role::admin()).await
    }

    async fn create_account(&self, input: Registration, role: Role) -> Result<User> {
        let valid = input.validate()?;
        let password_hash = self.inner.passwords.hash(input.password).await?;
        let now = self.now();
        let record = UserRecord {
            user: User {
                id: UserId::new(),
                email: valid.email,
                name: valid.name,
                role,
                disabled: false,
                created_at: now,
                updated_at: now,
            },
            password_hash,
            version: 1,
        };
        self.inner.store.insert_user(&record).await?;
        Ok(record.user)
    }

    /// Exchanges credentials for a token pair, opening a new session. Unknown email and
    /// wrong password fail alike (same error, similar time). A bcrypt or outdated hash is
    /// upgraded.
    ///
    /// `client_addr` is where the attempt comes from (the HTTP layer passes the client IP it
    /// resolved; `None` is a bucket of its own). Failures are counted per (account, address)
    /// and per account: too many from one address answer `rate_limited` for that address
    /// only; too many across addresses space further attempts out (seconds, not a lockout),
    /// except from addresses that recently logged in to the account. The counts are kept in
    /// the store ([`SharedState`](crate::SharedState)), so every handle over it shares them.
    /// See [`LoginThrottleConfig`](crate::LoginThrottleConfig) for the numbers.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client_addr: Option<IpAddr>,
    ) -> Result<TokenPair> {
        let (throttle, store) = (&self.inner.throttle, &*self.inner.store);
        let key = AccountKey::of(&fold_email(email));
        throttle.check(store, &key, client_addr, self.now()).await?;
        let record = match normalize_email(email) {
            Ok(email) => self.inner.store.get_user_by_email(&email).await?,
            Err(_) => None,
        };
        let hash = record.as_ref().map(|r| r.password_hash.clone());
        let verified = self
            .inner
            .passwords
            .verify(password.to_owned(), hash)
            .await?;
        let (record, rehash) = match (record, verified) {
            (Some(record), Verified::Yes { rehash }) => (record, rehash),
            _ => {
                throttle
                    .record_failure(store, &key, client_addr, self.now())
                    .await?;
                return Err(BAD_CREDENTIALS);
            }
        };
        throttle
            .record_success(store, &key, client_addr, self.now())
            .await?;
        if record.user.disabled {
            return Err(Error::Unauthenticated("account disabled"));
        }
        if rehash {
            self.upgrade_hash(&record, password).await?;
        }
        self.open_session(&record.user).await
    }

    /// Re-hashes with the current argon2id parameters. Losing a race with another write
    /// is harmless: the next login tries again.
    async fn upgrade_hash(&self, record: &UserRecord, password: &str) -> Result<()> {
        let password_hash = self.inner.passwords.hash(password.to_owned()).await?;
        let next = UserRecord {
            user: record.user.clone(),
            password_hash,
            version: record.version + 1,
        };
        self.inner.store.replace_user(&next, false).await?;
        Ok(())
    }

    async fn open_session(&self, user: &User) -> Result<TokenPair> {
        let now = self.now();
        let id = SessionId::new();
        let minted = self.inner.refresh_tokens.mint(id)?;
        let session = SessionRecord {
            id,
            user_id: user.id,
            token_hash: minted.hash,
            revoked: false,
            created_at: now,
            expires_at: now + self.inner.refresh_ttl,
            generation: 0,
        };
        self.inner.store.insert_session(&session).await?;
        self.token_pair(user, id, minted.token)
    }

    fn token_pair(
        &self,
        user: &User,
        session: SessionId,
        refresh_token: String,
    ) -> Result<TokenPair> {
        let access_token = self
            .inner
            .signer
            .issue(user.id, &user.role, session, self.now())?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.inner.signer.ttl.num_seconds().max(0) as u64,
            user: user.clone(),
        })
    }

    /// Rotates a refresh token: the presented one is spent and a new pair returned.
    /// Presenting a token that was already rotated (a replay, or the loser of two
    /// concurrent refreshes) revokes the whole session (RFC 9700 §4.14.2). A token this
    /// server did not issue (its tag does not verify) is refused without touching the
    /// session, so knowing a session id is not enough to end it.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let sid = self
            .inner
            .refresh_tokens
            .parse(refresh_token)
            .ok_or(BAD_REFRESH)?;
        let presented = refresh::hash(refresh_token);
        let now = self.now();
        let store = &self.inner.store;
        let session = store.get_session(sid).await?.ok_or(BAD_REFRESH)?;
        if !session.is_active(now) {
            return Err(BAD_REFRESH);
        }
        if session.token_hash != presented {
            store.revoke_session(session.user_id, sid).await?;
            return Err(Error::Unauthenticated(
                "refresh token reuse detected; the session is revoked",
            ));
        }
        let user = match store.get_user(session.user_id).await? {
            Some(r) if !r.user.disabled => r.user,
            _ => {
                store.revoke_session(session.user_id, sid).await?;
                return Err(BAD_REFRESH);
            }
        };
        let minted = self.inner.refresh_tokens.mint(sid)?;
        let rotated = store
            .rotate_session(&SessionRotation {
                user_id: user.id,
                id: sid,
                presented_hash: &presented,
                new_hash: &minted.hash,
                // Rotation slides the expiry, never past the session's absolute end.
                new_expires_at: (now + self.inner.refresh_ttl)
                    .min(session.created_at + self.inner.session_lifetime),
                now,
            })
            .await?;
        if !rotated {
            // Someone rotated, revoked or expired it since we read it. A concurrent rotation
            // means this token was used twice: treat it as reuse.
            if let Some(s) = store.get_session(sid).await?
                && s.is_active(now)
                && s.token_hash != presented
            {
                store.revoke_session(user.id, sid).await?;
                return Err(Error::Unauthenticated(
                    "refresh token reuse detected; the session is revoked",
                ));
            }
            return Err(BAD_REFRESH);
        }
        self.token_pair(&user, sid, minted.token)
    }

    /// Verifies an access token and returns who it speaks for. Fails once the token
    /// expires, its session is revoked (logout, logout-all, password change, reuse
    /// detection) or its user is disabled or deleted. The role is the user's current one.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal> {
        let claims = self.inner.signer.verify_cached(access_token, self.now())?;
        let store = &self.inner.store;
        let user = store
            .get_user(claims.sub)
            .await?
            .ok_or(Error::Unauthenticated("account no longer exists"))?;
        if user.user.disabled {
            return Err(Error::Unauthenticated("account disabled"));
        }
        match store.get_session(claims.sid).await? {
            Some(s) if s.user_id == claims.sub && !s.revoked => Ok(Principal {
                user_id: claims.sub,
                role: user.user.role,
                session_id: Some(claims.sid),
            }),
            _ => Err(Error::Unauthenticated("session has ended")),
        }
    }

    /// When an access token stops being accepted (its `exp`), once its signature and
    /// claims check out: a stream authenticated by it ends then.
    pub fn access_token_expires_at(&self, access_token: &str) -> Result<DateTime<Utc>> {
        let claims = self.inner.signer.verify_cached(access_token, self.now())?;
        DateTime::from_timestamp(claims.exp, 0)
            .ok_or(Error::Unauthenticated("access token has no valid expiry"))
    }

    /// Ends the caller's session: its refresh family and every access token issued from it
    /// (including the one in use) stop working. A refresh token of another session of the
    /// same user, when given, ends that session too; tokens of other users are ignored.
    pub async fn logout(&self, principal: &Principal, refresh_token: Option<&str>) -> Result<()> {
        let store = &self.inner.store;
        if let Some(sid) = principal.session_id {
            store.revoke_session(principal.user_id, sid).await?;
        }
        let other = refresh_token
            .and_then(|t| self.inner.refresh_tokens.parse(t))
            .filter(|sid| Some(*sid) != principal.session_id);
        if let Some(sid) = other
            && let Some(s) = store.get_session(sid).await?
            && s.user_id == principal.user_id
        {
            store.revoke_session(principal.user_id, sid).await?;
        }
        Ok(())
    }

    /// Ends every session of the caller, this one included.
    pub async fn logout_all(&self, principal: &Principal) -> Result<()> {
        self.inner
            .store
            .revoke_user_sessions(principal.user_id, None)
            .await?;
        Ok(())
    }

    /// Changes the caller's password after checking the current one, and ends every other
    /// session. A wrong current password counts against the login throttle like a failed
    /// login from `client_addr`.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current_password: &str,
        new_password: &str,
        client_addr: Option<IpAddr>,
    ) -> Result<()> {
        if let Err(m) = check_password(new_password) {
            return Err(Error::invalid("new_password", m));
        }
        let record = self.load_self(principal).await?;
        let key = AccountKey::of(&fold_email(&record.user.email));
        let (throttle, store) = (&self.inner.throttle, &*self.inner.store);
        throttle.check(store, &key, client_addr, self.now()).await?;
        let verified = self
            .inner
            .passwords
            .verify(
                current_password.to_owned(),
                Some(record.password_hash.clone()),
            )
            .await?;
        if verified == Verified::No {
            throttle
                .record_failure(store, &key, client_addr, self.now())
                .await?;
            return Err(Error::Unauthenticated("current password is incorrect"));
        }
        let password_hash = self.inner.passwords.hash(new_password.to_owned()).await?;
        self.update_own_record(principal, |r| {
            r.password_hash.clone_from(&password_hash);
            true
        })
        .await?;
        self.inner
            .store
            .revoke_user_sessions(principal.user_id, principal.session_id)
            .await?;
        Ok(())
    }

    /// The caller's own account.
    pub async fn me(&self, principal: &Principal) -> Result<User> {
        Ok(self.load_self(principal).await?.user)
    }

    /// Changes the caller's own profile.
    pub async fn update_me(&self, principal: &Principal, update: ProfileUpdate) -> Result<User> {
        let name = match update.name.as_deref().map(normalize_name) {
            None => None,
            Some(Ok(name)) => Some(name),
            Some(Err(m)) => return Err(Error::invalid("name", m)),
        };
        self.update_own_record(principal, |r| match &name {
            Some(n) if *n != r.user.name => {
                r.user.name.clone_from(n);
                true
            }
            _ => false,
        })
        .await
    }

    async fn load_self(&self, principal: &Principal) -> Result<UserRecord> {
        self.inner
            .store
            .get_user(principal.user_id)
            .await?
            .ok_or_else(Error::user_not_found)
    }

    /// Optimistic read-modify-write of the caller's record; `change` returns false when it
    /// changed nothing.
    async fn update_own_record(
        &self,
        principal: &Principal,
        mut change: impl FnMut(&mut UserRecord) -> bool,
    ) -> Result<User> {
        retry_lost_races!(Contended::Account, |_| {
            let mut record = self.load_self(principal).await?;
            if !change(&mut record) {
                return Ok(record.user);
            }
            record.user.updated_at = self.now();
            record.version += 1;
            let written = self.inner.store.replace_user(&record, false).await?;
            written.then_some(record.user)
        })
    }
}
