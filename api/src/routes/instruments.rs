//! `/api/v1/instruments`: the catalogue, listing (入网) and managers.

use crate::dto::{all_problems, instant, money, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::routes::{allow, audit};
use crate::state::{AppState, Ctx};
use crate::{auth::Bearer, page_type};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use labshare_domain::access::{
    can, check_managers, instrument_visibility, listing_overdue_scope, Action, ManagerCandidate, Resource,
};
use labshare_domain::catalogue::{
    normalise_modes, Contact, InstrumentData, InstrumentStatus, ServiceMode, SharingScope,
};
use labshare_domain::codes::CategoryCode;
use labshare_domain::listing::{is_listing_overdue, listing_after_edit, transition, ListingAction, ListingStatus};
use labshare_domain::{InstitutionId, InstrumentId, LabId, Money, UserId};
use labshare_persistence::instruments::{self as repo, InstrumentRecord, ListingChange};
use labshare_persistence::Stored;
use labshare_persistence::{labs, lock_row, users, DbConn, Lockable, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// Where an instrument stands in the listing procedure.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListingView {
    #[schema(schema_with = crate::dto::enums::listing_status)]
    pub status: ListingStatus,
    /// The reason of the last rejection.
    #[schema(example = "请补充主要技术指标")]
    pub note: Option<String>,
    #[schema(example = "2026-11-20T02:00:00Z")]
    pub submitted_at: Option<DateTime<Utc>>,
    #[schema(example = "2026-11-21T02:00:00Z")]
    pub decided_at: Option<DateTime<Utc>>,
    #[schema(example = 1)]
    pub decided_by: Option<i64>,
}

/// An instrument as the API shows it, with the fields of the national platform.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstrumentView {
    #[schema(example = 7)]
    pub id: i64,
    #[schema(example = 1)]
    pub lab_id: i64,
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "液相色谱-串联质谱仪")]
    pub name_zh: String,
    #[schema(example = "LC-MS/MS system")]
    pub name_en: Option<String>,
    /// GB/T 32847-2016 category code.
    #[schema(example = "030201")]
    pub category_code: String,
    #[schema(example = "Triple Quad 4500MD")]
    pub model: String,
    #[schema(example = "SCIEX")]
    pub manufacturer: String,
    #[schema(example = "新加坡")]
    pub country_of_origin: String,
    #[schema(example = "NNYY-2019-0312")]
    pub asset_number: String,
    /// 原值, CNY.
    #[schema(example = "3860000.00")]
    pub original_value: String,
    #[schema(example = "2019-06-18")]
    pub purchase_date: NaiveDate,
    #[schema(example = "2019-09-02")]
    pub commissioning_date: Option<NaiveDate>,
    #[schema(example = "质量范围 5–2000 m/z；灵敏度 ≥ 1 fg 利血平")]
    pub technical_specs: String,
    #[schema(example = "小分子定量分析")]
    pub functions: String,
    #[schema(example = "维生素D、类固醇激素、治疗药物浓度监测")]
    pub service_content: String,
    #[schema(example = json!(["临床医学", "药学"]))]
    pub disciplines: Vec<String>,
    #[schema(example = "https://img.example.org/instruments/7.jpg")]
    pub photo_url: Option<String>,
    #[schema(example = "陆海燕")]
    pub contact_name: String,
    #[schema(example = "0771-2636001")]
    pub contact_phone: String,
    #[schema(example = "ms-lab@example.org")]
    pub contact_email: Option<String>,
    #[schema(schema_with = crate::dto::enums::instrument_status)]
    pub status: InstrumentStatus,
    #[schema(schema_with = crate::dto::enums::sharing_scope)]
    pub sharing_scope: SharingScope,
    #[schema(schema_with = crate::dto::enums::service_modes)]
    pub service_modes: Vec<ServiceMode>,
    /// 定额机时 per year.
    #[schema(example = 1600)]
    pub rated_annual_hours: i32,
    pub listing: ListingView,
    /// Worth at least the listing threshold and not yet listed.
    #[schema(example = false)]
    pub listing_overdue: bool,
    /// Accounts assigned as 机组负责人.
    #[schema(example = json!([5]))]
    pub manager_ids: Vec<i64>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl InstrumentView {
    fn new(s: Stored<InstrumentRecord>, ctx: &Ctx) -> Self {
        let r = s.value;
        let i = r.instrument;
        let overdue = is_listing_overdue(&i.data, i.listing_status, &ctx.policy);
        let d = i.data;
        Self {
            id: i.id.0,
            lab_id: i.lab_id.0,
            institution_id: i.institution_id.0,
            name_zh: d.name_zh,
            name_en: d.name_en,
            category_code: d.category_code.to_string(),
            model: d.model,
            manufacturer: d.manufacturer,
            country_of_origin: d.country_of_origin,
            asset_number: d.asset_number,
            original_value: d.original_value.to_string(),
            purchase_date: d.purchase_date,
            commissioning_date: d.commissioning_date,
            technical_specs: d.technical_specs,
            functions: d.functions,
            service_content: d.service_content,
            disciplines: d.disciplines,
            photo_url: d.photo_url,
            contact_name: d.contact.name,
            contact_phone: d.contact.phone,
            contact_email: d.contact.email,
            status: d.status,
            sharing_scope: d.sharing_scope,
            service_modes: d.service_modes,
            rated_annual_hours: d.rated_annual_hours,
            listing: ListingView {
                status: i.listing_status,
                note: r.listing_note,
                submitted_at: r.listing_submitted_at.map(instant),
                decided_at: r.listing_decided_at.map(instant),
                decided_by: r.listing_decided_by.map(|u| u.0),
            },
            listing_overdue: overdue,
            manager_ids: r.managers.iter().map(|u| u.0).collect(),
            created_at: instant(s.created_at),
            updated_at: instant(s.updated_at),
        }
    }
}

