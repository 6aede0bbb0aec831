//! Failed sign-ins, the evidence for throttling password guessing. Kept in
//! the database so that every server behind a load balancer counts the same.

use crate::schema::sign_in_failures as t;
use crate::{DbConn, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// The failures of an account and of an address since `since`, each with
/// the earliest of them (when the oldest counted failure ages out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    pub by_account: i64,
    pub account_oldest: Option<NaiveDateTime>,
    pub by_address: i64,
    pub address_oldest: Option<NaiveDateTime>,
}

/// # Errors
/// Database errors.
pub fn failures(conn: &mut DbConn, username: &str, address: &str, since: NaiveDateTime) -> Result<Failures, RepoError> {
    let account: (i64, Option<NaiveDateTime>) = t::table
        .filter(t::username.eq(username))
        .filter(t::failed_at.gt(since))
        .select((diesel::dsl::count_star(), diesel::dsl::min(t::failed_at)))
        .get_result(conn)?;
    let address_rows: (i64, Option<NaiveDateTime>) = t::table
        .filter(t::address.eq(address))
        .filter(t::failed_at.gt(since))
        .select((diesel::dsl::count_star(), diesel::dsl::min(t::failed_at)))
        .get_result(conn)?;
    Ok(Failures {
        by_account: account.0,
        account_oldest: account.1,
        by_address: address_rows.0,
        address_oldest: address_rows.1,
    })
}

/// Records a failed sign-in and forgets those older than `forget_before`.
///
/// # Errors
/// Database errors.
pub fn record_failure(
    conn: &mut DbConn,
    username: &str,
    address: &str,
    now: NaiveDateTime,
    forget_before: NaiveDateTime,
) -> Result<(), RepoError> {
    diesel::delete(t::table.filter(t::failed_at.lt(forget_before))).execute(conn)?;
    diesel::insert_into(t::table)
        .values((t::username.eq(username), t::address.eq(address), t::failed_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Clears an account's failures after it signed in.
///
/// # Errors
/// Database errors.
pub fn clear(conn: &mut DbConn, username: &str) -> Result<(), RepoError> {
    diesel::delete(t::table.filter(t::username.eq(username))).execute(conn)?;
    Ok(())
}
