//! `/api/v1/webhooks`: subscriptions of integrators to events, and their
//! delivery logs. See [`crate::dispatch`] for how deliveries are sent and signed.

use crate::dispatch::check_target;
use crate::dto::{instant, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, DeliveryParam, Id, Query};
use crate::routes::{allow, audit};
use crate::state::{AppState, Ctx};
use crate::{auth::Bearer, page_type};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{webhook_scope, Action, Resource, Scope};
use labshare_domain::validation::Checks;
use labshare_domain::webhook::{check_event_types, EVENT_TYPES, PING};
use labshare_domain::InstitutionId;
use labshare_persistence::webhooks::{self as repo, Webhook};
use labshare_persistence::{lock_row, DbConn, Lockable, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A subscription as the API shows it (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    #[schema(example = 1)]
    pub id: i64,
    /// The institution whose events it receives; `null`: platform-wide, every event.
    #[schema(example = 2)]
    pub institution_id: Option<i64>,
    #[schema(example = "https://lis.example-hospital.cn/hooks/labshare")]
    pub url: String,
    /// Event types from the catalogue, or `*` for all.
    #[schema(example = json!(["booking.approved", "booking.cancelled"]))]
    pub event_types: Vec<String>,
    /// Paused subscriptions receive no new events; what is queued waits.
    #[schema(example = true)]
    pub active: bool,
    #[schema(example = "医院LIS系统")]
    pub description: String,
    #[schema(example = 3)]
    pub created_by: i64,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(h: Webhook) -> Self {
        Self {
            id: h.id,
            institution_id: h.institution_id,
            url: h.url,
            event_types: h.event_types,
            active: h.active,
            description: h.description,
            created_by: h.created_by,
            created_at: instant(h.created_at),
            updated_at: instant(h.updated_at),
        }
    }
}

/// A subscription with its signing secret: answered only at creation and
/// when the secret is rotated. Keep the secret; it is not shown again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// Key of `LabShare-Signature: v1=<hex HMAC-SHA256(secret, "{LabShare-Timestamp}.{body}")>`.
    #[schema(example = "whsec_3f9a0c6e1b2d4f5a8c7e9d0b1a2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d")]
    pub secret: String,
}

/// A new subscription.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// The institution whose events to receive (its unit admin or the platform
    /// office); absent or `null`: platform-wide (the platform office only).
    #[schema(example = 2)]
    pub institution_id: Option<i64>,
    /// `https` URL with a public address (plain `http` and non-public
    /// addresses only when allowed by the server's configuration).
    #[schema(example = "https://lis.example-hospital.cn/hooks/labshare")]
    pub url: String,
    #[schema(example = json!(["booking.approved", "booking.cancelled"]))]
    pub event_types: Vec<String>,
    #[serde(default)]
    #[schema(example = "医院LIS系统")]
    pub description: String,
    /// Default `true`.
    #[schema(example = true)]
    pub active: Option<bool>,
}

/// Changes to a subscription; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[schema(example = "https://lis.example-hospital.cn/hooks/labshare")]
    pub url: Option<String>,
    #[schema(example = json!(["*"]))]
    pub event_types: Option<Vec<String>>,
    #[schema(example = false)]
    pub active: Option<bool>,
    #[schema(example = "医院LIS系统（测试环境）")]
    pub description: Option<String>,
}

/// One attempt to deliver.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub attempted_at: DateTime<Utc>,
    #[schema(example = 42)]
    pub duration_ms: i64,
    /// The receiver's HTTP status; absent when no answer came.
    #[schema(example = 500)]
    pub status_code: Option<i32>,
    #[schema(example = "answered 500 Internal Server Error")]
    pub error: Option<String>,
    /// The start (at most 500 characters) of the receiver's answer.
    #[schema(example = "database unavailable")]
    pub response_excerpt: Option<String>,
}

/// A delivery of one event to one subscription, with every attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    #[schema(example = 7)]
    pub id: i64,
    #[schema(example = 1)]
    pub webhook_id: i64,
    /// `LabShare-Event-Id`: the same for every attempt and redelivery.
    #[schema(example = 120)]
    pub event_id: i64,
    #[schema(example = "booking.approved")]
    pub event_type: String,
    /// `pending`, `delivered`, `failed` (attempts used up) or `cancelled` (subscription deleted).
    #[schema(example = "pending")]
    pub status: String,
    #[schema(example = 2)]
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    #[schema(example = "2026-11-26T03:01:00Z")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[schema(example = 500)]
    pub last_status: Option<i32>,
    #[schema(example = "answered 500 Internal Server Error")]
    pub last_error: Option<String>,
    #[schema(example = "2026-11-26T03:02:00Z")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    pub log: Vec<AttemptView>,
}

