//! `/api/v1/service-accounts`: accounts of hospital information systems and
//! other clients that integrate unattended. The platform office creates one
//! for an institution with roles and scopes; its secret is shown once, kept
//! only as a hash, and can be rotated; revocation is for good.

use crate::auth::{new_client_id, new_client_secret, Bearer};
use crate::dto::{instant, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{can, service_account_scope, Action, Resource, Role};
use labshare_domain::catalogue::InstitutionKind;
use labshare_domain::service_account::{
    check_service_account, check_service_account_change, normalise_scopes, ApiScope,
};
use labshare_domain::InstitutionId;
use labshare_persistence::service_accounts::{self as repo, NewServiceAccount, ServiceAccount};
use labshare_persistence::{institutions, DbConn, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A service account as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccountView {
    #[schema(example = 3)]
    pub id: i64,
    #[schema(example = 2)]
    pub institution_id: i64,
    /// The account it acts through (bookings and audit events name it).
    #[schema(example = 41)]
    pub user_id: i64,
    #[schema(example = "一院 HIS 预约接口")]
    pub name: String,
    #[schema(example = "Books instrument time for the first hospital's clinical departments")]
    pub description: String,
    /// Send it as `client_id` to `/api/v1/auth/token`.
    #[schema(example = "sa_3f9c0a7d12be4e55")]
    pub client_id: String,
    #[schema(schema_with = crate::dto::enums::roles)]
    pub roles: Vec<Role>,
    #[schema(schema_with = crate::dto::enums::api_scopes)]
    pub scopes: Vec<ApiScope>,
    /// `false` once revoked, for good.
    #[schema(example = true)]
    pub active: bool,
    /// Raised by every rotation of the secret.
    #[schema(example = 1)]
    pub secret_generation: i64,
    #[schema(example = "2026-12-05T02:00:00Z")]
    pub secret_set_at: DateTime<Utc>,
    #[schema(example = "2026-12-20T08:00:00Z")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who of the platform office created it.
    #[schema(example = 2)]
    pub created_by: i64,
    #[schema(example = "2026-12-05T02:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-12-05T02:00:00Z")]
    pub updated_at: DateTime<Utc>,
    /// When it was last issued a token.
    #[schema(example = "2026-12-06T01:15:00Z")]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ServiceAccount> for ServiceAccountView {
    fn from(a: ServiceAccount) -> Self {
        Self {
            id: a.id,
            institution_id: a.institution_id.0,
            user_id: a.user_id.0,
            name: a.name,
            description: a.description,
            client_id: a.client_id,
            roles: a.roles,
            scopes: a.scopes,
            active: a.revoked_at.is_none(),
            secret_generation: a.secret_generation,
            secret_set_at: instant(a.secret_set_at),
            revoked_at: a.revoked_at.map(instant),
            created_by: a.created_by.0,
            created_at: instant(a.created_at),
            updated_at: instant(a.updated_at),
            last_used_at: a.last_used_at.map(instant),
        }
    }
}

/// A service account with its client secret: answered once, when the
/// secret is made, and never again. Store it in the client's secret store.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccountSecret {
    pub account: ServiceAccountView,
    /// Shown only in this answer; the platform keeps only its hash.
    #[schema(example = "lss_x7Qm2N0pV4sR8tW1yZ3bC5dF7gH9jK2lM4nP6qS8uV0")]
    pub client_secret: String,
}

/// A new service account.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountInput {
    #[schema(example = 2)]
    pub institution_id: i64,
    /// 1 to 100 characters.
    #[schema(example = "一院 HIS 预约接口")]
    pub name: String,
    /// At most 500 characters.
    #[serde(default)]
    #[schema(example = "Books instrument time for the first hospital's clinical departments")]
    pub description: String,
    /// `unit_admin`, `instrument_manager` or `researcher`; `regulator` only
    /// in the commission's own institution.
    #[schema(schema_with = crate::dto::enums::roles)]
    pub roles: Vec<Role>,
    #[schema(schema_with = crate::dto::enums::api_scopes)]
    pub scopes: Vec<ApiScope>,
}

/// Changes to an active service account; tokens already issued lose a
/// scope taken away at once.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountPatch {
    #[schema(example = "一院 HIS 预约接口")]
    pub name: Option<String>,
    #[schema(example = "Books instrument time for the first hospital's clinical departments")]
    pub description: Option<String>,
    #[schema(schema_with = crate::dto::enums::roles)]
    pub roles: Option<Vec<Role>>,
    #[schema(schema_with = crate::dto::enums::api_scopes)]
    pub scopes: Option<Vec<ApiScope>>,
}