/// A new instrument; it starts unlisted.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct InstrumentInput {
    #[schema(example = 1)]
    pub lab_id: i64,
    #[schema(example = "液相色谱-串联质谱仪")]
    pub name_zh: String,
    #[schema(example = "LC-MS/MS system")]
    pub name_en: Option<String>,
    #[schema(example = "030201")]
    pub category_code: String,
    #[schema(example = "Triple Quad 4500MD")]
    pub model: String,
    #[schema(example = "SCIEX")]
    pub manufacturer: String,
    #[schema(example = "新加坡")]
    pub country_of_origin: String,
    #[schema(example = "NNYY-2019-0312")]
    pub asset_number: String,
    /// 原值, CNY, a decimal string with at most two decimals.
    #[schema(example = "3860000.00")]
    pub original_value: String,
    #[schema(example = "2019-06-18")]
    pub purchase_date: NaiveDate,
    #[schema(example = "2019-09-02")]
    pub commissioning_date: Option<NaiveDate>,
    #[serde(default)]
    #[schema(example = "质量范围 5–2000 m/z")]
    pub technical_specs: String,
    #[serde(default)]
    #[schema(example = "小分子定量分析")]
    pub functions: String,
    #[serde(default)]
    #[schema(example = "维生素D、类固醇激素检测")]
    pub service_content: String,
    #[serde(default)]
    #[schema(example = json!(["临床医学"]))]
    pub disciplines: Vec<String>,
    #[schema(example = "https://img.example.org/instruments/7.jpg")]
    pub photo_url: Option<String>,
    #[schema(example = "陆海燕")]
    pub contact_name: String,
    #[schema(example = "0771-2636001")]
    pub contact_phone: String,
    #[schema(example = "ms-lab@example.org")]
    pub contact_email: Option<String>,
    #[serde(default = "normal")]
    #[schema(schema_with = crate::dto::enums::instrument_status)]
    pub status: InstrumentStatus,
    #[schema(schema_with = crate::dto::enums::sharing_scope)]
    pub sharing_scope: SharingScope,
    #[schema(schema_with = crate::dto::enums::service_modes)]
    pub service_modes: Vec<ServiceMode>,
    /// Default from the policy (1600).
    #[schema(example = 1600)]
    pub rated_annual_hours: Option<i32>,
}

fn normal() -> InstrumentStatus {
    InstrumentStatus::Normal
}