impl From<repo::Delivery> for DeliveryView {
    fn from(d: repo::Delivery) -> Self {
        Self {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event_type: d.event_type,
            next_attempt_at: (d.status == "pending").then(|| instant(d.next_attempt_at)),
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at.map(instant),
            created_at: instant(d.created_at),
            log: d
                .log
                .into_iter()
                .map(|a| AttemptView {
                    attempted_at: instant(a.attempted_at),
                    duration_ms: a.duration_ms,
                    status_code: a.status_code,
                    error: a.error,
                    response_excerpt: a.response_excerpt,
                })
                .collect(),
        }
    }
}

/// An event type of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventTypeView {
    #[schema(example = "booking.approved")]
    pub name: String,
    #[schema(example = "A pending booking was approved.")]
    pub description: String,
}

page_type!(WebhookPage, WebhookView);
page_type!(DeliveryPage, DeliveryView);

/// Filters of the subscription list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    pub institution_id: Option<i64>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of a delivery log.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub status: Option<String>,
    pub event_type: Option<String>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The resource a subscription belongs to, for the permission rules.
fn owner(institution: Option<i64>) -> Resource<'static> {
    institution.map_or(Resource::Platform, |i| Resource::Institution(InstitutionId(i)))
}

/// Loads a subscription the actor manages.
fn managed(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<Webhook, ApiError> {
    let hook = repo::get(c, id)?;
    allow(ctx, Action::ManageWebhooks, &owner(hook.institution_id))?;
    Ok(hook)
}

fn new_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("randomness: {e}")))?;
    Ok(format!(
        "whsec_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

fn check_description(description: &str) -> Result<(), ApiError> {
    let mut checks = Checks::new();
    checks.length("description", description, 0, 200);
    Ok(checks.finish()?)
}

/// The catalogue of event types.
///
/// Every type a subscription may name, with what causes it; `*` subscribes
/// to all of them, present and future.
#[utoipa::path(get, path = "/api/v1/webhooks/event-types", tag = "webhooks", operation_id = "listWebhookEventTypes",
    responses((status = 200, description = "Every event type a subscription may name", body = Vec<EventTypeView>)),
    security(("bearer" = [])))]
pub async fn event_types(
    state: web::Data<AppState>,
    bearer: Bearer,
) -> Result<web::Json<Vec<EventTypeView>>, ApiError> {
    state.read(&bearer, |_, _| Ok(())).await?;
    let mut out: Vec<EventTypeView> = Vec::new();
    for e in EVENT_TYPES {
        if !out.iter().any(|o| o.name == e.name) {
            out.push(EventTypeView {
                name: e.name.to_owned(),
                description: e.description.to_owned(),
            });
        }
    }
    Ok(web::Json(out))
}

/// Subscribe a URL to events.
///
/// The platform office for any institution or platform-wide; a unit admin
/// for its own institution. The answer carries the signing secret, shown
/// only this once. The subscription receives events of changes made after it.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "createWebhook",
    request_body = WebhookInput,
    responses((status = 201, description = "Created, with its secret", body = WebhookWithSecret),
              (status = 422, description = "Unknown event type, not https, or an address that is not public", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let mut problems: Vec<FieldProblem> = Vec::new();
    if let Err(e) = check_event_types(&i.event_types) {
        problems.extend(e.0.into_iter().map(FieldProblem::from));
    }
    if let Err(ApiError::Validation(p)) = check_description(&i.description) {
        problems.extend(p);
    }
    // Who may subscribe is settled before the destination is looked up.
    let institution = i.institution_id;
    state
        .read(&bearer, move |_, ctx| {
            allow(ctx, Action::ManageWebhooks, &owner(institution))
        })
        .await?;
    let url = match check_target(i.url, state.webhooks.allow.clone(), "/url").await {
        Ok(u) => Some(u),
        Err(ApiError::Validation(p)) => {
            problems.extend(p);
            None
        }
        Err(e) => return Err(e),
    };
    let url = match url {
        Some(u) if problems.is_empty() => u,
        _ => return Err(ApiError::Validation(problems)),
    };
    let secret = new_secret()?;
    let new = repo::NewWebhook {
        institution_id: i.institution_id,
        url,
        event_types: i.event_types,
        secret,
        active: i.active.unwrap_or(true),
        description: i.description,
        created_by: 0,
    };
    let created = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::ManageWebhooks, &owner(new.institution_id))?;
            if let Some(inst) = new.institution_id {
                crate::routes::referenced(
                    labshare_persistence::institutions::get(c, InstitutionId(inst)),
                    "/institution_id",
                    "no such institution",
                )?;
            }
            let new = repo::NewWebhook {
                created_by: ctx.actor.user_id.0,
                ..new
            };
            let hook = repo::insert(c, &new, ctx.now_naive())?;
            let view = WebhookView::from(hook.clone());
            audit(c, ctx, "webhook.create", "webhook", view.id, None::<&()>, Some(&view))?;
            Ok(WebhookWithSecret {
                webhook: view,
                secret: hook.secret,
            })
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(created))
}