page_type!(ServiceAccountPage, ServiceAccountView);

/// Filters of the service account list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceAccountQuery {
    pub institution_id: Option<i64>,
    /// `true`: not revoked; `false`: revoked.
    pub active: Option<bool>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The kind of an institution named in the body, or 422 on `institution_id`.
fn institution_kind(c: &mut DbConn, id: InstitutionId) -> Result<InstitutionKind, ApiError> {
    match institutions::get(c, id) {
        Ok(i) => Ok(i.value.data.kind),
        Err(RepoError::NotFound) => Err(ApiError::Validation(vec![FieldProblem::body(
            "/institution_id",
            "exists",
            "no such institution",
        )])),
        Err(e) => Err(e.into()),
    }
}

/// A service account the actor may read, or 404.
fn visible(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<ServiceAccount, ApiError> {
    let account = repo::get(c, id)?;
    if !can(
        &ctx.actor,
        Action::ReadServiceAccount,
        &Resource::Institution(account.institution_id),
    ) {
        return Err(ApiError::NotFound);
    }
    Ok(account)
}

fn revoked() -> ApiError {
    ApiError::conflict(
        "service-account-revoked",
        "the service account is revoked for good; create a new one",
    )
}

/// Create a service account.
///
/// The platform office, for one institution. The answer carries the
/// `client_secret`, shown this once: no later answer, list or audit event
/// contains it.
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "service-accounts", operation_id = "createServiceAccount",
    request_body = ServiceAccountInput,
    responses((status = 201, description = "Created, with its secret", body = ServiceAccountSecret)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<ServiceAccountInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let client_id = new_client_id()?;
    let (secret, hash) = new_client_secret()?;
    let out = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::ManageServiceAccounts, &Resource::Platform)?;
            let institution = InstitutionId(i.institution_id);
            let kind = institution_kind(c, institution)?;
            let scopes = normalise_scopes(&i.scopes);
            let mut roles = i.roles.clone();
            check_service_account(&i.name, &i.description, &roles, &scopes, kind)?;
            roles.sort();
            roles.dedup();
            let account = repo::insert(
                c,
                &NewServiceAccount {
                    institution,
                    name: i.name.trim(),
                    description: &i.description,
                    roles: &roles,
                    scopes: &scopes,
                    client_id: &client_id,
                    secret_hash: &hash,
                    created_by: ctx.actor.user_id,
                },
                ctx.now_naive(),
            )?;
            let view = ServiceAccountView::from(account);
            audit(
                c,
                ctx,
                "service_account.create",
                "service_account",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ServiceAccountSecret {
            account: out,
            client_secret: secret,
        }))
}

/// List service accounts.
///
/// The platform office, the commission and regulators see all; a unit
/// admin its own institution's.
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "service-accounts", operation_id = "listServiceAccounts",
    params(ServiceAccountQuery),
    responses((status = 200, description = "A page of service accounts", body = ServiceAccountPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<ServiceAccountQuery>,
) -> Result<web::Json<ServiceAccountPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let scope = service_account_scope(&ctx.actor).ok_or(ApiError::Forbidden)?;
            let filter = repo::Filter {
                scope,
                institution_id: q.institution_id.map(InstitutionId),
                active: q.active,
                after,
                limit,
            };
            Ok(ServiceAccountPage::from_page(
                repo::list(c, &filter)?,
                ServiceAccountView::from,
            ))
        })
        .await?;
    Ok(web::Json(page))
}

/// Read a service account.
///
/// Its institution, roles, scopes, client id and when its secret was set;
/// never the secret. The platform office, the commission and regulators
/// read any, a unit admin its own institution's.
#[utoipa::path(get, path = "/api/v1/service-accounts/{id}", tag = "service-accounts", operation_id = "getServiceAccount",
    params(("id" = i64, Path, description = "Service account id")),
    responses((status = 200, description = "The service account", body = ServiceAccountView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<ServiceAccountView>, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| Ok(visible(c, ctx, id.0)?.into()))
        .await?;
    Ok(web::Json(view))
}

