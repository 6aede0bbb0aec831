//! One module per resource, one function per operation.

pub mod audit;
pub mod auth;
pub mod bookings;
pub mod calendar;
pub mod institutions;
pub mod instruments;
pub mod labs;
pub mod ops;
pub mod qualifications;
pub mod ratings;
pub mod schedule;
pub mod usage;
pub mod users;

use crate::error::ApiError;
use crate::state::Ctx;
use labshare_domain::access::{can, Action, Resource};
use labshare_persistence::audit::{record, NewEvent};
use labshare_persistence::DbConn;
use serde::Serialize;

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
