//! `/api/v1/service-items` and `/api/v1/service-orders`: sample testing (委托检测).

use crate::auth::Bearer;
use crate::dto::{instant, page_args};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit, request_readers};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{can, instrument_visibility, Action, BookingAccess, Resource, Role};
use labshare_domain::booking::BookingError;
use labshare_domain::catalogue::{BiosafetyLevel, ServiceMode};
use labshare_domain::listing::ListingStatus;
use labshare_domain::service::{
    check_item_instruments, check_order, item_lab_level, on_time, transition, turnaround_days, ItemInstrument,
    OrderAction, OrderDraft, OrderError, OrderStatus, Sample, SampleType, ServiceItemData, ServiceUnit,
};
use labshare_domain::{InstitutionId, InstrumentId};
use labshare_persistence::service::{self as repo, NewOrder, Order, OrderChange, OrderFilter, ServiceItem};
use labshare_persistence::{instruments, labs, DbConn, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A service item as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceItemView {
    #[schema(example = 2)]
    pub id: i64,
    /// The provider institution.
    #[schema(example = 2)]
    pub institution_id: i64,
    #[schema(example = "血清25-羟基维生素D检测")]
    pub name: String,
    #[schema(example = json!([1]))]
    pub instrument_ids: Vec<i64>,
    #[schema(schema_with = crate::dto::enums::service_unit)]
    pub unit: ServiceUnit,
    /// Promised days from receipt of the samples to the report.
    #[schema(example = 3)]
    pub turnaround_days: i32,
    #[schema(example = "血清 ≥ 0.5 mL，2–8 ℃ 冷藏送检")]
    pub sample_requirements: String,
    #[schema(schema_with = crate::dto::enums::biosafety_level)]
    pub required_biosafety: BiosafetyLevel,
    #[schema(example = true)]
    pub active: bool,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl From<ServiceItem> for ServiceItemView {
    fn from(s: ServiceItem) -> Self {
        Self {
            id: s.id,
            institution_id: s.institution_id.0,
            name: s.data.name,
            instrument_ids: s.data.instrument_ids.iter().map(|i| i.0).collect(),
            unit: s.data.unit,
            turnaround_days: s.data.turnaround_days,
            sample_requirements: s.data.sample_requirements,
            required_biosafety: s.data.required_biosafety,
            active: s.active,
            created_at: instant(s.created_at),
            updated_at: instant(s.updated_at),
        }
    }
}

/// A new service item, or its replacement.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ServiceItemInput {
    #[schema(example = "血清25-羟基维生素D检测")]
    pub name: String,
    /// Listed instruments of one institution that take samples; the first is the primary one.
    #[schema(example = json!([1]))]
    pub instrument_ids: Vec<i64>,
    #[schema(schema_with = crate::dto::enums::service_unit)]
    pub unit: ServiceUnit,
    #[schema(example = 3)]
    pub turnaround_days: i32,
    #[serde(default)]
    #[schema(example = "血清 ≥ 0.5 mL，2–8 ℃ 冷藏送检")]
    pub sample_requirements: String,
    #[schema(schema_with = crate::dto::enums::biosafety_level)]
    pub required_biosafety: BiosafetyLevel,
    /// Default true; false withdraws the item from ordering.
    #[schema(example = true)]
    pub active: Option<bool>,
}

page_type!(ServiceItemPage, ServiceItemView);

/// Filters of the service-item list.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceItemQuery {
    pub institution_id: Option<i64>,
    pub instrument_id: Option<i64>,
    pub active: Option<bool>,
    /// Text contained in the name.
    #[validate(length(min = 1, max = 100))]
    pub q: Option<String>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One sample as sent: a de-identified code, never a patient's name or ID.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleView {
    #[schema(example = "S2026-0001")]
    pub code: String,
    #[schema(schema_with = crate::dto::enums::sample_type)]
    pub sample_type: SampleType,
    #[schema(schema_with = crate::dto::enums::biosafety_level)]
    pub risk_level: BiosafetyLevel,
    /// Taken from a person: needs an ethics approval number.
    #[schema(example = true)]
    pub human: bool,
    #[schema(example = "NNYY-IRB-2026-031")]
    pub ethics_approval: Option<String>,
}

impl From<SampleView> for Sample {
    fn from(s: SampleView) -> Self {
        Self {
            code: s.code,
            sample_type: s.sample_type,
            risk_level: s.risk_level,
            human: s.human,
            ethics_approval: s.ethics_approval,
        }
    }
}

