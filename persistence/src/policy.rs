//! The platform policy as the platform office last set it (one row).

use crate::schema::platform_policy as t;
use crate::{DbConn, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::UserId;

/// The stored policy document and who set it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    pub body: String,
    pub updated_by: Option<UserId>,
    pub updated_at: NaiveDateTime,
}

/// The stored policy, `None` while the defaults hold.
///
/// # Errors
/// Database errors.
pub fn load(conn: &mut DbConn) -> Result<Option<StoredPolicy>, RepoError> {
    let row: Option<(String, Option<i64>, NaiveDateTime)> = t::table
        .filter(t::id.eq(1))
        .select((t::body, t::updated_by, t::updated_at))
        .get_result(conn)
        .optional()?;
    Ok(row.map(|(body, by, at)| StoredPolicy {
        body,
        updated_by: by.map(UserId),
        updated_at: at,
    }))
}

/// Replaces the stored policy. The caller runs in a write transaction, so
/// the read and the write of the single row cannot interleave.
///
/// # Errors
/// Database errors.
pub fn store(conn: &mut DbConn, body: &str, by: UserId, now: NaiveDateTime) -> Result<(), RepoError> {
    let n = diesel::update(t::table.filter(t::id.eq(1)))
        .set((t::body.eq(body), t::updated_by.eq(by.0), t::updated_at.eq(now)))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(t::table)
            .values((
                t::id.eq(1),
                t::body.eq(body),
                t::updated_by.eq(by.0),
                t::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Serialises changes of the policy for the rest of the transaction, so that
/// a read-compare-write of it sees every change committed before. On SQLite
/// the immediate write transaction already serialises writers.
///
/// # Errors
/// Database errors.
pub fn lock(conn: &mut DbConn) -> Result<(), RepoError> {
    if let DbConn::Postgresql(_) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(727201)").execute(conn)?;
    }
    Ok(())
}
