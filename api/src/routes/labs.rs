//! `/api/v1/labs`: the laboratories of an institution.

use crate::dto::{instant, page_args};
use crate::error::{ApiError, Problem};
use crate::extract::{Body, Id, Query};
use crate::routes::{allow, audit};
use crate::state::AppState;
use crate::{auth::Bearer, page_type};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{Action, Resource};
use labshare_domain::catalogue::{Accreditation, BiosafetyLevel, Contact, Lab, LabData};
use labshare_domain::{InstitutionId, LabId};
use labshare_persistence::labs as repo;
use labshare_persistence::{lock_row, Lockable, Stored};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A lab as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LabView {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "中心实验室")]
    pub name: String,
    #[schema(example = "南宁市七星路89号科教楼5楼")]
    pub address: String,
    #[schema(schema_with = crate::dto::enums::biosafety_level)]
    pub biosafety_level: BiosafetyLevel,
    #[schema(schema_with = crate::dto::enums::accreditation)]
    pub accreditation: Accreditation,
    #[schema(example = "黄志强")]
    pub contact_name: String,
    #[schema(example = "0771-2636000")]
    pub contact_phone: String,
    #[schema(example = "lab@example.org")]
    pub contact_email: Option<String>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<Stored<Lab>> for LabView {
    fn from(s: Stored<Lab>) -> Self {
        let d = s.value.data;
        Self {
            id: s.value.id.0,
            institution_id: s.value.institution_id.0,
            name: d.name,
            address: d.address,
            biosafety_level: d.biosafety_level,
            accreditation: d.accreditation,
            contact_name: d.contact.name,
            contact_phone: d.contact.phone,
            contact_email: d.contact.email,
            created_at: instant(s.created_at),
            updated_at: instant(s.updated_at),
        }
    }
}

/// A new lab.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LabInput {
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "中心实验室")]
    pub name: String,
    #[schema(example = "南宁市七星路89号科教楼5楼")]
    pub address: String,
    #[schema(schema_with = crate::dto::enums::biosafety_level)]
    pub biosafety_level: BiosafetyLevel,
    #[serde(default = "no_accreditation")]
    #[schema(schema_with = crate::dto::enums::accreditation)]
    pub accreditation: Accreditation,
    #[schema(example = "黄志强")]
    pub contact_name: String,
    #[schema(example = "0771-2636000")]
    pub contact_phone: String,
    #[schema(example = "lab@example.org")]
    pub contact_email: Option<String>,
}

fn no_accreditation() -> Accreditation {
    Accreditation::None
}

/// Changes to a lab; absent fields keep their value, `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LabPatch {
    #[schema(example = "中心实验室")]
    pub name: Option<String>,
    #[schema(example = "南宁市七星路89号科教楼5楼")]
    pub address: Option<String>,
    #[schema(schema_with = crate::dto::enums::biosafety_level)]
    pub biosafety_level: Option<BiosafetyLevel>,
    #[schema(schema_with = crate::dto::enums::accreditation)]
    pub accreditation: Option<Accreditation>,
    #[schema(example = "黄志强")]
    pub contact_name: Option<String>,
    #[schema(example = "0771-2636000")]
    pub contact_phone: Option<String>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>, example = "lab@example.org")]
    pub contact_email: Option<Option<String>>,
}

page_type!(LabPage, LabView);

