//! `/api/v1/qualifications`: 上机资格 on instruments and biosafety qualifications.

use crate::auth::Bearer;
use crate::dto::{instant, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit, instruments::load_visible};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use labshare_domain::access::{Action, Resource, Role};
use labshare_domain::catalogue::BiosafetyLevel;
use labshare_domain::qualification::{NewQualification, Qualification, QualificationKind};
use labshare_domain::{InstrumentId, UserId};
use labshare_persistence::qualifications as repo;
use labshare_persistence::{institutions, users, DbConn};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A qualification as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QualificationView {
    #[schema(example = 4)]
    pub id: i64,
    #[schema(example = 6)]
    pub user_id: i64,
    #[schema(schema_with = crate::dto::enums::qualification_kind)]
    pub kind: QualificationKind,
    #[schema(example = 7)]
    pub instrument_id: Option<i64>,
    #[schema(schema_with = crate::dto::enums::biosafety_level)]
    pub biosafety_level: Option<BiosafetyLevel>,
    #[schema(example = 5)]
    pub certified_by: i64,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub certified_at: DateTime<Utc>,
    /// Valid through this local date.
    #[schema(example = "2027-11-30")]
    pub expires_on: NaiveDate,
    #[schema(example = "完成上机培训及考核")]
    pub note: String,
    #[schema(example = "2027-01-10T03:00:00Z")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Not revoked and not expired today.
    #[schema(example = true)]
    pub valid: bool,
}

impl QualificationView {
    fn new(q: Qualification, ctx: &Ctx) -> Self {
        let valid = q.is_valid_on(ctx.today());
        Self {
            id: q.id,
            user_id: q.user_id.0,
            kind: q.kind,
            instrument_id: q.instrument_id.map(|i| i.0),
            biosafety_level: q.biosafety_level,
            certified_by: q.certified_by.0,
            certified_at: instant(q.certified_at),
            expires_on: q.expires_on,
            note: q.note,
            revoked_at: q.revoked_at.map(instant),
            valid,
        }
    }
}

/// A certification.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct QualificationInput {
    #[schema(example = 6)]
    pub user_id: i64,
    #[schema(schema_with = crate::dto::enums::qualification_kind)]
    pub kind: QualificationKind,
    /// For `instrument` qualifications.
    #[schema(example = 7)]
    pub instrument_id: Option<i64>,
    /// For `biosafety` qualifications.
    #[schema(schema_with = crate::dto::enums::biosafety_level)]
    pub biosafety_level: Option<BiosafetyLevel>,
    #[schema(example = "2027-11-30")]
    pub expires_on: NaiveDate,
    #[serde(default)]
    #[schema(example = "完成上机培训及考核")]
    pub note: String,
}

page_type!(QualificationPage, QualificationView);

/// Filters of the qualification list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QualificationQuery {
    pub user_id: Option<i64>,
    pub instrument_id: Option<i64>,
    /// Only those valid today.
    pub valid: Option<bool>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Who may certify or revoke this qualification.
fn authorise(c: &mut DbConn, ctx: &Ctx, q: &NewQualification) -> Result<(), ApiError> {
    let user = crate::routes::referenced(users::get(c, q.user_id), "/user_id", "no such user")?;
    match (q.kind, q.instrument_id) {
        (QualificationKind::Instrument, Some(instrument)) => {
            let i = match load_visible(c, ctx, instrument) {
                Err(ApiError::NotFound) => {
                    return Err(ApiError::Validation(vec![FieldProblem::body(
                        "/instrument_id",
                        "exists",
                        "no such instrument",
                    )]))
                }
                other => other?,
            };
            allow(
                ctx,
                Action::CertifyOnInstrument,
                &Resource::Instrument(&i.value.access()),
            )
        }
        _ => {
            let kind = institutions::get(c, user.value.institution_id)?.value.data.kind;
            let resource = Resource::User {
                institution_id: user.value.institution_id,
                user_id: Some(user.value.id),
                institution_kind: kind,
                roles: &user.value.roles,
            };
            allow(ctx, Action::CertifyBiosafety, &resource)
        }
    }
}

