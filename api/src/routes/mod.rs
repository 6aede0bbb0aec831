//! One module per resource, one function per operation.

pub mod assessments;
pub mod audit;
pub mod auth;
pub mod bookings;
pub mod calendar;
pub mod charges;
pub mod fees;
pub mod institutions;
pub mod instruments;
pub mod labs;
pub mod ops;
pub mod policy;
pub mod purchase_reviews;
pub mod qualifications;
pub mod ratings;
pub mod reports;
pub mod schedule;
pub mod service;
pub mod service_accounts;
pub mod statements;
pub mod subsidies;
pub mod usage;
pub mod users;
pub mod webhooks;

use crate::error::ApiError;
use crate::state::Ctx;
use labshare_domain::access::{can, Action, Resource};
use labshare_persistence::audit::{record, NewEvent};
use labshare_persistence::DbConn;
use serde::Serialize;

/// Who reads which requests (bookings, service orders, usage records).
pub struct RequestReaders {
    /// `None`: the actor reads all of them.
    pub visible_to: Option<labshare_persistence::Visibility>,
    /// The instruments the actor runs (manager or unit admin): its queue.
    pub runs: Vec<i64>,
}

/// The requests an actor may read, from the permission rules and the
/// instruments it runs.
///
/// # Errors
/// Database errors.
pub fn request_readers(c: &mut DbConn, ctx: &Ctx) -> Result<RequestReaders, ApiError> {
    use labshare_domain::access::{request_scope, RequestScope};
    use labshare_persistence::instruments;
    let a = &ctx.actor;
    // Assignments count only while the account holds the manager role.
    let mut runs: Vec<i64> = if a.has(labshare_domain::access::Role::InstrumentManager) {
        instruments::managed_by(c, a.user_id)?
            .into_iter()
            .map(|i| i.0)
            .collect()
    } else {
        Vec::new()
    };
    let scope = request_scope(a);
    let unit = match scope {
        RequestScope::All => None,
        RequestScope::Limited { unit } => unit,
    };
    if let Some(unit) = unit {
        runs.extend(instruments::ids_of_institution(c, unit)?);
    }
    let visible_to = match scope {
        RequestScope::All => None,
        RequestScope::Limited { unit } => Some(labshare_persistence::Visibility {
            user_id: a.user_id.0,
            instrument_ids: runs.clone(),
            institution_id: unit.map(|u| u.0),
        }),
    };
    Ok(RequestReaders { visible_to, runs })
}

/// A record the body refers to by id: when it does not exist, the client
/// named a wrong id (422 on that field), not a missing resource (404).
///
/// # Errors
/// [`ApiError::Validation`] naming `pointer`, or the database error.
pub fn referenced<T>(
    result: Result<T, labshare_persistence::RepoError>,
    pointer: impl Into<String>,
    message: &str,
) -> Result<T, ApiError> {
    match result {
        Err(labshare_persistence::RepoError::NotFound) => {
            Err(ApiError::Validation(vec![crate::error::FieldProblem::body(
                pointer, "exists", message,
            )]))
        }
        other => Ok(other?),
    }
}

/// Refuses unless the permission rules allow the action.
///
/// # Errors
/// [`ApiError::Forbidden`].
pub fn allow(ctx: &Ctx, action: Action, resource: &Resource<'_>) -> Result<(), ApiError> {
    if can(&ctx.actor, action, resource) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Writes the audit event of a change, in the caller's transaction.
///
/// # Errors
/// Database errors.
pub fn audit<B: Serialize, A: Serialize>(
    conn: &mut DbConn,
    ctx: &Ctx,
    action: &str,
    object_type: &str,
    object_id: i64,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), ApiError> {
    let json = |v: Option<&dyn erased::Ser>| v.map(erased::to_value).transpose();
    let event = NewEvent {
        actor: Some(ctx.actor.user_id),
        action,
        object_type,
        object_id,
        before: json(before.map(|b| b as &dyn erased::Ser))?,
        after: json(after.map(|a| a as &dyn erased::Ser))?,
    };
    record(conn, &event, ctx.now_naive())?;
    Ok(())
}

mod erased {
    use crate::error::ApiError;
    pub trait Ser {
        fn value(&self) -> Result<serde_json::Value, serde_json::Error>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> Result<serde_json::Value, serde_json::Error> {
            serde_json::to_value(self)
        }
    }
    pub fn to_value(v: &dyn Ser) -> Result<serde_json::Value, ApiError> {
        v.value()
            .map_err(|e| ApiError::Internal(format!("audit serialisation: {e}")))
    }
}
