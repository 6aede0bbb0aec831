//! `Idempotency-Key` on POST: a client that is not sure its request arrived
//! sends it again with the same key and gets the first answer back, byte for
//! byte and marked `Idempotent-Replayed: true`, without a second write.
//!
//! - A key belongs to the signed-in user (the subject of the bearer token).
//!   Requests without a valid bearer token are answered as if the key were
//!   absent (the handler then answers 401), and so are sign-in, sign-out and
//!   the calendar token, whose answers carry secrets that must not be kept.
//! - The key is claimed by inserting it in a transaction of its own before
//!   the handler runs; the unique `(principal, key)` makes the loser of a
//!   race answer 409 `idempotency-key-in-use` with `Retry-After`.
//! - The same key with another method, path (with query) or body (SHA-256 of
//!   the raw bytes) is refused with 422 `idempotency-key-reused`.
//! - Answers that say "nothing was attempted, try again" give the key back so
//!   that a retry goes through: 5xx, 401, 408 and 429. Every other answer,
//!   4xx included, is kept and replayed.
//! - A successful answer marked `Cache-Control: no-store` carries a secret
//!   shown only once: the key still prevents a second write, but what is
//!   kept and replayed is a 409 `idempotency-secret-not-kept`.
//! - Keys expire [`TTL_HOURS`] after the first request (server clock): an
//!   expired key is replaced when used again and purged by the sweep.
//! - The claim, the handler and keeping the answer run in a task of their
//!   own, so a client that hangs up mid-request (a timeout) finds the answer
//!   kept when it retries.
//! - A first request left unanswered for [`ABANDONED_AFTER_SECONDS`] (the
//!   server process ended before the answer was kept) no longer holds its
//!   key: a retry runs again. Its write, if it was committed, is then not
//!   known to the retry; the database's own unique keys and the booking
//!   exclusion constraint still refuse most duplicates.

use crate::error::ApiError;
use crate::i18n::{self, Lang};
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpResponse};
use futures_util::StreamExt;
use labshare_persistence::idempotency::{self as keys, Claim, Claimed, StoredAnswer};
use labshare_persistence::{write_tx, DbConn, RepoError};
use sha2::{Digest, Sha256};

/// The request header naming the key.
pub const HEADER: &str = "Idempotency-Key";
/// The response header marking a replayed answer.
pub const REPLAYED: &str = "Idempotent-Replayed";
/// How long a key and its answer are kept.
pub const TTL_HOURS: i64 = 24;
/// A first request still unanswered after this long was abandoned (the
/// server process ended before its answer was kept): its key may be
/// claimed again.
pub const ABANDONED_AFTER_SECONDS: i64 = 300;
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// Operations whose answers carry secrets (tokens): the key is ignored.
pub const EXEMPT: &[&str] = &["/api/v1/auth/token", "/api/v1/auth/logout", "/api/v1/me/calendar-token"];

/// The path as the router matches it: `%XX` escapes decoded, so that
/// `/api/v1/auth/%74oken` is the token endpoint here too.
fn routed_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `path` is an instance of the route `pattern` (`{name}` matches one segment).
fn matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut q) = (pattern.split('/'), path.split('/'));
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.starts_with('{') && a.ends_with('}') && !b.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

fn one_of(patterns: &[&str], path: &str) -> bool {
    patterns.iter().any(|p| matches(p, path))
}

/// Response headers kept with the answer and replayed.
const KEPT_HEADERS: &[HeaderName] = &[
    header::LOCATION,
    header::ETAG,
    header::CONTENT_LOCATION,
    header::CONTENT_DISPOSITION,
    header::CONTENT_LANGUAGE,
    header::CACHE_CONTROL,
    header::LAST_MODIFIED,
    header::LINK,
    header::VARY,
];

/// The key of a request, checked: one header of 1 to 255 printable ASCII characters.
fn key_of(req: &ServiceRequest) -> Result<String, ApiError> {
    let mut values = req.headers().get_all(HEADER);
    let value = values.next().map(HeaderValue::as_bytes).unwrap_or_default();
    let bad = |rule: &str, message: &str| {
        ApiError::InvalidParameter(vec![crate::error::FieldProblem::parameter(HEADER, rule, message)])
    };
    if values.next().is_some() {
        return Err(bad("single", "send one Idempotency-Key header"));
    }
    if value.is_empty() || value.len() > MAX_KEY_LEN || !value.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Err(bad(
            "printable_ascii_1_to_255",
            "must be 1 to 255 printable ASCII characters",
        ));
    }
    Ok(String::from_utf8_lossy(value).into_owned())
}