impl From<Sample> for SampleView {
    fn from(s: Sample) -> Self {
        Self {
            code: s.code,
            sample_type: s.sample_type,
            risk_level: s.risk_level,
            human: s.human,
            ethics_approval: s.ethics_approval,
        }
    }
}

/// A service order as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    #[schema(example = 9)]
    pub id: i64,
    #[schema(example = 2)]
    pub service_item_id: i64,
    #[schema(example = 6)]
    pub user_id: i64,
    #[schema(example = 3)]
    pub institution_id: i64,
    #[schema(example = 2)]
    pub provider_institution_id: i64,
    #[schema(schema_with = crate::dto::enums::order_status)]
    pub status: OrderStatus,
    #[schema(example = "加急")]
    pub notes: String,
    pub samples: Vec<SampleView>,
    #[schema(example = "样本量不足")]
    pub reason: Option<String>,
    #[schema(example = "NNYY-LAB-R-2026-1188")]
    pub report_reference: Option<String>,
    #[schema(example = 12)]
    pub sample_count: Option<i32>,
    #[schema(example = 95)]
    pub instrument_minutes: Option<i64>,
    #[schema(example = "2026-11-27T01:00:00Z")]
    pub accepted_at: Option<DateTime<Utc>>,
    #[schema(example = "2026-11-27T02:00:00Z")]
    pub received_at: Option<DateTime<Utc>>,
    #[schema(example = "2026-11-29T08:00:00Z")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Local days from receipt to completion.
    #[schema(example = 2)]
    pub turnaround_days: Option<i64>,
    /// Completed within the item's promised turnaround.
    #[schema(example = true)]
    pub on_time: Option<bool>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T03:00:00Z")]
    pub updated_at: DateTime<Utc>,
}

impl OrderView {
    fn new(o: Order, promised_days: i32, ctx: &Ctx) -> Self {
        let offset = ctx.policy.local_offset();
        let done = o
            .received_at
            .zip(o.completed_at)
            .map(|(r, c)| (r.and_utc(), c.and_utc()));
        Self {
            id: o.id,
            service_item_id: o.service_item_id,
            user_id: o.user_id.0,
            institution_id: o.institution_id.0,
            provider_institution_id: o.provider_institution_id.0,
            status: o.status,
            notes: o.notes,
            samples: o.samples.into_iter().map(SampleView::from).collect(),
            reason: o.reason,
            report_reference: o.report_reference,
            sample_count: o.sample_count,
            instrument_minutes: o.instrument_minutes,
            accepted_at: o.accepted_at.map(instant),
            received_at: o.received_at.map(instant),
            completed_at: o.completed_at.map(instant),
            turnaround_days: done.map(|(r, c)| turnaround_days(r, c, offset)),
            on_time: done.map(|(r, c)| on_time(r, c, promised_days, offset)),
            created_at: instant(o.created_at),
            updated_at: instant(o.updated_at),
        }
    }
}

/// A new service order.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    #[schema(example = 2)]
    pub service_item_id: i64,
    pub samples: Vec<SampleView>,
    #[serde(default)]
    #[schema(example = "加急")]
    pub notes: String,
}

/// The completion of an order.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CompleteInput {
    #[schema(example = "NNYY-LAB-R-2026-1188")]
    pub report_reference: String,
    #[schema(example = 12)]
    pub sample_count: i32,
    #[schema(example = 95)]
    pub instrument_minutes: i64,
}

/// A rejection of an order, with its reason.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrderRejectInput {
    #[schema(example = "样本量不足")]
    pub reason: String,
}

page_type!(OrderPage, OrderView);

/// Filters of the order list; it holds only orders the reader may see.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Only the reader's own orders.
    pub mine: Option<bool>,
    pub service_item_id: Option<i64>,
    /// Orders placed by members of this institution.
    pub institution_id: Option<i64>,
    /// Orders to this provider institution.
    pub provider_institution_id: Option<i64>,
    #[param(schema_with = crate::dto::enums::order_status)]
    pub status: Option<OrderStatus>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::InvalidTransition { .. } => ApiError::conflict("order-transition", e.to_string()),
            OrderError::ReasonRequired => {
                ApiError::Validation(vec![FieldProblem::body("/reason", "required", e.to_string())])
            }
            OrderError::Invalid(invalid) => invalid.into(),
        }
    }
}

