//! Authentication: argon2id password hashes, short-lived signed access
//! tokens naming a session, and opaque refresh tokens stored only as hashes.

use crate::error::ApiError;
use crate::scopes::Need;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use argon2::Argon2;
use argon2::PasswordHasher;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::future::{ready, Ready};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use labshare_domain::access::Actor;
use labshare_domain::service_account::{scope_text, ApiScope};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::UserId;
use labshare_persistence::{auth as sessions, service_accounts, users, DbConn, RepoError};
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
    /// The session id (0 for a service account, which has none).
    pub sid: i64,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    /// The service account, for a token of the `client_credentials` grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sa: Option<i64>,
    /// The generation of the service account's secret the token was issued under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sgen: Option<i64>,
    /// The scopes granted, space-separated (RFC 8693 `scope` claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
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
        sa: None,
        sgen: None,
        scope: None,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|e| ApiError::Internal(format!("signing: {e}")))
}

/// Signs an access token for a service account, under the current
/// generation of its secret, with the scopes granted.
///
/// # Errors
/// [`ApiError::Internal`] when signing fails.
pub fn service_access_token(
    keys: &Keys,
    user: UserId,
    account: i64,
    generation: i64,
    scopes: &[ApiScope],
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let claims = Claims {
        sub: user.0.to_string(),
        sid: 0,
        iat: now.timestamp(),
        exp: now.timestamp() + ACCESS_TTL_SECONDS,
        iss: ISSUER.into(),
        sa: Some(account),
        sgen: Some(generation),
        scope: Some(scope_text(scopes)),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
        .map_err(|e| ApiError::Internal(format!("signing: {e}")))
}

/// A service account's token, checked against the operation it calls.
#[derive(Debug, Clone)]
pub struct ServicePrincipal {
    pub account: i64,
    pub generation: i64,
    /// The scope the operation of this request needs (the token holds it).
    pub needs: ApiScope,
}

/// A verified access token; the actor is loaded inside the handler's transaction.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub user: UserId,
    pub session: i64,
    /// `Some` for a service account's token.
    pub service: Option<ServicePrincipal>,
}

impl Bearer {
    /// The actor behind this token, if its session is still live.
    ///
    /// # Errors
    /// 401 when the session ended or the account was deactivated.
    pub fn actor(&self, conn: &mut DbConn, now: DateTime<Utc>) -> Result<Actor, ApiError> {
        if let Some(sp) = &self.service {
            // Revocation and rotation take effect at once, and so does a narrowing of scopes.
            let Some(held) = service_accounts::current_scopes(conn, sp.account, self.user, sp.generation)? else {
                return Err(ApiError::Unauthorized(
                    "the service account was revoked or its secret rotated; request a new token",
                ));
            };
            if !held.contains(&sp.needs) {
                return Err(ApiError::InsufficientScope {
                    scope: Some(sp.needs.as_str()),
                });
            }
        } else if !sessions::session_is_live(conn, self.session, self.user, now.naive_utc())? {
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

/// The verified bearer token of a request (signature and expiry only; the
/// session is checked inside the handler's transaction).
///
/// # Errors
/// 401 when the token is missing, malformed, invalid or expired.
pub fn bearer(req: &HttpRequest) -> Result<Bearer, ApiError> {
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
    // The library would also check `exp`, against the machine's clock;
    // the server's clock alone decides (below).
    validation.validate_exp = false;
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
    let service = match (claims.sa, claims.sgen) {
        (Some(account), Some(generation)) => Some(ServicePrincipal {
            account,
            generation,
            needs: scope_needed(req, claims.scope.as_deref().unwrap_or_default())?,
        }),
        (None, None) => None,
        _ => return Err(ApiError::Unauthorized("the access token is invalid")),
    };
    Ok(Bearer {
        user: UserId(user),
        session: claims.sid,
        service,
    })
}

/// The scope this request's operation needs, when the token holds it.
fn scope_needed(req: &HttpRequest, granted: &str) -> Result<ApiScope, ApiError> {
    let pattern = req.match_pattern().unwrap_or_default();
    match crate::scopes::needed(req.method().as_str(), &pattern) {
        Need::Scope(scope) if granted.split_whitespace().any(|s| s == scope.as_str()) => Ok(scope),
        Need::Scope(scope) => Err(ApiError::InsufficientScope {
            scope: Some(scope.as_str()),
        }),
        Need::People | Need::Public => Err(ApiError::InsufficientScope { scope: None }),
    }
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
    let (password, salt) = (password.to_owned(), *salt);
    on_hashing_threads(move || {
        Argon2::default()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
    })
    .unwrap_or_else(|| Err(ApiError::Internal("hashing: the hashing threads are gone".into())))
}

/// Checks a password against a stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    on_hashing_threads(move || {
        thread_local! {
            static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        MEMORY.with_borrow_mut(|memory| verify_in(memory, password.as_bytes(), &hash))
    })
    .unwrap_or_else(|| {
        log::error!("password check: the hashing threads are gone");
        false
    })
}

/// What [`argon2::PasswordVerifier::verify_password`] does, with argon2's working
/// memory (19 MiB for our parameters) kept by the calling thread from one
/// check to the next instead of allocated and freed for each: the allocator
/// kept up to 57 MiB per thread of such blocks.
fn verify_in(memory: &mut Vec<argon2::Block>, password: &[u8], hash: &str) -> bool {
    use argon2::password_hash::phc::Output;
    use argon2::{Algorithm, Params, Version};
    let Ok(parsed) = argon2::PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm.as_str()),
    ) else {
        return false;
    };
    let Ok(version) = parsed.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    memory.resize(params.block_count(), argon2::Block::new());
    let mut out = vec![0u8; expected.len()];
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), &mut out, memory.as_mut_slice())
        .is_err()
    {
        return false;
    }
    // Output's equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == *expected)
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Runs `f` on one of the threads that do all argon2 work (one per CPU) and
/// waits for its result; `None` only when those threads are gone.
///
/// Each argon2 hash or check fills 19 MiB. Run on whichever thread asked,
/// concurrent sign-ins each took a core and the allocator kept those
/// megabytes for every thread that had used them: 64 sign-ins at once left
/// the server at 500–800 MiB. On a few threads of their own the work
/// queues, and the memory is the same few blocks used again.
fn on_hashing_threads<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    static QUEUE: std::sync::OnceLock<std::sync::mpsc::Sender<HashJob>> = std::sync::OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (queue, jobs) = std::sync::mpsc::channel::<HashJob>();
        let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        for n in 0..threads {
            let jobs = std::sync::Arc::clone(&jobs);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || loop {
                    let job = match jobs.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A job that panics loses its own answer, not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                });
            if let Err(e) = spawned {
                log::error!("hashing thread {n} not started: {e}");
            }
        }
        queue
    });
    let (answer, result) = std::sync::mpsc::channel();
    queue
        .send(Box::new(move || {
            let _ = answer.send(f());
        }))
        .ok()?;
    result.recv().ok()
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

