//! `/auth/*`: registration, login, token rotation, sessions, profile, password.

use crate::response::JsonOut;
use poem::Request;
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi};
use taskflow_core::{ProfileUpdate, Registration, TaskFlow};

use super::ApiTags;
use crate::auth::BearerAuth;
use crate::body::JsonBody;
use crate::client_ip::ClientIp;
use crate::dto::{LoginIn, PasswordIn, ProfileIn, RefreshIn, RegisterIn, TokenPairOut, UserOut};
use crate::problem::ApiResult;

/// Account and session operations.
pub struct AuthApi;

/// The client address the envelope resolved (trusted-proxy aware), for the login throttle.
fn client_addr(req: &Request) -> Option<std::net::IpAddr> {
    req.data::<ClientIp>().map(|c| c.0)
}

#[derive(ApiResponse)]
enum Registered {
    /// The account was created with role `user`.
    #[oai(status = 201)]
    Created(JsonOut<UserOut>),
}

#[derive(ApiResponse)]
enum Done {
    /// Done; no body.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(prefix_path = "/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Create an account (always role `user`).
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        tf: Data<&TaskFlow>,
        body: JsonBody<RegisterIn>,
    ) -> ApiResult<Registered> {
        let RegisterIn {
            email,
            password,
            name,
        } = body.0;
        let user = tf
            .register(Registration {
                email,
                password,
                name,
            })
            .await?;
        Ok(Registered::Created(JsonOut(user.into())))
    }

    /// Exchange credentials for an access and a refresh token.
    ///
    /// Wrong password and unknown email give the same `401`. After 5 failures for one
    /// account from one client address within 15 minutes, that address answers `429` for
    /// that account until the window has passed; past 50 failures for the account from all
    /// addresses, attempts from addresses without a recent login to it are spaced out
    /// (`429` with a `Retry-After` of at most 60 seconds).
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        req: &Request,
        tf: Data<&TaskFlow>,
        body: JsonBody<LoginIn>,
    ) -> ApiResult<JsonOut<TokenPairOut>> {
        let pair = tf
            .login(&body.0.email, &body.0.password, client_addr(req))
            .await?;
        Ok(JsonOut(pair.into()))
    }

    /// Rotate a refresh token: the old one is spent; using it again is `401` and revokes
    /// every token descended from it.
    #[oai(path = "/refresh", method = "post", operation_id = "refresh")]
    async fn refresh(
        &self,
        tf: Data<&TaskFlow>,
        body: JsonBody<RefreshIn>,
    ) -> ApiResult<JsonOut<TokenPairOut>> {
        let pair = tf.refresh(&body.0.refresh_token).await?;
        Ok(JsonOut(pair.into()))
    }

    /// End this session: its refresh family and this access token stop working.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        body: JsonBody<RefreshIn>,
    ) -> ApiResult<Done> {
        tf.logout(&auth.0, Some(&body.0.refresh_token)).await?;
        Ok(Done::NoContent)
    }

    /// End every session of the caller.
    #[oai(path = "/logout-all", method = "post", operation_id = "logout_all")]
    async fn logout_all(&self, tf: Data<&TaskFlow>, auth: BearerAuth) -> ApiResult<Done> {
        tf.logout_all(&auth.0).await?;
        Ok(Done::NoContent)
    }

    /// The caller's account.
    #[oai(path = "/me", method = "get", operation_id = "get_me")]
    async fn me(&self, tf: Data<&TaskFlow>, auth: BearerAuth) -> ApiResult<JsonOut<UserOut>> {
        Ok(JsonOut(tf.me(&auth.0).await?.into()))
    }

    /// Change the caller's display name.
    #[oai(path = "/me", method = "patch", operation_id = "update_me")]
    async fn update_me(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        body: JsonBody<ProfileIn>,
    ) -> ApiResult<JsonOut<UserOut>> {
        let user = tf
            .update_me(&auth.0, ProfileUpdate { name: body.0.name })
            .await?;
        Ok(JsonOut(user.into()))
    }

    /// Change the caller's password; every other session ends.
    #[oai(path = "/password", method = "post", operation_id = "change_password")]
    async fn change_password(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        req: &Request,
        body: JsonBody<PasswordIn>,
    ) -> ApiResult<Done> {
        tf.change_password(
            &auth.0,
            &body.0.current_password,
            &body.0.new_password,
            client_addr(req),
        )
        .await?;
        Ok(Done::NoContent)
    }
}