/// Whether an answer is kept for replay, or the key given back for a retry.
fn keeps(status: StatusCode) -> bool {
    !(status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

async fn read_body(req: &mut ServiceRequest) -> Result<Result<Bytes, ApiError>, actix_web::Error> {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > crate::extract::BODY_LIMIT {
            return Ok(Err(ApiError::PayloadTooLarge {
                limit: crate::extract::BODY_LIMIT,
            }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body.freeze()))
}

async fn in_tx<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut DbConn) -> Result<T, RepoError> + Send + 'static,
) -> Result<T, ApiError> {
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        write_tx(&mut conn, f).map_err(ApiError::from)
    })
    .await?
}

fn refuse(req: ServiceRequest, e: &ApiError, lang: Lang) -> ServiceResponse<BoxBody> {
    let (http, _) = req.into_parts();
    ServiceResponse::new(http, e.response_in(lang))
}

fn replay(answer: &StoredAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    if let Some(ct) = &answer.content_type {
        res.insert_header((header::CONTENT_TYPE, ct.as_str()));
    }
    let headers: Vec<(String, String)> = serde_json::from_str(&answer.headers).unwrap_or_default();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            res.append_header((name, value));
        }
    }
    res.insert_header((REPLAYED, "true"));
    res.body(answer.body.clone())
}

/// Replays or refuses a POST whose `Idempotency-Key` was used before, and
/// keeps the answer to one whose key is new.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() != Method::POST || !req.headers().contains_key(HEADER) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let lang = i18n::preferred(req.headers());
    let key = match key_of(&req) {
        Ok(key) => key,
        Err(e) => return Ok(refuse(req, &e, lang)),
    };
    let state = req.app_data::<web::Data<AppState>>().map(|s| s.get_ref().clone());
    let bearer = crate::auth::bearer(req.request()).ok();
    let (Some(state), Some(bearer)) = (state, bearer) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let routed = routed_path(req.path());
    if one_of(EXEMPT, &routed) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let principal = format!("user:{}", bearer.user.0);
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
    let body = match read_body(&mut req).await? {
        Ok(body) => body,
        Err(e) => return Ok(refuse(req, &e, lang)),
    };
    let body_hash = sha256_hex(&body);
    req.set_payload(Payload::from(body));

    // The claim, the handler and keeping its answer run in a task of their
    // own: a client that hangs up (a timeout on a bad network) does not stop
    // the answer of a write that went through from being kept for its retry.
    let request = Request {
        principal,
        key,
        method,
        path,
        body_hash,
        lang,
    };
    match actix_web::rt::spawn(claim_and_answer(req, next, state, request)).await {
        Ok(result) => result,
        Err(e) => Err(ApiError::Internal(format!("idempotent request task: {e}")).into()),
    }
}

/// What identifies an idempotent request.
struct Request {
    principal: String,
    key: String,
    method: String,
    path: String,
    body_hash: String,
    lang: Lang,
}

/// Claims the key, then replays, refuses, or runs the handler and keeps its answer.
async fn claim_and_answer<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    state: AppState,
    request: Request,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Request {
        principal,
        key,
        method,
        path,
        body_hash,
        lang,
    } = request;
    let now = state.now();
    // Microseconds, as PostgreSQL keeps them: the expiry names this claim.
    let expires_at = chrono::SubsecRound::trunc_subsecs(now + chrono::Duration::hours(TTL_HOURS), 6);
    let abandoned_before = now - chrono::Duration::seconds(ABANDONED_AFTER_SECONDS);
    let claimed = {
        let (principal, key, method, path, body_hash) = (
            principal.clone(),
            key.clone(),
            method.clone(),
            path.clone(),
            body_hash.clone(),
        );
        in_tx(&state, move |c| {
            let claim = Claim {
                principal: &principal,
                key: &key,
                method: &method,
                path: &path,
                body_hash: &body_hash,
            };
            keys::claim(
                c,
                &claim,
                now.naive_utc(),
                abandoned_before.naive_utc(),
                expires_at.naive_utc(),
            )
        })
        .await
    };
    match claimed {
        Ok(Claimed::New) => {}
        Ok(Claimed::Used(first)) => {
            let e = if first.method != method || first.path != path || first.body_hash != body_hash {
                ApiError::IdempotencyKeyReused
            } else if let Some(answer) = &first.answer {
                let (http, _) = req.into_parts();
                return Ok(ServiceResponse::new(http, replay(answer)));
            } else {
                ApiError::IdempotencyKeyInUse
            };
            return Ok(refuse(req, &e, lang));
        }
        Err(ApiError::Conflict { .. }) => return Ok(refuse(req, &ApiError::IdempotencyKeyInUse, lang)),
        Err(e) => return Ok(refuse(req, &e, lang)),
    }

    let claim = expires_at.naive_utc();
    answer_and_keep(next.call(req), state, (principal, key, claim)).await
}

