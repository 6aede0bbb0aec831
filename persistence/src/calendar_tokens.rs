//! The secret tokens of users' own calendar feeds, kept only as SHA-256
//! hashes (like refresh tokens). One per user: rotating replaces it.

use crate::schema::calendar_tokens as t;
use crate::{DbConn, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::UserId;

/// Replaces the user's token (if any) with the one hashed as `token_hash`.
/// Returns whether an earlier token was replaced.
///
/// # Errors
/// Database errors; [`RepoError::Conflict`] when the hash is already in use.
pub fn rotate(conn: &mut DbConn, user: UserId, token_hash: &str, now: NaiveDateTime) -> Result<bool, RepoError> {
    // Two rotations by one user queue on the account row instead of racing to insert.
    crate::lock_row(conn, crate::Lockable::Users, user.0)?;
    let replaced = diesel::delete(t::table.find(user.0)).execute(conn)? > 0;
    diesel::insert_into(t::table)
        .values((
            t::user_id.eq(user.0),
            t::token_hash.eq(token_hash),
            t::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(replaced)
}

/// Removes the user's token; returns whether there was one.
///
/// # Errors
/// Database errors.
pub fn revoke(conn: &mut DbConn, user: UserId) -> Result<bool, RepoError> {
    Ok(diesel::delete(t::table.find(user.0)).execute(conn)? > 0)
}

/// The user whose token has this hash.
///
/// # Errors
/// [`RepoError::NotFound`] for an unknown (or rotated) token.
pub fn owner(conn: &mut DbConn, token_hash: &str) -> Result<UserId, RepoError> {
    let id: i64 = t::table
        .filter(t::token_hash.eq(token_hash))
        .select(t::user_id)
        .get_result(conn)?;
    Ok(UserId(id))
}
