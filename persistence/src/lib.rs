//! Storage of LabShare on SQLite (embedded default) and PostgreSQL
//! (production) through one diesel code path.
//!
//! Functions take `&mut DbConn`; the caller owns the transaction
//! ([`write_tx`] for writes, [`read_tx`] for consistent reads).
//!
//! A row found by a unique key is read with `get_result`, not `first`:
//! `first` adds `LIMIT ?`, and SQLite compiles a statement again each time
//! a bound LIMIT is bound (its value may change the plan), which made the
//! per-request lookups of session, account and instrument the largest cost
//! of a small read. `first` stays where an `ORDER BY` picks the row.

pub mod assessments;
pub mod audit;
pub mod auth;
pub mod bookings;
pub mod bulk;
pub mod calendar_tokens;
pub mod charges;
pub mod db;
pub mod error;
pub mod fees;
pub mod idempotency;
pub mod institutions;
pub mod instruments;
pub mod labs;
pub mod metrics;
pub mod policy;
pub mod purchase_reviews;
pub mod qualifications;
pub mod ratings;
pub mod schedule;
pub mod schema;
pub mod service;
pub mod service_accounts;
pub mod statements;
pub mod subsidies;
pub mod text;
pub mod throttle;
pub mod usage;
pub mod users;
pub mod webhooks;

pub use db::{
    connect_pool, lock_row, migrate, ping, read_tx, write_tx, Backend, DbConn, DbPool, DbUrl, Lockable,
    SCHEMA_FINGERPRINT,
};
pub use error::RepoError;

/// The requests (bookings, orders, usage records) one actor may read: its
/// own, those of the instruments it runs, and those of its unit when it is
/// a unit admin.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    pub user_id: i64,
    pub instrument_ids: Vec<i64>,
    pub institution_id: Option<i64>,
}

/// A stored value with its timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T> {
    pub value: T,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// One page of a list, ordered by id, and the id to continue after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

impl<T> Page<T> {
    /// Cuts a result fetched with `limit + 1` rows into a page.
    pub fn from_overfetch(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> i64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next_after = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&id_of)
        } else {
            None
        };
        Self {
            items: rows,
            next_after,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_after: self.next_after,
        }
    }
}

/// Parses a text column into a domain enum, reporting a corrupt row otherwise.
pub(crate) fn parse_enum<E: labshare_domain::text_enum::TextEnum>(column: &str, text: &str) -> Result<E, RepoError> {
    E::parse(text).map_err(|e| RepoError::Corrupt(format!("{column}: {e}")))
}
