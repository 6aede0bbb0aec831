//! `/api/v1/auth/*` and `/api/v1/me`: OAuth 2-shaped sign-in with rotating refresh tokens.

use crate::auth::{self, access_token, dummy_hash, new_refresh_token, token_hash, verify_password, Bearer};
use crate::error::{ApiError, Problem};
use crate::extract::JsonOrForm;
use crate::routes::institutions::InstitutionView;
use crate::routes::users::UserView;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::Duration;
use labshare_domain::service_account::{grant_scopes, scope_text};
use labshare_domain::UserId;
use labshare_persistence::audit::{record, NewEvent};
use labshare_persistence::auth::{open_session, revoke_session, rotate, Refresh, RevokeReason};
use labshare_persistence::{institutions, service_accounts, throttle, users, DbConn};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

/// A token request (RFC 6749 §4.3 and §6), as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenRequest {
    /// Sign in with a username and password.
    Password {
        #[schema(example = "admin")]
        username: String,
        #[schema(example = "correct horse battery")]
        password: String,
    },
    /// Exchange a refresh token for new tokens; the old one is spent.
    RefreshToken {
        #[schema(example = "q3Xo0yq2b3bH8O7cQdM8f1wQmZ3M5lqkJ3tYV2m0V9E")]
        refresh_token: String,
    },
    /// A service account authenticates (RFC 6749 §4.4), with its credentials
    /// here or in an `Authorization: Basic` header (not both).
    ClientCredentials {
        #[schema(example = "sa_3f9c0a7d12be4e55")]
        client_id: Option<String>,
        #[schema(example = "lss_x7Qm2N0pV4sR8tW1yZ3bC5dF7gH9jK2lM4nP6qS8uV0")]
        client_secret: Option<String>,
        /// Space-separated scopes wanted, each held by the account; absent: all it holds.
        #[schema(example = "catalog:read bookings:write")]
        scope: Option<String>,
    },
}

impl Validate for TokenRequest {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

/// Tokens (RFC 6749 §5.1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    #[schema(example = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig")]
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds the access token is valid.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// Single use: each refresh returns a new one. Absent for a service
    /// account, which asks for a new token with its credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "q3Xo0yq2b3bH8O7cQdM8f1wQmZ3M5lqkJ3tYV2m0V9E")]
    pub refresh_token: Option<String>,
    /// The scopes granted, space-separated (service accounts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "catalog:read bookings:write")]
    pub scope: Option<String>,
}

/// The signed-in account and its institution.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeView {
    pub user: UserView,
    pub institution: InstitutionView,
}

/// The account a password signs in to; as slow for an unknown username as for a wrong password.
fn check_credentials(password: &str, found: Option<users::Credentials>) -> Option<UserId> {
    match found {
        Some(cred) => (verify_password(password, &cred.password_hash) && cred.active).then_some(cred.id),
        None => {
            verify_password(password, dummy_hash());
            None
        }
    }
}

/// Records a change of a sign-in session in the audit trail.
fn audit_session(
    c: &mut DbConn,
    user: UserId,
    session: i64,
    action: &str,
    now: chrono::NaiveDateTime,
) -> Result<(), ApiError> {
    let event = NewEvent {
        actor: Some(user),
        action,
        object_type: "session",
        object_id: session,
        before: None,
        after: Some(serde_json::json!({"user_id": user.0})),
    };
    Ok(record(c, &event, now)?)
}

fn tokens(state: &AppState, user: UserId, session: i64, refresh: String) -> Result<TokenResponse, ApiError> {
    Ok(TokenResponse {
        access_token: access_token(&state.keys, user, session, state.now())?,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_TTL_SECONDS,
        refresh_token: Some(refresh),
        scope: None,
    })
}

/// The credentials of a client: from an `Authorization: Basic` header
/// (RFC 6749 §2.3.1) or from the body, never both.
fn client_credentials(
    req: &actix_web::HttpRequest,
    client_id: Option<String>,
    client_secret: Option<String>,
) -> Result<(String, String), ApiError> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .map(|b64| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|text| text.split_once(':').map(|(i, s)| (i.to_owned(), s.to_owned())))
                .ok_or(ApiError::InvalidClient("the Basic credentials are malformed"))
        })
        .transpose()?;
    match (basic, client_id, client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::InvalidClient(
            "send the client credentials either in the Authorization header or in the body, not both",
        )),
        (Some(pair), None, None) => Ok(pair),
        (None, Some(id), Some(secret)) => Ok((id, secret)),
        (None, _, _) => Err(ApiError::InvalidClient(
            "send client_id and client_secret, in the body or as HTTP Basic credentials",
        )),
    }
}

