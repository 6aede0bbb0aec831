//! Sign-in sessions and their rotating refresh tokens.
//!
//! A session is one sign-in; every refresh spends its token and issues the
//! next one of the same family. Presenting a spent token again means it was
//! stolen or replayed: the whole session is revoked.

use crate::schema::{refresh_tokens as rt, sessions as s};
use crate::{DbConn, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::UserId;

/// Why a session ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    TokenReuse,
    AccountChange,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::TokenReuse => "token_reuse",
            Self::AccountChange => "account_change",
        }
    }
}

/// Opens a session with its first refresh token (stored as a hash).
///
/// # Errors
/// Database errors.
pub fn open_session(
    conn: &mut DbConn,
    user: UserId,
    token_hash: &str,
    now: NaiveDateTime,
    session_expires: NaiveDateTime,
    token_expires: NaiveDateTime,
) -> Result<i64, RepoError> {
    let session: i64 = diesel::insert_into(s::table)
        .values((
            s::user_id.eq(user.0),
            s::created_at.eq(now),
            s::expires_at.eq(session_expires),
        ))
        .returning(s::id)
        .get_result(conn)?;
    issue_token(conn, session, token_hash, now, token_expires)?;
    Ok(session)
}

fn issue_token(
    conn: &mut DbConn,
    session: i64,
    token_hash: &str,
    now: NaiveDateTime,
    expires: NaiveDateTime,
) -> Result<(), RepoError> {
    diesel::insert_into(rt::table)
        .values((
            rt::session_id.eq(session),
            rt::token_hash.eq(token_hash),
            rt::issued_at.eq(now),
            rt::expires_at.eq(expires),
        ))
        .execute(conn)?;
    Ok(())
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Spent and replaced by `new_hash`; the session goes on.
    Rotated { user: UserId, session: i64 },
    /// Unknown, expired, or of an ended session.
    Invalid,
    /// Already spent: the session has now been revoked.
    Reused { user: UserId, session: i64 },
}

/// Spends a refresh token and issues its successor, atomically: of two
/// concurrent presentations of one token, exactly one rotates.
///
/// # Errors
/// Database errors.
pub fn rotate(
    conn: &mut DbConn,
    token_hash: &str,
    new_hash: &str,
    now: NaiveDateTime,
    token_expires: NaiveDateTime,
) -> Result<Refresh, RepoError> {
    let found: Option<(i64, i64, NaiveDateTime, Option<NaiveDateTime>)> = rt::table
        .filter(rt::token_hash.eq(token_hash))
        .select((rt::id, rt::session_id, rt::expires_at, rt::used_at))
        .get_result(conn)
        .optional()?;
    let Some((token_id, session, expires, used)) = found else {
        return Ok(Refresh::Invalid);
    };
    let live: Option<(i64, NaiveDateTime)> = s::table
        .find(session)
        .filter(s::revoked_at.is_null())
        .select((s::user_id, s::expires_at))
        .get_result(conn)
        .optional()?;
    let Some((user, session_expires)) = live else {
        return Ok(Refresh::Invalid);
    };
    if used.is_some() {
        revoke_session(conn, session, RevokeReason::TokenReuse, now)?;
        return Ok(Refresh::Reused {
            user: UserId(user),
            session,
        });
    }
    if expires <= now || session_expires <= now {
        return Ok(Refresh::Invalid);
    }
    let spent = diesel::update(rt::table.find(token_id).filter(rt::used_at.is_null()))
        .set(rt::used_at.eq(now))
        .execute(conn)?;
    if spent == 0 {
        revoke_session(conn, session, RevokeReason::TokenReuse, now)?;
        return Ok(Refresh::Reused {
            user: UserId(user),
            session,
        });
    }
    issue_token(conn, session, new_hash, now, token_expires.min(session_expires))?;
    Ok(Refresh::Rotated {
        user: UserId(user),
        session,
    })
}

/// Ends a session; its access and refresh tokens stop working.
///
/// # Errors
/// Database errors.
pub fn revoke_session(
    conn: &mut DbConn,
    session: i64,
    reason: RevokeReason,
    now: NaiveDateTime,
) -> Result<(), RepoError> {
    diesel::update(s::table.find(session).filter(s::revoked_at.is_null()))
        .set((s::revoked_at.eq(now), s::revoked_reason.eq(reason.as_str())))
        .execute(conn)?;
    Ok(())
}

/// Ends every session of a user (deactivation, password change).
///
/// # Errors
/// Database errors.
pub fn revoke_user_sessions(
    conn: &mut DbConn,
    user: UserId,
    reason: RevokeReason,
    now: NaiveDateTime,
) -> Result<(), RepoError> {
    diesel::update(s::table.filter(s::user_id.eq(user.0)).filter(s::revoked_at.is_null()))
        .set((s::revoked_at.eq(now), s::revoked_reason.eq(reason.as_str())))
        .execute(conn)?;
    Ok(())
}

/// Whether a session is live (not revoked, not expired) and belongs to `user`.
///
/// # Errors
/// Database errors.
pub fn session_is_live(conn: &mut DbConn, session: i64, user: UserId, now: NaiveDateTime) -> Result<bool, RepoError> {
    let n: i64 = s::table
        .find(session)
        .filter(s::user_id.eq(user.0))
        .filter(s::revoked_at.is_null())
        .filter(s::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    Ok(n == 1)
}
