//! What a principal may see of the change log: the task change feed (for clients that
//! poll or come back from offline) and the live event stream.
//!
//! Both are scoped by the rule that decides `get_task` ([`TaskFlow::read_scope`]), applied
//! to each event's subject at the time it is read, so a feed or stream never shows what a
//! get would refuse. Account and session events are never shown; a stream reads those of
//! its own principal to end itself when the session is revoked or the account disabled.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::Utc;
use futures_util::Stream;
use tokio::sync::Notify;

use crate::changes::{Change, ChangeEvent, LogPosition};
use crate::error::{Error, Result};
use crate::ids::TaskId;
use crate::rbac::{Principal, Scope};
use crate::task::Task;

use super::TaskFlow;

/// Default number of changes in one page of [`TaskFlow::task_changes`].
pub const DEFAULT_CHANGES_LIMIT: u32 = 100;
/// Most changes in one page of [`TaskFlow::task_changes`].
pub const MAX_CHANGES_LIMIT: u32 = 500;

/// How long an event-stream ticket stays valid.
pub const EVENT_TICKET_TTL: Duration = Duration::from_secs(60);

/// Log reads one page of the feed may take when most events are out of scope.
const FEED_READS: usize = 8;
/// Events a stream reads at once.
const STREAM_BATCH: usize = 100;
/// Longest a stream waits for a wake-up before reading the log anyway.
const STREAM_RECHECK: Duration = Duration::from_secs(1);

/// What a principal's event stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A task event the principal may see (`task.created`, `task.updated`,
    /// `task.deleted`).
    Change(ChangeEvent),
    /// The position asked for is older than the log keeps: refetch, then the stream
    /// goes on after `start`.
    Reset {
        /// Where the stream goes on from.
        start: LogPosition,
    },
}

impl Event {
    /// The position a client resumes after (`Last-Event-ID`).
    pub fn id(&self) -> LogPosition {
        match self {
            Event::Change(e) => e.position,
            Event::Reset { start } => *start,
        }
    }

    /// The event type: the change's kind, or `reset`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Change(e) => e.change.kind(),
            Event::Reset { .. } => "reset",
        }
    }
}

/// Whether a [`TaskChange`] leaves the task in place or removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskChangeKind {
    /// Created or updated: `task` is the task as written.
    Upsert,
    /// Deleted.
    Delete,
}

impl TaskChangeKind {
    /// `upsert` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskChangeKind::Upsert => "upsert",
            TaskChangeKind::Delete => "delete",
        }
    }
}

/// One entry of the task change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChange {
    /// The event's position.
    pub id: LogPosition,
    /// Upsert or delete.
    pub kind: TaskChangeKind,
    /// The task.
    pub task_id: TaskId,
    /// The task as written, for upserts.
    pub task: Option<Task>,
}

/// A page of the task change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChanges {
    /// Changes after `since`, in log order.
    pub changes: Vec<TaskChange>,
    /// Where the next page starts (`since` of the next call).
    pub next: LogPosition,
    /// Whether the feed has more right now.
    pub has_more: bool,
}

/// A single-use ticket for one event stream, for clients that cannot send an
/// `Authorization` header (browsers' `EventSource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTicket {
    /// The ticket: 32 random bytes, URL-safe base64 after `evt_`; redeemable once.
    pub ticket: String,
    /// How long it stays valid ([`EVENT_TICKET_TTL`], less if the access token it was
    /// issued for expires sooner).
    pub expires_in: Duration,
}

/// What a ticket's shared record holds (never the ticket itself, only its digest is the
/// key): whose it is, and until when the stream it opens may run.
#[derive(serde::Serialize, serde::Deserialize)]
struct TicketClaims {
    user_id: crate::ids::UserId,
    session_id: Option<crate::ids::SessionId>,
    /// The expiry of the access token the ticket was issued for, in Unix milliseconds.
    until_ms: i64,
}

/// The shared-state value of a ticket that was redeemed.
const TICKET_USED: &str = "used";

