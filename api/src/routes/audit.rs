//! `/api/v1/audit-events`: the audit trail, for regulators, the commission and the platform office.

use crate::auth::Bearer;
use crate::dto::{instant, page_args};
use crate::error::ApiError;
use crate::extract::Query;
use crate::page_type;
use crate::routes::allow;
use crate::state::AppState;
use actix_web::web;
use chrono::{DateTime, Utc};
use labshare_domain::access::{Action, Resource};
use labshare_domain::UserId;
use labshare_persistence::audit::{self as repo, Break, Event};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// One state change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventView {
    #[schema(example = 42)]
    pub id: i64,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub occurred_at: DateTime<Utc>,
    /// The account that made the change; absent for the system.
    #[schema(example = 1)]
    pub actor_id: Option<i64>,
    #[schema(example = "listing.approve")]
    pub action: String,
    #[schema(example = "instrument")]
    pub object_type: String,
    #[schema(example = 7)]
    pub object_id: i64,
    /// The object before the change (a list for a set of assignments, such as
    /// an instrument's managers); absent for a creation.
    #[schema(schema_with = snapshot_schema)]
    pub before: Option<serde_json::Value>,
    /// The object (or list) after the change.
    #[schema(schema_with = snapshot_schema)]
    pub after: Option<serde_json::Value>,
    /// The hash of the event before this one in the chain (64 zeros for the first).
    #[schema(example = "9f2c6a1e0b7d4c3a8e5f1b2d6c9a0e4f7b3d8c1a5e2f6b9d0c4a7e1f3b8d5c2a")]
    pub prev_hash: Option<String>,
    /// SHA-256 (hex) of this event's fields and `prev_hash`.
    #[schema(example = "3b8d5c2a9f2c6a1e0b7d4c3a8e5f1b2d6c9a0e4f7b3d8c1a5e2f6b9d0c4a7e1f")]
    pub hash: Option<String>,
}

/// A snapshot of an object as the API showed it.
fn snapshot_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType};
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .examples([serde_json::json!({"status": "approved", "decided_by": 1})])
        .build()
}

impl From<Event> for AuditEventView {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            occurred_at: instant(e.occurred_at),
            actor_id: e.actor.map(|u| u.0),
            action: e.action,
            object_type: e.object_type,
            object_id: e.object_id,
            before: e.before,
            after: e.after,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

page_type!(AuditEventPage, AuditEventView);

/// Filters of the audit trail.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `institution`, `lab`, `instrument`, `user`.
    #[validate(length(min = 1, max = 50))]
    pub object_type: Option<String>,
    pub object_id: Option<i64>,
    pub actor_id: Option<i64>,
    /// `instrument.update`, `listing.approve`, …
    #[validate(length(min = 1, max = 100))]
    pub action: Option<String>,
    /// Events at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Read the audit trail.
///
/// Oldest first; regulators, the commission and the platform office.
#[utoipa::path(get, path = "/api/v1/audit-events", tag = "audit", operation_id = "listAuditEvents",
    params(AuditQuery),
    responses((status = 200, description = "A page of audit events", body = AuditEventPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<AuditQuery>,
) -> Result<web::Json<AuditEventPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let filter = repo::Filter {
        object_type: q.object_type,
        object_id: q.object_id,
        actor: q.actor_id.map(UserId),
        action: q.action,
        from: crate::dto::bounded_instant("from", q.from)?,
        to: crate::dto::bounded_instant("to", q.to)?,
        after,
        limit,
    };
    let page = state
        .read(&bearer, move |c, ctx| {
            allow(ctx, Action::ReadAuditTrail, &Resource::Platform)?;
            Ok(repo::list(c, &filter)?)
        })
        .await?;
    Ok(web::Json(AuditEventPage::from_page(page, AuditEventView::from)))
}

/// Why a link of the audit chain is broken.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "hash_mismatch")]
pub enum BreakReason {
    /// The event's stored hash is not the hash of its fields: it was edited.
    HashMismatch,
    /// The event does not link to the one before it: an event was removed or inserted before it.
    PrevHashMismatch,
    /// The chain ends before the last event recorded in the chain head: events at the end were removed.
    HeadMismatch,
}

impl From<Break> for BreakReason {
    fn from(b: Break) -> Self {
        match b {
            Break::HashMismatch => Self::HashMismatch,
            Break::PrevHashMismatch => Self::PrevHashMismatch,
            Break::HeadMismatch => Self::HeadMismatch,
        }
    }
}

/// The first broken link of the audit chain.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BrokenLink {
    /// The id of the first event that does not verify.
    #[schema(example = 42)]
    pub id: i64,
    pub reason: BreakReason,
}

/// The outcome of walking the audit chain.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditVerification {
    /// Whether every event up to the chain head verifies.
    #[schema(example = true)]
    pub valid: bool,
    /// Events examined, the broken one included.
    #[schema(example = 1280)]
    pub events_checked: i64,
    /// The first broken link; absent when the chain is valid.
    #[schema(example = json!({"id": 42, "reason": "hash_mismatch"}))]
    pub first_broken: Option<BrokenLink>,
}

/// Verify the audit chain.
///
/// Walks the hash chain of the audit trail in id order, up to the event the
/// chain head names when the walk starts, and reports the first event whose
/// hash or link to its predecessor does not verify. Regulators, the
/// commission and the platform office.
#[utoipa::path(get, path = "/api/v1/audit-events/verify", tag = "audit", operation_id = "verifyAuditEvents",
    responses((status = 200, description = "The outcome of the walk", body = AuditVerification)),
    security(("bearer" = [])))]
pub async fn verify(state: web::Data<AppState>, bearer: Bearer) -> Result<web::Json<AuditVerification>, ApiError> {
    let v = state
        .read(&bearer, move |c, ctx| {
            allow(ctx, Action::ReadAuditTrail, &Resource::Platform)?;
            Ok(repo::verify(c)?)
        })
        .await?;
    Ok(web::Json(AuditVerification {
        valid: v.first_broken.is_none(),
        events_checked: v.events_checked,
        first_broken: v.first_broken.map(|(id, why)| BrokenLink { id, reason: why.into() }),
    }))
}
