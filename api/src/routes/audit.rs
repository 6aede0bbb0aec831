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
use labshare_persistence::audit::{self as repo, Event};
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
    /// The object before the change; absent for a creation.
    #[schema(schema_with = snapshot_schema)]
    pub before: Option<serde_json::Value>,
    /// The object after the change.
    #[schema(schema_with = snapshot_schema)]
    pub after: Option<serde_json::Value>,
}

/// A snapshot of an object as the API showed it.
fn snapshot_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
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