fn ticket_key(ticket: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(ticket.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("ticket:{hex}")
}

/// Whether a principal with read scope `scope` may be shown `change`: the rule that
/// decides `get_task`, applied to the event's subject.
fn shows(scope: Scope, change: &Change) -> bool {
    change.is_public() && scope.contains(change.subject())
}

impl TaskFlow {
    /// The position a client starting now follows from.
    pub async fn change_head(&self) -> Result<LogPosition> {
        self.inner.store.change_head().await
    }

    /// Deletes change-log events older than the retention (see
    /// [`TaskFlowBuilder::change_retention`](crate::TaskFlowBuilder::change_retention));
    /// returns how many. Idempotent, so every instance may call it now and then.
    pub async fn prune_changes(&self) -> Result<u64> {
        // Stores stamp events with the wall clock (the log is infrastructure, not domain
        // data), so retention is measured on it too, not on the handle's clock.
        let before = Utc::now() - self.inner.change_retention;
        self.inner.store.prune_changes(before).await
    }

    /// The caller's task changes after `since` (`None`: from now, an empty page whose
    /// `next` is the current head), at most `limit` (1–500). Fails with `reset_required`
    /// when `since` is older than the log keeps.
    pub async fn task_changes(
        &self,
        principal: &Principal,
        since: Option<LogPosition>,
        limit: u32,
    ) -> Result<TaskChanges> {
        if !(1..=MAX_CHANGES_LIMIT).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_CHANGES_LIMIT}"),
            ));
        }
        let scope = self.read_scope(principal)?;
        let store = &self.inner.store;
        let Some(mut after) = since else {
            return Ok(TaskChanges {
                changes: Vec::new(),
                next: store.change_head().await?,
                has_more: false,
            });
        };
        let limit = limit as usize;
        let mut changes = Vec::new();
        for _ in 0..FEED_READS {
            let batch = store
                .read_changes(scope, after, limit - changes.len())
                .await?;
            for event in &batch.events {
                after = event.position;
                if shows(scope, &event.change) {
                    changes.extend(task_change(event));
                }
            }
            if batch.caught_up {
                return Ok(TaskChanges {
                    changes,
                    next: after,
                    has_more: false,
                });
            }
            if changes.len() >= limit {
                break;
            }
        }
        Ok(TaskChanges {
            changes,
            next: after,
            has_more: true,
        })
    }

    /// The caller's live events after `last_event_id` (`None`: from the time of the call): every task event
    /// the caller may see, in log order, without gaps or repeats. The stream ends after the
    /// caller's session is revoked or account disabled (within the follower's bound), and
    /// yields an error item, then ends, when the store fails.
    pub async fn events(
        &self,
        principal: &Principal,
        last_event_id: Option<LogPosition>,
    ) -> Result<EventStream> {
        self.read_scope(principal)?;
        let after = match last_event_id {
            Some(after) => after,
            None => self.inner.store.change_head().await?,
        };
        let state = StreamState {
            tf: self.clone(),
            principal: principal.clone(),
            after,
            pending: VecDeque::new(),
            ended: false,
        };
        Ok(EventStream {
            inner: Box::pin(futures_util::stream::unfold(state, next_event)),
        })
    }

    /// Issues a single-use ticket that opens one event stream as `principal` (see
    /// [`redeem_event_ticket`](Self::redeem_event_ticket)). `access_expires_at` is the
    /// expiry of the access token the caller authenticated with: the ticket, and the stream
    /// it opens, end no later. Kept in the store's shared state, so any instance redeems it.
    pub async fn issue_event_ticket(
        &self,
        principal: &Principal,
        access_expires_at: chrono::DateTime<Utc>,
    ) -> Result<EventTicket> {
        self.read_scope(principal)?;
        let now = self.now();
        let ttl = chrono::TimeDelta::from_std(EVENT_TICKET_TTL).unwrap_or_default();
        let expires_at = (now + ttl).min(access_expires_at);
        if expires_at <= now {
            return Err(Error::Unauthenticated("access token expired"));
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| Error::internal(e.to_string()))?;
        use base64::Engine as _;
        let ticket = format!(
            "evt_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let claims = TicketClaims {
            user_id: principal.user_id,
            session_id: principal.session_id,
            until_ms: access_expires_at.timestamp_millis(),
        };
        let value = serde_json::to_string(&claims).map_err(Error::internal)?;
        let written = self
            .inner
            .store
            .put_shared(&ticket_key(&ticket), &value, None, expires_at, now)
            .await?;
        if written.is_none() {
            // 256 random bits met a live ticket: the random source is broken.
            return Err(Error::internal(
                "a fresh event ticket collided with a live one",
            ));
        }
        Ok(EventTicket {
            ticket,
            expires_in: (expires_at - now).to_std().unwrap_or_default(),
        })
    }

    /// Redeems a ticket of [`issue_event_ticket`](Self::issue_event_ticket), once, on any
    /// instance: the principal as their user and session stand now, and when the stream
    /// must end. An unknown, used or expired ticket, or one whose session has ended since,
    /// is `unauthenticated`.
    pub async fn redeem_event_ticket(
        &self,
        ticket: &str,
    ) -> Result<(Principal, chrono::DateTime<Utc>)> {
        const REFUSED: Error = Error::Unauthenticated("event ticket is unknown, used or expired");
        if ticket.len() > 64 || !ticket.starts_with("evt_") {
            return Err(REFUSED);
        }
        let now = self.now();
        let key = ticket_key(ticket);
        let store = &self.inner.store;
        let record = store.get_shared(&key, now).await?.ok_or(REFUSED)?;
        if record.value == TICKET_USED {
            return Err(REFUSED);
        }
        let claims: TicketClaims = serde_json::from_str(&record.value).map_err(Error::internal)?;
        // Single use: of concurrent redemptions exactly one turns the record into `used`.
        store
            .put_shared(
                &key,
                TICKET_USED,
                Some(record.version),
                record.expires_at,
                now,
            )
            .await?
            .ok_or(REFUSED)?;
        let until = chrono::DateTime::from_timestamp_millis(claims.until_ms).ok_or(REFUSED)?;
        let principal = Principal {
            user_id: claims.user_id,
            role: crate::rbac::Role::new("user"),
            session_id: claims.session_id,
        };
        Ok((self.recheck(&principal).await?, until))
    }

    /// The principal as its user and session stand now: an error once the session is
    /// revoked, expired or gone, or the account disabled or gone. Read past the cache: a
    /// stream asks right after the log showed the session or account changed, which can be
    /// before this instance's cache has dropped the old entry (the writer invalidates after
    /// its write returns, the follower after it reads the event), and an answer from that
    /// entry would keep a revoked stream open until the next event about its user.
    async fn recheck(&self, principal: &Principal) -> Result<Principal> {
        let store = &self.inner.uncached_store;
        let user = store
            .get_user(principal.user_id)
            .await?
            .ok_or(Error::Unauthenticated("account no longer exists"))?;
        if user.user.disabled {
            return Err(Error::Unauthenticated("account disabled"));
        }
        if let Some(sid) = principal.session_id {
            match store.get_session(sid).await? {
                Some(s) if s.user_id == principal.user_id && s.is_active(self.now()) => {}
                _ => return Err(Error::Unauthenticated("session has ended")),
            }
        }
        Ok(Principal {
            role: user.user.role,
            ..principal.clone()
        })
    }

    /// What a stream in `scope` waits on between reads.
    fn stream_waker(&self, scope: Scope) -> Option<Arc<Notify>> {
        self.follower_status().map(|f| f.waker(scope))
    }
}

