//! `/api/v1/users`: accounts and their roles, managed by the platform office
//! and, within its own institution, by a unit admin.

use crate::auth::{hash_password, verify_password, Bearer};
use crate::dto::{instant, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::Resource;
use labshare_domain::access::{user_list_scope, Action, Role};
use labshare_domain::subsidy::check_tags;
use labshare_domain::users::{check_new_account, check_password_only, check_platform_office_kept, UserProfile};
use labshare_domain::{InstitutionId, UserId};
use labshare_persistence::auth::{revoke_user_sessions, RevokeReason};
use labshare_persistence::users::{self as repo, User};
use labshare_persistence::{institutions, Stored};
use labshare_persistence::{lock_row, DbConn, Lockable};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// An account as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    #[schema(example = 5)]
    pub id: i64,
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "liming")]
    pub username: String,
    #[schema(example = "李明")]
    pub display_name: String,
    #[schema(example = "liming@example.org")]
    pub email: Option<String>,
    #[schema(example = "13800771234")]
    pub phone: Option<String>,
    #[schema(example = true)]
    pub active: bool,
    #[schema(schema_with = crate::dto::enums::roles)]
    pub roles: Vec<Role>,
    /// What subsidy programmes select beneficiaries by, set by the platform office.
    #[schema(example = json!(["high_level_talent"]))]
    pub tags: Vec<String>,
    /// The account a service account acts through (its username is the
    /// client id); it never signs in with a password and is managed at
    /// `/api/v1/service-accounts`.
    #[schema(example = false)]
    pub service_account: bool,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    /// The view of an account with its tags.
    pub fn new(s: Stored<User>, tags: Vec<String>) -> Self {
        let u = s.value;
        Self {
            id: u.id.0,
            institution_id: u.institution_id.0,
            username: u.username,
            display_name: u.profile.display_name,
            email: u.profile.email,
            phone: u.profile.phone,
            active: u.active,
            roles: u.roles,
            tags,
            service_account: u.service_account,
            created_at: instant(s.created_at),
            updated_at: instant(s.updated_at),
        }
    }
}

/// The view of a stored account, its tags loaded.
///
/// # Errors
/// Database errors.
pub fn user_view(c: &mut DbConn, s: Stored<User>) -> Result<UserView, ApiError> {
    let tags = repo::tags_of(c, s.value.id)?;
    Ok(UserView::new(s, tags))
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "liming")]
    pub username: String,
    /// At least 10 characters, not containing the username.
    #[schema(example = "correct horse battery")]
    pub password: String,
    #[schema(example = "李明")]
    pub display_name: String,
    #[schema(example = "liming@example.org")]
    pub email: Option<String>,
    #[schema(example = "13800771234")]
    pub phone: Option<String>,
    #[schema(schema_with = crate::dto::enums::roles)]
    pub roles: Vec<Role>,
}

/// Changes to an account. An account holder may change its own profile and
/// password (giving `current_password`); roles and `active` are for admins,
/// `tags` for the platform office.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(example = "李明")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>, example = "liming@example.org")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>, example = "13800771234")]
    pub phone: Option<Option<String>>,
    #[schema(example = true)]
    pub active: Option<bool>,
    #[schema(schema_with = crate::dto::enums::roles)]
    pub roles: Option<Vec<Role>>,
    #[schema(example = "a new long passphrase")]
    pub password: Option<String>,
    /// Required when changing one's own password.
    #[schema(example = "correct horse battery")]
    pub current_password: Option<String>,
    /// Replaces the account's tags (at most 20, lower-case snake case); the platform office only.
    #[schema(example = json!(["high_level_talent"]))]
    pub tags: Option<Vec<String>>,
}

page_type!(UserPage, UserView);

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub institution_id: Option<i64>,
    #[param(schema_with = crate::dto::enums::role)]
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// `true`: only the accounts service accounts act through; absent or `false`: people only.
    pub service_account: Option<bool>,
    /// Text contained in the username or display name.
    #[validate(length(min = 1, max = 100))]
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The permission resource of an account (existing or to be created).
fn user_resource<'a>(
    c: &mut DbConn,
    institution: InstitutionId,
    user: Option<UserId>,
    roles: &'a [Role],
) -> Result<Resource<'a>, ApiError> {
    let inst = institutions::get(c, institution)?;
    Ok(Resource::User {
        institution_id: institution,
        user_id: user,
        institution_kind: inst.value.data.kind,
        roles,
    })
}