/// Awaits the handler's answer, keeps it under the key (or gives the key
/// back when the answer invites a retry) and returns it.
async fn answer_and_keep<B: MessageBody + 'static>(
    call: impl std::future::Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    state: AppState,
    (principal, key, claim): (String, String, chrono::NaiveDateTime),
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let release = |state: AppState, principal: String, key: String| async move {
        if let Err(e) = in_tx(&state, move |c| keys::release(c, &principal, &key, claim)).await {
            log::warn!("idempotency key not released: {e}");
        }
    };
    let res = match call.await {
        Ok(res) => res,
        Err(e) => {
            release(state, principal, key).await;
            return Err(e);
        }
    };
    let status = res.status();
    let (http, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(e) => {
            release(state, principal, key).await;
            let e = ApiError::Internal(format!("reading the answer: {}", e.into()));
            return Ok(ServiceResponse::new(http, actix_web::ResponseError::error_response(&e)));
        }
    };
    // An answer the handler marks `Cache-Control: no-store` carries a secret
    // shown only once (a client or signing secret): it is never kept.
    let secret = head
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("no-store")));
    if keeps(status) && secret && status.is_success() {
        let e = ApiError::Refused {
            status: StatusCode::CONFLICT,
            kind: "idempotency-secret-not-kept",
            detail: format!(
                "the first request with this Idempotency-Key succeeded ({status}); its answer carried a secret, \
                 which is shown only once and was not kept: read what it created or changed, and rotate the \
                 secret if that answer was lost"
            ),
        };
        let answer = StoredAnswer {
            status: StatusCode::CONFLICT.as_u16(),
            content_type: Some("application/problem+json".into()),
            headers: "[]".into(),
            body: serde_json::to_vec(&e.problem_in(Lang::En)).unwrap_or_default(),
        };
        let (p, k) = (principal.clone(), key.clone());
        if let Err(e) = in_tx(&state, move |c| keys::complete(c, &p, &k, claim, &answer)).await {
            log::warn!("idempotency answer not kept: {e}");
            release(state, principal, key).await;
        }
    } else if keeps(status) {
        let mut headers = Vec::new();
        for name in KEPT_HEADERS {
            for value in head.headers().get_all(name) {
                if let Ok(value) = value.to_str() {
                    headers.push((name.as_str().to_owned(), value.to_owned()));
                }
            }
        }
        let answer = StoredAnswer {
            status: status.as_u16(),
            content_type: head
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            headers: serde_json::to_string(&headers).unwrap_or_else(|_| "[]".into()),
            body: bytes.to_vec(),
        };
        let (p, k) = (principal.clone(), key.clone());
        if let Err(e) = in_tx(&state, move |c| keys::complete(c, &p, &k, claim, &answer)).await {
            log::warn!("idempotency answer not kept: {e}");
            release(state, principal, key).await;
        }
    } else {
        release(state, principal, key).await;
    }
    Ok(ServiceResponse::new(http, head.set_body(bytes).map_into_boxed_body()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_recognised_as_the_router_sees_them() {
        assert_eq!(routed_path("/api/v1/auth/%74oken"), "/api/v1/auth/token");
        assert_eq!(routed_path("/a%2"), "/a%2");
        assert!(one_of(EXEMPT, &routed_path("/api/v1/auth/%74oken")));
        assert!(one_of(EXEMPT, "/api/v1/me/calendar-token"));
        assert!(!one_of(EXEMPT, "/api/v1/auth/token/x"));
        assert!(!matches("/api/v1/webhooks", "/api/v1/webhooks/1"));
    }

    #[test]
    fn answers_that_invite_a_retry_give_the_key_back() {
        for kept in [200, 201, 204, 400, 403, 404, 409, 422] {
            assert!(
                keeps(StatusCode::from_u16(kept).unwrap_or_else(|e| panic!("{e}"))),
                "{kept}"
            );
        }
        for released in [401, 408, 429, 500, 503] {
            assert!(
                !keeps(StatusCode::from_u16(released).unwrap_or_else(|e| panic!("{e}"))),
                "{released}"
            );
        }
    }

    #[test]
    fn the_body_hash_is_sha256_in_hex() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