/// The instruments of an item as the rules see them; unknown ones are named.
fn item_instruments(c: &mut DbConn, ids: &[InstrumentId]) -> Result<Vec<ItemInstrument>, ApiError> {
    let mut out = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let rec = crate::routes::referenced(
            instruments::get(c, *id),
            format!("/instrument_ids/{n}"),
            "no such instrument",
        )?;
        let lab = labs::get(c, rec.value.instrument.lab_id)?;
        out.push(ItemInstrument {
            id: *id,
            institution_id: rec.value.instrument.institution_id,
            listing: rec.value.instrument.listing_status,
            offers_samples: rec.value.instrument.data.service_modes.contains(&ServiceMode::Sample),
            lab_biosafety: lab.value.data.biosafety_level,
        });
    }
    Ok(out)
}

fn item_data(i: &ServiceItemInput) -> ServiceItemData {
    ServiceItemData {
        name: i.name.clone(),
        instrument_ids: i.instrument_ids.iter().copied().map(InstrumentId).collect(),
        unit: i.unit,
        turnaround_days: i.turnaround_days,
        sample_requirements: i.sample_requirements.clone(),
        required_biosafety: i.required_biosafety,
    }
}

/// Checks an item and returns its provider institution, for an actor allowed to manage it.
fn check_item(c: &mut DbConn, ctx: &Ctx, d: &ServiceItemData) -> Result<InstitutionId, ApiError> {
    d.check()?;
    let instruments = item_instruments(c, &d.instrument_ids)?;
    let provider = instruments
        .first()
        .map(|i| i.institution_id)
        .ok_or(ApiError::NotFound)?;
    allow(ctx, Action::ManageServiceItems, &Resource::Institution(provider))?;
    check_item_instruments(&instruments, d.required_biosafety)?;
    Ok(provider)
}

/// Offer a service item.
///
/// The unit admin of the instruments' institution, or the platform office.
#[utoipa::path(post, path = "/api/v1/service-items", tag = "service", operation_id = "createServiceItem",
    request_body = ServiceItemInput,
    responses((status = 201, description = "Created", body = ServiceItemView),
              (status = 409, description = "Name taken in the institution", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_item(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<ServiceItemInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            let d = item_data(&input);
            let provider = check_item(c, ctx, &d)?;
            let view = ServiceItemView::from(repo::insert_item(
                c,
                provider,
                &d,
                input.active.unwrap_or(true),
                ctx.now_naive(),
            )?);
            audit(
                c,
                ctx,
                "service_item.create",
                "service_item",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Replace a service item.
///
/// The owning unit's admin replaces the whole item (send every field, as read); the change is audited with its before and after.
#[utoipa::path(put, path = "/api/v1/service-items/{id}", tag = "service", operation_id = "updateServiceItem",
    params(("id" = i64, Path, description = "Service item id")),
    request_body = ServiceItemInput,
    responses((status = 200, description = "The item", body = ServiceItemView)),
    security(("bearer" = [])))]
pub async fn update_item(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<ServiceItemInput>,
) -> Result<web::Json<ServiceItemView>, ApiError> {
    let input = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            let before = repo::get_item(c, id.0)?;
            let d = item_data(&input);
            let provider = check_item(c, ctx, &d)?;
            if provider != before.institution_id {
                return Err(ApiError::Validation(vec![FieldProblem::body(
                    "/instrument_ids",
                    "same_institution",
                    "an item stays with its provider institution",
                )]));
            }
            let active = input.active.unwrap_or(before.active);
            let after = ServiceItemView::from(repo::update_item(c, id.0, &d, active, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "service_item.update",
                "service_item",
                id.0,
                Some(&ServiceItemView::from(before)),
                Some(&after),
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view))
}

/// Read a service item.
///
/// The item with its unit, turnaround and instruments; visible to whoever may see its instruments.
#[utoipa::path(get, path = "/api/v1/service-items/{id}", tag = "service", operation_id = "getServiceItem",
    params(("id" = i64, Path, description = "Service item id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The item", body = ServiceItemView)),
    security(("bearer" = [])))]
pub async fn get_item(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view: ServiceItemView = state
        .read(&bearer, move |c, ctx| {
            let item = repo::get_item(c, id.0)?;
            visible_item(c, ctx, &item)?;
            Ok(item.into())
        })
        .await?;
    pre.read(&view)
}

