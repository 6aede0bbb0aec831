//! `/api/v1/institutions`: member units and external organisations.

use crate::dto::{all_problems, instant, page_args, parse_field};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::routes::{allow, audit};
use crate::state::AppState;
use crate::{auth::Bearer, page_type};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{Action, Resource};
use labshare_domain::catalogue::{check_commission_kind, Institution, InstitutionData, InstitutionKind, Membership};
use labshare_domain::codes::CreditCode;
use labshare_domain::InstitutionId;
use labshare_persistence::institutions as repo;
use labshare_persistence::{lock_row, Lockable, Stored};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// An institution as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstitutionView {
    #[schema(example = 2)]
    pub id: i64,
    #[schema(example = "南宁市第一人民医院")]
    pub name: String,
    /// 统一社会信用代码 (GB 32100).
    #[schema(example = "12450100498504556W")]
    pub credit_code: String,
    #[schema(schema_with = crate::dto::enums::institution_kind)]
    pub kind: InstitutionKind,
    #[schema(schema_with = crate::dto::enums::membership)]
    pub membership: Membership,
    #[schema(example = true)]
    pub has_mature_lab: bool,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<Stored<Institution>> for InstitutionView {
    fn from(s: Stored<Institution>) -> Self {
        let d = s.value.data;
        Self {
            id: s.value.id.0,
            name: d.name,
            credit_code: d.credit_code.to_string(),
            kind: d.kind,
            membership: d.membership,
            has_mature_lab: d.has_mature_lab,
            created_at: instant(s.created_at),
            updated_at: instant(s.updated_at),
        }
    }
}

/// A new institution.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct InstitutionInput {
    #[schema(example = "南宁市第一人民医院")]
    pub name: String,
    #[schema(example = "12450100498504556W")]
    pub credit_code: String,
    #[schema(schema_with = crate::dto::enums::institution_kind)]
    pub kind: InstitutionKind,
    #[schema(schema_with = crate::dto::enums::membership)]
    pub membership: Membership,
    #[serde(default)]
    #[schema(example = true)]
    pub has_mature_lab: bool,
}

/// Changes to an institution; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct InstitutionPatch {
    #[schema(example = "南宁市第一人民医院")]
    pub name: Option<String>,
    #[schema(example = "12450100498504556W")]
    pub credit_code: Option<String>,
    #[schema(schema_with = crate::dto::enums::institution_kind)]
    pub kind: Option<InstitutionKind>,
    #[schema(schema_with = crate::dto::enums::membership)]
    pub membership: Option<Membership>,
    #[schema(example = false)]
    pub has_mature_lab: Option<bool>,
}

page_type!(InstitutionPage, InstitutionView);

/// Filters of the institution list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InstitutionQuery {
    #[param(schema_with = crate::dto::enums::institution_kind)]
    pub kind: Option<InstitutionKind>,
    #[param(schema_with = crate::dto::enums::membership)]
    pub membership: Option<Membership>,
    pub has_mature_lab: Option<bool>,
    /// Text contained in the name.
    #[validate(length(min = 1, max = 100))]
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn parse_credit_code(problems: &mut Vec<FieldProblem>, text: &str) -> CreditCode {
    parse_field(
        problems,
        "credit_code",
        "gb32100_check_digit",
        CreditCode::parse(text),
        || CreditCode::with_check_digit("00000000000000000").unwrap_or_else(|_| unreachable!("a fixed valid body")),
    )
}

/// Register an institution.
///
/// Platform office only.
#[utoipa::path(post, path = "/api/v1/institutions", tag = "institutions", operation_id = "createInstitution",
    request_body = InstitutionInput,
    responses((status = 201, description = "Created", body = InstitutionView),
              (status = 409, description = "Name or credit code taken", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<InstitutionInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let mut problems = Vec::new();
    let code = parse_credit_code(&mut problems, &input.credit_code);
    let data = InstitutionData {
        name: input.name,
        credit_code: code,
        kind: input.kind,
        membership: input.membership,
        has_mature_lab: input.has_mature_lab,
    };
    all_problems(problems, data.check())?;
    let view = state
        .write(&bearer, move |c, ctx| {
            allow(ctx, Action::CreateInstitution, &Resource::Platform)?;
            let commission_exists = repo::first_of_kind(c, InstitutionKind::Commission)?.is_some();
            check_commission_kind(None, data.kind, commission_exists)?;
            let view = InstitutionView::from(repo::insert(c, &data, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "institution.create",
                "institution",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read an institution.
///
/// Any signed-in user may read an institution; the answer carries an `ETag` for conditional reads and `If-Match` on PATCH.
#[utoipa::path(get, path = "/api/v1/institutions/{id}", tag = "institutions", operation_id = "getInstitution",
    params(("id" = i64, Path, description = "Institution id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The institution", body = InstitutionView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let id = InstitutionId(id.0);
            allow(ctx, Action::ReadInstitution, &Resource::Institution(id))?;
            Ok(InstitutionView::from(repo::get(c, id)?))
        })
        .await?;
    pre.read(&view)
}

/// List institutions.
///
/// Every signed-in user sees the member units and external organisations; filters narrow the list, pages follow `next_cursor`.
#[utoipa::path(get, path = "/api/v1/institutions", tag = "institutions", operation_id = "listInstitutions",
    params(InstitutionQuery),
    responses((status = 200, description = "A page of institutions", body = InstitutionPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<InstitutionQuery>,
) -> Result<web::Json<InstitutionPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let filter = repo::Filter {
        kind: q.kind,
        membership: q.membership,
        has_mature_lab: q.has_mature_lab,
        q: q.q,
        after,
        limit,
    };
    let page = state.read(&bearer, move |c, _| Ok(repo::list(c, &filter)?)).await?;
    Ok(web::Json(InstitutionPage::from_page(page, InstitutionView::from)))
}

/// Change an institution.
///
/// Platform office only. Absent fields keep their value.
#[utoipa::path(patch, path = "/api/v1/institutions/{id}", tag = "institutions", operation_id = "updateInstitution",
    params(("id" = i64, Path, description = "Institution id"), crate::etag::IfMatch),
    request_body = InstitutionPatch,
    responses((status = 200, description = "The updated institution", body = InstitutionView),
              (status = 409, description = "Name or credit code taken", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
    body: Body<InstitutionPatch>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let patch = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            let id = InstitutionId(id.0);
            allow(ctx, Action::UpdateInstitution, &Resource::Institution(id))?;
            lock_row(c, Lockable::Institutions, id.0)?;
            let before = repo::get(c, id)?;
            pre.check(&InstitutionView::from(before.clone()))?;
            let mut problems = Vec::new();
            let code = patch
                .credit_code
                .as_deref()
                .map(|t| parse_credit_code(&mut problems, t));
            let mut data = before.value.data.clone();
            if let Some(v) = patch.name {
                data.name = v;
            }
            if let Some(v) = code {
                data.credit_code = v;
            }
            if let Some(v) = patch.kind {
                data.kind = v;
            }
            if let Some(v) = patch.membership {
                data.membership = v;
            }
            if let Some(v) = patch.has_mature_lab {
                data.has_mature_lab = v;
            }
            all_problems(problems, data.check())?;
            check_commission_kind(Some(before.value.data.kind), data.kind, true)?;
            let before = InstitutionView::from(before);
            let after = InstitutionView::from(repo::update(c, id, &data, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "institution.update",
                "institution",
                id.0,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    crate::etag::tagged(&view)
}