/// List the subscriptions the actor manages.
///
/// All of them for the platform office, its own institution's for a unit
/// admin; never their secrets.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    params(WebhookQuery),
    responses((status = 200, description = "A page of subscriptions", body = WebhookPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<WebhookQuery>,
) -> Result<web::Json<WebhookPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let institution_id = match (webhook_scope(&ctx.actor), q.institution_id) {
                (None, _) => return Err(ApiError::Forbidden),
                (Some(Scope::All), wanted) => wanted,
                (Some(Scope::Institution(own)), None) => Some(own.0),
                (Some(Scope::Institution(own)), Some(wanted)) if wanted == own.0 => Some(wanted),
                (Some(Scope::Institution(_)), Some(_)) => return Err(ApiError::Forbidden),
            };
            let filter = repo::Filter {
                institution_id,
                platform_wide: false,
                after,
                limit,
            };
            Ok(repo::list(c, &filter)?)
        })
        .await?;
    Ok(web::Json(WebhookPage::from_page(page, WebhookView::from)))
}

/// Read a subscription.
///
/// Its URL, event types, state and description, never the secret; with an
/// `ETag` for `If-Match` on PATCH.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook",
    params(("id" = i64, Path, description = "Subscription id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The subscription", body = WebhookView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| Ok(WebhookView::from(managed(c, ctx, id.0)?)))
        .await?;
    pre.read(&view)
}