/// Certify a user.
///
/// On an instrument: its managers, its unit's admin or the platform office.
/// Biosafety: the admin of the user's unit or the platform office.
#[utoipa::path(post, path = "/api/v1/qualifications", tag = "qualifications", operation_id = "createQualification",
    request_body = QualificationInput,
    responses((status = 201, description = "Created", body = QualificationView)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<QualificationInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let new = NewQualification {
        user_id: UserId(i.user_id),
        kind: i.kind,
        instrument_id: i.instrument_id.map(InstrumentId),
        biosafety_level: i.biosafety_level,
        expires_on: i.expires_on,
        note: i.note,
    };
    let view = state
        .write(&bearer, move |c, ctx| {
            new.check(ctx.today())?;
            authorise(c, ctx, &new)?;
            let q = repo::insert(c, &new, ctx.actor.user_id, ctx.now_naive())?;
            let view = QualificationView::new(q, ctx);
            audit(
                c,
                ctx,
                "qualification.create",
                "qualification",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Revoke a qualification.
///
/// Whoever may certify on the instrument (its managers or unit admin) withdraws a qualification; bookings needing it are refused from then on.
#[utoipa::path(post, path = "/api/v1/qualifications/{id}/revoke", tag = "qualifications", operation_id = "revokeQualification",
    params(("id" = i64, Path, description = "Qualification id")),
    responses((status = 200, description = "The revoked qualification", body = QualificationView),
              (status = 409, description = "The qualification is already revoked", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn revoke(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<QualificationView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            let before = repo::get(c, id.0)?;
            let as_new = NewQualification {
                user_id: before.user_id,
                kind: before.kind,
                instrument_id: before.instrument_id,
                biosafety_level: before.biosafety_level,
                expires_on: before.expires_on,
                note: before.note.clone(),
            };
            authorise(c, ctx, &as_new)?;
            if before.revoked_at.is_some() {
                return Err(ApiError::conflict(
                    "qualification-revoked",
                    "the qualification is already revoked",
                ));
            }
            let after = QualificationView::new(repo::revoke(c, id.0, ctx.actor.user_id, ctx.now_naive())?, ctx);
            audit(
                c,
                ctx,
                "qualification.revoke",
                "qualification",
                id.0,
                Some(&QualificationView::new(before, ctx)),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// List qualifications.
///
/// A user sees its own; a manager those on its instruments; a unit admin
/// those of its unit's people and instruments; the platform office,
/// commission and regulators all.
#[utoipa::path(get, path = "/api/v1/qualifications", tag = "qualifications", operation_id = "listQualifications",
    params(QualificationQuery),
    responses((status = 200, description = "A page of qualifications", body = QualificationPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<QualificationQuery>,
) -> Result<web::Json<QualificationPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let a = &ctx.actor;
            let everything = [Role::PlatformAdmin, Role::Commission, Role::Regulator]
                .iter()
                .any(|r| a.has(*r));
            let (instrument_ids, user_ids) = if everything {
                (None, None)
            } else {
                let managed = if a.has(Role::InstrumentManager) {
                    labshare_persistence::instruments::managed_by(c, a.user_id)?
                } else {
                    Vec::new()
                };
                let mut instruments: Vec<i64> = managed.iter().map(|i| i.0).collect();
                let mut people = vec![a.user_id.0];
                if a.has(Role::UnitAdmin) {
                    instruments.extend(labshare_persistence::instruments::ids_of_institution(
                        c,
                        a.institution_id,
                    )?);
                    people.extend(users::ids_of_institution(c, a.institution_id)?);
                }
                (Some(instruments), Some(people))
            };
            let filter = repo::Filter {
                user_id: q.user_id.map(UserId),
                instrument_id: q.instrument_id.map(InstrumentId),
                instrument_ids,
                user_ids,
                valid_on: q.valid.filter(|v| *v).map(|_| ctx.today()),
                after,
                limit,
            };
            let page = repo::list(c, &filter)?;
            Ok(QualificationPage::from_page(page, |q| QualificationView::new(q, ctx)))
        })
        .await?;
    Ok(web::Json(page))
}
