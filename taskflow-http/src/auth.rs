//! The bearer security scheme: every check is core's `authenticate`; this module only adds
//! the per-user rate limit, which needs to know who is calling.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use taskflow_core::{Principal, TaskFlow};

use crate::problem::ApiError;
use crate::rate_limit::Limits;

/// `Authorization: Bearer <access token>` from login or refresh.
#[derive(SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "JWT",
    checker = "check_bearer",
    rename = "bearer"
)]
pub struct BearerAuth(pub Principal);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let tf = req
        .data::<TaskFlow>()
        .expect("the TaskFlow handle is attached to every route");
    let principal = tf
        .authenticate(&bearer.token)
        .await
        .map_err(ApiError::from)?;
    if let Some(limits) = req.data::<Limits>() {
        limits.check_user(&principal)?;
    }
    Ok(principal)
}

/// `GET /events` also takes a single-use ticket in `ticket=` (`POST /events/ticket`), for
/// browsers' `EventSource`, which cannot send headers.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "ticket",
    key_in = "query",
    checker = "check_ticket",
    rename = "event_ticket"
)]
pub struct TicketAuth(pub (Principal, chrono::DateTime<chrono::Utc>));

async fn check_ticket(
    req: &Request,
    key: poem_openapi::auth::ApiKey,
) -> poem::Result<(Principal, chrono::DateTime<chrono::Utc>)> {
    let tf = req
        .data::<TaskFlow>()
        .expect("the TaskFlow handle is attached to every route");
    let (principal, until) = tf
        .redeem_event_ticket(&key.key)
        .await
        .map_err(ApiError::from)?;
    if let Some(limits) = req.data::<Limits>() {
        limits.check_user(&principal)?;
    }
    Ok((principal, until))
}

/// Who may open an event stream: a bearer token, or a ticket.
#[derive(SecurityScheme)]
pub enum EventsAuth {
    /// `Authorization: Bearer <access token>`.
    Bearer(BearerAuth),
    /// `?ticket=` from `POST /events/ticket`.
    Ticket(TicketAuth),
}
