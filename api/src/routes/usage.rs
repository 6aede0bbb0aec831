//! `/api/v1/usage-records`: actual use of instruments (机时记录), written at
//! check-out or recorded by a manager for a walk-in.

use crate::auth::Bearer;
use crate::dto::{instant, page_args};
use crate::error::{ApiError, FieldProblem};
use crate::extract::{Body, Id, Query};
use crate::page_type;
use crate::routes::{allow, audit, request_readers};
use crate::state::{AppState, Ctx};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::access::{can, Action, BookingAccess, Resource};
use labshare_domain::booking::TimeWindow;
use labshare_domain::catalogue::ServiceMode;
use labshare_domain::usage::{billed_minutes, check_walk_in, effective_minutes, operator};
use labshare_domain::{InstitutionId, InstrumentId, UserId};
use labshare_persistence::bookings::Booking;
use labshare_persistence::usage::{self as repo, NewUsage, UsageRecord};
use labshare_persistence::{instruments, users, DbConn};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A usage record as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UsageRecordView {
    #[schema(example = 31)]
    pub id: i64,
    #[schema(example = 7)]
    pub instrument_id: i64,
    /// Absent for a walk-in.
    #[schema(example = 12)]
    pub booking_id: Option<i64>,
    #[schema(example = 6)]
    pub user_id: i64,
    /// The user's institution.
    #[schema(example = 3)]
    pub institution_id: i64,
    /// Who operated the instrument.
    #[schema(example = 5)]
    pub operator_id: i64,
    #[schema(schema_with = crate::dto::enums::service_mode)]
    pub mode: ServiceMode,
    #[schema(example = "2026-12-02T00:55:00Z")]
    pub started_at: DateTime<Utc>,
    #[schema(example = "2026-12-02T03:05:00Z")]
    pub ended_at: DateTime<Utc>,
    /// 有效机时: the actual minutes, what assessment counts.
    #[schema(example = 130)]
    pub effective_minutes: i64,
    /// What is charged: the booked time, or the actual time rounded up when it ran over or was a walk-in.
    #[schema(example = 120)]
    pub billed_minutes: i64,
    #[schema(example = false)]
    pub walk_in: bool,
    #[schema(example = "")]
    pub note: String,
    #[schema(example = 5)]
    pub recorded_by: i64,
    #[schema(example = "2026-12-02T03:05:00Z")]
    pub recorded_at: DateTime<Utc>,
}

impl From<UsageRecord> for UsageRecordView {
    fn from(u: UsageRecord) -> Self {
        Self {
            id: u.id,
            instrument_id: u.instrument_id.0,
            booking_id: u.booking_id,
            user_id: u.user_id.0,
            institution_id: u.institution_id.0,
            operator_id: u.operator_id.0,
            mode: u.mode,
            started_at: u.actual.start,
            ended_at: u.actual.end,
            effective_minutes: u.effective_minutes,
            billed_minutes: u.billed_minutes,
            walk_in: u.walk_in,
            note: u.note,
            recorded_by: u.recorded_by.0,
            recorded_at: instant(u.recorded_at),
        }
    }
}

/// A walk-in: use without a booking, recorded afterwards by a manager.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct WalkInInput {
    #[schema(example = 7)]
    pub instrument_id: i64,
    /// The user who used the instrument.
    #[schema(example = 6)]
    pub user_id: i64,
    /// Who operated it; default: the user for self-operated use, else the recorder.
    #[schema(example = 5)]
    pub operator_id: Option<i64>,
    #[schema(schema_with = crate::dto::enums::service_mode)]
    pub mode: ServiceMode,
    #[schema(example = "2026-12-02T09:00:00+08:00")]
    pub started_at: DateTime<Utc>,
    #[schema(example = "2026-12-02T10:10:00+08:00")]
    pub ended_at: DateTime<Utc>,
    #[serde(default)]
    #[validate(length(max = 500))]
    #[schema(example = "临时加急样本")]
    pub note: String,
}

page_type!(UsageRecordPage, UsageRecordView);

/// Filters of the usage-record list; it holds only records the reader may see.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    pub instrument_id: Option<i64>,
    pub user_id: Option<i64>,
    /// Records of users of this institution.
    pub institution_id: Option<i64>,
    pub walk_in: Option<bool>,
    /// Uses ending after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Uses starting before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[validate(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Writes the usage record of a booking just checked out: from check-in to now;
/// the caller charges it.
///
/// # Errors
/// Database errors.
pub fn record_check_out(c: &mut DbConn, ctx: &Ctx, b: &Booking) -> Result<UsageRecordView, ApiError> {
    let started = b.checked_in_at.map(|t| t.and_utc()).unwrap_or(b.window.start);
    let ended = ctx.now.max(started + chrono::Duration::minutes(1));
    let actual = TimeWindow::new(started, ended)?;
    let usage = NewUsage {
        instrument_id: b.instrument_id,
        booking_id: Some(b.id),
        user_id: b.user_id,
        institution_id: b.institution_id,
        operator_id: operator(b.mode, b.user_id, ctx.actor.user_id),
        mode: b.mode,
        actual,
        effective_minutes: effective_minutes(&actual),
        billed_minutes: billed_minutes(Some(&b.window), &actual, &ctx.policy),
        note: "",
        recorded_by: ctx.actor.user_id,
    };
    let view = UsageRecordView::from(repo::insert(c, &usage, ctx.now_naive())?);
    audit(
        c,
        ctx,
        "usage.record",
        "usage_record",
        view.id,
        None::<&()>,
        Some(&view),
    )?;
    Ok(view)
}