/// A token for a service account, after its credentials, the throttle and the scopes allow.
async fn client_credentials_grant(
    st: &web::Data<AppState>,
    req: &actix_web::HttpRequest,
    client_id: String,
    secret: String,
    scope: Option<String>,
) -> Result<TokenResponse, ApiError> {
    let address = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    // Counted apart from usernames: `:` never occurs in one.
    let key = format!("client:{client_id}");
    let limits = labshare_domain::throttle::Limits::default();
    let now = st.now().naive_utc();
    let (k, addr, id) = (key.clone(), address.clone(), client_id.clone());
    let found = st
        .read_anonymous(move |c| {
            let f = throttle::failures(c, &k, &addr, now - limits.window)?;
            // Only the address waits: a client id is no secret, and a secret of
            // 256 random bits cannot be guessed in five tries, so locking the
            // account out would only let anyone who knows the id stop a
            // hospital's integration.
            let counted = labshare_domain::throttle::Counted {
                by_account: 0,
                account_oldest: None,
                by_address: f.by_address,
                address_oldest: f.address_oldest,
            };
            if let Some(retry_after) = labshare_domain::throttle::wait(&counted, &limits, now) {
                return Err(ApiError::TooManyAttempts { retry_after });
            }
            Ok(service_accounts::credentials(c, &id)?)
        })
        .await?;
    let account = match found {
        Some(cred) if auth::client_secret_matches(&secret, &cred.secret_hash) && cred.active => cred,
        other => {
            if other.is_none() {
                // As long as for a known client.
                auth::client_secret_matches(&secret, &token_hash(""));
            }
            st.write_anonymous(move |c, now| {
                let now = now.naive_utc();
                Ok(throttle::record_failure(c, &key, &address, now, now - limits.window)?)
            })
            .await?;
            return Err(ApiError::InvalidClient(
                "the client id or secret is wrong, or the service account is revoked",
            ));
        }
    };
    let granted = grant_scopes(scope.as_deref(), &account.scopes).map_err(|e| ApiError::InvalidScope(e.to_string()))?;
    let account_id = account.id;
    st.write_anonymous(move |c, now| {
        throttle::clear(c, &key)?;
        Ok(service_accounts::touch(c, account_id, now.naive_utc())?)
    })
    .await?;
    Ok(TokenResponse {
        access_token: auth::service_access_token(
            &st.keys,
            account.user_id,
            account.id,
            account.secret_generation,
            &granted,
            st.now(),
        )?,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_TTL_SECONDS,
        refresh_token: None,
        scope: Some(scope_text(&granted)),
    })
}

/// Get tokens.
///
/// `grant_type` `password` signs in; `refresh_token` rotates the refresh
/// token. Presenting a spent refresh token again ends its whole session.
/// `client_credentials` issues a service account a token with the scopes
/// asked for (all it holds when none), and no refresh token.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", operation_id = "issueToken",
    request_body(content(
        (TokenRequest = "application/json"),
        (TokenRequest = "application/x-www-form-urlencoded")
    ), description = "As JSON, or form-encoded as OAuth 2 clients send it"),
    responses((status = 200, description = "Tokens", body = TokenResponse),
              (status = 400, description = "Wrong credentials or an invalid, expired or reused refresh token (`error: invalid_grant`); a scope not held by the service account (`error: invalid_scope`)", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "Wrong or missing client credentials, or a revoked service account (`error: invalid_client`)", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "Too many failed sign-ins for the account or client (5 in 15 minutes) or from the address (20): wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json")))]
