//! Errors of the storage layer, with database errors classified so that the
//! API can tell a conflict from a fault.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("not found")]
    NotFound,
    /// A unique, foreign-key, check or exclusion constraint refused the write.
    #[error("constraint {constraint} refused the change ({kind:?})")]
    Conflict { kind: ConflictKind, constraint: String },
    #[error("database error: {0}")]
    Db(#[source] DieselError),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The database stayed locked or aborted the transaction to avoid a
    /// deadlock or serialisation anomaly: the request may be retried.
    #[error("database busy: {0}")]
    Busy(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Which kind of constraint refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    Unique,
    ForeignKey,
    Check,
    Exclusion,
}

/// Names of the triggers that refuse changes to records that must not change.
const FROZEN: [&str; 4] = [
    "charges_immutable",
    "statements_frozen",
    "assessments_frozen",
    "purchase_reviews_frozen",
];

impl From<DieselError> for RepoError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                Self::Busy(info.message().to_owned())
            }
            // SQLite's overlap trigger raises this; PostgreSQL's exclusion constraint has the same name.
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().contains("bookings_no_overlap") =>
            {
                Self::Conflict {
                    kind: ConflictKind::Exclusion,
                    constraint: "bookings_no_overlap".into(),
                }
            }
            // Triggers that keep charges, issued statements and filed purchase reviews unchanged (both backends).
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if FROZEN.iter().any(|name| info.message().contains(name)) =>
            {
                let constraint = FROZEN
                    .iter()
                    .find(|name| info.message().contains(*name))
                    .map(|name| (*name).to_owned())
                    .unwrap_or_default();
                Self::Conflict {
                    kind: ConflictKind::Check,
                    constraint,
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if info.message().contains("database is locked") || info.message().contains("deadlock detected") =>
            {
                Self::Busy(info.message().to_owned())
            }
            DieselError::DatabaseError(kind, info) => {
                let kind = match kind {
                    DatabaseErrorKind::UniqueViolation => ConflictKind::Unique,
                    DatabaseErrorKind::ForeignKeyViolation => ConflictKind::ForeignKey,
                    DatabaseErrorKind::CheckViolation => ConflictKind::Check,
                    DatabaseErrorKind::ExclusionViolation => ConflictKind::Exclusion,
                    other => return Self::Db(DieselError::DatabaseError(other, info)),
                };
                let constraint = info
                    .constraint_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| info.message().to_owned());
                Self::Conflict { kind, constraint }
            }
            other => Self::Db(other),
        }
    }
}
