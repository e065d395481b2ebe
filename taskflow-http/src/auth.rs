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