/// An item is visible with its primary instrument.
fn visible_item(
    c: &mut DbConn,
    ctx: &Ctx,
    item: &ServiceItem,
) -> Result<labshare_persistence::Stored<instruments::InstrumentRecord>, ApiError> {
    let primary = item.data.instrument_ids.first().copied().ok_or(ApiError::NotFound)?;
    let rec = instruments::get(c, primary)?;
    if can(
        &ctx.actor,
        Action::ReadInstrument,
        &Resource::Instrument(&rec.value.access()),
    ) {
        Ok(rec)
    } else {
        Err(ApiError::NotFound)
    }
}

/// List service items.
///
/// Those on instruments the reader can see.
#[utoipa::path(get, path = "/api/v1/service-items", tag = "service", operation_id = "listServiceItems",
    params(ServiceItemQuery),
    responses((status = 200, description = "A page of service items", body = ServiceItemPage)),
    security(("bearer" = [])))]
pub async fn list_items(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<ServiceItemQuery>,
) -> Result<web::Json<ServiceItemPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let filter = repo::ItemFilter {
                institution_id: q.institution_id.map(InstitutionId),
                instrument_id: q.instrument_id.map(InstrumentId),
                active: q.active,
                q: q.q,
                visible_instruments: Some(instruments::visible_ids(c, instrument_visibility(&ctx.actor))?),
                after,
                limit,
            };
            Ok(repo::list_items(c, &filter)?)
        })
        .await?;
    Ok(web::Json(ServiceItemPage::from_page(page, ServiceItemView::from)))
}

/// Order sample testing.
///
/// Samples carry a de-identified code; their risk level may not exceed the
/// lab's biosafety level; human samples need an ethics approval number; no
/// text may contain a resident identity number.
#[utoipa::path(post, path = "/api/v1/service-orders", tag = "service", operation_id = "createServiceOrder",
    request_body = OrderInput,
    responses((status = 201, description = "Submitted", body = OrderView)),
    security(("bearer" = [])))]
pub async fn create_order(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<OrderInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let view = state
        .write(&bearer, move |c, ctx| {
            let item = crate::routes::referenced(
                repo::get_item(c, input.service_item_id),
                "/service_item_id",
                "no such service item",
            )?;
            let primary = instruments::get(c, item.data.instrument_ids.first().copied().ok_or(ApiError::NotFound)?)?;
            if !can(
                &ctx.actor,
                Action::ReadInstrument,
                &Resource::Instrument(&primary.value.access()),
            ) {
                return Err(if primary.value.instrument.listing_status == ListingStatus::Approved {
                    BookingError::NotShared.into()
                } else {
                    ApiError::Validation(vec![FieldProblem::body(
                        "/service_item_id",
                        "exists",
                        "no such service item",
                    )])
                });
            }
            allow(ctx, Action::Book, &Resource::Instrument(&primary.value.access()))?;
            if !item.active {
                return Err(ApiError::conflict(
                    "service-item-inactive",
                    "the service item is withdrawn",
                ));
            }
            let lab_level = item_lab_level(&item_instruments(c, &item.data.instrument_ids)?);
            let draft = OrderDraft {
                samples: input.samples.into_iter().map(Sample::from).collect(),
                notes: input.notes,
            };
            check_order(&draft, lab_level)?;
            let new = NewOrder {
                service_item_id: item.id,
                user_id: ctx.actor.user_id,
                institution_id: ctx.actor.institution_id,
                provider_institution_id: item.institution_id,
                notes: &draft.notes,
                samples: &draft.samples,
            };
            let view = OrderView::new(
                repo::insert_order(c, &new, ctx.now_naive())?,
                item.data.turnaround_days,
                ctx,
            );
            audit(
                c,
                ctx,
                "service_order.create",
                "service_order",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

fn order_access(c: &mut DbConn, o: &Order) -> Result<(BookingAccess, ServiceItem), ApiError> {
    let item = repo::get_item(c, o.service_item_id)?;
    let primary = instruments::get(c, item.data.instrument_ids.first().copied().ok_or(ApiError::NotFound)?)?;
    Ok((
        BookingAccess {
            user_id: o.user_id,
            institution_id: o.institution_id,
            instrument: primary.value.access(),
        },
        item,
    ))
}

pub(crate) fn load_order(c: &mut DbConn, ctx: &Ctx, id: i64) -> Result<(Order, BookingAccess, ServiceItem), ApiError> {
    let o = repo::get_order(c, id)?;
    let (access, item) = order_access(c, &o)?;
    let provider_admin = ctx.actor.has(Role::UnitAdmin) && ctx.actor.institution_id == o.provider_institution_id;
    if can(&ctx.actor, Action::ReadBooking, &Resource::Booking(&access)) || provider_admin {
        Ok((o, access, item))
    } else {
        Err(ApiError::NotFound)
    }
}

/// Read a service order.
///
/// Visible to the orderer, the item's managers and the unit admins concerned, and to the platform office, the commission and regulators.
#[utoipa::path(get, path = "/api/v1/service-orders/{id}", tag = "service", operation_id = "getServiceOrder",
    params(("id" = i64, Path, description = "Order id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The order", body = OrderView)),
    security(("bearer" = [])))]
pub async fn get_order(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view = state
        .read(&bearer, move |c, ctx| {
            let (o, _, item) = load_order(c, ctx, id.0)?;
            Ok(OrderView::new(o, item.data.turnaround_days, ctx))
        })
        .await?;
    pre.read(&view)
}

/// List service orders.
///
/// One's own; those of items on instruments one runs; a unit admin's
/// unit's (placed or provided); all for the platform office, commission and regulators.
#[utoipa::path(get, path = "/api/v1/service-orders", tag = "service", operation_id = "listServiceOrders",
    params(OrderQuery),
    responses((status = 200, description = "A page of orders", body = OrderPage)),
    security(("bearer" = [])))]