/// A new client id of a service account: `sa_` and 16 random hex digits.
///
/// # Errors
/// [`ApiError::Internal`] when the system has no randomness.
pub fn new_client_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("randomness: {e}")))?;
    Ok(format!("sa_{}", hex(&bytes)))
}

/// A new client secret (256 random bits, with a recognisable `lss_`
/// prefix for secret scanners) and the hash under which it is stored.
///
/// # Errors
/// [`ApiError::Internal`] when the system has no randomness.
pub fn new_client_secret() -> Result<(String, String), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("randomness: {e}")))?;
    let secret = format!("lss_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = token_hash(&secret);
    Ok((secret, hash))
}

/// Whether a presented client secret matches the stored hash, in time
/// independent of where they differ. A fast hash suffices: the secret is
/// 256 random bits, not a password.
pub fn client_secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = token_hash(secret);
    let (a, b) = (presented.as_bytes(), stored_hash.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a refresh token, hex-encoded: what the database keeps.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use argon2::{Algorithm, Params, PasswordVerifier, Version};

    fn library_verifies(password: &str, hash: &str) -> bool {
        PasswordVerifier::<str>::verify_password(&Argon2::default(), password.as_bytes(), hash).is_ok()
    }

    #[test]
    fn the_reused_memory_check_agrees_with_the_library() {
        let default = hash_password("correct horse").unwrap();
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 1, 2, Some(24)).unwrap(),
        )
        .hash_password_with_salt(b"battery staple", b"saltsaltsalt")
        .unwrap()
        .to_string();
        let mut memory = Vec::new();
        // The same memory serves hashes of different sizes, one after the other.
        for (password, hash) in [
            ("correct horse", &default),
            ("battery staple", &other),
            ("correct horse", &default),
        ] {
            assert!(library_verifies(password, hash));
            assert!(verify_in(&mut memory, password.as_bytes(), hash), "{hash}");
            assert!(!verify_in(&mut memory, b"wrong", hash), "{hash}");
            assert!(verify_password(password, hash));
            assert!(!verify_password("wrong", hash));
        }
        for garbage in [
            "",
            "plain text",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA",
            "$md5$abc$def",
        ] {
            assert!(!verify_in(&mut memory, b"correct horse", garbage), "{garbage}");
            assert!(!verify_password("correct horse", garbage), "{garbage}");
        }
    }
}