/// Filters of the lab list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LabQuery {
    pub institution_id: Option<i64>,
    #[param(schema_with = crate::dto::enums::biosafety_level)]
    pub biosafety_level: Option<BiosafetyLevel>,
    /// Text contained in the name.
    #[validate(length(min = 1, max = 100))]
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Register a lab.
///
/// The platform office, or the unit admin of the lab's institution.
#[utoipa::path(post, path = "/api/v1/labs", tag = "labs", operation_id = "createLab",
    request_body = LabInput,
    responses((status = 201, description = "Created", body = LabView),
              (status = 409, description = "Name taken in the institution, or no such institution", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<LabInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let institution = InstitutionId(i.institution_id);
    let data = LabData {
        name: i.name,
        address: i.address,
        biosafety_level: i.biosafety_level,
        accreditation: i.accreditation,
        contact: Contact {
            name: i.contact_name,
            phone: i.contact_phone,
            email: i.contact_email,
        },
    };
    data.check()?;
    let view = state
        .write(&bearer, move |c, ctx| {
            allow(
                ctx,
                Action::CreateLab,
                &Resource::Lab {
                    institution_id: institution,
                },
            )?;
            crate::routes::referenced(
                labshare_persistence::institutions::get(c, institution),
                "/institution_id",
                "no such institution",
            )?;
            let view = LabView::from(repo::insert(c, institution, &data, ctx.now_naive())?);
            audit(c, ctx, "lab.create", "lab", view.id, None::<&()>, Some(&view))?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read a lab.
///
/// Any signed-in user may read a lab; the answer carries an `ETag`.
#[utoipa::path(get, path = "/api/v1/labs/{id}", tag = "labs", operation_id = "getLab",
    params(("id" = i64, Path, description = "Lab id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The lab", body = LabView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let lab = repo::get(c, LabId(id.0))?;
            allow(
                ctx,
                Action::ReadLab,
                &Resource::Lab {
                    institution_id: lab.value.institution_id,
                },
            )?;
            Ok(LabView::from(lab))
        })
        .await?;
    pre.read(&view)
}

/// List labs.
///
/// Labs of all institutions, visible to every signed-in user; filter by institution.
#[utoipa::path(get, path = "/api/v1/labs", tag = "labs", operation_id = "listLabs",
    params(LabQuery),
    responses((status = 200, description = "A page of labs", body = LabPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<LabQuery>,
) -> Result<web::Json<LabPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let filter = repo::Filter {
        institution_id: q.institution_id.map(InstitutionId),
        biosafety_level: q.biosafety_level,
        q: q.q,
        after,
        limit,
    };
    let page = state.read(&bearer, move |c, _| Ok(repo::list(c, &filter)?)).await?;
    Ok(web::Json(LabPage::from_page(page, LabView::from)))
}

/// Change a lab.
///
/// The platform office, or the unit admin of the lab's institution. The
/// institution of a lab never changes.
#[utoipa::path(patch, path = "/api/v1/labs/{id}", tag = "labs", operation_id = "updateLab",
    params(("id" = i64, Path, description = "Lab id"), crate::etag::IfMatch),
    request_body = LabPatch,
    responses((status = 200, description = "The updated lab", body = LabView),
              (status = 409, description = "Name taken in the institution", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
    body: Body<LabPatch>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let p = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            lock_row(c, Lockable::Labs, id.0)?;
            let before = repo::get(c, LabId(id.0))?;
            allow(
                ctx,
                Action::UpdateLab,
                &Resource::Lab {
                    institution_id: before.value.institution_id,
                },
            )?;
            pre.check(&LabView::from(before.clone()))?;
            let mut d = before.value.data.clone();
            if let Some(v) = p.name {
                d.name = v;
            }
            if let Some(v) = p.address {
                d.address = v;
            }
            if let Some(v) = p.biosafety_level {
                d.biosafety_level = v;
            }
            if let Some(v) = p.accreditation {
                d.accreditation = v;
            }
            if let Some(v) = p.contact_name {
                d.contact.name = v;
            }
            if let Some(v) = p.contact_phone {
                d.contact.phone = v;
            }
            if let Some(v) = p.contact_email {
                d.contact.email = v;
            }
            d.check()?;
            let before = LabView::from(before);
            let after = LabView::from(repo::update(c, LabId(id.0), &d, ctx.now_naive())?);
            audit(c, ctx, "lab.update", "lab", id.0, Some(&before), Some(&after))?;
            Ok(after)
        })
        .await?;
    crate::etag::tagged(&view)
}