/// Change a subscription's URL, event types, state or description.
///
/// A new URL is checked like a new subscription's; a paused subscription
/// (`active: false`) receives no new events and its queued deliveries wait.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "updateWebhook",
    params(("id" = i64, Path, description = "Subscription id"), crate::etag::IfMatch),
    request_body = WebhookPatch,
    responses((status = 200, description = "The updated subscription", body = WebhookView),
              (status = 422, description = "Unknown event type, not https, or an address that is not public", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
    body: Body<WebhookPatch>,
) -> Result<HttpResponse, ApiError> {
    let p = body.0;
    let mut problems: Vec<FieldProblem> = Vec::new();
    if let Some(types) = &p.event_types {
        if let Err(e) = check_event_types(types) {
            problems.extend(e.0.into_iter().map(FieldProblem::from));
        }
    }
    if let Some(d) = &p.description {
        if let Err(ApiError::Validation(v)) = check_description(d) {
            problems.extend(v);
        }
    }
    if p.url.is_some() {
        // Who may change it is settled before the destination is looked up.
        state
            .read(&bearer, move |c, ctx| managed(c, ctx, id.0).map(drop))
            .await?;
    }
    let url = match p.url {
        None => None,
        Some(u) => match check_target(u, state.webhooks.allow.clone(), "/url").await {
            Ok(u) => Some(u),
            Err(ApiError::Validation(v)) => {
                problems.extend(v);
                None
            }
            Err(e) => return Err(e),
        },
    };
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let (types, active, description) = (p.event_types, p.active, p.description);
    let view = state
        .write(&bearer, move |c, ctx| {
            lock_row(c, Lockable::Webhooks, id.0)?;
            let before = managed(c, ctx, id.0)?;
            let before_view = WebhookView::from(before.clone());
            pre.check(&before_view)?;
            let changes = repo::Changes {
                url: url.unwrap_or(before.url),
                event_types: types.unwrap_or(before.event_types),
                active: active.unwrap_or(before.active),
                description: description.unwrap_or(before.description),
            };
            let after = WebhookView::from(repo::update(c, id.0, &changes, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "webhook.update",
                "webhook",
                id.0,
                Some(&before_view),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    crate::etag::tagged(&view)
}

/// Delete a subscription.
///
/// It receives nothing more and what was waiting is cancelled; its delivery
/// log is kept for the audit.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = [])))]
pub async fn delete(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<HttpResponse, ApiError> {
    state
        .write(&bearer, move |c, ctx| {
            lock_row(c, Lockable::Webhooks, id.0)?;
            let before = WebhookView::from(managed(c, ctx, id.0)?);
            repo::delete(c, id.0, ctx.now_naive())?;
            audit(c, ctx, "webhook.delete", "webhook", id.0, Some(&before), None::<&()>)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the signing secret.
///
/// The old one stops signing at once. The answer carries the new secret,
/// shown only this once.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", operation_id = "rotateWebhookSecret",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription with its new secret", body = WebhookWithSecret)),
    security(("bearer" = [])))]
pub async fn rotate_secret(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<HttpResponse, ApiError> {
    let secret = new_secret()?;
    let out = state
        .write(&bearer, move |c, ctx| {
            lock_row(c, Lockable::Webhooks, id.0)?;
            managed(c, ctx, id.0)?;
            let hook = repo::set_secret(c, id.0, &secret, ctx.now_naive())?;
            let view = WebhookView::from(hook.clone());
            // The audit trail records that the secret changed, never the secret.
            audit(
                c,
                ctx,
                "webhook.rotate_secret",
                "webhook",
                id.0,
                None::<&()>,
                Some(&serde_json::json!({"secret_rotated_at": view.updated_at})),
            )?;
            Ok(WebhookWithSecret {
                webhook: view,
                secret: hook.secret,
            })
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(out))
}

/// Send a test event.
///
/// A `webhook.ping` event goes to the subscription through the dispatcher
/// like any other delivery, signed and logged.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/ping", tag = "webhooks", operation_id = "pingWebhook",
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 202, description = "Queued; follow it in the delivery log", body = DeliveryView)),
    security(("bearer" = [])))]
pub async fn ping(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<HttpResponse, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            let hook = managed(c, ctx, id.0)?;
            let data = serde_json::json!({"webhook_id": hook.id});
            let institutions: Vec<i64> = hook.institution_id.into_iter().collect();
            let event = repo::NewOutboxEvent {
                event_type: PING,
                object_type: "webhook",
                object_id: hook.id,
                data: &data,
                institution_ids: &institutions,
            };
            Ok(DeliveryView::from(repo::publish_to(
                c,
                hook.id,
                &event,
                ctx.now_naive(),
            )?))
        })
        .await?;
    Ok(HttpResponse::Accepted().json(view))
}

/// The delivery log of a subscription.
///
/// Each delivery with every attempt: when, how long, the status code or the
/// error, and the start of the answer.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "listWebhookDeliveries",
    params(("id" = i64, Path, description = "Subscription id"), DeliveryQuery),
    responses((status = 200, description = "A page of deliveries, oldest first", body = DeliveryPage)),
    security(("bearer" = [])))]
pub async fn deliveries(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    query: Query<DeliveryQuery>,
) -> Result<web::Json<DeliveryPage>, ApiError> {
    let q = query.0;
    if let Some(s) = &q.status {
        if !["pending", "delivered", "failed", "cancelled"].contains(&s.as_str()) {
            return Err(ApiError::InvalidParameter(vec![FieldProblem::parameter(
                "status",
                "enum",
                "one of pending, delivered, failed, cancelled",
            )]));
        }
    }
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let filter = repo::DeliveryFilter {
        status: q.status,
        event_type: q.event_type,
        after,
        limit,
    };
    let page = state
        .read(&bearer, move |c, ctx| {
            managed(c, ctx, id.0)?;
            Ok(repo::deliveries(c, id.0, &filter)?)
        })
        .await?;
    Ok(web::Json(DeliveryPage::from_page(page, DeliveryView::from)))
}

/// Send a delivery again.
///
/// A delivered or failed delivery is queued again with the same event id;
/// a failed one whose attempts are used up gets one more.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks", operation_id = "redeliverWebhookDelivery",
    params(("id" = i64, Path, description = "Subscription id"), ("delivery_id" = i64, Path, description = "Delivery id")),
    responses((status = 202, description = "Queued again", body = DeliveryView),
              (status = 409, description = "Still pending, or cancelled", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn redeliver(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    delivery: DeliveryParam,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            lock_row(c, Lockable::Webhooks, id.0)?;
            let hook = managed(c, ctx, id.0)?;
            let current = repo::get_delivery(c, hook.id, delivery.0)?;
            let requeued = match repo::requeue(c, hook.id, delivery.0, ctx.now_naive()) {
                Ok(d) => d,
                Err(RepoError::NotFound) => {
                    return Err(ApiError::conflict(
                        "delivery-not-finished",
                        format!(
                            "the delivery is {}; only a delivered or failed one is sent again",
                            current.status
                        ),
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            audit(
                c,
                ctx,
                "webhook.redeliver",
                "webhook",
                hook.id,
                None::<&()>,
                Some(&serde_json::json!({"delivery_id": requeued.id, "event_id": requeued.event_id})),
            )?;
            Ok(DeliveryView::from(requeued))
        })
        .await?;
    Ok(HttpResponse::Accepted().json(view))
}