pub async fn list_orders(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<OrderQuery>,
) -> Result<web::Json<OrderPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let a = &ctx.actor;
            let visible_to = request_readers(c, ctx)?.visible_to;
            let filter = OrderFilter {
                user_id: (q.mine == Some(true)).then_some(a.user_id),
                service_item_id: q.service_item_id,
                institution_id: q.institution_id.map(InstitutionId),
                provider_institution_id: q.provider_institution_id.map(InstitutionId),
                status: q.status,
                visible_to,
                after,
                limit,
            };
            let page = repo::list_orders(c, &filter)?;
            let mut items = Vec::new();
            for o in page.items {
                let promised = repo::get_item(c, o.service_item_id)?.data.turnaround_days;
                items.push(OrderView::new(o, promised, ctx));
            }
            Ok(OrderPage {
                items,
                next_cursor: page.next_after.map(crate::dto::encode_cursor),
            })
        })
        .await?;
    Ok(web::Json(page))
}

fn order_step(c: &mut DbConn, ctx: &Ctx, id: i64, action: OrderAction) -> Result<OrderView, ApiError> {
    let (before, access, item) = load_order(c, ctx, id)?;
    let (permission, name) = match &action {
        OrderAction::Accept => (Action::DecideBooking, "service_order.accept"),
        OrderAction::Reject { .. } => (Action::DecideBooking, "service_order.reject"),
        OrderAction::ReceiveSamples => (Action::OperateBooking, "service_order.receive"),
        OrderAction::Complete { .. } => (Action::OperateBooking, "service_order.complete"),
        OrderAction::Cancel => (Action::CancelOrder, "service_order.cancel"),
    };
    allow(ctx, permission, &Resource::Booking(&access))?;
    let to = transition(before.status, &action)?;
    if let OrderAction::Complete { sample_count, .. } = &action {
        labshare_domain::service::check_samples_done(*sample_count, before.samples.len())?;
    }
    let now = ctx.now_naive();
    let change = match &action {
        OrderAction::Accept => OrderChange {
            decided_by: Some(ctx.actor.user_id),
            accepted_at: Some(now),
            ..Default::default()
        },
        OrderAction::Reject { reason } => OrderChange {
            decided_by: Some(ctx.actor.user_id),
            reason: Some(reason.clone()),
            ..Default::default()
        },
        OrderAction::ReceiveSamples => OrderChange {
            received_at: Some(now),
            ..Default::default()
        },
        OrderAction::Complete {
            report_reference,
            sample_count,
            instrument_minutes,
        } => OrderChange {
            report_reference: Some(report_reference.clone()),
            sample_count: Some(*sample_count),
            instrument_minutes: Some(*instrument_minutes),
            completed_at: Some(now),
            ..Default::default()
        },
        OrderAction::Cancel => OrderChange::default(),
    };
    let after = match repo::transition_order(c, id, before.status, to, &change, now) {
        Ok(o) => o,
        Err(RepoError::NotFound) => {
            return Err(ApiError::conflict(
                "order-transition",
                "the order changed meanwhile; read it again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if let (OrderStatus::Completed, Some(primary)) = (to, item.data.instrument_ids.first()) {
        let event = crate::billing::Event {
            basis: labshare_domain::fees::ChargeBasis::ServiceOrder {
                samples: i64::from(after.sample_count.unwrap_or(1)),
            },
            user_id: after.user_id,
            payer: after.institution_id,
            instrument_id: *primary,
            service_item_id: Some(item.id),
            booking_id: None,
            usage_record_id: None,
            service_order_id: Some(after.id),
            used_at: ctx.now,
        };
        crate::billing::charge(c, &event, &ctx.policy, Some(ctx.actor.user_id), ctx.now)?;
    }
    let promised = item.data.turnaround_days;
    let (before, after) = (
        OrderView::new(before, promised, ctx),
        OrderView::new(after, promised, ctx),
    );
    audit(c, ctx, name, "service_order", id, Some(&before), Some(&after))?;
    Ok(after)
}

macro_rules! order_endpoint {
    ($fn:ident, $verb:literal, $op:literal, $summary:literal, $description:literal, $action:expr) => {
        #[doc = $summary]
        #[doc = ""]
        #[doc = $description]
        #[utoipa::path(post, path = concat!("/api/v1/service-orders/{id}/", $verb), tag = "service", operation_id = $op,
            params(("id" = i64, Path, description = "Order id")),
            responses((status = 200, description = "The order after the step", body = OrderView),
                      (status = 409, description = "Not allowed from the order's state", body = Problem, content_type = "application/problem+json")),
            security(("bearer" = [])))]
        pub async fn $fn(state: web::Data<AppState>, bearer: Bearer, id: Id) -> Result<web::Json<OrderView>, ApiError> {
            let view = state.write(&bearer, move |c, ctx| order_step(c, ctx, id.0, $action)).await?;
            Ok(web::Json(view))
        }
    };
}

order_endpoint!(
    accept_order,
    "accept",
    "acceptServiceOrder",
    "Accept a submitted order (the instruments' managers or unit admin).",
    "The order is accepted and waits for its samples.",
    OrderAction::Accept
);
order_endpoint!(
    receive_order,
    "receive-samples",
    "receiveServiceOrderSamples",
    "Record that the samples arrived: work and the turnaround begin.",
    "From now on the order can be completed; the turnaround is measured from this moment.",
    OrderAction::ReceiveSamples
);
order_endpoint!(
    cancel_order,
    "cancel",
    "cancelServiceOrder",
    "Cancel an order before its samples arrive (the orderer or a manager).",
    "Once the samples have arrived an order can no longer be cancelled.",
    OrderAction::Cancel
);

/// Reject a submitted order, with a reason.
///
/// The item's managers or its unit admin refuse a submitted order; the reason is shown to the orderer.
#[utoipa::path(post, path = "/api/v1/service-orders/{id}/reject", tag = "service", operation_id = "rejectServiceOrder",
    params(("id" = i64, Path, description = "Order id")),
    request_body = OrderRejectInput,
    responses((status = 200, description = "The rejected order", body = OrderView),
              (status = 409, description = "The order is not submitted", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reject_order(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<OrderRejectInput>,
) -> Result<web::Json<OrderView>, ApiError> {
    let reason = body.0.reason;
    let view = state
        .write(&bearer, move |c, ctx| {
            order_step(c, ctx, id.0, OrderAction::Reject { reason })
        })
        .await?;
    Ok(web::Json(view))
}

/// Complete an order with its report reference, samples done and instrument minutes.
///
/// The item's managers or its unit admin close an order whose samples arrived; the charge is written in the same transaction, priced by the fee standard in force.
#[utoipa::path(post, path = "/api/v1/service-orders/{id}/complete", tag = "service", operation_id = "completeServiceOrder",
    params(("id" = i64, Path, description = "Order id")),
    request_body = CompleteInput,
    responses((status = 200, description = "The completed order", body = OrderView),
              (status = 409, description = "The samples have not been received", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn complete_order(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    body: Body<CompleteInput>,
) -> Result<web::Json<OrderView>, ApiError> {
    let b = body.0;
    let action = OrderAction::Complete {
        report_reference: b.report_reference,
        sample_count: b.sample_count,
        instrument_minutes: b.instrument_minutes,
    };
    let view = state
        .write(&bearer, move |c, ctx| order_step(c, ctx, id.0, action))
        .await?;
    Ok(web::Json(view))
}