pub async fn token(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: JsonOrForm<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let (refresh, hash) = new_refresh_token()?;
    let st = state.clone();
    let (user, session) = match body.0 {
        TokenRequest::ClientCredentials {
            client_id,
            client_secret,
            scope,
        } => {
            let (id, secret) = client_credentials(&req, client_id, client_secret)?;
            let body = client_credentials_grant(&st, &req, id, secret, scope).await?;
            return Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"))
                .json(body));
        }
        TokenRequest::Password { username, password } => {
            // The connection's own address: a forwarded header could be forged.
            let address = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
            let limits = labshare_domain::throttle::Limits::default();
            let now = st.now().naive_utc();
            let (name, addr) = (username.clone(), address.clone());
            let found = st
                .read_anonymous(move |c| {
                    let f = throttle::failures(c, &name, &addr, now - limits.window)?;
                    let counted = labshare_domain::throttle::Counted {
                        by_account: f.by_account,
                        account_oldest: f.account_oldest,
                        by_address: f.by_address,
                        address_oldest: f.address_oldest,
                    };
                    if let Some(retry_after) = labshare_domain::throttle::wait(&counted, &limits, now) {
                        return Err(ApiError::TooManyAttempts { retry_after });
                    }
                    Ok(users::credentials(c, &name)?)
                })
                .await?;
            let ok = web::block(move || check_credentials(&password, found)).await?;
            let Some(user) = ok else {
                let (name, addr) = (username.clone(), address.clone());
                st.write_anonymous(move |c, now| {
                    let now = now.naive_utc();
                    Ok(throttle::record_failure(c, &name, &addr, now, now - limits.window)?)
                })
                .await?;
                return Err(ApiError::InvalidGrant(
                    "the username or password is wrong, or the account is deactivated",
                ));
            };
            let session = st
                .write_anonymous(move |c, now| {
                    let now = now.naive_utc();
                    throttle::clear(c, &username)?;
                    let session = open_session(
                        c,
                        user,
                        &hash,
                        now,
                        now + Duration::days(auth::SESSION_TTL_DAYS),
                        now + Duration::days(auth::REFRESH_TTL_DAYS),
                    )?;
                    audit_session(c, user, session, "session.open", now)?;
                    Ok(session)
                })
                .await?;
            (user, session)
        }
        TokenRequest::RefreshToken { refresh_token } => {
            let presented = token_hash(&refresh_token);
            let outcome = st
                .write_anonymous(move |c, now| {
                    let now = now.naive_utc();
                    let outcome = rotate(c, &presented, &hash, now, now + Duration::days(auth::REFRESH_TTL_DAYS))?;
                    match outcome {
                        Refresh::Rotated { user, session } => {
                            // A deactivated account cannot refresh.
                            if users::actor(c, user).is_err() {
                                return Ok(Refresh::Invalid);
                            }
                            audit_session(c, user, session, "session.refresh", now)?;
                        }
                        Refresh::Reused { user, session } => {
                            audit_session(c, user, session, "session.revoke_reuse", now)?
                        }
                        Refresh::Invalid => {}
                    }
                    Ok(outcome)
                })
                .await?;
            match outcome {
                Refresh::Rotated { user, session } => (user, session),
                Refresh::Invalid => return Err(ApiError::InvalidGrant("the refresh token is invalid or expired")),
                Refresh::Reused { .. } => {
                    return Err(ApiError::InvalidGrant(
                        "the refresh token was already used; its session has been ended",
                    ))
                }
            }
        }
    };
    let body = tokens(&st, user, session, refresh)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body))
}

/// Sign out.
///
/// Ends the session of the access token: it and its refresh tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "logout",
    responses((status = 204, description = "Signed out")),
    security(("bearer" = [])))]
pub async fn logout(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let session = bearer.session;
    state
        .write(&bearer, move |c, ctx| {
            Ok(revoke_session(c, session, RevokeReason::Logout, ctx.now_naive())?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in account.
///
/// The account behind the access token, with its roles, tags and institution.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", operation_id = "getMe",
    responses((status = 200, description = "The account and its institution", body = MeView)),
    security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, bearer: Bearer) -> Result<web::Json<MeView>, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let user = users::get(c, ctx.actor.user_id)?;
            let institution = institutions::get(c, user.value.institution_id)?;
            Ok(MeView {
                user: crate::routes::users::user_view(c, user)?,
                institution: institution.into(),
            })
        })
        .await?;
    Ok(web::Json(view))
}
