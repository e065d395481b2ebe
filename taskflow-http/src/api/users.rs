//! `/users`: account administration (admin only; core checks the permission).

use crate::response::JsonOut;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use taskflow_core::{TaskFlow, UserId, UserQuery};

use super::{ApiTags, path_id};
use crate::auth::BearerAuth;
use crate::body::JsonBody;
use crate::dto::{UserOut, UserPage, UserPatchIn};
use crate::problem::{ApiError, ApiResult};
use crate::query_errors::{QueryErrors, QueryValue};

/// User administration.
pub struct UsersApi;

#[OpenApi(prefix_path = "/users", tag = "ApiTags::Users")]
impl UsersApi {
    /// List accounts, newest first.
    #[oai(path = "/", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        /// Only accounts with this role.
        role: Query<Option<String>>,
        /// Substring of the email or name (case-insensitive); no control characters.
        q: Query<Option<String>>,
        /// 1-100, default 20.
        limit: Query<Option<QueryValue<i64>>>,
        /// 1-based page number.
        page: Query<Option<QueryValue<i64>>>,
    ) -> ApiResult<JsonOut<UserPage>> {
        let mut errors = QueryErrors::default();
        let query = UserQuery {
            role: role.0,
            q: q.0,
            limit: errors.take("limit", limit.0),
            page: errors.take("page", page.0),
        };
        errors.into_result()?;
        let page = tf
            .list_users(&auth.0, query)
            .await
            .map_err(ApiError::from_query)?;
        Ok(JsonOut(page.into()))
    }

    /// One account.
    #[oai(path = "/:id", method = "get", operation_id = "get_user")]
    async fn get(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        /// User id.
        id: Path<String>,
    ) -> ApiResult<JsonOut<UserOut>> {
        let id: UserId = path_id(&id.0, "user")?;
        Ok(JsonOut(tf.get_user(&auth.0, id).await?.into()))
    }

    /// Change an account's role or disabled flag. Disabling ends every session of the
    /// account at once; the last active admin can be neither demoted nor disabled (`409`).
    #[oai(path = "/:id", method = "patch", operation_id = "update_user")]
    async fn update(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        /// User id.
        id: Path<String>,
        body: JsonBody<UserPatchIn>,
    ) -> ApiResult<JsonOut<UserOut>> {
        let id: UserId = path_id(&id.0, "user")?;
        Ok(JsonOut(
            tf.update_user(&auth.0, id, body.0.into()).await?.into(),
        ))
    }
}