/// Changes to an instrument; absent fields keep their value, `null` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct InstrumentPatch {
    #[schema(example = "液相色谱-串联质谱仪")]
    pub name_zh: Option<String>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>, example = "LC-MS/MS system")]
    pub name_en: Option<Option<String>>,
    #[schema(example = "030201")]
    pub category_code: Option<String>,
    #[schema(example = "Triple Quad 4500MD")]
    pub model: Option<String>,
    #[schema(example = "SCIEX")]
    pub manufacturer: Option<String>,
    #[schema(example = "新加坡")]
    pub country_of_origin: Option<String>,
    #[schema(example = "NNYY-2019-0312")]
    pub asset_number: Option<String>,
    #[schema(example = "3860000.00")]
    pub original_value: Option<String>,
    #[schema(example = "2019-06-18")]
    pub purchase_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<NaiveDate>, example = "2019-09-02")]
    pub commissioning_date: Option<Option<NaiveDate>>,
    #[schema(example = "质量范围 5–2000 m/z")]
    pub technical_specs: Option<String>,
    #[schema(example = "小分子定量分析")]
    pub functions: Option<String>,
    #[schema(example = "维生素D、类固醇激素检测")]
    pub service_content: Option<String>,
    #[schema(example = json!(["临床医学"]))]
    pub disciplines: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>, example = "https://img.example.org/instruments/7.jpg")]
    pub photo_url: Option<Option<String>>,
    #[schema(example = "陆海燕")]
    pub contact_name: Option<String>,
    #[schema(example = "0771-2636001")]
    pub contact_phone: Option<String>,
    #[serde(default, deserialize_with = "crate::dto::double_option")]
    #[schema(value_type = Option<String>, example = "ms-lab@example.org")]
    pub contact_email: Option<Option<String>>,
    /// The only field an instrument manager may change.
    #[schema(schema_with = crate::dto::enums::instrument_status)]
    pub status: Option<InstrumentStatus>,
    #[schema(schema_with = crate::dto::enums::sharing_scope)]
    pub sharing_scope: Option<SharingScope>,
    #[schema(schema_with = crate::dto::enums::service_modes)]
    pub service_modes: Option<Vec<ServiceMode>>,
    #[schema(example = 1600)]
    pub rated_annual_hours: Option<i32>,
}

impl InstrumentPatch {
    /// Whether the patch only reports the operating status.
    fn only_status(&self) -> bool {
        self.status.is_some()
            && InstrumentPatch {
                status: None,
                ..self.clone()
            } == InstrumentPatch::default()
    }

    /// Applies the patch, returning the problems of the fields parsed here.
    fn apply(self, d: &mut InstrumentData) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        if let Some(v) = self.name_zh {
            d.name_zh = v;
        }
        if let Some(v) = self.name_en {
            d.name_en = v;
        }
        if let Some(v) = self.category_code {
            match category(&v) {
                Ok(c) => d.category_code = c,
                Err(p) => problems.push(p),
            }
        }
        if let Some(v) = self.model {
            d.model = v;
        }
        if let Some(v) = self.manufacturer {
            d.manufacturer = v;
        }
        if let Some(v) = self.country_of_origin {
            d.country_of_origin = v;
        }
        if let Some(v) = self.asset_number {
            d.asset_number = v;
        }
        if let Some(v) = self.original_value {
            match money("original_value", &v) {
                Ok(m) => d.original_value = m,
                Err(p) => problems.push(p),
            }
        }
        if let Some(v) = self.purchase_date {
            d.purchase_date = v;
        }
        if let Some(v) = self.commissioning_date {
            d.commissioning_date = v;
        }
        if let Some(v) = self.technical_specs {
            d.technical_specs = v;
        }
        if let Some(v) = self.functions {
            d.functions = v;
        }
        if let Some(v) = self.service_content {
            d.service_content = v;
        }
        if let Some(v) = self.disciplines {
            d.disciplines = v;
        }
        if let Some(v) = self.photo_url {
            d.photo_url = v;
        }
        if let Some(v) = self.contact_name {
            d.contact.name = v;
        }
        if let Some(v) = self.contact_phone {
            d.contact.phone = v;
        }
        if let Some(v) = self.contact_email {
            d.contact.email = v;
        }
        if let Some(v) = self.status {
            d.status = v;
        }
        if let Some(v) = self.sharing_scope {
            d.sharing_scope = v;
        }
        if let Some(v) = self.service_modes {
            d.service_modes = v;
        }
        if let Some(v) = self.rated_annual_hours {
            d.rated_annual_hours = v;
        }
        problems
    }
}

