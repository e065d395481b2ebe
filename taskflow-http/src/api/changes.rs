//! `/tasks/changes` (the change feed) and `/events` (Server-Sent Events): what a caller may
//! see of the change log, as core scopes it.

use std::time::Duration;

use futures_util::StreamExt;
use poem::Request;
use poem::web::Data;
use poem::web::sse::Event as SseEvent;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Query};
use poem_openapi::types::ToJSON;
use taskflow_core::{DEFAULT_CHANGES_LIMIT, Error, LogPosition, TaskFlow};

use super::ApiTags;
use crate::auth::{BearerAuth, EventsAuth};
use crate::dto::{EventOut, EventTicketOut, TaskChangesOut};
use crate::metrics::StreamGauge;
use crate::problem::{ApiError, ApiResult};
use crate::query_errors::{QueryErrors, QueryValue};
use crate::response::JsonOut;
use crate::sse_response::SseResponse;

/// A comment line at least this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The change feed and the event stream.
pub struct ChangesApi;

/// A position as a client sent it; a malformed one is `400` naming the parameter.
fn position(errors: &mut QueryErrors, name: &str, raw: Option<String>) -> Option<LogPosition> {
    let raw = raw?;
    match raw.parse::<LogPosition>() {
        Ok(p) => Some(p),
        Err(_) => {
            errors.add(
                name,
                "must be an event id as the server gave it (32 lowercase hex digits)",
            );
            None
        }
    }
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl ChangesApi {
    /// The caller's task changes after `since`, for clients that poll or come back from
    /// offline: every task the caller may see that was created, updated or deleted, in log
    /// order. Without `since`, an empty page whose `next` is now. `410 reset_required` when
    /// `since` is older than the log keeps (7 days by default): refetch the tasks, then go
    /// on from the problem's `start`.
    #[oai(path = "/tasks/changes", method = "get", operation_id = "task_changes")]
    async fn task_changes(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        /// `next` of the previous page (or an event id of `GET /events`).
        since: Query<Option<String>>,
        /// 1-500, default 100.
        limit: Query<Option<QueryValue<i64>>>,
    ) -> ApiResult<JsonOut<TaskChangesOut>> {
        let mut errors = QueryErrors::default();
        let since = position(&mut errors, "since", since.0);
        let limit = errors.take("limit", limit.0);
        errors.into_result()?;
        let limit = match limit {
            None => DEFAULT_CHANGES_LIMIT,
            // Out of range is core's to word; anything past u32 is out of range too.
            Some(n) => u32::try_from(n).unwrap_or(0),
        };
        let page = tf
            .task_changes(&auth.0, since, limit)
            .await
            .map_err(ApiError::from_query)?;
        Ok(JsonOut(page.into()))
    }

    /// A single-use ticket for `GET /events?ticket=`, valid for 60 s (less if the access
    /// token expires sooner), on any instance: for browsers, whose `EventSource` cannot
    /// send an `Authorization` header. The stream it opens ends when this access token
    /// would have expired.
    #[oai(
        path = "/events/ticket",
        method = "post",
        operation_id = "event_ticket"
    )]
    async fn event_ticket(
        &self,
        tf: Data<&TaskFlow>,
        req: &Request,
        auth: BearerAuth,
    ) -> ApiResult<JsonOut<EventTicketOut>> {
        let token = bearer_token(req).ok_or(Error::Unauthenticated("missing bearer token"))?;
        let expires_at = tf.access_token_expires_at(token)?;
        let ticket = tf.issue_event_ticket(&auth.0, expires_at).await?;
        Ok(JsonOut(EventTicketOut {
            ticket: ticket.ticket,
            expires_in: ticket.expires_in.as_secs(),
        }))
    }

    /// Live events (`text/event-stream`): every task event the caller may see, from now or
    /// after `Last-Event-ID` (header, or `last_event_id=`), without gaps or repeats within
    /// the log's retention (older: a first `reset` event with the position to go on from).
    /// Frames are `id:`, `event:` (the type) and `data:` (the event as JSON); a comment at
    /// least every 15 s. The stream ends when the access token expires, and within a
    /// second after the session is revoked or the account disabled.
    #[oai(path = "/events", method = "get", operation_id = "events")]
    async fn events(
        &self,
        tf: Data<&TaskFlow>,
        gauge: Data<&StreamGauge>,
        req: &Request,
        auth: EventsAuth,
        /// Resume after this event id (what `EventSource` sends on reconnect).
        #[oai(name = "Last-Event-ID")]
        last_event_id_header: Header<Option<String>>,
        /// Resume after this event id (for clients that cannot set headers).
        last_event_id: Query<Option<String>>,
    ) -> ApiResult<SseResponse<EventOut>> {
        let mut errors = QueryErrors::default();
        let header = position(&mut errors, "Last-Event-ID", last_event_id_header.0);
        let query = position(&mut errors, "last_event_id", last_event_id.0);
        errors.into_result()?;
        let (principal, expires_at) = match auth {
            // A ticket that was sent must be good, whatever else the request carries: a bad
            // credential is never outvoted by another one.
            EventsAuth::Bearer(_) if let Some(ticket) = ticket_param(req) => {
                tf.redeem_event_ticket(&ticket).await?
            }
            EventsAuth::Bearer(BearerAuth(principal)) => {
                let token =
                    bearer_token(req).ok_or(Error::Unauthenticated("missing bearer token"))?;
                (principal, tf.access_token_expires_at(token)?)
            }
            EventsAuth::Ticket(ticket) => ticket.0,
        };
        let events = tf.events(&principal, header.or(query)).await?;
        let until = (expires_at - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        let open = gauge.opened();
        let stream = events
            // A store failure ends the stream; the client resumes with Last-Event-ID.
            .take_while(|item| std::future::ready(item.is_ok()))
            .filter_map(|item| std::future::ready(item.ok().map(EventOut::from)))
            .take_until(tokio::time::sleep(until))
            .map(move |event| {
                let _open = &open;
                event
            });
        let frames = stream.map(|event: EventOut| {
            let id = event.id.clone();
            let kind = event.kind.clone();
            SseEvent::message(event.to_json_string())
                .id(id)
                .event_type(kind)
        });
        Ok(SseResponse::new(frames, HEARTBEAT))
    }
}

/// The `ticket=` query parameter, if the request has one.
fn ticket_param(req: &Request) -> Option<String> {
    let query = req.uri().query()?;
    url_pairs(query)
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v)
}

/// The decoded `key=value` pairs of a query string.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (decode(k), decode(v))
    })
}

/// The token of `Authorization: Bearer <token>` (the security scheme checked it already).
fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(poem::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