fn check_roles(ctx: &Ctx, resource: &Resource<'_>, roles: &[Role]) -> Result<(), ApiError> {
    for (i, role) in roles.iter().enumerate() {
        if !labshare_domain::access::can(&ctx.actor, Action::GrantRole(*role), resource) {
            let fits = match resource {
                Resource::User { institution_kind, .. } => {
                    labshare_domain::access::role_fits_institution(*role, *institution_kind)
                }
                _ => true,
            };
            if !fits {
                return Err(ApiError::Validation(vec![FieldProblem::body(
                    format!("/roles/{i}"),
                    "role_institution",
                    format!("{role} is held only by accounts of the commission's own institution"),
                )]));
            }
            return Err(ApiError::Forbidden);
        }
    }
    Ok(())
}

/// Create an account.
///
/// The platform office for any institution; a unit admin for its own, with
/// the roles `unit_admin`, `instrument_manager` and `researcher`.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", operation_id = "createUser",
    request_body = UserInput,
    responses((status = 201, description = "Created", body = UserView),
              (status = 409, description = "Username taken", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<UserInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let profile = UserProfile {
        display_name: i.display_name,
        email: i.email,
        phone: i.phone,
    };
    check_new_account(&i.username, &i.password, &profile)?;
    let institution = InstitutionId(i.institution_id);
    let view = state
        .write(&bearer, move |c, ctx| {
            let resource = match user_resource(c, institution, None, &[]) {
                Err(ApiError::NotFound) => {
                    return Err(ApiError::Validation(vec![FieldProblem::body(
                        "/institution_id",
                        "exists",
                        "no such institution",
                    )]))
                }
                other => other?,
            };
            allow(ctx, Action::CreateUser, &resource)?;
            check_roles(ctx, &resource, &i.roles)?;
            // Hashed only once the actor may create the account.
            let hash = hash_password(&i.password)?;
            let user = repo::insert(c, institution, &i.username, &hash, &profile, &i.roles, ctx.now_naive())?;
            let view = UserView::new(user, Vec::new());
            audit(c, ctx, "user.create", "user", view.id, None::<&()>, Some(&view))?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read an account.
///
/// One's own; an admin's unit's; any for the platform office and commission.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", operation_id = "getUser",
    params(("id" = i64, Path, description = "User id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The account", body = UserView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let user = repo::get(c, UserId(id.0))?;
            let resource = user_resource(c, user.value.institution_id, Some(user.value.id), &user.value.roles)?;
            if !labshare_domain::access::can(&ctx.actor, Action::ReadUser, &resource) {
                return Err(ApiError::NotFound);
            }
            user_view(c, user)
        })
        .await?;
    pre.read(&view)
}

/// List accounts.
///
/// The platform office and commission see all; a unit admin its own unit's.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", operation_id = "listUsers",
    params(UserQuery),
    responses((status = 200, description = "A page of accounts", body = UserPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<UserQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let scope = user_list_scope(&ctx.actor).ok_or(ApiError::Forbidden)?;
            let filter = repo::Filter {
                scope,
                institution_id: q.institution_id.map(InstitutionId),
                role: q.role,
                active: q.active,
                service_account: Some(q.service_account.unwrap_or(false)),
                q: q.q,
                after,
                limit,
            };
            let page = repo::list(c, &filter)?;
            let ids: Vec<UserId> = page.items.iter().map(|s| s.value.id).collect();
            let mut tags = repo::tags_by_user(c, &ids)?;
            Ok(UserPage::from_page(page, |s| {
                let own = tags.remove(&s.value.id).unwrap_or_default();
                UserView::new(s, own)
            }))
        })
        .await?;
    Ok(web::Json(page))
}

/// Change an account.
///
/// Deactivating an account or changing its password ends its sessions.
/// Only the platform office sets `tags`, which subsidy programmes select
/// beneficiaries by (`high_level_talent`).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", operation_id = "updateUser",
    params(("id" = i64, Path, description = "User id"), crate::etag::IfMatch),
    request_body = UserPatch,
    responses((status = 200, description = "The updated account", body = UserView),
              (status = 409, description = "The account belongs to a service account: change it at `/api/v1/service-accounts`", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
    body: Body<UserPatch>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let p = body.0;
    if let Some(pw) = &p.password {
        // Checked against the username again inside the transaction.
        check_password_only("password", pw, "")?;
    }
    if let Some(tags) = &p.tags {
        check_tags(tags)?;
    }
    let view = state
        .write(&bearer, move |c, ctx| {
            let id = UserId(id.0);
            lock_row(c, Lockable::Users, id.0)?;
            let before = repo::get(c, id)?;
            let resource = user_resource(c, before.value.institution_id, Some(id), &before.value.roles)?;
            if !labshare_domain::access::can(&ctx.actor, Action::ReadUser, &resource) {
                return Err(ApiError::NotFound);
            }
            if before.value.service_account {
                // A password or a role set here would bypass the service account's own rules.
                return Err(ApiError::conflict(
                    "service-account-user",
                    "this account belongs to a service account: change it at /api/v1/service-accounts",
                ));
            }
            let is_self = ctx.actor.user_id == id;
            let is_admin = labshare_domain::access::can(&ctx.actor, Action::UpdateUser, &resource);
            if !is_admin && (!is_self || p.active.is_some() || p.roles.is_some()) {
                return Err(ApiError::Forbidden);
            }
            pre.check(&user_view(c, before.clone())?)?;
            if p.tags.is_some() {
                allow(ctx, Action::TagUser, &resource)?;
            }
            if let Some(pw) = &p.password {
                check_password_only("password", pw, &before.value.username)?;
                if is_self {
                    let current = p.current_password.as_deref().unwrap_or_default();
                    let stored = repo::credentials(c, &before.value.username)?
                        .map(|cr| cr.password_hash)
                        .unwrap_or_default();
                    if !verify_password(current, &stored) {
                        return Err(ApiError::Validation(vec![FieldProblem::body(
                            "/current_password",
                            "current_password",
                            "does not match the current password",
                        )]));
                    }
                }
            }
            if let Some(roles) = &p.roles {
                // Both the roles given and the roles taken away must be the actor's to grant.
                let mut changed: Vec<Role> = roles
                    .iter()
                    .filter(|r| !before.value.roles.contains(r))
                    .copied()
                    .collect();
                changed.extend(before.value.roles.iter().filter(|r| !roles.contains(r)));
                check_roles(ctx, &resource, &changed)?;
            }
            let mut profile = before.value.profile.clone();
            if let Some(v) = p.display_name {
                profile.display_name = v;
            }
            if let Some(v) = p.email {
                profile.email = v;
            }
            if let Some(v) = p.phone {
                profile.phone = v;
            }
            profile.check()?;
            let active = p.active.unwrap_or(before.value.active);
            let was_admin = before.value.active && before.value.roles.contains(&Role::PlatformAdmin);
            let stays_admin = active
                && p.roles
                    .as_ref()
                    .unwrap_or(&before.value.roles)
                    .contains(&Role::PlatformAdmin);
            let active_admins = repo::count_active_with_role(c, Role::PlatformAdmin)?;
            check_platform_office_kept(was_admin, stays_admin, active_admins)
                .map_err(|e| ApiError::conflict("last-platform-admin", e.to_string()))?;
            // Hashed only once the change is allowed.
            let new_hash = p.password.as_deref().map(hash_password).transpose()?;
            let now = ctx.now_naive();
            repo::update(c, id, &profile, active, new_hash.as_deref(), now)?;
            if let Some(roles) = &p.roles {
                repo::set_roles(c, id, roles)?;
            }
            let tags_before = repo::tags_of(c, id)?;
            if let Some(tags) = &p.tags {
                repo::set_tags(c, id, tags)?;
            }
            if !active || new_hash.is_some() {
                revoke_user_sessions(c, id, RevokeReason::AccountChange, now)?;
            }
            let before = UserView::new(before, tags_before);
            let after = repo::get(c, id)?;
            let after = user_view(c, after)?;
            audit(c, ctx, "user.update", "user", id.0, Some(&before), Some(&after))?;
            Ok(after)
        })
        .await?;
    crate::etag::tagged(&view)
}