/// Stands in for an unparsable category code while the other fields are checked.
fn fallback_category() -> CategoryCode {
    CategoryCode::parse("000000").unwrap_or_else(|_| unreachable!("six digits"))
}

fn category(text: &str) -> Result<CategoryCode, FieldProblem> {
    CategoryCode::parse(text).map_err(|e| FieldProblem::body("/category_code", "category_code", e.to_string()))
}

/// A rejection of a listing.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListingRejection {
    /// Why the listing is rejected, 1–500 characters.
    #[validate(length(min = 1, max = 500))]
    #[schema(example = "主要技术指标不完整，请补充后重新提交")]
    pub reason: String,
}

/// The managers (机组负责人) of an instrument, replacing the current ones.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ManagersInput {
    #[validate(length(max = 20))]
    #[schema(example = json!([5]))]
    pub user_ids: Vec<i64>,
}

page_type!(InstrumentPage, InstrumentView);

/// Filters of the catalogue.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InstrumentQuery {
    pub institution_id: Option<i64>,
    pub lab_id: Option<i64>,
    /// 1–6 leading digits of the category code (`03`, `0302`, `030201`).
    pub category_code: Option<String>,
    #[param(schema_with = crate::dto::enums::sharing_scope)]
    pub sharing_scope: Option<SharingScope>,
    #[param(schema_with = crate::dto::enums::service_mode)]
    pub service_mode: Option<ServiceMode>,
    #[param(schema_with = crate::dto::enums::instrument_status)]
    pub status: Option<InstrumentStatus>,
    #[param(schema_with = crate::dto::enums::listing_status)]
    pub listing_status: Option<ListingStatus>,
    /// Text contained in the Chinese or English name.
    #[validate(length(min = 1, max = 100))]
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Paging of the overdue-listing list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Loads an instrument the actor may see; an invisible one does not exist for it.
pub fn load_visible(c: &mut DbConn, ctx: &Ctx, id: InstrumentId) -> Result<Stored<InstrumentRecord>, ApiError> {
    let s = repo::get(c, id)?;
    if can(
        &ctx.actor,
        Action::ReadInstrument,
        &Resource::Instrument(&s.value.access()),
    ) {
        Ok(s)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Register an instrument in a lab.
///
/// The platform office, or the unit admin of the lab's institution. The
/// instrument starts unlisted.
#[utoipa::path(post, path = "/api/v1/instruments", tag = "instruments", operation_id = "createInstrument",
    request_body = InstrumentInput,
    responses((status = 201, description = "Created", body = InstrumentView),
              (status = 409, description = "Asset number taken in the institution", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<InstrumentInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let mut problems = Vec::new();
    let code = category(&i.category_code).unwrap_or_else(|p| {
        problems.push(p);
        fallback_category()
    });
    let value = money("original_value", &i.original_value).unwrap_or_else(|p| {
        problems.push(p);
        Money::ZERO
    });
    let lab_id = LabId(i.lab_id);
    let view = state
        .write(&bearer, move |c, ctx| {
            let lab = crate::routes::referenced(labs::get(c, lab_id), "/lab_id", "no such lab")?;
            let data = InstrumentData {
                name_zh: i.name_zh,
                name_en: i.name_en,
                category_code: code,
                model: i.model,
                manufacturer: i.manufacturer,
                country_of_origin: i.country_of_origin,
                asset_number: i.asset_number,
                original_value: value,
                purchase_date: i.purchase_date,
                commissioning_date: i.commissioning_date,
                technical_specs: i.technical_specs,
                functions: i.functions,
                service_content: i.service_content,
                disciplines: i.disciplines,
                photo_url: i.photo_url,
                contact: Contact {
                    name: i.contact_name,
                    phone: i.contact_phone,
                    email: i.contact_email,
                },
                status: i.status,
                sharing_scope: i.sharing_scope,
                service_modes: i.service_modes,
                rated_annual_hours: i.rated_annual_hours.unwrap_or(ctx.policy.default_rated_annual_hours),
            };
            let institution = lab.value.institution_id;
            let access = labshare_domain::access::InstrumentAccess {
                institution_id: institution,
                listing: ListingStatus::Unlisted,
                sharing_scope: data.sharing_scope,
                managers: Vec::new(),
            };
            allow(ctx, Action::CreateInstrument, &Resource::Instrument(&access))?;
            all_problems(problems, data.check(ctx.today()))?;
            let data = InstrumentData {
                service_modes: normalise_modes(data.service_modes),
                ..data
            };
            let view = InstrumentView::new(repo::insert(c, lab_id, institution, &data, ctx.now_naive())?, ctx);
            audit(
                c,
                ctx,
                "instrument.create",
                "instrument",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read an instrument.
///
/// Another unit's instrument is visible once listed and shared with the reader.
#[utoipa::path(get, path = "/api/v1/instruments/{id}", tag = "instruments", operation_id = "getInstrument",
    params(("id" = i64, Path, description = "Instrument id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The instrument", body = InstrumentView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            Ok(InstrumentView::new(load_visible(c, ctx, InstrumentId(id.0))?, ctx))
        })
        .await?;
    pre.read(&view)
}

/// Browse the catalogue.
///
/// Shows the reader's own institution's instruments and the listed
/// instruments of other units whose sharing scope admits the reader.
#[utoipa::path(get, path = "/api/v1/instruments", tag = "instruments", operation_id = "listInstruments",
    params(InstrumentQuery),
    responses((status = 200, description = "A page of instruments", body = InstrumentPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<InstrumentQuery>,
) -> Result<web::Json<InstrumentPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let prefix = q
        .category_code
        .as_deref()
        .map(|p| CategoryCode::parse_prefix(p).map(str::to_owned))
        .transpose()
        .map_err(|e| {
            ApiError::InvalidParameter(vec![FieldProblem::parameter(
                "category_code",
                "category_prefix",
                e.to_string(),
            )])
        })?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let filter = repo::Filter {
                visibility: instrument_visibility(&ctx.actor),
                institution_id: q.institution_id.map(InstitutionId),
                lab_id: q.lab_id.map(LabId),
                category_prefix: prefix,
                sharing_scope: q.sharing_scope,
                service_mode: q.service_mode,
                status: q.status,
                listing_status: q.listing_status,
                q: q.q,
                after,
                limit,
            };
            list_in(c, ctx, &filter)
        })
        .await?;
    Ok(web::Json(page))
}

/// The transaction of [`list`] once the filter is known.
///
/// # Errors
/// A database error.
pub fn list_in(c: &mut DbConn, ctx: &Ctx, filter: &repo::Filter) -> Result<InstrumentPage, ApiError> {
    let page = repo::list(c, filter)?;
    Ok(InstrumentPage::from_page(page, |s| InstrumentView::new(s, ctx)))
}

/// Change an instrument.
///
/// The platform office or the unit admin of its institution; an assigned
/// instrument manager may change `status` alone (report a fault or repair).
#[utoipa::path(patch, path = "/api/v1/instruments/{id}", tag = "instruments", operation_id = "updateInstrument",
    params(("id" = i64, Path, description = "Instrument id"), crate::etag::IfMatch),
    request_body = InstrumentPatch,
    responses((status = 200, description = "The updated instrument", body = InstrumentView),
              (status = 409, description = "Asset number taken in the institution", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
    body: Body<InstrumentPatch>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let patch = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            let id = InstrumentId(id.0);
            lock_row(c, Lockable::Instruments, id.0)?;
            let before = load_visible(c, ctx, id)?;
            let action = if patch.only_status() {
                Action::SetInstrumentStatus
            } else {
                Action::UpdateInstrument
            };
            allow(ctx, action, &Resource::Instrument(&before.value.access()))?;
            pre.check(&InstrumentView::new(before.clone(), ctx))?;
            let mut data = before.value.instrument.data.clone();
            let problems = patch.apply(&mut data);
            all_problems(problems, data.check(ctx.today()))?;
            let data = InstrumentData {
                service_modes: normalise_modes(data.service_modes),
                ..data
            };
            let now = ctx.now_naive();
            let mut stored = repo::update(c, id, &data, now)?;
            let listing = stored.value.instrument.listing_status;
            let kept = listing_after_edit(listing, &data);
            if kept != listing {
                // Withdrawn from sharing: the instrument leaves the pool until submitted again.
                let change = ListingChange {
                    status: kept,
                    note: Some("withdrawn from sharing".into()),
                    submitted_at: None,
                    decided_at: None,
                    decided_by: None,
                };
                stored = repo::set_listing(c, id, listing, &change, now)?;
            }
            let before = InstrumentView::new(before, ctx);
            let after = InstrumentView::new(stored, ctx);
            audit(
                c,
                ctx,
                "instrument.update",
                "instrument",
                id.0,
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    crate::etag::tagged(&view)
}

fn listing_step(c: &mut DbConn, ctx: &Ctx, id: InstrumentId, step: ListingAction) -> Result<InstrumentView, ApiError> {
    lock_row(c, Lockable::Instruments, id.0)?;
    let before = load_visible(c, ctx, id)?;
    let action = match step {
        ListingAction::Submit => Action::SubmitListing,
        ListingAction::Approve | ListingAction::Reject { .. } => Action::DecideListing,
    };
    allow(ctx, action, &Resource::Instrument(&before.value.access()))?;
    let from = before.value.instrument.listing_status;
    let to = transition(from, &step, &before.value.instrument.data)?;
    let now = ctx.now_naive();
    let change = match &step {
        ListingAction::Submit => ListingChange {
            status: to,
            note: None,
            submitted_at: Some(now),
            decided_at: None,
            decided_by: None,
        },
        ListingAction::Approve | ListingAction::Reject { .. } => ListingChange {
            status: to,
            note: match &step {
                ListingAction::Reject { reason } => Some(reason.clone()),
                _ => None,
            },
            submitted_at: before.value.listing_submitted_at,
            decided_at: Some(now),
            decided_by: Some(ctx.actor.user_id),
        },
    };
    let after = match repo::set_listing(c, id, from, &change, now) {
        Ok(a) => a,
        Err(RepoError::NotFound) => {
            return Err(ApiError::conflict(
                "listing-transition",
                "the listing changed meanwhile; read it again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let name = match step {
        ListingAction::Submit => "listing.submit",
        ListingAction::Approve => "listing.approve",
        ListingAction::Reject { .. } => "listing.reject",
    };
    let before = InstrumentView::new(before, ctx);
    let after = InstrumentView::new(after, ctx);
    audit(
        c,
        ctx,
        name,
        "instrument",
        id.0,
        Some(&before.listing),
        Some(&after.listing),
    )?;
    Ok(after)
}

/// Submit an instrument for listing (入网).
///
/// The unit admin of its institution, or the platform office. The instrument
/// must be shared beyond nobody, offer a service mode and not be retired.
#[utoipa::path(post, path = "/api/v1/instruments/{id}/listing/submit", tag = "listing", operation_id = "submitListing",
    params(("id" = i64, Path, description = "Instrument id")),
    responses((status = 200, description = "The instrument, listing submitted", body = InstrumentView),
              (status = 409, description = "Not in a state that can be submitted, or not fit to share", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn submit_listing(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<InstrumentView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            listing_step(c, ctx, InstrumentId(id.0), ListingAction::Submit)
        })
        .await?;
    Ok(web::Json(view))
}

/// Approve a submitted listing.
///
/// Platform office only.
#[utoipa::path(post, path = "/api/v1/instruments/{id}/listing/approve", tag = "listing", operation_id = "approveListing",
    params(("id" = i64, Path, description = "Instrument id")),
    responses((status = 200, description = "The instrument, listed", body = InstrumentView),
              (status = 409, description = "The listing is not submitted", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn approve_listing(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
) -> Result<web::Json<InstrumentView>, ApiError> {
    let view = state
        .write(&bearer, move |c, ctx| {
            listing_step(c, ctx, InstrumentId(id.0), ListingAction::Approve)
        })
        .await?;
    Ok(web::Json(view))
}

/// Reject a submitted listing, with a reason.
///
/// Platform office only.
#[utoipa::path(post, path = "/api/v1/instruments/{id}/listing/reject", tag = "listing", operation_id = "rejectListing",
    params(("id" = i64, Path, description = "Instrument id")),
    request_body = ListingRejection,
    responses((status = 200, description = "The instrument, listing rejected", body = InstrumentView),
              (status = 409, description = "The listing is not submitted", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reject_listing(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<ListingRejection>,
) -> Result<web::Json<InstrumentView>, ApiError> {
    let reason = body.0.reason;
    let view = state
        .write(&bearer, move |c, ctx| {
            listing_step(c, ctx, InstrumentId(id.0), ListingAction::Reject { reason })
        })
        .await?;
    Ok(web::Json(view))
}

/// Instruments that must be listed but are not.
///
/// Instruments worth at least the policy threshold (500,000 CNY) whose
/// listing is not approved, retired ones excepted. The platform office,
/// commission and regulators see all; a unit admin its own unit's.
#[utoipa::path(get, path = "/api/v1/instruments/listing-overdue", tag = "listing", operation_id = "listListingOverdue",
    params(PageQuery),
    responses((status = 200, description = "A page of instruments overdue for listing", body = InstrumentPage)),
    security(("bearer" = [])))]
pub async fn listing_overdue(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<PageQuery>,
) -> Result<web::Json<InstrumentPage>, ApiError> {
    let (after, limit) = page_args(query.0.limit, query.0.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let scope = listing_overdue_scope(&ctx.actor).ok_or(ApiError::Forbidden)?;
            let page = repo::listing_overdue(c, scope, ctx.policy.listing_threshold, after, limit)?;
            Ok(InstrumentPage::from_page(page, |s| InstrumentView::new(s, ctx)))
        })
        .await?;
    Ok(web::Json(page))
}

/// Assign the managers (机组负责人) of an instrument.
///
/// The unit admin of its institution, or the platform office. Managers are
/// active accounts of the same institution with the `instrument_manager` role.
#[utoipa::path(put, path = "/api/v1/instruments/{id}/managers", tag = "instruments", operation_id = "setInstrumentManagers",
    params(("id" = i64, Path, description = "Instrument id")),
    request_body = ManagersInput,
    responses((status = 200, description = "The instrument with its managers", body = InstrumentView)),
    security(("bearer" = [])))]
pub async fn set_managers(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<ManagersInput>,
) -> Result<web::Json<InstrumentView>, ApiError> {
    let ids = body.0.user_ids;
    let view = state
        .write(&bearer, move |c, ctx| {
            let id = InstrumentId(id.0);
            let before = load_visible(c, ctx, id)?;
            allow(
                ctx,
                Action::AssignInstrumentManagers,
                &Resource::Instrument(&before.value.access()),
            )?;
            let mut candidates = Vec::new();
            for (i, user) in ids.iter().enumerate() {
                let u =
                    crate::routes::referenced(users::get(c, UserId(*user)), format!("/user_ids/{i}"), "no such user")?;
                candidates.push(ManagerCandidate {
                    user_id: u.value.id,
                    institution_id: u.value.institution_id,
                    active: u.value.active,
                    roles: u.value.roles,
                });
            }
            check_managers(before.value.instrument.institution_id, &candidates)?;
            let mut managers: Vec<UserId> = ids.iter().copied().map(UserId).collect();
            managers.sort_unstable();
            managers.dedup();
            repo::set_managers(c, id, &managers)?;
            let after = InstrumentView::new(repo::get(c, id)?, ctx);
            audit(
                c,
                ctx,
                "instrument.managers",
                "instrument",
                id.0,
                Some(&before.value.managers.iter().map(|u| u.0).collect::<Vec<_>>()),
                Some(&after.manager_ids),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}