/// The feed's entry for a task event (`None` for other events, which `shows` keeps out).
fn task_change(event: &ChangeEvent) -> Option<TaskChange> {
    let (kind, task_id, task) = match &event.change {
        Change::TaskCreated(t) | Change::TaskUpdated(t) => {
            (TaskChangeKind::Upsert, t.id, Some(t.clone()))
        }
        Change::TaskDeleted { task_id, .. } => (TaskChangeKind::Delete, *task_id, None),
        _ => return None,
    };
    Some(TaskChange {
        id: event.position,
        kind,
        task_id,
        task,
    })
}

/// The caller's live events (see [`TaskFlow::events`]).
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<Event>> + Send>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl Stream for EventStream {
    type Item = Result<Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct StreamState {
    tf: TaskFlow,
    principal: Principal,
    /// Position after which the next read starts.
    after: LogPosition,
    pending: VecDeque<Event>,
    ended: bool,
}

async fn next_event(mut st: StreamState) -> Option<(Result<Event>, StreamState)> {
    loop {
        if let Some(event) = st.pending.pop_front() {
            return Some((Ok(event), st));
        }
        if st.ended {
            return None;
        }
        match read_some(&mut st).await {
            Ok(()) => {}
            Err(e) => {
                st.ended = true;
                return Some((Err(e), st));
            }
        }
    }
}

/// One read of the log into `pending` (waiting first when there was nothing new).
async fn read_some(st: &mut StreamState) -> Result<()> {
    let scope = st.tf.read_scope(&st.principal)?;
    let store = Arc::clone(&st.tf.inner.store);
    let after = st.after;
    // Registered before the read, so an event applied during it still wakes the wait.
    let waker = st.tf.stream_waker(scope);
    let woken = waker.as_ref().map(|w| w.notified());
    let mut woken = woken.map(Box::pin);
    if let Some(w) = woken.as_mut() {
        w.as_mut().enable();
    }
    let recent = st
        .tf
        .follower_status()
        .and_then(|f| f.recent(scope, after, STREAM_BATCH));
    let read = match recent {
        Some(batch) => Ok(batch),
        None => store.read_changes(scope, after, STREAM_BATCH).await,
    };
    let batch = match read {
        Ok(batch) => batch,
        Err(Error::ResetRequired { start }) => {
            st.after = start;
            st.pending.push_back(Event::Reset { start });
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    for event in &batch.events {
        st.after = event.position;
        if !event.change.is_public() {
            if event.change.subject() == st.principal.user_id {
                match st.tf.recheck(&st.principal).await {
                    Ok(principal) => st.principal = principal,
                    Err(Error::Unauthenticated(_)) => {
                        st.ended = true;
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
            }
            continue;
        }
        // The scope as of this event: a role change read above applies from here on.
        if shows(st.tf.read_scope(&st.principal)?, &event.change) {
            st.pending.push_back(Event::Change(event.clone()));
        }
    }
    if batch.caught_up && st.pending.is_empty() {
        match woken {
            Some(w) => {
                let _ = tokio::time::timeout(STREAM_RECHECK, w).await;
            }
            None => store.wait_for_changes(st.after, STREAM_RECHECK).await,
        }
    }
    Ok(())
}
