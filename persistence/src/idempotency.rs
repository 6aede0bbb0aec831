//! Idempotency keys: the first answer to a client's key, kept so that a
//! retry replays it instead of writing twice. A key belongs to one principal;
//! the unique `(principal, idempotency_key)` makes the first of concurrent
//! duplicates win.

use crate::schema::idempotency_keys as t;
use crate::{DbConn, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A request claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<'a> {
    pub principal: &'a str,
    pub key: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// SHA-256 of the raw body, hex.
    pub body_hash: &'a str,
}

/// The answer kept for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    /// `[name, value]` pairs, as JSON text.
    pub headers: String,
    pub body: Vec<u8>,
}

/// What is known of a key already claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub method: String,
    pub path: String,
    pub body_hash: String,
    /// `None` while the first request is still being answered.
    pub answer: Option<StoredAnswer>,
}

/// The outcome of claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The key is new (or its earlier use expired): this request goes ahead.
    New,
    /// The key was used before and has not expired.
    Used(Existing),
}

type Row = (
    String,
    String,
    String,
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn existing(row: Row) -> Result<Existing, RepoError> {
    let (method, path, body_hash, state, status, content_type, headers, body, encoding) = row;
    let answer = match state.as_str() {
        "in_progress" => None,
        "done" => {
            let status = status
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(|| RepoError::Corrupt("idempotency key without a status".into()))?;
            let body = body.unwrap_or_default();
            let body = match encoding.as_deref() {
                Some("base64") => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(body)
                        .map_err(|e| RepoError::Corrupt(format!("idempotency key body: {e}")))?
                }
                _ => body.into_bytes(),
            };
            Some(StoredAnswer {
                status,
                content_type,
                headers: headers.unwrap_or_else(|| "[]".into()),
                body,
            })
        }
        other => return Err(RepoError::Corrupt(format!("idempotency key state {other}"))),
    };
    Ok(Existing {
        method,
        path,
        body_hash,
        answer,
    })
}

/// Claims `claim.key` for `claim.principal` until `expires_at`: a key whose
/// earlier use expired, or whose first request was abandoned unanswered (still
/// in progress since `abandoned_before` or earlier: the server stopped or
/// the client went away mid-request), is replaced; a live one is returned as
/// it stands. Run it in a write transaction of its own, before the request
/// is handled.
///
/// # Errors
/// [`RepoError::Conflict`] (unique) when a concurrent request claimed the
/// same key first; database errors.
pub fn claim(
    conn: &mut DbConn,
    claim: &Claim<'_>,
    now: NaiveDateTime,
    abandoned_before: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<Claimed, RepoError> {
    let mine = t::principal.eq(claim.principal).and(t::idempotency_key.eq(claim.key));
    diesel::delete(t::table.filter(mine).filter(t::expires_at.le(now))).execute(conn)?;
    diesel::delete(
        t::table
            .filter(mine)
            .filter(t::state.eq("in_progress"))
            .filter(t::created_at.le(abandoned_before)),
    )
    .execute(conn)?;
    let found: Option<Row> = t::table
        .filter(mine)
        .select((
            t::method,
            t::path,
            t::body_hash,
            t::state,
            t::status,
            t::content_type,
            t::headers,
            t::body,
            t::body_encoding,
        ))
        .get_result(conn)
        .optional()?;
    if let Some(row) = found {
        return Ok(Claimed::Used(existing(row)?));
    }
    diesel::insert_into(t::table)
        .values((
            t::principal.eq(claim.principal),
            t::idempotency_key.eq(claim.key),
            t::method.eq(claim.method),
            t::path.eq(claim.path),
            t::body_hash.eq(claim.body_hash),
            t::state.eq("in_progress"),
            t::created_at.eq(now),
            t::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(Claimed::New)
}

/// Keeps the answer to a claimed key; the claim is the one whose
/// `expires_at` is `claim_expires_at` (a later claim of an abandoned key is
/// another one).
///
/// # Errors
/// [`RepoError::NotFound`] when the claim is gone; database errors.
pub fn complete(
    conn: &mut DbConn,
    principal: &str,
    key: &str,
    claim_expires_at: NaiveDateTime,
    answer: &StoredAnswer,
) -> Result<(), RepoError> {
    let (body, encoding) = match std::str::from_utf8(&answer.body) {
        Ok(text) => (text.to_owned(), "utf8"),
        Err(_) => {
            use base64::Engine;
            (base64::engine::general_purpose::STANDARD.encode(&answer.body), "base64")
        }
    };
    let n = diesel::update(
        t::table
            .filter(t::principal.eq(principal))
            .filter(t::idempotency_key.eq(key))
            .filter(t::expires_at.eq(claim_expires_at))
            .filter(t::state.eq("in_progress")),
    )
    .set((
        t::state.eq("done"),
        t::status.eq(i32::from(answer.status)),
        t::content_type.eq(answer.content_type.as_deref()),
        t::headers.eq(&answer.headers),
        t::body.eq(body),
        t::body_encoding.eq(encoding),
    ))
    .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    Ok(())
}

/// Gives a claimed key up (the request failed in a way worth retrying).
///
/// # Errors
/// Database errors.
pub fn release(
    conn: &mut DbConn,
    principal: &str,
    key: &str,
    claim_expires_at: NaiveDateTime,
) -> Result<(), RepoError> {
    diesel::delete(
        t::table
            .filter(t::principal.eq(principal))
            .filter(t::idempotency_key.eq(key))
            .filter(t::expires_at.eq(claim_expires_at))
            .filter(t::state.eq("in_progress")),
    )
    .execute(conn)?;
    Ok(())
}

/// Forgets keys that expired; returns how many.
///
/// # Errors
/// Database errors.
pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, RepoError> {
    Ok(diesel::delete(t::table.filter(t::expires_at.le(now))).execute(conn)?)
}
