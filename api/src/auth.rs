//! Authentication: argon2id password hashes, short-lived signed access
//! tokens naming a session, and opaque refresh tokens stored only as hashes.

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use argon2::Argon2;
use argon2::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::future::{ready, Ready};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use labshare_domain::access::Actor;
use labshare_domain::UserId;
use labshare_persistence::{auth as sessions, users, DbConn, RepoError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Lifetime of an access token.
pub const ACCESS_TTL_SECONDS: i64 = 900;
/// Lifetime of one refresh token.
pub const REFRESH_TTL_DAYS: i64 = 14;
/// A session ends at the latest this long after sign-in.
pub const SESSION_TTL_DAYS: i64 = 30;

const ISSUER: &str = "labshare";

/// The keys that sign and check access tokens.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Keys {
    pub fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }
}

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: i64,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Signs an access token for a session.
///
/// # Errors
/// [`ApiError::Internal`] when signing fails.
pub fn access_token(keys: &Keys, user: UserId, session: i64, now: DateTime<Utc>) -> Result<String, ApiError> {
    let claims = Claims {
        sub: user.0.to_string(),
        sid: session,
        iat: now.timestamp(),
        exp: now.timestamp() + ACCESS_TTL_SECONDS,
        iss: ISSUER.into(),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|e| ApiError::Internal(format!("signing: {e}")))
}

/// A verified access token; the actor is loaded inside the handler's transaction.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub user: UserId,
    pub session: i64,
}

impl Bearer {
    /// The actor behind this token, if its session is still live.
    ///
    /// # Errors
    /// 401 when the session ended or the account was deactivated.
    pub fn actor(&self, conn: &mut DbConn, now: DateTime<Utc>) -> Result<Actor, ApiError> {
        if !sessions::session_is_live(conn, self.session, self.user, now.naive_utc())? {
            return Err(ApiError::Unauthorized("the session has ended; sign in again"));
        }
        match users::actor(conn, self.user) {
            Ok(a) => Ok(a),
            Err(RepoError::NotFound) => Err(ApiError::Unauthorized("the account is deactivated")),
            Err(e) => Err(e.into()),
        }
    }
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(bearer(req))
    }
}

fn bearer(req: &HttpRequest) -> Result<Bearer, ApiError> {
    let state = req
        .app_data::<web::Data<crate::state::AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized("send `Authorization: Bearer <access token>`"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized(
            "the Authorization header must use the Bearer scheme",
        ))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.leeway = 0;
    let now = state.now().timestamp();
    let claims = jsonwebtoken::decode::<Claims>(token, &state.keys.decoding, &validation)
        .map_err(|_| ApiError::Unauthorized("the access token is invalid"))?
        .claims;
    // Expiry is checked against the server's clock (which tests may move).
    if claims.exp <= now {
        return Err(ApiError::Unauthorized("the access token has expired"));
    }
    let user = claims
        .sub
        .parse::<i64>()
        .map_err(|_| ApiError::Unauthorized("the access token is invalid"))?;
    Ok(Bearer {
        user: UserId(user),
        session: claims.sid,
    })
}

/// Hashes a password with argon2id and a random salt.
///
/// # Errors
/// [`ApiError::Internal`] when the system has no randomness.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| ApiError::Internal(format!("randomness: {e}")))?;
    hash_password_with_salt(password, &salt)
}

/// Hashes a password with argon2id and a given salt: only for generated
/// datasets whose rows must be the same on every load (the scale dataset's
/// shared, published password).
///
/// # Errors
/// [`ApiError::Internal`] when hashing fails.
pub fn hash_password_with_salt(password: &str, salt: &[u8; 16]) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
}

/// Checks a password against a stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordVerifier::<str>::verify_password(&Argon2::default(), password.as_bytes(), hash).is_ok()
}

/// A hash to verify against when the username is unknown, so that the
/// answer takes as long as for a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

/// A new opaque refresh token and the hash under which it is stored.
///
/// # Errors
/// [`ApiError::Internal`] when the system has no randomness.
pub fn new_refresh_token() -> Result<(String, String), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("randomness: {e}")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// SHA-256 of a refresh token, hex-encoded: what the database keeps.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