/// Record a walk-in.
///
/// The instrument's managers, its unit's admin or the platform office
/// record use without a booking after it happened; it is billed by its
/// actual time rounded up.
#[utoipa::path(post, path = "/api/v1/usage-records", tag = "usage", operation_id = "recordWalkIn",
    request_body = WalkInInput,
    responses((status = 201, description = "Recorded", body = UsageRecordView)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    bearer: Bearer,
    body: Body<WalkInInput>,
) -> Result<HttpResponse, ApiError> {
    let i = body.0;
    let actual = TimeWindow::new(i.started_at, i.ended_at)
        .map_err(|e| ApiError::Validation(vec![FieldProblem::body("/ended_at", "date_order", e.to_string())]))?;
    if labshare_domain::service::contains_resident_id(&i.note) {
        return Err(ApiError::Validation(vec![FieldProblem::body(
            "/note",
            "resident_id",
            "must not contain a resident identity number",
        )]));
    }
    let view = state
        .write(&bearer, move |c, ctx| {
            let id = InstrumentId(i.instrument_id);
            let instrument =
                crate::routes::referenced(instruments::get(c, id), "/instrument_id", "no such instrument")?;
            let user = crate::routes::referenced(users::get(c, UserId(i.user_id)), "/user_id", "no such user")?;
            let access = BookingAccess {
                user_id: user.value.id,
                institution_id: user.value.institution_id,
                instrument: instrument.value.access(),
            };
            allow(ctx, Action::OperateBooking, &Resource::Booking(&access))?;
            labshare_persistence::lock_row(c, labshare_persistence::Lockable::Instruments, id.0)?;
            let others = repo::uses_between(c, id, &actual)?;
            check_walk_in(&actual, &others, ctx.now)?;
            let operator = i
                .operator_id
                .map(UserId)
                .unwrap_or_else(|| operator(i.mode, user.value.id, ctx.actor.user_id));
            crate::routes::referenced(users::get(c, operator), "/operator_id", "no such user")?;
            let usage = NewUsage {
                instrument_id: id,
                booking_id: None,
                user_id: user.value.id,
                institution_id: user.value.institution_id,
                operator_id: operator,
                mode: i.mode,
                actual,
                effective_minutes: effective_minutes(&actual),
                billed_minutes: billed_minutes(None, &actual, &ctx.policy),
                note: &i.note,
                recorded_by: ctx.actor.user_id,
            };
            let view = UsageRecordView::from(repo::insert(c, &usage, ctx.now_naive())?);
            audit(
                c,
                ctx,
                "usage.walk_in",
                "usage_record",
                view.id,
                None::<&()>,
                Some(&view),
            )?;
            let event = crate::billing::Event {
                basis: labshare_domain::fees::ChargeBasis::WalkIn {
                    billed_minutes: view.billed_minutes,
                    mode: view.mode,
                },
                user_id: UserId(view.user_id),
                payer: InstitutionId(view.institution_id),
                instrument_id: id,
                service_item_id: None,
                booking_id: None,
                usage_record_id: Some(view.id),
                service_order_id: None,
                used_at: view.started_at,
            };
            crate::billing::charge(c, &event, &ctx.policy, Some(ctx.actor.user_id), ctx.now)?;
            Ok(view)
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Read a usage record.
///
/// Visible to the user, the instrument's managers and the unit admins concerned, and to the platform office, the commission and regulators.
#[utoipa::path(get, path = "/api/v1/usage-records/{id}", tag = "usage", operation_id = "getUsageRecord",
    params(("id" = i64, Path, description = "Usage record id"), crate::etag::IfNoneMatch),
    responses((status = 200, description = "The record", body = UsageRecordView)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    bearer: Bearer,
    pre: crate::etag::Preconditions,
    id: Id,
) -> Result<actix_web::HttpResponse, ApiError> {
    let view: UsageRecordView = state
        .read(&bearer, move |c, ctx| {
            let u = repo::get(c, id.0)?;
            let instrument = instruments::get(c, u.instrument_id)?;
            let access = BookingAccess {
                user_id: u.user_id,
                institution_id: u.institution_id,
                instrument: instrument.value.access(),
            };
            if !can(&ctx.actor, Action::ReadBooking, &Resource::Booking(&access)) {
                return Err(ApiError::NotFound);
            }
            Ok(u.into())
        })
        .await?;
    pre.read(&view)
}

/// List usage records.
///
/// The same readers as bookings: one's own, those of instruments one runs,
/// a unit admin's unit's; all for the platform office, commission and regulators.
#[utoipa::path(get, path = "/api/v1/usage-records", tag = "usage", operation_id = "listUsageRecords",
    params(UsageQuery),
    responses((status = 200, description = "A page of usage records", body = UsageRecordPage)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: Query<UsageQuery>,
) -> Result<web::Json<UsageRecordPage>, ApiError> {
    let q = query.0;
    let (after, limit) = page_args(q.limit, q.cursor.as_deref())?;
    let page = state
        .read(&bearer, move |c, ctx| {
            let visible_to = request_readers(c, ctx)?.visible_to;
            let filter = repo::Filter {
                instrument_id: q.instrument_id.map(InstrumentId),
                user_id: q.user_id.map(UserId),
                institution_id: q.institution_id.map(InstitutionId),
                walk_in: q.walk_in,
                from: crate::dto::bounded_instant("from", q.from)?,
                to: crate::dto::bounded_instant("to", q.to)?,
                visible_to,
                after,
                limit,
            };
            Ok(repo::list(c, &filter)?)
        })
        .await?;
    Ok(web::Json(UsageRecordPage::from_page(page, UsageRecordView::from)))
}