/// Change a service account.
///
/// Name, description, roles and scopes of an active account; the platform
/// office only. A scope taken away stops working at once, also for tokens
/// already issued.
#[utoipa::path(patch, path = "/api/v1/service-accounts/{id}", tag = "service-accounts", operation_id = "updateServiceAccount",
    params(("id" = i64, Path, description = "Service account id")),
    request_body = ServiceAccountPatch,
    responses((status = 200, description = "The changed service account", body = ServiceAccountView),
              (status = 409, description = "The account is revoked", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<ServiceAccountPatch>,
) -> Result<web::Json<ServiceAccountView>, ApiError> {
    let p = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            let before = visible(c, ctx, id.0)?;
            allow(ctx, Action::ManageServiceAccounts, &Resource::Platform)?;
            if before.revoked_at.is_some() {
                return Err(revoked());
            }
            let kind = institution_kind(c, before.institution_id)?;
            let scopes = p.scopes.as_deref().map(normalise_scopes);
            check_service_account_change(
                p.name.as_deref(),
                p.description.as_deref(),
                p.roles.as_deref(),
                scopes.as_deref(),
                kind,
            )?;
            let name = p.name.as_deref().map_or(before.name.as_str(), str::trim).to_owned();
            let description = p.description.clone().unwrap_or_else(|| before.description.clone());
            let mut roles = p.roles.clone().unwrap_or_else(|| before.roles.clone());
            roles.sort();
            roles.dedup();
            let scopes = scopes.unwrap_or_else(|| before.scopes.clone());
            if !repo::update(c, before.id, &name, &description, &roles, &scopes, ctx.now_naive())? {
                return Err(revoked());
            }
            let after = ServiceAccountView::from(repo::get(c, before.id)?);
            let before = ServiceAccountView::from(before);
            audit(
                c,
                ctx,
                "service_account.update",
                "service_account",
                after.id,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// Rotate the secret of a service account.
///
/// Answers a new secret, shown this once. The old secret stops working at
/// once, and so do the access tokens issued with it.
#[utoipa::path(post, path = "/api/v1/service-accounts/{id}/rotate-secret", tag = "service-accounts", operation_id = "rotateServiceAccountSecret",
    params(("id" = i64, Path, description = "Service account id")),
    responses((status = 200, description = "The account with its new secret", body = ServiceAccountSecret),
              (status = 409, description = "The account is revoked", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn rotate_secret(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<HttpResponse, ApiError> {
    let (secret, hash) = new_client_secret()?;
    let view = state
        .write(&bearer, move |c, ctx| {
            let before = visible(c, ctx, id.0)?;
            allow(ctx, Action::ManageServiceAccounts, &Resource::Platform)?;
            if !repo::rotate_secret(c, before.id, &hash, ctx.now_naive())? {
                return Err(revoked());
            }
            let after = ServiceAccountView::from(repo::get(c, before.id)?);
            let before = ServiceAccountView::from(before);
            audit(
                c,
                ctx,
                "service_account.rotate_secret",
                "service_account",
                after.id,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ServiceAccountSecret {
            account: view,
            client_secret: secret,
        }))
}

/// Revoke a service account.
///
/// For good: its secret and every token it holds are refused at once.
#[utoipa::path(post, path = "/api/v1/service-accounts/{id}/revoke", tag = "service-accounts", operation_id = "revokeServiceAccount",
    params(("id" = i64, Path, description = "Service account id")),
    responses((status = 200, description = "The revoked service account", body = ServiceAccountView),
              (status = 409, description = "Already revoked", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn revoke(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<ServiceAccountView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            let before = visible(c, ctx, id.0)?;
            allow(ctx, Action::ManageServiceAccounts, &Resource::Platform)?;
            if !repo::revoke(c, before.id, ctx.now_naive())? {
                return Err(ApiError::conflict(
                    "service-account-revoked",
                    "the service account is already revoked",
                ));
            }
            // Its subscriptions stop with it: they go on sending the
            // institution's events to the system that was cut off otherwise.
            for hook in labshare_persistence::webhooks::pause_made_by(c, before.user_id.0, ctx.now_naive())? {
                let was = crate::routes::webhooks::WebhookView::from(hook);
                let now = crate::routes::webhooks::WebhookView {
                    active: false,
                    ..was.clone()
                };
                audit(c, ctx, "webhook.update", "webhook", was.id, Some(&was), Some(&now))?;
            }
            let after = ServiceAccountView::from(repo::get(c, before.id)?);
            let before = ServiceAccountView::from(before);
            audit(
                c,
                ctx,
                "service_account.revoke",
                "service_account",
                after.id,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}
